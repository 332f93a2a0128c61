//! Retention and leave-on-server, end to end: the command sequences of
//! Thunderbird, Outlook and Gmail's POP fetcher leaving mail on the server
//! across restarts, POP3 EXPIRE as RFC 2449 says, "delete N days after
//! first retrieval" and "delete after N days" enforced by `praisani expire
//! --as-of` (the sweeper's work, without waiting), EXPIRE 0, and a live
//! session never renumbered by a sweep.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::time::Duration;

const DAY: i64 = 86_400;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn rfc3339(t: i64) -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "-d", &format!("@{t}"), "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .expect("date");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn expire(s: &Server, at: i64) -> serde_json::Value {
    let out = s.cli(&["--json", "expire", "--as-of", &rfc3339(at)]);
    out.assert_ok("expire");
    serde_json::from_str(&out.out()).expect("json")
}

fn deliver(s: &Server, to: &str, subject: &str) {
    let mut c = s.smtp();
    c.ehlo("client.test");
    c.send_mail(
        "s@sender.test",
        &[to],
        &simple_message("s@sender.test", to, subject, "body"),
    )
    .unwrap();
    c.quit();
}

fn capa(p: &mut Pop3) -> Vec<String> {
    p.ok("CAPA");
    String::from_utf8(p.multiline())
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A leave-on-server client: logs in, lists UIDLs, retrieves in ascending
/// order only what it has not seen, never deletes, QUITs. Returns the
/// subjects it downloaded. `style` picks the command order of Thunderbird,
/// Outlook or Gmail's fetcher.
fn leave_on_server(
    s: &Server,
    user: &str,
    pass: &str,
    seen: &mut BTreeMap<String, String>,
    style: &str,
) -> Vec<String> {
    let mut p = s.pop3();
    match style {
        "thunderbird" => {
            capa(&mut p);
            p.try_login(user, pass).unwrap();
            p.stat();
        }
        "outlook" => {
            p.try_login(user, pass).unwrap();
            p.stat();
            p.list();
        }
        _ => {
            // Gmail: USER/PASS, STAT, UIDL, LIST, then RETR ascending.
            p.try_login(user, pass).unwrap();
            p.stat();
        }
    }
    let uidl = p.uidl();
    if style == "gmail" {
        p.list();
    }
    let mut got = Vec::new();
    let mut last = 0;
    for (n, uid) in uidl {
        assert!(n > last, "message numbers ascend");
        last = n;
        if seen.contains_key(&uid) {
            continue;
        }
        let text = String::from_utf8_lossy(&p.retr(n)).into_owned();
        let subject = text
            .lines()
            .find_map(|l| l.strip_prefix("Subject: "))
            .unwrap_or("")
            .to_string();
        seen.insert(uid, subject.clone());
        got.push(subject);
    }
    assert!(p.quit().starts_with("+OK"));
    got
}

#[test]
fn leave_on_server_clients_keep_working_and_retrieved_mail_expires_after_n_days() {
    let mut s = Server::start_default();
    s.add_user("t@example.test", "tpw", &[]);
    s.add_user("o@example.test", "opw", &[]);
    s.add_user("g@example.test", "gpw", &[]);
    s.cli(&[
        "domain",
        "retention",
        "example.test",
        "--after-retrieval",
        "7",
    ])
    .assert_ok("domain retention");
    for (user, pass, style) in [
        ("t@example.test", "tpw", "thunderbird"),
        ("o@example.test", "opw", "outlook"),
        ("g@example.test", "gpw", "gmail"),
    ] {
        let mut seen = BTreeMap::new();
        deliver(&s, user, "one");
        deliver(&s, user, "two");
        let t0 = now();
        assert_eq!(
            leave_on_server(&s, user, pass, &mut seen, style),
            ["one", "two"]
        );
        // Nothing new: nothing downloaded again, also after a restart.
        assert!(leave_on_server(&s, user, pass, &mut seen, style).is_empty());
        s.stop_term();
        s.restart(false);
        assert!(leave_on_server(&s, user, pass, &mut seen, style).is_empty());
        // Not retrieved yet: its retention clock has not started.
        deliver(&s, user, "three");

        // Six days later nothing has expired; seven days after the first
        // retrieval the two retrieved messages are gone, "three" stays.
        let r = expire(&s, t0 + 6 * DAY);
        assert_eq!(r["deleted"], 0, "{r}");
        let r = expire(&s, t0 + 7 * DAY + 120);
        assert_eq!(r["deleted"], 2, "{style}: {r}");
        // The client downloads "three" once, and nothing it had again.
        assert_eq!(leave_on_server(&s, user, pass, &mut seen, style), ["three"]);
        assert!(leave_on_server(&s, user, pass, &mut seen, style).is_empty());
        let mut p = s.pop3_login(user, pass);
        let uidl = p.uidl();
        p.quit();
        assert_eq!(uidl.len(), 1, "{style}: {uidl:?}");
        assert_eq!(seen[&uidl[0].1], "three", "the remaining UIDL is unchanged");
        // Clean the mailbox for the next client's count.
        let mut p = s.pop3_login(user, pass);
        p.ok("DELE 1");
        p.quit();
    }
}

#[test]
fn expire_is_advertised_per_user_as_rfc_2449_says() {
    let s = Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tables: "[retention]\nafter_retrieval = 30\nsweep_interval = \"1s\"\n".into(),
            ..ExtraConfig::default()
        },
    );
    // Everyone has the server's 30 days: no USER tag.
    let mut p = s.pop3();
    assert!(capa(&mut p).contains(&"EXPIRE 30".to_string()));
    p.quit();
    s.add_user("a@example.test", "apw", &[]);
    s.add_user("b@example.test", "bpw", &[]);
    s.add_user("c@example.test", "cpw", &[]);
    s.cli(&[
        "user",
        "retention",
        "b@example.test",
        "--after-retrieval",
        "never",
    ])
    .assert_ok("user retention");
    // Deleted 10 days after arrival: retrieved mail stays at most 10 days.
    s.cli(&["user", "retention", "c@example.test", "--max-age", "10"])
        .assert_ok("user retention");
    // Before login: the shortest any user has, with USER (refreshed by
    // the sweeper, here every second).
    let t0 = std::time::Instant::now();
    loop {
        let mut p = s.pop3();
        let caps = capa(&mut p);
        p.quit();
        if caps.contains(&"EXPIRE 10 USER".to_string()) {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "{caps:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    for (user, pass, want) in [
        ("a@example.test", "apw", "EXPIRE 30"),
        ("b@example.test", "bpw", "EXPIRE NEVER"),
        ("c@example.test", "cpw", "EXPIRE 10"),
    ] {
        let mut p = s.pop3();
        p.try_login(user, pass).unwrap();
        let caps = capa(&mut p);
        assert!(caps.contains(&want.to_string()), "{user}: {caps:?}");
        p.quit();
    }
}

