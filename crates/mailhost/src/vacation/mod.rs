//! Vacation auto-replies (RFC 3834): after a message is committed for a
//! mailbox whose vacation is on, one reply per sender per interval —
//! never to the null sender, to mailing lists, to automatic mail, to
//! robots' addresses (as Sieve vacation implementations skip them), nor
//! to mail that did not name the mailbox in To: or Cc: (a Bcc, a list
//! expansion). The reply has the null envelope sender, so nothing can
//! answer it back into a loop (RFC 3834 section 3.3), and goes like the
//! server's other messages through [`crate::reports`]: into the sender's
//! mailbox when it is ours, else out through the queue (DKIM-signed there
//! for the mailbox's domain).

mod reply;

pub use reply::{ReplyInput, build_reply};

use crate::Resolution;
use crate::office::PostOffice;
use praisani_mailaddr::Address;
use praisani_message::{dsn, mime};
use praisani_store::{AccountId, StoreError, Vacation};
use std::collections::HashSet;
use std::sync::Arc;

/// The most UTF-8 octets a reply's text may have unless configured
/// (`limits.max_vacation_text`).
pub const DEFAULT_MAX_TEXT: usize = 64 * 1024;
/// The most characters a configured subject may have.
pub const MAX_SUBJECT: usize = 250;
/// Replies per sender: at most one in this many days, unless set.
pub const DEFAULT_INTERVAL_DAYS: u32 = 7;
/// The longest interval that may be set.
pub const MAX_INTERVAL_DAYS: u32 = 365;
/// To:/Cc: addresses looked up to see whether the mailbox was named: a
/// message naming more is not personal mail.
const MAX_NAMED: usize = 50;

/// Why a message gets no vacation reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// The envelope sender is `<>` (a bounce, a notice).
    NullSender,
    /// The sender is a robot's address (MAILER-DAEMON, owner-…, …-request,
    /// noreply…) or the mailbox itself.
    RobotSender,
    /// `Auto-Submitted:` other than `no`, or a delivery or disposition
    /// report.
    Automatic,
    /// A `List-*` field or `Precedence: bulk`, `list` or `junk`.
    List,
    /// The mailbox is not named in To: or Cc:.
    NotNamed,
    /// Outside the vacation's dates.
    OutsideDates,
    /// This sender was answered within the interval.
    AlreadyAnswered,
}

/// Local parts of senders that are robots or lists, compared without case:
/// exact names, then prefixes and suffixes (Pigeonhole's and Postfix's
/// lists, and the common no-reply spellings).
const ROBOT_NAMES: &[&str] = &[
    "mailer-daemon",
    "postmaster",
    "listserv",
    "majordomo",
    "mailman",
    "noreply",
    "no-reply",
    "no_reply",
    "donotreply",
    "do-not-reply",
    "do_not_reply",
    "bounce",
    "bounces",
];
const ROBOT_PREFIXES: &[&str] = &["owner-", "noreply", "no-reply", "bounce-", "bounces-"];
const ROBOT_SUFFIXES: &[&str] = &["-request", "-owner", "-bounces", "-noreply"];

/// The local part of `address` is a robot's or a list's.
pub fn is_robot(local: &str) -> bool {
    let l = local.to_lowercase();
    ROBOT_NAMES.contains(&l.as_str())
        || ROBOT_PREFIXES.iter().any(|p| l.starts_with(p))
        || ROBOT_SUFFIXES.iter().any(|s| l.ends_with(s))
}

/// What the header alone says against a reply: automatic mail (RFC 3834
/// section 2), list mail (RFC 2369, RFC 2919, `Precedence:`), or a From:
/// that is a robot's.
pub fn header_skip(header: &[u8]) -> Option<Skip> {
    if dsn::is_automatic(header) {
        return Some(Skip::Automatic);
    }
    for (name, value) in mime::header_fields(header) {
        let name = name.to_ascii_lowercase();
        if name.starts_with("list-") {
            return Some(Skip::List);
        }
        if name == "precedence" {
            let v = value.trim().to_ascii_lowercase();
            if ["bulk", "list", "junk"].contains(&v.as_str()) {
                return Some(Skip::List);
            }
        }
    }
    let from = crate::submission::header_facts(header).from;
    if from
        .iter()
        .any(|f| f.rsplit_once('@').is_some_and(|(local, _)| is_robot(local)))
    {
        return Some(Skip::RobotSender);
    }
    None
}

/// The vacation is on at `now` (Unix seconds): after its start, before its
/// end.
pub fn in_dates(v: &Vacation, now: i64) -> bool {
    v.starts.is_none_or(|s| now >= s) && v.ends.is_none_or(|e| now < e)
}

