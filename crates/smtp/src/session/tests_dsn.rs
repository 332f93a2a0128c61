//! DSN parameters (RFC 3461) through the session: advertising, replies, and how
//! RCPT parameters reach the server.

use super::Session;
use super::tests::{
    HOST, drain, ehlo_session, mail_ok, mailbox, rcpt_ok, reply, run, session_with,
};
use crate::config::Config;
use crate::event::{Envelope, Event, Verdict};
use crate::params::{MailParams, Notify, RcptParams, Ret};
use crate::path::{ForwardPath, ReversePath};
use crate::reply::Reply;

fn dsn() -> Config {
    let mut c = Config::new(HOST);
    c.dsn = true;
    c
}

fn ehlo(s: &mut Session) -> String {
    reply(s, "EHLO client.example\r\n")
}

/// MAIL FROM with `params`; the CheckSender's parameters, after accepting it.
fn mail_params(s: &mut Session, params: &str) -> MailParams {
    s.feed(format!("MAIL FROM:<a@b.example>{params}\r\n").as_bytes());
    let Some(Event::CheckSender { params, .. }) = s.poll() else {
        panic!("no CheckSender for {params:?}");
    };
    assert_eq!(s.poll(), None);
    s.mail_verdict(Verdict::Accept);
    assert_eq!(drain(s), ["250 2.1.0 Ok\r\n"]);
    params
}

/// RCPT TO `to` with `params`: the pending parameters seen during CheckRecipient,
/// then the verdict `v` is given.
fn rcpt_params(s: &mut Session, to: &str, params: &str, v: Verdict) -> RcptParams {
    s.feed(format!("RCPT TO:{to}{params}\r\n").as_bytes());
    assert!(matches!(s.poll(), Some(Event::CheckRecipient { .. })));
    assert_eq!(s.poll(), None);
    let got = s.pending_rcpt_params().cloned().expect("pending params");
    s.rcpt_verdict(v);
    assert_eq!(s.pending_rcpt_params(), None);
    drain(s);
    got
}

fn envelope(s: &mut Session) -> Envelope {
    s.feed(b"DATA\r\n");
    let Some(Event::MessageStart(env)) = s.poll() else {
        panic!("no MessageStart");
    };
    drain(s);
    env
}

fn notify(success: bool, failure: bool, delay: bool) -> Notify {
    Notify {
        never: false,
        success,
        failure,
        delay,
    }
}

#[test]
fn ehlo_advertises_dsn_only_when_enabled() {
    let mut s = session_with(dsn());
    assert_eq!(
        ehlo(&mut s),
        "250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n\
         250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250 DSN\r\n"
    );
    // Between SMTPUTF8 and STARTTLS/AUTH.
    let mut c = dsn();
    c.starttls = true;
    c.auth_mechanisms_plain = vec!["PLAIN".into()];
    let mut s = session_with(c);
    assert_eq!(
        ehlo(&mut s),
        "250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n\
         250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250-DSN\r\n250-STARTTLS\r\n\
         250 AUTH PLAIN\r\n"
    );
    let mut c = dsn();
    c.smtputf8 = false;
    let mut s = session_with(c);
    assert!(ehlo(&mut s).ends_with("250-ENHANCEDSTATUSCODES\r\n250 DSN\r\n"));

    let mut s = session_with(Config::new(HOST));
    assert!(!ehlo(&mut s).contains("DSN"));
}

#[test]
fn parameters_unknown_when_dsn_is_off() {
    let mut s = ehlo_session(Config::new(HOST));
    for (params, keyword) in [(" RET=FULL", "RET"), (" ENVID=abc", "ENVID")] {
        assert_eq!(
            reply(&mut s, &format!("MAIL FROM:<a@b.example>{params}\r\n")),
            format!("555 5.5.4 Unsupported parameter {keyword}\r\n")
        );
    }
    mail_ok(&mut s, "<a@b.example>");
    for (params, keyword) in [
        (" NOTIFY=NEVER", "NOTIFY"),
        (" ORCPT=rfc822;c@d.example", "ORCPT"),
    ] {
        assert_eq!(
            reply(&mut s, &format!("RCPT TO:<c@d.example>{params}\r\n")),
            format!("555 5.5.4 Unsupported parameter {keyword}\r\n")
        );
    }
    rcpt_ok(&mut s, "<c@d.example>");
    assert_eq!(envelope(&mut s).recipient_params, [RcptParams::default()]);
}

