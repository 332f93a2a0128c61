//! Runs the conformance suite against the PostgreSQL backend, each test in
//! a database of its own, plus what only several nodes on one database can
//! show: leases and locks of a dead node lapse, a live node's are kept, and
//! an unreachable database is a temporary error.
//!
//! `PRAISANI_PG_URL` (default `postgres://postgres@127.0.0.1:5432/test`) is
//! the admin connection that creates and drops the test databases. Without
//! a reachable server the tests print `SKIPPED: …` and pass, unless
//! `PRAISANI_REQUIRE_TOOLS=1` (CI), where they fail.

use praisani_store::{
    Outbound, OutboundRcpt, PgOptions, PostgresStore, Store, StoreError, conformance,
};
use std::sync::Arc;
use std::time::Duration;

/// A database made for one test, dropped at the end.
struct TestDb {
    admin_url: String,
    name: String,
    url: String,
    spool: tempfile::TempDir,
}

fn admin_url() -> String {
    std::env::var("PRAISANI_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

async fn admin(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let mut cfg: tokio_postgres::Config = url.parse()?;
    cfg.connect_timeout(Duration::from_secs(3));
    let (client, conn) = cfg.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    Ok(client)
}

/// `url` with its database replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{host_part}/{db}{query}")
}

impl TestDb {
    /// A fresh database, or `None` (after saying so) without a server.
    async fn new() -> Option<TestDb> {
        let admin_url = admin_url();
        let client = match admin(&admin_url).await {
            Ok(c) => c,
            Err(e) => {
                if std::env::var("PRAISANI_REQUIRE_TOOLS").as_deref() == Ok("1") {
                    panic!(
                        "PostgreSQL not reachable at {admin_url} ({e}) and PRAISANI_REQUIRE_TOOLS=1"
                    );
                }
                // Past the test harness's capture, so it shows without --nocapture.
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED: PostgreSQL not reachable ({admin_url}: {e})"
                );
                return None;
            }
        };
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let name = format!(
            "praisani_test_{}_{}_{:x}",
            std::process::id(),
            SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create database");
        Some(TestDb {
            url: with_database(&admin_url, &name),
            admin_url,
            name,
            spool: tempfile::tempdir().expect("tempdir"),
        })
    }

    fn options(&self) -> PgOptions {
        PgOptions::new(&self.url)
    }

    async fn open_with(&self, opts: &PgOptions) -> PostgresStore {
        PostgresStore::open(opts, self.spool.path())
            .await
            .expect("open")
    }

    async fn open(&self) -> PostgresStore {
        self.open_with(&self.options()).await
    }

    /// Drops the database (also done when a failed test unwinds).
    async fn drop_db(self) {
        drop(self);
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // On a thread of its own: a runtime cannot block inside another.
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(client) = admin(&url).await {
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// Runs `check` on a fresh store in a fresh database.
macro_rules! conformance_test {
    ($name:ident, $check:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let Some(db) = TestDb::new().await else {
                return;
            };
            {
                let s = db.open().await;
                #[allow(clippy::redundant_closure_call)]
                ($check)(s).await;
            }
            db.drop_db().await;
        }
    };
}

conformance_test!(greylisting, |s: PostgresStore| async move {
    conformance::greylisting(Arc::new(s)).await
});
conformance_test!(sending_limits, |s: PostgresStore| async move {
    conformance::sending_limits(Arc::new(s)).await
});
conformance_test!(holds, |s: PostgresStore| async move {
    conformance::holds(&s).await
});
conformance_test!(domains, |s: PostgresStore| async move {
    conformance::domains(&s).await
});
conformance_test!(accounts_and_aliases, |s: PostgresStore| async move {
    conformance::accounts_and_aliases(&s).await
});
conformance_test!(accounts_import, |s: PostgresStore| async move {
    conformance::accounts_import(&s).await
});
conformance_test!(messages, |s: PostgresStore| async move {
    conformance::messages(&s).await
});
conformance_test!(imports, |s: PostgresStore| async move {
    conformance::imports(&s).await
});
conformance_test!(downgrades, |s: PostgresStore| async move {
    conformance::downgrades(&s).await
});
conformance_test!(spool_heads, |s: PostgresStore| async move {
    conformance::spool_heads(&s).await
});
conformance_test!(maildrop_lock, |s: PostgresStore| async move {
    conformance::maildrop_lock(&s).await
});
conformance_test!(concurrent_writers, |s: PostgresStore| async move {
    conformance::concurrent_writers(Arc::new(s)).await
});
conformance_test!(queue, |s: PostgresStore| async move {
    conformance::queue(&s).await
});
conformance_test!(queue_sender_tls, |s: PostgresStore| async move {
    conformance::queue_sender_tls(&s).await
});
conformance_test!(quotas, |s: PostgresStore| async move {
    conformance::quotas(&s).await
});
conformance_test!(quota_under_concurrency, |s: PostgresStore| async move {
    conformance::quota_under_concurrency(Arc::new(s)).await
});
conformance_test!(quota_notices, |s: PostgresStore| async move {
    conformance::quota_notices(&s).await
});
conformance_test!(retention, |s: PostgresStore| async move {
    conformance::retention(&s).await
});
conformance_test!(queue_take_is_exclusive, |s: PostgresStore| async move {
    conformance::queue_take_is_exclusive(Arc::new(s)).await
});
conformance_test!(maildrop_locks_released, |s: PostgresStore| async move {
    conformance::maildrop_locks_released(&s).await
});

fn one_rcpt() -> Outbound {
    Outbound {
        sender: String::new(),
        recipients: vec![OutboundRcpt {
            address: "x@remote.test".into(),
            domain: "remote.test".into(),
            orcpt: None,
            notify: None,
        }],
        envid: None,
        ret: None,
        smtputf8: false,
        eight_bit: false,
        account: None,
        tls: Default::default(),
        prefix: Vec::new(),
        forwarded: false,
    }
}

/// Everything written survives closing the store and opening it again
/// (a restart), migrations are not applied twice, the UIDL prefix stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_keeps_everything() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    let (qid, uidls) = {
        let s = db.open().await;
        conformance::maildrop_lock(&s).await;
        let a = s.account_list(None).await.unwrap()[0].id;
        let mut spool = s.new_spool();
        spool.write(b"x\r\n").unwrap();
        let acc = s.accept(spool, &[a], vec![one_rcpt()], true).await.unwrap();
        let uidls: Vec<String> = s
            .list_messages(a)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.uidl)
            .collect();
        (acc.queued[0], uidls)
    };
    let s = db.open().await;
    assert_eq!(s.domain_list().await.unwrap().len(), 1);
    let a = s.account_list(None).await.unwrap()[0].id;
    let again: Vec<String> = s
        .list_messages(a)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.uidl)
        .collect();
    assert_eq!(again, uidls);
    let e = s.queue_get(qid).await.unwrap().expect("still queued");
    assert_eq!(e.recipients[0].rcpt.address, "x@remote.test");
    drop(s);
    db.drop_db().await;
}

