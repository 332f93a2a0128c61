//! Dovecot's `pop3_uidl_format` templates, to compute the UIDLs an old
//! Dovecot showed without a saved one (`P` in `dovecot-uidlist`).
//!
//! Variables: `%u` / `%{uid}` the IMAP UID, `%v` / `%{uidvalidity}` the
//! mailbox's UIDVALIDITY, `%f` / `%{filename}` the Maildir file's base name
//! (before `:2,`), `%g` / `%{guid}` the message's GUID (a Maildir's `G`
//! field, else its base name, as Dovecot does for Maildir), `%m` /
//! `%{md5}` the MD5 of the header section in hex (Dovecot has it for mbox
//! only), `%%` a percent sign. Modifiers between `%` and the variable, as
//! Dovecot's: a width with an optional `0` to pad with zeros, `X` for
//! hexadecimal (lower case, as Dovecot writes it), `L` / `U` for lower /
//! upper case. Dovecot's default is `%08Xu%08Xv`.

use super::MigrateError;

/// Dovecot's default `pop3_uidl_format`.
pub const DOVECOT_DEFAULT: &str = "%08Xu%08Xv";

/// What a template's variables stand for, for one message.
#[derive(Clone, Debug, Default)]
pub struct Vars<'a> {
    /// The IMAP UID.
    pub uid: Option<u64>,
    /// The mailbox's UIDVALIDITY.
    pub uidvalidity: Option<u64>,
    /// The Maildir file's base name.
    pub filename: Option<&'a str>,
    /// The message's GUID.
    pub guid: Option<&'a str>,
    /// The MD5 of the header section, hex.
    pub md5: Option<&'a str>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Var {
    Uid,
    Uidvalidity,
    Filename,
    Guid,
    Md5,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Var {
        var: Var,
        width: usize,
        zero: bool,
        hex: bool,
        case: Option<bool>,
    },
}

/// A parsed template.
#[derive(Clone, Debug)]
pub struct UidlFormat {
    text: String,
    parts: Vec<Part>,
}

impl UidlFormat {
    /// Parses a template; an unknown variable or modifier is an error.
    pub fn parse(text: &str) -> Result<UidlFormat, MigrateError> {
        let bad = |reason: &str| MigrateError::BadFormat {
            format: text.to_string(),
            reason: reason.to_string(),
        };
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '%' {
                lit.push(c);
                continue;
            }
            let (mut width, mut zero, mut hex, mut case) = (0usize, false, false, None);
            if chars.peek() == Some(&'0') {
                zero = true;
                chars.next();
            }
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                width = width * 10 + d as usize;
                chars.next();
                if width > 70 {
                    return Err(bad("a width over 70"));
                }
            }
            let var = loop {
                match chars.next() {
                    Some('%') if width == 0 && !zero => {
                        lit.push('%');
                        break None;
                    }
                    Some('X') => hex = true,
                    Some('L') => case = Some(false),
                    Some('U') => case = Some(true),
                    Some('u') => break Some(Var::Uid),
                    Some('v') => break Some(Var::Uidvalidity),
                    Some('f') => break Some(Var::Filename),
                    Some('g') => break Some(Var::Guid),
                    Some('m') => break Some(Var::Md5),
                    Some('{') => {
                        let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                        break Some(match name.as_str() {
                            "uid" => Var::Uid,
                            "uidvalidity" => Var::Uidvalidity,
                            "filename" => Var::Filename,
                            "guid" => Var::Guid,
                            "md5" => Var::Md5,
                            _ => return Err(bad(&format!("unknown variable %{{{name}}}"))),
                        });
                    }
                    Some(other) => {
                        return Err(bad(&format!("unknown variable or modifier %{other}")));
                    }
                    None => return Err(bad("a % at the end")),
                }
            };
            if let Some(var) = var {
                if !lit.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut lit)));
                }
                parts.push(Part::Var {
                    var,
                    width,
                    zero,
                    hex,
                    case,
                });
            }
        }
        if !lit.is_empty() {
            parts.push(Part::Text(lit));
        }
        if !parts.iter().any(|p| matches!(p, Part::Var { .. })) {
            return Err(bad(
                "it has no variable, so every message would get the same UIDL",
            ));
        }
        Ok(UidlFormat {
            text: text.to_string(),
            parts,
        })
    }

    /// The template as given.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the template uses `%m` (the caller then reads the header).
    pub fn needs_md5(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Var { var: Var::Md5, .. }))
    }

    /// The UIDL for `vars`; `None` when a variable the template uses is
    /// not known for this message.
    pub fn expand(&self, vars: &Vars<'_>) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                &Part::Var {
                    var,
                    width,
                    zero,
                    hex,
                    case,
                } => {
                    let number = |n: u64| {
                        if hex { format!("{n:x}") } else { n.to_string() }
                    };
                    let mut value = match var {
                        Var::Uid => number(vars.uid?),
                        Var::Uidvalidity => number(vars.uidvalidity?),
                        Var::Filename => vars.filename?.to_string(),
                        Var::Guid => vars.guid.or(vars.filename)?.to_string(),
                        Var::Md5 => vars.md5?.to_string(),
                    };
                    match case {
                        Some(true) => value = value.to_uppercase(),
                        Some(false) => value = value.to_lowercase(),
                        None => {}
                    }
                    let pad = width.saturating_sub(value.chars().count());
                    out.extend(std::iter::repeat_n(if zero { '0' } else { ' ' }, pad));
                    out.push_str(&value);
                }
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dovecot_default() {
        let f = UidlFormat::parse(DOVECOT_DEFAULT).unwrap();
        let vars = Vars {
            uid: Some(0x1a),
            uidvalidity: Some(1_733_333_333),
            ..Vars::default()
        };
        assert_eq!(f.expand(&vars).unwrap(), "0000001a67509155");
    }

    #[test]
    fn others() {
        let vars = Vars {
            uid: Some(7),
            uidvalidity: Some(99),
            filename: Some("1733.M1P2.host"),
            ..Vars::default()
        };
        let e = |t: &str| UidlFormat::parse(t).unwrap().expand(&vars);
        assert_eq!(e("UID%u-%v").unwrap(), "UID7-99");
        assert_eq!(e("%v.%u").unwrap(), "99.7");
        assert_eq!(e("%{uidvalidity}-%{uid}").unwrap(), "99-7");
        assert_eq!(e("%f").unwrap(), "1733.M1P2.host");
        assert_eq!(e("%g").unwrap(), "1733.M1P2.host");
        assert_eq!(e("%UXu%%").unwrap(), "7%");
        assert_eq!(e("%m"), None);
        for bad in ["", "abc", "%q", "%{nope}", "x%", "%%"] {
            assert!(UidlFormat::parse(bad).is_err(), "{bad}");
        }
    }
}
