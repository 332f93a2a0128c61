//! Sending limits and containment through real submission sessions
//! (Python's smtplib, swaks): the message over a limit gets a temporary
//! refusal naming the limit and nothing of it is queued; first-time
//! recipients, a domain's limit and an account's override count exactly;
//! two nodes on one PostgreSQL database share one count; an account that
//! hits its limit is put on hold with its queued mail, the postmaster gets
//! a notice in the account's language (read with poplib), and releasing
//! sends (to Postfix's smtp-sink) or deletes the held mail.

#[macro_use]
mod common;

use common::*;
use std::time::Duration;

/// Submits one message per `subject|rcpt,rcpt` spec as `user`, each in
/// its own smtplib session; prints `subject code text` for each.
const SUBMIT: &str = r#"
import smtplib, sys
port, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3]
for spec in sys.argv[4:]:
    subject, rcpts = spec.split('|', 1)
    rcpts = rcpts.split(',')
    c = smtplib.SMTP('127.0.0.1', port, timeout=30)
    c.ehlo('client.test')
    c.login(user, pw)
    msg = 'From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\nbody\r\n' % (user, rcpts[0], subject)
    try:
        c.sendmail(user, rcpts, msg)
        print(subject, 250, 'ok')
    except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as e:
        print(subject, e.smtp_code, e.smtp_error.decode())
    except smtplib.SMTPRecipientsRefused as e:
        code, text = list(e.recipients.values())[0]
        print(subject, code, text.decode())
    c.quit()
"#;

/// One submission's outcome: (code, text) per subject, in order.
fn submit_all(port: u16, user: &str, pass: &str, specs: &[String]) -> Vec<(u16, String)> {
    let port = port.to_string();
    let mut args = vec![port.as_str(), user, pass];
    args.extend(specs.iter().map(String::as_str));
    let out = python(SUBMIT, &args, Duration::from_secs(60));
    assert!(out.status.success(), "smtplib: {}", out.describe());
    out.out()
        .lines()
        .map(|l| {
            let mut p = l.splitn(3, ' ');
            let _subject = p.next();
            let code = p.next().and_then(|c| c.parse().ok()).unwrap_or(0);
            (code, p.next().unwrap_or_default().to_string())
        })
        .collect()
}

/// The counts are per UTC hour: a test that counts waits out the last
/// minute of an hour rather than see its count start over midway.
fn clear_of_the_hour_edge() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let into = now % 3600;
    if into > 3540 {
        std::thread::sleep(Duration::from_secs(3600 - into + 1));
    }
}

fn spec(subject: &str, rcpts: &[&str]) -> String {
    format!("{subject}|{}", rcpts.join(","))
}

/// The queue as JSON.
fn queue(s: &Server) -> Vec<serde_json::Value> {
    serde_json::from_str(&queue_json(s)).expect("queue json")
}

