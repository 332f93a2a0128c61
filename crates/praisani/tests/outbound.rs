//! Outbound delivery end to end: a second praisani plays the remote server
//! (reached through a static route), and the first one delivers to it,
//! retries what fails temporarily and bounces what fails for good.

mod common;

use common::*;
use std::time::{Duration, Instant};

/// The remote side: hosts remote.test with one mailbox.
fn remote() -> Server {
    let b = Server::start_default();
    b.add_domain("remote.test");
    b.add_user("r@remote.test", "rpw", &[]);
    b
}

/// The sending side, routing remote.test to `b` and down.test to a port
/// nobody listens on.
fn sender(b: &Server, closed_port: u16) -> Server {
    Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tls_listeners: true,
            tables: format!(
                "[delivery]\nretry = [\"1h\"]\nroutes = {{ \"remote.test\" = \"127.0.0.1:{}\", \"down.test\" = \"127.0.0.1:{closed_port}\" }}\n",
                b.smtp_port
            ),
            ..ExtraConfig::default()
        },
    )
}

#[test]
fn delivers_to_the_remote_server() {
    let b = remote();
    let a = sender(&b, free_port());
    submit(&a, DEMO_USER, "r@remote.test", "outbound-1");
    let msgs = wait_for("the message at the remote server", 20, || {
        let m = b.fetch_all("r@remote.test", "rpw");
        (!m.is_empty()).then_some(m)
    });
    assert_eq!(msgs.len(), 1, "delivered more than once");
    let text = String::from_utf8_lossy(&msgs[0]);
    assert!(text.contains("Subject: outbound-1"), "{text}");
    assert!(text.contains("Return-Path: <demo@example.test>"), "{text}");
    // Two Received headers: the sender's (ESMTPSA) and the remote's.
    assert_eq!(text.matches("Received: ").count(), 2, "{text}");
    wait_for("the queue to empty", 10, || {
        (queue_json(&a).trim() == "[]").then_some(())
    });
}

#[test]
fn permanent_failure_bounces_to_the_sender() {
    let b = remote();
    let a = sender(&b, free_port());
    submit(&a, DEMO_USER, "nobody@remote.test", "doomed");
    let bounce = wait_for("the bounce in the sender's mailbox", 20, || {
        a.fetch_all(DEMO_USER, DEMO_PASS)
            .into_iter()
            .find(|m| contains(m, b"multipart/report"))
    });
    let text = String::from_utf8_lossy(&bounce);
    assert!(text.contains("Return-Path: <>"), "{text}");
    assert!(text.contains("report-type=delivery-status"), "{text}");
    assert!(
        text.contains("Final-Recipient: rfc822;nobody@remote.test"),
        "{text}"
    );
    assert!(text.contains("Action: failed"), "{text}");
    assert!(text.contains("Status: 5.1.1"), "{text}");
    assert!(
        text.contains("Subject: doomed"),
        "the returned message is missing: {text}"
    );
    wait_for("the queue to empty", 10, || {
        (queue_json(&a).trim() == "[]").then_some(())
    });
    assert!(b.fetch_all("r@remote.test", "rpw").is_empty());
}

#[test]
fn temporary_failure_stays_queued_without_a_bounce() {
    let b = remote();
    let a = sender(&b, free_port());
    submit(&a, DEMO_USER, "x@down.test", "later");
    let listed = wait_for("a recorded attempt", 20, || {
        let q = queue_json(&a);
        q.contains("\"attempts\":1").then_some(q)
    });
    assert!(listed.contains("\"state\":\"pending\""), "{listed}");
    assert!(listed.contains("x@down.test"), "{listed}");
    assert!(listed.contains("last_error"), "{listed}");
    let shown = a.cli(&["queue", "list"]);
    assert!(shown.out().contains("last error:"), "{}", shown.describe());
    // No bounce for a temporary failure.
    assert!(a.fetch_all(DEMO_USER, DEMO_PASS).is_empty());
}

