//! Command line parser (RFC 5321 4.1.1). Pure syntax: whether a command is allowed
//! now, and what its parameters mean, is decided by the session.

use crate::path::{ForwardPath, PathError, ReversePath, parse_forward_path, parse_reverse_path};

/// A syntactically valid command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `EHLO <domain or address literal>` (the argument is kept as sent).
    Ehlo(String),
    /// `HELO <domain>`.
    Helo(String),
    /// `MAIL FROM:<path> [params]`.
    Mail {
        /// The reverse path.
        from: ReversePath,
        /// ESMTP parameters in the order sent.
        params: Vec<Param>,
    },
    /// `RCPT TO:<path> [params]`.
    Rcpt {
        /// The forward path.
        to: ForwardPath,
        /// ESMTP parameters in the order sent.
        params: Vec<Param>,
    },
    /// `DATA`.
    Data,
    /// `RSET`.
    Rset,
    /// `NOOP [string]`.
    Noop,
    /// `QUIT`.
    Quit,
    /// `HELP [string]`.
    Help,
    /// `VRFY <string>`.
    Vrfy(String),
    /// `EXPN <string>`.
    Expn(String),
    /// `STARTTLS` (RFC 3207).
    StartTls,
    /// `AUTH mechanism [initial-response]` (RFC 4954).
    Auth {
        /// The SASL mechanism name, upper-cased.
        mechanism: String,
        /// The initial response as sent: base64 or `=` (not decoded here).
        initial_response: Option<String>,
    },
    /// `BDAT chunk-size [LAST]` (RFC 3030): exactly `size` octets of message
    /// follow the command line.
    Bdat {
        /// The octets that follow.
        size: u64,
        /// This chunk ends the message.
        last: bool,
    },
    /// A command we know of but do not implement (ETRN, TURN, …); the upper-cased
    /// verb.
    NotImplemented(&'static str),
    /// An HTTP request line (`GET / HTTP/1.1`…): someone pointed a web client or a
    /// cross-protocol attack at us.
    Http,
}

/// An ESMTP parameter `keyword[=value]` (RFC 5321 4.1.2 esmtp-param).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    /// The keyword, upper-cased (keywords are case-insensitive).
    pub keyword: String,
    /// The value as sent, if any.
    pub value: Option<String>,
}

/// Why a command line was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// Not a command we know (500 5.5.2).
    #[error("command unrecognized")]
    Unrecognized,
    /// Control characters (NUL, a bare CR, TAB…) or invalid UTF-8 in the line (500 5.5.2).
    #[error("invalid characters in command")]
    InvalidCharacters,
    /// A known verb with malformed arguments; the usage text to reply (501 5.5.4).
    #[error("{0}")]
    Syntax(&'static str),
    /// The path inside `<>` is malformed (501 5.1.3).
    #[error("bad address syntax: {0}")]
    Address(PathError),
    /// A malformed ESMTP parameter (501 5.5.4).
    #[error("bad parameter syntax")]
    BadParameter,
    /// A malformed BDAT command (501 5.5.4) with the size it announced, if that
    /// could be read: those octets follow it and are not commands. When it could
    /// not, nothing after the line can be told apart from the chunk.
    #[error("Syntax: BDAT size [LAST]")]
    Bdat(Option<u64>),
}

/// Verbs that we recognise but do not implement yet; answered 502 and not advertised.
const NOT_IMPLEMENTED: &[&str] = &["ETRN", "TURN", "ATRN", "SEND", "SOML", "SAML"];

/// Request methods that identify an HTTP client speaking to an SMTP port.
const HTTP_METHODS: &[&str] = &[
    "GET", "POST", "HEAD", "PUT", "CONNECT", "OPTIONS", "DELETE", "PATCH",
];

