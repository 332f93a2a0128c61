//! TLS (STARTTLS, STLS, implicit TLS) and authentication (SMTP AUTH, POP3
//! AUTH) driven by clients nobody here wrote: swaks, curl, python smtplib
//! and poplib, mpop, the `scramp` SCRAM implementation, and raw sockets
//! (through python's ssl) for the byte-level rules.

mod common;

use common::*;
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

/// submission, submissions and pop3s enabled; demo plus alice.
fn tls_server() -> Server {
    let s = Server::start_extra(ServerOpts::default(), ExtraConfig::tls());
    s.add_user("alice@example.test", "alice-pass", &[]);
    s
}

fn messages_with(msgs: &[Vec<u8>], tok: &str) -> Vec<Vec<u8>> {
    msgs.iter()
        .filter(|m| contains(m, tok.as_bytes()))
        .cloned()
        .collect()
}

/// The first Received header (unfolded) of a message.
fn received(msg: &[u8]) -> String {
    let text = String::from_utf8_lossy(msg);
    let start = text
        .find("Received:")
        .unwrap_or_else(|| panic!("no Received header:\n{text}"));
    let mut out = String::new();
    for (i, line) in text[start..].split("\r\n").enumerate() {
        if i > 0 && !line.starts_with([' ', '\t']) {
            break;
        }
        out.push_str(line.trim());
        out.push(' ');
    }
    out
}

/// Exactly one message in `msgs` holds `tok`; it is returned.
#[track_caller]
fn one_with(msgs: &[Vec<u8>], tok: &str) -> Vec<u8> {
    let m = messages_with(msgs, tok);
    assert_eq!(m.len(), 1, "messages holding {tok}: {}", m.len());
    m.into_iter().next().unwrap()
}

fn swaks(s: &Server, port: u16, args: &[&str], tok: &str) -> CmdOutput {
    let mut c = Command::new("swaks");
    c.args(["--server", "127.0.0.1", "--port", &port.to_string()])
        .args(["--helo", "client.test", "--timeout", "30"])
        .args(["--from", DEMO_USER, "--to", DEMO_USER])
        .args(["--header", &format!("Subject: {tok}")])
        .args(["--body", &format!("body of {tok}")])
        .args(args)
        .env("HOME", s.dir.path());
    run_cmd(&mut c, None, T)
}

#[test]
fn swaks_starttls_with_auth_plain_and_login_on_submission() {
    require_tool!("swaks");
    let s = tls_server();
    let mut toks = Vec::new();
    for mech in ["PLAIN", "LOGIN"] {
        let tok = token(&format!("swaks-{mech}"));
        let out = swaks(
            &s,
            s.submission_port,
            &[
                "--tls",
                "--auth",
                mech,
                "--auth-user",
                DEMO_USER,
                "--auth-password",
                DEMO_PASS,
            ],
            &tok,
        );
        out.assert_ok(&format!("swaks --tls --auth {mech}"));
        let text = out.out();
        assert!(
            text.contains("TLS started") && text.contains(&format!("AUTH {mech}")),
            "swaks did not do STARTTLS + AUTH {mech}:\n{text}"
        );
        assert!(text.contains("235 "), "no 235 for AUTH {mech}:\n{text}");
        toks.push(tok);
    }
    let msgs = s.fetch_all(DEMO_USER, DEMO_PASS);
    for tok in &toks {
        let m = one_with(&msgs, tok);
        let r = received(&m);
        assert!(r.contains("with ESMTPSA"), "Received: {r}");
    }
    // A wrong password is refused by the same client path (the test can fail).
    let out = swaks(
        &s,
        s.submission_port,
        &[
            "--tls",
            "--auth",
            "PLAIN",
            "--auth-user",
            DEMO_USER,
            "--auth-password",
            "wrong",
        ],
        "never",
    );
    assert!(
        !out.status.success(),
        "wrong password accepted: {}",
        out.describe()
    );
    assert!(out.out().contains("535 5.7.8"), "{}", out.describe());
}

#[test]
fn swaks_implicit_tls_on_submissions() {
    require_tool!("swaks");
    let s = tls_server();
    let tok = token("swaks-tlsc");
    let out = swaks(
        &s,
        s.submissions_port,
        &[
            "--tlsc",
            "--auth",
            "PLAIN",
            "--auth-user",
            DEMO_USER,
            "--auth-password",
            DEMO_PASS,
        ],
        &tok,
    );
    out.assert_ok("swaks --tlsc");
    assert!(out.out().contains("TLS started"), "{}", out.describe());
    let m = one_with(&s.fetch_all(DEMO_USER, DEMO_PASS), &tok);
    assert!(received(&m).contains("with ESMTPSA"), "{}", received(&m));
}

fn curl_send(s: &Server, url: &str, extra: &[&str], tok: &str) -> CmdOutput {
    let msg = s.path(&format!("{tok}.eml"));
    write_file(
        &msg,
        &simple_message(DEMO_USER, DEMO_USER, tok, "curl body"),
    );
    let mut c = Command::new("curl");
    c.args(["-sS", "-k", "--max-time", "30", "--url", url])
        .args(["--mail-from", DEMO_USER, "--mail-rcpt", DEMO_USER])
        .args(["-u", &format!("{DEMO_USER}:{DEMO_PASS}")])
        .arg("--upload-file")
        .arg(&msg)
        .args(extra);
    run_cmd(&mut c, None, T)
}

#[test]
fn curl_smtps_and_smtp_ssl_reqd() {
    require_tool!("curl");
    let s = tls_server();
    let t1 = token("curl-smtps");
    curl_send(
        &s,
        &format!("smtps://127.0.0.1:{}", s.submissions_port),
        &[],
        &t1,
    )
    .assert_ok("curl smtps://");
    let t2 = token("curl-starttls");
    curl_send(
        &s,
        &format!("smtp://127.0.0.1:{}", s.submission_port),
        &["--ssl-reqd", "--login-options", "AUTH=LOGIN"],
        &t2,
    )
    .assert_ok("curl smtp:// --ssl-reqd");
    let msgs = s.fetch_all(DEMO_USER, DEMO_PASS);
    for t in [&t1, &t2] {
        let m = one_with(&msgs, t);
        assert!(received(&m).contains("with ESMTPSA"), "{}", received(&m));
    }
    // Without credentials the submission listener refuses (530).
    let mut c = Command::new("curl");
    let msg = s.path("noauth.eml");
    write_file(&msg, &simple_message(DEMO_USER, DEMO_USER, "x", "x"));
    c.args(["-sS", "-k", "--max-time", "30"])
        .arg("--url")
        .arg(format!("smtps://127.0.0.1:{}", s.submissions_port))
        .args(["--mail-from", DEMO_USER, "--mail-rcpt", DEMO_USER])
        .arg("--upload-file")
        .arg(&msg);
    let out = run_cmd(&mut c, None, T);
    assert!(
        !out.status.success(),
        "sent without AUTH: {}",
        out.describe()
    );
    assert!(out.err().contains("530"), "{}", out.describe());
}

