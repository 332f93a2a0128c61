//! Who an authenticated user may send as (RFC 6409 section 6.1): their own
//! address, or an alias that delivers to them — for the envelope sender
//! and for every `From:` address — unless the policy allows any.

use super::{Inbound, temp_fail};
use crate::office::SenderPolicy;
use crate::{Resolution, resolve};
use praisani_mailaddr::{Address, Domain};
use praisani_smtp::{DomainPart, Reply, ReversePath, Verdict};

impl Inbound {
    /// MAIL FROM: the sender, and the SIZE= declared for the transaction.
    pub async fn mail_from(&mut self, from: &ReversePath, declared_size: Option<u64>) -> Verdict {
        self.forget_recipients();
        self.declared_size = declared_size;
        let Some(account) = &self.account else {
            return Verdict::Accept;
        };
        if self.office.settings.sender_policy == SenderPolicy::Any {
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
        match resolve(&*self.office.store, &address).await {
            Ok(Resolution::Local { mailboxes, .. })
                if mailboxes.iter().any(|mb| mb.id == account.id) =>
            {
                Verdict::Accept
            }
            Ok(_) => not_owned(),
            Err(e) => temp_fail(&e),
        }
    }

    /// Whether every address of a submitted message's `From:` is the
    /// user's own or an alias of theirs (true when the policy is "any" or
    /// the client did not log in).
    pub(super) async fn header_from_is_owned(&self, from: &[String]) -> bool {
        let Some(account) = &self.account else {
            return true;
        };
        if self.office.settings.sender_policy == SenderPolicy::Any {
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
            match resolve(&*self.office.store, &address).await {
                Ok(Resolution::Local { mailboxes, .. })
                    if mailboxes.iter().any(|m| m.id == account.id) => {}
                _ => return false,
            }
        }
        true
    }
}
