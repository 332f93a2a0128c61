//! Reverse- and forward-path syntax (RFC 5321 4.1.2, extended for UTF-8 by RFC 6531 3.3).
//!
//! The parser keeps what policy needs to see: whether the local part was quoted,
//! whether a source route was present, and `<Postmaster>` as its own case. It does
//! not normalise anything (case, IDN); that is the job of the address crate.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Longest local part in octets as written (RFC 5321 4.5.3.1.1).
pub const MAX_LOCAL_PART: usize = 64;
/// Longest domain in octets (RFC 5321 4.5.3.1.2).
pub const MAX_DOMAIN: usize = 255;
/// Longest path in octets including the angle brackets (RFC 5321 4.5.3.1.3).
pub const MAX_PATH: usize = 256;

/// An RFC 5321 mailbox as the client wrote it, after syntax checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mailbox {
    /// The local part with quoting removed (quoted pairs resolved).
    pub local: String,
    /// The local part was written as a Quoted-string.
    pub quoted: bool,
    /// The domain or address literal.
    pub domain: DomainPart,
}

/// The part of a mailbox after the `@`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DomainPart {
    /// A domain name exactly as written (case kept, U-labels kept, never a trailing dot).
    Name(String),
    /// The text inside `[` `]` of an address literal, e.g. `192.0.2.1` or `IPv6:2001:db8::1`.
    Literal(String),
}

/// The argument of MAIL FROM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReversePath {
    /// `<>`: bounces and other messages that must not cause further bounces.
    Null,
    /// A sender mailbox. A source route, if the client sent one, has been dropped as
    /// RFC 5321 4.1.1.2 and appendix C allow.
    Mailbox(Mailbox),
}

/// The argument of RCPT TO.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ForwardPath {
    /// `<Postmaster>` without a domain (any case), which every server must accept
    /// (RFC 5321 4.5.1).
    Postmaster,
    /// A recipient mailbox.
    Mailbox {
        /// The mailbox after the route, if any.
        mailbox: Mailbox,
        /// The client wrote a source route (`<@relay:user@domain>`). The route itself is
        /// not kept; relay policy only needs to know that one was asked for.
        source_route: bool,
    },
}

/// Why a path was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path does not start with `<`.
    #[error("path must be enclosed in angle brackets")]
    NotBracketed,
    /// The input ended before the closing `>`.
    #[error("missing closing angle bracket")]
    Unterminated,
    /// `<>` where a mailbox is required.
    #[error("empty path not allowed here")]
    Empty,
    /// The `@domain,@domain:` prefix is malformed.
    #[error("bad source route")]
    BadSourceRoute,
    /// The local part is neither a Dot-string nor a Quoted-string.
    #[error("bad local part")]
    BadLocalPart,
    /// The local part is longer than 64 octets.
    #[error("local part longer than 64 octets")]
    LocalPartTooLong,
    /// No `@domain` follows the local part.
    #[error("missing domain")]
    MissingDomain,
    /// The domain is malformed (empty label, trailing dot, bad character…).
    #[error("bad domain")]
    BadDomain,
    /// The domain is longer than 255 octets.
    #[error("domain longer than 255 octets")]
    DomainTooLong,
    /// The address literal is neither IPv4 nor `IPv6:` followed by an IPv6 address.
    #[error("bad address literal")]
    BadAddressLiteral,
    /// The path is longer than 256 octets.
    #[error("path longer than 256 octets")]
    PathTooLong,
    /// Characters follow a mailbox that should stand alone.
    #[error("unexpected characters after the mailbox")]
    TrailingCharacters,
}

impl Mailbox {
    /// True when neither the local part nor the domain contains non-ASCII characters,
    /// i.e. the address can be used without SMTPUTF8.
    pub fn is_ascii(&self) -> bool {
        self.local.is_ascii() && self.domain.as_str().is_ascii()
    }
}

