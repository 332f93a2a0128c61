//! The report is parsed back with a small MIME splitter written here, apart
//! from the builder's own helpers, and checked field by field.

use super::*;

// ---------------------------------------------------------------- fixtures

fn date(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc2822(s).expect("test date")
}

const ORIGINAL: &[u8] = b"From: Alice <alice@example.com>\r\n\
To: bob@example.org\r\n\
Subject: Lunch\r\n\
Message-ID: <lunch-1@example.com>\r\n\
\r\n\
Shall we meet at noon?\r\n\
--=_not_our_boundary\r\n";

fn failed(addr: &str) -> RecipientStatus {
    RecipientStatus {
        final_recipient: typed_address(addr),
        original_recipient: Some(format!("rfc822;{addr}")),
        action: Action::Failed,
        status: "5.1.1".into(),
        remote_mta: Some("dns;mx.example.org".into()),
        diagnostic: Some("smtp;550 5.1.1 <bob@example.org>: No such user".into()),
        last_attempt: Some(date("Tue, 2 Jan 2024 10:05:00 +0700")),
        will_retry_until: None,
    }
}

fn delayed(addr: &str) -> RecipientStatus {
    RecipientStatus {
        final_recipient: typed_address(addr),
        original_recipient: None,
        action: Action::Delayed,
        status: "4.4.1".into(),
        remote_mta: None,
        diagnostic: Some("smtp;421 4.4.1 Try again later".into()),
        last_attempt: Some(date("Tue, 2 Jan 2024 11:00:00 +0700")),
        will_retry_until: Some(date("Sun, 7 Jan 2024 10:00:00 +0700")),
    }
}

fn request<'a>(recipients: &'a [RecipientStatus], original: &'a [u8]) -> DsnRequest<'a> {
    DsnRequest {
        reporting_mta: "mail.example.com",
        dsn_from: "MAILER-DAEMON@mail.example.com",
        to: "alice@example.com",
        envelope_id: Some("QQ314159"),
        arrival: date("Tue, 2 Jan 2024 10:00:00 +0700"),
        recipients,
        original,
        ret: Return::Full,
        smtputf8: false,
        language: Language::En,
        message_id: "dsn-1@mail.example.com",
        max_attach: 1 << 20,
    }
}

fn build_ok(req: &DsnRequest) -> Vec<u8> {
    let out = build(req).expect("build");
    check_lines(&out);
    out
}

// ------------------------------------------------------ independent parser

