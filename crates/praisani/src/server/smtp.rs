//! Drives one SMTP connection: socket bytes in and out of the
//! `praisani_smtp` engine, its questions answered from the store.

use super::Shared;
use super::limits::IpSlot;
use praisani_mailaddr::{Address, Domain};
use praisani_mailhost::{Mailbox, Resolution, resolve, trace};
use praisani_smtp::{DomainPart, Event, ForwardPath, Reply, ReversePath, Session, Verdict};
use praisani_store::{AccountId, Spool};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::Instrument;

/// Reads from the socket in pieces of this size.
const READ_BUF: usize = 64 * 1024;

/// Serves one connection until QUIT, timeout, error or disconnect.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    mut stream: TcpStream,
    peer: SocketAddr,
    ip: IpSlot,
) {
    let id = shared.session_id();
    let span = tracing::info_span!("smtp", session = %id, peer = %peer);
    async move {
        if !ip.allowed {
            let _ = stream
                .write_all(b"421 4.7.0 Too many connections from your address, try again later\r\n")
                .await;
            tracing::info!("refused: too many connections from this address");
            return;
        }
        tracing::debug!("connected");
        let mut conn = Conn {
            shared,
            peer,
            id,
            rcpts: HashMap::new(),
            spool: None,
            declared_size: None,
            current: Default::default(),
            messages: 0,
        };
        match conn.run(&mut stream).await {
            Ok(()) => tracing::debug!("closed"),
            Err(e) => tracing::debug!("connection ended: {e}"),
        }
    }
    .instrument(span)
    .await
}

struct Conn {
    shared: Arc<Shared>,
    peer: SocketAddr,
    id: String,
    /// Mailboxes behind each accepted recipient, by the recipient's text.
    rcpts: HashMap<String, Vec<AccountId>>,
    /// The body being received, with the error that spoiled it, if any.
    spool: Option<Result<Spool, std::io::Error>>,
    /// The SIZE= the client declared for the current transaction.
    declared_size: Option<u64>,
    /// The queue id and mailboxes of the message being received.
    current: (String, Vec<AccountId>),
    messages: u64,
}

fn forward_key(to: &ForwardPath) -> String {
    match to {
        ForwardPath::Postmaster => "<postmaster>".into(),
        ForwardPath::Mailbox { mailbox, .. } => mailbox.to_string(),
    }
}

impl Conn {
    async fn run(&mut self, stream: &mut TcpStream) -> std::io::Result<()> {
        let mut session = Session::new(self.shared.smtp.clone());
        let mut out: Vec<u8> = Vec::with_capacity(4096);
        let mut buf = vec![0u8; READ_BUF];
        let timeout = self.shared.config.limits.smtp_timeout;
        loop {
            while let Some(event) = session.poll() {
                match event {
                    Event::Send(bytes) => out.extend_from_slice(&bytes),
                    Event::CheckSender { params, .. } => {
                        self.declared_size = params.size;
                        session.mail_verdict(Verdict::Accept)
                    }
                    Event::CheckRecipient { to } => {
                        let v = self.check_recipient(&to).await;
                        session.rcpt_verdict(v);
                    }
                    Event::MessageStart(envelope) => self.start_message(&envelope),
                    Event::MessageChunk(bytes) => {
                        if let Some(Ok(spool)) = &mut self.spool
                            && let Err(e) = spool.write(&bytes)
                        {
                            self.spool = Some(Err(e));
                        }
                    }
                    Event::MessageAborted => self.spool = None,
                    Event::MessageEnd => {
                        let v = self.finish_message().await;
                        match v {
                            Ok(queue_id) => session.message_accepted(&queue_id),
                            Err(reply) => session.message_verdict(Verdict::Reject(reply)),
                        }
                    }
                    Event::Close => {
                        stream.write_all(&out).await?;
                        return Ok(());
                    }
                }
            }
            if !out.is_empty() {
                stream.write_all(&out).await?;
                out.clear();
            }
            if session.is_closed() {
                return Ok(());
            }
            let n = match tokio::time::timeout(timeout, stream.read(&mut buf)).await {
                Ok(r) => r?,
                Err(_) => {
                    tracing::info!("timeout");
                    let _ = stream.write_all(&session.timeout_reply()).await;
                    return Ok(());
                }
            };
            if n == 0 {
                return Ok(());
            }
            session.feed(&buf[..n]);
        }
    }

