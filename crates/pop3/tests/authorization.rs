//! AUTHORIZATION state: greeting, USER/PASS, APOP, verdicts, failures, CAPA, QUIT.

mod common;

use std::sync::Arc;

use common::*;
use praisani_pop3::{AuthOutcome, Config, Credential, Event, Expire, Session, State, apop_matches};

#[test]
fn greeting_is_first_and_carries_timestamp() {
    let mut s = Session::new(Arc::new(config()), TS.to_owned());
    assert_eq!(s.timestamp(), TS);
    assert_eq!(s.state(), State::Authorization);
    assert_eq!(
        s.poll(),
        Some(Event::Send(
            format!("+OK pop.example.org POP3 server ready {TS}\r\n").into_bytes()
        ))
    );
    assert_eq!(s.poll(), None);
}

#[test]
fn user_pass_flow() {
    let mut s = session();
    assert_eq!(reply(&mut s, "USER alice\r\n"), "+OK\r\n");
    let events = run(&mut s, "PASS open sesame \r\n");
    assert_eq!(
        events,
        vec![Event::Authenticate {
            user: "alice".into(),
            credential: Credential::Password("open sesame ".into()),
        }]
    );
    // Waiting for the verdict: nothing more happens, state unchanged, no user yet.
    assert_eq!(s.poll(), None);
    assert_eq!(s.state(), State::Authorization);
    assert_eq!(s.user(), None);
    s.auth_result(AuthOutcome::Ok {
        messages: messages(),
    });
    assert_eq!(
        sent(&drain(&mut s)),
        "+OK Logged in, 3 messages (600 octets)\r\n"
    );
    assert_eq!(s.state(), State::Transaction);
    assert_eq!(s.user(), Some("alice"));
}

#[test]
fn login_reply_singular_and_empty() {
    let mut s = session();
    run(&mut s, "USER a\r\nPASS b\r\n");
    s.auth_result(AuthOutcome::Ok {
        messages: messages()[..1].to_vec(),
    });
    assert_eq!(
        sent(&drain(&mut s)),
        "+OK Logged in, 1 message (100 octets)\r\n"
    );

    let mut s = session();
    run(&mut s, "USER a\r\nPASS b\r\n");
    s.auth_result(AuthOutcome::Ok { messages: vec![] });
    assert_eq!(
        sent(&drain(&mut s)),
        "+OK Logged in, 0 messages (0 octets)\r\n"
    );
}

#[test]
fn user_always_ok_and_last_user_wins() {
    let mut s = session();
    assert_eq!(reply(&mut s, "USER nobody-here\r\n"), "+OK\r\n");
    assert_eq!(reply(&mut s, "user bob\r\n"), "+OK\r\n");
    let events = run(&mut s, "PASS x\r\n");
    assert!(
        matches!(&events[..], [Event::Authenticate { user, .. }] if user == "bob"),
        "{events:?}"
    );
}

#[test]
fn pass_requires_immediately_preceding_user() {
    let mut s = session();
    assert_eq!(reply(&mut s, "PASS secret\r\n"), "-ERR No USER given\r\n");
    // Any other command between USER and PASS forgets the user.
    assert_eq!(reply(&mut s, "USER alice\r\n"), "+OK\r\n");
    assert_eq!(
        reply(&mut s, "STAT\r\n"),
        "-ERR Command not valid in this state\r\n"
    );
    assert_eq!(reply(&mut s, "PASS secret\r\n"), "-ERR No USER given\r\n");
    // Missing password is a syntax error, not an attempt.
    assert_eq!(reply(&mut s, "USER alice\r\n"), "+OK\r\n");
    assert_eq!(reply(&mut s, "PASS\r\n"), "-ERR Invalid argument\r\n");
    assert_eq!(reply(&mut s, "USER\r\n"), "-ERR Invalid argument\r\n");
}

#[test]
fn plaintext_disallowed() {
    let mut s = session_with(Config {
        allow_plaintext: false,
        ..config()
    });
    let refused = "-ERR [AUTH] Plaintext authentication disallowed on non-secure connection\r\n";
    assert_eq!(reply(&mut s, "USER alice\r\n"), refused);
    assert_eq!(reply(&mut s, "PASS secret\r\n"), refused);
    let capa = reply(&mut s, "CAPA\r\n");
    assert!(!capa.contains("\r\nUSER\r\n"), "{capa}");
    // An APOP digest can be cracked offline, so it waits for TLS too.
    assert_eq!(
        reply(&mut s, "APOP alice c4c9334bac560ecc979e58001b3e22fb\r\n"),
        refused
    );
}

