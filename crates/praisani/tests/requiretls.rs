//! REQUIRETLS (RFC 8689) end to end: Python's smtplib submits over
//! STARTTLS with `mail_options=["REQUIRETLS"]` (or a `TLS-Required: No`
//! header field), and the next hops are small Python SMTP servers that
//! offer STARTTLS with certificates from a test CA, REQUIRETLS or not,
//! and log every command. MTA-STS policies come from a Python HTTPS
//! server, as in `mta_sts.rs`; the sender trusts the test CA.
//!
//! The domains and their MX hosts (each host its own fake server):
//! - `remote.test`: `mx.remote.test` (127.0.0.1), MTA-STS `enforce`
//!   listing it; offers REQUIRETLS;
//! - `plain.test`: `mx.remote.test` too, but no MTA-STS policy (TLS is
//!   opportunistic only);
//! - `norequire.test`: `mx.norequire.test` (127.0.0.2), MTA-STS `enforce`
//!   listing it; does not offer REQUIRETLS;
//! - `badcert.test`: `mx.badcert.test` (127.0.0.3), MTA-STS `enforce`
//!   listing it, but its certificate names another host;
//! - `sender.test`: `mx.remote.test`, MTA-STS `enforce` listing it: the
//!   domain of a remote sender whose mail we relay, to get its bounce.

mod common;

use common::certs::TestCa;
use common::policy_server::PolicyServer;
use common::*;
use praisani_testdns::{TestDns, Zone};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The MTA-STS policy of each domain that has one.
const POLICIES: &[(&str, &str)] = &[
    ("remote.test", "mx.remote.test"),
    ("norequire.test", "mx.norequire.test"),
    ("badcert.test", "mx.badcert.test"),
    ("sender.test", "mx.remote.test"),
];

/// A fake receiving SMTP server: STARTTLS with the given certificate,
/// REQUIRETLS offered after TLS when asked to; every command line is
/// appended to the log, every message written to `out/N.eml`.
const FAKE_MX: &str = r#"
import socket, ssl, sys, threading, os
addr, port, cert, key, requiretls, log, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5] == '1', sys.argv[6], sys.argv[7]
lock = threading.Lock()
count = [0]
def note(s):
    with lock:
        with open(log, 'a') as f:
            f.write(s + '\n')
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
def serve(sock):
    f = sock.makefile('rb')
    tls = False
    def send(s):
        sock.sendall(s.encode())
    send('220 fake ESMTP\r\n')
    while True:
        line = f.readline()
        if not line:
            return
        cmd = line.decode('utf-8', 'replace').rstrip('\r\n')
        note(('TLS ' if tls else 'PLAIN ') + cmd)
        verb = cmd.split(' ')[0].upper()
        if verb == 'EHLO':
            ext = ['fake', '8BITMIME', 'ENHANCEDSTATUSCODES']
            if not tls:
                ext.append('STARTTLS')
            elif requiretls:
                ext.append('REQUIRETLS')
            send(''.join('250-%s\r\n' % e for e in ext[:-1]) + '250 %s\r\n' % ext[-1])
        elif verb == 'STARTTLS' and not tls:
            send('220 2.0.0 go ahead\r\n')
            try:
                sock = ctx.wrap_socket(sock, server_side=True)
            except Exception as e:
                note('HANDSHAKE FAILED %s' % e)
                return
            f = sock.makefile('rb')
            tls = True
        elif verb in ('MAIL', 'RCPT', 'RSET', 'NOOP'):
            send('250 2.0.0 ok\r\n')
        elif verb == 'DATA':
            send('354 go on\r\n')
            data = b''
            while True:
                l = f.readline()
                if not l or l == b'.\r\n':
                    break
                data += l[1:] if l.startswith(b'.') else l
            with lock:
                count[0] += 1
                n = count[0]
            open(os.path.join(out, '%d.eml' % n), 'wb').write(data)
            send('250 2.0.0 queued as %d\r\n' % n)
        elif verb == 'QUIT':
            send('221 2.0.0 bye\r\n')
            return
        else:
            send('502 5.5.1 what\r\n')
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((addr, port))
srv.listen(16)
note('READY')
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;

