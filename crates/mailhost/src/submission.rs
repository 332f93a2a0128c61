//! Message checks and fixes for mail submitted by our own users
//! (RFC 6409): the header section is held back until it is complete, so
//! the From: addresses can be checked and a missing Message-ID or Date
//! added (section 8) before the body streams on.

use mail_parser::{HeaderName, MessageParser};

/// Header sections larger than this are not held back: the message is
/// treated as having no usable header (and then refused by the From check).
pub const MAX_HEADER: usize = 256 * 1024;

/// Collects the header section of a message being received.
#[derive(Debug, Default)]
pub struct HeaderCapture {
    buf: Vec<u8>,
    complete: bool,
}

impl HeaderCapture {
    /// Adds received bytes. Returns the bytes that come after the header
    /// section once it is complete (possibly empty), `None` while it is not.
    pub fn push<'a>(&mut self, chunk: &'a [u8]) -> Option<&'a [u8]> {
        if self.complete {
            return Some(chunk);
        }
        let start = self.buf.len().saturating_sub(3);
        self.buf.extend_from_slice(chunk);
        let end = self.buf[start..]
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|p| start + p + 4)
            // A message that starts with its blank line has no header.
            .or_else(|| self.buf.starts_with(b"\r\n").then_some(2));
        match end {
            Some(end) => {
                let rest_len = self.buf.len() - end;
                self.buf.truncate(end);
                self.complete = true;
                Some(&chunk[chunk.len() - rest_len..])
            }
            None if self.buf.len() > MAX_HEADER => {
                self.complete = true;
                Some(&[])
            }
            None => None,
        }
    }

    /// True once the header section is complete.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// True when the header section is longer than [`MAX_HEADER`] (what
    /// was collected may be only a prefix of it).
    pub fn overflowed(&self) -> bool {
        self.complete && self.buf.len() > MAX_HEADER
    }

    /// The header section collected (with its blank line when it had one).
    pub fn header(&self) -> &[u8] {
        &self.buf
    }
}

/// What the header section says.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct HeaderFacts {
    /// The addresses in every From: field (as written; IDN is not decoded).
    pub from: Vec<String>,
    /// The addresses in every Sender: field.
    pub sender: Vec<String>,
    /// How many From: fields the header has (RFC 5322 allows exactly one).
    pub from_fields: usize,
    /// How many Sender: fields the header has (at most one).
    pub sender_fields: usize,
    /// A Message-ID: header is present.
    pub has_message_id: bool,
    /// A Date: header is present.
    pub has_date: bool,
}

/// Reads the facts the submission policy needs from a header section.
pub fn header_facts(header: &[u8]) -> HeaderFacts {
    let Some(msg) = MessageParser::new().parse_headers(header) else {
        return HeaderFacts::default();
    };
    // Every field counts, not only the one a parser keeps: a forged first
    // From: is the one mail programs show.
    let addresses = |name: HeaderName<'static>| -> Vec<String> {
        msg.header_values(name)
            .filter_map(|v| v.as_address())
            .flat_map(|a| a.iter())
            .filter_map(|addr| addr.address().map(str::to_string))
            .collect()
    };
    HeaderFacts {
        from: addresses(HeaderName::From),
        sender: addresses(HeaderName::Sender),
        from_fields: count_fields(header, b"from"),
        sender_fields: count_fields(header, b"sender"),
        has_message_id: msg.message_id().is_some(),
        has_date: msg.date().is_some(),
    }
}

/// How many fields named `name` (lower case) start a line of the header
/// section, whatever their case and any white space before the colon
/// (RFC 5322's obsolete syntax, which mail programs still honour).
fn count_fields(header: &[u8], name: &[u8]) -> usize {
    header
        .split(|&b| b == b'\n')
        .filter(|line| !matches!(line.first(), Some(b' ' | b'\t')))
        .filter_map(|line| {
            let colon = line.iter().position(|&b| b == b':')?;
            let field = line[..colon].trim_ascii_end();
            field.eq_ignore_ascii_case(name).then_some(())
        })
        .count()
}

