//! Mailboxes: creating and removing them, their passwords, quotas,
//! notices and retention, and what an account's usage amounts to.

use super::limits::Authority;
use super::{AdminError, RetentionChange};
use crate::passwords;
use crate::passwords::imported::ImportedHash;
use praisani_mailaddr::{Address, Domain};
use praisani_message::Language;
use praisani_store::{Account, NewAccount, Retention, Secrets, Store, StoreError, Subject, Usage};

/// A mailbox to create.
#[derive(Debug, Clone)]
pub struct NewMailbox<'a> {
    /// Its address.
    pub address: Address,
    /// Its password (see [`passwords::generate`] for one made up).
    pub password: &'a str,
    /// Allow APOP logins, which keeps a copy of the password the server
    /// can read.
    pub apop: bool,
    /// Storage limit (`None`: unlimited).
    pub quota_bytes: Option<u64>,
    /// Message-count limit (`None`: unlimited).
    pub quota_messages: Option<u64>,
    /// Language of the notices the user gets.
    pub lang: Language,
}

/// What happens to APOP when a password changes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ApopChange {
    /// APOP stays allowed if it was.
    #[default]
    Keep,
    /// APOP is allowed from now on.
    Allow,
    /// APOP is no longer allowed and its secret is forgotten.
    Forbid,
}

/// A mailbox's quota as set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    /// Storage limit (`None`: unlimited).
    pub bytes: Option<u64>,
    /// Message-count limit (`None`: unlimited).
    pub messages: Option<u64>,
}

/// Where a mailbox's notices go, as set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notices {
    /// Their language.
    pub lang: Language,
    /// The address quota warnings also go to.
    pub warn_to: Option<String>,
}

/// The account of `address`, or [`StoreError::NotFound`].
pub async fn get(store: &dyn Store, address: &Address) -> Result<Account, AdminError> {
    store
        .account_get(address)
        .await?
        .ok_or_else(|| StoreError::NotFound(Subject::Account(address.clone())).into())
}

/// The mailboxes, of one domain or of all.
pub async fn list(store: &dyn Store, domain: Option<&Domain>) -> Result<Vec<Account>, AdminError> {
    Ok(store.account_list(domain).await?)
}

/// Refuses a password no login could type.
pub fn check_password(password: &str) -> Result<(), AdminError> {
    if password.chars().any(|c| c.is_control()) {
        return Err(AdminError::PasswordControlCharacters);
    }
    Ok(())
}

/// Refuses a message-count limit the store cannot hold.
fn check_message_limit(messages: Option<u64>) -> Result<(), AdminError> {
    match messages {
        Some(m) if m > i64::MAX as u64 => Err(AdminError::MessageLimitTooLarge(m)),
        _ => Ok(()),
    }
}

/// Creates a mailbox with the secrets derived from its password and its
/// limits and notice language, on the server's authority (the domain's
/// limits do not apply).
pub async fn add(store: &dyn Store, new: NewMailbox<'_>) -> Result<(), AdminError> {
    add_as(store, new, Authority::Server).await
}

/// [`add`] on `authority`: for a domain administrator within the domain's
/// limits (most mailboxes, quota per mailbox and in total), checked in
/// the store's transaction.
pub async fn add_as(
    store: &dyn Store,
    new: NewMailbox<'_>,
    authority: Authority,
) -> Result<(), AdminError> {
    check_password(new.password)?;
    let secrets = passwords::secrets(new.password, new.apop)?;
    insert(
        store,
        &new.address,
        secrets,
        new.quota_bytes,
        new.quota_messages,
        new.lang,
        authority,
    )
    .await
}

/// A mailbox moving in from another server, with the password hash it
/// had there.
#[derive(Debug, Clone)]
pub struct ImportedMailbox {
    /// Its address.
    pub address: Address,
    /// Its password hash from the old server, verified as it is until the
    /// first login re-hashes it.
    pub hash: ImportedHash,
    /// Storage limit (`None`: unlimited).
    pub quota_bytes: Option<u64>,
    /// Message-count limit (`None`: unlimited).
    pub quota_messages: Option<u64>,
    /// Language of the notices the user gets.
    pub lang: Language,
}

/// The secrets of an imported hash: only the hash; SCRAM credentials and
/// an APOP secret need the password, known at the first login.
pub(crate) fn imported_secrets(hash: &ImportedHash) -> Secrets {
    Secrets {
        password_hash: hash.stored(),
        apop_secret: None,
        scram: None,
    }
}

