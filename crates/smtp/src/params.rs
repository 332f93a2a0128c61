//! The meaning of MAIL and RCPT parameters: SIZE (RFC 1870), BODY (RFC 6152),
//! SMTPUTF8 (RFC 6531), MAIL's AUTH parameter (RFC 4954 section 5), and the DSN
//! parameters RET, ENVID, NOTIFY and ORCPT (RFC 3461, with RFC 6533's `utf-8`
//! address type).

use crate::command::Param;
use crate::path::parse_mailbox;

/// Longest ENVID value after xtext decoding (RFC 3461 section 4.4).
pub const ENVID_MAX: usize = 100;
/// Longest ORCPT value as sent, `addr-type;xtext` (RFC 3461 section 4.2).
pub const ORCPT_MAX: usize = 500;

/// The body type declared with `BODY=` (RFC 6152).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Body {
    /// `BODY=7BIT`, or no BODY parameter.
    #[default]
    SevenBit,
    /// `BODY=8BITMIME`.
    EightBitMime,
}

/// MAIL FROM parameters the engine understood.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MailParams {
    /// The size the client declared with `SIZE=` (RFC 1870), if any.
    pub size: Option<u64>,
    /// The declared body type.
    pub body: Body,
    /// The client asked for SMTPUTF8 (RFC 6531): UTF-8 addresses and headers.
    pub smtputf8: bool,
    /// `RET=` (RFC 3461 section 4.3): how much of the message a failure DSN
    /// should return. `None` when not given (the server chooses).
    pub ret: Option<Ret>,
    /// `ENVID=` (RFC 3461 section 4.4), xtext-decoded: printable ASCII, at most
    /// [`ENVID_MAX`] characters.
    pub envid: Option<String>,
    /// `REQUIRETLS` (RFC 8689): the message may only travel over TLS whose
    /// server was authenticated (MTA-STS or DANE). Set by the session, which
    /// accepts it only under TLS when it offered it.
    pub requiretls: bool,
}

/// The `RET=` value of MAIL FROM (RFC 3461 section 4.3): the one type the
/// queue and the bounce writer use too.
pub use praisani_message::dsn::Return as Ret;

/// The `NOTIFY=` value of RCPT TO (RFC 3461 section 4.1): the one type the
/// queue and the bounce writer use too.
pub use praisani_message::dsn::Notify;

/// RCPT TO parameters the engine understood: the DSN parameters NOTIFY and
/// ORCPT (RFC 3461) when DSN is enabled; otherwise every parameter is refused.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RcptParams {
    /// `NOTIFY=`, if given.
    pub notify: Option<Notify>,
    /// `ORCPT=`, decoded, as `addr-type;address`: the address type lower-cased
    /// (`rfc822`, `utf-8`, or another atom kept as an opaque type) and the
    /// address xtext-decoded, or for `utf-8` decoded from RFC 6533's
    /// `\x{HEX}` form to UTF-8. E.g. `rfc822;bob+tag@example.org`.
    pub orcpt: Option<String>,
}

/// Why a parameter list was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// A parameter we support has a malformed value or is repeated (501 5.5.4).
    #[error("{0}")]
    Syntax(&'static str),
    /// A parameter or value we do not support (555 5.5.4, RFC 5321 4.1.1.11).
    #[error("{0}")]
    Unsupported(String),
}

impl MailParams {
    /// Interpret MAIL parameters. `esmtp` is false after HELO, where no parameter is
    /// allowed; `smtputf8_enabled` mirrors whether SMTPUTF8 was advertised. The DSN
    /// parameters are unsupported here: see [`MailParams::from_params_with_dsn`].
    pub fn from_params(
        params: &[Param],
        esmtp: bool,
        smtputf8_enabled: bool,
    ) -> Result<Self, ParamError> {
        Self::from_params_with_dsn(params, esmtp, smtputf8_enabled, false)
    }

