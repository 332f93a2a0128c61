//! The trace headers prepended on delivery (RFC 5321 section 4.4).
//!
//! The client names itself in EHLO/HELO, and that name goes into
//! `Received:`. It is written there only when it is a syntactically valid
//! Domain or address literal (the From-domain of section 4.4); anything
//! else could forge trace fields of its own (`a.example ([10.0.0.1]) by
//! trusted.example; <date>`) and is recorded as our view of the peer's
//! address with the claimed name, reduced to harmless characters, in a
//! comment. Without SMTPUTF8 the header stays ASCII: a U-label name is
//! written as its A-label (RFC 6531 section 3.7.3 allows U-labels in trace
//! fields only for SMTPUTF8 messages).

use praisani_mailaddr::Domain;
use std::net::IpAddr;

/// The longest claimed name copied into the comment for one that is not a
/// domain: enough to recognise it, too short to carry much.
const CLAIM_MAX: usize = 64;

/// What the Received header says about the session.
pub struct TraceInfo<'a> {
    /// The EHLO/HELO name the client gave.
    pub helo: &'a str,
    /// The client's IP address.
    pub peer: IpAddr,
    /// Our host name.
    pub hostname: &'a str,
    /// The protocol keyword: SMTP, ESMTP, ESMTPS, UTF8SMTP… (RFC 3848, 6531).
    pub protocol: &'a str,
    /// An id for this message, also logged.
    pub id: &'a str,
    /// The recipient, named only when there is exactly one (naming every
    /// recipient would disclose Bcc addresses to the others).
    pub for_rcpt: Option<&'a str>,
    /// The envelope sender, empty for the null path.
    pub return_path: &'a str,
    /// The transaction declared SMTPUTF8: the header may carry UTF-8.
    pub smtputf8: bool,
}

/// Renders `Return-Path:` and `Received:` with CRLF line ends.
pub fn headers(t: &TraceInfo<'_>) -> String {
    let peer = address_literal(t.peer);
    let from = from_domain(t.helo, &peer, t.smtputf8);
    let date = chrono::Local::now().to_rfc2822();
    let for_clause = match t.for_rcpt {
        Some(r) => format!("\r\n\tfor <{}>", sanitize(r, t.smtputf8)),
        None => String::new(),
    };
    format!(
        "Return-Path: <{}>\r\nReceived: from {from}\r\n\tby {} (praisani) with {} id {}{for_clause};\r\n\t{date}\r\n",
        sanitize(t.return_path, t.smtputf8),
        t.hostname,
        t.protocol,
        t.id,
    )
}

/// The From-domain with its TCP-info: `name ([peer])` when the EHLO name is
/// a valid Domain or address literal, `[peer] (helo=claimed)` otherwise.
fn from_domain(helo: &str, peer: &str, smtputf8: bool) -> String {
    match trace_name(helo, smtputf8) {
        Some(name) => format!("{name} ({peer})"),
        None => format!("{peer} (helo={})", claimed(helo)),
    }
}

/// The EHLO name as it may appear in a trace field, if it is a Domain
/// (RFC 5321 section 4.1.2; U-labels only with SMTPUTF8, else the A-label)
/// or an address literal (section 4.1.3).
fn trace_name(helo: &str, smtputf8: bool) -> Option<String> {
    if let Some(literal) = helo.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return literal_ip(literal).map(address_literal);
    }
    let domain = Domain::parse(helo).ok()?;
    Some(if helo.is_ascii() {
        // Valid LDH labels: written as given, case and all.
        helo.to_string()
    } else if smtputf8 {
        domain.unicode()
    } else {
        domain.ascii().to_string()
    })
}

/// The address inside an address literal: a dotted IPv4 address or
/// `IPv6:` and an IPv6 address.
fn literal_ip(literal: &str) -> Option<IpAddr> {
    match literal.get(..5) {
        Some(tag) if tag.eq_ignore_ascii_case("IPv6:") => literal[5..]
            .parse::<std::net::Ipv6Addr>()
            .ok()
            .map(IpAddr::V6),
        _ => literal.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4),
    }
}

/// An address as an RFC 5321 address literal: `[192.0.2.1]`,
/// `[IPv6:2001:db8::1]`; an IPv4-mapped IPv6 address as the IPv4 it is.
fn address_literal(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => format!("[{v4}]"),
        IpAddr::V6(v6) => format!("[IPv6:{v6}]"),
    }
}

