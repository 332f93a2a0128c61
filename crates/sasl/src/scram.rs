//! SCRAM-SHA-256 (RFC 5802, RFC 7677), server side, without channel
//! binding.
//!
//! ```text
//! C: n,,n=user,r=<cnonce>                         client-first
//! S: r=<cnonce><snonce>,s=<b64 salt>,i=<iter>     server-first
//! C: c=biws,r=<cnonce><snonce>,p=<b64 proof>      client-final
//! S: v=<b64 ServerSignature>                      server-final (additional data with success)
//! ```
//!
//! We advertise only `SCRAM-SHA-256`, never `-PLUS`, so the gs2 flags
//! `n` (client cannot bind) and `y` (client could, but thinks we cannot)
//! are both correct and accepted; `p=` (the client insists on binding) is
//! refused. If `-PLUS` is ever advertised, `y` must be refused instead
//! (RFC 5802 section 6: it would signal a downgrade).

use std::sync::OnceLock;

use rand::RngCore;
use subtle::ConstantTimeEq;

use crate::State as Exchange;
use crate::b64::{b64_decode, b64_encode};
use crate::credentials::{DEFAULT_ITERATIONS, ScramCredentials, hmac_sha256, sha256};
use crate::mechanism::{Failure, Step};

/// Longest SCRAM message we parse. Real ones are ~100 bytes; the protocol
/// layer's line limit applies first, this only bounds our own work.
const MAX_MESSAGE: usize = 4096;

/// Random bytes in the server nonce (base64-encoded to 32 printable chars).
const SERVER_NONCE_BYTES: usize = 24;

/// Where a SCRAM exchange stands.
pub(crate) enum State {
    /// Sent an empty challenge, waiting for client-first.
    ExpectClientFirst,
    /// Parsed client-first, waiting for the caller's credential lookup.
    LookingUp(ClientFirst),
    /// Sent server-first, waiting for client-final.
    ExpectClientFinal(Box<Pending>),
}

/// What the exchange remembers of client-first.
pub(crate) struct ClientFirst {
    /// `n,,` / `y,,` / `n,a=…,` exactly as sent; `c=` must echo it.
    gs2_header: String,
    /// client-first-message-bare exactly as sent, for AuthMessage.
    bare: String,
    authcid: String,
    authzid: Option<String>,
    client_nonce: String,
}

/// What the exchange remembers after sending server-first.
pub(crate) struct Pending {
    gs2_header: String,
    authcid: String,
    authzid: Option<String>,
    /// `r=` value the client must echo.
    nonce: String,
    /// `client-first-message-bare "," server-first-message "," `.
    auth_message_head: String,
    stored_key: [u8; 32],
    server_key: [u8; 32],
    /// False for made-up credentials: fail even if the proof matched.
    known_user: bool,
}

/// Settings from the [`ServerExchange`](crate::ServerExchange).
pub(crate) struct Context {
    pub(crate) fake_secret: Option<[u8; 32]>,
    /// The name the made-up credentials derive from (else the authcid).
    pub(crate) fake_name: Option<String>,
    #[cfg(test)]
    pub(crate) server_nonce: Option<String>,
}

pub(crate) fn start(initial: Option<&[u8]>) -> (Exchange, Step) {
    match initial {
        // Client-first mechanism: no initial response means an empty
        // challenge, and client-first comes back as the reply.
        None => (
            Exchange::Scram(State::ExpectClientFirst),
            Step::Challenge(Vec::new()),
        ),
        Some(message) => client_first(message),
    }
}

pub(crate) fn step(state: State, response: &[u8]) -> (Exchange, Step) {
    match state {
        State::ExpectClientFirst => client_first(response),
        State::ExpectClientFinal(pending) => client_final(*pending, response),
        // The caller must answer NeedScramCredentials, not feed a line.
        State::LookingUp(_) => fail(Failure::Malformed("SCRAM credentials not supplied")),
    }
}

fn fail(f: Failure) -> (Exchange, Step) {
    (Exchange::Done, Step::Failure(f))
}

fn client_first(message: &[u8]) -> (Exchange, Step) {
    match parse_client_first(message) {
        Ok(first) => {
            let authcid = first.authcid.clone();
            (
                Exchange::Scram(State::LookingUp(first)),
                Step::NeedScramCredentials { authcid },
            )
        }
        Err(e) => fail(e),
    }
}

