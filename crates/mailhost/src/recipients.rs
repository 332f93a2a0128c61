//! Resolving an envelope recipient to the mailboxes that receive it.

use praisani_mailaddr::Address;
use praisani_store::{AccountId, Lookup, Store, StoreError, Usage};
use std::collections::HashSet;

/// Aliases may point at aliases; expansion stops at this depth.
pub const MAX_ALIAS_DEPTH: usize = 8;

/// A mailbox a recipient resolved to, with its storage usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mailbox {
    /// The account.
    pub id: AccountId,
    /// Its quotas and usage when it was looked up.
    pub usage: Usage,
}

/// What a recipient address resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Local mailboxes, without duplicates.
    Local {
        /// The mailboxes.
        mailboxes: Vec<Mailbox>,
        /// Addresses outside our domains that an alias forwards to.
        remote: Vec<Address>,
    },
    /// A hosted domain without this mailbox or alias.
    Unknown,
    /// Not one of our domains.
    NotHosted,
}

/// Follows aliases (breadth first, each address once, to
/// [`MAX_ALIAS_DEPTH`]) and returns the mailboxes an address delivers to.
pub async fn resolve(store: &dyn Store, address: &Address) -> Result<Resolution, StoreError> {
    let mut mailboxes: Vec<Mailbox> = Vec::new();
    let mut remote = Vec::new();
    let mut seen: HashSet<Address> = HashSet::new();
    let mut level = vec![address.clone()];
    seen.insert(address.clone());
    for depth in 0..=MAX_ALIAS_DEPTH {
        let mut next = Vec::new();
        for a in level {
            match store.lookup(&a).await? {
                Lookup::Account { id, usage } => {
                    if !mailboxes.iter().any(|m| m.id == id) {
                        mailboxes.push(Mailbox { id, usage });
                    }
                }
                Lookup::Alias(targets) => {
                    for t in targets {
                        if seen.insert(t.clone()) {
                            next.push(t);
                        }
                    }
                }
                Lookup::UnknownLocal if depth == 0 => return Ok(Resolution::Unknown),
                Lookup::NotHosted if depth == 0 => return Ok(Resolution::NotHosted),
                Lookup::NotHosted => remote.push(a),
                // An alias pointing at a missing local mailbox: skip it, as
                // the other targets still deserve the mail.
                Lookup::UnknownLocal => {
                    tracing::warn!(target = %a, alias = %address, "alias target does not exist")
                }
            }
        }
        if next.is_empty() {
            break;
        }
        level = next;
    }
    Ok(Resolution::Local { mailboxes, remote })
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
    async fn aliases_expand_with_loops_and_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        store
            .domain_add(&Domain::parse("example.test").unwrap())
            .await
            .unwrap();
        let new = |s: &str| NewAccount {
            address: a(s),
            password_hash: String::new(),
            apop_secret: None,
            scram: None,
            quota_bytes: None,
        };
        let x = store.account_add(new("x@example.test")).await.unwrap();
        let y = store.account_add(new("y@example.test")).await.unwrap();
        store
            .alias_add(
                &a("team@example.test"),
                &[a("x@example.test"), a("loop@example.test")],
            )
            .await
            .unwrap();
        store
            .alias_add(
                &a("loop@example.test"),
                &[
                    a("team@example.test"),
                    a("y@example.test"),
                    a("x@example.test"),
                    a("z@remote.test"),
                ],
            )
            .await
            .unwrap();
        let r = resolve(&store, &a("team@example.test")).await.unwrap();
        let Resolution::Local { mailboxes, remote } = r else {
            panic!("{r:?}")
        };
        assert_eq!(
            mailboxes.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![x, y]
        );
        assert!(mailboxes.iter().all(|m| m.usage.quota_bytes.is_none()));
        assert_eq!(remote, vec![a("z@remote.test")]);
        assert_eq!(
            resolve(&store, &a("nobody@example.test")).await.unwrap(),
            Resolution::Unknown
        );
        assert_eq!(
            resolve(&store, &a("x@elsewhere.test")).await.unwrap(),
            Resolution::NotHosted
        );
    }
}
