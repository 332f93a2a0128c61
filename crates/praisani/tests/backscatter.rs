//! Backscatter: mail from other servers for full mailboxes is refused in
//! the SMTP dialogue wherever it can be; the bounce that must still be
//! written (a message accepted for some recipients, refused for others at
//! the end of DATA) carries the header only, respects the quota of a local
//! sender's mailbox, and goes to an unauthenticated sender at most once per
//! hour. Driven with Python's smtplib; bounces to other servers are caught
//! by Postfix's smtp-sink.

#[macro_use]
mod common;

use common::*;
use std::time::Duration;

/// A body of about `size` octets whose every line carries `marker`.
fn message(size: usize, subject: &str, marker: &str) -> String {
    let mut m = format!("From: s@forged.test\r\nTo: ok@example.test\r\nSubject: {subject}\r\n\r\n");
    while m.len() < size {
        m.push_str(marker);
        m.push_str(" 0123456789012345678901234567890123456789\r\n");
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

/// Sends one message with smtplib's low-level calls, as a forger does: no
/// `SIZE=` on MAIL, so nothing is known about the size at RCPT. Prints the
/// RCPT replies and the DATA reply.
const FORGE: &str = r#"
import smtplib, sys
port, sender, body = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rcpts = sys.argv[4:]
c = smtplib.SMTP("127.0.0.1", port, timeout=30)
c.ehlo("forger.test")
code, _ = c.mail(sender)
assert code == 250, code
for r in rcpts:
    code, text = c.rcpt(r)
    print("RCPT", r, code, text.decode())
try:
    code, text = c.data(body.encode())
except smtplib.SMTPDataError as e:
    code, text = e.smtp_code, e.smtp_error
print("DATA", code, text.decode())
c.quit()
"#;

fn forge(s: &Server, sender: &str, body: &str, rcpts: &[&str]) -> String {
    let port = s.smtp_port.to_string();
    let mut args = vec![port.as_str(), sender, body];
    args.extend_from_slice(rcpts);
    let out = python(FORGE, &args, Duration::from_secs(30));
    assert!(out.status.success(), "{}", out.describe());
    out.out()
}

/// Postfix's smtp-sink on a free loopback port, keeping each message in a
/// file.
struct Sink {
    port: u16,
    dir: tempfile::TempDir,
    child: std::process::Child,
}

impl Sink {
    fn start() -> Sink {
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
        let port = free_port();
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
        Sink { port, dir, child }
    }

    /// The messages received so far (a file still empty is not written yet).
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

/// A server whose mail for forged.test goes to `sink`, with full@ (4K
/// quota, 3000 octets used) and ok@ (no quota).
fn server_for(sink: &Sink) -> Server {
    let s = Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tables: format!(
                "[delivery]\nretry = [\"1h\"]\nroutes = {{ \"forged.test\" = \"127.0.0.1:{}\" }}\n",
                sink.port
            ),
            ..ExtraConfig::default()
        },
    );
    s.add_user("full@example.test", "fpw", &["--quota", "4K"]);
    s.add_user("ok@example.test", "opw", &[]);
    let filler = message(3000, "filler", "filler");
    s.deliver("s@sender.test", &["full@example.test"], filler.as_bytes());
    s
}

#[test]
fn a_forged_remote_sender_gets_one_headers_only_bounce_per_hour() {
    require_tool!("smtp-sink");
    let sink = Sink::start();
    let s = server_for(&sink);

    // smtplib's sendmail declares SIZE=: the full mailbox is refused at
    // RCPT, in the dialogue, and nobody gets a bounce from us.
    let body = message(2000, "sized", "SIZED-BODY");
    let out = python(
        r#"
import smtplib, sys
c = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
refused = c.sendmail("victim@forged.test", ["full@example.test", "ok@example.test"], sys.argv[2].encode())
print(refused)
c.quit()
"#,
        &[&s.smtp_port.to_string(), &body],
        Duration::from_secs(30),
    );
    assert!(out.status.success(), "{}", out.describe());
    assert!(
        out.out().contains("full@example.test") && out.out().contains("452"),
        "{}",
        out.describe()
    );

    // Without SIZE= both pass RCPT; only ok@ has room at the end of DATA.
    let body = message(2000, "forged", "WHOLE-BODY-LINE");
    let r = forge(
        &s,
        "victim@forged.test",
        &body,
        &["full@example.test", "ok@example.test"],
    );
    assert!(r.contains("DATA 250"), "{r}");
    let bounce = wait_for("the bounce at the sink", 30, || {
        let m = sink.messages();
        (!m.is_empty()).then_some(m)
    });
    assert_eq!(bounce.len(), 1, "{bounce:?}");
    let text = &bounce[0];
    assert!(
        text.contains("Final-Recipient: rfc822;full@example.test"),
        "{text}"
    );
    assert!(text.contains("text/rfc822-headers"), "headers only: {text}");
    assert!(
        text.contains("Subject: forged"),
        "the header is returned: {text}"
    );
    assert!(
        !text.contains("WHOLE-BODY-LINE"),
        "the body must not be returned: {text}"
    );
    assert!(!text.contains("SIZED-BODY"), "{text}");

    // Within the hour the same sender (however spelled) gets no second
    // one: with a full mailbox among the recipients the whole message is
    // deferred instead (the sending server keeps it, nothing is lost) ...
    let body = message(2000, "again", "SECOND-BODY");
    let r = forge(
        &s,
        "Victim@FORGED.test",
        &body,
        &["full@example.test", "ok@example.test"],
    );
    assert!(r.contains("DATA 452"), "{r}");
    assert!(r.contains("4.2.2"), "{r}");
    // ... while mail that fits everywhere is accepted as ever.
    let r = forge(&s, "victim@forged.test", &body, &["ok@example.test"]);
    assert!(r.contains("DATA 250"), "{r}");
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        !queue_json(&s).contains("forged.test"),
        "{}",
        queue_json(&s)
    );
    assert_eq!(sink.messages().len(), 1, "{:?}", sink.messages());
    assert_eq!(s.fetch_all("ok@example.test", "opw").len(), 3);
    assert_eq!(s.fetch_all("full@example.test", "fpw").len(), 1);
}

