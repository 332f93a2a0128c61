//! Vacation auto-replies (RFC 3834) on the real binary: set by the CLI,
//! triggered by smtplib from a local user (the reply read back with poplib
//! and parsed with Python's `email`) and from other servers (the reply
//! queued with the null sender); once per sender; never to `<>`, lists,
//! automatic mail or a Bcc; only within its dates.

mod common;

use common::*;
use serde_json::Value;
use std::time::Duration;

const PY: Duration = Duration::from_secs(60);
const PW: &str = "pass-1234";
const THAI_TEXT: &str = "สวัสดีค่ะ ดิฉันลาพักร้อนจนถึงวันจันทร์\nจะตอบกลับเมื่อกลับมา\n";
const THAI_SUBJECT: &str = "ไม่อยู่ที่ออฟฟิศ";

fn server() -> Server {
    // Mail for remote.test goes to a closed port and waits an hour there,
    // so the queue shows every reply to it.
    let closed = free_port();
    let s = Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tls_listeners: true,
            tables: format!(
                "[delivery]\nretry = [\"1h\"]\nroutes = {{ \"remote.test\" = \"127.0.0.1:{closed}\" }}\n"
            ),
            ..ExtraConfig::default()
        },
    );
    s.add_domain("away.test");
    for u in ["anna@away.test", "ben@away.test"] {
        s.add_user(u, PW, &[]);
    }
    s.cli(&["alias", "add", "info@away.test", "anna@away.test"])
        .assert_ok("alias add");
    s
}

/// One message by smtplib: logged in on submission as `login`, or from
/// another server on port 25; `mail_from` "" is `<>`.
fn send(s: &Server, login: Option<&str>, mail_from: &str, rcpt: &str, message: &str) {
    let port = match login {
        Some(_) => s.submission_port,
        None => s.smtp_port,
    }
    .to_string();
    let out = python(
        r#"
import smtplib, sys
port, login, pw, mail_from, rcpt, msg = sys.argv[1:7]
c = smtplib.SMTP('127.0.0.1', int(port), local_hostname='client.remote.test', timeout=30)
c.ehlo()
if login:
    c.login(login, pw)
c.sendmail(mail_from, [rcpt], msg.encode())
c.quit()
print("OK")
"#,
        &[&port, login.unwrap_or(""), PW, mail_from, rcpt, message],
        PY,
    );
    assert_py_ok(&out, "smtplib");
}

/// A message with the given extra header lines.
fn message(from: &str, to: &str, id: &str, extra: &str) -> String {
    format!(
        "From: <{from}>\r\nTo: <{to}>\r\nSubject: Meeting on Friday\r\nMessage-ID: <{id}>\r\n{extra}\r\nHello Anna.\r\n"
    )
}

/// Every message of a mailbox by poplib, parsed by `email`: the fields a
/// reply carries, its decoded subject and text.
fn mailbox(s: &Server, user: &str) -> Vec<Value> {
    let out = python(
        r#"
import poplib, sys, json, email, email.policy
p = poplib.POP3('127.0.0.1', int(sys.argv[1]), timeout=30)
p.user(sys.argv[2]); p.pass_(sys.argv[3])
out = []
for i in range(1, len(p.list()[1]) + 1):
    raw = b"\r\n".join(p.retr(i)[1])
    m = email.message_from_bytes(raw, policy=email.policy.default)
    body = m.get_body(('plain',))
    out.append({k: (str(m[k]) if m[k] is not None else None) for k in
        ['From', 'To', 'Subject', 'Auto-Submitted', 'In-Reply-To', 'References', 'Return-Path']}
        | {'text': body.get_content() if body is not None else None})
p.quit()
print(json.dumps(out))
"#,
        &[&s.pop3_port.to_string(), user, PW],
        PY,
    );
    assert!(out.status.success(), "poplib: {}", out.describe());
    serde_json::from_str(out.out().trim()).unwrap()
}

