//! Storage for praisani: the [`Store`] trait and its backends.
//!
//! Everything the server keeps lives behind [`Store`]: domains, accounts,
//! aliases, and the messages in each mailbox. The promise of every write is
//! durability: when a write method returns `Ok`, the data is on stable
//! storage. Backends batch concurrent writes into one commit (group commit)
//! rather than weaken that promise.
//!
//! No SQL, file path or backend type is visible outside this crate.

mod body;
pub mod conformance;
pub mod embedded;
mod error;
mod spool;
mod types;

pub use body::{BodySource, BodyStream};
pub use embedded::EmbeddedStore;
pub use error::StoreError;
pub use spool::Spool;
pub use types::*;

use async_trait::async_trait;
use praisani_mailaddr::{Address, Domain};

/// The storage interface shared by every backend.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    // ---- domains ----
    /// Adds a hosted domain. `Duplicate` if it exists.
    async fn domain_add(&self, domain: &Domain) -> Result<(), StoreError>;
    /// Removes a domain. With mailboxes or aliases left and `force` unset:
    /// `Conflict`. With `force`, its accounts, aliases and messages go too.
    async fn domain_remove(&self, domain: &Domain, force: bool) -> Result<(), StoreError>;
    /// All hosted domains, sorted by name.
    async fn domain_list(&self) -> Result<Vec<DomainInfo>, StoreError>;

    // ---- accounts ----
    /// Creates a mailbox. `NotFound` if the domain is not hosted, `Duplicate`
    /// if the address is taken by an account or an alias.
    async fn account_add(&self, account: NewAccount) -> Result<AccountId, StoreError>;
    /// Removes a mailbox and its messages.
    async fn account_remove(&self, address: &Address) -> Result<(), StoreError>;
    /// Looks an account up by address.
    async fn account_get(&self, address: &Address) -> Result<Option<Account>, StoreError>;
    /// Accounts, optionally of one domain, sorted by address.
    async fn account_list(&self, domain: Option<&Domain>) -> Result<Vec<Account>, StoreError>;
    /// Replaces every secret derived from the password.
    async fn account_set_password(
        &self,
        address: &Address,
        secrets: &Secrets,
    ) -> Result<(), StoreError>;
    /// Sets (or clears with `None`) the storage quota in octets.
    async fn account_set_quota(
        &self,
        address: &Address,
        quota_bytes: Option<u64>,
    ) -> Result<(), StoreError>;

    // ---- aliases ----
    /// Adds an alias with its targets. The alias's domain must be hosted and
    /// its address must not be an account.
    async fn alias_add(&self, alias: &Address, targets: &[Address]) -> Result<(), StoreError>;
    /// Removes an alias.
    async fn alias_remove(&self, alias: &Address) -> Result<(), StoreError>;
    /// Aliases, optionally of one domain, sorted.
    async fn alias_list(&self, domain: Option<&Domain>) -> Result<Vec<Alias>, StoreError>;

    // ---- delivery ----
    /// What an address is to us: a mailbox, an alias, an unknown local part
    /// of a hosted domain, or not ours at all.
    async fn lookup(&self, address: &Address) -> Result<Lookup, StoreError>;
    /// True when the domain is hosted.
    async fn is_hosted(&self, domain: &Domain) -> Result<bool, StoreError>;
    /// A new spool for a message body being received.
    fn new_spool(&self) -> Spool;
    /// Stores one copy of the body and a message referring to it in each
    /// mailbox, durably, then returns the new message ids in the order of
    /// `recipients`.
    async fn deliver(
        &self,
        body: Spool,
        recipients: &[AccountId],
    ) -> Result<Vec<MessageId>, StoreError>;

    /// Stores one copy of the body, a message for each local mailbox and,
    /// when there are remote recipients, an outbound queue entry — all in
    /// one durable commit, so an acknowledged message is never half-stored.
    async fn accept(
        &self,
        body: Spool,
        local: &[AccountId],
        outbound: Option<Outbound>,
    ) -> Result<Accepted, StoreError>;

    // ---- outbound queue ----
    /// Takes up to `limit` recipients whose next attempt is due at `now`,
    /// grouped by queued message, and leases them for `lease_secs` so no
    /// other worker takes them meanwhile. A lease that lapses (the worker
    /// died) makes them due again.
    async fn queue_take_due(
        &self,
        now: i64,
        lease_secs: i64,
        limit: usize,
    ) -> Result<Vec<QueueEntry>, StoreError>;
    /// Records the results of an attempt, durably. A queue entry whose
    /// recipients are all final stays listed until `queue_delete`.
    async fn queue_record(
        &self,
        results: &[(QueueRcptId, AttemptResult)],
    ) -> Result<(), StoreError>;
    /// Every queued message, oldest first.
    async fn queue_list(&self) -> Result<Vec<QueueEntry>, StoreError>;
    /// One queued message.
    async fn queue_get(&self, id: QueueId) -> Result<Option<QueueEntry>, StoreError>;
    /// Makes a queued message's pending recipients due now (all with `None`);
    /// returns how many recipients were rescheduled.
    async fn queue_retry_now(&self, id: Option<QueueId>, now: i64) -> Result<u64, StoreError>;
    /// Records that a delay notice went out for these recipients.
    async fn queue_mark_delay_notified(&self, ids: &[QueueRcptId]) -> Result<(), StoreError>;
    /// Releases every lease, for a single node starting up: whatever the
    /// previous run had taken is due again at its scheduled time.
    async fn queue_release_leases(&self) -> Result<u64, StoreError>;
    /// Removes a queued message and its body reference.
    async fn queue_delete(&self, id: QueueId) -> Result<(), StoreError>;
    /// Streams a queued message's content.
    async fn open_queued(&self, id: QueueId) -> Result<BodyStream, StoreError>;

    // ---- maildrop ----
    /// Takes the exclusive maildrop lock of an account; `None` if another
    /// session holds it. The lock is released when the returned value drops,
    /// and cannot outlive the process that took it.
    async fn lock_maildrop(&self, account: AccountId) -> Result<Option<MaildropLock>, StoreError>;
    /// The messages of a mailbox in arrival order.
    async fn list_messages(&self, account: AccountId) -> Result<Vec<MessageMeta>, StoreError>;
    /// Streams a message's content.
    async fn open_message(
        &self,
        account: AccountId,
        message: MessageId,
    ) -> Result<BodyStream, StoreError>;
    /// The RFC 6857 downgraded header stored with a message whose header
    /// has UTF-8 (see [`Spool::set_downgrade`]); `None` when it is ASCII.
    async fn message_downgrade(
        &self,
        account: AccountId,
        message: MessageId,
    ) -> Result<Option<HeaderDowngrade>, StoreError>;
    /// Deletes messages of one mailbox durably (all or nothing).
    async fn delete_messages(
        &self,
        account: AccountId,
        messages: &[MessageId],
    ) -> Result<(), StoreError>;
}