/// The addresses in every To: and Cc: field, as written.
fn named_addresses(header: &[u8]) -> Vec<String> {
    use mail_parser::{HeaderName, MessageParser};
    let Some(msg) = MessageParser::new().parse_headers(header) else {
        return Vec::new();
    };
    [HeaderName::To, HeaderName::Cc]
        .into_iter()
        .flat_map(|name| {
            msg.header_values(name)
                .filter_map(|v| v.as_address())
                .flat_map(|a| a.iter())
                .filter_map(|a| a.address().map(str::to_string))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The mailboxes the To: and Cc: addresses reach: each address's own
/// mailbox, its alias's, its base's for a sub-address — compared in
/// canonical form, so case and IDN spellings do not matter. A catch-all
/// does not count: mail to a made-up address is not the owner's by name.
async fn named_mailboxes(
    office: &PostOffice,
    header: &[u8],
) -> Result<HashSet<AccountId>, StoreError> {
    let mut seen = HashSet::new();
    let mut found = HashSet::new();
    for text in named_addresses(header).into_iter().take(MAX_NAMED) {
        let Ok(address) = Address::parse(&text) else {
            continue;
        };
        if !seen.insert(address.canonical()) {
            continue;
        }
        let resolved = office
            .settings
            .addressing
            .resolve_sender(&*office.store, &address)
            .await?;
        if let Resolution::Local { mailboxes, .. } = resolved {
            found.extend(mailboxes.iter().map(|m| m.id));
        }
    }
    Ok(found)
}

/// A message just committed, as vacation replies need it.
pub struct Committed {
    /// The envelope sender (empty for `<>`).
    pub sender: String,
    /// Its header section as stored.
    pub header: Vec<u8>,
    /// The mailboxes that took it.
    pub mailboxes: Vec<AccountId>,
}

/// Answers a committed message for each of its mailboxes whose vacation
/// is on, in a task of its own: the reply never delays or fails the
/// message it answers; errors are logged.
pub fn after_commit(office: &Arc<PostOffice>, message: Committed) {
    if message.mailboxes.is_empty() {
        return;
    }
    let office = office.clone();
    tokio::spawn(async move {
        for account in message.mailboxes.iter().copied() {
            match answer(&office, account, &message).await {
                Ok(Ok(())) => tracing::info!(%account, to = %message.sender, "vacation reply sent"),
                Ok(Err(None)) => {}
                Ok(Err(Some(skip))) => {
                    tracing::info!(%account, to = %message.sender, ?skip, "no vacation reply")
                }
                Err(e) => tracing::error!(%account, "vacation reply failed: {e}"),
            }
        }
    });
}

/// The reply of `account` to `message`, sent when due: `Ok(Ok(()))` sent,
/// `Ok(Err(None))` no vacation, `Ok(Err(Some(why)))` not due.
async fn answer(
    office: &Arc<PostOffice>,
    account: AccountId,
    message: &Committed,
) -> Result<Result<(), Option<Skip>>, crate::reports::ReportError> {
    let store = &*office.store;
    let Some(vacation) = store.account_vacation(account).await? else {
        return Ok(Err(None));
    };
    let now = chrono::Utc::now();
    if !in_dates(&vacation, now.timestamp()) {
        return Ok(Err(Some(Skip::OutsideDates)));
    }
    if message.sender.is_empty() {
        return Ok(Err(Some(Skip::NullSender)));
    }
    let Ok(sender) = Address::parse(&message.sender) else {
        return Ok(Err(Some(Skip::RobotSender)));
    };
    if is_robot(sender.local()) {
        return Ok(Err(Some(Skip::RobotSender)));
    }
    if let Some(skip) = header_skip(&message.header) {
        return Ok(Err(Some(skip)));
    }
    let Some(mailbox) = store.account_by_id(account).await? else {
        return Ok(Err(None));
    };
    // The user's own mail to themselves (any of their addresses).
    let own = match office
        .settings
        .addressing
        .resolve_sender(store, &sender)
        .await?
    {
        Resolution::Local { mailboxes, .. } => mailboxes.iter().any(|m| m.id == account),
        _ => false,
    };
    if own {
        return Ok(Err(Some(Skip::RobotSender)));
    }
    if !named_mailboxes(office, &message.header)
        .await?
        .contains(&account)
    {
        return Ok(Err(Some(Skip::NotNamed)));
    }
    // Last, as it records the reply: the decisions above cost nothing.
    let interval = i64::from(vacation.interval_days.max(1)) * 86_400;
    if !store
        .vacation_reply_due(account, &sender.canonical(), now.timestamp(), interval)
        .await?
    {
        return Ok(Err(Some(Skip::AlreadyAnswered)));
    }
    let from = mailbox.address.to_string();
    let to = sender.to_string();
    let hostname = &office.settings.hostname;
    let reply = build_reply(&ReplyInput {
        from: &from,
        to: &to,
        vacation: &vacation,
        original: &message.header,
        date: now.fixed_offset(),
        message_id: &format!(
            "vacation.{}.{:x}@{hostname}",
            now.timestamp_micros(),
            rand::random::<u32>()
        ),
    });
    let smtputf8 = !from.is_ascii() || !to.is_ascii();
    let usage = crate::reports::deliver_quota_checked(office, &to, smtputf8, &reply).await?;
    crate::quota::warn_if_due(office, usage);
    Ok(Ok(()))
}

#[cfg(test)]
mod tests;
