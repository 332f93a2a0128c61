//! Feeds arbitrary bytes, split at arbitrary points, into a POP3 session,
//! answering its requests (logins succeed or fail by the input's parity), and
//! checks it never panics and its buffer stays bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use praisani_pop3::{AuthOutcome, Config, Event, MessageInfo, Session};
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let config = Arc::new(Config { allow_plaintext: true, apop: true, ..Config::default() });
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
                Event::Retrieve { .. } | Event::Send(_) | Event::Close => {}
            }
        }
        assert!(s.buffered() <= config.max_line + config.max_pipelined + 64);
        i = end;
    }
});
