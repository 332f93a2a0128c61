//! The inbound trust checks on the real binary: SPF, DKIM and DMARC of
//! mail from other servers, against the test DNS server, on messages signed
//! by an independent implementation (Python dkimpy), sent with smtplib (and
//! raw BDAT) and read back with poplib.

mod common;

use common::*;
use praisani_testdns::{TestDns, Zone};
use serde_json::{Value, json};
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const PY_TIMEOUT: Duration = Duration::from_secs(60);
const HOST: &str = "mx.example.test";

/// python3 with dkimpy, authres and nacl, or a skip.
fn have_dkimpy() -> bool {
    have_tool("python3", module_path!())
        && have_python_module("dkim", "pip install dkimpy", module_path!())
        && have_python_module("authres", "pip install authres", module_path!())
        && have_python_module("nacl", "pip install pynacl", module_path!())
}

/// One request to the signer the mailhost trust tests use.
fn dkimpy(request: Value) -> Value {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../mailhost/tests/trust/dkimpy.py"
    );
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    serde_json::to_writer(child.stdin.take().unwrap(), &request).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "dkimpy.py failed on {request}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// An RSA key pair: (private PEM, public base64).
fn keys() -> &'static (String, String) {
    static KEYS: OnceLock<(String, String)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let k = dkimpy(json!({"op": "keys"}));
        let s = |n: &str| k[n].as_str().unwrap().to_string();
        (s("rsa_private"), s("rsa_public"))
    })
}

fn zone() -> Zone {
    let spf_ok = "v=spf1 ip4:127.0.0.1 -all";
    let spf_elsewhere = "v=spf1 ip4:192.0.2.1 -all";
    Zone::new()
        // Signs, sends from us, publishes p=reject.
        .txt("sender.test", spf_ok)
        .txt("_dmarc.sender.test", "v=DMARC1; p=reject")
        .txt(
            "rsa._domainkey.sender.test",
            &format!("v=DKIM1; k=rsa; p={}", keys().1),
        )
        .txt("helo.test", spf_ok)
        .a("helo.test", "127.0.0.1")
        // Forged From: domains.
        .txt("reject.test", spf_elsewhere)
        .txt("_dmarc.reject.test", "v=DMARC1; p=reject")
        .txt("quarantine.test", spf_elsewhere)
        .txt("_dmarc.quarantine.test", "v=DMARC1; p=quarantine")
        .txt(
            "rsa._domainkey.reject.test",
            &format!("v=DKIM1; k=rsa; p={}", keys().1),
        )
        // A selector whose key lookup never gets an answer: such checks
        // take dns_timeout, and DMARC still passes through SPF.
        .silent("slow._domainkey.sender.test")
        // RFC 7208 §4.6.4: at most two terms may look up names that do not
        // exist (void1/void2) or have no record of the type (nodata); the
        // client's address matches only after them. The limit counts across
        // an include.
        .txt("nodata.void.test", "not an address")
        .txt(
            "two.void.test",
            "v=spf1 a:void1.void.test mx:nodata.void.test ip4:127.0.0.1 -all",
        )
        .txt(
            "three.void.test",
            "v=spf1 a:void1.void.test include:inc.void.test ip4:127.0.0.1 -all",
        )
        .txt(
            "inc.void.test",
            "v=spf1 a:void2.void.test a:nodata.void.test -all",
        )
        // A mailing list that seals ARC.
        .txt("fwd.test", spf_ok)
        .txt(
            "rsa._domainkey.fwd.test",
            &format!("v=DKIM1; k=rsa; p={}", keys().1),
        )
}

fn message(from: &str, subject: &str, extra_headers: &str) -> String {
    format!(
        "{extra_headers}From: Someone <{from}>\r\nTo: <{DEMO_USER}>\r\nSubject: {subject}\r\n\
         Date: Thu, 03 Dec 2026 07:00:00 +0000\r\nMessage-ID: <{subject}@client.test>\r\n\r\n\
         Hello.\r\n.leading dot\r\n\r\n"
    )
}

