//! Copying a whole store from one backend to another: `praisani store
//! migrate` (embedded → PostgreSQL when a host grows past one machine, and
//! back).
//!
//! Everything is copied table by table with its ids, so every reference
//! (a message's body, a queued recipient's message) stays right: domains
//! with their quotas, retention and limits, accounts with all their secrets,
//! quotas, language, retention and holds, aliases, bodies with their chunks and
//! downgraded headers (RFC 6857), messages, and the outbound queue with
//! each recipient's state (and its sending account), the sending counts
//! and greylisting's memory. A message's *effective* UIDL is written to the
//! target's `uidl` column, so POP3 clients see the same UIDLs and do not
//! download everything again. Leases and maildrop locks are not copied:
//! the source must not be in use while it is copied.
//!
//! The copy is one transaction in the target: it lands whole or not at
//! all. Counts and octets are compared at the end.

use crate::postgres::{PgOptions, PostgresStore, pool};
use crate::{Conflict, EmbeddedStore, StoreError, Unavailable};
use std::path::PathBuf;
use tokio_postgres::types::ToSql;

/// One end of a migration.
#[derive(Clone, Debug)]
pub enum Endpoint {
    /// The embedded store in this data directory.
    Embedded(PathBuf),
    /// A PostgreSQL database.
    Postgres(PgOptions),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Embedded(dir) => write!(f, "the embedded store in {}", dir.display()),
            Endpoint::Postgres(o) => write!(f, "{}", crate::postgres::redact(&o.url)),
        }
    }
}

/// What was copied (and found again in the target).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Rows copied per table, in copy order.
    pub tables: Vec<(&'static str, u64)>,
    /// Octets of message content copied.
    pub octets: u64,
}

#[derive(Clone, Copy)]
enum Kind {
    Int,
    Text,
    Blob,
    Bool,
}

#[derive(Clone, Debug)]
enum Val {
    I(Option<i64>),
    T(Option<String>),
    B(Option<Vec<u8>>),
    Bool(Option<bool>),
}

impl Val {
    fn pg(&self) -> &(dyn ToSql + Sync) {
        match self {
            Val::I(v) => v,
            Val::T(v) => v,
            Val::B(v) => v,
            Val::Bool(v) => v,
        }
    }

    fn sqlite(&self) -> rusqlite::types::Value {
        use rusqlite::types::Value;
        match self {
            Val::I(Some(v)) => Value::Integer(*v),
            Val::T(Some(v)) => Value::Text(v.clone()),
            Val::B(Some(v)) => Value::Blob(v.clone()),
            Val::Bool(Some(v)) => Value::Integer(i64::from(*v)),
            _ => Value::Null,
        }
    }

    fn int(&self) -> i64 {
        match self {
            Val::I(Some(v)) => *v,
            _ => 0,
        }
    }
}

use Kind::{Blob, Bool, Int, Text};

/// A table to copy: name, columns, order. Chunks are copied body by body.
struct Table {
    name: &'static str,
    columns: &'static [(&'static str, Kind)],
    order: &'static str,
}

