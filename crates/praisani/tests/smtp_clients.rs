//! SMTP driven by clients nobody here wrote (python smtplib, curl, swaks) and
//! raw sockets for the byte-level rules (smuggling, size limit).

mod common;

use common::*;
use std::process::Command;
use std::time::Duration;

const PY_TIMEOUT: Duration = Duration::from_secs(60);
const MAX_SIZE: u64 = 1024 * 1024; // "1M"

/// demo@example.test (demo-pass), alice/bob@example.test, alias team -> alice, bob.
fn server() -> Server {
    let s = Server::start_with(ServerOpts {
        demo: true,
        limits: "max_message_size = \"1M\"".into(),
    });
    s.add_user("alice@example.test", "alice-pass", &[]);
    s.add_user("bob@example.test", "bob-pass", &[]);
    s.cli(&[
        "alias",
        "add",
        "team@example.test",
        "alice@example.test",
        "bob@example.test",
    ])
    .assert_ok("alias add");
    s
}

fn messages_with(msgs: &[Vec<u8>], tok: &str) -> usize {
    msgs.iter().filter(|m| contains(m, tok.as_bytes())).count()
}

#[test]
fn smtplib_send_message_and_trace_headers() {
    require_tool!("python3");
    let s = server();
    let tok = token("smtplib");
    let script = r#"
import smtplib, sys
from email.message import EmailMessage
port, tok = int(sys.argv[1]), sys.argv[2]
m = EmailMessage()
m['From'] = 'sender@remote.test'
m['To'] = 'demo@example.test'
m['Subject'] = tok
m.set_content('Hello from smtplib\n')
with smtplib.SMTP('127.0.0.1', port, timeout=30) as s:
    code, resp = s.ehlo('client.test')
    assert code == 250, (code, resp)
    for f in ['pipelining', 'size', '8bitmime', 'enhancedstatuscodes', 'smtputf8']:
        assert s.has_extn(f), 'EHLO lacks ' + f + ': ' + repr(resp)
    assert int(s.esmtp_features['size']) == 1048576, s.esmtp_features['size']
    refused = s.send_message(m)
    assert refused == {}, refused
print('OK')
"#;
    let out = python(script, &[&s.smtp_port.to_string(), &tok], PY_TIMEOUT);
    assert!(
        out.status.success() && out.out().contains("OK"),
        "{}",
        out.describe()
    );

    let msgs = s.fetch_all(DEMO_USER, DEMO_PASS);
    assert_eq!(msgs.len(), 1, "demo mailbox");
    let m = &msgs[0];
    assert!(
        contains(m, tok.as_bytes()) && contains(m, b"Hello from smtplib"),
        "{}",
        String::from_utf8_lossy(m)
    );
    assert!(
        m.starts_with(b"Return-Path: <sender@remote.test>\r\n"),
        "no Return-Path first:\n{}",
        String::from_utf8_lossy(m)
    );
    let text = String::from_utf8_lossy(m);
    let recv = text
        .find("\r\nReceived: ")
        .unwrap_or_else(|| panic!("no Received header:\n{text}"));
    let subj = text.find("\r\nSubject: ").unwrap();
    assert!(
        recv < subj,
        "Received must be prepended before the original headers:\n{text}"
    );
    assert!(
        text[recv..subj].contains("mx.example.test"),
        "Received lacks the server name:\n{text}"
    );
}

#[test]
fn smtplib_sendmail_alias_expands_once_per_mailbox() {
    require_tool!("python3");
    let s = server();
    let tok = token("alias");
    let script = r#"
import smtplib, sys
port, tok = int(sys.argv[1]), sys.argv[2]
msg = ('From: <sender@remote.test>\r\nTo: <alice@example.test>, <team@example.test>\r\n'
       'Subject: ' + tok + '\r\n\r\nto alice and the team\r\n')
with smtplib.SMTP('127.0.0.1', port, timeout=30) as s:
    refused = s.sendmail('sender@remote.test', ['alice@example.test', 'team@example.test'], msg)
    assert refused == {}, refused
print('OK')
"#;
    let out = python(script, &[&s.smtp_port.to_string(), &tok], PY_TIMEOUT);
    assert!(
        out.status.success() && out.out().contains("OK"),
        "{}",
        out.describe()
    );
    let alice = s.fetch_all("alice@example.test", "alice-pass");
    let bob = s.fetch_all("bob@example.test", "bob-pass");
    assert_eq!(
        messages_with(&alice, &tok),
        1,
        "alice reached directly and via the alias must get ONE copy"
    );
    assert_eq!(alice.len(), 1);
    assert_eq!(messages_with(&bob, &tok), 1, "bob via the alias");
    assert_eq!(bob.len(), 1);
    let demo = s.fetch_all(DEMO_USER, DEMO_PASS);
    assert_eq!(demo.len(), 0, "demo got mail it was not sent");
}

