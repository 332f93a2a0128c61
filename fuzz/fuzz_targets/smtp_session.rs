//! Feeds arbitrary bytes, split at arbitrary points, into an SMTP session,
//! answering its questions (accept or reject by the input), and checks it
//! never panics, its input buffer stays bounded, and every reply it sends is
//! a well-formed reply line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use praisani_smtp::{Config, Event, Reply, Session, Verdict};
use std::sync::Arc;

fn check_reply(bytes: &[u8]) {
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        assert!(line.ends_with(b"\r\n"), "reply line without CRLF: {line:?}");
        assert!(line.len() >= 5 && line[..3].iter().all(u8::is_ascii_digit));
        assert!(line[3] == b' ' || line[3] == b'-');
        assert!(!line[..line.len() - 2].iter().any(|&b| b == b'\r' || b == b'\n'));
    }
}

fuzz_target!(|data: &[u8]| {
    let mut config = Config::new("fuzz.example");
    config.max_message_size = 4096;
    config.max_recipients = 3;
    config.starttls = true;
    config.auth_mechanisms_tls = vec!["PLAIN".into(), "LOGIN".into()];
    config.auth_mechanisms_plain = vec!["SCRAM-SHA-256".into()];
    config.require_auth = data.first().is_some_and(|b| b % 2 == 0);
    config.chunking = data.get(1).is_none_or(|b| b % 3 != 0);
    let config = Arc::new(config);
    let mut s = Session::new(config.clone());
    let mut i = 0;
    while i < data.len() && !s.is_closed() {
        let step = 1 + (data[i] as usize % 53);
        let end = (i + step).min(data.len());
        s.feed(&data[i..end]);
        while let Some(ev) = s.poll() {
            let accept = data[i] % 4 != 0;
            let verdict = || {
                if accept { Verdict::Accept } else { Verdict::Reject(Reply::new(550, "5.1.1", "no")) }
            };
            match ev {
                Event::Send(bytes) => check_reply(&bytes),
                Event::CheckSender { .. } => s.mail_verdict(verdict()),
                Event::CheckRecipient { .. } => s.rcpt_verdict(verdict()),
                Event::MessageChunk(c) => assert!(c.len() <= praisani_smtp::CHUNK_SIZE),
                Event::MessageEnd => s.message_verdict(verdict()),
                Event::StartTls => s.tls_established(),
                Event::Auth { .. } => s.auth_challenge(""),
                Event::AuthResponse(line) => {
                    if line.len() % 2 == 0 {
                        s.auth_succeeded("user@example.test");
                    } else {
                        s.auth_failed(Reply::new(535, "5.7.8", "no"));
                    }
                }
                Event::MessageStart(_) | Event::MessageAborted | Event::Close | Event::AuthCancelled => {}
            }
        }
        assert!(s.buffered_input() <= praisani_smtp::AUTH_LINE_MAX + config.max_command_line + 64);
        i = end;
    }
});
