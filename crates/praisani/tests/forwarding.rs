//! Forwarding on the real binary: a second praisani plays the remote
//! domain (remote.test, reached through a static route). Mailbox forwards
//! with and without a local copy, an alias to a remote address, the SRS
//! sender the remote server sees and a bounce to it coming back to the
//! original sender, `Delivered-To:` with the sub-address tag in the POP3
//! copy (LIST sizes equal to what RETR sends), loops refused with
//! `554 5.4.6`, mail that failed DMARC (p=none) not forwarded, and the
//! `user forward` CLI. Messages go in with smtplib, come out with poplib.

mod common;

use common::*;
use praisani_testdns::{TestDns, Zone};
use serde_json::Value;
use std::time::Duration;

const PY: Duration = Duration::from_secs(60);
const SECRET: &str = "forwarding-test-secret-0123456789";

/// The remote side: remote.test with the forward targets and a sender.
fn remote() -> Server {
    let b = Server::start_default();
    b.add_domain("remote.test");
    for u in ["r", "s", "orig"] {
        b.add_user(&format!("{u}@remote.test"), "rpw", &[]);
    }
    b
}

/// Our side: fwd.test, remote.test routed to `b`, SRS into srs.test;
/// `tables` added (a `[trust]` of its own, say).
fn ours(b: &Server, limits: &str, tables: &str) -> Server {
    let a = Server::start_extra(
        ServerOpts {
            demo: true,
            limits: limits.into(),
        },
        ExtraConfig {
            tls_listeners: true,
            tables: format!(
                "[delivery]\nroutes = {{ \"remote.test\" = \"127.0.0.1:{}\" }}\n\
                 [srs]\ndomain = \"srs.test\"\nsecret = \"{SECRET}\"\n{tables}",
                b.smtp_port
            ),
            ..ExtraConfig::default()
        },
    );
    a.add_domain("fwd.test");
    for u in ["anna", "ben", "cleo"] {
        a.add_user(&format!("{u}@fwd.test"), "pw", &[]);
    }
    a.cli(&[
        "user",
        "forward",
        "anna@fwd.test",
        "r@remote.test",
        "--keep",
    ])
    .assert_ok("forward anna");
    a.cli(&[
        "user",
        "forward",
        "ben@fwd.test",
        "s@remote.test",
        "--no-keep",
    ])
    .assert_ok("forward ben");
    a.cli(&["alias", "add", "team@fwd.test", "r@remote.test"])
        .assert_ok("alias to a remote address");
    a
}

/// Sends `message` from another server (smtplib, EHLO mx.remote.test)
/// with envelope sender `from` to `rcpts`: the end-of-data reply, or the
/// first refused recipient's.
fn send(s: &Server, from: &str, rcpts: &[&str], message: &str) -> (u16, String) {
    let path = s.path(&token("msg"));
    write_file(&path, message.as_bytes());
    let out = python(
        r#"
import smtplib, sys, json
port, sender, rcpts, path = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
msg = open(path, 'rb').read()
c = smtplib.SMTP('127.0.0.1', port, local_hostname='mx.remote.test', timeout=30)
try:
    c.sendmail(sender, rcpts, msg)
    print(250, 'ok')
except smtplib.SMTPDataError as e:
    print(e.smtp_code, e.smtp_error.decode())
except smtplib.SMTPRecipientsRefused as e:
    code, text = list(e.recipients.values())[0]
    print(code, text.decode())
c.quit()
"#,
        &[
            &s.smtp_port.to_string(),
            from,
            &serde_json::to_string(rcpts).unwrap(),
            path.to_str().unwrap(),
        ],
        PY,
    );
    assert!(
        out.status.success(),
        "smtplib: {}\n{}",
        out.describe(),
        s.log()
    );
    let line = out.out().trim().to_string();
    let (code, text) = line.split_once(' ').unwrap_or((&line, ""));
    (code.parse().unwrap(), text.to_string())
}

fn message(from: &str, subject: &str, extra: &str) -> String {
    format!(
        "{extra}From: <{from}>\r\nTo: <someone@fwd.test>\r\nSubject: {subject}\r\n\
         Date: Thu, 03 Dec 2026 07:00:00 +0000\r\nMessage-ID: <{subject}@remote.test>\r\n\r\n\
         Hello.\r\n"
    )
}

