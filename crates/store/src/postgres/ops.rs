//! The SQL behind each store operation, for a pooled connection (reads) or
//! a transaction (writes; the caller commits).
//!
//! Lock order, everywhere: domain rows, then account rows, then bodies,
//! each in ascending id. Deliveries through several nodes then queue behind
//! each other on the rows they change instead of deadlocking, and a quota
//! is checked on values no one else can change before the commit.

use crate::AccountImport;
use crate::dmarc::{DmarcDay, DmarcEvent, DmarcLimits, DmarcRecorded};
use crate::error::corrupt;
use crate::greylist::{self, GreyEntry, GreyOutcome, GreyRules};
use crate::import::{self, ImportMessage, ImportOutcome};
use crate::limits::{Allotted, DomainLimits, LimitedChange};
use crate::policy::{AcceptTally, Cutoffs, Expired};
use crate::sending::{self, SendCharge, SendLimits, SendOutcome, Tally, Ticket};
use crate::tls_report::{TlsDay, TlsEvent, TlsLimits, TlsRecorded};
use crate::types::{
    due_order, group_taken, notify_from_db, notify_to_db, ret_from_db, ret_to_db, taken_messages,
    uidl,
};
use crate::{
    Accepted, Account, AccountId, Alias, AttemptResult, DomainInfo, HeaderDowngrade, LegacyView,
    Lookup, MessageId, MessageMeta, NewAccount, NoticeWriter, Outbound, OutboundRcpt, QueueEntry,
    QueueId, QueueRcptId, QueueTarget, QueuedRcpt, RcptState, Retention, Secrets, Spool,
    StoreError, Usage,
};
use crate::{
    Conflict, DomainContact, Forward, Language, MtaStsRecord, SenderTls, Subject, Vacation,
};
use deadpool_postgres::GenericClient;
use praisani_mailaddr::{Address, Domain};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

/// Bodies are stored in chunks of this size so they can be streamed.
pub(super) const CHUNK: usize = 128 * 1024;

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

pub(super) use crate::now;

pub(super) async fn rows<C: GenericClient>(
    c: &C,
    sql: &str,
    p: Params<'_>,
) -> Result<Vec<Row>, StoreError> {
    let st = c.prepare_cached(sql).await?;
    Ok(c.query(&st, p).await?)
}

pub(super) async fn opt<C: GenericClient>(
    c: &C,
    sql: &str,
    p: Params<'_>,
) -> Result<Option<Row>, StoreError> {
    let st = c.prepare_cached(sql).await?;
    Ok(c.query_opt(&st, p).await?)
}

pub(super) async fn one<C: GenericClient>(
    c: &C,
    sql: &str,
    p: Params<'_>,
) -> Result<Row, StoreError> {
    let st = c.prepare_cached(sql).await?;
    Ok(c.query_one(&st, p).await?)
}

pub(super) async fn exec<C: GenericClient>(
    c: &C,
    sql: &str,
    p: Params<'_>,
) -> Result<u64, StoreError> {
    let st = c.prepare_cached(sql).await?;
    Ok(c.execute(&st, p).await?)
}

async fn domain_id<C: GenericClient>(c: &C, d: &Domain) -> Result<Option<i64>, StoreError> {
    Ok(
        opt(c, "SELECT id FROM domains WHERE name = $1", &[&d.ascii()])
            .await?
            .map(|r| r.get(0)),
    )
}

/// The domain's id, its row locked so that addresses in it are created and
/// removed one at a time.
async fn lock_domain<C: GenericClient>(c: &C, d: &Domain) -> Result<i64, StoreError> {
    opt(
        c,
        "SELECT id FROM domains WHERE name = $1 FOR NO KEY UPDATE",
        &[&d.ascii()],
    )
    .await?
    .map(|r| r.get(0))
    .ok_or_else(|| StoreError::NotFound(Subject::Domain(d.clone())))
}

pub(super) async fn domain_add<C: GenericClient>(c: &C, d: &Domain) -> Result<(), StoreError> {
    let n = exec(
        c,
        "INSERT INTO domains (name, created) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        &[&d.ascii(), &now()],
    )
    .await?;
    if n == 0 {
        return Err(StoreError::Duplicate(Subject::Domain(d.clone())));
    }
    Ok(())
}

pub(super) async fn domain_remove<C: GenericClient>(
    c: &C,
    d: &Domain,
    force: bool,
) -> Result<(), StoreError> {
    let id = lock_domain(c, d).await?;
    let r = one(
        c,
        "SELECT (SELECT count(*) FROM accounts WHERE domain_id = $1),
                (SELECT count(*) FROM aliases WHERE domain_id = $1)",
        &[&id],
    )
    .await?;
    let (accounts, aliases): (i64, i64) = (r.get(0), r.get(1));
    if (accounts > 0 || aliases > 0) && !force {
        return Err(Conflict::DomainNotEmpty {
            domain: d.clone(),
            accounts: accounts as u64,
            aliases: aliases as u64,
        }
        .into());
    }
    let ids: Vec<AccountId> = rows(
        c,
        "SELECT id FROM accounts WHERE domain_id = $1 ORDER BY id",
        &[&id],
    )
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect();
    for account in ids {
        remove_account_by_id(c, account).await?;
    }
    exec(c, "DELETE FROM aliases WHERE domain_id = $1", &[&id]).await?;
    exec(c, "DELETE FROM domains WHERE id = $1", &[&id]).await?;
    tokens_lose_domain(c, d).await
}

/// Takes `d` out of every token that speaks for it, in the removal's
/// transaction (see [`crate::tokens::after_domain_removed`]); the token
/// rows are locked so a concurrent change cannot bring the domain back.
async fn tokens_lose_domain<C: GenericClient>(c: &C, d: &Domain) -> Result<(), StoreError> {
    use crate::tokens::{AfterRemoval, after_domain_removed};
    for r in rows(
        c,
        "SELECT id, kind, subjects FROM api_tokens WHERE kind IN ('domains', 'user')
         ORDER BY id FOR UPDATE",
        &[],
    )
    .await?
    {
        let id: i64 = r.get(0);
        match after_domain_removed(r.get(1), r.get(2), d) {
            AfterRemoval::Keep => {}
            AfterRemoval::Rewrite(s) => {
                exec(
                    c,
                    "UPDATE api_tokens SET subjects = $1 WHERE id = $2",
                    &[&s, &id],
                )
                .await?;
            }
            AfterRemoval::Delete => {
                exec(c, "DELETE FROM api_tokens WHERE id = $1", &[&id]).await?;
            }
        }
    }
    Ok(())
}

pub(super) async fn domain_list<C: GenericClient>(c: &C) -> Result<Vec<DomainInfo>, StoreError> {
    let mut out = Vec::new();
    for r in rows(
        c,
        "SELECT d.name,
                (SELECT count(*) FROM accounts a WHERE a.domain_id = d.id),
                (SELECT count(*) FROM aliases s WHERE s.domain_id = d.id),
                d.quota_bytes,
                (SELECT coalesce(sum(a.used_bytes), 0)::bigint FROM accounts a
                 WHERE a.domain_id = d.id),
                d.keep_after_retrieval, d.keep_max_age, d.contact, d.contact_lang
         FROM domains d ORDER BY d.name",
        &[],
    )
    .await?
    {
        let name: String = r.get(0);
        out.push(DomainInfo {
            domain: Domain::parse(&name).map_err(|_| corrupt("domain name"))?,
            accounts: r.get::<_, i64>(1) as u64,
            aliases: r.get::<_, i64>(2) as u64,
            quota_bytes: r.get::<_, Option<i64>>(3).map(|q| q as u64),
            used_bytes: r.get::<_, i64>(4).max(0) as u64,
            retention: Retention::from_db(r.get(5), r.get(6)),
            contact: crate::policy::domain_contact(r.get(7), r.get(8))?,
        });
    }
    Ok(out)
}

async fn alias_id<C: GenericClient>(c: &C, a: &Address) -> Result<Option<i64>, StoreError> {
    Ok(opt(
        c,
        "SELECT s.id FROM aliases s JOIN domains d ON d.id = s.domain_id
         WHERE d.name = $1 AND s.local = $2",
        &[&a.domain().ascii(), &a.local()],
    )
    .await?
    .map(|r| r.get(0)))
}

async fn account_id<C: GenericClient>(c: &C, a: &Address) -> Result<Option<AccountId>, StoreError> {
    Ok(opt(
        c,
        "SELECT a.id FROM accounts a JOIN domains d ON d.id = a.domain_id
         WHERE d.name = $1 AND a.local = $2",
        &[&a.domain().ascii(), &a.local()],
    )
    .await?
    .map(|r| r.get(0)))
}

async fn require_account<C: GenericClient>(c: &C, a: &Address) -> Result<AccountId, StoreError> {
    account_id(c, a)
        .await?
        .ok_or_else(|| StoreError::NotFound(Subject::Account(a.clone())))
}

pub(super) async fn account_add<C: GenericClient>(
    c: &C,
    n: &NewAccount,
) -> Result<AccountId, StoreError> {
    // The domain's row lock makes "not an account, not an alias" and the
    // insert one step for every node.
    let did = lock_domain(c, n.address.domain()).await?;
    if account_id(c, &n.address).await?.is_some() || alias_id(c, &n.address).await?.is_some() {
        return Err(StoreError::Duplicate(Subject::Address(n.address.clone())));
    }
    let r = one(
        c,
        "INSERT INTO accounts
            (domain_id, local, password_hash, apop_secret, quota_bytes, created, scram)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        &[
            &did,
            &n.address.local(),
            &n.password_hash,
            &n.apop_secret,
            &n.quota_bytes.map(|q| i64::try_from(q).unwrap_or(i64::MAX)),
            &now(),
            &n.scram,
        ],
    )
    .await?;
    Ok(r.get(0))
}

/// [`crate::Store::accounts_import`], inside the caller's transaction.
pub(super) async fn accounts_import<C: GenericClient>(
    c: &C,
    domains: &[Domain],
    accounts: &[AccountImport],
) -> Result<(), StoreError> {
    for d in domains {
        exec(
            c,
            "INSERT INTO domains (name, created) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            &[&d.ascii(), &now()],
        )
        .await?;
    }
    let as_db = |q: Option<u64>| q.map(|q| i64::try_from(q).unwrap_or(i64::MAX));
    for a in accounts {
        let n = &a.account;
        let id = if a.replace {
            let id = require_account(c, &n.address).await?;
            exec(
                c,
                "UPDATE accounts SET password_hash = $1, apop_secret = $2, scram = $3,
                    quota_bytes = $4 WHERE id = $5",
                &[
                    &n.password_hash,
                    &n.apop_secret,
                    &n.scram,
                    &as_db(n.quota_bytes),
                    &id,
                ],
            )
            .await?;
            id
        } else {
            account_add(c, n).await?
        };
        exec(
            c,
            "UPDATE accounts SET quota_messages = $1, lang = $2 WHERE id = $3",
            &[&as_db(a.quota_messages), &a.lang.tag(), &id],
        )
        .await?;
        if a.replace {
            rearm_warnings(c, id).await?;
        }
    }
    Ok(())
}

