//! Drives one SMTP connection: socket bytes in and out of the
//! `praisani_smtp` engine, its questions answered from the store.

use super::limits::IpSlot;
use super::login::{AuthStep, LoginFail, SaslLogin};
use super::stream::MailStream;
use super::{Service, Shared};
use crate::config::SenderPolicy;
use praisani_mailaddr::{Address, Domain};
use praisani_mailhost::submission::{HeaderCapture, header_facts, missing_headers};
use praisani_mailhost::{Mailbox, Resolution, resolve, trace};
use praisani_mailhost::{quota, reports};
use praisani_smtp::{DomainPart, Event, ForwardPath, Reply, ReversePath, Session, Verdict};
use praisani_store::{Account, AccountId, Fit, Outbound, OutboundRcpt, Spool};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::Instrument;

/// Reads from the socket in pieces of this size.
/// Reads start with a small buffer, so idle connections cost little, and
/// grow to [`READ_BUF_MAX`] while a client keeps filling it.
const READ_BUF: usize = 2 * 1024;
/// The largest read buffer.
const READ_BUF_MAX: usize = 64 * 1024;

/// Serves one connection until QUIT, timeout, error or disconnect.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    mut stream: MailStream,
    peer: SocketAddr,
    ip: IpSlot,
    service: Service,
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
        tracing::debug!(?service, tls = stream.is_tls(), "connected");
        let mut conn = Conn {
            trusted: shared.config.is_trusted(peer.ip()),
            shared,
            peer,
            id,
            service,
            rcpts: HashMap::new(),
            spool: None,
            declared_size: None,
            current: Default::default(),
            bounce: None,
            outbound: None,
            rcpt_params: None,
            remote: HashMap::new(),
            messages: 0,
            account: None,
            sasl: None,
            capture: None,
            from_refused: false,
            sniff: HeaderCapture::default(),
        };
        match conn.run(&mut stream).await {
            Ok(()) => tracing::debug!("closed"),
            Err(e) => tracing::debug!("connection ended: {e}"),
        }
        let _ = stream.shutdown().await;
    }
    .instrument(span)
    .await
}

struct Conn {
    shared: Arc<Shared>,
    peer: SocketAddr,
    id: String,
    service: Service,
    /// The client is in `trusted_networks`: it may relay without AUTH.
    trusted: bool,
    /// Mailboxes behind each accepted recipient, by the recipient's text.
    rcpts: HashMap<String, Vec<AccountId>>,
    /// The body being received, with the error that spoiled it, if any.
    spool: Option<Result<Spool, std::io::Error>>,
    /// The SIZE= the client declared for the current transaction.
    declared_size: Option<u64>,
    /// The queue id and mailboxes of the message being received.
    current: (String, Vec<AccountId>),
    /// Which recipient (as given) each mailbox of the current message is
    /// for, and the envelope, should a full mailbox need a bounce.
    bounce: Option<BounceInfo>,
    /// The outbound part of the message being received.
    outbound: Option<Outbound>,
    /// The DSN parameters of the RCPT being checked.
    rcpt_params: Option<praisani_smtp::RcptParams>,
    /// Remote recipients accepted for relay, by the recipient's text.
    remote: HashMap<String, OutboundRcpt>,
    messages: u64,
    /// The account that authenticated with AUTH.
    account: Option<Account>,
    /// The AUTH exchange in progress.
    sasl: Option<SaslLogin>,
    /// The header section as spooled, to store its RFC 6857 downgrade with
    /// a message whose header has UTF-8.
    sniff: HeaderCapture,
    /// The header section of a submitted message, held back until complete.
    capture: Option<HeaderCapture>,
    /// The submitted message's From: is not the user's.
    from_refused: bool,
}

/// A capture that lets everything through.
fn capture_done() -> HeaderCapture {
    let mut c = HeaderCapture::default();
    let _ = c.push(b"\r\n");
    c
}

fn forward_key(to: &ForwardPath) -> String {
    match to {
        ForwardPath::Postmaster => "<postmaster>".into(),
        ForwardPath::Mailbox { mailbox, .. } => mailbox.to_string(),
    }
}

