//! The embedded backend: one SQLite database in WAL mode in the data
//! directory, with every write going through one writer thread that commits
//! concurrent requests together (group commit).
//!
//! Durability: `synchronous = FULL` makes each commit fsync the WAL before
//! it returns, so an acknowledged write survives kill -9 and power loss.
//! Several SMTP sessions delivering at once share one commit and one fsync.

mod locks;
mod ops;
mod pool;
mod schema;
mod writer;

use crate::AccountImport;
use crate::dmarc::{DmarcDay, DmarcEvent, DmarcLimits, DmarcRecorded};
use crate::greylist::{GreyOutcome, GreyRules};
use crate::policy::sweep_plan;
use crate::sending::{SendCharge, SendLimits, SendOutcome, Ticket};
use crate::tls_report::{TlsDay, TlsEvent, TlsLimits, TlsRecorded};
use crate::{
    Accepted, Account, AccountId, Alias, AttemptResult, BodyStream, DomainContact, DomainInfo,
    ExpireReport, Forward, HeaderDowngrade, Lookup, MaildropLock, MessageId, MessageMeta,
    MtaStsRecord, NewAccount, NoticeWriter, Outbound, QueueEntry, QueueId, QueueRcptId,
    QueueTarget, Retention, Secrets, Spool, Store, StoreError, Vacation,
};
use crate::{ImportMessage, ImportOutcome};
use async_trait::async_trait;
use praisani_mailaddr::{Address, Domain};
use rusqlite::params;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The default store: SQLite in `data_dir`, no external service.
#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

struct Inner {
    spool_dir: PathBuf,
    uid_prefix: Arc<String>,
    writer: writer::Writer,
    readers: pool::ReadPool,
}

/// Name of the database file inside the data directory.
pub const DB_FILE: &str = "praisani.db";