/// In the order their references need.
const TABLES: &[Table] = &[
    Table {
        name: "domains",
        columns: &[
            ("id", Int),
            ("name", Text),
            ("created", Int),
            ("quota_bytes", Int),
            ("used_bytes", Int),
            ("keep_after_retrieval", Int),
            ("keep_max_age", Int),
            ("contact", Text),
            ("contact_lang", Text),
            ("max_mailboxes", Int),
            ("max_aliases", Int),
            ("max_mailbox_quota", Int),
            ("max_total_quota", Int),
        ],
        order: "id",
    },
    Table {
        name: "accounts",
        columns: &[
            ("id", Int),
            ("domain_id", Int),
            ("local", Text),
            ("password_hash", Text),
            ("apop_secret", Text),
            ("scram", Text),
            ("quota_bytes", Int),
            ("quota_messages", Int),
            ("used_bytes", Int),
            ("used_messages", Int),
            ("quota_warned", Int),
            ("lang", Text),
            ("warn_to", Text),
            ("keep_after_retrieval", Int),
            ("keep_max_age", Int),
            ("created", Int),
            ("held", Text),
        ],
        order: "id",
    },
    Table {
        name: "aliases",
        columns: &[("id", Int), ("domain_id", Int), ("local", Text)],
        order: "id",
    },
    Table {
        name: "alias_targets",
        columns: &[("alias_id", Int), ("seq", Int), ("target", Text)],
        order: "alias_id, seq",
    },
    Table {
        name: "bodies",
        columns: &[("id", Int), ("size", Int), ("chunks", Int), ("refs", Int)],
        order: "id",
    },
    Table {
        name: "body_downgrades",
        columns: &[("body_id", Int), ("header_len", Int), ("header", Blob)],
        order: "body_id",
    },
    Table {
        name: "messages",
        columns: &[
            ("id", Int),
            ("account_id", Int),
            ("body_id", Int),
            ("uidl", Text),
            ("size", Int),
            ("received", Int),
            ("retrieved", Int),
            ("prefix", Blob),
        ],
        order: "id",
    },
    Table {
        name: "queue",
        columns: &[
            ("id", Int),
            ("body_id", Int),
            ("sender", Text),
            ("envid", Text),
            ("ret", Text),
            ("smtputf8", Bool),
            ("eight_bit", Bool),
            ("created", Int),
            ("account", Int),
            ("tls_required", Text),
            ("prefix", Blob),
            ("forwarded", Bool),
        ],
        order: "id",
    },
    Table {
        name: "queue_rcpts",
        columns: &[
            ("id", Int),
            ("queue_id", Int),
            ("rcpt", Text),
            ("domain", Text),
            ("orcpt", Text),
            ("notify", Text),
            ("state", Text),
            ("attempts", Int),
            ("next_attempt", Int),
            ("last_error", Text),
            ("delay_notified", Bool),
            ("updated", Int),
        ],
        order: "id",
    },
    // Greylisting's memory: senders that passed stay passed on the new store.
    Table {
        name: "greylist",
        columns: &[
            ("triplet", Text),
            ("first_seen", Int),
            ("last_seen", Int),
            ("passed", Bool),
        ],
        order: "triplet",
    },
    Table {
        name: "greylist_clients",
        columns: &[("client", Text), ("last_seen", Int)],
        order: "client",
    },
    // The last good MTA-STS policies: enforced domains stay enforced.
    Table {
        name: "mta_sts_policies",
        columns: &[
            ("domain", Text),
            ("id", Text),
            ("policy", Text),
            ("fetched", Int),
            ("expires", Int),
        ],
        order: "domain",
    },
    // Sending counts and known recipients: the limits carry on where they were.
    Table {
        name: "send_counts",
        columns: &[
            ("scope", Text),
            ("span", Int),
            ("bucket", Int),
            ("messages", Int),
            ("new_rcpts", Int),
        ],
        order: "scope, span, bucket",
    },
    Table {
        name: "send_recipients",
        columns: &[("account", Int), ("rcpt", Text), ("last_sent", Int)],
        order: "account, rcpt",
    },
    // DMARC evaluations not yet reported.
    Table {
        name: "dmarc_days",
        columns: &[
            ("domain", Text),
            ("day", Int),
            ("policy", Text),
            ("rows", Int),
            ("dropped", Int),
        ],
        order: "domain, day",
    },
    Table {
        name: "dmarc_rows",
        columns: &[
            ("domain", Text),
            ("day", Int),
            ("row", Text),
            ("count", Int),
        ],
        order: "domain, day, row",
    },
    // Vacation auto-replies, and whom each already answered (so moving
    // the store does not answer them again).
    Table {
        name: "vacations",
        columns: &[
            ("account_id", Int),
            ("subject", Text),
            ("body", Text),
            ("starts", Int),
            ("ends", Int),
            ("interval_days", Int),
        ],
        order: "account_id",
    },
    Table {
        name: "vacation_replies",
        columns: &[("account_id", Int), ("sender", Text), ("sent", Int)],
        order: "account_id, sender",
    },
    // Mailbox forwards.
    Table {
        name: "forwards",
        columns: &[("account_id", Int), ("keep", Bool)],
        order: "account_id",
    },
    Table {
        name: "forward_targets",
        columns: &[("account_id", Int), ("seq", Int), ("target", Text)],
        order: "account_id, seq",
    },
    // TLS-RPT sessions not yet reported.
    Table {
        name: "tls_report_days",
        columns: &[
            ("domain", Text),
            ("day", Int),
            ("rows", Int),
            ("dropped", Int),
        ],
        order: "domain, day",
    },
    Table {
        name: "tls_report_rows",
        columns: &[
            ("domain", Text),
            ("day", Int),
            ("policy", Text),
            ("result", Text),
            ("count", Int),
        ],
        order: "domain, day, policy, result",
    },
    // Admin API tokens: the ones handed out keep working on the new store.
    Table {
        name: "api_tokens",
        columns: &[
            ("id", Int),
            ("digest", Text),
            ("name", Text),
            ("kind", Text),
            ("subjects", Text),
            ("created", Int),
        ],
        order: "id",
    },
    // Domain administrators (ids copied with domains and accounts).
    Table {
        name: "domain_admins",
        columns: &[("domain_id", Int), ("account_id", Int)],
        order: "domain_id, account_id",
    },
];