/// A mailbox read with poplib: each message's LIST size and its RETR
/// octets (CRLF lines), left on the server.
fn poplib(s: &Server, user: &str, pass: &str) -> Vec<(u64, String)> {
    let out = python(
        r#"
import poplib, sys, json
p = poplib.POP3('127.0.0.1', int(sys.argv[1]), timeout=30)
p.user(sys.argv[2]); p.pass_(sys.argv[3])
sizes = [int(l.split()[1]) for l in p.list()[1]]
msgs = []
for i, size in enumerate(sizes):
    lines = p.retr(i + 1)[1]
    msgs.append([size, (b'\r\n'.join(lines) + b'\r\n').decode('utf-8', 'replace')])
p.quit()
print(json.dumps(msgs))
"#,
        &[&s.pop3_port.to_string(), user, pass],
        PY,
    );
    assert!(out.status.success(), "poplib: {}", out.describe());
    let v: Vec<(u64, String)> = serde_json::from_str(out.out().trim()).unwrap();
    for (size, text) in &v {
        // poplib hands back the lines dot-unstuffed: the octets RETR sent
        // before stuffing, which is what LIST counts.
        assert_eq!(*size as usize, text.len(), "LIST size vs RETR: {text}");
    }
    v
}

/// The messages of a remote mailbox whose subject is `subject`, waited for.
fn arrived(b: &Server, user: &str, subject: &str, n: usize) -> Vec<String> {
    wait_for(&format!("{n} × {subject} at {user}"), 20, || {
        let found: Vec<String> = b
            .fetch_all(user, "rpw")
            .iter()
            .map(|m| String::from_utf8_lossy(m).into_owned())
            .filter(|m| m.contains(&format!("Subject: {subject}\r\n")))
            .collect();
        (found.len() >= n).then_some(found)
    })
}

fn return_path(m: &str) -> String {
    header(m.as_bytes(), "Return-Path").unwrap_or_default()
}

/// The first header field `name` of `m`, unfolded ("" when missing).
fn field(m: &str, name: &str) -> String {
    let head = m.split("\r\n\r\n").next().unwrap();
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    let prefix = format!("{}:", name.to_ascii_lowercase());
    unfolded
        .split("\r\n")
        .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
        .map(|l| l[prefix.len()..].trim().to_string())
        .unwrap_or_default()
}

fn delivered_to(m: &str) -> Vec<String> {
    m.split("\r\n\r\n")
        .next()
        .unwrap()
        .split("\r\n")
        .filter_map(|l| l.strip_prefix("Delivered-To: "))
        .map(str::to_string)
        .collect()
}