/// The engine settings for one connection: what this listener offers, and
/// which mechanisms may be used before TLS from this client.
fn engine_config(shared: &Shared, service: Service, peer: SocketAddr) -> praisani_smtp::Config {
    let mut c = (*shared.smtp).clone();
    let submission = matches!(service, Service::Submission | Service::Submissions);
    c.starttls = matches!(service, Service::Smtp | Service::Submission);
    if submission || shared.config.smtp.auth_on_mx {
        let all: Vec<String> = ["PLAIN", "LOGIN", "SCRAM-SHA-256"]
            .map(String::from)
            .to_vec();
        c.auth_mechanisms_tls = all.clone();
        // Mechanisms that send the password itself wait for TLS, except
        // from loopback when the configuration allows it.
        c.auth_mechanisms_plain = if shared.config.pop3.allow_plaintext.allows(peer.ip()) {
            all
        } else {
            vec!["SCRAM-SHA-256".into()]
        };
    }
    c.require_auth = submission;
    // RFC 3461 DSN parameters are honoured for mail our users send out.
    c.dsn = submission;
    c
}

impl Conn {
    async fn run(&mut self, stream: &mut MailStream) -> std::io::Result<()> {
        let config = Arc::new(engine_config(&self.shared, self.service, self.peer));
        let mut session = Session::with_tls(config, stream.is_tls());
        let mut out: Vec<u8> = Vec::new();
        let mut buf = vec![0u8; READ_BUF];
        let timeout = self.shared.config.limits.smtp_timeout;
        // A client that trickles bytes never hits the idle timeout; the
        // session limit bounds how long any one connection can be held.
        let deadline = tokio::time::Instant::now() + self.shared.config.limits.session_max;
        loop {
            while let Some(event) = session.poll() {
                match event {
                    Event::Send(bytes) => out.extend_from_slice(&bytes),
                    Event::CheckSender { from, params } => {
                        self.declared_size = params.size;
                        let v = self.check_sender(&from).await;
                        session.mail_verdict(v)
                    }
                    Event::CheckRecipient { to } => {
                        self.rcpt_params = session.pending_rcpt_params().cloned();
                        let v = self.check_recipient(&to).await;
                        session.rcpt_verdict(v);
                    }
                    Event::MessageStart(envelope) => self.start_message(&envelope),
                    Event::MessageChunk(bytes) => self.body_bytes(&bytes).await,
                    Event::MessageAborted => {
                        self.spool = None;
                        self.capture = None;
                    }
                    Event::MessageEnd => {
                        if self.capture.as_ref().is_some_and(|c| !c.is_complete()) {
                            self.header_complete(&[]).await;
                        }
                        let v = self.finish_message().await;
                        match v {
                            Ok(queue_id) => session.message_accepted(&queue_id),
                            Err(reply) => session.message_verdict(Verdict::Reject(reply)),
                        }
                    }
                    Event::StartTls => {
                        stream.send(&mut out).await?;
                        if !stream.upgrade(&self.shared, "STARTTLS").await {
                            return Ok(());
                        }
                        session.tls_established();
                    }
                    Event::Auth {
                        mechanism,
                        initial_response,
                    } => {
                        let (login, step) = SaslLogin::start(
                            self.shared.clone(),
                            self.peer.ip(),
                            &mechanism,
                            initial_response.as_deref(),
                        )
                        .await;
                        self.sasl = login;
                        self.auth_step(&mut session, step);
                    }
                    Event::AuthResponse(line) => {
                        let step = match &mut self.sasl {
                            Some(login) => login.respond(&line).await,
                            None => AuthStep::Failed(LoginFail::Malformed),
                        };
                        self.auth_step(&mut session, step);
                    }
                    Event::AuthCancelled => self.sasl = None,
                    Event::Close => {
                        stream.send(&mut out).await?;
                        return Ok(());
                    }
                }
            }
            stream.send(&mut out).await?;
            if session.is_closed() {
                return Ok(());
            }
            let wait = timeout.min(deadline.saturating_duration_since(tokio::time::Instant::now()));
            let n = match tokio::time::timeout(wait, stream.read(&mut buf)).await {
                Ok(r) => r?,
                Err(_) => {
                    tracing::info!("timeout");
                    out.extend_from_slice(&session.timeout_reply());
                    let _ = stream.send(&mut out).await;
                    return Ok(());
                }
            };
            if n == 0 {
                return Ok(());
            }
            session.feed(&buf[..n]);
            if n == buf.len() && buf.len() < READ_BUF_MAX {
                buf.resize(buf.len() * 2, 0);
            }
        }
    }

