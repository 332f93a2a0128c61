//! The SQL behind each store operation. Functions here run either on the
//! writer thread inside a transaction or on a pooled read connection.

use super::locks;
use super::pool::ReadPool;
use crate::AccountImport;
use crate::body::{ChunkCursor, NextChunk, with_prefix};
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
    Accepted, Account, AccountId, Alias, AttemptResult, BodySource, DomainInfo, HeaderDowngrade,
    LegacyView, Lookup, MessageId, MessageMeta, NewAccount, NoticeWriter, Outbound, OutboundRcpt,
    QueueEntry, QueueId, QueueRcptId, QueueTarget, QueuedRcpt, RcptState, Retention, Secrets,
    Spool, StoreError, Usage,
};
use crate::{
    Conflict, DomainContact, Forward, Language, MtaStsRecord, SenderTls, Subject, Vacation,
};
use async_trait::async_trait;
use praisani_mailaddr::{Address, Domain};
use rusqlite::{Connection, OptionalExtension, params};

/// Bodies are stored in chunks of this size so they can be streamed.
const CHUNK: usize = 128 * 1024;

pub(super) use crate::now;

fn domain_id(c: &Connection, d: &Domain) -> Result<Option<i64>, StoreError> {
    Ok(
        c.query_row("SELECT id FROM domains WHERE name = ?1", [d.ascii()], |r| {
            r.get(0)
        })
        .optional()?,
    )
}

fn require_domain(c: &Connection, d: &Domain) -> Result<i64, StoreError> {
    domain_id(c, d)?.ok_or_else(|| StoreError::NotFound(Subject::Domain(d.clone())))
}

pub(super) fn domain_add(c: &Connection, d: &Domain) -> Result<(), StoreError> {
    if domain_id(c, d)?.is_some() {
        return Err(StoreError::Duplicate(Subject::Domain(d.clone())));
    }
    c.execute(
        "INSERT INTO domains (name, created) VALUES (?1, ?2)",
        params![d.ascii(), now()],
    )?;
    Ok(())
}

pub(super) fn domain_remove(c: &Connection, d: &Domain, force: bool) -> Result<(), StoreError> {
    let id = require_domain(c, d)?;
    let accounts: i64 = c.query_row(
        "SELECT count(*) FROM accounts WHERE domain_id = ?1",
        [id],
        |r| r.get(0),
    )?;
    let aliases: i64 = c.query_row(
        "SELECT count(*) FROM aliases WHERE domain_id = ?1",
        [id],
        |r| r.get(0),
    )?;
    if (accounts > 0 || aliases > 0) && !force {
        return Err(Conflict::DomainNotEmpty {
            domain: d.clone(),
            accounts: accounts as u64,
            aliases: aliases as u64,
        }
        .into());
    }
    let ids: Vec<AccountId> = {
        let mut st = c.prepare("SELECT id FROM accounts WHERE domain_id = ?1")?;
        st.query_map([id], |r| r.get(0))?
            .collect::<Result<_, _>>()?
    };
    for account in ids {
        remove_account_by_id(c, account)?;
    }
    c.execute("DELETE FROM aliases WHERE domain_id = ?1", [id])?;
    c.execute("DELETE FROM domains WHERE id = ?1", [id])?;
    tokens_lose_domain(c, d)
}

/// Takes `d` out of every token that speaks for it, in the removal's
/// transaction (see [`crate::tokens::after_domain_removed`]).
fn tokens_lose_domain(c: &Connection, d: &Domain) -> Result<(), StoreError> {
    use crate::tokens::{AfterRemoval, after_domain_removed};
    let rows: Vec<(i64, String, String)> = {
        let mut st = c.prepare_cached(
            "SELECT id, kind, subjects FROM api_tokens WHERE kind IN ('domains', 'user')",
        )?;
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?
    };
    for (id, kind, subjects) in rows {
        match after_domain_removed(&kind, &subjects, d) {
            AfterRemoval::Keep => {}
            AfterRemoval::Rewrite(s) => {
                c.execute(
                    "UPDATE api_tokens SET subjects = ?1 WHERE id = ?2",
                    params![s, id],
                )?;
            }
            AfterRemoval::Delete => {
                c.execute("DELETE FROM api_tokens WHERE id = ?1", [id])?;
            }
        }
    }
    Ok(())
}

pub(super) fn domain_list(c: &Connection) -> Result<Vec<DomainInfo>, StoreError> {
    let mut st = c.prepare(
        "SELECT d.name,
                (SELECT count(*) FROM accounts a WHERE a.domain_id = d.id),
                (SELECT count(*) FROM aliases s WHERE s.domain_id = d.id),
                d.quota_bytes, d.used_bytes, d.keep_after_retrieval, d.keep_max_age,
                d.contact, d.contact_lang
         FROM domains d ORDER BY d.name",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, Option<i64>>(3)?,
            r.get::<_, i64>(4)?,
            Retention::from_db(r.get(5)?, r.get(6)?),
            r.get::<_, Option<String>>(7)?,
            r.get::<_, Option<String>>(8)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (name, accounts, aliases, quota, used, retention, contact, lang) = row?;
        out.push(DomainInfo {
            domain: Domain::parse(&name).map_err(|_| corrupt("domain name"))?,
            accounts: accounts as u64,
            aliases: aliases as u64,
            quota_bytes: quota.map(|q| q as u64),
            used_bytes: used.max(0) as u64,
            retention,
            contact: crate::policy::domain_contact(contact, lang)?,
        });
    }
    Ok(out)
}

fn alias_id(c: &Connection, a: &Address) -> Result<Option<i64>, StoreError> {
    Ok(c.query_row(
        "SELECT s.id FROM aliases s JOIN domains d ON d.id = s.domain_id
         WHERE d.name = ?1 AND s.local = ?2",
        params![a.domain().ascii(), a.local()],
        |r| r.get(0),
    )
    .optional()?)
}

fn account_id(c: &Connection, a: &Address) -> Result<Option<AccountId>, StoreError> {
    Ok(c.query_row(
        "SELECT a.id FROM accounts a JOIN domains d ON d.id = a.domain_id
         WHERE d.name = ?1 AND a.local = ?2",
        params![a.domain().ascii(), a.local()],
        |r| r.get(0),
    )
    .optional()?)
}

pub(super) fn account_add(c: &Connection, n: &NewAccount) -> Result<AccountId, StoreError> {
    let did = require_domain(c, n.address.domain())?;
    if account_id(c, &n.address)?.is_some() || alias_id(c, &n.address)?.is_some() {
        return Err(StoreError::Duplicate(Subject::Address(n.address.clone())));
    }
    c.execute(
        "INSERT INTO accounts
            (domain_id, local, password_hash, apop_secret, quota_bytes, created, scram)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            did,
            n.address.local(),
            n.password_hash,
            n.apop_secret,
            n.quota_bytes.map(|q| i64::try_from(q).unwrap_or(i64::MAX)),
            now(),
            n.scram
        ],
    )?;
    Ok(AccountId::new(c.last_insert_rowid()))
}

/// [`crate::Store::accounts_import`], inside the job's savepoint: an
/// error rolls every row of it back.
pub(super) fn accounts_import(
    c: &Connection,
    domains: &[Domain],
    accounts: &[AccountImport],
) -> Result<(), StoreError> {
    for d in domains {
        if domain_id(c, d)?.is_none() {
            domain_add(c, d)?;
        }
    }
    let as_db = |q: Option<u64>| q.map(|q| i64::try_from(q).unwrap_or(i64::MAX));
    for a in accounts {
        let n = &a.account;
        let id = if a.replace {
            let id = account_id(c, &n.address)?
                .ok_or_else(|| StoreError::NotFound(Subject::Account(n.address.clone())))?;
            c.prepare_cached(
                "UPDATE accounts SET password_hash = ?1, apop_secret = ?2, scram = ?3,
                    quota_bytes = ?4 WHERE id = ?5",
            )?
            .execute(params![
                n.password_hash,
                n.apop_secret,
                n.scram,
                as_db(n.quota_bytes),
                id
            ])?;
            id
        } else {
            account_add(c, n)?
        };
        c.prepare_cached("UPDATE accounts SET quota_messages = ?1, lang = ?2 WHERE id = ?3")?
            .execute(params![as_db(a.quota_messages), a.lang.tag(), id])?;
        if a.replace {
            rearm_warnings(c, id)?;
        }
    }
    Ok(())
}

fn remove_account_by_id(c: &Connection, id: AccountId) -> Result<(), StoreError> {
    let ids: Vec<MessageId> = {
        let mut st = c.prepare("SELECT id FROM messages WHERE account_id = ?1")?;
        st.query_map([id], |r| r.get(0))?
            .collect::<Result<_, _>>()?
    };
    delete_messages(c, id, &ids)?;
    c.execute("DELETE FROM accounts WHERE id = ?1", [id])?;
    Ok(())
}

pub(super) fn account_remove(c: &Connection, a: &Address) -> Result<(), StoreError> {
    let id = account_id(c, a)?.ok_or_else(|| StoreError::NotFound(Subject::Account(a.clone())))?;
    remove_account_by_id(c, id)?;
    c.execute(
        "DELETE FROM api_tokens WHERE kind = 'user' AND subjects = ?1",
        [crate::tokens::user_subjects(a)],
    )?;
    Ok(())
}

const ACCOUNT_COLUMNS: &str = "a.id, a.local, d.name, a.password_hash, a.apop_secret,
     a.quota_bytes, a.used_bytes, a.used_messages, a.scram, a.quota_messages, a.lang,
     a.warn_to, a.quota_warned, a.keep_after_retrieval, a.keep_max_age,
     d.keep_after_retrieval, d.keep_max_age, a.held";

fn account_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Account, ())> {
    account_row_in(r, None)
}

