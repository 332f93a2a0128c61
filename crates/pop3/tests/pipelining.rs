//! RFC 2449 PIPELINING and input limits: ordering, waiting for results, long lines, floods.

mod common;

use common::*;
use praisani_pop3::{AuthOutcome, Config, Event, State};

#[test]
fn batch_with_auth_result_in_the_middle() {
    let mut s = session();
    let events = run(
        &mut s,
        "CAPA\r\nUSER alice\r\nPASS secret\r\nSTAT\r\nDELE 1\r\nLIST\r\nRETR 2\r\nNOOP\r\nQUIT\r\n",
    );
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(sent(&events[..2]).starts_with("+OK Capability list follows\r\n"));
    assert!(matches!(events[2], Event::Authenticate { .. }));
    // Still waiting: later commands stay buffered, in order.
    assert_eq!(s.poll(), None);
    assert!(s.buffered() > 0);
    s.auth_result(AuthOutcome::Ok {
        messages: messages(),
    });
    let events = drain(&mut s);
    assert_eq!(
        events,
        vec![
            Event::Send(b"+OK Logged in, 3 messages (600 octets)\r\n".to_vec()),
            Event::Send(b"+OK 3 600\r\n".to_vec()),
            Event::Send(b"+OK message 1 deleted\r\n".to_vec()),
            Event::Send(b"+OK 2 messages (500 octets)\r\n2 200\r\n3 300\r\n.\r\n".to_vec()),
            Event::Retrieve {
                id: 12,
                size: 200,
                top_lines: None
            },
            Event::Send(b"+OK\r\n".to_vec()),
            Event::Update { delete: vec![11] },
        ]
    );
    s.update_result(true);
    assert_eq!(drain(&mut s).last(), Some(&Event::Close));
}

#[test]
fn failed_auth_in_batch_then_commands_are_unauthenticated() {
    let mut s = session();
    run(&mut s, "USER alice\r\nPASS wrong\r\nSTAT\r\n");
    s.auth_result(AuthOutcome::Failed);
    assert_eq!(
        sent(&drain(&mut s)),
        "-ERR [AUTH] Authentication failed\r\n-ERR Command not valid in this state\r\n"
    );
}

#[test]
fn commands_split_across_feeds() {
    let mut s = logged_in();
    let input = b"STAT\r\nLIST 2\r\n";
    let mut events = Vec::new();
    for b in input {
        s.feed(&[*b]);
        events.extend(drain(&mut s));
    }
    assert_eq!(sent(&events), "+OK 3 600\r\n+OK 2 200\r\n");
}

#[test]
fn overlong_lines() {
    let mut s = session_with(Config {
        max_line: 64,
        ..config()
    });
    let long = format!("USER {}\r\n", "x".repeat(1000));
    assert_eq!(reply(&mut s, &long), "-ERR Line too long\r\n");
    // The boundary: 64 octets including CRLF is accepted, 65 is not.
    let fits = format!("USER {}\r\n", "y".repeat(64 - 7));
    assert_eq!(fits.len(), 64);
    assert_eq!(reply(&mut s, &fits), "+OK\r\n");
    let too_long = format!("USER {}\r\n", "y".repeat(64 - 6));
    assert_eq!(reply(&mut s, &too_long), "-ERR Line too long\r\n");
    // A huge line in pieces: never buffered, answered once its LF arrives.
    for _ in 0..1000 {
        s.feed(&[b'z'; 1000]);
        assert!(s.buffered() < 64);
        assert_eq!(s.poll(), None);
    }
    assert_eq!(
        reply(&mut s, "\r\nCAPA\r\n").lines().next(),
        Some("-ERR Line too long")
    );

    login_with(&mut s, messages());
    assert_eq!(
        reply(&mut s, &format!("LIST {}\r\nSTAT\r\n", "1".repeat(100))),
        "-ERR Line too long\r\n+OK 3 600\r\n"
    );
    assert_eq!(s.state(), State::Transaction);
}

#[test]
fn nul_and_control_bytes_are_errors() {
    let mut s = session();
    assert_eq!(
        reply(&mut s, "US\0ER a\r\n"),
        "-ERR Invalid character in command\r\n"
    );
    assert_eq!(reply(&mut s, "USER a\r\n"), "+OK\r\n");
    assert_eq!(
        reply(&mut s, "PASS se\0cret\r\n"),
        "-ERR Invalid character in command\r\n"
    );
    let mut s = logged_in();
    assert_eq!(
        reply(&mut s, "STAT\0\r\n"),
        "-ERR Invalid character in command\r\n"
    );
    assert_eq!(
        reply(&mut s, "\x1b[0m\r\n"),
        "-ERR Invalid character in command\r\n"
    );
}

#[test]
fn flood_while_waiting_is_bounded_and_closes() {
    let config = Config {
        max_pipelined: 4096,
        ..config()
    };
    let bound = config.max_line + config.max_pipelined;
    let mut s = session_with(config);
    run(&mut s, "USER alice\r\nPASS secret\r\n");
    assert!(s.wants_input());
    for _ in 0..10_000 {
        s.feed(b"NOOP\r\n");
        assert!(s.buffered() <= bound);
        assert_eq!(s.poll(), None);
    }
    assert!(!s.wants_input());
    s.auth_result(AuthOutcome::Ok {
        messages: messages(),
    });
    let events = drain(&mut s);
    let text = sent(&events);
    let noops = text.matches("+OK\r\n").count();
    assert!(noops > 10 && noops < 10_000, "{noops}");
    assert!(
        text.ends_with("-ERR Too many pipelined commands, closing\r\n"),
        "{}",
        &text[text.len() - 80..]
    );
    assert_eq!(events.last(), Some(&Event::Close));
    assert!(!events.iter().any(|e| matches!(e, Event::Update { .. })));
    assert_eq!(s.buffered(), 0);
}

#[test]
fn large_pipelined_batch_within_limits_is_answered_in_order() {
    let mut s = logged_in();
    let mut input = String::new();
    for i in 0..500 {
        input.push_str(&format!("LIST {}\r\n", i % 3 + 1));
    }
    let text = reply(&mut s, &input);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 500);
    for (i, line) in lines.iter().enumerate() {
        let n = i % 3 + 1;
        assert_eq!(*line, format!("+OK {n} {}", n * 100));
    }
}
