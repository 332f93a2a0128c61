//! Brute-force throttling of logins, per client IP and per account.
//!
//! Each failure makes the next attempt from the same address (and on the
//! same account) wait longer; after `lockout_after` failures within the
//! window, attempts are refused outright until the lockout expires. The
//! real user gets back in once it has: a success clears the account's and
//! the address's record.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Limits for [`Throttle`].
#[derive(Clone, Debug)]
pub struct ThrottlePolicy {
    /// Failures (per IP, or per account) before a lockout.
    pub lockout_after: u32,
    /// How long a lockout lasts.
    pub lockout: Duration,
    /// Failures older than this are forgotten.
    pub window: Duration,
    /// Extra delay per earlier failure, added to the fixed failure delay.
    pub step: Duration,
    /// The most extra delay a client can be made to wait.
    pub max_delay: Duration,
}

#[derive(Clone, Copy, Debug)]
struct Record {
    failures: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

/// Failure records by IP address and by account name.
pub struct Throttle {
    policy: ThrottlePolicy,
    ips: Mutex<HashMap<IpAddr, Record>>,
    accounts: Mutex<HashMap<String, Record>>,
}

/// Whether an attempt may go ahead.
#[derive(Debug, PartialEq, Eq)]
pub enum Gate {
    /// Go ahead after waiting this long (zero for a clean record).
    Proceed(Duration),
    /// Locked out: refuse without checking the password.
    Locked,
}

/// Records kept at most per map; old ones are pruned beyond this.
const MAX_RECORDS: usize = 100_000;

impl Throttle {
    pub fn new(policy: ThrottlePolicy) -> Self {
        Throttle {
            policy,
            ips: Mutex::new(HashMap::new()),
            accounts: Mutex::new(HashMap::new()),
        }
    }

    fn fresh(&self, r: &Record, now: Instant) -> bool {
        now.duration_since(r.last) < self.policy.window || r.locked_until.is_some_and(|t| t > now)
    }

    /// Before checking credentials for `account` from `ip`.
    pub fn gate(&self, ip: IpAddr, account: &str) -> Gate {
        let now = Instant::now();
        let ips = self.ips.lock().unwrap_or_else(|p| p.into_inner());
        let accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        let account = account.to_lowercase();
        let records = [ips.get(&ip), accounts.get(&account)];
        let mut failures = 0;
        for r in records.into_iter().flatten() {
            if r.locked_until.is_some_and(|t| t > now) {
                return Gate::Locked;
            }
            if self.fresh(r, now) {
                failures = failures.max(r.failures);
            }
        }
        let delay = self
            .policy
            .step
            .saturating_mul(failures)
            .min(self.policy.max_delay);
        Gate::Proceed(delay)
    }

    /// After a failed attempt.
    pub fn failed(&self, ip: IpAddr, account: &str) {
        let now = Instant::now();
        self.bump(
            &mut self.ips.lock().unwrap_or_else(|p| p.into_inner()),
            ip,
            now,
        );
        if !account.is_empty() {
            let mut accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
            self.bump(&mut accounts, account.to_lowercase(), now);
        }
    }

    fn bump<K: std::hash::Hash + Eq>(&self, map: &mut HashMap<K, Record>, key: K, now: Instant) {
        if map.len() >= MAX_RECORDS {
            map.retain(|_, r| self.fresh(r, now));
        }
        let r = map.entry(key).or_insert(Record {
            failures: 0,
            last: now,
            locked_until: None,
        });
        if !self.fresh(r, now) {
            *r = Record {
                failures: 0,
                last: now,
                locked_until: None,
            };
        }
        r.failures += 1;
        r.last = now;
        if r.failures >= self.policy.lockout_after {
            r.locked_until = Some(now + self.policy.lockout);
            r.failures = 0;
        }
    }

    /// After a successful login: both records are cleared.
    pub fn succeeded(&self, ip: IpAddr, account: &str) {
        self.ips
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&ip);
        self.accounts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&account.to_lowercase());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ThrottlePolicy {
        ThrottlePolicy {
            lockout_after: 3,
            lockout: Duration::from_millis(80),
            window: Duration::from_secs(60),
            step: Duration::from_millis(10),
            max_delay: Duration::from_millis(25),
        }
    }

    #[test]
    fn delay_grows_then_locks_then_expires() {
        let t = Throttle::new(policy());
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(t.gate(ip, "a@x.test"), Gate::Proceed(Duration::ZERO));
        t.failed(ip, "a@x.test");
        assert_eq!(
            t.gate(ip, "a@x.test"),
            Gate::Proceed(Duration::from_millis(10))
        );
        t.failed(ip, "a@x.test");
        assert_eq!(
            t.gate(ip, "a@x.test"),
            Gate::Proceed(Duration::from_millis(20))
        );
        t.failed(ip, "a@x.test");
        assert_eq!(t.gate(ip, "a@x.test"), Gate::Locked);
        // The account is locked from any address, the address for any account.
        assert_eq!(
            t.gate("192.0.2.8".parse().unwrap(), "A@x.test"),
            Gate::Locked
        );
        assert_eq!(t.gate(ip, "b@x.test"), Gate::Locked);
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(t.gate(ip, "a@x.test"), Gate::Proceed(Duration::ZERO));
    }

    #[test]
    fn success_clears_and_delay_is_capped() {
        let t = Throttle::new(ThrottlePolicy {
            lockout_after: 100,
            ..policy()
        });
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        for _ in 0..10 {
            t.failed(ip, "a@x.test");
        }
        assert_eq!(
            t.gate(ip, "a@x.test"),
            Gate::Proceed(Duration::from_millis(25))
        );
        t.succeeded(ip, "a@x.test");
        assert_eq!(t.gate(ip, "a@x.test"), Gate::Proceed(Duration::ZERO));
    }
}
