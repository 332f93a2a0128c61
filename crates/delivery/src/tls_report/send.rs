//! Sending the reports: take each complete day out of the store, look up
//! the policy domain's TLS-RPT record, and queue the report to each
//! `mailto:` address it names (RFC 8460 section 5.3). `https:` addresses
//! (section 5.4) are not sent to: logged and skipped.

use super::message::{self, Envelope};
use super::txt::{self, Rua};
use super::{DAY, json};
use crate::route::{RouteError, Router, RouterConfig};
use praisani_mailaddr::Address;
use praisani_mailhost::PostOffice;
use praisani_mailhost::reports::{self, ReportError};
use praisani_store::StoreError;
use praisani_store::tls_report::{TlsDay, TlsLimits};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How reports are made and sent (`[tls_reports]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSettings {
    /// The reporting organisation (`organization-name`).
    pub org_name: String,
    /// The reports' `From:` and envelope sender (so the queue DKIM-signs
    /// them with its domain's key).
    pub from: String,
    /// The report's `contact-info`.
    pub contact: String,
    /// Distinct (policy, result) rows kept per domain and day; further
    /// sessions with new rows are left out.
    pub max_rows: u64,
    /// Distinct policy domains kept per day.
    pub max_domains: u64,
    /// How long after midnight UTC the day's reports go out.
    pub send_delay: Duration,
}

impl ReportSettings {
    /// The store's limits.
    pub fn limits(&self) -> TlsLimits {
        TlsLimits {
            max_rows: self.max_rows,
            max_domains: self.max_domains,
        }
    }
}

/// What one [`Reporter::send`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Sent {
    /// Reports built (one per domain and day with a record to send to).
    pub reports: usize,
    /// Messages queued (one per report and `mailto:` address).
    pub messages: usize,
    /// Not sent, each with the domain, the address (empty when the domain
    /// has no usable record) and why.
    pub skipped: Vec<(String, String, String)>,
    /// Days that were taken but could not be sent, with why.
    pub failed: Vec<(String, String)>,
}

/// Sends the reports, asking DNS for the domains' records.
#[derive(Debug)]
pub struct Reporter {
    settings: ReportSettings,
    dns: Router,
}

/// Longest wait for one record lookup.
const DNS_TIMEOUT: Duration = Duration::from_secs(20);

impl Reporter {
    /// A reporter with `settings`, asking `nameservers` (empty: the
    /// system's).
    pub fn new(settings: ReportSettings, nameservers: Vec<SocketAddr>) -> Result<Self, RouteError> {
        let dns = Router::new(RouterConfig {
            nameservers,
            static_routes: HashMap::new(),
            smarthost: None,
            timeout: DNS_TIMEOUT,
            smtp_port: 25,
            allow_internal_mx: false,
        })?;
        Ok(Reporter { settings, dns })
    }

    /// The settings it sends with.
    pub fn settings(&self) -> &ReportSettings {
        &self.settings
    }

    /// Sends the report of every domain's day before `before_day` (days
    /// since 1970; today's number sends the complete days). Each day is
    /// taken out of the store before it is sent, so of several nodes only
    /// one sends it; a day that then fails is logged and not sent again.
    pub async fn send(
        &self,
        office: &Arc<PostOffice>,
        before_day: i64,
    ) -> Result<Sent, StoreError> {
        let mut sent = Sent::default();
        while let Some(day) = office.store.tls_report_take(before_day).await? {
            if let Err(e) = self.send_day(office, &day, &mut sent).await {
                tracing::error!(domain = %day.domain, day = day.day, "TLS-RPT report not sent: {e}");
                sent.failed.push((day.domain.clone(), e.to_string()));
            }
        }
        Ok(sent)
    }

    async fn send_day(
        &self,
        office: &Arc<PostOffice>,
        day: &TlsDay,
        sent: &mut Sent,
    ) -> Result<(), DayError> {
        let domain = day.domain.as_str();
        let mut skip = |to: &str, why: String| {
            tracing::info!(domain, to, "TLS-RPT report not sent: {why}");
            sent.skipped.push((domain.to_string(), to.to_string(), why));
        };
        let records = self
            .dns
            .txt(&format!("_smtp._tls.{domain}"))
            .await
            .map_err(DayError::Dns)?;
        let rua = match txt::parse_records(&records) {
            Ok(rua) => rua,
            Err(e) => {
                skip("", e.to_string());
                return Ok(());
            }
        };
        let hostname = office.settings.hostname.as_str();
        let id = format!(
            "{}.{}.{:016x}@{hostname}",
            day.day * DAY,
            domain,
            rand::random::<u64>()
        );
        let (report, sessions) = json::report(&self.settings, day, &id);
        let report = report.to_string();
        let mut queued = 0;
        let mut seen: Vec<String> = Vec::new();
        for r in rua {
            let to = match r {
                Rua::Mailto(to) => to,
                Rua::Https(uri) => {
                    skip(&uri, "reports over HTTPS are not sent".into());
                    continue;
                }
                Rua::Other(uri) => {
                    skip(&uri, "not a mailto: or https: URI".into());
                    continue;
                }
            };
            // The address comes from DNS: it goes into a header field and
            // an envelope only when it is one.
            if Address::parse(&to).is_err()
                || to.contains(['<', '>', '"', ' '])
                || to.chars().any(char::is_control)
            {
                skip(&to, "not an e-mail address".into());
                continue;
            }
            let key = to.to_ascii_lowercase();
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let e = Envelope {
                domain,
                submitter: hostname,
                report_id: &id,
                begin: day.day * DAY,
                end: day.day * DAY + DAY - 1,
                to: &to,
            };
            let m = message::message(&report, &self.settings, &e, chrono::Utc::now())
                .map_err(DayError::Build)?;
            reports::deliver_from(office, &self.settings.from, &to, &m).await?;
            tracing::info!(domain, to, report_id = %id, sessions, "TLS-RPT report queued");
            queued += 1;
        }
        sent.reports += 1;
        sent.messages += queued;
        Ok(())
    }
}

/// Why one day's report was not sent.
#[derive(Debug, thiserror::Error)]
enum DayError {
    #[error("looking up the TLS-RPT record: {0}")]
    Dns(RouteError),
    #[error("writing the report message: {0}")]
    Build(std::io::Error),
    #[error(transparent)]
    Queue(#[from] ReportError),
}
