//! Plain data types exchanged with a [`crate::Store`].

use praisani_mailaddr::{Address, Domain};

/// Identifies an account within a store.
pub type AccountId = i64;
/// Identifies a message within a store; ascending in arrival order.
pub type MessageId = i64;

/// A hosted domain with counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainInfo {
    /// The domain.
    pub domain: Domain,
    /// Number of accounts.
    pub accounts: u64,
    /// Number of aliases.
    pub aliases: u64,
}

/// New login secrets for an account, all derived from one password.
#[derive(Clone, Debug)]
pub struct Secrets {
    /// PHC string of the argon2id hash.
    pub password_hash: String,
    /// The APOP secret, for accounts that opted in.
    pub apop_secret: Option<String>,
    /// SCRAM-SHA-256 credentials in RFC 5803 form.
    pub scram: Option<String>,
}

/// What is needed to create an account.
#[derive(Clone, Debug)]
pub struct NewAccount {
    /// The mailbox address.
    pub address: Address,
    /// PHC string of the argon2id hash.
    pub password_hash: String,
    /// The shared secret APOP needs, only for accounts that opted in.
    pub apop_secret: Option<String>,
    /// SCRAM-SHA-256 credentials in RFC 5803 form.
    pub scram: Option<String>,
    /// Storage quota in octets, `None` for unlimited.
    pub quota_bytes: Option<u64>,
}

/// A stored account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// Store id.
    pub id: AccountId,
    /// The mailbox address.
    pub address: Address,
    /// PHC string of the argon2id hash.
    pub password_hash: String,
    /// The APOP secret, if APOP is enabled for the account.
    pub apop_secret: Option<String>,
    /// SCRAM-SHA-256 credentials in RFC 5803 form, if derived.
    pub scram: Option<String>,
    /// Storage quota in octets, `None` for unlimited.
    pub quota_bytes: Option<u64>,
    /// Octets used by stored messages.
    pub used_bytes: u64,
    /// Number of stored messages.
    pub used_messages: u64,
}

/// An alias and the addresses it expands to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alias {
    /// The alias address.
    pub address: Address,
    /// Where its mail goes.
    pub targets: Vec<Address>,
}

/// What an address means to this server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// A mailbox.
    Account {
        /// Its id.
        id: AccountId,
        /// Its quota, for the RCPT-time check.
        quota_bytes: Option<u64>,
        /// Its usage.
        used_bytes: u64,
    },
    /// An alias with its targets (which may themselves be aliases).
    Alias(Vec<Address>),
    /// The domain is hosted but has no such mailbox.
    UnknownLocal,
    /// The domain is not hosted here.
    NotHosted,
}

/// A message in a mailbox, as listed for POP3.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageMeta {
    /// Store id, ascending by arrival.
    pub id: MessageId,
    /// The POP3 unique id: 1–70 characters in 0x21–0x7E, never reused in
    /// the mailbox, kept across restarts and migrations.
    pub uidl: String,
    /// Exact size in octets, CRLF line ends.
    pub size: u64,
    /// Arrival time, seconds since the Unix epoch.
    pub received: i64,
}

/// Holds a maildrop lock until dropped.
pub struct MaildropLock {
    _guard: Box<dyn Send + Sync>,
}

impl MaildropLock {
    /// Wraps a backend's guard; dropping the lock drops the guard.
    pub fn new(guard: Box<dyn Send + Sync>) -> Self {
        MaildropLock { _guard: guard }
    }
}

impl std::fmt::Debug for MaildropLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MaildropLock")
    }
}
