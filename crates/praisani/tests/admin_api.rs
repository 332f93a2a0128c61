//! The admin API (`listen.admin`) on the real binary, driven with curl: a
//! server administrator's token (from the CLI) provisions a domain, its
//! mailboxes and a domain administrator's token through the API alone;
//! each scope stays within its own (a matrix over every endpoint); a
//! user changes their password but not their quota and then logs in over
//! POP3 (poplib); problem details on bad input; pagination; a revoked
//! token is refused at once; TLS with the server certificate.

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::Duration;

const CURL: Duration = Duration::from_secs(30);

/// A server with the admin API on a loopback port, over plain HTTP or
/// HTTPS.
fn server(plain: bool) -> (Server, String) {
    let port = free_port();
    let mut s = Server::new_extra(
        ServerOpts {
            demo: true,
            limits: String::new(),
        },
        ExtraConfig {
            tables: format!("[admin_api]\nplain_http = {plain}\nheader_timeout = \"1s\"\n"),
            ..ExtraConfig::default()
        },
    );
    let text = s.config_text().replace(
        "[listen]\n",
        &format!("[listen]\nadmin = [\"127.0.0.1:{port}\"]\n"),
    );
    std::fs::write(&s.config_path, text).unwrap();
    s.start();
    let scheme = if plain { "http" } else { "https" };
    (s, format!("{scheme}://127.0.0.1:{port}"))
}

/// An answer: status, content type, body (JSON when it parses).
struct Answer {
    status: u16,
    content_type: String,
    www_authenticate: bool,
    body: Value,
    raw: String,
}

/// One request with curl; `body` is sent as it is (JSON or not).
fn call(base: &str, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Answer {
    let mut c = std::process::Command::new("curl");
    c.args(["-sS", "-k", "-i", "-X", method, "--max-time", "20"]);
    if let Some(t) = token {
        c.arg("-H").arg(format!("Authorization: Bearer {t}"));
    }
    if let Some(b) = body {
        c.args(["-H", "Content-Type: application/json", "--data-binary", b]);
    }
    c.arg(format!("{base}{path}"));
    let out = run_cmd(&mut c, None, CURL);
    let text = out.out();
    assert!(
        out.status.success(),
        "curl {method} {path}: {}",
        out.describe()
    );
    let (head, raw) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
            .unwrap_or_default()
    };
    Answer {
        status,
        content_type: header("content-type"),
        www_authenticate: header("www-authenticate").starts_with("Bearer"),
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
    assert_eq!(a.body["status"], json!(status), "{what}: {}", a.raw);
    assert!(
        a.body["title"].is_string() && a.body["type"].is_string(),
        "{what}"
    );
    let detail = a.body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(detail_has),
        "{what}: detail {detail:?} lacks {detail_has:?}"
    );
}

fn admin_token(s: &Server) -> String {
    let out = s.cli(&[
        "--json",
        "token",
        "create",
        "--admin",
        "--name",
        "control panel",
    ]);
    out.assert_ok("token create --admin");
    let v: Value = serde_json::from_str(out.out().trim()).expect("token create --json");
    let t = v["token"].as_str().unwrap().to_string();
    assert!(t.starts_with("pt_") && t.len() > 40, "{t}");
    t
}