/// Submits over STARTTLS as the demo user with smtplib: argv = port,
/// to, subject, body, REQUIRETLS (1/0), an extra header line (or "").
const SUBMIT: &str = r#"
import smtplib, ssl, sys
port, to, subject, body, rtls, extra = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] == '1', sys.argv[6]
s = smtplib.SMTP('127.0.0.1', port, timeout=30)
s.ehlo('client.test')
assert not s.has_extn('requiretls'), 'REQUIRETLS offered before TLS'
s.starttls(context=ssl._create_unverified_context())
s.ehlo('client.test')
assert s.has_extn('requiretls'), 'REQUIRETLS not offered under TLS'
s.login('demo@example.test', 'demo-pass')
msg = 'From: demo@example.test\r\nTo: %s\r\nSubject: %s\r\n%s\r\n%s\r\n' % (
    to, subject, extra + '\r\n' if extra else '', body)
s.sendmail('demo@example.test', [to], msg, mail_options=['REQUIRETLS'] if rtls else [])
s.quit()
print('OK')
"#;

/// Relays through the MX listener (the client is in `trusted_networks`)
/// over STARTTLS with REQUIRETLS: argv = port, from, to, subject.
const RELAY: &str = r#"
import smtplib, ssl, sys
port, frm, to, subject = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
s = smtplib.SMTP('127.0.0.1', port, timeout=30)
s.starttls(context=ssl._create_unverified_context())
s.ehlo('relay.test')
assert s.has_extn('requiretls'), 'REQUIRETLS not offered on the MX listener'
msg = 'From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\nsecret body of %s\r\n' % (frm, to, subject, subject)
s.sendmail(frm, [to], msg, mail_options=['REQUIRETLS'])
s.quit()
print('OK')
"#;

/// A Python server process, killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A fake MX: its log and the messages it took.
struct FakeMx {
    log: PathBuf,
    out: PathBuf,
    _proc: Proc,
}

impl FakeMx {
    fn start(
        dir: &Path,
        addr: &str,
        port: u16,
        cert: (PathBuf, PathBuf),
        requiretls: bool,
    ) -> FakeMx {
        let log = dir.join(format!("mx-{addr}.log"));
        let out = dir.join(format!("mx-{addr}"));
        std::fs::create_dir_all(&out).unwrap();
        let child = Command::new("python3")
            .arg("-c")
            .arg(FAKE_MX)
            .arg(addr)
            .arg(port.to_string())
            .arg(&cert.0)
            .arg(&cert.1)
            .arg(if requiretls { "1" } else { "0" })
            .arg(&log)
            .arg(&out)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3");
        let mx = FakeMx {
            log,
            out,
            _proc: Proc(child),
        };
        wait_for(&format!("the fake MX at {addr} to listen"), 10, || {
            mx.commands().contains("READY").then_some(())
        });
        mx
    }

