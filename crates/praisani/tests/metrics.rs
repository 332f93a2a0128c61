//! Prometheus metrics on the real binary: traffic over SMTP and POP3, then
//! `/metrics` scraped with urllib and parsed with `prometheus_client`'s own
//! OpenMetrics parser; who may scrape (allowed networks, bearer token, off by
//! default); the same on the admin listener for server-admin tokens;
//! `log_format = "json"` writes one JSON object per line.

mod common;

use common::*;
use serde_json::Value;
use std::time::Duration;

/// Tries a POP3 login with a wrong password and one with the right one,
/// then scrapes argv[1] (with the
/// bearer token argv[2] when not empty) and prints every sample as JSON:
/// `[[name, labels, value], ...]`.
const SCRAPE_PY: &str = r#"
import json, poplib, sys, urllib.request
from prometheus_client.openmetrics.parser import text_string_to_metric_families

url, token, pop_port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if pop_port:
    p = poplib.POP3('127.0.0.1', pop_port, timeout=10)
    p.user('demo@example.test')
    try:
        p.pass_('wrong-password')
        raise SystemExit('a wrong password was accepted')
    except poplib.error_proto:
        pass
    p.quit()
    p = poplib.POP3('127.0.0.1', pop_port, timeout=10)
    p.user('demo@example.test')
    p.pass_('demo-pass')
    assert p.stat()[0] >= 1
    p.quit()
req = urllib.request.Request(url)
if token:
    req.add_header('Authorization', 'Bearer ' + token)
with urllib.request.urlopen(req, timeout=10) as r:
    assert r.status == 200, r.status
    ctype = r.headers['Content-Type']
    assert ctype == 'application/openmetrics-text; version=1.0.0; charset=utf-8', ctype
    body = r.read().decode()
samples = []
for fam in text_string_to_metric_families(body):
    for s in fam.samples:
        samples.append([s.name, s.labels, s.value])
print(json.dumps({'types': {f.name: f.type for f in text_string_to_metric_families(body)}, 'samples': samples}))
"#;

/// Prints the HTTP status of GET argv[1] with the Authorization value
/// argv[2] (none when empty), and the WWW-Authenticate field.
const STATUS_PY: &str = r#"
import sys, urllib.error, urllib.request
req = urllib.request.Request(sys.argv[1])
if sys.argv[2]:
    req.add_header('Authorization', sys.argv[2])
try:
    with urllib.request.urlopen(req, timeout=10) as r:
        print(r.status, '')
except urllib.error.HTTPError as e:
    print(e.code, e.headers.get('WWW-Authenticate') or '')
"#;

struct Scrape {
    types: Value,
    samples: Vec<(String, Value, f64)>,
}

impl Scrape {
    /// The value of the sample `name` whose labels include `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples
            .iter()
            .find(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l[*k] == *v))
            .map(|(_, _, v)| *v)
    }

    fn must(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels)
            .unwrap_or_else(|| panic!("no sample {name} {labels:?} in {:?}", self.samples))
    }
}

fn scrape(url: &str, token: &str, pop_port: u16) -> Scrape {
    let out = python(
        SCRAPE_PY,
        &[url, token, &pop_port.to_string()],
        Duration::from_secs(30),
    );
    out.assert_ok("scrape /metrics");
    let v: Value = serde_json::from_str(out.out().trim()).expect("scrape output is JSON");
    let samples = v["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .map(|s| {
            (
                s[0].as_str().unwrap_or_default().to_owned(),
                s[1].clone(),
                s[2].as_f64().unwrap_or(f64::NAN),
            )
        })
        .collect();
    Scrape {
        types: v["types"].clone(),
        samples,
    }
}

fn status(url: &str, authorization: &str) -> (u16, String) {
    let out = python(STATUS_PY, &[url, authorization], Duration::from_secs(30));
    out.assert_ok("GET /metrics");
    let text = out.out();
    let (code, rest) = text.trim_end().split_once(' ').unwrap_or((text.trim(), ""));
    (code.parse().expect("status code"), rest.to_owned())
}

fn server(top: &str, tables: &str) -> Server {
    Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            http_listeners: true,
            top: top.into(),
            tables: tables.into(),
            ..ExtraConfig::default()
        },
    )
}

