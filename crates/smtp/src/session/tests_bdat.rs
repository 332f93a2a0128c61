//! BDAT (RFC 3030) through the session: every state, pipelining, the limits, and
//! chunk octets that look like commands or like an end of data.

use std::sync::Arc;

use super::Session;
use super::tests::{
    HOST, drain, ehlo_session, mail_ok, random_verdict, rcpt_ok, render, reply, run, session_with,
};
use crate::config::Config;
use crate::data::CHUNK_SIZE;
use crate::event::{Event, Verdict};
use crate::reply::Reply;
use crate::test_rng::XorShift;

fn chunking() -> Config {
    let mut c = Config::new(HOST);
    c.chunking = true;
    c
}

/// After EHLO, MAIL and one accepted RCPT, with CHUNKING on.
fn rcpt_session(config: Config) -> Session {
    let mut s = ehlo_session(config);
    mail_ok(&mut s, "<a@b.example>");
    rcpt_ok(&mut s, "<c@d.example>");
    s
}

/// Feed raw octets and drain all events.
fn feed(s: &mut Session, input: &[u8]) -> Vec<String> {
    s.feed(input);
    drain(s)
}

/// The smuggling payload: an end of data, then a whole second transaction.
const SMUGGLED: &[u8] = b"Subject: one\r\n\r\nbody\r\n.\r\nMAIL FROM:<evil@x.example>\r\n\
    RCPT TO:<victim@d.example>\r\nDATA\r\nSubject: two\r\n\r\n.\r\nQUIT\r\n";

#[test]
fn chunking_is_advertised_only_when_on() {
    let mut s = session_with(chunking());
    let ehlo = reply(&mut s, "EHLO client.example\r\n");
    assert!(ehlo.contains("\r\n250-CHUNKING\r\n"), "{ehlo}");
    let mut s = session_with(Config::new(HOST));
    let ehlo = reply(&mut s, "EHLO client.example\r\n");
    assert!(!ehlo.contains("CHUNKING"), "{ehlo}");
    // No BINARYMIME: it would let binary bodies into a store that POP3 clients read
    // as text.
    let mut s = session_with(chunking());
    assert!(!reply(&mut s, "EHLO c\r\n").contains("BINARYMIME"));
    assert_eq!(
        reply(&mut s, "MAIL FROM:<a@b.example> BODY=BINARYMIME\r\n"),
        "555 5.5.4 Unsupported BODY type BINARYMIME\r\n"
    );
}

#[test]
fn chunks_make_one_message_and_the_250_waits_for_the_verdict() {
    let mut s = rcpt_session(chunking());
    assert_eq!(
        feed(&mut s, b"BDAT 12\r\nSubject: x\r\n"),
        [
            "start",
            "chunk Subject: x\r\n",
            "250 2.0.0 Ok: 12 octets received\r\n"
        ]
    );
    assert!(!s.in_data());
    assert_eq!(
        feed(&mut s, b"BDAT 8 LAST\r\n\r\nbody\r\n"),
        ["chunk \r\nbody\r\n", "end"]
    );
    assert!(s.is_waiting(), "no 250 before the server committed");
    assert!(
        run(&mut s, "NOOP\r\n").is_empty(),
        "pipelined commands wait"
    );
}

#[test]
fn envelope_is_that_of_the_transaction() {
    let mut s = rcpt_session(chunking());
    rcpt_ok(&mut s, "<e@f.example>");
    s.feed(b"BDAT 1 LAST\r\nx");
    let Some(Event::MessageStart(env)) = s.poll() else {
        panic!("no MessageStart");
    };
    assert_eq!(env.helo, "client.example");
    assert!(env.esmtp);
    assert_eq!(env.recipients.len(), 2);
    assert_eq!(drain(&mut s), ["chunk x\r\n", "end"]);
    s.message_accepted("Q1");
    assert_eq!(drain(&mut s), ["250 2.0.0 Ok: queued as Q1\r\n"]);
    // The transaction is over.
    assert_eq!(
        feed(&mut s, b"BDAT 1 LAST\r\ny"),
        ["503 5.5.1 Error: need MAIL command\r\n"]
    );
}