/// A claimed name that is not a domain, reduced to letters, digits, `-`,
/// `.` and `_` (NetBIOS names keep their look); everything else, spaces,
/// parentheses, `;` and UTF-8 included, becomes `?`.
fn claimed(helo: &str) -> String {
    helo.chars()
        .take(CLAIM_MAX)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// Keeps peer-supplied text from breaking the header: no control
/// characters, no line breaks, and no UTF-8 unless SMTPUTF8 was used.
fn sanitize(s: &str, utf8: bool) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || (!utf8 && !c.is_ascii()) {
                '?'
            } else {
                c
            }
        })
        .take(255)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(helo: &str, smtputf8: bool) -> TraceInfo<'_> {
        TraceInfo {
            helo,
            peer: "192.0.2.7".parse().unwrap(),
            hostname: "mx.example.test",
            protocol: "ESMTP",
            id: "abc",
            for_rcpt: Some("u@example.test"),
            return_path: "s@example.test",
            smtputf8,
        }
    }

    /// The `Received:` field, unfolded.
    fn received(h: &str) -> String {
        let start = h.find("Received: ").unwrap();
        h[start..].replace("\r\n\t", " ")
    }

    #[test]
    fn received_header_shape() {
        let h = headers(&info("client.example\r\nX-Evil: 1", false));
        assert!(h.starts_with("Return-Path: <s@example.test>\r\nReceived: from "));
        assert!(h.contains(
            "by mx.example.test (praisani) with ESMTP id abc\r\n\tfor <u@example.test>;\r\n\t"
        ));
        assert!(h.ends_with("\r\n"));
        assert_eq!(h.matches("\r\n").count(), 5);
        assert!(!h.contains("\r\nX-Evil"));
    }

    #[test]
    fn a_valid_name_or_literal_is_written_as_given() {
        let h = headers(&info("Client.Example", false));
        assert!(
            received(&h).starts_with("Received: from Client.Example ([192.0.2.7]) by "),
            "{h}"
        );
        let h = headers(&info("[192.0.2.1]", false));
        assert!(
            received(&h).starts_with("Received: from [192.0.2.1] ([192.0.2.7]) by "),
            "{h}"
        );
        let h = headers(&info("[ipv6:2001:DB8::1]", false));
        assert!(
            received(&h).starts_with("Received: from [IPv6:2001:db8::1] ([192.0.2.7]) by "),
            "{h}"
        );
    }

    #[test]
    fn a_name_forging_trace_fields_is_only_a_claim() {
        let forged = "trusted.example([10.1.2.3])by=mx.example.test;Mon,1Jan2001";
        let h = headers(&info(forged, false));
        let r = received(&h);
        assert!(
            r.starts_with(
                "Received: from [192.0.2.7] (helo=trusted.example??10.1.2.3??by?mx.example.test?Mon?1Jan2001) by mx.example.test "
            ),
            "{r}"
        );
        // One `;`, ours, before our date; no parenthesis of the client's.
        assert_eq!(r.matches(';').count(), 1, "{r}");
        assert_eq!(r.matches('(').count(), 2, "{r}");
        for bad in ["[10.1.2.3", "[999.1.1.1]", "my pc", "a..b", "x.example."] {
            let r = received(&headers(&info(bad, false)));
            assert!(
                r.starts_with("Received: from [192.0.2.7] (helo="),
                "{bad}: {r}"
            );
        }
        // NetBIOS names are not domains but keep their look.
        let r = received(&headers(&info("MY_PC", false)));
        assert!(
            r.starts_with("Received: from [192.0.2.7] (helo=MY_PC) by"),
            "{r}"
        );
    }

    #[test]
    fn utf8_only_with_smtputf8() {
        let h = headers(&info("münchen.example", false));
        assert!(h.is_ascii(), "{h}");
        assert!(
            received(&h).starts_with("Received: from xn--mnchen-3ya.example ([192.0.2.7])"),
            "{h}"
        );
        let h = headers(&info("münchen.example", true));
        assert!(
            received(&h).starts_with("Received: from münchen.example ([192.0.2.7])"),
            "{h}"
        );
        // Not a domain at all: replaced, whether or not SMTPUTF8.
        let h = headers(&info("ไม่ใช่ โดเมน", true));
        assert!(
            received(&h).starts_with("Received: from [192.0.2.7] (helo="),
            "{h}"
        );
        assert!(h.is_ascii(), "{h}");
    }

    #[test]
    fn ipv6_peers_are_address_literals() {
        let mut t = info("client.example", false);
        t.peer = "2001:db8::5".parse().unwrap();
        let r = received(&headers(&t));
        assert!(
            r.starts_with("Received: from client.example ([IPv6:2001:db8::5])"),
            "{r}"
        );
        t.peer = "::ffff:192.0.2.9".parse().unwrap();
        let r = received(&headers(&t));
        assert!(
            r.starts_with("Received: from client.example ([192.0.2.9])"),
            "{r}"
        );
    }
}