#[test]
fn smtplib_vrfy_help_noop_rset() {
    require_tool!("python3");
    let s = server();
    let script = r#"
import smtplib, sys
port = int(sys.argv[1])
with smtplib.SMTP('127.0.0.1', port, timeout=30) as s:
    s.ehlo('client.test')
    for who in ['demo@example.test', 'nobody@example.test']:
        code, msg = s.verify(who)
        assert code == 252, ('VRFY', who, code, msg)
    code, msg = s.docmd('HELP')
    assert code == 214, ('HELP', code, msg)
    code, msg = s.noop()
    assert code == 250, ('NOOP', code, msg)
    code, msg = s.rset()
    assert code == 250, ('RSET', code, msg)
    code, msg = s.docmd('XYZZY')
    assert code == 500, ('unknown command', code, msg)
    code, msg = s.docmd('RCPT TO:<demo@example.test>')
    assert code == 503, ('RCPT before MAIL', code, msg)
    code, msg = s.docmd('DATA')
    assert code == 503, ('DATA before MAIL', code, msg)
print('OK')
"#;
    let out = python(script, &[&s.smtp_port.to_string()], PY_TIMEOUT);
    assert!(
        out.status.success() && out.out().contains("OK"),
        "{}",
        out.describe()
    );
}

#[test]
fn smtplib_refused_recipients() {
    require_tool!("python3");
    let s = server();
    let tok = token("partial");
    let script = r#"
import smtplib, sys
port, tok = int(sys.argv[1]), sys.argv[2]
msg = 'From: <sender@remote.test>\r\nSubject: ' + tok + '\r\n\r\nbody\r\n'
with smtplib.SMTP('127.0.0.1', port, timeout=30) as s:
    try:
        s.sendmail('sender@remote.test', ['nobody@example.test', 'someone@elsewhere.test'], msg)
        raise SystemExit('all recipients refused, but no exception')
    except smtplib.SMTPRecipientsRefused as e:
        r = e.recipients
        code, text = r['nobody@example.test']
        assert code == 550 and b'5.1.1' in text, ('unknown local user', code, text)
        code, text = r['someone@elsewhere.test']
        assert code == 550 and b'5.7.1' in text, ('relay', code, text)
    # The connection is still usable; one good and one bad recipient.
    refused = s.sendmail('sender@remote.test', ['demo@example.test', 'nobody@example.test'], msg)
    assert list(refused) == ['nobody@example.test'], refused
    assert refused['nobody@example.test'][0] == 550, refused
print('OK')
"#;
    let out = python(script, &[&s.smtp_port.to_string(), &tok], PY_TIMEOUT);
    assert!(
        out.status.success() && out.out().contains("OK"),
        "{}",
        out.describe()
    );
    let demo = s.fetch_all(DEMO_USER, DEMO_PASS);
    assert_eq!(demo.len(), 1, "exactly the partially accepted message");
    assert!(contains(&demo[0], tok.as_bytes()));
}

#[test]
fn smtplib_size_too_big() {
    require_tool!("python3");
    let s = server();
    let script = r#"
import smtplib, sys
port = int(sys.argv[1])
with smtplib.SMTP('127.0.0.1', port, timeout=30) as s:
    s.ehlo('client.test')
    code, msg = s.mail('sender@remote.test', ['SIZE=5000000'])
    assert code == 552 and b'5.3.4' in msg, ('SIZE=5000000', code, msg)
    s.rset()
    code, msg = s.mail('sender@remote.test', ['SIZE=1000'])
    assert code == 250, ('SIZE=1000', code, msg)
    s.rset()
    big = b'Subject: big\r\n\r\n' + (b'x' * 998 + b'\r\n') * 1200
    try:
        s.sendmail('sender@remote.test', ['demo@example.test'], big)
        raise SystemExit('1.2 MB accepted with a 1M limit')
    except smtplib.SMTPSenderRefused as e:
        assert e.smtp_code == 552, (e.smtp_code, e.smtp_error)
print('OK')
"#;
    let out = python(script, &[&s.smtp_port.to_string()], PY_TIMEOUT);
    assert!(
        out.status.success() && out.out().contains("OK"),
        "{}",
        out.describe()
    );
    assert_eq!(s.fetch_all(DEMO_USER, DEMO_PASS).len(), 0);
}