const CHUNKS: Table = Table {
    name: "body_chunks",
    columns: &[("body_id", Int), ("seq", Int), ("data", Blob)],
    order: "seq",
};

/// An open end: a connection and the store's UIDL prefix.
enum Side {
    Sqlite(rusqlite::Connection, String),
    Pg(deadpool_postgres::Client, String),
}

impl Side {
    async fn open(e: &Endpoint) -> Result<Side, StoreError> {
        match e {
            Endpoint::Embedded(dir) => {
                // Opening the store creates it or brings its schema up to date.
                drop(EmbeddedStore::open(dir)?);
                let conn = rusqlite::Connection::open(dir.join(crate::embedded::DB_FILE))?;
                conn.busy_timeout(std::time::Duration::from_secs(10))?;
                conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
                let prefix: String =
                    conn.query_row("SELECT value FROM meta WHERE key = 'uid_prefix'", [], |r| {
                        r.get(0)
                    })?;
                Ok(Side::Sqlite(conn, prefix))
            }
            Endpoint::Postgres(o) => {
                let store = PostgresStore::open(o, &std::env::temp_dir()).await?;
                let prefix = store.uid_prefix().to_string();
                drop(store);
                Ok(Side::Pg(pool(o)?.get().await?, prefix))
            }
        }
    }

    fn prefix(&self) -> &str {
        match self {
            Side::Sqlite(_, p) | Side::Pg(_, p) => p,
        }
    }

    async fn batch(&self, sql: &str) -> Result<(), StoreError> {
        match self {
            Side::Sqlite(c, _) => Ok(c.execute_batch(sql)?),
            Side::Pg(c, _) => Ok(c.batch_execute(sql).await?),
        }
    }

    async fn scalar(&self, sql: &str) -> Result<i64, StoreError> {
        match self {
            Side::Sqlite(c, _) => Ok(c.query_row(sql, [], |r| r.get(0))?),
            Side::Pg(c, _) => Ok(c.query_one(sql, &[]).await?.get(0)),
        }
    }

    /// The rows of `t`, or with `body`, the chunks of that body.
    async fn read(&self, t: &Table, body: Option<i64>) -> Result<Vec<Vec<Val>>, StoreError> {
        let cols: Vec<&str> = t.columns.iter().map(|c| c.0).collect();
        let filter = if body.is_some() {
            " WHERE body_id = $1"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {} FROM {}{filter} ORDER BY {}",
            cols.join(", "),
            t.name,
            t.order
        );
        match self {
            Side::Sqlite(c, _) => {
                let sql = sql.replace("$1", "?1");
                let mut st = c.prepare(&sql)?;
                let params: Vec<i64> = body.into_iter().collect();
                let rows = st.query_map(rusqlite::params_from_iter(params), |r| {
                    t.columns
                        .iter()
                        .enumerate()
                        .map(|(i, (_, k))| {
                            Ok(match k {
                                Int => Val::I(r.get(i)?),
                                Text => Val::T(r.get(i)?),
                                Blob => Val::B(r.get(i)?),
                                Bool => Val::Bool(r.get(i)?),
                            })
                        })
                        .collect::<rusqlite::Result<Vec<Val>>>()
                })?;
                Ok(rows.collect::<rusqlite::Result<_>>()?)
            }
            Side::Pg(c, _) => {
                let rows = match body {
                    Some(b) => c.query(&sql, &[&b]).await?,
                    None => c.query(&sql, &[]).await?,
                };
                Ok(rows
                    .iter()
                    .map(|r| {
                        t.columns
                            .iter()
                            .enumerate()
                            .map(|(i, (_, k))| match k {
                                Int => Val::I(r.get(i)),
                                Text => Val::T(r.get(i)),
                                Blob => Val::B(r.get(i)),
                                Bool => Val::Bool(r.get(i)),
                            })
                            .collect()
                    })
                    .collect())
            }
        }
    }

