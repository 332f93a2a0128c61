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
        addressing: Default::default(),
        max_received: crate::forwarding::DEFAULT_MAX_RECEIVED,
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

/// A message from another server, received by a post office that checks
/// against a local DNS server; returns the reply or the stored message.
async fn checked_message(
    peer: &str,
    zone: praisani_testdns::Zone,
    message: &[u8],
) -> Result<String, praisani_smtp::Reply> {
    use crate::office::InboundTrust;
    use crate::trust::{DnsSettings, DomainPolicies, TrustChecker, TrustSettings};
    let dir = tempfile::tempdir().unwrap();
    let dns = praisani_testdns::TestDns::start(zone);
    let store = EmbeddedStore::open(dir.path()).unwrap();
    store
        .domain_add(&Domain::parse("example.test").unwrap())
        .await
        .unwrap();
    let account = store
        .account_add(praisani_store::NewAccount {
            address: praisani_mailaddr::Address::parse("a@example.test").unwrap(),
            password_hash: "$argon2id$test".into(),
            apop_secret: None,
            scram: None,
            quota_bytes: None,
        })
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
        addressing: Default::default(),
        max_received: crate::forwarding::DEFAULT_MAX_RECEIVED,
    };
    let checker = TrustChecker::with_dns(
        TrustSettings::default(),
        &DnsSettings {
            nameservers: vec![dns.addr],
            timeout: std::time::Duration::from_secs(2),
        },
    )
    .unwrap();
    let office = Arc::new(
        PostOffice::new(Arc::new(store), settings).with_trust(InboundTrust {
            checker: Arc::new(checker),
            policies: DomainPolicies::default(),
            memory: Default::default(),
        }),
    );
    let mut inbound = Inbound::new(office.clone(), peer.parse().unwrap(), false, "t".into());
    let from = praisani_smtp::parse_reverse_path("<a@sender.test>")
        .unwrap()
        .0;
    assert_eq!(inbound.mail_from(&from, None).await, Verdict::Accept);
    let to = path("<a@example.test>");
    assert_eq!(inbound.rcpt_to(&to, None).await, Verdict::Accept);
    let env = Envelope {
        helo: "client.test".into(),
        esmtp: true,
        mail_from: from,
        params: MailParams::default(),
        recipients: vec![to],
        recipient_params: vec![Default::default()],
        authenticated: None,
        tls: false,
    };
    inbound.message_start(&env);
    for piece in message.chunks(7) {
        inbound.message_bytes(piece).await;
    }
    inbound.message_end().await?;
    let list = office.store.list_messages(account).await.unwrap();
    let stored = office
        .store
        .open_message(account, list[0].id)
        .await
        .unwrap()
        .read_all()
        .await
        .unwrap();
    Ok(String::from_utf8(stored).unwrap())
}

#[tokio::test]
async fn an_ipv4_client_of_a_dual_stack_listener_is_checked_as_ipv4() {
    let zone = praisani_testdns::Zone::new().txt("sender.test", "v=spf1 ip4:127.0.0.1 -all");
    let message = b"From: <a@sender.test>\r\nSubject: x\r\n\r\nbody\r\n";
    for peer in ["127.0.0.1", "::ffff:127.0.0.1"] {
        let stored = checked_message(peer, zone.clone(), message).await.unwrap();
        assert!(
            stored.contains("spf=pass") && !stored.contains("X-Spam-Flag"),
            "{peer}: {stored}"
        );
        assert!(
            stored.contains("designates 127.0.0.1 as permitted sender"),
            "{peer}: {stored}"
        );
        // Trace headers, then ours, then the client's header and body.
        let ours = stored
            .find("Authentication-Results: mx.example.test;")
            .unwrap();
        assert!(stored.find("Received: ").unwrap() < ours);
        assert!(stored.ends_with("\r\nFrom: <a@sender.test>\r\nSubject: x\r\n\r\nbody\r\n"));
    }
}
