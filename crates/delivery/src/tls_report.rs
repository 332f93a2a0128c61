//! What TLS-RPT (RFC 8460) will report: the outcome of each TLS attempt
//! under a policy, with the RFC's result types. The queue hands every
//! [`TlsResult`] to one hook (`queue::Runner::tls_report`), which for now
//! logs it; the daily reports (issue 13 point 6) will count them there.

use std::net::IpAddr;

/// Which kind of policy applied (RFC 8460 section 4.4, `policy-type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PolicyType {
    /// An MTA-STS policy.
    Sts,
    /// DANE TLSA records (RFC 7672).
    Tlsa,
    /// No policy found (a report of MTA-STS fetch failures).
    NoPolicyFound,
}

impl PolicyType {
    /// The name in a report.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyType::Sts => "sts",
            PolicyType::Tlsa => "tlsa",
            PolicyType::NoPolicyFound => "no-policy-found",
        }
    }
}

/// Why a session under a policy failed (RFC 8460 section 4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResultType {
    /// The server did not offer STARTTLS.
    StarttlsNotSupported,
    /// The certificate does not name the host.
    CertificateHostMismatch,
    /// The certificate has expired.
    CertificateExpired,
    /// The certificate does not chain to a trusted root.
    CertificateNotTrusted,
    /// Any other failure, e.g. an MX host the policy does not list.
    ValidationFailure,
    /// The TLSA records could not be used (DANE).
    TlsaInvalid,
    /// DNSSEC validation failed (DANE).
    DnssecInvalid,
    /// DANE was required and not possible.
    DaneRequired,
    /// The MTA-STS policy could not be fetched.
    StsPolicyFetchError,
    /// The MTA-STS policy was malformed.
    StsPolicyInvalid,
    /// The certificate of the MTA-STS policy host did not verify.
    StsWebpkiInvalid,
}

impl ResultType {
    /// The name in a report.
    pub fn as_str(self) -> &'static str {
        match self {
            ResultType::StarttlsNotSupported => "starttls-not-supported",
            ResultType::CertificateHostMismatch => "certificate-host-mismatch",
            ResultType::CertificateExpired => "certificate-expired",
            ResultType::CertificateNotTrusted => "certificate-not-trusted",
            ResultType::ValidationFailure => "validation-failure",
            ResultType::TlsaInvalid => "tlsa-invalid",
            ResultType::DnssecInvalid => "dnssec-invalid",
            ResultType::DaneRequired => "dane-required",
            ResultType::StsPolicyFetchError => "sts-policy-fetch-error",
            ResultType::StsPolicyInvalid => "sts-policy-invalid",
            ResultType::StsWebpkiInvalid => "sts-webpki-invalid",
        }
    }

    /// The result type of a failed certificate check.
    pub fn of_certificate(e: &rustls::Error) -> ResultType {
        use rustls::CertificateError as C;
        match e {
            rustls::Error::InvalidCertificate(c) => match c {
                C::NotValidForName | C::NotValidForNameContext { .. } => {
                    ResultType::CertificateHostMismatch
                }
                C::Expired | C::ExpiredContext { .. } => ResultType::CertificateExpired,
                C::UnknownIssuer | C::BadSignature => ResultType::CertificateNotTrusted,
                _ => ResultType::ValidationFailure,
            },
            _ => ResultType::ValidationFailure,
        }
    }

    /// The result type of a failed handshake (the rustls error inside the
    /// I/O error, when there is one).
    pub fn of_handshake(e: &std::io::Error) -> ResultType {
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .map_or(ResultType::ValidationFailure, ResultType::of_certificate)
    }
}

/// One TLS outcome with a server (or a policy lookup) under a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsResult {
    /// The kind of policy.
    pub policy_type: PolicyType,
    /// The policy domain (the recipient domain).
    pub policy_domain: String,
    /// The MX host, when the result is about a session.
    pub receiving_mx: Option<String>,
    /// Its address.
    pub receiving_ip: Option<IpAddr>,
    /// `None`: a successful session; else what failed.
    pub failure: Option<ResultType>,
    /// A human-readable account.
    pub detail: String,
}
