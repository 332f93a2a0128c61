//! Reading one message for RETR or TOP, in the form the session lists it.

use praisani_pop3::RetrieveFailure;
use praisani_store::{BodyStream, HeaderDowngrade, StoreError};

use super::Maildrop;

/// Why a message cannot be sent.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Removed underneath the session (say, the account was deleted by an
    /// administrator): retrying will not help.
    #[error("message no longer exists")]
    Gone,
    /// The downgraded header could not be read.
    #[error("cannot read downgraded header: {0}")]
    Header(#[source] StoreError),
    /// The message could not be opened.
    #[error("cannot open message: {0}")]
    Open(#[source] StoreError),
    /// The message could not be read.
    #[error("cannot read message: {0}")]
    Read(#[source] StoreError),
}

impl ReadError {
    /// How the failure is reported to the client: `[SYS/PERM]` when the
    /// message is gone, `[SYS/TEMP]` when the store failed.
    pub fn failure(&self) -> RetrieveFailure {
        match self {
            ReadError::Gone => RetrieveFailure::Gone,
            ReadError::Header(_) | ReadError::Open(_) | ReadError::Read(_) => {
                RetrieveFailure::Unreadable
            }
        }
    }
}

/// A message's content as the session shows it, chunk by chunk in bounded
/// memory: for a client without UTF8, the downgraded header comes first in
/// place of the stored one.
pub struct MessageReader {
    /// The downgraded header, not yet yielded.
    header: Option<Vec<u8>>,
    /// The first chunk, read before the reader was handed out.
    first: Option<Option<Vec<u8>>>,
    body: BodyStream,
    /// Octets of the stored header still to leave out.
    skip: u64,
}

impl Maildrop {
    /// Opens message `id` (a listed message's id) for RETR or TOP. The
    /// first chunk is read before this returns, so a store failure can still
    /// be answered with an error instead of a truncated message.
    pub async fn read(&self, id: u64) -> Result<MessageReader, ReadError> {
        let account = self.account.id;
        let message = id as i64;
        let (header, skip) = if self.downgraded.contains(&id) {
            match self.store.message_downgrade(account, message).await {
                Ok(Some(HeaderDowngrade {
                    original_len,
                    header: Some(h),
                })) => (Some(h), original_len),
                Ok(_) | Err(StoreError::NotFound(_)) => return Err(ReadError::Gone),
                Err(e) => return Err(ReadError::Header(e)),
            }
        } else {
            (None, 0)
        };
        let mut body = match self.store.open_message(account, message).await {
            Ok(b) => b,
            Err(StoreError::NotFound(_)) => return Err(ReadError::Gone),
            Err(e) => return Err(ReadError::Open(e)),
        };
        let first = body.next_chunk().await.map_err(ReadError::Read)?;
        Ok(MessageReader {
            header,
            first: Some(first),
            body,
            skip,
        })
    }
}

impl MessageReader {
    /// The next bytes to send (before dot-stuffing), `None` at the end. An
    /// error here comes after the first bytes went out: the response can
    /// no longer become an error.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, ReadError> {
        if let Some(h) = self.header.take() {
            return Ok(Some(h));
        }
        loop {
            let chunk = match self.first.take() {
                Some(c) => c,
                None => self.body.next_chunk().await.map_err(ReadError::Read)?,
            };
            let Some(mut c) = chunk else {
                return Ok(None);
            };
            if self.skip > 0 {
                // Leave out the stored header that the downgraded one replaced.
                let from = usize::try_from(self.skip)
                    .unwrap_or(usize::MAX)
                    .min(c.len());
                self.skip -= from as u64;
                c.drain(..from);
                if c.is_empty() {
                    continue;
                }
            }
            return Ok(Some(c));
        }
    }
}
