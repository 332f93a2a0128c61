//! STARTTLS (RFC 3207), AUTH framing (RFC 4954) and submission rules (RFC 6409).

use std::sync::Arc;

use super::tests::{
    HOST, data_session, drain, ehlo_session, mail_ok, random_verdict, rcpt_ok, reply, run, session,
    session_with,
};
use super::{AUTH_LINE_MAX, Session};
use crate::config::Config;
use crate::data::CHUNK_SIZE;
use crate::event::{Event, Verdict};
use crate::reply::Reply;
use crate::test_rng::XorShift;

const BASE_EHLO: &str = "250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n\
    250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n";

/// A submission listener: STARTTLS, PLAIN/LOGIN only under TLS, SCRAM also without,
/// authentication required.
fn submission() -> Config {
    let mut c = Config::new(HOST);
    c.starttls = true;
    c.auth_mechanisms_tls = vec!["PLAIN".into(), "LOGIN".into(), "SCRAM-SHA-256".into()];
    c.auth_mechanisms_plain = vec!["SCRAM-SHA-256".into()];
    c.require_auth = true;
    c
}

/// A listener offering PLAIN and LOGIN without TLS and no STARTTLS, not requiring
/// AUTH (exercises AUTH without having to go through STARTTLS each time).
fn plain_auth() -> Config {
    let mut c = Config::new(HOST);
    c.auth_mechanisms_plain = vec!["PLAIN".into(), "LOGIN".into()];
    c.auth_mechanisms_tls = vec!["PLAIN".into(), "LOGIN".into()];
    c
}

/// An implicit-TLS session whose greeting has been drained.
fn tls_session(config: Config) -> Session {
    let mut s = Session::with_tls(Arc::new(config), true);
    assert_eq!(
        drain(&mut s),
        ["220 mx.example.org ESMTP praisani\r\n"],
        "implicit TLS greets like plaintext"
    );
    assert!(s.tls_active());
    s
}

fn ehlo(s: &mut Session) -> String {
    reply(s, "EHLO client.example\r\n")
}

/// AUTH PLAIN with an initial response, accepted as `who`.
fn auth_ok(s: &mut Session, who: &str) {
    assert_eq!(
        run(s, "AUTH PLAIN AHVzZXIAcGFzcw==\r\n"),
        ["?auth PLAIN AHVzZXIAcGFzcw=="]
    );
    s.auth_succeeded(who);
    assert_eq!(drain(s), ["235 2.7.0 Authentication successful\r\n"]);
    assert_eq!(s.authenticated(), Some(who));
}

/// STARTTLS accepted and the handshake reported done.
fn starttls_ok(s: &mut Session) {
    assert_eq!(
        run(s, "STARTTLS\r\n"),
        ["220 2.0.0 Ready to start TLS\r\n", "starttls"]
    );
    s.tls_established();
    assert!(s.tls_active());
    assert!(!s.is_waiting());
}

// ---- EHLO advertising ------------------------------------------------------------

#[test]
fn ehlo_advertising_in_every_combination() {
    let lists: [&[&str]; 3] = [
        &[],
        &["SCRAM-SHA-256"],
        &["PLAIN", "LOGIN", "SCRAM-SHA-256"],
    ];
    for starttls in [false, true] {
        for tls in [false, true] {
            for plain in lists {
                for tls_list in lists {
                    for require_auth in [false, true] {
                        let mut c = Config::new(HOST);
                        c.starttls = starttls;
                        c.auth_mechanisms_plain = plain.iter().map(|m| m.to_string()).collect();
                        c.auth_mechanisms_tls = tls_list.iter().map(|m| m.to_string()).collect();
                        c.require_auth = require_auth;
                        let mut s = if tls { tls_session(c) } else { session_with(c) };
                        let mut extra = Vec::new();
                        if starttls && !tls {
                            extra.push("STARTTLS".to_owned());
                        }
                        let offered = if tls { tls_list } else { plain };
                        if !offered.is_empty() {
                            extra.push(format!("AUTH {}", offered.join(" ")));
                        }
                        let want = expected_ehlo(&extra);
                        assert_eq!(
                            ehlo(&mut s),
                            want,
                            "starttls={starttls} tls={tls} plain={plain:?} \
                             tls_list={tls_list:?} require_auth={require_auth}"
                        );
                    }
                }
            }
        }
    }
}

/// The EHLO reply with the default keywords followed by `extra`.
fn expected_ehlo(extra: &[String]) -> String {
    let mut keywords = vec!["SMTPUTF8".to_owned()];
    keywords.extend_from_slice(extra);
    let mut out = BASE_EHLO.to_owned();
    for (i, k) in keywords.iter().enumerate() {
        let sep = if i + 1 == keywords.len() { ' ' } else { '-' };
        out.push_str(&format!("250{sep}{k}\r\n"));
    }
    out
}

#[test]
fn ehlo_keyword_order_literal() {
    let mut s = session_with(submission());
    assert_eq!(
        ehlo(&mut s),
        "250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n\
         250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250-STARTTLS\r\n250 AUTH SCRAM-SHA-256\r\n"
    );
    starttls_ok(&mut s);
    assert_eq!(
        ehlo(&mut s),
        "250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n\
         250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250 AUTH PLAIN LOGIN SCRAM-SHA-256\r\n"
    );
}

