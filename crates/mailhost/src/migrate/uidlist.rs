//! The index files that say which UIDL each Maildir message had.
//!
//! - `dovecot-uidlist` (Dovecot): version 3 — a header `3 V<uidvalidity>
//!   N<next uid> [G<guid>]`, then `<uid> [<key><value>]* :<filename>`
//!   (`P` the POP3 UIDL saved by `pop3_save_uidl` or a migration, `G` the
//!   GUID, `O` the POP3 order, `W`/`S` sizes) — or version 1 — `1
//!   <uidvalidity> <next uid>`, then `<uid> <filename>`.
//! - `courierimapuiddb` (Courier IMAP): `1 <uidvalidity> <next uid>`, then
//!   `<uid> <filename>`.
//! - `courierpop3dsizelist` (Courier POP3): a header `/2 <next uid>
//!   <uidvalidity>` (or `/3 …`, `/1 <next uid>`, none for version 0), then
//!   `<filename> <size> [<uid>[:<uidvalidity>[:…]]]`. Courier's pop3d shows
//!   `UID<uid>-<uidvalidity>`, `UID<uid>` without a UIDVALIDITY, and the
//!   file name (escaped: see [`courier_filename_uidl`]) without a uid — as
//!   Dovecot's `courier-dovecot-migrate.pl` reads it.
//!
//! File names are matched by their base (before `:2,`): the flags change
//! as the message is read.

use super::MigrateError;
use std::collections::HashMap;
use std::path::Path;

/// One message of an index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    /// The IMAP UID (0 when the index has none).
    pub uid: u64,
    /// The POP3 UIDL the index gives outright (`P`, or Courier POP3's).
    pub uidl: Option<String>,
    /// The GUID (`G`).
    pub guid: Option<String>,
    /// Its place in the index, for the POP3 order.
    pub order: u64,
}

/// An index file read.
#[derive(Clone, Debug, Default)]
pub struct Index {
    /// The mailbox's UIDVALIDITY, when the index has one.
    pub uidvalidity: Option<u64>,
    /// Messages by file base name.
    pub entries: HashMap<String, Entry>,
}

/// The base of a Maildir file name: before the `:2,` info (or `:1,`).
pub fn base_name(name: &str) -> &str {
    name.split_once(':').map_or(name, |(b, _)| b)
}

fn bad(path: &Path, line: usize, reason: impl Into<String>) -> MigrateError {
    MigrateError::BadIndex {
        path: path.to_path_buf(),
        line,
        reason: reason.into(),
    }
}

fn number(path: &Path, line: usize, what: &str, s: &str) -> Result<u64, MigrateError> {
    s.parse()
        .map_err(|_| bad(path, line, format!("{what} {s:?} is not a number")))
}

/// Lines of an index file, numbered from 0, as a stream.
pub type Lines<'a> = &'a mut dyn Iterator<Item = Result<(usize, String), MigrateError>>;

/// Hears each entry of an index as it is read: its file base name and
/// the entry.
pub type Sink<'a> = &'a mut dyn FnMut(&str, Entry) -> Result<(), MigrateError>;

/// The lines of `text`, as [`Lines`] wants them.
fn text_lines(text: &str) -> impl Iterator<Item = Result<(usize, String), MigrateError>> + '_ {
    text.lines()
        .enumerate()
        .map(|(i, l)| Ok((i, l.to_string())))
}