#[test]
fn apop_rfc1939_example() {
    let mut s = session();
    let events = run(&mut s, "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n");
    let [Event::Authenticate { user, credential }] = &events[..] else {
        panic!("{events:?}");
    };
    assert_eq!(user, "mrose");
    let Credential::Apop { digest } = credential else {
        panic!("{credential:?}");
    };
    assert_eq!(digest, "c4c9334bac560ecc979e58001b3e22fb");
    // The server checks the digest against the session's timestamp.
    assert!(apop_matches(s.timestamp(), "tanstaaf", digest));
    assert!(!apop_matches(s.timestamp(), "tanstaafl", digest));
    s.auth_result(AuthOutcome::Ok {
        messages: messages()[..1].to_vec(),
    });
    assert!(sent(&drain(&mut s)).starts_with("+OK"));
    assert_eq!(s.user(), Some("mrose"));
}

#[test]
fn apop_disabled_or_malformed() {
    let mut s = session_with(Config {
        apop: false,
        ..config()
    });
    assert_eq!(
        reply(&mut s, "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"),
        "-ERR [AUTH] APOP not available\r\n"
    );
    let mut s = session();
    assert_eq!(reply(&mut s, "APOP mrose\r\n"), "-ERR Invalid argument\r\n");
    assert_eq!(
        reply(&mut s, "APOP mrose nothex\r\n"),
        "-ERR Invalid argument\r\n"
    );
}

fn attempt(s: &mut Session, outcome: AuthOutcome) -> Vec<Event> {
    let events = run(s, "USER alice\r\nPASS wrong\r\n");
    assert!(
        matches!(events.last(), Some(Event::Authenticate { .. })),
        "{events:?}"
    );
    s.auth_result(outcome);
    drain(s)
}

#[test]
fn verdicts_carry_response_codes() {
    let cases = [
        (AuthOutcome::Failed, "-ERR [AUTH] Authentication failed\r\n"),
        (
            AuthOutcome::InUse,
            "-ERR [IN-USE] Mailbox is locked by another session\r\n",
        ),
        (
            AuthOutcome::LoginDelay,
            "-ERR [LOGIN-DELAY] Logging in too often\r\n",
        ),
        (
            AuthOutcome::TempFail,
            "-ERR [SYS/TEMP] Temporary server failure, try again later\r\n",
        ),
    ];
    for (outcome, expected) in cases {
        let mut s = session();
        let events = attempt(&mut s, outcome);
        assert_eq!(sent(&events), expected);
        assert!(!events.contains(&Event::Close));
        assert_eq!(s.state(), State::Authorization);
        assert_eq!(s.user(), None);
        // Back to needing USER.
        assert_eq!(reply(&mut s, "PASS again\r\n"), "-ERR No USER given\r\n");
    }
}

#[test]
fn too_many_failures_close() {
    let mut s = session();
    for _ in 0..2 {
        let events = attempt(&mut s, AuthOutcome::Failed);
        assert_eq!(sent(&events), "-ERR [AUTH] Authentication failed\r\n");
        assert!(!events.contains(&Event::Close));
    }
    // Commands pipelined after the last attempt are never answered.
    let events = run(&mut s, "USER alice\r\nPASS wrong\r\nNOOP\r\nCAPA\r\n");
    assert_eq!(events.len(), 2, "{events:?}");
    s.auth_result(AuthOutcome::Failed);
    let events = drain(&mut s);
    assert_eq!(
        events,
        vec![
            Event::Send(b"-ERR [AUTH] Authentication failed\r\n".to_vec()),
            Event::Close
        ]
    );
    assert_eq!(s.state(), State::Closed);
    assert!(run(&mut s, "USER alice\r\n").is_empty());
    // A closed session holds no input, whatever is still fed to it.
    assert_eq!(s.buffered(), 0);
    assert!(!s.wants_input());
}

#[test]
fn other_verdicts_do_not_count_as_failures() {
    let mut s = session_with(Config {
        max_auth_failures: 1,
        ..config()
    });
    for outcome in [
        AuthOutcome::InUse,
        AuthOutcome::LoginDelay,
        AuthOutcome::TempFail,
    ] {
        let events = attempt(&mut s, outcome);
        assert!(!events.contains(&Event::Close), "{events:?}");
    }
    let events = attempt(&mut s, AuthOutcome::Failed);
    assert_eq!(events.last(), Some(&Event::Close));
}