/// An account row; with `known`, the domain every row is of (a page of
/// one domain), not parsed again for each row.
fn account_row_in(
    r: &rusqlite::Row<'_>,
    known: Option<&Domain>,
) -> rusqlite::Result<(Account, ())> {
    let local: String = r.get(1)?;
    let domain: String = r.get(2)?;
    let parsed = match known {
        Some(d) => Some(d.clone()),
        None => Domain::parse(&domain).ok(),
    };
    let address = parsed
        .and_then(|d| Address::new(&local, d).ok())
        .ok_or_else(|| rusqlite::Error::InvalidColumnName(format!("{local}@{domain}")))?;
    Ok((
        Account {
            id: r.get(0)?,
            address,
            password_hash: r.get(3)?,
            apop_secret: r.get(4)?,
            quota_bytes: r.get::<_, Option<i64>>(5)?.map(|q| q as u64),
            used_bytes: r.get::<_, i64>(6)? as u64,
            used_messages: r.get::<_, i64>(7)? as u64,
            scram: r.get(8)?,
            quota_messages: r.get::<_, Option<i64>>(9)?.map(|q| q as u64),
            lang: Language::from_tag(&r.get::<_, String>(10)?).unwrap_or_default(),
            warn_to: r.get(11)?,
            warned: r.get::<_, i64>(12)?.clamp(0, 255) as u8,
            retention: Retention::from_db(r.get(13)?, r.get(14)?),
            domain_retention: Retention::from_db(r.get(15)?, r.get(16)?),
            held: r.get(17)?,
        },
        (),
    ))
}

pub(super) fn account_get(c: &Connection, a: &Address) -> Result<Option<Account>, StoreError> {
    let sql = format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts a JOIN domains d ON d.id = a.domain_id
         WHERE d.name = ?1 AND a.local = ?2"
    );
    Ok(
        c.query_row(&sql, params![a.domain().ascii(), a.local()], account_row)
            .optional()?
            .map(|(a, ())| a),
    )
}

pub(super) fn account_by_id(c: &Connection, id: AccountId) -> Result<Option<Account>, StoreError> {
    let sql = format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts a JOIN domains d ON d.id = a.domain_id
         WHERE a.id = ?1"
    );
    Ok(c.query_row(&sql, [id], account_row)
        .optional()?
        .map(|(a, ())| a))
}

pub(super) fn account_list(c: &Connection, d: Option<&Domain>) -> Result<Vec<Account>, StoreError> {
    let sql = format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts a JOIN domains d ON d.id = a.domain_id
         WHERE ?1 IS NULL OR d.name = ?1 ORDER BY d.name, a.local"
    );
    let mut st = c.prepare(&sql)?;
    let rows = st.query_map([d.map(|d| d.ascii())], account_row)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row?.0);
    }
    Ok(out)
}

pub(super) fn account_set_password(
    c: &Connection,
    a: &Address,
    secrets: &Secrets,
) -> Result<(), StoreError> {
    let id = account_id(c, a)?.ok_or_else(|| StoreError::NotFound(Subject::Account(a.clone())))?;
    c.execute(
        "UPDATE accounts SET password_hash = ?1, apop_secret = ?2, scram = ?3 WHERE id = ?4",
        params![
            secrets.password_hash,
            secrets.apop_secret,
            secrets.scram,
            id
        ],
    )?;
    Ok(())
}

pub(super) fn account_upgrade_password(
    c: &Connection,
    id: AccountId,
    old_hash: &str,
    secrets: &Secrets,
) -> Result<bool, StoreError> {
    let changed = c.execute(
        "UPDATE accounts SET password_hash = ?1, apop_secret = ?2, scram = ?3 \
         WHERE id = ?4 AND password_hash = ?5",
        params![
            secrets.password_hash,
            secrets.apop_secret,
            secrets.scram,
            id,
            old_hash
        ],
    )?;
    Ok(changed == 1)
}

pub(super) fn account_set_quota(
    c: &Connection,
    a: &Address,
    quota: Option<u64>,
    messages: Option<u64>,
) -> Result<(), StoreError> {
    let id = account_id(c, a)?.ok_or_else(|| StoreError::NotFound(Subject::Account(a.clone())))?;
    let as_db = |q: Option<u64>| q.map(|q| i64::try_from(q).unwrap_or(i64::MAX));
    c.execute(
        "UPDATE accounts SET quota_bytes = ?1, quota_messages = ?2 WHERE id = ?3",
        params![as_db(quota), as_db(messages), id],
    )?;
    rearm_warnings(c, id)
}

pub(super) fn account_set_notices(
    c: &Connection,
    a: &Address,
    lang: Language,
    warn_to: Option<&str>,
) -> Result<(), StoreError> {
    let id = account_id(c, a)?.ok_or_else(|| StoreError::NotFound(Subject::Account(a.clone())))?;
    c.execute(
        "UPDATE accounts SET lang = ?1, warn_to = ?2 WHERE id = ?3",
        params![lang.tag(), warn_to, id],
    )?;
    Ok(())
}

pub(super) fn account_set_retention(
    c: &Connection,
    a: &Address,
    r: Retention,
) -> Result<(), StoreError> {
    let id = account_id(c, a)?.ok_or_else(|| StoreError::NotFound(Subject::Account(a.clone())))?;
    c.execute(
        "UPDATE accounts SET keep_after_retrieval = ?1, keep_max_age = ?2 WHERE id = ?3",
        params![r.after_retrieval.to_db(), r.max_age.to_db(), id],
    )?;
    Ok(())
}

pub(super) fn domain_set_quota(
    c: &Connection,
    d: &Domain,
    quota: Option<u64>,
) -> Result<(), StoreError> {
    let id = require_domain(c, d)?;
    c.execute(
        "UPDATE domains SET quota_bytes = ?1 WHERE id = ?2",
        params![quota.map(|q| i64::try_from(q).unwrap_or(i64::MAX)), id],
    )?;
    Ok(())
}

pub(super) fn domain_set_contact(
    c: &Connection,
    d: &Domain,
    contact: Option<&DomainContact>,
) -> Result<(), StoreError> {
    let id = require_domain(c, d)?;
    c.execute(
        "UPDATE domains SET contact = ?1, contact_lang = ?2 WHERE id = ?3",
        params![
            contact.map(|k| k.address.to_string()),
            contact.map(|k| k.lang.tag()),
            id
        ],
    )?;
    Ok(())
}

pub(super) fn domain_set_retention(
    c: &Connection,
    d: &Domain,
    r: Retention,
) -> Result<(), StoreError> {
    let id = require_domain(c, d)?;
    c.execute(
        "UPDATE domains SET keep_after_retrieval = ?1, keep_max_age = ?2 WHERE id = ?3",
        params![r.after_retrieval.to_db(), r.max_age.to_db(), id],
    )?;
    Ok(())
}

/// The quota state of one account.
fn usage(c: &Connection, account: AccountId) -> Result<Option<Usage>, StoreError> {
    Ok(c.prepare_cached(
        "SELECT a.used_bytes, a.used_messages, a.quota_bytes, a.quota_messages,
                    d.used_bytes, d.quota_bytes, a.quota_warned
             FROM accounts a JOIN domains d ON d.id = a.domain_id WHERE a.id = ?1",
    )?
    .query_row([account], usage_row)
    .optional()?)
}

fn usage_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Usage> {
    let n = |i: usize| -> rusqlite::Result<u64> { Ok(r.get::<_, i64>(i)?.max(0) as u64) };
    let opt = |i: usize| -> rusqlite::Result<Option<u64>> {
        Ok(r.get::<_, Option<i64>>(i)?.map(|q| q.max(0) as u64))
    };
    Ok(Usage {
        used_bytes: n(0)?,
        used_messages: n(1)?,
        quota_bytes: opt(2)?,
        quota_messages: opt(3)?,
        domain_used_bytes: n(4)?,
        domain_quota_bytes: opt(5)?,
        warned: n(6)?.min(255) as u8,
    })
}

pub(super) fn alias_add(
    c: &Connection,
    a: &Address,
    targets: &[Address],
) -> Result<(), StoreError> {
    let did = require_domain(c, a.domain())?;
    if account_id(c, a)?.is_some() || alias_id(c, a)?.is_some() {
        return Err(StoreError::Duplicate(Subject::Address(a.clone())));
    }
    if targets.is_empty() {
        return Err(Conflict::AliasWithoutTargets.into());
    }
    c.execute(
        "INSERT INTO aliases (domain_id, local) VALUES (?1, ?2)",
        params![did, a.local()],
    )?;
    let id = c.last_insert_rowid();
    for (i, t) in targets.iter().enumerate() {
        c.execute(
            "INSERT INTO alias_targets (alias_id, seq, target) VALUES (?1, ?2, ?3)",
            params![id, i as i64, t.canonical()],
        )?;
    }
    Ok(())
}

pub(super) fn alias_remove(c: &Connection, a: &Address) -> Result<(), StoreError> {
    let id = alias_id(c, a)?.ok_or_else(|| StoreError::NotFound(Subject::Alias(a.clone())))?;
    c.execute("DELETE FROM alias_targets WHERE alias_id = ?1", [id])?;
    c.execute("DELETE FROM aliases WHERE id = ?1", [id])?;
    Ok(())
}

fn alias_targets(c: &Connection, id: i64) -> Result<Vec<Address>, StoreError> {
    let mut st =
        c.prepare_cached("SELECT target FROM alias_targets WHERE alias_id = ?1 ORDER BY seq")?;
    let rows = st.query_map([id], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for t in rows {
        out.push(Address::parse(&t?).map_err(|_| corrupt("alias target"))?);
    }
    Ok(out)
}

pub(super) fn alias_list(c: &Connection, d: Option<&Domain>) -> Result<Vec<Alias>, StoreError> {
    let mut st = c.prepare(
        "SELECT s.id, s.local, d.name FROM aliases s JOIN domains d ON d.id = s.domain_id
         WHERE ?1 IS NULL OR d.name = ?1 ORDER BY d.name, s.local",
    )?;
    let rows = st.query_map([d.map(|d| d.ascii())], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, local, domain) = row?;
        let address = Domain::parse(&domain)
            .ok()
            .and_then(|d| Address::new(&local, d).ok())
            .ok_or_else(|| corrupt("alias address"))?;
        out.push(Alias {
            address,
            targets: alias_targets(c, id)?,
        });
    }
    Ok(out)
}

pub(super) fn is_hosted(c: &Connection, d: &Domain) -> Result<bool, StoreError> {
    Ok(domain_id(c, d)?.is_some())
}

