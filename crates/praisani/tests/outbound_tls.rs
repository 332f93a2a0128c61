//! Outbound TLS and credentials: a next hop that gets our smarthost
//! password (or is marked `verify_tls`) must prove who it is with a
//! certificate we trust, and credentials never travel in clear text or
//! over TLS nobody checked. The next hop is a fake SMTP server in Python
//! that writes down every command it receives.

mod common;

use common::certs::{self, ServerCert, TestCa};
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The fake next hop: offers STARTTLS (mode `starttls`) or not (`plain`),
/// always AUTH PLAIN LOGIN, accepts everything. Each command goes to the
/// log prefixed with `TLS ` or `PLAIN `; a delivered message as `MESSAGE`.
const FAKE_SERVER: &str = r#"
import socket, ssl, sys, threading
port, mode, cert, key, log = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
lock = threading.Lock()
def note(s):
    with lock:
        with open(log, 'a') as f:
            f.write(s + '\n')
def serve(conn):
    tls = False
    f = conn.makefile('rb')
    def send(s):
        conn.sendall(s.encode() + b'\r\n')
    try:
        send('220 fake.test ESMTP')
        while True:
            line = f.readline()
            if not line:
                return
            cmd = line.decode('utf-8', 'replace').rstrip('\r\n')
            note(('TLS ' if tls else 'PLAIN ') + cmd)
            verb = cmd.split(' ')[0].upper()
            if verb == 'EHLO':
                caps = ['250-fake.test']
                if mode == 'starttls' and not tls:
                    caps.append('250-STARTTLS')
                caps.append('250 AUTH PLAIN LOGIN')
                send('\r\n'.join(caps))
            elif verb == 'STARTTLS' and mode == 'starttls' and not tls:
                send('220 2.0.0 go ahead')
                try:
                    conn = ctx.wrap_socket(conn, server_side=True)
                except Exception as e:
                    note('HANDSHAKE FAILED ' + str(e))
                    return
                tls = True
                f = conn.makefile('rb')
            elif verb == 'AUTH':
                send('235 2.7.0 ok')
            elif verb in ('MAIL', 'RCPT'):
                send('250 ok')
            elif verb == 'DATA':
                send('354 go')
                while True:
                    l = f.readline()
                    if not l or l in (b'.\r\n', b'.\n'):
                        break
                note('MESSAGE')
                send('250 2.0.0 queued')
            elif verb == 'QUIT':
                send('221 bye')
                return
            else:
                send('502 5.5.1 no')
    except Exception as e:
        note('ERROR ' + str(e))
    finally:
        conn.close()
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(('127.0.0.1', port))
srv.listen(8)
note('READY')
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;

