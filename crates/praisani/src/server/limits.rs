//! Connection limits: a budget per service (MX SMTP, submission, POP3,
//! HTTP), one over all listeners, and one per client IP address; and the
//! pressure signal that shortens the idle timeout of clients that have not
//! greeted or logged in yet while a budget is nearly used up.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;

/// Which budget a listener's connections count against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Budget {
    /// SMTP from other servers (`limits.max_connections_smtp`).
    Smtp,
    /// Submission on both ports (`limits.max_connections_submission`).
    Submission,
    /// POP3 and POP3S (`limits.max_connections_pop3`).
    Pop3,
    /// Auto-configuration over HTTP(S) (`limits.max_connections_http`).
    Http,
}

/// The sizes of the budgets and when they count as under pressure.
#[derive(Clone, Debug)]
pub(crate) struct Sizes {
    /// Over all listeners.
    pub total: usize,
    /// Per service, in [`Budget`] order.
    pub smtp: usize,
    pub submission: usize,
    pub pop3: usize,
    pub http: usize,
    /// Per client IP address, over all listeners.
    pub per_ip: usize,
    /// A budget is under pressure from this share of it in use, in percent.
    pub pressure_percent: u8,
}

/// One budget: a semaphore and the pressure flag derived from its use.
struct Pool {
    sem: Arc<Semaphore>,
    max: usize,
    /// Connections accepted and open. The semaphore counts one more per
    /// listener: the slot its accept loop holds for the next client.
    open: AtomicUsize,
    /// In use from this many on, the pool is under pressure.
    pressure_from: usize,
    pressure: watch::Sender<bool>,
}

impl Pool {
    fn new(max: usize, percent: u8) -> Arc<Pool> {
        // Rounded up, and at least one, so "80 % of 1" is "full".
        let pressure_from = (max * usize::from(percent)).div_ceil(100).max(1);
        Arc::new(Pool {
            sem: Arc::new(Semaphore::new(max)),
            max,
            open: AtomicUsize::new(0),
            pressure_from,
            pressure: watch::channel(false).0,
        })
    }

    /// Counts a connection opened (or closed) and recomputes the pressure
    /// flag; waiting connections are woken only when it flips. Counted
    /// inside the channel's lock, so concurrent updates cannot leave a
    /// stale flag behind.
    fn count(&self, opened: bool) {
        self.pressure.send_if_modified(|on| {
            let open = if opened {
                self.open.fetch_add(1, Ordering::Relaxed) + 1
            } else {
                self.open.fetch_sub(1, Ordering::Relaxed) - 1
            };
            let now = open >= self.pressure_from;
            let flipped = *on != now;
            *on = now;
            flipped
        });
    }
}

/// Counts open connections.
pub(crate) struct ConnLimits {
    total: Arc<Pool>,
    services: [Arc<Pool>; 4],
    per_ip: Arc<Mutex<HashMap<IpAddr, usize>>>,
    max_per_ip: usize,
}

/// A connection's place in its service's budget and in the total; both are
/// given back when it is dropped.
pub(crate) struct Slot {
    permits: Option<(OwnedSemaphorePermit, OwnedSemaphorePermit)>,
    service: Arc<Pool>,
    total: Arc<Pool>,
    /// Counted as open ([`admit`](Self::admit)).
    open: bool,
}

impl Drop for Slot {
    fn drop(&mut self) {
        drop(self.permits.take());
        if self.open {
            self.service.count(false);
            self.total.count(false);
        }
    }
}

impl Slot {
    /// A client was accepted into this slot: from now on it counts towards
    /// the pressure on its budgets.
    pub(crate) fn admit(&mut self) {
        if !self.open {
            self.open = true;
            self.service.count(true);
            self.total.count(true);
        }
    }

    /// Watches the pressure on this connection's budgets.
    pub(crate) fn pressure(&self) -> Pressure {
        Pressure {
            service: self.service.pressure.subscribe(),
            total: self.total.pressure.subscribe(),
        }
    }
}

