//! Storage for praisani: the [`Store`] trait and its backends: embedded
//! (SQLite, [`EmbeddedStore`]) and PostgreSQL ([`PostgresStore`]).
//!
//! Everything the server keeps lives behind [`Store`]: domains, accounts,
//! aliases, and the messages in each mailbox. The promise of every write is
//! durability: when a write method returns `Ok`, the data is on stable
//! storage. Backends batch concurrent writes into one commit (group commit)
//! rather than weaken that promise.
//!
//! No SQL, file path or backend type is visible outside this crate.

mod body;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
pub mod dmarc;
pub mod embedded;
mod error;
pub mod files;
pub mod greylist;
mod ids;
pub mod import;
pub mod limits;
pub mod migrate;
mod policy;
pub mod postgres;
pub mod sending;
mod spool;
pub mod tls_report;
pub mod tokens;
mod types;

pub use body::{BodySource, BodyStream};
pub use embedded::EmbeddedStore;
pub use error::{Conflict, StoreError, Subject, Unavailable};
pub use ids::{AccountId, MessageId, QueueId, QueueRcptId};
pub use import::{ImportMessage, ImportOutcome};
pub use policy::{Cutoffs, ExpireReport, Fit, Keep, NoticeWriter, QuotaRefusal, Retention, Usage};
pub use postgres::{PgOptions, PostgresStore};
pub use spool::{Spool, SpoolPeek};
pub use types::*;

use async_trait::async_trait;

/// The time stored rows carry (creation, arrival, leases): Unix seconds,
/// 0 for a clock before 1970 rather than an error.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Random bits from the OS without another dependency: std's hasher is
/// seeded from it. For names (UIDL prefixes, node ids), not for secrets.
pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    h.finish()
}

