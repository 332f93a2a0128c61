//! Commands of the AUTHORIZATION state: USER, PASS, APOP, QUIT, CAPA (STLS and AUTH are in
//! `stls.rs` and `sasl.rs`); and the handling of the server's authentication verdict.
//!
//! USER/PASS is refused with `-ERR [AUTH] Plaintext authentication disallowed on non-secure
//! connection` when the connection is not under TLS and `allow_plaintext` is off: RFC 3206
//! `[AUTH]` tells the client that retrying the same way is pointless (it should use STLS or
//! SASL) without implying a wrong password.

use super::{Awaiting, Session, State};
use crate::command::{Command, Keyword, ParseError};
use crate::lang::Text;
use crate::maildrop::Maildrop;
use crate::response::{self, ResponseCode};
use crate::session::{AuthOutcome, Credential, Event};

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
                    return self.plaintext_disallowed();
                }
                // Always +OK: saying whether the user exists would let anyone list accounts.
                self.login_started = true;
                self.pending_user = Some(name);
                self.send(response::ok(""));
            }
            Command::Pass(password) => {
                if !self.config.plaintext_allowed(self.tls_active) {
                    return self.plaintext_disallowed();
                }
                let Some(user) = pending_user else {
                    return self.send(response::err(&self.say(Text::NoUser)));
                };
                self.authenticate(user, Credential::Password(password));
            }
            Command::Apop { name, digest } => {
                if !self.config.apop {
                    let text = self.say(Text::ApopUnavailable);
                    return self.send(response::err_code(ResponseCode::Auth, &text));
                }
                // An APOP digest seen on the wire can be cracked offline: it
                // waits for TLS like the cleartext logins.
                if !self.config.plaintext_allowed(self.tls_active) {
                    return self.plaintext_disallowed();
                }
                self.authenticate(name, Credential::Apop { digest });
            }
            Command::Quit => {
                let host = self.config.hostname.clone();
                self.send(response::ok(&self.say(Text::Goodbye { host: &host })));
                self.close();
            }
            Command::Capa => self.capa(),
            Command::Utf8 => self.utf8_command(),
            Command::Lang(range) => self.lang(range.as_deref()),
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
            | Command::Uidl(_) => self.send(response::err(&self.say(Text::NotInThisState))),
        }
    }

    fn plaintext_disallowed(&mut self) {
        let text = self.say(Text::PlaintextDisallowed);
        self.send(response::err_code(ResponseCode::Auth, &text));
    }

    /// UTF8 (RFC 6856 section 2): from now on the client takes UTF-8 in
    /// message headers. Only in AUTHORIZATION, since the server lists the
    /// maildrop in the client's form at login.
    ///
    /// User names and passwords are UTF-8 with or without it: RFC 6856 asks
    /// the server to accept them after UTF8 (`UTF8 USER`), and refusing them
    /// before would lock out the many clients that send UTF-8 octets without
    /// knowing the command, while the octets mean the same either way.
    fn utf8_command(&mut self) {
        if !self.config.utf8 {
            return self.send(response::err(&self.say(Text::UnknownCommand)));
        }
        self.utf8 = true;
        self.send(response::ok(&self.say(Text::Utf8Enabled)));
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
                let text = self.say(Text::LoggedIn { count, octets });
                return self.send(response::ok(&text));
            }
            AuthOutcome::Failed => {
                self.auth_failures = self.auth_failures.saturating_add(1);
                give_up = self.auth_failures >= self.config.max_auth_failures;
                response::err_code(ResponseCode::Auth, &self.say(Text::AuthFailed))
            }
            AuthOutcome::InUse => response::err_code(ResponseCode::InUse, &self.say(Text::InUse)),
            AuthOutcome::LoginDelay => {
                response::err_code(ResponseCode::LoginDelay, &self.say(Text::LoginDelay))
            }
            AuthOutcome::TempFail => {
                response::err_code(ResponseCode::SysTemp, &self.say(Text::TempFail))
            }
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
