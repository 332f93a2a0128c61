//! The inbound trust checks against a local DNS server publishing SPF,
//! DKIM and DMARC records, on messages signed and sealed by an independent
//! implementation (Python dkimpy, `tests/trust/dkimpy.py`).

use std::net::{IpAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use praisani_mailhost::trust::{
    Action, AuthResult, CheckInput, Decision, DmarcPolicy, DnsSettings, SpfIdentity, TrustChecker,
    TrustPolicy, TrustSettings, Verdict, stored_header, strip_authentication_results,
};
use praisani_testdns::{TestDns, Zone};
use serde_json::{Value, json};

const HOST: &str = "mx.praisani.test";

fn dkimpy(request: Value) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/trust/dkimpy.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    serde_json::to_writer(child.stdin.take().unwrap(), &request).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "dkimpy.py failed on {request}");
    serde_json::from_slice(&out.stdout).unwrap()
}

struct Keys {
    rsa_private: String,
    rsa_public: String,
    other_rsa_private: String,
    ed_private: String,
    ed_public: String,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let k = dkimpy(json!({"op": "keys"}));
        let s = |n: &str| k[n].as_str().unwrap().to_string();
        Keys {
            rsa_private: s("rsa_private"),
            rsa_public: s("rsa_public"),
            other_rsa_private: s("other_rsa_private"),
            ed_private: s("ed_private"),
            ed_public: s("ed_public"),
        }
    })
}

/// Publishes `rsa` and `ed` selectors for `domain`.
fn with_keys(zone: Zone, domain: &str) -> Zone {
    let k = keys();
    zone.txt(
        &format!("rsa._domainkey.{domain}"),
        &format!("v=DKIM1; k=rsa; p={}", k.rsa_public),
    )
    .txt(
        &format!("ed._domainkey.{domain}"),
        &format!("v=DKIM1; k=ed25519; p={}", k.ed_public),
    )
}

fn zone() -> Zone {
    let spf_ok = "v=spf1 ip4:127.0.0.1 -all";
    let spf_elsewhere = "v=spf1 ip4:192.0.2.1 -all";
    let mut zone = Zone::new()
        // An aligned, signing sender with p=reject.
        .txt("sender.test", spf_ok)
        .txt("_dmarc.sender.test", "v=DMARC1; p=reject")
        .txt("helo.test", spf_ok)
        .a("helo.test", "127.0.0.1")
        // SPF only.
        .txt("fail.test", spf_elsewhere)
        .txt("soft.test", "v=spf1 ip4:192.0.2.1 ~all")
        .txt("neutral.test", "v=spf1 ?all")
        .a("nospf.test", "127.0.0.1")
        // DMARC policies, for domains whose SPF does not cover us.
        .txt("reject.test", spf_elsewhere)
        .txt("_dmarc.reject.test", "v=DMARC1; p=reject")
        .txt("quarantine.test", spf_elsewhere)
        .txt("_dmarc.quarantine.test", "v=DMARC1; p=quarantine")
        .txt("_dmarc.monitor.test", "v=DMARC1; p=none")
        .a("monitor.test", "127.0.0.1")
        // Alignment: the signer and the bounce domain are a subdomain.
        .txt("_dmarc.relaxed.test", "v=DMARC1; p=reject; adkim=r; aspf=r")
        .a("relaxed.test", "127.0.0.1")
        .txt("bounce.relaxed.test", spf_ok)
        .txt("_dmarc.strict.test", "v=DMARC1; p=reject; adkim=s; aspf=s")
        .a("strict.test", "127.0.0.1")
        .txt("bounce.strict.test", spf_ok)
        // Organizations under multi-label public suffixes (co.th, com.cn):
        // only the organization publishes DMARC, as in the wild.
        .txt("_dmarc.shop.co.th", "v=DMARC1; p=reject; adkim=r; aspf=r")
        .a("shop.co.th", "127.0.0.1")
        .a("news.shop.co.th", "127.0.0.1")
        .txt("bounce.shop.co.th", spf_ok)
        .txt("other.co.th", spf_ok)
        .txt("_dmarc.shop.com.cn", "v=DMARC1; p=reject")
        .a("shop.com.cn", "127.0.0.1")
        .txt("bounce.shop.com.cn", spf_ok)
        .txt("other.com.cn", spf_ok)
        // A forwarder that seals ARC.
        .txt("fwd.test", spf_ok)
        // SPF that includes itself, and a chain of 11 includes (RFC 7208
        // §4.6.4 allows 10 lookups).
        .txt("loop.test", "v=spf1 include:loop.test -all")
        // A selector whose key lookup times out.
        .silent("slow._domainkey.reject.test");
    for i in 0..11 {
        zone = zone.txt(
            &format!("chain{i}.test"),
            &format!("v=spf1 include:chain{}.test -all", i + 1),
        );
    }
    zone = zone.txt("chain11.test", spf_ok);
    for domain in [
        "sender.test",
        "reject.test",
        "mail.relaxed.test",
        "mail.strict.test",
        "fwd.test",
        "mail.shop.co.th",
        "other.co.th",
        "other.com.cn",
    ] {
        zone = with_keys(zone, domain);
    }
    zone
}

