//! Whole exchanges through the public API, as a protocol layer drives them.

use super::*;
use crate::credentials::{hmac_sha256, sha256};

fn verify(authcid: &str, authzid: Option<&str>, password: &str) -> Step {
    Step::VerifyPassword {
        authcid: authcid.into(),
        authzid: authzid.map(Into::into),
        password: password.into(),
    }
}

fn success(authcid: &str, authzid: Option<&str>) -> Step {
    Step::Success {
        authcid: authcid.into(),
        authzid: authzid.map(Into::into),
        final_data: None,
    }
}

// ---------------------------------------------------------------- PLAIN

#[test]
fn plain_with_initial_response() {
    let mut ex = ServerExchange::new(Mechanism::Plain);
    assert_eq!(
        ex.start(Some(b"\0joe\0secret")),
        verify("joe", None, "secret")
    );
    assert!(!ex.is_done());
    assert_eq!(ex.password_checked(true), success("joe", None));
    assert!(ex.is_done());
}

#[test]
fn plain_without_initial_response_sends_empty_challenge() {
    let mut ex = ServerExchange::new(Mechanism::Plain);
    assert_eq!(ex.start(None), Step::Challenge(Vec::new()));
    assert_eq!(
        ex.step(b"boss\0joe\0secret"),
        verify("joe", Some("boss"), "secret")
    );
    // The authzid is passed through for the server to judge.
    assert_eq!(ex.password_checked(true), success("joe", Some("boss")));
}

#[test]
fn plain_wrong_password() {
    let mut ex = ServerExchange::new(Mechanism::Plain);
    assert_eq!(ex.start(Some(b"\0joe\0nope")), verify("joe", None, "nope"));
    assert_eq!(
        ex.password_checked(false),
        Step::Failure(Failure::BadCredentials)
    );
    assert!(ex.is_done());
}

#[test]
fn plain_malformed_messages_fail_the_exchange() {
    for m in [
        &b""[..],             // `AUTH PLAIN =`
        b"joe\0secret",       // missing NUL
        b"\0joe\0sec\0ret",   // three NULs
        b"\0joe\0",           // empty password
        b"\0\0secret",        // empty authcid
        b"\0j\xffoe\0secret", // invalid UTF-8
    ] {
        let mut ex = ServerExchange::new(Mechanism::Plain);
        assert!(
            matches!(ex.start(Some(m)), Step::Failure(Failure::Malformed(_))),
            "{m:?}"
        );
        assert!(ex.is_done());
        let mut ex = ServerExchange::new(Mechanism::Plain);
        ex.start(None);
        assert!(
            matches!(ex.step(m), Step::Failure(Failure::Malformed(_))),
            "{m:?}"
        );
    }
}

// ---------------------------------------------------------------- LOGIN

#[test]
fn login_without_initial_response() {
    let mut ex = ServerExchange::new(Mechanism::Login);
    assert_eq!(ex.start(None), Step::Challenge(b"Username:".to_vec()));
    assert_eq!(ex.step(b"joe"), Step::Challenge(b"Password:".to_vec()));
    assert_eq!(ex.step(b"secret"), verify("joe", None, "secret"));
    assert_eq!(ex.password_checked(true), success("joe", None));
}

#[test]
fn login_with_user_as_initial_response() {
    // Outlook and copiers: `AUTH LOGIN am9l`.
    let mut ex = ServerExchange::new(Mechanism::Login);
    assert_eq!(
        ex.start(Some(b"joe")),
        Step::Challenge(b"Password:".to_vec())
    );
    assert_eq!(ex.step(b"secret"), verify("joe", None, "secret"));
    assert_eq!(
        ex.password_checked(false),
        Step::Failure(Failure::BadCredentials)
    );
}

#[test]
fn login_with_empty_initial_response_prompts_for_the_user() {
    let mut ex = ServerExchange::new(Mechanism::Login);
    assert_eq!(ex.start(Some(b"")), Step::Challenge(b"Username:".to_vec()));
    assert_eq!(ex.step(b"joe"), Step::Challenge(b"Password:".to_vec()));
}

#[test]
fn login_rejects_empty_user_and_password() {
    let mut ex = ServerExchange::new(Mechanism::Login);
    ex.start(None);
    assert!(matches!(ex.step(b""), Step::Failure(Failure::Malformed(_))));
    let mut ex = ServerExchange::new(Mechanism::Login);
    ex.start(Some(b"joe"));
    assert!(matches!(ex.step(b""), Step::Failure(Failure::Malformed(_))));
    assert!(ex.is_done());
}

