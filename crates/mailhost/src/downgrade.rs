//! Post-delivery downgrading of a message's header section (RFC 6857), for
//! POP3 clients that did not enable UTF-8 (RFC 6856).
//!
//! A message received with SMTPUTF8 may carry UTF-8 in its header fields
//! (RFC 6532). A client that never said `UTF8` must not see them raw, so
//! the header section is rewritten into ASCII once, when the message
//! arrives, and stored next to it; the body is left alone. Field by field:
//!
//! - ASCII fields are kept byte for byte.
//! - Address fields (`From`, `To`, `Cc`, `Reply-To`, `Resent-*`, …): a
//!   display name becomes RFC 2047 encoded-words; an address whose only
//!   non-ASCII part is its domain gets the A-label form; an address with a
//!   UTF-8 local part cannot be written in ASCII and becomes an empty group
//!   whose display name is the encoded original (`=?UTF-8?B?…?= :;`), so a
//!   reader still sees who it was (RFC 6857 section 3.1, RFC 6854 groups).
//! - Unstructured fields (`Subject`, `Comments`, `Content-Description`,
//!   `Keywords`): runs of non-ASCII words become encoded-words.
//! - `Received`: a `for` clause naming a UTF-8 address is dropped and IDNs
//!   become A-labels.
//! - `Content-Type` / `Content-Disposition`: UTF-8 parameter values (file
//!   names) take the RFC 2231 form `name*=UTF-8''…`.
//! - `Return-Path`: like an address.
//! - Anything else that still has non-ASCII (`Message-ID`, `References`,
//!   unknown fields…) is encapsulated: renamed `Downgraded-<name>` with
//!   encoded-words for the value (RFC 6857 section 3.1.10), so nothing is
//!   lost and a reader can tell the message was downgraded.
//!
//! Header fields of MIME body parts are in the body and not rewritten.
//! Octets that are not UTF-8 (legacy 8-bit headers) are shown as U+FFFD.

use praisani_mailaddr::Domain;
use praisani_message::rfc2047;

/// Header sections longer than this are not downgraded: the message then
/// has no downgraded form.
pub const MAX_HEADER: usize = crate::submission::MAX_HEADER;

/// Longest line the downgrade aims for when it folds what it writes
/// (RFC 5322 section 2.1.1 recommends 78).
const FOLD_AT: usize = 76;

/// True when the header section needs downgrading: it has a non-ASCII octet.
pub fn needs_downgrade(header: &[u8]) -> bool {
    !header.is_ascii()
}

/// The header section rewritten in ASCII, as the module docs describe.
///
/// `header` is the header section as stored, normally ending with its blank
/// line; the result ends the same way. ASCII input comes back unchanged.
pub fn downgrade_header(header: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(header.len() + header.len() / 2);
    for field in fields(header) {
        if field.is_ascii() {
            out.extend_from_slice(field);
            continue;
        }
        if let Some(text) = downgrade_field(field) {
            out.extend_from_slice(text.as_bytes());
        }
    }
    out
}

/// What the store keeps for a message whose stored header section begins
/// with `header` (as a [`HeaderCapture`](crate::submission::HeaderCapture)
/// collected it): nothing for an ASCII header, else the downgraded header;
/// a header longer than [`MAX_HEADER`] gets no downgraded form, and the
/// message is hidden from clients that did not enable UTF-8.
pub fn for_storage(header: &[u8]) -> Option<praisani_store::HeaderDowngrade> {
    if !needs_downgrade(header) {
        return None;
    }
    Some(praisani_store::HeaderDowngrade {
        original_len: header.len() as u64,
        header: (header.len() <= MAX_HEADER).then(|| downgrade_header(header)),
    })
}