fn checker(dns: &TestDns) -> TrustChecker {
    let dns = DnsSettings {
        nameservers: vec![dns.addr],
        timeout: Duration::from_secs(2),
    };
    TrustChecker::with_dns(TrustSettings::default(), &dns).expect("resolver")
}

fn message(from: &str, subject: &str, body: &str) -> String {
    format!(
        "From: Someone <{from}>\r\nTo: user@praisani.test\r\nSubject: {subject}\r\n\
         Date: Thu, 03 Dec 2026 07:00:00 +0000\r\nMessage-ID: <1@{host}>\r\n\r\n{body}",
        host = from.rsplit_once('@').unwrap().1
    )
}

/// `message` with a DKIM signature by `domain`/`selector` prepended.
fn sign(message: &str, domain: &str, selector: &str) -> String {
    let k = keys();
    let (key, algo) = match selector {
        "ed" => (&k.ed_private, "ed25519-sha256"),
        _ => (&k.rsa_private, "rsa-sha256"),
    };
    sign_with(message, domain, selector, key, algo)
}

fn sign_with(message: &str, domain: &str, selector: &str, key: &str, algo: &str) -> String {
    let r = dkimpy(json!({
        "op": "sign", "message": message, "domain": domain, "selector": selector,
        "key": key, "algo": algo, "canon": "relaxed/relaxed",
    }));
    format!("{}{message}", r["header"].as_str().unwrap())
}

async fn check(checker: &TrustChecker, helo: &str, mail_from: &str, message: &str) -> Verdict {
    checker
        .check(CheckInput {
            client_ip: IpAddr::from([127, 0, 0, 1]),
            helo,
            mail_from,
            hostname: HOST,
            message: message.as_bytes(),
        })
        .await
}

fn dkim_results(v: &Verdict) -> Vec<AuthResult> {
    v.dkim.iter().map(|d| d.result).collect()
}

#[tokio::test]
async fn signed_aligned_mail_passes_everything() {
    let dns = TestDns::start(zone());
    let checker = checker(&dns);
    let msg = sign(
        &sign(
            &message("a@sender.test", "hi", "Hello.\r\n"),
            "sender.test",
            "rsa",
        ),
        "sender.test",
        "ed",
    );
    let v = check(&checker, "helo.test", "a@sender.test", &msg).await;
    assert_eq!(v.spf_mail_from.result, AuthResult::Pass);
    assert_eq!(v.spf_helo.result, AuthResult::Pass);
    assert_eq!(dkim_results(&v), [AuthResult::Pass, AuthResult::Pass]);
    let algorithms: Vec<_> = v.dkim.iter().map(|d| d.algorithm.unwrap()).collect();
    assert!(algorithms.contains(&"rsa-sha256") && algorithms.contains(&"ed25519-sha256"));
    assert_eq!(v.arc.result, AuthResult::None);
    assert_eq!(v.dmarc.result, AuthResult::Pass);
    assert_eq!(v.dmarc.policy, DmarcPolicy::Reject);
    assert!(v.dmarc.spf_aligned && v.dmarc.dkim_aligned);
    assert_eq!(v.decision(&TrustPolicy::default()), Decision::Accept);
}

