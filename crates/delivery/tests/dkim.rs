//! DKIM signatures checked by an independent verifier, Python's dkimpy
//! (`pip install dkimpy pynacl`; PyNaCl for Ed25519). Without it the
//! verifier tests print `SKIPPED: dkimpy not installed` and pass, unless
//! PRAISANI_REQUIRE_TOOLS=1.

use praisani_delivery::dkim::{Algorithm, DkimError, KeyStore, Signer, SigningKey, txt_strings};
use std::io::Write;
use std::process::{Command, Stdio};

const NOW: i64 = 1_750_000_000;

fn tools_required() -> bool {
    std::env::var("PRAISANI_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

/// Is dkimpy (with PyNaCl) importable? If not: SKIPPED line, or a panic
/// under PRAISANI_REQUIRE_TOOLS=1.
fn have_dkimpy(test: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import dkim, nacl"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return true;
    }
    if tools_required() {
        panic!(
            "dkimpy is not installed (pip install dkimpy pynacl) but PRAISANI_REQUIRE_TOOLS=1 ({test})"
        );
    }
    // Straight to the process's stderr: libtest captures eprintln! of passing tests.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: dkimpy not installed (pip install dkimpy pynacl) ({test})"
    );
    false
}

const VERIFY_PY: &str = r#"
import dkim, json, os, sys
d = sys.argv[1]
dns = json.load(open(os.path.join(d, 'dns.json')))
def dnsfunc(name, timeout=5):
    n = name.decode() if isinstance(name, bytes) else name
    v = dns.get(n.rstrip('.').lower())
    return v.encode() if v is not None else None
for i in range(int(sys.argv[2])):
    msg = open(os.path.join(d, '%d.eml' % i), 'rb').read()
    v = dkim.DKIM(msg, minkey=1024)
    n = len([h for h in v.headers if h[0].lower() == b'dkim-signature'])
    res = []
    for k in range(n):
        try:
            res.append('OK' if v.verify(idx=k, dnsfunc=dnsfunc) else 'FAIL')
        except Exception as e:
            res.append('FAIL:%s' % str(e).replace(' ', '_'))
    print(i, n, ' '.join(res))
"#;

/// Verifies each message with dkimpy, the public keys served from `dns`
/// (name without trailing dot → TXT). Returns, per message, the verdict of
/// each DKIM-Signature in it: "OK", or "FAIL" (a `FAIL:reason` from
/// dkimpy is reduced to "FAIL" after printing the reason).
fn dkimpy_verify(dns: &[(String, String)], messages: &[Vec<u8>]) -> Vec<Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    let map: std::collections::BTreeMap<_, _> = dns
        .iter()
        .map(|(n, v)| (n.to_lowercase(), v.clone()))
        .collect();
    std::fs::write(dir.path().join("dns.json"), json(&map)).unwrap();
    for (i, m) in messages.iter().enumerate() {
        std::fs::write(dir.path().join(format!("{i}.eml")), m).unwrap();
    }
    let out = Command::new("python3")
        .args(["-c", VERIFY_PY])
        .arg(dir.path())
        .arg(messages.len().to_string())
        .output()
        .expect("run python3");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "dkimpy failed: {}\n{}",
        text,
        String::from_utf8_lossy(&out.stderr)
    );
    let mut res = vec![Vec::new(); messages.len()];
    for line in text.lines() {
        let mut parts = line.split(' ');
        let i: usize = parts.next().unwrap().parse().unwrap();
        let n: usize = parts.next().unwrap().parse().unwrap();
        res[i] = parts
            .map(|p| {
                if p.starts_with("FAIL:") {
                    eprintln!("message {i}: {p}");
                    "FAIL".to_string()
                } else {
                    p.to_string()
                }
            })
            .collect();
        assert_eq!(res[i].len(), n, "{line}");
    }
    res
}

/// A tiny JSON writer for a string map (no serde in this crate).
fn json(map: &std::collections::BTreeMap<String, String>) -> String {
    let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let items: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("\"{}\": \"{}\"", esc(k), esc(v)))
        .collect();
    format!("{{{}}}", items.join(", "))
}

fn signer(alg: Algorithm, domain: &str, selector: &str) -> Signer {
    Signer::new(domain, selector, SigningKey::generate(alg).unwrap())
}

fn dns_of(s: &Signer) -> (String, String) {
    (s.dns_name().unwrap(), s.key.dns_txt())
}

