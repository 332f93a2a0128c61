//! International mail end to end: IDN domains and UTF-8 mailboxes from the CLI, SMTPUTF8
//! (RFC 6531/6532) with Python smtplib and curl, POP3 UTF8 and LANG (RFC 6856) with
//! poplib, and the RFC 6857 downgraded view that clients without UTF8 (poplib, curl,
//! mpop) get.

mod common;

use common::*;
use std::process::Command;
use std::time::Duration;

const PY_TIMEOUT: Duration = Duration::from_secs(60);

const THAI_DOMAIN: &str = "ตัวอย่าง.ไทย";
const THAI_DOMAIN_ACE: &str = "xn--72c1a1bt4awk9o.xn--o3cw4h";
const THAI_USER: &str = "สมชาย@ตัวอย่าง.ไทย";
const THAI_PASS: &str = "รหัสผ่าน";
const CHINESE_DOMAIN: &str = "例子.中国";
const CHINESE_USER: &str = "用户@例子.中国";
/// With an ideographic space, which is compared as a plain space.
/// With an ideographic space (compared as a plain space) and a composed é (the
/// decomposed spelling is the same password).
const CHINESE_PASS: &str = "密码\u{3000}caf\u{e9}";

/// A server with the demo account plus a Thai and a Chinese mailbox.
fn intl_server() -> Server {
    let s = Server::start_default();
    s.add_domain(THAI_DOMAIN);
    s.add_domain(CHINESE_DOMAIN);
    s.add_user(THAI_USER, THAI_PASS, &[]);
    s.add_user(CHINESE_USER, CHINESE_PASS, &[]);
    s
}

/// A message whose header fields are UTF-8 (RFC 6532).
fn utf8_message(to: &str, token: &str) -> String {
    format!(
        "From: สมชาย ใจดี <{THAI_USER}>\r\nTo: {to}\r\nSubject: สวัสดี 你好 {token}\r\nMessage-ID: <{token}@client.test>\r\n\r\nเนื้อหา body {token}\r\n"
    )
}

#[test]
fn cli_unicode_and_a_label_name_one_account() {
    let s = Server::new(ServerOpts::default());
    s.add_domain(THAI_DOMAIN);
    let again = s.cli(&["domain", "add", THAI_DOMAIN_ACE]);
    assert_ne!(again.code(), Some(0), "{}", again.describe());
    assert!(
        again.err().contains("already exists"),
        "{}",
        again.describe()
    );
    s.add_user(THAI_USER, THAI_PASS, &[]);
    // The same mailbox with the A-label domain.
    let spelling = format!("สมชาย@{THAI_DOMAIN_ACE}");
    let out = s.cli_stdin(&["user", "add", &spelling, "--password-stdin"], Some("x\n"));
    assert_ne!(out.code(), Some(0), "{spelling}: {}", out.describe());
    assert!(out.err().contains("already exists"), "{}", out.describe());
    let list = s.cli(&["user", "list"]);
    list.assert_ok("user list");
    assert_eq!(list.out().lines().count(), 1, "{}", list.describe());
    assert!(list.out().starts_with(THAI_USER), "{}", list.describe());
    s.add_domain(CHINESE_DOMAIN);
    // Case and NFC apply to local parts: "CAFE\u{301}" is "café".
    s.add_user("café@例子.中国", "pw", &[]);
    let out = s.cli_stdin(
        &[
            "user",
            "add",
            "CAFE\u{301}@XN--FSQU00A.xn--fiqs8s",
            "--password-stdin",
        ],
        Some("x\n"),
    );
    assert!(out.err().contains("already exists"), "{}", out.describe());
}