#[test]
fn the_null_sender_is_never_bounced_to() {
    let b = remote();
    let a = sender(&b, free_port());
    submit(&a, "", "nobody@remote.test", "null sender");
    wait_for("the failed message to leave the queue", 20, || {
        (queue_json(&a).trim() == "[]").then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        a.fetch_all(DEMO_USER, DEMO_PASS).is_empty(),
        "a bounce went somewhere"
    );
    assert!(b.fetch_all("r@remote.test", "rpw").is_empty());
}

/// Messages queued (after a failed attempt, so with leases taken and
/// results recorded) survive kill -9; after a restart with the route fixed
/// every one is delivered exactly once and the queue empties.
#[test]
fn queued_mail_survives_kill_9() {
    let b = remote();
    let closed = free_port();
    let mut a = sender(&b, closed);
    // remote.test first leads nowhere: route it to the closed port.
    let broken = a.config_text().replace(
        &format!("127.0.0.1:{}\"", b.smtp_port),
        &format!("127.0.0.1:{closed}\""),
    );
    std::fs::write(&a.config_path, broken).expect("write config");
    a.stop_term();
    a.start();
    for i in 0..5 {
        submit(&a, DEMO_USER, "r@remote.test", &format!("survivor-{i}"));
    }
    wait_for("the first failed attempts", 20, || {
        (queue_json(&a).matches("\"attempts\":1").count() == 5).then_some(())
    });
    a.kill9();
    // Fix the route and start again on the same data.
    let fixed = a.config_text().replace(
        &format!("\"remote.test\" = \"127.0.0.1:{closed}\""),
        &format!("\"remote.test\" = \"127.0.0.1:{}\"", b.smtp_port),
    );
    assert!(
        fixed.contains(&format!("127.0.0.1:{}", b.smtp_port)),
        "{fixed}"
    );
    std::fs::write(&a.config_path, fixed).expect("write config");
    a.start();
    assert_eq!(
        queue_json(&a).matches("survivor").count(),
        0,
        "queue json has no subjects"
    );
    assert_eq!(queue_json(&a).matches("r@remote.test").count(), 5);
    a.cli(&["queue", "flush"]).assert_ok("queue flush");
    wait_for("all five at the remote server", 30, || {
        (b.fetch_all("r@remote.test", "rpw").len() >= 5).then_some(())
    });
    // A moment more, so a duplicate in flight would have arrived too.
    std::thread::sleep(Duration::from_millis(500));
    let msgs = b.fetch_all("r@remote.test", "rpw");
    for i in 0..5 {
        let subject = format!("Subject: survivor-{i}\r\n");
        let n = msgs
            .iter()
            .filter(|m| contains(m, subject.as_bytes()))
            .count();
        assert_eq!(n, 1, "survivor-{i} delivered {n} times");
    }
    wait_for("the queue to empty", 10, || {
        (queue_json(&a).trim() == "[]").then_some(())
    });
}

/// A recipient still undelivered after `delay_notice` gets exactly one
/// "delayed" notice; the message stays queued.
#[test]
fn one_delay_notice_for_a_long_temporary_failure() {
    let b = remote();
    let closed = free_port();
    let a = Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tls_listeners: true,
            tables: format!(
                "[delivery]\nretry = [\"1s\"]\ndelay_notice = \"1s\"\nroutes = {{ \"remote.test\" = \"127.0.0.1:{closed}\" }}\n"
            ),
            ..ExtraConfig::default()
        },
    );
    let _ = &b;
    submit(&a, DEMO_USER, "r@remote.test", "slow going");
    let notice = wait_for("the delay notice", 20, || {
        a.fetch_all(DEMO_USER, DEMO_PASS)
            .into_iter()
            .find(|m| contains(m, b"Action: delayed"))
    });
    let text = String::from_utf8_lossy(&notice);
    assert!(
        text.contains("Final-Recipient: rfc822;r@remote.test"),
        "{text}"
    );
    assert!(text.contains("Will-Retry-Until: "), "{text}");
    assert!(text.contains("Status: 4."), "{text}");
    // More attempts follow (every second), but no second notice.
    std::thread::sleep(Duration::from_secs(3));
    let notices = a
        .fetch_all(DEMO_USER, DEMO_PASS)
        .iter()
        .filter(|m| contains(m, b"Action: delayed"))
        .count();
    assert_eq!(notices, 1);
    assert!(queue_json(&a).contains("\"state\":\"pending\""));
}