/// Two nodes: what one accepts the other lists and streams; a maildrop
/// lock holds across them; each releases only its own at start; a killed
/// node's lock and queue leases lapse and the other takes over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_and_a_crash() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    let mut opts = db.options();
    opts.lock_lease = Duration::from_secs(3);
    let a_node = db.open_with(&opts).await;
    let b_node = db.open_with(&opts).await;
    assert_ne!(a_node.node(), b_node.node());
    conformance::maildrop_lock(&a_node).await;
    let acct = b_node.account_list(None).await.unwrap()[0].id;

    let mut spool = a_node.new_spool();
    spool.write(b"Subject: via A\r\n\r\nhi\r\n").unwrap();
    let acc = a_node
        .accept(spool, &[acct], vec![one_rcpt()], true)
        .await
        .unwrap();
    let listed_b = b_node.list_messages(acct).await.unwrap();
    assert_eq!(listed_b, a_node.list_messages(acct).await.unwrap());
    let body = b_node
        .open_message(acct, acc.messages[0])
        .await
        .unwrap()
        .read_all()
        .await
        .unwrap();
    assert_eq!(body, b"Subject: via A\r\n\r\nhi\r\n");

    // The lock holds across nodes, and renewal keeps it past its lease.
    let held = a_node
        .lock_maildrop(acct)
        .await
        .unwrap()
        .expect("lock on A");
    assert!(b_node.lock_maildrop(acct).await.unwrap().is_none());
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        b_node.lock_maildrop(acct).await.unwrap().is_none(),
        "a renewed lock must not lapse"
    );
    // B starting up releases nothing of A's.
    assert_eq!(b_node.release_maildrop_locks().await.unwrap(), 0);
    assert!(b_node.lock_maildrop(acct).await.unwrap().is_none());

    // A takes the queued recipient; B sees nothing due and cannot release it.
    assert_eq!(acc.queued.len(), 1);
    let now = praisani_now() + 1;
    assert_eq!(a_node.queue_take_due(now, 4, 10).await.unwrap().len(), 1);
    assert!(b_node.queue_take_due(now, 4, 10).await.unwrap().is_empty());
    assert_eq!(b_node.queue_release_leases().await.unwrap(), 0);
    assert!(b_node.queue_take_due(now, 4, 10).await.unwrap().is_empty());

    // A dies: its guard is never dropped and it renews nothing any more.
    std::mem::forget(held);
    drop(a_node);
    assert!(b_node.lock_maildrop(acct).await.unwrap().is_none());
    let mut taken = None;
    for _ in 0..50 {
        taken = b_node.lock_maildrop(acct).await.unwrap();
        if taken.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(taken.is_some(), "a dead node's lock lapses");
    // Its queue lease too, at its time.
    let due = b_node.queue_take_due(now + 5, 60, 10).await.unwrap();
    assert_eq!(due.len(), 1, "a dead node's lease lapses");
    drop(taken);
    drop(b_node);
    db.drop_db().await;
}

