//! DANE (RFC 7672) end to end with real DNSSEC: the test writes zones,
//! signs them with ldns-signzone (keys from ldns-keygen), has unbound
//! serve them as auth-zones and validate them with the zones' DS records
//! as trust anchors, on a loopback port. The sender praisani asks unbound
//! (`delivery.nameservers`); the receiving MX is a second praisani whose
//! certificate (signed by a test CA, sent with the CA) the TLSA records
//! describe, or Postfix's smtp-sink, which offers no STARTTLS.
//!
//! The MX hosts listen on a test port, so the TLSA records are at
//! `_PORT._tcp.HOST`. Where a destination publishes MTA-STS too, its
//! policy comes from the tests' HTTPS policy server
//! (`common::policy_server`).
//! A TLSA mismatch also lands in a TLS-RPT report.

mod common;

use common::certs::{ServerCert, TestCa};
use common::policy_server::PolicyServer;
use common::*;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// unbound lives in /usr/sbin, which a user's PATH may lack.
fn unbound_bin() -> String {
    if Path::new("/usr/sbin/unbound").exists() {
        "/usr/sbin/unbound".into()
    } else {
        "unbound".into()
    }
}

/// Skips (or fails under PRAISANI_REQUIRE_TOOLS=1) without the tools.
fn have_dnssec_tools() -> bool {
    have_tool(&unbound_bin(), "dane")
        && have_tool("ldns-keygen", "dane")
        && have_tool("ldns-signzone", "dane")
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// How a zone is published.
enum Signing {
    /// Not signed, no trust anchor: insecure.
    Unsigned,
    /// Signed; its DS is unbound's trust anchor: secure.
    Signed,
    /// Signed, then this text replaced by that one in the signed file:
    /// the signature no longer fits (bogus).
    Tampered(String, String),
    /// Signed, but unbound trusts another key: bogus.
    WrongAnchor,
}

struct Zone {
    origin: &'static str,
    /// Records, one per line, names relative to the origin.
    records: String,
    signing: Signing,
}

/// unbound on a loopback port serving and validating the zones.
struct Resolver {
    port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl Resolver {
    fn start(zones: Vec<Zone>) -> Resolver {
        let mut dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().to_path_buf();
        let d = path.as_path();
        let mut conf_zones = String::new();
        let mut anchors = String::new();
        for z in &zones {
            let text = format!(
                "$ORIGIN {o}.\n$TTL 300\n@ IN SOA ns.{o}. hostmaster.{o}. 1 3600 600 86400 300\n@ IN NS ns.{o}.\nns IN A 127.0.0.1\n{r}\n",
                o = z.origin,
                r = z.records
            );
            let zone_file = d.join(format!("{}.zone", z.origin));
            std::fs::write(&zone_file, text).unwrap();
            let served = match &z.signing {
                Signing::Unsigned => zone_file.clone(),
                signing => {
                    let key = keygen(d, z.origin);
                    let signed = d.join(format!("{}.signed", z.origin));
                    run_cmd(
                        Command::new("ldns-signzone")
                            .current_dir(d)
                            .arg("-f")
                            .arg(&signed)
                            .arg(&zone_file)
                            .arg(&key),
                        None,
                        Duration::from_secs(30),
                    )
                    .assert_ok("ldns-signzone");
                    let anchor_key = match signing {
                        Signing::WrongAnchor => keygen(d, z.origin),
                        _ => key,
                    };
                    anchors.push_str(&format!(
                        "  trust-anchor-file: \"{}\"\n",
                        d.join(format!("{anchor_key}.ds")).display()
                    ));
                    if let Signing::Tampered(from, to) = signing {
                        let text = std::fs::read_to_string(&signed).unwrap();
                        assert!(
                            text.contains(from.as_str()),
                            "nothing to tamper with in {text}"
                        );
                        std::fs::write(&signed, text.replace(from.as_str(), to)).unwrap();
                    }
                    signed
                }
            };
            conf_zones.push_str(&format!(
                "auth-zone:\n  name: \"{}\"\n  zonefile: \"{}\"\n  for-upstream: yes\n  for-downstream: no\n  fallback-enabled: no\n",
                z.origin,
                served.display()
            ));
        }
        // A port taken meanwhile (the free port is only free when asked
        // for) makes unbound exit: start again on another. Without
        // SO_REUSEPORT a second unbound cannot share a port with ours.
        for _ in 0..4 {
            let port = free_port();
            let conf = format!(
                "server:\n  interface: 127.0.0.1@{port}\n  port: {port}\n  so-reuseport: no\n  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n  directory: \"{dir}\"\n  pidfile: \"\"\n  use-syslog: no\n  logfile: \"\"\n  verbosity: 1\n  val-log-level: 2\n  do-ip6: no\n  access-control: 127.0.0.0/8 allow\n  module-config: \"validator iterator\"\n  local-zone: \"test.\" nodefault\n{anchors}{conf_zones}",
                dir = d.display()
            );
            let conf_path = d.join("unbound.conf");
            std::fs::write(&conf_path, conf).unwrap();
            let child = Command::new(unbound_bin())
                .arg("-d")
                .arg("-c")
                .arg(&conf_path)
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(d.join("unbound.log")).unwrap())
                .stderr(std::fs::File::create(d.join("unbound.err")).unwrap())
                .spawn()
                .expect("unbound");
            let mut r = Resolver { port, child, dir };
            let first = zones[0].origin;
            let t0 = std::time::Instant::now();
            while t0.elapsed() < Duration::from_secs(10) {
                if r.answers(first) {
                    return r;
                }
                if matches!(r.child.try_wait(), Ok(Some(_))) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            eprintln!(
                "unbound on port {port} did not start, retrying:\n{}",
                r.log()
            );
            let _ = r.child.kill();
            let _ = r.child.wait();
            dir = std::mem::replace(&mut r.dir, tempfile::tempdir().unwrap());
        }
        panic!("unbound did not start");
    }

    /// Does unbound answer an SOA query for `name` (any answer)?
    fn answers(&self, name: &str) -> bool {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.split('.') {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.extend_from_slice(&[0, 0, 6, 0, 1]);
        if sock.send_to(&q, ("127.0.0.1", self.port)).is_err() {
            return false;
        }
        let mut buf = [0u8; 1500];
        // Ours: the id back, and NOERROR (another server would refuse).
        matches!(sock.recv(&mut buf), Ok(n) if n >= 12 && buf[0] == 0x12 && buf[1] == 0x34 && buf[3] & 0x0f == 0)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("unbound.err")).unwrap_or_default()
            + &std::fs::read_to_string(self.dir.path().join("unbound.log")).unwrap_or_default()
    }
}

impl Drop for Resolver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A new ECDSA P-256 key for `origin` in `dir`; its file base name.
fn keygen(dir: &Path, origin: &str) -> String {
    let out = run_cmd(
        Command::new("ldns-keygen")
            .current_dir(dir)
            .args(["-a", "ECDSAP256SHA256", "-k", origin]),
        None,
        Duration::from_secs(30),
    );
    out.assert_ok("ldns-keygen");
    out.out().trim().to_string()
}

/// The receiving MX: a praisani with a certificate for `names`, signed
/// by `ca` and sent with it, hosting `domains` with one user `r@` each.
struct Receiver {
    server: Server,
    cert: ServerCert,
    _files: tempfile::TempDir,
}

fn receiver(ca: &TestCa, names: &[&str], domains: &[&str]) -> Receiver {
    let cert = ca.issue(names);
    let files = tempfile::tempdir().unwrap();
    let (crt, key) = cert.write(files.path(), "mx");
    // The chain: the server's certificate, then the CA (for DANE-TA).
    std::fs::write(&crt, format!("{}{}", cert.cert, ca.pem())).unwrap();
    let server = Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tables: format!(
                "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
                crt.display(),
                key.display()
            ),
            ..ExtraConfig::default()
        },
    );
    for d in domains {
        server.add_domain(d);
        server.add_user(&format!("r@{d}"), "rpw", &[]);
    }
    Receiver {
        server,
        cert,
        _files: files,
    }
}

