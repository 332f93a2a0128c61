//! DANE for outbound SMTP (RFC 7672, with RFC 6698, RFC 7218 and RFC 7671):
//! TLSA records, published in DNSSEC-signed zones, say which certificate
//! or key an MX host presents; a server whose TLSA records are secure must
//! offer STARTTLS and present a matching chain, or the mail waits.
//!
//! DNSSEC is not validated here: the configured nameserver
//! (`delivery.nameservers`, or the system's) must be a *validating*
//! resolver on a trusted path — typically unbound on loopback — and its
//! AD ("authentic data") bit is what makes an answer secure
//! ([`lookup`]). A resolver that does not validate never sets AD, so then
//! nothing is secure and DANE never applies: no cost, no change.
//!
//! The walk for one destination (RFC 7672 §2.2):
//!
//! 1. [`Dane::mx_secure`]: the domain's MX RRset (or its secure absence,
//!    the implicit MX) must be secure, else an attacker could have chosen
//!    the host name and DANE does not apply to any of its hosts.
//! 2. [`Dane::lookup`] per MX host: its address records must be secure
//!    (else no TLSA lookup: insecure zones often answer TLSA queries
//!    badly), then the TLSA RRset at `_PORT._tcp.HOST` — at the name the
//!    host's CNAMEs lead to first, then at the host name itself
//!    (RFC 7672 §2.2.3). Secure records → [`DaneStatus::Required`]; none,
//!    or insecure → [`DaneStatus::NotApplicable`]; secure records of which
//!    none is usable → [`DaneStatus::EncryptOnly`] (STARTTLS mandatory,
//!    the certificate unchecked, RFC 7672 §2.2); a failed lookup (SERVFAIL,
//!    as a validating resolver answers for bogus data; a timeout) →
//!    [`DaneError`], a temporary failure: never a fallback to plain text or
//!    to unauthenticated TLS.
//! 3. [`TlsaSet::verifier`]: the rustls certificate check that accepts a
//!    chain only when a usable record matches it ([`verify`]).

mod lookup;
mod verify;

pub use verify::{DaneVerifier, Mismatch};

use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use lookup::{Answer, Stub};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Where and how patiently DANE asks DNS.
#[derive(Clone, Debug)]
pub struct DaneSettings {
    /// Validating resolvers to ask (UDP, TCP when an answer is truncated);
    /// empty: the system's (`/etc/resolv.conf`).
    pub nameservers: Vec<SocketAddr>,
    /// Bound on one lookup, all servers and attempts included.
    pub timeout: Duration,
}

/// Why DANE could not decide; always a temporary failure for the host.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DaneError {
    /// A DNS lookup failed: SERVFAIL (a validating resolver's answer for
    /// bogus data), a refusal, a timeout, a network error.
    #[error("{rtype} lookup for {name} failed: {reason}")]
    Lookup {
        /// The name asked for.
        name: String,
        /// The record type asked for.
        rtype: String,
        /// What went wrong.
        reason: String,
    },
    /// The host or domain is not a name DNS can be asked for.
    #[error("{0:?} is not a valid DNS name")]
    BadName(String),
    /// No nameserver is configured and the system's cannot be read.
    #[error("no nameserver to ask: {0}")]
    Setup(String),
}

/// What DANE says about one MX host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DaneStatus {
    /// No secure TLSA records (or insecure DNS): TLS as without DANE.
    NotApplicable,
    /// Secure TLSA records exist but none is usable (RFC 7672 §2.2):
    /// STARTTLS is mandatory, the certificate cannot be checked.
    EncryptOnly,
    /// STARTTLS is mandatory and the certificate chain must match one of
    /// these records.
    Required(TlsaSet),
}

/// One TLSA record (RFC 6698 §2.1), as numbers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tlsa {
    /// Certificate usage: 2 DANE-TA, 3 DANE-EE (0 and 1, the PKIX usages,
    /// are unusable for SMTP, RFC 7672 §3.1.3).
    pub usage: u8,
    /// 0: the full certificate, 1: its SubjectPublicKeyInfo.
    pub selector: u8,
    /// 0: the data itself, 1: SHA-256, 2: SHA-512.
    pub matching: u8,
    /// The certificate association data.
    pub data: Vec<u8>,
}

/// DANE-TA: a trust anchor in the server's chain.
pub const USAGE_DANE_TA: u8 = 2;
/// DANE-EE: the server's own certificate or key.
pub const USAGE_DANE_EE: u8 = 3;

