//! Brute-force throttling of logins, per client address and per account.
//!
//! An attempt is recorded *before* its credentials are checked
//! ([`Throttle::begin`] hands out an [`Attempt`]) and counts as a failure
//! while it is in flight, so simultaneous guesses from one address cannot
//! all reach the password check: once `lockout_after` failures (confirmed
//! or in flight) are on an address's record, its next attempts wait
//! ([`Throttle::begin`]) until one in flight is decided — a success frees
//! its place, so many users behind one address still log in at once — and
//! `lockout_after` confirmed failures lock it for `lockout`: the waiting
//! attempts are then refused unchecked.
//! Each confirmed failure on the record makes the next attempt wait `step`
//! longer.
//!
//! Addresses are counted per IPv4 address and per IPv6 /64 (one customer's
//! network; an IPv6 host can pick any address in it).
//!
//! An account is protected by locking the addresses that attack it, not
//! the account: when `lockout_after` failures on one account have come in
//! (from however many addresses), each address that failed on it is
//! locked, and the real user, logging in from elsewhere, is not. Only
//! `account_lockout_after` failures within the window lock the account
//! itself, for everyone — the last resort against an attacker with more
//! addresses than patience.
//!
//! A success clears the account's record only: a client logging in to its
//! own account between guesses at others keeps its address's count.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Limits for [`Throttle`].
#[derive(Clone, Debug)]
pub struct ThrottlePolicy {
    /// Failures per address before it is locked; failures on one account
    /// before the addresses they came from are locked.
    pub lockout_after: u32,
    /// How long a lockout lasts.
    pub lockout: Duration,
    /// Failures on one account within the window before the account itself
    /// is locked, from every address (0: never).
    pub account_lockout_after: u32,
    /// Failures older than this are forgotten.
    pub window: Duration,
    /// Extra delay per earlier failure, added to the fixed failure delay.
    pub step: Duration,
    /// The most extra delay a client can be made to wait.
    pub max_delay: Duration,
}

/// What failures are counted under for a client address: the IPv4 address
/// (also when it comes IPv4-mapped), or the IPv6 address's /64.
pub fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

#[derive(Clone, Copy, Debug)]
struct Record {
    /// Confirmed failures within the window, since the last lockout.
    failures: u32,
    /// Attempts begun and not finished.
    in_flight: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

impl Record {
    fn new(now: Instant) -> Self {
        Record {
            failures: 0,
            in_flight: 0,
            last: now,
            locked_until: None,
        }
    }

    fn locked(&self, now: Instant) -> bool {
        self.locked_until.is_some_and(|t| t > now)
    }
}

/// An account's record: its own counts and the addresses its current
/// failures came from.
#[derive(Debug)]
struct AccountRecord {
    /// Failures since the attacking addresses were last locked.
    record: Record,
    /// Failures within the window, for the account-wide lock.
    total: u32,
    /// Addresses with a failure among `record.failures` (at most
    /// `lockout_after` of them: reaching it locks and clears them).
    sources: Vec<IpAddr>,
}

#[derive(Default)]
struct Records {
    ips: HashMap<IpAddr, Record>,
    accounts: HashMap<String, AccountRecord>,
}

struct Inner {
    policy: ThrottlePolicy,
    records: Mutex<Records>,
    /// Woken whenever an attempt is decided, for attempts waiting for a
    /// place.
    decided: tokio::sync::Notify,
}

/// Failure records by client address and by account name.
pub struct Throttle {
    inner: Arc<Inner>,
}

/// A login attempt under way, recorded as a failure until it is finished:
/// [`Attempt::succeeded`], [`Attempt::failed`], or [`Attempt::abandoned`]
/// when the check could not be made. Dropped unfinished (a cancelled SASL
/// exchange, a dropped connection), it counts as a failure.
#[must_use = "an attempt counts as a failure unless it is finished"]
pub struct Attempt {
    inner: Arc<Inner>,
    ip: IpAddr,
    account: String,
    /// Wait this long before checking (earlier failures on the records).
    pub delay: Duration,
    done: bool,
}

/// A login refused without checking: the address or the account is locked.
#[derive(Debug, PartialEq, Eq)]
pub struct Locked;

/// Why [`Throttle::try_begin`] did not start an attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Locked out.
    Locked,
    /// As many attempts are in flight as failures would lock the address
    /// (or the account): wait until one is decided.
    Full,
}