    /// Every command it was given, one a line.
    fn commands(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The messages it took.
    fn messages(&self) -> Vec<String> {
        std::fs::read_dir(&self.out)
            .unwrap()
            .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
            .collect()
    }

    /// The message with this subject, if it took one.
    fn got(&self, subject: &str) -> bool {
        self.messages()
            .iter()
            .any(|m| m.contains(&format!("Subject: {subject}\r\n")))
    }
}

/// The tests' policy server (`common::policy_server`) with an `enforce`
/// policy naming each domain's MX host.
fn policy_server(dir: &Path, ca: &TestCa) -> (u16, PolicyServer) {
    let texts: Vec<String> = POLICIES
        .iter()
        .map(|(_, mx)| format!("enforce\r\nmx: {mx}"))
        .collect();
    let policies: Vec<(&str, &str)> = POLICIES
        .iter()
        .zip(&texts)
        .map(|((domain, _), text)| (*domain, text.as_str()))
        .collect();
    let server = PolicyServer::start(dir, ca, &policies, &[]);
    (server.port, server)
}

fn dns() -> TestDns {
    let mut zone = Zone::new()
        .a("mx.remote.test", "127.0.0.1")
        .a("mx.norequire.test", "127.0.0.2")
        .a("mx.badcert.test", "127.0.0.3")
        .mx("plain.test", 10, "mx.remote.test");
    for (domain, mx) in POLICIES {
        zone = zone
            .mx(domain, 10, mx)
            .txt(&format!("_mta-sts.{domain}"), "v=STSv1; id=20261204T1;")
            .a(&format!("mta-sts.{domain}"), "127.0.0.1");
    }
    TestDns::start(zone)
}

/// Submits one message (see `SUBMIT`), checked to be accepted.
fn submit_py(a: &Server, to: &str, subject: &str, requiretls: bool, extra: &str) {
    let body = format!("secret body of {subject}");
    let rtls = if requiretls { "1" } else { "0" };
    let port = a.submission_port.to_string();
    let out = python(
        SUBMIT,
        &[&port, to, subject, &body, rtls, extra],
        Duration::from_secs(30),
    );
    assert_py_ok(&out, &format!("submitting {subject}"));
}

/// A REQUIRETLS message goes to an MX authenticated by MTA-STS that offers
/// REQUIRETLS, with REQUIRETLS on its MAIL FROM; to an MX reached by
/// opportunistic TLS only, or one that does not offer REQUIRETLS, it is
/// not sent, and the sender gets a headers-only bounce with 5.7.30.
/// `TLS-Required: No` delivers past an MTA-STS certificate failure that
/// keeps other mail back, unless REQUIRETLS was given as well.
#[test]
fn requiretls_goes_only_where_tls_is_authenticated() {
    require_tool!("python3");
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let (https_port, _https) = policy_server(dir.path(), &ca);
    let dns = dns();
    let port = free_port();
    let issue = |name: &str, file: &str| ca.issue(&[name]).write(dir.path(), file);
    let good = FakeMx::start(
        dir.path(),
        "127.0.0.1",
        port,
        issue("mx.remote.test", "mx1"),
        true,
    );
    let norequire = FakeMx::start(
        dir.path(),
        "127.0.0.2",
        port,
        issue("mx.norequire.test", "mx2"),
        false,
    );
    let badcert = FakeMx::start(
        dir.path(),
        "127.0.0.3",
        port,
        issue("impostor.test", "mx3"),
        true,
    );
    let a = Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tls_listeners: true,
            top: "trusted_networks = [\"127.0.0.1/32\"]\n".into(),
            tables: format!(
                "[delivery]\nretry = [\"1h\"]\nnameservers = [\"{}\"]\nsmtp_port = {port}\nallow_internal_mx = true\ntls_ca_file = \"{}\"\nmta_sts_port = {https_port}\nmta_sts_timeout = \"5s\"\n",
                dns.addr,
                ca_file.display(),
            ),
            ..ExtraConfig::default()
        },
    );

    submit_py(&a, "r@remote.test", "rtls-delivered", true, "");
    submit_py(&a, "r@remote.test", "no-rtls", false, "");
    submit_py(&a, "r@plain.test", "rtls-opportunistic", true, "");
    submit_py(&a, "r@norequire.test", "rtls-not-offered", true, "");
    submit_py(
        &a,
        "r@badcert.test",
        "tls-optional",
        false,
        "TLS-Required: No",
    );
    submit_py(&a, "r@badcert.test", "control-badcert", false, "");
    submit_py(
        &a,
        "r@badcert.test",
        "rtls-and-optional",
        true,
        "TLS-Required: No",
    );
    let relay = python(
        RELAY,
        &[
            &a.smtp_port.to_string(),
            "x@sender.test",
            "r@plain.test",
            "rtls-relayed",
        ],
        Duration::from_secs(30),
    );
    assert_py_ok(&relay, "relaying");

    wait_for("the messages at the good MX", 30, || {
        (good.got("rtls-delivered") && good.got("no-rtls")).then_some(())
    });
    wait_for("TLS-Required: No past the bad certificate", 30, || {
        badcert.got("tls-optional").then_some(())
    });
    let bounces = wait_for("two bounces at the sender", 30, || {
        let m = a.fetch_all(DEMO_USER, DEMO_PASS);
        (m.len() >= 2).then_some(m)
    });
    wait_for("every attempt to be recorded", 30, || {
        let q = queue_json(&a);
        (q.matches("\"attempts\":1").count() >= 2).then_some(())
    });
    // The relayed message's bounce goes to its remote sender with
    // REQUIRETLS, the header only.
    let dsn = wait_for("the bounce at the remote sender's MX", 30, || {
        good.messages()
            .into_iter()
            .find(|m| m.contains("Final-Recipient: rfc822;r@plain.test"))
    });
    assert!(dsn.contains("Subject: rtls-relayed"), "{dsn}");
    assert!(!dsn.contains("secret body of rtls-relayed"), "{dsn}");
    assert!(dsn.contains("Status: 5.7.30"), "{dsn}");
    let queue = a.cli(&["queue", "list"]);
    queue.assert_ok("queue list");
    let queue = queue.out();

    // (a) REQUIRETLS on the MAIL FROM of the REQUIRETLS message only,
    // over TLS.
    let cmds = good.commands();
    let mails: Vec<&str> = cmds.lines().filter(|l| l.contains("MAIL FROM:")).collect();
    assert_eq!(mails.len(), 3, "{cmds}");
    assert_eq!(
        mails.iter().filter(|l| l.ends_with(" REQUIRETLS")).count(),
        2,
        "{cmds}"
    );
    assert!(
        mails
            .iter()
            .any(|l| l.starts_with("TLS MAIL FROM:<> ") && l.ends_with(" REQUIRETLS")),
        "the bounce without REQUIRETLS: {cmds}"
    );
    assert!(mails.iter().all(|l| l.starts_with("TLS ")), "{cmds}");
    // The opportunistic-only domain shares the host: it never got that one.
    assert!(!good.got("rtls-opportunistic"), "{cmds}");

    // (c) The host without REQUIRETLS saw the session up to its EHLO
    // under TLS, and no message.
    let cmds2 = norequire.commands();
    assert!(cmds2.contains("TLS EHLO"), "{cmds2}");
    assert!(!cmds2.contains("MAIL FROM"), "{cmds2}");
    assert!(norequire.messages().is_empty());

    // (b) and (c): bounces with 5.7.30, the header returned, not the body.
    for (rcpt, subject, why) in [
        (
            "r@plain.test",
            "rtls-opportunistic",
            "neither DNSSEC, DANE nor an MTA-STS policy in enforce mode authenticates it",
        ),
        (
            "r@norequire.test",
            "rtls-not-offered",
            "does not offer REQUIRETLS",
        ),
    ] {
        let bounce = bounces
            .iter()
            .map(|b| String::from_utf8_lossy(b).replace("\r\n ", " "))
            .find(|b| b.contains(&format!("Final-Recipient: rfc822;{rcpt}")))
            .unwrap_or_else(|| panic!("no bounce for {rcpt}: {bounces:?}"));
        assert!(bounce.contains("Status: 5.7.30"), "{bounce}");
        assert!(bounce.contains(why), "{bounce}");
        assert!(bounce.contains("text/rfc822-headers"), "{bounce}");
        assert!(bounce.contains(&format!("Subject: {subject}")), "{bounce}");
        assert!(
            !bounce.contains(&format!("secret body of {subject}")),
            "the bounce returns the body:\n{bounce}"
        );
    }
    assert_eq!(bounces.len(), 2, "{bounces:?}");
    // `queue list` shows what the sender asked.
    assert!(queue.contains("  REQUIRETLS\n"), "{queue}");

    // (e) Without the header the same host is refused (the certificate
    // names another host); with REQUIRETLS too the header is ignored.
    assert!(!badcert.got("control-badcert"));
    assert!(!badcert.got("rtls-and-optional"));
    assert_eq!(
        queue.matches("r@badcert.test  pending").count(),
        2,
        "{queue}"
    );
    assert!(queue.contains("4.7.5 MTA-STS enforce"), "{queue}");
}

