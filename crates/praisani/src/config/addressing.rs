//! `[addressing]`: sub-addresses (`anna+shop@` → `anna@`), globally and,
//! in `[addressing.domains."example.com"]`, for a hosted domain. A domain's
//! catch-all is not configured here: it is the alias `*@domain`
//! (`praisani domain catchall`).

use praisani_mailaddr::Domain;
use praisani_mailhost::addressing::Addressing;
use serde::{Deserialize, Deserializer};
use std::collections::HashMap;

/// `[addressing]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AddressingConfig {
    /// The characters that start a sub-address tag; `""` turns
    /// sub-addressing off.
    #[serde(deserialize_with = "delimiters")]
    pub subaddress_delimiters: String,
    /// Per hosted domain.
    pub domains: HashMap<String, DomainAddressing>,
}

/// `[addressing.domains."example.com"]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainAddressing {
    /// As `addressing.subaddress_delimiters`, for this domain.
    #[serde(deserialize_with = "delimiters")]
    pub subaddress_delimiters: String,
}

impl Default for AddressingConfig {
    fn default() -> Self {
        AddressingConfig {
            subaddress_delimiters: Addressing::default().delimiters,
            domains: HashMap::new(),
        }
    }
}

impl AddressingConfig {
    /// The rules the post office resolves recipients with; domain names
    /// as lower-case A-labels.
    pub fn rules(&self) -> Addressing {
        Addressing {
            delimiters: self.subaddress_delimiters.clone(),
            per_domain: self
                .domains
                .iter()
                .map(|(name, d)| {
                    let key = Domain::parse(name)
                        .map(|d| d.ascii().to_ascii_lowercase())
                        .unwrap_or_else(|_| name.to_ascii_lowercase());
                    (key, d.subaddress_delimiters.clone())
                })
                .collect(),
        }
    }
}

/// Delimiters: at most 8 characters a local part may hold, not `.` (which
/// is part of ordinary names) nor `@`, `"` or spaces.
fn delimiters<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    let allowed = |c: char| "+-_=#~!$%&*/?^`{|}'".contains(c);
    if s.chars().count() > 8 || !s.chars().all(allowed) {
        return Err(serde::de::Error::custom(format!(
            "{s:?}: use up to 8 of the characters + - _ = # ~ ! $ % & * / ? ^ ` {{ | }} ' (\"\" = off)"
        )));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn delimiters_globally_and_per_domain() {
        let c: Config = toml::from_str(
            "[addressing]\nsubaddress_delimiters = \"+-\"\n\
             [addressing.domains.\"Example.COM\"]\nsubaddress_delimiters = \"\"\n",
        )
        .unwrap();
        let rules = c.addressing.rules();
        assert_eq!(rules.delimiters, "+-");
        assert_eq!(rules.per_domain["example.com"], "");
        assert_eq!(Config::default().addressing.rules().delimiters, "+");
        for bad in ["\".\"", "\"@\"", "\"+ \"", "\"+-_=#~!$%\""] {
            let text = format!("[addressing]\nsubaddress_delimiters = {bad}\n");
            let e = toml::from_str::<Config>(&text).unwrap_err().to_string();
            assert!(
                e.contains("subaddress_delimiters") || e.contains("use up to"),
                "{bad}: {e}"
            );
        }
    }
}
