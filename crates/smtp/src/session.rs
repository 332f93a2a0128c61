//! The SMTP server session: a sans-I/O state machine.
//!
//! The server feeds received octets with [`Session::feed`] and drains
//! [`Session::poll`] until it returns `None`, performing each [`Event`]. Requests that
//! need a decision (sender, recipient, stored message) stop the session until the
//! matching verdict method is called; commands pipelined behind them stay buffered.
//!
//! Memory stays bounded: a partial command line is kept to at most
//! `max_command_line` octets, each poll step produces a bounded amount of output, and
//! the input buffer never holds more than what the server fed since it last drained
//! `poll` (plus one partial line). A server that keeps feeding while a verdict is
//! pending makes the buffer grow by what it feeds, so it should stop reading then.
//!
//! AUTH lines (the command and the lines of the exchange) may be up to
//! [`AUTH_LINE_MAX`] octets when AUTH is offered (RFC 4954 section 4); during a
//! STARTTLS handshake nothing is buffered at all.
//!
//! BDAT chunks (RFC 3030) are read by their announced size, in whatever state the
//! session is: a chunk whose command is refused is still skipped, so its octets
//! are never taken as commands.
//!
//! Per-command handlers live in the submodules, one per command family.

mod auth;
mod bdat;
mod data;
mod hello;
mod mail;
mod misc;
mod rcpt;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_bdat;
#[cfg(test)]
mod tests_dsn;
#[cfg(test)]
mod tests_rcpt;
#[cfg(test)]
mod tests_submission;
mod tls;

use std::collections::VecDeque;
use std::sync::Arc;

use crate::bdat::BdatDecoder;
use crate::command::{Command, CommandError, parse_command};
use crate::config::Config;
use crate::data::DataDecoder;
use crate::event::{Event, Verdict};
use crate::params::{MailParams, ParamError, RcptParams};
use crate::path::{ForwardPath, ReversePath};
use crate::reply::Reply;

/// Longest AUTH command or authentication exchange line in octets including the
/// line end: RFC 4954 section 4 names 12288 as sufficient for deployed mechanisms.
/// It applies only where AUTH is offered; other commands keep `max_command_line`.
pub const AUTH_LINE_MAX: usize = 12288;

/// One SMTP server connection's protocol state.
#[derive(Debug)]
pub struct Session {
    config: Arc<Config>,
    /// Events ready for `poll`. A command is only processed when this is empty, so it
    /// holds the output of one step at most.
    events: VecDeque<Event>,
    /// Received octets; `input[start..]` is not yet processed.
    input: Vec<u8>,
    start: usize,
    /// The partial line at the end of `input` was cut at the length limit: drop new
    /// input up to the next LF, which then ends that (too long) line.
    discard_to_lf: bool,
    /// The EHLO/HELO argument, once given.
    helo: Option<Helo>,
    /// The open mail transaction, after an accepted MAIL.
    transaction: Option<Transaction>,
    /// A request the server has not answered yet.
    waiting: Option<Waiting>,
    /// The body decoder while reading DATA.
    body: Option<Body>,
    /// The octets of a BDAT chunk are being read.
    chunk: Option<Chunk>,
    /// A BDAT of the last transaction failed: chunks the client pipelined after
    /// it are skipped until RSET, MAIL, EHLO or HELO (RFC 3030 section 2).
    bdat_failed: bool,
    bad_commands: usize,
    accepted_messages: usize,
    closed: bool,
    /// The connection is under TLS (implicit TLS, or STARTTLS completed).
    tls_active: bool,
    /// The identity of a successful AUTH.
    authenticated: Option<String>,
    /// An AUTH exchange is in progress: every client line is a response to the
    /// mechanism (or `*`), not a command. `waiting` is `Some(Waiting::Auth)` while
    /// the server runs the mechanism, `None` while we wait for the client's line.
    auth_exchange: bool,
    /// The greeting was a refusal (`554`, RFC 5321 section 3.1): every
    /// command but QUIT gets `503`, counted as a bad command.
    refused: bool,
}

#[derive(Debug)]
struct Helo {
    name: String,
    esmtp: bool,
}

#[derive(Debug)]
struct Transaction {
    from: ReversePath,
    params: MailParams,
    recipients: Vec<ForwardPath>,
    /// The RCPT parameters of each accepted recipient, parallel to `recipients`.
    recipient_params: Vec<RcptParams>,
    /// The message being received with BDAT, after its first chunk.
    message: Option<BdatBody>,
}

