//! One domain's day as an aggregate report (RFC 7489 §7.2.1, Appendix C;
//! the XML written by `mail-auth`'s report generator) and the message that
//! carries it (§7.2.1.1, written with `praisani_message`): gzip-compressed
//! XML attached as `receiver!policy-domain!begin!end.xml.gz`, subject
//! `Report Domain: X Submitter: Y Report-ID: <id>`.

use super::row::{Disposition, Override, Policy, Row};
use super::{DAY, ReportSettings};
use crate::trust::{Alignment, AuthResult, DmarcPolicy};
use flate2::Compression;
use flate2::write::GzEncoder;
use mail_auth::report::{self, Report};
use praisani_message::base64::push_body as push_base64_body;
use praisani_message::mime::{one_line, push_field};
use praisani_message::rfc2047::{FOLDED_WORD_OCTETS, encoded_words};
use praisani_store::dmarc::DmarcDay;
use std::io::Write;

/// Why a stored day could not become a report.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The stored policy is not one we wrote.
    #[error("unreadable stored policy for {0}")]
    Policy(String),
    /// The message could not be written.
    #[error("writing the report message: {0}")]
    Message(#[from] std::io::Error),
}

/// The report of `day`, with id `report_id`. Rows
/// the store holds that we cannot read are left out (and logged).
pub fn report(
    settings: &ReportSettings,
    day: &DmarcDay,
    report_id: &str,
) -> Result<(Report, Policy), BuildError> {
    let policy =
        Policy::from_text(&day.policy).ok_or_else(|| BuildError::Policy(day.domain.clone()))?;
    let begin = day.day * DAY;
    let mut report = Report::new()
        .with_version(1.0)
        .with_org_name(settings.org_name.as_str())
        .with_email(settings.from.as_str())
        .with_report_id(report_id)
        .with_date_range_begin(begin.max(0) as u64)
        .with_date_range_end((begin + DAY - 1).max(0) as u64)
        .with_generator(concat!("praisani ", env!("CARGO_PKG_VERSION")))
        .with_domain(day.domain.as_str())
        .with_adkim(alignment(policy.adkim))
        .with_aspf(alignment(policy.aspf))
        .with_p(disposition(policy.p))
        .with_sp(disposition(policy.sp))
        .with_testing(policy.testing);
    if !policy.fo.is_empty() {
        report = report.with_fo(policy.fo.as_str());
    }
    if day.dropped > 0 {
        report = report.with_error(format!(
            "{} messages not reported: more distinct rows than this reporter keeps a day",
            day.dropped
        ));
    }
    for (text, count) in &day.rows {
        match Row::from_text(text) {
            Some(row) => report.add_record(record(&row, *count)),
            None => tracing::warn!(domain = %day.domain, "unreadable stored DMARC row left out"),
        }
    }
    Ok((report, policy))
}

