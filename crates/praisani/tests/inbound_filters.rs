//! The filters on other servers on the real binary, with smtplib and
//! poplib: DNS blocklists and allowlists (against the test DNS server,
//! which lists 127.0.0.1), greylisting, and the spam filter (a real
//! rspamd on loopback).

mod common;

use common::*;
use praisani_testdns::{TestDns, Zone};
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PY_TIMEOUT: Duration = Duration::from_secs(60);

/// 127.0.0.1 is on bl.test (with a reason) and on wl.test; slow.test
/// never answers for it. 127.0.0.2 is on bl.test.
fn zone() -> Zone {
    Zone::new()
        .a("1.0.0.127.bl.test", "127.0.0.2")
        .txt(
            "1.0.0.127.bl.test",
            "Listed for testing, see https://bl.test/q",
        )
        .a("1.0.0.127.wl.test", "127.0.10.1")
        .silent("1.0.0.127.slow.test")
        .a("2.0.0.127.bl.test", "127.0.0.2")
}

/// A server (trust checks off) asking `dns`, with `tables` added.
fn server(dns: &TestDns, tables: &str) -> Server {
    Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tables: format!("[delivery]\nnameservers = [\"{}\"]\n{tables}", dns.addr),
            ..ExtraConfig::default()
        },
    )
}

/// One smtplib transaction: the replies to RCPT for each of `rcpts`, and
/// to the end of data when some were accepted (`message` given), as
/// `[code, text]` pairs; or `{"connect": [code, text]}` when the greeting
/// refused.
fn dialogue(s: &Server, rcpts: &[&str], message: Option<&str>) -> Value {
    dialogue_from(s, "127.0.0.1", rcpts, message)
}

/// `dialogue` from the loopback address `source`.
fn dialogue_from(s: &Server, source: &str, rcpts: &[&str], message: Option<&str>) -> Value {
    let out = python(
        r#"
import smtplib, sys, json
port, source, message = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rcpts = sys.argv[4:]
try:
    c = smtplib.SMTP('127.0.0.1', port, local_hostname='client.test', timeout=30,
                     source_address=(source, 0))
except smtplib.SMTPConnectError as e:
    print(json.dumps({"connect": [e.smtp_code, e.smtp_error.decode()]}))
    sys.exit(0)
c.ehlo()
c.mail('sender@sender.test')
out = {"rcpt": []}
ok = False
for r in rcpts:
    code, text = c.rcpt(r)
    out["rcpt"].append([code, text.decode()])
    ok = ok or code == 250
if ok and message:
    try:
        code, text = c.data(message.encode())
        out["data"] = [code, text.decode()]
    except smtplib.SMTPDataError as e:
        out["data"] = [e.smtp_code, e.smtp_error.decode()]
c.quit()
print(json.dumps(out))
"#,
        &[
            &[
                s.smtp_port.to_string().as_str(),
                source,
                message.unwrap_or(""),
            ],
            rcpts,
        ]
        .concat(),
        PY_TIMEOUT,
    );
    assert!(
        out.status.success(),
        "smtplib: {}\n{}",
        out.describe(),
        s.log()
    );
    serde_json::from_str(out.out().trim()).unwrap()
}

/// The RCPT reply for the `i`th recipient: (code, text).
fn rcpt(v: &Value, i: usize) -> (u64, String) {
    let r = &v["rcpt"][i];
    (r[0].as_u64().unwrap(), r[1].as_str().unwrap().to_string())
}

/// The number of messages in the demo mailbox (POP3 STAT, poplib).
fn stat(s: &Server) -> u64 {
    let out = python(
        r#"
import poplib, sys
p = poplib.POP3('127.0.0.1', int(sys.argv[1]), timeout=30)
p.user(sys.argv[2]); p.pass_(sys.argv[3])
print(p.stat()[0])
p.quit()
"#,
        &[&s.pop3_port.to_string(), DEMO_USER, DEMO_PASS],
        PY_TIMEOUT,
    );
    assert!(out.status.success(), "poplib: {}", out.describe());
    out.out().trim().parse().unwrap()
}