/// Builds server-first from the stored (or made-up) credentials.
pub(crate) fn credentials(
    first: ClientFirst,
    creds: Option<ScramCredentials>,
    ctx: &Context,
) -> (Exchange, Step) {
    let known_user = creds.is_some();
    let creds = creds.unwrap_or_else(|| {
        let name = ctx.fake_name.as_deref().unwrap_or(&first.authcid);
        fake_credentials(name, ctx.fake_secret)
    });
    #[cfg(test)]
    let server_nonce = ctx.server_nonce.clone().unwrap_or_else(random_nonce);
    #[cfg(not(test))]
    let server_nonce = random_nonce();
    let nonce = format!("{}{}", first.client_nonce, server_nonce);
    let server_first = format!(
        "r={nonce},s={},i={}",
        b64_encode(&creds.salt),
        creds.iterations
    );
    let auth_message_head = format!("{},{server_first},", first.bare);
    let pending = Pending {
        gs2_header: first.gs2_header,
        authcid: first.authcid,
        authzid: first.authzid,
        nonce,
        auth_message_head,
        stored_key: creds.stored_key,
        server_key: creds.server_key,
        known_user,
    };
    (
        Exchange::Scram(State::ExpectClientFinal(Box::new(pending))),
        Step::Challenge(server_first.into_bytes()),
    )
}

fn client_final(p: Pending, message: &[u8]) -> (Exchange, Step) {
    match verify_client_final(&p, message) {
        Ok(server_signature) => {
            let mut v = b"v=".to_vec();
            v.extend_from_slice(b64_encode(&server_signature).as_bytes());
            (
                Exchange::Done,
                Step::Success {
                    authcid: p.authcid,
                    authzid: p.authzid,
                    final_data: Some(v),
                },
            )
        }
        Err(e) => fail(e),
    }
}

/// Checks client-final and returns the ServerSignature.
fn verify_client_final(p: &Pending, message: &[u8]) -> Result<[u8; 32], Failure> {
    let message = text(message)?;
    // client-final-message = client-final-message-without-proof "," proof;
    // base64 has no ',', so the proof is whatever follows the last ",p=".
    let (without_proof, proof) = message
        .rsplit_once(",p=")
        .ok_or(Failure::Malformed("SCRAM client-final without proof"))?;
    let proof: [u8; 32] = b64_decode(proof)?
        .try_into()
        .map_err(|_| Failure::Malformed("SCRAM proof is not 32 bytes"))?;

    let mut attrs = without_proof.split(',');
    let cbind = attrs
        .next()
        .and_then(|a| a.strip_prefix("c="))
        .ok_or(Failure::Malformed("SCRAM client-final without c="))?;
    let nonce = attrs
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .ok_or(Failure::Malformed("SCRAM client-final without r="))?;
    for ext in attrs {
        extension(ext)?;
    }
    // Without channel binding, c= is just the gs2 header echoed back; a
    // mismatch means the header was tampered with in transit.
    if b64_decode(cbind)? != p.gs2_header.as_bytes() {
        return Err(Failure::BadCredentials);
    }
    if nonce != p.nonce {
        return Err(Failure::BadCredentials);
    }

    let auth_message = format!("{}{without_proof}", p.auth_message_head);
    let client_signature = hmac_sha256(&p.stored_key, auth_message.as_bytes());
    let mut client_key = proof;
    for (k, s) in client_key.iter_mut().zip(client_signature) {
        *k ^= s;
    }
    // Constant time, so the comparison leaks nothing about StoredKey.
    let proof_ok: bool = sha256(&client_key).ct_eq(&p.stored_key).into();
    if !(proof_ok && p.known_user) {
        return Err(Failure::BadCredentials);
    }
    Ok(hmac_sha256(&p.server_key, auth_message.as_bytes()))
}

