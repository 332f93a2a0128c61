//! Writing HTML by hand: every text from outside goes through [`esc`];
//! [`page`] is the one frame around every page (viewport for phones, the
//! one stylesheet, the language selector, the logout button).

use super::text::{Texts, native_name, texts};
use praisani_message::Language;
use std::fmt::Write as _;

/// `text` escaped for HTML text and double-quoted attribute values.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Who is logged in, for the frame: the address and the CSRF token of
/// the logout form, and whether the domain pages are theirs to see.
pub(crate) struct Who<'a> {
    pub address: &'a str,
    pub csrf: &'a str,
    pub domain_admin: bool,
}

/// A notice above the content: good news or a refusal.
pub(crate) enum Notice {
    None,
    Ok(String),
    Err(String),
}

/// A whole page.
pub(crate) fn page(
    lang: Language,
    title: &str,
    who: Option<&Who<'_>>,
    notice: &Notice,
    body: &str,
) -> String {
    let t = texts(lang);
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · praisani</title><link rel=\"stylesheet\" href=\"/style.css\"></head><body>\
         <header><a class=\"brand\" href=\"/\">praisani</a><nav>",
        lang.tag(),
        esc(title)
    );
    if let Some(w) = who {
        if w.domain_admin {
            let _ = write!(h, "<a href=\"/domains\">{}</a>", esc(t.domains));
        }
        let _ = write!(h, "<a href=\"/me\">{}</a>", esc(t.my_mailbox));
    }
    h.push_str("<span class=\"langs\">");
    for l in Language::ALL {
        let cur = if l == lang {
            " aria-current=\"true\""
        } else {
            ""
        };
        let _ = write!(
            h,
            "<a href=\"/lang/{}\" hreflang=\"{}\" lang=\"{}\"{cur}>{}</a>",
            l.tag(),
            l.tag(),
            l.tag(),
            native_name(l)
        );
    }
    h.push_str("</span>");
    if let Some(w) = who {
        let _ = write!(
            h,
            "<form method=\"post\" action=\"/logout\" class=\"inline\">{}\
             <button type=\"submit\" id=\"logout\">{}</button></form>",
            csrf_field(w.csrf),
            esc(t.log_out)
        );
    }
    h.push_str("</nav></header><main>");
    if let Some(w) = who {
        let _ = write!(h, "<p class=\"who\">{}</p>", esc(w.address));
    }
    match notice {
        Notice::None => {}
        Notice::Ok(m) => {
            let _ = write!(h, "<p class=\"notice ok\" role=\"status\">{}</p>", esc(m));
        }
        Notice::Err(m) => {
            let _ = write!(h, "<p class=\"notice err\" role=\"alert\">{}</p>", esc(m));
        }
    }
    h.push_str(body);
    h.push_str("</main></body></html>");
    h
}

/// The hidden CSRF field every form carries.
pub(crate) fn csrf_field(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(token)
    )
}

/// A labelled input.
pub(crate) fn field(label: &str, name: &str, kind: &str, value: &str, extra: &str) -> String {
    format!(
        "<label>{}<input type=\"{kind}\" name=\"{name}\" value=\"{}\" {extra}></label>",
        esc(label),
        esc(value)
    )
}

/// A usage bar (a `<meter>`: no inline style, which the CSP forbids) and
/// its text; no bar without a limit.
pub(crate) fn usage(t: &Texts, used: u64, quota: Option<u64>, messages: u64) -> String {
    let of = match quota {
        Some(q) => size(q),
        None => t.unlimited.to_string(),
    };
    let text = super::text::fill(t.used_of, &size(used), &of);
    let bar = match quota {
        Some(q) if q > 0 => format!(
            "<meter min=\"0\" max=\"{q}\" low=\"{}\" high=\"{}\" optimum=\"0\" value=\"{}\"></meter>",
            q / 10 * 8,
            q / 20 * 19,
            used.min(q)
        ),
        _ => String::new(),
    };
    format!(
        "<div class=\"usage\">{bar}<span>{} · {messages} {}</span></div>",
        esc(&text),
        esc(t.messages)
    )
}

/// An octet count for people, in the binary units quotas are given in
/// (`500M` is 500 MiB): 1.5 MiB.
pub(crate) fn size(octets: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = octets as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{octets} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(esc("สมชาย@ตัวอย่าง.ไทย"), "สมชาย@ตัวอย่าง.ไทย");
    }

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(size(999), "999 B");
        assert_eq!(size(1536 * 1024), "1.5 MiB");
        assert_eq!(size(2 << 30), "2.0 GiB");
    }
}