/// Creates a mailbox that keeps its old server's password hash.
pub async fn add_imported(store: &dyn Store, new: &ImportedMailbox) -> Result<(), AdminError> {
    insert(
        store,
        &new.address,
        imported_secrets(&new.hash),
        new.quota_bytes,
        new.quota_messages,
        new.lang,
        Authority::Server,
    )
    .await
}

async fn insert(
    store: &dyn Store,
    address: &Address,
    secrets: Secrets,
    quota_bytes: Option<u64>,
    quota_messages: Option<u64>,
    lang: Language,
    authority: Authority,
) -> Result<(), AdminError> {
    if address.local() == crate::addressing::CATCH_ALL_LOCAL {
        return Err(AdminError::ReservedAddress(address.clone()));
    }
    check_message_limit(quota_messages)?;
    let new = NewAccount {
        address: address.clone(),
        password_hash: secrets.password_hash,
        apop_secret: secrets.apop_secret,
        scram: secrets.scram,
        quota_bytes,
    };
    if authority.is_bound() {
        store.account_add_within_limits(new).await?;
    } else {
        store.account_add(new).await?;
    }
    if quota_messages.is_some() {
        store
            .account_set_quota(address, quota_bytes, quota_messages)
            .await?;
    }
    if lang != Language::En {
        store.account_set_notices(address, lang, None).await?;
    }
    Ok(())
}

/// Gives `account` a password hash from another server; its SCRAM
/// credentials and APOP secret are forgotten until its next login
/// derives them (APOP stays off: it needs the password itself).
pub async fn set_password_hash(
    store: &dyn Store,
    account: &Account,
    hash: &ImportedHash,
) -> Result<(), AdminError> {
    store
        .account_set_password(&account.address, &imported_secrets(hash))
        .await?;
    Ok(())
}

/// Removes a mailbox and all its mail.
pub async fn remove(store: &dyn Store, address: &Address) -> Result<(), AdminError> {
    Ok(store.account_remove(address).await?)
}

/// Gives `account` a new password, deriving its secrets again; answers
/// whether APOP is allowed now.
pub async fn set_password(
    store: &dyn Store,
    account: &Account,
    password: &str,
    apop: ApopChange,
) -> Result<bool, AdminError> {
    check_password(password)?;
    let apop = match apop {
        ApopChange::Keep => account.apop_secret.is_some(),
        ApopChange::Allow => true,
        ApopChange::Forbid => false,
    };
    let secrets = passwords::secrets(password, apop)?;
    store
        .account_set_password(&account.address, &secrets)
        .await?;
    Ok(apop)
}

/// Sets a mailbox's storage limit and, when `messages` is given, its
/// message-count limit (else that stays as it is).
pub async fn set_quota(
    store: &dyn Store,
    address: &Address,
    bytes: Option<u64>,
    messages: Option<u64>,
) -> Result<Quota, AdminError> {
    set_quota_as(store, address, bytes, messages, Authority::Server).await
}

/// [`set_quota`] on `authority`: for a domain administrator within the
/// domain's quota limits (per mailbox, in total; no unlimited quota where
/// either is set), checked in the store's transaction.
pub async fn set_quota_as(
    store: &dyn Store,
    address: &Address,
    bytes: Option<u64>,
    messages: Option<u64>,
    authority: Authority,
) -> Result<Quota, AdminError> {
    let current = get(store, address).await?;
    let messages = messages.or(current.quota_messages);
    check_message_limit(messages)?;
    if authority.is_bound() {
        store
            .account_set_quota_within_limits(address, bytes, messages)
            .await?;
    } else {
        store.account_set_quota(address, bytes, messages).await?;
    }
    Ok(Quota { bytes, messages })
}

/// A page of the domain's mailboxes after `after` (its cursor), in
/// address order, at most `limit` long (clamped to
/// 1..=[`super::pages::MAX_LIMIT`], [`super::pages::DEFAULT_LIMIT`] when
/// not asked): read from the store a page at a time.
pub async fn page(
    store: &dyn Store,
    domain: &Domain,
    limit: Option<usize>,
    after: Option<&Address>,
) -> Result<super::pages::Page<Account>, AdminError> {
    let limit = super::pages::clamp(limit);
    // One more than asked tells whether a next page exists.
    let mut items = store.account_page(domain, after, limit + 1).await?;
    let next = (items.len() > limit).then(|| items[limit - 1].address.canonical());
    items.truncate(limit);
    Ok(super::pages::Page { items, next })
}

