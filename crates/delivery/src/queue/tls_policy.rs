//! The TLS a destination requires, decided before connecting: per domain a
//! [`TlsPolicy`] (none, or the domain's MTA-STS policy), and from it per
//! host a [`HostTls`] the session follows: which connector, whether
//! STARTTLS may be missing, and what is only reported. DANE is decided per
//! host in `queue/dane.rs`; where it applies, `session.rs` does not ask
//! this policy at all (RFC 8461 section 2: DANE takes precedence).

use crate::mta_sts::{self, Mode};
use crate::route::{Target, TlsMode};
use crate::tls_report::{PolicyType, ResultType};

/// How the servers of one destination domain must do TLS.
#[derive(Clone, Debug)]
pub(crate) enum TlsPolicy {
    /// No policy: STARTTLS when offered, the certificate unchecked (RFC
    /// 3207 section 4.1), unless the next hop itself must verify.
    Opportunistic,
    /// The domain's MTA-STS policy (`enforce` or `testing`).
    MtaSts(mta_sts::Found),
}

/// What one connection to one host must have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HostTls {
    /// STARTTLS when offered, the certificate not checked.
    Opportunistic,
    /// As opportunistic, but the host is checked as an enforced policy
    /// would check it and what fails is reported, not refused (MTA-STS
    /// `testing`).
    ReportOnly(PolicyRef),
    /// TLS required, never plain text; the certificate must chain to a
    /// trusted root (Mozilla's or `delivery.tls_ca_file`) and name the
    /// host. `None`: a next hop the operator marked (`verify_tls`, the
    /// smarthost with credentials), no published policy.
    VerifiedName(Option<PolicyRef>),
}

/// The published policy a host's requirement comes from: for status
/// texts and TLS-RPT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PolicyRef {
    /// Its kind.
    pub(crate) kind: PolicyType,
    /// The policy domain.
    pub(crate) domain: String,
    /// True when it is enforced (`enforce`), false for `testing`.
    pub(crate) enforce: bool,
    /// The policy as TLS-RPT reports it (`policy-string`).
    pub(crate) strings: Vec<String>,
    /// The MX host patterns it lists (`mx-host`).
    pub(crate) mx_hosts: Vec<String>,
}

impl PolicyRef {
    /// The words that start a status text under this policy, e.g.
    /// `MTA-STS enforce`.
    pub(crate) fn label(&self) -> String {
        let kind = match self.kind {
            PolicyType::Sts => "MTA-STS",
            PolicyType::Tlsa => "DANE",
            PolicyType::NoPolicyFound => "no policy",
        };
        let mode = if self.enforce { "enforce" } else { "testing" };
        format!("{kind} {mode}")
    }
}

/// Why a host may not be used at all under the policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// The text recorded, starting with its status code.
    pub(crate) text: String,
    /// For TLS-RPT.
    pub(crate) result: ResultType,
    /// The policy that refused.
    pub(crate) policy: PolicyRef,
}

