//! The vocabulary shared by every mechanism: which mechanism, what the
//! server must do next, and why an exchange failed.

use std::fmt;

/// A mechanism the server implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// PLAIN (RFC 4616): authzid, authcid and password in one message.
    Plain,
    /// LOGIN (draft-murchison-sasl-login): user name and password in two
    /// prompted steps; obsolete but still the only choice of many
    /// Outlook versions, copiers and scanners.
    Login,
    /// SCRAM-SHA-256 (RFC 5802, RFC 7677) without channel binding: the
    /// password never crosses the wire and the server proves it knows the
    /// credentials too.
    ScramSha256,
}

impl Mechanism {
    /// Every mechanism, strongest first: the order to advertise them in
    /// (`AUTH SCRAM-SHA-256 PLAIN LOGIN`, `SASL SCRAM-SHA-256 PLAIN LOGIN`).
    pub const ALL: [Mechanism; 3] = [Mechanism::ScramSha256, Mechanism::Plain, Mechanism::Login];

    /// Looks up a mechanism by its registered name, case-insensitively
    /// (RFC 4422 section 3.1 names are case-insensitive on input):
    /// `"PLAIN"`, `"LOGIN"`, `"SCRAM-SHA-256"`. `None` for anything else,
    /// including `SCRAM-SHA-256-PLUS`, which needs channel binding.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// The registered name, upper case, as advertised in EHLO / CAPA.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
        }
    }

    /// Whether the client sends the password itself (PLAIN, LOGIN). Such
    /// mechanisms may only be offered and accepted under TLS or on a
    /// loopback connection; SCRAM never reveals the password.
    pub fn sends_password(self) -> bool {
        matches!(self, Mechanism::Plain | Mechanism::Login)
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an exchange failed.
///
/// The protocol layer maps [`Failure::BadCredentials`] to `535 5.7.8`
/// (SMTP, RFC 4954) or `-ERR [AUTH]` (POP3, RFC 3206), and
/// [`Failure::Malformed`] / [`Failure::Unsupported`] to `501 5.5.2` /
/// `-ERR`. The `&'static str` is a short reason for the log, never
/// anything the peer sent, so it is safe to log and to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The client's message does not follow the mechanism's syntax (or the
    /// caller drove the exchange out of order).
    #[error("malformed SASL message: {0}")]
    Malformed(&'static str),
    /// Wrong user name, password or proof. Deliberately one variant: the
    /// client must not learn which part was wrong.
    #[error("authentication failed")]
    BadCredentials,
    /// A well-formed request for something this server does not do
    /// (channel binding, a mandatory SCRAM extension).
    #[error("unsupported SASL feature: {0}")]
    Unsupported(&'static str),
}

/// The next thing the server must do.
#[derive(PartialEq, Eq)]
pub enum Step {
    /// Send this challenge to the client. Raw bytes: the caller
    /// base64-encodes them (SMTP `334 <b64>`, POP3 `+ <b64>`; an empty
    /// challenge is `334 ` / `+ `), reads one line, handles `*` (cancel),
    /// decodes it and calls [`ServerExchange::step`](crate::ServerExchange::step).
    Challenge(Vec<u8>),
    /// PLAIN/LOGIN: the client presented a password. The server verifies
    /// it (argon2, outside this crate) for `authcid` and then calls
    /// [`ServerExchange::password_checked`](crate::ServerExchange::password_checked).
    VerifyPassword {
        /// The authentication identity (the user name that logs in).
        authcid: String,
        /// The identity to act as, if the client asked for a different one.
        authzid: Option<String>,
        /// The password as sent (UTF-8, not normalised).
        password: String,
    },
    /// SCRAM: look up the stored credentials of `authcid`, then call
    /// [`ServerExchange::scram_credentials`](crate::ServerExchange::scram_credentials)
    /// (with `None` if there is no such user).
    NeedScramCredentials {
        /// The authentication identity from `n=`, unescaped.
        authcid: String,
    },
    /// Authenticated as `authcid`.
    ///
    /// `authzid`: the identity the client asked to act as, if it sent one.
    /// This crate does not judge it; the server must refuse the login (or
    /// allow it, e.g. for an admin) when it differs from `authcid`.
    ///
    /// `final_data`: SCRAM's server-final-message (`v=…`), which the
    /// protocol layer must deliver before it reports success, because
    /// neither protocol can carry data in its success reply:
    /// - SMTP (RFC 4954 section 4): send it as a `334 <b64>` challenge,
    ///   read the client's (empty) line, then reply `235 2.7.0`. A `*`
    ///   there is a cancel: reply `501` and stay unauthenticated.
    /// - POP3 (RFC 5034 section 4): send it as a `+ <b64>` continuation,
    ///   read the client's (empty) line, then `+OK`.
    Success {
        /// The authenticated identity.
        authcid: String,
        /// The requested authorization identity, if any (see above).
        authzid: Option<String>,
        /// Additional data with success, to deliver as described above.
        final_data: Option<Vec<u8>>,
    },
    /// The exchange is over and failed.
    Failure(Failure),
}

// Written by hand so that a `{:?}` in a log line can never print a password.
impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Challenge(c) => f
                .debug_tuple("Challenge")
                .field(&String::from_utf8_lossy(c))
                .finish(),
            Step::VerifyPassword {
                authcid, authzid, ..
            } => f
                .debug_struct("VerifyPassword")
                .field("authcid", authcid)
                .field("authzid", authzid)
                .field("password", &"<redacted>")
                .finish(),
            Step::NeedScramCredentials { authcid } => f
                .debug_struct("NeedScramCredentials")
                .field("authcid", authcid)
                .finish(),
            Step::Success {
                authcid,
                authzid,
                final_data,
            } => f
                .debug_struct("Success")
                .field("authcid", authcid)
                .field("authzid", authzid)
                .field(
                    "final_data",
                    &final_data.as_deref().map(String::from_utf8_lossy),
                )
                .finish(),
            Step::Failure(e) => f.debug_tuple("Failure").field(e).finish(),
        }
    }
}

