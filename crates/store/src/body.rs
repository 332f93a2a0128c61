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

/// Where a chunked body being streamed stands. Both backends read the first
/// chunk when the body is opened (an error then shows before any response
/// is sent) and each later one with a query of its own.
pub(crate) struct ChunkCursor {
    chunks: i64,
    next: i64,
    first: Option<Vec<u8>>,
}

/// What a [`ChunkCursor`] says comes next.
pub(crate) enum NextChunk {
    /// The body is read to its end.
    End,
    /// This chunk was read already.
    Ready(Vec<u8>),
    /// The chunk with this sequence number is to be read.
    Fetch(i64),
}

impl ChunkCursor {
    /// A cursor at the start of a body of `chunks` chunks, the first of
    /// which may have been read.
    pub(crate) fn new(chunks: i64, first: Option<Vec<u8>>) -> Self {
        ChunkCursor {
            chunks,
            next: 0,
            first,
        }
    }

    /// Moves on by one chunk.
    pub(crate) fn advance(&mut self) -> NextChunk {
        if self.next >= self.chunks {
            return NextChunk::End;
        }
        let seq = self.next;
        self.next += 1;
        match self.first.take().filter(|_| seq == 0) {
            Some(first) => NextChunk::Ready(first),
            None => NextChunk::Fetch(seq),
        }
    }
}

/// A body opened as (id, chunk count, first chunk) with a copy's own
/// `prefix` (see [`crate::Spool::set_prefix`]) put in front of its first
/// chunk, so readers see the copy as one stream. A body without chunks
/// gets one: the prefix.
pub(crate) fn with_prefix(
    prefix: Option<Vec<u8>>,
    (body_id, chunks, first): (i64, i64, Option<Vec<u8>>),
) -> (i64, i64, Option<Vec<u8>>) {
    match prefix.filter(|p| !p.is_empty()) {
        None => (body_id, chunks, first),
        Some(mut p) => {
            p.extend_from_slice(first.as_deref().unwrap_or_default());
            (body_id, chunks.max(1), Some(p))
        }
    }
}