    /// Interpret MAIL parameters as [`MailParams::from_params`] does, and also
    /// RET and ENVID (RFC 3461) when `dsn_enabled` mirrors that DSN was advertised.
    pub fn from_params_with_dsn(
        params: &[Param],
        esmtp: bool,
        smtputf8_enabled: bool,
        dsn_enabled: bool,
    ) -> Result<Self, ParamError> {
        let mut out = MailParams::default();
        let (mut seen_size, mut seen_body, mut seen_auth) = (false, false, false);
        let (mut seen_ret, mut seen_envid) = (false, false);
        for p in params {
            if !esmtp {
                return Err(unsupported(p));
            }
            let value = p.value.as_deref();
            match p.keyword.as_str() {
                "SIZE" => {
                    let v = once(&mut seen_size, value)?;
                    if v.is_empty() || v.len() > 20 || !v.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(ParamError::Syntax("Bad SIZE parameter"));
                    }
                    // 20 digits can exceed u64: such a size is over any limit anyway.
                    out.size = Some(v.parse().unwrap_or(u64::MAX));
                }
                "BODY" => {
                    let v = once(&mut seen_body, value)?;
                    out.body = if v.eq_ignore_ascii_case("7BIT") {
                        Body::SevenBit
                    } else if v.eq_ignore_ascii_case("8BITMIME") {
                        Body::EightBitMime
                    } else {
                        return Err(ParamError::Unsupported(format!(
                            "Unsupported BODY type {v}"
                        )));
                    };
                }
                "SMTPUTF8" if smtputf8_enabled => {
                    if value.is_some() {
                        return Err(ParamError::Syntax("SMTPUTF8 takes no value"));
                    }
                    if out.smtputf8 {
                        return Err(ParamError::Syntax("Duplicate parameter"));
                    }
                    out.smtputf8 = true;
                }
                // RFC 4954 section 5: the identity that submitted the message, as
                // xtext, or "<>". It is only a claim by the client; we check the
                // syntax and otherwise ignore it (the session's own AUTH state is
                // what the server trusts).
                "AUTH" => {
                    let v = once(&mut seen_auth, value)?;
                    if !is_xtext(v) {
                        return Err(ParamError::Syntax("Bad AUTH parameter"));
                    }
                }
                "RET" if dsn_enabled => {
                    let v = once(&mut seen_ret, value)?;
                    out.ret = Some(if v.eq_ignore_ascii_case("FULL") {
                        Ret::Full
                    } else if v.eq_ignore_ascii_case("HDRS") {
                        Ret::Headers
                    } else {
                        return Err(ParamError::Syntax("Bad RET parameter"));
                    });
                }
                "ENVID" if dsn_enabled => {
                    let v = once(&mut seen_envid, value)?;
                    let envid = xtext_decode(v)
                        .filter(|d| d.len() <= ENVID_MAX && d.bytes().all(is_printable))
                        .ok_or(ParamError::Syntax("Bad ENVID parameter"))?;
                    out.envid = Some(envid);
                }
                _ => return Err(unsupported(p)),
            }
        }
        Ok(out)
    }
}

impl RcptParams {
    /// Interpret RCPT parameters with DSN disabled: every parameter is refused.
    pub fn from_params(params: &[Param]) -> Result<Self, ParamError> {
        Self::from_params_with_dsn(params, false, false)
    }

    /// Interpret RCPT parameters: NOTIFY and ORCPT (RFC 3461) when `dsn_enabled`
    /// mirrors that DSN was advertised. `smtputf8` says the transaction declared
    /// SMTPUTF8 on MAIL, which allows a `utf-8` ORCPT in its raw UTF-8
    /// (`utf-8-addr-unitext`) form; the ASCII `\x{HEX}` form is always accepted
    /// (RFC 6533 section 3).
    pub fn from_params_with_dsn(
        params: &[Param],
        dsn_enabled: bool,
        smtputf8: bool,
    ) -> Result<Self, ParamError> {
        let mut out = RcptParams::default();
        let (mut seen_notify, mut seen_orcpt) = (false, false);
        for p in params {
            let value = p.value.as_deref();
            match p.keyword.as_str() {
                "NOTIFY" if dsn_enabled => {
                    let v = once(&mut seen_notify, value)?;
                    out.notify =
                        Some(parse_notify(v).ok_or(ParamError::Syntax("Bad NOTIFY parameter"))?);
                }
                "ORCPT" if dsn_enabled => {
                    let v = once(&mut seen_orcpt, value)?;
                    out.orcpt = Some(
                        parse_orcpt(v, smtputf8)
                            .ok_or(ParamError::Syntax("Bad ORCPT parameter"))?,
                    );
                }
                _ => return Err(unsupported(p)),
            }
        }
        Ok(out)
    }
}

