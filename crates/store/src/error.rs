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

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        // The database's own message says more than "db error".
        match e.as_db_error() {
            Some(db) => StoreError::Unavailable(format!(
                "PostgreSQL: {} ({})",
                db.message(),
                db.code().code()
            )),
            None => StoreError::Unavailable(format!("PostgreSQL: {e}")),
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            other => StoreError::Unavailable(format!("PostgreSQL connection pool: {other}")),
        }
    }
}