const CLEAN: &str = "From: <sender@sender.test>\r\nTo: <demo@example.test>\r\n\
    Subject: Hello\r\nDate: Thu, 03 Dec 2026 07:00:00 +0000\r\n\
    Message-ID: <hello@sender.test>\r\n\r\nHello there, see you at lunch.\r\n";

#[test]
fn a_listed_client_is_refused_at_rcpt_but_reaches_postmaster() {
    if !have_tool("python3", module_path!()) {
        return;
    }
    let dns = TestDns::start(zone());
    let s = server(
        &dns,
        "[dnsbl]\nblocklists = [\"bl.test\"]\ncheck_loopback = true\ntimeout = \"2s\"\n",
    );
    let v = dialogue(
        &s,
        &[DEMO_USER, "postmaster@example.test", "<postmaster>"],
        Some(CLEAN),
    );
    let (code, text) = rcpt(&v, 0);
    assert_eq!(code, 554, "{v}");
    assert!(
        text.contains("5.7.1") && text.contains("blocked using bl.test: Listed for testing"),
        "{v}"
    );
    assert_eq!(rcpt(&v, 1).0, 250, "{v}");
    assert_eq!(v["data"][0], 250, "{v}");
    // The postmaster copy went to the demo mailbox (the configured postmaster).
    assert_eq!(stat(&s), 1);
}

#[test]
fn allowlisted_clients_pass_and_silent_lists_do_not_block() {
    if !have_tool("python3", module_path!()) {
        return;
    }
    let dns = TestDns::start(zone());
    for dnsbl in [
        // The client's network is allowlisted.
        "blocklists = [\"bl.test\"]\ncheck_loopback = true\nallow_clients = [\"127.0.0.0/8\"]\n",
        // A DNS allowlist lists it.
        "blocklists = [\"bl.test\"]\ncheck_loopback = true\nallowlists = [\"wl.test\"]\n",
        // The only list never answers.
        "blocklists = [\"slow.test\"]\ncheck_loopback = true\ntimeout = \"1s\"\n",
        // Loopback clients are not looked up by default.
        "blocklists = [\"bl.test\"]\n",
    ] {
        let s = server(&dns, &format!("[dnsbl]\n{dnsbl}"));
        let v = dialogue(&s, &[DEMO_USER], Some(CLEAN));
        assert_eq!(rcpt(&v, 0).0, 250, "{dnsbl}: {v}");
        assert_eq!(v["data"][0], 250, "{dnsbl}: {v}");
    }
}

#[test]
fn trusted_networks_are_not_filtered() {
    if !have_tool("python3", module_path!()) {
        return;
    }
    let dns = TestDns::start(zone());
    let s = Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            top: "trusted_networks = [\"127.0.0.0/8\"]\n".into(),
            tables: format!(
                "[delivery]\nnameservers = [\"{}\"]\n\
                 [dnsbl]\nblocklists = [\"bl.test\"]\ncheck_loopback = true\n\
                 [greylist]\nenabled = true\n",
                dns.addr
            ),
            ..ExtraConfig::default()
        },
    );
    let v = dialogue(&s, &[DEMO_USER], Some(CLEAN));
    assert_eq!(rcpt(&v, 0).0, 250, "{v}");
    assert_eq!(v["data"][0], 250, "{v}");
}

#[test]
fn a_listed_client_can_be_refused_at_connection_time() {
    if !have_tool("python3", module_path!()) {
        return;
    }
    let dns = TestDns::start(zone());
    let s = server(
        &dns,
        // 127.0.0.1 (the harness's readiness probe) is allowlisted;
        // the client comes from 127.0.0.2.
        "[dnsbl]\nblocklists = [\"bl.test\"]\ncheck_loopback = true\ncheck_at = \"connect\"\n\
         allow_clients = [\"127.0.0.1\"]\n",
    );
    let v = dialogue_from(&s, "127.0.0.2", &[DEMO_USER], Some(CLEAN));
    assert_eq!(v["connect"][0], 554, "{v}");
    assert!(v["connect"][1].as_str().unwrap().contains("bl.test"), "{v}");
    let v = dialogue(&s, &[DEMO_USER], Some(CLEAN));
    assert_eq!(v["data"][0], 250, "{v}");

    // RFC 5321 section 3.1: after a 554 greeting the server waits for QUIT
    // and answers 503 to anything else.
    let out = python(
        r#"
import socket, sys
c = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=10,
                             source_address=('127.0.0.2', 0))
f = c.makefile('rb')
print(f.readline().decode().strip())
for line in (b'EHLO client.test', b'MAIL FROM:<a@sender.test>', b'QUIT'):
    c.sendall(line + b'\r\n')
    print(f.readline().decode().strip())
print('closed' if f.readline() == b'' else 'open')
print('OK')
"#,
        &[&s.smtp_port.to_string()],
        Duration::from_secs(30),
    );
    assert_py_ok(&out, "raw dialogue after a 554 greeting");
    let text = out.out();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("554 5.7.1 "), "{lines:?}");
    assert!(lines[1].starts_with("503 5.5.1 "), "{lines:?}");
    assert!(lines[2].starts_with("503 5.5.1 "), "{lines:?}");
    assert!(lines[3].starts_with("221 2.0.0 "), "{lines:?}");
    assert_eq!(lines[4], "closed", "{lines:?}");
}

