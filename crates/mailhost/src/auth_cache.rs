//! A cache of recently verified logins, so a mail program that logs in every
//! few minutes does not pay for an argon2 hash each time (Dovecot's
//! `auth_cache` does the same).
//!
//! Only a keyed SHA-256 digest of (account, stored hash, password) is kept,
//! under a random key made at start, never the password. The stored hash is
//! part of the digest, so changing a password invalidates its entries at
//! once. Failed logins are never cached.

use praisani_store::AccountId;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries kept at most; beyond it expired entries are dropped, then all.
const MAX_ENTRIES: usize = 100_000;

/// Verified (account, hash, password) digests with their expiry.
pub(crate) struct AuthCache {
    key: [u8; 32],
    ttl: Duration,
    entries: Mutex<HashMap<[u8; 32], Instant>>,
}

impl AuthCache {
    /// A cache whose entries live `ttl`; a zero `ttl` disables it.
    pub(crate) fn new(ttl: Duration) -> Self {
        AuthCache {
            key: rand::random(),
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn digest(&self, account: AccountId, hash: &str, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update(account.get().to_be_bytes());
        // Lengths keep the fields apart, so no two inputs share a digest.
        h.update((hash.len() as u64).to_be_bytes());
        h.update(hash.as_bytes());
        h.update((password.len() as u64).to_be_bytes());
        h.update(password.as_bytes());
        h.finalize().into()
    }

    /// True when this exact login was verified less than `ttl` ago.
    pub(crate) fn hit(&self, account: AccountId, hash: &str, password: &str) -> bool {
        if self.ttl.is_zero() {
            return false;
        }
        let d = self.digest(account, hash, password);
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        // The HashMap lookup compares whole digests of secret-keyed input;
        // timing reveals nothing an attacker could steer towards a match.
        entries.get(&d).is_some_and(|exp| *exp > Instant::now())
    }

    /// Records a successful verification.
    pub(crate) fn insert(&self, account: AccountId, hash: &str, password: &str) {
        if self.ttl.is_zero() {
            return;
        }
        let d = self.digest(account, hash, password);
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, exp| *exp > now);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(d, now + self.ttl);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_only_the_same_login_within_ttl() {
        let c = AuthCache::new(Duration::from_secs(60));
        assert!(!c.hit(AccountId::new(1), "$h", "pw"));
        c.insert(AccountId::new(1), "$h", "pw");
        assert!(c.hit(AccountId::new(1), "$h", "pw"));
        assert!(!c.hit(AccountId::new(1), "$h", "pw2"));
        assert!(!c.hit(AccountId::new(2), "$h", "pw"));
        // A new password hash (password changed) misses.
        assert!(!c.hit(AccountId::new(1), "$h2", "pw"));
    }

    #[test]
    fn zero_ttl_disables_and_entries_expire() {
        let off = AuthCache::new(Duration::ZERO);
        off.insert(AccountId::new(1), "$h", "pw");
        assert!(!off.hit(AccountId::new(1), "$h", "pw"));
        let c = AuthCache::new(Duration::from_millis(20));
        c.insert(AccountId::new(1), "$h", "pw");
        std::thread::sleep(Duration::from_millis(40));
        assert!(!c.hit(AccountId::new(1), "$h", "pw"));
    }
}
