//! CHUNKING (RFC 3030): BDAT on the real binary. Python's smtplib has no BDAT, so
//! the client side is raw sockets; what arrives is read back with poplib, and
//! relayed mail at a second praisani.

mod common;

use common::*;
use std::time::Duration;

const PY_TIMEOUT: Duration = Duration::from_secs(60);

/// A message whose body holds an end of data, a whole second transaction, a
/// dot-led line and 8-bit text: as BDAT content all of it is message.
fn tricky_message(from: &str, to: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: <{from}>\r\nTo: <{to}>\r\nSubject: {subject}\r\nMessage-ID: <{subject}@client.test>\r\n\
         Date: Thu, 3 Dec 2026 07:00:00 +0000\r\n\r\n\
         first line\r\n.\r\nMAIL FROM:<evil@remote.test>\r\nRCPT TO:<{DEMO_USER}>\r\nDATA\r\n\
         Subject: smuggled\r\n\r\nsmuggled body\r\n.\r\nQUIT\r\n.leading dot\r\n..two dots\r\n\
         8-bit: caf\u{e9} \u{e44}\u{e17}\u{e22}\r\nlast line\r\n"
    )
    .into_bytes()
}

/// The BDAT commands for `message` cut at `cuts`, the last one with LAST, as one
/// pipelined write.
fn bdat_stream(message: &[u8], cuts: &[usize]) -> (Vec<u8>, usize) {
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(message.len());
    let mut out = Vec::new();
    let n = bounds.len() - 1;
    for (i, w) in bounds.windows(2).enumerate() {
        let part = &message[w[0]..w[1]];
        let last = if i + 1 == n { " LAST" } else { "" };
        out.extend_from_slice(format!("BDAT {}{last}\r\n", part.len()).as_bytes());
        out.extend_from_slice(part);
    }
    (out, n)
}

/// Pipelines MAIL, RCPT and the chunks; returns every reply in order.
fn send_bdat(
    c: &mut Smtp,
    mail: &str,
    rcpts: &[&str],
    message: &[u8],
    cuts: &[usize],
) -> Vec<Reply> {
    let mut out = format!("MAIL FROM:{mail}\r\n").into_bytes();
    for r in rcpts {
        out.extend_from_slice(format!("RCPT TO:<{r}>\r\n").as_bytes());
    }
    let (chunks, n) = bdat_stream(message, cuts);
    out.extend_from_slice(&chunks);
    c.send_raw(&out).unwrap();
    (0..1 + rcpts.len() + n)
        .map(|_| c.reply().expect("a reply to every command"))
        .collect()
}

#[track_caller]
fn assert_codes(replies: &[Reply], want: &[u16]) {
    let got: Vec<u16> = replies.iter().map(|r| r.code).collect();
    assert_eq!(got, want, "{replies:?}");
}

fn ends_with(hay: &[u8], needle: &[u8]) -> bool {
    hay.len() >= needle.len() && &hay[hay.len() - needle.len()..] == needle
}