/// `message` with a DKIM signature of sender.test prepended.
fn signed(message: &str) -> String {
    signed_by(message, "sender.test")
}

/// `message` with a DKIM signature of `domain` prepended.
fn signed_by(message: &str, domain: &str) -> String {
    signed_with(message, domain, "rsa")
}

/// `message` signed by `domain` with the key published as `selector`.
fn signed_with(message: &str, domain: &str, selector: &str) -> String {
    let r = dkimpy(json!({
        "op": "sign", "message": message, "domain": domain, "selector": selector,
        "key": keys().0, "algo": "rsa-sha256", "canon": "relaxed/relaxed",
    }));
    format!("{}{message}", r["header"].as_str().unwrap())
}

/// A server checking mail against `dns` (a nameserver address), with
/// `trust` lines added to its `[trust]` table.
fn server(dns: std::net::SocketAddr, top: &str, trust: &str) -> Server {
    Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tls_listeners: true,
            top: top.into(),
            tables: format!(
                "[delivery]\nnameservers = [\"{dns}\"]\n\
                 [trust]\nenabled = true\ndns_timeout = \"1s\"\ncheck_timeout = \"2s\"\n{trust}"
            ),
            ..ExtraConfig::default()
        },
    )
}

/// Sends `message` with smtplib as `mail_from` after EHLO `helo`; returns
/// the reply code to the end of data and its text.
fn smtplib_send(s: &Server, helo: &str, mail_from: &str, message: &str) -> (u16, String) {
    let path = s.path(&token("msg"));
    write_file(&path, message.as_bytes());
    let out = python(
        r#"
import smtplib, sys
port, helo, sender, rcpt, path = sys.argv[1:6]
msg = open(path, 'rb').read()
c = smtplib.SMTP('127.0.0.1', int(port), local_hostname=helo, timeout=30)
try:
    c.sendmail(sender, [rcpt], msg)
    print(250, 'ok')
except smtplib.SMTPDataError as e:
    print(e.smtp_code, e.smtp_error.decode())
c.quit()
"#,
        &[
            &s.smtp_port.to_string(),
            helo,
            mail_from,
            DEMO_USER,
            path.to_str().unwrap(),
        ],
        PY_TIMEOUT,
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

/// The unfolded header fields named `name` of `message`, in order.
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

/// Our Authentication-Results field, parsed by Python's authres:
/// (method, result) pairs.
fn our_results(message: &str) -> Vec<(String, String)> {
    let ours: Vec<String> = fields(message, "Authentication-Results")
        .into_iter()
        .filter(|f| f.starts_with(HOST))
        .collect();
    assert_eq!(ours.len(), 1, "one field of ours: {message}");
    let parsed = dkimpy(json!({
        "op": "parse_ar",
        "field": format!("Authentication-Results: {}", ours[0]),
    }));
    assert_eq!(parsed["authserv_id"], HOST);
    parsed["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_string(),
                r[1].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn result_of<'a>(results: &'a [(String, String)], method: &str) -> &'a str {
    &results.iter().find(|(m, _)| m == method).unwrap().1
}

#[test]
fn signed_mail_passes_forged_mail_is_refused() {
    if !have_dkimpy() {
        return;
    }
    let dns = TestDns::start(zone());
    let s = server(dns.addr, "", "");

    // Correctly signed mail of a p=reject domain, carrying a forged field
    // with our authserv-id and a foreign one.
    let forged_ar = format!("Authentication-Results: {HOST}; dkim=pass header.d=forged.test\r\n");
    let foreign_ar = "Authentication-Results: other.example; spf=pass smtp.mailfrom=x\r\n";
    let good = signed(&message("a@sender.test", "good", ""));
    let good = format!("{forged_ar}{foreign_ar}{good}");
    assert_eq!(
        smtplib_send(&s, "helo.test", "a@sender.test", &good).0,
        250,
        "{}",
        s.log()
    );

    // A forged From: of a p=reject domain: refused at the end of DATA.
    let forged = message("billing@reject.test", "forged", "");
    let (code, text) = smtplib_send(&s, "helo.test", "x@remote.test", &forged);
    assert_eq!(code, 550, "{text}\n{}", s.log());
    assert!(
        text.starts_with("5.7.1 ") && text.contains("reject.test"),
        "{text}"
    );

    let msgs = poplib_messages(&s);
    assert_eq!(msgs.len(), 1, "only the signed message is stored: {msgs:?}");
    let m = &msgs[0];
    let results = our_results(m);
    assert_eq!(result_of(&results, "dkim"), "pass", "{m}");
    assert_eq!(result_of(&results, "dmarc"), "pass", "{m}");
    assert_eq!(result_of(&results, "spf"), "pass", "{m}");
    let ar = fields(m, "Authentication-Results");
    assert!(!m.contains("forged.test"), "our forged field is gone: {m}");
    assert!(ar.iter().any(|f| f.starts_with("other.example;")), "{ar:?}");
    // Our field sits below our trace header (and the mailbox's
    // Delivered-To) and above the client's header; the body arrives
    // unchanged.
    assert!(
        m.starts_with(&format!(
            "Return-Path: <a@sender.test>\r\nDelivered-To: {DEMO_USER}\r\nReceived: "
        )),
        "{m}"
    );
    let ours = m.find(&format!("Authentication-Results: {HOST};")).unwrap();
    assert!(ours < m.find("DKIM-Signature:").unwrap() && ours > m.find("Received:").unwrap());
    assert!(m.ends_with("\r\n\r\nHello.\r\n.leading dot\r\n"), "{m:?}");
    assert!(fields(m, "X-Spam-Flag").is_empty(), "{m}");
    // Nothing was queued for the refused message.
    assert!(!queue_json(&s).contains("reject.test"));
    assert!(s.stderr_text().contains("refused: trust policy"));
}

#[test]
fn bdat_messages_are_checked_too() {
    if !have_dkimpy() {
        return;
    }
    let dns = TestDns::start(zone());
    let s = server(dns.addr, "", "");
    let send = |msg: &str, mail_from: &str| -> Vec<u16> {
        let mut c = s.smtp();
        c.ehlo("helo.test");
        let mut out = format!("MAIL FROM:<{mail_from}>\r\nRCPT TO:<{DEMO_USER}>\r\n").into_bytes();
        let (a, b) = msg.as_bytes().split_at(msg.len() / 2);
        out.extend_from_slice(format!("BDAT {}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(format!("BDAT {} LAST\r\n", b.len()).as_bytes());
        out.extend_from_slice(b);
        c.send_raw(&out).unwrap();
        let codes = (0..4).map(|_| c.reply().unwrap().code).collect();
        c.quit();
        codes
    };
    let good = signed(&message("a@sender.test", "bdat-good", ""));
    assert_eq!(
        send(&good, "a@sender.test"),
        [250, 250, 250, 250],
        "{}",
        s.log()
    );
    let forged = message("billing@reject.test", "bdat-forged", "");
    assert_eq!(send(&forged, "x@remote.test"), [250, 250, 250, 550]);
    let msgs = poplib_messages(&s);
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert_eq!(result_of(&our_results(&msgs[0]), "dkim"), "pass");
    assert!(msgs[0].contains("Subject: bdat-good"));
}

#[test]
fn quarantine_is_marked_and_tagged_per_domain() {
    if !have_dkimpy() {
        return;
    }
    let dns = TestDns::start(zone());
    let s = server(
        dns.addr,
        "",
        "subject_tag = \"[SPAM]\"\n[trust.domains.\"plain.test\"]\nsubject_tag = \"\"\n",
    );
    // Not hosted yet at the start: the operator is told.
    assert!(
        s.wait_log_count(
            "[trust.domains.\"plain.test\"]: not a hosted domain",
            1,
            Duration::from_secs(10)
        ),
        "{}",
        s.log()
    );
    s.add_domain("plain.test");
    s.add_user("u@plain.test", "u-pass", &[]);

    let msg = message("x@quarantine.test", "offer", "");
    assert_eq!(
        smtplib_send(&s, "helo.test", "x@quarantine.test", &msg).0,
        250
    );
    let msgs = poplib_messages(&s);
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(fields(m, "X-Spam-Flag"), ["YES"], "{m}");
    assert_eq!(fields(m, "Subject"), ["[SPAM] offer"], "{m}");
    assert_eq!(result_of(&our_results(m), "dmarc"), "fail");

    // The same to a domain whose policy has no tag: marked, subject kept.
    let path = s.path("plain.eml");
    write_file(&path, msg.as_bytes());
    let out = python(
        r#"
import smtplib, sys
c = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), local_hostname='helo.test', timeout=30)
c.sendmail('x@quarantine.test', ['u@plain.test'], open(sys.argv[2], 'rb').read())
c.quit()
print('OK')
"#,
        &[&s.smtp_port.to_string(), path.to_str().unwrap()],
        PY_TIMEOUT,
    );
    assert_py_ok(&out, "send to plain.test");
    let plain = s.fetch_all("u@plain.test", "u-pass");
    assert_eq!(plain.len(), 1);
    let p = String::from_utf8_lossy(&plain[0]);
    assert_eq!(fields(&p, "X-Spam-Flag"), ["YES"], "{p}");
    assert_eq!(fields(&p, "Subject"), ["offer"], "{p}");
}

#[test]
fn a_trusted_arc_sealer_carries_a_forwarded_message_through() {
    if !have_dkimpy() {
        return;
    }
    let dns = TestDns::start(zone());
    let s = server(
        dns.addr,
        "",
        "trusted_arc_sealers = [\"fwd.test\"]\n\
         [trust.domains.\"plain.test\"]\ntrusted_arc_sealers = []\n",
    );
    s.add_domain("plain.test");
    s.add_user("u@plain.test", "u-pass", &[]);
    // reject.test signs; the list adds a footer (breaking the signature)
    // and seals the result.
    let original = signed_by(&message("news@reject.test", "list", ""), "reject.test");
    let forwarded = format!(
        "Authentication-Results: fwd.test; dkim=pass header.d=reject.test\r\n{original}-- \r\nthe list\r\n"
    );
    let seal = dkimpy(json!({
        "op": "arc", "message": forwarded, "domain": "fwd.test", "selector": "rsa",
        "key": keys().0, "srv_id": "fwd.test",
    }));
    let sealed = format!("{}{forwarded}", seal["headers"].as_str().unwrap());
    assert_eq!(
        smtplib_send(&s, "helo.test", "list@fwd.test", &sealed).0,
        250,
        "{}",
        s.log()
    );
    let msgs = poplib_messages(&s);
    assert_eq!(msgs.len(), 1);
    let results = our_results(&msgs[0]);
    assert_eq!(result_of(&results, "arc"), "pass", "{}", msgs[0]);
    assert_eq!(result_of(&results, "dmarc"), "fail", "{}", msgs[0]);
    assert!(fields(&msgs[0], "X-Spam-Flag").is_empty());
    // plain.test trusts no sealer: the DMARC failure stands.
    let path = s.path("sealed.eml");
    write_file(&path, sealed.as_bytes());
    let out = python(
        r#"
import smtplib, sys
c = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), local_hostname='helo.test', timeout=30)
try:
    c.sendmail('list@fwd.test', ['u@plain.test'], open(sys.argv[2], 'rb').read())
    print('accepted')
except smtplib.SMTPDataError as e:
    print(e.smtp_code)
c.quit()
"#,
        &[&s.smtp_port.to_string(), path.to_str().unwrap()],
        PY_TIMEOUT,
    );
    assert_eq!(out.out().trim(), "550", "{}", out.describe());
}