// ---------------------------------------------------------------- order

#[test]
fn calls_out_of_order_end_the_exchange() {
    let mut ex = ServerExchange::new(Mechanism::Plain);
    assert!(matches!(
        ex.step(b"\0a\0b"),
        Step::Failure(Failure::Malformed(_))
    ));
    assert!(ex.is_done());

    let mut ex = ServerExchange::new(Mechanism::Plain);
    assert_eq!(ex.start(None), Step::Challenge(vec![]));
    assert!(matches!(
        ex.password_checked(true),
        Step::Failure(Failure::Malformed(_))
    ));
    // A finished exchange never turns into a success afterwards.
    assert!(matches!(ex.step(b"\0a\0b"), Step::Failure(_)));
    assert!(matches!(ex.password_checked(true), Step::Failure(_)));

    let mut ex = ServerExchange::new(Mechanism::Login);
    ex.start(None);
    assert!(matches!(
        ex.start(None),
        Step::Failure(Failure::Malformed(_))
    ));

    let mut ex = ServerExchange::new(Mechanism::ScramSha256);
    assert_eq!(
        ex.start(Some(b"n,,n=user,r=abc")),
        Step::NeedScramCredentials {
            authcid: "user".into()
        }
    );
    // A client line while the lookup is pending is refused, not parsed.
    assert!(matches!(
        ex.step(b"c=biws"),
        Step::Failure(Failure::Malformed(_))
    ));
    assert!(matches!(ex.scram_credentials(None), Step::Failure(_)));

    let mut ex = ServerExchange::new(Mechanism::Plain);
    ex.start(Some(b"\0a\0b"));
    assert!(matches!(
        ex.scram_credentials(None),
        Step::Failure(Failure::Malformed(_))
    ));
    assert!(matches!(ex.password_checked(true), Step::Failure(_)));
}

// ---------------------------------------------------------------- SCRAM

const RFC_CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
const RFC_SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
const RFC_SERVER_FIRST: &str =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const RFC_CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                                p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const RFC_SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

/// A minimal SCRAM client: client-final for `password` given what was sent.
fn client_final(password: &str, gs2: &str, bare: &str, server_first: &str) -> String {
    let nonce = server_first
        .split(',')
        .next()
        .unwrap()
        .strip_prefix("r=")
        .unwrap();
    client_final_raw(password, gs2, nonce, bare, server_first)
}

/// Like [`client_final`] but with the `c=` header and `r=` nonce chosen by
/// the caller, and a proof that is valid for exactly what is sent: this
/// is how a tampering client gets past the proof check, so only the
/// server's own `c=` / `r=` checks can catch it.
fn client_final_raw(
    password: &str,
    cbind: &str,
    nonce: &str,
    bare: &str,
    server_first: &str,
) -> String {
    let attr = |k: &str| {
        server_first
            .split(',')
            .find_map(|a| a.strip_prefix(k))
            .unwrap()
            .to_owned()
    };
    let (salt, iter) = (
        b64_decode(&attr("s=")).unwrap(),
        attr("i=").parse().unwrap(),
    );
    let without_proof = format!("c={},r={nonce}", b64_encode(cbind.as_bytes()));
    let auth_message = format!("{bare},{server_first},{without_proof}");
    // ClientKey the long way, as a client computes it.
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), &salt, iter, &mut salted);
    let client_key = hmac_sha256(&salted, b"Client Key");
    let stored_key = sha256(&client_key);
    let signature = hmac_sha256(&stored_key, auth_message.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(signature)
        .map(|(k, s)| k ^ s)
        .collect();
    format!("{without_proof},p={}", b64_encode(&proof))
}

fn rfc_exchange() -> ServerExchange {
    let mut ex = ServerExchange::new(Mechanism::ScramSha256).with_server_nonce(RFC_SERVER_NONCE);
    assert_eq!(ex.start(None), Step::Challenge(vec![]));
    assert_eq!(
        ex.step(RFC_CLIENT_FIRST.as_bytes()),
        Step::NeedScramCredentials {
            authcid: "user".into()
        }
    );
    assert_eq!(
        ex.scram_credentials(Some(crate::credentials::rfc7677())),
        Step::Challenge(RFC_SERVER_FIRST.as_bytes().to_vec())
    );
    ex
}

