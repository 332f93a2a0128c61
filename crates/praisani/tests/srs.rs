//! SRS bounces on the real binary: smtplib plays another server bouncing
//! forwarded mail (`MAIL FROM:<>`) to SRS addresses that Python computes
//! independently, the libsrs2 way, with the secret of `[srs] secret`.
//! Valid SRS0/SRS1 addresses are queued to the original sender (or land
//! in our own mailbox); forged, damaged and expired ones get 550 5.1.1; a
//! plain unknown address at the SRS domain gets what any unknown user does;
//! the SRS domain relays nothing else. With postsrsd installed, an address
//! it made with the same secret is reversed too.

mod common;

use common::*;
use serde_json::Value;
use std::time::Duration;

const PY: Duration = Duration::from_secs(60);
const SECRET: &str = "tEst-secret-0123456789";

/// The libsrs2 construction, written from its description: HMAC-SHA1 over
/// the lower-cased parts, base64, four characters; the day modulo 1024 in
/// two base-32 characters.
const SRS_PY: &str = r#"
import hmac, hashlib, base64, time
B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
def stamp(days_ago):
    d = (int(time.time()) // 86400 - days_ago) % 1024
    return B32[d >> 5] + B32[d & 31]
def h(secret, *parts):
    mac = hmac.new(secret.encode(), ''.join(parts).lower().encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()[:4]
def srs0(secret, user, host, alias, days_ago=0):
    t = stamp(days_ago)
    return 'SRS0=%s=%s=%s=%s@%s' % (h(secret, t, host, user), t, host, user, alias)
def srs1(secret, srs0_addr, alias):
    local, first = srs0_addr.rsplit('@', 1)
    rest = local[4:]
    return 'SRS1=%s=%s=%s@%s' % (h(secret, first, rest), first, rest, alias)
"#;

fn server() -> Server {
    // Mail for remote.test and first.test goes to a closed port and waits
    // an hour there, so the queue shows it.
    let closed = free_port();
    let s = Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tables: format!(
                "[delivery]\nretry = [\"1h\"]\nroutes = {{ \"remote.test\" = \"127.0.0.1:{closed}\", \"first.test\" = \"127.0.0.1:{closed}\" }}\n\
                 [srs]\ndomain = \"srs.test\"\nsecret = \"{SECRET}\"\n"
            ),
            ..ExtraConfig::default()
        },
    );
    s.add_domain("away.test");
    s
}

/// Each `(name, rcpt)` bounced by smtplib from another server with
/// `MAIL FROM:<>`: name → [code, text]. Accepted ones get a message.
fn bounce(s: &Server, rcpts: &[(&str, String)]) -> Value {
    let cases: Vec<Value> = rcpts
        .iter()
        .map(|(n, r)| serde_json::json!([n, r]))
        .collect();
    let out = python(
        r#"
import smtplib, sys, json
port, cases = int(sys.argv[1]), json.loads(sys.argv[2])
c = smtplib.SMTP('127.0.0.1', port, local_hostname='mx.remote.test', timeout=30)
c.ehlo()
res = {}
for name, rcpt in cases:
    c.mail('')
    code, text = c.rcpt(rcpt)
    res[name] = [code, text.decode()]
    if code == 250:
        msg = ('From: Mail Delivery System <MAILER-DAEMON@remote.test>\r\n'
               'To: <%s>\r\nSubject: Undelivered Mail Returned to Sender\r\n'
               'Message-ID: <%s@remote.test>\r\n\r\nThe forwarded message bounced.\r\n') % (rcpt, name)
        code, text = c.data(msg.encode())
        res[name + ' data'] = [code, text.decode()]
    else:
        c.rset()
c.quit()
print(json.dumps(res))
"#,
        &[&s.smtp_port.to_string(), &Value::Array(cases).to_string()],
        PY,
    );
    out.assert_ok("smtplib");
    serde_json::from_str(out.out().trim()).unwrap()
}

