//! Domain administrators: mailboxes the server administrator names to run
//! one or more domains through the web admin. Logged in with its own
//! password, such a mailbox acts with the scope
//! [`TokenScope::Domains`](praisani_store::tokens::TokenScope) of the
//! domains it administers, so the same [`crate::access::allows`] rules
//! decide for it as for a domain administrator's API token.

use super::AdminError;
use praisani_mailaddr::{Address, Domain};
use praisani_store::Store;
use praisani_store::tokens::TokenScope;

/// Makes the mailbox `address` (of any hosted domain) an administrator of
/// `domain`; again is no error.
pub async fn add(store: &dyn Store, domain: &Domain, address: &Address) -> Result<(), AdminError> {
    Ok(store.domain_admin_set(domain, address, true).await?)
}

/// Takes the role away again.
pub async fn remove(
    store: &dyn Store,
    domain: &Domain,
    address: &Address,
) -> Result<(), AdminError> {
    Ok(store.domain_admin_set(domain, address, false).await?)
}

/// The administrators of a hosted domain.
pub async fn list(store: &dyn Store, domain: &Domain) -> Result<Vec<Address>, AdminError> {
    super::domains::ensure_hosted(store, domain).await?;
    Ok(store.domain_admins(domain).await?)
}

/// The scope a mailbox logged in with its own password acts with: the
/// domains it administers, or just itself.
pub async fn login_scope(store: &dyn Store, address: &Address) -> Result<TokenScope, AdminError> {
    let domains = store.admin_domains(address).await?;
    Ok(if domains.is_empty() {
        TokenScope::User(address.clone())
    } else {
        TokenScope::Domains(domains)
    })
}
