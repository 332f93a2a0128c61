//! PLAIN (RFC 4616): `[authzid] NUL authcid NUL passwd` in one message.

use crate::State as Exchange;
use crate::mechanism::{Failure, Step, identity, password};

/// PLAIN has a single state: the server sent its empty challenge and
/// waits for the message.
pub(crate) enum State {
    AwaitMessage,
}

pub(crate) fn start(initial: Option<&[u8]>) -> (Exchange, Step) {
    match initial {
        // PLAIN is client-first: without an initial response the server
        // sends an empty challenge and the message comes back as the reply.
        None => (
            Exchange::Plain(State::AwaitMessage),
            Step::Challenge(Vec::new()),
        ),
        // `AUTH PLAIN =` is an empty message, which is malformed; `parse`
        // says so.
        Some(message) => finish(message),
    }
}

pub(crate) fn step(state: State, response: &[u8]) -> (Exchange, Step) {
    match state {
        State::AwaitMessage => finish(response),
    }
}

fn finish(message: &[u8]) -> (Exchange, Step) {
    match parse(message) {
        Ok((authzid, authcid, password)) => (
            Exchange::PasswordCheck {
                authcid: authcid.clone(),
                authzid: authzid.clone(),
            },
            Step::VerifyPassword {
                authcid,
                authzid,
                password,
            },
        ),
        Err(e) => (Exchange::Done, Step::Failure(e)),
    }
}

/// Splits a PLAIN message into (authzid, authcid, password).
fn parse(message: &[u8]) -> Result<(Option<String>, String, String), Failure> {
    let mut parts = message.split(|&b| b == 0);
    let (Some(authzid), Some(authcid), Some(passwd), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Failure::Malformed("PLAIN needs exactly two NULs"));
    };
    if authcid.is_empty() {
        return Err(Failure::Malformed("empty PLAIN authcid"));
    }
    let authcid = identity(authcid, "invalid PLAIN authcid")?;
    // An empty authzid means "act as authcid" (RFC 4616 section 2).
    let authzid = if authzid.is_empty() {
        None
    } else {
        Some(identity(authzid, "invalid PLAIN authzid")?)
    };
    Ok((authzid, authcid, password(passwd)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(m: &[u8]) -> Result<(Option<String>, String, String), Failure> {
        parse(m)
    }

    #[test]
    fn valid_forms() {
        assert_eq!(p(b"\0joe\0pw"), Ok((None, "joe".into(), "pw".into())));
        assert_eq!(
            p(b"admin\0joe\0pw"),
            Ok((Some("admin".into()), "joe".into(), "pw".into()))
        );
        assert_eq!(
            p("\0jörg@bücher.example\0pässwörd".as_bytes()),
            Ok((None, "jörg@bücher.example".into(), "pässwörd".into()))
        );
        // Spaces are allowed in passwords and kept as sent.
        assert_eq!(p(b"\0joe\0 a b "), Ok((None, "joe".into(), " a b ".into())));
    }

    #[test]
    fn invalid_forms() {
        for (m, why) in [
            (&b""[..], "empty"),
            (b"joe", "no NUL"),
            (b"\0joe", "one NUL"),
            (b"joe\0pw", "one NUL"),
            (b"\0joe\0pw\0", "three NULs"),
            (b"\0joe\0p\0w", "three NULs"),
            (b"\0\0pw", "empty authcid"),
            (b"\0joe\0", "empty password"),
            (b"\0\0", "all empty"),
            (b"\0jo\xffe\0pw", "authcid not UTF-8"),
            (b"\0joe\0p\xc3", "password not UTF-8"),
            (b"a\xc0\0joe\0pw", "authzid not UTF-8"),
            (b"\0joe\r\nX\0pw", "line break in authcid"),
        ] {
            assert!(matches!(p(m), Err(Failure::Malformed(_))), "{why}: {m:?}");
        }
    }
}
