//! In-process maildrop locks. They live in memory, so a crashed process
//! cannot leave one behind.

use crate::{AccountId, MaildropLock};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// The set of locked maildrops.
#[derive(Default)]
pub(super) struct Locks {
    held: Arc<Mutex<HashSet<AccountId>>>,
}

struct Guard {
    held: Arc<Mutex<HashSet<AccountId>>>,
    account: AccountId,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.remove(&self.account);
    }
}

impl Locks {
    /// Takes the lock, or `None` when it is held.
    pub(super) fn try_lock(&self, account: AccountId) -> Option<MaildropLock> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if !held.insert(account) {
            return None;
        }
        Some(MaildropLock::new(Box::new(Guard {
            held: self.held.clone(),
            account,
        })))
    }
}
