//! The POP3 session state machine (RFC 1939 section 3): AUTHORIZATION, TRANSACTION, UPDATE.
//!
//! Input is split into lines by [`LineReader`]; [`Session::poll`] processes one line at a time
//! and only when the previous command is fully answered, which is what makes RFC 2449
//! PIPELINING safe: while the server works on an authentication or an update, later commands
//! wait in the reader, in order. The commands of each state live in `authorization.rs` and
//! `transaction.rs`; the STLS upgrade in `stls.rs` and the SASL exchange of AUTH in
//! `sasl.rs`.

mod authorization;
mod sasl;
mod stls;
mod transaction;

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use crate::command::{self, ParseError};
use crate::config::{Config, Expire};
use crate::framing::{Line, LineReader};
use crate::lang::{self, Language, RetrieveFailure, Text};
use crate::maildrop::{Maildrop, MessageInfo};
use crate::response::{self, MultiLine, ResponseCode};

/// The protocol state of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Before a successful login (also while a login attempt is being checked).
    Authorization,
    /// Logged in; the maildrop is locked and listed.
    Transaction,
    /// QUIT received in TRANSACTION; the server is removing the deleted messages.
    Update,
    /// The session is over; the server should close the connection.
    Closed,
}

/// Credentials offered by the client, for the server to check.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// USER/PASS: the password exactly as sent (it may contain spaces).
    Password(String),
    /// APOP: the digest in lowercase hex. Check it with
    /// [`apop_matches`](crate::apop_matches) against [`Session::timestamp`].
    Apop {
        /// `md5(timestamp + secret)`, 32 lowercase hex digits.
        digest: String,
    },
}

impl fmt::Debug for Credential {
    // Hand-written so a password never reaches a log through `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Password(_) => f.write_str("Password(<redacted>)"),
            Credential::Apop { digest } => f.debug_struct("Apop").field("digest", digest).finish(),
        }
    }
}

/// Outcome of an authentication attempt, decided by the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthOutcome {
    /// Credentials valid, maildrop locked and listed (in arrival order): TRANSACTION begins.
    Ok {
        /// The maildrop; message numbers are positions in this list, starting at 1.
        messages: Vec<MessageInfo>,
    },
    /// Unknown user or wrong credentials; both get the same reply so that users cannot be
    /// enumerated.
    Failed,
    /// The maildrop is locked by another session (`[IN-USE]`).
    InUse,
    /// The user logged in too recently (`[LOGIN-DELAY]`).
    LoginDelay,
    /// The server could not decide now (`[SYS/TEMP]`), e.g. the store is unreachable.
    TempFail,
}

