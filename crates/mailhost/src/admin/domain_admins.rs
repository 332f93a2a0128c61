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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::accounts::{self, NewMailbox};
    use praisani_message::Language;
    use praisani_store::EmbeddedStore;

    #[tokio::test]
    async fn a_domain_administrator_logs_in_with_its_domains_everyone_else_as_themselves() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let (a, b) = (
            Domain::parse("a.test").unwrap(),
            Domain::parse("b.test").unwrap(),
        );
        for d in [&a, &b] {
            store.domain_add(d).await.unwrap();
        }
        let boss = Address::parse("boss@a.test").unwrap();
        let anna = Address::parse("anna@a.test").unwrap();
        for x in [&boss, &anna] {
            accounts::add(
                &store,
                NewMailbox {
                    address: x.clone(),
                    password: "long-enough-1",
                    apop: false,
                    quota_bytes: None,
                    quota_messages: None,
                    lang: Language::En,
                },
            )
            .await
            .unwrap();
        }
        add(&store, &b, &boss).await.unwrap();
        add(&store, &a, &boss).await.unwrap();
        assert_eq!(
            login_scope(&store, &boss).await.unwrap(),
            TokenScope::Domains(vec![a.clone(), b.clone()])
        );
        assert_eq!(
            login_scope(&store, &anna).await.unwrap(),
            TokenScope::User(anna.clone())
        );
        assert_eq!(list(&store, &a).await.unwrap(), vec![boss.clone()]);
        remove(&store, &a, &boss).await.unwrap();
        remove(&store, &b, &boss).await.unwrap();
        assert_eq!(
            login_scope(&store, &boss).await.unwrap(),
            TokenScope::User(boss.clone())
        );
        assert!(matches!(
            list(&store, &Domain::parse("c.test").unwrap()).await,
            Err(AdminError::NotHosted(_))
        ));
    }
}
