//! Runs the conformance suite against the embedded backend.

use praisani_store::{EmbeddedStore, Store, conformance};
use std::sync::Arc;

fn fresh() -> (tempfile::TempDir, EmbeddedStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(dir.path()).expect("open");
    (dir, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domains() {
    let (_d, s) = fresh();
    conformance::domains(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_and_aliases() {
    let (_d, s) = fresh();
    conformance::accounts_and_aliases(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages() {
    let (_d, s) = fresh();
    conformance::messages(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports() {
    let (_d, s) = fresh();
    conformance::imports(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downgrades() {
    let (_d, s) = fresh();
    conformance::downgrades(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spool_heads() {
    let (_d, s) = fresh();
    conformance::spool_heads(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maildrop_lock() {
    let (_d, s) = fresh();
    conformance::maildrop_lock(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers() {
    let (_d, s) = fresh();
    conformance::concurrent_writers(Arc::new(s)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_keeps_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let s = EmbeddedStore::open(dir.path()).expect("open");
        conformance::maildrop_lock(&s).await;
    }
    let s = EmbeddedStore::open(dir.path()).expect("reopen");
    assert_eq!(s.integrity_check().await.expect("check"), "ok");
    assert_eq!(s.domain_list().await.expect("list").len(), 1);
}

/// UIDLs with a dot were handed out before schema 8; the upgrade writes
/// them into the store so clients that know them see them unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_keeps_the_uidls_clients_know() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let s = EmbeddedStore::open(dir.path()).expect("open");
        conformance::messages(&s).await;
    }
    // What a store written by the previous schema holds: no stored UIDL,
    // the client saw `prefix.id`.
    let prefix: String = {
        let c = rusqlite::Connection::open(dir.path().join("praisani.db")).expect("sqlite");
        c.execute_batch(
            "UPDATE messages SET uidl = NULL; DROP TABLE greylist; DROP TABLE greylist_clients;
             DROP TABLE mta_sts_policies;
             DROP TABLE send_counts; DROP TABLE send_recipients; DROP INDEX queue_by_account;
             ALTER TABLE queue DROP COLUMN account; ALTER TABLE accounts DROP COLUMN held;
             ALTER TABLE queue DROP COLUMN tls_required;
             ALTER TABLE domains DROP COLUMN contact; ALTER TABLE domains DROP COLUMN contact_lang;
             DROP TABLE dmarc_days; DROP TABLE dmarc_rows;
             DROP TABLE vacation_replies; DROP TABLE vacations; DROP TABLE api_tokens; DROP TABLE domain_admins;
             DROP TABLE tls_report_rows; DROP TABLE tls_report_days;
             DROP TABLE forward_targets; DROP TABLE forwards;
             ALTER TABLE messages DROP COLUMN prefix; ALTER TABLE queue DROP COLUMN prefix;
             ALTER TABLE queue DROP COLUMN forwarded; DROP INDEX messages_by_uidl;
             ALTER TABLE domains DROP COLUMN max_mailboxes;
             ALTER TABLE domains DROP COLUMN max_aliases;
             ALTER TABLE domains DROP COLUMN max_mailbox_quota;
             ALTER TABLE domains DROP COLUMN max_total_quota;
             PRAGMA user_version = 7;",
        )
        .expect("downgrade");
        c.query_row("SELECT value FROM meta WHERE key = 'uid_prefix'", [], |r| {
            r.get(0)
        })
        .expect("prefix")
    };
    let s = EmbeddedStore::open(dir.path()).expect("reopen");
    let mut seen = 0;
    for a in s.account_list(None).await.expect("accounts") {
        for m in s.list_messages(a.id).await.expect("list") {
            assert_eq!(m.uidl, format!("{prefix}.{}", m.id));
            seen += 1;
        }
    }
    assert!(seen > 0, "the suite left messages to check");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deliveries_share_commits() {
    let (_d, s) = fresh();
    let s = Arc::new(s);
    let before = s.commit_count();
    conformance::concurrent_writers(s.clone()).await;
    // 2 setup writes + 200 deliveries + 1 refused duplicate.
    let commits = s.commit_count() - before;
    assert!(
        commits < 203,
        "no group commit: {commits} commits for 203 writes"
    );
    eprintln!("group commit: 203 writes in {commits} commits");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue() {
    let (_d, s) = fresh();
    conformance::queue(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_sender_tls() {
    let (_d, s) = fresh();
    conformance::queue_sender_tls(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_survives_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let qid = {
        let s = EmbeddedStore::open(dir.path()).expect("open");
        let mut spool = s.new_spool();
        spool.write(b"x\r\n").expect("spool");
        let out = praisani_store::Outbound {
            sender: String::new(),
            recipients: vec![praisani_store::OutboundRcpt {
                address: "x@remote.test".into(),
                domain: "remote.test".into(),
                orcpt: None,
                notify: None,
            }],
            envid: None,
            ret: None,
            smtputf8: false,
            eight_bit: false,
            account: None,
            tls: Default::default(),
            prefix: Vec::new(),
            forwarded: false,
        };
        s.accept(spool, &[], vec![out], true)
            .await
            .expect("accept")
            .queued[0]
    };
    let s = EmbeddedStore::open(dir.path()).expect("reopen");
    let e = s.queue_get(qid).await.expect("get").expect("still queued");
    assert_eq!(e.sender, "");
    assert_eq!(e.recipients[0].rcpt.address, "x@remote.test");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas() {
    let (_d, s) = fresh();
    conformance::quotas(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_under_concurrency() {
    let (_d, s) = fresh();
    conformance::quota_under_concurrency(Arc::new(s)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_notices() {
    let (_d, s) = fresh();
    conformance::quota_notices(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention() {
    let (_d, s) = fresh();
    conformance::retention(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maildrop_locks_released() {
    let (_d, s) = fresh();
    conformance::maildrop_locks_released(&s).await;
}

/// Another process (the `expire` command) sees a session's maildrop lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maildrop_lock_is_seen_by_a_second_handle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s1 = EmbeddedStore::open(dir.path()).expect("open");
    let s2 = EmbeddedStore::open(dir.path()).expect("open twice");
    conformance::maildrop_lock(&s1).await;
    let a = s1.account_list(None).await.unwrap()[0].id;
    let held = s1.lock_maildrop(a).await.unwrap().expect("lock");
    assert!(s2.lock_maildrop(a).await.unwrap().is_none());
    drop(held);
    // The release is queued on s1's writer; wait for it to land.
    let mut free = None;
    for _ in 0..100 {
        free = s2.lock_maildrop(a).await.unwrap();
        if free.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(free.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_take_is_exclusive() {
    let (_d, s) = fresh();
    conformance::queue_take_is_exclusive(Arc::new(s)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn greylisting() {
    let (_d, s) = fresh();
    conformance::greylisting(Arc::new(s)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mta_sts_policies() {
    let (_d, s) = fresh();
    conformance::mta_sts_policies(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_limits() {
    let (_d, s) = fresh();
    conformance::sending_limits(Arc::new(s)).await;
}

#[tokio::test]
async fn holds() {
    let (_d, s) = fresh();
    conformance::holds(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dmarc_reports() {
    let (_d, s) = fresh();
    conformance::dmarc_reports(Arc::new(s)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_reports() {
    let (_d, s) = fresh();
    conformance::tls_reports(Arc::new(s)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vacations() {
    let (_d, s) = fresh();
    conformance::vacations(Arc::new(s)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding() {
    let (_d, s) = fresh();
    conformance::forwarding(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srs_secret() {
    let (d, s) = fresh();
    let s = Arc::new(s);
    conformance::srs_secret(s.clone()).await;
    let before = s.srs_secret().await.unwrap();
    drop(s);
    // Kept across a reopen.
    let again = EmbeddedStore::open(d.path()).expect("reopen");
    assert_eq!(again.srs_secret().await.unwrap(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_tokens() {
    let (_d, s) = fresh();
    conformance::api_tokens(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domain_admins() {
    let (_d, s) = fresh();
    conformance::domain_admins(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_follow_removals() {
    let (_d, s) = fresh();
    conformance::tokens_follow_removals(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domain_limits() {
    let (_d, s) = fresh();
    conformance::domain_limits(std::sync::Arc::new(s)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_pages() {
    let (_d, s) = fresh();
    conformance::account_pages(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alias_pages() {
    let (_d, s) = fresh();
    conformance::alias_pages(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_import() {
    let (_d, s) = fresh();
    conformance::accounts_import(&s).await;
}
