//! [`Address`]: a hosted mailbox address, `local@domain`.

use crate::{AddrError, Domain};
use std::fmt;
use unicode_normalization::UnicodeNormalization;

/// A mailbox address with a normalised local part (NFC, lower case) and a
/// canonical [`Domain`]. This is the form used for lookups and storage keys.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    local: String,
    domain: Domain,
}

/// True when `local` is a dot-atom (RFC 5322 atext, RFC 6531 UTF-8 allowed):
/// no leading, trailing or doubled dots. Quoted local parts are not used for
/// hosted mailboxes.
pub fn is_dot_atom_local(local: &str) -> bool {
    if local.is_empty() || local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return false;
    }
    local.chars().all(|c| {
        c.is_ascii_alphanumeric()
            || "!#$%&'*+-/=?^_`{|}~.".contains(c)
            || (!c.is_ascii() && !c.is_control())
    })
}

impl Address {
    /// Builds an address from a local part and a parsed domain.
    pub fn new(local: &str, domain: Domain) -> Result<Self, AddrError> {
        let norm = normalise_local(local);
        if !is_dot_atom_local(&norm) || norm.len() > 64 {
            return Err(AddrError::InvalidAddress(format!(
                "{local}@{}",
                domain.ascii()
            )));
        }
        Ok(Address {
            local: norm,
            domain,
        })
    }

    /// Parses `local@domain`; the domain may be Unicode or A-labels.
    pub fn parse(input: &str) -> Result<Self, AddrError> {
        let bad = || AddrError::InvalidAddress(input.to_string());
        let (local, domain) = input.rsplit_once('@').ok_or_else(bad)?;
        let domain = Domain::parse(domain).map_err(|_| bad())?;
        Address::new(local, domain).map_err(|_| bad())
    }

    /// The normalised local part.
    pub fn local(&self) -> &str {
        &self.local
    }

    /// The domain.
    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    /// `local@a-label`: the canonical storage key, ASCII whenever the local
    /// part is.
    pub fn canonical(&self) -> String {
        format!("{}@{}", self.local, self.domain.ascii())
    }

    /// True when the address is all ASCII in its canonical form.
    pub fn is_ascii_local(&self) -> bool {
        self.local.is_ascii()
    }
}

/// Normalises a local part for comparison: Unicode NFC, then lower case.
pub(crate) fn normalise_local(local: &str) -> String {
    local.nfc().collect::<String>().to_lowercase()
}

impl fmt::Display for Address {
    /// Shows the address as people write it: local part and Unicode domain.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain.unicode())
    }
}

impl std::str::FromStr for Address {
    type Err = AddrError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Address::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_mailbox_are_equal() {
        let a = Address::parse("Somchai@ตัวอย่าง.ไทย").unwrap();
        let b = Address::parse(&format!("somchai@{}", a.domain().ascii())).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.canonical(), format!("somchai@{}", a.domain().ascii()));
        assert_eq!(a.to_string(), "somchai@ตัวอย่าง.ไทย");
    }

    #[test]
    fn utf8_local_parts_are_nfc_normalised() {
        // "é" precomposed vs "e" + combining acute.
        let a = Address::parse("caf\u{e9}@example.test").unwrap();
        let b = Address::parse("cafe\u{301}@example.test").unwrap();
        assert_eq!(a, b);
        let thai = Address::parse("สมชาย@ตัวอย่าง.ไทย").unwrap();
        assert!(!thai.is_ascii_local());
        let zh = Address::parse("用户@例子.中国").unwrap();
        assert_eq!(zh.local(), "用户");
    }

    #[test]
    fn refuses_bad_addresses() {
        for bad in [
            "",
            "nobody",
            "@example.test",
            "a@",
            ".a@example.test",
            "a.@example.test",
            "a..b@example.test",
            "a b@example.test",
            "a@b@example.test",
            "a\"b@example.test",
            "a@example.test.",
            "a(b)@example.test",
        ] {
            assert!(Address::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(Address::parse(&format!("{}@example.test", "a".repeat(65))).is_err());
    }
}