#[test]
fn mechanism_names_are_normalised() {
    let mut c = Config::new(HOST);
    c.smtputf8 = false;
    c.auth_mechanisms_plain = vec![
        "plain".into(),
        "PLAIN".into(),
        "bad name".into(),
        "X\r\n250 FAKE".into(),
        String::new(),
        "cram-md5".into(),
    ];
    let mut s = session_with(c);
    assert!(ehlo(&mut s).ends_with("250-ENHANCEDSTATUSCODES\r\n250 AUTH PLAIN CRAM-MD5\r\n"));
    assert_eq!(run(&mut s, "auth cram-md5\r\n"), ["?auth CRAM-MD5"]);
}

#[test]
fn helo_offers_neither_starttls_nor_auth() {
    let mut s = session_with(submission());
    assert_eq!(reply(&mut s, "HELO client\r\n"), "250 mx.example.org\r\n");
    assert_eq!(
        reply(&mut s, "STARTTLS\r\n"),
        "503 5.5.1 Error: send EHLO first\r\n"
    );
    assert_eq!(
        reply(&mut s, "AUTH SCRAM-SHA-256\r\n"),
        "503 5.5.1 Error: send EHLO first\r\n"
    );
    assert_eq!(
        reply(&mut s, "MAIL FROM:<a@b.example>\r\n"),
        "530 5.7.0 Authentication required\r\n"
    );
}

// ---- STARTTLS --------------------------------------------------------------------

#[test]
fn starttls_before_ehlo() {
    let mut s = session_with(submission());
    assert_eq!(
        reply(&mut s, "STARTTLS\r\n"),
        "503 5.5.1 Error: send EHLO first\r\n"
    );
    assert!(!s.is_waiting());
}

#[test]
fn starttls_with_argument() {
    let mut s = ehlo_session(submission());
    assert_eq!(
        reply(&mut s, "STARTTLS now\r\n"),
        "501 5.5.4 Syntax: STARTTLS\r\n"
    );
    assert!(!s.is_waiting());
    starttls_ok(&mut s);
}

#[test]
fn starttls_not_offered() {
    let mut s = ehlo_session(Config::new(HOST));
    assert_eq!(
        reply(&mut s, "STARTTLS\r\n"),
        "502 5.5.1 Error: command not implemented\r\n"
    );
    let mut s = ehlo_session(plain_auth());
    assert_eq!(
        reply(&mut s, "STARTTLS\r\n"),
        "502 5.5.1 Error: command not implemented\r\n"
    );
    assert_eq!(reply(&mut s, "NOOP\r\n"), "250 2.0.0 Ok\r\n");
}

#[test]
fn starttls_twice() {
    let mut s = ehlo_session(submission());
    starttls_ok(&mut s);
    assert_eq!(
        reply(&mut s, "STARTTLS\r\n"),
        "503 5.5.1 TLS already active\r\n"
    );
    ehlo(&mut s);
    assert_eq!(
        reply(&mut s, "STARTTLS\r\n"),
        "503 5.5.1 TLS already active\r\n"
    );
    // Implicit TLS, with or without STARTTLS configured.
    for starttls in [false, true] {
        let mut c = submission();
        c.starttls = starttls;
        let mut s = tls_session(c);
        ehlo(&mut s);
        assert_eq!(
            reply(&mut s, "STARTTLS\r\n"),
            "503 5.5.1 TLS already active\r\n"
        );
    }
}

#[test]
fn starttls_in_transaction() {
    let mut c = submission();
    c.require_auth = false;
    let mut s = ehlo_session(c);
    mail_ok(&mut s, "<a@b.example>");
    assert_eq!(
        reply(&mut s, "STARTTLS\r\n"),
        "503 5.5.1 Error: MAIL transaction in progress\r\n"
    );
    assert_eq!(reply(&mut s, "RSET\r\n"), "250 2.0.0 Ok\r\n");
    starttls_ok(&mut s);
}

#[test]
fn starttls_discards_pipelined_plaintext() {
    let mut c = submission();
    c.require_auth = false;
    let mut s = ehlo_session(c);
    assert_eq!(
        run(
            &mut s,
            "STARTTLS\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n"
        ),
        ["220 2.0.0 Ready to start TLS\r\n", "starttls"]
    );
    assert_eq!(s.buffered_input(), 0, "injected commands are dropped");
    assert!(s.is_waiting());
    // Anything fed before the handshake completes is dropped too.
    s.feed(b"MAIL FROM:<evil@b.example>\r\n");
    assert_eq!(s.buffered_input(), 0);
    assert_eq!(s.poll(), None);
    s.tls_established();
    assert!(s.tls_active());
    // No new greeting; the injected MAIL never ran, and EHLO is needed again.
    assert_eq!(drain(&mut s), Vec::<String>::new());
    assert_eq!(
        reply(&mut s, "MAIL FROM:<a@b.example>\r\n"),
        "503 5.5.1 Error: send HELO/EHLO first\r\n"
    );
    ehlo(&mut s);
    mail_ok(&mut s, "<a@b.example>");
}