/// Records kept at most per map; old ones are pruned beyond this.
const MAX_RECORDS: usize = 100_000;

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Records> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fresh(&self, r: &Record, now: Instant) -> bool {
        r.in_flight > 0 || now.duration_since(r.last) < self.policy.window || r.locked(now)
    }

    /// A record's counts are forgotten once it is older than the window
    /// (attempts in flight stay).
    fn refresh(&self, r: &mut Record, now: Instant) -> bool {
        if self.fresh(r, now) {
            return true;
        }
        *r = Record {
            in_flight: r.in_flight,
            ..Record::new(now)
        };
        false
    }

    fn prune(&self, records: &mut Records, now: Instant) {
        if records.ips.len() >= MAX_RECORDS {
            records.ips.retain(|_, r| self.fresh(r, now));
        }
        if records.accounts.len() >= MAX_RECORDS {
            records.accounts.retain(|_, a| self.fresh(&a.record, now));
        }
    }

    fn begin(&self, ip: IpAddr, account: &str) -> Result<Duration, Refused> {
        let now = Instant::now();
        let p = &self.policy;
        let mut records = self.lock();
        self.prune(&mut records, now);
        let Records { ips, accounts } = &mut *records;
        let ip_rec = ips.entry(ip).or_insert_with(|| Record::new(now));
        self.refresh(ip_rec, now);
        // Attempts in flight count: the lockout_after-th guess may still be
        // checked, none after it until some come back as successes.
        if ip_rec.locked(now) {
            return Err(Refused::Locked);
        }
        if ip_rec.failures + ip_rec.in_flight >= p.lockout_after {
            return Err(Refused::Full);
        }
        // The delay counts confirmed failures only: attempts in flight are
        // bounded above, and counting them would slow down many correct
        // logins from one address (an office behind NAT) for nothing.
        let mut count = ip_rec.failures;
        if !account.is_empty() {
            let acc = accounts
                .entry(account.to_owned())
                .or_insert_with(|| AccountRecord {
                    record: Record::new(now),
                    total: 0,
                    sources: Vec::new(),
                });
            if !self.refresh(&mut acc.record, now) {
                acc.total = 0;
                acc.sources.clear();
            }
            let r = &acc.record;
            if r.locked(now) {
                return Err(Refused::Locked);
            }
            if p.account_lockout_after > 0 && acc.total + r.in_flight >= p.account_lockout_after {
                return Err(Refused::Full);
            }
            count = count.max(r.failures);
            acc.record.in_flight += 1;
        }
        ip_rec.in_flight += 1;
        Ok(p.step.saturating_mul(count).min(p.max_delay))
    }

    /// Ends an attempt begun with `begin`, `outcome` says how, and wakes
    /// the attempts waiting for a place.
    fn finish(&self, ip: IpAddr, account: &str, outcome: Outcome) {
        self.decide(ip, account, outcome);
        self.decided.notify_waiters();
    }

    fn decide(&self, ip: IpAddr, account: &str, outcome: Outcome) {
        let now = Instant::now();
        let p = &self.policy;
        let mut records = self.lock();
        let Records { ips, accounts } = &mut *records;
        if let Some(r) = ips.get_mut(&ip) {
            r.in_flight = r.in_flight.saturating_sub(1);
        }
        if let Some(a) = accounts.get_mut(account) {
            a.record.in_flight = a.record.in_flight.saturating_sub(1);
        }
        match outcome {
            Outcome::Abandoned => {}
            Outcome::Succeeded => {
                // The account's record only: the address keeps its count.
                if accounts
                    .get(account)
                    .is_some_and(|a| a.record.in_flight == 0)
                {
                    accounts.remove(account);
                } else if let Some(a) = accounts.get_mut(account) {
                    a.record = Record {
                        in_flight: a.record.in_flight,
                        ..Record::new(now)
                    };
                    a.total = 0;
                    a.sources.clear();
                }
            }
            Outcome::Failed => {
                let r = ips.entry(ip).or_insert_with(|| Record::new(now));
                self.refresh(r, now);
                bump(r, now, p);
                if account.is_empty() {
                    return;
                }
                let a = accounts
                    .entry(account.to_owned())
                    .or_insert_with(|| AccountRecord {
                        record: Record::new(now),
                        total: 0,
                        sources: Vec::new(),
                    });
                if !self.refresh(&mut a.record, now) {
                    a.total = 0;
                    a.sources.clear();
                }
                a.record.failures += 1;
                a.record.last = now;
                a.total += 1;
                if !a.sources.contains(&ip) {
                    a.sources.push(ip);
                }
                if a.record.failures >= p.lockout_after {
                    // Lock the attackers, not the account.
                    for src in a.sources.drain(..) {
                        let r = ips.entry(src).or_insert_with(|| Record::new(now));
                        r.failures = 0;
                        r.last = now;
                        r.locked_until = Some(now + p.lockout);
                    }
                    a.record.failures = 0;
                    tracing::info!(
                        account,
                        "failed logins from several addresses: locking those addresses"
                    );
                }
                if p.account_lockout_after > 0 && a.total >= p.account_lockout_after {
                    a.record.locked_until = Some(now + p.lockout);
                    a.total = 0;
                    tracing::warn!(account, "too many failed logins: locking the account");
                }
            }
        }
    }
}

