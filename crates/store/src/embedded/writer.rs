//! The writer thread: every write runs here, and writes that arrive while a
//! commit is in progress are committed together in the next transaction.
//!
//! Each request runs inside its own SAVEPOINT, so one failing request (a
//! duplicate account, say) is rolled back alone while its neighbours in the
//! batch still commit. A request's answer is sent only after the COMMIT —
//! and with it the fsync — has returned.

use crate::{StoreError, Unavailable};
use rusqlite::Connection;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use tokio::sync::oneshot;

/// Most requests committed in one transaction.
const MAX_BATCH: usize = 512;

/// Gets the outcome of the group commit, shared by every request in it.
type Completion = Box<dyn FnOnce(Result<(), Arc<rusqlite::Error>>) + Send>;
/// A request: run on the connection, or — given `None` because no
/// transaction could be opened — answer with an error without running.
type Job = Box<dyn FnOnce(Option<&Connection>) -> Completion + Send>;

/// A handle to the writer thread.
pub(super) struct Writer {
    jobs: mpsc::Sender<Job>,
    commits: Arc<AtomicU64>,
}

impl Writer {
    /// Starts the writer thread on `conn`.
    pub(super) fn start(conn: Connection) -> Result<Self, StoreError> {
        let (tx, rx) = mpsc::channel::<Job>();
        let commits = Arc::new(AtomicU64::new(0));
        let counter = commits.clone();
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || run(conn, rx, &counter))?;
        Ok(Writer { jobs: tx, commits })
    }

    /// Transactions committed so far.
    pub(super) fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Runs `f` in the next group commit and returns its result once the
    /// commit is durable.
    pub(super) async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T, StoreError>>();
        self.jobs
            .send(job(f, move |r| {
                let _ = tx.send(r);
            }))
            .map_err(|_| StoreError::from(Unavailable::WriterStopped))?;
        rx.await
            .map_err(|_| StoreError::from(Unavailable::WriterStopped))?
    }

    /// A handle that queues writes without waiting for them (for `Drop`).
    pub(super) fn sender(&self) -> Sender {
        Sender(self.jobs.clone())
    }
}

/// Queues writes whose result nobody waits for.
#[derive(Clone)]
pub(super) struct Sender(mpsc::Sender<Job>);

impl Sender {
    /// Queues `f` for the next group commit; `done` gets its result once
    /// committed (or failed), on the writer thread.
    pub(super) fn fire<F, D>(&self, f: F, done: D)
    where
        F: FnOnce(&Connection) -> Result<(), StoreError> + Send + 'static,
        D: FnOnce(Result<(), StoreError>) + Send + 'static,
    {
        let _ = self.0.send(job(f, done));
    }
}

/// Wraps `f` in a savepoint of the group commit; `reply` gets its result
/// once the commit is durable (or failed).
fn job<T, F, R>(f: F, reply: R) -> Job
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    R: FnOnce(Result<T, StoreError>) + Send + 'static,
{
    let tx = reply;
    {
        Box::new(move |conn: Option<&Connection>| -> Completion {
            let Some(conn) = conn else {
                return Box::new(move |e: Result<(), Arc<rusqlite::Error>>| {
                    tx(Err(match e {
                        Err(e) => Unavailable::Commit(e).into(),
                        // Not sent: a job without a connection only ever
                        // hears of the error that left it without one.
                        Ok(()) => Unavailable::WriterStopped.into(),
                    }));
                });
            };
            if let Err(e) = conn.execute_batch("SAVEPOINT job") {
                let e = StoreError::from(e);
                return Box::new(move |_| {
                    tx(Err(e));
                });
            }
            match f(conn) {
                Ok(v) => {
                    let released = conn.execute_batch("RELEASE job").map_err(StoreError::from);
                    Box::new(move |commit: Result<(), Arc<rusqlite::Error>>| {
                        let out = match (released, commit) {
                            (Err(e), _) => Err(e),
                            (Ok(()), Err(e)) => Err(Unavailable::Commit(e).into()),
                            (Ok(()), Ok(())) => Ok(v),
                        };
                        tx(out);
                    })
                }
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK TO job; RELEASE job");
                    Box::new(move |_| {
                        tx(Err(e));
                    })
                }
            }
        })
    }
}

fn run(conn: Connection, rx: mpsc::Receiver<Job>, commits: &AtomicU64) {
    while let Ok(first) = rx.recv() {
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            // Answer the request with the error rather than hang it.
            let done = first(None);
            done(Err(Arc::new(e)));
            continue;
        }
        let mut completions = vec![first(Some(&conn))];
        while completions.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => completions.push(job(Some(&conn))),
                Err(_) => break,
            }
        }
        let commit = conn.execute_batch("COMMIT").map_err(Arc::new);
        commits.fetch_add(1, Ordering::Relaxed);
        if commit.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        tracing::trace!(batch = completions.len(), "group commit");
        for done in completions {
            done(commit.clone());
        }
    }
}
