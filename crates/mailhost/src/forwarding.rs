//! Forwarding: what a recipient's aliases and mailbox forwards make of a
//! message, the `Delivered-To:` each copy carries, the loops refused at
//! the end of data, and the envelope sender of a forwarded copy.
//!
//! A recipient resolves (through [`crate::addressing`]) to mailboxes and
//! alias targets on other servers; a mailbox with a forward
//! ([`praisani_store::Forward`]) adds its targets and keeps a copy or not.
//! Forward targets in our own domains become copies in those mailboxes
//! (their own forwards are not followed: no chains, no loops among us);
//! the others become queue entries in the same commit as the mailbox
//! copies, each with its own `Delivered-To:` and its envelope sender
//! rewritten ([`forward_sender`]) so the next server's SPF and DMARC checks
//! see our domain.
//!
//! Loops between us and another server are caught by the
//! `Delivered-To:` we write into every copy, stored and forwarded alike
//! (as Postfix does), and by counting `Received:` fields ([`loop_refusal`]).

use crate::office::PostOffice;
use crate::{Mailbox, Resolution};
use praisani_mailaddr::Address;
use praisani_message::mime;
use praisani_smtp::Reply;
use praisani_store::{AccountId, StoreError};

/// `Received:` fields a message may carry before it is taken for a loop:
/// Postfix's `hopcount_limit` default.
pub const DEFAULT_MAX_RECEIVED: usize = 50;

/// A copy for another server that a recipient's alias or mailbox forward
/// asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardTarget {
    /// Where the copy goes.
    pub address: Address,
    /// The forwarding mailbox: its sending limits count the copy and its
    /// hold holds it. `None` for an alias's target.
    pub account: Option<AccountId>,
    /// The mailbox that keeps no copy of its own: when the forward is not
    /// sent (the message failed DMARC at our door, the account is over its
    /// sending limits), the message is stored there instead.
    pub fallback: Option<AccountId>,
}

/// What one recipient's mail goes to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Destinations {
    /// Mailboxes that store a copy, each once.
    pub mailboxes: Vec<Mailbox>,
    /// Copies for other servers.
    pub forwards: Vec<ForwardTarget>,
}

impl Destinations {
    /// Nothing at all: an alias without a working target.
    pub fn is_empty(&self) -> bool {
        self.mailboxes.is_empty() && self.forwards.is_empty()
    }
}

/// The destinations of a recipient that resolved to `mailboxes` and the
/// alias targets `remote` on other servers: the mailboxes' forwards
/// applied.
pub async fn destinations(
    office: &PostOffice,
    mailboxes: Vec<Mailbox>,
    remote: Vec<Address>,
) -> Result<Destinations, StoreError> {
    let store = &*office.store;
    let mut out = Destinations {
        mailboxes: Vec::new(),
        forwards: remote
            .into_iter()
            .map(|address| ForwardTarget {
                address,
                account: None,
                fallback: None,
            })
            .collect(),
    };
    let add = |out: &mut Destinations, m: Mailbox| {
        if !out.mailboxes.iter().any(|x| x.id == m.id) {
            out.mailboxes.push(m);
        }
    };
    for m in mailboxes {
        let Some(forward) = store.account_forward(m.id).await? else {
            add(&mut out, m);
            continue;
        };
        if forward.keep || forward.targets.is_empty() {
            add(&mut out, m);
        }
        for target in forward.targets {
            match office
                .settings
                .addressing
                .resolve_recipient(store, &target)
                .await?
            {
                Resolution::NotHosted => out.forwards.push(ForwardTarget {
                    address: target,
                    account: Some(m.id),
                    fallback: (!forward.keep).then_some(m.id),
                }),
                Resolution::Local { mailboxes, remote } => {
                    for local in mailboxes {
                        add(&mut out, local);
                    }
                    // A local alias's remote targets, forwarded for it.
                    out.forwards
                        .extend(remote.into_iter().map(|address| ForwardTarget {
                            address,
                            account: Some(m.id),
                            fallback: None,
                        }));
                }
                Resolution::Unknown => {
                    tracing::warn!(target = %target, mailbox = %m.id.get(), "forward target does not exist");
                    if !forward.keep {
                        add(&mut out, m);
                    }
                }
            }
        }
    }
    // Each target once, the first mention winning.
    let mut seen = std::collections::HashSet::new();
    out.forwards.retain(|f| seen.insert(f.address.canonical()));
    Ok(out)
}

