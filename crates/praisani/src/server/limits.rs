//! Connection limits: a budget per service (MX SMTP, submission, POP3,
//! HTTP), one over all listeners, and one per client IP address; and the
//! pressure signal that shortens the idle timeout of clients that have not
//! greeted or logged in yet while a budget is nearly used up.

use std::collections::HashMap;
use std::net::IpAddr;
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

/// The open connections per budget, and the pressure flags derived from
/// them.
struct Pressures {
    open: Mutex<Open>,
    /// In use from this many on, a service's budget is under pressure...
    from: [usize; 4],
    /// ...and the total.
    total_from: usize,
    /// Per service: its budget or the total is under pressure. One flag
    /// per connection to watch keeps an idle connection's wait small.
    flags: [watch::Sender<bool>; 4],
}

/// Connections accepted and open. The semaphores count one more per
/// listener: the slot its accept loop holds for the next client.
#[derive(Default)]
struct Open {
    service: [usize; 4],
    total: usize,
}

/// From this many in use, `max` is under pressure (rounded up, at least
/// one, so "80 % of 1" is "full").
fn pressure_from(max: usize, percent: u8) -> usize {
    (max * usize::from(percent)).div_ceil(100).max(1)
}

impl Pressures {
    /// Counts a connection opened (or closed) and recomputes the flags;
    /// waiting connections are woken only when their flag flips.
    fn count(&self, budget: Budget, opened: bool) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let i = budget as usize;
        if opened {
            open.service[i] += 1;
            open.total += 1;
        } else {
            open.service[i] -= 1;
            open.total -= 1;
        }
        let total = open.total >= self.total_from;
        for (i, flag) in self.flags.iter().enumerate() {
            let now = total || open.service[i] >= self.from[i];
            flag.send_if_modified(|on| std::mem::replace(on, now) != now);
        }
    }
}

/// Counts open connections.
pub(crate) struct ConnLimits {
    total: Arc<Semaphore>,
    max_total: usize,
    services: [Arc<Semaphore>; 4],
    pressures: Arc<Pressures>,
    per_ip: Arc<Mutex<HashMap<IpAddr, usize>>>,
    max_per_ip: usize,
}

/// A connection's place in its service's budget and in the total; both are
/// given back when it is dropped.
pub(crate) struct Slot {
    _permits: (OwnedSemaphorePermit, OwnedSemaphorePermit),
    budget: Budget,
    pressures: Arc<Pressures>,
    /// Counted as open ([`admit`](Self::admit)).
    open: bool,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.open {
            self.pressures.count(self.budget, false);
        }
    }
}

impl Slot {
    /// A client was accepted into this slot: from now on it counts towards
    /// the pressure on its budgets.
    pub(crate) fn admit(&mut self) {
        if !self.open {
            self.open = true;
            self.pressures.count(self.budget, true);
        }
    }

    /// Watches the pressure on this connection's budgets.
    pub(crate) fn pressure(&self) -> Pressure {
        Pressure(self.pressures.flags[self.budget as usize].subscribe())
    }
}

/// Whether the budgets a connection counts against (its service's and the
/// total) are under pressure.
pub(crate) struct Pressure(watch::Receiver<bool>);

impl Pressure {
    /// Under pressure now.
    pub(crate) fn on(&mut self) -> bool {
        *self.0.borrow_and_update()
    }

    /// Resolves when the pressure may have changed.
    async fn changed(&mut self) {
        if self.0.changed().await.is_err() {
            std::future::pending::<()>().await
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
    /// Waits for the future `input` makes (the client's next bytes).
    /// `unproven`: the client has not greeted or logged in yet, so pressure
    /// shortens its timeout, also while it is already waiting (the wait is
    /// counted from its start, so clients idle longer than the short
    /// timeout go at once).
    pub(crate) async fn wait<F: Future>(
        &mut self,
        input: impl FnOnce() -> F,
        unproven: bool,
    ) -> Waited<F::Output> {
        let since = Instant::now();
        // Made here, not passed in, so an idle connection's state holds it
        // once.
        let mut input = std::pin::pin!(input());
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
        let services = [sizes.smtp, sizes.submission, sizes.pop3, sizes.http];
        let percent = sizes.pressure_percent;
        ConnLimits {
            total: Arc::new(Semaphore::new(sizes.total)),
            max_total: sizes.total,
            services: services.map(|n| Arc::new(Semaphore::new(n))),
            pressures: Arc::new(Pressures {
                open: Mutex::new(Open::default()),
                from: services.map(|n| pressure_from(n, percent)),
                total_from: pressure_from(sizes.total, percent),
                flags: std::array::from_fn(|_| watch::channel(false).0),
            }),
            per_ip: Arc::new(Mutex::new(HashMap::new())),
            max_per_ip: sizes.per_ip,
        }
    }

    /// Waits for a free slot in `budget` and then in the total. A full
    /// budget of one service leaves the others' clients unaffected.
    pub(crate) async fn acquire(&self, budget: Budget) -> Option<Slot> {
        let own = self.services[budget as usize]
            .clone()
            .acquire_owned()
            .await
            .ok()?;
        let all = self.total.clone().acquire_owned().await.ok()?;
        Some(Slot {
            _permits: (own, all),
            budget,
            pressures: self.pressures.clone(),
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
        let n = u32::try_from(self.max_total).unwrap_or(u32::MAX);
        let _all = self.total.acquire_many(n).await;
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
        let (waited, _b) = tokio::join!(idle.wait(std::future::pending::<()>, true), press);
        assert!(matches!(waited, Waited::Pressure));
        assert_eq!(start.elapsed().as_secs(), 20);
        // A client that has greeted keeps the protocol's timeout.
        let start = Instant::now();
        let waited = limit(&a).wait(std::future::pending::<()>, false).await;
        assert!(matches!(waited, Waited::TimedOut));
        assert_eq!(start.elapsed().as_secs(), 300);
    }
}
