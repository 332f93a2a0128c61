//! Parsing one client line (without its line ending) into a [`Command`].
//!
//! Parsing is separate from state: the parser says what was asked, the session decides
//! whether it is allowed now. A parse error keeps the keyword when it was recognised so the
//! session can say "not valid in this state" rather than "invalid argument" for, say,
//! `RETR x` sent before login.

/// The command keywords this server knows (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS and
/// RFC 5034 AUTH).
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
    Stls,
    Auth,
    Utf8,
    Lang,
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
            b"STLS" => Keyword::Stls,
            b"AUTH" => Keyword::Auth,
            b"UTF8" => Keyword::Utf8,
            b"LANG" => Keyword::Lang,
            _ => return None,
        })
    }

    /// Whether the keyword belongs to the AUTHORIZATION state.
    pub(crate) fn valid_in_authorization(self) -> bool {
        matches!(
            self,
            Keyword::User
                | Keyword::Pass
                | Keyword::Apop
                | Keyword::Quit
                | Keyword::Capa
                | Keyword::Stls
                | Keyword::Auth
                | Keyword::Utf8
                | Keyword::Lang
        )
    }

    /// Whether the keyword belongs to the TRANSACTION state.
    pub(crate) fn valid_in_transaction(self) -> bool {
        !matches!(
            self,
            Keyword::User
                | Keyword::Pass
                | Keyword::Apop
                | Keyword::Stls
                | Keyword::Auth
                | Keyword::Utf8
        )
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
    Apop {
        name: String,
        digest: String,
    },
    Quit,
    Capa,
    Stat,
    List(Option<u64>),
    Retr(u64),
    Dele(u64),
    Noop,
    Rset,
    Top {
        msg: u64,
        lines: u64,
    },
    Uidl(Option<u64>),
    Stls,
    /// `AUTH mechanism [initial-response]`: the mechanism upper-cased, the initial
    /// response as sent (`=` for an empty one).
    Auth {
        mechanism: String,
        initial_response: Option<String>,
    },
    /// `UTF8` (RFC 6856 section 2).
    Utf8,
    /// `LANG [language-range]` (RFC 6856 section 3).
    Lang(Option<String>),
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
            Command::Stls => f.write_str("Stls"),
            Command::Utf8 => f.write_str("Utf8"),
            Command::Lang(r) => f.debug_tuple("Lang").field(r).finish(),
            // The initial response may hold a password (PLAIN).
            Command::Auth {
                mechanism,
                initial_response,
            } => f
                .debug_struct("Auth")
                .field("mechanism", mechanism)
                .field(
                    "initial_response",
                    &initial_response.as_ref().map(|_| "<redacted>"),
                )
                .finish(),
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
        Keyword::Stls => Command::Stls,
        Keyword::Utf8 => Command::Utf8,
        Keyword::Lang => Command::Lang(match next() {
            None => None,
            Some(r) if language_range(r) => Some(String::from_utf8_lossy(r).into_owned()),
            Some(_) => return Err(bad),
        }),
        // RFC 5034 section 4 defines AUTH only with a mechanism: a bare AUTH (an RFC 1734
        // draft habit, answered by some servers with a list) is a syntax error here, and
        // CAPA's SASL line is the way to learn the mechanisms.
        Keyword::Auth => {
            let mechanism = next().filter(|m| mechanism_name(m)).ok_or(bad)?;
            let mechanism = String::from_utf8_lossy(mechanism).to_ascii_uppercase();
            let initial_response = match next() {
                None => None,
                Some(r) if initial_response(r) => Some(String::from_utf8_lossy(r).into_owned()),
                Some(_) => return Err(bad),
            };
            Command::Auth {
                mechanism,
                initial_response,
            }
        }
    };
    if next().is_some() {
        return Err(bad);
    }
    Ok(cmd)
}