#[test]
fn curl_pop3s_and_pop3_ssl_reqd() {
    require_tool!("curl");
    let s = tls_server();
    let tok = token("curl-pop3");
    s.deliver(
        "sender@remote.test",
        &[DEMO_USER],
        &simple_message("sender@remote.test", DEMO_USER, &tok, "fetched over TLS"),
    );
    for (url, extra) in [
        (format!("pop3s://127.0.0.1:{}/1", s.pop3s_port), vec![]),
        (
            format!("pop3://127.0.0.1:{}/1", s.pop3_port),
            vec!["--ssl-reqd"],
        ),
    ] {
        let mut c = Command::new("curl");
        c.args(["-sS", "-k", "--max-time", "30", "--url", &url])
            .args(["-u", &format!("{DEMO_USER}:{DEMO_PASS}")])
            .args(&extra);
        let out = run_cmd(&mut c, None, T);
        out.assert_ok(&format!("curl {url}"));
        assert!(
            out.out().contains(&tok) && out.out().contains("fetched over TLS"),
            "{url}: {}",
            out.describe()
        );
        // Wrong password: curl fails.
        let mut c = Command::new("curl");
        c.args(["-sS", "-k", "--max-time", "30", "--url", &url])
            .args(["-u", &format!("{DEMO_USER}:wrong")])
            .args(&extra);
        let out = run_cmd(&mut c, None, T);
        assert!(
            !out.status.success(),
            "{url} wrong password: {}",
            out.describe()
        );
    }
}

#[test]
fn smtplib_smtp_ssl_and_starttls_login() {
    require_tool!("python3");
    let s = tls_server();
    let script = r#"
import smtplib, ssl, sys
sub, subs, tok = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ctx = ssl._create_unverified_context()
def msg(t):
    return 'From: <demo@example.test>\r\nTo: <demo@example.test>\r\nSubject: %s\r\n\r\nbody\r\n' % t
with smtplib.SMTP_SSL('127.0.0.1', subs, context=ctx, timeout=30) as c:
    c.ehlo('client.test')
    assert not c.has_extn('starttls'), c.esmtp_features
    assert set(c.esmtp_features['auth'].split()) == {'PLAIN', 'LOGIN', 'SCRAM-SHA-256'}, c.esmtp_features
    try:
        c.login('demo@example.test', 'wrong')
        raise SystemExit('wrong password accepted')
    except smtplib.SMTPAuthenticationError as e:
        assert e.smtp_code == 535, e
    c.login('demo@example.test', 'demo-pass')
    assert c.sendmail('demo@example.test', ['demo@example.test'], msg(tok + '-ssl')) == {}
with smtplib.SMTP('127.0.0.1', sub, timeout=30) as c:
    c.ehlo('client.test')
    assert c.has_extn('starttls'), c.esmtp_features
    code, _ = c.starttls(context=ctx)
    assert code == 220, code
    c.ehlo('client.test')
    assert not c.has_extn('starttls'), c.esmtp_features
    c.user, c.password = 'demo@example.test', 'demo-pass'
    code, resp = c.auth('LOGIN', c.auth_login)
    assert code == 235, (code, resp)
    assert c.sendmail('demo@example.test', ['demo@example.test'], msg(tok + '-starttls')) == {}
print('OK')
"#;
    let tok = token("smtplib");
    let out = python(
        script,
        &[
            &s.submission_port.to_string(),
            &s.submissions_port.to_string(),
            &tok,
        ],
        T,
    );
    assert_py_ok(&out, "smtplib over TLS");
    let msgs = s.fetch_all(DEMO_USER, DEMO_PASS);
    for t in [format!("{tok}-ssl"), format!("{tok}-starttls")] {
        let m = one_with(&msgs, &t);
        assert!(received(&m).contains("with ESMTPSA"), "{}", received(&m));
    }
}

#[test]
fn poplib_pop3_ssl_and_stls() {
    require_tool!("python3");
    let s = tls_server();
    let tok = token("poplib");
    s.deliver(
        "sender@remote.test",
        &[DEMO_USER],
        &simple_message("sender@remote.test", DEMO_USER, &tok, "poplib body"),
    );
    let script = r#"
import poplib, ssl, sys
pop3, pop3s, tok = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ctx = ssl._create_unverified_context()
c = poplib.POP3_SSL('127.0.0.1', pop3s, context=ctx, timeout=30)
caps = c.capa()
assert 'STLS' not in caps, caps
assert 'USER' in caps, caps
assert set(caps['SASL']) == {'SCRAM-SHA-256', 'PLAIN', 'LOGIN'}, caps
try:
    c.user('demo@example.test'); c.pass_('wrong')
    raise SystemExit('wrong password accepted')
except poplib.error_proto as e:
    assert e.args[0].startswith(b'-ERR'), e
c.quit()
c = poplib.POP3_SSL('127.0.0.1', pop3s, context=ctx, timeout=30)
c.user('demo@example.test'); c.pass_('demo-pass')
n, _ = c.stat()
assert n == 1, n
assert tok.encode() in b'\n'.join(c.retr(1)[1])
c.quit()
c = poplib.POP3('127.0.0.1', pop3, timeout=30)
assert 'STLS' in c.capa()
r = c.stls(context=ctx)
assert r.startswith(b'+OK'), r
caps = c.capa()
assert 'STLS' not in caps, caps
assert 'USER' in caps, caps
c.user('demo@example.test'); c.pass_('demo-pass')
assert tok.encode() in b'\n'.join(c.retr(1)[1])
c.quit()
print('OK')
"#;
    let out = python(
        script,
        &[&s.pop3_port.to_string(), &s.pop3s_port.to_string(), &tok],
        T,
    );
    assert_py_ok(&out, "poplib over TLS");
}

