//! Messages brought from another server (`praisani import`): what the
//! store is given ([`ImportMessage`]), what it answers ([`ImportOutcome`]),
//! and the rules an imported UIDL must keep — decided here once for both
//! backends.

use crate::{Conflict, MessageId, Spool, StoreError};

/// A message brought from another server, with the POP3 UIDL clients knew
/// it by there (so a leave-on-server client downloads nothing twice).
#[derive(Debug)]
pub struct ImportMessage {
    /// The message, CRLF line ends, with its downgraded header attached
    /// when the header has UTF-8 ([`Spool::set_downgrade`]).
    pub body: Spool,
    /// The old server's UIDL; `None`: none is known and the message gets
    /// one of praisani's own (then a re-run cannot tell it was imported).
    pub uidl: Option<String>,
    /// Arrival time at the old server, Unix seconds.
    pub received: i64,
    /// When a client first retrieved (or marked read) it, if it did:
    /// what retention after retrieval counts from and what an export
    /// marks as seen.
    pub retrieved: Option<i64>,
}

/// What became of one imported message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportOutcome {
    /// Stored as this message.
    Imported(MessageId),
    /// The mailbox already has a message with its UIDL (an earlier run,
    /// or the same UIDL twice in one batch): skipped.
    AlreadyThere(MessageId),
}

impl ImportOutcome {
    /// The message, imported or found.
    pub fn message(self) -> MessageId {
        match self {
            ImportOutcome::Imported(id) | ImportOutcome::AlreadyThere(id) => id,
        }
    }

    /// The same message, as a later import of it finds it.
    pub fn already(self) -> ImportOutcome {
        ImportOutcome::AlreadyThere(self.message())
    }
}

/// The longest UIDL RFC 1939 allows.
pub const MAX_UIDL: usize = 70;

/// Checks an imported UIDL against RFC 1939: 1–70 characters in
/// 0x21–0x7E.
pub fn check_uidl(uidl: &str) -> Result<(), StoreError> {
    let reason = if uidl.is_empty() {
        "it is empty"
    } else if uidl.len() > MAX_UIDL {
        "it is longer than 70 characters"
    } else if !uidl.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        "it has characters outside 0x21-0x7E"
    } else {
        return Ok(());
    };
    Err(StoreError::Conflict(Conflict::BadUidl {
        uidl: uidl.escape_debug().to_string(),
        reason,
    }))
}

/// The largest message id a UIDL of praisani's own form may name before
/// the import is refused instead of moving the id sequence past it (a
/// sequence pushed near its end would run out).
pub(crate) const MAX_RESERVED_ID: i64 = 1 << 48;

/// The message id `uidl` names when it has the form of the UIDLs this
/// store makes itself ([`crate::types::new_uidl`]: the prefix, then the
/// id in decimal without leading zeros): such an imported UIDL would be
/// handed out again to the message that gets that id, so the store must
/// never give that id out (or, when it already did, the UIDL is that
/// message's).
pub(crate) fn own_form_id(prefix: &str, uidl: &str) -> Option<i64> {
    let digits = uidl.strip_prefix(prefix)?;
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Longer than an i64: no id will ever be that large.
    digits.parse::<i64>().ok()
}

/// Refuses an own-form UIDL naming an id too large to reserve.
pub(crate) fn check_reservable(uidl: &str, id: i64) -> Result<(), StoreError> {
    if id > MAX_RESERVED_ID {
        return Err(StoreError::Conflict(Conflict::BadUidl {
            uidl: uidl.to_string(),
            reason: "it has the form of this server's own UIDLs and names an id it cannot reserve",
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uidl_rules() {
        assert!(check_uidl("0000000154abcdef").is_ok());
        assert!(check_uidl("").is_err());
        assert!(check_uidl(&"a".repeat(71)).is_err());
        assert!(check_uidl(&"a".repeat(70)).is_ok());
        assert!(check_uidl("a b").is_err());
        assert!(check_uidl("a\u{e9}").is_err());
    }

    #[test]
    fn own_form() {
        assert_eq!(own_form_id("1a2b3c4d", "1a2b3c4d17"), Some(17));
        assert_eq!(own_form_id("1a2b3c4d", "1a2b3c4d017"), None);
        assert_eq!(own_form_id("1a2b3c4d", "1a2b3c4d"), None);
        assert_eq!(own_form_id("1a2b3c4d", "1a2b3c4d.17"), None);
        assert_eq!(own_form_id("1a2b3c4d", "ffff3c4d17"), None);
        assert_eq!(
            own_form_id("1a2b3c4d", "1a2b3c4d99999999999999999999999"),
            None
        );
    }
}
