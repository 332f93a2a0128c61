//! praisani on PostgreSQL (`[store] backend = "postgres"`): two nodes on one
//! database share mail and maildrop locks; three nodes under SMTP and POP3
//! load keep quotas exact, send outbound mail once, and lose nothing
//! acknowledged when one is killed with kill -9 (its locks and leases lapse
//! for the others); `praisani store migrate` moves an
//! embedded store there and back with the UIDLs POP3 clients know; a
//! database that goes away gives temporary errors (451 4.3.0, `-ERR
//! [SYS/TEMP]`) and the server carries on once it is back.
//!
//! Each test makes its own database with `psql` at `PRAISANI_PG_URL`
//! (default `postgres://postgres@127.0.0.1:5432/test`). Without a reachable
//! server the tests print `SKIPPED: …` and pass, unless
//! `PRAISANI_REQUIRE_TOOLS=1`, where they fail.

mod common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn admin_url() -> String {
    std::env::var("PRAISANI_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn psql(url: &str, sql: &str) -> CmdOutput {
    let mut c = std::process::Command::new("psql");
    c.env("PGCONNECT_TIMEOUT", "3")
        .args([url, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql]);
    run_cmd(&mut c, None, Duration::from_secs(30))
}

/// `url` with its database replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let base = url.split('?').next().unwrap_or(url);
    let start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host = match base[start..].find('/') {
        Some(i) => &base[..start + i],
        None => base,
    };
    format!("{host}/{db}")
}

/// A database for one test, dropped at the end.
struct Db {
    name: String,
    url: String,
}

