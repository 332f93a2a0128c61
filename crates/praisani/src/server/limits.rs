//! Connection limits: in total and per client IP address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Counts open connections.
pub(crate) struct ConnLimits {
    total: Arc<Semaphore>,
    max_total: usize,
    per_ip: Arc<Mutex<HashMap<IpAddr, usize>>>,
    max_per_ip: usize,
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
    pub(crate) fn new(max_total: usize, max_per_ip: usize) -> Self {
        ConnLimits {
            total: Arc::new(Semaphore::new(max_total)),
            max_total,
            per_ip: Arc::new(Mutex::new(HashMap::new())),
            max_per_ip,
        }
    }

    /// Waits for a free connection slot.
    pub(crate) async fn acquire(&self) -> Option<OwnedSemaphorePermit> {
        self.total.clone().acquire_owned().await.ok()
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

    #[test]
    fn per_ip_slots_count_and_release() {
        let l = ConnLimits::new(10, 2);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let a = l.per_ip(ip);
        let b = l.per_ip(ip);
        let c = l.per_ip(ip);
        assert!(a.allowed && b.allowed && !c.allowed);
        drop(c);
        drop(b);
        assert!(l.per_ip(ip).allowed);
    }
}
