//! The PostgreSQL backend, for several nodes sharing one database.
//!
//! Every node can take mail for any mailbox, serve any mailbox over POP3
//! and work the outbound queue; what they must agree on lives in rows:
//!
//! - **Durability**: a write method returns `Ok` only after `COMMIT`, with
//!   PostgreSQL's default `synchronous_commit = on`.
//! - **Quotas**: `accept` locks the rows of the recipients' domains, then
//!   of the recipients (`FOR NO KEY UPDATE`, ascending ids, the order every
//!   write uses, see [`ops`]) and checks each quota on what it reads there,
//!   so concurrent deliveries through any number of nodes cannot overfill
//!   a mailbox or a domain.
//! - **Queue leases**: `queue_take_due` leases due recipients with
//!   `FOR UPDATE SKIP LOCKED` and records the node; a lease that lapses
//!   (its node died) makes them due again for every node, and
//!   `queue_release_leases` releases only this node's.
//! - **Maildrop locks**: lease rows renewed while held, see [`locks`];
//!   `release_maildrop_locks` releases only this node's.
//! - **Nodes**: each [`PostgresStore::open`] is a node with a random
//!   identity (or the configured one).
//! - **UIDLs**: `<store prefix>.<id>` with the prefix in `meta`, unless the
//!   message row has its own (migrated messages keep theirs).
//! - **Bodies**: shared by every recipient's message and the queue entry
//!   (reference count), stored and streamed in 128 KiB `bytea` chunks.
//!
//! Chunked `bytea` or large objects? Measured on this machine's
//! PostgreSQL 15 (loopback, one connection, one transaction per write; see
//! the `body_storage_measure` test, numbers are the median of 5):
//!
//! | body    | bytea write | bytea read | large object write | large object read |
//! |---------|-------------|------------|--------------------|-------------------|
//! | 4 KiB   | 0.68 ms     | 0.33 ms    | 1.24 ms            | 0.31 ms           |
//! | 10 MiB  | 58.6 ms     | 28.8 ms    | 74.6 ms            | 36.9 ms           |
//!
//! Chunked `bytea` is chosen: it writes faster (one INSERT per chunk against
//! `lo_create` plus one `lo_put` per chunk: about half the time for a small
//! message, a fifth less for 10 MiB) and reads as fast or faster. Besides, chunk rows are
//! ordinary rows: deleted with their body by a foreign-key cascade,
//! copied by `pg_dump` without `--large-objects` care, no orphaned
//! objects to `vacuumlo` when a transaction dies, and a chunk read is one
//! indexed query on any pooled connection (a large object must be opened
//! inside a transaction that stays open while it is streamed).
//!
//! Driver: `tokio-postgres` with the `deadpool-postgres` pool — small,
//! async, with prepared statements cached per connection; the pool has a
//! size limit and timeouts for waiting, connecting and recycling.
//! Connections are plain TCP or a Unix socket (the database is trusted and
//! local to the hosting network; TLS to it is not offered yet).

mod locks;
mod ops;
mod schema;

pub use schema::current_version as schema_version;

use crate::AccountImport;
use crate::Unavailable;
use crate::body::{ChunkCursor, NextChunk};
use crate::dmarc::{DmarcDay, DmarcEvent, DmarcLimits, DmarcRecorded};
use crate::greylist::{GreyOutcome, GreyRules};
use crate::policy::{Expired, sweep_plan};
use crate::sending::{SendCharge, SendLimits, SendOutcome, Ticket};
use crate::tls_report::{TlsDay, TlsEvent, TlsLimits, TlsRecorded};
use crate::{
    Accepted, Account, AccountId, Alias, AttemptResult, BodySource, BodyStream, DomainContact,
    DomainInfo, ExpireReport, Forward, HeaderDowngrade, Lookup, MaildropLock, MessageId,
    MessageMeta, MtaStsRecord, NewAccount, NoticeWriter, Outbound, QueueEntry, QueueId,
    QueueRcptId, QueueTarget, Retention, Secrets, Spool, Store, StoreError, Vacation,
};
use crate::{ImportMessage, ImportOutcome};
use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use praisani_mailaddr::{Address, Domain};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// How to reach the database and how to use it.
#[derive(Clone)]
pub struct PgOptions {
    /// `postgres://user@host:port/database` (or key=value form).
    pub url: String,
    /// Most connections this node opens.
    pub max_connections: usize,
    /// How long to wait for a new connection to be set up.
    pub connect_timeout: Duration,
    /// How long a request waits for a free connection before it fails.
    pub acquire_timeout: Duration,
    /// How long a maildrop lock outlives a node that stopped renewing it.
    pub lock_lease: Duration,
    /// This node's name in leases and locks; `None`: random per start.
    pub node: Option<String>,
}