#[test]
fn chunk_content_is_never_commands_nor_an_end_of_data() {
    let mut s = rcpt_session(chunking());
    let mut input = format!("BDAT {}\r\n", SMUGGLED.len()).into_bytes();
    input.extend_from_slice(SMUGGLED);
    input.extend_from_slice(b"BDAT 0 LAST\r\n");
    let out = feed(&mut s, &input);
    let body = String::from_utf8_lossy(SMUGGLED);
    assert_eq!(
        out,
        [
            "start".to_string(),
            format!("chunk {body}"),
            format!("250 2.0.0 Ok: {} octets received\r\n", SMUGGLED.len()),
            "end".into(),
        ]
    );
    assert!(!s.is_closed(), "the QUIT in the chunk was content");
    s.message_accepted("Q");
    assert_eq!(drain(&mut s), ["250 2.0.0 Ok: queued as Q\r\n"]);
}

#[test]
fn refused_bdat_chunks_are_skipped_not_parsed() {
    let mut input = format!("BDAT {}\r\n", SMUGGLED.len()).into_bytes();
    input.extend_from_slice(SMUGGLED);
    input.extend_from_slice(b"NOOP\r\n");
    let noop = "250 2.0.0 Ok\r\n";
    // Before EHLO, after HELO, without MAIL, without a recipient: one reply after
    // the chunk, then the NOOP; nothing of the chunk is a command.
    let mut s = session_with(chunking());
    assert_eq!(
        feed(&mut s, &input),
        ["503 5.5.1 Error: send EHLO first\r\n", noop]
    );
    let mut s = session_with(chunking());
    assert_eq!(run(&mut s, "HELO c\r\n").len(), 1);
    assert_eq!(
        feed(&mut s, &input),
        ["503 5.5.1 Error: send EHLO first\r\n", noop]
    );
    let mut s = ehlo_session(chunking());
    assert_eq!(
        feed(&mut s, &input),
        ["503 5.5.1 Error: need MAIL command\r\n", noop]
    );
    mail_ok(&mut s, "<a@b.example>");
    assert_eq!(run(&mut s, "RCPT TO:<c@d.example>\r\n").len(), 1);
    s.rcpt_verdict(Verdict::Reject(Reply::new(550, "5.1.1", "no such user")));
    assert_eq!(drain(&mut s), ["550 5.1.1 no such user\r\n"]);
    assert_eq!(
        feed(&mut s, &input),
        ["554 5.5.1 Error: no valid recipients\r\n", noop]
    );
}

#[test]
fn chunks_split_anywhere_are_still_counted_exactly() {
    let mut s = rcpt_session(chunking());
    let mut input = b"BDAT 10\r\n".to_vec();
    input.extend_from_slice(b"MAIL FROM:");
    input.extend_from_slice(b"BDAT 3 LAST\r\n<x>");
    let mut out = Vec::new();
    for b in &input {
        s.feed(&[*b]);
        while let Some(ev) = s.poll() {
            out.push(render(ev));
        }
    }
    let joined: String = out
        .iter()
        .filter_map(|e| e.strip_prefix("chunk "))
        .collect();
    assert_eq!(joined, "MAIL FROM:<x>\r\n");
    assert_eq!(out.first().map(String::as_str), Some("start"));
    assert_eq!(out.last().map(String::as_str), Some("end"));
    assert!(out.contains(&"250 2.0.0 Ok: 10 octets received\r\n".to_string()));
    assert!(!out.iter().any(|e| e.starts_with("?sender")));
}

#[test]
fn line_ends_are_normalised_across_chunks() {
    let mut s = rcpt_session(chunking());
    let out = feed(&mut s, b"BDAT 3\r\na\nbBDAT 2\r\nc\rBDAT 2 LAST\r\n\nd");
    let joined: String = out
        .iter()
        .filter_map(|e| e.strip_prefix("chunk "))
        .collect();
    assert_eq!(
        joined, "a\r\nbc\r\nd\r\n",
        "CR|LF across a chunk is one line end"
    );
    assert_eq!(out.last().map(String::as_str), Some("end"));
}

#[test]
fn bdat_0_last() {
    // Ends a message of several chunks.
    let mut s = rcpt_session(chunking());
    assert_eq!(
        feed(&mut s, b"BDAT 3\r\nab\nBDAT 0 LAST\r\n"),
        [
            "start",
            "chunk ab\r\n",
            "250 2.0.0 Ok: 3 octets received\r\n",
            "end"
        ]
    );
    // Alone it is an empty message, as an empty DATA body is.
    let mut s = rcpt_session(chunking());
    assert_eq!(feed(&mut s, b"BDAT 0 LAST\r\n"), ["start", "end"]);
    // A plain BDAT 0 is a chunk of nothing.
    let mut s = rcpt_session(chunking());
    assert_eq!(
        feed(&mut s, b"BDAT 0\r\n"),
        ["start", "250 2.0.0 Ok: 0 octets received\r\n"]
    );
}