impl TlsPolicy {
    /// What a connection to `target` must have; `Err` when the policy
    /// forbids the host (MTA-STS `enforce` and an MX host it does not
    /// list). Under `testing` a host it does not list is used, and the
    /// mismatch comes back as the second value, to report.
    pub(crate) fn for_target(
        &self,
        target: &Target,
    ) -> Result<(HostTls, Option<Refusal>), Refusal> {
        match self {
            TlsPolicy::Opportunistic if target.verify_tls => {
                Ok((HostTls::VerifiedName(None), None))
            }
            TlsPolicy::Opportunistic => Ok((HostTls::Opportunistic, None)),
            TlsPolicy::MtaSts(found) => {
                let enforce = found.policy.mode == Mode::Enforce;
                let policy = PolicyRef {
                    kind: PolicyType::Sts,
                    domain: found.domain.clone(),
                    enforce,
                    strings: found.policy.lines(),
                    mx_hosts: found
                        .policy
                        .mx
                        .iter()
                        .map(|p| p.as_str().to_string())
                        .collect(),
                };
                let mismatch = (!found.policy.allows(&target.host)).then(|| Refusal {
                    text: format!(
                        "4.7.5 {}: {} not in the policy of {} (mx: {})",
                        policy.label(),
                        target.host,
                        found.domain,
                        found
                            .policy
                            .mx
                            .iter()
                            .map(|p| p.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    result: ResultType::ValidationFailure,
                    policy: policy.clone(),
                });
                match (enforce, mismatch) {
                    (true, Some(refusal)) => Err(refusal),
                    (true, None) => Ok((HostTls::VerifiedName(Some(policy)), None)),
                    (false, mismatch) if target.verify_tls => {
                        Ok((HostTls::VerifiedName(None), mismatch))
                    }
                    (false, mismatch) => Ok((HostTls::ReportOnly(policy), mismatch)),
                }
            }
        }
    }
}

impl HostTls {
    /// The client engine's STARTTLS policy over a connection in `mode`.
    pub(crate) fn starttls(&self, mode: TlsMode) -> crate::client::StartTlsPolicy {
        use crate::client::StartTlsPolicy;
        match (mode, self) {
            (TlsMode::Implicit, _) => StartTlsPolicy::Disabled,
            (TlsMode::Starttls, HostTls::VerifiedName(_)) => StartTlsPolicy::Required,
            (TlsMode::Starttls, _) => StartTlsPolicy::Opportunistic,
        }
    }

    /// The policy behind the requirement, if a published one.
    pub(crate) fn policy(&self) -> Option<&PolicyRef> {
        match self {
            HostTls::Opportunistic | HostTls::VerifiedName(None) => None,
            HostTls::ReportOnly(p) | HostTls::VerifiedName(Some(p)) => Some(p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mta_sts::Policy;
    use std::sync::Arc;

    fn target(host: &str, verify_tls: bool) -> Target {
        Target {
            host: host.into(),
            addrs: vec!["127.0.0.1:25".parse().unwrap()],
            preference: 10,
            tls: TlsMode::Starttls,
            auth: None,
            verify_tls,
        }
    }

    fn sts(mode: &str) -> TlsPolicy {
        let text = format!("version: STSv1\nmode: {mode}\nmx: *.remote.test\nmax_age: 600\n");
        TlsPolicy::MtaSts(mta_sts::Found {
            domain: "remote.test".into(),
            policy: Arc::new(Policy::parse(&text).unwrap()),
        })
    }

    #[test]
    fn without_a_policy() {
        let (h, m) = TlsPolicy::Opportunistic
            .for_target(&target("mx.a.test", false))
            .unwrap();
        assert_eq!((h.clone(), m), (HostTls::Opportunistic, None));
        assert_eq!(
            h.starttls(TlsMode::Starttls),
            crate::client::StartTlsPolicy::Opportunistic
        );
        let (h, _) = TlsPolicy::Opportunistic
            .for_target(&target("hop", true))
            .unwrap();
        assert_eq!(h, HostTls::VerifiedName(None));
        assert_eq!(
            h.starttls(TlsMode::Starttls),
            crate::client::StartTlsPolicy::Required
        );
        assert_eq!(
            h.starttls(TlsMode::Implicit),
            crate::client::StartTlsPolicy::Disabled
        );
    }

    #[test]
    fn enforce_takes_listed_hosts_with_verified_names_only() {
        let p = sts("enforce");
        let (h, m) = p.for_target(&target("mx.remote.test", false)).unwrap();
        assert!(m.is_none());
        assert!(
            matches!(&h, HostTls::VerifiedName(Some(r)) if r.enforce && r.domain == "remote.test")
        );
        assert_eq!(
            h.starttls(TlsMode::Starttls),
            crate::client::StartTlsPolicy::Required
        );
        let refused = p.for_target(&target("mx.other.test", false)).unwrap_err();
        assert!(
            refused.text.starts_with(
                "4.7.5 MTA-STS enforce: mx.other.test not in the policy of remote.test"
            ),
            "{}",
            refused.text
        );
        assert_eq!(refused.result, ResultType::ValidationFailure);
        assert!(p.for_target(&target("a.mx.remote.test", false)).is_err());
    }

    #[test]
    fn testing_delivers_and_reports() {
        let p = sts("testing");
        let (h, m) = p.for_target(&target("mx.other.test", false)).unwrap();
        assert!(matches!(&h, HostTls::ReportOnly(r) if !r.enforce));
        assert_eq!(
            h.starttls(TlsMode::Starttls),
            crate::client::StartTlsPolicy::Opportunistic
        );
        let m = m.expect("the mismatch, to report");
        assert!(m.text.contains("MTA-STS testing"), "{}", m.text);
        let (h, m) = p.for_target(&target("mx.remote.test", false)).unwrap();
        assert!(matches!(h, HostTls::ReportOnly(_)));
        assert!(m.is_none());
    }
}
