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
    let bad = call(
        &base,
        "GET",
        "/api/v1/domains/p.test/mailboxes?cursor=nonsense",
        Some(&root),
        None,
    );
    assert_problem(&bad, 400, "is not a cursor", "a bad cursor");

    // Aliases page the same way, each with all its targets.
    for i in 0..12 {
        let body = json!({"alias": format!("a{i:02}@p.test"), "targets": ["u00@p.test", format!("u{i:02}@p.test")]});
        ok(
            &post(&base, "/api/v1/domains/p.test/aliases", &root, &body),
            201,
            "alias",
        );
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let q = match &cursor {
            Some(c) => format!("?limit=5&cursor={c}"),
            None => "?limit=5".into(),
        };
        let p = ok(
            &get(&base, &format!("/api/v1/domains/p.test/aliases{q}"), &root),
            200,
            "alias page",
        );
        pages += 1;
        for a in p["items"].as_array().unwrap() {
            assert_eq!(a["targets"].as_array().unwrap().len(), 2, "{a}");
            seen.push(a["alias"].as_str().unwrap().to_string());
        }
        match p["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let want: Vec<String> = (0..12).map(|i| format!("a{i:02}@p.test")).collect();
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

/// Shorthands over [`call`] for the tests below.
fn post(base: &str, path: &str, token: &str, body: &Value) -> Answer {
    call(base, "POST", path, Some(token), Some(&body.to_string()))
}

fn get(base: &str, path: &str, token: &str) -> Answer {
    call(base, "GET", path, Some(token), None)
}

/// A token made through the API by the holder of `by`: (secret, id).
fn api_token(base: &str, by: &str, scope: Value) -> (String, i64) {
    let v = ok(&post(base, "/api/v1/tokens", by, &scope), 201, "token");
    (
        v["token"].as_str().unwrap().to_string(),
        v["id"].as_i64().unwrap(),
    )
}

fn mailbox(address: &str, quota: Option<&str>) -> Value {
    let mut v = json!({"address": address, "password": "limit-pass-1"});
    if let Some(q) = quota {
        v["quota"] = json!(q);
    }
    v
}

/// The limits a server administrator sets per domain bind the domain's
/// administrators (mailboxes, aliases, quota per mailbox and in total,
/// no unlimited quota), with 403s that name the limit, also under
/// concurrent requests; the server administrator and the CLI are not
/// bound; the CLI shows, changes and clears them.
#[test]
fn domain_limits_bind_domain_administrators() {
    if !have_tool("curl", "domain_limits_bind_domain_administrators")
        || !have_python_module(
            "urllib",
            "python3",
            "domain_limits_bind_domain_administrators",
        )
    {
        return;
    }
    let (s, base) = server(true);
    let root = admin_token(&s);
    for d in ["a.test", "b.test"] {
        ok(
            &post(&base, "/api/v1/domains", &root, &json!({"domain": d})),
            201,
            "domain",
        );
    }
    let limits =
        json!({"mailboxes": 2, "aliases": 1, "mailbox_quota": "10M", "total_quota": "15M"});
    let set = ok(
        &call(
            &base,
            "PUT",
            "/api/v1/domains/a.test/limits",
            Some(&root),
            Some(&limits.to_string()),
        ),
        200,
        "set limits",
    );
    assert_eq!(set["mailbox_quota_bytes"], json!(10 << 20), "{set}");
    let (dadmin, _) = api_token(&base, &root, json!({"domains": ["a.test"]}));

    // The domain administrator reads its own limits, not B's, and sets none.
    let shown = ok(
        &get(&base, "/api/v1/domains/a.test/limits", &dadmin),
        200,
        "own limits",
    );
    assert_eq!(
        (
            &shown["mailboxes"],
            &shown["aliases"],
            &shown["total_quota_bytes"]
        ),
        (&json!(2), &json!(1), &json!(15 << 20)),
        "{shown}"
    );
    let detail = ok(&get(&base, "/api/v1/domains/a.test", &dadmin), 200, "show");
    assert_eq!(detail["limits"]["mailboxes"], json!(2), "{detail}");
    assert_problem(
        &get(&base, "/api/v1/domains/b.test/limits", &dadmin),
        403,
        "",
        "B's limits",
    );
    assert_problem(
        &call(
            &base,
            "PUT",
            "/api/v1/domains/a.test/limits",
            Some(&dadmin),
            Some("{}"),
        ),
        403,
        "",
        "a domain admin sets no limits",
    );

    let add = |who: &str, m: Value| post(&base, "/api/v1/domains/a.test/mailboxes", who, &m);
    assert_problem(
        &add(&dadmin, mailbox("m1@a.test", None)),
        403,
        "need a quota",
        "unlimited under a quota limit",
    );
    assert_problem(
        &add(&dadmin, mailbox("m1@a.test", Some("20M"))),
        403,
        "at most 10M (the per-mailbox quota limit)",
        "over the per-mailbox quota",
    );
    ok(&add(&dadmin, mailbox("m1@a.test", Some("10M"))), 201, "m1");
    assert_problem(
        &add(&dadmin, mailbox("m2@a.test", Some("10M"))),
        403,
        "may add up to at most 15M (the total quota limit); 10M are handed out, 10M more asked",
        "over the total quota",
    );
    ok(&add(&dadmin, mailbox("m2@a.test", Some("5M"))), 201, "m2");
    assert_problem(
        &add(&dadmin, mailbox("m3@a.test", Some("1M"))),
        403,
        "has reached its limit of 2 mailbox(es)",
        "over the mailbox limit",
    );
    let quota = |who: &str, q: &str| {
        call(
            &base,
            "PUT",
            "/api/v1/mailboxes/m2@a.test/quota",
            Some(who),
            Some(&json!({"quota": q}).to_string()),
        )
    };
    assert_problem(
        &quota(&dadmin, "unlimited"),
        403,
        "need a quota",
        "unlimited quota",
    );
    assert_problem(
        &quota(&dadmin, "6M"),
        403,
        "the total quota limit",
        "quota over the total",
    );
    ok(&quota(&dadmin, "4M"), 200, "lowering fits");
    let alias = |who: &str, a: &str| {
        post(
            &base,
            "/api/v1/domains/a.test/aliases",
            who,
            &json!({"alias": a, "targets": ["m1@a.test"]}),
        )
    };
    ok(&alias(&dadmin, "info@a.test"), 201, "first alias");
    assert_problem(
        &alias(&dadmin, "sales@a.test"),
        403,
        "has reached its limit of 1 alias(es)",
        "over the alias limit",
    );
    // The server administrator is not bound.
    ok(
        &add(&root, mailbox("m3@a.test", None)),
        201,
        "root: unlimited m3",
    );
    ok(&quota(&root, "unlimited"), 200, "root: unlimited quota");
    ok(&alias(&root, "sales@a.test"), 201, "root: second alias");
    // Nor is the CLI.
    s.cli(&["user", "add", "m4@a.test"])
        .assert_ok("the CLI adds past the limit");
    let out = s.cli(&["--json", "domain", "limits", "a.test"]);
    out.assert_ok("domain limits (show)");
    let v: Value = serde_json::from_str(out.out().trim()).unwrap();
    assert_eq!(v["mailbox_quota_bytes"], json!(10 << 20), "{v}");

    // Concurrent additions for the last place: exactly one gets it.
    let out = s.cli(&[
        "domain",
        "limits",
        "a.test",
        "--mailboxes",
        "5",
        "--mailbox-quota",
        "unlimited",
        "--total-quota",
        "unlimited",
    ]);
    out.assert_ok("domain limits (change)");
    assert!(
        out.out()
            .contains("mailboxes 5, aliases 1, quota per mailbox unlimited, total quota unlimited"),
        "{}",
        out.describe()
    );
    let count = |who: &str| {
        ok(
            &get(&base, "/api/v1/domains/a.test/mailboxes", who),
            200,
            "list",
        )["items"]
            .as_array()
            .unwrap()
            .len()
    };
    let before = count(&root);
    assert_eq!(before, 4, "m1, m2, m3 and m4 (the CLI made it)");
    let race = "import json,sys,threading,urllib.request,urllib.error\nbase,tok=sys.argv[1],sys.argv[2]\ncodes=[]\ndef go(i):\n  b=json.dumps({'address':'race%d@a.test'%i,'password':'race-pass-1'}).encode()\n  r=urllib.request.Request(base+'/api/v1/domains/a.test/mailboxes',data=b,method='POST',headers={'Authorization':'Bearer '+tok,'Content-Type':'application/json'})\n  try:\n    codes.append(urllib.request.urlopen(r,timeout=20).status)\n  except urllib.error.HTTPError as e:\n    codes.append(e.code)\nts=[threading.Thread(target=go,args=(i,)) for i in range(8)]\n[t.start() for t in ts]\n[t.join() for t in ts]\nprint(sorted(codes))\nprint('OK' if sorted(codes)==[201]+[403]*7 else 'BAD')";
    let out = python(race, &[&base, &dadmin], CURL);
    assert_py_ok(&out, "eight concurrent additions for one place");
    assert_eq!(count(&root), 5);
    let out = s.cli(&["domain", "limits", "a.test", "--clear"]);
    out.assert_ok("domain limits --clear");
    ok(
        &add(&dadmin, mailbox("free@a.test", None)),
        201,
        "no limits left",
    );
    let out = s.cli(&["domain", "limits", "a.test", "--mailboxes", "many"]);
    assert!(!out.status.success() && out.err().contains("--mailboxes takes a number"));
    let out = s.cli(&["domain", "limits", "nowhere.test"]);
    assert!(!out.status.success() && out.err().contains("is not a hosted domain"));
}

/// A domain administrator makes tokens for some of its domains or their
/// users, lists and revokes those only (never a server administrator's
/// or one reaching further); a user makes none; the server administrator
/// revokes any. Each new token's secret is shown once.
#[test]
fn tokens_by_administrators() {
    if !have_tool("curl", "tokens_by_administrators") {
        return;
    }
    let (s, base) = server(true);
    let root = admin_token(&s);
    for d in ["a.test", "b.test", "c.test"] {
        ok(
            &post(&base, "/api/v1/domains", &root, &json!({"domain": d})),
            201,
            "domain",
        );
    }
    for m in ["anna@a.test", "carl@c.test"] {
        let d = m.split('@').nth(1).unwrap();
        ok(
            &post(
                &base,
                &format!("/api/v1/domains/{d}/mailboxes"),
                &root,
                &mailbox(m, None),
            ),
            201,
            "mailbox",
        );
    }
    let (ab, ab_id) = api_token(&base, &root, json!({"domains": ["a.test", "b.test"]}));
    // The holder of a.test + b.test makes a token for a.test and one for anna.
    let made = ok(
        &post(
            &base,
            "/api/v1/tokens",
            &ab,
            &json!({"domains": ["a.test"], "name": "a only"}),
        ),
        201,
        "a token by a domain admin",
    );
    let a_only = made["token"].as_str().unwrap().to_string();
    assert!(a_only.starts_with("pt_"), "{made}");
    assert_eq!(made["scope"], json!({"domains": ["a.test"]}));
    let (anna, anna_id) = api_token(&base, &ab, json!({"user": "anna@a.test"}));
    ok(
        &get(&base, "/api/v1/mailboxes/anna@a.test", &anna),
        200,
        "anna's token works",
    );
    // Nothing beyond its domains, nothing server-wide, no mailbox that
    // does not exist.
    for (scope, why) in [
        (json!({"admin": true}), "a server admin's token"),
        (json!({"domains": ["c.test"]}), "another domain"),
        (
            json!({"domains": ["a.test", "c.test"]}),
            "one domain too many",
        ),
        (json!({"user": "carl@c.test"}), "another domain's user"),
    ] {
        assert_problem(&post(&base, "/api/v1/tokens", &ab, &scope), 403, "", why);
    }
    assert_problem(
        &post(
            &base,
            "/api/v1/tokens",
            &ab,
            &json!({"user": "nobody@a.test"}),
        ),
        404,
        "does not exist",
        "a token for no mailbox",
    );
    // The a.test token cannot widen itself to b.test.
    assert_problem(
        &post(
            &base,
            "/api/v1/tokens",
            &a_only,
            &json!({"domains": ["b.test"]}),
        ),
        403,
        "",
        "a.test's admin for b.test",
    );
    // A user makes, lists and revokes nothing.
    assert_problem(
        &post(
            &base,
            "/api/v1/tokens",
            &anna,
            &json!({"user": "anna@a.test"}),
        ),
        403,
        "",
        "a user's token",
    );
    assert_problem(&get(&base, "/api/v1/tokens", &anna), 403, "", "user lists");
    assert_problem(
        &call(
            &base,
            "DELETE",
            &format!("/api/v1/tokens/{anna_id}"),
            Some(&anna),
            None,
        ),
        403,
        "",
        "user revokes",
    );
    // Lists: the a.test admin sees a.test's tokens (its own, anna's), not
    // the server admin's nor the a.test + b.test one; no secrets.
    let names = |who: &str| -> Vec<Value> {
        let v = ok(&get(&base, "/api/v1/tokens", who), 200, "tokens");
        assert!(!v.to_string().contains("pt_"), "no secrets: {v}");
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["scope"].clone())
            .collect()
    };
    assert_eq!(
        names(&a_only),
        [
            json!({"domains": ["a.test"]}),
            json!({"user": "anna@a.test"})
        ]
    );
    assert_eq!(names(&ab).len(), 3, "a+b sees its own, a's, anna's");
    assert_eq!(names(&root).len(), 4, "the server admin sees all");
    // Revoking: only within reach; other ids (existing or not) are 403.
    for id in [1, ab_id, 987_654] {
        assert_problem(
            &call(
                &base,
                "DELETE",
                &format!("/api/v1/tokens/{id}"),
                Some(&a_only),
                None,
            ),
            403,
            "",
            &format!("a.test's admin revokes #{id}"),
        );
    }
    ok(
        &call(
            &base,
            "DELETE",
            &format!("/api/v1/tokens/{anna_id}"),
            Some(&a_only),
            None,
        ),
        200,
        "a.test's admin revokes anna's",
    );
    assert_problem(
        &get(&base, "/api/v1/mailboxes/anna@a.test", &anna),
        401,
        "",
        "anna's revoked token",
    );
    ok(
        &call(
            &base,
            "DELETE",
            &format!("/api/v1/tokens/{ab_id}"),
            Some(&root),
            None,
        ),
        200,
        "the server admin revokes any",
    );
    assert_problem(&get(&base, "/api/v1/domains", &ab), 401, "", "revoked a+b");
    // The CLI lists what the API made.
    let out = s.cli(&["token", "list"]);
    out.assert_ok("token list");
    assert!(out.out().contains("a only"), "{}", out.describe());
}

/// Removing a mailbox revokes its user tokens, and a mailbox made again
/// with the address does not bring them back; removing a domain takes
/// it out of domain administrators' tokens (revoking those left with
/// none) and revokes its users' tokens.
#[test]
fn removals_revoke_tokens() {
    if !have_tool("curl", "removals_revoke_tokens") {
        return;
    }
    let (s, base) = server(true);
    let root = admin_token(&s);
    for d in ["b.test", "c.test"] {
        ok(
            &post(&base, "/api/v1/domains", &root, &json!({"domain": d})),
            201,
            "domain",
        );
    }
    let add_carl = || {
        ok(
            &post(
                &base,
                "/api/v1/domains/c.test/mailboxes",
                &root,
                &mailbox("carl@c.test", None),
            ),
            201,
            "carl",
        )
    };
    add_carl();
    ok(
        &post(
            &base,
            "/api/v1/domains/c.test/mailboxes",
            &root,
            &mailbox("dora@c.test", None),
        ),
        201,
        "dora",
    );
    let (carl, _) = api_token(&base, &root, json!({"user": "carl@c.test"}));
    let (dora, _) = api_token(&base, &root, json!({"user": "dora@c.test"}));
    let (only_c, _) = api_token(&base, &root, json!({"domains": ["c.test"]}));
    let (bc, bc_id) = api_token(&base, &root, json!({"domains": ["b.test", "c.test"]}));
    ok(
        &get(&base, "/api/v1/mailboxes/carl@c.test", &carl),
        200,
        "carl before",
    );
    ok(
        &call(
            &base,
            "DELETE",
            "/api/v1/mailboxes/carl@c.test",
            Some(&root),
            None,
        ),
        200,
        "remove carl",
    );
    assert_problem(
        &get(&base, "/api/v1/mailboxes/carl@c.test", &carl),
        401,
        "",
        "carl's token after the removal",
    );
    add_carl();
    assert_problem(
        &get(&base, "/api/v1/mailboxes/carl@c.test", &carl),
        401,
        "",
        "a new carl does not revive the old token",
    );
    ok(
        &get(&base, "/api/v1/mailboxes/dora@c.test", &dora),
        200,
        "dora's token stays",
    );

    ok(
        &call(
            &base,
            "DELETE",
            "/api/v1/domains/c.test?force=true",
            Some(&root),
            None,
        ),
        200,
        "remove c.test",
    );
    assert_problem(&get(&base, "/api/v1/domains", &only_c), 401, "", "c only");
    assert_problem(
        &get(&base, "/api/v1/mailboxes/dora@c.test", &dora),
        401,
        "",
        "dora's token went with c.test",
    );
    let seen = ok(&get(&base, "/api/v1/domains", &bc), 200, "b+c after");
    assert_eq!(seen["items"].as_array().unwrap().len(), 1, "{seen}");
    assert_eq!(seen["items"][0]["domain"], "b.test");
    let all = ok(&get(&base, "/api/v1/tokens", &root), 200, "tokens");
    let bc_scope = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == json!(bc_id))
        .unwrap()["scope"]
        .clone();
    assert_eq!(bc_scope, json!({"domains": ["b.test"]}));
    // c.test hosted again belongs to no old token.
    ok(
        &post(
            &base,
            "/api/v1/domains",
            &root,
            &json!({"domain": "c.test"}),
        ),
        201,
        "c.test again",
    );
    assert_problem(
        &get(&base, "/api/v1/domains/c.test/mailboxes", &bc),
        403,
        "",
        "b+c's token lost c.test for good",
    );
}