#[tokio::test]
async fn signatures_beyond_the_limit_are_not_checked() {
    let dns = TestDns::start(zone());
    let checker = checker(&dns);
    let msg = message("a@sender.test", "many", "x\r\n");
    let signed = sign(&msg, "sender.test", "rsa");
    let signature = signed.strip_suffix(msg.as_str()).unwrap();
    let many = format!("{}{msg}", signature.repeat(50));
    let v = check(&checker, "helo.test", "a@sender.test", &many).await;
    assert_eq!(dkim_results(&v), [AuthResult::Pass; 10]);
    let key_lookups = dns
        .queries()
        .iter()
        .filter(|(name, _)| name == "rsa._domainkey.sender.test")
        .count();
    assert_eq!(key_lookups, 1, "the key is asked once and cached");
}

#[tokio::test]
async fn relaxed_body_hash_of_a_body_ending_in_blank_lines() {
    let dns = TestDns::start(zone());
    let checker = checker(&dns);
    for body in [
        "Hello.\r\n\r\n\r\n\r\n",
        "Hello.  \r\n \r\n\t\r\n\r\n",
        "\r\n\r\n",
        "",
    ] {
        let msg = sign(
            &message("a@sender.test", "blank", body),
            "sender.test",
            "rsa",
        );
        let v = check(&checker, "helo.test", "a@sender.test", &msg).await;
        assert_eq!(dkim_results(&v), [AuthResult::Pass], "body {body:?}: {v:?}");
        // Relaxed body canonicalization ignores trailing empty lines: more
        // of them added in transit still verify.
        let more = format!("{msg}\r\n\r\n");
        let v = check(&checker, "helo.test", "a@sender.test", &more).await;
        assert_eq!(
            dkim_results(&v),
            [AuthResult::Pass],
            "body {body:?} + blank lines"
        );
    }
}

#[tokio::test]
async fn dkim_fails_on_an_altered_body_or_the_wrong_key() {
    let dns = TestDns::start(zone());
    let checker = checker(&dns);
    let signed = sign(
        &message("a@sender.test", "hi", "Pay 10 EUR.\r\n"),
        "sender.test",
        "rsa",
    );
    let altered = signed.replace("Pay 10 EUR.", "Pay 1000 EUR.");
    let v = check(&checker, "helo.test", "a@sender.test", &altered).await;
    assert_eq!(dkim_results(&v), [AuthResult::Fail]);
    assert!(v.dkim[0].reason.as_deref().unwrap().contains("body hash"));

    let wrong = sign_with(
        &message("a@sender.test", "hi", "Hello.\r\n"),
        "sender.test",
        "rsa",
        &keys().other_rsa_private,
        "rsa-sha256",
    );
    let v = check(&checker, "helo.test", "a@sender.test", &wrong).await;
    assert_eq!(dkim_results(&v), [AuthResult::Fail]);
    // SPF still aligns, so DMARC passes and the mail is accepted.
    assert_eq!(v.dmarc.result, AuthResult::Pass);

    // A signature whose key is not published is a permanent error.
    let unpublished = sign(&message("a@fail.test", "hi", "x\r\n"), "fail.test", "rsa");
    let v = check(&checker, "helo.test", "a@fail.test", &unpublished).await;
    assert_eq!(dkim_results(&v), [AuthResult::PermError]);
}

