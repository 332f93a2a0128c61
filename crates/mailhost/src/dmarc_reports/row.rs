//! A report row and a published policy as the store keeps them: small
//! JSON texts, written the same way for equal values, so the store counts
//! equal rows together without knowing what they say.

use crate::trust::{Alignment, AuthResult, DmarcCheck, DmarcPolicy, Published, Verdict};
use serde_json::{Value, json};
use std::net::IpAddr;

/// The policy applied to a message (RFC 7489 §7.2 `disposition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Delivered as it was.
    None,
    /// Delivered marked as suspicious.
    Quarantine,
    /// Refused.
    Reject,
}

impl Disposition {
    /// The report's keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            Disposition::None => "none",
            Disposition::Quarantine => "quarantine",
            Disposition::Reject => "reject",
        }
    }

    fn parse(s: &str) -> Disposition {
        match s {
            "quarantine" => Disposition::Quarantine,
            "reject" => Disposition::Reject,
            _ => Disposition::None,
        }
    }
}

/// Why the disposition is milder than the policy asked (RFC 7489 §7.2
/// `PolicyOverrideType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Override {
    /// The record says `t=y` (DMARCbis's successor of `pct=`, which
    /// `mail-auth` no longer reads).
    TestMode,
    /// Our own policy (`[trust] dmarc_reject = "mark"`, a trusted ARC sealer).
    LocalPolicy,
}

/// One aggregate report row: what the report says about a group of equal
/// messages (the count is the store's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The sending server.
    pub source_ip: IpAddr,
    /// What we did.
    pub disposition: Disposition,
    /// Why it was milder than the policy.
    pub reason: Option<Override>,
    /// DKIM aligned and passed.
    pub dkim_aligned: bool,
    /// SPF aligned and passed.
    pub spf_aligned: bool,
    /// The recipient's domain.
    pub envelope_to: String,
    /// The envelope sender's domain (the HELO name for `<>`).
    pub envelope_from: String,
    /// The `From:` domain.
    pub header_from: String,
    /// The domain SPF checked for the MAIL FROM identity, and its result.
    pub spf: (String, AuthResult),
    /// Each DKIM signature's domain, selector and result.
    pub dkim: Vec<(String, String, AuthResult)>,
}

impl Row {
    /// The row for a message with `verdict`, `disposition`, to a recipient
    /// in `envelope_to`.
    pub fn of(verdict: &Verdict, disposition: Disposition, envelope_to: &str) -> Row {
        let d = &verdict.dmarc;
        let failed = d.result == AuthResult::Fail;
        let asked = match d.policy {
            DmarcPolicy::None => Disposition::None,
            DmarcPolicy::Quarantine => Disposition::Quarantine,
            DmarcPolicy::Reject => Disposition::Reject,
        };
        let milder = failed && rank(disposition) < rank(asked);
        let testing = d.published.as_ref().is_some_and(|p| p.testing);
        let reason = match (failed, testing, milder) {
            (true, true, _) => Some(Override::TestMode),
            (_, _, true) => Some(Override::LocalPolicy),
            _ => None,
        };
        let spf = &verdict.spf_mail_from;
        let envelope_from = spf
            .subject
            .rsplit_once('@')
            .map_or(spf.domain.as_str(), |(_, dom)| dom)
            .to_ascii_lowercase();
        Row {
            source_ip: verdict.client_ip,
            disposition,
            reason,
            dkim_aligned: d.dkim_aligned,
            spf_aligned: d.spf_aligned,
            envelope_to: envelope_to.to_ascii_lowercase(),
            envelope_from,
            header_from: d.from_domain.clone(),
            spf: (spf.domain.clone(), spf.result),
            dkim: verdict
                .dkim
                .iter()
                .filter_map(|c| {
                    Some((
                        c.domain.clone()?,
                        c.selector.clone().unwrap_or_default(),
                        c.result,
                    ))
                })
                .collect(),
        }
    }

    /// The text the store keeps (and counts by).
    pub fn to_text(&self) -> String {
        json!({
            "ip": self.source_ip.to_string(),
            "disposition": self.disposition.keyword(),
            "reason": self.reason.map(|r| match r {
                Override::TestMode => "policy_test_mode",
                Override::LocalPolicy => "local_policy",
            }),
            "dkim": self.dkim_aligned,
            "spf": self.spf_aligned,
            "to": self.envelope_to,
            "mfrom": self.envelope_from,
            "from": self.header_from,
            "spf_auth": [self.spf.0, self.spf.1.keyword()],
            "dkim_auth": self.dkim.iter().map(|(d, s, r)| json!([d, s, r.keyword()])).collect::<Vec<_>>(),
        })
        .to_string()
    }