/// The server certificate's DER and its key's SubjectPublicKeyInfo.
fn der_and_spki(cert: &ServerCert) -> (Vec<u8>, Vec<u8>) {
    use rcgen::PublicKeyData;
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let der = CertificateDer::from_pem_slice(cert.cert.as_bytes()).unwrap();
    let key = rcgen::KeyPair::from_pem(&cert.key).unwrap();
    (der.to_vec(), key.subject_public_key_info())
}

/// A sender asking `dns` for everything, MX hosts on `port`, with extra
/// `[delivery]` lines.
fn sender(dns: &Resolver, port: u16, extra: &str) -> Server {
    Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tls_listeners: true,
            tables: format!(
                "[delivery]\nretry = [\"1h\"]\nnameservers = [\"127.0.0.1:{}\"]\nsmtp_port = {port}\nallow_internal_mx = true\n{extra}\n",
                dns.port
            ),
            ..ExtraConfig::default()
        },
    )
}

/// `origin`'s MX record and its host's address.
fn mx(domain_label: &str, host_label: &str) -> String {
    format!("{domain_label} IN MX 10 {host_label}\n{host_label} IN A 127.0.0.1\n")
}

fn tlsa(port: u16, host_label: &str, record: &str) -> String {
    format!("_{port}._tcp.{host_label} IN TLSA {record}\n")
}