/// A node whose lease lapsed (the database out of its reach) learns it
/// at its next renewal: the lock says it is lost, so its session deletes
/// nothing while another node may hold the maildrop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lapsed_lease_is_reported_lost() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    let mut opts = db.options();
    opts.lock_lease = Duration::from_secs(3);
    let a = db.open_with(&opts).await;
    conformance::maildrop_lock(&a).await;
    let acct = a.account_list(None).await.unwrap()[0].id;
    let held = a.lock_maildrop(acct).await.unwrap().expect("lock");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!held.is_lost(), "renewed in time");
    // As if the node had been cut off past its lease: the row lapsed.
    let c = admin(&db.url).await.unwrap();
    c.batch_execute("UPDATE maildrop_locks SET expires = 0")
        .await
        .unwrap();
    let mut lost = false;
    for _ in 0..30 {
        if held.is_lost() {
            lost = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(lost, "the renewal found the lease gone");
    drop(held);
    drop(a);
    db.drop_db().await;
}

fn praisani_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Workers on several nodes taking due recipients at once: each recipient
/// is leased to exactly one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_leases_across_nodes() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    let nodes = vec![
        Arc::new(db.open().await),
        Arc::new(db.open().await),
        Arc::new(db.open().await),
    ];
    for i in 0..40 {
        let mut spool = nodes[0].new_spool();
        spool.write(format!("m{i}\r\n").as_bytes()).unwrap();
        nodes[0]
            .accept(spool, &[], vec![one_rcpt()], true)
            .await
            .unwrap();
    }
    let now = praisani_now() + 1;
    let mut tasks = Vec::new();
    for k in 0..12 {
        let n = nodes[k % 3].clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let due = n.queue_take_due(now, 600, 3).await.unwrap();
                if due.is_empty() {
                    return got;
                }
                got.extend(due.iter().flat_map(|e| e.recipients.iter().map(|r| r.id)));
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let unique: std::collections::HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 40, "every recipient taken");
    assert_eq!(unique.len(), 40, "none taken twice");
    drop(nodes);
    db.drop_db().await;
}

