//! Relay policy on the MX listener: every spelling of "somewhere else" that
//! has fooled mail servers before is refused for an untrusted client, and
//! nothing is stored; hosted mailboxes in other spellings (case, A-label)
//! are still accepted; trusted networks and authenticated users may relay
//! to real remote addresses (queued for delivery), but not with the tricks.

mod common;

use common::*;

/// Recipients that must never be accepted from an untrusted client.
const MATRIX: &[&str] = &[
    "user@remote.test",
    "demo@remote.test",
    "user%remote.test@example.test",
    "demo%remote.test@example.test",
    "@example.test:user@remote.test",
    "@example.test,@mx.example.test:demo@example.test",
    "remote.test!user@example.test",
    "remote.test!demo@example.test",
    "\"user@remote.test\"@example.test",
    "\"demo@remote.test\"@example.test",
    "user@example.test.",
    "demo@example.test.",
    "user@[127.0.0.1]",
    "demo@[127.0.0.1]",
    "demo@[IPv6:::1]",
    "user@EXAMPLE.TEST.remote.test",
    "demo@example.test.remote.test",
    // exämple.test, which we do not host, as A-label and as U-label.
    "user@xn--exmple-cua.test",
    "demo@xn--exmple-cua.test",
    "demo@exämple.test",
    // A malformed A-label.
    "demo@xn--example.test",
    "user@example.test@remote.test",
    "demo@example.test@remote.test",
    "demo@mx.example.test",
    "demo@localhost",
    "postmaster@remote.test",
    "Postmaster@[127.0.0.1]",
];

/// The entries of [`MATRIX`] that are tricks rather than plain remote
/// addresses: refused even for clients allowed to relay.
const TRICKS: &[&str] = &[
    "user%remote.test@example.test",
    "@example.test:user@remote.test",
    "@example.test,@mx.example.test:demo@example.test",
    "remote.test!user@example.test",
    "\"user@remote.test\"@example.test",
    "user@example.test.",
    "user@[127.0.0.1]",
    "demo@[IPv6:::1]",
    "demo@xn--example.test",
    "user@example.test@remote.test",
];

/// Like [`run_matrix`] over [`TRICKS`].
fn run_tricks(c: &mut Smtp, s: &Server, from: &str) {
    for rcpt in TRICKS {
        c.expect("RSET", 250);
        c.expect(&format!("MAIL FROM:<{from}> SMTPUTF8"), 250);
        let r = c
            .cmd(&format!("RCPT TO:<{rcpt}>"))
            .unwrap_or_else(|e| panic!("RCPT {rcpt}: {e}\n{}", s.log()));
        assert!(r.code >= 500, "relay trick RCPT TO:<{rcpt}> -> {r}");
    }
}

/// demo plus alice, and the IDN domain bücher.test with info@.
/// The matrix tries every trick on one connection: the error limit, which
/// refused recipients count toward, is raised so the connection lasts.
fn relay_server(extra: ExtraConfig) -> Server {
    let opts = ServerOpts {
        limits: "max_bad_commands = 1000".into(),
        ..ServerOpts::default()
    };
    let s = Server::start_extra(opts, extra);
    s.add_user("alice@example.test", "alice-pass", &[]);
    s.add_domain("bücher.test");
    s.add_user("info@bücher.test", "info-pass", &[]);
    s
}

/// Total messages over all mailboxes, by `user list --json`.
fn stored_messages(s: &Server) -> u64 {
    let out = s.cli(&["--json", "user", "list"]);
    out.assert_ok("user list --json");
    let text = out.out();
    // Sum every "messages":N without a JSON parser.
    let mut total = 0;
    let mut n = 0;
    for part in text.split("\"messages\":").skip(1) {
        let digits: String = part
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        total += digits
            .parse::<u64>()
            .unwrap_or_else(|_| panic!("bad user list: {text}"));
        n += 1;
    }
    assert_eq!(n, 3, "expected three mailboxes: {text}");
    total
}

fn mailbox_count(s: &Server, user: &str, pass: &str) -> usize {
    let mut p = s.pop3_login(user, pass);
    let (n, _) = p.stat();
    p.quit();
    n
}

