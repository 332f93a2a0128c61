//! [`super::pull`] against a scripted POP3 server on loopback: what goes
//! on the wire (DELE only after the commit, QUIT), byte-stuffing undone,
//! resumption, and the STLS response injection refused.

use super::*;
use praisani_mailaddr::Domain;
use praisani_store::{EmbeddedStore, NewAccount};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// The scripted server's mailbox: (UIDL, message as sent, stuffed).
const MAILBOX: [(&str, &str); 2] = [
    ("uid-one", "Subject: one\r\n\r\n..leading dot\r\nbody\r\n"),
    ("uid-two+/=", "Subject: two\r\n\r\nsecond\r\n"),
];

/// Serves POP3 connections with [`MAILBOX`], one at a time; records each
/// command. `stls_injection`: answer STLS with a second line at once.
async fn server(stls_injection: bool) -> (u16, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let (r, mut w) = s.into_split();
            let mut r = BufReader::new(r);
            w.write_all(b"+OK ready\r\n").await.unwrap();
            let mut line = String::new();
            while r.read_line(&mut line).await.unwrap_or(0) > 0 {
                let cmd = line.trim_end().to_string();
                line.clear();
                seen.lock().unwrap().push(cmd.clone());
                let verb = cmd.split(' ').next().unwrap_or("").to_ascii_uppercase();
                let reply: String = match verb.as_str() {
                    "CAPA" => "+OK\r\nUSER\r\nUIDL\r\nSTLS\r\n.\r\n".into(),
                    "STLS" if stls_injection => "+OK begin\r\n+OK injected\r\n".into(),
                    "USER" | "PASS" | "DELE" | "NOOP" => "+OK\r\n".into(),
                    "UIDL" => {
                        let mut t = "+OK\r\n".to_string();
                        for (i, (u, _)) in MAILBOX.iter().enumerate() {
                            t.push_str(&format!("{} {u}\r\n", i + 1));
                        }
                        t + ".\r\n"
                    }
                    "LIST" => {
                        let mut t = "+OK\r\n".to_string();
                        for (i, (_, m)) in MAILBOX.iter().enumerate() {
                            t.push_str(&format!("{} {}\r\n", i + 1, m.len()));
                        }
                        t + ".\r\n"
                    }
                    "RETR" => {
                        let n: usize = cmd[5..].parse().unwrap();
                        format!("+OK\r\n{}.\r\n", MAILBOX[n - 1].1)
                    }
                    "QUIT" => {
                        w.write_all(b"+OK bye\r\n").await.unwrap();
                        break;
                    }
                    _ => "-ERR unknown\r\n".into(),
                };
                w.write_all(reply.as_bytes()).await.unwrap();
            }
        }
    });
    (port, log)
}

async fn store() -> (tempfile::TempDir, EmbeddedStore, Address) {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    store
        .domain_add(&Domain::parse("new.test").unwrap())
        .await
        .unwrap();
    let to = Address::parse("anna@new.test").unwrap();
    store
        .account_add(NewAccount {
            address: to.clone(),
            password_hash: "$argon2id$x".into(),
            apop_secret: None,
            scram: None,
            quota_bytes: None,
        })
        .await
        .unwrap();
    (dir, store, to)
}

fn source(port: u16, tls: Tls) -> Source {
    Source {
        host: "127.0.0.1".into(),
        port,
        tls,
        trust: Trust::System,
        plaintext_anywhere: false,
    }
}

#[tokio::test]
async fn pulls_resumes_and_deletes_only_after_storing() {
    let (port, log) = server(false).await;
    let (_d, store, to) = store().await;
    let account = PullAccount {
        user: "anna".into(),
        password: "pw".into(),
        to: to.clone(),
    };
    let opts = PullOptions {
        batch: 1,
        ..PullOptions::default()
    };
    let mut events = vec![];
    let r = pull(
        &store,
        &source(port, Tls::None),
        &account,
        &opts,
        &mut |p| events.push(p),
    )
    .await
    .unwrap();
    assert_eq!((r.listed, r.copied, r.already, r.deleted), (2, 2, 0, 0));
    assert_eq!(events[0], Progress::ToCopy(2));
    let id = store.account_get(&to).await.unwrap().unwrap().id;
    let list = store.list_messages(id).await.unwrap();
    assert_eq!(
        list.iter().map(|m| m.uidl.as_str()).collect::<Vec<_>>(),
        ["uid-one", "uid-two+/="]
    );
    let body = store
        .open_message(id, list[0].id)
        .await
        .unwrap()
        .read_all()
        .await
        .unwrap();
    assert_eq!(body, b"Subject: one\r\n\r\n.leading dot\r\nbody\r\n");
    assert!(!log.lock().unwrap().iter().any(|c| c.starts_with("DELE")));
    // Again, deleting: nothing copied, both DELEs, then QUIT.
    log.lock().unwrap().clear();
    let opts = PullOptions {
        delete_at_source: true,
        ..opts
    };
    let r = pull(
        &store,
        &source(port, Tls::None),
        &account,
        &opts,
        &mut |_| {},
    )
    .await
    .unwrap();
    assert_eq!((r.copied, r.already, r.deleted), (0, 2, 2));
    let cmds = log.lock().unwrap().clone();
    assert_eq!(&cmds[cmds.len() - 3..], ["DELE 1", "DELE 2", "QUIT"]);
    assert!(!cmds.iter().any(|c| c.starts_with("RETR")), "{cmds:?}");
}

#[tokio::test]
async fn a_response_injected_after_stls_is_refused() {
    let (port, log) = server(true).await;
    let (_d, store, to) = store().await;
    let account = PullAccount {
        user: "anna".into(),
        password: "pw".into(),
        to,
    };
    let e = pull(
        &store,
        &source(port, Tls::StartTls),
        &account,
        &PullOptions::default(),
        &mut |_| {},
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("sent data after +OK to STLS"), "{e}");
    assert!(!log.lock().unwrap().iter().any(|c| c.starts_with("USER")));
}
