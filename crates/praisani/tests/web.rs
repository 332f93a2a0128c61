//! The web admin (`/login`, `/domains/…`, `/me` on `listen.admin`) on the
//! real binary. In a real browser — Debian's chromium driven headless by
//! selenium through chromedriver, at a phone's width — a domain
//! administrator (named with `praisani domain admin`) logs in and creates
//! a mailbox, that mailbox's user logs in and changes the password, and
//! the pages show in Thai and Chinese; then POP3 (poplib) takes the new
//! password and refuses the old one. A PNG of every page visited is kept
//! in `target/web-screenshots/`. Without a browser (Python's http.client):
//! CSRF tokens and origins, cookie attributes, the CSP, scopes (another
//! domain refused alike whether or not it exists, users kept off the
//! domain pages and quotas) and login throttling.

mod common;

use common::*;
use serde_json::Value;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A server with the admin listener on plain HTTP on loopback, domains
/// a.test and b.test, and boss@a.test administering a.test.
fn server(limits: &str) -> (Server, String) {
    let port = free_port();
    let mut s = Server::new_extra(
        ServerOpts {
            demo: false,
            limits: limits.to_string(),
        },
        ExtraConfig {
            tables: "[admin_api]\nplain_http = true\n".into(),
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
    s.add_user("boss@a.test", "boss-pass-1", &[]);
    s.add_user("anna@a.test", "anna-pass-1", &[]);
    s.add_user("bert@b.test", "bert-pass-1", &[]);
    s.cli(&["domain", "admin", "a.test", "add", "boss@a.test"])
        .assert_ok("domain admin add");
    (s, format!("http://127.0.0.1:{port}"))
}

fn screenshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("web-screenshots")
}

#[test]
fn domain_admin_and_user_in_headless_chromium() {
    if !have_tool("chromium", "web")
        || !have_tool("chromedriver", "web")
        || !have_python_module("selenium", "pip install selenium", "web")
    {
        return;
    }
    let (s, base) = server("");
    s.cli(&["domain", "retention", "a.test", "--max-age", "90"])
        .assert_ok("domain retention");
    let cli = s.cli(&["domain", "admin", "a.test"]);
    assert!(cli.out().contains("boss@a.test"), "{}", cli.describe());
    let shots = screenshot_dir();
    let _ = std::fs::remove_dir_all(&shots);
    let shots_s = shots.to_string_lossy().to_string();
    let out = python(
        include_str!("scripts/web_flow.py"),
        &[
            &base,
            "boss@a.test",
            "boss-pass-1",
            &shots_s,
            "carla",
            "a.test",
            "first-pass-1",
            "second-pass-2",
        ],
        Duration::from_secs(240),
    );
    let line = out.out();
    let seen: Value = serde_json::from_str(line.trim().lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("selenium script: {e}: {}", out.describe()));
    // Straight to stderr, past libtest's capture: the path is for review.
    let _ = writeln!(
        std::io::stderr(),
        "web screenshots in {} ({} pages)",
        shots.display(),
        seen["shots"].as_array().map(Vec::len).unwrap_or(0)
    );
    assert_eq!(seen["ok"], true, "browser flow failed: {seen:#}");
    assert!(
        seen["admin_url"]
            .as_str()
            .unwrap()
            .ends_with("/domains/a.test"),
        "{seen:#}"
    );
    assert_eq!(seen["after_add"], "Saved.");
    let boxes: Vec<&str> = seen["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(boxes, ["anna@a.test", "boss@a.test", "carla@a.test"]);
    assert_eq!(seen["meters"], 1, "only the 10M quota has a usage bar");
    assert!(seen["user_url"].as_str().unwrap().ends_with("/me"));
    assert_eq!(seen["usage"], "0 B of 10.0 MiB used · 0 messages");
    assert!(
        seen["retention"]
            .as_str()
            .unwrap()
            .contains("Messages are deleted 90 days after they arrived, read or not."),
        "{seen:#}"
    );
    assert_eq!(seen["after_password"], "Saved.");
    assert_eq!(seen["lang_th"], "ออกจากระบบ");
    assert_eq!(seen["html_lang_th"], "th");
    assert_eq!(
        seen["error_th"],
        "ส่งต่อไปยังกล่องจดหมายของตัวเองไม่ได้ หากต้องการเก็บสำเนา ให้เลือก \u{201c}เก็บสำเนาไว้ที่นี่\u{201d}",
        "{seen:#}"
    );
    assert_eq!(seen["lang_zh"], "退出");
    assert_eq!(seen["login_zh"], "登录");
    assert_eq!(seen["old_password_web"], "邮箱地址或密码错误。");
    assert_eq!(seen["too_wide"], Value::Array(vec![]), "wider than a phone");
    assert_eq!(seen["csp_violations"], Value::Array(vec![]));
    for p in seen["shots"].as_array().unwrap() {
        let p = PathBuf::from(p.as_str().unwrap());
        let png = std::fs::read(&p).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{}", p.display());
    }
    // POP3: the new password works, the old one does not.
    let pop = python(
        r#"
import poplib, sys
port = int(sys.argv[1])
p = poplib.POP3("127.0.0.1", port, timeout=10)
p.user("carla@a.test"); p.pass_("second-pass-2"); print("new:", p.stat()); p.quit()
p = poplib.POP3("127.0.0.1", port, timeout=10)
p.user("carla@a.test")
try:
    p.pass_("first-pass-1"); print("old: accepted")
except poplib.error_proto as e:
    print("old: refused", e)
"#,
        &[&s.pop3_port.to_string()],
        Duration::from_secs(30),
    );
    let text = pop.out();
    assert!(text.contains("new: (0, 0)"), "{}", pop.describe());
    assert!(text.contains("old: refused"), "{}", pop.describe());
}

/// The requests the browser-less tests make, with http.client; prints one
/// JSON object per request.
const HTTP: &str = r#"
import http.client, json, re, sys, time, urllib.parse
port = int(sys.argv[1])
jar = {}

def req(method, path, form=None, headers=None, cookie=True, source="127.0.0.1"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20,
                                   source_address=(source, 0))
    h = {"Host": "127.0.0.1:%d" % port}
    if cookie and jar:
        h["Cookie"] = "; ".join("%s=%s" % kv for kv in jar.items())
    body = None
    if form is not None:
        body = urllib.parse.urlencode(form)
        h["Content-Type"] = "application/x-www-form-urlencoded"
        h["Origin"] = "http://127.0.0.1:%d" % port
        h["Sec-Fetch-Site"] = "same-origin"
    h.update(headers or {})
    started = time.monotonic()
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    text = r.read().decode()
    ms = (time.monotonic() - started) * 1000
    cookies = r.headers.get_all("Set-Cookie") or []
    for sc in cookies:
        name, _, rest = sc.partition("=")
        value = rest.split(";")[0]
        if value:
            jar[name] = value
        else:
            jar.pop(name, None)
    m = re.search(r'name="csrf" value="([^"]+)"', text)
    return {"status": r.status, "location": r.headers.get("Location"),
            "csp": r.headers.get("Content-Security-Policy"), "cookies": cookies,
            "csrf": m.group(1) if m else None, "body": text, "ms": ms}

def login(a, p, source="127.0.0.1"):
    jar.clear()
    return req("POST", "/login", {"address": a, "password": p}, source=source)

if len(sys.argv) > 3:
    jar.update(json.loads(sys.argv[3]))
out = {}
for step in json.loads(sys.argv[2]):
    kind = step[0]
    if kind == "login":
        out[step[1]] = login(step[2], step[3], *step[4:5])
    elif kind == "get":
        out[step[1]] = req("GET", step[2])
    elif kind == "save":
        saved = globals().setdefault("saved", {})
        saved[step[1]] = dict(jar)
    elif kind == "use":
        jar.clear()
        jar.update(globals()["saved"][step[1]])
    elif kind == "post":
        form = dict(step[3])
        if form.get("csrf") == "SESSION":
            form["csrf"] = out[step[4]]["csrf"]
        out[step[1]] = req("POST", step[2], form, step[5] if len(step) > 5 else None)
out["jar"] = jar
print(json.dumps(out))
"#;

fn http_steps(s: &Server, base: &str, steps: Value) -> Value {
    http_steps_with(s, base, steps, &Value::Object(Default::default()))
}

/// [`http_steps`] starting with the cookies `jar` (an earlier answer's
/// `jar`).
fn http_steps_with(s: &Server, base: &str, steps: Value, jar: &Value) -> Value {
    let port = base.rsplit(':').next().unwrap().to_string();
    let out = python(
        HTTP,
        &[&port, &steps.to_string(), &jar.to_string()],
        Duration::from_secs(120),
    );
    serde_json::from_str(out.out().trim())
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.describe(), s.log()))
}

