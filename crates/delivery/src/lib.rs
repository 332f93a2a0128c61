//! Outbound delivery: the pieces that send our users' mail on to other
//! servers and report back when it cannot be delivered.
//!
//! - [`queue`]: the queue runner: takes due mail from the store, sends it,
//!   records the results, retries, and sends delay notices and bounces.
//! - [`client`]: the SMTP client protocol engine, sans-I/O, like the server
//!   engines: feed it the server's bytes, it says what to write next.
//! - [`route`]: where to send mail for a domain: MX lookup (RFC 5321 §5.1,
//!   RFC 7505 null MX), per-domain static routes and the smarthost.
//! - [`dane`]: DANE (RFC 7672): TLSA lookups through a validating
//!   resolver and the certificate check they ask for.
//! - [`dkim`]: DKIM keys (the data directory's key store) and signing.
//! - [`mta_sts`]: MTA-STS (RFC 8461): policy discovery, fetch, cache.
//! - [`tls_report`]: TLS-RPT (RFC 8460): the outcomes of TLS under a policy, counted and reported daily.
//! - [`admin`]: what the admin front ends (CLI, admin API) do about
//!   outbound mail: DKIM keys, the DNS records a hosted domain needs, and
//!   steering the outbound queue.

pub mod admin;
pub mod client;
pub mod dane;
pub mod dkim;
pub mod mta_sts;
pub mod queue;
pub mod route;
pub mod tls_report;
