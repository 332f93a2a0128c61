//! AUTH (RFC 5034): the SASL exchange as the session frames it; the mechanisms are the
//! server's business, so the test plays the server.

mod common;

use common::*;
use praisani_pop3::{AuthOutcome, Config, Event, MAX_SASL_LINE, Session, State};

const PLAIN_IR: &str = "AGFsaWNlAHNlY3JldA=="; // "\0alice\0secret"

fn auth(mechanism: &str, initial_response: Option<&str>) -> Event {
    Event::Auth {
        mechanism: mechanism.into(),
        initial_response: initial_response.map(Into::into),
    }
}

/// A TLS session in which PLAIN and SCRAM-SHA-256 are offered.
fn tls_session() -> Session {
    session_tls(tls_config(), true)
}

fn succeed(s: &mut Session) -> String {
    s.set_user("alice@example.org".into());
    s.auth_result(AuthOutcome::Ok {
        messages: messages(),
    });
    sent(&drain(s))
}

#[test]
fn auth_with_initial_response() {
    let mut s = tls_session();
    let events = run(&mut s, &format!("AUTH plain {PLAIN_IR}\r\n"));
    assert_eq!(events, vec![auth("PLAIN", Some(PLAIN_IR))]);
    // The server is working: no command is read meanwhile.
    assert_eq!(s.poll(), None);
    assert_eq!(s.state(), State::Authorization);
    assert_eq!(
        succeed(&mut s),
        "+OK Logged in, 3 messages (600 octets)\r\n"
    );
    assert_eq!(s.state(), State::Transaction);
    assert_eq!(s.user(), Some("alice@example.org"));
    assert_eq!(reply(&mut s, "STAT\r\n"), "+OK 3 600\r\n");
    assert_eq!(
        reply(&mut s, "LIST\r\n"),
        "+OK 3 messages (600 octets)\r\n1 100\r\n2 200\r\n3 300\r\n.\r\n"
    );
}

#[test]
fn auth_with_challenge_rounds() {
    let mut s = session_tls(tls_config(), false);
    let events = run(&mut s, "AUTH scram-sha-256\r\n");
    assert_eq!(events, vec![auth("SCRAM-SHA-256", None)]);
    // No initial response: the server asks for one with an empty challenge.
    s.auth_challenge("");
    assert_eq!(sent(&drain(&mut s)), "+ \r\n");
    assert!(s.wants_input());
    // The next line is a response, even if it looks like a command.
    assert_eq!(
        run(&mut s, "biwsbj1hbGljZSxyPXh5eg==\r\n"),
        vec![Event::AuthResponse("biwsbj1hbGljZSxyPXh5eg==".into())]
    );
    s.auth_challenge("cj14eXp6eSxzPWFiYyxpPTQwOTY=");
    assert_eq!(sent(&drain(&mut s)), "+ cj14eXp6eSxzPWFiYyxpPTQwOTY=\r\n");
    assert_eq!(
        run(&mut s, "STAT\r\n"),
        vec![Event::AuthResponse("STAT".into())]
    );
    s.auth_challenge("dj1zaWc=");
    assert_eq!(sent(&drain(&mut s)), "+ dj1zaWc=\r\n");
    // An empty line is an empty response.
    assert_eq!(
        run(&mut s, "\r\n"),
        vec![Event::AuthResponse(String::new())]
    );
    assert!(succeed(&mut s).starts_with("+OK Logged in"));
    assert_eq!(s.state(), State::Transaction);
}

#[test]
fn empty_initial_response_is_passed_as_equals() {
    let mut s = tls_session();
    assert_eq!(
        run(&mut s, "AUTH PLAIN =\r\n"),
        vec![auth("PLAIN", Some("="))]
    );
}

#[test]
fn star_cancels() {
    let mut s = session_tls(
        Config {
            max_auth_failures: 1,
            ..tls_config()
        },
        true,
    );
    for _ in 0..3 {
        run(&mut s, "AUTH PLAIN\r\n");
        s.auth_challenge("");
        drain(&mut s);
        let events = run(&mut s, "*\r\n");
        assert_eq!(
            events,
            vec![
                Event::Send(b"-ERR Authentication cancelled\r\n".to_vec()),
                Event::AuthCancelled
            ]
        );
        // Not a failure: with max_auth_failures 1 a failure would have closed.
        assert_eq!(s.state(), State::Authorization);
        // The exchange is over: a late verdict or challenge is ignored.
        s.auth_result(AuthOutcome::Ok {
            messages: messages(),
        });
        s.auth_challenge("x");
        assert_eq!(s.poll(), None);
        assert_eq!(s.state(), State::Authorization);
    }
    // Back to needing USER or AUTH: commands are commands again.
    assert_eq!(reply(&mut s, "PASS x\r\n"), "-ERR No USER given\r\n");
    let events = run(&mut s, &format!("AUTH PLAIN {PLAIN_IR}\r\n"));
    assert_eq!(events, vec![auth("PLAIN", Some(PLAIN_IR))]);
}

