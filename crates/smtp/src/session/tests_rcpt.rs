//! Recipient refusals and the transaction's recipient state across RSET, MAIL
//! and EHLO.

use super::tests::{HOST, drain, ehlo_session, mail_ok, rcpt_ok, run};
use crate::config::Config;
use crate::event::{Event, Verdict};
use crate::reply::Reply;

fn unknown_user() -> Verdict {
    Verdict::Reject(Reply::new(550, "5.1.1", "No such user here"))
}

#[test]
fn refused_recipients_count_as_bad_commands() {
    let mut c = Config::new(HOST);
    c.max_bad_commands = 3;
    let mut s = ehlo_session(c);
    mail_ok(&mut s, "<a@b.example>");
    for i in 0..3 {
        assert_eq!(
            run(&mut s, &format!("RCPT TO:<u{i}@d.example>\r\n")),
            [format!("?rcpt u{i}@d.example")]
        );
        s.rcpt_verdict(unknown_user());
        assert_eq!(drain(&mut s), ["550 5.1.1 No such user here\r\n"]);
    }
    // A temporary refusal (relay not now, mailbox full) counts as well.
    assert_eq!(
        run(&mut s, "RCPT TO:<u3@d.example>\r\n"),
        ["?rcpt u3@d.example"]
    );
    s.rcpt_verdict(Verdict::Reject(Reply::new(452, "4.2.2", "Mailbox full")));
    assert_eq!(
        drain(&mut s),
        ["421 4.7.0 mx.example.org Too many errors\r\n", "close"]
    );
    assert!(s.is_closed());
}

#[test]
fn accepted_recipients_do_not_count() {
    let mut c = Config::new(HOST);
    c.max_bad_commands = 1;
    c.max_recipients = 1000;
    let mut s = ehlo_session(c);
    mail_ok(&mut s, "<a@b.example>");
    for i in 0..50 {
        rcpt_ok(&mut s, &format!("<u{i}@d.example>"));
    }
    assert!(!s.is_closed());
}

#[test]
fn refusals_pipelined_stop_at_the_limit() {
    let mut c = Config::new(HOST);
    c.max_bad_commands = 2;
    let mut s = ehlo_session(c);
    mail_ok(&mut s, "<a@b.example>");
    let batch: String = (0..10)
        .map(|i| format!("RCPT TO:<u{i}@d.example>\r\n"))
        .collect();
    s.feed(batch.as_bytes());
    let mut asked = 0;
    loop {
        match s.poll() {
            Some(Event::CheckRecipient { .. }) => {
                asked += 1;
                s.rcpt_verdict(unknown_user());
            }
            Some(Event::Close) => break,
            Some(_) => {}
            None => panic!("no close after {asked} refusals"),
        }
    }
    assert_eq!(asked, 3, "the server was asked after the limit");
    assert_eq!(s.buffered_input(), 0, "the rest of the batch was dropped");
}

/// The engine's recipient list belongs to one transaction: RSET, a new EHLO and
/// the end of DATA empty it, so the recipient limit counts afresh.
#[test]
fn rset_and_ehlo_start_the_recipient_count_afresh() {
    let mut c = Config::new(HOST);
    c.max_recipients = 2;
    let mut s = ehlo_session(c);
    for reset in ["RSET\r\n", "EHLO client.example\r\n", "RSET\r\n"] {
        mail_ok(&mut s, "<a@b.example>");
        rcpt_ok(&mut s, "<x@d.example>");
        rcpt_ok(&mut s, "<y@d.example>");
        assert_eq!(
            run(&mut s, "RCPT TO:<z@d.example>\r\n"),
            ["452 4.5.3 Error: too many recipients\r\n"]
        );
        let out = run(&mut s, reset);
        assert!(out[0].starts_with("250"), "{out:?}");
    }
}
