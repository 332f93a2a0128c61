//! The `[limits]` settings as seen by a client on the wire.

mod common;

use common::*;
use std::io::Read;
use std::time::{Duration, Instant};

/// Reads until EOF (or error) within `within`; returns what was read and
/// whether the peer closed.
fn read_to_close(stream: &mut std::net::TcpStream, within: Duration) -> (String, bool) {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return (String::from_utf8_lossy(&buf).into_owned(), true),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (String::from_utf8_lossy(&buf).into_owned(), true);
            }
            Err(_) => return (String::from_utf8_lossy(&buf).into_owned(), false),
        }
        if Instant::now() > deadline {
            return (String::from_utf8_lossy(&buf).into_owned(), false);
        }
    }
}

#[test]
fn smtp_max_recipients() {
    let s = Server::start_with(ServerOpts {
        demo: true,
        limits: "max_recipients = 3".into(),
    });
    for i in 0..4 {
        s.add_user(&format!("r{i}@example.test"), "pw", &[]);
    }
    let mut c = s.smtp();
    c.ehlo("client.test");
    c.expect("MAIL FROM:<a@remote.test>", 250);
    for i in 0..3 {
        c.expect(&format!("RCPT TO:<r{i}@example.test>"), 250);
    }
    let r = c.cmd("RCPT TO:<r3@example.test>").unwrap();
    assert_eq!(r.code, 452, "4th recipient with max_recipients = 3: {r}");
    assert!(r.text().contains("4.5.3"), "{r}");
    c.expect("DATA", 354);
    c.send_raw(b"Subject: rcpt limit\r\n\r\nx\r\n.\r\n")
        .unwrap();
    assert_eq!(c.reply().unwrap().code, 250);
    c.quit();
    for i in 0..3 {
        assert_eq!(
            s.fetch_all(&format!("r{i}@example.test"), "pw").len(),
            1,
            "r{i}"
        );
    }
    assert_eq!(
        s.fetch_all("r3@example.test", "pw").len(),
        0,
        "the refused recipient got the message"
    );
}

#[test]
fn smtp_max_messages_per_connection() {
    let s = Server::start_with(ServerOpts {
        demo: true,
        limits: "max_messages_per_connection = 2".into(),
    });
    let mut c = s.smtp();
    c.ehlo("client.test");
    for i in 0..2 {
        c.send_mail(
            "a@remote.test",
            &[DEMO_USER],
            &simple_message("a@remote.test", DEMO_USER, &format!("m{i}"), "x"),
        )
        .unwrap();
    }
    let r = c.cmd("MAIL FROM:<a@remote.test>");
    match r {
        Ok(r) => {
            assert_eq!(
                r.code, 421,
                "third MAIL with max_messages_per_connection = 2: {r}"
            );
            assert!(r.text().contains("4.7.0"), "{r}");
        }
        Err(e) => panic!("third MAIL: connection ended without a 421: {e}"),
    }
    let (_, closed) = read_to_close(c.r.get_mut(), Duration::from_secs(5));
    assert!(closed, "the server should close after 421");
    assert_eq!(s.fetch_all(DEMO_USER, DEMO_PASS).len(), 2);
}

#[test]
fn smtp_bad_commands_end_the_session() {
    let s = Server::start_with(ServerOpts {
        demo: true,
        limits: "max_bad_commands = 3".into(),
    });
    let mut c = s.smtp();
    c.ehlo("client.test");
    let mut codes = Vec::new();
    let mut got_421 = false;
    for i in 0..6 {
        match c.cmd(&format!("BOGUS{i}")) {
            Ok(r) => {
                codes.push(r.code);
                if r.code == 421 {
                    got_421 = true;
                    break;
                }
                assert!((500..600).contains(&r.code), "unknown command answered {r}");
            }
            Err(e) => panic!("connection ended without 421 after {codes:?}: {e}"),
        }
    }
    assert!(
        got_421,
        "no 421 after 6 bad commands with max_bad_commands = 3: {codes:?}"
    );
    assert!(codes.len() <= 4, "421 came too late: {codes:?}");
    let (_, closed) = read_to_close(c.r.get_mut(), Duration::from_secs(5));
    assert!(closed, "the server should close after 421");
}

#[test]
fn smtp_long_command_line_is_refused_and_session_continues() {
    let s = Server::start_default();
    let mut c = s.smtp();
    c.ehlo("client.test");
    let long = format!("NOOP {}", "x".repeat(700));
    let r = c.cmd(&long).expect("reply to a long line");
    assert_eq!(r.code, 500, "a 700-octet command line (limit 512): {r}");
    c.expect("NOOP", 250);
    // A too-long text line in DATA refuses the message.
    c.expect("MAIL FROM:<a@remote.test>", 250);
    c.expect(&format!("RCPT TO:<{DEMO_USER}>"), 250);
    c.expect("DATA", 354);
    let mut data = b"Subject: long line\r\n\r\n".to_vec();
    data.extend(std::iter::repeat_n(b'L', 1200));
    data.extend_from_slice(b"\r\nok\r\n.\r\n");
    c.send_raw(&data).unwrap();
    let r = c.reply().unwrap();
    assert!(
        (500..600).contains(&r.code),
        "1202-octet text line accepted: {r}"
    );
    c.expect("NOOP", 250);
    c.quit();
    assert_eq!(s.fetch_all(DEMO_USER, DEMO_PASS).len(), 0);
}

