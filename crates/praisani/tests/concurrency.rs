//! Many simultaneous SMTP sessions delivering while POP3 sessions read and
//! delete: every message must arrive exactly once, in the right mailbox.

mod common;

use common::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

const SMTP_SESSIONS: usize = 120;
const MESSAGES_PER_SESSION: usize = 3;
const USERS: usize = 10;

fn user(i: usize) -> String {
    format!("u{i}@example.test")
}

fn pass(i: usize) -> String {
    format!("pass-{i}")
}

/// Subject tokens of the messages in a RETR body (ours are `conc-…`).
fn subject_token(msg: &[u8]) -> String {
    header(msg, "Subject")
        .unwrap_or_else(|| panic!("no Subject in {}", String::from_utf8_lossy(msg)))
}

/// One POP3 pass: retrieve everything, delete it, QUIT; returns the tokens
/// only when QUIT succeeded (so the deletion is committed).
fn drain_once(s_port: u16, i: usize) -> Result<Vec<String>, String> {
    let mut p = Pop3::connect(s_port);
    p.try_login(&user(i), &pass(i))?;
    let (n, total) = p.stat();
    let list = p.list();
    if list.len() != n || list.iter().map(|x| x.1).sum::<u64>() != total {
        return Err(format!("STAT {n} {total} disagrees with LIST {list:?}"));
    }
    let mut toks = Vec::new();
    for (num, size) in list {
        let m = p.retr(num);
        if m.len() as u64 != size {
            return Err(format!(
                "{}: message {num} LIST size {size} but RETR {} octets",
                user(i),
                m.len()
            ));
        }
        if !m.ends_with(b"END\r\n") {
            return Err(format!("{}: message {num} truncated", user(i)));
        }
        toks.push(subject_token(&m));
        p.ok(&format!("DELE {num}"));
    }
    let r = p.quit();
    if !r.starts_with("+OK") {
        return Err(format!("QUIT after DELE: {r}"));
    }
    Ok(toks)
}

