//! Client auto-configuration: the documents mail programs fetch to set up
//! an account from an address and a password alone.
//!
//! | URL | for | answer |
//! | --- | --- | --- |
//! | `GET /.well-known/autoconfig/mail/config-v1.1.xml`, `GET /mail/config-v1.1.xml` | Thunderbird, K-9, Evolution, KMail… | `clientConfig` 1.1 |
//! | `POST /autodiscover/autodiscover.xml` | Outlook | Autodiscover, outlook response schema 2006a |
//! | `GET /apple/mobileconfig?emailaddress=…` | iPhone, iPad, macOS | an unsigned configuration profile |
//! | `GET /apple` | people | a form asking for the address, leading to the profile |
//!
//! Every document lists POP3 (implicit TLS, then STLS) and submission
//! (implicit TLS, then STARTTLS) on [`Settings`]' host and ports, with the
//! full address as the login name. The Apple profile can hold one server
//! of each kind and gets the implicit-TLS ones.
//!
//! Which domain is meant comes from the address (`emailaddress` query
//! parameter, Autodiscover `<EMailAddress>`), else from the Host field with
//! an `autoconfig.` or `autodiscover.` prefix removed. Only hosted domains
//! are answered (404 otherwise), and the answer never depends on the local
//! part, so nobody learns which mailboxes exist.
//!
//! This module decides and renders; it does no I/O. The server asks the
//! store whether [`Lookup::domain`] is hosted between [`route`] and
//! [`render`].

mod autodiscover;
mod mobileconfig;
mod query;
mod thunderbird;
mod xml;

use crate::config::Config;
use crate::http::{Request, Response};
use praisani_mailaddr::Domain;

/// Thunderbird's two locations of the same document.
pub const THUNDERBIRD_PATHS: [&str; 2] = [
    "/.well-known/autoconfig/mail/config-v1.1.xml",
    "/mail/config-v1.1.xml",
];
/// Outlook's Autodiscover endpoint (matched without regard to case: Outlook
/// asks for `/Autodiscover/Autodiscover.xml`).
pub const AUTODISCOVER_PATH: &str = "/autodiscover/autodiscover.xml";
/// The Apple configuration profile.
pub const MOBILECONFIG_PATH: &str = "/apple/mobileconfig";
/// The page with a form leading to the profile.
pub const APPLE_FORM_PATH: &str = "/apple";

/// What the documents tell mail programs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The server name, A-labels.
    pub host: String,
    /// POP3 over implicit TLS.
    pub pop3s_port: u16,
    /// POP3 with STLS.
    pub pop3_port: u16,
    /// Submission over implicit TLS.
    pub submissions_port: u16,
    /// Submission with STARTTLS.
    pub submission_port: u16,
}

impl Settings {
    /// The settings of a configuration (`[autoconfig]`).
    pub fn from_config(config: &Config) -> Settings {
        let a = &config.autoconfig;
        Settings {
            host: config.client_host(),
            pop3s_port: a.pop3s_port,
            pop3_port: a.pop3_port,
            submissions_port: a.submissions_port,
            submission_port: a.submission_port,
        }
    }

    /// POP3, preferred first (RFC 8314: implicit TLS).
    fn incoming(&self) -> [Endpoint; 2] {
        [
            Endpoint {
                port: self.pop3s_port,
                security: Security::Tls,
            },
            Endpoint {
                port: self.pop3_port,
                security: Security::StartTls,
            },
        ]
    }

    /// Submission, preferred first.
    fn outgoing(&self) -> [Endpoint; 2] {
        [
            Endpoint {
                port: self.submissions_port,
                security: Security::Tls,
            },
            Endpoint {
                port: self.submission_port,
                security: Security::StartTls,
            },
        ]
    }
}

/// One port of a service and how TLS starts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Endpoint {
    port: u16,
    security: Security,
}

/// How TLS starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    /// Before the protocol (ports 995, 465).
    Tls,
    /// With STLS / STARTTLS (ports 110, 587).
    StartTls,
}

/// Which document was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    /// Thunderbird's `clientConfig`.
    Thunderbird,
    /// Outlook's Autodiscover answer.
    Autodiscover,
    /// The Apple configuration profile.
    Mobileconfig,
    /// The HTML form leading to the profile.
    AppleForm,
}

impl Document {
    /// A short name for the log.
    pub fn name(self) -> &'static str {
        match self {
            Document::Thunderbird => "thunderbird",
            Document::Autodiscover => "autodiscover",
            Document::Mobileconfig => "mobileconfig",
            Document::AppleForm => "apple-form",
        }
    }
}

