//! Random input must never panic the session nor grow its memory without bound.

mod common;

use std::sync::Arc;

use common::*;
use praisani_pop3::{
    AuthOutcome, Config, Encoder, Event, MAX_SASL_LINE, MessageInfo, Session, State,
};

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
    b"STLS\r\n",
    b"STLS\r\nUSER mallory\r\nPASS x\r\n",
    b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n",
    b"AUTH SCRAM-SHA-256\r\n",
    b"auth plain =\r\n",
    b"AUTH\r\n",
    b"AUTH X-UNKNOWN\r\n",
    b"*\r\n",
    b"dGVzdA==\r\n",
];

fn random_input(rng: &mut XorShift) -> Vec<u8> {
    let mut input = Vec::new();
    for _ in 0..rng.below(8) {
        match rng.below(5) {
            0 => {
                // Raw noise, sometimes long enough to exceed the line limit.
                let len = if rng.below(10) == 0 { 2000 } else { 20 };
                input.extend((0..rng.below(len)).map(|_| rng.next() as u8));
            }
            1 if rng.below(8) == 0 => {
                // A long AUTH line or SASL response, around the SASL line limit.
                let len = [600, 12_000, 12_290, 20_000][rng.below(4) as usize];
                if rng.below(2) == 0 {
                    input.extend_from_slice(b"AUTH PLAIN ");
                }
                input.extend(std::iter::repeat_n(b'A', len));
                input.extend_from_slice(b"\r\n");
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
    let mut tls = 0;
    let mut sasl = 0;
    for round in 0..3000 {
        let config = Config {
            max_line: [4, 16, 64, 512][rng.below(4) as usize],
            max_pipelined: [64, 1024, 8192][rng.below(3) as usize],
            max_auth_failures: rng.below(4) as usize,
            allow_plaintext: rng.below(4) != 0,
            apop: rng.below(2) == 0,
            stls: rng.below(2) == 0,
            sasl_mechanisms_tls: match rng.below(3) {
                0 => vec![],
                _ => vec!["PLAIN".into(), "SCRAM-SHA-256".into()],
            },
            sasl_mechanisms_plain: match rng.below(3) {
                0 => vec!["SCRAM-SHA-256".into()],
                _ => vec![],
            },
            ..config()
        };
        let bound =
            if config.sasl_mechanisms_tls.is_empty() && config.sasl_mechanisms_plain.is_empty() {
                config.max_line + config.max_pipelined
            } else {
                let long = config.max_line.max(MAX_SASL_LINE);
                long + config.max_pipelined.max(long + 32)
            };
        let mut s = Session::with_tls(Arc::new(config), TS.to_owned(), rng.below(4) == 0);
        assert_eq!(s.buffer_limit(), bound);
        let mut seen_transaction = false;
        let mut tls_pending = false;
        let mut sasl_pending = false;
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
                    match rng.below(8) {
                        0 => s.auth_result(AuthOutcome::TempFail),
                        1 => s.update_result(rng.below(2) == 0),
                        2 => s.tls_established(),
                        3 => s.auth_challenge("late"),
                        _ => break,
                    }
                    continue;
                };
                match event {
                    Event::Send(bytes) => {
                        assert!(bytes.ends_with(b"\r\n"));
                        assert!(
                            bytes.starts_with(b"+OK")
                                || bytes.starts_with(b"-ERR")
                                || bytes.starts_with(b"+ ")
                        );
                    }
                    Event::StartTls => {
                        assert!(!s.tls_active());
                        assert!(!s.wants_input());
                        tls_pending = true;
                        if rng.below(4) != 0 {
                            s.tls_established();
                            assert!(s.tls_active());
                        }
                    }
                    Event::Auth { .. } | Event::AuthResponse(_) => {
                        sasl_pending = true;
                        match rng.below(6) {
                            0 | 1 => s.auth_challenge(["", "dGVzdA=="][rng.below(2) as usize]),
                            2 => s.auth_result(AuthOutcome::Failed),
                            3 => {} // answered later, or never
                            _ => {
                                s.set_user("carol".into());
                                s.auth_result(AuthOutcome::Ok {
                                    messages: random_messages(&mut rng),
                                })
                            }
                        }
                    }
                    Event::AuthCancelled => assert_eq!(s.state(), State::Authorization),
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
        tls += usize::from(tls_pending);
        sasl += usize::from(sasl_pending);
    }
    // The generator does reach the interesting states.
    assert!(closed > 100, "{closed}");
    assert!(logged_in > 100, "{logged_in}");
    assert!(tls > 100, "{tls}");
    assert!(sasl > 100, "{sasl}");
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