fn signed(s: &Signer, msg: &[u8]) -> Vec<u8> {
    let h = s.sign(msg, NOW).unwrap();
    assert!(h.ends_with("\r\n"), "{h:?}");
    assert!(h.starts_with("DKIM-Signature: v=1;"), "{h:?}");
    for line in h.split("\r\n") {
        assert!(line.len() <= 78, "line too long in {h:?}");
    }
    [h.as_bytes(), msg].concat()
}

/// The messages every algorithm must sign verifiably.
fn corpus() -> Vec<(&'static str, Vec<u8>)> {
    let head = "From: Somchai <somchai@example.com>\r\nTo: you@example.org\r\nSubject: test\r\nDate: Sun, 15 Jun 2025 12:00:00 +0000\r\nMessage-ID: <1@example.com>\r\n";
    let m = |body: &str| format!("{head}\r\n{body}").into_bytes();
    vec![
        ("plain", m("Hello.\r\n")),
        (
            "folded headers",
            b"From: Somchai\r\n  <somchai@example.com>\r\nTo: a@example.org,\r\n\tb@example.org,\r\n        c@example.org\r\nSubject: a long\r\n subject   with \t  runs of   whitespace   \r\nDate: Sun, 15 Jun 2025 12:00:00 +0000\r\n\r\nbody\r\n"
                .to_vec(),
        ),
        (
            "trailing spaces",
            m("line with trailing spaces   \r\nand tabs\t\t\r\n  leading  and   inner \t runs\r\n"),
        ),
        ("trailing empty lines", m("text\r\n\r\n\r\n\r\n")),
        // The case mail-auth 0.13.3 gets wrong: lines holding only
        // whitespace at the end are empty lines once canonicalized.
        ("whitespace-only lines at the end", m("text\r\n \r\n\t\r\n   \t \r\n")),
        (
            "whitespace-only lines in the middle",
            m("one\r\n \r\n\t\r\ntwo\r\n  \r\n"),
        ),
        ("only whitespace lines", m(" \r\n\t\r\n")),
        ("empty body", m("")),
        ("no final line end", m("no newline at the end")),
        (
            "8-bit body",
            format!(
                "{head}Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nสวัสดีครับ  \r\n中文 测试\r\n"
            )
            .into_bytes(),
        ),
        (
            "header case variations",
            b"FROM: somchai@example.com\r\nto: you@example.org\r\nSUBJECT:  Mixed   Case\r\nsubject: second subject\r\nmime-VERSION:1.0\r\nContent-type:  text/plain\r\nX-Unsigned: x\r\n\r\nbody\r\n"
                .to_vec(),
        ),
        (
            "8-bit header",
            "From: สมชาย <somchai@ตัวอย่าง.ไทย>\r\nTo: you@example.org\r\nSubject: ทดสอบ\r\n\r\nbody\r\n"
                .as_bytes()
                .to_vec(),
        ),
    ]
}

fn round_trip(alg: Algorithm, test: &str) {
    if !have_dkimpy(test) {
        return;
    }
    let s = signer(alg, "example.com", "sel1");
    let cases = corpus();
    let messages: Vec<Vec<u8>> = cases.iter().map(|(_, m)| signed(&s, m)).collect();
    let res = dkimpy_verify(&[dns_of(&s)], &messages);
    for ((name, _), (r, m)) in cases.iter().zip(res.iter().zip(&messages)) {
        assert_eq!(
            r,
            &["OK"],
            "{alg}: {name} does not verify:\n{}",
            String::from_utf8_lossy(m)
        );
    }
}

#[test]
fn ed25519_round_trip_with_dkimpy() {
    round_trip(Algorithm::Ed25519Sha256, "ed25519_round_trip_with_dkimpy");
}

#[test]
fn rsa_round_trip_with_dkimpy() {
    round_trip(Algorithm::RsaSha256, "rsa_round_trip_with_dkimpy");
}

