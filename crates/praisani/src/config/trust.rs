//! `[trust]`: the SPF, DKIM, DMARC and ARC checks on mail from other
//! servers, and what their findings lead to — globally and, in
//! `[trust.domains."example.com"]`, for a hosted domain.

use super::{ConfigError, at_least, size, timeout};
use praisani_mailhost::trust::{Action, DnsSettings, DomainPolicies, TrustPolicy, TrustSettings};
use serde::{Deserialize, Deserializer};
use std::collections::HashMap;
use std::time::Duration;

/// `[trust]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrustConfig {
    /// Check mail from other servers (on by default). Our users' mail
    /// (AUTH) and `trusted_networks` are never checked.
    pub enabled: bool,
    /// Bound on each check as a whole (SPF may make ten lookups in a row);
    /// a check that runs out is a `temperror`.
    #[serde(deserialize_with = "timeout")]
    pub check_timeout: Duration,
    /// Bound on one DNS lookup (asking `delivery.nameservers`, or the
    /// system's resolvers when that is empty).
    #[serde(deserialize_with = "timeout")]
    pub dns_timeout: Duration,
    /// Parsed DNS records kept per record type, each until its TTL ends.
    #[serde(deserialize_with = "at_least::<_, 1>")]
    pub cache_entries: usize,
    /// DKIM signatures verified per message, the topmost first.
    #[serde(deserialize_with = "at_least::<_, 1>")]
    pub max_dkim_signatures: usize,
    /// Octets of messages held in memory by the checks at once; a check
    /// waits for room (a message larger than this is checked alone).
    #[serde(deserialize_with = "size")]
    pub check_memory: u64,
    /// DMARC fails and the domain asks `p=reject`.
    pub dmarc_reject: Option<TrustAction>,
    /// DMARC fails and the domain asks `p=quarantine`.
    pub dmarc_quarantine: Option<TrustAction>,
    /// SPF of the envelope sender is `fail` (`-all`) and DMARC did not decide.
    pub spf_fail: Option<TrustAction>,
    /// SPF of the envelope sender is `softfail` (`~all`) and DMARC did not decide.
    pub spf_softfail: Option<TrustAction>,
    /// A DNS error that could change the outcome.
    pub temperror: Option<TrustAction>,
    /// Put before the subject of marked mail (e.g. "[SPAM]"); unset: none.
    #[serde(deserialize_with = "subject_tag")]
    pub subject_tag: Option<String>,
    /// ARC sealers whose passing chain outweighs a DMARC failure.
    #[serde(deserialize_with = "sealers")]
    pub trusted_arc_sealers: Option<Vec<String>>,
    /// Overrides per hosted domain, by domain name.
    pub domains: HashMap<String, DomainTrust>,
}

impl Default for TrustConfig {
    fn default() -> Self {
        let checks = TrustSettings::default();
        TrustConfig {
            enabled: true,
            check_timeout: checks.check_timeout,
            dns_timeout: DnsSettings::default().timeout,
            cache_entries: checks.cache_entries,
            max_dkim_signatures: checks.max_dkim_signatures,
            check_memory: praisani_mailhost::trust::CheckMemory::default().bytes(),
            dmarc_reject: None,
            dmarc_quarantine: None,
            spf_fail: None,
            spf_softfail: None,
            temperror: None,
            subject_tag: None,
            trusted_arc_sealers: None,
            domains: HashMap::new(),
        }
    }
}

/// `[trust.domains."example.com"]`: the policy keys of `[trust]`, for mail
/// to one hosted domain; a key left out takes the `[trust]` value.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DomainTrust {
    /// As `trust.dmarc_reject`.
    pub dmarc_reject: Option<TrustAction>,
    /// As `trust.dmarc_quarantine`.
    pub dmarc_quarantine: Option<TrustAction>,
    /// As `trust.spf_fail`.
    pub spf_fail: Option<TrustAction>,
    /// As `trust.spf_softfail`.
    pub spf_softfail: Option<TrustAction>,
    /// As `trust.temperror`.
    pub temperror: Option<TrustAction>,
    /// As `trust.subject_tag`; `""` turns the global tag off.
    #[serde(deserialize_with = "subject_tag")]
    pub subject_tag: Option<String>,
    /// As `trust.trusted_arc_sealers` (replaces the global list).
    #[serde(deserialize_with = "sealers")]
    pub trusted_arc_sealers: Option<Vec<String>>,
}

