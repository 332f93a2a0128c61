//! mbox files, read as a stream and written: messages separated by
//! `From ` lines, body lines that start with `From ` escaped with `>`.
//!
//! Reading undoes mboxrd's escaping (one `>` off `>…>From `), which is
//! also mboxo's for the lines mboxo escapes; `Content-Length:` is not
//! trusted (any `From ` line starts a message). The header fields mail
//! stores keep for themselves are taken out — `Status:` and `X-Status:`
//! (`R` in `Status:`: read), `X-UIDL:` (the UIDL: Dovecot's
//! `pop3_reuse_xuidl`, and what praisani's export writes), `X-UID:`,
//! `X-IMAP:`, `X-IMAPbase:`, `X-Keywords:`, `Content-Length:` — as
//! Dovecot hides them from clients. Arrival times come from the `From `
//! line's date.

use super::import::HeaderTap;
use super::{MigrateError, to_crlf};
use praisani_store::Spool;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// Header fields the reader takes out (lower case).
const INTERNAL_FIELDS: &[&str] = &[
    "status",
    "x-status",
    "x-uidl",
    "x-uid",
    "x-imap",
    "x-imapbase",
    "x-keywords",
    "content-length",
];

/// Writes converted octets of a message into its spool, through the
/// header tap.
type Emit<'a> = dyn FnMut(&[u8], &mut HeaderTap, &mut Spool) -> std::io::Result<()> + 'a;

/// What the mbox says about one message besides its content.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MboxMeta {
    /// Its `X-UIDL:` (first one), if valid.
    pub uidl: Option<String>,
    /// The `From ` line's date.
    pub received: Option<i64>,
    /// `R` in `Status:`.
    pub seen: bool,
}

/// Reads an mbox file message by message.
pub struct MboxReader {
    path: PathBuf,
    file: BufReader<std::fs::File>,
    /// The `From ` line that starts the next message.
    next_from: Option<Vec<u8>>,
    line: Vec<u8>,
    /// Lines read so far (for errors).
    line_no: usize,
    /// The longest line (and header field, with its continuation lines)
    /// accepted, in octets.
    max_line: usize,
}

/// The default of [`MboxReader::with_max_line`]: 16 MiB. Real mail keeps
/// lines under 1000 octets (RFC 5322); the cap only stops a file that is
/// not text from filling memory.
pub const DEFAULT_MAX_LINE: usize = 16 * 1024 * 1024;

impl MboxReader {
    /// Opens `path`; an error unless it starts with a `From ` line (an
    /// empty file is an empty mbox).
    pub fn open(path: &Path) -> Result<MboxReader, MigrateError> {
        let f = std::fs::File::open(path).map_err(|e| MigrateError::io(path, e))?;
        let mut r = MboxReader {
            path: path.to_path_buf(),
            file: BufReader::with_capacity(64 * 1024, f),
            next_from: None,
            line: Vec::new(),
            line_no: 0,
            max_line: DEFAULT_MAX_LINE,
        };
        if r.read_line()? {
            if !r.line.starts_with(b"From ") {
                return Err(MigrateError::NotMbox(path.to_path_buf()));
            }
            r.next_from = Some(std::mem::take(&mut r.line));
        }
        Ok(r)
    }

    /// Sets the longest line (and header field) accepted; a longer one
    /// ends the import with [`MigrateError::LineTooLong`].
    pub fn with_max_line(mut self, max_line: usize) -> Self {
        self.max_line = max_line.max(1);
        self
    }

    fn too_long(&self) -> MigrateError {
        MigrateError::LineTooLong {
            path: self.path.clone(),
            line: self.line_no,
            max: self.max_line,
        }
    }

    fn read_line(&mut self) -> Result<bool, MigrateError> {
        use std::io::Read;
        self.line.clear();
        self.line_no += 1;
        // At most one octet past the cap is read: memory stays bounded.
        let n = (&mut self.file)
            .take(self.max_line as u64 + 1)
            .read_until(b'\n', &mut self.line)
            .map_err(|e| MigrateError::io(&self.path, e))?;
        if self.line.len() > self.max_line {
            return Err(self.too_long());
        }
        Ok(n > 0)
    }

