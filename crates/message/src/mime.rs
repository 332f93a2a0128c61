//! The little MIME the messages we write need, written by hand: header
//! folding, header parsing and line-end repair (base64 and RFC 2047 words
//! are in their own modules).

/// The longest line SMTP carries, without its CRLF (RFC 5321 §4.5.3.1.6,
/// RFC 5322 §2.1.1).
pub const MAX_LINE: usize = 998;

/// Where header fields are folded when there is whitespace to fold at.
const FOLD_AT: usize = 78;

/// Longest piece of a single word (no whitespace) kept on one line before it
/// is split by force; leaves room for the field name and the folding space.
const HARD_SPLIT: usize = 900;

/// Appends `Name: value` CRLF, folded at spaces near 78 octets. `value` must
/// be one line (callers clean it with [`one_line`]). A run of more than 900
/// octets without a space is split by force at a character boundary; the
/// fold then adds a space when the field is unfolded, which only happens to
/// values no real peer sends.
pub fn push_field(out: &mut Vec<u8>, name: &str, value: &str) {
    let mut line_len = name.len() + 1;
    out.extend_from_slice(name.as_bytes());
    out.push(b':');
    let mut first = true;
    for word in value.split(' ') {
        for piece in split_long(word, HARD_SPLIT) {
            // A leading space separates the word from what precedes it; an
            // empty piece (from a doubled space) still needs its space.
            if !first && line_len + 1 + piece.len() > FOLD_AT && line_len > name.len() + 1 {
                out.extend_from_slice(b"\r\n");
                line_len = 0;
            }
            out.push(b' ');
            out.extend_from_slice(piece.as_bytes());
            line_len += 1 + piece.len();
            first = false;
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Splits `s` into pieces of at most `max` octets at character boundaries.
fn split_long(s: &str, max: usize) -> Vec<&str> {
    if s.len() <= max {
        return vec![s];
    }
    let mut pieces = Vec::new();
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if i + c.len_utf8() - start > max {
            pieces.push(&s[start..i]);
            start = i;
        }
    }
    pieces.push(&s[start..]);
    pieces
}

/// One line of printable text: control characters (CR, LF, TAB, DEL, C1)
/// become spaces, runs of whitespace collapse to one space, ends trimmed.
/// Used on everything a peer controls before it goes into a header field.
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if c.is_whitespace() {
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
    }
    while out.ends_with(' ') {
        out.pop();
    }
    out
}

/// Breaks any line of `text` (LF-separated) longer than [`MAX_LINE`] octets,
/// preferring the last space before the limit, and returns CRLF line ends.
pub fn crlf_lines(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 16);
    for line in text.split('\n') {
        let mut rest = line.trim_end_matches('\r');
        while rest.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            if let Some(space) = rest[..cut].rfind(' ').filter(|&p| p > 0) {
                cut = space;
            }
            out.extend_from_slice(&rest.as_bytes()[..cut]);
            out.extend_from_slice(b"\r\n");
            rest = rest[cut..].trim_start_matches(' ');
        }
        out.extend_from_slice(rest.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    // `split` yields a final empty piece after a trailing LF: drop its CRLF.
    if text.ends_with('\n') {
        out.truncate(out.len() - 2);
    }
    out
}

/// Line ends repaired to CRLF: a bare LF or a bare CR becomes CRLF.
pub fn normalize_crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if data.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// True when every line (CRLF-separated) is at most [`MAX_LINE`] octets and
/// there is no NUL: the content can travel as 7bit or 8bit.
pub fn lines_fit(data: &[u8]) -> bool {
    !data.contains(&0)
        && data
            .split(|&b| b == b'\n')
            .all(|line| line.strip_suffix(b"\r").unwrap_or(line).len() <= MAX_LINE)
}

/// The header section of a CRLF message: everything up to and including the
/// CRLF that ends the last header line. A message without a blank line is
/// all header; the result always ends in CRLF unless it is empty.
pub fn header_section(msg: &[u8]) -> Vec<u8> {
    if msg.starts_with(b"\r\n") {
        return Vec::new();
    }
    let end = find(msg, b"\r\n\r\n").map_or(msg.len(), |p| p + 2);
    let mut head = msg[..end].to_vec();
    if !head.is_empty() && !head.ends_with(b"\r\n") {
        head.extend_from_slice(b"\r\n");
    }
    head
}

/// The header fields of a message (or of a bare header block), unfolded:
/// `(name, value)` with the value's surrounding whitespace trimmed. Stops at
/// the first empty line; accepts LF or CRLF; bytes that are not UTF-8 are
/// replaced, which is harmless for the names and values we look at.
pub fn header_fields(msg: &[u8]) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for raw in msg.split(|&b| b == b'\n') {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.is_empty() {
            break;
        }
        let line = String::from_utf8_lossy(line);
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push_str(&line);
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_string(), value.to_string()));
        }
    }
    for (_, value) in &mut fields {
        *value = value.trim().to_string();
    }
    fields
}

/// Splits a structured field value (Content-Type) into its first item,
/// lower-cased, and its `;` parameters as (lower-cased name, unquoted value).
/// Comments are not handled; a quoted `;` is.
pub fn split_params(value: &str) -> (String, Vec<(String, String)>) {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in value.chars() {
        if escaped {
            current.push(c);
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == ';' && !quoted {
            items.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    items.push(current);
    let mut iter = items.into_iter();
    let first = iter.next().unwrap_or_default().trim().to_ascii_lowercase();
    let params = iter
        .filter_map(|item| {
            let (name, value) = item.split_once('=')?;
            Some((name.trim().to_ascii_lowercase(), value.trim().to_string()))
        })
        .collect();
    (first, params)
}

/// Position of the first occurrence of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}
