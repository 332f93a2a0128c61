//! What the checks found, owned (no borrow of the message), in RFC 8601's
//! vocabulary, so the verdict can outlive the spooled bytes it was made
//! from and be logged, written as a header field and decided on.

use std::fmt;
use std::net::IpAddr;

use mail_auth::common::crypto::Algorithm;
use mail_auth::dkim::DkimError;
use mail_auth::{
    ArcOutput, DkimOutput, DkimResult, DmarcOutput, DmarcResult, Error, SpfOutput, SpfResult,
};

/// One method's result, as RFC 8601 §2.7 names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthResult {
    /// Authenticated.
    Pass,
    /// Checked and failed.
    Fail,
    /// SPF `~all`: probably not authorised.
    SoftFail,
    /// No assertion either way (SPF `?all`; a DKIM signature that could not
    /// be processed).
    Neutral,
    /// Nothing to check (no record, no signature).
    None,
    /// A DNS error that may go away: try again later.
    TempError,
    /// A broken record or signature: will not go away.
    PermError,
    /// Valid, but refused by local policy (a DKIM signature with `l=`).
    Policy,
}

impl AuthResult {
    /// The keyword in an `Authentication-Results` field.
    pub fn keyword(self) -> &'static str {
        match self {
            AuthResult::Pass => "pass",
            AuthResult::Fail => "fail",
            AuthResult::SoftFail => "softfail",
            AuthResult::Neutral => "neutral",
            AuthResult::None => "none",
            AuthResult::TempError => "temperror",
            AuthResult::PermError => "permerror",
            AuthResult::Policy => "policy",
        }
    }
}

impl fmt::Display for AuthResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// Which identity an SPF check was about (RFC 7208 §2.3, §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpfIdentity {
    /// The HELO/EHLO name.
    Helo,
    /// The MAIL FROM domain (for `<>`: `postmaster@` the HELO name).
    MailFrom,
}

/// One SPF check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpfCheck {
    /// Which identity.
    pub identity: SpfIdentity,
    /// What was checked: the envelope address (`postmaster@helo` for `<>`)
    /// or the HELO name.
    pub subject: String,
    /// The domain whose record was evaluated.
    pub domain: String,
    /// The result.
    pub result: AuthResult,
    /// The domain's `exp=` explanation, if it gave one on failure.
    pub explanation: Option<String>,
}

impl SpfCheck {
    pub(crate) fn from_output(identity: SpfIdentity, subject: String, out: &SpfOutput) -> Self {
        SpfCheck {
            identity,
            subject,
            domain: out.domain().to_string(),
            result: match out.result() {
                SpfResult::Pass => AuthResult::Pass,
                SpfResult::Fail => AuthResult::Fail,
                SpfResult::SoftFail => AuthResult::SoftFail,
                SpfResult::Neutral => AuthResult::Neutral,
                SpfResult::TempError => AuthResult::TempError,
                SpfResult::PermError => AuthResult::PermError,
                SpfResult::None => AuthResult::None,
            },
            explanation: out.explanation().map(str::to_string),
        }
    }

    /// A check that could not finish in time.
    pub(crate) fn timed_out(identity: SpfIdentity, subject: String, domain: &str) -> Self {
        SpfCheck {
            identity,
            subject,
            domain: domain.to_string(),
            result: AuthResult::TempError,
            explanation: None,
        }
    }
}

/// One DKIM signature's check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimCheck {
    /// The result.
    pub result: AuthResult,
    /// The signing domain (`d=`), when the signature could be parsed.
    pub domain: Option<String>,
    /// The selector (`s=`).
    pub selector: Option<String>,
    /// The algorithm (`a=`), e.g. `rsa-sha256`.
    pub algorithm: Option<&'static str>,
    /// The first 8 characters of the signature (`b=`) in base64, which tell
    /// several signatures of one domain apart (RFC 6008).
    pub b_prefix: Option<String>,
    /// Why it did not pass.
    pub reason: Option<String>,
}

