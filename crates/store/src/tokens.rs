//! Admin API tokens as the store keeps them: a digest of the secret (never
//! the secret), a name, a scope and the time it was made. What a scope
//! allows is decided in `praisani_mailhost::access`, not here.

use praisani_mailaddr::{Address, Domain};

/// Whom a token speaks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenScope {
    /// The server administrator: everything.
    Admin,
    /// An administrator of these domains (at least one).
    Domains(Vec<Domain>),
    /// The user of this one mailbox.
    User(Address),
}

impl TokenScope {
    /// The kind column: `admin`, `domains` or `user`.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            TokenScope::Admin => "admin",
            TokenScope::Domains(_) => "domains",
            TokenScope::User(_) => "user",
        }
    }

    /// The subjects column: the domains (ASCII, one a line) or the address.
    pub(crate) fn subjects(&self) -> String {
        match self {
            TokenScope::Admin => String::new(),
            TokenScope::Domains(ds) => ds
                .iter()
                .map(|d| d.ascii().to_string())
                .collect::<Vec<_>>()
                .join("\n"),
            TokenScope::User(a) => a.to_string(),
        }
    }

    /// Reads the two columns back; `None` for a row no version wrote.
    pub(crate) fn from_columns(kind: &str, subjects: &str) -> Option<TokenScope> {
        match kind {
            "admin" => Some(TokenScope::Admin),
            "domains" => {
                let ds: Option<Vec<Domain>> =
                    subjects.lines().map(|l| Domain::parse(l).ok()).collect();
                ds.filter(|d| !d.is_empty()).map(TokenScope::Domains)
            }
            "user" => Address::parse(subjects).ok().map(TokenScope::User),
            _ => None,
        }
    }
}

/// A token to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewToken {
    /// The digest of the secret the holder presents (see
    /// `praisani_mailhost::access::tokens`).
    pub digest: [u8; 32],
    /// A name for people (what it is for); may be empty.
    pub name: String,
    /// Whom it speaks for.
    pub scope: TokenScope,
    /// When it was made, Unix seconds.
    pub created: i64,
}

/// A recorded token, without any secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenInfo {
    /// Its id (what `token revoke` takes).
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Whom it speaks for.
    pub scope: TokenScope,
    /// When it was made, Unix seconds.
    pub created: i64,
}

/// The digest column: lower-case hex (the same text in both backends).
pub(crate) fn digest_hex(digest: &[u8; 32]) -> String {
    use std::fmt::Write;
    digest.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A row's columns as a [`TokenInfo`].
pub(crate) fn info(
    id: i64,
    name: String,
    kind: &str,
    subjects: &str,
    created: i64,
) -> Result<TokenInfo, crate::StoreError> {
    let scope = TokenScope::from_columns(kind, subjects)
        .ok_or_else(|| crate::error::corrupt("token scope"))?;
    Ok(TokenInfo {
        id,
        name,
        scope,
        created,
    })
}
