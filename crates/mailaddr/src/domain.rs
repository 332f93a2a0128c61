//! [`Domain`]: a DNS domain name in its canonical A-label form.

use crate::AddrError;
use std::fmt;

/// A domain name, canonicalised to lower-case A-labels (IDNA 2008 with UTS #46
/// mapping). Two spellings of one domain compare equal.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Domain {
    ascii: String,
}

impl Domain {
    /// Parses a domain given in Unicode or ASCII, in any case.
    ///
    /// A trailing dot is refused rather than stripped: in mail it is a classic
    /// way to slip past a hosted-domain check.
    pub fn parse(input: &str) -> Result<Self, AddrError> {
        let bad = || AddrError::InvalidDomain(input.to_string());
        if input.is_empty() || input.ends_with('.') || input.starts_with('.') || input.len() > 1024
        {
            return Err(bad());
        }
        let ascii = idna::domain_to_ascii_strict(input).map_err(|_| bad())?;
        if ascii.is_empty() || ascii.len() > 253 || ascii.ends_with('.') {
            return Err(bad());
        }
        for label in ascii.split('.') {
            let ok = !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !ok {
                return Err(bad());
            }
        }
        // A name that must be decoded to be compared is only accepted when it
        // decodes cleanly, so `xn--` junk cannot name a domain.
        let (_, res) = idna::domain_to_unicode(&ascii);
        res.map_err(|_| bad())?;
        Ok(Domain { ascii })
    }

    /// The lower-case A-label form, as stored and as sent over DNS.
    pub fn ascii(&self) -> &str {
        &self.ascii
    }

    /// The Unicode (U-label) form, for people.
    pub fn unicode(&self) -> String {
        idna::domain_to_unicode(&self.ascii).0
    }

    /// True when the name has an internationalised label.
    pub fn is_idn(&self) -> bool {
        self.ascii.split('.').any(|l| l.starts_with("xn--"))
    }
}

impl fmt::Display for Domain {
    /// Displays the Unicode form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.unicode())
    }
}

impl std::str::FromStr for Domain {
    type Err = AddrError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Domain::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unicode_and_a_label_are_one_domain() {
        let thai = Domain::parse("ตัวอย่าง.ไทย").unwrap();
        let alabel = Domain::parse(thai.ascii()).unwrap();
        assert_eq!(thai, alabel);
        assert!(thai.ascii().starts_with("xn--"));
        assert_eq!(thai.unicode(), "ตัวอย่าง.ไทย");
        let zh = Domain::parse("例子.中国").unwrap();
        assert_eq!(zh, Domain::parse(&zh.ascii().to_uppercase()).unwrap());
        assert!(zh.is_idn());
    }

    #[test]
    fn case_is_folded() {
        assert_eq!(
            Domain::parse("Example.TEST").unwrap(),
            Domain::parse("example.test").unwrap()
        );
        assert_eq!(
            Domain::parse("Example.TEST").unwrap().ascii(),
            "example.test"
        );
    }

    #[test]
    fn fullwidth_and_compat_forms_map() {
        // UTS #46 maps full-width letters and the ideographic full stop.
        let d = Domain::parse("ｅｘａｍｐｌｅ。test").unwrap();
        assert_eq!(d.ascii(), "example.test");
    }

    #[test]
    fn refuses_bad_names() {
        for bad in [
            "",
            "example.test.",
            ".example.test",
            "exa mple.test",
            "a..b",
            "-a.test",
            "a-.test",
            "a_b.test",
            "xn--zz.test",
            "[127.0.0.1]",
            "user@example.test",
            &"a".repeat(64),
        ] {
            assert!(Domain::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
