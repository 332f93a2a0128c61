//! The SQL behind each store operation. Functions here run either on the
//! writer thread inside a transaction or on a pooled read connection.

use super::pool::ReadPool;
use crate::{
    Accepted, Account, AccountId, Alias, AttemptResult, BodySource, DomainInfo, HeaderDowngrade,
    LegacyView, Lookup, MessageId, MessageMeta, NewAccount, Outbound, OutboundRcpt, QueueEntry,
    QueueId, QueueRcptId, QueuedRcpt, RcptState, Secrets, Spool, StoreError,
};
use async_trait::async_trait;
use praisani_mailaddr::{Address, Domain};
use rusqlite::{Connection, OptionalExtension, params};

/// Bodies are stored in chunks of this size so they can be streamed.
const CHUNK: usize = 128 * 1024;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Unavailable(format!("stored data is invalid: {what}"))
}

fn domain_id(c: &Connection, d: &Domain) -> Result<Option<i64>, StoreError> {
    Ok(
        c.query_row("SELECT id FROM domains WHERE name = ?1", [d.ascii()], |r| {
            r.get(0)
        })
        .optional()?,
    )
}

fn require_domain(c: &Connection, d: &Domain) -> Result<i64, StoreError> {
    domain_id(c, d)?.ok_or_else(|| StoreError::NotFound(format!("domain {d}")))
}

pub(super) fn domain_add(c: &Connection, d: &Domain) -> Result<(), StoreError> {
    if domain_id(c, d)?.is_some() {
        return Err(StoreError::Duplicate(format!("domain {d}")));
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
        return Err(StoreError::Conflict(format!(
            "domain {d} still has {accounts} mailbox(es) and {aliases} alias(es); use --force to remove them too"
        )));
    }
    let ids: Vec<i64> = {
        let mut st = c.prepare("SELECT id FROM accounts WHERE domain_id = ?1")?;
        st.query_map([id], |r| r.get(0))?
            .collect::<Result<_, _>>()?
    };
    for account in ids {
        remove_account_by_id(c, account)?;
    }
    c.execute("DELETE FROM aliases WHERE domain_id = ?1", [id])?;
    c.execute("DELETE FROM domains WHERE id = ?1", [id])?;
    Ok(())
}