    /// Writes the next message into `spool` (CRLF line ends, the header
    /// downgrade attached) and answers what the mbox says about it;
    /// `None` at the end.
    pub fn next_message(&mut self, spool: &mut Spool) -> Result<Option<MboxMeta>, MigrateError> {
        let Some(from) = self.next_from.take() else {
            return Ok(None);
        };
        let mut meta = MboxMeta {
            received: from_line_time(&from),
            ..MboxMeta::default()
        };
        let path = self.path.clone();
        let io = |e| MigrateError::io(&path, e);
        let mut tap = HeaderTap::default();
        let mut out = Vec::new();
        let mut last_cr = false;
        let mut emit = |data: &[u8], tap: &mut HeaderTap, spool: &mut Spool| {
            out.clear();
            to_crlf(data, &mut last_cr, &mut out);
            tap.feed(&out);
            spool.write(&out)
        };
        // The header: fields gathered whole (with their continuation
        // lines), the internal ones dropped.
        let mut field: Vec<u8> = Vec::new();
        let mut in_header = true;
        let mut held_blank: Option<Vec<u8>> = None;
        let flush_field = |field: &mut Vec<u8>,
                           meta: &mut MboxMeta,
                           tap: &mut HeaderTap,
                           spool: &mut Spool,
                           emit: &mut Emit<'_>|
         -> std::io::Result<()> {
            if field.is_empty() {
                return Ok(());
            }
            let colon = field.iter().position(|&b| b == b':');
            let name = colon.map(|i| {
                String::from_utf8_lossy(&field[..i])
                    .trim()
                    .to_ascii_lowercase()
            });
            match (name.as_deref(), colon) {
                (Some(n), Some(i)) if INTERNAL_FIELDS.contains(&n) => {
                    let value = String::from_utf8_lossy(&field[i + 1..]).trim().to_string();
                    if n == "x-uidl"
                        && meta.uidl.is_none()
                        && praisani_store::import::check_uidl(&value).is_ok()
                    {
                        meta.uidl = Some(value);
                    } else if n == "status" && value.contains('R') {
                        meta.seen = true;
                    }
                }
                _ => emit(field, tap, spool)?,
            }
            field.clear();
            Ok(())
        };
        while self.read_line()? {
            if self.line.starts_with(b"From ") {
                self.next_from = Some(std::mem::take(&mut self.line));
                break;
            }
            if in_header {
                let blank = self.line == b"\n" || self.line == b"\r\n";
                let continuation = matches!(self.line.first(), Some(b' ' | b'\t'));
                if !continuation {
                    flush_field(&mut field, &mut meta, &mut tap, spool, &mut emit).map_err(io)?;
                }
                if blank {
                    in_header = false;
                    // Held: the blank line before a `From ` line is the
                    // separator, unless it is the header's end.
                    emit(&self.line, &mut tap, spool).map_err(io)?;
                    continue;
                }
                if field.len() + self.line.len() > self.max_line {
                    return Err(self.too_long());
                }
                field.extend_from_slice(&self.line);
                continue;
            }
            if let Some(b) = held_blank.take() {
                emit(&b, &mut tap, spool).map_err(io)?;
            }
            if self.line == b"\n" || self.line == b"\r\n" {
                held_blank = Some(self.line.clone());
                continue;
            }
            let unescaped = match self.line.iter().position(|&b| b != b'>') {
                Some(i) if i > 0 && self.line[i..].starts_with(b"From ") => &self.line[1..],
                _ => &self.line[..],
            };
            let unescaped = unescaped.to_vec();
            emit(&unescaped, &mut tap, spool).map_err(io)?;
        }
        if in_header {
            flush_field(&mut field, &mut meta, &mut tap, spool, &mut emit).map_err(io)?;
        }
        tap.finish(spool);
        Ok(Some(meta))
    }
}

/// The date at the end of a `From sender date` line (asctime:
/// `Thu Dec  4 19:00:00 2026`), as Unix seconds.
fn from_line_time(line: &[u8]) -> Option<i64> {
    let text = String::from_utf8_lossy(line);
    let words: Vec<&str> = text.split_whitespace().collect();
    // The last five words, or five before a trailing zone.
    for end in [words.len(), words.len().saturating_sub(1)] {
        if end < 7 {
            continue;
        }
        // The weekday is left out: writers get it wrong, and chrono
        // refuses a date whose weekday does not match.
        let date = words[end - 4..end].join(" ");
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(&date, "%b %d %H:%M:%S %Y") {
            return Some(t.and_utc().timestamp());
        }
    }
    None
}

/// The `From ` line praisani writes for a message that arrived at `time`.
pub fn from_line(time: i64) -> String {
    let t = chrono::DateTime::from_timestamp(time, 0).unwrap_or_default();
    format!("From MAILER-DAEMON {}\n", t.format("%a %b %e %H:%M:%S %Y"))
}

/// Writes messages into an mbox (mboxrd): a `From ` line, praisani's own
/// fields, the message with LF line ends and `From ` lines escaped, a
/// blank line.
pub struct MboxWriter<W: Write> {
    out: W,
    line: Vec<u8>,
    pending_cr: bool,
}

impl<W: Write> MboxWriter<W> {
    /// A writer into `out`.
    pub fn new(out: W) -> Self {
        MboxWriter {
            out,
            line: Vec::new(),
            pending_cr: false,
        }
    }

    /// Starts a message: its `From ` line and the fields that keep its
    /// UIDL and whether it was read.
    pub fn start(&mut self, received: i64, uidl: &str, seen: bool) -> std::io::Result<()> {
        self.out.write_all(from_line(received).as_bytes())?;
        writeln!(self.out, "X-UIDL: {uidl}")?;
        if seen {
            writeln!(self.out, "Status: RO")?;
        }
        Ok(())
    }