impl EmbeddedStore {
    /// Opens (creating if needed) the store in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        crate::files::create_private_dir(data_dir)?;
        let spool_dir = data_dir.join("spool");
        crate::files::create_private_dir(&spool_dir)?;
        let db = data_dir.join(DB_FILE);
        crate::files::create_private_file(&db)?;
        let conn = schema::open_connection(&db)?;
        schema::migrate(&conn)?;
        let uid_prefix = Arc::new(schema::uid_prefix(&conn)?);
        let writer = writer::Writer::start(conn)?;
        Ok(EmbeddedStore {
            inner: Arc::new(Inner {
                spool_dir,
                uid_prefix,
                writer,
                readers: pool::ReadPool::new(db),
            }),
        })
    }

    /// Streams a body found by `ops::open_*`: (body id, chunks, first chunk).
    fn body_stream(&self, (body_id, chunks, first): (i64, i64, Option<Vec<u8>>)) -> BodyStream {
        BodyStream::new(Box::new(ops::ChunkSource::new(
            self.inner.readers.clone(),
            body_id,
            chunks,
            first,
        )))
    }

    /// Write transactions committed since the store was opened; fewer than
    /// the writes made means concurrent writes shared commits.
    pub fn commit_count(&self) -> u64 {
        self.inner.writer.commits()
    }

    /// Checks the database's integrity (used after crash tests).
    pub async fn integrity_check(&self) -> Result<String, StoreError> {
        self.inner
            .readers
            .run(|c| Ok(c.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))?))
            .await
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn domain_add(&self, domain: &Domain) -> Result<(), StoreError> {
        let d = domain.clone();
        self.inner.writer.run(move |c| ops::domain_add(c, &d)).await
    }

    async fn domain_remove(&self, domain: &Domain, force: bool) -> Result<(), StoreError> {
        let d = domain.clone();
        self.inner
            .writer
            .run(move |c| ops::domain_remove(c, &d, force))
            .await
    }

    async fn domain_list(&self) -> Result<Vec<DomainInfo>, StoreError> {
        self.inner.readers.run(ops::domain_list).await
    }

    async fn account_add(&self, account: NewAccount) -> Result<AccountId, StoreError> {
        self.inner
            .writer
            .run(move |c| ops::account_add(c, &account))
            .await
    }

    async fn account_remove(&self, address: &Address) -> Result<(), StoreError> {
        let a = address.clone();
        self.inner
            .writer
            .run(move |c| ops::account_remove(c, &a))
            .await
    }

    async fn account_get(&self, address: &Address) -> Result<Option<Account>, StoreError> {
        let a = address.clone();
        self.inner
            .readers
            .run(move |c| ops::account_get(c, &a))
            .await
    }

    async fn account_list(&self, domain: Option<&Domain>) -> Result<Vec<Account>, StoreError> {
        let d = domain.cloned();
        self.inner
            .readers
            .run(move |c| ops::account_list(c, d.as_ref()))
            .await
    }

    async fn account_set_password(
        &self,
        address: &Address,
        secrets: &Secrets,
    ) -> Result<(), StoreError> {
        let (a, s) = (address.clone(), secrets.clone());
        self.inner
            .writer
            .run(move |c| ops::account_set_password(c, &a, &s))
            .await
    }

    async fn account_upgrade_password(
        &self,
        id: AccountId,
        old_hash: &str,
        secrets: &Secrets,
    ) -> Result<bool, StoreError> {
        let (old, s) = (old_hash.to_string(), secrets.clone());
        self.inner
            .writer
            .run(move |c| ops::account_upgrade_password(c, id, &old, &s))
            .await
    }

    async fn account_by_id(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        self.inner
            .readers
            .run(move |c| ops::account_by_id(c, id))
            .await
    }

    async fn account_set_quota(
        &self,
        address: &Address,
        quota_bytes: Option<u64>,
        quota_messages: Option<u64>,
    ) -> Result<(), StoreError> {
        let a = address.clone();
        self.inner
            .writer
            .run(move |c| ops::account_set_quota(c, &a, quota_bytes, quota_messages))
            .await
    }

    async fn account_set_notices(
        &self,
        address: &Address,
        lang: crate::Language,
        warn_to: Option<&str>,
    ) -> Result<(), StoreError> {
        let (a, l, w) = (address.clone(), lang, warn_to.map(str::to_string));
        self.inner
            .writer
            .run(move |c| ops::account_set_notices(c, &a, l, w.as_deref()))
            .await
    }

    async fn account_set_retention(
        &self,
        address: &Address,
        retention: Retention,
    ) -> Result<(), StoreError> {
        let a = address.clone();
        self.inner
            .writer
            .run(move |c| ops::account_set_retention(c, &a, retention))
            .await
    }

    async fn accounts_import(
        &self,
        domains: Vec<Domain>,
        accounts: Vec<AccountImport>,
    ) -> Result<(), StoreError> {
        self.inner
            .writer
            .run(move |c| ops::accounts_import(c, &domains, &accounts))
            .await
    }

    async fn domain_set_quota(
        &self,
        domain: &Domain,
        quota_bytes: Option<u64>,
    ) -> Result<(), StoreError> {
        let d = domain.clone();
        self.inner
            .writer
            .run(move |c| ops::domain_set_quota(c, &d, quota_bytes))
            .await
    }

    async fn domain_set_contact(
        &self,
        domain: &Domain,
        contact: Option<DomainContact>,
    ) -> Result<(), StoreError> {
        let d = domain.clone();
        self.inner
            .writer
            .run(move |c| ops::domain_set_contact(c, &d, contact.as_ref()))
            .await
    }

    async fn domain_set_retention(
        &self,
        domain: &Domain,
        retention: Retention,
    ) -> Result<(), StoreError> {
        let d = domain.clone();
        self.inner
            .writer
            .run(move |c| ops::domain_set_retention(c, &d, retention))
            .await
    }

    async fn alias_add(&self, alias: &Address, targets: &[Address]) -> Result<(), StoreError> {
        let (a, t) = (alias.clone(), targets.to_vec());
        self.inner
            .writer
            .run(move |c| ops::alias_add(c, &a, &t))
            .await
    }

    async fn alias_remove(&self, alias: &Address) -> Result<(), StoreError> {
        let a = alias.clone();
        self.inner
            .writer
            .run(move |c| ops::alias_remove(c, &a))
            .await
    }

    async fn alias_list(&self, domain: Option<&Domain>) -> Result<Vec<Alias>, StoreError> {
        let d = domain.cloned();
        self.inner
            .readers
            .run(move |c| ops::alias_list(c, d.as_ref()))
            .await
    }

    async fn lookup(&self, address: &Address) -> Result<Lookup, StoreError> {
        let a = address.clone();
        self.inner.readers.run(move |c| ops::lookup(c, &a)).await
    }

    async fn is_hosted(&self, domain: &Domain) -> Result<bool, StoreError> {
        let d = domain.clone();
        self.inner.readers.run(move |c| ops::is_hosted(c, &d)).await
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
        let r = recipients.to_vec();
        self.inner
            .writer
            .run(move |c| ops::deliver(c, body, &r))
            .await
    }

    async fn accept(
        &self,
        body: Spool,
        local: &[AccountId],
        outbound: Vec<Outbound>,
        check_quota: bool,
    ) -> Result<Accepted, StoreError> {
        let l = local.to_vec();
        self.inner
            .writer
            .run(move |c| ops::accept(c, body, &l, &outbound, check_quota))
            .await
    }

    async fn quota_notice(
        &self,
        account: AccountId,
        thresholds: &[u8],
        notice: Option<(Spool, NoticeWriter)>,
    ) -> Result<bool, StoreError> {
        let thresholds = thresholds.to_vec();
        self.inner
            .writer
            .run(move |c| ops::quota_notice(c, account, &thresholds, notice))
            .await
    }

    async fn queue_take_due(
        &self,
        now: i64,
        lease_secs: i64,
        limit: usize,
    ) -> Result<Vec<QueueEntry>, StoreError> {
        // A write: the lease must be durable before anyone acts on it.
        self.inner
            .writer
            .run(move |c| ops::queue_take_due(c, now, lease_secs, limit))
            .await
    }

    async fn queue_record(
        &self,
        results: &[(QueueRcptId, AttemptResult)],
    ) -> Result<(), StoreError> {
        let r = results.to_vec();
        self.inner
            .writer
            .run(move |c| ops::queue_record(c, &r))
            .await
    }

    async fn queue_list(&self) -> Result<Vec<QueueEntry>, StoreError> {
        self.inner.readers.run(ops::queue_list).await
    }

    async fn queue_get(&self, id: QueueId) -> Result<Option<QueueEntry>, StoreError> {
        self.inner.readers.run(move |c| ops::queue_get(c, id)).await
    }

    async fn queue_retry_now(&self, id: Option<QueueId>, now: i64) -> Result<u64, StoreError> {
        self.inner
            .writer
            .run(move |c| ops::queue_retry_now(c, id, now))
            .await
    }

    async fn queue_mark_delay_notified(&self, ids: &[QueueRcptId]) -> Result<(), StoreError> {
        let ids = ids.to_vec();
        self.inner
            .writer
            .run(move |c| {
                let mut st =
                    c.prepare_cached("UPDATE queue_rcpts SET delay_notified = 1 WHERE id = ?1")?;
                for id in ids {
                    st.execute([id])?;
                }
                Ok(())
            })
            .await
    }

    async fn queue_release_leases(&self) -> Result<u64, StoreError> {
        self.inner
            .writer
            .run(|c| {
                Ok(c.execute(
                    "UPDATE queue_rcpts SET lease_until = 0 WHERE lease_until > 0",
                    [],
                )? as u64)
            })
            .await
    }

    async fn queue_renew_leases(&self, ids: &[QueueRcptId], until: i64) -> Result<u64, StoreError> {
        let ids = ids.to_vec();
        self.inner
            .writer
            .run(move |c| {
                let mut st = c.prepare_cached(
                    "UPDATE queue_rcpts SET lease_until = ?1
                     WHERE id = ?2 AND state = 'pending' AND lease_until > 0",
                )?;
                let mut n = 0;
                for id in ids {
                    n += st.execute(params![until, id])? as u64;
                }
                Ok(n)
            })
            .await
    }

    async fn queue_delete(&self, id: QueueId) -> Result<(), StoreError> {
        self.inner
            .writer
            .run(move |c| ops::queue_delete(c, id))
            .await
    }

    async fn open_queued(&self, id: QueueId) -> Result<BodyStream, StoreError> {
        let head = self
            .inner
            .readers
            .run(move |c| ops::open_queued(c, id))
            .await?;
        Ok(self.body_stream(head))
    }

    async fn lock_maildrop(&self, account: AccountId) -> Result<Option<MaildropLock>, StoreError> {
        locks::lock(&self.inner.writer, account, ops::now()).await
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
        self.inner
            .writer
            .run(move |c| ops::import_messages(c, account, messages, &prefix))
            .await
    }

    async fn release_maildrop_locks(&self) -> Result<u64, StoreError> {
        self.inner
            .writer
            .run(|c| Ok(c.execute("DELETE FROM maildrop_locks", [])? as u64))
            .await
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
        let m = messages.to_vec();
        self.inner
            .writer
            .run(move |c| ops::mark_retrieved(c, account, &m, at))
            .await
    }

    async fn expire(&self, now: i64, default: Retention) -> Result<ExpireReport, StoreError> {
        let accounts = self.inner.readers.run(ops::retention_list).await?;
        let mut report = ExpireReport::default();
        // One commit per mailbox: a sweep of a large store never holds the
        // writer (and deliveries) for long.
        for (account, cut) in sweep_plan(accounts, default, now) {
            let outcome = self
                .inner
                .writer
                .run(move |c| ops::expire_account(c, account, cut))
                .await?;
            report.record(outcome);
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
        let (t, c, r) = (triplet.to_string(), client.to_string(), rules.clone());
        self.inner
            .writer
            .run(move |conn| ops::greylist(conn, &t, &c, now, &r))
            .await
    }

    async fn mta_sts_get(&self, domain: &str) -> Result<Option<MtaStsRecord>, StoreError> {
        let domain = domain.to_string();
        self.inner
            .readers
            .run(move |c| ops::mta_sts_get(c, &domain))
            .await
    }

    async fn mta_sts_put(&self, record: &MtaStsRecord) -> Result<(), StoreError> {
        let record = record.clone();
        self.inner
            .writer
            .run(move |c| ops::mta_sts_put(c, &record))
            .await
    }

    async fn send_charge(
        &self,
        charge: &SendCharge,
        now: i64,
        limits: &SendLimits,
    ) -> Result<SendOutcome, StoreError> {
        let (ch, l) = (charge.clone(), *limits);
        self.inner
            .writer
            .run(move |c| ops::send_charge(c, &ch, now, &l))
            .await
    }

    async fn send_refund(&self, charge: &SendCharge, ticket: &Ticket) -> Result<(), StoreError> {
        let (ch, t) = (charge.clone(), *ticket);
        self.inner
            .writer
            .run(move |c| ops::send_refund(c, &ch, &t))
            .await
    }

    async fn account_set_hold(
        &self,
        account: AccountId,
        reason: Option<&str>,
    ) -> Result<bool, StoreError> {
        let r = reason.map(str::to_string);
        self.inner
            .writer
            .run(move |c| ops::account_set_hold(c, account, r.as_deref()))
            .await
    }

    async fn queue_hold(&self, target: QueueTarget) -> Result<u64, StoreError> {
        self.inner
            .writer
            .run(move |c| ops::queue_hold(c, target))
            .await
    }

    async fn queue_release(
        &self,
        target: QueueTarget,
        delete: bool,
        now: i64,
    ) -> Result<u64, StoreError> {
        self.inner
            .writer
            .run(move |c| ops::queue_release(c, target, delete, now))
            .await
    }

    async fn send_outcomes(
        &self,
        account: AccountId,
        finished: u64,
        failed: u64,
        now: i64,
    ) -> Result<crate::sending::Outcomes, StoreError> {
        self.inner
            .writer
            .run(move |c| ops::send_outcomes(c, account, finished, failed, now))
            .await
    }

    async fn dmarc_record(
        &self,
        event: &DmarcEvent,
        limits: DmarcLimits,
    ) -> Result<DmarcRecorded, StoreError> {
        let e = event.clone();
        self.inner
            .writer
            .run(move |conn| ops::dmarc_record(conn, &e, limits))
            .await
    }

    async fn dmarc_take(&self, before_day: i64) -> Result<Option<DmarcDay>, StoreError> {
        self.inner
            .writer
            .run(move |conn| ops::dmarc_take(conn, before_day))
            .await
    }

    async fn tls_report_record(
        &self,
        events: &[TlsEvent],
        limits: TlsLimits,
    ) -> Result<TlsRecorded, StoreError> {
        let events = events.to_vec();
        self.inner
            .writer
            .run(move |conn| ops::tls_report_record(conn, &events, limits))
            .await
    }

    async fn tls_report_take(&self, before_day: i64) -> Result<Option<TlsDay>, StoreError> {
        self.inner
            .writer
            .run(move |conn| ops::tls_report_take(conn, before_day))
            .await
    }

    async fn account_set_vacation(
        &self,
        address: &Address,
        vacation: Option<&Vacation>,
    ) -> Result<(), StoreError> {
        let (a, v) = (address.clone(), vacation.cloned());
        self.inner
            .writer
            .run(move |c| ops::account_set_vacation(c, &a, v.as_ref()))
            .await
    }

    async fn account_set_forward(
        &self,
        address: &Address,
        forward: Option<&Forward>,
    ) -> Result<(), StoreError> {
        let (a, f) = (address.clone(), forward.cloned());
        self.inner
            .writer
            .run(move |c| ops::account_set_forward(c, &a, f.as_ref()))
            .await
    }

    async fn account_forward(&self, account: AccountId) -> Result<Option<Forward>, StoreError> {
        self.inner
            .readers
            .run(move |c| ops::account_forward(c, account))
            .await
    }

    async fn account_vacation(&self, account: AccountId) -> Result<Option<Vacation>, StoreError> {
        self.inner
            .readers
            .run(move |c| ops::account_vacation(c, account))
            .await
    }

    async fn vacation_reply_due(
        &self,
        account: AccountId,
        sender: &str,
        now: i64,
        interval: i64,
    ) -> Result<bool, StoreError> {
        let sender = sender.to_string();
        self.inner
            .writer
            .run(move |c| ops::vacation_reply_due(c, account, &sender, now, interval))
            .await
    }

    async fn srs_secret(&self) -> Result<Vec<u8>, StoreError> {
        let fresh = crate::new_srs_secret();
        self.inner
            .writer
            .run(move |c| ops::srs_secret(c, &fresh))
            .await
    }

    async fn token_create(&self, token: &crate::tokens::NewToken) -> Result<i64, StoreError> {
        let t = token.clone();
        self.inner
            .writer
            .run(move |c| ops::token_create(c, &t))
            .await
    }

    async fn token_list(&self) -> Result<Vec<crate::tokens::TokenInfo>, StoreError> {
        self.inner.readers.run(ops::token_list).await
    }

    async fn token_by_digest(
        &self,
        digest: &[u8; 32],
    ) -> Result<Option<crate::tokens::TokenInfo>, StoreError> {
        let d = *digest;
        self.inner
            .readers
            .run(move |c| ops::token_by_digest(c, &d))
            .await
    }

    async fn token_revoke(&self, id: i64) -> Result<(), StoreError> {
        self.inner
            .writer
            .run(move |c| ops::token_revoke(c, id))
            .await
    }

    async fn domain_admin_set(
        &self,
        domain: &Domain,
        address: &Address,
        admin: bool,
    ) -> Result<(), StoreError> {
        let (d, a) = (domain.clone(), address.clone());
        self.inner
            .writer
            .run(move |c| ops::domain_admin_set(c, &d, &a, admin))
            .await
    }

    async fn domain_admins(&self, domain: &Domain) -> Result<Vec<Address>, StoreError> {
        let d = domain.clone();
        self.inner
            .readers
            .run(move |c| ops::domain_admins(c, &d))
            .await
    }

    async fn admin_domains(&self, address: &Address) -> Result<Vec<Domain>, StoreError> {
        let a = address.clone();
        self.inner
            .readers
            .run(move |c| ops::admin_domains(c, &a))
            .await
    }

    async fn domain_limits(
        &self,
        domain: &Domain,
    ) -> Result<crate::limits::DomainLimits, StoreError> {
        let d = domain.clone();
        self.inner
            .readers
            .run(move |c| ops::domain_limits(c, &d))
            .await
    }

    async fn domain_set_limits(
        &self,
        domain: &Domain,
        limits: &crate::limits::DomainLimits,
    ) -> Result<(), StoreError> {
        let (d, l) = (domain.clone(), *limits);
        self.inner
            .writer
            .run(move |c| ops::domain_set_limits(c, &d, &l))
            .await
    }

    async fn account_add_within_limits(
        &self,
        account: NewAccount,
    ) -> Result<AccountId, StoreError> {
        self.inner
            .writer
            .run(move |c| ops::account_add_within_limits(c, &account))
            .await
    }

    async fn alias_add_within_limits(
        &self,
        alias: &Address,
        targets: &[Address],
    ) -> Result<(), StoreError> {
        let (a, t) = (alias.clone(), targets.to_vec());
        self.inner
            .writer
            .run(move |c| ops::alias_add_within_limits(c, &a, &t))
            .await
    }

    async fn account_set_quota_within_limits(
        &self,
        address: &Address,
        quota_bytes: Option<u64>,
        quota_messages: Option<u64>,
    ) -> Result<(), StoreError> {
        let a = address.clone();
        self.inner
            .writer
            .run(move |c| ops::account_set_quota_within_limits(c, &a, quota_bytes, quota_messages))
            .await
    }

    async fn alias_page(
        &self,
        domain: &Domain,
        after: Option<&Address>,
        limit: usize,
    ) -> Result<Vec<Alias>, StoreError> {
        let d = domain.clone();
        let after = after.map(|a| a.local().to_string());
        self.inner
            .readers
            .run(move |c| ops::alias_page(c, &d, after.as_deref(), limit))
            .await
    }

    async fn account_page(
        &self,
        domain: &Domain,
        after: Option<&Address>,
        limit: usize,
    ) -> Result<Vec<Account>, StoreError> {
        let d = domain.clone();
        let after = after.map(|a| a.local().to_string());
        self.inner
            .readers
            .run(move |c| ops::account_page(c, &d, after.as_deref(), limit))
            .await
    }

    async fn list_messages(&self, account: AccountId) -> Result<Vec<MessageMeta>, StoreError> {
        let prefix = self.inner.uid_prefix.clone();
        self.inner
            .readers
            .run(move |c| ops::list_messages(c, account, &prefix))
            .await
    }

    async fn open_message(
        &self,
        account: AccountId,
        message: MessageId,
    ) -> Result<BodyStream, StoreError> {
        let head = self
            .inner
            .readers
            .run(move |c| ops::open_message(c, account, message))
            .await?;
        Ok(self.body_stream(head))
    }

    async fn message_downgrade(
        &self,
        account: AccountId,
        message: MessageId,
    ) -> Result<Option<HeaderDowngrade>, StoreError> {
        self.inner
            .readers
            .run(move |c| ops::message_downgrade(c, account, message))
            .await
    }

    async fn delete_messages(
        &self,
        account: AccountId,
        messages: &[MessageId],
    ) -> Result<(), StoreError> {
        if messages.is_empty() {
            return Ok(());
        }
        let m = messages.to_vec();
        self.inner
            .writer
            .run(move |c| ops::delete_messages(c, account, &m))
            .await
    }
}
