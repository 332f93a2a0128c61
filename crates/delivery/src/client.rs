//! The SMTP client protocol engine, sans-I/O.
//!
//! A [`Client`] drives one connection to one destination server, for one or more
//! messages. The caller (a tokio task) connects, feeds what it reads with
//! [`Client::feed`], and drains [`Client::poll`] until it returns `None`, performing
//! each [`Event`]: writing bytes, running the TLS handshake, starting the next
//! message, streaming a body through a [`DotStuffer`]. It reports the end of the
//! stream with [`Client::connection_lost`]. Every path ends in exactly one
//! [`Event::Closed`], after which the caller closes the socket.
//!
//! The conversation (RFC 5321, with RFC 3207 STARTTLS, RFC 4954 AUTH, RFC 2920
//! PIPELINING, RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 6531 SMTPUTF8, RFC 3461 DSN):
//!
//! 1. the 220 greeting (554 → permanent failure, 4xx → temporary);
//! 2. EHLO, or HELO when EHLO gets 500/502 (then no extensions);
//! 3. STARTTLS per [`StartTlsPolicy`], then EHLO again (RFC 3207: forget what was
//!    said in clear text). A refused STARTTLS leaves the session usable in clear
//!    text: `Opportunistic` carries on, `Required` fails temporarily;
//! 4. AUTH when credentials are configured: PLAIN with an initial response, or
//!    LOGIN when only that is offered; only under TLS whose certificate the
//!    caller verified ([`TlsTrust::Verified`]) unless `allow_plaintext_auth`:
//!    unverified TLS hides the password from a passive eavesdropper but hands
//!    it to anyone in the path who answers the handshake;
//! 5. [`Event::ReadyForMessage`]: the caller calls [`Client::start_message`] or
//!    [`Client::quit`]. Per message: MAIL, RCPT for each recipient, DATA — in one
//!    write when the server offers PIPELINING — then the body and the final reply;
//!    [`Event::MessageDone`] gives one result per recipient; then
//!    `ReadyForMessage` again.
//!
//! Contract for the caller:
//! - Every `start_message` yields exactly one `MessageDone`, with one result per
//!   envelope recipient in envelope order — also when the connection fails halfway
//!   (the open recipients are then `TempFailed`) and when the message is refused
//!   before anything is sent (SMTPUTF8 not offered, SIZE too big: `PermFailed`).
//! - `Send` events may be buffered and written together; write them all before
//!   waiting for input. After a failure the engine may ask to write `QUIT` just
//!   before `Closed`: a courtesy, its reply is not awaited.
//! - After `StartTls`, discard anything already read and not fed: the engine
//!   ignores input until `tls_established`, so the server cannot inject replies
//!   in clear text into the TLS session (the client side of CVE-2011-0411).
//! - Memory: a partial reply is bounded by `max_line` octets per line and
//!   [`MAX_REPLY_LINES`] lines; a longer line is a temporary failure. Complete
//!   replies are processed on `poll`, so drain `poll` after every `feed`.
//! - BODY=8BITMIME is sent only when the server offers 8BITMIME. An 8-bit message
//!   to a server without it is still sent as is (no conversion to 7 bit): nearly
//!   all servers accept 8-bit octets, and RFC 6152 leaves the choice to the
//!   client (bounce or send anyway).
//!
//! Reply texts in results are [`Reply::text`]: the code and each line's text
//! (enhanced status code included) joined by spaces. Texts the engine makes up
//! itself (e.g. `554 5.6.7 ...` when SMTPUTF8 is missing) use the same form.

mod caps;
mod dot;
mod reply;
#[cfg(test)]
mod tests;

use praisani_message::dsn::{Notify, Return};
use std::collections::VecDeque;
use std::sync::Arc;

pub use caps::Capabilities;
pub use dot::DotStuffer;
pub use reply::{MAX_REPLY_LINES, Reply, ReplyError, parse_reply};

/// What to do about STARTTLS (RFC 3207).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartTlsPolicy {
    /// Use it when offered; carry on in clear text when not offered or refused.
    Opportunistic,
    /// Fail temporarily when not offered or refused.
    Required,
    /// Never use it (e.g. implicit TLS is already in place).
    Disabled,
}

/// What the caller's TLS handshake proved about the server. The engine does
/// no TLS itself, so the caller says, and the engine sends credentials only
/// over [`TlsTrust::Verified`] TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsTrust {
    /// The certificate chained to a trusted root and named the host.
    Verified,
    /// Encrypted, but the certificate was not checked (opportunistic TLS).
    Unverified,
}