/// A message arriving in BDAT chunks; MessageStart has been emitted.
#[derive(Debug)]
struct BdatBody {
    decoder: BdatDecoder,
    /// MessageAborted has been emitted.
    aborted: bool,
    /// As [`Body::header`].
    header: Option<crate::data::HeaderScan>,
    /// As [`Body::utf8_header`].
    utf8_header: bool,
}

/// The BDAT chunk being read.
#[derive(Debug)]
enum Chunk {
    /// Octets of the transaction's message; `size` as announced.
    Message { size: u64, last: bool },
    /// Octets of a refused BDAT, thrown away; then `reply` is sent, counted as a
    /// bad command when `bad`.
    Skip {
        remaining: u64,
        reply: Reply,
        bad: bool,
    },
}

#[derive(Debug)]
enum Waiting {
    Sender {
        from: ReversePath,
        params: MailParams,
    },
    Recipient(ForwardPath, RcptParams),
    Message,
    /// An AUTH command or response was handed to the server.
    Auth,
    /// STARTTLS was accepted: input is discarded until `tls_established`.
    Tls,
}

#[derive(Debug)]
struct Body {
    decoder: DataDecoder,
    /// MessageAborted has been emitted.
    aborted: bool,
    /// Watches the header section for UTF-8 when the transaction did not declare
    /// SMTPUTF8 and the config refuses such messages; `None` otherwise.
    header: Option<crate::data::HeaderScan>,
    /// The header section has non-ASCII octets without SMTPUTF8: refused at the end.
    utf8_header: bool,
}

impl Session {
    /// A new session on a plaintext connection; the 220 greeting is queued, so the
    /// first `poll` returns it.
    pub fn new(config: Arc<Config>) -> Self {
        Self::with_tls(config, false)
    }

    /// A new session; `tls_active` is true on an implicit-TLS listener (RFC 8314,
    /// port 465) where the handshake happened before the greeting. Such a session
    /// offers no STARTTLS and offers `auth_mechanisms_tls`.
    pub fn with_tls(config: Arc<Config>, tls_active: bool) -> Self {
        let greeting = Reply::new(220, "", format!("{} ESMTP praisani", config.hostname));
        let mut s = Session {
            config,
            events: VecDeque::new(),
            input: Vec::new(),
            start: 0,
            discard_to_lf: false,
            helo: None,
            transaction: None,
            waiting: None,
            body: None,
            chunk: None,
            bdat_failed: false,
            bad_commands: 0,
            accepted_messages: 0,
            closed: false,
            tls_active,
            authenticated: None,
            auth_exchange: false,
            refused: false,
        };
        s.send(greeting);
        s
    }

    /// A session whose greeting is `reply` (a `554` refusal of the client,
    /// RFC 5321 section 3.1) instead of `220`: the server then waits for
    /// QUIT, answering `503 5.5.1` to any other command; past
    /// `max_bad_commands` the connection closes with `421`.
    pub fn refused(config: Arc<Config>, tls_active: bool, reply: Reply) -> Self {
        let mut s = Self::with_tls(config, tls_active);
        s.events.clear();
        s.refused = true;
        s.send(reply);
        s
    }

    /// Append received octets. Nothing is processed until `poll`.
    /// While a STARTTLS handshake is pending (after `Event::StartTls`, before
    /// `tls_established`) the octets are discarded: they were sent in plaintext and
    /// must not be taken as commands of the TLS session.
    pub fn feed(&mut self, input: &[u8]) {
        if self.closed || matches!(self.waiting, Some(Waiting::Tls)) {
            return;
        }
        if self.start > 0 {
            self.input.drain(..self.start);
            self.start = 0;
        }
        let mut input = input;
        if self.discard_to_lf {
            match input.iter().position(|&b| b == b'\n') {
                None => return,
                Some(lf) => {
                    input = &input[lf..];
                    self.discard_to_lf = false;
                }
            }
        }
        self.input.extend_from_slice(input);
        self.limit_partial_line();
    }