#[test]
fn spf_allows_two_void_lookups_not_three() {
    if !have_dkimpy() {
        return;
    }
    let dns = TestDns::start(zone());
    let s = server(dns.addr, "", "");
    for sender in ["a@two.void.test", "a@three.void.test"] {
        let msg = message(sender, sender.split('@').nth(1).unwrap(), "");
        assert_eq!(
            smtplib_send(&s, "helo.test", sender, &msg).0,
            250,
            "{}",
            s.log()
        );
    }
    let msgs = poplib_messages(&s);
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    let spf_of = |subject: &str| {
        let m = msgs
            .iter()
            .find(|m| fields(m, "Subject") == [subject])
            .unwrap_or_else(|| panic!("no message {subject}: {msgs:?}"));
        result_of(&our_results(m), "spf").to_string()
    };
    assert_eq!(spf_of("two.void.test"), "pass");
    assert_eq!(spf_of("three.void.test"), "permerror");
    // Each void name was asked (the limit is not a guess from the record).
    let asked = dns.queries();
    for name in ["void1.void.test", "void2.void.test", "nodata.void.test"] {
        assert!(
            asked.iter().any(|(n, _)| n.trim_end_matches('.') == name),
            "{name} not asked: {asked:?}"
        );
    }
}

#[test]
fn dns_not_answering_is_a_temporary_failure() {
    require_tool!("python3");
    // A nameserver that never answers.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let s = server(silent.local_addr().unwrap(), "", "");
    let msg = message("someone@remote.test", "dns-down", "");
    let t0 = Instant::now();
    let (code, text) = smtplib_send(&s, "helo.test", "someone@remote.test", &msg);
    assert_eq!(code, 451, "{text}\n{}", s.log());
    assert!(text.starts_with("4.7."), "{text}");
    assert!(t0.elapsed() < Duration::from_secs(15), "{:?}", t0.elapsed());
    let mut p = s.pop3_login(DEMO_USER, DEMO_PASS);
    assert_eq!(p.stat().0, 0, "nothing stored");
    p.quit();
    // The same server takes our user's submission unchecked.
    submit(&s, DEMO_USER, DEMO_USER, "submitted");
    let msgs = poplib_messages(&s);
    assert_eq!(msgs.len(), 1);
    assert!(
        fields(&msgs[0], "Authentication-Results").is_empty(),
        "{}",
        msgs[0]
    );
}