/// `NOTIFY=NEVER` or a comma list of SUCCESS, FAILURE and DELAY, any case.
fn parse_notify(v: &str) -> Option<Notify> {
    if v.eq_ignore_ascii_case("NEVER") {
        return Some(Notify {
            never: true,
            ..Notify::default()
        });
    }
    let mut n = Notify::default();
    for item in v.split(',') {
        let flag = if item.eq_ignore_ascii_case("SUCCESS") {
            &mut n.success
        } else if item.eq_ignore_ascii_case("FAILURE") {
            &mut n.failure
        } else if item.eq_ignore_ascii_case("DELAY") {
            &mut n.delay
        } else {
            return None; // also NEVER in a list, and empty items
        };
        *flag = true;
    }
    Some(n)
}

/// `ORCPT=addr-type;xtext` (RFC 3461 section 4.2), or `utf-8;utf-8-enc-addr`
/// (RFC 6533 section 3), decoded to `addr-type;address`.
fn parse_orcpt(v: &str, smtputf8: bool) -> Option<String> {
    if v.chars().count() > ORCPT_MAX {
        return None;
    }
    let (addr_type, encoded) = v.split_once(';')?;
    if addr_type.is_empty() || !addr_type.bytes().all(is_atext) {
        return None;
    }
    let addr_type = addr_type.to_ascii_lowercase();
    let address = if addr_type == "utf-8" {
        let address = unitext_decode(encoded, smtputf8)?;
        // "MUST follow utf-8-address ABNF when dequoted": a mailbox.
        parse_mailbox(&address).ok()?;
        address
    } else {
        // Other types are opaque to us; RFC 3461 only asks for printable ASCII.
        xtext_decode(encoded).filter(|d| d.bytes().all(is_printable))?
    };
    Some(format!("{addr_type};{address}"))
}

/// RFC 5322 atext: the characters of an `atom`, as the ORCPT addr-type is.
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

/// Printable US-ASCII including space: what a decoded ENVID or ORCPT address may
/// contain (RFC 3461 sections 4.2 and 4.4).
fn is_printable(b: u8) -> bool {
    matches!(b, b' '..=b'~')
}

