//! The trust checks ([`crate::trust`]: SPF, DKIM, DMARC, ARC) applied to a
//! message from another server — not to our users' mail (they logged in)
//! nor to `trusted_networks` (the operator vouches for them).
//!
//! The client's header section is held back while the body streams into
//! the spool: our `Authentication-Results` must go on top of it, forged
//! ones with our authserv-id must go, and the verdict is known only at the
//! end of data (DKIM needs the whole body). At the end the message as the
//! client sent it (the held header and the spooled body, without our trace
//! header) is read into memory once for the checks — at most
//! `max_message_size` octets per message, and at most `trust.check_memory`
//! octets for all the messages being checked at once — and the header
//! to store is put before the body with [`Spool::set_head`]. A refusal
//! happens there, inside the dialogue: nothing is stored and no bounce is
//! ever sent for it.
//!
//! The spam filter ([`crate::spam`], rspamd) runs after the trust checks
//! (not when they already refused), on the same held header and spool;
//! the stricter of the two decisions wins, and the marks of both go into
//! the stored header.

use std::time::Instant;

use super::Inbound;
use crate::spam;
use crate::submission::HeaderCapture;
use crate::trust::strip::{SPAM_FIELDS, strip_fields};
use crate::trust::{AuthResult, CheckInput, Decision, Verdict, stamped_header};
use praisani_mailaddr::Domain;
use praisani_smtp::{DomainPart, Envelope, ForwardPath, Reply, ReversePath};
use praisani_store::Spool;

/// How much of a spooled body is read back at a time for the checks.
const PEEK_CHUNK: usize = 64 * 1024;

/// A message from another server while it is being received: what the
/// checks need at its end.
pub(super) struct Held {
    /// Our trace headers, which go above the checked header.
    trace: String,
    /// The client's header section, held back until the end of data
    /// (bounded by [`crate::submission::MAX_HEADER`]; a longer one is
    /// refused like any other).
    pub(super) capture: HeaderCapture,
    /// The EHLO/HELO argument.
    helo: String,
    /// The envelope sender without brackets, empty for `<>`.
    mail_from: String,
    /// The recipients' domains (lower-case A-labels), whose policies
    /// decide; an empty name for `<postmaster>` (the global policy).
    domains: Vec<String>,
    /// The recipients as given, for the spam filter.
    rcpts: Vec<String>,
}

impl Held {
    /// The state for a message of `env` whose trace headers are `trace`.
    pub(super) fn new(trace: String, env: &Envelope) -> Held {
        let mut domains: Vec<String> = env.recipients.iter().map(recipient_domain).collect();
        domains.sort();
        domains.dedup();
        Held {
            trace,
            capture: HeaderCapture::default(),
            helo: env.helo.clone(),
            mail_from: match &env.mail_from {
                ReversePath::Null => String::new(),
                ReversePath::Mailbox(m) => m.to_string(),
            },
            domains,
            rcpts: env
                .recipients
                .iter()
                .map(|r| super::forward_key(r).trim_matches(['<', '>']).to_string())
                .collect(),
        }
    }
}

/// The domain whose policy applies to mail for `to`.
fn recipient_domain(to: &ForwardPath) -> String {
    match to {
        ForwardPath::Postmaster => String::new(),
        ForwardPath::Mailbox { mailbox, .. } => match &mailbox.domain {
            DomainPart::Name(n) => Domain::parse(n)
                .map(|d| d.ascii().to_ascii_lowercase())
                .unwrap_or_else(|_| n.to_ascii_lowercase()),
            DomainPart::Literal(_) => String::new(),
        },
    }
}

