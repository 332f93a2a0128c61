//! SMTP server hardening seen from the wire: the recipient state of a long
//! connection, recipient probing, trace headers, CHUNKING.

mod common;

use common::*;
use std::io::{BufRead, Write};
use std::time::Duration;

const PY_TIMEOUT: Duration = Duration::from_secs(120);

/// The server's resident memory in KiB (Linux).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/<pid>/status")
}

/// Pipelines `rounds` transactions of `per_round` distinct relayed
/// recipients, each ended by RSET, on one connection; returns how many
/// replies came back (a reader thread drains them so neither side blocks).
fn rcpt_rset_rounds(port: u16, first: usize, rounds: usize, per_round: usize) -> usize {
    let mut c = Smtp::connect(port);
    c.ehlo("client.test");
    let mut writer = c.r.get_ref().try_clone().unwrap();
    let expected = rounds * (per_round + 2);
    let reader = std::thread::spawn(move || {
        let mut n = 0;
        let mut line = String::new();
        while n < expected {
            line.clear();
            if c.r.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            assert!(
                line.starts_with("250"),
                "after {n} replies: {line:?} (a refusal or limit was hit)"
            );
            if line.as_bytes().get(3) == Some(&b' ') {
                n += 1;
            }
        }
        n
    });
    for round in first..first + rounds {
        let mut batch = String::from("MAIL FROM:<a@remote.test>\r\n");
        for i in 0..per_round {
            batch.push_str(&format!("RCPT TO:<u{round}-{i}@elsewhere.test>\r\n"));
        }
        batch.push_str("RSET\r\n");
        writer.write_all(batch.as_bytes()).unwrap();
    }
    let n = reader.join().unwrap();
    let _ = writer.write_all(b"QUIT\r\n");
    n
}

/// One connection sending a great many RCPTs with RSET between them keeps
/// one transaction's recipients at most: the server's memory stays flat.
/// (Before, every relayed recipient stayed until the connection closed:
/// ~200 bytes each, hundreds of MB for a busy client.)
#[test]
fn rcpt_with_rset_in_between_does_not_grow_the_server() {
    let s = Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            top: "trusted_networks = [\"127.0.0.0/8\"]".into(),
            ..ExtraConfig::default()
        },
    );
    // Warm up: allocator arenas, store caches, the connection's buffers.
    assert_eq!(rcpt_rset_rounds(s.smtp_port, 0, 100, 50), 100 * 52);
    let before = rss_kib(s.pid());
    let (rounds, per_round) = (1600, 50);
    assert_eq!(
        rcpt_rset_rounds(s.smtp_port, 100, rounds, per_round),
        rounds * (per_round + 2)
    );
    let after = rss_kib(s.pid());
    let grown = after.saturating_sub(before);
    assert!(
        grown < 6 * 1024,
        "{} recipients with RSET in between grew the server by {grown} KiB ({before} -> {after})",
        rounds * per_round
    );
}

/// A client probing for addresses gets `421` after `max_bad_commands`
/// refused recipients and the connection is closed, long before it has
/// tried a thousand.
#[test]
fn probing_unknown_users_gets_421_and_the_connection_closes() {
    let s = Server::start_with(ServerOpts {
        demo: true,
        limits: "max_bad_commands = 10".into(),
    });
    let script = r#"
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.ehlo("prober.test")
code, _ = s.mail("a@remote.test")
assert code == 250, code
codes = []
for i in range(1000):
    code, msg = s.rcpt("nobody%d@example.test" % i)
    codes.append(code)
    if code == 421:
        break
    assert code == 550, (i, code, msg)
assert codes[-1] == 421, "no 421 after %d refusals" % len(codes)
assert len(codes) == 11, "421 after %d refusals, max_bad_commands = 10" % len(codes)
try:
    s.noop()
    print("still open after 421")
    sys.exit(1)
except (smtplib.SMTPServerDisconnected, ConnectionError):
    pass
# The refusals cost that connection only: a new one is served.
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.ehlo("prober.test")
assert s.mail("a@remote.test")[0] == 250
assert s.rcpt("demo@example.test")[0] == 250
s.quit()
print("OK")
"#;
    let out = python(script, &[&s.smtp_port.to_string()], PY_TIMEOUT);
    assert_py_ok(&out, "probing unknown users");
}

/// The EHLO name is a claim: one shaped like trace fields of its own is not
/// written into `Received:` as such, and a UTF-8 name does not put UTF-8 into
/// the header of a message sent without SMTPUTF8 (its A-label is used).
#[test]
fn ehlo_names_cannot_forge_trace_fields_or_bring_utf8() {
    let s = Server::start_default();
    let script = r#"
import smtplib, poplib, sys
port, pop_port, user, password = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
forged = "trusted.example([10.1.2.3])by=mx.example.test;Mon,1Jan2001"
for name, subject in [(forged, "forged"), ("münchen.example", "idn")]:
    s = smtplib.SMTP("127.0.0.1", port, timeout=30)
    s.command_encoding = "utf-8"  # smtplib would refuse to send the UTF-8 name
    code, _ = s.ehlo(name)
    assert code == 250, code
    s.sendmail("a@remote.test", [user], "Subject: %s\r\n\r\nx\r\n" % subject)
    s.quit()

p = poplib.POP3("127.0.0.1", pop_port, timeout=30)
p.user(user)
p.pass_(password)
received = {}
for i in range(1, len(p.list()[1]) + 1):
    lines = p.retr(i)[1]
    head = b"\r\n".join(lines).split(b"\r\n\r\n")[0]
    unfolded = head.replace(b"\r\n\t", b" ").replace(b"\r\n ", b" ")
    fields = unfolded.split(b"\r\n")
    rec = [f for f in fields if f.startswith(b"Received:")]
    subj = [f for f in fields if f.startswith(b"Subject:")][0][9:].strip().decode()
    assert len(rec) == 1, rec
    received[subj] = rec[0]
p.quit()

r = received["forged"]
print(r)
assert r.count(b";") == 1, "the client's ';' made a date of its own: %r" % r
assert b"([10.1.2.3])" not in r, r
assert r.startswith(b"Received: from [127.0.0.1] (helo="), r
r = received["idn"]
print(r)
r.decode("ascii")  # raises if the name came through as UTF-8
assert r.startswith(b"Received: from xn--mnchen-3ya.example ([127.0.0.1])"), r
print("OK")
"#;
    let out = python(
        script,
        &[
            &s.smtp_port.to_string(),
            &s.pop3_port.to_string(),
            DEMO_USER,
            DEMO_PASS,
        ],
        PY_TIMEOUT,
    );
    assert_py_ok(&out, "EHLO names in Received:");
}
