//! The messages praisani writes itself, and the pieces every one of them
//! is made of, in one place:
//!
//! - [`Language`]: the languages of the texts users read (English, Thai,
//!   Chinese), for POP3 replies, bounces and notices alike;
//! - [`base64`]: the workspace's one base64 (RFC 4648) encoder;
//! - [`rfc2047`]: the one RFC 2047 encoded-word writer;
//! - [`mime`]: header fields, folding, line ends and header parsing;
//! - [`dsn`]: RFC 3464 delivery status notifications (bounces and delay
//!   notices).
//!
//! Everything here is pure: bytes in, bytes out, no I/O, no store.

pub mod base64;
pub mod dsn;
mod lang;
pub mod mime;
pub mod rfc2047;

pub use lang::Language;