/// Decode non-empty xtext (RFC 3461 section 4): `+XX` becomes the octet XX.
/// `None` when `v` is not xtext or decodes to something other than UTF-8.
fn xtext_decode(v: &str) -> Option<String> {
    if !is_xtext(v) {
        return None;
    }
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'+' {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Decode RFC 6533's `utf-8-addr-xtext` (ASCII with `\x{HEX}` escapes) or, when
/// `allow_utf8`, `utf-8-addr-unitext` (the same with raw UTF-8 too). Escapes
/// follow HEXPOINT: canonical (no superfluous leading zero), and standing for
/// `\`, a space, `+`, `=` or a non-ASCII scalar value; an address has no
/// control characters, so the ABNF's control-character forms are refused.
fn unitext_decode(v: &str, allow_utf8: bool) -> Option<String> {
    let mut out = String::with_capacity(v.len());
    let mut rest = v;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("\\x{") {
            let end = after.find('}')?;
            let hex = &after[..end];
            if !(2..=6).contains(&hex.len()) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            let n = u32::from_str_radix(hex, 16).ok()?;
            let canonical = format!("{n:02X}").len() == hex.len();
            let allowed = matches!(n, 0x20 | 0x2B | 0x3D | 0x5C) || n >= 0x80;
            if !canonical || !allowed {
                return None;
            }
            out.push(char::from_u32(n)?); // refuses surrogates and > 0x10FFFF
            rest = &after[end + 1..];
            continue;
        }
        // QCHAR: printable ASCII except SP, "+", "=" and "\"; QUCHAR adds UTF-8.
        let ok = match c {
            '!'..='~' => !matches!(c, '+' | '=' | '\\'),
            _ => allow_utf8 && !c.is_ascii() && !c.is_control(),
        };
        if !ok {
            return None;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    (!out.is_empty()).then_some(out)
}

/// The value of a parameter that must appear at most once and needs a value.
fn once<'a>(seen: &mut bool, value: Option<&'a str>) -> Result<&'a str, ParamError> {
    if std::mem::replace(seen, true) {
        return Err(ParamError::Syntax("Duplicate parameter"));
    }
    value.ok_or(ParamError::Syntax("Parameter needs a value"))
}

/// `xtext` (RFC 3461 section 4): printable ASCII except `+` and `=`, with `+XX`
/// hex escapes. `<>` is valid xtext too. Lower-case hex is tolerated.
fn is_xtext(v: &str) -> bool {
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                let hex = |j: usize| b.get(j).is_some_and(u8::is_ascii_hexdigit);
                if !(hex(i + 1) && hex(i + 2)) {
                    return false;
                }
                i += 3;
            }
            b'!'..=b'~' if b[i] != b'=' => i += 1,
            _ => return false,
        }
    }
    !b.is_empty()
}