/// Waits until `n` recipients had an attempt (or left the queue).
fn attempts(a: &Server, n: usize) -> String {
    wait_for("the recorded attempts", 40, || {
        let q = queue_json(a);
        (q.matches("\"attempts\":1").count() >= n).then_some(q)
    })
}

fn delivered(b: &Server, to: &str) -> Vec<u8> {
    let found = wait_for(&format!("the message for {to}"), 30, || {
        let m = b.fetch_all(to, "rpw");
        (!m.is_empty()).then_some(m)
    });
    assert_eq!(found.len(), 1, "delivered more than once to {to}");
    found.into_iter().next().unwrap()
}

/// DANE-EE by key (3 1 1) and by certificate (3 0 1), DANE-TA (2 1 1) with
/// the CA the server sends, and records that are all unusable for SMTP
/// (1 1 1: TLS mandatory, nothing to check): delivered, over TLS.
#[test]
fn matching_tlsa_records_deliver_over_tls() {
    if !have_dnssec_tools() {
        return;
    }
    let ca = TestCa::new();
    let hosts = [
        "mx.dane.test",
        "mxcert.dane.test",
        "mxta.dane.test",
        "mxpkix.dane.test",
    ];
    let domains = [
        "ee.dane.test",
        "cert.dane.test",
        "ta.dane.test",
        "pkix.dane.test",
    ];
    let r = receiver(&ca, &hosts, &domains);
    let (b, cert) = (&r.server, &r.cert);
    let (der, spki) = der_and_spki(cert);
    let p = b.smtp_port;
    let records = [
        mx("ee", "mx"),
        tlsa(p, "mx", &format!("3 1 1 {}", sha256_hex(&spki))),
        mx("cert", "mxcert"),
        tlsa(p, "mxcert", &format!("3 0 1 {}", sha256_hex(&der))),
        mx("ta", "mxta"),
        tlsa(p, "mxta", &format!("2 1 1 {}", sha256_hex(&ca.spki_der()))),
        mx("pkix", "mxpkix"),
        tlsa(p, "mxpkix", &format!("1 1 1 {}", sha256_hex(&spki))),
    ]
    .concat();
    let dns = Resolver::start(vec![Zone {
        origin: "dane.test",
        records,
        signing: Signing::Signed,
    }]);
    let a = sender(&dns, p, "");
    for d in domains {
        submit(&a, DEMO_USER, &format!("r@{d}"), &format!("dane to {d}"));
    }
    for d in domains {
        let msg = delivered(b, &format!("r@{d}"));
        let text = String::from_utf8_lossy(&msg);
        assert!(text.contains(&format!("Subject: dane to {d}")), "{text}");
        assert!(
            text.contains("with ESMTPS"),
            "not received over TLS: {text}\n{}",
            a.log()
        );
    }
    wait_for("the queue to empty", 10, || {
        (queue_json(&a).trim() == "[]").then_some(())
    });
    let _ = dns.log();
}

