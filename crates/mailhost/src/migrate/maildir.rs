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
use super::uidlist::{self, Index};
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
    /// Its base name (before `:2,`).
    pub base: String,
    /// The UIDL clients knew it by; `None`: praisani makes one.
    pub uidl: Option<String>,
    /// Arrival: the file's mtime (Dovecot's received date), else the time
    /// at the start of its name.
    pub received: i64,
    /// Flagged seen (`S` in the `:2,` info): it was read.
    pub seen: bool,
}

/// A Maildir read: its INBOX messages in the old server's POP3 order.
#[derive(Clone, Debug)]
pub struct Scan {
    /// The messages.
    pub messages: Vec<MaildirMessage>,
    /// Where their UIDLs came from.
    pub source: UidlSource,
    /// Maildir++ folders found and not imported.
    pub folders: Vec<String>,
}

fn read_index(
    dir: &Path,
    name: &str,
    parse: fn(&Path, &str) -> Result<Index, MigrateError>,
) -> Result<Option<Index>, MigrateError> {
    let path = dir.join(name);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let text = String::from_utf8(bytes).map_err(|_| MigrateError::BadIndex {
                path: path.clone(),
                line: 0,
                reason: "it is not text".into(),
            })?;
            parse(&path, &text).map(Some)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(MigrateError::io(&path, e)),
    }
}

/// Reads the Maildir at `dir` (names, index files and file times; no
/// message is read unless `format` needs `%m`). `format`: the
/// `--uidl-format` template, `None` for Dovecot's default.
pub fn scan(dir: &Path, format: Option<&UidlFormat>) -> Result<Scan, MigrateError> {
    if !dir.join("cur").is_dir() || !dir.join("new").is_dir() {
        return Err(MigrateError::NotMaildir(dir.to_path_buf()));
    }
    let default = UidlFormat::parse(uidl_format::DOVECOT_DEFAULT)?;
    let dovecot = read_index(dir, "dovecot-uidlist", uidlist::parse_dovecot)?;
    let courier_pop3 = read_index(dir, "courierpop3dsizelist", uidlist::parse_courier_pop3)?;
    let courier_imap = read_index(dir, "courierimapuiddb", uidlist::parse_courier_imap)?;
    let (index, source, template) = if let Some(i) = dovecot {
        (
            Some(i),
            UidlSource::Dovecot,
            Some(format.unwrap_or(&default)),
        )
    } else if let Some(i) = courier_pop3 {
        (Some(i), UidlSource::CourierPop3, format)
    } else if let (Some(i), Some(f)) = (courier_imap, format) {
        (Some(i), UidlSource::CourierImap, Some(f))
    } else {
        (None, UidlSource::FileNames, format)
    };
    let mut keyed = Vec::new();
    for sub in ["cur", "new"] {
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
            let base = uidlist::base_name(name).to_string();
            let seen = name
                .split_once(":2,")
                .is_some_and(|(_, flags)| flags.contains('S'));
            let received = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_secs() as i64)
                .or_else(|| name_time(&base))
                .unwrap_or(0);
            let entry = index.as_ref().and_then(|i| i.entries.get(&base));
            let md5 = match template {
                Some(t) if t.needs_md5() => Some(header_md5(&path)?),
                _ => None,
            };
            let vars = Vars {
                uid: entry.map(|e| e.uid).filter(|&u| u > 0),
                uidvalidity: entry.and(index.as_ref().and_then(|i| i.uidvalidity)),
                filename: Some(&base),
                guid: entry.and_then(|e| e.guid.as_deref()),
                md5: md5.as_deref(),
            };
            let uidl = entry
                .and_then(|e| e.uidl.clone())
                .or_else(|| template.and_then(|t| t.expand(&vars)))
                .or_else(|| {
                    Some(uidlist::courier_filename_uidl(&base))
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
            let key = match entry {
                Some(e) if source == UidlSource::CourierPop3 => (0, e.order, 0),
                Some(e) => (0, e.uid, 0),
                None => (1, 0, received),
            };
            keyed.push((
                key,
                MaildirMessage {
                    path,
                    base,
                    uidl,
                    received,
                    seen,
                },
            ));
        }
    }
    keyed.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.base.cmp(&b.1.base)));
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
        messages: keyed.into_iter().map(|(_, m)| m).collect(),
        source,
        folders,
    })
}

/// The Unix time a Maildir file name starts with (`1733333333.M…`).
fn name_time(base: &str) -> Option<i64> {
    base.split('.').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let u: Vec<_> = s.messages.iter().map(|m| m.uidl.clone().unwrap()).collect();
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
            s.messages.iter().map(|m| m.seen).collect::<Vec<_>>(),
            [true, false, false, false]
        );
        let f = UidlFormat::parse("%v-%u").unwrap();
        let s = scan(p, Some(&f)).unwrap();
        assert_eq!(s.messages[0].uidl.as_deref(), Some("1733333333-1"));
        assert_eq!(s.messages[1].uidl.as_deref(), Some("saved-2"));
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
        let u: Vec<_> = s.messages.iter().map(|m| m.uidl.clone().unwrap()).collect();
        assert_eq!(u, ["UID2-555", "UID1-555"]);
    }
}