fn unsupported(p: &Param) -> ParamError {
    ParamError::Unsupported(format!("Unsupported parameter {}", p.keyword))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(k: &str, v: Option<&str>) -> Param {
        Param {
            keyword: k.into(),
            value: v.map(Into::into),
        }
    }

    #[test]
    fn none() {
        assert_eq!(
            MailParams::from_params(&[], true, true),
            Ok(MailParams::default())
        );
        assert_eq!(
            MailParams::from_params(&[], false, true),
            Ok(MailParams::default())
        );
        assert_eq!(RcptParams::from_params(&[]), Ok(RcptParams::default()));
    }

    #[test]
    fn all_supported() {
        let got = MailParams::from_params(
            &[
                p("SIZE", Some("12345")),
                p("BODY", Some("8bitmime")),
                p("SMTPUTF8", None),
            ],
            true,
            true,
        );
        assert_eq!(
            got,
            Ok(MailParams {
                size: Some(12345),
                body: Body::EightBitMime,
                smtputf8: true,
                ret: None,
                envid: None,
                requiretls: false,
            })
        );
        let got = MailParams::from_params(&[p("BODY", Some("7BIT"))], true, true);
        assert_eq!(got.map(|m| m.body), Ok(Body::SevenBit));
    }

    #[test]
    fn auth_parameter_is_accepted_and_ignored() {
        for v in ["<>", "e+3Dmc2@example.com", "user@example.org", "a+2b+2Bc"] {
            assert_eq!(
                MailParams::from_params(&[p("AUTH", Some(v))], true, false),
                Ok(MailParams::default()),
                "{v}"
            );
        }
    }

    #[test]
    fn huge_size_saturates() {
        let got = MailParams::from_params(&[p("SIZE", Some("99999999999999999999"))], true, true);
        assert_eq!(got.map(|m| m.size), Ok(Some(u64::MAX)));
    }

    #[test]
    fn errors() {
        let syntax = |params: &[Param]| {
            matches!(
                MailParams::from_params(params, true, true),
                Err(ParamError::Syntax(_))
            )
        };
        let unsupported = |params: &[Param], esmtp: bool, utf8: bool| {
            matches!(
                MailParams::from_params(params, esmtp, utf8),
                Err(ParamError::Unsupported(_))
            )
        };
        assert!(syntax(&[p("SIZE", Some("12a"))]));
        assert!(syntax(&[p("SIZE", Some("-1"))]));
        assert!(syntax(&[p("SIZE", Some("123456789012345678901"))]));
        assert!(syntax(&[p("SIZE", None)]));
        assert!(syntax(&[p("BODY", None)]));
        assert!(syntax(&[p("SMTPUTF8", Some("yes"))]));
        assert!(syntax(&[p("SIZE", Some("1")), p("SIZE", Some("2"))]));
        assert!(syntax(&[p("BODY", Some("7BIT")), p("BODY", Some("7BIT"))]));
        assert!(syntax(&[p("SMTPUTF8", None), p("SMTPUTF8", None)]));
        assert!(syntax(&[p("AUTH", None)]));
        assert!(syntax(&[p("AUTH", Some("a+2"))]));
        assert!(syntax(&[p("AUTH", Some("a+zz@b"))]));
        assert!(syntax(&[p("AUTH", Some("ü@b"))]));
        assert!(syntax(&[p("AUTH", Some("<>")), p("AUTH", Some("<>"))]));
        assert!(unsupported(&[p("AUTH", Some("<>"))], false, true));
        assert!(unsupported(&[p("BODY", Some("BINARYMIME"))], true, true));
        assert!(unsupported(&[p("RET", Some("FULL"))], true, true));
        assert!(unsupported(&[p("SMTPUTF8", None)], true, false));
        assert!(unsupported(&[p("SMTPUTF8", Some("x"))], true, false));
        // After HELO no parameter is known.
        assert!(unsupported(&[p("SIZE", Some("1"))], false, true));
        assert!(matches!(
            RcptParams::from_params(&[p("NOTIFY", Some("NEVER"))]),
            Err(ParamError::Unsupported(_))
        ));
    }

    // ---- DSN (RFC 3461) -----------------------------------------------------------

    fn mail_dsn(params: &[Param]) -> Result<MailParams, ParamError> {
        MailParams::from_params_with_dsn(params, true, true, true)
    }

    fn rcpt_dsn(params: &[Param]) -> Result<RcptParams, ParamError> {
        RcptParams::from_params_with_dsn(params, true, false)
    }

    fn is_syntax<T>(r: Result<T, ParamError>) -> bool {
        matches!(r, Err(ParamError::Syntax(_)))
    }

    fn is_unsupported<T>(r: Result<T, ParamError>) -> bool {
        matches!(r, Err(ParamError::Unsupported(_)))
    }

    #[test]
    fn ret_values() {
        for (v, want) in [
            ("FULL", Ret::Full),
            ("full", Ret::Full),
            ("Full", Ret::Full),
            ("HDRS", Ret::Headers),
            ("hdrs", Ret::Headers),
        ] {
            assert_eq!(
                mail_dsn(&[p("RET", Some(v))]).map(|m| m.ret),
                Ok(Some(want)),
                "{v}"
            );
        }
        assert_eq!(mail_dsn(&[]).map(|m| m.ret), Ok(None));
        for v in ["HEADERS", "FUL", "FULLY", "NONE", "HDRS,FULL"] {
            assert!(is_syntax(mail_dsn(&[p("RET", Some(v))])), "{v}");
        }
        assert!(is_syntax(mail_dsn(&[p("RET", None)])));
        assert!(is_syntax(mail_dsn(&[
            p("RET", Some("FULL")),
            p("RET", Some("FULL"))
        ])));
        assert!(is_syntax(mail_dsn(&[
            p("RET", Some("FULL")),
            p("RET", Some("HDRS"))
        ])));
    }

    #[test]
    fn envid_values() {
        for (v, want) in [
            ("QQ314159", "QQ314159"),
            ("a+2Bb", "a+b"),
            ("a+3Db", "a=b"),
            ("a+2bb", "a+b"),
            ("+20x+7E", " x~"),
            ("<id@host>", "<id@host>"),
        ] {
            assert_eq!(
                mail_dsn(&[p("ENVID", Some(v))]).map(|m| m.envid),
                Ok(Some(want.to_owned())),
                "{v}"
            );
        }
        // 100 characters after decoding is the limit, however long the xtext.
        let max = "+41".repeat(ENVID_MAX);
        assert_eq!(
            mail_dsn(&[p("ENVID", Some(&max))]).map(|m| m.envid),
            Ok(Some("A".repeat(ENVID_MAX)))
        );
        let over = "x".repeat(ENVID_MAX + 1);
        for v in [
            "a+2",
            "a+",
            "+ZZ",
            "+2G",
            "a=b",
            "+00",
            "+0A",
            "+7F",
            "+C3+A9",
            "é",
            over.as_str(),
        ] {
            assert!(is_syntax(mail_dsn(&[p("ENVID", Some(v))])), "{v}");
        }
        assert!(is_syntax(mail_dsn(&[p("ENVID", None)])));
        assert!(is_syntax(mail_dsn(&[
            p("ENVID", Some("a")),
            p("ENVID", Some("b"))
        ])));
    }

    #[test]
    fn dsn_mail_parameters_together() {
        let got = mail_dsn(&[
            p("RET", Some("HDRS")),
            p("SIZE", Some("10")),
            p("ENVID", Some("x+2By")),
            p("SMTPUTF8", None),
        ]);
        assert_eq!(
            got,
            Ok(MailParams {
                size: Some(10),
                body: Body::SevenBit,
                smtputf8: true,
                ret: Some(Ret::Headers),
                envid: Some("x+y".into()),
                requiretls: false,
            })
        );
    }

    #[test]
    fn dsn_parameters_unknown_when_disabled() {
        for param in [p("RET", Some("FULL")), p("ENVID", Some("x"))] {
            let params = std::slice::from_ref(&param);
            assert!(is_unsupported(MailParams::from_params(params, true, true)));
            assert!(is_unsupported(MailParams::from_params_with_dsn(
                params, true, true, false
            )));
            // After HELO nothing is known, DSN or not.
            assert!(is_unsupported(MailParams::from_params_with_dsn(
                params, false, true, true
            )));
        }
        for param in [p("NOTIFY", Some("NEVER")), p("ORCPT", Some("rfc822;a@b"))] {
            let params = std::slice::from_ref(&param);
            assert!(is_unsupported(RcptParams::from_params(params)));
            assert!(is_unsupported(RcptParams::from_params_with_dsn(
                params, false, true
            )));
        }
        // DSN on: other RCPT parameters stay unknown.
        assert!(is_unsupported(rcpt_dsn(&[p("SIZE", Some("1"))])));
        assert!(is_unsupported(rcpt_dsn(&[
            p("NOTIFY", Some("NEVER")),
            p("RRVS", Some("x"))
        ])));
        assert!(is_unsupported(mail_dsn(&[p("NOTIFY", Some("NEVER"))])));
        assert!(is_unsupported(rcpt_dsn(&[p("RET", Some("FULL"))])));
    }

    fn notify(never: bool, success: bool, failure: bool, delay: bool) -> Notify {
        Notify {
            never,
            success,
            failure,
            delay,
        }
    }

    #[test]
    fn notify_values() {
        for (v, want) in [
            ("NEVER", notify(true, false, false, false)),
            ("never", notify(true, false, false, false)),
            ("SUCCESS", notify(false, true, false, false)),
            ("Failure", notify(false, false, true, false)),
            ("delay", notify(false, false, false, true)),
            ("SUCCESS,FAILURE", notify(false, true, true, false)),
            ("FAILURE,DELAY", notify(false, false, true, true)),
            ("delay,success,FAILURE", notify(false, true, true, true)),
            ("SUCCESS,SUCCESS", notify(false, true, false, false)),
        ] {
            assert_eq!(
                rcpt_dsn(&[p("NOTIFY", Some(v))]).map(|r| r.notify),
                Ok(Some(want)),
                "{v}"
            );
        }
        assert_eq!(rcpt_dsn(&[]), Ok(RcptParams::default()));
        for v in [
            "NEVER,SUCCESS",
            "FAILURE,NEVER",
            "NEVER,NEVER",
            "SUCCESS,",
            ",DELAY",
            "SUCCESS,,DELAY",
            "SUCCESS;FAILURE",
            "BOUNCE",
            "SUCCES",
            "ALWAYS",
        ] {
            assert!(is_syntax(rcpt_dsn(&[p("NOTIFY", Some(v))])), "{v}");
        }
        assert!(is_syntax(rcpt_dsn(&[p("NOTIFY", None)])));
        assert!(is_syntax(rcpt_dsn(&[
            p("NOTIFY", Some("SUCCESS")),
            p("NOTIFY", Some("FAILURE"))
        ])));
    }

    #[test]
    fn orcpt_values() {
        for (v, want) in [
            ("rfc822;bob@example.org", "rfc822;bob@example.org"),
            ("RFC822;Bob@Example.ORG", "rfc822;Bob@Example.ORG"),
            ("rfc822;bob+2Btag@example.org", "rfc822;bob+tag@example.org"),
            ("rfc822;a+3Db@example.org", "rfc822;a=b@example.org"),
            (
                "rfc822;+22a+20b+22@example.org",
                "rfc822;\"a b\"@example.org",
            ),
            // Another registered or private type is kept, decoded, as opaque text.
            ("x400;/C+3Dde/S+3DMuller/", "x400;/C=de/S=Muller/"),
            ("X-Local;a+3Bb", "x-local;a;b"),
            // RFC 6533 utf-8-addr-xtext: ASCII with \x{HEX} escapes.
            ("utf-8;bob@example.org", "utf-8;bob@example.org"),
            (
                r"utf-8;j\x{F6}ran@b\x{FC}cher.example",
                "utf-8;jöran@bücher.example",
            ),
            (r"UTF-8;j\x{f6}ran@example.org", "utf-8;jöran@example.org"),
            (
                r"utf-8;\x{65E5}\x{672C}@example.jp",
                "utf-8;日本@example.jp",
            ),
            (r"utf-8;a\x{1F600}@example.org", "utf-8;a😀@example.org"),
            (
                r"utf-8;a\x{10FFFF}@example.org",
                "utf-8;a\u{10FFFF}@example.org",
            ),
            (r"utf-8;a\x{2B}b@example.org", "utf-8;a+b@example.org"),
            (r"utf-8;a\x{3D}b@example.org", "utf-8;a=b@example.org"),
            (
                r#"utf-8;"a\x{20}b"@example.org"#,
                "utf-8;\"a b\"@example.org",
            ),
            (
                r#"utf-8;"a\x{5C}\x{5C}b"@example.org"#,
                r#"utf-8;"a\\b"@example.org"#,
            ),
        ] {
            assert_eq!(
                rcpt_dsn(&[p("ORCPT", Some(v))]).map(|r| r.orcpt),
                Ok(Some(want.to_owned())),
                "{v}"
            );
        }
        let bad_utf8: &[&str] = &[
            "rfc822",
            "rfc822;",
            ";bob@example.org",
            "rfc(822;bob@example.org",
            "rfc822;a+2",
            "rfc822;a+zz@b",
            "rfc822;a=b@c",
            "rfc822;a+00b@c",
            "rfc822;a+C3+B6@c",
            "rfc822;jö@example.org",
            "utf-8;",
            "utf-8;nobody",
            "utf-8;a+2Bb@example.org",
            "utf-8;a=b@example.org",
            r"utf-8;a\b@example.org",
            r"utf-8;a\x{41}@example.org",
            r"utf-8;a\x{0F6}@example.org",
            r"utf-8;a\x{00F6}@example.org",
            r"utf-8;a\x{F}@example.org",
            r"utf-8;a\x{D800}@example.org",
            r"utf-8;a\x{110000}@example.org",
            r"utf-8;a\x{1000000}@example.org",
            r"utf-8;a\x{F6@example.org",
            r"utf-8;a\x{}@example.org",
            r"utf-8;a\x{G6}@example.org",
            r"utf-8;a\x{0A}@example.org",
            r"utf-8;a\x{5C}b@example.org",
            r"utf-8;jö@example.org",
        ];
        for v in bad_utf8 {
            assert!(is_syntax(rcpt_dsn(&[p("ORCPT", Some(v))])), "{v}");
        }
        assert!(is_syntax(rcpt_dsn(&[p("ORCPT", None)])));
        assert!(is_syntax(rcpt_dsn(&[
            p("ORCPT", Some("rfc822;a@b")),
            p("ORCPT", Some("rfc822;a@b"))
        ])));
    }

    #[test]
    fn orcpt_raw_utf8_needs_smtputf8() {
        let param = [p("ORCPT", Some("utf-8;jöran@bücher.example"))];
        assert_eq!(
            RcptParams::from_params_with_dsn(&param, true, true).map(|r| r.orcpt),
            Ok(Some("utf-8;jöran@bücher.example".into()))
        );
        assert!(is_syntax(RcptParams::from_params_with_dsn(
            &param, true, false
        )));
        // Mixed raw and escaped form.
        let param = [p("ORCPT", Some(r"utf-8;jö\x{72}an@example.org"))];
        assert!(is_syntax(RcptParams::from_params_with_dsn(
            &param, true, true
        )));
        let param = [p("ORCPT", Some(r"utf-8;jö\x{E4}n@example.org"))];
        assert_eq!(
            RcptParams::from_params_with_dsn(&param, true, true).map(|r| r.orcpt),
            Ok(Some("utf-8;jöän@example.org".into()))
        );
        // rfc822 stays ASCII xtext even with SMTPUTF8.
        let param = [p("ORCPT", Some("rfc822;jö@example.org"))];
        assert!(is_syntax(RcptParams::from_params_with_dsn(
            &param, true, true
        )));
    }

    #[test]
    fn orcpt_length_limit() {
        let value = |len: usize| {
            let prefix = "rfc822;";
            let suffix = "@example.org";
            format!(
                "{prefix}{}{suffix}",
                "a".repeat(len - prefix.len() - suffix.len())
            )
        };
        let ok = value(ORCPT_MAX);
        assert_eq!(ok.len(), ORCPT_MAX);
        assert_eq!(
            rcpt_dsn(&[p("ORCPT", Some(&ok))]).map(|r| r.orcpt),
            Ok(Some(ok.clone()))
        );
        assert!(is_syntax(rcpt_dsn(&[p(
            "ORCPT",
            Some(&value(ORCPT_MAX + 1))
        )])));
    }

    #[test]
    fn both_rcpt_parameters() {
        assert_eq!(
            rcpt_dsn(&[
                p("ORCPT", Some("rfc822;b+2Bx@example.org")),
                p("NOTIFY", Some("FAILURE,DELAY")),
            ]),
            Ok(RcptParams {
                notify: Some(notify(false, false, true, true)),
                orcpt: Some("rfc822;b+x@example.org".into()),
            })
        );
    }

    #[test]
    fn xtext_decoding() {
        assert_eq!(xtext_decode("+2B").as_deref(), Some("+"));
        assert_eq!(xtext_decode("+3D").as_deref(), Some("="));
        assert_eq!(xtext_decode("a+2b+3dc").as_deref(), Some("a+=c"));
        assert_eq!(xtext_decode("+41+42C").as_deref(), Some("ABC"));
        assert_eq!(xtext_decode("+C3+A9").as_deref(), Some("é"));
        assert_eq!(xtext_decode("plain").as_deref(), Some("plain"));
        for bad in [
            "", "+", "+2", "a+", "+2G", "+G2", "+-1", "a b", "a=b", "+FF", "é",
        ] {
            assert_eq!(xtext_decode(bad), None, "{bad}");
        }
    }
}