#[test]
fn a_scrape_sees_the_servers_traffic() {
    if !have_python_module(
        "prometheus_client",
        "pip install prometheus_client",
        "a_scrape_sees_the_servers_traffic",
    ) {
        return;
    }
    let s = server(
        "log_format = \"json\"\n",
        "[metrics]\nallow = [\"127.0.0.0/8\", \"::1/128\"]\n",
    );
    let url = format!("http://127.0.0.1:{}/metrics", s.http_port);

    // Nothing yet: the families are there, the unlabelled ones at zero.
    let before = scrape(&url, "", 0);
    assert_eq!(before.types["praisani_connections"], "counter");
    assert_eq!(
        before.types["praisani_store_operation_seconds"],
        "histogram"
    );
    assert_eq!(before.types["praisani_sessions"], "gauge");
    assert_eq!(before.must("praisani_quota_warnings_total", &[]), 0.0);
    assert_eq!(before.value("praisani_messages_accepted_total", &[]), None);

    // One message accepted, one recipient refused.
    s.deliver(
        "someone@sender.test",
        &["demo@example.test"],
        b"Subject: counted\r\n\r\nhello\r\n",
    );
    let mut c = s.smtp();
    c.ehlo("client.test");
    c.expect("MAIL FROM:<someone@sender.test>", 250);
    c.expect("RCPT TO:<nobody@example.test>", 550);
    c.quit();

    // The scrape script also fails one POP3 login and makes one first.
    let after = scrape(&url, "", s.pop3_port);
    assert!(after.must("praisani_connections_total", &[("service", "smtp")]) >= 2.0);
    assert!(after.must("praisani_connections_total", &[("service", "pop3")]) >= 1.0);
    assert!(after.must("praisani_connections_total", &[("service", "http")]) >= 1.0);
    assert_eq!(
        after.must("praisani_messages_accepted_total", &[("service", "smtp")]),
        1.0
    );
    assert_eq!(
        after.must(
            "praisani_messages_refused_total",
            &[("service", "smtp"), ("stage", "rcpt"), ("status", "5.1.1")]
        ),
        1.0
    );
    assert_eq!(
        after.must(
            "praisani_auth_failures_total",
            &[("service", "pop3"), ("reason", "bad_credentials")]
        ),
        1.0
    );
    // The scraping connection itself is open.
    assert!(after.must("praisani_sessions", &[("service", "http")]) >= 1.0);
    assert!(
        after.must(
            "praisani_store_operation_seconds_count",
            &[("operation", "accept")]
        ) >= 1.0
    );
    assert!(
        after.must(
            "praisani_store_operation_seconds_bucket",
            &[("operation", "accept"), ("le", "+Inf")]
        ) >= 1.0
    );
    for op in ["lock_maildrop", "list_messages"] {
        assert!(
            after.must(
                "praisani_store_operation_seconds_count",
                &[("operation", op)]
            ) >= 1.0,
            "{op}"
        );
    }
    assert_eq!(after.must("praisani_queue_messages", &[]), 0.0);
    assert_eq!(
        after.must("praisani_queue_recipients", &[("state", "held")]),
        0.0
    );

    // log_format = "json": every log line is one JSON object.
    let log = s.stderr_text();
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "no log lines");
    for l in &lines {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{l}");
    }
    assert!(
        lines.iter().any(|l| l.contains("\"metrics\"")),
        "the scrape is logged"
    );
}

#[test]
fn only_allowed_networks_or_the_token_may_scrape() {
    if !have_python_module(
        "prometheus_client",
        "pip install prometheus_client",
        "only_allowed_networks_or_the_token_may_scrape",
    ) {
        return;
    }
    let token = "metrics-token-0123456789";
    let s = server("", &format!("[metrics]\ntoken = \"{token}\"\n"));
    let url = format!("http://127.0.0.1:{}/metrics", s.http_port);
    let (code, challenge) = status(&url, "");
    assert_eq!(code, 401);
    assert!(challenge.starts_with("Bearer"), "{challenge:?}");
    assert_eq!(status(&url, "Bearer wrong-token-0123456789").0, 401);
    assert_eq!(status(&url, &format!("Basic {token}")).0, 401);
    assert_eq!(status(&url, &format!("Bearer {token}")).0, 200);
    let ok = scrape(&url, token, 0);
    assert!(ok.must("praisani_connections_total", &[("service", "http")]) >= 4.0);

    // Off by default: /metrics is not there at all.
    let plain = server("", "");
    let url = format!("http://127.0.0.1:{}/metrics", plain.http_port);
    assert_eq!(status(&url, "").0, 404);

    // A short token is a configuration error.
    let bad = Server::new_extra(
        ServerOpts::default(),
        ExtraConfig {
            tables: "[metrics]\ntoken = \"short\"\n".into(),
            ..ExtraConfig::default()
        },
    );
    let out = bad.cli(&["check-config"]);
    assert!(!out.status.success(), "{}", out.describe());
    assert!(out.err().contains("metrics.token"), "{}", out.describe());
}

