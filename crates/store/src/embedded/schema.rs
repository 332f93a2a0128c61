//! The database schema and its versioned migrations.

use crate::StoreError;
use rusqlite::Connection;
use std::path::Path;
use std::time::Duration;

/// Opens a connection with the settings every connection needs.
pub(super) fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    // The CLI and the server use one database at once; wait instead of failing.
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;",
    )?;
    Ok(conn)
}

/// Each entry upgrades the schema by one version (`PRAGMA user_version`).
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE domains (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created INTEGER NOT NULL
     );
     CREATE TABLE accounts (
        id INTEGER PRIMARY KEY,
        domain_id INTEGER NOT NULL REFERENCES domains(id),
        local TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        apop_secret TEXT,
        quota_bytes INTEGER,
        used_bytes INTEGER NOT NULL DEFAULT 0,
        used_messages INTEGER NOT NULL DEFAULT 0,
        created INTEGER NOT NULL,
        UNIQUE (domain_id, local)
     );
     CREATE TABLE aliases (
        id INTEGER PRIMARY KEY,
        domain_id INTEGER NOT NULL REFERENCES domains(id),
        local TEXT NOT NULL,
        UNIQUE (domain_id, local)
     );
     CREATE TABLE alias_targets (
        alias_id INTEGER NOT NULL REFERENCES aliases(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        target TEXT NOT NULL,
        PRIMARY KEY (alias_id, seq)
     );
     CREATE TABLE bodies (
        id INTEGER PRIMARY KEY,
        size INTEGER NOT NULL,
        chunks INTEGER NOT NULL,
        refs INTEGER NOT NULL
     );
     CREATE TABLE body_chunks (
        body_id INTEGER NOT NULL REFERENCES bodies(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (body_id, seq)
     );
     -- AUTOINCREMENT: an id, and so a UIDL, is never reused.
     CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        body_id INTEGER NOT NULL REFERENCES bodies(id),
        uidl TEXT,
        size INTEGER NOT NULL,
        received INTEGER NOT NULL
     );
     CREATE INDEX messages_by_account ON messages (account_id, id);
     CREATE INDEX messages_by_body ON messages (body_id);
     CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    // 2: SCRAM-SHA-256 credentials (RFC 5803 form), derived when the
    // password is set, so SCRAM works without keeping the password.
    "ALTER TABLE accounts ADD COLUMN scram TEXT;",
    // 3: the outbound queue. A queued message holds a reference to its
    // body like a mailbox message does; each recipient has its own state.
    "CREATE TABLE queue (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        body_id INTEGER NOT NULL REFERENCES bodies(id),
        sender TEXT NOT NULL,
        envid TEXT,
        ret TEXT,
        smtputf8 INTEGER NOT NULL DEFAULT 0,
        eight_bit INTEGER NOT NULL DEFAULT 0,
        created INTEGER NOT NULL
     );
     CREATE TABLE queue_rcpts (
        id INTEGER PRIMARY KEY,
        queue_id INTEGER NOT NULL REFERENCES queue(id) ON DELETE CASCADE,
        rcpt TEXT NOT NULL,
        domain TEXT NOT NULL,
        orcpt TEXT,
        notify TEXT,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt INTEGER NOT NULL,
        last_error TEXT,
        lease_until INTEGER NOT NULL DEFAULT 0,
        updated INTEGER NOT NULL
     );
     CREATE INDEX queue_rcpts_due ON queue_rcpts (state, next_attempt);
     CREATE INDEX queue_rcpts_by_queue ON queue_rcpts (queue_id);",
    // 4: a delay notice (RFC 3464 action "delayed") goes out once.
    "ALTER TABLE queue_rcpts ADD COLUMN delay_notified INTEGER NOT NULL DEFAULT 0;",
    // 5: the RFC 6857 downgraded header of a body whose header has UTF-8,
    // for POP3 clients that did not enable UTF-8 (header NULL: none, the
    // message is hidden from them). No row: the header is ASCII.
    "CREATE TABLE body_downgrades (
        body_id INTEGER PRIMARY KEY REFERENCES bodies(id) ON DELETE CASCADE,
        header_len INTEGER NOT NULL,
        header BLOB
     );",
    // 6: quotas (message count, per domain), quota warnings, the account's
    // language and warning address, retention policies, the first
    // retrieval of each message, and maildrop locks that other processes
    // (the `expire` command) can see. Retention columns: NULL inherits,
    // -1 keeps forever, n days.
    "ALTER TABLE accounts ADD COLUMN quota_messages INTEGER;
     ALTER TABLE accounts ADD COLUMN quota_warned INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE accounts ADD COLUMN lang TEXT NOT NULL DEFAULT 'en';
     ALTER TABLE accounts ADD COLUMN warn_to TEXT;
     ALTER TABLE accounts ADD COLUMN keep_after_retrieval INTEGER;
     ALTER TABLE accounts ADD COLUMN keep_max_age INTEGER;
     ALTER TABLE domains ADD COLUMN quota_bytes INTEGER;
     ALTER TABLE domains ADD COLUMN used_bytes INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE domains ADD COLUMN keep_after_retrieval INTEGER;
     ALTER TABLE domains ADD COLUMN keep_max_age INTEGER;
     UPDATE domains SET used_bytes =
        (SELECT coalesce(sum(a.used_bytes), 0) FROM accounts a WHERE a.domain_id = domains.id);
     ALTER TABLE messages ADD COLUMN retrieved INTEGER;
     CREATE TABLE maildrop_locks (
        account_id INTEGER PRIMARY KEY,
        since INTEGER NOT NULL
     );",
    // 7: deleting a body checks the queue's reference to it by index.
    "CREATE INDEX queue_by_body ON queue (body_id);",
    // 8: UIDLs are letters and digits from now on; those clients already
    // know, with their dot, are written out so they never change.
    "UPDATE messages SET uidl = (SELECT value FROM meta WHERE key = 'uid_prefix') || '.' || id
        WHERE uidl IS NULL;",
    // 9: greylisting: triplets (client network, sender, recipient) and the
    // client networks that passed, pruned by last sight.
    "CREATE TABLE greylist (
        triplet TEXT PRIMARY KEY,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        passed INTEGER NOT NULL
     );
     CREATE INDEX greylist_last_seen ON greylist (last_seen);
     CREATE TABLE greylist_clients (
        client TEXT PRIMARY KEY,
        last_seen INTEGER NOT NULL
     );
     CREATE INDEX greylist_clients_last_seen ON greylist_clients (last_seen);",
    // 10: the last good MTA-STS policy of each recipient domain (RFC 8461
    // section 5.1), so a restart keeps it.
    "CREATE TABLE mta_sts_policies (
        domain TEXT PRIMARY KEY,
        id TEXT NOT NULL,
        policy TEXT NOT NULL,
        fetched INTEGER NOT NULL,
        expires INTEGER NOT NULL
     );",
    // 11: sending limits: counters per account and domain per UTC window,
    // the addresses each account sent to, holds on accounts, and the
    // account each queued message came from.
    "CREATE TABLE send_counts (
        scope TEXT NOT NULL,
        span INTEGER NOT NULL,
        bucket INTEGER NOT NULL,
        messages INTEGER NOT NULL DEFAULT 0,
        new_rcpts INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (scope, span, bucket)
     );
     CREATE INDEX send_counts_bucket ON send_counts (bucket);
     CREATE TABLE send_recipients (
        account INTEGER NOT NULL,
        rcpt TEXT NOT NULL,
        last_sent INTEGER NOT NULL,
        PRIMARY KEY (account, rcpt)
     );
     CREATE INDEX send_recipients_last_sent ON send_recipients (last_sent);
     ALTER TABLE accounts ADD COLUMN held TEXT;
     ALTER TABLE queue ADD COLUMN account INTEGER;
     CREATE INDEX queue_by_account ON queue (account);",
    // 12: DMARC aggregate reports: per policy domain and UTC day the
    // latest policy, the rows counted and dropped, and each row's count.
    "CREATE TABLE dmarc_days (
        domain TEXT NOT NULL,
        day INTEGER NOT NULL,
        policy TEXT NOT NULL,
        rows INTEGER NOT NULL,
        dropped INTEGER NOT NULL,
        PRIMARY KEY (domain, day)
     );
     CREATE INDEX dmarc_days_by_day ON dmarc_days (day);
     CREATE TABLE dmarc_rows (
        domain TEXT NOT NULL,
        day INTEGER NOT NULL,
        row TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (domain, day, row)
     );",
    // 13: vacation auto-replies (RFC 3834) and the senders each answered.
    "CREATE TABLE vacations (
        account_id INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
        subject TEXT,
        body TEXT NOT NULL,
        starts INTEGER,
        ends INTEGER,
        interval_days INTEGER NOT NULL
     );
     CREATE TABLE vacation_replies (
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        sender TEXT NOT NULL,
        sent INTEGER NOT NULL,
        PRIMARY KEY (account_id, sender)
     );",
    // 14: TLS-RPT reports: per policy domain and UTC day the rows counted
    // and the sessions dropped, and each (policy, result) row's count.
    "CREATE TABLE tls_report_days (
        domain TEXT NOT NULL,
        day INTEGER NOT NULL,
        rows INTEGER NOT NULL,
        dropped INTEGER NOT NULL,
        PRIMARY KEY (domain, day)
     );
     CREATE INDEX tls_report_days_by_day ON tls_report_days (day);
     CREATE TABLE tls_report_rows (
        domain TEXT NOT NULL,
        day INTEGER NOT NULL,
        policy TEXT NOT NULL,
        result TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (domain, day, policy, result)
     );",
    // 15: what the sender asked of the TLS on the way (RFC 8689):
    // NULL, 'requiretls' or 'no' (TLS-Required: No).
    "ALTER TABLE queue ADD COLUMN tls_required TEXT;",
    // 16: a domain's contact for notices about its accounts, and its
    // language tag (both NULL: none).
    "ALTER TABLE domains ADD COLUMN contact TEXT;
     ALTER TABLE domains ADD COLUMN contact_lang TEXT;",
    // 17: forwarding. Header lines stored for one copy ahead of the shared
    // body (its Delivered-To), the flag that has the queue ARC-seal a
    // forwarded copy, and each mailbox's forward targets.
    "ALTER TABLE messages ADD COLUMN prefix BLOB;
     ALTER TABLE queue ADD COLUMN prefix BLOB;
     ALTER TABLE queue ADD COLUMN forwarded INTEGER NOT NULL DEFAULT 0;
     CREATE TABLE forwards (
        account_id INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
        keep INTEGER NOT NULL
     );
     CREATE TABLE forward_targets (
        account_id INTEGER NOT NULL REFERENCES forwards(account_id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        target TEXT NOT NULL,
        PRIMARY KEY (account_id, seq)
     );",
    // 18: admin API tokens: the SHA-256 of each secret, never the secret.
    "CREATE TABLE api_tokens (
        id INTEGER PRIMARY KEY,
        digest TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        subjects TEXT NOT NULL,
        created INTEGER NOT NULL
     );",
    // 19: imports look a mailbox's UIDLs up (a re-run skips what it
    // brought before).
    "CREATE INDEX messages_by_uidl ON messages (account_id, uidl);",
];

/// Brings the schema up to date.
pub(super) fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let version = crate::migrations_from(version, MIGRATIONS.len())?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
        tx.commit()?;
    }
    Ok(())
}

/// The store's UIDL prefix: random, made once when the store is created, so
/// that a store rebuilt from scratch never hands out a UIDL a client saw
/// from its predecessor.
pub(super) fn uid_prefix(conn: &Connection) -> Result<String, StoreError> {
    use rusqlite::OptionalExtension;
    let existing: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'uid_prefix'", [], |r| {
            r.get(0)
        })
        .optional()?;
    if let Some(p) = existing {
        return Ok(p);
    }
    let fresh = format!("{:08x}", crate::random_u64() as u32);
    conn.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('uid_prefix', ?1)",
        [&fresh],
    )?;
    Ok(
        conn.query_row("SELECT value FROM meta WHERE key = 'uid_prefix'", [], |r| {
            r.get(0)
        })?,
    )
}
