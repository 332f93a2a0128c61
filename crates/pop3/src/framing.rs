//! Splitting client input into command lines, in bounded memory.
//!
//! Two limits keep memory bounded whatever the peer sends: a line longer than `max_line`
//! is dropped octet by octet as it arrives (only the fact that it was too long is kept), and
//! complete lines waiting to be processed may take at most `max_pipelined` octets in total.
//! Past that the reader stops accepting input and remembers that it overflowed.

use std::collections::VecDeque;

/// Accounting overhead charged per queued line, so that a flood of empty or overlong lines
/// (which cost few payload octets) is still bounded by the pipelining limit.
const LINE_OVERHEAD: usize = 32;

/// One unit of client input.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// A line without its CRLF (or bare LF).
    Complete(Vec<u8>),
    /// A line longer than `max_line`; its content was discarded.
    TooLong,
}

/// Incremental line splitter.
#[derive(Debug)]
pub(crate) struct LineReader {
    /// The start of a line whose LF has not arrived yet; never reaches `max_line` octets.
    partial: Vec<u8>,
    /// Inside an overlong line: drop everything up to the next LF.
    discarding: bool,
    queue: VecDeque<Line>,
    /// Octets charged for `queue` (payload plus `LINE_OVERHEAD` each).
    queued: usize,
    max_line: usize,
    max_pipelined: usize,
    overflowed: bool,
}

impl LineReader {
    pub(crate) fn new(max_line: usize, max_pipelined: usize) -> Self {
        LineReader {
            partial: Vec::new(),
            discarding: false,
            queue: VecDeque::new(),
            queued: 0,
            max_line,
            max_pipelined,
            overflowed: false,
        }
    }

    /// Takes client input. After an overflow further input is ignored.
    pub(crate) fn push(&mut self, mut input: &[u8]) {
        while !input.is_empty() && !self.overflowed {
            let (segment, has_lf) = match input.iter().position(|&b| b == b'\n') {
                Some(i) => (&input[..i], true),
                None => (input, false),
            };
            input = if has_lf {
                &input[segment.len() + 1..]
            } else {
                &[]
            };

            if self.discarding {
                if has_lf {
                    self.discarding = false;
                    self.enqueue(Line::TooLong);
                }
                continue;
            }
            // `max_line` counts the whole line including its LF, so the content before the
            // LF must stay below it.
            if self.partial.len() + segment.len() >= self.max_line {
                self.partial = Vec::new();
                if has_lf {
                    self.enqueue(Line::TooLong);
                } else {
                    self.discarding = true;
                }
                continue;
            }
            if !has_lf {
                self.partial.extend_from_slice(segment);
                continue;
            }
            let mut line = Vec::with_capacity(self.partial.len() + segment.len());
            line.extend_from_slice(&self.partial);
            line.extend_from_slice(segment);
            self.partial.clear();
            // CRLF is the standard ending; a bare LF is tolerated for sloppy clients.
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            self.enqueue(Line::Complete(line));
        }
    }

    fn enqueue(&mut self, line: Line) {
        let cost = LINE_OVERHEAD
            + match &line {
                Line::Complete(bytes) => bytes.len(),
                Line::TooLong => 0,
            };
        if self.queued + self.partial.len() + cost > self.max_pipelined {
            self.overflow();
            return;
        }
        self.queued += cost;
        self.queue.push_back(line);
    }

    fn overflow(&mut self) {
        self.overflowed = true;
        self.partial = Vec::new();
        self.discarding = false;
    }

    /// The next line to process, in arrival order.
    pub(crate) fn next_line(&mut self) -> Option<Line> {
        let line = self.queue.pop_front()?;
        self.queued -= LINE_OVERHEAD
            + match &line {
                Line::Complete(bytes) => bytes.len(),
                Line::TooLong => 0,
            };
        Some(line)
    }

    /// Input was refused because too much was pending.
    pub(crate) fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// Octets held (queued lines with their overhead, plus the partial line).
    pub(crate) fn buffered(&self) -> usize {
        self.queued + self.partial.len()
    }

    /// Drops everything held, e.g. when the session closes.
    pub(crate) fn clear(&mut self) {
        self.queue = VecDeque::new();
        self.queued = 0;
        self.partial = Vec::new();
        self.discarding = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(r: &mut LineReader) -> Vec<Line> {
        std::iter::from_fn(|| r.next_line()).collect()
    }

    fn c(s: &str) -> Line {
        Line::Complete(s.as_bytes().to_vec())
    }

    #[test]
    fn splits_crlf_and_bare_lf_across_chunks() {
        let mut r = LineReader::new(512, 4096);
        r.push(b"STA");
        r.push(b"T\r");
        r.push(b"\nNOOP\nLIST 1\r\n\r\n");
        assert_eq!(
            lines(&mut r),
            vec![c("STAT"), c("NOOP"), c("LIST 1"), c("")]
        );
        assert_eq!(r.buffered(), 0);
    }

    #[test]
    fn line_length_limit_counts_crlf() {
        let mut r = LineReader::new(10, 4096);
        r.push(b"12345678\r\n"); // exactly 10 octets: accepted
        r.push(b"123456789\r\n"); // 11 octets: too long
        r.push(b"123456789\n"); // 10 octets with bare LF: accepted
        r.push(b"1234567890\n"); // 11 octets: too long
        assert_eq!(
            lines(&mut r),
            vec![c("12345678"), Line::TooLong, c("123456789"), Line::TooLong]
        );
    }

    #[test]
    fn overlong_line_is_not_buffered() {
        let mut r = LineReader::new(16, 4096);
        for _ in 0..10_000 {
            r.push(&[b'x'; 100]);
            assert!(r.buffered() < 16);
        }
        r.push(b"\r\nNOOP\r\n");
        assert_eq!(lines(&mut r), vec![Line::TooLong, c("NOOP")]);
    }

    #[test]
    fn overflow_stops_input() {
        let mut r = LineReader::new(512, 200);
        for _ in 0..100 {
            r.push(b"NOOP\r\n");
        }
        assert!(r.overflowed());
        assert!(r.buffered() <= 200);
        let n = lines(&mut r).len();
        assert!(n > 0 && n < 100, "{n}");
        r.push(b"NOOP\r\n");
        assert!(r.next_line().is_none());
    }
}