/// The benchmark of BENCHMARKS.md ("Admin API: paging 10,000 mailboxes"),
/// not run by default: 10,000 mailboxes of one domain on the embedded
/// store (written straight into the database, as hashing 10,000
/// passwords would take minutes), then every page fetched through the
/// API by one keep-alive HTTP client, 100 and 1000 to a page; prints the
/// median and largest time per page and checks the pages cover every
/// mailbox once.
///
/// `cargo test -p praisani --test admin_api -- --ignored --nocapture mailbox_pages_bench`
#[test]
#[ignore = "a benchmark: run with --ignored"]
fn mailbox_pages_bench() {
    const N: usize = 10_000;
    if !have_python_module("http.client", "python3", "mailbox_pages_bench") {
        return;
    }
    let (s, base) = server(true);
    let root = admin_token(&s);
    ok(
        &post(
            &base,
            "/api/v1/domains",
            &root,
            &json!({"domain": "bench.test"}),
        ),
        201,
        "domain",
    );
    {
        let mut db = rusqlite::Connection::open(s.data_dir.join("praisani.db")).unwrap();
        db.busy_timeout(Duration::from_secs(10)).unwrap();
        let tx = db.transaction().unwrap();
        let did: i64 = tx
            .query_row(
                "SELECT id FROM domains WHERE name = 'bench.test'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        {
            let mut st = tx
                .prepare(
                    "INSERT INTO accounts (domain_id, local, password_hash, quota_bytes,
                        used_bytes, used_messages, created)
                     VALUES (?1, ?2, '$argon2id$bench', 1073741824, ?3, ?4, 0)",
                )
                .unwrap();
            for i in 0..N {
                st.execute(rusqlite::params![
                    did,
                    format!("user{i:05}"),
                    (i * 1000) as i64,
                    (i % 7) as i64
                ])
                .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    let script = r#"import http.client,json,statistics,sys,time
port,tok,n,limit=int(sys.argv[1]),sys.argv[2],int(sys.argv[3]),int(sys.argv[4])
c=http.client.HTTPConnection('127.0.0.1',port,timeout=30)
h={'Authorization':'Bearer '+tok}
times=[];seen=[];cursor=None
while True:
  q='/api/v1/domains/bench.test/mailboxes?limit=%d'%limit+('&cursor='+cursor if cursor else '')
  t=time.perf_counter()
  c.request('GET',q,headers=h)
  r=c.getresponse();body=r.read()
  times.append((time.perf_counter()-t)*1000)
  assert r.status==200,(r.status,body[:200])
  p=json.loads(body)
  seen+= [m['address'] for m in p['items']]
  assert all('used_bytes' in m for m in p['items'])
  cursor=p['next_cursor']
  if not cursor: break
assert seen==['user%05d@bench.test'%i for i in range(n)],len(seen)
print('limit %d: %d pages, median %.1f ms, max %.1f ms per page' % (limit,len(times),statistics.median(times),max(times)))
print('MEDIAN %.1f' % statistics.median(times))
print('OK')"#;
    let port = base.rsplit(':').next().unwrap();
    for limit in ["100", "1000"] {
        let out = python(
            script,
            &[port, &root, &N.to_string(), limit],
            Duration::from_secs(300),
        );
        assert_py_ok(&out, &format!("paging {N} mailboxes, {limit} a page"));
        println!("{}", out.out().lines().next().unwrap_or_default());
        let median: f64 = out
            .out()
            .lines()
            .find_map(|l| l.strip_prefix("MEDIAN "))
            .and_then(|m| m.trim().parse().ok())
            .unwrap();
        if limit == "100" {
            assert!(median < 50.0, "median {median} ms per page of 100");
        }
    }
}

/// A control panel names a customer's mailbox administrator of their
/// domain in the web admin through the API alone; a domain administrator
/// may name co-administrators among its own mailboxes only, and neither
/// it nor a user reaches another domain's.
#[test]
fn web_admins_named_through_the_api() {
    if !have_tool("curl", "web_admins_named_through_the_api") {
        return;
    }
    let (s, base) = server(true);
    let root = admin_token(&s);
    for d in ["a.test", "b.test"] {
        ok(
            &post(&base, "/api/v1/domains", &root, &json!({"domain": d})),
            201,
            "domain",
        );
    }
    for m in ["boss@a.test", "anna@a.test", "bob@b.test"] {
        let d = m.split('@').nth(1).unwrap();
        ok(
            &post(
                &base,
                &format!("/api/v1/domains/{d}/mailboxes"),
                &root,
                &mailbox(m, None),
            ),
            201,
            "mailbox",
        );
    }
    // The domain list comes a page at a time too (the demo's example.test
    // is the third).
    let first = ok(&get(&base, "/api/v1/domains?limit=2", &root), 200, "page 1");
    let names = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["ascii"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&first), ["a.test", "b.test"], "{first}");
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let second = ok(
        &get(
            &base,
            &format!("/api/v1/domains?limit=2&cursor={cursor}"),
            &root,
        ),
        200,
        "page 2",
    );
    assert_eq!(names(&second), ["example.test"], "{second}");
    assert_eq!(second["next_cursor"], Value::Null, "{second}");
    let put = |path: &str, token: &str| call(&base, "PUT", path, Some(token), None);
    let del = |path: &str, token: &str| call(&base, "DELETE", path, Some(token), None);
    let named = ok(
        &put("/api/v1/domains/a.test/admins/boss@a.test", &root),
        200,
        "root names boss",
    );
    assert_eq!(named["items"], json!(["boss@a.test"]), "{named}");
    let cli = s.cli(&["domain", "admin", "a.test"]);
    cli.assert_ok("domain admin a.test");
    assert!(cli.out().contains("boss@a.test"), "{}", cli.out());
    assert_problem(
        &put("/api/v1/domains/a.test/admins/ghost@a.test", &root),
        404,
        "ghost@a.test",
        "no such mailbox",
    );

    let (dadmin, _) = api_token(&base, &root, json!({"domains": ["a.test"]}));
    let (anna, _) = api_token(&base, &root, json!({"user": "anna@a.test"}));
    // Three tokens now (the CLI's and these two), two to a page.
    let first = ok(
        &get(&base, "/api/v1/tokens?limit=2", &root),
        200,
        "tokens 1",
    );
    assert_eq!(first["items"].as_array().unwrap().len(), 2, "{first}");
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let second = ok(
        &get(
            &base,
            &format!("/api/v1/tokens?limit=2&cursor={cursor}"),
            &root,
        ),
        200,
        "tokens 2",
    );
    assert_eq!(second["items"].as_array().unwrap().len(), 1, "{second}");
    assert_eq!(second["next_cursor"], Value::Null, "{second}");
    assert_ne!(first["items"][0]["id"], second["items"][0]["id"]);
    ok(
        &get(&base, "/api/v1/domains/a.test/admins", &dadmin),
        200,
        "own domain's admins",
    );
    // Outside a.test: the same refusal whether the domain or mailbox
    // exists or not.
    let refusal = get(&base, "/api/v1/domains/b.test/admins", &dadmin);
    assert_problem(&refusal, 403, "", "b.test's admins");
    for (path, what) in [
        ("/api/v1/domains/nowhere.test/admins", "unknown domain"),
        (
            "/api/v1/domains/a.test/admins/bob@b.test",
            "b mailbox as a admin",
        ),
        (
            "/api/v1/domains/a.test/admins/ghost@b.test",
            "unknown b mailbox",
        ),
        (
            "/api/v1/domains/b.test/admins/anna@a.test",
            "a mailbox as b admin",
        ),
    ] {
        let a = if path.ends_with("/admins") {
            get(&base, path, &dadmin)
        } else {
            put(path, &dadmin)
        };
        assert_eq!(a.status, 403, "{what}: {}", a.raw);
        assert_eq!(a.raw, refusal.raw, "{what}");
    }
    let both = ok(
        &put("/api/v1/domains/a.test/admins/anna@a.test", &dadmin),
        200,
        "boss's panel names anna",
    );
    assert_eq!(
        both["items"],
        json!(["anna@a.test", "boss@a.test"]),
        "{both}"
    );
    // A user reaches none of it, not even for their own domain.
    for a in [
        get(&base, "/api/v1/domains/a.test/admins", &anna),
        put("/api/v1/domains/a.test/admins/anna@a.test", &anna),
        del("/api/v1/domains/a.test/admins/boss@a.test", &anna),
    ] {
        assert_eq!(a.status, 403, "user: {}", a.raw);
    }
    let left = ok(
        &del("/api/v1/domains/a.test/admins/anna@a.test", &root),
        200,
        "root takes anna's role",
    );
    assert_eq!(left["items"], json!(["boss@a.test"]), "{left}");
    let cli = s.cli(&["domain", "admin", "a.test"]);
    assert!(!cli.out().contains("anna@a.test"), "{}", cli.out());
}