#[test]
fn many_smtp_sessions_with_concurrent_pop3_readers() {
    let s = Server::start_with(ServerOpts {
        demo: true,
        limits: "max_connections = 2000\nmax_connections_per_ip = 1000".into(),
    });
    for i in 0..USERS {
        s.add_user(&user(i), &pass(i), &[]);
    }
    let smtp_port = s.smtp_port;
    let pop3_port = s.pop3_port;

    let collected: Arc<Mutex<Vec<(usize, String)>>> = Arc::new(Mutex::new(Vec::new()));
    let errors: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let smtp_done = Arc::new(AtomicBool::new(false));
    let pop3_passes = Arc::new(AtomicUsize::new(0));

    // POP3 readers, one per mailbox, looping while the SMTP load runs.
    let mut readers = Vec::new();
    for i in 0..USERS {
        let (collected, errors, smtp_done, passes) = (
            collected.clone(),
            errors.clone(),
            smtp_done.clone(),
            pop3_passes.clone(),
        );
        readers.push(std::thread::spawn(move || {
            loop {
                let last = smtp_done.load(Ordering::SeqCst);
                match drain_once(pop3_port, i) {
                    Ok(toks) => {
                        passes.fetch_add(1, Ordering::Relaxed);
                        collected
                            .lock()
                            .unwrap()
                            .extend(toks.into_iter().map(|t| (i, t)));
                    }
                    Err(e) if e.contains("[IN-USE]") => {}
                    Err(e) => {
                        errors.lock().unwrap().push(format!("POP3 reader {i}: {e}"));
                        return;
                    }
                }
                if last {
                    return;
                }
                std::thread::sleep(Duration::from_millis(30));
            }
        }));
    }

    // SMTP senders: all connect first, then all send at once.
    let barrier = Arc::new(Barrier::new(SMTP_SESSIONS));
    let mut senders = Vec::new();
    let started = Instant::now();
    for t in 0..SMTP_SESSIONS {
        let (barrier, errors) = (barrier.clone(), errors.clone());
        senders.push(std::thread::spawn(move || -> Vec<(usize, String)> {
            let mut sent = Vec::new();
            let mut c = match Smtp::connect_raw(smtp_port) {
                Ok(c) => c,
                Err(e) => {
                    barrier.wait();
                    errors
                        .lock()
                        .unwrap()
                        .push(format!("SMTP {t}: connect: {e}"));
                    return sent;
                }
            };
            let greeting = c.reply();
            barrier.wait();
            match greeting {
                Ok(r) if r.code == 220 => {}
                other => {
                    errors
                        .lock()
                        .unwrap()
                        .push(format!("SMTP {t}: greeting {other:?}"));
                    return sent;
                }
            }
            if let Err(e) = c.cmd("EHLO sender.test") {
                errors.lock().unwrap().push(format!("SMTP {t}: EHLO {e}"));
                return sent;
            }
            for k in 0..MESSAGES_PER_SESSION {
                let u = (t + k) % USERS;
                let tok = format!("conc-t{t}-m{k}-u{u}");
                let body = format!(
                    "session {t} message {k}\r\n{}\r\nEND",
                    "filler text, a line of it\r\n".repeat(50 * (k + 1))
                );
                let msg = simple_message("sender@remote.test", &user(u), &tok, &body);
                match c.send_mail("sender@remote.test", &[&user(u)], &msg) {
                    Ok(()) => sent.push((u, tok)),
                    Err(e) => {
                        errors
                            .lock()
                            .unwrap()
                            .push(format!("SMTP {t} message {k}: {e}"));
                        return sent;
                    }
                }
            }
            c.quit();
            sent
        }));
    }
    let mut sent: Vec<(usize, String)> = Vec::new();
    for h in senders {
        sent.extend(h.join().expect("sender thread panicked"));
    }
    let smtp_time = started.elapsed();
    smtp_done.store(true, Ordering::SeqCst);
    for h in readers {
        h.join().expect("reader thread panicked");
    }
    let errors = errors.lock().unwrap().clone();
    assert!(
        errors.is_empty(),
        "{} errors, first ones:\n{}",
        errors.len(),
        errors
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(
        sent.len(),
        SMTP_SESSIONS * MESSAGES_PER_SESSION,
        "not every message was accepted"
    );

    // One last drain of every mailbox (readers stop after their final pass).
    let mut collected = collected.lock().unwrap().clone();
    for i in 0..USERS {
        let mut p = s.pop3_login(&user(i), &pass(i));
        let (n, _) = p.stat();
        for num in 1..=n {
            collected.push((i, subject_token(&p.retr(num))));
        }
        p.quit();
    }

    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut wrong_box = Vec::new();
    for (i, tok) in &collected {
        *seen.entry(tok.clone()).or_default() += 1;
        if !tok.ends_with(&format!("-u{i}")) {
            wrong_box.push(format!("{tok} found in {}", user(*i)));
        }
    }
    let dups: Vec<_> = seen
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(t, n)| format!("{t} x{n}"))
        .collect();
    let missing: Vec<_> = sent
        .iter()
        .filter(|(_, t)| !seen.contains_key(t))
        .map(|(_, t)| t.clone())
        .collect();
    assert!(
        wrong_box.is_empty(),
        "messages in the wrong mailbox: {wrong_box:?}"
    );
    assert!(dups.is_empty(), "duplicated messages: {dups:?}");
    assert!(
        missing.is_empty(),
        "{} accepted messages missing: {:?}",
        missing.len(),
        &missing[..missing.len().min(20)]
    );
    assert_eq!(seen.len(), sent.len(), "unexpected extra messages");
    eprintln!(
        "concurrency: {} messages over {SMTP_SESSIONS} sessions in {smtp_time:?}, {} POP3 passes",
        sent.len(),
        pop3_passes.load(Ordering::Relaxed)
    );
    // The store's counters agree.
    for i in 0..USERS {
        let out = s.cli(&["--json", "user", "show", &user(i)]);
        let remaining = {
            let mut p = s.pop3_login(&user(i), &pass(i));
            let n = p.stat().0;
            p.quit();
            n
        };
        assert!(
            out.out().contains(&format!("\"messages\":{remaining}")),
            "user show disagrees with POP3 STAT {remaining}: {}",
            out.describe()
        );
    }
}

