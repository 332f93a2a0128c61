//! Raw-socket checks of RFC rules that client libraries hide: pipelining,
//! postmaster, the null reverse-path, SMTPUTF8, framing split across TCP
//! segments, quota, and a large message streamed through.

mod common;

use common::*;
use std::time::Duration;

#[test]
fn smtp_pipelined_transaction_replies_in_order() {
    let s = Server::start_default();
    let mut c = Smtp::connect(s.smtp_port);
    let tok = token("pipe");
    // RFC 2920: the whole group in one write; replies come back in order.
    c.send_raw(
        format!(
            "EHLO client.test\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<{DEMO_USER}>\r\nRCPT TO:<nobody@example.test>\r\nRCPT TO:<x@elsewhere.test>\r\nDATA\r\n"
        )
        .as_bytes(),
    )
    .unwrap();
    let codes: Vec<u16> = (0..6).map(|_| c.reply().unwrap().code).collect();
    assert_eq!(
        codes,
        vec![250, 250, 250, 550, 550, 354],
        "pipelined replies"
    );
    // End of data, then another pipelined transaction and QUIT in one write.
    c.send_raw(
        format!(
            "Subject: {tok}\r\n\r\nfirst\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<{DEMO_USER}>\r\nDATA\r\n"
        )
        .as_bytes(),
    )
    .unwrap();
    let codes: Vec<u16> = (0..4).map(|_| c.reply().unwrap().code).collect();
    assert_eq!(codes, vec![250, 250, 250, 354], "second pipelined group");
    c.send_raw(format!("Subject: {tok}-2\r\n\r\nsecond\r\n.\r\nQUIT\r\n").as_bytes())
        .unwrap();
    assert_eq!(c.reply().unwrap().code, 250);
    assert_eq!(c.reply().unwrap().code, 221);
    let msgs = s.fetch_all(DEMO_USER, DEMO_PASS);
    assert_eq!(msgs.len(), 2);
    assert!(contains(&msgs[0], b"first") && contains(&msgs[1], b"second"));
    // The null reverse-path is kept as Return-Path: <> (RFC 5321 §4.4).
    assert!(
        msgs[1].starts_with(b"Return-Path: <>\r\n"),
        "{}",
        String::from_utf8_lossy(&msgs[1])
    );
}

#[test]
fn pop3_pipelined_commands() {
    let s = Server::start_default();
    for i in 0..3 {
        s.deliver(
            "a@remote.test",
            &[DEMO_USER],
            &simple_message("a@remote.test", DEMO_USER, &format!("p{i}"), ".dot\r\nbody"),
        );
    }
    let mut p = s.pop3();
    p.r.get_mut()
        .write_all(format!("USER {DEMO_USER}\r\nPASS {DEMO_PASS}\r\nSTAT\r\nLIST\r\nRETR 2\r\nUIDL 3\r\nDELE 1\r\nNOOP\r\nQUIT\r\n").as_bytes())
        .unwrap();
    assert!(p.line().unwrap().starts_with("+OK"), "USER");
    assert!(p.line().unwrap().starts_with("+OK"), "PASS");
    let stat = p.line().unwrap();
    assert!(stat.starts_with("+OK 3 "), "STAT: {stat}");
    assert!(p.line().unwrap().starts_with("+OK"), "LIST");
    let list = p.multiline();
    assert_eq!(String::from_utf8_lossy(&list).lines().count(), 3);
    assert!(p.line().unwrap().starts_with("+OK"), "RETR");
    let m = p.multiline();
    assert!(
        contains(&m, b"Subject: p1\r\n") && contains(&m, b"\r\n.dot\r\n"),
        "{}",
        String::from_utf8_lossy(&m)
    );
    let u = p.line().unwrap();
    assert!(u.starts_with("+OK 3 "), "UIDL 3: {u}");
    assert!(p.line().unwrap().starts_with("+OK"), "DELE");
    assert!(p.line().unwrap().starts_with("+OK"), "NOOP");
    assert!(p.line().unwrap().starts_with("+OK"), "QUIT");
    assert_eq!(s.fetch_all(DEMO_USER, DEMO_PASS).len(), 2);
}

use std::io::Write;

#[test]
fn pop3_bad_arguments_keep_the_session() {
    let s = Server::start_default();
    s.deliver(
        "a@remote.test",
        &[DEMO_USER],
        &simple_message("a@remote.test", DEMO_USER, "one", "x"),
    );
    let mut p = s.pop3_login(DEMO_USER, DEMO_PASS);
    for bad in [
        "RETR 0",
        "RETR 2",
        "RETR abc",
        "RETR",
        "LIST 5",
        "DELE 9",
        "TOP 1",
        "TOP 1 -1",
        "UIDL 0",
        "FOO",
        "RETR 99999999999999999999",
    ] {
        let r = p.cmd(bad);
        assert!(r.starts_with("-ERR"), "{bad} -> {r}");
    }
    assert_eq!(p.stat().0, 1, "session still usable");
    p.quit();
}

