//! The reply message itself (RFC 3834 section 3).

use chrono::{DateTime, FixedOffset};
use praisani_message::mime::{self, push_field};
use praisani_message::rfc2047::{FOLDED_WORD_OCTETS, encoded_words};
use praisani_store::Vacation;

/// How many of the original's References the reply keeps (the newest),
/// so a long thread cannot make its header grow without bound.
const MAX_REFERENCES: usize = 20;
/// The most characters of the original's subject "Auto: " is put before.
const MAX_ORIGINAL_SUBJECT: usize = 200;

/// What a reply is written from.
pub struct ReplyInput<'a> {
    /// The mailbox's address (From:).
    pub from: &'a str,
    /// The original's envelope sender (To:).
    pub to: &'a str,
    /// The mailbox's vacation settings.
    pub vacation: &'a Vacation,
    /// The original's header section.
    pub original: &'a [u8],
    /// Now.
    pub date: DateTime<FixedOffset>,
    /// The reply's Message-ID, without brackets.
    pub message_id: &'a str,
}

/// The message-ids (`<…>`) in a field value, at most `max`, the last ones.
fn ids(value: &str, max: usize) -> Vec<String> {
    let all: Vec<String> = value
        .split_whitespace()
        .filter(|t| t.len() > 2 && t.starts_with('<') && t.ends_with('>') && t.len() < 250)
        .map(str::to_string)
        .collect();
    all[all.len().saturating_sub(max)..].to_vec()
}

/// A header field value from text, RFC 2047-encoded when not ASCII.
fn header_text(text: &str) -> String {
    if text.is_ascii() {
        text.to_string()
    } else {
        encoded_words(text, FOLDED_WORD_OCTETS).join(" ")
    }
}

/// The original's subject, decoded, on one line, shortened.
fn original_subject(header: &[u8]) -> String {
    let subject = mail_parser::MessageParser::new()
        .parse_headers(header)
        .and_then(|m| m.subject().map(str::to_string))
        .unwrap_or_default();
    mime::one_line(&subject)
        .chars()
        .take(MAX_ORIGINAL_SUBJECT)
        .collect()
}

/// The whole reply, CRLF line ends: `Auto-Submitted: auto-replied`,
/// `In-Reply-To` and `References` from the original's Message-ID, the
/// configured subject (else "Auto: " and the original's), the text in
/// UTF-8 as base64.
pub fn build_reply(r: &ReplyInput) -> Vec<u8> {
    let fields = mime::header_fields(r.original);
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| mime::one_line(v))
    };
    let message_id = field("Message-ID").and_then(|v| ids(&v, 1).pop());
    let subject = match &r.vacation.subject {
        Some(s) => mime::one_line(s),
        None => format!("Auto: {}", original_subject(r.original))
            .trim_end()
            .to_string(),
    };
    let mut out = Vec::new();
    push_field(&mut out, "From", &format!("<{}>", r.from));
    push_field(&mut out, "To", &format!("<{}>", r.to));
    push_field(&mut out, "Subject", &header_text(&subject));
    push_field(&mut out, "Date", &r.date.to_rfc2822());
    push_field(&mut out, "Message-ID", &format!("<{}>", r.message_id));
    if let Some(id) = &message_id {
        push_field(&mut out, "In-Reply-To", id);
        let mut refs = field("References")
            .map(|v| ids(&v, MAX_REFERENCES - 1))
            .unwrap_or_default();
        if refs.is_empty()
            && let Some(parent) = field("In-Reply-To").and_then(|v| ids(&v, 1).pop())
        {
            refs.push(parent);
        }
        refs.push(id.clone());
        push_field(&mut out, "References", &refs.join(" "));
    }
    push_field(&mut out, "Auto-Submitted", "auto-replied");
    push_field(&mut out, "MIME-Version", "1.0");
    push_field(&mut out, "Content-Type", "text/plain; charset=utf-8");
    push_field(&mut out, "Content-Transfer-Encoding", "base64");
    out.extend_from_slice(b"\r\n");
    praisani_message::base64::push_body(&mut out, &mime::crlf_lines(&r.vacation.text));
    out
}
