//! Streaming DATA decoder (RFC 5321 4.1.1.4 and 4.5.2) that is safe against SMTP
//! smuggling.
//!
//! The body ends only at `CR LF . CR LF` built from real CR LF pairs. A bare LF or a
//! bare CR is turned into CRLF in the output but never takes part in an end-of-data
//! sequence: if we accepted `LF . LF` (as some servers did) while the server that
//! relayed the message to us did not, a sender could hide a second message, with a
//! forged envelope, inside the first one. Because every line end in the output is
//! CRLF, the size we count is the size we store and the size we would relay.
//!
//! Dot-unstuffing removes the first dot of every line that starts with one, whatever
//! ended the previous line, so the decoded body is the same however it was framed.

/// Largest amount of output one [`DataDecoder::decode`] call appends when given
/// [`CHUNK_SIZE`] as its limit; the session uses it for `MessageChunk` events.
pub const CHUNK_SIZE: usize = 64 * 1024;

const CR: u8 = b'\r';
const LF: u8 = b'\n';

/// Why a body is being discarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DataError {
    /// The decoded body exceeds the maximum message size.
    #[error("message size exceeds fixed maximum message size")]
    TooBig,
    /// A text line exceeds the maximum line length.
    #[error("text line too long")]
    LineTooLong,
}

/// What one [`DataDecoder::decode`] call did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Input octets consumed. After the end of data the rest of the input belongs to
    /// the next command and is not consumed.
    pub consumed: usize,
    /// The end-of-data sequence has been consumed.
    pub finished: bool,
}

/// Where the decoder is within the line structure of the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// At the start of a line; `eligible` when the previous line ended with a real
    /// CRLF (or this is the first line), so that a lone dot here may end the data.
    LineStart { eligible: bool },
    /// A dot at the start of a line was read (and dropped: unstuffed).
    Dot { eligible: bool },
    /// Inside a line.
    Mid,
    /// A CR was read; whether it is a real CRLF depends on the next byte.
    Cr,
    /// `CRLF . CR` was read: LF next ends the data.
    DotCr,
    /// The end of data was consumed.
    Done,
}

/// Turns the octets after the DATA command into the message body: unstuffed, with
/// CRLF line ends, size- and line-length-checked, in bounded output chunks.
///
/// It is byte-oriented: input may be split anywhere and the result is the same.
#[derive(Clone, Debug)]
pub struct DataDecoder {
    state: State,
    max_size: u64,
    max_line: usize,
    size: u64,
    line_len: usize,
    error: Option<DataError>,
}

impl DataDecoder {
    /// A decoder positioned just after the DATA command's CRLF. `max_message_size` and
    /// `max_text_line` (octets including CRLF) of 0 mean unlimited.
    pub fn new(max_message_size: u64, max_text_line: usize) -> Self {
        DataDecoder {
            state: State::LineStart { eligible: true },
            max_size: max_message_size,
            max_line: max_text_line,
            size: 0,
            line_len: 0,
            error: None,
        }
    }

