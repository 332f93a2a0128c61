//! Quotas end to end: RCPT-time refusals (452 4.2.2 / 552 5.2.2), the
//! exact check at the end of DATA, usage through delivery and deletion,
//! warnings in the account's language once per threshold crossing, and
//! bounces for a full mailbox among several recipients.

mod common;

use common::*;
use std::time::Duration;

fn message(size: usize, subject: &str) -> Vec<u8> {
    let mut m = format!("From: s@sender.test\r\nTo: q@example.test\r\nSubject: {subject}\r\n\r\n")
        .into_bytes();
    while m.len() < size {
        m.extend_from_slice(
            b"0123456789012345678901234567890123456789012345678901234567890123456789\r\n",
        );
    }
    m
}

fn used(s: &Server, addr: &str) -> (u64, u64) {
    let out = s.cli(&["--json", "user", "show", addr]);
    out.assert_ok("user show");
    let v: serde_json::Value = serde_json::from_str(&out.out()).expect("json");
    (
        v["used_bytes"].as_u64().unwrap(),
        v["messages"].as_u64().unwrap(),
    )
}

#[test]
fn full_mailbox_is_refused_with_the_right_codes_and_usage_stays_exact() {
    let s = Server::start_default();
    s.add_user("q@example.test", "qpw", &["--quota", "8K"]);
    let mut c = s.smtp();
    c.ehlo("client.test");
    // SIZE= larger than the quota itself: never (552), at RCPT.
    c.expect("MAIL FROM:<s@sender.test> SIZE=9000", 250);
    c.expect("RCPT TO:<q@example.test>", 552);
    c.expect("RSET", 250);
    c.send_mail("s@sender.test", &["q@example.test"], &message(3000, "one"))
        .unwrap();
    c.send_mail("s@sender.test", &["q@example.test"], &message(3000, "two"))
        .unwrap();
    // About 6.5K of 8K used: a declared 3000 does not fit now (452).
    c.expect("MAIL FROM:<s@sender.test> SIZE=3000", 250);
    let r = c.expect("RCPT TO:<q@example.test>", 452);
    assert!(r.lines.join(" ").contains("4.2.2"), "{r:?}");
    c.expect("RSET", 250);
    // Without SIZE= it passes RCPT, and the check at the end of DATA,
    // inside the store's commit, refuses it: nothing is stored.
    c.expect("MAIL FROM:<s@sender.test>", 250);
    c.expect("RCPT TO:<q@example.test>", 250);
    c.expect("DATA", 354);
    let mut data = message(3000, "three");
    data.extend_from_slice(b".\r\n");
    c.send_raw(&data).unwrap();
    let r = c.reply().unwrap();
    assert_eq!(r.code, 452, "{r:?}");
    assert!(r.lines.join(" ").contains("4.2.2"), "{r:?}");
    c.quit();

    let (bytes, count) = used(&s, "q@example.test");
    assert_eq!(count, 2);
    let mut p = s.pop3_login("q@example.test", "qpw");
    let list = p.list();
    assert_eq!(list.len(), 2);
    assert_eq!(bytes, list.iter().map(|(_, n)| n).sum::<u64>());
    let first = list[0].1;
    p.ok("DELE 1");
    p.quit();
    assert_eq!(used(&s, "q@example.test"), (bytes - first, 1));

    // The message count limit.
    s.cli(&[
        "user",
        "quota",
        "q@example.test",
        "unlimited",
        "--messages",
        "2",
    ])
    .assert_ok("user quota");
    let mut c = s.smtp();
    c.ehlo("client.test");
    c.send_mail("s@sender.test", &["q@example.test"], &message(100, "four"))
        .unwrap();
    c.expect("MAIL FROM:<s@sender.test>", 250);
    c.expect("RCPT TO:<q@example.test>", 452);
    c.quit();
    // Two messages, then the 95% (here 100%) warning, which is delivered
    // past the limit: a warning is never refused.
    wait_for("the warning past the limit", 20, || {
        let shown = s.cli(&["user", "show", "q@example.test"]).out();
        shown.contains("messages: 3 (limit 2)").then_some(())
    });
}