async fn remove_account_by_id<C: GenericClient>(c: &C, id: AccountId) -> Result<(), StoreError> {
    let ids: Vec<MessageId> = rows(c, "SELECT id FROM messages WHERE account_id = $1", &[&id])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    delete_messages(c, id, &ids).await?;
    // A maildrop lock row is left to lapse: taking it here would lock in
    // the opposite order to a sweep, and ids are never reused.
    exec(c, "DELETE FROM accounts WHERE id = $1", &[&id]).await?;
    Ok(())
}

pub(super) async fn account_remove<C: GenericClient>(c: &C, a: &Address) -> Result<(), StoreError> {
    lock_domain(c, a.domain())
        .await
        .map_err(|_| StoreError::NotFound(Subject::Account(a.clone())))?;
    let id = require_account(c, a).await?;
    remove_account_by_id(c, id).await?;
    exec(
        c,
        "DELETE FROM api_tokens WHERE kind = 'user' AND subjects = $1",
        &[&crate::tokens::user_subjects(a)],
    )
    .await?;
    Ok(())
}

const ACCOUNT_COLUMNS: &str = "a.id, a.local, d.name, a.password_hash, a.apop_secret,
     a.quota_bytes, a.used_bytes, a.used_messages, a.scram, a.quota_messages, a.lang,
     a.warn_to, a.quota_warned, a.keep_after_retrieval, a.keep_max_age,
     d.keep_after_retrieval, d.keep_max_age, a.held";

fn account_row(r: &Row) -> Result<Account, StoreError> {
    account_row_in(r, None)
}

/// An account row; with `known`, the domain every row is of (a page of
/// one domain), not parsed again for each row.
fn account_row_in(r: &Row, known: Option<&Domain>) -> Result<Account, StoreError> {
    let local: String = r.get(1);
    let domain: String = r.get(2);
    let parsed = match known {
        Some(d) => Some(d.clone()),
        None => Domain::parse(&domain).ok(),
    };
    let address = parsed
        .and_then(|d| Address::new(&local, d).ok())
        .ok_or_else(|| corrupt("account address"))?;
    Ok(Account {
        id: r.get(0),
        address,
        password_hash: r.get(3),
        apop_secret: r.get(4),
        quota_bytes: r.get::<_, Option<i64>>(5).map(|q| q as u64),
        used_bytes: r.get::<_, i64>(6).max(0) as u64,
        used_messages: r.get::<_, i64>(7).max(0) as u64,
        scram: r.get(8),
        quota_messages: r.get::<_, Option<i64>>(9).map(|q| q as u64),
        lang: Language::from_tag(r.get(10)).unwrap_or_default(),
        warn_to: r.get(11),
        warned: r.get::<_, i64>(12).clamp(0, 255) as u8,
        retention: Retention::from_db(r.get(13), r.get(14)),
        domain_retention: Retention::from_db(r.get(15), r.get(16)),
        held: r.get(17),
    })
}

pub(super) async fn account_get<C: GenericClient>(
    c: &C,
    a: &Address,
) -> Result<Option<Account>, StoreError> {
    let sql = format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts a JOIN domains d ON d.id = a.domain_id
         WHERE d.name = $1 AND a.local = $2"
    );
    opt(c, &sql, &[&a.domain().ascii(), &a.local()])
        .await?
        .map(|r| account_row(&r))
        .transpose()
}

pub(super) async fn account_by_id<C: GenericClient>(
    c: &C,
    id: AccountId,
) -> Result<Option<Account>, StoreError> {
    let sql = format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts a JOIN domains d ON d.id = a.domain_id
         WHERE a.id = $1"
    );
    opt(c, &sql, &[&id])
        .await?
        .map(|r| account_row(&r))
        .transpose()
}

pub(super) async fn account_list<C: GenericClient>(
    c: &C,
    d: Option<&Domain>,
) -> Result<Vec<Account>, StoreError> {
    let sql = format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts a JOIN domains d ON d.id = a.domain_id
         WHERE $1::text IS NULL OR d.name = $1 ORDER BY d.name, a.local"
    );
    rows(c, &sql, &[&d.map(|d| d.ascii())])
        .await?
        .iter()
        .map(account_row)
        .collect()
}

pub(super) async fn account_set_password<C: GenericClient>(
    c: &C,
    a: &Address,
    s: &Secrets,
) -> Result<(), StoreError> {
    let id = require_account(c, a).await?;
    exec(
        c,
        "UPDATE accounts SET password_hash = $1, apop_secret = $2, scram = $3 WHERE id = $4",
        &[&s.password_hash, &s.apop_secret, &s.scram, &id],
    )
    .await?;
    Ok(())
}

pub(super) async fn account_upgrade_password<C: GenericClient>(
    c: &C,
    id: AccountId,
    old_hash: &str,
    s: &Secrets,
) -> Result<bool, StoreError> {
    let changed = exec(
        c,
        "UPDATE accounts SET password_hash = $1, apop_secret = $2, scram = $3 \
         WHERE id = $4 AND password_hash = $5",
        &[&s.password_hash, &s.apop_secret, &s.scram, &id, &old_hash],
    )
    .await?;
    Ok(changed == 1)
}

pub(super) async fn account_set_quota<C: GenericClient>(
    c: &C,
    a: &Address,
    quota: Option<u64>,
    messages: Option<u64>,
) -> Result<(), StoreError> {
    let id = require_account(c, a).await?;
    let as_db = |q: Option<u64>| q.map(|q| i64::try_from(q).unwrap_or(i64::MAX));
    exec(
        c,
        "UPDATE accounts SET quota_bytes = $1, quota_messages = $2 WHERE id = $3",
        &[&as_db(quota), &as_db(messages), &id],
    )
    .await?;
    rearm_warnings(c, id).await
}

pub(super) async fn account_set_notices<C: GenericClient>(
    c: &C,
    a: &Address,
    lang: Language,
    warn_to: Option<&str>,
) -> Result<(), StoreError> {
    let id = require_account(c, a).await?;
    exec(
        c,
        "UPDATE accounts SET lang = $1, warn_to = $2 WHERE id = $3",
        &[&lang.tag(), &warn_to, &id],
    )
    .await?;
    Ok(())
}

pub(super) async fn account_set_retention<C: GenericClient>(
    c: &C,
    a: &Address,
    r: Retention,
) -> Result<(), StoreError> {
    let id = require_account(c, a).await?;
    exec(
        c,
        "UPDATE accounts SET keep_after_retrieval = $1, keep_max_age = $2 WHERE id = $3",
        &[&r.after_retrieval.to_db(), &r.max_age.to_db(), &id],
    )
    .await?;
    Ok(())
}

pub(super) async fn domain_set_quota<C: GenericClient>(
    c: &C,
    d: &Domain,
    quota: Option<u64>,
) -> Result<(), StoreError> {
    let n = exec(
        c,
        "UPDATE domains SET quota_bytes = $1 WHERE name = $2",
        &[
            &quota.map(|q| i64::try_from(q).unwrap_or(i64::MAX)),
            &d.ascii(),
        ],
    )
    .await?;
    if n == 0 {
        return Err(StoreError::NotFound(Subject::Domain(d.clone())));
    }
    Ok(())
}

pub(super) async fn domain_set_contact<C: GenericClient>(
    c: &C,
    d: &Domain,
    contact: Option<&DomainContact>,
) -> Result<(), StoreError> {
    let n = exec(
        c,
        "UPDATE domains SET contact = $1, contact_lang = $2 WHERE name = $3",
        &[
            &contact.map(|k| k.address.to_string()),
            &contact.map(|k| k.lang.tag()),
            &d.ascii(),
        ],
    )
    .await?;
    if n == 0 {
        return Err(StoreError::NotFound(Subject::Domain(d.clone())));
    }
    Ok(())
}

pub(super) async fn domain_set_retention<C: GenericClient>(
    c: &C,
    d: &Domain,
    r: Retention,
) -> Result<(), StoreError> {
    let n = exec(
        c,
        "UPDATE domains SET keep_after_retrieval = $1, keep_max_age = $2 WHERE name = $3",
        &[&r.after_retrieval.to_db(), &r.max_age.to_db(), &d.ascii()],
    )
    .await?;
    if n == 0 {
        return Err(StoreError::NotFound(Subject::Domain(d.clone())));
    }
    Ok(())
}

/// The quota state of one account.
async fn usage<C: GenericClient>(c: &C, account: AccountId) -> Result<Option<Usage>, StoreError> {
    let r = opt(
        c,
        "SELECT a.used_bytes, a.used_messages, a.quota_bytes, a.quota_messages,
                CASE WHEN d.quota_bytes IS NULL THEN 0 ELSE
                    (SELECT coalesce(sum(o.used_bytes), 0)::bigint FROM accounts o
                     WHERE o.domain_id = d.id) END,
                d.quota_bytes, a.quota_warned
         FROM accounts a JOIN domains d ON d.id = a.domain_id WHERE a.id = $1",
        &[&account],
    )
    .await?;
    Ok(r.map(|r| {
        let n = |i: usize| r.get::<_, i64>(i).max(0) as u64;
        let o = |i: usize| r.get::<_, Option<i64>>(i).map(|q| q.max(0) as u64);
        Usage {
            used_bytes: n(0),
            used_messages: n(1),
            quota_bytes: o(2),
            quota_messages: o(3),
            domain_used_bytes: n(4),
            domain_quota_bytes: o(5),
            warned: n(6).min(255) as u8,
        }
    }))
}

/// Locks the rows of `accounts` and of their domains, in the global order.
async fn lock_accounts<C: GenericClient>(c: &C, accounts: &[AccountId]) -> Result<(), StoreError> {
    let mut ids = accounts.to_vec();
    ids.sort_unstable();
    ids.dedup();
    // Only a domain with a quota of its own is locked (its total must be
    // exact); the others' deliveries need not wait for each other.
    rows(
        c,
        "SELECT id FROM domains WHERE quota_bytes IS NOT NULL AND id IN
            (SELECT domain_id FROM accounts WHERE id = ANY($1))
         ORDER BY id FOR NO KEY UPDATE",
        &[&ids],
    )
    .await?;
    rows(
        c,
        "SELECT id FROM accounts WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE",
        &[&ids],
    )
    .await?;
    Ok(())
}