#[test]
fn transaction_commands_not_valid_before_login() {
    let mut s = session();
    for cmd in [
        "STAT", "LIST", "LIST 1", "RETR 1", "DELE 1", "NOOP", "RSET", "TOP 1 0", "UIDL", "UIDL 1",
        "RETR x", "TOP 1",
    ] {
        assert_eq!(
            reply(&mut s, &format!("{cmd}\r\n")),
            "-ERR Command not valid in this state\r\n",
            "{cmd}"
        );
    }
    assert_eq!(reply(&mut s, "XYZZY\r\n"), "-ERR Unknown command\r\n");
    assert_eq!(reply(&mut s, "LAST\r\n"), "-ERR Unknown command\r\n");
    assert_eq!(reply(&mut s, "\r\n"), "-ERR Unknown command\r\n");
    assert_eq!(s.state(), State::Authorization);
}

#[test]
fn quit_in_authorization_closes_without_update() {
    let mut s = session();
    let events = run(&mut s, "QUIT\r\nNOOP\r\n");
    assert_eq!(
        events,
        vec![
            Event::Send(b"+OK pop.example.org POP3 server signing off\r\n".to_vec()),
            Event::Close
        ]
    );
    assert_eq!(s.state(), State::Closed);
    assert_eq!(s.poll(), None);
}

#[test]
fn capa_before_and_after_login() {
    let mut s = session_with(Config {
        expire: Expire::Days(30),
        expire_per_user: true,
        login_delay: Some(900),
        // UTF8 and LANG are checked in intl.rs.
        utf8: false,
        languages: Vec::new(),
        ..config()
    });
    let before = reply(&mut s, "CAPA\r\n");
    assert_eq!(
        capa_lines(&before),
        [
            "TOP",
            "UIDL",
            "USER",
            "RESP-CODES",
            "AUTH-RESP-CODE",
            "PIPELINING",
            "EXPIRE 30 USER",
            "LOGIN-DELAY 900",
            "IMPLEMENTATION praisani"
        ]
    );
    run(&mut s, "USER alice\r\nPASS secret\r\n");
    s.set_expire(Expire::Never);
    s.auth_result(AuthOutcome::Ok {
        messages: messages(),
    });
    drain(&mut s);
    let after = reply(&mut s, "capa\r\n");
    assert_eq!(
        capa_lines(&after),
        [
            "TOP",
            "UIDL",
            "RESP-CODES",
            "AUTH-RESP-CODE",
            "PIPELINING",
            "EXPIRE NEVER",
            "LOGIN-DELAY 900",
            "IMPLEMENTATION praisani"
        ]
    );
}

#[test]
fn capa_after_login_without_set_expire_uses_server_policy() {
    let mut s = session_with(Config {
        expire: Expire::Days(0),
        ..config()
    });
    assert!(reply(&mut s, "CAPA\r\n").contains("\r\nEXPIRE 0\r\n"));
    login_with(&mut s, messages());
    let after = reply(&mut s, "CAPA\r\n");
    assert!(after.contains("\r\nEXPIRE 0\r\n"), "{after}");
    assert!(!after.contains("LOGIN-DELAY"), "{after}");
}

#[test]
fn result_calls_without_pending_request_are_ignored() {
    let mut s = session();
    s.auth_result(AuthOutcome::Ok {
        messages: messages(),
    });
    s.update_result(true);
    assert_eq!(s.poll(), None);
    assert_eq!(s.state(), State::Authorization);
    // A second verdict for one attempt is ignored too.
    run(&mut s, "USER a\r\nPASS b\r\n");
    s.auth_result(AuthOutcome::Failed);
    s.auth_result(AuthOutcome::Ok {
        messages: messages(),
    });
    assert_eq!(
        sent(&drain(&mut s)),
        "-ERR [AUTH] Authentication failed\r\n"
    );
    assert_eq!(s.state(), State::Authorization);
}

#[test]
fn credential_debug_hides_password() {
    let dbg = format!(
        "{:?}",
        Event::Authenticate {
            user: "a".into(),
            credential: Credential::Password("hunter2".into())
        }
    );
    assert!(!dbg.contains("hunter2"), "{dbg}");
}