    /// Writes the next octets of the message.
    pub fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        let mut lf = Vec::with_capacity(data.len());
        super::to_lf(data, &mut self.pending_cr, &mut lf);
        for &b in &lf {
            self.line.push(b);
            if b == b'\n' {
                self.flush_line()?;
            }
        }
        Ok(())
    }

    fn flush_line(&mut self) -> std::io::Result<()> {
        let gt = self.line.iter().take_while(|&&b| b == b'>').count();
        if self.line[gt..].starts_with(b"From ") {
            self.out.write_all(b">")?;
        }
        self.out.write_all(&self.line)?;
        self.line.clear();
        Ok(())
    }

    /// Ends the message (a last line without a line end gets one).
    pub fn end(&mut self) -> std::io::Result<()> {
        if self.pending_cr {
            self.pending_cr = false;
            self.line.push(b'\r');
        }
        if !self.line.is_empty() {
            self.line.push(b'\n');
            self.flush_line()?;
        }
        self.out.write_all(b"\n")
    }

    /// The writer, flushed.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &[u8]) -> Vec<(Vec<u8>, MboxMeta)> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("mbox");
        std::fs::write(&p, text).unwrap();
        let mut r = MboxReader::open(&p).unwrap();
        let mut out = Vec::new();
        loop {
            let mut spool = Spool::new(dir.path().to_path_buf());
            let Some(meta) = r.next_message(&mut spool).unwrap() else {
                break;
            };
            let mut reader = spool.into_reader().unwrap();
            let mut body = Vec::new();
            while let Some(c) = reader.next_chunk(1 << 20).unwrap() {
                body.extend(c);
            }
            out.push((body, meta));
        }
        out
    }

    #[test]
    fn reads_mboxrd() {
        let text = b"From a@b Thu Dec  4 19:00:00 2026\nX-UIDL: u-1\nStatus: RO\nSubject: one\n\nhi\n>From here\n>>From there\n\nFrom c@d Fri Dec  5 01:02:03 2026\nSubject: two\n\nbody\n";
        let m = read_all(text);
        assert_eq!(m.len(), 2);
        assert_eq!(
            m[0].0,
            b"Subject: one\r\n\r\nhi\r\nFrom here\r\n>From there\r\n".to_vec()
        );
        assert_eq!(m[0].1.uidl.as_deref(), Some("u-1"));
        assert!(m[0].1.seen);
        assert_eq!(m[0].1.received, Some(1_796_410_800));
        assert_eq!(m[1].0, b"Subject: two\r\n\r\nbody\r\n".to_vec());
        assert!(!m[1].1.seen && m[1].1.uidl.is_none());
    }

    #[test]
    fn round_trip() {
        let msgs: [&[u8]; 3] = [
            b"Subject: a\r\n\r\nFrom me\r\n>From you\r\n\r\n",
            b"Subject: b\r\nX-Other: 1\r\n\r\nline\r\n",
            b"Subject: c\r\n\r\n",
        ];
        let mut w = MboxWriter::new(Vec::new());
        for (i, m) in msgs.iter().enumerate() {
            w.start(1_000_000 + i as i64, &format!("uidl-{i}"), i == 1)
                .unwrap();
            w.write(&m[..5]).unwrap();
            w.write(&m[5..]).unwrap();
            w.end().unwrap();
        }
        let text = w.finish().unwrap();
        let back = read_all(&text);
        assert_eq!(back.len(), 3);
        for (i, (body, meta)) in back.iter().enumerate() {
            assert_eq!(body.as_slice(), msgs[i], "{i}");
            assert_eq!(meta.uidl.as_deref(), Some(format!("uidl-{i}").as_str()));
            assert_eq!(meta.seen, i == 1);
            assert_eq!(meta.received, Some(1_000_000 + i as i64));
        }
    }

    #[test]
    fn not_an_mbox() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        std::fs::write(&p, "Subject: x\n\nbody\n").unwrap();
        assert!(matches!(
            MboxReader::open(&p),
            Err(MigrateError::NotMbox(_))
        ));
    }

    #[test]
    fn line_cap() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("mbox");
        let long = "x".repeat(200);
        for (text, line) in [
            (
                format!("From a Mon Jan  1 00:00:00 2024\nSubject: x\n\n{long}\n"),
                4,
            ),
            (
                format!("From a Mon Jan  1 00:00:00 2024\nSubject: x\n {long}\n\nb\n"),
                3,
            ),
        ] {
            std::fs::write(&p, &text).unwrap();
            let mut r = MboxReader::open(&p).unwrap().with_max_line(100);
            let mut spool = Spool::new(dir.path().to_path_buf());
            match r.next_message(&mut spool) {
                Err(MigrateError::LineTooLong {
                    line: l, max: 100, ..
                }) => assert_eq!(l, line),
                other => panic!("{other:?}"),
            }
            // Under the cap, the same file reads.
            let mut r = MboxReader::open(&p).unwrap().with_max_line(1000);
            let mut spool = Spool::new(dir.path().to_path_buf());
            assert!(r.next_message(&mut spool).unwrap().is_some());
        }
    }
}