#[test]
fn scram_matches_rfc7677_byte_for_byte() {
    // Our test client agrees with the RFC's client-final...
    assert_eq!(
        client_final(
            "pencil",
            "n,,",
            "n=user,r=rOprNGfwEbeRWgbNEkqO",
            RFC_SERVER_FIRST
        ),
        RFC_CLIENT_FINAL
    );
    // ...and the server accepts it with the RFC's server-final.
    let mut ex = rfc_exchange();
    assert_eq!(
        ex.step(RFC_CLIENT_FINAL.as_bytes()),
        Step::Success {
            authcid: "user".into(),
            authzid: None,
            final_data: Some(RFC_SERVER_FINAL.as_bytes().to_vec()),
        }
    );
    assert!(ex.is_done());
}

#[test]
fn scram_initial_response_and_y_flag_and_authzid() {
    let gs2 = "y,a=boss,";
    let bare = "n=joe=2Cjr,r=clientnonce123";
    let creds = ScramCredentials::derive("s3cret", b"0123456789abcdef", 4096);
    let mut ex = ServerExchange::new(Mechanism::ScramSha256);
    assert_eq!(
        ex.start(Some(format!("{gs2}{bare}").as_bytes())),
        Step::NeedScramCredentials {
            authcid: "joe,jr".into()
        }
    );
    let Step::Challenge(server_first) = ex.scram_credentials(Some(creds.clone())) else {
        panic!("no server-first");
    };
    let server_first = String::from_utf8(server_first).unwrap();
    assert!(
        server_first.starts_with("r=clientnonce123"),
        "{server_first}"
    );
    assert!(
        server_first.ends_with(",s=MDEyMzQ1Njc4OWFiY2RlZg==,i=4096"),
        "{server_first}"
    );
    let Step::Success {
        authcid,
        authzid,
        final_data,
    } = ex.step(client_final("s3cret", gs2, bare, &server_first).as_bytes())
    else {
        panic!("no success");
    };
    assert_eq!(
        (authcid.as_str(), authzid.as_deref()),
        ("joe,jr", Some("boss"))
    );
    assert!(final_data.unwrap().starts_with(b"v="));
}

#[test]
fn scram_server_nonce_is_fresh_each_time() {
    let first = |_: u8| {
        let mut ex = ServerExchange::new(Mechanism::ScramSha256);
        ex.start(Some(b"n,,n=user,r=abc"));
        match ex.scram_credentials(Some(crate::credentials::rfc7677())) {
            Step::Challenge(c) => String::from_utf8(c).unwrap(),
            other => panic!("{other:?}"),
        }
    };
    let (a, b) = (first(0), first(1));
    assert_ne!(a, b);
    let nonce = a.split(',').next().unwrap().strip_prefix("r=abc").unwrap();
    assert_eq!(nonce.len(), 32);
    assert!(
        nonce
            .bytes()
            .all(|c| (0x21..=0x7e).contains(&c) && c != b',')
    );
}

#[test]
fn scram_wrong_password_fails() {
    let mut ex = rfc_exchange();
    let wrong = client_final(
        "pencil2",
        "n,,",
        "n=user,r=rOprNGfwEbeRWgbNEkqO",
        RFC_SERVER_FIRST,
    );
    assert_eq!(
        ex.step(wrong.as_bytes()),
        Step::Failure(Failure::BadCredentials)
    );
    assert!(ex.is_done());
}