#[test]
fn failures_count_toward_the_limit_and_close() {
    let mut s = session_tls(
        Config {
            max_auth_failures: 3,
            ..tls_config()
        },
        true,
    );
    // First failure: after the initial response.
    run(&mut s, "AUTH PLAIN bm9wZQ==\r\n");
    s.auth_result(AuthOutcome::Failed);
    let events = drain(&mut s);
    assert_eq!(sent(&events), "-ERR [AUTH] Authentication failed\r\n");
    assert!(!events.contains(&Event::Close));
    assert_eq!(s.user(), None);
    // Second: after a challenge round; USER/PASS and AUTH share the count.
    run(&mut s, "AUTH SCRAM-SHA-256 biws\r\n");
    s.auth_challenge("cj0x");
    drain(&mut s);
    run(&mut s, "cD0y\r\n");
    s.auth_result(AuthOutcome::Failed);
    assert_eq!(
        sent(&drain(&mut s)),
        "-ERR [AUTH] Authentication failed\r\n"
    );
    // Other verdicts do not count.
    run(&mut s, "AUTH PLAIN bm9wZQ==\r\n");
    s.auth_result(AuthOutcome::InUse);
    assert_eq!(
        sent(&drain(&mut s)),
        "-ERR [IN-USE] Mailbox is locked by another session\r\n"
    );
    run(&mut s, "AUTH PLAIN bm9wZQ==\r\n");
    s.auth_result(AuthOutcome::TempFail);
    assert_eq!(
        sent(&drain(&mut s)),
        "-ERR [SYS/TEMP] Temporary server failure, try again later\r\n"
    );
    run(&mut s, "AUTH PLAIN bm9wZQ==\r\n");
    s.auth_result(AuthOutcome::LoginDelay);
    assert_eq!(
        sent(&drain(&mut s)),
        "-ERR [LOGIN-DELAY] Logging in too often\r\n"
    );
    // Third failure, by USER/PASS: the session answers and closes, dropping what follows.
    run(&mut s, "USER alice\r\nPASS wrong\r\nAUTH PLAIN\r\nNOOP\r\n");
    s.auth_result(AuthOutcome::Failed);
    assert_eq!(
        drain(&mut s),
        vec![
            Event::Send(b"-ERR [AUTH] Authentication failed\r\n".to_vec()),
            Event::Close
        ]
    );
    assert_eq!(s.state(), State::Closed);
}

#[test]
fn last_failure_by_auth_closes() {
    let mut s = session_tls(
        Config {
            max_auth_failures: 1,
            ..tls_config()
        },
        true,
    );
    run(&mut s, "AUTH PLAIN\r\n");
    s.auth_challenge("");
    drain(&mut s);
    run(&mut s, "bm9wZQ==\r\nCAPA\r\n");
    s.auth_result(AuthOutcome::Failed);
    assert_eq!(
        drain(&mut s),
        vec![
            Event::Send(b"-ERR [AUTH] Authentication failed\r\n".to_vec()),
            Event::Close
        ]
    );
}

#[test]
fn mechanism_not_offered() {
    // PLAIN is offered only under TLS.
    let mut s = session_tls(tls_config(), false);
    assert_eq!(
        reply(&mut s, &format!("AUTH PLAIN {PLAIN_IR}\r\n")),
        "-ERR [AUTH] Mechanism not available on non-secure connection\r\n"
    );
    assert_eq!(
        reply(&mut s, "AUTH CRAM-MD5\r\n"),
        "-ERR [AUTH] Unsupported authentication mechanism\r\n"
    );
    // A refused AUTH starts nothing: STLS is still possible, and then PLAIN is offered.
    starttls(&mut s);
    assert_eq!(run(&mut s, "AUTH PLAIN\r\n"), vec![auth("PLAIN", None)]);

    // Nothing configured: every mechanism is unsupported.
    let mut s = session_tls(config(), true);
    assert_eq!(
        reply(&mut s, "AUTH PLAIN\r\n"),
        "-ERR [AUTH] Unsupported authentication mechanism\r\n"
    );
}