/// A request understood: the document, for which domain, for which address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// The document to send.
    pub document: Document,
    /// The domain it is for; answered only when hosted.
    pub domain: Domain,
    /// The address as the user typed it (percent-decoding and surrounding
    /// white space removed), when the request named one.
    pub address: Option<String>,
}

/// Works out what a request asks for, or the 4xx that answers it.
pub fn route(req: &Request) -> Result<Lookup, Response> {
    let path = query::decode(&req.path)
        .ok_or_else(|| Response::text(400, "the path is not valid UTF-8"))?
        .to_ascii_lowercase();
    let path = path.trim_end_matches('/');
    let get = matches!(req.method.as_str(), "GET" | "HEAD");
    let only = |allow: &'static str| {
        Err(Response::text(405, &format!("use {allow}")).header("Allow", allow))
    };
    let document = if THUNDERBIRD_PATHS.contains(&path) {
        Document::Thunderbird
    } else if path == AUTODISCOVER_PATH {
        if req.method != "POST" {
            return only("POST");
        }
        Document::Autodiscover
    } else if path == MOBILECONFIG_PATH {
        Document::Mobileconfig
    } else if path == APPLE_FORM_PATH {
        Document::AppleForm
    } else {
        return Err(Response::text(404, "nothing here"));
    };
    if document != Document::Autodiscover && !get {
        return only("GET, HEAD");
    }
    let typed = match document {
        Document::Autodiscover => Some(autodiscover::parse_request(&req.body)?),
        _ => query::param(req.query.as_deref(), "emailaddress")?,
    };
    let (address, domain) = match typed {
        Some(t) => {
            let (typed, domain) = query::address(&t)?;
            (Some(typed), domain)
        }
        None if document == Document::Mobileconfig => {
            return Err(Response::text(
                400,
                "add ?emailaddress=ADDRESS (or fill in the form at /apple)",
            ));
        }
        None => (None, query::host_domain(req.host.as_deref())?),
    };
    Ok(Lookup {
        document,
        domain,
        address,
    })
}

/// The answer for a domain that is not hosted here.
pub fn not_hosted(domain: &Domain) -> Response {
    Response::text(
        404,
        &format!("{} is not a domain of this server", domain.unicode()),
    )
}