pub(super) fn domain_list(c: &Connection) -> Result<Vec<DomainInfo>, StoreError> {
    let mut st = c.prepare(
        "SELECT d.name,
                (SELECT count(*) FROM accounts a WHERE a.domain_id = d.id),
                (SELECT count(*) FROM aliases s WHERE s.domain_id = d.id)
         FROM domains d ORDER BY d.name",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (name, accounts, aliases) = row?;
        out.push(DomainInfo {
            domain: Domain::parse(&name).map_err(|_| corrupt("domain name"))?,
            accounts: accounts as u64,
            aliases: aliases as u64,
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

fn account_id(c: &Connection, a: &Address) -> Result<Option<i64>, StoreError> {
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
        return Err(StoreError::Duplicate(format!("address {}", n.address)));
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
            n.quota_bytes.map(|q| q as i64),
            now(),
            n.scram
        ],
    )?;
    Ok(c.last_insert_rowid())
}

fn remove_account_by_id(c: &Connection, id: AccountId) -> Result<(), StoreError> {
    let ids: Vec<i64> = {
        let mut st = c.prepare("SELECT id FROM messages WHERE account_id = ?1")?;
        st.query_map([id], |r| r.get(0))?
            .collect::<Result<_, _>>()?
    };
    delete_messages(c, id, &ids)?;
    c.execute("DELETE FROM accounts WHERE id = ?1", [id])?;
    Ok(())
}

pub(super) fn account_remove(c: &Connection, a: &Address) -> Result<(), StoreError> {
    let id = account_id(c, a)?.ok_or_else(|| StoreError::NotFound(format!("account {a}")))?;
    remove_account_by_id(c, id)
}

const ACCOUNT_COLUMNS: &str = "a.id, a.local, d.name, a.password_hash, a.apop_secret,
     a.quota_bytes, a.used_bytes, a.used_messages, a.scram";

fn account_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Account, ())> {
    let local: String = r.get(1)?;
    let domain: String = r.get(2)?;
    let address = Domain::parse(&domain)
        .ok()
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
    let id = account_id(c, a)?.ok_or_else(|| StoreError::NotFound(format!("account {a}")))?;
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

pub(super) fn account_set_quota(
    c: &Connection,
    a: &Address,
    quota: Option<u64>,
) -> Result<(), StoreError> {
    let id = account_id(c, a)?.ok_or_else(|| StoreError::NotFound(format!("account {a}")))?;
    c.execute(
        "UPDATE accounts SET quota_bytes = ?1 WHERE id = ?2",
        params![quota.map(|q| q as i64), id],
    )?;
    Ok(())
}

pub(super) fn alias_add(
    c: &Connection,
    a: &Address,
    targets: &[Address],
) -> Result<(), StoreError> {
    let did = require_domain(c, a.domain())?;
    if account_id(c, a)?.is_some() || alias_id(c, a)?.is_some() {
        return Err(StoreError::Duplicate(format!("address {a}")));
    }
    if targets.is_empty() {
        return Err(StoreError::Conflict(
            "an alias needs at least one target".into(),
        ));
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
    let id = alias_id(c, a)?.ok_or_else(|| StoreError::NotFound(format!("alias {a}")))?;
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
        "SELECT d.id, a.id, a.quota_bytes, a.used_bytes FROM domains d
         LEFT JOIN accounts a ON a.domain_id = d.id AND a.local = ?2
         WHERE d.name = ?1",
    )?;
    let row = st
        .query_row(params![a.domain().ascii(), a.local()], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<i64>>(1)?,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, Option<i64>>(3)?,
            ))
        })
        .optional()?;
    match row {
        None => Ok(Lookup::NotHosted),
        Some((_, Some(id), quota, used)) => Ok(Lookup::Account {
            id,
            quota_bytes: quota.map(|q| q as u64),
            used_bytes: used.unwrap_or(0) as u64,
        }),
        Some((_, None, _, _)) => match alias_id(c, a)? {
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
    accept(c, body, recipients, None).map(|a| a.messages)
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
    outbound: Option<&Outbound>,
) -> Result<Accepted, StoreError> {
    let refs = recipients.len() + usize::from(outbound.is_some());
    if refs == 0 {
        return Ok(Accepted {
            messages: Vec::new(),
            queued: None,
        });
    }
    let (body_id, size) = store_body(c, body, refs)?;
    let received = now();
    let mut ids = Vec::with_capacity(recipients.len());
    let mut ins = c.prepare_cached(
        "INSERT INTO messages (account_id, body_id, size, received) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let mut usage = c.prepare_cached(
        "UPDATE accounts SET used_bytes = used_bytes + ?1, used_messages = used_messages + 1
         WHERE id = ?2",
    )?;
    for &account in recipients {
        ins.execute(params![account, body_id, size, received])?;
        ids.push(c.last_insert_rowid());
        if usage.execute(params![size, account])? != 1 {
            return Err(StoreError::NotFound(format!("account #{account}")));
        }
    }
    let queued = match outbound {
        Some(o) => Some(enqueue(c, body_id, o, received)?),
        None => None,
    };
    Ok(Accepted {
        messages: ids,
        queued,
    })
}

fn enqueue(c: &Connection, body_id: i64, o: &Outbound, now: i64) -> Result<QueueId, StoreError> {
    c.prepare_cached(
        "INSERT INTO queue (body_id, sender, envid, ret, smtputf8, eight_bit, created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        body_id,
        o.sender,
        o.envid,
        o.ret,
        o.smtputf8,
        o.eight_bit,
        now
    ])?;
    let id = c.last_insert_rowid();
    let mut ins = c.prepare_cached(
        "INSERT INTO queue_rcpts (queue_id, rcpt, domain, orcpt, notify, state, next_attempt, updated)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6)",
    )?;
    for r in &o.recipients {
        ins.execute(params![id, r.address, r.domain, r.orcpt, r.notify, now])?;
    }
    Ok(id)
}