#[test]
fn csrf_cookies_csp_and_scopes_without_a_browser() {
    if !have_tool("python3", "web") {
        return;
    }
    let (s, base) = server("");
    let steps = serde_json::json!([
        ["get", "login_page", "/login"],
        ["login", "admin_login", "boss@a.test", "boss-pass-1"],
        ["get", "own", "/domains/a.test"],
        ["get", "other", "/domains/b.test"],
        ["get", "missing", "/domains/nowhere.test"],
        ["get", "me", "/me"],
        ["post", "no_csrf", "/domains/a.test/mailboxes/quota",
            [["address", "anna@a.test"], ["quota", "5M"]], "own"],
        ["post", "forged_csrf", "/domains/a.test/mailboxes/quota",
            [["address", "anna@a.test"], ["quota", "5M"], ["csrf", "AAAAAAAAAAAAAAAAAAAAAAAA"]], "own"],
        ["post", "cross_origin", "/domains/a.test/mailboxes/quota",
            [["address", "anna@a.test"], ["quota", "5M"], ["csrf", "SESSION"]], "own",
            {"Origin": "http://evil.test", "Sec-Fetch-Site": "cross-site"}],
        ["post", "other_password", "/domains/b.test/mailboxes/password",
            [["address", "bert@b.test"], ["password", "taken-over-1"], ["csrf", "SESSION"]], "own"],
        ["post", "smuggled", "/domains/a.test/mailboxes/password",
            [["address", "bert@b.test"], ["password", "taken-over-1"], ["csrf", "SESSION"]], "own"],
        ["post", "own_quota", "/domains/a.test/mailboxes/quota",
            [["address", "anna@a.test"], ["quota", "5M"], ["csrf", "SESSION"]], "own"],
        ["login", "user_login", "anna@a.test", "anna-pass-1"],
        ["get", "user_me", "/me"],
        ["get", "user_domains", "/domains"],
        ["get", "user_domain", "/domains/a.test"],
        ["post", "user_quota", "/domains/a.test/mailboxes/quota",
            [["address", "anna@a.test"], ["quota", "unlimited"], ["csrf", "SESSION"]], "user_me"],
        ["login", "unknown_user", "nobody@a.test", "whatever-1", "127.0.0.2"],
        ["login", "wrong_password", "anna@a.test", "whatever-1", "127.0.0.3"],
        ["get", "no_session", "/me"],
        ["get", "style", "/style.css"],
    ]);
    let o = http_steps(&s, &base, steps);
    let st = |k: &str| o[k]["status"].as_u64().unwrap_or(0);
    // CSP on every page, the stylesheet included.
    for k in [
        "login_page",
        "own",
        "other",
        "me",
        "no_csrf",
        "user_me",
        "style",
    ] {
        assert_eq!(o[k]["csp"], CSP, "{k}");
    }
    // The session cookie.
    let sc = o["admin_login"]["cookies"][0].as_str().unwrap();
    assert_eq!(st("admin_login"), 303);
    for attr in [
        "praisani=",
        "Secure",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
    ] {
        assert!(sc.contains(attr), "{attr} missing in {sc}");
    }
    assert_eq!(st("own"), 200);
    assert!(o["own"]["body"].as_str().unwrap().contains("anna@a.test"));
    // Another customer's domain, existing or not: the same refusal.
    assert_eq!(st("other"), 403);
    assert_eq!(st("missing"), 403);
    assert_eq!(o["other"]["body"], o["missing"]["body"]);
    assert!(!o["other"]["body"].as_str().unwrap().contains("bert"));
    // CSRF: missing, forged, from another site.
    assert_eq!(
        st("no_csrf"),
        422,
        "a form without the field is not even read"
    );
    assert_eq!(st("forged_csrf"), 403);
    assert_eq!(st("cross_origin"), 403);
    for refused in ["forged_csrf", "cross_origin"] {
        let body = o[refused]["body"].as_str().unwrap();
        assert!(
            body.contains("This form has expired or came from another site"),
            "{refused}: {body}"
        );
    }
    assert_eq!(st("other_password"), 403);
    assert_eq!(st("smuggled"), 403);
    assert_eq!(st("own_quota"), 303);
    let q = s.cli(&["--json", "user", "show", "anna@a.test"]);
    assert!(
        q.out().contains("5000000") || q.out().contains("5242880"),
        "{}",
        q.describe()
    );
    // A user: own page yes, domain pages and quotas no.
    assert_eq!(st("user_login"), 303);
    assert_eq!(o["user_login"]["location"], "/");
    assert_eq!(st("user_me"), 200);
    assert_eq!(st("user_domains"), 403);
    assert_eq!(st("user_domain"), 403);
    assert_eq!(st("user_quota"), 403);
    // No user enumeration.
    assert_eq!(st("unknown_user"), 401);
    assert_eq!(st("wrong_password"), 401);
    let notice = |k: &str| {
        let b = o[k]["body"].as_str().unwrap();
        b.split("role=\"alert\">")
            .nth(1)
            .unwrap_or("")
            .split('<')
            .next()
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(notice("unknown_user"), notice("wrong_password"));
    // Both padded to the failure delay (100ms in the tests), neither
    // answered at once.
    let ms = |k: &str| o[k]["ms"].as_f64().unwrap();
    let _ = writeln!(
        std::io::stderr(),
        "web login failures: unknown user {:.0} ms, wrong password {:.0} ms",
        ms("unknown_user"),
        ms("wrong_password")
    );
    assert!(ms("unknown_user") >= 95.0 && ms("wrong_password") >= 95.0);
    assert_eq!(st("no_session"), 303);
    assert_eq!(o["no_session"]["location"], "/login");
    // The forged and cross-site requests changed nothing.
    s.pop3_login("bert@b.test", "bert-pass-1");
    // The role taken away counts at once, for a session already open.
    let open = http_steps(
        &s,
        &base,
        serde_json::json!([
            ["login", "again", "boss@a.test", "boss-pass-1"],
            ["get", "domain", "/domains/a.test"],
        ]),
    );
    assert_eq!(open["domain"]["status"], 200);
    s.cli(&["domain", "admin", "a.test", "remove", "boss@a.test"])
        .assert_ok("domain admin remove");
    let gone = http_steps_with(
        &s,
        &base,
        serde_json::json!([["get", "domain", "/domains/a.test"], ["get", "home", "/"]]),
        &open["jar"],
    );
    assert_eq!(gone["domain"]["status"], 403);
    assert_eq!(gone["home"]["location"], "/me");
}

#[test]
fn web_logins_are_throttled_like_pop3() {
    if !have_tool("python3", "web") {
        return;
    }
    let (s, base) = server("auth_lockout_after = 3\n");
    let steps = serde_json::json!([
        ["login", "f1", "anna@a.test", "wrong-1"],
        ["login", "f2", "anna@a.test", "wrong-2"],
        ["login", "f3", "nobody@a.test", "wrong-3"],
        ["login", "right", "anna@a.test", "anna-pass-1"],
    ]);
    let o = http_steps(&s, &base, steps);
    for k in ["f1", "f2", "f3"] {
        assert_eq!(o[k]["status"], 401, "{k}");
    }
    assert_eq!(
        o["right"]["status"], 429,
        "locked out: {}",
        o["right"]["body"]
    );
    assert!(o["right"]["cookies"].as_array().unwrap().is_empty());
    // The same throttle as POP3: the address is locked there too.
    let pop = python(
        r#"
import poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
p.user("anna@a.test")
try:
    p.pass_("anna-pass-1"); print("accepted")
except poplib.error_proto as e:
    print("refused", e)
"#,
        &[&s.pop3_port.to_string()],
        Duration::from_secs(30),
    );
    assert!(pop.out().contains("refused"), "{}", pop.describe());
}

#[test]
fn self_service_forms_and_sessions_ending() {
    if !have_tool("python3", "web") {
        return;
    }
    let (s, base) = server("");
    s.add_user("สมชาย@a.test", "somchai-pass-1", &[]);
    let steps = serde_json::json!([
        ["login", "first", "anna@a.test", "anna-pass-1"],
        ["save", "first"],
        ["login", "second", "anna@a.test", "anna-pass-1"],
        ["get", "me", "/me"],
        [
            "post",
            "forward",
            "/me/forward",
            [
                ["targets", "anna@elsewhere.test, bert@b.test"],
                ["keep", "1"],
                ["csrf", "SESSION"]
            ],
            "me"
        ],
        [
            "post",
            "vacation",
            "/me/vacation",
            [
                ["subject", "Away"],
                ["text", "Back on Monday. ไปพักร้อน"],
                ["from", "2030-01-01"],
                ["until", "2030-01-10"],
                ["csrf", "SESSION"]
            ],
            "me"
        ],
        [
            "post",
            "bad_vacation",
            "/me/vacation",
            [
                ["text", "x"],
                ["from", "2030-01-10"],
                ["until", "2030-01-01"],
                ["csrf", "SESSION"]
            ],
            "me"
        ],
        [
            "post",
            "language",
            "/me/language",
            [["lang", "th"], ["csrf", "SESSION"]],
            "me"
        ],
        ["get", "me_th", "/me"],
        [
            "post",
            "wrong_current",
            "/me/password",
            [
                ["current", "nope-nope-1"],
                ["new", "anna-pass-2"],
                ["repeat", "anna-pass-2"],
                ["csrf", "SESSION"]
            ],
            "me"
        ],
        [
            "post",
            "password",
            "/me/password",
            [
                ["current", "anna-pass-1"],
                ["new", "anna-pass-2"],
                ["repeat", "anna-pass-2"],
                ["csrf", "SESSION"]
            ],
            "me"
        ],
        ["get", "still_in", "/me"],
        ["save", "second"],
        ["use", "first"],
        ["get", "first_after", "/me"],
        ["use", "second"],
        [
            "post",
            "logout",
            "/logout",
            [["csrf", "SESSION"]],
            "still_in"
        ],
        ["get", "after_logout", "/me"],
        ["login", "utf8_login", "สมชาย@A.test", "somchai-pass-1"],
        ["get", "utf8_me", "/me"],
    ]);
    let o = http_steps(&s, &base, steps);
    let st = |k: &str| o[k]["status"].as_u64().unwrap_or(0);
    assert_eq!(st("forward"), 303, "{}", o["forward"]["body"]);
    let f = s.cli(&["user", "forward", "anna@a.test"]);
    assert!(f.out().contains("anna@elsewhere.test"), "{}", f.describe());
    assert!(f.out().contains("bert@b.test"), "{}", f.describe());
    assert_eq!(st("vacation"), 303, "{}", o["vacation"]["body"]);
    let v = s.cli(&["user", "vacation", "anna@a.test"]);
    assert!(v.out().contains("ไปพักร้อน"), "{}", v.describe());
    assert_eq!(st("bad_vacation"), 400);
    assert_eq!(st("language"), 303);
    assert!(
        o["me_th"]["body"]
            .as_str()
            .unwrap()
            .contains("กล่องจดหมายของฉัน")
    );
    let u = s.cli(&["--json", "user", "show", "anna@a.test"]);
    assert!(u.out().contains("\"th\""), "{}", u.describe());
    assert_eq!(st("wrong_current"), 403);
    assert_eq!(st("password"), 303);
    // This session goes on (a new cookie), the other one ended.
    assert_eq!(st("still_in"), 200);
    assert_eq!(st("first_after"), 303);
    assert_eq!(o["first_after"]["location"], "/login");
    assert_eq!(st("logout"), 303);
    assert!(
        o["logout"]["cookies"][0]
            .as_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(st("after_logout"), 303);
    s.pop3_login("anna@a.test", "anna-pass-2");
    // A UTF-8 mailbox logs in with any spelling of its address.
    assert_eq!(st("utf8_login"), 303);
    assert!(
        o["utf8_me"]["body"]
            .as_str()
            .unwrap()
            .contains("สมชาย@a.test")
    );
}

/// A Thai-language session of a domain administrator: a size that is not
/// one and a mailbox over the domain's limit are refused in Thai, with
/// the value asked and the limit, and without the English detail.
#[test]
fn a_thai_session_reads_its_errors_in_thai() {
    if !have_tool("python3", "web") {
        return;
    }
    let (s, base) = server("");
    s.cli(&["domain", "limits", "a.test", "--mailboxes", "2"])
        .assert_ok("domain limits");
    s.cli(&["user", "retention", "boss@a.test", "--max-age", "1"])
        .assert_ok("user retention");
    for n in 0..2 {
        let msg = format!("Subject: m{n}\r\n\r\nbody {n}\r\n");
        s.deliver("x@remote.test", &["boss@a.test"], msg.as_bytes());
    }
    let steps = serde_json::json!([
        ["login", "login", "boss@a.test", "boss-pass-1"],
        ["get", "me", "/me"],
        [
            "post",
            "language",
            "/me/language",
            [["lang", "th"], ["csrf", "SESSION"]],
            "me"
        ],
        ["get", "own", "/domains/a.test"],
        [
            "post",
            "bad_quota",
            "/domains/a.test/mailboxes",
            [
                ["local", "carl"],
                ["password", "carl-pass-1"],
                ["quota", "lots"],
                ["csrf", "SESSION"]
            ],
            "own"
        ],
        [
            "post",
            "over_limit",
            "/domains/a.test/mailboxes",
            [
                ["local", "carl"],
                ["password", "carl-pass-1"],
                ["quota", "5M"],
                ["csrf", "SESSION"]
            ],
            "own"
        ],
        [
            "post",
            "bad_date",
            "/me/vacation",
            [
                ["subject", "Away"],
                ["text", "Back soon"],
                ["from", "31.1.2027"],
                ["until", ""],
                ["csrf", "SESSION"]
            ],
            "me"
        ],
        ["get", "me_th", "/me"],
    ]);
    let o = http_steps(&s, &base, steps);
    assert_eq!(o["language"]["status"], 303, "{}", o["language"]["body"]);
    let page = |k: &str| {
        assert_eq!(o[k]["status"], 400, "{k}: {}", o[k]["body"]);
        let body = o[k]["body"].as_str().unwrap().to_string();
        assert!(body.contains("<html lang=\"th\""), "{k}: {body}");
        body.split("role=\"alert\">")
            .nth(1)
            .and_then(|b| b.split("</p>").next())
            .unwrap_or_else(|| panic!("{k}: no error notice: {body}"))
            .to_string()
    };
    let bad_quota = page("bad_quota");
    assert!(
        bad_quota.contains("lots") && bad_quota.contains("ไม่ใช่ขนาดที่ถูกต้อง"),
        "{bad_quota}"
    );
    let over = page("over_limit");
    assert!(
        over.contains("a.test") && over.contains("มีกล่องจดหมายครบ 2 กล่อง"),
        "{over}"
    );
    let date = page("bad_date");
    assert!(
        date.contains("31.1.2027") && date.contains("ไม่ใช่วันที่ที่ถูกต้อง"),
        "{date}"
    );
    for notice in [&bad_quota, &over, &date] {
        for english in [
            "invalid",
            "reached its limit",
            "examples",
            "server administrator",
            "expected",
        ] {
            assert!(!notice.contains(english), "English {english:?} in {notice}");
        }
    }
    // What retention will delete, counted from the mailbox's messages.
    let me = o["me_th"]["body"].as_str().unwrap();
    assert!(
        me.contains("อีเมลของคุณจะถูกลบภายใน 1 วัน 2 ฉบับ และภายใน 7 วัน 2 ฉบับ"),
        "{me}"
    );
    assert!(me.contains("ฉบับถัดไปจะถูกลบตั้งแต่"), "{me}");
    // Nothing was created.
    let out = s.cli(&["user", "list"]);
    assert!(!out.out().contains("carl@"), "{}", out.describe());
}

#[test]
fn over_https_the_cookie_has_the_host_prefix() {
    if !have_tool("curl", "web") {
        return;
    }
    let port = free_port();
    let mut s = Server::new_extra(
        ServerOpts {
            demo: false,
            limits: String::new(),
        },
        ExtraConfig::default(),
    );
    let text = s.config_text().replace(
        "[listen]\n",
        &format!("[listen]\nadmin = [\"127.0.0.1:{port}\"]\n"),
    );
    std::fs::write(&s.config_path, text).unwrap();
    s.start();
    s.add_domain("a.test");
    s.add_user("anna@a.test", "anna-pass-1", &[]);
    let origin = format!("https://127.0.0.1:{port}");
    let out = run_cmd(
        std::process::Command::new("curl").args([
            "-sS",
            "-k",
            "-i",
            "--max-time",
            "20",
            "-H",
            &format!("Origin: {origin}"),
            "--data-urlencode",
            "address=anna@a.test",
            "--data-urlencode",
            "password=anna-pass-1",
            &format!("{origin}/login"),
        ]),
        None,
        Duration::from_secs(30),
    );
    let head = out.out();
    let cookie = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no cookie: {}", out.describe()));
    assert!(cookie.contains("__Host-praisani="), "{cookie}");
    for attr in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{attr}: {cookie}");
    }
    assert!(!cookie.contains("Domain="), "{cookie}");
}
