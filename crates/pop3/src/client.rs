//! The client side of POP3, sans-I/O, for pulling mail from another
//! server (`praisani import pop3`): commands as they go on the wire,
//! status lines, CAPA, UIDL/LIST listings and the multi-line decoding
//! that undoes byte-stuffing (RFC 1939 section 3). The caller reads lines
//! (CRLF or bare LF ended, within its own length limit) and writes bytes.

/// Why a line from the server or an argument for it is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// A status line that starts with neither `+OK` nor `-ERR`.
    #[error("not a POP3 status line: {0:?}")]
    NotStatus(String),
    /// A listing line that is not `msgno argument`.
    #[error("unreadable listing line: {0:?}")]
    BadListing(String),
    /// A command argument with a line break or NUL (it would smuggle in
    /// a second command).
    #[error("a POP3 argument cannot contain CR, LF or NUL")]
    BadArgument,
}

/// A status line: `+OK` or `-ERR` and the text after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// `+OK`.
    pub ok: bool,
    /// The text after the indicator (lossily UTF-8), for messages.
    pub text: String,
}

fn strip_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Reads a status line (with or without its line end).
pub fn status(line: &[u8]) -> Result<Status, ClientError> {
    let line = strip_eol(line);
    let text = |rest: &[u8]| String::from_utf8_lossy(rest).trim().to_string();
    let upper = line.to_ascii_uppercase();
    if upper.starts_with(b"+OK") {
        Ok(Status {
            ok: true,
            text: text(&line[3..]),
        })
    } else if upper.starts_with(b"-ERR") {
        Ok(Status {
            ok: false,
            text: text(&line[4..]),
        })
    } else {
        Err(ClientError::NotStatus(
            String::from_utf8_lossy(line).chars().take(200).collect(),
        ))
    }
}

/// A command line: `verb` and its arguments separated by spaces, CRLF.
pub fn command(verb: &str, args: &[&str]) -> Result<Vec<u8>, ClientError> {
    let mut out = verb.as_bytes().to_vec();
    for a in args {
        if a.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
            return Err(ClientError::BadArgument);
        }
        out.push(b' ');
        out.extend_from_slice(a.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    Ok(out)
}

/// One line of a multi-line response, byte-stuffing undone.
#[derive(Debug, PartialEq, Eq)]
pub enum Data<'a> {
    /// A line of content, without its line end.
    Line(&'a [u8]),
    /// The terminating `.`.
    End,
}

/// Decodes one line of a multi-line response: the lone `.` ends it, a
/// leading `.` of any other line was added by the server and goes.
pub fn data(line: &[u8]) -> Data<'_> {
    let line = strip_eol(line);
    match line {
        b"." => Data::End,
        _ => Data::Line(line.strip_prefix(b".").unwrap_or(line)),
    }
}

/// One line of a `UIDL` or `LIST` listing: the message number and the
/// unique-id or size text, exactly as the server wrote it.
pub fn listing(line: &[u8]) -> Result<(u32, String), ClientError> {
    let bad = || ClientError::BadListing(String::from_utf8_lossy(line).chars().take(200).collect());
    let text = std::str::from_utf8(line).map_err(|_| bad())?;
    let mut parts = text.split_ascii_whitespace();
    let n = parts
        .next()
        .and_then(|n| n.parse::<u32>().ok())
        .ok_or_else(bad)?;
    let arg = parts.next().ok_or_else(bad)?;
    if parts.next().is_some() || n == 0 {
        return Err(bad());
    }
    Ok((n, arg.to_string()))
}

/// What a server announced in its CAPA response (RFC 2449).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// STLS (RFC 2595).
    pub stls: bool,
    /// USER/PASS.
    pub user: bool,
    /// UIDL.
    pub uidl: bool,
    /// The SASL mechanisms (upper case).
    pub sasl: Vec<String>,
}

impl Capabilities {
    /// Reads the lines of a CAPA response (byte-stuffing already undone).
    pub fn parse<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> Capabilities {
        let mut c = Capabilities::default();
        for line in lines {
            let text = String::from_utf8_lossy(line).to_ascii_uppercase();
            let mut words = text.split_ascii_whitespace();
            match words.next() {
                Some("STLS") => c.stls = true,
                Some("USER") => c.user = true,
                Some("UIDL") => c.uidl = true,
                Some("SASL") => c.sasl = words.map(str::to_string).collect(),
                _ => {}
            }
        }
        c
    }

    /// Whether SASL `mechanism` is offered.
    pub fn offers(&self, mechanism: &str) -> bool {
        self.sasl.iter().any(|m| m.eq_ignore_ascii_case(mechanism))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(
            status(b"+OK Dovecot ready.\r\n").unwrap(),
            Status {
                ok: true,
                text: "Dovecot ready.".into()
            }
        );
        assert!(!status(b"-ERR [AUTH] Authentication failed.\n").unwrap().ok);
        assert!(status(b"+ok\r\n").unwrap().ok);
        assert!(matches!(
            status(b"* OK imap"),
            Err(ClientError::NotStatus(_))
        ));
    }

    #[test]
    fn commands_refuse_smuggled_lines() {
        assert_eq!(command("RETR", &["3"]).unwrap(), b"RETR 3\r\n");
        assert_eq!(command("QUIT", &[]).unwrap(), b"QUIT\r\n");
        assert_eq!(
            command("PASS", &["x\r\nDELE 1"]),
            Err(ClientError::BadArgument)
        );
    }

    #[test]
    fn dot_unstuffing() {
        assert_eq!(data(b"..hidden\r\n"), Data::Line(b".hidden"));
        assert_eq!(data(b".\r\n"), Data::End);
        assert_eq!(data(b".\n"), Data::End);
        assert_eq!(data(b"plain"), Data::Line(b"plain"));
        assert_eq!(data(b"..\r\n"), Data::Line(b"."));
    }

    #[test]
    fn listings_and_capabilities() {
        assert_eq!(
            listing(b"1 00000001590b4f2a").unwrap(),
            (1, "00000001590b4f2a".into())
        );
        assert_eq!(listing(b"12 4096").unwrap(), (12, "4096".into()));
        assert!(listing(b"x y").is_err());
        assert!(listing(b"1").is_err());
        assert!(listing(b"0 a").is_err());
        let lines: Vec<&[u8]> = vec![
            b"CAPA",
            b"TOP",
            b"UIDL",
            b"STLS",
            b"SASL PLAIN login",
            b"USER",
        ];
        let c = Capabilities::parse(lines);
        assert!(c.stls && c.user && c.uidl);
        assert!(c.offers("PLAIN") && c.offers("LOGIN") && !c.offers("CRAM-MD5"));
    }
}