fn queue_header(c: &Connection, id: QueueId) -> Result<Option<QueueEntry>, StoreError> {
    Ok(c.prepare_cached(
        "SELECT q.id, q.sender, q.envid, q.ret, q.smtputf8, q.eight_bit, q.created, b.size
         FROM queue q JOIN bodies b ON b.id = q.body_id WHERE q.id = ?1",
    )?
    .query_row([id], |r| {
        Ok(QueueEntry {
            id: r.get(0)?,
            sender: r.get(1)?,
            envid: r.get(2)?,
            ret: r.get(3)?,
            smtputf8: r.get(4)?,
            eight_bit: r.get(5)?,
            created: r.get(6)?,
            size: r.get::<_, i64>(7)? as u64,
            recipients: Vec::new(),
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
            notify: r.get(4)?,
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
    let ids: Vec<i64> = {
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
    let rows: Vec<(QueuedRcpt, QueueId)> = {
        let mut st = c.prepare_cached(&sql)?;
        st.query_map(params![now, limit as i64], |r| {
            Ok((queue_rcpt_row(r)?, r.get(10)?))
        })?
        .collect::<Result<_, _>>()?
    };
    let mut lease = c.prepare_cached("UPDATE queue_rcpts SET lease_until = ?1 WHERE id = ?2")?;
    let mut out: Vec<QueueEntry> = Vec::new();
    for (rcpt, qid) in rows {
        lease.execute(params![now + lease_secs, rcpt.id])?;
        if let Some(e) = out.iter_mut().find(|e| e.id == qid) {
            e.recipients.push(rcpt);
            continue;
        }
        if let Some(mut e) = queue_header(c, qid)? {
            e.recipients.push(rcpt);
            out.push(e);
        }
    }
    Ok(out)
}

pub(super) fn queue_record(
    c: &Connection,
    results: &[(QueueRcptId, AttemptResult)],
) -> Result<(), StoreError> {
    let t = now();
    for (id, result) in results {
        let (state, next, error) = match result {
            AttemptResult::Delivered => (RcptState::Delivered, None, None),
            AttemptResult::Retry {
                next_attempt,
                error,
            } => (
                RcptState::Pending,
                Some(*next_attempt),
                Some(error.as_str()),
            ),
            AttemptResult::Failed { error } => (RcptState::Failed, None, Some(error.as_str())),
        };
        let n = c
            .prepare_cached(
                "UPDATE queue_rcpts SET state = ?1, attempts = attempts + 1,
                    next_attempt = COALESCE(?2, next_attempt), last_error = ?3,
                    lease_until = 0, updated = ?4
                 WHERE id = ?5",
            )?
            .execute(params![state.db(), next, error, t, id])?;
        if n != 1 {
            return Err(StoreError::NotFound(format!("queued recipient #{id}")));
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
        return Err(StoreError::NotFound(format!("queued message {id}")));
    }
    let n = c.execute(
        "UPDATE queue_rcpts SET next_attempt = ?1, lease_until = 0
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
        .ok_or_else(|| StoreError::NotFound(format!("queued message {id}")))?;
    c.execute("DELETE FROM queue_rcpts WHERE queue_id = ?1", [id])?;
    c.execute("DELETE FROM queue WHERE id = ?1", [id])?;
    release_body(c, body_id)
}

/// Finds a queued message's body; returns (body id, number of chunks, first chunk).
pub(super) fn open_queued(
    c: &Connection,
    id: QueueId,
) -> Result<(i64, i64, Option<Vec<u8>>), StoreError> {
    let (body_id, chunks): (i64, i64) = c
        .prepare_cached(
            "SELECT b.id, b.chunks FROM queue q JOIN bodies b ON b.id = q.body_id WHERE q.id = ?1",
        )?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("queued message {id}")))?;
    body_head(c, body_id, chunks)
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
        "SELECT m.id, m.uidl, m.size, m.received, d.body_id, d.header_len, length(d.header)
         FROM messages m LEFT JOIN body_downgrades d ON d.body_id = m.body_id
         WHERE m.account_id = ?1 ORDER BY m.id",
    )?;
    let rows = st.query_map([account], |r| {
        let id: i64 = r.get(0)?;
        let uidl: Option<String> = r.get(1)?;
        let size = r.get::<_, i64>(2)? as u64;
        let legacy = match (r.get::<_, Option<i64>>(4)?, r.get::<_, Option<i64>>(6)?) {
            (None, _) => LegacyView::Same,
            (Some(_), None) => LegacyView::Hidden,
            (Some(_), Some(len)) => {
                let replaced = r.get::<_, i64>(5)? as u64;
                LegacyView::Downgraded {
                    size: size.saturating_sub(replaced) + len as u64,
                }
            }
        };
        Ok(MessageMeta {
            id,
            // Messages stored here get the store's prefix and their id as
            // UIDL; messages migrated from elsewhere keep the UIDL they had.
            uidl: uidl.unwrap_or_else(|| format!("{uid_prefix}.{id}")),
            size,
            received: r.get(3)?,
            legacy,
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
    let (body_id, chunks): (i64, i64) = c
        .prepare_cached(
            "SELECT b.id, b.chunks FROM messages m JOIN bodies b ON b.id = m.body_id
             WHERE m.id = ?1 AND m.account_id = ?2",
        )?
        .query_row(params![message, account], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("message #{message}")))?;
    body_head(c, body_id, chunks)
}

/// The downgraded header of a message, if its header has UTF-8.
pub(super) fn message_downgrade(
    c: &Connection,
    account: AccountId,
    message: MessageId,
) -> Result<Option<HeaderDowngrade>, StoreError> {
    // (body id of the downgrade row, replaced length, replacement)
    type Row = (Option<i64>, Option<i64>, Option<Vec<u8>>);
    let row: Option<Row> = c
        .prepare_cached(
            "SELECT d.body_id, d.header_len, d.header
             FROM messages m LEFT JOIN body_downgrades d ON d.body_id = m.body_id
             WHERE m.id = ?1 AND m.account_id = ?2",
        )?
        .query_row(params![message, account], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    match row {
        None => Err(StoreError::NotFound(format!("message #{message}"))),
        Some((None, _, _)) => Ok(None),
        Some((Some(_), len, header)) => Ok(Some(HeaderDowngrade {
            original_len: len.unwrap_or(0) as u64,
            header,
        })),
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
        c.prepare_cached(
            "UPDATE accounts SET used_bytes = max(used_bytes - ?1, 0),
                                 used_messages = max(used_messages - 1, 0) WHERE id = ?2",
        )?
        .execute(params![size, account])?;
        release_body(c, body_id)?;
    }
    Ok(())
}

/// Streams a body's chunks from the read pool, one query per chunk.
pub(super) struct ChunkSource {
    pool: ReadPool,
    body_id: i64,
    chunks: i64,
    next: i64,
    first: Option<Vec<u8>>,
}

impl ChunkSource {
    pub(super) fn new(pool: ReadPool, body_id: i64, chunks: i64, first: Option<Vec<u8>>) -> Self {
        ChunkSource {
            pool,
            body_id,
            chunks,
            next: 0,
            first,
        }
    }
}

#[async_trait]
impl BodySource for ChunkSource {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        if self.next >= self.chunks {
            return Ok(None);
        }
        let seq = self.next;
        self.next += 1;
        if let Some(first) = self.first.take().filter(|_| seq == 0) {
            return Ok(Some(first));
        }
        let body_id = self.body_id;
        let chunk = self.pool.run(move |c| read_chunk(c, body_id, seq)).await?;
        Ok(Some(chunk))
    }
}
