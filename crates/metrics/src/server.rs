//! The metrics praisani exports, one process-wide set, registered in one
//! `prometheus-client` [`Registry`] and written out in its OpenMetrics
//! text format.

use crate::labels::{
    AuthFailure, ByOperation, ByResult, ByService, ByState, DeliveryResult, Refusal,
};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::OnceLock;
use std::time::Instant;

/// The `Content-Type` of the exposition (OpenMetrics 1.0 text).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Bucket bounds for store operations, in seconds: a commit takes
/// milliseconds on the embedded store and can take seconds on a busy disk.
pub const STORE_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// A histogram with [`STORE_BUCKETS`]; a plain function so the family's
/// type can be named.
fn store_histogram() -> Histogram {
    Histogram::new(STORE_BUCKETS)
}

/// Every metric the server exports. The families are handles onto what
/// the registry holds (they share their values with it), so counting into
/// a field shows in [`Metrics::render`].
#[derive(Debug)]
pub struct Metrics {
    /// Connections accepted, by service.
    pub connections: Family<ByService, Counter>,
    /// Connections open now, by service.
    pub sessions: Family<ByService, Gauge>,
    /// Messages accepted (250 after DATA/BDAT), by service.
    pub messages_accepted: Family<ByService, Counter>,
    /// Commands refused, by service, SMTP stage and enhanced status code.
    pub messages_refused: Family<Refusal, Counter>,
    /// Queued recipients by state, refreshed on each scrape.
    pub queue_recipients: Family<ByState, Gauge>,
    /// Queued messages, refreshed on each scrape.
    pub queue_messages: Gauge,
    /// Delivery attempts per recipient, by result.
    pub delivery_attempts: Family<ByResult, Counter>,
    /// Failed logins, by service and reason.
    pub auth_failures: Family<AuthFailure, Counter>,
    /// Store operation latency, by operation.
    pub store_seconds: Family<ByOperation, Histogram, fn() -> Histogram>,
    /// Quota warning messages delivered to mailboxes.
    pub quota_warnings: Counter,
    registry: Registry,
}

impl Metrics {
    /// An empty set.
    pub fn new() -> Self {
        let m = Metrics {
            connections: Family::default(),
            sessions: Family::default(),
            messages_accepted: Family::default(),
            messages_refused: Family::default(),
            queue_recipients: Family::default(),
            queue_messages: Gauge::default(),
            delivery_attempts: Family::default(),
            auth_failures: Family::default(),
            store_seconds: Family::new_with_constructor(store_histogram),
            quota_warnings: Counter::default(),
            registry: Registry::default(),
        };
        let mut r = Registry::default();
        // Counters are registered without `_total` (the encoder adds it to
        // the samples, as OpenMetrics wants), help texts without their
        // final period (the encoder adds one).
        r.register(
            "praisani_connections",
            "Connections accepted, by service",
            m.connections.clone(),
        );
        r.register(
            "praisani_sessions",
            "Connections open now, by service",
            m.sessions.clone(),
        );
        r.register(
            "praisani_messages_accepted",
            "Messages accepted with a durable commit, by service",
            m.messages_accepted.clone(),
        );
        r.register(
            "praisani_messages_refused",
            "SMTP commands refused, by service, stage and enhanced status code",
            m.messages_refused.clone(),
        );
        r.register(
            "praisani_queue_recipients",
            "Recipients in the outbound queue, by state",
            m.queue_recipients.clone(),
        );
        r.register(
            "praisani_queue_messages",
            "Messages in the outbound queue",
            m.queue_messages.clone(),
        );
        r.register(
            "praisani_delivery_attempts",
            "Outbound delivery attempts per recipient, by result",
            m.delivery_attempts.clone(),
        );
        r.register(
            "praisani_auth_failures",
            "Failed logins, by service and reason",
            m.auth_failures.clone(),
        );
        r.register(
            "praisani_store_operation_seconds",
            "Store operation latency in seconds, by operation",
            m.store_seconds.clone(),
        );
        r.register(
            "praisani_quota_warnings",
            "Quota warnings delivered to mailboxes",
            m.quota_warnings.clone(),
        );
        Metrics { registry: r, ..m }
    }

    /// The whole set in the OpenMetrics text format (ending in `# EOF`).
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail, and the label values are
        // plain words and status codes the encoder escapes itself.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
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
            .get_or_create(&ByOperation {
                operation: self.operation,
            })
            .observe(self.started.elapsed().as_secs_f64());
    }
}

/// The process's metrics. One set per process: a test that starts the
/// binary gets a fresh one, and unit tests only look at differences.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// Counts one delivery attempt result.
pub fn delivery_attempt(result: DeliveryResult) {
    metrics()
        .delivery_attempts
        .get_or_create(&ByResult { result })
        .inc();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::{Service, Stage};

    #[test]
    fn the_timer_records_on_drop() {
        let m = Metrics::new();
        drop(m.store_timer("accept"));
        assert!(
            m.render()
                .contains("praisani_store_operation_seconds_count{operation=\"accept\"} 1\n")
        );
    }

    #[test]
    fn every_family_appears_in_the_exposition() {
        let m = Metrics::new();
        // A labelled family shows once it has a series.
        let by = ByService {
            service: Service::smtp,
        };
        m.connections.get_or_create(&by).inc();
        m.sessions.get_or_create(&by).inc();
        drop(m.store_timer("accept"));
        m.messages_refused
            .get_or_create(&Refusal {
                service: Service::smtp,
                stage: Stage::connect,
                status: "5.7.1".to_owned(),
            })
            .inc();
        let text = m.render();
        for (name, kind) in [
            ("praisani_connections", "counter"),
            ("praisani_sessions", "gauge"),
            ("praisani_messages_refused", "counter"),
            ("praisani_store_operation_seconds", "histogram"),
            ("praisani_quota_warnings", "counter"),
        ] {
            assert!(
                text.contains(&format!("# TYPE {name} {kind}\n")),
                "{name} {text}"
            );
        }
        // The unlabelled ones show zero before their first event.
        assert!(text.contains("praisani_quota_warnings_total 0\n"), "{text}");
        assert!(text.contains("praisani_queue_messages 0\n"), "{text}");
        assert!(
            text.contains("# HELP praisani_queue_messages Messages in the outbound queue.\n"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn labels_come_out_lower_case_and_escaped() {
        let m = Metrics::new();
        m.messages_refused
            .get_or_create(&Refusal {
                service: Service::smtp,
                stage: Stage::rcpt,
                status: "5.1.1 \"x\"".to_owned(),
            })
            .inc();
        let text = m.render();
        assert!(
            text.contains(
                "praisani_messages_refused_total{service=\"smtp\",stage=\"rcpt\",status=\"5.1.1 \\\"x\\\"\"} 1\n"
            ),
            "{text}"
        );
    }
}