/// REQUIRETLS before STARTTLS on the submission port: 530 5.7.10 from the
/// real server; under TLS it is taken, and mail for our own mailboxes is
/// delivered as always.
#[test]
fn requiretls_needs_tls_on_submission() {
    require_tool!("python3");
    let a = Server::start_extra(ServerOpts::default(), ExtraConfig::tls());
    let script = r#"
import smtplib, ssl, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=30)
s.ehlo('client.test')
assert not s.has_extn('requiretls')
s.login('demo@example.test', 'demo-pass')
msg = 'From: demo@example.test\r\nTo: demo@example.test\r\nSubject: early\r\n\r\nx\r\n'
try:
    s.sendmail('demo@example.test', ['demo@example.test'], msg, mail_options=['REQUIRETLS'])
    print('ACCEPTED')
except smtplib.SMTPSenderRefused as e:
    print(e.smtp_code, e.smtp_error.decode())
s.rset()
s.starttls(context=ssl._create_unverified_context())
s.ehlo('client.test')
assert s.has_extn('requiretls')
# STARTTLS forgets the login (RFC 3207 section 4.2).
s.login('demo@example.test', 'demo-pass')
msg = msg.replace('early', 'under tls')
s.sendmail('demo@example.test', ['demo@example.test'], msg, mail_options=['REQUIRETLS'])
s.quit()
print('OK')
"#;
    let port = a.submission_port.to_string();
    let out = python(script, &[&port], Duration::from_secs(30));
    assert_py_ok(&out, "submission");
    assert!(
        out.out()
            .contains("530 5.7.10 REQUIRETLS needs a TLS session"),
        "{}",
        out.describe()
    );
    let msgs = a.fetch_all(DEMO_USER, DEMO_PASS);
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(contains(&msgs[0], b"Subject: under tls"));
}