/// Splits a header section into fields, each with its continuation lines
/// and line ends; a blank line (the end of the header) is a field of its own.
fn fields(header: &[u8]) -> Vec<&[u8]> {
    let mut out: Vec<&[u8]> = Vec::new();
    let mut start = 0;
    let mut pos = 0;
    while pos < header.len() {
        let end = header[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(header.len(), |i| pos + i + 1);
        let line = &header[pos..end];
        let continuation = matches!(line.first(), Some(b' ' | b'\t'));
        if pos > start && !continuation {
            out.push(&header[start..pos]);
            start = pos;
        }
        let blank = line == b"\r\n" || line == b"\n";
        pos = end;
        if blank {
            out.push(&header[start..pos]);
            start = pos;
        }
    }
    if start < header.len() {
        out.push(&header[start..]);
    }
    out
}

/// One non-ASCII field in ASCII, with its CRLF; `None` drops it (a line
/// without a usable field name).
fn downgrade_field(field: &[u8]) -> Option<String> {
    let colon = field.iter().position(|&b| b == b':')?;
    let name = std::str::from_utf8(&field[..colon]).ok()?.trim();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
        return None;
    }
    let value = unfold(&String::from_utf8_lossy(&field[colon + 1..]));
    let value = value.trim();
    let tokens = match name.to_ascii_lowercase().as_str() {
        "from"
        | "sender"
        | "reply-to"
        | "to"
        | "cc"
        | "bcc"
        | "resent-from"
        | "resent-sender"
        | "resent-to"
        | "resent-cc"
        | "resent-bcc"
        | "disposition-notification-to" => address_list(value),
        "subject" | "comments" | "content-description" | "keywords" => Some(unstructured(value)),
        "received" => received(value),
        "return-path" => return_path(value),
        "content-type" | "content-disposition" => mime_parameters(value),
        _ => None,
    };
    Some(match tokens {
        Some(tokens) => fold(name, &tokens),
        None => fold(&format!("Downgraded-{name}"), &unstructured(value)),
    })
}

/// Removes the line breaks of folding; the whitespace after them stays.
fn unfold(value: &str) -> String {
    value.replace("\r\n", "").replace('\n', "")
}

/// `Name: tokens…\r\n`, one space between tokens, folded before a token
/// that would take the line past [`FOLD_AT`].
fn fold(name: &str, tokens: &[String]) -> String {
    let mut out = format!("{name}:");
    let mut line = out.len();
    for token in tokens {
        if line + 1 + token.len() > FOLD_AT && line > 1 {
            out.push_str("\r\n ");
            line = 1;
        } else {
            out.push(' ');
            line += 1;
        }
        out.push_str(token);
        line += token.len();
    }
    out.push_str("\r\n");
    out
}

/// RFC 2047 encoded-words for `text`, each within 75 characters.
fn encoded_words(text: &str) -> Vec<String> {
    rfc2047::encoded_words(text, rfc2047::MAX_WORD_OCTETS)
}

/// Unstructured text as tokens: ASCII words as they are, each run of words
/// with non-ASCII as encoded-words (the spaces inside a run are encoded
/// with it, since white space between encoded-words is not displayed).
fn unstructured(value: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut run: Vec<&str> = Vec::new();
    for word in value.split_whitespace() {
        if word.is_ascii() {
            if !run.is_empty() {
                tokens.extend(encoded_words(&run.join(" ")));
                run.clear();
            }
            tokens.push(word.to_owned());
        } else {
            run.push(word);
        }
    }
    if !run.is_empty() {
        tokens.extend(encoded_words(&run.join(" ")));
    }
    tokens
}

/// Where a character sits in structured header text.
#[derive(Default)]
struct Scan {
    quoted: bool,
    escaped: bool,
    comment: usize,
    angle: bool,
}

impl Scan {
    /// Advances over `c`; true when `c` is at top level (outside quotes,
    /// comments and angle brackets) and is not itself one of their delimiters.
    fn top_level(&mut self, c: char) -> bool {
        if self.escaped {
            self.escaped = false;
            return false;
        }
        match c {
            '\\' if self.quoted || self.comment > 0 => self.escaped = true,
            '"' if self.comment == 0 => self.quoted = !self.quoted,
            _ if self.quoted => {}
            '(' => self.comment += 1,
            ')' if self.comment > 0 => self.comment -= 1,
            _ if self.comment > 0 => {}
            '<' => self.angle = true,
            '>' => self.angle = false,
            _ if self.angle => {}
            _ => return true,
        }
        false
    }
}

