//! The trace headers prepended on delivery (RFC 5321 section 4.4).

use std::net::IpAddr;

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
}

/// Renders `Return-Path:` and `Received:` with CRLF line ends.
pub fn headers(t: &TraceInfo<'_>) -> String {
    let helo = sanitize(t.helo);
    let date = chrono::Local::now().to_rfc2822();
    let for_clause = match t.for_rcpt {
        Some(r) => format!("\r\n\tfor <{}>", sanitize(r)),
        None => String::new(),
    };
    format!(
        "Return-Path: <{}>\r\nReceived: from {helo} ([{}])\r\n\tby {} (praisani) with {} id {}{for_clause};\r\n\t{date}\r\n",
        sanitize(t.return_path),
        t.peer,
        t.hostname,
        t.protocol,
        t.id,
    )
}

/// Keeps peer-supplied text from breaking the header: no control
/// characters, no line breaks.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(255)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_header_shape() {
        let h = headers(&TraceInfo {
            helo: "client.example\r\nX-Evil: 1",
            peer: "127.0.0.1".parse().unwrap(),
            hostname: "mx.example.test",
            protocol: "ESMTP",
            id: "abc",
            for_rcpt: Some("u@example.test"),
            return_path: "s@example.test",
        });
        assert!(h.starts_with("Return-Path: <s@example.test>\r\nReceived: from client.example??X-Evil: 1 ([127.0.0.1])\r\n"));
        assert!(h.contains(
            "by mx.example.test (praisani) with ESMTP id abc\r\n\tfor <u@example.test>;\r\n\t"
        ));
        assert!(h.ends_with("\r\n"));
        assert_eq!(h.matches("\r\n").count(), 5);
        assert!(!h.contains("\r\nX-Evil"));
    }
}
