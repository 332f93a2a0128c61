//! The conformance suite every [`Store`] backend must pass.
//!
//! Each check takes a fresh, empty store and panics with a message on the
//! first deviation. Backends call [`run_all`] from their tests.

#![allow(clippy::unwrap_used, clippy::panic)]

use crate::{
    Accepted, AttemptResult, HeaderDowngrade, LegacyView, Lookup, NewAccount, Outbound,
    OutboundRcpt, RcptState, Secrets, Store, StoreError,
};
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

async fn deliver_text<S: Store + ?Sized>(store: &S, text: &[u8], to: &[i64]) -> Vec<i64> {
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
    store
        .account_set_quota(&addr("alice@example.test"), Some(1000))
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
        Lookup::Account {
            id: got,
            quota_bytes,
            used_bytes,
        } => {
            assert_eq!(got, id);
            assert_eq!(quota_bytes, Some(1000));
            assert_eq!(used_bytes, 0);
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
            .map(|r| OutboundRcpt {
                address: r.to_string(),
                domain: r
                    .rsplit_once('@')
                    .map(|(_, d)| d.to_string())
                    .unwrap_or_default(),
                orcpt: Some(format!("rfc822;{r}")),
                notify: None,
            })
            .collect(),
        envid: Some("env-1".into()),
        ret: Some("HDRS".into()),
        smtputf8: false,
        eight_bit: true,
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
            Some(outbound(&["x@remote.test", "y@other.test"])),
        )
        .await
        .unwrap();
    assert_eq!(acc.messages.len(), 1);
    let qid = acc.queued.expect("queued");
    let nothing = store.accept(store.new_spool(), &[], None).await.unwrap();
    assert_eq!(
        nothing,
        Accepted {
            messages: vec![],
            queued: None
        }
    );

    let entry = store.queue_get(qid).await.unwrap().unwrap();
    assert_eq!(entry.sender, "a@example.test");
    assert_eq!(entry.envid.as_deref(), Some("env-1"));
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
            .queue_record(&[(999_999, AttemptResult::Delivered)])
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