/// Through the smarthost: REQUIRETLS mail goes there only when its
/// certificate is verified (`smarthost_verify_tls`), with REQUIRETLS on
/// MAIL FROM; an unverified smarthost gets none of it, and the sender a
/// 5.7.30 bounce.
#[test]
fn requiretls_through_the_smarthost_needs_its_certificate_verified() {
    require_tool!("python3");
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let port = free_port();
    let cert = ca.issue(&["127.0.0.1"]).write(dir.path(), "hop");
    let hop = FakeMx::start(dir.path(), "127.0.0.1", port, cert, true);
    let sender = |verify: bool| {
        Server::start_extra(
            ServerOpts::default(),
            ExtraConfig {
                tls_listeners: true,
                tables: format!(
                    "[delivery]\nretry = [\"1h\"]\nsmarthost = \"127.0.0.1:{port}\"\nsmarthost_verify_tls = {verify}\ntls_ca_file = \"{}\"\n",
                    ca_file.display(),
                ),
                ..ExtraConfig::default()
            },
        )
    };
    let verified = sender(true);
    submit_py(&verified, "r@final.test", "rtls-via-verified", true, "");
    wait_for("the message at the smarthost", 30, || {
        hop.got("rtls-via-verified").then_some(())
    });
    let cmds = hop.commands();
    assert!(
        cmds.lines()
            .any(|l| l.starts_with("TLS MAIL FROM:") && l.ends_with(" REQUIRETLS")),
        "{cmds}"
    );

    let unverified = sender(false);
    submit_py(&unverified, "r@final.test", "rtls-via-unverified", true, "");
    let bounce = wait_for("the bounce", 30, || {
        unverified.fetch_all(DEMO_USER, DEMO_PASS).pop()
    });
    let bounce = String::from_utf8_lossy(&bounce).replace("\r\n ", " ");
    assert!(bounce.contains("Status: 5.7.30"), "{bounce}");
    assert!(
        bounce.contains("127.0.0.1: the configured next hop's certificate is not verified"),
        "{bounce}"
    );
    assert!(!hop.got("rtls-via-unverified"));
}
