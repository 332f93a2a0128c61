//! Feeds arbitrary bytes, split at arbitrary points, into a POP3 session,
//! answering its requests (logins succeed or fail by the input's parity), and
//! checks it never panics and its buffer stays bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use praisani_pop3::{AuthOutcome, Config, Event, MessageInfo, Session};
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let config = Arc::new(Config {
        allow_plaintext: data.first().is_some_and(|b| b % 2 == 0),
        apop: true,
        stls: true,
        sasl_mechanisms_tls: vec!["PLAIN".into(), "SCRAM-SHA-256".into()],
        sasl_mechanisms_plain: vec!["SCRAM-SHA-256".into()],
        ..Config::default()
    });
    let mut s = Session::new(config.clone(), "<1.2@fuzz>".into());
    let mut i = 0;
    while i < data.len() {
        let step = 1 + (data[i] as usize % 37);
        let end = (i + step).min(data.len());
        s.feed(&data[i..end]);
        while let Some(ev) = s.poll() {
            match ev {
                Event::Authenticate { user, .. } => {
                    if user.len() % 2 == 0 {
                        let messages = (0..(user.len() as u64 % 5))
                            .map(|n| MessageInfo { id: n + 10, uid: format!("u{n}"), size: n * 100 })
                            .collect();
                        s.auth_result(AuthOutcome::Ok { messages });
                    } else {
                        s.auth_result(AuthOutcome::Failed);
                    }
                }
                Event::Update { .. } => s.update_result(data.len() % 3 != 0),
                Event::StartTls => s.tls_established(),
                Event::Auth { mechanism, .. } => {
                    if mechanism.len() % 2 == 0 {
                        s.auth_challenge("");
                    } else {
                        s.auth_result(AuthOutcome::Failed);
                    }
                }
                Event::AuthResponse(line) => {
                    if line.len() % 3 == 0 {
                        s.auth_result(AuthOutcome::Ok { messages: Vec::new() });
                    } else {
                        s.auth_challenge("eA==");
                    }
                }
                Event::Retrieve { .. } | Event::Send(_) | Event::Close | Event::AuthCancelled => {}
            }
        }
        assert!(s.buffered() <= s.buffer_limit());
        i = end;
    }
});