#[test]
fn provision_scopes_and_revocation() {
    if !have_tool("curl", "provision_scopes_and_revocation")
        || !have_python_module("poplib", "python3", "provision_scopes_and_revocation")
    {
        return;
    }
    let (s, base) = server(true);
    // A client that sends nothing is let go after admin_api.header_timeout.
    let port = base.rsplit(':').next().unwrap();
    let idle = "import socket,sys,time\nc=socket.create_connection(('127.0.0.1',int(sys.argv[1])))\nc.settimeout(8)\nt=time.time()\nwhile c.recv(4096):\n  pass\nprint('closed after %.1fs' % (time.time()-t))\nprint('OK')";
    let out = python(idle, &[port], CURL);
    assert_py_ok(&out, "idle connection closed by header_timeout");
    let root = admin_token(&s);
    // The token list shows it, without the secret.
    let listed = s.cli(&["token", "list"]);
    listed.assert_ok("token list");
    assert!(listed.out().contains("control panel") && !listed.out().contains(&root));

    // A control panel provisions through the API alone.
    for d in ["a.test", "b.test"] {
        let body = json!({"domain": d}).to_string();
        ok(
            &call(&base, "POST", "/api/v1/domains", Some(&root), Some(&body)),
            201,
            "add domain",
        );
    }
    let body =
        json!({"address": "boss@a.test", "password": "boss-pass-1", "quota": "10M"}).to_string();
    let mb = ok(
        &call(
            &base,
            "POST",
            "/api/v1/domains/a.test/mailboxes",
            Some(&root),
            Some(&body),
        ),
        201,
        "add mailbox",
    );
    assert_eq!(mb["quota_bytes"], json!(10 * 1024 * 1024), "{mb}");
    let body = json!({"address": "bob@b.test", "password": "bob-pass-12"}).to_string();
    ok(
        &call(
            &base,
            "POST",
            "/api/v1/domains/b.test/mailboxes",
            Some(&root),
            Some(&body),
        ),
        201,
        "b mailbox",
    );
    let body = json!({"domains": ["a.test"], "name": "customer a"}).to_string();
    let created = ok(
        &call(&base, "POST", "/api/v1/tokens", Some(&root), Some(&body)),
        201,
        "token",
    );
    let dadmin = created["token"].as_str().unwrap().to_string();
    let dadmin_id = created["id"].as_i64().unwrap();
    let listed = ok(
        &call(&base, "GET", "/api/v1/tokens", Some(&root), None),
        200,
        "tokens",
    );
    assert!(
        !listed.to_string().contains(&dadmin),
        "no secrets in the list"
    );

    // The domain administrator works in A.
    let domains = ok(
        &call(&base, "GET", "/api/v1/domains", Some(&dadmin), None),
        200,
        "domains",
    );
    let names: Vec<&str> = domains["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["domain"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a.test"], "a domain admin sees only its domains");
    let shown = ok(
        &call(&base, "GET", "/api/v1/domains/a.test", Some(&dadmin), None),
        200,
        "show",
    );
    assert!(
        shown["dns_records"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["type"] == "MX"),
        "{shown}"
    );
    let body = json!({"address": "anna@a.test", "password": "anna-pass-1"}).to_string();
    ok(
        &call(
            &base,
            "POST",
            "/api/v1/domains/a.test/mailboxes",
            Some(&dadmin),
            Some(&body),
        ),
        201,
        "anna",
    );
    let body = json!({"alias": "info@a.test", "targets": ["anna@a.test"]}).to_string();
    ok(
        &call(
            &base,
            "POST",
            "/api/v1/domains/a.test/aliases",
            Some(&dadmin),
            Some(&body),
        ),
        201,
        "alias",
    );
    let al = ok(
        &call(
            &base,
            "GET",
            "/api/v1/domains/a.test/aliases",
            Some(&dadmin),
            None,
        ),
        200,
        "aliases",
    );
    assert_eq!(al["items"][0]["alias"], "info@a.test", "{al}");
    let body = json!({"quota": "5M"}).to_string();
    ok(
        &call(
            &base,
            "PUT",
            "/api/v1/mailboxes/anna@a.test/quota",
            Some(&dadmin),
            Some(&body),
        ),
        200,
        "quota",
    );

    // … and is refused everything of B, and everything server-wide, with
    // 403 whether or not the thing exists.
    let mb = json!({"address": "x@b.test", "password": "xxxx-pass-1"}).to_string();
    let alias = json!({"alias": "x@b.test", "targets": ["bob@b.test"]}).to_string();
    let pw = json!({"password": "new-pass-123"}).to_string();
    let quota = json!({"quota": "1G"}).to_string();
    let dom = json!({"domain": "c.test"}).to_string();
    let tok = json!({"admin": true}).to_string();
    let matrix: Vec<(&str, &str, Option<&str>)> = vec![
        ("POST", "/api/v1/domains", Some(&dom)),
        ("GET", "/api/v1/domains/b.test", None),
        ("DELETE", "/api/v1/domains/b.test", None),
        ("DELETE", "/api/v1/domains/a.test", None),
        ("GET", "/api/v1/domains/b.test/mailboxes", None),
        ("POST", "/api/v1/domains/b.test/mailboxes", Some(&mb)),
        ("GET", "/api/v1/domains/b.test/aliases", None),
        ("POST", "/api/v1/domains/b.test/aliases", Some(&alias)),
        ("GET", "/api/v1/mailboxes/bob@b.test", None),
        ("DELETE", "/api/v1/mailboxes/bob@b.test", None),
        ("PUT", "/api/v1/mailboxes/bob@b.test/password", Some(&pw)),
        ("PUT", "/api/v1/mailboxes/bob@b.test/quota", Some(&quota)),
        ("DELETE", "/api/v1/aliases/x@b.test", None),
        ("GET", "/api/v1/domains/nowhere.test", None),
        ("GET", "/api/v1/tokens", None),
        ("POST", "/api/v1/tokens", Some(&tok)),
        ("DELETE", "/api/v1/tokens/1", None),
    ];
    for (m, p, b) in &matrix {
        assert_problem(
            &call(&base, m, p, Some(&dadmin), *b),
            403,
            "",
            &format!("A's admin: {m} {p}"),
        );
    }
    // A's path with B's address is refused too.
    let a = call(
        &base,
        "POST",
        "/api/v1/domains/a.test/mailboxes",
        Some(&dadmin),
        Some(&mb),
    );
    assert_problem(
        &a,
        400,
        "is not an address of a.test",
        "B's mailbox under A",
    );
    let a = call(
        &base,
        "POST",
        "/api/v1/domains/a.test/aliases",
        Some(&dadmin),
        Some(&alias),
    );
    assert_problem(&a, 400, "is not an address of a.test", "B's alias under A");
    // Nothing of B changed.
    let bl = ok(
        &call(
            &base,
            "GET",
            "/api/v1/domains/b.test/mailboxes",
            Some(&root),
            None,
        ),
        200,
        "b",
    );
    assert_eq!(bl["items"].as_array().unwrap().len(), 1, "{bl}");

    // A user token: their own mailbox, their password, not their quota.
    let out = s.cli(&["--json", "token", "create", "--user", "anna@a.test"]);
    out.assert_ok("token create --user");
    let user: Value = serde_json::from_str(out.out().trim()).unwrap();
    let user = user["token"].as_str().unwrap().to_string();
    let me = ok(
        &call(
            &base,
            "GET",
            "/api/v1/mailboxes/anna@a.test",
            Some(&user),
            None,
        ),
        200,
        "me",
    );
    assert_eq!(me["quota_bytes"], json!(5 * 1024 * 1024), "{me}");
    ok(
        &call(
            &base,
            "PUT",
            "/api/v1/mailboxes/anna@a.test/password",
            Some(&user),
            Some(&pw),
        ),
        200,
        "pw",
    );
    for (m, p, b) in [
        (
            "PUT",
            "/api/v1/mailboxes/anna@a.test/quota",
            Some(quota.as_str()),
        ),
        ("GET", "/api/v1/mailboxes/boss@a.test", None),
        (
            "PUT",
            "/api/v1/mailboxes/boss@a.test/password",
            Some(pw.as_str()),
        ),
        ("DELETE", "/api/v1/mailboxes/anna@a.test", None),
        ("GET", "/api/v1/domains", None),
        ("GET", "/api/v1/domains/a.test/mailboxes", None),
    ] {
        assert_problem(
            &call(&base, m, p, Some(&user), b),
            403,
            "",
            &format!("user: {m} {p}"),
        );
    }
    let me = ok(
        &call(
            &base,
            "GET",
            "/api/v1/mailboxes/anna@a.test",
            Some(&root),
            None,
        ),
        200,
        "me",
    );
    assert_eq!(
        me["quota_bytes"],
        json!(5 * 1024 * 1024),
        "the quota stayed: {me}"
    );

    // The mailbox made and re-passworded through the API logs in over POP3.
    let script = "import poplib,sys\np=poplib.POP3('127.0.0.1',int(sys.argv[1]),timeout=20)\np.user(sys.argv[2]);p.pass_(sys.argv[3])\np.stat();p.quit();print(\"OK\")";
    let port = s.pop3_port.to_string();
    let out = python(script, &[&port, "anna@a.test", "new-pass-123"], CURL);
    assert_py_ok(&out, "POP3 login with the password set through the API");
    let out = python(script, &[&port, "boss@a.test", "boss-pass-1"], CURL);
    assert_py_ok(&out, "POP3 login of the mailbox made through the API");

    // Problem details on bad input, with the CLI's texts.
    let a = call(
        &base,
        "POST",
        "/api/v1/domains/a.test/mailboxes",
        Some(&root),
        Some("{not json"),
    );
    assert_problem(&a, 400, "", "bad JSON");
    let a = call(
        &base,
        "GET",
        "/api/v1/domains/unknown.test/mailboxes",
        Some(&root),
        None,
    );
    assert_problem(&a, 404, "is not a hosted domain", "unknown domain");
    let a = call(
        &base,
        "POST",
        "/api/v1/domains",
        Some(&root),
        Some(r#"{"domain":"bad..name"}"#),
    );
    assert_problem(&a, 400, "is not a valid domain name", "bad domain");
    let a = call(
        &base,
        "POST",
        "/api/v1/domains",
        Some(&root),
        Some(r#"{"domain":"a.test"}"#),
    );
    assert_problem(&a, 409, "already exists", "duplicate domain");
    let body = json!({"quota": "lots"}).to_string();
    let a = call(
        &base,
        "PUT",
        "/api/v1/mailboxes/anna@a.test/quota",
        Some(&root),
        Some(&body),
    );
    assert_problem(&a, 400, "invalid size", "bad quota");
    let big = json!({"domain": "x".repeat(100 * 1024)}).to_string();
    let a = call(&base, "POST", "/api/v1/domains", Some(&root), Some(&big));
    assert_problem(&a, 413, "", "body over admin_api.max_body_size");
    let a = call(&base, "GET", "/api/v1/nothing", Some(&root), None);
    assert_problem(&a, 404, "", "unknown endpoint");

    // Pagination: 25 mailboxes of p.test, 10 at a time.
    let body = json!({"domain": "p.test"}).to_string();
    ok(
        &call(&base, "POST", "/api/v1/domains", Some(&root), Some(&body)),
        201,
        "p.test",
    );
    for i in 0..25 {
        let body =
            json!({"address": format!("u{i:02}@p.test"), "password": "page-pass-1"}).to_string();
        ok(
            &call(
                &base,
                "POST",
                "/api/v1/domains/p.test/mailboxes",
                Some(&root),
                Some(&body),
            ),
            201,
            "u",
        );
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let q = match &cursor {
            Some(c) => format!("?limit=10&cursor={c}"),
            None => "?limit=10".into(),
        };
        let p = ok(
            &call(
                &base,
                "GET",
                &format!("/api/v1/domains/p.test/mailboxes{q}"),
                Some(&root),
                None,
            ),
            200,
            "page",
        );
        pages += 1;
        let items = p["items"].as_array().unwrap();
        assert!(items.len() <= 10);
        seen.extend(
            items
                .iter()
                .map(|m| m["address"].as_str().unwrap().to_string()),
        );
        match p["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let want: Vec<String> = (0..25).map(|i| format!("u{i:02}@p.test")).collect();
    assert_eq!((pages, seen), (3, want));

    // No token, an unknown one, a revoked one: 401, the same answer.
    let a = call(&base, "GET", "/api/v1/domains", None, None);
    assert_problem(&a, 401, "", "no token");
    assert!(a.www_authenticate);
    let unknown = call(
        &base,
        "GET",
        "/api/v1/domains",
        Some("pt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        None,
    );
    assert_problem(&unknown, 401, "", "unknown token");
    ok(
        &call(
            &base,
            "DELETE",
            &format!("/api/v1/tokens/{dadmin_id}"),
            Some(&root),
            None,
        ),
        200,
        "revoke",
    );
    let revoked = call(&base, "GET", "/api/v1/domains", Some(&dadmin), None);
    assert_problem(&revoked, 401, "", "revoked token");
    assert!(revoked.www_authenticate);
    assert_eq!(revoked.raw, unknown.raw, "revoked and unknown answer alike");
    // Revoked with the CLI: refused at once too.
    let rid = s.cli(&["--json", "token", "list"]);
    let rid: Value = serde_json::from_str(rid.out().trim()).unwrap();
    let user_id = rid
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["scope"]["user"] == "anna@a.test")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    ok(
        &call(
            &base,
            "GET",
            "/api/v1/mailboxes/anna@a.test",
            Some(&user),
            None,
        ),
        200,
        "before revoke",
    );
    s.cli(&["token", "revoke", &user_id.to_string()])
        .assert_ok("token revoke");
    let a = call(
        &base,
        "GET",
        "/api/v1/mailboxes/anna@a.test",
        Some(&user),
        None,
    );
    assert_problem(&a, 401, "", "revoked by the CLI");
}

#[test]
fn https_openapi_and_plain_http_only_on_loopback() {
    if !have_tool("curl", "https_openapi_and_plain_http_only_on_loopback") {
        return;
    }
    let (s, base) = server(false);
    assert!(base.starts_with("https://"));
    let a = call(&base, "GET", "/api/v1/openapi.json", None, None);
    let doc = ok(&a, 200, "openapi over HTTPS");
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/v1/domains/{domain}/mailboxes"]["get"].is_object());
    let root = admin_token(&s);
    let d = ok(
        &call(&base, "GET", "/api/v1/domains", Some(&root), None),
        200,
        "domains",
    );
    assert!(d["items"].to_string().contains("example.test"), "{d}");
    // Plain HTTP is refused by the TLS listener.
    let plain = base.replace("https://", "http://");
    let mut c = std::process::Command::new("curl");
    c.args([
        "-sS",
        "--max-time",
        "5",
        &format!("{plain}/api/v1/openapi.json"),
    ]);
    assert!(!run_cmd(&mut c, None, CURL).out().contains("openapi"));

    // plain_http on a public address is a configuration error.
    let cfg = s.path("public.toml");
    std::fs::write(
        &cfg,
        format!(
            "data_dir = \"{}\"\n[listen]\nadmin = [\"0.0.0.0:8443\"]\n[admin_api]\nplain_http = true\n",
            s.path("d2").display()
        ),
    )
    .unwrap();
    let mut c = std::process::Command::new(BIN);
    c.arg("--config").arg(&cfg).arg("check-config");
    let out = run_cmd(&mut c, None, CURL);
    assert!(!out.status.success(), "{}", out.describe());
    assert!(
        out.err()
            .contains("plain_http = true is allowed only on loopback"),
        "{}",
        out.describe()
    );
}