#[test]
fn mpop_stls_with_scram_and_pop3s_with_plain() {
    require_tool!("mpop");
    let s = tls_server();
    let run = |name: &str, port: u16, starttls: &str, auth: &str, pass: &str| {
        let mbox = s.path(&format!("{name}.mbox"));
        write_file(&mbox, b"");
        let rc = s.path(&format!("{name}.mpoprc"));
        write_file(
            &rc,
            format!(
                "defaults\nuidls_file {uidls}\n\naccount default\nhost 127.0.0.1\nport {port}\n\
                 tls on\ntls_starttls {starttls}\ntls_certcheck off\nauth {auth}\n\
                 user {DEMO_USER}\npassword {pass}\ndelivery mbox {mbox}\nkeep off\ntimeout 30\n",
                uidls = s.path(&format!("{name}.uidls")).display(),
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
        (run_cmd(&mut c, None, T), mbox)
    };
    for (name, port, starttls, auth) in [
        ("stls", s.pop3_port, "on", "scram-sha-256"),
        ("pop3s", s.pop3s_port, "off", "plain"),
    ] {
        let tok = token(&format!("mpop-{name}"));
        s.deliver(
            "sender@remote.test",
            &[DEMO_USER],
            &simple_message("sender@remote.test", DEMO_USER, &tok, "mpop body"),
        );
        let (out, mbox) = run(name, port, starttls, auth, DEMO_PASS);
        out.assert_ok(&format!("mpop {name} ({auth})"));
        let got = std::fs::read(&mbox).unwrap();
        assert_eq!(
            count(&got, tok.as_bytes()),
            2,
            "mpop {name}: mbox lacks {tok}:\n{}",
            String::from_utf8_lossy(&got)
        );
        let mut p = s.pop3_login(DEMO_USER, DEMO_PASS);
        assert_eq!(
            p.stat().0,
            0,
            "mpop {name}: keep off must empty the mailbox"
        );
        p.quit();
        let (out, _) = run(&format!("{name}-bad"), port, starttls, auth, "wrong-pass");
        assert!(
            !out.status.success(),
            "mpop {name} with a wrong password succeeded: {}",
            out.describe()
        );
    }
}

#[test]
fn ehlo_and_capa_advertising_before_and_after_tls() {
    require_tool!("python3");
    let s = tls_server();
    let script = r#"
smtp, sub, subs, pop3, pop3s = [int(a) for a in sys.argv[1:6]]
def ehlo_kw(c):
    code, lines = c.cmd('EHLO client.test')
    assert code == 250, lines
    kw = {}
    for l in lines[1:]:
        parts = l[4:].split()
        kw[parts[0].upper()] = parts[1:]
    return kw
ALL = {'SCRAM-SHA-256', 'PLAIN', 'LOGIN'}
# MX: STARTTLS, no AUTH; after TLS neither.
c = Conn(smtp); assert c.reply()[0] == 220
kw = ehlo_kw(c)
assert 'STARTTLS' in kw and 'AUTH' not in kw, ('mx before', kw)
c.expect('STARTTLS', 220); c.upgrade()
assert c.s.version() in ('TLSv1.3', 'TLSv1.2'), c.s.version()
kw = ehlo_kw(c)
assert 'STARTTLS' not in kw and 'AUTH' not in kw, ('mx after', kw)
r = c.cmd('STARTTLS'); assert r[0] == 503, r
c.close()
# Submission: STARTTLS and AUTH (all three from loopback with allow_plaintext = true).
c = Conn(sub); assert c.reply()[0] == 220
kw = ehlo_kw(c)
assert 'STARTTLS' in kw and set(kw.get('AUTH', [])) == ALL, ('submission before', kw)
c.expect('STARTTLS', 220); c.upgrade()
kw = ehlo_kw(c)
assert 'STARTTLS' not in kw and set(kw.get('AUTH', [])) == ALL, ('submission after', kw)
c.close()
# Submissions: TLS from the start, AUTH, no STARTTLS.
c = Conn(subs, implicit_tls=True); assert c.reply()[0] == 220
kw = ehlo_kw(c)
assert 'STARTTLS' not in kw and set(kw.get('AUTH', [])) == ALL, ('submissions', kw)
c.close()
def capa(c):
    r = c.pcmd('CAPA'); assert r.startswith('+OK'), r
    caps = {}
    for l in c.multiline():
        parts = l.split()
        caps[parts[0].upper()] = parts[1:]
    return caps
c = Conn(pop3); assert c.line().startswith('+OK')
caps = capa(c)
assert 'STLS' in caps and 'USER' in caps and set(caps.get('SASL', [])) == ALL, ('pop3 before', caps)
r = c.pcmd('STLS'); assert r.startswith('+OK'), r
c.upgrade()
caps = capa(c)
assert 'STLS' not in caps and 'USER' in caps and set(caps.get('SASL', [])) == ALL, ('pop3 after', caps)
r = c.pcmd('STLS'); assert r.startswith('-ERR'), ('second STLS', r)
c.close()
c = Conn(pop3s, implicit_tls=True); assert c.line().startswith('+OK')
caps = capa(c)
assert 'STLS' not in caps and 'USER' in caps and set(caps.get('SASL', [])) == ALL, ('pop3s', caps)
c.close()
# TLS 1.2 works when the client caps it; 1.3 by default; no TLS 1.3 session tickets.
for port in (subs, pop3s):
    s12 = tls_ctx(max12=True).wrap_socket(socket.create_connection(('127.0.0.1', port), timeout=30))
    assert s12.version() == 'TLSv1.2', s12.version()
    s12.close()
c = Conn(subs, implicit_tls=True)
assert c.s.version() == 'TLSv1.3', c.s.version()
c.reply(); ehlo_kw(c)
assert c.s.session is None or not c.s.session.has_ticket, 'server sent a TLS 1.3 session ticket'
c.close()
print('OK')
"#;
    let ports = [
        s.smtp_port,
        s.submission_port,
        s.submissions_port,
        s.pop3_port,
        s.pop3s_port,
    ]
    .map(|p| p.to_string());
    let args: Vec<&str> = ports.iter().map(String::as_str).collect();
    assert_py_ok(&python_tls(script, &args, T), "advertising");
}

#[test]
fn tls_1_1_and_older_are_refused() {
    require_tool!("openssl");
    let s = tls_server();
    // Our side offers only TLS 1.1 (security level 0 so OpenSSL may try it).
    let mut c = Command::new("openssl");
    c.args(["s_client", "-connect"])
        .arg(format!("127.0.0.1:{}", s.submissions_port))
        .args(["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"]);
    let out = run_cmd(&mut c, Some(b"QUIT\r\n"), T);
    assert!(
        !out.out().contains("220 mx.example.test"),
        "a TLS 1.1 session reached the SMTP greeting: {}",
        out.describe()
    );
    // The refusal must come from the server (an alert), not from our side
    // declining to offer TLS 1.1.
    assert!(
        format!("{}{}", out.out(), out.err()).contains("alert"),
        "no alert from the server: {}",
        out.describe()
    );
    // And the same tool does get through with TLS 1.2 (the check can fail).
    let mut c = Command::new("openssl");
    c.args(["s_client", "-connect"])
        .arg(format!("127.0.0.1:{}", s.submissions_port))
        .args(["-tls1_2", "-quiet"]);
    let out = run_cmd(&mut c, Some(b"QUIT\r\n"), T);
    assert!(
        out.out().contains("220 mx.example.test"),
        "TLS 1.2 session failed: {}",
        out.describe()
    );
}

#[test]
fn auth_not_offered_on_mx_unless_auth_on_mx() {
    let s = tls_server();
    let mut c = s.smtp();
    let e = c.ehlo("client.test");
    assert!(
        !e.text().to_uppercase().contains("AUTH"),
        "MX offers AUTH by default: {e}"
    );
    let r = c
        .cmd(&format!("AUTH PLAIN {}", plain_b64(DEMO_USER, DEMO_PASS)))
        .unwrap();
    assert!(r.code >= 500, "AUTH on the MX without auth_on_mx: {r}");
    // Not authenticated: a remote recipient is still relay-denied.
    c.expect("MAIL FROM:<demo@example.test>", 250);
    let r = c.cmd("RCPT TO:<someone@remote.test>").unwrap();
    assert_eq!(r.code, 550, "{r}");
    c.quit();
    drop(s);

    let s = Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tables: "[smtp]\nauth_on_mx = true\n".into(),
            ..ExtraConfig::tls()
        },
    );
    let mut c = s.smtp();
    let e = c.ehlo("client.test");
    assert!(
        e.lines.iter().any(|l| l[4..].starts_with("AUTH ")),
        "auth_on_mx = true but no AUTH: {e}"
    );
    // MAIL without AUTH is still fine on the MX (mail for hosted domains).
    c.expect("MAIL FROM:<x@remote.test>", 250);
    c.expect("RCPT TO:<demo@example.test>", 250);
    c.expect("RSET", 250);
    c.expect(
        &format!("AUTH PLAIN {}", plain_b64(DEMO_USER, DEMO_PASS)),
        235,
    );
    c.expect("MAIL FROM:<demo@example.test>", 250);
    let r = c.cmd("RCPT TO:<someone@remote.test>").unwrap();
    assert_eq!(r.code, 250, "authenticated relay on the MX: {r}");
    c.quit();
}

