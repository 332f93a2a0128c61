//! RCPT TO: what a recipient is to us. Our mailboxes and aliases are
//! accepted while they have room; postmaster always (RFC 5321 section
//! 4.5.1); other domains only for authenticated users and trusted
//! networks (no open relay), their mail going to the outbound queue.

use super::srs_return::SrsRcpt;
use super::{Inbound, forward_key, temp_fail};
use crate::{Mailbox, Resolution, forwarding, quota, resolve};
use praisani_mailaddr::{Address, Domain};
use praisani_smtp::{DomainPart, ForwardPath, RcptParams, Reply, Verdict};
use praisani_store::{Fit, OutboundRcpt};

impl Inbound {
    /// RCPT TO with its DSN parameters (RFC 3461).
    pub async fn rcpt_to(&mut self, to: &ForwardPath, params: Option<&RcptParams>) -> Verdict {
        let office = self.office.clone();
        let store = &*office.store;
        let address = match to {
            ForwardPath::Postmaster => return self.accept_postmaster(to).await,
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
                // Our SRS domain is ours even when it hosts no mailbox.
                if let SrsRcpt::Done(v) = self.srs_recipient(to, mailbox, &domain, params).await {
                    return v;
                }
                match store.is_hosted(&domain).await {
                    Ok(true) => {}
                    Ok(false) => return self.remote_recipient(to, mailbox, &domain, params),
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
        let addressing = &self.office.settings.addressing;
        match addressing.resolve_recipient(store, &address).await {
            Ok(Resolution::Unknown) if address.local() == "postmaster" => {
                self.accept_postmaster(to).await
            }
            Ok(Resolution::Local { mailboxes, remote }) => {
                // Aliases' remote targets and mailbox forwards become
                // queue entries at the end of data (`crate::forwarding`).
                let dest = match forwarding::destinations(&self.office, mailboxes, remote).await {
                    Ok(d) => d,
                    Err(e) => return temp_fail(&e),
                };
                if dest.is_empty() {
                    return Verdict::Reject(Reply::new(550, "5.1.1", "No such user here"));
                }
                if let Some(v) = self.check_quota(&dest.mailboxes) {
                    return v;
                }
                if let Some(v) = self.rcpt_filters(&address).await {
                    return v;
                }
                let key = forward_key(to);
                let ids = dest.mailboxes.iter().map(|m| m.id).collect();
                self.rcpts.insert(key.clone(), ids);
                if !dest.forwards.is_empty() {
                    self.forwards.insert(key, dest.forwards);
                }
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
    /// and trusted networks only; their mail goes to the outbound queue.
    fn remote_recipient(
        &mut self,
        to: &ForwardPath,
        mailbox: &praisani_smtp::Mailbox,
        domain: &Domain,
        params: Option<&RcptParams>,
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
                orcpt: params.and_then(|p| p.orcpt.clone()),
                notify: params.and_then(|p| p.notify),
            },
        );
        Verdict::Accept
    }

    /// RFC 5321 4.5.1: postmaster must be accepted for every hosted domain
    /// and without a domain. Mail goes to the domain's own postmaster
    /// mailbox or alias when there is one (handled by the caller), else to
    /// the configured `postmaster` — never to some customer's mailbox, so
    /// without one (the server refuses to start so) it is refused.
    pub(super) async fn accept_postmaster(&mut self, to: &ForwardPath) -> Verdict {
        let refuse = || {
            tracing::warn!("postmaster mail refused: `postmaster` is unset or not a local mailbox");
            Verdict::Reject(Reply::new(550, "5.1.1", "No postmaster mailbox here"))
        };
        let Some(target) = &self.office.settings.postmaster else {
            return refuse();
        };
        match resolve(&*self.office.store, target).await {
            Ok(Resolution::Local { mailboxes, .. }) if !mailboxes.is_empty() => {
                self.rcpts
                    .insert(forward_key(to), mailboxes.iter().map(|m| m.id).collect());
                Verdict::Accept
            }
            Ok(_) => refuse(),
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
                    quota::warn_if_due(&self.office, vec![(m.id, m.usage)]);
                    return Some(Verdict::Reject(full()));
                }
            }
        }
        None
    }
}

/// What a full mailbox gets: the sender keeps the message and retries.
pub(super) fn full() -> Reply {
    Reply::new(452, "4.2.2", "Mailbox full, try again later")
}

/// What a message larger than the quota itself gets: it can never fit.
pub(super) fn too_big() -> Reply {
    Reply::new(552, "5.2.2", "Message is larger than the mailbox quota")
}