/// A client that does not announce SIZE still must not get an oversized
/// message stored: RFC 5321 §4.5.3.1.10 / 552 after the final dot.
#[test]
fn raw_oversized_data_without_size_param_is_refused() {
    let s = server();
    let mut c = s.smtp();
    c.ehlo("client.test");
    c.expect("MAIL FROM:<sender@remote.test>", 250);
    c.expect("RCPT TO:<demo@example.test>", 250);
    c.expect("DATA", 354);
    let line = [b'y'; 998];
    let mut data = b"Subject: too big\r\n\r\n".to_vec();
    while (data.len() as u64) < MAX_SIZE + 200_000 {
        data.extend_from_slice(&line);
        data.extend_from_slice(b"\r\n");
    }
    data.extend_from_slice(b".\r\n");
    let _ = c.send_raw(&data); // the server may stop reading early
    let r = c
        .reply()
        .unwrap_or_else(|e| panic!("no reply to an oversized DATA: {e}\n{}", s.log()));
    assert_eq!(r.code, 552, "oversized DATA: {r}");
    assert_eq!(
        s.fetch_all(DEMO_USER, DEMO_PASS).len(),
        0,
        "oversized message stored"
    );
    // A normal message still goes through on a new connection.
    let tok = token("after-big");
    s.deliver(
        "sender@remote.test",
        &[DEMO_USER],
        &simple_message("sender@remote.test", DEMO_USER, &tok, "small"),
    );
    assert_eq!(s.fetch_all(DEMO_USER, DEMO_PASS).len(), 1);
}

#[test]
fn curl_smtp_upload() {
    require_tool!("curl");
    let s = server();
    let tok = token("curl");
    let body = format!(
        "From: <sender@remote.test>\r\nTo: <demo@example.test>\r\nSubject: {tok}\r\n\r\nsent by curl\r\n.a line with a leading dot\r\nend\r\n"
    );
    let file = s.path("curl.eml");
    write_file(&file, body.as_bytes());
    let url = format!("smtp://127.0.0.1:{}", s.smtp_port);
    let mut c = Command::new("curl");
    c.args([
        "-sS",
        "--max-time",
        "30",
        &url,
        "--mail-from",
        "sender@remote.test",
        "--mail-rcpt",
        DEMO_USER,
        "--upload-file",
    ])
    .arg(&file);
    run_cmd(&mut c, None, PY_TIMEOUT).assert_ok("curl smtp upload");

    // A refused recipient makes curl fail and report the 550.
    let mut c = Command::new("curl");
    c.args([
        "-sS",
        "--max-time",
        "30",
        &url,
        "--mail-from",
        "sender@remote.test",
        "--mail-rcpt",
        "nobody@example.test",
        "--upload-file",
    ])
    .arg(&file);
    let out = run_cmd(&mut c, None, PY_TIMEOUT);
    assert!(
        !out.status.success(),
        "curl to an unknown user succeeded: {}",
        out.describe()
    );
    assert!(
        out.err().contains("550"),
        "curl did not see 550: {}",
        out.describe()
    );

    let msgs = s.fetch_all(DEMO_USER, DEMO_PASS);
    assert_eq!(msgs.len(), 1);
    assert!(
        msgs[0].ends_with(body.as_bytes()),
        "curl's message did not round-trip:\n{}",
        String::from_utf8_lossy(&msgs[0])
    );
}

