//! RFC 2449 LOGIN-DELAY: how soon an account may log in again.

use praisani_store::AccountId;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Last successful login per account, enforcing RFC 2449 LOGIN-DELAY.
/// Kept in memory: each node counts its own logins.
#[derive(Default)]
pub struct LoginTimes {
    last: Mutex<HashMap<AccountId, Instant>>,
}

impl LoginTimes {
    /// Records a login now and says whether it is allowed: the previous one
    /// must be at least `delay` ago. A refused login does not move the clock.
    pub fn allow(&self, account: AccountId, delay: Duration) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if last
            .get(&account)
            .is_some_and(|t| now.duration_since(*t) < delay)
        {
            return false;
        }
        // Keep the map from growing without bound.
        if last.len() > 100_000 {
            last.retain(|_, t| now.duration_since(*t) < delay);
        }
        last.insert(account, now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_delay_refuses_quick_relogin() {
        let t = LoginTimes::default();
        assert!(t.allow(1, Duration::from_secs(60)));
        assert!(!t.allow(1, Duration::from_secs(60)));
        assert!(t.allow(2, Duration::from_secs(60)));
        assert!(t.allow(1, Duration::ZERO));
    }
}