#[tokio::test]
async fn spf_results_for_mail_from_helo_and_the_null_sender() {
    let dns = TestDns::start(zone());
    let checker = checker(&dns);
    let cases = [
        ("a@sender.test", AuthResult::Pass),
        ("a@fail.test", AuthResult::Fail),
        ("a@soft.test", AuthResult::SoftFail),
        ("a@neutral.test", AuthResult::Neutral),
        ("a@nospf.test", AuthResult::None),
        ("a@nonexistent.test", AuthResult::None),
        ("a@loop.test", AuthResult::PermError),
        ("a@chain0.test", AuthResult::PermError),
        ("a@chain2.test", AuthResult::Pass),
    ];
    for (from, want) in cases {
        let msg = message(from, "spf", "x\r\n");
        let v = check(&checker, "unlisted.test", from, &msg).await;
        assert_eq!(v.spf_mail_from.result, want, "{from}");
        assert_eq!(v.spf_mail_from.identity, SpfIdentity::MailFrom);
        assert_eq!(
            v.spf_helo.result,
            AuthResult::None,
            "{from}: HELO has no record"
        );
    }

    // `<>`: the MAIL FROM identity is postmaster@ the HELO name.
    let msg = message("mailer-daemon@helo.test", "bounce", "x\r\n");
    let v = check(&checker, "helo.test", "", &msg).await;
    assert_eq!(v.spf_mail_from.subject, "postmaster@helo.test");
    assert_eq!(v.spf_mail_from.result, AuthResult::Pass);
    assert_eq!(v.spf_helo.result, AuthResult::Pass);

    // An address literal has no SPF.
    let v = check(&checker, "[127.0.0.1]", "", &msg).await;
    assert_eq!(v.spf_helo.result, AuthResult::None);
    assert_eq!(v.spf_mail_from.result, AuthResult::None);

    // Without DMARC, SPF fail is marked by default, refused when configured;
    // softfail is accepted.
    let fail = check(
        &checker,
        "helo.test",
        "a@fail.test",
        &message("a@fail.test", "s", "x\r\n"),
    )
    .await;
    assert!(matches!(
        fail.decision(&TrustPolicy::default()),
        Decision::Mark { .. }
    ));
    let strict = TrustPolicy {
        spf_fail: Action::Reject,
        ..TrustPolicy::default()
    };
    let Decision::Reject {
        code,
        enhanced,
        text,
    } = fail.decision(&strict)
    else {
        panic!("SPF fail refused");
    };
    assert_eq!((code, enhanced), (550, "5.7.1"));
    assert!(
        text.contains("fail.test") && text.contains("127.0.0.1"),
        "{text}"
    );
    let soft = check(
        &checker,
        "helo.test",
        "a@soft.test",
        &message("a@soft.test", "s", "x\r\n"),
    )
    .await;
    assert_eq!(soft.decision(&TrustPolicy::default()), Decision::Accept);
}

#[tokio::test]
async fn dmarc_reject_quarantine_and_none() {
    let dns = TestDns::start(zone());
    let checker = checker(&dns);
    let policy = TrustPolicy::default();

    // A forgery of a p=reject domain: refused with the reason.
    let forged = message("billing@reject.test", "Your invoice", "Pay now.\r\n");
    let v = check(&checker, "helo.test", "billing@reject.test", &forged).await;
    assert_eq!(v.spf_mail_from.result, AuthResult::Fail);
    assert_eq!(v.dmarc.result, AuthResult::Fail);
    assert_eq!(v.dmarc.policy, DmarcPolicy::Reject);
    let decision = v.decision(&policy);
    let Decision::Reject {
        code,
        enhanced,
        ref text,
    } = decision
    else {
        panic!("p=reject refused: {decision:?}");
    };
    assert_eq!((code, enhanced), (550, "5.7.1"));
    assert!(
        text.contains("reject.test") && text.contains("p=reject"),
        "{text}"
    );
    let reply = decision.reply().unwrap();
    assert_eq!(reply.code, 550);

    // The same domain, correctly signed, from someone else's server (its
    // SPF does not cover us): DKIM aligns, DMARC passes.
    let signed = sign(&forged, "reject.test", "rsa");
    let v = check(&checker, "helo.test", "billing@reject.test", &signed).await;
    assert_eq!(v.dmarc.result, AuthResult::Pass);
    assert!(v.dmarc.dkim_aligned && !v.dmarc.spf_aligned);
    assert_eq!(v.decision(&policy), Decision::Accept);

    // p=quarantine: delivered with marks, the subject tag when configured.
    let msg = message("a@quarantine.test", "hi", "x\r\n");
    let v = check(&checker, "helo.test", "a@quarantine.test", &msg).await;
    assert_eq!(v.dmarc.policy, DmarcPolicy::Quarantine);
    let tagged = TrustPolicy {
        subject_tag: Some("[SPAM]".into()),
        ..TrustPolicy::default()
    };
    let Decision::Mark {
        header_lines,
        subject_tag,
    } = v.decision(&tagged)
    else {
        panic!("p=quarantine marked");
    };
    assert!(header_lines.contains(&"X-Spam-Flag: YES\r\n".to_string()));
    assert!(header_lines.iter().all(|l| l.ends_with("\r\n")));
    assert_eq!(subject_tag.as_deref(), Some("[SPAM]"));

    // p=none: DMARC fails, but the domain asks for nothing.
    let msg = message("a@monitor.test", "hi", "x\r\n");
    let v = check(&checker, "helo.test", "a@monitor.test", &msg).await;
    assert_eq!(v.dmarc.result, AuthResult::Fail);
    assert_eq!(v.dmarc.policy, DmarcPolicy::None);
    assert_eq!(v.decision(&policy), Decision::Accept);
}