#[test]
fn swaks_plain_pipelined_and_relay_refused() {
    require_tool!("swaks");
    let s = server();
    let port = s.smtp_port.to_string();
    let tok1 = token("swaks");
    let tok2 = token("swaks-pipe");
    for (tok, extra) in [(&tok1, None), (&tok2, Some("--pipeline"))] {
        let mut c = Command::new("swaks");
        c.args([
            "--server",
            "127.0.0.1",
            "--port",
            &port,
            "--to",
            DEMO_USER,
            "--from",
            "sender@remote.test",
        ])
        .args([
            "--header",
            &format!("Subject: {tok}"),
            "--body",
            "sent by swaks",
            "--timeout",
            "30",
        ]);
        if let Some(e) = extra {
            c.arg(e);
        }
        let out = run_cmd(&mut c, None, PY_TIMEOUT);
        assert!(out.status.success(), "swaks {extra:?}: {}", out.describe());
    }
    let mut c = Command::new("swaks");
    c.args([
        "--server",
        "127.0.0.1",
        "--port",
        &port,
        "--to",
        "someone@elsewhere.test",
        "--from",
        "sender@remote.test",
    ])
    .args(["--timeout", "30"]);
    let out = run_cmd(&mut c, None, PY_TIMEOUT);
    assert!(
        !out.status.success(),
        "relay to elsewhere.test accepted: {}",
        out.describe()
    );
    assert!(
        out.out().contains("550") || out.err().contains("550"),
        "no 550 in swaks output: {}",
        out.describe()
    );

    let msgs = s.fetch_all(DEMO_USER, DEMO_PASS);
    assert_eq!(msgs.len(), 2, "two swaks messages");
    assert_eq!(messages_with(&msgs, &tok1), 1);
    assert_eq!(messages_with(&msgs, &tok2), 1);
    assert!(contains(&msgs[0], b"sent by swaks"));
}

