//! SMTP replies (RFC 5321 4.2) with optional enhanced status codes (RFC 2034, RFC 3463).

/// A reply: a three-digit code, an optional enhanced status code `class.subject.detail`
/// and one or more text lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The basic reply code, e.g. 250.
    pub code: u16,
    /// The enhanced status code (RFC 3463) such as `"2.1.0"`, written after the basic
    /// code on every line.
    pub enhanced: Option<String>,
    /// Text lines; an empty list sends the code alone.
    pub lines: Vec<String>,
}

impl Reply {
    /// A reply with one text line per line of `text`.
    ///
    /// `enhanced` is dropped when it is empty or not of the form `d.ddd.ddd` with a
    /// class of 2, 4 or 5, so a malformed code can never corrupt the reply line.
    pub fn new(code: u16, enhanced: &str, text: impl Into<String>) -> Self {
        let text = text.into();
        let lines = text.lines().map(str::to_owned).collect();
        Reply {
            code,
            enhanced: valid_enhanced(enhanced).then(|| enhanced.to_owned()),
            lines,
        }
    }

    /// A reply with the given lines (e.g. the EHLO keyword list).
    pub fn multiline(code: u16, enhanced: &str, lines: Vec<String>) -> Self {
        Reply {
            code,
            enhanced: valid_enhanced(enhanced).then(|| enhanced.to_owned()),
            lines,
        }
    }

    /// The wire form: `250-first` … `250 last`, each line CRLF-terminated, the
    /// enhanced code after the basic code on every line.
    ///
    /// Control characters in the text (which a server might copy from elsewhere)
    /// are replaced by spaces: a CR or LF there would let text inject reply lines.
    pub fn to_bytes(&self) -> Vec<u8> {
        let code = self.code.min(999);
        let mut out = Vec::new();
        let empty = [String::new()];
        let lines: &[String] = if self.lines.is_empty() {
            &empty
        } else {
            &self.lines
        };
        for (i, line) in lines.iter().enumerate() {
            let sep = if i + 1 == lines.len() { ' ' } else { '-' };
            out.extend_from_slice(format!("{code:03}{sep}").as_bytes());
            if let Some(enh) = &self.enhanced {
                out.extend_from_slice(enh.as_bytes());
                if !line.is_empty() {
                    out.push(b' ');
                }
            }
            for c in line.chars() {
                if c.is_control() {
                    out.push(b' ');
                } else {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    /// True for 2xx and 3xx replies.
    pub fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    /// True for 4xx and 5xx replies.
    pub fn is_error(&self) -> bool {
        (400..600).contains(&self.code)
    }
}

/// `class "." subject "." detail` with class 2/4/5 and 1-3 digit subject and detail.
fn valid_enhanced(s: &str) -> bool {
    let mut parts = s.split('.');
    let (Some(class), Some(subject), Some(detail), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let digits = |p: &str, max: usize| {
        !p.is_empty() && p.len() <= max && p.bytes().all(|b| b.is_ascii_digit())
    };
    matches!(class, "2" | "4" | "5") && digits(subject, 3) && digits(detail, 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_with_enhanced() {
        let r = Reply::new(250, "2.1.0", "Ok");
        assert_eq!(r.to_bytes(), b"250 2.1.0 Ok\r\n");
        assert!(r.is_positive());
        assert!(!r.is_error());
    }

    #[test]
    fn single_line_without_enhanced() {
        let r = Reply::new(220, "", "mx.example.org ESMTP praisani");
        assert_eq!(r.enhanced, None);
        assert_eq!(r.to_bytes(), b"220 mx.example.org ESMTP praisani\r\n");
    }

    #[test]
    fn multi_line() {
        let r = Reply::new(550, "5.7.1", "first\nsecond\r\nthird");
        assert_eq!(
            r.to_bytes(),
            b"550-5.7.1 first\r\n550-5.7.1 second\r\n550 5.7.1 third\r\n"
        );
        assert!(!r.is_positive());
        assert!(r.is_error());
    }

    #[test]
    fn multiline_constructor() {
        let r = Reply::multiline(250, "", vec!["host".into(), "PIPELINING".into()]);
        assert_eq!(r.to_bytes(), b"250-host\r\n250 PIPELINING\r\n");
    }

    #[test]
    fn empty_text() {
        assert_eq!(Reply::new(250, "", "").to_bytes(), b"250 \r\n");
        assert_eq!(Reply::new(250, "2.0.0", "").to_bytes(), b"250 2.0.0\r\n");
    }

    #[test]
    fn invalid_enhanced_is_dropped() {
        for bad in [
            "2.0",
            "3.0.0",
            "2.0.0.0",
            "2..0",
            "2.x.0",
            "2.1234.0",
            " 2.0.0",
            "2.0.0\r\n",
        ] {
            assert_eq!(Reply::new(250, bad, "x").enhanced, None, "{bad:?}");
        }
        assert_eq!(
            Reply::new(452, "4.5.3", "x").enhanced.as_deref(),
            Some("4.5.3")
        );
        assert_eq!(
            Reply::new(550, "5.123.456", "x").enhanced.as_deref(),
            Some("5.123.456")
        );
    }

    #[test]
    fn control_characters_cannot_inject_lines() {
        let r = Reply {
            code: 550,
            enhanced: None,
            lines: vec!["a\r\n250 ok\0".into()],
        };
        assert_eq!(r.to_bytes(), b"550 a  250 ok \r\n");
    }

    #[test]
    fn positive_ranges() {
        assert!(Reply::new(354, "", "go").is_positive());
        assert!(Reply::new(221, "2.0.0", "bye").is_positive());
        assert!(!Reply::new(421, "4.7.0", "no").is_positive());
        assert!(!Reply::new(199, "", "?").is_positive());
    }
}
