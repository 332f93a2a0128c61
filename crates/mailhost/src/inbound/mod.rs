//! Mail arriving over SMTP, one connection at a time: the post office's
//! side of the SMTP dialogue. The driver in the binary feeds [`Inbound`]
//! the engine's questions ("may this sender send", "is this a recipient of
//! ours", "here are the message's bytes", "commit it") and writes back the
//! verdicts; every decision is made here.
//!
//! - [`sender`]: who an authenticated user may send as (envelope and
//!   `From:`, RFC 6409 section 6.1);
//! - [`rcpt`]: recipients — our mailboxes and aliases, postmaster (RFC 5321
//!   section 4.5.1), the relay decision, the quota at RCPT time;
//! - [`message`]: the message being received — trace headers, the
//!   submission fixes (RFC 6409 section 8), the spool, and the commit with
//!   quotas, the partial-delivery bounce and quota warnings;
//! - [`trust`]: SPF, DKIM, DMARC and ARC on mail from other servers, at the
//!   end of data, with `Authentication-Results` and the policy's answer.
//!
//! - `srs_return`: RCPT to our SRS addresses — bounces to forwarded
//!   mail's senders, reversed and queued (see [`crate::srs`]).
//!
//! - [`filters`]: the DNS lists and greylisting on other servers, at the
//!   connection or at RCPT; the spam filter runs at the end of data with
//!   [`trust`].

pub mod filters;
pub mod message;
pub mod rcpt;
pub mod sender;
mod srs_return;
#[cfg(test)]
mod tests;
pub mod trust;

use crate::office::PostOffice;
use praisani_mailaddr::Domain;
use praisani_smtp::{DomainPart, ForwardPath, Reply, Verdict};
use praisani_store::{Account, AccountId, OutboundRcpt, StoreError};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// The post office's state for one SMTP connection: who the client is,
/// and the transaction in progress.
pub struct Inbound {
    office: Arc<PostOffice>,
    /// The client's address, for the trace header.
    peer: IpAddr,
    /// The connection's id, the prefix of its messages' queue ids.
    session_id: String,
    /// The client is in `trusted_networks`: it may relay without AUTH.
    trusted: bool,
    /// The client is in `dnsbl.allow_clients`: the DNS lists are not asked.
    dnsbl_allowed: bool,
    /// What the DNS lists said about the client, asked once per connection.
    listing: Option<crate::dnsbl::Listing>,
    /// The current transaction's return path (empty for `<>`), for
    /// greylisting.
    return_path: String,
    /// The account that authenticated with AUTH.
    account: Option<Account>,
    /// Messages received on this connection so far.
    messages: u64,
    /// Mailboxes behind each accepted recipient of the transaction, by
    /// [`forward_key`]. Emptied at each MAIL and at the end of data, so it
    /// holds at most the engine's `max_recipients` entries.
    rcpts: HashMap<String, Vec<AccountId>>,
    /// Remote recipients of the transaction accepted for relay, by
    /// [`forward_key`]; emptied with `rcpts`.
    remote: HashMap<String, OutboundRcpt>,
    /// Copies for other servers that our recipients' aliases and mailbox
    /// forwards ask for, by [`forward_key`]; emptied with `rcpts`.
    forwards: HashMap<String, Vec<crate::forwarding::ForwardTarget>>,
    /// The SIZE= the client declared for the current transaction.
    declared_size: Option<u64>,
    /// The message being received (boxed: idle connections stay small).
    incoming: Option<Box<message::Incoming>>,
}

impl Inbound {
    /// The state of a new connection from `peer`.
    pub fn new(office: Arc<PostOffice>, peer: IpAddr, trusted: bool, session_id: String) -> Self {
        Inbound {
            office,
            peer,
            session_id,
            trusted,
            dnsbl_allowed: false,
            listing: None,
            return_path: String::new(),
            account: None,
            messages: 0,
            rcpts: HashMap::new(),
            remote: HashMap::new(),
            forwards: HashMap::new(),
            declared_size: None,
            incoming: None,
        }
    }

    /// The client logged in as `account` (SMTP AUTH).
    pub fn authenticated(&mut self, account: Account) {
        self.account = Some(account);
    }

    /// A new transaction begins (MAIL), or the last one is over: forget
    /// its recipients. The engine drops its own list at RSET, EHLO, HELO
    /// and the end of data; every new transaction passes through MAIL, so
    /// recipients accepted before an RSET cannot pile up here.
    fn forget_recipients(&mut self) {
        self.rcpts.clear();
        self.remote.clear();
        self.forwards.clear();
    }

    /// The account the client logged in as, if any.
    pub fn account(&self) -> Option<&Account> {
        self.account.as_ref()
    }
}

/// The key a recipient is remembered by within a transaction: the address
/// with its domain normalised (lower case, A-labels), so that spellings of
/// one address are one recipient. The local part is kept as given: other
/// servers may tell `Bob` from `bob`, and our own mailboxes are told apart
/// by their ids anyway.
fn forward_key(to: &ForwardPath) -> String {
    match to {
        ForwardPath::Postmaster => "<postmaster>".into(),
        ForwardPath::Mailbox { mailbox, .. } => match &mailbox.domain {
            DomainPart::Name(n) => match Domain::parse(n) {
                Ok(d) => {
                    let mut m = mailbox.clone();
                    m.domain = DomainPart::Name(d.ascii().to_string());
                    m.to_string()
                }
                Err(_) => mailbox.to_string().to_lowercase(),
            },
            DomainPart::Literal(_) => mailbox.to_string(),
        },
    }
}

/// A store failure during the dialogue: the client tries again later.
fn temp_fail(e: &StoreError) -> Verdict {
    tracing::error!("store error: {e}");
    Verdict::Reject(Reply::new(
        451,
        "4.3.0",
        "Temporary lookup failure, try again later",
    ))
}
