//! The limits a server administrator sets for a domain's administrators
//! (most mailboxes, aliases, quota per mailbox and in total), and on whose
//! authority a change is made: the server's (the CLI, server-admin
//! tokens) is not bound by them, a domain administrator's is.
//!
//! The check itself is [`praisani_store::limits::check`], made by the
//! store in the transaction that makes the change (so two concurrent
//! additions cannot both take the last place).

use super::AdminError;
use praisani_mailaddr::Domain;
use praisani_store::Store;
use praisani_store::tokens::TokenScope;

pub use praisani_store::limits::{DomainLimits, LimitRefusal};

/// On whose authority an administrative change is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Authority {
    /// The server administrator's (the CLI, a server-admin token): the
    /// domain limits do not bind it — they are its own to set.
    Server,
    /// A domain administrator's: the domain's limits bind it.
    Domain,
}

impl Authority {
    /// The authority a token's holder acts with.
    pub fn of(scope: &TokenScope) -> Authority {
        match scope {
            TokenScope::Admin => Authority::Server,
            TokenScope::Domains(_) | TokenScope::User(_) => Authority::Domain,
        }
    }

    /// True when the domain limits apply.
    pub fn is_bound(self) -> bool {
        self == Authority::Domain
    }
}

/// A change to a domain's limits: for each, `None` leaves it, `Some(None)`
/// makes it unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LimitsChange {
    /// Most mailboxes.
    pub mailboxes: Option<Option<u64>>,
    /// Most aliases.
    pub aliases: Option<Option<u64>>,
    /// Most quota of one mailbox.
    pub mailbox_quota: Option<Option<u64>>,
    /// Most quota of all mailboxes together.
    pub total_quota: Option<Option<u64>>,
}

impl LimitsChange {
    /// True when it changes nothing (the CLI then shows the limits).
    pub fn is_empty(&self) -> bool {
        *self == LimitsChange::default()
    }

    /// `current` with this change made.
    pub fn apply(&self, current: DomainLimits) -> DomainLimits {
        DomainLimits {
            mailboxes: self.mailboxes.unwrap_or(current.mailboxes),
            aliases: self.aliases.unwrap_or(current.aliases),
            mailbox_quota: self.mailbox_quota.unwrap_or(current.mailbox_quota),
            total_quota: self.total_quota.unwrap_or(current.total_quota),
        }
    }
}

/// The domain's limits; [`AdminError::NotHosted`] for a domain not hosted.
pub async fn get(store: &dyn Store, domain: &Domain) -> Result<DomainLimits, AdminError> {
    super::domains::ensure_hosted(store, domain).await?;
    Ok(store.domain_limits(domain).await?)
}

/// Replaces the domain's limits. Limits below what the domain already has
/// take nothing away: they refuse further additions.
pub async fn set(
    store: &dyn Store,
    domain: &Domain,
    limits: &DomainLimits,
) -> Result<(), AdminError> {
    super::domains::ensure_hosted(store, domain).await?;
    Ok(store.domain_set_limits(domain, limits).await?)
}

/// Changes some of the domain's limits; answers the limits now set.
pub async fn change(
    store: &dyn Store,
    domain: &Domain,
    change: LimitsChange,
) -> Result<DomainLimits, AdminError> {
    let limits = change.apply(get(store, domain).await?);
    store.domain_set_limits(domain, &limits).await?;
    Ok(limits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::accounts::{self, NewMailbox};
    use crate::admin::aliases;
    use praisani_mailaddr::Address;
    use praisani_message::Language;
    use praisani_store::{Conflict, EmbeddedStore, StoreError};

    #[tokio::test]
    async fn domain_administrators_are_bound_the_server_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let store: &dyn Store = &store;
        let d = Domain::parse("a.test").unwrap();
        assert!(matches!(
            get(store, &d).await,
            Err(AdminError::NotHosted(_))
        ));
        crate::admin::domains::add(store, &d).await.unwrap();
        let now = change(
            store,
            &d,
            LimitsChange {
                mailboxes: Some(Some(1)),
                aliases: Some(Some(0)),
                mailbox_quota: Some(Some(1 << 20)),
                ..LimitsChange::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(now.total_quota, None);
        let mb = |a: &str, quota| NewMailbox {
            address: Address::parse(a).unwrap(),
            password: "secret",
            apop: false,
            quota_bytes: quota,
            quota_messages: None,
            lang: Language::En,
        };
        let limit = |r: Result<(), AdminError>| match r {
            Err(AdminError::Store(StoreError::Conflict(Conflict::Limit(l)))) => l,
            other => panic!("expected a limit, got {other:?}"),
        };
        assert!(matches!(
            limit(accounts::add_as(store, mb("x@a.test", None), Authority::Domain).await),
            LimitRefusal::Unlimited { .. }
        ));
        accounts::add_as(store, mb("x@a.test", Some(1 << 20)), Authority::Domain)
            .await
            .unwrap();
        assert!(matches!(
            limit(accounts::add_as(store, mb("y@a.test", Some(1)), Authority::Domain).await),
            LimitRefusal::Mailboxes { .. }
        ));
        let x = Address::parse("x@a.test").unwrap();
        assert!(matches!(
            limit(
                accounts::set_quota_as(store, &x, Some(2 << 20), None, Authority::Domain)
                    .await
                    .map(|_| ())
            ),
            LimitRefusal::MailboxQuota { .. }
        ));
        assert!(matches!(
            limit(
                aliases::add_as(
                    store,
                    &Address::parse("info@a.test").unwrap(),
                    std::slice::from_ref(&x),
                    Authority::Domain
                )
                .await
            ),
            LimitRefusal::Aliases { .. }
        ));
        // The server administrator (and the CLI) is not bound.
        accounts::add(store, mb("y@a.test", None)).await.unwrap();
        accounts::set_quota(store, &x, None, None).await.unwrap();
        aliases::add(store, &Address::parse("info@a.test").unwrap(), &[x])
            .await
            .unwrap();
    }
}
