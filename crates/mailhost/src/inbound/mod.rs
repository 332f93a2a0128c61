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
//!   quotas, the partial-delivery bounce and quota warnings.
//!
//! The coming trust checks (SPF, DKIM, DMARC, ARC, DNSBL, spam filtering)
//! belong here too: at MAIL/RCPT in [`rcpt`], after the header in
//! [`message`].

pub mod message;
pub mod rcpt;
pub mod sender;

use crate::office::PostOffice;
use praisani_smtp::{ForwardPath, Reply, Verdict};
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
    /// The account that authenticated with AUTH.
    account: Option<Account>,
    /// Messages received on this connection so far.
    messages: u64,
    /// Mailboxes behind each accepted recipient, by the recipient's text.
    rcpts: HashMap<String, Vec<AccountId>>,
    /// Remote recipients accepted for relay, by the recipient's text.
    remote: HashMap<String, OutboundRcpt>,
    /// The SIZE= the client declared for the current transaction.
    declared_size: Option<u64>,
    /// The message being received.
    incoming: Option<message::Incoming>,
}

impl Inbound {
    /// The state of a new connection from `peer`.
    pub fn new(office: Arc<PostOffice>, peer: IpAddr, trusted: bool, session_id: String) -> Self {
        Inbound {
            office,
            peer,
            session_id,
            trusted,
            account: None,
            messages: 0,
            rcpts: HashMap::new(),
            remote: HashMap::new(),
            declared_size: None,
            incoming: None,
        }
    }

    /// The client logged in as `account` (SMTP AUTH).
    pub fn authenticated(&mut self, account: Account) {
        self.account = Some(account);
    }

    /// The account the client logged in as, if any.
    pub fn account(&self) -> Option<&Account> {
        self.account.as_ref()
    }
}

/// The key a recipient is remembered by within a transaction: the
/// address as the client gave it.
fn forward_key(to: &ForwardPath) -> String {
    match to {
        ForwardPath::Postmaster => "<postmaster>".into(),
        ForwardPath::Mailbox { mailbox, .. } => mailbox.to_string(),
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