/// An action name: `"accept"`, `"mark"`, `"reject"` or `"tempfail"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustAction(pub Action);

impl<'de> Deserialize<'de> for TrustAction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Ok(TrustAction(match name.as_str() {
            "accept" => Action::Accept,
            "mark" => Action::Mark,
            "reject" => Action::Reject,
            "tempfail" => Action::TempFail,
            _ => {
                return Err(serde::de::Error::custom(format!(
                    "unknown action {name:?}: use \"accept\", \"mark\", \"reject\" or \"tempfail\""
                )));
            }
        }))
    }
}

/// A subject tag: printable, one line, at most 64 octets; `""` = none.
fn subject_tag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let tag = String::deserialize(d)?;
    if tag.len() > 64 || tag.chars().any(char::is_control) {
        return Err(serde::de::Error::custom(
            "a subject tag is one line of at most 64 octets without control characters",
        ));
    }
    Ok(Some(tag.trim().to_string()))
}

/// Domain names, kept as lower-case A-labels.
fn sealers<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| {
            praisani_mailaddr::Domain::parse(s)
                .map(|d| d.ascii().to_ascii_lowercase())
                .map_err(|_| serde::de::Error::custom(format!("{s:?} is not a domain name")))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The policy keys shared by `[trust]` and its per-domain tables.
struct Overrides<'a> {
    dmarc_reject: Option<TrustAction>,
    dmarc_quarantine: Option<TrustAction>,
    spf_fail: Option<TrustAction>,
    spf_softfail: Option<TrustAction>,
    temperror: Option<TrustAction>,
    subject_tag: &'a Option<String>,
    trusted_arc_sealers: &'a Option<Vec<String>>,
}

impl Overrides<'_> {
    fn apply(&self, base: &TrustPolicy) -> TrustPolicy {
        let pick = |o: Option<TrustAction>, d: Action| o.map_or(d, |a| a.0);
        TrustPolicy {
            dmarc_reject: pick(self.dmarc_reject, base.dmarc_reject),
            dmarc_quarantine: pick(self.dmarc_quarantine, base.dmarc_quarantine),
            spf_fail: pick(self.spf_fail, base.spf_fail),
            spf_softfail: pick(self.spf_softfail, base.spf_softfail),
            temperror: pick(self.temperror, base.temperror),
            subject_tag: match self.subject_tag {
                Some(t) if t.is_empty() => None,
                Some(t) => Some(t.clone()),
                None => base.subject_tag.clone(),
            },
            trusted_arc_sealers: self
                .trusted_arc_sealers
                .clone()
                .unwrap_or_else(|| base.trusted_arc_sealers.clone()),
        }
    }
}