impl PgOptions {
    /// The defaults for `url`.
    pub fn new(url: &str) -> Self {
        PgOptions {
            url: url.to_string(),
            max_connections: 16,
            connect_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(10),
            lock_lease: Duration::from_secs(90),
            node: None,
        }
    }
}

// By hand: the url may carry a password.
impl std::fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgOptions")
            .field("url", &redact(&self.url))
            .field("max_connections", &self.max_connections)
            .field("connect_timeout", &self.connect_timeout)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("lock_lease", &self.lock_lease)
            .field("node", &self.node)
            .finish()
    }
}

/// The store on a PostgreSQL database shared by several nodes.
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    spool_dir: PathBuf,
    uid_prefix: String,
    locks: Arc<locks::Locks>,
    renewer: tokio::task::JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

/// A pool for `url` with the limits of `opts` (no connection is made yet).
pub(crate) fn pool(opts: &PgOptions) -> Result<Pool, StoreError> {
    let mut cfg =
        tokio_postgres::Config::from_str(&opts.url).map_err(|source| Unavailable::BadUrl {
            url: redact(&opts.url),
            source,
        })?;
    cfg.connect_timeout(opts.connect_timeout);
    cfg.application_name("praisani");
    cfg.keepalives(true);
    cfg.keepalives_idle(Duration::from_secs(30));
    let mgr = Manager::from_config(
        cfg,
        tokio_postgres::NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(mgr)
        .max_size(opts.max_connections.max(1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(opts.acquire_timeout))
        .create_timeout(Some(opts.connect_timeout))
        .recycle_timeout(Some(opts.connect_timeout))
        .build()
        .map_err(|e| Unavailable::PoolSetup(e).into())
}

/// The url without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl PostgresStore {
    /// Connects, applies the schema migrations and starts renewing this
    /// node's maildrop leases. Spooled bodies overflow into `spool_dir`.
    pub async fn open(opts: &PgOptions, spool_dir: &Path) -> Result<Self, StoreError> {
        crate::files::create_private_dir(spool_dir)?;
        let pool = pool(opts)?;
        let uid_prefix = {
            let mut c = pool.get().await?;
            schema::migrate(&mut c).await?
        };
        let node = opts
            .node
            .clone()
            .unwrap_or_else(|| format!("node-{:016x}", crate::random_u64()));
        let locks = Arc::new(locks::Locks::new(node, opts.lock_lease));
        let renewer = tokio::spawn(locks::renew_forever(pool.clone(), locks.clone()));
        Ok(PostgresStore {
            inner: Arc::new(Inner {
                pool,
                spool_dir: spool_dir.to_path_buf(),
                uid_prefix,
                locks,
                renewer,
            }),
        })
    }

    /// This node's identity in queue leases and maildrop locks.
    pub fn node(&self) -> &str {
        &self.inner.locks.node
    }

    /// The store's UIDL prefix.
    pub fn uid_prefix(&self) -> &str {
        &self.inner.uid_prefix
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        Ok(self.inner.pool.get().await?)
    }

    fn body_stream(&self, body_id: i64, chunks: i64, first: Option<Vec<u8>>) -> BodyStream {
        BodyStream::new(Box::new(ChunkSource {
            pool: self.inner.pool.clone(),
            body_id,
            cursor: ChunkCursor::new(chunks, first),
        }))
    }

    /// Reads the first chunk at once: an error shows before any response.
    /// Opens a body found as (id, chunks, the copy's prefix).
    async fn open_body(
        &self,
        (body_id, chunks, prefix): (i64, i64, Option<Vec<u8>>),
    ) -> Result<BodyStream, StoreError> {
        let first = if chunks > 0 {
            Some(ops::read_chunk(&self.client().await?, body_id, 0).await?)
        } else {
            None
        };
        let (body_id, chunks, first) = crate::body::with_prefix(prefix, (body_id, chunks, first));
        Ok(self.body_stream(body_id, chunks, first))
    }
}

/// Runs `$body` (which uses the transaction `$tx`) and commits; an error
/// drops the transaction, which rolls it back.
macro_rules! write {
    ($self:ident, |$tx:ident| $body:expr) => {{
        let mut client = $self.client().await?;
        let $tx = client.transaction().await?;
        let out = $body;
        $tx.commit().await?;
        Ok(out)
    }};
}

#[async_trait]
impl Store for PostgresStore {
    async fn domain_add(&self, domain: &Domain) -> Result<(), StoreError> {
        write!(self, |tx| ops::domain_add(&tx, domain).await?)
    }

    async fn domain_remove(&self, domain: &Domain, force: bool) -> Result<(), StoreError> {
        write!(self, |tx| ops::domain_remove(&tx, domain, force).await?)
    }

    async fn domain_list(&self) -> Result<Vec<DomainInfo>, StoreError> {
        ops::domain_list(&self.client().await?).await
    }

    async fn account_add(&self, account: NewAccount) -> Result<AccountId, StoreError> {
        write!(self, |tx| ops::account_add(&tx, &account).await?)
    }

    async fn account_remove(&self, address: &Address) -> Result<(), StoreError> {
        write!(self, |tx| ops::account_remove(&tx, address).await?)
    }

    async fn account_get(&self, address: &Address) -> Result<Option<Account>, StoreError> {
        ops::account_get(&self.client().await?, address).await
    }

    async fn account_by_id(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        ops::account_by_id(&self.client().await?, id).await
    }

    async fn account_list(&self, domain: Option<&Domain>) -> Result<Vec<Account>, StoreError> {
        ops::account_list(&self.client().await?, domain).await
    }

    async fn account_set_password(
        &self,
        address: &Address,
        secrets: &Secrets,
    ) -> Result<(), StoreError> {
        write!(self, |tx| ops::account_set_password(&tx, address, secrets)
            .await?)
    }

    async fn account_upgrade_password(
        &self,
        id: AccountId,
        old_hash: &str,
        secrets: &Secrets,
    ) -> Result<bool, StoreError> {
        ops::account_upgrade_password(&self.client().await?, id, old_hash, secrets).await
    }

    async fn account_set_quota(
        &self,
        address: &Address,
        quota_bytes: Option<u64>,
        quota_messages: Option<u64>,
    ) -> Result<(), StoreError> {
        write!(self, |tx| ops::account_set_quota(
            &tx,
            address,
            quota_bytes,
            quota_messages
        )
        .await?)
    }

    async fn account_set_notices(
        &self,
        address: &Address,
        lang: crate::Language,
        warn_to: Option<&str>,
    ) -> Result<(), StoreError> {
        write!(self, |tx| ops::account_set_notices(
            &tx, address, lang, warn_to
        )
        .await?)
    }

    async fn account_set_retention(
        &self,
        address: &Address,
        retention: Retention,
    ) -> Result<(), StoreError> {
        write!(self, |tx| ops::account_set_retention(
            &tx, address, retention
        )
        .await?)
    }

    async fn accounts_import(
        &self,
        domains: Vec<Domain>,
        accounts: Vec<AccountImport>,
    ) -> Result<(), StoreError> {
        write!(self, |tx| ops::accounts_import(&tx, &domains, &accounts)
            .await?)
    }

    async fn domain_set_quota(
        &self,
        domain: &Domain,
        quota_bytes: Option<u64>,
    ) -> Result<(), StoreError> {
        write!(self, |tx| ops::domain_set_quota(&tx, domain, quota_bytes)
            .await?)
    }

    async fn domain_set_contact(
        &self,
        domain: &Domain,
        contact: Option<DomainContact>,
    ) -> Result<(), StoreError> {
        write!(self, |tx| ops::domain_set_contact(
            &tx,
            domain,
            contact.as_ref()
        )
        .await?)
    }

    async fn domain_set_retention(
        &self,
        domain: &Domain,
        retention: Retention,
    ) -> Result<(), StoreError> {
        write!(self, |tx| ops::domain_set_retention(&tx, domain, retention)
            .await?)
    }

    async fn alias_add(&self, alias: &Address, targets: &[Address]) -> Result<(), StoreError> {
        write!(self, |tx| ops::alias_add(&tx, alias, targets).await?)
    }

    async fn alias_remove(&self, alias: &Address) -> Result<(), StoreError> {
        write!(self, |tx| ops::alias_remove(&tx, alias).await?)
    }

    async fn alias_list(&self, domain: Option<&Domain>) -> Result<Vec<Alias>, StoreError> {
        ops::alias_list(&self.client().await?, domain).await
    }

    async fn lookup(&self, address: &Address) -> Result<Lookup, StoreError> {
        ops::lookup(&self.client().await?, address).await
    }

    async fn is_hosted(&self, domain: &Domain) -> Result<bool, StoreError> {
        ops::is_hosted(&self.client().await?, domain).await
    }

    fn new_spool(&self) -> Spool {
        Spool::new(self.inner.spool_dir.clone())
    }

    async fn deliver(
        &self,
        body: Spool,
        recipients: &[AccountId],
    ) -> Result<Vec<MessageId>, StoreError> {
        if recipients.is_empty() {
            return Ok(Vec::new());
        }
        write!(self, |tx| ops::accept(&tx, body, recipients, &[], false)
            .await?
            .messages)
    }

    async fn accept(
        &self,
        body: Spool,
        local: &[AccountId],
        outbound: Vec<Outbound>,
        check_quota: bool,
    ) -> Result<Accepted, StoreError> {
        write!(self, |tx| ops::accept(
            &tx,
            body,
            local,
            &outbound,
            check_quota
        )
        .await?)
    }

    async fn quota_notice(
        &self,
        account: AccountId,
        thresholds: &[u8],
        notice: Option<(Spool, NoticeWriter)>,
    ) -> Result<bool, StoreError> {
        write!(self, |tx| ops::quota_notice(
            &tx, account, thresholds, notice
        )
        .await?)
    }

    async fn queue_take_due(
        &self,
        now: i64,
        lease_secs: i64,
        limit: usize,
    ) -> Result<Vec<QueueEntry>, StoreError> {
        let node = self.node();
        write!(self, |tx| ops::queue_take_due(
            &tx, now, lease_secs, limit, node
        )
        .await?)
    }

    async fn queue_record(
        &self,
        results: &[(QueueRcptId, AttemptResult)],
    ) -> Result<(), StoreError> {
        let node = self.node();
        write!(self, |tx| ops::queue_record(&tx, results, node).await?)
    }

    async fn queue_list(&self) -> Result<Vec<QueueEntry>, StoreError> {
        // One snapshot: entries and their recipients agree.
        let mut c = self.client().await?;
        let tx = c
            .build_transaction()
            .read_only(true)
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead);
        let tx = tx.start().await?;
        let out = ops::queue_list(&tx).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn queue_get(&self, id: QueueId) -> Result<Option<QueueEntry>, StoreError> {
        ops::queue_get(&self.client().await?, id).await
    }

    async fn queue_retry_now(&self, id: Option<QueueId>, now: i64) -> Result<u64, StoreError> {
        write!(self, |tx| ops::queue_retry_now(&tx, id, now).await?)
    }

    async fn queue_mark_delay_notified(&self, ids: &[QueueRcptId]) -> Result<(), StoreError> {
        let ids = ids.to_vec();
        ops::exec(
            &self.client().await?,
            "UPDATE queue_rcpts SET delay_notified = true WHERE id = ANY($1)",
            &[&ids],
        )
        .await?;
        Ok(())
    }

    async fn queue_release_leases(&self) -> Result<u64, StoreError> {
        // Only this node's: the other nodes are alive and working theirs.
        ops::exec(
            &self.client().await?,
            "UPDATE queue_rcpts SET lease_until = 0, lease_node = NULL
             WHERE lease_until > 0 AND lease_node = $1",
            &[&self.node()],
        )
        .await
    }

    async fn queue_renew_leases(&self, ids: &[QueueRcptId], until: i64) -> Result<u64, StoreError> {
        // Only leases this node still holds.
        ops::exec(
            &self.client().await?,
            "UPDATE queue_rcpts SET lease_until = $1
             WHERE id = ANY($2) AND state = 'pending' AND lease_until > 0 AND lease_node = $3",
            &[&until, &ids, &self.node()],
        )
        .await
    }

    async fn queue_delete(&self, id: QueueId) -> Result<(), StoreError> {
        write!(self, |tx| ops::queue_delete(&tx, id).await?)
    }

    async fn open_queued(&self, id: QueueId) -> Result<BodyStream, StoreError> {
        let head = ops::queued_body(&self.client().await?, id).await?;
        self.open_body(head).await
    }

    async fn lock_maildrop(&self, account: AccountId) -> Result<Option<MaildropLock>, StoreError> {
        locks::lock(&self.inner.pool, &self.inner.locks, account).await
    }

    async fn list_messages(&self, account: AccountId) -> Result<Vec<MessageMeta>, StoreError> {
        ops::list_messages(&self.client().await?, account, &self.inner.uid_prefix).await
    }

    async fn open_message(
        &self,
        account: AccountId,
        message: MessageId,
    ) -> Result<BodyStream, StoreError> {
        let head = ops::message_body(&self.client().await?, account, message).await?;
        self.open_body(head).await
    }

    async fn message_downgrade(
        &self,
        account: AccountId,
        message: MessageId,
    ) -> Result<Option<HeaderDowngrade>, StoreError> {
        ops::message_downgrade(&self.client().await?, account, message).await
    }

    async fn delete_messages(
        &self,
        account: AccountId,
        messages: &[MessageId],
    ) -> Result<(), StoreError> {
        if messages.is_empty() {
            return Ok(());
        }
        write!(self, |tx| ops::delete_messages(&tx, account, messages)
            .await?)
    }

    async fn mark_retrieved(
        &self,
        account: AccountId,
        messages: &[MessageId],
        at: i64,
    ) -> Result<(), StoreError> {
        if messages.is_empty() {
            return Ok(());
        }
        ops::mark_retrieved(&self.client().await?, account, messages, at).await
    }

    async fn import_messages(
        &self,
        account: AccountId,
        messages: Vec<ImportMessage>,
    ) -> Result<Vec<ImportOutcome>, StoreError> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let prefix = self.inner.uid_prefix.clone();
        write!(self, |tx| ops::import_messages(
            &tx, account, messages, &prefix
        )
        .await?)
    }

    async fn release_maildrop_locks(&self) -> Result<u64, StoreError> {
        let n = ops::exec(
            &self.client().await?,
            "DELETE FROM maildrop_locks WHERE node = $1",
            &[&self.node()],
        )
        .await?;
        self.inner.locks.clear();
        Ok(n)
    }

    async fn expire(&self, now: i64, default: Retention) -> Result<ExpireReport, StoreError> {
        let accounts = ops::retention_list(&self.client().await?).await?;
        let mut report = ExpireReport::default();
        // The sweep takes each mailbox's maildrop lock inside its commit: a
        // session anywhere makes it skip. A row of this node that no
        // session of this process holds is a release still on its way.
        let sweeper = format!("{}/sweep", self.node());
        let lease = self.inner.locks.lease;
        // One commit per mailbox: a sweep never holds many rows for long.
        for (account, cut) in sweep_plan(accounts, default, now) {
            // Reserved in this process like a session's lock, so a login on
            // this node cannot slip in between the check and the take-over
            // of a row of this node.
            if !self.inner.locks.reserve(account) {
                report.record(Expired::Locked);
                continue;
            }
            let swept = async {
                let mut client = self.client().await?;
                let tx = client.transaction().await?;
                let free = locks::take_row(&tx, account, self.node(), &sweeper, lease).await?;
                let out = if free {
                    let out = ops::expire_account(&tx, account, cut).await?;
                    ops::exec(
                        &tx,
                        "DELETE FROM maildrop_locks WHERE account_id = $1 AND holder = $2",
                        &[&account, &sweeper],
                    )
                    .await?;
                    out
                } else {
                    Expired::Locked
                };
                tx.commit().await?;
                Ok::<_, StoreError>(out)
            }
            .await;
            self.inner.locks.unreserve(account);
            report.record(swept?);
        }
        Ok(report)
    }

    async fn greylist(
        &self,
        triplet: &str,
        client: &str,
        now: i64,
        rules: &GreyRules,
    ) -> Result<GreyOutcome, StoreError> {
        write!(self, |tx| ops::greylist(&tx, triplet, client, now, rules)
            .await?)
    }

    async fn srs_secret(&self) -> Result<Vec<u8>, StoreError> {
        ops::srs_secret(&self.client().await?, &crate::new_srs_secret()).await
    }

    async fn mta_sts_get(&self, domain: &str) -> Result<Option<MtaStsRecord>, StoreError> {
        ops::mta_sts_get(&self.client().await?, domain).await
    }

    async fn mta_sts_put(&self, record: &MtaStsRecord) -> Result<(), StoreError> {
        ops::mta_sts_put(&self.client().await?, record).await
    }

    async fn send_charge(
        &self,
        charge: &SendCharge,
        now: i64,
        limits: &SendLimits,
    ) -> Result<SendOutcome, StoreError> {
        write!(self, |tx| ops::send_charge(&tx, charge, now, limits)
            .await?)
    }

    async fn send_refund(&self, charge: &SendCharge, ticket: &Ticket) -> Result<(), StoreError> {
        write!(self, |tx| ops::send_refund(&tx, charge, ticket).await?)
    }

    async fn account_set_hold(
        &self,
        account: AccountId,
        reason: Option<&str>,
    ) -> Result<bool, StoreError> {
        write!(self, |tx| ops::account_set_hold(&tx, account, reason)
            .await?)
    }

    async fn send_outcomes(
        &self,
        account: AccountId,
        finished: u64,
        failed: u64,
        now: i64,
    ) -> Result<crate::sending::Outcomes, StoreError> {
        write!(self, |tx| ops::send_outcomes(
            &tx, account, finished, failed, now
        )
        .await?)
    }

    async fn queue_hold(&self, target: QueueTarget) -> Result<u64, StoreError> {
        write!(self, |tx| ops::queue_hold(&tx, target).await?)
    }

    async fn queue_release(
        &self,
        target: QueueTarget,
        delete: bool,
        now: i64,
    ) -> Result<u64, StoreError> {
        write!(self, |tx| ops::queue_release(&tx, target, delete, now)
            .await?)
    }

    async fn dmarc_record(
        &self,
        event: &DmarcEvent,
        limits: DmarcLimits,
    ) -> Result<DmarcRecorded, StoreError> {
        write!(self, |tx| ops::dmarc_record(&tx, event, limits).await?)
    }

    async fn dmarc_take(&self, before_day: i64) -> Result<Option<DmarcDay>, StoreError> {
        write!(self, |tx| ops::dmarc_take(&tx, before_day).await?)
    }

    async fn tls_report_record(
        &self,
        events: &[TlsEvent],
        limits: TlsLimits,
    ) -> Result<TlsRecorded, StoreError> {
        write!(self, |tx| ops::tls_report_record(&tx, events, limits)
            .await?)
    }

    async fn tls_report_take(&self, before_day: i64) -> Result<Option<TlsDay>, StoreError> {
        write!(self, |tx| ops::tls_report_take(&tx, before_day).await?)
    }

    async fn account_set_vacation(
        &self,
        address: &Address,
        vacation: Option<&Vacation>,
    ) -> Result<(), StoreError> {
        write!(self, |tx| ops::account_set_vacation(&tx, address, vacation)
            .await?)
    }

    async fn account_set_forward(
        &self,
        address: &Address,
        forward: Option<&Forward>,
    ) -> Result<(), StoreError> {
        write!(self, |tx| ops::account_set_forward(&tx, address, forward)
            .await?)
    }

    async fn account_forward(&self, account: AccountId) -> Result<Option<Forward>, StoreError> {
        ops::account_forward(&self.client().await?, account).await
    }

    async fn account_vacation(&self, account: AccountId) -> Result<Option<Vacation>, StoreError> {
        ops::account_vacation(&self.client().await?, account).await
    }

    async fn vacation_reply_due(
        &self,
        account: AccountId,
        sender: &str,
        now: i64,
        interval: i64,
    ) -> Result<bool, StoreError> {
        write!(self, |tx| ops::vacation_reply_due(
            &tx, account, sender, now, interval
        )
        .await?)
    }

    async fn token_create(&self, token: &crate::tokens::NewToken) -> Result<i64, StoreError> {
        write!(self, |tx| ops::token_create(&tx, token).await?)
    }

    async fn token_list(&self) -> Result<Vec<crate::tokens::TokenInfo>, StoreError> {
        ops::token_list(&self.client().await?).await
    }

    async fn token_by_digest(
        &self,
        digest: &[u8; 32],
    ) -> Result<Option<crate::tokens::TokenInfo>, StoreError> {
        ops::token_by_digest(&self.client().await?, digest).await
    }

    async fn token_revoke(&self, id: i64) -> Result<(), StoreError> {
        write!(self, |tx| ops::token_revoke(&tx, id).await?)
    }

    async fn domain_admin_set(
        &self,
        domain: &Domain,
        address: &Address,
        admin: bool,
    ) -> Result<(), StoreError> {
        write!(self, |tx| ops::domain_admin_set(
            &tx, domain, address, admin
        )
        .await?)
    }

    async fn domain_admins(&self, domain: &Domain) -> Result<Vec<Address>, StoreError> {
        ops::domain_admins(&self.client().await?, domain).await
    }

    async fn admin_domains(&self, address: &Address) -> Result<Vec<Domain>, StoreError> {
        ops::admin_domains(&self.client().await?, address).await
    }

    async fn domain_limits(
        &self,
        domain: &Domain,
    ) -> Result<crate::limits::DomainLimits, StoreError> {
        ops::domain_limits(&self.client().await?, domain).await
    }

    async fn domain_set_limits(
        &self,
        domain: &Domain,
        limits: &crate::limits::DomainLimits,
    ) -> Result<(), StoreError> {
        write!(self, |tx| ops::domain_set_limits(&tx, domain, limits)
            .await?)
    }

    async fn account_add_within_limits(
        &self,
        account: NewAccount,
    ) -> Result<AccountId, StoreError> {
        write!(self, |tx| ops::account_add_within_limits(&tx, &account)
            .await?)
    }

    async fn alias_add_within_limits(
        &self,
        alias: &Address,
        targets: &[Address],
    ) -> Result<(), StoreError> {
        write!(self, |tx| ops::alias_add_within_limits(&tx, alias, targets)
            .await?)
    }

    async fn account_set_quota_within_limits(
        &self,
        address: &Address,
        quota_bytes: Option<u64>,
        quota_messages: Option<u64>,
    ) -> Result<(), StoreError> {
        write!(self, |tx| ops::account_set_quota_within_limits(
            &tx,
            address,
            quota_bytes,
            quota_messages
        )
        .await?)
    }

    async fn alias_page(
        &self,
        domain: &Domain,
        after: Option<&Address>,
        limit: usize,
    ) -> Result<Vec<Alias>, StoreError> {
        ops::alias_page(
            &self.client().await?,
            domain,
            after.map(Address::local),
            limit,
        )
        .await
    }

    async fn account_page(
        &self,
        domain: &Domain,
        after: Option<&Address>,
        limit: usize,
    ) -> Result<Vec<Account>, StoreError> {
        ops::account_page(
            &self.client().await?,
            domain,
            after.map(Address::local),
            limit,
        )
        .await
    }
}

/// Streams a body's chunks, one query on a pooled connection per chunk.
struct ChunkSource {
    pool: Pool,
    body_id: i64,
    cursor: ChunkCursor,
}

#[async_trait]
impl BodySource for ChunkSource {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        match self.cursor.advance() {
            NextChunk::End => Ok(None),
            NextChunk::Ready(chunk) => Ok(Some(chunk)),
            NextChunk::Fetch(seq) => {
                let c = self.pool.get().await?;
                Ok(Some(ops::read_chunk(&c, self.body_id, seq).await?))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            redact("postgres://mail:s3cret@db:5432/mail"),
            "postgres://mail:***@db:5432/mail"
        );
        assert_eq!(redact("postgres://mail@db/mail"), "postgres://mail@db/mail");
        assert_eq!(redact("host=/run/postgresql"), "host=/run/postgresql");
        let shown = format!("{:?}", PgOptions::new("postgresql://u:p%40ss@h/d"));
        assert!(!shown.contains("p%40ss"), "{shown}");
    }
}
