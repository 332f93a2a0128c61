//! Sub-addresses (`anna+shop@`) and catch-all domains on the real binary,
//! driven by smtplib and read back with poplib; the CLI that sets them.

mod common;

use common::*;
use serde_json::Value;
use std::time::Duration;

const PY: Duration = Duration::from_secs(60);

/// One smtplib transaction from another server: RCPT's code for each of
/// `rcpts`, then the end of data's when one was accepted.
fn send(s: &Server, rcpts: &[&str]) -> (Vec<u16>, Option<u16>) {
    let mut args = vec![s.smtp_port.to_string()];
    args.extend(rcpts.iter().map(|r| r.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = python(
        r#"
import smtplib, sys, json
c = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), local_hostname='client.test', timeout=30)
c.ehlo()
c.mail('sender@elsewhere.test')
codes = [c.rcpt(r)[0] for r in sys.argv[2:]]
data = None
if 250 in codes:
    data = c.data(b'From: <sender@elsewhere.test>\r\nSubject: tagged\r\n\r\nHello.\r\n')[0]
c.quit()
print(json.dumps([codes, data]))
"#,
        &args,
        PY,
    );
    assert!(out.status.success(), "smtplib: {}", out.describe());
    let v: Value = serde_json::from_str(out.out().trim()).unwrap();
    let codes = v[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap() as u16)
        .collect();
    (codes, v[1].as_u64().map(|c| c as u16))
}

fn count(s: &Server, user: &str) -> usize {
    s.fetch_all(user, "pass-1234").len()
}

fn server(tables: &str) -> Server {
    let s = Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tables: tables.into(),
            ..ExtraConfig::default()
        },
    );
    for d in ["plain.test", "catch.test", "off.test"] {
        s.add_domain(d);
    }
    for u in ["anna@plain.test", "boss@catch.test", "olga@off.test"] {
        s.add_user(u, "pass-1234", &[]);
    }
    s
}

#[test]
fn sub_addresses_reach_the_base_mailbox_and_unknown_users_are_still_refused() {
    if !have_tool("python3", module_path!()) {
        return;
    }
    let s = server("[addressing.domains.\"off.test\"]\nsubaddress_delimiters = \"\"\n");
    let (codes, data) = send(&s, &["anna+shop@plain.test", "ANNA+News@plain.test"]);
    assert_eq!((codes, data), (vec![250, 250], Some(250)), "{}", s.log());
    // One copy: both tags lead to one mailbox.
    assert_eq!(count(&s, "anna@plain.test"), 1);
    let msg = String::from_utf8(s.fetch_all("anna@plain.test", "pass-1234").remove(0)).unwrap();
    assert!(msg.contains("Subject: tagged"), "{msg}");

    // A tag does not make an unknown user known, and is no way around 550.
    let (codes, _) = send(
        &s,
        &[
            "nobody+x@plain.test",
            "nobody@plain.test",
            "+anna@plain.test",
        ],
    );
    assert_eq!(codes, [550, 550, 550]);
    // Off for one domain.
    let (codes, _) = send(&s, &["olga+x@off.test", "olga@off.test"]);
    assert_eq!(codes, [550, 250]);
    // Never a way to relay.
    let (codes, _) = send(&s, &["anna+x@elsewhere.test"]);
    assert_eq!(codes, [550]);
}

#[test]
fn a_catch_all_takes_unknown_addresses_of_its_domain_only() {
    if !have_tool("python3", module_path!()) {
        return;
    }
    let s = server("");
    let (codes, _) = send(&s, &["whoever@catch.test"]);
    assert_eq!(codes, [550], "no catch-all yet");

    s.cli(&["domain", "catchall", "catch.test", "boss@catch.test"])
        .assert_ok("domain catchall");
    let shown = s.cli(&["--json", "domain", "catchall", "catch.test"]);
    shown.assert_ok("show the catch-all");
    let v: Value = serde_json::from_str(shown.out().trim()).unwrap();
    assert_eq!(v["catchall"][0], "boss@catch.test", "{v}");

    let (codes, data) = send(&s, &["whoever@catch.test", "sales+x@catch.test"]);
    assert_eq!((codes, data), (vec![250, 250], Some(250)), "{}", s.log());
    assert_eq!(count(&s, "boss@catch.test"), 1);
    // Other domains keep refusing unknown users.
    let (codes, _) = send(&s, &["whoever@plain.test"]);
    assert_eq!(codes, [550]);

    // No mailbox may take the catch-all's name.
    let out = s.cli_stdin(
        &["user", "add", "*@plain.test", "--password-stdin"],
        Some("pass-1234\n"),
    );
    assert_ne!(out.code(), Some(0), "{}", out.describe());
    assert!(
        out.err().contains("reserved for the domain's catch-all"),
        "{}",
        out.describe()
    );
    // A domain we do not host has no catch-all to set.
    let out = s.cli(&["domain", "catchall", "nothosted.test", "boss@catch.test"]);
    assert_ne!(out.code(), Some(0));
    assert!(
        out.err().contains("not a hosted domain"),
        "{}",
        out.describe()
    );

    s.cli(&["domain", "catchall", "catch.test", "--off"])
        .assert_ok("catchall --off");
    let (codes, _) = send(&s, &["whoever@catch.test"]);
    assert_eq!(codes, [550], "refused again once off");
}
