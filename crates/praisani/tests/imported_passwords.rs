//! Password hashes from another server (issue 16, point 1) on the real
//! binary: hashes made by real tools (`openssl passwd` for the crypt
//! families, Python's hashlib for Dovecot's SSHA512 and PLAIN-MD5) are
//! taken by `user add --hash-stdin`, the users log in with their old
//! passwords over POP3 (poplib) and SMTP AUTH (smtplib), and the first
//! login re-hashes them to argon2id with SCRAM credentials — seen in
//! `user show --json`. Unknown and malformed hashes are refused with a
//! message naming the problem, and nothing is created.

mod common;

use common::*;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

const PY: Duration = Duration::from_secs(60);

/// A crypt string by `openssl passwd -{kind}` over `password` with a salt.
fn openssl_crypt(kind: &str, salt: &str, password: &str) -> String {
    let out = run_cmd(
        Command::new("openssl").args(["passwd", &format!("-{kind}"), "-salt", salt, password]),
        None,
        Duration::from_secs(20),
    );
    out.assert_ok("openssl passwd");
    out.out().trim().to_string()
}

/// Dovecot's `{SSHA512}` (digest of password + 8 random salt octets, then
/// the salt, base64) and `{PLAIN-MD5}` (hex) of `password`.
fn hashlib_hashes(password: &str) -> (String, String) {
    let out = python(
        r#"
import hashlib, base64, os, sys
pw = sys.argv[1].encode()
salt = os.urandom(8)
print('{SSHA512}' + base64.b64encode(hashlib.sha512(pw + salt).digest() + salt).decode())
print('{PLAIN-MD5}' + hashlib.md5(pw).hexdigest())
print('OK')
"#,
        &[password],
        PY,
    );
    assert_py_ok(&out, "hashlib");
    let text = out.out();
    let mut lines = text.lines().map(str::to_string);
    (lines.next().unwrap(), lines.next().unwrap())
}

fn show(s: &Server, user: &str) -> Value {
    let out = s.cli(&["--json", "user", "show", user]);
    out.assert_ok("user show");
    serde_json::from_str(&out.out()).expect("user show --json")
}

/// A server whose throttle lets the tests' deliberate failures through
/// quickly.
fn server(extra: ExtraConfig) -> Server {
    Server::start_extra(
        ServerOpts {
            limits: "auth_lockout_after = 500\nauth_account_lockout_after = 1000\n".into(),
            ..ServerOpts::default()
        },
        extra,
    )
}

fn add_hashed(s: &Server, user: &str, hash: &str) -> CmdOutput {
    s.cli_stdin(
        &["user", "add", user, "--hash-stdin"],
        Some(&format!("{hash}\n")),
    )
}

#[test]
fn imported_hashes_log_in_and_are_rehashed_at_the_first_login() {
    if !have_tool("openssl", "imported_hashes") {
        return;
    }
    let s = server(ExtraConfig::tls());
    s.add_domain("moved.test");
    let password = token("old-pw");
    let salt = &token("s").replace(['-', '_'], "")[..8];
    let (ssha512, plain_md5) = hashlib_hashes(&password);
    let users = [
        (
            "sha512",
            format!("{{SHA512-CRYPT}}{}", openssl_crypt("6", salt, &password)),
            "SHA512-CRYPT",
        ),
        (
            "sha256",
            openssl_crypt("5", salt, &password),
            "SHA256-CRYPT",
        ),
        (
            "md5",
            format!("{{MD5-CRYPT}}{}", openssl_crypt("1", salt, &password)),
            "MD5-CRYPT",
        ),
        ("ssha", ssha512, "SSHA512"),
        ("plainmd5", plain_md5, "PLAIN-MD5"),
    ];
    for (i, (name, hash, scheme)) in users.iter().enumerate() {
        let user = format!("{name}@moved.test");
        add_hashed(&s, &user, hash).assert_ok("user add --hash-stdin");
        let before = show(&s, &user);
        assert_eq!(before["password_scheme"], *scheme, "{user}: {before}");
        assert_eq!(before["password_upgrade_due"], true, "{user}");
        // A wrong password fails and changes nothing (tried on the first
        // and the last user only: every failure slows the next login).
        let wrong = format!("{password}x");
        let try_wrong = i == 0 || i == users.len() - 1;
        if try_wrong {
            assert!(s.poplib_login(&user, &wrong).starts_with("FAIL"), "{user}");
            assert_eq!(show(&s, &user)["password_scheme"], *scheme, "{user}");
        }
        // The first login, over POP3 for some and SMTP AUTH for others,
        // takes the old password and re-hashes it.
        let first = if i % 2 == 0 {
            s.poplib_login(&user, &password)
        } else {
            s.smtplib_login(&user, &password)
        };
        assert_eq!(first, "OK", "{user} first login\n{}", s.log());
        let after = show(&s, &user);
        assert_eq!(after["password_scheme"], "ARGON2ID", "{user}: {after}");
        assert_eq!(after["password_upgrade_due"], false, "{user}");
        // The same password goes on working through the new hash, over
        // the other protocol.
        let again = if i % 2 == 0 {
            s.smtplib_login(&user, &password)
        } else {
            s.poplib_login(&user, &password)
        };
        assert_eq!(again, "OK", "{user}");
        if try_wrong {
            assert!(s.smtplib_login(&user, &wrong).starts_with("FAIL"), "{user}");
        }
    }
    assert!(s.wait_log_count(
        "password re-hashed to argon2id",
        users.len(),
        Duration::from_secs(5)
    ));
}

