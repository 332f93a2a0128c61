//! POP3 driven by python poplib, curl, mpop, and raw sockets.

mod common;

use common::*;
use std::collections::HashSet;
use std::process::Command;
use std::time::{Duration, Instant};

const PY_TIMEOUT: Duration = Duration::from_secs(60);

/// Delivers `n` messages to `user`, returning their tokens in arrival order.
fn deliver_n(s: &Server, user: &str, n: usize, prefix: &str) -> Vec<String> {
    let mut c = s.smtp();
    c.ehlo("client.test");
    let toks: Vec<String> = (0..n).map(|_| token(prefix)).collect();
    for (i, t) in toks.iter().enumerate() {
        let body =
            format!("message number {i}\r\n.dotted line\r\nline two\r\nline three\r\nline four");
        c.send_mail(
            "sender@remote.test",
            &[user],
            &simple_message("sender@remote.test", user, t, &body),
        )
        .unwrap_or_else(|e| panic!("deliver: {e}"));
    }
    c.quit();
    toks
}

#[test]
fn poplib_full_flow() {
    require_tool!("python3");
    let s = Server::start_default();
    let toks = deliver_n(&s, DEMO_USER, 3, "flow");
    let script = r#"
import poplib, sys
port = int(sys.argv[1]); toks = [t.encode() for t in sys.argv[2:5]]
p = poplib.POP3('127.0.0.1', port, timeout=30)
caps = p.capa()
for c in ['TOP', 'UIDL', 'USER', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'EXPIRE', 'IMPLEMENTATION']:
    assert c in caps, ('CAPA lacks', c, caps)
assert p.user('demo@example.test').startswith(b'+OK')
assert p.pass_('demo-pass').startswith(b'+OK')
count, total = p.stat()
assert count == 3, count
resp, listing, _ = p.list()
sizes = {int(l.split()[0]): int(l.split()[1]) for l in listing}
assert sorted(sizes) == [1, 2, 3], listing
assert sum(sizes.values()) == total, (sizes, total)
resp, uidls, _ = p.uidl()
uids = [l.split()[1] for l in uidls]
assert len(set(uids)) == 3, uidls
assert all(0 < len(u) <= 70 and all(0x21 <= b <= 0x7e for b in u) for u in uids), uids
one = p.uidl(2).split()
assert one[1] == b'2' and one[2] == uids[1], one
# Arrival order.
for i in range(3):
    resp, lines, octets = p.retr(i + 1)
    body = b'\r\n'.join(lines) + b'\r\n'
    assert toks[i] in body, ('message', i + 1, 'lacks', toks[i])
    assert len(body) == sizes[i + 1], ('size', i + 1, len(body), sizes[i + 1])
    assert b'.dotted line' in lines, lines
# TOP n 0: the header and the blank line only.
resp, lines, _ = p.top(2, 0)
assert lines[-1] == b'', lines
assert b'' not in lines[:-1], lines
assert any(toks[1] in l for l in lines), lines
assert not any(b'message number' in l for l in lines), ('TOP 0 returned body lines', lines)
resp, lines2, _ = p.top(2, 2)
assert lines2[:len(lines)] == lines and lines2[len(lines):] == [b'message number 1', b'.dotted line'], lines2
# DELE / RSET.
assert p.dele(1).startswith(b'+OK')
count2, total2 = p.stat()
assert count2 == 2 and total2 == total - sizes[1], (count2, total2)
try:
    p.retr(1); raise SystemExit('RETR of a deleted message succeeded')
except poplib.error_proto:
    pass
try:
    p.dele(1); raise SystemExit('DELE twice succeeded')
except poplib.error_proto:
    pass
assert p.rset().startswith(b'+OK')
assert p.stat() == (3, total)
assert p.dele(2).startswith(b'+OK')
assert p.noop().startswith(b'+OK')
assert p.quit().startswith(b'+OK')
# The deletion is committed.
p = poplib.POP3('127.0.0.1', port, timeout=30)
p.user('demo@example.test'); p.pass_('demo-pass')
assert p.stat()[0] == 2
resp, uidls2, _ = p.uidl()
uids2 = [l.split()[1] for l in uidls2]
assert uids2 == [uids[0], uids[2]], (uids, uids2)
b1 = b'\r\n'.join(p.retr(1)[1]); b2 = b'\r\n'.join(p.retr(2)[1])
assert toks[0] in b1 and toks[2] in b2
p.quit()
print('OK')
"#;
    let port = s.pop3_port.to_string();
    let args: Vec<&str> = std::iter::once(port.as_str())
        .chain(toks.iter().map(String::as_str))
        .collect();
    let out = python(script, &args, PY_TIMEOUT);
    assert!(
        out.status.success() && out.out().contains("OK"),
        "{}",
        out.describe()
    );
}

