//! Removing `Authentication-Results` fields that claim to be ours (RFC 8601
//! §5): a field with our authserv-id that arrived from outside is a
//! forgery, and a reader could not tell it from the one we add.

/// `message` (a header section, or a whole message: only the header is
/// looked at) without the `Authentication-Results` fields whose
/// authserv-id is `authserv_id` (compared without regard to ASCII case),
/// continuation lines included. Everything else is kept byte for byte.
pub fn strip_authentication_results(message: &[u8], authserv_id: &str) -> Vec<u8> {
    strip_where(message, |line, tail| {
        field_value(line, b"authentication-results").is_some_and(|value| {
            // The authserv-id may sit on a continuation line.
            let mut whole = value.to_vec();
            whole.extend_from_slice(&tail[..field_extent(tail)]);
            authserv_id_of(&whole).is_some_and(|id| id.eq_ignore_ascii_case(authserv_id))
        })
    })
}

/// `header` without the fields for whose first line (and the rest of the
/// header after it) `drop` says yes, continuation lines included; the
/// body, after the blank line, is copied as it is.
fn strip_where(header: &[u8], drop: impl Fn(&[u8], &[u8]) -> bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(header.len());
    let mut rest = header;
    let mut dropping = false;
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let (line, tail) = rest.split_at(end);
        if is_blank(line) {
            out.extend_from_slice(rest);
            return out;
        }
        if !matches!(line.first(), Some(b' ' | b'\t')) {
            dropping = drop(line, tail);
        }
        if !dropping {
            out.extend_from_slice(line);
        }
        rest = tail;
    }
    out
}

/// The spam marks we add ourselves: a sender must not pre-mark a message,
/// nor pre-clear it, with fields of these names.
pub const SPAM_FIELDS: [&str; 3] = ["X-Spam-Flag", "X-Spam-Status", "X-Spam-Score"];

/// `header` (a header section, or a whole message: only the header is
/// looked at) without the fields named in `names` (any ASCII case),
/// continuation lines included. Everything else is kept byte for byte.
pub fn strip_fields(header: &[u8], names: &[&str]) -> Vec<u8> {
    strip_where(header, |line, _| {
        names
            .iter()
            .any(|n| field_value(line, n.as_bytes()).is_some())
    })
}

fn is_blank(line: &[u8]) -> bool {
    line == b"\r\n" || line == b"\n"
}

/// The value after `name:` when `line` starts the field `name`.
fn field_value<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let colon = line.iter().position(|&b| b == b':')?;
    let field = line[..colon].trim_ascii_end();
    field.eq_ignore_ascii_case(name).then(|| &line[colon + 1..])
}

/// How many bytes of `tail` are continuation lines of the current field.
fn field_extent(tail: &[u8]) -> usize {
    let mut len = 0;
    let mut rest = tail;
    while matches!(rest.first(), Some(b' ' | b'\t')) {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        len += end;
        rest = &rest[end..];
    }
    len
}

/// The authserv-id: the first value of the field after any CFWS, a token
/// or a quoted-string (RFC 8601 §2.2).
fn authserv_id_of(value: &[u8]) -> Option<String> {
    let mut i = 0;
    skip_cfws(value, &mut i);
    if value.get(i) == Some(&b'"') {
        i += 1;
        let mut id = Vec::new();
        while let Some(&b) = value.get(i) {
            i += 1;
            match b {
                b'"' => return String::from_utf8(id).ok(),
                b'\\' => {
                    if let Some(&next) = value.get(i) {
                        id.push(next);
                        i += 1;
                    }
                }
                b'\r' | b'\n' => {}
                _ => id.push(b),
            }
        }
        return None;
    }
    let start = i;
    while let Some(&b) = value.get(i) {
        if b.is_ascii_whitespace() || matches!(b, b';' | b'(') {
            break;
        }
        i += 1;
    }
    (i > start).then(|| String::from_utf8_lossy(&value[start..i]).into_owned())
}

/// Skips whitespace, line folds and (nested) comments.
fn skip_cfws(value: &[u8], i: &mut usize) {
    loop {
        while value.get(*i).is_some_and(|b| b.is_ascii_whitespace()) {
            *i += 1;
        }
        if value.get(*i) != Some(&b'(') {
            return;
        }
        let mut depth = 0usize;
        while let Some(&b) = value.get(*i) {
            *i += 1;
            match b {
                b'\\' => *i += 1,
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: &str = "mx.example.net";

    fn strip(s: &str) -> String {
        String::from_utf8(strip_authentication_results(s.as_bytes(), OURS)).unwrap()
    }

    #[test]
    fn removes_only_ours_case_insensitively_with_folds() {
        let message = "Received: from a\r\n\tby b\r\n\
            Authentication-Results: MX.Example.NET;\r\n\tdkim=pass header.d=bank.example\r\n\
            authentication-results : other.example; spf=fail\r\n\
            AUTHENTICATION-RESULTS:\r\n mx.example.net; dmarc=pass\r\n\
            Authentication-Results: (forged) \"mx.example.net\" ; arc=pass\r\n\
            Authentication-Results: mx.example.net.evil; spf=pass\r\n\
            Subject: hi\r\n\
            \r\n\
            Authentication-Results: mx.example.net; in the body\r\n";
        assert_eq!(
            strip(message),
            "Received: from a\r\n\tby b\r\n\
             authentication-results : other.example; spf=fail\r\n\
             Authentication-Results: mx.example.net.evil; spf=pass\r\n\
             Subject: hi\r\n\
             \r\n\
             Authentication-Results: mx.example.net; in the body\r\n"
        );
    }

    #[test]
    fn header_without_body_and_bare_lf() {
        assert_eq!(
            strip("Authentication-Results: mx.example.net; none\nFrom: a@b\n"),
            "From: a@b\n"
        );
        assert_eq!(strip(""), "");
    }

    #[test]
    fn fields_named_alike_are_kept() {
        let message = "X-Authentication-Results: mx.example.net; spf=pass\r\n\
            ARC-Authentication-Results: i=1; mx.example.net; spf=pass\r\n\r\n";
        assert_eq!(strip(message), message);
    }
}
