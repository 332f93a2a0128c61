//! MTA-STS (RFC 8461) for outbound delivery, end to end: the test DNS
//! server publishes MX records and `_mta-sts` TXT records, a Python HTTPS
//! server with a certificate from a test CA serves the policies, and the
//! receiving MX is a second praisani (or Postfix's smtp-sink, which offers
//! no STARTTLS). The sender trusts the test CA through
//! `delivery.tls_ca_file`.
//!
//! The domains, all with MX `mx.remote.test` (127.0.0.1):
//! - `remote.test`: `enforce`, `mx: mx.remote.test` (the MX is listed);
//! - `wild.test`: `enforce`, `mx: *.remote.test` (listed by wildcard);
//! - `elsewhere.test`: `enforce`, `mx: *.elsewhere.test` (not listed);
//! - `trying.test`: `testing`, `mx: mx.trying.test` (not listed);
//! - `badcert.test`: `enforce`, `mx: mx.badcert.test` (not listed), but
//!   the policy server's certificate does not name `mta-sts.badcert.test`,
//!   so the policy is never taken.

mod common;

use common::certs::TestCa;
use common::policy_server::PolicyServer;
use common::*;
use praisani_testdns::{TestDns, Zone};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The policy of each domain.
const POLICIES: &[(&str, &str)] = &[
    ("remote.test", "enforce\r\nmx: mx.remote.test"),
    ("wild.test", "enforce\r\nmx: *.remote.test"),
    ("elsewhere.test", "enforce\r\nmx: *.elsewhere.test"),
    ("trying.test", "testing\r\nmx: mx.trying.test"),
    ("badcert.test", "enforce\r\nmx: mx.badcert.test"),
];

/// The policy host left out of the policy server's certificate.
const NOT_IN_CERT: &str = "mta-sts.badcert.test";

/// The DNS of the test: every domain's MX is mx.remote.test, every
/// domain publishes a TXT record and its policy host.
fn dns() -> TestDns {
    let mut zone = Zone::new().a("mx.remote.test", "127.0.0.1");
    for (domain, _) in POLICIES {
        zone = zone
            .mx(domain, 10, "mx.remote.test")
            .txt(&format!("_mta-sts.{domain}"), "v=STSv1; id=20261203T1;")
            .a(&format!("mta-sts.{domain}"), "127.0.0.1");
    }
    TestDns::start(zone)
}

/// The test CA, its certificate in `dir/ca.pem`.
fn ca(dir: &Path) -> (TestCa, PathBuf) {
    let ca = TestCa::new();
    let file = dir.join("ca.pem");
    std::fs::write(&file, ca.pem()).unwrap();
    (ca, file)
}

/// The receiving MX: a praisani whose certificate (from `ca`) names
/// `cert_name`, hosting every test domain with a mailbox `r@DOMAIN`.
fn receiver(dir: &Path, ca: &TestCa, cert_name: &str) -> Server {
    let (cert, key) = ca.issue(&[cert_name]).write(dir, "receiver");
    let b = Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tables: format!(
                "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
                cert.display(),
                key.display()
            ),
            ..ExtraConfig::default()
        },
    );
    for (domain, _) in POLICIES {
        b.add_domain(domain);
        b.add_user(&format!("r@{domain}"), "rpw", &[]);
    }
    b
}

/// The sender: MX lookups at `dns`, MX hosts on `mx_port`, policies at
/// `https`, the test CA trusted; no retry for an hour.
fn sender(dns: &TestDns, mx_port: u16, https: &PolicyServer, ca_file: &Path) -> Server {
    Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tls_listeners: true,
            tables: format!(
                "[delivery]\nretry = [\"1h\"]\nnameservers = [\"{}\"]\nsmtp_port = {mx_port}\nallow_internal_mx = true\ntls_ca_file = \"{}\"\nmta_sts_port = {}\nmta_sts_timeout = \"5s\"\n",
                dns.addr,
                ca_file.display(),
                https.port
            ),
            ..ExtraConfig::default()
        },
    )
}

