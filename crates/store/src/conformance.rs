//! The conformance suite every [`Store`] backend must pass.
//!
//! Each check takes a fresh, empty store and panics with a message on the
//! first deviation. Backends call [`run_all`] from their tests.

#![allow(clippy::unwrap_used, clippy::panic)]

use crate::{
    Accepted, AccountId, AttemptResult, Fit, HeaderDowngrade, Keep, LegacyView, Lookup, MessageId,
    NewAccount, Outbound, OutboundRcpt, QueueRcptId, RcptState, Retention, Secrets, Store,
    StoreError,
};
use crate::{ImportMessage, ImportOutcome};
use praisani_mailaddr::{Address, Domain};
use std::sync::Arc;

fn addr(s: &str) -> Address {
    Address::parse(s).expect("test address")
}

fn dom(s: &str) -> Domain {
    Domain::parse(s).expect("test domain")
}

fn account(s: &str) -> NewAccount {
    NewAccount {
        address: addr(s),
        password_hash: "$argon2id$test".into(),
        apop_secret: None,
        scram: None,
        quota_bytes: None,
    }
}

async fn deliver_text<S: Store + ?Sized>(
    store: &S,
    text: &[u8],
    to: &[AccountId],
) -> Vec<MessageId> {
    let mut spool = store.new_spool();
    spool.write(text).unwrap();
    store.deliver(spool, to).await.unwrap()
}

/// Domains: add, duplicate, IDN spellings, list, remove with and without force.
pub async fn domains<S: Store + ?Sized>(store: &S) {
    store.domain_add(&dom("example.test")).await.unwrap();
    store.domain_add(&dom("ตัวอย่าง.ไทย")).await.unwrap();
    let dup = store.domain_add(&dom("EXAMPLE.test")).await;
    assert!(matches!(dup, Err(StoreError::Duplicate(_))), "{dup:?}");
    let alabel = dom("ตัวอย่าง.ไทย").ascii().to_string();
    assert!(matches!(
        store.domain_add(&dom(&alabel)).await,
        Err(StoreError::Duplicate(_))
    ));
    assert!(store.is_hosted(&dom(&alabel)).await.unwrap());
    assert!(!store.is_hosted(&dom("other.test")).await.unwrap());
    let list = store.domain_list().await.unwrap();
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|d| d.contact.is_none()));
    // A contact (here outside the host, with a UTF-8 domain), changed, cleared.
    let contact = crate::DomainContact {
        address: addr("ฝ่ายไอที@บริษัท.ไทย"),
        lang: crate::Language::Th,
    };
    store
        .domain_set_contact(&dom(&alabel), Some(contact.clone()))
        .await
        .unwrap();
    let shown = |list: Vec<crate::DomainInfo>, d: &str| {
        list.into_iter()
            .find(|i| i.domain == dom(d))
            .unwrap()
            .contact
    };
    assert_eq!(
        shown(store.domain_list().await.unwrap(), "ตัวอย่าง.ไทย"),
        Some(contact)
    );
    assert_eq!(
        shown(store.domain_list().await.unwrap(), "example.test"),
        None
    );
    store
        .domain_set_contact(&dom("ตัวอย่าง.ไทย"), None)
        .await
        .unwrap();
    assert_eq!(
        shown(store.domain_list().await.unwrap(), "ตัวอย่าง.ไทย"),
        None
    );
    assert!(matches!(
        store.domain_set_contact(&dom("nope.test"), None).await,
        Err(StoreError::NotFound(_))
    ));
    store.account_add(account("a@example.test")).await.unwrap();
    let refused = store.domain_remove(&dom("example.test"), false).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    store
        .domain_remove(&dom("example.test"), true)
        .await
        .unwrap();
    assert!(
        store
            .account_get(&addr("a@example.test"))
            .await
            .unwrap()
            .is_none()
    );
    store
        .domain_remove(&dom("ตัวอย่าง.ไทย"), false)
        .await
        .unwrap();
    assert!(matches!(
        store.domain_remove(&dom("nope.test"), false).await,
        Err(StoreError::NotFound(_))
    ));
}