#[test]
fn parameters_unknown_after_helo() {
    let mut s = session_with(dsn());
    assert_eq!(reply(&mut s, "HELO client\r\n"), "250 mx.example.org\r\n");
    assert_eq!(
        reply(&mut s, "MAIL FROM:<a@b.example> RET=FULL\r\n"),
        "555 5.5.4 Unsupported parameter RET\r\n"
    );
    mail_ok(&mut s, "<a@b.example>");
    assert_eq!(
        reply(&mut s, "RCPT TO:<c@d.example> NOTIFY=NEVER\r\n"),
        "555 5.5.4 Unsupported parameter NOTIFY\r\n"
    );
}

#[test]
fn mail_parameters() {
    let mut s = ehlo_session(dsn());
    let got = mail_params(&mut s, " RET=hdrs ENVID=QQ+2B314159 SIZE=100");
    assert_eq!(got.ret, Some(Ret::Headers));
    assert_eq!(got.envid.as_deref(), Some("QQ+314159"));
    assert_eq!(got.size, Some(100));
    rcpt_ok(&mut s, "<c@d.example>");
    let env = envelope(&mut s);
    assert_eq!(env.params, got);
    assert_eq!(run(&mut s, ".\r\n"), ["end"]);
    s.message_verdict(Verdict::Accept);
    drain(&mut s);

    let got = mail_params(&mut s, " ret=FULL");
    assert_eq!((got.ret, got.envid), (Some(Ret::Full), None));
    assert_eq!(reply(&mut s, "RSET\r\n"), "250 2.0.0 Ok\r\n");
    let got = mail_params(&mut s, "");
    assert_eq!((got.ret, got.envid), (None, None));
}

#[test]
fn bad_mail_parameters() {
    let mut s = ehlo_session(dsn());
    for (params, text) in [
        (" RET=ALL", "Bad RET parameter"),
        (" RET", "Parameter needs a value"),
        (" RET=FULL RET=FULL", "Duplicate parameter"),
        (" RET=FULL RET=HDRS", "Duplicate parameter"),
        (" ENVID=a+2", "Bad ENVID parameter"),
        (" ENVID=a+ZZ", "Bad ENVID parameter"),
        (" ENVID=+0D+0A", "Bad ENVID parameter"),
        (" ENVID=a ENVID=a", "Duplicate parameter"),
    ] {
        assert_eq!(
            reply(&mut s, &format!("MAIL FROM:<a@b.example>{params}\r\n")),
            format!("501 5.5.4 {text}\r\n"),
            "{params}"
        );
    }
    let long = "x".repeat(101);
    assert_eq!(
        reply(&mut s, &format!("MAIL FROM:<a@b.example> ENVID={long}\r\n")),
        "501 5.5.4 Bad ENVID parameter\r\n"
    );
    // No transaction was opened by any of them.
    assert_eq!(
        reply(&mut s, "RCPT TO:<c@d.example>\r\n"),
        "503 5.5.1 Error: need MAIL command\r\n"
    );
}

