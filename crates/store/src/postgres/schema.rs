//! The PostgreSQL schema and its versioned migrations.
//!
//! The version lives in `meta` (`schema_version`). Nodes starting at once
//! serialise on a transaction-level advisory lock, so exactly one applies
//! each migration and the others find it done.

use crate::StoreError;
use deadpool_postgres::Client;

/// Key of the advisory lock held while migrating ("praisani" in ASCII).
const MIGRATION_LOCK: i64 = 0x7072_6169_7361_6e69;

/// Each entry upgrades the schema by one version. The first one is the
/// embedded backend's schema at its version 6, in PostgreSQL's types, plus
/// what several nodes need: the node holding a queue lease, and maildrop
/// locks as leases that lapse.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE domains (
        id BIGSERIAL PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created BIGINT NOT NULL,
        quota_bytes BIGINT,
        used_bytes BIGINT NOT NULL DEFAULT 0,
        keep_after_retrieval BIGINT,
        keep_max_age BIGINT
     );
     CREATE TABLE accounts (
        id BIGSERIAL PRIMARY KEY,
        domain_id BIGINT NOT NULL REFERENCES domains(id),
        local TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        apop_secret TEXT,
        scram TEXT,
        quota_bytes BIGINT,
        quota_messages BIGINT,
        used_bytes BIGINT NOT NULL DEFAULT 0,
        used_messages BIGINT NOT NULL DEFAULT 0,
        quota_warned BIGINT NOT NULL DEFAULT 0,
        lang TEXT NOT NULL DEFAULT 'en',
        warn_to TEXT,
        keep_after_retrieval BIGINT,
        keep_max_age BIGINT,
        created BIGINT NOT NULL,
        UNIQUE (domain_id, local)
     );
     CREATE TABLE aliases (
        id BIGSERIAL PRIMARY KEY,
        domain_id BIGINT NOT NULL REFERENCES domains(id),
        local TEXT NOT NULL,
        UNIQUE (domain_id, local)
     );
     CREATE TABLE alias_targets (
        alias_id BIGINT NOT NULL REFERENCES aliases(id) ON DELETE CASCADE,
        seq BIGINT NOT NULL,
        target TEXT NOT NULL,
        PRIMARY KEY (alias_id, seq)
     );
     CREATE TABLE bodies (
        id BIGSERIAL PRIMARY KEY,
        size BIGINT NOT NULL,
        chunks BIGINT NOT NULL,
        refs BIGINT NOT NULL
     );
     CREATE TABLE body_chunks (
        body_id BIGINT NOT NULL REFERENCES bodies(id) ON DELETE CASCADE,
        seq BIGINT NOT NULL,
        data BYTEA NOT NULL,
        PRIMARY KEY (body_id, seq)
     );
     CREATE TABLE body_downgrades (
        body_id BIGINT PRIMARY KEY REFERENCES bodies(id) ON DELETE CASCADE,
        header_len BIGINT NOT NULL,
        header BYTEA
     );
     -- A sequence never hands out an id twice, so a UIDL is never reused.
     CREATE TABLE messages (
        id BIGSERIAL PRIMARY KEY,
        account_id BIGINT NOT NULL REFERENCES accounts(id),
        body_id BIGINT NOT NULL REFERENCES bodies(id),
        uidl TEXT,
        size BIGINT NOT NULL,
        received BIGINT NOT NULL,
        retrieved BIGINT
     );
     CREATE INDEX messages_by_account ON messages (account_id, id);
     CREATE INDEX messages_by_body ON messages (body_id);
     CREATE TABLE queue (
        id BIGSERIAL PRIMARY KEY,
        body_id BIGINT NOT NULL REFERENCES bodies(id),
        sender TEXT NOT NULL,
        envid TEXT,
        ret TEXT,
        smtputf8 BOOLEAN NOT NULL DEFAULT false,
        eight_bit BOOLEAN NOT NULL DEFAULT false,
        created BIGINT NOT NULL
     );
     CREATE TABLE queue_rcpts (
        id BIGSERIAL PRIMARY KEY,
        queue_id BIGINT NOT NULL REFERENCES queue(id) ON DELETE CASCADE,
        rcpt TEXT NOT NULL,
        domain TEXT NOT NULL,
        orcpt TEXT,
        notify TEXT,
        state TEXT NOT NULL,
        attempts BIGINT NOT NULL DEFAULT 0,
        next_attempt BIGINT NOT NULL,
        last_error TEXT,
        lease_until BIGINT NOT NULL DEFAULT 0,
        lease_node TEXT,
        delay_notified BOOLEAN NOT NULL DEFAULT false,
        updated BIGINT NOT NULL
     );
     CREATE INDEX queue_rcpts_due ON queue_rcpts (state, next_attempt);
     CREATE INDEX queue_rcpts_by_queue ON queue_rcpts (queue_id);
     -- One row per held maildrop: which node, which lock (holder), and
     -- until when (database clock) unless the node renews it.
     CREATE TABLE maildrop_locks (
        account_id BIGINT PRIMARY KEY,
        node TEXT NOT NULL,
        holder TEXT NOT NULL,
        since BIGINT NOT NULL,
        expires BIGINT NOT NULL
     );",
    // 2: deleting a body checks the queue's reference to it by index, not
    // by scanning a queue that grows during outages.
    "CREATE INDEX queue_by_body ON queue (body_id);",
    // 3: UIDLs are letters and digits from now on; those clients already
    // know, with their dot, are written out so they never change.
    "UPDATE messages SET uidl = (SELECT value FROM meta WHERE key = 'uid_prefix') || '.' || id::text
        WHERE uidl IS NULL;",
    // 4: greylisting: triplets (client network, sender, recipient) and the
    // client networks that passed, pruned by last sight.
    "CREATE TABLE greylist (
        triplet TEXT PRIMARY KEY,
        first_seen BIGINT NOT NULL,
        last_seen BIGINT NOT NULL,
        passed BOOLEAN NOT NULL
     );
     CREATE INDEX greylist_last_seen ON greylist (last_seen);
     CREATE TABLE greylist_clients (
        client TEXT PRIMARY KEY,
        last_seen BIGINT NOT NULL
     );
     CREATE INDEX greylist_clients_last_seen ON greylist_clients (last_seen);",
    // 5: the last good MTA-STS policy of each recipient domain (RFC 8461
    // section 5.1), shared by the nodes and kept over restarts.
    "CREATE TABLE mta_sts_policies (
        domain TEXT PRIMARY KEY,
        id TEXT NOT NULL,
        policy TEXT NOT NULL,
        fetched BIGINT NOT NULL,
        expires BIGINT NOT NULL
     );",
    // 6: sending limits: counters per account and domain per UTC window,
    // the addresses each account sent to, holds on accounts, and the
    // account each queued message came from.
    "CREATE TABLE send_counts (
        scope TEXT NOT NULL,
        span BIGINT NOT NULL,
        bucket BIGINT NOT NULL,
        messages BIGINT NOT NULL DEFAULT 0,
        new_rcpts BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (scope, span, bucket)
     );
     CREATE INDEX send_counts_bucket ON send_counts (bucket);
     CREATE TABLE send_recipients (
        account BIGINT NOT NULL,
        rcpt TEXT NOT NULL,
        last_sent BIGINT NOT NULL,
        PRIMARY KEY (account, rcpt)
     );
     CREATE INDEX send_recipients_last_sent ON send_recipients (last_sent);
     ALTER TABLE accounts ADD COLUMN held TEXT;
     ALTER TABLE queue ADD COLUMN account BIGINT;
     CREATE INDEX queue_by_account ON queue (account);",
    // 7: DMARC aggregate reports: per policy domain and UTC day the
    // latest policy, the rows counted and dropped, and each row's count.
    "CREATE TABLE dmarc_days (
        domain TEXT NOT NULL,
        day BIGINT NOT NULL,
        policy TEXT NOT NULL,
        rows BIGINT NOT NULL,
        dropped BIGINT NOT NULL,
        PRIMARY KEY (domain, day)
     );
     CREATE INDEX dmarc_days_by_day ON dmarc_days (day);
     CREATE TABLE dmarc_rows (
        domain TEXT NOT NULL,
        day BIGINT NOT NULL,
        row TEXT NOT NULL,
        count BIGINT NOT NULL,
        PRIMARY KEY (domain, day, row)
     );",
    // 8: vacation auto-replies (RFC 3834) and the senders each answered.
    "CREATE TABLE vacations (
        account_id BIGINT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
        subject TEXT,
        body TEXT NOT NULL,
        starts BIGINT,
        ends BIGINT,
        interval_days BIGINT NOT NULL
     );
     CREATE TABLE vacation_replies (
        account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        sender TEXT NOT NULL,
        sent BIGINT NOT NULL,
        PRIMARY KEY (account_id, sender)
     );",
    // 9: TLS-RPT reports: per policy domain and UTC day the rows counted
    // and the sessions dropped, and each (policy, result) row's count.
    "CREATE TABLE tls_report_days (
        domain TEXT NOT NULL,
        day BIGINT NOT NULL,
        rows BIGINT NOT NULL,
        dropped BIGINT NOT NULL,
        PRIMARY KEY (domain, day)
     );
     CREATE INDEX tls_report_days_by_day ON tls_report_days (day);
     CREATE TABLE tls_report_rows (
        domain TEXT NOT NULL,
        day BIGINT NOT NULL,
        policy TEXT NOT NULL,
        result TEXT NOT NULL,
        count BIGINT NOT NULL,
        PRIMARY KEY (domain, day, policy, result)
     );",
    // 10: what the sender asked of the TLS on the way (RFC 8689):
    // NULL, 'requiretls' or 'no' (TLS-Required: No).
    "ALTER TABLE queue ADD COLUMN tls_required TEXT;",
    // 11: a domain's contact for notices about its accounts, and its
    // language tag (both NULL: none).
    "ALTER TABLE domains ADD COLUMN contact TEXT;
     ALTER TABLE domains ADD COLUMN contact_lang TEXT;",
    // 12: forwarding. Header lines stored for one copy ahead of the shared
    // body (its Delivered-To), the flag that has the queue ARC-seal a
    // forwarded copy, and each mailbox's forward targets.
    "ALTER TABLE messages ADD COLUMN prefix BYTEA;
     ALTER TABLE queue ADD COLUMN prefix BYTEA;
     ALTER TABLE queue ADD COLUMN forwarded BOOLEAN NOT NULL DEFAULT FALSE;
     CREATE TABLE forwards (
        account_id BIGINT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
        keep BOOLEAN NOT NULL
     );
     CREATE TABLE forward_targets (
        account_id BIGINT NOT NULL REFERENCES forwards(account_id) ON DELETE CASCADE,
        seq BIGINT NOT NULL,
        target TEXT NOT NULL,
        PRIMARY KEY (account_id, seq)
     );",
    // 13: admin API tokens: the SHA-256 of each secret, never the secret.
    "CREATE TABLE api_tokens (
        id BIGSERIAL PRIMARY KEY,
        digest TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        subjects TEXT NOT NULL,
        created BIGINT NOT NULL
     );",
    // 14: imports look a mailbox's UIDLs up (a re-run skips what it
    // brought before).
    "CREATE INDEX messages_by_uidl ON messages (account_id, uidl);",
];

/// Brings the schema up to date; returns the store's UIDL prefix.
pub(super) async fn migrate(client: &mut Client) -> Result<String, StoreError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        .await?;
    let version: i64 = tx
        .query_opt("SELECT value FROM meta WHERE key = 'schema_version'", &[])
        .await?
        .map(|r| r.get::<_, String>(0).parse().unwrap_or(i64::MAX))
        .unwrap_or(0);
    let version = crate::migrations_from(version, MIGRATIONS.len())?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', $1)
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            &[&(i + 1).to_string()],
        )
        .await?;
    }
    // Made once, with the schema: see the embedded backend's uid_prefix.
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('uid_prefix', $1) ON CONFLICT (key) DO NOTHING",
        &[&format!("{:08x}", crate::random_u64() as u32)],
    )
    .await?;
    let prefix: String = tx
        .query_one("SELECT value FROM meta WHERE key = 'uid_prefix'", &[])
        .await?
        .get(0);
    tx.commit().await?;
    Ok(prefix)
}

/// The schema version this build applies.
pub fn current_version() -> usize {
    MIGRATIONS.len()
}
