//! The message being received: its trace headers, the submission checks
//! and fixes for our users' mail (RFC 6409 sections 6.1 and 8), the spool,
//! and the commit — quotas checked inside the store's commit, a headers-only
//! bounce for mailboxes that had no room stored before the 250 (or, when no
//! bounce may be sent, the whole message deferred), quota warnings. Mail
//! from other servers passes the trust checks first ([`super::trust`]);
//! vacation replies are decided after the commit ([`crate::vacation`]).

use super::rcpt::{full, too_big};
use super::trust::Held;
use super::{Inbound, forward_key};
use crate::Resolution;
use crate::forwarding::{self, ForwardTarget};
use crate::reports::{self, Copy, QuotaBounce};
use crate::sender_tls::sender_tls;
use crate::submission::{HeaderCapture, header_facts, missing_headers};
use crate::{downgrade, outbound_policy, quota, trace, vacation};
use praisani_mailaddr::Address;
use praisani_smtp::{Envelope, Reply, ReversePath};
use praisani_store::sending::{Scope, SendCharge, SendOutcome, Ticket};
use praisani_store::{Account, AccountId, Fit, Outbound, OutboundRcpt, Spool, StoreError, Usage};

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
    /// What forwarding needs at the end of data.
    forwarding: ForwardState,
    /// The body being received, with the error that spoiled it, if any.
    spool: Option<Result<Spool, std::io::Error>>,
    /// The header section as spooled, to store its RFC 6857 downgrade
    /// with a message whose header has UTF-8.
    sniff: HeaderCapture,
    /// The header section of a submitted message, held back until
    /// complete (`None` for mail from other servers).
    capture: Option<HeaderCapture>,
    /// A message from another server, checked at its end: its trace
    /// headers and header section, held back until then (`None` for our
    /// users' and trusted networks' mail, and with the checks off).
    held: Option<Held>,
    /// Why the submitted message's From:/Sender: header is refused.
    from_refused: Option<Reply>,
    /// A NUL octet arrived: RFC 5322 forbids it, and POP3 clients such as
    /// Outlook hang on it.
    nul: bool,
}

/// The forwarded copies that share a queue entry: those of one recipient
/// (as addressed) and one forwarding account.
type ForwardGroup = (String, Option<AccountId>);

/// What the end of data needs for forwarding and `Delivered-To:`.
struct ForwardState {
    /// Our recipients as addressed (domain normalised), each once: what
    /// a `Delivered-To:` of ours in the message would name if it looped.
    addressed: Vec<String>,
    /// The recipients, as addressed, that have a copy in some mailbox.
    stored_for: std::collections::HashSet<String>,
    /// The forwarded copies: the recipient as addressed and the target.
    targets: Vec<(String, ForwardTarget)>,
    /// RFC 3461 RET, for the forwarded copies.
    ret: Option<praisani_store::Return>,
    /// The message has 8-bit content.
    eight_bit: bool,
}

