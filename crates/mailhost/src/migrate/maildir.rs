//! A Maildir's INBOX (`cur/` and `new/`; Dovecot, Courier, qmail and
//! Postfix layouts alike) as messages with their POP3 UIDLs, flags and
//! arrival times.
//!
//! POP3 sees the INBOX only, so only the INBOX is imported: Maildir++
//! folders (`.Sent`, `.Trash`, …) are listed in [`Scan::folders`] for the
//! summary, not read.
//!
//! A message's UIDL, first found wins:
//! 1. `dovecot-uidlist`: its `P` field (the UIDL Dovecot showed and saved,
//!    `pop3_save_uidl`), else the `pop3_uidl_format` template (`--uidl-format`,
//!    default Dovecot's `%08Xu%08Xv`) over its UID and the UIDVALIDITY;
//! 2. `courierpop3dsizelist`: the UIDL Courier's pop3d showed;
//! 3. `courierimapuiddb`: the template over its UID and UIDVALIDITY, only
//!    with `--uidl-format` (Courier's pop3d never showed these);
//! 4. otherwise the template over the file name when it needs nothing
//!    else, else the file's base name as Courier's pop3d and qmail-pop3d
//!    show it ([`uidlist::courier_filename_uidl`]) — stable, so a re-run
//!    finds the message again; longer than 70 characters, the message gets
//!    one of praisani's own.

use super::uidl_format::{self, UidlFormat, Vars};
use super::uidlist;
use super::{MigrateError, import::header_md5};
use std::path::{Path, PathBuf};

/// Where the UIDLs come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UidlSource {
    /// `dovecot-uidlist`.
    Dovecot,
    /// `courierpop3dsizelist`.
    CourierPop3,
    /// `courierimapuiddb` with a template.
    CourierImap,
    /// No index: the file names.
    FileNames,
}

impl UidlSource {
    /// How the summary names it.
    pub fn label(self) -> &'static str {
        match self {
            UidlSource::Dovecot => "dovecot-uidlist",
            UidlSource::CourierPop3 => "courierpop3dsizelist",
            UidlSource::CourierImap => "courierimapuiddb",
            UidlSource::FileNames => "file names",
        }
    }
}

/// One message file.
#[derive(Clone, Debug)]
pub struct MaildirMessage {
    /// The file.
    pub path: PathBuf,
    /// The UIDL clients knew it by; `None`: praisani makes one.
    pub uidl: Option<String>,
    /// Arrival: the file's mtime (Dovecot's received date), else the time
    /// at the start of its name.
    pub received: i64,
    /// Flagged seen (`S` in the `:2,` info): it was read.
    pub seen: bool,
}

impl MaildirMessage {
    /// The file's base name (before `:2,`).
    pub fn base(&self) -> &str {
        let name = self
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        uidlist::base_name(name)
    }
}

/// A Maildir read: its INBOX messages in the old server's POP3 order,
/// kept sorted in a scratch SQLite file (an external sort: memory stays
/// bounded for any mailbox size) and read back in pages by
/// [`Scan::messages`].
pub struct Scan {
    /// How many messages.
    pub total: u64,
    /// Where their UIDLs came from.
    pub source: UidlSource,
    /// Maildir++ folders found and not imported.
    pub folders: Vec<String>,
    dir: PathBuf,
    scratch: Scratch,
}

impl std::fmt::Debug for Scan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scan")
            .field("total", &self.total)
            .field("source", &self.source)
            .field("folders", &self.folders)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// How many messages [`Messages`] reads from the scratch file at a time.
const PAGE: i64 = 1000;

/// The scratch database: in a private temporary directory (0700, the file
/// 0600), removed when the scan is dropped.
struct Scratch {
    db: std::sync::Mutex<rusqlite::Connection>,
    dir: tempfile::TempDir,
}