/// Waits until every queued message had an attempt or was delivered;
/// returns `queue list` as text (each recipient with its last error).
fn settled(a: &Server, expected_attempts: usize) -> String {
    wait_for("the attempts to be recorded", 30, || {
        let q = queue_json(a);
        (q.matches("\"attempts\":1").count() >= expected_attempts).then_some(())
    });
    let out = a.cli(&["queue", "list"]);
    out.assert_ok("queue list");
    out.out()
}

/// The messages of `r@DOMAIN` at `b`.
fn inbox(b: &Server, domain: &str) -> Vec<Vec<u8>> {
    b.fetch_all(&format!("r@{domain}"), "rpw")
}

/// Enforced policies: a listed MX (by name or wildcard) with a valid
/// certificate gets the mail over TLS; an MX the policy does not list gets
/// nothing, the message stays queued with a 4.7.5 reason naming MTA-STS.
/// A testing policy that does not list the MX delivers all the same and
/// reports. The policy is cached: with the policy server gone, and after
/// a restart of the sender, the unlisted MX is still refused.
#[test]
fn enforce_delivers_only_to_listed_mx_hosts_and_the_policy_is_cached() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, ca_file) = ca(dir.path());
    let mut https = PolicyServer::start(dir.path(), &ca, POLICIES, &[NOT_IN_CERT]);
    let dns = dns();
    let b = receiver(dir.path(), &ca, "mx.remote.test");
    let mut a = sender(&dns, b.smtp_port, &https, &ca_file);

    submit(&a, DEMO_USER, "r@remote.test", "listed");
    submit(&a, DEMO_USER, "r@wild.test", "wildcard");
    submit(&a, DEMO_USER, "r@elsewhere.test", "unlisted");
    submit(&a, DEMO_USER, "r@trying.test", "testing");
    submit(&a, DEMO_USER, "r@badcert.test", "unauthenticated policy");
    for (domain, subject) in [
        ("remote.test", "listed"),
        ("wild.test", "wildcard"),
        ("trying.test", "testing"),
        // The policy could not be fetched over verified TLS: none applies.
        ("badcert.test", "unauthenticated policy"),
    ] {
        let msgs = wait_for(&format!("the message at r@{domain}"), 30, || {
            let m = inbox(&b, domain);
            (!m.is_empty()).then_some(m)
        });
        let text = String::from_utf8_lossy(&msgs[0]);
        assert!(text.contains(&format!("Subject: {subject}")), "{text}");
        // Received over TLS (the receiver writes ESMTPS).
        assert!(
            text.contains("with ESMTPS id"),
            "{domain}: not over TLS:\n{text}"
        );
    }
    let q = settled(&a, 1);
    assert!(
        inbox(&b, "elsewhere.test").is_empty(),
        "sent to an unlisted MX"
    );
    assert!(
        q.contains("r@elsewhere.test  pending"),
        "the message left the queue:\n{q}"
    );
    assert!(
        q.contains(
            "4.7.5 MTA-STS enforce: mx.remote.test not in the policy of elsewhere.test (mx: *.elsewhere.test)"
        ),
        "{q}"
    );
    for domain in ["remote.test", "wild.test", "elsewhere.test", "trying.test"] {
        assert_eq!(https.fetches(domain), 1, "{domain}:\n{}", https.requests());
    }
    assert_eq!(https.fetches("badcert.test"), 0, "{}", https.requests());
    // The testing policy's mismatch and the policy host's certificate went
    // to the TLS-RPT hook.
    let log = a.stderr_text();
    assert!(
        log.contains("validation-failure") && log.contains("trying.test"),
        "{log}"
    );
    assert!(
        log.contains("sts-webpki-invalid") && log.contains("badcert.test"),
        "{log}"
    );
    assert!(a.fetch_all(DEMO_USER, DEMO_PASS).is_empty(), "bounced");

    // The policy server goes away; the cached policies stay in force, also
    // after a restart (they are in the store).
    https.stop();
    a.stop_term();
    a.restart(false);
    submit(&a, DEMO_USER, "r@elsewhere.test", "unlisted again");
    submit(&a, DEMO_USER, "r@remote.test", "listed again");
    wait_for("the second message at r@remote.test", 30, || {
        (inbox(&b, "remote.test").len() == 2).then_some(())
    });
    let q = settled(&a, 2);
    assert!(
        inbox(&b, "elsewhere.test").is_empty(),
        "sent to an unlisted MX:\n{q}"
    );
    assert_eq!(
        q.matches("MTA-STS enforce: mx.remote.test not in the policy of elsewhere.test")
            .count(),
        2,
        "{q}"
    );
}