impl Tlsa {
    /// Usable for SMTP (RFC 7672 §3.1.3, RFC 7671 §4): usage DANE-TA or
    /// DANE-EE, a known selector, a known matching type whose digest has
    /// the right length. Others are ignored as if absent.
    pub fn is_usable(&self) -> bool {
        let usage = matches!(self.usage, USAGE_DANE_TA | USAGE_DANE_EE);
        let selector = matches!(self.selector, 0 | 1);
        let matching = match self.matching {
            0 => !self.data.is_empty(),
            1 => self.data.len() == 32,
            2 => self.data.len() == 64,
            _ => false,
        };
        usage && selector && matching
    }
}

impl std::fmt::Display for Tlsa {
    /// Presentation format: `3 1 1 ab12…` (the data in hex, cut after 16
    /// bytes for logs).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {} ", self.usage, self.selector, self.matching)?;
        for b in self.data.iter().take(16) {
            write!(f, "{b:02x}")?;
        }
        if self.data.len() > 16 {
            f.write_str("…")?;
        }
        Ok(())
    }
}

/// The usable TLSA records of one MX host, and the names its certificate
/// may carry for DANE-TA (RFC 7672 §3.2.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsaSet {
    records: Vec<Tlsa>,
    /// The TLSA base domain (the MX host, or where its CNAMEs lead): the
    /// DANE-TA name check accepts it besides the name connected to.
    base: String,
}

impl TlsaSet {
    /// The usable ones of `records`, found at the TLSA base domain `base`
    /// (lower-case, no trailing dot).
    pub fn new(records: impl IntoIterator<Item = Tlsa>, base: &str) -> TlsaSet {
        let mut usable: Vec<Tlsa> = records.into_iter().filter(Tlsa::is_usable).collect();
        usable.dedup();
        TlsaSet {
            records: usable,
            base: base.trim_end_matches('.').to_ascii_lowercase(),
        }
    }

    /// The usable records.
    pub fn records(&self) -> &[Tlsa] {
        &self.records
    }

    /// No record is usable.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The TLSA base domain.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The rustls certificate check for a handshake with `mx_host`: a
    /// chain passes only when a record matches ([`DaneVerifier`]).
    pub fn verifier(&self, mx_host: &str) -> Arc<dyn rustls::client::danger::ServerCertVerifier> {
        Arc::new(DaneVerifier::new(self.clone(), mx_host))
    }
}

/// Looks up DANE's facts through a validating resolver. Cheap to share;
/// every call asks DNS afresh (the resolver caches).
#[derive(Debug)]
pub struct Dane {
    stub: Stub,
}

impl Dane {
    /// Asks `settings.nameservers`, or the system's when empty.
    pub fn new(settings: &DaneSettings) -> Result<Dane, DaneError> {
        let servers = if settings.nameservers.is_empty() {
            system_nameservers()?
        } else {
            settings.nameservers.clone()
        };
        Ok(Dane {
            stub: Stub::new(servers, settings.timeout),
        })
    }

    /// Is `domain`'s MX RRset secure (signed and validated, or its absence
    /// proven)? Only then may DANE apply to its hosts (RFC 7672 §2.2.1).
    /// `domain` is an A-label name, any case, without a trailing dot.
    pub async fn mx_secure(&self, domain: &str) -> Result<bool, DaneError> {
        let name = fqdn(domain)?;
        let answer = self.ask(&name, RecordType::MX).await?;
        Ok(answer.secure)
    }

    /// DANE for the MX host `mx_host` on `port`, once [`Self::mx_secure`]
    /// said yes for its domain: the host's addresses must be secure, then
    /// its TLSA records decide (see the module documentation).
    pub async fn lookup(&self, mx_host: &str, port: u16) -> Result<DaneStatus, DaneError> {
        let host = fqdn(mx_host)?;
        let (a, aaaa) = tokio::join!(
            self.ask(&host, RecordType::A),
            self.ask(&host, RecordType::AAAA)
        );
        let (a, aaaa) = (a?, aaaa?);
        if !(a.secure && aaaa.secure) {
            return Ok(DaneStatus::NotApplicable);
        }
        // Where the host's CNAMEs lead (the A answer's chain) is the
        // preferred TLSA base; the host name itself comes second.
        let expanded = a.cname_target(&host);
        let mut bases = vec![expanded.clone()];
        if expanded != host {
            bases.push(host.clone());
        }
        for base in bases {
            let owner = tlsa_name(&base, port)?;
            let answer = self.ask(&owner, RecordType::TLSA).await?;
            if !answer.secure {
                // An insecure TLSA RRset (a CNAME into an unsigned zone)
                // counts as none.
                continue;
            }
            let records: Vec<Tlsa> = answer
                .records(RecordType::TLSA)
                .filter_map(|rdata| match rdata {
                    RData::TLSA(t) => Some(Tlsa {
                        usage: t.cert_usage.into(),
                        selector: t.selector.into(),
                        matching: t.matching.into(),
                        data: t.cert_data.clone(),
                    }),
                    _ => None,
                })
                .collect();
            if records.is_empty() {
                continue;
            }
            let set = TlsaSet::new(records, &base.to_ascii());
            return Ok(if set.is_empty() {
                DaneStatus::EncryptOnly
            } else {
                DaneStatus::Required(set)
            });
        }
        Ok(DaneStatus::NotApplicable)
    }