/// Accounts and aliases, and what `lookup` says about each kind of address.
pub async fn accounts_and_aliases<S: Store + ?Sized>(store: &S) {
    assert!(matches!(
        store.account_add(account("a@example.test")).await,
        Err(StoreError::NotFound(_))
    ));
    store.domain_add(&dom("example.test")).await.unwrap();
    let id = store
        .account_add(account("Alice@Example.test"))
        .await
        .unwrap();
    assert!(matches!(
        store.account_add(account("alice@example.test")).await,
        Err(StoreError::Duplicate(_))
    ));
    let got = store
        .account_get(&addr("ALICE@example.test"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.id, id);
    assert_eq!(got.used_bytes, 0);
    let secrets = Secrets {
        password_hash: "$new".into(),
        apop_secret: Some("apop".into()),
        scram: Some("SCRAM-SHA-256$4096:c2FsdA==$a2V5:a2V5".into()),
    };
    store
        .account_set_password(&addr("alice@example.test"), &secrets)
        .await
        .unwrap();
    let got = store
        .account_get(&addr("alice@example.test"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.password_hash, "$new");
    assert_eq!(got.apop_secret.as_deref(), Some("apop"));
    assert_eq!(got.scram, secrets.scram);
    // A re-hash applies only over the hash it was computed from.
    let upgraded = Secrets {
        password_hash: "$upgraded".into(),
        apop_secret: None,
        scram: Some("SCRAM-SHA-256$4096:c2FsdA==$b2s=:b2s=".into()),
    };
    assert!(
        !store
            .account_upgrade_password(id, "$stale", &upgraded)
            .await
            .unwrap()
    );
    let got = store.account_by_id(id).await.unwrap().unwrap();
    assert_eq!(got.password_hash, "$new");
    assert!(
        store
            .account_upgrade_password(id, "$new", &upgraded)
            .await
            .unwrap()
    );
    let got = store.account_by_id(id).await.unwrap().unwrap();
    assert_eq!(got.password_hash, "$upgraded");
    assert_eq!(got.apop_secret, None);
    assert_eq!(got.scram, upgraded.scram);
    store
        .account_set_password(&addr("alice@example.test"), &secrets)
        .await
        .unwrap();
    store
        .account_set_quota(&addr("alice@example.test"), Some(1000), None)
        .await
        .unwrap();

    store
        .alias_add(
            &addr("info@example.test"),
            &[addr("alice@example.test"), addr("x@remote.test")],
        )
        .await
        .unwrap();
    assert!(matches!(
        store
            .alias_add(&addr("alice@example.test"), &[addr("b@example.test")])
            .await,
        Err(StoreError::Duplicate(_))
    ));
    assert!(matches!(
        store.account_add(account("info@example.test")).await,
        Err(StoreError::Duplicate(_))
    ));

    match store.lookup(&addr("alice@EXAMPLE.test")).await.unwrap() {
        Lookup::Account { id: got, usage } => {
            assert_eq!(got, id);
            assert_eq!(usage.quota_bytes, Some(1000));
            assert_eq!(usage.used_bytes, 0);
        }
        other => panic!("expected account, got {other:?}"),
    }
    assert_eq!(
        store.lookup(&addr("info@example.test")).await.unwrap(),
        Lookup::Alias(vec![addr("alice@example.test"), addr("x@remote.test")])
    );
    assert_eq!(
        store.lookup(&addr("bob@example.test")).await.unwrap(),
        Lookup::UnknownLocal
    );
    assert_eq!(
        store.lookup(&addr("bob@remote.test")).await.unwrap(),
        Lookup::NotHosted
    );
    assert_eq!(store.alias_list(None).await.unwrap().len(), 1);
    store
        .alias_remove(&addr("info@example.test"))
        .await
        .unwrap();
    assert_eq!(
        store.lookup(&addr("info@example.test")).await.unwrap(),
        Lookup::UnknownLocal
    );
    assert_eq!(
        store
            .account_list(Some(&dom("example.test")))
            .await
            .unwrap()
            .len(),
        1
    );
    store
        .account_remove(&addr("alice@example.test"))
        .await
        .unwrap();
    assert!(matches!(
        store.account_remove(&addr("alice@example.test")).await,
        Err(StoreError::NotFound(_))
    ));
}

/// Delivery, listing, streaming, deletion, usage accounting, one body for many.
pub async fn messages<S: Store + ?Sized>(store: &S) {
    store.domain_add(&dom("example.test")).await.unwrap();
    let a = store.account_add(account("a@example.test")).await.unwrap();
    let b = store.account_add(account("b@example.test")).await.unwrap();
    let big: Vec<u8> = (0..700_000u32)
        .map(|i| b"abcdefghij\r\n"[(i % 12) as usize])
        .collect();
    let ids1 = deliver_text(store, b"Subject: one\r\n\r\nbody\r\n", &[a, b]).await;
    let ids2 = deliver_text(store, &big, &[a]).await;
    let ids3 = deliver_text(store, b"", &[a]).await;
    assert_eq!(ids1.len(), 2);
    let list = store.list_messages(a).await.unwrap();
    assert_eq!(
        list.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![ids1[0], ids2[0], ids3[0]]
    );
    assert_eq!(list[1].size, big.len() as u64);
    let uids: std::collections::HashSet<_> = list.iter().map(|m| m.uidl.clone()).collect();
    assert_eq!(uids.len(), 3);
    for m in &list {
        assert!(
            (1..=70).contains(&m.uidl.len()) && m.uidl.bytes().all(|c| (0x21..=0x7e).contains(&c))
        );
        // Letters and digits only: some clients (Outlook 2003) fetch
        // everything again when a UIDL has a dot.
        assert!(
            m.uidl.bytes().all(|c| c.is_ascii_alphanumeric()),
            "UIDL {:?} is not letters and digits",
            m.uidl
        );
    }
    let body = store
        .open_message(a, ids2[0])
        .await
        .unwrap()
        .read_all()
        .await
        .unwrap();
    assert_eq!(body, big);
    assert!(
        store
            .open_message(a, ids3[0])
            .await
            .unwrap()
            .read_all()
            .await
            .unwrap()
            .is_empty()
    );
    // A message is only reachable through its own mailbox.
    assert!(matches!(
        store.open_message(b, ids2[0]).await,
        Err(StoreError::NotFound(_))
    ));
    let acc = store
        .account_get(&addr("a@example.test"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(acc.used_messages, 3);
    assert_eq!(acc.used_bytes, 22 + big.len() as u64);

    store.delete_messages(a, &[ids1[0], ids2[0]]).await.unwrap();
    // The shared body is still there for b.
    let still = store
        .open_message(b, ids1[1])
        .await
        .unwrap()
        .read_all()
        .await
        .unwrap();
    assert_eq!(still, b"Subject: one\r\n\r\nbody\r\n");
    let acc = store
        .account_get(&addr("a@example.test"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((acc.used_messages, acc.used_bytes), (1, 0));
    // Ids (and so UIDLs) are never reused.
    let ids4 = deliver_text(store, b"x\r\n", &[a]).await;
    assert!(ids4[0] > ids3[0]);
    let list = store.list_messages(a).await.unwrap();
    assert!(
        list.iter()
            .all(|m| !uids.contains(&m.uidl) || m.id == ids3[0])
    );
}

/// Maildrop locks are exclusive and released on drop.
pub async fn maildrop_lock<S: Store + ?Sized>(store: &S) {
    store.domain_add(&dom("example.test")).await.unwrap();
    let a = store.account_add(account("a@example.test")).await.unwrap();
    let l1 = store.lock_maildrop(a).await.unwrap();
    assert!(l1.is_some());
    assert!(store.lock_maildrop(a).await.unwrap().is_none());
    drop(l1);
    assert!(store.lock_maildrop(a).await.unwrap().is_some());
}

/// Many concurrent writers: every delivery lands exactly once.
pub async fn concurrent_writers<S: Store>(store: Arc<S>) {
    store.domain_add(&dom("example.test")).await.unwrap();
    let a = store.account_add(account("a@example.test")).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..200u32 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            let text = format!("Subject: {i}\r\n\r\n{i}\r\n");
            deliver_text(&*s, text.as_bytes(), &[a]).await
        }));
    }
    // Duplicate account creation races must still be refused cleanly.
    let s = store.clone();
    let dup = tokio::spawn(async move { s.account_add(account("a@example.test")).await });
    for t in tasks {
        assert_eq!(t.await.unwrap().len(), 1);
    }
    assert!(matches!(dup.await.unwrap(), Err(StoreError::Duplicate(_))));
    let list = store.list_messages(a).await.unwrap();
    assert_eq!(list.len(), 200);
    let mut seen = std::collections::HashSet::new();
    for m in &list {
        let body = store
            .open_message(a, m.id)
            .await
            .unwrap()
            .read_all()
            .await
            .unwrap();
        assert!(seen.insert(body), "duplicate body");
    }
}

fn outbound(rcpts: &[&str]) -> Outbound {
    Outbound {
        sender: "a@example.test".into(),
        recipients: rcpts
            .iter()
            .enumerate()
            .map(|(i, r)| OutboundRcpt {
                address: r.to_string(),
                domain: r
                    .rsplit_once('@')
                    .map(|(_, d)| d.to_string())
                    .unwrap_or_default(),
                orcpt: Some(format!("rfc822;{r}")),
                // The first without NOTIFY, the others with two kinds.
                notify: (i > 0).then_some(crate::Notify {
                    success: true,
                    delay: true,
                    ..crate::Notify::default()
                }),
            })
            .collect(),
        envid: Some("env-1".into()),
        ret: Some(crate::Return::Headers),
        smtputf8: false,
        eight_bit: true,
        account: None,
        tls: crate::SenderTls::Policy,
        prefix: Vec::new(),
        forwarded: false,
    }
}

/// What the sender asked of the TLS (RFC 8689) is kept with the queue
/// entry: by `queue_get` and by `queue_take_due`, each kind as given.
pub async fn queue_sender_tls<S: Store + ?Sized>(store: &S) {
    use crate::SenderTls;
    let mut ids = Vec::new();
    for tls in [
        SenderTls::Policy,
        SenderTls::Required,
        SenderTls::NotRequired,
    ] {
        let mut spool = store.new_spool();
        spool.write(b"Subject: tls\r\n\r\nx\r\n").unwrap();
        let out = Outbound {
            tls,
            ..outbound(&["x@remote.test"])
        };
        let acc = store.accept(spool, &[], vec![out], true).await.unwrap();
        ids.push((acc.queued[0], tls));
    }
    for (id, tls) in &ids {
        let entry = store.queue_get(*id).await.unwrap().unwrap();
        assert_eq!(entry.tls, *tls, "{id}");
    }
    let taken = store.queue_take_due(i64::MAX / 2, 60, 10).await.unwrap();
    assert_eq!(taken.len(), 3);
    for entry in taken {
        let want = ids.iter().find(|(id, _)| *id == entry.id).expect("ours").1;
        assert_eq!(entry.tls, want, "{}", entry.id);
    }
}

/// The outbound queue: one commit with local delivery, leases, results,
/// rescheduling, deletion, and the shared body's life.
pub async fn queue<S: Store + ?Sized>(store: &S) {
    store.domain_add(&dom("example.test")).await.unwrap();
    let a = store.account_add(account("a@example.test")).await.unwrap();
    let text = b"Subject: out\r\n\r\nto the world\r\n";
    let mut spool = store.new_spool();
    spool.write(text).unwrap();
    let acc = store
        .accept(
            spool,
            &[a],
            vec![outbound(&["x@remote.test", "y@other.test"])],
            true,
        )
        .await
        .unwrap();
    assert_eq!(acc.messages.len(), 1);
    let qid = acc.queued[0];
    let nothing = store
        .accept(store.new_spool(), &[], Vec::new(), true)
        .await
        .unwrap();
    assert_eq!(
        nothing,
        Accepted {
            messages: vec![],
            queued: vec![],
            refused: vec![],
            usage: vec![],
        }
    );

    let entry = store.queue_get(qid).await.unwrap().unwrap();
    assert_eq!(entry.sender, "a@example.test");
    assert_eq!(entry.envid.as_deref(), Some("env-1"));
    assert_eq!(entry.ret, Some(crate::Return::Headers));
    let notify: Vec<_> = entry.recipients.iter().map(|r| r.rcpt.notify).collect();
    assert_eq!(
        notify,
        [
            None,
            Some(crate::Notify {
                success: true,
                delay: true,
                ..crate::Notify::default()
            })
        ]
    );
    assert_eq!(entry.size, text.len() as u64);
    assert!(entry.eight_bit && !entry.smtputf8);
    assert_eq!(entry.recipients.len(), 2);
    assert!(
        entry
            .recipients
            .iter()
            .all(|r| r.state == RcptState::Pending && r.attempts == 0)
    );
    assert_eq!(entry.recipients[1].rcpt.domain, "other.test");
    assert_eq!(
        entry.recipients[0].rcpt.orcpt.as_deref(),
        Some("rfc822;x@remote.test")
    );

    // The local copy goes; the queued one keeps the body.
    store.delete_messages(a, &acc.messages).await.unwrap();
    let body = store
        .open_queued(qid)
        .await
        .unwrap()
        .read_all()
        .await
        .unwrap();
    assert_eq!(body, text);

    // Due now: both taken and leased; a second worker gets nothing.
    let now = entry.created + 1;
    let due = store.queue_take_due(now, 60, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].recipients.len(), 2);
    assert!(store.queue_take_due(now, 60, 10).await.unwrap().is_empty());
    // A lapsed lease (the worker died) makes them due again.
    let again = store.queue_take_due(now + 61, 60, 10).await.unwrap();
    assert_eq!(again[0].recipients.len(), 2);
    // So does releasing the leases (a single node restarting).
    assert_eq!(store.queue_release_leases().await.unwrap(), 2);
    let released = store.queue_take_due(now + 61, 60, 10).await.unwrap();
    assert_eq!(released[0].recipients.len(), 2);
    // A worker still busy at the end of its lease renews it: nobody else
    // takes the recipients meanwhile.
    let ids: Vec<_> = released[0].recipients.iter().map(|r| r.id).collect();
    assert_eq!(store.queue_renew_leases(&ids, now + 300).await.unwrap(), 2);
    assert!(
        store
            .queue_take_due(now + 200, 60, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.queue_release_leases().await.unwrap(), 2);

    let (x, y) = (due[0].recipients[0].id, due[0].recipients[1].id);
    store
        .queue_record(&[
            (x, AttemptResult::Delivered),
            (
                y,
                AttemptResult::Retry {
                    next_attempt: now + 300,
                    error: "451 4.3.0 later".into(),
                },
            ),
        ])
        .await
        .unwrap();
    let entry = store.queue_get(qid).await.unwrap().unwrap();
    assert_eq!(entry.recipients[0].state, RcptState::Delivered);
    assert_eq!(entry.recipients[1].state, RcptState::Pending);
    assert_eq!(entry.recipients[1].attempts, 1);
    assert_eq!(entry.recipients[1].next_attempt, now + 300);
    assert_eq!(
        entry.recipients[1].last_error.as_deref(),
        Some("451 4.3.0 later")
    );
    assert!(!entry.recipients[1].delay_notified);
    store.queue_mark_delay_notified(&[y]).await.unwrap();
    assert!(store.queue_get(qid).await.unwrap().unwrap().recipients[1].delay_notified);
    // Delivered recipients are never taken again; the retry waits its turn.
    assert!(
        store
            .queue_take_due(now + 200, 60, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.queue_retry_now(Some(qid), now + 200).await.unwrap(),
        1
    );
    let due = store.queue_take_due(now + 200, 60, 10).await.unwrap();
    assert_eq!(
        due[0].recipients.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![y]
    );
    // Retrying now while a worker holds it keeps the lease: nobody else
    // takes it meanwhile (it would be sent twice).
    store.queue_retry_now(Some(qid), now + 200).await.unwrap();
    assert!(
        store
            .queue_take_due(now + 200, 60, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // A late result for a recipient already final changes nothing.
    store
        .queue_record(&[(
            x,
            AttemptResult::Retry {
                next_attempt: now,
                error: "late".into(),
            },
        )])
        .await
        .unwrap();
    assert_eq!(
        store.queue_get(qid).await.unwrap().unwrap().recipients[0].state,
        RcptState::Delivered
    );
    store
        .queue_record(&[(
            y,
            AttemptResult::Failed {
                error: "550 5.1.1 no".into(),
            },
        )])
        .await
        .unwrap();
    let entry = store.queue_get(qid).await.unwrap().unwrap();
    assert_eq!(entry.recipients[1].state, RcptState::Failed);
    assert_eq!(store.queue_retry_now(None, now + 999).await.unwrap(), 0);
    assert!(matches!(
        store
            .queue_record(&[(QueueRcptId::new(999_999), AttemptResult::Delivered)])
            .await,
        Err(StoreError::NotFound(_))
    ));

    assert_eq!(store.queue_list().await.unwrap().len(), 1);
    store.queue_delete(qid).await.unwrap();
    assert!(store.queue_get(qid).await.unwrap().is_none());
    assert!(matches!(
        store.open_queued(qid).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.queue_delete(qid).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.queue_retry_now(Some(qid), now).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn accept_text<S: Store + ?Sized>(store: &S, text: &[u8], to: &[AccountId]) -> Accepted {
    let mut spool = store.new_spool();
    spool.write(text).unwrap();
    store.accept(spool, to, Vec::new(), true).await.unwrap()
}

async fn usage_of<S: Store + ?Sized>(store: &S, a: &str) -> (u64, u64) {
    let acc = store.account_get(&addr(a)).await.unwrap().unwrap();
    (acc.used_bytes, acc.used_messages)
}

/// Quotas: octets, message count and the domain's total are checked in
/// the commit; a message that can never fit is told apart from a full
/// mailbox; usage stays exact through delivery and deletion; checks can
/// be bypassed for notices.
pub async fn quotas<S: Store + ?Sized>(store: &S) {
    store.domain_add(&dom("example.test")).await.unwrap();
    let a = store.account_add(account("a@example.test")).await.unwrap();
    let b = store.account_add(account("b@example.test")).await.unwrap();
    store
        .account_set_quota(&addr("a@example.test"), Some(100), None)
        .await
        .unwrap();
    let m60 = [b'x'; 60];
    let first = accept_text(store, &m60, &[a, b]).await;
    assert_eq!(first.messages.len(), 2);
    assert!(first.refused.is_empty());
    assert_eq!(first.usage.len(), 2);
    assert_eq!(first.usage[0].1.used_bytes, 60);
    assert_eq!(first.usage[0].1.quota_bytes, Some(100));
    // a is at 60 of 100: another 60 does not fit now; b has no quota.
    let second = accept_text(store, &m60, &[a, b]).await;
    assert_eq!(second.messages.len(), 1);
    assert_eq!(second.refused.len(), 1);
    assert_eq!(second.refused[0].account, a);
    assert_eq!(second.refused[0].fit, Fit::Full);
    // Larger than the quota itself: never.
    let big = accept_text(store, &[b'y'; 101], &[a]).await;
    assert!(big.messages.is_empty() && big.queued.is_empty());
    assert_eq!(big.refused[0].fit, Fit::TooBig);
    assert_eq!(usage_of(store, "a@example.test").await, (60, 1));
    assert_eq!(usage_of(store, "b@example.test").await, (120, 2));
    // Without the check (a notice about the mailbox itself) it goes in.
    let mut spool = store.new_spool();
    spool.write(&m60).unwrap();
    let forced = store.accept(spool, &[a], Vec::new(), false).await.unwrap();
    assert_eq!(forced.messages.len(), 1);
    assert_eq!(usage_of(store, "a@example.test").await, (120, 2));
    let info = store.domain_list().await.unwrap();
    assert_eq!(info[0].used_bytes, 240);
    // Deleting gives the space back, to the account and the domain.
    let ids: Vec<_> = store
        .list_messages(a)
        .await
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    store.delete_messages(a, &ids).await.unwrap();
    assert_eq!(usage_of(store, "a@example.test").await, (0, 0));
    assert_eq!(store.domain_list().await.unwrap()[0].used_bytes, 120);

    // Message count.
    store
        .account_set_quota(&addr("a@example.test"), None, Some(2))
        .await
        .unwrap();
    assert_eq!(accept_text(store, b"1", &[a]).await.messages.len(), 1);
    assert_eq!(accept_text(store, b"2", &[a]).await.messages.len(), 1);
    assert_eq!(
        accept_text(store, b"3", &[a]).await.refused[0].fit,
        Fit::Full
    );
    let acc = store.account_by_id(a).await.unwrap().unwrap();
    assert_eq!(acc.address, addr("a@example.test"));
    assert!(
        store
            .account_by_id(AccountId::new(a.get() + 1000))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(acc.quota_messages, Some(2));
    assert_eq!(acc.quota_bytes, None);
    store
        .account_set_quota(&addr("a@example.test"), None, None)
        .await
        .unwrap();

    // The domain's total: b holds 120, a 2; 200 for the domain.
    store
        .domain_set_quota(&dom("example.test"), Some(200))
        .await
        .unwrap();
    assert_eq!(store.domain_list().await.unwrap()[0].quota_bytes, Some(200));
    match store.lookup(&addr("a@example.test")).await.unwrap() {
        Lookup::Account { usage, .. } => {
            assert_eq!(usage.domain_quota_bytes, Some(200));
            assert_eq!(usage.domain_used_bytes, 122);
        }
        other => panic!("expected account, got {other:?}"),
    }
    // 60 fits once; the second copy in the same message would overrun.
    let both = accept_text(store, &m60, &[a, b]).await;
    assert_eq!(both.messages.len(), 1);
    assert_eq!(both.refused.len(), 1);
    assert_eq!(both.refused[0].fit, Fit::Full);
    assert_eq!(
        accept_text(store, &[b'z'; 201], &[b]).await.refused[0].fit,
        Fit::TooBig
    );
    assert_eq!(store.domain_list().await.unwrap()[0].used_bytes, 182);
}

/// Concurrent deliveries never overfill a mailbox.
pub async fn quota_under_concurrency<S: Store>(store: Arc<S>) {
    store.domain_add(&dom("example.test")).await.unwrap();
    let a = store.account_add(account("a@example.test")).await.unwrap();
    store
        .account_set_quota(&addr("a@example.test"), Some(100), None)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..30u32 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            let text = format!("{i:010}");
            accept_text(&*s, text.as_bytes(), &[a]).await.messages.len()
        }));
    }
    let mut landed = 0;
    for t in tasks {
        landed += t.await.unwrap();
    }
    assert_eq!(landed, 10, "exactly ten 10-octet messages fit in 100");
    assert_eq!(usage_of(&*store, "a@example.test").await, (100, 10));
    assert_eq!(store.list_messages(a).await.unwrap().len(), 10);
}

/// Quota notices: delivered once per threshold crossing, whatever the
/// quota, computed from the usage inside the commit; deleting mail or
/// raising the quota re-arms the thresholds above what is left.
pub async fn quota_notices<S: Store + ?Sized>(store: &S) {
    const TH: &[u8] = &[80, 95];
    store.domain_add(&dom("example.test")).await.unwrap();
    let a = store.account_add(account("a@example.test")).await.unwrap();
    store
        .account_set_quota(&addr("a@example.test"), Some(100), None)
        .await
        .unwrap();
    // Every notice is 8 octets: "warn 080".
    let notice = || {
        let writer: crate::NoticeWriter =
            Box::new(|_u, level, spool| spool.write(format!("warn {level:03}").as_bytes()));
        Some((store.new_spool(), writer))
    };
    let warned = |acc: crate::Account| acc.warned;
    let filler = deliver_text(store, &[b'x'; 85], &[a]).await;
    assert!(store.quota_notice(a, TH, notice()).await.unwrap());
    // Seen again (concurrent deliveries, the same crossing): once only.
    assert!(!store.quota_notice(a, TH, notice()).await.unwrap());
    deliver_text(store, b"12345", &[a]).await; // 98 of 100
    assert!(store.quota_notice(a, TH, notice()).await.unwrap());
    let acc = store.account_by_id(a).await.unwrap().unwrap();
    assert_eq!(acc.warned, 95);
    // Delivered past the quota: 85 + 8 + 5 + 8.
    assert_eq!((acc.used_bytes, acc.used_messages), (106, 4));
    // Deleting the filler leaves 21%: every threshold re-arms.
    store.delete_messages(a, &filler).await.unwrap();
    assert_eq!(warned(store.account_by_id(a).await.unwrap().unwrap()), 21);
    assert!(!store.quota_notice(a, TH, notice()).await.unwrap());
    deliver_text(store, &[b'y'; 60], &[a]).await; // 81%
    assert!(store.quota_notice(a, TH, notice()).await.unwrap());
    // A raised quota re-arms too: 89 of 1000.
    store
        .account_set_quota(&addr("a@example.test"), Some(1000), None)
        .await
        .unwrap();
    assert_eq!(warned(store.account_by_id(a).await.unwrap().unwrap()), 8);
    let mut notices = Vec::new();
    for m in store.list_messages(a).await.unwrap() {
        let body = store
            .open_message(a, m.id)
            .await
            .unwrap()
            .read_all()
            .await
            .unwrap();
        if body.starts_with(b"warn") {
            notices.push(String::from_utf8(body).unwrap());
        }
    }
    assert_eq!(notices, ["warn 080", "warn 095", "warn 080"]);
}

/// Retention: after first retrieval, by age, inherited from the domain or
/// the server default, overridden per account, and never under a session
/// holding the maildrop.
pub async fn retention<S: Store + ?Sized>(store: &S) {
    const DAY: i64 = 86_400;
    store.domain_add(&dom("example.test")).await.unwrap();
    let a = store.account_add(account("a@example.test")).await.unwrap();
    let b = store.account_add(account("b@example.test")).await.unwrap();
    let ids_a = deliver_text(store, b"one", &[a]).await;
    let ids_a2 = deliver_text(store, b"two", &[a]).await;
    deliver_text(store, b"three", &[b]).await;
    let t0 = store.list_messages(a).await.unwrap()[0].received;

    // Nothing set anywhere: nothing expires.
    let r = store
        .expire(t0 + 1000 * DAY, Retention::default())
        .await
        .unwrap();
    assert_eq!((r.accounts, r.messages), (0, 0));

    // Retrieved at t0+1d, and again later: the first time counts.
    store.mark_retrieved(a, &ids_a, t0 + DAY).await.unwrap();
    store.mark_retrieved(a, &ids_a, t0 + 5 * DAY).await.unwrap();
    store
        .domain_set_retention(
            &dom("example.test"),
            Retention {
                after_retrieval: Keep::Days(7),
                max_age: Keep::Inherit,
            },
        )
        .await
        .unwrap();
    let d = store.domain_list().await.unwrap();
    assert_eq!(d[0].retention.after_retrieval, Keep::Days(7));
    // Retrieved at t0 + 1 day, kept 7 days: still there a second before.
    let r = store
        .expire(t0 + 8 * DAY - 1, Retention::default())
        .await
        .unwrap();
    assert_eq!(r.messages, 0, "one second early");
    // A session holds the mailbox: skipped, nothing renumbered under it.
    let lock = store.lock_maildrop(a).await.unwrap().expect("lock");
    let r = store
        .expire(t0 + 8 * DAY, Retention::default())
        .await
        .unwrap();
    assert_eq!((r.messages, r.locked), (0, 1));
    drop(lock);
    let r = store
        .expire(t0 + 8 * DAY, Retention::default())
        .await
        .unwrap();
    assert_eq!((r.messages, r.bytes, r.locked), (1, 3, 0));
    let left: Vec<_> = store
        .list_messages(a)
        .await
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(left, ids_a2, "the unretrieved message stays");
    assert_eq!(usage_of(store, "a@example.test").await, (3, 1));

    // By age, from the server default; b keeps forever by its own setting.
    store
        .account_set_retention(
            &addr("b@example.test"),
            Retention {
                after_retrieval: Keep::Inherit,
                max_age: Keep::Forever,
            },
        )
        .await
        .unwrap();
    let b_acc = store
        .account_get(&addr("b@example.test"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b_acc.retention.max_age, Keep::Forever);
    assert_eq!(b_acc.domain_retention.after_retrieval, Keep::Days(7));
    let default = Retention {
        after_retrieval: Keep::Inherit,
        max_age: Keep::Days(30),
    };
    let r = store.expire(t0 + 31 * DAY, default).await.unwrap();
    assert_eq!(r.messages, 1);
    assert!(store.list_messages(a).await.unwrap().is_empty());
    assert_eq!(store.list_messages(b).await.unwrap().len(), 1);

    // EXPIRE 0: a retrieved message goes at the next sweep.
    store
        .account_set_retention(
            &addr("a@example.test"),
            Retention {
                after_retrieval: Keep::Days(0),
                max_age: Keep::Inherit,
            },
        )
        .await
        .unwrap();
    let ids = deliver_text(store, b"four", &[a]).await;
    let now = store.list_messages(a).await.unwrap()[0].received;
    store.mark_retrieved(a, &ids, now).await.unwrap();
    let r = store.expire(now, Retention::default()).await.unwrap();
    assert_eq!(r.messages, 1);
}

/// Maildrop locks are visible to every handle on the store and cleared in
/// bulk at server start.
pub async fn maildrop_locks_released<S: Store + ?Sized>(store: &S) {
    store.domain_add(&dom("example.test")).await.unwrap();
    let a = store.account_add(account("a@example.test")).await.unwrap();
    let held = store.lock_maildrop(a).await.unwrap().expect("lock");
    assert!(store.lock_maildrop(a).await.unwrap().is_none());
    // A crashed process's lock: forget the guard without releasing.
    std::mem::forget(held);
    assert!(store.lock_maildrop(a).await.unwrap().is_none());
    assert_eq!(store.release_maildrop_locks().await.unwrap(), 1);
    assert!(store.lock_maildrop(a).await.unwrap().is_some());
}

/// Downgraded headers (RFC 6857) kept with a body: listed as the legacy
/// view with the exact downgraded size, returned whole, shared by the
/// recipients of one body, gone with the last message.
pub async fn downgrades<S: Store + ?Sized>(store: &S) {
    store.domain_add(&dom("example.test")).await.unwrap();
    let a = store.account_add(account("a@example.test")).await.unwrap();
    let b = store.account_add(account("b@example.test")).await.unwrap();
    let original = "Subject: สวัสดี\r\n\r\nbody\r\n".as_bytes();
    let header_len = original.len() as u64 - 6;
    let replacement = b"Subject: =?UTF-8?B?4Liq4Lin4Lix4Liq4LiU4Li1?=\r\n\r\n".to_vec();
    let mut spool = store.new_spool();
    spool.write(original).unwrap();
    spool.set_downgrade(HeaderDowngrade {
        original_len: header_len,
        header: Some(replacement.clone()),
    });
    let utf8 = store.deliver(spool, &[a, b]).await.unwrap();
    let plain = deliver_text(store, b"Subject: hi\r\n\r\nbody\r\n", &[a]).await;
    let mut spool = store.new_spool();
    spool.write(original).unwrap();
    spool.set_downgrade(HeaderDowngrade {
        original_len: header_len,
        header: None,
    });
    let hidden = store.deliver(spool, &[a]).await.unwrap();

    let list = store.list_messages(a).await.unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[0].size, original.len() as u64);
    assert_eq!(
        list[0].legacy,
        LegacyView::Downgraded {
            size: replacement.len() as u64 + 6
        }
    );
    assert_eq!(list[1].legacy, LegacyView::Same);
    assert_eq!(list[2].legacy, LegacyView::Hidden);
    let expected = HeaderDowngrade {
        original_len: header_len,
        header: Some(replacement),
    };
    assert_eq!(
        store.message_downgrade(a, utf8[0]).await.unwrap(),
        Some(expected.clone())
    );
    assert_eq!(
        store.message_downgrade(b, utf8[1]).await.unwrap(),
        Some(expected.clone())
    );
    assert_eq!(store.message_downgrade(a, plain[0]).await.unwrap(), None);
    assert_eq!(
        store
            .message_downgrade(a, hidden[0])
            .await
            .unwrap()
            .map(|d| d.header),
        Some(None)
    );
    // The stored message itself is untouched.
    let body = store
        .open_message(a, utf8[0])
        .await
        .unwrap()
        .read_all()
        .await
        .unwrap();
    assert_eq!(body, original);
    assert!(matches!(
        store.message_downgrade(b, plain[0]).await,
        Err(StoreError::NotFound(_))
    ));
    // Deleting one copy keeps the other's downgrade; the last takes it along.
    store.delete_messages(a, &[utf8[0]]).await.unwrap();
    assert_eq!(
        store.message_downgrade(b, utf8[1]).await.unwrap(),
        Some(expected)
    );
    store.delete_messages(b, &[utf8[1]]).await.unwrap();
    assert!(store.list_messages(b).await.unwrap().is_empty());
}

/// A spool whose header was set after its body ([`crate::Spool::set_head`]):
/// stored head first, counted in the size and the quota, with a downgrade
/// of the head; bodies in memory and in a file alike.
pub async fn spool_heads<S: Store + ?Sized>(store: &S) {
    store.domain_add(&dom("example.test")).await.unwrap();
    let a = store.account_add(account("a@example.test")).await.unwrap();
    let head = "Received: by mx\r\nSubject: สวัสดี\r\n\r\n"
        .as_bytes()
        .to_vec();
    let mut total = 0;
    for body_len in [10, 300 * 1024] {
        let body: Vec<u8> = (0..body_len).map(|i| b'a' + (i % 26) as u8).collect();
        let mut spool = store.new_spool();
        spool.write(&body).unwrap();
        spool.set_head(head.clone());
        let replacement = b"Received: by mx\r\nSubject: =?UTF-8?B?x?=\r\n\r\n".to_vec();
        spool.set_downgrade(HeaderDowngrade {
            original_len: head.len() as u64,
            header: Some(replacement.clone()),
        });
        let ids = store.deliver(spool, &[a]).await.unwrap();
        let mut want = head.clone();
        want.extend_from_slice(&body);
        total += want.len() as u64;
        let list = store.list_messages(a).await.unwrap();
        let listed = list.iter().find(|m| m.id == ids[0]).unwrap();
        assert_eq!(listed.size, want.len() as u64);
        assert_eq!(
            listed.legacy,
            LegacyView::Downgraded {
                size: (replacement.len() + body.len()) as u64
            }
        );
        let stored = store
            .open_message(a, ids[0])
            .await
            .unwrap()
            .read_all()
            .await
            .unwrap();
        assert_eq!(stored, want, "body of {body_len}");
    }
    let acc = store.account_by_id(a).await.unwrap().unwrap();
    assert_eq!(acc.used_bytes, total);
}

/// Workers taking due recipients at once: each recipient is leased to
/// exactly one of them, none is lost.
pub async fn queue_take_is_exclusive<S: Store>(store: Arc<S>) {
    let mut created = 0;
    for i in 0..30 {
        let mut spool = store.new_spool();
        spool.write(format!("m{i}\r\n").as_bytes()).unwrap();
        let acc = store
            .accept(spool, &[], vec![outbound(&["x@remote.test"])], true)
            .await
            .unwrap();
        created = store
            .queue_get(acc.queued[0])
            .await
            .unwrap()
            .unwrap()
            .created;
    }
    let now = created + 1;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let due = s.queue_take_due(now, 600, 4).await.unwrap();
                if due.is_empty() {
                    return got;
                }
                got.extend(due.iter().flat_map(|e| e.recipients.iter().map(|r| r.id)));
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let unique: std::collections::HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 30, "every recipient taken exactly once");
    assert_eq!(unique.len(), 30, "none taken twice");
}

/// Greylisting: a new triplet waits, passes after the delay, is
/// remembered; a client that passed passes its new triplets; old entries
/// are forgotten; concurrent first attempts of one triplet all wait.
pub async fn greylisting<S: Store + ?Sized + 'static>(store: Arc<S>) {
    use crate::greylist::{GreyOutcome, GreyRules};
    let rules = GreyRules {
        delay: 300,
        retry_window: 3600,
        max_age: 86_400,
        remember_clients: true,
    };
    let t = "192.0.2.0/24|a@sender.test|b@example.test";
    let client = "192.0.2.0/24";
    let at = |now| {
        let store = store.clone();
        let rules = rules.clone();
        async move { store.greylist(t, client, now, &rules).await.unwrap() }
    };
    assert_eq!(at(1000).await, GreyOutcome::Wait { retry_in: 300 });
    assert_eq!(at(1100).await, GreyOutcome::Wait { retry_in: 200 });
    assert_eq!(at(1300).await, GreyOutcome::Pass);
    assert_eq!(at(2000).await, GreyOutcome::Pass);
    // The client passed: its new triplets pass at once.
    let other = store
        .greylist(
            "192.0.2.0/24|c@sender.test|b@example.test",
            client,
            2100,
            &rules,
        )
        .await
        .unwrap();
    assert_eq!(other, GreyOutcome::Pass);
    // Another client's first attempt waits; and far later everything of
    // the first client is forgotten (pruned by the new triplet).
    let stranger = "198.51.100.0/24";
    let first = store
        .greylist(
            "198.51.100.0/24|x@y.test|b@example.test",
            stranger,
            200_000,
            &rules,
        )
        .await
        .unwrap();
    assert_eq!(first, GreyOutcome::Wait { retry_in: 300 });
    assert_eq!(at(200_001).await, GreyOutcome::Wait { retry_in: 300 });
    // Eight simultaneous first attempts of one new triplet: none passes.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        let rules = rules.clone();
        tasks.push(tokio::spawn(async move {
            store
                .greylist(
                    "203.0.113.0/24|p@q.test|b@example.test",
                    "203.0.113.0/24",
                    300_000,
                    &rules,
                )
                .await
        }));
    }
    for t in tasks {
        let o = t.await.unwrap().unwrap();
        assert!(matches!(o, GreyOutcome::Wait { .. }), "{o:?}");
    }
}

/// MTA-STS policies: none until stored; a stored one reads back as it
/// was; a second one for the same domain replaces it; domains apart.
pub async fn mta_sts_policies<S: Store + ?Sized>(store: &S) {
    use crate::MtaStsRecord;
    assert_eq!(store.mta_sts_get("remote.test").await.unwrap(), None);
    let first = MtaStsRecord {
        domain: "remote.test".into(),
        id: "20260101".into(),
        policy: "version: STSv1\r\nmode: enforce\r\nmx: mx.remote.test\r\nmax_age: 86400\r\n"
            .into(),
        fetched: 1_000,
        expires: 87_400,
    };
    store.mta_sts_put(&first).await.unwrap();
    assert_eq!(
        store.mta_sts_get("remote.test").await.unwrap().as_ref(),
        Some(&first)
    );
    let other = MtaStsRecord {
        domain: "other.test".into(),
        id: "a".into(),
        policy: "version: STSv1\nmode: none\nmax_age: 60\n".into(),
        fetched: 5,
        expires: 65,
    };
    store.mta_sts_put(&other).await.unwrap();
    let second = MtaStsRecord {
        id: "20260202".into(),
        policy: "version: STSv1\nmode: testing\nmx: *.remote.test\nmax_age: 600\n".into(),
        fetched: 2_000,
        expires: 2_600,
        ..first.clone()
    };
    store.mta_sts_put(&second).await.unwrap();
    assert_eq!(
        store.mta_sts_get("remote.test").await.unwrap(),
        Some(second)
    );
    assert_eq!(store.mta_sts_get("other.test").await.unwrap(), Some(other));
}

/// Sending limits: exact counts to the limit, a refused message counted
/// nowhere, first-time recipients, a domain's counter shared by its
/// accounts, a refund, the next window starting over; and concurrent
/// charges never passing a limit together.
pub async fn sending_limits<S: Store + ?Sized + 'static>(store: Arc<S>) {
    use crate::sending::{
        Counted, Limits, Scope, SendCharge, SendLimits, SendOutcome, Span, Window,
    };
    store.domain_add(&dom("example.test")).await.unwrap();
    let a = store.account_add(account("a@example.test")).await.unwrap();
    let b = store.account_add(account("b@example.test")).await.unwrap();
    let limits = SendLimits {
        account: Limits {
            hour: Window {
                messages: Some(3),
                new_recipients: Some(4),
            },
            day: Window::default(),
        },
        domain: Limits {
            hour: Window::default(),
            day: Window {
                messages: Some(5),
                new_recipients: None,
            },
        },
    };
    let charge = |account, rcpts: &[&str]| SendCharge {
        account,
        domain: "example.test".into(),
        recipients: rcpts.iter().map(|r| r.to_string()).collect(),
    };
    let t0 = 100 * 86_400;
    let c1 = charge(a, &["x@other.test"]);
    for i in 0..3 {
        let o = store.send_charge(&c1, t0 + i, &limits).await.unwrap();
        let SendOutcome::Counted(ticket) = o else {
            panic!("message {i} refused: {o:?}");
        };
        assert_eq!(ticket.new_recipients, u64::from(i == 0), "{i}");
    }
    let SendOutcome::Over(over) = store.send_charge(&c1, t0 + 10, &limits).await.unwrap() else {
        panic!("the 4th message in the hour passed");
    };
    assert_eq!(
        (over.scope, over.span, over.counted, over.limit),
        (Scope::Account, Span::Hour, Counted::Messages, 3)
    );
    assert_eq!(over.resets, t0 + 3600);
    // The next hour starts over; four new recipients fit, a fifth not.
    let t1 = t0 + 3600;
    let many = charge(a, &["n1@o.test", "n2@o.test", "n3@o.test", "x@other.test"]);
    assert!(matches!(
        store.send_charge(&many, t1, &limits).await.unwrap(),
        SendOutcome::Counted(t) if t.new_recipients == 3
    ));
    let more = charge(a, &["n4@o.test", "n5@o.test"]);
    let SendOutcome::Over(over) = store.send_charge(&more, t1 + 1, &limits).await.unwrap() else {
        panic!("five first-time recipients passed a limit of four");
    };
    assert_eq!(over.counted, Counted::NewRecipients);
    // Refused, so not remembered: one of them alone still fits.
    let one = charge(a, &["n4@o.test"]);
    let SendOutcome::Counted(ticket) = store.send_charge(&one, t1 + 2, &limits).await.unwrap()
    else {
        panic!("one first-time recipient refused");
    };
    assert_eq!(ticket.new_recipients, 1);
    // A refund gives the message back.
    store.send_refund(&one, &ticket).await.unwrap();
    // The domain's day: a has 3 + 1 (+1 refunded) = 4; b may send 1 more.
    let cb = charge(b, &["y@other.test"]);
    assert!(matches!(
        store.send_charge(&cb, t1 + 3, &limits).await.unwrap(),
        SendOutcome::Counted(_)
    ));
    let SendOutcome::Over(over) = store.send_charge(&cb, t1 + 4, &limits).await.unwrap() else {
        panic!("the domain's 6th message of the day passed");
    };
    assert_eq!((over.scope, over.span), (Scope::Domain, Span::Day));
    // Ten charges at once against a fresh hour of 3: exactly 3 pass.
    let t2 = t0 + 86_400 + 7200;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let store = store.clone();
        let c = charge(a, &["x@other.test"]);
        tasks.push(tokio::spawn(async move {
            store.send_charge(&c, t2, &limits).await
        }));
    }
    let mut counted = 0;
    for t in tasks {
        if matches!(t.await.unwrap().unwrap(), SendOutcome::Counted(_)) {
            counted += 1;
        }
    }
    assert_eq!(counted, 3, "concurrent charges passed the limit");
    // Outbound results: summed over the last day, older hours left out.
    let o = store.send_outcomes(a, 10, 2, t0).await.unwrap();
    assert_eq!((o.finished, o.failed), (10, 2));
    let o = store.send_outcomes(a, 5, 5, t0 + 3600).await.unwrap();
    assert_eq!((o.finished, o.failed), (15, 7));
    let o = store
        .send_outcomes(a, 1, 0, t0 + 86_400 + 10)
        .await
        .unwrap();
    assert_eq!(
        (o.finished, o.failed),
        (6, 5),
        "the first hour is older than a day"
    );
    let o = store.send_outcomes(b, 0, 0, t0).await.unwrap();
    assert_eq!((o.finished, o.failed), (0, 0), "another account's results");
}