/// Submits with DSN parameters on MAIL and RCPT (RFC 3461).
fn submit_dsn(a: &Server, mail_params: &str, to: &str, rcpt_params: &str, subject: &str) {
    let mut c = a.submission();
    let ehlo = c.ehlo("client.test");
    assert!(
        ehlo.lines.iter().any(|l| l.ends_with("DSN")),
        "no DSN in EHLO: {ehlo}"
    );
    c.expect(
        &format!("AUTH PLAIN {}", plain_b64(DEMO_USER, DEMO_PASS)),
        235,
    );
    c.expect(&format!("MAIL FROM:<{DEMO_USER}> {mail_params}"), 250);
    c.expect(&format!("RCPT TO:<{to}> {rcpt_params}"), 250);
    c.expect("DATA", 354);
    let msg = simple_message(DEMO_USER, to, subject, "with dsn");
    let mut data = dot_stuff(&msg);
    data.extend_from_slice(b".\r\n");
    c.send_raw(&data).unwrap();
    assert_eq!(c.reply().unwrap().code, 250);
    c.quit();
}

#[test]
fn dsn_parameters_are_honoured() {
    let b = remote();
    let a = sender(&b, free_port());
    // NOTIFY=NEVER: a failure is not reported.
    submit_dsn(
        &a,
        "",
        "nobody@remote.test",
        "NOTIFY=NEVER",
        "quiet failure",
    );
    // NOTIFY=SUCCESS: a success is reported.
    submit_dsn(
        &a,
        "ENVID=env+2B1",
        "r@remote.test",
        "NOTIFY=SUCCESS ORCPT=rfc822;R@remote.test",
        "tell me",
    );
    // RET=HDRS, ORCPT kept: the failure report returns headers only.
    submit_dsn(
        &a,
        "RET=HDRS",
        "ghost@remote.test",
        "NOTIFY=FAILURE ORCPT=rfc822;Ghost@remote.test",
        "headers only",
    );
    let reports = wait_for("two reports", 20, || {
        let m: Vec<_> = a
            .fetch_all(DEMO_USER, DEMO_PASS)
            .into_iter()
            .filter(|m| contains(m, b"multipart/report"))
            .collect();
        (m.len() >= 2).then_some(m)
    });
    wait_for("the queue to empty", 10, || {
        (queue_json(&a).trim() == "[]").then_some(())
    });
    std::thread::sleep(Duration::from_millis(300));
    let all = a.fetch_all(DEMO_USER, DEMO_PASS);
    assert_eq!(
        all.iter()
            .filter(|m| contains(m, b"multipart/report"))
            .count(),
        2,
        "NOTIFY=NEVER was reported"
    );
    let text: Vec<String> = reports
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect();
    let success = text
        .iter()
        .find(|t| t.contains("Action: delivered"))
        .expect("success report");
    // ENVID=env+2B1 is xtext for "env+1": the report carries it decoded.
    assert!(
        success.contains("Original-Envelope-Id: env+1\r\n"),
        "{success}"
    );
    assert!(
        success.contains("Original-Recipient: rfc822;R@remote.test"),
        "{success}"
    );
    let failure = text
        .iter()
        .find(|t| t.contains("Action: failed"))
        .expect("failure report");
    assert!(
        failure.contains("Original-Recipient: rfc822;Ghost@remote.test"),
        "{failure}"
    );
    assert!(
        failure.contains("rfc822-headers"),
        "RET=HDRS not honoured: {failure}"
    );
    assert!(
        !failure.contains("with dsn"),
        "body returned despite RET=HDRS: {failure}"
    );
    assert!(!text.iter().any(|t| t.contains("nobody@remote.test")));
}