pub(super) fn lookup(c: &Connection, a: &Address) -> Result<Lookup, StoreError> {
    let mut st = c.prepare_cached(
        "SELECT d.id, a.id FROM domains d
         LEFT JOIN accounts a ON a.domain_id = d.id AND a.local = ?2
         WHERE d.name = ?1",
    )?;
    let row = st
        .query_row(params![a.domain().ascii(), a.local()], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Option<AccountId>>(1)?))
        })
        .optional()?;
    match row {
        None => Ok(Lookup::NotHosted),
        Some((_, Some(id))) => Ok(Lookup::Account {
            id,
            usage: usage(c, id)?.ok_or_else(|| corrupt("account without domain"))?,
        }),
        Some((_, None)) => match alias_id(c, a)? {
            Some(id) => Ok(Lookup::Alias(alias_targets(c, id)?)),
            None => Ok(Lookup::UnknownLocal),
        },
    }
}

pub(super) fn deliver(
    c: &Connection,
    body: Spool,
    recipients: &[AccountId],
) -> Result<Vec<MessageId>, StoreError> {
    accept(c, body, recipients, &[], false).map(|a| a.messages)
}

/// Stores the body with `refs` references; returns (body id, size).
fn store_body(c: &Connection, mut body: Spool, refs: usize) -> Result<(i64, i64), StoreError> {
    let size = body.len() as i64;
    c.prepare_cached("INSERT INTO bodies (size, chunks, refs) VALUES (?1, 0, ?2)")?
        .execute(params![size, refs as i64])?;
    let body_id = c.last_insert_rowid();
    if let Some(d) = body.take_downgrade() {
        c.prepare_cached(
            "INSERT INTO body_downgrades (body_id, header_len, header) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![body_id, d.original_len as i64, d.header])?;
    }
    let mut reader = body.into_reader()?;
    let mut seq = 0i64;
    {
        let mut ins =
            c.prepare_cached("INSERT INTO body_chunks (body_id, seq, data) VALUES (?1, ?2, ?3)")?;
        while let Some(chunk) = reader.next_chunk(CHUNK)? {
            ins.execute(params![body_id, seq, chunk])?;
            seq += 1;
        }
    }
    c.prepare_cached("UPDATE bodies SET chunks = ?1 WHERE id = ?2")?
        .execute(params![seq, body_id])?;
    Ok((body_id, size))
}

pub(super) fn accept(
    c: &Connection,
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
    let (body_id, size) = store_body(c, body, 0)?;
    let received = now();
    let mut tally = AcceptTally::new(recipients.len());
    for &account in recipients {
        // Checked here, inside the commit and after the copies already
        // added (a domain's total counts each), so neither concurrent
        // deliveries nor several recipients of one domain overrun a quota.
        let u =
            usage(c, account)?.ok_or_else(|| StoreError::NotFound(Subject::AccountId(account)))?;
        let prefix = prefixes
            .iter()
            .find(|(a, _)| *a == account)
            .map(|(_, p)| p.as_slice())
            .filter(|p| !p.is_empty());
        let size = size + prefix.map_or(0, |p| p.len() as i64);
        if tally.admit(account, &u, size as u64, check_quota) {
            let id = add_message(c, account, body_id, prefix, size, received)?;
            tally.added(account, id, usage(c, account)?.unwrap_or_default());
        }
    }
    let refs = tally.body_refs(outbound.len());
    if refs == 0 {
        release_body(c, body_id)?;
    } else {
        c.prepare_cached("UPDATE bodies SET refs = ?1 WHERE id = ?2")?
            .execute(params![refs, body_id])?;
    }
    let queued = outbound
        .iter()
        .map(|o| enqueue(c, body_id, o, received))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(tally.finish(queued))
}

pub(super) fn import_messages(
    c: &Connection,
    account: AccountId,
    messages: Vec<ImportMessage>,
    uid_prefix: &str,
) -> Result<Vec<ImportOutcome>, StoreError> {
    for m in &messages {
        if let Some(u) = &m.uidl {
            import::check_uidl(u)?;
        }
    }
    c.prepare_cached("SELECT id FROM accounts WHERE id = ?1")?
        .query_row([account], |r| r.get::<_, i64>(0))
        .optional()?
        .ok_or(StoreError::NotFound(Subject::AccountId(account)))?;
    let mut out = Vec::with_capacity(messages.len());
    let mut batch = std::collections::HashMap::new();
    let (mut bytes, mut count) = (0i64, 0i64);
    for m in messages {
        if let Some(u) = &m.uidl {
            if let Some(&id) = batch.get(u) {
                out.push(ImportOutcome::AlreadyThere(id));
                continue;
            }
            if let Some(id) = message_by_uidl(c, account, u, uid_prefix)? {
                out.push(ImportOutcome::AlreadyThere(id));
                continue;
            }
            if let Some(n) = import::own_form_id(uid_prefix, u) {
                import::check_reservable(u, n)?;
                // Past n, so the message that would have got id n (and
                // with it this UIDL) never exists.
                c.prepare_cached(
                    "UPDATE sqlite_sequence SET seq = max(seq, ?1) WHERE name = 'messages'",
                )?
                .execute([n])?;
                c.prepare_cached(
                    "INSERT INTO sqlite_sequence (name, seq) SELECT 'messages', ?1
                     WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'messages')",
                )?
                .execute([n])?;
            }
        }
        let (body_id, size) = store_body(c, m.body, 1)?;
        c.prepare_cached(
            "INSERT INTO messages (account_id, body_id, uidl, size, received, retrieved)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            account,
            body_id,
            m.uidl,
            size,
            m.received,
            m.retrieved
        ])?;
        let id = MessageId::new(c.last_insert_rowid());
        if let Some(u) = m.uidl {
            batch.insert(u, id);
        }
        bytes += size;
        count += 1;
        out.push(ImportOutcome::Imported(id));
    }
    if count > 0 {
        count_usage(c, account, bytes, count)?;
    }
    Ok(out)
}

/// The message of `account` whose UIDL is `uidl`: stored with it, or —
/// for a UIDL of this store's own form — the message that has it by its
/// id.
fn message_by_uidl(
    c: &Connection,
    account: AccountId,
    uidl: &str,
    uid_prefix: &str,
) -> Result<Option<MessageId>, StoreError> {
    let stored = c
        .prepare_cached("SELECT id FROM messages WHERE account_id = ?1 AND uidl = ?2 LIMIT 1")?
        .query_row(params![account, uidl], |r| r.get(0))
        .optional()?;
    if stored.is_some() {
        return Ok(stored);
    }
    match import::own_form_id(uid_prefix, uidl) {
        Some(n) => Ok(c
            .prepare_cached(
                "SELECT id FROM messages WHERE id = ?1 AND account_id = ?2 AND uidl IS NULL",
            )?
            .query_row(params![n, account], |r| r.get(0))
            .optional()?),
        None => Ok(None),
    }
}