/// Holds: an account on hold holds its pending queued mail, once; queued
/// messages are held and released (sent or deleted), by message and by
/// account; held recipients are not taken.
pub async fn holds<S: Store + ?Sized>(store: &S) {
    use crate::QueueTarget;
    store.domain_add(&dom("example.test")).await.unwrap();
    let a = store.account_add(account("a@example.test")).await.unwrap();
    let queue = |account: Option<AccountId>| async move {
        let mut spool = store.new_spool();
        spool.write(b"Subject: held\r\n\r\nbody\r\n").unwrap();
        let mut out = outbound(&["r@remote.test"]);
        out.account = account;
        store
            .accept(spool, &[], vec![out], false)
            .await
            .unwrap()
            .queued[0]
    };
    let q1 = queue(Some(a)).await;
    let q2 = queue(Some(a)).await;
    let other = queue(None).await;
    assert!(store.account_set_hold(a, Some("limit")).await.unwrap());
    assert!(
        !store.account_set_hold(a, Some("again")).await.unwrap(),
        "a second hold is no change"
    );
    let held = store
        .account_get(&addr("a@example.test"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(held.held.as_deref(), Some("limit"));
    // Mail queued for it while on hold is held from the start.
    let late = queue(Some(a)).await;
    assert_eq!(
        store.queue_get(late).await.unwrap().unwrap().recipients[0].state,
        RcptState::Held
    );
    store
        .queue_release(QueueTarget::Message(late), true, 0)
        .await
        .unwrap();
    assert!(store.queue_get(late).await.unwrap().is_none());
    let state = |q| async move { store.queue_get(q).await.unwrap().unwrap().recipients[0].state };
    assert_eq!(state(q1).await, RcptState::Held);
    assert_eq!(state(other).await, RcptState::Pending);
    let taken = store.queue_take_due(i64::MAX / 2, 60, 100).await.unwrap();
    assert_eq!(
        taken.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![other],
        "held recipients were taken"
    );
    // Taking the hold off leaves the mail held; releasing one sends it.
    assert!(store.account_set_hold(a, None).await.unwrap());
    assert_eq!(
        store
            .account_get(&addr("a@example.test"))
            .await
            .unwrap()
            .unwrap()
            .held,
        None
    );
    assert_eq!(state(q1).await, RcptState::Held);
    assert_eq!(
        store
            .queue_release(QueueTarget::Message(q1), false, 5)
            .await
            .unwrap(),
        1
    );
    let r = &store.queue_get(q1).await.unwrap().unwrap().recipients[0];
    assert_eq!((r.state, r.next_attempt), (RcptState::Pending, 5));
    // By message: hold, then release deleting.
    assert_eq!(store.queue_hold(QueueTarget::Message(q1)).await.unwrap(), 1);
    assert_eq!(
        store
            .queue_release(QueueTarget::Account(a), true, 5)
            .await
            .unwrap(),
        2
    );
    assert!(store.queue_get(q1).await.unwrap().is_none());
    assert!(store.queue_get(q2).await.unwrap().is_none());
    assert!(store.queue_get(other).await.unwrap().is_some());
    let missing = crate::QueueId::new(999_999);
    assert!(matches!(
        store.queue_hold(QueueTarget::Message(missing)).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .account_set_hold(AccountId::new(999_999), Some("x"))
            .await,
        Err(StoreError::NotFound(_))
    ));
}

/// DMARC aggregate report data: equal rows are counted together, a day
/// holds at most `max_rows` rows (the rest counted as dropped), the latest
/// policy is kept, only days before the given one are taken, each exactly
/// once, and concurrent takers never get the same day.
pub async fn dmarc_reports<S: Store + ?Sized + 'static>(store: Arc<S>) {
    use crate::dmarc::{DmarcEvent, DmarcLimits, DmarcRecorded};
    let cap = |max_rows| DmarcLimits {
        max_rows,
        max_domains: 3,
    };
    let event = |domain: &str, day: i64, policy: &str, row: &str| DmarcEvent {
        day,
        domain: domain.into(),
        policy: policy.into(),
        row: row.into(),
    };
    assert_eq!(store.dmarc_take(i64::MAX).await.unwrap(), None);
    for (row, times) in [("b", 3), ("a", 2)] {
        for _ in 0..times {
            let r = store
                .dmarc_record(&event("sender.test", 100, "p=none", row), cap(2))
                .await
                .unwrap();
            assert_eq!(r, DmarcRecorded::Counted);
        }
    }
    // A third distinct row is over the cap of 2; an existing one still counts.
    let over = event("sender.test", 100, "p=reject", "c");
    assert_eq!(
        store.dmarc_record(&over, cap(2)).await.unwrap(),
        DmarcRecorded::Dropped
    );
    assert_eq!(
        store
            .dmarc_record(&event("sender.test", 100, "p=reject", "a"), cap(2))
            .await
            .unwrap(),
        DmarcRecorded::Counted
    );
    // Another domain the same day, and the first one the next day.
    store
        .dmarc_record(&event("other.test", 100, "p=none", "x"), cap(2))
        .await
        .unwrap();
    store
        .dmarc_record(&event("sender.test", 101, "p=none", "a"), cap(2))
        .await
        .unwrap();

    // Day 100 has two domains; a third fits, a fourth does not.
    store
        .dmarc_record(&event("third.test", 100, "p=none", "x"), cap(2))
        .await
        .unwrap();
    assert_eq!(
        store
            .dmarc_record(&event("fourth.test", 100, "p=none", "x"), cap(2))
            .await
            .unwrap(),
        DmarcRecorded::DomainsFull
    );

    // Day 101 is not complete before day 101.
    let mut days = Vec::new();
    while let Some(d) = store.dmarc_take(101).await.unwrap() {
        days.push(d);
    }
    days.sort_by(|a, b| a.domain.cmp(&b.domain));
    let names: Vec<&str> = days.iter().map(|d| d.domain.as_str()).collect();
    assert_eq!(names, ["other.test", "sender.test", "third.test"]);
    assert_eq!(days[0].rows, vec![("x".to_string(), 1)]);
    assert_eq!(days[1].day, 100);
    assert_eq!(days[1].policy, "p=reject", "the latest policy");
    assert_eq!(
        days[1].rows,
        vec![("a".to_string(), 3), ("b".to_string(), 3)]
    );
    assert_eq!(days[1].dropped, 1);

    // Taken is gone: a late event for day 100 starts a new day 100.
    let late = store.dmarc_take(102).await.unwrap().expect("day 101");
    assert_eq!((late.day, late.rows.len()), (101, 1));

    // Concurrent takers: each of 20 days goes to exactly one.
    for d in 0..20 {
        store
            .dmarc_record(
                &event(&format!("d{d}.test"), 50, "p=none", "r"),
                DmarcLimits {
                    max_rows: 10,
                    max_domains: 100,
                },
            )
            .await
            .unwrap();
    }
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                while let Some(day) = store.dmarc_take(51).await.unwrap() {
                    mine.push(day.domain);
                }
                mine
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    let before = all.len();
    all.dedup();
    assert_eq!((before, all.len()), (20, 20), "each day taken exactly once");
}

/// TLS-RPT sessions: a batch's events are counted together per (policy,
/// result), a day holds at most `max_rows` rows (further sessions counted
/// as dropped) and `max_domains` domains (further ones lost), only days
/// before the given one are taken, each exactly once, and concurrent
/// takers never get the same day.
pub async fn tls_reports<S: Store + ?Sized + 'static>(store: Arc<S>) {
    use crate::tls_report::{TlsEvent, TlsLimits, TlsRecorded};
    let limits = TlsLimits {
        max_rows: 2,
        max_domains: 2,
    };
    let ev = |domain: &str, day: i64, policy: &str, result: &str, count: u64| TlsEvent {
        day,
        domain: domain.into(),
        policy: policy.into(),
        result: result.into(),
        count,
    };
    assert_eq!(store.tls_report_take(i64::MAX).await.unwrap(), None);
    let r = store
        .tls_report_record(
            &[
                ev("mx.test", 100, "sts", "ok", 2),
                ev("mx.test", 100, "sts", "bad", 1),
                ev("mx.test", 100, "sts", "ok", 3),
            ],
            limits,
        )
        .await
        .unwrap();
    assert_eq!(
        r,
        TlsRecorded {
            counted: 6,
            dropped: 0,
            lost: 0
        }
    );
    // A third row is over the cap; an existing one still counts; another
    // domain fits, a third domain does not; another day is a day of its own.
    let r = store
        .tls_report_record(
            &[
                ev("mx.test", 100, "sts", "worse", 4),
                ev("mx.test", 100, "sts", "bad", 1),
                ev("other.test", 100, "tlsa", "ok", 1),
                ev("third.test", 100, "sts", "ok", 5),
                ev("mx.test", 101, "sts", "ok", 1),
            ],
            limits,
        )
        .await
        .unwrap();
    assert_eq!(
        r,
        TlsRecorded {
            counted: 3,
            dropped: 4,
            lost: 5
        }
    );
    assert_eq!(store.tls_report_take(100).await.unwrap(), None);
    let mut days = Vec::new();
    while let Some(d) = store.tls_report_take(101).await.unwrap() {
        days.push(d);
    }
    days.sort_by(|a, b| a.domain.cmp(&b.domain));
    let names: Vec<&str> = days.iter().map(|d| d.domain.as_str()).collect();
    assert_eq!(names, ["mx.test", "other.test"]);
    let row = |p: &str, r: &str, n| (p.to_string(), r.to_string(), n);
    assert_eq!(
        days[0].rows,
        vec![row("sts", "bad", 2), row("sts", "ok", 5)]
    );
    assert_eq!((days[0].day, days[0].dropped), (100, 4));
    assert_eq!(days[1].rows, vec![row("tlsa", "ok", 1)]);
    let late = store.tls_report_take(102).await.unwrap().expect("day 101");
    assert_eq!((late.day, late.rows.len()), (101, 1));
    assert_eq!(store.tls_report_take(i64::MAX).await.unwrap(), None);

    // Concurrent takers: each of 20 days goes to exactly one.
    let many: Vec<_> = (0..20)
        .map(|d| ev(&format!("d{d}.test"), 50, "sts", "ok", 1))
        .collect();
    store
        .tls_report_record(
            &many,
            TlsLimits {
                max_rows: 10,
                max_domains: 100,
            },
        )
        .await
        .unwrap();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                while let Some(day) = store.tls_report_take(51).await.unwrap() {
                    mine.push(day.domain);
                }
                mine
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    let before = all.len();
    all.dedup();
    assert_eq!((before, all.len()), (20, 20), "each day taken exactly once");
}

