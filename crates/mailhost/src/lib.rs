//! The mail host's domain logic, on top of the [`praisani_store::Store`]
//! trait: password hashing and login checks, resolving recipients through
//! aliases to mailboxes, and the trace headers added on delivery.

pub mod auth;
mod auth_cache;
pub mod downgrade;
pub mod passwords;
pub mod recipients;
pub mod submission;
pub mod trace;

pub use auth::{Authenticator, LoginError};
pub use recipients::{Mailbox, Resolution, resolve};
