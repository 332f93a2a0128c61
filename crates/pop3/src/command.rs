//! Parsing one client line (without its line ending) into a [`Command`].
//!
//! Parsing is separate from state: the parser says what was asked, the session decides
//! whether it is allowed now. A parse error keeps the keyword when it was recognised so the
//! session can say "not valid in this state" rather than "invalid argument" for, say,
//! `RETR x` sent before login.

/// The command keywords this server knows (RFC 1939 and RFC 2449 CAPA).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Keyword {
    User,
    Pass,
    Apop,
    Quit,
    Capa,
    Stat,
    List,
    Retr,
    Dele,
    Noop,
    Rset,
    Top,
    Uidl,
}

impl Keyword {
    /// Case-insensitive lookup; keywords are 3 or 4 ASCII letters (RFC 1939 section 3).
    fn parse(word: &[u8]) -> Option<Keyword> {
        if !(3..=4).contains(&word.len()) {
            return None;
        }
        let mut upper = [0u8; 4];
        for (slot, b) in upper.iter_mut().zip(word) {
            *slot = b.to_ascii_uppercase();
        }
        Some(match &upper[..word.len()] {
            b"USER" => Keyword::User,
            b"PASS" => Keyword::Pass,
            b"APOP" => Keyword::Apop,
            b"QUIT" => Keyword::Quit,
            b"CAPA" => Keyword::Capa,
            b"STAT" => Keyword::Stat,
            b"LIST" => Keyword::List,
            b"RETR" => Keyword::Retr,
            b"DELE" => Keyword::Dele,
            b"NOOP" => Keyword::Noop,
            b"RSET" => Keyword::Rset,
            b"TOP" => Keyword::Top,
            b"UIDL" => Keyword::Uidl,
            _ => return None,
        })
    }

    /// Whether the keyword belongs to the AUTHORIZATION state.
    pub(crate) fn valid_in_authorization(self) -> bool {
        matches!(
            self,
            Keyword::User | Keyword::Pass | Keyword::Apop | Keyword::Quit | Keyword::Capa
        )
    }

    /// Whether the keyword belongs to the TRANSACTION state.
    pub(crate) fn valid_in_transaction(self) -> bool {
        !matches!(self, Keyword::User | Keyword::Pass | Keyword::Apop)
    }
}

/// A parsed client command.
///
/// Message numbers are kept as the client wrote them (saturated to `u64::MAX` when they
/// overflow): whether one exists is the maildrop's question, answered "no such message".
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Command {
    User(String),
    Pass(String),
    Apop { name: String, digest: String },
    Quit,
    Capa,
    Stat,
    List(Option<u64>),
    Retr(u64),
    Dele(u64),
    Noop,
    Rset,
    Top { msg: u64, lines: u64 },
    Uidl(Option<u64>),
}

impl std::fmt::Debug for Command {
    // Hand-written so a password never reaches a log through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Pass(_) => f.write_str("Pass(<redacted>)"),
            Command::User(u) => f.debug_tuple("User").field(u).finish(),
            Command::Apop { name, digest } => f
                .debug_struct("Apop")
                .field("name", name)
                .field("digest", digest)
                .finish(),
            Command::Quit => f.write_str("Quit"),
            Command::Capa => f.write_str("Capa"),
            Command::Stat => f.write_str("Stat"),
            Command::List(n) => f.debug_tuple("List").field(n).finish(),
            Command::Retr(n) => f.debug_tuple("Retr").field(n).finish(),
            Command::Dele(n) => f.debug_tuple("Dele").field(n).finish(),
            Command::Noop => f.write_str("Noop"),
            Command::Rset => f.write_str("Rset"),
            Command::Top { msg, lines } => f
                .debug_struct("Top")
                .field("msg", msg)
                .field("lines", lines)
                .finish(),
            Command::Uidl(n) => f.debug_tuple("Uidl").field(n).finish(),
        }
    }
}

