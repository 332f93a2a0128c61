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

/// What removing a domain makes of a token's row.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AfterRemoval {
    /// It does not speak for the domain.
    Keep,
    /// A domain administrator's token that keeps its other domains: the
    /// new subjects column.
    Rewrite(String),
    /// It spoke for that domain only, or for a mailbox of it.
    Delete,
}

/// What removing `domain` makes of the token whose columns these are:
/// a domain administrator's token loses the domain (and with no domain
/// left it goes), a user's token of a mailbox there goes.
pub(crate) fn after_domain_removed(kind: &str, subjects: &str, domain: &Domain) -> AfterRemoval {
    match TokenScope::from_columns(kind, subjects) {
        Some(TokenScope::Domains(ds)) if ds.contains(domain) => {
            let left: Vec<Domain> = ds.into_iter().filter(|d| d != domain).collect();
            if left.is_empty() {
                AfterRemoval::Delete
            } else {
                AfterRemoval::Rewrite(TokenScope::Domains(left).subjects())
            }
        }
        Some(TokenScope::User(a)) if a.domain() == domain => AfterRemoval::Delete,
        _ => AfterRemoval::Keep,
    }
}

/// The subjects column of the user tokens of `address` (what removing
/// the mailbox deletes).
pub(crate) fn user_subjects(address: &Address) -> String {
    TokenScope::User(address.clone()).subjects()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removing_a_domain_takes_it_out_of_every_token() {
        let a = Domain::parse("a.test").unwrap();
        let b = Domain::parse("b.test").unwrap();
        let both = TokenScope::Domains(vec![a.clone(), b.clone()]);
        assert_eq!(
            after_domain_removed("domains", &both.subjects(), &a),
            AfterRemoval::Rewrite(TokenScope::Domains(vec![b.clone()]).subjects())
        );
        let only = TokenScope::Domains(vec![a.clone()]).subjects();
        assert_eq!(
            after_domain_removed("domains", &only, &a),
            AfterRemoval::Delete
        );
        assert_eq!(
            after_domain_removed("domains", &only, &b),
            AfterRemoval::Keep
        );
        let anna = user_subjects(&Address::parse("anna@a.test").unwrap());
        assert_eq!(
            after_domain_removed("user", &anna, &a),
            AfterRemoval::Delete
        );
        assert_eq!(after_domain_removed("user", &anna, &b), AfterRemoval::Keep);
        assert_eq!(after_domain_removed("admin", "", &a), AfterRemoval::Keep);
    }
}