    /// The next event, or `None` when the session needs more input, waits for a
    /// verdict, or is closed.
    pub fn poll(&mut self) -> Option<Event> {
        loop {
            if let Some(ev) = self.events.pop_front() {
                return Some(ev);
            }
            if self.closed || self.waiting.is_some() {
                return None;
            }
            let progressed = if self.body.is_some() {
                self.step_body()
            } else if self.chunk.is_some() {
                self.step_chunk()
            } else {
                self.step_command()
            };
            if !progressed {
                return None;
            }
        }
    }

    /// Answer a CheckSender event. Accept sends `250 2.1.0 Ok` and opens the
    /// transaction. Ignored when no sender verdict is pending.
    pub fn mail_verdict(&mut self, v: Verdict) {
        let Some(Waiting::Sender { from, params }) =
            self.take_waiting(|w| matches!(w, Waiting::Sender { .. }))
        else {
            return;
        };
        match v {
            Verdict::Accept => {
                self.transaction = Some(Transaction {
                    from,
                    params,
                    recipients: Vec::new(),
                    recipient_params: Vec::new(),
                    message: None,
                });
                self.send(Reply::new(250, "2.1.0", "Ok"));
            }
            Verdict::Reject(r) => self.send(rejection(r)),
        }
    }

    /// Answer a CheckRecipient event. Accept sends `250 2.1.5 Ok` and adds the
    /// recipient to the transaction; a rejection counts toward
    /// `max_bad_commands`, so past the limit the client gets `421 4.7.0` instead
    /// and the connection closes. Ignored when no recipient verdict is pending.
    pub fn rcpt_verdict(&mut self, v: Verdict) {
        let Some(Waiting::Recipient(to, params)) =
            self.take_waiting(|w| matches!(w, Waiting::Recipient(..)))
        else {
            return;
        };
        match v {
            Verdict::Accept => {
                if let Some(tx) = &mut self.transaction {
                    tx.recipients.push(to);
                    tx.recipient_params.push(params);
                }
                self.send(Reply::new(250, "2.1.5", "Ok"));
            }
            // Counted like a bad command: a client probing for valid
            // addresses (or for an open relay) is cut off after
            // `max_bad_commands` refusals instead of trying thousands.
            Verdict::Reject(r) => self.bad_command(rejection(r)),
        }
    }

    /// Answer a MessageEnd event. Accept sends `250 2.0.0 Ok: queued`. Either way the
    /// transaction is over. Ignored when no message verdict is pending.
    pub fn message_verdict(&mut self, v: Verdict) {
        if self
            .take_waiting(|w| matches!(w, Waiting::Message))
            .is_none()
        {
            return;
        }
        match v {
            Verdict::Accept => {
                self.accepted_messages += 1;
                self.send(Reply::new(250, "2.0.0", "Ok: queued"));
            }
            Verdict::Reject(r) => self.send(rejection(r)),
        }
    }

    /// Accept the message of a MessageEnd event, naming its queue id:
    /// `250 2.0.0 Ok: queued as <id>`. Ignored when no message verdict is pending.
    pub fn message_accepted(&mut self, queue_id: &str) {
        if self
            .take_waiting(|w| matches!(w, Waiting::Message))
            .is_none()
        {
            return;
        }
        self.accepted_messages += 1;
        self.send(Reply::new(
            250,
            "2.0.0",
            format!("Ok: queued as {}", one_line(queue_id)),
        ));
    }

    /// The reply to send before closing an idle connection.
    pub fn timeout_reply(&self) -> Vec<u8> {
        Reply::new(
            421,
            "4.4.2",
            format!("{} Error: timeout exceeded", self.config.hostname),
        )
        .to_bytes()
    }

    /// The session has decided to close (a Close event is queued or was returned).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The connection is under TLS.
    pub fn tls_active(&self) -> bool {
        self.tls_active
    }

    /// The client has sent HELO or EHLO (again after STARTTLS).
    pub fn greeted(&self) -> bool {
        self.helo.is_some()
    }

    /// Gives back the space kept from earlier input and events, for a
    /// connection about to wait idle (many idle clients then cost little);
    /// nothing pending is dropped.
    pub fn release_buffers(&mut self) {
        if self.start >= self.input.len() {
            self.input = Vec::new();
            self.start = 0;
        }
        if self.events.is_empty() {
            self.events = VecDeque::new();
        }
    }

    /// The identity given to `auth_succeeded`, once the client has authenticated.
    pub fn authenticated(&self) -> Option<&str> {
        self.authenticated.as_deref()
    }