impl DomainPart {
    /// The domain name, or the text inside the brackets of a literal.
    pub fn as_str(&self) -> &str {
        match self {
            DomainPart::Name(s) | DomainPart::Literal(s) => s,
        }
    }
}

impl fmt::Display for DomainPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DomainPart::Name(n) => f.write_str(n),
            DomainPart::Literal(l) => write!(f, "[{l}]"),
        }
    }
}

impl fmt::Display for Mailbox {
    /// `local@domain`, quoting the local part only when it is not a valid Dot-string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if is_dot_string(&self.local) {
            f.write_str(&self.local)?;
        } else {
            f.write_str("\"")?;
            for c in self.local.chars() {
                if c == '"' || c == '\\' {
                    f.write_str("\\")?;
                }
                write!(f, "{c}")?;
            }
            f.write_str("\"")?;
        }
        write!(f, "@{}", self.domain)
    }
}

impl ReversePath {
    /// The sender mailbox, or `None` for the null path.
    pub fn mailbox(&self) -> Option<&Mailbox> {
        match self {
            ReversePath::Null => None,
            ReversePath::Mailbox(m) => Some(m),
        }
    }
}

impl ForwardPath {
    /// The recipient mailbox, or `None` for `<Postmaster>`.
    pub fn mailbox(&self) -> Option<&Mailbox> {
        match self {
            ForwardPath::Postmaster => None,
            ForwardPath::Mailbox { mailbox, .. } => Some(mailbox),
        }
    }
}

/// Parse a MAIL FROM path at the start of `input`; returns the path and the rest of
/// the input after the closing `>`.
pub fn parse_reverse_path(input: &str) -> Result<(ReversePath, &str), PathError> {
    let (raw, end) = parse_path(input)?;
    let path = match raw {
        RawPath::Null => ReversePath::Null,
        // Only a domain-less "<Postmaster>" lands here; a sender needs a domain.
        RawPath::Postmaster => return Err(PathError::MissingDomain),
        RawPath::Mailbox { mailbox, .. } => ReversePath::Mailbox(mailbox),
    };
    Ok((path, &input[end..]))
}

/// Parse a RCPT TO path at the start of `input`; returns the path and the rest of the
/// input after the closing `>`.
pub fn parse_forward_path(input: &str) -> Result<(ForwardPath, &str), PathError> {
    let (raw, end) = parse_path(input)?;
    let path = match raw {
        RawPath::Null => return Err(PathError::Empty),
        RawPath::Postmaster => ForwardPath::Postmaster,
        RawPath::Mailbox {
            mailbox,
            source_route,
        } => ForwardPath::Mailbox {
            mailbox,
            source_route,
        },
    };
    Ok((path, &input[end..]))
}

/// Parse a bare mailbox `local@domain` (no brackets) that makes up all of `input`.
pub fn parse_mailbox(input: &str) -> Result<Mailbox, PathError> {
    let mut p = Parser { s: input, pos: 0 };
    let mailbox = p.mailbox()?.ok_or(PathError::MissingDomain)?;
    if p.pos != input.len() {
        return Err(PathError::TrailingCharacters);
    }
    Ok(mailbox)
}

/// A path before the MAIL/RCPT specific rules are applied.
enum RawPath {
    Null,
    Postmaster,
    Mailbox {
        mailbox: Mailbox,
        source_route: bool,
    },
}

/// Parse `<...>` at the start of `input`; returns the path and the index after `>`.
fn parse_path(input: &str) -> Result<(RawPath, usize), PathError> {
    let mut p = Parser { s: input, pos: 0 };
    if !p.eat(b'<') {
        return Err(PathError::NotBracketed);
    }
    if p.eat(b'>') {
        return Ok((RawPath::Null, p.pos));
    }
    let source_route = p.peek() == Some(b'@');
    if source_route {
        p.source_route()?;
    }
    let raw = match p.mailbox()? {
        Some(mailbox) => RawPath::Mailbox {
            mailbox,
            source_route,
        },
        None if !source_route => RawPath::Postmaster,
        None => return Err(PathError::MissingDomain),
    };
    match p.peek() {
        Some(b'>') => p.pos += 1,
        None => return Err(PathError::Unterminated),
        // Something that is neither part of the domain nor the closing bracket.
        Some(_) => return Err(PathError::BadDomain),
    }
    if p.pos > MAX_PATH {
        return Err(PathError::PathTooLong);
    }
    Ok((raw, p.pos))
}

