//! Apple configuration profiles (`.mobileconfig`): an unsigned property
//! list with one `com.apple.mail.managed` payload for a POP account. The
//! device asks for the password when the profile is installed.
//!
//! The payload can name one incoming and one outgoing server; it gets the
//! implicit-TLS ports. The identifiers and UUIDs are derived from the
//! address and the server, so downloading the profile again replaces the
//! installed one instead of adding a second account.

use super::xml::{element, escape, line};
use super::{Security, Settings};
use praisani_mailaddr::{Address, Domain};
use sha2::{Digest, Sha256};

/// The media type Apple devices install profiles from.
pub const CONTENT_TYPE: &str = "application/x-apple-aspen-config";

/// A stable UUID (RFC 9562 version 8, from SHA-256) for `parts`.
fn uuid(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(b"praisani mobileconfig");
    for p in parts {
        h.update([0]);
        h.update(p.as_bytes());
    }
    let mut b: [u8; 16] = h.finalize()[..16].try_into().unwrap_or([0; 16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = hex::encode_upper(b);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn key(out: &mut String, depth: usize, k: &str) {
    element(out, depth, "key", k);
}

fn string(out: &mut String, depth: usize, k: &str, v: &str) {
    key(out, depth, k);
    element(out, depth, "string", v);
}

fn integer(out: &mut String, depth: usize, k: &str, v: u16) {
    key(out, depth, k);
    element(out, depth, "integer", &v.to_string());
}

fn boolean(out: &mut String, depth: usize, k: &str, v: bool) {
    key(out, depth, k);
    line(out, depth, if v { "<true/>" } else { "<false/>" });
}

/// The profile for `address` (as typed) at `domain`.
pub fn profile(domain: &Domain, address: &str, s: &Settings) -> String {
    let canonical = Address::parse(address)
        .map(|a| a.canonical())
        .unwrap_or_else(|_| address.to_string());
    let profile_uuid = uuid(&[&s.host, &canonical, "profile"]);
    let payload_uuid = uuid(&[&s.host, &canonical, "mail"]);
    let reversed: Vec<&str> = domain.ascii().rsplit('.').collect();
    let identifier = format!(
        "{}.praisani.{}",
        reversed.join("."),
        profile_uuid.to_ascii_lowercase()
    );
    let [incoming, _] = s.incoming();
    let [outgoing, _] = s.outgoing();
    let name = domain.unicode();

    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    line(
        &mut out,
        0,
        "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">",
    );
    line(&mut out, 0, "<plist version=\"1.0\">");
    line(&mut out, 0, "<dict>");
    key(&mut out, 1, "PayloadContent");
    line(&mut out, 1, "<array>");
    line(&mut out, 2, "<dict>");
    let d = 3;
    string(&mut out, d, "EmailAccountDescription", &name);
    string(&mut out, d, "EmailAccountType", "EmailTypePOP");
    string(&mut out, d, "EmailAddress", address);
    string(
        &mut out,
        d,
        "IncomingMailServerAuthentication",
        "EmailAuthPassword",
    );
    string(&mut out, d, "IncomingMailServerHostName", &s.host);
    integer(&mut out, d, "IncomingMailServerPortNumber", incoming.port);
    boolean(
        &mut out,
        d,
        "IncomingMailServerUseSSL",
        incoming.security == Security::Tls,
    );
    string(&mut out, d, "IncomingMailServerUsername", address);
    string(
        &mut out,
        d,
        "OutgoingMailServerAuthentication",
        "EmailAuthPassword",
    );
    string(&mut out, d, "OutgoingMailServerHostName", &s.host);
    integer(&mut out, d, "OutgoingMailServerPortNumber", outgoing.port);
    boolean(
        &mut out,
        d,
        "OutgoingMailServerUseSSL",
        outgoing.security == Security::Tls,
    );
    string(&mut out, d, "OutgoingMailServerUsername", address);
    boolean(&mut out, d, "OutgoingPasswordSameAsIncomingPassword", true);
    string(
        &mut out,
        d,
        "PayloadDescription",
        &format!("Mail account {address}"),
    );
    string(
        &mut out,
        d,
        "PayloadDisplayName",
        &format!("Mail: {address}"),
    );
    string(
        &mut out,
        d,
        "PayloadIdentifier",
        &format!("{identifier}.mail"),
    );
    string(&mut out, d, "PayloadType", "com.apple.mail.managed");
    string(&mut out, d, "PayloadUUID", &payload_uuid);
    integer(&mut out, d, "PayloadVersion", 1);
    line(&mut out, 2, "</dict>");
    line(&mut out, 1, "</array>");
    string(
        &mut out,
        1,
        "PayloadDescription",
        &format!("Sets up {address} in Mail (POP)."),
    );
    string(
        &mut out,
        1,
        "PayloadDisplayName",
        &format!("Mail: {address}"),
    );
    string(&mut out, 1, "PayloadIdentifier", &identifier);
    string(&mut out, 1, "PayloadOrganization", &name);
    boolean(&mut out, 1, "PayloadRemovalDisallowed", false);
    string(&mut out, 1, "PayloadType", "Configuration");
    string(&mut out, 1, "PayloadUUID", &profile_uuid);
    integer(&mut out, 1, "PayloadVersion", 1);
    line(&mut out, 0, "</dict>");
    line(&mut out, 0, "</plist>");
    out
}

/// A page asking for the address and sending it to the profile URL: on a
/// phone, typing the address is all it takes.
pub fn form(domain: &Domain) -> String {
    let name = escape(&domain.unicode());
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Mail settings: {name}</title></head>\n<body>\n<h1>Mail settings: {name}</h1>\n\
         <form method=\"get\" action=\"{action}\">\n\
         <label for=\"emailaddress\">Email address</label>\n\
         <input id=\"emailaddress\" name=\"emailaddress\" type=\"text\" inputmode=\"email\" \
         autocapitalize=\"off\" autocorrect=\"off\" spellcheck=\"false\" required \
         placeholder=\"name@{name}\">\n\
         <button type=\"submit\">Download the profile</button>\n</form>\n\
         <p>Open the downloaded profile in Settings and install it; it asks for your password.</p>\n\
         </body></html>\n",
        action = super::MOBILECONFIG_PATH,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            host: "mx.example.test".into(),
            pop3s_port: 995,
            pop3_port: 110,
            submissions_port: 465,
            submission_port: 587,
        }
    }

    #[test]
    fn uuids_are_stable_and_well_formed() {
        let a = uuid(&["h", "a@b.c", "profile"]);
        assert_eq!(a, uuid(&["h", "a@b.c", "profile"]));
        assert_ne!(a, uuid(&["h", "a@b.c", "mail"]));
        assert_ne!(
            uuid(&["h", "ab", "c"]),
            uuid(&["h", "a", "bc"]),
            "parts are delimited"
        );
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "8", "version 8: {a}");
        assert!("89AB".contains(&a[19..20]), "RFC variant: {a}");
    }

    #[test]
    fn same_mailbox_same_identifiers() {
        let d = Domain::parse("ตัวอย่าง.ไทย").unwrap();
        let s = settings();
        let a = profile(&d, "Somchai@ตัวอย่าง.ไทย", &s);
        let b = profile(&d, "somchai@xn--72c1a1bt4awk9o.xn--o3cw4h", &s);
        let uuid_lines = |doc: &str| -> Vec<String> {
            doc.lines()
                .skip_while(|l| !l.contains("PayloadUUID"))
                .nth(1)
                .into_iter()
                .map(str::to_string)
                .collect()
        };
        assert_eq!(uuid_lines(&a), uuid_lines(&b));
        assert!(!uuid_lines(&a).is_empty());
        assert!(
            a.contains("<string>xn--o3cw4h.xn--72c1a1bt4awk9o.praisani."),
            "{a}"
        );
        let c = profile(&d, "other@ตัวอย่าง.ไทย", &s);
        assert_ne!(uuid_lines(&a), uuid_lines(&c));
    }

    #[test]
    fn escapes_and_form() {
        let d = Domain::parse("example.com").unwrap();
        let p = profile(&d, "o'brien&co@example.com", &settings());
        assert!(p.contains("<string>o&apos;brien&amp;co@example.com</string>"));
        assert!(!p.contains("o'brien"));
        let f = form(&d);
        assert!(f.contains("action=\"/apple/mobileconfig\""));
        assert!(f.contains("name=\"emailaddress\""));
    }
}