#[test]
fn a_password_hashed_as_typed_matches_its_decomposed_spelling() {
    if !have_tool("openssl", "imported_hashes") {
        return;
    }
    let s = server(ExtraConfig::tls());
    s.add_domain("moved.test");
    // The old server hashed "café" as typed: e + combining acute accent.
    let typed = "cafe\u{301}-2024";
    add_hashed(
        &s,
        "cafe@moved.test",
        &openssl_crypt("6", "abcdEFGH", typed),
    )
    .assert_ok("user add --hash-stdin");
    assert_eq!(
        s.poplib_login("cafe@moved.test", typed),
        "OK",
        "{}",
        s.log()
    );
    assert_eq!(show(&s, "cafe@moved.test")["password_scheme"], "ARGON2ID");
    // Re-hashed in the prepared (NFC) form: both spellings log in now.
    assert_eq!(s.poplib_login("cafe@moved.test", "caf\u{e9}-2024"), "OK");
    assert_eq!(s.poplib_login("cafe@moved.test", typed), "OK");
}

#[test]
fn bad_hashes_are_refused_and_nothing_is_created() {
    if !have_tool("openssl", "imported_hashes") {
        return;
    }
    let s = server(ExtraConfig::default());
    s.add_domain("moved.test");
    let good = openssl_crypt("6", "abcdEFGH", "pw-1");
    let cases = [
        (
            "{NTLM}8846F7EAEE8FB117AD06BDD830B7586C",
            "unknown password scheme {NTLM}",
        ),
        ("hunter2", "not a password hash"),
        (&good[..good.len() - 3], "malformed SHA512-CRYPT hash"),
        (
            &format!("{{SHA256-CRYPT}}{good}"),
            "malformed SHA256-CRYPT hash",
        ),
        ("{SSHA}!!!", "malformed SSHA hash"),
    ];
    for (hash, message) in cases {
        let out = add_hashed(&s, "bad@moved.test", hash);
        assert!(!out.status.success(), "{hash} accepted");
        assert!(out.err().contains(message), "{hash}: {}", out.err());
        assert!(!out.err().contains("panicked"), "{}", out.err());
        assert!(!s.cli(&["user", "show", "bad@moved.test"]).status.success());
    }
    // `user passwd --hash-stdin` replaces a password with an old hash.
    s.add_user("pat@moved.test", "first-pw", &[]);
    let out = s.cli_stdin(
        &["user", "passwd", "pat@moved.test", "--hash-stdin"],
        Some(&format!("{good}\n")),
    );
    out.assert_ok("user passwd --hash-stdin");
    assert_eq!(
        show(&s, "pat@moved.test")["password_scheme"],
        "SHA512-CRYPT"
    );
    assert!(
        s.poplib_login("pat@moved.test", "first-pw")
            .starts_with("FAIL")
    );
    assert_eq!(s.poplib_login("pat@moved.test", "pw-1"), "OK");
    assert_eq!(show(&s, "pat@moved.test")["password_scheme"], "ARGON2ID");
}
