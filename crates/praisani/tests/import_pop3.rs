//! `praisani import pop3` (issue 16, points 4 and 5) against a real
//! Dovecot: mail delivered to Dovecot (dovecot-lda) and read there by
//! leave-on-server clients (poplib, and mpop with `keep on`), the users
//! taken from Dovecot's passwd-file by `import users`, the mail pulled
//! over STLS with Dovecot's certificate checked (`--ca`): the UIDLs and
//! messages praisani shows equal Dovecot's, mpop pointed at praisani
//! downloads nothing, the user logs in with the old password over POP3
//! and SMTP AUTH, a re-run after more deliveries copies only the new
//! ones, the source keeps everything unless `--delete-at-source`.
//! Implicit TLS is checked too, and refused with a wrong CA or none.

mod common;

use common::certs::TestCa;
use common::dovecot::{Dovecot, DovecotOpts};
use common::*;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

const PY: Duration = Duration::from_secs(60);
const PW: &str = "Old-Dovecot-pw-1";

/// Every message of a POP3 mailbox as a leave-on-server client sees it:
/// (UIDL, the message as RETR returned it), in order; nothing deleted.
fn mailbox(port: u16, user: &str, password: &str, starttls: bool) -> Vec<(String, Vec<u8>)> {
    let out = python(
        r#"
import poplib, ssl, sys, base64, json
p = poplib.POP3('127.0.0.1', int(sys.argv[1]), timeout=30)
if sys.argv[4] == '1':
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    p.stls(ctx)
p.user(sys.argv[2])
p.pass_(sys.argv[3])
out = []
for line in p.uidl()[1]:
    n, uidl = line.decode().split(' ', 1)
    lines = p.retr(int(n))[1]
    out.append([uidl, base64.b64encode(b'\r\n'.join(lines) + b'\r\n').decode()])
p.quit()
print(json.dumps(out))
"#,
        &[
            &port.to_string(),
            user,
            password,
            if starttls { "1" } else { "0" },
        ],
        PY,
    );
    assert!(out.status.success(), "poplib: {}", out.describe());
    let v: Value = serde_json::from_str(out.out().trim()).expect("poplib json");
    v.as_array()
        .unwrap()
        .iter()
        .map(|m| {
            use base64::Engine as _;
            let body = base64::engine::general_purpose::STANDARD
                .decode(m[1].as_str().unwrap())
                .unwrap();
            (m[0].as_str().unwrap().to_string(), body)
        })
        .collect()
}

fn uidls(m: &[(String, Vec<u8>)]) -> Vec<String> {
    m.iter().map(|(u, _)| u.clone()).collect()
}

