//! `praisani dmarc-report send`: the DMARC aggregate reports recorded so
//! far, sent through the outbound queue as the server sends them daily.

use super::{fail, report_send, store_err};
use crate::cli::DmarcReportCmd;
use crate::config::Config;
use anyhow::Result;
use praisani_mailhost::PostOffice;
use praisani_mailhost::dmarc_reports::Reporter;
use praisani_mailhost::trust::build_resolver;
use praisani_store::Store;
use std::sync::Arc;

/// Runs a `dmarc-report` subcommand.
pub async fn dmarc_report_cmd(
    store: Arc<dyn Store>,
    config: &Config,
    cmd: DmarcReportCmd,
    json: bool,
) -> Result<()> {
    let DmarcReportCmd::Send { day, now } = cmd;
    let before_day = report_send::before_day(day, now)?;
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
    report_send::summary(
        json,
        sent.reports,
        sent.messages,
        &sent.skipped,
        &sent.failed,
    )
}