#[test]
fn poplib_apop() {
    require_tool!("python3");
    let s = Server::start_default();
    s.add_user("noapop@example.test", "plain-pass", &[]);
    let tok = deliver_n(&s, DEMO_USER, 1, "apop").remove(0);
    let script = r#"
import poplib, sys, re
port, tok = int(sys.argv[1]), sys.argv[2].encode()
p = poplib.POP3('127.0.0.1', port, timeout=30)
assert re.search(rb'<[^<>@]+@[^<>]+>', p.getwelcome()), p.getwelcome()
assert p.apop('demo@example.test', 'demo-pass').startswith(b'+OK')
count, _ = p.stat()
assert count == 1
assert tok in b'\r\n'.join(p.retr(1)[1])
p.quit()
for user, pw in [('demo@example.test', 'wrong-pass'), ('noapop@example.test', 'plain-pass'), ('nobody@example.test', 'x')]:
    p = poplib.POP3('127.0.0.1', port, timeout=30)
    try:
        p.apop(user, pw)
        raise SystemExit('APOP accepted for ' + user + ' / ' + pw)
    except poplib.error_proto as e:
        assert str(e).find('[AUTH]') >= 0, e
    p.quit()
print('OK')
"#;
    let out = python(script, &[&s.pop3_port.to_string(), &tok], PY_TIMEOUT);
    assert!(
        out.status.success() && out.out().contains("OK"),
        "{}",
        out.describe()
    );
}

/// APOP digest computed here too, and the greeting timestamp differs per connection.
#[test]
fn raw_apop_and_unique_timestamps() {
    require_tool!("python3"); // for md5
    let s = Server::start_default();
    let ts = |g: &str| -> String {
        let a = g.find('<').unwrap_or_else(|| panic!("no timestamp in {g}"));
        let b = g[a..].find('>').unwrap() + a;
        g[a..=b].to_string()
    };
    let p1 = s.pop3();
    let p2 = s.pop3();
    assert_ne!(
        ts(&p1.greeting),
        ts(&p2.greeting),
        "APOP timestamps must be unique"
    );
    drop(p1);
    let mut p = p2;
    let stamp = ts(&p.greeting);
    let out = python(
        "import hashlib,sys; print(hashlib.md5((sys.argv[1]+sys.argv[2]).encode()).hexdigest())",
        &[&stamp, DEMO_PASS],
        PY_TIMEOUT,
    );
    let digest = out.out().trim().to_string();
    assert_eq!(digest.len(), 32);
    let r = p.cmd(&format!("APOP {DEMO_USER} {digest}"));
    assert!(r.starts_with("+OK"), "APOP with a correct digest: {r}");
    p.quit();
    // Replaying the digest on a new connection (new timestamp) fails.
    let mut p = s.pop3();
    let r = p.cmd(&format!("APOP {DEMO_USER} {digest}"));
    assert!(r.starts_with("-ERR"), "replayed APOP digest accepted: {r}");
}

#[test]
fn capa_and_greeting() {
    let s = Server::start_default();
    let mut p = s.pop3();
    assert!(
        p.greeting.contains('<') && p.greeting.contains('>'),
        "{}",
        p.greeting
    );
    p.ok("CAPA");
    let caps = String::from_utf8_lossy(&p.multiline()).into_owned();
    let names: Vec<&str> = caps
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for c in [
        "TOP",
        "UIDL",
        "USER",
        "RESP-CODES",
        "AUTH-RESP-CODE",
        "PIPELINING",
        "EXPIRE",
        "IMPLEMENTATION",
    ] {
        assert!(names.contains(&c), "CAPA lacks {c}: {caps}");
    }
    // Commands not valid before login.
    let r = p.cmd("STAT");
    assert!(r.starts_with("-ERR"), "STAT before login: {r}");
    let r = p.cmd("PASS demo-pass");
    assert!(r.starts_with("-ERR"), "PASS without USER: {r}");
    let r = p.quit();
    assert!(r.starts_with("+OK"), "QUIT in AUTHORIZATION: {r}");
}