pub(super) async fn alias_add<C: GenericClient>(
    c: &C,
    a: &Address,
    targets: &[Address],
) -> Result<(), StoreError> {
    let did = lock_domain(c, a.domain()).await?;
    if account_id(c, a).await?.is_some() || alias_id(c, a).await?.is_some() {
        return Err(StoreError::Duplicate(Subject::Address(a.clone())));
    }
    if targets.is_empty() {
        return Err(Conflict::AliasWithoutTargets.into());
    }
    let id: i64 = one(
        c,
        "INSERT INTO aliases (domain_id, local) VALUES ($1, $2) RETURNING id",
        &[&did, &a.local()],
    )
    .await?
    .get(0);
    for (i, t) in targets.iter().enumerate() {
        exec(
            c,
            "INSERT INTO alias_targets (alias_id, seq, target) VALUES ($1, $2, $3)",
            &[&id, &(i as i64), &t.canonical()],
        )
        .await?;
    }
    Ok(())
}

pub(super) async fn alias_remove<C: GenericClient>(c: &C, a: &Address) -> Result<(), StoreError> {
    let id = alias_id(c, a)
        .await?
        .ok_or_else(|| StoreError::NotFound(Subject::Alias(a.clone())))?;
    exec(c, "DELETE FROM alias_targets WHERE alias_id = $1", &[&id]).await?;
    exec(c, "DELETE FROM aliases WHERE id = $1", &[&id]).await?;
    Ok(())
}

async fn alias_targets<C: GenericClient>(c: &C, id: i64) -> Result<Vec<Address>, StoreError> {
    rows(
        c,
        "SELECT target FROM alias_targets WHERE alias_id = $1 ORDER BY seq",
        &[&id],
    )
    .await?
    .iter()
    .map(|r| Address::parse(r.get::<_, &str>(0)).map_err(|_| corrupt("alias target")))
    .collect()
}

pub(super) async fn alias_list<C: GenericClient>(
    c: &C,
    d: Option<&Domain>,
) -> Result<Vec<Alias>, StoreError> {
    let mut out = Vec::new();
    for r in rows(
        c,
        "SELECT s.id, s.local, d.name FROM aliases s JOIN domains d ON d.id = s.domain_id
         WHERE $1::text IS NULL OR d.name = $1 ORDER BY d.name, s.local",
        &[&d.map(|d| d.ascii())],
    )
    .await?
    {
        let (id, local, domain): (i64, String, String) = (r.get(0), r.get(1), r.get(2));
        let address = Domain::parse(&domain)
            .ok()
            .and_then(|d| Address::new(&local, d).ok())
            .ok_or_else(|| corrupt("alias address"))?;
        out.push(Alias {
            address,
            targets: alias_targets(c, id).await?,
        });
    }
    Ok(out)
}

pub(super) async fn is_hosted<C: GenericClient>(c: &C, d: &Domain) -> Result<bool, StoreError> {
    Ok(domain_id(c, d).await?.is_some())
}

pub(super) async fn lookup<C: GenericClient>(c: &C, a: &Address) -> Result<Lookup, StoreError> {
    let row = opt(
        c,
        "SELECT d.id, a.id FROM domains d
         LEFT JOIN accounts a ON a.domain_id = d.id AND a.local = $2
         WHERE d.name = $1",
        &[&a.domain().ascii(), &a.local()],
    )
    .await?;
    match row.map(|r| r.get::<_, Option<AccountId>>(1)) {
        None => Ok(Lookup::NotHosted),
        Some(Some(id)) => Ok(Lookup::Account {
            id,
            usage: usage(c, id)
                .await?
                .ok_or_else(|| corrupt("account without domain"))?,
        }),
        Some(None) => match alias_id(c, a).await? {
            Some(id) => Ok(Lookup::Alias(alias_targets(c, id).await?)),
            None => Ok(Lookup::UnknownLocal),
        },
    }
}

/// Stores the body in chunks with `refs` references; returns (body id, size).
pub(super) async fn store_body<C: GenericClient>(
    c: &C,
    mut body: Spool,
    refs: i64,
) -> Result<(i64, i64), StoreError> {
    let size = body.len() as i64;
    let body_id: i64 = one(
        c,
        "INSERT INTO bodies (size, chunks, refs) VALUES ($1, 0, $2) RETURNING id",
        &[&size, &refs],
    )
    .await?
    .get(0);
    if let Some(d) = body.take_downgrade() {
        exec(
            c,
            "INSERT INTO body_downgrades (body_id, header_len, header) VALUES ($1, $2, $3)",
            &[&body_id, &(d.original_len as i64), &d.header],
        )
        .await?;
    }
    let mut reader = body.into_reader()?;
    let mut seq = 0i64;
    while let Some(chunk) = reader.next_chunk(CHUNK)? {
        exec(
            c,
            "INSERT INTO body_chunks (body_id, seq, data) VALUES ($1, $2, $3)",
            &[&body_id, &seq, &chunk],
        )
        .await?;
        seq += 1;
    }
    exec(
        c,
        "UPDATE bodies SET chunks = $1 WHERE id = $2",
        &[&seq, &body_id],
    )
    .await?;
    Ok((body_id, size))
}

pub(super) async fn accept<C: GenericClient>(
    c: &C,
    body: Spool,
    recipients: &[AccountId],
    outbound: &[Outbound],
    check_quota: bool,
) -> Result<Accepted, StoreError> {
    if AcceptTally::nothing_to_store(recipients, !outbound.is_empty()) {
        return Ok(AcceptTally::new(0).finish(Vec::new()));
    }
    let mut body = body;
    let prefixes = body.take_prefixes();
    // The body first: its chunks take the longest and lock nothing anyone
    // else waits for.
    let (body_id, size) = store_body(c, body, 0).await?;
    lock_accounts(c, recipients).await?;
    let received = now();
    let mut tally = AcceptTally::new(recipients.len());
    for &account in recipients {
        // Read under the row locks, after the copies already added: exact
        // whatever other nodes deliver meanwhile.
        let u = usage(c, account)
            .await?
            .ok_or_else(|| StoreError::NotFound(Subject::AccountId(account)))?;
        let prefix = prefixes
            .iter()
            .find(|(a, _)| *a == account)
            .map(|(_, p)| p.as_slice())
            .filter(|p| !p.is_empty());
        let size = size + prefix.map_or(0, |p| p.len() as i64);
        if tally.admit(account, &u, size as u64, check_quota) {
            let id = add_message(c, account, body_id, size, received, None, prefix).await?;
            tally.added(account, id, usage(c, account).await?.unwrap_or_default());
        }
    }
    let refs = tally.body_refs(outbound.len());
    if refs == 0 {
        release_body(c, body_id, 0).await?;
    } else {
        exec(
            c,
            "UPDATE bodies SET refs = $1 WHERE id = $2",
            &[&refs, &body_id],
        )
        .await?;
    }
    let mut queued = Vec::with_capacity(outbound.len());
    for o in outbound {
        queued.push(enqueue(c, body_id, o, received).await?);
    }
    Ok(tally.finish(queued))
}

pub(super) async fn import_messages<C: GenericClient>(
    c: &C,
    account: AccountId,
    messages: Vec<ImportMessage>,
    uid_prefix: &str,
) -> Result<Vec<ImportOutcome>, StoreError> {
    for m in &messages {
        if let Some(u) = &m.uidl {
            import::check_uidl(u)?;
        }
    }
    // The account's row, held to the commit: concurrent imports into one
    // mailbox take turns, so neither misses the other's UIDLs.
    if rows(
        c,
        "SELECT id FROM accounts WHERE id = $1 FOR NO KEY UPDATE",
        &[&account],
    )
    .await?
    .is_empty()
    {
        return Err(StoreError::NotFound(Subject::AccountId(account)));
    }
    let mut out = Vec::with_capacity(messages.len());
    let mut batch = std::collections::HashMap::new();
    let (mut bytes, mut count) = (0i64, 0i64);
    for m in messages {
        if let Some(u) = &m.uidl {
            if let Some(&id) = batch.get(u) {
                out.push(ImportOutcome::AlreadyThere(id));
                continue;
            }
            if let Some(id) = message_by_uidl(c, account, u, uid_prefix).await? {
                out.push(ImportOutcome::AlreadyThere(id));
                continue;
            }
            if let Some(n) = import::own_form_id(uid_prefix, u) {
                import::check_reservable(u, n)?;
                // Past n, so the message that would have got id n (and
                // with it this UIDL) never exists. (A sequence is not
                // transactional: this holds even if the import rolls back.)
                rows(
                    c,
                    "SELECT setval('messages_id_seq', $1)
                     WHERE $1 > (SELECT last_value FROM messages_id_seq)",
                    &[&n],
                )
                .await?;
            }
        }
        let (body_id, size) = store_body(c, m.body, 1).await?;
        let id: MessageId = one(
            c,
            "INSERT INTO messages (account_id, body_id, size, received, uidl, retrieved)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[
                &account,
                &body_id,
                &size,
                &m.received,
                &m.uidl,
                &m.retrieved,
            ],
        )
        .await?
        .get(0);
        if let Some(u) = m.uidl {
            batch.insert(u, id);
        }
        bytes += size;
        count += 1;
        out.push(ImportOutcome::Imported(id));
    }
    if count > 0 {
        count_usage(c, account, bytes, count).await?;
    }
    Ok(out)
}

/// The message of `account` whose UIDL is `uidl`: stored with it, or —
/// for a UIDL of this store's own form — the message that has it by its
/// id.
async fn message_by_uidl<C: GenericClient>(
    c: &C,
    account: AccountId,
    uidl: &str,
    uid_prefix: &str,
) -> Result<Option<MessageId>, StoreError> {
    let stored = rows(
        c,
        "SELECT id FROM messages WHERE account_id = $1 AND uidl = $2 LIMIT 1",
        &[&account, &uidl],
    )
    .await?;
    if let Some(r) = stored.first() {
        return Ok(Some(r.get(0)));
    }
    match import::own_form_id(uid_prefix, uidl) {
        Some(n) => Ok(rows(
            c,
            "SELECT id FROM messages WHERE id = $1 AND account_id = $2 AND uidl IS NULL",
            &[&n, &account],
        )
        .await?
        .first()
        .map(|r| r.get(0))),
        None => Ok(None),
    }
}

/// Adds a message referring to a stored body to a mailbox and counts it
/// in the mailbox's and its domain's usage. The caller holds the rows.
pub(super) async fn add_message<C: GenericClient>(
    c: &C,
    account: AccountId,
    body_id: i64,
    size: i64,
    received: i64,
    uidl: Option<&str>,
    prefix: Option<&[u8]>,
) -> Result<MessageId, StoreError> {
    let id: MessageId = one(
        c,
        "INSERT INTO messages (account_id, body_id, size, received, uidl, prefix)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        &[&account, &body_id, &size, &received, &uidl, &prefix],
    )
    .await?
    .get(0);
    count_usage(c, account, size, 1).await?;
    Ok(id)
}

