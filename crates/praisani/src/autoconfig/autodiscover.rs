//! Microsoft Autodiscover for Outlook ("POX" Autodiscover, [MS-OXDSCLI]):
//! the request is read with quick-xml, the answer lists POP3 and SMTP
//! `<Protocol>` entries of the outlook response schema 2006a.

use super::xml::{element, line};
use super::{Security, Settings};
use crate::http::Response;
use quick_xml::Reader;
use quick_xml::events::Event;

/// The only response schema offered (no Exchange ActiveSync here).
pub const OUTLOOK_RESPONSE_SCHEMA: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";
/// The namespace of the response's root element.
pub const RESPONSE_NAMESPACE: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006";
/// Nesting deeper than this in a request is refused; a real one has three
/// levels.
const MAX_DEPTH: usize = 16;

/// Reads `<Autodiscover><Request><EMailAddress>` from a request body,
/// checking `<AcceptableResponseSchema>` when present. Element names are
/// matched without their namespace prefix.
pub fn parse_request(body: &[u8]) -> Result<String, Response> {
    let bad = |why: &str| Response::text(400, &format!("Autodiscover request: {why}"));
    let text = std::str::from_utf8(body).map_err(|_| bad("the body is not UTF-8"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<String> = Vec::new();
    let mut content = String::new();
    let mut roots = 0;
    let mut email = None;
    let mut schema = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| bad(&format!("not well-formed XML ({e})")))?;
        match event {
            Event::DocType(_) => return Err(bad("a DOCTYPE is not allowed")),
            Event::Start(e) => {
                if stack.is_empty() {
                    roots += 1;
                    check_root(roots, e.local_name().as_ref()).map_err(bad)?;
                } else if stack.len() >= MAX_DEPTH {
                    return Err(bad("elements nested too deeply"));
                }
                stack.push(e.local_name().as_ref().to_string());
                content.clear();
            }
            Event::Empty(e) if stack.is_empty() => {
                roots += 1;
                check_root(roots, e.local_name().as_ref()).map_err(bad)?;
            }
            Event::End(_) => {
                let name = stack.pop().unwrap_or_default();
                if stack.len() == 2 && stack[1] == "Request" {
                    let value = content.trim().to_string();
                    match name.as_str() {
                        "EMailAddress" => email = email.or(Some(value)),
                        "AcceptableResponseSchema" => schema = schema.or(Some(value)),
                        _ => {}
                    }
                }
                content.clear();
            }
            Event::Text(t) => {
                let t = t.xml10_content();
                if stack.is_empty() && !t.trim().is_empty() {
                    return Err(bad("text outside the root element"));
                }
                content.push_str(&t);
            }
            Event::CData(c) => content.push_str(&c.xml10_content()),
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    Ok(None) => match &*r {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        _ => return Err(bad("unknown entity")),
                    },
                    Err(_) => return Err(bad("invalid character reference")),
                };
                content.push(c);
            }
            Event::Eof => break,
            Event::Empty(_) | Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
    }
    if roots == 0 {
        return Err(bad("no <Autodiscover> element"));
    }
    if !stack.is_empty() {
        return Err(bad("unclosed elements"));
    }
    if let Some(s) = schema
        && s != OUTLOOK_RESPONSE_SCHEMA
    {
        return Err(bad(&format!(
            "only the response schema {OUTLOOK_RESPONSE_SCHEMA} is offered (this server has no Exchange ActiveSync)"
        )));
    }
    match email {
        Some(e) if !e.is_empty() => Ok(e),
        _ => Err(bad("no <Request><EMailAddress>")),
    }
}

/// One root, and it is `<Autodiscover>`.
fn check_root(roots: usize, local_name: &str) -> Result<(), &'static str> {
    if roots > 1 || local_name != "Autodiscover" {
        return Err("the root element must be <Autodiscover>");
    }
    Ok(())
}