/// Adds a message referring to a stored body to a mailbox and counts it
/// in the mailbox's and its domain's usage.
fn add_message(
    c: &Connection,
    account: AccountId,
    body_id: i64,
    prefix: Option<&[u8]>,
    size: i64,
    received: i64,
) -> Result<MessageId, StoreError> {
    c.prepare_cached(
        "INSERT INTO messages (account_id, body_id, prefix, size, received)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![account, body_id, prefix, size, received])?;
    let id = MessageId::new(c.last_insert_rowid());
    count_usage(c, account, size, 1)?;
    Ok(id)
}

/// Adds (or with negative numbers, removes) octets and messages to an
/// account's usage and its domain's.
fn count_usage(
    c: &Connection,
    account: AccountId,
    bytes: i64,
    messages: i64,
) -> Result<(), StoreError> {
    let n = c
        .prepare_cached(
            "UPDATE accounts SET used_bytes = max(used_bytes + ?1, 0),
                                 used_messages = max(used_messages + ?2, 0)
             WHERE id = ?3",
        )?
        .execute(params![bytes, messages, account])?;
    if n != 1 {
        return Err(StoreError::NotFound(Subject::AccountId(account)));
    }
    c.prepare_cached(
        "UPDATE domains SET used_bytes = max(used_bytes + ?1, 0)
         WHERE id = (SELECT domain_id FROM accounts WHERE id = ?2)",
    )?
    .execute(params![bytes, account])?;
    Ok(())
}

pub(super) fn quota_notice(
    c: &Connection,
    account: AccountId,
    thresholds: &[u8],
    notice: Option<(Spool, NoticeWriter)>,
) -> Result<bool, StoreError> {
    let u = usage(c, account)?.ok_or_else(|| StoreError::NotFound(Subject::AccountId(account)))?;
    let step = u.warning(thresholds, notice.is_some());
    if let Some(level) = step.remember {
        c.prepare_cached("UPDATE accounts SET quota_warned = ?1 WHERE id = ?2")?
            .execute(params![i64::from(level), account])?;
    }
    match notice.filter(|_| step.deliver) {
        Some((mut spool, write)) => {
            write(&u, step.level, &mut spool)?;
            let (body_id, size) = store_body(c, spool, 1)?;
            add_message(c, account, body_id, None, size, now())?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Lowers the remembered warning level to the usage left (after deletions
/// or a raised quota), which re-arms the thresholds above it.
fn rearm_warnings(c: &Connection, account: AccountId) -> Result<(), StoreError> {
    if let Some(u) = usage(c, account)? {
        c.prepare_cached("UPDATE accounts SET quota_warned = min(quota_warned, ?1) WHERE id = ?2")?
            .execute(params![i64::from(u.rearmed()), account])?;
    }
    Ok(())
}

pub(super) fn mark_retrieved(
    c: &Connection,
    account: AccountId,
    messages: &[MessageId],
    at: i64,
) -> Result<(), StoreError> {
    let mut st = c.prepare_cached(
        "UPDATE messages SET retrieved = ?1
         WHERE id = ?2 AND account_id = ?3 AND retrieved IS NULL",
    )?;
    for &m in messages {
        st.execute(params![at, m, account])?;
    }
    Ok(())
}

/// Accounts with their effective retention apart from the server default:
/// (id, own-else-domain settings).
pub(super) fn retention_list(c: &Connection) -> Result<Vec<(AccountId, Retention)>, StoreError> {
    let mut st = c.prepare(
        "SELECT a.id, a.keep_after_retrieval, a.keep_max_age,
                d.keep_after_retrieval, d.keep_max_age
         FROM accounts a JOIN domains d ON d.id = a.domain_id ORDER BY a.id",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, AccountId>(0)?,
            Retention::from_db(r.get(1)?, r.get(2)?).or(Retention::from_db(r.get(3)?, r.get(4)?)),
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Deletes what `cut` says has expired from one mailbox, unless a session
/// holds it.
pub(super) fn expire_account(
    c: &Connection,
    account: AccountId,
    cut: Cutoffs,
) -> Result<Expired, StoreError> {
    if locks::held(c, account)? {
        return Ok(Expired::Locked);
    }
    let victims: Vec<(MessageId, i64)> = {
        let mut st = c.prepare_cached(
            "SELECT id, size FROM messages WHERE account_id = ?1 AND
                ((?2 IS NOT NULL AND retrieved IS NOT NULL AND retrieved <= ?2)
                 OR (?3 IS NOT NULL AND received <= ?3))",
        )?;
        st.query_map(params![account, cut.retrieved_by, cut.received_by], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?
        .collect::<Result<_, _>>()?
    };
    let ids: Vec<MessageId> = victims.iter().map(|v| v.0).collect();
    delete_messages(c, account, &ids)?;
    Ok(Expired::deleted(victims.iter().map(|v| v.1)))
}

fn enqueue(c: &Connection, body_id: i64, o: &Outbound, now: i64) -> Result<QueueId, StoreError> {
    c.prepare_cached(
        "INSERT INTO queue (body_id, sender, envid, ret, smtputf8, eight_bit, created, account,
                            tls_required, prefix, forwarded)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        body_id,
        o.sender,
        o.envid,
        ret_to_db(o.ret),
        o.smtputf8,
        o.eight_bit,
        now,
        o.account,
        o.tls.to_db(),
        Some(o.prefix.as_slice()).filter(|p| !p.is_empty()),
        o.forwarded
    ])?;
    let id = QueueId::new(c.last_insert_rowid());
    let mut ins = c.prepare_cached(
        "INSERT INTO queue_rcpts (queue_id, rcpt, domain, orcpt, notify, state, next_attempt, updated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?7, ?6, ?6)",
    )?;
    // Mail of an account on hold is held from the start.
    let state = if o.account.is_some()
        && c.prepare_cached("SELECT 1 FROM accounts WHERE id = ?1 AND held IS NOT NULL")?
            .exists([o.account])?
    {
        RcptState::Held
    } else {
        RcptState::Pending
    };
    for r in &o.recipients {
        ins.execute(params![
            id,
            r.address,
            r.domain,
            r.orcpt,
            notify_to_db(r.notify),
            now,
            state.db()
        ])?;
    }
    Ok(id)
}

fn queue_header(c: &Connection, id: QueueId) -> Result<Option<QueueEntry>, StoreError> {
    Ok(c.prepare_cached(
        "SELECT q.id, q.sender, q.envid, q.ret, q.smtputf8, q.eight_bit, q.created,
            b.size + COALESCE(length(q.prefix), 0), q.account, q.tls_required, q.forwarded
         FROM queue q JOIN bodies b ON b.id = q.body_id WHERE q.id = ?1",
    )?
    .query_row([id], |r| {
        Ok(QueueEntry {
            id: r.get(0)?,
            sender: r.get(1)?,
            envid: r.get(2)?,
            ret: ret_from_db(r.get(3)?),
            smtputf8: r.get(4)?,
            eight_bit: r.get(5)?,
            created: r.get(6)?,
            size: r.get::<_, i64>(7)? as u64,
            recipients: Vec::new(),
            account: r.get(8)?,
            tls: SenderTls::from_db(r.get(9)?),
            forwarded: r.get(10)?,
        })
    })
    .optional()?)
}

fn queue_rcpt_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<QueuedRcpt> {
    Ok(QueuedRcpt {
        id: r.get(0)?,
        rcpt: OutboundRcpt {
            address: r.get(1)?,
            domain: r.get(2)?,
            orcpt: r.get(3)?,
            notify: notify_from_db(r.get(4)?),
        },
        state: RcptState::from_db(&r.get::<_, String>(5)?),
        attempts: r.get::<_, i64>(6)? as u32,
        next_attempt: r.get(7)?,
        last_error: r.get(8)?,
        delay_notified: r.get(9)?,
    })
}

const RCPT_COLUMNS: &str =
    "id, rcpt, domain, orcpt, notify, state, attempts, next_attempt, last_error, delay_notified";

pub(super) fn queue_get(c: &Connection, id: QueueId) -> Result<Option<QueueEntry>, StoreError> {
    let Some(mut entry) = queue_header(c, id)? else {
        return Ok(None);
    };
    let sql = format!("SELECT {RCPT_COLUMNS} FROM queue_rcpts WHERE queue_id = ?1 ORDER BY id");
    let mut st = c.prepare_cached(&sql)?;
    entry.recipients = st
        .query_map([id], queue_rcpt_row)?
        .collect::<Result<_, _>>()?;
    Ok(Some(entry))
}

pub(super) fn queue_list(c: &Connection) -> Result<Vec<QueueEntry>, StoreError> {
    let ids: Vec<QueueId> = {
        let mut st = c.prepare("SELECT id FROM queue ORDER BY id")?;
        st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?
    };
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(e) = queue_get(c, id)? {
            out.push(e);
        }
    }
    Ok(out)
}

pub(super) fn queue_take_due(
    c: &Connection,
    now: i64,
    lease_secs: i64,
    limit: usize,
) -> Result<Vec<QueueEntry>, StoreError> {
    let sql = format!(
        "SELECT {RCPT_COLUMNS}, queue_id FROM queue_rcpts
         WHERE state = 'pending' AND next_attempt <= ?1 AND lease_until <= ?1
         ORDER BY next_attempt, id LIMIT ?2"
    );
    let mut taken: Vec<(QueuedRcpt, QueueId)> = {
        let mut st = c.prepare_cached(&sql)?;
        st.query_map(params![now, limit as i64], |r| {
            Ok((queue_rcpt_row(r)?, r.get(10)?))
        })?
        .collect::<Result<_, _>>()?
    };
    let mut lease = c.prepare_cached("UPDATE queue_rcpts SET lease_until = ?1 WHERE id = ?2")?;
    for (rcpt, _) in &taken {
        lease.execute(params![now + lease_secs, rcpt.id])?;
    }
    due_order(&mut taken);
    let mut headers = Vec::new();
    for q in taken_messages(&taken) {
        headers.extend(queue_header(c, q)?);
    }
    Ok(group_taken(taken, headers))
}

pub(super) fn queue_record(
    c: &Connection,
    results: &[(QueueRcptId, AttemptResult)],
) -> Result<(), StoreError> {
    let t = now();
    for (id, result) in results {
        let (state, next, error) = result.record();
        let n = c
            .prepare_cached(
                "UPDATE queue_rcpts SET
                    state = CASE WHEN state = 'held' AND ?1 = 'pending' THEN 'held' ELSE ?1 END,
                    attempts = attempts + 1,
                    next_attempt = COALESCE(?2, next_attempt), last_error = ?3,
                    lease_until = 0, updated = ?4
                 WHERE id = ?5 AND state IN ('pending', 'held')",
            )?
            .execute(params![state.db(), next, error, t, id])?;
        // A recipient already final keeps its result (a late attempt does
        // not bring it back to life); an unknown one is an error.
        if n != 1
            && !c
                .prepare_cached("SELECT 1 FROM queue_rcpts WHERE id = ?1")?
                .exists([id])?
        {
            return Err(StoreError::NotFound(Subject::QueuedRcpt(*id)));
        }
    }
    Ok(())
}

pub(super) fn queue_retry_now(
    c: &Connection,
    id: Option<QueueId>,
    now: i64,
) -> Result<u64, StoreError> {
    if let Some(id) = id
        && queue_header(c, id)?.is_none()
    {
        return Err(StoreError::NotFound(Subject::Queued(id)));
    }
    let n = c.execute(
        "UPDATE queue_rcpts SET next_attempt = ?1
         WHERE state = 'pending' AND (?2 IS NULL OR queue_id = ?2)",
        params![now, id],
    )?;
    Ok(n as u64)
}

pub(super) fn queue_delete(c: &Connection, id: QueueId) -> Result<(), StoreError> {
    let body_id: i64 = c
        .query_row("SELECT body_id FROM queue WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?
        .ok_or_else(|| StoreError::NotFound(Subject::Queued(id)))?;
    c.execute("DELETE FROM queue_rcpts WHERE queue_id = ?1", [id])?;
    c.execute("DELETE FROM queue WHERE id = ?1", [id])?;
    release_body(c, body_id)
}

/// Finds a queued message's body; returns (body id, number of chunks, first chunk).
pub(super) fn open_queued(
    c: &Connection,
    id: QueueId,
) -> Result<(i64, i64, Option<Vec<u8>>), StoreError> {
    let (body_id, chunks, prefix): (i64, i64, Option<Vec<u8>>) = c
        .prepare_cached(
            "SELECT b.id, b.chunks, q.prefix FROM queue q JOIN bodies b ON b.id = q.body_id
             WHERE q.id = ?1",
        )?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?
        .ok_or_else(|| StoreError::NotFound(Subject::Queued(id)))?;
    Ok(with_prefix(prefix, body_head(c, body_id, chunks)?))
}

/// Drops one reference to a body, deleting it with the last one.
fn release_body(c: &Connection, body_id: i64) -> Result<(), StoreError> {
    c.prepare_cached("UPDATE bodies SET refs = refs - 1 WHERE id = ?1")?
        .execute([body_id])?;
    let refs: i64 = c
        .prepare_cached("SELECT refs FROM bodies WHERE id = ?1")?
        .query_row([body_id], |r| r.get(0))?;
    if refs <= 0 {
        c.prepare_cached("DELETE FROM body_chunks WHERE body_id = ?1")?
            .execute([body_id])?;
        c.prepare_cached("DELETE FROM body_downgrades WHERE body_id = ?1")?
            .execute([body_id])?;
        c.prepare_cached("DELETE FROM bodies WHERE id = ?1")?
            .execute([body_id])?;
    }
    Ok(())
}

pub(super) fn list_messages(
    c: &Connection,
    account: AccountId,
    uid_prefix: &str,
) -> Result<Vec<MessageMeta>, StoreError> {
    let mut st = c.prepare_cached(
        "SELECT m.id, m.uidl, m.size, m.received, d.body_id, d.header_len, length(d.header),
                m.prefix, m.retrieved
         FROM messages m LEFT JOIN body_downgrades d ON d.body_id = m.body_id
         WHERE m.account_id = ?1 ORDER BY m.id",
    )?;
    let rows = st.query_map([account], |r| {
        let id: MessageId = r.get(0)?;
        let size = r.get::<_, i64>(2)? as u64;
        let downgrade = match r.get::<_, Option<i64>>(4)? {
            None => None,
            Some(_) => Some((
                r.get::<_, i64>(5)? as u64,
                r.get::<_, Option<i64>>(6)?.map(|l| l as u64),
            )),
        };
        Ok(MessageMeta {
            id,
            uidl: uidl(uid_prefix, id, r.get(1)?),
            size,
            received: r.get(3)?,
            retrieved: r.get(8)?,
            legacy: LegacyView::from_stored(
                size,
                downgrade,
                r.get::<_, Option<Vec<u8>>>(7)?.as_deref(),
            ),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Finds a message's body; returns (body id, number of chunks, first chunk).
pub(super) fn open_message(
    c: &Connection,
    account: AccountId,
    message: MessageId,
) -> Result<(i64, i64, Option<Vec<u8>>), StoreError> {
    let (body_id, chunks, prefix): (i64, i64, Option<Vec<u8>>) = c
        .prepare_cached(
            "SELECT b.id, b.chunks, m.prefix FROM messages m JOIN bodies b ON b.id = m.body_id
             WHERE m.id = ?1 AND m.account_id = ?2",
        )?
        .query_row(params![message, account], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?
        .ok_or_else(|| StoreError::NotFound(Subject::Message(message)))?;
    Ok(with_prefix(prefix, body_head(c, body_id, chunks)?))
}

/// The downgraded header of a message, if its header has UTF-8.
pub(super) fn message_downgrade(
    c: &Connection,
    account: AccountId,
    message: MessageId,
) -> Result<Option<HeaderDowngrade>, StoreError> {
    // (body id of the downgrade row, replaced length, replacement, the
    // copy's prefix)
    type Row = (Option<i64>, Option<i64>, Option<Vec<u8>>, Option<Vec<u8>>);
    let row: Option<Row> = c
        .prepare_cached(
            "SELECT d.body_id, d.header_len, d.header, m.prefix
             FROM messages m LEFT JOIN body_downgrades d ON d.body_id = m.body_id
             WHERE m.id = ?1 AND m.account_id = ?2",
        )?
        .query_row(params![message, account], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    match row {
        None => Err(StoreError::NotFound(Subject::Message(message))),
        Some((None, _, _, _)) => Ok(None),
        Some((Some(_), len, header, prefix)) => Ok(Some(HeaderDowngrade::after_prefix(
            prefix.as_deref().unwrap_or_default(),
            len.unwrap_or(0) as u64,
            header,
        ))),
    }
}

/// A body's id, chunk count and first chunk (read at once: one query for
/// a small message, and an error shows before any response is sent).
fn body_head(
    c: &Connection,
    body_id: i64,
    chunks: i64,
) -> Result<(i64, i64, Option<Vec<u8>>), StoreError> {
    let first = if chunks > 0 {
        Some(read_chunk(c, body_id, 0)?)
    } else {
        None
    };
    Ok((body_id, chunks, first))
}

fn read_chunk(c: &Connection, body_id: i64, seq: i64) -> Result<Vec<u8>, StoreError> {
    c.prepare_cached("SELECT data FROM body_chunks WHERE body_id = ?1 AND seq = ?2")?
        .query_row(params![body_id, seq], |r| r.get(0))
        .optional()?
        .ok_or_else(|| corrupt("missing body chunk"))
}

pub(super) fn delete_messages(
    c: &Connection,
    account: AccountId,
    messages: &[MessageId],
) -> Result<(), StoreError> {
    for &m in messages {
        let row: Option<(i64, i64)> = c
            .prepare_cached("SELECT body_id, size FROM messages WHERE id = ?1 AND account_id = ?2")?
            .query_row(params![m, account], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        // Already gone (removed by another path): deleting is idempotent.
        let Some((body_id, size)) = row else { continue };
        c.prepare_cached("DELETE FROM messages WHERE id = ?1")?
            .execute([m])?;
        count_usage(c, account, -size, -1)?;
        release_body(c, body_id)?;
    }
    // Less mail: the warning thresholds above what is left re-arm.
    if !messages.is_empty() {
        rearm_warnings(c, account)?;
    }
    Ok(())
}

/// Streams a body's chunks from the read pool, one query per chunk.
pub(super) struct ChunkSource {
    pool: ReadPool,
    body_id: i64,
    cursor: ChunkCursor,
}

impl ChunkSource {
    pub(super) fn new(pool: ReadPool, body_id: i64, chunks: i64, first: Option<Vec<u8>>) -> Self {
        ChunkSource {
            pool,
            body_id,
            cursor: ChunkCursor::new(chunks, first),
        }
    }
}

#[async_trait]
impl BodySource for ChunkSource {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        match self.cursor.advance() {
            NextChunk::End => Ok(None),
            NextChunk::Ready(chunk) => Ok(Some(chunk)),
            NextChunk::Fetch(seq) => {
                let body_id = self.body_id;
                let chunk = self.pool.run(move |c| read_chunk(c, body_id, seq)).await?;
                Ok(Some(chunk))
            }
        }
    }
}

/// One greylisting attempt (see [`crate::Store::greylist`]).
pub(super) fn greylist(
    c: &Connection,
    triplet: &str,
    client: &str,
    now: i64,
    rules: &GreyRules,
) -> Result<GreyOutcome, StoreError> {
    let cutoff = now - rules.max_age;
    let entry = c
        .prepare_cached("SELECT first_seen, last_seen, passed FROM greylist WHERE triplet = ?1")?
        .query_row(params![triplet], |r| {
            Ok(GreyEntry {
                first_seen: r.get(0)?,
                last_seen: r.get(1)?,
                passed: r.get::<_, i64>(2)? != 0,
            })
        })
        .optional()?;
    if entry.is_none() {
        // New triplets are where the table grows: prune there.
        c.prepare_cached("DELETE FROM greylist WHERE last_seen < ?1")?
            .execute(params![cutoff])?;
        c.prepare_cached("DELETE FROM greylist_clients WHERE last_seen < ?1")?
            .execute(params![cutoff])?;
    }
    let client_known = c
        .prepare_cached("SELECT 1 FROM greylist_clients WHERE client = ?1 AND last_seen >= ?2")?
        .exists(params![client, cutoff])?;
    let (outcome, e) = greylist::step(entry, client_known, now, rules);
    c.prepare_cached(
        "INSERT INTO greylist (triplet, first_seen, last_seen, passed) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (triplet) DO UPDATE SET first_seen = ?2, last_seen = ?3, passed = ?4",
    )?
    .execute(params![triplet, e.first_seen, e.last_seen, e.passed as i64])?;
    if outcome == GreyOutcome::Pass {
        c.prepare_cached(
            "INSERT INTO greylist_clients (client, last_seen) VALUES (?1, ?2)
             ON CONFLICT (client) DO UPDATE SET last_seen = ?2",
        )?
        .execute(params![client, now])?;
    }
    Ok(outcome)
}

/// The cached MTA-STS policy of `domain` (see [`crate::Store::mta_sts_get`]).
pub(super) fn mta_sts_get(
    c: &Connection,
    domain: &str,
) -> Result<Option<MtaStsRecord>, StoreError> {
    Ok(c.prepare_cached(
        "SELECT domain, id, policy, fetched, expires FROM mta_sts_policies WHERE domain = ?1",
    )?
    .query_row(params![domain], |r| {
        Ok(MtaStsRecord {
            domain: r.get(0)?,
            id: r.get(1)?,
            policy: r.get(2)?,
            fetched: r.get(3)?,
            expires: r.get(4)?,
        })
    })
    .optional()?)
}

/// Stores a domain's MTA-STS policy (see [`crate::Store::mta_sts_put`]).
pub(super) fn mta_sts_put(c: &Connection, r: &MtaStsRecord) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT INTO mta_sts_policies (domain, id, policy, fetched, expires)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (domain) DO UPDATE SET id = excluded.id, policy = excluded.policy,
            fetched = excluded.fetched, expires = excluded.expires",
    )?
    .execute(params![r.domain, r.id, r.policy, r.fetched, r.expires])?;
    Ok(())
}

/// Charges a submitted message to its sending counters, or refuses it
/// (see [`crate::Store::send_charge`]). The writer thread runs one charge
/// at a time, so the check and the increment cannot interleave.
pub(super) fn send_charge(
    c: &Connection,
    charge: &SendCharge,
    now: i64,
    limits: &SendLimits,
) -> Result<SendOutcome, StoreError> {
    let keys = sending::counters(charge, now);
    let mut created = 0;
    let mut tallies = [Tally::default(); 4];
    for ((scope, span, bucket), t) in keys.iter().zip(tallies.iter_mut()) {
        created += c
            .prepare_cached(
                "INSERT OR IGNORE INTO send_counts (scope, span, bucket) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![scope, span.secs(), bucket])?;
        *t = c
            .prepare_cached(
                "SELECT messages, new_rcpts FROM send_counts
                 WHERE scope = ?1 AND span = ?2 AND bucket = ?3",
            )?
            .query_row(params![scope, span.secs(), bucket], |r| {
                Ok(Tally {
                    messages: r.get::<_, i64>(0)?.max(0) as u64,
                    new_recipients: r.get::<_, i64>(1)?.max(0) as u64,
                })
            })?;
    }
    if created > 0 {
        // A new window began: the old ones are no longer needed.
        c.prepare_cached("DELETE FROM send_counts WHERE bucket < ?1")?
            .execute(params![now - sending::COUNTER_MEMORY])?;
        c.prepare_cached("DELETE FROM send_recipients WHERE last_sent < ?1")?
            .execute(params![now - sending::RECIPIENT_MEMORY])?;
    }
    let mut new = 0u64;
    for rcpt in &charge.recipients {
        let known = c
            .prepare_cached(
                "SELECT 1 FROM send_recipients WHERE account = ?1 AND rcpt = ?2 AND last_sent >= ?3",
            )?
            .exists(params![
                charge.account,
                rcpt,
                now - sending::RECIPIENT_MEMORY
            ])?;
        new += u64::from(!known);
    }
    if let Some(over) = sending::decide(&tallies, new, limits, now) {
        return Ok(SendOutcome::Over(over));
    }
    for (scope, span, bucket) in &keys {
        c.prepare_cached(
            "UPDATE send_counts SET messages = messages + 1, new_rcpts = new_rcpts + ?4
             WHERE scope = ?1 AND span = ?2 AND bucket = ?3",
        )?
        .execute(params![scope, span.secs(), bucket, new as i64])?;
    }
    for rcpt in &charge.recipients {
        c.prepare_cached(
            "INSERT INTO send_recipients (account, rcpt, last_sent) VALUES (?1, ?2, ?3)
             ON CONFLICT (account, rcpt) DO UPDATE SET last_sent = ?3",
        )?
        .execute(params![charge.account, rcpt, now])?;
    }
    Ok(SendOutcome::Counted(Ticket {
        hour: keys[0].2,
        day: keys[1].2,
        new_recipients: new,
    }))
}

/// Gives back what [`send_charge`] took for a message that was not stored.
pub(super) fn send_refund(
    c: &Connection,
    charge: &SendCharge,
    ticket: &Ticket,
) -> Result<(), StoreError> {
    for (scope, span, _) in sending::counters(charge, ticket.hour) {
        let bucket = match span {
            sending::Span::Hour => ticket.hour,
            sending::Span::Day => ticket.day,
        };
        c.prepare_cached(
            "UPDATE send_counts SET messages = MAX(messages - 1, 0),
                new_rcpts = MAX(new_rcpts - ?4, 0)
             WHERE scope = ?1 AND span = ?2 AND bucket = ?3",
        )?
        .execute(params![
            scope,
            span.secs(),
            bucket,
            ticket.new_recipients as i64
        ])?;
    }
    Ok(())
}

/// Puts an account on hold (with its queued mail) or takes the hold off
/// (see [`crate::Store::account_set_hold`]).
pub(super) fn account_set_hold(
    c: &Connection,
    account: AccountId,
    reason: Option<&str>,
) -> Result<bool, StoreError> {
    if !c
        .prepare_cached("SELECT 1 FROM accounts WHERE id = ?1")?
        .exists([account])?
    {
        return Err(StoreError::NotFound(Subject::AccountId(account)));
    }
    let changed = match reason {
        Some(r) => c.execute(
            "UPDATE accounts SET held = ?2 WHERE id = ?1 AND held IS NULL",
            params![account, r],
        )?,
        None => c.execute(
            "UPDATE accounts SET held = NULL WHERE id = ?1 AND held IS NOT NULL",
            params![account],
        )?,
    };
    if reason.is_some() {
        queue_hold(c, QueueTarget::Account(account))?;
    }
    Ok(changed == 1)
}

fn queue_target_exists(c: &Connection, target: QueueTarget) -> Result<(), StoreError> {
    if let QueueTarget::Message(id) = target
        && queue_header(c, id)?.is_none()
    {
        return Err(StoreError::NotFound(Subject::Queued(id)));
    }
    Ok(())
}

/// The queue recipients of `target` in `state`, as SQL over `?1` (the
/// target's id).
fn target_sql(target: QueueTarget) -> &'static str {
    match target {
        QueueTarget::Message(_) => "queue_id = ?1",
        QueueTarget::Account(_) => "queue_id IN (SELECT id FROM queue WHERE account = ?1)",
    }
}

fn target_id(target: QueueTarget) -> i64 {
    match target {
        QueueTarget::Message(id) => id.get(),
        QueueTarget::Account(a) => a.get(),
    }
}

/// Holds the pending recipients of `target`.
pub(super) fn queue_hold(c: &Connection, target: QueueTarget) -> Result<u64, StoreError> {
    queue_target_exists(c, target)?;
    let sql = format!(
        "UPDATE queue_rcpts SET state = 'held' WHERE state = 'pending' AND {}",
        target_sql(target)
    );
    Ok(c.execute(&sql, [target_id(target)])? as u64)
}

/// Releases the held recipients of `target`: due at `now`, or deleted
/// (with the messages left without a recipient to send to).
pub(super) fn queue_release(
    c: &Connection,
    target: QueueTarget,
    delete: bool,
    now: i64,
) -> Result<u64, StoreError> {
    queue_target_exists(c, target)?;
    let id = target_id(target);
    if !delete {
        let sql = format!(
            "UPDATE queue_rcpts SET state = 'pending', next_attempt = ?2, lease_until = 0
             WHERE state = 'held' AND {}",
            target_sql(target)
        );
        return Ok(c.execute(&sql, params![id, now])? as u64);
    }
    let queues: Vec<QueueId> = {
        let sql = format!(
            "SELECT DISTINCT queue_id FROM queue_rcpts WHERE state = 'held' AND {}",
            target_sql(target)
        );
        let mut st = c.prepare(&sql)?;
        st.query_map([id], |r| r.get(0))?
            .collect::<Result<_, _>>()?
    };
    let mut n = 0;
    for q in queues {
        n += c.execute(
            "DELETE FROM queue_rcpts WHERE queue_id = ?1 AND state = 'held'",
            [q],
        )? as u64;
        let open = c
            .prepare_cached(
                "SELECT 1 FROM queue_rcpts WHERE queue_id = ?1 AND state IN ('pending', 'held')",
            )?
            .exists([q])?;
        if !open {
            queue_delete(c, q)?;
        }
    }
    Ok(n)
}

/// Adds an account's outbound results to its current hour and sums the
/// last day (see [`crate::Store::send_outcomes`]).
pub(super) fn send_outcomes(
    c: &Connection,
    account: AccountId,
    finished: u64,
    failed: u64,
    now: i64,
) -> Result<sending::Outcomes, StoreError> {
    let scope = sending::outcome_scope(account);
    let bucket = sending::Span::Hour.bucket(now);
    c.prepare_cached(
        "INSERT INTO send_counts (scope, span, bucket, messages, new_rcpts)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (scope, span, bucket) DO UPDATE
         SET messages = messages + ?4, new_rcpts = new_rcpts + ?5",
    )?
    .execute(params![
        scope,
        sending::HOUR,
        bucket,
        finished as i64,
        failed as i64
    ])?;
    let (f, b): (i64, i64) = c
        .prepare_cached(
            "SELECT COALESCE(SUM(messages), 0), COALESCE(SUM(new_rcpts), 0) FROM send_counts
             WHERE scope = ?1 AND span = ?2 AND bucket > ?3",
        )?
        .query_row(params![scope, sending::HOUR, now - sending::DAY], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    Ok(sending::Outcomes {
        finished: f.max(0) as u64,
        failed: b.max(0) as u64,
    })
}

/// Counts a DMARC evaluation (see [`crate::Store::dmarc_record`]).
pub(super) fn dmarc_record(
    c: &Connection,
    e: &DmarcEvent,
    limits: DmarcLimits,
) -> Result<DmarcRecorded, StoreError> {
    let known = c
        .prepare_cached("SELECT 1 FROM dmarc_days WHERE domain = ?1 AND day = ?2")?
        .exists(params![e.domain, e.day])?;
    if !known {
        let domains: i64 = c
            .prepare_cached("SELECT count(*) FROM dmarc_days WHERE day = ?1")?
            .query_row(params![e.day], |r| r.get(0))?;
        if domains as u64 >= limits.max_domains {
            return Ok(DmarcRecorded::DomainsFull);
        }
    }
    c.prepare_cached(
        "INSERT INTO dmarc_days (domain, day, policy, rows, dropped) VALUES (?1, ?2, ?3, 0, 0)
         ON CONFLICT (domain, day) DO UPDATE SET policy = ?3",
    )?
    .execute(params![e.domain, e.day, e.policy])?;
    let counted = c
        .prepare_cached(
            "UPDATE dmarc_rows SET count = count + 1 WHERE domain = ?1 AND day = ?2 AND row = ?3",
        )?
        .execute(params![e.domain, e.day, e.row])?;
    if counted > 0 {
        return Ok(DmarcRecorded::Counted);
    }
    let rows: i64 = c
        .prepare_cached("SELECT rows FROM dmarc_days WHERE domain = ?1 AND day = ?2")?
        .query_row(params![e.domain, e.day], |r| r.get(0))?;
    if rows as u64 >= limits.max_rows {
        c.prepare_cached(
            "UPDATE dmarc_days SET dropped = dropped + 1 WHERE domain = ?1 AND day = ?2",
        )?
        .execute(params![e.domain, e.day])?;
        return Ok(DmarcRecorded::Dropped);
    }
    c.prepare_cached("INSERT INTO dmarc_rows (domain, day, row, count) VALUES (?1, ?2, ?3, 1)")?
        .execute(params![e.domain, e.day, e.row])?;
    c.prepare_cached("UPDATE dmarc_days SET rows = rows + 1 WHERE domain = ?1 AND day = ?2")?
        .execute(params![e.domain, e.day])?;
    Ok(DmarcRecorded::Counted)
}

/// Takes one domain's day out (see [`crate::Store::dmarc_take`]); the
/// writer thread runs one write at a time, so no other can take it too.
pub(super) fn dmarc_take(c: &Connection, before_day: i64) -> Result<Option<DmarcDay>, StoreError> {
    let day = c
        .prepare_cached(
            "SELECT domain, day, policy, dropped FROM dmarc_days WHERE day < ?1
             ORDER BY day, domain LIMIT 1",
        )?
        .query_row(params![before_day], |r| {
            Ok(DmarcDay {
                domain: r.get(0)?,
                day: r.get(1)?,
                policy: r.get(2)?,
                rows: Vec::new(),
                dropped: r.get::<_, i64>(3)? as u64,
            })
        })
        .optional()?;
    let Some(mut day) = day else {
        return Ok(None);
    };
    day.rows = c
        .prepare_cached(
            "SELECT row, count FROM dmarc_rows WHERE domain = ?1 AND day = ?2 ORDER BY row",
        )?
        .query_map(params![day.domain, day.day], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })?
        .collect::<Result<_, _>>()?;
    c.prepare_cached("DELETE FROM dmarc_rows WHERE domain = ?1 AND day = ?2")?
        .execute(params![day.domain, day.day])?;
    c.prepare_cached("DELETE FROM dmarc_days WHERE domain = ?1 AND day = ?2")?
        .execute(params![day.domain, day.day])?;
    Ok(Some(day))
}

/// Counts TLS-RPT sessions (see [`crate::Store::tls_report_record`]).
pub(super) fn tls_report_record(
    c: &Connection,
    events: &[TlsEvent],
    limits: TlsLimits,
) -> Result<TlsRecorded, StoreError> {
    let mut done = TlsRecorded::default();
    for e in events {
        let count = e.count.min(i64::MAX as u64) as i64;
        let known = c
            .prepare_cached("SELECT 1 FROM tls_report_days WHERE domain = ?1 AND day = ?2")?
            .exists(params![e.domain, e.day])?;
        if !known {
            let domains: i64 = c
                .prepare_cached("SELECT count(*) FROM tls_report_days WHERE day = ?1")?
                .query_row(params![e.day], |r| r.get(0))?;
            if domains as u64 >= limits.max_domains {
                done.lost += e.count;
                continue;
            }
            c.prepare_cached(
                "INSERT INTO tls_report_days (domain, day, rows, dropped) VALUES (?1, ?2, 0, 0)",
            )?
            .execute(params![e.domain, e.day])?;
        }
        let counted = c
            .prepare_cached(
                "UPDATE tls_report_rows SET count = count + ?5
                 WHERE domain = ?1 AND day = ?2 AND policy = ?3 AND result = ?4",
            )?
            .execute(params![e.domain, e.day, e.policy, e.result, count])?;
        if counted > 0 {
            done.counted += e.count;
            continue;
        }
        let rows: i64 = c
            .prepare_cached("SELECT rows FROM tls_report_days WHERE domain = ?1 AND day = ?2")?
            .query_row(params![e.domain, e.day], |r| r.get(0))?;
        if rows as u64 >= limits.max_rows {
            c.prepare_cached(
                "UPDATE tls_report_days SET dropped = dropped + ?3 WHERE domain = ?1 AND day = ?2",
            )?
            .execute(params![e.domain, e.day, count])?;
            done.dropped += e.count;
            continue;
        }
        c.prepare_cached(
            "INSERT INTO tls_report_rows (domain, day, policy, result, count)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![e.domain, e.day, e.policy, e.result, count])?;
        c.prepare_cached(
            "UPDATE tls_report_days SET rows = rows + 1 WHERE domain = ?1 AND day = ?2",
        )?
        .execute(params![e.domain, e.day])?;
        done.counted += e.count;
    }
    Ok(done)
}

/// Takes one domain's day out (see [`crate::Store::tls_report_take`]);
/// the writer thread runs one write at a time, so no other can take it.
pub(super) fn tls_report_take(
    c: &Connection,
    before_day: i64,
) -> Result<Option<TlsDay>, StoreError> {
    let day = c
        .prepare_cached(
            "SELECT domain, day, dropped FROM tls_report_days WHERE day < ?1
             ORDER BY day, domain LIMIT 1",
        )?
        .query_row(params![before_day], |r| {
            Ok(TlsDay {
                domain: r.get(0)?,
                day: r.get(1)?,
                rows: Vec::new(),
                dropped: r.get::<_, i64>(2)? as u64,
            })
        })
        .optional()?;
    let Some(mut day) = day else {
        return Ok(None);
    };
    day.rows = c
        .prepare_cached(
            "SELECT policy, result, count FROM tls_report_rows WHERE domain = ?1 AND day = ?2
             ORDER BY policy, result",
        )?
        .query_map(params![day.domain, day.day], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)? as u64,
            ))
        })?
        .collect::<Result<_, _>>()?;
    c.prepare_cached("DELETE FROM tls_report_rows WHERE domain = ?1 AND day = ?2")?
        .execute(params![day.domain, day.day])?;
    c.prepare_cached("DELETE FROM tls_report_days WHERE domain = ?1 AND day = ?2")?
        .execute(params![day.domain, day.day])?;
    Ok(Some(day))
}

/// Sets or clears a mailbox's vacation reply (see
/// [`crate::Store::account_set_vacation`]).
pub(super) fn account_set_vacation(
    c: &Connection,
    a: &Address,
    v: Option<&Vacation>,
) -> Result<(), StoreError> {
    let id = account_id(c, a)?.ok_or_else(|| StoreError::NotFound(Subject::Account(a.clone())))?;
    c.execute("DELETE FROM vacation_replies WHERE account_id = ?1", [id])?;
    match v {
        None => {
            c.execute("DELETE FROM vacations WHERE account_id = ?1", [id])?;
        }
        Some(v) => {
            c.execute(
                "INSERT INTO vacations (account_id, subject, body, starts, ends, interval_days)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (account_id) DO UPDATE SET subject = excluded.subject,
                    body = excluded.body, starts = excluded.starts, ends = excluded.ends,
                    interval_days = excluded.interval_days",
                params![id, v.subject, v.text, v.starts, v.ends, v.interval_days],
            )?;
        }
    }
    Ok(())
}

/// A mailbox's vacation reply (see [`crate::Store::account_vacation`]).
pub(super) fn account_vacation(
    c: &Connection,
    account: AccountId,
) -> Result<Option<Vacation>, StoreError> {
    Ok(c.prepare_cached(
        "SELECT subject, body, starts, ends, interval_days FROM vacations WHERE account_id = ?1",
    )?
    .query_row([account], |r| {
        Ok(Vacation {
            subject: r.get(0)?,
            text: r.get(1)?,
            starts: r.get(2)?,
            ends: r.get(3)?,
            interval_days: r.get(4)?,
        })
    })
    .optional()?)
}

/// Whether a vacation reply to `sender` is due, recorded if so (see
/// [`crate::Store::vacation_reply_due`]).
pub(super) fn vacation_reply_due(
    c: &Connection,
    account: AccountId,
    sender: &str,
    now: i64,
    interval: i64,
) -> Result<bool, StoreError> {
    // Records past the interval no longer hold a reply back: prune them,
    // and the insert below finds room for this sender again.
    c.prepare_cached("DELETE FROM vacation_replies WHERE account_id = ?1 AND sent <= ?2")?
        .execute(params![account, now.saturating_sub(interval)])?;
    let inserted = c
        .prepare_cached(
            "INSERT INTO vacation_replies (account_id, sender, sent) VALUES (?1, ?2, ?3)
             ON CONFLICT (account_id, sender) DO NOTHING",
        )?
        .execute(params![account, sender, now])?;
    Ok(inserted == 1)
}

/// Sets or clears a mailbox's forwarding (see
/// [`crate::Store::account_set_forward`]).
pub(super) fn account_set_forward(
    c: &Connection,
    a: &Address,
    f: Option<&Forward>,
) -> Result<(), StoreError> {
    let id = account_id(c, a)?.ok_or_else(|| StoreError::NotFound(Subject::Account(a.clone())))?;
    c.execute("DELETE FROM forward_targets WHERE account_id = ?1", [id])?;
    c.execute("DELETE FROM forwards WHERE account_id = ?1", [id])?;
    if let Some(f) = f {
        c.execute(
            "INSERT INTO forwards (account_id, keep) VALUES (?1, ?2)",
            params![id, f.keep],
        )?;
        for (i, t) in f.targets.iter().enumerate() {
            c.execute(
                "INSERT INTO forward_targets (account_id, seq, target) VALUES (?1, ?2, ?3)",
                params![id, i as i64, t.canonical()],
            )?;
        }
    }
    Ok(())
}

/// A mailbox's forwarding (see [`crate::Store::account_forward`]).
pub(super) fn account_forward(
    c: &Connection,
    account: AccountId,
) -> Result<Option<Forward>, StoreError> {
    let keep: Option<bool> = c
        .prepare_cached("SELECT keep FROM forwards WHERE account_id = ?1")?
        .query_row([account], |r| r.get(0))
        .optional()?;
    let Some(keep) = keep else {
        return Ok(None);
    };
    let mut st =
        c.prepare_cached("SELECT target FROM forward_targets WHERE account_id = ?1 ORDER BY seq")?;
    let rows = st.query_map([account], |r| r.get::<_, String>(0))?;
    let mut targets = Vec::new();
    for t in rows {
        targets.push(Address::parse(&t?).map_err(|_| corrupt("forward target"))?);
    }
    Ok(Some(Forward { targets, keep }))
}

/// The SRS secret, `fresh` stored first when there is none yet (see
/// [`crate::Store::srs_secret`]).
pub(super) fn srs_secret(c: &Connection, fresh: &str) -> Result<Vec<u8>, StoreError> {
    c.prepare_cached(
        "INSERT INTO meta (key, value) VALUES ('srs_secret', ?1) ON CONFLICT (key) DO NOTHING",
    )?
    .execute(params![fresh])?;
    let secret: String = c
        .prepare_cached("SELECT value FROM meta WHERE key = 'srs_secret'")?
        .query_row([], |r| r.get(0))?;
    Ok(secret.into_bytes())
}

/// Records a token (see [`crate::Store::token_create`]).
pub(super) fn token_create(c: &Connection, t: &crate::tokens::NewToken) -> Result<i64, StoreError> {
    c.prepare_cached(
        "INSERT INTO api_tokens (digest, name, kind, subjects, created)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        crate::tokens::digest_hex(&t.digest),
        t.name,
        t.scope.kind(),
        t.scope.subjects(),
        t.created
    ])?;
    Ok(c.last_insert_rowid())
}

const TOKEN_COLUMNS: &str = "SELECT id, name, kind, subjects, created FROM api_tokens";

fn token_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, String, String, String, i64)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

/// Every token (see [`crate::Store::token_list`]).
pub(super) fn token_list(c: &Connection) -> Result<Vec<crate::tokens::TokenInfo>, StoreError> {
    let mut st = c.prepare_cached(&format!("{TOKEN_COLUMNS} ORDER BY id"))?;
    let rows = st.query_map([], token_row)?;
    let mut out = Vec::new();
    for r in rows {
        let (id, name, kind, subjects, created) = r?;
        out.push(crate::tokens::info(id, name, &kind, &subjects, created)?);
    }
    Ok(out)
}

/// The token with this digest (see [`crate::Store::token_by_digest`]).
pub(super) fn token_by_digest(
    c: &Connection,
    digest: &[u8; 32],
) -> Result<Option<crate::tokens::TokenInfo>, StoreError> {
    let row = c
        .prepare_cached(&format!("{TOKEN_COLUMNS} WHERE digest = ?1"))?
        .query_row([crate::tokens::digest_hex(digest)], token_row)
        .optional()?;
    row.map(|(id, name, kind, subjects, created)| {
        crate::tokens::info(id, name, &kind, &subjects, created)
    })
    .transpose()
}

/// Deletes a token (see [`crate::Store::token_revoke`]).
pub(super) fn token_revoke(c: &Connection, id: i64) -> Result<(), StoreError> {
    match c
        .prepare_cached("DELETE FROM api_tokens WHERE id = ?1")?
        .execute([id])?
    {
        0 => Err(StoreError::NotFound(Subject::Token(id))),
        _ => Ok(()),
    }
}

/// Adds or removes a domain administrator (see
/// [`crate::Store::domain_admin_set`]).
pub(super) fn domain_admin_set(
    c: &Connection,
    d: &Domain,
    a: &Address,
    admin: bool,
) -> Result<(), StoreError> {
    let did = require_domain(c, d)?;
    let aid = account_id(c, a)?.ok_or_else(|| StoreError::NotFound(Subject::Account(a.clone())))?;
    if admin {
        c.prepare_cached(
            "INSERT INTO domain_admins (domain_id, account_id) VALUES (?1, ?2)
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![did, aid])?;
        return Ok(());
    }
    let n = c
        .prepare_cached("DELETE FROM domain_admins WHERE domain_id = ?1 AND account_id = ?2")?
        .execute(params![did, aid])?;
    match n {
        0 => Err(StoreError::NotFound(Subject::DomainAdmin(
            a.clone(),
            d.clone(),
        ))),
        _ => Ok(()),
    }
}

fn mailbox_address(local: &str, domain: &str) -> Result<Address, StoreError> {
    Domain::parse(domain)
        .ok()
        .and_then(|d| Address::new(local, d).ok())
        .ok_or_else(|| corrupt("mailbox name"))
}

/// A domain's administrators (see [`crate::Store::domain_admins`]).
pub(super) fn domain_admins(c: &Connection, d: &Domain) -> Result<Vec<Address>, StoreError> {
    let mut st = c.prepare_cached(
        "SELECT a.local, ad.name FROM domain_admins x
         JOIN domains d ON d.id = x.domain_id JOIN accounts a ON a.id = x.account_id
         JOIN domains ad ON ad.id = a.domain_id
         WHERE d.name = ?1 ORDER BY ad.name, a.local",
    )?;
    let rows = st.query_map([d.ascii()], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (local, domain) = row?;
        out.push(mailbox_address(&local, &domain)?);
    }
    Ok(out)
}

/// The domains a mailbox administers (see [`crate::Store::admin_domains`]).
pub(super) fn admin_domains(c: &Connection, a: &Address) -> Result<Vec<Domain>, StoreError> {
    let mut st = c.prepare_cached(
        "SELECT d.name FROM domain_admins x
         JOIN domains d ON d.id = x.domain_id JOIN accounts a ON a.id = x.account_id
         JOIN domains ad ON ad.id = a.domain_id
         WHERE ad.name = ?1 AND a.local = ?2 ORDER BY d.name",
    )?;
    let rows = st.query_map(params![a.domain().ascii(), a.local()], |r| {
        r.get::<_, String>(0)
    })?;
    let mut out = Vec::new();
    for name in rows {
        out.push(Domain::parse(&name?).map_err(|_| corrupt("domain name"))?);
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
pub(super) fn domain_limits(c: &Connection, d: &Domain) -> Result<DomainLimits, StoreError> {
    c.query_row(
        "SELECT max_mailboxes, max_aliases, max_mailbox_quota, max_total_quota
         FROM domains WHERE name = ?1",
        [d.ascii()],
        |r| {
            Ok(DomainLimits {
                mailboxes: limit_from_db(r.get(0)?),
                aliases: limit_from_db(r.get(1)?),
                mailbox_quota: limit_from_db(r.get(2)?),
                total_quota: limit_from_db(r.get(3)?),
            })
        },
    )
    .optional()?
    .ok_or_else(|| StoreError::NotFound(Subject::Domain(d.clone())))
}

/// Sets a domain's limits (see [`crate::Store::domain_set_limits`]).
pub(super) fn domain_set_limits(
    c: &Connection,
    d: &Domain,
    l: &DomainLimits,
) -> Result<(), StoreError> {
    let n = c.execute(
        "UPDATE domains SET max_mailboxes = ?1, max_aliases = ?2, max_mailbox_quota = ?3,
                max_total_quota = ?4 WHERE name = ?5",
        params![
            limit_to_db(l.mailboxes),
            limit_to_db(l.aliases),
            limit_to_db(l.mailbox_quota),
            limit_to_db(l.total_quota),
            d.ascii()
        ],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound(Subject::Domain(d.clone())));
    }
    Ok(())
}

/// Checks `change` against `d`'s limits with what it has now. On the
/// writer thread, inside the transaction that then makes the change: no
/// other write runs in between.
fn check_limits(c: &Connection, d: &Domain, change: LimitedChange) -> Result<(), StoreError> {
    let limits = domain_limits(c, d)?;
    if limits.is_unlimited() {
        return Ok(());
    }
    let allotted = c.query_row(
        "SELECT (SELECT count(*) FROM accounts a WHERE a.domain_id = d.id),
                (SELECT count(*) FROM aliases s WHERE s.domain_id = d.id),
                (SELECT coalesce(sum(a.quota_bytes), 0) FROM accounts a WHERE a.domain_id = d.id)
         FROM domains d WHERE d.name = ?1",
        [d.ascii()],
        |r| {
            Ok(Allotted {
                mailboxes: r.get::<_, i64>(0)?.max(0) as u64,
                aliases: r.get::<_, i64>(1)?.max(0) as u64,
                quota: r.get::<_, i64>(2)?.max(0) as u64,
            })
        },
    )?;
    Ok(crate::limits::check(d, &limits, &allotted, change)?)
}

/// [`account_add`] within the domain's limits.
pub(super) fn account_add_within_limits(
    c: &Connection,
    n: &NewAccount,
) -> Result<AccountId, StoreError> {
    check_limits(
        c,
        n.address.domain(),
        LimitedChange::Mailbox {
            quota: n.quota_bytes,
        },
    )?;
    account_add(c, n)
}

/// [`alias_add`] within the domain's limits.
pub(super) fn alias_add_within_limits(
    c: &Connection,
    a: &Address,
    targets: &[Address],
) -> Result<(), StoreError> {
    check_limits(c, a.domain(), LimitedChange::Alias)?;
    alias_add(c, a, targets)
}

/// [`account_set_quota`] within the domain's limits.
pub(super) fn account_set_quota_within_limits(
    c: &Connection,
    a: &Address,
    quota: Option<u64>,
    messages: Option<u64>,
) -> Result<(), StoreError> {
    let old = account_get(c, a)?
        .ok_or_else(|| StoreError::NotFound(Subject::Account(a.clone())))?
        .quota_bytes;
    check_limits(c, a.domain(), LimitedChange::Quota { old, new: quota })?;
    account_set_quota(c, a, quota, messages)
}

/// A page of a domain's accounts (see [`crate::Store::account_page`]):
/// a range of the UNIQUE (domain_id, local) index.
pub(super) fn account_page(
    c: &Connection,
    d: &Domain,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<Account>, StoreError> {
    // Two statements rather than `?2 IS NULL OR …`, which would keep
    // SQLite from seeking to the cursor in the index.
    let cursor = if after.is_some() {
        "AND a.local > ?2"
    } else {
        "AND ?2 IS NULL"
    };
    let sql = format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts a JOIN domains d ON d.id = a.domain_id
         WHERE d.name = ?1 {cursor} ORDER BY a.local LIMIT ?3"
    );
    let mut st = c.prepare_cached(&sql)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = st.query_map(params![d.ascii(), after, limit], |r| {
        account_row_in(r, Some(d))
    })?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row?.0);
    }
    Ok(out)
}

/// A page of a domain's aliases with their targets (see
/// [`crate::Store::alias_page`]): a range of the UNIQUE (domain_id, local)
/// index joined to the targets, one statement.
pub(super) fn alias_page(
    c: &Connection,
    d: &Domain,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<Alias>, StoreError> {
    let cursor = if after.is_some() {
        "AND local > ?2"
    } else {
        "AND ?2 IS NULL"
    };
    let sql = format!(
        "SELECT s.local, t.target FROM
            (SELECT id, local FROM aliases
             WHERE domain_id = (SELECT id FROM domains WHERE name = ?1) {cursor}
             ORDER BY local LIMIT ?3) s
         LEFT JOIN alias_targets t ON t.alias_id = s.id
         ORDER BY s.local, t.seq"
    );
    let mut st = c.prepare_cached(&sql)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = st.query_map(params![d.ascii(), after, limit], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
    })?;
    let mut out: Vec<Alias> = Vec::new();
    for row in rows {
        let (local, target) = row?;
        crate::types::push_alias_row(&mut out, d, &local, target.as_deref())?;
    }
    Ok(out)
}