/// A DANE-EE record for another key, and a DANE-TA record whose CA signed
/// a certificate that does not name the MX host: nothing is sent, the
/// mail waits with `4.7.5 DANE`, no bounce. With `delivery.dane = false`
/// the same mail goes out (opportunistic TLS, as before).
#[test]
fn a_tlsa_mismatch_keeps_the_mail_queued() {
    if !have_dnssec_tools() {
        return;
    }
    let ca = TestCa::new();
    let r = receiver(
        &ca,
        &["mxbad.dane.test"],
        &["bad.dane.test", "name.dane.test"],
    );
    let b = &r.server;
    let other = TestCa::new();
    let p = b.smtp_port;
    let records = [
        mx("bad", "mxbad"),
        tlsa(
            p,
            "mxbad",
            &format!("3 1 1 {}", sha256_hex(&other.spki_der())),
        ),
        mx("name", "mxname"),
        tlsa(
            p,
            "mxname",
            &format!("2 1 1 {}", sha256_hex(&ca.spki_der())),
        ),
        // TLS-RPT reports on bad.dane.test go to the sender's own user.
        format!("_smtp._tls.bad IN TXT \"v=TLSRPTv1; rua=mailto:{DEMO_USER}\"\n"),
    ]
    .concat();
    let dns = Resolver::start(vec![Zone {
        origin: "dane.test",
        records,
        signing: Signing::Signed,
    }]);
    let a = sender(&dns, p, "[tls_reports]\nenabled = true");
    submit(&a, DEMO_USER, "r@bad.dane.test", "to an impostor");
    submit(&a, DEMO_USER, "r@name.dane.test", "to a misnamed host");
    let q = attempts(&a, 2);
    assert_eq!(q.matches("\"state\":\"pending\"").count(), 2, "{q}");
    assert!(
        q.contains("4.7.5 DANE: mxbad.dane.test: no TLSA record"),
        "{q}\n{}",
        a.log()
    );
    assert!(
        q.contains("4.7.5 DANE: mxname.dane.test: trust anchor 2 1 1"),
        "{q}"
    );
    assert!(q.contains("does not verify for mxname.dane.test"), "{q}");
    assert!(
        b.fetch_all("r@bad.dane.test", "rpw").is_empty(),
        "sent to an impostor"
    );
    assert!(b.fetch_all("r@name.dane.test", "rpw").is_empty());
    assert!(a.fetch_all(DEMO_USER, DEMO_PASS).is_empty(), "bounced");

    // The failed session is in bad.dane.test's TLS-RPT report, under its
    // TLSA record (name.dane.test publishes no _smtp._tls record).
    let out = a.cli(&["tls-report", "send", "--now"]);
    out.assert_ok("tls-report send");
    assert!(
        out.out().contains("1 report(s) built, 1 message(s) queued"),
        "{}",
        out.out()
    );
    let reports = wait_for("the TLS-RPT report", 30, || {
        let m = a.fetch_all(DEMO_USER, DEMO_PASS);
        (!m.is_empty()).then_some(m)
    });
    let file = r.server.dir.path().join("tlsrpt.eml");
    std::fs::write(&file, &reports[0]).unwrap();
    let unpack = "import email, gzip, sys\n\
        m = email.message_from_bytes(open(sys.argv[1], 'rb').read())\n\
        for p in m.walk():\n    \
            if p.get_content_type() == 'application/tlsrpt+gzip':\n        \
                print(gzip.decompress(p.get_payload(decode=True)).decode())\n";
    let out = python(unpack, &[file.to_str().unwrap()], Duration::from_secs(30));
    out.assert_ok("unpacking the report");
    let report: serde_json::Value = serde_json::from_str(out.out().trim()).unwrap();
    let policy = &report["policies"][0];
    assert_eq!(policy["policy"]["policy-type"], "tlsa", "{report}");
    assert_eq!(policy["policy"]["policy-domain"], "bad.dane.test");
    assert_eq!(
        policy["policy"]["policy-string"][0],
        format!("3 1 1 {}", sha256_hex(&other.spki_der())),
        "{report}"
    );
    assert_eq!(policy["policy"]["mx-host"][0], "mxbad.dane.test");
    assert_eq!(
        policy["summary"]["total-failure-session-count"], 1,
        "{report}"
    );
    assert_eq!(policy["summary"]["total-successful-session-count"], 0);
    assert_eq!(
        policy["failure-details"][0]["result-type"], "tlsa-invalid",
        "{report}"
    );

    // DANE off: the same destination takes the mail.
    let off = sender(&dns, p, "dane = false");
    submit(&off, DEMO_USER, "r@bad.dane.test", "dane off");
    let msg = delivered(b, "r@bad.dane.test");
    assert!(contains(&msg, b"Subject: dane off"));
}

