//! `praisani tls-report send`: the TLS-RPT reports recorded so far, sent
//! through the outbound queue as the server sends them daily.

use super::{fail, report_send, store_err};
use crate::cli::TlsReportCmd;
use crate::config::Config;
use anyhow::Result;
use praisani_delivery::tls_report::Reporter;
use praisani_mailhost::PostOffice;
use praisani_store::Store;
use std::sync::Arc;

/// Runs a `tls-report` subcommand.
pub async fn tls_report_cmd(
    store: Arc<dyn Store>,
    config: &Config,
    cmd: TlsReportCmd,
    json: bool,
) -> Result<()> {
    let TlsReportCmd::Send { day, now } = cmd;
    let before_day = report_send::before_day(day, now)?;
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
    report_send::summary(
        json,
        sent.reports,
        sent.messages,
        &sent.skipped,
        &sent.failed,
    )
}
