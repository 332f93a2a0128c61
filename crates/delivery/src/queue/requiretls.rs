//! REQUIRETLS (RFC 8689, the sender's requirements) in the queue: which hosts may take
//! a message whose sender gave REQUIRETLS, and the `5.7.30` reasons when
//! one may not. The session itself checks that the server offers
//! REQUIRETLS after TLS, and the client engine sends it on MAIL FROM.
//!
//! A host qualifies when both its name and its certificate are
//! authenticated: DANE with usable TLSA records (the MX records are
//! DNSSEC-secure, the certificate matches the TLSA set), or DNSSEC-secure
//! MX records without TLSA records and a certificate that chains to a
//! trusted root and names the host, or an MTA-STS policy in `enforce`
//! mode that lists it (the certificate checked the same way), or a next
//! hop the operator
//! configured with `verify_tls` (a static route or the smarthost: no MX
//! lookup to authenticate, the certificate verified). An MTA-STS policy
//! in `testing` mode does not qualify: its owner asks that failures not
//! keep mail back, so its hosts are not checked as REQUIRETLS needs.

use super::dane::DaneTls;
use super::plan::Problem;
use super::tls_policy::HostTls;
use crate::client::TlsTrust;
use crate::route::Target;
use praisani_message::dsn::Status;
use std::net::SocketAddr;

/// `5.7.30`: REQUIRETLS support required (RFC 8689's status code).
pub(super) const STATUS: Status = Status::new(5, 7, 30);

fn refusal(text: String) -> Problem {
    Problem::new(STATUS, format!("5.7.30 REQUIRETLS: {text}"))
}

/// How a host was found.
#[derive(Clone, Copy, Debug)]
pub(super) struct Found {
    /// By an MX lookup (not a static route or the smarthost).
    pub(super) by_mx: bool,
    /// In DNSSEC-secure MX records, and DANE does not apply to it.
    pub(super) mx_secure: bool,
}

/// Whether `target` may take REQUIRETLS messages at all, before
/// connecting, under the TLS it was given (`host_tls`, or `dane`).
pub(super) fn host_allowed(
    target: &Target,
    found: Found,
    host_tls: &HostTls,
    dane: Option<&DaneTls>,
) -> Result<(), Problem> {
    if let Some(d) = dane {
        return match d.trust {
            TlsTrust::Verified => Ok(()),
            TlsTrust::Unverified => Err(refusal(format!(
                "{}: its TLSA records are all unusable, so its certificate cannot be \
                 authenticated",
                target.host
            ))),
        };
    }
    match host_tls {
        HostTls::VerifiedName(Some(p)) if p.enforce => Ok(()),
        HostTls::VerifiedName(None) if target.verify_tls || found.mx_secure => Ok(()),
        _ if !found.by_mx => Err(refusal(format!(
            "{}: the configured next hop's certificate is not verified (verify_tls)",
            target.host
        ))),
        _ => Err(refusal(format!(
            "{}: neither DNSSEC, DANE nor an MTA-STS policy in enforce mode authenticates it",
            target.host
        ))),
    }
}

/// The server, after its EHLO, does not offer REQUIRETLS (or the session
/// has no TLS).
pub(super) fn not_offered(host: &str, addr: SocketAddr, tls_up: bool) -> Problem {
    if tls_up {
        refusal(format!("{host} ({addr}) does not offer REQUIRETLS"))
    } else {
        refusal(format!("{host} ({addr}) offers no TLS"))
    }
}

/// A reason to try the next host that is one of ours above: no other
/// failure may end in a bounce before the queue gives up.
pub(super) fn is_refusal(p: &Problem) -> bool {
    p.status == STATUS
}

/// The permanent failure when no host of `domain` may take the message.
pub(super) fn undeliverable(domain: &str, last: &Problem) -> Problem {
    let why = last
        .text
        .strip_prefix("5.7.30 REQUIRETLS: ")
        .unwrap_or(&last.text);
    refusal(format!("no server for {domain} may take it ({why})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::tls_policy::PolicyRef;
    use crate::route::TlsMode;
    use crate::tls_report::PolicyType;

    fn target(verify_tls: bool) -> Target {
        Target {
            host: "mx.remote.test".into(),
            addrs: vec!["127.0.0.1:25".parse().unwrap()],
            preference: 10,
            tls: TlsMode::Starttls,
            auth: None,
            verify_tls,
        }
    }

    const MX: Found = Found {
        by_mx: true,
        mx_secure: false,
    };

    fn sts(enforce: bool) -> PolicyRef {
        PolicyRef {
            kind: PolicyType::Sts,
            domain: "remote.test".into(),
            enforce,
            strings: Vec::new(),
            mx_hosts: Vec::new(),
        }
    }

    #[test]
    fn only_authenticated_hosts() {
        let t = target(false);
        assert!(host_allowed(&t, MX, &HostTls::VerifiedName(Some(sts(true))), None).is_ok());
        for h in [
            HostTls::Opportunistic,
            HostTls::ReportOnly(sts(false)),
            HostTls::VerifiedName(None),
        ] {
            let e = host_allowed(&t, MX, &h, None).unwrap_err();
            assert_eq!(e.status, STATUS, "{h:?}");
            assert!(
                e.text.starts_with("5.7.30 REQUIRETLS: mx.remote.test"),
                "{}",
                e.text
            );
            assert!(is_refusal(&e));
        }
        // Secure MX records and a verified certificate.
        let secure = Found {
            by_mx: true,
            mx_secure: true,
        };
        assert!(host_allowed(&t, secure, &HostTls::VerifiedName(None), None).is_ok());
        // The operator's next hop: verified, or not.
        let hop = Found {
            by_mx: false,
            mx_secure: false,
        };
        assert!(host_allowed(&target(true), hop, &HostTls::VerifiedName(None), None).is_ok());
        let e = host_allowed(&target(false), hop, &HostTls::Opportunistic, None).unwrap_err();
        assert!(
            e.text.contains("is not verified (verify_tls)"),
            "{}",
            e.text
        );
    }

    #[test]
    fn the_final_reason() {
        let last = not_offered("mx.remote.test", "127.0.0.1:25".parse().unwrap(), true);
        let p = undeliverable("remote.test", &last);
        assert_eq!(p.status.to_string(), "5.7.30");
        assert_eq!(
            p.text,
            "5.7.30 REQUIRETLS: no server for remote.test may take it \
             (mx.remote.test (127.0.0.1:25) does not offer REQUIRETLS)"
        );
        assert!(!is_refusal(&Problem::new(Status::new(4, 4, 1), "x")));
    }
}
