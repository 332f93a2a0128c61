//! `praisani tls-report send`: the TLS-RPT reports recorded so far, sent
//! through the outbound queue as the server sends them daily.

use super::{fail, print, store_err};
use crate::cli::TlsReportCmd;
use crate::config::Config;
use anyhow::Result;
use praisani_delivery::tls_report::{DAY, Reporter};
use praisani_mailhost::PostOffice;
use praisani_store::Store;
use serde_json::json;
use std::sync::Arc;

/// Runs a `tls-report` subcommand.
pub async fn tls_report_cmd(
    store: Arc<dyn Store>,
    config: &Config,
    cmd: TlsReportCmd,
    json: bool,
) -> Result<()> {
    let TlsReportCmd::Send { day, now } = cmd;
    let today = chrono::Utc::now().timestamp().div_euclid(DAY);
    let before_day = match (day, now) {
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
    };
    let reporter = Reporter::new(
        config.tls_reports.report_settings(&config.hostname),
        config.delivery.nameservers.clone(),
    )
    .map_err(|e| fail(format!("DNS: {e}")))?;
    let office = Arc::new(PostOffice::new(store, config.post_office_settings()));
    let sent = reporter
        .send(&office, before_day)
        .await
        .map_err(store_err)?;
    print(
        json,
        json!({
            "reports": sent.reports,
            "messages": sent.messages,
            "skipped": sent.skipped.iter().map(|(d, to, why)| json!({"domain": d, "to": to, "reason": why})).collect::<Vec<_>>(),
            "failed": sent.failed.iter().map(|(d, why)| json!({"domain": d, "reason": why})).collect::<Vec<_>>(),
        }),
        || {
            let mut out = format!(
                "{} report(s) built, {} message(s) queued",
                sent.reports, sent.messages
            );
            for (d, to, why) in &sent.skipped {
                if to.is_empty() {
                    out.push_str(&format!("\nreport on {d} not sent: {why}"));
                } else {
                    out.push_str(&format!("\nnot sent to {to} (report on {d}): {why}"));
                }
            }
            for (d, why) in &sent.failed {
                out.push_str(&format!("\nreport on {d} failed: {why}"));
            }
            out
        },
    );
    if !sent.failed.is_empty() {
        return Err(fail(format!(
            "{} report(s) could not be sent",
            sent.failed.len()
        )));
    }
    Ok(())
}
