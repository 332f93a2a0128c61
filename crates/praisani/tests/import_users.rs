//! `praisani import users` (issue 16, point 2) on the real binary: a CSV
//! file and a Dovecot passwd-file are imported, a dry run writes nothing,
//! a second run finds every account unchanged, a changed account is
//! reported and left alone unless `--update`, and a file with one wrong
//! line is refused naming that line, with nothing imported. Then users
//! whose hashes the real `doveadm pw` made (SHA512-CRYPT, BLF-CRYPT) log
//! in with their old passwords over POP3 (poplib) and SMTP AUTH (smtplib).

mod common;

use common::*;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

/// A crypt string by `openssl passwd -6` over `password`.
fn sha512_crypt(password: &str) -> String {
    let out = run_cmd(
        Command::new("openssl").args(["passwd", "-6", password]),
        None,
        Duration::from_secs(20),
    );
    out.assert_ok("openssl passwd");
    out.out().trim().to_string()
}

fn json_of(out: &CmdOutput) -> Value {
    serde_json::from_str(out.out().trim()).unwrap_or_else(|e| panic!("{e}: {}", out.describe()))
}

fn users(s: &Server) -> Vec<String> {
    let out = s.cli(&["--json", "user", "list"]);
    out.assert_ok("user list");
    let v = json_of(&out);
    let mut names: Vec<String> = v
        .as_array()
        .unwrap_or_else(|| panic!("user list --json: {v}"))
        .iter()
        .map(|a| a["address"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

fn show(s: &Server, user: &str) -> Value {
    let out = s.cli(&["--json", "user", "show", user]);
    out.assert_ok("user show");
    json_of(&out)
}

fn import(s: &Server, file: &std::path::Path, extra: &[&str]) -> CmdOutput {
    let f = file.to_str().unwrap();
    let mut args = vec!["--json", "import", "users", f];
    args.extend_from_slice(extra);
    s.cli(&args)
}

fn counts(v: &Value) -> [u64; 4] {
    ["added", "unchanged", "updated", "skipped"].map(|k| v[k].as_u64().unwrap_or(u64::MAX))
}

#[test]
fn csv_and_passwd_files_dry_run_rerun_and_update() {
    if !have_tool("openssl", "import_users") {
        return;
    }
    let s = Server::new(ServerOpts::default());
    s.add_domain("moved.test");
    let hash = sha512_crypt("old-password");
    let csv = s.path("users.csv");
    std::fs::write(
        &csv,
        format!(
            "address,password_hash,quota,messages,lang\n\
             anna@moved.test,{{SHA512-CRYPT}}{hash},1G,1000,th\n\
             \"ben@moved.test\",{hash},,,\n\
             chai@new.test,{hash},500M,,zh\n"
        ),
    )
    .unwrap();
    // new.test is not hosted: refused, naming the line.
    let out = import(&s, &csv, &[]);
    assert_eq!(out.code(), Some(1), "{}", out.describe());
    assert!(
        out.err().contains("line 4: domain new.test is not hosted"),
        "{}",
        out.describe()
    );
    assert!(users(&s).is_empty());
    // A dry run says what would happen and writes nothing.
    let out = import(&s, &csv, &["--create-domains", "--dry-run"]);
    out.assert_ok("dry run");
    let v = json_of(&out);
    assert_eq!(counts(&v), [3, 0, 0, 0], "{v}");
    assert_eq!(v["new_domains"], serde_json::json!(["new.test"]));
    assert!(users(&s).is_empty());
    let domains = s.cli(&["domain", "list"]);
    assert!(
        !domains.out().contains("new.test"),
        "{}",
        domains.describe()
    );
    // The real run, then a second one that changes nothing.
    let out = import(&s, &csv, &["--create-domains"]);
    out.assert_ok("import");
    assert_eq!(counts(&json_of(&out)), [3, 0, 0, 0]);
    assert_eq!(
        users(&s),
        ["anna@moved.test", "ben@moved.test", "chai@new.test"]
    );
    let anna = show(&s, "anna@moved.test");
    assert_eq!(anna["quota_bytes"], 1u64 << 30);
    assert_eq!(anna["quota_messages"], 1000);
    assert_eq!(anna["lang"], "th");
    assert_eq!(anna["password_scheme"], "SHA512-CRYPT");
    assert_eq!(show(&s, "ben@moved.test")["quota_bytes"], Value::Null);
    let out = import(&s, &csv, &[]);
    out.assert_ok("second run");
    assert_eq!(counts(&json_of(&out)), [0, 3, 0, 0], "{}", out.describe());
    // A Dovecot passwd-file with users without a domain; ben is there
    // with another quota: reported, left alone, then updated.
    let passwd = s.path("passwd");
    std::fs::write(
        &passwd,
        format!(
            "# Dovecot passwd-file\n\
             ben:{{SHA512-CRYPT}}{hash}:5000:5000::/var/vmail/ben::userdb_quota_rule=*:storage=2G\n\
             dao:{{PLAIN}}dao-secret:5000:5000::/var/vmail/dao::userdb_quota_rule=*:storage=10240 userdb_quota_rule2=*:messages=50\n"
        ),
    )
    .unwrap();
    let out = import(&s, &passwd, &["--domain", "moved.test"]);
    out.assert_ok("passwd-file");
    let v = json_of(&out);
    assert_eq!(counts(&v), [1, 0, 0, 1], "{v}");
    let ben = v["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["address"] == "ben@moved.test")
        .unwrap()
        .clone();
    assert_eq!(ben["outcome"], "skipped");
    assert_eq!(ben["line"], 2);
    assert_eq!(ben["differs"], serde_json::json!(["quota"]));
    assert_eq!(show(&s, "ben@moved.test")["quota_bytes"], Value::Null);
    let dao = show(&s, "dao@moved.test");
    assert_eq!(dao["quota_bytes"], 10u64 << 20, "storage= counts kilobytes");
    assert_eq!(dao["quota_messages"], 50);
    assert_eq!(
        dao["password_scheme"], "ARGON2ID",
        "a {{PLAIN}} password is hashed here"
    );
    let out = import(&s, &passwd, &["--domain", "moved.test", "--update"]);
    out.assert_ok("--update");
    assert_eq!(counts(&json_of(&out)), [0, 1, 1, 0], "{}", out.describe());
    let ben = show(&s, "ben@moved.test");
    assert_eq!(ben["quota_bytes"], 2u64 << 30);
    assert_eq!(ben["password_scheme"], "SHA512-CRYPT");
    let out = import(&s, &passwd, &["--domain", "moved.test"]);
    assert_eq!(counts(&json_of(&out)), [0, 2, 0, 0], "{}", out.describe());
    // The text output ends with the summary.
    let out = s.cli(&[
        "import",
        "users",
        passwd.to_str().unwrap(),
        "--domain",
        "moved.test",
    ]);
    out.assert_ok("text");
    assert!(
        out.out()
            .trim_end()
            .ends_with("0 added, 2 unchanged, 0 updated, 0 skipped"),
        "{}",
        out.describe()
    );
}

#[test]
fn a_wrong_line_is_named_and_nothing_is_imported() {
    if !have_tool("openssl", "import_users") {
        return;
    }
    let s = Server::new(ServerOpts::default());
    s.add_domain("moved.test");
    let hash = sha512_crypt("pw");
    let mut text = String::new();
    for i in 0..200 {
        text.push_str(&format!("user{i}@moved.test:{hash}\n"));
    }
    // Line 201: a scheme praisani does not know; 202: a truncated crypt
    // string; 203: user5 again.
    text.push_str("odd@moved.test:{MD4}8a9d093f14f8701df17732b2bb182c74\n");
    text.push_str("cut@moved.test:$6$salt\n");
    text.push_str(&format!("user5@moved.test:{hash}\n"));
    let file = s.path("passwd");
    std::fs::write(&file, &text).unwrap();
    let out = s.cli(&[
        "import",
        "users",
        file.to_str().unwrap(),
        "--format",
        "passwd",
    ]);
    assert_eq!(out.code(), Some(1), "{}", out.describe());
    let err = out.err();
    assert!(
        err.contains("3 line(s) are wrong, nothing was imported"),
        "{err}"
    );
    assert!(
        err.contains("line 201: unknown password scheme {MD4}"),
        "{err}"
    );
    assert!(
        err.contains("line 202: malformed SHA512-CRYPT hash"),
        "{err}"
    );
    assert!(
        err.contains("line 203: user5@moved.test is already on line 6"),
        "{err}"
    );
    assert!(users(&s).is_empty(), "nothing imported half");
    let out = s.cli(&["--json", "import", "users", file.to_str().unwrap()]);
    assert_eq!(out.code(), Some(1));
    let first = out.out().lines().next().unwrap_or("").to_string();
    let v: Value = serde_json::from_str(&first).unwrap_or_else(|e| panic!("{e}: {first}"));
    assert_eq!(v["errors"][0]["line"], 201, "{v}");
    // Without the bad lines, all 200 go in one run.
    let good: String = text.lines().take(200).map(|l| format!("{l}\n")).collect();
    std::fs::write(&file, good).unwrap();
    let out = s.cli(&["--json", "import", "users", file.to_str().unwrap()]);
    out.assert_ok("good file");
    assert_eq!(counts(&json_of(&out)), [200, 0, 0, 0]);
    assert_eq!(users(&s).len(), 200);
}

/// `doveadm pw -s SCHEME -p PASSWORD`: Dovecot's own `{SCHEME}hash`.
fn doveadm_pw(scheme: &str, password: &str) -> String {
    let out = run_cmd(
        Command::new("doveadm").args(["pw", "-s", scheme, "-p", password]),
        None,
        Duration::from_secs(30),
    );
    out.assert_ok("doveadm pw");
    out.out().trim().to_string()
}

#[test]
fn users_of_a_dovecot_passwd_file_log_in_with_their_old_passwords() {
    if !have_tool("doveadm", "import_users dovecot hashes") {
        return;
    }
    let s = Server::start_extra(
        ServerOpts {
            limits: "auth_lockout_after = 500\nauth_account_lockout_after = 1000\n".into(),
            ..ServerOpts::default()
        },
        ExtraConfig::tls(),
    );
    s.add_domain("moved.test");
    let users = [
        ("sha512", "SHA512-CRYPT", token("pw-a")),
        ("blf", "BLF-CRYPT", token("pw-b")),
    ];
    let mut file = String::new();
    for (user, scheme, pw) in &users {
        file.push_str(&format!(
            "{user}:{}:5000:5000::/var/vmail/moved.test/{user}::userdb_quota_rule=*:storage=100M\n",
            doveadm_pw(scheme, pw)
        ));
    }
    let path = s.path("passwd");
    std::fs::write(&path, file).unwrap();
    let out = s.cli(&[
        "import",
        "users",
        path.to_str().unwrap(),
        "--domain",
        "moved.test",
    ]);
    out.assert_ok("import users");
    for (i, (user, scheme, pw)) in users.iter().enumerate() {
        let addr = format!("{user}@moved.test");
        assert_eq!(show(&s, &addr)["password_scheme"], *scheme);
        assert!(s.poplib_login(&addr, &format!("{pw}x")).starts_with("FAIL"));
        // The first login by one protocol, the next by the other.
        let (first, second) = if i == 0 {
            (s.poplib_login(&addr, pw), s.smtplib_login(&addr, pw))
        } else {
            (s.smtplib_login(&addr, pw), s.poplib_login(&addr, pw))
        };
        assert_eq!(first, "OK", "{addr}\n{}", s.log());
        assert_eq!(second, "OK", "{addr}\n{}", s.log());
        assert_eq!(show(&s, &addr)["password_scheme"], "ARGON2ID");
    }
    // The same file again: the re-hashed accounts are unchanged.
    let out = s.cli(&[
        "--json",
        "import",
        "users",
        path.to_str().unwrap(),
        "--domain",
        "moved.test",
    ]);
    out.assert_ok("again");
    assert_eq!(counts(&json_of(&out)), [0, 2, 0, 0], "{}", out.describe());
}