/// The answer for `login` (the address from the request, as sent).
pub fn response(login: &str, s: &Settings) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    line(
        &mut out,
        0,
        &format!("<Autodiscover xmlns=\"{RESPONSE_NAMESPACE}\">"),
    );
    line(
        &mut out,
        1,
        &format!("<Response xmlns=\"{OUTLOOK_RESPONSE_SCHEMA}\">"),
    );
    line(&mut out, 2, "<Account>");
    element(&mut out, 3, "AccountType", "email");
    element(&mut out, 3, "Action", "settings");
    let services = s
        .incoming()
        .into_iter()
        .map(|e| ("POP3", e))
        .chain(s.outgoing().into_iter().map(|e| ("SMTP", e)));
    for (kind, e) in services {
        line(&mut out, 3, "<Protocol>");
        element(&mut out, 4, "Type", kind);
        element(&mut out, 4, "Server", &s.host);
        element(&mut out, 4, "Port", &e.port.to_string());
        element(&mut out, 4, "DomainRequired", "off");
        element(&mut out, 4, "LoginName", login);
        element(&mut out, 4, "SPA", "off");
        // <Encryption> (Outlook 2010 on) tells implicit TLS ("SSL") from
        // STARTTLS ("TLS"); <SSL> is for older versions, which know only
        // implicit TLS and so must not see it for the STARTTLS ports.
        match e.security {
            Security::Tls => {
                element(&mut out, 4, "SSL", "on");
                element(&mut out, 4, "Encryption", "SSL");
            }
            Security::StartTls => element(&mut out, 4, "Encryption", "TLS"),
        }
        element(&mut out, 4, "AuthRequired", "on");
        if kind == "SMTP" {
            element(&mut out, 4, "UsePOPAuth", "on");
            element(&mut out, 4, "SMTPLast", "off");
        }
        line(&mut out, 3, "</Protocol>");
    }
    line(&mut out, 2, "</Account>");
    line(&mut out, 1, "</Response>");
    line(&mut out, 0, "</Autodiscover>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(email: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>{email}</EMailAddress>
    <AcceptableResponseSchema>{OUTLOOK_RESPONSE_SCHEMA}</AcceptableResponseSchema>
  </Request>
</Autodiscover>"#
        )
    }

    fn refused(body: &str) -> String {
        let r = parse_request(body.as_bytes()).unwrap_err();
        assert_eq!(r.status, 400, "{body}");
        String::from_utf8(r.body).unwrap()
    }

    #[test]
    fn reads_the_address() {
        assert_eq!(
            parse_request(request("a@example.com").as_bytes()).unwrap(),
            "a@example.com"
        );
        assert_eq!(
            parse_request(request("o&apos;brien&amp;co@&#x0E15;ัวอย่าง.ไทย").as_bytes()).unwrap(),
            "o'brien&co@ตัวอย่าง.ไทย"
        );
        // Prefixed names, no schema, CDATA, a BOM, comments.
        let body = "\u{feff}<a:Autodiscover xmlns:a=\"x\"><!-- c --><a:Request><a:EMailAddress><![CDATA[用户@例子.中国]]></a:EMailAddress></a:Request></a:Autodiscover>";
        assert_eq!(parse_request(body.as_bytes()).unwrap(), "用户@例子.中国");
    }

    #[test]
    fn refuses_what_it_cannot_answer() {
        assert!(refused("").contains("no <Autodiscover>"));
        assert!(
            refused("<Autodiscover>").contains("unclosed")
                || refused("<Autodiscover>").contains("well-formed")
        );
        assert!(refused("<Other/>").contains("root"));
        assert!(refused("<Autodiscover/>").contains("EMailAddress"));
        assert!(
            refused("<Autodiscover><Request></Request></Autodiscover>").contains("EMailAddress")
        );
        assert!(
            refused(
                "<Autodiscover><Request><EMailAddress> </EMailAddress></Request></Autodiscover>"
            )
            .contains("EMailAddress")
        );
        assert!(refused("<Autodiscover><Request></Autodiscover>").contains("well-formed"));
        assert!(refused("<!DOCTYPE x [<!ENTITY e \"boom\">]><Autodiscover/>").contains("DOCTYPE"));
        assert!(
            refused(
                "<Autodiscover><Request><EMailAddress>&e;</EMailAddress></Request></Autodiscover>"
            )
            .contains("entity")
        );
        assert!(refused("<Autodiscover/><Autodiscover/>").contains("root"));
        assert!(refused("<Autodiscover/>junk").contains("outside"));
        let deep = format!(
            "<Autodiscover>{}{}</Autodiscover>",
            "<a>".repeat(40),
            "</a>".repeat(40)
        );
        assert!(refused(&deep).contains("deeply"));
        let sync = request("a@example.com").replace(
            OUTLOOK_RESPONSE_SCHEMA,
            "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006",
        );
        assert!(refused(&sync).contains("ActiveSync"));
        assert_eq!(parse_request(b"\xff\xfe<").unwrap_err().status, 400);
    }

    #[test]
    fn answer_lists_every_protocol() {
        let s = Settings {
            host: "mx.example.test".into(),
            pop3s_port: 995,
            pop3_port: 110,
            submissions_port: 465,
            submission_port: 587,
        };
        let doc = response("a<b@example.com", &s);
        assert!(doc.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006\">\n"));
        assert_eq!(doc.matches("<Protocol>").count(), 4);
        assert_eq!(
            doc.matches("<LoginName>a&lt;b@example.com</LoginName>")
                .count(),
            4
        );
        let ports: Vec<&str> = doc
            .lines()
            .filter_map(|l| l.trim().strip_prefix("<Port>")?.strip_suffix("</Port>"))
            .collect();
        assert_eq!(ports, ["995", "110", "465", "587"]);
        let enc: Vec<&str> = doc
            .lines()
            .filter_map(|l| {
                l.trim()
                    .strip_prefix("<Encryption>")?
                    .strip_suffix("</Encryption>")
            })
            .collect();
        assert_eq!(enc, ["SSL", "TLS", "SSL", "TLS"]);
        assert_eq!(doc.matches("<SSL>on</SSL>").count(), 2);
    }
}
