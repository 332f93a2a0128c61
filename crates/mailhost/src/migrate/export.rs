//! A mailbox written out so its owner can leave as easily as they came:
//! a Maildir whose `dovecot-uidlist` keeps every UIDL as a `P` field (what
//! Dovecot shows over POP3 and `praisani import maildir` reads back), read
//! messages flagged `S`, files' mtimes the arrival times; or an mbox
//! (mboxrd) with `X-UIDL:` and `Status: RO` fields. Both with LF line
//! ends, as such files have them. Importing either into a fresh mailbox
//! gives back the same messages, octet for octet, with the same UIDLs and
//! read flags.

use super::MigrateError;
use super::mbox::MboxWriter;
use praisani_store::{AccountId, MessageMeta, Store};
use std::io::Write;
use std::path::Path;

/// What an export wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Exported {
    /// Messages written.
    pub messages: u64,
    /// Octets read from the store (CRLF).
    pub bytes: u64,
}

fn create_dir(path: &Path) -> Result<(), MigrateError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(path)
        .map_err(|e| MigrateError::io(path, e))
}

fn create_file(path: &Path) -> Result<std::fs::File, MigrateError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| MigrateError::io(path, e))
}

/// Streams message `m` of `account` through `write`, converting nothing.
async fn each_chunk(
    store: &dyn Store,
    account: AccountId,
    m: &MessageMeta,
    write: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    path: &Path,
) -> Result<u64, MigrateError> {
    let mut body = store.open_message(account, m.id).await?;
    let mut n = 0u64;
    while let Some(chunk) = body.next_chunk().await? {
        n += chunk.len() as u64;
        write(&chunk).map_err(|e| MigrateError::io(path, e))?;
    }
    Ok(n)
}

/// Writes `account`'s messages as a Maildir at `dir`, which must not exist
/// or be empty. `progress` hears the count after each message.
pub async fn export_maildir(
    store: &dyn Store,
    account: AccountId,
    dir: &Path,
    now: i64,
    progress: &mut dyn FnMut(u64),
) -> Result<Exported, MigrateError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(MigrateError::TargetExists(dir.to_path_buf()));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_dir(dir)?,
        Err(e) => return Err(MigrateError::io(dir, e)),
    }
    for sub in ["cur", "new", "tmp"] {
        create_dir(&dir.join(sub))?;
    }
    let messages = store.list_messages(account).await?;
    let mut uidlist = format!("3 V{now} N{}\n", messages.len() + 1);
    let mut done = Exported::default();
    for (i, m) in messages.iter().enumerate() {
        let uid = i + 1;
        let base = format!("{}.M{}P{}.praisani", m.received.max(0), m.id, uid);
        let tmp = dir.join("tmp").join(&base);
        let file = create_file(&tmp)?;
        let mut out = std::io::BufWriter::with_capacity(64 * 1024, file);
        let mut pending_cr = false;
        let mut lf = Vec::new();
        let mut write = |chunk: &[u8]| {
            lf.clear();
            super::to_lf(chunk, &mut pending_cr, &mut lf);
            out.write_all(&lf)
        };
        done.bytes += each_chunk(store, account, m, &mut write, &tmp).await?;
        if pending_cr {
            out.write_all(b"\r")
                .map_err(|e| MigrateError::io(&tmp, e))?;
        }
        let file = out
            .into_inner()
            .map_err(|e| MigrateError::io(&tmp, e.into_error()))?;
        file.sync_all().map_err(|e| MigrateError::io(&tmp, e))?;
        // Dovecot's received date is the file's mtime.
        let mtime =
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(m.received.max(0) as u64);
        file.set_modified(mtime)
            .map_err(|e| MigrateError::io(&tmp, e))?;
        let flags = if m.retrieved.is_some() { "S" } else { "" };
        let target = dir.join("cur").join(format!("{base}:2,{flags}"));
        std::fs::rename(&tmp, &target).map_err(|e| MigrateError::io(&target, e))?;
        uidlist.push_str(&format!("{uid} P{} :{base}\n", m.uidl));
        done.messages += 1;
        progress(done.messages);
    }
    let path = dir.join("dovecot-uidlist");
    let mut f = create_file(&path)?;
    f.write_all(uidlist.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| MigrateError::io(&path, e))?;
    Ok(done)
}

/// Writes `account`'s messages as an mbox file at `path`, which must not
/// exist.
pub async fn export_mbox(
    store: &dyn Store,
    account: AccountId,
    path: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<Exported, MigrateError> {
    if path.exists() {
        return Err(MigrateError::TargetExists(path.to_path_buf()));
    }
    let file = create_file(path)?;
    let mut w = MboxWriter::new(std::io::BufWriter::with_capacity(64 * 1024, file));
    let io = |e| MigrateError::io(path, e);
    let mut done = Exported::default();
    for m in store.list_messages(account).await? {
        w.start(m.received, &m.uidl, m.retrieved.is_some())
            .map_err(io)?;
        let mut write = |chunk: &[u8]| w.write(chunk);
        done.bytes += each_chunk(store, account, &m, &mut write, path).await?;
        w.end().map_err(io)?;
        done.messages += 1;
        progress(done.messages);
    }
    let out = w.finish().map_err(io)?;
    let file = out.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    Ok(done)
}