#[test]
fn mail_before_auth_is_530_on_submission_listeners() {
    require_tool!("python3");
    let s = tls_server();
    let mut c = s.submission();
    c.ehlo("client.test");
    let r = c.cmd("MAIL FROM:<demo@example.test>").unwrap();
    assert_eq!(r.code, 530, "{r}");
    assert!(r.text().contains("5.7.0"), "{r}");
    let r = c.cmd("RCPT TO:<demo@example.test>").unwrap();
    assert!(r.code >= 500, "RCPT without MAIL/AUTH: {r}");
    // A failed AUTH leaves the session unauthenticated.
    let r = c
        .cmd(&format!("AUTH PLAIN {}", plain_b64(DEMO_USER, "wrong")))
        .unwrap();
    assert_eq!(r.code, 535, "{r}");
    assert!(r.text().contains("5.7.8"), "{r}");
    let r = c.cmd("MAIL FROM:<demo@example.test>").unwrap();
    assert_eq!(r.code, 530, "after a failed AUTH: {r}");
    c.expect(
        &format!("AUTH PLAIN {}", plain_b64(DEMO_USER, DEMO_PASS)),
        235,
    );
    // A second AUTH in the same session is refused (RFC 4954 section 4).
    let r = c
        .cmd(&format!("AUTH PLAIN {}", plain_b64(DEMO_USER, DEMO_PASS)))
        .unwrap();
    assert_eq!(r.code, 503, "second AUTH: {r}");
    c.expect("MAIL FROM:<demo@example.test>", 250);
    c.quit();
    // The same after STARTTLS and on the implicit-TLS listener.
    let script = r#"
sub, subs = int(sys.argv[1]), int(sys.argv[2])
c = Conn(sub); c.reply(); c.expect('EHLO client.test', 250); c.expect('STARTTLS', 220); c.upgrade()
c.expect('EHLO client.test', 250)
r = c.cmd('MAIL FROM:<demo@example.test>'); assert r[0] == 530 and '5.7.0' in r[1][0], r
c = Conn(subs, implicit_tls=True); c.reply(); c.expect('EHLO client.test', 250)
r = c.cmd('MAIL FROM:<demo@example.test>'); assert r[0] == 530 and '5.7.0' in r[1][0], r
c.expect('AUTH PLAIN ' + b64('\0demo@example.test\0demo-pass'), 235)
c.expect('MAIL FROM:<demo@example.test>', 250)
print('OK')
"#;
    let out = python_tls(
        script,
        &[
            &s.submission_port.to_string(),
            &s.submissions_port.to_string(),
        ],
        T,
    );
    assert_py_ok(&out, "530 over TLS");
}

#[test]
fn no_plaintext_mechanisms_before_tls_when_allow_plaintext_false() {
    require_tool!("python3");
    let s = Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            pop3_allow_plaintext: "false".into(),
            ..ExtraConfig::tls()
        },
    );
    let script = r#"
sub, pop3 = int(sys.argv[1]), int(sys.argv[2])
ALL = {'SCRAM-SHA-256', 'PLAIN', 'LOGIN'}
def auth_mechs(lines):
    for l in lines[1:]:
        if l[4:].upper().startswith('AUTH '):
            return set(l[4:].split()[1:])
    return set()
c = Conn(sub); c.reply()
code, lines = c.cmd('EHLO client.test')
# Issue 11 point 10: no mechanism at all before TLS, not even SCRAM (its
# exchange exposes a verifier to offline guessing, and the mail follows).
assert auth_mechs(lines) == set(), ('before TLS', lines)
r = c.cmd('AUTH SCRAM-SHA-256 ' + b64('n,,n=demo@example.test,r=abcdefghijklmnop'))
assert r[0] == 538 and '5.7.11' in r[1][0], ('AUTH SCRAM before TLS', r)
r = c.cmd('AUTH PLAIN ' + b64('\0demo@example.test\0demo-pass'))
assert r[0] == 538 and '5.7.11' in r[1][0], ('AUTH PLAIN before TLS', r)
r = c.cmd('AUTH LOGIN')
assert r[0] == 538, ('AUTH LOGIN before TLS', r)
r = c.cmd('MAIL FROM:<demo@example.test>'); assert r[0] == 530, r
c.expect('STARTTLS', 220); c.upgrade()
code, lines = c.cmd('EHLO client.test')
assert auth_mechs(lines) == ALL, ('after TLS', lines)
c.expect('AUTH PLAIN ' + b64('\0demo@example.test\0demo-pass'), 235)
c.expect('MAIL FROM:<demo@example.test>', 250)
c.close()
def capa(c):
    r = c.pcmd('CAPA'); assert r.startswith('+OK'), r
    return {l.split()[0].upper(): l.split()[1:] for l in c.multiline()}