/// Vacation replies: none until set; settings read back (UTF-8 text, no
/// subject or dates); one reply per sender per interval, concurrent
/// askers answered once; setting again or turning off forgets whom it
/// answered; removing the account removes its vacation.
pub async fn vacations<S: Store + ?Sized + 'static>(store: Arc<S>) {
    use crate::Vacation;
    store.domain_add(&dom("away.test")).await.unwrap();
    let id = store.account_add(account("anna@away.test")).await.unwrap();
    let other = store.account_add(account("ben@away.test")).await.unwrap();
    assert_eq!(store.account_vacation(id).await.unwrap(), None);
    let v = Vacation {
        subject: Some("ไม่อยู่ / 不在".into()),
        text: "ฉันไม่อยู่จนถึงวันจันทร์\n我周一回来。\n".into(),
        starts: Some(1_000),
        ends: Some(2_000_000),
        interval_days: 7,
    };
    store
        .account_set_vacation(&addr("anna@away.test"), Some(&v))
        .await
        .unwrap();
    assert_eq!(store.account_vacation(id).await.unwrap(), Some(v.clone()));
    assert_eq!(store.account_vacation(other).await.unwrap(), None);
    let plain = Vacation {
        subject: None,
        starts: None,
        ends: None,
        interval_days: 1,
        ..v.clone()
    };
    store
        .account_set_vacation(&addr("ben@away.test"), Some(&plain))
        .await
        .unwrap();
    assert_eq!(store.account_vacation(other).await.unwrap(), Some(plain));
    let missing = store
        .account_set_vacation(&addr("nobody@away.test"), Some(&v))
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );

    let week = 7 * 86_400;
    let due = |who: AccountId, s: &'static str, now: i64| {
        let store = store.clone();
        async move { store.vacation_reply_due(who, s, now, week).await.unwrap() }
    };
    assert!(due(id, "x@remote.test", 10_000).await);
    assert!(!due(id, "x@remote.test", 10_001).await);
    assert!(!due(id, "x@remote.test", 10_000 + week - 1).await);
    // Another sender, and the same sender for another mailbox.
    assert!(due(id, "y@remote.test", 10_001).await);
    assert!(due(other, "x@remote.test", 10_001).await);
    // The interval over: due again, and then held back anew.
    assert!(due(id, "x@remote.test", 10_000 + week).await);
    assert!(!due(id, "x@remote.test", 10_000 + week + 1).await);

    // Many messages from one sender at once: one reply.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .vacation_reply_due(id, "burst@remote.test", 50_000, week)
                .await
                .unwrap()
        }));
    }
    let mut yes = 0;
    for t in tasks {
        yes += usize::from(t.await.unwrap());
    }
    assert_eq!(yes, 1, "concurrent askers for one sender");

    // Setting it again forgets whom it answered.
    store
        .account_set_vacation(&addr("anna@away.test"), Some(&v))
        .await
        .unwrap();
    assert!(due(id, "burst@remote.test", 50_001).await);
    // Off: gone, and so is its memory.
    store
        .account_set_vacation(&addr("anna@away.test"), None)
        .await
        .unwrap();
    assert_eq!(store.account_vacation(id).await.unwrap(), None);
    assert!(due(id, "burst@remote.test", 50_002).await);
    store.account_remove(&addr("ben@away.test")).await.unwrap();
    assert_eq!(store.account_vacation(other).await.unwrap(), None);
}

