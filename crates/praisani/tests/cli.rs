//! The admin CLI and configuration handling of the real binary.

mod common;

use common::*;
use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

/// A server object whose config exists but which is not started.
fn offline() -> Server {
    Server::new(ServerOpts {
        demo: false,
        limits: String::new(),
    })
}

/// Validates JSON with python3 when available (the substring checks in the
/// tests run regardless).
fn assert_json(text: &str) {
    if !have_tool("python3", "cli json validation") {
        return;
    }
    let out = python(
        "import json,sys; json.loads(sys.argv[1])",
        &[text.trim()],
        Duration::from_secs(20),
    );
    assert!(
        out.status.success(),
        "not valid JSON: {text:?}\n{}",
        out.describe()
    );
}

/// Does a config error message name line `n` ("line 4", "line: 4", "4:")?
fn names_line(err: &str, n: usize) -> bool {
    let e = err.to_ascii_lowercase();
    e.contains(&format!("line {n}"))
        || e.contains(&format!("line: {n}"))
        || e.contains(&format!("line {n},"))
}

/// 1-based number of the first line of `text` that contains `key`.
fn line_of(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| l.contains(key))
        .map(|i| i + 1)
        .unwrap_or(0)
}

#[track_caller]
fn assert_fails(out: &CmdOutput, code: i32, what: &str) {
    assert_eq!(
        out.code(),
        Some(code),
        "{what}: expected exit {code}: {}",
        out.describe()
    );
    assert!(!out.err().trim().is_empty(), "{what}: no message on stderr");
}

