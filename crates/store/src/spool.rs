//! [`Spool`]: where a message body waits while it is being received.
//!
//! Small bodies stay in memory; once a body passes [`MEMORY_LIMIT`] it moves
//! to an anonymous temporary file in the data directory, so a 50 MB message
//! costs bounded memory. Nothing in a spool is durable: it becomes durable
//! only when a store delivers it.

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
    memory: Vec<u8>,
    file: Option<File>,
    len: u64,
    downgrade: Option<HeaderDowngrade>,
    /// A [`Spool::peek`] moved the file's position: the next write must
    /// go back to the end first.
    rewound: bool,
}

impl Spool {
    /// A new, empty spool whose overflow file goes to `dir`.
    pub fn new(dir: PathBuf) -> Self {
        Spool {
            dir,
            memory: Vec::new(),
            file: None,
            len: 0,
            downgrade: None,
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

    /// Octets written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
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

    /// Reads the body so far without giving the spool up (a filter such as
    /// the spam checker reads it before it is stored); at most `max`
    /// octets are in memory at a time for a body kept in a file.
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
    /// The next chunk, or `None` at the end.
    pub fn next_chunk(&mut self) -> io::Result<Option<Vec<u8>>> {
        let left = self.spool.len - self.pos;
        if left == 0 {
            return Ok(None);
        }
        let n = (self.max as u64).min(left) as usize;
        let out = match &mut self.spool.file {
            Some(f) => {
                let mut buf = vec![0u8; n];
                f.read_exact(&mut buf)?;
                buf
            }
            None => {
                let start = self.pos as usize;
                self.spool.memory[start..start + n].to_vec()
            }
        };
        self.pos += n as u64;
        Ok(Some(out))
    }
}

/// Reads a finished [`Spool`] back.
pub struct SpoolReader {
    memory: Vec<u8>,
    pos: usize,
    file: Option<File>,
}

impl SpoolReader {
    /// The next chunk of at most `max` octets, or `None` at the end.
    pub fn next_chunk(&mut self, max: usize) -> io::Result<Option<Vec<u8>>> {
        if let Some(f) = &mut self.file {
            let mut buf = vec![0u8; max];
            let mut filled = 0;
            while filled < max {
                let n = f.read(&mut buf[filled..])?;
                if n == 0 {
                    break;
                }
                filled += n;
            }
            if filled == 0 {
                return Ok(None);
            }
            buf.truncate(filled);
            return Ok(Some(buf));
        }
        if self.pos >= self.memory.len() {
            return Ok(None);
        }
        let end = (self.pos + max).min(self.memory.len());
        let out = self.memory[self.pos..end].to_vec();
        self.pos = end;
        Ok(Some(out))
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
    fn small_and_large_bodies_roundtrip() {
        roundtrip(0);
        roundtrip(10);
        roundtrip(MEMORY_LIMIT);
        roundtrip(MEMORY_LIMIT + 1);
        roundtrip(3 * MEMORY_LIMIT + 17);
    }
}
