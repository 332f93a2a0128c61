//! `praisani dkim generate` and `praisani dns` on the real binary.

mod common;

use common::*;
use praisani_delivery::dkim::SigningKey;
use serde_json::Value;

const THAI: &str = "ตัวอย่าง.ไทย";
const THAI_ASCII: &str = "xn--72c1a1bt4awk9o.xn--o3cw4h";

fn offline() -> Server {
    Server::new(ServerOpts {
        demo: false,
        limits: String::new(),
    })
}

#[track_caller]
fn json_of(out: &CmdOutput) -> Value {
    out.assert_ok("command");
    serde_json::from_str(out.out().trim())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", out.describe()))
}

#[track_caller]
fn assert_refused(out: &CmdOutput, what: &str, needle: &str) {
    assert_eq!(out.code(), Some(1), "{what}: {}", out.describe());
    assert!(
        out.err().contains(needle),
        "{what}: stderr should say {needle:?}: {}",
        out.describe()
    );
}

/// The zone-file TXT strings of a line (`name. IN TXT "a" "b"`), joined.
fn txt_of(line: &str) -> String {
    let q = &line[line.find('"').expect("quoted TXT")..];
    let parts: Vec<&str> = q.split('"').collect();
    // "a" "b" splits into ["", "a", " ", "b", ""]: the odd items.
    for p in parts.iter().skip(1).step_by(2) {
        assert!(p.len() <= 255, "TXT string over 255 octets in {line}");
    }
    parts.iter().skip(1).step_by(2).copied().collect()
}

#[test]
fn dkim_generate_for_hosted_domains() {
    let s = offline();
    s.add_domain("example.com");
    s.add_domain(THAI);

    // Default: RSA, selector praisani<YYYYMM>, text output with the record.
    let out = s.cli(&["dkim", "generate", "example.com"]);
    out.assert_ok("dkim generate example.com");
    let text = out.out();
    let line = text
        .lines()
        .find(|l| l.contains("._domainkey.example.com. IN TXT"))
        .unwrap_or_else(|| panic!("no TXT line: {text}"));
    assert!(line.starts_with("praisani20"), "{line}");
    let value = txt_of(line);
    assert!(value.starts_with("v=DKIM1; k=rsa; p=MII"), "{value}");
    assert!(
        line.matches('"').count() >= 4,
        "an RSA record is split into several strings: {line}"
    );
    let dir = s.data_dir.join("dkim");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&files[0]).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    // The printed record is the public half of the written key.
    let key = SigningKey::from_pem(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    assert_eq!(key.dns_txt(), value);

    // Unicode name, JSON, Ed25519, chosen selector: stored under the A-label.
    let v = json_of(&s.cli(&[
        "--json",
        "dkim",
        "generate",
        THAI,
        "--algorithm",
        "ed25519",
        "--selector",
        "ed1",
    ]));
    assert_eq!(v["ascii"], THAI_ASCII, "{v}");
    assert_eq!(v["domain"], THAI, "{v}");
    assert_eq!(v["algorithm"], "ed25519-sha256", "{v}");
    assert_eq!(
        v["record"]["name"],
        format!("ed1._domainkey.{THAI_ASCII}"),
        "{v}"
    );
    assert_eq!(v["record"]["type"], "TXT", "{v}");
    let value = v["record"]["value"].as_str().unwrap();
    assert!(value.starts_with("v=DKIM1; k=ed25519; p="), "{value}");
    assert!(dir.join(format!("{THAI_ASCII}.ed1.key")).exists());

    // The same domain by its A-label, another selector.
    let out = s.cli(&["dkim", "generate", THAI_ASCII, "--selector", "r2"]);
    out.assert_ok("dkim generate A-label");
    assert!(
        out.out().contains(&format!(
            "r2._domainkey.{THAI_ASCII}. IN TXT \"v=DKIM1; k=rsa;"
        )),
        "{}",
        out.describe()
    );

    // Never overwritten.
    let before = std::fs::read(dir.join(format!("{THAI_ASCII}.ed1.key"))).unwrap();
    let out = s.cli(&[
        "dkim",
        "generate",
        THAI,
        "--algorithm",
        "ed25519",
        "--selector",
        "ed1",
    ]);
    assert_refused(&out, "existing selector", "already exists");
    assert_eq!(
        std::fs::read(dir.join(format!("{THAI_ASCII}.ed1.key"))).unwrap(),
        before
    );
    // --json errors are JSON too.
    let out = s.cli(&["--json", "dkim", "generate", THAI, "--selector", "ed1"]);
    assert_eq!(out.code(), Some(1), "{}", out.describe());
    let v: Value = serde_json::from_str(out.out().trim()).unwrap();
    assert!(
        v["error"].as_str().unwrap().contains("already exists"),
        "{v}"
    );
}

