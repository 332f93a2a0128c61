//! What the admin front ends (the CLI, the admin API, web pages) do about
//! outbound mail, each rule once:
//!
//! - [`dkim_keys`]: making and listing the DKIM signing keys of a hosted domain, with the
//!   DNS record to publish.
//! - [`dns_records`]: every DNS record a hosted domain needs (MX, SPF,
//!   DKIM, DMARC, the service records and names mail programs look up).
//! - [`queue_control`]: inspecting and steering the outbound queue.

pub mod dkim_keys;
pub mod dns_records;
pub mod queue_control;

pub use dns_records::{DnsRecord, RecordData};

use crate::dkim::DkimError;

/// Why an administrative operation on outbound mail was refused or failed;
/// the texts are those of the errors it wraps.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// A rule of the post office refused it (the domain is not hosted…),
    /// or the store failed.
    #[error(transparent)]
    Host(#[from] praisani_mailhost::admin::AdminError),
    /// A DKIM key could not be made or read.
    #[error(transparent)]
    Dkim(#[from] DkimError),
}