    async fn insert(&self, t: &Table, rows: &[Vec<Val>]) -> Result<(), StoreError> {
        let cols: Vec<&str> = t.columns.iter().map(|c| c.0).collect();
        match self {
            Side::Sqlite(c, _) => {
                let marks: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
                let sql = format!(
                    "INSERT INTO {} ({}) VALUES ({})",
                    t.name,
                    cols.join(", "),
                    marks.join(", ")
                );
                let mut st = c.prepare_cached(&sql)?;
                for row in rows {
                    st.execute(rusqlite::params_from_iter(row.iter().map(Val::sqlite)))?;
                }
            }
            Side::Pg(c, _) => {
                let marks: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
                let sql = format!(
                    "INSERT INTO {} ({}) VALUES ({})",
                    t.name,
                    cols.join(", "),
                    marks.join(", ")
                );
                let st = c.prepare_cached(&sql).await?;
                for row in rows {
                    let params: Vec<&(dyn ToSql + Sync)> = row.iter().map(Val::pg).collect();
                    c.execute(&st, &params).await?;
                }
            }
        }
        Ok(())
    }

    /// Removes everything a migration writes (for `force`).
    async fn clear(&self) -> Result<(), StoreError> {
        let mut sql = String::from("DELETE FROM maildrop_locks;");
        for t in TABLES.iter().rev() {
            if t.name == "bodies" {
                sql.push_str("DELETE FROM body_chunks;");
            }
            sql.push_str(&format!("DELETE FROM {};", t.name));
        }
        self.batch(&sql).await
    }

    /// After rows were inserted with their ids: new ids continue above
    /// them (and above any id the target handed out before).
    async fn bump_sequences(&self) -> Result<(), StoreError> {
        let Side::Pg(c, _) = self else {
            // SQLite's AUTOINCREMENT follows explicit ids by itself.
            return Ok(());
        };
        for t in [
            "domains",
            "accounts",
            "aliases",
            "bodies",
            "messages",
            "queue",
            "queue_rcpts",
            "api_tokens",
        ] {
            c.batch_execute(&format!(
                "SELECT setval(pg_get_serial_sequence('{t}', 'id'),
                    greatest((SELECT max(id) FROM {t}),
                             (SELECT last_value FROM {t}_id_seq), 1))"
            ))
            .await?;
        }
        Ok(())
    }
}

/// The octets of body content actually stored (the chunks, not the size
/// column copied with them).
async fn octets(side: &Side) -> Result<i64, StoreError> {
    side.scalar(match side {
        Side::Sqlite(..) => "SELECT coalesce(sum(length(data)), 0) FROM body_chunks",
        Side::Pg(..) => "SELECT coalesce(sum(octet_length(data)), 0)::bigint FROM body_chunks",
    })
    .await
}

async fn count(side: &Side, table: &str) -> Result<i64, StoreError> {
    side.scalar(&format!("SELECT count(*) FROM {table}")).await
}