impl Scratch {
    fn open() -> Result<Scratch, MigrateError> {
        let dir = tempfile::Builder::new()
            .prefix("praisani-import-")
            .tempdir()
            .map_err(|e| MigrateError::Scratch {
                dir: std::env::temp_dir(),
                reason: e.to_string(),
            })?;
        let path = dir.path().join("scan.sqlite");
        let err = |e: &dyn std::fmt::Display| MigrateError::Scratch {
            dir: dir.path().to_path_buf(),
            reason: e.to_string(),
        };
        {
            // Private whatever the umask (the file names are the mailbox's).
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
                .map_err(|e| err(&e))?;
        }
        // Created first with 0600: SQLite would make it 0644.
        {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| err(&e))?;
        }
        let db = rusqlite::Connection::open(&path).map_err(|e| err(&e))?;
        // A scratch file: no journal, no fsync; a small page cache and
        // sorts that spill to temporary files keep memory bounded.
        db.execute_batch(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA temp_store=FILE;
             PRAGMA cache_size=-8192;
             CREATE TABLE idx(base TEXT PRIMARY KEY, uid INTEGER, uidl TEXT, guid TEXT,
                              ord INTEGER) WITHOUT ROWID;
             CREATE TABLE msgs(tier INTEGER, k INTEGER, recv INTEGER, base TEXT,
                               sub INTEGER, name TEXT, uidl TEXT, received INTEGER, seen INTEGER);
             CREATE TABLE ordered(n INTEGER PRIMARY KEY, sub INTEGER, name TEXT,
                                  uidl TEXT, received INTEGER, seen INTEGER);",
        )
        .map_err(|e| err(&e))?;
        Ok(Scratch {
            db: std::sync::Mutex::new(db),
            dir,
        })
    }

    fn err(&self, e: rusqlite::Error) -> MigrateError {
        MigrateError::Scratch {
            dir: self.dir.path().to_path_buf(),
            reason: e.to_string(),
        }
    }
}

/// The messages of a [`Scan`] in order, read a page at a time.
pub struct Messages<'a> {
    scan: &'a Scan,
    after: i64,
    page: std::collections::VecDeque<MaildirMessage>,
    done: bool,
}

impl Iterator for Messages<'_> {
    type Item = Result<MaildirMessage, MigrateError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.page.is_empty()
            && !self.done
            && let Err(e) = self.fill()
        {
            self.done = true;
            return Some(Err(e));
        }
        self.page.pop_front().map(Ok)
    }
}

impl Messages<'_> {
    fn fill(&mut self) -> Result<(), MigrateError> {
        let scratch = &self.scan.scratch;
        let db = scratch.db.lock().unwrap_or_else(|p| p.into_inner());
        let mut st = db
            .prepare_cached(
                "SELECT n, sub, name, uidl, received, seen FROM ordered WHERE n > ?1
                 ORDER BY n LIMIT ?2",
            )
            .map_err(|e| scratch.err(e))?;
        let rows = st
            .query_map(rusqlite::params![self.after, PAGE], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, bool>(5)?,
                ))
            })
            .map_err(|e| scratch.err(e))?;
        for row in rows {
            let (n, sub, name, uidl, received, seen) = row.map_err(|e| scratch.err(e))?;
            self.after = n;
            let sub = if sub == 0 { "cur" } else { "new" };
            self.page.push_back(MaildirMessage {
                path: self.scan.dir.join(sub).join(name),
                uidl,
                received,
                seen,
            });
        }
        if self.page.len() < PAGE as usize {
            self.done = true;
        }
        Ok(())
    }
}

impl Scan {
    /// The messages in the old server's order.
    pub fn messages(&self) -> Messages<'_> {
        Messages {
            scan: self,
            after: 0,
            page: Default::default(),
            done: false,
        }
    }
}

type Reader = fn(&Path, uidlist::Lines<'_>, uidlist::Sink<'_>) -> Result<Option<u64>, MigrateError>;