/// A cursor over the input. `pos` always sits on a char boundary because it only
/// advances over whole ASCII bytes or whole chars.
struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// The char at the cursor (for non-ASCII input).
    fn peek_char(&self) -> Option<char> {
        self.s.get(self.pos..).and_then(|r| r.chars().next())
    }

    /// `@domain *( "," @domain ) ":"`; the route domains are checked and dropped.
    fn source_route(&mut self) -> Result<(), PathError> {
        loop {
            if !self.eat(b'@') {
                return Err(PathError::BadSourceRoute);
            }
            let domain = self.domain_run();
            validate_domain(domain).map_err(|_| PathError::BadSourceRoute)?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b':') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(PathError::BadSourceRoute),
            }
        }
    }

    /// `local-part "@" domain`. Returns `None` when the local part is the bare word
    /// `Postmaster` followed by `>` (the only mailbox allowed without a domain).
    fn mailbox(&mut self) -> Result<Option<Mailbox>, PathError> {
        let start = self.pos;
        let (local, quoted) = if self.peek() == Some(b'"') {
            (self.quoted_string()?, true)
        } else {
            let run = self.dot_string_run();
            if !is_dot_string(run) {
                return Err(PathError::BadLocalPart);
            }
            (run.to_owned(), false)
        };
        if self.pos - start > MAX_LOCAL_PART {
            return Err(PathError::LocalPartTooLong);
        }
        match self.peek() {
            Some(b'@') => self.pos += 1,
            Some(b'>') if !quoted && local.eq_ignore_ascii_case("postmaster") => return Ok(None),
            Some(b'>') | None => return Err(PathError::MissingDomain),
            Some(_) => return Err(PathError::BadLocalPart),
        }
        let domain = if self.eat(b'[') {
            DomainPart::Literal(self.address_literal()?)
        } else {
            let run = self.domain_run();
            validate_domain(run)?;
            DomainPart::Name(run.to_owned())
        };
        Ok(Some(Mailbox {
            local,
            quoted,
            domain,
        }))
    }

    /// The longest run of characters that may appear in a Dot-string.
    fn dot_string_run(&mut self) -> &'a str {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if b == b'.' || is_atext(b) {
                self.pos += 1;
            } else if !b.is_ascii() {
                match self.peek_char() {
                    Some(c) if is_utf8_text(c) => self.pos += c.len_utf8(),
                    _ => break,
                }
            } else {
                break;
            }
        }
        &self.s[start..self.pos]
    }

    /// `DQUOTE *( qtextSMTP / quoted-pairSMTP ) DQUOTE`, returned unquoted.
    fn quoted_string(&mut self) -> Result<String, PathError> {
        self.pos += 1; // opening quote, checked by the caller
        let mut out = String::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(PathError::BadLocalPart); // unbalanced quote
            };
            match b {
                b'"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    // quoted-pairSMTP is backslash + printable ASCII only (RFC 6531
                    // did not extend it).
                    match self.s.as_bytes().get(self.pos + 1) {
                        Some(&e) if (32..=126).contains(&e) => {
                            out.push(char::from(e));
                            self.pos += 2;
                        }
                        _ => return Err(PathError::BadLocalPart),
                    }
                }
                32..=126 => {
                    out.push(char::from(b));
                    self.pos += 1;
                }
                _ if !b.is_ascii() => match self.peek_char() {
                    Some(c) if is_utf8_text(c) => {
                        out.push(c);
                        self.pos += c.len_utf8();
                    }
                    _ => return Err(PathError::BadLocalPart),
                },
                _ => return Err(PathError::BadLocalPart), // control characters
            }
        }
    }

    /// The longest run of characters that may appear in a domain name; checked
    /// afterwards by [`validate_domain`].
    fn domain_run(&mut self) -> &'a str {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'.' {
                self.pos += 1;
            } else if !b.is_ascii() {
                match self.peek_char() {
                    Some(c) if is_utf8_text(c) => self.pos += c.len_utf8(),
                    _ => break,
                }
            } else {
                break;
            }
        }
        &self.s[start..self.pos]
    }

    /// The text of an address literal after `[`, through the closing `]`.
    fn address_literal(&mut self) -> Result<String, PathError> {
        let start = self.pos;
        // dcontent is %d33-90 / %d94-126: printable ASCII except [ \ ].
        while let Some(b) = self.peek() {
            if (33..=90).contains(&b) || (94..=126).contains(&b) {
                self.pos += 1;
            } else {
                break;
            }
        }
        let text = &self.s[start..self.pos];
        if !self.eat(b']') || !valid_address_literal(text) {
            return Err(PathError::BadAddressLiteral);
        }
        if text.len() + 2 > MAX_DOMAIN {
            return Err(PathError::DomainTooLong);
        }
        Ok(text.to_owned())
    }
}