#[tokio::test]
async fn dmarc_relaxed_and_strict_alignment() {
    let dns = TestDns::start(zone());
    let checker = checker(&dns);
    for (domain, aligned) in [("relaxed.test", true), ("strict.test", false)] {
        // DKIM by a subdomain, nothing from SPF.
        let msg = sign(
            &message(&format!("a@{domain}"), "align", "x\r\n"),
            &format!("mail.{domain}"),
            "rsa",
        );
        let v = check(&checker, "helo.test", "a@elsewhere.test", &msg).await;
        assert_eq!(dkim_results(&v), [AuthResult::Pass]);
        assert_eq!(v.dmarc.dkim_aligned, aligned, "{domain} DKIM");

        // SPF of a subdomain bounce address, no signature.
        let msg = message(&format!("a@{domain}"), "align", "x\r\n");
        let bounce = format!("b@bounce.{domain}");
        let v = check(&checker, "helo.test", &bounce, &msg).await;
        assert_eq!(v.spf_mail_from.result, AuthResult::Pass);
        assert_eq!(v.dmarc.spf_aligned, aligned, "{domain} SPF");
        let want = if aligned {
            AuthResult::Pass
        } else {
            AuthResult::Fail
        };
        assert_eq!(v.dmarc.result, want, "{domain}");
        let letter = if aligned { 'r' } else { 's' };
        assert_eq!(
            (v.dmarc.adkim.letter(), v.dmarc.aspf.letter()),
            (letter, letter)
        );
    }
}

/// RFC 7489 finds the organizational domain with the public suffix list;
/// mail-auth follows its successor's DNS tree walk (RFC 9989), which needs
/// no list. The cases a list exists for: under `co.th` and `com.cn`, a
/// subdomain of the organization aligns with it, and another organization
/// under the same suffix does not.
#[tokio::test]
async fn organizational_domains_under_multi_label_public_suffixes() {
    let dns = TestDns::start(zone());
    let checker = checker(&dns);

    // Signed by a subdomain of the organization: aligned (relaxed).
    let msg = sign(
        &message("a@shop.co.th", "org", "x\r\n"),
        "mail.shop.co.th",
        "rsa",
    );
    let v = check(&checker, "helo.test", "a@elsewhere.test", &msg).await;
    assert_eq!(dkim_results(&v), [AuthResult::Pass]);
    assert!(
        v.dmarc.dkim_aligned,
        "mail.shop.co.th aligns with shop.co.th"
    );
    assert_eq!(v.dmarc.result, AuthResult::Pass);

    // A subdomain without its own record takes the organization's policy.
    let msg = message("a@news.shop.co.th", "org", "x\r\n");
    let v = check(&checker, "helo.test", "b@bounce.shop.co.th", &msg).await;
    assert_eq!(v.spf_mail_from.result, AuthResult::Pass);
    assert!(
        v.dmarc.spf_aligned,
        "bounce.shop.co.th aligns with news.shop.co.th"
    );
    assert_eq!(v.dmarc.result, AuthResult::Pass);

    for (org, other) in [
        ("shop.co.th", "other.co.th"),
        ("shop.com.cn", "other.com.cn"),
    ] {
        // Another organization under the same public suffix, with a valid
        // signature and SPF of its own: not aligned, so p=reject applies.
        let msg = sign(&message(&format!("a@{org}"), "org", "x\r\n"), other, "rsa");
        let v = check(&checker, "helo.test", &format!("b@{other}"), &msg).await;
        assert_eq!(dkim_results(&v), [AuthResult::Pass], "{other} signs");
        assert_eq!(v.spf_mail_from.result, AuthResult::Pass, "{other} SPF");
        assert!(!v.dmarc.dkim_aligned, "{other} must not align with {org}");
        assert!(!v.dmarc.spf_aligned, "{other} must not align with {org}");
        assert_eq!(v.dmarc.result, AuthResult::Fail, "{org}");
        assert_eq!(v.dmarc.policy, DmarcPolicy::Reject, "{org}");
    }

    // The organization's own bounce domain under com.cn aligns.
    let msg = message("a@shop.com.cn", "org", "x\r\n");
    let v = check(&checker, "helo.test", "b@bounce.shop.com.cn", &msg).await;
    assert!(v.dmarc.spf_aligned);
    assert_eq!(v.dmarc.result, AuthResult::Pass);
}