/// What the session asks of the server.
///
/// `Debug` output hides SASL responses, which can carry passwords.
#[derive(Clone, PartialEq, Eq)]
pub enum Event {
    /// Bytes to write to the client. The server may buffer them and flush when `poll`
    /// returns `None`, so a pipelined batch is answered in one write.
    Send(Vec<u8>),
    /// Check these credentials and answer with [`Session::auth_result`]; until then the
    /// session processes no further commands.
    Authenticate {
        /// The user name as sent.
        user: String,
        /// The password or APOP digest.
        credential: Credential,
    },
    /// RETR (`top_lines: None`) or `TOP n k` (`Some(k)`) of a message the session already
    /// validated. The server writes the whole response itself, before acting on later
    /// events: [`retr_ok_line`](crate::retr_ok_line) or [`top_ok_line`](crate::top_ok_line),
    /// then the content through an [`Encoder`](crate::Encoder), which writes the final
    /// `.\r\n`; or, when the store fails, [`sys_temp_err`](crate::sys_temp_err).
    Retrieve {
        /// Store id of the message.
        id: u64,
        /// The size LIST reported, for the `+OK <size> octets` line.
        size: u64,
        /// `None` for RETR, `Some(k)` for TOP with `k` body lines.
        top_lines: Option<u64>,
    },
    /// QUIT in TRANSACTION: the session is in UPDATE. Delete these store ids durably
    /// (possibly none) and answer with [`Session::update_result`].
    Update {
        /// Store ids of the messages marked deleted, in message-number order.
        delete: Vec<u64>,
    },
    /// The session is over: flush what was sent and close the connection.
    Close,
    /// STLS accepted (RFC 2595 section 4): flush what was sent (it ends with
    /// `+OK Begin TLS negotiation`), run the TLS handshake on the connection, then call
    /// [`Session::tls_established`]. Input fed before that call is discarded, and so was
    /// anything received after the STLS line (plaintext injected ahead of the handshake).
    /// If the handshake fails, drop the connection.
    StartTls,
    /// `AUTH` (RFC 5034): start this SASL mechanism. It is one the session offers in the
    /// current TLS state. Answer with [`Session::auth_challenge`] to send a challenge, or
    /// with [`Session::auth_result`] to finish; until then the session reads no command.
    Auth {
        /// The mechanism name, upper-cased.
        mechanism: String,
        /// The initial response exactly as sent: base64, or `"="` for an empty response
        /// (RFC 5034 section 4); `None` when the client sent none.
        initial_response: Option<String>,
    },
    /// The client's base64 answer to the last [`Session::auth_challenge`], as sent. Answer
    /// as for [`Event::Auth`]. The session does not decode it: a response that is not
    /// base64 is the mechanism's failure (`AuthOutcome::Failed`).
    AuthResponse(String),
    /// The client cancelled the SASL exchange with `*` (the session already answered
    /// `-ERR`), or its response line was too long. Drop the mechanism's state; the session
    /// is back in AUTHORIZATION, waiting for USER, APOP or AUTH.
    AuthCancelled,
}

impl fmt::Debug for Event {
    // Hand-written so a SASL response (PLAIN carries the password) never reaches a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Send(bytes) => f.debug_tuple("Send").field(bytes).finish(),
            Event::Authenticate { user, credential } => f
                .debug_struct("Authenticate")
                .field("user", user)
                .field("credential", credential)
                .finish(),
            Event::Retrieve {
                id,
                size,
                top_lines,
            } => f
                .debug_struct("Retrieve")
                .field("id", id)
                .field("size", size)
                .field("top_lines", top_lines)
                .finish(),
            Event::Update { delete } => f.debug_struct("Update").field("delete", delete).finish(),
            Event::Close => f.write_str("Close"),
            Event::StartTls => f.write_str("StartTls"),
            Event::Auth {
                mechanism,
                initial_response,
            } => f
                .debug_struct("Auth")
                .field("mechanism", mechanism)
                .field(
                    "initial_response",
                    &initial_response.as_ref().map(|_| "<redacted>"),
                )
                .finish(),
            Event::AuthResponse(_) => f.write_str("AuthResponse(<redacted>)"),
            Event::AuthCancelled => f.write_str("AuthCancelled"),
        }
    }
}

/// What the session waits for before it reads the next command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Awaiting {
    Nothing,
    /// The verdict on USER/PASS or APOP credentials.
    Auth,
    /// The server's next SASL step: a challenge or a verdict.
    Sasl,
    Update,
    /// The TLS handshake after STLS; input is discarded meanwhile.
    Tls,
}

/// One POP3 session, from greeting to close.
#[derive(Debug)]
pub struct Session {
    config: Arc<Config>,
    timestamp: String,
    state: State,
    reader: LineReader,
    events: VecDeque<Event>,
    awaiting: Awaiting,
    /// User named by USER, waiting for PASS as the very next command.
    pending_user: Option<String>,
    /// User of the attempt being checked, then the logged-in user.
    user: Option<String>,
    auth_failures: usize,
    /// Per-user retention set by the server; shown by CAPA after login.
    user_expire: Option<Expire>,
    maildrop: Maildrop,
    /// Messages left after UPDATE, for the sign-off text.
    remaining: usize,
    /// The connection is under TLS (implicit, or after STLS).
    tls_active: bool,
    /// A SASL challenge was sent: the next line is the client's response, not a command.
    sasl_client_turn: bool,
    /// USER was accepted or an APOP, PASS or AUTH attempt made: STLS is no longer allowed.
    login_started: bool,
    /// The client sent UTF8 (RFC 6856 section 2).
    utf8: bool,
    /// The language of response texts, chosen with LANG (RFC 6856 section 3).
    lang: Language,
}

