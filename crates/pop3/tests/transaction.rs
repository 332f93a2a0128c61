//! TRANSACTION and UPDATE states: STAT, LIST, UIDL, RETR, TOP, DELE, RSET, NOOP, QUIT.

mod common;

use common::*;
use praisani_pop3::{Event, MessageInfo, State};

#[test]
fn stat_list_uidl_with_deletions() {
    let mut s = logged_in();
    assert_eq!(reply(&mut s, "STAT\r\n"), "+OK 3 600\r\n");
    assert_eq!(
        reply(&mut s, "LIST\r\n"),
        "+OK 3 messages (600 octets)\r\n1 100\r\n2 200\r\n3 300\r\n.\r\n"
    );
    // The UID ".dot" is dot-stuffed in the multi-line response but not in the single line.
    assert_eq!(
        reply(&mut s, "UIDL\r\n"),
        "+OK 3 messages (600 octets)\r\n1 uid-a\r\n2 .dot\r\n3 uid-c\r\n.\r\n"
    );
    assert_eq!(reply(&mut s, "UIDL 2\r\n"), "+OK 2 .dot\r\n");
    assert_eq!(reply(&mut s, "DELE 2\r\n"), "+OK message 2 deleted\r\n");
    assert_eq!(reply(&mut s, "STAT\r\n"), "+OK 2 400\r\n");
    assert_eq!(
        reply(&mut s, "LIST\r\n"),
        "+OK 2 messages (400 octets)\r\n1 100\r\n3 300\r\n.\r\n"
    );
    assert_eq!(
        reply(&mut s, "UIDL\r\n"),
        "+OK 2 messages (400 octets)\r\n1 uid-a\r\n3 uid-c\r\n.\r\n"
    );
    assert_eq!(reply(&mut s, "LIST 3\r\n"), "+OK 3 300\r\n");
    assert_eq!(reply(&mut s, "UIDL 1\r\n"), "+OK 1 uid-a\r\n");
    assert_eq!(
        reply(&mut s, "LIST 2\r\n"),
        "-ERR message 2 already deleted\r\n"
    );
    assert_eq!(
        reply(&mut s, "UIDL 2\r\n"),
        "-ERR message 2 already deleted\r\n"
    );
}

#[test]
fn message_number_errors() {
    let mut s = logged_in();
    for cmd in [
        "LIST 0",
        "LIST 4",
        "UIDL 0",
        "UIDL 4",
        "RETR 4",
        "DELE 0",
        "TOP 4 1",
        "LIST 18446744073709551616",
        "RETR 99999999999999999999999999",
    ] {
        assert_eq!(
            reply(&mut s, &format!("{cmd}\r\n")),
            "-ERR no such message\r\n",
            "{cmd}"
        );
    }
    for cmd in [
        "LIST x", "LIST -1", "LIST +1", "LIST 1 2", "RETR", "RETR 1.0", "DELE", "DELE one",
        "TOP 1", "TOP x 1", "TOP 1 -1", "TOP", "UIDL 0x1", "STAT 1", "NOOP x", "RSET 1",
        "QUIT now",
    ] {
        assert_eq!(
            reply(&mut s, &format!("{cmd}\r\n")),
            "-ERR Invalid argument\r\n",
            "{cmd}"
        );
    }
    // Nothing above changed the maildrop.
    assert_eq!(reply(&mut s, "STAT\r\n"), "+OK 3 600\r\n");
}

#[test]
fn tolerant_syntax() {
    let mut s = logged_in();
    assert_eq!(reply(&mut s, "list  2 \r\n"), "+OK 2 200\r\n");
    assert_eq!(reply(&mut s, "Stat\n"), "+OK 3 600\r\n");
    assert_eq!(reply(&mut s, "LIST 002\r\n"), "+OK 2 200\r\n");
}

