//! The UPDATE state (RFC 1939 section 6): deletions become real.

use praisani_store::{MessageId, StoreError};
use std::collections::HashSet;

use super::Maildrop;

/// Why UPDATE deleted nothing (RFC 1939 allows the server to fail it; the
/// client keeps its messages and tries again).
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// The maildrop lease lapsed: another node may have the maildrop now.
    #[error("maildrop lease lost: no deletions")]
    LeaseLost,
    /// The store refused the deletion.
    #[error("deleting failed: {0}")]
    Delete(#[source] StoreError),
}

impl Maildrop {
    /// Deletes the messages (ids) the client marked, and with EXPIRE 0 also
    /// what this session retrieved; the retrieved messages that stay get
    /// their retrieval time. On success the maildrop is unlocked before the
    /// caller answers `+OK`, so a client that logs in again at once finds
    /// it free. Returns how many messages were deleted.
    pub async fn update(&mut self, delete: &[u64]) -> Result<usize, UpdateError> {
        let mut ids: Vec<MessageId> = delete.iter().map(|&i| super::message_id(i)).collect();
        let mut going: HashSet<MessageId> = ids.iter().copied().collect();
        // EXPIRE 0: what this session retrieved goes now (RFC 2449).
        if self.delete_retrieved {
            for r in &self.retrieved {
                if going.insert(*r) {
                    ids.push(*r);
                }
            }
        }
        // Only what stays needs its retrieval time: one write less when a
        // client deletes what it downloaded.
        self.retrieved.retain(|r| !going.contains(r));
        self.note_retrievals().await;
        if self.lock.as_ref().is_none_or(|l| l.is_lost()) {
            return Err(UpdateError::LeaseLost);
        }
        let timer = praisani_metrics::metrics().store_timer("delete_messages");
        let deleted = self.store.delete_messages(self.account.id, &ids).await;
        drop(timer);
        deleted.map_err(UpdateError::Delete)?;
        self.lock = None;
        Ok(ids.len())
    }
}