#[test]
fn forwards_with_srs_keep_and_no_keep_and_bounces_come_back() {
    let b = remote();
    let a = ours(&b, "", "");
    let (code, text) = send(
        &a,
        "orig@remote.test",
        &["anna+news@fwd.test", "ben@fwd.test", "cleo@fwd.test"],
        &message("orig@remote.test", "fwd-1", ""),
    );
    assert_eq!(code, 250, "{text}\n{}", a.log());

    // anna keeps a copy, with her Delivered-To (tag and all) on top.
    let anna = poplib(&a, "anna@fwd.test", "pw");
    assert_eq!(anna.len(), 1, "{anna:?}");
    assert!(
        anna[0].1.starts_with(
            "Return-Path: <orig@remote.test>\r\nDelivered-To: anna+news@fwd.test\r\nReceived: "
        ),
        "{}",
        anna[0].1
    );
    let cleo = poplib(&a, "cleo@fwd.test", "pw");
    assert_eq!(delivered_to(&cleo[0].1), vec!["cleo@fwd.test"]);
    // ben keeps none.
    assert!(poplib(&a, "ben@fwd.test", "pw").is_empty());

    // The forwarded copies carry an SRS sender of srs.test and the
    // Delivered-To of the address forwarded for.
    let r = arrived(&b, "r@remote.test", "fwd-1", 1);
    let s = arrived(&b, "s@remote.test", "fwd-1", 1);
    // (Addresses are kept in lower case, SRS ones too: the hash is
    // checked without regard to case.)
    let srs = return_path(&r[0]);
    assert!(
        srs.to_ascii_uppercase().starts_with("<SRS0=")
            && srs.ends_with("=remote.test=orig@srs.test>"),
        "{srs}"
    );
    assert_eq!(return_path(&s[0]), srs);
    // The remote server (praisani too) put its own on top of ours.
    assert_eq!(delivered_to(&r[0]), ["r@remote.test", "anna+news@fwd.test"]);
    assert_eq!(delivered_to(&s[0]), ["s@remote.test", "ben@fwd.test"]);
    assert!(r[0].contains("Hello.\r\n"), "{}", r[0]);

    // A bounce to that sender goes back to the original sender.
    let srs_addr = srs.trim_matches(['<', '>']).to_string();
    let bounce = "From: MAILER-DAEMON@remote.test\r\nTo: <x>\r\nSubject: bounce-1\r\n\
                  Message-ID: <b1@remote.test>\r\n\r\nUndeliverable.\r\n";
    let (code, text) = send(&a, "", &[&srs_addr], bounce);
    assert_eq!(code, 250, "{text}\n{}", a.log());
    let back = arrived(&b, "orig@remote.test", "bounce-1", 1);
    assert_eq!(return_path(&back[0]), "<>");

    // Our own user's mail keeps its sender; the null sender stays null.
    submit(&a, DEMO_USER, "anna@fwd.test", "fwd-own");
    let own = arrived(&b, "r@remote.test", "fwd-own", 1);
    assert_eq!(return_path(&own[0]), format!("<{DEMO_USER}>"));
    let (code, _) = send(
        &a,
        "",
        &["anna@fwd.test"],
        &message("x@remote.test", "fwd-null", ""),
    );
    assert_eq!(code, 250);
    let null = arrived(&b, "r@remote.test", "fwd-null", 1);
    assert_eq!(return_path(&null[0]), "<>");
    // Sizes stay exact with the prefixes: LIST = RETR for every copy.
    assert_eq!(poplib(&a, "anna@fwd.test", "pw").len(), 3);
}

#[test]
fn an_alias_to_a_remote_address_and_loops() {
    let b = remote();
    let a = ours(&b, "max_received = 5", "");
    let (code, text) = send(
        &a,
        "orig@remote.test",
        &["team@fwd.test"],
        &message("orig@remote.test", "alias-1", ""),
    );
    assert_eq!(code, 250, "{text}\n{}", a.log());
    let r = arrived(&b, "r@remote.test", "alias-1", 1);
    assert_eq!(delivered_to(&r[0]), ["r@remote.test", "team@fwd.test"]);
    assert!(
        return_path(&r[0])
            .to_ascii_uppercase()
            .starts_with("<SRS0="),
        "{}",
        r[0]
    );

    // Back again with our Delivered-To: a loop, refused at the end of data.
    let looped = message(
        "orig@remote.test",
        "loop-1",
        "Delivered-To: Team@fwd.test\r\n",
    );
    let (code, text) = send(&a, "orig@remote.test", &["team@fwd.test"], &looped);
    assert_eq!(code, 554, "{text}");
    assert!(text.starts_with("5.4.6"), "{text}");
    let looped = message(
        "orig@remote.test",
        "loop-2",
        "Delivered-To: anna@fwd.test\r\n",
    );
    let (code, text) = send(&a, "orig@remote.test", &["anna@fwd.test"], &looped);
    assert_eq!((code, text.starts_with("5.4.6")), (554, true), "{text}");
    // Someone else's Delivered-To is no loop of ours.
    let other = message(
        "orig@remote.test",
        "noloop",
        "Delivered-To: anna@elsewhere.test\r\n",
    );
    assert_eq!(
        send(&a, "orig@remote.test", &["cleo@fwd.test"], &other).0,
        250
    );

    // Too many hops: with ours, more than limits.max_received = 5.
    let hops = |n: usize| "Received: from x by y; Thu, 03 Dec 2026 07:00:00 +0000\r\n".repeat(n);
    let (code, text) = send(
        &a,
        "orig@remote.test",
        &["cleo@fwd.test"],
        &message("orig@remote.test", "hops-5", &hops(5)),
    );
    assert_eq!(code, 554, "{text}");
    assert!(text.starts_with("5.4.6"), "{text}");
    let (code, _) = send(
        &a,
        "orig@remote.test",
        &["cleo@fwd.test"],
        &message("orig@remote.test", "hops-4", &hops(4)),
    );
    assert_eq!(code, 250);
    let cleo = poplib(&a, "cleo@fwd.test", "pw");
    let subjects: Vec<bool> = ["noloop", "hops-4"]
        .iter()
        .map(|s| {
            cleo.iter()
                .any(|(_, m)| m.contains(&format!("Subject: {s}\r\n")))
        })
        .collect();
    assert_eq!(subjects, [true, true]);
    assert!(!cleo.iter().any(|(_, m)| m.contains("Subject: hops-5")));
}