/// Under `enforce`, a certificate that does not name the MX (though from
/// a trusted CA) ends the session after the handshake: nothing is sent,
/// the message waits. Under `testing` the same server gets the mail, and
/// the mismatch is reported.
#[test]
fn enforce_refuses_a_certificate_for_another_name() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, ca_file) = ca(dir.path());
    let https = PolicyServer::start(dir.path(), &ca, POLICIES, &[NOT_IN_CERT]);
    let dns = dns();
    let b = receiver(dir.path(), &ca, "impostor.test");
    let a = sender(&dns, b.smtp_port, &https, &ca_file);

    submit(&a, DEMO_USER, "r@remote.test", "wrong name");
    submit(&a, DEMO_USER, "r@trying.test", "testing wrong name");
    let msgs = wait_for("the message at r@trying.test", 30, || {
        let m = inbox(&b, "trying.test");
        (!m.is_empty()).then_some(m)
    });
    assert!(contains(&msgs[0], b"Subject: testing wrong name"));
    let q = settled(&a, 1);
    assert!(inbox(&b, "remote.test").is_empty(), "sent to an impostor");
    assert!(q.contains("r@remote.test  pending"), "{q}");
    assert!(
        q.contains("4.7.5 MTA-STS enforce: TLS with mx.remote.test failed"),
        "{q}"
    );
    let log = a.stderr_text();
    assert!(log.contains("certificate-host-mismatch"), "{log}");
}

/// Under `enforce`, an MX without STARTTLS (smtp-sink) never gets the
/// message in clear text; under `testing` it does.
#[test]
fn enforce_never_falls_back_to_clear_text() {
    require_tool!("smtp-sink");
    let dir = tempfile::tempdir().unwrap();
    let (ca, ca_file) = ca(dir.path());
    let https = PolicyServer::start(dir.path(), &ca, POLICIES, &[NOT_IN_CERT]);
    let dns = dns();
    let sink_dir = dir.path().join("sink");
    std::fs::create_dir(&sink_dir).unwrap();
    // smtp-sink drops to `nobody` when run as root.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&sink_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let port = free_port();
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false);
    let mut cmd = Command::new("smtp-sink");
    if root {
        cmd.args(["-u", "nobody"]);
    }
    let mut sink = cmd
        .arg("-d")
        .arg(sink_dir.join("%H%M%S."))
        .arg(format!("127.0.0.1:{port}"))
        .arg("50")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("smtp-sink");
    wait_for("smtp-sink to listen", 10, || {
        std::net::TcpStream::connect(("127.0.0.1", port))
            .ok()
            .map(|_| ())
    });
    let received = || -> Vec<String> {
        std::fs::read_dir(&sink_dir)
            .unwrap()
            .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
            .filter(|t| !t.is_empty())
            .collect()
    };
    let a = sender(&dns, port, &https, &ca_file);
    submit(&a, DEMO_USER, "r@remote.test", "must not go in clear");
    submit(&a, DEMO_USER, "r@trying.test", "may go in clear");
    wait_for("the testing domain's message at the sink", 30, || {
        received()
            .iter()
            .any(|m| m.contains("Subject: may go in clear"))
            .then_some(())
    });
    let q = settled(&a, 1);
    let _ = sink.kill();
    let _ = sink.wait();
    assert!(
        !received()
            .iter()
            .any(|m| m.contains("must not go in clear")),
        "sent in clear text under enforce"
    );
    assert!(q.contains("r@remote.test  pending"), "{q}");
    assert!(
        q.contains("4.7.5 MTA-STS enforce:") && q.contains("STARTTLS"),
        "{q}"
    );
    let log = a.stderr_text();
    assert!(log.contains("starttls-not-supported"), "{log}");
}