/// Parse one command line, given without its line terminator.
pub fn parse_command(line: &[u8]) -> Result<Command, CommandError> {
    // Controls are never legal in a command; a CR here is a bare CR (the terminator
    // has been removed), which could be used to make us and another parser disagree
    // about where a line ends.
    if line.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return Err(CommandError::InvalidCharacters);
    }
    let text = std::str::from_utf8(line).map_err(|_| CommandError::InvalidCharacters)?;
    if text.chars().any(char::is_control) {
        return Err(CommandError::InvalidCharacters);
    }
    // Trailing spaces are common from hand-typed sessions and some clients.
    let text = text.trim_end_matches(' ');
    let (verb, rest) = text.split_once(' ').unwrap_or((text, ""));
    if verb.is_empty() || !verb.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(CommandError::Unrecognized);
    }
    let verb = verb.to_ascii_uppercase();
    match verb.as_str() {
        "EHLO" => hello_arg(rest, "Syntax: EHLO hostname").map(Command::Ehlo),
        "HELO" => hello_arg(rest, "Syntax: HELO hostname").map(Command::Helo),
        "MAIL" => {
            let arg = strip_prefix_ci(rest, "FROM:").ok_or(MAIL_USAGE)?;
            let (from, tail) = parse_reverse_path(arg.trim_start_matches(' '))
                .map_err(|e| path_error(e, MAIL_USAGE))?;
            Ok(Command::Mail {
                from,
                params: parse_params(tail, MAIL_USAGE)?,
            })
        }
        "RCPT" => {
            let arg = strip_prefix_ci(rest, "TO:").ok_or(RCPT_USAGE)?;
            let (to, tail) = parse_forward_path(arg.trim_start_matches(' '))
                .map_err(|e| path_error(e, RCPT_USAGE))?;
            Ok(Command::Rcpt {
                to,
                params: parse_params(tail, RCPT_USAGE)?,
            })
        }
        "DATA" => no_arg(rest, Command::Data, "Syntax: DATA"),
        "RSET" => no_arg(rest, Command::Rset, "Syntax: RSET"),
        "QUIT" => no_arg(rest, Command::Quit, "Syntax: QUIT"),
        "STARTTLS" => no_arg(rest, Command::StartTls, "Syntax: STARTTLS"),
        "AUTH" => auth_args(rest),
        "BDAT" => bdat_args(rest),
        "NOOP" => Ok(Command::Noop),
        "HELP" => Ok(Command::Help),
        "VRFY" => some_arg(rest, "Syntax: VRFY address").map(Command::Vrfy),
        "EXPN" => some_arg(rest, "Syntax: EXPN list").map(Command::Expn),
        v if !rest.is_empty() && HTTP_METHODS.contains(&v) => Ok(Command::Http),
        v => match NOT_IMPLEMENTED.iter().find(|&&n| n == v) {
            Some(n) => Ok(Command::NotImplemented(n)),
            None => Err(CommandError::Unrecognized),
        },
    }
}

/// `BDAT chunk-size [LAST]`, chunk-size = 1*DIGIT (RFC 3030 section 2). `LAST` is
/// case-insensitive like every keyword. Anything else after a readable size is
/// still a syntax error, but one whose chunk can be skipped.
fn bdat_args(rest: &str) -> Result<Command, CommandError> {
    let mut words = rest.split(' ').filter(|w| !w.is_empty());
    let size = words
        .next()
        .filter(|w| w.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|w| w.parse::<u64>().ok())
        .ok_or(CommandError::Bdat(None))?;
    let last = match words.next() {
        None => false,
        Some(w) if w.eq_ignore_ascii_case("LAST") => true,
        Some(_) => return Err(CommandError::Bdat(Some(size))),
    };
    if words.next().is_some() {
        return Err(CommandError::Bdat(Some(size)));
    }
    Ok(Command::Bdat { size, last })
}

const AUTH_USAGE: CommandError = CommandError::Syntax("Syntax: AUTH mechanism [initial-response]");