c = Conn(pop3); c.line()
caps = capa(c)
assert 'USER' not in caps and 'SASL' not in caps and 'STLS' in caps, caps
r = c.pcmd('USER demo@example.test'); assert r.startswith('-ERR [AUTH]'), ('USER before TLS', r)
r = c.pcmd('AUTH SCRAM-SHA-256 ' + b64('n,,n=demo@example.test,r=abcdefghijklmnop'))
assert r.startswith('-ERR'), ('AUTH SCRAM before TLS', r)
r = c.pcmd('AUTH PLAIN ' + b64('\0demo@example.test\0demo-pass')); assert r.startswith('-ERR'), ('AUTH PLAIN before TLS', r)
r = c.pcmd('STLS'); assert r.startswith('+OK'), r
c.upgrade()
caps = capa(c)
assert 'USER' in caps and set(caps.get('SASL', [])) == ALL, caps
c.pok('USER demo@example.test'); c.pok('PASS demo-pass'); c.pok('STAT')
print('OK')
"#;
    let out = python_tls(
        script,
        &[&s.submission_port.to_string(), &s.pop3_port.to_string()],
        T,
    );
    assert_py_ok(&out, "allow_plaintext = false");
}

/// The configuration documents `allow_plaintext` as covering "USER/PASS and
/// APOP without TLS"; with `false`, APOP before STLS must be refused too.
#[test]
fn apop_refused_before_tls_when_allow_plaintext_false() {
    require_tool!("python3");
    let s = Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            pop3_allow_plaintext: "false".into(),
            ..ExtraConfig::tls()
        },
    );
    let script = r#"
import hashlib, re
pop3 = int(sys.argv[1])
c = Conn(pop3); g = c.line()
m = re.search(r'<[^>]*>', g)
if m:
    d = hashlib.md5((m.group(0) + 'demo-pass').encode()).hexdigest()
    r = c.pcmd('APOP demo@example.test ' + d)
    assert r.startswith('-ERR'), ('APOP (correct digest) accepted before TLS with allow_plaintext = false', r)
    r = c.pcmd('STAT'); assert r.startswith('-ERR'), r
    # Over TLS the same login works (the check can pass).
    r = c.pcmd('STLS'); assert r.startswith('+OK'), r
    c.upgrade()
    d = hashlib.md5((m.group(0) + 'demo-pass').encode()).hexdigest()
    c.pok('APOP demo@example.test ' + d)
    c.pok('STAT')
print('OK')
"#;
    let out = python_tls(script, &[&s.pop3_port.to_string()], T);
    assert_py_ok(&out, "APOP before TLS");
}

#[test]
fn sender_policy_owned_and_any() {
    let s = tls_server();
    s.add_user("bob@example.test", "bob-pass", &[]);
    s.cli(&["alias", "add", "me@example.test", DEMO_USER])
        .assert_ok("alias me");
    s.cli(&[
        "alias",
        "add",
        "team@example.test",
        "alice@example.test",
        "bob@example.test",
    ])
    .assert_ok("alias team");
    s.cli(&[
        "alias",
        "add",
        "all@example.test",
        DEMO_USER,
        "alice@example.test",
    ])
    .assert_ok("alias all");
    let mut c = s.submission();
    c.ehlo("client.test");
    c.expect(
        &format!("AUTH PLAIN {}", plain_b64(DEMO_USER, DEMO_PASS)),
        235,
    );
    let cases: &[(&str, u16)] = &[
        ("alice@example.test", 553),
        ("team@example.test", 553),
        ("nobody@example.test", 553),
        ("demo@remote.test", 553),
        ("demo@[127.0.0.1]", 553),
        ("demo@example.test", 250),
        ("DEMO@Example.Test", 250),
        ("me@example.test", 250),
        ("all@example.test", 250),
        ("", 250),
    ];
    for (from, want) in cases {
        let r = c.cmd(&format!("MAIL FROM:<{from}>")).unwrap();
        assert_eq!(r.code, *want, "MAIL FROM:<{from}> -> {r}");
        if *want == 553 {
            assert!(r.text().contains("5.7.1"), "{r}");
        }
        c.expect("RSET", 250);
    }
    // The alias really sends.
    let tok = token("alias-sender");
    c.send_mail(
        "me@example.test",
        &["alice@example.test"],
        &simple_message("me@example.test", "alice@example.test", &tok, "x"),
    )
    .unwrap_or_else(|e| panic!("send as alias: {e}"));
    c.quit();
    one_with(&s.fetch_all("alice@example.test", "alice-pass"), &tok);
    drop(s);

    let s = Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tables: "[submission]\nsender_policy = \"any\"\n".into(),
            ..ExtraConfig::tls()
        },
    );
    let mut c = s.submission();
    c.ehlo("client.test");
    c.expect(
        &format!("AUTH PLAIN {}", plain_b64(DEMO_USER, DEMO_PASS)),
        235,
    );
    c.expect("MAIL FROM:<alice@example.test>", 250);
    c.expect("RSET", 250);
    c.expect("MAIL FROM:<ceo@remote.test>", 250);
    c.quit();
}