/// Tries each matrix recipient in its own transaction: RCPT must not be
/// accepted, and DATA (sent anyway, with a body, as a careless or hostile
/// client would) must not be either. Returns the RCPT replies.
fn run_matrix(c: &mut Smtp, s: &Server, from: &str, allowed_codes: &[u16]) -> Vec<(String, Reply)> {
    let mut replies = Vec::new();
    for rcpt in MATRIX {
        c.expect("RSET", 250);
        c.expect(&format!("MAIL FROM:<{from}> SMTPUTF8"), 250);
        let r = c
            .cmd(&format!("RCPT TO:<{rcpt}>"))
            .unwrap_or_else(|e| panic!("RCPT {rcpt}: {e}\n{}", s.log()));
        assert!(
            allowed_codes.contains(&r.code),
            "RCPT TO:<{rcpt}> -> {r} (allowed: {allowed_codes:?})"
        );
        let d = c.cmd("DATA").unwrap();
        if d.code == 354 {
            c.send_raw(b"Subject: relay test\r\n\r\nshould not be stored\r\n.\r\n")
                .unwrap();
            let end = c.reply().unwrap();
            panic!("DATA accepted after refused RCPT <{rcpt}> ({r}); end of data: {end}");
        }
        assert!(d.code >= 500, "DATA after refused RCPT <{rcpt}>: {d}");
        replies.push((rcpt.to_string(), r));
    }
    replies
}

#[test]
fn relay_matrix_is_refused_for_untrusted_clients_and_nothing_is_stored() {
    let s = relay_server(ExtraConfig::default());
    let mut c = s.smtp();
    c.ehlo("client.test");
    let replies = run_matrix(&mut c, &s, "sender@remote.test", &[501, 550, 553, 554]);
    // The plainly remote ones are relay refusals, 5.7.1.
    // Well-formed addresses at domains we do not host: relay refusals,
    // 550 5.7.1 (RFC 5321 section 3.6.2; RFC 3463 5.7.1).
    for (rcpt, r) in &replies {
        let (local, domain) = rcpt.rsplit_once('@').unwrap();
        let plain_local = !local.contains(['!', '%', '"', ':', '@']);
        // Skip the trailing-dot spelling of ours and the malformed A-label
        // (syntax errors are as good).
        let not_hosted = !["example.test", "example.test.", "xn--example.test"].contains(&domain);
        if plain_local && domain == "mx.example.test" {
            // The hostname is the default SRS domain: ours, so an address
            // there that is no SRS address is an unknown user.
            assert!(r.code == 550 && r.text().contains("5.1.1"), "{rcpt}: {r}");
        } else if plain_local && not_hosted {
            assert!(r.code == 550 && r.text().contains("5.7.1"), "{rcpt}: {r}");
        }
    }
    // A local-looking or null sender changes nothing (classic relay tricks).
    for from in [
        "",
        "demo@example.test",
        "postmaster@example.test",
        "sender@[127.0.0.1]",
    ] {
        c.expect("RSET", 250);
        c.expect(&format!("MAIL FROM:<{from}>"), 250);
        let r = c.cmd("RCPT TO:<user@remote.test>").unwrap();
        assert_eq!(r.code, 550, "MAIL FROM:<{from}>, remote RCPT: {r}");
    }
    // Also in one transaction together with a valid local recipient: the
    // message goes to demo only.
    c.expect("RSET", 250);
    c.expect("MAIL FROM:<sender@remote.test> SMTPUTF8", 250);
    c.expect("RCPT TO:<demo@example.test>", 250);
    for rcpt in MATRIX {
        let r = c.cmd(&format!("RCPT TO:<{rcpt}>")).unwrap();
        assert!(r.code >= 500, "mixed transaction: RCPT <{rcpt}> -> {r}");
    }
    c.expect("DATA", 354);
    c.send_raw(b"Subject: mixed\r\n\r\nonly demo\r\n.\r\n")
        .unwrap();
    assert_eq!(c.reply().unwrap().code, 250);
    c.quit();
    assert_eq!(mailbox_count(&s, DEMO_USER, DEMO_PASS), 1, "demo");
    assert_eq!(
        mailbox_count(&s, "alice@example.test", "alice-pass"),
        0,
        "alice"
    );
    assert_eq!(
        mailbox_count(&s, "info@bücher.test", "info-pass"),
        0,
        "info"
    );
    assert_eq!(stored_messages(&s), 1, "messages stored in all mailboxes");
}