#[test]
fn bdat_message_is_stored_byte_exact_and_acknowledged_only_once_durable() {
    require_tool!("python3");
    let mut s = Server::start_default();
    let mut c = s.smtp();
    let ehlo = c.ehlo("client.test");
    assert!(
        ehlo.lines.iter().any(|l| &l[4..] == "CHUNKING"),
        "EHLO offers CHUNKING: {ehlo}"
    );
    assert!(!ehlo.text().contains("BINARYMIME"), "{ehlo}");
    let msg = tricky_message("sender@remote.test", DEMO_USER, "bdat-exact");
    // Cut inside the "\r\n.\r\n" (a CRLF split across chunks) and in a line.
    let dot = msg.windows(5).position(|w| w == b"\r\n.\r\n").unwrap();
    let replies = send_bdat(
        &mut c,
        "<sender@remote.test> BODY=8BITMIME SMTPUTF8",
        &[DEMO_USER],
        &msg,
        &[dot + 1, dot + 3, dot + 40],
    );
    assert_codes(&replies, &[250, 250, 250, 250, 250, 250]);
    assert!(replies[2].text().contains("octets received"), "{replies:?}");
    assert!(replies[5].text().contains("queued as"), "{replies:?}");
    // The session is in step: the smuggled QUIT was content.
    c.expect("NOOP", 250);
    // The 250 came after the commit: a kill -9 now loses nothing.
    s.kill9();
    drop(c);
    s.restart(false);
    let script = r#"
import poplib, sys
port = int(sys.argv[1]); want = bytes.fromhex(sys.argv[2])
p = poplib.POP3('127.0.0.1', port, timeout=30)
p.user('demo@example.test'); p.pass_('demo-pass')
count, total = p.stat()
assert count == 1, ('one message, the smuggled one is not a message', count)
resp, lines, octets = p.retr(1)
got = b'\r\n'.join(lines) + b'\r\n'
assert got.endswith(want), (got, want)
head = got[:len(got) - len(want)]
assert head.startswith(b'Return-Path: <sender@remote.test>\r\n'), head
assert b'Received: ' in head and b'UTF8SMTP' in head, head
assert total == len(got), ('LIST size is the RETR size', total, len(got))
p.quit()
print('OK')
"#;
    let hex: String = msg.iter().map(|b| format!("{b:02x}")).collect();
    let out = python(script, &[&s.pop3_port.to_string(), &hex], PY_TIMEOUT);
    assert_py_ok(&out, "poplib reads the BDAT message byte for byte");
}

#[test]
fn oversized_bdat_gets_552_after_its_chunk_and_the_session_goes_on() {
    let s = Server::start_with(ServerOpts {
        limits: "max_message_size = 4000".into(),
        ..ServerOpts::default()
    });
    let mut c = s.smtp();
    c.ehlo("client.test");
    // 3000 octets that fit, 3000 that break the limit (made of commands), and the
    // LAST chunk the client pipelined before it could see the 552.
    let fits = b"X-Filler: yes\r\n".repeat(200);
    let commands = b"RSET\r\nQUIT\r\n".repeat(250);
    let mut out =
        format!("MAIL FROM:<sender@remote.test>\r\nRCPT TO:<{DEMO_USER}>\r\n").into_bytes();
    out.extend_from_slice(format!("BDAT {}\r\n", fits.len()).as_bytes());
    out.extend_from_slice(&fits);
    out.extend_from_slice(format!("BDAT {}\r\n", commands.len()).as_bytes());
    out.extend_from_slice(&commands);
    out.extend_from_slice(b"BDAT 6 LAST\r\nQUIT\r\nNOOP\r\n");
    c.send_raw(&out).unwrap();
    let replies: Vec<Reply> = (0..6).map(|_| c.reply().unwrap()).collect();
    assert_codes(&replies, &[250, 250, 250, 552, 503, 250]);
    assert!(replies[3].text().starts_with("552 5.3.4"), "{replies:?}");
    // The client starts over and the next message goes through.
    c.expect("RSET", 250);
    let msg = simple_message("sender@remote.test", DEMO_USER, "after-552", "small");
    let replies = send_bdat(&mut c, "<sender@remote.test>", &[DEMO_USER], &msg, &[]);
    assert_codes(&replies, &[250, 250, 250]);
    c.quit();
    let msgs = s.fetch_all(DEMO_USER, DEMO_PASS);
    assert_eq!(msgs.len(), 1, "only the second message was stored");
    assert!(ends_with(&msgs[0], &msg));
}

