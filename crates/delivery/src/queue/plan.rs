//! Taken messages as jobs per destination domain, and jobs as batches of
//! one connection each.

use crate::client::{Envelope, Recipient};
use praisani_message::dsn::Status;
use praisani_store::{AttemptResult, QueueEntry, QueuedRcpt, SenderTls};
use std::collections::BTreeMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

/// One recipient's result as the store records it, the server that gave
/// it, and the status code it is reported with (decided where the result
/// was known, never read back out of the error text).
pub(super) type Outcome = (QueuedRcpt, AttemptResult, Option<String>, Status);

/// Why an attempt did not deliver: the text recorded and reported, and
/// its status code, decided where the failure happened.
#[derive(Clone, Debug)]
pub(super) struct Problem {
    /// The RFC 3463 status it is reported with.
    pub(super) status: Status,
    /// What went wrong, as `queue show` and the bounce's Diagnostic-Code
    /// show it.
    pub(super) text: String,
}

impl Problem {
    /// A problem with its status and text.
    pub(super) fn new(status: Status, text: impl Into<String>) -> Problem {
        Problem {
            status,
            text: text.into(),
        }
    }
}

/// One destination domain's share of one queued message.
pub(super) struct Job {
    pub(super) entry: Arc<QueueEntry>,
    pub(super) rcpts: Vec<QueuedRcpt>,
    pub(super) progress: Arc<Progress>,
}

/// A message's results, gathered until its last job is done.
pub(super) struct Progress {
    /// Jobs of the message not yet done.
    pub(super) remaining: AtomicUsize,
    pub(super) results: Mutex<Vec<Outcome>>,
}

/// Splits taken messages into jobs per destination domain, and those into
/// batches of at most `per_connection` messages, each batch for one
/// connection.
pub(super) fn plan(entries: Vec<QueueEntry>, per_connection: usize) -> Vec<(String, Vec<Job>)> {
    let mut by_domain: BTreeMap<String, Vec<Job>> = BTreeMap::new();
    for entry in entries {
        let mut rcpts_by_domain: BTreeMap<String, Vec<QueuedRcpt>> = BTreeMap::new();
        for r in &entry.recipients {
            rcpts_by_domain
                .entry(r.rcpt.domain.clone())
                .or_default()
                .push(r.clone());
        }
        let progress = Arc::new(Progress {
            remaining: AtomicUsize::new(rcpts_by_domain.len()),
            results: Default::default(),
        });
        let entry = Arc::new(entry);
        for (domain, rcpts) in rcpts_by_domain {
            by_domain.entry(domain).or_default().push(Job {
                entry: entry.clone(),
                rcpts,
                progress: progress.clone(),
            });
        }
    }
    let mut batches = Vec::new();
    for (domain, jobs) in by_domain {
        let mut batch = Vec::new();
        for job in jobs {
            batch.push(job);
            if batch.len() == per_connection.max(1) {
                batches.push((domain.clone(), std::mem::take(&mut batch)));
            }
        }
        if !batch.is_empty() {
            batches.push((domain, batch));
        }
    }
    batches
}

/// The envelope of one job: its message's sender and parameters, the
/// job's recipients.
pub(super) fn envelope_of(job: &Job) -> Envelope {
    let entry = &job.entry;
    Envelope {
        from: entry.sender.clone(),
        recipients: job
            .rcpts
            .iter()
            .map(|r| Recipient {
                address: r.rcpt.address.clone(),
                notify: r.rcpt.notify,
                orcpt: r.rcpt.orcpt.clone(),
            })
            .collect(),
        size: Some(entry.size),
        eight_bit: entry.eight_bit,
        smtputf8: entry.smtputf8,
        ret: entry.ret,
        envid: entry.envid.clone(),
        requiretls: entry.tls == SenderTls::Required,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use praisani_store::{OutboundRcpt, RcptState};
    use std::sync::atomic::Ordering;

    fn entry(id: i64, to: &[&str]) -> QueueEntry {
        QueueEntry {
            id: praisani_store::QueueId::new(id),
            sender: "a@here.test".into(),
            envid: None,
            ret: None,
            smtputf8: false,
            eight_bit: false,
            created: 0,
            size: 10,
            account: None,
            tls: Default::default(),
            forwarded: false,
            recipients: to
                .iter()
                .enumerate()
                .map(|(i, a)| QueuedRcpt {
                    id: praisani_store::QueueRcptId::new(id * 100 + i as i64),
                    rcpt: OutboundRcpt {
                        address: a.to_string(),
                        domain: a.rsplit_once('@').unwrap().1.into(),
                        orcpt: None,
                        notify: None,
                    },
                    state: RcptState::Pending,
                    attempts: 0,
                    next_attempt: 0,
                    last_error: None,
                    delay_notified: false,
                })
                .collect(),
        }
    }

    #[test]
    fn one_job_per_domain_and_message() {
        let batches = plan(
            vec![
                entry(1, &["x@b.test", "y@a.test", "z@b.test"]),
                entry(2, &["w@a.test"]),
            ],
            100,
        );
        let shape: Vec<_> = batches
            .iter()
            .map(|(d, jobs)| {
                let jobs: Vec<_> = jobs
                    .iter()
                    .map(|j| (j.entry.id.get(), j.rcpts.len()))
                    .collect();
                (d.as_str(), jobs)
            })
            .collect();
        assert_eq!(
            shape,
            vec![("a.test", vec![(1, 1), (2, 1)]), ("b.test", vec![(1, 2)])]
        );
        // Message 1 is done when both of its domains are.
        let (_, a) = &batches[0];
        assert_eq!(a[0].progress.remaining.load(Ordering::Relaxed), 2);
        assert_eq!(a[1].progress.remaining.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn batches_hold_at_most_per_connection() {
        let entries = (1..=5).map(|i| entry(i, &["r@a.test"])).collect();
        let sizes: Vec<_> = plan(entries, 2).iter().map(|(_, b)| b.len()).collect();
        assert_eq!(sizes, vec![2, 2, 1]);
        // Zero is taken as one.
        let entries = (1..=2).map(|i| entry(i, &["r@a.test"])).collect();
        assert_eq!(plan(entries, 0).len(), 2);
    }

    #[test]
    fn envelope_carries_the_message_parameters() {
        let mut e = entry(1, &["x@b.test"]);
        e.ret = Some(praisani_message::dsn::Return::Headers);
        e.recipients[0].rcpt.notify = praisani_message::dsn::Notify::from_param("NEVER");
        let (_, jobs) = plan(vec![e], 1).pop().unwrap();
        let env = envelope_of(&jobs[0]);
        assert_eq!(env.from, "a@here.test");
        assert_eq!(env.size, Some(10));
        assert_eq!(env.ret.map(|r| r.as_param()), Some("HDRS"));
        assert_eq!(env.recipients[0].address, "x@b.test");
        assert_eq!(
            env.recipients[0].notify.map(|n| n.to_param()).as_deref(),
            Some("NEVER")
        );
    }
}