/// Quotas stay exact with deliveries through several nodes at once,
/// for the mailbox and for the domain's total.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_across_nodes() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    let nodes = [Arc::new(db.open().await), Arc::new(db.open().await)];
    conformance::maildrop_lock(&*nodes[0]).await;
    let a: praisani_mailaddr::Address = "b@example.test".parse().unwrap();
    let b = nodes[1]
        .account_add(praisani_store::NewAccount {
            address: a.clone(),
            password_hash: "x".into(),
            apop_secret: None,
            scram: None,
            quota_bytes: None,
        })
        .await
        .unwrap();
    let first = nodes[0].account_list(None).await.unwrap()[0].id;
    nodes[0]
        .account_set_quota(
            &nodes[0].account_list(None).await.unwrap()[0].address,
            Some(100),
            None,
        )
        .await
        .unwrap();
    nodes[0]
        .domain_set_quota(&"example.test".parse().unwrap(), Some(150))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..40u32 {
        let n = nodes[(i % 2) as usize].clone();
        let to = if i % 4 < 2 {
            vec![first, b]
        } else {
            vec![b, first]
        };
        tasks.push(tokio::spawn(async move {
            let mut spool = n.new_spool();
            spool.write(format!("{i:010}").as_bytes()).unwrap();
            n.accept(spool, &to, Vec::new(), true)
                .await
                .unwrap()
                .messages
                .len()
        }));
    }
    let mut landed = 0;
    for t in tasks {
        landed += t.await.unwrap();
    }
    assert_eq!(
        landed, 15,
        "150 octets of domain quota take fifteen 10-octet copies"
    );
    let d = nodes[1].domain_list().await.unwrap();
    assert_eq!(d[0].used_bytes, 150);
    let acc = nodes[1].account_by_id(first).await.unwrap().unwrap();
    assert!(acc.used_bytes <= 100);
    assert_eq!(
        acc.used_messages as usize,
        nodes[1].list_messages(first).await.unwrap().len()
    );
    drop(nodes);
    db.drop_db().await;
}

/// A database that goes away: calls fail with `Unavailable` (a temporary
/// error), nothing panics, and the store works again once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_database_is_temporary() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    let mut opts = db.options();
    opts.connect_timeout = Duration::from_secs(2);
    opts.acquire_timeout = Duration::from_secs(2);
    let s = db.open_with(&opts).await;
    conformance::maildrop_lock(&s).await;
    let a = s.account_list(None).await.unwrap()[0].id;

    let admin_client = admin(&db.admin_url).await.unwrap();
    admin_client
        .batch_execute(&format!(
            "ALTER DATABASE {0} ALLOW_CONNECTIONS false;
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{0}';",
            db.name
        ))
        .await
        .unwrap();
    // The pool may hand out a connection that died a moment ago; after
    // that, reconnecting is refused.
    let mut errors = 0;
    for _ in 0..3 {
        let mut spool = s.new_spool();
        spool.write(b"x").unwrap();
        match s.deliver(spool, &[a]).await {
            Err(e @ StoreError::Unavailable(_)) => {
                assert!(e.is_temporary());
                errors += 1;
            }
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }
    assert_eq!(errors, 3);
    assert!(matches!(
        s.list_messages(a).await,
        Err(StoreError::Unavailable(_))
    ));
    admin_client
        .batch_execute(&format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS true",
            db.name
        ))
        .await
        .unwrap();
    let mut spool = s.new_spool();
    spool.write(b"back").unwrap();
    assert_eq!(s.deliver(spool, &[a]).await.unwrap().len(), 1);
    assert_eq!(s.list_messages(a).await.unwrap().len(), 1);

    // Nothing listens: opening fails with a temporary error, quickly.
    let mut closed = PgOptions::new("postgres://postgres@127.0.0.1:1/test");
    closed.connect_timeout = Duration::from_secs(2);
    let t = std::time::Instant::now();
    let r = PostgresStore::open(&closed, db.spool.path()).await;
    assert!(
        matches!(r, Err(StoreError::Unavailable(_))),
        "{:?}",
        r.err()
    );
    assert!(t.elapsed() < Duration::from_secs(10));
    drop(s);
    db.drop_db().await;
}

