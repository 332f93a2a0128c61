//! [`StoreError`]: what can go wrong in a store.
//!
//! Every variant is typed, so callers can tell the cases apart without
//! reading messages, and a failure of the database or the disk keeps the
//! error it came from ([`std::error::Error::source`]). The texts are what
//! administrators and the CLI tests see: they do not change with the types.

use crate::migrate::Endpoint;
use crate::{AccountId, MessageId, QueueId, QueueRcptId};
use praisani_mailaddr::{Address, Domain};
use std::sync::Arc;

/// A store operation's failure.
#[derive(Debug)]
pub enum StoreError {
    /// The named thing does not exist.
    NotFound(Subject),
    /// The named thing already exists.
    Duplicate(Subject),
    /// The operation conflicts with existing data (for example removing a
    /// domain that still has mailboxes).
    Conflict(Conflict),
    /// The store cannot be used now (I/O error, database unreachable). The
    /// caller should answer with a temporary failure.
    Unavailable(Unavailable),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::NotFound(s) => write!(f, "{s} does not exist"),
            StoreError::Duplicate(s) => write!(f, "{s} already exists"),
            StoreError::Conflict(c) => write!(f, "{c}"),
            StoreError::Unavailable(u) => write!(f, "storage unavailable: {u}"),
        }
    }
}

// By hand: the source of an unavailable store is the library's error
// itself, not the [`Unavailable`] wrapper, whose text is already ours.
impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Unavailable(u) => std::error::Error::source(u),
            _ => None,
        }
    }
}

impl StoreError {
    /// True for failures worth retrying later (as opposed to bad requests).
    pub fn is_temporary(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

/// What a [`StoreError::NotFound`] or [`StoreError::Duplicate`] is about.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Subject {
    /// A hosted domain.
    #[error("domain {0}")]
    Domain(Domain),
    /// An account, by address.
    #[error("account {0}")]
    Account(Address),
    /// An account, by id (deliveries and notices name it so).
    #[error("account #{0}")]
    AccountId(AccountId),
    /// An address, taken by an account or an alias.
    #[error("address {0}")]
    Address(Address),
    /// An alias.
    #[error("alias {0}")]
    Alias(Address),
    /// A message of a mailbox.
    #[error("message #{0}")]
    Message(MessageId),
    /// A message in the outbound queue.
    #[error("queued message {0}")]
    Queued(QueueId),
    /// One recipient of a queued message.
    #[error("queued recipient #{0}")]
    QueuedRcpt(QueueRcptId),
    /// An admin API token, by id.
    #[error("token #{0}")]
    Token(i64),
}

/// Why a [`StoreError::Conflict`] refused the operation.
#[derive(Debug, thiserror::Error)]
pub enum Conflict {
    /// Removing a domain that still has mailboxes or aliases, without force.
    #[error(
        "domain {domain} still has {accounts} mailbox(es) and {aliases} alias(es); use --force to remove them too"
    )]
    DomainNotEmpty {
        /// The domain.
        domain: Domain,
        /// Its mailboxes.
        accounts: u64,
        /// Its aliases.
        aliases: u64,
    },
    /// An alias must lead somewhere.
    #[error("an alias needs at least one target")]
    AliasWithoutTargets,
    /// A migration's source is being served: the copy would miss what
    /// happens next.
    #[error("{0} is in use (POP3 sessions or deliveries under way); stop the nodes first")]
    SourceInUse(Endpoint),
    /// A migration's target holds data, and force was not given.
    #[error("{0} is not empty; use --force to replace what it holds")]
    TargetNotEmpty(Endpoint),
    /// An imported message's UIDL cannot be used (RFC 1939's rules, or it
    /// would collide with the UIDLs this server makes).
    #[error("UIDL \"{uidl}\" cannot be imported: {reason}")]
    BadUidl {
        /// The UIDL, escaped for display.
        uidl: String,
        /// Why not.
        reason: &'static str,
    },
}

