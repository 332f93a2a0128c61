//! `[tls_reports]`: TLS-RPT reports (RFC 8460) about our outbound TLS
//! under the recipient domains' policies, once a day to each domain's
//! `_smtp._tls` `rua` (off by default).

use super::{ConfigError, duration};
use praisani_delivery::tls_report::ReportSettings;
use praisani_mailaddr::Address;
use serde::Deserialize;
use std::time::Duration;

/// `[tls_reports]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsReportsConfig {
    /// Count the TLS outcomes of outbound sessions under MTA-STS policies
    /// and DANE TLSA records, and send the reports.
    pub enabled: bool,
    /// The reporting organisation in the reports; default: the hostname.
    pub org_name: Option<String>,
    /// The reports' sender (`From:` and envelope); default:
    /// `postmaster@<hostname>`. Its domain's DKIM key signs them.
    pub from: Option<String>,
    /// The reports' `contact-info`; default: `from`.
    pub contact: Option<String>,
    /// Distinct (policy, result) rows kept per domain and day; further
    /// sessions with new rows are left out.
    pub max_records: u64,
    /// Distinct policy domains recorded per day.
    pub max_domains: u64,
    /// How long after midnight UTC a day's reports are sent.
    #[serde(deserialize_with = "duration")]
    pub send_delay: Duration,
}

impl Default for TlsReportsConfig {
    fn default() -> Self {
        TlsReportsConfig {
            enabled: false,
            org_name: None,
            from: None,
            contact: None,
            max_records: 10_000,
            max_domains: 10_000,
            send_delay: Duration::from_secs(20 * 60),
        }
    }
}

impl TlsReportsConfig {
    /// Checks what serde cannot.
    pub fn validate(&self, hostname: &str) -> Result<(), ConfigError> {
        if self.max_records == 0 || self.max_domains == 0 {
            return Err(ConfigError(
                "tls_reports.max_records and max_domains must be at least 1".into(),
            ));
        }
        if self.send_delay >= Duration::from_secs(86_400) {
            return Err(ConfigError(
                "tls_reports.send_delay must be shorter than a day".into(),
            ));
        }
        let from = self.sender(hostname);
        if Address::parse(&from).is_err() || from.contains(['\r', '\n', '<', '>']) {
            return Err(ConfigError(format!(
                "tls_reports.from: {from:?} is not an e-mail address"
            )));
        }
        for (key, value) in [("org_name", &self.org_name), ("contact", &self.contact)] {
            if let Some(v) = value
                && (v.trim().is_empty() || v.contains(['\r', '\n']))
            {
                return Err(ConfigError(format!(
                    "tls_reports.{key} must be one non-empty line"
                )));
            }
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
        let from = self.sender(hostname);
        ReportSettings {
            org_name: self
                .org_name
                .clone()
                .unwrap_or_else(|| hostname.to_string()),
            contact: self.contact.clone().unwrap_or_else(|| from.clone()),
            from,
            max_rows: self.max_records,
            max_domains: self.max_domains,
            send_delay: self.send_delay,
        }
    }

    /// The settings for the server (`None` when off).
    pub fn settings(&self, hostname: &str) -> Option<ReportSettings> {
        self.enabled.then(|| self.report_settings(hostname))
    }
}
