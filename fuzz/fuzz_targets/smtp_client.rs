//! The SMTP client engine fed arbitrary server replies: no panic, bounded
//! buffer, and it always ends in exactly one Closed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use praisani_delivery::client::{Client, ClientConfig, Envelope, Event, Recipient};
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let config = Arc::new(ClientConfig::new("client.example"));
    let mut c = Client::new(config.clone());
    let mut closed = 0;
    let mut sent_message = false;
    let drain = |c: &mut Client, closed: &mut usize, sent: &mut bool| {
        while let Some(ev) = c.poll() {
            match ev {
                Event::StartTls => c.tls_established(),
                Event::ReadyForMessage if !*sent => {
                    *sent = true;
                    let env = Envelope::new(
                        "a@example.test",
                        vec![Recipient::new("b@example.org"), Recipient::new("c@example.org")],
                    );
                    c.start_message(env);
                }
                Event::ReadyForMessage => c.quit(),
                Event::SendBody => c.body_sent(),
                Event::Closed(_) => *closed += 1,
                Event::Send(_) | Event::MessageDone(_) => {}
            }
        }
    };
    for piece in data.chunks(7) {
        c.feed(piece);
        drain(&mut c, &mut closed, &mut sent_message);
        assert!(c.buffered() <= config.max_line * 130);
    }
    c.connection_lost();
    drain(&mut c, &mut closed, &mut sent_message);
    assert_eq!(closed, 1, "Closed must come exactly once");
});