/// Whether the budgets a connection counts against are under pressure.
pub(crate) struct Pressure {
    service: watch::Receiver<bool>,
    total: watch::Receiver<bool>,
}

impl Pressure {
    /// Under pressure now (its service's budget or the total).
    pub(crate) fn on(&mut self) -> bool {
        *self.service.borrow_and_update() || *self.total.borrow_and_update()
    }

    /// Resolves when the pressure may have changed.
    pub(crate) async fn changed(&mut self) {
        tokio::select! {
            r = self.service.changed() => if r.is_err() { std::future::pending::<()>().await },
            r = self.total.changed() => if r.is_err() { std::future::pending::<()>().await },
        }
    }
}

/// How long a connection may wait idle for its client.
pub(crate) struct IdleLimit {
    /// The protocol's own idle timeout.
    pub normal: Duration,
    /// The idle timeout of clients that have not greeted or logged in yet,
    /// while a budget is under pressure.
    pub under_pressure: Duration,
    /// Nothing is waited for past this (`limits.session_max`).
    pub deadline: Instant,
    pub pressure: Pressure,
}

/// What [`IdleLimit::wait`] saw.
pub(crate) enum Waited<T> {
    /// The awaited input came.
    Ready(T),
    /// The idle timeout (or the session's deadline) passed first.
    TimedOut,
    /// An idle client that had not greeted or logged in yet was let go
    /// early because its budget is under pressure.
    Pressure,
}

impl IdleLimit {
    /// Waits for `input` (the client's next bytes). `unproven`: the client
    /// has not greeted or logged in yet, so pressure shortens its timeout,
    /// also while it is already waiting (the wait is counted from its
    /// start, so clients idle longer than the short timeout go at once).
    pub(crate) async fn wait<F: Future>(&mut self, input: F, unproven: bool) -> Waited<F::Output> {
        let since = Instant::now();
        tokio::pin!(input);
        loop {
            let pressed = unproven && self.pressure.on() && self.under_pressure < self.normal;
            let limit = if pressed {
                self.under_pressure
            } else {
                self.normal
            };
            let until = (since + limit).min(self.deadline);
            tokio::select! {
                r = &mut input => return Waited::Ready(r),
                _ = tokio::time::sleep_until(until) => {
                    return if pressed && until < self.deadline {
                        Waited::Pressure
                    } else {
                        Waited::TimedOut
                    };
                }
                _ = self.pressure.changed(), if unproven => {}
            }
        }
    }
}

/// One connection's place in the per-IP count; `allowed` is false when the
/// address already has its maximum.
pub(crate) struct IpSlot {
    ip: IpAddr,
    map: Arc<Mutex<HashMap<IpAddr, usize>>>,
    /// Whether this connection may be served.
    pub allowed: bool,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

impl ConnLimits {
    pub(crate) fn new(sizes: &Sizes) -> Self {
        let pool = |max| Pool::new(max, sizes.pressure_percent);
        ConnLimits {
            total: pool(sizes.total),
            services: [
                pool(sizes.smtp),
                pool(sizes.submission),
                pool(sizes.pop3),
                pool(sizes.http),
            ],
            per_ip: Arc::new(Mutex::new(HashMap::new())),
            max_per_ip: sizes.per_ip,
        }
    }

    /// Waits for a free slot in `budget` and then in the total. A full
    /// budget of one service leaves the others' clients unaffected.
    pub(crate) async fn acquire(&self, budget: Budget) -> Option<Slot> {
        let service = self.services[budget as usize].clone();
        let own = service.sem.clone().acquire_owned().await.ok()?;
        let all = self.total.sem.clone().acquire_owned().await.ok()?;
        Some(Slot {
            permits: Some((own, all)),
            service,
            total: self.total.clone(),
            open: false,
        })
    }