/// Why a [`StoreError::Unavailable`] store cannot be used now, with the
/// library's error where one caused it.
#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    /// SQLite failed (the embedded store).
    #[error("{0}")]
    Sqlite(#[source] rusqlite::Error),
    /// A group commit of the embedded store failed: every request in it
    /// gets the same error, hence shared.
    #[error("{0}")]
    Commit(#[source] Arc<rusqlite::Error>),
    /// Reading or writing a file (spool, data directory) failed.
    #[error("{0}")]
    Io(#[source] std::io::Error),
    /// PostgreSQL failed; the database's own message says more than the
    /// driver's "db error", so it is shown.
    #[error("PostgreSQL: {}", pg_text(.0))]
    Postgres(#[source] tokio_postgres::Error),
    /// No connection could be had from the PostgreSQL pool.
    #[error("PostgreSQL connection pool: {0}")]
    Pool(#[source] deadpool_postgres::PoolError),
    /// The PostgreSQL pool could not be set up.
    #[error("PostgreSQL connection pool: {0}")]
    PoolSetup(#[source] deadpool_postgres::BuildError),
    /// The PostgreSQL url does not parse.
    #[error("invalid PostgreSQL url {url:?}: {source}")]
    BadUrl {
        /// The url, its password hidden.
        url: String,
        /// What the driver said.
        #[source]
        source: tokio_postgres::Error,
    },
    /// The embedded store's writer thread is gone.
    #[error("store writer stopped")]
    WriterStopped,
    /// A stored value cannot be read back (names what).
    #[error("stored data is invalid: {0}")]
    Corrupt(&'static str),
    /// The database was set up by a newer praisani.
    #[error(
        "database schema version {version} is newer than this praisani ({known}); upgrade praisani"
    )]
    SchemaTooNew {
        /// The database's schema version.
        version: usize,
        /// The newest this program knows.
        known: usize,
    },
    /// A migration's copy of a table does not match its source.
    #[error(
        "verification failed: {table} has {source_rows} rows in the source, {target_rows} in the target ({copied} copied)"
    )]
    RowsDiffer {
        /// The table.
        table: &'static str,
        /// Rows in the source.
        source_rows: i64,
        /// Rows in the target.
        target_rows: i64,
        /// Rows the migration copied.
        copied: u64,
    },
    /// A migration's copy of the message bodies does not match its source.
    #[error(
        "verification failed: {source_octets} octets of bodies in the source, {target_octets} in the target"
    )]
    OctetsDiffer {
        /// Octets in the source.
        source_octets: i64,
        /// Octets in the target.
        target_octets: i64,
    },
}

/// A PostgreSQL error as shown: the server's message and SQLSTATE when the
/// server answered, else the driver's text.
fn pg_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

/// A stored value that cannot be read back: the store is not usable as it
/// is, which is a temporary failure to the client, not a refusal.
pub(crate) fn corrupt(what: &'static str) -> StoreError {
    Unavailable::Corrupt(what).into()
}

impl From<Unavailable> for StoreError {
    fn from(u: Unavailable) -> Self {
        StoreError::Unavailable(u)
    }
}

impl From<Conflict> for StoreError {
    fn from(c: Conflict) -> Self {
        StoreError::Conflict(c)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Unavailable::Sqlite(e).into()
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        Unavailable::Io(e).into()
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        Unavailable::Postgres(e).into()
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            other => Unavailable::Pool(other).into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_the_ones_users_know() {
        let d = Domain::parse("example.test").unwrap();
        let a = Address::parse("a@example.test").unwrap();
        let cases: Vec<(StoreError, &str)> = vec![
            (
                StoreError::NotFound(Subject::Domain(d.clone())),
                "domain example.test does not exist",
            ),
            (
                StoreError::NotFound(Subject::Account(a.clone())),
                "account a@example.test does not exist",
            ),
            (
                StoreError::NotFound(Subject::AccountId(AccountId::new(7))),
                "account #7 does not exist",
            ),
            (
                StoreError::Duplicate(Subject::Address(a.clone())),
                "address a@example.test already exists",
            ),
            (
                StoreError::NotFound(Subject::Queued(QueueId::new(3))),
                "queued message 3 does not exist",
            ),
            (
                StoreError::NotFound(Subject::QueuedRcpt(QueueRcptId::new(4))),
                "queued recipient #4 does not exist",
            ),
            (
                Conflict::DomainNotEmpty {
                    domain: d,
                    accounts: 1,
                    aliases: 2,
                }
                .into(),
                "domain example.test still has 1 mailbox(es) and 2 alias(es); use --force to remove them too",
            ),
            (
                Conflict::AliasWithoutTargets.into(),
                "an alias needs at least one target",
            ),
            (
                Unavailable::WriterStopped.into(),
                "storage unavailable: store writer stopped",
            ),
            (
                Unavailable::SchemaTooNew {
                    version: 9,
                    known: 7,
                }
                .into(),
                "storage unavailable: database schema version 9 is newer than this praisani (7); upgrade praisani",
            ),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text);
        }
    }

    #[test]
    fn the_cause_is_kept() {
        use std::error::Error;
        let io = std::io::Error::other("disk on fire");
        let e = StoreError::from(io);
        assert!(e.is_temporary());
        assert_eq!(e.to_string(), "storage unavailable: disk on fire");
        let src = e.source().expect("a source");
        assert!(src.downcast_ref::<std::io::Error>().is_some());
        let sqlite = StoreError::from(rusqlite::Error::QueryReturnedNoRows);
        assert!(matches!(
            sqlite,
            StoreError::Unavailable(Unavailable::Sqlite(rusqlite::Error::QueryReturnedNoRows))
        ));
        assert!(sqlite.source().is_some());
        assert!(
            StoreError::NotFound(Subject::Message(MessageId::new(1)))
                .source()
                .is_none()
        );
    }
}
