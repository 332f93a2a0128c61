//! The mail host's domain logic — the post office — on top of the
//! [`praisani_store::Store`] trait: password hashing and login checks,
//! resolving recipients through aliases to mailboxes, the SMTP inbound
//! decisions (recipients, relay, sender ownership, quotas), the trace
//! headers added on delivery, quota warnings, the reports (bounces) the
//! post office writes and delivers itself, the POP3 maildrop and retention,
//! and its administration ([`admin`]: domains, mailboxes, aliases, quotas,
//! retention).

pub mod access;
pub mod addressing;
pub mod admin;
pub mod auth;
mod auth_cache;
pub mod bounce_limit;
pub mod dmarc_reports;
pub mod dnsbl;
pub mod downgrade;
pub mod forwarding;
pub mod greylist;
pub mod inbound;
pub mod login;
pub mod maildrop;
pub mod migrate;
pub mod office;
pub mod outbound_policy;
pub mod passwords;
pub mod quota;
pub mod recipients;
pub mod reports;
pub mod retention;
pub mod sender_tls;
pub mod spam;
pub mod srs;
pub mod submission;
pub mod throttle;
pub mod trace;
pub mod trust;
pub mod vacation;

pub use auth::{Authenticator, LoginError};
pub use maildrop::Maildrop;
pub use office::{InboundDnsbl, InboundTrust, PostOffice, SenderPolicy, Settings};
pub use recipients::{Mailbox, Resolution, resolve};