impl TrustConfig {
    /// Checks what deserializing could not: domain names as keys, the
    /// timeouts against each other.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let mut seen = std::collections::HashSet::new();
        for name in self.domains.keys() {
            let Ok(domain) = praisani_mailaddr::Domain::parse(name) else {
                return Err(ConfigError(format!(
                    "[trust.domains.{name:?}]: {name:?} is not a domain name"
                )));
            };
            // "Example.com", "example.com" and an IDN's two spellings are
            // one domain: which table would win is not for us to guess.
            if !seen.insert(domain.ascii().to_ascii_lowercase()) {
                return Err(ConfigError(format!(
                    "[trust.domains.{name:?}]: the domain {} has two tables",
                    domain.ascii()
                )));
            }
        }
        if self.dns_timeout > self.check_timeout {
            return Err(ConfigError(format!(
                "trust.dns_timeout ({:?}) must not be longer than trust.check_timeout ({:?})",
                self.dns_timeout, self.check_timeout
            )));
        }
        Ok(())
    }

    /// The global policy and the hosted domains' own (keys as lower-case
    /// A-labels).
    pub fn policies(&self) -> DomainPolicies {
        let default = Overrides {
            dmarc_reject: self.dmarc_reject,
            dmarc_quarantine: self.dmarc_quarantine,
            spf_fail: self.spf_fail,
            spf_softfail: self.spf_softfail,
            temperror: self.temperror,
            subject_tag: &self.subject_tag,
            trusted_arc_sealers: &self.trusted_arc_sealers,
        }
        .apply(&TrustPolicy::default());
        let per_domain = self
            .domains
            .iter()
            .filter_map(|(name, d)| {
                let key = praisani_mailaddr::Domain::parse(name)
                    .ok()?
                    .ascii()
                    .to_ascii_lowercase();
                let policy = Overrides {
                    dmarc_reject: d.dmarc_reject,
                    dmarc_quarantine: d.dmarc_quarantine,
                    spf_fail: d.spf_fail,
                    spf_softfail: d.spf_softfail,
                    temperror: d.temperror,
                    subject_tag: &d.subject_tag,
                    trusted_arc_sealers: &d.trusted_arc_sealers,
                }
                .apply(&default);
                Some((key, policy))
            })
            .collect();
        DomainPolicies {
            default,
            per_domain,
        }
    }

    /// How the checks run.
    pub fn check_settings(&self) -> TrustSettings {
        TrustSettings {
            check_timeout: self.check_timeout,
            cache_entries: self.cache_entries,
            max_dkim_signatures: self.max_dkim_signatures,
        }
    }

    /// Where the checks ask DNS: `nameservers` (`delivery.nameservers`).
    pub fn dns_settings(&self, nameservers: &[std::net::SocketAddr]) -> DnsSettings {
        DnsSettings {
            nameservers: nameservers.to_vec(),
            timeout: self.dns_timeout,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    #[test]
    fn defaults_are_the_secure_policy() {
        let c = Config::parse("").unwrap();
        assert!(c.trust.enabled);
        assert_eq!(c.trust.policies(), DomainPolicies::default());
        assert_eq!(c.trust.check_timeout, Duration::from_secs(20));
        assert_eq!(c.trust.dns_timeout, Duration::from_secs(5));
    }

    #[test]
    fn global_keys_and_domain_overrides() {
        let c = Config::parse(
            "[trust]\nspf_fail = \"reject\"\nsubject_tag = \"[SPAM]\"\n\
             trusted_arc_sealers = [\"Lists.Example.org\"]\n\
             [trust.domains.\"Strict.Example\"]\ndmarc_quarantine = \"reject\"\n\
             [trust.domains.\"quiet.example\"]\nsubject_tag = \"\"\ntemperror = \"accept\"\n",
        )
        .unwrap();
        let p = c.trust.policies();
        assert_eq!(p.default.spf_fail, Action::Reject);
        assert_eq!(p.default.subject_tag.as_deref(), Some("[SPAM]"));
        assert_eq!(p.default.trusted_arc_sealers, ["lists.example.org"]);
        let strict = p.for_domain("strict.example");
        assert_eq!(strict.dmarc_quarantine, Action::Reject);
        assert_eq!(strict.spf_fail, Action::Reject, "inherits the global key");
        assert_eq!(strict.subject_tag.as_deref(), Some("[SPAM]"));
        let quiet = p.for_domain("quiet.example");
        assert_eq!(quiet.subject_tag, None);
        assert_eq!(quiet.temperror, Action::Accept);
    }

    #[test]
    fn bad_values_are_refused_with_their_key() {
        for (doc, needle) in [
            ("[trust]\nspf_fail = \"drop\"", "unknown action \"drop\""),
            ("[trust]\ndmarc_reject = \"Reject\"", "dmarc_reject"),
            ("[trust]\nsubject_tag = \"a\\nb\"", "subject_tag"),
            (
                "[trust]\ntrusted_arc_sealers = [\"not a domain\"]",
                "trusted_arc_sealers",
            ),
            ("[trust]\ncheck_timeout = 0", "check_timeout"),
            (
                "[trust]\ncheck_timeout = \"5s\"\ndns_timeout = \"10s\"",
                "dns_timeout",
            ),
            (
                "[trust.domains.\"bad domain\"]\nspf_fail = \"mark\"",
                "bad domain",
            ),
            ("[trust.domains.\"a.example\"]\nenabled = false", "enabled"),
            ("[trust]\nenable = false", "enable"),
            (
                "[trust.domains.\"a.example\"]\n[trust.domains.\"A.Example\"]",
                "two tables",
            ),
        ] {
            let e = Config::parse(doc).unwrap_err();
            assert!(e.0.contains(needle), "{doc}: {e}");
        }
    }
}
