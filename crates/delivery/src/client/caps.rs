//! The server's EHLO keywords (RFC 5321 section 4.1.1.1).

use smtp_proto::{
    AUTH_LOGIN, AUTH_PLAIN, EXT_8BIT_MIME, EXT_AUTH, EXT_CHUNKING, EXT_DSN,
    EXT_ENHANCED_STATUS_CODES, EXT_PIPELINING, EXT_REQUIRE_TLS, EXT_SIZE, EXT_SMTP_UTF8,
    EXT_START_TLS, EhloResponse,
};

use super::reply::Reply;

/// What the server offered in its last EHLO reply. All false after HELO.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// The server answered EHLO (false: HELO fallback, no extensions).
    pub esmtp: bool,
    /// PIPELINING (RFC 2920).
    pub pipelining: bool,
    /// SIZE (RFC 1870): `Some(limit)` when offered; `Some(0)` means offered with no
    /// fixed limit (or a limit we could not read).
    pub size: Option<u64>,
    /// 8BITMIME (RFC 6152).
    pub eight_bit_mime: bool,
    /// SMTPUTF8 (RFC 6531).
    pub smtputf8: bool,
    /// DSN (RFC 3461).
    pub dsn: bool,
    /// STARTTLS (RFC 3207).
    pub starttls: bool,
    /// AUTH offered with the PLAIN mechanism (RFC 4954, RFC 4616).
    pub auth_plain: bool,
    /// AUTH offered with the LOGIN mechanism.
    pub auth_login: bool,
    /// AUTH offered at all (perhaps only with mechanisms we do not speak).
    pub auth: bool,
    /// CHUNKING (RFC 3030). Noted only; we always send DATA.
    pub chunking: bool,
    /// ENHANCEDSTATUSCODES (RFC 2034).
    pub enhanced_status_codes: bool,
    /// REQUIRETLS (RFC 8689).
    pub requiretls: bool,
}

impl Capabilities {
    /// Read the keywords of a 250 EHLO reply.
    ///
    /// The keyword list is read by smtp-proto's `EhloResponse` parser, given the
    /// complete reply (already framed and checked by our reply parser). Should it
    /// refuse the list anyway, we fall back to "no extensions", as after HELO:
    /// the safe reading, since we then use none.
    ///
    /// SIZE's value is read here: smtp-proto 0.2 truncates a value too large for it
    /// (`SIZE 99999999999999999999999` reads as 999), which would make us refuse
    /// every message above 999 octets. An unreadable or huge value means "no limit
    /// known" (0).
    pub fn from_ehlo(reply: &Reply) -> Self {
        let mut wire = Vec::new();
        for (i, line) in reply.lines.iter().enumerate() {
            let sep = if i + 1 == reply.lines.len() { ' ' } else { '-' };
            wire.extend_from_slice(format!("250{sep}{line}\r\n").as_bytes());
        }
        let mut caps = Capabilities {
            esmtp: true,
            ..Capabilities::default()
        };
        let Ok(ehlo) = EhloResponse::parse(&mut wire.iter()) else {
            return caps;
        };
        let has = |flag| ehlo.capabilities & flag != 0;
        caps.pipelining = has(EXT_PIPELINING);
        caps.eight_bit_mime = has(EXT_8BIT_MIME);
        caps.smtputf8 = has(EXT_SMTP_UTF8);
        caps.dsn = has(EXT_DSN);
        caps.starttls = has(EXT_START_TLS);
        caps.auth = has(EXT_AUTH);
        caps.auth_plain = ehlo.auth_mechanisms & AUTH_PLAIN != 0;
        caps.auth_login = ehlo.auth_mechanisms & AUTH_LOGIN != 0;
        caps.chunking = has(EXT_CHUNKING);
        caps.enhanced_status_codes = has(EXT_ENHANCED_STATUS_CODES);
        caps.requiretls = has(EXT_REQUIRE_TLS);
        if has(EXT_SIZE) {
            caps.size = Some(size_limit(reply));
        }
        caps
    }
}

/// The SIZE keyword's value (0 when absent, unreadable or beyond u64).
fn size_limit(reply: &Reply) -> u64 {
    for line in reply.lines.iter().skip(1) {
        let mut words = line.split_ascii_whitespace();
        if words.next().is_some_and(|k| k.eq_ignore_ascii_case("SIZE")) {
            return words.next().and_then(|v| v.parse().ok()).unwrap_or(0);
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(lines: &[&str]) -> Reply {
        Reply {
            code: 250,
            lines: lines.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn reads_keywords() {
        let c = Capabilities::from_ehlo(&reply(&[
            "mx.example Hello",
            "PIPELINING",
            "size 35882577",
            "8BITMIME",
            "AUTH LOGIN",
            "X-EXPS GSSAPI PLAIN",
            "ENHANCEDSTATUSCODES",
            "DSN",
            "SMTPUTF8",
            "CHUNKING",
        ]));
        assert!(c.esmtp && c.pipelining && c.eight_bit_mime && c.dsn && c.smtputf8);
        assert!(c.auth && c.auth_login && !c.auth_plain && c.chunking);
        assert!(c.enhanced_status_codes && !c.starttls);
        assert_eq!(c.size, Some(35_882_577));
    }

    #[test]
    fn greeting_line_only_and_odd_sizes() {
        let c = Capabilities::from_ehlo(&reply(&["mx.example"]));
        assert_eq!(
            c,
            Capabilities {
                esmtp: true,
                ..Capabilities::default()
            }
        );
        let c = Capabilities::from_ehlo(&reply(&["mx", "SIZE 99999999999999999999999"]));
        assert_eq!(c.size, Some(0));
        let c = Capabilities::from_ehlo(&reply(&["mx", "SIZE"]));
        assert_eq!(c.size, Some(0));
        let c = Capabilities::from_ehlo(&reply(&["mx", "STARTTLS", "AUTH=PLAIN"]));
        assert!(c.starttls && c.auth_plain);
    }
}
