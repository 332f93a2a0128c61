use super::*;

fn vacation(subject: Option<&str>) -> Vacation {
    Vacation {
        subject: subject.map(str::to_string),
        text: "ฉันไม่อยู่จนถึงวันจันทร์\n我周一回来。\n".into(),
        starts: Some(100),
        ends: Some(200),
        interval_days: 7,
    }
}

#[test]
fn robots_and_lists_by_local_part() {
    for robot in [
        "MAILER-DAEMON",
        "postmaster",
        "owner-thai-list",
        "thai-list-request",
        "noreply",
        "no-reply",
        "NoReply-billing",
        "DoNotReply",
        "listserv",
        "team-bounces",
    ] {
        assert!(is_robot(robot), "{robot}");
    }
    for person in ["anna", "somchai", "request", "owner", "reply", "สมชาย"] {
        assert!(!is_robot(person), "{person}");
    }
}

#[test]
fn automatic_and_list_headers_get_no_reply() {
    let skip = |h: &str| header_skip(format!("{h}\r\nSubject: x\r\n\r\n").as_bytes());
    assert_eq!(skip("From: a@x.test"), None);
    assert_eq!(skip("Auto-Submitted: no"), None);
    assert_eq!(
        skip("Auto-Submitted: auto-generated"),
        Some(Skip::Automatic)
    );
    assert_eq!(skip("auto-submitted: Auto-Replied"), Some(Skip::Automatic));
    assert_eq!(skip("Precedence: bulk"), Some(Skip::List));
    assert_eq!(skip("Precedence: JUNK"), Some(Skip::List));
    assert_eq!(skip("Precedence: list"), Some(Skip::List));
    assert_eq!(skip("Precedence: first-class"), None);
    assert_eq!(skip("List-Id: <thai.lists.test>"), Some(Skip::List));
    assert_eq!(
        skip("List-Unsubscribe: <mailto:x@lists.test>"),
        Some(Skip::List)
    );
    assert_eq!(
        skip("From: Mail Delivery System <MAILER-DAEMON@mx.test>"),
        Some(Skip::RobotSender)
    );
    assert_eq!(
        skip("Content-Type: multipart/report; report-type=delivery-status; boundary=b"),
        Some(Skip::Automatic)
    );
}

#[test]
fn dates_bound_the_vacation() {
    let v = vacation(None);
    assert!(!in_dates(&v, 99));
    assert!(in_dates(&v, 100));
    assert!(in_dates(&v, 199));
    assert!(!in_dates(&v, 200));
    let open = Vacation {
        starts: None,
        ends: None,
        ..v
    };
    assert!(in_dates(&open, i64::MIN) && in_dates(&open, i64::MAX));
}

fn reply(v: &Vacation, original: &str) -> Vec<u8> {
    build_reply(&ReplyInput {
        from: "anna@away.test",
        to: "ben@remote.test",
        vacation: v,
        original: original.as_bytes(),
        date: chrono::DateTime::parse_from_rfc3339("2026-12-03T10:00:00+07:00").unwrap(),
        message_id: "vacation.1@mx.away.test",
    })
}

#[test]
fn the_reply_threads_and_says_it_is_automatic() {
    let original = "From: ben@remote.test\r\nSubject: =?UTF-8?B?4Liq4Lin4Lix4Liq4LiU4Li1?= news\r\n\
                    Message-ID: <orig@remote.test>\r\nReferences: <a@x> <b@x>\r\n\r\n";
    let out = reply(&vacation(None), original);
    let msg = mail_parser::MessageParser::new().parse(&out).unwrap();
    assert_eq!(msg.subject(), Some("Auto: สวัสดี news"));
    assert_eq!(msg.in_reply_to().as_text(), Some("orig@remote.test"));
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains("References: <a@x> <b@x> <orig@remote.test>\r\n"),
        "{text}"
    );
    assert!(text.contains("Auto-Submitted: auto-replied\r\n"));
    assert!(text.contains("From: <anna@away.test>\r\n"));
    assert_eq!(
        msg.body_text(0).as_deref(),
        Some("ฉันไม่อยู่จนถึงวันจันทร์\r\n我周一回来。\r\n")
    );
    assert!(out.is_ascii(), "the header is encoded, the body base64");
    assert!(mime::lines_fit(&out));
}

#[test]
fn a_configured_subject_and_an_original_without_id() {
    let out = reply(
        &vacation(Some("ไม่อยู่\r\nBcc: x@evil.test")),
        "Subject: hi\r\n\r\n",
    );
    let msg = mail_parser::MessageParser::new().parse(&out).unwrap();
    assert_eq!(msg.subject(), Some("ไม่อยู่ Bcc: x@evil.test"));
    let text = String::from_utf8_lossy(&out);
    assert!(!text.contains("In-Reply-To") && !text.contains("References"));
    assert!(!text.contains("\r\nBcc"));
    let plain = reply(&vacation(None), "From: a@b\r\n\r\n");
    let msg = mail_parser::MessageParser::new().parse(&plain).unwrap();
    assert_eq!(msg.subject(), Some("Auto:"));
}