#[test]
fn trusted_networks_are_not_checked() {
    require_tool!("python3");
    // Any check would time out against this nameserver and give a 451.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let s = server(
        silent.local_addr().unwrap(),
        "trusted_networks = [\"127.0.0.0/8\"]",
        "",
    );
    submit(&s, DEMO_USER, DEMO_USER, "submitted");
    let msg = message("app@example.test", "trusted", "");
    assert_eq!(
        smtplib_send(&s, "helo.test", "app@example.test", &msg).0,
        250
    );
    let msgs = poplib_messages(&s);
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    for m in &msgs {
        assert!(fields(m, "Authentication-Results").is_empty(), "{m}");
    }
    assert!(!s.stderr_text().contains("trust checks"), "{}", s.log());
}

#[test]
fn large_and_utf8_messages_are_checked_and_downgraded() {
    if !have_dkimpy() {
        return;
    }
    let dns = TestDns::start(zone());
    let s = server(dns.addr, "", "");

    // A body past the spool's memory limit: read back from its file for
    // the checks, and stored after the stamped header.
    let line = format!("{}\r\n", "0123456789".repeat(7));
    let body = line.repeat(6000);
    let big = signed(&message("a@sender.test", "big", "").replace("Hello.\r\n", &body));
    assert_eq!(
        smtplib_send(&s, "helo.test", "a@sender.test", &big).0,
        250,
        "{}",
        s.log()
    );

    // A UTF-8 header (SMTPUTF8): clients without UTF8 get the downgrade of
    // the stamped header.
    let thai = signed(&message("a@sender.test", "สวัสดี", ""));
    let path = s.path("thai.eml");
    write_file(&path, thai.as_bytes());
    let out = python(
        r#"
import smtplib, sys
c = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), local_hostname='helo.test', timeout=30)
c.sendmail('a@sender.test', [sys.argv[2]], open(sys.argv[3], 'rb').read(), mail_options=['SMTPUTF8'])
c.quit()
print('OK')
"#,
        &[&s.smtp_port.to_string(), DEMO_USER, path.to_str().unwrap()],
        PY_TIMEOUT,
    );
    assert_py_ok(&out, "SMTPUTF8 send");

    let msgs = s.fetch_all(DEMO_USER, DEMO_PASS);
    assert_eq!(msgs.len(), 2);
    let big_stored = String::from_utf8_lossy(&msgs[0]);
    assert_eq!(result_of(&our_results(&big_stored), "dkim"), "pass");
    assert!(big_stored.ends_with(&format!("\r\n\r\n{body}.leading dot\r\n\r\n")));
    let legacy = String::from_utf8_lossy(&msgs[1]);
    assert!(legacy.is_ascii(), "{legacy}");
    assert!(
        fields(&legacy, "Subject")[0].starts_with("=?UTF-8?"),
        "{legacy}"
    );
    assert_eq!(result_of(&our_results(&legacy), "dkim"), "pass", "{legacy}");
    assert_eq!(
        result_of(&our_results(&legacy), "dmarc"),
        "pass",
        "{legacy}"
    );

    // A client with UTF8 gets it as stored.
    let mut p = s.pop3();
    p.ok("UTF8");
    p.ok(&format!("USER {DEMO_USER}"));
    p.ok(&format!("PASS {DEMO_PASS}"));
    let raw = String::from_utf8(p.retr(2)).unwrap();
    p.quit();
    assert_eq!(fields(&raw, "Subject"), ["สวัสดี"]);
    assert_eq!(result_of(&our_results(&raw), "dkim"), "pass");
}