#[test]
fn rset_and_hello_between_chunks_drop_the_message() {
    for (cmd, reply_start) in [
        ("RSET\r\n", "250 2.0.0 Ok"),
        ("EHLO again\r\n", "250-mx.example.org"),
        ("HELO again\r\n", "250 mx.example.org"),
    ] {
        let mut s = rcpt_session(chunking());
        assert_eq!(feed(&mut s, b"BDAT 2\r\nab").len(), 3);
        let out = run(&mut s, cmd);
        assert_eq!(out[0], "aborted", "{cmd}");
        assert!(out[1].starts_with(reply_start), "{cmd}: {out:?}");
        assert_eq!(
            reply(&mut s, "RCPT TO:<x@y.example>\r\n"),
            "503 5.5.1 Error: need MAIL command\r\n"
        );
    }
    // And a new transaction works afterwards.
    let mut s = rcpt_session(chunking());
    feed(&mut s, b"BDAT 2\r\nab");
    run(&mut s, "RSET\r\n");
    mail_ok(&mut s, "<a@b.example>");
    rcpt_ok(&mut s, "<c@d.example>");
    assert_eq!(
        feed(&mut s, b"BDAT 2 LAST\r\ncd"),
        ["start", "chunk cd\r\n", "end"]
    );
}

#[test]
fn commands_that_do_not_belong_between_chunks() {
    let mut c = chunking();
    c.starttls = true;
    c.auth_mechanisms_plain = vec!["PLAIN".into()];
    let mut s = rcpt_session(c);
    feed(&mut s, b"BDAT 2\r\nab");
    assert_eq!(
        reply(&mut s, "MAIL FROM:<z@b.example>\r\n"),
        "503 5.5.1 Error: nested MAIL command\r\n"
    );
    assert_eq!(
        reply(&mut s, "RCPT TO:<z@d.example>\r\n"),
        "503 5.5.1 Error: RCPT after BDAT\r\n"
    );
    assert_eq!(
        reply(&mut s, "STARTTLS\r\n"),
        "503 5.5.1 Error: MAIL transaction in progress\r\n"
    );
    assert_eq!(
        reply(&mut s, "AUTH PLAIN\r\n"),
        "503 5.5.1 Error: AUTH not permitted during a mail transaction\r\n"
    );
    assert_eq!(reply(&mut s, "NOOP\r\n"), "250 2.0.0 Ok\r\n");
    // The message survived all of that.
    assert_eq!(feed(&mut s, b"BDAT 1 LAST\r\nc"), ["chunk c\r\n", "end"]);
}

#[test]
fn data_after_bdat_is_refused_and_fails_the_transaction() {
    let mut s = rcpt_session(chunking());
    feed(&mut s, b"BDAT 2\r\nab");
    assert_eq!(
        run(&mut s, "DATA\r\n"),
        ["aborted", "503 5.5.1 Error: DATA after BDAT\r\n"]
    );
    assert!(!s.in_data(), "no 354, no body");
    // Pipelined chunks after the failure are skipped.
    assert_eq!(
        feed(&mut s, b"BDAT 6 LAST\r\nQUIT\r\n"),
        ["503 5.5.1 Error: the transaction failed, send RSET\r\n"]
    );
    assert!(!s.is_closed());
    assert_eq!(reply(&mut s, "RSET\r\n"), "250 2.0.0 Ok\r\n");
    assert_eq!(
        feed(&mut s, b"BDAT 1 LAST\r\nx"),
        ["503 5.5.1 Error: need MAIL command\r\n"]
    );
}