    /// A row from [`Row::to_text`]; `None` for a text it did not write.
    pub fn from_text(text: &str) -> Option<Row> {
        let v: Value = serde_json::from_str(text).ok()?;
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let pair = |x: &Value, i: usize| x.get(i).and_then(Value::as_str).unwrap_or("").to_string();
        let spf = v.get("spf_auth")?;
        Some(Row {
            source_ip: s("ip")?.parse().ok()?,
            disposition: Disposition::parse(&s("disposition")?),
            reason: match s("reason").as_deref() {
                Some("policy_test_mode") => Some(Override::TestMode),
                Some("local_policy") => Some(Override::LocalPolicy),
                _ => None,
            },
            dkim_aligned: v.get("dkim")?.as_bool()?,
            spf_aligned: v.get("spf")?.as_bool()?,
            envelope_to: s("to")?,
            envelope_from: s("mfrom")?,
            header_from: s("from")?,
            spf: (pair(spf, 0), result(&pair(spf, 1))),
            dkim: v
                .get("dkim_auth")?
                .as_array()?
                .iter()
                .map(|d| (pair(d, 0), pair(d, 1), result(&pair(d, 2))))
                .collect(),
        })
    }
}

fn rank(d: Disposition) -> u8 {
    match d {
        Disposition::None => 0,
        Disposition::Quarantine => 1,
        Disposition::Reject => 2,
    }
}

fn result(keyword: &str) -> AuthResult {
    match keyword {
        "pass" => AuthResult::Pass,
        "fail" => AuthResult::Fail,
        "softfail" => AuthResult::SoftFail,
        "neutral" => AuthResult::Neutral,
        "temperror" => AuthResult::TempError,
        "permerror" => AuthResult::PermError,
        "policy" => AuthResult::Policy,
        _ => AuthResult::None,
    }
}

/// A domain's published policy as a report repeats it, and where reports
/// go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `p=`.
    pub p: DmarcPolicy,
    /// `sp=`.
    pub sp: DmarcPolicy,
    /// `adkim=`.
    pub adkim: Alignment,
    /// `aspf=`.
    pub aspf: Alignment,
    /// `t=y`.
    pub testing: bool,
    /// `fo=`.
    pub fo: String,
    /// The `rua=` addresses with their size limits (0: none).
    pub rua: Vec<(String, usize)>,
}

fn policy_keyword(p: DmarcPolicy) -> &'static str {
    p.keyword()
}

fn parse_policy(s: &str) -> DmarcPolicy {
    match s {
        "reject" => DmarcPolicy::Reject,
        "quarantine" => DmarcPolicy::Quarantine,
        _ => DmarcPolicy::None,
    }
}

/// The text the store keeps for the record of `dmarc`.
pub fn policy_text(dmarc: &DmarcCheck, published: &Published) -> String {
    json!({
        "p": policy_keyword(published.p),
        "sp": policy_keyword(published.sp),
        "adkim": dmarc.adkim.letter().to_string(),
        "aspf": dmarc.aspf.letter().to_string(),
        "t": published.testing,
        "fo": published.fo,
        "rua": published.rua.iter().map(|(a, n)| json!([a, n])).collect::<Vec<_>>(),
    })
    .to_string()
}

impl Policy {
    /// A policy from [`policy_text`]; `None` for a text it did not write.
    pub fn from_text(text: &str) -> Option<Policy> {
        let v: Value = serde_json::from_str(text).ok()?;
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let align = |k: &str| match s(k).as_str() {
            "s" => Alignment::Strict,
            _ => Alignment::Relaxed,
        };
        Some(Policy {
            p: parse_policy(&s("p")),
            sp: parse_policy(&s("sp")),
            adkim: align("adkim"),
            aspf: align("aspf"),
            testing: v.get("t").and_then(Value::as_bool).unwrap_or(false),
            fo: s("fo"),
            rua: v
                .get("rua")?
                .as_array()?
                .iter()
                .filter_map(|r| {
                    Some((
                        r.get(0)?.as_str()?.to_string(),
                        r.get(1)?.as_u64()? as usize,
                    ))
                })
                .collect(),
        })
    }
}