/// Splits an address list at its top-level commas; a group (`name: a, b;`)
/// stays one element.
fn split_addresses(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut scan = Scan::default();
    let mut group = false;
    let mut start = 0;
    for (i, c) in value.char_indices() {
        if !scan.top_level(c) {
            continue;
        }
        match c {
            ':' => group = true,
            ';' => group = false,
            ',' if !group => {
                out.push(value[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(value[start..].trim());
    out.retain(|e| !e.is_empty());
    out
}

/// The byte offset of the first top-level `wanted` character.
fn find_top(value: &str, wanted: char) -> Option<usize> {
    let mut scan = Scan::default();
    for (i, c) in value.char_indices() {
        if c == '<' && wanted == '<' && !scan.quoted && scan.comment == 0 && !scan.escaped {
            return Some(i);
        }
        if scan.top_level(c) && c == wanted {
            return Some(i);
        }
    }
    None
}

/// An address list as tokens; every element becomes something ASCII.
fn address_list(value: &str) -> Option<Vec<String>> {
    let elements = split_addresses(value);
    let mut tokens = Vec::new();
    for (i, element) in elements.iter().enumerate() {
        let mut part = match find_top(element, ':') {
            Some(colon) => group(element, colon),
            None => mailbox(element),
        }
        .unwrap_or_else(|| undeliverable(element));
        if i + 1 < elements.len()
            && let Some(last) = part.last_mut()
        {
            last.push(',');
        }
        tokens.append(&mut part);
    }
    Some(tokens)
}

/// An address that cannot be written in ASCII: an empty group named by
/// the encoded original, so the reader still sees it.
fn undeliverable(element: &str) -> Vec<String> {
    let mut tokens = encoded_words(element.trim());
    tokens.push(":;".to_owned());
    tokens
}

/// `display: members;`, or `None` when a member cannot be downgraded.
fn group(element: &str, colon: usize) -> Option<Vec<String>> {
    let display = &element[..colon];
    let members = element[colon + 1..].trim().trim_end_matches(';');
    let members = split_addresses(members);
    let mut tokens = phrase(display);
    match tokens.last_mut() {
        Some(last) if last.is_ascii() && !last.starts_with("=?") => last.push(':'),
        _ => tokens.push(":".to_owned()),
    }
    for (i, m) in members.iter().enumerate() {
        let mut part = mailbox(m)?;
        if i + 1 < members.len()
            && let Some(last) = part.last_mut()
        {
            last.push(',');
        }
        tokens.append(&mut part);
    }
    match tokens.last_mut() {
        Some(last) if last != ":" => last.push(';'),
        _ => tokens.push(";".to_owned()),
    }
    Some(tokens)
}

/// One mailbox, `name <addr>` or a bare address; `None` when its local
/// part is not ASCII.
fn mailbox(element: &str) -> Option<Vec<String>> {
    match find_top(element, '<') {
        Some(lt) => {
            let rest = &element[lt + 1..];
            let gt = rest.find('>')?;
            let mut tokens = phrase(&element[..lt]);
            tokens.push(format!("<{}>", addr_spec(&rest[..gt])?));
            let after = rest[gt + 1..].trim();
            if !after.is_empty() && after.is_ascii() {
                tokens.push(after.to_owned());
            }
            Some(tokens)
        }
        None => {
            // A bare address, perhaps with a comment: `a@b (Name)`.
            let (addr, comment) = match element.find('(') {
                Some(p) => (&element[..p], Some(element[p..].trim())),
                None => (element, None),
            };
            let mut tokens = vec![addr_spec(addr)?];
            if let Some(comment) = comment {
                if comment.is_ascii() {
                    tokens.push(comment.to_owned());
                } else {
                    let inner = comment.trim_start_matches('(').trim_end_matches(')');
                    let mut words = encoded_words(inner);
                    if let Some(first) = words.first_mut() {
                        first.insert(0, '(');
                    }
                    if let Some(last) = words.last_mut() {
                        last.push(')');
                    }
                    tokens.extend(words);
                }
            }
            Some(tokens)
        }
    }
}

/// A display name: kept when ASCII, else the unquoted text as encoded-words.
fn phrase(display: &str) -> Vec<String> {
    let display = display.trim();
    if display.is_empty() {
        return Vec::new();
    }
    if display.is_ascii() {
        return vec![display.to_owned()];
    }
    encoded_words(&unquote(display))
}

/// The text of a quoted string (or of a phrase with quoted parts).
fn unquote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut escaped = false;
    for c in s.chars() {
        match c {
            _ if escaped => {
                out.push(c);
                escaped = false;
            }
            '\\' => escaped = true,
            '"' => {}
            _ => out.push(c),
        }
    }
    out
}

/// An addr-spec in ASCII: an IDN domain becomes its A-label; `None` when
/// the local part is not ASCII (or the domain is not a valid IDN).
fn addr_spec(addr: &str) -> Option<String> {
    let addr = addr.trim();
    if addr.is_ascii() {
        return Some(addr.to_owned());
    }
    let (local, domain) = addr.rsplit_once('@')?;
    if !local.is_ascii() {
        return None;
    }
    let domain = Domain::parse(domain).ok()?;
    Some(format!("{local}@{}", domain.ascii()))
}

/// `Return-Path: <addr>` with an ASCII address, if there is one.
fn return_path(value: &str) -> Option<Vec<String>> {
    let inner = value.trim().strip_prefix('<')?.strip_suffix('>')?;
    Some(vec![format!("<{}>", addr_spec(inner)?)])
}

/// A Received field without a UTF-8 `for` clause and with A-label domains;
/// `None` when something non-ASCII remains.
fn received(value: &str) -> Option<Vec<String>> {
    let mut words: Vec<String> = value.split_whitespace().map(str::to_owned).collect();
    // `for <addr>` (RFC 5321 section 4.4) names a UTF-8 recipient: drop it,
    // keeping the `;` that ends the clauses.
    if let Some(i) = words.iter().position(|w| w.eq_ignore_ascii_case("for"))
        && let Some(addr) = words.get(i + 1)
        && !addr.is_ascii()
    {
        let ends = addr.ends_with(';');
        words.drain(i..=i + 1);
        if ends {
            match i.checked_sub(1).and_then(|p| words.get_mut(p)) {
                Some(prev) => prev.push(';'),
                None => words.insert(0, ";".to_owned()),
            }
        }
    }
    for word in &mut words {
        if word.is_ascii() {
            continue;
        }
        let core = word.trim_matches(|c: char| "()[];".contains(c));
        let ascii = Domain::parse(core).ok()?.ascii().to_owned();
        *word = word.replacen(core, &ascii, 1);
    }
    Some(words)
}

/// `type; name=value; …` with UTF-8 values in RFC 2231 form.
fn mime_parameters(value: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut scan = Scan::default();
    let mut start = 0;
    for (i, c) in value.char_indices() {
        if scan.top_level(c) && c == ';' {
            parts.push(value[start..i].trim());
            start = i + 1;
        }
    }
    parts.push(value[start..].trim());
    parts.retain(|p| !p.is_empty());
    let mut tokens = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let mut token = if part.is_ascii() {
            (*part).to_owned()
        } else {
            let (name, val) = part.split_once('=').filter(|_| i > 0)?;
            let name = name.trim().trim_end_matches('*');
            if !name.is_ascii() {
                return None;
            }
            format!("{name}*=UTF-8''{}", percent_encode(&unquote(val.trim())))
        };
        if i + 1 < parts.len() {
            token.push(';');
        }
        tokens.push(token);
    }
    Some(tokens)
}

/// RFC 2231 section 7 / RFC 5987 `attr-char` escaping.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use praisani_message::base64::decode as b64_decode;

    fn down(header: &str) -> String {
        let out = downgrade_header(header.as_bytes());
        assert!(out.is_ascii(), "{}", String::from_utf8_lossy(&out));
        for line in out.split(|&b| b == b'\n') {
            assert!(line.len() <= 998, "line too long");
        }
        String::from_utf8(out).unwrap()
    }

    /// Decodes the encoded-words of a downgraded value (adjacent words
    /// joined, as RFC 2047 section 6.2 says), for checking round trips.
    fn decode(value: &str) -> String {
        let mut out = String::new();
        let mut last_encoded = false;
        for word in value.split_whitespace() {
            let core = word.trim_matches(|c: char| "(),;:".contains(c));
            if let Some(b64) = core
                .strip_prefix("=?UTF-8?B?")
                .and_then(|w| w.strip_suffix("?="))
            {
                if !last_encoded && !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(&String::from_utf8(b64_decode(b64).unwrap()).unwrap());
                last_encoded = true;
            } else {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(word);
                last_encoded = false;
            }
        }
        out
    }

    fn field(header: &str, name: &str) -> Option<String> {
        let start = header.split("\r\n").position(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        })?;
        let lines: Vec<&str> = header.split("\r\n").collect();
        let mut value = lines[start][name.len() + 1..].to_owned();
        for l in &lines[start + 1..] {
            if l.starts_with(' ') || l.starts_with('\t') {
                value.push_str(l);
            } else {
                break;
            }
        }
        Some(value.trim().to_owned())
    }

    #[test]
    fn storage_form() {
        assert_eq!(for_storage(b"Subject: a\r\n\r\n"), None);
        let h = "Subject: ไทย\r\n\r\n".as_bytes();
        let d = for_storage(h).unwrap();
        assert_eq!(d.original_len, h.len() as u64);
        assert_eq!(d.header.as_deref(), Some(&downgrade_header(h)[..]));
        let mut big = "X: ไทย\r\n".repeat(MAX_HEADER / 8).into_bytes();
        big.extend_from_slice(b"\r\n");
        assert!(big.len() > MAX_HEADER);
        assert_eq!(for_storage(&big).unwrap().header, None);
    }

    #[test]
    fn ascii_header_is_unchanged() {
        let h = "From: a@example.test\r\nSubject: hello\r\n  folded\r\n\r\n";
        assert!(!needs_downgrade(h.as_bytes()));
        assert_eq!(downgrade_header(h.as_bytes()), h.as_bytes());
    }

    #[test]
    fn only_non_ascii_fields_change() {
        let h = "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nSubject: สวัสดีครับ\r\nX-A: b\r\n\r\n";
        assert!(needs_downgrade(h.as_bytes()));
        let out = down(h);
        assert!(out.starts_with("Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nSubject: =?UTF-8?B?"));
        assert!(out.ends_with("\r\nX-A: b\r\n\r\n"), "{out}");
        assert_eq!(decode(&field(&out, "Subject").unwrap()), "สวัสดีครับ");
    }

    #[test]
    fn unstructured_keeps_ascii_words_and_spaces_inside_runs() {
        let out = down("Subject: Re: 你好 世界 and สวัสดี\r\n\r\n");
        let value = field(&out, "Subject").unwrap();
        assert!(value.starts_with("Re: =?UTF-8?B?"), "{value}");
        assert!(value.contains(" and "), "{value}");
        assert_eq!(decode(&value), "Re: 你好 世界 and สวัสดี");
    }

    #[test]
    fn long_text_is_split_into_short_words_and_folded() {
        let subject = "ภาษาไทย".repeat(30);
        let out = down(&format!("Subject: {subject}\r\n\r\n"));
        for line in out.split("\r\n") {
            assert!(line.len() <= 78, "{line}");
        }
        for w in out.split_whitespace().filter(|w| w.starts_with("=?")) {
            assert!(w.len() <= 75, "{w}");
        }
        assert_eq!(decode(&field(&out, "Subject").unwrap()), subject);
    }

    #[test]
    fn utf8_local_part_becomes_an_encoded_group() {
        let out = down("From: สมชาย ใจดี <สมชาย@ตัวอย่าง.ไทย>\r\n\r\n");
        let value = field(&out, "From").unwrap();
        assert!(value.ends_with(" :;"), "{value}");
        assert_eq!(
            decode(value.trim_end_matches(":;")),
            "สมชาย ใจดี <สมชาย@ตัวอย่าง.ไทย>"
        );
    }

    #[test]
    fn idn_domain_becomes_a_label_and_name_is_encoded() {
        let out = down("To: \"王 小明\" <user@例子.中国>, plain@example.test\r\n\r\n");
        let value = field(&out, "To").unwrap();
        assert!(
            value.contains("<user@xn--fsqu00a.xn--fiqs8s>, plain@example.test"),
            "{value}"
        );
        assert!(decode(&value).starts_with("王 小明 <user@"), "{value}");
    }

    #[test]
    fn groups_and_mixed_lists() {
        let out = down("Cc: ทีม: a@example.test, 用户@例子.中国;, b@example.test\r\n\r\n");
        let value = field(&out, "Cc").unwrap();
        // The group with a UTF-8 member is encoded whole; the rest stays.
        assert!(value.ends_with(":;, b@example.test"), "{value}");
        let out = down("To: ทีม: a@example.test, b@ตัวอย่าง.ไทย;\r\n\r\n");
        let value = field(&out, "To").unwrap();
        assert!(
            value.ends_with(": a@example.test, b@xn--72c1a1bt4awk9o.xn--o3cw4h;"),
            "{value}"
        );
        let out = down("Reply-To: x@ตัวอย่าง.ไทย (คุณ เอ)\r\n\r\n");
        let value = field(&out, "Reply-To").unwrap();
        assert!(
            value.starts_with("x@xn--72c1a1bt4awk9o.xn--o3cw4h (=?UTF-8?B?"),
            "{value}"
        );
    }

    #[test]
    fn received_loses_utf8_for_clause() {
        let h = "Received: from client.test ([127.0.0.1])\r\n\tby mx.test (praisani) with UTF8SMTP id 1.1\r\n\tfor <สมชาย@ตัวอย่าง.ไทย>;\r\n\tMon, 1 Jan 2024 00:00:00 +0000\r\n\r\n";
        let out = down(h);
        let value = field(&out, "Received").unwrap();
        assert!(!value.contains("for"), "{value}");
        assert!(value.contains("id 1.1; Mon, 1 Jan 2024"), "{value}");
        let out =
            down("Received: from ตัวอย่าง.ไทย by mx.test; Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n");
        assert!(
            out.contains("from xn--72c1a1bt4awk9o.xn--o3cw4h by"),
            "{out}"
        );
    }

    #[test]
    fn return_path_and_encapsulation() {
        let out = down("Return-Path: <a@例子.中国>\r\n\r\n");
        assert_eq!(out, "Return-Path: <a@xn--fsqu00a.xn--fiqs8s>\r\n\r\n");
        let out =
            down("Return-Path: <用户@例子.中国>\r\nMessage-ID: <ข้อความ@example.test>\r\n\r\n");
        assert!(
            !out.contains("\r\nMessage-ID:") && !out.starts_with("Return-Path:"),
            "{out}"
        );
        assert_eq!(
            decode(&field(&out, "Downgraded-Return-Path").unwrap()),
            "<用户@例子.中国>"
        );
        assert_eq!(
            decode(&field(&out, "Downgraded-Message-ID").unwrap()),
            "<ข้อความ@example.test>"
        );
    }

    #[test]
    fn mime_parameters_use_rfc2231() {
        let out = down(
            "Content-Disposition: attachment; filename=\"รายงาน 1.pdf\"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
        );
        assert!(
            out.starts_with("Content-Disposition: attachment;\r\n filename*=UTF-8''%E0%B8%A3")
                || out.starts_with("Content-Disposition: attachment; filename*=UTF-8''%E0%B8%A3"),
            "{out}"
        );
        assert!(out.contains("%201.pdf\r\n"), "{out}");
        assert!(out.ends_with("Content-Type: text/plain; charset=utf-8\r\n\r\n"));
    }

    #[test]
    fn invalid_utf8_and_nameless_lines_do_not_break_the_header() {
        let h = b"Subject: caf\xe9\r\n\xff\xfe junk\r\nTo: a@example.test\r\n\r\n";
        let out = downgrade_header(h);
        assert!(out.is_ascii());
        let out = String::from_utf8(out).unwrap();
        assert!(out.starts_with("Subject: =?UTF-8?B?"), "{out}");
        assert!(out.ends_with("To: a@example.test\r\n\r\n"), "{out}");
        assert_eq!(decode(&field(&out, "Subject").unwrap()), "caf\u{fffd}");
    }

    #[test]
    fn header_without_blank_line_and_bare_lf() {
        let out = down("Subject: ñ\nX: y\n");
        assert!(out.starts_with("Subject: =?UTF-8?B?"), "{out}");
        assert!(out.ends_with("X: y\n"), "{out}");
    }
}
