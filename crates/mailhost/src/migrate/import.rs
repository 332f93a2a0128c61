//! The import: messages read from a Maildir or an mbox file, stored in
//! batches through [`Store::import_messages`] — one commit per batch, so
//! memory stays bounded (a batch holds at most [`Limits::batch_messages`]
//! messages and about [`Limits::batch_bytes`] octets in memory; larger
//! bodies wait in the spool's temporary file) and thousands of messages a
//! second go in. Messages the mailbox already has (by UIDL) are skipped,
//! so a re-run imports only what is new.

use super::maildir::Scan;
use super::mbox::MboxReader;
use super::{MigrateError, to_crlf};
use praisani_store::{AccountId, ImportMessage, ImportOutcome, Spool, Store};
use std::io::Read;
use std::path::Path;

/// How large a batch may grow before it is committed.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Messages per commit.
    pub batch_messages: usize,
    /// Octets per commit (a single larger message is a batch of its own).
    pub batch_bytes: u64,
    /// The longest mbox line (and header field) accepted, in octets.
    pub max_line: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            batch_messages: 1000,
            batch_bytes: 32 * 1024 * 1024,
            max_line: super::mbox::DEFAULT_MAX_LINE,
        }
    }
}

/// What an import did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Messages read from the source.
    pub read: u64,
    /// Messages stored.
    pub imported: u64,
    /// Messages skipped: the mailbox had their UIDL already.
    pub already_there: u64,
    /// Messages stored without a UIDL of the source (praisani made one).
    pub own_uidl: u64,
    /// Messages flagged as read.
    pub seen: u64,
    /// Octets stored (CRLF line ends).
    pub bytes: u64,
}

/// The largest header section kept in memory to compute its downgrade;
/// a longer one is stored as it is (see [`crate::downgrade::for_storage`]).
const HEADER_CAP: usize = 1024 * 1024;

/// Collects the header section (through its blank line) of a message
/// being written, CRLF line ends.
#[derive(Default)]
pub(crate) struct HeaderTap {
    header: Vec<u8>,
    done: bool,
}

impl HeaderTap {
    /// Looks at the next octets of the message.
    pub(crate) fn feed(&mut self, data: &[u8]) {
        if self.done {
            return;
        }
        let start = self.header.len().saturating_sub(3);
        let room = HEADER_CAP.saturating_sub(self.header.len());
        self.header.extend_from_slice(&data[..data.len().min(room)]);
        if let Some(p) = find(&self.header[start..], b"\r\n\r\n") {
            self.header.truncate(start + p + 4);
            self.done = true;
        } else if self.header.starts_with(b"\r\n") {
            self.header.truncate(2);
            self.done = true;
        } else if self.header.len() >= HEADER_CAP {
            self.header.clear();
            self.done = true;
        }
    }

    /// Attaches the downgrade of a UTF-8 header to `spool`, as deliveries
    /// do. A message that ends inside its header is all header.
    pub(crate) fn finish(self, spool: &mut Spool) {
        if !self.header.is_empty()
            && let Some(d) = crate::downgrade::for_storage(&self.header)
        {
            spool.set_downgrade(d);
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads a message file into `spool` with CRLF line ends and the header
/// downgrade attached; returns the octets written.
pub(crate) fn read_file(path: &Path, spool: &mut Spool) -> Result<u64, MigrateError> {
    let mut f = std::fs::File::open(path).map_err(|e| MigrateError::io(path, e))?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Vec::with_capacity(buf.len() + 1024);
    let mut last_cr = false;
    let mut tap = HeaderTap::default();
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| MigrateError::io(path, e))?;
        if n == 0 {
            break;
        }
        out.clear();
        to_crlf(&buf[..n], &mut last_cr, &mut out);
        tap.feed(&out);
        spool.write(&out).map_err(|e| MigrateError::io(path, e))?;
        total += out.len() as u64;
    }
    tap.finish(spool);
    Ok(total)
}

/// The MD5 (hex) of a message file's header section as Dovecot's `%m`
/// takes it.
pub(crate) fn header_md5(path: &Path) -> Result<String, MigrateError> {
    use md5::Digest;
    let mut f = std::fs::File::open(path).map_err(|e| MigrateError::io(path, e))?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut head = Vec::new();
    loop {
        let n = f.read(&mut buf).map_err(|e| MigrateError::io(path, e))?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(p) = find(&head, b"\n\n") {
            head.truncate(p + 2);
            break;
        }
        if head.len() > HEADER_CAP {
            break;
        }
    }
    Ok(hex::encode(md5::Md5::digest(&head)))
}

/// A batch on its way to the store.
struct Batch<'a> {
    store: &'a dyn Store,
    account: AccountId,
    limits: Limits,
    dry_run: bool,
    messages: Vec<ImportMessage>,
    bytes: u64,
    summary: Summary,
}