#[test]
fn rcpt_parameters_reach_the_server_and_the_envelope() {
    let mut s = ehlo_session(dsn());
    assert_eq!(s.pending_rcpt_params(), None);
    s.feed(b"MAIL FROM:<a@b.example>\r\n");
    assert!(matches!(s.poll(), Some(Event::CheckSender { .. })));
    // Waiting for a sender verdict is not a recipient.
    assert_eq!(s.pending_rcpt_params(), None);
    s.mail_verdict(Verdict::Accept);
    drain(&mut s);

    let first = rcpt_params(
        &mut s,
        "<c@d.example>",
        " NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;c+2Bx@d.example",
        Verdict::Accept,
    );
    assert_eq!(
        first,
        RcptParams {
            notify: Some(notify(true, true, false)),
            orcpt: Some("rfc822;c+x@d.example".into()),
        }
    );
    // A rejected recipient's parameters do not reach the envelope.
    let rejected = rcpt_params(
        &mut s,
        "<x@d.example>",
        " NOTIFY=DELAY",
        Verdict::Reject(Reply::new(550, "5.1.1", "No such user")),
    );
    assert_eq!(rejected.notify, Some(notify(false, false, true)));
    let second = rcpt_params(&mut s, "<Postmaster>", "", Verdict::Accept);
    assert_eq!(second, RcptParams::default());
    let third = rcpt_params(&mut s, "<e@f.example>", " notify=never", Verdict::Accept);
    assert_eq!(
        third.notify,
        Some(Notify {
            never: true,
            ..Notify::default()
        })
    );

    let env = envelope(&mut s);
    assert_eq!(
        env.recipients,
        [
            ForwardPath::Mailbox {
                mailbox: mailbox("c", "d.example"),
                source_route: false
            },
            ForwardPath::Postmaster,
            ForwardPath::Mailbox {
                mailbox: mailbox("e", "f.example"),
                source_route: false
            },
        ]
    );
    assert_eq!(env.recipient_params, [first, second, third]);
    assert_eq!(
        env.mail_from,
        ReversePath::Mailbox(mailbox("a", "b.example"))
    );
}

#[test]
fn pending_params_only_while_a_recipient_is_checked() {
    let mut s = ehlo_session(dsn());
    mail_ok(&mut s, "<a@b.example>");
    s.feed(b"RCPT TO:<c@d.example> NOTIFY=FAILURE\r\n");
    assert!(matches!(s.poll(), Some(Event::CheckRecipient { .. })));
    assert_eq!(
        s.pending_rcpt_params().and_then(|p| p.notify),
        Some(notify(false, true, false))
    );
    s.rcpt_verdict(Verdict::Accept);
    assert_eq!(s.pending_rcpt_params(), None);
    assert_eq!(drain(&mut s), ["250 2.1.5 Ok\r\n"]);
    // A new transaction starts with no recipient parameters.
    assert_eq!(reply(&mut s, "RSET\r\n"), "250 2.0.0 Ok\r\n");
    mail_ok(&mut s, "<a@b.example>");
    rcpt_ok(&mut s, "<g@h.example>");
    assert_eq!(envelope(&mut s).recipient_params, [RcptParams::default()]);
}

#[test]
fn bad_rcpt_parameters() {
    let mut s = ehlo_session(dsn());
    mail_ok(&mut s, "<a@b.example>");
    for (params, text) in [
        (" NOTIFY=NEVER,SUCCESS", "Bad NOTIFY parameter"),
        (" NOTIFY=SUCCESS,NEVER", "Bad NOTIFY parameter"),
        (" NOTIFY=SOMETIMES", "Bad NOTIFY parameter"),
        (" NOTIFY=SUCCESS,", "Bad NOTIFY parameter"),
        (" NOTIFY", "Parameter needs a value"),
        (" NOTIFY=NEVER NOTIFY=NEVER", "Duplicate parameter"),
        (" ORCPT=c@d.example", "Bad ORCPT parameter"),
        (" ORCPT=rfc822;c+2@d.example", "Bad ORCPT parameter"),
        (" ORCPT=rfc822;c+zz@d.example", "Bad ORCPT parameter"),
        (" ORCPT=;c@d.example", "Bad ORCPT parameter"),
        (" ORCPT=utf-8;c\\x{41}@d.example", "Bad ORCPT parameter"),
        (
            " ORCPT=rfc822;c@d.example ORCPT=rfc822;c@d.example",
            "Duplicate parameter",
        ),
    ] {
        assert_eq!(
            reply(&mut s, &format!("RCPT TO:<c@d.example>{params}\r\n")),
            format!("501 5.5.4 {text}\r\n"),
            "{params}"
        );
    }
    assert_eq!(
        reply(&mut s, "RCPT TO:<c@d.example> XTRA=1\r\n"),
        "555 5.5.4 Unsupported parameter XTRA\r\n"
    );
    // Nothing was accepted.
    assert_eq!(
        reply(&mut s, "DATA\r\n"),
        "554 5.5.1 Error: no valid recipients\r\n"
    );
}