#[test]
fn dele_twice_and_rset() {
    let mut s = logged_in();
    assert_eq!(reply(&mut s, "DELE 1\r\n"), "+OK message 1 deleted\r\n");
    assert_eq!(
        reply(&mut s, "DELE 1\r\n"),
        "-ERR message 1 already deleted\r\n"
    );
    assert_eq!(reply(&mut s, "DELE 3\r\n"), "+OK message 3 deleted\r\n");
    assert_eq!(reply(&mut s, "STAT\r\n"), "+OK 1 200\r\n");
    assert_eq!(
        reply(&mut s, "RSET\r\n"),
        "+OK maildrop has 3 messages (600 octets)\r\n"
    );
    assert_eq!(reply(&mut s, "STAT\r\n"), "+OK 3 600\r\n");
    assert_eq!(reply(&mut s, "LIST 1\r\n"), "+OK 1 100\r\n");
    // After RSET nothing is deleted at QUIT.
    let events = run(&mut s, "QUIT\r\n");
    assert_eq!(events, vec![Event::Update { delete: vec![] }]);
}

#[test]
fn noop() {
    let mut s = logged_in();
    assert_eq!(reply(&mut s, "NOOP\r\n"), "+OK\r\n");
}

#[test]
fn authorization_commands_not_valid_in_transaction() {
    let mut s = logged_in();
    for cmd in [
        "USER bob",
        "PASS x",
        "APOP bob c4c9334bac560ecc979e58001b3e22fb",
        "USER",
        "APOP x",
    ] {
        assert_eq!(
            reply(&mut s, &format!("{cmd}\r\n")),
            "-ERR Command not valid in this state\r\n",
            "{cmd}"
        );
    }
    assert_eq!(reply(&mut s, "XYZZY\r\n"), "-ERR Unknown command\r\n");
    assert_eq!(s.state(), State::Transaction);
    assert_eq!(s.user(), Some("alice"));
}

#[test]
fn retr_emits_retrieve() {
    let mut s = logged_in();
    assert_eq!(
        run(&mut s, "RETR 2\r\n"),
        vec![Event::Retrieve {
            id: 12,
            size: 200,
            top_lines: None
        }]
    );
    reply(&mut s, "DELE 2\r\n");
    assert_eq!(
        reply(&mut s, "RETR 2\r\n"),
        "-ERR message 2 already deleted\r\n"
    );
    assert_eq!(
        reply(&mut s, "TOP 2 0\r\n"),
        "-ERR message 2 already deleted\r\n"
    );
}

#[test]
fn top_emits_retrieve_with_line_count() {
    let mut s = logged_in();
    assert_eq!(
        run(&mut s, "TOP 1 0\r\n"),
        vec![Event::Retrieve {
            id: 11,
            size: 100,
            top_lines: Some(0)
        }]
    );
    assert_eq!(
        run(&mut s, "top 3 5\r\n"),
        vec![Event::Retrieve {
            id: 13,
            size: 300,
            top_lines: Some(5)
        }]
    );
    assert_eq!(
        run(&mut s, "TOP 3 99999999999999999999999\r\n"),
        vec![Event::Retrieve {
            id: 13,
            size: 300,
            top_lines: Some(u64::MAX)
        }]
    );
}

/// End to end: the session's Retrieve event plus the server-side encoder.
fn fetch(content: &[u8], command: &str) -> String {
    let mut s = session();
    login_with(
        &mut s,
        vec![MessageInfo {
            id: 1,
            uid: "u".into(),
            size: content.len() as u64,
        }],
    );
    let events = run(&mut s, command);
    let [
        Event::Retrieve {
            size, top_lines, ..
        },
    ] = events[..]
    else {
        panic!("{events:?}");
    };
    String::from_utf8(serve_retrieve(content, size, top_lines, 3)).unwrap()
}