#[test]
fn a_forged_local_sender_never_pushes_its_mailbox_over_quota() {
    // A bounce per second may go to the sender, so that each message
    // tries to store one: the quota alone must keep them out.
    let s = Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tables: "[quota]\nbounce_interval = \"1s\"\n".into(),
            ..ExtraConfig::default()
        },
    );
    s.add_user("full@example.test", "fpw", &["--quota", "4K"]);
    s.add_user("ok@example.test", "opw", &[]);
    s.add_user("victim@example.test", "vpw", &["--quota", "16K"]);
    let filler = message(3000, "filler", "filler");
    s.deliver("s@sender.test", &["full@example.test"], filler.as_bytes());
    let quota = 16 * 1024;
    let mut codes = Vec::new();
    for i in 0..8 {
        let body = message(6000, &format!("forged-{i}"), "WHOLE-BODY-LINE");
        let r = forge(
            &s,
            "victim@example.test",
            &body,
            &["full@example.test", "ok@example.test"],
        );
        codes.push(if r.contains("DATA 250") {
            250
        } else if r.contains("DATA 452") && r.contains("4.2.2") {
            452
        } else {
            panic!("{r}")
        });
        std::thread::sleep(Duration::from_millis(1100));
        let (bytes, _) = used(&s, "victim@example.test");
        assert!(
            bytes <= quota,
            "message {i}: the victim's mailbox holds {bytes} of {quota}"
        );
    }
    // Bounces while they fit, then the messages are deferred: once the
    // sender has no room for a bounce, nothing is accepted that one would
    // have to report.
    let accepted = codes.iter().filter(|&&c| c == 250).count();
    assert!(accepted >= 1, "{codes:?}");
    assert_eq!(codes.last(), Some(&452), "{codes:?}");
    assert!(codes.windows(2).all(|w| w[0] <= w[1]), "{codes:?}");
    let bounces = s.fetch_all("victim@example.test", "vpw");
    assert_eq!(bounces.len(), accepted);
    for m in &bounces {
        assert!(
            contains(m, b"text/rfc822-headers"),
            "{}",
            String::from_utf8_lossy(m)
        );
        assert!(
            !contains(m, b"WHOLE-BODY-LINE"),
            "{}",
            String::from_utf8_lossy(m)
        );
    }
    assert_eq!(s.fetch_all("ok@example.test", "opw").len(), accepted);
    assert_eq!(s.fetch_all("full@example.test", "fpw").len(), 1);
}

#[test]
fn mail_for_only_full_mailboxes_is_refused_in_the_dialogue() {
    let s = Server::start_default();
    s.add_user("full@example.test", "fpw", &["--quota", "4K"]);
    s.add_user("full2@example.test", "fpw", &["--quota", "4K"]);
    s.add_user("victim@example.test", "vpw", &[]);
    let filler = message(3000, "filler", "filler");
    s.deliver(
        "s@sender.test",
        &["full@example.test", "full2@example.test"],
        filler.as_bytes(),
    );
    let body = message(2000, "forged", "WHOLE-BODY-LINE");
    let r = forge(
        &s,
        "victim@example.test",
        &body,
        &["full@example.test", "full2@example.test"],
    );
    assert!(r.contains("DATA 452"), "{r}");
    assert!(r.contains("4.2.2"), "{r}");
    // A mailbox already at its quota is refused at RCPT.
    s.add_user("count@example.test", "cpw", &["--messages", "1"]);
    s.deliver("s@sender.test", &["count@example.test"], filler.as_bytes());
    let r = forge(&s, "victim@example.test", &body, &["count@example.test"]);
    assert!(r.contains("RCPT count@example.test 452"), "{r}");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        s.fetch_all("victim@example.test", "vpw").is_empty(),
        "no bounce"
    );

    // The null sender (a bounce itself) never gets a bounce: with a full
    // mailbox among the recipients its message is deferred.
    s.add_user("ok@example.test", "opw", &[]);
    let r = forge(&s, "", &body, &["full@example.test", "ok@example.test"]);
    assert!(
        r.contains("DATA 452"),
        "deferred, as no bounce may report a full mailbox: {r}"
    );
    assert!(s.fetch_all("ok@example.test", "opw").is_empty());
    // Larger than every recipient's quota: refused for good, not deferred.
    let big = message(6000, "big", "WHOLE-BODY-LINE");
    let r = forge(&s, "", &big, &["full@example.test", "full2@example.test"]);
    assert!(r.contains("DATA 552") && r.contains("5.2.2"), "{r}");
    let q = queue_json(&s);
    assert_eq!(q.trim(), "[]", "nothing queued for <>: {q}");
}