/// Counts one confirmed failure on an address's record, locking it at
/// `lockout_after`.
fn bump(r: &mut Record, now: Instant, p: &ThrottlePolicy) {
    r.failures += 1;
    r.last = now;
    if r.failures >= p.lockout_after {
        r.locked_until = Some(now + p.lockout);
        r.failures = 0;
    }
}

#[derive(Clone, Copy)]
enum Outcome {
    Succeeded,
    Failed,
    Abandoned,
}

impl Throttle {
    /// Empty records under `policy`.
    pub fn new(policy: ThrottlePolicy) -> Self {
        Throttle {
            inner: Arc::new(Inner {
                policy,
                records: Mutex::new(Records::default()),
                decided: tokio::sync::Notify::new(),
            }),
        }
    }

    /// Before checking credentials for `account` (the canonical name, or
    /// empty when there is none) from `ip`: records the attempt, waiting
    /// first while the attempts in flight could lock the address (or the
    /// account) if they failed; refuses it when the address or the account
    /// is locked.
    pub async fn begin(&self, ip: IpAddr, account: &str) -> Result<Attempt, Locked> {
        loop {
            // Registered before looking, so a decision in between wakes us.
            let decided = self.inner.decided.notified();
            tokio::pin!(decided);
            decided.as_mut().enable();
            match self.try_begin(ip, account) {
                Ok(attempt) => return Ok(attempt),
                Err(Refused::Locked) => return Err(Locked),
                Err(Refused::Full) => decided.await,
            }
        }
    }

    /// [`begin`](Self::begin) without waiting.
    pub fn try_begin(&self, ip: IpAddr, account: &str) -> Result<Attempt, Refused> {
        let ip = source_key(ip);
        let account = account.to_lowercase();
        let delay = self.inner.begin(ip, &account)?;
        Ok(Attempt {
            inner: self.inner.clone(),
            ip,
            account,
            delay,
            done: false,
        })
    }

    /// A failure that was not checked behind [`begin`](Self::begin) (a
    /// request refused before any credential check).
    pub fn failed(&self, ip: IpAddr, account: &str) {
        let ip = source_key(ip);
        let account = account.to_lowercase();
        let inner = &self.inner;
        {
            let mut records = inner.lock();
            records
                .ips
                .entry(ip)
                .or_insert_with(|| Record::new(Instant::now()))
                .in_flight += 1;
            if let Some(a) = records.accounts.get_mut(&account) {
                a.record.in_flight += 1;
            }
        }
        inner.finish(ip, &account, Outcome::Failed);
    }
}