/// Mail from a domain with DKIM keys leaves signed (RSA and Ed25519), and
/// an independent verifier (dkimpy) accepts both signatures as received by
/// the remote server.
#[test]
fn outbound_mail_is_dkim_signed() {
    if !have_tool("python3", "outbound_mail_is_dkim_signed") {
        return;
    }
    let probe = python("import dkim, nacl", &[], Duration::from_secs(20));
    if probe.code() != Some(0) {
        assert!(
            std::env::var("PRAISANI_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "dkimpy/pynacl missing but PRAISANI_REQUIRE_TOOLS=1"
        );
        eprintln!("SKIPPED: dkimpy not installed (outbound_mail_is_dkim_signed)");
        return;
    }
    let b = remote();
    let a = sender(&b, free_port());
    let mut records = Vec::new();
    for alg in ["rsa", "ed25519"] {
        let out = a.cli(&[
            "--json",
            "dkim",
            "generate",
            "example.test",
            "--algorithm",
            alg,
            "--selector",
            alg,
        ]);
        out.assert_ok("dkim generate");
        records.push(out.out());
    }
    submit(&a, DEMO_USER, "r@remote.test", "signed");
    let msg = wait_for("the signed message", 20, || {
        b.fetch_all("r@remote.test", "rpw").into_iter().next()
    });
    assert_eq!(
        String::from_utf8_lossy(&msg)
            .matches("DKIM-Signature:")
            .count(),
        2
    );
    let path = b.path("signed.eml");
    std::fs::write(&path, &msg).expect("write message");
    let script = r#"
import dkim, json, sys
msg = open(sys.argv[1], 'rb').read()
txt = {}
for line in sys.argv[2:]:
    r = json.loads(line)['record']
    txt[(r['name'].rstrip('.') + '.').encode()] = r['value'].encode()
def dns(name, timeout=5):
    return txt.get(name if name.endswith(b'.') else name + b'.')
d = dkim.DKIM(msg)
ok = [d.verify(idx=i, dnsfunc=dns) for i in range(2)]
print(ok)
assert all(ok), ok
"#;
    let mut args = vec![path.to_str().unwrap()];
    args.extend(records.iter().map(|s| s.trim()));
    let out = python(script, &args, Duration::from_secs(30));
    assert_eq!(out.code(), Some(0), "dkimpy: {}", out.describe());
}

/// Routing through DNS: a local DNS server answers MX remote.test →
/// mx.remote.test → 127.0.0.1 (the remote praisani), and null MX for
/// nullmx.test (RFC 7505), which bounces at once with 5.1.10.
#[test]
fn mx_routing_through_a_dns_server_and_null_mx() {
    use praisani_testdns::{TestDns, Zone};
    let b = remote();
    let dns = TestDns::start(
        Zone::new()
            .mx("remote.test", 10, "mx.remote.test")
            .a("mx.remote.test", "127.0.0.1")
            .mx("nullmx.test", 0, "."),
    );
    let a = Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tls_listeners: true,
            // The test's MX is on loopback, which is refused by default.
            tables: format!(
                "[delivery]\nnameservers = [\"{}\"]\nsmtp_port = {}\nallow_internal_mx = true\n",
                dns.addr, b.smtp_port
            ),
            ..ExtraConfig::default()
        },
    );
    submit(&a, DEMO_USER, "r@remote.test", "via mx");
    let msgs = wait_for("the message routed by MX", 20, || {
        let m = b.fetch_all("r@remote.test", "rpw");
        (!m.is_empty()).then_some(m)
    });
    assert!(contains(&msgs[0], b"Subject: via mx"));
    submit(&a, DEMO_USER, "x@nullmx.test", "null mx");
    let bounce = wait_for("the null MX bounce", 20, || {
        a.fetch_all(DEMO_USER, DEMO_PASS)
            .into_iter()
            .find(|m| contains(m, b"multipart/report"))
    });
    let text = String::from_utf8_lossy(&bounce);
    assert!(text.contains("Status: 5.1.10"), "{text}");
    assert!(
        text.contains("Final-Recipient: rfc822;x@nullmx.test"),
        "{text}"
    );
    let asked = dns.queries();
    assert!(asked.iter().any(|(n, _)| n == "remote.test"), "{asked:?}");
}