/// atext of RFC 5322 as used by RFC 5321's Atom.
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

/// A non-ASCII character acceptable in addresses under RFC 6531: anything but
/// controls and white space, which would only serve to confuse log readers and
/// downstream parsers.
fn is_utf8_text(c: char) -> bool {
    !c.is_ascii() && !c.is_control() && !c.is_whitespace()
}

/// `Atom *("." Atom)` with UTF-8 atext.
fn is_dot_string(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|atom| {
            !atom.is_empty()
                && atom.chars().all(|c| {
                    if c.is_ascii() {
                        is_atext(c as u8)
                    } else {
                        is_utf8_text(c)
                    }
                })
        })
}

/// RFC 5321 Domain with RFC 6531 U-labels: dot-separated labels, no empty label, no
/// trailing dot, ASCII labels of letters/digits/hyphens not starting or ending with a
/// hyphen and at most 63 octets.
fn validate_domain(d: &str) -> Result<(), PathError> {
    if d.is_empty() {
        return Err(PathError::MissingDomain);
    }
    if d.len() > MAX_DOMAIN {
        return Err(PathError::DomainTooLong);
    }
    for label in d.split('.') {
        let ok = !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| {
                c.is_ascii_alphanumeric() || c == '-' || (!c.is_ascii() && is_utf8_text(c))
            })
            // The 63-octet limit applies to the A-label; for a U-label only the
            // address crate's IDNA conversion can tell.
            && (!label.is_ascii() || label.len() <= 63);
        if !ok {
            return Err(PathError::BadDomain);
        }
    }
    Ok(())
}