/// A server without STARTTLS (smtp-sink) whose host has TLSA records gets
/// nothing: DANE makes TLS mandatory.
#[test]
fn no_starttls_with_tlsa_records_is_a_temporary_failure() {
    if !have_dnssec_tools() {
        return;
    }
    require_tool!("smtp-sink");
    let sink_dir = tempfile::tempdir().unwrap();
    let mail = sink_dir.path().join("mail");
    std::fs::create_dir(&mail).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&mail, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let port = free_port();
    let mut c = Command::new("smtp-sink");
    if std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false)
    {
        c.args(["-u", "nobody"]);
    }
    let mut sink = c
        .arg("-d")
        .arg(mail.join("%H%M%S."))
        .arg(format!("127.0.0.1:{port}"))
        .arg("10")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("smtp-sink");
    wait_for("smtp-sink to listen", 10, || {
        std::net::TcpStream::connect(("127.0.0.1", port))
            .ok()
            .map(|_| ())
    });
    let key = rcgen::KeyPair::generate().unwrap();
    let spki = {
        use rcgen::PublicKeyData;
        key.subject_public_key_info()
    };
    let records = [
        mx("sink", "mxsink"),
        tlsa(port, "mxsink", &format!("3 1 1 {}", sha256_hex(&spki))),
    ]
    .concat();
    let dns = Resolver::start(vec![Zone {
        origin: "dane.test",
        records,
        signing: Signing::Signed,
    }]);
    let a = sender(&dns, port, "");
    submit(&a, DEMO_USER, "x@sink.dane.test", "in clear?");
    let q = attempts(&a, 1);
    let _ = sink.kill();
    let _ = sink.wait();
    assert!(q.contains("\"state\":\"pending\""), "{q}");
    assert!(
        q.contains("4.7.5 DANE: mxsink.dane.test has TLSA records, so TLS is mandatory"),
        "{q}\n{}",
        a.log()
    );
    let received: Vec<PathBuf> = std::fs::read_dir(&mail)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| std::fs::metadata(p).map(|m| m.len() > 0).unwrap_or(false))
        .collect();
    assert!(received.is_empty(), "sent in clear text: {received:?}");
}

/// An unsigned zone is insecure: its TLSA records (here a wrong one) are
/// ignored and the mail goes out as without DANE.
#[test]
fn an_unsigned_zone_is_delivered_as_before() {
    if !have_dnssec_tools() {
        return;
    }
    let ca = TestCa::new();
    let r = receiver(&ca, &["mx.plain.test"], &["plain.test"]);
    let b = &r.server;
    let p = b.smtp_port;
    let wrong = sha256_hex(b"not the key");
    let dns = Resolver::start(vec![Zone {
        origin: "plain.test",
        records: [mx("@", "mx"), tlsa(p, "mx", &format!("3 1 1 {wrong}"))].concat(),
        signing: Signing::Unsigned,
    }]);
    let a = sender(&dns, p, "");
    submit(&a, DEMO_USER, "r@plain.test", "insecure zone");
    let msg = delivered(b, "r@plain.test");
    assert!(contains(&msg, b"Subject: insecure zone"));
}

