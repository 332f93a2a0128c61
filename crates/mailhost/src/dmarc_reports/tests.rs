use super::build;
use super::row::{Disposition, Override, Policy, Row};
use super::send::{candidates, related};
use super::*;
use crate::trust::{
    Alignment, ArcCheck, DkimCheck, DmarcCheck, DmarcPolicy, Published, SpfCheck, SpfIdentity,
};
use praisani_store::dmarc::DmarcDay;
use std::io::Read;

fn verdict(dmarc: AuthResult, ip: [u8; 4]) -> Verdict {
    Verdict {
        authserv_id: "mx.test".into(),
        client_ip: ip.into(),
        spf_helo: SpfCheck {
            identity: SpfIdentity::Helo,
            subject: "mail.sender.test".into(),
            domain: "mail.sender.test".into(),
            result: AuthResult::None,
            explanation: None,
        },
        spf_mail_from: SpfCheck {
            identity: SpfIdentity::MailFrom,
            subject: "bob@Bounce.Sender.test".into(),
            domain: "bounce.sender.test".into(),
            result: if dmarc == AuthResult::Pass {
                AuthResult::Pass
            } else {
                AuthResult::Fail
            },
            explanation: None,
        },
        dkim: vec![DkimCheck {
            result: AuthResult::Fail,
            domain: Some("sender.test".into()),
            selector: Some("s1".into()),
            algorithm: Some("rsa-sha256"),
            b_prefix: None,
            reason: None,
        }],
        arc: ArcCheck {
            result: AuthResult::None,
            instances: 0,
            sealer: None,
            reason: None,
        },
        dmarc: DmarcCheck {
            result: dmarc,
            from_domain: "sender.test".into(),
            record: true,
            policy: DmarcPolicy::Reject,
            spf_aligned: dmarc == AuthResult::Pass,
            dkim_aligned: false,
            adkim: Alignment::Strict,
            aspf: Alignment::Relaxed,
            published: Some(Published {
                p: DmarcPolicy::Reject,
                sp: DmarcPolicy::Quarantine,
                testing: false,
                fo: "1",
                rua: vec![("dmarc@sender.test".into(), 0)],
            }),
        },
    }
}

fn reject() -> Decision {
    Decision::Reject {
        code: 550,
        enhanced: "5.7.1",
        text: "no".into(),
    }
}

#[test]
fn events_only_for_decided_dmarc_with_rua() {
    let now = 3 * DAY + 5;
    let e = event(
        &verdict(AuthResult::Pass, [192, 0, 2, 1]),
        &Decision::Accept,
        "example.test",
        now,
    )
    .expect("reported");
    assert_eq!((e.day, e.domain.as_str()), (3, "sender.test"));
    let row = Row::from_text(&e.row).expect("row");
    assert_eq!(row.disposition, Disposition::None);
    assert_eq!(row.envelope_from, "bounce.sender.test");
    assert_eq!(
        row.dkim,
        vec![("sender.test".into(), "s1".into(), AuthResult::Fail)]
    );
    let policy = Policy::from_text(&e.policy).expect("policy");
    assert_eq!(
        (policy.p, policy.sp, policy.adkim),
        (
            DmarcPolicy::Reject,
            DmarcPolicy::Quarantine,
            Alignment::Strict
        )
    );

    // Equal messages make equal rows: the store counts them together.
    let again = event(
        &verdict(AuthResult::Pass, [192, 0, 2, 1]),
        &Decision::Accept,
        "example.test",
        now + 60,
    )
    .unwrap();
    assert_eq!(again.row, e.row);
    let other_ip = event(
        &verdict(AuthResult::Pass, [192, 0, 2, 2]),
        &Decision::Accept,
        "example.test",
        now,
    )
    .unwrap();
    assert_ne!(other_ip.row, e.row);

    let mut no_rua = verdict(AuthResult::Pass, [192, 0, 2, 1]);
    no_rua.dmarc.published.as_mut().unwrap().rua.clear();
    assert_eq!(event(&no_rua, &Decision::Accept, "", now), None);
    let temp = verdict(AuthResult::TempError, [192, 0, 2, 1]);
    assert_eq!(event(&temp, &Decision::Accept, "", now), None);
    let tempfail = Decision::TempFail {
        code: 451,
        enhanced: "4.7.0",
        text: "later".into(),
    };
    assert_eq!(
        event(
            &verdict(AuthResult::Fail, [192, 0, 2, 1]),
            &tempfail,
            "",
            now
        ),
        None
    );
}

