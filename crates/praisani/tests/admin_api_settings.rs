//! The admin API's settings endpoints on the real binary, driven with
//! curl: a mailbox's retention, notices, vacation reply, forwarding and
//! sending hold; a domain's quota, retention, catch-all, contact, DKIM
//! keys and DNS records; the outbound queue.
//!
//! An authorization matrix over every one of them (server administrator,
//! domain administrator of A on A and on B — the same 403 whether B's
//! thing exists or not —, a user on their own mailbox and on others, and
//! revoked tokens refused at once), and functional checks that what the
//! API sets takes effect: a vacation reply is queued, a forward's copy
//! arrives at another server, a hold through the API shows in `praisani
//! queue show`, the DNS zone text is what `praisani dns` prints.

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::Duration;

const CURL: Duration = Duration::from_secs(30);
const PW: &str = "pass-1234";
const SECRET: &str = "settings-test-srs-secret-0123456789";

/// Our server, with the admin API over plain HTTP on loopback: mail for
/// `stuck.test` waits an hour at a closed port (so it stays in the queue),
/// mail for `remote.test` goes to `remote` when given.
fn server(remote: Option<&Server>) -> (Server, String) {
    let port = free_port();
    let closed = free_port();
    let mut routes = format!("\"stuck.test\" = \"127.0.0.1:{closed}\"");
    if let Some(b) = remote {
        routes.push_str(&format!(
            ", \"remote.test\" = \"127.0.0.1:{}\"",
            b.smtp_port
        ));
    }
    // Not the demo: it advertises its own high ports in the SRV records,
    // which the CLI (reading the configuration only) does not know.
    let mut s = Server::new_extra(
        ServerOpts {
            demo: false,
            limits: String::new(),
        },
        ExtraConfig {
            tls_listeners: true,
            tables: format!(
                "[admin_api]\nplain_http = true\n\
                 [delivery]\nretry = [\"1h\"]\nroutes = {{ {routes} }}\n\
                 [srs]\ndomain = \"srs.test\"\nsecret = \"{SECRET}\"\n"
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
    s.add_domain("a.test");
    s.add_domain("b.test");
    for u in ["anna@a.test", "boss@a.test", "bob@b.test"] {
        s.add_user(u, PW, &[]);
    }
    (s, format!("http://127.0.0.1:{port}"))
}

/// An answer: status and body (JSON when it parses).
struct Answer {
    status: u16,
    content_type: String,
    body: Value,
    raw: String,
}

/// One request with curl.
fn call(base: &str, method: &str, path: &str, token: &str, body: Option<&str>) -> Answer {
    call_from(None, base, method, path, token, body)
}

/// One request with curl, from the loopback address `from` if given.
fn call_from(
    from: Option<&str>,
    base: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&str>,
) -> Answer {
    let mut c = std::process::Command::new("curl");
    c.args(["-sS", "-i", "-X", method, "--max-time", "20"]);
    if let Some(f) = from {
        c.args(["--interface", f]);
    }
    c.arg("-H").arg(format!("Authorization: Bearer {token}"));
    if let Some(b) = body {
        c.args(["-H", "Content-Type: application/json", "--data-binary", b]);
    }
    c.arg(format!("{base}{path}"));
    let out = run_cmd(&mut c, None, CURL);
    assert!(
        out.status.success(),
        "curl {method} {path}: {}",
        out.describe()
    );
    let text = out.out();
    let (head, raw) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    Answer {
        status,
        content_type,
        body: serde_json::from_str(raw).unwrap_or(Value::Null),
        raw: raw.to_string(),
    }
}

fn ok(a: &Answer, status: u16, what: &str) -> Value {
    assert_eq!(a.status, status, "{what}: {}", a.raw);
    a.body.clone()
}

fn assert_problem(a: &Answer, status: u16, detail_has: &str, what: &str) {
    assert_eq!(a.status, status, "{what}: {}", a.raw);
    assert_eq!(a.content_type, "application/problem+json", "{what}");
    let detail = a.body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(detail_has),
        "{what}: detail {detail:?} lacks {detail_has:?}"
    );
}

/// A token made with the CLI (`token create ARGS…`).
fn token(s: &Server, args: &[&str]) -> (String, i64) {
    let mut all = vec!["--json", "token", "create"];
    all.extend_from_slice(args);
    let out = s.cli(&all);
    out.assert_ok("token create");
    let v: Value = serde_json::from_str(out.out().trim()).expect("token create --json");
    (
        v["token"].as_str().unwrap().to_string(),
        v["id"].as_i64().unwrap(),
    )
}

fn cli_json(s: &Server, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = s.cli(&all);
    out.assert_ok(&args.join(" "));
    serde_json::from_str(out.out().trim()).unwrap()
}

/// Queues a message to `rcpt` (an alias of a.test pointing at it) that
/// stays in the queue; answers its id.
fn queue_one(s: &Server, n: usize) -> i64 {
    let before: Vec<i64> = queue_ids(s);
    let alias = format!("out{n}@a.test");
    s.cli(&["alias", "add", &alias, &format!("far{n}@stuck.test")])
        .assert_ok("alias to stuck.test");
    s.deliver(
        "sender@elsewhere.test",
        &[&alias],
        &simple_message("sender@elsewhere.test", &alias, &format!("q{n}"), "held?"),
    );
    wait_for("the message in the queue", 20, || {
        queue_ids(s).into_iter().find(|i| !before.contains(i))
    })
}

fn queue_ids(s: &Server) -> Vec<i64> {
    cli_json(s, &["queue", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect()
}

/// Submits one message as `user` with smtplib: the reply's code and text
/// (250 when accepted).
fn submit(s: &Server, user: &str) -> (u16, String) {
    let out = python(
        r#"
import smtplib, sys
c = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=30)
c.ehlo('client.test')
c.login(sys.argv[2], sys.argv[3])
msg = 'From: %s\r\nTo: x@stuck.test\r\nSubject: sent?\r\n\r\nbody\r\n' % sys.argv[2]
try:
    c.sendmail(sys.argv[2], ['x@stuck.test'], msg)
    print(250, 'ok')
except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as e:
    print(e.smtp_code, e.smtp_error.decode())
c.quit()
"#,
        &[&s.submission_port.to_string(), user, PW],
        CURL,
    );
    assert!(out.status.success(), "smtplib: {}", out.describe());
    let text = out.out();
    let (code, rest) = text.trim().split_once(' ').unwrap_or(("0", ""));
    (code.parse().unwrap_or(0), rest.to_string())
}

/// One endpoint of the matrix: `{d}` in the path is the domain, `{m}` the
/// mailbox, `{q}` a queue id, `{tag}` in the body who calls (so that each
/// caller makes its own DKIM key).
struct Endpoint {
    method: &'static str,
    path: &'static str,
    body: Option<&'static str>,
    /// A domain administrator may (on their own domain).
    dadmin: bool,
    /// A user may (on their own mailbox).
    user: bool,
}

const fn ep(
    method: &'static str,
    path: &'static str,
    body: Option<&'static str>,
    dadmin: bool,
    user: bool,
) -> Endpoint {
    Endpoint {
        method,
        path,
        body,
        dadmin,
        user,
    }
}

/// Every endpoint this file is about, in an order in which each caller
/// can run them all (a thing is set before it is removed).
const ENDPOINTS: &[Endpoint] = &[
    ep("GET", "/api/v1/mailboxes/{m}/retention", None, true, true),
    ep(
        "PUT",
        "/api/v1/mailboxes/{m}/retention",
        Some(r#"{"after_retrieval": 30, "max_age": "never"}"#),
        true,
        false,
    ),
    ep("GET", "/api/v1/mailboxes/{m}/notices", None, true, true),
    ep(
        "PUT",
        "/api/v1/mailboxes/{m}/notices",
        Some(r#"{"lang": "th", "warn_to": null}"#),
        true,
        true,
    ),
    ep("GET", "/api/v1/mailboxes/{m}/vacation", None, true, true),
    ep(
        "PUT",
        "/api/v1/mailboxes/{m}/vacation",
        Some(r#"{"text": "away ({tag})"}"#),
        true,
        true,
    ),
    ep("DELETE", "/api/v1/mailboxes/{m}/vacation", None, true, true),
    ep("GET", "/api/v1/mailboxes/{m}/forward", None, true, true),
    ep(
        "PUT",
        "/api/v1/mailboxes/{m}/forward",
        Some(r#"{"targets": ["elsewhere@stuck.test"]}"#),
        true,
        true,
    ),
    ep("DELETE", "/api/v1/mailboxes/{m}/forward", None, true, true),
    ep("GET", "/api/v1/mailboxes/{m}/hold", None, true, true),
    ep(
        "PUT",
        "/api/v1/mailboxes/{m}/hold",
        Some(r#"{"reason": "checked by {tag}"}"#),
        true,
        false,
    ),
    ep("DELETE", "/api/v1/mailboxes/{m}/hold", None, false, false),
    ep(
        "PUT",
        "/api/v1/domains/{d}/quota",
        Some(r#"{"quota": "1G"}"#),
        false,
        false,
    ),
    ep("GET", "/api/v1/domains/{d}/retention", None, true, false),
    ep(
        "PUT",
        "/api/v1/domains/{d}/retention",
        Some(r#"{"max_age": "365"}"#),
        true,
        false,
    ),
    ep("GET", "/api/v1/domains/{d}/catchall", None, true, false),
    ep(
        "PUT",
        "/api/v1/domains/{d}/catchall",
        Some(r#"{"targets": ["boss@a.test"]}"#),
        true,
        false,
    ),
    ep("DELETE", "/api/v1/domains/{d}/catchall", None, true, false),
    ep("GET", "/api/v1/domains/{d}/contact", None, true, false),
    ep(
        "PUT",
        "/api/v1/domains/{d}/contact",
        Some(r#"{"address": "owner@elsewhere.test", "lang": "zh"}"#),
        true,
        false,
    ),
    ep("DELETE", "/api/v1/domains/{d}/contact", None, true, false),
    ep("GET", "/api/v1/domains/{d}/dkim-keys", None, true, false),
    ep(
        "POST",
        "/api/v1/domains/{d}/dkim-keys",
        Some(r#"{"algorithm": "ed25519", "selector": "s{tag}"}"#),
        true,
        false,
    ),
    ep("GET", "/api/v1/domains/{d}/dns", None, true, false),
    ep("GET", "/api/v1/queue", None, false, false),
    ep("POST", "/api/v1/queue/flush", None, false, false),
    ep("GET", "/api/v1/queue/{q}", None, false, false),
    ep("POST", "/api/v1/queue/{q}/retry", None, false, false),
    ep("POST", "/api/v1/queue/{q}/hold", None, false, false),
    ep("POST", "/api/v1/queue/{q}/release", None, false, false),
    ep("DELETE", "/api/v1/queue/{q}", None, false, false),
];

/// `e`'s path for domain `d`, mailbox `m`, queue id `q`.
fn path(e: &Endpoint, d: &str, m: &str, q: i64) -> String {
    e.path
        .replace("{d}", d)
        .replace("{m}", m)
        .replace("{q}", &q.to_string())
}

fn body(e: &Endpoint, tag: &str) -> Option<String> {
    e.body.map(|b| b.replace("{tag}", tag))
}

#[test]
fn authorization_matrix_over_every_settings_endpoint() {
    if !have_tool("curl", "authorization_matrix_over_every_settings_endpoint") {
        return;
    }
    let (s, base) = server(None);
    let (root, _) = token(&s, &["--admin"]);
    let (dadmin, dadmin_id) = token(&s, &["--domain", "a.test"]);
    let (user, user_id) = token(&s, &["--user", "anna@a.test"]);
    let q = queue_one(&s, 1);
    let b_queued = queue_one(&s, 2);

    // Every endpoint here is in the OpenAPI document the server serves.
    let doc = ok(
        &call(&base, "GET", "/api/v1/openapi.json", &root, None),
        200,
        "openapi.json",
    );
    for e in ENDPOINTS {
        let p = e
            .path
            .replace("{d}", "{domain}")
            .replace("{m}", "{address}")
            .replace("{q}", "{id}");
        assert!(
            doc["paths"][&p][e.method.to_lowercase()]["responses"].is_object(),
            "{} {p} is not in openapi.json",
            e.method
        );
    }

    // The queue a page at a time: two messages, one per page, in id order.
    let first = ok(
        &call(&base, "GET", "/api/v1/queue?limit=1", &root, None),
        200,
        "queue page 1",
    );
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let second = ok(
        &call(
            &base,
            "GET",
            &format!("/api/v1/queue?limit=1&cursor={cursor}"),
            &root,
            None,
        ),
        200,
        "queue page 2",
    );
    assert_eq!(
        (
            &first["items"][0]["id"],
            &second["items"][0]["id"],
            &second["next_cursor"]
        ),
        (&json!(q), &json!(b_queued), &Value::Null),
        "{first} {second}"
    );

    // The domain administrator of A: allowed on A, refused on B with the
    // same answer whether B's thing exists or not.
    for e in ENDPOINTS {
        let what = format!("A's admin: {} {}", e.method, e.path);
        let p = path(e, "a.test", "anna@a.test", q);
        let a = call(&base, e.method, &p, &dadmin, body(e, "dadmin").as_deref());
        if e.dadmin {
            assert!((200..300).contains(&a.status), "{what}: {}", a.raw);
        } else {
            assert_problem(&a, 403, "may not", &what);
        }
        let on_b = call(
            &base,
            e.method,
            &path(e, "b.test", "bob@b.test", b_queued),
            &dadmin,
            body(e, "dadmin").as_deref(),
        );
        assert_problem(&on_b, 403, "may not", &format!("{what} on B"));
        for (d, m, id) in [
            ("nowhere.test", "ghost@b.test", 999_999),
            ("nowhere.test", "ghost@nowhere.test", 999_998),
        ] {
            let none = call(
                &base,
                e.method,
                &path(e, d, m, id),
                &dadmin,
                body(e, "dadmin").as_deref(),
            );
            assert_problem(&none, 403, "", &format!("{what} on what B lacks"));
            assert_eq!(none.raw, on_b.raw, "{what}: B's existing and missing alike");
        }
    }

    // The user: their own mailbox where the rules say so, never another's
    // (in their domain or not), never a domain's or the queue.
    for e in ENDPOINTS {
        let what = format!("user: {} {}", e.method, e.path);
        let a = call(
            &base,
            e.method,
            &path(e, "a.test", "anna@a.test", q),
            &user,
            body(e, "user").as_deref(),
        );
        if e.user {
            assert!((200..300).contains(&a.status), "{what}: {}", a.raw);
        } else {
            assert_problem(&a, 403, "may not", &what);
        }
        for m in ["boss@a.test", "bob@b.test"] {
            let other = call(
                &base,
                e.method,
                &path(e, "b.test", m, b_queued),
                &user,
                body(e, "user").as_deref(),
            );
            assert_problem(&other, 403, "may not", &format!("{what} on {m}"));
        }
    }
    // A user cannot raise their own quota or retention: both stayed.
    let me = cli_json(&s, &["user", "show", "anna@a.test"]);
    assert_eq!(me["quota_bytes"], Value::Null, "{me}");
    assert_eq!(
        me["retention"]["after_retrieval_days"],
        json!(30),
        "the domain admin's change, not overwritten: {me}"
    );

    // The server administrator: everything, B included.
    for (d, m) in [("a.test", "anna@a.test"), ("b.test", "bob@b.test")] {
        let q = queue_one(&s, if d == "a.test" { 3 } else { 4 });
        for e in ENDPOINTS {
            let what = format!("admin: {} {} on {d}", e.method, e.path);
            let a = call(
                &base,
                e.method,
                &path(e, d, m, q),
                &root,
                body(e, "root").as_deref(),
            );
            assert!((200..300).contains(&a.status), "{what}: {}", a.raw);
        }
    }
    // Nothing the refused calls asked for happened to B: bob was put on
    // hold and released by the server administrator only, and B has only
    // the key the server administrator made.
    let keys = cli_json(&s, &["dkim", "list", "b.test"]);
    let selectors: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["selector"].as_str().unwrap())
        .collect();
    assert_eq!(selectors, ["sroot"], "{keys}");
    assert_eq!(
        cli_json(&s, &["user", "show", "bob@b.test"])["held"],
        Value::Null
    );

    // Revoked tokens are refused at once, by the API and by the CLI.
    ok(
        &call(
            &base,
            "DELETE",
            &format!("/api/v1/tokens/{dadmin_id}"),
            &root,
            None,
        ),
        200,
        "revoke the domain admin",
    );
    s.cli(&["token", "revoke", &user_id.to_string()])
        .assert_ok("token revoke");
    // Each refusal from an address of its own: the login throttle slows
    // and then locks out an address after failures, and these must be
    // refused for being revoked, at once, not for that.
    let mut from = 0;
    for e in ENDPOINTS {
        for (t, who) in [(&dadmin, "dadmin"), (&user, "user")] {
            from += 1;
            let src = format!("127.0.{}.{}", 1 + from / 250, 1 + from % 250);
            let a = call_from(
                Some(&src),
                &base,
                e.method,
                &path(e, "a.test", "anna@a.test", q),
                t,
                body(e, who).as_deref(),
            );
            assert_problem(
                &a,
                401,
                "valid API token",
                &format!("revoked {who}: {}", e.path),
            );
        }
    }
}

#[test]
fn settings_made_through_the_api_take_effect() {
    if !have_tool("curl", "settings_made_through_the_api_take_effect")
        || !have_python_module(
            "poplib",
            "python3",
            "settings_made_through_the_api_take_effect",
        )
    {
        return;
    }
    let remote = Server::start_default();
    remote.add_domain("remote.test");
    remote.add_user("copy@remote.test", PW, &[]);
    let (s, base) = server(Some(&remote));
    let (root, _) = token(&s, &["--admin"]);
    let (dadmin, _) = token(&s, &["--domain", "a.test"]);
    let (user, _) = token(&s, &["--user", "anna@a.test"]);

    // Vacation set by the user → a mail from another server gets a reply
    // (queued to stuck.test, with the null sender).
    let v = ok(
        &call(
            &base,
            "PUT",
            "/api/v1/mailboxes/anna@a.test/vacation",
            &user,
            Some(r#"{"subject": "ไม่อยู่", "text": "Back on Monday.", "interval_days": 3}"#),
        ),
        200,
        "vacation on",
    );
    assert_eq!(v["vacation"]["interval_days"], json!(3), "{v}");
    let shown = s.cli(&["user", "vacation", "anna@a.test"]);
    shown.assert_ok("user vacation");
    assert!(
        shown.out().contains("Back on Monday.") && shown.out().contains("interval: 3 day(s)"),
        "{}",
        shown.describe()
    );
    s.deliver(
        "friend@stuck.test",
        &["anna@a.test"],
        &simple_message(
            "friend@stuck.test",
            "anna@a.test",
            "lunch?",
            "Lunch on Friday?",
        ),
    );
    let reply = wait_for("the vacation reply in the queue", 20, || {
        cli_json(&s, &["queue", "list"])
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["recipients"][0]["address"] == "friend@stuck.test")
            .cloned()
    });
    assert_eq!(reply["sender"], "", "a reply has the null sender: {reply}");
    let id = reply["id"].as_i64().unwrap();
    // The queue through the API shows it too, and pages.
    let page = ok(
        &call(&base, "GET", "/api/v1/queue?limit=1", &root, None),
        200,
        "queue page",
    );
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["items"][0]["id"], json!(id), "{page}");
    assert_eq!(page["next_cursor"], Value::Null, "one message, one page");
    // Turned off by the domain administrator: no reply to the next sender.
    ok(
        &call(
            &base,
            "DELETE",
            "/api/v1/mailboxes/anna@a.test/vacation",
            &dadmin,
            None,
        ),
        200,
        "vacation off",
    );
    assert!(
        s.cli(&["user", "vacation", "anna@a.test"])
            .out()
            .contains(": off")
    );

    // Queue hold through the API → `praisani queue show` says held; a
    // release makes it pending again.
    let held = ok(
        &call(
            &base,
            "POST",
            &format!("/api/v1/queue/{id}/hold"),
            &root,
            None,
        ),
        200,
        "queue hold",
    );
    assert_eq!(held["held"], json!(1), "{held}");
    let show = s.cli(&["queue", "show", &id.to_string()]);
    show.assert_ok("queue show");
    assert!(
        show.out().contains("friend@stuck.test  held"),
        "{}",
        show.describe()
    );
    let one = ok(
        &call(&base, "GET", &format!("/api/v1/queue/{id}"), &root, None),
        200,
        "queue show",
    );
    assert_eq!(one["recipients"][0]["state"], "held", "{one}");
    ok(
        &call(
            &base,
            "POST",
            &format!("/api/v1/queue/{id}/release"),
            &root,
            None,
        ),
        200,
        "queue release",
    );
    assert!(
        s.cli(&["queue", "show", &id.to_string()])
            .out()
            .contains("friend@stuck.test  pending")
    );
    ok(
        &call(&base, "DELETE", &format!("/api/v1/queue/{id}"), &root, None),
        200,
        "queue delete",
    );
    let a = call(&base, "GET", &format!("/api/v1/queue/{id}"), &root, None);
    assert_problem(&a, 404, "does not exist", "deleted from the queue");

    // Forward set by the user → the copy arrives at the other server, and
    // one stays (keep defaults to true).
    let f = ok(
        &call(
            &base,
            "PUT",
            "/api/v1/mailboxes/anna@a.test/forward",
            &user,
            Some(r#"{"targets": ["copy@remote.test"]}"#),
        ),
        200,
        "forward",
    );
    assert_eq!(f["forward"]["keep"], json!(true), "{f}");
    s.deliver(
        "friend@elsewhere.test",
        &["anna@a.test"],
        &simple_message(
            "friend@elsewhere.test",
            "anna@a.test",
            "fwd-1",
            "Pass it on.",
        ),
    );
    wait_for("the forwarded copy at remote.test", 20, || {
        remote
            .fetch_all("copy@remote.test", PW)
            .iter()
            .any(|m| String::from_utf8_lossy(m).contains("Subject: fwd-1"))
            .then_some(())
    });
    let kept = s.fetch_all("anna@a.test", PW);
    assert!(
        kept.iter()
            .any(|m| String::from_utf8_lossy(m).contains("Subject: fwd-1")),
        "a copy stayed"
    );
    // Bad settings: the CLI's messages as problem details.
    let a = call(
        &base,
        "PUT",
        "/api/v1/mailboxes/anna@a.test/forward",
        &user,
        Some(r#"{"targets": ["Anna@a.test"]}"#),
    );
    assert_problem(
        &a,
        400,
        "a mailbox cannot forward to itself",
        "forward to itself",
    );
    let a = call(
        &base,
        "PUT",
        "/api/v1/mailboxes/anna@a.test/vacation",
        &user,
        Some(r#"{"text": "away", "from": "2027-01-10", "until": "2027-01-09"}"#),
    );
    assert_problem(
        &a,
        400,
        "--until 2027-01-09 is before --from 2027-01-10",
        "dates",
    );
    let a = call(
        &base,
        "PUT",
        "/api/v1/mailboxes/anna@a.test/notices",
        &user,
        Some(r#"{"lang": "de"}"#),
    );
    assert_problem(&a, 400, "unknown language \"de\"", "language");
    let a = call(
        &base,
        "PUT",
        "/api/v1/mailboxes/anna@a.test/retention",
        &dadmin,
        Some(r#"{"max_age": "soon"}"#),
    );
    assert_problem(&a, 400, "max_age: invalid period \"soon\"", "period");
    let a = call(
        &base,
        "PUT",
        "/api/v1/mailboxes/anna@a.test/retention",
        &dadmin,
        Some("{}"),
    );
    assert_problem(
        &a,
        400,
        "give --after-retrieval and/or --max-age",
        "no change",
    );
    let a = call(
        &base,
        "PUT",
        "/api/v1/mailboxes/anna@a.test/hold",
        &dadmin,
        Some("{\"reason\": \"two\\r\\n250 lines\"}"),
    );
    assert_problem(&a, 400, "one line", "hold reason");
    let a = call(
        &base,
        "GET",
        "/api/v1/mailboxes/nobody@a.test/vacation",
        &dadmin,
        None,
    );
    assert_problem(
        &a,
        404,
        "account nobody@a.test does not exist",
        "no mailbox",
    );

    // Notices and retention set through the API show in `user show`.
    ok(
        &call(
            &base,
            "PUT",
            "/api/v1/mailboxes/anna@a.test/notices",
            &user,
            Some(r#"{"lang": "zh", "warn_to": "boss@a.test"}"#),
        ),
        200,
        "notices",
    );
    ok(
        &call(
            &base,
            "PUT",
            "/api/v1/mailboxes/anna@a.test/retention",
            &dadmin,
            Some(r#"{"after_retrieval": "7d"}"#),
        ),
        200,
        "retention",
    );
    let me = cli_json(&s, &["user", "show", "anna@a.test"]);
    assert_eq!(
        (
            &me["lang"],
            &me["warn_to"],
            &me["retention"]["after_retrieval_days"]
        ),
        (&json!("zh"), &json!("boss@a.test"), &json!(7)),
        "{me}"
    );
    let r = ok(
        &call(
            &base,
            "GET",
            "/api/v1/mailboxes/anna@a.test/retention",
            &user,
            None,
        ),
        200,
        "the user sees their retention",
    );
    assert_eq!(r["retention"]["after_retrieval_days"], json!(7), "{r}");

    // A hold by the domain administrator: submission refused; only the
    // server administrator releases it.
    ok(
        &call(
            &base,
            "PUT",
            "/api/v1/mailboxes/anna@a.test/hold",
            &dadmin,
            Some(r#"{"reason": "password leaked"}"#),
        ),
        200,
        "hold",
    );
    let h = ok(
        &call(
            &base,
            "GET",
            "/api/v1/mailboxes/anna@a.test/hold",
            &user,
            None,
        ),
        200,
        "the user sees the hold",
    );
    assert_eq!(h["held"], "password leaked", "{h}");
    let (code, text) = submit(&s, "anna@a.test");
    assert_eq!(code, 451, "submission on hold: {text}");
    assert!(text.contains("password leaked"), "{text}");
    let a = call(
        &base,
        "DELETE",
        "/api/v1/mailboxes/anna@a.test/hold",
        &dadmin,
        None,
    );
    assert_problem(&a, 403, "may not", "a domain admin releases");
    assert!(
        s.cli(&["user", "show", "anna@a.test"])
            .out()
            .contains("on hold (password leaked)")
    );
    let r = ok(
        &call(
            &base,
            "DELETE",
            "/api/v1/mailboxes/anna@a.test/hold",
            &root,
            None,
        ),
        200,
        "release",
    );
    assert_eq!(r["was_held"], json!(true), "{r}");
    assert!(
        s.cli(&["user", "show", "anna@a.test"])
            .out()
            .contains("sending:  allowed")
    );
    assert_eq!(submit(&s, "anna@a.test").0, 250, "released");
    // Without a reason, the hold says who placed it.
    ok(
        &call(
            &base,
            "PUT",
            "/api/v1/mailboxes/anna@a.test/hold",
            &dadmin,
            Some("{}"),
        ),
        200,
        "hold without a reason",
    );
    let h = cli_json(&s, &["user", "show", "anna@a.test"]);
    assert_eq!(h["held"], "suspended by the domain administrator", "{h}");
    ok(
        &call(
            &base,
            "DELETE",
            "/api/v1/mailboxes/anna@a.test/hold?delete=true",
            &root,
            None,
        ),
        200,
        "release, deleting",
    );

    // Catch-all through the API: mail for an unknown address of A arrives
    // at its target.
    ok(
        &call(
            &base,
            "PUT",
            "/api/v1/domains/a.test/catchall",
            &dadmin,
            Some(r#"{"targets": ["boss@a.test"]}"#),
        ),
        200,
        "catch-all",
    );
    s.deliver(
        "friend@elsewhere.test",
        &["whoever@a.test"],
        &simple_message("friend@elsewhere.test", "whoever@a.test", "catch-1", "Hi."),
    );
    assert!(
        s.fetch_all("boss@a.test", PW)
            .iter()
            .any(|m| String::from_utf8_lossy(m).contains("Subject: catch-1")),
        "the catch-all delivered"
    );
    let a = call(
        &base,
        "PUT",
        "/api/v1/domains/a.test/catchall",
        &dadmin,
        Some(r#"{"targets": []}"#),
    );
    assert_problem(&a, 400, "give at least one target address", "no targets");
    let out = s.cli(&["domain", "catchall", "a.test"]);
    assert!(
        out.out().contains("catch-all of a.test -> boss@a.test"),
        "{}",
        out.describe()
    );

    // Contact and domain retention through the API, as the CLI shows them.
    ok(
        &call(
            &base,
            "PUT",
            "/api/v1/domains/a.test/contact",
            &dadmin,
            Some(r#"{"address": "owner@elsewhere.test", "lang": "th"}"#),
        ),
        200,
        "contact",
    );
    let out = s.cli(&["domain", "contact", "a.test"]);
    assert!(
        out.out()
            .contains("contact of a.test: owner@elsewhere.test (th)"),
        "{}",
        out.describe()
    );
    let r = ok(
        &call(
            &base,
            "PUT",
            "/api/v1/domains/a.test/retention",
            &dadmin,
            Some(r#"{"max_age": 90}"#),
        ),
        200,
        "domain retention",
    );
    assert_eq!(r["retention"]["max_age_days"], json!(90), "{r}");
    let me = cli_json(&s, &["user", "show", "anna@a.test"]);
    assert_eq!(me["domain_retention"]["max_age_days"], json!(90), "{me}");
    // The domain quota is the server administrator's.
    let a = call(
        &base,
        "PUT",
        "/api/v1/domains/a.test/quota",
        &dadmin,
        Some(r#"{"quota": "100G"}"#),
    );
    assert_problem(&a, 403, "may not", "a domain admin sets the domain quota");
    ok(
        &call(
            &base,
            "PUT",
            "/api/v1/domains/a.test/quota",
            &root,
            Some(r#"{"quota": "2G"}"#),
        ),
        200,
        "domain quota",
    );
    let domains = cli_json(&s, &["domain", "list"]);
    let a_test = domains
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["domain"] == "a.test")
        .unwrap();
    assert_eq!(a_test["quota_bytes"], json!(2u64 << 30), "{a_test}");

    // DKIM: a key made through the API is listed by the CLI, signs, and
    // its record is in the DNS records, whose zone text is `praisani dns`.
    let k = ok(
        &call(
            &base,
            "POST",
            "/api/v1/domains/a.test/dkim-keys",
            &dadmin,
            Some(r#"{"algorithm": "rsa", "selector": "panel1"}"#),
        ),
        201,
        "dkim generate",
    );
    assert_eq!(k["record"]["name"], "panel1._domainkey.a.test", "{k}");
    let a = call(
        &base,
        "POST",
        "/api/v1/domains/a.test/dkim-keys",
        &dadmin,
        Some(r#"{"selector": "panel1"}"#),
    );
    assert_problem(&a, 409, "already exists", "the same selector again");
    let a = call(
        &base,
        "POST",
        "/api/v1/domains/a.test/dkim-keys",
        &dadmin,
        Some(r#"{"algorithm": "dsa"}"#),
    );
    assert_problem(&a, 400, "unknown algorithm", "algorithm");
    let out = s.cli(&["dkim", "list", "a.test"]);
    assert!(
        out.out().contains("panel1\trsa-sha256\tsigning"),
        "{}",
        out.describe()
    );
    let listed = ok(
        &call(
            &base,
            "GET",
            "/api/v1/domains/a.test/dkim-keys",
            &dadmin,
            None,
        ),
        200,
        "dkim keys",
    );
    assert_eq!(listed["items"][0]["selector"], "panel1", "{listed}");
    assert_eq!(listed["items"][0]["signing"], json!(true), "{listed}");
    let dns = ok(
        &call(&base, "GET", "/api/v1/domains/a.test/dns", &dadmin, None),
        200,
        "dns",
    );
    assert!(
        dns["records"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "panel1._domainkey.a.test" && r["type"] == "TXT"),
        "{dns}"
    );
    let zone = s.cli(&["dns", "a.test"]);
    zone.assert_ok("dns");
    // The same text, but a domain administrator is not shown where the
    // server keeps its keys.
    let key_dir = s.data_dir.join("dkim").display().to_string();
    assert!(zone.out().contains(&key_dir), "{}", zone.out());
    assert_eq!(
        dns["zone"].as_str().unwrap(),
        zone.out()
            .trim_end()
            .replace(&key_dir, "the server's DKIM key directory"),
        "zone text"
    );
    assert!(!dns.to_string().contains(&key_dir), "{dns}");
    assert!(!listed.to_string().contains(&key_dir), "{listed}");
    let a = call(
        &base,
        "GET",
        "/api/v1/domains/unknown.test/dns",
        &root,
        None,
    );
    assert_problem(
        &a,
        404,
        "is not a hosted domain",
        "dns of an unknown domain",
    );

    // Refusals: the API's detail is the CLI's message, word for word.
    let cases: Vec<(&str, &str, Option<&str>, Vec<&str>)> = vec![
        (
            "GET",
            "/api/v1/domains/unknown.test/catchall",
            None,
            vec!["domain", "catchall", "unknown.test"],
        ),
        (
            "DELETE",
            "/api/v1/domains/unknown.test/catchall",
            None,
            vec!["domain", "catchall", "unknown.test", "--off"],
        ),
        (
            "PUT",
            "/api/v1/domains/unknown.test/quota",
            Some(r#"{"quota": "1G"}"#),
            vec!["domain", "quota", "unknown.test", "1G"],
        ),
        (
            "PUT",
            "/api/v1/domains/unknown.test/retention",
            Some(r#"{"max_age": 3}"#),
            vec!["domain", "retention", "unknown.test", "--max-age", "3"],
        ),
        (
            "DELETE",
            "/api/v1/domains/unknown.test/contact",
            None,
            vec!["domain", "contact", "unknown.test", "--off"],
        ),
        (
            "GET",
            "/api/v1/domains/unknown.test/dkim-keys",
            None,
            vec!["dkim", "list", "unknown.test"],
        ),
        (
            "GET",
            "/api/v1/mailboxes/nobody@a.test/forward",
            None,
            vec!["user", "forward", "nobody@a.test"],
        ),
        (
            "DELETE",
            "/api/v1/mailboxes/nobody@a.test/vacation",
            None,
            vec!["user", "vacation", "nobody@a.test", "--off"],
        ),
        (
            "PUT",
            "/api/v1/mailboxes/nobody@a.test/hold",
            Some("{}"),
            vec!["user", "suspend", "nobody@a.test"],
        ),
        (
            "PUT",
            "/api/v1/mailboxes/anna@a.test/forward",
            Some(r#"{"targets": ["anna@a.test"]}"#),
            vec!["user", "forward", "anna@a.test", "anna@a.test"],
        ),
        (
            "GET",
            "/api/v1/queue/999999",
            None,
            vec!["queue", "show", "999999"],
        ),
    ];
    for (m, p, b, cli) in cases {
        let a = call(&base, m, p, &root, b);
        assert!((400..500).contains(&a.status), "{m} {p}: {}", a.raw);
        let out = s.cli(&cli);
        assert_ne!(out.code(), Some(0), "{}", out.describe());
        let detail = a.body["detail"].as_str().unwrap_or_default();
        assert_eq!(
            out.err().trim(),
            format!("praisani: {detail}"),
            "{m} {p} vs praisani {}",
            cli.join(" ")
        );
    }
}
