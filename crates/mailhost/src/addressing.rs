//! Addresses that reach a mailbox without being its exact name:
//! sub-addresses (`anna+shop@example.com` → `anna@example.com`) and a
//! domain's catch-all (the alias `*@example.com`, taking mail for any
//! address of the domain that has no mailbox or alias of its own).
//!
//! Neither widens what an outsider can learn or relay: an address resolves
//! through a sub-address only when its base exists, and through the
//! catch-all only in a domain that has one, so unknown users of other
//! domains still get `550 5.1.1`; remote domains are never touched.

use std::collections::HashMap;

use praisani_mailaddr::{Address, Domain};
use praisani_store::{Store, StoreError};

use crate::recipients::{Resolution, resolve};

/// The local part of a domain's catch-all alias.
pub const CATCH_ALL_LOCAL: &str = "*";

/// How sub-addresses are read, globally and per hosted domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addressing {
    /// The characters that start a sub-address tag (any of them, the first
    /// one in the local part counts); empty: no sub-addressing.
    pub delimiters: String,
    /// Per domain (lower-case A-label), its own delimiters ("" = off).
    pub per_domain: HashMap<String, String>,
}

impl Default for Addressing {
    /// `+`, as Postfix, Dovecot, Gmail and Outlook.com read it.
    fn default() -> Self {
        Addressing {
            delimiters: "+".into(),
            per_domain: HashMap::new(),
        }
    }
}

impl Addressing {
    /// The delimiters that apply in `domain`.
    pub fn delimiters_for(&self, domain: &Domain) -> &str {
        self.per_domain
            .get(&domain.ascii().to_ascii_lowercase())
            .unwrap_or(&self.delimiters)
    }

    /// `address` without its sub-address tag, and the tag; `None` when it
    /// has none (or sub-addressing is off in its domain).
    pub fn split(&self, address: &Address) -> Option<(Address, String)> {
        let delimiters = self.delimiters_for(address.domain());
        let local = address.local();
        let at = local.find(|c| delimiters.contains(c))?;
        if at == 0 {
            return None;
        }
        let base = Address::new(&local[..at], address.domain().clone()).ok()?;
        Some((base, local[at + 1..].to_string()))
    }

    /// The mailboxes mail for `address` goes to: its own mailbox or alias;
    /// else, for a sub-address, its base's; else the domain's catch-all
    /// (not for `postmaster`, which has a fallback of its own).
    pub async fn resolve_recipient(
        &self,
        store: &dyn Store,
        address: &Address,
    ) -> Result<Resolution, StoreError> {
        match self.resolve_sender(store, address).await? {
            Resolution::Unknown => {}
            found => return Ok(found),
        }
        if address.local() == "postmaster" {
            return Ok(Resolution::Unknown);
        }
        let Ok(catch_all) = Address::new(CATCH_ALL_LOCAL, address.domain().clone()) else {
            return Ok(Resolution::Unknown);
        };
        resolve(store, &catch_all).await
    }

    /// As [`Addressing::resolve_recipient`] without the catch-all: which
    /// mailboxes an address belongs to when a user sends as it (a
    /// catch-all's owner does not own every unassigned address).
    pub async fn resolve_sender(
        &self,
        store: &dyn Store,
        address: &Address,
    ) -> Result<Resolution, StoreError> {
        match resolve(store, address).await? {
            Resolution::Unknown => {}
            found => return Ok(found),
        }
        match self.split(address) {
            Some((base, _tag)) => resolve(store, &base).await,
            None => Ok(Resolution::Unknown),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use praisani_store::{EmbeddedStore, NewAccount};

    fn a(s: &str) -> Address {
        Address::parse(s).unwrap()
    }

    #[test]
    fn tags_split_at_the_first_delimiter_of_the_domain() {
        let mut rules = Addressing::default();
        rules.per_domain.insert("dash.test".into(), "-+".into());
        rules.per_domain.insert("off.test".into(), String::new());
        let split = |s: &str| rules.split(&a(s)).map(|(b, t)| (b.canonical(), t));
        assert_eq!(
            split("anna+shop@x.test"),
            Some(("anna@x.test".into(), "shop".into()))
        );
        assert_eq!(
            split("anna+a+b@x.test"),
            Some(("anna@x.test".into(), "a+b".into()))
        );
        assert_eq!(
            split("anna+@x.test"),
            Some(("anna@x.test".into(), String::new()))
        );
        assert_eq!(split("+anna@x.test"), None);
        assert_eq!(split("anna-shop@x.test"), None);
        assert_eq!(
            split("anna-shop@dash.test"),
            Some(("anna@dash.test".into(), "shop".into()))
        );
        assert_eq!(split("anna+shop@off.test"), None);
        assert_eq!(
            split("อันนา+ร้าน@x.test"),
            Some(("อันนา@x.test".into(), "ร้าน".into()))
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sub_addresses_and_the_catch_all() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        for d in ["plain.test", "catch.test"] {
            store.domain_add(&Domain::parse(d).unwrap()).await.unwrap();
        }
        let new = |s: &str| NewAccount {
            address: a(s),
            password_hash: String::new(),
            apop_secret: None,
            scram: None,
            quota_bytes: None,
        };
        let anna = store.account_add(new("anna@plain.test")).await.unwrap();
        let boss = store.account_add(new("boss@catch.test")).await.unwrap();
        store
            .alias_add(&a("*@catch.test"), &[a("boss@catch.test")])
            .await
            .unwrap();
        let rules = Addressing::default();
        let ids = |r: Resolution| match r {
            Resolution::Local { mailboxes, .. } => mailboxes.iter().map(|m| m.id).collect(),
            _ => Vec::new(),
        };
        let rcpt = |s: &'static str| {
            let (store, rules) = (&store, &rules);
            async move { rules.resolve_recipient(store, &a(s)).await.unwrap() }
        };
        assert_eq!(ids(rcpt("anna+shop@plain.test").await), [anna]);
        // Unknown users, with or without a tag, in a domain without a catch-all.
        assert_eq!(rcpt("nobody@plain.test").await, Resolution::Unknown);
        assert_eq!(rcpt("nobody+x@plain.test").await, Resolution::Unknown);
        assert_eq!(rcpt("x@elsewhere.test").await, Resolution::NotHosted);
        // The catch-all takes anything of its domain but postmaster.
        assert_eq!(ids(rcpt("anything@catch.test").await), [boss]);
        assert_eq!(ids(rcpt("x+y@catch.test").await), [boss]);
        assert_eq!(rcpt("postmaster@catch.test").await, Resolution::Unknown);
        // Sending as an address: sub-addresses yes, the catch-all no.
        let sender = |s: &str| {
            let (store, rules) = (&store, &rules);
            let s = a(s);
            async move { rules.resolve_sender(store, &s).await.unwrap() }
        };
        assert_eq!(ids(sender("anna+news@plain.test").await), [anna]);
        assert_eq!(sender("billing@catch.test").await, Resolution::Unknown);
    }
}
