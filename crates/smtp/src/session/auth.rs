//! AUTH (RFC 4954): the command and the framing of the SASL exchange. The
//! mechanisms themselves run in the server, which answers each step with
//! [`Session::auth_challenge`], [`Session::auth_succeeded`] or
//! [`Session::auth_failed`].

use super::{Session, Waiting, auth_too_long, one_line};
use crate::command::is_sasl_name;
use crate::event::Event;
use crate::reply::Reply;

impl Session {
    /// AUTH: check that AUTH is possible now and the mechanism is offered, then hand
    /// the exchange to the server.
    ///
    /// Replies, in order of the checks:
    /// - `502 5.5.1 AUTH not supported`: no mechanism on this listener at all;
    /// - `503 5.5.1` before EHLO or after HELO (AUTH is an ESMTP extension), after
    ///   a successful AUTH, or inside a mail transaction (RFC 4954 section 4);
    /// - `538 5.7.11` on a plaintext session when the mechanism is offered only
    ///   under TLS, or when no mechanism is offered without TLS at all (RFC 4954
    ///   section 6): STARTTLS is what the client needs;
    /// - `504 5.5.4 Unrecognized authentication type` otherwise.
    pub(super) fn auth(&mut self, mechanism: String, initial_response: Option<String>) {
        if !self.auth_available() {
            return self.bad_command(Reply::new(502, "5.5.1", "AUTH not supported"));
        }
        if !self.helo.as_ref().is_some_and(|h| h.esmtp) {
            return self.bad_command(Reply::new(503, "5.5.1", "Error: send EHLO first"));
        }
        if self.authenticated.is_some() {
            return self.bad_command(Reply::new(503, "5.5.1", "Already authenticated"));
        }
        if self.transaction.is_some() {
            return self.bad_command(Reply::new(
                503,
                "5.5.1",
                "Error: AUTH not permitted during a mail transaction",
            ));
        }
        let offered = self.offered_mechanisms();
        if !offered.contains(&mechanism) {
            let tls_only = !self.tls_active
                && (offered.is_empty()
                    || self
                        .config
                        .auth_mechanisms_tls
                        .iter()
                        .any(|m| m.eq_ignore_ascii_case(&mechanism)));
            let reply = if tls_only {
                Reply::new(
                    538,
                    "5.7.11",
                    "Encryption required for requested authentication mechanism",
                )
            } else {
                Reply::new(504, "5.5.4", "Unrecognized authentication type")
            };
            return self.bad_command(reply);
        }
        self.auth_exchange = true;
        self.waiting = Some(Waiting::Auth);
        self.events.push_back(Event::Auth {
            mechanism,
            initial_response,
        });
    }

    /// A line of the exchange: `*` cancels (RFC 4954 section 4: reply 501),
    /// anything else goes to the mechanism.
    pub(super) fn auth_line(&mut self, line: &[u8]) {
        if line == b"*" {
            self.auth_exchange = false;
            self.events.push_back(Event::AuthCancelled);
            self.send(Reply::new(501, "5.0.0", "Authentication cancelled"));
            return;
        }
        self.waiting = Some(Waiting::Auth);
        // Base64 is ASCII: anything else makes the mechanism fail to decode and the
        // server answer 501 5.5.2, so a lossy conversion loses nothing.
        self.events.push_back(Event::AuthResponse(
            String::from_utf8_lossy(line).into_owned(),
        ));
    }

    /// An exchange line longer than [`AUTH_LINE_MAX`](super::AUTH_LINE_MAX): the
    /// AUTH command fails with 500 5.5.6 (RFC 4954 section 4).
    pub(super) fn auth_line_too_long(&mut self) {
        self.auth_exchange = false;
        self.events.push_back(Event::AuthCancelled);
        self.bad_command(auth_too_long());
    }

    /// Answer an Auth or AuthResponse event with a challenge: `334 <base64>`
    /// (`334 ` for an empty one), then wait for the client's response. Ignored when
    /// no AUTH step is pending.
    pub fn auth_challenge(&mut self, challenge: &str) {
        if self.take_waiting(|w| matches!(w, Waiting::Auth)).is_none() {
            return;
        }
        let reply = Reply {
            code: 334,
            enhanced: None,
            lines: vec![one_line(challenge)],
        };
        self.send(reply);
    }

    /// Answer an Auth or AuthResponse event: the client is authenticated as
    /// `identity`; sends `235 2.7.0 Authentication successful`. Ignored when no AUTH
    /// step is pending.
    pub fn auth_succeeded(&mut self, identity: &str) {
        if self.take_waiting(|w| matches!(w, Waiting::Auth)).is_none() {
            return;
        }
        self.auth_exchange = false;
        self.authenticated = Some(identity.to_owned());
        self.send(Reply::new(235, "2.7.0", "Authentication successful"));
    }

    /// Answer an Auth or AuthResponse event: the exchange failed with `reply`, e.g.
    /// `535 5.7.8 Authentication credentials invalid`, `454 4.7.0 Temporary
    /// authentication failure`, `501 5.5.2 Cannot decode response`. A reply that is
    /// not 4xx/5xx is replaced by that 454. The failure counts toward the
    /// bad-command limit, which bounds password guessing per connection. Ignored
    /// when no AUTH step is pending.
    pub fn auth_failed(&mut self, reply: Reply) {
        if self.take_waiting(|w| matches!(w, Waiting::Auth)).is_none() {
            return;
        }
        self.auth_exchange = false;
        let reply = if reply.is_error() {
            reply
        } else {
            Reply::new(454, "4.7.0", "Temporary authentication failure")
        };
        self.bad_command(reply);
    }

    /// Some mechanism is configured on this listener, with or without TLS.
    pub(super) fn auth_available(&self) -> bool {
        !self.config.auth_mechanisms_tls.is_empty() || !self.config.auth_mechanisms_plain.is_empty()
    }

    /// The mechanisms offered now (upper-cased, invalid names left out): the TLS
    /// list under TLS, the plaintext list otherwise.
    pub(super) fn offered_mechanisms(&self) -> Vec<String> {
        let list = if self.tls_active {
            &self.config.auth_mechanisms_tls
        } else {
            &self.config.auth_mechanisms_plain
        };
        let mut out: Vec<String> = Vec::new();
        for m in list.iter().filter(|m| is_sasl_name(m)) {
            let m = m.to_ascii_uppercase();
            if !out.contains(&m) {
                out.push(m);
            }
        }
        out
    }
}