/// smtplib with SMTPUTF8 to a Thai and a Chinese mailbox; without it the UTF-8
/// address is refused with 553 5.6.7 and a UTF-8 header with 550 5.6.9.
#[test]
fn smtplib_smtputf8_and_refusals() {
    require_tool!("python3");
    let s = intl_server();
    let script = r#"
import smtplib, sys
port = int(sys.argv[1]); thai, chinese = sys.argv[2], sys.argv[3]
msg = sys.argv[4].encode()
c = smtplib.SMTP('127.0.0.1', port, timeout=30)
c.ehlo('client.test')
assert c.has_extn('smtputf8'), c.esmtp_features
refused = c.sendmail(thai, [thai, chinese], msg, mail_options=['SMTPUTF8'])
assert refused == {}, refused
# A client that does not ask for SMTPUTF8 but sends a UTF-8 address anyway.
c.command_encoding = 'utf-8'
code, text = c.mail('sender@remote.test')
assert code == 250, (code, text)
code, text = c.rcpt(thai)
assert (code, text[:5]) == (553, b'5.6.7'), (code, text)
c.rset()
c.command_encoding = 'utf-8'  # rset() went back to ASCII
code, text = c.mail(thai)
assert (code, text[:5]) == (553, b'5.6.7'), (code, text)
c.rset()
c.command_encoding = 'ascii'
# ASCII envelope, UTF-8 header, no SMTPUTF8.
try:
    c.sendmail('sender@remote.test', ['demo@example.test'], msg)
    raise SystemExit('UTF-8 header without SMTPUTF8 was accepted')
except smtplib.SMTPDataError as e:
    assert (e.smtp_code, e.smtp_error[:5]) == (550, b'5.6.9'), e
c.quit()
print('OK')
"#;
    let token = token("smtpu");
    let msg = utf8_message(CHINESE_USER, &token);
    let port = s.smtp_port.to_string();
    let out = python(script, &[&port, THAI_USER, CHINESE_USER, &msg], PY_TIMEOUT);
    assert_py_ok(&out, "smtplib SMTPUTF8");
    // Both mailboxes hold the message as sent (after our trace header).
    for user in [THAI_USER, CHINESE_USER] {
        let list = s.cli(&["user", "list"]);
        assert!(
            list.out()
                .lines()
                .any(|l| l.starts_with(user) && l.contains("\t1 message")),
            "{user}: {}",
            list.describe()
        );
    }
    // Nothing reached the demo mailbox (the 550 message was not stored).
    let mut p = s.pop3_login(DEMO_USER, DEMO_PASS);
    assert_eq!(p.stat().0, 0);
}

