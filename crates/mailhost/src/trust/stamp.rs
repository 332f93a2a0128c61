//! The header section to store after the checks: our
//! `Authentication-Results` and the spam marks on top, the received header
//! below without forged fields of ours, its `Subject:` tagged when the
//! policy says so. Spam marks the sender put there (`X-Spam-Flag`,
//! `X-Spam-Status`, `X-Spam-Score`) are removed: only ours remain.

use super::policy::Decision;
use super::strip::{SPAM_FIELDS, strip_authentication_results, strip_fields};
use super::verdict::Verdict;

/// The header to store in place of `received_header` (the client's header
/// section, with or without its empty line; nothing after it is looked at
/// but everything is kept).
pub fn stored_header(received_header: &[u8], verdict: &Verdict, decision: &Decision) -> Vec<u8> {
    stamped_header(received_header, Some(verdict), decision)
}

/// As [`stored_header`], with the trust checks' `verdict` if they ran
/// (without it, no `Authentication-Results` is added or removed).
pub fn stamped_header(
    received_header: &[u8],
    verdict: Option<&Verdict>,
    decision: &Decision,
) -> Vec<u8> {
    let (ours, stripped) = match verdict {
        Some(v) => (
            v.authentication_results(),
            strip_authentication_results(received_header, &v.authserv_id),
        ),
        None => (String::new(), received_header.to_vec()),
    };
    let stripped = strip_fields(&stripped, &SPAM_FIELDS);
    let mut out = Vec::with_capacity(ours.len() + stripped.len() + 64);
    out.extend_from_slice(ours.as_bytes());
    match decision {
        Decision::Mark {
            header_lines,
            subject_tag,
        } => {
            for line in header_lines {
                out.extend_from_slice(line.as_bytes());
            }
            match subject_tag {
                Some(tag) => out.extend_from_slice(&tag_subject(&stripped, tag)),
                None => out.extend_from_slice(&stripped),
            }
        }
        _ => out.extend_from_slice(&stripped),
    }
    out
}

/// `header` with `tag` and a space put before the first `Subject:` field's
/// text (once: a subject already starting with the tag is left alone), or
/// a `Subject:` holding only the tag added when there is none.
pub fn tag_subject(header: &[u8], tag: &str) -> Vec<u8> {
    let mut offset = 0;
    for line in header.split_inclusive(|&b| b == b'\n') {
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if let Some(colon) = line.iter().position(|&b| b == b':')
            && line[..colon]
                .trim_ascii_end()
                .eq_ignore_ascii_case(b"subject")
        {
            let mut value_start = offset + colon + 1;
            if header.get(value_start) == Some(&b' ') {
                value_start += 1;
            }
            if header[value_start..].starts_with(tag.as_bytes()) {
                return header.to_vec();
            }
            let mut out = Vec::with_capacity(header.len() + tag.len() + 1);
            out.extend_from_slice(&header[..value_start]);
            out.extend_from_slice(tag.as_bytes());
            out.push(b' ');
            out.extend_from_slice(&header[value_start..]);
            return out;
        }
        offset += line.len();
    }
    let mut out = format!("Subject: {tag}\r\n").into_bytes();
    out.extend_from_slice(header);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(h: &str) -> String {
        String::from_utf8(tag_subject(h.as_bytes(), "[SPAM]")).unwrap()
    }

    #[test]
    fn senders_spam_marks_are_removed() {
        let received = "X-Spam-Flag: NO\r\nFrom: a@b\r\nx-spam-status: No,\r\n score=-5\r\n\
                        X-Spam-Score: -9\r\nX-Spam-Level: *\r\n\r\nX-Spam-Flag: body\r\n";
        let mark = Decision::Mark {
            header_lines: vec!["X-Spam-Flag: YES\r\n".into()],
            subject_tag: None,
        };
        let out = String::from_utf8(stamped_header(received.as_bytes(), None, &mark)).unwrap();
        assert_eq!(
            out,
            "X-Spam-Flag: YES\r\nFrom: a@b\r\nX-Spam-Level: *\r\n\r\nX-Spam-Flag: body\r\n"
        );
    }

    #[test]
    fn tags_the_subject_once() {
        assert_eq!(
            tag("From: a@b\r\nsubject: Win\r\n big\r\n\r\nSubject: body"),
            "From: a@b\r\nsubject: [SPAM] Win\r\n big\r\n\r\nSubject: body"
        );
        assert_eq!(tag("Subject:x\r\n"), "Subject:[SPAM] x\r\n");
        assert_eq!(tag("Subject: [SPAM] x\r\n"), "Subject: [SPAM] x\r\n");
        assert_eq!(
            tag("From: a@b\r\n\r\n"),
            "Subject: [SPAM]\r\nFrom: a@b\r\n\r\n"
        );
    }
}
