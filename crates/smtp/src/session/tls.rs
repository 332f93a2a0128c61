//! STARTTLS (RFC 3207).

use super::{Session, Waiting};
use crate::event::Event;
use crate::reply::Reply;

impl Session {
    /// STARTTLS: after EHLO, outside a transaction, when offered and not yet under
    /// TLS. On success the 220 reply and `Event::StartTls` are queued and every
    /// buffered octet is dropped.
    ///
    /// Replies, in order of the checks:
    /// - `502 5.5.1` when STARTTLS is not offered on this listener (as before);
    /// - `503 5.5.1 TLS already active` under TLS. RFC 3207 names no reply for this
    ///   case; the command is out of sequence (RFC 5321 4.2.4), hence 503 rather
    ///   than 554, which means the transaction or the whole service failed;
    /// - `503 5.5.1` before EHLO, or after HELO: STARTTLS is an ESMTP extension,
    ///   and a client that has not seen our EHLO reply cannot know it is offered;
    /// - `503 5.5.1` inside a mail transaction: the transaction would be lost by
    ///   the reset that follows the handshake (RFC 3207 4.2), so the client is
    ///   told rather than silently losing it.
    ///
    /// An argument (`501 5.5.4`, RFC 3207 section 4) is refused by the parser.
    pub(super) fn starttls(&mut self) {
        if !self.config.starttls && !self.tls_active {
            return self.bad_command(Reply::new(502, "5.5.1", "Error: command not implemented"));
        }
        if self.tls_active {
            return self.bad_command(Reply::new(503, "5.5.1", "TLS already active"));
        }
        if !self.helo.as_ref().is_some_and(|h| h.esmtp) {
            return self.bad_command(Reply::new(503, "5.5.1", "Error: send EHLO first"));
        }
        if self.transaction.is_some() {
            return self.bad_command(Reply::new(
                503,
                "5.5.1",
                "Error: MAIL transaction in progress",
            ));
        }
        self.send(Reply::new(220, "2.0.0", "Ready to start TLS"));
        self.events.push_back(Event::StartTls);
        self.waiting = Some(Waiting::Tls);
        // CVE-2011-0411: whatever the client sent after STARTTLS in the same
        // plaintext read must not be executed as if it came over TLS.
        self.input = Vec::new();
        self.start = 0;
        self.discard_to_lf = false;
    }

    /// The server completed the TLS handshake that `Event::StartTls` asked for.
    ///
    /// The session returns to its initial state (RFC 3207 4.2): the EHLO argument,
    /// any transaction and any authentication are forgotten and the client must
    /// send EHLO again; no new greeting is sent. The error and message counters are
    /// kept: they limit the connection, not the protocol state. Ignored unless a
    /// handshake is pending.
    pub fn tls_established(&mut self) {
        if self.take_waiting(|w| matches!(w, Waiting::Tls)).is_none() {
            return;
        }
        self.tls_active = true;
        self.helo = None;
        self.reset_transaction();
        self.authenticated = None;
        self.auth_exchange = false;
        self.input = Vec::new();
        self.start = 0;
        self.discard_to_lf = false;
    }
}
