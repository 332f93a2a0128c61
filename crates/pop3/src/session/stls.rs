//! STLS (RFC 2595 section 4): upgrading the connection to TLS in AUTHORIZATION.
//!
//! The session does not do TLS itself: it answers `+OK`, asks the server to run the
//! handshake ([`Event::StartTls`]) and waits for [`Session::tls_established`]. Everything the
//! client sent after the STLS line, and everything fed before the handshake completes, is
//! thrown away: otherwise plaintext commands injected by a man in the middle right behind
//! STLS would be executed as if they came over TLS (the CVE-2011-0411 class of bugs).

use super::{Awaiting, Session};
use crate::lang::Text;
use crate::response;
use crate::session::Event;

impl Session {
    pub(super) fn stls(&mut self) {
        if self.tls_active {
            return self.send(response::err(&self.say(Text::AlreadyTls)));
        }
        if !self.config.stls {
            return self.send(response::err(&self.say(Text::StlsUnavailable)));
        }
        // RFC 2595 section 4 allows STLS in AUTHORIZATION; once a login has begun in the
        // clear there is nothing left to protect it, and restarting would let a client mix
        // a plaintext USER with a PASS over TLS.
        if self.login_started {
            return self.send(response::err(&self.say(Text::StlsAfterLogin)));
        }
        self.send(response::ok(&self.say(Text::BeginTls)));
        self.events.push_back(Event::StartTls);
        self.awaiting = Awaiting::Tls;
        // Drop whatever followed the STLS line; `feed` ignores input until the handshake.
        self.reader = Self::reader(&self.config);
    }

    /// The TLS handshake requested by [`Event::StartTls`] completed: the session is now
    /// under TLS, still in AUTHORIZATION, and reads commands again (no new greeting; the
    /// client re-issues CAPA). Ignored unless a handshake is pending.
    pub fn tls_established(&mut self) {
        if self.awaiting != Awaiting::Tls {
            return;
        }
        self.awaiting = Awaiting::Nothing;
        self.tls_active = true;
        // Nothing can have been buffered (`feed` ignores input meanwhile); start clean anyway.
        self.reader = Self::reader(&self.config);
    }
}