#[test]
fn failed_logins_look_identical() {
    let s = Server::start_default();
    let mut lines = Vec::new();
    for (user, pass) in [
        (DEMO_USER, "wrong-pass"),
        ("nobody@example.test", "wrong-pass"),
        ("nobody@unhosted.test", "x"),
    ] {
        let mut p = s.pop3();
        let u = p.cmd(&format!("USER {user}"));
        let t0 = Instant::now();
        let r = p.cmd(&format!("PASS {pass}"));
        let took = t0.elapsed();
        lines.push((user, u, r, took));
    }
    for (user, u, r, _) in &lines {
        assert!(
            r.starts_with("-ERR [AUTH]"),
            "{user}: failed PASS answered {r:?}"
        );
        assert_eq!(
            *u, lines[0].1,
            "USER replies differ between {user} and {}",
            lines[0].0
        );
        assert_eq!(
            *r, lines[0].2,
            "PASS failure lines differ between {user} and {}",
            lines[0].0
        );
    }
    for (user, _, _, took) in &lines {
        assert!(
            *took >= Duration::from_millis(80),
            "{user}: failure answered after {took:?}, auth_failure_delay is 100ms"
        );
    }
}

#[test]
fn second_login_gets_in_use() {
    let s = Server::start_default();
    deliver_n(&s, DEMO_USER, 1, "inuse");
    let mut p1 = s.pop3_login(DEMO_USER, DEMO_PASS);
    let mut p2 = s.pop3();
    let err = p2
        .try_login(DEMO_USER, DEMO_PASS)
        .expect_err("second concurrent login succeeded");
    assert!(err.starts_with("-ERR [IN-USE]"), "second login: {err}");
    // The first session is unaffected.
    assert_eq!(p1.stat().0, 1);
    assert!(p1.quit().starts_with("+OK"));
    // After QUIT the maildrop is free again.
    let mut p3 = s.pop3_login(DEMO_USER, DEMO_PASS);
    assert_eq!(p3.stat().0, 1);
    p3.quit();
}

#[test]
fn sizes_are_exact() {
    let s = Server::start_default();
    let msgs: Vec<Vec<u8>> = vec![
        simple_message("a@remote.test", DEMO_USER, &token("size"), "short"),
        simple_message(
            "a@remote.test",
            DEMO_USER,
            &token("size"),
            ".\r\n..\r\n.x\r\n...dots\r\n\r\n\r\n.",
        ),
        simple_message("a@remote.test", DEMO_USER, &token("size"), &"z".repeat(998)),
        simple_message(
            "a@remote.test",
            DEMO_USER,
            &token("size"),
            &"line of text\r\n".repeat(3000),
        ),
        simple_message(
            "a@remote.test",
            DEMO_USER,
            &token("size"),
            "caf\u{e9} \u{0e2a}\u{0e27}\u{0e31}\u{0e2a}\u{0e14}\u{0e35}",
        ),
    ];
    for m in &msgs {
        s.deliver("a@remote.test", &[DEMO_USER], m);
    }
    let mut p = s.pop3_login(DEMO_USER, DEMO_PASS);
    let (n, total) = p.stat();
    assert_eq!(n, msgs.len());
    let list = p.list();
    assert_eq!(list.len(), msgs.len());
    assert_eq!(
        list.iter().map(|x| x.1).sum::<u64>(),
        total,
        "STAT total != sum of LIST"
    );
    for (i, (num, size)) in list.iter().enumerate() {
        assert_eq!(*num, i + 1);
        let r = p.ok(&format!("LIST {num}"));
        assert_eq!(r, format!("+OK {num} {size}"), "single LIST");
        p.ok(&format!("RETR {num}"));
        let raw = p.multiline_raw();
        let body = dot_unstuff(&raw);
        assert_eq!(
            body.len() as u64,
            *size,
            "message {num}: LIST says {size}, RETR delivered {}",
            body.len()
        );
        // Every line ends in CRLF; no bare LF or CR.
        for (j, w) in body.windows(2).enumerate() {
            assert!(
                !(w[1] == b'\n' && w[0] != b'\r'),
                "bare LF in message {num} at {j}"
            );
        }
        assert!(
            body.ends_with(msgs[i].as_slice()),
            "message {num} differs from what was sent"
        );
        // The wire form is dot-stuffed.
        for line in raw.split(|&b| b == b'\n') {
            assert!(
                line != b".\r",
                "unstuffed '.' line on the wire in message {num}"
            );
        }
    }
    p.quit();
}