/// poplib: UTF8, then UTF-8 user names and passwords (any spelling of the address);
/// the message comes back byte for byte; LIST sizes match. The same login without
/// UTF8 gets the downgraded message.
#[test]
fn poplib_utf8_login_and_byte_exact_retrieval() {
    require_tool!("python3");
    let s = intl_server();
    let token = token("utf8");
    let msg = utf8_message(THAI_USER, &token);
    let script = r#"
import smtplib, poplib, sys, unicodedata
sport, pport = int(sys.argv[1]), int(sys.argv[2])
thai, thai_pass, chinese, chinese_pass, ace = sys.argv[3:8]
msg = sys.argv[8].encode()
c = smtplib.SMTP('127.0.0.1', sport, timeout=30)
c.sendmail(thai, [thai, chinese], msg, mail_options=['SMTPUTF8'])
c.quit()

# Without UTF8 the same login works, and the message comes downgraded: ASCII header.
p = poplib.POP3('127.0.0.1', pport, timeout=30)
assert p.user(thai).startswith(b'+OK') and p.pass_(thai_pass).startswith(b'+OK')
resp, lines, octets = p.retr(1)
legacy = b'\r\n'.join(lines) + b'\r\n'
assert legacy.partition(b'\r\n\r\n')[0].isascii(), legacy
assert int(p.list(1).split()[2]) == len(legacy)
p.quit()

for user, password in [(thai, thai_pass), (ace, thai_pass), (chinese, chinese_pass),
                       ('用户@XN--FSQU00A.XN--FIQS8S', unicodedata.normalize('NFD', chinese_pass))]:
    p = poplib.POP3('127.0.0.1', pport, timeout=30)
    caps = p.capa()
    assert caps.get('UTF8') == ['USER'], caps
    assert p.utf8().startswith(b'+OK'), 'UTF8'
    assert p.user(user).startswith(b'+OK')
    assert p.pass_(password).startswith(b'+OK'), user
    resp, listing, _ = p.list()
    assert len(listing) == 1, listing
    size = int(listing[0].split()[1])
    resp, lines, octets = p.retr(1)
    got = b'\r\n'.join(lines) + b'\r\n'
    assert got.endswith(msg), (got, msg)
    head = got[:len(got) - len(msg)]
    # Each mailbox's copy names it in its Delivered-To (as addressed, UTF-8).
    assert head.startswith(b'Return-Path: <' + thai.encode() + b'>\r\nDelivered-To: '), head
    assert head.split(b'\r\n')[2].startswith(b'Received: '), head
    assert len(got) == size, (len(got), size)
    p.quit()

# A wrong UTF-8 password fails like any other.
p = poplib.POP3('127.0.0.1', pport, timeout=30)
p.utf8(); p.user(thai)
try:
    p.pass_(thai_pass + 'x'); raise SystemExit('wrong password accepted')
except poplib.error_proto as e:
    assert e.args[0].startswith(b'-ERR [AUTH]'), e
p.quit()
print('OK')
"#;
    let (sport, pport) = (s.smtp_port.to_string(), s.pop3_port.to_string());
    let ace = format!("สมชาย@{THAI_DOMAIN_ACE}");
    let out = python(
        script,
        &[
            &sport,
            &pport,
            THAI_USER,
            THAI_PASS,
            CHINESE_USER,
            CHINESE_PASS,
            &ace,
            &msg,
        ],
        PY_TIMEOUT,
    );
    assert_py_ok(&out, "poplib UTF8 login");
}

/// A client without UTF8 gets the RFC 6857 downgraded form: ASCII only, exact sizes,
/// the same UIDLs as a UTF8 client, nothing lost when switching; TOP works in both.
#[test]
fn legacy_view_is_downgraded_and_consistent() {
    require_tool!("python3");
    let s = intl_server();
    let token = token("legacy");
    let msg = utf8_message(DEMO_USER, &token);
    let script = r#"
import smtplib, poplib, sys, email, email.policy, email.header
sport, pport, thai, demo, demo_pass = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
msg = sys.argv[6].encode(); token = sys.argv[7]
c = smtplib.SMTP('127.0.0.1', int(sport), timeout=30)
c.sendmail(thai, [demo], msg, mail_options=['SMTPUTF8'])
c.sendmail('ascii@remote.test', [demo], b'Subject: plain ' + token.encode() + b'\r\n\r\nhi\r\n')
c.quit()

def session(utf8):
    p = poplib.POP3('127.0.0.1', int(pport), timeout=30)
    if utf8:
        assert p.utf8().startswith(b'+OK')
    p.user(demo); p.pass_(demo_pass)
    resp, listing, _ = p.list()
    sizes = [int(l.split()[1]) for l in listing]
    uids = [l.split()[1] for l in p.uidl()[1]]
    count, total = p.stat()
    assert count == 2 and total == sum(sizes), (count, total, sizes)
    bodies = []
    for i in (1, 2):
        resp, lines, _ = p.retr(i)
        got = b'\r\n'.join(lines) + b'\r\n'
        assert len(got) == sizes[i - 1], ('size', utf8, i, len(got), sizes[i - 1])
        bodies.append(got)
    top = b'\r\n'.join(p.top(1, 0)[1]) + b'\r\n'
    p.quit()
    return sizes, uids, bodies, top

sizes, uids, bodies, top = session(False)
usizes, uuids, ubodies, utop = session(True)
assert uids == uuids, (uids, uuids)
# The ASCII message is the same in both views; the UTF-8 one differs.
assert bodies[1] == ubodies[1] and sizes[1] == usizes[1]
assert ubodies[0].endswith(msg)
legacy = bodies[0]
head, _, body = legacy.partition(b'\r\n\r\n')
assert head.isascii(), head
assert body == 'เนื้อหา body {}\r\n'.format(token).encode(), body
assert top == head + b'\r\n\r\n', (top, head)
assert utop.endswith(msg.partition(b'\r\n\r\n')[0] + b'\r\n\r\n'), utop
m = email.message_from_bytes(legacy, policy=email.policy.default)
assert str(m['Subject']) == 'สวัสดี 你好 ' + token, m['Subject']
assert m['To'] == demo and m['Message-ID'] == '<{}@client.test>'.format(token)
frm = email.message_from_bytes(legacy, policy=email.policy.compat32)['From']
decoded = ''.join(t.decode() if isinstance(t, bytes) else t for t, _ in email.header.decode_header(frm))
assert thai in decoded.replace(' @', '@') and decoded.rstrip().endswith(':;'), decoded
assert b'for <' + thai.encode() not in legacy
print('OK')
"#;
    let (sport, pport) = (s.smtp_port.to_string(), s.pop3_port.to_string());
    let out = python(
        script,
        &[
            &sport, &pport, THAI_USER, DEMO_USER, DEMO_PASS, &msg, &token,
        ],
        PY_TIMEOUT,
    );
    assert_py_ok(&out, "legacy view");
}