#[test]
fn malformed_auth_commands() {
    let mut s = tls_session();
    // RFC 5034 defines no AUTH without a mechanism; CAPA lists them.
    assert_eq!(reply(&mut s, "AUTH\r\n"), "-ERR Invalid argument\r\n");
    assert_eq!(
        reply(&mut s, "AUTH PLAIN a b\r\n"),
        "-ERR Invalid argument\r\n"
    );
    assert_eq!(
        reply(&mut s, "AUTH PLAIN not*base64\r\n"),
        "-ERR Invalid argument\r\n"
    );
    assert_eq!(reply(&mut s, "AUTH P!AIN\r\n"), "-ERR Invalid argument\r\n");
    assert_eq!(s.state(), State::Authorization);
}

#[test]
fn auth_in_transaction_is_refused() {
    let mut s = logged_in();
    for cmd in ["AUTH PLAIN", "AUTH PLAIN =", "AUTH"] {
        assert_eq!(
            reply(&mut s, &format!("{cmd}\r\n")),
            "-ERR Command not valid in this state\r\n",
            "{cmd}"
        );
    }
    // Also after a SASL login.
    let mut s = tls_session();
    run(&mut s, &format!("AUTH PLAIN {PLAIN_IR}\r\n"));
    succeed(&mut s);
    assert_eq!(
        reply(&mut s, &format!("AUTH PLAIN {PLAIN_IR}\r\n")),
        "-ERR Command not valid in this state\r\n"
    );
}

#[test]
fn long_auth_lines() {
    let mut s = tls_session();
    // The longest AUTH command line: MAX_SASL_LINE octets with CRLF.
    let prefix = "AUTH PLAIN ";
    let ir = "A".repeat(MAX_SASL_LINE - prefix.len() - 2);
    let events = run(&mut s, &format!("{prefix}{ir}\r\n"));
    assert_eq!(events, vec![auth("PLAIN", Some(&ir))]);
    // A response line just as long.
    s.auth_challenge("");
    drain(&mut s);
    let response = "B".repeat(MAX_SASL_LINE - 2);
    assert_eq!(
        run(&mut s, &format!("{response}\r\n")),
        vec![Event::AuthResponse(response)]
    );
    // One octet more aborts the exchange, without buffering the line.
    s.auth_challenge("");
    drain(&mut s);
    for _ in 0..100 {
        s.feed(&[b'C'; 1000]);
        assert!(s.buffered() <= s.buffer_limit());
        assert!(s.buffered() < MAX_SASL_LINE);
    }
    let events = run(&mut s, "\r\n");
    assert_eq!(
        events,
        vec![
            Event::Send(b"-ERR Line too long\r\n".to_vec()),
            Event::AuthCancelled
        ]
    );
    assert_eq!(s.state(), State::Authorization);
    // An AUTH command one octet too long.
    let ir = "A".repeat(MAX_SASL_LINE - prefix.len() - 1);
    assert_eq!(
        reply(&mut s, &format!("{prefix}{ir}\r\n")),
        "-ERR Line too long\r\n"
    );
    // Other commands keep the ordinary limit even with SASL on.
    let user = format!("USER {}\r\n", "u".repeat(600));
    assert_eq!(reply(&mut s, &user), "-ERR Line too long\r\n");
    let mut s = logged_in_with_sasl();
    assert_eq!(
        reply(&mut s, &format!("{prefix}{}\r\nSTAT\r\n", "A".repeat(1000))),
        "-ERR Line too long\r\n+OK 3 600\r\n"
    );
}

fn logged_in_with_sasl() -> Session {
    let mut s = tls_session();
    run(&mut s, &format!("AUTH PLAIN {PLAIN_IR}\r\n"));
    succeed(&mut s);
    s
}

#[test]
fn long_auth_line_with_small_pipelining_budget() {
    // A long line alone is not a flood, even when it exceeds max_pipelined.
    let mut s = session_tls(
        Config {
            max_pipelined: 1024,
            ..tls_config()
        },
        true,
    );
    let ir = "A".repeat(8000);
    assert_eq!(
        run(&mut s, &format!("AUTH PLAIN {ir}\r\n")),
        vec![auth("PLAIN", Some(&ir))]
    );
    assert!(s.buffer_limit() >= MAX_SASL_LINE * 2);
}

