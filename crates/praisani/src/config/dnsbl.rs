//! `[dnsbl]`: DNS blocklists and allowlists asked about other servers
//! (none by default: which lists to use, under which terms, is the
//! operator's choice).

use super::{Cidr, ConfigError, cidr_list, timeout};
use praisani_mailaddr::Domain;
use praisani_mailhost::dnsbl::DnsblSettings;
use serde::{Deserialize, Deserializer};
use std::time::Duration;

/// `[dnsbl]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsblConfig {
    /// Blocklist zones; a client listed in one is refused (554 5.7.1).
    #[serde(deserialize_with = "zones")]
    pub blocklists: Vec<String>,
    /// Allowlist zones: a client listed in one passes every blocklist.
    #[serde(deserialize_with = "zones")]
    pub allowlists: Vec<String>,
    /// Client networks never looked up.
    #[serde(deserialize_with = "cidr_list")]
    pub allow_clients: Vec<Cidr>,
    /// When a listed client is refused: at each RCPT (`"rcpt"`, so it can
    /// still reach postmaster) or instead of the greeting (`"connect"`).
    pub check_at: CheckAt,
    /// Bound on all lookups for one client; a list that does not answer
    /// in time blocks nothing.
    #[serde(deserialize_with = "timeout")]
    pub timeout: Duration,
    /// Look loopback clients up too (normally this machine; for tests).
    pub check_loopback: bool,
}

impl Default for DnsblConfig {
    fn default() -> Self {
        DnsblConfig {
            blocklists: Vec::new(),
            allowlists: Vec::new(),
            allow_clients: Vec::new(),
            check_at: CheckAt::Rcpt,
            timeout: Duration::from_secs(5),
            check_loopback: false,
        }
    }
}

/// `dnsbl.check_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckAt {
    /// At each RCPT (postmaster exempt).
    Rcpt,
    /// At connection time.
    Connect,
}

impl DnsblConfig {
    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.blocklists.is_empty() && !self.allowlists.is_empty() {
            return Err(ConfigError(
                "dnsbl.allowlists without dnsbl.blocklists does nothing: add a blocklist or remove the allowlists".into(),
            ));
        }
        Ok(())
    }

    /// True when some blocklist is configured.
    pub fn enabled(&self) -> bool {
        !self.blocklists.is_empty()
    }

    /// True when `ip` is in `allow_clients`.
    pub fn allows_client(&self, ip: std::net::IpAddr) -> bool {
        self.allow_clients.iter().any(|n| n.contains(ip))
    }

    /// The lists for the mail host.
    pub fn settings(&self) -> DnsblSettings {
        DnsblSettings {
            blocklists: self.blocklists.clone(),
            allowlists: self.allowlists.clone(),
            timeout: self.timeout,
            check_loopback: self.check_loopback,
        }
    }
}

/// DNS zone names, kept as lower-case A-labels.
fn zones<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| {
            Domain::parse(s.trim_end_matches('.'))
                .map(|d| d.ascii().to_ascii_lowercase())
                .map_err(|_| serde::de::Error::custom(format!("{s:?} is not a DNS zone name")))
        })
        .collect()
}
