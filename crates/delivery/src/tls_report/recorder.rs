//! Counting results in the store without making delivery wait: the queue
//! hands each result to [`Recorder::record`], which only puts it on a
//! bounded channel; one task takes whatever has gathered, sums equal ones
//! and writes them in one [`Store::tls_report_record`] call. Under load the
//! batches grow instead of the writes multiplying.
//!
//! [`Store::tls_report_record`]: praisani_store::Store::tls_report_record

use super::{TlsResult, json};
use praisani_store::Store;
use praisani_store::tls_report::{TlsEvent, TlsLimits};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, watch};

/// Results waiting at most; more are dropped (and logged) until the store
/// catches up.
const BACKLOG: usize = 10_000;

/// Results written in one call at most.
const BATCH: usize = 1_000;

/// The queue's side of the channel, and the task's side until it starts.
#[derive(Debug)]
pub struct Recorder {
    tx: mpsc::Sender<TlsEvent>,
    rx: Mutex<Option<mpsc::Receiver<TlsEvent>>>,
    limits: TlsLimits,
}

impl Recorder {
    /// A recorder counting within `limits`; [`Recorder::run`] writes.
    pub fn new(limits: TlsLimits) -> Recorder {
        let (tx, rx) = mpsc::channel(BACKLOG);
        Recorder {
            tx,
            rx: Mutex::new(Some(rx)),
            limits,
        }
    }

    /// Counts `r` at `now` (Unix seconds); returns at once.
    pub fn record(&self, r: &TlsResult, now: i64) {
        if self.tx.try_send(json::event(r, now)).is_err() {
            tracing::warn!(domain = %r.policy_domain, "TLS-RPT: result not recorded, the store is behind");
        }
    }

    /// Writes what comes in to `store` until `stop`, then what is left.
    /// Runs once; a second call returns at once.
    pub async fn run(&self, store: Arc<dyn Store>, mut stop: watch::Receiver<bool>) {
        let rx = self.rx.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(mut rx) = rx else {
            return;
        };
        loop {
            let first = tokio::select! {
                e = rx.recv() => e,
                _ = stop.changed() => None,
            };
            let Some(first) = first else {
                break;
            };
            let mut batch = vec![first];
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(e) => batch.push(e),
                    Err(_) => break,
                }
            }
            self.write(&*store, batch).await;
        }
        // Stopping: what the queue handed over before is still counted.
        let mut rest = Vec::new();
        while let Ok(e) = rx.try_recv() {
            rest.push(e);
        }
        if !rest.is_empty() {
            self.write(&*store, rest).await;
        }
    }

    async fn write(&self, store: &dyn Store, batch: Vec<TlsEvent>) {
        let events = sum(batch);
        match store.tls_report_record(&events, self.limits).await {
            Ok(done) => {
                if done.dropped > 0 {
                    tracing::warn!(
                        sessions = done.dropped,
                        "TLS-RPT report of the day is full (tls_reports.max_records): sessions counted as left out"
                    );
                }
                if done.lost > 0 {
                    tracing::warn!(
                        sessions = done.lost,
                        "TLS-RPT reports of the day have tls_reports.max_domains domains: sessions not recorded"
                    );
                }
            }
            Err(e) => tracing::error!("recording for the TLS-RPT reports: {e}"),
        }
    }
}

/// Equal events as one with their counts added, in the order first seen.
fn sum(batch: Vec<TlsEvent>) -> Vec<TlsEvent> {
    let mut at: HashMap<(i64, String, String, String), usize> = HashMap::new();
    let mut out: Vec<TlsEvent> = Vec::new();
    for e in batch {
        let key = (e.day, e.domain.clone(), e.policy.clone(), e.result.clone());
        match at.get(&key) {
            Some(&i) => out[i].count += e.count,
            None => {
                at.insert(key, out.len());
                out.push(e);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_events_are_summed() {
        let ev = |d: &str, r: &str| TlsEvent {
            day: 1,
            domain: d.into(),
            policy: "p".into(),
            result: r.into(),
            count: 1,
        };
        let out = sum(vec![
            ev("a", "ok"),
            ev("b", "ok"),
            ev("a", "ok"),
            ev("a", "x"),
        ]);
        let counts: Vec<(&str, &str, u64)> = out
            .iter()
            .map(|e| (e.domain.as_str(), e.result.as_str(), e.count))
            .collect();
        assert_eq!(counts, [("a", "ok", 2), ("b", "ok", 1), ("a", "x", 1)]);
    }
}
