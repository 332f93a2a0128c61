//! The metrics praisani exports, one process-wide set. Label values are
//! short fixed words (services, stages, results) or RFC 3463 status codes,
//! never addresses: the number of series stays bounded.

use crate::family::{CounterFamily, GaugeFamily, HistogramFamily};
use std::sync::OnceLock;
use std::time::Instant;

/// Bucket bounds for store operations, in seconds: a commit takes
/// milliseconds on the embedded store and can take seconds on a busy disk.
pub const STORE_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Every metric the server exports.
#[derive(Debug)]
pub struct Metrics {
    /// Connections accepted, by service.
    pub connections: CounterFamily,
    /// Connections open now, by service.
    pub sessions: GaugeFamily,
    /// Messages accepted (250 after DATA/BDAT), by service.
    pub messages_accepted: CounterFamily,
    /// Commands refused, by service, SMTP stage and enhanced status code.
    pub messages_refused: CounterFamily,
    /// Queued recipients by state, refreshed on each scrape.
    pub queue_recipients: GaugeFamily,
    /// Queued messages, refreshed on each scrape.
    pub queue_messages: GaugeFamily,
    /// Delivery attempts per recipient, by result.
    pub delivery_attempts: CounterFamily,
    /// Failed logins, by service and reason.
    pub auth_failures: CounterFamily,
    /// Store operation latency, by operation.
    pub store_seconds: HistogramFamily,
    /// Quota warning messages delivered to mailboxes.
    pub quota_warnings: CounterFamily,
}

impl Metrics {
    /// An empty set.
    pub fn new() -> Self {
        Metrics {
            connections: CounterFamily::new(
                "praisani_connections_total",
                "Connections accepted, by service.",
                &["service"],
            ),
            sessions: GaugeFamily::new(
                "praisani_sessions",
                "Connections open now, by service.",
                &["service"],
            ),
            messages_accepted: CounterFamily::new(
                "praisani_messages_accepted_total",
                "Messages accepted with a durable commit, by service.",
                &["service"],
            ),
            messages_refused: CounterFamily::new(
                "praisani_messages_refused_total",
                "SMTP commands refused, by service, stage and enhanced status code.",
                &["service", "stage", "status"],
            ),
            queue_recipients: GaugeFamily::new(
                "praisani_queue_recipients",
                "Recipients in the outbound queue, by state.",
                &["state"],
            ),
            queue_messages: GaugeFamily::new(
                "praisani_queue_messages",
                "Messages in the outbound queue.",
                &[],
            ),
            delivery_attempts: CounterFamily::new(
                "praisani_delivery_attempts_total",
                "Outbound delivery attempts per recipient, by result.",
                &["result"],
            ),
            auth_failures: CounterFamily::new(
                "praisani_auth_failures_total",
                "Failed logins, by service and reason.",
                &["service", "reason"],
            ),
            store_seconds: HistogramFamily::new(
                "praisani_store_operation_seconds",
                "Store operation latency in seconds, by operation.",
                &["operation"],
                &STORE_BUCKETS,
            ),
            quota_warnings: CounterFamily::new(
                "praisani_quota_warnings_total",
                "Quota warnings delivered to mailboxes.",
                &[],
            ),
        }
    }

    /// The whole set in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        crate::text::counter(&mut out, &self.connections);
        crate::text::gauge(&mut out, &self.sessions);
        crate::text::counter(&mut out, &self.messages_accepted);
        crate::text::counter(&mut out, &self.messages_refused);
        crate::text::gauge(&mut out, &self.queue_recipients);
        crate::text::gauge(&mut out, &self.queue_messages);
        crate::text::counter(&mut out, &self.delivery_attempts);
        crate::text::counter(&mut out, &self.auth_failures);
        crate::text::histogram(&mut out, &self.store_seconds);
        crate::text::counter(&mut out, &self.quota_warnings);
        out
    }

    /// Starts timing one store operation; the time is recorded when the
    /// returned guard is dropped, so early returns count too.
    pub fn store_timer(&self, operation: &'static str) -> StoreTimer<'_> {
        StoreTimer {
            metrics: self,
            operation,
            started: Instant::now(),
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Times one store operation until dropped.
#[derive(Debug)]
pub struct StoreTimer<'a> {
    metrics: &'a Metrics,
    operation: &'static str,
    started: Instant,
}

impl Drop for StoreTimer<'_> {
    fn drop(&mut self) {
        self.metrics
            .store_seconds
            .observe(&[self.operation], self.started.elapsed().as_secs_f64());
    }
}

/// The process's metrics. One set per process: a test that starts the
/// binary gets a fresh one, and unit tests only look at differences.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// Counts one delivery attempt result (`delivered`, `deferred`, `failed`).
pub fn delivery_attempt(result: &str) {
    metrics().delivery_attempts.inc(&[result]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timer_records_on_drop() {
        let m = Metrics::new();
        drop(m.store_timer("accept"));
        let s = m.store_seconds.snapshot();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].0, vec!["accept".to_owned()]);
        assert_eq!(s[0].1.count, 1);
    }

    #[test]
    fn every_family_appears_in_the_exposition() {
        let m = Metrics::new();
        let text = m.render();
        for name in [
            "praisani_connections_total",
            "praisani_sessions",
            "praisani_messages_refused_total",
            "praisani_store_operation_seconds",
            "praisani_quota_warnings_total",
        ] {
            assert!(text.contains(&format!("# TYPE {name} ")), "{name}");
        }
    }
}
