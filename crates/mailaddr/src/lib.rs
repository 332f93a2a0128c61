//! Mail addresses and domain names, normalised in one place.
//!
//! A domain typed in Unicode (`ตัวอย่าง.ไทย`), in mixed case, or as an A-label
//! (`xn--72c1a1bt4awk9o.xn--o3cw4h`) is the same [`Domain`]: it is kept as its
//! lower-case A-label, which is what the store indexes and DNS uses, and shown
//! to people as its U-label. Local parts of hosted mailboxes are compared after
//! NFC normalisation and lower-casing, as every mainstream server does.

mod address;
mod domain;

pub use address::{Address, is_dot_atom_local};
pub use domain::Domain;

/// Why a domain or an address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddrError {
    /// The domain is empty, too long, has an empty label, a trailing dot or
    /// characters that IDNA 2008 / UTS #46 does not allow.
    #[error("invalid domain name {0:?}")]
    InvalidDomain(String),
    /// The text has no `@`, or the local part is empty or uses characters
    /// outside a dot-atom.
    #[error("invalid address {0:?}")]
    InvalidAddress(String),
}