#[derive(Debug)]
struct Entity {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Entity {
    fn parse(bytes: &[u8]) -> Entity {
        let split = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("header/body separator");
        let head = std::str::from_utf8(&bytes[..split]).expect("UTF-8 headers");
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.split("\r\n") {
            if line.starts_with(' ') || line.starts_with('\t') {
                headers.last_mut().expect("continuation").1.push_str(line);
            } else {
                let (n, v) = line.split_once(':').expect("field has a colon");
                headers.push((n.to_string(), v.to_string()));
            }
        }
        for h in &mut headers {
            h.1 = h.1.trim().to_string();
        }
        Entity {
            headers,
            body: bytes[split + 4..].to_vec(),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn content_type(&self) -> String {
        let ct = self.header("Content-Type").expect("Content-Type");
        ct.split(';').next().unwrap().trim().to_ascii_lowercase()
    }

    fn param(&self, name: &str) -> Option<String> {
        let ct = self.header("Content-Type")?;
        ct.split(';').skip(1).find_map(|p| {
            let (n, v) = p.split_once('=')?;
            (n.trim().eq_ignore_ascii_case(name)).then(|| v.trim().trim_matches('"').to_string())
        })
    }

    /// The body with its Content-Transfer-Encoding undone.
    fn decoded(&self) -> Vec<u8> {
        match self
            .header("Content-Transfer-Encoding")
            .map(str::to_ascii_lowercase)
        {
            Some(cte) if cte == "base64" => unbase64(&self.body),
            _ => self.body.clone(),
        }
    }

    /// The parts of a multipart body, split on the boundary parameter.
    fn parts(&self) -> Vec<Entity> {
        let boundary = self.param("boundary").expect("boundary");
        let delimiter = format!("\r\n--{boundary}");
        // Prefix CRLF so a delimiter on the first line is found too.
        let mut body = b"\r\n".to_vec();
        body.extend_from_slice(&self.body);
        let mut pieces = Vec::new();
        let mut rest: &[u8] = &body;
        let mut started = false;
        loop {
            let pos = rest
                .windows(delimiter.len())
                .position(|w| w == delimiter.as_bytes())
                .expect("closing delimiter");
            if started {
                pieces.push(Entity::parse(&rest[..pos]));
            }
            started = true;
            rest = &rest[pos + delimiter.len()..];
            if rest.starts_with(b"--") {
                assert_eq!(&rest[2..], b"\r\n", "nothing after the close delimiter");
                break;
            }
            rest = rest.strip_prefix(b"\r\n").expect("CRLF after delimiter");
        }
        pieces
    }
}

fn unbase64(data: &[u8]) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let clean: Vec<u8> = data
        .iter()
        .copied()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    assert_eq!(clean.len() % 4, 0, "base64 length");
    let mut out = Vec::new();
    for quad in clean.chunks(4) {
        let pad = quad.iter().filter(|&&c| c == b'=').count();
        let mut n = 0u32;
        for &c in quad {
            n = (n << 6) | if c == b'=' { 0 } else { u32::from(value(c)) };
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    out
}

/// Groups of fields of a delivery-status body, split at empty lines.
fn status_groups(body: &[u8]) -> Vec<Vec<(String, String)>> {
    let text = std::str::from_utf8(body).expect("UTF-8 status");
    let text = text.strip_suffix("\r\n").expect("ends in CRLF");
    text.split("\r\n\r\n")
        .map(|group| {
            let mut fields: Vec<(String, String)> = Vec::new();
            for line in group.split("\r\n") {
                if line.starts_with(' ') || line.starts_with('\t') {
                    fields.last_mut().unwrap().1.push_str(line);
                } else {
                    let (n, v) = line.split_once(':').expect("colon");
                    fields.push((n.to_string(), v.trim().to_string()));
                }
            }
            fields
        })
        .collect()
}

fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// CRLF everywhere, no bare CR or LF, no line over 998 octets.
fn check_lines(msg: &[u8]) {
    assert!(msg.ends_with(b"\r\n"));
    for (i, &b) in msg.iter().enumerate() {
        if b == b'\n' {
            assert_eq!(msg.get(i.wrapping_sub(1)), Some(&b'\r'), "bare LF at {i}");
        }
        if b == b'\r' {
            assert_eq!(msg.get(i + 1), Some(&b'\n'), "bare CR at {i}");
        }
    }
    for line in msg.split(|&b| b == b'\n') {
        assert!(line.len() <= 999, "line of {} octets", line.len());
    }
}

fn decode_encoded_words(value: &str) -> String {
    let mut bytes = Vec::new();
    for word in value.split_whitespace() {
        let inner = word
            .strip_prefix("=?UTF-8?B?")
            .and_then(|w| w.strip_suffix("?="))
            .expect("encoded word");
        bytes.extend(unbase64(inner.as_bytes()));
    }
    String::from_utf8(bytes).expect("UTF-8 subject")
}

// ------------------------------------------------------------------- tests

#[test]
fn failed_report_is_a_multipart_report_with_three_parts() {
    let recipients = [failed("bob@example.org")];
    let out = build_ok(&request(&recipients, ORIGINAL));
    let msg = Entity::parse(&out);

    assert_eq!(
        msg.header("From"),
        Some("Mail Delivery System <MAILER-DAEMON@mail.example.com>")
    );
    assert_eq!(msg.header("To"), Some("<alice@example.com>"));
    assert_eq!(
        msg.header("Subject"),
        Some("Undelivered Mail Returned to Sender")
    );
    assert_eq!(msg.header("Message-ID"), Some("<dsn-1@mail.example.com>"));
    assert_eq!(msg.header("MIME-Version"), Some("1.0"));
    assert_eq!(msg.header("Auto-Submitted"), Some("auto-replied"));
    DateTime::parse_from_rfc2822(msg.header("Date").expect("Date")).expect("RFC 5322 date");
    assert_eq!(msg.content_type(), "multipart/report");
    assert_eq!(msg.param("report-type").as_deref(), Some("delivery-status"));

    let parts = msg.parts();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[0].content_type(), "text/plain");
    assert_eq!(parts[0].param("charset").as_deref(), Some("utf-8"));
    assert_eq!(parts[1].content_type(), "message/delivery-status");
    assert_eq!(parts[2].content_type(), "message/rfc822");

    // The boundary occurs nowhere inside the parts.
    let boundary = msg.param("boundary").unwrap();
    for part in &parts {
        let text = String::from_utf8_lossy(&part.body);
        assert!(!text.contains(&boundary));
    }
    // The whole original comes back unchanged, including its own "--" line.
    assert_eq!(parts[2].body, ORIGINAL);

    let human = String::from_utf8(parts[0].decoded()).unwrap();
    assert!(human.contains("This is the mail system at host mail.example.com."));
    assert!(human.contains("\r\nbob@example.org\r\n"));
    assert!(human.contains("Server reply: 550 5.1.1 <bob@example.org>: No such user"));
    assert!(human.contains("A copy of your message is attached."));
}

#[test]
fn delivery_status_fields_are_exact() {
    let mut with_junk = failed("carol@example.net");
    with_junk.original_recipient = Some("rfc822;Carol@Example.NET".into());
    // A Will-Retry-Until on a failed recipient is not written.
    with_junk.will_retry_until = Some(date("Wed, 3 Jan 2024 00:00:00 +0000"));
    with_junk.diagnostic = Some("smtp;550-5.7.1 Go away\r\n550 5.7.1 \tnow\x07".into());
    with_junk.status = "5.7.1".into();
    with_junk.remote_mta = Some("mx2.example.net".into());
    let recipients = [
        failed("bob@example.org"),
        delayed("dave@example.org"),
        with_junk,
    ];
    let out = build_ok(&request(&recipients, ORIGINAL));
    let parts = Entity::parse(&out).parts();
    let groups = status_groups(&parts[1].body);
    assert_eq!(groups.len(), 4);
    assert_eq!(
        groups[0],
        fields(&[
            ("Original-Envelope-Id", "QQ314159"),
            ("Reporting-MTA", "dns;mail.example.com"),
            ("Arrival-Date", "Tue, 2 Jan 2024 10:00:00 +0700"),
        ])
    );
    assert_eq!(
        groups[1],
        fields(&[
            ("Original-Recipient", "rfc822;bob@example.org"),
            ("Final-Recipient", "rfc822;bob@example.org"),
            ("Action", "failed"),
            ("Status", "5.1.1"),
            ("Remote-MTA", "dns;mx.example.org"),
            (
                "Diagnostic-Code",
                "smtp;550 5.1.1 <bob@example.org>: No such user"
            ),
            ("Last-Attempt-Date", "Tue, 2 Jan 2024 10:05:00 +0700"),
        ])
    );
    assert_eq!(
        groups[2],
        fields(&[
            ("Final-Recipient", "rfc822;dave@example.org"),
            ("Action", "delayed"),
            ("Status", "4.4.1"),
            ("Diagnostic-Code", "smtp;421 4.4.1 Try again later"),
            ("Last-Attempt-Date", "Tue, 2 Jan 2024 11:00:00 +0700"),
            ("Will-Retry-Until", "Sun, 7 Jan 2024 10:00:00 +0700"),
        ])
    );
    assert_eq!(
        groups[3],
        fields(&[
            ("Original-Recipient", "rfc822;Carol@Example.NET"),
            ("Final-Recipient", "rfc822;carol@example.net"),
            ("Action", "failed"),
            ("Status", "5.7.1"),
            ("Remote-MTA", "dns;mx2.example.net"),
            ("Diagnostic-Code", "smtp;550-5.7.1 Go away 550 5.7.1 now"),
            ("Last-Attempt-Date", "Tue, 2 Jan 2024 10:05:00 +0700"),
        ])
    );
    assert_eq!(
        parts[1].header("Content-Transfer-Encoding"),
        Some("7bit"),
        "ASCII status part"
    );
}

#[test]
fn no_envelope_id_means_no_field() {
    let recipients = [failed("bob@example.org")];
    let mut req = request(&recipients, ORIGINAL);
    req.envelope_id = None;
    let parts = Entity::parse(&build_ok(&req)).parts();
    let groups = status_groups(&parts[1].body);
    assert_eq!(groups[0][0].0, "Reporting-MTA");
}

#[test]
fn ret_hdrs_returns_only_the_header_section() {
    let recipients = [failed("bob@example.org")];
    let mut req = request(&recipients, ORIGINAL);
    req.ret = Return::Headers;
    let out = build_ok(&req);
    let parts = Entity::parse(&out).parts();
    assert_eq!(parts[2].content_type(), "text/rfc822-headers");
    let head = parts[2].decoded();
    let expected_end = ORIGINAL.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 2;
    assert_eq!(head, &ORIGINAL[..expected_end]);
    assert!(!String::from_utf8_lossy(&out).contains("Shall we meet"));
    let human = String::from_utf8(parts[0].decoded()).unwrap();
    assert!(human.contains("The headers of your message are attached."));
}

#[test]
fn oversized_full_return_is_cut_to_headers_and_says_so() {
    let recipients = [failed("bob@example.org")];
    let mut req = request(&recipients, ORIGINAL);
    req.max_attach = 40;
    let out = build_ok(&req);
    let parts = Entity::parse(&out).parts();
    assert_eq!(parts[2].content_type(), "text/rfc822-headers");
    assert!(!String::from_utf8_lossy(&out).contains("Shall we meet"));
    let human = String::from_utf8(parts[0].decoded()).unwrap();
    let expected = format!(
        "Your message was too large to return in full ({} bytes; the limit is 40 bytes), \
         so only its headers are attached.",
        ORIGINAL.len()
    );
    assert!(human.contains(&expected), "{human}");

    // Exactly at the limit it still goes back whole.
    req.max_attach = ORIGINAL.len();
    let parts = Entity::parse(&build_ok(&req)).parts();
    assert_eq!(parts[2].content_type(), "message/rfc822");
}

#[test]
fn reports_without_failures_return_headers_even_for_ret_full() {
    let recipients = [delayed("dave@example.org")];
    let out = build_ok(&request(&recipients, ORIGINAL));
    let msg = Entity::parse(&out);
    assert_eq!(
        msg.header("Subject"),
        Some("Delayed Mail (still being retried)")
    );
    let parts = msg.parts();
    assert_eq!(parts[2].content_type(), "text/rfc822-headers");
    let human = String::from_utf8(parts[0].decoded()).unwrap();
    assert!(human.contains("Will keep trying until: Sun, 7 Jan 2024 10:00:00 +0700"));
    assert!(human.contains("there is no need to send it again"));
}

#[test]
fn original_with_overlong_lines_or_bare_lf_is_handled() {
    let recipients = [failed("bob@example.org")];
    // Bare LF is repaired to CRLF, and the message still goes back whole.
    let lf = b"Subject: x\n\nbody\n";
    let parts = Entity::parse(&build_ok(&request(&recipients, lf))).parts();
    assert_eq!(parts[2].content_type(), "message/rfc822");
    assert_eq!(parts[2].body, b"Subject: x\r\n\r\nbody\r\n");

    // A 2000-octet body line cannot travel: headers only, with the reason.
    let mut long = b"Subject: x\r\n\r\n".to_vec();
    long.extend(std::iter::repeat_n(b'a', 2000));
    long.extend_from_slice(b"\r\n");
    let parts = Entity::parse(&build_ok(&request(&recipients, &long))).parts();
    assert_eq!(parts[2].content_type(), "text/rfc822-headers");
    let human = String::from_utf8(parts[0].decoded()).unwrap();
    assert!(human.contains("lines longer than mail transport allows"));

    // An empty original: two parts only.
    let parts = Entity::parse(&build_ok(&request(&recipients, b""))).parts();
    assert_eq!(parts.len(), 2);
}

#[test]
fn smtputf8_uses_global_types_and_utf8_addresses() {
    let mut r = failed("用户@例子.中国");
    r.original_recipient = Some("utf-8;用户@例子.中国".into());
    let recipients = [r];
    let original = "From: 张三 <张三@例子.中国>\r\nSubject: 你好\r\n\r\n正文\r\n".as_bytes();
    let mut req = request(&recipients, original);
    req.smtputf8 = true;
    req.to = "张三@例子.中国";
    req.language = Language::Zh;
    let out = build_ok(&req);
    let msg = Entity::parse(&out);
    assert_eq!(msg.header("To"), Some("<张三@例子.中国>"));
    // Raw UTF-8 subject (RFC 6532), not encoded words.
    assert_eq!(msg.header("Subject"), Some("邮件无法投递，已退回发件人"));
    let parts = msg.parts();
    assert_eq!(parts[0].header("Content-Transfer-Encoding"), Some("8bit"));
    assert_eq!(parts[1].content_type(), "message/global-delivery-status");
    assert_eq!(parts[2].content_type(), "message/global");
    assert_eq!(parts[2].body, original);
    let groups = status_groups(&parts[1].body);
    assert_eq!(
        groups[1][0],
        ("Original-Recipient".into(), "utf-8;用户@例子.中国".into())
    );
    assert_eq!(
        groups[1][1],
        ("Final-Recipient".into(), "utf-8;用户@例子.中国".into())
    );

    req.ret = Return::Headers;
    let parts = Entity::parse(&build_ok(&req)).parts();
    assert_eq!(parts[2].content_type(), "message/global-headers");
    assert_eq!(parts[2].header("Content-Transfer-Encoding"), Some("8bit"));
    assert_eq!(
        parts[2].body,
        "From: 张三 <张三@例子.中国>\r\nSubject: 你好\r\n".as_bytes()
    );
}

#[test]
fn utf8_address_without_smtputf8_is_downgraded_to_xtext() {
    assert_eq!(typed_address("bob@example.org"), "rfc822;bob@example.org");
    assert_eq!(
        typed_address("a+b=c@例.jp"),
        "utf-8;a\\x{2B}b\\x{3D}c@例.jp"
    );
    let mut r = failed("用户@例子.中国");
    r.original_recipient = Some("rfc822;用户@例子.中国".into());
    let recipients = [r];
    let out = build_ok(&request(&recipients, ORIGINAL));
    let parts = Entity::parse(&out).parts();
    assert_eq!(parts[1].content_type(), "message/delivery-status");
    assert!(parts[1].body.is_ascii());
    let groups = status_groups(&parts[1].body);
    let xtext = "utf-8;\\x{7528}\\x{6237}@\\x{4F8B}\\x{5B50}.\\x{4E2D}\\x{56FD}";
    assert_eq!(groups[1][0], ("Original-Recipient".into(), xtext.into()));
    assert_eq!(groups[1][1], ("Final-Recipient".into(), xtext.into()));
    // People still read the address as written.
    let human = String::from_utf8(parts[0].decoded()).unwrap();
    assert!(human.contains("\r\n用户@例子.中国\r\n"));
    assert_eq!(parts[0].header("Content-Transfer-Encoding"), Some("base64"));
}

fn human_matches_template(language: Language, sentences: &[&str], subject: &str) {
    let recipients = [failed("bob@example.org")];
    let mut req = request(&recipients, ORIGINAL);
    req.language = language;
    let out = build_ok(&req);
    assert!(out.is_ascii(), "7-bit report without smtputf8");
    let msg = Entity::parse(&out);
    assert_eq!(
        decode_encoded_words(msg.header("Subject").unwrap()),
        subject
    );
    let parts = msg.parts();
    assert_eq!(parts[0].header("Content-Transfer-Encoding"), Some("base64"));
    assert_eq!(
        parts[0].header("Content-Language"),
        Some(text::texts(language).tag)
    );
    let decoded = parts[0].decoded();
    let human = String::from_utf8(decoded.clone()).expect("valid UTF-8");
    let lines: Vec<text::Line> = recipients.iter().map(human_line).collect();
    let template = text::human(
        language,
        "mail.example.com",
        Outcome::Failed,
        &lines,
        ReturnNote::Full,
    );
    assert_eq!(human, template.replace('\n', "\r\n"));
    for sentence in sentences {
        assert!(human.contains(sentence), "missing {sentence:?} in {human}");
    }
}

#[test]
fn thai_human_part() {
    human_matches_template(
        Language::Th,
        &[
            "นี่คือข้อความจากระบบส่งอีเมลของเซิร์ฟเวอร์ mail.example.com",
            "ขออภัย ระบบไม่สามารถส่งข้อความของคุณถึงผู้รับบางรายหรือทั้งหมดได้ และได้หยุดพยายามส่งแล้ว",
            "    ผลการส่ง: ส่งไม่สำเร็จ และจะไม่พยายามส่งอีก\r\n",
            "    คำตอบจากเซิร์ฟเวอร์: 550 5.1.1 <bob@example.org>: No such user\r\n",
            "สำเนาข้อความของคุณแนบมาด้านล่างนี้",
        ],
        "ส่งอีเมลไม่สำเร็จ ข้อความถูกส่งคืนถึงผู้ส่ง",
    );
}

#[test]
fn chinese_human_part() {
    human_matches_template(
        Language::Zh,
        &[
            "这是来自 mail.example.com 邮件系统的自动通知。",
            "很抱歉，您的邮件无法投递给以下部分或全部收件人，系统已停止尝试投递。",
            "    投递结果：投递失败，不再重试\r\n",
            "    对方服务器：mx.example.org\r\n",
            "随附您的原始邮件副本。",
        ],
        "邮件无法投递，已退回发件人",
    );
}

#[test]
fn subject_encoded_words_are_short_and_split_between_characters() {
    let long = "ส่งอีเมลไม่สำเร็จ ข้อความถูกส่งคืนถึงผู้ส่ง และอีกหลายคำเพื่อให้ยาวขึ้น";
    let words = crate::rfc2047::encoded_words(long, crate::rfc2047::FOLDED_WORD_OCTETS);
    assert!(words.len() > 2);
    for w in &words {
        assert!(w.len() <= 75, "{w}");
        let inner = &w["=?UTF-8?B?".len()..w.len() - 2];
        String::from_utf8(unbase64(inner.as_bytes())).expect("whole characters per word");
    }
    assert_eq!(decode_encoded_words(&words.join(" ")), long);
    // In the report the folded Subject keeps every line under 78 octets.
    let recipients = [failed("bob@example.org")];
    let mut req = request(&recipients, ORIGINAL);
    req.language = Language::Th;
    let out = build_ok(&req);
    let text = String::from_utf8(out).unwrap();
    let start = text.find("Subject:").unwrap();
    let mut subject_lines = text[start..].split("\r\n");
    let first = subject_lines.next().unwrap();
    assert!(first.len() <= 76);
    for line in subject_lines.take_while(|l| l.starts_with(' ')) {
        assert!(line.len() <= 76);
    }
}

#[test]
fn is_automatic_detects_reports_and_auto_submitted() {
    let recipients = [failed("bob@example.org")];
    let dsn = build_ok(&request(&recipients, ORIGINAL));
    // Without its Auto-Submitted field the DSN is still recognised by type.
    let text = String::from_utf8(dsn.clone()).unwrap();
    let stripped = text.replace("Auto-Submitted: auto-replied\r\n", "");
    assert!(is_automatic(&dsn));
    assert!(is_automatic(stripped.as_bytes()));

    assert!(is_automatic(
        b"From: cron@example.com\r\nAuto-Submitted: auto-generated\r\n\r\nhi\r\n"
    ));
    assert!(is_automatic(b"Auto-Submitted: Auto-Replied (vacation)\r\n"));
    assert!(is_automatic(
        b"Content-Type: multipart/report;\r\n\treport-type=\"Delivery-Status\"; boundary=x\r\n\r\n"
    ));
    assert!(!is_automatic(ORIGINAL));
    assert!(!is_automatic(
        b"From: a@example.com\r\nAuto-Submitted: no\r\n\r\nhi\r\n"
    ));
    assert!(!is_automatic(
        b"Auto-Submitted: No (a person wrote this)\r\n\r\n"
    ));
    assert!(!is_automatic(
        b"Content-Type: multipart/report; report-type=feedback-report; boundary=x\r\n\r\n"
    ));
    // Fields in the body do not count.
    assert!(!is_automatic(
        b"Subject: hi\r\n\r\nAuto-Submitted: auto-generated\r\n"
    ));
}

#[test]
fn refuses_bad_requests() {
    let recipients = [failed("bob@example.org")];
    let mut req = request(&recipients, ORIGINAL);
    req.to = "";
    assert_eq!(build(&req), Err(DsnError::NullSender));
    req.to = "alice@example.com\r\nBcc: victim@example.net";
    assert!(matches!(
        build(&req),
        Err(DsnError::InvalidField { field: "to", .. })
    ));
    req.to = "张三@例子.中国";
    assert!(matches!(
        build(&req),
        Err(DsnError::InvalidField { field: "to", .. })
    ));
    req.to = "alice@example.com";
    req.recipients = &[];
    assert_eq!(build(&req), Err(DsnError::NoRecipients));
    let mut bad = failed("bob@example.org");
    bad.status = "550".into();
    let bad = [bad];
    req.recipients = &bad;
    assert_eq!(build(&req), Err(DsnError::InvalidStatus("550".into())));
    req.recipients = &recipients;
    req.reporting_mta = "mail example com";
    assert!(matches!(
        build(&req),
        Err(DsnError::InvalidField {
            field: "reporting_mta",
            ..
        })
    ));
}

#[test]
fn boundary_skips_candidates_found_in_the_content() {
    let parts = vec![b"text with =_first inside".to_vec(), b"other".to_vec()];
    let mut candidates = ["=_first".to_string(), "=_second".to_string()].into_iter();
    assert_eq!(pick_boundary(&parts, &mut candidates), "=_second");
    let mut exhausted = ["=_first".to_string()].into_iter();
    let fallback = pick_boundary(&parts, &mut exhausted);
    assert!(
        !parts
            .iter()
            .any(|p| mime::find(p, fallback.as_bytes()).is_some())
    );

    // End to end: an original quoting the boundary the builder would try
    // first gets the next one.
    let mut peek = random_boundaries().peekable();
    let upcoming = peek.peek().unwrap().clone();
    let original = format!("Subject: x\r\n\r\n--{upcoming}\r\n");
    let recipients = [failed("bob@example.org")];
    let out = build_at(
        &request(&recipients, original.as_bytes()),
        date("Tue, 2 Jan 2024 12:00:00 +0000"),
        &mut peek,
    )
    .unwrap();
    let msg = Entity::parse(&out);
    let boundary = msg.param("boundary").unwrap();
    assert_ne!(boundary, upcoming);
    let parts = msg.parts();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[2].body, original.as_bytes());
}

#[test]
fn long_peer_text_is_cleaned_and_folded() {
    let mut r = failed("bob@example.org");
    let words = vec!["reason"; 300].join(" ");
    r.diagnostic = Some(format!("smtp;550 5.7.1 {words}\r\nInjected: yes"));
    let mut r2 = failed("eve@example.org");
    r2.diagnostic = Some(format!("smtp;550 {}", "x".repeat(2500)));
    let recipients = [r, r2];
    let out = build_ok(&request(&recipients, ORIGINAL));
    let parts = Entity::parse(&out).parts();
    let groups = status_groups(&parts[1].body);
    let diag = &groups[1]
        .iter()
        .find(|(n, _)| n == "Diagnostic-Code")
        .unwrap()
        .1;
    assert_eq!(diag, &format!("smtp;550 5.7.1 {words} Injected: yes"));
    assert!(!groups[1].iter().any(|(n, _)| n == "Injected"));
    let diag2 = &groups[2]
        .iter()
        .find(|(n, _)| n == "Diagnostic-Code")
        .unwrap()
        .1;
    assert_eq!(diag2.replace(' ', "").len(), "smtp;550".len() + 2500);
}

#[test]
fn crlf_everywhere_in_every_variant() {
    let recipients = [failed("用户@例子.中国"), delayed("dave@example.org")];
    for language in [Language::En, Language::Th, Language::Zh] {
        for smtputf8 in [false, true] {
            for ret in [Return::Full, Return::Headers] {
                let mut req = request(&recipients, ORIGINAL);
                req.language = language;
                req.smtputf8 = smtputf8;
                req.ret = ret;
                let out = build_ok(&req);
                assert_eq!(out.is_ascii(), !smtputf8);
                let _ = Entity::parse(&out).parts();
            }
        }
    }
}

#[test]
fn python_email_parser_agrees() {
    let python = std::process::Command::new("python3")
        .arg("--version")
        .output();
    if !matches!(python, Ok(ref o) if o.status.success()) {
        println!("SKIPPED: python3 not available");
        return;
    }
    let recipients = [failed("bob@example.org"), delayed("dave@example.org")];
    let mut req = request(&recipients, ORIGINAL);
    req.language = Language::Th;
    let out = build_ok(&req);
    let script = r#"
import email, sys
m = email.message_from_bytes(sys.stdin.buffer.read())
assert m.get_content_type() == "multipart/report", m.get_content_type()
assert m.get_param("report-type") == "delivery-status"
parts = m.get_payload()
assert [p.get_content_type() for p in parts] == ["text/plain", "message/delivery-status", "message/rfc822"], [p.get_content_type() for p in parts]
text = parts[0].get_payload(decode=True).decode("utf-8")
assert "ขออภัย" in text
groups = parts[1].get_payload()
assert groups[0]["Reporting-MTA"] == "dns;mail.example.com", groups[0]["Reporting-MTA"]
assert groups[1]["Final-Recipient"] == "rfc822;bob@example.org"
assert groups[2]["Action"] == "delayed"
inner = parts[2].get_payload()[0]
assert inner["Subject"] == "Lunch"
from email.header import decode_header, make_header
print(str(make_header(decode_header(m["Subject"]))))
"#;
    let mut child = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn python3");
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&out).unwrap();
    }
    let result = child.wait_with_output().unwrap();
    assert!(
        result.status.success(),
        "python3 rejected the report: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert_eq!(
        String::from_utf8(result.stdout).unwrap().trim(),
        "ส่งอีเมลไม่สำเร็จ ข้อความถูกส่งคืนถึงผู้ส่ง"
    );
}

