//! Aliases: addresses whose mail goes to one or more other addresses.

use super::AdminError;
use praisani_mailaddr::{Address, Domain};
use praisani_store::{Alias, Store};

/// Creates the alias `alias` delivering to `targets`, which must not
/// include the alias itself.
pub async fn add(
    store: &dyn Store,
    alias: &Address,
    targets: &[Address],
) -> Result<(), AdminError> {
    if targets.contains(alias) {
        return Err(AdminError::AliasToItself(alias.clone()));
    }
    Ok(store.alias_add(alias, targets).await?)
}

/// Removes an alias.
pub async fn remove(store: &dyn Store, alias: &Address) -> Result<(), AdminError> {
    Ok(store.alias_remove(alias).await?)
}

/// The aliases, of one domain or of all.
pub async fn list(store: &dyn Store, domain: Option<&Domain>) -> Result<Vec<Alias>, AdminError> {
    Ok(store.alias_list(domain).await?)
}