/// States of every queued recipient, in queue order.
fn states(s: &Server) -> Vec<String> {
    queue(s)
        .iter()
        .flat_map(|e| e["recipients"].as_array().cloned().unwrap_or_default())
        .map(|r| r["state"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// A server with the submission listener, `sending` as its `[sending]`
/// table, and remote.test routed to `port` (no one listens there unless a
/// test starts a sink on it).
fn server(sending: &str, port: u16) -> Server {
    Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tls_listeners: true,
            tables: format!(
                "[delivery]\nretry = [\"1h\"]\nroutes = {{ \"remote.test\" = \"127.0.0.1:{port}\" }}\n[sending]\n{sending}\n"
            ),
            ..ExtraConfig::default()
        },
    )
}

#[test]
fn the_message_over_the_hourly_limit_is_refused_and_not_queued() {
    clear_of_the_hour_edge();
    if !have_python_module("smtplib", "python3", module_path!()) {
        return;
    }
    let s = server("messages_per_hour = 3\nhold_on_limit = false", free_port());
    s.add_user("u@example.test", "upw", &[]);
    let specs: Vec<String> = (1..=4)
        .map(|i| spec(&format!("m{i}"), &["r@remote.test"]))
        .collect();
    let got = submit_all(s.submission_port, "u@example.test", "upw", &specs);
    assert_eq!(
        got.iter().map(|g| g.0).collect::<Vec<_>>(),
        vec![250, 250, 250, 451],
        "{got:?}\n{}",
        s.log()
    );
    assert!(got[3].1.contains("4.7.0"), "{got:?}");
    assert!(
        got[3].1.contains("3 messages per hour for this account"),
        "the refusal does not name the limit: {got:?}"
    );
    assert_eq!(queue(&s).len(), 3, "{}", queue_json(&s));
    // Every message counts, one to a local mailbox too.
    let local = submit_all(
        s.submission_port,
        "u@example.test",
        "upw",
        &[spec("local", &[DEMO_USER])],
    );
    assert_eq!(local[0].0, 451, "{local:?}");
    assert!(s.fetch_all(DEMO_USER, DEMO_PASS).is_empty());
    // Another account has its own count.
    s.add_user("v@example.test", "vpw", &[]);
    let other = submit_all(
        s.submission_port,
        "v@example.test",
        "vpw",
        &[spec("v1", &["r@remote.test"])],
    );
    assert_eq!(other[0].0, 250, "{other:?}");
    let shown = s.cli(&["--json", "user", "show", "u@example.test"]);
    shown.assert_ok("user show");
    assert!(shown.out().contains("\"held\":null"), "{}", shown.out());
}

#[test]
fn first_time_recipients_domain_limit_and_account_override() {
    clear_of_the_hour_edge();
    require_tool!("swaks");
    if !have_python_module("smtplib", "python3", module_path!()) {
        return;
    }
    let s = server(
        "messages_per_hour = 100\nnew_recipients_per_hour = 2\nhold_on_limit = true\n\
         [sending.domains.\"other.test\"]\ndomain_messages_per_hour = 2\n\
         [sending.accounts.\"big@example.test\"]\nnew_recipients_per_hour = 0\n",
        free_port(),
    );
    s.add_user("u@example.test", "upw", &[]);
    s.add_user("big@example.test", "bpw", &[]);
    s.add_domain("other.test");
    s.add_user("o1@other.test", "opw", &[]);
    s.add_user("o2@other.test", "opw", &[]);
    let swaks = |user: &str, pass: &str, to: &str| {
        let port = s.submission_port.to_string();
        let mut c = std::process::Command::new("swaks");
        c.args(["--server", "127.0.0.1", "--port", &port])
            .args([
                "--auth",
                "PLAIN",
                "--auth-user",
                user,
                "--auth-password",
                pass,
            ])
            .args(["--from", user, "--to", to, "--timeout", "30"]);
        run_cmd(&mut c, None, Duration::from_secs(60))
    };
    // Two first-time recipients fit, a known one is free, a third new not.
    assert!(
        swaks("u@example.test", "upw", "a@remote.test,b@remote.test")
            .status
            .success()
    );
    let known = swaks("u@example.test", "upw", "a@remote.test");
    assert!(known.status.success(), "{}", known.describe());
    let third = swaks("u@example.test", "upw", "c@remote.test");
    assert!(!third.status.success(), "{}", third.describe());
    let text = third.out();
    assert!(
        text.contains("452 4.5.3") && text.contains("2 first-time recipients per hour"),
        "{text}"
    );
    assert_eq!(queue(&s).len(), 2, "{}", queue_json(&s));
    // The override: no first-time recipient limit for big@.
    let to: Vec<String> = (0..5).map(|i| format!("n{i}@remote.test")).collect();
    let big = submit_all(
        s.submission_port,
        "big@example.test",
        "bpw",
        &[spec(
            "big",
            &to.iter().map(String::as_str).collect::<Vec<_>>(),
        )],
    );
    assert_eq!(big[0].0, 250, "{big:?}");
    // other.test: two messages an hour for the whole domain.
    let one = submit_all(
        s.submission_port,
        "o1@other.test",
        "opw",
        &[spec("o1", &["x@remote.test"])],
    );
    let two = submit_all(
        s.submission_port,
        "o2@other.test",
        "opw",
        &[spec("o2", &["x@remote.test"])],
    );
    let three = submit_all(
        s.submission_port,
        "o1@other.test",
        "opw",
        &[spec("o3", &["x@remote.test"])],
    );
    assert_eq!(
        (one[0].0, two[0].0, three[0].0),
        (250, 250, 451),
        "{one:?} {two:?} {three:?}"
    );
    assert!(
        three[0].1.contains("2 messages per hour for this domain"),
        "{three:?}"
    );
    // u@ hit its own limit and is held; o1@ hit the domain's and is not.
    let held = |a: &str| {
        let out = s.cli(&["--json", "user", "show", a]);
        out.assert_ok("user show");
        !out.out().contains("\"held\":null")
    };
    assert!(held("u@example.test"));
    assert!(!held("o1@other.test") && !held("o2@other.test"));
}

// ---------------------------------------------------------------------------
// Two PostgreSQL nodes
// ---------------------------------------------------------------------------

fn pg_admin_url() -> String {
    std::env::var("PRAISANI_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn psql(url: &str, sql: &str) -> CmdOutput {
    let mut c = std::process::Command::new("psql");
    c.env("PGCONNECT_TIMEOUT", "3")
        .args([url, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql]);
    run_cmd(&mut c, None, Duration::from_secs(30))
}

/// A database for one test, dropped at the end (like tests/postgres.rs).
struct Db {
    name: String,
    url: String,
}

impl Db {
    fn new(test: &str) -> Option<Db> {
        if !have_tool("psql", test) {
            return None;
        }
        let admin = pg_admin_url();
        let probe = psql(&admin, "SELECT 1");
        if probe.code() != Some(0) {
            if std::env::var("PRAISANI_REQUIRE_TOOLS").as_deref() == Ok("1") {
                panic!(
                    "PostgreSQL not reachable at {admin} ({test}): {}",
                    probe.err()
                );
            }
            eprintln!("SKIPPED: PostgreSQL not reachable ({admin}) ({test})");
            return None;
        }
        let name = token("praisani_it").to_lowercase().replace(['-', '.'], "_");
        psql(&admin, &format!("CREATE DATABASE {name}")).assert_ok("create database");
        let base = admin.split('?').next().unwrap_or(&admin).to_string();
        let start = base.find("://").map(|i| i + 3).unwrap_or(0);
        let host = match base[start..].find('/') {
            Some(i) => base[..start + i].to_string(),
            None => base.clone(),
        };
        Some(Db {
            url: format!("{host}/{name}"),
            name,
        })
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        psql(
            &pg_admin_url(),
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

#[test]
fn two_postgres_nodes_share_one_count() {
    clear_of_the_hour_edge();
    let Some(db) = Db::new("two_postgres_nodes_share_one_count") else {
        return;
    };
    if !have_python_module("smtplib", "python3", module_path!()) {
        return;
    }
    let closed = free_port();
    let node = || {
        let mut s = Server::new_extra(
            ServerOpts {
                demo: false,
                limits: String::new(),
            },
            ExtraConfig {
                tls_listeners: true,
                tables: format!(
                    "[store]\nbackend = \"postgres\"\nurl = \"{}\"\n\
                     [delivery]\nretry = [\"1h\"]\nroutes = {{ \"remote.test\" = \"127.0.0.1:{closed}\" }}\n\
                     [sending]\nmessages_per_hour = 3\nhold_on_limit = false\n",
                    db.url
                ),
                ..ExtraConfig::default()
            },
        );
        s.start();
        s
    };
    let a = node();
    let b = node();
    a.add_domain("example.test");
    a.add_user("u@example.test", "upw", &[]);
    let one = |s: &Server, subject: &str| {
        submit_all(
            s.submission_port,
            "u@example.test",
            "upw",
            &[spec(subject, &["r@remote.test"])],
        )[0]
        .clone()
    };
    let got = [
        one(&a, "a1"),
        one(&b, "b1"),
        one(&a, "a2"),
        one(&b, "b2"),
        one(&a, "a3"),
    ];
    assert_eq!(
        got.iter().map(|g| g.0).collect::<Vec<_>>(),
        vec![250, 250, 250, 451, 451],
        "{got:?}\n{}\n{}",
        a.log(),
        b.log()
    );
    assert_eq!(queue(&a).len(), 3, "{}", queue_json(&a));
    assert_eq!(queue(&b).len(), 3, "{}", queue_json(&b));
    // Twelve sessions at once, half on each node: exactly three pass.
    a.add_user("v@example.test", "vpw", &[]);
    let out = python(
        PARALLEL,
        &[
            &a.submission_port.to_string(),
            &b.submission_port.to_string(),
            "v@example.test",
            "vpw",
        ],
        Duration::from_secs(90),
    );
    assert!(out.status.success(), "{}", out.describe());
    let text = out.out();
    let codes: Vec<&str> = text.lines().map(str::trim).collect();
    assert_eq!(codes.len(), 12, "{}", out.out());
    assert_eq!(
        codes.iter().filter(|c| c.starts_with("250 ")).count(),
        3,
        "{}\n{}\n{}",
        out.out(),
        a.log(),
        b.log()
    );
    assert!(
        codes
            .iter()
            .all(|c| c.starts_with("250 ") || *c == "451 4.7.0"),
        "only the limit refuses: {codes:?}"
    );
    assert_eq!(queue(&a).len(), 6, "{}", queue_json(&a));
}

/// Twelve submissions at once as one user, alternating between two
/// submission ports; prints each one's final code and enhanced code.
const PARALLEL: &str = r#"
import smtplib, sys, threading
ports, user, pw = [int(sys.argv[1]), int(sys.argv[2])], sys.argv[3], sys.argv[4]
codes = []
lock = threading.Lock()
start = threading.Barrier(12)
def one(i):
    c = smtplib.SMTP('127.0.0.1', ports[i % 2], timeout=60)
    c.ehlo('client.test')
    c.login(user, pw)
    c.mail(user)
    c.rcpt('r%d@remote.test' % i)
    start.wait()
    code, text = c.data('From: %s\r\nSubject: p%d\r\n\r\nbody\r\n' % (user, i))
    with lock:
        codes.append('%d %s' % (code, text.decode().split(' ')[0]))
    c.quit()
ts = [threading.Thread(target=one, args=(i,)) for i in range(12)]
for t in ts: t.start()
for t in ts: t.join()
for c in codes: print(c)
"#;

// ---------------------------------------------------------------------------
// Containment: hold, notice, release
// ---------------------------------------------------------------------------

/// Postfix's smtp-sink on `port`, keeping each message in a file.
struct Sink {
    dir: tempfile::TempDir,
    child: std::process::Child,
}

impl Sink {
    fn start(port: u16) -> Sink {
        let dir = tempfile::tempdir().expect("tempdir");
        let mail = dir.path().join("mail");
        std::fs::create_dir(&mail).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&mail, std::fs::Permissions::from_mode(0o777)).unwrap();
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout.starts_with(b"0"))
            .unwrap_or(false);
        let mut c = std::process::Command::new("smtp-sink");
        if root {
            c.args(["-u", "nobody"]);
        }
        c.arg("-d")
            .arg(mail.join("%H%M%S."))
            .arg(format!("127.0.0.1:{port}"))
            .arg("50")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let child = c.spawn().expect("smtp-sink");
        wait_for("smtp-sink to listen", 10, || {
            std::net::TcpStream::connect(("127.0.0.1", port))
                .ok()
                .map(|_| ())
        });
        Sink { dir, child }
    }

    fn messages(&self) -> Vec<String> {
        std::fs::read_dir(self.dir.path().join("mail"))
            .unwrap()
            .map(|e| {
                String::from_utf8_lossy(&std::fs::read(e.unwrap().path()).unwrap()).into_owned()
            })
            .filter(|t| !t.is_empty())
            .collect()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The postmaster's (demo@) messages with poplib, each as
/// `Subject` + `Content-Language` + decoded text.
const READ_NOTICES: &str = r#"
import poplib, sys, email
from email.header import decode_header, make_header
p = poplib.POP3('127.0.0.1', int(sys.argv[1]), timeout=20)
p.user(sys.argv[2]); p.pass_(sys.argv[3])
n = len(p.list()[1])
for i in range(1, n + 1):
    m = email.message_from_bytes(b'\r\n'.join(p.retr(i)[1]))
    print('SUBJECT', str(make_header(decode_header(m['Subject']))))
    print('LANG', m['Content-Language'])
    print(m.get_payload(decode=True).decode('utf-8'))
    print('END')
p.quit()
"#;

#[test]
fn an_account_over_its_limit_is_held_and_released() {
    clear_of_the_hour_edge();
    require_tool!("smtp-sink");
    if !have_python_module("smtplib", "python3", module_path!()) {
        return;
    }
    let sink_port = free_port();
    let s = server("messages_per_hour = 2\nhold_on_limit = true", sink_port);
    s.add_user("s@example.test", "spw", &["--lang", "th"]);
    // The domain's contact hears of holds too, in their own language.
    s.add_user("it@example.test", "itpw", &[]);
    let set = s.cli(&[
        "--json",
        "domain",
        "contact",
        "example.test",
        "it@example.test",
        "--lang",
        "zh",
    ]);
    set.assert_ok("domain contact");
    assert!(
        set.out().contains(r#""address":"it@example.test""#)
            && set.out().contains(r#""lang":"zh""#),
        "{}",
        set.out()
    );
    // Two messages while remote.test is down: queued, pending.
    let got = submit_all(
        s.submission_port,
        "s@example.test",
        "spw",
        &[
            spec("first", &["r1@remote.test"]),
            spec("second", &["r2@remote.test"]),
            spec("third", &["r3@remote.test"]),
        ],
    );
    assert_eq!(
        got.iter().map(|g| g.0).collect::<Vec<_>>(),
        vec![250, 250, 451],
        "{got:?}\n{}",
        s.log()
    );
    assert!(got[2].1.contains("on hold"), "{got:?}");
    // The queued mail is held, and shown so.
    assert_eq!(states(&s), vec!["held", "held"], "{}", queue_json(&s));
    let listed = s.cli(&["queue", "list"]);
    listed.assert_ok("queue list");
    assert_eq!(
        listed.out().matches("  held").count(),
        2,
        "{}",
        listed.out()
    );
    let users = s.cli(&["user", "list"]);
    assert!(
        users
            .out()
            .lines()
            .any(|l| l.starts_with("s@example.test") && l.ends_with("on hold")),
        "{}",
        users.out()
    );
    let shown = s.cli(&["user", "show", "s@example.test"]);
    assert!(
        shown
            .out()
            .contains("on hold (sending limit reached: 2 messages per hour"),
        "{}",
        shown.out()
    );
    // Submission is refused at MAIL FROM now; POP3 still works.
    let again = submit_all(
        s.submission_port,
        "s@example.test",
        "spw",
        &[spec("fourth", &["r4@remote.test"])],
    );
    assert_eq!(again[0].0, 451, "{again:?}");
    assert!(again[0].1.contains("on hold"), "{again:?}");
    s.pop3_login("s@example.test", "spw").quit();
    // The postmaster's notice, in the account's language (Thai).
    let notice = wait_for("the hold notice", 20, || {
        let out = python(
            READ_NOTICES,
            &[&s.pop3_port.to_string(), DEMO_USER, DEMO_PASS],
            Duration::from_secs(30),
        );
        assert!(out.status.success(), "poplib: {}", out.describe());
        let text = out.out();
        text.contains("SUBJECT").then_some(text)
    });
    assert_eq!(notice.matches("SUBJECT").count(), 1, "one notice: {notice}");
    assert!(
        notice.contains("SUBJECT บัญชี s@example.test ถูกระงับการส่งอีเมล"),
        "{notice}"
    );
    assert!(notice.contains("LANG th"), "{notice}");
    assert!(
        notice.contains("2 messages per hour for this account"),
        "{notice}"
    );
    assert!(
        notice.contains("praisani user release s@example.test"),
        "{notice}"
    );
    // The domain contact's copy, in Chinese.
    let copy = wait_for("the contact's hold notice", 20, || {
        let out = python(
            READ_NOTICES,
            &[&s.pop3_port.to_string(), "it@example.test", "itpw"],
            Duration::from_secs(30),
        );
        assert!(out.status.success(), "poplib: {}", out.describe());
        let text = out.out();
        text.contains("SUBJECT").then_some(text)
    });
    assert_eq!(copy.matches("SUBJECT").count(), 1, "one notice: {copy}");
    assert!(
        copy.contains("SUBJECT 账户 s@example.test 已被暂停发信"),
        "{copy}"
    );
    assert!(copy.contains("LANG zh"), "{copy}");
    assert!(
        copy.contains("2 messages per hour for this account"),
        "{copy}"
    );
    assert!(
        copy.contains("praisani user release s@example.test"),
        "{copy}"
    );
    // Release: the first message deleted by id, then the account released
    // and the second sent.
    let ids: Vec<String> = queue(&s).iter().map(|e| e["id"].to_string()).collect();
    let sink = Sink::start(sink_port);
    let del = s.cli(&["queue", "release", &ids[0], "--delete"]);
    del.assert_ok("queue release --delete");
    assert_eq!(queue(&s).len(), 1, "{}", queue_json(&s));
    let rel = s.cli(&["--json", "user", "release", "s@example.test"]);
    rel.assert_ok("user release");
    assert!(rel.out().contains("\"recipients\":1"), "{}", rel.out());
    let sent = wait_for("the released message at the sink", 30, || {
        let m = sink.messages();
        (!m.is_empty()).then_some(m)
    });
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].contains("Subject: second"), "{}", sent[0]);
    wait_for("the queue to empty", 20, || {
        queue(&s).is_empty().then_some(())
    });
    // Sending works again (the count of the hour is still spent: a new
    // message to a local mailbox is refused for the limit, not the hold).
    let after = submit_all(
        s.submission_port,
        "s@example.test",
        "spw",
        &[spec("fifth", &[DEMO_USER])],
    );
    assert_eq!(after[0].0, 451, "{after:?}");
    assert!(after[0].1.contains("Sending limit reached"), "{after:?}");
}

#[test]
fn queue_hold_and_release_by_id() {
    clear_of_the_hour_edge();
    if !have_python_module("smtplib", "python3", module_path!()) {
        return;
    }
    let s = server("hold_on_limit = false", free_port());
    s.add_user("u@example.test", "upw", &[]);
    let got = submit_all(
        s.submission_port,
        "u@example.test",
        "upw",
        &[spec("one", &["r@remote.test"])],
    );
    assert_eq!(got[0].0, 250, "{got:?}");
    let id = queue(&s)[0]["id"].to_string();
    let held = s.cli(&["--json", "queue", "hold", &id]);
    held.assert_ok("queue hold");
    assert!(held.out().contains("\"held\":1"), "{}", held.out());
    assert_eq!(states(&s), vec!["held"]);
    let rel = s.cli(&["queue", "release", &id]);
    rel.assert_ok("queue release");
    assert_eq!(states(&s), vec!["pending"]);
    let missing = s.cli(&["queue", "hold", "999999"]);
    assert_ne!(missing.code(), Some(0), "{}", missing.describe());
    let missing = s.cli(&["user", "suspend", "nobody@example.test"]);
    assert_ne!(missing.code(), Some(0), "{}", missing.describe());
    // suspend by hand: refused at MAIL FROM with the reason.
    s.cli(&["user", "suspend", "u@example.test", "--reason", "phished"])
        .assert_ok("suspend");
    assert_eq!(states(&s), vec!["held"]);
    let refused = submit_all(
        s.submission_port,
        "u@example.test",
        "upw",
        &[spec("two", &["r@remote.test"])],
    );
    assert_eq!(refused[0].0, 451, "{refused:?}");
    assert!(refused[0].1.contains("phished"), "{refused:?}");
    s.cli(&["user", "release", "u@example.test", "--delete"])
        .assert_ok("release --delete");
    assert!(queue(&s).is_empty(), "{}", queue_json(&s));
    let ok = submit_all(
        s.submission_port,
        "u@example.test",
        "upw",
        &[spec("three", &["r@remote.test"])],
    );
    assert_eq!(ok[0].0, 250, "{ok:?}");
}

#[test]
fn an_account_whose_mail_bounces_is_held() {
    clear_of_the_hour_edge();
    if !have_python_module("smtplib", "python3", module_path!()) {
        return;
    }
    // The remote side: a second praisani hosting remote.test with r@ only.
    let b = Server::start_default();
    b.add_domain("remote.test");
    b.add_user("r@remote.test", "rpw", &[]);
    b.add_user("r2@remote.test", "rpw", &[]);
    let s = server(
        "bounce_min_recipients = 4\nbounce_percent = 50",
        b.smtp_port,
    );
    s.add_user("u@example.test", "upw", &[]);
    // Two of four bounce: 50% is not more than 50%.
    let first = submit_all(
        s.submission_port,
        "u@example.test",
        "upw",
        &[spec(
            "half",
            &[
                "r@remote.test",
                "x1@remote.test",
                "x2@remote.test",
                "r2@remote.test",
            ],
        )],
    );
    assert_eq!(first[0].0, 250, "{first:?}");
    wait_for("the first message to finish", 30, || {
        queue(&s).is_empty().then_some(())
    });
    let shown = s.cli(&["--json", "user", "show", "u@example.test"]);
    assert!(
        shown.out().contains("\"held\":null"),
        "held at 50%: {}",
        shown.out()
    );
    // One more bounce: 3 of 5.
    let worse = submit_all(
        s.submission_port,
        "u@example.test",
        "upw",
        &[spec("worse", &["x3@remote.test"])],
    );
    assert_eq!(worse[0].0, 250, "{worse:?}");
    let held = wait_for("the account to be held", 30, || {
        let out = s.cli(&["--json", "user", "show", "u@example.test"]);
        (!out.out().contains("\"held\":null")).then(|| out.out())
    });
    assert!(held.contains("3 of its 5 outbound recipients"), "{held}");
    let refused = submit_all(
        s.submission_port,
        "u@example.test",
        "upw",
        &[spec("more", &["r@remote.test"])],
    );
    assert_eq!(refused[0].0, 451, "{refused:?}");
    let notice = wait_for("the hold notice", 20, || {
        let out = python(
            READ_NOTICES,
            &[&s.pop3_port.to_string(), DEMO_USER, DEMO_PASS],
            Duration::from_secs(30),
        );
        let text = out.out();
        text.contains("put on hold").then_some(text)
    });
    assert!(
        notice.contains("SUBJECT Account u@example.test put on hold"),
        "{notice}"
    );
    assert!(notice.contains("LANG en"), "{notice}");
}