/// Issue 11 point 1: the header's From:/Sender: check reads every field,
/// not only the last one a parser keeps; a header with two From: or two
/// Sender: fields is refused, and each address in them must be the user's.
#[test]
fn several_from_or_sender_fields_are_refused_on_submission() {
    require_tool!("python3");
    let s = tls_server();
    s.cli(&["alias", "add", "me@example.test", DEMO_USER])
        .assert_ok("alias me");
    let script = r#"
import smtplib, sys
sub, tok = int(sys.argv[1]), sys.argv[2]
cases = [
    ('forged-first', 'From: "The Boss" <boss@other.test>\r\nFrom: demo@example.test\r\n', 550),
    ('own-then-forged', 'From: demo@example.test\r\nFrom: boss@other.test\r\n', 550),
    ('obsolete-spacing', 'From: demo@example.test\r\nfrom : boss@other.test\r\n', 550),
    ('two-own', 'From: demo@example.test\r\nFrom: me@example.test\r\n', 550),
    ('list-with-forged', 'From: demo@example.test, "Boss" <boss@other.test>\r\n', 553),
    ('forged-sender', 'From: demo@example.test\r\nSender: boss@other.test\r\n', 553),
    ('two-senders', 'From: demo@example.test\r\nSender: demo@example.test\r\nSender: me@example.test\r\n', 550),
    ('own-list', 'From: demo@example.test, me@example.test\r\nSender: demo@example.test\r\n', 250),
    ('own-alias', 'From: "Me" <me@example.test>\r\n', 250),
]
with smtplib.SMTP('127.0.0.1', sub, timeout=30) as c:
    c.ehlo('client.test')
    c.login('demo@example.test', 'demo-pass')
    for name, head, want in cases:
        msg = head + 'To: <demo@example.test>\r\nSubject: %s-%s\r\n\r\nbody\r\n' % (tok, name)
        try:
            refused = c.sendmail('demo@example.test', ['demo@example.test'], msg)
            code = 250
            assert refused == {}, refused
        except smtplib.SMTPDataError as e:
            code = e.smtp_code
            if want == 550:
                assert b'5.6.0' in e.smtp_error and b'one' in e.smtp_error, e
            else:
                assert b'5.7.1' in e.smtp_error, e
        assert code == want, (name, code, want)
        c.rset()
print('OK')
"#;
    let tok = token("from-fields");
    let out = python(script, &[&s.submission_port.to_string(), &tok], T);
    assert_py_ok(&out, "From:/Sender: fields");
    let msgs = s.fetch_all(DEMO_USER, DEMO_PASS);
    let subjects: Vec<String> = msgs
        .iter()
        .filter_map(|m| {
            let text = String::from_utf8_lossy(m);
            text.lines()
                .find_map(|l| l.strip_prefix("Subject: ").map(str::to_string))
        })
        .filter(|sub| sub.starts_with(&tok))
        .collect();
    let mut subjects = subjects;
    subjects.sort();
    assert_eq!(
        subjects,
        vec![format!("{tok}-own-alias"), format!("{tok}-own-list")],
        "only the owned, single-field messages were stored"
    );
}

#[test]
fn received_header_names_the_protocol() {
    require_tool!("python3");
    let s = tls_server();
    let tok = token("proto");
    // ESMTPA: AUTH without TLS (loopback, plaintext allowed).
    let mut c = s.submission();
    c.ehlo("client.test");
    c.expect(
        &format!("AUTH PLAIN {}", plain_b64(DEMO_USER, DEMO_PASS)),
        235,
    );
    let t = format!("{tok}-A");
    c.send_mail(
        DEMO_USER,
        &[DEMO_USER],
        &simple_message(DEMO_USER, DEMO_USER, &t, "x"),
    )
    .unwrap();
    c.quit();
    // ESMTP: MX, neither.
    s.deliver(
        "x@remote.test",
        &[DEMO_USER],
        &simple_message("x@remote.test", DEMO_USER, &format!("{tok}-P"), "x"),
    );
    // ESMTPS (MX over STARTTLS) and ESMTPSA (submissions).
    let script = r#"
smtp, subs, tok = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def send(c, t):
    c.expect('MAIL FROM:<demo@example.test>', 250)
    c.expect('RCPT TO:<demo@example.test>', 250)
    c.expect('DATA', 354)
    c.send('From: <demo@example.test>\r\nSubject: %s\r\n\r\nx\r\n.\r\n' % t)
    assert c.reply()[0] == 250
c = Conn(smtp); c.reply(); c.expect('EHLO client.test', 250); c.expect('STARTTLS', 220); c.upgrade()
c.expect('EHLO client.test', 250)
send(c, tok + '-S')
c = Conn(subs, implicit_tls=True); c.reply(); c.expect('EHLO client.test', 250)
c.expect('AUTH PLAIN ' + b64('\0demo@example.test\0demo-pass'), 235)
send(c, tok + '-SA')
print('OK')
"#;
    let out = python_tls(
        script,
        &[
            &s.smtp_port.to_string(),
            &s.submissions_port.to_string(),
            &tok,
        ],
        T,
    );
    assert_py_ok(&out, "ESMTPS/ESMTPSA sends");
    let msgs = s.fetch_all(DEMO_USER, DEMO_PASS);
    for (suffix, with) in [
        ("-A", "with ESMTPA "),
        ("-P", "with ESMTP "),
        ("-S", "with ESMTPS "),
        ("-SA", "with ESMTPSA "),
    ] {
        let t = format!("{tok}{suffix}\r\n");
        let m = one_with(&msgs, &t);
        let r = received(&m);
        assert!(
            r.contains(with),
            "{suffix}: expected {with:?} in Received: {r}"
        );
    }
}

const SCRAMP_HINT: &str = "add `pip install scramp` to .ci/run";

