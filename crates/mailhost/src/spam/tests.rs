use super::rspamd::parse_response;
use super::*;

fn answer(json: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{json}",
        json.len()
    )
    .into_bytes()
}

#[test]
fn verdicts_are_read_from_rspamd_answers() {
    let v = parse_response(&answer(
        r#"{"is_skipped":false,"score":15.5,"required_score":15.0,"action":"reject",
            "symbols":{"GTUBE":{"name":"GTUBE","score":0.0}},"messages":{"smtp_message":"Gtube pattern"}}"#,
    ))
    .unwrap();
    assert_eq!(v.action, SpamAction::Reject);
    assert_eq!(v.score, 15.5);
    assert_eq!(v.symbols, vec!["GTUBE".to_string()]);
    assert_eq!(v.smtp_message.as_deref(), Some("Gtube pattern"));

    let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
        f\r\n{\"action\":\"add \r\n8\r\nheader\"}\r\n0\r\n\r\n";
    assert_eq!(
        parse_response(chunked).unwrap().action,
        SpamAction::AddHeader
    );
}

#[test]
fn answers_that_are_not_verdicts_are_errors() {
    for raw in [
        &b"HTTP/1.1 500 Internal\r\nContent-Length: 2\r\n\r\nno"[..],
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n{x}",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nContent-Length: 22\r\n\r\n{\"action\":\"obliterate\"}",
        b"HTTP/1.1 200",
        b"garbage\r\n\r\n",
    ] {
        assert!(
            parse_response(raw).is_err(),
            "{}",
            String::from_utf8_lossy(raw)
        );
    }
}

fn verdict(action: SpamAction) -> SpamVerdict {
    SpamVerdict {
        action,
        score: 7.25,
        required_score: 15.0,
        symbols: vec!["ZED".into(), "ALPHA\r\nX-Evil: 1".into()],
        smtp_message: Some("go away\r\n250 ok".into()),
    }
}

#[test]
fn actions_map_to_smtp_answers() {
    let s = SpamSettings::default();
    match verdict(SpamAction::Reject).decision(&s) {
        Decision::Reject {
            code,
            enhanced,
            text,
        } => {
            assert_eq!((code, enhanced), (550, "5.7.1"));
            // A rule's text cannot end the reply line and start another.
            assert!(!text.contains('\r') && !text.contains('\n'), "{text}");
        }
        d => panic!("{d:?}"),
    }
    for a in [SpamAction::SoftReject, SpamAction::Greylist] {
        match verdict(a).decision(&s) {
            Decision::TempFail { code, enhanced, .. } => {
                assert_eq!((code, enhanced), (451, "4.7.1"))
            }
            d => panic!("{d:?}"),
        }
    }
    match verdict(SpamAction::RewriteSubject).decision(&s) {
        Decision::Mark {
            header_lines,
            subject_tag,
        } => {
            assert_eq!(header_lines[0], "X-Spam-Flag: YES\r\n");
            assert_eq!(subject_tag.as_deref(), Some("[SPAM]"));
            let all = header_lines.concat();
            assert!(all.contains("X-Spam-Score: 7.25\r\n"), "{all}");
            assert!(
                all.contains("X-Spam-Status: Yes, score=7.25 required=15.00"),
                "{all}"
            );
            // One field per line, continuation lines folded: no injected field.
            for line in all.split("\r\n").filter(|l| !l.is_empty()) {
                assert!(
                    line.starts_with("X-Spam-") || line.starts_with('\t'),
                    "{line:?}"
                );
            }
        }
        d => panic!("{d:?}"),
    }
    match verdict(SpamAction::AddHeader).decision(&s) {
        Decision::Mark { subject_tag, .. } => assert_eq!(subject_tag, None),
        d => panic!("{d:?}"),
    }
    match verdict(SpamAction::NoAction).decision(&s) {
        Decision::Mark {
            header_lines,
            subject_tag: None,
        } => {
            let all = header_lines.concat();
            assert!(!all.contains("X-Spam-Flag"), "{all}");
            assert!(all.contains("X-Spam-Status: No,"), "{all}");
        }
        d => panic!("{d:?}"),
    }
}

#[test]
fn long_status_lines_are_folded() {
    let line = format!(
        "X-Spam-Status: Yes, tests={}",
        vec!["SYMBOL_NAME"; 30].join(",")
    );
    let folded = fold(&line);
    for l in folded.trim_end().split("\r\n") {
        assert!(l.len() <= 78, "{l}");
    }
    assert_eq!(folded.replace("\r\n\t", ""), format!("{line}\r\n"));
}