/// Chunked bytea against large objects, write and read of 4 KiB and
/// 10 MiB bodies: the numbers in the postgres module's documentation.
/// `cargo test -p praisani-store --test postgres_conformance -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn body_storage_measure() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    let c = admin(&db.url).await.unwrap();
    c.batch_execute(
        "CREATE TABLE chunks (body BIGINT, seq BIGINT, data BYTEA, PRIMARY KEY (body, seq));
         CREATE TABLE los (body BIGINT PRIMARY KEY, oid OID)",
    )
    .await
    .unwrap();
    const CHUNK: usize = 128 * 1024;
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    for size in [4 * 1024usize, 10 * 1024 * 1024] {
        let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
        let (mut bw, mut br, mut lw, mut lr) = (vec![], vec![], vec![], vec![]);
        for rep in 0..5i64 {
            let body = size as i64 * 10 + rep;
            let t = std::time::Instant::now();
            c.batch_execute("BEGIN").await.unwrap();
            let ins = c
                .prepare("INSERT INTO chunks (body, seq, data) VALUES ($1, $2, $3)")
                .await
                .unwrap();
            for (i, piece) in data.chunks(CHUNK).enumerate() {
                c.execute(&ins, &[&body, &(i as i64), &piece])
                    .await
                    .unwrap();
            }
            c.batch_execute("COMMIT").await.unwrap();
            bw.push(t.elapsed().as_secs_f64() * 1000.0);
            let t = std::time::Instant::now();
            let sel = c
                .prepare("SELECT data FROM chunks WHERE body = $1 AND seq = $2")
                .await
                .unwrap();
            let mut back = Vec::with_capacity(size);
            for i in 0..data.len().div_ceil(CHUNK) {
                let r = c.query_one(&sel, &[&body, &(i as i64)]).await.unwrap();
                back.extend_from_slice(r.get::<_, &[u8]>(0));
            }
            br.push(t.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(back, data);

            let t = std::time::Instant::now();
            c.batch_execute("BEGIN").await.unwrap();
            let oid: u32 = c
                .query_one("SELECT lo_create(0)", &[])
                .await
                .unwrap()
                .get(0);
            let put = c.prepare("SELECT lo_put($1, $2, $3)").await.unwrap();
            for (i, piece) in data.chunks(CHUNK).enumerate() {
                c.execute(&put, &[&oid, &((i * CHUNK) as i64), &piece])
                    .await
                    .unwrap();
            }
            c.execute(
                "INSERT INTO los (body, oid) VALUES ($1, $2)",
                &[&body, &oid],
            )
            .await
            .unwrap();
            c.batch_execute("COMMIT").await.unwrap();
            lw.push(t.elapsed().as_secs_f64() * 1000.0);
            let t = std::time::Instant::now();
            let get = c.prepare("SELECT lo_get($1, $2, $3)").await.unwrap();
            let mut back = Vec::with_capacity(size);
            for i in 0..data.len().div_ceil(CHUNK) {
                let r = c
                    .query_one(&get, &[&oid, &((i * CHUNK) as i64), &(CHUNK as i32)])
                    .await
                    .unwrap();
                back.extend_from_slice(r.get::<_, &[u8]>(0));
            }
            lr.push(t.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(back, data);
        }
        eprintln!(
            "MEASURE {size} octets: bytea write {:.2} ms read {:.2} ms; large object write {:.2} ms read {:.2} ms",
            median(bw),
            median(br),
            median(lw),
            median(lr)
        );
    }
    drop(c);
    db.drop_db().await;
}

/// Everything a store holds, as the trait shows it, for comparing two.
async fn snapshot<S: Store + ?Sized>(s: &S) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    writeln!(out, "{:?}", s.domain_list().await.unwrap()).unwrap();
    writeln!(out, "{:?}", s.alias_list(None).await.unwrap()).unwrap();
    for a in s.account_list(None).await.unwrap() {
        writeln!(out, "{a:?}").unwrap();
        writeln!(out, "  {:?}", s.account_vacation(a.id).await.unwrap()).unwrap();
        for m in s.list_messages(a.id).await.unwrap() {
            let body = s
                .open_message(a.id, m.id)
                .await
                .unwrap()
                .read_all()
                .await
                .unwrap();
            let dg = s.message_downgrade(a.id, m.id).await.unwrap();
            writeln!(out, "  {m:?} {body:?} {dg:?}").unwrap();
        }
    }
    for q in s.queue_list().await.unwrap() {
        let body = s.open_queued(q.id).await.unwrap().read_all().await.unwrap();
        writeln!(out, "{q:?} {body:?}").unwrap();
    }
    out
}