#[test]
fn domain_user_alias_lifecycle() {
    let s = offline();

    let out = s.cli(&["--json", "domain", "add", "example.com"]);
    out.assert_ok("domain add");
    assert!(
        out.out().contains("\"added\"") && out.out().contains("example.com"),
        "{}",
        out.describe()
    );
    assert_json(&out.out());
    s.add_domain("example.org");

    let out = s.cli(&["--json", "domain", "list"]);
    out.assert_ok("domain list");
    assert_json(&out.out());
    assert!(
        out.out().contains("\"example.com\"") && out.out().contains("\"example.org\""),
        "{}",
        out.describe()
    );

    // Password from stdin: not echoed.
    let out = s.cli_stdin(
        &[
            "--json",
            "user",
            "add",
            "alice@example.com",
            "--password-stdin",
        ],
        Some("s3cret-A\n"),
    );
    out.assert_ok("user add alice");
    assert_json(&out.out());
    assert!(
        out.out().contains("\"added\":\"alice@example.com\""),
        "{}",
        out.describe()
    );
    assert!(
        out.out().contains("\"password\":null"),
        "{}",
        out.describe()
    );
    assert!(
        !out.out().contains("s3cret-A"),
        "the password was echoed: {}",
        out.describe()
    );

    // Generated password: printed as `password: XXXX` (text) ...
    let out = s.cli(&["user", "add", "bob@example.com"]);
    out.assert_ok("user add bob");
    let pw_line = out
        .out()
        .lines()
        .find(|l| l.starts_with("password: "))
        .map(str::to_string);
    let pw = pw_line.unwrap_or_else(|| panic!("no `password: ` line: {}", out.describe()));
    let bob_pw = pw["password: ".len()..].trim().to_string();
    assert!(
        bob_pw.len() >= 8,
        "generated password too short: {bob_pw:?}"
    );
    // ... and as a JSON string.
    let out = s.cli(&[
        "--json",
        "user",
        "add",
        "carol@example.com",
        "--quota",
        "10M",
    ]);
    out.assert_ok("user add carol");
    assert_json(&out.out());
    assert!(
        out.out().contains("\"password\":\""),
        "generated password missing in JSON: {}",
        out.describe()
    );

    let out = s.cli(&["--json", "user", "show", "carol@example.com"]);
    out.assert_ok("user show");
    assert_json(&out.out());
    let j = out.out();
    for key in [
        "\"address\":\"carol@example.com\"",
        "\"ascii\"",
        "\"quota_bytes\":",
        "\"used_bytes\":0",
        "\"messages\":0",
        "\"apop\":false",
    ] {
        assert!(j.contains(key), "user show lacks {key}: {j}");
    }
    assert!(
        j.contains("\"quota_bytes\":10485760") || j.contains("\"quota_bytes\":10000000"),
        "quota 10M not shown: {j}"
    );

    let out = s.cli(&["--json", "user", "list"]);
    out.assert_ok("user list");
    assert_json(&out.out());
    for u in ["alice@example.com", "bob@example.com", "carol@example.com"] {
        assert!(
            out.out().contains(u),
            "user list lacks {u}: {}",
            out.describe()
        );
    }
    s.add_user("dave@example.org", "pw-dave", &[]);
    let out = s.cli(&["user", "list", "example.org"]);
    out.assert_ok("user list example.org");
    assert!(out.out().contains("dave@example.org"), "{}", out.describe());
    assert!(
        !out.out().contains("alice@example.com"),
        "domain filter ignored: {}",
        out.describe()
    );

    // Aliases.
    let out = s.cli(&[
        "--json",
        "alias",
        "add",
        "team@example.com",
        "alice@example.com",
        "bob@example.com",
    ]);
    out.assert_ok("alias add");
    assert_json(&out.out());
    assert!(out.out().contains("team@example.com"), "{}", out.describe());
    let out = s.cli(&["alias", "list"]);
    out.assert_ok("alias list");
    let line = out
        .out()
        .lines()
        .find(|l| l.contains("team@example.com"))
        .map(str::to_string);
    let line = line.unwrap_or_else(|| panic!("alias missing: {}", out.describe()));
    assert!(
        line.contains("alice@example.com") && line.contains("bob@example.com"),
        "{line}"
    );
    let out = s.cli(&["--json", "alias", "list", "example.com"]);
    out.assert_ok("alias list --json");
    assert_json(&out.out());
    assert!(
        out.out().contains("\"team@example.com\""),
        "{}",
        out.describe()
    );
    let out = s.cli(&["alias", "list", "example.org"]);
    out.assert_ok("alias list example.org");
    assert!(
        !out.out().contains("team@example.com"),
        "domain filter ignored: {}",
        out.describe()
    );

    s.cli(&["alias", "remove", "team@example.com"])
        .assert_ok("alias remove");
    let out = s.cli(&["alias", "list"]);
    out.assert_ok("alias list");
    assert!(
        !out.out().contains("team@example.com"),
        "alias still listed: {}",
        out.describe()
    );

    // Removing a user.
    s.cli(&["user", "remove", "bob@example.com"])
        .assert_ok("user remove");
    let out = s.cli(&["user", "list"]);
    assert!(
        !out.out().contains("bob@example.com"),
        "removed user still listed: {}",
        out.describe()
    );
    assert!(out.out().contains("alice@example.com"));

    // The generated / stdin passwords work for POP3 (the server reads the same store).
    let mut srv = s;
    srv.start();
    let mut p = srv.pop3_login("alice@example.com", "s3cret-A");
    p.quit();
    let mut p = srv.pop3();
    let r = p.try_login("alice@example.com", "wrong");
    assert!(r.is_err(), "wrong password accepted");
    let _ = bob_pw;
}

