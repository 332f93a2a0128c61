//! [`BodyStream`]: a stored message read back in chunks.

use crate::StoreError;
use async_trait::async_trait;

/// A backend's source of message chunks.
#[async_trait]
pub trait BodySource: Send {
    /// The next chunk, or `None` at the end.
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, StoreError>;
}

/// A message's content, streamed in bounded chunks.
pub struct BodyStream {
    source: Box<dyn BodySource>,
}

impl BodyStream {
    /// Wraps a backend source.
    pub fn new(source: Box<dyn BodySource>) -> Self {
        BodyStream { source }
    }

    /// The next chunk, or `None` at the end.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        self.source.next_chunk().await
    }

    /// Reads the whole content; for tests and small messages only.
    pub async fn read_all(mut self) -> Result<Vec<u8>, StoreError> {
        let mut out = Vec::new();
        while let Some(c) = self.next_chunk().await? {
            out.extend(c);
        }
        Ok(out)
    }
}
