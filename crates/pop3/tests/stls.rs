//! STLS (RFC 2595 section 4), the TLS-dependent login policy and CAPA in every combination.

mod common;

use common::*;
use praisani_pop3::{AuthOutcome, Config, Event, State};

const PLAINTEXT_REFUSED: &str =
    "-ERR [AUTH] Plaintext authentication disallowed on non-secure connection\r\n";

#[test]
fn stls_upgrades_and_stays_in_authorization() {
    let mut s = session_tls(tls_config(), false);
    assert!(!s.tls_active());
    let events = run(&mut s, "STLS\r\n");
    assert_eq!(
        events,
        vec![
            Event::Send(b"+OK Begin TLS negotiation\r\n".to_vec()),
            Event::StartTls
        ]
    );
    // Waiting for the handshake: nothing to do, nothing to read.
    assert_eq!(s.poll(), None);
    assert!(!s.wants_input());
    assert!(!s.tls_active());
    s.tls_established();
    assert!(s.tls_active());
    assert!(s.wants_input());
    assert_eq!(s.state(), State::Authorization);
    // No second greeting.
    assert_eq!(s.poll(), None);
    // USER/PASS is now allowed although allow_plaintext is off.
    assert_eq!(reply(&mut s, "USER alice\r\n"), "+OK\r\n");
    let events = run(&mut s, "PASS secret\r\n");
    assert!(
        matches!(&events[..], [Event::Authenticate { user, .. }] if user == "alice"),
        "{events:?}"
    );
    s.auth_result(AuthOutcome::Ok {
        messages: messages(),
    });
    assert!(sent(&drain(&mut s)).starts_with("+OK Logged in"));
    assert!(s.tls_active());
}

#[test]
fn input_after_stls_is_discarded() {
    let mut s = session_tls(
        Config {
            allow_plaintext: true,
            ..tls_config()
        },
        false,
    );
    // A man in the middle appends commands to the client's STLS (CVE-2011-0411 class).
    let events = run(&mut s, "STLS\r\nUSER mallory\r\nPASS x\r\n");
    assert_eq!(
        events,
        vec![
            Event::Send(b"+OK Begin TLS negotiation\r\n".to_vec()),
            Event::StartTls
        ]
    );
    assert_eq!(s.buffered(), 0);
    // Plaintext arriving before the handshake completes is dropped too.
    s.feed(b"USER mallory\r\nQUIT\r\n");
    assert_eq!(s.buffered(), 0);
    assert_eq!(s.poll(), None);
    s.tls_established();
    assert_eq!(s.poll(), None);
    assert_eq!(s.state(), State::Authorization);
    // Neither USER survived: PASS has no user to go with.
    assert_eq!(reply(&mut s, "PASS x\r\n"), "-ERR No USER given\r\n");
    // And commands after the handshake are read normally.
    assert!(reply(&mut s, "CAPA\r\n").starts_with("+OK Capability list follows\r\n"));
}

#[test]
fn stls_not_offered() {
    let mut s = session_tls(
        Config {
            stls: false,
            ..tls_config()
        },
        false,
    );
    assert_eq!(reply(&mut s, "STLS\r\n"), "-ERR STLS not available\r\n");
    assert!(!s.tls_active());
    assert!(s.wants_input());
    // The session carries on normally.
    assert!(reply(&mut s, "CAPA\r\n").starts_with("+OK Capability"));
    // The default config offers no STLS either.
    let mut s = session_tls(Config::default(), false);
    assert_eq!(reply(&mut s, "stls\r\n"), "-ERR STLS not available\r\n");
}

#[test]
fn stls_after_user_apop_or_auth_is_refused() {
    let refused = "-ERR Command not permitted after USER, APOP or AUTH\r\n";
    let config = Config {
        allow_plaintext: true,
        apop: true,
        ..tls_config()
    };
    let mut s = session_tls(config.clone(), false);
    assert_eq!(reply(&mut s, "USER alice\r\n"), "+OK\r\n");
    assert_eq!(reply(&mut s, "STLS\r\n"), refused);

    // After a failed APOP as well.
    let mut s = session_tls(config.clone(), false);
    run(&mut s, "APOP alice c4c9334bac560ecc979e58001b3e22fb\r\n");
    s.auth_result(AuthOutcome::Failed);
    drain(&mut s);
    assert_eq!(reply(&mut s, "STLS\r\n"), refused);

    // After a cancelled AUTH.
    let mut s = session_tls(config.clone(), false);
    run(&mut s, "AUTH SCRAM-SHA-256\r\n");
    s.auth_challenge("");
    drain(&mut s);
    assert_eq!(
        sent(&run(&mut s, "*\r\n")),
        "-ERR Authentication cancelled\r\n"
    );
    assert_eq!(reply(&mut s, "STLS\r\n"), refused);

    // A USER refused for lack of TLS does not count: STLS is the way out of it.
    let mut s = session_tls(tls_config(), false);
    assert_eq!(reply(&mut s, "USER alice\r\n"), PLAINTEXT_REFUSED);
    starttls(&mut s);
}

#[test]
fn stls_twice_or_under_tls() {
    let mut s = session_tls(tls_config(), false);
    starttls(&mut s);
    assert_eq!(reply(&mut s, "STLS\r\n"), "-ERR Already using TLS\r\n");
    assert!(s.wants_input());

    let mut s = session_tls(tls_config(), true);
    assert!(s.tls_active());
    assert_eq!(reply(&mut s, "STLS\r\n"), "-ERR Already using TLS\r\n");
}