    /// Counts a connection from `ip`.
    pub(crate) fn per_ip(&self, ip: IpAddr) -> IpSlot {
        let mut map = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(ip).or_insert(0);
        *n += 1;
        IpSlot {
            ip,
            map: self.per_ip.clone(),
            allowed: *n <= self.max_per_ip,
        }
    }

    /// Resolves when every connection has closed.
    pub(crate) async fn drained(&self) {
        let n = u32::try_from(self.total.max).unwrap_or(u32::MAX);
        let _all = self.total.sem.acquire_many(n).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(total: usize, service: usize) -> Sizes {
        Sizes {
            total,
            smtp: service,
            submission: service,
            pop3: service,
            http: service,
            per_ip: 2,
            pressure_percent: 50,
        }
    }

    #[test]
    fn per_ip_slots_count_and_release() {
        let l = ConnLimits::new(&sizes(10, 10));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let a = l.per_ip(ip);
        let b = l.per_ip(ip);
        let c = l.per_ip(ip);
        assert!(a.allowed && b.allowed && !c.allowed);
        drop(c);
        drop(b);
        assert!(l.per_ip(ip).allowed);
    }

    #[tokio::test]
    async fn a_full_service_budget_leaves_the_others_free() {
        let l = ConnLimits::new(&sizes(10, 2));
        let _a = l.acquire(Budget::Smtp).await.unwrap();
        let _b = l.acquire(Budget::Smtp).await.unwrap();
        let third = tokio::time::timeout(Duration::from_millis(50), l.acquire(Budget::Smtp));
        assert!(third.await.is_err(), "SMTP budget of 2 gave a third slot");
        let pop = tokio::time::timeout(Duration::from_millis(50), l.acquire(Budget::Pop3));
        assert!(pop.await.is_ok(), "POP3 starved by SMTP");
    }

    #[tokio::test]
    async fn pressure_flips_with_use() {
        let l = ConnLimits::new(&sizes(100, 4));
        let mut a = l.acquire(Budget::Pop3).await.unwrap();
        a.admit();
        let mut p = a.pressure();
        assert!(!p.on());
        let mut b = l.acquire(Budget::Pop3).await.unwrap();
        assert!(!p.on(), "a slot waiting for its client is not a connection");
        b.admit();
        assert!(p.on(), "2 of 4 is 50 %");
        drop(b);
        assert!(!p.on());
        // Another service's use does not press this one.
        let mut smtp = Vec::new();
        for _ in 0..2 {
            let mut s = l.acquire(Budget::Smtp).await.unwrap();
            s.admit();
            smtp.push(s);
        }
        assert!(!p.on());
    }

    #[tokio::test(start_paused = true)]
    async fn pressure_shortens_the_wait_of_unproven_clients() {
        let l = ConnLimits::new(&sizes(100, 2));
        let mut a = l.acquire(Budget::Smtp).await.unwrap();
        a.admit();
        let limit = |slot: &Slot| IdleLimit {
            normal: Duration::from_secs(300),
            under_pressure: Duration::from_secs(10),
            deadline: Instant::now() + Duration::from_secs(3600),
            pressure: slot.pressure(),
        };
        let mut idle = limit(&a);
        let start = Instant::now();
        // Pressure arrives while the wait is under way: 20 s idle already,
        // so the client goes at once.
        let press = async {
            tokio::time::sleep(Duration::from_secs(20)).await;
            let mut b = l.acquire(Budget::Smtp).await.unwrap();
            b.admit();
            b
        };
        let (waited, _b) = tokio::join!(idle.wait(std::future::pending::<()>(), true), press);
        assert!(matches!(waited, Waited::Pressure));
        assert_eq!(start.elapsed().as_secs(), 20);
        // A client that has greeted keeps the protocol's timeout.
        let start = Instant::now();
        let waited = limit(&a).wait(std::future::pending::<()>(), false).await;
        assert!(matches!(waited, Waited::TimedOut));
        assert_eq!(start.elapsed().as_secs(), 300);
    }
}
