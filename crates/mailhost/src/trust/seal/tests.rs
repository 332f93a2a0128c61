use super::*;
use crate::trust::{CheckInput, DnsSettings, TrustChecker, TrustSettings};
use std::time::Duration;

/// A message as `inbound/trust.rs` stores it: trace header, our
/// `Authentication-Results` (folded), the client's header, the body.
fn stored(arc: &str) -> Vec<u8> {
    format!(
        "Received: from mx.sender.test (mx.sender.test [192.0.2.1])\r\n\
         \tby mx.fwd.test with ESMTP id abc; Fri, 4 Dec 2026 02:00:00 +0000\r\n\
         Authentication-Results: mx.fwd.test;\r\n\
         \tspf=pass (sender.test designates 192.0.2.1 as permitted sender)\r\n\
         \t smtp.mailfrom=alice@sender.test;\r\n\
         \tdkim=none;\r\n\
         \tarc={arc};\r\n\
         \tdmarc=pass header.from=sender.test\r\n\
         From: Alice <alice@sender.test>\r\n\
         To: bob@fwd.test\r\n\
         Subject: Forwarded for you\r\n\
         Date: Fri, 4 Dec 2026 01:59:00 +0000\r\n\
         Message-ID: <m1@sender.test>\r\n\
         \r\n\
         Hello Bob,\r\n\
         \r\n\
         this goes on to your other address.\r\n"
    )
    .into_bytes()
}

fn rsa(selector: &str) -> (ArcKey, String) {
    use aws_lc_rs::encoding::AsDer;
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let pkcs8 = pair.as_der().unwrap();
    let b64 = praisani_message::base64::encode(pkcs8.as_ref());
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    );
    let spki = aws_lc_rs::signature::KeyPair::public_key(&pair)
        .as_der()
        .unwrap();
    let record = format!(
        "v=DKIM1; k=rsa; p={}",
        praisani_message::base64::encode(spki.as_ref())
    );
    (
        ArcKey::from_pkcs8_pem("fwd.test", selector, &pem).unwrap(),
        record,
    )
}

/// The next server's ARC check (our own checker, over a local DNS server
/// holding the public keys).
async fn next_hop_arc(message: &[u8], keys: &[(&str, &str)]) -> crate::trust::verdict::ArcCheck {
    let mut zone = praisani_testdns::Zone::new();
    for (name, record) in keys {
        zone = zone.txt(name, record);
    }
    let dns = praisani_testdns::TestDns::start(zone);
    let checker = TrustChecker::with_dns(
        TrustSettings::default(),
        &DnsSettings {
            nameservers: vec![dns.addr],
            timeout: Duration::from_secs(2),
        },
    )
    .unwrap();
    checker
        .check(CheckInput {
            client_ip: "192.0.2.9".parse().unwrap(),
            helo: "mx.fwd.test",
            mail_from: "srs0=abcd=aa=sender.test=alice@fwd.test",
            hostname: "mx.next.test",
            message,
        })
        .await
        .arc
}

#[tokio::test]
async fn sealed_message_passes_arc() {
    let (key, record) = rsa("sel");
    let message = stored("none");
    let set = seal(&message, "mx.fwd.test", &key).unwrap();
    let lines: Vec<&str> = set.lines().collect();
    assert!(lines[0].starts_with("ARC-Seal: i=1; "), "{set}");
    assert!(set.contains("cv=none"), "{set}");
    assert!(set.contains("ARC-Message-Signature: i=1; "), "{set}");
    assert!(
        set.contains("ARC-Authentication-Results: i=1; mx.fwd.test; spf=pass (sender.test designates 192.0.2.1 as permitted sender) smtp.mailfrom=alice@sender.test; dkim=none; arc=none; dmarc=pass header.from=sender.test\r\n"),
        "{set}"
    );
    let sealed = [set.as_bytes(), &message].concat();
    let arc = next_hop_arc(&sealed, &[("sel._domainkey.fwd.test", &record)]).await;
    assert_eq!(arc.result, AuthResult::Pass, "{arc:?}\n{set}");
    assert_eq!(arc.instances, 1);
    assert_eq!(arc.sealer.as_deref(), Some("fwd.test"));

    // A second forwarder seals on top: i=2, cv=pass, still passing.
    let (key2, record2) = rsa("rsa");
    let stamped = [
        b"Authentication-Results: mx.fwd2.test; arc=pass\r\n".as_slice(),
        &sealed,
    ]
    .concat();
    let set2 = seal(&stamped, "mx.fwd2.test", &key2).unwrap();
    assert!(set2.starts_with("ARC-Seal: i=2; "), "{set2}");
    assert!(set2.contains("cv=pass"), "{set2}");
    let twice = [set2.as_bytes(), &stamped].concat();
    let arc = next_hop_arc(
        &twice,
        &[
            ("sel._domainkey.fwd.test", &record),
            ("rsa._domainkey.fwd.test", &record2),
        ],
    )
    .await;
    assert_eq!(arc.result, AuthResult::Pass, "{arc:?}");
    assert_eq!(arc.instances, 2);

    // A changed body breaks the newest signature.
    let tampered = String::from_utf8(sealed.clone())
        .unwrap()
        .replace("other address", "attacker's address");
    let arc = next_hop_arc(tampered.as_bytes(), &[("sel._domainkey.fwd.test", &record)]).await;
    assert_ne!(arc.result, AuthResult::Pass, "{arc:?}");

    dkimpy_verifies(&sealed, &[("sel._domainkey.fwd.test", &record)]);
    dkimpy_verifies(
        &twice,
        &[
            ("sel._domainkey.fwd.test", &record),
            ("rsa._domainkey.fwd.test", &record2),
        ],
    );
}