    /// A verdict is pending (including an AUTH step or a STARTTLS handshake):
    /// `poll` returns `None` until it is given.
    pub fn is_waiting(&self) -> bool {
        self.waiting.is_some()
    }

    /// The RCPT parameters (NOTIFY, ORCPT) of the recipient of a CheckRecipient
    /// event, while its verdict is pending; `None` otherwise. Once accepted they
    /// are carried in [`Envelope::recipient_params`](crate::Envelope).
    pub fn pending_rcpt_params(&self) -> Option<&RcptParams> {
        match &self.waiting {
            Some(Waiting::Recipient(_, params)) => Some(params),
            _ => None,
        }
    }

    /// The session is reading a message body after DATA, or the octets of a BDAT
    /// chunk.
    pub fn in_data(&self) -> bool {
        self.body.is_some() || self.chunk.is_some()
    }

    /// Received octets not yet processed (for tests and memory accounting).
    pub fn buffered_input(&self) -> usize {
        self.input.len() - self.start
    }

    /// Process the next complete command line, if there is one.
    fn step_command(&mut self) -> bool {
        let pending = &self.input[self.start..];
        let Some(lf) = pending.iter().position(|&b| b == b'\n') else {
            self.limit_partial_line();
            return false;
        };
        let line_start = self.start;
        self.start += lf + 1;
        // The limit counts the line end; a bare LF counts as one octet.
        let (limit, auth_line) = self.line_limit(&self.input[line_start..]);
        if lf + 1 > limit {
            if self.auth_exchange {
                self.auth_line_too_long();
            } else if auth_line {
                self.bad_command(auth_too_long());
            } else {
                self.bad_command(Reply::new(500, "5.5.6", "Error: line too long"));
            }
            return true;
        }
        let mut line = &self.input[line_start..line_start + lf];
        if let Some(stripped) = line.strip_suffix(b"\r") {
            line = stripped;
        }
        if self.auth_exchange {
            let line = line.to_vec();
            self.auth_line(&line);
            return true;
        }
        if self.refused {
            match parse_command(line) {
                Ok(Command::Quit) => self.quit(),
                _ => self.bad_command(Reply::new(
                    503,
                    "5.5.1",
                    "Error: this connection was refused; send QUIT",
                )),
            }
            return true;
        }
        match parse_command(line) {
            Ok(cmd) => self.dispatch(cmd),
            Err(CommandError::Bdat(size)) => self.bdat_syntax(size),
            Err(e) => self.command_error(e),
        }
        true
    }

    fn dispatch(&mut self, cmd: Command) {
        match cmd {
            // Both reset the transaction; a BDAT message in it is aborted first.
            Command::Ehlo(name) => {
                self.reset_transaction();
                self.ehlo(name)
            }
            Command::Helo(name) => {
                self.reset_transaction();
                self.helo(name)
            }
            Command::Mail { from, params } => self.mail(from, &params),
            Command::Rcpt { to, params } => self.rcpt(to, &params),
            Command::Data => self.data(),
            Command::Bdat { size, last } => self.bdat(size, last),
            Command::Rset => self.rset(),
            Command::Noop => self.noop(),
            Command::Quit => self.quit(),
            Command::Help => self.help(),
            Command::StartTls => self.starttls(),
            Command::Auth {
                mechanism,
                initial_response,
            } => self.auth(mechanism, initial_response),
            Command::Vrfy(_) => self.vrfy(),
            Command::Expn(_) => self.expn(),
            Command::NotImplemented(_) => {
                self.bad_command(Reply::new(502, "5.5.1", "Error: command not implemented"))
            }
            Command::Http => self.http(),
        }
    }

    fn command_error(&mut self, e: CommandError) {
        let reply = match e {
            CommandError::Unrecognized => Reply::new(500, "5.5.2", "Error: command not recognized"),
            CommandError::InvalidCharacters => {
                Reply::new(500, "5.5.2", "Error: invalid characters in command")
            }
            CommandError::Syntax(usage) => Reply::new(501, "5.5.4", usage),
            CommandError::Address(e) => {
                Reply::new(501, "5.1.3", format!("Bad address syntax: {e}"))
            }
            CommandError::BadParameter => Reply::new(501, "5.5.4", "Bad parameter syntax"),
            CommandError::Bdat(_) => Reply::new(501, "5.5.4", "Syntax: BDAT size [LAST]"),
        };
        self.bad_command(reply);
    }