#[test]
fn mail_failing_dmarc_is_not_forwarded() {
    let zone = Zone::new()
        .txt("pnone.test", "v=spf1 ip4:192.0.2.1 -all")
        .txt("_dmarc.pnone.test", "v=DMARC1; p=none")
        .txt("good.test", "v=spf1 ip4:127.0.0.1 -all")
        .txt("_dmarc.good.test", "v=DMARC1; p=none");
    let dns = TestDns::start(zone);
    let b = remote();
    let a = Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tls_listeners: true,
            tables: format!(
                "[delivery]\nnameservers = [\"{}\"]\nroutes = {{ \"remote.test\" = \"127.0.0.1:{}\" }}\n\
                 [srs]\ndomain = \"srs.test\"\nsecret = \"{SECRET}\"\n\
                 [trust]\nenabled = true\ndns_timeout = \"1s\"\ncheck_timeout = \"2s\"\n",
                dns.addr, b.smtp_port
            ),
            ..ExtraConfig::default()
        },
    );
    a.add_domain("fwd.test");
    for u in ["anna", "ben"] {
        a.add_user(&format!("{u}@fwd.test"), "pw", &[]);
    }
    a.cli(&[
        "user",
        "forward",
        "anna@fwd.test",
        "r@remote.test",
        "--keep",
    ])
    .assert_ok("forward anna");
    a.cli(&[
        "user",
        "forward",
        "ben@fwd.test",
        "s@remote.test",
        "--no-keep",
    ])
    .assert_ok("forward ben");
    a.cli(&["alias", "add", "team@fwd.test", "r@remote.test"])
        .assert_ok("alias");

    a.cli(&["dkim", "generate", "fwd.test"])
        .assert_ok("an RSA key to seal with");

    // Passing DMARC: forwarded, ARC-sealed for fwd.test with our results.
    let (code, text) = send(
        &a,
        "x@good.test",
        &["anna@fwd.test"],
        &message("x@good.test", "dmarc-pass", ""),
    );
    assert_eq!(code, 250, "{text}\n{}", a.log());
    let pass = arrived(&b, "r@remote.test", "dmarc-pass", 1);
    let seal = field(&pass[0], "ARC-Seal");
    assert!(
        seal.contains("i=1") && seal.contains("d=fwd.test"),
        "{}",
        pass[0]
    );
    let aar = field(&pass[0], "ARC-Authentication-Results");
    assert!(
        aar.contains("mx.example.test") && aar.contains("dmarc=pass"),
        "{}",
        pass[0]
    );

    // Failing a p=none policy: accepted, kept here, not forwarded — ben,
    // who keeps no copy otherwise, gets it in his mailbox.
    let (code, text) = send(
        &a,
        "x@pnone.test",
        &["anna@fwd.test", "ben@fwd.test"],
        &message("x@pnone.test", "dmarc-fail", ""),
    );
    assert_eq!(code, 250, "{text}\n{}", a.log());
    let has = |user: &str| {
        poplib(&a, user, "pw")
            .iter()
            .any(|(_, m)| m.contains("Subject: dmarc-fail\r\n") && m.contains("dmarc=fail"))
    };
    assert!(has("anna@fwd.test"), "{}", a.log());
    assert!(has("ben@fwd.test"), "{}", a.log());
    // An alias with nothing but a remote target refuses it instead.
    let (code, text) = send(
        &a,
        "x@pnone.test",
        &["team@fwd.test"],
        &message("x@pnone.test", "dmarc-fail-alias", ""),
    );
    assert_eq!(code, 550, "{text}");
    assert!(text.starts_with("5.7.26"), "{text}");
    // Give the queue a moment: nothing failing went out.
    std::thread::sleep(Duration::from_secs(2));
    let remote_subjects: Vec<String> = ["r@remote.test", "s@remote.test"]
        .iter()
        .flat_map(|u| b.fetch_all(u, "rpw"))
        .map(|m| String::from_utf8_lossy(&m).into_owned())
        .collect();
    assert!(
        !remote_subjects.iter().any(|m| m.contains("dmarc-fail")),
        "{remote_subjects:?}"
    );
}