/// A language range (RFC 4647 section 2.1): `*`, or 1 to 8 letters followed by
/// `-` and 1 to 8 letters or digits, as often as wanted.
fn language_range(arg: &[u8]) -> bool {
    if arg == b"*" {
        return true;
    }
    let mut subtags = arg.split(|&b| b == b'-');
    let first_ok = subtags
        .next()
        .is_some_and(|s| (1..=8).contains(&s.len()) && s.iter().all(u8::is_ascii_alphabetic));
    first_ok
        && subtags.all(|s| (1..=8).contains(&s.len()) && s.iter().all(u8::is_ascii_alphanumeric))
}

/// An optional message number: absent is fine, present must be a number.
fn optional_number(arg: Option<&[u8]>) -> Option<Option<u64>> {
    match arg {
        None => Some(None),
        Some(arg) => number(arg).map(Some),
    }
}

/// A SASL mechanism name (RFC 4422 section 3.1): 1 to 20 of `A-Z 0-9 - _`, accepted in
/// either case.
fn mechanism_name(arg: &[u8]) -> bool {
    (1..=20).contains(&arg.len())
        && arg
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An initial response as RFC 5034 section 4 allows it: base64 (RFC 4648 section 4) or a
/// single `=` for an empty response. Only the alphabet is checked; decoding is the SASL
/// mechanism's job.
fn initial_response(arg: &[u8]) -> bool {
    arg.iter()
        .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
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
    fn stls_and_auth() {
        assert_eq!(p("stls"), Ok(Command::Stls));
        assert_eq!(p("STLS x"), Err(ParseError::InvalidArgument(Keyword::Stls)));
        let auth = |m: &str, r: Option<&str>| {
            Ok(Command::Auth {
                mechanism: m.into(),
                initial_response: r.map(Into::into),
            })
        };
        assert_eq!(p("AUTH plain"), auth("PLAIN", None));
        assert_eq!(
            p("auth PLAIN AGFsaWNlAHNlY3JldA=="),
            auth("PLAIN", Some("AGFsaWNlAHNlY3JldA=="))
        );
        assert_eq!(p("AUTH PLAIN ="), auth("PLAIN", Some("=")));
        assert_eq!(p("AUTH scram-sha-256"), auth("SCRAM-SHA-256", None));
        assert_eq!(p("AUTH X_Y-1"), auth("X_Y-1", None));
        let bad = Err(ParseError::InvalidArgument(Keyword::Auth));
        assert_eq!(p("AUTH"), bad);
        assert_eq!(p("AUTH PLAIN a b"), bad);
        assert_eq!(p("AUTH PL.AIN"), bad);
        assert_eq!(p("AUTH ABCDEFGHIJKLMNOPQRSTU"), bad); // 21 characters
        assert_eq!(p("AUTH PLAIN a*b"), bad);
        assert_eq!(parse(b"AUTH PL\xc3\xa9"), bad);
    }

    #[test]
    fn utf8_and_lang() {
        assert_eq!(p("utf8"), Ok(Command::Utf8));
        assert_eq!(p("UTF8 x"), Err(ParseError::InvalidArgument(Keyword::Utf8)));
        assert_eq!(p("LANG"), Ok(Command::Lang(None)));
        assert_eq!(p("lang th"), Ok(Command::Lang(Some("th".into()))));
        assert_eq!(p("LANG *"), Ok(Command::Lang(Some("*".into()))));
        assert_eq!(
            p("LANG zh-Hans-CN"),
            Ok(Command::Lang(Some("zh-Hans-CN".into())))
        );
        let bad = Err(ParseError::InvalidArgument(Keyword::Lang));
        assert_eq!(p("LANG th en"), bad);
        assert_eq!(p("LANG -th"), bad);
        assert_eq!(p("LANG th-"), bad);
        assert_eq!(p("LANG abcdefghi"), bad);
        assert_eq!(p("LANG 1a"), bad);
        assert_eq!(parse("LANG ไทย".as_bytes()), bad);
    }

    #[test]
    fn initial_response_is_not_in_debug_output() {
        let dbg = format!("{:?}", p("AUTH PLAIN AGFsaWNlAHNlY3JldA==").unwrap());
        assert!(!dbg.contains("AGFsaWNl"), "{dbg}");
        assert!(dbg.contains("PLAIN"), "{dbg}");
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