/// Streams the index file `name` into the scratch table; `Ok(None)`:
/// there is none; else its UIDVALIDITY.
fn read_index(
    dir: &Path,
    name: &str,
    read: Reader,
    scratch: &Scratch,
    db: &rusqlite::Connection,
) -> Result<Option<Option<u64>>, MigrateError> {
    use std::io::BufRead;
    let path = dir.join(name);
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(MigrateError::io(&path, e)),
    };
    let mut lines = std::io::BufReader::new(file)
        .lines()
        .enumerate()
        .map(|(i, l)| match l {
            Ok(l) => Ok((i, l)),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => Err(MigrateError::BadIndex {
                path: path.clone(),
                line: i + 1,
                reason: "it is not text".into(),
            }),
            Err(e) => Err(MigrateError::io(&path, e)),
        });
    let mut st = db
        .prepare_cached(
            "INSERT OR REPLACE INTO idx(base, uid, uidl, guid, ord) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(|e| scratch.err(e))?;
    let uidvalidity = read(&path, &mut lines, &mut |base, e| {
        st.execute(rusqlite::params![
            base,
            e.uid as i64,
            e.uidl,
            e.guid,
            e.order as i64
        ])
        .map(drop)
        .map_err(|e| scratch.err(e))
    })?;
    Ok(Some(uidvalidity))
}

/// Reads the Maildir at `dir` (names, index files and file times; no
/// message is read unless `format` needs `%m`). `format`: the
/// `--uidl-format` template, `None` for Dovecot's default. Memory stays
/// bounded: the index and the listing go through a scratch file in the
/// temporary directory (`TMPDIR`).
pub fn scan(dir: &Path, format: Option<&UidlFormat>) -> Result<Scan, MigrateError> {
    if !dir.join("cur").is_dir() || !dir.join("new").is_dir() {
        return Err(MigrateError::NotMaildir(dir.to_path_buf()));
    }
    let default = UidlFormat::parse(uidl_format::DOVECOT_DEFAULT)?;
    let scratch = Scratch::open()?;
    let total = {
        let db = scratch.db.lock().unwrap_or_else(|p| p.into_inner());
        db.execute_batch("BEGIN").map_err(|e| scratch.err(e))?;
        let r = scan_into(dir, format, &default, &scratch, &db);
        let r = r.and_then(|(source, total)| {
            // The sort (SQLite's, spilling to temporary files): indexed
            // messages in the index's order, then the others by arrival.
            db.execute_batch(
                "INSERT INTO ordered(sub, name, uidl, received, seen)
                   SELECT sub, name, uidl, received, seen FROM msgs ORDER BY tier, k, recv, base;
                 DELETE FROM msgs; DELETE FROM idx; COMMIT;",
            )
            .map_err(|e| scratch.err(e))?;
            Ok((source, total))
        });
        r?
    };
    let (source, total) = total;
    let mut folders = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.len() > 1 && e.path().join("cur").is_dir() {
                folders.push(name);
            }
        }
    }
    folders.sort();
    Ok(Scan {
        total,
        source,
        folders,
        dir: dir.to_path_buf(),
        scratch,
    })
}