#[test]
fn starttls_discards_a_partial_line_too() {
    let mut s = ehlo_session(submission());
    let long = format!("STARTTLS\r\nAUTH PLAIN {}", "A".repeat(5000));
    assert_eq!(
        run(&mut s, &long),
        ["220 2.0.0 Ready to start TLS\r\n", "starttls"]
    );
    s.feed(b"AAAA\r\n");
    s.tls_established();
    assert_eq!(s.buffered_input(), 0);
    assert_eq!(reply(&mut s, "NOOP\r\n"), "250 2.0.0 Ok\r\n");
}

#[test]
fn tls_established_resets_the_session() {
    let mut c = submission();
    c.auth_mechanisms_plain = vec!["PLAIN".into()];
    let mut s = ehlo_session(c);
    auth_ok(&mut s, "alice");
    starttls_ok(&mut s);
    assert_eq!(s.authenticated(), None, "authentication is forgotten");
    assert_eq!(
        reply(&mut s, "MAIL FROM:<a@b.example>\r\n"),
        "503 5.5.1 Error: send HELO/EHLO first\r\n"
    );
    assert_eq!(
        reply(&mut s, "AUTH PLAIN AHVzZXIAcGFzcw==\r\n"),
        "503 5.5.1 Error: send EHLO first\r\n"
    );
    assert!(!ehlo(&mut s).contains("STARTTLS"));
    assert_eq!(
        reply(&mut s, "MAIL FROM:<a@b.example>\r\n"),
        "530 5.7.0 Authentication required\r\n"
    );
    auth_ok(&mut s, "alice");
    mail_ok(&mut s, "<a@b.example>");
}

#[test]
fn tls_established_without_starttls_is_ignored() {
    let mut s = ehlo_session(submission());
    s.tls_established();
    assert!(!s.tls_active());
    // EHLO state kept: STARTTLS still works.
    starttls_ok(&mut s);
}

// ---- AUTH ------------------------------------------------------------------------

#[test]
fn auth_with_initial_response_then_mail() {
    let mut s = ehlo_session(submission());
    starttls_ok(&mut s);
    ehlo(&mut s);
    assert_eq!(
        reply(&mut s, "MAIL FROM:<a@b.example>\r\n"),
        "530 5.7.0 Authentication required\r\n"
    );
    assert_eq!(
        reply(&mut s, "RCPT TO:<c@d.example>\r\n"),
        "503 5.5.1 Error: need MAIL command\r\n"
    );
    assert_eq!(
        run(&mut s, "auth plain AHVzZXIAcGFzcw==\r\n"),
        ["?auth PLAIN AHVzZXIAcGFzcw=="]
    );
    assert!(s.is_waiting());
    assert_eq!(s.poll(), None);
    s.auth_succeeded("user@example.org");
    assert_eq!(drain(&mut s), ["235 2.7.0 Authentication successful\r\n"]);
    assert_eq!(s.authenticated(), Some("user@example.org"));
    mail_ok(&mut s, "<user@example.org>");
    rcpt_ok(&mut s, "<c@d.example>");
}

#[test]
fn auth_empty_initial_response_is_passed_as_sent() {
    let mut s = ehlo_session(plain_auth());
    assert_eq!(run(&mut s, "AUTH PLAIN =\r\n"), ["?auth PLAIN ="]);
}

#[test]
fn auth_challenge_response_rounds() {
    let mut s = ehlo_session(plain_auth());
    assert_eq!(run(&mut s, "AUTH LOGIN\r\n"), ["?auth LOGIN"]);
    s.auth_challenge("VXNlcm5hbWU6");
    assert_eq!(drain(&mut s), ["334 VXNlcm5hbWU6\r\n"]);
    assert!(!s.is_waiting(), "waiting for the client now");
    assert_eq!(run(&mut s, "dXNlcg==\r\n"), ["?auth-response dXNlcg=="]);
    s.auth_challenge("UGFzc3dvcmQ6");
    assert_eq!(drain(&mut s), ["334 UGFzc3dvcmQ6\r\n"]);
    // A response that looks like a command is still a response.
    assert_eq!(run(&mut s, "QUIT\r\n"), ["?auth-response QUIT"]);
    assert!(!s.is_closed());
    s.auth_succeeded("user");
    assert_eq!(drain(&mut s), ["235 2.7.0 Authentication successful\r\n"]);
    assert_eq!(reply(&mut s, "NOOP\r\n"), "250 2.0.0 Ok\r\n");
}

#[test]
fn empty_challenge_and_injection_in_challenge() {
    let mut s = ehlo_session(plain_auth());
    run(&mut s, "AUTH PLAIN\r\n");
    s.auth_challenge("");
    assert_eq!(drain(&mut s), ["334 \r\n"]);
    run(&mut s, "AHVzZXIAcGFzcw==\r\n");
    s.auth_challenge("abc\r\n235 fake");
    assert_eq!(drain(&mut s), ["334 abc  235 fake\r\n"]);
}

