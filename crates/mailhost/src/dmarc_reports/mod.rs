//! DMARC aggregate reports (RFC 7489 §7.2), off by default: what mail from
//! other servers looked like to us, once a day, to each `rua=` of the
//! domains in its `From:`.
//!
//! Two halves meet in the store. [`record`] runs for each message the
//! trust checks evaluated against a DMARC record that asks for reports:
//! it turns the verdict and the disposition applied into a report row
//! ([`row`]) and counts it with [`Store::dmarc_record`] in a task of its
//! own, so the SMTP reply never waits for it and a store error is only
//! logged. [`Reporter::send`] runs once a UTC day (and from the CLI): it
//! takes each complete day out with [`Store::dmarc_take`] (atomic, so of
//! several nodes one sends it), builds the report ([`build`]) and queues
//! it to each authorised `rua` address ([`send`]).
//!
//! [`Store::dmarc_record`]: praisani_store::Store::dmarc_record
//! [`Store::dmarc_take`]: praisani_store::Store::dmarc_take

pub mod build;
pub mod row;
pub mod send;

pub use send::{Reporter, Sent};

use crate::office::PostOffice;
use crate::trust::{AuthResult, Decision, Verdict};
use praisani_mailaddr::Domain;
use praisani_store::dmarc::{DmarcEvent, DmarcLimits, DmarcRecorded};
use std::time::Duration;

/// How reports are made and sent (`[dmarc_reports]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSettings {
    /// The reporting organisation (`org_name`).
    pub org_name: String,
    /// Our report address: the reports' `From:` and envelope sender (so
    /// the queue DKIM-signs them with its domain's key) and `email`.
    pub from: String,
    /// Distinct rows kept per domain and day; more messages with new rows
    /// are only counted as dropped, so a flood of addresses cannot fill the
    /// disk.
    pub max_rows: u64,
    /// Distinct `From:` domains kept per day; messages of further domains
    /// are not counted.
    pub max_domains: u64,
    /// How long after midnight UTC the day's reports go out.
    pub send_delay: Duration,
}

/// Seconds in a day.
pub const DAY: i64 = 86_400;

/// Counts one message's DMARC evaluation for its domain's report, when
/// the domain published a record with `rua=` and DMARC decided (pass or
/// fail): `decision` is what we did with it, `envelope_to` the domain of
/// its (first) recipient. Returns at once; the count is written by a task
/// of its own, and a failure there is logged, never the message's.
pub fn record(
    office: &PostOffice,
    settings: &ReportSettings,
    verdict: &Verdict,
    decision: &Decision,
    envelope_to: &str,
    now: i64,
) {
    let Some(event) = event(verdict, decision, envelope_to, now) else {
        return;
    };
    let store = office.store.clone();
    let limits = DmarcLimits {
        max_rows: settings.max_rows,
        max_domains: settings.max_domains,
    };
    tokio::spawn(async move {
        match store.dmarc_record(&event, limits).await {
            Ok(DmarcRecorded::Counted) => {}
            Ok(DmarcRecorded::Dropped) => tracing::warn!(
                domain = %event.domain,
                "DMARC report of the day is full (dmarc_reports.max_records): message counted as not reported"
            ),
            Ok(DmarcRecorded::DomainsFull) => tracing::warn!(
                domain = %event.domain,
                "DMARC reports of the day have dmarc_reports.max_domains domains: message not recorded"
            ),
            Err(e) => {
                tracing::error!(domain = %event.domain, "recording for the DMARC report: {e}")
            }
        }
    });
}

/// The store's event for one message, or `None` when it is not reported.
pub fn event(
    verdict: &Verdict,
    decision: &Decision,
    envelope_to: &str,
    now: i64,
) -> Option<DmarcEvent> {
    let dmarc = &verdict.dmarc;
    let published = dmarc.published.as_ref()?;
    if published.rua.is_empty() || !matches!(dmarc.result, AuthResult::Pass | AuthResult::Fail) {
        return None;
    }
    // The domain goes into the report's subject and file name: only a
    // domain name, in its A-label form.
    let domain = Domain::parse(&dmarc.from_domain)
        .ok()?
        .ascii()
        .to_ascii_lowercase();
    let disposition = match decision {
        Decision::Accept => row::Disposition::None,
        Decision::Mark { .. } => row::Disposition::Quarantine,
        Decision::Reject { .. } => row::Disposition::Reject,
        // It will come again: counted when it is decided.
        Decision::TempFail { .. } => return None,
    };
    Some(DmarcEvent {
        day: now.div_euclid(DAY),
        domain,
        policy: row::policy_text(dmarc, published),
        row: row::Row::of(verdict, disposition, envelope_to).to_text(),
    })
}

/// How long from `now` (Unix seconds) until the next sending time:
/// midnight UTC plus `delay`.
pub fn until_next_send(now: i64, delay: Duration) -> Duration {
    let delay = delay.as_secs().min(DAY as u64 - 1) as i64;
    let today = now.div_euclid(DAY) * DAY + delay;
    let next = if today > now { today } else { today + DAY };
    Duration::from_secs((next - now) as u64)
}

#[cfg(test)]
mod tests;
