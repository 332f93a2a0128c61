//! Moving mailboxes in and out (`praisani import` / `praisani export`):
//! Maildirs and mbox files read and written with the POP3 UIDLs clients
//! know, so a leave-on-server client downloads nothing twice.
//!
//! - [`uidlist`]: the index files that say which UIDL each message had —
//!   Dovecot's `dovecot-uidlist`, Courier's `courierimapuiddb` and
//!   `courierpop3dsizelist`.
//! - [`uidl_format`]: Dovecot's `pop3_uidl_format` templates (`%08Xu%08Xv`).
//! - [`maildir`]: a Maildir's INBOX (`cur/`, `new/`, the `:2,` flags) as
//!   messages with their UIDLs.
//! - [`mbox`]: mbox files (mboxrd/mboxo), read as a stream.
//! - [`import`]: the import itself, in batches of bounded size into
//!   [`Store::import_messages`](praisani_store::Store::import_messages).
//! - [`export`]: a mailbox written out as a Maildir (UIDLs in a
//!   `dovecot-uidlist`) or an mbox (`X-UIDL:` headers).
//! - [`users`]: accounts from a CSV file or a Dovecot passwd-file, checked
//!   whole and written in one commit (`praisani import users`).
//! - [`pop3`]: mailboxes pulled from a live POP3 server, the UIDLs as it
//!   reports them (`praisani import pop3`).

pub mod export;
pub mod import;
pub mod maildir;
pub mod mbox;
pub mod pop3;
pub mod uidl_format;
pub mod uidlist;
pub mod users;

use std::path::{Path, PathBuf};

/// Why an import or export cannot go on. Every case names the file.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The path is not a Maildir (no `cur/` and `new/`).
    #[error("{0} is not a Maildir (it has no cur/ and new/ directories)")]
    NotMaildir(PathBuf),
    /// The file does not start like an mbox (a `From ` line).
    #[error("{0} is not an mbox file (it does not start with a \"From \" line)")]
    NotMbox(PathBuf),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The import's scratch file (the external sort of a Maildir's
    /// messages, in a private temporary directory) failed.
    #[error("the import's scratch file ({dir}): {reason}")]
    Scratch {
        /// Where it was.
        dir: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// An mbox line (or header field) is longer than the cap.
    #[error(
        "{path}, line {line}: a line (or header field) longer than {max} octets; not an mbox, or raise --max-line"
    )]
    LineTooLong {
        /// The file.
        path: PathBuf,
        /// Its line, from 1.
        line: usize,
        /// The cap.
        max: usize,
    },
    /// An index file (`dovecot-uidlist`, …) cannot be read as one.
    #[error("{path}, line {line}: {reason}")]
    BadIndex {
        /// The file.
        path: PathBuf,
        /// Its line, from 1.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A `--uidl-format` template cannot be used.
    #[error("UIDL format {format:?}: {reason}")]
    BadFormat {
        /// The template.
        format: String,
        /// What is wrong.
        reason: String,
    },
    /// A UIDL the source gives breaks RFC 1939's rules.
    #[error("{path}: UIDL {uidl:?} cannot be used: {reason}")]
    BadUidl {
        /// The message's file.
        path: PathBuf,
        /// The UIDL.
        uidl: String,
        /// Why not.
        reason: &'static str,
    },
    /// The export target exists and is not empty.
    #[error("{0} already exists and is not empty")]
    TargetExists(PathBuf),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] praisani_store::StoreError),
}

impl MigrateError {
    /// An I/O error on `path`.
    pub(crate) fn io(path: &Path, source: std::io::Error) -> MigrateError {
        MigrateError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Copies `data` to `out` with every line ending in CRLF: a LF without a
/// CR before it gets one (`last_cr` carries a CR at the end of the
/// previous chunk across the boundary). Lone CRs are kept.
pub(crate) fn to_crlf(data: &[u8], last_cr: &mut bool, out: &mut Vec<u8>) {
    out.reserve(data.len() + data.len() / 32);
    for &b in data {
        if b == b'\n' && !*last_cr {
            out.push(b'\r');
        }
        out.push(b);
        *last_cr = b == b'\r';
    }
}

/// `data` with CRLF line ends turned into LF (what Maildir and mbox files
/// hold); other CRs are kept.
pub(crate) fn to_lf(data: &[u8], pending_cr: &mut bool, out: &mut Vec<u8>) {
    for &b in data {
        if *pending_cr {
            *pending_cr = false;
            if b != b'\n' {
                out.push(b'\r');
            }
        }
        if b == b'\r' {
            *pending_cr = true;
        } else {
            out.push(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ends() {
        let mut out = Vec::new();
        let mut cr = false;
        to_crlf(b"a\nb\r", &mut cr, &mut out);
        to_crlf(b"\nc\rd\n", &mut cr, &mut out);
        assert_eq!(out, b"a\r\nb\r\nc\rd\r\n");
        let mut lf = Vec::new();
        let mut pending = false;
        to_lf(&out[..5], &mut pending, &mut lf);
        to_lf(&out[5..], &mut pending, &mut lf);
        assert_eq!(lf, b"a\nb\nc\rd\n");
    }
}