    fn auth_step(&mut self, session: &mut Session, step: AuthStep) {
        match step {
            AuthStep::Challenge(b64) => session.auth_challenge(&b64),
            AuthStep::Success(account) => {
                self.sasl = None;
                tracing::info!(user = %account.address, "authenticated");
                session.auth_succeeded(&account.address.to_string());
                self.account = Some(*account);
            }
            AuthStep::Failed(why) => {
                self.sasl = None;
                tracing::info!(?why, "authentication failed");
                session.auth_failed(match why {
                    LoginFail::BadCredentials => {
                        Reply::new(535, "5.7.8", "Authentication credentials invalid")
                    }
                    LoginFail::Malformed => Reply::new(501, "5.5.2", "Cannot decode response"),
                    LoginFail::Locked => {
                        Reply::new(454, "4.7.0", "Too many failed logins, try again later")
                    }
                    LoginFail::Temporary => {
                        Reply::new(454, "4.7.0", "Temporary authentication failure")
                    }
                });
            }
        }
    }

    /// RFC 6409 section 6.1: an authenticated user sends as their own
    /// address or an alias that delivers to them.
    async fn check_sender(&mut self, from: &ReversePath) -> Verdict {
        let Some(account) = &self.account else {
            return Verdict::Accept;
        };
        if self.shared.config.submission.sender_policy == SenderPolicy::Any {
            return Verdict::Accept;
        }
        let ReversePath::Mailbox(m) = from else {
            return Verdict::Accept;
        };
        let not_owned = || {
            Verdict::Reject(Reply::new(
                553,
                "5.7.1",
                "Sender address is not one of yours",
            ))
        };
        let DomainPart::Name(name) = &m.domain else {
            return not_owned();
        };
        let Ok(address) = Domain::parse(name).and_then(|d| Address::new(&m.local, d)) else {
            return not_owned();
        };
        if address == account.address {
            return Verdict::Accept;
        }
        match resolve(&*self.shared.store, &address).await {
            Ok(Resolution::Local { mailboxes, .. })
                if mailboxes.iter().any(|mb| mb.id == account.id) =>
            {
                Verdict::Accept
            }
            Ok(_) => not_owned(),
            Err(e) => temp_fail(&e),
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
                    Ok(false) => return self.remote_recipient(to, mailbox, &domain),
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

    /// A recipient outside our domains: relaying is for authenticated users
    /// and trusted networks only. Their mail will go to the outbound queue,
    /// which is not there yet: say so with a temporary failure rather than
    /// accept and drop.
    fn remote_recipient(
        &mut self,
        to: &ForwardPath,
        mailbox: &praisani_smtp::Mailbox,
        domain: &Domain,
    ) -> Verdict {
        if self.account.is_none() && !self.trusted {
            return Verdict::Reject(Reply::new(550, "5.7.1", "Relay access denied"));
        }
        if mailbox.quoted {
            // Quoted local parts are where relay tricks hide; real users
            // do not need them.
            return Verdict::Reject(Reply::new(
                550,
                "5.1.3",
                "Quoted local parts are not relayed",
            ));
        }
        self.remote.insert(
            forward_key(to),
            OutboundRcpt {
                address: format!("{}@{}", mailbox.local, domain.ascii()),
                domain: domain.ascii().to_string(),
                orcpt: self.rcpt_params.as_ref().and_then(|p| p.orcpt.clone()),
                notify: self
                    .rcpt_params
                    .as_ref()
                    .and_then(|p| p.notify)
                    .map(notify_text),
            },
        );
        Verdict::Accept
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
        if let Some(target) = &self.shared.office.settings.postmaster {
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
        // Without SIZE=, any message needs at least an octet: a mailbox
        // exactly at its quota is full.
        let size = self.declared_size.unwrap_or(1).max(1);
        for m in mailboxes {
            match m.usage.fit(size) {
                Fit::Fits => {}
                Fit::TooBig => return Some(Verdict::Reject(too_big())),
                Fit::Full => {
                    // Filled by mail that skips the quota (bounces,
                    // notices)? Make sure the user has been warned.
                    quota::warn_if_due(&self.shared.office, vec![(m.id, m.usage)]);
                    return Some(Verdict::Reject(full()));
                }
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
        // RFC 3848 keywords (ESMTPSA…), and their RFC 6531 UTF8SMTP forms.
        let protocol = if env.params.smtputf8 {
            format!("UTF8{}", env.with_protocol().trim_start_matches('E'))
        } else {
            env.with_protocol().to_string()
        };
        self.messages += 1;
        let queue_id = format!("{}.{}", self.id, self.messages);
        let headers = trace::headers(&trace::TraceInfo {
            helo: &env.helo,
            peer: self.peer.ip(),
            hostname: &self.shared.config.hostname,
            protocol: &protocol,
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
        self.bounce = Some(BounceInfo {
            owners: env
                .recipients
                .iter()
                .flat_map(|r| {
                    let text = forward_key(r).trim_matches(['<', '>']).to_string();
                    self.rcpts
                        .get(&forward_key(r))
                        .into_iter()
                        .flatten()
                        .map(move |id| (*id, text.clone()))
                })
                .collect(),
            sender: return_path.clone(),
            smtputf8: env.params.smtputf8,
            envid: env.params.envid.clone(),
            headers_only: env.params.ret == Some(praisani_smtp::Ret::Headers),
        });
        let remote: Vec<OutboundRcpt> = env
            .recipients
            .iter()
            .filter_map(|r| self.remote.get(&forward_key(r)).cloned())
            .collect();
        self.outbound = (!remote.is_empty()).then(|| Outbound {
            sender: match &env.mail_from {
                ReversePath::Null => String::new(),
                ReversePath::Mailbox(m) => m.to_string(),
            },
            recipients: remote,
            envid: env.params.envid.clone(),
            ret: env.params.ret.map(|r| match r {
                praisani_smtp::Ret::Full => "FULL".to_string(),
                praisani_smtp::Ret::Headers => "HDRS".to_string(),
            }),
            smtputf8: env.params.smtputf8,
            eight_bit: env.params.body == praisani_smtp::Body::EightBitMime,
        });
        self.sniff = HeaderCapture::default();
        let _ = self.sniff.push(headers.as_bytes());
        let written = spool.write(headers.as_bytes()).map(|_| spool);
        self.spool = Some(written);
        // Our users' messages: hold the header back for the submission
        // checks and fixes (RFC 6409 section 8).
        self.capture = self.account.is_some().then(HeaderCapture::default);
        self.from_refused = false;
    }

    fn spool_write(&mut self, bytes: &[u8]) {
        if !self.sniff.is_complete() {
            let _ = self.sniff.push(bytes);
        }
        if let Some(Ok(spool)) = &mut self.spool
            && let Err(e) = spool.write(bytes)
        {
            self.spool = Some(Err(e));
        }
    }

    async fn body_bytes(&mut self, bytes: &[u8]) {
        match &mut self.capture {
            None => self.spool_write(bytes),
            Some(c) if c.is_complete() => self.spool_write(bytes),
            Some(c) => {
                if let Some(rest) = c.push(bytes) {
                    self.header_complete(rest).await;
                }
            }
        }
    }

    /// The submitted message's header is complete: check its From:,
    /// add a missing Message-ID or Date, and write it out with `rest`.
    async fn header_complete(&mut self, rest: &[u8]) {
        let Some(capture) = self.capture.take() else {
            return;
        };
        let facts = header_facts(capture.header());
        if !self.header_from_is_owned(&facts.from).await {
            self.from_refused = true;
        }
        let added = missing_headers(&facts, &self.current.0, &self.shared.config.hostname);
        self.spool_write(added.as_bytes());
        self.spool_write(capture.header());
        self.spool_write(rest);
        // Later chunks go straight to the spool.
        self.capture = Some(capture_done());
    }

    /// RFC 6409 section 6.1 for the From: header: every address must be
    /// the user's own or an alias of theirs (unless the policy is "any").
    async fn header_from_is_owned(&self, from: &[String]) -> bool {
        let Some(account) = &self.account else {
            return true;
        };
        if self.shared.config.submission.sender_policy == SenderPolicy::Any {
            return true;
        }
        if from.is_empty() {
            return false;
        }
        for text in from {
            let Ok(address) = Address::parse(text) else {
                return false;
            };
            if address == account.address {
                continue;
            }
            match resolve(&*self.shared.store, &address).await {
                Ok(Resolution::Local { mailboxes, .. })
                    if mailboxes.iter().any(|m| m.id == account.id) => {}
                _ => return false,
            }
        }
        true
    }

    async fn finish_message(&mut self) -> Result<String, Reply> {
        self.capture = None;
        // The transaction is over: its recipients' lookups are not needed
        // again, and a long connection should not pile them up.
        self.rcpts.clear();
        self.remote.clear();
        let (queue_id, rcpts) = std::mem::take(&mut self.current);
        if std::mem::take(&mut self.from_refused) {
            self.spool = None;
            tracing::info!(id = %queue_id, "refused: From: header not owned by the user");
            return Err(Reply::new(
                553,
                "5.7.1",
                "From: header address is not one of yours",
            ));
        }
        let mut spool = match self.spool.take() {
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
        let sniffed = std::mem::take(&mut self.sniff);
        if sniffed.overflowed() {
            // Its header could not be checked or downgraded for POP3
            // clients without UTF8; no real mail has one this large.
            tracing::info!(id = %queue_id, "refused: header section over 256 KiB");
            return Err(Reply::new(
                552,
                "5.3.4",
                "Message header section too large (256 KiB at most)",
            ));
        }
        if let Some(d) = praisani_mailhost::downgrade::for_storage(sniffed.header()) {
            spool.set_downgrade(d);
        }
        let size = spool.len();
        let outbound = self.outbound.take();
        let bounce = self.bounce.take();
        match self
            .shared
            .store
            .accept(spool, &rcpts, outbound, true)
            .await
        {
            Ok(accepted) if accepted.messages.is_empty() && accepted.queued.is_none() => {
                // Every mailbox refused it for its quota: nothing stored.
                let never = accepted.refused.iter().all(|r| r.fit == Fit::TooBig);
                tracing::info!(id = %queue_id, size, "refused: mailbox full");
                Err(if never { too_big() } else { full() })
            }
            Ok(accepted) => {
                tracing::info!(id = %queue_id, size, local = accepted.messages.len(), refused = accepted.refused.len(), queued = ?accepted.queued, "accepted");
                if accepted.queued.is_some() {
                    self.shared.office.queue_wake.notify_one();
                }
                let copy = match (accepted.usage.first(), accepted.messages.first()) {
                    (Some(&(account, _)), Some(&id)) => Some(reports::Copy::Message(account, id)),
                    _ => accepted.queued.map(reports::Copy::Queued),
                };
                if !accepted.refused.is_empty()
                    && let (Some(info), Some(copy)) = (bounce, copy)
                {
                    let recipients = accepted
                        .refused
                        .iter()
                        .flat_map(|r| info.owners.iter().filter(move |o| o.0 == r.account))
                        .map(|o| o.1.clone())
                        .collect::<std::collections::BTreeSet<_>>()
                        .into_iter()
                        .collect();
                    // Stored before the 250: if it cannot be, the client is
                    // told to try again rather than the refusal being lost.
                    let sent = reports::quota_bounce(
                        &self.shared.office,
                        reports::QuotaBounce {
                            sender: info.sender,
                            recipients,
                            smtputf8: info.smtputf8,
                            envid: info.envid,
                            headers_only: info.headers_only,
                            arrival: chrono::Utc::now(),
                            copy,
                        },
                    )
                    .await;
                    if let Err(e) = sent {
                        tracing::error!(id = %queue_id, "cannot store the bounce for full mailboxes: {e}");
                        return Err(Reply::new(
                            451,
                            "4.3.0",
                            "Local error in processing, try again later",
                        ));
                    }
                }
                quota::warn_if_due(&self.shared.office, accepted.usage);
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

/// RFC 3461 NOTIFY as stored with a queued recipient.
fn notify_text(n: praisani_smtp::Notify) -> String {
    if n.never {
        return "NEVER".into();
    }
    let mut parts = Vec::new();
    if n.success {
        parts.push("SUCCESS");
    }
    if n.failure {
        parts.push("FAILURE");
    }
    if n.delay {
        parts.push("DELAY");
    }
    parts.join(",")
}

fn dedup(mut v: Vec<AccountId>) -> Vec<AccountId> {
    let mut seen = std::collections::HashSet::new();
    v.retain(|x| seen.insert(*x));
    v
}

/// What a full mailbox gets: the sender keeps the message and retries.
fn full() -> Reply {
    Reply::new(452, "4.2.2", "Mailbox full, try again later")
}

/// What a message larger than the quota itself gets: it can never fit.
fn too_big() -> Reply {
    Reply::new(552, "5.2.2", "Message is larger than the mailbox quota")
}

/// The envelope of the message being received, for a bounce to its sender.
struct BounceInfo {
    owners: Vec<(AccountId, String)>,
    sender: String,
    smtputf8: bool,
    envid: Option<String>,
    headers_only: bool,
}

fn temp_fail(e: &praisani_store::StoreError) -> Verdict {
    tracing::error!("store error: {e}");
    Verdict::Reject(Reply::new(
        451,
        "4.3.0",
        "Temporary lookup failure, try again later",
    ))
}
