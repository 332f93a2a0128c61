//! The message carrying a TLS-RPT report (RFC 8460 section 5.3):
//! `multipart/report; report-type="tlsrpt"` with a short text and the
//! gzip-compressed JSON as `application/tlsrpt+gzip`, named
//! `submitter!policy-domain!begin!end.json.gz`; subject
//! `Report Domain: D Submitter: S Report-ID: <id>` and the
//! `TLS-Report-Domain` and `TLS-Report-Submitter` fields.

use super::ReportSettings;
use flate2::Compression;
use flate2::write::GzEncoder;
use praisani_message::base64::push_body as push_base64_body;
use praisani_message::mime::{one_line, push_field};
use praisani_message::rfc2047::{FOLDED_WORD_OCTETS, encoded_words};
use std::io::Write;

/// What one message says besides the report itself.
#[derive(Debug, Clone, Copy)]
pub struct Envelope<'a> {
    /// The policy domain reported on.
    pub domain: &'a str,
    /// Us: the submitter (our host name).
    pub submitter: &'a str,
    /// The report's id.
    pub report_id: &'a str,
    /// The first second of the day reported (Unix seconds).
    pub begin: i64,
    /// Its last second.
    pub end: i64,
    /// The recipient.
    pub to: &'a str,
}

/// The message carrying `report` (its JSON text) as `e` says, from
/// `settings.from`, written at `date`; CRLF line ends.
pub fn message(
    report: &str,
    settings: &ReportSettings,
    e: &Envelope<'_>,
    date: chrono::DateTime<chrono::Utc>,
) -> std::io::Result<Vec<u8>> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(report.as_bytes())?;
    let gz = gz.finish()?;
    let filename = format!("{}!{}!{}!{}.json.gz", e.submitter, e.domain, e.begin, e.end);
    let boundary = format!("=_tlsrpt_{:016x}", rand::random::<u64>());
    let org = one_line(&settings.org_name);
    let display = if org.is_ascii() {
        format!("\"{}\"", org.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        encoded_words(&org, FOLDED_WORD_OCTETS).join(" ")
    };
    let (domain, submitter, id) = (e.domain, e.submitter, e.report_id);
    let mut out = Vec::new();
    push_field(&mut out, "From", &format!("{display} <{}>", settings.from));
    push_field(&mut out, "To", &format!("<{}>", e.to));
    push_field(
        &mut out,
        "Subject",
        &format!("Report Domain: {domain} Submitter: {submitter} Report-ID: <{id}>"),
    );
    push_field(&mut out, "Date", &date.to_rfc2822());
    push_field(&mut out, "Message-ID", &format!("<{id}>"));
    push_field(&mut out, "TLS-Report-Domain", domain);
    push_field(&mut out, "TLS-Report-Submitter", submitter);
    push_field(&mut out, "Auto-Submitted", "auto-generated");
    push_field(&mut out, "MIME-Version", "1.0");
    push_field(
        &mut out,
        "Content-Type",
        &format!("multipart/report; report-type=\"tlsrpt\"; boundary=\"{boundary}\""),
    );
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    push_field(&mut out, "Content-Type", "text/plain; charset=us-ascii");
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(
        format!(
            "This is an SMTP TLS report (RFC 8460) from {submitter}.\r\n\r\n\
             Report Domain: {domain}\r\nSubmitter: {submitter}\r\nReport-ID: {id}\r\n"
        )
        .as_bytes(),
    );
    out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    push_field(&mut out, "Content-Type", "application/tlsrpt+gzip");
    push_field(
        &mut out,
        "Content-Disposition",
        &format!("attachment; filename=\"{filename}\""),
    );
    push_field(&mut out, "Content-Transfer-Encoding", "base64");
    out.extend_from_slice(b"\r\n");
    push_base64_body(&mut out, &gz);
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;
    use std::io::Read;

    #[test]
    fn the_message_has_the_fields_and_the_gzip_json() {
        let settings = ReportSettings {
            org_name: "Example \"Hosting\"".into(),
            from: "tlsrpt@mail.example".into(),
            contact: "postmaster@mail.example".into(),
            max_rows: 1,
            max_domains: 1,
            send_delay: std::time::Duration::ZERO,
        };
        let e = Envelope {
            domain: "remote.test",
            submitter: "mail.example",
            report_id: "r1@mail.example",
            begin: 86_400,
            end: 2 * 86_400 - 1,
            to: "tlsrpt@remote.test",
        };
        let m = message("{\"a\":1}", &settings, &e, chrono::Utc::now()).unwrap();
        let text = String::from_utf8(m).unwrap();
        for needle in [
            "From: \"Example \\\"Hosting\\\"\" <tlsrpt@mail.example>\r\n",
            "Subject: Report Domain: remote.test Submitter: mail.example Report-ID:\r\n <r1@mail.example>\r\n",
            "TLS-Report-Domain: remote.test\r\n",
            "TLS-Report-Submitter: mail.example\r\n",
            "Content-Type: multipart/report; report-type=\"tlsrpt\";",
            "Content-Type: application/tlsrpt+gzip\r\n",
            "filename=\"mail.example!remote.test!86400!172799.json.gz\"",
        ] {
            assert!(text.contains(needle), "{needle:?} not in\n{text}");
        }
        let body = text
            .split("Content-Transfer-Encoding: base64\r\n\r\n")
            .nth(1)
            .unwrap();
        let b64: String = body.lines().take_while(|l| !l.starts_with("--")).collect();
        let gz = praisani_message::base64::decode(&b64).unwrap();
        let mut json = String::new();
        GzDecoder::new(&gz[..]).read_to_string(&mut json).unwrap();
        assert_eq!(json, "{\"a\":1}");
    }
}
