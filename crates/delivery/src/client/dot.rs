//! Dot-stuffing for DATA (RFC 5321 section 4.5.2), chunk-safe.

/// Turns a message body into the DATA stream: a `.` is doubled at the start of
/// every line, and [`finish`](DotStuffer::finish) ends the last line and adds the
/// `.` terminator line.
///
/// Line ends are normalised to CRLF: a bare LF or a bare CR becomes CRLF. Stored
/// messages already use CRLF, so this changes nothing for them; for anything else
/// it means no receiver can see a different end of data than we meant (the
/// "SMTP smuggling" confusion of `\n.\r\n` and `\r\n.\n`).
///
/// Feed the body in chunks of any size; the output does not depend on where the
/// chunks are split. A CR at the end of a chunk is held until the next octet (or
/// `finish`) shows whether an LF follows.
#[derive(Clone, Debug)]
pub struct DotStuffer {
    /// The next octet starts a line.
    line_start: bool,
    /// A CR was read and not yet written.
    pending_cr: bool,
}

impl Default for DotStuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl DotStuffer {
    /// A stuffer at the start of the body.
    pub fn new() -> Self {
        DotStuffer {
            line_start: true,
            pending_cr: false,
        }
    }

    /// Append the stuffed form of `input` to `out`.
    pub fn encode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len() + input.len() / 64 + 2);
        for &b in input {
            if self.pending_cr {
                self.pending_cr = false;
                out.extend_from_slice(b"\r\n");
                self.line_start = true;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\r' => self.pending_cr = true,
                b'\n' => {
                    out.extend_from_slice(b"\r\n");
                    self.line_start = true;
                }
                _ => {
                    if self.line_start && b == b'.' {
                        out.push(b'.');
                    }
                    out.push(b);
                    self.line_start = false;
                }
            }
        }
    }

    /// End the body: CRLF if the last line is not ended, then `.` CRLF. The stuffer
    /// is then back at the start of a (new) body.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.pending_cr || !self.line_start {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
        *self = DotStuffer::new();
    }

    /// The whole DATA stream for `body` in one call.
    pub fn stuff_all(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut s = DotStuffer::new();
        s.encode(body, &mut out);
        s.finish(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::DotStuffer;

    const CASES: &[(&[u8], &[u8])] = &[
        (b"", b".\r\n"),
        (b"a", b"a\r\n.\r\n"),
        (b"a\r\n", b"a\r\n.\r\n"),
        (b".", b"..\r\n.\r\n"),
        (b".\r\n", b"..\r\n.\r\n"),
        (
            b"Subject: x\r\n\r\n.hidden\r\n..two\r\nmid.dle\r\n.\r\n",
            b"Subject: x\r\n\r\n..hidden\r\n...two\r\nmid.dle\r\n..\r\n.\r\n",
        ),
        (b"a\n.\r\nb", b"a\r\n..\r\nb\r\n.\r\n"),
        (b"a\r.\rb\r", b"a\r\n..\r\nb\r\n.\r\n"),
        (b"\r\n\r\n", b"\r\n\r\n.\r\n"),
        (b"x\r\r\n.", b"x\r\n\r\n..\r\n.\r\n"),
    ];

    #[test]
    fn stuffs_and_terminates() {
        for (input, want) in CASES {
            assert_eq!(
                DotStuffer::stuff_all(input),
                *want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn every_split_point() {
        for (input, want) in CASES {
            for i in 0..=input.len() {
                for j in i..=input.len() {
                    let mut out = Vec::new();
                    let mut s = DotStuffer::new();
                    s.encode(&input[..i], &mut out);
                    s.encode(&input[i..j], &mut out);
                    s.encode(&input[j..], &mut out);
                    s.finish(&mut out);
                    assert_eq!(out, *want, "split {i},{j} of {input:?}");
                }
            }
        }
    }

    #[test]
    fn byte_by_byte() {
        for (input, want) in CASES {
            let mut out = Vec::new();
            let mut s = DotStuffer::new();
            for b in input.iter() {
                s.encode(std::slice::from_ref(b), &mut out);
            }
            s.finish(&mut out);
            assert_eq!(out, *want);
        }
    }
}