    /// One query; NOERROR and NXDOMAIN are answers, anything else an error.
    async fn ask(&self, name: &Name, rtype: RecordType) -> Result<Answer, DaneError> {
        let failed = |reason: String| DaneError::Lookup {
            name: name.to_ascii().trim_end_matches('.').to_string(),
            rtype: rtype.to_string(),
            reason,
        };
        let answer = self.stub.query(name, rtype).await.map_err(failed)?;
        match answer.rcode {
            ResponseCode::NoError | ResponseCode::NXDomain => Ok(answer),
            // A server that does not understand EDNS or the AD bit does not
            // validate either: nothing it says is secure.
            ResponseCode::FormErr | ResponseCode::NotImp => Ok(Answer {
                secure: false,
                ..answer
            }),
            ResponseCode::ServFail => Err(failed(
                "SERVFAIL (for a validating resolver: bogus DNSSEC data or a broken zone)".into(),
            )),
            other => Err(failed(other.to_string())),
        }
    }
}

/// `_PORT._tcp.BASE.`
fn tlsa_name(base: &Name, port: u16) -> Result<Name, DaneError> {
    Name::from_ascii(format!("_{port}._tcp"))
        .and_then(|prefix| prefix.append_name(base))
        .map_err(|_| DaneError::BadName(base.to_ascii()))
}

/// The fully qualified name of `host` (a trailing dot: no search list).
fn fqdn(host: &str) -> Result<Name, DaneError> {
    let trimmed = host.trim_end_matches('.');
    if trimmed.is_empty() {
        return Err(DaneError::BadName(host.to_string()));
    }
    Name::from_ascii(format!("{trimmed}.")).map_err(|_| DaneError::BadName(host.to_string()))
}

/// The system's nameservers (`/etc/resolv.conf`), each on its port.
fn system_nameservers() -> Result<Vec<SocketAddr>, DaneError> {
    let (config, _) = hickory_resolver::system_conf::read_system_conf()
        .map_err(|e| DaneError::Setup(e.to_string()))?;
    let mut servers: Vec<SocketAddr> = Vec::new();
    for ns in config.name_servers() {
        let port = ns.connections.first().map(|c| c.port).unwrap_or(53);
        let addr = SocketAddr::new(ns.ip, port);
        if !servers.contains(&addr) {
            servers.push(addr);
        }
    }
    if servers.is_empty() {
        return Err(DaneError::Setup("the system lists no nameserver".into()));
    }
    Ok(servers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(usage: u8, selector: u8, matching: u8, len: usize) -> Tlsa {
        Tlsa {
            usage,
            selector,
            matching,
            data: vec![0xab; len],
        }
    }

    #[test]
    fn usable_records() {
        assert!(rec(3, 1, 1, 32).is_usable());
        assert!(rec(3, 0, 1, 32).is_usable());
        assert!(rec(2, 1, 1, 32).is_usable());
        assert!(rec(2, 0, 2, 64).is_usable());
        assert!(rec(3, 1, 0, 91).is_usable());
        // PKIX usages are unusable for SMTP (RFC 7672 §3.1.3).
        assert!(!rec(0, 1, 1, 32).is_usable());
        assert!(!rec(1, 1, 1, 32).is_usable());
        assert!(!rec(4, 1, 1, 32).is_usable());
        // Unknown selector or matching type, wrong digest length.
        assert!(!rec(3, 2, 1, 32).is_usable());
        assert!(!rec(3, 1, 3, 32).is_usable());
        assert!(!rec(3, 1, 1, 31).is_usable());
        assert!(!rec(3, 1, 2, 32).is_usable());
        assert!(!rec(3, 1, 0, 0).is_usable());
    }

    #[test]
    fn a_set_keeps_only_usable_records() {
        let set = TlsaSet::new([rec(1, 1, 1, 32), rec(3, 1, 1, 32)], "MX.Example.");
        assert_eq!(set.records(), &[rec(3, 1, 1, 32)]);
        assert_eq!(set.base(), "mx.example");
        assert!(TlsaSet::new([rec(0, 0, 1, 32)], "mx.example").is_empty());
    }

    #[test]
    fn names() {
        let base = fqdn("mx.example.org").unwrap();
        assert_eq!(
            tlsa_name(&base, 25).unwrap().to_ascii(),
            "_25._tcp.mx.example.org."
        );
        assert!(fqdn("").is_err());
        assert!(fqdn("a..b").is_err());
        assert_eq!(format!("{}", rec(3, 1, 1, 2)), "3 1 1 abab");
    }
}