/// Adds (or with negative numbers, removes) octets and messages to an
/// account's usage and its domain's.
async fn count_usage<C: GenericClient>(
    c: &C,
    account: AccountId,
    bytes: i64,
    messages: i64,
) -> Result<(), StoreError> {
    // No domain counter: the total is summed when a domain quota needs it
    // (one row every delivery updated would serialise them all).
    let n = exec(
        c,
        "UPDATE accounts SET used_bytes = greatest(used_bytes + $1, 0),
                             used_messages = greatest(used_messages + $2, 0)
         WHERE id = $3",
        &[&bytes, &messages, &account],
    )
    .await?;
    if n != 1 {
        return Err(StoreError::NotFound(Subject::AccountId(account)));
    }
    Ok(())
}

pub(super) async fn quota_notice<C: GenericClient>(
    c: &C,
    account: AccountId,
    thresholds: &[u8],
    notice: Option<(Spool, NoticeWriter)>,
) -> Result<bool, StoreError> {
    lock_accounts(c, &[account]).await?;
    let u = usage(c, account)
        .await?
        .ok_or_else(|| StoreError::NotFound(Subject::AccountId(account)))?;
    let step = u.warning(thresholds, notice.is_some());
    if let Some(level) = step.remember {
        exec(
            c,
            "UPDATE accounts SET quota_warned = $1 WHERE id = $2",
            &[&i64::from(level), &account],
        )
        .await?;
    }
    match notice.filter(|_| step.deliver) {
        Some((mut body, write)) => {
            write(&u, step.level, &mut body)?;
            let (body_id, size) = store_body(c, body, 1).await?;
            add_message(c, account, body_id, size, now(), None, None).await?;
            Ok(true)
        }
        None => Ok(false),
    }
}

pub(super) async fn mark_retrieved<C: GenericClient>(
    c: &C,
    account: AccountId,
    messages: &[MessageId],
    at: i64,
) -> Result<(), StoreError> {
    exec(
        c,
        "UPDATE messages SET retrieved = $1
         WHERE id = ANY($2) AND account_id = $3 AND retrieved IS NULL",
        &[&at, &messages, &account],
    )
    .await?;
    Ok(())
}

/// Accounts with their effective retention apart from the server default.
pub(super) async fn retention_list<C: GenericClient>(
    c: &C,
) -> Result<Vec<(AccountId, Retention)>, StoreError> {
    Ok(rows(
        c,
        "SELECT a.id, a.keep_after_retrieval, a.keep_max_age,
                d.keep_after_retrieval, d.keep_max_age
         FROM accounts a JOIN domains d ON d.id = a.domain_id ORDER BY a.id",
        &[],
    )
    .await?
    .iter()
    .map(|r| {
        (
            r.get(0),
            Retention::from_db(r.get(1), r.get(2)).or(Retention::from_db(r.get(3), r.get(4))),
        )
    })
    .collect())
}

/// Deletes what `cut` says has expired from one mailbox. The caller holds
/// the maildrop lock.
pub(super) async fn expire_account<C: GenericClient>(
    c: &C,
    account: AccountId,
    cut: Cutoffs,
) -> Result<Expired, StoreError> {
    let victims: Vec<(MessageId, i64)> = rows(
        c,
        "SELECT id, size FROM messages WHERE account_id = $1 AND
            (($2::bigint IS NOT NULL AND retrieved IS NOT NULL AND retrieved <= $2)
             OR ($3::bigint IS NOT NULL AND received <= $3))",
        &[&account, &cut.retrieved_by, &cut.received_by],
    )
    .await?
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect();
    let ids: Vec<MessageId> = victims.iter().map(|v| v.0).collect();
    delete_messages(c, account, &ids).await?;
    Ok(Expired::deleted(victims.iter().map(|v| v.1)))
}

pub(super) async fn enqueue<C: GenericClient>(
    c: &C,
    body_id: i64,
    o: &Outbound,
    now: i64,
) -> Result<QueueId, StoreError> {
    let id: QueueId = one(
        c,
        "INSERT INTO queue (body_id, sender, envid, ret, smtputf8, eight_bit, created, account,
                            tls_required, prefix, forwarded)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        &[
            &body_id,
            &o.sender,
            &o.envid,
            &ret_to_db(o.ret),
            &o.smtputf8,
            &o.eight_bit,
            &now,
            &o.account,
            &o.tls.to_db(),
            &Some(o.prefix.as_slice()).filter(|p| !p.is_empty()),
            &o.forwarded,
        ],
    )
    .await?
    .get(0);
    // Mail of an account on hold is held from the start.
    let held = match o.account {
        Some(a) => opt(
            c,
            "SELECT 1 FROM accounts WHERE id = $1 AND held IS NOT NULL",
            &[&a],
        )
        .await?
        .is_some(),
        None => false,
    };
    let state = if held {
        RcptState::Held
    } else {
        RcptState::Pending
    };
    for r in &o.recipients {
        exec(
            c,
            "INSERT INTO queue_rcpts
                (queue_id, rcpt, domain, orcpt, notify, state, next_attempt, updated)
             VALUES ($1, $2, $3, $4, $5, $7, $6, $6)",
            &[
                &id,
                &r.address,
                &r.domain,
                &r.orcpt,
                &notify_to_db(r.notify),
                &now,
                &state.db(),
            ],
        )
        .await?;
    }
    Ok(id)
}

async fn queue_header<C: GenericClient>(
    c: &C,
    id: QueueId,
) -> Result<Option<QueueEntry>, StoreError> {
    Ok(opt(
        c,
        "SELECT q.id, q.sender, q.envid, q.ret, q.smtputf8, q.eight_bit, q.created,
            b.size + COALESCE(octet_length(q.prefix), 0)::BIGINT, q.account, q.tls_required,
            q.forwarded
         FROM queue q JOIN bodies b ON b.id = q.body_id WHERE q.id = $1",
        &[&id],
    )
    .await?
    .map(|r| QueueEntry {
        id: r.get(0),
        sender: r.get(1),
        envid: r.get(2),
        ret: ret_from_db(r.get(3)),
        smtputf8: r.get(4),
        eight_bit: r.get(5),
        created: r.get(6),
        size: r.get::<_, i64>(7) as u64,
        recipients: Vec::new(),
        account: r.get(8),
        tls: SenderTls::from_db(r.get(9)),
        forwarded: r.get(10),
    }))
}

fn queue_rcpt_row(r: &Row) -> QueuedRcpt {
    QueuedRcpt {
        id: r.get(0),
        rcpt: OutboundRcpt {
            address: r.get(1),
            domain: r.get(2),
            orcpt: r.get(3),
            notify: notify_from_db(r.get(4)),
        },
        state: RcptState::from_db(r.get(5)),
        attempts: r.get::<_, i64>(6).clamp(0, i64::from(u32::MAX)) as u32,
        next_attempt: r.get(7),
        last_error: r.get(8),
        delay_notified: r.get(9),
    }
}

const RCPT_COLUMNS: &str =
    "id, rcpt, domain, orcpt, notify, state, attempts, next_attempt, last_error, delay_notified";

pub(super) async fn queue_get<C: GenericClient>(
    c: &C,
    id: QueueId,
) -> Result<Option<QueueEntry>, StoreError> {
    let Some(mut entry) = queue_header(c, id).await? else {
        return Ok(None);
    };
    let sql = format!("SELECT {RCPT_COLUMNS} FROM queue_rcpts WHERE queue_id = $1 ORDER BY id");
    entry.recipients = rows(c, &sql, &[&id])
        .await?
        .iter()
        .map(queue_rcpt_row)
        .collect();
    Ok(Some(entry))
}

pub(super) async fn queue_list<C: GenericClient>(c: &C) -> Result<Vec<QueueEntry>, StoreError> {
    let ids: Vec<QueueId> = rows(c, "SELECT id FROM queue ORDER BY id", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(e) = queue_get(c, id).await? {
            out.push(e);
        }
    }
    Ok(out)
}

