//! Moving in from another server: what `praisani import …` decides before
//! anything is written, shared by every front end.
//!
//! [`users`] reads a list of accounts (CSV or a Dovecot passwd-file) and
//! plans their import.

pub mod users;
