//! The ids a [`crate::Store`] hands out: one type each, so an account id
//! cannot be passed where a message id is meant.
//!
//! The number inside is the database row id. It is for boundaries only:
//! the backends (which store it through the `ToSql`/`FromSql` impls here),
//! command-line arguments ([`std::str::FromStr`]), JSON output and wire
//! protocols ([`AccountId::get`] and the like). It prints as the bare
//! number, as the ids always have.

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(i64);

        impl $name {
            /// The id whose number is `raw` (as stored, or as given on a
            /// command line or by a wire protocol).
            pub const fn new(raw: i64) -> Self {
                $name(raw)
            }

            /// Its number, for output and wire protocols.
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&self.0, f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map($name)
            }
        }

        impl rusqlite::types::ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(self.0.into())
            }
        }

        impl rusqlite::types::FromSql for $name {
            fn column_result(
                value: rusqlite::types::ValueRef<'_>,
            ) -> rusqlite::types::FromSqlResult<Self> {
                i64::column_result(value).map($name)
            }
        }

        impl tokio_postgres::types::ToSql for $name {
            fn to_sql(
                &self,
                ty: &tokio_postgres::types::Type,
                out: &mut bytes::BytesMut,
            ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>>
            {
                self.0.to_sql(ty, out)
            }

            fn accepts(ty: &tokio_postgres::types::Type) -> bool {
                <i64 as tokio_postgres::types::ToSql>::accepts(ty)
            }

            tokio_postgres::types::to_sql_checked!();
        }

        impl<'a> tokio_postgres::types::FromSql<'a> for $name {
            fn from_sql(
                ty: &tokio_postgres::types::Type,
                raw: &'a [u8],
            ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
                i64::from_sql(ty, raw).map($name)
            }

            fn accepts(ty: &tokio_postgres::types::Type) -> bool {
                <i64 as tokio_postgres::types::FromSql>::accepts(ty)
            }
        }
    };
}

id_type! {
    /// Identifies an account within a store.
    AccountId
}

id_type! {
    /// Identifies a message within a store; ascending in arrival order.
    MessageId
}

id_type! {
    /// Identifies a message in the outbound queue.
    QueueId
}

id_type! {
    /// Identifies one recipient of a queued message.
    QueueRcptId
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_and_parse_as_their_number() {
        let id = QueueId::new(42);
        assert_eq!(id.to_string(), "42");
        assert_eq!(format!("{id:>5}"), "   42");
        assert_eq!("42".parse::<QueueId>(), Ok(id));
        assert!("x".parse::<QueueId>().is_err());
        assert_eq!(id.get(), 42);
        assert!(MessageId::new(1) < MessageId::new(2));
    }

    #[test]
    fn ids_round_trip_through_sqlite() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        let back: AccountId = c
            .query_row("SELECT ?1", [AccountId::new(7)], |r| r.get(0))
            .unwrap();
        assert_eq!(back, AccountId::new(7));
    }
}