/// Bogus DNSSEC is never taken for "no DANE": a TLSA record changed after
/// signing (to the one that would match) fails validation, and a zone
/// whose key is not the trusted one fails at its MX lookup. Both wait
/// with a temporary failure; nothing is sent.
#[test]
fn bogus_dnssec_is_a_temporary_failure() {
    if !have_dnssec_tools() {
        return;
    }
    let ca = TestCa::new();
    let r = receiver(
        &ca,
        &["mx.bogus.test", "mx.badkey.test"],
        &["bogus.test", "badkey.test"],
    );
    let b = &r.server;
    let (_, spki) = der_and_spki(&r.cert);
    let p = b.smtp_port;
    let right = sha256_hex(&spki);
    let signed_wrong = "0".repeat(64);
    let dns = Resolver::start(vec![
        Zone {
            origin: "bogus.test",
            records: [
                mx("@", "mx"),
                tlsa(p, "mx", &format!("3 1 1 {signed_wrong}")),
            ]
            .concat(),
            signing: Signing::Tampered(signed_wrong.clone(), right.clone()),
        },
        Zone {
            origin: "badkey.test",
            records: [mx("@", "mx"), tlsa(p, "mx", &format!("3 1 1 {right}"))].concat(),
            signing: Signing::WrongAnchor,
        },
    ]);
    let a = sender(&dns, p, "");
    submit(&a, DEMO_USER, "r@bogus.test", "bogus tlsa");
    submit(&a, DEMO_USER, "r@badkey.test", "bogus mx");
    let q = attempts(&a, 2);
    assert_eq!(q.matches("\"state\":\"pending\"").count(), 2, "{q}");
    assert!(
        q.contains("4.7.5 DANE: mx.bogus.test: TLSA lookup for _") && q.contains("SERVFAIL"),
        "{q}\n{}\n{}",
        a.log(),
        dns.log()
    );
    // The MX lookup itself fails validation (the router's 4.4.3).
    assert!(q.contains("4.4.3"), "{q}");
    assert!(
        b.fetch_all("r@bogus.test", "rpw").is_empty(),
        "bogus data trusted"
    );
    assert!(
        b.fetch_all("r@badkey.test", "rpw").is_empty(),
        "bogus data trusted"
    );
    assert!(a.fetch_all(DEMO_USER, DEMO_PASS).is_empty(), "bounced");
}

/// `label`'s MTA-STS TXT record and policy host.
fn sts(label: &str) -> String {
    format!("_mta-sts.{label} IN TXT \"v=STSv1; id=20261204T1;\"\nmta-sts.{label} IN A 127.0.0.1\n")
}

