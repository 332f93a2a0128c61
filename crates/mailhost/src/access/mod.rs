//! Who may do what through the admin API: API tokens ([`tokens`]: made,
//! checked, revoked) and the rules of each scope ([`rules`]: may this
//! token act on this domain, this mailbox?). The HTTP front end only finds
//! the bearer token in a request and asks here.

pub mod rules;
pub mod tokens;

pub use praisani_store::tokens::{TokenInfo, TokenScope};
pub use rules::{Action, allows, reaches, visible_domains};
