//! Inbound trust: SPF (RFC 7208), DKIM (RFC 6376), DMARC (RFC 7489 and its
//! DNS tree walk), ARC (RFC 8617) checks on mail from other servers, the
//! `Authentication-Results` header field that records them (RFC 8601) and
//! the policy that turns them into an SMTP answer.
//!
//! The checks themselves are the `mail-auth` crate's; this module owns what
//! praisani decides around them: which resolver and caches they use
//! ([`dns`], [`cache`]), how long they may take ([`TrustSettings`]), the
//! owned results ([`Verdict`]), the header field we write ([`results`]), the
//! one we remove from incoming mail ([`strip`]) and what to do
//! ([`TrustPolicy`] → [`Decision`]).
//!
//! Applied to mail by [`crate::inbound::trust`]: at the end of data
//! `Inbound::message_end` runs [`TrustChecker::check`] on the message of an
//! unauthenticated, non-trusted client, answers [`Decision::reply`] when
//! there is one, and otherwise stores the message with its header replaced
//! by [`stamp::stored_header`]: our [`Verdict::authentication_results`] and
//! the [`Decision`]'s marks on top, forged fields with our authserv-id
//! removed ([`strip::strip_authentication_results`]).

mod body_hash;
pub mod cache;
pub mod checker;
pub mod dns;
pub mod memory;
pub mod policy;
pub mod results;
pub mod seal;
pub mod stamp;
pub mod strip;
pub mod verdict;

pub use checker::{CheckInput, TrustChecker, TrustSettings};
pub use dns::{DnsSettings, TrustError, build_resolver};
pub use memory::CheckMemory;
pub use policy::{Action, Decision, DomainPolicies, TrustPolicy};
pub use stamp::{stamped_header, stored_header};
pub use strip::strip_authentication_results;
pub use verdict::{
    Alignment, ArcCheck, AuthResult, DkimCheck, DmarcCheck, DmarcPolicy, Published, SpfCheck,
    SpfIdentity, Verdict,
};
