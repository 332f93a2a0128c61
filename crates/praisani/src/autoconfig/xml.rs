//! Writing XML (and the XML of plists and the HTML form): escaping, and
//! indented elements.

use std::fmt::Write as _;

/// Escapes text for element content and quoted attribute values. Characters
/// XML 1.0 does not allow at all (most C0 controls) become U+FFFD: escaping
/// cannot make them legal, and a parser would reject the whole document.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Appends `<name>text</name>` on its own line at `depth` (two spaces each).
pub fn element(out: &mut String, depth: usize, name: &str, text: &str) {
    let _ = writeln!(
        out,
        "{:indent$}<{name}>{}</{name}>",
        "",
        escape(text),
        indent = depth * 2
    );
}

/// Appends a line at `depth`, as given (markup).
pub fn line(out: &mut String, depth: usize, markup: &str) {
    let _ = writeln!(out, "{:indent$}{markup}", "", indent = depth * 2);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            escape(r#"o'brien&co<x>"q"@ตัวอย่าง.ไทย"#),
            "o&apos;brien&amp;co&lt;x&gt;&quot;q&quot;@ตัวอย่าง.ไทย"
        );
        assert_eq!(escape("a\u{0}b\u{1b}c\td"), "a\u{FFFD}b\u{FFFD}c\td");
    }

    #[test]
    fn elements() {
        let mut s = String::new();
        line(&mut s, 0, "<a>");
        element(&mut s, 1, "b", "x&y");
        line(&mut s, 0, "</a>");
        assert_eq!(s, "<a>\n  <b>x&amp;y</b>\n</a>\n");
    }
}