impl Batch<'_> {
    async fn push(
        &mut self,
        message: ImportMessage,
        progress: &mut dyn FnMut(&Summary),
    ) -> Result<(), MigrateError> {
        self.summary.read += 1;
        self.summary.seen += u64::from(message.retrieved.is_some());
        self.bytes += message.body.len();
        self.messages.push(message);
        if self.messages.len() >= self.limits.batch_messages
            || self.bytes >= self.limits.batch_bytes
        {
            self.flush().await?;
        }
        progress(&self.summary);
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), MigrateError> {
        if self.messages.is_empty() {
            return Ok(());
        }
        let messages = std::mem::take(&mut self.messages);
        self.bytes = 0;
        if self.dry_run {
            for m in &messages {
                self.summary.imported += 1;
                self.summary.own_uidl += u64::from(m.uidl.is_none());
                self.summary.bytes += m.body.len();
            }
            return Ok(());
        }
        let sizes: Vec<(u64, bool)> = messages
            .iter()
            .map(|m| (m.body.len(), m.uidl.is_none()))
            .collect();
        let out = self.store.import_messages(self.account, messages).await?;
        for (o, (size, own)) in out.iter().zip(sizes) {
            match o {
                ImportOutcome::Imported(_) => {
                    self.summary.imported += 1;
                    self.summary.own_uidl += u64::from(own);
                    self.summary.bytes += size;
                }
                ImportOutcome::AlreadyThere(_) => self.summary.already_there += 1,
            }
        }
        Ok(())
    }
}

/// Imports the messages of a scanned Maildir into `account`, in the old
/// server's order. With `dry_run` every message is read and counted, and
/// nothing is stored. `progress` hears after each message.
pub async fn import_maildir(
    store: &dyn Store,
    account: AccountId,
    scan: &Scan,
    dry_run: bool,
    limits: Limits,
    now: i64,
    progress: &mut dyn FnMut(&Summary),
) -> Result<Summary, MigrateError> {
    let mut batch = Batch {
        store,
        account,
        limits,
        dry_run,
        messages: Vec::new(),
        bytes: 0,
        summary: Summary::default(),
    };
    for m in scan.messages() {
        let m = m?;
        let mut body = store.new_spool();
        read_file(&m.path, &mut body)?;
        let message = ImportMessage {
            body,
            uidl: m.uidl.clone(),
            received: m.received,
            // The old server does not say when: retention after retrieval
            // counts from the move.
            retrieved: m.seen.then_some(now),
        };
        batch.push(message, progress).await?;
    }
    batch.flush().await?;
    Ok(batch.summary)
}

/// Imports the messages of an mbox file into `account`, in file order.
/// The whole file is checked to start like an mbox before anything is
/// stored. See [`import_maildir`] for `dry_run` and `progress`.
pub async fn import_mbox(
    store: &dyn Store,
    account: AccountId,
    path: &Path,
    dry_run: bool,
    limits: Limits,
    now: i64,
    progress: &mut dyn FnMut(&Summary),
) -> Result<Summary, MigrateError> {
    let mut reader = MboxReader::open(path)?.with_max_line(limits.max_line);
    let mut batch = Batch {
        store,
        account,
        limits,
        dry_run,
        messages: Vec::new(),
        bytes: 0,
        summary: Summary::default(),
    };
    loop {
        let mut body = store.new_spool();
        let Some(meta) = reader.next_message(&mut body)? else {
            break;
        };
        let message = ImportMessage {
            body,
            uidl: meta.uidl,
            received: meta.received.unwrap_or(now),
            retrieved: meta.seen.then_some(now),
        };
        batch.push(message, progress).await?;
    }
    batch.flush().await?;
    Ok(batch.summary)
}