#[tokio::test]
async fn arc_chain_sealed_by_dkimpy_lets_a_trusted_forwarder_through() {
    let dns = TestDns::start(zone());
    let checker = checker(&dns);
    let k = keys();
    // reject.test signs; the forwarder checks it, adds a footer (which
    // breaks the signature) and seals the result with ARC.
    let original = sign(
        &message("news@reject.test", "Newsletter", "Read this.\r\n"),
        "reject.test",
        "rsa",
    );
    let forwarded = format!(
        "Authentication-Results: fwd.test; dkim=pass header.d=reject.test\r\n{original}-- \r\nsent via the list\r\n"
    );
    let sealed = dkimpy(json!({
        "op": "arc", "message": forwarded, "domain": "fwd.test", "selector": "rsa",
        "key": k.rsa_private, "srv_id": "fwd.test",
    }));
    let sealed = format!("{}{forwarded}", sealed["headers"].as_str().unwrap());

    let v = check(&checker, "helo.test", "list@fwd.test", &sealed).await;
    assert_eq!(v.arc.result, AuthResult::Pass, "{v:?}");
    assert_eq!(v.arc.instances, 1);
    assert_eq!(v.arc.sealer.as_deref(), Some("fwd.test"));
    assert_eq!(dkim_results(&v), [AuthResult::Fail]);
    assert_eq!(v.dmarc.result, AuthResult::Fail);

    // Not trusted: the DMARC failure stands. Trusted: accepted.
    assert!(matches!(
        v.decision(&TrustPolicy::default()),
        Decision::Reject { .. }
    ));
    let trusting = TrustPolicy {
        trusted_arc_sealers: vec!["fwd.test".into()],
        ..TrustPolicy::default()
    };
    assert_eq!(v.decision(&trusting), Decision::Accept);

    // A seal broken in transit fails the chain.
    let tampered = sealed.replace("Read this.", "Read that.");
    let v = check(&checker, "helo.test", "list@fwd.test", &tampered).await;
    assert_eq!(v.arc.result, AuthResult::Fail);
    assert!(matches!(v.decision(&trusting), Decision::Reject { .. }));
}

