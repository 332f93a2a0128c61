//! API tokens: a random secret shown once to whoever creates it, kept
//! only as its SHA-256 digest.
//!
//! Why a plain SHA-256 and not a password hash (Argon2): a token is 256
//! random bits, not something a person chose, so there is no dictionary to
//! try and a fast hash is already infeasible to invert; a slow hash would
//! only make every API request slow. The digest is also what the store
//! looks the token up by, so no token is ever compared byte by byte with
//! a secret held in memory.

use crate::admin::AdminError;
use base64::Engine;
use praisani_store::Store;
use praisani_store::tokens::{NewToken, TokenInfo, TokenScope};
use sha2::{Digest, Sha256};

/// What every secret starts with: tells a token from a password at a
/// glance (and lets secret scanners find leaked ones).
pub const PREFIX: &str = "pt_";

/// A token just made: its id and the secret, which is not kept anywhere.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The id `token list` shows and `token revoke` takes.
    pub id: i64,
    /// The secret to present as `Authorization: Bearer …`.
    pub secret: String,
}

/// The digest the store keeps of `secret`.
pub fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Makes a new token for `scope` with a fresh random secret.
pub async fn issue(
    store: &dyn Store,
    scope: TokenScope,
    name: &str,
    now: i64,
) -> Result<Issued, AdminError> {
    if let TokenScope::Domains(ds) = &scope
        && ds.is_empty()
    {
        return Err(AdminError::TokenWithoutDomains);
    }
    if name.chars().any(char::is_control) {
        return Err(AdminError::TokenNameControlCharacters);
    }
    let bytes: [u8; 32] = rand::random();
    let secret = format!(
        "{PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let id = store
        .token_create(&NewToken {
            digest: digest(&secret),
            name: name.to_string(),
            scope,
            created: now,
        })
        .await?;
    Ok(Issued { id, secret })
}

/// Makes a token of `scope` for the holder of a `creator` token (the
/// admin API): only within the creator's reach ([`super::rules::reaches`]),
/// else [`AdminError::TokenOutOfReach`]. Its domains must be hosted and
/// its user's mailbox must exist, so a token cannot wait for a domain or
/// a mailbox someone makes later.
pub async fn issue_by(
    store: &dyn Store,
    creator: &TokenScope,
    scope: TokenScope,
    name: &str,
    now: i64,
) -> Result<Issued, AdminError> {
    if !super::rules::reaches(creator, &scope) {
        return Err(AdminError::TokenOutOfReach);
    }
    subjects_exist(store, &scope).await?;
    issue(store, scope, name, now).await
}

/// Refuses a scope whose domains are not hosted or whose user has no
/// mailbox.
pub async fn subjects_exist(store: &dyn Store, scope: &TokenScope) -> Result<(), AdminError> {
    match scope {
        TokenScope::Admin => Ok(()),
        TokenScope::Domains(ds) => {
            for d in ds {
                crate::admin::domains::ensure_hosted(store, d).await?;
            }
            Ok(())
        }
        TokenScope::User(a) => crate::admin::accounts::get(store, a).await.map(|_| ()),
    }
}

/// The tokens the holder of `holder` may see: every one for a server
/// administrator, those within a domain administrator's reach; a user has
/// no business with tokens ([`AdminError::TokenOutOfReach`]).
pub async fn list_for(
    store: &dyn Store,
    holder: &TokenScope,
) -> Result<Vec<TokenInfo>, AdminError> {
    if matches!(holder, TokenScope::User(_)) {
        return Err(AdminError::TokenOutOfReach);
    }
    Ok(store
        .token_list()
        .await?
        .into_iter()
        .filter(|t| super::rules::reaches(holder, &t.scope))
        .collect())
}

/// Revokes token `id` for the holder of `holder`: one out of its reach is
/// refused with [`AdminError::TokenOutOfReach`] whether or not it exists,
/// so ids tell a domain administrator nothing about other tokens.
pub async fn revoke_for(store: &dyn Store, holder: &TokenScope, id: i64) -> Result<(), AdminError> {
    if !matches!(holder, TokenScope::Admin) {
        let mine = list_for(store, holder).await?;
        if !mine.iter().any(|t| t.id == id) {
            return Err(AdminError::TokenOutOfReach);
        }
    }
    revoke(store, id).await
}

/// The token whose secret `presented` is, if it exists now. Asked of the
/// store every time (no cache), so a revoked token is refused at once.
pub async fn authenticate(
    store: &dyn Store,
    presented: &str,
) -> Result<Option<TokenInfo>, AdminError> {
    // Not one of ours: no need to ask the store.
    if !presented.starts_with(PREFIX) || presented.len() > 128 {
        return Ok(None);
    }
    Ok(store.token_by_digest(&digest(presented)).await?)
}

/// Every token, oldest first, without secrets.
pub async fn list(store: &dyn Store) -> Result<Vec<TokenInfo>, AdminError> {
    Ok(store.token_list().await?)
}

/// Revokes a token: from this moment on it is refused.
pub async fn revoke(store: &dyn Store, id: i64) -> Result<(), AdminError> {
    Ok(store.token_revoke(id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_sha256_of_the_whole_secret() {
        assert_eq!(
            digest("abc")[..4],
            [0xba, 0x78, 0x16, 0xbf],
            "SHA-256(\"abc\") begins ba7816bf"
        );
        assert_ne!(digest("pt_a"), digest("pt_b"));
    }
}
