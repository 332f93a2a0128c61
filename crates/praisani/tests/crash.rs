//! Durability: messages acknowledged with 250 survive `kill -9` of the server
//! in the middle of a delivery load, and the store reopens cleanly.

mod common;

use common::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const USERS: usize = 4;
const WRITERS: usize = 8;

fn user(i: usize) -> String {
    format!("crash{i}@example.test")
}

fn pass(i: usize) -> String {
    format!("crash-pass-{i}")
}

/// Runs the delivery load until the server dies (or `max` elapses), returning
/// the tokens acknowledged with 250 after the final dot.
fn load_until_killed(s: &mut Server, round: usize) -> Vec<(usize, String)> {
    let acked: Arc<Mutex<Vec<(usize, String)>>> = Arc::new(Mutex::new(Vec::new()));
    let n_acked = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let port = s.smtp_port;
    let mut threads = Vec::new();
    for w in 0..WRITERS {
        let (acked, n_acked, stop) = (acked.clone(), n_acked.clone(), stop.clone());
        threads.push(std::thread::spawn(move || {
            let mut k = 0usize;
            // Reconnect on errors until the server is gone (connect refused).
            'conn: while !stop.load(Ordering::SeqCst) {
                let mut c = match Smtp::connect_raw(port) {
                    Ok(c) => c,
                    Err(_) => return,
                };
                c.r.get_ref()
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                match c.reply() {
                    Ok(r) if r.code == 220 => {}
                    _ => continue 'conn,
                }
                if !matches!(c.cmd("EHLO crash.test"), Ok(r) if r.code == 250) {
                    continue 'conn;
                }
                loop {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let u = (w + k) % USERS;
                    let tok = format!("crash-r{round}-w{w}-k{k}-u{u}");
                    // Mixed sizes so that the kill lands in DATA as well as between commands.
                    let lines = [1usize, 20, 400, 2000][k % 4];
                    let body = format!("{}END", "some text for the crash test\r\n".repeat(lines));
                    k += 1;
                    match c.send_mail(
                        "sender@remote.test",
                        &[&user(u)],
                        &simple_message("sender@remote.test", &user(u), &tok, &body),
                    ) {
                        Ok(()) => {
                            acked.lock().unwrap().push((u, tok));
                            n_acked.fetch_add(1, Ordering::SeqCst);
                        }
                        // The server died (or refused): reconnect; a refused connect ends the thread.
                        Err(_) => continue 'conn,
                    }
                    if k.is_multiple_of(25) {
                        // New sessions now and then (stays under max_messages_per_connection).
                        c.quit();
                        continue 'conn;
                    }
                }
            }
        }));
    }
    // Let the load run, then SIGKILL mid-flight.
    let deadline = Instant::now() + Duration::from_secs(8);
    while n_acked.load(Ordering::SeqCst) < 60 + 40 * round && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        n_acked.load(Ordering::SeqCst) > 0,
        "no message was acknowledged before the kill\n{}",
        s.log()
    );
    s.kill9();
    // Writers notice the dead server (EOF / refused) and end; the flag is a backstop.
    let t0 = Instant::now();
    for h in threads {
        while !h.is_finished() && t0.elapsed() < Duration::from_secs(15) {
            std::thread::sleep(Duration::from_millis(20));
        }
        stop.store(true, Ordering::SeqCst);
        h.join().expect("writer panicked");
    }
    acked.lock().unwrap().clone()
}

/// Every mailbox's messages (by Subject token), checking each is complete.
fn read_all(s: &Server) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for i in 0..USERS {
        let mut p = s.pop3_login(&user(i), &pass(i));
        let (n, total) = p.stat();
        let list = p.list();
        assert_eq!(list.len(), n);
        assert_eq!(
            list.iter().map(|x| x.1).sum::<u64>(),
            total,
            "STAT/LIST disagree after the crash"
        );
        for (num, size) in list {
            let m = p.retr(num);
            assert_eq!(
                m.len() as u64,
                size,
                "{}: message {num} size differs from LIST after crash",
                user(i)
            );
            assert!(
                m.ends_with(b"END\r\n"),
                "{}: message {num} is truncated after the crash:\n{}",
                user(i),
                String::from_utf8_lossy(&m[m.len().saturating_sub(200)..])
            );
            let tok = header(&m, "Subject").expect("Subject");
            found.push((i, tok));
        }
        assert!(p.quit().starts_with("+OK"));
    }
    found
}