#[test]
fn greylisting_defers_first_attempts_of_known_recipients_only() {
    if !have_tool("python3", module_path!()) {
        return;
    }
    let dns = TestDns::start(zone());
    let s = server(&dns, "[greylist]\nenabled = true\ndelay = \"2s\"\n");
    // An unknown user is refused for good, never greylisted.
    let v = dialogue(&s, &["nobody@example.test"], None);
    assert_eq!(rcpt(&v, 0).0, 550, "{v}");
    let v = dialogue(&s, &[DEMO_USER, "postmaster@example.test"], None);
    let (code, text) = rcpt(&v, 0);
    assert_eq!(code, 451, "{v}");
    assert!(text.contains("4.7.1") && text.contains("Greylisted"), "{v}");
    // Postmaster is never greylisted.
    assert_eq!(rcpt(&v, 1).0, 250, "{v}");
    // Retrying at once is still too early.
    let v = dialogue(&s, &[DEMO_USER], None);
    assert_eq!(rcpt(&v, 0).0, 451, "{v}");
    std::thread::sleep(Duration::from_millis(2200));
    let v = dialogue(&s, &[DEMO_USER], Some(CLEAN));
    assert_eq!(rcpt(&v, 0).0, 250, "{v}");
    assert_eq!(v["data"][0], 250, "{v}");
    assert_eq!(stat(&s), 1);
}

/// Clients a list vouches for are not greylisted: the configured client
/// allowlist and a DNS allowlist both let the first attempt through.
#[test]
fn allowlisted_clients_are_not_greylisted() {
    if !have_tool("python3", module_path!()) {
        return;
    }
    let dns = TestDns::start(zone());
    for dnsbl in [
        "blocklists = [\"bl.test\"]\ncheck_loopback = true\nallow_clients = [\"127.0.0.0/8\"]\n",
        "blocklists = [\"bl.test\"]\ncheck_loopback = true\nallowlists = [\"wl.test\"]\n",
    ] {
        let s = server(
            &dns,
            &format!("[greylist]\nenabled = true\n[dnsbl]\n{dnsbl}"),
        );
        let v = dialogue(&s, &[DEMO_USER], Some(CLEAN));
        assert_eq!(rcpt(&v, 0).0, 250, "{dnsbl}: {v}");
        assert_eq!(v["data"][0], 250, "{dnsbl}: {v}");
    }
    // Without an allowlist the same first attempt is greylisted.
    let s = server(&dns, "[greylist]\nenabled = true\n");
    let v = dialogue(&s, &[DEMO_USER], None);
    assert_eq!(rcpt(&v, 0).0, 451, "{v}");
}

#[test]
fn greylisting_is_off_by_default() {
    if !have_tool("python3", module_path!()) {
        return;
    }
    let dns = TestDns::start(zone());
    let s = server(&dns, "");
    let v = dialogue(&s, &[DEMO_USER], Some(CLEAN));
    assert_eq!(rcpt(&v, 0).0, 250, "{v}");
}

const GTUBE: &str = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