/// Why a line is not a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// The line holds a control character (NUL, a CR inside the line, ...).
    BadCharacter,
    /// The keyword is not one this server knows (or the line is empty).
    Unknown,
    /// The keyword is known but its arguments are missing, extra or malformed.
    InvalidArgument(Keyword),
}

/// Parses one line, its CRLF or LF already removed.
pub(crate) fn parse(line: &[u8]) -> Result<Command, ParseError> {
    // Control characters have no place in any POP3 command; refusing them up front keeps
    // NULs out of user names and passwords (and out of logs). TAB is allowed because a
    // password may contain one.
    if line.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(ParseError::BadCharacter);
    }
    let (word, rest) = match line.iter().position(|&b| b == b' ') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, &[][..]),
    };
    let keyword = Keyword::parse(word).ok_or(ParseError::Unknown)?;
    let bad = ParseError::InvalidArgument(keyword);

    // RFC 1939 separates arguments by a single space; clients that send more (or a trailing
    // one) are tolerated.
    let mut args = rest.split(|&b| b == b' ').filter(|a| !a.is_empty());
    let mut next = || args.next();
    let cmd = match keyword {
        Keyword::User => Command::User(text(next().ok_or(bad)?).ok_or(bad)?),
        Keyword::Apop => {
            let name = text(next().ok_or(bad)?).ok_or(bad)?;
            let digest = next().ok_or(bad)?;
            // An MD5 digest is 32 hex digits; normalise case so the server compares one form.
            if digest.len() != 32 || !digest.iter().all(u8::is_ascii_hexdigit) {
                return Err(bad);
            }
            let digest = String::from_utf8_lossy(digest).to_ascii_lowercase();
            Command::Apop { name, digest }
        }
        // The password is the rest of the line, verbatim: it may contain spaces.
        Keyword::Pass if rest.is_empty() => return Err(bad),
        Keyword::Pass => return text(rest).map(Command::Pass).ok_or(bad),
        Keyword::Quit => Command::Quit,
        Keyword::Capa => Command::Capa,
        Keyword::Stat => Command::Stat,
        Keyword::Noop => Command::Noop,
        Keyword::Rset => Command::Rset,
        Keyword::List => Command::List(optional_number(next()).ok_or(bad)?),
        Keyword::Uidl => Command::Uidl(optional_number(next()).ok_or(bad)?),
        Keyword::Retr => Command::Retr(next().and_then(number).ok_or(bad)?),
        Keyword::Dele => Command::Dele(next().and_then(number).ok_or(bad)?),
        Keyword::Top => {
            let msg = next().and_then(number).ok_or(bad)?;
            let lines = next().and_then(number).ok_or(bad)?;
            Command::Top { msg, lines }
        }
    };
    if next().is_some() {
        return Err(bad);
    }
    Ok(cmd)
}

/// An optional message number: absent is fine, present must be a number.
fn optional_number(arg: Option<&[u8]>) -> Option<Option<u64>> {
    match arg {
        None => Some(None),
        Some(arg) => number(arg).map(Some),
    }
}

fn text(arg: &[u8]) -> Option<String> {
    std::str::from_utf8(arg).ok().map(str::to_owned)
}