#[test]
fn acknowledged_mail_survives_kill_9() {
    let mut s = Server::start_default();
    for i in 0..USERS {
        s.add_user(&user(i), &pass(i), &[]);
    }
    let mut all_acked: Vec<(usize, String)> = Vec::new();
    for round in 0..2 {
        let acked = load_until_killed(&mut s, round);
        eprintln!(
            "crash round {round}: {} messages acknowledged before kill -9",
            acked.len()
        );
        all_acked.extend(acked);
        s.restart(false);

        let found = read_all(&s);
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, t) in &found {
            *seen.entry(t.as_str()).or_default() += 1;
            assert!(
                t.ends_with(&format!("-u{i}")),
                "{t} in the wrong mailbox {}",
                user(*i)
            );
        }
        let dups: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
        assert!(dups.is_empty(), "duplicated after restart: {dups:?}");
        let lost: Vec<_> = all_acked
            .iter()
            .filter(|(_, t)| !seen.contains_key(t.as_str()))
            .map(|(_, t)| t.clone())
            .collect();
        assert!(
            lost.is_empty(),
            "round {round}: {} of {} acknowledged messages lost after kill -9: {:?}",
            lost.len(),
            all_acked.len(),
            &lost[..lost.len().min(20)]
        );
        // At most the in-flight messages (one per writer per round) may exceed the acked set.
        assert!(
            found.len() <= all_acked.len() + WRITERS * (round + 1),
            "{} stored but only {} acknowledged",
            found.len(),
            all_acked.len()
        );
    }

    // The store opens cleanly for the CLI and keeps working.
    let out = s.cli(&["user", "list"]);
    out.assert_ok("user list after crash");
    for i in 0..USERS {
        assert!(out.out().contains(&user(i)), "{}", out.describe());
    }
    s.add_user("after-crash@example.test", "pw", &[]);
    let tok = token("after");
    s.deliver(
        "a@remote.test",
        &["after-crash@example.test"],
        &simple_message("a@remote.test", "after-crash@example.test", &tok, "ok"),
    );
    let msgs = s.fetch_all("after-crash@example.test", "pw");
    assert_eq!(msgs.len(), 1);
    let st = s.stop_term();
    assert!(st.success(), "clean shutdown after recovery: {st}");
    // And once more from a cleanly stopped store.
    s.restart(false);
    assert_eq!(s.fetch_all("after-crash@example.test", "pw").len(), 1);
}

/// kill -9 while a POP3 session has DELEs pending: nothing is deleted.
#[test]
fn kill_9_during_pop3_update_state_is_atomic() {
    let mut s = Server::start_default();
    let toks: Vec<String> = (0..5).map(|_| token("pop-crash")).collect();
    for t in &toks {
        s.deliver(
            "a@remote.test",
            &[DEMO_USER],
            &simple_message("a@remote.test", DEMO_USER, t, "body"),
        );
    }
    let mut p = s.pop3_login(DEMO_USER, DEMO_PASS);
    for n in 1..=3 {
        p.ok(&format!("DELE {n}"));
    }
    s.kill9();
    drop(p);
    s.restart(false);
    let msgs = s.fetch_all(DEMO_USER, DEMO_PASS);
    assert_eq!(
        msgs.len(),
        5,
        "DELEs without QUIT took effect after kill -9"
    );
    let mut p = s.pop3_login(DEMO_USER, DEMO_PASS);
    p.ok("DELE 1");
    p.ok("DELE 2");
    assert!(p.quit().starts_with("+OK"));
    s.kill9();
    s.restart(false);
    let msgs = s.fetch_all(DEMO_USER, DEMO_PASS);
    assert_eq!(
        msgs.len(),
        3,
        "acknowledged QUIT deletion lost after kill -9"
    );
    assert!(contains(&msgs[0], toks[2].as_bytes()));
}
