//! The message being received: its trace headers, the submission checks
//! and fixes for our users' mail (RFC 6409 sections 6.1 and 8), the spool,
//! and the commit — quotas checked inside the store's commit, a bounce for
//! mailboxes that had no room stored before the 250, quota warnings.

use super::rcpt::{full, too_big};
use super::{Inbound, forward_key};
use crate::reports::{self, Copy, QuotaBounce};
use crate::submission::{HeaderCapture, header_facts, missing_headers};
use crate::{downgrade, quota, trace};
use praisani_smtp::{Envelope, Reply, ReversePath};
use praisani_store::{AccountId, Fit, Outbound, OutboundRcpt, QueueId, Spool};

/// A message between DATA (or the first BDAT) and its end.
pub struct Incoming {
    /// Its queue id (the session id and a counter).
    queue_id: String,
    /// The mailboxes it goes to, each once.
    mailboxes: Vec<AccountId>,
    /// Which recipient (as given) each mailbox is for, and the envelope,
    /// should a full mailbox need a bounce.
    bounce: BounceInfo,
    /// Its copy for the outbound queue.
    outbound: Option<Outbound>,
    /// The body being received, with the error that spoiled it, if any.
    spool: Option<Result<Spool, std::io::Error>>,
    /// The header section as spooled, to store its RFC 6857 downgrade
    /// with a message whose header has UTF-8.
    sniff: HeaderCapture,
    /// The header section of a submitted message, held back until
    /// complete (`None` for mail from other servers).
    capture: Option<HeaderCapture>,
    /// Why the submitted message's From:/Sender: header is refused.
    from_refused: Option<Reply>,
    /// A NUL octet arrived: RFC 5322 forbids it, and POP3 clients such as
    /// Outlook hang on it.
    nul: bool,
}

/// The envelope of the message being received, for a bounce to its sender.
struct BounceInfo {
    owners: Vec<(AccountId, String)>,
    sender: String,
    smtputf8: bool,
    envid: Option<String>,
    headers_only: bool,
}

/// A capture that lets everything through.
fn capture_done() -> HeaderCapture {
    let mut c = HeaderCapture::default();
    let _ = c.push(b"\r\n");
    c
}

fn dedup(mut v: Vec<AccountId>) -> Vec<AccountId> {
    let mut seen = std::collections::HashSet::new();
    v.retain(|x| seen.insert(*x));
    v
}

/// Local errors all look alike to the client: try again later.
fn local_error() -> Reply {
    Reply::new(451, "4.3.0", "Local error in processing, try again later")
}

impl Incoming {
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
}

impl Inbound {
    /// The message's data begins: its trace headers go first.
    pub fn message_start(&mut self, env: &Envelope) {
        let mut spool = self.office.store.new_spool();
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
        let queue_id = format!("{}.{}", self.session_id, self.messages);
        let headers = trace::headers(&trace::TraceInfo {
            helo: &env.helo,
            peer: self.peer,
            hostname: &self.office.settings.hostname,
            protocol: &protocol,
            id: &queue_id,
            for_rcpt: single.as_deref().map(|s| s.trim_matches(['<', '>'])),
            return_path: &return_path,
            smtputf8: env.params.smtputf8,
        });
        let mailboxes: Vec<AccountId> = env
            .recipients
            .iter()
            .filter_map(|r| self.rcpts.get(&forward_key(r)))
            .flatten()
            .copied()
            .collect();
        let bounce = BounceInfo {
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
        };
        // Each remote recipient once, however often the client named it.
        let mut seen = std::collections::HashSet::new();
        let remote: Vec<OutboundRcpt> = env
            .recipients
            .iter()
            .map(forward_key)
            .filter(|k| seen.insert(k.clone()))
            .filter_map(|k| self.remote.get(&k).cloned())
            .collect();
        let outbound = (!remote.is_empty()).then(|| Outbound {
            sender: return_path.clone(),
            recipients: remote,
            envid: env.params.envid.clone(),
            ret: env.params.ret,
            smtputf8: env.params.smtputf8,
            eight_bit: env.params.body == praisani_smtp::Body::EightBitMime,
        });
        let mut sniff = HeaderCapture::default();
        let _ = sniff.push(headers.as_bytes());
        let written = spool.write(headers.as_bytes()).map(|_| spool);
        self.incoming = Some(Box::new(Incoming {
            queue_id,
            mailboxes: dedup(mailboxes),
            bounce,
            outbound,
            spool: Some(written),
            sniff,
            // Our users' messages: hold the header back for the submission
            // checks and fixes (RFC 6409 section 8).
            capture: self.account.is_some().then(HeaderCapture::default),
            from_refused: None,
            nul: false,
        }));
    }