    async fn check_recipient(&mut self, to: &ForwardPath) -> Verdict {
        let store = &*self.shared.store;
        let address = match to {
            ForwardPath::Postmaster => return self.accept_postmaster(to, None).await,
            ForwardPath::Mailbox {
                source_route: true, ..
            } => {
                return Verdict::Reject(Reply::new(550, "5.7.1", "Source routes are not accepted"));
            }
            ForwardPath::Mailbox { mailbox, .. } => {
                let domain = match &mailbox.domain {
                    DomainPart::Name(n) => Domain::parse(n),
                    DomainPart::Literal(_) => {
                        return Verdict::Reject(Reply::new(550, "5.7.1", "Relay access denied"));
                    }
                };
                let Ok(domain) = domain else {
                    return Verdict::Reject(Reply::new(550, "5.7.1", "Relay access denied"));
                };
                match store.is_hosted(&domain).await {
                    Ok(true) => {}
                    Ok(false) => {
                        return Verdict::Reject(Reply::new(550, "5.7.1", "Relay access denied"));
                    }
                    Err(e) => return temp_fail(&e),
                }
                if mailbox.quoted {
                    return Verdict::Reject(Reply::new(550, "5.1.1", "No such user here"));
                }
                match Address::new(&mailbox.local, domain) {
                    Ok(a) => a,
                    Err(_) => {
                        return Verdict::Reject(Reply::new(550, "5.1.1", "No such user here"));
                    }
                }
            }
        };
        match resolve(store, &address).await {
            Ok(Resolution::Unknown) if address.local() == "postmaster" => {
                self.accept_postmaster(to, Some(address.domain().clone()))
                    .await
            }
            Ok(Resolution::Local { mailboxes, remote }) => {
                if !remote.is_empty() {
                    return Verdict::Reject(Reply::new(
                        451,
                        "4.4.0",
                        "Forwarding to other servers is not available yet; try again later",
                    ));
                }
                if mailboxes.is_empty() {
                    return Verdict::Reject(Reply::new(550, "5.1.1", "No such user here"));
                }
                if let Some(v) = self.check_quota(&mailboxes) {
                    return v;
                }
                let ids = mailboxes.iter().map(|m| m.id).collect();
                self.rcpts.insert(forward_key(to), ids);
                Verdict::Accept
            }
            Ok(Resolution::Unknown) => {
                Verdict::Reject(Reply::new(550, "5.1.1", "No such user here"))
            }
            Ok(Resolution::NotHosted) => {
                Verdict::Reject(Reply::new(550, "5.7.1", "Relay access denied"))
            }
            Err(e) => temp_fail(&e),
        }
    }

    /// RFC 5321 4.5.1: postmaster must be accepted for every hosted domain
    /// and without a domain. Mail goes to the domain's own postmaster
    /// mailbox or alias when there is one (handled by the caller), else to
    /// the configured `postmaster`, else to the domain's first mailbox.
    async fn accept_postmaster(&mut self, to: &ForwardPath, domain: Option<Domain>) -> Verdict {
        let store = &*self.shared.store;
        let refuse = || {
            tracing::warn!("postmaster mail refused: set `postmaster` in the configuration");
            Verdict::Reject(Reply::new(550, "5.1.1", "No postmaster mailbox here"))
        };
        if let Some(target) = &self.shared.postmaster {
            return match resolve(store, target).await {
                Ok(Resolution::Local { mailboxes, .. }) if !mailboxes.is_empty() => {
                    self.rcpts
                        .insert(forward_key(to), mailboxes.iter().map(|m| m.id).collect());
                    Verdict::Accept
                }
                Ok(_) => refuse(),
                Err(e) => temp_fail(&e),
            };
        }
        let domain = match domain {
            Some(d) => d,
            None => match store.domain_list().await {
                Ok(list) => {
                    let own = Domain::parse(&self.shared.config.hostname).ok();
                    match list
                        .iter()
                        .find(|i| Some(&i.domain) == own.as_ref())
                        .or(list.first())
                    {
                        Some(i) => i.domain.clone(),
                        None => return refuse(),
                    }
                }
                Err(e) => return temp_fail(&e),
            },
        };
        match store.account_list(Some(&domain)).await {
            Ok(list) => match list.iter().min_by_key(|a| a.id) {
                Some(first) => {
                    self.rcpts.insert(forward_key(to), vec![first.id]);
                    Verdict::Accept
                }
                None => refuse(),
            },
            Err(e) => temp_fail(&e),
        }
    }