#[tokio::test]
async fn dns_timeout_is_a_temperror_and_a_451() {
    // A nameserver that takes every question and answers none.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dns = DnsSettings {
        nameservers: vec![silent.local_addr().unwrap()],
        timeout: Duration::from_millis(300),
    };
    let settings = TrustSettings {
        check_timeout: Duration::from_secs(3),
        ..TrustSettings::default()
    };
    let checker = TrustChecker::with_dns(settings, &dns).unwrap();
    let msg = sign(
        &message("a@sender.test", "hi", "x\r\n"),
        "sender.test",
        "rsa",
    );
    let started = std::time::Instant::now();
    let v = check(&checker, "helo.test", "a@sender.test", &msg).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "bounded in time"
    );
    assert_eq!(v.spf_mail_from.result, AuthResult::TempError);
    assert_eq!(dkim_results(&v), [AuthResult::TempError]);
    assert_eq!(v.dmarc.result, AuthResult::TempError);
    let Decision::TempFail {
        code,
        enhanced,
        text,
    } = v.decision(&TrustPolicy::default())
    else {
        panic!("a DNS timeout is a temporary failure");
    };
    assert_eq!(code, 451);
    assert!(enhanced.starts_with("4.7."), "{enhanced}");
    assert!(text.contains("try again"), "{text}");
    let header = v.authentication_results();
    assert!(
        header.contains("spf=temperror") && header.contains("dmarc=temperror"),
        "{header}"
    );

    // Failing open is a choice, not the default.
    let open = TrustPolicy {
        temperror: Action::Accept,
        ..TrustPolicy::default()
    };
    assert_eq!(v.decision(&open), Decision::Accept);
    drop(silent);
}

#[tokio::test]
async fn a_dkim_key_lookup_timeout_is_not_a_dmarc_failure() {
    let dns = TestDns::start(zone());
    let checker = checker(&dns);
    // reject.test (p=reject, SPF not covering us) signs with a selector
    // whose key does not arrive: without the key DMARC cannot fail.
    let msg = sign(
        &message("billing@reject.test", "hi", "x\r\n"),
        "reject.test",
        "slow",
    );
    let v = check(&checker, "helo.test", "billing@reject.test", &msg).await;
    assert_eq!(dkim_results(&v), [AuthResult::TempError]);
    assert_eq!(v.dmarc.result, AuthResult::TempError);
    assert!(matches!(
        v.decision(&TrustPolicy::default()),
        Decision::TempFail { code: 451, .. }
    ));
}

