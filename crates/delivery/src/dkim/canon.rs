//! The "relaxed" canonicalization of RFC 6376 §3.4.2 (header fields) and
//! §3.4.4 (body), and the split of a message into its header fields and body.
//!
//! We do this ourselves rather than through mail-auth: mail-auth 0.13.3
//! hashes a body that ends in whitespace-only lines wrongly (those lines
//! become empty once their trailing whitespace is removed, so they are
//! "empty lines at the end" and must be dropped), and the whole algorithm
//! is a few dozen lines.
//!
//! Line ends: a message on the wire has CRLF line ends; a bare LF is taken
//! as a line end too (and becomes CRLF in the canonical form), so that a
//! caller holding LF text still gets the signature of what SMTP will send.

/// One header field as it appears in the message: its name and its whole
/// text (name, colon, value, folding), without the final line end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field<'a> {
    /// The field name as written (before the colon, trailing WSP removed).
    pub name: &'a [u8],
    /// The physical lines of the field, each without its line end.
    pub lines: Vec<&'a [u8]>,
}

fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// The message's lines, without their line ends (CRLF or LF). A final line
/// end does not start another (empty) line.
fn lines(message: &[u8]) -> Vec<&[u8]> {
    let mut out: Vec<&[u8]> = message.split(|&b| b == b'\n').collect();
    if message.ends_with(b"\n") || message.is_empty() {
        out.pop();
    }
    out.into_iter()
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect()
}

/// Splits a message into its header fields and its body lines.
///
/// Lines of the header section that are neither a field (`name:`) nor a
/// continuation are kept as fields without a name, so they are never
/// signed but do not end the header section either.
pub(crate) fn split(message: &[u8]) -> (Vec<Field<'_>>, Vec<&[u8]>) {
    let all = lines(message);
    let mut fields: Vec<Field<'_>> = Vec::new();
    let mut i = 0;
    while i < all.len() {
        let line = all[i];
        if line.is_empty() {
            return (fields, all[i + 1..].to_vec());
        }
        if is_wsp(line[0])
            && let Some(f) = fields.last_mut()
        {
            f.lines.push(line);
            i += 1;
            continue;
        }
        let name = match line.iter().position(|&b| b == b':') {
            Some(p) => trim_end(&line[..p]),
            None => &[][..],
        };
        fields.push(Field {
            name,
            lines: vec![line],
        });
        i += 1;
    }
    (fields, Vec::new())
}

fn trim_end(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., last] = s {
        if is_wsp(*last) {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Appends `s` with every run of WSP reduced to one space.
fn push_collapsed(out: &mut Vec<u8>, s: &[u8]) {
    let mut in_wsp = false;
    for &b in s {
        if is_wsp(b) {
            if !in_wsp {
                out.push(b' ');
            }
            in_wsp = true;
        } else {
            out.push(b);
            in_wsp = false;
        }
    }
}

/// Relaxed header canonicalization (§3.4.2) of one field given as its
/// physical lines: lower-case name, unfolded, WSP runs reduced to one space,
/// no WSP around the colon or at the end, then CRLF.
pub(crate) fn relaxed_header(lines: &[&[u8]]) -> Vec<u8> {
    // Unfolding removes the line ends; the continuation lines keep their
    // leading WSP, which the collapsing then turns into one space.
    let joined: Vec<u8> = lines.concat();
    let colon = joined
        .iter()
        .position(|&b| b == b':')
        .unwrap_or(joined.len());
    let mut out = trim_end(&joined[..colon]).to_ascii_lowercase();
    out.push(b':');
    let mut value = Vec::new();
    if colon < joined.len() {
        push_collapsed(&mut value, &joined[colon + 1..]);
    }
    let value = trim_end(&value);
    let value = value.strip_prefix(b" ").unwrap_or(value);
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
    out
}

/// Relaxed body canonicalization (§3.4.4): trailing WSP of each line
/// removed, WSP runs reduced to one space, all empty lines at the end
/// dropped (including lines that held only whitespace), CRLF line ends.
/// An empty body stays empty.
pub(crate) fn relaxed_body(body: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut pending_empty = 0usize;
    for line in body {
        let mut l = Vec::with_capacity(line.len());
        push_collapsed(&mut l, trim_end(line));
        if l.is_empty() {
            pending_empty += 1;
            continue;
        }
        for _ in 0..pending_empty {
            out.extend_from_slice(b"\r\n");
        }
        pending_empty = 0;
        out.extend_from_slice(&l);
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(msg: &[u8]) -> Vec<u8> {
        let (_, b) = split(msg);
        relaxed_body(&b)
    }

    #[test]
    fn rfc6376_example() {
        // RFC 6376 §3.4.5.
        let msg = b"A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n";
        let (fields, b) = split(msg);
        assert_eq!(relaxed_header(&fields[0].lines), b"a:X\r\n");
        assert_eq!(relaxed_header(&fields[1].lines), b"b:Y Z\r\n");
        assert_eq!(fields[1].name, b"B");
        assert_eq!(relaxed_body(&b), b" C\r\nD E\r\n");
    }

    #[test]
    fn whitespace_only_lines_at_the_end_are_dropped() {
        assert_eq!(
            body(b"S: x\r\n\r\nhello\r\n \r\n\t\r\n  \t \r\n"),
            b"hello\r\n"
        );
        assert_eq!(
            body(b"S: x\r\n\r\nhello\r\n \r\n\r\nworld \r\n"),
            b"hello\r\n\r\n\r\nworld\r\n"
        );
    }

    #[test]
    fn empty_and_unterminated_bodies() {
        assert_eq!(body(b"S: x\r\n\r\n"), b"");
        assert_eq!(body(b"S: x\r\n\r\n\r\n \r\n"), b"");
        assert_eq!(body(b"S: x\r\n"), b"");
        assert_eq!(body(b"S: x\r\n\r\nno newline"), b"no newline\r\n");
        assert_eq!(body(b"S: x\n\nlf  only\n\n"), b"lf only\r\n");
    }

    #[test]
    fn header_without_value_and_odd_lines() {
        let (f, _) = split(b"Subject:\r\nX-Empty :   \r\n\r\n");
        assert_eq!(relaxed_header(&f[0].lines), b"subject:\r\n");
        assert_eq!(relaxed_header(&f[1].lines), b"x-empty:\r\n");
        assert_eq!(f[1].name, b"X-Empty");
    }
}