/// The `Delivered-To:` lines a copy starts with: one per address it was
/// delivered for (as the client addressed it, sub-address tag and all).
pub fn delivered_to(addresses: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for a in addresses {
        mime::push_field(&mut out, "Delivered-To", a);
    }
    out
}

/// Why a message is refused as a loop, if it is one: it already carries a
/// `Delivered-To:` for one of `addressed` (our recipients as addressed —
/// it went through us for them before), or more than `max_received`
/// `Received:` fields.
pub fn loop_refusal(header: &[u8], addressed: &[String], max_received: usize) -> Option<Reply> {
    let fields = mime::header_fields(header);
    let received = fields
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Received"))
        .count();
    if received > max_received {
        return Some(Reply::new(
            554,
            "5.4.6",
            format!("Too many hops ({received} Received: fields): mail loop?"),
        ));
    }
    let looped = fields
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Delivered-To"))
        .map(|(_, v)| v.trim().trim_matches(['<', '>']))
        .find(|v| addressed.iter().any(|a| same_address(a, v)))?;
    Some(Reply::new(
        554,
        "5.4.6",
        format!("Mail forwarding loop for {looped}"),
    ))
}

/// Two spellings of one address: the domain compared as a domain, the
/// local part without regard to case (ours are case-insensitive).
fn same_address(a: &str, b: &str) -> bool {
    match (Address::parse(a), Address::parse(b)) {
        (Ok(a), Ok(b)) => a.canonical() == b.canonical(),
        _ => a.eq_ignore_ascii_case(b),
    }
}

/// The envelope sender of a copy we forward: `<>` stays `<>`; our own
/// users' addresses (a hosted domain) stay as they are, their mail passes
/// SPF as ours anyway; anyone else's becomes its SRS address in our SRS
/// domain ([`PostOffice::srs_forward`]), so SPF and DMARC hold at the next
/// server and a bounce comes back through us (`inbound/srs_return.rs`).
/// With SRS off (`[srs] enabled = false`) it stays as it is.
pub async fn forward_sender(office: &PostOffice, sender: &str) -> Result<String, StoreError> {
    if sender.is_empty() {
        return Ok(String::new());
    }
    let Ok(address) = Address::parse(sender) else {
        return Ok(sender.to_string());
    };
    if office.store.is_hosted(address.domain()).await? {
        return Ok(sender.to_string());
    }
    Ok(office.srs_forward(&address).map_or_else(
        || sender.to_string(),
        |a| format!("{}@{}", a.local(), a.domain().ascii()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn delivered_to_lines_per_address() {
        assert_eq!(
            delivered_to(&s(&["anna+shop@example.test", "team@example.test"])),
            b"Delivered-To: anna+shop@example.test\r\nDelivered-To: team@example.test\r\n"
        );
        assert!(delivered_to(&[]).is_empty());
    }

    #[test]
    fn loops_by_delivered_to_and_hop_count() {
        let header = b"Received: from a\r\nDelivered-To: Anna@Example.TEST\r\nSubject: x\r\n\r\n";
        let r = loop_refusal(header, &s(&["anna@example.test"]), 50).expect("loop");
        assert_eq!((r.code, r.enhanced.as_deref()), (554, Some("5.4.6")));
        assert!(loop_refusal(header, &s(&["ben@example.test"]), 50).is_none());
        // The tag is part of the address as addressed.
        assert!(loop_refusal(header, &s(&["anna+x@example.test"]), 50).is_none());
        let mut many = Vec::new();
        for _ in 0..3 {
            many.extend_from_slice(b"Received: from x\r\n");
        }
        many.extend_from_slice(b"\r\n");
        assert!(loop_refusal(&many, &[], 3).is_none());
        assert!(loop_refusal(&many, &[], 2).is_some());
    }
}