fn replies(s: &Server, user: &str) -> Vec<Value> {
    mailbox(s, user)
        .into_iter()
        .filter(|m| m["Auto-Submitted"] == "auto-replied")
        .collect()
}

/// The queue's (sender, recipient) pairs.
fn queued(s: &Server) -> Vec<(String, String)> {
    let out = s.cli(&["--json", "queue", "list"]);
    out.assert_ok("queue list");
    let v: Value = serde_json::from_str(out.out().trim()).unwrap();
    let mut pairs: Vec<(String, String)> = v
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| {
            let sender = e["sender"].as_str().unwrap().to_string();
            e["recipients"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |r| (sender.clone(), r["address"].as_str().unwrap().to_string()))
        })
        .collect();
    pairs.sort();
    pairs
}

/// Waits until the server decided on `n` messages for vacation replies.
fn decided(s: &Server, n: usize) {
    assert!(
        s.wait_log_count("vacation reply", n, Duration::from_secs(20)),
        "{} vacation decisions expected: {}",
        n,
        s.log()
    );
}

fn set_thai_vacation(s: &Server, extra: &[&str]) -> Value {
    let file = s.path("away.txt");
    std::fs::write(&file, THAI_TEXT).unwrap();
    let mut args = vec![
        "--json",
        "user",
        "vacation",
        "anna@away.test",
        "--subject",
        THAI_SUBJECT,
        "--text-file",
        file.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = s.cli(&args);
    out.assert_ok("user vacation");
    serde_json::from_str(out.out().trim()).unwrap()
}

#[test]
fn a_local_sender_gets_one_thai_reply_and_a_remote_one_a_queued_reply() {
    if !have_tool("python3", module_path!()) {
        return;
    }
    let s = server();
    let set = set_thai_vacation(&s, &[]);
    assert_eq!(set["vacation"]["text"], THAI_TEXT, "{set}");
    assert_eq!(set["vacation"]["interval_days"], 7);
    let shown = s.cli(&["--json", "user", "vacation", "anna@away.test"]);
    shown.assert_ok("user vacation (show)");
    let shown: Value = serde_json::from_str(shown.out().trim()).unwrap();
    assert_eq!(shown["vacation"]["subject"], THAI_SUBJECT);

    // A local user, twice: one reply, in ben's mailbox.
    for i in 0..2 {
        let m = message(
            "ben@away.test",
            "anna@away.test",
            &format!("ben-{i}@away.test"),
            "",
        );
        send(
            &s,
            Some("ben@away.test"),
            "ben@away.test",
            "anna@away.test",
            &m,
        );
    }
    decided(&s, 2);
    let got = replies(&s, "ben@away.test");
    assert_eq!(got.len(), 1, "{got:?}\n{}", s.log());
    let r = &got[0];
    assert_eq!(r["Subject"], THAI_SUBJECT);
    // The text as written, with the CRLF line ends of mail.
    assert_eq!(r["text"], THAI_TEXT.replace('\n', "\r\n"));
    assert_eq!(r["In-Reply-To"], "<ben-0@away.test>");
    assert_eq!(r["References"], "<ben-0@away.test>");
    assert_eq!(r["Return-Path"], "<>");
    assert!(
        r["From"].as_str().unwrap().contains("anna@away.test"),
        "{r}"
    );
    assert_eq!(mailbox(&s, "anna@away.test").len(), 2);

    // Other servers: the same sender twice, through the alias and a
    // sub-address too — one queued reply each, with the null sender.
    let carol = |i: usize| {
        message(
            "carol@remote.test",
            "info@away.test",
            &format!("c{i}@remote.test"),
            "",
        )
    };
    send(&s, None, "carol@remote.test", "info@away.test", &carol(0));
    // The same sender in other case: the same sender.
    send(&s, None, "Carol@REMOTE.test", "anna@away.test", &carol(1));
    let tagged = message(
        "dan@remote.test",
        "Anna+Trips@AWAY.test",
        "d@remote.test",
        "",
    );
    send(&s, None, "dan@remote.test", "anna+trips@away.test", &tagged);
    // And none of these.
    let none = [
        (
            "",
            message("x@remote.test", "anna@away.test", "n1@remote.test", ""),
        ),
        (
            "bulk@remote.test",
            message(
                "bulk@remote.test",
                "anna@away.test",
                "n2@remote.test",
                "Precedence: bulk\r\n",
            ),
        ),
        (
            "list@remote.test",
            message(
                "list@remote.test",
                "anna@away.test",
                "n3@remote.test",
                "List-Id: Thai travel <travel.lists.remote.test>\r\n",
            ),
        ),
        (
            "robot@remote.test",
            message(
                "robot@remote.test",
                "anna@away.test",
                "n4@remote.test",
                "Auto-Submitted: auto-generated\r\n",
            ),
        ),
        (
            "bcc@remote.test",
            message(
                "bcc@remote.test",
                "someone@remote.test",
                "n5@remote.test",
                "",
            ),
        ),
        (
            "owner-travel@remote.test",
            message(
                "owner-travel@remote.test",
                "anna@away.test",
                "n6@remote.test",
                "",
            ),
        ),
        (
            "news-request@remote.test",
            message(
                "news-request@remote.test",
                "anna@away.test",
                "n7@remote.test",
                "",
            ),
        ),
    ];
    for (from, m) in &none {
        send(&s, None, from, "anna@away.test", m);
    }
    decided(&s, 2 + 3 + none.len());
    // Give a stray reply the time to show.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        queued(&s),
        vec![
            (String::new(), "carol@remote.test".to_string()),
            (String::new(), "dan@remote.test".to_string()),
        ],
        "{}",
        s.log()
    );
    assert_eq!(mailbox(&s, "anna@away.test").len(), 2 + 3 + none.len());

    // Off: no more replies, and it shows off.
    s.cli(&["user", "vacation", "anna@away.test", "--off"])
        .assert_ok("vacation --off");
    let shown = s.cli(&["user", "vacation", "anna@away.test"]);
    assert!(shown.out().contains("off"), "{}", shown.describe());
    send(
        &s,
        None,
        "erin@remote.test",
        "anna@away.test",
        &message("erin@remote.test", "anna@away.test", "e@remote.test", ""),
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(queued(&s).len(), 2);
}

#[test]
fn replies_only_within_the_dates_and_the_cli_refuses_bad_settings() {
    if !have_tool("python3", module_path!()) {
        return;
    }
    let s = server();
    let today = chrono::Utc::now().date_naive();
    let tomorrow = (today + chrono::Days::new(1)).to_string();
    let yesterday = (today - chrono::Days::new(1)).to_string();
    let week_ago = (today - chrono::Days::new(7)).to_string();
    set_thai_vacation(&s, &["--from", &tomorrow]);
    let m = |who: &str| {
        message(
            who,
            "anna@away.test",
            &format!("{}@x", who.replace('@', ".")),
            "",
        )
    };
    send(
        &s,
        None,
        "early@remote.test",
        "anna@away.test",
        &m("early@remote.test"),
    );
    decided(&s, 1);
    set_thai_vacation(&s, &["--from", &week_ago, "--until", &yesterday]);
    send(
        &s,
        None,
        "late@remote.test",
        "anna@away.test",
        &m("late@remote.test"),
    );
    decided(&s, 2);
    assert!(s.log().matches("OutsideDates").count() >= 2, "{}", s.log());
    set_thai_vacation(&s, &["--until", &today.to_string(), "--interval-days", "1"]);
    send(
        &s,
        None,
        "ontime@remote.test",
        "anna@away.test",
        &m("ontime@remote.test"),
    );
    decided(&s, 3);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        queued(&s),
        vec![(String::new(), "ontime@remote.test".to_string())],
        "{}",
        s.log()
    );

    // Bad settings: a clear message, exit status 1, nothing changed.
    let big = s.path("big.txt");
    std::fs::write(&big, "ก".repeat(30_000)).unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--text", "away", "--from", "2027-02-30"],
            "invalid date",
        ),
        (
            vec![
                "--text",
                "away",
                "--from",
                "2027-01-10",
                "--until",
                "2027-01-09",
            ],
            "before --from",
        ),
        (vec!["--text", "  "], "empty"),
        (vec!["--text-file", big.to_str().unwrap()], "at most 65536"),
        (
            vec!["--text", "away", "--interval-days", "0"],
            "--interval-days",
        ),
        (vec!["--subject", "x"], "--text"),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["user", "vacation", "anna@away.test"];
        args.extend_from_slice(&extra);
        let out = s.cli(&args);
        assert_eq!(out.code(), Some(1), "{extra:?}: {}", out.describe());
        assert!(out.err().contains(needle), "{extra:?}: {}", out.describe());
        assert!(!out.err().contains("panicked"), "{}", out.describe());
    }
    let out = s.cli(&["user", "vacation", "nobody@away.test", "--text", "x"]);
    assert_eq!(out.code(), Some(1), "{}", out.describe());
    let shown = s.cli(&["--json", "user", "vacation", "anna@away.test"]);
    let shown: Value = serde_json::from_str(shown.out().trim()).unwrap();
    assert_eq!(shown["vacation"]["interval_days"], 1, "{shown}");
}

