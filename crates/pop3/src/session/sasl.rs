//! AUTH (RFC 5034): framing a SASL exchange. The mechanisms themselves run in the server.
//!
//! ```text
//!   C: AUTH SCRAM-SHA-256 biwsbj1...        → Event::Auth { mechanism, initial_response }
//!   S: + cj1meWtvK3...                      ← Session::auth_challenge("cj1meWtvK3...")
//!   C: Yz1iaXdz...                          → Event::AuthResponse("Yz1iaXdz...")
//!   S: +OK Logged in, ...                   ← Session::auth_result(AuthOutcome::Ok { .. })
//! ```
//!
//! While a challenge is out, the next line is the client's response whatever it looks like;
//! `*` cancels (RFC 5034 section 4). Verdicts go through the same `finish_auth` as
//! USER/PASS, so failures count toward `max_auth_failures` and the response codes match.

use super::{Awaiting, Session};
use crate::framing::Line;
use crate::lang::Text;
use crate::response::{self, ResponseCode};
use crate::session::Event;

impl Session {
    pub(super) fn auth(&mut self, mechanism: String, initial_response: Option<String>) {
        let offered = |list: &[String]| list.iter().any(|m| m.eq_ignore_ascii_case(&mechanism));
        if !offered(self.config.sasl_mechanisms(self.tls_active)) {
            // RFC 5034 section 4: a mechanism the server does not support or does not permit
            // is refused with -ERR. RFC 3206 [AUTH] covers problems with the mechanism as
            // well as with the credentials; [SYS/PERM] is for server failures, not policy.
            let text = if !self.tls_active && offered(&self.config.sasl_mechanisms_tls) {
                Text::MechanismNeedsTls
            } else {
                Text::MechanismUnsupported
            };
            return self.send(response::err_code(ResponseCode::Auth, &self.say(text)));
        }
        self.login_started = true;
        self.user = None;
        self.awaiting = Awaiting::Sasl;
        self.events.push_back(Event::Auth {
            mechanism,
            initial_response,
        });
    }

    /// Sends a SASL challenge (`+ <base64>`; `+ ` when `challenge` is empty) in answer to
    /// [`Event::Auth`] or [`Event::AuthResponse`]; the client's next line comes back as
    /// [`Event::AuthResponse`]. `challenge` is the base64 text, already encoded. Ignored
    /// unless a SASL step is waiting for the server.
    pub fn auth_challenge(&mut self, challenge: &str) {
        if self.awaiting != Awaiting::Sasl {
            return;
        }
        self.awaiting = Awaiting::Nothing;
        self.sasl_client_turn = true;
        self.send(response::continuation(challenge));
    }

    /// Names the user a SASL exchange authenticated, for [`user`](Self::user) (the session
    /// cannot see inside the mechanism). Call it before [`auth_result`](Self::auth_result)
    /// with `AuthOutcome::Ok`. Ignored unless a SASL step is waiting for the server.
    pub fn set_user(&mut self, user: String) {
        if self.awaiting == Awaiting::Sasl {
            self.user = Some(user);
        }
    }

    /// The client's line while a challenge is out.
    pub(super) fn sasl_response(&mut self, line: Line) {
        self.sasl_client_turn = false;
        let bytes = match line {
            Line::Complete(bytes) | Line::Long(bytes) => bytes,
            Line::TooLong => return self.sasl_abort(Text::LineTooLong),
        };
        if bytes == b"*" {
            return self.sasl_abort(Text::AuthCancelled);
        }
        self.awaiting = Awaiting::Sasl;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        self.events.push_back(Event::AuthResponse(text));
    }

    /// Ends the exchange without a verdict: not a failed login, so not counted.
    fn sasl_abort(&mut self, text: Text<'_>) {
        self.user = None;
        self.send(response::err(&self.say(text)));
        self.events.push_back(Event::AuthCancelled);
    }
}