/// Forwarding: a mailbox's forward targets; per-copy prefixes (each
/// mailbox's `Delivered-To`) over one shared body, counted in the copy's
/// size, its usage and its downgraded view; several queue entries in one
/// commit, each with its own prefix and the forwarded flag.
pub async fn forwarding<S: Store + ?Sized>(store: &S) {
    use crate::Forward;
    store.domain_add(&dom("fwd.test")).await.unwrap();
    let a = store.account_add(account("a@fwd.test")).await.unwrap();
    let b = store.account_add(account("b@fwd.test")).await.unwrap();
    let c = store.account_add(account("c@fwd.test")).await.unwrap();

    // Forward targets: set, read back in order, replaced, cleared.
    assert_eq!(store.account_forward(a).await.unwrap(), None);
    let f = Forward {
        targets: vec![addr("x@remote.test"), addr("b@fwd.test")],
        keep: true,
    };
    store
        .account_set_forward(&addr("a@fwd.test"), Some(&f))
        .await
        .unwrap();
    assert_eq!(store.account_forward(a).await.unwrap(), Some(f));
    assert_eq!(store.account_forward(b).await.unwrap(), None);
    let only = Forward {
        targets: vec![addr("y@remote.test")],
        keep: false,
    };
    store
        .account_set_forward(&addr("a@fwd.test"), Some(&only))
        .await
        .unwrap();
    assert_eq!(store.account_forward(a).await.unwrap(), Some(only.clone()));
    let missing = store
        .account_set_forward(&addr("nobody@fwd.test"), Some(&only))
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
    store
        .account_set_forward(&addr("a@fwd.test"), None)
        .await
        .unwrap();
    assert_eq!(store.account_forward(a).await.unwrap(), None);
    // A removed mailbox takes its forwarding along.
    store
        .account_set_forward(&addr("c@fwd.test"), Some(&only))
        .await
        .unwrap();
    store.account_remove(&addr("c@fwd.test")).await.unwrap();
    assert_eq!(store.account_forward(c).await.unwrap(), None);

    // Per-copy prefixes over one body, and two queue entries.
    let text = "Subject: สวัสดี\r\n\r\nbody\r\n".as_bytes();
    let header_len = text.len() as u64 - 6;
    let replacement = b"Subject: =?UTF-8?B?4Liq4Lin4Lix4Liq4LiU4Li1?=\r\n\r\n".to_vec();
    let pa = b"Delivered-To: a+tag@fwd.test\r\n".to_vec();
    let mut spool = store.new_spool();
    spool.write(text).unwrap();
    spool.set_downgrade(HeaderDowngrade {
        original_len: header_len,
        header: Some(replacement.clone()),
    });
    spool.set_prefix(a, b"Delivered-To: replaced@fwd.test\r\n".to_vec());
    spool.set_prefix(a, pa.clone());
    let mut fwd = outbound(&["x@remote.test"]);
    fwd.prefix = b"Delivered-To: a@fwd.test\r\n".to_vec();
    fwd.forwarded = true;
    fwd.sender = "SRS0=xx=yy=remote.test=s@fwd.test".into();
    let acc = store
        .accept(
            spool,
            &[a, b],
            vec![outbound(&["z@remote.test"]), fwd.clone()],
            true,
        )
        .await
        .unwrap();
    assert_eq!(acc.messages.len(), 2);
    assert_eq!(acc.queued.len(), 2);
    let size = text.len() as u64;
    let list_a = store.list_messages(a).await.unwrap();
    let list_b = store.list_messages(b).await.unwrap();
    assert_eq!(list_a[0].size, size + pa.len() as u64);
    assert_eq!(list_b[0].size, size);
    assert_eq!(
        list_a[0].legacy,
        LegacyView::Downgraded {
            size: pa.len() as u64 + replacement.len() as u64 + 6
        }
    );
    let read = |who: AccountId, m: MessageId| async move {
        store
            .open_message(who, m)
            .await
            .unwrap()
            .read_all()
            .await
            .unwrap()
    };
    assert_eq!(read(a, acc.messages[0]).await, [&pa[..], text].concat());
    assert_eq!(read(b, acc.messages[1]).await, text);
    // The downgraded view keeps the prefix in front: skipping the length
    // it replaces and putting its header there gives the listed size.
    let d = store
        .message_downgrade(a, acc.messages[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.original_len, pa.len() as u64 + header_len);
    assert_eq!(d.header, Some([&pa[..], &replacement[..]].concat()));
    let legacy_len =
        d.header.as_ref().unwrap().len() as u64 + size + pa.len() as u64 - d.original_len;
    assert_eq!(
        list_a[0].legacy,
        LegacyView::Downgraded { size: legacy_len }
    );
    // Usage counts the copy as listed.
    let used = store.account_by_id(a).await.unwrap().unwrap().used_bytes;
    assert_eq!(used, list_a[0].size);

    let plain = store.queue_get(acc.queued[0]).await.unwrap().unwrap();
    let forwarded = store.queue_get(acc.queued[1]).await.unwrap().unwrap();
    assert!(!plain.forwarded && forwarded.forwarded);
    assert_eq!(plain.size, size);
    assert_eq!(forwarded.size, size + fwd.prefix.len() as u64);
    assert_eq!(forwarded.sender, fwd.sender);
    assert_eq!(forwarded.recipients[0].rcpt.address, "x@remote.test");
    let queued = |q: crate::QueueId| async move {
        store
            .open_queued(q)
            .await
            .unwrap()
            .read_all()
            .await
            .unwrap()
    };
    assert_eq!(queued(plain.id).await, text);
    assert_eq!(queued(forwarded.id).await, [&fwd.prefix[..], text].concat());
    // The shared body outlives every copy but the last.
    store.delete_messages(a, &[acc.messages[0]]).await.unwrap();
    store.delete_messages(b, &[acc.messages[1]]).await.unwrap();
    store.queue_delete(plain.id).await.unwrap();
    assert_eq!(queued(forwarded.id).await, [&fwd.prefix[..], text].concat());
    store.queue_delete(forwarded.id).await.unwrap();
    assert_eq!(store.account_by_id(a).await.unwrap().unwrap().used_bytes, 0);

    // Below a Return-Path line the body starts with, in the downgraded
    // view too.
    let traced = "Return-Path: <s@remote.test>\r\nSubject: ก\r\n\r\nb\r\n".as_bytes();
    let mut spool = store.new_spool();
    spool.write(traced).unwrap();
    let down = b"Return-Path: <s@remote.test>\r\nSubject: =?UTF-8?B?4LiB?=\r\n\r\n".to_vec();
    spool.set_downgrade(HeaderDowngrade {
        original_len: traced.len() as u64 - 3,
        header: Some(down.clone()),
    });
    spool.set_prefix(b, pa.clone());
    let acc = store.accept(spool, &[b], Vec::new(), true).await.unwrap();
    let copy = read(b, acc.messages[0]).await;
    assert_eq!(copy, [&traced[..30], &pa[..], &traced[30..]].concat());
    let d = store
        .message_downgrade(b, acc.messages[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.header, Some([&down[..30], &pa[..], &down[30..]].concat()));
    assert_eq!(&copy[d.original_len as usize..], b"b\r\n");
    store.delete_messages(b, &acc.messages).await.unwrap();
    // A line that is not ASCII stays out of the downgraded view, whose
    // listed size follows.
    let utf8 = "Delivered-To: สมชาย@fwd.test\r\n".as_bytes();
    let mut spool = store.new_spool();
    spool.write(traced).unwrap();
    spool.set_downgrade(HeaderDowngrade {
        original_len: traced.len() as u64 - 3,
        header: Some(down.clone()),
    });
    spool.set_prefix(b, [&pa[..], utf8].concat());
    let acc = store.accept(spool, &[b], Vec::new(), true).await.unwrap();
    let d = store
        .message_downgrade(b, acc.messages[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.header, Some([&down[..30], &pa[..], &down[30..]].concat()));
    let listed = store.list_messages(b).await.unwrap();
    let stored = listed[0].size;
    assert_eq!(stored, (traced.len() + pa.len() + utf8.len()) as u64);
    assert_eq!(
        listed[0].legacy,
        LegacyView::Downgraded {
            size: stored - d.original_len + d.header.unwrap().len() as u64
        }
    );
    store.delete_messages(b, &acc.messages).await.unwrap();

    // A prefix on an empty body is the whole copy.
    let mut spool = store.new_spool();
    spool.set_prefix(b, pa.clone());
    let acc = store.accept(spool, &[b], Vec::new(), true).await.unwrap();
    assert_eq!(read(b, acc.messages[0]).await, pa);
    assert_eq!(
        store.list_messages(b).await.unwrap()[0].size,
        pa.len() as u64
    );
}

/// The SRS secret: made once, 32 alphanumeric characters, the same on
/// every call — also when many ask at once before it exists.
pub async fn srs_secret<S: Store + ?Sized + 'static>(store: Arc<S>) {
    let asks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.srs_secret().await.unwrap() })
        })
        .collect();
    let mut got = Vec::new();
    for a in asks {
        got.push(a.await.unwrap());
    }
    let first = got[0].clone();
    assert_eq!(first.len(), 32);
    assert!(first.iter().all(u8::is_ascii_alphanumeric), "{first:?}");
    assert!(got.iter().all(|s| *s == first), "one secret for all askers");
    assert_eq!(store.srs_secret().await.unwrap(), first);
}