#[test]
fn stls_in_transaction_or_with_argument() {
    let mut s = logged_in();
    assert_eq!(
        reply(&mut s, "STLS\r\n"),
        "-ERR Command not valid in this state\r\n"
    );
    let mut s = session_tls(tls_config(), false);
    assert_eq!(reply(&mut s, "STLS now\r\n"), "-ERR Invalid argument\r\n");
    assert!(!s.tls_active());
}

#[test]
fn tls_established_without_stls_is_ignored() {
    let mut s = session_tls(tls_config(), false);
    s.tls_established();
    assert!(!s.tls_active());
    assert_eq!(reply(&mut s, "USER alice\r\n"), PLAINTEXT_REFUSED);
}

#[test]
fn user_refused_without_tls_allowed_after() {
    let mut s = session_tls(tls_config(), false);
    assert_eq!(reply(&mut s, "USER alice\r\n"), PLAINTEXT_REFUSED);
    assert_eq!(reply(&mut s, "PASS secret\r\n"), PLAINTEXT_REFUSED);
    starttls(&mut s);
    assert_eq!(reply(&mut s, "USER alice\r\n"), "+OK\r\n");
    let events = run(&mut s, "PASS secret\r\n");
    assert!(matches!(&events[..], [Event::Authenticate { .. }]));

    // Implicit TLS allows it from the start.
    let mut s = session_tls(tls_config(), true);
    assert_eq!(reply(&mut s, "USER alice\r\n"), "+OK\r\n");
}

/// The CAPA lines that depend on TLS and policy, in order.
fn policy_caps(s: &mut praisani_pop3::Session) -> Vec<String> {
    capa_lines(&reply(s, "CAPA\r\n"))
        .into_iter()
        .filter(|c| *c == "USER" || *c == "STLS" || c.starts_with("SASL"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn capa_in_every_combination() {
    let mechanism_lists: [(Vec<String>, Vec<String>); 3] = [
        (vec![], vec![]),
        (vec!["plain".into(), "SCRAM-SHA-256".into()], vec![]),
        (
            vec!["PLAIN".into(), "SCRAM-SHA-256".into()],
            vec!["SCRAM-SHA-256".into()],
        ),
    ];
    let mut checked = 0;
    for tls in [false, true] {
        for allow_plaintext in [false, true] {
            for stls in [false, true] {
                for (mech_tls, mech_plain) in &mechanism_lists {
                    let config = Config {
                        allow_plaintext,
                        stls,
                        sasl_mechanisms_tls: mech_tls.clone(),
                        sasl_mechanisms_plain: mech_plain.clone(),
                        ..config()
                    };
                    let expected = |tls: bool| {
                        let mut caps = Vec::new();
                        if tls || allow_plaintext {
                            caps.push("USER".to_owned());
                        }
                        let mechs = if tls { mech_tls } else { mech_plain };
                        if !mechs.is_empty() {
                            let upper: Vec<String> =
                                mechs.iter().map(|m| m.to_ascii_uppercase()).collect();
                            caps.push(format!("SASL {}", upper.join(" ")));
                        }
                        if stls && !tls {
                            caps.push("STLS".to_owned());
                        }
                        caps
                    };
                    let label = format!(
                        "tls={tls} plain={allow_plaintext} stls={stls} {mech_tls:?}/{mech_plain:?}"
                    );
                    let mut s = session_tls(config.clone(), tls);
                    assert_eq!(policy_caps(&mut s), expected(tls), "{label}");
                    if stls && !tls {
                        // After STLS the list is that of a TLS session.
                        starttls(&mut s);
                        assert_eq!(policy_caps(&mut s), expected(true), "{label} after STLS");
                    }
                    // After login: no USER, STLS or SASL whatever the policy.
                    // (APOP needs TLS when plaintext logins are not allowed.)
                    let mut s = session_tls(config, tls || !allow_plaintext);
                    run(&mut s, "APOP alice c4c9334bac560ecc979e58001b3e22fb\r\n");
                    s.auth_result(AuthOutcome::Ok {
                        messages: messages(),
                    });
                    drain(&mut s);
                    assert_eq!(s.state(), State::Transaction, "{label}");
                    assert_eq!(
                        policy_caps(&mut s),
                        Vec::<String>::new(),
                        "{label} after login"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 24);
}

#[test]
fn capa_full_list_with_stls_and_sasl() {
    let mut s = session_tls(tls_config(), false);
    assert_eq!(
        capa_lines(&reply(&mut s, "CAPA\r\n")),
        [
            "TOP",
            "UIDL",
            "SASL SCRAM-SHA-256",
            "STLS",
            "UTF8 USER",
            "LANG",
            "RESP-CODES",
            "AUTH-RESP-CODE",
            "PIPELINING",
            "EXPIRE NEVER",
            "IMPLEMENTATION praisani"
        ]
    );
    starttls(&mut s);
    assert_eq!(
        capa_lines(&reply(&mut s, "CAPA\r\n")),
        [
            "TOP",
            "UIDL",
            "USER",
            "SASL PLAIN SCRAM-SHA-256",
            "UTF8 USER",
            "LANG",
            "RESP-CODES",
            "AUTH-RESP-CODE",
            "PIPELINING",
            "EXPIRE NEVER",
            "IMPLEMENTATION praisani"
        ]
    );
}