#[test]
fn scram_sha_256_with_scramp_on_smtp_and_pop3() {
    require_tool!("python3");
    if !have_python_module("scramp", SCRAMP_HINT, module_path!()) {
        return;
    }
    let s = tls_server();
    let script = r#"
from scramp import ScramClient
sub, subs, pop3, pop3s = [int(a) for a in sys.argv[1:5]]
def dec(l, skip):
    return base64.b64decode(l[skip:]).decode()
def smtp_scram(c, user, pw):
    cl = ScramClient(['SCRAM-SHA-256'], user, pw)
    code, lines = c.cmd('AUTH SCRAM-SHA-256 ' + b64(cl.get_client_first()))
    assert code == 334, lines
    sfirst = dec(lines[0], 4)
    cl.set_server_first(sfirst)
    code, lines = c.cmd(b64(cl.get_client_final()))
    if code == 334:
        sfinal = dec(lines[0], 4)
        if sfinal.startswith('e='):
            code, lines = c.cmd('*')
            return code, lines, sfirst
        cl.set_server_final(sfinal)   # raises unless the server proved the key
        code, lines = c.cmd('')
    return code, lines, sfirst
def pop_scram(c, user, pw):
    cl = ScramClient(['SCRAM-SHA-256'], user, pw)
    r = c.pcmd('AUTH SCRAM-SHA-256 ' + b64(cl.get_client_first()))
    assert r.startswith('+ '), r
    cl.set_server_first(dec(r, 2))
    r = c.pcmd(b64(cl.get_client_final()))
    if r.startswith('+ '):
        sfinal = dec(r, 2)
        if sfinal.startswith('e='):
            return c.pcmd('*')
        cl.set_server_final(sfinal)
        r = c.pcmd('')
    return r
# SMTP under STARTTLS, over plaintext submission (SCRAM never sends the
# password), and on submissions; then a message goes through.
for mode in ('starttls', 'plain', 'implicit'):
    c = Conn(subs if mode == 'implicit' else sub, implicit_tls=(mode == 'implicit')); c.reply()
    c.expect('EHLO client.test', 250)
    if mode == 'starttls':
        c.expect('STARTTLS', 220); c.upgrade(); c.expect('EHLO client.test', 250)
    code, lines, _ = smtp_scram(c, 'demo@example.test', 'demo-pass')
    assert code == 235, (mode, code, lines)
    c.expect('MAIL FROM:<demo@example.test>', 250)
    c.close()
# Wrong password and unknown user: 535 5.7.8 alike; the unknown user gets a
# server-first message of the same shape (no user enumeration).
c = Conn(subs, implicit_tls=True); c.reply(); c.expect('EHLO client.test', 250)
code, lines, real_first = smtp_scram(c, 'demo@example.test', 'wrong-pass')
assert code == 535 and '5.7.8' in lines[0], ('wrong password', code, lines)
wrong = lines
r = c.cmd('MAIL FROM:<demo@example.test>'); assert r[0] == 530, r
c.close()
c = Conn(subs, implicit_tls=True); c.reply(); c.expect('EHLO client.test', 250)
code, lines, fake_first = smtp_scram(c, 'nobody@example.test', 'wrong-pass')
assert code == 535 and lines == wrong, ('unknown user', code, lines, wrong)
def shape(first):
    f = dict(kv.split('=', 1) for kv in first.split(','))
    return (len(base64.b64decode(f['s'])), f['i'])
assert shape(real_first) == shape(fake_first), (real_first, fake_first)
c.close()
# POP3: over STLS and on pop3s.
for port, implicit in ((pop3, False), (pop3s, True)):
    c = Conn(port, implicit_tls=implicit); c.line()
    if not implicit:
        c.pok('STLS'); c.upgrade()
    r = pop_scram(c, 'demo@example.test', 'demo-pass')
    assert r.startswith('+OK'), (port, r)
    c.pok('STAT'); c.pok('QUIT')
c = Conn(pop3s, implicit_tls=True); c.line()
r = pop_scram(c, 'demo@example.test', 'wrong-pass')
assert r.startswith('-ERR'), ('pop3 wrong password', r)
r = c.pcmd('STAT'); assert r.startswith('-ERR'), ('STAT after failed SCRAM', r)
print('OK')
"#;
    let ports = [
        s.submission_port,
        s.submissions_port,
        s.pop3_port,
        s.pop3s_port,
    ]
    .map(|p| p.to_string());
    let args: Vec<&str> = ports.iter().map(String::as_str).collect();
    assert_py_ok(&python_tls(script, &args, T), "SCRAM-SHA-256 with scramp");
}

#[test]
fn starttls_discards_pipelined_plaintext() {
    require_tool!("python3");
    let s = tls_server();
    let script = r#"
smtp, sub = int(sys.argv[1]), int(sys.argv[2])
creds = b64('\0demo@example.test\0demo-pass')
# CVE-2011-0411: commands sent in the same packet as STARTTLS must not be
# executed after the handshake.
cases = [
    (smtp, 'STARTTLS\r\nRSET\r\n'),
    (smtp, 'STARTTLS\r\nMAIL FROM:<x@remote.test>\r\n'),
    (smtp, 'STARTTLS\r\nEHLO evil\r\nMAIL FROM:<x@remote.test>\r\nRCPT TO:<demo@example.test>\r\n'),
    (sub, 'STARTTLS\r\nEHLO evil\r\nAUTH PLAIN ' + creds + '\r\n'),
]
for port, inject in cases:
    c = Conn(port); assert c.reply()[0] == 220
    c.expect('EHLO client.test', 250)
    c.send(inject)
    r = c.reply(); assert r[0] == 220, (inject, r)
    c.upgrade()
    assert c.quiet(0.7), ('server answered injected commands after the handshake', inject, c.buf)
    # The session was reset: MAIL before EHLO is a bad sequence.
    r = c.cmd('MAIL FROM:<x@remote.test>')
    assert r[0] == 503, ('MAIL right after STARTTLS (injected EHLO/AUTH must be gone)', inject, r)
    code, lines = c.cmd('EHLO client.test')
    assert code == 250 and lines[0].startswith('250-mx.example.test'), (inject, lines)
    if port == sub:
        r = c.cmd('MAIL FROM:<demo@example.test>')
        assert r[0] == 530, ('injected AUTH survived the handshake', r)
    r = c.cmd('QUIT'); assert r[0] == 221, r
    c.close()
print('OK')
"#;
    let out = python_tls(
        script,
        &[&s.smtp_port.to_string(), &s.submission_port.to_string()],
        T,
    );
    assert_py_ok(&out, "STARTTLS injection");
}

#[test]
fn stls_discards_pipelined_plaintext() {
    require_tool!("python3");
    let s = tls_server();
    let script = r#"
pop3 = int(sys.argv[1])
for inject in ('STLS\r\nUSER demo@example.test\r\n',
               'STLS\r\nUSER demo@example.test\r\nPASS demo-pass\r\n',
               'STLS\r\nCAPA\r\n'):
    c = Conn(pop3); assert c.line().startswith('+OK')
    c.send(inject)
    r = c.line(); assert r.startswith('+OK Begin TLS'), (inject, r)
    c.upgrade()
    assert c.quiet(0.7), ('server answered injected commands after STLS', inject, c.buf)
    # The injected USER (and PASS) are gone: PASS now has no USER.
    r = c.pcmd('PASS demo-pass'); assert r.startswith('-ERR'), ('injected USER survived', inject, r)
    r = c.pcmd('STAT'); assert r.startswith('-ERR'), ('logged in by injected commands', inject, r)
    c.pok('USER demo@example.test'); c.pok('PASS demo-pass'); c.pok('STAT'); c.pok('QUIT')
    c.close()
print('OK')
"#;
    let out = python_tls(script, &[&s.pop3_port.to_string()], T);
    assert_py_ok(&out, "STLS injection");
}

fn openssl(args: &[&str], dir: &std::path::Path) -> CmdOutput {
    let mut c = Command::new("openssl");
    c.args(args).current_dir(dir);
    run_cmd(&mut c, None, T)
}