/// The headers to add for a submitted message missing them (RFC 6409
/// section 8.2 and 8.3), CRLF-terminated.
pub fn missing_headers(facts: &HeaderFacts, id: &str, hostname: &str) -> String {
    let mut out = String::new();
    if !facts.has_message_id {
        out.push_str(&format!("Message-ID: <{id}@{hostname}>\r\n"));
    }
    if !facts.has_date {
        out.push_str(&format!("Date: {}\r\n", chrono::Local::now().to_rfc2822()));
    }
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_header_past_the_limit_is_flagged() {
        let mut c = HeaderCapture::default();
        let line = format!("X-Pad: {}\r\n", "a".repeat(1000));
        let mut done = None;
        for _ in 0..300 {
            if let Some(rest) = c.push(line.as_bytes()) {
                done = Some(rest.len());
                break;
            }
        }
        assert!(done.is_some() && c.is_complete() && c.overflowed());
        let mut small = HeaderCapture::default();
        assert!(small.push(b"Subject: x\r\n\r\nbody").is_some());
        assert!(!small.overflowed());
    }

    use super::*;

    #[test]
    fn capture_splits_header_at_any_chunking() {
        let msg = b"From: A <a@example.test>\r\nSubject: x\r\n\r\nbody\r\nmore\r\n";
        for split in 1..msg.len() {
            let mut cap = HeaderCapture::default();
            let mut rest = Vec::new();
            for piece in msg.chunks(split) {
                if let Some(after) = cap.push(piece) {
                    rest.extend_from_slice(after);
                }
            }
            assert!(cap.is_complete());
            assert_eq!(cap.header(), &msg[..40], "split {split}");
            assert_eq!(rest, b"body\r\nmore\r\n", "split {split}");
        }
    }

    #[test]
    fn headerless_and_oversized() {
        let mut cap = HeaderCapture::default();
        assert_eq!(cap.push(b"\r\nbody"), Some(&b"body"[..]));
        let mut big = HeaderCapture::default();
        let line = vec![b'x'; 1000];
        let mut done = false;
        for _ in 0..300 {
            if big.push(&line).is_some() {
                done = true;
                break;
            }
        }
        assert!(done && big.is_complete());
    }

    #[test]
    fn every_from_and_sender_field_is_counted_and_read() {
        let f = header_facts(
            b"From: \"The Boss\" <boss@other.test>\r\nSubject: pay\r\nfrom : alice@example.test\r\n\
              Sender: a@example.test\r\nSENDER: b@other.test\r\nX-From: c@other.test\r\n \
              From: folded@other.test\r\n\r\n",
        );
        assert_eq!((f.from_fields, f.sender_fields), (2, 2));
        assert!(f.from.contains(&"boss@other.test".to_string()), "{f:?}");
        assert!(f.sender.contains(&"b@other.test".to_string()), "{f:?}");
        assert!(!f.from.iter().any(|a| a.starts_with("folded")), "{f:?}");
    }

    #[test]
    fn facts_and_additions() {
        let f = header_facts(
            b"From: \"Somchai\" <somchai@example.test>, b@example.test\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n\r\n",
        );
        assert_eq!(f.from, vec!["somchai@example.test", "b@example.test"]);
        assert!(f.has_date && !f.has_message_id);
        let add = missing_headers(&f, "abc", "mx.example.test");
        assert_eq!(add, "Message-ID: <abc@mx.example.test>\r\n");
        assert_eq!((f.from_fields, f.sender_fields), (1, 0));
        let none = header_facts(b"Subject: nothing\r\n\r\n");
        assert!(none.from.is_empty());
        let add = missing_headers(&none, "abc", "h");
        assert!(add.starts_with("Message-ID: <abc@h>\r\nDate: ") && add.ends_with("\r\n"));
    }
}