fn parse_client_first(message: &[u8]) -> Result<ClientFirst, Failure> {
    let message = text(message)?;
    // gs2-header = gs2-cbind-flag "," [ authzid ] ","
    let (flag, rest) = message
        .split_once(',')
        .ok_or(Failure::Malformed("SCRAM gs2 header incomplete"))?;
    match flag {
        "n" | "y" => {}
        _ if flag.starts_with("p=") => {
            return Err(Failure::Unsupported("SCRAM channel binding"));
        }
        _ => return Err(Failure::Malformed("bad SCRAM gs2 flag")),
    }
    let (authzid, bare) = rest
        .split_once(',')
        .ok_or(Failure::Malformed("SCRAM gs2 header incomplete"))?;
    let authzid = match authzid {
        "" => None,
        a => Some(saslname(
            a.strip_prefix("a=")
                .ok_or(Failure::Malformed("bad SCRAM authzid"))?,
        )?),
    };
    let gs2_header = message[..message.len() - bare.len()].to_owned();

    // client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
    let mut attrs = bare.split(',');
    let first = attrs.next().unwrap_or_default();
    if first.starts_with("m=") {
        // A mandatory extension we do not know: RFC 5802 says fail.
        return Err(Failure::Unsupported("SCRAM mandatory extension"));
    }
    let authcid = saslname(
        first
            .strip_prefix("n=")
            .ok_or(Failure::Malformed("SCRAM client-first without n="))?,
    )?;
    let client_nonce = attrs
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .ok_or(Failure::Malformed("SCRAM client-first without r="))?;
    if client_nonce.is_empty() || !client_nonce.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(Failure::Malformed("bad SCRAM client nonce"));
    }
    for ext in attrs {
        extension(ext)?;
    }
    Ok(ClientFirst {
        gs2_header,
        bare: bare.to_owned(),
        authcid,
        authzid,
        client_nonce: client_nonce.to_owned(),
    })
}

/// A SCRAM message as text: UTF-8 (RFC 5802 section 7), bounded, no NUL.
fn text(message: &[u8]) -> Result<&str, Failure> {
    if message.len() > MAX_MESSAGE {
        return Err(Failure::Malformed("SCRAM message too long"));
    }
    let s = std::str::from_utf8(message)
        .map_err(|_| Failure::Malformed("SCRAM message is not UTF-8"))?;
    if s.contains('\0') {
        return Err(Failure::Malformed("NUL in SCRAM message"));
    }
    Ok(s)
}

/// An optional extension `ALPHA "=" value`: checked for shape, then
/// ignored, as RFC 5802 section 7 requires for unknown attributes.
fn extension(attr: &str) -> Result<(), Failure> {
    let b = attr.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b'=' {
        Ok(())
    } else {
        Err(Failure::Malformed("bad SCRAM attribute"))
    }
}

/// Decodes a saslname: `=2C` is ',' and `=3D` is '='; any other '=' is
/// invalid (RFC 5802 section 5.1). No SASLprep (see
/// [`ScramCredentials::derive`]).
fn saslname(s: &str) -> Result<String, Failure> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        let escape = rest.get(i..i + 3);
        out.push(match escape {
            Some("=2C") => ',',
            Some("=3D") => '=',
            _ => return Err(Failure::Malformed("bad escape in SCRAM name")),
        });
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    crate::mechanism::identity(out.as_bytes(), "bad SCRAM name")
}

fn random_nonce() -> String {
    let mut bytes = [0u8; SERVER_NONCE_BYTES];
    rand::thread_rng().fill_bytes(&mut bytes);
    // Standard base64 is printable and has no ',': a valid s-nonce.
    b64_encode(&bytes)
}