/// User name and password for AUTH (smarthosts).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The authentication identity.
    pub user: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// Settings for one connection; shared by all connections to a destination.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Our host name, sent with EHLO/HELO.
    pub helo_name: String,
    /// STARTTLS policy.
    pub starttls: StartTlsPolicy,
    /// Authenticate with these credentials (PLAIN, or LOGIN when only that is
    /// offered). A server offering neither fails temporarily.
    pub auth: Option<Credentials>,
    /// Allow AUTH on a connection without TLS, or with TLS whose certificate
    /// was not verified. Off by default: the password would travel in clear
    /// text, or to whoever answered the handshake.
    pub allow_plaintext_auth: bool,
    /// Longest reply line in octets, line end included (RFC 5321 4.5.3.1.5 says
    /// 512; servers send longer, 4096 is a good value).
    pub max_line: usize,
}

impl ClientConfig {
    /// Opportunistic STARTTLS, no AUTH, 4096-octet reply lines.
    pub fn new(helo_name: impl Into<String>) -> Self {
        ClientConfig {
            helo_name: helo_name.into(),
            starttls: StartTlsPolicy::Opportunistic,
            auth: None,
            allow_plaintext_auth: false,
            max_line: 4096,
        }
    }
}

/// One recipient of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    /// The forward path without `<>`.
    pub address: String,
    /// DSN NOTIFY value (RFC 3461 4.1); sent only when the server offers DSN.
    pub notify: Option<Notify>,
    /// DSN ORCPT value, `addr-type;address` (e.g. `rfc822;a@example.org`) or a bare
    /// address (then `rfc822` is assumed), NOT xtext-encoded: the engine encodes
    /// the address part. Sent only when the server offers DSN.
    pub orcpt: Option<String>,
}

impl Recipient {
    /// A recipient without DSN parameters.
    pub fn new(address: impl Into<String>) -> Self {
        Recipient {
            address: address.into(),
            notify: None,
            orcpt: None,
        }
    }
}

/// One message's envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse path without `<>`; empty for the null sender.
    pub from: String,
    /// The recipients; results come back in this order.
    pub recipients: Vec<Recipient>,
    /// The body size in octets, sent as SIZE= when the server offers SIZE, and
    /// checked against the server's advertised limit first.
    pub size: Option<u64>,
    /// The body has 8-bit octets: BODY=8BITMIME when the server offers 8BITMIME.
    pub eight_bit: bool,
    /// The message needs SMTPUTF8 (RFC 6531). Also assumed when an address is not
    /// ASCII. A server without SMTPUTF8 makes the message fail permanently.
    pub smtputf8: bool,
    /// DSN RET value; sent only when the server offers DSN.
    pub ret: Option<Return>,
    /// DSN ENVID value, not xtext-encoded (the engine encodes it); sent only when
    /// the server offers DSN.
    pub envid: Option<String>,
    /// REQUIRETLS (RFC 8689): sent on MAIL FROM; the message is refused
    /// (`5.7.30`, every recipient) unless the session's TLS is verified
    /// and the server offers REQUIRETLS.
    pub requiretls: bool,
}

impl Envelope {
    /// An envelope without SIZE, 8BITMIME, SMTPUTF8 or DSN parameters.
    pub fn new(from: impl Into<String>, recipients: Vec<Recipient>) -> Self {
        Envelope {
            from: from.into(),
            recipients,
            size: None,
            eight_bit: false,
            smtputf8: false,
            ret: None,
            envid: None,
            requiretls: false,
        }
    }
}

/// What the caller must do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Write these bytes to the server.
    Send(Vec<u8>),
    /// Write the pending Send events, run the TLS handshake as client, then call
    /// [`Client::tls_established`]; if the handshake fails, drop the connection
    /// (and report a temporary failure). Input is ignored until then.
    StartTls,
    /// The connection is set up: call [`Client::start_message`] or [`Client::quit`].
    ReadyForMessage,
    /// The server said 354: stream the body through a [`DotStuffer`] (terminator
    /// included) as writes, then call [`Client::body_sent`].
    SendBody,
    /// The results of the message started last.
    MessageDone(MessageOutcome),
    /// The connection is finished: `None` after a normal QUIT, else why it failed.
    /// Nothing follows; close the socket.
    Closed(Option<Failure>),
}

/// The results of one message, one per envelope recipient, in envelope order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageOutcome {
    /// Per-recipient results.
    pub recipients: Vec<RecipientResult>,
}

/// What happened to one recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecipientResult {
    /// The server took responsibility for the message (2xx to the end of data).
    Delivered {
        /// The server's reply.
        reply: String,
    },
    /// Try again later.
    TempFailed {
        /// The server's reply, or our reason.
        reply: String,
    },
    /// Do not retry: bounce.
    PermFailed {
        /// The server's reply, or our reason.
        reply: String,
    },
}