/// A running fake next hop.
struct FakeHop {
    port: u16,
    log: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl FakeHop {
    /// Starts the fake in `mode` with `cert` on a free port.
    fn start(mode: &str, cert: &ServerCert) -> FakeHop {
        let dir = tempfile::tempdir().expect("tempdir");
        let (crt, key) = cert.write(dir.path(), "fake");
        let log = dir.path().join("commands.log");
        let port = free_port();
        let child = Command::new("python3")
            .arg("-c")
            .arg(FAKE_SERVER)
            .arg(port.to_string())
            .arg(mode)
            .arg(&crt)
            .arg(&key)
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3");
        let hop = FakeHop {
            port,
            log,
            child,
            _dir: dir,
        };
        wait_for("the fake next hop to listen", 10, || {
            hop.commands().contains("READY").then_some(())
        });
        hop
    }

    /// Everything it logged so far.
    fn commands(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for FakeHop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A sender with these `[delivery]` lines (no retry for an hour).
fn sender(delivery: &str) -> Server {
    Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tls_listeners: true,
            tables: format!("[delivery]\nretry = [\"1h\"]\n{delivery}\n"),
            ..ExtraConfig::default()
        },
    )
}

/// The smarthost lines for `hop` with credentials.
fn smarthost_lines(hop: &FakeHop) -> String {
    format!(
        "smarthost = \"127.0.0.1:{}\"\nsmarthost_user = \"relay@isp.test\"\nsmarthost_password = \"s3cret-relay-pw\"\n",
        hop.port
    )
}

/// Waits until the one queued message had an attempt, or was delivered
/// (the queue is empty); returns the queue listing.
fn attempted(a: &Server) -> String {
    wait_for("a recorded attempt or delivery", 30, || {
        let q = queue_json(a);
        (q.contains("\"attempts\":1") || q.trim() == "[]").then_some(q)
    })
}

fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// A smarthost with a self-signed certificate we do not trust gets the
/// STARTTLS and nothing after it: the message waits with a temporary
/// failure, and the password is never sent. With the certificate trusted
/// through `delivery.tls_ca_file` the same smarthost gets AUTH and the mail.
#[test]
fn smarthost_credentials_only_after_the_certificate_verifies() {
    let cert = certs::self_signed(&["127.0.0.1"]);
    let hop = FakeHop::start("starttls", &cert);
    let a = sender(&smarthost_lines(&hop));
    submit(&a, DEMO_USER, "f@final.test", "untrusted");
    let q = attempted(&a);
    let seen = hop.commands();
    assert!(seen.contains("PLAIN STARTTLS"), "{seen}");
    assert!(
        !seen.contains("AUTH"),
        "credentials sent to an unverified server:\n{seen}"
    );
    assert!(!seen.contains("MAIL FROM"), "{seen}");
    assert!(q.contains("\"state\":\"pending\""), "{q}");
    assert!(q.contains("4.7.5"), "not a TLS failure: {q}");
    assert!(a.fetch_all(DEMO_USER, DEMO_PASS).is_empty(), "bounced");

    // Trusted: verified, then AUTH, then the message.
    let dir = tempfile::tempdir().unwrap();
    let (ca, _) = cert.write(dir.path(), "trusted");
    let a2 = sender(&format!(
        "{}tls_ca_file = \"{}\"\n",
        smarthost_lines(&hop),
        path_str(&ca)
    ));
    submit(&a2, DEMO_USER, "f@final.test", "trusted");
    wait_for("the message at the smarthost", 30, || {
        hop.commands().contains("MESSAGE").then_some(())
    });
    let seen = hop.commands();
    assert!(seen.contains("TLS AUTH PLAIN "), "{seen}");
    assert!(!seen.contains("PLAIN AUTH"), "{seen}");
    wait_for("the queue to empty", 10, || {
        (queue_json(&a2).trim() == "[]").then_some(())
    });
}

/// A smarthost that offers AUTH but no STARTTLS never gets the password in
/// clear text: a temporary failure, nothing sent after EHLO.
#[test]
fn smarthost_without_starttls_gets_no_credentials() {
    let hop = FakeHop::start("plain", &certs::self_signed(&["127.0.0.1"]));
    let a = sender(&smarthost_lines(&hop));
    submit(&a, DEMO_USER, "f@final.test", "no-tls");
    let q = attempted(&a);
    let seen = hop.commands();
    assert!(seen.contains("PLAIN EHLO"), "{seen}");
    assert!(
        !seen.contains("AUTH"),
        "credentials sent in clear text:\n{seen}"
    );
    assert!(!seen.contains("MAIL FROM"), "{seen}");
    assert!(q.contains("\"state\":\"pending\""), "{q}");
    assert!(q.contains("STARTTLS required"), "{q}");
}

/// A static route marked `verify_tls` (no credentials) needs a certificate
/// from a trusted CA naming its host: one from the configured CA for
/// another name is refused, the mail waits; one naming the host is taken.
#[test]
fn route_marked_verify_tls_checks_the_name() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let wrong = FakeHop::start("starttls", &ca.issue(&["elsewhere.test"]));
    let right = FakeHop::start("starttls", &ca.issue(&["127.0.0.1"]));
    let a = sender(&format!(
        "tls_ca_file = \"{}\"\nroutes = {{ \"wrong.test\" = {{ next_hop = \"127.0.0.1:{}\", verify_tls = true }}, \"right.test\" = {{ next_hop = \"127.0.0.1:{}\", verify_tls = true }} }}\n",
        path_str(&ca_file),
        wrong.port,
        right.port
    ));
    submit(&a, DEMO_USER, "x@wrong.test", "wrong-name");
    let q = attempted(&a);
    assert!(q.contains("4.7.5"), "{q}");
    let seen = wrong.commands();
    assert!(seen.contains("PLAIN STARTTLS"), "{seen}");
    assert!(
        !seen.contains("MAIL FROM"),
        "sent to the wrong server:\n{seen}"
    );

    submit(&a, DEMO_USER, "y@right.test", "right-name");
    wait_for("the message at the verified route", 30, || {
        right.commands().contains("MESSAGE").then_some(())
    });
    assert!(right.commands().contains("TLS MAIL FROM"));
}
