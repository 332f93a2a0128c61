//! Every SASL mechanism fed arbitrary client messages: no panic, and no
//! success without the right password.
#![no_main]

use libfuzzer_sys::fuzz_target;
use praisani_sasl::{Mechanism, ScramCredentials, ServerExchange, Step};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let mech = Mechanism::ALL[sel as usize % Mechanism::ALL.len()];
    let mut ex = ServerExchange::new(mech);
    let mut parts = rest.split(|&b| b == 0xff);
    let mut step = ex.start(parts.next());
    for _ in 0..8 {
        step = match step {
            Step::Challenge(_) => match parts.next() {
                Some(p) => ex.step(p),
                None => return,
            },
            Step::VerifyPassword { password, .. } => ex.password_checked(password == "right"),
            Step::NeedScramCredentials { .. } => {
                ex.scram_credentials(Some(ScramCredentials::derive("right", b"salt", 1)))
            }
            Step::Success { .. } => {
                // PLAIN/LOGIN only succeed with "right"; a SCRAM success
                // would mean the fuzzer forged an HMAC proof: a bug.
                assert!(mech != Mechanism::ScramSha256, "SCRAM succeeded without the key");
                return;
            }
            Step::Failure(_) => return,
        };
    }
});