/// LANG with poplib: listing, switching to Thai and Chinese, errors in the chosen
/// language, back to English with `*`.
#[test]
fn poplib_lang_listing_and_switching() {
    require_tool!("python3");
    let s = Server::start_default();
    let script = r#"
import poplib, sys
p = poplib.POP3('127.0.0.1', int(sys.argv[1]), timeout=30)
assert 'LANG' in p.capa(), p.capa()
resp, langs, _ = p._longcmd('LANG')
assert [l.decode() for l in langs] == ['en English', 'th ไทย', 'zh 中文'], langs
assert p._shortcmd('LANG th').decode() == '+OK th จากนี้จะตอบเป็นภาษาไทย'
try:
    p._shortcmd('LANG fr'); raise SystemExit('unknown language accepted')
except poplib.error_proto as e:
    assert e.args[0].decode() == '-ERR ไม่มีภาษานี้', e
p.user(sys.argv[2])
assert p.pass_(sys.argv[3]).decode().startswith('+OK เข้าสู่ระบบแล้ว มี 0 ข้อความ'), 'login text'
assert p._shortcmd('LANG zh-Hans-CN').decode() == '+OK zh 此后以中文回复'
try:
    p.retr(1); raise SystemExit('RETR of nothing')
except poplib.error_proto as e:
    assert e.args[0].decode() == '-ERR 没有此邮件', e
assert p._shortcmd('LANG *').decode() == '+OK en Responses are now in English'
assert p.stat() == (0, 0)
p._shortcmd('LANG th')
assert p.quit().decode() == '+OK mx.example.test เซิร์ฟเวอร์ POP3 ลาก่อน (เหลือ 0 ข้อความ)'
print('OK')
"#;
    let port = s.pop3_port.to_string();
    let out = python(script, &[&port, DEMO_USER, DEMO_PASS], PY_TIMEOUT);
    assert_py_ok(&out, "poplib LANG");
}