pub(super) async fn queue_take_due<C: GenericClient>(
    c: &C,
    now: i64,
    lease_secs: i64,
    limit: usize,
    node: &str,
) -> Result<Vec<QueueEntry>, StoreError> {
    // SKIP LOCKED: workers on other nodes taking at this moment pass over
    // each other's rows instead of waiting for them or taking them twice.
    let sql = format!(
        "WITH due AS (
            SELECT id FROM queue_rcpts
            WHERE state = 'pending' AND next_attempt <= $1 AND lease_until <= $1
            ORDER BY next_attempt, id LIMIT $2
            FOR UPDATE SKIP LOCKED)
         UPDATE queue_rcpts r SET lease_until = $3, lease_node = $4
         FROM due WHERE r.id = due.id
         RETURNING {}, r.queue_id",
        RCPT_COLUMNS
            .split(", ")
            .map(|c| format!("r.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut taken: Vec<(QueuedRcpt, QueueId)> = rows(
        c,
        &sql,
        &[&now, &(limit as i64), &(now + lease_secs), &node],
    )
    .await?
    .iter()
    .map(|r| (queue_rcpt_row(r), r.get(10)))
    .collect();
    due_order(&mut taken);
    let mut headers = Vec::new();
    for q in taken_messages(&taken) {
        headers.extend(queue_header(c, q).await?);
    }
    Ok(group_taken(taken, headers))
}

pub(super) async fn queue_record<C: GenericClient>(
    c: &C,
    results: &[(QueueRcptId, AttemptResult)],
    node: &str,
) -> Result<(), StoreError> {
    let t = now();
    for (id, result) in results {
        let (state, next, error) = result.record();
        // Only a pending recipient takes a result: a final one keeps its
        // own. A retry is only this node's to record while no other node
        // took the recipient over (its lease lapsed and another leased it):
        // clearing that node's lease would let a third send it again.
        let n = exec(
            c,
            "UPDATE queue_rcpts SET
                state = CASE WHEN state = 'held' AND $1 = 'pending' THEN 'held' ELSE $1 END,
                attempts = attempts + 1,
                next_attempt = COALESCE($2, next_attempt), last_error = $3,
                lease_until = 0, lease_node = NULL, updated = $4
             WHERE id = $5 AND state IN ('pending', 'held')
               AND ($1 <> 'pending' OR lease_node IS NULL OR lease_node = $6)",
            &[&state.db(), &next, &error, &t, id, &node],
        )
        .await?;
        if n != 1
            && opt(c, "SELECT 1 FROM queue_rcpts WHERE id = $1", &[id])
                .await?
                .is_none()
        {
            return Err(StoreError::NotFound(Subject::QueuedRcpt(*id)));
        }
    }
    Ok(())
}

pub(super) async fn queue_retry_now<C: GenericClient>(
    c: &C,
    id: Option<QueueId>,
    now: i64,
) -> Result<u64, StoreError> {
    if let Some(id) = id
        && queue_header(c, id).await?.is_none()
    {
        return Err(StoreError::NotFound(Subject::Queued(id)));
    }
    exec(
        c,
        "UPDATE queue_rcpts SET next_attempt = $1
         WHERE state = 'pending' AND ($2::bigint IS NULL OR queue_id = $2)",
        &[&now, &id],
    )
    .await
}

pub(super) async fn queue_delete<C: GenericClient>(c: &C, id: QueueId) -> Result<(), StoreError> {
    let body_id: i64 = opt(
        c,
        "DELETE FROM queue WHERE id = $1 RETURNING body_id",
        &[&id],
    )
    .await?
    .ok_or_else(|| StoreError::NotFound(Subject::Queued(id)))?
    .get(0);
    release_body(c, body_id, 1).await
}

/// Drops `n` references to a body, deleting it (its chunks and downgrade
/// cascade) with the last one.
async fn release_body<C: GenericClient>(c: &C, body_id: i64, n: i64) -> Result<(), StoreError> {
    let refs: Option<i64> = opt(
        c,
        "UPDATE bodies SET refs = refs - $2 WHERE id = $1 RETURNING refs",
        &[&body_id, &n],
    )
    .await?
    .map(|r| r.get(0));
    if refs.is_some_and(|r| r <= 0) {
        exec(c, "DELETE FROM bodies WHERE id = $1", &[&body_id]).await?;
    }
    Ok(())
}

pub(super) async fn list_messages<C: GenericClient>(
    c: &C,
    account: AccountId,
    uid_prefix: &str,
) -> Result<Vec<MessageMeta>, StoreError> {
    Ok(rows(
        c,
        "SELECT m.id, m.uidl, m.size, m.received, d.body_id, d.header_len,
                length(d.header)::bigint, m.prefix, m.retrieved
         FROM messages m LEFT JOIN body_downgrades d ON d.body_id = m.body_id
         WHERE m.account_id = $1 ORDER BY m.id",
        &[&account],
    )
    .await?
    .iter()
    .map(|r| {
        let id: MessageId = r.get(0);
        let size = r.get::<_, i64>(2) as u64;
        let downgrade = r.get::<_, Option<i64>>(4).map(|_| {
            (
                r.get::<_, i64>(5) as u64,
                r.get::<_, Option<i64>>(6).map(|l| l as u64),
            )
        });
        MessageMeta {
            id,
            uidl: uidl(uid_prefix, id, r.get(1)),
            size,
            received: r.get(3),
            retrieved: r.get(8),
            legacy: LegacyView::from_stored(
                size,
                downgrade,
                r.get::<_, Option<Vec<u8>>>(7).as_deref(),
            ),
        }
    })
    .collect())
}

/// A message's body: (body id, number of chunks).
pub(super) async fn message_body<C: GenericClient>(
    c: &C,
    account: AccountId,
    message: MessageId,
) -> Result<(i64, i64, Option<Vec<u8>>), StoreError> {
    opt(
        c,
        "SELECT b.id, b.chunks, m.prefix FROM messages m JOIN bodies b ON b.id = m.body_id
         WHERE m.id = $1 AND m.account_id = $2",
        &[&message, &account],
    )
    .await?
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .ok_or_else(|| StoreError::NotFound(Subject::Message(message)))
}

/// A queued message's body: (body id, number of chunks).
pub(super) async fn queued_body<C: GenericClient>(
    c: &C,
    id: QueueId,
) -> Result<(i64, i64, Option<Vec<u8>>), StoreError> {
    opt(
        c,
        "SELECT b.id, b.chunks, q.prefix FROM queue q JOIN bodies b ON b.id = q.body_id
         WHERE q.id = $1",
        &[&id],
    )
    .await?
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .ok_or_else(|| StoreError::NotFound(Subject::Queued(id)))
}

pub(super) async fn read_chunk<C: GenericClient>(
    c: &C,
    body_id: i64,
    seq: i64,
) -> Result<Vec<u8>, StoreError> {
    opt(
        c,
        "SELECT data FROM body_chunks WHERE body_id = $1 AND seq = $2",
        &[&body_id, &seq],
    )
    .await?
    .map(|r| r.get(0))
    .ok_or_else(|| corrupt("missing body chunk"))
}

pub(super) async fn message_downgrade<C: GenericClient>(
    c: &C,
    account: AccountId,
    message: MessageId,
) -> Result<Option<HeaderDowngrade>, StoreError> {
    let row = opt(
        c,
        "SELECT d.body_id, d.header_len, d.header, m.prefix
         FROM messages m LEFT JOIN body_downgrades d ON d.body_id = m.body_id
         WHERE m.id = $1 AND m.account_id = $2",
        &[&message, &account],
    )
    .await?
    .ok_or_else(|| StoreError::NotFound(Subject::Message(message)))?;
    match row.get::<_, Option<i64>>(0) {
        None => Ok(None),
        Some(_) => Ok(Some(HeaderDowngrade::after_prefix(
            row.get::<_, Option<Vec<u8>>>(3)
                .as_deref()
                .unwrap_or_default(),
            row.get::<_, Option<i64>>(1).unwrap_or(0) as u64,
            row.get(2),
        ))),
    }
}

pub(super) async fn delete_messages<C: GenericClient>(
    c: &C,
    account: AccountId,
    messages: &[MessageId],
) -> Result<(), StoreError> {
    if messages.is_empty() {
        return Ok(());
    }
    lock_accounts(c, &[account]).await?;
    // Already gone (removed by another path): deleting is idempotent.
    let gone = rows(
        c,
        "DELETE FROM messages WHERE id = ANY($1) AND account_id = $2 RETURNING body_id, size",
        &[&messages, &account],
    )
    .await?;
    let bytes: i64 = gone.iter().map(|r| r.get::<_, i64>(1)).sum();
    count_usage(c, account, -bytes, -(gone.len() as i64)).await?;
    let mut bodies: Vec<i64> = gone.iter().map(|r| r.get(0)).collect();
    bodies.sort_unstable();
    for chunk in bodies.chunk_by(|a, b| a == b) {
        release_body(c, chunk[0], chunk.len() as i64).await?;
    }
    // Less mail: the warning thresholds above what is left re-arm.
    rearm_warnings(c, account).await
}

/// Lowers the remembered warning level to the usage left (after deletions
/// or a raised quota), which re-arms the thresholds above it.
async fn rearm_warnings<C: GenericClient>(c: &C, account: AccountId) -> Result<(), StoreError> {
    if let Some(u) = usage(c, account).await? {
        exec(
            c,
            "UPDATE accounts SET quota_warned = least(quota_warned, $1) WHERE id = $2",
            &[&i64::from(u.rearmed()), &account],
        )
        .await?;
    }
    Ok(())
}

/// One greylisting attempt (see [`crate::Store::greylist`]), inside the
/// caller's transaction: the triplet's row is locked, so two nodes seeing
/// the same attempt decide one after the other.
pub(super) async fn greylist<C: GenericClient>(
    c: &C,
    triplet: &str,
    client: &str,
    now: i64,
    rules: &GreyRules,
) -> Result<GreyOutcome, StoreError> {
    let cutoff = now - rules.max_age;
    let entry = opt(
        c,
        "SELECT first_seen, last_seen, passed FROM greylist WHERE triplet = $1 FOR UPDATE",
        &[&triplet],
    )
    .await?
    .map(|r| GreyEntry {
        first_seen: r.get(0),
        last_seen: r.get(1),
        passed: r.get(2),
    });
    if entry.is_none() {
        // New triplets are where the table grows: prune there.
        exec(c, "DELETE FROM greylist WHERE last_seen < $1", &[&cutoff]).await?;
        exec(
            c,
            "DELETE FROM greylist_clients WHERE last_seen < $1",
            &[&cutoff],
        )
        .await?;
    }
    let client_known = opt(
        c,
        "SELECT 1 FROM greylist_clients WHERE client = $1 AND last_seen >= $2",
        &[&client, &cutoff],
    )
    .await?
    .is_some();
    let (outcome, e) = greylist::step(entry, client_known, now, rules);
    exec(
        c,
        "INSERT INTO greylist (triplet, first_seen, last_seen, passed) VALUES ($1, $2, $3, $4)
         ON CONFLICT (triplet) DO UPDATE SET first_seen = $2, last_seen = $3, passed = $4",
        &[&triplet, &e.first_seen, &e.last_seen, &e.passed],
    )
    .await?;
    if outcome == GreyOutcome::Pass {
        exec(
            c,
            "INSERT INTO greylist_clients (client, last_seen) VALUES ($1, $2)
             ON CONFLICT (client) DO UPDATE SET last_seen = $2",
            &[&client, &now],
        )
        .await?;
    }
    Ok(outcome)
}

/// The cached MTA-STS policy of `domain` (see [`crate::Store::mta_sts_get`]).
pub(super) async fn mta_sts_get<C: GenericClient>(
    c: &C,
    domain: &str,
) -> Result<Option<MtaStsRecord>, StoreError> {
    let row = opt(
        c,
        "SELECT domain, id, policy, fetched, expires FROM mta_sts_policies WHERE domain = $1",
        &[&domain],
    )
    .await?;
    Ok(row.map(|r| MtaStsRecord {
        domain: r.get(0),
        id: r.get(1),
        policy: r.get(2),
        fetched: r.get(3),
        expires: r.get(4),
    }))
}

/// Stores a domain's MTA-STS policy (see [`crate::Store::mta_sts_put`]).
pub(super) async fn mta_sts_put<C: GenericClient>(
    c: &C,
    r: &MtaStsRecord,
) -> Result<(), StoreError> {
    exec(
        c,
        "INSERT INTO mta_sts_policies (domain, id, policy, fetched, expires)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (domain) DO UPDATE SET id = EXCLUDED.id, policy = EXCLUDED.policy,
            fetched = EXCLUDED.fetched, expires = EXCLUDED.expires",
        &[&r.domain, &r.id, &r.policy, &r.fetched, &r.expires],
    )
    .await?;
    Ok(())
}

/// Charges a submitted message to its sending counters, or refuses it
/// (see [`crate::Store::send_charge`]), inside the caller's transaction:
/// the four counter rows are created if missing and locked in one order
/// (`FOR UPDATE`), so charges on several nodes decide one after the other.
pub(super) async fn send_charge<C: GenericClient>(
    c: &C,
    charge: &SendCharge,
    now: i64,
    limits: &SendLimits,
) -> Result<SendOutcome, StoreError> {
    let keys = sending::counters(charge, now);
    let mut created = 0;
    for (scope, span, bucket) in &keys {
        created += exec(
            c,
            "INSERT INTO send_counts (scope, span, bucket) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            &[scope, &span.secs(), bucket],
        )
        .await?;
    }
    let mut tallies = [Tally::default(); 4];
    for ((scope, span, bucket), t) in keys.iter().zip(tallies.iter_mut()) {
        let r = one(
            c,
            "SELECT messages, new_rcpts FROM send_counts
             WHERE scope = $1 AND span = $2 AND bucket = $3 FOR UPDATE",
            &[scope, &span.secs(), bucket],
        )
        .await?;
        *t = Tally {
            messages: r.get::<_, i64>(0).max(0) as u64,
            new_recipients: r.get::<_, i64>(1).max(0) as u64,
        };
    }
    if created > 0 {
        // A new window began: the old ones are no longer needed.
        exec(
            c,
            "DELETE FROM send_counts WHERE bucket < $1",
            &[&(now - sending::COUNTER_MEMORY)],
        )
        .await?;
        exec(
            c,
            "DELETE FROM send_recipients WHERE last_sent < $1",
            &[&(now - sending::RECIPIENT_MEMORY)],
        )
        .await?;
    }
    let mut new = 0u64;
    for rcpt in &charge.recipients {
        let known = opt(
            c,
            "SELECT 1 FROM send_recipients WHERE account = $1 AND rcpt = $2 AND last_sent >= $3",
            &[&charge.account, rcpt, &(now - sending::RECIPIENT_MEMORY)],
        )
        .await?
        .is_some();
        new += u64::from(!known);
    }
    if let Some(over) = sending::decide(&tallies, new, limits, now) {
        return Ok(SendOutcome::Over(over));
    }
    for (scope, span, bucket) in &keys {
        exec(
            c,
            "UPDATE send_counts SET messages = messages + 1, new_rcpts = new_rcpts + $4
             WHERE scope = $1 AND span = $2 AND bucket = $3",
            &[scope, &span.secs(), bucket, &(new as i64)],
        )
        .await?;
    }
    for rcpt in &charge.recipients {
        exec(
            c,
            "INSERT INTO send_recipients (account, rcpt, last_sent) VALUES ($1, $2, $3)
             ON CONFLICT (account, rcpt) DO UPDATE SET last_sent = $3",
            &[&charge.account, rcpt, &now],
        )
        .await?;
    }
    Ok(SendOutcome::Counted(Ticket {
        hour: keys[0].2,
        day: keys[1].2,
        new_recipients: new,
    }))
}

/// Gives back what [`send_charge`] took for a message that was not stored.
pub(super) async fn send_refund<C: GenericClient>(
    c: &C,
    charge: &SendCharge,
    ticket: &Ticket,
) -> Result<(), StoreError> {
    for (scope, span, _) in sending::counters(charge, ticket.hour) {
        let bucket = match span {
            sending::Span::Hour => ticket.hour,
            sending::Span::Day => ticket.day,
        };
        exec(
            c,
            "UPDATE send_counts SET messages = greatest(messages - 1, 0),
                new_rcpts = greatest(new_rcpts - $4, 0)
             WHERE scope = $1 AND span = $2 AND bucket = $3",
            &[
                &scope,
                &span.secs(),
                &bucket,
                &(ticket.new_recipients as i64),
            ],
        )
        .await?;
    }
    Ok(())
}

/// Puts an account on hold (with its queued mail) or takes the hold off
/// (see [`crate::Store::account_set_hold`]).
pub(super) async fn account_set_hold<C: GenericClient>(
    c: &C,
    account: AccountId,
    reason: Option<&str>,
) -> Result<bool, StoreError> {
    if opt(
        c,
        "SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE",
        &[&account],
    )
    .await?
    .is_none()
    {
        return Err(StoreError::NotFound(Subject::AccountId(account)));
    }
    let changed = match reason {
        Some(r) => {
            exec(
                c,
                "UPDATE accounts SET held = $2 WHERE id = $1 AND held IS NULL",
                &[&account, &r],
            )
            .await?
        }
        None => {
            exec(
                c,
                "UPDATE accounts SET held = NULL WHERE id = $1 AND held IS NOT NULL",
                &[&account],
            )
            .await?
        }
    };
    if reason.is_some() {
        queue_hold(c, QueueTarget::Account(account)).await?;
    }
    Ok(changed == 1)
}

async fn queue_target_exists<C: GenericClient>(
    c: &C,
    target: QueueTarget,
) -> Result<(), StoreError> {
    if let QueueTarget::Message(id) = target
        && queue_header(c, id).await?.is_none()
    {
        return Err(StoreError::NotFound(Subject::Queued(id)));
    }
    Ok(())
}

/// The queue recipients of `target`, as SQL over `$1` (the target's id).
fn target_sql(target: QueueTarget) -> &'static str {
    match target {
        QueueTarget::Message(_) => "queue_id = $1",
        QueueTarget::Account(_) => "queue_id IN (SELECT id FROM queue WHERE account = $1)",
    }
}

