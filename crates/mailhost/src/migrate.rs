//! Moving in from another server: what `praisani import …` decides before
//! anything is written, shared by every front end.
//!
//! [`users`] reads a list of accounts (CSV or a Dovecot passwd-file) and
//! plans their import; [`pop3`] copies mailboxes from a live POP3 server,
//! keeping their UIDLs.

pub mod pop3;
pub mod users;