#[test]
fn top_on_messages_with_and_without_body() {
    let msg = b"Subject: hi\r\nFrom: a@b\r\n\r\nline 1\r\n.line 2\r\nline 3\r\n";
    // TOP n 0: header and the blank line only (not the whole message).
    assert_eq!(
        fetch(msg, "TOP 1 0\r\n"),
        "+OK top of message follows\r\nSubject: hi\r\nFrom: a@b\r\n\r\n.\r\n"
    );
    assert_eq!(
        fetch(msg, "TOP 1 2\r\n"),
        "+OK top of message follows\r\nSubject: hi\r\nFrom: a@b\r\n\r\nline 1\r\n..line 2\r\n.\r\n"
    );
    // k larger than the body: the whole message.
    assert_eq!(
        fetch(msg, "TOP 1 50\r\n"),
        "+OK top of message follows\r\nSubject: hi\r\nFrom: a@b\r\n\r\nline 1\r\n..line 2\r\nline 3\r\n.\r\n"
    );
    assert_eq!(
        fetch(msg, "RETR 1\r\n"),
        format!(
            "+OK {} octets\r\nSubject: hi\r\nFrom: a@b\r\n\r\nline 1\r\n..line 2\r\nline 3\r\n.\r\n",
            msg.len()
        )
    );
    // Header and blank line but no body.
    let no_body = b"Subject: x\r\n\r\n";
    for k in ["0", "1", "10"] {
        assert_eq!(
            fetch(no_body, &format!("TOP 1 {k}\r\n")),
            "+OK top of message follows\r\nSubject: x\r\n\r\n.\r\n"
        );
    }
    // Header only, not even the blank line, and no final CRLF.
    assert_eq!(
        fetch(b"Subject: x", "TOP 1 0\r\n"),
        "+OK top of message follows\r\nSubject: x\r\n.\r\n"
    );
}

#[test]
fn quit_emits_exactly_the_deleted_ids() {
    let mut s = logged_in();
    let events = run(&mut s, "DELE 3\r\nDELE 1\r\nQUIT\r\nNOOP\r\n");
    assert_eq!(
        events,
        vec![
            Event::Send(b"+OK message 3 deleted\r\n".to_vec()),
            Event::Send(b"+OK message 1 deleted\r\n".to_vec()),
            Event::Update {
                delete: vec![11, 13]
            },
        ]
    );
    assert_eq!(s.state(), State::Update);
    assert_eq!(s.user(), Some("alice"));
    // The session waits; the pipelined NOOP is never answered.
    assert_eq!(s.poll(), None);
    s.update_result(true);
    assert_eq!(
        drain(&mut s),
        vec![
            Event::Send(
                b"+OK pop.example.org POP3 server signing off (1 message left)\r\n".to_vec()
            ),
            Event::Close
        ]
    );
    assert_eq!(s.state(), State::Closed);
    // Late results and input are ignored.
    s.update_result(false);
    s.auth_result(praisani_pop3::AuthOutcome::Failed);
    assert!(run(&mut s, "STAT\r\n").is_empty());
}

#[test]
fn quit_without_deletions() {
    let mut s = logged_in();
    assert_eq!(
        run(&mut s, "QUIT\r\n"),
        vec![Event::Update { delete: vec![] }]
    );
    s.update_result(true);
    assert_eq!(
        sent(&drain(&mut s)),
        "+OK pop.example.org POP3 server signing off (3 messages left)\r\n"
    );
}

#[test]
fn failed_update_reports_sys_temp() {
    let mut s = logged_in();
    run(&mut s, "DELE 2\r\nQUIT\r\n");
    s.update_result(false);
    assert_eq!(
        drain(&mut s),
        vec![
            Event::Send(b"-ERR [SYS/TEMP] Some deleted messages not removed\r\n".to_vec()),
            Event::Close
        ]
    );
}

#[test]
fn no_update_without_quit() {
    let mut s = logged_in();
    let events = run(&mut s, "DELE 1\r\nDELE 2\r\nLIST\r\nRSET\r\nDELE 3\r\n");
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::Update { .. } | Event::Close)),
        "{events:?}"
    );
    // The idle timeout: the server writes this and drops the session, no UPDATE.
    assert_eq!(
        s.autologout_reply(),
        b"-ERR Autologout; idle for too long\r\n".to_vec()
    );
    assert_eq!(s.state(), State::Transaction);
    assert_eq!(s.poll(), None);
}

#[test]
fn empty_maildrop() {
    let mut s = session();
    login_with(&mut s, vec![]);
    assert_eq!(reply(&mut s, "STAT\r\n"), "+OK 0 0\r\n");
    assert_eq!(
        reply(&mut s, "LIST\r\n"),
        "+OK 0 messages (0 octets)\r\n.\r\n"
    );
    assert_eq!(
        reply(&mut s, "UIDL\r\n"),
        "+OK 0 messages (0 octets)\r\n.\r\n"
    );
    assert_eq!(reply(&mut s, "RETR 1\r\n"), "-ERR no such message\r\n");
}