/// A leave-on-server mpop (`keep on`): its uidls file remembers what it
/// downloaded, by user and host (the port is not part of it, as after a
/// DNS switch). Answers how many messages the mbox holds afterwards.
fn mpop(s: &Server, port: u16, user: &str) -> (CmdOutput, usize) {
    let mbox = s.path("mpop.mbox");
    if !mbox.exists() {
        std::fs::write(&mbox, b"").unwrap();
    }
    let rc = s.path("mpoprc");
    std::fs::write(
        &rc,
        format!(
            "defaults\nuidls_file {uidls}\n\naccount default\nhost 127.0.0.1\nport {port}\ntls off\nauth user\nuser {user}\npassword {PW}\ndelivery mbox {mbox}\nkeep on\nonly_new on\ntimeout 30\n",
            uidls = s.path("mpop_uidls").display(),
            mbox = mbox.display()
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let mut c = Command::new("mpop");
    c.arg("-C").arg(&rc).arg("-q").env("HOME", s.dir.path());
    let out = run_cmd(&mut c, None, PY);
    let text = std::fs::read(&mbox).unwrap();
    let n = text
        .split(|&b| b == b'\n')
        .filter(|l| l.starts_with(b"From "))
        .count();
    (out, n)
}

fn message(i: usize, tag: &str) -> Vec<u8> {
    format!(
        "From: sender@example.net\nTo: anna@old.test\nSubject: {tag} {i}\nDate: Thu, 0{} Jan 2026 10:00:00 +0000\nMessage-ID: <{tag}-{i}@example.net>\n\nline one of {i}\n.a line that starts with a dot\n..two dots\n\nend\n",
        1 + i % 9
    )
    .into_bytes()
}

fn pull(s: &Server, args: &[&str]) -> CmdOutput {
    let mut all = vec!["--json", "import", "pop3"];
    all.extend_from_slice(args);
    s.cli_stdin(&all, Some(&format!("{PW}\n")))
}

fn result(out: &CmdOutput) -> Value {
    let first = out.out().lines().next().unwrap_or("").to_string();
    let v: Value =
        serde_json::from_str(&first).unwrap_or_else(|e| panic!("{e}: {}", out.describe()));
    v["accounts"][0].clone()
}

/// Dovecot's certificate (self-signed for "localhost"), as `--ca` takes it.
fn dovecot_cert(d: &Dovecot) -> String {
    d.conf()
        .parent()
        .unwrap()
        .join("dovecot.crt")
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_mailbox_moves_from_dovecot_with_its_uidls() {
    if !common::dovecot::available("import_pop3") || !have_tool("mpop", "import_pop3") {
        return;
    }
    let d = Dovecot::start(DovecotOpts::default());
    let user = "anna@old.test";
    d.add_user(user, PW);
    for i in 0..5 {
        d.deliver(user, &message(i, "first"));
    }
    // Read at Dovecot by two leave-on-server clients.
    let before = mailbox(d.pop3_port, user, PW, true);
    assert_eq!(before.len(), 5, "{}", d.log());
    let s = Server::start_extra(
        ServerOpts {
            limits: "auth_lockout_after = 500\nauth_account_lockout_after = 1000\n".into(),
            ..ServerOpts::default()
        },
        ExtraConfig::tls(),
    );
    let (out, got) = mpop(&s, d.pop3_port, user);
    out.assert_ok("mpop at Dovecot");
    assert_eq!(got, 5);
    // The accounts from Dovecot's own passwd-file.
    let users = d.conf().parent().unwrap().join("users");
    let out = s.cli(&[
        "import",
        "users",
        users.to_str().unwrap(),
        "--format",
        "passwd",
        "--create-domains",
    ]);
    out.assert_ok("import users from Dovecot's passwd-file");
    // The pull, over STLS, Dovecot's certificate checked.
    let from = format!("localhost:{}", d.pop3_port);
    let ca = dovecot_cert(&d);
    let args = [
        "--from",
        &from,
        "--tls",
        "starttls",
        "--ca",
        &ca,
        "--user",
        user,
        "--password-stdin",
        "--batch",
        "2",
    ];
    let out = pull(&s, &args);
    out.assert_ok("import pop3");
    let r = result(&out);
    assert_eq!(
        (r["copied"].as_u64(), r["already"].as_u64()),
        (Some(5), Some(0)),
        "{r}"
    );
    // praisani shows what Dovecot showed: the same UIDLs, the same messages.
    let after = mailbox(s.pop3_port, user, PW, false);
    assert_eq!(uidls(&after), uidls(&before));
    for ((u, a), (_, b)) in after.iter().zip(&before) {
        assert_eq!(
            String::from_utf8_lossy(a),
            String::from_utf8_lossy(b),
            "message {u}"
        );
    }
    // The mail program now at praisani downloads nothing again.
    let (out, got) = mpop(&s, s.pop3_port, user);
    out.assert_ok("mpop at praisani");
    assert_eq!(got, 5, "mpop downloaded again: {}", out.describe());
    // The old password works here over POP3 (above) and SMTP AUTH.
    assert_eq!(s.smtplib_login(user, PW), "OK");
    // More mail at Dovecot before the DNS switch: a re-run copies only it.
    for i in 5..7 {
        d.deliver(user, &message(i, "later"));
    }
    let before = mailbox(d.pop3_port, user, PW, true);
    assert_eq!(before.len(), 7);
    let out = pull(&s, &args);
    out.assert_ok("re-run");
    let r = result(&out);
    assert_eq!(
        (r["copied"].as_u64(), r["already"].as_u64()),
        (Some(2), Some(5)),
        "{r}"
    );
    assert_eq!(
        uidls(&mailbox(s.pop3_port, user, PW, false)),
        uidls(&before)
    );
    let (out, got) = mpop(&s, s.pop3_port, user);
    out.assert_ok("mpop at praisani again");
    assert_eq!(got, 7, "only the two new messages: {}", out.describe());
    // Dovecot kept everything; with --delete-at-source it is emptied.
    assert_eq!(mailbox(d.pop3_port, user, PW, true).len(), 7);
    let mut del = args.to_vec();
    del.push("--delete-at-source");
    let out = pull(&s, &del);
    out.assert_ok("--delete-at-source");
    let r = result(&out);
    assert_eq!(
        (r["copied"].as_u64(), r["deleted"].as_u64()),
        (Some(0), Some(7)),
        "{r}"
    );
    assert!(mailbox(d.pop3_port, user, PW, true).is_empty());
    assert_eq!(mailbox(s.pop3_port, user, PW, false).len(), 7);
}

#[test]
fn implicit_tls_is_checked_and_a_wrong_ca_refused() {
    if !common::dovecot::available("import_pop3 tls") {
        return;
    }
    let d = Dovecot::start(DovecotOpts::default());
    let user = "ben@old.test";
    d.add_user(user, PW);
    d.add_user("carl@old.test", PW);
    d.deliver("carl@old.test", &message(9, "carl"));
    for i in 0..3 {
        d.deliver(user, &message(i, "tls"));
    }
    let s = Server::new(ServerOpts::default());
    s.add_domain("old.test");
    s.add_user(user, "new-password", &[]);
    let from = format!("localhost:{}", d.pop3s_port);
    let wrong = s.path("wrong-ca.pem");
    std::fs::write(&wrong, TestCa::new().pem()).unwrap();
    let wrong = wrong.to_str().unwrap().to_string();
    // A CA that did not sign Dovecot's certificate, then the system's
    // roots: refused, nothing copied.
    for extra in [vec!["--ca", wrong.as_str()], vec![]] {
        let mut args = vec![
            "--from",
            &from,
            "--tls",
            "implicit",
            "--user",
            user,
            "--password-stdin",
        ];
        args.extend(extra);
        let out = pull(&s, &args);
        assert_eq!(out.code(), Some(1), "{}", out.describe());
        let r = result(&out);
        assert_eq!(r["ok"], false);
        assert!(
            r["error"]
                .as_str()
                .unwrap()
                .contains("TLS with localhost failed"),
            "{r}"
        );
    }
    let show = s.cli(&["--json", "user", "show", user]);
    assert_eq!(
        serde_json::from_str::<Value>(&show.out()).unwrap()["messages"],
        0
    );
    // Dovecot's own certificate as the CA: copied.
    let ca = dovecot_cert(&d);
    let out = pull(
        &s,
        &[
            "--from",
            &from,
            "--tls",
            "implicit",
            "--ca",
            &ca,
            "--user",
            user,
            "--password-stdin",
        ],
    );
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    assert_eq!(result(&out)["copied"], 3);
    // A CSV of accounts, without checking the certificate (--insecure):
    // ben has everything already, carl's mail goes to another address,
    // dora's password is wrong — her failure does not stop the others.
    s.add_domain("new.test");
    s.add_user("carl@new.test", "new-password", &[]);
    s.add_user("dora@old.test", "new-password", &[]);
    let csv = s.path("accounts.csv");
    std::fs::write(
        &csv,
        format!("user,password,to\n{user},{PW},\ncarl@old.test,{PW},carl@new.test\ndora@old.test,wrong,\n"),
    )
    .unwrap();
    let out = s.cli(&[
        "--json",
        "import",
        "pop3",
        "--from",
        &from,
        "--tls",
        "implicit",
        "--insecure",
        "--accounts",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(out.code(), Some(1), "{}", out.describe());
    let first = out.out().lines().next().unwrap_or("").to_string();
    let v: Value = serde_json::from_str(&first).unwrap_or_else(|e| panic!("{e}: {first}"));
    let a = v["accounts"].as_array().unwrap();
    assert_eq!(
        (a[0]["copied"].as_u64(), a[0]["already"].as_u64()),
        (Some(0), Some(3)),
        "{v}"
    );
    assert_eq!(
        (a[1]["to"].as_str(), a[1]["copied"].as_u64()),
        (Some("carl@new.test"), Some(1)),
        "{v}"
    );
    assert_eq!(a[2]["ok"], false, "{v}");
    assert_eq!(v["failed"], 1);
    // A wrong password: the old server's refusal, reported per account.
    let out = s.cli_stdin(
        &[
            "import",
            "pop3",
            "--from",
            &from,
            "--tls",
            "implicit",
            "--ca",
            &ca,
            "--user",
            user,
            "--password-stdin",
        ],
        Some("wrong\n"),
    );
    assert_eq!(out.code(), Some(1));
    assert!(
        out.out()
            .contains("FAILED: login refused by the old server"),
        "{}",
        out.describe()
    );
    // Plaintext to a host that is not loopback is refused before connecting.
    let out = s.cli_stdin(
        &[
            "import",
            "pop3",
            "--from",
            "192.0.2.1:110",
            "--tls",
            "none",
            "--user",
            user,
            "--password-stdin",
        ],
        Some("x\n"),
    );
    assert_eq!(out.code(), Some(1));
    assert!(out.err().contains("in the clear"), "{}", out.describe());
}

#[test]
fn a_wrong_tls_mode_fails_quickly_with_a_hint() {
    if !common::dovecot::available("import_pop3 wrong tls mode") {
        return;
    }
    let d = Dovecot::start(DovecotOpts::default());
    let user = "dora@old.test";
    d.add_user(user, PW);
    let s = Server::new(ServerOpts::default());
    s.add_domain("old.test");
    s.add_user(user, "new-password", &[]);
    let ca = dovecot_cert(&d);
    let implicit_port = format!("localhost:{}", d.pop3s_port);
    let plain_port = format!("localhost:{}", d.pop3_port);
    // STARTTLS (and none) to the POP3S port: Dovecot waits for a TLS
    // hello and says nothing; the greeting timeout ends it, with a hint.
    // Implicit TLS to the plain port: Dovecot's "+OK" is no TLS record.
    for (from, mode, extra, hint, within) in [
        (
            &implicit_port,
            "starttls",
            vec!["--greeting-timeout", "2"],
            "try --tls implicit",
            10,
        ),
        (&implicit_port, "starttls", vec![], "within 5 s", 15),
        (
            &plain_port,
            "implicit",
            vec![],
            "the server spoke plain POP3 — try --tls starttls",
            10,
        ),
    ] {
        let mut args = vec![
            "--from",
            from.as_str(),
            "--tls",
            mode,
            "--ca",
            &ca,
            "--user",
            user,
            "--password-stdin",
        ];
        args.extend(extra);
        let started = std::time::Instant::now();
        let out = pull(&s, &args);
        let took = started.elapsed();
        assert_eq!(out.code(), Some(1), "{}", out.describe());
        let r = result(&out);
        let err = r["error"].as_str().unwrap_or_default();
        assert!(err.contains(hint), "{mode} to {from}: {r}");
        assert!(
            took < std::time::Duration::from_secs(within),
            "{mode} to {from} took {took:?}"
        );
    }
    // The hint names the port.
    let out = pull(
        &s,
        &[
            "--from",
            &implicit_port,
            "--tls",
            "none",
            "--greeting-timeout",
            "1",
            "--user",
            user,
            "--password-stdin",
        ],
    );
    let err = result(&out)["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        err.contains(&format!(
            "no POP3 greeting from localhost:{} within 1 s",
            d.pop3s_port
        )),
        "{err}"
    );
}