/// The envelope of the message being received, for a bounce to its sender.
struct BounceInfo {
    owners: Vec<(AccountId, String)>,
    sender: String,
    smtputf8: bool,
    envid: Option<String>,
    requiretls: bool,
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

/// What a headers-only bounce adds to the returned header, at most: its
/// own header, the texts in the sender's language and the status fields.
const BOUNCE_TEXT_ALLOWANCE: usize = 8 * 1024;

/// Local errors all look alike to the client: try again later.
pub(super) fn local_error() -> Reply {
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
            requiretls: env.params.requiretls,
        };
        let mut addressed = Vec::new();
        let mut targets = Vec::new();
        for key in env.recipients.iter().map(forward_key) {
            if addressed.contains(&key)
                || !(self.rcpts.contains_key(&key) || self.forwards.contains_key(&key))
            {
                continue;
            }
            for t in self.forwards.get(&key).into_iter().flatten() {
                targets.push((key.trim_matches(['<', '>']).to_string(), t.clone()));
            }
            addressed.push(key);
        }
        let forwarding = ForwardState {
            stored_for: addressed
                .iter()
                .filter(|k| self.rcpts.get(*k).is_some_and(|ids| !ids.is_empty()))
                .map(|k| k.trim_matches(['<', '>']).to_string())
                .collect(),
            addressed: addressed
                .into_iter()
                .map(|k| k.trim_matches(['<', '>']).to_string())
                .collect(),
            targets,
            ret: env.params.ret,
            eight_bit: env.params.body == praisani_smtp::Body::EightBitMime,
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
            account: self.account.as_ref().map(|a| a.id),
            // TLS-Required: No in the header is read at the message's end.
            tls: sender_tls(env.params.requiretls, b""),
            prefix: Vec::new(),
            forwarded: false,
        });
        // Mail from other servers: its header waits for the checks, and the
        // trace headers with it, so nothing is written before the body.
        let checked = (self.office.trust.is_some() || self.office.spam.is_some())
            && self.account.is_none()
            && !self.trusted;
        let (sniff, written, held) = if checked {
            (capture_done(), Ok(spool), Some(Held::new(headers, env)))
        } else {
            let mut sniff = HeaderCapture::default();
            let _ = sniff.push(headers.as_bytes());
            let written = spool.write(headers.as_bytes()).map(|_| spool);
            (sniff, written, None)
        };
        self.incoming = Some(Box::new(Incoming {
            queue_id,
            mailboxes: dedup(mailboxes),
            bounce,
            outbound,
            forwarding,
            spool: Some(written),
            sniff,
            // Our users' messages: hold the header back for the submission
            // checks and fixes (RFC 6409 section 8).
            capture: self.account.is_some().then(HeaderCapture::default),
            held,
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
        if let Some(held) = m.held.as_mut().filter(|h| !h.capture.is_complete()) {
            if let Some(body) = held.capture.push(bytes) {
                m.spool_write(body);
            }
            return;
        }
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
            m.held = None;
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

    /// No bounce could report a full mailbox now: the sender is `<>`, did
    /// not log in and already got its bounce for this interval, or is ours
    /// and has no room for a bounce returning a header of `header_len`
    /// octets.
    async fn no_bounce_possible(
        &self,
        sender: &str,
        header_len: usize,
    ) -> Result<bool, StoreError> {
        if sender.is_empty() || (self.account.is_none() && self.office.bounce_limit.spent(sender)) {
            return Ok(true);
        }
        let Ok(address) = Address::parse(sender) else {
            return Ok(false);
        };
        let estimate = (header_len + BOUNCE_TEXT_ALLOWANCE) as u64;
        let addressing = &self.office.settings.addressing;
        Ok(
            match addressing
                .resolve_recipient(&*self.office.store, &address)
                .await?
            {
                Resolution::Local { mailboxes, .. } if !mailboxes.is_empty() => mailboxes
                    .iter()
                    .all(|mb| mb.usage.fit(estimate) != Fit::Fits),
                _ => false,
            },
        )
    }

    /// Whether the mailboxes of the message have room for `size` octets
    /// now, read before the commit (which decides again): (some have, some
    /// have not). When no bounce could report a full one, the whole message
    /// is deferred instead, so the sending server keeps it and nothing is
    /// lost.
    async fn room_before_commit(
        &self,
        m: &Incoming,
        size: u64,
    ) -> Result<(bool, bool), StoreError> {
        let store = &*self.office.store;
        let (mut some_fit, mut some_full) = (false, false);
        let mut seen = std::collections::HashSet::new();
        for (id, rcpt) in &m.bounce.owners {
            if !seen.insert(rcpt) {
                continue;
            }
            let fits: Vec<bool> = match Address::parse(rcpt) {
                Ok(address) => match self
                    .office
                    .settings
                    .addressing
                    .resolve_recipient(store, &address)
                    .await?
                {
                    Resolution::Local { mailboxes, .. } => mailboxes
                        .iter()
                        .filter(|mb| m.mailboxes.contains(&mb.id))
                        .map(|mb| mb.usage.fit(size) == Fit::Fits)
                        .collect(),
                    _ => Vec::new(),
                },
                // Bare postmaster: the configured mailbox, looked up by id.
                Err(_) => store
                    .account_by_id(*id)
                    .await?
                    .map(|a| account_has_room(&a, size))
                    .into_iter()
                    .collect(),
            };
            some_fit |= fits.iter().any(|&f| f);
            some_full |= fits.iter().any(|&f| !f);
        }
        Ok((some_fit, some_full))
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
        if m.sniff.overflowed() || m.held.as_ref().is_some_and(|h| h.capture.overflowed()) {
            // Its header could not be checked or downgraded for POP3
            // clients without UTF8; no real mail has one this large.
            tracing::info!(id = %queue_id, "refused: header section over 256 KiB");
            return Err(Reply::new(
                552,
                "5.3.4",
                "Message header section too large (256 KiB at most)",
            ));
        }
        let mut dmarc_failed = false;
        let header_len = match m.held.take() {
            Some(held) => {
                dmarc_failed = self.check_held(held, &mut spool, &queue_id).await?;
                // The stored header is the spool's head now.
                if let Some(d) = downgrade::for_storage(spool.head()) {
                    spool.set_downgrade(d);
                }
                spool.head().len()
            }
            None => {
                if let Some(d) = downgrade::for_storage(m.sniff.header()) {
                    spool.set_downgrade(d);
                }
                m.sniff.header().len()
            }
        };
        let header = if spool.head().is_empty() {
            m.sniff.header()
        } else {
            spool.head()
        };
        if let Some(reply) = forwarding::loop_refusal(
            header,
            &m.forwarding.addressed,
            self.office.settings.max_received,
        ) {
            tracing::info!(id = %queue_id, reason = %reply.lines.join(" "), "refused: mail loop");
            return Err(reply);
        }
        // The stored header, for vacation replies after the commit.
        let stored_header = if m.mailboxes.is_empty() || m.bounce.sender.is_empty() {
            Vec::new()
        } else {
            header.to_vec()
        };
        // What the sender asked of the TLS on the way (RFC 8689) goes with
        // every copy for other servers, forwarded ones included.
        let msg_tls = sender_tls(
            m.bounce.requiretls,
            if spool.head().is_empty() {
                m.sniff.header()
            } else {
                spool.head()
            },
        );
        if let Some(out) = &mut m.outbound {
            out.tls = msg_tls;
        }
        let size = spool.len();
        // Only mail for our mailboxes can meet a full one.
        let no_bounce = !m.mailboxes.is_empty()
            && match self.no_bounce_possible(&m.bounce.sender, header_len).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(id = %queue_id, "sender lookup failed: {e}");
                    return Err(local_error());
                }
            };
        if no_bounce {
            match self.room_before_commit(&m, size).await {
                // Some copies would be stored and some not: defer it all.
                // When none would be, the commit refuses the whole message
                // with the right code (452 or 552).
                Ok((some_fit, true)) if some_fit || m.outbound.is_some() => {
                    tracing::info!(id = %queue_id, size, sender = %m.bounce.sender, "deferred: a mailbox is full and no bounce may be sent now");
                    return Err(full());
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(id = %queue_id, "quota check failed: {e}");
                    return Err(local_error());
                }
            }
        }
        let (mut forwards, forward_charges) =
            self.forward_copies(&mut m, dmarc_failed, &queue_id).await?;
        for f in &mut forwards {
            f.tls = msg_tls;
        }
        m.mailboxes = dedup(std::mem::take(&mut m.mailboxes));
        for &id in &m.mailboxes {
            let mut unique: Vec<String> = Vec::new();
            for (owner, a) in &m.bounce.owners {
                if *owner == id && a.contains('@') && !unique.contains(a) {
                    unique.push(a.clone());
                }
            }
            if !unique.is_empty() {
                spool.set_prefix(id, forwarding::delivered_to(&unique));
            }
        }
        // Our users' mail is counted against their sending limits now,
        // before the commit: over a limit, nothing is stored.
        let charged = match self.charge_sending(&m, &queue_id).await {
            Ok(c) => c,
            Err(reply) => {
                self.refund_forwards(forward_charges).await;
                return Err(reply);
            }
        };
        let mut outbound: Vec<Outbound> = m.outbound.take().into_iter().collect();
        let forwarded = !forwards.is_empty();
        outbound.extend(forwards);
        let timer = praisani_metrics::metrics().store_timer("accept");
        let accepted = self
            .office
            .store
            .accept(spool, &m.mailboxes, outbound, true)
            .await;
        drop(timer);
        let accepted = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(id = %queue_id, "delivery failed: {e}");
                self.refund_sending(charged).await;
                self.refund_forwards(forward_charges).await;
                return Err(local_error());
            }
        };
        if accepted.messages.is_empty() && accepted.queued.is_empty() {
            self.refund_sending(charged).await;
            self.refund_forwards(forward_charges).await;
            // Every mailbox refused it for its quota: nothing stored.
            let never = accepted.refused.iter().all(|r| r.fit == Fit::TooBig);
            tracing::info!(id = %queue_id, size, "refused: mailbox full");
            return Err(if never { too_big() } else { full() });
        }
        tracing::info!(id = %queue_id, size, local = accepted.messages.len(), refused = accepted.refused.len(), queued = ?accepted.queued.iter().map(|q| q.get()).collect::<Vec<_>>(), forwarded, "accepted");
        if !accepted.queued.is_empty() {
            self.office.queue_wake.notify_one();
        }
        let vacation = vacation::Committed {
            sender: m.bounce.sender.clone(),
            header: stored_header,
            mailboxes: accepted.usage.iter().map(|(id, _)| *id).collect(),
        };
        let copy = match (accepted.usage.first(), accepted.messages.first()) {
            (Some(&(account, _)), Some(&id)) => Some(Copy::Message(account, id)),
            _ => accepted.queued.first().copied().map(Copy::Queued),
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
                    authenticated: self.account.is_some(),
                    recipients,
                    smtputf8: info.smtputf8,
                    envid: info.envid,
                    arrival: chrono::Utc::now(),
                    copy,
                    requiretls: info.requiretls,
                },
            )
            .await;
            if let Err(e) = sent {
                tracing::error!(id = %queue_id, "cannot store the bounce for full mailboxes: {e}");
                return Err(local_error());
            }
        }
        quota::warn_if_due(&self.office, accepted.usage);
        // After the commit and in a task of its own: a reply never holds
        // up or fails the message it answers.
        vacation::after_commit(&self.office, vacation);
        Ok(queue_id)
    }
}