impl DkimCheck {
    pub(crate) fn from_output(out: &DkimOutput<'_>) -> Self {
        let (result, reason) = match out.result() {
            DkimResult::Pass => (AuthResult::Pass, None),
            // mail-auth calls a body that no longer matches its hash
            // "neutral"; to a reader that is a failed signature.
            DkimResult::Neutral(e @ Error::Dkim(DkimError::FailedBodyHashMatch)) => {
                (AuthResult::Fail, Some(e.to_string()))
            }
            DkimResult::Neutral(e @ Error::Dkim(DkimError::SignatureLength)) => {
                (AuthResult::Policy, Some(e.to_string()))
            }
            DkimResult::Neutral(e) => (AuthResult::Neutral, Some(e.to_string())),
            DkimResult::Fail(e) => (AuthResult::Fail, Some(e.to_string())),
            DkimResult::PermError(e) => (AuthResult::PermError, Some(e.to_string())),
            DkimResult::TempError(e) => (AuthResult::TempError, Some(e.to_string())),
            DkimResult::None => (AuthResult::None, None),
        };
        let sig = out.signature();
        DkimCheck {
            result,
            domain: sig.map(|s| s.d.to_ascii_lowercase()),
            selector: sig.map(|s| s.s.clone()),
            algorithm: sig.map(|s| algorithm_name(s.a)),
            b_prefix: sig.map(|s| b_prefix(&s.b)),
            reason,
        }
    }
}

fn algorithm_name(a: Algorithm) -> &'static str {
    match a {
        Algorithm::RsaSha1 => "rsa-sha1",
        Algorithm::RsaSha256 => "rsa-sha256",
        Algorithm::Ed25519Sha256 => "ed25519-sha256",
    }
}

fn b_prefix(b: &[u8]) -> String {
    let encoded = praisani_message::base64::encode(&b[..b.len().min(6)]);
    encoded.chars().take(8).collect()
}

/// The ARC chain's check (RFC 8617).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArcCheck {
    /// The chain's result (`none` when the message has no ARC sets).
    pub result: AuthResult,
    /// How many ARC sets the message carries.
    pub instances: u32,
    /// The domain (`d=`) of the newest ARC-Seal: the last forwarder that
    /// vouched for the message, whom a local policy may trust.
    pub sealer: Option<String>,
    /// Why it did not pass.
    pub reason: Option<String>,
}

impl ArcCheck {
    pub(crate) fn from_output(out: &ArcOutput<'_>) -> Self {
        let (result, reason) = match out.result() {
            DkimResult::Pass => (AuthResult::Pass, None),
            DkimResult::None => (AuthResult::None, None),
            DkimResult::Neutral(e) | DkimResult::Fail(e) => (AuthResult::Fail, Some(e.to_string())),
            DkimResult::PermError(e) => (AuthResult::PermError, Some(e.to_string())),
            DkimResult::TempError(e) => (AuthResult::TempError, Some(e.to_string())),
        };
        let newest = out.sets().iter().max_by_key(|set| set.seal.header.i);
        ArcCheck {
            result,
            instances: out.sets().len() as u32,
            sealer: newest.map(|set| set.seal.header.d.to_ascii_lowercase()),
            reason,
        }
    }

    pub(crate) fn timed_out() -> Self {
        ArcCheck {
            result: AuthResult::TempError,
            instances: 0,
            sealer: None,
            reason: Some("DNS lookups timed out".into()),
        }
    }
}

/// The policy a DMARC record asks for (after `sp=`/`np=` and `t=y`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmarcPolicy {
    /// Monitor only.
    None,
    /// Treat failing mail as suspicious.
    Quarantine,
    /// Refuse failing mail.
    Reject,
}

impl DmarcPolicy {
    /// The `p=` keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            DmarcPolicy::None => "none",
            DmarcPolicy::Quarantine => "quarantine",
            DmarcPolicy::Reject => "reject",
        }
    }
}

/// DMARC identifier alignment mode (`adkim=`, `aspf=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alignment {
    /// The organizational domains must match.
    Relaxed,
    /// The domains must be equal.
    Strict,
}

impl Alignment {
    /// `r` or `s`, as in the record.
    pub fn letter(self) -> char {
        match self {
            Alignment::Relaxed => 'r',
            Alignment::Strict => 's',
        }
    }
}

/// The DMARC check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcCheck {
    /// The result (`none` when the `From:` domain publishes no record).
    pub result: AuthResult,
    /// The `From:` domain (empty when `From:` had none, or several).
    pub from_domain: String,
    /// Whether a DMARC record applied.
    pub record: bool,
    /// The policy to apply to failing mail.
    pub policy: DmarcPolicy,
    /// Whether SPF passed for a domain aligned with `From:`.
    pub spf_aligned: bool,
    /// Whether a DKIM signature of a domain aligned with `From:` passed.
    pub dkim_aligned: bool,
    /// The record's `adkim=`.
    pub adkim: Alignment,
    /// The record's `aspf=`.
    pub aspf: Alignment,
    /// What the record publishes beyond that, for aggregate reports
    /// (`None` without a record).
    pub published: Option<Published>,
}