/// `AUTH mechanism [initial-response]`. The mechanism must be a SASL mechanism
/// name (RFC 4422 3.1: 1-20 of A-Z, 0-9, `-`, `_`; compared case-insensitively).
/// The initial response is passed on as sent: the mechanism decodes it and the
/// server answers 501 5.5.2 if it is not base64 (RFC 4954 section 4).
fn auth_args(rest: &str) -> Result<Command, CommandError> {
    let mut words = rest.split(' ').filter(|w| !w.is_empty());
    let mechanism = words.next().ok_or(AUTH_USAGE)?;
    let initial_response = words.next().map(str::to_owned);
    if words.next().is_some() || !is_sasl_name(mechanism) {
        return Err(AUTH_USAGE);
    }
    Ok(Command::Auth {
        mechanism: mechanism.to_ascii_uppercase(),
        initial_response,
    })
}

/// A syntactically valid SASL mechanism name (RFC 4422 3.1), in either case.
pub(crate) fn is_sasl_name(name: &str) -> bool {
    (1..=20).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

const MAIL_USAGE: CommandError = CommandError::Syntax("Syntax: MAIL FROM:<address>");
const RCPT_USAGE: CommandError = CommandError::Syntax("Syntax: RCPT TO:<address>");

/// A missing `<` is a command syntax error (501 5.5.4); anything wrong inside the
/// brackets is an address error (501 5.1.3).
fn path_error(e: PathError, usage: CommandError) -> CommandError {
    match e {
        PathError::NotBracketed => usage,
        e => CommandError::Address(e),
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// The single word argument of EHLO/HELO.
///
/// It is not checked against the Domain grammar: many real clients announce
/// NetBIOS names with underscores or bare words, and refusing them gains nothing.
/// HELO policy belongs to the server; the name cannot carry spaces or controls.
fn hello_arg(rest: &str, usage: &'static str) -> Result<String, CommandError> {
    let arg = rest.trim_start_matches(' ');
    if arg.is_empty() || arg.contains(' ') {
        return Err(CommandError::Syntax(usage));
    }
    Ok(arg.to_owned())
}

fn no_arg(rest: &str, cmd: Command, usage: &'static str) -> Result<Command, CommandError> {
    if rest.trim_start_matches(' ').is_empty() {
        Ok(cmd)
    } else {
        Err(CommandError::Syntax(usage))
    }
}

fn some_arg(rest: &str, usage: &'static str) -> Result<String, CommandError> {
    let arg = rest.trim_start_matches(' ');
    if arg.is_empty() {
        Err(CommandError::Syntax(usage))
    } else {
        Ok(arg.to_owned())
    }
}

/// `*( SP esmtp-param )` after the path. Runs of spaces are tolerated.
fn parse_params(tail: &str, usage: CommandError) -> Result<Vec<Param>, CommandError> {
    if tail.is_empty() {
        return Ok(Vec::new());
    }
    if !tail.starts_with(' ') {
        return Err(usage); // e.g. "<a@b>junk"
    }
    tail.split(' ')
        .filter(|p| !p.is_empty())
        .map(parse_param)
        .collect()
}

/// `esmtp-keyword ["=" esmtp-value]`: keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"),
/// value = 1*(%d33-60 / %d62-126 / UTF-8 non-ASCII, RFC 6531).
fn parse_param(p: &str) -> Result<Param, CommandError> {
    let (keyword, value) = match p.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (p, None),
    };
    let kw_ok = keyword
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && keyword
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let value_ok = value.is_none_or(|v| {
        !v.is_empty()
            && v.chars()
                .all(|c| !c.is_ascii() || matches!(c, '!'..='<' | '>'..='~'))
    });
    if !kw_ok || !value_ok {
        return Err(CommandError::BadParameter);
    }
    Ok(Param {
        keyword: keyword.to_ascii_uppercase(),
        value: value.map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::{DomainPart, Mailbox};

    fn parse(s: &str) -> Result<Command, CommandError> {
        parse_command(s.as_bytes())
    }

    fn mailbox(local: &str, domain: &str) -> Mailbox {
        Mailbox {
            local: local.into(),
            quoted: false,
            domain: DomainPart::Name(domain.into()),
        }
    }

    fn param(k: &str, v: Option<&str>) -> Param {
        Param {
            keyword: k.into(),
            value: v.map(Into::into),
        }
    }

    #[test]
    fn hello() {
        assert_eq!(
            parse("EHLO client.example"),
            Ok(Command::Ehlo("client.example".into()))
        );
        assert_eq!(
            parse("ehlo [192.0.2.1]"),
            Ok(Command::Ehlo("[192.0.2.1]".into()))
        );
        assert_eq!(parse("HeLo my_pc"), Ok(Command::Helo("my_pc".into())));
        assert_eq!(parse("HELO x  "), Ok(Command::Helo("x".into())));
        assert_eq!(
            parse("EHLO"),
            Err(CommandError::Syntax("Syntax: EHLO hostname"))
        );
        assert_eq!(
            parse("HELO "),
            Err(CommandError::Syntax("Syntax: HELO hostname"))
        );
        assert_eq!(
            parse("EHLO a b"),
            Err(CommandError::Syntax("Syntax: EHLO hostname"))
        );
    }

    #[test]
    fn mail() {
        assert_eq!(
            parse("MAIL FROM:<a@b.c>"),
            Ok(Command::Mail {
                from: ReversePath::Mailbox(mailbox("a", "b.c")),
                params: vec![]
            })
        );
        assert_eq!(
            parse("mail from:<>"),
            Ok(Command::Mail {
                from: ReversePath::Null,
                params: vec![]
            })
        );
        // Tolerated: a space after the colon.
        assert_eq!(
            parse("MAIL FROM: <a@b.c> size=10  BODY=8BITMIME SMTPUTF8 X-Y-1=a+b"),
            Ok(Command::Mail {
                from: ReversePath::Mailbox(mailbox("a", "b.c")),
                params: vec![
                    param("SIZE", Some("10")),
                    param("BODY", Some("8BITMIME")),
                    param("SMTPUTF8", None),
                    param("X-Y-1", Some("a+b")),
                ]
            })
        );
        assert_eq!(parse("MAIL FROM:a@b.c"), Err(MAIL_USAGE));
        assert_eq!(parse("MAIL FROM:"), Err(MAIL_USAGE));
        assert_eq!(parse("MAIL"), Err(MAIL_USAGE));
        assert_eq!(parse("MAIL TO:<a@b.c>"), Err(MAIL_USAGE));
        assert_eq!(parse("MAIL FROM :<a@b.c>"), Err(MAIL_USAGE));
        assert_eq!(parse("MAIL FROM:<a@b.c>junk"), Err(MAIL_USAGE));
        assert_eq!(
            parse("MAIL FROM:<a@b.c.>"),
            Err(CommandError::Address(PathError::BadDomain))
        );
        assert_eq!(
            parse("MAIL FROM:<a@b.c> =x"),
            Err(CommandError::BadParameter)
        );
        assert_eq!(
            parse("MAIL FROM:<a@b.c> SIZE="),
            Err(CommandError::BadParameter)
        );
        assert_eq!(
            parse("MAIL FROM:<a@b.c> SIZE=1=2"),
            Err(CommandError::BadParameter)
        );
        assert_eq!(
            parse("MAIL FROM:<a@b.c> -X"),
            Err(CommandError::BadParameter)
        );
        assert_eq!(
            parse("MAIL FROM:<a@b.c> X_Y"),
            Err(CommandError::BadParameter)
        );
    }

    #[test]
    fn rcpt() {
        assert_eq!(
            parse("RCPT TO:<a@b.c>"),
            Ok(Command::Rcpt {
                to: ForwardPath::Mailbox {
                    mailbox: mailbox("a", "b.c"),
                    source_route: false
                },
                params: vec![]
            })
        );
        assert_eq!(
            parse("rcpt to: <POSTMASTER> NOTIFY=NEVER"),
            Ok(Command::Rcpt {
                to: ForwardPath::Postmaster,
                params: vec![param("NOTIFY", Some("NEVER"))]
            })
        );
        assert_eq!(
            parse("RCPT TO:<@r.example:a@b.c>"),
            Ok(Command::Rcpt {
                to: ForwardPath::Mailbox {
                    mailbox: mailbox("a", "b.c"),
                    source_route: true
                },
                params: vec![]
            })
        );
        assert_eq!(
            parse("RCPT TO:<>"),
            Err(CommandError::Address(PathError::Empty))
        );
        assert_eq!(parse("RCPT TO:a@b.c"), Err(RCPT_USAGE));
        assert_eq!(parse("RCPT FROM:<a@b.c>"), Err(RCPT_USAGE));
        assert_eq!(parse("RCPT"), Err(RCPT_USAGE));
    }

    #[test]
    fn simple_commands() {
        assert_eq!(parse("DATA"), Ok(Command::Data));
        assert_eq!(parse("data "), Ok(Command::Data));
        assert_eq!(parse("DATA x"), Err(CommandError::Syntax("Syntax: DATA")));
        assert_eq!(parse("Rset"), Ok(Command::Rset));
        assert_eq!(parse("RSET x"), Err(CommandError::Syntax("Syntax: RSET")));
        assert_eq!(parse("quit"), Ok(Command::Quit));
        assert_eq!(parse("QUIT now"), Err(CommandError::Syntax("Syntax: QUIT")));
        assert_eq!(parse("NOOP"), Ok(Command::Noop));
        assert_eq!(parse("noop anything at all"), Ok(Command::Noop));
        assert_eq!(parse("HELP"), Ok(Command::Help));
        assert_eq!(parse("help mail"), Ok(Command::Help));
        assert_eq!(parse("VRFY root"), Ok(Command::Vrfy("root".into())));
        assert_eq!(
            parse("VRFY"),
            Err(CommandError::Syntax("Syntax: VRFY address"))
        );
        assert_eq!(parse("expn staff"), Ok(Command::Expn("staff".into())));
        assert_eq!(
            parse("EXPN"),
            Err(CommandError::Syntax("Syntax: EXPN list"))
        );
    }

    #[test]
    fn starttls_and_auth() {
        assert_eq!(parse("STARTTLS"), Ok(Command::StartTls));
        assert_eq!(parse("starttls  "), Ok(Command::StartTls));
        assert_eq!(
            parse("STARTTLS now"),
            Err(CommandError::Syntax("Syntax: STARTTLS"))
        );
        assert_eq!(
            parse("auth plain dGVzdAB0ZXN0ADEyMzQ="),
            Ok(Command::Auth {
                mechanism: "PLAIN".into(),
                initial_response: Some("dGVzdAB0ZXN0ADEyMzQ=".into())
            })
        );
        assert_eq!(
            parse("AUTH SCRAM-SHA-256"),
            Ok(Command::Auth {
                mechanism: "SCRAM-SHA-256".into(),
                initial_response: None
            })
        );
        assert_eq!(
            parse("AUTH EXTERNAL ="),
            Ok(Command::Auth {
                mechanism: "EXTERNAL".into(),
                initial_response: Some("=".into())
            })
        );
        for bad in [
            "AUTH",
            "AUTH ",
            "AUTH PLAIN a b",
            "AUTH PL@IN",
            "AUTH ABCDEFGHIJKLMNOPQRSTU",
        ] {
            assert_eq!(parse(bad), Err(AUTH_USAGE), "{bad:?}");
        }
    }

    #[test]
    fn not_implemented_and_unknown() {
        assert_eq!(parse("ETRN x"), Ok(Command::NotImplemented("ETRN")));
        assert_eq!(parse("FOO"), Err(CommandError::Unrecognized));
        assert_eq!(parse(""), Err(CommandError::Unrecognized));
        assert_eq!(parse(" EHLO x"), Err(CommandError::Unrecognized));
        assert_eq!(parse("MAIL:FROM"), Err(CommandError::Unrecognized));
        assert_eq!(parse("EHLO1 x"), Err(CommandError::Unrecognized));
    }

    #[test]
    fn bdat() {
        let bdat = |size, last| Ok(Command::Bdat { size, last });
        assert_eq!(parse("BDAT 10 LAST"), bdat(10, true));
        assert_eq!(parse("bdat 0 last"), bdat(0, true));
        assert_eq!(parse("BDAT 65536"), bdat(65536, false));
        assert_eq!(parse("BDAT  007  LAST "), bdat(7, true));
        assert_eq!(parse("BDAT 18446744073709551615"), bdat(u64::MAX, false));
        for unreadable in [
            "BDAT",
            "BDAT LAST",
            "BDAT +5",
            "BDAT -5",
            "BDAT 5x",
            "BDAT 0x10",
            "BDAT 18446744073709551616",
        ] {
            assert_eq!(
                parse(unreadable),
                Err(CommandError::Bdat(None)),
                "{unreadable}"
            );
        }
        assert_eq!(parse("BDAT 5 FIRST"), Err(CommandError::Bdat(Some(5))));
        assert_eq!(parse("BDAT 5 LAST x"), Err(CommandError::Bdat(Some(5))));
        assert_eq!(parse("BDAT 5\0"), Err(CommandError::InvalidCharacters));
    }

    #[test]
    fn http() {
        assert_eq!(parse("GET / HTTP/1.1"), Ok(Command::Http));
        assert_eq!(parse("POST /x HTTP/1.0"), Ok(Command::Http));
        assert_eq!(parse("CONNECT mx:25 HTTP/1.1"), Ok(Command::Http));
        assert_eq!(parse("GET"), Err(CommandError::Unrecognized));
    }

    #[test]
    fn invalid_characters() {
        for bad in [
            &b"NOOP\0"[..],
            b"NO\rOP",
            b"EHLO a\rb",
            b"EHLO\tx",
            b"NOOP \x7f",
            b"EHLO \xff",
            b"EHLO \xc3",
            "EHLO a\u{85}".as_bytes(),
        ] {
            assert_eq!(
                parse_command(bad),
                Err(CommandError::InvalidCharacters),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn utf8_in_commands() {
        assert_eq!(
            parse("RCPT TO:<ü@ä.de> X=ö"),
            Ok(Command::Rcpt {
                to: ForwardPath::Mailbox {
                    mailbox: mailbox("ü", "ä.de"),
                    source_route: false
                },
                params: vec![param("X", Some("ö"))]
            })
        );
    }

    #[test]
    fn random_lines_never_panic() {
        let mut rng = crate::test_rng::XorShift::new(42);
        let alphabet: &[&[u8]] = &[
            b"MAIL FROM:",
            b"RCPT TO:",
            b"EHLO ",
            b"<",
            b">",
            b"@",
            b"\"",
            b"\\",
            b".",
            b",",
            b":",
            b"[",
            b"]",
            b"IPv6:",
            b" ",
            b"=",
            b"a",
            b"\xc3\xa9",
            b"\xc3",
            b"\xe2\x80\xa8",
            b"\xf0\x9f\x98\x80",
            b"postmaster",
            b"SIZE=",
            b"1",
            b"-",
        ];
        for _ in 0..20_000 {
            let mut line = Vec::new();
            for _ in 0..rng.below(12) {
                line.extend_from_slice(alphabet[rng.below(alphabet.len())]);
            }
            let _ = parse_command(&line);
            if let Ok(s) = std::str::from_utf8(&line) {
                let _ = parse_forward_path(s);
                let _ = parse_reverse_path(s);
                let _ = crate::path::parse_mailbox(s);
            }
        }
    }
}
