//! [`StoreError`]: what can go wrong in a store.

/// A store operation's failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The named thing does not exist.
    #[error("{0} does not exist")]
    NotFound(String),
    /// The named thing already exists.
    #[error("{0} already exists")]
    Duplicate(String),
    /// The operation conflicts with existing data (for example removing a
    /// domain that still has mailboxes).
    #[error("{0}")]
    Conflict(String),
    /// The store cannot be used now (I/O error, database unreachable). The
    /// caller should answer with a temporary failure.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

impl StoreError {
    /// True for failures worth retrying later (as opposed to bad requests).
    pub fn is_temporary(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}
