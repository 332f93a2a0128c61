//! Thunderbird's autoconfig document, `clientConfig` version 1.1 (the
//! format of Mozilla's ISPDB, also read by K-9/Thunderbird for Android,
//! Evolution and KMail).

use super::xml::{element, line};
use super::{Endpoint, Security, Settings};
use praisani_mailaddr::Domain;

/// Thunderbird's placeholder for the address the user typed.
pub const EMAIL_PLACEHOLDER: &str = "%EMAILADDRESS%";

fn socket_type(s: Security) -> &'static str {
    match s {
        Security::Tls => "SSL",
        Security::StartTls => "STARTTLS",
    }
}

fn server(out: &mut String, tag: &str, kind: &str, host: &str, e: Endpoint, login: &str) {
    line(out, 2, &format!("<{tag} type=\"{kind}\">"));
    element(out, 3, "hostname", host);
    element(out, 3, "port", &e.port.to_string());
    element(out, 3, "socketType", socket_type(e.security));
    element(out, 3, "username", login);
    // Over TLS; SCRAM is not among Thunderbird's methods.
    element(out, 3, "authentication", "password-cleartext");
    line(out, 2, &format!("</{tag}>"));
}

/// The document for `domain`. The login name is `address` as typed when
/// the request named one, else the placeholder the client fills in with
/// what the user typed.
pub fn document(domain: &Domain, address: Option<&str>, s: &Settings) -> String {
    let login = address.unwrap_or(EMAIL_PLACEHOLDER);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    line(&mut out, 0, "<clientConfig version=\"1.1\">");
    line(
        &mut out,
        1,
        &format!(
            "<emailProvider id=\"{}\">",
            super::xml::escape(domain.ascii())
        ),
    );
    element(&mut out, 2, "domain", domain.ascii());
    if domain.is_idn() {
        element(&mut out, 2, "domain", &domain.unicode());
    }
    element(&mut out, 2, "displayName", &domain.unicode());
    element(&mut out, 2, "displayShortName", &domain.unicode());
    for e in s.incoming() {
        server(&mut out, "incomingServer", "pop3", &s.host, e, login);
    }
    for e in s.outgoing() {
        server(&mut out, "outgoingServer", "smtp", &s.host, e, login);
    }
    line(&mut out, 1, "</emailProvider>");
    line(&mut out, 0, "</clientConfig>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_pop3_and_submission_both_ways() {
        let s = Settings {
            host: "mx.example.test".into(),
            pop3s_port: 10995,
            pop3_port: 10110,
            submissions_port: 10465,
            submission_port: 10587,
        };
        let d = Domain::parse("ตัวอย่าง.ไทย").unwrap();
        let doc = document(&d, Some("o'brien&co@ตัวอย่าง.ไทย"), &s);
        let expected = "\
<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<clientConfig version=\"1.1\">
  <emailProvider id=\"xn--72c1a1bt4awk9o.xn--o3cw4h\">
    <domain>xn--72c1a1bt4awk9o.xn--o3cw4h</domain>
    <domain>ตัวอย่าง.ไทย</domain>
    <displayName>ตัวอย่าง.ไทย</displayName>
    <displayShortName>ตัวอย่าง.ไทย</displayShortName>
    <incomingServer type=\"pop3\">
      <hostname>mx.example.test</hostname>
      <port>10995</port>
      <socketType>SSL</socketType>
      <username>o&apos;brien&amp;co@ตัวอย่าง.ไทย</username>
      <authentication>password-cleartext</authentication>
    </incomingServer>
    <incomingServer type=\"pop3\">
      <hostname>mx.example.test</hostname>
      <port>10110</port>
      <socketType>STARTTLS</socketType>
      <username>o&apos;brien&amp;co@ตัวอย่าง.ไทย</username>
      <authentication>password-cleartext</authentication>
    </incomingServer>
    <outgoingServer type=\"smtp\">
      <hostname>mx.example.test</hostname>
      <port>10465</port>
      <socketType>SSL</socketType>
      <username>o&apos;brien&amp;co@ตัวอย่าง.ไทย</username>
      <authentication>password-cleartext</authentication>
    </outgoingServer>
    <outgoingServer type=\"smtp\">
      <hostname>mx.example.test</hostname>
      <port>10587</port>
      <socketType>STARTTLS</socketType>
      <username>o&apos;brien&amp;co@ตัวอย่าง.ไทย</username>
      <authentication>password-cleartext</authentication>
    </outgoingServer>
  </emailProvider>
</clientConfig>
";
        assert_eq!(doc, expected);
        let plain = document(&Domain::parse("example.com").unwrap(), None, &s);
        assert_eq!(plain.matches("<domain>").count(), 1, "no Unicode twin");
        assert_eq!(
            plain.matches("<username>%EMAILADDRESS%</username>").count(),
            4
        );
    }
}