/// IPv4 dotted quad, or `IPv6:` plus an IPv6 address. General address literals
/// (`tag:content`) have no registered tags, so nothing could route to one: refused.
fn valid_address_literal(text: &str) -> bool {
    if let Some(v6) = text
        .get(..5)
        .filter(|p| p.eq_ignore_ascii_case("IPv6:"))
        .and_then(|_| text.get(5..))
    {
        return v6.parse::<Ipv6Addr>().is_ok();
    }
    text.parse::<Ipv4Addr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mb(local: &str, quoted: bool, domain: &str) -> Mailbox {
        Mailbox {
            local: local.into(),
            quoted,
            domain: DomainPart::Name(domain.into()),
        }
    }

    fn fwd(input: &str) -> Result<ForwardPath, PathError> {
        let (p, rest) = parse_forward_path(input)?;
        assert_eq!(rest, "", "trailing input for {input:?}");
        Ok(p)
    }

    fn rev(input: &str) -> Result<ReversePath, PathError> {
        let (p, rest) = parse_reverse_path(input)?;
        assert_eq!(rest, "", "trailing input for {input:?}");
        Ok(p)
    }

    fn plain(m: Mailbox) -> ForwardPath {
        ForwardPath::Mailbox {
            mailbox: m,
            source_route: false,
        }
    }

    #[test]
    fn simple() {
        assert_eq!(
            fwd("<user@example.org>"),
            Ok(plain(mb("user", false, "example.org")))
        );
        assert_eq!(
            rev("<First.Last+tag@Sub.Example.ORG>"),
            Ok(ReversePath::Mailbox(mb(
                "First.Last+tag",
                false,
                "Sub.Example.ORG"
            )))
        );
        assert_eq!(
            fwd("<a@b>"),
            Ok(plain(mb("a", false, "b"))),
            "single-label domains are syntactically valid"
        );
        assert_eq!(
            fwd("<!#$%&'*+-/=?^_`{|}~@x-1.y>"),
            Ok(plain(mb("!#$%&'*+-/=?^_`{|}~", false, "x-1.y")))
        );
    }

    #[test]
    fn rest_is_returned() {
        let (p, rest) = parse_reverse_path("<a@b.c> SIZE=10").unwrap();
        assert_eq!(p, ReversePath::Mailbox(mb("a", false, "b.c")));
        assert_eq!(rest, " SIZE=10");
        let (p, rest) = parse_reverse_path("<>x").unwrap();
        assert_eq!(p, ReversePath::Null);
        assert_eq!(rest, "x");
    }

    #[test]
    fn null_path() {
        assert_eq!(rev("<>"), Ok(ReversePath::Null));
        assert_eq!(fwd("<>"), Err(PathError::Empty));
    }

    #[test]
    fn quoted_local_part() {
        let m = mb("john @doe", true, "example.org");
        assert_eq!(fwd("<\"john @doe\"@example.org>"), Ok(plain(m.clone())));
        assert_eq!(m.to_string(), "\"john @doe\"@example.org");

        let m = mb("a\"b\\c", true, "x.y");
        assert_eq!(fwd(r#"<"a\"b\\c"@x.y>"#), Ok(plain(m.clone())));
        assert_eq!(m.to_string(), r#""a\"b\\c"@x.y"#);

        // A '>' inside quotes does not end the path.
        assert_eq!(fwd("<\"a>b\"@x.y>"), Ok(plain(mb("a>b", true, "x.y"))));
        // Empty quoted string is grammatical.
        assert_eq!(fwd("<\"\"@x.y>"), Ok(plain(mb("", true, "x.y"))));
        assert_eq!(mb("", true, "x.y").to_string(), "\"\"@x.y");
        // Quoting that was not needed is not reproduced.
        let m = mb("plain", true, "x.y");
        assert_eq!(fwd("<\"plain\"@x.y>"), Ok(plain(m.clone())));
        assert_eq!(m.to_string(), "plain@x.y");
    }

    #[test]
    fn utf8_addresses() {
        let p = fwd("<jöran@bücher.example>").unwrap();
        let m = p.mailbox().unwrap();
        assert_eq!(m.local, "jöran");
        assert_eq!(m.domain, DomainPart::Name("bücher.example".into()));
        assert!(!m.is_ascii());
        assert!(mb("a", false, "b").is_ascii());
        let p = fwd("<\"δοκιμή x\"@παράδειγμα.δοκιμή>").unwrap();
        assert_eq!(p.mailbox().unwrap().local, "δοκιμή x");
        assert_eq!(
            p.mailbox().unwrap().to_string(),
            "\"δοκιμή x\"@παράδειγμα.δοκιμή"
        );
        // Non-ASCII white space or controls are not text.
        assert_eq!(fwd("<a\u{a0}b@x.y>"), Err(PathError::BadLocalPart));
        assert_eq!(fwd("<ab@x\u{85}y>"), Err(PathError::BadDomain));
        assert_eq!(fwd("<\"a\u{85}\"@x.y>"), Err(PathError::BadLocalPart));
    }

    #[test]
    fn address_literals() {
        let lit = |s: &str| Mailbox {
            local: "u".into(),
            quoted: false,
            domain: DomainPart::Literal(s.into()),
        };
        assert_eq!(fwd("<u@[192.0.2.1]>"), Ok(plain(lit("192.0.2.1"))));
        assert_eq!(
            fwd("<u@[IPv6:2001:db8::1]>"),
            Ok(plain(lit("IPv6:2001:db8::1")))
        );
        assert_eq!(fwd("<u@[ipv6:::1]>"), Ok(plain(lit("ipv6:::1"))));
        assert_eq!(lit("192.0.2.1").to_string(), "u@[192.0.2.1]");
        for bad in [
            "<u@[192.0.2]>",
            "<u@[192.0.2.256]>",
            "<u@[2001:db8::1]>",
            "<u@[IPv6:192.0.2.1]>",
            "<u@[]>",
            "<u@[x:y]>",
            "<u@[192.0.2.1>",
            "<u@[192.0.2.1 ]>",
        ] {
            assert_eq!(fwd(bad), Err(PathError::BadAddressLiteral), "{bad}");
        }
    }

    #[test]
    fn source_routes() {
        assert_eq!(
            fwd("<@a.example,@b.example:u@d.example>"),
            Ok(ForwardPath::Mailbox {
                mailbox: mb("u", false, "d.example"),
                source_route: true
            })
        );
        assert_eq!(
            rev("<@a.example:u@d.example>"),
            Ok(ReversePath::Mailbox(mb("u", false, "d.example")))
        );
        for bad in [
            "<@:u@d>",
            "<@a,u@d>",
            "<@a.:u@d>",
            "<@a;u@d>",
            "<@a,:u@d>",
            "<@[1.2.3.4]:u@d>",
            "<@a>",
        ] {
            assert_eq!(fwd(bad), Err(PathError::BadSourceRoute), "{bad}");
        }
        // A route must lead to a real mailbox, not the domain-less postmaster.
        assert_eq!(fwd("<@a:postmaster>"), Err(PathError::MissingDomain));
    }

    #[test]
    fn postmaster() {
        assert_eq!(fwd("<postmaster>"), Ok(ForwardPath::Postmaster));
        assert_eq!(fwd("<PostMaster>"), Ok(ForwardPath::Postmaster));
        assert_eq!(
            fwd("<postmaster@example.org>"),
            Ok(plain(mb("postmaster", false, "example.org")))
        );
        assert_eq!(fwd("<\"postmaster\">"), Err(PathError::MissingDomain));
        assert_eq!(fwd("<postmistress>"), Err(PathError::MissingDomain));
        assert_eq!(rev("<postmaster>"), Err(PathError::MissingDomain));
        assert_eq!(ForwardPath::Postmaster.mailbox(), None);
    }

    #[test]
    fn bang_and_percent_paths_are_left_to_policy() {
        assert_eq!(fwd("<a!b@c.d>"), Ok(plain(mb("a!b", false, "c.d"))));
        assert_eq!(fwd("<a%b@c.d>"), Ok(plain(mb("a%b", false, "c.d"))));
    }

    #[test]
    fn invalid_domains() {
        for (bad, err) in [
            ("<u@example.org.>", PathError::BadDomain),
            ("<u@example..org>", PathError::BadDomain),
            ("<u@.example.org>", PathError::BadDomain),
            ("<u@-a.org>", PathError::BadDomain),
            ("<u@a-.org>", PathError::BadDomain),
            ("<u@a_b.org>", PathError::BadDomain),
            ("<u@a b.org>", PathError::BadDomain),
            ("<u@>", PathError::MissingDomain),
            ("<u>", PathError::MissingDomain),
            ("<u@a.org", PathError::Unterminated),
        ] {
            assert_eq!(fwd(bad), Err(err), "{bad}");
        }
        let long_label = "a".repeat(64);
        assert_eq!(
            fwd(&format!("<u@{long_label}.org>")),
            Err(PathError::BadDomain)
        );
        assert!(fwd(&format!("<u@{}.org>", "a".repeat(63))).is_ok());
    }

    #[test]
    fn invalid_local_parts() {
        for (bad, err) in [
            ("<a..b@x.y>", PathError::BadLocalPart),
            ("<.a@x.y>", PathError::BadLocalPart),
            ("<a.@x.y>", PathError::BadLocalPart),
            ("<a b@x.y>", PathError::BadLocalPart),
            ("<a,b@x.y>", PathError::BadLocalPart),
            ("<\"abc@x.y>", PathError::BadLocalPart),
            ("<abc\"@x.y>", PathError::BadLocalPart),
            ("<\"a\tb\"@x.y>", PathError::BadLocalPart),
            ("<\"a\\\u{1}\"@x.y>", PathError::BadLocalPart),
            ("<a\u{1}b@x.y>", PathError::BadLocalPart),
            ("<\"a\0\"@x.y>", PathError::BadLocalPart),
            ("<\"a\\", PathError::BadLocalPart),
            ("<a@b@c>", PathError::BadDomain),
        ] {
            assert_eq!(fwd(bad), Err(err), "{bad:?}");
        }
    }

    #[test]
    fn missing_brackets() {
        assert_eq!(fwd("u@x.y"), Err(PathError::NotBracketed));
        assert_eq!(rev(""), Err(PathError::NotBracketed));
        assert_eq!(rev(" <u@x.y>"), Err(PathError::NotBracketed));
        assert_eq!(rev("<u@x.y"), Err(PathError::Unterminated));
        assert_eq!(rev("<"), Err(PathError::BadLocalPart));
    }

    #[test]
    fn length_limits() {
        let l64 = "a".repeat(64);
        assert!(fwd(&format!("<{l64}@x.y>")).is_ok());
        let l65 = "a".repeat(65);
        assert_eq!(
            fwd(&format!("<{l65}@x.y>")),
            Err(PathError::LocalPartTooLong)
        );
        // Quotes count: the limit is on the local part as written.
        assert_eq!(
            fwd(&format!("<\"{}\"@x.y>", "a".repeat(63))),
            Err(PathError::LocalPartTooLong)
        );
        // A 255-octet domain, then one more.
        let d255 = format!("{0}.{0}.{0}.{1}", "a".repeat(63), "b".repeat(63));
        assert_eq!(d255.len(), 255);
        let d256 = format!("{d255}c");
        assert_eq!(fwd(&format!("<u@{d256}>")), Err(PathError::DomainTooLong));
        // Path limit: "<" + 1 + "@" + 252 + ">" = 256 octets; one more is too long.
        let d252 = &d255[..252];
        assert!(fwd(&format!("<u@{d252}>")).is_ok());
        assert_eq!(fwd(&format!("<uu@{d252}>")), Err(PathError::PathTooLong));
    }

    #[test]
    fn bare_mailbox() {
        assert_eq!(parse_mailbox("a@b.c"), Ok(mb("a", false, "b.c")));
        assert_eq!(parse_mailbox("a@b.c>"), Err(PathError::TrailingCharacters));
        assert_eq!(parse_mailbox("postmaster"), Err(PathError::MissingDomain));
        assert_eq!(parse_mailbox(""), Err(PathError::BadLocalPart));
    }

    #[test]
    fn display_roundtrips_through_the_parser() {
        for input in [
            "<a@b.c>",
            "<\"a b\"@b.c>",
            "<\"a\\\\b\"@[IPv6:::1]>",
            "<ü@ä.de>",
            "<\"\"@x>",
            "<\".a\"@x>",
        ] {
            let p = fwd(input).unwrap();
            let m = p.mailbox().unwrap();
            let again = fwd(&format!("<{m}>")).unwrap();
            assert_eq!(again.mailbox().unwrap().local, m.local, "{input}");
            assert_eq!(again.mailbox().unwrap().domain, m.domain, "{input}");
        }
    }
}
