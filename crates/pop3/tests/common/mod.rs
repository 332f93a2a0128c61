//! Helpers shared by the integration tests: a session driver and a tiny server stand-in.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::sync::Arc;

use praisani_pop3::{
    AuthOutcome, Config, Encoder, Event, MessageInfo, Session, retr_ok_line, top_ok_line,
};

pub const TS: &str = "<1896.697170952@dbc.mtview.ca.us>";

/// A config with everything enabled, as on a TLS connection.
pub fn config() -> Config {
    Config {
        hostname: "pop.example.org".into(),
        allow_plaintext: true,
        apop: true,
        ..Config::default()
    }
}

/// A session whose greeting has been consumed.
pub fn session_with(config: Config) -> Session {
    let mut s = Session::new(Arc::new(config), TS.to_owned());
    let greeting = s.poll();
    assert!(matches!(greeting, Some(Event::Send(_))), "{greeting:?}");
    s
}

pub fn session() -> Session {
    session_with(config())
}

/// Feeds `input` and drains every event.
pub fn run(s: &mut Session, input: &str) -> Vec<Event> {
    s.feed(input.as_bytes());
    drain(s)
}

pub fn drain(s: &mut Session) -> Vec<Event> {
    std::iter::from_fn(|| s.poll()).collect()
}

/// The text of all `Send` events, concatenated.
pub fn sent(events: &[Event]) -> String {
    let mut out = Vec::new();
    for e in events {
        if let Event::Send(bytes) = e {
            out.extend_from_slice(bytes);
        }
    }
    String::from_utf8(out).expect("replies are UTF-8")
}

/// Feeds one command and returns the replies, asserting nothing else happened.
pub fn reply(s: &mut Session, input: &str) -> String {
    let events = run(s, input);
    assert!(
        events.iter().all(|e| matches!(e, Event::Send(_))),
        "unexpected events for {input:?}: {events:?}"
    );
    sent(&events)
}

/// Three messages; the second UID starts with a dot to exercise stuffing.
pub fn messages() -> Vec<MessageInfo> {
    vec![
        MessageInfo {
            id: 11,
            uid: "uid-a".into(),
            size: 100,
        },
        MessageInfo {
            id: 12,
            uid: ".dot".into(),
            size: 200,
        },
        MessageInfo {
            id: 13,
            uid: "uid-c".into(),
            size: 300,
        },
    ]
}

/// Logs in with USER/PASS and the given maildrop.
pub fn login_with(s: &mut Session, messages: Vec<MessageInfo>) {
    let events = run(s, "USER alice\r\nPASS secret\r\n");
    assert!(
        matches!(events.last(), Some(Event::Authenticate { .. })),
        "{events:?}"
    );
    s.auth_result(AuthOutcome::Ok { messages });
    let text = sent(&drain(s));
    assert!(text.starts_with("+OK Logged in"), "{text}");
}

/// A logged-in session with [`messages`].
pub fn logged_in() -> Session {
    let mut s = session();
    login_with(&mut s, messages());
    s
}

/// What a server writes for an `Event::Retrieve` when the store returns `content`,
/// streamed in chunks of `chunk` octets.
pub fn serve_retrieve(content: &[u8], size: u64, top_lines: Option<u64>, chunk: usize) -> Vec<u8> {
    let mut out = match top_lines {
        None => retr_ok_line(size),
        Some(_) => top_ok_line(),
    };
    let mut encoder = Encoder::new(top_lines);
    for piece in content.chunks(chunk.max(1)) {
        if encoder.is_done() {
            break;
        }
        encoder.encode(piece, &mut out);
    }
    encoder.finish(&mut out);
    out
}

/// Marsaglia xorshift64: deterministic, dependency-free randomness for the robustness tests.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform-ish in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// STLS offered, plaintext logins refused without TLS, PLAIN only under TLS.
pub fn tls_config() -> Config {
    Config {
        hostname: "pop.example.org".into(),
        allow_plaintext: false,
        apop: false,
        stls: true,
        sasl_mechanisms_tls: vec!["PLAIN".into(), "SCRAM-SHA-256".into()],
        sasl_mechanisms_plain: vec!["SCRAM-SHA-256".into()],
        ..Config::default()
    }
}

/// A session with `config`, under TLS or not, whose greeting has been consumed.
pub fn session_tls(config: Config, tls: bool) -> Session {
    let mut s = Session::with_tls(Arc::new(config), TS.to_owned(), tls);
    let greeting = s.poll();
    assert!(matches!(greeting, Some(Event::Send(_))), "{greeting:?}");
    s
}

/// The capability lines of a CAPA reply.
pub fn capa_lines(text: &str) -> Vec<&str> {
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines[0], "+OK Capability list follows");
    assert_eq!(lines[lines.len() - 2], ".");
    assert_eq!(lines[lines.len() - 1], "");
    lines[1..lines.len() - 2].to_vec()
}

/// Runs STLS and completes the handshake.
pub fn starttls(s: &mut Session) {
    let events = run(s, "STLS\r\n");
    assert_eq!(
        events,
        vec![
            Event::Send(b"+OK Begin TLS negotiation\r\n".to_vec()),
            Event::StartTls
        ]
    );
    s.tls_established();
    assert!(s.tls_active());
}
