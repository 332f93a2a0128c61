//! Client engine tests: scripted servers as byte sequences.

use std::collections::VecDeque;
use std::sync::Arc;

use super::*;

const GREETING: &[u8] = b"220 mx.example ESMTP\r\n";
const EHLO: &str = "EHLO client.example\r\n";

fn config() -> ClientConfig {
    ClientConfig::new("client.example")
}

fn envelope(rcpts: &[&str]) -> Envelope {
    Envelope::new(
        "alice@client.example",
        rcpts.iter().map(|r| Recipient::new(*r)).collect(),
    )
}

/// Drives a client like the tokio task will: performs every event, starts the
/// queued messages when ready, records what was written.
struct Driver {
    c: Client,
    /// Everything written, in order.
    out: Vec<u8>,
    /// Each Send event separately.
    sends: Vec<Vec<u8>>,
    /// Non-Send events, as tags.
    log: Vec<String>,
    queue: VecDeque<(Envelope, Vec<u8>)>,
    outcomes: Vec<MessageOutcome>,
    closed: Option<Option<Failure>>,
    /// Call quit() when ready and the queue is empty.
    auto_quit: bool,
    /// Complete TLS handshakes (else the driver leaves StartTls pending).
    tls_ok: bool,
    /// What the completed handshakes proved.
    trust: TlsTrust,
    body: Vec<u8>,
    started: usize,
}

impl Driver {
    fn new(config: ClientConfig) -> Self {
        Driver {
            c: Client::new(Arc::new(config)),
            out: Vec::new(),
            sends: Vec::new(),
            log: Vec::new(),
            queue: VecDeque::new(),
            outcomes: Vec::new(),
            closed: None,
            auto_quit: true,
            tls_ok: true,
            trust: TlsTrust::Verified,
            body: Vec::new(),
            started: 0,
        }
    }

    fn with_message(mut self, env: Envelope, body: &[u8]) -> Self {
        self.queue.push_back((env, body.to_vec()));
        self
    }

    fn pump(&mut self) {
        while let Some(ev) = self.c.poll() {
            assert!(self.closed.is_none(), "event after Closed: {ev:?}");
            match ev {
                Event::Send(b) => {
                    self.out.extend_from_slice(&b);
                    self.sends.push(b);
                }
                Event::StartTls => {
                    self.log.push("tls".into());
                    if self.tls_ok {
                        self.c.tls_established(self.trust);
                    }
                }
                Event::ReadyForMessage => {
                    self.log.push("ready".into());
                    if let Some((env, body)) = self.queue.pop_front() {
                        self.body = body;
                        self.started += 1;
                        self.c.start_message(env);
                    } else if self.auto_quit {
                        self.c.quit();
                    }
                }
                Event::SendBody => {
                    self.log.push("body".into());
                    let mut s = DotStuffer::new();
                    let mut out = Vec::new();
                    s.encode(&self.body, &mut out);
                    s.finish(&mut out);
                    self.out.extend_from_slice(&out);
                    self.sends.push(out);
                    self.c.body_sent();
                }
                Event::MessageDone(o) => {
                    self.log.push("done".into());
                    self.outcomes.push(o);
                }
                Event::Closed(f) => {
                    self.log.push("closed".into());
                    self.closed = Some(f);
                }
            }
        }
    }

    /// The server says `bytes`; returns what the client wrote in answer.
    fn server(&mut self, bytes: &[u8]) -> String {
        self.c.feed(bytes);
        self.pump();
        self.take()
    }

    fn take(&mut self) -> String {
        String::from_utf8(std::mem::take(&mut self.out)).expect("client writes UTF-8")
    }

    fn lost(&mut self) {
        self.c.connection_lost();
        self.pump();
    }

