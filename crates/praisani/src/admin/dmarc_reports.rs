//! `praisani dmarc-report send`: the DMARC aggregate reports recorded so
//! far, sent through the outbound queue as the server sends them daily.

use super::{fail, print, store_err};
use crate::cli::DmarcReportCmd;
use crate::config::Config;
use anyhow::Result;
use praisani_mailhost::PostOffice;
use praisani_mailhost::dmarc_reports::{DAY, Reporter};
use praisani_mailhost::trust::build_resolver;
use praisani_store::Store;
use serde_json::json;
use std::sync::Arc;

/// Runs a `dmarc-report` subcommand.
pub async fn dmarc_report_cmd(
    store: Arc<dyn Store>,
    config: &Config,
    cmd: DmarcReportCmd,
    json: bool,
) -> Result<()> {
    let DmarcReportCmd::Send { day, now } = cmd;
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
    let dns = config.trust.dns_settings(&config.delivery.nameservers);
    let resolver = build_resolver(&dns).map_err(|e| fail(format!("DNS: {e}")))?;
    let reporter = Reporter::new(
        config.dmarc_reports.report_settings(&config.hostname),
        resolver,
    );
    let office = Arc::new(PostOffice::new(store, config.post_office_settings()));
    let sent = match reporter.send(&office, before_day).await {
        Ok(s) => s,
        Err(praisani_mailhost::dmarc_reports::send::SendError::Store(e)) => {
            return Err(store_err(e));
        }
    };
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
                out.push_str(&format!("\nnot sent to {to} (report on {d}): {why}"));
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