/// Many connections from one IP beyond max_connections_per_ip get a
/// temporary error, not a hang, and the server keeps serving.
#[test]
fn per_ip_connection_limit() {
    let s = Server::start_with(ServerOpts {
        demo: true,
        limits: "max_connections_per_ip = 5".into(),
    });
    let mut held = Vec::new();
    // The start-up probe's connections may hold a slot for a moment on a
    // busy machine: a 421 there is retried, the five must all be greeted.
    let deadline = Instant::now() + Duration::from_secs(10);
    while held.len() < 5 {
        let mut c = Smtp::connect_raw(s.smtp_port).expect("connect");
        let r = c.reply().expect("greeting");
        if r.code == 220 {
            held.push(c);
        } else {
            assert!(Instant::now() < deadline, "slots never free: {r}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let mut extra = Smtp::connect_raw(s.smtp_port).expect("connect");
    extra
        .r
        .get_ref()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    match extra.reply() {
        Ok(r) => assert!(
            (400..500).contains(&r.code),
            "6th connection from one IP: {r} (want 4xx)"
        ),
        Err(e) => panic!("6th connection: no reply ({e}); expected a 4xx and close"),
    }
    drop(held);
    // Slots are released: a new connection works again.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut c = Smtp::connect_raw(s.smtp_port).expect("connect");
        let r = c.reply().expect("greeting");
        if r.code == 220 {
            c.quit();
            break;
        }
        assert!(
            Instant::now() < deadline,
            "per-IP slots never released: {r}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// 100+ POP3 sessions logged in at the same moment, each on its own
/// mailbox, all retrieving and deleting at once: every message comes out
/// exactly once, in its own mailbox, and every deletion is committed.
#[test]
fn hundred_simultaneous_pop3_sessions() {
    const N: usize = 110;
    let s = Server::start_with(ServerOpts {
        limits: "max_connections_per_ip = 500\n".into(),
        ..ServerOpts::default()
    });
    let addr = |i: usize| format!("p{i}@example.test");
    let pw = |i: usize| format!("pw-{i}");
    for i in 0..N {
        s.add_user(&addr(i), &pw(i), &[]);
    }
    for i in 0..N {
        let mut c = s.smtp();
        c.ehlo("client.test");
        for k in 0..2 {
            let subject = format!("p{i}-{k}");
            let msg = simple_message("a@remote.test", &addr(i), &subject, "body\r\nEND");
            c.send_mail("a@remote.test", &[&addr(i)], &msg)
                .unwrap_or_else(|e| panic!("delivery to {}: {e}\n{}", addr(i), s.log()));
        }
        c.quit();
    }

    let port = s.pop3_port;
    let logged_in = Arc::new(Barrier::new(N));
    let threads: Vec<_> = (0..N)
        .map(|i| {
            let logged_in = logged_in.clone();
            let (user, pass) = (addr(i), pw(i));
            std::thread::spawn(move || -> Result<Vec<String>, String> {
                let mut p = Pop3::connect(port);
                let login = p.try_login(&user, &pass);
                // Everyone waits here, so all N sessions are open at once.
                logged_in.wait();
                login?;
                let mut tokens = Vec::new();
                for (num, size) in p.list() {
                    let m = p.retr(num);
                    if m.len() as u64 != size {
                        return Err(format!("{user}: LIST {size} but RETR {} octets", m.len()));
                    }
                    tokens.push(subject_token(&m));
                    p.ok(&format!("DELE {num}"));
                }
                let bye = p.quit();
                if !bye.starts_with("+OK") {
                    return Err(format!("{user}: QUIT: {bye}"));
                }
                Ok(tokens)
            })
        })
        .collect();
    let mut errors = Vec::new();
    for (i, t) in threads.into_iter().enumerate() {
        match t.join().expect("POP3 thread panicked") {
            Ok(mut tokens) => {
                tokens.sort();
                let want = vec![format!("p{i}-0"), format!("p{i}-1")];
                if tokens != want {
                    errors.push(format!("{}: got {tokens:?}, want {want:?}", addr(i)));
                }
            }
            Err(e) => errors.push(e),
        }
    }
    assert!(errors.is_empty(), "{}\n{}", errors.join("\n"), s.log());
    for i in [0, N / 2, N - 1] {
        let mut p = s.pop3_login(&addr(i), &pw(i));
        assert_eq!(p.stat(), (0, 0), "{} not emptied", addr(i));
        p.quit();
    }
}
