//! Splitting client input into command lines, in bounded memory.
//!
//! Two limits keep memory bounded whatever the peer sends: a line longer than `long_line`
//! is dropped octet by octet as it arrives (only the fact that it was too long is kept), and
//! complete lines waiting to be processed may take at most `max_pipelined` octets in total.
//! Past that the reader stops accepting input and remembers that it overflowed.
//!
//! `long_line` is `max_line` unless SASL is configured: then AUTH commands and SASL
//! responses may be longer than ordinary commands. The reader cannot tell which a line will
//! be (that depends on the state when the line is processed, not when it arrives), so it
//! keeps lines up to `long_line` and marks those over `max_line` as [`Line::Long`]; the
//! session refuses a long line unless it is allowed to be long.

use std::collections::VecDeque;

/// Accounting overhead charged per queued line, so that a flood of empty or overlong lines
/// (which cost few payload octets) is still bounded by the pipelining limit.
const LINE_OVERHEAD: usize = 32;

/// One unit of client input.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// A line without its CRLF (or bare LF).
    Complete(Vec<u8>),
    /// A line longer than `max_line` but within `long_line`, without its line ending.
    Long(Vec<u8>),
    /// A line longer than `long_line`; its content was discarded.
    TooLong,
}

impl Line {
    /// Octets charged against the pipelining budget.
    fn cost(&self) -> usize {
        LINE_OVERHEAD
            + match self {
                Line::Complete(bytes) | Line::Long(bytes) => bytes.len(),
                Line::TooLong => 0,
            }
    }
}

/// Incremental line splitter.
#[derive(Debug)]
pub(crate) struct LineReader {
    /// The start of a line whose LF has not arrived yet; never reaches `long_line` octets.
    partial: Vec<u8>,
    /// Inside an overlong line: drop everything up to the next LF.
    discarding: bool,
    queue: VecDeque<Line>,
    /// Octets charged for `queue` (payload plus `LINE_OVERHEAD` each).
    queued: usize,
    max_line: usize,
    long_line: usize,
    max_pipelined: usize,
    overflowed: bool,
}

impl LineReader {
    /// `long_line` below `max_line` is raised to it. When long lines are kept the
    /// pipelining budget is raised to hold at least one, so that a long line sent alone
    /// is never taken for a flood.
    pub(crate) fn new(max_line: usize, long_line: usize, max_pipelined: usize) -> Self {
        let long_line = long_line.max(max_line);
        let max_pipelined = if long_line > max_line {
            max_pipelined.max(long_line + LINE_OVERHEAD)
        } else {
            max_pipelined
        };
        LineReader {
            partial: Vec::new(),
            discarding: false,
            queue: VecDeque::new(),
            queued: 0,
            max_line,
            long_line,
            max_pipelined,
            overflowed: false,
        }
    }

    /// The most octets [`buffered`](Self::buffered) can report.
    pub(crate) fn limit(&self) -> usize {
        self.long_line + self.max_pipelined
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
            if self.partial.len() + segment.len() >= self.long_line {
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
            let long = line.len() >= self.max_line;
            // CRLF is the standard ending; a bare LF is tolerated for sloppy clients.
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            self.enqueue(if long {
                Line::Long(line)
            } else {
                Line::Complete(line)
            });
        }
    }

    fn enqueue(&mut self, line: Line) {
        let cost = line.cost();
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
        self.queued -= line.cost();
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

    /// Gives back the space of an empty queue and partial line.
    pub(crate) fn release_buffers(&mut self) {
        if self.partial.is_empty() {
            self.partial = Vec::new();
        }
        if self.queue.is_empty() {
            self.queue = VecDeque::new();
        }
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
        let mut r = LineReader::new(512, 512, 4096);
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
        let mut r = LineReader::new(10, 10, 4096);
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
        let mut r = LineReader::new(16, 16, 4096);
        for _ in 0..10_000 {
            r.push(&[b'x'; 100]);
            assert!(r.buffered() < 16);
        }
        r.push(b"\r\nNOOP\r\n");
        assert_eq!(lines(&mut r), vec![Line::TooLong, c("NOOP")]);
    }

    #[test]
    fn overflow_stops_input() {
        let mut r = LineReader::new(512, 512, 200);
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

    #[test]
    fn long_lines_are_kept_and_marked() {
        let mut r = LineReader::new(10, 20, 16);
        r.push(b"12345678\r\n"); // 10 octets: ordinary
        assert_eq!(lines(&mut r), vec![c("12345678")]);
        r.push(b"123456789\r\n"); // 11 octets: long
        assert_eq!(lines(&mut r), vec![Line::Long(b"123456789".to_vec())]);
        // 19 octets: long, and more than `max_pipelined`, yet no overflow: the budget
        // holds at least one long line.
        r.push(b"123456789012345678\n");
        assert!(!r.overflowed());
        assert_eq!(
            lines(&mut r),
            vec![Line::Long(b"123456789012345678".to_vec())]
        );
        r.push(b"12345678901234567890\n"); // 21 octets: too long even for a long line
        assert_eq!(lines(&mut r), vec![Line::TooLong]);
        for _ in 0..100 {
            r.push(&[b'x'; 100]);
            assert!(r.buffered() < 20);
        }
        r.push(b"\n");
        assert_eq!(lines(&mut r), vec![Line::TooLong]);
        assert_eq!(r.limit(), 20 + 20 + LINE_OVERHEAD);
    }
}