/// Admin API tokens: created with distinct ids, listed oldest first with
/// their scopes read back, found by digest only, revoked at once (a
/// second revoke and an unknown id are not found), and the same digest
/// cannot be recorded twice.
pub async fn api_tokens<S: Store + ?Sized>(store: &S) {
    use crate::Subject;
    use crate::tokens::{NewToken, TokenScope};
    assert!(store.token_list().await.unwrap().is_empty());
    let new = |d: u8, name: &str, scope: TokenScope| NewToken {
        digest: [d; 32],
        name: name.into(),
        scope,
        created: 1_700_000_000 + i64::from(d),
    };
    let admin = new(1, "billing", TokenScope::Admin);
    let domains = new(
        2,
        "customer ก",
        TokenScope::Domains(vec![dom("a.test"), dom("ไทย.test")]),
    );
    let user = new(3, "", TokenScope::User(addr("anna@a.test")));
    let mut ids = Vec::new();
    for t in [&admin, &domains, &user] {
        ids.push(store.token_create(t).await.unwrap());
    }
    assert!(ids[0] != ids[1] && ids[1] != ids[2]);
    let listed = store.token_list().await.unwrap();
    assert_eq!(listed.len(), 3);
    for ((info, t), id) in listed.iter().zip([&admin, &domains, &user]).zip(&ids) {
        assert_eq!(info.id, *id);
        assert_eq!(info.name, t.name);
        assert_eq!(info.scope, t.scope);
        assert_eq!(info.created, t.created);
    }
    let found = store.token_by_digest(&[2; 32]).await.unwrap().unwrap();
    assert_eq!(found, listed[1]);
    assert_eq!(store.token_by_digest(&[9; 32]).await.unwrap(), None);
    assert!(matches!(
        store
            .token_create(&new(2, "again", TokenScope::Admin))
            .await,
        Err(StoreError::Duplicate(_)) | Err(StoreError::Unavailable(_))
    ));
    store.token_revoke(ids[1]).await.unwrap();
    assert_eq!(store.token_by_digest(&[2; 32]).await.unwrap(), None);
    assert!(matches!(
        store.token_revoke(ids[1]).await,
        Err(StoreError::NotFound(Subject::Token(_)))
    ));
    assert!(matches!(
        store.token_revoke(987_654).await,
        Err(StoreError::NotFound(Subject::Token(987_654)))
    ));
    assert_eq!(store.token_list().await.unwrap().len(), 2);
}

