//! Inspecting and steering the outbound queue by hand.

use praisani_store::{QueueEntry, QueueId, Store, StoreError, Subject};

/// Every queued message with its recipients' states.
pub async fn list(store: &dyn Store) -> Result<Vec<QueueEntry>, StoreError> {
    store.queue_list().await
}

/// One queued message, or [`StoreError::NotFound`].
pub async fn show(store: &dyn Store, id: QueueId) -> Result<QueueEntry, StoreError> {
    store
        .queue_get(id)
        .await?
        .ok_or(StoreError::NotFound(Subject::Queued(id)))
}

/// Makes the pending recipients of message `id` due at `now`; answers how
/// many there were.
pub async fn retry(store: &dyn Store, id: QueueId, now: i64) -> Result<u64, StoreError> {
    store.queue_retry_now(Some(id), now).await
}

/// Makes every pending recipient due at `now`; answers how many there were.
pub async fn flush(store: &dyn Store, now: i64) -> Result<u64, StoreError> {
    store.queue_retry_now(None, now).await
}

/// Removes message `id` from the queue: its pending recipients are dropped
/// without a bounce.
pub async fn delete(store: &dyn Store, id: QueueId) -> Result<(), StoreError> {
    store.queue_delete(id).await
}