/// The index read and the listing written into the scratch tables.
fn scan_into(
    dir: &Path,
    format: Option<&UidlFormat>,
    default: &UidlFormat,
    scratch: &Scratch,
    db: &rusqlite::Connection,
) -> Result<(UidlSource, u64), MigrateError> {
    // The first index found is the one used.
    let (uidvalidity, source, template) =
        if let Some(v) = read_index(dir, "dovecot-uidlist", uidlist::read_dovecot, scratch, db)? {
            (v, UidlSource::Dovecot, Some(format.unwrap_or(default)))
        } else if let Some(v) = read_index(
            dir,
            "courierpop3dsizelist",
            uidlist::read_courier_pop3,
            scratch,
            db,
        )? {
            (v, UidlSource::CourierPop3, format)
        } else if let Some(f) = format
            && let Some(v) = read_index(
                dir,
                "courierimapuiddb",
                uidlist::read_courier_imap,
                scratch,
                db,
            )?
        {
            (v, UidlSource::CourierImap, Some(f))
        } else {
            (None, UidlSource::FileNames, format)
        };
    let mut take = db
        .prepare_cached("SELECT uid, uidl, guid, ord FROM idx WHERE base = ?1")
        .map_err(|e| scratch.err(e))?;
    let mut forget = db
        .prepare_cached("DELETE FROM idx WHERE base = ?1")
        .map_err(|e| scratch.err(e))?;
    let mut put = db
        .prepare_cached(
            "INSERT INTO msgs(tier, k, recv, base, sub, name, uidl, received, seen)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .map_err(|e| scratch.err(e))?;
    let mut total = 0u64;
    for (sub_n, sub) in ["cur", "new"].into_iter().enumerate() {
        let d = dir.join(sub);
        let entries = std::fs::read_dir(&d).map_err(|e| MigrateError::io(&d, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| MigrateError::io(&d, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            let path = entry.path();
            let meta = entry.metadata().map_err(|e| MigrateError::io(&path, e))?;
            if !meta.is_file() {
                continue;
            }
            let base = uidlist::base_name(name);
            let seen = name
                .split_once(":2,")
                .is_some_and(|(_, flags)| flags.contains('S'));
            let received = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_secs() as i64)
                .or_else(|| name_time(base))
                .unwrap_or(0);
            // An entry is taken out of the index as its file is found: a
            // second file of the same base gets none.
            let entry = if source == UidlSource::FileNames {
                None
            } else {
                use rusqlite::OptionalExtension;
                let e = take
                    .query_row([base], |r| {
                        Ok(uidlist::Entry {
                            uid: r.get::<_, i64>(0)? as u64,
                            uidl: r.get(1)?,
                            guid: r.get(2)?,
                            order: r.get::<_, i64>(3)? as u64,
                        })
                    })
                    .optional()
                    .map_err(|e| scratch.err(e))?;
                if e.is_some() {
                    forget.execute([base]).map_err(|e| scratch.err(e))?;
                }
                e
            };
            let entry = entry.as_ref();
            let md5 = match template {
                Some(t) if t.needs_md5() => Some(header_md5(&path)?),
                _ => None,
            };
            let vars = Vars {
                uid: entry.map(|e| e.uid).filter(|&u| u > 0),
                uidvalidity: entry.and(uidvalidity),
                filename: Some(base),
                guid: entry.and_then(|e| e.guid.as_deref()),
                md5: md5.as_deref(),
            };
            let uidl = entry
                .and_then(|e| e.uidl.clone())
                .or_else(|| template.and_then(|t| t.expand(&vars)))
                .or_else(|| {
                    Some(uidlist::courier_filename_uidl(base))
                        .filter(|u| u.len() <= praisani_store::import::MAX_UIDL)
                });
            if let Some(u) = &uidl {
                praisani_store::import::check_uidl(u).map_err(|_| MigrateError::BadUidl {
                    path: path.clone(),
                    uidl: u.clone(),
                    reason: "RFC 1939 allows 1-70 characters 0x21-0x7E",
                })?;
            }
            // Indexed messages in the index's order, then the others by
            // arrival.
            let (tier, k, recv) = match entry {
                Some(e) if source == UidlSource::CourierPop3 => (0, e.order as i64, 0),
                Some(e) => (0, e.uid as i64, 0),
                None => (1, 0, received),
            };
            put.execute(rusqlite::params![
                tier,
                k,
                recv,
                base,
                sub_n as i64,
                name,
                uidl,
                received,
                seen
            ])
            .map_err(|e| scratch.err(e))?;
            total += 1;
        }
    }
    Ok((source, total))
}

/// The Unix time a Maildir file name starts with (`1733333333.M…`).
fn name_time(base: &str) -> Option<i64> {
    base.split('.').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(s: &Scan) -> Vec<MaildirMessage> {
        s.messages().collect::<Result<_, _>>().unwrap()
    }

    fn maildir() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for s in ["cur", "new", "tmp", ".Sent/cur", ".Sent/new"] {
            std::fs::create_dir_all(d.path().join(s)).unwrap();
        }
        d
    }

    #[test]
    fn dovecot_uidlist() {
        let d = maildir();
        let p = d.path();
        std::fs::write(p.join("cur/100.M1.h,S=5:2,S"), "a\n").unwrap();
        std::fs::write(p.join("cur/101.M2.h:2,"), "b\n").unwrap();
        std::fs::write(p.join("new/102.M3.h"), "c\n").unwrap();
        std::fs::write(p.join("new/099.M0.h"), "d\n").unwrap();
        std::fs::write(
            p.join("dovecot-uidlist"),
            "3 V1733333333 N4\n1 :100.M1.h,S=5\n2 Psaved-2 :101.M2.h\n3 :102.M3.h\n",
        )
        .unwrap();
        let s = scan(p, None).unwrap();
        assert_eq!(s.source, UidlSource::Dovecot);
        assert_eq!(s.folders, vec![".Sent".to_string()]);
        let u: Vec<_> = all(&s).iter().map(|m| m.uidl.clone().unwrap()).collect();
        assert_eq!(
            u,
            [
                "0000000167509155",
                "saved-2",
                "0000000367509155",
                "099.M0.h"
            ]
        );
        assert_eq!(
            all(&s).iter().map(|m| m.seen).collect::<Vec<_>>(),
            [true, false, false, false]
        );
        let f = UidlFormat::parse("%v-%u").unwrap();
        let s = scan(p, Some(&f)).unwrap();
        assert_eq!(all(&s)[0].uidl.as_deref(), Some("1733333333-1"));
        assert_eq!(all(&s)[1].uidl.as_deref(), Some("saved-2"));
    }

    #[test]
    fn scratch_is_private_and_removed_and_pages_in_order() {
        use std::os::unix::fs::PermissionsExt;
        let d = maildir();
        let p = d.path();
        // More than a page, with the index in the reverse of name order.
        let n = PAGE as u64 * 2 + 7;
        let mut index = format!("3 V7 N{}\n", n + 1);
        for uid in 1..=n {
            let name = format!("{}.M{uid}.h", 2_000_000 - uid);
            std::fs::write(p.join("cur").join(format!("{name}:2,")), "x\n").unwrap();
            index.push_str(&format!("{uid} :{name}\n"));
        }
        std::fs::write(p.join("dovecot-uidlist"), index).unwrap();
        let s = scan(p, None).unwrap();
        assert_eq!(s.total, n);
        let dir = s.scratch.dir.path().to_path_buf();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("scan.sqlite")), 0o600);
        let got: Vec<String> = all(&s).iter().map(|m| m.base().to_string()).collect();
        let want: Vec<String> = (1..=n)
            .map(|u| format!("{}.M{u}.h", 2_000_000 - u))
            .collect();
        assert_eq!(got, want);
        drop(s);
        assert!(!dir.exists());
    }

    #[test]
    fn not_a_maildir_and_bad_index() {
        let d = tempfile::tempdir().unwrap();
        assert!(matches!(
            scan(d.path(), None),
            Err(MigrateError::NotMaildir(_))
        ));
        let d = maildir();
        std::fs::write(d.path().join("dovecot-uidlist"), "3 garbage\n").unwrap();
        assert!(matches!(
            scan(d.path(), None),
            Err(MigrateError::BadIndex { .. })
        ));
    }

    #[test]
    fn courier_pop3() {
        let d = maildir();
        let p = d.path();
        std::fs::write(p.join("cur/200.M1.h:2,S"), "a\n").unwrap();
        std::fs::write(p.join("cur/201.M2.h:2,"), "b\n").unwrap();
        std::fs::write(
            p.join("courierpop3dsizelist"),
            "/2 3 555\n201.M2.h:2, 2 2:555\n200.M1.h:2,S 2 1:555\n",
        )
        .unwrap();
        let s = scan(p, None).unwrap();
        assert_eq!(s.source, UidlSource::CourierPop3);
        let u: Vec<_> = all(&s).iter().map(|m| m.uidl.clone().unwrap()).collect();
        assert_eq!(u, ["UID2-555", "UID1-555"]);
    }
}
