//! A mailbox's forwarding: setting it (checked), turning it off, showing
//! it. What a forward does to mail is [`crate::forwarding`]'s.

use super::AdminError;
use super::accounts::get;
use praisani_mailaddr::Address;
use praisani_store::{Forward, Store};

/// Most targets one mailbox forwards to: a forward is for a person's other
/// address or two, not a mailing list.
pub const MAX_TARGETS: usize = 10;

/// Why forwarding settings were refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ForwardError {
    /// No target.
    #[error("give at least one target address")]
    NoTargets,
    /// Too many targets.
    #[error("at most {MAX_TARGETS} forward targets")]
    TooMany,
    /// The mailbox among its own targets.
    #[error("a mailbox cannot forward to itself (use --keep to keep a copy)")]
    ToItself,
}

/// Forwards `address`'s mail to `targets` (each once, in order), keeping
/// a copy in the mailbox when `keep`.
pub async fn set(
    store: &dyn Store,
    address: &Address,
    targets: Vec<Address>,
    keep: bool,
) -> Result<Forward, AdminError> {
    let mut unique: Vec<Address> = Vec::new();
    for t in targets {
        if t.canonical() == address.canonical() {
            return Err(ForwardError::ToItself.into());
        }
        if !unique.iter().any(|u| u.canonical() == t.canonical()) {
            unique.push(t);
        }
    }
    if unique.is_empty() {
        return Err(ForwardError::NoTargets.into());
    }
    if unique.len() > MAX_TARGETS {
        return Err(ForwardError::TooMany.into());
    }
    let forward = Forward {
        targets: unique,
        keep,
    };
    store.account_set_forward(address, Some(&forward)).await?;
    Ok(forward)
}

/// Turns the mailbox's forwarding off.
pub async fn off(store: &dyn Store, address: &Address) -> Result<(), AdminError> {
    Ok(store.account_set_forward(address, None).await?)
}

/// The mailbox's forwarding, if on.
pub async fn show(store: &dyn Store, address: &Address) -> Result<Option<Forward>, AdminError> {
    let account = get(store, address).await?;
    Ok(store.account_forward(account.id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use praisani_mailaddr::Domain;
    use praisani_store::{EmbeddedStore, NewAccount};

    fn a(s: &str) -> Address {
        Address::parse(s).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn settings_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        store
            .domain_add(&Domain::parse("example.test").unwrap())
            .await
            .unwrap();
        store
            .account_add(NewAccount {
                address: a("anna@example.test"),
                password_hash: String::new(),
                apop_secret: None,
                scram: None,
                quota_bytes: None,
            })
            .await
            .unwrap();
        let me = a("anna@example.test");
        let err = |r: Result<Forward, AdminError>| match r {
            Err(AdminError::Forward(e)) => e,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            err(set(&store, &me, vec![], true).await),
            ForwardError::NoTargets
        );
        assert_eq!(
            err(set(&store, &me, vec![a("Anna@EXAMPLE.test")], true).await),
            ForwardError::ToItself
        );
        let many = (0..=MAX_TARGETS)
            .map(|i| a(&format!("x{i}@remote.test")))
            .collect();
        assert_eq!(
            err(set(&store, &me, many, true).await),
            ForwardError::TooMany
        );
        let f = set(
            &store,
            &me,
            vec![a("x@remote.test"), a("X@remote.test"), a("y@remote.test")],
            false,
        )
        .await
        .unwrap();
        assert_eq!(f.targets, vec![a("x@remote.test"), a("y@remote.test")]);
        assert_eq!(show(&store, &me).await.unwrap(), Some(f));
        off(&store, &me).await.unwrap();
        assert_eq!(show(&store, &me).await.unwrap(), None);
        assert!(show(&store, &a("nobody@example.test")).await.is_err());
    }
}
