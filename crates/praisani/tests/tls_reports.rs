//! TLS-RPT reports (RFC 8460) on the real binary: the sender delivers
//! under MTA-STS policies (a Python HTTPS server serves them, the test DNS
//! server publishes MX, `_mta-sts` and `_smtp._tls` records), `praisani
//! tls-report send --now` builds the reports, and the queue delivers them
//! to the receiving praisani, where Python (email, gzip, json) unpacks
//! the one we fetch by POP3.
//!
//! The domains:
//! - `remote.test`: `enforce`, `mx: *.remote.test`, MX `mx1.remote.test`
//!   (10) then `mx2.remote.test` (20), both 127.0.0.1, where the receiver's
//!   certificate names only `mx2.remote.test`: a message there is one
//!   failed session (`certificate-host-mismatch` at mx1) and one
//!   successful one (mx2). `_smtp._tls` names `tlsrpt@remote.test`.
//! - `quiet.test`: `enforce`, `mx: mx2.remote.test`, no `_smtp._tls`
//!   record: no report.

mod common;

use common::certs::TestCa;
use common::policy_server::PolicyServer;
use common::*;
use praisani_testdns::{TestDns, Zone};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The policy of each domain.
const POLICIES: &[(&str, &str)] = &[
    ("remote.test", "enforce\r\nmx: *.remote.test"),
    ("quiet.test", "enforce\r\nmx: mx2.remote.test"),
];

/// Unpacks a report message (the file named first): its header fields,
/// the parts' types, the attachment's file name and the decompressed
/// JSON, as one JSON object.
const UNPACK: &str = r#"
import email, email.policy, gzip, json, sys
msg = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=email.policy.default)
out = {
    'subject': str(msg['Subject']),
    'domain': str(msg['TLS-Report-Domain']),
    'submitter': str(msg['TLS-Report-Submitter']),
    'content_type': msg.get_content_type(),
    'report_type': msg.get_param('report-type'),
    'dkim': str(msg.get('DKIM-Signature', '')),
    'parts': [p.get_content_type() for p in msg.iter_parts()],
}
for p in msg.iter_parts():
    if p.get_content_type() == 'application/tlsrpt+gzip':
        out['filename'] = p.get_filename()
        out['report'] = json.loads(gzip.decompress(p.get_payload(decode=True)))
print(json.dumps(out))
"#;

/// The DNS of the test (see the module text).
fn dns() -> TestDns {
    let mut zone = Zone::new()
        .a("mx1.remote.test", "127.0.0.1")
        .a("mx2.remote.test", "127.0.0.1")
        .mx("remote.test", 10, "mx1.remote.test")
        .mx("remote.test", 20, "mx2.remote.test")
        .mx("quiet.test", 10, "mx2.remote.test")
        .txt(
            "_smtp._tls.remote.test",
            "v=TLSRPTv1; rua=mailto:tlsrpt@remote.test,https://reports.remote.test/v1",
        );
    for (domain, _) in POLICIES {
        zone = zone
            .txt(&format!("_mta-sts.{domain}"), "v=STSv1; id=20261204T1;")
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

/// The receiving MX: a certificate for `mx2.remote.test` only, mailboxes
/// `r@` of each domain and `tlsrpt@remote.test`.
fn receiver(dir: &Path, ca: &TestCa) -> Server {
    let (cert, key) = ca.issue(&["mx2.remote.test"]).write(dir, "receiver");
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
    b.add_user("tlsrpt@remote.test", "rpw", &[]);
    b
}

/// The sender, with `reports` appended to its configuration.
fn sender(
    dns: &TestDns,
    mx_port: u16,
    https: &PolicyServer,
    ca_file: &Path,
    reports: &str,
) -> Server {
    Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tls_listeners: true,
            tables: format!(
                "[delivery]\nretry = [\"1h\"]\nnameservers = [\"{}\"]\nsmtp_port = {mx_port}\nallow_internal_mx = true\ntls_ca_file = \"{}\"\nmta_sts_port = {}\nmta_sts_timeout = \"5s\"\n{reports}",
                dns.addr,
                ca_file.display(),
                https.port
            ),
            ..ExtraConfig::default()
        },
    )
}

/// Waits for one message at `r@DOMAIN`.
fn delivered(b: &Server, domain: &str) {
    wait_for(&format!("the message at r@{domain}"), 30, || {
        (!b.fetch_all(&format!("r@{domain}"), "rpw").is_empty()).then_some(())
    });
}