/// The parts of a DMARC record that an aggregate report repeats
/// (RFC 7489 §7.2, `policy_published`) or is sent by (`rua=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// `p=`.
    pub p: DmarcPolicy,
    /// `sp=` (`p=` when absent).
    pub sp: DmarcPolicy,
    /// `t=y`: the owner is testing; failing mail gets one step less.
    pub testing: bool,
    /// `fo=`, as written in a report (`0`, `1`, `d`, `s`, `d:s`).
    pub fo: &'static str,
    /// The `mailto:` addresses of `rua=`, each with its `!size` limit in
    /// octets (0: none).
    pub rua: Vec<(String, usize)>,
}

impl Published {
    fn from_record(r: &mail_auth::dmarc::Dmarc) -> Self {
        let policy = |p: &mail_auth::dmarc::Policy| match p {
            mail_auth::dmarc::Policy::Reject => DmarcPolicy::Reject,
            mail_auth::dmarc::Policy::Quarantine => DmarcPolicy::Quarantine,
            _ => DmarcPolicy::None,
        };
        Published {
            p: policy(&r.p),
            sp: policy(&r.sp),
            testing: r.t,
            fo: match r.fo {
                mail_auth::dmarc::Report::All => "0",
                mail_auth::dmarc::Report::Any => "1",
                mail_auth::dmarc::Report::Dkim => "d",
                mail_auth::dmarc::Report::Spf => "s",
                mail_auth::dmarc::Report::DkimSpf => "d:s",
            },
            rua: r
                .rua
                .iter()
                .filter(|u| u.uri.contains('@'))
                .map(|u| (u.uri.clone(), u.max_size))
                .collect(),
        }
    }
}

impl DmarcCheck {
    pub(crate) fn from_output(out: &DmarcOutput) -> Self {
        let record = out.dmarc_record();
        let result = match out.result() {
            DmarcResult::Pass => AuthResult::Pass,
            DmarcResult::Fail(_) => AuthResult::Fail,
            DmarcResult::TempError(_) => AuthResult::TempError,
            DmarcResult::PermError(_) => AuthResult::PermError,
            DmarcResult::None => AuthResult::None,
        };
        let align = |a: mail_auth::dmarc::Alignment| match a {
            mail_auth::dmarc::Alignment::Relaxed => Alignment::Relaxed,
            mail_auth::dmarc::Alignment::Strict => Alignment::Strict,
        };
        DmarcCheck {
            result,
            from_domain: out.domain().to_ascii_lowercase(),
            record: record.is_some(),
            policy: match out.policy() {
                mail_auth::dmarc::Policy::Reject => DmarcPolicy::Reject,
                mail_auth::dmarc::Policy::Quarantine => DmarcPolicy::Quarantine,
                _ => DmarcPolicy::None,
            },
            spf_aligned: *out.spf_result() == DmarcResult::Pass,
            dkim_aligned: *out.dkim_result() == DmarcResult::Pass,
            adkim: record.map_or(Alignment::Relaxed, |r| align(r.adkim)),
            aspf: record.map_or(Alignment::Relaxed, |r| align(r.aspf)),
            published: record.map(Published::from_record),
        }
    }

    pub(crate) fn timed_out(from_domain: String) -> Self {
        DmarcCheck {
            result: AuthResult::TempError,
            from_domain,
            record: false,
            policy: DmarcPolicy::None,
            spf_aligned: false,
            dkim_aligned: false,
            adkim: Alignment::Relaxed,
            aspf: Alignment::Relaxed,
            published: None,
        }
    }
}

/// Everything the checks found about one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The authserv-id: our hostname, as it appears in our header field.
    pub authserv_id: String,
    /// The client's address.
    pub client_ip: IpAddr,
    /// SPF of the HELO name (`none` for an address literal).
    pub spf_helo: SpfCheck,
    /// SPF of the MAIL FROM identity.
    pub spf_mail_from: SpfCheck,
    /// One entry per DKIM signature; empty when the message has none.
    pub dkim: Vec<DkimCheck>,
    /// The ARC chain.
    pub arc: ArcCheck,
    /// DMARC for the `From:` domain.
    pub dmarc: DmarcCheck,
}

impl Verdict {
    /// The complete `Authentication-Results:` field, folded, ending CRLF,
    /// to prepend to the stored message.
    pub fn authentication_results(&self) -> String {
        super::results::render(self)
    }

    /// What the policy makes of this verdict.
    pub fn decision(&self, policy: &super::TrustPolicy) -> super::Decision {
        policy.decide(self)
    }
}