#[test]
fn smtp_idle_timeout() {
    let s = Server::start_with(ServerOpts {
        demo: true,
        limits: "smtp_timeout = \"1s\"".into(),
    });
    let mut c = s.smtp();
    c.ehlo("client.test");
    let t0 = Instant::now();
    let (text, closed) = read_to_close(c.r.get_mut(), Duration::from_secs(8));
    assert!(
        closed,
        "idle SMTP session not closed after smtp_timeout = 1s (waited {:?})",
        t0.elapsed()
    );
    assert!(
        t0.elapsed() >= Duration::from_millis(900),
        "closed too early: {:?}",
        t0.elapsed()
    );
    assert!(
        text.is_empty() || text.starts_with("421"),
        "timeout reply should be 421: {text:?}"
    );
}

#[test]
fn pop3_autologout_does_not_delete() {
    let s = Server::start_with(ServerOpts {
        demo: true,
        limits: "pop3_idle_timeout = \"1s\"".into(),
    });
    s.deliver(
        "a@remote.test",
        &[DEMO_USER],
        &simple_message("a@remote.test", DEMO_USER, "t1", "x"),
    );
    let mut p = s.pop3_login(DEMO_USER, DEMO_PASS);
    p.ok("DELE 1");
    let t0 = Instant::now();
    let (_, closed) = read_to_close(p.r.get_mut(), Duration::from_secs(8));
    assert!(
        closed,
        "idle POP3 session not closed after pop3_idle_timeout = 1s"
    );
    assert!(
        t0.elapsed() >= Duration::from_millis(900),
        "closed too early: {:?}",
        t0.elapsed()
    );
    assert_eq!(
        s.fetch_all(DEMO_USER, DEMO_PASS).len(),
        1,
        "autologout must not enter UPDATE (RFC 1939 §3)"
    );
}

#[test]
fn pop3_max_auth_failures_closes() {
    let s = Server::start_with(ServerOpts {
        demo: true,
        limits: "max_auth_failures = 3".into(),
    });
    let mut p = s.pop3();
    let mut replies = Vec::new();
    for _ in 0..3 {
        p.send(&format!("USER {DEMO_USER}")).unwrap();
        let u = p.line();
        p.send("PASS nope").unwrap();
        let r = p.line();
        replies.push((u, r));
    }
    for (u, r) in &replies {
        assert!(matches!(u, Ok(l) if l.starts_with("+OK")), "{replies:?}");
        assert!(matches!(r, Ok(l) if l.starts_with("-ERR")), "{replies:?}");
    }
    let (_, closed) = read_to_close(p.r.get_mut(), Duration::from_secs(5));
    assert!(
        closed,
        "connection kept open after 3 failed logins: {replies:?}"
    );
    // The right password still works on a new connection.
    let mut p = s.pop3_login(DEMO_USER, DEMO_PASS);
    p.quit();
}

/// A client that keeps the connection busy with NOOPs (a slow-loris that
/// never lets the idle timeout fire) is still cut off at `session_max`.
#[test]
fn smtp_session_max_bounds_busy_clients() {
    let s = Server::start_with(ServerOpts {
        demo: true,
        limits: "session_max = \"2s\"\nsmtp_timeout = \"5m\"".into(),
    });
    let mut c = s.smtp();
    c.ehlo("client.test");
    let t0 = Instant::now();
    let mut closed_by_server = false;
    while t0.elapsed() < Duration::from_secs(10) {
        match c.cmd("NOOP") {
            Ok(r) if r.code == 250 => std::thread::sleep(Duration::from_millis(300)),
            Ok(r) => {
                assert_eq!(r.code, 421, "unexpected reply {r}");
                closed_by_server = true;
                break;
            }
            Err(_) => {
                closed_by_server = true;
                break;
            }
        }
    }
    assert!(closed_by_server, "busy session outlived session_max = 2s");
    assert!(
        t0.elapsed() >= Duration::from_millis(1500),
        "closed too early: {:?}",
        t0.elapsed()
    );
}

#[test]
fn a_header_section_over_256_kib_is_refused() {
    let s = Server::start_default();
    let mut c = s.smtp();
    c.ehlo("client.test");
    let mut m = b"Subject: big\r\n".to_vec();
    for _ in 0..300 {
        m.extend_from_slice(format!("X-Pad: {}\r\n", "a".repeat(990)).as_bytes());
    }
    m.extend_from_slice(b"\r\nbody\r\n");
    let err = c.send_mail("s@sender.test", &[DEMO_USER], &m).unwrap_err();
    assert!(err.contains("552") && err.contains("5.3.4"), "{err}");
    assert!(s.fetch_all(DEMO_USER, DEMO_PASS).is_empty());
}
