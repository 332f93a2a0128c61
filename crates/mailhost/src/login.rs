//! Logins for every front end: running a SASL exchange (AUTH in SMTP and
//! POP3) and the POP3 USER/PASS and APOP logins against the accounts, with
//! brute-force throttling ([`crate::throttle`]).
//!
//! The protocol engines frame the exchange; `praisani_sasl` implements the
//! mechanisms; this module answers the mechanisms' questions: is this
//! password right (argon2, through the authenticator and its cache), what
//! are this user's SCRAM credentials.
//!
//! User names are full addresses and may be UTF-8 (`สมชาย@ตัวอย่าง.ไทย`,
//! after POP3 `UTF8` or in SASL): the account is found through
//! [`Address`], so NFC/NFD, letter case and U-label/A-label spellings of
//! one address are one user, for the lookup and for brute-force
//! throttling alike. Passwords are compared after
//! [`crate::passwords::prepare`].

use crate::LoginError;
use crate::auth::Authenticator;
use crate::throttle::{Attempt, Throttle};
use praisani_mailaddr::Address;
use praisani_sasl::{
    Failure, Mechanism, ScramCredentials, ServerExchange, Step, b64_decode, b64_encode,
};
use praisani_store::{Account, Store};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What logins need: the accounts, the password checks, the failure
/// records, and the secret that makes SCRAM answer for unknown users like
/// for real ones (no user enumeration).
pub struct Logins {
    /// Where the accounts are.
    pub store: Arc<dyn Store>,
    /// Password and APOP checks (argon2, with its cache).
    pub auth: Authenticator,
    /// Failed-login records for brute-force throttling.
    pub throttle: Throttle,
    /// Keys the made-up SCRAM credentials of unknown users.
    pub scram_secret: [u8; 32],
    /// Every failure takes at least this long.
    pub failure_delay: Duration,
}

/// Why a login did not succeed, as the protocols report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFail {
    /// Wrong user or password (indistinguishable on purpose).
    BadCredentials,
    /// The client's data could not be decoded.
    Malformed,
    /// Too many failures: locked out for a while.
    Locked,
    /// The store could not answer; try again later.
    Temporary,
}

/// The next thing to tell the client.
pub enum AuthStep {
    /// Send this base64 challenge and wait for a line.
    Challenge(String),
    /// Logged in.
    Success(Box<Account>),
    /// Finished without success.
    Failed(LoginFail),
}

/// One SASL exchange in progress.
pub struct SaslLogin {
    logins: Arc<Logins>,
    ip: IpAddr,
    exchange: ServerExchange,
    started: Instant,
    /// The account the exchange is about, once known.
    account: Option<Account>,
    /// The user name the client gave, for throttling.
    user: String,
    /// SCRAM succeeded; its final message was sent and an empty line is due.
    verified: Option<Account>,
    /// The failure was already counted and padded (by the password check).
    counted: bool,
    /// The SCRAM attempt, recorded with the throttle before the
    /// server-first message goes out (the client sees the salt): if the
    /// exchange ends without a verdict — cancelled with `*`, a malformed
    /// answer, a dropped connection — the dropped attempt counts as a
    /// failure, or a client could learn about accounts without ever being
    /// throttled.
    attempt: Option<Attempt>,
}

impl SaslLogin {
    /// Starts an AUTH exchange; `None` with a failure when the mechanism is
    /// unknown or the initial response cannot be decoded.
    pub async fn start(
        logins: Arc<Logins>,
        ip: IpAddr,
        mechanism: &str,
        initial: Option<&str>,
    ) -> (Option<SaslLogin>, AuthStep) {
        let Some(mech) = Mechanism::from_name(mechanism) else {
            return (None, AuthStep::Failed(LoginFail::Malformed));
        };
        let initial = match initial {
            None => None,
            Some("=") => Some(Vec::new()),
            Some(text) => match b64_decode(text) {
                Ok(v) => Some(v),
                Err(_) => return (None, AuthStep::Failed(LoginFail::Malformed)),
            },
        };
        let mut login = SaslLogin {
            exchange: ServerExchange::new(mech).with_fake_credential_secret(logins.scram_secret),
            logins,
            ip,
            started: Instant::now(),
            account: None,
            user: String::new(),
            verified: None,
            counted: false,
            attempt: None,
        };
        let step = login.exchange.start(initial.as_deref());
        let out = login.drive(step).await;
        let done = !matches!(out, AuthStep::Challenge(_));
        (if done { None } else { Some(login) }, out)
    }

    /// The client's answer to the last challenge (the line as sent).
    pub async fn respond(&mut self, line: &str) -> AuthStep {
        let Ok(data) = b64_decode(line) else {
            return AuthStep::Failed(LoginFail::Malformed);
        };
        if let Some(account) = self.verified.take() {
            // RFC 4954 / 5034: after the server's final SCRAM message the
            // client answers with an empty line.
            return if data.is_empty() {
                AuthStep::Success(Box::new(account))
            } else {
                AuthStep::Failed(LoginFail::Malformed)
            };
        }
        let step = self.exchange.step(&data);
        self.drive(step).await
    }

