//! What the session asks of the server: events, and the verdicts that answer them.

use crate::params::{MailParams, RcptParams};
use crate::path::{ForwardPath, ReversePath};
use crate::reply::Reply;

/// The transaction handed to the server when DATA is accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The EHLO/HELO argument.
    pub helo: String,
    /// The client said EHLO (true) or HELO (false); for the Received "with" clause.
    pub esmtp: bool,
    /// The MAIL FROM path.
    pub mail_from: ReversePath,
    /// The MAIL FROM parameters.
    pub params: MailParams,
    /// The accepted recipients, in order.
    pub recipients: Vec<ForwardPath>,
    /// The RCPT parameters (DSN's NOTIFY and ORCPT) of each accepted recipient,
    /// parallel to `recipients`: same length, same order. All empty when DSN is off.
    pub recipient_params: Vec<RcptParams>,
    /// The identity given to `Session::auth_succeeded`, if the client authenticated
    /// (for submission policy and the Received "with" keyword, RFC 3848).
    pub authenticated: Option<String>,
    /// The session was under TLS (STARTTLS or implicit TLS).
    pub tls: bool,
}

impl Envelope {
    /// The Received header's "with" protocol keyword (RFC 3848): ESMTP, ESMTPS,
    /// ESMTPA or ESMTPSA after EHLO, SMTP after HELO.
    pub fn with_protocol(&self) -> &'static str {
        match (self.esmtp, self.tls, self.authenticated.is_some()) {
            (false, _, _) => "SMTP",
            (true, false, false) => "ESMTP",
            (true, true, false) => "ESMTPS",
            (true, false, true) => "ESMTPA",
            (true, true, true) => "ESMTPSA",
        }
    }
}

/// What the server must do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Write these bytes to the client. The server may buffer consecutive Send events
    /// and flush when `poll` returns `None` (RFC 2920 pipelining).
    Send(Vec<u8>),
    /// MAIL FROM syntax is OK: the server decides; answer with `Session::mail_verdict`.
    CheckSender {
        /// The reverse path.
        from: ReversePath,
        /// The understood parameters.
        params: MailParams,
    },
    /// RCPT TO syntax is OK: the server decides; answer with `Session::rcpt_verdict`.
    CheckRecipient {
        /// The forward path.
        to: ForwardPath,
    },
    /// DATA was accepted (the 354 follows as a Send event), or the first BDAT
    /// chunk of a transaction: start a new body.
    MessageStart(Envelope),
    /// Body octets after dot-unstuffing and line-end normalisation, in order; at most
    /// [`CHUNK_SIZE`](crate::data::CHUNK_SIZE) octets each.
    MessageChunk(Vec<u8>),
    /// The end of data (or of the `BDAT … LAST` chunk) was reached and the whole body
    /// was delivered as chunks: store it and answer with `Session::message_verdict`
    /// or `Session::message_accepted`; only that answer sends the 250.
    MessageEnd,
    /// Discard the body (too big, or a line too long). The session reads on to the end
    /// of data (or of the BDAT chunk) and sends the error reply itself; no MessageEnd
    /// follows. Also emitted when RSET, EHLO, HELO or DATA ends a BDAT message
    /// between its chunks.
    MessageAborted,
    /// Close the connection after writing the pending Send events.
    Close,
    /// STARTTLS was accepted (the `220 2.0.0` reply is the Send event just before):
    /// write the pending Send events, run the TLS handshake as server and call
    /// `Session::tls_established`; if the handshake fails, drop the connection.
    /// Until then the session discards all input, so no plaintext command can be
    /// smuggled into the TLS session (CVE-2011-0411); the server must also throw
    /// away anything it read past the STARTTLS line and not yet fed.
    StartTls,
    /// An AUTH command (RFC 4954) for an offered mechanism: start that SASL
    /// mechanism and answer with `Session::auth_challenge`, `auth_succeeded` or
    /// `auth_failed`.
    Auth {
        /// The mechanism name, upper-cased.
        mechanism: String,
        /// The initial response as sent (base64, or `=` for an empty response).
        initial_response: Option<String>,
    },
    /// The client's answer to a 334 challenge, as sent (base64, not decoded). Answer
    /// as for `Auth`.
    AuthResponse(String),
    /// The exchange ended without the server's answer: the client cancelled with
    /// `*` (the session replies 501) or sent an over-long line (500). Discard the
    /// mechanism's state; no answer is expected.
    AuthCancelled,
}

/// The server's answer to CheckSender, CheckRecipient or MessageEnd.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Go on; the session sends the standard positive reply.
    Accept,
    /// Refuse with this reply, which should be 4xx or 5xx; any other code is
    /// replaced by `451 4.3.0` so the client and the session cannot disagree on
    /// whether the command succeeded.
    Reject(Reply),
}