#[test]
fn domain_quota_counts_every_mailbox_of_the_domain() {
    let s = Server::start_default();
    s.add_user("a@example.test", "apw", &[]);
    s.add_user("b@example.test", "bpw", &[]);
    s.cli(&["domain", "quota", "example.test", "6K"])
        .assert_ok("domain quota");
    let mut c = s.smtp();
    c.ehlo("client.test");
    c.send_mail("s@sender.test", &["a@example.test"], &message(4000, "a"))
        .unwrap();
    c.expect("MAIL FROM:<s@sender.test> SIZE=4000", 250);
    c.expect("RCPT TO:<b@example.test>", 452);
    c.quit();
    let list = s.cli(&["--json", "domain", "list"]);
    let v: serde_json::Value = serde_json::from_str(&list.out()).unwrap();
    assert_eq!(v[0]["quota_bytes"], 6144);
    assert_eq!(
        v[0]["used_bytes"].as_u64(),
        Some(used(&s, "a@example.test").0)
    );
}

/// Fetches every message of a mailbox and prints, per message, the
/// decoded Subject, Content-Language and text, through Python's email
/// package (an independent MIME decoder).
const DECODE: &str = r#"
import email, email.policy, poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]))
p.user(sys.argv[2]); p.pass_(sys.argv[3])
for i in range(1, len(p.list()[1]) + 1):
    m = email.message_from_bytes(b"\r\n".join(p.retr(i)[1]), policy=email.policy.default)
    print("SUBJECT:", m["Subject"])
    print("LANG:", m["Content-Language"])
    print("AUTO:", m["Auto-Submitted"])
    body = m.get_body(("plain",))
    print(body.get_content() if body else "")
    print("=====")
p.quit()
"#;

fn decoded(s: &Server, user: &str, pass: &str) -> Vec<String> {
    let out = python(
        DECODE,
        &[&s.pop3_port.to_string(), user, pass],
        Duration::from_secs(20),
    );
    assert!(out.status.success(), "{}", out.describe());
    out.out()
        .split("=====\n")
        .filter(|m| !m.trim().is_empty())
        .map(str::to_string)
        .collect()
}

fn warnings(msgs: &[String]) -> Vec<&String> {
    msgs.iter()
        .filter(|m| m.contains("AUTO: auto-generated"))
        .collect()
}

#[test]
fn warnings_in_thai_once_per_crossing_rearmed_and_copied() {
    let s = Server::start_default();
    s.add_domain("ตัวอย่าง.ไทย");
    s.add_user(
        "สมชาย@ตัวอย่าง.ไทย",
        "pw-1",
        &["--quota", "40K", "--lang", "th"],
    );
    s.add_user("admin@ตัวอย่าง.ไทย", "pw-2", &[]);
    s.cli(&[
        "user",
        "set",
        "สมชาย@ตัวอย่าง.ไทย",
        "--warn-to",
        "admin@ตัวอย่าง.ไทย",
    ])
    .assert_ok("user set");
    let user = "สมชาย@ตัวอย่าง.ไทย";
    let mut c = s.smtp();
    c.ehlo("client.test");
    let send = |c: &mut Smtp, size: usize, subject: &str| {
        c.cmd("MAIL FROM:<s@sender.test> SMTPUTF8").unwrap();
        c.expect(&format!("RCPT TO:<{user}>"), 250);
        c.expect("DATA", 354);
        let mut data = message(size, subject);
        data.extend_from_slice(b".\r\n");
        c.send_raw(&data).unwrap();
        assert_eq!(c.reply().unwrap().code, 250);
    };
    send(&mut c, 28000, "fill-1"); // about 70%: no warning
    send(&mut c, 5000, "fill-2"); // over 80%: one warning (itself ~3K)
    let msgs = wait_for("the 80% warning", 20, || {
        let m = decoded(&s, user, "pw-1");
        (warnings(&m).len() == 1).then_some(m)
    });
    let w = warnings(&msgs)[0];
    assert!(w.contains("LANG: th"), "{w}");
    assert!(w.contains("SUBJECT: กล่องจดหมายของคุณเต็มแล้ว 8"), "{w}");
    assert!(w.contains("40 KB"), "the limit is stated: {w}");
    assert!(w.contains("เก็บสำเนาข้อความไว้บนเซิร์ฟเวอร์"), "what to do: {w}");
    assert!(w.contains("80%"), "{w}");
    // The alternate address got a copy.
    let alt = wait_for("the copy", 20, || {
        let m = decoded(&s, "admin@ตัวอย่าง.ไทย", "pw-2");
        (!m.is_empty()).then_some(m)
    });
    assert_eq!(warnings(&alt).len(), 1);

    // Still in the 80% band: no second warning.
    send(&mut c, 500, "fill-3");
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(warnings(&decoded(&s, user, "pw-1")).len(), 1);

    // Over 95%: the next one, although the warning itself overfilled it.
    send(&mut c, 2500, "fill-4");
    wait_for("the 95% warning", 20, || {
        (warnings(&decoded(&s, user, "pw-1")).len() == 2).then_some(())
    });
    // Full now: ordinary mail is deferred, never lost.
    c.cmd("MAIL FROM:<s@sender.test> SMTPUTF8").unwrap();
    c.expect(&format!("RCPT TO:<{user}>"), 452);
    c.expect("RSET", 250);

    // Deleting everything re-arms the thresholds at the next delivery.
    let mut p = s.pop3_login(user, "pw-1");
    let n = p.stat().0;
    for i in 1..=n {
        p.ok(&format!("DELE {i}"));
    }
    p.quit();
    send(&mut c, 4000, "small"); // re-arms (level 0)
    send(&mut c, 30000, "big"); // over 80% again
    wait_for("a new 80% warning", 20, || {
        (warnings(&decoded(&s, user, "pw-1")).len() == 1).then_some(())
    });
    c.quit();
}