#[test]
fn milder_dispositions_say_why() {
    let failed = verdict(AuthResult::Fail, [192, 0, 2, 1]);
    let rejected = Row::of(&failed, Disposition::Reject, "example.test");
    assert_eq!(rejected.reason, None);
    let let_through = Row::of(&failed, Disposition::Quarantine, "example.test");
    assert_eq!(let_through.reason, Some(Override::LocalPolicy));
    let mut testing = failed.clone();
    testing.dmarc.published.as_mut().unwrap().testing = true;
    assert_eq!(
        Row::of(&testing, Disposition::None, "").reason,
        Some(Override::TestMode)
    );
    let passed = verdict(AuthResult::Pass, [192, 0, 2, 1]);
    assert_eq!(Row::of(&passed, Disposition::None, "").reason, None);
}

fn settings() -> ReportSettings {
    ReportSettings {
        org_name: "Example Hosting".into(),
        from: "dmarc-reports@mx.test".into(),
        max_rows: 100,
        max_domains: 100,
        send_delay: Duration::from_secs(600),
    }
}

#[test]
fn report_xml_and_message() {
    let pass = event(
        &verdict(AuthResult::Pass, [192, 0, 2, 1]),
        &Decision::Accept,
        "example.test",
        20_000 * DAY,
    )
    .unwrap();
    let fail = event(
        &verdict(AuthResult::Fail, [198, 51, 100, 7]),
        &reject(),
        "example.test",
        20_000 * DAY,
    )
    .unwrap();
    let day = DmarcDay {
        domain: "sender.test".into(),
        day: 20_000,
        policy: pass.policy.clone(),
        rows: vec![(pass.row, 3), (fail.row, 2)],
        dropped: 4,
    };
    let (report, policy) = build::report(&settings(), &day, "rid-1").unwrap();
    assert_eq!(policy.rua, vec![("dmarc@sender.test".to_string(), 0)]);
    let xml = report.to_xml();
    for want in [
        "<org_name>Example Hosting</org_name>",
        "<email>dmarc-reports@mx.test</email>",
        "<report_id>rid-1</report_id>",
        &format!("<begin>{}</begin>", 20_000 * DAY),
        &format!("<end>{}</end>", 20_001 * DAY - 1),
        "<domain>sender.test</domain>",
        "<p>reject</p>",
        "<sp>quarantine</sp>",
        "<adkim>s</adkim>",
        "<source_ip>192.0.2.1</source_ip>",
        "<count>3</count>",
        "<source_ip>198.51.100.7</source_ip>",
        "<count>2</count>",
        "<disposition>reject</disposition>",
        "<envelope_to>example.test</envelope_to>",
        "<header_from>sender.test</header_from>",
        "<selector>s1</selector>",
        "4 messages not reported",
    ] {
        assert!(xml.contains(want), "{want} missing from\n{xml}");
    }
    let message = build::message(
        &report,
        &settings(),
        "mx.test",
        "dmarc@sender.test",
        chrono::Utc::now(),
    )
    .unwrap();
    let text = String::from_utf8_lossy(&message);
    assert!(
        text.contains("Subject: Report Domain: sender.test Submitter: mx.test Report-ID: <rid-1>"),
        "{text}"
    );
    let name = format!(
        "mx.test!sender.test!{}!{}.xml.gz",
        20_000 * DAY,
        20_001 * DAY - 1
    );
    assert!(text.contains(&name), "{text}");
    // The attachment is the gzipped XML.
    let parsed = mail_parser::MessageParser::default()
        .parse(&message)
        .unwrap();
    let gz = parsed.attachment(0).expect("attachment").contents();
    let mut unzipped = String::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_string(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, xml);
}

#[test]
fn report_address_relations() {
    assert!(related("sender.test", "sender.test"));
    assert!(related("sender.test", "reports.sender.test"));
    assert!(related("mail.sender.test", "sender.test"));
    assert!(!related("mail.sender.test", "test"), "not a bare TLD");
    assert!(!related("sender.test", "other.test"));
    assert!(!related("evilsender.test", "sender.test"));
    assert_eq!(
        candidates("a.b.sender.test").collect::<Vec<_>>(),
        ["a.b.sender.test", "b.sender.test", "sender.test"]
    );
}

#[test]
fn next_send_is_after_midnight_plus_delay() {
    let delay = Duration::from_secs(600);
    assert_eq!(until_next_send(5 * DAY, delay), Duration::from_secs(600));
    assert_eq!(
        until_next_send(5 * DAY + 600, delay),
        Duration::from_secs(DAY as u64)
    );
    assert_eq!(
        until_next_send(5 * DAY + 700, delay),
        Duration::from_secs(DAY as u64 - 100)
    );
}
