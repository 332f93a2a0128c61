//! [`Spool`]: where a message body waits while it is being received.
//!
//! Small bodies stay in memory; once a body passes [`MEMORY_LIMIT`] it moves
//! to an anonymous temporary file in the data directory, so a 50 MB message
//! costs bounded memory. Nothing in a spool is durable: it becomes durable
//! only when a store delivers it.
//!
//! A spool may also carry a *head* ([`Spool::set_head`]): octets that go
//! before everything written, set once the body is in — the header section
//! of a message whose header could only be written after its body was
//! checked. Everything that reads a spool (its length, [`Spool::peek`],
//! [`Spool::into_reader`]) sees the head first, so the stores and their
//! size accounting need not know about it.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use crate::HeaderDowngrade;

/// Bodies up to this size are kept in memory.
pub const MEMORY_LIMIT: usize = 256 * 1024;

/// A message body being received or waiting to be stored.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    /// Octets that go before the written ones (see [`Spool::set_head`]).
    head: Vec<u8>,
    memory: Vec<u8>,
    file: Option<File>,
    /// Octets written (the head not counted).
    len: u64,
    downgrade: Option<HeaderDowngrade>,
    /// Header lines for one mailbox's copy only (see [`Spool::set_prefix`]).
    prefixes: Vec<(crate::AccountId, Vec<u8>)>,
    /// A [`Spool::peek`] moved the file's position: the next write must
    /// go back to the end first.
    rewound: bool,
}

impl Spool {
    /// A new, empty spool whose overflow file goes to `dir`.
    pub fn new(dir: PathBuf) -> Self {
        Spool {
            dir,
            head: Vec::new(),
            memory: Vec::new(),
            file: None,
            len: 0,
            downgrade: None,
            prefixes: Vec::new(),
            rewound: false,
        }
    }

    /// Appends bytes.
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        if self.file.is_none() && self.memory.len() + data.len() > MEMORY_LIMIT {
            // The temporary file is unlinked at creation: a crash leaves
            // nothing behind to clean up.
            let mut f = tempfile::tempfile_in(&self.dir)?;
            f.write_all(&self.memory)?;
            self.memory = Vec::new();
            self.file = Some(f);
        }
        match &mut self.file {
            Some(f) => {
                if self.rewound {
                    f.seek(SeekFrom::End(0))?;
                    self.rewound = false;
                }
                f.write_all(data)?
            }
            None => self.memory.extend_from_slice(data),
        }
        self.len += data.len() as u64;
        Ok(())
    }

    /// Octets in the spool: the head and everything written so far.
    pub fn len(&self) -> u64 {
        self.head.len() as u64 + self.len
    }

    /// True when the spool holds nothing, head included.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Puts `head` before everything written (replacing an earlier head):
    /// the message's header section, when it is decided only after the
    /// body has been received. It is held in memory.
    pub fn set_head(&mut self, head: Vec<u8>) {
        self.head = head;
    }

    /// The head set by [`Spool::set_head`] (empty when none).
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// Attaches the downgraded header section the store keeps with the body
    /// (for messages whose header has UTF-8).
    pub fn set_downgrade(&mut self, downgrade: HeaderDowngrade) {
        self.downgrade = Some(downgrade);
    }

    /// Takes the attached downgraded header section, if any.
    pub fn take_downgrade(&mut self) -> Option<HeaderDowngrade> {
        self.downgrade.take()
    }

    /// Header lines (each ending in CRLF) that only `account`'s copy of
    /// the message has — its `Delivered-To:` — at the top of the body
    /// every copy shares (below its `Return-Path:` line, if it starts with
    /// one). Stored with that mailbox's message row, not with the body,
    /// and counted in that message's size. A second call for the same
    /// account replaces the first.
    pub fn set_prefix(&mut self, account: crate::AccountId, lines: Vec<u8>) {
        self.prefixes.retain(|(a, _)| *a != account);
        self.prefixes.push((account, lines));
    }

    /// Takes the prefixes set by [`Spool::set_prefix`].
    pub fn take_prefixes(&mut self) -> Vec<(crate::AccountId, Vec<u8>)> {
        std::mem::take(&mut self.prefixes)
    }

    /// Reads the spool so far (head first) without giving it up (a filter
    /// such as the spam checker reads it before it is stored); at most
    /// `max` octets are in memory at a time for a body kept in a file.
    pub fn peek(&mut self, max: usize) -> io::Result<SpoolPeek<'_>> {
        if let Some(f) = &mut self.file {
            self.rewound = true;
            f.seek(SeekFrom::Start(0))?;
        }
        Ok(SpoolPeek {
            spool: self,
            pos: 0,
            max: max.max(1),
        })
    }

    /// Reads the body back in chunks of at most `chunk` octets.
    pub fn into_reader(self) -> io::Result<SpoolReader> {
        let file = match self.file {
            Some(mut f) => {
                f.seek(SeekFrom::Start(0))?;
                Some(f)
            }
            None => None,
        };
        Ok(SpoolReader {
            head: self.head,
            head_pos: 0,
            memory: self.memory,
            pos: 0,
            file,
        })
    }
}

/// Reads a [`Spool`] without consuming it; see [`Spool::peek`].
pub struct SpoolPeek<'a> {
    spool: &'a mut Spool,
    pos: u64,
    max: usize,
}