/// A new SRS secret ([`Store::srs_secret`]): 32 characters drawn from the
/// OS's random source.
pub(crate) fn new_srs_secret() -> String {
    use rand::Rng;
    rand::rngs::OsRng
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

/// The first of `known` schema migrations a database at schema `version`
/// still needs. A database newer than this program is refused rather than
/// used with a schema it does not know.
pub(crate) fn migrations_from(version: i64, known: usize) -> Result<usize, StoreError> {
    let version = usize::try_from(version).unwrap_or(usize::MAX);
    if version > known {
        return Err(Unavailable::SchemaTooNew { version, known }.into());
    }
    Ok(version)
}
use praisani_mailaddr::{Address, Domain};

/// The storage interface shared by every backend.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    // ---- domains ----
    /// Adds a hosted domain. `Duplicate` if it exists.
    async fn domain_add(&self, domain: &Domain) -> Result<(), StoreError>;
    /// Removes a domain. With mailboxes or aliases left and `force` unset:
    /// `Conflict`. With `force`, its accounts, aliases and messages go too.
    /// In the same transaction the admin API tokens that speak for it
    /// lose it ([`tokens`]: a domain administrator's token with no domain
    /// left, and its mailboxes' user tokens, are deleted).
    async fn domain_remove(&self, domain: &Domain, force: bool) -> Result<(), StoreError>;
    /// All hosted domains, sorted by name.
    async fn domain_list(&self) -> Result<Vec<DomainInfo>, StoreError>;

    // ---- accounts ----
    /// Creates a mailbox. `NotFound` if the domain is not hosted, `Duplicate`
    /// if the address is taken by an account or an alias.
    async fn account_add(&self, account: NewAccount) -> Result<AccountId, StoreError>;
    /// Removes a mailbox and its messages, and in the same transaction
    /// its user tokens (a mailbox made again with the address does not
    /// bring them back).
    async fn account_remove(&self, address: &Address) -> Result<(), StoreError>;
    /// Looks an account up by address.
    async fn account_get(&self, address: &Address) -> Result<Option<Account>, StoreError>;
    /// Looks an account up by id.
    async fn account_by_id(&self, id: AccountId) -> Result<Option<Account>, StoreError>;
    /// Accounts, optionally of one domain, sorted by address.
    async fn account_list(&self, domain: Option<&Domain>) -> Result<Vec<Account>, StoreError>;
    /// Replaces every secret derived from the password.
    async fn account_set_password(
        &self,
        address: &Address,
        secrets: &Secrets,
    ) -> Result<(), StoreError>;
    /// Replaces the secrets of account `id` only while its password hash is
    /// still `old_hash` (a re-hash after a login must not undo a password
    /// change made meanwhile); answers whether it did.
    async fn account_upgrade_password(
        &self,
        id: AccountId,
        old_hash: &str,
        secrets: &Secrets,
    ) -> Result<bool, StoreError>;
    /// Sets (or clears with `None`) the storage quota in octets and the
    /// message-count limit.
    async fn account_set_quota(
        &self,
        address: &Address,
        quota_bytes: Option<u64>,
        quota_messages: Option<u64>,
    ) -> Result<(), StoreError>;
    /// Sets the language of the account's notices and the address its
    /// quota warnings also go to.
    async fn account_set_notices(
        &self,
        address: &Address,
        lang: Language,
        warn_to: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Sets the account's own retention settings.
    async fn account_set_retention(
        &self,
        address: &Address,
        retention: Retention,
    ) -> Result<(), StoreError>;
    /// Writes a bulk import in one commit, all or nothing: hosts each of
    /// `domains` not yet hosted, then creates each account (`Duplicate` if
    /// its address is taken) or, with [`AccountImport::replace`], overwrites
    /// the existing one (`NotFound` if there is none). On any error nothing
    /// is written.
    async fn accounts_import(
        &self,
        domains: Vec<Domain>,
        accounts: Vec<AccountImport>,
    ) -> Result<(), StoreError>;
    /// Sets (or clears) the storage limit of all the domain's mailboxes
    /// together.
    async fn domain_set_quota(
        &self,
        domain: &Domain,
        quota_bytes: Option<u64>,
    ) -> Result<(), StoreError>;
    /// Sets (or clears) the domain's contact.
    async fn domain_set_contact(
        &self,
        domain: &Domain,
        contact: Option<DomainContact>,
    ) -> Result<(), StoreError>;
    /// Sets the retention its mailboxes inherit.
    async fn domain_set_retention(
        &self,
        domain: &Domain,
        retention: Retention,
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
    /// `recipients`. Quotas are not checked (see `accept`).
    async fn deliver(
        &self,
        body: Spool,
        recipients: &[AccountId],
    ) -> Result<Vec<MessageId>, StoreError>;

    /// Stores one copy of the body, a message for each local mailbox and
    /// a queue entry for each outbound copy (remote recipients, forwarded
    /// copies) — all in one durable commit, so an acknowledged message is
    /// never half-stored. A mailbox's copy starts with the prefix the
    /// spool holds for it ([`Spool::set_prefix`]), a queue entry's with
    /// its [`Outbound::prefix`]; both count in that copy's size.
    ///
    /// With `check_quota`, each mailbox's quota (and its domain's) is
    /// checked in that same commit, so concurrent deliveries cannot
    /// overfill it: a mailbox the message does not fit is left out and
    /// listed in [`Accepted::refused`]. Without, quotas are not checked
    /// (notices to the user about their own mailbox, bounces).
    async fn accept(
        &self,
        body: Spool,
        local: &[AccountId],
        outbound: Vec<Outbound>,
        check_quota: bool,
    ) -> Result<Accepted, StoreError>;

    /// Quota warnings, once per threshold crossing. The account remembers
    /// the level announced last; deleting mail or raising the quota lowers
    /// it to the usage (percent) left, which re-arms the thresholds above.
    /// In one commit, with the usage as it is then: the highest of
    /// `thresholds` reached is compared with the remembered level (itself
    /// lowered to the usage first); when above, `notice` writes the warning
    /// for that usage and level into its spool, which is delivered to the
    /// mailbox whatever its quota, and the level is remembered. Concurrent
    /// deliveries thus announce a crossing once. Returns true when the
    /// notice was delivered.
    async fn quota_notice(
        &self,
        account: AccountId,
        thresholds: &[u8],
        notice: Option<(Spool, NoticeWriter)>,
    ) -> Result<bool, StoreError>;

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
    /// Extends the leases of recipients still being worked on until
    /// `until` (Unix seconds), so a long attempt keeps them; a recipient
    /// already recorded is left alone. Returns how many were extended.
    async fn queue_renew_leases(&self, ids: &[QueueRcptId], until: i64) -> Result<u64, StoreError>;
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
    /// Notes that a client retrieved these messages at `at` (Unix
    /// seconds); a message keeps its first retrieval time.
    async fn mark_retrieved(
        &self,
        account: AccountId,
        messages: &[MessageId],
        at: i64,
    ) -> Result<(), StoreError>;
    /// Stores messages brought from another server in `account`, each with
    /// its old UIDL, arrival and retrieval times, in one durable commit
    /// (all or nothing), and answers what became of each, in order. A
    /// message whose UIDL the mailbox already has — from an earlier run,
    /// or earlier in `messages` — is skipped, so a re-run imports only
    /// what is new. UIDLs must keep RFC 1939's rules
    /// ([`import::check_uidl`], else `Conflict::BadUidl` and nothing is
    /// stored); one that has the form of this store's own is kept from
    /// ever being handed out again. Quotas are not checked; usage counts.
    async fn import_messages(
        &self,
        account: AccountId,
        messages: Vec<ImportMessage>,
    ) -> Result<Vec<ImportOutcome>, StoreError>;
    /// Clears every maildrop lock: for a server starting up, when no
    /// session can be open.
    async fn release_maildrop_locks(&self) -> Result<u64, StoreError>;

    // ---- retention ----
    /// Deletes, as of `now`, the messages each mailbox's retention (its
    /// own, else its domain's, else `default`) says have expired. A
    /// mailbox a POP3 session holds is skipped, never renumbered under it.
    async fn expire(&self, now: i64, default: Retention) -> Result<ExpireReport, StoreError>;

    // ---- greylisting ----

    /// One delivery attempt of a greylisting `triplet` from the client
    /// network `client`, decided by [`greylist::step`] and recorded in one
    /// commit (every node sees it). Entries unseen for `rules.max_age` are
    /// pruned along the way.
    async fn greylist(
        &self,
        triplet: &str,
        client: &str,
        now: i64,
        rules: &greylist::GreyRules,
    ) -> Result<greylist::GreyOutcome, StoreError>;

    // ---- MTA-STS ----

    /// The cached MTA-STS policy of `domain` (lower-case A-label), if one
    /// was ever stored, expired or not.
    async fn mta_sts_get(&self, domain: &str) -> Result<Option<MtaStsRecord>, StoreError>;

    /// Stores `record` as its domain's cached policy, replacing the one
    /// before.
    async fn mta_sts_put(&self, record: &MtaStsRecord) -> Result<(), StoreError>;

    // ---- sending limits and holds ----

    /// Charges a message an account submits to its sending counters (the
    /// account's and its domain's, per UTC hour and day; see [`sending`]),
    /// or, when one of `limits` would be passed, refuses it and counts
    /// nothing: the check and the increment are one commit, so nodes
    /// sharing the store share the counts and concurrent submissions
    /// cannot slip past a limit together. The recipients are remembered
    /// for [`sending::RECIPIENT_MEMORY`]; a charged message's are no
    /// longer first-time.
    async fn send_charge(
        &self,
        charge: &sending::SendCharge,
        now: i64,
        limits: &sending::SendLimits,
    ) -> Result<sending::SendOutcome, StoreError>;
    /// Gives back the counts of a charged message that was not stored
    /// after all (its recipients stay remembered).
    async fn send_refund(
        &self,
        charge: &sending::SendCharge,
        ticket: &sending::Ticket,
    ) -> Result<(), StoreError>;
    /// Puts an account on hold for `reason` — and, in the same commit,
    /// holds its pending queued mail — or, with `None`, takes the hold off
    /// (its held mail stays held: see [`Store::queue_release`]). Returns
    /// true when the account's state changed, so of concurrent holds one
    /// reports it. `NotFound` for an unknown account.
    async fn account_set_hold(
        &self,
        account: AccountId,
        reason: Option<&str>,
    ) -> Result<bool, StoreError>;
    /// Holds the pending recipients of `target` ([`RcptState::Held`]: not
    /// taken by [`Store::queue_take_due`]); returns how many.
    async fn queue_hold(&self, target: QueueTarget) -> Result<u64, StoreError>;
    /// Releases the held recipients of `target`: due at `now`, or with
    /// `delete` removed, and a message left without recipients to send to
    /// with them. Returns how many recipients were released.
    async fn queue_release(
        &self,
        target: QueueTarget,
        delete: bool,
        now: i64,
    ) -> Result<u64, StoreError>;
    /// Records the final results of an account's outbound recipients
    /// (how many reached a result, how many of them failed for good) in
    /// its current UTC hour, and answers the totals of the last 24 hours
    /// including it: what the bounce-rate containment decides on.
    async fn send_outcomes(
        &self,
        account: AccountId,
        finished: u64,
        failed: u64,
        now: i64,
    ) -> Result<sending::Outcomes, StoreError>;

    // ---- DMARC aggregate reports ----

    /// Counts `event` in its domain's day: one more in its row, or a new
    /// row while the day has fewer than `limits.max_rows` (else it is only
    /// counted as dropped); a domain new for the day only while the day
    /// has fewer than `limits.max_domains`. One commit; every node counts
    /// into the same rows.
    async fn dmarc_record(
        &self,
        event: &dmarc::DmarcEvent,
        limits: dmarc::DmarcLimits,
    ) -> Result<dmarc::DmarcRecorded, StoreError>;

    /// Takes one domain's day earlier than `before_day` out of the store
    /// and returns it, or `None` when there is none left. Atomic: of nodes
    /// taking at once, each day goes to exactly one.
    async fn dmarc_take(&self, before_day: i64) -> Result<Option<dmarc::DmarcDay>, StoreError>;

    // ---- TLS-RPT reports ----

    /// Counts each of `events` in its domain's day, in one commit: added
    /// to its row, or a new row while the day has fewer than
    /// `limits.max_rows` (else counted as dropped); a domain new for the
    /// day only while the day has fewer than `limits.max_domains` (else
    /// lost). Every node counts into the same rows.
    async fn tls_report_record(
        &self,
        events: &[tls_report::TlsEvent],
        limits: tls_report::TlsLimits,
    ) -> Result<tls_report::TlsRecorded, StoreError>;

    /// Takes one domain's day earlier than `before_day` out of the store
    /// and returns it, or `None` when there is none left. Atomic: of nodes
    /// taking at once, each day goes to exactly one.
    async fn tls_report_take(
        &self,
        before_day: i64,
    ) -> Result<Option<tls_report::TlsDay>, StoreError>;

    // ---- vacation auto-replies ----

    /// Sets the mailbox's vacation auto-reply, or turns it off with
    /// `None`. Either way the memory of senders already answered is
    /// forgotten, so a new absence answers everyone afresh.
    async fn account_set_vacation(
        &self,
        address: &Address,
        vacation: Option<&Vacation>,
    ) -> Result<(), StoreError>;

    /// The mailbox's vacation auto-reply, if it has one.
    async fn account_vacation(&self, account: AccountId) -> Result<Option<Vacation>, StoreError>;

    /// Whether `sender` (its canonical form) may get a vacation reply
    /// from `account` at `now`: true when none was recorded within
    /// `interval` seconds, and then `now` is recorded — one commit, so
    /// concurrent messages (on any node) answer once. Records older than
    /// the interval are pruned along the way.
    async fn vacation_reply_due(
        &self,
        account: AccountId,
        sender: &str,
        now: i64,
        interval: i64,
    ) -> Result<bool, StoreError>;

    // ---- forwarding ----

    /// Sets the mailbox's forwarding (its targets in order, whether a copy
    /// is kept), or turns it off with `None`. `NotFound` for an unknown
    /// mailbox.
    async fn account_set_forward(
        &self,
        address: &Address,
        forward: Option<&Forward>,
    ) -> Result<(), StoreError>;

    /// The mailbox's forwarding, if it has one.
    async fn account_forward(&self, account: AccountId) -> Result<Option<Forward>, StoreError>;

    // ---- SRS ----

    /// The secret SRS addresses are signed with: made on the first call
    /// (32 random alphanumeric characters, so it can be handed to libsrs2
    /// or postsrsd as it is) and the same ever after, for every node
    /// sharing the store — of nodes asking at once, one makes it and all
    /// get that one.
    async fn srs_secret(&self) -> Result<Vec<u8>, StoreError>;

    // ---- admin API tokens ----

    /// Records a new token; answers its id.
    async fn token_create(&self, token: &tokens::NewToken) -> Result<i64, StoreError>;

    /// Every token, oldest first (no secrets: the store holds none).
    async fn token_list(&self) -> Result<Vec<tokens::TokenInfo>, StoreError>;

    /// The token whose secret has this digest, if it exists (read afresh
    /// on each call: a revoked token is gone at once).
    async fn token_by_digest(
        &self,
        digest: &[u8; 32],
    ) -> Result<Option<tokens::TokenInfo>, StoreError>;

    /// Deletes a token; [`StoreError::NotFound`] when there is none with
    /// that id.
    async fn token_revoke(&self, id: i64) -> Result<(), StoreError>;

    // ---- domain administrators ----

    /// Makes the mailbox `address` an administrator of `domain` (`admin`
    /// true; again is no error) or no longer one (false:
    /// [`StoreError::NotFound`] with [`error::Subject::DomainAdmin`] when it
    /// was none). `NotFound` for an unknown domain or mailbox. Removing the
    /// mailbox or the domain removes the role with it.
    async fn domain_admin_set(
        &self,
        domain: &Domain,
        address: &Address,
        admin: bool,
    ) -> Result<(), StoreError>;

    /// The administrators of `domain`, in address order (none for an
    /// unknown domain).
    async fn domain_admins(&self, domain: &Domain) -> Result<Vec<Address>, StoreError>;

    /// The domains the mailbox `address` administers, by name (none for an
    /// unknown mailbox).
    async fn admin_domains(&self, address: &Address) -> Result<Vec<Domain>, StoreError>;

    // ---- domain limits, pages ----

    /// The limits the server administrator set for the domain's
    /// administrators; `NotFound` for a domain not hosted.
    async fn domain_limits(&self, domain: &Domain) -> Result<limits::DomainLimits, StoreError>;

    /// Sets the domain's limits (all four at once; `None` is unlimited).
    /// Limits below what the domain has already are kept: they refuse
    /// further additions only.
    async fn domain_set_limits(
        &self,
        domain: &Domain,
        limits: &limits::DomainLimits,
    ) -> Result<(), StoreError>;

    /// [`Store::account_add`] within the domain's limits
    /// ([`limits::check`]): the count and the insert are one transaction,
    /// so concurrent additions cannot both take the last place. A refusal
    /// is [`Conflict::Limit`].
    async fn account_add_within_limits(&self, account: NewAccount)
    -> Result<AccountId, StoreError>;

    /// [`Store::alias_add`] within the domain's limits, in one
    /// transaction like [`Store::account_add_within_limits`].
    async fn alias_add_within_limits(
        &self,
        alias: &Address,
        targets: &[Address],
    ) -> Result<(), StoreError>;

    /// [`Store::account_set_quota`] within the domain's limits (per
    /// mailbox, total), in one transaction.
    async fn account_set_quota_within_limits(
        &self,
        address: &Address,
        quota_bytes: Option<u64>,
        quota_messages: Option<u64>,
    ) -> Result<(), StoreError>;

    /// Up to `limit` accounts of `domain` whose local part comes after
    /// `after`'s (all from the first with `None`), in local-part order
    /// (by bytes): one index range read, however many accounts the domain
    /// has, with the usage of each (no query per account).
    async fn account_page(
        &self,
        domain: &Domain,
        after: Option<&Address>,
        limit: usize,
    ) -> Result<Vec<Account>, StoreError>;

    /// Up to `limit` aliases of `domain` whose local part comes after
    /// `after`'s, in local-part order (by bytes), with their targets: one
    /// query for the page, not one per alias.
    async fn alias_page(
        &self,
        domain: &Domain,
        after: Option<&Address>,
        limit: usize,
    ) -> Result<Vec<Alias>, StoreError>;
}
