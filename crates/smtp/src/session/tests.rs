//! Session state machine tests: every command in every state, pipelining, limits.

use std::sync::Arc;

use super::Session;
use crate::config::Config;
use crate::data::CHUNK_SIZE;
use crate::event::{Envelope, Event, Verdict};
use crate::params::{Body, MailParams, RcptParams};
use crate::path::{DomainPart, ForwardPath, Mailbox, ReversePath};
use crate::reply::Reply;
use crate::test_rng::XorShift;

pub(super) const HOST: &str = "mx.example.org";

/// A session whose greeting has been checked and drained.
pub(super) fn session_with(config: Config) -> Session {
    let mut s = Session::new(Arc::new(config));
    assert_eq!(
        s.poll(),
        Some(Event::Send(
            b"220 mx.example.org ESMTP praisani\r\n".to_vec()
        ))
    );
    assert_eq!(s.poll(), None);
    s
}

pub(super) fn session() -> Session {
    session_with(Config::new(HOST))
}

/// A session after `EHLO client.example`.
pub(super) fn ehlo_session(config: Config) -> Session {
    let mut s = session_with(config);
    let out = run(&mut s, "EHLO client.example\r\n");
    assert!(out[0].starts_with("250-mx.example.org\r\n"), "{out:?}");
    s
}

/// Events rendered compactly: replies as their text, other events as tags.
pub(super) fn render(ev: Event) -> String {
    match ev {
        Event::Send(b) => String::from_utf8(b).expect("replies are UTF-8"),
        Event::CheckSender { from, .. } => format!("?sender {}", path_text(&from)),
        Event::CheckRecipient { to } => match to {
            ForwardPath::Postmaster => "?rcpt postmaster".into(),
            ForwardPath::Mailbox {
                mailbox,
                source_route,
            } => format!(
                "?rcpt {mailbox}{}",
                if source_route { " (routed)" } else { "" }
            ),
        },
        Event::MessageStart(_) => "start".into(),
        Event::MessageChunk(c) => format!("chunk {}", String::from_utf8_lossy(&c)),
        Event::MessageEnd => "end".into(),
        Event::MessageAborted => "aborted".into(),
        Event::Close => "close".into(),
        Event::StartTls => "starttls".into(),
        Event::Auth {
            mechanism,
            initial_response,
        } => match initial_response {
            Some(ir) => format!("?auth {mechanism} {ir}"),
            None => format!("?auth {mechanism}"),
        },
        Event::AuthResponse(r) => format!("?auth-response {r}"),
        Event::AuthCancelled => "auth-cancelled".into(),
    }
}

pub(super) fn path_text(p: &ReversePath) -> String {
    match p {
        ReversePath::Null => "<>".into(),
        ReversePath::Mailbox(m) => m.to_string(),
    }
}

/// Drain all events.
pub(super) fn drain(s: &mut Session) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(ev) = s.poll() {
        out.push(render(ev));
    }
    out
}

/// Feed `input` and drain all events.
pub(super) fn run(s: &mut Session, input: &str) -> Vec<String> {
    s.feed(input.as_bytes());
    drain(s)
}

/// Feed one command and return its single reply.
pub(super) fn reply(s: &mut Session, input: &str) -> String {
    let out = run(s, input);
    assert_eq!(out.len(), 1, "{input:?} -> {out:?}");
    out.into_iter().next().unwrap_or_default()
}

/// MAIL FROM and accept it.
pub(super) fn mail_ok(s: &mut Session, from: &str) {
    let out = run(s, &format!("MAIL FROM:{from}\r\n"));
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(out[0].starts_with("?sender"), "{out:?}");
    s.mail_verdict(Verdict::Accept);
    assert_eq!(drain(s), ["250 2.1.0 Ok\r\n"]);
}

/// RCPT TO and accept it.
pub(super) fn rcpt_ok(s: &mut Session, to: &str) {
    let out = run(s, &format!("RCPT TO:{to}\r\n"));
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(out[0].starts_with("?rcpt"), "{out:?}");
    s.rcpt_verdict(Verdict::Accept);
    assert_eq!(drain(s), ["250 2.1.5 Ok\r\n"]);
}

/// A session in an open transaction with one accepted recipient.
pub(super) fn rcpt_session(config: Config) -> Session {
    let mut s = ehlo_session(config);
    mail_ok(&mut s, "<a@b.example>");
    rcpt_ok(&mut s, "<c@d.example>");
    s
}

/// A session reading a body.
pub(super) fn data_session(config: Config) -> Session {
    let mut s = rcpt_session(config);
    assert_eq!(
        run(&mut s, "DATA\r\n"),
        ["start", "354 End data with <CR><LF>.<CR><LF>\r\n"]
    );
    assert!(s.in_data());
    s
}

pub(super) fn mailbox(local: &str, domain: &str) -> Mailbox {
    Mailbox {
        local: local.into(),
        quoted: false,
        domain: DomainPart::Name(domain.into()),
    }
}

// ---- greeting, EHLO, HELO -------------------------------------------------------