fn target_id(target: QueueTarget) -> i64 {
    match target {
        QueueTarget::Message(id) => id.get(),
        QueueTarget::Account(a) => a.get(),
    }
}

/// Holds the pending recipients of `target`.
pub(super) async fn queue_hold<C: GenericClient>(
    c: &C,
    target: QueueTarget,
) -> Result<u64, StoreError> {
    queue_target_exists(c, target).await?;
    let sql = format!(
        "UPDATE queue_rcpts SET state = 'held' WHERE state = 'pending' AND {}",
        target_sql(target)
    );
    exec(c, &sql, &[&target_id(target)]).await
}

/// Releases the held recipients of `target`: due at `now`, or deleted
/// (with the messages left without a recipient to send to).
pub(super) async fn queue_release<C: GenericClient>(
    c: &C,
    target: QueueTarget,
    delete: bool,
    now: i64,
) -> Result<u64, StoreError> {
    queue_target_exists(c, target).await?;
    let id = target_id(target);
    if !delete {
        let sql = format!(
            "UPDATE queue_rcpts SET state = 'pending', next_attempt = $2, lease_until = 0,
                lease_node = NULL
             WHERE state = 'held' AND {}",
            target_sql(target)
        );
        return exec(c, &sql, &[&id, &now]).await;
    }
    let sql = format!(
        "SELECT DISTINCT queue_id FROM queue_rcpts WHERE state = 'held' AND {}",
        target_sql(target)
    );
    let queues: Vec<QueueId> = rows(c, &sql, &[&id])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut n = 0;
    for q in queues {
        n += exec(
            c,
            "DELETE FROM queue_rcpts WHERE queue_id = $1 AND state = 'held'",
            &[&q],
        )
        .await?;
        let open = opt(
            c,
            "SELECT 1 FROM queue_rcpts WHERE queue_id = $1 AND state IN ('pending', 'held') LIMIT 1",
            &[&q],
        )
        .await?
        .is_some();
        if !open {
            queue_delete(c, q).await?;
        }
    }
    Ok(n)
}

/// Adds an account's outbound results to its current hour and sums the
/// last day (see [`crate::Store::send_outcomes`]).
pub(super) async fn send_outcomes<C: GenericClient>(
    c: &C,
    account: AccountId,
    finished: u64,
    failed: u64,
    now: i64,
) -> Result<sending::Outcomes, StoreError> {
    let scope = sending::outcome_scope(account);
    let bucket = sending::Span::Hour.bucket(now);
    exec(
        c,
        "INSERT INTO send_counts (scope, span, bucket, messages, new_rcpts)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (scope, span, bucket) DO UPDATE
         SET messages = send_counts.messages + $4, new_rcpts = send_counts.new_rcpts + $5",
        &[
            &scope,
            &sending::HOUR,
            &bucket,
            &(finished as i64),
            &(failed as i64),
        ],
    )
    .await?;
    let r = one(
        c,
        "SELECT COALESCE(SUM(messages), 0)::bigint, COALESCE(SUM(new_rcpts), 0)::bigint
         FROM send_counts WHERE scope = $1 AND span = $2 AND bucket > $3",
        &[&scope, &sending::HOUR, &(now - sending::DAY)],
    )
    .await?;
    Ok(sending::Outcomes {
        finished: r.get::<_, i64>(0).max(0) as u64,
        failed: r.get::<_, i64>(1).max(0) as u64,
    })
}

/// Counts a DMARC evaluation (see [`crate::Store::dmarc_record`]) inside
/// the caller's transaction: the upsert locks the day's row, so nodes
/// counting into the same day do so one after the other and the row cap
/// holds. The domain cap is checked without a lock: nodes adding new
/// domains at the same instant may pass it by a few.
pub(super) async fn dmarc_record<C: GenericClient>(
    c: &C,
    e: &DmarcEvent,
    limits: DmarcLimits,
) -> Result<DmarcRecorded, StoreError> {
    let known = opt(
        c,
        "SELECT 1 FROM dmarc_days WHERE domain = $1 AND day = $2",
        &[&e.domain, &e.day],
    )
    .await?
    .is_some();
    if !known {
        let domains: i64 = one(
            c,
            "SELECT count(*) FROM dmarc_days WHERE day = $1",
            &[&e.day],
        )
        .await?
        .get(0);
        if domains as u64 >= limits.max_domains {
            return Ok(DmarcRecorded::DomainsFull);
        }
    }
    let rows: i64 = one(
        c,
        "INSERT INTO dmarc_days (domain, day, policy, rows, dropped) VALUES ($1, $2, $3, 0, 0)
         ON CONFLICT (domain, day) DO UPDATE SET policy = EXCLUDED.policy
         RETURNING rows",
        &[&e.domain, &e.day, &e.policy],
    )
    .await?
    .get(0);
    let counted = exec(
        c,
        "UPDATE dmarc_rows SET count = count + 1 WHERE domain = $1 AND day = $2 AND row = $3",
        &[&e.domain, &e.day, &e.row],
    )
    .await?;
    if counted > 0 {
        return Ok(DmarcRecorded::Counted);
    }
    if rows as u64 >= limits.max_rows {
        exec(
            c,
            "UPDATE dmarc_days SET dropped = dropped + 1 WHERE domain = $1 AND day = $2",
            &[&e.domain, &e.day],
        )
        .await?;
        return Ok(DmarcRecorded::Dropped);
    }
    exec(
        c,
        "INSERT INTO dmarc_rows (domain, day, row, count) VALUES ($1, $2, $3, 1)",
        &[&e.domain, &e.day, &e.row],
    )
    .await?;
    exec(
        c,
        "UPDATE dmarc_days SET rows = rows + 1 WHERE domain = $1 AND day = $2",
        &[&e.domain, &e.day],
    )
    .await?;
    Ok(DmarcRecorded::Counted)
}

/// Takes one domain's day out (see [`crate::Store::dmarc_take`]): the day
/// is locked with `SKIP LOCKED`, so a node taking at the same time takes
/// another one, never the same.
pub(super) async fn dmarc_take<C: GenericClient>(
    c: &C,
    before_day: i64,
) -> Result<Option<DmarcDay>, StoreError> {
    let Some(r) = opt(
        c,
        "SELECT domain, day, policy, dropped FROM dmarc_days WHERE day < $1
         ORDER BY day, domain LIMIT 1 FOR UPDATE SKIP LOCKED",
        &[&before_day],
    )
    .await?
    else {
        return Ok(None);
    };
    let mut day = DmarcDay {
        domain: r.get(0),
        day: r.get(1),
        policy: r.get(2),
        rows: Vec::new(),
        dropped: r.get::<_, i64>(3) as u64,
    };
    let st = c
        .prepare_cached(
            "DELETE FROM dmarc_rows WHERE domain = $1 AND day = $2 RETURNING row, count",
        )
        .await?;
    day.rows = c
        .query(&st, &[&day.domain, &day.day])
        .await?
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1) as u64))
        .collect();
    day.rows.sort();
    exec(
        c,
        "DELETE FROM dmarc_days WHERE domain = $1 AND day = $2",
        &[&day.domain, &day.day],
    )
    .await?;
    Ok(Some(day))
}