/// An MX record pointing into our own network (here loopback, where a
/// praisani listens) is not followed by default: the message waits with a
/// temporary failure naming the refused address, and nothing arrives.
#[test]
fn mx_to_an_internal_address_is_refused() {
    use praisani_testdns::{TestDns, Zone};
    let b = remote();
    let dns = TestDns::start(
        Zone::new()
            .mx("remote.test", 10, "mx.remote.test")
            .a("mx.remote.test", "127.0.0.1"),
    );
    let a = Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tls_listeners: true,
            tables: format!(
                "[delivery]\nretry = [\"1h\"]\nnameservers = [\"{}\"]\nsmtp_port = {}\n",
                dns.addr, b.smtp_port
            ),
            ..ExtraConfig::default()
        },
    );
    submit(&a, DEMO_USER, "r@remote.test", "to an internal mx");
    let q = wait_for("a recorded attempt or a delivery", 20, || {
        let q = queue_json(&a);
        (q.contains("\"attempts\":1") || q.trim() == "[]").then_some(q)
    });
    assert!(
        b.fetch_all("r@remote.test", "rpw").is_empty(),
        "delivered to an internal address"
    );
    assert!(q.contains("\"state\":\"pending\""), "{q}");
    assert!(q.contains("4.4.4"), "{q}");
    assert!(q.contains("127.0.0.1"), "{q}");
    assert!(a.fetch_all(DEMO_USER, DEMO_PASS).is_empty(), "bounced");
}

/// Postfix's smtp-sink on a free loopback port: a real SMTP server with
/// neither STARTTLS nor SMTPUTF8, which keeps each message it receives in
/// a file and counts sessions and messages (`-c`).
struct SmtpSink {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
    extra: Vec<String>,
}

impl SmtpSink {
    /// Not started yet: its port refuses connections until `start`.
    fn new(extra: &[&str]) -> SmtpSink {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("mail")).unwrap();
        // smtp-sink drops to `nobody` when run as root.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.path().join("mail"),
            std::fs::Permissions::from_mode(0o777),
        )
        .unwrap();
        SmtpSink {
            port: free_port(),
            dir,
            child: None,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn start(&mut self) {
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout.starts_with(b"0"))
            .unwrap_or(false);
        let mut c = std::process::Command::new("smtp-sink");
        if root {
            c.args(["-u", "nobody"]);
        }
        c.arg("-c")
            .args(&self.extra)
            .arg("-d")
            .arg(self.dir.path().join("mail/%H%M%S."))
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("50")
            .stdout(std::fs::File::create(self.dir.path().join("counters")).unwrap())
            .stderr(std::process::Stdio::null());
        self.child = Some(c.spawn().expect("smtp-sink"));
        wait_for("smtp-sink to listen", 10, || {
            std::net::TcpStream::connect(("127.0.0.1", self.port))
                .ok()
                .map(|_| ())
        });
    }

    /// The messages received so far. smtp-sink creates a message's file
    /// before it writes it: one still empty is not counted yet.
    fn messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(self.dir.path().join("mail")).unwrap() {
            let text =
                String::from_utf8_lossy(&std::fs::read(e.unwrap().path()).unwrap()).into_owned();
            if !text.is_empty() {
                out.push(text);
            }
        }
        out
    }

    /// (sessions, messages) once `messages` arrived and the sessions
    /// ended (sessions are counted at their end).
    fn settled_counters(&self, messages: u32) -> (u32, u32) {
        wait_for("the sink's counters", 20, || {
            let (s, m) = self.counters();
            (m >= messages && s >= 2).then_some(())
        });
        std::thread::sleep(Duration::from_millis(1500));
        // Not counting the readiness probe of `start`.
        let (s, m) = self.counters();
        (s - 1, m)
    }

    /// (sessions, messages) from the last `-c` counter line.
    fn counters(&self) -> (u32, u32) {
        let text = std::fs::read_to_string(self.dir.path().join("counters")).unwrap_or_default();
        let field = |name: &str| {
            text.rsplit(name)
                .next()
                .filter(|_| text.contains(name))
                .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        (field("sess="), field("mesg="))
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A sender routing sink.test to the sink, with extra `[delivery]` lines.
fn sender_to_sink(sink: &SmtpSink, delivery: &str) -> Server {
    Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tls_listeners: true,
            tables: format!(
                "[delivery]\nretry = [\"1h\"]\nroutes = {{ \"sink.test\" = \"127.0.0.1:{}\" }}\n{delivery}\n",
                sink.port
            ),
            ..ExtraConfig::default()
        },
    )
}