/// One message to each domain: the report on remote.test counts one
/// failed session (the certificate at mx1) and one successful one (mx2),
/// goes to its `mailto:` (not its `https:`), is DKIM-signed, and carries
/// the fields of RFC 8460 section 5.3; quiet.test publishes no record and
/// gets none.
#[test]
fn a_day_of_sessions_is_reported_to_the_mailto_address() {
    if !have_tool("python3", module_path!()) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ca, ca_file) = ca(dir.path());
    let https = PolicyServer::start(dir.path(), &ca, POLICIES, &[]);
    let dns = dns();
    let b = receiver(dir.path(), &ca);
    let a = sender(
        &dns,
        b.smtp_port,
        &https,
        &ca_file,
        "[tls_reports]\nenabled = true\norg_name = \"Test Hosting\"\n\
         from = \"tlsrpt@example.test\"\ncontact = \"noc@example.test\"\n",
    );
    a.cli(&["dkim", "generate", "example.test"])
        .assert_ok("dkim generate");

    submit(&a, DEMO_USER, "r@remote.test", "to remote");
    submit(&a, DEMO_USER, "r@quiet.test", "to quiet");
    delivered(&b, "remote.test");
    delivered(&b, "quiet.test");
    // The results are written by a task of their own, just after.
    std::thread::sleep(Duration::from_millis(500));

    let out = a.cli(&["tls-report", "send", "--now"]);
    out.assert_ok("tls-report send");
    let text = out.out();
    assert!(
        text.contains("1 report(s) built, 1 message(s) queued"),
        "{text}"
    );
    assert!(
        text.contains("report on quiet.test not sent: no TLS-RPT record"),
        "{text}"
    );
    assert!(
        text.contains("not sent to https://reports.remote.test/v1 (report on remote.test)"),
        "{text}"
    );

    let reports = wait_for("the report at tlsrpt@remote.test", 30, || {
        let m = b.fetch_all("tlsrpt@remote.test", "rpw");
        (!m.is_empty()).then_some(m)
    });
    assert_eq!(reports.len(), 1, "one report");
    let file = dir.path().join("report.eml");
    std::fs::write(&file, &reports[0]).unwrap();
    let out = python(UNPACK, &[file.to_str().unwrap()], Duration::from_secs(30));
    out.assert_ok("unpacking the report");
    let got: Value = serde_json::from_str(&out.out()).unwrap();
    let raw = String::from_utf8_lossy(&reports[0]);

    assert_eq!(got["domain"], "remote.test", "{raw}");
    assert_eq!(got["submitter"], "mx.example.test");
    let subject = got["subject"].as_str().unwrap();
    assert!(
        subject.starts_with("Report Domain: remote.test Submitter: mx.example.test Report-ID: <"),
        "{subject}"
    );
    assert_eq!(got["content_type"], "multipart/report");
    assert_eq!(got["report_type"], "tlsrpt");
    assert_eq!(
        got["parts"],
        serde_json::json!(["text/plain", "application/tlsrpt+gzip"])
    );
    assert!(
        got["dkim"].as_str().unwrap().contains("d=example.test"),
        "not signed by example.test:\n{raw}"
    );
    let filename = got["filename"].as_str().unwrap();
    assert!(
        filename.starts_with("mx.example.test!remote.test!") && filename.ends_with(".json.gz"),
        "{filename}"
    );

    let r = &got["report"];
    assert_eq!(r["organization-name"], "Test Hosting");
    assert_eq!(r["contact-info"], "noc@example.test");
    assert!(subject.contains(r["report-id"].as_str().unwrap()), "{r}");
    let start = r["date-range"]["start-datetime"].as_str().unwrap();
    assert!(start.ends_with("T00:00:00Z"), "{r}");
    assert!(
        r["date-range"]["end-datetime"]
            .as_str()
            .unwrap()
            .ends_with("T23:59:59Z")
    );
    let policies = r["policies"].as_array().unwrap();
    assert_eq!(policies.len(), 1, "{r}");
    let p = &policies[0];
    assert_eq!(p["policy"]["policy-type"], "sts", "{r}");
    assert_eq!(p["policy"]["policy-domain"], "remote.test");
    assert_eq!(p["policy"]["mx-host"], serde_json::json!(["*.remote.test"]));
    let lines = p["policy"]["policy-string"].as_array().unwrap();
    assert!(lines.contains(&Value::from("mode: enforce")), "{r}");
    assert!(lines.contains(&Value::from("mx: *.remote.test")), "{r}");
    assert_eq!(p["summary"]["total-successful-session-count"], 1, "{r}");
    assert_eq!(p["summary"]["total-failure-session-count"], 1, "{r}");
    let details = p["failure-details"].as_array().unwrap();
    assert_eq!(details.len(), 1, "{r}");
    let d = &details[0];
    assert_eq!(d["result-type"], "certificate-host-mismatch", "{r}");
    assert_eq!(d["receiving-mx-hostname"], "mx1.remote.test");
    assert_eq!(d["receiving-ip"], "127.0.0.1");
    assert_eq!(d["sending-mta-ip"], "127.0.0.1");
    assert_eq!(d["failed-session-count"], 1);

    // Taken is gone (the store's conformance suite checks it for both
    // backends); a second send has only what delivering this report to
    // remote.test added: its own two sessions, today.
    let again = a.cli(&["--json", "tls-report", "send", "--day", &start[..10]]);
    again.assert_ok("tls-report send again");
    let again: Value = serde_json::from_str(&again.out()).unwrap();
    assert_eq!(again["reports"], 1, "{again}");
}

/// Without `[tls_reports]` nothing is recorded: the same deliveries give
/// no report.
#[test]
fn reports_are_off_by_default() {
    if !have_tool("python3", module_path!()) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ca, ca_file) = ca(dir.path());
    let https = PolicyServer::start(dir.path(), &ca, POLICIES, &[]);
    let dns = dns();
    let b = receiver(dir.path(), &ca);
    let a = sender(&dns, b.smtp_port, &https, &ca_file, "");
    submit(&a, DEMO_USER, "r@remote.test", "to remote");
    delivered(&b, "remote.test");
    std::thread::sleep(Duration::from_millis(500));
    let out = a.cli(&["--json", "tls-report", "send", "--now"]);
    out.assert_ok("tls-report send");
    let got: Value = serde_json::from_str(&out.out()).unwrap();
    assert_eq!(got["reports"], 0, "{got}");
    assert_eq!(got["skipped"], serde_json::json!([]), "{got}");
    // The result still reached the hook: it is logged.
    assert!(
        a.stderr_text().contains("certificate-host-mismatch"),
        "{}",
        a.stderr_text()
    );
}