#[test]
fn passwd_changes_password_and_apop() {
    let mut s = offline();
    s.add_domain("example.net");
    s.add_user("eve@example.net", "old-pass", &[]);
    let out = s.cli(&["--json", "user", "show", "eve@example.net"]);
    assert!(out.out().contains("\"apop\":false"), "{}", out.describe());
    let out = s.cli_stdin(
        &[
            "--json",
            "user",
            "passwd",
            "eve@example.net",
            "--password-stdin",
            "--apop",
        ],
        Some("new-pass\n"),
    );
    out.assert_ok("user passwd");
    assert_json(&out.out());
    let out = s.cli(&["--json", "user", "show", "eve@example.net"]);
    assert!(
        out.out().contains("\"apop\":true"),
        "--apop not recorded: {}",
        out.describe()
    );
    s.start();
    let mut p = s.pop3();
    assert!(
        p.try_login("eve@example.net", "old-pass").is_err(),
        "old password still accepted"
    );
    drop(p);
    let mut p = s.pop3_login("eve@example.net", "new-pass");
    p.quit();
    let out = s.cli_stdin(
        &[
            "user",
            "passwd",
            "eve@example.net",
            "--password-stdin",
            "--no-apop",
        ],
        Some("third-pass\n"),
    );
    out.assert_ok("user passwd --no-apop");
    let out = s.cli(&["--json", "user", "show", "eve@example.net"]);
    assert!(
        out.out().contains("\"apop\":false"),
        "--no-apop not recorded: {}",
        out.describe()
    );
    let out = s.cli(&["user", "passwd", "nobody@example.net"]);
    assert_fails(&out, 1, "passwd of a missing user");
}

#[test]
fn idn_unicode_and_alabel_are_the_same_domain() {
    let s = offline();
    let out = s.cli(&["--json", "domain", "add", "ตัวอย่าง.ไทย"]);
    out.assert_ok("domain add thai");
    assert!(
        out.out().contains("xn--72c1a1bt4awk9o.xn--o3cw4h"),
        "A-label not reported: {}",
        out.describe()
    );
    let out = s.cli(&["domain", "add", "xn--72c1a1bt4awk9o.xn--o3cw4h"]);
    assert_fails(&out, 1, "adding the A-label after the U-label");
    let out = s.cli(&["--json", "domain", "add", "xn--72c1a1bt4awk9o.xn--o3cw4h"]);
    assert_eq!(out.code(), Some(1));
    assert!(
        out.out().contains("\"error\""),
        "no JSON error object: {}",
        out.describe()
    );
    assert_json(&out.out());

    // The other direction, with Chinese.
    s.add_domain("xn--fsqu00a.xn--fiqs8s");
    let out = s.cli(&["domain", "add", "例子.中国"]);
    assert_fails(&out, 1, "adding the U-label after the A-label");

    // Case-insensitive too.
    s.add_domain("Example.Test");
    let out = s.cli(&["domain", "add", "EXAMPLE.test"]);
    assert_fails(&out, 1, "adding a domain again in other case");

    let out = s.cli(&["--json", "domain", "list"]);
    assert_eq!(
        out.out().matches("xn--72c1a1bt4awk9o.xn--o3cw4h").count(),
        1,
        "{}",
        out.describe()
    );
    assert_eq!(
        out.out().matches("xn--fsqu00a.xn--fiqs8s").count(),
        1,
        "{}",
        out.describe()
    );

    // A user added in Unicode is found through the A-label domain.
    s.add_user("สมชาย@ตัวอย่าง.ไทย", "thai-pass", &[]);
    let out = s.cli(&[
        "--json",
        "user",
        "show",
        "สมชาย@xn--72c1a1bt4awk9o.xn--o3cw4h",
    ]);
    out.assert_ok("user show via A-label");
    assert_json(&out.out());
    assert!(
        out.out().contains("\"address\":\"สมชาย@ตัวอย่าง.ไทย\""),
        "{}",
        out.describe()
    );
    assert!(
        out.out().contains("xn--72c1a1bt4awk9o.xn--o3cw4h"),
        "ascii form missing: {}",
        out.describe()
    );
    let out = s.cli(&["user", "list", "xn--72c1a1bt4awk9o.xn--o3cw4h"]);
    out.assert_ok("user list A-label");
    assert!(out.out().contains("สมชาย@"), "{}", out.describe());
    // The same mailbox again through the A-label is a duplicate.
    let out = s.cli_stdin(
        &[
            "user",
            "add",
            "สมชาย@xn--72c1a1bt4awk9o.xn--o3cw4h",
            "--password-stdin",
        ],
        Some("x\n"),
    );
    assert_fails(&out, 1, "duplicate mailbox via A-label");
}

