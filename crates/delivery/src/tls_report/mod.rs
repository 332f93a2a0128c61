//! TLS-RPT (RFC 8460): the outcome of each TLS attempt under a policy,
//! with the RFC's result types, counted per day and reported daily to the
//! addresses the policy domain publishes at `_smtp._tls.DOMAIN`.
//!
//! The queue hands every [`TlsResult`] to one hook
//! (`queue::Runner::tls_report`). With `[tls_reports]` on it goes to the
//! [`Recorder`], which counts results in the store in batches from a task
//! of its own ([`Store::tls_report_record`]), so delivery never waits for
//! it and a store error is only logged. [`Reporter::send`] runs once a UTC
//! day (and from the CLI): it takes each complete day out with
//! [`Store::tls_report_take`] (atomic, so of several nodes one sends it),
//! looks up the domain's record ([`txt`]), builds the JSON report
//! ([`json`]) and the message carrying it ([`message`]) and queues it to
//! each `mailto:` address ([`send`]).
//!
//! [`Store::tls_report_record`]: praisani_store::Store::tls_report_record
//! [`Store::tls_report_take`]: praisani_store::Store::tls_report_take

pub mod json;
pub mod message;
mod recorder;
pub mod send;
pub mod txt;

pub use recorder::Recorder;
pub use send::{ReportSettings, Reporter, Sent};

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
    /// The policy as reported (`policy-string`: an MTA-STS policy's
    /// lines); empty when no policy was found.
    pub policy_string: Vec<String>,
    /// The MX host patterns the policy lists (`mx-host`).
    pub mx_host: Vec<String>,
    /// Our address on the connection, when there was one.
    pub sending_ip: Option<IpAddr>,
    /// The MX host, when the result is about a session.
    pub receiving_mx: Option<String>,
    /// Its address.
    pub receiving_ip: Option<IpAddr>,
    /// `None`: a successful session; else what failed.
    pub failure: Option<ResultType>,
    /// A human-readable account.
    pub detail: String,
}

/// Seconds in a day.
pub const DAY: i64 = 86_400;

/// How long from `now` (Unix seconds) until the next sending time:
/// midnight UTC plus `delay`.
pub fn until_next_send(now: i64, delay: std::time::Duration) -> std::time::Duration {
    let delay = delay.as_secs().min(DAY as u64 - 1) as i64;
    let today = now.div_euclid(DAY) * DAY + delay;
    let next = if today > now { today } else { today + DAY };
    std::time::Duration::from_secs((next - now) as u64)
}