    /// Quota at RCPT time: a full mailbox defers the message (the sender
    /// retries, RFC 5321 452 4.2.2); against the SIZE= the client declared
    /// (RFC 1870), a message that can never fit is refused for good, one
    /// that does not fit now is deferred.
    fn check_quota(&self, mailboxes: &[Mailbox]) -> Option<Verdict> {
        let size = self.declared_size.unwrap_or(0);
        for m in mailboxes {
            let Some(quota) = m.quota_bytes else { continue };
            if size > quota {
                return Some(Verdict::Reject(Reply::new(
                    552,
                    "5.2.2",
                    "Message is larger than the mailbox quota",
                )));
            }
            if m.is_full() || m.used_bytes + size > quota {
                return Some(Verdict::Reject(Reply::new(
                    452,
                    "4.2.2",
                    "Mailbox full, try again later",
                )));
            }
        }
        None
    }

    fn start_message(&mut self, env: &praisani_smtp::Envelope) {
        let mut spool = self.shared.store.new_spool();
        let return_path = match &env.mail_from {
            ReversePath::Null => String::new(),
            ReversePath::Mailbox(m) => m.to_string(),
        };
        let single = (env.recipients.len() == 1).then(|| forward_key(&env.recipients[0]));
        let protocol = match (env.esmtp, env.params.smtputf8) {
            (_, true) => "UTF8SMTP",
            (true, false) => "ESMTP",
            (false, false) => "SMTP",
        };
        self.messages += 1;
        let queue_id = format!("{}.{}", self.id, self.messages);
        let headers = trace::headers(&trace::TraceInfo {
            helo: &env.helo,
            peer: self.peer.ip(),
            hostname: &self.shared.config.hostname,
            protocol,
            id: &queue_id,
            for_rcpt: single.as_deref().map(|s| s.trim_matches(['<', '>'])),
            return_path: &return_path,
        });
        let rcpts: Vec<AccountId> = env
            .recipients
            .iter()
            .filter_map(|r| self.rcpts.get(&forward_key(r)))
            .flatten()
            .copied()
            .collect();
        self.current = (queue_id, dedup(rcpts));
        let written = spool.write(headers.as_bytes()).map(|_| spool);
        self.spool = Some(written);
    }

    async fn finish_message(&mut self) -> Result<String, Reply> {
        let (queue_id, rcpts) = std::mem::take(&mut self.current);
        let spool = match self.spool.take() {
            Some(Ok(s)) => s,
            Some(Err(e)) => {
                tracing::error!("spooling failed: {e}");
                return Err(Reply::new(
                    451,
                    "4.3.0",
                    "Local error in processing, try again later",
                ));
            }
            None => {
                return Err(Reply::new(
                    451,
                    "4.3.0",
                    "Local error in processing, try again later",
                ));
            }
        };
        let size = spool.len();
        match self.shared.store.deliver(spool, &rcpts).await {
            Ok(_) => {
                tracing::info!(id = %queue_id, size, recipients = rcpts.len(), "delivered");
                Ok(queue_id)
            }
            Err(e) => {
                tracing::error!(id = %queue_id, "delivery failed: {e}");
                Err(Reply::new(
                    451,
                    "4.3.0",
                    "Local error in processing, try again later",
                ))
            }
        }
    }
}

fn dedup(mut v: Vec<AccountId>) -> Vec<AccountId> {
    let mut seen = std::collections::HashSet::new();
    v.retain(|x| seen.insert(*x));
    v
}

fn temp_fail(e: &praisani_store::StoreError) -> Verdict {
    tracing::error!("store error: {e}");
    Verdict::Reject(Reply::new(
        451,
        "4.3.0",
        "Temporary lookup failure, try again later",
    ))
}