#[test]
fn oversized_message_gets_552_after_its_chunk_and_the_session_goes_on() {
    let mut c = chunking();
    c.max_message_size = 10;
    let mut s = rcpt_session(c);
    // Pipelined: a chunk that fits, one that breaks the limit (holding what looks
    // like commands), and the LAST one the client sent before seeing the 552.
    let out = feed(
        &mut s,
        b"BDAT 5\r\n12345BDAT 20\r\nRSET\r\nQUIT\r\nMAIL FROBDAT 3 LAST\r\nxyzNOOP\r\n",
    );
    assert_eq!(
        out,
        [
            "start",
            "chunk 12345",
            "250 2.0.0 Ok: 5 octets received\r\n",
            "aborted",
            "552 5.3.4 Message size exceeds fixed maximum message size\r\n",
            "503 5.5.1 Error: the transaction failed, send RSET\r\n",
            "250 2.0.0 Ok\r\n",
        ]
    );
    assert!(!s.is_waiting(), "no MessageEnd");
    assert!(!s.is_closed());
    // A fresh transaction after RSET (or MAIL) is fine.
    assert_eq!(reply(&mut s, "RSET\r\n"), "250 2.0.0 Ok\r\n");
    mail_ok(&mut s, "<a@b.example>");
    rcpt_ok(&mut s, "<c@d.example>");
    assert_eq!(
        feed(&mut s, b"BDAT 8 LAST\r\n12345678"),
        ["start", "chunk 12345678\r\n", "end"],
        "8 octets and the final CRLF make 10"
    );
}

#[test]
fn the_final_crlf_counts_toward_the_size() {
    let mut c = chunking();
    c.max_message_size = 10;
    let mut s = rcpt_session(c);
    assert_eq!(
        feed(&mut s, b"BDAT 9 LAST\r\n123456789"),
        [
            "start",
            "aborted",
            "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
        ]
    );
}

