//! Aliases: addresses whose mail goes to one or more other addresses.

use super::AdminError;
use super::limits::Authority;
use crate::addressing::CATCH_ALL_LOCAL;
use praisani_mailaddr::{Address, Domain};
use praisani_store::{Alias, Store, StoreError};

/// Creates the alias `alias` delivering to `targets`, which must not
/// include the alias itself.
pub async fn add(
    store: &dyn Store,
    alias: &Address,
    targets: &[Address],
) -> Result<(), AdminError> {
    add_as(store, alias, targets, Authority::Server).await
}

/// [`add`] on `authority`: for a domain administrator within the domain's
/// alias limit, checked in the store's transaction.
pub async fn add_as(
    store: &dyn Store,
    alias: &Address,
    targets: &[Address],
    authority: Authority,
) -> Result<(), AdminError> {
    if targets.contains(alias) {
        return Err(AdminError::AliasToItself(alias.clone()));
    }
    if authority.is_bound() {
        Ok(store.alias_add_within_limits(alias, targets).await?)
    } else {
        Ok(store.alias_add(alias, targets).await?)
    }
}

/// Removes an alias.
pub async fn remove(store: &dyn Store, alias: &Address) -> Result<(), AdminError> {
    Ok(store.alias_remove(alias).await?)
}

/// The aliases, of one domain or of all.
pub async fn list(store: &dyn Store, domain: Option<&Domain>) -> Result<Vec<Alias>, AdminError> {
    Ok(store.alias_list(domain).await?)
}

/// A page of the domain's aliases after `after` (its cursor), in address
/// order, with their targets, at most `limit` long (as
/// [`super::accounts::page`]): read from the store a page at a time.
pub async fn page(
    store: &dyn Store,
    domain: &Domain,
    limit: Option<usize>,
    after: Option<&Address>,
) -> Result<super::pages::Page<Alias>, AdminError> {
    let limit = super::pages::clamp(limit);
    let mut items = store.alias_page(domain, after, limit + 1).await?;
    let next = (items.len() > limit).then(|| items[limit - 1].address.canonical());
    items.truncate(limit);
    Ok(super::pages::Page { items, next })
}

/// The catch-all alias of `domain` (`*@domain`).
fn catch_all_address(domain: &Domain) -> Address {
    Address::new(CATCH_ALL_LOCAL, domain.clone()).expect("* is a valid local part")
}

/// Sends mail for any address of `domain` without a mailbox or alias of
/// its own to `targets` (replacing an earlier catch-all).
pub async fn set_catch_all(
    store: &dyn Store,
    domain: &Domain,
    targets: &[Address],
) -> Result<(), AdminError> {
    if !store.is_hosted(domain).await? {
        return Err(AdminError::NotHosted(domain.clone()));
    }
    if targets.is_empty() {
        return Err(AdminError::NoTargets);
    }
    let alias = catch_all_address(domain);
    if targets.contains(&alias) {
        return Err(AdminError::AliasToItself(alias));
    }
    match store.alias_remove(&alias).await {
        Ok(()) | Err(StoreError::NotFound(_)) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(store.alias_add(&alias, targets).await?)
}

/// Removes the catch-all of `domain`; unknown addresses get `550` again.
pub async fn remove_catch_all(store: &dyn Store, domain: &Domain) -> Result<(), AdminError> {
    super::domains::ensure_hosted(store, domain).await?;
    Ok(store.alias_remove(&catch_all_address(domain)).await?)
}

/// Where the catch-all of the hosted `domain` delivers, if it has one.
pub async fn catch_all(
    store: &dyn Store,
    domain: &Domain,
) -> Result<Option<Vec<Address>>, AdminError> {
    super::domains::ensure_hosted(store, domain).await?;
    let alias = catch_all_address(domain);
    Ok(store
        .alias_list(Some(domain))
        .await?
        .into_iter()
        .find(|a| a.address == alias)
        .map(|a| a.targets))
}
