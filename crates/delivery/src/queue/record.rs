//! Results recorded, retries scheduled, messages finished: everything the
//! runner writes to the store after an attempt.

use super::plan::{Job, Outcome, Problem};
use super::{Runner, notify, now};
use praisani_message::dsn::Status;
use praisani_metrics::labels::DeliveryResult;
use praisani_store::{AttemptResult, QueueEntry, QueuedRcpt};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The wait after a temporary failure when no retry schedule is set.
const DEFAULT_RETRY: Duration = Duration::from_secs(3600);

impl Runner {
    /// Records the results of one job at once (a crash after a remote
    /// server said 250 repeats as little as possible); when it was the
    /// message's last job, finishes the message.
    pub(super) async fn job_done(&self, job: Job, outcome: Vec<Outcome>) {
        let records: Vec<_> = outcome
            .iter()
            .map(|(r, res, _, _)| (r.id, res.clone()))
            .collect();
        let timer = praisani_metrics::metrics().store_timer("queue_record");
        let recorded = self.office.store.queue_record(&records).await;
        drop(timer);
        {
            // Recorded, or left for the lease to lapse: no longer renewed.
            let mut working = self.working.lock().unwrap_or_else(|p| p.into_inner());
            for (id, _) in &records {
                working.remove(id);
            }
        }
        if let Err(e) = recorded {
            // The lease lapses and the recipients are tried again.
            tracing::error!(queue = %job.entry.id, "cannot record delivery results: {e}");
            return;
        }
        for (_, res) in &records {
            praisani_metrics::server::delivery_attempt(match res {
                AttemptResult::Delivered => DeliveryResult::delivered,
                AttemptResult::Retry { .. } => DeliveryResult::deferred,
                AttemptResult::Failed { .. } => DeliveryResult::failed,
            });
        }
        let finished = {
            let mut results = job
                .progress
                .results
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            results.extend(outcome);
            if job.progress.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                Some(std::mem::take(&mut *results))
            } else {
                None
            }
        };
        if let Some(results) = finished {
            self.finish(&job.entry, results).await;
        }
    }

    /// After every destination of a message was tried: logs, notifies the
    /// sender as NOTIFY asks, and drops the message once nothing is pending.
    async fn finish(&self, entry: &QueueEntry, results: Vec<Outcome>) {
        for (r, res, mta, _) in &results {
            match res {
                AttemptResult::Delivered => {
                    tracing::info!(queue = %entry.id, to = %r.rcpt.address, via = ?mta, "delivered")
                }
                AttemptResult::Retry { error, .. } => {
                    tracing::info!(queue = %entry.id, to = %r.rcpt.address, "deferred: {error}")
                }
                AttemptResult::Failed { error } => {
                    tracing::info!(queue = %entry.id, to = %r.rcpt.address, "failed: {error}")
                }
            }
        }
        if let Some(account) = entry.account {
            let finished = results
                .iter()
                .filter(|(_, res, _, _)| !matches!(res, AttemptResult::Retry { .. }))
                .count() as u64;
            let failed = results
                .iter()
                .filter(|(_, res, _, _)| matches!(res, AttemptResult::Failed { .. }))
                .count() as u64;
            if let Err(e) = praisani_mailhost::outbound_policy::record_outcomes(
                &self.office,
                account,
                finished,
                failed,
            )
            .await
            {
                tracing::error!(queue = %entry.id, "cannot record the sender's results: {e}");
            }
        }
        let delay_after = self.settings.delay_notice.as_secs() as i64;
        let (notices, delayed) = notify::notices(entry, &results, delay_after, now());
        self.notify(entry, &notices).await;
        let store = &self.office.store;
        if !delayed.is_empty()
            && let Err(e) = store.queue_mark_delay_notified(&delayed).await
        {
            tracing::error!(queue = %entry.id, "cannot record the delay notice: {e}");
        }
        match store.queue_get(entry.id).await {
            Ok(Some(e)) if e.recipients.iter().all(|r| r.state.is_final()) => {
                if let Err(e) = store.queue_delete(entry.id).await {
                    tracing::error!(queue = %entry.id, "cannot remove finished message: {e}");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::error!(queue = %entry.id, "queue lookup failed: {e}"),
        }
    }

    /// What a temporary failure means for one recipient: retry later, or
    /// give up when the message is too old (then reported as the permanent
    /// failure it became).
    pub(super) fn retry_or_fail(
        &self,
        entry: &QueueEntry,
        r: &QueuedRcpt,
        problem: Problem,
    ) -> (AttemptResult, Status) {
        let s = &self.settings;
        let age = now() - entry.created;
        if age >= s.max_age.as_secs() as i64 {
            let error = format!(
                "gave up after {} days; last error: {}",
                age / 86400,
                problem.text
            );
            return (AttemptResult::Failed { error }, problem.status.permanent());
        }
        let i = (r.attempts as usize).min(s.retry.len().saturating_sub(1));
        let wait = s.retry.get(i).copied().unwrap_or(DEFAULT_RETRY);
        let retry = AttemptResult::Retry {
            next_attempt: now() + wait.as_secs() as i64,
            error: problem.text,
        };
        (retry, problem.status)
    }

    /// Every job of the batch gets this temporary (retry) or permanent error.
    pub(super) async fn give_up(
        &self,
        jobs: impl IntoIterator<Item = Job>,
        problem: &Problem,
        permanent: bool,
    ) {
        for job in jobs {
            let outcome = job
                .rcpts
                .iter()
                .map(|r| {
                    let (res, status) = if permanent {
                        let error = problem.text.clone();
                        (AttemptResult::Failed { error }, problem.status)
                    } else {
                        self.retry_or_fail(&job.entry, r, problem.clone())
                    };
                    (r.clone(), res, None, status)
                })
                .collect();
            self.job_done(job, outcome).await;
        }
    }
}
