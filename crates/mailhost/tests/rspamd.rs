//! The spam filter against a real rspamd (Debian's package): started on a
//! loopback port with a configuration of its own, asked about the GTUBE
//! test message and a clean one; and what happens when it is down or
//! silent. Skipped when rspamd is not installed, unless
//! `PRAISANI_REQUIRE_TOOLS=1`.

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use praisani_mailhost::spam::{Envelope, OnFailure, SpamFilter, SpamSettings};
use praisani_mailhost::trust::Decision;
use praisani_store::Spool;

const GTUBE: &str = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An rspamd of the test's own, stopped when dropped.
struct Rspamd {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for Rspamd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

fn rspamd() -> Option<Rspamd> {
    if Command::new("rspamd").arg("--version").output().is_err() {
        assert!(
            std::env::var("PRAISANI_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "rspamd is not installed (apt-get install rspamd)"
        );
        eprintln!("skipped: rspamd is not installed");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("conf/local.d");
    std::fs::create_dir_all(&local).unwrap();
    std::fs::create_dir_all(dir.path().join("conf/override.d")).unwrap();
    for sub in ["db", "run", "log"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
    }
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    write(
        &local.join("worker-normal.inc"),
        &format!("bind_socket = \"{addr}\";\ncount = 1;\n"),
    );
    write(
        &local.join("worker-controller.inc"),
        &format!("bind_socket = \"127.0.0.1:{}\";\ncount = 1;\n", free_port()),
    );
    write(&local.join("worker-proxy.inc"), "enabled = false;\n");
    write(&local.join("worker-fuzzy.inc"), "enabled = false;\n");
    write(
        &local.join("logging.inc"),
        &format!(
            "type = \"file\";\nfilename = \"{}\";\nlevel = \"info\";\n",
            dir.path().join("log/rspamd.log").display()
        ),
    );
    // No DNS in the tests: a nameserver that refuses at once keeps the
    // network rules from slowing every check.
    write(
        &local.join("options.inc"),
        "dns { nameserver = [\"127.0.0.1:9\"]; timeout = 1s; retransmits = 1; }\n",
    );
    // Its network rules would only report DNS failures here (and praisani
    // checks SPF, DKIM and DMARC itself).
    for module in [
        "hfilter", "rbl", "asn", "dmarc", "spf", "dkim", "arc", "mx_check",
    ] {
        write(&local.join(format!("{module}.conf")), "enabled = false;\n");
    }
    let var = |name: &str, sub: &str| format!("--var={name}={}", dir.path().join(sub).display());
    let child = Command::new("rspamd")
        .args([
            "-f",
            "-i",
            "-u",
            "root",
            "-g",
            "root",
            "-c",
            "/etc/rspamd/rspamd.conf",
        ])
        .arg(var("LOCAL_CONFDIR", "conf"))
        .arg(var("DBDIR", "db"))
        .arg(var("RUNDIR", "run"))
        .arg(var("LOGDIR", "log"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start rspamd");
    let r = Rspamd {
        child,
        addr,
        _dir: dir,
    };
    let started = Instant::now();
    loop {
        let ping = Command::new("curl")
            .args(["-s", "-m", "1", &format!("http://{}/ping", r.addr)])
            .output();
        if ping.is_ok_and(|o| o.stdout.starts_with(b"pong")) {
            return Some(r);
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "rspamd did not answer on {}",
            r.addr
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn spool_of(text: &str) -> (tempfile::TempDir, Spool) {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::new(dir.path().to_path_buf());
    spool.write(text.as_bytes()).unwrap();
    (dir, spool)
}

fn message(body: &str) -> String {
    format!(
        "From: Anna <anna@sender.test>\r\nTo: somchai@example.test\r\n\
         Subject: Lunch\r\nDate: Thu, 03 Dec 2026 07:00:00 +0000\r\n\
         Message-ID: <lunch-1@sender.test>\r\n\r\n{body}\r\n"
    )
}

async fn ask(filter: &SpamFilter, head: &str, text: &str) -> Option<Decision> {
    let (_dir, mut spool) = spool_of(text);
    let rcpts = vec!["somchai@example.test".to_string()];
    let envelope = Envelope {
        client_ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)),
        helo: Some("mx.sender.test"),
        mail_from: "anna@sender.test",
        rcpts: &rcpts,
        user: None,
        queue_id: "TEST.1",
        mta_name: "mx.example.test",
    };
    filter.check(&envelope, head.as_bytes(), &mut spool).await
}

fn settings(addr: &str) -> SpamSettings {
    SpamSettings {
        addr: addr.to_string(),
        timeout: Duration::from_secs(20),
        ..SpamSettings::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rspamd_refuses_gtube_and_passes_clean_mail_with_its_headers() {
    let Some(r) = rspamd() else { return };
    let filter = SpamFilter::new(settings(&r.addr));
    match ask(&filter, "", &message(GTUBE)).await {
        Some(Decision::Reject {
            code,
            enhanced,
            text,
        }) => {
            assert_eq!((code, enhanced), (550, "5.7.1"));
            assert!(text.contains("Gtube"), "{text}");
        }
        d => panic!("GTUBE: {d:?}"),
    }
    // The head (our header fields, not in the spool) is part of what
    // rspamd sees: GTUBE there is found too.
    let body = message("hello");
    let (head, rest) = body.split_at(body.find("Subject:").unwrap());
    match ask(&filter, head, rest).await {
        Some(Decision::Mark {
            header_lines,
            subject_tag: None,
        }) => {
            let all = header_lines.concat();
            assert!(all.contains("X-Spam-Status: No, score="), "{all}");
            assert!(!all.contains("X-Spam-Flag"), "{all}");
        }
        d => panic!("clean mail: {d:?}"),
    }
    // A large message goes from a spool file in pieces.
    let big = message(&"The quarterly figures are attached below.\r\n".repeat(20_000));
    assert!(
        big.len() > 256 * 1024,
        "larger than what a spool keeps in memory"
    );
    assert!(matches!(
        ask(&filter, "", &big).await,
        Some(Decision::Mark { .. })
    ));
    assert_eq!(filter.failures(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn rspamd_down_or_silent_follows_the_failure_policy() {
    // Nothing listens: refused at once.
    let down = format!("127.0.0.1:{}", free_port());
    let open = SpamFilter::new(settings(&down));
    assert_eq!(ask(&open, "", &message(GTUBE)).await, None);
    assert_eq!(open.failures(), 1);
    let strict = SpamFilter::new(SpamSettings {
        on_failure: OnFailure::TempFail,
        ..settings(&down)
    });
    match ask(&strict, "", &message("hi")).await {
        Some(Decision::TempFail { code, enhanced, .. }) => {
            assert_eq!((code, enhanced), (451, "4.7.1"))
        }
        d => panic!("{d:?}"),
    }
    // Something accepts and never answers: the timeout ends the wait.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((c, _)) = silent.accept().await {
            held.push(c);
        }
    });
    let slow = SpamFilter::new(SpamSettings {
        timeout: Duration::from_millis(500),
        on_failure: OnFailure::TempFail,
        ..settings(&addr)
    });
    let started = Instant::now();
    assert!(matches!(
        ask(&slow, "", &message("hi")).await,
        Some(Decision::TempFail { .. })
    ));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(slow.failures(), 1);
    hold.abort();
}
