//! Inspecting and steering the outbound queue by hand.

use praisani_store::{QueueEntry, QueueId, QueueTarget, Store, StoreError, Subject};

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

/// Holds message `id`'s pending recipients: they are not sent until
/// released. Answers how many.
pub async fn hold(store: &dyn Store, id: QueueId) -> Result<u64, StoreError> {
    store.queue_hold(QueueTarget::Message(id)).await
}

/// Releases message `id`'s held recipients: due at `now`, or with
/// `delete` removed (the message with them when none is left to send).
pub async fn release(
    store: &dyn Store,
    id: QueueId,
    delete: bool,
    now: i64,
) -> Result<u64, StoreError> {
    store
        .queue_release(QueueTarget::Message(id), delete, now)
        .await
}
