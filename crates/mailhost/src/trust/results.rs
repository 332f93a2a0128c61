//! The `Authentication-Results` header field (RFC 8601) we prepend: our
//! hostname as authserv-id, then one resinfo per check on its own folded
//! line.
//!
//! Everything that came from the client or from DNS (addresses, HELO
//! names, domains, explanations) is written as a token when it is safe as
//! one and as a quoted-string or sanitised comment otherwise, so nobody can
//! inject a line break or a `;` that starts a result of their own.

use super::verdict::{AuthResult, SpfIdentity, Verdict};

/// The field for `verdict`, folded, ending CRLF.
pub fn render(verdict: &Verdict) -> String {
    let mut out = String::with_capacity(512);
    out.push_str("Authentication-Results: ");
    out.push_str(&pvalue(&verdict.authserv_id));

    for spf in [&verdict.spf_mail_from, &verdict.spf_helo] {
        resinfo(&mut out, "spf", spf.result);
        let comment = match spf.result {
            AuthResult::Pass => format!(
                "{} designates {} as permitted sender",
                spf.domain, verdict.client_ip
            ),
            AuthResult::Fail => format!(
                "{} does not designate {} as permitted sender",
                spf.domain, verdict.client_ip
            ),
            AuthResult::SoftFail | AuthResult::Neutral => {
                format!("{} does not vouch for {}", spf.domain, verdict.client_ip)
            }
            AuthResult::None if spf.domain.is_empty() => "nothing to check".to_string(),
            AuthResult::None => format!("no SPF record for {}", spf.domain),
            AuthResult::TempError => format!("temporary DNS error for {}", spf.domain),
            AuthResult::PermError => format!("unusable SPF record for {}", spf.domain),
            AuthResult::Policy => String::new(),
        };
        push_comment(&mut out, &comment);
        match spf.identity {
            SpfIdentity::MailFrom => out.push_str(" smtp.mailfrom="),
            SpfIdentity::Helo => out.push_str(" smtp.helo="),
        }
        out.push_str(&pvalue(&spf.subject));
    }

    if verdict.dkim.is_empty() {
        resinfo(&mut out, "dkim", AuthResult::None);
        push_comment(&mut out, "no signatures");
    }
    for dkim in &verdict.dkim {
        resinfo(&mut out, "dkim", dkim.result);
        if let Some(reason) = &dkim.reason {
            push_comment(&mut out, reason);
        }
        if let Some(d) = &dkim.domain {
            out.push_str(" header.d=");
            out.push_str(&pvalue(d));
        }
        if let Some(s) = &dkim.selector {
            out.push_str(" header.s=");
            out.push_str(&pvalue(s));
        }
        if let Some(a) = dkim.algorithm {
            out.push_str(" header.a=");
            out.push_str(a);
        }
        if let Some(b) = &dkim.b_prefix {
            out.push_str(" header.b=");
            out.push_str(&pvalue(b));
        }
    }

    let arc = &verdict.arc;
    resinfo(&mut out, "arc", arc.result);
    let mut comment = String::new();
    if arc.instances > 0 {
        comment.push_str(&format!("i={}", arc.instances));
        if let Some(sealer) = &arc.sealer {
            comment.push_str(&format!(" sealed by {sealer}"));
        }
    }
    if let Some(reason) = &arc.reason {
        if !comment.is_empty() {
            comment.push_str(": ");
        }
        comment.push_str(reason);
    }
    push_comment(&mut out, &comment);
    out.push_str(" smtp.remote-ip=");
    out.push_str(&pvalue(&verdict.client_ip.to_string()));

    let dmarc = &verdict.dmarc;
    resinfo(&mut out, "dmarc", dmarc.result);
    if dmarc.record {
        push_comment(
            &mut out,
            &format!(
                "p={} adkim={} aspf={}",
                dmarc.policy.keyword(),
                dmarc.adkim.letter(),
                dmarc.aspf.letter()
            ),
        );
    }
    if !dmarc.from_domain.is_empty() {
        out.push_str(" header.from=");
        out.push_str(&pvalue(&dmarc.from_domain));
    }
    out.push_str("\r\n");
    out
}

fn resinfo(out: &mut String, method: &str, result: AuthResult) {
    out.push_str(";\r\n\t");
    out.push_str(method);
    out.push('=');
    out.push_str(result.keyword());
}

/// ` (text)` with anything that could end the comment or the line removed,
/// and `;` (legal in a comment) made `,` for parsers that split naively.
fn push_comment(out: &mut String, text: &str) {
    let clean: String = text
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '(' | ')' | '\\'))
        .map(|c| if c == ';' { ',' } else { c })
        .collect();
    let clean = clean.trim();
    if !clean.is_empty() {
        out.push_str(" (");
        out.push_str(clean);
        out.push(')');
    }
}

/// A property value: bare when it is made of characters safe in a token
/// or an address, else a quoted-string without control characters.
fn pvalue(value: &str) -> String {
    let bare = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+' | '@' | ':'))
        // '@' and ':' are tspecials, bare only where RFC 8601's pvalue
        // allows them: one '@' of an address, the colons of an IPv6 address.
        && value.matches('@').count() <= 1
        && (!value.contains(':') || value.parse::<std::net::IpAddr>().is_ok());
    if bare {
        return value.to_string();
    }
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars().filter(|c| !c.is_control()) {
        if matches!(c, '"' | '\\') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pvalues_are_tokens_or_quoted() {
        assert_eq!(pvalue("example.com"), "example.com");
        assert_eq!(pvalue("user+tag@example.com"), "user+tag@example.com");
        assert_eq!(pvalue("::1"), "::1");
        assert_eq!(pvalue("a;b"), "\"a;b\"");
        assert_eq!(pvalue("evil\r\nX-Spam-Flag: NO"), "\"evilX-Spam-Flag: NO\"");
        assert_eq!(pvalue("say \"hi\"@x"), "\"say \\\"hi\\\"@x\"");
        assert_eq!(pvalue(""), "\"\"");
    }

    #[test]
    fn comments_cannot_be_closed_early() {
        let mut out = String::new();
        push_comment(&mut out, "a) ; b\r\n(c");
        assert_eq!(out, " (a , bc)");
    }
}
