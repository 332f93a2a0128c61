//! Streaming encoder for RETR and TOP responses: dot-stuffing, CRLF line ends, the TOP
//! line limit and the terminating `.`.
//!
//! The server streams a stored message through it chunk by chunk, so any message size
//! passes in memory bounded by the chunk size. The encoder keeps only a few counters
//! between chunks; line starts, CR/LF pairs and the header/body boundary are all tracked
//! across arbitrary chunk splits.

/// Encodes one message for a multi-line RETR or TOP response (the body after the status
/// line, including the final `.\r\n`).
///
/// Lines starting with `.` get an extra `.` (RFC 1939 section 3). A bare LF in the content
/// is sent as CRLF, since POP3 clients split on CRLF. With `top_lines = Some(k)` the header,
/// the blank line after it and at most `k` body lines pass; then [`is_done`](Self::is_done)
/// turns true and further input is ignored.
#[derive(Clone, Debug)]
pub struct Encoder {
    top_lines: Option<u64>,
    /// Still inside the header (only tracked for TOP).
    in_header: bool,
    /// Complete body lines sent so far (TOP).
    body_lines: u64,
    /// Octets of the current line seen so far, LF excluded; 0 means "at a line start".
    line_len: u64,
    /// The last octet of the current line was CR, so an LF completes a CRLF as is.
    last_cr: bool,
    done: bool,
}

impl Encoder {
    /// An encoder for RETR (`None`) or for `TOP n k` (`Some(k)`).
    pub fn new(top_lines: Option<u64>) -> Self {
        Encoder {
            top_lines,
            in_header: true,
            body_lines: 0,
            line_len: 0,
            last_cr: false,
            done: false,
        }
    }

    /// Encodes the next chunk of the message into `out`.
    pub fn encode(&mut self, mut chunk: &[u8], out: &mut Vec<u8>) {
        while !self.done && !chunk.is_empty() {
            let (segment, has_lf) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (&chunk[..i], true),
                None => (chunk, false),
            };
            chunk = if has_lf {
                &chunk[segment.len() + 1..]
            } else {
                &[]
            };
            if let Some(&last) = segment.last() {
                if self.line_len == 0 && segment[0] == b'.' {
                    out.push(b'.');
                }
                out.extend_from_slice(segment);
                self.line_len = self.line_len.saturating_add(segment.len() as u64);
                self.last_cr = last == b'\r';
            }
            if has_lf {
                self.end_line(out);
            }
        }
    }

    fn end_line(&mut self, out: &mut Vec<u8>) {
        let blank = self.line_len == 0 || (self.line_len == 1 && self.last_cr);
        if !self.last_cr {
            out.push(b'\r');
        }
        out.push(b'\n');
        self.line_len = 0;
        self.last_cr = false;
        let Some(limit) = self.top_lines else {
            return;
        };
        if self.in_header {
            if blank {
                // The blank line belongs to the output; `TOP n 0` ends right after it.
                self.in_header = false;
                self.done = limit == 0;
            }
        } else {
            self.body_lines += 1;
            self.done = self.body_lines >= limit;
        }
    }

    /// The TOP limit has been reached: the rest of the message is not needed, so the
    /// server can stop reading it from the store and call [`finish`](Self::finish).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Completes the response: ends an unterminated last line with CRLF, then writes the
    /// terminating `.\r\n`.
    pub fn finish(self, out: &mut Vec<u8>) {
        if self.line_len > 0 {
            if self.last_cr {
                out.push(b'\n');
            } else {
                out.extend_from_slice(b"\r\n");
            }
        }
        out.extend_from_slice(b".\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(top: Option<u64>, input: &[u8]) -> Vec<u8> {
        let mut e = Encoder::new(top);
        let mut out = Vec::new();
        e.encode(input, &mut out);
        e.finish(&mut out);
        out
    }

    #[test]
    fn basics() {
        assert_eq!(enc(None, b""), b".\r\n");
        assert_eq!(enc(None, b"a\r\n"), b"a\r\n.\r\n");
        assert_eq!(enc(None, b"a"), b"a\r\n.\r\n");
        assert_eq!(enc(None, b"a\r"), b"a\r\n.\r\n");
        assert_eq!(enc(None, b"a\nb"), b"a\r\nb\r\n.\r\n");
        assert_eq!(enc(None, b".\r\n..x\r\n"), b"..\r\n...x\r\n.\r\n");
        assert_eq!(enc(None, b"a.\r\n"), b"a.\r\n.\r\n");
        assert_eq!(enc(None, b"."), b"..\r\n.\r\n");
    }

    #[test]
    fn top_counts_body_lines() {
        let msg = b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\nl3\r\n";
        assert_eq!(enc(Some(0), msg), b"A: 1\r\nB: 2\r\n\r\n.\r\n");
        assert_eq!(enc(Some(2), msg), b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n.\r\n");
        assert_eq!(enc(Some(99), msg), [&msg[..], b".\r\n"].concat());
        // Header only, no blank line: everything is header.
        assert_eq!(enc(Some(0), b"A: 1\r\n"), b"A: 1\r\n.\r\n");
    }
}
