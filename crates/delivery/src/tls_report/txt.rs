//! The TLS-RPT TXT record (RFC 8460 section 3) at `_smtp._tls.DOMAIN`,
//! sans-I/O: `v=TLSRPTv1; rua=mailto:a@example.net,https://r.example/x`.
//! Records that do not start with the version are not TLS-RPT records;
//! when not exactly one remains, the domain has none (section 3).

/// Where a domain wants its reports (one `rua` URI).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rua {
    /// `mailto:` with the address, percent-decoded, without `?` fields.
    Mailto(String),
    /// `https:` (section 5.4), which we do not send to: the URI.
    Https(String),
    /// Any other scheme: the URI.
    Other(String),
}

/// Why a domain has no usable record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// No TXT record starts with `v=TLSRPTv1`.
    #[error("no TLS-RPT record")]
    None,
    /// More than one does (section 3: then there is none).
    #[error("{0} TLS-RPT records (there must be one)")]
    Several(usize),
    /// The one record is malformed.
    #[error("bad TLS-RPT record: {0}")]
    Bad(String),
}

/// The version tag every record starts with.
const VERSION: &str = "v=TLSRPTv1";

/// The `rua` URIs of the one TLS-RPT record among a name's TXT records.
pub fn parse_records(txts: &[String]) -> Result<Vec<Rua>, RecordError> {
    let ours: Vec<&String> = txts.iter().filter(|t| is_tlsrpt(t)).collect();
    match ours.as_slice() {
        [] => Err(RecordError::None),
        [one] => parse(one),
        many => Err(RecordError::Several(many.len())),
    }
}

/// Whether a TXT record is a TLS-RPT record: the version, then the end or
/// a field delimiter.
fn is_tlsrpt(txt: &str) -> bool {
    txt.strip_prefix(VERSION).is_some_and(|rest| {
        rest.trim_start_matches([' ', '\t']).is_empty()
            || rest.trim_start_matches([' ', '\t']).starts_with(';')
    })
}

/// Parses one record: the `rua` field (required, once), extensions
/// ignored.
pub fn parse(record: &str) -> Result<Vec<Rua>, RecordError> {
    let bad = |why: &str| RecordError::Bad(why.to_string());
    let mut fields = record.split(';').map(|f| f.trim_matches([' ', '\t']));
    if fields.next() != Some(VERSION) {
        return Err(bad("does not start with v=TLSRPTv1"));
    }
    let mut rua = None;
    for field in fields {
        if field.is_empty() {
            // A trailing delimiter.
            continue;
        }
        let Some((name, value)) = field.split_once('=') else {
            return Err(RecordError::Bad(format!("not a field: {field:?}")));
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return Err(RecordError::Bad(format!("bad field name: {name:?}")));
        }
        if name != "rua" {
            continue;
        }
        if rua.is_some() {
            return Err(bad("rua given twice"));
        }
        let uris: Vec<Rua> = value
            .split(',')
            .map(|u| u.trim_matches([' ', '\t']))
            .filter(|u| !u.is_empty())
            .map(uri)
            .collect();
        if uris.is_empty() {
            return Err(bad("empty rua"));
        }
        rua = Some(uris);
    }
    rua.ok_or_else(|| bad("no rua"))
}

/// One URI by its scheme.
fn uri(text: &str) -> Rua {
    let lower = text.to_ascii_lowercase();
    if lower.starts_with("mailto:") {
        let rest = &text["mailto:".len()..];
        let address = rest.split('?').next().unwrap_or_default();
        match percent_decode(address) {
            Some(a) => Rua::Mailto(a),
            None => Rua::Other(text.to_string()),
        }
    } else if lower.starts_with("https:") {
        Rua::Https(text.to_string())
    } else {
        Rua::Other(text.to_string())
    }
}

/// `%XX` escapes decoded; `None` for a broken escape or text that is not
/// UTF-8 after decoding.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(txts: &[&str]) -> Result<Vec<Rua>, RecordError> {
        let txts: Vec<String> = txts.iter().map(|t| t.to_string()).collect();
        parse_records(&txts)
    }

    #[test]
    fn one_mailto() {
        assert_eq!(
            records(&["v=TLSRPTv1; rua=mailto:reports@example.net"]),
            Ok(vec![Rua::Mailto("reports@example.net".into())])
        );
    }

    #[test]
    fn several_rua_uris_with_spaces_and_schemes() {
        assert_eq!(
            records(&[
                "v=TLSRPTv1;rua=mailto:a@example.net , https://r.example.net/v1,mailto:b%40x@example.org?subject=x;"
            ]),
            Ok(vec![
                Rua::Mailto("a@example.net".into()),
                Rua::Https("https://r.example.net/v1".into()),
                Rua::Mailto("b@x@example.org".into()),
            ])
        );
    }

    #[test]
    fn other_txt_records_are_ignored_and_extensions_too() {
        assert_eq!(
            records(&[
                "v=spf1 -all",
                "v=TLSRPTv10; rua=mailto:no@example.net",
                "v=TLSRPTv1; ext-1=yes; rua=MAILTO:r@example.net",
            ]),
            Ok(vec![Rua::Mailto("r@example.net".into())])
        );
    }

    #[test]
    fn no_record_or_several_is_none() {
        assert_eq!(records(&[]), Err(RecordError::None));
        assert_eq!(records(&["v=STSv1; id=1"]), Err(RecordError::None));
        assert_eq!(
            records(&[
                "v=TLSRPTv1; rua=mailto:a@example.net",
                "v=TLSRPTv1; rua=mailto:b@example.net",
            ]),
            Err(RecordError::Several(2))
        );
    }

    #[test]
    fn bad_records_are_refused() {
        for bad in [
            "v=TLSRPTv1",
            "v=TLSRPTv1;",
            "v=TLSRPTv1; rua=",
            "v=TLSRPTv1; rua=mailto:a@x.test; rua=mailto:b@x.test",
            "v=TLSRPTv1; rua",
            "v=TLSRPTv1; =x; rua=mailto:a@x.test",
        ] {
            assert!(
                matches!(records(&[bad]), Err(RecordError::Bad(_))),
                "{bad}: {:?}",
                records(&[bad])
            );
        }
        assert_eq!(
            records(&["v=TLSRPTv1; rua=mailto:a%zz@x.test,ftp://x"]),
            Ok(vec![
                Rua::Other("mailto:a%zz@x.test".into()),
                Rua::Other("ftp://x".into())
            ])
        );
    }
}