/// Destinations with an MTA-STS `enforce` policy and DNSSEC-signed TLSA
/// records follow DANE, which takes precedence (RFC 8461 section 2): a
/// certificate from a CA the sender does not trust (so MTA-STS alone
/// refuses it, as the same host under an unsigned zone shows) is taken
/// when the TLSA record matches; a certificate MTA-STS accepts (as the
/// unsigned twin shows) is refused when the TLSA record does not match,
/// and the mail waits with `4.7.5 DANE`.
#[test]
fn dane_takes_precedence_over_mta_sts() {
    if !have_dnssec_tools() {
        return;
    }
    require_tool!("python3");
    let files = tempfile::tempdir().unwrap();
    // The CA the sender trusts for MTA-STS (`delivery.tls_ca_file`).
    let web = TestCa::new();
    let ca_file = files.path().join("web-ca.pem");
    std::fs::write(&ca_file, web.pem()).unwrap();
    // r1's certificate MTA-STS would refuse (an unknown CA), r2's it takes.
    let unknown = TestCa::new();
    let r1 = receiver(
        &unknown,
        &["mx1.both.test", "mx1.sts.test"],
        &["one.both.test", "one.sts.test"],
    );
    let r2 = receiver(
        &web,
        &["mx2.both.test", "mx2.sts.test"],
        &["two.both.test", "two.sts.test"],
    );
    let (_, spki1) = der_and_spki(&r1.cert);
    let (p1, p2) = (r1.server.smtp_port, r2.server.smtp_port);
    let policies = [
        ("one.both.test", "enforce\r\nmx: *.both.test"),
        ("two.both.test", "enforce\r\nmx: *.both.test"),
        ("one.sts.test", "enforce\r\nmx: *.sts.test"),
        ("two.sts.test", "enforce\r\nmx: *.sts.test"),
    ];
    let https = PolicyServer::start(files.path(), &web, &policies, &[]);
    let other_key = sha256_hex(&TestCa::new().spki_der());
    let dns = Resolver::start(vec![
        Zone {
            origin: "both.test",
            records: [
                mx("one", "mx1"),
                tlsa(p1, "mx1", &format!("3 1 1 {}", sha256_hex(&spki1))),
                sts("one"),
                mx("two", "mx2"),
                tlsa(p2, "mx2", &format!("3 1 1 {other_key}")),
                sts("two"),
            ]
            .concat(),
            signing: Signing::Signed,
        },
        // The same hosts and policies without DNSSEC: MTA-STS alone.
        Zone {
            origin: "sts.test",
            records: [mx("one", "mx1"), sts("one"), mx("two", "mx2"), sts("two")].concat(),
            signing: Signing::Unsigned,
        },
    ]);
    let extra = format!(
        "tls_ca_file = \"{}\"\nmta_sts_port = {}\nmta_sts_timeout = \"5s\"",
        ca_file.display(),
        https.port
    );
    let a1 = sender(&dns, p1, &extra);
    let a2 = sender(&dns, p2, &extra);
    submit(&a1, DEMO_USER, "r@one.both.test", "tlsa match");
    submit(&a1, DEMO_USER, "r@one.sts.test", "unknown ca");
    submit(&a2, DEMO_USER, "r@two.both.test", "tlsa mismatch");
    submit(&a2, DEMO_USER, "r@two.sts.test", "webpki valid");

    // A matching TLSA record is enough, over TLS.
    let msg = delivered(&r1.server, "r@one.both.test");
    let text = String::from_utf8_lossy(&msg);
    assert!(text.contains("Subject: tlsa match"), "{text}");
    assert!(text.contains("with ESMTPS"), "not over TLS: {text}");
    // The same certificate under MTA-STS alone is refused.
    let q1 = attempts(&a1, 1);
    assert!(
        q1.contains("4.7.5 MTA-STS enforce: TLS with mx1.sts.test failed"),
        "{q1}\n{}",
        a1.log()
    );
    assert!(r1.server.fetch_all("r@one.sts.test", "rpw").is_empty());

    // r2's certificate satisfies MTA-STS alone, but not the TLSA record.
    let msg = delivered(&r2.server, "r@two.sts.test");
    assert!(contains(&msg, b"Subject: webpki valid"));
    let q2 = attempts(&a2, 1);
    assert!(q2.contains("\"state\":\"pending\""), "{q2}");
    assert!(
        q2.contains("4.7.5 DANE: mx2.both.test: no TLSA record"),
        "{q2}\n{}",
        a2.log()
    );
    assert!(
        r2.server.fetch_all("r@two.both.test", "rpw").is_empty(),
        "sent past a TLSA mismatch"
    );

    // Every policy was found: DANE won over a policy in force, not over
    // a missing one.
    for (domain, _) in policies {
        assert!(https.fetches(domain) >= 1, "{domain}: {}", https.requests());
    }
    assert!(a1.fetch_all(DEMO_USER, DEMO_PASS).is_empty(), "bounced");
    assert!(a2.fetch_all(DEMO_USER, DEMO_PASS).is_empty(), "bounced");
}

/// Submits over STARTTLS with smtplib as the demo user: argv = port, to,
/// subject, REQUIRETLS (1/0), an extra header line (or "").
const SUBMIT_RTLS: &str = r#"
import smtplib, ssl, sys
port, to, subject, rtls, extra = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4] == '1', sys.argv[5]
s = smtplib.SMTP('127.0.0.1', port, timeout=30)
s.starttls(context=ssl._create_unverified_context())
s.login('demo@example.test', 'demo-pass')
msg = 'From: demo@example.test\r\nTo: %s\r\nSubject: %s\r\n%s\r\nbody of %s\r\n' % (
    to, subject, extra + '\r\n' if extra else '', subject)
