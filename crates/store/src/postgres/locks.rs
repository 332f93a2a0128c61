//! Maildrop locks shared by every node: lease rows.
//!
//! A lock is a row of `maildrop_locks` naming the node that holds it and
//! when it lapses, by the database's clock (so clocks of the nodes need not
//! agree). While a session holds it, its node renews every held lease at a
//! third of the lease time; a node that dies stops renewing and its locks
//! lapse after at most one lease. Rows, rather than advisory locks on a
//! connection held per session, keep one pooled connection per POP3
//! session from being needed, survive a connection reset, and let another
//! process (`praisani expire`, a node's sweeper) see that a mailbox is
//! held.
//!
//! The price of a lease: a node cut off from the database for longer than
//! a lease (while its sessions go on) can see its lock taken over. Such a
//! node gets errors for every store call meanwhile, so its sessions end
//! with `-ERR [SYS/TEMP]` rather than renumber anything.

use super::ops;
use crate::{AccountId, MaildropLock, StoreError};
use deadpool_postgres::{GenericClient, Pool};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The database's clock in Unix seconds, as SQL.
pub(super) const DB_NOW: &str = "extract(epoch from clock_timestamp())::bigint";

/// This node's locks.
pub(super) struct Locks {
    /// The node's identity in lock rows.
    pub(super) node: String,
    /// Lease length in seconds.
    pub(super) lease: i64,
    /// Accounts whose lock a session of this process holds (or is taking).
    held: Mutex<HashSet<AccountId>>,
    /// Per held lock: set when its lease could not be renewed in time.
    lost: Mutex<std::collections::HashMap<AccountId, Arc<AtomicBool>>>,
    /// Numbers this node's locks, so a late release cannot remove a newer lock.
    counter: std::sync::atomic::AtomicU64,
}

impl Locks {
    pub(super) fn new(node: String, lease: Duration) -> Self {
        Locks {
            node,
            lease: lease.as_secs().max(1) as i64,
            held: Mutex::new(HashSet::new()),
            lost: Mutex::new(Default::default()),
            counter: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashSet<AccountId>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves `account` in this process (as a session taking its lock
    /// does): false when a session of this process holds or is taking it.
    pub(super) fn reserve(&self, account: AccountId) -> bool {
        self.held().insert(account)
    }

    /// Undoes [`Locks::reserve`].
    pub(super) fn unreserve(&self, account: AccountId) {
        self.held().remove(&account);
    }

    /// Forgets every lock of this process (after deleting the rows).
    pub(super) fn clear(&self) {
        self.held().clear();
    }
}

/// Takes or takes over the row of `account` in `c`: `true` when it was
/// free, lapsed, or a stale row of this node (its release still on its way).
pub(super) async fn take_row<C: GenericClient>(
    c: &C,
    account: AccountId,
    node: &str,
    holder: &str,
    lease: i64,
) -> Result<bool, StoreError> {
    let sql = format!(
        "WITH t AS (SELECT {DB_NOW} AS now)
         INSERT INTO maildrop_locks (account_id, node, holder, since, expires)
         SELECT $1, $2, $3, t.now, t.now + $4 FROM t
         ON CONFLICT (account_id) DO UPDATE
            SET node = EXCLUDED.node, holder = EXCLUDED.holder,
                since = EXCLUDED.since, expires = EXCLUDED.expires
            WHERE maildrop_locks.expires <= EXCLUDED.since
               OR maildrop_locks.node = EXCLUDED.node
         RETURNING account_id"
    );
    Ok(ops::opt(c, &sql, &[&account, &node, &holder, &lease])
        .await?
        .is_some())
}

/// Releases one lock when dropped.
struct Guard {
    pool: Pool,
    locks: Arc<Locks>,
    account: AccountId,
    holder: String,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.locks.held().remove(&self.account);
        self.locks
            .lost
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.account);
        let (pool, account, holder) = (self.pool.clone(), self.account, self.holder.clone());
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            // No runtime (process ending): the lease lapses by itself.
            return;
        };
        rt.spawn(async move {
            let r = async {
                let c = pool.get().await?;
                ops::exec(
                    &c,
                    "DELETE FROM maildrop_locks WHERE account_id = $1 AND holder = $2",
                    &[&account, &holder],
                )
                .await
            }
            .await;
            if let Err(e) = r {
                tracing::warn!("cannot release a maildrop lock (it lapses by itself): {e}");
            }
        });
    }
}

/// Takes the lock of `account`, or `None` when a session anywhere holds it.
pub(super) async fn lock(
    pool: &Pool,
    locks: &Arc<Locks>,
    account: AccountId,
) -> Result<Option<MaildropLock>, StoreError> {
    // Reserved in this process first: two sessions of one node never both
    // reach the database for the same mailbox, so a row of this node found
    // there is one whose guard is gone.
    if !locks.held().insert(account) {
        return Ok(None);
    }
    let n = locks
        .counter
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let holder = format!("{}:{n}", locks.node);
    let taken = async {
        let c = pool.get().await?;
        take_row(&c, account, &locks.node, &holder, locks.lease).await
    }
    .await;
    match taken {
        Ok(true) => {
            let lost = Arc::new(AtomicBool::new(false));
            locks
                .lost
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(account, lost.clone());
            Ok(Some(MaildropLock::with_loss(
                Box::new(Guard {
                    pool: pool.clone(),
                    locks: locks.clone(),
                    account,
                    holder,
                }),
                lost,
            )))
        }
        other => {
            locks.held().remove(&account);
            other.map(|_| None)
        }
    }
}

/// Renews this node's leases until the store is dropped.
pub(super) async fn renew_forever(pool: Pool, locks: Arc<Locks>) {
    let every = Duration::from_secs((locks.lease as u64 / 3).max(1));
    let lease = Duration::from_secs(locks.lease.max(1) as u64);
    let mut renewed_at = std::time::Instant::now();
    loop {
        tokio::time::sleep(every).await;
        let ids: Vec<AccountId> = locks.held().iter().copied().collect();
        if ids.is_empty() {
            renewed_at = std::time::Instant::now();
            continue;
        }
        let sql = format!(
            "UPDATE maildrop_locks SET expires = {DB_NOW} + $1
             WHERE node = $2 AND account_id = ANY($3) AND expires > {DB_NOW}
             RETURNING account_id"
        );
        let r = async {
            let c = pool.get().await?;
            ops::rows(&c, &sql, &[&locks.lease, &locks.node, &ids]).await
        }
        .await;
        let flags = locks.lost.lock().unwrap_or_else(|e| e.into_inner());
        match r {
            Ok(rows) => {
                renewed_at = std::time::Instant::now();
                let kept: HashSet<AccountId> = rows.iter().map(|r| r.get(0)).collect();
                // A lease that lapsed (the database was out of reach) may
                // have been taken by another node: its session must not
                // delete anything now.
                let mut gone = 0;
                for id in &ids {
                    if !kept.contains(id)
                        && let Some(f) = flags.get(id)
                    {
                        f.store(true, Ordering::Release);
                        gone += 1;
                    }
                }
                if gone > 0 {
                    tracing::warn!(gone, "maildrop leases lapsed before they could be renewed");
                }
            }
            Err(e) => {
                tracing::warn!("cannot renew maildrop leases: {e}");
                if renewed_at.elapsed() >= lease {
                    for f in flags.values() {
                        f.store(true, Ordering::Release);
                    }
                }
            }
        }
    }
}