/// Credentials for a user that does not exist, derived from a secret and
/// the name so that asking twice gives the same salt, like a real account.
fn fake_credentials(authcid: &str, secret: Option<[u8; 32]>) -> ScramCredentials {
    static PROCESS_SECRET: OnceLock<[u8; 32]> = OnceLock::new();
    let secret = secret.unwrap_or_else(|| {
        *PROCESS_SECRET.get_or_init(|| {
            let mut s = [0u8; 32];
            rand::thread_rng().fill_bytes(&mut s);
            s
        })
    });
    // Domain-separated labels keep the three values independent.
    let derive = |label: &[u8]| {
        let mut data = label.to_vec();
        data.extend_from_slice(authcid.as_bytes());
        hmac_sha256(&secret, &data)
    };
    ScramCredentials {
        iterations: DEFAULT_ITERATIONS,
        salt: derive(b"praisani-scram-fake-salt\0")[..16].to_vec(),
        stored_key: derive(b"praisani-scram-fake-stored-key\0"),
        server_key: derive(b"praisani-scram-fake-server-key\0"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saslname_escapes() {
        assert_eq!(saslname("user"), Ok("user".into()));
        assert_eq!(saslname("a=2Cb=3Dc"), Ok("a,b=c".into()));
        assert_eq!(saslname("=3D=3D"), Ok("==".into()));
        for bad in ["", "a=", "a=2", "a=41", "=2Ca=", "a==3D", "=2", "a=2c"] {
            assert!(saslname(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn client_first_forms() {
        let f = parse_client_first(b"n,,n=user,r=abc").unwrap();
        assert_eq!(f.gs2_header, "n,,");
        assert_eq!(f.bare, "n=user,r=abc");
        assert_eq!(
            (f.authcid.as_str(), f.authzid, f.client_nonce.as_str()),
            ("user", None, "abc")
        );

        let f = parse_client_first(b"y,a=adm=2Cin,n=u=3Dser,r=abc,x=ext").unwrap();
        assert_eq!(f.gs2_header, "y,a=adm=2Cin,");
        assert_eq!(f.authcid, "u=ser");
        assert_eq!(f.authzid.as_deref(), Some("adm,in"));

        assert_eq!(
            parse_client_first(b"p=tls-unique,,n=user,r=abc").err(),
            Some(Failure::Unsupported("SCRAM channel binding"))
        );
        assert_eq!(
            parse_client_first(b"n,,m=x,n=user,r=abc").err(),
            Some(Failure::Unsupported("SCRAM mandatory extension"))
        );
        for bad in [
            &b""[..],
            b"n",
            b"n,",
            b"n,,",
            b"x,,n=user,r=abc",
            b"N,,n=user,r=abc",
            b"n,b=x,n=user,r=abc",
            b"n,a=,n=user,r=abc",
            b"n,,n=,r=abc",
            b"n,,r=abc,n=user",
            b"n,,n=user",
            b"n,,n=user,r=",
            b"n,,n=user,r=a b",
            b"n,,n=us=er,r=abc",
            b"n,,n=user,r=abc,",
            b"n,,n=user,r=abc,1=x",
            b"n,,n=user,r=abc,xx",
            b"n,,n=\xffuser,r=abc",
            b"n,,n=us\0er,r=abc",
        ] {
            assert!(
                matches!(parse_client_first(bad), Err(Failure::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let long = format!("n,,n=user,r={}", "a".repeat(MAX_MESSAGE));
        assert!(parse_client_first(long.as_bytes()).is_err());
    }

    #[test]
    fn made_up_credentials_never_succeed_even_with_a_matching_proof() {
        // Unreachable through the API (made-up keys come from no password),
        // so force it: the RFC 7677 keys, flagged as made up.
        let first = parse_client_first(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO").unwrap();
        let ctx = Context {
            fake_secret: None,
            fake_name: None,
            server_nonce: Some("%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0".into()),
        };
        let (Exchange::Scram(State::ExpectClientFinal(mut pending)), _) =
            credentials(first, Some(crate::credentials::rfc7677()), &ctx)
        else {
            panic!("no server-first");
        };
        let client_final = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                             p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
        assert!(verify_client_final(&pending, client_final).is_ok());
        pending.known_user = false;
        assert_eq!(
            verify_client_final(&pending, client_final),
            Err(Failure::BadCredentials)
        );
    }

    #[test]
    fn fake_credentials_are_stable_per_user_and_secret() {
        let s = Some([7u8; 32]);
        assert_eq!(fake_credentials("bob", s), fake_credentials("bob", s));
        assert_ne!(
            fake_credentials("bob", s).salt,
            fake_credentials("bobby", s).salt
        );
        assert_ne!(
            fake_credentials("bob", s).salt,
            fake_credentials("bob", Some([8; 32])).salt
        );
        assert_eq!(fake_credentials("bob", None), fake_credentials("bob", None));
        let f = fake_credentials("bob", s);
        assert_eq!((f.iterations, f.salt.len()), (DEFAULT_ITERATIONS, 16));
    }
}