#[test]
fn a_message_may_be_larger_than_any_one_read() {
    let mut c = chunking();
    c.max_message_size = 0;
    let mut s = rcpt_session(c);
    let line = format!("{}\r\n", "y".repeat(998));
    let body = line.repeat(300); // 300 000 octets, several CHUNK_SIZE events
    s.feed(format!("BDAT {} LAST\r\n", body.len()).as_bytes());
    let mut total = 0;
    for piece in body.as_bytes().chunks(7000) {
        s.feed(piece);
        while let Some(ev) = s.poll() {
            match ev {
                Event::MessageChunk(c) => {
                    assert!(c.len() <= CHUNK_SIZE);
                    total += c.len();
                }
                Event::MessageStart(_) | Event::MessageEnd => {}
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(s.buffered_input(), 0, "chunk octets are not held as a line");
    }
    assert_eq!(total, body.len());
    assert!(s.is_waiting());
}

#[test]
fn text_line_limit_and_utf8_header_as_for_data() {
    let mut c = chunking();
    c.max_text_line = 10;
    let mut s = rcpt_session(c);
    assert_eq!(
        feed(&mut s, b"BDAT 16\r\nok\r\n1234567890\r\n"),
        ["start", "aborted", "500 5.5.6 Text line too long\r\n"]
    );
    // The line limit is DATA's: a bare LF ends a line (and becomes CRLF).
    let mut c = chunking();
    c.max_text_line = 10;
    let mut s = rcpt_session(c);
    assert_eq!(
        feed(&mut s, b"BDAT 18 LAST\r\n12345678\n12345678\n"),
        ["start", "chunk 12345678\r\n12345678\r\n", "end"]
    );

    let mut s = rcpt_session(chunking());
    let msg = "Subject: ไทย\r\n\r\nbody\r\n";
    let mut input = format!("BDAT {}\r\n", msg.len()).into_bytes();
    input.extend_from_slice(msg.as_bytes());
    assert_eq!(
        feed(&mut s, &input),
        [
            "start",
            "aborted",
            "550 5.6.9 Message has UTF-8 header fields: send it with SMTPUTF8\r\n"
        ]
    );
    // With SMTPUTF8 it is a message like any other; an 8-bit body needs nothing.
    let mut s = ehlo_session(chunking());
    mail_ok(&mut s, "<a@b.example> SMTPUTF8");
    rcpt_ok(&mut s, "<c@d.example>");
    let mut last = format!("BDAT {} LAST\r\n", msg.len()).into_bytes();
    last.extend_from_slice(msg.as_bytes());
    assert_eq!(
        feed(&mut s, &last),
        ["start", format!("chunk {msg}").as_str(), "end"]
    );
}

#[test]
fn malformed_bdat() {
    // A readable size: the chunk is skipped, the session goes on.
    let mut s = rcpt_session(chunking());
    assert_eq!(
        feed(&mut s, b"BDAT 6 FIRST\r\nQUIT\r\nNOOP\r\n"),
        ["501 5.5.4 Syntax: BDAT size [LAST]\r\n", "250 2.0.0 Ok\r\n"]
    );
    // In the middle of a message the message is lost with its chunk.
    feed(&mut s, b"BDAT 1\r\nx");
    assert_eq!(
        feed(&mut s, b"BDAT 1 LAST more\r\ny"),
        ["aborted", "501 5.5.4 Syntax: BDAT size [LAST]\r\n"]
    );
    assert_eq!(
        feed(&mut s, b"BDAT 1 LAST\r\nz"),
        ["503 5.5.1 Error: the transaction failed, send RSET\r\n"]
    );
    // No readable size: nothing after it can be told from chunk data.
    for bad in [
        "BDAT\r\n",
        "BDAT x LAST\r\n",
        "BDAT 99999999999999999999\r\n",
    ] {
        let mut s = rcpt_session(chunking());
        assert_eq!(
            feed(&mut s, format!("{bad}MAIL FROM:<e@x>\r\n").as_bytes()),
            ["501 5.5.4 Syntax: BDAT size [LAST]\r\n", "close"],
            "{bad}"
        );
    }
}

#[test]
fn chunking_off_means_bdat_is_unknown() {
    let mut s = ehlo_session(Config::new(HOST));
    mail_ok(&mut s, "<a@b.example>");
    rcpt_ok(&mut s, "<c@d.example>");
    for cmd in ["BDAT 1 LAST\r\n", "BDAT x\r\n"] {
        assert_eq!(
            reply(&mut s, cmd),
            "502 5.5.1 Error: command not implemented\r\n"
        );
    }
}

#[test]
fn server_refusal_at_last_ends_the_transaction() {
    let mut s = rcpt_session(chunking());
    assert_eq!(feed(&mut s, b"BDAT 1 LAST\r\n\0").len(), 3);
    s.message_verdict(Verdict::Reject(Reply::new(
        554,
        "5.6.0",
        "Message contains NUL octets",
    )));
    assert_eq!(drain(&mut s), ["554 5.6.0 Message contains NUL octets\r\n"]);
    mail_ok(&mut s, "<a@b.example>");
}

#[test]
fn whole_pipelined_transaction_in_one_read() {
    let mut s = ehlo_session(chunking());
    s.feed(
        b"MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 3\r\nabcBDAT 2 LAST\r\nde\
          NOOP\r\n",
    );
    assert_eq!(drain(&mut s), ["?sender a@b.example"]);
    s.mail_verdict(Verdict::Accept);
    assert_eq!(drain(&mut s), ["250 2.1.0 Ok\r\n", "?rcpt c@d.example"]);
    s.rcpt_verdict(Verdict::Accept);
    assert_eq!(
        drain(&mut s),
        [
            "250 2.1.5 Ok\r\n",
            "start",
            "chunk abc",
            "250 2.0.0 Ok: 3 octets received\r\n",
            "chunk de\r\n",
            "end"
        ]
    );
    s.message_accepted("Q");
    assert_eq!(
        drain(&mut s),
        ["250 2.0.0 Ok: queued as Q\r\n", "250 2.0.0 Ok\r\n"]
    );
}

#[test]
fn refused_chunks_count_as_bad_commands() {
    let mut c = chunking();
    c.max_bad_commands = 3;
    let mut s = ehlo_session(c);
    let out = feed(&mut s, &b"BDAT 4\r\nNOOP".repeat(5));
    assert_eq!(out.len(), 5, "{out:?}");
    assert!(out[3].starts_with("421 4.7.0"), "{out:?}");
    assert_eq!(out[4], "close");
}

#[test]
fn random_input_never_panics_and_stays_bounded() {
    let fragments: &[&[u8]] = &[
        b"EHLO x\r\n",
        b"MAIL FROM:<a@b.example>\r\n",
        b"RCPT TO:<c@d.example>\r\n",
        b"BDAT 5\r\n",
        b"BDAT 0 LAST\r\n",
        b"BDAT 3 LAST\r\n",
        b"BDAT 100\r\n",
        b"BDAT x\r\n",
        b"BDAT 2 FOO\r\n",
        b"DATA\r\n",
        b"RSET\r\n",
        b"\r\n.\r\n",
        b"\r",
        b"\n",
        b"\xc3\xa9",
    ];
    let mut rng = XorShift::new(0xbda7_0001);
    for round in 0..300 {
        let mut c = chunking();
        c.max_command_line = 64;
        c.max_text_line = 80;
        c.max_message_size = 2000;
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
            assert!(s.buffered_input() <= max_line + 1, "round {round}");
            if s.is_closed() {
                break;
            }
        }
    }
}
