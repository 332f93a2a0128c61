//! Bounded caches of parsed DNS records (SPF, DKIM keys, DMARC records,
//! addresses) for `mail-auth`, each entry kept until its TTL runs out.
//!
//! The resolver below already caches raw answers; these keep `mail-auth`
//! from parsing the same SPF record or DKIM key for every message.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;
use std::time::Instant;

use mail_auth::{MX, RecordSet, ResolverCache, Txt};

/// A map with a fixed capacity whose entries expire. When full, expired
/// entries go first, then the one closest to expiry: a flood of new names
/// cannot grow memory, and evicts what would have gone soonest anyway.
pub struct TtlCache<K, V> {
    capacity: usize,
    entries: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K: Hash + Eq, V: Clone> TtlCache<K, V> {
    /// An empty cache holding at most `capacity` entries (0 = no caching).
    pub fn new(capacity: usize) -> Self {
        TtlCache {
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// How many entries are held now (expired ones included until evicted).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, (V, Instant)>> {
        // A panic while holding the lock leaves a consistent map.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<K: Hash + Eq + Clone, V: Clone> ResolverCache<K, V> for TtlCache<K, V> {
    fn get<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut entries = self.lock();
        match entries.get(name) {
            Some((value, until)) if *until > Instant::now() => Some(value.clone()),
            Some(_) => {
                entries.remove(name);
                None
            }
            None => None,
        }
    }

    fn remove<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.lock().remove(name).map(|(value, _)| value)
    }

    fn insert(&self, key: K, value: V, valid_until: Instant) {
        let now = Instant::now();
        if self.capacity == 0 || valid_until <= now {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            entries.retain(|_, (_, until)| *until > now);
            while entries.len() >= self.capacity {
                // Only under a flood of distinct names; O(n) then is fine
                // for the few thousand entries a cache holds.
                let Some(soonest) = entries
                    .iter()
                    .min_by_key(|(_, (_, until))| *until)
                    .map(|(k, _)| k.clone())
                else {
                    break;
                };
                entries.remove(&soonest);
            }
        }
        entries.insert(key, (value, valid_until));
    }
}

/// The five caches `mail-auth` takes, one per kind of record.
pub struct Caches {
    /// SPF, DKIM key, DMARC records (parsed).
    pub txt: TtlCache<Box<str>, Txt>,
    /// MX records (SPF's `mx` mechanism).
    pub mx: TtlCache<Box<str>, RecordSet<MX>>,
    /// A records (SPF's `a`, `mx`).
    pub ipv4: TtlCache<Box<str>, RecordSet<Ipv4Addr>>,
    /// AAAA records.
    pub ipv6: TtlCache<Box<str>, RecordSet<Ipv6Addr>>,
    /// PTR records (SPF's `ptr`).
    pub ptr: TtlCache<IpAddr, RecordSet<Box<str>>>,
}

impl Caches {
    /// Caches of at most `capacity` entries each.
    pub fn new(capacity: usize) -> Self {
        Caches {
            txt: TtlCache::new(capacity),
            mx: TtlCache::new(capacity),
            ipv4: TtlCache::new(capacity),
            ipv6: TtlCache::new(capacity),
            ptr: TtlCache::new(capacity),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn entries_expire() {
        let cache: TtlCache<Box<str>, u32> = TtlCache::new(4);
        let now = Instant::now();
        cache.insert("a".into(), 1, now + Duration::from_secs(60));
        cache.insert("b".into(), 2, now + Duration::from_millis(1));
        cache.insert("gone".into(), 3, now);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(cache.get("a"), Some(1));
        assert_eq!(cache.get("b"), None);
        assert_eq!(cache.get("gone"), None);
    }

    #[test]
    fn capacity_is_kept_by_evicting_the_soonest_to_expire() {
        let cache: TtlCache<Box<str>, u32> = TtlCache::new(3);
        let now = Instant::now();
        for (i, name) in ["a", "b", "c", "d", "e"].into_iter().enumerate() {
            // "a" lives longest; each later name expires sooner.
            cache.insert(
                name.into(),
                i as u32,
                now + Duration::from_secs(100 - i as u64),
            );
        }
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get("a"), Some(0));
        assert_eq!(cache.get("b"), Some(1));
        assert_eq!(cache.get("e"), Some(4), "the newest entry is kept");
        assert_eq!(cache.get("c"), None);
    }

    #[test]
    fn zero_capacity_caches_nothing() {
        let cache: TtlCache<Box<str>, u32> = TtlCache::new(0);
        cache.insert("a".into(), 1, Instant::now() + Duration::from_secs(60));
        assert!(cache.is_empty());
    }
}