/// SMTP smuggling: a bare-LF "dot line" inside DATA must not end the data.
#[test]
fn smtp_smuggling_is_not_possible() {
    let s = server();
    let variants: [(&str, &[u8]); 4] = [
        ("LF.LF", b"\n.\n"),
        ("LF.CRLF", b"\n.\r\n"),
        ("CRLF.LF", b"\r\n.\n"),
        ("CR.CR", b"\r.\r"),
    ];
    let mut problems = Vec::new();
    for (i, (name, sep)) in variants.iter().enumerate() {
        let user = format!("smuggle{i}@example.test");
        s.add_user(&user, "pw", &[]);
        let tok = token("smuggle");
        let mut c = s.smtp();
        c.ehlo("client.test");
        c.expect("MAIL FROM:<sender@remote.test>", 250);
        c.expect(&format!("RCPT TO:<{user}>"), 250);
        c.expect("DATA", 354);
        let mut payload = format!("Subject: {tok}\r\n\r\nhello").into_bytes();
        payload.extend_from_slice(sep);
        payload.extend_from_slice(
            format!("MAIL FROM:<x@example.test>\r\nRCPT TO:<{user}>\r\nDATA\r\nsmuggled\r\n.\r\n")
                .as_bytes(),
        );
        c.send_raw(&payload).unwrap();
        let r = c.reply().expect("reply to end of data");
        if r.code != 250 {
            problems.push(format!(
                "{name}: end of data answered {r} (the message should be accepted as one)"
            ));
        }
        let next = c.cmd("QUIT");
        match next {
            Ok(r) if r.code == 221 => {}
            other => problems.push(format!("{name}: the reply after the message was {other:?}, not 221 to QUIT: a second transaction was started")),
        }
        let msgs = s.fetch_all(&user, "pw");
        if msgs.len() != 1 {
            problems.push(format!(
                "{name}: {} messages stored, want exactly 1: {:?}",
                msgs.len(),
                msgs.iter()
                    .map(|m| String::from_utf8_lossy(m).into_owned())
                    .collect::<Vec<_>>()
            ));
        } else if !contains(&msgs[0], b"MAIL FROM:<x@example.test>")
            || !contains(&msgs[0], b"smuggled")
            || !contains(&msgs[0], tok.as_bytes())
        {
            problems.push(format!(
                "{name}: the stored message lacks the smuggled text as body:\n{}",
                String::from_utf8_lossy(&msgs[0])
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Lines starting with "." and 8-bit bytes survive SMTP in and POP3 out
/// byte for byte (smtplib stuffs, poplib unstuffs).
#[test]
fn dot_stuffing_and_8bit_round_trip() {
    require_tool!("python3");
    let s = server();
    let tok = token("roundtrip");
    let script = r#"
import smtplib, poplib, sys
sp, pp, tok = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].encode()
lines = [b'.leading dot', b'..two dots', b'.', b'..', b' .space dot', b'...', b'end.',
         '\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35 Thai UTF-8'.encode('utf-8'),
         b'latin1 caf\xe9 raw 8-bit', b'\x80\x81\xfe\xff high bytes', b'.\xe9 dot then 8bit',
         b'x' * 990, b'', b'last line']
msg = (b'From: <sender@remote.test>\r\nTo: <demo@example.test>\r\nSubject: ' + tok + b'\r\n'
       b'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'
       + b'\r\n'.join(lines) + b'\r\n')
with smtplib.SMTP('127.0.0.1', sp, timeout=30) as s:
    s.ehlo('client.test')
    refused = s.sendmail('sender@remote.test', ['demo@example.test'], msg, mail_options=['BODY=8BITMIME'])
    assert refused == {}, refused
p = poplib.POP3('127.0.0.1', pp, timeout=30)
p.user('demo@example.test')
p.pass_('demo-pass')
count, total = p.stat()
assert count == 1, count
resp, got, octets = p.retr(1)
fetched = b'\r\n'.join(got) + b'\r\n'
if not fetched.endswith(msg):
    i = 0
    tail = fetched[len(fetched) - len(msg):]
    while i < min(len(tail), len(msg)) and tail[i] == msg[i]:
        i += 1
    raise SystemExit('mismatch at offset %d: sent %r got %r' % (i, msg[i:i+60], tail[i:i+60]))
size = int(p.list(1).split()[2])
assert size == len(fetched), ('LIST size', size, 'RETR octets', len(fetched))
assert total == len(fetched), ('STAT size', total, len(fetched))
p.quit()
print('OK')
"#;
    let out = python(
        script,
        &[&s.smtp_port.to_string(), &s.pop3_port.to_string(), &tok],
        PY_TIMEOUT,
    );
    assert!(
        out.status.success() && out.out().contains("OK"),
        "{}",
        out.describe()
    );
}

/// IDN: a Unicode address (SMTPUTF8) and an ASCII local part in an IDN domain
/// given as A-label reach the same store entries.
#[test]
fn idn_recipients() {
    require_tool!("python3");
    let s = server();
    s.add_domain("ตัวอย่าง.ไทย");
    s.add_user("สมชาย@ตัวอย่าง.ไทย", "thai-pass", &[]);
    s.add_user("somchai@ตัวอย่าง.ไทย", "ascii-pass", &[]);
    let tok = token("idn");
    let script = r#"
import smtplib, sys
from email.message import EmailMessage
port, tok = int(sys.argv[1]), sys.argv[2]
m = EmailMessage()
m['From'] = 'sender@remote.test'
m['To'] = 'สมชาย@ตัวอย่าง.ไทย'
m['Subject'] = tok
m.set_content('สวัสดี\n')
with smtplib.SMTP('127.0.0.1', port, timeout=30) as s:
    s.ehlo('client.test')
    refused = s.send_message(m)   # uses SMTPUTF8 because of the non-ASCII address
    assert refused == {}, refused
    refused = s.sendmail('sender@remote.test', ['สมชาย@xn--72c1a1bt4awk9o.xn--o3cw4h'],
                         ('Subject: ' + tok + '\r\n\r\nvia A-label\r\n').encode(), mail_options=['SMTPUTF8'])
    assert refused == {}, refused
print('OK')
"#;
    let out = python(script, &[&s.smtp_port.to_string(), &tok], PY_TIMEOUT);
    assert!(
        out.status.success() && out.out().contains("OK"),
        "{}",
        out.describe()
    );
    let out = s.cli(&["--json", "user", "show", "สมชาย@ตัวอย่าง.ไทย"]);
    assert!(
        out.out().contains("\"messages\":2"),
        "both messages should be in one mailbox: {}",
        out.describe()
    );

    // Plain ASCII SMTP to the A-label form, POP3 login with the A-label form.
    s.deliver(
        "sender@remote.test",
        &["somchai@xn--72c1a1bt4awk9o.xn--o3cw4h"],
        &simple_message(
            "sender@remote.test",
            "somchai@xn--72c1a1bt4awk9o.xn--o3cw4h",
            &tok,
            "ascii",
        ),
    );
    let msgs = s.fetch_all("somchai@xn--72c1a1bt4awk9o.xn--o3cw4h", "ascii-pass");
    assert_eq!(msgs.len(), 1);
    assert!(contains(&msgs[0], tok.as_bytes()));
}