fn attempts_recorded(a: &Server, n: usize) {
    wait_for("recorded attempts", 30, || {
        (queue_json(a).matches("\"attempts\":1").count() == n).then_some(())
    });
}

#[test]
fn queued_mail_for_one_domain_shares_a_connection_to_a_server_without_starttls() {
    require_tool!("smtp-sink");
    let mut sink = SmtpSink::new(&[]);
    let a = sender_to_sink(&sink, "");
    for i in 0..4 {
        submit(
            &a,
            DEMO_USER,
            &format!("u{i}@sink.test"),
            &format!("batch-{i}"),
        );
    }
    // The sink is down: all four wait for their retry.
    attempts_recorded(&a, 4);
    sink.start();
    a.cli(&["queue", "flush"]).assert_ok("queue flush");
    let got = wait_for("four messages at the sink", 30, || {
        let m = sink.messages();
        let all = (0..4).all(|i| m.iter().any(|x| x.contains(&format!("Subject: batch-{i}"))));
        (m.len() >= 4 && all).then_some(m)
    });
    assert_eq!(got.len(), 4, "{got:?}");
    for i in 0..4 {
        let m = got
            .iter()
            .find(|m| m.contains(&format!("Subject: batch-{i}")))
            .unwrap_or_else(|| panic!("batch-{i} missing: {got:?}"));
        assert!(m.contains("X-Mail-Args: <demo@example.test>"), "{m}");
        assert!(m.contains(&format!("X-Rcpt-Args: <u{i}@sink.test>")), "{m}");
    }
    wait_for("the queue to empty", 10, || {
        (queue_json(&a).trim() == "[]").then_some(())
    });
    assert_eq!(
        sink.settled_counters(4),
        (1, 4),
        "four messages over one session expected\n{}",
        a.log()
    );
}

#[test]
fn messages_per_connection_and_connections_per_domain_are_limits() {
    require_tool!("smtp-sink");
    // The sink waits a second before answering DATA.
    let mut sink = SmtpSink::new(&["-w", "1"]);
    let a = sender_to_sink(
        &sink,
        "messages_per_connection = 1\nmax_connections_per_domain = 1",
    );
    for i in 0..3 {
        submit(
            &a,
            DEMO_USER,
            &format!("u{i}@sink.test"),
            &format!("limit-{i}"),
        );
    }
    attempts_recorded(&a, 3);
    sink.start();
    let t0 = Instant::now();
    a.cli(&["queue", "flush"]).assert_ok("queue flush");
    wait_for("three messages at the sink", 30, || {
        (sink.messages().len() == 3).then_some(())
    });
    // One connection at a time, one message each: at least three
    // one-second waits one after another.
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(2900), "took {took:?}");
    assert_eq!(sink.settled_counters(3), (3, 3), "{}", a.log());
}