#[test]
fn top_returns_header_and_n_lines() {
    let s = Server::start_default();
    let tok = token("top");
    let m = simple_message(
        "a@remote.test",
        DEMO_USER,
        &tok,
        "first\r\n.second\r\nthird",
    );
    s.deliver("a@remote.test", &[DEMO_USER], &m);
    let mut p = s.pop3_login(DEMO_USER, DEMO_PASS);
    let full = p.retr(1);
    let split = full.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let header = &full[..split];
    p.ok("TOP 1 0");
    let t0 = p.multiline();
    assert_eq!(
        t0,
        header,
        "TOP 1 0 must be the header plus the blank line:\n{}",
        String::from_utf8_lossy(&t0)
    );
    p.ok("TOP 1 2");
    let t2 = p.multiline();
    let mut want = header.to_vec();
    want.extend_from_slice(b"first\r\n.second\r\n");
    assert_eq!(
        String::from_utf8_lossy(&t2),
        String::from_utf8_lossy(&want),
        "TOP 1 2"
    );
    p.ok("TOP 1 100");
    assert_eq!(p.multiline(), full, "TOP with more lines than the body");
    let r = p.cmd("TOP 2 0");
    assert!(r.starts_with("-ERR"), "TOP of a missing message: {r}");
    p.quit();
}

#[test]
fn dele_without_quit_deletes_nothing() {
    let s = Server::start_default();
    let toks = deliver_n(&s, DEMO_USER, 3, "nodel");
    {
        let mut p = s.pop3_login(DEMO_USER, DEMO_PASS);
        p.ok("DELE 1");
        p.ok("DELE 2");
        // Connection dropped without QUIT.
        let _ = p.r.get_ref().shutdown(std::net::Shutdown::Both);
    }
    let mut p = s.pop3_login(DEMO_USER, DEMO_PASS);
    assert_eq!(
        p.stat().0,
        3,
        "messages deleted without QUIT (RFC 1939 §6: only the UPDATE state deletes)"
    );
    p.ok("DELE 1");
    let r = p.quit();
    assert!(r.starts_with("+OK"), "QUIT: {r}");
    let msgs = s.fetch_all(DEMO_USER, DEMO_PASS);
    assert_eq!(msgs.len(), 2);
    assert!(
        !msgs.iter().any(|m| contains(m, toks[0].as_bytes())),
        "DELE 1 + QUIT did not delete"
    );
    assert!(contains(&msgs[0], toks[1].as_bytes()) && contains(&msgs[1], toks[2].as_bytes()));
    let out = s.cli(&["--json", "user", "show", DEMO_USER]);
    assert!(
        out.out().contains("\"messages\":2"),
        "user show after delete: {}",
        out.describe()
    );
}

#[test]
fn uidl_stable_across_restart_and_never_reused() {
    let mut s = Server::start_default();
    let toks = deliver_n(&s, DEMO_USER, 3, "uidl");
    let mut p = s.pop3_login(DEMO_USER, DEMO_PASS);
    let before = p.uidl();
    p.quit();
    assert_eq!(before.len(), 3);
    let set: HashSet<_> = before.iter().map(|x| x.1.clone()).collect();
    assert_eq!(set.len(), 3, "UIDLs not unique: {before:?}");

    let st = s.stop_term();
    assert!(st.success(), "exit after SIGTERM: {st}");
    s.restart(false);

    let mut p = s.pop3_login(DEMO_USER, DEMO_PASS);
    let after = p.uidl();
    assert_eq!(before, after, "UIDLs changed across a restart");
    // Delete the middle one and add a new message.
    p.ok("DELE 2");
    assert!(p.quit().starts_with("+OK"));
    let newtok = deliver_n(&s, DEMO_USER, 1, "uidl-new").remove(0);
    let mut p = s.pop3_login(DEMO_USER, DEMO_PASS);
    let now = p.uidl();
    assert_eq!(now.len(), 3);
    assert_eq!(now[0].1, before[0].1);
    assert_eq!(now[1].1, before[2].1);
    assert!(
        !set.contains(&now[2].1),
        "the new message reuses an old UIDL {}: {now:?}",
        now[2].1
    );
    assert!(
        contains(&p.retr(3), newtok.as_bytes()),
        "new message not last"
    );
    assert!(contains(&p.retr(1), toks[0].as_bytes()));
    p.quit();
}