impl Db {
    fn new(test: &str) -> Option<Db> {
        if !have_tool("psql", test) {
            return None;
        }
        let admin = admin_url();
        let probe = psql(&admin, "SELECT 1");
        if probe.code() != Some(0) {
            if std::env::var("PRAISANI_REQUIRE_TOOLS").as_deref() == Ok("1") {
                panic!(
                    "PostgreSQL not reachable at {admin} ({test}): {}",
                    probe.err()
                );
            }
            // Past the test harness's capture, so it shows without --nocapture.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: PostgreSQL not reachable ({admin}: {}) ({test})",
                probe.err().trim()
            );
            return None;
        }
        let name = token("praisani_it").to_lowercase().replace(['-', '.'], "_");
        psql(&admin, &format!("CREATE DATABASE {name}")).assert_ok("create database");
        Some(Db {
            url: with_database(&admin, &name),
            name,
        })
    }

    fn store_table(&self, extra: &str) -> String {
        format!(
            "[store]\nbackend = \"postgres\"\nurl = \"{}\"\nconnect_timeout = \"2s\"\nacquire_timeout = \"2s\"\n{extra}\n",
            self.url
        )
    }

    fn server(&self) -> Server {
        Server::new_extra(
            ServerOpts {
                demo: false,
                limits: String::new(),
            },
            ExtraConfig {
                tables: self.store_table(""),
                ..ExtraConfig::default()
            },
        )
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        psql(
            &admin_url(),
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// The UIDL listing as poplib gets it: (message number, uidl) lines.
fn uidls(port: u16, user: &str, pass: &str) -> Vec<String> {
    let out = python(
        "import poplib, sys
p = poplib.POP3('127.0.0.1', int(sys.argv[1]), timeout=20)
p.user(sys.argv[2]); p.pass_(sys.argv[3])
for line in p.uidl()[1]: print(line.decode())
p.quit()",
        &[&port.to_string(), user, pass],
        Duration::from_secs(30),
    );
    assert_eq!(out.code(), Some(0), "poplib: {}", out.describe());
    out.out().lines().map(str::to_string).collect()
}

const USER: &str = "somchai@example.test";
const PASS: &str = "pg-pass-1";

/// Mail accepted by node A is listed and retrieved over POP3 on node B with
/// the same UIDLs; a POP3 session on B locks the mailbox on A too.
#[test]
fn two_nodes_share_mail_and_the_maildrop_lock() {
    let Some(db) = Db::new("two_nodes_share_mail_and_the_maildrop_lock") else {
        return;
    };
    let mut a = db.server();
    a.start();
    let mut b = db.server();
    b.start();
    a.add_domain("example.test");
    a.add_user(USER, PASS, &[]);
    a.deliver(
        "x@remote.test",
        &[USER],
        &simple_message("x@remote.test", USER, "via A", "hello from node A"),
    );
    let on_b = uidls(b.pop3_port, USER, PASS);
    assert_eq!(on_b.len(), 1, "{on_b:?}");
    assert_eq!(on_b, uidls(a.pop3_port, USER, PASS));
    let msgs = b.fetch_all(USER, PASS);
    assert!(String::from_utf8_lossy(&msgs[0]).contains("hello from node A"));

    let mut held = b.pop3_login(USER, PASS);
    let mut other = a.pop3();
    let refused = other.try_login(USER, PASS).unwrap_err();
    assert!(refused.contains("[IN-USE]"), "{refused}");
    held.quit();
    let mut again = a.pop3_login(USER, PASS);
    assert_eq!(again.stat().0, 1);
    again.quit();
    a.stop_term();
    b.stop_term();
}

/// An embedded store moved to PostgreSQL and back: the same UIDLs and
/// messages over POP3 on each, and a second move onto a full target is
/// refused.
#[test]
fn migrate_keeps_uidls_there_and_back() {
    let Some(db) = Db::new("migrate_keeps_uidls_there_and_back") else {
        return;
    };
    let mut emb = Server::new(ServerOpts {
        demo: false,
        limits: String::new(),
    });
    emb.start();
    emb.add_domain("example.test");
    emb.add_user(USER, PASS, &["--quota", "10M"]);
    for i in 0..3 {
        emb.deliver(
            "x@remote.test",
            &[USER],
            &simple_message(
                "x@remote.test",
                USER,
                &format!("n{i}"),
                &format!("body {i}"),
            ),
        );
    }
    let before = uidls(emb.pop3_port, USER, PASS);
    let bodies = emb.fetch_all(USER, PASS);
    assert_eq!(before.len(), 3);
    emb.stop_term();

    let out = emb.cli(&["store", "migrate", "--to", &db.url]);
    out.assert_ok("store migrate --to");
    assert!(out.out().contains("messages"), "{}", out.out());
    let twice = emb.cli(&["store", "migrate", "--to", &db.url]);
    assert_ne!(twice.code(), Some(0));
    assert!(twice.err().contains("--force"), "{}", twice.err());

    let mut pg = db.server();
    pg.start();
    assert_eq!(uidls(pg.pop3_port, USER, PASS), before);
    assert_eq!(pg.fetch_all(USER, PASS), bodies);
    let quota = pg.cli(&["--json", "user", "list"]);
    assert!(quota.out().contains(USER), "{}", quota.out());
    pg.stop_term();

    let mut back = Server::new(ServerOpts {
        demo: false,
        limits: String::new(),
    });
    back.cli(&["store", "migrate", "--from", &db.url])
        .assert_ok("store migrate --from");
    back.start();
    assert_eq!(uidls(back.pop3_port, USER, PASS), before);
    assert_eq!(back.fetch_all(USER, PASS), bodies);
    back.stop_term();
}

/// The database refuses connections: RCPT gets 451 4.3.0, POP3 login
/// `-ERR [SYS/TEMP]`; nothing crashes, and once it is back mail flows.
#[test]
fn unreachable_database_gives_temporary_errors() {
    let Some(db) = Db::new("unreachable_database_gives_temporary_errors") else {
        return;
    };
    let mut s = db.server();
    s.start();
    s.add_domain("example.test");
    s.add_user(USER, PASS, &[]);
    let admin = admin_url();
    psql(
        &admin,
        &format!(
            "ALTER DATABASE {0} ALLOW_CONNECTIONS false; \
             SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{0}'",
            db.name
        ),
    )
    .assert_ok("cut the database off");

    let mut smtp = s.smtp();
    smtp.ehlo("client.test");
    smtp.expect("MAIL FROM:<x@remote.test>", 250);
    // The first try may meet a pooled connection that just died.
    let mut last = String::new();
    for _ in 0..2 {
        let r = smtp.cmd(&format!("RCPT TO:<{USER}>")).unwrap();
        last = r.to_string();
        assert_eq!(r.code, 451, "{r}");
        assert!(r.text().contains("4.3.0"), "{r}");
    }
    smtp.quit();
    let mut pop = s.pop3();
    let refused = pop.try_login(USER, PASS).unwrap_err();
    assert!(
        refused.starts_with("-ERR [SYS/TEMP]"),
        "{refused} (smtp: {last})"
    );

    psql(
        &admin,
        &format!("ALTER DATABASE {} ALLOW_CONNECTIONS true", db.name),
    )
    .assert_ok("let the database back");
    s.deliver(
        "x@remote.test",
        &[USER],
        &simple_message("x@remote.test", USER, "back", "after the outage"),
    );
    assert_eq!(s.fetch_all(USER, PASS).len(), 1);
    s.stop_term();
}

/// A server with a fixed `store.node` holds a POP3 session; `praisani
/// expire` run beside it with the same configuration skips that mailbox
/// (the command is a node of its own) and sweeps it once the session ends.
#[test]
fn expire_beside_a_named_node_skips_its_sessions() {
    let Some(db) = Db::new("expire_beside_a_named_node_skips_its_sessions") else {
        return;
    };
    let mut s = Server::new_extra(
        ServerOpts {
            demo: false,
            limits: String::new(),
        },
        ExtraConfig {
            tables: db.store_table("node = \"mx1\""),
            ..ExtraConfig::default()
        },
    );
    s.start();
    s.add_domain("example.test");
    s.add_user(USER, PASS, &[]);
    s.cli(&["user", "retention", USER, "--max-age", "0"])
        .assert_ok("retention");
    s.deliver(
        "x@remote.test",
        &[USER],
        &simple_message("x@remote.test", USER, "old", "expires at once"),
    );
    let mut held = s.pop3_login(USER, PASS);
    let swept = s.cli(&["--json", "expire"]);
    swept.assert_ok("expire");
    assert!(
        swept.out().contains("\"skipped_in_use\":1") && swept.out().contains("\"deleted\":0"),
        "{}",
        swept.out()
    );
    assert_eq!(held.stat().0, 1);
    held.quit();
    let mut deleted = String::new();
    for _ in 0..50 {
        deleted = s.cli(&["--json", "expire"]).out();
        if deleted.contains("\"deleted\":1") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(deleted.contains("\"deleted\":1"), "{deleted}");
    s.stop_term();
}

// ---- several nodes under load ----

/// A dead node's maildrop locks lapse after this in the tests below.
const LOCK_LEASE: &str = "10s";

/// A node on the shared database, with extra `[delivery]` lines.
fn node(db: &Db, demo: bool, delivery: &str) -> Server {
    Server::start_extra(
        ServerOpts {
            demo,
            ..ServerOpts::default()
        },
        ExtraConfig {
            tables: format!(
                "{}[delivery]\nretry = [\"1s\"]\n{delivery}\n",
                db.store_table(&format!("lock_lease = \"{LOCK_LEASE}\""))
            ),
            tls_listeners: true,
            ..ExtraConfig::default()
        },
    )
}

fn message(to: &str, subject: &str) -> Vec<u8> {
    simple_message("s@sender.test", to, subject, "multi-node")
}

fn subject_of(m: &[u8]) -> String {
    String::from_utf8_lossy(m)
        .lines()
        .find_map(|l| l.strip_prefix("Subject: ").map(str::to_string))
        .unwrap_or_default()
}

#[test]
fn nodes_share_mailboxes_the_maildrop_lock_and_exact_quotas() {
    let Some(db) = Db::new("nodes_share_mailboxes_the_maildrop_lock_and_exact_quotas") else {
        return;
    };
    let a = node(&db, true, "");
    let b = node(&db, true, "");
    let c = node(&db, true, "");

    // Accepted by A, read from B.
    let mut s = a.smtp();
    s.ehlo("client.test");
    s.send_mail("s@sender.test", &[DEMO_USER], &message(DEMO_USER, "via-a"))
        .unwrap();
    let got = b.fetch_all(DEMO_USER, DEMO_PASS);
    assert_eq!(got.len(), 1);
    assert_eq!(subject_of(&got[0]), "via-a");

    // One POP3 session per maildrop, whichever node it is on.
    let mut pa = a.pop3_login(DEMO_USER, DEMO_PASS);
    let mut pb = b.pop3();
    let refused = pb.try_login(DEMO_USER, DEMO_PASS).unwrap_err();
    assert!(refused.contains("[IN-USE]"), "{refused}");
    pa.ok("DELE 1");
    assert!(pa.quit().starts_with("+OK"));
    let mut pb = b.pop3_login(DEMO_USER, DEMO_PASS);
    assert_eq!(pb.stat().0, 0, "deleted through A, gone for B");
    pb.quit();

    // Ten messages fit; thirty sent at once through three nodes.
    a.add_user("q@example.test", "qpw", &["--messages", "10"]);
    let ports = [a.smtp_port, b.smtp_port, c.smtp_port];
    let accepted = Arc::new(Mutex::new(0));
    let mut threads = Vec::new();
    for i in 0..30 {
        let port = ports[i % 3];
        let accepted = accepted.clone();
        threads.push(std::thread::spawn(move || {
            let mut s = Smtp::connect(port);
            s.ehlo("client.test");
            if s.send_mail(
                "s@sender.test",
                &["q@example.test"],
                &message("q@example.test", &format!("q-{i}")),
            )
            .is_ok()
            {
                *accepted.lock().unwrap() += 1;
            }
            s.quit();
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*accepted.lock().unwrap(), 10);
    // The ten, and the one quota warning, which is delivered past the limit.
    let t0 = Instant::now();
    let stored = loop {
        let stored = c.fetch_all("q@example.test", "qpw");
        if stored.len() > 10 || t0.elapsed() > Duration::from_secs(10) {
            break stored;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let subjects: BTreeSet<String> = stored.iter().map(|m| subject_of(m)).collect();
    assert_eq!(subjects.iter().filter(|s| s.starts_with("q-")).count(), 10);
    assert_eq!(stored.len(), 11, "{subjects:?}");
    let out = b.cli(&["--json", "user", "show", "q@example.test"]);
    let v: serde_json::Value = serde_json::from_str(&out.out()).unwrap();
    assert_eq!(v["messages"], 11);
    let bytes: u64 = stored.iter().map(|m| m.len() as u64).sum();
    // The store counts exactly what POP3 sends (less the RETR framing).
    assert_eq!(v["used_bytes"].as_u64(), Some(bytes));
}

#[test]
fn a_node_killed_under_load_loses_nothing_and_its_lock_and_leases_lapse() {
    require_tool!("smtp-sink");
    let Some(db) = Db::new("a_node_killed_under_load_loses_nothing_and_its_lock_and_leases_lapse")
    else {
        return;
    };
    // Outbound mail for remote.test goes to smtp-sink, which waits two
    // seconds before answering DATA: a node killed meanwhile has not sent
    // the message yet, and its lease must lapse for another to send it.
    let sink_dir = tempfile::tempdir().unwrap();
    let mail_dir = sink_dir.path().join("mail");
    std::fs::create_dir(&mail_dir).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&mail_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let sink_port = free_port();
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false);
    let mut sink_cmd = std::process::Command::new("smtp-sink");
    if root {
        sink_cmd.args(["-u", "nobody"]);
    }
    let mut sink = sink_cmd
        .args(["-w", "2", "-d"])
        .arg(mail_dir.join("%H%M%S."))
        .arg(format!("127.0.0.1:{sink_port}"))
        .arg("100")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("smtp-sink");
    let delivery =
        format!("lease = \"4s\"\nroutes = {{ \"remote.test\" = \"127.0.0.1:{sink_port}\" }}");
    let a = node(&db, true, &delivery);
    let b = node(&db, true, &delivery);
    let mut c = node(&db, true, &delivery);
    a.add_user("k@example.test", "kpw", &[]);
    a.add_user("load@example.test", "lpw", &[]);

    // C holds k's maildrop when it dies.
    let mut held = c.pop3_login("k@example.test", "kpw");
    held.stat();

    // Outbound: twenty messages through the three nodes' queue runners.
    for i in 0..20 {
        let port = [a.submission_port, b.submission_port, c.submission_port][i % 3];
        let mut s = Smtp::connect(port);
        s.ehlo("client.test");
        s.expect(
            &format!("AUTH PLAIN {}", plain_b64(DEMO_USER, DEMO_PASS)),
            235,
        );
        s.send_mail(
            DEMO_USER,
            &["r@remote.test"],
            &simple_message(DEMO_USER, "r@remote.test", &format!("out-{i}"), "x"),
        )
        .unwrap();
        s.quit();
    }

    // Inbound load through all three nodes while a POP3 client on B
    // downloads and deletes; C is killed a third of the way through.
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let ports = [a.smtp_port, b.smtp_port, c.smtp_port];
    let mut senders = Vec::new();
    for t in 0..6 {
        let acked = acked.clone();
        senders.push(std::thread::spawn(move || {
            for i in 0..30 {
                let subject = format!("in-{t}-{i}");
                let port = ports[(t + i) % 3];
                let Ok(mut s) = Smtp::connect_raw(port) else {
                    continue;
                };
                // The greeting, then EHLO (a dead node refuses or drops).
                if !s.reply().is_ok_and(|r| r.code == 220)
                    || !s.cmd("EHLO client.test").is_ok_and(|r| r.code == 250)
                {
                    continue;
                }
                if s.send_mail(
                    "s@sender.test",
                    &["load@example.test"],
                    &message("load@example.test", &subject),
                )
                .is_ok()
                {
                    acked.lock().unwrap().insert(subject);
                }
                let _ = s.cmd("QUIT");
            }
        }));
    }
    let downloaded = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let consumer = {
        let (downloaded, stop, port) = (downloaded.clone(), stop.clone(), b.pop3_port);
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let mut p = Pop3::connect(port);
                if p.try_login("load@example.test", "lpw").is_err() {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
                let (n, _) = p.stat();
                let mut got = Vec::new();
                for i in 1..=n {
                    got.push(subject_of(&p.retr(i)));
                    p.ok(&format!("DELE {i}"));
                }
                // Counted only once the deletions are committed.
                if p.quit().starts_with("+OK") {
                    downloaded.lock().unwrap().extend(got);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let t0 = Instant::now();
    while acked.lock().unwrap().len() < 60 && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    c.kill9();
    let killed_at = Instant::now();
    drop(held);

    // The dead node's maildrop lock lapses: A can open k's maildrop.
    let mut pk = a.pop3_login("k@example.test", "kpw");
    let waited = killed_at.elapsed();
    pk.quit();
    assert!(
        waited < Duration::from_secs(10),
        "lock lapsed after {waited:?}"
    );

    for s in senders {
        s.join().unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    consumer.join().unwrap();
    let mut all: Vec<String> = downloaded.lock().unwrap().clone();
    all.extend(
        a.fetch_all("load@example.test", "lpw")
            .iter()
            .map(|m| subject_of(m)),
    );
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &all {
        *counts.entry(s.as_str()).or_default() += 1;
    }
    let dups: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dups.is_empty(), "delivered twice: {dups:?}");
    let acked = acked.lock().unwrap();
    let lost: Vec<_> = acked
        .iter()
        .filter(|s| !counts.contains_key(s.as_str()))
        .collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert!(
        acked.len() >= 100,
        "the load ran: {} acknowledged",
        acked.len()
    );

    // Every outbound message reaches the sink exactly once, the dead
    // node's leased ones included.
    let t0 = Instant::now();
    let subjects = loop {
        let mut subjects = Vec::new();
        for e in std::fs::read_dir(&mail_dir).unwrap() {
            subjects.push(subject_of(&std::fs::read(e.unwrap().path()).unwrap()));
        }
        if subjects.len() >= 20 || t0.elapsed() > Duration::from_secs(60) {
            break subjects;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    let unique: BTreeSet<_> = subjects.iter().collect();
    assert_eq!(unique.len(), 20, "missing outbound mail: {subjects:?}");
    assert_eq!(subjects.len(), 20, "outbound mail sent twice: {subjects:?}");
    let _ = sink.kill();
    let _ = sink.wait();
}

/// EXPIRE 0 deletes at QUIT only what was retrieved: a RETR that failed
/// (here the store cannot read bodies for a moment) must not count, or the
/// client's QUIT deletes a message it never received.
#[test]
fn a_failed_retr_is_not_deleted_by_expire_zero() {
    let Some(db) = Db::new("a_failed_retr_is_not_deleted_by_expire_zero") else {
        return;
    };
    let mut s = db.server();
    s.start();
    s.add_domain("example.test");
    s.add_user(USER, PASS, &[]);
    s.cli(&["user", "retention", USER, "--after-retrieval", "0"])
        .assert_ok("retention");
    s.deliver(
        "x@remote.test",
        &[USER],
        &simple_message("x@remote.test", USER, "kept", "never received"),
    );
    let mut pop = s.pop3_login(USER, PASS);
    assert_eq!(pop.stat().0, 1);
    psql(&db.url, "ALTER TABLE bodies RENAME TO bodies_away").assert_ok("hide bodies");
    let failed = pop.cmd("RETR 1");
    assert!(failed.starts_with("-ERR"), "{failed}");
    psql(&db.url, "ALTER TABLE bodies_away RENAME TO bodies").assert_ok("bring bodies back");
    assert!(pop.cmd("NOOP").starts_with("+OK"));
    let bye = pop.quit();
    assert!(bye.starts_with("+OK"), "{bye}");
    let mut again = s.pop3_login(USER, PASS);
    assert_eq!(
        again.stat().0,
        1,
        "the message the client never got was deleted"
    );
    let body = again.retr(1);
    assert!(String::from_utf8_lossy(&body).contains("never received"));
    again.quit();
    s.stop_term();
}

/// Vacation replies on PostgreSQL: set through one node, the same sender's
/// messages through both get one reply in all (the memory is the store's).
#[test]
fn nodes_share_the_vacation_reply_memory() {
    let Some(db) = Db::new("nodes_share_the_vacation_reply_memory") else {
        return;
    };
    let closed = free_port();
    let route = format!("routes = {{ \"remote.test\" = \"127.0.0.1:{closed}\" }}");
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let mut s = Server::new_extra(
            ServerOpts {
                demo: false,
                limits: String::new(),
            },
            ExtraConfig {
                tables: format!(
                    "{}[delivery]\nretry = [\"1h\"]\n{route}\n",
                    db.store_table("")
                ),
                ..ExtraConfig::default()
            },
        );
        s.start();
        nodes.push(s);
    }
    let (a, b) = (&nodes[0], &nodes[1]);
    a.add_domain("example.test");
    a.add_user(USER, PASS, &[]);
    b.cli(&["user", "vacation", USER, "--text", "ไม่อยู่ / 不在 / away"])
        .assert_ok("user vacation on node B");
    for (i, node) in [a, b, a, b].into_iter().enumerate() {
        node.deliver(
            "x@remote.test",
            &[USER],
            &simple_message("x@remote.test", USER, &format!("m{i}"), "hello"),
        );
    }
    for node in [a, b] {
        assert!(
            node.wait_log_count("vacation reply", 2, Duration::from_secs(20)),
            "{}",
            node.log()
        );
    }
    let out = a.cli(&["--json", "queue", "list"]);
    out.assert_ok("queue list");
    let list: serde_json::Value = serde_json::from_str(out.out().trim()).unwrap();
    let to: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["recipients"].as_array().unwrap())
        .map(|r| r["address"].as_str().unwrap())
        .collect();
    assert_eq!(to, ["x@remote.test"], "{list}");
    for mut n in nodes {
        n.stop_term();
    }
}
