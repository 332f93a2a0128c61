//! The recipient state of one connection: one transaction's worth at most.

use super::Inbound;
use crate::office::{PostOffice, SenderPolicy, Settings};
use praisani_mailaddr::Domain;
use praisani_smtp::{Envelope, ForwardPath, MailParams, ReversePath, Verdict, parse_forward_path};
use praisani_store::{EmbeddedStore, Retention, Store};
use std::sync::Arc;

/// A post office over a fresh embedded store hosting `example.test`, and the
/// state of a connection from a trusted network (so it may relay).
async fn trusted_inbound(dir: &std::path::Path) -> (Arc<PostOffice>, Inbound) {
    let store = EmbeddedStore::open(dir).unwrap();
    store
        .domain_add(&Domain::parse("example.test").unwrap())
        .await
        .unwrap();
    let settings = Settings {
        hostname: "mx.example.test".into(),
        quota_warn: Vec::new(),
        sender_policy: SenderPolicy::Owned,
        postmaster: None,
        retention: Retention::default(),
        login_delay: None,
        bounce_interval: std::time::Duration::from_secs(3600),
        bounce_senders: 100,
    };
    let office = Arc::new(PostOffice::new(Arc::new(store), settings));
    let inbound = Inbound::new(
        office.clone(),
        "127.0.0.1".parse().unwrap(),
        true,
        "t".into(),
    );
    (office, inbound)
}

fn path(s: &str) -> ForwardPath {
    parse_forward_path(s).unwrap().0
}

#[tokio::test]
async fn recipients_are_forgotten_at_the_next_mail() {
    let dir = tempfile::tempdir().unwrap();
    let (_office, mut inbound) = trusted_inbound(dir.path()).await;
    for round in 0..20 {
        let from = ReversePath::Null;
        assert_eq!(inbound.mail_from(&from, None).await, Verdict::Accept);
        for i in 0..50 {
            let to = path(&format!("<r{round}-{i}@remote.test>"));
            assert_eq!(inbound.rcpt_to(&to, None).await, Verdict::Accept);
        }
        // The client sends RSET here: the engine forgets the transaction,
        // and the next MAIL makes the post office forget it too.
        assert_eq!(inbound.remote.len(), 50, "round {round}");
    }
}

#[tokio::test]
async fn spellings_of_one_address_are_one_recipient() {
    let dir = tempfile::tempdir().unwrap();
    let (office, mut inbound) = trusted_inbound(dir.path()).await;
    assert_eq!(
        inbound.mail_from(&ReversePath::Null, None).await,
        Verdict::Accept
    );
    let spellings = [
        "<bob@remote.test>",
        "<bob@REMOTE.test>",
        "<bob@Remote.Test>",
    ];
    for s in spellings {
        assert_eq!(inbound.rcpt_to(&path(s), None).await, Verdict::Accept);
    }
    assert_eq!(inbound.remote.len(), 1);
    let env = Envelope {
        helo: "client.test".into(),
        esmtp: true,
        mail_from: ReversePath::Null,
        params: MailParams::default(),
        recipients: spellings.iter().map(|s| path(s)).collect(),
        recipient_params: vec![Default::default(); spellings.len()],
        authenticated: None,
        tls: false,
    };
    inbound.message_start(&env);
    inbound.message_bytes(b"Subject: x\r\n\r\nbody\r\n").await;
    inbound.message_end().await.unwrap();
    let queue = office.store.queue_list().await.unwrap();
    assert_eq!(queue.len(), 1);
    let addresses: Vec<_> = queue[0]
        .recipients
        .iter()
        .map(|r| r.rcpt.address.as_str())
        .collect();
    assert_eq!(addresses, ["bob@remote.test"], "queued once");
    assert!(inbound.remote.is_empty(), "forgotten after the message");
}