/// Sets the language of a mailbox's notices and where its quota warnings
/// also go (`Some(None)`: nowhere else); `None` leaves either as it is.
pub async fn set_notices(
    store: &dyn Store,
    address: &Address,
    lang: Option<Language>,
    warn_to: Option<Option<Address>>,
) -> Result<Notices, AdminError> {
    let account = get(store, address).await?;
    let lang = lang.unwrap_or(account.lang);
    let warn_to = match warn_to {
        None => account.warn_to,
        Some(w) => w.map(|w| w.to_string()),
    };
    store
        .account_set_notices(address, lang, warn_to.as_deref())
        .await?;
    Ok(Notices { lang, warn_to })
}

/// Changes a mailbox's own retention (which overrides its domain's and
/// the server's), starting from its current one; answers the retention
/// now set.
pub async fn set_retention(
    store: &dyn Store,
    address: &Address,
    change: RetentionChange,
) -> Result<Retention, AdminError> {
    let account = get(store, address).await?;
    let retention = change.apply(account.retention)?;
    store.account_set_retention(address, retention).await?;
    Ok(retention)
}

/// The account's usage in the terms quota arithmetic needs (the domain's
/// share is not shown per account): [`Usage::percent`] is how full it is.
pub fn usage(account: &Account) -> Usage {
    Usage {
        used_bytes: account.used_bytes,
        used_messages: account.used_messages,
        quota_bytes: account.quota_bytes,
        quota_messages: account.quota_messages,
        ..Usage::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use praisani_store::EmbeddedStore;

    fn addr(s: &str) -> Address {
        Address::parse(s).unwrap()
    }

    #[tokio::test]
    async fn a_mailbox_and_its_settings() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let store: &dyn Store = &store;
        super::super::domains::add(store, &Domain::parse("example.test").unwrap())
            .await
            .unwrap();
        let a = addr("a@example.test");
        let new = NewMailbox {
            address: a.clone(),
            password: "secret",
            apop: false,
            quota_bytes: Some(1000),
            quota_messages: Some(5),
            lang: Language::Th,
        };
        assert!(matches!(
            add(
                store,
                NewMailbox {
                    password: "a\tb",
                    ..new.clone()
                }
            )
            .await,
            Err(AdminError::PasswordControlCharacters)
        ));
        assert!(matches!(
            add(
                store,
                NewMailbox {
                    quota_messages: Some(u64::MAX),
                    ..new.clone()
                }
            )
            .await,
            Err(AdminError::MessageLimitTooLarge(_))
        ));
        assert!(get(store, &a).await.is_err(), "refused before creating");
        add(store, new.clone()).await.unwrap();
        let acc = get(store, &a).await.unwrap();
        assert_eq!((acc.quota_bytes, acc.quota_messages), (Some(1000), Some(5)));
        assert_eq!(acc.lang, Language::Th);
        assert!(acc.apop_secret.is_none());

        // The message limit stays without a new one.
        let q = set_quota(store, &a, None, None).await.unwrap();
        assert_eq!(
            q,
            Quota {
                bytes: None,
                messages: Some(5)
            }
        );

        assert!(
            set_password(store, &acc, "new", ApopChange::Allow)
                .await
                .unwrap()
        );
        let acc = get(store, &a).await.unwrap();
        assert!(
            set_password(store, &acc, "newer", ApopChange::Keep)
                .await
                .unwrap()
        );
        assert!(
            !set_password(store, &acc, "newest", ApopChange::Forbid)
                .await
                .unwrap()
        );

        let n = set_notices(store, &a, None, Some(Some(addr("boss@example.test"))))
            .await
            .unwrap();
        assert_eq!(n.lang, Language::Th);
        assert_eq!(n.warn_to.as_deref(), Some("boss@example.test"));
        let n = set_notices(store, &a, Some(Language::En), Some(None))
            .await
            .unwrap();
        assert_eq!(
            n,
            Notices {
                lang: Language::En,
                warn_to: None
            }
        );

        let e = get(store, &addr("nobody@example.test")).await.unwrap_err();
        assert_eq!(e.to_string(), "account nobody@example.test does not exist");
        assert!(!e.is_temporary());
    }
}