#[test]
fn bdat_refusals_keep_dialogue_and_message_checks_of_data() {
    let s = Server::start_default();
    let mut c = s.smtp();
    c.ehlo("client.test");
    // BDAT without a transaction: its octets are skipped, not run.
    c.send_raw(b"BDAT 32\r\nMAIL FROM:<evil@remote.test>\r\n\r\nNOOP\r\n")
        .unwrap();
    assert_eq!(c.reply().unwrap().code, 503);
    assert_eq!(c.reply().unwrap().code, 250, "NOOP after the skipped chunk");
    // A NUL octet is refused at the end as with DATA (554 5.6.0), after the
    // store looked at the message.
    let replies = send_bdat(
        &mut c,
        "<sender@remote.test>",
        &[DEMO_USER],
        b"Subject: nul\r\n\r\na\0b\r\n",
        &[],
    );
    assert_codes(&replies, &[250, 250, 554]);
    // DATA after BDAT is refused (RFC 3030), RSET recovers.
    c.expect("MAIL FROM:<sender@remote.test>", 250);
    c.expect(&format!("RCPT TO:<{DEMO_USER}>"), 250);
    c.send_raw(b"BDAT 4\r\nab\r\n").unwrap();
    assert_eq!(c.reply().unwrap().code, 250);
    c.expect("DATA", 503);
    c.expect("RSET", 250);
    // A BDAT whose size cannot be read ends the connection: nothing after it can
    // be told apart from chunk data.
    c.send_raw(b"BDAT lots\r\nQUIT\r\n").unwrap();
    assert_eq!(c.reply().unwrap().code, 501);
    assert!(c.reply().is_err(), "connection closed");
    assert_eq!(s.fetch_all(DEMO_USER, DEMO_PASS).len(), 0);
}

#[test]
fn bdat_message_over_the_quota_is_refused_in_the_commit() {
    let s = Server::start_default();
    s.add_user("q@example.test", "qpw", &["--quota", "4K"]);
    let mut c = s.smtp();
    c.ehlo("client.test");
    // No SIZE=: RCPT passes, the store's commit refuses a message larger than the
    // quota (552 5.2.2), and the next message that fits is fine.
    let big = [
        b"Subject: big\r\n\r\n".as_slice(),
        &b"x".repeat(70).repeat(80),
    ]
    .concat();
    let big: Vec<u8> = big.chunks(70).flat_map(|l| [l, b"\r\n"].concat()).collect();
    let replies = send_bdat(
        &mut c,
        "<s@sender.test>",
        &["q@example.test"],
        &big,
        &[2000],
    );
    assert_codes(&replies[..3], &[250, 250, 250]);
    assert!(replies[3].text().starts_with("552 5.2.2"), "{replies:?}");
    let small = simple_message("s@sender.test", "q@example.test", "fits", "small");
    let replies = send_bdat(&mut c, "<s@sender.test>", &["q@example.test"], &small, &[]);
    assert_codes(&replies, &[250, 250, 250]);
    c.quit();
    let msgs = s.fetch_all("q@example.test", "qpw");
    assert_eq!(msgs.len(), 1);
    assert!(ends_with(&msgs[0], &small));
}

/// The sending side: relays for 127.0.0.0/8 and submission, routes remote.test to `b`.
fn relaying_sender(b: &Server) -> Server {
    Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tls_listeners: true,
            top: "trusted_networks = [\"127.0.0.0/8\"]".into(),
            tables: format!(
                "[delivery]\nretry = [\"1h\"]\nroutes = {{ \"remote.test\" = \"127.0.0.1:{}\" }}\n",
                b.smtp_port
            ),
            ..ExtraConfig::default()
        },
    )
}