#[test]
fn a_full_mailbox_among_several_recipients_gets_a_bounce() {
    let s = Server::start_default();
    s.add_user("full@example.test", "fpw", &["--quota", "4K"]);
    s.add_user("ok@example.test", "opw", &[]);
    let mut c = s.smtp();
    c.ehlo("client.test");
    c.send_mail(
        "s@sender.test",
        &["full@example.test"],
        &message(3000, "filler"),
    )
    .unwrap();
    // Both pass RCPT (no SIZE=); at the end of DATA only one has room.
    c.send_mail(
        DEMO_USER,
        &["full@example.test", "ok@example.test"],
        &message(2000, "to-both"),
    )
    .unwrap();
    c.quit();
    let ok = s.fetch_all("ok@example.test", "opw");
    assert_eq!(ok.len(), 1);
    assert_eq!(s.fetch_all("full@example.test", "fpw").len(), 1);
    let bounce = wait_for("the bounce", 20, || {
        s.fetch_all(DEMO_USER, DEMO_PASS)
            .into_iter()
            .find(|m| contains(m, b"multipart/report"))
    });
    let text = String::from_utf8_lossy(&bounce);
    assert!(
        text.contains("Final-Recipient: rfc822;full@example.test"),
        "{text}"
    );
    assert!(text.contains("Status: 5.2.2"), "{text}");
    assert!(!text.contains("rfc822;ok@example.test"), "{text}");
}

#[test]
fn a_full_mailbox_beside_a_remote_recipient_gets_a_bounce() {
    let s = Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tls_listeners: true,
            tables: format!(
                "[delivery]\nretry = [\"1h\"]\nroutes = {{ \"remote.test\" = \"127.0.0.1:{}\" }}\n",
                free_port()
            ),
            ..ExtraConfig::default()
        },
    );
    s.add_user("full@example.test", "fpw", &["--quota", "4K"]);
    let mut c = s.smtp();
    c.ehlo("client.test");
    c.send_mail(
        "s@sender.test",
        &["full@example.test"],
        &message(3000, "filler"),
    )
    .unwrap();
    c.quit();
    // The local copy cannot be stored, the remote one is queued: 250, and
    // the refusal comes back as a bounce instead of vanishing.
    let mut c = s.submission();
    c.ehlo("client.test");
    c.expect(
        &format!("AUTH PLAIN {}", plain_b64(DEMO_USER, DEMO_PASS)),
        235,
    );
    let mut m = format!("From: {DEMO_USER}\r\nTo: full@example.test\r\nSubject: split\r\n\r\n")
        .into_bytes();
    for _ in 0..25 {
        m.extend_from_slice(&[b'z'; 78]);
        m.extend_from_slice(b"\r\n");
    }
    c.send_mail(DEMO_USER, &["full@example.test", "r@remote.test"], &m)
        .unwrap();
    c.quit();
    let bounce = s
        .fetch_all(DEMO_USER, DEMO_PASS)
        .into_iter()
        .find(|m| contains(m, b"multipart/report"))
        .expect("the bounce is stored before the 250");
    let text = String::from_utf8_lossy(&bounce);
    assert!(
        text.contains("Final-Recipient: rfc822;full@example.test"),
        "{text}"
    );
    assert!(text.contains("Status: 5.2.2"), "{text}");
    assert_eq!(s.fetch_all("full@example.test", "fpw").len(), 1);
    let q = s.cli(&["--json", "queue", "list"]);
    assert!(q.out().contains("r@remote.test"), "{}", q.describe());
}