/// The domain limits `populate` sets.
fn migrated_limits() -> praisani_store::limits::DomainLimits {
    praisani_store::limits::DomainLimits {
        mailboxes: Some(10),
        aliases: None,
        mailbox_quota: Some(1 << 30),
        total_quota: Some(5 << 30),
    }
}

/// Fills a store with one of everything the migration must carry.
async fn populate<S: Store + ?Sized>(s: &S) {
    use praisani_store::{HeaderDowngrade, Keep, Retention, Secrets};
    conformance::maildrop_lock(s).await;
    // A DMARC report not yet sent moves with the store.
    let event = praisani_store::dmarc::DmarcEvent {
        day: 20_000,
        domain: "sender.test".into(),
        policy: "p=none".into(),
        row: "row".into(),
    };
    for _ in 0..2 {
        let limits = praisani_store::dmarc::DmarcLimits {
            max_rows: 10,
            max_domains: 10,
        };
        s.dmarc_record(&event, limits).await.unwrap();
    }
    let dom: praisani_mailaddr::Domain = "ตัวอย่าง.ไทย".parse().unwrap();
    s.domain_add(&dom).await.unwrap();
    let th: praisani_mailaddr::Address = "สมชาย@ตัวอย่าง.ไทย".parse().unwrap();
    let b = s
        .account_add(praisani_store::NewAccount {
            address: th.clone(),
            password_hash: "$argon2id$x".into(),
            apop_secret: Some("apop".into()),
            scram: Some("SCRAM-SHA-256$4096:c2FsdA==$a2V5:a2V5".into()),
            quota_bytes: Some(10_000_000),
        })
        .await
        .unwrap();
    s.account_set_notices(&th, praisani_store::Language::Th, Some("boss@remote.test"))
        .await
        .unwrap();
    // A domain administrator moves with the store.
    s.domain_admin_set(&dom, &th, true).await.unwrap();
    s.account_set_quota(&th, Some(10_000_000), Some(500))
        .await
        .unwrap();
    s.account_set_retention(
        &th,
        Retention {
            after_retrieval: Keep::Days(0),
            max_age: Keep::Forever,
        },
    )
    .await
    .unwrap();
    s.account_set_vacation(
        &th,
        Some(&praisani_store::Vacation {
            subject: Some("ไม่อยู่".into()),
            text: "กลับวันจันทร์\n".into(),
            starts: Some(1_700_000_000),
            ends: None,
            interval_days: 3,
        }),
    )
    .await
    .unwrap();
    // A sender answered: not answered again on the new store.
    assert!(
        s.vacation_reply_due(b, "x@remote.test", praisani_now(), 86_400)
            .await
            .unwrap()
    );
    s.domain_set_quota(&dom, Some(50_000_000)).await.unwrap();
    s.domain_set_limits(&dom, &migrated_limits()).await.unwrap();
    s.domain_set_retention(
        &dom,
        Retention {
            after_retrieval: Keep::Days(7),
            max_age: Keep::Inherit,
        },
    )
    .await
    .unwrap();
    s.alias_add(
        &"info@ตัวอย่าง.ไทย".parse().unwrap(),
        &[th.clone(), "x@remote.test".parse().unwrap()],
    )
    .await
    .unwrap();
    s.account_set_password(
        &"a@example.test".parse().unwrap(),
        &Secrets {
            password_hash: "$argon2id$y".into(),
            apop_secret: None,
            scram: None,
        },
    )
    .await
    .unwrap();
    let a = s.account_list(None).await.unwrap()[0].id;
    // A body shared by two mailboxes and the queue, with a downgrade.
    let mut spool = s.new_spool();
    spool
        .write("Subject: สวัสดี\r\n\r\nbody\r\n".as_bytes())
        .unwrap();
    spool.set_downgrade(HeaderDowngrade {
        original_len: 23,
        header: Some(b"Subject: =?UTF-8?B?4Liq?=\r\n\r\n".to_vec()),
    });
    let acc = s
        .accept(spool, &[a, b], vec![one_rcpt()], true)
        .await
        .unwrap();
    s.mark_retrieved(b, &acc.messages[1..], 1_700_000_000)
        .await
        .unwrap();
    // A large one, several chunks.
    let big: Vec<u8> = (0..400_000u32)
        .map(|i| b"0123456789\r\n"[(i % 12) as usize])
        .collect();
    let mut spool = s.new_spool();
    spool.write(&big).unwrap();
    s.deliver(spool, &[b]).await.unwrap();
    // A queue entry with an attempt recorded.
    let now = praisani_now() + 1;
    let due = s.queue_take_due(now, 60, 10).await.unwrap();
    s.queue_record(&[(
        due[0].recipients[0].id,
        praisani_store::AttemptResult::Retry {
            next_attempt: now + 600,
            error: "451 4.3.0 later".into(),
        },
    )])
    .await
    .unwrap();
    s.queue_mark_delay_notified(&[due[0].recipients[0].id])
        .await
        .unwrap();
    // A deleted message: the ids after it are not reused.
    let gone = s.deliver(s.new_spool(), &[a]).await.unwrap();
    s.delete_messages(a, &gone).await.unwrap();
}

