//! Maildrop locks, kept as rows of the database so that every process on
//! the data directory sees them: the retention sweep of `praisani expire`
//! (another process) must skip a mailbox a POP3 session has open, or the
//! session's message numbers would point at deleted mail.
//!
//! A process that dies leaves its rows behind; the server clears them when
//! it starts ([`crate::Store::release_maildrop_locks`]), as it is then the
//! only process that takes locks.

use super::writer::{Sender, Writer};
use crate::{AccountId, MaildropLock, StoreError};
use rusqlite::{Connection, params};

/// Takes the lock of `account` in the caller's transaction: `true` when it
/// was free.
pub(super) fn take(c: &Connection, account: AccountId, now: i64) -> Result<bool, StoreError> {
    let n = c
        .prepare_cached(
            "INSERT INTO maildrop_locks (account_id, since) VALUES (?1, ?2)
             ON CONFLICT (account_id) DO NOTHING",
        )?
        .execute(params![account, now])?;
    Ok(n == 1)
}

/// True when a session holds the lock of `account`.
pub(super) fn held(c: &Connection, account: AccountId) -> Result<bool, StoreError> {
    Ok(
        c.prepare_cached("SELECT 1 FROM maildrop_locks WHERE account_id = ?1")?
            .exists([account])?,
    )
}

/// Releases the lock when dropped, through the writer without waiting.
struct Guard {
    writer: Sender,
    account: AccountId,
}

impl Drop for Guard {
    fn drop(&mut self) {
        release(self.writer.clone(), self.account, 0);
    }
}

/// Deletes the lock row; a failed commit (a busy or full disk) is retried
/// for about a minute, so a transient error cannot leave a mailbox locked
/// until the next restart.
fn release(writer: Sender, account: AccountId, attempt: u32) {
    let again = writer.clone();
    writer.fire(
        move |c| {
            c.prepare_cached("DELETE FROM maildrop_locks WHERE account_id = ?1")?
                .execute([account])?;
            Ok(())
        },
        move |r| {
            if let Err(e) = r {
                tracing::error!(%account, attempt, "cannot release a maildrop lock: {e}");
                if attempt < 120 {
                    std::thread::spawn(move || {
                        std::thread::sleep(std::time::Duration::from_millis(500));
                        release(again, account, attempt + 1);
                    });
                }
            }
        },
    );
}

/// Takes the lock of `account`, or `None` when it is held.
pub(super) async fn lock(
    writer: &Writer,
    account: AccountId,
    now: i64,
) -> Result<Option<MaildropLock>, StoreError> {
    if !writer.run(move |c| take(c, account, now)).await? {
        return Ok(None);
    }
    Ok(Some(MaildropLock::new(Box::new(Guard {
        writer: writer.sender(),
        account,
    }))))
}