/// Domain administrators: added (twice is no error), listed both ways,
/// removed (a second time is `NotFound`), unknown domains and mailboxes
/// refused, and the role gone with the mailbox and with the domain.
pub async fn domain_admins<S: Store + ?Sized>(store: &S) {
    use crate::Subject;
    let (a, b) = (dom("a.test"), dom("b.test"));
    store.domain_add(&a).await.unwrap();
    store.domain_add(&b).await.unwrap();
    let (anna, bert, carl) = (
        addr("anna@a.test"),
        addr("bert@a.test"),
        addr("carl@b.test"),
    );
    for x in ["anna@a.test", "bert@a.test", "carl@b.test"] {
        store.account_add(account(x)).await.unwrap();
    }
    assert!(store.admin_domains(&anna).await.unwrap().is_empty());
    store.domain_admin_set(&a, &anna, true).await.unwrap();
    store.domain_admin_set(&a, &anna, true).await.unwrap();
    store.domain_admin_set(&b, &anna, true).await.unwrap();
    store.domain_admin_set(&a, &bert, true).await.unwrap();
    assert_eq!(
        store.admin_domains(&anna).await.unwrap(),
        [a.clone(), b.clone()]
    );
    assert_eq!(
        store.domain_admins(&a).await.unwrap(),
        [anna.clone(), bert.clone()]
    );
    assert_eq!(store.domain_admins(&b).await.unwrap(), vec![anna.clone()]);
    assert!(store.admin_domains(&carl).await.unwrap().is_empty());
    assert!(matches!(
        store.domain_admin_set(&dom("c.test"), &anna, true).await,
        Err(StoreError::NotFound(Subject::Domain(_)))
    ));
    assert!(matches!(
        store
            .domain_admin_set(&a, &addr("nobody@a.test"), true)
            .await,
        Err(StoreError::NotFound(Subject::Account(_)))
    ));
    store.domain_admin_set(&b, &anna, false).await.unwrap();
    assert!(matches!(
        store.domain_admin_set(&b, &anna, false).await,
        Err(StoreError::NotFound(Subject::DomainAdmin(_, _)))
    ));
    assert_eq!(store.admin_domains(&anna).await.unwrap(), vec![a.clone()]);
    // Gone with the mailbox: a new mailbox of the same name is no admin.
    store.account_remove(&bert).await.unwrap();
    store.account_add(account("bert@a.test")).await.unwrap();
    assert!(store.admin_domains(&bert).await.unwrap().is_empty());
    // Gone with the domain: carl administered a.test, which goes.
    store.domain_admin_set(&a, &carl, true).await.unwrap();
    store.domain_remove(&a, true).await.unwrap();
    assert!(store.admin_domains(&carl).await.unwrap().is_empty());
    store.domain_add(&a).await.unwrap();
    assert!(store.domain_admins(&a).await.unwrap().is_empty());
}

/// Removing a domain takes it out of the tokens that speak for it;
/// removing a mailbox deletes its user tokens, and a mailbox made again
/// with the address does not bring them back.
pub async fn tokens_follow_removals<S: Store + ?Sized>(store: &S) {
    use crate::tokens::{NewToken, TokenScope};
    for d in ["a.test", "b.test"] {
        store.domain_add(&dom(d)).await.unwrap();
    }
    store.account_add(account("anna@a.test")).await.unwrap();
    store.account_add(account("bob@b.test")).await.unwrap();
    let new = |d: u8, scope: TokenScope| NewToken {
        digest: [d; 32],
        name: String::new(),
        scope,
        created: 1_700_000_000,
    };
    let made = [
        new(1, TokenScope::Admin),
        new(2, TokenScope::Domains(vec![dom("a.test"), dom("b.test")])),
        new(3, TokenScope::Domains(vec![dom("a.test")])),
        new(4, TokenScope::User(addr("anna@a.test"))),
        new(5, TokenScope::User(addr("bob@b.test"))),
    ];
    for t in &made {
        store.token_create(t).await.unwrap();
    }
    let scope_of = |d: u8| async move {
        store
            .token_by_digest(&[d; 32])
            .await
            .unwrap()
            .map(|t| t.scope)
    };
    store.account_remove(&addr("bob@b.test")).await.unwrap();
    assert_eq!(scope_of(5).await, None, "bob's token went with bob");
    store.account_add(account("bob@b.test")).await.unwrap();
    assert_eq!(scope_of(5).await, None, "a new bob has no old token");
    assert!(scope_of(4).await.is_some(), "anna's token stays");

    store.domain_remove(&dom("a.test"), true).await.unwrap();
    assert_eq!(scope_of(1).await, Some(TokenScope::Admin));
    assert_eq!(
        scope_of(2).await,
        Some(TokenScope::Domains(vec![dom("b.test")])),
        "the two-domain token keeps b.test"
    );
    assert_eq!(scope_of(3).await, None, "a.test's only token is gone");
    assert_eq!(scope_of(4).await, None, "anna's token went with a.test");
    store.domain_add(&dom("a.test")).await.unwrap();
    assert_eq!(
        scope_of(2).await,
        Some(TokenScope::Domains(vec![dom("b.test")])),
        "adding the domain again gives it back to no one"
    );
    assert_eq!(store.token_list().await.unwrap().len(), 2);
}

/// Per-domain limits: stored, read back, checked with the change in one
/// transaction (concurrent additions cannot both take the last place),
/// and only by the `*_within_limits` methods.
pub async fn domain_limits<S: Store + ?Sized + 'static>(store: Arc<S>) {
    use crate::limits::{DomainLimits, LimitRefusal};
    use crate::{Conflict, Subject};
    let d = dom("limited.test");
    assert!(matches!(
        store.domain_limits(&d).await,
        Err(StoreError::NotFound(Subject::Domain(_)))
    ));
    assert!(matches!(
        store.domain_set_limits(&d, &DomainLimits::default()).await,
        Err(StoreError::NotFound(Subject::Domain(_)))
    ));
    store.domain_add(&d).await.unwrap();
    assert_eq!(
        store.domain_limits(&d).await.unwrap(),
        DomainLimits::default()
    );
    let limits = DomainLimits {
        mailboxes: Some(3),
        aliases: Some(1),
        mailbox_quota: Some(1 << 30),
        total_quota: Some(2 << 30),
    };
    store.domain_set_limits(&d, &limits).await.unwrap();
    assert_eq!(store.domain_limits(&d).await.unwrap(), limits);

    let with_quota = |s: &str, q: Option<u64>| NewAccount {
        quota_bytes: q,
        ..account(s)
    };
    fn refusal<T>(r: Result<T, StoreError>) -> LimitRefusal {
        match r {
            Err(StoreError::Conflict(Conflict::Limit(l))) => l,
            Err(e) => panic!("expected a limit refusal, got {e}"),
            Ok(_) => panic!("expected a limit refusal, got Ok"),
        }
    }
    assert!(matches!(
        refusal(
            store
                .account_add_within_limits(with_quota("u@limited.test", None))
                .await
        ),
        LimitRefusal::Unlimited { .. }
    ));
    assert!(matches!(
        refusal(
            store
                .account_add_within_limits(with_quota("big@limited.test", Some(2 << 30)))
                .await
        ),
        LimitRefusal::MailboxQuota { .. }
    ));
    // Ten at once for the two places left under the total quota (1G each
    // of 2G): exactly two get one.
    let mut tasks = Vec::new();
    for i in 0..10 {
        let s = store.clone();
        let a = with_quota(&format!("m{i}@limited.test"), Some(1 << 30));
        tasks.push(tokio::spawn(
            async move { s.account_add_within_limits(a).await },
        ));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::Conflict(Conflict::Limit(LimitRefusal::TotalQuota { .. }))) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(ok, 2, "the total quota admits two 1G mailboxes");
    // Lowering fits, and makes room for a third mailbox; a fourth passes
    // the mailbox limit.
    let first = store.account_page(&d, None, 1).await.unwrap();
    let m = first[0].address.clone();
    store
        .account_set_quota_within_limits(&m, Some(512 << 20), None)
        .await
        .unwrap();
    assert!(matches!(
        refusal(store.account_set_quota_within_limits(&m, None, None).await),
        LimitRefusal::Unlimited { .. }
    ));
    store
        .account_add_within_limits(with_quota("third@limited.test", Some(512 << 20)))
        .await
        .unwrap();
    assert!(matches!(
        refusal(
            store
                .account_add_within_limits(with_quota("fourth@limited.test", Some(1)))
                .await
        ),
        LimitRefusal::Mailboxes { limit: 3, .. }
    ));
    assert!(matches!(
        refusal(
            store
                .account_set_quota_within_limits(&m, Some(1 << 30), None)
                .await
        ),
        LimitRefusal::TotalQuota { .. }
    ));
    // The plain methods are not bound (the server administrator's).
    store
        .account_add(with_quota("fourth@limited.test", None))
        .await
        .unwrap();
    store
        .account_set_quota(&m, Some(1 << 30), None)
        .await
        .unwrap();
    // Aliases: one place.
    let target = [addr("third@limited.test")];
    store
        .alias_add_within_limits(&addr("a1@limited.test"), &target)
        .await
        .unwrap();
    assert!(matches!(
        refusal(
            store
                .alias_add_within_limits(&addr("a2@limited.test"), &target)
                .await
        ),
        LimitRefusal::Aliases { limit: 1, .. }
    ));
    assert_eq!(store.alias_list(Some(&d)).await.unwrap().len(), 1);
    // Cleared: unlimited again.
    store
        .domain_set_limits(&d, &DomainLimits::default())
        .await
        .unwrap();
    store
        .alias_add_within_limits(&addr("a2@limited.test"), &target)
        .await
        .unwrap();
    store
        .account_add_within_limits(with_quota("free@limited.test", None))
        .await
        .unwrap();
}