/// dkimpy's `arc_verify` (an independent implementation) passes the chain;
/// skipped without python3 and dkimpy unless PRAISANI_REQUIRE_TOOLS=1.
fn dkimpy_verifies(message: &[u8], keys: &[(&str, &str)]) {
    let script = r#"
import sys, json
try:
    import dkim
except ImportError:
    print("NO-DKIMPY"); sys.exit(0)
keys = {k.lower().rstrip('.'): v for k, v in json.loads(sys.argv[2]).items()}
def dnsfunc(name, timeout=5):
    if isinstance(name, bytes):
        name = name.decode()
    v = keys.get(name.lower().rstrip('.'))
    return v.encode() if v is not None else None
msg = open(sys.argv[1], 'rb').read()
cv, results, reason = dkim.arc_verify(msg, dnsfunc=dnsfunc)
print(cv.decode() if isinstance(cv, bytes) else cv, reason)
"#;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sealed.eml");
    std::fs::write(&path, message).unwrap();
    let keys: serde_json::Map<String, serde_json::Value> = keys
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
        .collect();
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&path)
        .arg(serde_json::Value::Object(keys).to_string())
        .output();
    let required = std::env::var("PRAISANI_REQUIRE_TOOLS").as_deref() == Ok("1");
    let out = match out {
        Ok(o) => o,
        Err(e) if !required => {
            eprintln!("SKIPPED: dkimpy check (no python3: {e})");
            return;
        }
        Err(e) => panic!("python3: {e}"),
    };
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if text.trim() == "NO-DKIMPY" && !required {
        eprintln!("SKIPPED: dkimpy check (pip install dkimpy pynacl)");
        return;
    }
    assert!(
        text.starts_with("pass"),
        "dkimpy arc_verify: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn chain_state_comes_from_our_results_only() {
    // A HELO of the client's in a quoted-string cannot claim a passing chain.
    let v = "mx.fwd.test; spf=none smtp.helo=\"x; arc=pass\"; arc=fail (bad seal; arc=pass)";
    let r = resinfos(v);
    assert_eq!(r[0], "mx.fwd.test");
    assert_eq!(r[1], "spf=none smtp.helo=\"x; arc=pass\"");
    assert_eq!(r[2], "arc=fail");
    assert_eq!(r.len(), 3);
    assert_eq!(serv_id(" mx.fwd.test;\r\n\tspf=pass"), "mx.fwd.test");
}

#[test]
fn refusals() {
    let (key, _) = rsa("sel");
    // No results of ours: someone else's are not copied.
    assert!(matches!(
        seal(&stored("none"), "mx.other.test", &key),
        Err(SealError::NoResults(_))
    ));
    let long = format!(
        "mx.fwd.test; spf=pass ({}) smtp.mailfrom=a@b.test",
        "x".repeat(1000)
    );
    assert!(matches!(
        seal_with(&stored("none"), &long, AuthResult::None, &key),
        Err(SealError::TooLong)
    ));
    assert!(matches!(
        ArcKey::from_pkcs8_pem("fwd.test", "s", "not a key"),
        Err(SealError::Key(_))
    ));
    let ed = praisani_message::base64::encode(Ed25519Key::generate_pkcs8().unwrap());
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{ed}\n-----END PRIVATE KEY-----\n");
    assert!(matches!(
        ArcKey::from_pkcs8_pem("fwd.test", "s", &pem),
        Err(SealError::Key(_))
    ));
}
