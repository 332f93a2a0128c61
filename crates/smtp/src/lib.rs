//! SMTP server protocol core for praisani, without I/O.
//!
//! A [`Session`] is fed the octets a client sends and yields [`Event`]s: replies to
//! write, questions for the server (is this sender/recipient acceptable?), and the
//! message body in bounded chunks. The server performs the I/O and answers with
//! verdicts. Every protocol rule can therefore be tested and fuzzed without a network.
//!
//! Standards: RFC 5321 (SMTP), RFC 1870 (SIZE), RFC 6152 (8BITMIME), RFC 2920
//! (PIPELINING), RFC 2034/3463 (enhanced status codes), RFC 6531 (SMTPUTF8),
//! RFC 3030 (CHUNKING: BDAT), RFC 3461 (DSN parameters; RFC 6533 `utf-8` ORCPT), RFC 3207 (STARTTLS), RFC 4954 (AUTH framing; the SASL mechanisms run in the
//! server), RFC 6409 (submission: authentication required before MAIL).
//!
//! The parsers are our own rather than a general-purpose crate's: relay policy needs
//! to see source routes, quoted local parts and `<Postmaster>` exactly as sent, and
//! the DATA decoder must never end a body where another server would not
//! ([`DataDecoder`] explains the SMTP smuggling defence); BDAT chunks are read by
//! exact count ([`BdatDecoder`]), never as commands.

#![warn(missing_docs)]

pub mod bdat;
pub mod command;
pub mod config;
pub mod data;
pub mod event;
pub mod params;
pub mod path;
pub mod reply;
pub mod session;
#[cfg(test)]
mod test_rng;

pub use bdat::BdatDecoder;
pub use command::{Command, CommandError, Param, parse_command};
pub use config::Config;
pub use data::{CHUNK_SIZE, DataDecoder, DataError, HeaderScan, Progress};
pub use event::{Envelope, Event, Verdict};
pub use params::{Body, ENVID_MAX, MailParams, Notify, ORCPT_MAX, ParamError, RcptParams, Ret};
pub use path::{
    DomainPart, ForwardPath, Mailbox, PathError, ReversePath, parse_forward_path, parse_mailbox,
    parse_reverse_path,
};
pub use reply::Reply;
pub use session::{AUTH_LINE_MAX, Session};
