//! Server-side SASL (RFC 4422) for praisani's SMTP and POP3 listeners.
//!
//! The mechanisms are sans-I/O step functions: the protocol layer reads a
//! line, base64-decodes it ([`b64_decode`]) and feeds it to a
//! [`ServerExchange`]; the exchange answers with a [`Step`] telling the
//! caller what to do next — send a challenge, verify a password, look up
//! SCRAM credentials, or report the outcome. Nothing here touches a
//! socket, a store or a password hash, so every rule is unit-testable and
//! fuzzable.
//!
//! ```
//! use praisani_sasl::{Mechanism, ServerExchange, Step};
//!
//! let mut ex = ServerExchange::new(Mechanism::Plain);
//! let step = ex.start(Some(b"\0joe\0secret"));
//! assert!(matches!(step, Step::VerifyPassword { ref authcid, .. } if authcid == "joe"));
//! // ... the server checks the password hash, then:
//! assert!(matches!(ex.password_checked(true), Step::Success { .. }));
//! ```
//!
//! Mechanisms: PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-login) and
//! SCRAM-SHA-256 (RFC 5802, RFC 7677) without channel binding. The SCRAM
//! verifier stored per account is [`ScramCredentials`].

mod b64;
mod credentials;
mod login;
mod mechanism;
mod plain;
mod scram;

pub use b64::{b64_decode, b64_encode};
pub use credentials::{DEFAULT_ITERATIONS, ScramCredentials};
pub use mechanism::{Failure, Mechanism, Step};

/// Where an exchange stands between two calls.
enum State {
    /// `start` not called yet.
    Fresh,
    Plain(plain::State),
    Login(login::State),
    Scram(scram::State),
    /// PLAIN/LOGIN handed out a password and waits for the verdict.
    PasswordCheck {
        authcid: String,
        authzid: Option<String>,
    },
    /// Success or Failure was returned; nothing more is accepted.
    Done,
}

/// One authentication exchange on the server side.
///
/// Call [`start`](Self::start) once, then answer each [`Step`]:
/// [`Step::Challenge`] → [`step`](Self::step) with the client's next line,
/// [`Step::VerifyPassword`] → [`password_checked`](Self::password_checked),
/// [`Step::NeedScramCredentials`] → [`scram_credentials`](Self::scram_credentials).
/// [`Step::Success`] and [`Step::Failure`] end the exchange; any call out
/// of this order also ends it, with [`Failure::Malformed`].
pub struct ServerExchange {
    mechanism: Mechanism,
    state: State,
    /// Key for the made-up SCRAM credentials of unknown users.
    fake_secret: Option<[u8; 32]>,
    /// Fixed SCRAM server nonce, so tests can replay RFC 7677 byte for byte.
    #[cfg(test)]
    test_nonce: Option<String>,
}

impl ServerExchange {
    /// A new exchange for `mechanism`. Whether the mechanism may be used on
    /// this connection (see [`Mechanism::sends_password`]) is the caller's
    /// decision, made before this.
    pub fn new(mechanism: Mechanism) -> Self {
        ServerExchange {
            mechanism,
            state: State::Fresh,
            fake_secret: None,
            #[cfg(test)]
            test_nonce: None,
        }
    }

    /// Sets the server secret from which SCRAM derives the salt and keys it
    /// pretends an unknown user has. Pass the same persistent secret on
    /// every connection (and every node) so that an unknown user's salt is
    /// as stable as a real one's. Without it a random per-process secret
    /// is used: unknown users still look real within one process, but
    /// their salt changes when the server restarts.
    pub fn with_fake_credential_secret(mut self, secret: [u8; 32]) -> Self {
        self.fake_secret = Some(secret);
        self
    }

    /// The mechanism of this exchange.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// Whether the exchange has ended (Success or Failure was returned).
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Starts the exchange with the client's optional initial response,
    /// already base64-decoded: `None` when the AUTH command had no
    /// argument, `Some(&[])` when it was `=` (an empty response).
    pub fn start(&mut self, initial: Option<&[u8]>) -> Step {
        if !matches!(self.state, State::Fresh) {
            return self.fail(Failure::Malformed("exchange already started"));
        }
        let (state, step) = match self.mechanism {
            Mechanism::Plain => plain::start(initial),
            Mechanism::Login => login::start(initial),
            Mechanism::ScramSha256 => scram::start(initial),
        };
        self.advance(state, step)
    }

    /// Feeds the client's decoded response to the last challenge.
    pub fn step(&mut self, response: &[u8]) -> Step {
        let (state, step) = match std::mem::replace(&mut self.state, State::Done) {
            State::Plain(s) => plain::step(s, response),
            State::Login(s) => login::step(s, response),
            State::Scram(s) => scram::step(s, response),
            _ => return self.fail(Failure::Malformed("unexpected client response")),
        };
        self.advance(state, step)
    }

    /// Answers a [`Step::VerifyPassword`]: `ok` is whether the password
    /// matched. Returns [`Step::Success`] or `Failure(BadCredentials)`.
    pub fn password_checked(&mut self, ok: bool) -> Step {
        match std::mem::replace(&mut self.state, State::Done) {
            State::PasswordCheck { authcid, authzid } if ok => Step::Success {
                authcid,
                authzid,
                final_data: None,
            },
            State::PasswordCheck { .. } => Step::Failure(Failure::BadCredentials),
            _ => self.fail(Failure::Malformed("no password to check")),
        }
    }

    /// Answers a [`Step::NeedScramCredentials`] with the user's stored
    /// credentials, or `None` if there is no such user (or no SCRAM
    /// credentials for them). For `None` the exchange goes on with made-up
    /// credentials derived from the server secret and the user name, so
    /// the server-first message looks like a real one and the client only
    /// learns of the failure at the proof, exactly as for a wrong password.
    pub fn scram_credentials(&mut self, creds: Option<ScramCredentials>) -> Step {
        self.scram_credentials_as(creds, None)
    }

    /// Like [`scram_credentials`](Self::scram_credentials), with the name
    /// the made-up credentials are derived from: the caller's normalised
    /// form of the user name (its canonical address), so that every
    /// spelling of a missing user gets one salt, as every spelling of a
    /// real user finds one account. `None` derives them from the name as
    /// the client sent it.
    pub fn scram_credentials_as(
        &mut self,
        creds: Option<ScramCredentials>,
        fake_name: Option<&str>,
    ) -> Step {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Scram(scram::State::LookingUp(first)) => {
                let ctx = scram::Context {
                    fake_secret: self.fake_secret,
                    fake_name: fake_name.map(str::to_owned),
                    #[cfg(test)]
                    server_nonce: self.test_nonce.clone(),
                };
                let (state, step) = scram::credentials(first, creds, &ctx);
                self.advance(state, step)
            }
            _ => self.fail(Failure::Malformed("no SCRAM credentials requested")),
        }
    }

    /// Fixes the SCRAM server nonce (tests only: a predictable nonce would
    /// let an attacker replay a captured exchange).
    #[cfg(test)]
    pub(crate) fn with_server_nonce(mut self, nonce: &str) -> Self {
        self.test_nonce = Some(nonce.to_owned());
        self
    }

    /// Stores the next state, or `Done` when the step ends the exchange.
    fn advance(&mut self, state: State, step: Step) -> Step {
        self.state = match step {
            Step::Success { .. } | Step::Failure(_) => State::Done,
            _ => state,
        };
        step
    }

    fn fail(&mut self, failure: Failure) -> Step {
        self.state = State::Done;
        Step::Failure(failure)
    }
}

#[cfg(test)]
mod tests;
