//! Random input must never panic the session nor grow its memory without bound.

mod common;

use std::sync::Arc;

use common::*;
use praisani_pop3::{AuthOutcome, Config, Encoder, Event, MessageInfo, Session, State};

/// Fragments that steer random input into every state, mixed with raw noise.
const FRAGMENTS: &[&[u8]] = &[
    b"USER alice\r\n",
    b"PASS secret\r\n",
    b"APOP bob c4c9334bac560ecc979e58001b3e22fb\r\n",
    b"STAT\r\n",
    b"LIST\r\n",
    b"LIST 2\r\n",
    b"UIDL\r\n",
    b"UIDL 1\r\n",
    b"RETR 1\r\n",
    b"TOP 2 0\r\n",
    b"DELE 1\r\n",
    b"DELE 3\r\n",
    b"RSET\r\n",
    b"NOOP\r\n",
    b"CAPA\r\n",
    b"QUIT\r\n",
    b"\r\n",
    b"\n",
    b"\r",
    b"\0",
    b" ",
    b"LIST 18446744073709551616\r\n",
    b"TOP 1 99999999999999999999\r\n",
    b"\xff\xfe",
];

fn random_input(rng: &mut XorShift) -> Vec<u8> {
    let mut input = Vec::new();
    for _ in 0..rng.below(8) {
        match rng.below(4) {
            0 => {
                // Raw noise, sometimes long enough to exceed the line limit.
                let len = if rng.below(10) == 0 { 2000 } else { 20 };
                input.extend((0..rng.below(len)).map(|_| rng.next() as u8));
            }
            _ => input.extend_from_slice(FRAGMENTS[rng.below(FRAGMENTS.len() as u64) as usize]),
        }
    }
    input
}

fn random_messages(rng: &mut XorShift) -> Vec<MessageInfo> {
    (0..rng.below(5))
        .map(|i| MessageInfo {
            id: i,
            uid: format!(".u{i}"),
            size: rng.below(1000),
        })
        .collect()
}

#[test]
fn random_bytes_never_panic_and_stay_bounded() {
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let mut closed = 0;
    let mut logged_in = 0;
    for round in 0..3000 {
        let config = Config {
            max_line: [4, 16, 64, 512][rng.below(4) as usize],
            max_pipelined: [64, 1024, 8192][rng.below(3) as usize],
            max_auth_failures: rng.below(4) as usize,
            allow_plaintext: rng.below(4) != 0,
            apop: rng.below(2) == 0,
            ..config()
        };
        let bound = config.max_line + config.max_pipelined;
        let mut s = Session::new(Arc::new(config), TS.to_owned());
        let mut seen_transaction = false;
        for _ in 0..20 {
            let input = random_input(&mut rng);
            // Feed in random pieces.
            let mut rest = &input[..];
            while !rest.is_empty() {
                let n = 1 + rng.below(rest.len() as u64) as usize;
                s.feed(&rest[..n]);
                rest = &rest[n..];
                assert!(s.buffered() <= bound, "round {round}: {}", s.buffered());
            }
            // Drain, answering requests at random; sometimes answer late or twice.
            let mut steps = 0;
            loop {
                steps += 1;
                assert!(steps < 100_000, "poll loop does not settle");
                let Some(event) = s.poll() else {
                    match rng.below(6) {
                        0 => s.auth_result(AuthOutcome::TempFail),
                        1 => s.update_result(rng.below(2) == 0),
                        _ => break,
                    }
                    continue;
                };
                match event {
                    Event::Send(bytes) => {
                        assert!(bytes.ends_with(b"\r\n"));
                        assert!(bytes.starts_with(b"+OK") || bytes.starts_with(b"-ERR"));
                    }
                    Event::Authenticate { .. } => match rng.below(6) {
                        0 => s.auth_result(AuthOutcome::Failed),
                        1 => s.auth_result(AuthOutcome::InUse),
                        2 => s.auth_result(AuthOutcome::LoginDelay),
                        3 => {} // answered later, or never
                        _ => s.auth_result(AuthOutcome::Ok {
                            messages: random_messages(&mut rng),
                        }),
                    },
                    Event::Retrieve { top_lines, .. } => {
                        let mut e = Encoder::new(top_lines);
                        let mut out = Vec::new();
                        e.encode(&random_input(&mut rng), &mut out);
                        e.finish(&mut out);
                        assert!(out.ends_with(b".\r\n"));
                    }
                    Event::Update { .. } => {
                        assert_eq!(s.state(), State::Update);
                        if rng.below(2) == 0 {
                            s.update_result(rng.below(2) == 0);
                        }
                    }
                    Event::Close => assert_eq!(s.state(), State::Closed),
                }
                if s.state() == State::Transaction {
                    seen_transaction = true;
                }
                assert!(s.buffered() <= bound);
            }
        }
        closed += usize::from(s.state() == State::Closed);
        logged_in += usize::from(seen_transaction);
    }
    // The generator does reach the interesting states.
    assert!(closed > 100, "{closed}");
    assert!(logged_in > 100, "{logged_in}");
}

#[test]
fn pure_noise_against_a_logged_in_session() {
    let mut rng = XorShift(0xdead_beef_cafe_f00d);
    let mut s = logged_in();
    let bound = config().max_line + config().max_pipelined;
    for _ in 0..20_000 {
        let chunk: Vec<u8> = (0..rng.below(300)).map(|_| rng.next() as u8).collect();
        s.feed(&chunk);
        while let Some(event) = s.poll() {
            if let Event::Update { .. } = event {
                s.update_result(true);
            }
        }
        assert!(s.buffered() <= bound);
    }
}
