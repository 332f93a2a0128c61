//! Administering the post office: hosted domains, mailboxes, aliases, and
//! their quotas, retention, vacation replies and forwarding, as every front end (the CLI, the admin API,
//! web pages) performs them.
//!
//! Each function takes parsed, typed inputs, applies the rules once, and
//! answers with typed results or an [`AdminError`]. The front ends only
//! turn text into those inputs (with the parsers here: [`parse_domain`],
//! [`parse_address`], [`parse_quota`], [`parse_keep`]) and render what
//! comes back.

pub mod accounts;
pub mod aliases;
pub mod domain_admins;
pub mod domains;
pub mod forwarding;
pub mod holds;
pub mod limits;
pub mod pages;
pub mod retention;
pub mod sizes;
pub mod vacation;

pub use retention::{InvalidPeriod, RetentionChange, parse_keep};
pub use sizes::{parse_quota, parse_size};

use praisani_mailaddr::{Address, Domain};
use praisani_store::StoreError;

/// Why an administrative operation was refused or failed. The texts are
/// what administrators read (the CLI prints them as they are; some name
/// the CLI's options).
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Not a domain name.
    #[error("{0:?} is not a valid domain name")]
    InvalidDomain(String),
    /// Not a mail address.
    #[error("{0:?} is not a valid mail address")]
    InvalidAddress(String),
    /// Not a quota size.
    #[error("invalid size {0:?} (examples: 500M, 2G, unlimited)")]
    InvalidQuota(String),
    /// A domain setting was asked of a domain that is not hosted.
    #[error("domain {0} is not hosted")]
    UnknownDomain(Domain),
    /// An operation that needs a hosted domain (DKIM keys, DNS records)
    /// was asked for one that is not.
    #[error("{} is not a hosted domain (add it first: praisani domain add {})", .0.unicode(), .0.unicode())]
    NotHosted(Domain),
    /// A message-count limit the store cannot hold.
    #[error("--messages is too large")]
    MessageLimitTooLarge(u64),
    /// A retention change that changes nothing.
    #[error("give --after-retrieval and/or --max-age")]
    NoRetentionChange,
    /// A password with control characters (which no login could type).
    #[error("the password contains control characters")]
    PasswordControlCharacters,
    /// Deriving a password's secrets failed.
    #[error("hashing: {0}")]
    Hashing(#[from] crate::passwords::HashError),
    /// A mailbox named like a catch-all (`*@domain`).
    #[error("{0} is reserved for the domain's catch-all (praisani domain catchall)")]
    ReservedAddress(Address),
    /// An alias among its own targets.
    #[error("an alias cannot point at itself")]
    AliasToItself(Address),
    /// A domain administrator's token for no domain.
    #[error("a domain administrator's token needs at least one --domain")]
    TokenWithoutDomains,
    /// A language tag no notice is written in.
    #[error("unknown language {0:?} (en, th, zh)")]
    InvalidLanguage(String),
    /// A catch-all without a target.
    #[error("give at least one target address")]
    NoTargets,
    /// A hold reason that cannot be shown to a mail program as it is.
    #[error(
        "the hold reason must be one line of at most {} characters",
        holds::MAX_REASON
    )]
    BadHoldReason,
    /// A token the caller may not make, see or revoke (outside its
    /// domains, a server administrator's, or any for a user).
    #[error("this token may not make, see or revoke that token")]
    TokenOutOfReach,
    /// A token name with control characters.
    #[error("the token name contains control characters")]
    TokenNameControlCharacters,
    /// Vacation settings that cannot be.
    #[error(transparent)]
    Vacation(#[from] vacation::VacationError),
    /// Forwarding settings that cannot be.
    #[error(transparent)]
    Forward(#[from] forwarding::ForwardError),
    /// The store refused or failed (its text, and its cause when the store
    /// is unavailable).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AdminError {
    /// True for failures worth retrying later (the store is unavailable),
    /// as opposed to refused requests.
    pub fn is_temporary(&self) -> bool {
        matches!(self, AdminError::Store(e) if e.is_temporary())
    }
}

/// A domain name as an administrator types it (Unicode or A-label).
pub fn parse_domain(s: &str) -> Result<Domain, AdminError> {
    Domain::parse(s).map_err(|_| AdminError::InvalidDomain(s.to_string()))
}

/// The language of notices as an administrator names it (`en`, `th`,
/// `zh`).
pub fn parse_lang(s: &str) -> Result<praisani_message::Language, AdminError> {
    praisani_message::Language::from_tag(s)
        .ok_or_else(|| AdminError::InvalidLanguage(s.to_string()))
}

/// A mail address as an administrator types it.
pub fn parse_address(s: &str) -> Result<Address, AdminError> {
    Address::parse(s).map_err(|_| AdminError::InvalidAddress(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_the_ones_administrators_know() {
        let d = Domain::parse("example.test").unwrap();
        let idn = Domain::parse("ตัวอย่าง.ไทย").unwrap();
        let a = Address::parse("a@example.test").unwrap();
        let cases: Vec<(AdminError, &str)> = vec![
            (
                parse_domain("bad..name").unwrap_err(),
                "\"bad..name\" is not a valid domain name",
            ),
            (
                parse_address("nobody").unwrap_err(),
                "\"nobody\" is not a valid mail address",
            ),
            (
                parse_quota("lots").unwrap_err(),
                "invalid size \"lots\" (examples: 500M, 2G, unlimited)",
            ),
            (
                AdminError::UnknownDomain(d.clone()),
                "domain example.test is not hosted",
            ),
            (
                AdminError::NotHosted(idn),
                "ตัวอย่าง.ไทย is not a hosted domain (add it first: praisani domain add ตัวอย่าง.ไทย)",
            ),
            (
                AdminError::MessageLimitTooLarge(u64::MAX),
                "--messages is too large",
            ),
            (
                AdminError::NoRetentionChange,
                "give --after-retrieval and/or --max-age",
            ),
            (
                AdminError::PasswordControlCharacters,
                "the password contains control characters",
            ),
            (
                parse_lang("de").unwrap_err(),
                "unknown language \"de\" (en, th, zh)",
            ),
            (
                AdminError::BadHoldReason,
                "the hold reason must be one line of at most 200 characters",
            ),
            (
                AdminError::AliasToItself(a.clone()),
                "an alias cannot point at itself",
            ),
            (
                StoreError::NotFound(praisani_store::Subject::Account(a)).into(),
                "account a@example.test does not exist",
            ),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text);
        }
    }
}
