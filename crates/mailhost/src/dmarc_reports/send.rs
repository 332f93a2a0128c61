//! Sending the reports: take each complete day out of the store, build
//! its report, check each `rua` address (RFC 7489 §7.1: an address outside
//! the policy domain must be authorised by its own domain) and queue one
//! message to each that is authorised and whose `!size` limit it fits.

use super::build::{self, BuildError};
use super::{DAY, ReportSettings};
use crate::office::PostOffice;
use crate::reports::{self, ReportError};
use hickory_resolver::TokioResolver;
use mail_auth::MessageAuthenticator;
use praisani_mailaddr::Address;
use praisani_store::StoreError;
use std::sync::Arc;

/// What one [`Reporter::send`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Sent {
    /// Reports built (one per domain and day).
    pub reports: usize,
    /// Messages queued (one per report and authorised address).
    pub messages: usize,
    /// Addresses not sent to, each with the domain, the address and why.
    pub skipped: Vec<(String, String, String)>,
    /// Days that were taken but could not be sent, with why.
    pub failed: Vec<(String, String)>,
}

/// Why sending stopped.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The store could not give the next day.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Sends the aggregate reports: one per server (it asks DNS through its
/// own resolver for the external destination check).
pub struct Reporter {
    settings: ReportSettings,
    dns: MessageAuthenticator,
}

impl std::fmt::Debug for Reporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reporter")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Reporter {
    /// A reporter with `settings`, asking `resolver` (from
    /// [`crate::trust::build_resolver`]).
    pub fn new(settings: ReportSettings, resolver: TokioResolver) -> Self {
        Reporter {
            settings,
            dns: MessageAuthenticator(resolver),
        }
    }

    /// The settings it sends with.
    pub fn settings(&self) -> &ReportSettings {
        &self.settings
    }

    /// Sends the report of every domain's day before `before_day` (days
    /// since 1970; today's number sends the complete days). Each day is
    /// taken out of the store before it is sent, so of several nodes only
    /// one sends it; a day that then fails is logged and not sent again.
    pub async fn send(&self, office: &Arc<PostOffice>, before_day: i64) -> Result<Sent, SendError> {
        let mut sent = Sent::default();
        while let Some(day) = office.store.dmarc_take(before_day).await? {
            let domain = day.domain.clone();
            match self.send_day(office, &day, &mut sent).await {
                Ok(()) => sent.reports += 1,
                Err(e) => {
                    tracing::error!(%domain, day = day.day, "DMARC report not sent: {e}");
                    sent.failed.push((domain, e.to_string()));
                }
            }
        }
        Ok(sent)
    }

    async fn send_day(
        &self,
        office: &Arc<PostOffice>,
        day: &praisani_store::dmarc::DmarcDay,
        sent: &mut Sent,
    ) -> Result<(), DayError> {
        let hostname = office.settings.hostname.as_str();
        let id = format!(
            "{}.{}.{:016x}",
            day.domain,
            day.day * DAY,
            rand::random::<u64>()
        );
        let (report, policy) = build::report(&self.settings, day, &id)?;
        let mut skip = |to: &str, why: String| {
            tracing::warn!(domain = %day.domain, to, "DMARC report not sent: {why}");
            sent.skipped.push((day.domain.clone(), to.to_string(), why));
        };
        let mut queued = 0;
        let mut seen = Vec::new();
        for (to, max_size) in &policy.rua {
            // The address comes from DNS: it goes into a header field and
            // an envelope only when it is one.
            if Address::parse(to).is_err()
                || to.contains(['<', '>', '"', ' '])
                || to.chars().any(char::is_control)
            {
                skip(to, "not an e-mail address".into());
                continue;
            }
            let key = to.to_ascii_lowercase();
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            if !self.authorised(&day.domain, to).await {
                skip(
                    to,
                    format!(
                        "{} does not authorise reports about {} (RFC 7489 §7.1)",
                        domain_of(to),
                        day.domain
                    ),
                );
                continue;
            }
            let message =
                build::message(&report, &self.settings, hostname, to, chrono::Utc::now())?;
            if *max_size > 0 && message.len() > *max_size {
                skip(
                    to,
                    format!("{} octets is over its limit of {max_size}", message.len()),
                );
                continue;
            }
            reports::deliver_from(office, &self.settings.from, to, &message).await?;
            tracing::info!(domain = %day.domain, to, report_id = %id, records = report.records().len(), "DMARC report queued");
            queued += 1;
        }
        sent.messages += queued;
        Ok(())
    }

    /// Whether `to` may receive reports about `domain`: an address in the
    /// domain, a subdomain or a parent of it (its organisational domain)
    /// may; any other only when its domain publishes
    /// `<domain>._report._dmarc.<its domain>` (for `domain` or a parent of
    /// it that may have published the record).
    async fn authorised(&self, domain: &str, to: &str) -> bool {
        let to_domain = domain_of(to);
        if related(domain, &to_domain) {
            return true;
        }
        let addresses = [to];
        for policy_domain in candidates(domain) {
            match self
                .dns
                .verify_dmarc_report_address(
                    policy_domain,
                    &addresses,
                    None::<&mail_auth::common::cache::NoCache<Box<str>, mail_auth::Txt>>,
                )
                .await
            {
                Some(ok) if !ok.is_empty() => return true,
                Some(_) => {}
                None => {
                    tracing::warn!(domain, to, "DNS error checking the report address");
                    return false;
                }
            }
        }
        false
    }
}

/// Why one day's report was not sent.
#[derive(Debug, thiserror::Error)]
enum DayError {
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Queue(#[from] ReportError),
}

/// The lower-case domain of an address.
fn domain_of(address: &str) -> String {
    address
        .rsplit_once('@')
        .map_or("", |(_, d)| d)
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// `a` and `b` are equal or one is a subdomain of the other.
pub(super) fn related(a: &str, b: &str) -> bool {
    let sub = |x: &str, y: &str| x.strip_suffix(y).is_some_and(|p| p.ends_with('.'));
    !a.is_empty() && !b.is_empty() && (a == b || sub(b, a) || (sub(a, b) && b.contains('.')))
}

/// `domain` and its parents of at least two labels: where the record that
/// applied to it may have been published.
pub(super) fn candidates(domain: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(domain), |d| d.split_once('.').map(|(_, rest)| rest))
        .filter(|d| d.contains('.'))
}