/// Pages of a domain's accounts: in byte order of the local part, each
/// after the cursor, covering every account once, other domains apart,
/// with the usage of each.
pub async fn account_pages<S: Store + ?Sized>(store: &S) {
    store.domain_add(&dom("paged.test")).await.unwrap();
    store.domain_add(&dom("other.test")).await.unwrap();
    store.account_add(account("zz@other.test")).await.unwrap();
    let mut locals: Vec<String> = (0..23).map(|i| format!("u{i:02}")).collect();
    locals.push("สมชาย".into());
    locals.push("a.b".into());
    locals.push("Z".into());
    for l in &locals {
        store
            .account_add(account(&format!("{l}@paged.test")))
            .await
            .unwrap();
    }
    let mut expected: Vec<String> = locals.iter().map(|l| l.to_lowercase()).collect();
    expected.sort();
    assert!(
        store
            .account_page(&dom("none.test"), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Usage comes with each account.
    let u03 = store
        .account_get(&addr("u03@paged.test"))
        .await
        .unwrap()
        .unwrap();
    deliver_text(store, b"Subject: x\r\n\r\nhello\r\n", &[u03.id]).await;
    let mut seen = Vec::new();
    let mut after: Option<Address> = None;
    loop {
        let page = store
            .account_page(&dom("paged.test"), after.as_ref(), 7)
            .await
            .unwrap();
        assert!(page.len() <= 7);
        for a in &page {
            assert_eq!(a.address.domain(), &dom("paged.test"));
            if a.address.local() == "u03" {
                assert_eq!(a.used_messages, 1);
                assert!(a.used_bytes > 0);
            }
        }
        seen.extend(page.iter().map(|a| a.address.local().to_string()));
        match page.last() {
            Some(last) if page.len() == 7 => after = Some(last.address.clone()),
            _ => break,
        }
    }
    assert_eq!(seen, expected);
    let whole = store
        .account_page(&dom("paged.test"), None, 1000)
        .await
        .unwrap();
    assert_eq!(whole.len(), locals.len());
}

/// Pages of a domain's aliases: in byte order of the local part, each
/// after the cursor, with every target in its order, other domains apart.
pub async fn alias_pages<S: Store + ?Sized>(store: &S) {
    store.domain_add(&dom("paged.test")).await.unwrap();
    store.domain_add(&dom("other.test")).await.unwrap();
    store
        .alias_add(&addr("zz@other.test"), &[addr("x@remote.test")])
        .await
        .unwrap();
    let mut expected = Vec::new();
    for i in 0..12 {
        let alias = addr(&format!("a{i:02}@paged.test"));
        let targets: Vec<Address> = (0..=(i % 3))
            .map(|t| addr(&format!("t{t}-{i}@remote.test")))
            .collect();
        store.alias_add(&alias, &targets).await.unwrap();
        expected.push(crate::Alias {
            address: alias,
            targets,
        });
    }
    assert!(
        store
            .alias_page(&dom("none.test"), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let mut seen = Vec::new();
    let mut after: Option<Address> = None;
    loop {
        let page = store
            .alias_page(&dom("paged.test"), after.as_ref(), 5)
            .await
            .unwrap();
        assert!(page.len() <= 5);
        seen.extend(page.iter().cloned());
        match page.last() {
            Some(last) if page.len() == 5 => after = Some(last.address.clone()),
            _ => break,
        }
    }
    assert_eq!(seen, expected);
    assert_eq!(
        store.alias_list(Some(&dom("paged.test"))).await.unwrap(),
        expected
    );
}

/// [`Store::accounts_import`]: domains hosted on the way, accounts created
/// or replaced in one commit, and nothing written when one of them fails.
pub async fn accounts_import<S: Store + ?Sized>(store: &S) {
    use crate::{AccountImport, Language};
    let import = |a: &str, replace: bool| AccountImport {
        account: NewAccount {
            quota_bytes: Some(1000),
            ..account(a)
        },
        quota_messages: Some(7),
        lang: Language::Th,
        replace,
    };
    store.domain_add(&dom("old.test")).await.unwrap();
    store.account_add(account("kept@old.test")).await.unwrap();
    store
        .accounts_import(
            vec![dom("old.test"), dom("new.test")],
            vec![import("a@new.test", false), import("kept@old.test", true)],
        )
        .await
        .unwrap();
    let names: Vec<String> = store
        .domain_list()
        .await
        .unwrap()
        .iter()
        .map(|d| d.domain.ascii().to_string())
        .collect();
    assert_eq!(names, ["new.test", "old.test"]);
    for a in ["a@new.test", "kept@old.test"] {
        let got = store.account_get(&addr(a)).await.unwrap().unwrap();
        assert_eq!(got.quota_bytes, Some(1000), "{a}");
        assert_eq!(got.quota_messages, Some(7), "{a}");
        assert_eq!(got.lang, Language::Th, "{a}");
        assert_eq!(got.password_hash, "$argon2id$test");
    }
    // A duplicate among new accounts, then a replacement of no account:
    // neither the domain nor the accounts before the failure are written.
    for bad in [
        import("a@new.test", false),
        import("missing@new.test", true),
    ] {
        let err = store
            .accounts_import(
                vec![dom("third.test")],
                vec![import("b@new.test", false), bad],
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Duplicate(_) | StoreError::NotFound(_)),
            "{err:?}"
        );
        assert!(
            store
                .account_get(&addr("b@new.test"))
                .await
                .unwrap()
                .is_none()
        );
        assert!(!store.is_hosted(&dom("third.test")).await.unwrap());
    }
}

fn import_msg<S: Store + ?Sized>(
    store: &S,
    text: &[u8],
    uidl: Option<&str>,
    retrieved: Option<i64>,
) -> ImportMessage {
    let mut body = store.new_spool();
    body.write(text).unwrap();
    ImportMessage {
        body,
        uidl: uidl.map(str::to_string),
        received: 1_000_000,
        retrieved,
    }
}

/// Imports: old UIDLs, times and retrieval kept, a re-run skips what is
/// there, bad UIDLs refuse the whole batch, UIDLs of the store's own form
/// never collide with the ones it makes later.
pub async fn imports<S: Store + ?Sized>(store: &S) {
    store.domain_add(&dom("example.test")).await.unwrap();
    let a = store.account_add(account("a@example.test")).await.unwrap();
    let b = store.account_add(account("b@example.test")).await.unwrap();
    let big: Vec<u8> = (0..300_000u32)
        .map(|i| b"abcdefghij\r\n"[(i % 12) as usize])
        .collect();
    let first = vec![
        import_msg(
            store,
            b"Subject: one\r\n\r\n1\r\n",
            Some("0000000154abcdef"),
            Some(5),
        ),
        import_msg(store, b"Subject: two\r\n\r\n2\r\n", None, None),
        import_msg(store, &big, Some("UID3-x"), None),
    ];
    let out = store.import_messages(a, first).await.unwrap();
    assert!(
        out.iter().all(|o| matches!(o, ImportOutcome::Imported(_))),
        "{out:?}"
    );
    let list = store.list_messages(a).await.unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[0].uidl, "0000000154abcdef");
    assert_eq!(list[2].uidl, "UID3-x");
    assert!(list[1].uidl.bytes().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(
        list.iter().map(|m| m.retrieved).collect::<Vec<_>>(),
        vec![Some(5), None, None]
    );
    assert!(list.iter().all(|m| m.received == 1_000_000));
    let ImportOutcome::Imported(big_id) = out[2] else {
        unreachable!()
    };
    let body = store
        .open_message(a, big_id)
        .await
        .unwrap()
        .read_all()
        .await
        .unwrap();
    assert_eq!(body, big);
    let acc = store.account_by_id(a).await.unwrap().unwrap();
    assert_eq!(acc.used_messages, 3);
    assert_eq!(acc.used_bytes, 19 + 19 + big.len() as u64);

    // A re-run: what is there is skipped, duplicates in one batch too.
    let again = vec![
        import_msg(store, b"x\r\n", Some("0000000154abcdef"), None),
        import_msg(store, b"new\r\n", Some("new-1"), None),
        import_msg(store, b"new again\r\n", Some("new-1"), None),
    ];
    let out2 = store.import_messages(a, again).await.unwrap();
    assert_eq!(out2[0], out[0].already());
    assert!(matches!(out2[1], ImportOutcome::Imported(_)));
    assert_eq!(out2[2], out2[1].already());
    assert_eq!(store.list_messages(a).await.unwrap().len(), 4);

    // A bad UIDL refuses the batch: nothing of it is stored.
    for bad in ["", "has space", &"x".repeat(71), "caf\u{e9}"] {
        let batch = vec![
            import_msg(store, b"fine\r\n", Some("fine-1"), None),
            import_msg(store, b"bad\r\n", Some(bad), None),
        ];
        assert!(
            matches!(
                store.import_messages(a, batch).await,
                Err(StoreError::Conflict(crate::Conflict::BadUidl { .. }))
            ),
            "{bad:?}"
        );
    }
    assert_eq!(store.list_messages(a).await.unwrap().len(), 4);
    assert!(matches!(
        store
            .import_messages(
                AccountId::new(987_654),
                vec![import_msg(store, b"x\r\n", Some("u"), None)]
            )
            .await,
        Err(StoreError::NotFound(_))
    ));

    // UIDLs of the store's own form: one a's message has is that message;
    // one naming an id not given out yet keeps that id from ever being.
    let own = deliver_text(store, b"own\r\n", &[a]).await[0];
    let own_uidl = store
        .list_messages(a)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.id == own)
        .unwrap()
        .uidl;
    let prefix = own_uidl
        .strip_suffix(&own.get().to_string())
        .unwrap()
        .to_string();
    let out = store
        .import_messages(
            a,
            vec![import_msg(store, b"own\r\n", Some(&own_uidl), None)],
        )
        .await
        .unwrap();
    assert_eq!(out, vec![ImportOutcome::AlreadyThere(own)]);
    let ahead = format!("{prefix}{}", own.get() + 3);
    let out = store
        .import_messages(
            b,
            vec![
                import_msg(store, b"elsewhere\r\n", Some(&own_uidl), None),
                import_msg(store, b"ahead\r\n", Some(&ahead), None),
            ],
        )
        .await
        .unwrap();
    assert!(out.iter().all(|o| matches!(o, ImportOutcome::Imported(_))));
    for _ in 0..6 {
        deliver_text(store, b"later\r\n", &[b]).await;
    }
    let uidls: Vec<String> = store
        .list_messages(b)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.uidl)
        .collect();
    let unique: std::collections::HashSet<_> = uidls.iter().collect();
    assert_eq!(unique.len(), uidls.len(), "{uidls:?}");
    assert!(matches!(
        store
            .import_messages(
                b,
                vec![import_msg(
                    store,
                    b"x\r\n",
                    Some(&format!("{prefix}{}", 1u64 << 50)),
                    None
                )]
            )
            .await,
        Err(StoreError::Conflict(crate::Conflict::BadUidl { .. }))
    ));

    // A UTF-8 header keeps its downgrade for clients without UTF8.
    let original = "Subject: สวัสดี\r\n\r\nbody\r\n".as_bytes();
    let replacement = b"Subject: =?UTF-8?B?4Liq4Lin4Lix4Liq4LiU4Li1?=\r\n\r\n".to_vec();
    let mut m = import_msg(store, original, Some("utf8-1"), None);
    m.body.set_downgrade(HeaderDowngrade {
        original_len: original.len() as u64 - 6,
        header: Some(replacement.clone()),
    });
    let out = store.import_messages(b, vec![m]).await.unwrap();
    let ImportOutcome::Imported(id) = out[0] else {
        unreachable!()
    };
    let meta = store
        .list_messages(b)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.id == id)
        .unwrap();
    assert_eq!(
        meta.legacy,
        LegacyView::Downgraded {
            size: replacement.len() as u64 + 6
        }
    );
}