#[test]
fn self_signed_certificate_is_made_for_the_hostname_and_reused() {
    require_tool!("openssl");
    require_tool!("python3");
    let mut s = tls_server();
    let crt = s.data_dir.join("tls/self-signed.crt");
    let key = s.data_dir.join("tls/self-signed.key");
    let pem = std::fs::read(&crt).unwrap_or_else(|e| panic!("{}: {e}", crt.display()));
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key)
            .unwrap_or_else(|e| panic!("{}: {e}", key.display()))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "key mode {:o}", mode & 0o777);
    }
    let out = openssl(
        &[
            "x509",
            "-in",
            crt.to_str().unwrap(),
            "-noout",
            "-subject",
            "-ext",
            "subjectAltName",
        ],
        s.dir.path(),
    );
    out.assert_ok("openssl x509");
    let text = out.out().replace(' ', "");
    assert!(
        text.contains("CN=mx.example.test"),
        "subject: {}",
        out.out()
    );
    assert!(text.contains("DNS:mx.example.test"), "SAN: {}", out.out());
    // A client that trusts exactly this file and checks the host name gets
    // through on every TLS path; one that trusts nothing does not.
    let script = r#"
smtp, subs, pop3s, crt = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
good = ssl.create_default_context(cafile=crt)
good.check_hostname = True
for port in (subs, pop3s):
    s = good.wrap_socket(socket.create_connection(('127.0.0.1', port), timeout=30), server_hostname='mx.example.test')
    s.recv(100); s.close()
c = Conn(smtp); c.reply(); c.expect('EHLO client.test', 250); c.expect('STARTTLS', 220)
c.upgrade(good)
c.expect('EHLO client.test', 250)
try:
    ssl.create_default_context().wrap_socket(socket.create_connection(('127.0.0.1', subs), timeout=30), server_hostname='mx.example.test')
    raise SystemExit('an unknown self-signed certificate verified against the system store')
except ssl.SSLCertVerificationError:
    pass
print('OK')
"#;
    let args = [
        s.smtp_port.to_string(),
        s.submissions_port.to_string(),
        s.pop3s_port.to_string(),
        crt.display().to_string(),
    ];
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_py_ok(&python_tls(script, &a, T), "verify against self-signed.crt");
    // Restart: the same certificate is used again, not a new one.
    s.stop_term();
    s.restart(false);
    assert_eq!(
        std::fs::read(&crt).unwrap(),
        pem,
        "certificate replaced on restart"
    );
    assert_py_ok(&python_tls(script, &a, T), "after restart");
}

#[test]
fn sighup_reloads_the_configured_certificate_and_open_sessions_keep_working() {
    require_tool!("openssl");
    require_tool!("python3");
    // The certificates live in their own directory, outside the server's.
    let certs = tempfile::Builder::new()
        .prefix("praisani-certs-")
        .tempdir()
        .expect("tempdir");
    let dir = certs.path().to_path_buf();
    for name in ["a", "b"] {
        openssl(
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-subj",
                "/CN=mx.example.test",
                "-days",
                "2",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.pem"),
            ],
            &dir,
        )
        .assert_ok("openssl req");
    }
    std::fs::copy(dir.join("a.pem"), dir.join("live.pem")).unwrap();
    std::fs::copy(dir.join("a.key"), dir.join("live.key")).unwrap();
    let s = Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tables: format!(
                "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
                dir.join("live.pem").display(),
                dir.join("live.key").display()
            ),
            ..ExtraConfig::tls()
        },
    );
    assert!(
        !s.data_dir.join("tls/self-signed.crt").exists(),
        "a self-signed certificate was made although [tls] is set"
    );
    let script = r#"
import hashlib, os, shutil, signal
subs, sub, pop3s, pid, d, log = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
def fp_file(p):
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(open(p).read())).hexdigest().upper()
A, B = fp_file(d + '/a.pem'), fp_file(d + '/b.pem')
assert A != B
def log_count(needle):
    return open(log, errors='replace').read().count(needle)
def wait_log(needle, n):
    for _ in range(400):
        if log_count(needle) >= n:
            return
        time.sleep(0.025)
    raise SystemExit('log never said %r:\n%s' % (needle, open(log).read()[-3000:]))
old = Conn(subs, implicit_tls=True); old.reply(); old.expect('EHLO client.test', 250)
assert old.fingerprint() == A, 'before reload'
old_pop = Conn(pop3s, implicit_tls=True); old_pop.line()
shutil.copy(d + '/b.key', d + '/live.key')
shutil.copy(d + '/b.pem', d + '/live.pem')
os.kill(pid, signal.SIGHUP)
wait_log('SIGHUP: TLS certificate reloaded', 1)
colon = ':'.join(B[i:i+2] for i in range(0, len(B), 2))
assert colon in open(log).read(), 'reload log line lacks the new fingerprint ' + colon
for port in (subs, pop3s):
    c = Conn(port, implicit_tls=True)
    assert c.fingerprint() == B, ('after reload', port)
    c.close()
c = Conn(sub); c.reply(); c.expect('EHLO client.test', 250); c.expect('STARTTLS', 220); c.upgrade()
assert c.fingerprint() == B, 'STARTTLS after reload'
c.close()
# The session opened before the reload goes on, on the old certificate.
assert old.fingerprint() == A
old.expect('AUTH PLAIN ' + b64('\0demo@example.test\0demo-pass'), 235)
old.expect('MAIL FROM:<demo@example.test>', 250)
old.expect('RCPT TO:<demo@example.test>', 250)
old.expect('DATA', 354)
old.send('From: <demo@example.test>\r\nSubject: across-reload\r\n\r\nstill here\r\n.\r\n')
r = old.reply(); assert r[0] == 250, r
old.expect('QUIT', 221)
old_pop.pok('USER demo@example.test'); old_pop.pok('PASS demo-pass')
n = int(old_pop.pok('STAT').split()[1]); assert n == 1, n
old_pop.pok('QUIT')
# A broken certificate file: the reload fails and the current one stays.
open(d + '/live.pem', 'w').write('not a certificate\n')
os.kill(pid, signal.SIGHUP)
wait_log('TLS reload failed', 1)
c = Conn(subs, implicit_tls=True); c.reply()
assert c.fingerprint() == B, 'a failed reload changed the certificate'
c.expect('EHLO client.test', 250)
print('OK')
"#;
    let args = [
        s.submissions_port.to_string(),
        s.submission_port.to_string(),
        s.pop3s_port.to_string(),
        s.pid().to_string(),
        dir.display().to_string(),
        s.stderr_path().display().to_string(),
    ];
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_py_ok(&python_tls(script, &a, T), "SIGHUP reload");
    one_with(&s.fetch_all(DEMO_USER, DEMO_PASS), "across-reload");
}