    /// Reply to a parameter error of MAIL or RCPT.
    fn param_error(&mut self, e: ParamError) {
        let reply = match e {
            ParamError::Syntax(text) => Reply::new(501, "5.5.4", text),
            ParamError::Unsupported(text) => Reply::new(555, "5.5.4", text),
        };
        self.bad_command(reply);
    }

    /// Reply to a syntax or sequence error, counting it; past the limit the client is
    /// more likely an attacker or a confused program than a mailer, so hang up.
    fn bad_command(&mut self, reply: Reply) {
        self.bad_commands += 1;
        if self.bad_commands > self.config.max_bad_commands {
            let host = &self.config.hostname;
            self.send(Reply::new(421, "4.7.0", format!("{host} Too many errors")));
            self.close();
        } else {
            self.send(reply);
        }
    }

    /// Queue a reply.
    fn send(&mut self, reply: Reply) {
        self.events.push_back(Event::Send(reply.to_bytes()));
    }

    /// Queue Close and stop processing; buffered input is released.
    fn close(&mut self) {
        self.events.push_back(Event::Close);
        self.closed = true;
        self.input = Vec::new();
        self.start = 0;
        self.transaction = None;
        self.body = None;
        self.chunk = None;
        self.waiting = None;
        self.auth_exchange = false;
    }

    /// End the transaction (RSET, EHLO, HELO, a new TLS session): a BDAT message
    /// in it is discarded, and so is the memory of a failed BDAT.
    fn reset_transaction(&mut self) {
        if let Some(tx) = self.transaction.take()
            && tx.message.is_some_and(|m| !m.aborted)
        {
            self.events.push_back(Event::MessageAborted);
        }
        self.bdat_failed = false;
    }

    /// Take the pending request if it is of the expected kind.
    fn take_waiting(&mut self, expected: impl Fn(&Waiting) -> bool) -> Option<Waiting> {
        if self.closed || !self.waiting.as_ref().is_some_and(expected) {
            return None;
        }
        self.waiting.take()
    }

    /// The length limit for a line starting with `line` (which may be partial, or
    /// run on past the line end) and whether it is an AUTH command line. The
    /// longer AUTH limit applies only where AUTH exists at all, and only to the AUTH
    /// command and the exchange lines.
    fn line_limit(&self, line: &[u8]) -> (usize, bool) {
        let mut base = self.config.max_command_line;
        // RFC 3461 section 4: DSN parameters lengthen MAIL by up to 100 and RCPT
        // by up to 500 characters.
        if self.config.dsn && !self.auth_exchange {
            let verb = line.get(..5);
            let is = |v: &[u8]| verb.is_some_and(|verb| verb.eq_ignore_ascii_case(v));
            if is(b"MAIL ") {
                base = base.saturating_add(100);
            } else if is(b"RCPT ") {
                base = base.saturating_add(500);
            }
        }
        let auth_line = self.auth_available()
            && line
                .get(..5)
                .is_some_and(|verb| verb.eq_ignore_ascii_case(b"AUTH "));
        if self.auth_exchange || auth_line {
            (base.max(AUTH_LINE_MAX), auth_line)
        } else {
            (base, false)
        }
    }

    /// Keep at most `limit + 1` octets of a partial command line (enough for it to
    /// be recognised as too long when its LF arrives) and drop the rest of it as it
    /// arrives.
    fn limit_partial_line(&mut self) {
        if self.body.is_some() || self.chunk.is_some() {
            return; // body octets are consumed by the decoder, not buffered as lines
        }
        let pending = &self.input[self.start..];
        let keep = self.line_limit(pending).0.saturating_add(1);
        if pending.len() > keep && !pending.contains(&b'\n') {
            self.input.truncate(self.start + keep);
            self.discard_to_lf = true;
        }
    }
}

/// A verdict's rejection reply, or `451 4.3.0` if the server passed a non-error code.
fn rejection(r: Reply) -> Reply {
    if r.is_error() {
        r
    } else {
        Reply::new(451, "4.3.0", "Error: local error in processing")
    }
}

/// RFC 4954 section 4: an AUTH line longer than our authentication buffer.
fn auth_too_long() -> Reply {
    Reply::new(500, "5.5.6", "Authentication Exchange line is too long")
}

/// Text that cannot break the reply line it is put in.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