impl Attempt {
    /// The credentials were right: the account's record is cleared (the
    /// address's is not).
    pub fn succeeded(mut self) {
        self.finish(Outcome::Succeeded);
    }

    /// The credentials were wrong.
    pub fn failed(mut self) {
        self.finish(Outcome::Failed);
    }

    /// The check could not be made (the store did not answer): the attempt
    /// counts neither way.
    pub fn abandoned(mut self) {
        self.finish(Outcome::Abandoned);
    }

    fn finish(&mut self, outcome: Outcome) {
        if !std::mem::replace(&mut self.done, true) {
            self.inner.finish(self.ip, &self.account, outcome);
        }
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        self.finish(Outcome::Failed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ThrottlePolicy {
        ThrottlePolicy {
            lockout_after: 3,
            lockout: Duration::from_millis(80),
            account_lockout_after: 0,
            window: Duration::from_secs(60),
            step: Duration::from_millis(10),
            max_delay: Duration::from_millis(25),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn fail(t: &Throttle, from: &str, account: &str) {
        t.try_begin(ip(from), account).unwrap().failed();
    }

    fn delay(t: &Throttle, from: &str, account: &str) -> Result<Duration, Refused> {
        t.try_begin(ip(from), account).map(|a| {
            let d = a.delay;
            a.abandoned();
            d
        })
    }

    #[test]
    fn delay_grows_then_locks_then_expires() {
        let t = Throttle::new(policy());
        assert_eq!(delay(&t, "192.0.2.7", "a@x.test"), Ok(Duration::ZERO));
        fail(&t, "192.0.2.7", "a@x.test");
        assert_eq!(
            delay(&t, "192.0.2.7", "a@x.test"),
            Ok(Duration::from_millis(10))
        );
        fail(&t, "192.0.2.7", "a@x.test");
        assert_eq!(
            delay(&t, "192.0.2.7", "a@x.test"),
            Ok(Duration::from_millis(20))
        );
        fail(&t, "192.0.2.7", "a@x.test");
        // The address is locked for every account ...
        assert_eq!(delay(&t, "192.0.2.7", "a@x.test"), Err(Refused::Locked));
        assert_eq!(delay(&t, "192.0.2.7", "b@x.test"), Err(Refused::Locked));
        // ... the account is not, from elsewhere.
        assert_eq!(delay(&t, "192.0.2.8", "A@x.test"), Ok(Duration::ZERO));
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(delay(&t, "192.0.2.7", "a@x.test"), Ok(Duration::ZERO));
    }

    #[test]
    fn attempts_in_flight_count_before_they_are_checked() {
        let t = Throttle::new(policy());
        let a: Vec<Attempt> = (0..3)
            .map(|_| t.try_begin(ip("192.0.2.9"), "a@x.test").unwrap())
            .collect();
        assert_eq!(
            a.iter().map(|a| a.delay).collect::<Vec<_>>(),
            [Duration::ZERO; 3]
        );
        // The fourth simultaneous guess must wait for a decision ...
        assert_eq!(
            t.try_begin(ip("192.0.2.9"), "b@x.test").err(),
            Some(Refused::Full)
        );
        // ... and is refused unchecked once the three failed (dropped
        // unfinished: failures).
        drop(a);
        assert_eq!(
            t.try_begin(ip("192.0.2.9"), "c@x.test").err(),
            Some(Refused::Locked)
        );
    }

    #[tokio::test]
    async fn a_waiting_attempt_goes_ahead_when_one_in_flight_succeeds() {
        let t = std::sync::Arc::new(Throttle::new(policy()));
        let a: Vec<Attempt> = (0..3)
            .map(|_| t.try_begin(ip("192.0.2.30"), "u@x.test").unwrap())
            .collect();
        let wait = |t: &std::sync::Arc<Throttle>| {
            let t = t.clone();
            tokio::spawn(async move {
                t.begin(ip("192.0.2.30"), "v@x.test")
                    .await
                    .map(|a| a.abandoned())
            })
        };
        let waiting = wait(&t);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        let mut a = a.into_iter();
        a.next().unwrap().succeeded();
        assert_eq!(waiting.await.unwrap(), Ok(()));
        // Two in flight and a third begun: the next one waits, and is
        // refused when all three fail.
        let rest: Vec<Attempt> = a.collect();
        let third = t.try_begin(ip("192.0.2.30"), "w@x.test").unwrap();
        let waiting = wait(&t);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        drop(rest);
        third.failed();
        assert_eq!(waiting.await.unwrap(), Err(Locked));
    }

    #[test]
    fn success_clears_the_account_only() {
        let t = Throttle::new(policy());
        fail(&t, "192.0.2.10", "victim@x.test");
        fail(&t, "192.0.2.10", "victim@x.test");
        t.try_begin(ip("192.0.2.10"), "own@x.test")
            .unwrap()
            .succeeded();
        // The address's two failures remain: one more locks it.
        assert_eq!(
            delay(&t, "192.0.2.10", "own@x.test"),
            Ok(Duration::from_millis(20))
        );
        fail(&t, "192.0.2.10", "victim@x.test");
        assert_eq!(delay(&t, "192.0.2.10", "own@x.test"), Err(Refused::Locked));
        // The victim's record was cleared by its own success elsewhere.
        t.try_begin(ip("192.0.2.11"), "victim@x.test")
            .unwrap()
            .succeeded();
        assert_eq!(delay(&t, "192.0.2.12", "victim@x.test"), Ok(Duration::ZERO));
    }

    #[test]
    fn failures_from_several_addresses_lock_those_addresses() {
        let t = Throttle::new(ThrottlePolicy {
            account_lockout_after: 7,
            ..policy()
        });
        for round in 0..2 {
            let attackers: Vec<String> = (0..3)
                .map(|i| format!("198.51.100.{}", round * 10 + i))
                .collect();
            for a in &attackers {
                fail(&t, a, "v@x.test");
            }
            for a in &attackers {
                assert_eq!(delay(&t, a, "other@x.test"), Err(Refused::Locked), "{a}");
            }
            // The account is open from elsewhere (with delay reset).
            assert_eq!(delay(&t, "203.0.113.1", "v@x.test"), Ok(Duration::ZERO));
        }
        // Six failures so far; the seventh locks the account everywhere.
        fail(&t, "198.51.100.50", "v@x.test");
        assert_eq!(delay(&t, "203.0.113.1", "v@x.test"), Err(Refused::Locked));
        assert_eq!(delay(&t, "203.0.113.1", "w@x.test"), Ok(Duration::ZERO));
    }

    #[test]
    fn ipv6_is_counted_per_64() {
        assert_eq!(source_key(ip("2001:db8:1:2:a:b:c:d")), ip("2001:db8:1:2::"));
        assert_eq!(source_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
        assert_eq!(source_key(ip("192.0.2.1")), ip("192.0.2.1"));
        let t = Throttle::new(policy());
        fail(&t, "2001:db8:1:2::1", "a@x.test");
        fail(&t, "2001:db8:1:2::2", "b@x.test");
        fail(&t, "2001:db8:1:2:ffff::3", "c@x.test");
        assert_eq!(
            delay(&t, "2001:db8:1:2::99", "d@x.test"),
            Err(Refused::Locked)
        );
        assert_eq!(delay(&t, "2001:db8:1:3::1", "d@x.test"), Ok(Duration::ZERO));
    }

    #[test]
    fn delay_is_capped_and_abandoned_attempts_do_not_count() {
        let t = Throttle::new(ThrottlePolicy {
            lockout_after: 100,
            ..policy()
        });
        for _ in 0..10 {
            fail(&t, "2001:db8::1", "a@x.test");
        }
        assert_eq!(
            delay(&t, "2001:db8::1", "a@x.test"),
            Ok(Duration::from_millis(25))
        );
        let t = Throttle::new(policy());
        for _ in 0..5 {
            t.try_begin(ip("192.0.2.20"), "a@x.test")
                .unwrap()
                .abandoned();
        }
        assert_eq!(delay(&t, "192.0.2.20", "a@x.test"), Ok(Duration::ZERO));
    }
}
