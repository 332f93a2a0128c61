//! RCPT TO an SRS address of ours: the return path of forwarded mail. A
//! bounce to `SRS0=…@<srs domain>` goes on to the original sender, one to
//! `SRS1=…` to the forwarder before us — whoever sends it (bounces come
//! from any server), but only when the hash is ours and the address not
//! older than `srs.max_age_days`: the SRS domain decodes nothing else, so
//! it is never an open relay.

use super::{Inbound, forward_key, temp_fail};
use crate::srs::{Srs, SrsError};
use praisani_mailaddr::{Address, Domain};
use praisani_smtp::{DomainPart, ForwardPath, Mailbox, RcptParams, Reply, Verdict};
use praisani_store::OutboundRcpt;
use std::time::SystemTime;

/// What an address at our SRS domain is to RCPT.
pub(super) enum SrsRcpt {
    /// Not for this module: another domain, or a non-SRS address of a
    /// hosted SRS domain (a mailbox like any other).
    Pass,
    /// The answer.
    Done(Verdict),
}

impl Inbound {
    /// RCPT TO `mailbox` at `domain` when that is our SRS domain.
    pub(super) async fn srs_recipient(
        &mut self,
        to: &ForwardPath,
        mailbox: &Mailbox,
        domain: &Domain,
        params: Option<&RcptParams>,
    ) -> SrsRcpt {
        let office = self.office.clone();
        let (Some(srs), Some(srs_domain)) = (&office.srs, &office.srs_domain) else {
            return SrsRcpt::Pass;
        };
        if domain != srs_domain {
            return SrsRcpt::Pass;
        }
        if mailbox.quoted || !Srs::is_srs(&mailbox.local) {
            return match office.store.is_hosted(domain).await {
                Ok(true) => SrsRcpt::Pass,
                // Postmaster of every domain we take mail for (RFC 5321
                // section 4.5.1).
                Ok(false) if mailbox.local.eq_ignore_ascii_case("postmaster") => {
                    SrsRcpt::Done(self.accept_postmaster(to).await)
                }
                // The same answer as an unknown user of a hosted domain.
                Ok(false) => SrsRcpt::Done(Verdict::Reject(no_such_user())),
                Err(e) => SrsRcpt::Done(temp_fail(&e)),
            };
        }
        let decoded = Address::new(&mailbox.local, domain.clone())
            .map_err(|_| SrsError::Malformed)
            .and_then(|a| srs.reverse(&a, SystemTime::now()));
        let original = match decoded {
            // Decoded into our SRS domain again: we never write that, so
            // it would only loop.
            Ok(a) if a.domain() == srs_domain => {
                return SrsRcpt::Done(Verdict::Reject(invalid()));
            }
            Ok(a) => a,
            Err(e) => {
                tracing::info!(rcpt = %mailbox, client = %self.peer, error = %e, "SRS address refused");
                return SrsRcpt::Done(Verdict::Reject(match e {
                    SrsError::Expired => expired(),
                    _ => invalid(),
                }));
            }
        };
        let address = Address::new(&mailbox.local, domain.clone()).ok();
        if let Some(v) = match &address {
            Some(a) => self.rcpt_filters(a).await,
            None => None,
        } {
            return SrsRcpt::Done(v);
        }
        tracing::info!(rcpt = %mailbox, to = %original, client = %self.peer, "SRS address reversed");
        match office.store.is_hosted(original.domain()).await {
            Ok(true) => SrsRcpt::Done(self.srs_local(to, &original, params).await),
            Ok(false) => {
                self.remote.insert(
                    forward_key(to),
                    OutboundRcpt {
                        address: original.canonical(),
                        domain: original.domain().ascii().to_string(),
                        orcpt: params.and_then(|p| p.orcpt.clone()),
                        notify: params.and_then(|p| p.notify),
                    },
                );
                SrsRcpt::Done(Verdict::Accept)
            }
            Err(e) => SrsRcpt::Done(temp_fail(&e)),
        }
    }

    /// The original sender is one of our own addresses (we forwarded a
    /// message of our user): RCPT as if the client had named it, the
    /// mailboxes remembered under the SRS address the client wrote.
    async fn srs_local(
        &mut self,
        to: &ForwardPath,
        original: &Address,
        params: Option<&RcptParams>,
    ) -> Verdict {
        let path = ForwardPath::Mailbox {
            mailbox: Mailbox {
                local: original.local().to_string(),
                quoted: false,
                domain: DomainPart::Name(original.domain().ascii().to_string()),
            },
            source_route: false,
        };
        let verdict = Box::pin(self.rcpt_to(&path, params)).await;
        if matches!(verdict, Verdict::Accept) {
            let key = forward_key(&path);
            if let Some(ids) = self.rcpts.get(&key).cloned() {
                self.rcpts.insert(forward_key(to), ids);
            }
            if let Some(r) = self.remote.get(&key).cloned() {
                self.remote.insert(forward_key(to), r);
            }
        }
        verdict
    }
}

/// A non-SRS address at an SRS domain that hosts no mailboxes: what any
/// unknown user gets.
fn no_such_user() -> Reply {
    Reply::new(550, "5.1.1", "No such user here")
}

/// A forged, damaged or foreign SRS address.
fn invalid() -> Reply {
    Reply::new(
        550,
        "5.1.1",
        "Invalid SRS address: not one this server made (forged or damaged)",
    )
}

/// An SRS address of ours past `srs.max_age_days`.
fn expired() -> Reply {
    Reply::new(
        550,
        "5.1.1",
        "Expired SRS address: the forwarded message is too old to bounce",
    )
}