#[tokio::test]
async fn authentication_results_format() {
    let dns = TestDns::start(zone());
    let checker = checker(&dns);
    let msg = sign(
        &message("a@sender.test", "hi", "Hello.\r\n"),
        "sender.test",
        "rsa",
    );
    let v = check(&checker, "helo.test", "a@sender.test", &msg).await;
    let header = v.authentication_results();

    let lines: Vec<&str> = header.split_inclusive("\r\n").collect();
    assert_eq!(lines[0], "Authentication-Results: mx.praisani.test;\r\n");
    assert!(header.ends_with("\r\n") && !header.ends_with("\r\n\r\n"));
    assert!(
        lines[1..].iter().all(|l| l.starts_with('\t')),
        "folded: {header}"
    );
    assert!(lines.iter().all(|l| l.len() <= 998));
    assert!(lines[1].starts_with("\tspf=pass (sender.test designates 127.0.0.1 as permitted sender) smtp.mailfrom=a@sender.test;"), "{header}");
    assert!(
        lines[2].starts_with("\tspf=pass") && lines[2].contains("smtp.helo=helo.test;"),
        "{header}"
    );
    assert!(
        lines[3].starts_with(
            "\tdkim=pass header.d=sender.test header.s=rsa header.a=rsa-sha256 header.b="
        ),
        "{header}"
    );
    assert_eq!(lines[4], "\tarc=none smtp.remote-ip=127.0.0.1;\r\n");
    assert_eq!(
        lines[5],
        "\tdmarc=pass (p=reject adkim=r aspf=r) header.from=sender.test\r\n"
    );

    // An independent parser reads it back.
    let parsed = dkimpy(json!({"op": "parse_ar", "field": header}));
    assert_eq!(parsed["authserv_id"], HOST);
    assert_eq!(
        parsed["results"],
        json!([
            ["spf", "pass"],
            ["spf", "pass"],
            ["dkim", "pass"],
            ["arc", "none"],
            ["dmarc", "pass"]
        ])
    );

    // A hostile envelope cannot add results of its own.
    let v = check(
        &checker,
        "x.test; dkim=pass",
        "a\"; dmarc=pass@x.test",
        &msg,
    )
    .await;
    let header = v.authentication_results();
    let parsed = dkimpy(json!({"op": "parse_ar", "field": header}));
    let methods: Vec<&str> = parsed["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_str().unwrap())
        .collect();
    assert_eq!(methods, ["spf", "spf", "dkim", "arc", "dmarc"], "{header}");
}

#[tokio::test]
async fn the_stored_header_carries_our_results_and_marks() {
    let dns = TestDns::start(zone());
    let checker = checker(&dns);
    let forged =
        "Authentication-Results: MX.PRAISANI.TEST;\r\n\tdmarc=pass header.from=quarantine.test\r\n";

    // A signed message with a forged field of ours: the field goes, ours
    // comes on top, the signature still verifies on what is stored.
    let signed = sign(
        &message("a@sender.test", "hi", "Hello.\r\n"),
        "sender.test",
        "rsa",
    );
    let received = format!("{forged}{signed}");
    let v = check(&checker, "helo.test", "a@sender.test", &received).await;
    let decision = v.decision(&TrustPolicy::default());
    assert_eq!(decision, Decision::Accept);
    let stored = String::from_utf8(stored_header(received.as_bytes(), &v, &decision)).unwrap();
    assert!(stored.starts_with(&v.authentication_results()));
    assert_eq!(
        stored.matches("Authentication-Results:").count(),
        1,
        "{stored}"
    );
    assert!(stored.ends_with(&signed));
    let again = check(&checker, "helo.test", "a@sender.test", &stored).await;
    assert_eq!(dkim_results(&again), [AuthResult::Pass]);

    // p=quarantine with a subject tag: marked and tagged.
    let received = format!("{forged}{}", message("a@quarantine.test", "Offer", "x\r\n"));
    let v = check(&checker, "helo.test", "a@quarantine.test", &received).await;
    let tagged = TrustPolicy {
        subject_tag: Some("[SPAM]".into()),
        ..TrustPolicy::default()
    };
    let decision = v.decision(&tagged);
    let stored = String::from_utf8(stored_header(received.as_bytes(), &v, &decision)).unwrap();
    assert!(stored.starts_with("Authentication-Results: mx.praisani.test;\r\n"));
    assert!(
        stored
            .contains("\tdmarc=fail (p=quarantine adkim=r aspf=r) header.from=quarantine.test\r\n")
    );
    assert!(stored.contains("\r\nX-Spam-Flag: YES\r\n"), "{stored}");
    assert!(stored.contains("\r\nSubject: [SPAM] Offer\r\n"), "{stored}");
    assert!(
        !stored.contains("dmarc=pass"),
        "the forgery is gone: {stored}"
    );
}

#[test]
fn strip_removes_only_our_authserv_id() {
    let incoming = "Authentication-Results: other.example; spf=pass smtp.mailfrom=a@b\r\n\
        Authentication-Results: Mx.Praisani.Test;\r\n\tdkim=pass header.d=bank.example;\r\n\tdmarc=pass\r\n\
        Authentication-Results:\r\n  mx.praisani.test ; spf=pass\r\n\
        From: a@bank.example\r\n\r\nbody\r\n";
    let stripped = strip_authentication_results(incoming.as_bytes(), HOST);
    assert_eq!(
        String::from_utf8(stripped).unwrap(),
        "Authentication-Results: other.example; spf=pass smtp.mailfrom=a@b\r\n\
         From: a@bank.example\r\n\r\nbody\r\n"
    );
}

/// Sessions run on tokio's multi-threaded runtime: the checker is shared
/// between them and its check must be a `Send` future.
#[test]
fn the_checker_is_shareable_and_its_check_is_send() {
    fn shareable<T: Send + Sync>() {}
    fn send<T: Send>(_: &T) {}
    shareable::<TrustChecker>();
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dns = DnsSettings {
        nameservers: vec![silent.local_addr().unwrap()],
        timeout: Duration::from_millis(100),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let checker = TrustChecker::with_dns(TrustSettings::default(), &dns).unwrap();
    let future = checker.check(CheckInput {
        client_ip: IpAddr::from([127, 0, 0, 1]),
        helo: "helo.test",
        mail_from: "",
        hostname: HOST,
        message: b"From: a@b.test\r\n\r\n",
    });
    send(&future);
}
