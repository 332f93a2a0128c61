//! BDAT chunk decoder (RFC 3030 CHUNKING).
//!
//! A BDAT command announces exactly how many octets follow it; those octets are
//! message content whatever they look like — `CR LF . CR LF`, `MAIL FROM:` and
//! `QUIT` included — and the octet after them is the start of the next command.
//! There is no end-of-data marker to disagree about and no dot-stuffing, which is
//! why CHUNKING cannot be used for SMTP smuggling as long as the count is exact.
//!
//! Line ends are treated as [`DataDecoder`](crate::DataDecoder) treats them: a bare
//! CR or a bare LF becomes CRLF, and a message whose last line has no line end gets
//! one. We offer no BINARYMIME, so a BDAT message must be text like any other
//! (RFC 3030 section 3); stored messages keep one shape (CRLF lines) whichever
//! command carried them, so the size counted is the size stored, signed and relayed,
//! and the POP3 and relay paths need no second set of rules. A CRLF split across two
//! chunks is one line end: the message is the concatenation of its chunks.
//!
//! The limits are those of DATA: `max_message_size` counts the decoded octets,
//! `max_text_line` the octets of each line including its CRLF. Once one is broken
//! nothing more is output, but the octets of every chunk are still counted and
//! consumed, so that the session stays in step with the client.

use crate::data::{DataError, Progress};

const CR: u8 = b'\r';
const LF: u8 = b'\n';

/// Turns the chunks of one BDAT message into its content: CRLF line ends,
/// size- and line-length-checked, in bounded output pieces.
///
/// Call [`start_chunk`](Self::start_chunk) with each BDAT's size, feed input with
/// [`decode`](Self::decode) until [`remaining`](Self::remaining) is 0, and after the
/// LAST chunk call [`finish`](Self::finish). Input may be split anywhere.
#[derive(Clone, Debug)]
pub struct BdatDecoder {
    max_size: u64,
    max_line: usize,
    /// Octets of the current chunk not yet read.
    remaining: u64,
    /// Decoded octets so far.
    size: u64,
    /// Content octets of the current line.
    line_len: usize,
    /// A CR was read and not yet written: an LF next makes it a CRLF.
    pending_cr: bool,
    /// Nothing is output yet, or the last output was a line end.
    at_line_start: bool,
    error: Option<DataError>,
}

impl BdatDecoder {
    /// A decoder for a new message. `max_message_size` and `max_text_line` (octets
    /// including CRLF) of 0 mean unlimited.
    pub fn new(max_message_size: u64, max_text_line: usize) -> Self {
        BdatDecoder {
            max_size: max_message_size,
            max_line: max_text_line,
            remaining: 0,
            size: 0,
            line_len: 0,
            pending_cr: false,
            at_line_start: true,
            error: None,
        }
    }

    /// A BDAT command announced `size` octets: read exactly that many next.
    pub fn start_chunk(&mut self, size: u64) {
        self.remaining = size;
    }

    /// Octets of the current chunk still to be read.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Decode from `input`, appending at most `limit` octets (at least 3) to `out`.
    ///
    /// Consumes no more than [`remaining`](Self::remaining) octets: what follows the
    /// chunk is the next command. `finished` means the chunk has been read.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>, limit: usize) -> Progress {
        let limit = limit.max(3);
        let take = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        let input = &input[..input.len().min(take)];
        let base = out.len();
        let mut i = 0;
        while i < input.len() {
            let used = out.len() - base;
            // A step appends at most 3 octets (a held CR's CRLF and one more), or
            // a content run sized to fit.
            if used + 3 > limit {
                break;
            }
            let b = input[i];
            if self.pending_cr {
                self.pending_cr = false;
                self.newline(out);
                i += usize::from(b == LF);
                continue;
            }
            match b {
                CR => {
                    self.pending_cr = true;
                    i += 1;
                }
                LF => {
                    self.newline(out);
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
            }
        }
        self.remaining -= i as u64;
        Progress {
            consumed: i,
            finished: self.remaining == 0,
        }
    }

