//! How often a sender that did not log in may get a bounce from us. Such a
//! sender address is only a claim: a forger who names a victim as the
//! sender of mail to a full mailbox would otherwise have us send the victim
//! one bounce per message (backscatter).
//!
//! Kept in memory, per node: each node of a PostgreSQL cluster allows its
//! own bounce per interval, and a restart forgets the record. The map is
//! bounded; when it is full of senders still within their interval, no
//! further sender gets a bounce until entries expire (it fails closed:
//! refusing a bounce costs a notice, sending one may be abuse).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Bounces sent recently, by sender address (lower case).
pub struct BounceLimit {
    /// The least time between two bounces to one sender.
    interval: Duration,
    /// The most senders remembered at once.
    capacity: usize,
    last: Mutex<HashMap<String, Instant>>,
}

impl BounceLimit {
    /// At most one bounce per sender per `interval`, remembering up to
    /// `capacity` senders.
    pub fn new(interval: Duration, capacity: usize) -> Self {
        BounceLimit {
            interval,
            capacity,
            last: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `sender` may get a bounce now; if so, the bounce is counted.
    /// Spellings that differ only in case are one sender: they reach the
    /// same person nearly everywhere.
    pub fn allow(&self, sender: &str) -> bool {
        self.allow_at(sender, Instant::now())
    }

    /// Whether `sender` would be refused a bounce now (nothing is counted):
    /// mail whose refusal could not be reported is better deferred.
    pub fn spent(&self, sender: &str) -> bool {
        self.spent_at(sender, Instant::now())
    }

    fn spent_at(&self, sender: &str, now: Instant) -> bool {
        let last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let key = sender.to_lowercase();
        if let Some(t) = last.get(&key) {
            return now.saturating_duration_since(*t) < self.interval;
        }
        last.len() >= self.capacity
            && last
                .values()
                .all(|t| now.saturating_duration_since(*t) < self.interval)
    }

    fn allow_at(&self, sender: &str, now: Instant) -> bool {
        let key = sender.to_lowercase();
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if last
            .get(&key)
            .is_some_and(|t| now.saturating_duration_since(*t) < self.interval)
        {
            return false;
        }
        if !last.contains_key(&key) && last.len() >= self.capacity {
            last.retain(|_, t| now.saturating_duration_since(*t) < self.interval);
            if last.len() >= self.capacity {
                tracing::warn!(
                    senders = last.len(),
                    "bounce rate record full: no bounce to senders not logged in until entries expire"
                );
                return false;
            }
        }
        last.insert(key, now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_per_interval_per_sender_whatever_its_case() {
        let l = BounceLimit::new(Duration::from_secs(3600), 10);
        let t0 = Instant::now();
        assert!(!l.spent_at("v@forged.test", t0));
        assert!(l.allow_at("v@forged.test", t0));
        assert!(l.spent_at("v@forged.test", t0));
        assert!(!l.allow_at("V@FORGED.test", t0 + Duration::from_secs(60)));
        assert!(l.allow_at("w@forged.test", t0 + Duration::from_secs(60)));
        assert!(l.allow_at("v@forged.test", t0 + Duration::from_secs(3600)));
    }

    #[test]
    fn a_full_record_fails_closed_until_entries_expire() {
        let l = BounceLimit::new(Duration::from_secs(3600), 2);
        let t0 = Instant::now();
        assert!(l.allow_at("a@x.test", t0));
        assert!(l.allow_at("b@x.test", t0));
        assert!(l.spent_at("c@x.test", t0));
        assert!(!l.allow_at("c@x.test", t0));
        assert!(!l.spent_at("c@x.test", t0 + Duration::from_secs(3600)));
        assert!(l.allow_at("c@x.test", t0 + Duration::from_secs(3600)));
        assert_eq!(l.last.lock().unwrap().len(), 1);
    }
}