/// A decimal number without sign. Overflow saturates: a number that large names no message
/// and asks for more lines than any message has, so saturating gives the right answer
/// without an extra error kind.
fn number(arg: &[u8]) -> Option<u64> {
    if arg.is_empty() || !arg.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(arg.iter().fold(0u64, |n, &d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Command, ParseError> {
        parse(s.as_bytes())
    }

    #[test]
    fn keywords_are_case_insensitive() {
        assert_eq!(p("stat"), Ok(Command::Stat));
        assert_eq!(p("StAt"), Ok(Command::Stat));
        assert_eq!(p("top 1 2"), Ok(Command::Top { msg: 1, lines: 2 }));
        assert_eq!(p("capa"), Ok(Command::Capa));
    }

    #[test]
    fn unknown_commands() {
        assert_eq!(p(""), Err(ParseError::Unknown));
        assert_eq!(p("STATS"), Err(ParseError::Unknown));
        assert_eq!(p("ST"), Err(ParseError::Unknown));
        assert_eq!(p("LAST"), Err(ParseError::Unknown));
        assert_eq!(p(" STAT"), Err(ParseError::Unknown));
        assert_eq!(p("\u{e9}tat"), Err(ParseError::Unknown));
    }

    #[test]
    fn numbers() {
        assert_eq!(p("LIST"), Ok(Command::List(None)));
        assert_eq!(p("LIST 7"), Ok(Command::List(Some(7))));
        assert_eq!(p("LIST  7 "), Ok(Command::List(Some(7))));
        assert_eq!(p("LIST 007"), Ok(Command::List(Some(7))));
        assert_eq!(p("RETR 0"), Ok(Command::Retr(0)));
        assert_eq!(
            p("RETR 99999999999999999999999"),
            Ok(Command::Retr(u64::MAX))
        );
        let bad = |k| Err(ParseError::InvalidArgument(k));
        assert_eq!(p("LIST x"), bad(Keyword::List));
        assert_eq!(p("LIST -1"), bad(Keyword::List));
        assert_eq!(p("LIST +1"), bad(Keyword::List));
        assert_eq!(p("LIST 1 2"), bad(Keyword::List));
        assert_eq!(p("RETR"), bad(Keyword::Retr));
        assert_eq!(p("DELE 1x"), bad(Keyword::Dele));
        assert_eq!(p("TOP 1"), bad(Keyword::Top));
        assert_eq!(p("TOP 1 -2"), bad(Keyword::Top));
        assert_eq!(p("TOP 1 2 3"), bad(Keyword::Top));
        assert_eq!(p("STAT 1"), bad(Keyword::Stat));
        assert_eq!(p("QUIT now"), bad(Keyword::Quit));
    }

    #[test]
    fn authorization_commands() {
        assert_eq!(p("USER bob"), Ok(Command::User("bob".into())));
        assert_eq!(
            p("USER b\u{f6}b@example.org"),
            Ok(Command::User("b\u{f6}b@example.org".into()))
        );
        assert_eq!(p("USER"), Err(ParseError::InvalidArgument(Keyword::User)));
        assert_eq!(
            p("USER a b"),
            Err(ParseError::InvalidArgument(Keyword::User))
        );
        assert_eq!(
            p("PASS  two  spaces "),
            Ok(Command::Pass(" two  spaces ".into()))
        );
        assert_eq!(p("PASS x\ty"), Ok(Command::Pass("x\ty".into())));
        assert_eq!(p("PASS"), Err(ParseError::InvalidArgument(Keyword::Pass)));
        assert_eq!(
            p("APOP mrose C4C9334BAC560ECC979E58001B3E22FB"),
            Ok(Command::Apop {
                name: "mrose".into(),
                digest: "c4c9334bac560ecc979e58001b3e22fb".into()
            })
        );
        assert_eq!(
            p("APOP mrose c4c9"),
            Err(ParseError::InvalidArgument(Keyword::Apop))
        );
        assert_eq!(
            p("APOP mrose c4c9334bac560ecc979e58001b3e22fg"),
            Err(ParseError::InvalidArgument(Keyword::Apop))
        );
    }

    #[test]
    fn control_characters_and_bad_utf8() {
        assert_eq!(p("STAT\0"), Err(ParseError::BadCharacter));
        assert_eq!(p("PASS a\0b"), Err(ParseError::BadCharacter));
        assert_eq!(p("PASS a\rb"), Err(ParseError::BadCharacter));
        assert_eq!(p("USER a\x7f"), Err(ParseError::BadCharacter));
        assert_eq!(
            parse(b"USER \xff"),
            Err(ParseError::InvalidArgument(Keyword::User))
        );
        assert_eq!(
            parse(b"PASS \xc3"),
            Err(ParseError::InvalidArgument(Keyword::Pass))
        );
    }

    #[test]
    fn password_is_not_in_debug_output() {
        let dbg = format!("{:?}", p("PASS hunter2").unwrap());
        assert!(!dbg.contains("hunter2"), "{dbg}");
    }
}