#[test]
fn auth_cancelled_by_client() {
    let mut s = ehlo_session(submission());
    assert_eq!(
        run(&mut s, "AUTH SCRAM-SHA-256\r\n"),
        ["?auth SCRAM-SHA-256"]
    );
    s.auth_challenge("");
    drain(&mut s);
    assert_eq!(
        run(&mut s, "*\r\n"),
        ["auth-cancelled", "501 5.0.0 Authentication cancelled\r\n"]
    );
    assert_eq!(s.authenticated(), None);
    // A verdict after the cancel is ignored.
    s.auth_succeeded("late");
    assert_eq!(drain(&mut s), Vec::<String>::new());
    assert_eq!(s.authenticated(), None);
    assert_eq!(
        reply(&mut s, "MAIL FROM:<a@b.example>\r\n"),
        "530 5.7.0 Authentication required\r\n"
    );
    // Another attempt is allowed.
    assert_eq!(
        run(&mut s, "AUTH SCRAM-SHA-256 biws\r\n"),
        ["?auth SCRAM-SHA-256 biws"]
    );
}

#[test]
fn auth_failure_then_mail_is_refused() {
    let mut s = tls_session(submission());
    ehlo(&mut s);
    s.feed(b"AUTH PLAIN AHVzZXIAd3Jvbmc=\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
    assert_eq!(drain(&mut s), ["?auth PLAIN AHVzZXIAd3Jvbmc="]);
    s.auth_failed(Reply::new(
        535,
        "5.7.8",
        "Authentication credentials invalid",
    ));
    assert_eq!(
        drain(&mut s),
        [
            "535 5.7.8 Authentication credentials invalid\r\n",
            "530 5.7.0 Authentication required\r\n",
            "503 5.5.1 Error: need MAIL command\r\n",
            "503 5.5.1 Error: need MAIL command\r\n"
        ]
    );
    assert_eq!(s.authenticated(), None);
}

#[test]
fn auth_failed_with_other_replies() {
    let mut s = ehlo_session(plain_auth());
    run(&mut s, "AUTH PLAIN !!!\r\n");
    s.auth_failed(Reply::new(501, "5.5.2", "Cannot decode response"));
    assert_eq!(drain(&mut s), ["501 5.5.2 Cannot decode response\r\n"]);
    run(&mut s, "AUTH PLAIN x\r\n");
    s.auth_failed(Reply::new(454, "4.7.0", "Temporary authentication failure"));
    assert_eq!(
        drain(&mut s),
        ["454 4.7.0 Temporary authentication failure\r\n"]
    );
    // A positive code cannot pass for a failure.
    run(&mut s, "AUTH PLAIN x\r\n");
    s.auth_failed(Reply::new(235, "2.7.0", "ok?"));
    assert_eq!(
        drain(&mut s),
        ["454 4.7.0 Temporary authentication failure\r\n"]
    );
    assert_eq!(s.authenticated(), None);
}

#[test]
fn auth_failures_count_toward_the_error_limit() {
    let mut c = plain_auth();
    c.max_bad_commands = 2;
    let mut s = ehlo_session(c);
    for _ in 0..2 {
        run(&mut s, "AUTH PLAIN x\r\n");
        s.auth_failed(Reply::new(
            535,
            "5.7.8",
            "Authentication credentials invalid",
        ));
        assert_eq!(
            drain(&mut s),
            ["535 5.7.8 Authentication credentials invalid\r\n"]
        );
    }
    run(&mut s, "AUTH PLAIN x\r\n");
    s.auth_failed(Reply::new(
        535,
        "5.7.8",
        "Authentication credentials invalid",
    ));
    assert_eq!(
        drain(&mut s),
        ["421 4.7.0 mx.example.org Too many errors\r\n", "close"]
    );
    assert!(s.is_closed());
}

#[test]
fn auth_twice() {
    let mut s = ehlo_session(plain_auth());
    auth_ok(&mut s, "bob");
    assert_eq!(
        reply(&mut s, "AUTH PLAIN AHVzZXIAcGFzcw==\r\n"),
        "503 5.5.1 Already authenticated\r\n"
    );
    // EHLO and RSET do not forget the authentication.
    ehlo(&mut s);
    assert_eq!(reply(&mut s, "RSET\r\n"), "250 2.0.0 Ok\r\n");
    assert_eq!(s.authenticated(), Some("bob"));
    assert_eq!(
        reply(&mut s, "AUTH LOGIN\r\n"),
        "503 5.5.1 Already authenticated\r\n"
    );
}

#[test]
fn auth_during_transaction() {
    let mut s = ehlo_session(plain_auth());
    mail_ok(&mut s, "<a@b.example>");
    assert_eq!(
        reply(&mut s, "AUTH PLAIN AHVzZXIAcGFzcw==\r\n"),
        "503 5.5.1 Error: AUTH not permitted during a mail transaction\r\n"
    );
    assert!(!s.is_waiting());
}

#[test]
fn auth_before_ehlo() {
    let mut s = session_with(plain_auth());
    assert_eq!(
        reply(&mut s, "AUTH PLAIN AHVzZXIAcGFzcw==\r\n"),
        "503 5.5.1 Error: send EHLO first\r\n"
    );
}

#[test]
fn auth_mechanism_not_offered() {
    let mut s = ehlo_session(plain_auth());
    assert_eq!(
        reply(&mut s, "AUTH CRAM-MD5\r\n"),
        "504 5.5.4 Unrecognized authentication type\r\n"
    );
    // Under TLS only the TLS list counts.
    let mut s = tls_session(submission());
    ehlo(&mut s);
    assert_eq!(
        reply(&mut s, "AUTH GSSAPI\r\n"),
        "504 5.5.4 Unrecognized authentication type\r\n"
    );
    let mut c = submission();
    c.auth_mechanisms_tls = vec!["PLAIN".into()];
    let mut s = tls_session(c);
    ehlo(&mut s);
    assert_eq!(
        reply(&mut s, "AUTH SCRAM-SHA-256\r\n"),
        "504 5.5.4 Unrecognized authentication type\r\n"
    );
}

#[test]
fn auth_needs_encryption() {
    const ENC: &str = "538 5.7.11 Encryption required for requested authentication mechanism\r\n";
    // Only TLS mechanisms, plaintext session: every AUTH gets 538.
    let mut c = submission();
    c.auth_mechanisms_plain.clear();
    let mut s = ehlo_session(c);
    assert_eq!(reply(&mut s, "AUTH PLAIN AHVzZXIAcGFzcw==\r\n"), ENC);
    assert_eq!(reply(&mut s, "AUTH FOO\r\n"), ENC);
    // A TLS-only mechanism next to a plaintext one.
    let mut s = ehlo_session(submission());
    assert_eq!(reply(&mut s, "AUTH LOGIN\r\n"), ENC);
    assert_eq!(
        reply(&mut s, "AUTH FOO\r\n"),
        "504 5.5.4 Unrecognized authentication type\r\n"
    );
    assert_eq!(
        run(&mut s, "AUTH SCRAM-SHA-256\r\n"),
        ["?auth SCRAM-SHA-256"]
    );
}

#[test]
fn auth_not_supported_on_listener() {
    let mut s = ehlo_session(Config::new(HOST));
    assert_eq!(
        reply(&mut s, "AUTH PLAIN AHVzZXIAcGFzcw==\r\n"),
        "502 5.5.1 AUTH not supported\r\n"
    );
    let mut s = session();
    assert_eq!(
        reply(&mut s, "AUTH PLAIN\r\n"),
        "502 5.5.1 AUTH not supported\r\n"
    );
}

#[test]
fn auth_syntax() {
    let mut s = ehlo_session(plain_auth());
    for bad in ["AUTH\r\n", "AUTH PLAIN a b\r\n", "AUTH PL/AIN\r\n"] {
        assert_eq!(
            reply(&mut s, bad),
            "501 5.5.4 Syntax: AUTH mechanism [initial-response]\r\n"
        );
    }
}

#[test]
fn auth_verdicts_without_request_are_ignored() {
    let mut s = ehlo_session(plain_auth());
    s.auth_challenge("x");
    s.auth_succeeded("mallory");
    s.auth_failed(Reply::new(535, "5.7.8", "no"));
    assert_eq!(drain(&mut s), Vec::<String>::new());
    assert_eq!(s.authenticated(), None);
    // Verdicts of the wrong kind leave a pending AUTH alone, and vice versa.
    run(&mut s, "AUTH PLAIN x\r\n");
    s.mail_verdict(Verdict::Accept);
    s.message_accepted("q");
    assert_eq!(drain(&mut s), Vec::<String>::new());
    assert!(s.is_waiting());
    s.auth_succeeded("u");
    drain(&mut s);
    run(&mut s, "MAIL FROM:<a@b.example>\r\n");
    s.auth_challenge("x");
    s.auth_failed(Reply::new(535, "5.7.8", "no"));
    assert_eq!(drain(&mut s), Vec::<String>::new());
    s.mail_verdict(Verdict::Accept);
    assert_eq!(drain(&mut s), ["250 2.1.0 Ok\r\n"]);
}

#[test]
fn long_auth_lines() {
    let mut s = ehlo_session(plain_auth());
    let ir = "A".repeat(4000);
    assert_eq!(
        run(&mut s, &format!("AUTH PLAIN {ir}\r\n")),
        [format!("?auth PLAIN {ir}")]
    );
    s.auth_failed(Reply::new(535, "5.7.8", "no"));
    drain(&mut s);
    // Exactly the limit, line end included.
    let prefix = "AUTH PLAIN ";
    let exact = format!(
        "{prefix}{}\r\n",
        "B".repeat(AUTH_LINE_MAX - prefix.len() - 2)
    );
    assert_eq!(exact.len(), AUTH_LINE_MAX);
    assert_eq!(run(&mut s, &exact).len(), 1);
    assert!(s.is_waiting());
    s.auth_failed(Reply::new(535, "5.7.8", "no"));
    drain(&mut s);
    // One more is refused, and the buffer stays bounded however it arrives.
    let over = format!(
        "{prefix}{}\r\n",
        "B".repeat(AUTH_LINE_MAX - prefix.len() - 1)
    );
    assert_eq!(
        reply(&mut s, &over),
        "500 5.5.6 Authentication Exchange line is too long\r\n"
    );
    s.feed(b"auth plain ");
    for _ in 0..100 {
        s.feed(&[b'C'; 1000]);
        assert_eq!(s.poll(), None);
        assert!(
            s.buffered_input() <= AUTH_LINE_MAX + 1,
            "{}",
            s.buffered_input()
        );
    }
    assert_eq!(
        run(&mut s, "\r\nNOOP\r\n"),
        [
            "500 5.5.6 Authentication Exchange line is too long\r\n",
            "250 2.0.0 Ok\r\n"
        ]
    );
    // Other commands keep the normal limit.
    assert_eq!(
        reply(&mut s, &format!("NOOP {}\r\n", "x".repeat(4000))),
        "500 5.5.6 Error: line too long\r\n"
    );
    // Without AUTH on the listener, AUTH lines keep the normal limit too.
    let mut s = ehlo_session(Config::new(HOST));
    assert_eq!(
        reply(&mut s, &format!("AUTH PLAIN {ir}\r\n")),
        "500 5.5.6 Error: line too long\r\n"
    );
    s.feed(format!("AUTH PLAIN {ir}").as_bytes());
    assert!(s.buffered_input() <= 513);
}

#[test]
fn long_exchange_lines() {
    let mut s = ehlo_session(plain_auth());
    run(&mut s, "AUTH LOGIN\r\n");
    s.auth_challenge("");
    drain(&mut s);
    let r = "D".repeat(4000);
    assert_eq!(
        run(&mut s, &format!("{r}\r\n")),
        [format!("?auth-response {r}")]
    );
    s.auth_challenge("");
    drain(&mut s);
    let over = format!("{}\r\n", "E".repeat(AUTH_LINE_MAX - 1));
    assert_eq!(
        run(&mut s, &over),
        [
            "auth-cancelled",
            "500 5.5.6 Authentication Exchange line is too long\r\n"
        ]
    );
    // The exchange is over: the next line is a command again.
    assert_eq!(reply(&mut s, "NOOP\r\n"), "250 2.0.0 Ok\r\n");
    assert!(!s.is_waiting());
}

// ---- envelope and submission policy ------------------------------------------------

#[test]
fn envelope_carries_identity_and_tls() {
    for (tls, who, with) in [
        (false, None, "ESMTP"),
        (true, None, "ESMTPS"),
        (false, Some("ann"), "ESMTPA"),
        (true, Some("ann"), "ESMTPSA"),
    ] {
        let mut s = if tls {
            tls_session(plain_auth())
        } else {
            session_with(plain_auth())
        };
        ehlo(&mut s);
        if let Some(who) = who {
            auth_ok(&mut s, who);
        }
        mail_ok(&mut s, "<a@b.example>");
        rcpt_ok(&mut s, "<c@d.example>");
        s.feed(b"DATA\r\n");
        match s.poll() {
            Some(Event::MessageStart(env)) => {
                assert_eq!(env.tls, tls);
                assert_eq!(env.authenticated.as_deref(), who);
                assert_eq!(env.with_protocol(), with);
            }
            other => panic!("{other:?}"),
        }
    }
    let mut s = tls_session(Config::new(HOST));
    reply(&mut s, "HELO c\r\n");
    mail_ok(&mut s, "<a@b.example>");
    rcpt_ok(&mut s, "<c@d.example>");
    s.feed(b"DATA\r\n");
    match s.poll() {
        Some(Event::MessageStart(env)) => {
            assert!(env.tls);
            assert_eq!(env.with_protocol(), "SMTP");
        }
        other => panic!("{other:?}"),
    }
    // Plaintext, default config: as before.
    let mut s = data_session(Config::new(HOST));
    assert_eq!(run(&mut s, ".\r\n"), ["end"]);
}

#[test]
fn require_tls_for_mail() {
    let mut c = Config::new(HOST);
    c.starttls = true;
    c.require_tls_for_mail = true;
    let mut s = ehlo_session(c.clone());
    assert_eq!(
        reply(&mut s, "MAIL FROM:<a@b.example>\r\n"),
        "530 5.7.0 Must issue a STARTTLS command first\r\n"
    );
    starttls_ok(&mut s);
    ehlo(&mut s);
    mail_ok(&mut s, "<a@b.example>");
    let mut s = tls_session(c);
    ehlo(&mut s);
    mail_ok(&mut s, "<a@b.example>");
}

#[test]
fn mail_auth_parameter_is_accepted() {
    let mut s = ehlo_session(plain_auth());
    assert_eq!(
        run(&mut s, "MAIL FROM:<a@b.example> AUTH=<>\r\n"),
        ["?sender a@b.example"]
    );
    s.mail_verdict(Verdict::Reject(Reply::new(550, "5.7.1", "no")));
    drain(&mut s);
    assert_eq!(
        run(
            &mut s,
            "MAIL FROM:<a@b.example> AUTH=e+3Dmc2@example.com SIZE=10\r\n"
        ),
        ["?sender a@b.example"]
    );
    s.mail_verdict(Verdict::Reject(Reply::new(550, "5.7.1", "no")));
    drain(&mut s);
    assert_eq!(
        reply(&mut s, "MAIL FROM:<a@b.example> AUTH=a+zz\r\n"),
        "501 5.5.4 Bad AUTH parameter\r\n"
    );
}

// ---- pipelining --------------------------------------------------------------------

/// RFC 4954 section 4: with PIPELINING, AUTH must end a group unless it carries the
/// initial response of a one-round-trip mechanism such as PLAIN; and RFC 2920 3.1
/// wants EHLO last in a group. We do not refuse clients that pipeline more: the
/// engine processes the lines in order, holding the rest while the server decides.
#[test]
fn pipelined_ehlo_auth_mail() {
    let mut s = session_with(submission());
    s.feed(
        b"EHLO c\r\nAUTH SCRAM-SHA-256 biws\r\nMAIL FROM:<a@b.example>\r\n\
          RCPT TO:<c@d.example>\r\n",
    );
    let out = drain(&mut s);
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(out[0].starts_with("250-mx.example.org"));
    assert_eq!(out[1], "?auth SCRAM-SHA-256 biws");
    assert!(s.buffered_input() > 0, "MAIL and RCPT wait");
    s.auth_succeeded("a@b.example");
    assert_eq!(
        drain(&mut s),
        [
            "235 2.7.0 Authentication successful\r\n",
            "?sender a@b.example"
        ]
    );
    s.mail_verdict(Verdict::Accept);
    assert_eq!(drain(&mut s), ["250 2.1.0 Ok\r\n", "?rcpt c@d.example"]);
}

#[test]
fn pipelined_exchange_lines_stay_in_order() {
    let mut s = ehlo_session(plain_auth());
    s.feed(b"AUTH LOGIN\r\ndXNlcg==\r\ncGFzcw==\r\nNOOP\r\n");
    assert_eq!(drain(&mut s), ["?auth LOGIN"]);
    s.auth_challenge("VXNlcm5hbWU6");
    assert_eq!(
        drain(&mut s),
        ["334 VXNlcm5hbWU6\r\n", "?auth-response dXNlcg=="]
    );
    s.auth_challenge("UGFzc3dvcmQ6");
    assert_eq!(
        drain(&mut s),
        ["334 UGFzc3dvcmQ6\r\n", "?auth-response cGFzcw=="]
    );
    s.auth_succeeded("user");
    assert_eq!(
        drain(&mut s),
        [
            "235 2.7.0 Authentication successful\r\n",
            "250 2.0.0 Ok\r\n"
        ]
    );
}

/// A script with an AUTH exchange, fed in any two pieces, gives the same events.
#[test]
fn any_chunking_of_an_auth_exchange_gives_the_same_events() {
    fn events(pieces: &[&[u8]]) -> Vec<Event> {
        let mut c = plain_auth();
        c.require_auth = true;
        let mut s = Session::new(Arc::new(c));
        let mut out = Vec::new();
        for p in pieces {
            s.feed(p);
            while let Some(ev) = s.poll() {
                match &ev {
                    Event::Auth { .. } => s.auth_challenge("VXNlcm5hbWU6"),
                    Event::AuthResponse(r) if r == "dXNlcg==" => s.auth_challenge("UGFz"),
                    Event::AuthResponse(_) => s.auth_succeeded("user"),
                    Event::CheckSender { .. } => s.mail_verdict(Verdict::Accept),
                    _ => {}
                }
                out.push(ev);
            }
        }
        out
    }
    let script: &[u8] =
        b"EHLO c\r\nAUTH LOGIN\r\ndXNlcg==\r\ncGFzcw==\r\nMAIL FROM:<a@b.example>\r\nQUIT\r\n";
    let whole = events(&[script]);
    assert!(whole.contains(&Event::AuthResponse("cGFzcw==".into())));
    assert!(whole.iter().any(|e| matches!(e, Event::CheckSender { .. })));
    assert_eq!(whole.last(), Some(&Event::Close));
    for split in 0..=script.len() {
        let (a, b) = script.split_at(split);
        assert_eq!(events(&[a, b]), whole, "split at {split}");
    }
}

// ---- randomised input ----------------------------------------------------------------

#[test]
fn random_input_with_tls_and_auth_never_panics_and_stays_bounded() {
    let fragments: &[&[u8]] = &[
        b"EHLO x\r\n",
        b"HELO y\r\n",
        b"STARTTLS\r\n",
        b"STARTTLS x\r\n",
        b"AUTH PLAIN AHVzZXIAcGFzcw==\r\n",
        b"AUTH LOGIN\r\n",
        b"AUTH SCRAM-SHA-256 =\r\n",
        b"AUTH FOO\r\n",
        b"AUTH ",
        b"*\r\n",
        b"dXNlcg==\r\n",
        b"MAIL FROM:<a@b.example> AUTH=<>\r\n",
        b"RCPT TO:<c@d.example>\r\n",
        b"DATA\r\n",
        b"RSET\r\n",
        b"NOOP\r\n",
        b".\r\n",
        b"\r\n.\r\n",
        b"\r",
        b"\n",
        b"\0",
        b"\xc3\xa9",
    ];
    let mut rng = XorShift::new(0x5eed_cafe);
    // How often the interesting states were reached, so the test cannot pass by
    // never getting there.
    let (mut handshakes, mut logins, mut messages) = (0, 0, 0);
    for round in 0..300 {
        let mut c = submission();
        c.auth_mechanisms_plain = vec!["SCRAM-SHA-256".into(), "LOGIN".into()];
        c.max_command_line = 64;
        c.max_text_line = 80;
        c.max_message_size = 2000;
        c.max_bad_commands = 1000;
        c.require_tls_for_mail = rng.below(2) == 0;
        let config = Arc::new(c);
        let implicit = rng.below(4) == 0;
        let mut s = Session::with_tls(config.clone(), implicit);
        let mut handshake_pending = false;
        for _ in 0..200 {
            if handshake_pending && rng.below(2) == 0 {
                s.tls_established();
                handshake_pending = false;
                handshakes += 1;
                assert!(s.tls_active());
                assert_eq!(s.authenticated(), None);
            }
            let mut chunk = Vec::new();
            for _ in 0..rng.below(8) {
                match rng.below(8) {
                    0 => {
                        let n = rng.below(300);
                        chunk.extend((0..n).map(|_| rng.next_u64() as u8));
                    }
                    1 => chunk.extend(std::iter::repeat_n(b'A', rng.below(2 * AUTH_LINE_MAX))),
                    _ => chunk.extend_from_slice(fragments[rng.below(fragments.len())]),
                }
            }
            s.feed(&chunk);
            let bound = if handshake_pending {
                0
            } else {
                chunk.len() + AUTH_LINE_MAX + 1
            };
            assert!(
                s.buffered_input() <= bound,
                "round {round}: {} buffered",
                s.buffered_input()
            );
            while let Some(ev) = s.poll() {
                assert!(!handshake_pending, "round {round}: {ev:?} during handshake");
                match ev {
                    Event::StartTls => {
                        assert!(!s.tls_active());
                        assert_eq!(s.buffered_input(), 0);
                        handshake_pending = true;
                    }
                    Event::Auth { .. } | Event::AuthResponse(_) => match rng.below(3) {
                        0 => s.auth_challenge("eA=="),
                        1 => {
                            s.auth_succeeded("who");
                            logins += 1;
                        }
                        _ => s.auth_failed(Reply::new(535, "5.7.8", "no")),
                    },
                    Event::CheckSender { .. } => {
                        assert!(
                            s.authenticated().is_some(),
                            "round {round}: MAIL without AUTH"
                        );
                        if config.require_tls_for_mail {
                            assert!(s.tls_active());
                        }
                        s.mail_verdict(random_verdict(&mut rng));
                    }
                    Event::CheckRecipient { .. } => s.rcpt_verdict(random_verdict(&mut rng)),
                    Event::MessageStart(env) => {
                        messages += 1;
                        assert_eq!(env.authenticated.as_deref(), Some("who"));
                        assert_eq!(env.tls, s.tls_active());
                    }
                    Event::MessageEnd => s.message_verdict(random_verdict(&mut rng)),
                    Event::MessageChunk(c) => assert!(c.len() <= CHUNK_SIZE),
                    Event::Send(b) => assert!(b.ends_with(b"\r\n")),
                    _ => {}
                }
            }
            assert!(s.buffered_input() <= AUTH_LINE_MAX + 1);
            if s.is_closed() {
                break;
            }
        }
    }
    assert!(
        handshakes > 20 && logins > 20 && messages > 5,
        "{handshakes} handshakes, {logins} logins, {messages} messages"
    );
}

#[test]
fn requiretls_is_offered_and_taken_only_under_tls() {
    let mut c = Config::new(HOST);
    c.requiretls = true;
    // Before TLS: not offered, and refused with 530 5.7.10.
    let mut plain = crate::session::tests::session_with(c.clone());
    assert!(!ehlo(&mut plain).contains("REQUIRETLS"));
    assert_eq!(
        run(&mut plain, "MAIL FROM:<a@b.example> REQUIRETLS\r\n"),
        ["530 5.7.10 REQUIRETLS needs a TLS session: issue STARTTLS first\r\n"]
    );
    // Under TLS: offered, and the sender's check sees it.
    let mut s = tls_session(c.clone());
    assert!(ehlo(&mut s).contains("250 REQUIRETLS\r\n"));
    s.feed(b"MAIL FROM:<a@b.example> requiretls\r\n");
    match s.poll() {
        Some(Event::CheckSender { params, .. }) => assert!(params.requiretls),
        other => panic!("{other:?}"),
    }
    s.mail_verdict(Verdict::Accept);
    assert_eq!(drain(&mut s), ["250 2.1.0 Ok\r\n"]);
    // Without it, the flag is off; with a value or twice, a syntax error.
    let mut s = tls_session(c.clone());
    ehlo(&mut s);
    s.feed(b"MAIL FROM:<a@b.example>\r\n");
    match s.poll() {
        Some(Event::CheckSender { params, .. }) => assert!(!params.requiretls),
        other => panic!("{other:?}"),
    }
    let mut s = tls_session(c.clone());
    ehlo(&mut s);
    assert_eq!(
        run(&mut s, "MAIL FROM:<a@b.example> REQUIRETLS=YES\r\n"),
        ["501 5.5.4 Bad REQUIRETLS parameter\r\n"]
    );
    // Turned off: an unknown parameter, also under TLS.
    let mut s = tls_session(Config::new(HOST));
    assert!(!ehlo(&mut s).contains("REQUIRETLS"));
    let out = run(&mut s, "MAIL FROM:<a@b.example> REQUIRETLS\r\n");
    assert!(out[0].starts_with("555 5.5.4"), "{out:?}");
}