#[test]
fn smtputf8_mail_to_a_server_without_smtputf8_bounces() {
    require_tool!("smtp-sink");
    let mut sink = SmtpSink::new(&[]);
    sink.start();
    let a = sender_to_sink(&sink, "");
    let script = r#"
import smtplib, sys
port, user, pw, to = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
s = smtplib.SMTP("127.0.0.1", port)
s.ehlo("client.test")
s.login(user, pw)
msg = ("From: " + user + "\r\nTo: " + to + "\r\nSubject: สวัสดี utf8\r\n\r\nข้อความ\r\n").encode()
s.sendmail(user, [to], msg, mail_options=["SMTPUTF8"])
s.quit()
print("OK")
"#;
    let port = a.submission_port.to_string();
    let out = python(
        script,
        &[&port, DEMO_USER, DEMO_PASS, "ผู้รับ@sink.test"],
        Duration::from_secs(20),
    );
    assert_py_ok(&out, "SMTPUTF8 submission");
    let bounce = wait_for("the bounce in the sender's mailbox", 30, || {
        a.fetch_all(DEMO_USER, DEMO_PASS)
            .into_iter()
            .find(|m| contains(m, b"multipart/report"))
    });
    let text = String::from_utf8_lossy(&bounce);
    // RFC 6533: a message that used SMTPUTF8 gets a global report.
    assert!(text.contains("message/global-delivery-status"), "{text}");
    assert!(text.contains("Action: failed"), "{text}");
    assert!(text.contains("Status: 5.6.7"), "{text}");
    assert!(text.contains("ผู้รับ@sink.test"), "{text}");
    assert!(sink.messages().is_empty(), "sent without SMTPUTF8");
}

/// The smarthost: a second praisani taking authenticated submission from
/// relay@isp.test for any sender, and hosting final.test. Its certificate
/// (for 127.0.0.1, the name the sender knows it by) is signed by a test CA,
/// whose file is in the returned directory as `ca.pem`.
fn smarthost() -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = common::certs::TestCa::new();
    std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
    let (cert, key) = ca.issue(&["127.0.0.1"]).write(dir.path(), "smarthost");
    let b = Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tls_listeners: true,
            tables: format!(
                "[submission]\nsender_policy = \"any\"\n[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
                cert.display(),
                key.display()
            ),
            ..ExtraConfig::default()
        },
    );
    b.add_domain("isp.test");
    b.add_user("relay@isp.test", "relay-pw", &[]);
    b.add_domain("final.test");
    b.add_user("f@final.test", "fpw", &[]);
    (b, dir)
}

/// A sender whose smarthost is `b`, its certificate trusted through `ca`.
fn sender_via_smarthost(b: &Server, ca: &std::path::Path, password: &str) -> Server {
    Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tls_listeners: true,
            tables: format!(
                "[delivery]\nretry = [\"1h\"]\nsmarthost = \"127.0.0.1:{}\"\nsmarthost_user = \"relay@isp.test\"\nsmarthost_password = \"{password}\"\ntls_ca_file = \"{}\"\n",
                b.submission_port,
                ca.display()
            ),
            ..ExtraConfig::default()
        },
    )
}

#[test]
fn smarthost_with_starttls_and_auth() {
    let (b, certs) = smarthost();
    let ca = certs.path().join("ca.pem");
    let a = sender_via_smarthost(&b, &ca, "relay-pw");
    submit(&a, DEMO_USER, "f@final.test", "via-smarthost");
    let msgs = wait_for("the message at the final mailbox", 30, || {
        let m = b.fetch_all("f@final.test", "fpw");
        (!m.is_empty()).then_some(m)
    });
    assert_eq!(msgs.len(), 1);
    let text = String::from_utf8_lossy(&msgs[0]);
    assert!(text.contains("Subject: via-smarthost"), "{text}");
    // The smarthost saw TLS and AUTH: its Received header says ESMTPSA.
    assert!(text.contains("with ESMTPSA"), "{text}");
    wait_for("the queue to empty", 10, || {
        (queue_json(&a).trim() == "[]").then_some(())
    });

    // Wrong credentials are the operator's to fix: the mail waits, with
    // the smarthost's answer as its last error, and nothing bounces.
    let a2 = sender_via_smarthost(&b, &ca, "wrong");
    submit(&a2, DEMO_USER, "f@final.test", "bad-credentials");
    let q = wait_for("a recorded attempt", 30, || {
        let q = queue_json(&a2);
        q.contains("\"attempts\":1").then_some(q)
    });
    assert!(q.contains("\"state\":\"pending\""), "{q}");
    assert!(q.contains("535"), "{q}");
    assert!(a2.fetch_all(DEMO_USER, DEMO_PASS).is_empty(), "bounced");
    assert_eq!(b.fetch_all("f@final.test", "fpw").len(), 1);
}