    async fn drive(&mut self, mut step: Step) -> AuthStep {
        loop {
            step = match step {
                Step::Challenge(bytes) => return AuthStep::Challenge(b64_encode(&bytes)),
                Step::VerifyPassword {
                    authcid,
                    authzid,
                    password,
                } => {
                    self.user = throttle_key(&authcid);
                    if authzid.as_ref().is_some_and(|z| z != &authcid) {
                        return self.fail(LoginFail::BadCredentials).await;
                    }
                    match check_password(&self.logins, self.ip, &authcid, &password).await {
                        Ok(account) => {
                            self.account = Some(account);
                            self.exchange.password_checked(true)
                        }
                        Err(LoginFail::BadCredentials) => {
                            self.counted = true;
                            self.exchange.password_checked(false)
                        }
                        Err(other) => return AuthStep::Failed(other),
                    }
                }
                Step::NeedScramCredentials { authcid } => {
                    self.user = throttle_key(&authcid);
                    match self.logins.throttle.begin(self.ip, &self.user).await {
                        Ok(attempt) => self.attempt = Some(attempt),
                        Err(_) => return AuthStep::Failed(LoginFail::Locked),
                    }
                    let account = match Address::parse(&authcid) {
                        Ok(a) => match self.logins.store.account_get(&a).await {
                            Ok(acc) => acc,
                            Err(_) => return AuthStep::Failed(LoginFail::Temporary),
                        },
                        Err(_) => None,
                    };
                    let creds = account
                        .as_ref()
                        .and_then(|a| a.scram.as_deref())
                        .and_then(|s| ScramCredentials::from_storage(s).ok());
                    // An account without SCRAM credentials (set before they
                    // existed) fails like a wrong password.
                    self.account = account.filter(|_| creds.is_some());
                    // A missing user's made-up salt derives from the
                    // normalised name, like the one account all spellings
                    // of a real name find.
                    self.exchange
                        .scram_credentials_as(creds, Some(self.user.as_str()))
                }
                Step::Success {
                    authcid,
                    authzid,
                    final_data,
                } => {
                    if authzid.as_ref().is_some_and(|z| z != &authcid) {
                        return self.fail(LoginFail::BadCredentials).await;
                    }
                    let Some(account) = self.account.take() else {
                        return self.fail(LoginFail::BadCredentials).await;
                    };
                    if let Some(attempt) = self.attempt.take() {
                        attempt.succeeded();
                    }
                    match final_data {
                        Some(data) => {
                            self.verified = Some(account);
                            return AuthStep::Challenge(b64_encode(&data));
                        }
                        None => return AuthStep::Success(Box::new(account)),
                    }
                }
                Step::Failure(Failure::BadCredentials) => {
                    return self.fail(LoginFail::BadCredentials).await;
                }
                Step::Failure(_) => return AuthStep::Failed(LoginFail::Malformed),
            };
        }
    }

    /// A failed exchange: counted, and padded to the failure delay (the
    /// password path pads inside the authenticator already).
    async fn fail(&mut self, why: LoginFail) -> AuthStep {
        if !std::mem::take(&mut self.counted) {
            match self.attempt.take() {
                Some(attempt) => attempt.failed(),
                None => self.logins.throttle.failed(self.ip, &self.user),
            }
            pad(&self.logins, self.started).await;
        }
        AuthStep::Failed(why)
    }
}

/// The name failures are counted under: the canonical address when the
/// name is one, so every spelling of a user shares one count.
fn throttle_key(user: &str) -> String {
    Address::parse(user)
        .map(|a| a.canonical())
        .unwrap_or_else(|_| user.to_owned())
}

async fn pad(logins: &Logins, started: Instant) {
    if let Some(rest) = logins.failure_delay.checked_sub(started.elapsed()) {
        tokio::time::sleep(rest).await;
    }
}

/// Checks a user name and password with throttling: a locked-out address
/// or account is refused without checking, earlier failures add delay.
pub async fn check_password(
    logins: &Logins,
    ip: IpAddr,
    user: &str,
    password: &str,
) -> Result<Account, LoginFail> {
    throttled(logins, ip, user, logins.auth.password(user, password)).await
}

/// Checks a POP3 USER/PASS or APOP login (the digest over the greeting's
/// `timestamp`) with the same throttling.
pub async fn check_pop3(
    logins: &Logins,
    ip: IpAddr,
    user: &str,
    credential: praisani_pop3::Credential,
    timestamp: &str,
) -> Result<Account, LoginFail> {
    match credential {
        praisani_pop3::Credential::Password(pw) => check_password(logins, ip, user, &pw).await,
        praisani_pop3::Credential::Apop { digest } => {
            let check = |secret: &str| praisani_pop3::apop_matches(timestamp, secret, &digest);
            throttled(logins, ip, user, logins.auth.apop(user, check)).await
        }
    }
}

/// Runs a credential check behind the throttle and records its outcome.
async fn throttled(
    logins: &Logins,
    ip: IpAddr,
    user: &str,
    check: impl std::future::Future<Output = Result<Account, LoginError>>,
) -> Result<Account, LoginFail> {
    let started = Instant::now();
    let user = &throttle_key(user);
    // Recorded before the check: simultaneous guesses count at once.
    let Ok(attempt) = logins.throttle.begin(ip, user).await else {
        pad(logins, started).await;
        return Err(LoginFail::Locked);
    };
    if !attempt.delay.is_zero() {
        tokio::time::sleep(attempt.delay).await;
    }
    match check.await {
        Ok(a) => {
            attempt.succeeded();
            Ok(a)
        }
        Err(LoginError::Failed) => {
            attempt.failed();
            Err(LoginFail::BadCredentials)
        }
        Err(LoginError::Temporary(e)) => {
            attempt.abandoned();
            tracing::error!("login lookup failed: {e}");
            Err(LoginFail::Temporary)
        }
        Err(LoginError::Busy(e)) => {
            attempt.abandoned();
            tracing::warn!("login refused: {e}");
            Err(LoginFail::Temporary)
        }
    }
}