/// Checks hold their message in memory; `trust.check_memory` bounds how
/// much at once. Two 600 KiB messages checked at the same moment with a
/// 1 MiB budget: the second waits for the first (whose DKIM key lookup
/// takes `dns_timeout`), and both are then accepted.
#[test]
fn checks_wait_for_room_in_the_memory_budget() {
    if !have_dkimpy() {
        return;
    }
    let dns = TestDns::start(zone());
    let s = server(dns.addr, "", "check_memory = \"1M\"\n");
    let line = format!("{}\r\n", "0123456789".repeat(7));
    let body = line.repeat(600 * 1024 / line.len());
    let slow = |n: usize| {
        let m = message("a@sender.test", &format!("big{n}"), "").replace("Hello.\r\n", &body);
        signed_with(&m, "sender.test", "slow")
    };
    let (one, two) = (slow(1), slow(2));
    let replies = std::thread::scope(|scope| {
        let a = scope.spawn(|| smtplib_send(&s, "helo.test", "a@sender.test", &one));
        let b = scope.spawn(|| smtplib_send(&s, "helo.test", "a@sender.test", &two));
        [a.join().unwrap(), b.join().unwrap()]
    });
    for (code, text) in &replies {
        assert_eq!(*code, 250, "{text}\n{}", s.log());
    }
    let log = s.log();
    assert_eq!(
        log.matches("trust checks waited for room").count(),
        1,
        "one of the two waited: {log}"
    );
    let msgs = poplib_messages(&s);
    assert_eq!(msgs.len(), 2);
    for m in &msgs {
        assert_eq!(result_of(&our_results(m), "dkim"), "temperror", "{m}");
        assert_eq!(result_of(&our_results(m), "dmarc"), "pass", "{m}");
    }
}