/// curl sends SMTPUTF8 by itself for a UTF-8 recipient (it turns the domain into
/// an A-label); curl's POP3 has no UTF8, so it reads the downgraded form.
#[test]
fn curl_smtputf8_and_legacy_pop3() {
    require_tool!("curl");
    let s = intl_server();
    let token = token("curl");
    let msg = s.path("m.eml");
    write_file(&msg, utf8_message(THAI_USER, &token).as_bytes());
    for rcpt in [THAI_USER, DEMO_USER] {
        let mut c = Command::new("curl");
        c.args([
            "-sS",
            "--max-time",
            "30",
            "--url",
            &format!("smtp://127.0.0.1:{}", s.smtp_port),
            "--mail-from",
            THAI_USER,
            "--mail-rcpt",
            rcpt,
            "--upload-file",
        ])
        .arg(&msg);
        run_cmd(&mut c, None, PY_TIMEOUT).assert_ok(&format!("curl smtp to {rcpt}"));
    }
    let list = s.cli(&["user", "list"]);
    assert!(
        list.out()
            .lines()
            .any(|l| l.starts_with(THAI_USER) && l.contains("\t1 message")),
        "{}",
        list.describe()
    );
    let mut c = Command::new("curl");
    c.args([
        "-sS",
        "--max-time",
        "30",
        &format!(
            "pop3://demo%40example.test:demo-pass@127.0.0.1:{}/1",
            s.pop3_port
        ),
    ]);
    let out = run_cmd(&mut c, None, PY_TIMEOUT);
    out.assert_ok("curl pop3 RETR 1");
    let text = out.out();
    let (head, body) = text.split_once("\r\n\r\n").expect("header and body");
    assert!(head.is_ascii(), "{}", out.describe());
    assert!(
        head.contains("\r\nSubject: =?UTF-8?B?"),
        "{}",
        out.describe()
    );
    assert!(body.contains(&token), "{}", out.describe());
}

/// mpop has no UTF8: it fetches the downgraded form, and deleting it deletes the
/// message for UTF8 clients too.
#[test]
fn mpop_gets_the_downgraded_form() {
    require_tool!("mpop");
    require_tool!("python3");
    let s = intl_server();
    let token = token("mpop");
    let mut smtp = Command::new("python3");
    smtp.arg("-c")
        .arg(
            "import smtplib,sys\nc=smtplib.SMTP('127.0.0.1',int(sys.argv[1]),timeout=30)\nc.sendmail(sys.argv[2],[sys.argv[3]],sys.argv[4].encode(),mail_options=['SMTPUTF8'])\nc.quit()\nprint('OK')",
        )
        .args([
            &s.smtp_port.to_string(),
            THAI_USER,
            DEMO_USER,
            &utf8_message(DEMO_USER, &token),
        ]);
    assert_py_ok(&run_cmd(&mut smtp, None, PY_TIMEOUT), "send");
    let mbox = s.path("inbox.mbox");
    write_file(&mbox, b"");
    let rc = s.path("mpoprc");
    write_file(
        &rc,
        format!(
            "defaults\nuidls_file {uidls}\n\naccount default\nhost 127.0.0.1\nport {port}\ntls off\nauth user\nuser {DEMO_USER}\npassword {DEMO_PASS}\ndelivery mbox {mbox}\nkeep off\ntimeout 30\n",
            uidls = s.path("mpop_uidls").display(),
            port = s.pop3_port,
            mbox = mbox.display()
        )
        .as_bytes(),
    );
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let mut c = Command::new("mpop");
    c.arg("-C").arg(&rc).arg("-q").env("HOME", s.dir.path());
    run_cmd(&mut c, None, PY_TIMEOUT).assert_ok("mpop");
    let got = std::fs::read(&mbox).unwrap();
    let text = String::from_utf8_lossy(&got);
    let head = text.split("\n\n").next().unwrap_or_default();
    assert!(head.is_ascii(), "mpop saw a UTF-8 header:\n{text}");
    assert!(head.contains("Subject: =?UTF-8?B?"), "{text}");
    assert!(text.contains(&token), "{text}");
    // Deleted through the legacy view: gone for UTF8 clients too.
    let mut p = s.pop3_login(DEMO_USER, DEMO_PASS);
    assert_eq!(p.stat().0, 0);
}