/// Copies everything in `from` into `to`. The target must be empty (no
/// domain, message or queued mail) unless `force`, which replaces what it
/// holds.
pub async fn copy(from: &Endpoint, to: &Endpoint, force: bool) -> Result<Report, StoreError> {
    let src = Side::open(from).await?;
    let dst = Side::open(to).await?;
    let held: i64 = {
        let mut n = 0;
        for t in ["domains", "messages", "queue"] {
            n += count(&dst, t).await?;
        }
        n
    };
    // PostgreSQL nodes still serving: a live POP3 session or a delivery
    // in flight means the copy would miss what happens next.
    if let Side::Pg(..) = &src {
        let busy = src
            .scalar(
                "SELECT (SELECT count(*) FROM maildrop_locks
                          WHERE expires > extract(epoch FROM now())::bigint)
                      + (SELECT count(*) FROM queue_rcpts
                          WHERE lease_until > extract(epoch FROM now())::bigint)",
            )
            .await?;
        if busy > 0 {
            return Err(Conflict::SourceInUse(from.clone()).into());
        }
    }
    if held > 0 && !force {
        return Err(Conflict::TargetNotEmpty(to.clone()).into());
    }
    // One snapshot of the source, one transaction in the target.
    match &src {
        Side::Sqlite(..) => src.batch("BEGIN").await?,
        Side::Pg(..) => {
            src.batch("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .await?
        }
    }
    match &dst {
        Side::Sqlite(..) => dst.batch("BEGIN IMMEDIATE").await?,
        Side::Pg(..) => dst.batch("BEGIN").await?,
    }
    let mut result = copy_all(&src, &dst, force).await;
    if result.is_ok()
        && let Side::Sqlite(..) = &dst
    {
        // The embedded store keeps a domain total; PostgreSQL sums on
        // demand (a counter row would serialise every node's deliveries).
        if let Err(e) = dst
            .batch(
                "UPDATE domains SET used_bytes =
                    (SELECT coalesce(sum(a.used_bytes), 0) FROM accounts a
                     WHERE a.domain_id = domains.id)",
            )
            .await
        {
            result = Err(e);
        }
    }
    // Checked inside both transactions, before the target commits: the
    // source as the snapshot that was copied, the target as it will be.
    if let Ok(report) = &result
        && let Err(e) = verify(&src, &dst, report).await
    {
        result = Err(e);
    }
    match result {
        Ok(report) => {
            dst.batch("COMMIT").await?;
            src.batch("COMMIT").await?;
            Ok(report)
        }
        Err(e) => {
            // Best effort: a failed connection rolls back by itself.
            let _ = dst.batch("ROLLBACK").await;
            let _ = src.batch("ROLLBACK").await;
            Err(e)
        }
    }
}

async fn copy_all(src: &Side, dst: &Side, force: bool) -> Result<Report, StoreError> {
    if force {
        dst.clear().await?;
    }
    let mut report = Report::default();
    for t in TABLES {
        let mut rows = src.read(t, None).await?;
        match t.name {
            // The UIDL clients saw: kept, or made from the source's prefix.
            "messages" => {
                for r in &mut rows {
                    if let Val::T(None) = r[3] {
                        r[3] = Val::T(Some(crate::types::new_uidl(src.prefix(), r[0].int())));
                    }
                }
            }
            "bodies" => {
                report.octets = rows.iter().map(|r| r[1].int().max(0) as u64).sum();
            }
            _ => {}
        }
        if t.name == "body_downgrades" {
            // Chunks first, body by body, so memory holds one body at most.
            let bodies = src.read(&TABLES[4], None).await?;
            let mut chunks = 0u64;
            for b in bodies {
                let c = src.read(&CHUNKS, Some(b[0].int())).await?;
                chunks += c.len() as u64;
                dst.insert(&CHUNKS, &c).await?;
            }
            report.tables.push(("body_chunks", chunks));
        }
        dst.insert(t, &rows).await?;
        report.tables.push((t.name, rows.len() as u64));
    }
    dst.bump_sequences().await?;
    Ok(report)
}

/// Compares what the target holds with what was copied and the source.
async fn verify(src: &Side, dst: &Side, report: &Report) -> Result<(), StoreError> {
    for (table, copied) in &report.tables {
        let (s, d) = (count(src, table).await?, count(dst, table).await?);
        if s != d || d as u64 != *copied {
            return Err(Unavailable::RowsDiffer {
                table,
                source_rows: s,
                target_rows: d,
                copied: *copied,
            }
            .into());
        }
    }
    let (s, d) = (octets(src).await?, octets(dst).await?);
    if s != d {
        return Err(Unavailable::OctetsDiffer {
            source_octets: s,
            target_octets: d,
        }
        .into());
    }
    Ok(())
}