    /// Decode from `input`, appending at most `limit` octets (at least 3) to `out`.
    ///
    /// Stops early when the output limit is reached or when the end of data has been
    /// consumed. Once an error is recorded nothing more is appended, but input is
    /// still consumed up to the end of data so that the session stays in step.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>, limit: usize) -> Progress {
        let limit = limit.max(3);
        let base = out.len();
        let mut i = 0;
        while i < input.len() && self.state != State::Done {
            let used = out.len() - base;
            // Each step appends at most 2 octets, or a content run sized to fit.
            if used + 2 > limit {
                break;
            }
            let b = input[i];
            match self.state {
                State::LineStart { eligible } => {
                    if b == b'.' {
                        self.state = State::Dot { eligible };
                        i += 1;
                    } else {
                        self.state = State::Mid; // look at b again as line content
                    }
                }
                State::Dot { eligible } => match b {
                    // "." CR: after a real CRLF this may be the end of data.
                    CR if eligible => {
                        self.state = State::DotCr;
                        i += 1;
                    }
                    CR => {
                        self.state = State::Cr;
                        i += 1;
                    }
                    LF => {
                        self.newline(out);
                        self.state = State::LineStart { eligible: false };
                        i += 1;
                    }
                    _ => self.state = State::Mid,
                },
                State::Mid => match b {
                    CR => {
                        self.state = State::Cr;
                        i += 1;
                    }
                    LF => {
                        // Bare LF: a line end for the output, never for end of data.
                        self.newline(out);
                        self.state = State::LineStart { eligible: false };
                        i += 1;
                    }
                    _ => {
                        let rest = &input[i..];
                        let run = rest
                            .iter()
                            .position(|&c| c == CR || c == LF)
                            .unwrap_or(rest.len())
                            .min(limit - used);
                        self.content(&rest[..run], out);
                        i += run;
                    }
                },
                State::Cr => {
                    self.newline(out);
                    if b == LF {
                        self.state = State::LineStart { eligible: true };
                        i += 1;
                    } else {
                        // Bare CR: ends the line in the output only.
                        self.state = State::LineStart { eligible: false };
                    }
                }
                State::DotCr => {
                    if b == LF {
                        self.state = State::Done;
                        i += 1;
                    } else {
                        // "." followed by a bare CR: an (unstuffed) empty line.
                        self.newline(out);
                        self.state = State::LineStart { eligible: false };
                    }
                }
                State::Done => break,
            }
        }
        Progress {
            consumed: i,
            finished: self.state == State::Done,
        }
    }

    /// The end of data has been consumed.
    pub fn is_finished(&self) -> bool {
        self.state == State::Done
    }

    /// The first limit the body broke, if any.
    pub fn error(&self) -> Option<DataError> {
        self.error
    }

    /// Decoded octets so far (exact until an error is recorded).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Append line content, enforcing both limits.
    fn content(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        if self.error.is_some() {
            return;
        }
        self.line_len = self.line_len.saturating_add(bytes.len());
        self.size = self.size.saturating_add(bytes.len() as u64);
        if self.max_line != 0 && self.line_len.saturating_add(2) > self.max_line {
            self.error = Some(DataError::LineTooLong);
        } else if self.max_size != 0 && self.size > self.max_size {
            self.error = Some(DataError::TooBig);
        } else {
            out.extend_from_slice(bytes);
        }
    }

    /// Append a CRLF line end.
    fn newline(&mut self, out: &mut Vec<u8>) {
        self.line_len = 0;
        if self.error.is_some() {
            return;
        }
        self.size = self.size.saturating_add(2);
        if self.max_size != 0 && self.size > self.max_size {
            self.error = Some(DataError::TooBig);
        } else {
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// Finds out whether a message's header section has a non-ASCII octet, chunk by chunk
/// of decoded body (CRLF line ends).
#[derive(Clone, Debug)]
pub struct HeaderScan {
    /// Octets of `CR LF CR LF` matched so far; starts at 2 so that a body opening
    /// with its blank line has an empty header.
    matched: usize,
    done: bool,
}

impl Default for HeaderScan {
    fn default() -> Self {
        HeaderScan {
            matched: 2,
            done: false,
        }
    }
}

impl HeaderScan {
    /// Looks at the next decoded octets; true when the header section has a non-ASCII
    /// octet. Octets after the header section are not looked at.
    pub fn push(&mut self, chunk: &[u8]) -> bool {
        const END: &[u8; 4] = b"\r\n\r\n";
        for &b in chunk {
            if self.done {
                return false;
            }
            if !b.is_ascii() {
                return true;
            }
            self.matched = if b == END[self.matched] {
                self.matched + 1
            } else if b == CR {
                1
            } else {
                0
            };
            if self.matched == END.len() {
                self.done = true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decode `input` in one go (in CHUNK_SIZE outputs); returns output and progress.
    fn decode_with(dec: &mut DataDecoder, input: &[u8], limit: usize) -> (Vec<u8>, Progress) {
        let mut out = Vec::new();
        let mut consumed = 0;
        loop {
            let before = out.len();
            let p = dec.decode(&input[consumed..], &mut out, limit);
            assert!(out.len() - before <= limit.max(3), "chunk over limit");
            consumed += p.consumed;
            if p.finished || consumed == input.len() {
                return (
                    out,
                    Progress {
                        consumed,
                        finished: p.finished,
                    },
                );
            }
            assert!(p.consumed > 0 || out.len() > before, "no progress");
        }
    }

    fn decode(input: &[u8]) -> (Vec<u8>, Progress) {
        decode_with(&mut DataDecoder::new(0, 0), input, CHUNK_SIZE)
    }

    /// Decode feeding the input in the given pieces, as a session would.
    fn decode_pieces(pieces: &[&[u8]], limit: usize) -> (Vec<u8>, usize, bool) {
        let mut dec = DataDecoder::new(0, 0);
        let mut out = Vec::new();
        let mut consumed = 0;
        for piece in pieces {
            let mut off = 0;
            while off < piece.len() && !dec.is_finished() {
                let before = out.len();
                let p = dec.decode(&piece[off..], &mut out, limit);
                assert!(out.len() - before <= limit.max(3));
                off += p.consumed;
                consumed += p.consumed;
            }
        }
        (out, consumed, dec.is_finished())
    }

    /// An independent model: split into lines by terminator kind, then apply the rules.
    fn reference(input: &[u8]) -> Option<(Vec<u8>, usize)> {
        let mut out = Vec::new();
        let mut eligible = true;
        let mut i = 0;
        let mut line_start = 0;
        while i < input.len() {
            let (term_len, real) = match input[i] {
                CR if input.get(i + 1) == Some(&LF) => (2, true),
                CR if i + 1 == input.len() => return None, // undecided
                CR | LF => (1, false),
                _ => {
                    i += 1;
                    continue;
                }
            };
            let line = &input[line_start..i];
            if eligible && real && line == b"." {
                return Some((out, i + 2));
            }
            out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
            out.extend_from_slice(b"\r\n");
            eligible = real;
            i += term_len;
            line_start = i;
        }
        None
    }

    /// Every CR in `out` is followed by LF and every LF preceded by CR.
    fn only_crlf(out: &[u8]) -> bool {
        out.iter().enumerate().all(|(i, &b)| match b {
            CR => out.get(i + 1) == Some(&LF),
            LF => i > 0 && out[i - 1] == CR,
            _ => true,
        })
    }

    #[test]
    fn header_scan_stops_at_the_blank_line() {
        let mut s = HeaderScan::default();
        assert!(!s.push(b"Subject: hi\r"));
        assert!(!s.push(b"\nX: y\r\n\r"));
        assert!(!s.push("\nbody ไทย\r\n".as_bytes()));
        let mut s = HeaderScan::default();
        assert!(!s.push(b"Subject: a\r\n"));
        assert!(s.push("Subject: ไทย\r\n\r\n".as_bytes()));
        // An empty header: the body starts with its blank line.
        let mut s = HeaderScan::default();
        assert!(!s.push("\r\nไทย".as_bytes()));
        // CR CR LF is not the end of a line pair.
        let mut s = HeaderScan::default();
        assert!(!s.push(b"A: b\r\r\n"));
        assert!(s.push(b"C: \xff\r\n\r\n"));
    }

    #[test]
    fn empty_body() {
        let (out, p) = decode(b".\r\n");
        assert_eq!(out, b"");
        assert_eq!(
            p,
            Progress {
                consumed: 3,
                finished: true
            }
        );
    }

    #[test]
    fn simple_body_and_trailing_commands() {
        let input = b"Subject: x\r\n\r\nHello\r\n.\r\nQUIT\r\n";
        let (out, p) = decode(input);
        assert_eq!(out, b"Subject: x\r\n\r\nHello\r\n");
        assert!(p.finished);
        assert_eq!(&input[p.consumed..], b"QUIT\r\n");
    }

    #[test]
    fn unfinished_body() {
        let (out, p) = decode(b"abc\r\n.\r");
        assert_eq!(out, b"abc\r\n");
        assert_eq!(
            p,
            Progress {
                consumed: 7,
                finished: false
            }
        );
        let mut dec = DataDecoder::new(0, 0);
        assert_eq!(
            dec.decode(b"", &mut Vec::new(), CHUNK_SIZE),
            Progress {
                consumed: 0,
                finished: false
            }
        );
    }

    #[test]
    fn dot_unstuffing() {
        let (out, p) = decode(b"..x\r\n..\r\n...\r\n.a.\r\nb.\r\n.\r\n");
        assert!(p.finished);
        assert_eq!(out, b".x\r\n.\r\n..\r\na.\r\nb.\r\n");
        // First line of the body too.
        let (out, _) = decode(b"..\r\n.\r\n");
        assert_eq!(out, b".\r\n");
    }

    #[test]
    fn line_end_normalisation() {
        let (out, p) = decode(b"a\nb\rc\r\r\nd\n\re\r\n.\r\n");
        assert!(p.finished);
        assert_eq!(out, b"a\r\nb\r\nc\r\n\r\nd\r\n\r\ne\r\n");
        // A dot after a bare line end is still unstuffed.
        let (out, _) = decode(b"a\n..b\r..c\r\n.\r\n");
        assert_eq!(out, b"a\r\n.b\r\n.c\r\n");
    }

    #[test]
    fn smuggling_variants_are_body() {
        let variants: &[&[u8]] = &[
            b"\n.\n",
            b"\r\n.\n",
            b"\n.\r\n",
            b"\r.\r",
            b"\r.\r\n",
            b"\r\n.\r",
            b"\n.\r",
            b"\r.\n",
            b"\r\n.\r\r\n",
            b"\r\n.\n\r\n",
            b"\r\n.\0\r\n",
            b"\r\n. \r\n",
            b"\r\n..\r\n",
            b"\r\n\x00.\r\n",
            b"\r\r\n.\r\r\n",
        ];
        for v in variants {
            let mut input = b"a".to_vec();
            input.extend_from_slice(v);
            input.extend_from_slice(b"MAIL FROM:<x@y>\r\nRCPT TO:<z@w>\r\nDATA\r\n");
            let end = input.len();
            input.extend_from_slice(b"\r\n.\r\n");
            let (out, p) = decode(&input);
            assert!(p.finished, "{v:?}");
            assert_eq!(p.consumed, end + 5, "{v:?} ended early");
            assert!(only_crlf(&out), "{v:?}");
            let needle = b"MAIL FROM:<x@y>\r\nRCPT TO:<z@w>\r\nDATA\r\n\r\n";
            assert!(out.windows(needle.len()).any(|w| w == needle), "{v:?}");
            assert_eq!(reference(&input), Some((out, p.consumed)), "{v:?}");
        }
    }

    #[test]
    fn eight_bit_clean() {
        let mut line: Vec<u8> = (0..=255u8).filter(|&b| b != CR && b != LF).collect();
        line.extend_from_slice(b"\r\n");
        let mut input = line.clone();
        input.extend_from_slice(b".\r\n");
        let (out, p) = decode(&input);
        assert!(p.finished);
        assert_eq!(out, line);
    }

    #[test]
    fn every_split_point_and_single_bytes() {
        let inputs: &[&[u8]] = &[
            b".\r\n",
            b"a\r\n.\r\n",
            b"..a\r\n.b\n.\r\r\n.\n\r.\r.\r\n\r\n.\r\nNEXT",
            b"\r\n\r\n..\r\n.\r\n",
            b"x\r\r\r\n\n\n.\r\n\r\n.\r\n",
            b"\xff\x00.\r\n..\r\n.\r\n",
        ];
        for input in inputs {
            let (want, p) = decode(input);
            assert!(p.finished);
            for split in 0..=input.len() {
                let (a, b) = input.split_at(split);
                for limit in [3, 4, 7, CHUNK_SIZE] {
                    let (got, consumed, finished) = decode_pieces(&[a, b], limit);
                    assert!(finished, "{input:?} split {split}");
                    assert_eq!(consumed, p.consumed);
                    assert_eq!(got, want, "{input:?} split {split} limit {limit}");
                }
            }
            let bytes: Vec<&[u8]> = input.chunks(1).collect();
            let (got, consumed, finished) = decode_pieces(&bytes, CHUNK_SIZE);
            assert!(finished);
            assert_eq!(consumed, p.consumed);
            assert_eq!(got, want);
        }
    }

    #[test]
    fn random_against_reference_model() {
        let mut rng = crate::test_rng::XorShift::new(0x5eed_da7a);
        for _ in 0..3000 {
            let len = rng.below(40);
            let mut input: Vec<u8> = (0..len)
                .map(|_| [b'a', b'.', CR, LF, 0xC3][rng.below(5)])
                .collect();
            input.extend_from_slice(b"\r\n.\r\n");
            let want = reference(&input).expect("terminated");
            // Random chunking and random output limits.
            let mut pieces = Vec::new();
            let mut rest = &input[..];
            while !rest.is_empty() {
                let n = 1 + rng.below(rest.len());
                pieces.push(&rest[..n]);
                rest = &rest[n..];
            }
            let limit = 3 + rng.below(10);
            let (got, consumed, finished) = decode_pieces(&pieces, limit);
            assert!(finished, "{input:?}");
            assert_eq!((got, consumed), want, "{input:?}");
        }
    }

    #[test]
    fn bounded_chunks() {
        let mut input = vec![b'x'; 300_000];
        input.extend_from_slice(b"\r\n.\r\n");
        let mut dec = DataDecoder::new(0, 0);
        let mut consumed = 0;
        let mut total = 0;
        let mut calls = 0;
        while !dec.is_finished() {
            let mut out = Vec::new();
            consumed += dec
                .decode(&input[consumed..], &mut out, CHUNK_SIZE)
                .consumed;
            assert!(out.len() <= CHUNK_SIZE);
            total += out.len();
            calls += 1;
        }
        assert_eq!(total, 300_002);
        assert_eq!(dec.size(), 300_002);
        assert!(calls >= 5);
    }

    #[test]
    fn size_limit() {
        // Exactly at the limit: 8 + CRLF = 10 octets.
        let mut dec = DataDecoder::new(10, 0);
        let (out, p) = decode_with(&mut dec, b"12345678\r\n.\r\n", CHUNK_SIZE);
        assert!(p.finished);
        assert_eq!(out.len(), 10);
        assert_eq!(dec.error(), None);

        let mut dec = DataDecoder::new(10, 0);
        let input = b"123456789\r\nmore\r\n..\r\n.\r\nNEXT";
        let (out, p) = decode_with(&mut dec, input, CHUNK_SIZE);
        assert!(p.finished, "keeps reading to the end of data");
        assert_eq!(&input[p.consumed..], b"NEXT");
        assert_eq!(dec.error(), Some(DataError::TooBig));
        assert!(out.len() <= 10);

        // The CRLF alone can break the limit.
        let mut dec = DataDecoder::new(9, 0);
        decode_with(&mut dec, b"12345678\r\n.\r\n", CHUNK_SIZE);
        assert_eq!(dec.error(), Some(DataError::TooBig));
    }

    #[test]
    fn line_limit() {
        let mut dec = DataDecoder::new(0, 10);
        let (_, p) = decode_with(&mut dec, b"12345678\r\n.2345678\r\n.\r\n", CHUNK_SIZE);
        assert!(p.finished);
        assert_eq!(dec.error(), None, "the stuffed dot does not count");

        let mut dec = DataDecoder::new(0, 10);
        let (out, p) = decode_with(&mut dec, b"ok\r\n123456789\r\nafter\r\n.\r\n", CHUNK_SIZE);
        assert!(p.finished);
        assert_eq!(dec.error(), Some(DataError::LineTooLong));
        assert_eq!(out, b"ok\r\n", "nothing after the error");

        // Fed one octet at a time the line counter still works.
        let mut dec = DataDecoder::new(0, 10);
        let mut out = Vec::new();
        for b in b"123456789\r\n.\r\n" {
            dec.decode(&[*b], &mut out, CHUNK_SIZE);
        }
        assert!(dec.is_finished());
        assert_eq!(dec.error(), Some(DataError::LineTooLong));
    }

    #[test]
    fn finished_decoder_consumes_nothing() {
        let mut dec = DataDecoder::new(0, 0);
        let mut out = Vec::new();
        assert!(dec.decode(b".\r\n", &mut out, CHUNK_SIZE).finished);
        let p = dec.decode(b"more", &mut out, CHUNK_SIZE);
        assert_eq!(
            p,
            Progress {
                consumed: 0,
                finished: true
            }
        );
        assert!(out.is_empty());
    }
}