#[test]
fn notify_defaults_to_failure_and_delay() {
    assert!(Notify::asks(None, Report::Failure));
    assert!(Notify::asks(None, Report::Delay));
    assert!(!Notify::asks(None, Report::Success));
}

#[test]
fn notify_lists_what_the_sender_asked_for() {
    let n = |t: &str| Notify::from_param(t);
    assert!(Notify::asks(n("SUCCESS,FAILURE"), Report::Success));
    assert!(Notify::asks(n("success, delay"), Report::Delay));
    assert!(!Notify::asks(n("SUCCESS,FAILURE"), Report::Delay));
    assert!(!Notify::asks(n("NEVER"), Report::Failure));
    assert!(!Notify::asks(n("NEVER"), Report::Delay));
}

#[test]
fn notify_and_ret_round_trip_their_parameter_text() {
    for text in ["NEVER", "SUCCESS", "FAILURE,DELAY", "SUCCESS,FAILURE,DELAY"] {
        let n = Notify::from_param(text).unwrap();
        assert_eq!(n.to_param(), text);
    }
    assert_eq!(
        Notify::from_param("delay,success").unwrap().to_param(),
        "SUCCESS,DELAY"
    );
    for bad in ["", "NEVER,SUCCESS", "SOMETIMES", "FAILURE,"] {
        assert_eq!(Notify::from_param(bad), None, "{bad:?}");
    }
    for r in [Return::Full, Return::Headers] {
        assert_eq!(Return::from_param(r.as_param()), Some(r));
    }
    assert_eq!(Return::from_param("hdrs"), Some(Return::Headers));
    assert_eq!(Return::from_param("ALL"), None);
}

#[test]
fn status_codes_parse_print_and_change_class() {
    assert_eq!(Status::parse("5.1.1").unwrap().to_string(), "5.1.1");
    assert_eq!(Status::parse("4.4.10").unwrap().to_string(), "4.4.10");
    for bad in [
        "", "5.1", "5.1.1.1", "3.1.1", "5.a.1", "5..1", "5.1.1234", "55.1.1",
    ] {
        assert_eq!(Status::parse(bad), None, "{bad:?}");
    }
    assert_eq!(
        Status::in_reply("550 5.1.1 no such user"),
        Status::parse("5.1.1")
    );
    assert_eq!(
        Status::in_reply("451 4.3.0 try later"),
        Status::parse("4.3.0")
    );
    assert_eq!(Status::in_reply("554 rejected 2024.01"), None);
    assert_eq!(
        Status::in_reply("250 2.1.5 ok, 4.2.2 full"),
        Status::parse("4.2.2")
    );
    let s = Status::parse("4.4.1").unwrap();
    assert_eq!(s.permanent().to_string(), "5.4.1");
    assert_eq!(s.permanent().temporary(), s);
}