#[test]
fn delivery_attempts_and_the_queue_are_counted() {
    if !have_python_module(
        "prometheus_client",
        "pip install prometheus_client",
        "delivery_attempts_and_the_queue_are_counted",
    ) {
        return;
    }
    // The remote side: another praisani hosting remote.test.
    let remote = Server::start_default();
    remote.add_domain("remote.test");
    remote.add_user("r@remote.test", "rpw", &[]);
    let closed = free_port();
    let s = server(
        "trusted_networks = [\"127.0.0.0/8\"]\n",
        &format!(
            "[metrics]\nallow = [\"127.0.0.0/8\"]\n[delivery]\nretry = [\"1h\"]\nroutes = {{ \"remote.test\" = \"127.0.0.1:{}\", \"down.test\" = \"127.0.0.1:{closed}\" }}\n",
            remote.smtp_port
        ),
    );
    let url = format!("http://127.0.0.1:{}/metrics", s.http_port);
    s.deliver(
        "sender@example.test",
        &["r@remote.test", "x@down.test"],
        b"Subject: out\r\n\r\nhello\r\n",
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let seen = loop {
        let m = scrape(&url, "", 0);
        let delivered = m.value(
            "praisani_delivery_attempts_total",
            &[("result", "delivered")],
        );
        let deferred = m.value(
            "praisani_delivery_attempts_total",
            &[("result", "deferred")],
        );
        if (delivered.is_some() && deferred.is_some()) || std::time::Instant::now() > deadline {
            break m;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        seen.must(
            "praisani_delivery_attempts_total",
            &[("result", "delivered")]
        ),
        1.0
    );
    assert_eq!(
        seen.must(
            "praisani_delivery_attempts_total",
            &[("result", "deferred")]
        ),
        1.0
    );
    assert_eq!(
        seen.value("praisani_delivery_attempts_total", &[("result", "failed")]),
        None
    );
    // What is left: one message, its one recipient waiting for a retry.
    assert_eq!(seen.must("praisani_queue_messages", &[]), 1.0);
    assert_eq!(
        seen.must("praisani_queue_recipients", &[("state", "deferred")]),
        1.0
    );
    assert_eq!(
        seen.must("praisani_queue_recipients", &[("state", "pending")]),
        0.0
    );
    assert!(
        seen.must(
            "praisani_store_operation_seconds_count",
            &[("operation", "queue_record")]
        ) >= 1.0
    );
    assert_eq!(remote.fetch_all("r@remote.test", "rpw").len(), 1);
}

/// A token from `praisani token create` with these scope arguments.
fn cli_token(s: &Server, scope: &[&str]) -> String {
    let mut args = vec!["--json", "token", "create"];
    args.extend_from_slice(scope);
    let out = s.cli(&args);
    out.assert_ok("token create");
    let v: Value = serde_json::from_str(out.out().trim()).expect("token create --json");
    v["token"].as_str().expect("a token").to_owned()
}

#[test]
fn the_admin_listener_serves_metrics_to_server_admins() {
    if !have_python_module(
        "prometheus_client",
        "pip install prometheus_client",
        "the_admin_listener_serves_metrics_to_server_admins",
    ) {
        return;
    }
    let metrics_token = "metrics-token-0123456789";
    let port = free_port();
    let mut s = Server::new_extra(
        ServerOpts::default(),
        ExtraConfig {
            tables: format!(
                "[admin_api]\nplain_http = true\n[metrics]\ntoken = \"{metrics_token}\"\n"
            ),
            ..ExtraConfig::default()
        },
    );
    let text = s.config_text().replace(
        "[listen]\n",
        &format!("[listen]\nadmin = [\"127.0.0.1:{port}\"]\n"),
    );
    std::fs::write(&s.config_path, text).unwrap();
    s.start();
    let admin = cli_token(&s, &["--admin"]);
    let domain_admin = cli_token(&s, &["--domain", "example.test"]);
    let url = format!("http://127.0.0.1:{port}/metrics");

    let m = scrape(&url, &admin, 0);
    assert_eq!(m.types["praisani_connections"], "counter");
    assert!(m.must("praisani_connections_total", &[("service", "admin")]) >= 1.0);
    assert!(m.must("praisani_sessions", &[("service", "admin")]) >= 1.0);
    assert_eq!(m.must("praisani_queue_messages", &[]), 0.0);
    // `[metrics]`'s own token opens it here too.
    let m = scrape(&url, metrics_token, 0);
    assert!(m.must("praisani_connections_total", &[("service", "admin")]) >= 2.0);

    assert_eq!(status(&url, &format!("Bearer {domain_admin}")).0, 403);
    assert_eq!(status(&url, "Bearer pt_not-a-token").0, 401);
    assert_eq!(status(&url, "").0, 401);
}