    fn failure(&self) -> Failure {
        match &self.closed {
            Some(Some(f)) => f.clone(),
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    /// Per-recipient results of message `n` as short tags with replies.
    fn results(&self, n: usize) -> Vec<String> {
        self.outcomes[n]
            .recipients
            .iter()
            .map(|r| match r {
                RecipientResult::Delivered { reply } => format!("ok {reply}"),
                RecipientResult::TempFailed { reply } => format!("temp {reply}"),
                RecipientResult::PermFailed { reply } => format!("perm {reply}"),
            })
            .collect()
    }
}

/// Greeting and EHLO with these keyword lines; returns the driver ready (or
/// having started its first message).
fn after_ehlo(mut d: Driver, keywords: &[&str]) -> Driver {
    assert_eq!(d.server(GREETING), EHLO);
    let mut reply = String::from("250");
    if keywords.is_empty() {
        reply.push_str(" mx.example\r\n");
    } else {
        reply.push_str("-mx.example greets you\r\n");
        for (i, k) in keywords.iter().enumerate() {
            let sep = if i + 1 == keywords.len() { ' ' } else { '-' };
            reply.push_str(&format!("250{sep}{k}\r\n"));
        }
    }
    d.c.feed(reply.as_bytes());
    d.pump();
    d
}

#[test]
fn delivery_without_pipelining() {
    let mut env = envelope(&["bob@mx.example"]);
    env.size = Some(7);
    let mut d = after_ehlo(
        Driver::new(config()).with_message(env, b"hello\r\n"),
        &["SIZE 1000", "8BITMIME"],
    );
    assert_eq!(d.take(), "MAIL FROM:<alice@client.example> SIZE=7\r\n");
    assert_eq!(
        d.server(b"250 2.1.0 Ok\r\n"),
        "RCPT TO:<bob@mx.example>\r\n"
    );
    assert_eq!(d.server(b"250 2.1.5 Ok\r\n"), "DATA\r\n");
    assert_eq!(
        d.server(b"354 End data with <CR><LF>.<CR><LF>\r\n"),
        "hello\r\n.\r\n"
    );
    assert_eq!(d.server(b"250 2.0.0 Ok: queued as 1234\r\n"), "QUIT\r\n");
    assert_eq!(d.results(0), ["ok 250 2.0.0 Ok: queued as 1234"]);
    assert!(d.closed.is_none());
    assert_eq!(d.server(b"221 2.0.0 Bye\r\n"), "");
    assert_eq!(d.closed, Some(None));
    assert_eq!(d.log, ["ready", "body", "done", "ready", "closed"]);
    assert_eq!(d.c.capabilities().size, Some(1000));
}

#[test]
fn delivery_with_pipelining_is_one_write() {
    let env = envelope(&["bob@mx.example", "carol@mx.example"]);
    let mut d = after_ehlo(
        Driver::new(config()).with_message(env, b".dot\r\n"),
        &["PIPELINING"],
    );
    assert_eq!(
        d.take(),
        "MAIL FROM:<alice@client.example>\r\nRCPT TO:<bob@mx.example>\r\n\
         RCPT TO:<carol@mx.example>\r\nDATA\r\n"
    );
    assert_eq!(
        d.sends.len(),
        2,
        "EHLO, then MAIL+RCPT+RCPT+DATA in one write"
    );
    assert_eq!(
        d.server(b"250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n"),
        "..dot\r\n.\r\n"
    );
    assert_eq!(d.server(b"250 queued\r\n"), "QUIT\r\n");
    assert_eq!(d.results(0), ["ok 250 queued", "ok 250 queued"]);
    d.server(b"221 bye\r\n");
    assert_eq!(d.closed, Some(None));
}

#[test]
fn multi_line_ehlo_and_code_mismatch() {
    let mut d = Driver::new(config());
    d.auto_quit = false;
    assert_eq!(d.server(GREETING), EHLO);
    d.server(b"250-mx.example\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n");
    assert!(
        d.log.is_empty(),
        "incomplete multi-line reply must not be used"
    );
    d.server(b"250-DSN\r\n250-SMTPUTF8\r\n250 8BITMIME\r\n");
    assert_eq!(d.log, ["ready"]);
    let caps = d.c.capabilities();
    assert!(caps.pipelining && caps.dsn && caps.smtputf8 && caps.eight_bit_mime);
    assert!(!caps.starttls && !caps.auth);
    assert_eq!(caps.size, Some(52_428_800));

    let mut d = Driver::new(config());
    d.server(GREETING);
    assert_eq!(d.server(b"250-mx.example\r\n550 PIPELINING\r\n"), "");
    let f = d.failure();
    assert!(!f.permanent);
    assert_eq!(f.stage, "EHLO");
    assert!(f.reply.contains("code changed"), "{f:?}");
}

#[test]
fn ehlo_refused_falls_back_to_helo() {
    for code in ["500", "502"] {
        let mut d = Driver::new(config()).with_message(envelope(&["b@mx.example"]), b"x\r\n");
        d.server(GREETING);
        let helo = d.server(format!("{code} 5.5.1 Unrecognized command\r\n").as_bytes());
        assert_eq!(helo, "HELO client.example\r\n");
        assert_eq!(
            d.server(b"250 mx.example\r\n"),
            "MAIL FROM:<alice@client.example>\r\n"
        );
        assert_eq!(d.c.capabilities(), &Capabilities::default());
    }
    // Another 5xx to EHLO is a permanent refusal, 4xx temporary.
    let mut d = Driver::new(config());
    d.server(GREETING);
    assert_eq!(d.server(b"554 5.7.1 go away\r\n"), "QUIT\r\n");
    assert!(d.failure().permanent);
    let mut d = Driver::new(config());
    d.server(GREETING);
    assert_eq!(d.server(b"450 4.7.1 later\r\n"), "QUIT\r\n");
    assert!(!d.failure().permanent);
}

#[test]
fn starttls_flow_rereads_capabilities() {
    let mut d = Driver::new(config()).with_message(envelope(&["b@mx.example"]), b"x\r\n");
    d.tls_ok = false;
    d.server(GREETING);
    let out = d.server(b"250-mx.example\r\n250-STARTTLS\r\n250 SIZE 10\r\n");
    assert_eq!(out, "STARTTLS\r\n");
    // Plain-text octets after the 220 (an injection attempt) must be dropped.
    assert_eq!(
        d.server(b"220 2.0.0 Ready to start TLS\r\n250 injected\r\n"),
        ""
    );
    assert_eq!(d.log, ["tls"]);
    d.c.feed(b"250 more injected\r\n");
    d.c.tls_established(TlsTrust::Verified);
    d.pump();
    assert_eq!(d.take(), EHLO);
    assert!(d.c.tls_active());
    assert_eq!(d.c.capabilities(), &Capabilities::default());
    let out = d.server(b"250-mx.example\r\n250-PIPELINING\r\n250 SIZE 20\r\n");
    assert!(
        out.starts_with("MAIL FROM:<alice@client.example>\r\nRCPT"),
        "{out}"
    );
    let caps = d.c.capabilities();
    assert!(caps.pipelining && !caps.starttls);
    assert_eq!(caps.size, Some(20));
}

#[test]
fn starttls_refused_opportunistic_continues_required_fails() {
    let mut d = Driver::new(config()).with_message(envelope(&["b@mx.example"]), b"x\r\n");
    d.server(GREETING);
    assert_eq!(d.server(b"250-mx\r\n250 STARTTLS\r\n"), "STARTTLS\r\n");
    assert_eq!(
        d.server(b"454 4.7.0 TLS not available\r\n"),
        "MAIL FROM:<alice@client.example>\r\n"
    );
    assert!(!d.c.tls_active());

    let mut cfg = config();
    cfg.starttls = StartTlsPolicy::Required;
    let mut d = Driver::new(cfg.clone());
    d.server(GREETING);
    assert_eq!(d.server(b"250-mx\r\n250 STARTTLS\r\n"), "STARTTLS\r\n");
    assert_eq!(d.server(b"454 4.7.0 TLS not available\r\n"), "QUIT\r\n");
    let f = d.failure();
    assert!(!f.permanent);
    assert_eq!(f.stage, "STARTTLS");

    // Required but not offered.
    let mut d = Driver::new(cfg);
    d.server(GREETING);
    assert_eq!(d.server(b"250-mx\r\n250 SIZE\r\n"), "QUIT\r\n");
    assert_eq!(d.failure().stage, "STARTTLS");
    assert!(!d.failure().permanent);

    // Disabled: never asks.
    let mut cfg = config();
    cfg.starttls = StartTlsPolicy::Disabled;
    let mut d = Driver::new(cfg);
    d.server(GREETING);
    assert_eq!(d.server(b"250-mx\r\n250 STARTTLS\r\n"), "QUIT\r\n");
    assert_eq!(d.log, ["ready"]);
}

fn auth_config() -> ClientConfig {
    let mut cfg = config();
    cfg.auth = Some(Credentials {
        user: "user".into(),
        password: "pass".into(),
    });
    cfg
}

/// Greeting, EHLO offering STARTTLS + AUTH PLAIN LOGIN, TLS, EHLO again.
fn auth_driver(cfg: ClientConfig, auth_line: &str) -> (Driver, String) {
    let mut d = Driver::new(cfg).with_message(envelope(&["b@mx.example"]), b"x\r\n");
    d.server(GREETING);
    assert_eq!(d.server(b"250-mx\r\n250 STARTTLS\r\n"), "STARTTLS\r\n");
    assert_eq!(d.server(b"220 go\r\n"), EHLO);
    let out = d.server(format!("250-mx\r\n250 {auth_line}\r\n").as_bytes());
    (d, out)
}

#[test]
fn auth_plain_success_535_454() {
    let (mut d, out) = auth_driver(auth_config(), "AUTH PLAIN LOGIN");
    assert_eq!(out, "AUTH PLAIN AHVzZXIAcGFzcw==\r\n");
    assert_eq!(
        d.server(b"235 2.7.0 Authentication successful\r\n"),
        "MAIL FROM:<alice@client.example>\r\n"
    );

    let (mut d, _) = auth_driver(auth_config(), "AUTH PLAIN LOGIN");
    assert_eq!(d.server(b"535 5.7.8 bad credentials\r\n"), "QUIT\r\n");
    let f = d.failure();
    // Wrong credentials are ours to fix: mail waits instead of bouncing.
    assert!(!f.permanent);
    assert_eq!(f.stage, "AUTH");
    assert_eq!(f.reply, "535 5.7.8 bad credentials");
    assert!(d.outcomes.is_empty(), "no message was started");

    let (mut d, _) = auth_driver(auth_config(), "AUTH PLAIN");
    assert_eq!(d.server(b"454 4.7.0 try later\r\n"), "QUIT\r\n");
    assert!(!d.failure().permanent);
}

#[test]
fn auth_login_when_only_login() {
    let (mut d, out) = auth_driver(auth_config(), "AUTH LOGIN");
    assert_eq!(out, "AUTH LOGIN\r\n");
    assert_eq!(d.server(b"334 VXNlcm5hbWU6\r\n"), "dXNlcg==\r\n");
    assert_eq!(d.server(b"334 UGFzc3dvcmQ6\r\n"), "cGFzcw==\r\n");
    assert_eq!(
        d.server(b"235 ok\r\n"),
        "MAIL FROM:<alice@client.example>\r\n"
    );

    let (mut d, out) = auth_driver(auth_config(), "AUTH CRAM-MD5");
    assert_eq!(out, "QUIT\r\n");
    assert_eq!(d.failure().stage, "AUTH");
    assert!(d.c.is_closed());
    assert_eq!(d.server(b"250 late\r\n"), "");
}

#[test]
fn auth_needs_tls_unless_allowed() {
    let mut d = Driver::new(auth_config());
    d.server(GREETING);
    assert_eq!(d.server(b"250-mx\r\n250 AUTH PLAIN\r\n"), "QUIT\r\n");
    let f = d.failure();
    assert_eq!((f.stage, f.permanent), ("AUTH", false));

    let mut cfg = auth_config();
    cfg.allow_plaintext_auth = true;
    let mut d = Driver::new(cfg);
    d.server(GREETING);
    assert_eq!(
        d.server(b"250-mx\r\n250 AUTH PLAIN\r\n"),
        "AUTH PLAIN AHVzZXIAcGFzcw==\r\n"
    );
}

/// Opportunistic TLS (certificate not checked) protects a password from
/// nobody who can answer the handshake: no AUTH over it, in any TLS mode.
#[test]
fn auth_needs_verified_tls() {
    let mut d = Driver::new(auth_config()).with_message(envelope(&["b@mx.example"]), b"x\r\n");
    d.trust = TlsTrust::Unverified;
    d.server(GREETING);
    assert_eq!(d.server(b"250-mx\r\n250 STARTTLS\r\n"), "STARTTLS\r\n");
    assert_eq!(d.server(b"220 go\r\n"), EHLO);
    let out = d.server(b"250-mx\r\n250 AUTH PLAIN LOGIN\r\n");
    assert_eq!(out, "QUIT\r\n");
    let f = d.failure();
    assert_eq!((f.stage, f.permanent), ("AUTH", false));
    assert!(f.reply.contains("not verified"), "{}", f.reply);
    assert!(d.outcomes.is_empty(), "a message went out unauthenticated");

    // Implicit TLS, unverified: the same.
    let mut d = Driver::new(auth_config());
    d.c = Client::new_tls(Arc::new(auth_config()), TlsTrust::Unverified);
    d.server(GREETING);
    assert_eq!(d.server(b"250-mx\r\n250 AUTH PLAIN\r\n"), "QUIT\r\n");
    assert_eq!(d.failure().stage, "AUTH");

    // Implicit TLS, verified: AUTH goes out.
    let mut d = Driver::new(auth_config());
    d.c = Client::new_tls(Arc::new(auth_config()), TlsTrust::Verified);
    d.server(GREETING);
    assert_eq!(
        d.server(b"250-mx\r\n250 AUTH PLAIN\r\n"),
        "AUTH PLAIN AHVzZXIAcGFzcw==\r\n"
    );
}

fn mixed_rcpts(pipelining: bool) {
    let env = envelope(&["a@mx", "b@mx", "c@mx"]);
    let kw: &[&str] = if pipelining {
        &["PIPELINING"]
    } else {
        &["SIZE"]
    };
    let mut d = after_ehlo(Driver::new(config()).with_message(env, b"body\r\n"), kw);
    let replies: [&[u8]; 4] = [
        b"250 ok\r\n",
        b"250 2.1.5 ok\r\n",
        b"450 4.2.1 mailbox busy\r\n",
        b"550 5.1.1 no such user\r\n",
    ];
    if pipelining {
        d.take();
        let all: Vec<u8> = replies.concat();
        d.c.feed(&all);
        d.pump();
        assert_eq!(d.take(), "");
        assert_eq!(d.server(b"354 go\r\n"), "body\r\n.\r\n");
    } else {
        assert_eq!(d.take(), "MAIL FROM:<alice@client.example>\r\n");
        assert_eq!(d.server(replies[0]), "RCPT TO:<a@mx>\r\n");
        assert_eq!(d.server(replies[1]), "RCPT TO:<b@mx>\r\n");
        assert_eq!(d.server(replies[2]), "RCPT TO:<c@mx>\r\n");
        assert_eq!(d.server(replies[3]), "DATA\r\n");
        assert_eq!(d.server(b"354 go\r\n"), "body\r\n.\r\n");
    }
    assert_eq!(d.server(b"250 2.0.0 queued\r\n"), "QUIT\r\n");
    assert_eq!(
        d.results(0),
        [
            "ok 250 2.0.0 queued",
            "temp 450 4.2.1 mailbox busy",
            "perm 550 5.1.1 no such user"
        ]
    );
}

#[test]
fn mixed_rcpt_results_pipelined() {
    mixed_rcpts(true);
}

#[test]
fn mixed_rcpt_results_one_at_a_time() {
    mixed_rcpts(false);
}

#[test]
fn all_rcpts_refused_no_body_then_rset() {
    // Pipelined: the server answers the DATA with 554.
    let env = envelope(&["a@mx", "b@mx"]);
    let mut d = after_ehlo(
        Driver::new(config())
            .with_message(env.clone(), b"body\r\n")
            .with_message(env.clone(), b"second\r\n"),
        &["PIPELINING"],
    );
    d.take();
    let out = d.server(b"250 ok\r\n550 no\r\n451 later\r\n554 5.5.1 no valid recipients\r\n");
    assert_eq!(out, "RSET\r\n");
    assert!(!d.log.contains(&"body".to_string()));
    assert_eq!(d.results(0), ["perm 550 no", "temp 451 later"]);
    // After RSET the next message goes out.
    assert!(d.server(b"250 ok\r\n").starts_with("MAIL FROM:"));

    // A broken server that says 354 anyway gets an empty body, then RSET.
    let mut d = after_ehlo(
        Driver::new(config()).with_message(env.clone(), b"body\r\n"),
        &["PIPELINING"],
    );
    d.take();
    assert_eq!(
        d.server(b"250 ok\r\n550 no\r\n550 no\r\n354 go\r\n"),
        ".\r\n"
    );
    assert_eq!(d.server(b"554 no recipients\r\n"), "RSET\r\n");
    assert_eq!(d.results(0), ["perm 550 no", "perm 550 no"]);
    assert_eq!(d.server(b"250 ok\r\n"), "QUIT\r\n");

    // Without pipelining no DATA is sent at all.
    let mut d = after_ehlo(Driver::new(config()).with_message(env, b"body\r\n"), &[]);
    d.take();
    d.server(b"250 ok\r\n");
    d.server(b"550 no\r\n");
    assert_eq!(d.server(b"550 no\r\n"), "RSET\r\n");
    assert_eq!(d.server(b"250 ok\r\n"), "QUIT\r\n");
}

#[test]
fn mail_refused() {
    let env = envelope(&["a@mx", "b@mx"]);
    let mut d = after_ehlo(
        Driver::new(config()).with_message(env.clone(), b"x\r\n"),
        &[],
    );
    d.take();
    assert_eq!(d.server(b"553 5.7.1 sender rejected\r\n"), "RSET\r\n");
    assert_eq!(
        d.results(0),
        [
            "perm 553 5.7.1 sender rejected",
            "perm 553 5.7.1 sender rejected"
        ]
    );
    // Pipelined: the RCPT replies (503) do not override the MAIL result.
    let mut d = after_ehlo(
        Driver::new(config()).with_message(env, b"x\r\n"),
        &["PIPELINING"],
    );
    d.take();
    let out = d.server(b"451 4.3.0 try later\r\n503 5.5.1 no MAIL\r\n503 no\r\n503 no\r\n");
    assert_eq!(out, "RSET\r\n");
    assert_eq!(
        d.results(0),
        ["temp 451 4.3.0 try later", "temp 451 4.3.0 try later"]
    );
}

fn end_of_data(reply: &[u8]) -> Vec<String> {
    let env = envelope(&["a@mx", "b@mx", "c@mx"]);
    let mut d = after_ehlo(
        Driver::new(config()).with_message(env, b"x\r\n"),
        &["PIPELINING"],
    );
    d.take();
    assert_eq!(
        d.server(b"250 ok\r\n250 ok\r\n250 ok\r\n550 no\r\n354 go\r\n"),
        "x\r\n.\r\n"
    );
    assert_eq!(d.server(reply), "QUIT\r\n");
    d.results(0)
}

#[test]
fn end_of_data_552_and_451() {
    assert_eq!(
        end_of_data(b"552 5.3.4 too big\r\n"),
        [
            "perm 552 5.3.4 too big",
            "perm 552 5.3.4 too big",
            "perm 550 no"
        ]
    );
    assert_eq!(
        end_of_data(b"451 4.3.0 local error\r\n"),
        [
            "temp 451 4.3.0 local error",
            "temp 451 4.3.0 local error",
            "perm 550 no"
        ]
    );
}

#[test]
fn smtputf8_needed_but_not_offered() {
    let mut env = envelope(&["a@mx", "b@mx"]);
    env.smtputf8 = true;
    let mut d = after_ehlo(
        Driver::new(config()).with_message(env.clone(), b"x\r\n"),
        &["8BITMIME"],
    );
    assert_eq!(d.take(), "QUIT\r\n", "no MAIL sent");
    let r = d.results(0);
    assert!(
        r.iter()
            .all(|r| r.starts_with("perm 554 5.6.7") && r.contains("SMTPUTF8"))
    );
    // A non-ASCII address implies SMTPUTF8 even without the flag.
    let env2 = envelope(&["jörg@mx"]);
    let mut d = after_ehlo(Driver::new(config()).with_message(env2, b"x\r\n"), &[]);
    assert_eq!(d.take(), "QUIT\r\n");
    assert!(d.results(0)[0].starts_with("perm 554 5.6.7"));
    // Offered: the parameter is sent.
    let mut d = after_ehlo(
        Driver::new(config()).with_message(env, b"x\r\n"),
        &["SMTPUTF8"],
    );
    assert_eq!(d.take(), "MAIL FROM:<alice@client.example> SMTPUTF8\r\n");
}

#[test]
fn size_only_when_offered_and_limit_checked() {
    let mut env = envelope(&["a@mx"]);
    env.size = Some(2000);
    env.eight_bit = true;
    let mut d = after_ehlo(
        Driver::new(config()).with_message(env.clone(), b"x\r\n"),
        &["DSN"],
    );
    assert_eq!(d.take(), "MAIL FROM:<alice@client.example>\r\n");
    let mut d = after_ehlo(
        Driver::new(config()).with_message(env.clone(), b"x\r\n"),
        &["SIZE 0", "8BITMIME"],
    );
    assert_eq!(
        d.take(),
        "MAIL FROM:<alice@client.example> SIZE=2000 BODY=8BITMIME\r\n"
    );
    let mut d = after_ehlo(
        Driver::new(config()).with_message(env, b"x\r\n"),
        &["SIZE 1999"],
    );
    assert_eq!(d.take(), "QUIT\r\n");
    assert!(
        d.results(0)[0].starts_with("perm 552 5.3.4"),
        "{:?}",
        d.results(0)
    );
}

#[test]
fn dsn_params_only_when_offered() {
    let mut env = envelope(&[]);
    env.from = String::new();
    env.recipients = vec![Recipient {
        address: "a@mx".into(),
        notify: praisani_message::dsn::Notify::from_param("failure,delay"),
        orcpt: Some("rfc822;a+b=c@mx".into()),
    }];
    env.ret = praisani_message::dsn::Return::from_param("hdrs");
    env.envid = Some("id 1+".into());
    let mut d = after_ehlo(
        Driver::new(config()).with_message(env.clone(), b"x\r\n"),
        &["PIPELINING", "DSN"],
    );
    assert_eq!(
        d.take(),
        "MAIL FROM:<> RET=HDRS ENVID=id+201+2B\r\n\
         RCPT TO:<a@mx> NOTIFY=FAILURE,DELAY ORCPT=rfc822;a+2Bb+3Dc@mx\r\nDATA\r\n"
    );
    let mut d = after_ehlo(
        Driver::new(config()).with_message(env, b"x\r\n"),
        &["PIPELINING"],
    );
    assert_eq!(d.take(), "MAIL FROM:<>\r\nRCPT TO:<a@mx>\r\nDATA\r\n");
}

#[test]
fn reply_421_mid_session() {
    let env = envelope(&["a@mx", "b@mx"]);
    let mut d = after_ehlo(Driver::new(config()).with_message(env, b"x\r\n"), &[]);
    d.take();
    d.server(b"250 ok\r\n");
    d.server(b"550 no\r\n");
    assert_eq!(d.server(b"421 4.4.2 closing\r\n"), "", "no QUIT after 421");
    assert_eq!(d.results(0), ["perm 550 no", "temp 421 4.4.2 closing"]);
    let f = d.failure();
    assert_eq!((f.permanent, f.stage), (false, "RCPT"));
    assert_eq!(d.log.last().map(String::as_str), Some("closed"));

    // 421 on an idle connection.
    let mut d = after_ehlo(Driver::new(config()), &[]);
    d.auto_quit = false;
    let mut d2 = Driver::new(config());
    d2.auto_quit = false;
    d2.server(GREETING);
    d2.server(b"250 mx\r\n");
    assert_eq!(d2.log, ["ready"]);
    d2.server(b"421 timeout\r\n");
    assert_eq!(d2.failure().stage, "idle");
    // (the first driver quit at once; its QUIT reply is the 421)
    d.server(b"421 bye\r\n");
    assert_eq!(d.closed, Some(None));
}

#[test]
fn greeting_outcomes() {
    let mut d = Driver::new(config());
    assert_eq!(d.server(b"554 5.7.1 no mail here\r\n"), "QUIT\r\n");
    let f = d.failure();
    assert_eq!((f.permanent, f.stage), (true, "greeting"));
    let mut d = Driver::new(config());
    assert_eq!(d.server(b"421 busy\r\n"), "");
    assert!(!d.failure().permanent);
    let mut d = Driver::new(config());
    assert_eq!(d.server(b"450 busy\r\n"), "QUIT\r\n");
    assert!(!d.failure().permanent);
}

#[test]
fn garbage_reply_is_temporary() {
    for garbage in [
        &b"HTTP/1.1 400 Bad Request\r\n"[..],
        b"250\x00x\r\n",
        b"2\r\n",
    ] {
        let mut d = Driver::new(config());
        d.server(GREETING);
        assert_eq!(d.server(garbage), "");
        let f = d.failure();
        assert_eq!((f.permanent, f.stage), (false, "EHLO"), "{garbage:?}");
        assert!(f.reply.starts_with("protocol error"));
    }
    // An unexpected 354 to MAIL is a protocol error too; the message is settled.
    let mut d = after_ehlo(
        Driver::new(config()).with_message(envelope(&["a@mx"]), b""),
        &[],
    );
    d.take();
    d.server(b"354 what\r\n");
    assert_eq!(
        d.results(0)[0],
        "temp protocol error: unexpected reply 354 what"
    );
    assert_eq!(d.failure().stage, "MAIL");
}

#[test]
fn long_line_is_bounded() {
    let mut cfg = config();
    cfg.max_line = 64;
    let mut d = Driver::new(cfg);
    d.server(GREETING);
    for _ in 0..100 {
        d.c.feed(&[b'x'; 50]);
        assert!(d.c.buffered() <= 64);
    }
    d.pump();
    let f = d.failure();
    assert!(f.reply.contains("too long"), "{f:?}");
    assert!(!f.permanent);
}

#[test]
fn connection_lost_everywhere() {
    // Lost while waiting for replies, mid-body, during TLS, and after QUIT.
    let mut d = after_ehlo(
        Driver::new(config()).with_message(envelope(&["a@mx"]), b"x"),
        &[],
    );
    d.server(b"250 ok\r\n");
    d.lost();
    assert_eq!(d.results(0)[0], "temp connection lost");
    assert_eq!(d.failure().stage, "RCPT");

    let mut d = Driver::new(config());
    d.tls_ok = false;
    d.server(GREETING);
    d.server(b"250-mx\r\n250 STARTTLS\r\n");
    d.server(b"220 go\r\n");
    d.lost();
    assert_eq!(d.failure().stage, "STARTTLS");

    let mut d = after_ehlo(Driver::new(config()), &[]);
    assert_eq!(d.take(), "QUIT\r\n");
    d.lost();
    assert_eq!(d.closed, Some(None), "EOF after QUIT is a normal end");

    let mut c = Client::new(Arc::new(config()));
    c.feed(b"220 mx\r\n");
    assert!(matches!(c.poll(), Some(Event::Send(_))));
    c.feed(b"250 mx\r\n");
    assert_eq!(c.poll(), Some(Event::ReadyForMessage));
    c.start_message(envelope(&["a@mx"]));
    c.feed(b"250 ok\r\n250 ok\r\n354 go\r\n");
    let mut evs = Vec::new();
    while let Some(e) = c.poll() {
        evs.push(e);
    }
    assert_eq!(evs.last(), Some(&Event::SendBody));
    c.connection_lost();
    assert!(matches!(c.poll(), Some(Event::MessageDone(_))));
    match c.poll() {
        Some(Event::Closed(Some(f))) => assert_eq!(f.stage, "DATA"),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.poll(), None);
}

#[test]
fn quit_while_busy_and_start_when_not_ready() {
    let mut c = Client::new(Arc::new(config()));
    c.start_message(envelope(&["a@mx", "b@mx"]));
    match c.poll() {
        Some(Event::MessageDone(o)) => assert_eq!(o.recipients.len(), 2),
        other => panic!("{other:?}"),
    }
    c.quit();
    assert_eq!(c.poll(), Some(Event::Send(b"QUIT\r\n".to_vec())));
    assert_eq!(c.poll(), Some(Event::Closed(None)));
    assert_eq!(c.poll(), None);
}

#[test]
fn invalid_addresses_refused_locally() {
    let env = envelope(&["a@mx", "evil@mx>\r\nRSET", ""]);
    let mut d = after_ehlo(
        Driver::new(config()).with_message(env, b"x\r\n"),
        &["PIPELINING"],
    );
    assert_eq!(
        d.take(),
        "MAIL FROM:<alice@client.example>\r\nRCPT TO:<a@mx>\r\nDATA\r\n"
    );
    d.server(b"250 ok\r\n250 ok\r\n354 go\r\n");
    d.server(b"250 ok\r\n");
    let r = d.results(0);
    assert_eq!(r[0], "ok 250 ok");
    assert!(r[1].starts_with("perm 553") && r[2].starts_with("perm 553"));
    assert!(valid_path("\"john doe\"@example.org"));
    assert!(!valid_path("john doe@example.org"));
}

/// The server's half of a two-message conversation without TLS.
const TWO_MESSAGES: &[u8] = b"220 mx.example ESMTP\r\n\
250-mx.example\r\n250-SIZE 100000\r\n250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n\
250 2.1.0 ok\r\n250 2.1.5 ok\r\n450 4.2.0 greylisted\r\n354 go\r\n250 2.0.0 queued A\r\n\
250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go\r\n550 5.7.1 spam\r\n221 bye\r\n";

fn two_messages_driver() -> Driver {
    Driver::new(config())
        .with_message(envelope(&["a@mx", "b@mx"]), b"first\r\n.line\r\n")
        .with_message(envelope(&["c@mx"]), b"second")
}

fn check_two_messages(d: &Driver, out: &str) {
    assert_eq!(
        out,
        "EHLO client.example\r\nMAIL FROM:<alice@client.example>\r\nRCPT TO:<a@mx>\r\n\
         RCPT TO:<b@mx>\r\nDATA\r\nfirst\r\n..line\r\n.\r\n\
         MAIL FROM:<alice@client.example>\r\nRCPT TO:<c@mx>\r\nDATA\r\nsecond\r\n.\r\n\
         QUIT\r\n"
    );
    assert_eq!(
        d.results(0),
        ["ok 250 2.0.0 queued A", "temp 450 4.2.0 greylisted"]
    );
    assert_eq!(d.results(1), ["perm 550 5.7.1 spam"]);
    assert_eq!(d.closed, Some(None));
}

#[test]
fn two_messages_on_one_connection() {
    let mut d = two_messages_driver();
    let out = d.server(TWO_MESSAGES);
    check_two_messages(&d, &out);
    assert_eq!(
        d.log,
        [
            "ready", "body", "done", "ready", "body", "done", "ready", "closed"
        ]
    );
}

#[test]
fn replies_split_at_every_byte_boundary() {
    for i in 0..=TWO_MESSAGES.len() {
        let mut d = two_messages_driver();
        let mut out = d.server(&TWO_MESSAGES[..i]);
        out += &d.server(&TWO_MESSAGES[i..]);
        check_two_messages(&d, &out);
    }
    let mut d = two_messages_driver();
    let mut out = String::new();
    for b in TWO_MESSAGES {
        out += &d.server(std::slice::from_ref(b));
    }
    check_two_messages(&d, &out);
    // And a pipelined conversation split everywhere.
    let script: &[u8] = b"220 mx\r\n250-mx\r\n250 PIPELINING\r\n250 ok\r\n250 ok\r\n354 go\r\n250 done\r\n221 bye\r\n";
    for i in 0..=script.len() {
        let mut d = Driver::new(config()).with_message(envelope(&["a@mx"]), b"x");
        let mut out = d.server(&script[..i]);
        out += &d.server(&script[i..]);
        assert_eq!(
            out,
            "EHLO client.example\r\nMAIL FROM:<alice@client.example>\r\nRCPT TO:<a@mx>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n"
        );
        assert_eq!(d.results(0), ["ok 250 done"]);
        assert_eq!(d.closed, Some(None));
    }
}

/// xorshift64*, for reproducible random input.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const FRAGMENTS: &[&[u8]] = &[
    b"220 mx\r\n",
    b"250 ok\r\n",
    b"250-mx\r\n",
    b"250-PIPELINING\r\n",
    b"250-STARTTLS\r\n",
    b"250 AUTH PLAIN LOGIN\r\n",
    b"250-SIZE 10\r\n",
    b"250 SMTPUTF8\r\n",
    b"354 go\r\n",
    b"334 x\r\n",
    b"235 ok\r\n",
    b"421 bye\r\n",
    b"450 later\r\n",
    b"502 no\r\n",
    b"550 no\r\n",
    b"221 bye\r\n",
    b"\r\n",
    b"25",
    b"-",
    b" ",
    b"\n",
];

#[test]
fn random_input_always_ends_in_closed() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for round in 0..3000 {
        let mut cfg = auth_config();
        cfg.max_line = 32 + rng.below(64);
        cfg.allow_plaintext_auth = rng.below(2) == 0;
        cfg.starttls = match rng.below(3) {
            0 => StartTlsPolicy::Opportunistic,
            1 => StartTlsPolicy::Required,
            _ => StartTlsPolicy::Disabled,
        };
        if rng.below(2) == 0 {
            cfg.auth = None;
        }
        let max_line = cfg.max_line;
        let mut d = Driver::new(cfg);
        d.auto_quit = rng.below(4) == 0;
        for _ in 0..rng.below(4) {
            let mut env = envelope(&["a@mx", "b@mx", "c@mx"][..1 + rng.below(3)]);
            env.size = Some(rng.below(30) as u64);
            env.smtputf8 = rng.below(4) == 0;
            d.queue.push_back((env, b"body\r\n".to_vec()));
        }
        for _ in 0..rng.below(40) {
            let chunk: Vec<u8> = if rng.below(3) == 0 {
                (0..rng.below(80)).map(|_| rng.next() as u8).collect()
            } else {
                FRAGMENTS[rng.below(FRAGMENTS.len())].to_vec()
            };
            d.c.feed(&chunk);
            d.pump();
            assert!(
                d.c.buffered() <= max_line * MAX_REPLY_LINES,
                "round {round}: {} buffered",
                d.c.buffered()
            );
            if rng.below(20) == 0 {
                d.c.quit();
                d.pump();
            }
        }
        d.lost();
        assert!(
            d.closed.is_some(),
            "round {round}: not closed; log {:?}",
            d.log
        );
        assert_eq!(d.log.last().map(String::as_str), Some("closed"));
        assert_eq!(
            d.outcomes.len(),
            d.started,
            "round {round}: every message gets one MessageDone; log {:?}",
            d.log
        );
        assert_eq!(d.c.poll(), None);
    }
}

#[test]
fn requiretls_only_over_verified_tls_to_a_server_that_offers_it() {
    let mut env = envelope(&["a@mx"]);
    env.requiretls = true;
    let over = |trust: TlsTrust, keywords: &[&str]| {
        let mut d = Driver::new(config()).with_message(env.clone(), b"x\r\n");
        d.c = Client::new_tls(Arc::new(config()), trust);
        after_ehlo(d, keywords)
    };
    let mut d = over(TlsTrust::Verified, &["REQUIRETLS"]);
    assert_eq!(d.take(), "MAIL FROM:<alice@client.example> REQUIRETLS\r\n");
    // Not offered, TLS not verified, no TLS at all: nothing sent, 5.7.30.
    for mut d in [
        over(TlsTrust::Verified, &["8BITMIME"]),
        over(TlsTrust::Unverified, &["REQUIRETLS"]),
        after_ehlo(
            Driver::new(config()).with_message(env.clone(), b"x\r\n"),
            &["REQUIRETLS"],
        ),
    ] {
        assert_eq!(d.take(), "QUIT\r\n", "no MAIL sent");
        assert!(
            d.results(0)[0].starts_with("perm 550 5.7.30"),
            "{:?}",
            d.results(0)
        );
    }
}
