//! Connection budgets: idle clients of one service cannot starve another
//! service, and under pressure idle clients that have not greeted or
//! logged in yet are let go sooner than the protocol's own timeout.

mod common;

use common::*;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A POP3 login with Python's poplib: the greeting, then STAT.
const POPLIB_LOGIN: &str = r#"
import poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
print(p.getwelcome().decode())
p.user(sys.argv[2]); p.pass_(sys.argv[3])
print("STAT", p.stat())
p.quit()
"#;

/// Connects and waits up to `wait` for the first line the server sends;
/// `None` when nothing came (the connection waits in the backlog).
fn greeting_within(port: u16, wait: Duration) -> (TcpStream, Option<String>) {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(wait)).unwrap();
    let mut line = String::new();
    let got = BufReader::new(&s).read_line(&mut line);
    (s, got.ok().filter(|&n| n > 0).map(|_| line))
}

/// Reads until the server closes the connection (or `wait` passes) and
/// returns what it sent; `None` if it was still open after `wait`.
fn closed_within(s: &mut TcpStream, wait: Duration) -> Option<String> {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut got = Vec::new();
    match s.read_to_end(&mut got) {
        Ok(_) => Some(String::from_utf8_lossy(&got).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
            Some(String::from_utf8_lossy(&got).into_owned())
        }
        Err(_) => None,
    }
}

/// With the default budgets (half of `max_connections` per service), idle
/// SMTP connections fill SMTP's budget only: a POP3 client still gets its
/// greeting and logs in. Before the budgets, the idle SMTP clients took
/// every slot and the POP3 client waited in the backlog.
#[test]
fn idle_smtp_clients_do_not_starve_pop3() {
    if !have_python_module("poplib", "python3", "idle_smtp_clients_do_not_starve_pop3") {
        return;
    }
    let s = Server::start_with(ServerOpts {
        demo: true,
        limits: "max_connections = 20\nmax_connections_per_ip = 1000".into(),
    });
    // As many idle SMTP clients as there are slots in all: only SMTP's
    // budget (10) is greeted, the rest wait in the backlog.
    let mut held = Vec::new();
    let mut greeted = 0;
    for _ in 0..20 {
        // Short: the ones beyond the budget never get a greeting.
        let (c, g) = greeting_within(s.smtp_port, Duration::from_millis(500));
        if let Some(g) = &g {
            assert!(g.starts_with("220"), "SMTP greeting: {g}");
            greeted += 1;
        }
        held.push(c);
    }
    // Two POP3 clients: one idle, one logging in with poplib. (Each
    // listener holds a slot for its next client, so a single one got in
    // even when the SMTP clients held all the others.)
    let (_idle_pop3, g) = greeting_within(s.pop3_port, Duration::from_secs(10));
    assert!(
        g.is_some_and(|g| g.starts_with("+OK")),
        "no POP3 greeting while SMTP is full\n{}",
        s.log()
    );
    let out = python(
        POPLIB_LOGIN,
        &[&s.pop3_port.to_string(), DEMO_USER, DEMO_PASS],
        Duration::from_secs(30),
    );
    assert!(
        out.code() == Some(0) && out.out().starts_with("+OK") && out.out().contains("STAT"),
        "POP3 client starved by idle SMTP connections: {}\n{}",
        out.describe(),
        s.log()
    );
    assert!(
        greeted <= 10,
        "{greeted} idle SMTP clients were served with a budget of 10"
    );
    // SMTP's own budget frees as its clients leave.
    drop(held);
    wait_for("an SMTP slot after the idle clients left", 10, || {
        greeting_within(s.smtp_port, Duration::from_secs(1)).1
    });
}

/// Under pressure (half of a budget of 4 in use), idle clients that have
/// not greeted (SMTP) or logged in (POP3) yet are closed after
/// `idle_timeout_under_pressure` (3 s here) instead of the 5 and 10 minutes
/// of the protocols, and one idle for longer already goes at once; greeted
/// and logged-in clients stay, and so do unproven ones without pressure.
#[test]
fn under_pressure_unproven_idle_clients_go_sooner() {
    if !have_python_module(
        "poplib",
        "python3",
        "under_pressure_unproven_idle_clients_go_sooner",
    ) {
        return;
    }
    let s = Server::start_with(ServerOpts {
        demo: true,
        limits: "max_connections = 100\nmax_connections_per_ip = 1000\n\
                 max_connections_smtp = 4\nmax_connections_pop3 = 4\n\
                 pressure_threshold_percent = 50\nidle_timeout_under_pressure = \"3s\""
            .into(),
    });

    // No pressure (1 of 4): an idle POP3 client, not logged in, outlasts
    // the short timeout.
    let (mut early, g) = greeting_within(s.pop3_port, Duration::from_secs(10));
    assert!(g.is_some_and(|g| g.starts_with("+OK")), "POP3 greeting");
    assert_eq!(
        closed_within(&mut early, Duration::from_secs(4)),
        None,
        "an idle POP3 client was closed without pressure\n{}",
        s.log()
    );

    // A second POP3 client (2 of 4: pressure) logs in; the early one,
    // idle for 4 s, goes at once.
    let started = Instant::now();
    let mut pop = Pop3::connect(s.pop3_port);
    pop.try_login(DEMO_USER, DEMO_PASS).expect("login");
    let bye = closed_within(&mut early, Duration::from_secs(10))
        .unwrap_or_else(|| panic!("idle POP3 client kept under pressure\n{}", s.log()));
    assert!(bye.starts_with("-ERR"), "autologout reply: {bye:?}");
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "the long-idle client went only after {:?}",
        started.elapsed()
    );

    // Still 2 of 4 with a new idle client: it goes after 3 s.
    let (mut late, g) = greeting_within(s.pop3_port, Duration::from_secs(10));
    assert!(g.is_some(), "POP3 greeting");
    let started = Instant::now();
    let bye = closed_within(&mut late, Duration::from_secs(10))
        .unwrap_or_else(|| panic!("idle POP3 client kept under pressure\n{}", s.log()));
    assert!(bye.starts_with("-ERR"), "autologout reply: {bye:?}");
    let took = started.elapsed();
    assert!(
        took > Duration::from_millis(2500) && took < Duration::from_secs(10),
        "the idle client under pressure went after {took:?}, not ~3 s"
    );

    // SMTP: a greeted client and two that never send EHLO (3 of 4).
    let mut smtp = Smtp::connect(s.smtp_port);
    smtp.ehlo("client.example.test");
    let mut mx: Vec<TcpStream> = (0..2)
        .map(|_| {
            let (c, g) = greeting_within(s.smtp_port, Duration::from_secs(10));
            assert!(g.is_some_and(|g| g.starts_with("220")), "SMTP greeting");
            c
        })
        .collect();
    let started = Instant::now();
    for c in &mut mx {
        let bye = closed_within(c, Duration::from_secs(10))
            .unwrap_or_else(|| panic!("SMTP client without EHLO kept under pressure\n{}", s.log()));
        assert!(bye.starts_with("421"), "SMTP timeout reply: {bye:?}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "SMTP clients without EHLO went only after {:?}",
        started.elapsed()
    );
    // The proven sessions were left alone.
    assert_eq!(smtp.expect("NOOP", 250).code, 250);
    smtp.quit();
    assert_eq!(pop.stat().0, 0);
    assert!(pop.quit().starts_with("+OK"));
}
