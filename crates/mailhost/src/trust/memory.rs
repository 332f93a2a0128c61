//! A budget for the messages held in memory by the checks at once.
//!
//! DKIM needs the whole message, so each check reads it into memory (at
//! most `limits.max_message_size`). Without a bound, many clients ending
//! their DATA at the same moment could make the server hold thousands of
//! large messages at once; with it, a check waits for room before reading
//! its message, and a message larger than the whole budget is checked
//! alone.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The unit the budget is counted in: fine enough for small messages,
/// coarse enough that 4 GiB fits the semaphore's `u32` permits.
const UNIT: u64 = 1024;

/// Octets of messages that may be held for checks at once.
#[derive(Debug, Clone)]
pub struct CheckMemory {
    units: u32,
    semaphore: Arc<Semaphore>,
}

/// Room for one message, given back when dropped.
#[derive(Debug)]
pub struct MemoryPermit {
    _permit: OwnedSemaphorePermit,
    /// Whether other checks had to end first.
    pub waited: bool,
}

impl CheckMemory {
    /// A budget of `bytes` octets (at least one unit).
    pub fn new(bytes: u64) -> Self {
        let units = (bytes / UNIT).clamp(1, u64::from(u32::MAX >> 3)) as u32;
        CheckMemory {
            units,
            semaphore: Arc::new(Semaphore::new(units as usize)),
        }
    }

    /// The budget in octets.
    pub fn bytes(&self) -> u64 {
        u64::from(self.units) * UNIT
    }

    /// Waits until a message of `bytes` octets fits beside the others being
    /// checked; a message larger than the budget takes all of it.
    pub async fn reserve(&self, bytes: u64) -> MemoryPermit {
        let want = bytes.div_ceil(UNIT).clamp(1, u64::from(self.units)) as u32;
        if let Ok(permit) = self.semaphore.clone().try_acquire_many_owned(want) {
            return MemoryPermit {
                _permit: permit,
                waited: false,
            };
        }
        let permit = self
            .semaphore
            .clone()
            .acquire_many_owned(want)
            .await
            .expect("the semaphore is never closed");
        MemoryPermit {
            _permit: permit,
            waited: true,
        }
    }
}

impl Default for CheckMemory {
    /// 256 MiB.
    fn default() -> Self {
        CheckMemory::new(256 * 1024 * 1024)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_reservation_waits_for_room_and_gets_it_when_one_ends() {
        let memory = CheckMemory::new(1024 * 1024);
        let first = memory.reserve(700 * 1024).await;
        assert!(!first.waited);
        let second = tokio::time::timeout(Duration::from_millis(100), memory.reserve(700 * 1024));
        assert!(
            second.await.is_err(),
            "two 700 KiB messages do not fit 1 MiB"
        );
        // Small ones still fit beside the first.
        let _small = memory.reserve(10 * 1024).await;
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(1), memory.reserve(700 * 1024))
            .await
            .expect("room once the first is done");
        let waiting = tokio::spawn({
            let memory = memory.clone();
            async move { memory.reserve(400 * 1024).await.waited }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "400 KiB do not fit beside 710");
        drop(second);
        assert!(waiting.await.unwrap(), "it had to wait, and got room");
    }

    #[tokio::test]
    async fn a_message_larger_than_the_budget_is_checked_alone() {
        let memory = CheckMemory::new(1024 * 1024);
        let big = memory.reserve(50 * 1024 * 1024).await;
        let other = tokio::time::timeout(Duration::from_millis(100), memory.reserve(1));
        assert!(other.await.is_err(), "the big one takes the whole budget");
        drop(big);
        assert_eq!(memory.semaphore.available_permits(), 1024);
        assert_eq!(memory.bytes(), 1024 * 1024);
    }
}
