//! The two texts of MTA-STS (RFC 8461), read without I/O: the `_mta-sts`
//! TXT record (section 3.1) and the policy file (section 3.2), and the
//! matching of MX host names against the policy's `mx` patterns (section
//! 4.1).

/// The largest `max_age` honoured (RFC 8461 section 3.2: about one year);
/// larger values are cut down to it.
pub const MAX_AGE_LIMIT: u32 = 31_557_600;

/// What a policy asks of senders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Deliver only to matching MX hosts with a valid certificate.
    Enforce,
    /// Deliver as without a policy, and report what would have failed.
    Testing,
    /// The domain withdrew its policy.
    None,
}

impl Mode {
    /// The policy file's word for the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Testing => "testing",
            Mode::None => "none",
        }
    }
}

/// One `mx` line: a host name, or `*.` and a domain for any host exactly
/// one label below it. Lower case, no trailing dot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MxPattern(String);

impl MxPattern {
    /// Reads one pattern; `None` when it is no host name (or wildcard).
    pub fn parse(text: &str) -> Option<MxPattern> {
        let text = text.trim().trim_end_matches('.').to_ascii_lowercase();
        let name = text.strip_prefix("*.").unwrap_or(&text);
        let valid_label = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        // At least two labels: a pattern for a top-level domain is a mistake.
        (name.len() <= 253 && name.contains('.') && name.split('.').all(valid_label))
            .then_some(MxPattern(text))
    }

    /// True when `host` (an MX host name, any case, trailing dot or not)
    /// is this name, or for a wildcard, exactly one label below its
    /// domain (`*.example.com` takes `mx.example.com`, not
    /// `a.mx.example.com` nor `example.com`).
    pub fn matches(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        match self.0.strip_prefix("*.") {
            Some(domain) => host
                .split_once('.')
                .is_some_and(|(label, rest)| !label.is_empty() && rest == domain),
            None => host == self.0,
        }
    }

    /// The pattern as written in the policy (lower case).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A parsed MTA-STS policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// What it asks.
    pub mode: Mode,
    /// The MX hosts it allows.
    pub mx: Vec<MxPattern>,
    /// Seconds it stays valid after it was fetched, at most
    /// [`MAX_AGE_LIMIT`].
    pub max_age: u32,
}

/// Why a policy file or TXT record was not taken.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A required field is missing.
    #[error("no {0} field")]
    Missing(&'static str),
    /// A field has a value the RFC does not allow.
    #[error("bad {field}: {value:?}")]
    Bad {
        /// The field.
        field: &'static str,
        /// Its value.
        value: String,
    },
    /// A line is not `key: value`.
    #[error("not a policy line: {0:?}")]
    Line(String),
}

impl Policy {
    /// The policy as lines of a policy file, in a fixed order (the
    /// `policy-string` of a TLS-RPT report, RFC 8460 section 4.4; the
    /// fields we keep, not the file's own lines).
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![
            "version: STSv1".to_string(),
            format!("mode: {}", self.mode.as_str()),
        ];
        out.extend(self.mx.iter().map(|p| format!("mx: {}", p.as_str())));
        out.push(format!("max_age: {}", self.max_age));
        out
    }

    /// Reads a policy file (RFC 8461 section 3.2): `key: value` lines,
    /// ending with CRLF or LF; `version: STSv1`, `mode` and `max_age` are
    /// required, `mx` at least once unless the mode is `none`; unknown
    /// keys are ignored, and for a key given twice the first counts.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let mut version = None;
        let mut mode = None;
        let mut max_age = None;
        let mut mx = Vec::new();
        for line in text.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim().is_empty() {
                continue;
            }
            let Some((key, value)) = line.split_once(':') else {
                return Err(PolicyError::Line(line.chars().take(80).collect()));
            };
            let (key, value) = (key.trim(), value.trim());
            let bad = |field| PolicyError::Bad {
                field,
                value: value.chars().take(80).collect(),
            };
            match key {
                "version" if version.is_none() => {
                    if value != "STSv1" {
                        return Err(bad("version"));
                    }
                    version = Some(());
                }
                "mode" if mode.is_none() => {
                    mode = Some(match value {
                        "enforce" => Mode::Enforce,
                        "testing" => Mode::Testing,
                        "none" => Mode::None,
                        _ => return Err(bad("mode")),
                    });
                }
                "max_age" if max_age.is_none() => {
                    // 1*10DIGIT; anything longer than a year is cut down.
                    if value.is_empty()
                        || value.len() > 10
                        || !value.bytes().all(|b| b.is_ascii_digit())
                    {
                        return Err(bad("max_age"));
                    }
                    let n: u64 = value.parse().map_err(|_| bad("max_age"))?;
                    max_age = Some(n.min(u64::from(MAX_AGE_LIMIT)) as u32);
                }
                "mx" => mx.push(MxPattern::parse(value).ok_or_else(|| bad("mx"))?),
                _ => {}
            }
        }
        version.ok_or(PolicyError::Missing("version"))?;
        let mode = mode.ok_or(PolicyError::Missing("mode"))?;
        let max_age = max_age.ok_or(PolicyError::Missing("max_age"))?;
        if mx.is_empty() && mode != Mode::None {
            return Err(PolicyError::Missing("mx"));
        }
        Ok(Policy { mode, mx, max_age })
    }

    /// True when the MX host `host` matches one of the policy's patterns.
    pub fn allows(&self, host: &str) -> bool {
        self.mx.iter().any(|p| p.matches(host))
    }
}