/// Counts TLS-RPT sessions (see [`crate::Store::tls_report_record`])
/// inside the caller's transaction. The upsert of each day's row locks
/// it, so nodes counting into the same day do so one after the other and
/// the row cap holds; days are locked in (domain, day) order, so two
/// nodes' batches never wait for each other in a circle. The domain cap is
/// checked without a lock: nodes adding new domains at the same instant
/// may pass it by a few.
pub(super) async fn tls_report_record<C: GenericClient>(
    c: &C,
    events: &[TlsEvent],
    limits: TlsLimits,
) -> Result<TlsRecorded, StoreError> {
    let mut order: Vec<&TlsEvent> = events.iter().collect();
    order.sort_by(|a, b| (&a.domain, a.day).cmp(&(&b.domain, b.day)));
    let mut done = TlsRecorded::default();
    for e in order {
        let count = e.count.min(i64::MAX as u64) as i64;
        let known = opt(
            c,
            "SELECT 1 FROM tls_report_days WHERE domain = $1 AND day = $2",
            &[&e.domain, &e.day],
        )
        .await?
        .is_some();
        if !known {
            let domains: i64 = one(
                c,
                "SELECT count(*) FROM tls_report_days WHERE day = $1",
                &[&e.day],
            )
            .await?
            .get(0);
            if domains as u64 >= limits.max_domains {
                done.lost += e.count;
                continue;
            }
        }
        let rows: i64 = one(
            c,
            "INSERT INTO tls_report_days (domain, day, rows, dropped) VALUES ($1, $2, 0, 0)
             ON CONFLICT (domain, day) DO UPDATE SET rows = tls_report_days.rows
             RETURNING rows",
            &[&e.domain, &e.day],
        )
        .await?
        .get(0);
        let counted = exec(
            c,
            "UPDATE tls_report_rows SET count = count + $5
             WHERE domain = $1 AND day = $2 AND policy = $3 AND result = $4",
            &[&e.domain, &e.day, &e.policy, &e.result, &count],
        )
        .await?;
        if counted > 0 {
            done.counted += e.count;
            continue;
        }
        if rows as u64 >= limits.max_rows {
            exec(
                c,
                "UPDATE tls_report_days SET dropped = dropped + $3 WHERE domain = $1 AND day = $2",
                &[&e.domain, &e.day, &count],
            )
            .await?;
            done.dropped += e.count;
            continue;
        }
        exec(
            c,
            "INSERT INTO tls_report_rows (domain, day, policy, result, count)
             VALUES ($1, $2, $3, $4, $5)",
            &[&e.domain, &e.day, &e.policy, &e.result, &count],
        )
        .await?;
        exec(
            c,
            "UPDATE tls_report_days SET rows = rows + 1 WHERE domain = $1 AND day = $2",
            &[&e.domain, &e.day],
        )
        .await?;
        done.counted += e.count;
    }
    Ok(done)
}

/// Takes one domain's day out (see [`crate::Store::tls_report_take`]):
/// the day is locked with `SKIP LOCKED`, so a node taking at the same time
/// takes another one, never the same.
pub(super) async fn tls_report_take<C: GenericClient>(
    c: &C,
    before_day: i64,
) -> Result<Option<TlsDay>, StoreError> {
    let Some(r) = opt(
        c,
        "SELECT domain, day, dropped FROM tls_report_days WHERE day < $1
         ORDER BY day, domain LIMIT 1 FOR UPDATE SKIP LOCKED",
        &[&before_day],
    )
    .await?
    else {
        return Ok(None);
    };
    let mut day = TlsDay {
        domain: r.get(0),
        day: r.get(1),
        rows: Vec::new(),
        dropped: r.get::<_, i64>(2) as u64,
    };
    let st = c
        .prepare_cached(
            "DELETE FROM tls_report_rows WHERE domain = $1 AND day = $2
             RETURNING policy, result, count",
        )
        .await?;
    day.rows = c
        .query(&st, &[&day.domain, &day.day])
        .await?
        .iter()
        .map(|r| {
            (
                r.get::<_, String>(0),
                r.get::<_, String>(1),
                r.get::<_, i64>(2) as u64,
            )
        })
        .collect();
    day.rows.sort();
    exec(
        c,
        "DELETE FROM tls_report_days WHERE domain = $1 AND day = $2",
        &[&day.domain, &day.day],
    )
    .await?;
    Ok(Some(day))
}

/// Sets or clears a mailbox's vacation reply (see
/// [`crate::Store::account_set_vacation`]).
pub(super) async fn account_set_vacation<C: GenericClient>(
    c: &C,
    a: &Address,
    v: Option<&Vacation>,
) -> Result<(), StoreError> {
    let id = require_account(c, a).await?;
    exec(
        c,
        "DELETE FROM vacation_replies WHERE account_id = $1",
        &[&id],
    )
    .await?;
    match v {
        None => {
            exec(c, "DELETE FROM vacations WHERE account_id = $1", &[&id]).await?;
        }
        Some(v) => {
            exec(
                c,
                "INSERT INTO vacations (account_id, subject, body, starts, ends, interval_days)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (account_id) DO UPDATE SET subject = EXCLUDED.subject,
                    body = EXCLUDED.body, starts = EXCLUDED.starts, ends = EXCLUDED.ends,
                    interval_days = EXCLUDED.interval_days",
                &[
                    &id,
                    &v.subject,
                    &v.text,
                    &v.starts,
                    &v.ends,
                    &i64::from(v.interval_days),
                ],
            )
            .await?;
        }
    }
    Ok(())
}

/// A mailbox's vacation reply (see [`crate::Store::account_vacation`]).
pub(super) async fn account_vacation<C: GenericClient>(
    c: &C,
    account: AccountId,
) -> Result<Option<Vacation>, StoreError> {
    let row = opt(
        c,
        "SELECT subject, body, starts, ends, interval_days FROM vacations WHERE account_id = $1",
        &[&account],
    )
    .await?;
    Ok(row.map(|r| Vacation {
        subject: r.get(0),
        text: r.get(1),
        starts: r.get(2),
        ends: r.get(3),
        interval_days: u32::try_from(r.get::<_, i64>(4)).unwrap_or(u32::MAX),
    }))
}

/// Whether a vacation reply to `sender` is due, recorded if so (see
/// [`crate::Store::vacation_reply_due`]), inside the caller's transaction.
/// A concurrent insert for the same sender makes this one do nothing
/// (`ON CONFLICT` waits for it), so one of them answers.
pub(super) async fn vacation_reply_due<C: GenericClient>(
    c: &C,
    account: AccountId,
    sender: &str,
    now: i64,
    interval: i64,
) -> Result<bool, StoreError> {
    exec(
        c,
        "DELETE FROM vacation_replies WHERE account_id = $1 AND sent <= $2",
        &[&account, &now.saturating_sub(interval)],
    )
    .await?;
    let inserted = exec(
        c,
        "INSERT INTO vacation_replies (account_id, sender, sent) VALUES ($1, $2, $3)
         ON CONFLICT (account_id, sender) DO NOTHING",
        &[&account, &sender, &now],
    )
    .await?;
    Ok(inserted == 1)
}

/// Sets or clears a mailbox's forwarding (see
/// [`crate::Store::account_set_forward`]), inside the caller's transaction.
pub(super) async fn account_set_forward<C: GenericClient>(
    c: &C,
    a: &Address,
    f: Option<&Forward>,
) -> Result<(), StoreError> {
    let id = require_account(c, a).await?;
    exec(
        c,
        "DELETE FROM forward_targets WHERE account_id = $1",
        &[&id],
    )
    .await?;
    exec(c, "DELETE FROM forwards WHERE account_id = $1", &[&id]).await?;
    if let Some(f) = f {
        exec(
            c,
            "INSERT INTO forwards (account_id, keep) VALUES ($1, $2)",
            &[&id, &f.keep],
        )
        .await?;
        for (i, t) in f.targets.iter().enumerate() {
            exec(
                c,
                "INSERT INTO forward_targets (account_id, seq, target) VALUES ($1, $2, $3)",
                &[&id, &(i as i64), &t.canonical()],
            )
            .await?;
        }
    }
    Ok(())
}

/// A mailbox's forwarding (see [`crate::Store::account_forward`]).
pub(super) async fn account_forward<C: GenericClient>(
    c: &C,
    account: AccountId,
) -> Result<Option<Forward>, StoreError> {
    let Some(row) = opt(
        c,
        "SELECT keep FROM forwards WHERE account_id = $1",
        &[&account],
    )
    .await?
    else {
        return Ok(None);
    };
    let rows = c
        .query(
            "SELECT target FROM forward_targets WHERE account_id = $1 ORDER BY seq",
            &[&account],
        )
        .await?;
    let mut targets = Vec::new();
    for r in rows {
        let t: String = r.get(0);
        targets.push(Address::parse(&t).map_err(|_| corrupt("forward target"))?);
    }
    Ok(Some(Forward {
        targets,
        keep: row.get(0),
    }))
}

/// The SRS secret, `fresh` stored first when there is none yet (see
/// [`crate::Store::srs_secret`]). The insert that loses a race does
/// nothing, so every node reads the one that won.
pub(super) async fn srs_secret<C: GenericClient>(
    c: &C,
    fresh: &str,
) -> Result<Vec<u8>, StoreError> {
    exec(
        c,
        "INSERT INTO meta (key, value) VALUES ('srs_secret', $1) ON CONFLICT (key) DO NOTHING",
        &[&fresh],
    )
    .await?;
    let row = one(c, "SELECT value FROM meta WHERE key = 'srs_secret'", &[]).await?;
    Ok(row.get::<_, String>(0).into_bytes())
}

/// Records a token (see [`crate::Store::token_create`]).
pub(super) async fn token_create<C: GenericClient>(
    c: &C,
    t: &crate::tokens::NewToken,
) -> Result<i64, StoreError> {
    let row = one(
        c,
        "INSERT INTO api_tokens (digest, name, kind, subjects, created)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
        &[
            &crate::tokens::digest_hex(&t.digest),
            &t.name,
            &t.scope.kind(),
            &t.scope.subjects(),
            &t.created,
        ],
    )
    .await?;
    Ok(row.get(0))
}