    /// More of the message's data (dot-stuffing already undone).
    pub async fn message_bytes(&mut self, bytes: &[u8]) {
        let Some(m) = &mut self.incoming else {
            return;
        };
        m.nul |= bytes.contains(&0);
        match &mut m.capture {
            None => m.spool_write(bytes),
            Some(c) if c.is_complete() => m.spool_write(bytes),
            Some(c) => {
                if let Some(rest) = c.push(bytes) {
                    self.header_complete(rest).await;
                }
            }
        }
    }

    /// The client gave up on the message (or it broke a limit): nothing
    /// of it is kept.
    pub fn message_aborted(&mut self) {
        if let Some(m) = &mut self.incoming {
            m.spool = None;
            m.capture = None;
        }
    }

    /// The submitted message's header is complete: check its From:,
    /// add a missing Message-ID or Date, and write it out with `rest`.
    async fn header_complete(&mut self, rest: &[u8]) {
        let Some(capture) = self.incoming.as_mut().and_then(|m| m.capture.take()) else {
            return;
        };
        let facts = header_facts(capture.header());
        let refused = self.header_refusal(&facts).await;
        let hostname = &self.office.settings.hostname;
        let Some(m) = &mut self.incoming else {
            return;
        };
        if refused.is_some() {
            m.from_refused = refused;
        }
        let added = missing_headers(&facts, &m.queue_id, hostname);
        m.spool_write(added.as_bytes());
        m.spool_write(capture.header());
        m.spool_write(rest);
        // Later chunks go straight to the spool.
        m.capture = Some(capture_done());
    }

    /// The message is complete: commit it for every recipient that has
    /// room (quotas checked inside the store's commit), and answer with
    /// its queue id, or the reply that refuses it.
    pub async fn message_end(&mut self) -> Result<String, Reply> {
        if self
            .incoming
            .as_ref()
            .and_then(|m| m.capture.as_ref())
            .is_some_and(|c| !c.is_complete())
        {
            self.header_complete(&[]).await;
        }
        // The transaction is over: its recipients' lookups are not needed
        // again, and a long connection should not pile them up.
        self.forget_recipients();
        let Some(mut m) = self.incoming.take() else {
            return Err(local_error());
        };
        let queue_id = std::mem::take(&mut m.queue_id);
        if let Some(reply) = m.from_refused.take() {
            tracing::info!(id = %queue_id, reason = %reply.lines.join(" "), "refused: header From:/Sender:");
            return Err(reply);
        }
        if m.nul {
            tracing::info!(id = %queue_id, "refused: NUL octet in the message");
            return Err(Reply::new(
                554,
                "5.6.0",
                "Message contains NUL octets, which RFC 5322 forbids",
            ));
        }
        let mut spool = match m.spool.take() {
            Some(Ok(s)) => s,
            Some(Err(e)) => {
                tracing::error!("spooling failed: {e}");
                return Err(local_error());
            }
            None => return Err(local_error()),
        };
        if m.sniff.overflowed() {
            // Its header could not be checked or downgraded for POP3
            // clients without UTF8; no real mail has one this large.
            tracing::info!(id = %queue_id, "refused: header section over 256 KiB");
            return Err(Reply::new(
                552,
                "5.3.4",
                "Message header section too large (256 KiB at most)",
            ));
        }
        if let Some(d) = downgrade::for_storage(m.sniff.header()) {
            spool.set_downgrade(d);
        }
        let size = spool.len();
        let accepted = match self
            .office
            .store
            .accept(spool, &m.mailboxes, m.outbound.take(), true)
            .await
        {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(id = %queue_id, "delivery failed: {e}");
                return Err(local_error());
            }
        };
        if accepted.messages.is_empty() && accepted.queued.is_none() {
            // Every mailbox refused it for its quota: nothing stored.
            let never = accepted.refused.iter().all(|r| r.fit == Fit::TooBig);
            tracing::info!(id = %queue_id, size, "refused: mailbox full");
            return Err(if never { too_big() } else { full() });
        }
        tracing::info!(id = %queue_id, size, local = accepted.messages.len(), refused = accepted.refused.len(), queued = ?accepted.queued.map(QueueId::get), "accepted");
        if accepted.queued.is_some() {
            self.office.queue_wake.notify_one();
        }
        let copy = match (accepted.usage.first(), accepted.messages.first()) {
            (Some(&(account, _)), Some(&id)) => Some(Copy::Message(account, id)),
            _ => accepted.queued.map(Copy::Queued),
        };
        if !accepted.refused.is_empty()
            && let Some(copy) = copy
        {
            let info = m.bounce;
            let recipients = accepted
                .refused
                .iter()
                .flat_map(|r| info.owners.iter().filter(move |o| o.0 == r.account))
                .map(|o| o.1.clone())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            // Stored before the 250: if it cannot be, the client is told
            // to try again rather than the refusal being lost.
            let sent = reports::quota_bounce(
                &self.office,
                QuotaBounce {
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
                return Err(local_error());
            }
        }
        quota::warn_if_due(&self.office, accepted.usage);
        Ok(queue_id)
    }
}