/// The message carrying `report` to `to`, from `settings.from`, written
/// by us (`hostname`, the submitter) at `date`: a short text and the
/// gzip-compressed XML as an attachment named as §7.2.1.1 asks; CRLF line
/// ends.
pub fn message(
    report: &Report,
    settings: &ReportSettings,
    hostname: &str,
    to: &str,
    date: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<u8>, BuildError> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(report.to_xml().as_bytes())?;
    let gz = gz.finish()?;
    let domain = report.domain();
    let id = report.report_id();
    let filename = format!(
        "{hostname}!{domain}!{}!{}.xml.gz",
        report.date_range_begin(),
        report.date_range_end()
    );
    let boundary = format!("=_dmarc_{:016x}", rand::random::<u64>());
    let org = one_line(&settings.org_name);
    let display = if org.is_ascii() {
        format!("\"{}\"", org.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        encoded_words(&org, FOLDED_WORD_OCTETS).join(" ")
    };
    let mut out = Vec::new();
    push_field(&mut out, "From", &format!("{display} <{}>", settings.from));
    push_field(&mut out, "To", &format!("<{to}>"));
    push_field(
        &mut out,
        "Subject",
        &format!("Report Domain: {domain} Submitter: {hostname} Report-ID: <{id}>"),
    );
    push_field(&mut out, "Date", &date.to_rfc2822());
    push_field(&mut out, "Message-ID", &format!("<{id}@{hostname}>"));
    push_field(&mut out, "Auto-Submitted", "auto-generated");
    push_field(&mut out, "MIME-Version", "1.0");
    push_field(
        &mut out,
        "Content-Type",
        &format!("multipart/mixed; boundary=\"{boundary}\""),
    );
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    push_field(&mut out, "Content-Type", "text/plain; charset=us-ascii");
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(
        format!(
            "This is a DMARC aggregate report (RFC 7489) from {hostname}.\r\n\r\n\
             Report Domain: {domain}\r\nSubmitter: {hostname}\r\nReport-ID: {id}\r\n"
        )
        .as_bytes(),
    );
    out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    push_field(
        &mut out,
        "Content-Type",
        &format!("application/gzip; name=\"{filename}\""),
    );
    push_field(
        &mut out,
        "Content-Disposition",
        &format!("attachment; filename=\"{filename}\""),
    );
    push_field(&mut out, "Content-Transfer-Encoding", "base64");
    out.extend_from_slice(b"\r\n");
    push_base64_body(&mut out, &gz);
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Ok(out)
}

fn record(row: &Row, count: u64) -> report::Record {
    let mut r = report::Record::new()
        .with_source_ip(row.source_ip)
        .with_count(count.min(u32::MAX as u64) as u32)
        .with_action_disposition(match row.disposition {
            Disposition::None => report::ActionDisposition::None,
            Disposition::Quarantine => report::ActionDisposition::Quarantine,
            Disposition::Reject => report::ActionDisposition::Reject,
        })
        .with_dmarc_dkim_result(pass_fail(row.dkim_aligned))
        .with_dmarc_spf_result(pass_fail(row.spf_aligned))
        .with_envelope_from(row.envelope_from.as_str())
        .with_header_from(row.header_from.as_str())
        .with_spf_auth_result(
            report::SPFAuthResult::new()
                .with_domain(row.spf.0.as_str())
                .with_scope(report::SPFDomainScope::MailFrom)
                .with_result(spf_result(row.spf.1)),
        );
    if !row.envelope_to.is_empty() {
        r = r.with_envelope_to(row.envelope_to.as_str());
    }
    if let Some(reason) = row.reason {
        r = r.with_policy_override_reason(report::PolicyOverrideReason::new(match reason {
            Override::TestMode => report::PolicyOverride::PolicyTestMode,
            Override::LocalPolicy => report::PolicyOverride::LocalPolicy,
        }));
    }
    for (domain, selector, result) in &row.dkim {
        r = r.with_dkim_auth_result(
            report::DKIMAuthResult::new()
                .with_domain(domain.as_str())
                .with_selector(selector.as_str())
                .with_result(dkim_result(*result)),
        );
    }
    r
}

fn pass_fail(pass: bool) -> report::DmarcResult {
    if pass {
        report::DmarcResult::Pass
    } else {
        report::DmarcResult::Fail
    }
}

fn alignment(a: Alignment) -> report::Alignment {
    match a {
        Alignment::Relaxed => report::Alignment::Relaxed,
        Alignment::Strict => report::Alignment::Strict,
    }
}

fn disposition(p: DmarcPolicy) -> report::Disposition {
    match p {
        DmarcPolicy::None => report::Disposition::None,
        DmarcPolicy::Quarantine => report::Disposition::Quarantine,
        DmarcPolicy::Reject => report::Disposition::Reject,
    }
}

fn spf_result(r: AuthResult) -> report::SpfResult {
    match r {
        AuthResult::Pass => report::SpfResult::Pass,
        AuthResult::Fail => report::SpfResult::Fail,
        AuthResult::SoftFail => report::SpfResult::SoftFail,
        AuthResult::Neutral | AuthResult::Policy => report::SpfResult::Neutral,
        AuthResult::TempError => report::SpfResult::TempError,
        AuthResult::PermError => report::SpfResult::PermError,
        AuthResult::None => report::SpfResult::None,
    }
}

fn dkim_result(r: AuthResult) -> report::DkimResult {
    match r {
        AuthResult::Pass => report::DkimResult::Pass,
        AuthResult::Fail | AuthResult::SoftFail => report::DkimResult::Fail,
        AuthResult::Neutral => report::DkimResult::Neutral,
        AuthResult::Policy => report::DkimResult::Policy,
        AuthResult::TempError => report::DkimResult::TempError,
        AuthResult::PermError => report::DkimResult::PermError,
        AuthResult::None => report::DkimResult::None,
    }
}