impl SpoolPeek<'_> {
    /// The next chunk (at most `max` octets), or `None` at the end.
    pub fn next_chunk(&mut self) -> io::Result<Option<Vec<u8>>> {
        let left = self.spool.len() - self.pos;
        if left == 0 {
            return Ok(None);
        }
        let n = (self.max as u64).min(left) as usize;
        let mut out = Vec::with_capacity(n);
        let head = self.spool.head.len();
        if (self.pos as usize) < head {
            let start = self.pos as usize;
            let end = head.min(start + n);
            out.extend_from_slice(&self.spool.head[start..end]);
        }
        let want = n - out.len();
        if want > 0 {
            let body_pos = self.pos as usize + out.len() - head;
            match &mut self.spool.file {
                Some(f) => {
                    let at = out.len();
                    out.resize(at + want, 0);
                    f.read_exact(&mut out[at..])?;
                }
                None => out.extend_from_slice(&self.spool.memory[body_pos..body_pos + want]),
            }
        }
        self.pos += n as u64;
        Ok(Some(out))
    }
}

/// Reads a finished [`Spool`] back, head first.
pub struct SpoolReader {
    head: Vec<u8>,
    head_pos: usize,
    memory: Vec<u8>,
    pos: usize,
    file: Option<File>,
}

impl SpoolReader {
    /// The next chunk of at most `max` octets (exactly `max` but for the
    /// last), or `None` at the end.
    pub fn next_chunk(&mut self, max: usize) -> io::Result<Option<Vec<u8>>> {
        let max = max.max(1);
        let mut buf = Vec::with_capacity(max);
        if self.head_pos < self.head.len() {
            let end = self.head.len().min(self.head_pos + max);
            buf.extend_from_slice(&self.head[self.head_pos..end]);
            self.head_pos = end;
        }
        if let Some(f) = &mut self.file {
            let mut filled = buf.len();
            buf.resize(max, 0);
            while filled < max {
                let n = f.read(&mut buf[filled..])?;
                if n == 0 {
                    break;
                }
                filled += n;
            }
            buf.truncate(filled);
        } else if self.pos < self.memory.len() {
            let end = (self.pos + max - buf.len()).min(self.memory.len());
            buf.extend_from_slice(&self.memory[self.pos..end]);
            self.pos = end;
        }
        Ok((!buf.is_empty()).then_some(buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(total: usize) {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::new(dir.path().to_path_buf());
        let data: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
        for piece in data.chunks(7000) {
            s.write(piece).unwrap();
        }
        assert_eq!(s.len(), total as u64);
        let mut r = s.into_reader().unwrap();
        let mut back = Vec::new();
        while let Some(c) = r.next_chunk(100_000).unwrap() {
            assert!(c.len() <= 100_000);
            back.extend(c);
        }
        assert_eq!(back, data);
    }

    #[test]
    fn peeking_leaves_the_spool_whole_and_writable() {
        for total in [0, 10, MEMORY_LIMIT + 5000] {
            let dir = tempfile::tempdir().unwrap();
            let mut s = Spool::new(dir.path().to_path_buf());
            let data: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
            s.write(&data).unwrap();
            let mut seen = Vec::new();
            {
                let mut p = s.peek(4096).unwrap();
                while let Some(c) = p.next_chunk().unwrap() {
                    assert!(c.len() <= 4096);
                    seen.extend(c);
                }
            }
            assert_eq!(seen, data);
            s.write(b"tail").unwrap();
            let mut r = s.into_reader().unwrap();
            let mut back = Vec::new();
            while let Some(c) = r.next_chunk(100_000).unwrap() {
                back.extend(c);
            }
            let mut want = data.clone();
            want.extend_from_slice(b"tail");
            assert_eq!(back, want);
        }
    }

    #[test]
    fn a_head_comes_first_everywhere() {
        for total in [0, 10, MEMORY_LIMIT + 5000] {
            let dir = tempfile::tempdir().unwrap();
            let mut s = Spool::new(dir.path().to_path_buf());
            let data: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
            s.write(&data).unwrap();
            let head = b"Received: x\r\nSubject: y\r\n\r\n".to_vec();
            s.set_head(head.clone());
            let mut want = head.clone();
            want.extend_from_slice(&data);
            assert_eq!(s.len(), want.len() as u64);
            for max in [1, 7, 4096, 1 << 20] {
                let mut seen = Vec::new();
                let mut p = s.peek(max).unwrap();
                while let Some(c) = p.next_chunk().unwrap() {
                    assert!(c.len() <= max);
                    seen.extend(c);
                }
                assert_eq!(seen, want, "peek {max}");
            }
            let mut r = s.into_reader().unwrap();
            let mut back = Vec::new();
            let mut sizes = Vec::new();
            while let Some(c) = r.next_chunk(1000).unwrap() {
                sizes.push(c.len());
                back.extend(c);
            }
            assert_eq!(back, want);
            // Every chunk is full but the last.
            let n = sizes.len();
            assert!(
                sizes.iter().take(n.saturating_sub(1)).all(|&l| l == 1000),
                "{sizes:?}"
            );
        }
    }

    #[test]
    fn small_and_large_bodies_roundtrip() {
        roundtrip(0);
        roundtrip(10);
        roundtrip(MEMORY_LIMIT);
        roundtrip(MEMORY_LIMIT + 1);
        roundtrip(3 * MEMORY_LIMIT + 17);
    }
}