impl Session {
    /// Starts a session; the greeting (`+OK <hostname> POP3 server ready <timestamp>`) is
    /// the first event.
    ///
    /// `timestamp` is the RFC 1939 APOP timestamp, e.g. `<1234.5678@host>`, unique per
    /// connection; the server keeps deriving it, the session only shows and returns it.
    ///
    /// The connection is taken as not under TLS; see [`with_tls`](Self::with_tls).
    pub fn new(config: Arc<Config>, timestamp: String) -> Self {
        Self::with_tls(config, timestamp, false)
    }

    /// Like [`new`](Self::new), saying whether the connection is already under TLS (e.g.
    /// POP3S on port 995): then STLS is not offered, USER/PASS is allowed whatever
    /// `allow_plaintext` says, and the TLS list of SASL mechanisms applies.
    pub fn with_tls(config: Arc<Config>, timestamp: String, tls_active: bool) -> Self {
        let reader = Self::reader(&config);
        let greeting = response::ok(&format!(
            "{} POP3 server ready {}",
            config.hostname, timestamp
        ));
        Session {
            reader,
            timestamp,
            state: State::Authorization,
            events: VecDeque::from([Event::Send(greeting)]),
            awaiting: Awaiting::Nothing,
            pending_user: None,
            user: None,
            auth_failures: 0,
            user_expire: None,
            maildrop: Maildrop::new(Vec::new()),
            remaining: 0,
            tls_active,
            sasl_client_turn: false,
            login_started: false,
            utf8: false,
            lang: Language::default(),
            config,
        }
    }

    fn reader(config: &Config) -> LineReader {
        LineReader::new(config.max_line, config.long_line(), config.max_pipelined)
    }

    /// The APOP timestamp shown in the greeting.
    pub fn timestamp(&self) -> &str {
        &self.timestamp
    }

    /// The protocol state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The logged-in user (TRANSACTION and later).
    pub fn user(&self) -> Option<&str> {
        match self.state {
            State::Transaction | State::Update => self.user.as_deref(),
            State::Authorization | State::Closed => None,
        }
    }

    /// Whether the client enabled UTF-8 mode with the UTF8 command (RFC 6856): it then
    /// gets messages with UTF-8 header fields as stored; otherwise the server must give
    /// their downgraded form (RFC 6857) or leave them out. Settled before login, since
    /// UTF8 is an AUTHORIZATION command.
    pub fn utf8(&self) -> bool {
        self.utf8
    }

    /// The language of response texts (English until LANG chooses another).
    pub fn language(&self) -> Language {
        self.lang
    }

    /// The status line that starts a RETR response, in the session's language:
    /// `+OK <size> octets`. Like [`retr_ok_line`](crate::retr_ok_line).
    pub fn retr_ok(&self, size: u64) -> Vec<u8> {
        response::ok(&self.say(Text::RetrOk { size }))
    }

    /// The status line that starts a TOP response, in the session's language.
    pub fn top_ok(&self) -> Vec<u8> {
        response::ok(&self.say(Text::TopOk))
    }

    /// The error the server writes instead of a RETR or TOP response it cannot give,
    /// in the session's language: `[SYS/PERM]` for a message that is gone,
    /// `[SYS/TEMP]` otherwise.
    pub fn retrieve_failure(&self, failure: RetrieveFailure) -> Vec<u8> {
        let code = match failure {
            RetrieveFailure::Gone => ResponseCode::SysPerm,
            RetrieveFailure::NoMailbox | RetrieveFailure::Unreadable => ResponseCode::SysTemp,
        };
        response::err_code(code, &self.say(Text::Failure(failure)))
    }

    /// Whether the connection is under TLS: given to [`with_tls`](Self::with_tls), or set by
    /// [`tls_established`](Self::tls_established).
    pub fn tls_active(&self) -> bool {
        self.tls_active
    }

