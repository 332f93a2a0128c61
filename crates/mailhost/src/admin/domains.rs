//! Hosted domains: adding and removing them, their quota for all their
//! mailboxes together, and the retention their mailboxes inherit.

use super::{AdminError, RetentionChange};
use praisani_mailaddr::Domain;
use praisani_store::{DomainContact, DomainInfo, Retention, Store};

/// Hosts `domain`.
pub async fn add(store: &dyn Store, domain: &Domain) -> Result<(), AdminError> {
    Ok(store.domain_add(domain).await?)
}

/// Stops hosting `domain`; with `force` its mailboxes (with their mail)
/// and aliases go too, else a domain that has any is refused.
pub async fn remove(store: &dyn Store, domain: &Domain, force: bool) -> Result<(), AdminError> {
    Ok(store.domain_remove(domain, force).await?)
}

/// Every hosted domain with its counts, usage and settings.
pub async fn list(store: &dyn Store) -> Result<Vec<DomainInfo>, AdminError> {
    Ok(store.domain_list().await?)
}

/// Limits the storage of all the domain's mailboxes together (`None`:
/// unlimited).
pub async fn set_quota(
    store: &dyn Store,
    domain: &Domain,
    quota_bytes: Option<u64>,
) -> Result<(), AdminError> {
    Ok(store.domain_set_quota(domain, quota_bytes).await?)
}

/// Sets (or with `None` clears) who besides the postmaster hears about the
/// domain's accounts — today the notice that one was put on hold.
pub async fn set_contact(
    store: &dyn Store,
    domain: &Domain,
    contact: Option<DomainContact>,
) -> Result<(), AdminError> {
    Ok(store.domain_set_contact(domain, contact).await?)
}

/// The domain's contact, if it has one.
pub async fn contact(
    store: &dyn Store,
    domain: &Domain,
) -> Result<Option<DomainContact>, AdminError> {
    store
        .domain_list()
        .await?
        .into_iter()
        .find(|i| i.domain == *domain)
        .map(|i| i.contact)
        .ok_or_else(|| AdminError::UnknownDomain(domain.clone()))
}

/// Changes the retention the domain's mailboxes inherit, starting from
/// its current one; answers the retention now set.
pub async fn set_retention(
    store: &dyn Store,
    domain: &Domain,
    change: RetentionChange,
) -> Result<Retention, AdminError> {
    let current = store
        .domain_list()
        .await?
        .into_iter()
        .find(|i| i.domain == *domain)
        .ok_or_else(|| AdminError::UnknownDomain(domain.clone()))?;
    let retention = change.apply(current.retention)?;
    store.domain_set_retention(domain, retention).await?;
    Ok(retention)
}

/// Refuses a domain that is not hosted ([`AdminError::NotHosted`]), for
/// the operations that make sense only for hosted ones (DKIM keys, DNS
/// records).
pub async fn ensure_hosted(store: &dyn Store, domain: &Domain) -> Result<(), AdminError> {
    if store.is_hosted(domain).await? {
        Ok(())
    } else {
        Err(AdminError::NotHosted(domain.clone()))
    }
}