#[test]
fn pipelined_commands_after_auth_run_in_order() {
    let mut s = tls_session();
    let events = run(
        &mut s,
        &format!("CAPA\r\nAUTH PLAIN {PLAIN_IR}\r\nSTAT\r\nDELE 1\r\nLIST\r\nQUIT\r\n"),
    );
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1], auth("PLAIN", Some(PLAIN_IR)));
    assert_eq!(s.poll(), None);
    assert!(s.buffered() > 0);
    s.set_user("alice".into());
    s.auth_result(AuthOutcome::Ok {
        messages: messages(),
    });
    assert_eq!(
        drain(&mut s),
        vec![
            Event::Send(b"+OK Logged in, 3 messages (600 octets)\r\n".to_vec()),
            Event::Send(b"+OK 3 600\r\n".to_vec()),
            Event::Send(b"+OK message 1 deleted\r\n".to_vec()),
            Event::Send(b"+OK 2 messages (500 octets)\r\n2 200\r\n3 300\r\n.\r\n".to_vec()),
            Event::Update { delete: vec![11] },
        ]
    );

    // With a challenge round: the response and later commands in one write.
    let mut s = tls_session();
    run(&mut s, "AUTH SCRAM-SHA-256\r\n");
    s.auth_challenge("");
    drain(&mut s);
    let events = run(&mut s, "biws\r\nSTAT\r\nNOOP\r\n");
    assert_eq!(events, vec![Event::AuthResponse("biws".into())]);
    // The server finishes: the pipelined commands run after the verdict, in order.
    s.set_user("alice".into());
    s.auth_result(AuthOutcome::Ok {
        messages: messages(),
    });
    assert_eq!(
        sent(&drain(&mut s)),
        "+OK Logged in, 3 messages (600 octets)\r\n+OK 3 600\r\n+OK\r\n"
    );

    // Had the server sent another challenge, the next line would be its response,
    // whatever it looks like: the client must wait for each challenge.
    let mut s = tls_session();
    run(&mut s, "AUTH SCRAM-SHA-256\r\n");
    s.auth_challenge("");
    drain(&mut s);
    run(&mut s, "biws\r\nSTAT\r\nNOOP\r\n");
    s.auth_challenge("cj0x");
    assert_eq!(
        drain(&mut s),
        vec![
            Event::Send(b"+ cj0x\r\n".to_vec()),
            Event::AuthResponse("STAT".into())
        ]
    );
    s.auth_result(AuthOutcome::Failed);
    assert_eq!(
        sent(&drain(&mut s)),
        "-ERR [AUTH] Authentication failed\r\n-ERR Command not valid in this state\r\n"
    );
}

#[test]
fn challenge_and_verdict_only_when_the_server_has_the_turn() {
    // During USER/PASS checking a challenge is meaningless.
    let mut s = tls_session();
    run(&mut s, "USER alice\r\nPASS secret\r\n");
    s.auth_challenge("x");
    s.set_user("mallory".into());
    assert_eq!(s.poll(), None);
    s.auth_result(AuthOutcome::Ok {
        messages: messages(),
    });
    assert!(sent(&drain(&mut s)).starts_with("+OK Logged in"));
    assert_eq!(s.user(), Some("alice"));

    // Idle session: ignored.
    let mut s = tls_session();
    s.auth_challenge("x");
    assert_eq!(s.poll(), None);

    // While the client has the turn, a verdict is ignored.
    let mut s = tls_session();
    run(&mut s, "AUTH PLAIN\r\n");
    s.auth_challenge("");
    drain(&mut s);
    s.auth_result(AuthOutcome::Ok {
        messages: messages(),
    });
    assert_eq!(s.poll(), None);
    assert_eq!(s.state(), State::Authorization);
    assert_eq!(
        run(&mut s, "AGE=\r\n"),
        vec![Event::AuthResponse("AGE=".into())]
    );
}

#[test]
fn wants_input_while_the_server_works() {
    let mut s = tls_session();
    run(&mut s, "AUTH PLAIN =\r\n");
    assert!(s.wants_input());
    s.feed(b"STAT\r\n");
    assert!(!s.wants_input());
}

#[test]
fn debug_output_hides_sasl_responses() {
    let dbg = format!(
        "{:?} {:?}",
        auth("PLAIN", Some(PLAIN_IR)),
        Event::AuthResponse("c2VjcmV0".into())
    );
    assert!(!dbg.contains(PLAIN_IR), "{dbg}");
    assert!(!dbg.contains("c2VjcmV0"), "{dbg}");
    assert!(dbg.contains("PLAIN"), "{dbg}");
}