impl RecipientResult {
    /// The reply text, whatever the result.
    pub fn reply(&self) -> &str {
        match self {
            RecipientResult::Delivered { reply }
            | RecipientResult::TempFailed { reply }
            | RecipientResult::PermFailed { reply } => reply,
        }
    }
}

/// Why a connection ended early.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} failure at {stage}: {reply}", if *.permanent { "permanent" } else { "temporary" })]
pub struct Failure {
    /// A 5xx (do not retry this destination for these messages) rather than a 4xx,
    /// a protocol error or a lost connection.
    pub permanent: bool,
    /// Where it happened: "greeting", "EHLO", "HELO", "STARTTLS", "AUTH", "MAIL",
    /// "RCPT", "DATA", "end of data", "RSET", "QUIT" or "idle" (between messages).
    pub stage: &'static str,
    /// The server's reply, or our reason.
    pub reply: String,
}

/// A reply we are waiting for, in the order the commands were sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    /// AUTH PLAIN with initial response, or the password of AUTH LOGIN: 235 ends it.
    AuthDone,
    /// AUTH LOGIN: 334 asks for the user name.
    AuthLoginUser,
    /// AUTH LOGIN: 334 asks for the password.
    AuthLoginPassword,
    Mail,
    Rcpt(usize),
    Data,
    EndOfData,
    /// The end of an empty body sent after an unwanted 354 (pipelined DATA with no
    /// accepted recipient); the reply is ignored.
    DiscardedData,
    Rset,
    Quit,
}

impl Expect {
    fn stage(self) -> &'static str {
        match self {
            Expect::Greeting => "greeting",
            Expect::Ehlo => "EHLO",
            Expect::Helo => "HELO",
            Expect::StartTls => "STARTTLS",
            Expect::AuthDone | Expect::AuthLoginUser | Expect::AuthLoginPassword => "AUTH",
            Expect::Mail => "MAIL",
            Expect::Rcpt(_) => "RCPT",
            Expect::Data | Expect::DiscardedData => "DATA",
            Expect::EndOfData => "end of data",
            Expect::Rset => "RSET",
            Expect::Quit => "QUIT",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Reading replies (or idle when `expect` is empty and `ready`).
    Open,
    /// STARTTLS accepted; waiting for `tls_established`, input ignored.
    AwaitTls,
    /// 354 received; waiting for `body_sent`, replies left unread.
    Body,
    Closed,
}

#[derive(Debug)]
enum RcptState {
    /// RCPT not answered yet (or not sent yet, without pipelining).
    Open,
    /// 2xx to RCPT; the end-of-data reply decides.
    Accepted,
    Final(RecipientResult),
}

#[derive(Debug)]
struct Transaction {
    envelope: Envelope,
    rcpts: Vec<RcptState>,
    pipelined: bool,
    /// MAIL was refused: later RCPT replies are ignored.
    mail_failed: bool,
}

impl Transaction {
    fn any_accepted(&self) -> bool {
        self.rcpts.iter().any(|r| matches!(r, RcptState::Accepted))
    }

    /// The first recipient at index `from` or later still waiting for its RCPT.
    fn next_open(&self, from: usize) -> Option<usize> {
        (from..self.rcpts.len()).find(|&i| matches!(self.rcpts[i], RcptState::Open))
    }

    /// Give every unsettled recipient (only the accepted ones if `accepted_only`)
    /// a result of this class with this reply.
    fn settle(&mut self, accepted_only: bool, class: Outcome, reply: &str) {
        for r in &mut self.rcpts {
            let hit = match r {
                RcptState::Accepted => true,
                RcptState::Open => !accepted_only,
                RcptState::Final(_) => false,
            };
            if hit {
                *r = RcptState::Final(class.result(reply));
            }
        }
    }