#[test]
fn bdat_to_remote_recipients_is_queued_and_relayed_intact() {
    let b = Server::start_default();
    b.add_domain("remote.test");
    b.add_user("r@remote.test", "rpw", &[]);
    let a = relaying_sender(&b);
    // From a trusted network on the MX listener.
    let relayed = tricky_message("app@example.test", "r@remote.test", "bdat-trusted");
    let mut c = a.smtp();
    c.ehlo("client.test");
    let replies = send_bdat(
        &mut c,
        "<app@example.test> BODY=8BITMIME",
        &["r@remote.test"],
        &relayed,
        &[100],
    );
    assert_codes(&replies, &[250, 250, 250, 250]);
    c.quit();
    // Submission, authenticated.
    let submitted = tricky_message(DEMO_USER, "r@remote.test", "bdat-submitted");
    let mut c = a.submission();
    let ehlo = c.ehlo("client.test");
    assert!(
        ehlo.text().contains("CHUNKING"),
        "submission offers it too: {ehlo}"
    );
    c.expect(
        &format!("AUTH PLAIN {}", plain_b64(DEMO_USER, DEMO_PASS)),
        235,
    );
    let replies = send_bdat(
        &mut c,
        &format!("<{DEMO_USER}> BODY=8BITMIME"),
        &["r@remote.test"],
        &submitted,
        &[10, 11, 200],
    );
    assert_codes(&replies, &[250, 250, 250, 250, 250, 250]);
    // The From: checks of submission hold for BDAT: a forged From: (the header
    // split across chunks) and a second From: are refused at LAST, nothing queued.
    let forged = tricky_message("boss@other.test", "r@remote.test", "bdat-forged");
    let twice = [b"From: <boss@other.test>\r\n".as_slice(), &submitted].concat();
    for bad in [forged, twice] {
        let replies = send_bdat(
            &mut c,
            &format!("<{DEMO_USER}>"),
            &["r@remote.test"],
            &bad,
            &[3, 30],
        );
        assert_codes(&replies[..4], &[250, 250, 250, 250]);
        assert!(
            replies[4].text().starts_with("553 5.7.1")
                || replies[4].text().starts_with("550 5.6.0"),
            "{replies:?}"
        );
    }
    c.quit();
    let msgs = wait_for("both messages at the remote server", 30, || {
        let m = b.fetch_all("r@remote.test", "rpw");
        (m.len() >= 2).then_some(m)
    });
    assert_eq!(msgs.len(), 2, "each delivered once, nothing smuggled");
    for want in [&relayed, &submitted] {
        assert!(
            msgs.iter().any(|m| ends_with(m, want)),
            "relayed byte for byte: {:?}",
            String::from_utf8_lossy(want)
        );
    }
    wait_for("the queue to empty", 10, || {
        (queue_json(&a).trim() == "[]").then_some(())
    });
}

#[test]
fn chunking_can_be_turned_off() {
    let s = Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tables: "[smtp]\nchunking = false\n".into(),
            ..ExtraConfig::default()
        },
    );
    let mut c = s.smtp();
    let ehlo = c.ehlo("client.test");
    assert!(!ehlo.text().contains("CHUNKING"), "{ehlo}");
    c.expect("MAIL FROM:<sender@remote.test>", 250);
    c.expect(&format!("RCPT TO:<{DEMO_USER}>"), 250);
    c.expect("BDAT 0 LAST", 502);
    c.quit();
}

/// A TCP relay to `target` that records what clients send through it.
fn recording_proxy(target: u16) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<u8>>>) {
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { return };
            let Ok(mut server) = TcpStream::connect(("127.0.0.1", target)) else {
                return;
            };
            let (mut from_server, mut to_client) =
                (server.try_clone().unwrap(), client.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut from_server, &mut to_client);
                let _ = to_client.shutdown(Shutdown::Write);
            });
            let record = record.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = client.read(&mut buf) {
                    if n == 0 || server.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    record.lock().unwrap().extend_from_slice(&buf[..n]);
                }
                let _ = server.shutdown(Shutdown::Write);
            });
        }
    });
    (port, seen)
}

/// A private Postfix instance (config, queue and log in a temporary directory)
/// that relays everything to 127.0.0.1:`relay_port` without TLS; stopped on drop.
struct Postfix {
    dir: tempfile::TempDir,
}

