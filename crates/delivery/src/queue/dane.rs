//! DANE in the queue ([`crate::dane`]): before connecting to an MX host,
//! whether its TLS must be authenticated by TLSA records; then what the
//! session does differently — STARTTLS mandatory, the DANE certificate
//! check, and failures reported as `4.7.5 DANE: …`, always temporary.
//! Never a fallback to plain text or to unchecked TLS.

use super::Runner;
use super::plan::Problem;
use super::tls::HandshakeError;
use super::tls_policy::PolicyRef;
use crate::client::TlsTrust;
use crate::dane::{DaneStatus, DaneVerifier, Tlsa};
use crate::route::Target;
use crate::tls_report::{PolicyType, ResultType};
use praisani_message::dsn::Status;
use std::sync::Arc;
use tokio_rustls::TlsConnector;

/// 4.7.5: cryptographic failure (RFC 3463), temporary.
fn dane_problem(text: impl std::fmt::Display) -> Problem {
    Problem::new(Status::new(4, 7, 5), format!("4.7.5 DANE: {text}"))
}

/// How one session with a DANE-protected MX host does TLS.
pub(super) struct DaneTls {
    /// The connector for the STARTTLS handshake.
    pub(super) connector: TlsConnector,
    /// What a finished handshake proves.
    pub(super) trust: TlsTrust,
    /// The policy for TLS-RPT: the host's TLSA records.
    pub(super) policy: PolicyRef,
}

/// The DANE policy of `host` for TLS-RPT (`policy-type` `tlsa`, the
/// records in presentation format as its `policy-string`), under the
/// recipient domain `domain`.
pub(super) fn dane_policy(domain: &str, host: &str, records: &[Tlsa]) -> PolicyRef {
    PolicyRef {
        kind: PolicyType::Tlsa,
        domain: domain.to_string(),
        enforce: true,
        strings: records
            .iter()
            .map(|r| {
                let hex: String = r.data.iter().map(|b| format!("{b:02x}")).collect();
                format!("{} {} {} {hex}", r.usage, r.selector, r.matching)
            })
            .collect(),
        mx_hosts: vec![host.to_string()],
    }
}

impl DaneTls {
    /// The problem a failed handshake is recorded with (the TLSA mismatch
    /// when that was the reason), and its TLS-RPT result type.
    pub(super) fn handshake_failed(&self, e: &HandshakeError) -> (Problem, ResultType) {
        let mismatch = match e {
            HandshakeError::Failed { source, .. } => DaneVerifier::mismatch_in(source),
            _ => None,
        };
        match mismatch {
            // Its text starts with "DANE:".
            Some(m) => (
                Problem::new(Status::new(4, 7, 5), format!("4.7.5 {m}")),
                ResultType::TlsaInvalid,
            ),
            None => (
                dane_problem(e.to_string().trim_start_matches("4.7.5 ")),
                e.result_type(),
            ),
        }
    }

    /// The problem when the server does not offer (or refuses) STARTTLS,
    /// which DANE makes mandatory.
    pub(super) fn starttls_failed(&self, host: &str, reply: &str) -> Problem {
        dane_problem(format!(
            "{host} has TLSA records, so TLS is mandatory: {reply}"
        ))
    }
}

impl Runner {
    /// Whether DANE may apply to `domain`'s MX hosts: DANE is on, the
    /// route comes from MX records, and those are DNSSEC-secure. A failed
    /// lookup (bogus data, SERVFAIL) is a temporary failure.
    pub(super) async fn dane_domain(&self, domain: &str) -> Result<bool, Problem> {
        let Some(dane) = &self.dane else {
            return Ok(false);
        };
        if !self.router.routes_by_mx(domain) {
            return Ok(false);
        }
        let ascii = idna::domain_to_ascii(domain).unwrap_or_else(|_| domain.to_string());
        dane.mx_secure(&ascii).await.map_err(dane_problem)
    }

    /// DANE for one MX host of `domain`, whose MX records are secure:
    /// `None` when it does not apply, else how to do TLS with it. A failed
    /// lookup is a temporary failure of this host (the next may do),
    /// reported to TLS-RPT as `dnssec-invalid`.
    pub(super) async fn dane_target(
        &self,
        domain: &str,
        target: &Target,
    ) -> Result<Option<DaneTls>, Problem> {
        let Some(dane) = &self.dane else {
            return Ok(None);
        };
        let port = target
            .addrs
            .first()
            .map(|a| a.port())
            .unwrap_or(self.settings.smtp_port);
        let status = match dane.lookup(&target.host, port).await {
            Ok(s) => s,
            Err(e) => {
                let problem = dane_problem(format!("{}: {e}", target.host));
                self.tls_report(crate::tls_report::TlsResult {
                    policy_type: PolicyType::Tlsa,
                    policy_domain: domain.to_string(),
                    policy_string: Vec::new(),
                    mx_host: vec![target.host.clone()],
                    sending_ip: None,
                    receiving_mx: Some(target.host.clone()),
                    receiving_ip: None,
                    failure: Some(ResultType::DnssecInvalid),
                    detail: problem.text.clone(),
                });
                return Err(problem);
            }
        };
        match status {
            DaneStatus::NotApplicable => Ok(None),
            DaneStatus::EncryptOnly => {
                tracing::debug!(host = %target.host, "DANE: TLSA records, none usable: TLS mandatory");
                Ok(Some(DaneTls {
                    connector: self.tls.clone(),
                    trust: TlsTrust::Unverified,
                    policy: dane_policy(domain, &target.host, &[]),
                }))
            }
            DaneStatus::Required(set) => {
                tracing::debug!(host = %target.host, records = set.records().len(), "DANE: TLSA records apply");
                let policy = dane_policy(domain, &target.host, set.records());
                let verifier = Arc::new(DaneVerifier::new(set, &target.host));
                let config = verifier
                    .client_config()
                    .map_err(|e| dane_problem(format!("TLS set-up: {e}")))?;
                Ok(Some(DaneTls {
                    connector: TlsConnector::from(config),
                    trust: TlsTrust::Verified,
                    policy,
                }))
            }
        }
    }
}
