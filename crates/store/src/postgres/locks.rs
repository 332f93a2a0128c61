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
    /// Numbers this node's locks, so a late release cannot remove a newer lock.
    counter: std::sync::atomic::AtomicU64,
}

impl Locks {
    pub(super) fn new(node: String, lease: Duration) -> Self {
        Locks {
            node,
            lease: lease.as_secs().max(1) as i64,
            held: Mutex::new(HashSet::new()),
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
        Ok(true) => Ok(Some(MaildropLock::new(Box::new(Guard {
            pool: pool.clone(),
            locks: locks.clone(),
            account,
            holder,
        })))),
        other => {
            locks.held().remove(&account);
            other.map(|_| None)
        }
    }
}

/// Renews this node's leases until the store is dropped.
pub(super) async fn renew_forever(pool: Pool, locks: Arc<Locks>) {
    let every = Duration::from_secs((locks.lease as u64 / 3).max(1));
    loop {
        tokio::time::sleep(every).await;
        let ids: Vec<AccountId> = locks.held().iter().copied().collect();
        if ids.is_empty() {
            continue;
        }
        let sql = format!(
            "UPDATE maildrop_locks SET expires = {DB_NOW} + $1
             WHERE node = $2 AND account_id = ANY($3)"
        );
        let r = async {
            let c = pool.get().await?;
            ops::exec(&c, &sql, &[&locks.lease, &locks.node, &ids]).await
        }
        .await;
        match r {
            // A lease that lapsed while the database was out of reach may
            // have been taken by another node; its session goes on, the
            // operator should know.
            Ok(n) if n < ids.len() as u64 => tracing::warn!(
                held = ids.len(),
                renewed = n,
                "some maildrop leases lapsed before they could be renewed"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!("cannot renew maildrop leases: {e}"),
        }
    }
}