/// The body hash of a body ending in whitespace-only lines equals the one
/// dkimpy computes when it signs the same message itself.
#[test]
fn whitespace_only_trailing_lines_body_hash_matches_dkimpy() {
    if !have_dkimpy("whitespace_only_trailing_lines_body_hash_matches_dkimpy") {
        return;
    }
    let s = signer(Algorithm::RsaSha256, "example.com", "sel1");
    let msg = b"From: a@example.com\r\nSubject: ws\r\n\r\nbody\r\n \r\n\t\r\n  \t  \r\n";
    let ours = s.sign(msg, NOW).unwrap();
    let bh = |h: &str| -> String {
        let flat: String = h.split_whitespace().collect();
        let start = flat.find("bh=").unwrap() + 3;
        flat[start..].split(';').next().unwrap().to_string()
    };
    let script = r#"
import dkim, sys
msg = open(sys.argv[1], 'rb').read()
key = open(sys.argv[2], 'rb').read()
h = dkim.sign(msg, b'sel1', b'example.com', key, canonicalize=(b'relaxed', b'relaxed'), include_headers=[b'from'])
sys.stdout.write(h.decode())
"#;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.eml"), msg).unwrap();
    std::fs::write(dir.path().join("k.pem"), s.key.to_pem()).unwrap();
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(dir.path().join("m.eml"))
        .arg(dir.path().join("k.pem"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(bh(&ours), bh(&theirs), "ours: {ours}\ndkimpy: {theirs}");
    // And it is the hash of "body\r\n" alone: the empty lines are gone.
    assert_eq!(bh(&ours), "Ck5SoRNWUpSR4X0COv7R5ub2pUTtl6xz4dTFz++ji4M=");
}

/// Changing a signed header or the body breaks the signature; changing an
/// unsigned header or adding a second From (From is oversigned) is caught
/// or tolerated as DKIM says. Shows the verifier really checks.
#[test]
fn tampering_is_detected() {
    if !have_dkimpy("tampering_is_detected") {
        return;
    }
    for alg in [Algorithm::Ed25519Sha256, Algorithm::RsaSha256] {
        let s = signer(alg, "example.com", "sel1");
        let msg = b"From: a@example.com\r\nTo: b@example.org\r\nSubject: original\r\nX-Unsigned: 1\r\n\r\nbody\r\n".to_vec();
        let good = signed(&s, &msg);
        let replace = |from: &str, to: &str| {
            String::from_utf8(good.clone())
                .unwrap()
                .replacen(from, to, 1)
                .into_bytes()
        };
        let cases = [
            ("unchanged", good.clone(), "OK"),
            (
                "unsigned header changed",
                replace("X-Unsigned: 1", "X-Unsigned: 2"),
                "OK",
            ),
            (
                "subject changed",
                replace("Subject: original", "Subject: changed"),
                "FAIL",
            ),
            ("body changed", replace("body\r\n", "bodY\r\n"), "FAIL"),
            (
                "line appended",
                [good.clone(), b"more\r\n".to_vec()].concat(),
                "FAIL",
            ),
            (
                "second From added",
                replace(
                    "Subject: original",
                    "From: evil@example.net\r\nSubject: original",
                ),
                "FAIL",
            ),
        ];
        let res = dkimpy_verify(
            &[dns_of(&s)],
            &cases.iter().map(|c| c.1.clone()).collect::<Vec<_>>(),
        );
        for ((name, _, want), got) in cases.iter().zip(&res) {
            assert_eq!(got, &[*want], "{alg}: {name}");
        }
        // The b= value itself changes with a signed header.
        let other = s
            .sign(
                &String::from_utf8(msg.clone())
                    .unwrap()
                    .replace("original", "changed")
                    .into_bytes(),
                NOW,
            )
            .unwrap();
        assert_ne!(s.sign(&msg, NOW).unwrap(), other);
    }
}

/// Two signatures (RSA and Ed25519) on one message, both verifiable, with
/// an IDN signing domain given in Unicode (d= is the A-label).
#[test]
fn dual_signature_and_idn_domain() {
    if !have_dkimpy("dual_signature_and_idn_domain") {
        return;
    }
    let rsa = signer(Algorithm::RsaSha256, "ตัวอย่าง.ไทย", "r1");
    let ed = signer(Algorithm::Ed25519Sha256, "ตัวอย่าง.ไทย", "e1");
    let msg = "From: สมชาย <somchai@ตัวอย่าง.ไทย>\r\nSubject: x\r\n\r\nbody\r\n".as_bytes();
    let h1 = rsa.sign(msg, NOW).unwrap();
    let h2 = ed.sign(msg, NOW).unwrap();
    assert!(h1.contains("d=xn--72c1a1bt4awk9o.xn--o3cw4h;"), "{h1}");
    let both = [h2.as_bytes(), h1.as_bytes(), msg].concat();
    let res = dkimpy_verify(&[dns_of(&rsa), dns_of(&ed)], &[both]);
    assert_eq!(res[0], ["OK", "OK"]);
}

#[test]
fn unsupported_input_is_an_error() {
    let s = signer(Algorithm::Ed25519Sha256, "example.com", "sel1");
    assert!(matches!(
        s.sign(b"Subject: no from\r\n\r\nx\r\n", NOW),
        Err(DkimError::NoFrom)
    ));
    let mut bad = s.clone();
    bad.selector = "bad selector".into();
    assert!(matches!(
        bad.sign(b"From: a@example.com\r\n\r\n", NOW),
        Err(DkimError::InvalidSelector(_))
    ));
    let mut bad = s.clone();
    bad.headers.push("sub:ject".into());
    assert!(matches!(
        bad.sign(b"From: a@example.com\r\n\r\n", NOW),
        Err(DkimError::InvalidHeader(_))
    ));
    let mut bad = s;
    bad.domain = "not a domain".into();
    assert!(matches!(
        bad.sign(b"From: a@example.com\r\n\r\n", NOW),
        Err(DkimError::InvalidDomain(_))
    ));
}

#[test]
fn signature_has_the_promised_tags() {
    let s = signer(Algorithm::RsaSha256, "Example.COM", "sel1");
    let h = s
        .sign(b"From: a@example.com\r\nTo: b@example.org\r\nTo: c@example.org\r\nX-Other: y\r\n\r\nhi\r\n", NOW)
        .unwrap();
    let flat: String = h.split_whitespace().collect::<Vec<_>>().join(" ");
    for tag in [
        "v=1;",
        "a=rsa-sha256;",
        "c=relaxed/relaxed;",
        "d=example.com;",
        "s=sel1;",
        &format!("t={NOW};"),
    ] {
        assert!(flat.contains(tag), "{tag} missing in {h}");
    }
    let compact: String = h.split_whitespace().collect();
    assert!(compact.contains("h=from:from:to:to;"), "{h}");
    assert!(!compact.contains("l="), "{h}");
    assert!(!compact.contains("x-other"), "{h}");
}

#[test]
fn pem_round_trip() {
    for alg in [Algorithm::Ed25519Sha256, Algorithm::RsaSha256] {
        let k = SigningKey::generate(alg).unwrap();
        assert_eq!(k.algorithm(), alg);
        let pem = k.to_pem();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");
        assert!(pem.ends_with("-----END PRIVATE KEY-----\n"), "{pem}");
        let k2 = SigningKey::from_pem(&pem).unwrap();
        assert_eq!(k2.algorithm(), alg);
        assert_eq!(k2.to_pem(), pem);
        assert_eq!(k2.dns_txt(), k.dns_txt());
        // Both algorithms are deterministic: the same key signs the same
        // message identically.
        let msg = b"From: a@example.com\r\n\r\nhi\r\n";
        let a = Signer::new("example.com", "s", k).sign(msg, NOW).unwrap();
        let b = Signer::new("example.com", "s", k2).sign(msg, NOW).unwrap();
        assert_eq!(a, b);
        // Debug never shows the key.
        let dbg = format!("{:?}", SigningKey::from_pem(&pem).unwrap());
        assert!(!dbg.contains(&pem[30..60]), "{dbg}");
    }
    assert!(SigningKey::from_pem("garbage").is_err());
    assert!(
        SigningKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
            .is_err()
    );
    assert!(
        SigningKey::from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
            .is_err()
    );
}

/// A minimal DER walk: (tag, contents, rest).
fn der(input: &[u8]) -> (u8, &[u8], &[u8]) {
    let tag = input[0];
    let (len, hdr) = match input[1] {
        l if l < 0x80 => (l as usize, 2),
        0x81 => (input[2] as usize, 3),
        0x82 => (((input[2] as usize) << 8) | input[3] as usize, 4),
        l => panic!("length form {l:#x}"),
    };
    (tag, &input[hdr..hdr + len], &input[hdr + len..])
}

#[test]
fn dns_txt_parses() {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    for alg in [Algorithm::Ed25519Sha256, Algorithm::RsaSha256] {
        let k = SigningKey::generate(alg).unwrap();
        let txt = k.dns_txt();
        let tags: Vec<(&str, &str)> = txt
            .split(';')
            .map(|t| t.trim().split_once('=').unwrap())
            .collect();
        assert_eq!(tags[0], ("v", "DKIM1"), "{txt}");
        assert_eq!(tags[1], ("k", alg.key_type()), "{txt}");
        assert_eq!(tags[2].0, "p");
        let p = b64.decode(tags[2].1).unwrap();
        match alg {
            Algorithm::Ed25519Sha256 => assert_eq!(p.len(), 32),
            Algorithm::RsaSha256 => {
                // SubjectPublicKeyInfo: SEQUENCE { SEQUENCE { OID rsaEncryption, NULL }, BIT STRING }
                let (tag, spki, rest) = der(&p);
                assert_eq!((tag, rest.len()), (0x30, 0));
                let (tag, alg_id, rest) = der(spki);
                assert_eq!(tag, 0x30);
                let (tag, oid, _) = der(alg_id);
                assert_eq!(tag, 0x06);
                assert_eq!(oid, [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01]);
                let (tag, bits, _) = der(rest);
                assert_eq!(tag, 0x03);
                // A 2048-bit modulus: the key is ~270 octets.
                assert!(bits.len() > 256, "{}", bits.len());
            }
        }
        let parts = txt_strings(&txt);
        assert!(parts.iter().all(|p| p.len() <= 255));
        assert_eq!(parts.concat(), txt);
        if alg == Algorithm::RsaSha256 {
            assert!(parts.len() >= 2, "an RSA record needs splitting");
        }
    }
}

#[cfg(unix)]
#[test]
fn key_store_files() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let ks = KeyStore::new(dir.path());
    assert!(ks.signer_for("example.com").unwrap().is_none());

    let s = ks
        .create("example.com", Algorithm::RsaSha256, Some("Sel-1"))
        .unwrap();
    assert_eq!(
        (s.domain.as_str(), s.selector.as_str()),
        ("example.com", "sel-1")
    );
    let path = dir.path().join("dkim/example.com.sel-1.key");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let dmode = std::fs::metadata(dir.path().join("dkim"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dmode & 0o077, 0, "{dmode:o}");
    let before = std::fs::read(&path).unwrap();

    // Never overwritten.
    let err = ks
        .create("EXAMPLE.com", Algorithm::Ed25519Sha256, Some("sel-1"))
        .unwrap_err();
    assert!(matches!(err, DkimError::Exists(_)), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);

    // The newest key wins; one per algorithm for dual signing.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let e = ks
        .create("example.com", Algorithm::Ed25519Sha256, None)
        .unwrap();
    assert!(e.selector.starts_with("praisani"), "{}", e.selector);
    assert_eq!(e.selector.len(), "praisani".len() + 6);
    let newest = ks.signer_for("example.com").unwrap().unwrap();
    assert_eq!(newest.selector, e.selector);
    assert_eq!(newest.key.dns_txt(), e.key.dns_txt());
    let both = ks.signers_for("example.com").unwrap();
    let algs: Vec<_> = both.iter().map(|s| s.key.algorithm()).collect();
    assert_eq!(algs, [Algorithm::RsaSha256, Algorithm::Ed25519Sha256]);
    assert_eq!(both[0].key.dns_txt(), s.key.dns_txt());

    // Other domains see nothing of these.
    ks.create("sub.example.com", Algorithm::Ed25519Sha256, Some("x"))
        .unwrap();
    assert_eq!(ks.keys("example.com").unwrap().len(), 2);
    assert_eq!(ks.keys("sub.example.com").unwrap().len(), 1);
    assert!(ks.signer_for("example.org").unwrap().is_none());
    assert!(ks.signer_for("com").unwrap().is_none());

    // IDN: stored and signed under the A-label.
    let i = ks
        .create("ตัวอย่าง.ไทย", Algorithm::Ed25519Sha256, Some("k"))
        .unwrap();
    assert_eq!(i.domain, "xn--72c1a1bt4awk9o.xn--o3cw4h");
    assert!(
        dir.path()
            .join("dkim/xn--72c1a1bt4awk9o.xn--o3cw4h.k.key")
            .exists()
    );
    assert_eq!(ks.keys("XN--72C1A1BT4AWK9O.xn--o3cw4h").unwrap().len(), 1);

    // Bad selectors and domains are refused, nothing written.
    for bad in ["a.b", "../x", "", "-x", "x y", "ä"] {
        assert!(
            matches!(
                ks.create("example.com", Algorithm::Ed25519Sha256, Some(bad)),
                Err(DkimError::InvalidSelector(_))
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        ks.create("not a domain", Algorithm::Ed25519Sha256, None),
        Err(DkimError::InvalidDomain(_))
    ));
    let files = std::fs::read_dir(dir.path().join("dkim")).unwrap().count();
    assert_eq!(files, 4, "no temporary files left behind");

    // A corrupt key file is an error that names it.
    std::fs::write(dir.path().join("dkim/example.com.zz.key"), "junk").unwrap();
    let err = ks.signer_for("example.com").unwrap_err().to_string();
    assert!(err.contains("example.com.zz.key"), "{err}");
}
