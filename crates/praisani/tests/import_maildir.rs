//! Moving in from Dovecot: mail delivered to a real Dovecot and read there
//! by a leave-on-server client, then `praisani import maildir` of the
//! user's Maildir — praisani shows the UIDLs Dovecot showed, so the client
//! downloads nothing twice.

mod common;

use common::dovecot::{Dovecot, DovecotOpts};
use common::python;
use std::time::Duration;

/// A leave-on-server POP3 client (poplib): logs in over STLS on `port`,
/// prints `uidl<TAB>sha256 of the message` for each message, deletes
/// nothing.
const UIDLS_PY: &str = r#"
import hashlib, poplib, ssl, sys
port, user, pw, tls = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4] == "1"
p = poplib.POP3("127.0.0.1", port, timeout=20)
if tls:
    ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
    p.stls(ctx)
p.user(user); p.pass_(pw)
for line in p.uidl()[1]:
    n, u = line.decode().split(" ", 1)
    body = b"\r\n".join(p.retr(int(n))[1]) + b"\r\n"
    print(u + "\t" + hashlib.sha256(body).hexdigest())
p.quit()
"#;

/// (uidl, sha256) per message, as a leave-on-server client sees them.
fn pop3_uidls(port: u16, user: &str, pass: &str, tls: bool) -> Vec<(String, String)> {
    let out = python(
        UIDLS_PY,
        &[&port.to_string(), user, pass, if tls { "1" } else { "0" }],
        Duration::from_secs(60),
    );
    out.assert_ok("poplib UIDL");
    out.out()
        .lines()
        .map(|l| {
            let (u, h) = l.split_once('\t').expect("uidl line");
            (u.to_string(), h.to_string())
        })
        .collect()
}

#[test]
fn dovecot_harness_serves_pop3() {
    if !common::dovecot::available("dovecot_harness_serves_pop3") {
        return;
    }
    let dovecot = Dovecot::start(DovecotOpts::default());
    dovecot.add_user("u1@example.test", "pw-one");
    for i in 0..3 {
        dovecot.deliver(
            "u1@example.test",
            format!("From: a@example.net\nSubject: m{i}\n\nbody {i}\n").as_bytes(),
        );
    }
    let seen = pop3_uidls(dovecot.pop3_port, "u1@example.test", "pw-one", true);
    assert_eq!(seen.len(), 3, "{}", dovecot.log());
    // %08Xu%08Xv: 16 hex digits, the uid last-but-one
    assert!(seen.iter().all(|(u, _)| u.len() == 16), "{seen:?}");
    assert!(
        dovecot
            .maildir("u1@example.test")
            .join("dovecot-uidlist")
            .exists()
    );
}