#[test]
fn scram_unknown_user_fails_only_at_the_proof() {
    let start = |user: &str| {
        let mut ex =
            ServerExchange::new(Mechanism::ScramSha256).with_fake_credential_secret([42; 32]);
        let bare = format!("n={user},r=rOprNGfwEbeRWgbNEkqO");
        assert_eq!(
            ex.start(Some(format!("n,,{bare}").as_bytes())),
            Step::NeedScramCredentials {
                authcid: user.into()
            }
        );
        (ex, bare)
    };
    // A real user for comparison.
    let (mut real, _) = start("user");
    let Step::Challenge(real_first) =
        real.scram_credentials(Some(ScramCredentials::generate("pencil")))
    else {
        panic!()
    };
    let (mut ghost, bare) = start("ghost");
    let Step::Challenge(ghost_first) = ghost.scram_credentials(None) else {
        panic!("an unknown user must get a server-first, not an early failure")
    };
    let (real_first, ghost_first) = (
        String::from_utf8(real_first).unwrap(),
        String::from_utf8(ghost_first).unwrap(),
    );
    // Same shape: same nonce length, a 16-byte salt, the default iteration count.
    let shape = |s: &str| {
        s.split(',')
            .map(|a| (a[..2].to_owned(), a.len()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        shape(&real_first),
        shape(&ghost_first),
        "{real_first} vs {ghost_first}"
    );
    assert!(ghost_first.ends_with(",i=4096"));
    // Asking again for the same unknown user shows the same salt, as a real account would.
    let (mut again, _) = start("ghost");
    let Step::Challenge(again_first) = again.scram_credentials(None) else {
        panic!()
    };
    let salt = |s: &str| s.split(',').nth(1).unwrap().to_owned();
    assert_eq!(
        salt(&String::from_utf8(again_first).unwrap()),
        salt(&ghost_first)
    );
    // A well-formed, correctly computed proof for any password still fails,
    // with the same failure as a wrong password.
    let attempt = client_final("pencil", "n,,", &bare, &ghost_first);
    assert_eq!(
        ghost.step(attempt.as_bytes()),
        Step::Failure(Failure::BadCredentials)
    );
}

#[test]
fn scram_made_up_salt_follows_the_callers_normalised_name() {
    let salt_for = |user: &str, fake_name: Option<&str>| {
        let mut ex =
            ServerExchange::new(Mechanism::ScramSha256).with_fake_credential_secret([42; 32]);
        ex.start(Some(format!("n,,n={user},r=abc").as_bytes()));
        let Step::Challenge(first) = ex.scram_credentials_as(None, fake_name) else {
            panic!("no server-first")
        };
        String::from_utf8(first)
            .unwrap()
            .split(',')
            .nth(1)
            .unwrap()
            .to_owned()
    };
    // Two spellings of one missing user, normalised by the caller: one salt.
    assert_eq!(
        salt_for("Ghost@Example.Test", Some("ghost@example.test")),
        salt_for("ghost@example.test", Some("ghost@example.test"))
    );
    // Without a normalised name the spelling as sent is used.
    assert_eq!(
        salt_for("ghost@example.test", None),
        salt_for("x", Some("ghost@example.test"))
    );
    assert_ne!(
        salt_for("ghost@example.test", None),
        salt_for("Ghost@example.test", None)
    );
}

#[test]
fn scram_tampered_channel_binding_or_nonce_fails() {
    let tampered = [
        // c= of a "y" header while the client sent "n".
        RFC_CLIENT_FINAL.replace("c=biws", "c=eSws"),
        // c= carries p= binding data.
        RFC_CLIENT_FINAL.replace("c=biws", &format!("c={}", b64_encode(b"n,,data"))),
        // r= with a changed server nonce.
        RFC_CLIENT_FINAL.replace("hNlF$k0", "hNlF$k1"),
        // r= with the server part cut off.
        RFC_CLIENT_FINAL.replace("%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", ""),
        // flipped proof bit.
        RFC_CLIENT_FINAL.replace("p=dHzb", "p=dHzc"),
    ];
    for t in tampered {
        let mut ex = rfc_exchange();
        assert_eq!(
            ex.step(t.as_bytes()),
            Step::Failure(Failure::BadCredentials),
            "{t}"
        );
    }
    // The same tampering with a proof computed over the tampered message:
    // the proof is valid, so only the c= / r= checks themselves can refuse.
    let bare = "n=user,r=rOprNGfwEbeRWgbNEkqO";
    let full_nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    assert_eq!(
        client_final_raw("pencil", "n,,", full_nonce, bare, RFC_SERVER_FIRST),
        RFC_CLIENT_FINAL
    );
    for (cbind, nonce) in [
        ("y,,", full_nonce),
        ("n,a=user,", full_nonce),
        ("n,,", "rOprNGfwEbeRWgbNEkqO"),
        ("n,,", "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0X"),
        ("n,,", "rOprNGfwEbeRWgbNEkqOX%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"),
    ] {
        let t = client_final_raw("pencil", cbind, nonce, bare, RFC_SERVER_FIRST);
        let mut ex = rfc_exchange();
        assert_eq!(
            ex.step(t.as_bytes()),
            Step::Failure(Failure::BadCredentials),
            "{t}"
        );
    }
    for malformed in [
        RFC_CLIENT_FINAL.replace(",p=", ",q="),        // no proof
        RFC_CLIENT_FINAL.replace("c=biws,", ""),       // no c=
        RFC_CLIENT_FINAL.replace("c=biws", "c=biws="), // bad base64
        RFC_CLIENT_FINAL.replace("p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", "p=AAAA"), // short proof
        RFC_CLIENT_FINAL.replace(",r=", ",x=y,r="), // order
    ] {
        let mut ex = rfc_exchange();
        assert!(
            matches!(
                ex.step(malformed.as_bytes()),
                Step::Failure(Failure::Malformed(_))
            ),
            "{malformed}"
        );
    }
    // An unknown extension before the proof is ignored but signed.
    let mut ex = rfc_exchange();
    let with_ext = RFC_CLIENT_FINAL.replace(",p=", ",x=1,p=");
    assert_eq!(
        ex.step(with_ext.as_bytes()),
        Step::Failure(Failure::BadCredentials)
    );
}

#[test]
fn scram_refuses_channel_binding_and_mandatory_extensions() {
    let mut ex = ServerExchange::new(Mechanism::ScramSha256);
    assert_eq!(
        ex.start(Some(b"p=tls-exporter,,n=user,r=abc")),
        Step::Failure(Failure::Unsupported("SCRAM channel binding"))
    );
    let mut ex = ServerExchange::new(Mechanism::ScramSha256);
    ex.start(None);
    assert_eq!(
        ex.step(b"n,,m=ext,n=user,r=abc"),
        Step::Failure(Failure::Unsupported("SCRAM mandatory extension"))
    );
    let mut ex = ServerExchange::new(Mechanism::ScramSha256);
    assert!(matches!(
        ex.start(Some(b"")),
        Step::Failure(Failure::Malformed(_))
    ));
}

// ---------------------------------------------------------------- junk

/// xorshift64: reproducible junk without a dependency.
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, alphabet: &[u8]) -> Vec<u8> {
        let len = (self.next() % 96) as usize;
        (0..len)
            .map(|_| alphabet[(self.next() % alphabet.len() as u64) as usize])
            .collect()
    }
}