    /// Octets of client input held unprocessed; at most [`buffer_limit`](Self::buffer_limit).
    pub fn buffered(&self) -> usize {
        self.reader.buffered()
    }

    /// The most input the session ever holds: `max_line + max_pipelined`; when SASL
    /// raises the line limit to [`MAX_SASL_LINE`](crate::config::MAX_SASL_LINE), that limit
    /// plus a pipelining budget of at least one such line.
    pub fn buffer_limit(&self) -> usize {
        self.reader.limit()
    }

    /// Whether reading more input is useful now. False while the session waits for the
    /// server with input already pending, while a TLS handshake is due, or once closed: the
    /// server can stop reading the socket (backpressure) instead of feeding input that
    /// would only pile up.
    pub fn wants_input(&self) -> bool {
        match (self.state, self.awaiting) {
            (State::Closed, _) | (_, Awaiting::Tls) => false,
            (_, Awaiting::Nothing) => true,
            _ => self.reader.buffered() == 0,
        }
    }

    /// Hands client input to the session; call [`poll`](Self::poll) afterwards. Input after
    /// the session closed, or between STLS and [`tls_established`](Self::tls_established),
    /// is ignored.
    pub fn feed(&mut self, input: &[u8]) {
        if self.state != State::Closed && self.awaiting != Awaiting::Tls {
            self.reader.push(input);
        }
    }

    /// Gives back the space kept from earlier input and events, for a
    /// connection about to wait idle (many idle clients then cost little);
    /// nothing pending is dropped.
    pub fn release_buffers(&mut self) {
        self.reader.release_buffers();
        if self.events.is_empty() {
            self.events = VecDeque::new();
        }
    }