/// Checks an identity (authcid/authzid) that will end up in logs and
/// Received headers: UTF-8, non-empty, no NUL and no line breaks (no real
/// account has them, and they would let a client forge log lines).
pub(crate) fn identity(bytes: &[u8], what: &'static str) -> Result<String, Failure> {
    let s = std::str::from_utf8(bytes).map_err(|_| Failure::Malformed(what))?;
    if s.is_empty() || s.contains(['\0', '\r', '\n']) {
        return Err(Failure::Malformed(what));
    }
    Ok(s.to_owned())
}

/// Checks a password as PLAIN and LOGIN carry it: UTF-8 (RFC 4616), non-empty, no NUL.
pub(crate) fn password(bytes: &[u8]) -> Result<String, Failure> {
    let s = std::str::from_utf8(bytes).map_err(|_| Failure::Malformed("password is not UTF-8"))?;
    if s.is_empty() {
        return Err(Failure::Malformed("empty password"));
    }
    if s.contains('\0') {
        return Err(Failure::Malformed("NUL in password"));
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for m in Mechanism::ALL {
            assert_eq!(Mechanism::from_name(m.name()), Some(m));
            assert_eq!(Mechanism::from_name(&m.name().to_lowercase()), Some(m));
        }
        assert_eq!(
            Mechanism::from_name("Scram-Sha-256"),
            Some(Mechanism::ScramSha256)
        );
        assert_eq!(Mechanism::from_name("SCRAM-SHA-256-PLUS"), None);
        assert_eq!(Mechanism::from_name("CRAM-MD5"), None);
        assert_eq!(Mechanism::from_name(""), None);
        assert!(Mechanism::Plain.sends_password());
        assert!(Mechanism::Login.sends_password());
        assert!(!Mechanism::ScramSha256.sends_password());
    }

    #[test]
    fn debug_never_shows_the_password() {
        let step = Step::VerifyPassword {
            authcid: "joe".into(),
            authzid: None,
            password: "hunter2".into(),
        };
        let shown = format!("{step:?}");
        assert!(shown.contains("joe"));
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