/// Addresses computed by `SRS_PY` code `expr` (one per line).
fn srs_addresses(exprs: &[&str]) -> Vec<String> {
    let script = format!(
        "{SRS_PY}\nimport sys\nS = sys.argv[1]\n{}\n",
        exprs
            .iter()
            .map(|e| format!("print({e})"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let out = python(&script, &[SECRET], PY);
    out.assert_ok("srs addresses");
    out.out().lines().map(str::to_string).collect()
}

/// The queue's (sender, recipient) pairs.
fn queued(s: &Server) -> Vec<(String, String)> {
    let out = s.cli(&["--json", "queue", "list"]);
    out.assert_ok("queue list");
    let v: Value = serde_json::from_str(out.out().trim()).unwrap();
    let mut pairs: Vec<(String, String)> = v
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| {
            let sender = e["sender"].as_str().unwrap().to_string();
            e["recipients"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |r| (sender.clone(), r["address"].as_str().unwrap().to_string()))
        })
        .collect();
    pairs.sort();
    pairs
}

fn code(res: &Value, name: &str) -> (u64, String) {
    let r = &res[name];
    (
        r[0].as_u64()
            .unwrap_or_else(|| panic!("{name} missing: {res}")),
        r[1].as_str().unwrap().to_string(),
    )
}

#[test]
fn bounces_to_srs_addresses() {
    let s = server();
    let a = srs_addresses(&[
        "srs0(S, 'alice', 'remote.test', 'srs.test')",
        // What a relay that upper-cases local parts would hand on.
        "srs0(S, 'carol', 'remote.test', 'srs.test').upper().replace('SRS.TEST', 'srs.test')",
        "srs1(S, srs0('their-secret', 'dave', 'remote.test', 'first.test'), 'srs.test')",
        "srs0(S, 'demo', 'example.test', 'srs.test')",
        "srs0('not-our-secret', 'mallory', 'remote.test', 'srs.test')",
        "srs0(S, 'erin', 'remote.test', 'srs.test', days_ago=30)",
        "srs0(S, 'frank', 'remote.test', 'srs.test', days_ago=21)",
        "srs0(S, 'alice', 'remote.test', 'srs.test').replace('=alice@', '=mallory@')",
        "'SRS0=abcd=zz@srs.test'",
    ]);
    let names = [
        "srs0", "upper", "srs1", "local", "forged", "expired", "last-day", "tampered", "damaged",
    ];
    let mut cases: Vec<(&str, String)> = names.iter().copied().zip(a.iter().cloned()).collect();
    cases.push(("unknown", "nobody@srs.test".into()));
    cases.push(("unknown-hosted", "nobody@away.test".into()));
    cases.push(("relay", "victim@remote.test".into()));
    cases.push(("postmaster", "postmaster@srs.test".into()));
    let res = bounce(&s, &cases);

    for ok in ["srs0", "upper", "srs1", "local", "last-day", "postmaster"] {
        assert_eq!(code(&res, ok).0, 250, "{ok}: {res}");
        assert_eq!(code(&res, &format!("{ok} data")).0, 250, "{ok}: {res}");
    }
    for bad in ["forged", "tampered", "damaged"] {
        let (c, text) = code(&res, bad);
        assert_eq!(c, 550, "{bad}: {res}");
        assert!(
            text.starts_with("5.1.1 Invalid SRS address"),
            "{bad}: {text}"
        );
    }
    let (c, text) = code(&res, "expired");
    assert_eq!(c, 550, "{res}");
    assert!(text.starts_with("5.1.1 Expired SRS address"), "{text}");
    // Nothing tells a plain address at the SRS domain from any unknown user.
    assert_eq!(code(&res, "unknown"), code(&res, "unknown-hosted"), "{res}");
    assert_eq!(code(&res, "unknown").0, 550);
    assert!(code(&res, "unknown").1.starts_with("5.1.1"), "{res}");
    assert_eq!(
        code(&res, "relay").0,
        550,
        "no relay for other servers: {res}"
    );

    // The bounces wait in the queue for the original senders, still
    // with the null sender; SRS1 goes back to the first forwarder.
    let first_srs0 = a[2].split_once("=first.test=").unwrap().1;
    let first_srs0 = format!(
        "SRS0{}@first.test",
        first_srs0.trim_end_matches("@srs.test")
    );
    let q = queued(&s);
    let want: Vec<(String, String)> = vec![
        (String::new(), "alice@remote.test".into()),
        (String::new(), "carol@remote.test".into()),
        (String::new(), "frank@remote.test".into()),
        (String::new(), first_srs0.to_lowercase()),
    ];
    let mut want = want;
    want.sort();
    assert_eq!(q, want, "{}", s.log());
    // Our own user's bounce is delivered here, as is postmaster's.
    let demo = s.fetch_all("demo@example.test", "demo-pass");
    let texts: Vec<String> = demo
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect();
    assert!(
        texts.iter().any(|t| t.contains("<local@remote.test>")),
        "demo's mailbox: {texts:?}"
    );
}

/// postsrsd (libsrs2's code) makes an address with our secret; we reverse
/// it. Needs the `postsrsd` package (Debian); skipped without it.
#[test]
fn postsrsd_addresses_reverse() {
    if !have_tool("postsrsd", "postsrsd_addresses_reverse") {
        return;
    }
    let s = server();
    let secret_file = s.path("postsrsd.secret");
    std::fs::write(&secret_file, SECRET).unwrap();
    let forward_port = free_port();
    let reverse_port = free_port();
    let mut child = std::process::Command::new("postsrsd")
        .args([
            "-d",
            "srs.test",
            "-s",
            secret_file.to_str().unwrap(),
            "-f",
            &forward_port.to_string(),
            "-r",
            &reverse_port.to_string(),
            "-l",
            "127.0.0.1",
            "-4",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("postsrsd");
    let asked = python(
        r#"
import socket, sys, time
port = int(sys.argv[1])
for _ in range(100):
    try:
        c = socket.create_connection(('127.0.0.1', port), timeout=5)
        break
    except OSError:
        time.sleep(0.1)
c.sendall(b'get gina@remote.test\n')
print(c.recv(1000).decode().strip())
"#,
        &[&forward_port.to_string()],
        PY,
    );
    let _ = child.kill();
    let _ = child.wait();
    asked.assert_ok("postsrsd forward");
    let reply = asked.out();
    let address = reply
        .trim()
        .strip_prefix("200 ")
        .unwrap_or_else(|| panic!("postsrsd: {reply:?}"))
        .to_string();
    assert!(address.starts_with("SRS0="), "{address}");
    let res = bounce(&s, &[("postsrsd", address.clone())]);
    assert_eq!(code(&res, "postsrsd").0, 250, "{address}: {res}");
    assert_eq!(queued(&s), vec![(String::new(), "gina@remote.test".into())]);
}