impl Inbound {
    /// The queue entries for the forwarded copies of `m`, one per
    /// recipient (as addressed) and forwarding account, each charged to
    /// that account's sending limits (the charges returned for a refund).
    /// A copy not sent — the message failed DMARC at our door, or the
    /// account is over a limit — leaves the message in the mailbox that
    /// keeps none otherwise; when a recipient would get nothing at all (an
    /// alias with only remote targets, for mail that failed DMARC), the
    /// message is refused: the sender learns of it, the next server would
    /// refuse it anyway.
    async fn forward_copies(
        &self,
        m: &mut Incoming,
        dmarc_failed: bool,
        queue_id: &str,
    ) -> Result<(Vec<Outbound>, Vec<(SendCharge, Ticket)>), Reply> {
        let targets = std::mem::take(&mut m.forwarding.targets);
        if targets.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        if dmarc_failed {
            tracing::info!(id = %queue_id, sender = %m.bounce.sender, "not forwarded: DMARC failed");
            for (rcpt, t) in &targets {
                if !self.keep_instead(m, rcpt, t) {
                    return Err(Reply::new(
                        550,
                        "5.7.26",
                        "Message failed DMARC; it is not forwarded",
                    ));
                }
            }
            return Ok((Vec::new(), Vec::new()));
        }
        // (recipient as addressed, forwarding account) → targets, in order.
        let mut groups: Vec<(ForwardGroup, Vec<ForwardTarget>)> = Vec::new();
        for (rcpt, t) in targets {
            let key = (rcpt, t.account);
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => v.push(t),
                None => groups.push((key, vec![t])),
            }
        }
        let mut out = Vec::new();
        let mut charges = Vec::new();
        for ((rcpt, account), group) in groups {
            let recipients: Vec<OutboundRcpt> = group
                .iter()
                .map(|t| OutboundRcpt {
                    address: format!("{}@{}", t.address.local(), t.address.domain().ascii()),
                    domain: t.address.domain().ascii().to_ascii_lowercase(),
                    orcpt: None,
                    notify: None,
                })
                .collect();
            if let Some(id) = account {
                match self.charge_forward(id, &recipients, queue_id).await {
                    Ok(Some(charge)) => charges.push(charge),
                    Ok(None) => {
                        for t in &group {
                            self.keep_instead(m, &rcpt, t);
                        }
                        continue;
                    }
                    Err(reply) => {
                        self.refund_forwards(charges).await;
                        return Err(reply);
                    }
                }
            }
            let sender = match forwarding::forward_sender(&self.office, &m.bounce.sender).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(id = %queue_id, "forwarding sender: {e}");
                    self.refund_forwards(charges).await;
                    return Err(local_error());
                }
            };
            tracing::info!(id = %queue_id, rcpt = %rcpt, sender = %sender, targets = recipients.len(), "forwarded");
            out.push(Outbound {
                sender,
                recipients,
                envid: m.bounce.envid.clone(),
                ret: m.forwarding.ret,
                smtputf8: m.bounce.smtputf8,
                eight_bit: m.forwarding.eight_bit,
                account,
                // Set from the message's header by the caller.
                tls: praisani_store::SenderTls::Policy,
                prefix: forwarding::delivered_to(&[rcpt]),
                forwarded: true,
            });
        }
        Ok((out, charges))
    }

    /// A forward of `rcpt` to `t` is not sent: its mailbox stores the
    /// message instead when it keeps no copy otherwise. False when the
    /// recipient is left with no copy anywhere.
    fn keep_instead(&self, m: &mut Incoming, rcpt: &str, t: &ForwardTarget) -> bool {
        if let Some(id) = t.fallback {
            m.mailboxes.push(id);
            if !m.bounce.owners.iter().any(|(o, a)| *o == id && a == rcpt) {
                m.bounce.owners.push((id, rcpt.to_string()));
            }
            m.forwarding.stored_for.insert(rcpt.to_string());
        }
        m.forwarding.stored_for.contains(rcpt)
    }

    /// Charges a forwarded copy to the forwarding account's sending
    /// limits: the charge, or `None` when a limit is reached (the copy is
    /// not sent; the account is not held for it: forwarding is not
    /// something it sent).
    async fn charge_forward(
        &self,
        account: AccountId,
        recipients: &[OutboundRcpt],
        queue_id: &str,
    ) -> Result<Option<(SendCharge, Ticket)>, Reply> {
        let store = &*self.office.store;
        let owner = match store.account_by_id(account).await {
            Ok(Some(a)) => a,
            Ok(None) => return Ok(None),
            Err(e) => {
                tracing::error!(id = %queue_id, "forwarding account: {e}");
                return Err(local_error());
            }
        };
        let mut rcpts: Vec<String> = recipients
            .iter()
            .map(|r| r.address.to_lowercase())
            .collect();
        rcpts.sort();
        rcpts.dedup();
        let charge = SendCharge {
            account,
            domain: owner.address.domain().ascii().to_string(),
            recipients: rcpts,
        };
        let limits = self.office.sending.limits_for(&owner);
        let now = chrono::Utc::now().timestamp();
        match store.send_charge(&charge, now, &limits).await {
            Ok(SendOutcome::Counted(ticket)) => Ok(Some((charge, ticket))),
            Ok(SendOutcome::Over(over)) => {
                let what = outbound_policy::describe(&over);
                tracing::warn!(id = %queue_id, account = %owner.address, limit = %what, "not forwarded: sending limit");
                Ok(None)
            }
            Err(e) => {
                tracing::error!(id = %queue_id, "sending limits: {e}");
                Err(local_error())
            }
        }
    }

    /// Gives back the charges of forwarded copies not stored after all.
    async fn refund_forwards(&self, charges: Vec<(SendCharge, Ticket)>) {
        for c in charges {
            self.refund_sending(Some(c)).await;
        }
    }

    /// Charges the submitted message `m` to its account's sending
    /// counters; over a limit, the reply that refuses it (and the account
    /// put on hold when so configured). `None` for mail from other servers.
    async fn charge_sending(
        &self,
        m: &Incoming,
        queue_id: &str,
    ) -> Result<Option<(SendCharge, Ticket)>, Reply> {
        let Some(account) = &self.account else {
            return Ok(None);
        };
        let mut recipients: Vec<String> = m
            .outbound
            .iter()
            .flat_map(|o| o.recipients.iter().map(|r| r.address.to_lowercase()))
            .chain(m.bounce.owners.iter().map(|o| o.1.to_lowercase()))
            .collect();
        recipients.sort();
        recipients.dedup();
        let charge = SendCharge {
            account: account.id,
            domain: account.address.domain().ascii().to_string(),
            recipients,
        };
        let policy = &self.office.sending;
        let limits = policy.limits_for(account);
        let now = chrono::Utc::now().timestamp();
        match self.office.store.send_charge(&charge, now, &limits).await {
            Ok(SendOutcome::Counted(ticket)) => Ok(Some((charge, ticket))),
            Ok(SendOutcome::Over(over)) => {
                let what = outbound_policy::describe(&over);
                tracing::warn!(id = %queue_id, account = %account.address, limit = %what, "refused: sending limit");
                // A domain's limit refuses, but does not hold the account
                // that happened to reach it.
                let held = policy.hold_on_limit
                    && over.scope == Scope::Account
                    && match outbound_policy::hold(
                        &self.office,
                        account,
                        &format!("sending limit reached: {what}"),
                    )
                    .await
                    {
                        Ok(_) => true,
                        Err(e) => {
                            tracing::error!(account = %account.address, "cannot hold the account: {e}");
                            false
                        }
                    };
                Err(outbound_policy::refusal(&over, held))
            }
            Err(e) => {
                tracing::error!(id = %queue_id, "sending limits: {e}");
                Err(local_error())
            }
        }
    }

    /// Gives back a charge for a message that was not stored after all.
    async fn refund_sending(&self, charged: Option<(SendCharge, Ticket)>) {
        if let Some((charge, ticket)) = charged
            && let Err(e) = self.office.store.send_refund(&charge, &ticket).await
        {
            tracing::error!("sending limits refund failed: {e}");
        }
    }
}

/// An account's own quota (without its domain's) has room for `size`.
fn account_has_room(a: &Account, size: u64) -> bool {
    let usage = Usage {
        used_bytes: a.used_bytes,
        used_messages: a.used_messages,
        quota_bytes: a.quota_bytes,
        quota_messages: a.quota_messages,
        ..Usage::default()
    };
    usage.fit(size) == Fit::Fits
}
