//! Server replies (RFC 5321 section 4.2): framing and parsing.
//!
//! Our own small parser rather than smtp-proto's `ResponseReceiver`, because that
//! one does not fit the client's needs: it takes the code from the first line and
//! ignores the code of continuation lines (RFC 5321 4.2.1 requires the same code on
//! every line, and a mismatch means we are out of step with the server), it caps
//! replies at a fixed 4096 octets instead of our configured `max_line`, and it
//! moves the enhanced status code out of the text, while we keep the reply text
//! exactly as sent for DSNs and logs. The EHLO keywords are still read by
//! smtp-proto (see `caps.rs`).

use std::fmt;

/// Most lines accepted in one multi-line reply. With `max_line` this bounds the
/// memory one reply can take (an EHLO reply has a dozen or two lines).
pub const MAX_REPLY_LINES: usize = 128;

/// One complete server reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit reply code, 200..=599.
    pub code: u16,
    /// The text of each line after `ddd-` / `ddd `, enhanced status code included,
    /// without the line end. Octets that are not UTF-8 are replaced (U+FFFD).
    pub lines: Vec<String>,
}

impl Reply {
    /// The first digit of the code: 2, 3, 4 or 5.
    pub fn class(&self) -> u16 {
        self.code / 100
    }

    /// The reply as one line: the code, then the text of every line joined by
    /// spaces (e.g. `550 5.1.1 No such user`). Control characters become spaces.
    pub fn text(&self) -> String {
        let mut s = self.code.to_string();
        for line in &self.lines {
            let line = line.trim();
            if !line.is_empty() {
                s.push(' ');
                s.extend(line.chars().map(|c| if c.is_control() { ' ' } else { c }));
            }
        }
        s
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

/// Why the octets at the start of the buffer are not a reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplyError {
    /// A line longer than `max_line` octets, or more than [`MAX_REPLY_LINES`] lines.
    TooLong,
    /// Not `ddd[ -]text`, a code outside 200..=599, or the code changed between lines.
    Syntax(String),
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplyError::TooLong => f.write_str("protocol error: reply too long"),
            ReplyError::Syntax(what) => write!(f, "protocol error: {what}"),
        }
    }
}

/// Parse the reply at the start of `buf`: `Ok(Some((reply, consumed)))` when it is
/// complete, `Ok(None)` when more octets are needed. Lines end in CRLF; a bare LF
/// is tolerated. Stateless, so a reply split anywhere parses the same.
pub fn parse_reply(buf: &[u8], max_line: usize) -> Result<Option<(Reply, usize)>, ReplyError> {
    let mut pos = 0;
    let mut code = None;
    let mut lines = Vec::new();
    loop {
        let rest = &buf[pos..];
        let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
            if rest.len() > max_line {
                return Err(ReplyError::TooLong);
            }
            return Ok(None);
        };
        if lf + 1 > max_line {
            return Err(ReplyError::TooLong);
        }
        let mut line = &rest[..lf];
        if let [head @ .., b'\r'] = line {
            line = head;
        }
        let (this_code, last, text) = parse_line(line)?;
        if code.is_some_and(|c| c != this_code) {
            return Err(ReplyError::Syntax(format!(
                "reply code changed from {} to {this_code} within a multi-line reply",
                code.unwrap_or_default()
            )));
        }
        code = Some(this_code);
        lines.push(text);
        pos += lf + 1;
        if last {
            return Ok(Some((
                Reply {
                    code: this_code,
                    lines,
                },
                pos,
            )));
        }
        if lines.len() >= MAX_REPLY_LINES {
            return Err(ReplyError::TooLong);
        }
    }
}

/// One line without its line end: code, is-last-line, text.
fn parse_line(line: &[u8]) -> Result<(u16, bool, String), ReplyError> {
    let bad = || {
        let shown: String = String::from_utf8_lossy(&line[..line.len().min(80)])
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        ReplyError::Syntax(format!("unparsable reply line {shown:?}"))
    };
    let [d0, d1, d2, rest @ ..] = line else {
        return Err(bad());
    };
    if !(d0.is_ascii_digit() && d1.is_ascii_digit() && d2.is_ascii_digit()) {
        return Err(bad());
    }
    let code = u16::from(d0 - b'0') * 100 + u16::from(d1 - b'0') * 10 + u16::from(d2 - b'0');
    if !(200..=599).contains(&code) {
        return Err(bad());
    }
    match rest {
        [] => Ok((code, true, String::new())),
        [b' ', text @ ..] => Ok((code, true, String::from_utf8_lossy(text).into_owned())),
        [b'-', text @ ..] => Ok((code, false, String::from_utf8_lossy(text).into_owned())),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_and_multi_line() {
        let (r, n) = parse_reply(b"250 2.1.0 Ok\r\nrest", 100).unwrap().unwrap();
        assert_eq!(n, 14);
        assert_eq!(r.code, 250);
        assert_eq!(r.text(), "250 2.1.0 Ok");
        let (r, _) = parse_reply(b"250-mx.example\r\n250-SIZE 10\n250 DSN\r\n", 100)
            .unwrap()
            .unwrap();
        assert_eq!(r.lines, ["mx.example", "SIZE 10", "DSN"]);
        let (r, _) = parse_reply(b"220\r\n", 100).unwrap().unwrap();
        assert_eq!(r.text(), "220");
    }

    #[test]
    fn incomplete_and_errors() {
        assert_eq!(parse_reply(b"250-a\r\n250 b", 100), Ok(None));
        assert_eq!(parse_reply(b"", 100), Ok(None));
        assert!(matches!(
            parse_reply(b"250-a\r\n251 b\r\n", 100),
            Err(ReplyError::Syntax(_))
        ));
        for bad in [
            &b"25 x\r\n"[..],
            b"abc\r\n",
            b"250x\r\n",
            b"199 x\r\n",
            b"600 x\r\n",
        ] {
            assert!(
                matches!(parse_reply(bad, 100), Err(ReplyError::Syntax(_))),
                "{bad:?}"
            );
        }
        assert_eq!(parse_reply(&[b'2'; 11], 10), Err(ReplyError::TooLong));
        assert_eq!(parse_reply(b"250 123456\r\n", 10), Err(ReplyError::TooLong));
        assert_eq!(
            parse_reply(b"250 1234\r\n", 10).map(|r| r.is_some()),
            Ok(true)
        );
        let many = b"250-x\r\n".repeat(MAX_REPLY_LINES);
        assert_eq!(parse_reply(&many, 100), Err(ReplyError::TooLong));
    }
}