fn token_info(r: &Row) -> Result<crate::tokens::TokenInfo, StoreError> {
    crate::tokens::info(
        r.get(0),
        r.get(1),
        r.get::<_, &str>(2),
        r.get::<_, &str>(3),
        r.get(4),
    )
}

/// Every token (see [`crate::Store::token_list`]).
pub(super) async fn token_list<C: GenericClient>(
    c: &C,
) -> Result<Vec<crate::tokens::TokenInfo>, StoreError> {
    rows(
        c,
        "SELECT id, name, kind, subjects, created FROM api_tokens ORDER BY id",
        &[],
    )
    .await?
    .iter()
    .map(token_info)
    .collect()
}

/// The token with this digest (see [`crate::Store::token_by_digest`]).
pub(super) async fn token_by_digest<C: GenericClient>(
    c: &C,
    digest: &[u8; 32],
) -> Result<Option<crate::tokens::TokenInfo>, StoreError> {
    opt(
        c,
        "SELECT id, name, kind, subjects, created FROM api_tokens WHERE digest = $1",
        &[&crate::tokens::digest_hex(digest)],
    )
    .await?
    .as_ref()
    .map(token_info)
    .transpose()
}

/// Deletes a token (see [`crate::Store::token_revoke`]).
pub(super) async fn token_revoke<C: GenericClient>(c: &C, id: i64) -> Result<(), StoreError> {
    match exec(c, "DELETE FROM api_tokens WHERE id = $1", &[&id]).await? {
        0 => Err(StoreError::NotFound(Subject::Token(id))),
        _ => Ok(()),
    }
}

/// Adds or removes a domain administrator (see
/// [`crate::Store::domain_admin_set`]).
pub(super) async fn domain_admin_set<C: GenericClient>(
    c: &C,
    d: &Domain,
    a: &Address,
    admin: bool,
) -> Result<(), StoreError> {
    let did = domain_id(c, d)
        .await?
        .ok_or_else(|| StoreError::NotFound(Subject::Domain(d.clone())))?;
    let aid = require_account(c, a).await?;
    if admin {
        exec(
            c,
            "INSERT INTO domain_admins (domain_id, account_id) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
            &[&did, &aid],
        )
        .await?;
        return Ok(());
    }
    match exec(
        c,
        "DELETE FROM domain_admins WHERE domain_id = $1 AND account_id = $2",
        &[&did, &aid],
    )
    .await?
    {
        0 => Err(StoreError::NotFound(Subject::DomainAdmin(
            a.clone(),
            d.clone(),
        ))),
        _ => Ok(()),
    }
}

/// A domain's administrators (see [`crate::Store::domain_admins`]).
pub(super) async fn domain_admins<C: GenericClient>(
    c: &C,
    d: &Domain,
) -> Result<Vec<Address>, StoreError> {
    let mut out = Vec::new();
    for r in rows(
        c,
        "SELECT a.local, ad.name FROM domain_admins x
         JOIN domains d ON d.id = x.domain_id JOIN accounts a ON a.id = x.account_id
         JOIN domains ad ON ad.id = a.domain_id
         WHERE d.name = $1 ORDER BY ad.name, a.local",
        &[&d.ascii()],
    )
    .await?
    {
        let (local, domain): (String, String) = (r.get(0), r.get(1));
        out.push(
            Domain::parse(&domain)
                .ok()
                .and_then(|d| Address::new(&local, d).ok())
                .ok_or_else(|| corrupt("mailbox name"))?,
        );
    }
    Ok(out)
}

/// The domains a mailbox administers (see [`crate::Store::admin_domains`]).
pub(super) async fn admin_domains<C: GenericClient>(
    c: &C,
    a: &Address,
) -> Result<Vec<Domain>, StoreError> {
    let mut out = Vec::new();
    for r in rows(
        c,
        "SELECT d.name FROM domain_admins x
         JOIN domains d ON d.id = x.domain_id JOIN accounts a ON a.id = x.account_id
         JOIN domains ad ON ad.id = a.domain_id
         WHERE ad.name = $1 AND a.local = $2 ORDER BY d.name",
        &[&a.domain().ascii(), &a.local()],
    )
    .await?
    {
        let name: String = r.get(0);
        out.push(Domain::parse(&name).map_err(|_| corrupt("domain name"))?);
    }
    Ok(out)
}

fn limit_to_db(v: Option<u64>) -> Option<i64> {
    v.map(|v| i64::try_from(v).unwrap_or(i64::MAX))
}

fn limit_from_db(v: Option<i64>) -> Option<u64> {
    v.map(|v| v.max(0) as u64)
}

/// A domain's limits (see [`crate::Store::domain_limits`]).
pub(super) async fn domain_limits<C: GenericClient>(
    c: &C,
    d: &Domain,
) -> Result<DomainLimits, StoreError> {
    let r = opt(
        c,
        "SELECT max_mailboxes, max_aliases, max_mailbox_quota, max_total_quota
         FROM domains WHERE name = $1",
        &[&d.ascii()],
    )
    .await?
    .ok_or_else(|| StoreError::NotFound(Subject::Domain(d.clone())))?;
    Ok(DomainLimits {
        mailboxes: limit_from_db(r.get(0)),
        aliases: limit_from_db(r.get(1)),
        mailbox_quota: limit_from_db(r.get(2)),
        total_quota: limit_from_db(r.get(3)),
    })
}

/// Sets a domain's limits (see [`crate::Store::domain_set_limits`]).
pub(super) async fn domain_set_limits<C: GenericClient>(
    c: &C,
    d: &Domain,
    l: &DomainLimits,
) -> Result<(), StoreError> {
    let n = exec(
        c,
        "UPDATE domains SET max_mailboxes = $1, max_aliases = $2, max_mailbox_quota = $3,
                max_total_quota = $4 WHERE name = $5",
        &[
            &limit_to_db(l.mailboxes),
            &limit_to_db(l.aliases),
            &limit_to_db(l.mailbox_quota),
            &limit_to_db(l.total_quota),
            &d.ascii(),
        ],
    )
    .await?;
    if n == 0 {
        return Err(StoreError::NotFound(Subject::Domain(d.clone())));
    }
    Ok(())
}

/// Checks `change` against `d`'s limits, inside the caller's transaction:
/// the domain's row is locked first (as every addition to it does), so
/// the counts read after it cannot change before the commit.
async fn check_limits<C: GenericClient>(
    c: &C,
    d: &Domain,
    change: LimitedChange,
) -> Result<(), StoreError> {
    let id = lock_domain(c, d).await?;
    let limits = domain_limits(c, d).await?;
    if limits.is_unlimited() {
        return Ok(());
    }
    let r = one(
        c,
        "SELECT (SELECT count(*) FROM accounts WHERE domain_id = $1),
                (SELECT count(*) FROM aliases WHERE domain_id = $1),
                (SELECT coalesce(sum(quota_bytes), 0)::bigint FROM accounts WHERE domain_id = $1)",
        &[&id],
    )
    .await?;
    let allotted = Allotted {
        mailboxes: r.get::<_, i64>(0).max(0) as u64,
        aliases: r.get::<_, i64>(1).max(0) as u64,
        quota: r.get::<_, i64>(2).max(0) as u64,
    };
    Ok(crate::limits::check(d, &limits, &allotted, change)?)
}

/// [`account_add`] within the domain's limits.
pub(super) async fn account_add_within_limits<C: GenericClient>(
    c: &C,
    n: &NewAccount,
) -> Result<AccountId, StoreError> {
    check_limits(
        c,
        n.address.domain(),
        LimitedChange::Mailbox {
            quota: n.quota_bytes,
        },
    )
    .await?;
    account_add(c, n).await
}

/// [`alias_add`] within the domain's limits.
pub(super) async fn alias_add_within_limits<C: GenericClient>(
    c: &C,
    a: &Address,
    targets: &[Address],
) -> Result<(), StoreError> {
    check_limits(c, a.domain(), LimitedChange::Alias).await?;
    alias_add(c, a, targets).await
}

/// [`account_set_quota`] within the domain's limits.
pub(super) async fn account_set_quota_within_limits<C: GenericClient>(
    c: &C,
    a: &Address,
    quota: Option<u64>,
    messages: Option<u64>,
) -> Result<(), StoreError> {
    lock_domain(c, a.domain())
        .await
        .map_err(|_| StoreError::NotFound(Subject::Account(a.clone())))?;
    let old = account_get(c, a)
        .await?
        .ok_or_else(|| StoreError::NotFound(Subject::Account(a.clone())))?
        .quota_bytes;
    check_limits(c, a.domain(), LimitedChange::Quota { old, new: quota }).await?;
    account_set_quota(c, a, quota, messages).await
}

/// A page of a domain's accounts (see [`crate::Store::account_page`]):
/// a range of the `accounts_page` index, in byte order.
pub(super) async fn account_page<C: GenericClient>(
    c: &C,
    d: &Domain,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<Account>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let Some(id) = domain_id(c, d).await? else {
        return Ok(Vec::new());
    };
    let rows = match after {
        None => {
            let sql = format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts a JOIN domains d ON d.id = a.domain_id
                 WHERE a.domain_id = $1 ORDER BY a.local COLLATE \"C\" LIMIT $2"
            );
            rows(c, &sql, &[&id, &limit]).await?
        }
        Some(after) => {
            let sql = format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts a JOIN domains d ON d.id = a.domain_id
                 WHERE a.domain_id = $1 AND a.local COLLATE \"C\" > $2
                 ORDER BY a.local COLLATE \"C\" LIMIT $3"
            );
            rows(c, &sql, &[&id, &after, &limit]).await?
        }
    };
    rows.iter().map(|r| account_row_in(r, Some(d))).collect()
}

/// A page of a domain's aliases with their targets (see
/// [`crate::Store::alias_page`]): a range of the `aliases_page` index
/// joined to the targets, one statement.
pub(super) async fn alias_page<C: GenericClient>(
    c: &C,
    d: &Domain,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<Alias>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let Some(id) = domain_id(c, d).await? else {
        return Ok(Vec::new());
    };
    let page = |cursor: &str| {
        format!(
            "SELECT s.local, t.target FROM
                (SELECT id, local FROM aliases WHERE domain_id = $1 {cursor}
                 ORDER BY local COLLATE \"C\" LIMIT $2) s
             LEFT JOIN alias_targets t ON t.alias_id = s.id
             ORDER BY s.local COLLATE \"C\", t.seq"
        )
    };
    let found = match after {
        None => rows(c, &page(""), &[&id, &limit]).await?,
        Some(after) => {
            rows(
                c,
                &page("AND local COLLATE \"C\" > $3"),
                &[&id, &limit, &after],
            )
            .await?
        }
    };
    let mut out: Vec<Alias> = Vec::new();
    for r in &found {
        let local: String = r.get(0);
        let target: Option<String> = r.get(1);
        crate::types::push_alias_row(&mut out, d, &local, target.as_deref())?;
    }
    Ok(out)
}