/// The document for a hosted domain.
pub fn render(lookup: &Lookup, settings: &Settings) -> Response {
    let address = lookup.address.as_deref();
    let d = &lookup.domain;
    let r = match lookup.document {
        Document::Thunderbird => Response::new(
            200,
            "text/xml; charset=utf-8",
            thunderbird::document(d, address, settings).into_bytes(),
        ),
        Document::Autodiscover => Response::new(
            200,
            "text/xml; charset=utf-8",
            autodiscover::response(address.unwrap_or_default(), settings).into_bytes(),
        ),
        Document::Mobileconfig => {
            let address = address.unwrap_or_default();
            Response::new(
                200,
                mobileconfig::CONTENT_TYPE,
                mobileconfig::profile(d, address, settings).into_bytes(),
            )
            .header(
                "Content-Disposition",
                format!("attachment; filename=\"{}.mobileconfig\"", d.ascii()),
            )
        }
        Document::AppleForm => Response::new(
            200,
            "text/html; charset=utf-8",
            mobileconfig::form(d).into_bytes(),
        ),
    };
    // Answers depend on the query or body; nothing is worth caching.
    r.header("Cache-Control", "no-store")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, target: &str, host: Option<&str>, body: &str) -> Request {
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p.to_string(), Some(q.to_string())),
            None => (target.to_string(), None),
        };
        Request {
            method: method.into(),
            path,
            query,
            host: host.map(str::to_string),
            authorization: None,
            body: body.as_bytes().to_vec(),
            keep_alive: true,
        }
    }

    fn status(r: Result<Lookup, Response>) -> u16 {
        match r {
            Ok(l) => panic!("routed: {l:?}"),
            Err(r) => r.status,
        }
    }

    const AD: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>somchai@example.com</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>"#;

    #[test]
    fn thunderbird_domain_from_address_or_host() {
        for path in THUNDERBIRD_PATHS {
            let l = route(&req(
                "GET",
                &format!("{path}?emailaddress=%E0%B8%AA%E0%B8%A1%E0%B8%8A%E0%B8%B2%E0%B8%A2%40%E0%B8%95%E0%B8%B1%E0%B8%A7%E0%B8%AD%E0%B8%A2%E0%B9%88%E0%B8%B2%E0%B8%87.%E0%B9%84%E0%B8%97%E0%B8%A2"),
                Some("autoconfig.other.example"),
                "",
            ))
            .unwrap();
            assert_eq!(l.document, Document::Thunderbird);
            assert_eq!(l.address.as_deref(), Some("สมชาย@ตัวอย่าง.ไทย"));
            assert_eq!(l.domain, Domain::parse("ตัวอย่าง.ไทย").unwrap());
        }
        let l = route(&req(
            "HEAD",
            "/MAIL/config-v1.1.xml",
            Some("autoconfig.xn--fiqs8s"),
            "",
        ))
        .unwrap();
        assert_eq!(l.address, None);
        assert_eq!(l.domain, Domain::parse("中国").unwrap());
        let l = route(&req(
            "GET",
            "/.well-known/autoconfig/mail/config-v1.1.xml",
            Some("Example.COM"),
            "",
        ))
        .unwrap();
        assert_eq!(l.domain.ascii(), "example.com");
        // '+' is part of the address, not a space.
        let l = route(&req(
            "GET",
            "/mail/config-v1.1.xml?foo=1&EmailAddress=a+b%40example.com",
            None,
            "",
        ))
        .unwrap();
        assert_eq!(l.address.as_deref(), Some("a+b@example.com"));
    }

    #[test]
    fn refusals() {
        let tb = "/mail/config-v1.1.xml";
        assert_eq!(
            status(route(&req("GET", tb, None, ""))),
            400,
            "no domain at all"
        );
        assert_eq!(status(route(&req("GET", tb, Some("[::1]"), ""))), 400);
        assert_eq!(
            status(route(&req(
                "GET",
                &format!("{tb}?emailaddress=nobody"),
                None,
                ""
            ))),
            400
        );
        assert_eq!(
            status(route(&req(
                "GET",
                &format!("{tb}?emailaddress=%FF%40x.com"),
                None,
                ""
            ))),
            400,
            "not UTF-8"
        );
        assert_eq!(
            status(route(&req(
                "GET",
                &format!("{tb}?emailaddress="),
                Some("example.com"),
                ""
            ))),
            400,
            "empty address"
        );
        assert_eq!(
            status(route(&req("POST", tb, Some("example.com"), ""))),
            405
        );
        assert_eq!(
            status(route(&req("GET", "/", Some("example.com"), ""))),
            404
        );
        assert_eq!(
            status(route(&req("GET", "/%ff", Some("example.com"), ""))),
            400
        );
        assert_eq!(
            status(route(&req(
                "GET",
                MOBILECONFIG_PATH,
                Some("example.com"),
                ""
            ))),
            400,
            "the profile needs an address"
        );
        let r = route(&req(
            "GET",
            "/Autodiscover/Autodiscover.xml",
            Some("example.com"),
            "",
        ))
        .unwrap_err();
        assert_eq!(r.status, 405);
        assert!(r.headers.contains(&("Allow", "POST".into())));
        assert_eq!(
            status(route(&req(
                "POST",
                AUTODISCOVER_PATH,
                Some("example.com"),
                "<nope"
            ))),
            400
        );
    }

    #[test]
    fn autodiscover_takes_the_address_from_the_body() {
        let l = route(&req(
            "POST",
            "/Autodiscover/Autodiscover.xml",
            Some("autodiscover.other.example"),
            AD,
        ))
        .unwrap();
        assert_eq!(l.document, Document::Autodiscover);
        assert_eq!(l.address.as_deref(), Some("somchai@example.com"));
        assert_eq!(l.domain.ascii(), "example.com");
    }

    #[test]
    fn rendered_documents_carry_their_media_types() {
        let s = Settings {
            host: "mx.example.test".into(),
            pop3s_port: 995,
            pop3_port: 110,
            submissions_port: 465,
            submission_port: 587,
        };
        let d = Domain::parse("example.com").unwrap();
        let look = |document, address: Option<&str>| Lookup {
            document,
            domain: d.clone(),
            address: address.map(str::to_string),
        };
        let ct = |r: &Response| {
            r.headers
                .iter()
                .find(|(n, _)| *n == "Content-Type")
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        let r = render(&look(Document::Thunderbird, None), &s);
        assert_eq!(
            (r.status, ct(&r).as_str()),
            (200, "text/xml; charset=utf-8")
        );
        let r = render(&look(Document::Mobileconfig, Some("a@example.com")), &s);
        assert_eq!(ct(&r), "application/x-apple-aspen-config");
        assert!(r.headers.contains(&(
            "Content-Disposition",
            "attachment; filename=\"example.com.mobileconfig\"".into()
        )));
        let r = render(&look(Document::AppleForm, None), &s);
        assert_eq!(ct(&r), "text/html; charset=utf-8");
        assert_eq!(not_hosted(&d).status, 404);
    }
}