/// Reads one TXT record at `_mta-sts.DOMAIN` (RFC 8461 section 3.1):
/// `v=STSv1; id=...;` with `v` first; returns the id. `None` for a record
/// that does not start with `v=STSv1` (another use of the name).
pub fn txt_id(record: &str) -> Option<Result<String, PolicyError>> {
    let mut fields = record.split(';').map(str::trim);
    let first = fields.next()?;
    if first != "v=STSv1" {
        return None;
    }
    let mut id = None;
    for field in fields {
        if field.is_empty() {
            continue;
        }
        let Some((key, value)) = field.split_once('=') else {
            return Some(Err(PolicyError::Line(field.chars().take(80).collect())));
        };
        if key == "id" && id.is_none() {
            // 1*32(ALPHA / DIGIT)
            if value.is_empty()
                || value.len() > 32
                || !value.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                return Some(Err(PolicyError::Bad {
                    field: "id",
                    value: value.chars().take(80).collect(),
                }));
            }
            id = Some(value.to_string());
        }
    }
    Some(id.ok_or(PolicyError::Missing("id")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n";

    #[test]
    fn the_rfc_example_policy() {
        let p = Policy::parse(GOOD).unwrap();
        assert_eq!(p.mode, Mode::Enforce);
        assert_eq!(p.max_age, 604_800);
        assert_eq!(p.mx.len(), 3);
        assert!(p.allows("mail.example.com"));
        assert!(p.allows("MAIL.Example.COM."));
        assert!(p.allows("mx1.example.net"));
        assert!(p.allows("backupmx.example.com"));
        assert!(!p.allows("example.net"));
        assert!(!p.allows("a.b.example.net"));
        assert!(!p.allows("mail.example.org"));
        assert!(!p.allows("xmail.example.com"));
    }

    #[test]
    fn line_ends_spaces_unknown_keys_and_repeats() {
        let p = Policy::parse(
            "version:STSv1\nmode:   testing  \nfuture_key: whatever\nmx:mx.a.test\nmax_age: 60\nmode: enforce\n\n",
        )
        .unwrap();
        assert_eq!(p.mode, Mode::Testing, "the first mode counts");
        assert_eq!(p.max_age, 60);
        assert!(p.allows("mx.a.test"));
    }

    #[test]
    fn max_age_is_capped() {
        let p = Policy::parse("version: STSv1\nmode: none\nmax_age: 9999999999\n").unwrap();
        assert_eq!(p.max_age, MAX_AGE_LIMIT);
        assert_eq!(p.mode, Mode::None);
        assert!(p.mx.is_empty());
    }

    #[test]
    fn bad_policies() {
        let cases = [
            ("mode: enforce\nmx: a.b\nmax_age: 1\n", "version"),
            (
                "version: STSv2\nmode: enforce\nmx: a.b\nmax_age: 1\n",
                "version",
            ),
            ("version: STSv1\nmx: a.b\nmax_age: 1\n", "mode"),
            (
                "version: STSv1\nmode: strict\nmx: a.b\nmax_age: 1\n",
                "mode",
            ),
            ("version: STSv1\nmode: enforce\nmx: a.b\n", "max_age"),
            (
                "version: STSv1\nmode: enforce\nmx: a.b\nmax_age: -1\n",
                "max_age",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 12345678901\n",
                "max_age",
            ),
            ("version: STSv1\nmode: enforce\nmax_age: 1\n", "mx"),
            (
                "version: STSv1\nmode: enforce\nmx: *.*.b\nmax_age: 1\n",
                "mx",
            ),
            ("version: STSv1\nmode: enforce\nmx: com\nmax_age: 1\n", "mx"),
            ("<html>not found</html>\n", "not a policy line"),
        ];
        for (text, what) in cases {
            let e = Policy::parse(text).expect_err(text).to_string();
            assert!(e.contains(what), "{text:?}: {e}");
        }
    }

    #[test]
    fn wildcards_take_one_label() {
        let p = MxPattern::parse("*.Example.COM.").unwrap();
        assert_eq!(p.as_str(), "*.example.com");
        assert!(p.matches("mx.example.com"));
        assert!(!p.matches("example.com"));
        assert!(!p.matches("a.mx.example.com"));
        assert!(!p.matches(".example.com"));
        assert!(!p.matches("mxexample.com"));
        let exact = MxPattern::parse("mx.example.com").unwrap();
        assert!(exact.matches("mx.example.com."));
        assert!(!exact.matches("a.mx.example.com"));
        assert!(MxPattern::parse("*.").is_none());
        assert!(MxPattern::parse("mx.exa mple.com").is_none());
        assert!(MxPattern::parse("*mx.example.com").is_none());
    }

    #[test]
    fn txt_records() {
        assert_eq!(
            txt_id("v=STSv1; id=20160831085700Z;"),
            Some(Ok("20160831085700Z".into()))
        );
        assert_eq!(txt_id("v=STSv1;id=abc"), Some(Ok("abc".into())));
        assert_eq!(txt_id("v=STSv1; ext=1; id=A1 ;"), Some(Ok("A1".into())));
        assert_eq!(txt_id("v=spf1 -all"), None);
        assert_eq!(txt_id("id=abc; v=STSv1"), None);
        assert!(matches!(
            txt_id("v=STSv1;"),
            Some(Err(PolicyError::Missing("id")))
        ));
        assert!(matches!(txt_id("v=STSv1; id=a-b"), Some(Err(_))));
        assert!(matches!(
            txt_id(&format!("v=STSv1; id={}", "a".repeat(33))),
            Some(Err(_))
        ));
    }
}