#[test]
fn expire_zero_deletes_retrieved_mail_at_quit_and_only_then() {
    let s = Server::start_default();
    s.add_user("z@example.test", "zpw", &[]);
    s.cli(&[
        "user",
        "retention",
        "z@example.test",
        "--after-retrieval",
        "0",
    ])
    .assert_ok("user retention");
    for subject in ["a", "b", "c"] {
        deliver(&s, "z@example.test", subject);
    }
    let mut p = s.pop3_login("z@example.test", "zpw");
    assert!(capa(&mut p).contains(&"EXPIRE 0".to_string()));
    p.retr(1);
    p.ok("TOP 2 0"); // a preview is not a retrieval
    p.multiline();
    assert!(p.quit().starts_with("+OK"));
    let mut p = s.pop3_login("z@example.test", "zpw");
    assert_eq!(p.stat().0, 2, "RETR'd message deleted at QUIT");
    // RETR, then the connection drops without QUIT: no UPDATE state, so
    // nothing is deleted, now or by a later sweep.
    p.retr(1);
    drop(p);
    std::thread::sleep(Duration::from_millis(300));
    let r = expire(&s, now() + 5);
    assert_eq!(r["deleted"], 0, "{r}");
    let mut p = s.pop3_login("z@example.test", "zpw");
    assert_eq!(p.stat().0, 2);
    // Pipelined RETR and QUIT: retrieved, then deleted at QUIT.
    p.send("RETR 1").unwrap();
    p.send("QUIT").unwrap();
    assert!(p.line().unwrap().starts_with("+OK"));
    p.multiline();
    assert!(p.line().unwrap().starts_with("+OK"));
    let mut p = s.pop3_login("z@example.test", "zpw");
    assert_eq!(p.stat().0, 1);
    p.quit();
}

#[test]
fn a_sweep_never_renumbers_a_live_session() {
    let s = Server::start_default();
    s.add_user("l@example.test", "lpw", &[]);
    s.cli(&["user", "retention", "l@example.test", "--max-age", "1"])
        .assert_ok("user retention");
    deliver(&s, "l@example.test", "old-1");
    deliver(&s, "l@example.test", "old-2");
    let mut p = s.pop3_login("l@example.test", "lpw");
    assert_eq!(p.stat().0, 2);
    // The `expire` command (another process) sees the session's lock.
    let r = expire(&s, now() + 2 * DAY);
    assert_eq!(r["deleted"], 0, "{r}");
    assert_eq!(r["skipped_in_use"], 1, "{r}");
    assert_eq!(p.stat().0, 2);
    let text = String::from_utf8_lossy(&p.retr(2)).into_owned();
    assert!(text.contains("Subject: old-2"), "{text}");
    assert!(p.quit().starts_with("+OK"));
    let r = expire(&s, now() + 2 * DAY);
    assert_eq!(r["deleted"], 2, "{r}");
    let shown = s.cli(&["--json", "user", "show", "l@example.test"]);
    let v: serde_json::Value = serde_json::from_str(&shown.out()).unwrap();
    assert_eq!(v["used_bytes"], 0);
    assert_eq!(v["messages"], 0);
}

#[test]
fn the_server_sweeps_by_itself() {
    let s = Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            // Zero days after arrival: due at the next sweep.
            tables: "[retention]\nmax_age = 0\nsweep_interval = \"1s\"\n".into(),
            ..ExtraConfig::default()
        },
    );
    s.add_user("w@example.test", "wpw", &[]);
    deliver(&s, "w@example.test", "x");
    let t0 = std::time::Instant::now();
    loop {
        let mut p = s.pop3_login("w@example.test", "wpw");
        let n = p.stat().0;
        p.quit();
        if n == 0 {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the sweeper did not run\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}