    fn outcome(self) -> MessageOutcome {
        MessageOutcome {
            recipients: self
                .rcpts
                .into_iter()
                .map(|r| match r {
                    RcptState::Final(res) => res,
                    // Only reached if a path forgot to settle: never claim delivery.
                    RcptState::Open | RcptState::Accepted => RecipientResult::TempFailed {
                        reply: "451 4.3.0 transaction ended without a result".into(),
                    },
                })
                .collect(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Ok,
    Temp,
    Perm,
}

impl Outcome {
    /// 2xx, 4xx, 5xx; `None` for 3xx (not a completion).
    fn of(reply: &Reply) -> Option<Self> {
        match reply.class() {
            2 => Some(Outcome::Ok),
            4 => Some(Outcome::Temp),
            5 => Some(Outcome::Perm),
            _ => None,
        }
    }

    fn result(self, reply: &str) -> RecipientResult {
        let reply = reply.to_owned();
        match self {
            Outcome::Ok => RecipientResult::Delivered { reply },
            Outcome::Temp => RecipientResult::TempFailed { reply },
            Outcome::Perm => RecipientResult::PermFailed { reply },
        }
    }
}

/// One outbound SMTP connection's protocol state.
#[derive(Debug)]
pub struct Client {
    config: Arc<ClientConfig>,
    caps: Capabilities,
    /// Received octets not yet parsed.
    input: Vec<u8>,
    /// A partial reply line grew beyond `max_line` while being fed.
    overflow: bool,
    /// The server closed the stream (`connection_lost`).
    eof: bool,
    events: VecDeque<Event>,
    expect: VecDeque<Expect>,
    phase: Phase,
    tls: bool,
    /// The TLS in place was verified ([`TlsTrust::Verified`]).
    tls_verified: bool,
    /// ReadyForMessage was emitted and no message or QUIT followed yet.
    ready: bool,
    txn: Option<Transaction>,
}

impl Client {
    /// A client on a freshly connected socket, waiting for the 220 greeting.
    pub fn new(config: Arc<ClientConfig>) -> Self {
        Client {
            config,
            caps: Capabilities::default(),
            input: Vec::new(),
            overflow: false,
            eof: false,
            events: VecDeque::new(),
            expect: VecDeque::from([Expect::Greeting]),
            phase: Phase::Open,
            tls: false,
            tls_verified: false,
            ready: false,
            txn: None,
        }
    }

    /// A client on a connection that is already under TLS (implicit TLS, RFC
    /// 8314): STARTTLS is never used, and AUTH is allowed when `trust` is
    /// [`TlsTrust::Verified`].
    pub fn new_tls(config: Arc<ClientConfig>, trust: TlsTrust) -> Self {
        let mut c = Client::new(config);
        c.tls = true;
        c.tls_verified = trust == TlsTrust::Verified;
        c
    }

    /// What the server offered in its last EHLO reply.
    pub fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// The connection is under TLS.
    pub fn tls_active(&self) -> bool {
        self.tls
    }

    /// `Closed` has been emitted (or is queued).
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Octets received and not yet processed (for tests and metrics).
    pub fn buffered(&self) -> usize {
        self.input.len()
    }

    /// Append octets read from the server. Processed on `poll`. Ignored while a
    /// TLS handshake is pending and after the connection is closed.
    pub fn feed(&mut self, bytes: &[u8]) {
        if matches!(self.phase, Phase::Closed | Phase::AwaitTls) || self.overflow {
            return;
        }
        self.input.extend_from_slice(bytes);
        let tail = match self.input.iter().rposition(|&b| b == b'\n') {
            Some(lf) => self.input.len() - lf - 1,
            None => self.input.len(),
        };
        if tail > self.config.max_line {
            // Keep memory bounded: this line is an error whatever follows.
            self.overflow = true;
            self.input.truncate(self.input.len() - tail);
        }
    }

    /// The server closed the connection (EOF or a read error). Replies already fed
    /// are still processed; then the connection ends, with a temporary failure
    /// unless we were waiting for the reply to QUIT.
    pub fn connection_lost(&mut self) {
        self.eof = true;
    }

    /// The next thing to do, or `None` when the engine waits for input or for a
    /// call (`tls_established`, `start_message`, `body_sent`, `quit`).
    pub fn poll(&mut self) -> Option<Event> {
        loop {
            if let Some(ev) = self.events.pop_front() {
                return Some(ev);
            }
            match self.phase {
                Phase::Closed => return None,
                Phase::AwaitTls | Phase::Body => {
                    if self.eof {
                        let stage = if self.phase == Phase::Body {
                            "DATA"
                        } else {
                            "STARTTLS"
                        };
                        self.fail(false, stage, "connection lost".into(), false);
                        continue;
                    }
                    return None;
                }
                Phase::Open => {}
            }
            let stage = self.stage();
            match parse_reply(&self.input, self.config.max_line) {
                Ok(Some((reply, used))) => {
                    self.input.drain(..used);
                    self.handle(reply);
                }
                Ok(None) if self.overflow => {
                    let msg = ReplyError::TooLong.to_string();
                    self.fail(false, stage, msg, false);
                }
                Ok(None) if self.eof => {
                    if self.expect.front() == Some(&Expect::Quit) {
                        self.close(None);
                    } else {
                        self.fail(false, stage, "connection lost".into(), false);
                    }
                }
                Ok(None) => return None,
                Err(e) => self.fail(false, stage, e.to_string(), false),
            }
        }
    }

    /// The TLS handshake asked for by `StartTls` succeeded: EHLO again and forget
    /// the capabilities read in clear text (RFC 3207 section 4.2). `trust` says
    /// whether the certificate was verified, which AUTH needs.
    pub fn tls_established(&mut self, trust: TlsTrust) {
        if self.phase != Phase::AwaitTls {
            return;
        }
        self.phase = Phase::Open;
        self.tls = true;
        self.tls_verified = trust == TlsTrust::Verified;
        self.caps = Capabilities::default();
        self.input.clear();
        self.send_command(format!("EHLO {}\r\n", self.config.helo_name), Expect::Ehlo);
    }

    /// Send a message. Call after `ReadyForMessage`; at other times the message
    /// comes back at once as `MessageDone` with every recipient `TempFailed`.
    pub fn start_message(&mut self, envelope: Envelope) {
        let n = envelope.recipients.len();
        if !self.ready || self.phase != Phase::Open || self.txn.is_some() {
            let res = RecipientResult::TempFailed {
                reply: "451 4.3.0 connection not ready for a message".into(),
            };
            self.events.push_back(Event::MessageDone(MessageOutcome {
                recipients: vec![res; n],
            }));
            return;
        }
        self.ready = false;
        let needs_utf8 = envelope.smtputf8
            || !envelope.from.is_ascii()
            || envelope.recipients.iter().any(|r| !r.address.is_ascii());
        let refuse_all = if needs_utf8 && !self.caps.smtputf8 {
            Some(
                "554 5.6.7 message needs SMTPUTF8 (international addresses or headers), \
                 which the server does not offer"
                    .to_owned(),
            )
        } else if let (Some(size), Some(limit)) = (envelope.size, self.caps.size)
            && limit > 0
            && size > limit
        {
            Some(format!(
                "552 5.3.4 message size {size} exceeds the server's limit of {limit} octets"
            ))
        } else if !valid_path(&envelope.from) {
            Some("553 5.1.7 invalid sender address".to_owned())
        } else if envelope.requiretls && !(self.tls_verified && self.caps.requiretls) {
            Some(
                "550 5.7.30 REQUIRETLS support required: the server's TLS is not verified \
                 or it does not offer REQUIRETLS"
                    .to_owned(),
            )
        } else {
            None
        };
        let mut rcpts: Vec<RcptState> = envelope
            .recipients
            .iter()
            .map(|r| match &refuse_all {
                Some(reason) => RcptState::Final(RecipientResult::PermFailed {
                    reply: reason.clone(),
                }),
                None if r.address.is_empty() || !valid_path(&r.address) => {
                    RcptState::Final(RecipientResult::PermFailed {
                        reply: "553 5.1.3 invalid recipient address".into(),
                    })
                }
                None => RcptState::Open,
            })
            .collect();
        if !rcpts.iter().any(|r| matches!(r, RcptState::Open)) {
            // Nothing to send (including an empty recipient list).
            let txn = Transaction {
                envelope,
                rcpts: std::mem::take(&mut rcpts),
                pipelined: false,
                mail_failed: false,
            };
            self.events.push_back(Event::MessageDone(txn.outcome()));
            self.become_ready();
            return;
        }
        let mail = self.mail_command(&envelope, needs_utf8);
        let pipelined = self.caps.pipelining;
        let txn = Transaction {
            envelope,
            rcpts,
            pipelined,
            mail_failed: false,
        };
        if pipelined {
            let mut out = mail.into_bytes();
            self.expect.push_back(Expect::Mail);
            for i in 0..txn.rcpts.len() {
                if matches!(txn.rcpts[i], RcptState::Open) {
                    out.extend_from_slice(
                        self.rcpt_command(&txn.envelope.recipients[i]).as_bytes(),
                    );
                    self.expect.push_back(Expect::Rcpt(i));
                }
            }
            out.extend_from_slice(b"DATA\r\n");
            self.expect.push_back(Expect::Data);
            self.events.push_back(Event::Send(out));
        } else {
            self.send_command(mail, Expect::Mail);
        }
        self.txn = Some(txn);
    }

    /// The body and its terminator have been written after `SendBody`.
    pub fn body_sent(&mut self) {
        if self.phase == Phase::Body {
            self.phase = Phase::Open;
            self.expect.push_back(Expect::EndOfData);
        }
    }

    /// No more messages: send QUIT and close after its reply. Called at another
    /// time than after `ReadyForMessage`, it abandons what is in progress (an open
    /// message comes back with its open recipients `TempFailed`) and closes at once.
    pub fn quit(&mut self) {
        if self.phase == Phase::Closed {
            return;
        }
        if self.ready && self.phase == Phase::Open && self.expect.is_empty() {
            self.ready = false;
            self.send_command("QUIT\r\n".into(), Expect::Quit);
            return;
        }
        if let Some(mut txn) = self.txn.take() {
            txn.settle(
                false,
                Outcome::Temp,
                "451 4.3.0 delivery abandoned before the server answered",
            );
            self.events.push_back(Event::MessageDone(txn.outcome()));
        }
        // Mid-body or mid-handshake a QUIT would be taken as data: just close.
        if self.phase == Phase::Open {
            self.events.push_back(Event::Send(b"QUIT\r\n".to_vec()));
        }
        self.close(None);
    }

    // ----- internals -----

    fn stage(&self) -> &'static str {
        match self.expect.front() {
            Some(e) => e.stage(),
            None => "idle",
        }
    }

    fn send_command(&mut self, cmd: String, expect: Expect) {
        self.events.push_back(Event::Send(cmd.into_bytes()));
        self.expect.push_back(expect);
    }

    fn become_ready(&mut self) {
        self.ready = true;
        self.events.push_back(Event::ReadyForMessage);
    }

    fn close(&mut self, failure: Option<Failure>) {
        self.phase = Phase::Closed;
        self.expect.clear();
        self.input = Vec::new();
        self.ready = false;
        self.events.push_back(Event::Closed(failure));
    }

    /// End the connection with a failure; an open message is settled first (its
    /// open recipients fail temporarily, or permanently for a permanent failure).
    fn fail(&mut self, permanent: bool, stage: &'static str, reply: String, send_quit: bool) {
        if let Some(mut txn) = self.txn.take() {
            let class = if permanent {
                Outcome::Perm
            } else {
                Outcome::Temp
            };
            txn.settle(false, class, &reply);
            self.events.push_back(Event::MessageDone(txn.outcome()));
        }
        if send_quit {
            self.events.push_back(Event::Send(b"QUIT\r\n".to_vec()));
        }
        self.close(Some(Failure {
            permanent,
            stage,
            reply,
        }));
    }

    /// A negative (or unexpected) reply that ends the connection: 4xx temporary,
    /// 5xx permanent, anything else a protocol error.
    fn refused(&mut self, stage: &'static str, reply: &Reply) {
        match Outcome::of(reply) {
            Some(Outcome::Temp) => self.fail(false, stage, reply.text(), true),
            Some(Outcome::Perm) => self.fail(true, stage, reply.text(), true),
            _ => self.unexpected(stage, reply),
        }
    }

    /// A refused AUTH is our configuration's fault (wrong credentials for
    /// a smarthost), not the message's: it is always temporary, so mail
    /// waits in the queue until the operator fixes it instead of bouncing
    /// (as Postfix's `smtp_sasl_auth_soft_bounce`).
    fn auth_refused(&mut self, reply: &Reply) {
        match Outcome::of(reply) {
            Some(Outcome::Temp | Outcome::Perm) => self.fail(false, "AUTH", reply.text(), true),
            _ => self.unexpected("AUTH", reply),
        }
    }

    fn unexpected(&mut self, stage: &'static str, reply: &Reply) {
        let msg = format!("protocol error: unexpected reply {}", reply.text());
        self.fail(false, stage, msg, false);
    }

    fn handle(&mut self, reply: Reply) {
        let Some(expect) = self.expect.pop_front() else {
            // Nothing was asked: typically a 421 on an idle connection.
            if reply.code == 421 {
                self.fail(false, "idle", reply.text(), false);
            } else {
                self.unexpected("idle", &reply);
            }
            return;
        };
        if expect == Expect::Quit {
            self.close(None);
            return;
        }
        if reply.code == 421 {
            // The server is closing the connection (RFC 5321 3.8).
            self.fail(false, expect.stage(), reply.text(), false);
            return;
        }
        match expect {
            Expect::Greeting => match reply.code {
                220 => {
                    self.send_command(format!("EHLO {}\r\n", self.config.helo_name), Expect::Ehlo)
                }
                _ => self.refused("greeting", &reply),
            },
            Expect::Ehlo => match reply.code {
                250 => {
                    self.caps = Capabilities::from_ehlo(&reply);
                    self.after_hello();
                }
                500 | 502 => {
                    self.send_command(format!("HELO {}\r\n", self.config.helo_name), Expect::Helo)
                }
                _ => self.refused("EHLO", &reply),
            },
            Expect::Helo => match reply.code {
                250 => {
                    self.caps = Capabilities::default();
                    self.after_hello();
                }
                _ => self.refused("HELO", &reply),
            },
            Expect::StartTls => match reply.code {
                220 => {
                    self.phase = Phase::AwaitTls;
                    // Anything after the 220 was sent in clear text: never let it
                    // count as a reply within the TLS session.
                    self.input = Vec::new();
                    self.events.push_back(Event::StartTls);
                }
                _ if Outcome::of(&reply).is_none_or(|o| o == Outcome::Ok) => {
                    self.unexpected("STARTTLS", &reply)
                }
                _ if self.config.starttls == StartTlsPolicy::Required => {
                    let msg = format!("STARTTLS required but refused: {}", reply.text());
                    self.fail(false, "STARTTLS", msg, true);
                }
                // RFC 3207: after a refused STARTTLS the session goes on in clear text.
                _ => self.start_auth(),
            },
            Expect::AuthDone => match Outcome::of(&reply) {
                Some(Outcome::Ok) => self.become_ready(),
                _ => self.auth_refused(&reply),
            },
            Expect::AuthLoginUser | Expect::AuthLoginPassword => match reply.code {
                334 => {
                    let Some(cred) = self.config.auth.clone() else {
                        return self.unexpected("AUTH", &reply);
                    };
                    let (secret, next) = if expect == Expect::AuthLoginUser {
                        (cred.user, Expect::AuthLoginPassword)
                    } else {
                        (cred.password, Expect::AuthDone)
                    };
                    self.send_command(
                        format!(
                            "{}\r\n",
                            praisani_message::base64::encode(secret.as_bytes())
                        ),
                        next,
                    );
                }
                _ => self.auth_refused(&reply),
            },
            Expect::Mail => self.on_mail(&reply),
            Expect::Rcpt(i) => self.on_rcpt(i, &reply),
            Expect::Data => self.on_data(&reply),
            Expect::EndOfData => match (Outcome::of(&reply), self.txn.take()) {
                (Some(class), Some(mut txn)) => {
                    txn.settle(true, class, &reply.text());
                    self.events.push_back(Event::MessageDone(txn.outcome()));
                    self.become_ready();
                }
                _ => self.unexpected("end of data", &reply),
            },
            Expect::DiscardedData => self.end_without_body(),
            Expect::Rset => match Outcome::of(&reply) {
                Some(Outcome::Ok) => self.become_ready(),
                _ => {
                    let msg = format!("RSET refused: {}", reply.text());
                    self.fail(false, "RSET", msg, true);
                }
            },
            Expect::Quit => unreachable!("handled above"),
        }
    }

    /// After EHLO/HELO: STARTTLS, then AUTH, then ready.
    fn after_hello(&mut self) {
        if !self.tls && self.config.starttls != StartTlsPolicy::Disabled {
            if self.caps.starttls {
                self.send_command("STARTTLS\r\n".into(), Expect::StartTls);
                return;
            }
            if self.config.starttls == StartTlsPolicy::Required {
                self.fail(
                    false,
                    "STARTTLS",
                    "STARTTLS required but the server does not offer it".into(),
                    true,
                );
                return;
            }
        }
        self.start_auth();
    }

    fn start_auth(&mut self) {
        let Some(cred) = self.config.auth.clone() else {
            self.become_ready();
            return;
        };
        if !self.tls && !self.config.allow_plaintext_auth {
            let msg = "refusing to send credentials over a connection without TLS".into();
            self.fail(false, "AUTH", msg, true);
        } else if !self.tls_verified && !self.config.allow_plaintext_auth {
            let msg = "refusing to send credentials: the server's certificate was not verified";
            self.fail(false, "AUTH", msg.into(), true);
        } else if self.caps.auth_plain {
            let mut blob = Vec::with_capacity(cred.user.len() + cred.password.len() + 2);
            blob.push(0);
            blob.extend_from_slice(cred.user.as_bytes());
            blob.push(0);
            blob.extend_from_slice(cred.password.as_bytes());
            let cmd = format!("AUTH PLAIN {}\r\n", praisani_message::base64::encode(&blob));
            self.send_command(cmd, Expect::AuthDone);
        } else if self.caps.auth_login {
            self.send_command("AUTH LOGIN\r\n".into(), Expect::AuthLoginUser);
        } else {
            let msg = "server offers neither AUTH PLAIN nor AUTH LOGIN".into();
            self.fail(false, "AUTH", msg, true);
        }
    }

    fn mail_command(&self, env: &Envelope, smtputf8: bool) -> String {
        let mut cmd = format!("MAIL FROM:<{}>", env.from);
        if let (Some(size), Some(_)) = (env.size, self.caps.size) {
            cmd.push_str(&format!(" SIZE={size}"));
        }
        if env.eight_bit && self.caps.eight_bit_mime {
            cmd.push_str(" BODY=8BITMIME");
        }
        if smtputf8 {
            cmd.push_str(" SMTPUTF8");
        }
        if self.caps.dsn {
            if let Some(ret) = env.ret {
                cmd.push_str(&format!(" RET={}", ret.as_param()));
            }
            if let Some(envid) = &env.envid {
                cmd.push_str(&format!(" ENVID={}", xtext(envid)));
            }
        }
        if env.requiretls {
            cmd.push_str(" REQUIRETLS");
        }
        cmd.push_str("\r\n");
        cmd
    }

    fn rcpt_command(&self, r: &Recipient) -> String {
        let mut cmd = format!("RCPT TO:<{}>", r.address);
        if self.caps.dsn {
            // A value that could not be sent (nothing asked for) is left out.
            if let Some(notify) = r.notify.map(Notify::to_param)
                && !notify.is_empty()
            {
                cmd.push_str(&format!(" NOTIFY={notify}"));
            }
            if let Some(orcpt) = &r.orcpt {
                let (kind, addr) = match orcpt.split_once(';') {
                    Some((kind, addr))
                        if !kind.is_empty()
                            && kind.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
                    {
                        (kind, addr)
                    }
                    _ => ("rfc822", orcpt.as_str()),
                };
                cmd.push_str(&format!(" ORCPT={kind};{}", xtext(addr)));
            }
        }
        cmd.push_str("\r\n");
        cmd
    }

    fn on_mail(&mut self, reply: &Reply) {
        let Some(txn) = self.txn.as_mut() else {
            return self.unexpected("MAIL", reply);
        };
        match Outcome::of(reply) {
            Some(Outcome::Ok) => {
                if !txn.pipelined {
                    self.send_next_rcpt(0);
                }
            }
            Some(class) => {
                txn.mail_failed = true;
                txn.settle(false, class, &reply.text());
                if !txn.pipelined {
                    self.end_without_body();
                }
                // Pipelined: the RCPT and DATA replies still come; read them.
            }
            None => self.unexpected("MAIL", reply),
        }
    }

    fn on_rcpt(&mut self, i: usize, reply: &Reply) {
        let Some(txn) = self.txn.as_mut() else {
            return self.unexpected("RCPT", reply);
        };
        if !txn.mail_failed {
            let Some(class) = Outcome::of(reply) else {
                return self.unexpected("RCPT", reply);
            };
            if let Some(r) = txn.rcpts.get_mut(i) {
                *r = match class {
                    Outcome::Ok => RcptState::Accepted,
                    _ => RcptState::Final(class.result(&reply.text())),
                };
            }
        }
        if !txn.pipelined {
            self.send_next_rcpt(i + 1);
        }
    }

    /// Without pipelining: the next RCPT, or DATA after the last, or RSET when no
    /// recipient was accepted.
    fn send_next_rcpt(&mut self, from: usize) {
        let Some(txn) = self.txn.as_ref() else { return };
        if let Some(i) = txn.next_open(from) {
            let cmd = self.rcpt_command(&txn.envelope.recipients[i]);
            self.send_command(cmd, Expect::Rcpt(i));
        } else if txn.any_accepted() {
            self.send_command("DATA\r\n".into(), Expect::Data);
        } else {
            self.end_without_body();
        }
    }

    fn on_data(&mut self, reply: &Reply) {
        let Some(txn) = self.txn.as_mut() else {
            return self.unexpected("DATA", reply);
        };
        if reply.code == 354 {
            if txn.any_accepted() && !txn.mail_failed {
                self.phase = Phase::Body;
                self.events.push_back(Event::SendBody);
            } else {
                // A server that accepts pipelined DATA with no valid recipient
                // (RFC 2920 says it must not): send an empty body to get back in
                // step; nobody receives it.
                self.events.push_back(Event::Send(b".\r\n".to_vec()));
                self.expect.push_back(Expect::DiscardedData);
            }
            return;
        }
        match Outcome::of(reply) {
            Some(Outcome::Ok) | None => self.unexpected("DATA", reply),
            Some(class) => {
                txn.settle(true, class, &reply.text());
                self.end_without_body();
            }
        }
    }

    /// The message ended before a body was sent: report it, then RSET so the next
    /// message starts from a clean state.
    fn end_without_body(&mut self) {
        if let Some(txn) = self.txn.take() {
            self.events.push_back(Event::MessageDone(txn.outcome()));
        }
        self.send_command("RSET\r\n".into(), Expect::Rset);
    }
}

/// A path we can put between `<>` without changing the command: no control
/// characters, no angle brackets, no spaces outside a quoted local part.
fn valid_path(path: &str) -> bool {
    let mut quoted = false;
    let mut escaped = false;
    for c in path.chars() {
        if c.is_control() || c == '<' || c == '>' {
            return false;
        }
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == ' ' && !quoted {
            return false;
        }
    }
    !quoted && !escaped
}

/// xtext (RFC 3461 4): `+`, `=`, controls, space and non-ASCII as `+XX`.
fn xtext(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (33..=126).contains(&b) && b != b'+' && b != b'=' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("+{b:02X}"));
        }
    }
    out
}