#[test]
fn ehlo_lists_extensions() {
    let mut s = session();
    assert_eq!(
        run(&mut s, "EHLO client.example\r\n"),
        [
            "250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n\
          250-ENHANCEDSTATUSCODES\r\n250 SMTPUTF8\r\n"
        ]
    );

    let mut c = Config::new(HOST);
    c.max_message_size = 0;
    c.smtputf8 = false;
    let mut s = session_with(c);
    assert_eq!(
        run(&mut s, "ehlo [192.0.2.1]\r\n"),
        [
            "250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE\r\n250-8BITMIME\r\n\
          250 ENHANCEDSTATUSCODES\r\n"
        ]
    );
}

#[test]
fn helo_has_no_extensions() {
    let mut s = session();
    assert_eq!(reply(&mut s, "HELO client\r\n"), "250 mx.example.org\r\n");
    assert_eq!(
        reply(&mut s, "MAIL FROM:<a@b.example> SIZE=10\r\n"),
        "555 5.5.4 Unsupported parameter SIZE\r\n"
    );
    assert_eq!(
        reply(&mut s, "MAIL FROM:<a@b.example> SMTPUTF8\r\n"),
        "555 5.5.4 Unsupported parameter SMTPUTF8\r\n"
    );
    mail_ok(&mut s, "<a@b.example>");
    rcpt_ok(&mut s, "<c@d.example>");
    s.feed(b"DATA\r\n");
    match s.poll() {
        Some(Event::MessageStart(env)) => {
            assert_eq!(env.helo, "client");
            assert!(!env.esmtp);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn hello_without_argument() {
    let mut s = session();
    assert_eq!(
        reply(&mut s, "EHLO\r\n"),
        "501 5.5.4 Syntax: EHLO hostname\r\n"
    );
    assert_eq!(
        reply(&mut s, "HELO\r\n"),
        "501 5.5.4 Syntax: HELO hostname\r\n"
    );
}

#[test]
fn ehlo_and_helo_reset_the_transaction() {
    for cmd in ["EHLO again\r\n", "HELO again\r\n"] {
        let mut s = rcpt_session(Config::new(HOST));
        assert_eq!(run(&mut s, cmd).len(), 1);
        assert_eq!(
            reply(&mut s, "RCPT TO:<x@y.example>\r\n"),
            "503 5.5.1 Error: need MAIL command\r\n"
        );
        assert_eq!(
            reply(&mut s, "DATA\r\n"),
            "503 5.5.1 Error: need MAIL command\r\n"
        );
    }
}

// ---- every command in every state -------------------------------------------------

/// Commands whose replies do not depend on the state.
fn stateless_commands(s: &mut Session) {
    assert_eq!(reply(s, "NOOP\r\n"), "250 2.0.0 Ok\r\n");
    assert_eq!(
        reply(s, "VRFY root\r\n"),
        "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery\r\n"
    );
    assert_eq!(
        reply(s, "EXPN staff\r\n"),
        "502 5.5.1 EXPN not available\r\n"
    );
    assert!(reply(s, "HELP\r\n").starts_with("214 2.0.0 "));
    for cmd in ["STARTTLS\r\n", "BDAT 1 LAST\r\n"] {
        assert_eq!(
            reply(s, cmd),
            "502 5.5.1 Error: command not implemented\r\n"
        );
    }
    assert_eq!(
        reply(s, "AUTH PLAIN\r\n"),
        "502 5.5.1 AUTH not supported\r\n"
    );
    assert_eq!(
        reply(s, "FOO\r\n"),
        "500 5.5.2 Error: command not recognized\r\n"
    );
}

#[test]
fn before_ehlo() {
    let mut s = session();
    stateless_commands(&mut s);
    for cmd in [
        "MAIL FROM:<a@b.example>\r\n",
        "RCPT TO:<a@b.example>\r\n",
        "DATA\r\n",
    ] {
        assert_eq!(
            reply(&mut s, cmd),
            "503 5.5.1 Error: send HELO/EHLO first\r\n"
        );
    }
    assert_eq!(reply(&mut s, "RSET\r\n"), "250 2.0.0 Ok\r\n");
    assert_eq!(
        run(&mut s, "QUIT\r\n"),
        ["221 2.0.0 mx.example.org Bye\r\n", "close"]
    );
}

#[test]
fn after_ehlo() {
    let mut s = ehlo_session(Config::new(HOST));
    stateless_commands(&mut s);
    assert_eq!(
        reply(&mut s, "RCPT TO:<a@b.example>\r\n"),
        "503 5.5.1 Error: need MAIL command\r\n"
    );
    assert_eq!(
        reply(&mut s, "DATA\r\n"),
        "503 5.5.1 Error: need MAIL command\r\n"
    );
    assert_eq!(reply(&mut s, "RSET\r\n"), "250 2.0.0 Ok\r\n");
    mail_ok(&mut s, "<a@b.example>");
}

#[test]
fn after_mail() {
    let mut s = ehlo_session(Config::new(HOST));
    mail_ok(&mut s, "<>");
    stateless_commands(&mut s);
    assert_eq!(
        reply(&mut s, "MAIL FROM:<a@b.example>\r\n"),
        "503 5.5.1 Error: nested MAIL command\r\n"
    );
    assert_eq!(
        reply(&mut s, "DATA\r\n"),
        "554 5.5.1 Error: no valid recipients\r\n"
    );
    rcpt_ok(&mut s, "<c@d.example>");
    // RSET ends the transaction but keeps EHLO.
    assert_eq!(reply(&mut s, "RSET\r\n"), "250 2.0.0 Ok\r\n");
    assert_eq!(
        reply(&mut s, "RCPT TO:<c@d.example>\r\n"),
        "503 5.5.1 Error: need MAIL command\r\n"
    );
    mail_ok(&mut s, "<a@b.example>");
}

#[test]
fn after_rcpt() {
    let mut s = rcpt_session(Config::new(HOST));
    stateless_commands(&mut s);
    assert_eq!(
        reply(&mut s, "MAIL FROM:<a@b.example>\r\n"),
        "503 5.5.1 Error: nested MAIL command\r\n"
    );
    rcpt_ok(&mut s, "<Postmaster>");
    s.feed(b"DATA\r\n");
    assert_eq!(
        s.poll(),
        Some(Event::MessageStart(Envelope {
            helo: "client.example".into(),
            esmtp: true,
            mail_from: ReversePath::Mailbox(mailbox("a", "b.example")),
            params: MailParams::default(),
            recipients: vec![
                ForwardPath::Mailbox {
                    mailbox: mailbox("c", "d.example"),
                    source_route: false
                },
                ForwardPath::Postmaster
            ],
            recipient_params: vec![RcptParams::default(), RcptParams::default()],
            authenticated: None,
            tls: false,
        }))
    );
    assert_eq!(drain(&mut s), ["354 End data with <CR><LF>.<CR><LF>\r\n"]);
}

#[test]
fn during_data_commands_are_body() {
    let mut s = data_session(Config::new(HOST));
    let out = run(&mut s, "QUIT\r\nRSET\r\nMAIL FROM:<x@y>\r\n");
    assert_eq!(out, ["chunk QUIT\r\nRSET\r\nMAIL FROM:<x@y>\r\n"]);
    assert!(!s.is_closed());
    assert_eq!(run(&mut s, ".\r\n"), ["end"]);
    assert!(!s.in_data());
    s.message_verdict(Verdict::Accept);
    assert_eq!(drain(&mut s), ["250 2.0.0 Ok: queued\r\n"]);
    // Transaction over: back to the after-EHLO state.
    assert_eq!(
        reply(&mut s, "RCPT TO:<c@d.example>\r\n"),
        "503 5.5.1 Error: need MAIL command\r\n"
    );
    mail_ok(&mut s, "<a@b.example>");
}

#[test]
fn empty_body() {
    let mut s = data_session(Config::new(HOST));
    assert_eq!(run(&mut s, ".\r\n"), ["end"]);
    s.message_accepted("Q1A2");
    assert_eq!(drain(&mut s), ["250 2.0.0 Ok: queued as Q1A2\r\n"]);
}

#[test]
fn message_rejected_by_server() {
    let mut s = data_session(Config::new(HOST));
    assert_eq!(run(&mut s, "hi\r\n.\r\n"), ["chunk hi\r\n", "end"]);
    s.message_verdict(Verdict::Reject(Reply::new(451, "4.3.0", "Try later")));
    assert_eq!(drain(&mut s), ["451 4.3.0 Try later\r\n"]);
    assert_eq!(
        reply(&mut s, "DATA\r\n"),
        "503 5.5.1 Error: need MAIL command\r\n"
    );
}

// ---- pipelining -----------------------------------------------------------------

#[test]
fn pipelined_batch_with_verdicts() {
    let mut s = ehlo_session(Config::new(HOST));
    s.feed(
        b"MAIL FROM:<a@b.example> BODY=8BITMIME\r\nRCPT TO:<x@y.example>\r\n\
          RCPT TO:<bad@y.example>\r\nRCPT TO:<z@y.example>\r\nDATA\r\n",
    );
    assert_eq!(
        s.poll(),
        Some(Event::CheckSender {
            from: ReversePath::Mailbox(mailbox("a", "b.example")),
            params: MailParams {
                size: None,
                body: Body::EightBitMime,
                smtputf8: false,
                ret: None,
                envid: None,
                requiretls: false,
            }
        })
    );
    assert_eq!(s.poll(), None);
    assert!(s.is_waiting());
    assert!(
        s.buffered_input() > 0,
        "the rest of the batch stays buffered"
    );
    s.mail_verdict(Verdict::Accept);
    assert_eq!(drain(&mut s), ["250 2.1.0 Ok\r\n", "?rcpt x@y.example"]);
    s.rcpt_verdict(Verdict::Accept);
    assert_eq!(drain(&mut s), ["250 2.1.5 Ok\r\n", "?rcpt bad@y.example"]);
    s.rcpt_verdict(Verdict::Reject(Reply::new(550, "5.1.1", "No such user")));
    assert_eq!(
        drain(&mut s),
        ["550 5.1.1 No such user\r\n", "?rcpt z@y.example"]
    );
    s.rcpt_verdict(Verdict::Accept);
    let out: Vec<Event> = std::iter::from_fn(|| s.poll()).collect();
    assert_eq!(out.len(), 3);
    assert_eq!(out[0], Event::Send(b"250 2.1.5 Ok\r\n".to_vec()));
    match &out[1] {
        Event::MessageStart(env) => assert_eq!(
            env.recipients
                .iter()
                .map(|r| r.mailbox().map(ToString::to_string))
                .collect::<Vec<_>>(),
            [Some("x@y.example".into()), Some("z@y.example".into())]
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        out[2],
        Event::Send(b"354 End data with <CR><LF>.<CR><LF>\r\n".to_vec())
    );
}

#[test]
fn rejections_lead_to_554_at_data() {
    let mut s = ehlo_session(Config::new(HOST));
    s.feed(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example>\r\nDATA\r\nQUIT\r\n");
    assert_eq!(drain(&mut s), ["?sender a@b.example"]);
    s.mail_verdict(Verdict::Accept);
    assert_eq!(drain(&mut s), ["250 2.1.0 Ok\r\n", "?rcpt x@y.example"]);
    s.rcpt_verdict(Verdict::Reject(Reply::new(550, "5.7.1", "Relay denied")));
    assert_eq!(
        drain(&mut s),
        [
            "550 5.7.1 Relay denied\r\n",
            "554 5.5.1 Error: no valid recipients\r\n",
            "221 2.0.0 mx.example.org Bye\r\n",
            "close"
        ]
    );
}

#[test]
fn rejected_sender_means_no_transaction() {
    let mut s = ehlo_session(Config::new(HOST));
    s.feed(b"MAIL FROM:<spam@b.example>\r\nRCPT TO:<x@y.example>\r\nDATA\r\n");
    assert_eq!(drain(&mut s), ["?sender spam@b.example"]);
    s.mail_verdict(Verdict::Reject(Reply::new(550, "5.7.1", "Go away")));
    assert_eq!(
        drain(&mut s),
        [
            "550 5.7.1 Go away\r\n",
            "503 5.5.1 Error: need MAIL command\r\n",
            "503 5.5.1 Error: need MAIL command\r\n"
        ]
    );
}

#[test]
fn body_pipelined_with_data_and_commands_after_it() {
    let mut s = rcpt_session(Config::new(HOST));
    s.feed(b"DATA\r\nSubject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n");
    assert_eq!(
        drain(&mut s),
        [
            "start",
            "354 End data with <CR><LF>.<CR><LF>\r\n",
            "chunk Subject: hi\r\n\r\nbody\r\n",
            "end"
        ]
    );
    // QUIT waits for the message verdict.
    assert_eq!(s.buffered_input(), 6);
    s.message_verdict(Verdict::Accept);
    assert_eq!(
        drain(&mut s),
        [
            "250 2.0.0 Ok: queued\r\n",
            "221 2.0.0 mx.example.org Bye\r\n",
            "close"
        ]
    );
}

#[test]
fn verdicts_without_request_are_ignored() {
    let mut s = ehlo_session(Config::new(HOST));
    s.mail_verdict(Verdict::Accept);
    s.rcpt_verdict(Verdict::Accept);
    s.message_verdict(Verdict::Accept);
    s.message_accepted("x");
    assert_eq!(drain(&mut s), Vec::<String>::new());
    // A verdict of the wrong kind leaves the pending one alone.
    assert_eq!(
        run(&mut s, "MAIL FROM:<a@b.example>\r\n"),
        ["?sender a@b.example"]
    );
    s.rcpt_verdict(Verdict::Accept);
    s.message_verdict(Verdict::Accept);
    assert_eq!(drain(&mut s), Vec::<String>::new());
    assert!(s.is_waiting());
    s.mail_verdict(Verdict::Accept);
    assert_eq!(drain(&mut s), ["250 2.1.0 Ok\r\n"]);
    s.mail_verdict(Verdict::Accept);
    assert_eq!(drain(&mut s), Vec::<String>::new());
}

#[test]
fn positive_rejection_becomes_451() {
    let mut s = ehlo_session(Config::new(HOST));
    run(&mut s, "MAIL FROM:<a@b.example>\r\n");
    s.mail_verdict(Verdict::Reject(Reply::new(250, "2.0.0", "huh")));
    assert_eq!(
        drain(&mut s),
        ["451 4.3.0 Error: local error in processing\r\n"]
    );
    assert_eq!(
        reply(&mut s, "RCPT TO:<c@d.example>\r\n"),
        "503 5.5.1 Error: need MAIL command\r\n"
    );
}

// ---- MAIL and RCPT details ------------------------------------------------------

#[test]
fn mail_syntax() {
    let mut s = ehlo_session(Config::new(HOST));
    assert_eq!(
        reply(&mut s, "MAIL FROM:a@b.example\r\n"),
        "501 5.5.4 Syntax: MAIL FROM:<address>\r\n"
    );
    assert_eq!(
        reply(&mut s, "MAIL FROM:<a@b.example.>\r\n"),
        "501 5.1.3 Bad address syntax: bad domain\r\n"
    );
    assert_eq!(
        reply(&mut s, "MAIL FROM:<a@b.example> FOO=1\r\n"),
        "555 5.5.4 Unsupported parameter FOO\r\n"
    );
    assert_eq!(
        reply(&mut s, "MAIL FROM:<a@b.example> SIZE=x\r\n"),
        "501 5.5.4 Bad SIZE parameter\r\n"
    );
    assert_eq!(
        reply(&mut s, "MAIL FROM:<a@b.example> SIZE=\r\n"),
        "501 5.5.4 Bad parameter syntax\r\n"
    );
    // A space after the colon, lower case, source route: accepted, route dropped.
    assert_eq!(
        run(&mut s, "mail from: <@r.example:a@b.example>\r\n"),
        ["?sender a@b.example"]
    );
}

#[test]
fn size_parameter() {
    let mut c = Config::new(HOST);
    c.max_message_size = 1000;
    let mut s = ehlo_session(c);
    assert_eq!(
        reply(&mut s, "MAIL FROM:<a@b.example> SIZE=1001\r\n"),
        "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
    );
    s.feed(b"MAIL FROM:<a@b.example> SIZE=1000\r\n");
    match s.poll() {
        Some(Event::CheckSender { params, .. }) => assert_eq!(params.size, Some(1000)),
        other => panic!("{other:?}"),
    }

    // Unlimited size accepts any declaration.
    let mut c = Config::new(HOST);
    c.max_message_size = 0;
    let mut s = ehlo_session(c);
    assert_eq!(
        run(
            &mut s,
            "MAIL FROM:<a@b.example> SIZE=99999999999999999999\r\n"
        ),
        ["?sender a@b.example"]
    );
}

#[test]
fn smtputf8() {
    let mut s = ehlo_session(Config::new(HOST));
    assert_eq!(
        reply(&mut s, "MAIL FROM:<jöran@bücher.example>\r\n"),
        "553 5.6.7 Must declare SMTPUTF8 to send a UTF-8 address\r\n"
    );
    mail_ok(&mut s, "<jöran@bücher.example> SMTPUTF8");
    rcpt_ok(&mut s, "<δοκιμή@παράδειγμα.δοκιμή>");

    // Without SMTPUTF8 on MAIL, a UTF-8 recipient is refused too.
    let mut s = ehlo_session(Config::new(HOST));
    mail_ok(&mut s, "<a@b.example>");
    assert_eq!(
        reply(&mut s, "RCPT TO:<ü@b.example>\r\n"),
        "553 5.6.7 Must declare SMTPUTF8 to send a UTF-8 address\r\n"
    );

    // Disabled in the config: not advertised, parameter unknown.
    let mut c = Config::new(HOST);
    c.smtputf8 = false;
    let mut s = ehlo_session(c);
    assert_eq!(
        reply(&mut s, "MAIL FROM:<a@b.example> SMTPUTF8\r\n"),
        "555 5.5.4 Unsupported parameter SMTPUTF8\r\n"
    );
    assert_eq!(
        reply(&mut s, "MAIL FROM:<ü@b.example>\r\n"),
        "553 5.6.7 UTF-8 addresses are not supported\r\n"
    );
}

#[test]
fn rcpt_details() {
    let mut s = ehlo_session(Config::new(HOST));
    mail_ok(&mut s, "<a@b.example>");
    assert_eq!(
        run(&mut s, "RCPT TO:<POSTMASTER>\r\n"),
        ["?rcpt postmaster"]
    );
    s.rcpt_verdict(Verdict::Accept);
    drain(&mut s);
    assert_eq!(
        run(&mut s, "rcpt to: <@r1.example,@r2.example:u@d.example>\r\n"),
        ["?rcpt u@d.example (routed)"]
    );
    s.rcpt_verdict(Verdict::Reject(Reply::new(
        550,
        "5.7.1",
        "No source routes",
    )));
    drain(&mut s);
    assert_eq!(
        reply(&mut s, "RCPT TO:<u@d.example> NOTIFY=NEVER\r\n"),
        "555 5.5.4 Unsupported parameter NOTIFY\r\n"
    );
    assert_eq!(
        reply(&mut s, "RCPT TO:<>\r\n"),
        "501 5.1.3 Bad address syntax: empty path not allowed here\r\n"
    );
    assert_eq!(
        reply(&mut s, "RCPT TO:u@d.example\r\n"),
        "501 5.5.4 Syntax: RCPT TO:<address>\r\n"
    );
}

#[test]
fn recipient_limit() {
    let mut c = Config::new(HOST);
    c.max_recipients = 2;
    let mut s = ehlo_session(c);
    mail_ok(&mut s, "<a@b.example>");
    // A rejected recipient does not count.
    run(&mut s, "RCPT TO:<r0@d.example>\r\n");
    s.rcpt_verdict(Verdict::Reject(Reply::new(550, "5.1.1", "Unknown")));
    drain(&mut s);
    rcpt_ok(&mut s, "<r1@d.example>");
    rcpt_ok(&mut s, "<r2@d.example>");
    assert_eq!(
        reply(&mut s, "RCPT TO:<r3@d.example>\r\n"),
        "452 4.5.3 Error: too many recipients\r\n"
    );
    assert!(!s.is_waiting(), "the server is not asked");
}

#[test]
fn messages_per_connection() {
    let mut c = Config::new(HOST);
    c.max_messages_per_connection = 1;
    let mut s = data_session(c);
    run(&mut s, ".\r\n");
    s.message_verdict(Verdict::Accept);
    drain(&mut s);
    assert_eq!(
        run(&mut s, "MAIL FROM:<a@b.example>\r\nNOOP\r\n"),
        [
            "421 4.7.0 mx.example.org Too many messages, reconnect\r\n",
            "close"
        ]
    );
    assert!(s.is_closed());

    // Rejected messages do not count.
    let mut c = Config::new(HOST);
    c.max_messages_per_connection = 1;
    let mut s = data_session(c);
    run(&mut s, ".\r\n");
    s.message_verdict(Verdict::Reject(Reply::new(554, "5.7.1", "Spam")));
    drain(&mut s);
    mail_ok(&mut s, "<a@b.example>");
}

// ---- body limits ----------------------------------------------------------------

#[test]
fn body_too_big() {
    let mut c = Config::new(HOST);
    c.max_message_size = 10;
    let mut s = data_session(c);
    assert_eq!(run(&mut s, "12345678\r\n"), ["chunk 12345678\r\n"]);
    assert_eq!(run(&mut s, "x"), ["aborted"]);
    assert_eq!(run(&mut s, "more\r\nand more\r\n"), Vec::<String>::new());
    assert_eq!(
        run(&mut s, ".\r\nNOOP\r\n"),
        [
            "552 5.3.4 Message size exceeds fixed maximum message size\r\n",
            "250 2.0.0 Ok\r\n"
        ]
    );
    assert!(!s.is_waiting(), "no MessageEnd, no verdict");
    assert_eq!(
        reply(&mut s, "RCPT TO:<c@d.example>\r\n"),
        "503 5.5.1 Error: need MAIL command\r\n"
    );
}

#[test]
fn body_line_too_long() {
    let mut c = Config::new(HOST);
    c.max_text_line = 20;
    let mut s = data_session(c);
    let long = "x".repeat(19);
    assert_eq!(run(&mut s, "ok\r\n"), ["chunk ok\r\n"]);
    // Output decoded in the same step as the error is not sent: it would be
    // discarded anyway.
    assert_eq!(
        run(&mut s, &format!("ok\r\n{long}\r\n.\r\n")),
        ["aborted", "500 5.5.6 Text line too long\r\n"]
    );
}

#[test]
fn body_chunks_are_bounded() {
    let mut s = data_session(Config::new(HOST));
    let line = format!("{}\r\n", "y".repeat(998));
    let body = line.repeat(300); // 300 000 octets
    s.feed(body.as_bytes());
    s.feed(b".\r\n");
    let mut total = 0;
    let mut ended = false;
    while let Some(ev) = s.poll() {
        match ev {
            Event::MessageChunk(c) => {
                assert!(c.len() <= CHUNK_SIZE);
                total += c.len();
            }
            Event::MessageEnd => ended = true,
            other => panic!("{other:?}"),
        }
    }
    assert!(ended);
    assert_eq!(total, body.len());
}

#[test]
fn eight_bit_body_under_7bit_is_accepted() {
    let mut s = data_session(Config::new(HOST));
    s.feed(b"Subject: x\r\n\r\ncaf\xc3\xa9 \xff\x00\r\n.\r\n");
    assert_eq!(
        s.poll(),
        Some(Event::MessageChunk(
            b"Subject: x\r\n\r\ncaf\xc3\xa9 \xff\x00\r\n".to_vec()
        ))
    );
    assert_eq!(s.poll(), Some(Event::MessageEnd));
}

#[test]
fn utf8_header_without_smtputf8_is_refused() {
    let mut s = data_session(Config::new(HOST));
    assert_eq!(
        run(&mut s, "From: a@b.example\r\n"),
        ["chunk From: a@b.example\r\n"]
    );
    assert_eq!(run(&mut s, "Subject: สวัสดี\r\n\r\nbody\r\n"), ["aborted"]);
    assert_eq!(
        run(&mut s, ".\r\nNOOP\r\n"),
        [
            "550 5.6.9 Message has UTF-8 header fields: send it with SMTPUTF8\r\n",
            "250 2.0.0 Ok\r\n"
        ]
    );
    assert!(!s.is_waiting());

    // With SMTPUTF8 the same message is accepted as it is.
    let mut s = ehlo_session(Config::new(HOST));
    mail_ok(&mut s, "<a@b.example> SMTPUTF8");
    rcpt_ok(&mut s, "<c@d.example>");
    run(&mut s, "DATA\r\n");
    let text = "Subject: สวัสดี\r\n\r\nbody\r\n";
    assert_eq!(
        run(&mut s, &format!("{text}.\r\n")),
        [format!("chunk {text}"), "end".to_owned()]
    );

    // Lenient config: legacy 8-bit headers pass.
    let mut c = Config::new(HOST);
    c.utf8_headers_need_smtputf8 = false;
    let mut s = data_session(c);
    assert_eq!(
        run(&mut s, "Subject: caf\u{e9}\r\n\r\n.\r\n")
            .last()
            .unwrap(),
        "end"
    );
}

#[test]
fn smuggled_end_of_data_is_body() {
    let mut s = data_session(Config::new(HOST));
    let out = run(
        &mut s,
        "a\n.\nMAIL FROM:<x@y.example>\r\nRCPT TO:<v@w.example>\r\nDATA\r\nevil\r\n.\n",
    );
    assert!(out.iter().all(|e| e.starts_with("chunk")), "{out:?}");
    assert!(!s.is_waiting());
    assert!(s.in_data());
    assert_eq!(run(&mut s, "\r\n.\r\n"), ["chunk \r\n", "end"]);
}

// ---- command framing ------------------------------------------------------------

#[test]
fn command_line_length() {
    let mut s = ehlo_session(Config::new(HOST));
    // Exactly 512 octets including CRLF is fine.
    let ok = format!("NOOP {}\r\n", "x".repeat(505));
    assert_eq!(ok.len(), 512);
    assert_eq!(reply(&mut s, &ok), "250 2.0.0 Ok\r\n");
    let long = format!("NOOP {}\r\n", "x".repeat(506));
    assert_eq!(reply(&mut s, &long), "500 5.5.6 Error: line too long\r\n");
    // A line that arrives in pieces is not buffered beyond the limit.
    s.feed(b"NOOP ");
    for _ in 0..1000 {
        s.feed(&[b'x'; 100]);
        assert_eq!(s.poll(), None);
        assert!(s.buffered_input() <= 513, "{}", s.buffered_input());
    }
    assert_eq!(
        run(&mut s, "xx\r\nNOOP\r\n"),
        ["500 5.5.6 Error: line too long\r\n", "250 2.0.0 Ok\r\n"]
    );
    // A long line in one big feed is dropped by poll.
    s.feed(&vec![b'z'; 100_000]);
    assert_eq!(s.poll(), None);
    assert!(s.buffered_input() <= 513);
    assert_eq!(
        run(&mut s, "\nNOOP\n"),
        ["500 5.5.6 Error: line too long\r\n", "250 2.0.0 Ok\r\n"]
    );
}

#[test]
fn line_endings_and_bad_bytes() {
    let mut s = ehlo_session(Config::new(HOST));
    assert_eq!(reply(&mut s, "NOOP\n"), "250 2.0.0 Ok\r\n");
    assert_eq!(
        reply(&mut s, "NO\rOP\r\n"),
        "500 5.5.2 Error: invalid characters in command\r\n"
    );
    assert_eq!(
        reply(&mut s, "NOOP\0\r\n"),
        "500 5.5.2 Error: invalid characters in command\r\n"
    );
    assert_eq!(
        reply(&mut s, "NOOP\r\r\n"),
        "500 5.5.2 Error: invalid characters in command\r\n"
    );
    // Incomplete line: nothing yet.
    assert_eq!(run(&mut s, "NOO"), Vec::<String>::new());
    assert_eq!(run(&mut s, "P\r"), Vec::<String>::new());
    assert_eq!(run(&mut s, "\n"), ["250 2.0.0 Ok\r\n"]);
}

#[test]
fn bad_command_limit() {
    let mut c = Config::new(HOST);
    c.max_bad_commands = 3;
    let mut s = session_with(c);
    assert_eq!(
        run(
            &mut s,
            "A\r\nB\r\nNOOP\r\nMAIL FROM:<a@b.example>\r\nD\r\nNOOP\r\n"
        ),
        [
            "500 5.5.2 Error: command not recognized\r\n",
            "500 5.5.2 Error: command not recognized\r\n",
            "250 2.0.0 Ok\r\n",
            "503 5.5.1 Error: send HELO/EHLO first\r\n",
            "421 4.7.0 mx.example.org Too many errors\r\n",
            "close"
        ]
    );
    assert!(s.is_closed());
    s.feed(b"NOOP\r\n");
    assert_eq!(s.poll(), None);
    assert_eq!(s.buffered_input(), 0);
}

#[test]
fn quit_closes_and_ignores_the_rest() {
    let mut s = ehlo_session(Config::new(HOST));
    assert_eq!(
        run(&mut s, "QUIT\r\nNOOP\r\n"),
        ["221 2.0.0 mx.example.org Bye\r\n", "close"]
    );
    assert!(s.is_closed());
    assert_eq!(run(&mut s, "NOOP\r\n"), Vec::<String>::new());
}

#[test]
fn http_request_closes() {
    let mut s = session();
    assert_eq!(
        run(&mut s, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        ["421 4.7.0 mx.example.org Not an HTTP server\r\n", "close"]
    );
}

#[test]
fn timeout_reply() {
    let s = session();
    assert_eq!(
        s.timeout_reply(),
        b"421 4.4.2 mx.example.org Error: timeout exceeded\r\n"
    );
}

#[test]
fn queue_id_cannot_inject_lines() {
    let mut s = data_session(Config::new(HOST));
    run(&mut s, ".\r\n");
    s.message_accepted("id\r\n250 fake");
    assert_eq!(drain(&mut s), ["250 2.0.0 Ok: queued as id  250 fake\r\n"]);
}

// ---- chunking and randomised input ---------------------------------------------

/// A full session script; returns all events with verdicts answered Accept.
fn script_events(pieces: &[&[u8]]) -> Vec<Event> {
    let mut s = Session::new(Arc::new(Config::new(HOST)));
    let mut events = Vec::new();
    let pump = |s: &mut Session, events: &mut Vec<Event>| {
        while let Some(ev) = s.poll() {
            let verdict = match &ev {
                Event::CheckSender { .. } => Some(0),
                Event::CheckRecipient { .. } => Some(1),
                Event::MessageEnd => Some(2),
                _ => None,
            };
            // Merge adjacent chunks so that different chunkings compare equal.
            match (events.last_mut(), ev) {
                (Some(Event::MessageChunk(prev)), Event::MessageChunk(c)) => {
                    prev.extend_from_slice(&c)
                }
                (_, ev) => events.push(ev),
            }
            match verdict {
                Some(0) => s.mail_verdict(Verdict::Accept),
                Some(1) => s.rcpt_verdict(Verdict::Accept),
                Some(2) => s.message_accepted("Q"),
                _ => {}
            }
        }
    };
    for p in pieces {
        s.feed(p);
        pump(&mut s, &mut events);
    }
    events
}

#[test]
fn any_chunking_gives_the_same_events() {
    let script: &[u8] = b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n\
        DATA\r\n..x\r\na\nb\rc\r\n.\r\nNOOP\nRSET\r\nQUIT\r\n";
    let whole = script_events(&[script]);
    assert!(whole.contains(&Event::MessageChunk(b".x\r\na\r\nb\r\nc\r\n".to_vec())));
    assert_eq!(whole.last(), Some(&Event::Close));
    for split in 0..=script.len() {
        let (a, b) = script.split_at(split);
        assert_eq!(script_events(&[a, b]), whole, "split at {split}");
    }
    let bytes: Vec<&[u8]> = script.chunks(1).collect();
    assert_eq!(script_events(&bytes), whole);
}

#[test]
fn random_input_never_panics_and_stays_bounded() {
    let fragments: &[&[u8]] = &[
        b"EHLO x\r\n",
        b"HELO y\r\n",
        b"MAIL FROM:<a@b.example>\r\n",
        b"MAIL FROM:<> SIZE=100 BODY=8BITMIME SMTPUTF8\r\n",
        b"RCPT TO:<c@d.example>\r\n",
        b"RCPT TO:<postmaster>\r\n",
        b"DATA\r\n",
        b"RSET\r\n",
        b"NOOP\r\n",
        b".\r\n",
        b"\r\n.\r\n",
        b"\n.\n",
        b"..\r\n",
        b"\r",
        b"\n",
        b"\0",
        b"<",
        b">",
        b"\"",
        b"@",
        b"\xff\xfe",
        b"\xc3\xa9",
    ];
    let mut rng = XorShift::new(0xdead_beef);
    for round in 0..300 {
        let mut c = Config::new(HOST);
        c.max_command_line = 64;
        c.max_text_line = 80;
        c.max_message_size = 2000;
        c.max_recipients = 3;
        c.max_bad_commands = 1000;
        let max_line = c.max_command_line;
        let mut s = Session::new(Arc::new(c));
        for _ in 0..200 {
            let mut chunk = Vec::new();
            for _ in 0..rng.below(8) {
                if rng.below(4) == 0 {
                    let n = rng.below(300);
                    chunk.extend((0..n).map(|_| rng.next_u64() as u8));
                } else {
                    chunk.extend_from_slice(fragments[rng.below(fragments.len())]);
                }
            }
            s.feed(&chunk);
            assert!(
                s.buffered_input() <= chunk.len() + max_line + 1,
                "round {round}: {} buffered",
                s.buffered_input()
            );
            while let Some(ev) = s.poll() {
                match ev {
                    Event::CheckSender { .. } => s.mail_verdict(random_verdict(&mut rng)),
                    Event::CheckRecipient { .. } => s.rcpt_verdict(random_verdict(&mut rng)),
                    Event::MessageEnd => s.message_verdict(random_verdict(&mut rng)),
                    Event::MessageChunk(c) => assert!(c.len() <= CHUNK_SIZE),
                    Event::Send(b) => assert!(b.ends_with(b"\r\n")),
                    _ => {}
                }
            }
            assert!(s.buffered_input() <= max_line + 1);
            if s.is_closed() {
                break;
            }
        }
    }
}

pub(super) fn random_verdict(rng: &mut XorShift) -> Verdict {
    if rng.below(3) == 0 {
        Verdict::Reject(Reply::new(550, "5.7.1", "no"))
    } else {
        Verdict::Accept
    }
}

#[test]
fn a_refused_session_waits_for_quit_and_answers_503_meanwhile() {
    let mut c = Config::new(HOST);
    c.max_bad_commands = 3;
    let refusal = Reply::new(554, "5.7.1", "Client [192.0.2.1] blocked using zone.test");
    let mut s = Session::refused(Arc::new(c.clone()), false, refusal);
    assert_eq!(
        run(
            &mut s,
            "EHLO client.example\r\nMAIL FROM:<a@b.example>\r\nQUIT\r\nNOOP\r\n"
        ),
        [
            "554 5.7.1 Client [192.0.2.1] blocked using zone.test\r\n",
            "503 5.5.1 Error: this connection was refused; send QUIT\r\n",
            "503 5.5.1 Error: this connection was refused; send QUIT\r\n",
            "221 2.0.0 mx.example.org Bye\r\n",
            "close"
        ]
    );
    // A client that never says QUIT is cut off like any other.
    let refusal = Reply::new(554, "5.7.1", "blocked");
    let mut s = Session::refused(Arc::new(c), false, refusal);
    let out = run(&mut s, "EHLO a\r\nDATA\r\nhello\r\nworld\r\n");
    assert_eq!(out.first().unwrap(), "554 5.7.1 blocked\r\n");
    assert_eq!(
        out[out.len() - 2],
        "421 4.7.0 mx.example.org Too many errors\r\n"
    );
    assert_eq!(out.last().unwrap(), "close");
}