/// An rspamd of the test's own on a loopback port (the harness of
/// crates/mailhost/tests/rspamd.rs), stopped when dropped.
struct Rspamd {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for Rspamd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

/// rspamd started with its network rules off, or `None` (skipped) when
/// it is not installed.
fn rspamd() -> Option<Rspamd> {
    if Command::new("rspamd").arg("--version").output().is_err() {
        assert!(
            std::env::var("PRAISANI_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "rspamd is not installed (apt-get install rspamd)"
        );
        eprintln!("skipped: rspamd is not installed");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("conf/local.d");
    std::fs::create_dir_all(&local).unwrap();
    std::fs::create_dir_all(dir.path().join("conf/override.d")).unwrap();
    for sub in ["db", "run", "log"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
    }
    let addr = format!("127.0.0.1:{}", free_port());
    write(
        &local.join("worker-normal.inc"),
        &format!("bind_socket = \"{addr}\";\ncount = 1;\n"),
    );
    write(
        &local.join("worker-controller.inc"),
        &format!("bind_socket = \"127.0.0.1:{}\";\ncount = 1;\n", free_port()),
    );
    write(&local.join("worker-proxy.inc"), "enabled = false;\n");
    write(&local.join("worker-fuzzy.inc"), "enabled = false;\n");
    write(
        &local.join("logging.inc"),
        &format!(
            "type = \"file\";\nfilename = \"{}\";\nlevel = \"info\";\n",
            dir.path().join("log/rspamd.log").display()
        ),
    );
    write(
        &local.join("options.inc"),
        "dns { nameserver = [\"127.0.0.1:9\"]; timeout = 1s; retransmits = 1; }\n",
    );
    for module in [
        "hfilter", "rbl", "asn", "dmarc", "spf", "dkim", "arc", "mx_check",
    ] {
        write(&local.join(format!("{module}.conf")), "enabled = false;\n");
    }
    let var = |name: &str, sub: &str| format!("--var={name}={}", dir.path().join(sub).display());
    let child = Command::new("rspamd")
        .args([
            "-f",
            "-i",
            "-u",
            "root",
            "-g",
            "root",
            "-c",
            "/etc/rspamd/rspamd.conf",
        ])
        .arg(var("LOCAL_CONFDIR", "conf"))
        .arg(var("DBDIR", "db"))
        .arg(var("RUNDIR", "run"))
        .arg(var("LOGDIR", "log"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start rspamd");
    let r = Rspamd {
        child,
        addr,
        _dir: dir,
    };
    let started = Instant::now();
    loop {
        let ping = Command::new("curl")
            .args(["-s", "-m", "1", &format!("http://{}/ping", r.addr)])
            .output();
        if ping.is_ok_and(|o| o.stdout.starts_with(b"pong")) {
            return Some(r);
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "rspamd did not answer on {}",
            r.addr
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Every message of the demo mailbox, read with poplib (and left there).
fn poplib_messages(s: &Server) -> Vec<String> {
    let out = python(
        r#"
import poplib, sys, json
p = poplib.POP3('127.0.0.1', int(sys.argv[1]), timeout=30)
p.user(sys.argv[2]); p.pass_(sys.argv[3])
n, _ = p.stat()
msgs = [b'\r\n'.join(p.retr(i + 1)[1]).decode('utf-8', 'replace') for i in range(n)]
p.quit()
print(json.dumps(msgs))
"#,
        &[&s.pop3_port.to_string(), DEMO_USER, DEMO_PASS],
        PY_TIMEOUT,
    );
    assert!(out.status.success(), "poplib: {}", out.describe());
    serde_json::from_str(out.out().trim()).unwrap()
}

/// The values of the header fields named `name` of `message`, unfolded.
fn fields(message: &str, name: &str) -> Vec<String> {
    let header = message.split("\r\n\r\n").next().unwrap();
    let mut out: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    for line in header.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(c) = &mut current {
                c.push_str(line);
            }
            continue;
        }
        out.extend(current.take());
        if let Some((n, v)) = line.split_once(':')
            && n.eq_ignore_ascii_case(name)
        {
            current = Some(v.trim().to_string());
        }
    }
    out.extend(current);
    out
}

/// A server (trust checks off) filtering with rspamd at `addr`.
fn spam_server(addr: &str, spam: &str) -> Server {
    Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tables: format!("[spam]\nrspamd = \"{addr}\"\ntimeout = \"20s\"\n{spam}"),
            ..ExtraConfig::default()
        },
    )
}

#[test]
fn rspamd_refuses_gtube_and_marks_clean_mail() {
    if !have_tool("python3", module_path!()) || !have_tool("curl", module_path!()) {
        return;
    }
    let Some(r) = rspamd() else { return };
    let s = spam_server(&r.addr, "");
    let gtube = CLEAN.replace("Hello there, see you at lunch.", GTUBE);
    let v = dialogue(&s, &[DEMO_USER], Some(&gtube));
    assert_eq!(v["data"][0], 550, "{v}");
    assert!(v["data"][1].as_str().unwrap().contains("5.7.1"), "{v}");
    assert_eq!(stat(&s), 0, "nothing stored");
    // The sender's own marks do not survive: only ours are stored.
    let forged = format!("X-Spam-Flag: YES\r\nX-Spam-Status: Yes, forged\r\n{CLEAN}");
    let v = dialogue(&s, &[DEMO_USER], Some(&forged));
    assert_eq!(v["data"][0], 250, "{v}\n{}", s.log());
    let msgs = poplib_messages(&s);
    assert_eq!(msgs.len(), 1);
    let status = fields(&msgs[0], "X-Spam-Status");
    assert_eq!(status.len(), 1, "{}", msgs[0]);
    assert!(status[0].starts_with("No, score="), "{}", msgs[0]);
    assert!(fields(&msgs[0], "X-Spam-Flag").is_empty(), "{}", msgs[0]);
    assert_eq!(fields(&msgs[0], "X-Spam-Score").len(), 1, "{}", msgs[0]);
}

#[test]
fn rspamd_down_follows_on_failure() {
    if !have_tool("python3", module_path!()) {
        return;
    }
    // Nothing listens there: rspamd is stopped.
    let down = format!("127.0.0.1:{}", free_port());
    let s = spam_server(&down, "");
    let v = dialogue(&s, &[DEMO_USER], Some(CLEAN));
    assert_eq!(v["data"][0], 250, "{v}");
    let msgs = poplib_messages(&s);
    assert_eq!(msgs.len(), 1);
    assert!(fields(&msgs[0], "X-Spam-Status").is_empty(), "{}", msgs[0]);
    drop(s);
    let s = spam_server(&down, "on_failure = \"tempfail\"\n");
    let v = dialogue(&s, &[DEMO_USER], Some(CLEAN));
    assert_eq!(v["data"][0], 451, "{v}");
    assert!(v["data"][1].as_str().unwrap().contains("4.7.1"), "{v}");
    assert_eq!(stat(&s), 0);
}

#[test]
fn trust_marks_and_rspamd_headers_are_stored_together() {
    if !have_tool("python3", module_path!()) || !have_tool("curl", module_path!()) {
        return;
    }
    let Some(r) = rspamd() else { return };
    // sender.test's SPF (-all) does not list 127.0.0.1: marked by the
    // trust policy (spf_fail = "mark"), while rspamd finds it clean.
    let dns = TestDns::start(Zone::new().txt("sender.test", "v=spf1 ip4:192.0.2.1 -all"));
    let s = Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tables: format!(
                "[delivery]\nnameservers = [\"{}\"]\n\
                 [trust]\nenabled = true\ndns_timeout = \"1s\"\ncheck_timeout = \"2s\"\n\
                 subject_tag = \"[SPAM]\"\n\
                 [spam]\nrspamd = \"{}\"\ntimeout = \"20s\"\n",
                dns.addr, r.addr
            ),
            ..ExtraConfig::default()
        },
    );
    let v = dialogue(&s, &[DEMO_USER], Some(CLEAN));
    assert_eq!(v["data"][0], 250, "{v}\n{}", s.log());
    let msgs = poplib_messages(&s);
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(fields(m, "X-Spam-Flag"), ["YES"], "{m}");
    let status = fields(m, "X-Spam-Status");
    assert_eq!(status.len(), 1, "{m}");
    assert!(status[0].starts_with("Yes"), "{m}");
    assert_eq!(fields(m, "X-Spam-Score").len(), 1, "{m}");
    assert_eq!(fields(m, "Subject"), ["[SPAM] Hello"], "{m}");
    assert!(
        fields(m, "Authentication-Results")[0].contains("spf=fail"),
        "{m}"
    );
}