#[test]
fn utf8_orcpt() {
    // The \x{HEX} form is plain ASCII: fine without SMTPUTF8.
    let mut s = ehlo_session(dsn());
    mail_ok(&mut s, "<a@b.example>");
    let got = rcpt_params(
        &mut s,
        "<c@d.example>",
        r" ORCPT=utf-8;j\x{F6}ran@b\x{FC}cher.example",
        Verdict::Accept,
    );
    assert_eq!(got.orcpt.as_deref(), Some("utf-8;jöran@bücher.example"));
    // Raw UTF-8 (utf-8-addr-unitext) needs SMTPUTF8 on MAIL.
    assert_eq!(
        reply(
            &mut s,
            "RCPT TO:<c@d.example> ORCPT=utf-8;jöran@bücher.example\r\n"
        ),
        "501 5.5.4 Bad ORCPT parameter\r\n"
    );
    assert_eq!(reply(&mut s, "RSET\r\n"), "250 2.0.0 Ok\r\n");
    mail_ok(&mut s, "<a@b.example> SMTPUTF8");
    let got = rcpt_params(
        &mut s,
        "<jöran@bücher.example>",
        r" ORCPT=UTF-8;jöran@b\x{FC}cher.example",
        Verdict::Accept,
    );
    assert_eq!(got.orcpt.as_deref(), Some("utf-8;jöran@bücher.example"));
}

#[test]
fn dsn_lengthens_mail_and_rcpt_lines() {
    // RFC 3461 section 4: MAIL may be 100 and RCPT 500 octets longer.
    let mail = |len: usize| {
        let head = "MAIL FROM:<a@b.example> ENVID=";
        format!("{head}{}\r\n", "e".repeat(len - head.len() - 2))
    };
    let rcpt = |len: usize| {
        let head = "RCPT TO:<c@d.example> ORCPT=rfc822;";
        let tail = "@d.example\r\n";
        format!("{head}{}{tail}", "c".repeat(len - head.len() - tail.len()))
    };
    let mut s = ehlo_session(dsn());
    // 612 octets is a MAIL line (whose ENVID is then too long), 613 is not.
    assert_eq!(mail(612).len(), 612);
    assert_eq!(
        reply(&mut s, &mail(612)),
        "501 5.5.4 Bad ENVID parameter\r\n"
    );
    assert_eq!(
        reply(&mut s, &mail(613)),
        "500 5.5.6 Error: line too long\r\n"
    );
    mail_ok(&mut s, "<a@b.example> ENVID=abc");
    // 1012 octets is a RCPT line (whose ORCPT is then too long), 1013 is not.
    assert_eq!(rcpt(1012).len(), 1012);
    assert_eq!(
        reply(&mut s, &rcpt(1012)),
        "501 5.5.4 Bad ORCPT parameter\r\n"
    );
    assert_eq!(
        reply(&mut s, &rcpt(1013)),
        "500 5.5.6 Error: line too long\r\n"
    );
    // The longest ORCPT makes a line over the plain 512-octet limit.
    let longest = rcpt("RCPT TO:<c@d.example> ORCPT=".len() + 500 + 2);
    assert!(longest.len() > 512);
    s.feed(longest.as_bytes());
    assert!(matches!(s.poll(), Some(Event::CheckRecipient { .. })));
    assert_eq!(
        s.pending_rcpt_params()
            .and_then(|p| p.orcpt.as_ref())
            .map(String::len),
        Some(500)
    );
    s.rcpt_verdict(Verdict::Accept);
    assert_eq!(drain(&mut s), ["250 2.1.5 Ok\r\n"]);
    // Other commands keep the plain limit.
    let noop = format!("NOOP {}\r\n", "x".repeat(506));
    assert_eq!(reply(&mut s, &noop), "500 5.5.6 Error: line too long\r\n");

    // Without DSN the plain limit applies to MAIL and RCPT.
    let mut s = ehlo_session(Config::new(HOST));
    assert_eq!(
        reply(&mut s, &mail(513)),
        "500 5.5.6 Error: line too long\r\n"
    );
    mail_ok(&mut s, "<a@b.example>");
    assert_eq!(
        reply(&mut s, &rcpt(513)),
        "500 5.5.6 Error: line too long\r\n"
    );
}