#[test]
fn bad_input_and_duplicates_fail() {
    let s = offline();
    s.add_domain("example.com");
    s.add_user("alice@example.com", "pw", &[]);

    let cases: Vec<(Vec<&str>, Option<&str>, &str)> = vec![
        (
            vec!["domain", "add", "example.com"],
            None,
            "duplicate domain",
        ),
        (
            vec!["domain", "add", "not a domain"],
            None,
            "invalid domain",
        ),
        (
            vec!["domain", "add", "bad-.com"],
            None,
            "invalid domain label",
        ),
        (
            vec!["domain", "remove", "missing.example"],
            None,
            "removing a missing domain",
        ),
        (
            vec!["user", "add", "alice@example.com", "--password-stdin"],
            Some("pw\n"),
            "duplicate user",
        ),
        (
            vec!["user", "add", "bad@@example.com", "--password-stdin"],
            Some("pw\n"),
            "bad address",
        ),
        (
            vec!["user", "add", "noat.example.com", "--password-stdin"],
            Some("pw\n"),
            "address without @",
        ),
        (
            vec!["user", "add", "x@unhosted.example", "--password-stdin"],
            Some("pw\n"),
            "user in an unhosted domain",
        ),
        (
            vec!["user", "add", "y@example.com", "--password-stdin"],
            Some("\n"),
            "empty password",
        ),
        (
            vec!["user", "add", "z@example.com", "--quota", "lots"],
            None,
            "bad quota",
        ),
        (
            vec!["user", "remove", "nobody@example.com"],
            None,
            "removing a missing user",
        ),
        (
            vec!["user", "show", "nobody@example.com"],
            None,
            "showing a missing user",
        ),
        (
            vec!["alias", "add", "self@example.com", "self@example.com"],
            None,
            "alias to itself",
        ),
        (
            vec!["alias", "add", "a@unhosted.example", "alice@example.com"],
            None,
            "alias in an unhosted domain",
        ),
        (
            vec!["alias", "add", "alice@example.com", "bob@example.com"],
            None,
            "alias shadowing a mailbox",
        ),
        (
            vec!["alias", "remove", "none@example.com"],
            None,
            "removing a missing alias",
        ),
    ];
    let mut problems = Vec::new();
    for (args, stdin, what) in &cases {
        let out = s.cli_stdin(args, *stdin);
        if out.code() != Some(1) || out.err().trim().is_empty() {
            problems.push(format!(
                "{what} ({args:?}): expected exit 1 and a message: {}",
                out.describe()
            ));
        }
        // The same with --json: an {"error": ...} object on stdout.
        let mut jargs = vec!["--json"];
        jargs.extend(args.iter());
        let out = s.cli_stdin(&jargs, *stdin);
        if out.code() != Some(1) || !out.out().contains("\"error\"") {
            problems.push(format!(
                "{what} --json: expected exit 1 and {{\"error\":..}}: {}",
                out.describe()
            ));
        }
    }
    // Nothing was created by the failures.
    let out = s.cli(&["user", "list"]);
    for bad in ["y@example.com", "z@example.com", "x@unhosted.example"] {
        if out.out().contains(bad) {
            problems.push(format!(
                "failed `user add {bad}` left a mailbox: {}",
                out.out()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn domain_remove_needs_force() {
    let s = offline();
    s.add_domain("example.com");
    s.add_domain("empty.example");
    s.add_user("alice@example.com", "pw", &[]);
    s.cli(&["alias", "add", "info@example.com", "alice@example.com"])
        .assert_ok("alias add");

    let out = s.cli(&["domain", "remove", "example.com"]);
    assert_ne!(
        out.code(),
        Some(0),
        "removed a domain with mailboxes without --force"
    );
    assert!(
        out.err().contains("--force"),
        "message does not mention --force: {}",
        out.describe()
    );
    let out = s.cli(&["domain", "list"]);
    assert!(
        out.out().contains("example.com"),
        "domain vanished anyway: {}",
        out.describe()
    );
    let out = s.cli(&["user", "list"]);
    assert!(
        out.out().contains("alice@example.com"),
        "mailbox vanished anyway: {}",
        out.describe()
    );

    // An empty domain goes without --force.
    s.cli(&["domain", "remove", "empty.example"])
        .assert_ok("remove empty domain");

    s.cli(&["domain", "remove", "example.com", "--force"])
        .assert_ok("domain remove --force");
    let out = s.cli(&["domain", "list"]);
    assert!(!out.out().contains("example.com"), "{}", out.describe());
    let out = s.cli(&["user", "list"]);
    assert!(
        !out.out().contains("alice@example.com"),
        "mailbox survived --force: {}",
        out.describe()
    );
    let out = s.cli(&["alias", "list"]);
    assert!(
        !out.out().contains("info@example.com"),
        "alias survived --force: {}",
        out.describe()
    );
    // Re-adding the domain does not resurrect the mailbox.
    s.add_domain("example.com");
    let out = s.cli(&["user", "list", "example.com"]);
    assert!(!out.out().contains("alice@"), "{}", out.describe());
}

#[test]
fn config_unknown_key_exits_2() {
    let s = offline();
    let cfg = s.path("typo.toml");
    let text = format!(
        "data_dir = \"{}\"\n[limits]\nmax_recipients = 10\nmax_recipents = 5\n",
        s.data_dir.display()
    );
    write_file(&cfg, text.as_bytes());
    for cmd in [
        &["check-config"][..],
        &["serve"][..],
        &["domain", "list"][..],
    ] {
        let mut c = Command::new(BIN);
        c.arg("--config").arg(&cfg).args(cmd);
        let out = run_cmd(&mut c, None, Duration::from_secs(20));
        assert_eq!(
            out.code(),
            Some(2),
            "{cmd:?} with an unknown key: {}",
            out.describe()
        );
        assert!(
            out.err().contains("max_recipents"),
            "stderr does not name the key: {}",
            out.describe()
        );
        assert!(
            names_line(&out.err(), 4),
            "stderr does not name line 4: {}",
            out.describe()
        );
    }
    // Unknown top-level table.
    write_file(&cfg, b"[listenn]\nsmtp = []\n");
    let mut c = Command::new(BIN);
    c.arg("--config").arg(&cfg).arg("check-config");
    let out = run_cmd(&mut c, None, Duration::from_secs(20));
    assert_eq!(out.code(), Some(2), "{}", out.describe());
    assert!(out.err().contains("listenn"), "{}", out.describe());
}

#[test]
fn config_bad_values_exit_2() {
    let s = offline();
    let cfg = s.path("bad.toml");
    let cases = [
        ("[limits]\nsmtp_timeout = \"forever\"\n", "smtp_timeout"),
        ("[limits]\nmax_recipients = \"abc\"\n", "max_recipients"),
        (
            "[limits]\nmax_message_size = \"lots\"\n",
            "max_message_size",
        ),
        ("[listen]\nsmtp = [\"not-an-address\"]\n", "smtp"),
        ("[pop3]\nallow_plaintext = \"maybe\"\n", "allow_plaintext"),
        ("hostname = \n", "hostname"),
    ];
    let mut problems = Vec::new();
    for (text, key) in cases {
        write_file(&cfg, text.as_bytes());
        let mut c = Command::new(BIN);
        c.arg("--config").arg(&cfg).arg("check-config");
        let out = run_cmd(&mut c, None, Duration::from_secs(20));
        if out.code() != Some(2)
            || !out.err().contains(key)
            || !names_line(&out.err(), line_of(text, key))
        {
            problems.push(format!(
                "{text:?}: expected exit 2 naming {key} and the line: {}",
                out.describe()
            ));
        }
    }
    // A valid file passes check-config.
    write_file(&cfg, s.config_text().as_bytes());
    let mut c = Command::new(BIN);
    c.arg("--config").arg(&cfg).arg("check-config");
    let out = run_cmd(&mut c, None, Duration::from_secs(20));
    if !out.status.success() {
        problems.push(format!("valid config refused: {}", out.describe()));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn port_in_use_exits_2() {
    for service in ["smtp", "pop3"] {
        let mut s = offline();
        let busy = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = busy.local_addr().unwrap().port();
        if service == "smtp" {
            s.smtp_port = port;
        } else {
            s.pop3_port = port;
        }
        write_file(&s.config_path, s.config_text().as_bytes());
        let mut c = Command::new(BIN);
        c.arg("--config").arg(&s.config_path).arg("serve");
        let out = run_cmd(&mut c, None, Duration::from_secs(20));
        assert_eq!(
            out.code(),
            Some(2),
            "{service} port busy: {}",
            out.describe()
        );
        assert!(
            out.err().contains(&format!("listen.{service}")),
            "stderr does not name listen.{service}: {}",
            out.describe()
        );
        drop(busy);
    }
}

#[test]
fn cli_changes_are_seen_by_a_running_server() {
    let s = Server::start_with(ServerOpts {
        demo: false,
        limits: String::new(),
    });
    // Nothing hosted yet: relay refused.
    let mut c = s.smtp();
    c.ehlo("client.test");
    c.expect("MAIL FROM:<a@remote.test>", 250);
    let r = c.cmd("RCPT TO:<live@example.com>").unwrap();
    assert_eq!(r.code, 550, "unhosted domain: {r}");
    c.quit();

    s.add_domain("example.com");
    let mut c = s.smtp();
    c.ehlo("client.test");
    c.expect("MAIL FROM:<a@remote.test>", 250);
    let r = c.cmd("RCPT TO:<live@example.com>").unwrap();
    assert_eq!(r.code, 550, "unknown user: {r}");
    assert!(r.text().contains("5.1.1"), "unknown user: {r}");
    c.quit();

    s.add_user("live@example.com", "live-pass", &[]);
    let tok = token("live");
    s.deliver(
        "a@remote.test",
        &["live@example.com"],
        &simple_message("a@remote.test", "live@example.com", &tok, "hi"),
    );
    let msgs = s.fetch_all("live@example.com", "live-pass");
    assert_eq!(msgs.len(), 1);
    assert!(contains(&msgs[0], tok.as_bytes()));
    let out = s.cli(&["--json", "user", "show", "live@example.com"]);
    assert!(out.out().contains("\"messages\":1"), "{}", out.describe());

    s.cli(&["user", "remove", "live@example.com"])
        .assert_ok("user remove while running");
    let mut c = s.smtp();
    c.ehlo("client.test");
    c.expect("MAIL FROM:<a@remote.test>", 250);
    let r = c.cmd("RCPT TO:<live@example.com>").unwrap();
    assert_eq!(r.code, 550, "removed user still accepted: {r}");
    c.quit();
    let mut p = s.pop3();
    assert!(
        p.try_login("live@example.com", "live-pass").is_err(),
        "removed user can still log in"
    );
}

#[test]
fn serve_demo_prints_account_and_stops_on_sigterm() {
    let mut s = Server::start_default();
    let out = s.stdout_text();
    assert!(
        out.contains(DEMO_USER) && out.contains(DEMO_PASS),
        "demo banner: {out}"
    );
    let out = s.cli(&["--json", "user", "show", DEMO_USER]);
    out.assert_ok("user show demo");
    assert!(
        out.out().contains("\"apop\":true"),
        "demo account should have APOP: {}",
        out.describe()
    );
    let st = s.stop_term();
    assert!(st.success(), "exit status after SIGTERM: {st}");
    // Starting again with --demo on the same data dir is fine (idempotent).
    s.start();
    let st = s.stop_term();
    assert!(st.success(), "exit status after second SIGTERM: {st}");
}

/// Values that parse but are out of range (checked after parsing) must also
/// name their own key and the line, like the example config promises
/// ("Unknown keys and bad values are refused with the key and line named").
#[test]
fn config_out_of_range_values_name_key_and_line() {
    let s = offline();
    let cfg = s.path("range.toml");
    let cases = [
        ("[limits]\nmax_command_line = 100\n", "max_command_line"),
        ("[limits]\nmax_text_line = 10\n", "max_text_line"),
        (
            "[limits]\nmax_connections_per_ip = 0\n",
            "max_connections_per_ip",
        ),
        ("[limits]\nsmtp_timeout = \"10ms\"\n", "smtp_timeout"),
        ("[limits]\npop3_idle_timeout = 0\n", "pop3_idle_timeout"),
        ("[limits]\nmax_message_size = 10\n", "max_message_size"),
        ("hostname = \"not a host name\"\n", "hostname"),
    ];
    let mut problems = Vec::new();
    for (text, key) in cases {
        write_file(&cfg, text.as_bytes());
        let mut c = Command::new(BIN);
        c.arg("--config").arg(&cfg).arg("check-config");
        let out = run_cmd(&mut c, None, Duration::from_secs(20));
        if out.code() != Some(2) {
            problems.push(format!("{text:?}: expected exit 2: {}", out.describe()));
        } else if !out.err().contains(key) {
            problems.push(format!(
                "{text:?}: stderr does not name `{key}`: {}",
                out.err().trim()
            ));
        } else if !names_line(&out.err(), line_of(text, key)) {
            problems.push(format!(
                "{text:?}: stderr does not name the line: {}",
                out.err().trim()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The queue commands on an empty queue, and their errors.
#[test]
fn queue_commands() {
    let s = offline();
    let out = s.cli(&["queue", "list"]);
    out.assert_ok("queue list");
    assert!(
        out.out().contains("the queue is empty"),
        "{}",
        out.describe()
    );
    let out = s.cli(&["--json", "queue", "list"]);
    out.assert_ok("queue list --json");
    assert_eq!(out.out().trim(), "[]");
    assert_fails(
        &s.cli(&["queue", "show", "42"]),
        1,
        "queue show of a missing id",
    );
    assert_fails(
        &s.cli(&["queue", "delete", "42"]),
        1,
        "queue delete of a missing id",
    );
    assert_fails(
        &s.cli(&["queue", "retry", "42"]),
        1,
        "queue retry of a missing id",
    );
    assert_fails(
        &s.cli(&["queue", "show", "abc"]),
        2,
        "queue show with a bad id",
    );
    let out = s.cli(&["--json", "queue", "flush"]);
    out.assert_ok("queue flush");
    assert!(
        out.out().contains("\"rescheduled\":0"),
        "{}",
        out.describe()
    );
}

/// Issue 11 point 12: without `postmaster`, mail to <postmaster> went to
/// the first mailbox of the alphabetically first domain — a customer. Now
/// `serve` refuses to start without it, and with it postmaster mail of a
/// domain without its own goes there, not to the domain's first mailbox.
#[test]
fn serve_needs_a_postmaster_and_postmaster_mail_never_reaches_a_customer() {
    let s = offline();
    s.add_domain("aaa.test");
    s.add_user("first@aaa.test", "first-pass", &[]);
    let text = s
        .config_text()
        .replace("postmaster = \"demo@example.test\"\n", "");
    assert!(!text.contains("postmaster"), "{text}");
    write_file(&s.config_path, text.as_bytes());
    let mut c = Command::new(BIN);
    c.arg("--config").arg(&s.config_path).arg("serve");
    let out = run_cmd(&mut c, None, Duration::from_secs(20));
    assert_eq!(
        out.code(),
        Some(2),
        "serve without postmaster: {}",
        out.describe()
    );
    assert!(
        out.err().contains("postmaster is not set"),
        "{}",
        out.describe()
    );
    let check = s.cli(&["check-config"]);
    assert!(
        check.out().contains("postmaster is not set")
            || check.err().contains("postmaster is not set"),
        "{}",
        check.describe()
    );

    let s = Server::start_extra(
        ServerOpts {
            demo: false,
            limits: String::new(),
        },
        ExtraConfig {
            top: "postmaster = \"ops@example.test\"\n".into(),
            ..ExtraConfig::default()
        },
    );
    s.add_domain("aaa.test");
    s.add_domain("example.test");
    s.add_user("first@aaa.test", "first-pass", &[]);
    s.add_user("ops@example.test", "ops-pass", &[]);
    let tok = token("postmaster");
    let mut c = s.smtp();
    c.ehlo("client.test");
    for rcpt in ["Postmaster", "postmaster@aaa.test"] {
        c.send_mail(
            "someone@remote.test",
            &[rcpt],
            &simple_message("someone@remote.test", rcpt, &tok, "to the postmaster"),
        )
        .unwrap_or_else(|e| panic!("{rcpt}: {e}"));
    }
    c.quit();
    assert_eq!(s.fetch_all("ops@example.test", "ops-pass").len(), 2);
    assert!(s.fetch_all("first@aaa.test", "first-pass").is_empty());
}

#[test]
fn a_second_server_on_the_same_data_directory_is_refused() {
    let s = Server::start_default();
    let out = s.cli(&["serve"]);
    assert_eq!(out.code(), Some(1), "{}", out.describe());
    assert!(
        out.err().contains("another praisani server is running"),
        "{}",
        out.describe()
    );
    // The first one is untouched.
    let mut p = s.pop3_login(DEMO_USER, DEMO_PASS);
    p.quit();
}

#[test]
fn store_migrate_refuses_while_a_server_runs_on_the_data_directory() {
    let s = Server::start_default();
    let out = s.cli(&[
        "store",
        "migrate",
        "--to",
        "postgres://postgres@127.0.0.1:1/none",
    ]);
    assert_ne!(out.code(), Some(0), "{}", out.describe());
    assert!(
        out.err().contains("another praisani server is running")
            && out.err().contains("stop it before migrating"),
        "{}",
        out.describe()
    );
}

/// A SIGTERM that comes as soon as the server accepts connections stops
/// it cleanly: the signal is listened for from before the listeners start
/// (it once arrived before the handler was installed and killed the
/// server).
#[test]
fn sigterm_right_after_start_is_a_clean_stop() {
    let mut s = Server::start_default();
    let st = s.stop_term();
    assert!(st.success(), "exit status after SIGTERM: {st}");
    for round in 0..5 {
        s.start();
        let st = s.stop_term();
        assert!(
            st.success(),
            "round {round}: exit status after SIGTERM: {st}"
        );
    }
}

/// A command whose reader has gone (`praisani domain list | head -0`)
/// ends quietly with SIGPIPE's status, not with a panic on the write.
#[test]
fn output_to_a_closed_pipe_ends_quietly() {
    let s = offline();
    s.add_domain("a.test");
    for args in [&["domain", "list"][..], &["--json", "domain", "list"][..]] {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = std::process::Command::new(common::BIN)
            .arg("--config")
            .arg(&s.config_path)
            .args(args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .expect("run praisani");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(141), "{args:?}: {err}");
    }
}
