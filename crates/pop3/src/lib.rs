//! POP3 server protocol core (RFC 1939, RFC 2449, RFC 3206, STLS from RFC 2595, AUTH from
//! RFC 5034, UTF8 and LANG from RFC 6856) as a sans-I/O state machine.
//!
//! UTF8 (RFC 6856 section 2) only records the client's choice ([`Session::utf8`]); the
//! server lists and sends messages with UTF-8 headers accordingly (as stored, or in the RFC
//! 6857 downgraded form). LANG (section 3) switches every response text, including those
//! the server writes through [`Session::retr_ok`] and [`Session::retrieve_failure`], between
//! English, Thai and Chinese ([`lang`]).
//!
//! The crate knows no sockets, no clock and no store. A listener creates one [`Session`] per
//! connection, hands it the bytes it reads with [`Session::feed`], and drains
//! [`Session::poll`] until it returns `None`: each [`Event`] is either bytes to write or a
//! request the server answers (check credentials, stream a message, delete messages).
//!
//! ```text
//!   listener ──feed(bytes)──▶ Session ──poll()──▶ Event::Send / Authenticate / Retrieve / Update / Close
//!       ▲                                              │      / StartTls / Auth / AuthResponse / AuthCancelled
//!       └──── auth_result() / update_result() ◀────────┘
//!             tls_established() / auth_challenge()
//! ```
//!
//! TLS and SASL stay outside too: on [`Event::StartTls`] the server runs the handshake and
//! calls [`Session::tls_established`]; on [`Event::Auth`] it runs the SASL mechanism and
//! answers each step with [`Session::auth_challenge`] or [`Session::auth_result`].
//!
//! Message bodies never pass through the session: for `RETR` and `TOP` the server writes
//! [`retr_ok_line`] or [`top_ok_line`] and then streams the stored message through an
//! [`Encoder`], so a large message flows from the store to the socket in bounded memory.
//!
//! A server loop, reduced to its bones:
//!
//! ```
//! use std::sync::Arc;
//! use praisani_pop3::{AuthOutcome, Config, Encoder, Event, MessageInfo, Session, retr_ok_line};
//!
//! let config = Arc::new(Config { allow_plaintext: true, ..Config::default() });
//! let mut session = Session::new(config, "<1.2@pop.example.org>".to_owned());
//! let mut wire = Vec::new(); // what a real server writes to the socket
//! session.feed(b"USER alice\r\nPASS secret\r\nRETR 1\r\nDELE 1\r\nQUIT\r\n");
//! while let Some(event) = session.poll() {
//!     match event {
//!         Event::Send(bytes) => wire.extend_from_slice(&bytes),
//!         Event::Authenticate { .. } => session.auth_result(AuthOutcome::Ok {
//!             messages: vec![MessageInfo { id: 7, uid: "a1".into(), size: 9 }],
//!         }),
//!         Event::Retrieve { size, top_lines, .. } => {
//!             wire.extend_from_slice(&retr_ok_line(size));
//!             let mut encoder = Encoder::new(top_lines);
//!             encoder.encode(b"Hi: x\r\n\r\n", &mut wire); // chunks read from the store
//!             encoder.finish(&mut wire);
//!         }
//!         Event::Update { delete } => {
//!             assert_eq!(delete, [7]); // delete durably, then:
//!             session.update_result(true);
//!         }
//!         Event::Close => break,
//!         // STLS and AUTH are off in this config (see `Config::stls`, `sasl_mechanisms_*`).
//!         Event::StartTls | Event::Auth { .. } | Event::AuthResponse(_) | Event::AuthCancelled => {}
//!     }
//! }
//! assert!(wire.ends_with(b"signing off (0 messages left)\r\n"));
//! ```
//!
//! Module map: [`config`] holds the per-session policy; `command` parses client lines;
//! `framing` splits input into bounded lines; `response` formats replies; `capa` builds the
//! capability list; `maildrop` numbers messages and tracks deletion marks; `session` is the
//! state machine (with `session/authorization.rs` and `session/transaction.rs` holding the
//! commands of each state, `session/stls.rs` the TLS upgrade and `session/sasl.rs` the AUTH
//! exchange); [`encode`] dot-stuffs messages; [`apop`] checks APOP digests; [`lang`] holds
//! the response texts in each language and the LANG range lookup.

#![warn(missing_docs)]

pub mod apop;
mod capa;
pub mod client;
mod command;
pub mod config;
pub mod encode;
mod framing;
pub mod lang;
mod maildrop;
pub mod response;
mod session;

pub use apop::{apop_digest, apop_matches};
pub use config::{Config, Expire, MAX_SASL_LINE};
pub use encode::Encoder;
pub use lang::{Language, RetrieveFailure};
pub use maildrop::MessageInfo;
pub use response::{ResponseCode, retr_ok_line, sys_perm_err, sys_temp_err, top_ok_line};
pub use session::{AuthOutcome, Credential, Event, Session, State};