/// A reply to another server leaves through the queue DKIM-signed for
/// the mailbox's domain, though its envelope sender is `<>`: dkimpy
/// verifies it as the remote server (a second praisani) received it.
#[test]
fn a_reply_to_another_server_is_dkim_signed() {
    if !have_tool("python3", module_path!())
        || !have_python_module("dkim", "pip install dkimpy", module_path!())
    {
        return;
    }
    let b = Server::start_default();
    b.add_domain("remote.test");
    b.add_user("r@remote.test", PW, &[]);
    let a = Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tables: format!(
                "[delivery]\nroutes = {{ \"remote.test\" = \"127.0.0.1:{}\" }}\n",
                b.smtp_port
            ),
            ..ExtraConfig::default()
        },
    );
    a.add_domain("away.test");
    a.add_user("anna@away.test", PW, &[]);
    let key = a.cli(&["--json", "dkim", "generate", "away.test"]);
    key.assert_ok("dkim generate");
    set_thai_vacation(&a, &[]);
    let m = message("r@remote.test", "anna@away.test", "r1@remote.test", "");
    send(&a, None, "r@remote.test", "anna@away.test", &m);
    let reply = wait_for_reply(&b);
    let path = b.path("reply.eml");
    std::fs::write(&path, &reply).unwrap();
    let out = python(
        r#"
import dkim, json, sys
msg = open(sys.argv[1], 'rb').read()
r = json.loads(sys.argv[2])['record']
txt = {(r['name'].rstrip('.') + '.').encode(): r['value'].encode()}
def dns(name, timeout=5):
    return txt.get(name if name.endswith(b'.') else name + b'.')
d = dkim.DKIM(msg)
assert d.verify(dnsfunc=dns), "signature does not verify"
assert b'd=away.test' in msg, "signed for another domain"
print("OK")
"#,
        &[path.to_str().unwrap(), key.out().trim()],
        PY,
    );
    assert_py_ok(&out, "dkimpy");
    let got = replies(&b, "r@remote.test");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["Return-Path"], "<>");
    assert_eq!(got[0]["Subject"], THAI_SUBJECT);
}

fn wait_for_reply(b: &Server) -> Vec<u8> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(m) = b.fetch_all("r@remote.test", PW).into_iter().next() {
            return m;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no reply arrived: {}",
            b.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
