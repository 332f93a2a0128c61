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
/// `prefix` (see [`crate::Spool::set_prefix`]) put into its first chunk
/// (see [`insert_prefix`]), so readers see the copy as one stream. A body
/// without chunks gets one: the prefix.
pub(crate) fn with_prefix(
    prefix: Option<Vec<u8>>,
    (body_id, chunks, first): (i64, i64, Option<Vec<u8>>),
) -> (i64, i64, Option<Vec<u8>>) {
    match prefix.filter(|p| !p.is_empty()) {
        None => (body_id, chunks, first),
        Some(p) => {
            let mut first = first.unwrap_or_default();
            insert_prefix(&p, &mut first);
            (body_id, chunks.max(1), Some(first))
        }
    }
}

/// Puts a copy's `prefix` into the start of its message `head`: after the
/// `Return-Path:` line when the message starts with one (RFC 5321 section
/// 4.4 has it on top, where Postfix and Dovecot keep it above their
/// `Delivered-To:`), else before everything. The line is short, so it is
/// always within a first chunk.
pub(crate) fn insert_prefix(prefix: &[u8], head: &mut Vec<u8>) {
    const RETURN_PATH: &[u8] = b"return-path:";
    let at = if head.len() >= RETURN_PATH.len()
        && head[..RETURN_PATH.len()].eq_ignore_ascii_case(RETURN_PATH)
    {
        head.windows(2)
            .position(|w| w == b"\r\n")
            .map_or(0, |p| p + 2)
    } else {
        0
    };
    head.splice(at..at, prefix.iter().copied());
}

#[cfg(test)]
mod tests {
    use super::insert_prefix;

    #[test]
    fn prefixes_go_below_the_return_path() {
        let mut m = b"Return-Path: <a@b.test>\r\nReceived: x\r\n\r\nbody".to_vec();
        insert_prefix(b"Delivered-To: c@d.test\r\n", &mut m);
        assert_eq!(
            m,
            b"Return-Path: <a@b.test>\r\nDelivered-To: c@d.test\r\nReceived: x\r\n\r\nbody"
        );
        let mut m = b"Subject: x\r\n\r\n".to_vec();
        insert_prefix(b"P: 1\r\n", &mut m);
        assert_eq!(m, b"P: 1\r\nSubject: x\r\n\r\n");
        // A Return-Path without a line end (cut short): before it.
        let mut m = b"Return-Path: <a@b.test>".to_vec();
        insert_prefix(b"P: 1\r\n", &mut m);
        assert_eq!(m, b"P: 1\r\nReturn-Path: <a@b.test>");
    }
}