#[test]
fn user_forward_cli() {
    let b = remote();
    let a = ours(&b, "", "");
    let show = a.cli(&["--json", "user", "forward", "ben@fwd.test"]);
    show.assert_ok("show");
    let v: Value = serde_json::from_str(show.out().trim()).unwrap();
    assert_eq!(v["forward"]["targets"][0], "s@remote.test");
    assert_eq!(v["forward"]["keep"], false);
    let set = a.cli(&[
        "--json",
        "user",
        "forward",
        "cleo@fwd.test",
        "x@remote.test",
        "y@remote.test",
    ]);
    set.assert_ok("set");
    let v: Value = serde_json::from_str(set.out().trim()).unwrap();
    assert_eq!(v["forward"]["keep"], true, "keeps a copy by default");
    assert_eq!(v["forward"]["targets"].as_array().unwrap().len(), 2);
    let text = a.cli(&["user", "forward", "cleo@fwd.test"]);
    assert!(
        text.out()
            .contains("to x@remote.test, y@remote.test; a copy stays"),
        "{}",
        text.out()
    );
    a.cli(&["user", "forward", "cleo@fwd.test", "--off"])
        .assert_ok("off");
    let off = a.cli(&["--json", "user", "forward", "cleo@fwd.test"]);
    let v: Value = serde_json::from_str(off.out().trim()).unwrap();
    assert!(v["forward"].is_null(), "{v}");
    // Refusals: clear messages, non-zero exits.
    for (args, needle) in [
        (
            vec!["user", "forward", "cleo@fwd.test", "cleo@fwd.test"],
            "itself",
        ),
        (
            vec!["user", "forward", "nobody@fwd.test", "x@remote.test"],
            "does not exist",
        ),
        (
            vec!["user", "forward", "cleo@fwd.test", "not an address"],
            "not a valid",
        ),
        (
            vec!["user", "forward", "cleo@fwd.test", "--no-keep"],
            "target",
        ),
    ] {
        let out = a.cli(&args);
        assert_ne!(out.code(), Some(0), "{args:?}");
        assert!(out.err().contains(needle), "{args:?}: {}", out.err());
    }
}

#[test]
fn forwards_count_against_the_sending_limits() {
    let b = remote();
    let a = ours(
        &b,
        "",
        "[sending]\nmessages_per_hour = 1\nhold_on_limit = false\n",
    );
    for subject in ["lim-1", "lim-2"] {
        let (code, text) = send(
            &a,
            "orig@remote.test",
            &["ben@fwd.test"],
            &message("orig@remote.test", subject, ""),
        );
        assert_eq!(code, 250, "{subject}: {text}\n{}", a.log());
    }
    // The first one went out; the second was over ben's limit and stays
    // in his mailbox (which otherwise keeps no copy).
    arrived(&b, "s@remote.test", "lim-1", 1);
    let ben = poplib(&a, "ben@fwd.test", "pw");
    assert_eq!(ben.len(), 1, "{ben:?}");
    assert!(ben[0].1.contains("Subject: lim-2\r\n"), "{}", ben[0].1);
    assert!(a.stderr_text().contains("not forwarded: sending limit"));
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        !b.fetch_all("s@remote.test", "rpw")
            .iter()
            .any(|m| contains(m, b"Subject: lim-2"))
    );
}