s.sendmail('demo@example.test', [to], msg, mail_options=['REQUIRETLS'] if rtls else [])
s.quit()
print('OK')
"#;

/// REQUIRETLS (RFC 8689) under DANE: a host whose TLSA record matches
/// takes the message (the receiver offers REQUIRETLS), and so does a host
/// of secure MX records without TLSA records whose certificate verifies
/// (the test CA trusted); a host whose TLSA records are all unusable
/// cannot authenticate, so the message bounces with 5.7.30.
/// `TLS-Required: No` delivers past a TLSA mismatch that keeps the same
/// mail without it queued.
#[test]
fn requiretls_and_tls_required_no_under_dane() {
    if !have_dnssec_tools() {
        return;
    }
    let ca = TestCa::new();
    let hosts = [
        "mx.dane.test",
        "mxpkix.dane.test",
        "mxbad.dane.test",
        "mxweb.dane.test",
    ];
    let domains = [
        "ee.dane.test",
        "pkix.dane.test",
        "bad.dane.test",
        "web.dane.test",
    ];
    let r = receiver(&ca, &hosts, &domains);
    let (b, cert) = (&r.server, &r.cert);
    let (_, spki) = der_and_spki(cert);
    let p = b.smtp_port;
    let records = [
        mx("ee", "mx"),
        tlsa(p, "mx", &format!("3 1 1 {}", sha256_hex(&spki))),
        mx("pkix", "mxpkix"),
        tlsa(p, "mxpkix", &format!("1 1 1 {}", sha256_hex(&spki))),
        mx("bad", "mxbad"),
        tlsa(p, "mxbad", &format!("3 1 1 {}", sha256_hex(b"another key"))),
        mx("web", "mxweb"),
    ]
    .concat();
    let dns = Resolver::start(vec![Zone {
        origin: "dane.test",
        records,
        signing: Signing::Signed,
    }]);
    let ca_dir = tempfile::tempdir().unwrap();
    let ca_file = ca_dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let a = sender(&dns, p, &format!("tls_ca_file = \"{}\"", ca_file.display()));
    let port = a.submission_port.to_string();
    for (to, subject, rtls, extra) in [
        ("r@ee.dane.test", "rtls via dane", "1", ""),
        ("r@web.dane.test", "rtls via dnssec and pkix", "1", ""),
        ("r@pkix.dane.test", "rtls unauthenticated", "1", ""),
        ("r@bad.dane.test", "tls optional", "0", "TLS-Required: No"),
        ("r@bad.dane.test", "tls mismatch", "0", ""),
    ] {
        let out = python(
            SUBMIT_RTLS,
            &[&port, to, subject, rtls, extra],
            Duration::from_secs(30),
        );
        assert_py_ok(&out, subject);
    }
    let msg = delivered(b, "r@ee.dane.test");
    assert!(contains(&msg, b"Subject: rtls via dane"));
    let msg = delivered(b, "r@web.dane.test");
    assert!(contains(&msg, b"Subject: rtls via dnssec and pkix"));
    let msg = delivered(b, "r@bad.dane.test");
    assert!(contains(&msg, b"Subject: tls optional"));
    let bounce = wait_for("the 5.7.30 bounce", 30, || {
        a.fetch_all(DEMO_USER, DEMO_PASS).pop()
    });
    let bounce = String::from_utf8_lossy(&bounce).replace("\r\n ", " ");
    assert!(
        bounce.contains("Final-Recipient: rfc822;r@pkix.dane.test"),
        "{bounce}"
    );
    assert!(bounce.contains("Status: 5.7.30"), "{bounce}");
    assert!(bounce.contains("TLSA records are all unusable"), "{bounce}");
    assert!(!bounce.contains("body of rtls unauthenticated"), "{bounce}");
    assert!(b.fetch_all("r@pkix.dane.test", "rpw").is_empty());
    let q = attempts(&a, 1);
    assert!(q.contains("4.7.5 DANE"), "{q}");
    assert_eq!(b.fetch_all("r@bad.dane.test", "rpw").len(), 1);
}