#[test]
fn random_input_never_panics() {
    // Junk drawn from the bytes that matter to the parsers, plus anything.
    let all: Vec<u8> = (0..=255).collect();
    let structured = b"\0,=nyrcpmasi23CD biws+/abcUSER\xff\xc3\xa9";
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let creds = crate::credentials::rfc7677();
    let mut successes = 0;
    for round in 0..20_000u32 {
        let alphabet: &[u8] = if round % 2 == 0 { &all } else { structured };
        let mechanism = Mechanism::ALL[round as usize % 3];
        let mut ex = ServerExchange::new(mechanism);
        let initial = rng.bytes(alphabet);
        let mut step = ex.start(if rng.next().is_multiple_of(2) {
            Some(&initial)
        } else {
            None
        });
        for _ in 0..4 {
            step = match step {
                Step::Challenge(_) => ex.step(&rng.bytes(alphabet)),
                Step::VerifyPassword { .. } => ex.password_checked(false),
                Step::NeedScramCredentials { .. } => {
                    ex.scram_credentials((rng.next().is_multiple_of(2)).then(|| creds.clone()))
                }
                Step::Success { .. } => {
                    successes += 1;
                    break;
                }
                Step::Failure(_) => break,
            };
        }
        // Also junk calls out of order, and junk storage strings.
        let _ = ex.step(&rng.bytes(alphabet));
        let _ = ex.password_checked(true);
        let _ = b64_decode(&String::from_utf8_lossy(&rng.bytes(alphabet)));
        let _ = ScramCredentials::from_storage(&String::from_utf8_lossy(&rng.bytes(alphabet)));
    }
    // Junk must never authenticate (password_checked was always false).
    assert_eq!(successes, 0);
}

#[test]
fn random_scram_client_final_never_panics() {
    // Mutate a valid client-final byte by byte: deeper than pure junk gets.
    let mut rng = XorShift(0x1234_5678_9abc_def1);
    for _ in 0..3_000 {
        let mut msg = RFC_CLIENT_FINAL.as_bytes().to_vec();
        for _ in 0..=(rng.next() % 4) {
            let i = (rng.next() % msg.len() as u64) as usize;
            match rng.next() % 3 {
                0 => msg[i] = rng.next() as u8,
                1 => {
                    msg.remove(i);
                }
                _ => msg.insert(i, b",=p"[(rng.next() % 3) as usize]),
            }
        }
        let mut ex = rfc_exchange();
        let outcome = ex.step(&msg);
        if msg != RFC_CLIENT_FINAL.as_bytes() {
            assert!(
                matches!(outcome, Step::Failure(_)),
                "{:?}",
                String::from_utf8_lossy(&msg)
            );
        }
    }
}