impl Postfix {
    fn etc(&self) -> String {
        self.dir.path().join("etc").display().to_string()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    fn start(relay_port: u16) -> Postfix {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix("praisani-pfx-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        // The postfix user must reach its queue below the directory.
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        for sub in ["etc", "queue", "data"] {
            std::fs::create_dir(d.join(sub)).unwrap();
        }
        let st = std::process::Command::new("chown")
            .arg("postfix")
            .arg(d.join("data"))
            .status()
            .unwrap();
        assert!(st.success(), "chown postfix");
        // The packaged master.cf without the port-25 listener and without chroot.
        let master = std::fs::read_to_string("/etc/postfix/master.cf")
            .or_else(|_| std::fs::read_to_string("/etc/postfix/master.cf.proto"))
            .expect("Postfix's master.cf");
        let master: String = master
            .lines()
            .filter(|l| !l.starts_with("smtp      inet"))
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                if !l.starts_with([' ', '#']) && f.len() >= 8 && f[4] == "y" {
                    let mut f = f;
                    f[4] = "n";
                    format!("{}\n", f.join(" "))
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        write_file(&d.join("etc/master.cf"), master.as_bytes());
        let main = format!(
            "compatibility_level = 3.6\nqueue_directory = {q}\ndata_directory = {data}\n\
             mail_owner = postfix\nsetgid_group = postdrop\nmyhostname = pfx.test\n\
             myorigin = pfx.test\nmydestination =\ninet_interfaces = loopback-only\n\
             inet_protocols = ipv4\nrelayhost = [127.0.0.1]:{relay_port}\n\
             smtp_tls_security_level = none\nalias_maps =\nalias_database =\n\
             maillog_file = {log}\nmaillog_file_prefixes = {root}\n",
            q = d.join("queue").display(),
            data = d.join("data").display(),
            log = d.join("maillog").display(),
            root = d.display(),
        );
        write_file(&d.join("etc/main.cf"), main.as_bytes());
        let p = Postfix { dir };
        let out = run_cmd(
            std::process::Command::new("postfix").args(["-c", &p.etc(), "start"]),
            None,
            Duration::from_secs(60),
        );
        assert!(
            out.status.success(),
            "postfix start: {}\n{}",
            out.describe(),
            p.log()
        );
        p
    }

    /// `sendmail` into this instance (`-i`: a lone dot is a line like any other).
    fn sendmail(&self, from: &str, to: &str, message: &[u8]) {
        let out = run_cmd(
            std::process::Command::new("sendmail").args(["-C", &self.etc(), "-i", "-f", from, to]),
            Some(message),
            Duration::from_secs(60),
        );
        assert!(
            out.status.success(),
            "sendmail: {}\n{}",
            out.describe(),
            self.log()
        );
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = run_cmd(
            std::process::Command::new("postfix").args(["-c", &self.etc(), "stop"]),
            None,
            Duration::from_secs(60),
        );
    }
}

/// A real MTA's client against a server that offers CHUNKING: Postfix, through a
/// recording relay. Postfix implements CHUNKING in its server only (BDAT_README),
/// so its client goes on with DATA; this shows the new EHLO keyword changes
/// nothing for it and the message arrives byte for byte. No BDAT-sending program
/// is installed here (swaks, smtplib, curl and Postfix's smtp/smtp-source send
/// DATA), hence the raw-socket tests above.
#[test]
fn postfix_delivers_when_chunking_is_offered() {
    require_tool!("postfix");
    let root = std::process::Command::new("id").arg("-u").output().unwrap();
    if String::from_utf8_lossy(&root.stdout).trim() != "0" {
        eprintln!(
            "SKIPPED: a private Postfix instance needs root (postfix_delivers_when_chunking_is_offered)"
        );
        return;
    }
    let s = Server::start_default();
    let (proxy, seen) = recording_proxy(s.smtp_port);
    let pfx = Postfix::start(proxy);
    let msg = tricky_message("sender@remote.test", DEMO_USER, "via-postfix");
    // sendmail reads lines with LF; Postfix sends them with CRLF.
    let lf: Vec<u8> = String::from_utf8(msg.clone())
        .unwrap()
        .replace("\r\n", "\n")
        .into_bytes();
    pfx.sendmail("sender@remote.test", DEMO_USER, &lf);
    let msgs = wait_for("Postfix's message in the mailbox", 60, || {
        let m = s.fetch_all(DEMO_USER, DEMO_PASS);
        (!m.is_empty()).then_some(m)
    });
    let sent = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    assert!(
        sent.contains("\r\nDATA\r\n") || sent.contains("\r\nBDAT "),
        "the message went through the recording relay: {sent}\n{}",
        pfx.log()
    );
    assert_eq!(msgs.len(), 1, "one message, nothing smuggled");
    assert!(
        ends_with(&msgs[0], &msg),
        "byte for byte: {}\n{}",
        String::from_utf8_lossy(&msgs[0]),
        pfx.log()
    );
}
