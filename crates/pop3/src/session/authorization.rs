//! Commands of the AUTHORIZATION state: USER, PASS, APOP, QUIT, CAPA (STLS and AUTH are in
//! `stls.rs` and `sasl.rs`); and the handling of the server's authentication verdict.
//!
//! USER/PASS is refused with `-ERR [AUTH] Plaintext authentication disallowed on non-secure
//! connection` when the connection is not under TLS and `allow_plaintext` is off: RFC 3206
//! `[AUTH]` tells the client that retrying the same way is pointless (it should use STLS or
//! SASL) without implying a wrong password.

use super::{Awaiting, Session, State};
use crate::command::{Command, Keyword, ParseError};
use crate::maildrop::Maildrop;
use crate::response::{self, ResponseCode};
use crate::session::{AuthOutcome, Credential, Event};

const AUTH_FAILED: &str = "Authentication failed";
const PLAINTEXT_DISALLOWED: &str = "Plaintext authentication disallowed on non-secure connection";

impl Session {
    pub(super) fn authorization(&mut self, parsed: Result<Command, Option<ParseError>>) {
        // PASS must come right after USER (RFC 1939 section 7); any other line, valid or
        // not, forgets the user name.
        let pending_user = self.pending_user.take();
        let command = match parsed {
            Ok(command) => command,
            Err(error) => return self.parse_error(error, Keyword::valid_in_authorization),
        };
        match command {
            Command::User(name) => {
                if !self.config.plaintext_allowed(self.tls_active) {
                    return self.send(response::err_code(ResponseCode::Auth, PLAINTEXT_DISALLOWED));
                }
                // Always +OK: saying whether the user exists would let anyone list accounts.
                self.login_started = true;
                self.pending_user = Some(name);
                self.send(response::ok(""));
            }
            Command::Pass(password) => {
                if !self.config.plaintext_allowed(self.tls_active) {
                    return self.send(response::err_code(ResponseCode::Auth, PLAINTEXT_DISALLOWED));
                }
                let Some(user) = pending_user else {
                    return self.send(response::err("No USER given"));
                };
                self.authenticate(user, Credential::Password(password));
            }
            Command::Apop { name, digest } => {
                if !self.config.apop {
                    return self.send(response::err_code(ResponseCode::Auth, "APOP not available"));
                }
                // An APOP digest seen on the wire can be cracked offline: it
                // waits for TLS like the cleartext logins.
                if !self.config.plaintext_allowed(self.tls_active) {
                    return self.send(response::err_code(ResponseCode::Auth, PLAINTEXT_DISALLOWED));
                }
                self.authenticate(name, Credential::Apop { digest });
            }
            Command::Quit => {
                self.send(response::ok(&format!(
                    "{} POP3 server signing off",
                    self.config.hostname
                )));
                self.close();
            }
            Command::Capa => self.capa(),
            Command::Stls => self.stls(),
            Command::Auth {
                mechanism,
                initial_response,
            } => self.auth(mechanism, initial_response),
            Command::Stat
            | Command::List(_)
            | Command::Retr(_)
            | Command::Dele(_)
            | Command::Noop
            | Command::Rset
            | Command::Top { .. }
            | Command::Uidl(_) => self.send(response::err("Command not valid in this state")),
        }
    }

    fn authenticate(&mut self, user: String, credential: Credential) {
        self.login_started = true;
        self.awaiting = Awaiting::Auth;
        self.user = Some(user.clone());
        self.events
            .push_back(Event::Authenticate { user, credential });
    }

    pub(super) fn finish_auth(&mut self, outcome: AuthOutcome) {
        let mut give_up = false;
        let reply = match outcome {
            AuthOutcome::Ok { messages } => {
                self.maildrop = Maildrop::new(messages);
                self.state = State::Transaction;
                let (count, octets) = self.maildrop.stat();
                let text = format!("Logged in, {} ({octets} octets)", response::messages(count));
                return self.send(response::ok(&text));
            }
            AuthOutcome::Failed => {
                self.auth_failures = self.auth_failures.saturating_add(1);
                give_up = self.auth_failures >= self.config.max_auth_failures;
                response::err_code(ResponseCode::Auth, AUTH_FAILED)
            }
            AuthOutcome::InUse => {
                response::err_code(ResponseCode::InUse, "Mailbox is locked by another session")
            }
            AuthOutcome::LoginDelay => {
                response::err_code(ResponseCode::LoginDelay, "Logging in too often")
            }
            AuthOutcome::TempFail => response::err_code(
                ResponseCode::SysTemp,
                "Temporary server failure, try again later",
            ),
        };
        // Back to square one: the next attempt starts with USER, APOP or AUTH.
        self.user = None;
        self.user_expire = None;
        self.send(reply);
        if give_up {
            // Slows password guessing: a new connection costs the attacker a handshake.
            self.close();
        }
    }
}