/// `praisani store migrate`: embedded → PostgreSQL → embedded keeps every
/// account setting, alias, message (same UIDLs, bodies, downgrades,
/// retrieval), and the queue; a non-empty target is refused without force;
/// new mail after the move gets UIDLs never seen before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_embedded_to_postgres_and_back() {
    use praisani_store::EmbeddedStore;
    use praisani_store::migrate::{Endpoint, copy};
    let Some(db) = TestDb::new().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let e = EmbeddedStore::open(dir.path()).unwrap();
        populate(&e).await;
        snapshot(&e).await
    };
    let pg = Endpoint::Postgres(db.options());
    let report = copy(&Endpoint::Embedded(dir.path().to_path_buf()), &pg, false)
        .await
        .unwrap();
    let rows = |name: &str| report.tables.iter().find(|t| t.0 == name).unwrap().1;
    assert_eq!(rows("messages"), 3);
    assert_eq!(rows("accounts"), 2);
    assert!(rows("body_chunks") >= 4);
    assert_eq!((rows("dmarc_days"), rows("dmarc_rows")), (1, 1));
    let p = db.open().await;
    let after = snapshot(&p).await;
    assert_eq!(after, before);
    let th_dom: praisani_mailaddr::Domain = "ตัวอย่าง.ไทย".parse().unwrap();
    assert_eq!(p.domain_limits(&th_dom).await.unwrap(), migrated_limits());
    assert_eq!(rows("vacations"), 1);
    assert_eq!(rows("vacation_replies"), 1);
    assert_eq!(rows("domain_admins"), 1);
    let th_addr: praisani_mailaddr::Address = "สมชาย@ตัวอย่าง.ไทย".parse().unwrap();
    assert_eq!(
        p.admin_domains(&th_addr).await.unwrap(),
        vec!["ตัวอย่าง.ไทย".parse::<praisani_mailaddr::Domain>().unwrap()]
    );
    let th = p.account_list(None).await.unwrap()[1].id;
    assert!(
        !p.vacation_reply_due(th, "x@remote.test", praisani_now(), 86_400)
            .await
            .unwrap()
    );

    // Again: refused, the target is not empty; with force, replaced.
    let again = copy(&Endpoint::Embedded(dir.path().to_path_buf()), &pg, false).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    copy(&Endpoint::Embedded(dir.path().to_path_buf()), &pg, true)
        .await
        .unwrap();
    assert_eq!(snapshot(&p).await, before);

    // New mail on PostgreSQL: a fresh id and UIDL.
    let b = p.account_list(None).await.unwrap()[1].id;
    let old: std::collections::HashSet<String> = p
        .list_messages(b)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.uidl)
        .collect();
    let mut spool = p.new_spool();
    spool.write(b"new\r\n").unwrap();
    let new_id = p.deliver(spool, &[b]).await.unwrap()[0];
    let listed = p.list_messages(b).await.unwrap();
    let new = listed.iter().find(|m| m.id == new_id).unwrap();
    assert!(!old.contains(&new.uidl));
    let with_new = snapshot(&p).await;
    drop(p);

    // And back into a fresh embedded store.
    let back_dir = tempfile::tempdir().unwrap();
    copy(
        &pg,
        &Endpoint::Embedded(back_dir.path().to_path_buf()),
        false,
    )
    .await
    .unwrap();
    let e = EmbeddedStore::open(back_dir.path()).unwrap();
    assert_eq!(snapshot(&e).await, with_new);
    assert_eq!(e.integrity_check().await.unwrap(), "ok");
    db.drop_db().await;
}
conformance_test!(mta_sts_policies, |s: PostgresStore| async move {
    conformance::mta_sts_policies(&s).await
});
conformance_test!(dmarc_reports, |s: PostgresStore| async move {
    conformance::dmarc_reports(Arc::new(s)).await
});
conformance_test!(tls_reports, |s: PostgresStore| async move {
    conformance::tls_reports(Arc::new(s)).await
});
conformance_test!(vacations, |s: PostgresStore| async move {
    conformance::vacations(Arc::new(s)).await
});
conformance_test!(forwarding, |s: PostgresStore| async move {
    conformance::forwarding(&s).await
});
conformance_test!(srs_secret, |s: PostgresStore| async move {
    conformance::srs_secret(Arc::new(s)).await
});
conformance_test!(api_tokens, |s: PostgresStore| async move {
    conformance::api_tokens(&s).await
});
conformance_test!(domain_admins, |s: PostgresStore| async move {
    conformance::domain_admins(&s).await
});
conformance_test!(tokens_follow_removals, |s: PostgresStore| async move {
    conformance::tokens_follow_removals(&s).await
});
conformance_test!(domain_limits, |s: PostgresStore| async move {
    conformance::domain_limits(Arc::new(s)).await
});
conformance_test!(account_pages, |s: PostgresStore| async move {
    conformance::account_pages(&s).await
});
conformance_test!(alias_pages, |s: PostgresStore| async move {
    conformance::alias_pages(&s).await
});
