//! `[dmarc_reports]`: DMARC aggregate reports (RFC 7489 §7.2) about the
//! mail other servers sent us, once a day to each domain's `rua` (off by
//! default).

use super::{ConfigError, duration};
use praisani_mailaddr::Address;
use praisani_mailhost::dmarc_reports::ReportSettings;
use serde::Deserialize;
use std::time::Duration;

/// `[dmarc_reports]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DmarcReportsConfig {
    /// Record the DMARC evaluations of mail from other servers (needs
    /// `[trust]`) and send the reports.
    pub enabled: bool,
    /// The reporting organisation in the reports; default: the hostname.
    pub org_name: Option<String>,
    /// The reports' sender (`From:` and envelope); default:
    /// `postmaster@<hostname>`. Its domain's DKIM key signs them.
    pub from: Option<String>,
    /// Distinct report rows kept per domain and day; further messages with
    /// new rows are only counted (reported as not reported).
    pub max_records: u64,
    /// Distinct `From:` domains recorded per day; mail of further domains
    /// is not recorded.
    pub max_domains: u64,
    /// How long after midnight UTC a day's reports are sent.
    #[serde(deserialize_with = "duration")]
    pub send_delay: Duration,
}

impl Default for DmarcReportsConfig {
    fn default() -> Self {
        DmarcReportsConfig {
            enabled: false,
            org_name: None,
            from: None,
            max_records: 10_000,
            max_domains: 10_000,
            send_delay: Duration::from_secs(15 * 60),
        }
    }
}

impl DmarcReportsConfig {
    /// Checks what serde cannot.
    pub fn validate(&self, hostname: &str) -> Result<(), ConfigError> {
        if self.max_records == 0 || self.max_domains == 0 {
            return Err(ConfigError(
                "dmarc_reports.max_records and max_domains must be at least 1".into(),
            ));
        }
        if self.send_delay >= Duration::from_secs(86_400) {
            return Err(ConfigError(
                "dmarc_reports.send_delay must be shorter than a day".into(),
            ));
        }
        let from = self.sender(hostname);
        if Address::parse(&from).is_err() || from.contains(['\r', '\n', '<', '>']) {
            return Err(ConfigError(format!(
                "dmarc_reports.from: {from:?} is not an e-mail address"
            )));
        }
        if let Some(n) = &self.org_name
            && (n.trim().is_empty() || n.contains(['\r', '\n']))
        {
            return Err(ConfigError(
                "dmarc_reports.org_name must be one non-empty line".into(),
            ));
        }
        Ok(())
    }

    fn sender(&self, hostname: &str) -> String {
        self.from
            .clone()
            .unwrap_or_else(|| format!("postmaster@{hostname}"))
    }

    /// How reports are made, whether or not recording is on (the CLI
    /// sends what was recorded either way).
    pub fn report_settings(&self, hostname: &str) -> ReportSettings {
        ReportSettings {
            org_name: self
                .org_name
                .clone()
                .unwrap_or_else(|| hostname.to_string()),
            from: self.sender(hostname),
            max_rows: self.max_records,
            max_domains: self.max_domains,
            send_delay: self.send_delay,
        }
    }

    /// The settings for the mail host (`None` when off).
    pub fn settings(&self, hostname: &str) -> Option<ReportSettings> {
        self.enabled.then(|| self.report_settings(hostname))
    }
}
