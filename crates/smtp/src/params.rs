//! The meaning of MAIL and RCPT parameters: SIZE (RFC 1870), BODY (RFC 6152),
//! SMTPUTF8 (RFC 6531), and MAIL's AUTH parameter (RFC 4954 section 5).

use crate::command::Param;

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
}

/// RCPT TO parameters the engine understood. None are supported yet, so any
/// parameter is refused; the type exists so that DSN's NOTIFY/ORCPT can be added
/// without changing signatures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RcptParams {}

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
    /// allowed; `smtputf8_enabled` mirrors whether SMTPUTF8 was advertised.
    pub fn from_params(
        params: &[Param],
        esmtp: bool,
        smtputf8_enabled: bool,
    ) -> Result<Self, ParamError> {
        let mut out = MailParams::default();
        let (mut seen_size, mut seen_body, mut seen_auth) = (false, false, false);
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
                _ => return Err(unsupported(p)),
            }
        }
        Ok(out)
    }
}

impl RcptParams {
    /// Interpret RCPT parameters: none are supported yet.
    pub fn from_params(params: &[Param]) -> Result<Self, ParamError> {
        match params.first() {
            Some(p) => Err(unsupported(p)),
            None => Ok(RcptParams {}),
        }
    }
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
        assert_eq!(RcptParams::from_params(&[]), Ok(RcptParams {}));
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
                smtputf8: true
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
}