/// RFC 5321 §4.5.1: "postmaster" MUST be accepted for every served domain,
/// and `RCPT TO:<Postmaster>` (no domain) MUST be supported.
#[test]
fn smtp_postmaster_is_accepted() {
    let s = Server::start_default();
    let mut c = s.smtp();
    c.ehlo("client.test");
    c.expect("MAIL FROM:<a@remote.test>", 250);
    let mut problems = Vec::new();
    for rcpt in [
        "postmaster@example.test",
        "PostMaster@example.test",
        "Postmaster",
    ] {
        let r = c.cmd(&format!("RCPT TO:<{rcpt}>")).unwrap();
        if r.code != 250 && r.code != 251 {
            problems.push(format!("RCPT TO:<{rcpt}> -> {r}"));
        }
    }
    c.quit();
    assert!(
        problems.is_empty(),
        "RFC 5321 §4.5.1 requires postmaster:\n{}",
        problems.join("\n")
    );
}

/// RFC 6531 §3.4: a non-ASCII address in a transaction that did not use the
/// SMTPUTF8 parameter is refused (553 5.6.7 suggested); with it, accepted.
#[test]
fn smtputf8_required_for_non_ascii_addresses() {
    let s = Server::start_default();
    s.add_domain("ตัวอย่าง.ไทย");
    s.add_user("สมชาย@ตัวอย่าง.ไทย", "pw", &[]);
    let mut c = s.smtp();
    c.ehlo("client.test");
    c.expect("MAIL FROM:<a@remote.test>", 250);
    let r = c.cmd("RCPT TO:<สมชาย@ตัวอย่าง.ไทย>").unwrap();
    assert!(
        (500..600).contains(&r.code),
        "non-ASCII RCPT without SMTPUTF8 accepted: {r}"
    );
    c.expect("RSET", 250);
    c.expect("MAIL FROM:<a@remote.test> SMTPUTF8", 250);
    c.expect("RCPT TO:<สมชาย@ตัวอย่าง.ไทย>", 250);
    c.expect("DATA", 354);
    c.send_raw("Subject: utf8\r\n\r\nสวัสดี\r\n.\r\n".as_bytes())
        .unwrap();
    assert_eq!(c.reply().unwrap().code, 250);
    c.quit();
    let out = s.cli(&["--json", "user", "show", "สมชาย@ตัวอย่าง.ไทย"]);
    assert!(out.out().contains("\"messages\":1"), "{}", out.describe());
}

/// The end-of-data sequence and dot-stuffing split across TCP segments.
#[test]
fn data_framing_split_across_segments() {
    let s = Server::start_default();
    let mut c = s.smtp();
    c.ehlo("client.test");
    c.expect("MAIL FROM:<a@remote.test>", 250);
    c.expect(&format!("RCPT TO:<{DEMO_USER}>"), 250);
    c.expect("DATA", 354);
    let pieces: [&[u8]; 12] = [
        b"Subject: split\r\n\r\nline one\r",
        b"\n",
        b".",
        b".stuffed\r\n",
        b"..",
        b"\r\n",
        b"x\r\n.",
        b"\r",
        b"\n", // <- a bare ".\r\n" inside is impossible here: the previous line ended, so this IS the end
        b"",
        b"",
        b"",
    ];
    // Everything up to the real end, one small write at a time.
    for p in pieces.iter().take(6) {
        c.send_raw(p).unwrap();
        std::thread::sleep(Duration::from_millis(30));
    }
    // Nothing must have been answered yet.
    c.r.get_ref()
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let early = c.reply();
    assert!(
        early.is_err(),
        "server replied before the end of data: {early:?}"
    );
    c.r.get_ref()
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    for p in &pieces[6..9] {
        c.send_raw(p).unwrap();
        std::thread::sleep(Duration::from_millis(30));
    }
    let r = c.reply().unwrap();
    assert_eq!(r.code, 250, "{r}");
    c.quit();
    let msgs = s.fetch_all(DEMO_USER, DEMO_PASS);
    assert_eq!(msgs.len(), 1);
    assert!(
        msgs[0].ends_with(b"Subject: split\r\n\r\nline one\r\n.stuffed\r\n.\r\nx\r\n"),
        "{:?}",
        String::from_utf8_lossy(&msgs[0])
    );
}