impl Inbound {
    /// Runs the checks on the held message whose body is in `spool` — the
    /// trust checks, then the spam filter, those that are on — and either
    /// refuses it (the reply for the end of data) or puts the header to
    /// store before the body: trace headers, our `Authentication-Results`,
    /// the marks and the client's header without forged fields of ours.
    /// Answers whether the message failed DMARC (a `p=none` domain's, or
    /// one the policy marks rather than refuses): such mail is not
    /// forwarded.
    pub(super) async fn check_held(
        &self,
        held: Held,
        spool: &mut Spool,
        queue_id: &str,
    ) -> Result<bool, Reply> {
        let (verdict, mut decision) = match self.office.trust.is_some() {
            true => {
                let (v, d) = self.check_trust(&held, spool, queue_id).await?;
                (Some(v), d)
            }
            false => (None, Decision::Accept),
        };
        if let Some(filter) = &self.office.spam {
            // rspamd sees the header as it will be stored: without the
            // sender's own spam marks (its SPAM_FLAG rule would count them).
            let mut head = held.trace.as_bytes().to_vec();
            head.extend_from_slice(&strip_fields(held.capture.header(), &SPAM_FIELDS));
            let envelope = spam::Envelope {
                client_ip: self.peer.to_canonical(),
                helo: Some(held.helo.as_str()).filter(|h| !h.is_empty()),
                mail_from: &held.mail_from,
                rcpts: &held.rcpts,
                user: None,
                queue_id,
                mta_name: &self.office.settings.hostname,
            };
            if let Some(spam) = filter.check(&envelope, &head, spool).await {
                if let Some(reply) = spam.reply() {
                    tracing::info!(id = %queue_id, reason = %reply.lines.join(" "), "refused: spam filter");
                    return Err(reply);
                }
                decision = decision.and(spam);
            }
        }
        if let Decision::Mark { header_lines, .. } = &decision
            && header_lines
                .iter()
                .any(|l| l.starts_with("X-Spam-Flag: YES"))
        {
            tracing::info!(id = %queue_id, "marked as spam");
        }
        let mut head = held.trace.into_bytes();
        head.extend_from_slice(&stamped_header(
            held.capture.header(),
            verdict.as_ref(),
            &decision,
        ));
        spool.set_head(head);
        Ok(verdict.is_some_and(|v| v.dmarc.result == AuthResult::Fail))
    }

    /// The trust checks on the held message: their verdict and the
    /// policy's decision, or the reply that refuses it.
    async fn check_trust(
        &self,
        held: &Held,
        spool: &mut Spool,
        queue_id: &str,
    ) -> Result<(Verdict, Decision), Reply> {
        let Some(trust) = &self.office.trust else {
            return Err(super::message::local_error());
        };
        let header = held.capture.header();
        // Held until the message is dropped after the checks.
        let waiting = Instant::now();
        let room = trust
            .memory
            .reserve(header.len() as u64 + spool.len())
            .await;
        if room.waited {
            tracing::info!(
                id = %queue_id,
                ms = waiting.elapsed().as_millis() as u64,
                budget = trust.memory.bytes(),
                "trust checks waited for room (trust.check_memory)"
            );
        }
        let message = match read_message(header, spool) {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(id = %queue_id, "reading the spool for the trust checks: {e}");
                return Err(super::message::local_error());
            }
        };
        let started = Instant::now();
        let verdict = trust
            .checker
            .check(CheckInput {
                // An IPv4 client of a dual-stack listener arrives as
                // ::ffff:a.b.c.d: checked and recorded as the IPv4 address.
                client_ip: self.peer.to_canonical(),
                helo: &held.helo,
                mail_from: &held.mail_from,
                hostname: &self.office.settings.hostname,
                message: &message,
            })
            .await;
        drop(message);
        drop(room);
        let decision = trust
            .policies
            .decide_for(held.domains.iter().map(String::as_str), &verdict);
        tracing::info!(
            id = %queue_id,
            client = %self.peer,
            spf = %verdict.spf_mail_from.result,
            dkim = ?verdict.dkim.iter().map(|d| d.result.keyword()).collect::<Vec<_>>(),
            arc = %verdict.arc.result,
            dmarc = %verdict.dmarc.result,
            from_domain = %verdict.dmarc.from_domain,
            decision = decision.keyword(),
            ms = started.elapsed().as_millis() as u64,
            "trust checks"
        );
        if let Some(settings) = &self.office.dmarc_reports {
            // Refused mail is reported too: the domain wants to know.
            let to = held.domains.iter().find(|d| !d.is_empty());
            crate::dmarc_reports::record(
                &self.office,
                settings,
                &verdict,
                &decision,
                to.map_or("", String::as_str),
                chrono::Utc::now().timestamp(),
            );
        }
        if let Some(reply) = decision.reply() {
            tracing::info!(id = %queue_id, reason = %reply.lines.join(" "), "refused: trust policy");
            return Err(reply);
        }
        Ok((verdict, decision))
    }
}

/// The message as the client sent it: its held `header` and the body in
/// `spool`.
fn read_message(header: &[u8], spool: &mut Spool) -> std::io::Result<Vec<u8>> {
    let mut message = Vec::with_capacity(header.len() + spool.len() as usize);
    message.extend_from_slice(header);
    let mut body = spool.peek(PEEK_CHUNK)?;
    while let Some(chunk) = body.next_chunk()? {
        message.extend_from_slice(&chunk);
    }
    Ok(message)
}
