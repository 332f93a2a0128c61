//! Who an authenticated user may send as (RFC 6409 section 6.1): their own
//! address, or an alias that delivers to them — for the envelope sender
//! and for every `From:` and `Sender:` address — unless the policy allows
//! any.

use super::{Inbound, temp_fail};
use crate::Resolution;
use crate::office::SenderPolicy;
use crate::outbound_policy;
use crate::submission::HeaderFacts;
use praisani_mailaddr::{Address, Domain};
use praisani_smtp::{DomainPart, Reply, ReversePath, Verdict};

impl Inbound {
    /// MAIL FROM: the sender, and the SIZE= declared for the transaction.
    pub async fn mail_from(&mut self, from: &ReversePath, declared_size: Option<u64>) -> Verdict {
        self.forget_recipients();
        self.declared_size = declared_size;
        self.return_path = match from {
            ReversePath::Null => String::new(),
            ReversePath::Mailbox(m) => m.to_string(),
        };
        let Some(account) = &self.account else {
            return Verdict::Accept;
        };
        // Read afresh: another node (or the operator) may have put the
        // account on hold since it logged in.
        match self.office.store.account_by_id(account.id).await {
            Ok(Some(a)) => {
                if let Some(reason) = &a.held {
                    tracing::info!(account = %a.address, "refused at MAIL FROM: account on hold");
                    return Verdict::Reject(outbound_policy::held_refusal(reason));
                }
            }
            Ok(None) => return Verdict::Reject(outbound_policy::held_refusal("account removed")),
            Err(e) => return temp_fail(&e),
        }
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
        match self
            .office
            .settings
            .addressing
            .resolve_sender(&*self.office.store, &address)
            .await
        {
            Ok(Resolution::Local { mailboxes, .. })
                if mailboxes.iter().any(|mb| mb.id == account.id) =>
            {
                Verdict::Accept
            }
            Ok(_) => not_owned(),
            Err(e) => temp_fail(&e),
        }
    }

    /// Why a submitted message's header may not go out as the logged-in
    /// user, if it may not: more than one `From:` or `Sender:` field
    /// (RFC 5322 section 3.6 allows one; mail programs show the first,
    /// a check that read only the last could be fooled), no `From:`
    /// address, or an address in `From:` or `Sender:` that is neither the
    /// user's own nor an alias of theirs. `None` when the policy is "any"
    /// or the client did not log in.
    pub(super) async fn header_refusal(&self, facts: &HeaderFacts) -> Option<Reply> {
        let account = self.account.as_ref()?;
        if self.office.settings.sender_policy == SenderPolicy::Any {
            return None;
        }
        if facts.from_fields > 1 || facts.sender_fields > 1 {
            return Some(Reply::new(
                550,
                "5.6.0",
                "More than one From: or Sender: field in the header (RFC 5322 allows one)",
            ));
        }
        let not_owned = || {
            Some(Reply::new(
                553,
                "5.7.1",
                "From: header address is not one of yours",
            ))
        };
        if facts.from.is_empty() {
            return not_owned();
        }
        for text in facts.from.iter().chain(&facts.sender) {
            let Ok(address) = Address::parse(text) else {
                return not_owned();
            };
            if address == account.address {
                continue;
            }
            match self
                .office
                .settings
                .addressing
                .resolve_sender(&*self.office.store, &address)
                .await
            {
                Ok(Resolution::Local { mailboxes, .. })
                    if mailboxes.iter().any(|m| m.id == account.id) => {}
                _ => return not_owned(),
            }
        }
        None
    }
}