#[test]
fn dkim_generate_refuses_what_it_should() {
    let s = offline();
    s.add_domain("example.com");
    assert_refused(
        &s.cli(&["dkim", "generate", "other.example"]),
        "not hosted",
        "not a hosted domain",
    );
    assert_refused(
        &s.cli(&["dkim", "generate", "sub.example.com"]),
        "subdomain of a hosted domain",
        "not a hosted domain",
    );
    assert_refused(
        &s.cli(&["dkim", "generate", "bad domain"]),
        "invalid domain",
        "not a valid domain",
    );
    assert_refused(
        &s.cli(&["dkim", "generate", "example.com", "--selector", "a.b"]),
        "dotted selector",
        "selector",
    );
    let out = s.cli(&["dkim", "generate", "example.com", "--algorithm", "dsa"]);
    assert!(!out.status.success(), "{}", out.describe());
    assert!(
        !s.data_dir.join("dkim").exists()
            || std::fs::read_dir(s.data_dir.join("dkim")).unwrap().count() == 0,
        "nothing written"
    );
    // `dns` for a domain that is not hosted.
    assert_refused(
        &s.cli(&["dns", "other.example"]),
        "dns not hosted",
        "not a hosted domain",
    );
}

/// Every record type the brief lists, in zone-file form and in JSON.
#[test]
fn dns_prints_every_record() {
    let s = offline();
    s.add_domain("example.com");

    // Before any key: a comment saying how to make one, no DKIM record.
    let out = s.cli(&["dns", "example.com"]);
    out.assert_ok("dns");
    let text = out.out();
    assert!(text.contains("praisani dkim generate"), "{text}");
    assert!(!text.contains("_domainkey"), "{text}");

    let v = json_of(&s.cli(&[
        "--json",
        "dkim",
        "generate",
        "example.com",
        "--selector",
        "k1",
    ]));
    let dkim_value = v["record"]["value"].as_str().unwrap().to_string();

    let out = s.cli(&["dns", "example.com"]);
    out.assert_ok("dns");
    let text = out.out();
    let has = |line: &str| {
        assert!(
            text.lines().any(|l| l == line),
            "missing line {line:?} in:\n{text}"
        )
    };
    has("example.com. IN MX 10 mx.example.test.");
    has("example.com. IN TXT \"v=spf1 mx -all\"");
    has("_dmarc.example.com. IN TXT \"v=DMARC1; p=quarantine; rua=mailto:postmaster@example.com\"");
    has("_submission._tcp.example.com. IN SRV 0 1 587 mx.example.test.");
    has("_submissions._tcp.example.com. IN SRV 0 1 465 mx.example.test.");
    has("_pop3._tcp.example.com. IN SRV 0 1 110 mx.example.test.");
    has("_pop3s._tcp.example.com. IN SRV 0 1 995 mx.example.test.");
    has("_imap._tcp.example.com. IN SRV 0 0 0 .");
    has("_imaps._tcp.example.com. IN SRV 0 0 0 .");
    has("autoconfig.example.com. IN CNAME mx.example.test.");
    has("autodiscover.example.com. IN CNAME mx.example.test.");
    has("_autodiscover._tcp.example.com. IN SRV 0 1 443 mx.example.test.");
    let dkim_line = text
        .lines()
        .find(|l| l.starts_with("k1._domainkey.example.com. IN TXT "))
        .unwrap_or_else(|| panic!("no DKIM record in:\n{text}"));
    assert_eq!(txt_of(dkim_line), dkim_value);
    assert!(!text.contains("praisani dkim generate"), "{text}");
    assert!(
        text.to_lowercase().contains("p=none"),
        "DMARC advice: {text}"
    );
    // Every non-comment line is a record.
    for l in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with(';'))
    {
        assert!(l.contains(". IN "), "not a zone line: {l}");
    }

    let v = json_of(&s.cli(&["--json", "dns", "example.com"]));
    let list = v.as_array().unwrap_or_else(|| panic!("not a list: {v}"));
    let find = |name: &str, rtype: &str| -> Vec<String> {
        list.iter()
            .filter(|r| r["name"] == name && r["type"] == rtype)
            .map(|r| r["value"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(find("example.com", "MX"), ["10 mx.example.test"]);
    assert_eq!(find("example.com", "TXT"), ["v=spf1 mx -all"]);
    assert_eq!(find("k1._domainkey.example.com", "TXT"), [dkim_value]);
    assert_eq!(
        find("_dmarc.example.com", "TXT"),
        ["v=DMARC1; p=quarantine; rua=mailto:postmaster@example.com"]
    );
    assert_eq!(
        find("_submission._tcp.example.com", "SRV"),
        ["0 1 587 mx.example.test"]
    );
    assert_eq!(
        find("_submissions._tcp.example.com", "SRV"),
        ["0 1 465 mx.example.test"]
    );
    assert_eq!(
        find("_pop3._tcp.example.com", "SRV"),
        ["0 1 110 mx.example.test"]
    );
    assert_eq!(
        find("_pop3s._tcp.example.com", "SRV"),
        ["0 1 995 mx.example.test"]
    );
    assert_eq!(find("_imap._tcp.example.com", "SRV"), ["0 0 0 ."]);
    assert_eq!(find("_imaps._tcp.example.com", "SRV"), ["0 0 0 ."]);
    assert_eq!(find("autoconfig.example.com", "CNAME"), ["mx.example.test"]);
    assert_eq!(
        find("autodiscover.example.com", "CNAME"),
        ["mx.example.test"]
    );
    assert_eq!(
        find("_autodiscover._tcp.example.com", "SRV"),
        ["0 1 443 mx.example.test"]
    );
    assert_eq!(list.len(), 13, "{v}");
}

#[test]
fn dns_for_an_idn_domain_uses_the_a_label() {
    let s = offline();
    s.add_domain(THAI);
    s.cli(&[
        "dkim",
        "generate",
        THAI,
        "--algorithm",
        "ed25519",
        "--selector",
        "e1",
    ])
    .assert_ok("dkim generate");
    for arg in [THAI, THAI_ASCII] {
        let out = s.cli(&["dns", arg]);
        out.assert_ok("dns IDN");
        let text = out.out();
        // The Unicode name only in comments; every record name is ASCII.
        assert!(
            text.lines().any(|l| l.starts_with(';') && l.contains(THAI)),
            "{text}"
        );
        for l in text.lines().filter(|l| !l.starts_with(';')) {
            assert!(l.is_ascii(), "non-ASCII record line: {l}");
        }
        assert!(
            text.contains(&format!("\n{THAI_ASCII}. IN MX 10 mx.example.test.\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "\ne1._domainkey.{THAI_ASCII}. IN TXT \"v=DKIM1; k=ed25519; p="
            )),
            "{text}"
        );
        assert!(text.contains(&format!("_dmarc.{THAI_ASCII}. IN TXT \"v=DMARC1; p=quarantine; rua=mailto:postmaster@{THAI_ASCII}\"")), "{text}");
        assert!(
            text.contains(&format!(
                "_pop3s._tcp.{THAI_ASCII}. IN SRV 0 1 995 mx.example.test."
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "autoconfig.{THAI_ASCII}. IN CNAME mx.example.test."
            )),
            "{text}"
        );
    }
    let v = json_of(&s.cli(&["--json", "dns", THAI]));
    for r in v.as_array().unwrap() {
        let name = r["name"].as_str().unwrap();
        assert!(name.ends_with(THAI_ASCII), "{r}");
    }
}
