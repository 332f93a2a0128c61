//! A small pool of read-only connections; WAL mode lets them read while the
//! writer commits.

use super::schema;
use crate::StoreError;
use rusqlite::Connection;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Read connections, opened on demand and reused.
#[derive(Clone)]
pub(crate) struct ReadPool {
    path: Arc<PathBuf>,
    idle: Arc<Mutex<Vec<Connection>>>,
}

/// Idle connections kept beyond this are closed.
const MAX_IDLE: usize = 16;

impl ReadPool {
    pub(super) fn new(path: PathBuf) -> Self {
        ReadPool {
            path: Arc::new(path),
            idle: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Runs `f` on a pooled connection, on the calling thread.
    ///
    /// Reads run inline rather than on tokio's blocking pool: they are
    /// index lookups served from SQLite's page cache and the OS cache, which
    /// take microseconds, while a hop to the blocking pool and back costs two
    /// thread wake-ups — measured as the largest cost of a POP3 RETR.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = self.take()?;
        let out = f(&conn);
        self.give_back(conn);
        out
    }

    fn take(&self) -> Result<Connection, StoreError> {
        let popped = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match popped {
            Some(c) => Ok(c),
            None => schema::open_connection(&self.path),
        }
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }
}
