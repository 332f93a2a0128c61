//! What `dmarc-report send` and `tls-report send` share: the `--day` /
//! `--now` cut-off and the summary of what was sent.

use super::{fail, print};
use anyhow::Result;
use serde_json::json;

/// Seconds in a UTC day, the unit both kinds of report count in.
const DAY: i64 = 86_400;

/// The first UTC day (days since the epoch) not to report: the day after
/// `--day DATE`, tomorrow with `--now` (today's rows so far too), else
/// today (the complete days only).
pub(super) fn before_day(day: Option<String>, now: bool) -> Result<i64> {
    let today = chrono::Utc::now().timestamp().div_euclid(DAY);
    Ok(match (day, now) {
        (Some(d), _) => {
            let date = chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                .map_err(|_| fail(format!("invalid --day {d:?} (example: 2027-01-31)")))?;
            date.and_time(chrono::NaiveTime::MIN)
                .and_utc()
                .timestamp()
                .div_euclid(DAY)
                + 1
        }
        (None, true) => today + 1,
        (None, false) => today,
    })
}

/// Prints what a send did — `skipped` as (domain, address, why), an empty
/// address for a report sent nowhere; `failed` as (domain, why) — and fails
/// when any report could not be sent.
pub(super) fn summary(
    json: bool,
    reports: usize,
    messages: usize,
    skipped: &[(String, String, String)],
    failed: &[(String, String)],
) -> Result<()> {
    print(
        json,
        json!({
            "reports": reports,
            "messages": messages,
            "skipped": skipped.iter().map(|(d, to, why)| json!({"domain": d, "to": to, "reason": why})).collect::<Vec<_>>(),
            "failed": failed.iter().map(|(d, why)| json!({"domain": d, "reason": why})).collect::<Vec<_>>(),
        }),
        || {
            let mut out = format!("{reports} report(s) built, {messages} message(s) queued");
            for (d, to, why) in skipped {
                if to.is_empty() {
                    out.push_str(&format!("\nreport on {d} not sent: {why}"));
                } else {
                    out.push_str(&format!("\nnot sent to {to} (report on {d}): {why}"));
                }
            }
            for (d, why) in failed {
                out.push_str(&format!("\nreport on {d} failed: {why}"));
            }
            out
        },
    );
    if !failed.is_empty() {
        return Err(fail(format!(
            "{} report(s) could not be sent",
            failed.len()
        )));
    }
    Ok(())
}