#[test]
fn curl_pop3_list_and_retr() {
    require_tool!("curl");
    let s = Server::start_default();
    let toks = deliver_n(&s, DEMO_USER, 2, "curl");
    let base = format!(
        "pop3://demo%40example.test:demo-pass@127.0.0.1:{}",
        s.pop3_port
    );
    let mut c = Command::new("curl");
    c.args(["-sS", "--max-time", "30", &format!("{base}/2")]);
    let out = run_cmd(&mut c, None, PY_TIMEOUT);
    out.assert_ok("curl pop3 RETR 2");
    assert!(
        out.out().contains(&toks[1]) && !out.out().contains(&toks[0]),
        "{}",
        out.describe()
    );
    assert!(
        out.out().contains("\r\n.dotted line\r\n"),
        "curl should see the unstuffed body: {}",
        out.describe()
    );

    let mut c = Command::new("curl");
    c.args(["-sS", "--max-time", "30", &format!("{base}/")]);
    let out = run_cmd(&mut c, None, PY_TIMEOUT);
    out.assert_ok("curl pop3 LIST");
    let text = out.out();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>();
    assert_eq!(lines.len(), 2, "LIST via curl: {}", out.describe());
    assert!(
        lines[0].starts_with("1 ") && lines[1].starts_with("2 "),
        "{}",
        out.describe()
    );

    let mut c = Command::new("curl");
    c.args([
        "-sS",
        "--max-time",
        "30",
        &format!("pop3://demo%40example.test:bad@127.0.0.1:{}/1", s.pop3_port),
    ]);
    let out = run_cmd(&mut c, None, PY_TIMEOUT);
    assert!(
        !out.status.success(),
        "curl with a wrong password succeeded: {}",
        out.describe()
    );
}

#[test]
fn mpop_fetches_and_empties_the_mailbox() {
    require_tool!("mpop");
    let s = Server::start_default();
    let toks = deliver_n(&s, DEMO_USER, 4, "mpop");
    let mbox = s.path("inbox.mbox");
    write_file(&mbox, b"");
    let rc = s.path("mpoprc");
    write_file(
        &rc,
        format!(
            "defaults\nuidls_file {uidls}\n\naccount default\nhost 127.0.0.1\nport {port}\ntls off\nauth user\nuser {DEMO_USER}\npassword {DEMO_PASS}\ndelivery mbox {mbox}\nkeep off\ntimeout 30\n",
            uidls = s.path("mpop_uidls").display(),
            port = s.pop3_port,
            mbox = mbox.display()
        )
        .as_bytes(),
    );
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let mut c = Command::new("mpop");
    c.arg("-C").arg(&rc).arg("-q").env("HOME", s.dir.path());
    let out = run_cmd(&mut c, None, PY_TIMEOUT);
    out.assert_ok("mpop");
    let got = std::fs::read(&mbox).unwrap();
    for t in &toks {
        assert_eq!(
            count(&got, t.as_bytes()),
            2,
            "mbox lacks (or duplicates) {t}:\n{}",
            String::from_utf8_lossy(&got)
        );
    }
    assert!(got.starts_with(b"From "), "not an mbox");
    let separators = got
        .split(|&b| b == b'\n')
        .filter(|l| l.starts_with(b"From "))
        .count();
    assert_eq!(separators, toks.len(), "one mbox entry per message");
    let mut p = s.pop3_login(DEMO_USER, DEMO_PASS);
    assert_eq!(p.stat().0, 0, "mpop with keep off must empty the mailbox");
    p.quit();
    // A second run finds nothing and succeeds.
    let out = run_cmd(&mut c, None, PY_TIMEOUT);
    out.assert_ok("mpop second run");
    assert_eq!(
        std::fs::read(&mbox).unwrap(),
        got,
        "second run delivered again"
    );
}