/// A full mailbox refuses mail at RCPT with an x.2.2 code; mail acknowledged
/// with 250 is never dropped afterwards. (The quota is checked as "already at
/// or over quota" at RCPT time, so the last accepted message may overshoot by
/// up to one message; this test allows exactly that and no more.)
#[test]
fn quota_refuses_when_full_and_never_drops() {
    let s = Server::start_default();
    s.add_user("small@example.test", "pw", &["--quota", "8K"]);
    let body = "q".repeat(900) + "\r\n";
    let msg = |t: &str| simple_message("a@remote.test", "small@example.test", t, &body.repeat(5)); // ~4.6K
    let mut accepted = Vec::new();
    let mut refusal = None;
    for i in 0..4 {
        let t = format!("quota-{i}");
        let mut c = s.smtp();
        c.ehlo("client.test");
        match c.send_mail("a@remote.test", &["small@example.test"], &msg(&t)) {
            Ok(()) => accepted.push(t),
            Err(e) => {
                refusal = Some(e);
                break;
            }
        }
        c.quit();
    }
    let refusal = refusal.unwrap_or_else(|| panic!("4 × 4.6K accepted into an 8K mailbox"));
    assert!(
        refusal.contains("5.2.2") || refusal.contains("4.2.2"),
        "quota refusal should use x.2.2: {refusal}"
    );
    let msgs = s.fetch_all("small@example.test", "pw");
    assert_eq!(
        msgs.len(),
        accepted.len(),
        "accepted messages missing (accepted then dropped?)"
    );
    let out = s.cli(&["--json", "user", "show", "small@example.test"]);
    let j = out.out();
    let used: u64 = j
        .split("\"used_bytes\":")
        .nth(1)
        .and_then(|x| x.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|x| x.parse().ok())
        .unwrap_or_else(|| panic!("no used_bytes: {j}"));
    let stored: u64 = msgs.iter().map(|m| m.len() as u64).sum();
    assert_eq!(used, stored, "used_bytes disagrees with the stored octets");
    let largest = msgs.iter().map(|m| m.len() as u64).max().unwrap_or(0);
    assert!(
        used < 8 * 1024 + largest,
        "used_bytes {used} overshoots the 8K quota by more than one message"
    );
    // After deleting, mail is accepted again.
    let mut p = s.pop3_login("small@example.test", "pw");
    p.ok("DELE 1");
    assert!(p.quit().starts_with("+OK"));
    s.deliver(
        "a@remote.test",
        &["small@example.test"],
        &msg("quota-after"),
    );
}

/// A 6 MB message streams through and comes back identical, size exact.
#[test]
fn large_message_round_trip() {
    let s = Server::start_default();
    let mut body = Vec::new();
    let mut i = 0u64;
    while body.len() < 6 * 1024 * 1024 {
        body.extend_from_slice(format!("{i:010} {}\r\n", "abcdefghij".repeat(7)).as_bytes());
        if i.is_multiple_of(1000) {
            body.extend_from_slice(b".a dotted line\r\n");
        }
        i += 1;
    }
    let mut msg = b"Subject: large\r\n\r\n".to_vec();
    msg.extend_from_slice(&body);
    s.deliver("a@remote.test", &[DEMO_USER], &msg);
    let mut p = s.pop3_login(DEMO_USER, DEMO_PASS);
    let list = p.list();
    let got = p.retr(1);
    p.quit();
    assert_eq!(list[0].1, got.len() as u64, "LIST size vs RETR octets");
    assert!(got.ends_with(&msg), "the large message did not round-trip");
}

/// Issue 11 point 15: a NUL octet (RFC 5322 forbids it; Outlook hangs on
/// it over POP3) is refused at the end of DATA on every listener, and new
/// UIDLs are letters and digits only (Outlook 2003 fetches everything
/// again when they have a dot), as Python's poplib sees them.
#[test]
fn nul_octets_are_refused_and_uidls_are_letters_and_digits() {
    require_tool!("python3");
    let s = Server::start_extra(ServerOpts::default(), ExtraConfig::tls());
    let script = r#"
import smtplib, poplib, sys
smtp, sub, pop, tok = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def msg(t, body):
    return b'From: <demo@example.test>\r\nTo: <demo@example.test>\r\nSubject: ' + t.encode() + b'\r\n\r\n' + body + b'\r\n'
with smtplib.SMTP('127.0.0.1', smtp, timeout=30) as c:
    try:
        c.sendmail('a@remote.test', ['demo@example.test'], msg(tok + '-nul', b'before\x00after'))
        raise SystemExit('NUL accepted on port 25')
    except smtplib.SMTPDataError as e:
        assert e.smtp_code == 554 and b'5.6.0' in e.smtp_error, e
    assert c.sendmail('a@remote.test', ['demo@example.test'], msg(tok + '-ok', b'clean')) == {}
with smtplib.SMTP('127.0.0.1', sub, timeout=30) as c:
    c.ehlo('client.test')
    c.login('demo@example.test', 'demo-pass')
    try:
        c.sendmail('demo@example.test', ['demo@example.test'], msg(tok + '-nul2', b'\x00'))
        raise SystemExit('NUL accepted on submission')
    except smtplib.SMTPDataError as e:
        assert e.smtp_code == 554, e
p = poplib.POP3('127.0.0.1', pop, timeout=30)
p.user('demo@example.test'); p.pass_('demo-pass')
count = len(p.list()[1])
assert count == 1, p.list()
for line in p.uidl()[1]:
    n, uid = line.split()
    assert uid.isalnum(), uid
    assert b'\x00' not in b'\r\n'.join(p.retr(int(n))[1])
p.quit()
print('OK')
"#;
    let tok = token("nul");
    let out = python(
        script,
        &[
            &s.smtp_port.to_string(),
            &s.submission_port.to_string(),
            &s.pop3_port.to_string(),
            &tok,
        ],
        Duration::from_secs(60),
    );
    assert_py_ok(&out, "NUL and UIDL");
}