    /// The next thing to do, or `None` when the session needs more input or is waiting for
    /// [`auth_result`](Self::auth_result) / [`auth_challenge`](Self::auth_challenge) /
    /// [`update_result`](Self::update_result) / [`tls_established`](Self::tls_established).
    pub fn poll(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Some(event);
            }
            if self.state == State::Closed || self.awaiting != Awaiting::Nothing {
                return None;
            }
            match self.reader.next_line() {
                Some(line) => self.handle(line),
                None if self.reader.overflowed() => {
                    // Commands were dropped unread; carrying on would answer later ones
                    // out of step with what the client sent.
                    self.send(response::err(&self.say(Text::TooManyPipelined)));
                    self.close();
                }
                None => return None,
            }
        }
    }

    /// Answers an [`Event::Authenticate`], or ends a SASL exchange after an [`Event::Auth`]
    /// or [`Event::AuthResponse`]. `Ok` sends `+OK` and enters TRANSACTION; `Failed` sends
    /// `-ERR [AUTH] Authentication failed` and counts toward `max_auth_failures`. Ignored
    /// when no authentication is waiting for the server (including while a SASL challenge
    /// waits for the client's response).
    pub fn auth_result(&mut self, outcome: AuthOutcome) {
        if !matches!(self.awaiting, Awaiting::Auth | Awaiting::Sasl) {
            return;
        }
        self.awaiting = Awaiting::Nothing;
        self.finish_auth(outcome);
    }

    /// Sets the logged-in user's retention policy, shown by CAPA in TRANSACTION. Call it
    /// before [`auth_result`](Self::auth_result) with `AuthOutcome::Ok`; without it CAPA
    /// shows the server-wide policy.
    pub fn set_expire(&mut self, expire: Expire) {
        self.user_expire = Some(expire);
    }

    /// Answers an [`Event::Update`]: `true` when every marked message was removed. Either
    /// way the session then closes. Ignored when no update is pending.
    pub fn update_result(&mut self, ok: bool) {
        if self.awaiting != Awaiting::Update {
            return;
        }
        self.awaiting = Awaiting::Nothing;
        let reply = if ok {
            response::ok(&self.say(Text::SignOff {
                host: &self.config.hostname,
                left: self.remaining,
            }))
        } else {
            response::err_code(ResponseCode::SysTemp, &self.say(Text::DeletionsFailed))
        };
        self.send(reply);
        self.close();
    }

    /// The reply for the inactivity timeout (RFC 1939 section 3). The server writes it and
    /// closes the connection without UPDATE, so nothing marked is deleted.
    pub fn autologout_reply(&self) -> Vec<u8> {
        response::err(&self.say(Text::Autologout))
    }

    fn send(&mut self, bytes: Vec<u8>) {
        self.events.push_back(Event::Send(bytes));
    }

    /// Ends the session: nothing more is read, and held input is dropped.
    fn close(&mut self) {
        self.state = State::Closed;
        self.reader.clear();
        self.events.push_back(Event::Close);
    }

    fn handle(&mut self, line: Line) {
        if self.sasl_client_turn {
            return self.sasl_response(line);
        }
        let parsed = match line {
            Line::TooLong => Err(None),
            Line::Complete(bytes) => command::parse(&bytes).map_err(Some),
            // Only AUTH may exceed `max_line` (RFC 5034 section 4), and only where it can
            // start an exchange; anything else that long is refused unread.
            Line::Long(bytes) => match command::parse(&bytes) {
                Ok(auth @ command::Command::Auth { .. }) if self.state == State::Authorization => {
                    Ok(auth)
                }
                _ => Err(None),
            },
        };
        match self.state {
            State::Authorization => self.authorization(parsed),
            State::Transaction => self.transaction(parsed),
            // `poll` reads no lines in these states.
            State::Update | State::Closed => {}
        }
    }

    /// The reply to a line that is not a valid command; `None` means the line was too long.
    /// `allowed` says whether a recognised keyword belongs to the current state.
    fn parse_error(&mut self, error: Option<ParseError>, allowed: fn(command::Keyword) -> bool) {
        let text = match error {
            None => Text::LineTooLong,
            Some(ParseError::BadCharacter) => Text::InvalidCharacter,
            Some(ParseError::Unknown) => Text::UnknownCommand,
            Some(ParseError::InvalidArgument(k)) if allowed(k) => Text::InvalidArgument,
            Some(ParseError::InvalidArgument(_)) => Text::NotInThisState,
        };
        self.send(response::err(&self.say(text)));
    }

    /// CAPA, valid in AUTHORIZATION and TRANSACTION.
    fn capa(&mut self) {
        let user_expire = match self.state {
            State::Transaction => Some(self.user_expire.unwrap_or(self.config.expire)),
            _ => None,
        };
        let mut reply = MultiLine::ok(&self.say(Text::CapabilityList));
        for cap in crate::capa::capabilities(&self.config, self.tls_active, user_expire) {
            reply.line(&cap);
        }
        self.send(reply.finish());
    }

    /// A response text in the session's language.
    fn say(&self, text: Text<'_>) -> String {
        lang::say(self.lang, text)
    }

    /// LANG (RFC 6856 section 3), valid in AUTHORIZATION and TRANSACTION: without an
    /// argument the languages offered, one `tag name` line each; with a language range
    /// the best match (RFC 4647 lookup; `*` is the default, English), answered as
    /// `+OK <tag> <text>` in the new language, or `-ERR` in the current one.
    fn lang(&mut self, range: Option<&str>) {
        let offered = self.config.languages();
        if offered.len() < 2 {
            return self.send(response::err(&self.say(Text::UnknownCommand)));
        }
        let Some(range) = range else {
            let mut reply = MultiLine::ok(&self.say(Text::LanguageListing));
            for l in &offered {
                reply.line(&format!("{} {}", l.tag(), l.name()));
            }
            return self.send(reply.finish());
        };
        let chosen = if range == "*" {
            Some(Language::default())
        } else {
            Language::lookup(range, &offered)
        };
        match chosen {
            Some(l) => {
                self.lang = l;
                let text = format!("{} {}", l.tag(), self.say(Text::LanguageChanged));
                self.send(response::ok(&text));
            }
            None => self.send(response::err(&self.say(Text::LanguageUnknown))),
        }
    }
}