    /// The LAST chunk has been read: end a held CR, or an unterminated last line,
    /// with CRLF (at most 2 octets appended).
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.pending_cr || !self.at_line_start {
            self.pending_cr = false;
            self.newline(out);
        }
    }

    /// The first limit the message broke, if any.
    pub fn error(&self) -> Option<DataError> {
        self.error
    }

    /// Decoded octets so far (exact until an error is recorded).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Append line content, enforcing both limits.
    fn content(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        if bytes.is_empty() || self.error.is_some() {
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
            self.at_line_start = false;
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
            self.at_line_start = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::CHUNK_SIZE;

    /// Decode a message given as chunks, each fed in pieces of `piece` octets with
    /// output limit `limit`; returns the output and the octets consumed per chunk.
    fn decode_message(
        dec: &mut BdatDecoder,
        chunks: &[&[u8]],
        piece: usize,
        limit: usize,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        for chunk in chunks {
            dec.start_chunk(chunk.len() as u64);
            let mut off = 0;
            for p in chunk.chunks(piece.max(1)) {
                let mut at = 0;
                while at < p.len() {
                    let before = out.len();
                    let pr = dec.decode(&p[at..], &mut out, limit);
                    assert!(out.len() - before <= limit.max(3), "chunk over limit");
                    assert!(pr.consumed > 0 || out.len() > before, "no progress");
                    at += pr.consumed;
                }
                off += p.len();
            }
            assert_eq!(off, chunk.len());
            assert_eq!(dec.remaining(), 0);
        }
        dec.finish(&mut out);
        out
    }

    fn whole(chunks: &[&[u8]]) -> Vec<u8> {
        decode_message(&mut BdatDecoder::new(0, 0), chunks, usize::MAX, CHUNK_SIZE)
    }

    #[test]
    fn exact_count_and_what_follows_is_not_consumed() {
        let mut dec = BdatDecoder::new(0, 0);
        dec.start_chunk(5);
        let mut out = Vec::new();
        let p = dec.decode(b"ab\r\ncQUIT\r\n", &mut out, CHUNK_SIZE);
        assert_eq!(
            p,
            Progress {
                consumed: 5,
                finished: true
            }
        );
        assert_eq!(out, b"ab\r\nc");
        // A finished chunk consumes nothing more.
        let p = dec.decode(b"QUIT\r\n", &mut out, CHUNK_SIZE);
        assert_eq!(p.consumed, 0);
        assert!(p.finished);
    }

    #[test]
    fn content_is_never_a_terminator_or_a_command() {
        let body: &[u8] = b"Subject: x\r\n\r\nline\r\n.\r\nMAIL FROM:<evil@x>\r\n..\r\n.\r\n";
        assert_eq!(whole(&[body]), body, "no unstuffing, no end of data");
    }

    #[test]
    fn line_ends_are_normalised_across_chunks() {
        assert_eq!(whole(&[b"a\nb\rc\r\n"]), b"a\r\nb\r\nc\r\n");
        // CR at the end of one chunk, LF at the start of the next: one CRLF.
        assert_eq!(whole(&[b"a\r", b"\nb\r\n"]), b"a\r\nb\r\n");
        assert_eq!(whole(&[b"a\r", b"b\r\n"]), b"a\r\nb\r\n");
        // A held CR at the end of the message, an unterminated last line.
        assert_eq!(whole(&[b"a\r"]), b"a\r\n");
        assert_eq!(whole(&[b"a\r\nb"]), b"a\r\nb\r\n");
        assert_eq!(whole(&[b"a\r\n", b""]), b"a\r\n");
        assert_eq!(whole(&[b""]), b"");
        assert_eq!(whole(&[]), b"");
    }

    #[test]
    fn eight_bit_and_nul_pass() {
        let line: Vec<u8> = (0..=255u8).filter(|&b| b != CR && b != LF).collect();
        let mut msg = line.clone();
        msg.extend_from_slice(b"\r\n");
        assert_eq!(whole(&[&msg]), msg);
    }

    #[test]
    fn any_split_and_any_limit_give_the_same_output() {
        let inputs: &[&[u8]] = &[
            b"a\r\n.\r\nb",
            b"\r\r\n\n\r\r.\r\n",
            b"x\ry\nz\r\n\r\n..\r",
            b"\xff\x00\r\nMAIL FROM:<a@b>\r\n",
        ];
        for input in inputs {
            let want = whole(&[input]);
            for cut in 0..=input.len() {
                let (a, b) = input.split_at(cut);
                for (piece, limit) in [(1, 3), (2, 4), (3, 7), (usize::MAX, 3)] {
                    let got = decode_message(&mut BdatDecoder::new(0, 0), &[a, b], piece, limit);
                    assert_eq!(got, want, "{input:?} cut {cut} piece {piece} limit {limit}");
                }
            }
        }
    }

    #[test]
    fn random_against_data_decoder() {
        // The same text sent with DATA (dot-stuffed, CRLF-terminated) decodes the same.
        let mut rng = crate::test_rng::XorShift::new(0xbda7_5eed);
        for _ in 0..2000 {
            let len = rng.below(30);
            let mut msg: Vec<u8> = (0..len)
                .map(|_| [b'a', b'.', CR, LF, 0xC3][rng.below(5)])
                .collect();
            msg.extend_from_slice(b"\r\n");
            let mut cuts = vec![0, msg.len()];
            for _ in 0..rng.below(4) {
                cuts.push(rng.below(msg.len() + 1));
            }
            cuts.sort_unstable();
            let chunks: Vec<&[u8]> = cuts.windows(2).map(|w| &msg[w[0]..w[1]]).collect();
            let got = decode_message(&mut BdatDecoder::new(0, 0), &chunks, 1 + rng.below(5), 3);
            // Dot-stuff for DATA.
            let mut data = Vec::new();
            let mut start = true;
            for &b in &msg {
                if start && b == b'.' {
                    data.push(b'.');
                }
                data.push(b);
                start = b == LF || b == CR;
            }
            // DATA's dot-stuffing after a bare CR is what the DataDecoder undoes;
            // end with a terminator after the final CRLF.
            data.extend_from_slice(b".\r\n");
            let mut dd = crate::DataDecoder::new(0, 0);
            let mut want = Vec::new();
            let mut at = 0;
            while !dd.is_finished() {
                at += dd.decode(&data[at..], &mut want, CHUNK_SIZE).consumed;
            }
            assert_eq!(got, want, "{msg:?}");
        }
    }

    #[test]
    fn size_limit_counts_decoded_octets_and_keeps_consuming() {
        let mut dec = BdatDecoder::new(10, 0);
        assert_eq!(
            decode_message(&mut dec, &[b"1234", b"5678\r\n"], 3, 3),
            b"12345678\r\n"
        );
        assert_eq!(dec.error(), None, "exactly at the limit");

        let mut dec = BdatDecoder::new(10, 0);
        let out = decode_message(&mut dec, &[b"12345678\r\n", b"x\r\n.\r\nmore"], 100, 100);
        assert_eq!(dec.error(), Some(DataError::TooBig));
        assert_eq!(out, b"12345678\r\n", "nothing after the error");

        // A bare LF grows by one octet: 9 + CRLF > 10 is too big, 8 + CRLF fits.
        let mut dec = BdatDecoder::new(10, 0);
        decode_message(&mut dec, &[b"123456789\n"], 100, 100);
        assert_eq!(dec.error(), Some(DataError::TooBig));
        // The CRLF that `finish` adds counts too.
        let mut dec = BdatDecoder::new(10, 0);
        decode_message(&mut dec, &[b"123456789"], 100, 100);
        assert_eq!(dec.error(), Some(DataError::TooBig));
    }

    #[test]
    fn line_limit_is_that_of_data() {
        let mut dec = BdatDecoder::new(0, 10);
        decode_message(&mut dec, &[b"12345678\r\n.23456789\r\n"], 100, 100);
        assert_eq!(
            dec.error(),
            Some(DataError::LineTooLong),
            "no stuffed dot here"
        );
        let mut dec = BdatDecoder::new(0, 10);
        decode_message(&mut dec, &[b"1234", b"5678\r", b"\n12345678\n"], 1, 3);
        assert_eq!(dec.error(), None);
        let mut dec = BdatDecoder::new(0, 10);
        let out = decode_message(&mut dec, &[b"ok\r\n12345", b"6789\r\nafter\r\n"], 1, 3);
        assert_eq!(dec.error(), Some(DataError::LineTooLong));
        assert_eq!(out, b"ok\r\n12345678", "what fitted before the 9th octet");
    }

    #[test]
    fn huge_chunk_sizes_do_not_overflow() {
        let mut dec = BdatDecoder::new(0, 0);
        dec.start_chunk(u64::MAX);
        let mut out = Vec::new();
        let p = dec.decode(b"abc", &mut out, CHUNK_SIZE);
        assert_eq!(p.consumed, 3);
        assert!(!p.finished);
        assert_eq!(dec.remaining(), u64::MAX - 3);
    }

    #[test]
    fn bounded_output() {
        let msg = vec![b'\n'; 200_000];
        let mut dec = BdatDecoder::new(0, 0);
        dec.start_chunk(msg.len() as u64);
        let mut consumed = 0;
        let mut total = 0;
        while dec.remaining() > 0 {
            let mut out = Vec::new();
            consumed += dec.decode(&msg[consumed..], &mut out, CHUNK_SIZE).consumed;
            assert!(out.len() <= CHUNK_SIZE);
            total += out.len();
        }
        assert_eq!(total, 400_000);
        assert_eq!(dec.size(), 400_000);
    }
}