/// Collects a streamed index into an [`Index`].
fn collect(
    read: impl FnOnce(Sink<'_>) -> Result<Option<u64>, MigrateError>,
) -> Result<Index, MigrateError> {
    let mut index = Index::default();
    let uidvalidity = read(&mut |base, e| {
        index.entries.insert(base.to_string(), e);
        Ok(())
    })?;
    index.uidvalidity = uidvalidity;
    Ok(index)
}

/// Reads `dovecot-uidlist` text (v1 or v3).
pub fn parse_dovecot(path: &Path, text: &str) -> Result<Index, MigrateError> {
    collect(|sink| read_dovecot(path, &mut text_lines(text), sink))
}

/// Reads `dovecot-uidlist` (v1 or v3) line by line, handing each entry to
/// `sink` (memory does not grow with the file); returns the UIDVALIDITY.
pub fn read_dovecot(
    path: &Path,
    lines: Lines<'_>,
    sink: Sink<'_>,
) -> Result<Option<u64>, MigrateError> {
    let Some(first) = lines.next() else {
        return Err(bad(path, 1, "the file is empty"));
    };
    let (_, header) = first?;
    let fields: Vec<&str> = header.split(' ').collect();
    let mut index = Index::default();
    let v3 = match fields.first() {
        Some(&"3") => {
            for f in &fields[1..] {
                if let Some(v) = f.strip_prefix('V') {
                    index.uidvalidity = Some(number(path, 1, "UIDVALIDITY", v)?);
                }
            }
            if index.uidvalidity.is_none() {
                return Err(bad(path, 1, "the header has no V (UIDVALIDITY)"));
            }
            true
        }
        Some(&"1") if fields.len() >= 3 => {
            index.uidvalidity = Some(number(path, 1, "UIDVALIDITY", fields[1])?);
            false
        }
        _ => {
            return Err(bad(
                path,
                1,
                format!("unknown header {header:?} (version 1 or 3 expected)"),
            ));
        }
    };
    for l in lines {
        let (i, line) = l?;
        let n = i + 1;
        if line.is_empty() {
            continue;
        }
        let (uid, rest) = line
            .split_once(' ')
            .ok_or_else(|| bad(path, n, "no file name"))?;
        let mut entry = Entry {
            uid: number(path, n, "UID", uid)?,
            order: n as u64,
            ..Entry::default()
        };
        let filename = if v3 {
            // Extensions, each `<key><value>`, up to the ` :` that starts
            // the file name.
            let mut rest = rest;
            loop {
                if let Some(f) = rest.strip_prefix(':') {
                    break f;
                }
                let (ext, more) = rest
                    .split_once(' ')
                    .ok_or_else(|| bad(path, n, "no :<file name> after the fields"))?;
                match ext.split_at_checked(1) {
                    Some(("P", v)) if !v.is_empty() => entry.uidl = Some(v.to_string()),
                    Some(("G", v)) if !v.is_empty() => entry.guid = Some(v.to_string()),
                    _ => {}
                }
                rest = more;
            }
        } else {
            rest
        };
        if filename.is_empty() {
            return Err(bad(path, n, "an empty file name"));
        }
        sink(base_name(filename), entry)?;
    }
    Ok(index.uidvalidity)
}

/// Reads `courierimapuiddb` text.
pub fn parse_courier_imap(path: &Path, text: &str) -> Result<Index, MigrateError> {
    collect(|sink| read_courier_imap(path, &mut text_lines(text), sink))
}

/// Reads `courierimapuiddb` line by line (see [`read_dovecot`]).
pub fn read_courier_imap(
    path: &Path,
    lines: Lines<'_>,
    sink: Sink<'_>,
) -> Result<Option<u64>, MigrateError> {
    let header = lines
        .next()
        .transpose()?
        .map(|(_, h)| h)
        .unwrap_or_default();
    let fields: Vec<&str> = header.split(' ').collect();
    if fields.len() < 3 || fields[0] != "1" {
        return Err(bad(path, 1, format!("unknown header {header:?}")));
    }
    let uidvalidity = Some(number(path, 1, "UIDVALIDITY", fields[1])?);
    for l in lines {
        let (i, line) = l?;
        if line.is_empty() {
            continue;
        }
        let (uid, name) = line
            .split_once(' ')
            .ok_or_else(|| bad(path, i + 1, "no file name"))?;
        sink(
            base_name(name),
            Entry {
                uid: number(path, i + 1, "UID", uid)?,
                order: i as u64 + 1,
                ..Entry::default()
            },
        )?;
    }
    Ok(uidvalidity)
}

/// Reads `courierpop3dsizelist` text: every entry has the UIDL Courier's
/// pop3d showed.
pub fn parse_courier_pop3(path: &Path, text: &str) -> Result<Index, MigrateError> {
    collect(|sink| read_courier_pop3(path, &mut text_lines(text), sink))
}

/// Reads `courierpop3dsizelist` line by line (see [`read_dovecot`]).
pub fn read_courier_pop3(
    path: &Path,
    lines: Lines<'_>,
    sink: Sink<'_>,
) -> Result<Option<u64>, MigrateError> {
    let mut index = Index::default();
    for l in lines {
        let (i, line) = l?;
        let line = line.as_str();
        let n = i + 1;
        if i == 0 && line.starts_with('/') {
            let f: Vec<&str> = line.split(' ').collect();
            match f[0] {
                "/1" => {}
                "/2" | "/3" if f.len() >= 3 => {
                    index.uidvalidity = Some(number(path, n, "UIDVALIDITY", f[2])?)
                }
                _ => return Err(bad(path, n, format!("unknown header {line:?}"))),
            }
            continue;
        }
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(' ').collect();
        if f.len() < 2 || f[1].parse::<u64>().is_err() {
            return Err(bad(
                path,
                n,
                "expected <file name> <size> [<uid>:<uidvalidity>]",
            ));
        }
        let base = base_name(f[0]);
        let (uid, uidv) = match f.get(2) {
            None => (0, 0),
            Some(ids) => {
                let mut p = ids.split(':');
                let uid = number(path, n, "UID", p.next().unwrap_or_default())?;
                let uidv = match p.next() {
                    Some(v) => number(path, n, "UIDVALIDITY", v)?,
                    None => 0,
                };
                (uid, uidv)
            }
        };
        let uidl = match (uid, uidv) {
            (0, _) => courier_filename_uidl(base),
            (u, 0) => format!("UID{u}"),
            (u, v) => format!("UID{u}-{v}"),
        };
        sink(
            base,
            Entry {
                uid,
                uidl: Some(uidl),
                order: n as u64,
                ..Entry::default()
            },
        )?;
    }
    Ok(index.uidvalidity)
}

/// The UIDL Courier's pop3d (and qmail-pop3d, unescaped) shows for a file
/// without a uid: its base name, with characters outside 0x21–0x7E and
/// `'`, `"`, `+` written `+XX`.
pub fn courier_filename_uidl(base: &str) -> String {
    let mut out = String::with_capacity(base.len());
    for b in base.bytes() {
        if !(0x21..=0x7e).contains(&b) || matches!(b, b'\'' | b'"' | b'+') {
            out.push_str(&format!("+{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dovecot_v3() {
        let text = "3 V1733333333 N4 Gabc\n1 :1733.M1P1.h,S=10\n2 W12 P0000beef :1733.M2P1.h,S=11:2,S\n3 G77 O5 :1733.M3P1.h\n";
        let i = parse_dovecot(Path::new("u"), text).unwrap();
        assert_eq!(i.uidvalidity, Some(1_733_333_333));
        assert_eq!(i.entries["1733.M1P1.h,S=10"].uid, 1);
        assert_eq!(
            i.entries["1733.M2P1.h,S=11"].uidl.as_deref(),
            Some("0000beef")
        );
        assert_eq!(i.entries["1733.M3P1.h"].guid.as_deref(), Some("77"));
    }

    #[test]
    fn dovecot_v1_and_bad() {
        let i = parse_dovecot(Path::new("u"), "1 99 3\n1 a:2,S\n2 b\n").unwrap();
        assert_eq!((i.uidvalidity, i.entries["a"].uid), (Some(99), 1));
        for bad in [
            "",
            "7 V1\n",
            "3 N4\n",
            "3 V1\nx :a\n",
            "3 V1\n1 W3\n",
            "3 Vx\n",
        ] {
            assert!(parse_dovecot(Path::new("u"), bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn courier() {
        let i = parse_courier_imap(Path::new("c"), "1 1234 3\n1 a:2,S\n2 b\n").unwrap();
        assert_eq!(i.entries["b"].uid, 2);
        let p = parse_courier_pop3(
            Path::new("p"),
            "/2 4 1234\na:2,S 10 1:1234\nb 11 2\nc+d 12\n",
        )
        .unwrap();
        assert_eq!(p.entries["a"].uidl.as_deref(), Some("UID1-1234"));
        assert_eq!(p.entries["b"].uidl.as_deref(), Some("UID2"));
        assert_eq!(p.entries["c+d"].uidl.as_deref(), Some("c+2Bd"));
        assert!(parse_courier_pop3(Path::new("p"), "/9 x\n").is_err());
        assert!(parse_courier_pop3(Path::new("p"), "a b c\n").is_err());
    }
}