#[test]
fn hosted_mailboxes_in_other_spellings_are_accepted() {
    let s = relay_server(ExtraConfig::default());
    let tok = token("spelling");
    let mut c = s.smtp();
    c.ehlo("client.test");
    for (i, rcpt) in [
        "DEMO@EXAMPLE.TEST",
        "Demo@Example.Test",
        "info@xn--bcher-kva.test",
        "INFO@XN--BCHER-KVA.TEST",
    ]
    .iter()
    .enumerate()
    {
        let subject = format!("{tok}-{i}");
        c.send_mail(
            "sender@remote.test",
            &[rcpt],
            &simple_message("sender@remote.test", rcpt, &subject, "hello"),
        )
        .unwrap_or_else(|e| panic!("{rcpt}: {e}"));
    }
    // The U-label needs SMTPUTF8 (RFC 6531).
    c.expect("MAIL FROM:<sender@remote.test> SMTPUTF8", 250);
    c.expect("RCPT TO:<info@bücher.test>", 250);
    c.expect("DATA", 354);
    c.send_raw(format!("Subject: {tok}-u\r\n\r\nhello\r\n.\r\n").as_bytes())
        .unwrap();
    assert_eq!(c.reply().unwrap().code, 250);
    c.quit();
    let demo = s.fetch_all(DEMO_USER, DEMO_PASS);
    let info = s.fetch_all("info@bücher.test", "info-pass");
    let has = |msgs: &[Vec<u8>], t: &str| {
        msgs.iter()
            .filter(|m| contains(m, format!("Subject: {t}\r\n").as_bytes()))
            .count()
    };
    assert_eq!(has(&demo, &format!("{tok}-0")), 1);
    assert_eq!(has(&demo, &format!("{tok}-1")), 1);
    assert_eq!(has(&info, &format!("{tok}-2")), 1);
    assert_eq!(has(&info, &format!("{tok}-3")), 1);
    assert_eq!(has(&info, &format!("{tok}-u")), 1);
    assert_eq!(stored_messages(&s), 5);
}

#[test]
fn trusted_networks_may_relay_but_not_with_tricks() {
    let s = relay_server(ExtraConfig {
        top: "trusted_networks = [\"127.0.0.0/8\"]".into(),
        ..ExtraConfig::default()
    });
    let mut c = s.smtp();
    c.ehlo("client.test");
    for rcpt in [
        "user@remote.test",
        "demo@exämple.test",
        "x@xn--exmple-cua.test",
    ] {
        c.expect("RSET", 250);
        c.expect("MAIL FROM:<app@example.test> SMTPUTF8", 250);
        let r = c.cmd(&format!("RCPT TO:<{rcpt}>")).unwrap();
        assert_eq!(r.code, 250, "trusted client, RCPT <{rcpt}>: {r}");
    }
    // The tricks: never accepted, even from a trusted network.
    run_tricks(&mut c, &s, "app@example.test");
    c.quit();
    assert_eq!(stored_messages(&s), 0);
    // An untrusted config (same data dir) refuses with 550 again: relaying
    // comes from trusted_networks, not from a general change.
    let mut s = s;
    s.stop_term();
    let cfg = s.config_text().replace(
        "trusted_networks = [\"127.0.0.0/8\"]",
        "trusted_networks = [\"192.0.2.0/24\"]",
    );
    write_file(&s.config_path, cfg.as_bytes());
    s.start();
    let mut c = s.smtp();
    c.ehlo("client.test");
    c.expect("MAIL FROM:<app@example.test>", 250);
    let r = c.cmd("RCPT TO:<user@remote.test>").unwrap();
    assert_eq!(r.code, 550, "127.0.0.1 outside trusted_networks: {r}");
    c.quit();
}

#[test]
fn authenticated_submission_may_relay_but_not_with_tricks() {
    // The remote domains lead to a port nobody listens on, so the relayed
    // message stays queued (and nothing bounces) while the test looks.
    let closed = free_port();
    let s = relay_server(ExtraConfig {
        tables: format!(
            "[delivery]\nretry = [\"1h\"]\nroutes = {{ \"remote.test\" = \"127.0.0.1:{closed}\", \"xn--exmple-cua.test\" = \"127.0.0.1:{closed}\" }}\n"
        ),
        ..ExtraConfig::tls()
    });
    let mut c = s.submission();
    c.ehlo("client.test");
    c.expect(
        &format!("AUTH PLAIN {}", plain_b64(DEMO_USER, DEMO_PASS)),
        235,
    );
    c.expect("MAIL FROM:<demo@example.test> SMTPUTF8", 250);
    for rcpt in [
        "user@remote.test",
        "demo@exämple.test",
        "x@xn--exmple-cua.test",
    ] {
        let r = c.cmd(&format!("RCPT TO:<{rcpt}>")).unwrap();
        assert_eq!(r.code, 250, "authenticated, RCPT <{rcpt}>: {r}");
    }
    // A local recipient next to them is accepted and delivered.
    c.expect("RCPT TO:<alice@example.test>", 250);
    c.expect("DATA", 354);
    c.send_raw(b"From: <demo@example.test>\r\nSubject: local part\r\n\r\nx\r\n.\r\n")
        .unwrap();
    assert_eq!(c.reply().unwrap().code, 250);
    // The message went to alice and into the outbound queue.
    let q = s.cli(&["--json", "queue", "list"]);
    assert!(q.out().contains("user@remote.test"), "{}", q.describe());
    // The tricks: never a 250.
    run_tricks(&mut c, &s, DEMO_USER);
    c.quit();
    assert_eq!(
        mailbox_count(&s, "alice@example.test", "alice-pass"),
        1,
        "alice"
    );
    assert_eq!(stored_messages(&s), 1);
}
