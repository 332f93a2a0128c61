//! Client auto-configuration on the real binary: Thunderbird autoconfig,
//! Outlook Autodiscover and Apple .mobileconfig fetched over HTTP and HTTPS
//! with Python's urllib (and curl), parsed with xml.etree / plistlib, every
//! field checked; refusals of unknown domains and malformed or oversized
//! requests; an account set up from nothing but an address and a password;
//! `praisani dns`.

mod common;

use common::*;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const THAI: &str = "ตัวอย่าง.ไทย";
const THAI_ASCII: &str = "xn--72c1a1bt4awk9o.xn--o3cw4h";
const CHINESE: &str = "例子.中国";
const CHINESE_ASCII: &str = "xn--fsqu00a.xn--fiqs8s";

const OUTLOOK_SCHEMA: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";

/// Fetches a list of requests (JSON in argv[1]) and prints, as JSON, each
/// answer's status, header fields and the parsed document.
const FETCH_PY: &str = r#"
import json, ssl, sys, urllib.error, urllib.parse, urllib.request, plistlib
import xml.etree.ElementTree as ET

AD_NS = 'http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006'
OL_NS = 'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a'

def children(el):
    # Every child once: a repeated field would be ambiguous to a client.
    d = {}
    for c in el:
        tag = c.tag.split('}')[-1]
        assert tag not in d, ('repeated', tag)
        assert len(c) == 0, ('nested', tag)
        d[tag] = c.text
    return d

def thunderbird(body):
    root = ET.fromstring(body)
    assert root.tag == 'clientConfig' and root.get('version') == '1.1', root
    assert len(root) == 1, 'one emailProvider'
    p = root[0]
    assert p.tag == 'emailProvider'
    known = {'domain', 'displayName', 'displayShortName', 'incomingServer', 'outgoingServer'}
    assert all(c.tag in known for c in p), [c.tag for c in p]
    def server(s):
        d = children(s)
        d['type'] = s.get('type')
        return d
    return {
        'id': p.get('id'),
        'domains': [d.text for d in p.findall('domain')],
        'displayName': p.find('displayName').text,
        'displayShortName': p.find('displayShortName').text,
        'incoming': [server(s) for s in p.findall('incomingServer')],
        'outgoing': [server(s) for s in p.findall('outgoingServer')],
    }

def autodiscover(body):
    root = ET.fromstring(body)
    assert root.tag == '{%s}Autodiscover' % AD_NS, root.tag
    assert len(root) == 1
    resp = root[0]
    assert resp.tag == '{%s}Response' % OL_NS, resp.tag
    assert len(resp) == 1
    acc = resp[0]
    assert acc.tag == '{%s}Account' % OL_NS, acc.tag
    out = {'protocols': []}
    for c in acc:
        tag = c.tag.split('}')[1]
        if tag == 'Protocol':
            out['protocols'].append(children(c))
        else:
            assert tag not in out
            out[tag] = c.text
    return out

def mobileconfig(body):
    return plistlib.loads(body)

def fetch(spec):
    url = spec['base'] + spec['path']
    if 'email' in spec:
        url += '?emailaddress=' + urllib.parse.quote(spec['email'], safe='')
    data = spec.get('body')
    if data is not None:
        data = data.encode('utf-8')
    req = urllib.request.Request(url, data=data, method=spec.get('method', 'GET'))
    if 'host' in spec:
        req.add_header('Host', spec['host'])
    if data is not None:
        req.add_header('Content-Type', 'text/xml')
    ctx = ssl._create_unverified_context()
    try:
        r = urllib.request.urlopen(req, timeout=20, context=ctx)
        status, headers, body = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, headers, body = e.code, e.headers, e.read()
    out = {'status': status, 'headers': {k.lower(): v for k, v in headers.items()},
           'raw': body.decode('utf-8', 'replace')}
    if status == 200 and spec.get('parse'):
        out['doc'] = globals()[spec['parse']](body)
    return out

specs = json.loads(sys.argv[1])
print(json.dumps([fetch(s) for s in specs], ensure_ascii=False))
"#;

/// Runs FETCH_PY on `specs`; one answer per spec.
fn fetch(specs: &[Value]) -> Vec<Value> {
    let arg = Value::Array(specs.to_vec()).to_string();
    let out = python(FETCH_PY, &[&arg], Duration::from_secs(120));
    assert!(out.status.success(), "fetch script: {}", out.describe());
    let v: Value = serde_json::from_str(out.out().trim())
        .unwrap_or_else(|e| panic!("fetch output ({e}): {}", out.describe()));
    let list = v.as_array().expect("a list").clone();
    assert_eq!(list.len(), specs.len());
    list
}

/// What the documents should advertise.
struct Advertised {
    host: String,
    pop3s: u16,
    pop3: u16,
    submissions: u16,
    submission: u16,
}

impl Advertised {
    fn table(&self) -> String {
        format!(
            "[autoconfig]\nhost = \"{}\"\npop3s_port = {}\npop3_port = {}\nsubmissions_port = {}\nsubmission_port = {}\n",
            self.host, self.pop3s, self.pop3, self.submissions, self.submission
        )
    }
}

fn unicode_of(ascii_domain: &str) -> &str {
    match ascii_domain {
        THAI_ASCII => THAI,
        CHINESE_ASCII => CHINESE,
        other => other,
    }
}

fn expected_thunderbird(a: &Advertised, ascii_domain: &str, login: &str) -> Value {
    let unicode = unicode_of(ascii_domain);
    let mut domains = vec![ascii_domain];
    if unicode != ascii_domain {
        domains.push(unicode);
    }
    let server = |kind: &str, port: u16, socket: &str| {
        json!({
            "type": kind, "hostname": a.host, "port": port.to_string(), "socketType": socket,
            "username": login, "authentication": "password-cleartext",
        })
    };
    json!({
        "id": ascii_domain,
        "domains": domains,
        "displayName": unicode,
        "displayShortName": unicode,
        "incoming": [server("pop3", a.pop3s, "SSL"), server("pop3", a.pop3, "STARTTLS")],
        "outgoing": [server("smtp", a.submissions, "SSL"), server("smtp", a.submission, "STARTTLS")],
    })
}

fn expected_autodiscover(a: &Advertised, login: &str) -> Value {
    let protocol = |kind: &str, port: u16, implicit: bool| {
        let mut p = json!({
            "Type": kind, "Server": a.host, "Port": port.to_string(), "DomainRequired": "off",
            "LoginName": login, "SPA": "off", "AuthRequired": "on",
            "Encryption": if implicit { "SSL" } else { "TLS" },
        });
        if implicit {
            p["SSL"] = json!("on");
        }
        if kind == "SMTP" {
            p["UsePOPAuth"] = json!("on");
            p["SMTPLast"] = json!("off");
        }
        p
    };
    json!({
        "AccountType": "email",
        "Action": "settings",
        "protocols": [
            protocol("POP3", a.pop3s, true),
            protocol("POP3", a.pop3, false),
            protocol("SMTP", a.submissions, true),
            protocol("SMTP", a.submission, false),
        ],
    })
}

/// Checks a parsed profile field by field; returns its two UUIDs.
#[track_caller]
fn check_mobileconfig(
    doc: &Value,
    a: &Advertised,
    ascii_domain: &str,
    address: &str,
) -> [String; 2] {
    let unicode = unicode_of(ascii_domain);
    let top = doc.as_object().expect("a dict");
    let payloads = doc["PayloadContent"]
        .as_array()
        .expect("PayloadContent array");
    assert_eq!(payloads.len(), 1, "{doc}");
    let p = &payloads[0];
    let uuid = |v: &Value| -> String {
        let s = v.as_str().expect("uuid string").to_string();
        assert_eq!(s.len(), 36, "{s}");
        assert!(
            s.chars()
                .enumerate()
                .all(|(i, c)| if [8, 13, 18, 23].contains(&i) {
                    c == '-'
                } else {
                    c.is_ascii_hexdigit()
                }),
            "{s}"
        );
        s
    };
    let payload_uuid = uuid(&p["PayloadUUID"]);
    let profile_uuid = uuid(&doc["PayloadUUID"]);
    assert_ne!(payload_uuid, profile_uuid);
    let reversed: Vec<&str> = ascii_domain.rsplit('.').collect();
    let identifier = doc["PayloadIdentifier"].as_str().unwrap().to_string();
    assert!(
        identifier.starts_with(&format!("{}.praisani.", reversed.join("."))),
        "{identifier}"
    );
    let mut expected_payload = json!({
        "EmailAccountDescription": unicode,
        "EmailAccountType": "EmailTypePOP",
        "EmailAddress": address,
        "IncomingMailServerAuthentication": "EmailAuthPassword",
        "IncomingMailServerHostName": a.host,
        "IncomingMailServerPortNumber": a.pop3s,
        "IncomingMailServerUseSSL": true,
        "IncomingMailServerUsername": address,
        "OutgoingMailServerAuthentication": "EmailAuthPassword",
        "OutgoingMailServerHostName": a.host,
        "OutgoingMailServerPortNumber": a.submissions,
        "OutgoingMailServerUseSSL": true,
        "OutgoingMailServerUsername": address,
        "OutgoingPasswordSameAsIncomingPassword": true,
        "PayloadDescription": format!("Mail account {address}"),
        "PayloadDisplayName": format!("Mail: {address}"),
        "PayloadIdentifier": format!("{identifier}.mail"),
        "PayloadType": "com.apple.mail.managed",
        "PayloadVersion": 1,
    });
    expected_payload["PayloadUUID"] = json!(payload_uuid);
    assert_eq!(p, &expected_payload);
    let mut expected_top = json!({
        "PayloadDescription": format!("Sets up {address} in Mail (POP)."),
        "PayloadDisplayName": format!("Mail: {address}"),
        "PayloadIdentifier": identifier,
        "PayloadOrganization": unicode,
        "PayloadRemovalDisallowed": false,
        "PayloadType": "Configuration",
        "PayloadVersion": 1,
        "PayloadUUID": profile_uuid,
    });
    expected_top["PayloadContent"] = doc["PayloadContent"].clone();
    assert_eq!(&Value::Object(top.clone()), &expected_top);
    [profile_uuid, payload_uuid]
}

fn autodiscover_body(email: &str) -> String {
    let escaped = email
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('\'', "&apos;");
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006\">\n  <Request>\n    <EMailAddress>{escaped}</EMailAddress>\n    <AcceptableResponseSchema>{OUTLOOK_SCHEMA}</AcceptableResponseSchema>\n  </Request>\n</Autodiscover>\n"
    )
}

fn http_server(tables: &str, limits_extra: &str) -> Server {
    Server::start_extra(
        ServerOpts {
            demo: false,
            limits: limits_extra.into(),
        },
        ExtraConfig {
            tls_listeners: true,
            http_listeners: true,
            tables: tables.into(),
            ..ExtraConfig::default()
        },
    )
}

fn bases(s: &Server) -> [String; 2] {
    [
        format!("http://127.0.0.1:{}", s.http_port),
        format!("https://127.0.0.1:{}", s.https_port),
    ]
}

#[test]
fn every_document_for_thai_chinese_and_english_addresses() {
    require_tool!("python3");
    let adv = Advertised {
        host: "mail.example.net".into(),
        pop3s: 10995,
        pop3: 10110,
        submissions: 10465,
        submission: 10587,
    };
    let s = http_server(&adv.table(), "");
    for d in ["example.com", THAI, CHINESE] {
        s.add_domain(d);
    }
    // (address as typed, A-label domain)
    let cases = [
        ("somchai@example.com", "example.com"),
        ("o'brien&co+tag@Example.COM", "example.com"),
        ("สมชาย@ตัวอย่าง.ไทย", THAI_ASCII),
        ("สมชาย@xn--72c1a1bt4awk9o.xn--o3cw4h", THAI_ASCII),
        ("用户@例子.中国", CHINESE_ASCII),
        ("用户@XN--FSQU00A.xn--fiqs8s", CHINESE_ASCII),
    ];
    let mut specs = Vec::new();
    for (address, _) in cases {
        for base in bases(&s) {
            for path in [
                "/.well-known/autoconfig/mail/config-v1.1.xml",
                "/mail/config-v1.1.xml",
            ] {
                specs.push(json!({"base": base, "path": path, "email": address, "parse": "thunderbird", "address": address}));
            }
            specs.push(
                json!({"base": base, "path": "/autodiscover/autodiscover.xml", "method": "POST",
                "body": autodiscover_body(address), "parse": "autodiscover", "address": address}),
            );
            // Outlook's spelling of the path.
            specs.push(
                json!({"base": base, "path": "/Autodiscover/Autodiscover.xml", "method": "POST",
                "body": autodiscover_body(address), "parse": "autodiscover", "address": address}),
            );
            specs.push(json!({"base": base, "path": "/apple/mobileconfig", "email": address, "parse": "mobileconfig", "address": address}));
        }
    }
    let answers = fetch(&specs);
    let mut uuids = std::collections::HashMap::new();
    for (spec, answer) in specs.iter().zip(&answers) {
        let address = spec["address"].as_str().unwrap().to_string();
        let domain = cases.iter().find(|(a, _)| *a == address).unwrap().1;
        assert_eq!(answer["status"], 200, "{spec}: {answer}");
        let ct = answer["headers"]["content-type"]
            .as_str()
            .unwrap_or_default();
        assert_eq!(answer["headers"]["cache-control"], "no-store", "{answer}");
        assert_eq!(
            answer["headers"]["x-content-type-options"], "nosniff",
            "{answer}"
        );
        match spec["parse"].as_str().unwrap() {
            "thunderbird" => {
                assert_eq!(ct, "text/xml; charset=utf-8");
                assert_eq!(
                    answer["doc"],
                    expected_thunderbird(&adv, domain, &address),
                    "{spec}"
                );
            }
            "autodiscover" => {
                assert_eq!(ct, "text/xml; charset=utf-8");
                assert_eq!(
                    answer["doc"],
                    expected_autodiscover(&adv, &address),
                    "{spec}"
                );
            }
            _ => {
                assert_eq!(ct, "application/x-apple-aspen-config");
                assert_eq!(
                    answer["headers"]["content-disposition"],
                    format!("attachment; filename=\"{domain}.mobileconfig\""),
                );
                let ids = check_mobileconfig(&answer["doc"], &adv, domain, &address);
                // The same mailbox, however spelled and fetched, gets the same
                // UUIDs (so a second download replaces the profile).
                let key = address
                    .to_lowercase()
                    .replace("xn--72c1a1bt4awk9o.xn--o3cw4h", THAI)
                    .replace("xn--fsqu00a.xn--fiqs8s", CHINESE);
                let prev = uuids.entry(key).or_insert_with(|| ids.clone());
                assert_eq!(prev, &ids, "{address}");
            }
        }
    }
    assert_eq!(uuids.len(), 4, "four mailboxes, four identities: {uuids:?}");

    // Without an address, the Host field names the domain and the login
    // name is the placeholder Thunderbird fills in.
    let mut specs = Vec::new();
    for base in bases(&s) {
        for (host, _) in [
            (format!("autoconfig.{THAI_ASCII}"), THAI_ASCII),
            (format!("autoconfig.{CHINESE_ASCII}:443"), CHINESE_ASCII),
            ("Example.COM".to_string(), "example.com"),
        ] {
            specs.push(json!({"base": base, "path": "/mail/config-v1.1.xml", "host": host, "parse": "thunderbird"}));
        }
    }
    for (spec, answer) in specs.iter().zip(fetch(&specs)) {
        let host = spec["host"].as_str().unwrap();
        let domain = [THAI_ASCII, CHINESE_ASCII, "example.com"]
            .into_iter()
            .find(|d| host.to_lowercase().contains(d))
            .unwrap();
        assert_eq!(answer["status"], 200, "{spec}: {answer}");
        assert_eq!(
            answer["doc"],
            expected_thunderbird(&adv, domain, "%EMAILADDRESS%"),
            "{spec}"
        );
    }
}

#[test]
fn answers_do_not_tell_which_mailboxes_exist() {
    require_tool!("python3");
    let s = http_server("", "");
    s.add_domain(THAI);
    s.add_user(&format!("somchai@{THAI}"), "pw-1234567", &[]);
    let base = &bases(&s)[1];
    let mut specs = Vec::new();
    for local in ["somchai", "nobody1"] {
        let a = format!("{local}@{THAI}");
        specs.push(json!({"base": base, "path": "/mail/config-v1.1.xml", "email": a}));
        specs.push(json!({"base": base, "path": "/autodiscover/autodiscover.xml", "method": "POST", "body": autodiscover_body(&a)}));
        specs.push(json!({"base": base, "path": "/apple/mobileconfig", "email": a, "parse": "mobileconfig"}));
    }
    let answers = fetch(&specs);
    let (known, unknown) = answers.split_at(3);
    for (k, u) in known.iter().zip(unknown) {
        assert_eq!(k["status"], 200, "{k}");
        let mut kh = k["headers"].clone();
        let mut uh = u["headers"].clone();
        kh["date"] = Value::Null;
        uh["date"] = Value::Null;
        assert_eq!(kh, uh, "same header fields");
        if let Some(doc) = k.get("doc") {
            // The profile's identifiers are derived from the address; all
            // else must match.
            let strip = |d: &Value| {
                let mut d = d.clone();
                for key in ["PayloadUUID", "PayloadIdentifier"] {
                    d.as_object_mut().unwrap().remove(key);
                    d["PayloadContent"][0].as_object_mut().unwrap().remove(key);
                }
                d.to_string()
                    .replace("somchai", "X")
                    .replace("nobody1", "X")
            };
            assert_eq!(strip(doc), strip(&u["doc"]));
        } else {
            assert_eq!(
                k["raw"].as_str().unwrap().replace("somchai", "X"),
                u["raw"].as_str().unwrap().replace("nobody1", "X")
            );
        }
    }
    assert_eq!(s.cli(&["user", "list"]).out().matches('@').count(), 1);
}

/// Sends raw bytes and reads until the server closes (or 10 s pass).
fn raw(port: u16, request: &[u8]) -> String {
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = c.write_all(request);
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn status_of(response: &str) -> u16 {
    response
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"))
}

fn get(path: &str, host: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").into_bytes()
}

fn post(path: &str, host: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[test]
fn unknown_domains_and_malformed_requests_get_clear_4xx() {
    let s = http_server(
        "[http]\nmax_header_size = \"2K\"\nmax_body_size = \"1K\"\ntimeout = \"1s\"\nmax_requests_per_connection = 3\n",
        "",
    );
    s.add_domain("example.com");
    let p = s.http_port;
    let tb = "/mail/config-v1.1.xml";
    let ad = "/autodiscover/autodiscover.xml";
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("unknown domain by address", get(&format!("{tb}?emailaddress=a%40other.example"), "x"), 404, "other.example is not a domain of this server"),
        ("unknown domain by Host", get(tb, "autoconfig.other.example"), 404, "not a domain"),
        ("unknown Thai domain", get(&format!("{tb}?emailaddress=a%40%E0%B9%84%E0%B8%97%E0%B8%A2.%E0%B9%84%E0%B8%97%E0%B8%A2"), "x"), 404, "ไทย.ไทย is not a domain"),
        ("unknown domain, Autodiscover", post(ad, "x", &autodiscover_body("a@other.example")), 404, "not a domain"),
        ("unknown domain, profile", get("/apple/mobileconfig?emailaddress=a%40other.example", "x"), 404, "not a domain"),
        ("unknown domain, form", get("/apple", "autoconfig.other.example"), 404, "not a domain"),
        ("no domain at all", get(tb, "127.0.0.1"), 400, "names no mail domain"),
        ("not an address", get(&format!("{tb}?emailaddress=somebody"), "example.com"), 400, "not a valid email address"),
        ("empty address", get(&format!("{tb}?emailaddress="), "example.com"), 400, "empty"),
        ("not UTF-8", get(&format!("{tb}?emailaddress=%FF%40example.com"), "example.com"), 400, "not valid UTF-8"),
        ("profile without address", get("/apple/mobileconfig", "example.com"), 400, "emailaddress"),
        ("Autodiscover without body", post(ad, "example.com", ""), 400, "no <Autodiscover>"),
        ("Autodiscover bad XML", post(ad, "example.com", "<Autodiscover><Request>"), 400, "Autodiscover request"),
        ("Autodiscover no address", post(ad, "example.com", "<Autodiscover><Request/></Autodiscover>"), 400, "EMailAddress"),
        ("Autodiscover DOCTYPE", post(ad, "example.com", "<!DOCTYPE a [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><Autodiscover><Request><EMailAddress>&x;</EMailAddress></Request></Autodiscover>"), 400, "DOCTYPE"),
        ("Autodiscover ActiveSync", post(ad, "example.com", &autodiscover_body("a@example.com").replace("outlook/responseschema/2006a", "mobilesync/responseschema/2006")), 400, "ActiveSync"),
        ("Autodiscover bad address", post(ad, "example.com", &autodiscover_body("a@@example.com")), 400, "not a valid email address"),
        ("GET Autodiscover", get(ad, "example.com"), 405, "use POST"),
        ("POST autoconfig", post(tb, "example.com", "x"), 405, "use GET"),
        ("DELETE", b"DELETE /apple HTTP/1.1\r\nHost: example.com\r\n\r\n".to_vec(), 405, "use GET"),
        ("unknown path", get("/wp-admin", "example.com"), 404, "nothing here"),
        ("no Host", b"GET /mail/config-v1.1.xml HTTP/1.1\r\n\r\n".to_vec(), 400, "Host"),
        ("chunked", b"POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n".to_vec(), 411, "Content-Length"),
        ("bad Content-Length", b"POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: example.com\r\nContent-Length: -1\r\n\r\n".to_vec(), 400, "Content-Length"),
        ("body over max_body_size, announced", b"POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: example.com\r\nContent-Length: 1025\r\n\r\n".to_vec(), 413, "at most 1024"),
        ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(), 505, "HTTP/1"),
        ("TLS on the plain port", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03".to_vec(), 400, "malformed"),
        ("binary junk", b"\x00\x01\x02\xff\r\n\r\n".to_vec(), 400, "malformed"),
    ];
    let mut problems = Vec::new();
    for (what, request, status, needle) in &cases {
        let r = raw(p, request);
        let ok = r.starts_with("HTTP/1.1 ") && status_of(&r) == *status && r.contains(needle);
        if !ok {
            problems.push(format!(
                "{what}: expected {status} with {needle:?}, got {r:?}"
            ));
        }
        if *status == 405 && !r.contains("\r\nAllow: ") {
            problems.push(format!("{what}: 405 without Allow: {r:?}"));
        }
    }
    assert!(problems.is_empty(), "{}\n{}", problems.join("\n"), s.log());

    // Header fields over max_header_size: 431, whether or not the head ends.
    let big = format!(
        "GET {tb} HTTP/1.1\r\nHost: example.com\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(3000)
    );
    assert_eq!(status_of(&raw(p, big.as_bytes())), 431);
    assert_eq!(status_of(&raw(p, &big.as_bytes()[..2500])), 431);

    // A body over the limit sent whole is refused without being read; curl
    // with Expect: 100-continue learns it before sending the body.
    if have_tool("curl", "oversized body") {
        let file = s.path("big.xml");
        write_file(
            &file,
            autodiscover_body(&format!("{}@example.com", "a".repeat(60)))
                .repeat(10)
                .as_bytes(),
        );
        let out = run_cmd(
            std::process::Command::new("curl")
                .args([
                    "-sS",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "-H",
                    "Content-Type: text/xml",
                    "--data-binary",
                ])
                .arg(format!("@{}", file.display()))
                .arg(format!("http://127.0.0.1:{p}{ad}")),
            None,
            Duration::from_secs(20),
        );
        assert_eq!(out.out(), "413", "{}", out.describe());
        // Expect: 100-continue within the limits: answered without curl's
        // one-second wait for the 100.
        let small = s.path("small.xml");
        write_file(&small, autodiscover_body("a@example.com").as_bytes());
        let t = Instant::now();
        let out = run_cmd(
            std::process::Command::new("curl")
                .args([
                    "-sS",
                    "-w",
                    "\n%{http_code}",
                    "-H",
                    "Expect: 100-continue",
                    "-H",
                    "Content-Type: text/xml",
                    "--data-binary",
                ])
                .arg(format!("@{}", small.display()))
                .arg(format!("http://127.0.0.1:{p}{ad}")),
            None,
            Duration::from_secs(20),
        );
        assert!(out.out().ends_with("\n200"), "{}", out.describe());
        assert!(
            t.elapsed() < Duration::from_millis(900),
            "waited for 100 Continue: {:?}",
            t.elapsed()
        );
        // HEAD: the header fields of GET, no body.
        let out = run_cmd(
            std::process::Command::new("curl")
                .args(["-sS", "-I"])
                .arg(format!(
                    "http://127.0.0.1:{p}{tb}?emailaddress=a%40example.com"
                )),
            None,
            Duration::from_secs(20),
        );
        assert!(
            out.out().starts_with("HTTP/1.1 200 OK\r\n"),
            "{}",
            out.describe()
        );
        assert!(
            out.out().contains("Content-Type: text/xml"),
            "{}",
            out.describe()
        );
        assert!(out.out().ends_with("\r\n\r\n"), "{}", out.describe());
    }

    // A request that stops half-way gets 408 after `timeout` and the
    // connection is closed; an idle kept-alive connection just closes.
    let t = Instant::now();
    let r = raw(p, b"GET /mail/config-v1.1.xml HTTP/1.1\r\nHost: exa");
    assert_eq!(status_of(&r), 408, "{r}");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    let t = Instant::now();
    assert_eq!(raw(p, b""), "");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    // A client trickling a byte every 300 ms gets its 408 after `timeout`
    // for the whole request, not for each byte.
    {
        use std::io::{Read, Write};
        let mut c = std::net::TcpStream::connect(("127.0.0.1", p)).unwrap();
        c.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let t = Instant::now();
        let mut got = Vec::new();
        for b in b"GET /mail/config-v1.1.xml HTTP/1.1\r\nHost: example.com\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if c.write_all(&[*b]).is_err() {
                break;
            }
            let mut buf = [0u8; 512];
            match c.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
            if !got.is_empty() {
                break;
            }
        }
        let text = String::from_utf8_lossy(&got);
        assert!(text.starts_with("HTTP/1.1 408"), "{text:?}");
        assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    }

    // Keep-alive: requests answered in order on one connection, at most
    // max_requests_per_connection of them.
    let one = format!("GET {tb}?emailaddress=a%40example.com HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = raw(p, one.repeat(5).as_bytes());
    assert_eq!(r.matches("HTTP/1.1 200 OK").count(), 3, "{r}");
    assert_eq!(r.matches("Connection: keep-alive").count(), 2, "{r}");
    assert_eq!(r.matches("Connection: close").count(), 1, "{r}");

    // Plain HTTP on the HTTPS port: the handshake fails, nothing hangs.
    let t = Instant::now();
    let r = raw(s.https_port, &get(tb, "example.com"));
    assert!(!r.starts_with("HTTP/1.1 200"), "{r}");
    assert!(t.elapsed() < Duration::from_secs(9), "{:?}", t.elapsed());

    // Still serving, and nothing panicked.
    let r = raw(p, &get(&format!("{tb}?emailaddress=a%40example.com"), "x"));
    assert_eq!(status_of(&r), 200, "{r}");
    assert!(!s.stderr_text().contains("panicked"), "{}", s.log());
}

#[test]
fn https_uses_the_mail_certificate() {
    require_tool!("python3");
    let s = http_server("", "");
    s.add_domain("example.com");
    let script = r#"
import sys
fps = set()
for port in sys.argv[1:]:
    c = Conn(int(port), implicit_tls=True)
    fps.add(c.fingerprint())
    c.close()
assert len(fps) == 1, fps
print('OK')
"#;
    let out = python_tls(
        script,
        &[
            &s.https_port.to_string(),
            &s.pop3s_port.to_string(),
            &s.submissions_port.to_string(),
        ],
        Duration::from_secs(30),
    );
    assert_py_ok(&out, "same certificate on https, pop3s and submissions");
    // Reloaded with the others on SIGHUP.
    s.signal("HUP");
    assert!(s.wait_log_count("TLS certificate reloaded", 1, Duration::from_secs(10)));
    let out = python_tls(
        script,
        &[&s.https_port.to_string(), &s.pop3s_port.to_string()],
        Duration::from_secs(30),
    );
    assert_py_ok(&out, "after SIGHUP");
}

/// A mail program's whole set-up: fetch the settings with the address,
/// then log in with the advertised server, port, TLS mode and user name,
/// send a message to oneself and read it back. Nothing but the address and
/// the password is given to the script.
const SETUP_PY: &str = r#"
import base64, json, poplib, smtplib, ssl, sys, urllib.parse, urllib.request, plistlib
import xml.etree.ElementTree as ET

base, document, address, password, token = sys.argv[1:6]
ctx = ssl._create_unverified_context()
q = '?emailaddress=' + urllib.parse.quote(address, safe='')

def get(path, data=None):
    req = urllib.request.Request(base + path, data=data, headers={'Content-Type': 'text/xml'} if data else {})
    return urllib.request.urlopen(req, timeout=20, context=ctx).read()

if document == 'thunderbird':
    p = ET.fromstring(get('/.well-known/autoconfig/mail/config-v1.1.xml' + q)).find('emailProvider')
    def pick(tag):
        s = p.find(tag)
        return dict(host=s.find('hostname').text, port=int(s.find('port').text),
                    implicit=s.find('socketType').text == 'SSL', user=s.find('username').text)
    inc, out = pick('incomingServer'), pick('outgoingServer')
elif document == 'autodiscover':
    ns = {'o': 'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a'}
    body = ('<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">'
            '<Request><EMailAddress>%s</EMailAddress><AcceptableResponseSchema>'
            'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a'
            '</AcceptableResponseSchema></Request></Autodiscover>' % address).encode()
    acc = ET.fromstring(get('/autodiscover/autodiscover.xml', body)).find('o:Response/o:Account', ns)
    def pick(kind):
        for pr in acc.findall('o:Protocol', ns):
            if pr.find('o:Type', ns).text == kind:
                return dict(host=pr.find('o:Server', ns).text, port=int(pr.find('o:Port', ns).text),
                            implicit=pr.find('o:Encryption', ns).text == 'SSL', user=pr.find('o:LoginName', ns).text)
    inc, out = pick('POP3'), pick('SMTP')
else:
    d = plistlib.loads(get('/apple/mobileconfig' + q))['PayloadContent'][0]
    inc = dict(host=d['IncomingMailServerHostName'], port=d['IncomingMailServerPortNumber'],
               implicit=d['IncomingMailServerUseSSL'], user=d['IncomingMailServerUsername'])
    out = dict(host=d['OutgoingMailServerHostName'], port=d['OutgoingMailServerPortNumber'],
               implicit=d['OutgoingMailServerUseSSL'], user=d['OutgoingMailServerUsername'])

assert inc['implicit'] and out['implicit'], (inc, out)
# smtplib sends AUTH in ASCII only; PLAIN by hand carries a UTF-8 user name.
smtp = smtplib.SMTP_SSL(out['host'], out['port'], context=ctx, timeout=20)
smtp.ehlo()
creds = base64.b64encode(('\0%s\0%s' % (out['user'], password)).encode()).decode()
code, resp = smtp.docmd('AUTH', 'PLAIN ' + creds)
assert code == 235, (code, resp)
msg = ('From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nสวัสดี\r\n'
       % (address, address, token)).encode()
smtp.sendmail(address, [address], msg, mail_options=['SMTPUTF8'] if not address.isascii() else [])
smtp.quit()

pop = poplib.POP3_SSL(inc['host'], inc['port'], context=ctx, timeout=20)
pop.user(inc['user'])
pop.pass_(password)
count, _ = pop.stat()
found = any(token.encode() in b'\n'.join(pop.retr(i + 1)[1]) for i in range(count))
pop.quit()
assert found, 'message not in the mailbox'
print(json.dumps({'incoming': inc, 'outgoing': out}, ensure_ascii=False))
print('OK')
"#;

#[test]
fn an_account_is_set_up_from_address_and_password_alone() {
    require_tool!("python3");
    let mut s = Server::new_extra(
        ServerOpts {
            demo: false,
            limits: String::new(),
        },
        ExtraConfig {
            tls_listeners: true,
            http_listeners: true,
            ..ExtraConfig::default()
        },
    );
    // The advertised ports are the test listeners' (as behind port mapping).
    let adv = Advertised {
        host: "localhost".into(),
        pop3s: s.pop3s_port,
        pop3: s.pop3_port,
        submissions: s.submissions_port,
        submission: s.submission_port,
    };
    write_file(
        &s.config_path,
        format!("{}\n{}", s.config_text(), adv.table()).as_bytes(),
    );
    s.start();
    s.add_domain(THAI);
    s.add_domain(CHINESE);
    let accounts = [
        (format!("สมชาย@{THAI}"), "รหัสผ่าน-1234"),
        (format!("用户@{CHINESE_ASCII}"), "密码-5678-pw"),
    ];
    for (address, password) in &accounts {
        s.add_user(address, password, &[]);
    }
    let base = format!("https://127.0.0.1:{}", s.https_port);
    for (address, password) in &accounts {
        for document in ["thunderbird", "autodiscover", "mobileconfig"] {
            let t = token(document);
            let out = python(
                SETUP_PY,
                &[&base, document, address, password, &t],
                Duration::from_secs(60),
            );
            assert!(
                out.status.success() && out.out().lines().last() == Some("OK"),
                "{document} for {address}: {}\n{}",
                out.describe(),
                s.log()
            );
            let used: Value = serde_json::from_str(out.out().lines().next().unwrap()).unwrap();
            assert_eq!(used["incoming"]["user"], address.as_str());
            assert_eq!(used["incoming"]["port"], adv.pop3s);
            assert_eq!(used["outgoing"]["port"], adv.submissions);
        }
    }
}

#[test]
fn demo_opens_and_prints_an_http_port() {
    let s = Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            http_listeners: true,
            ..ExtraConfig::default()
        },
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !s.stdout_text().contains("Thunderbird") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = s.stdout_text();
    let http = format!("127.0.0.1:{}", s.http_port);
    assert!(
        out.lines()
            .any(|l| l.contains("HTTP, mail program set-up") && l.trim_end().ends_with(&http)),
        "{out}"
    );
    assert!(
        out.lines().any(|l| l.contains("HTTPS, mail program set-up")
            && l.trim_end()
                .ends_with(&format!("127.0.0.1:{}", s.https_port))),
        "{out}"
    );
    let url = format!("http://{http}/mail/config-v1.1.xml?emailaddress=demo%40example.test");
    assert!(out.contains(&url), "{out}");
    let r = raw(s.http_port, &get(&url[url.find("/mail").unwrap()..], "x"));
    assert_eq!(status_of(&r), 200, "{r}");
    assert_eq!(
        r.matches(&format!("<username>{DEMO_USER}</username>"))
            .count(),
        4,
        "{r}"
    );
    // The demo names its own ports, so a real mail program can reach it.
    assert!(r.contains(&format!("<port>{}</port>", s.pop3_port)), "{r}");
}

#[test]
fn dns_prints_the_autoconfig_names_and_service_records() {
    let s = Server::new_extra(
        ServerOpts {
            demo: false,
            limits: String::new(),
        },
        ExtraConfig {
            tables: "[autoconfig]\nhost = \"เมล.ตัวอย่าง.ไทย\"\npop3s_port = 1995\npop3_port = 1110\nsubmissions_port = 1465\nsubmission_port = 1587\nhttps_port = 8443\n".into(),
            ..ExtraConfig::default()
        },
    );
    s.add_domain(THAI);
    let client = "xn--y3ci3f.xn--72c1a1bt4awk9o.xn--o3cw4h";
    let out = s.cli(&["dns", THAI]);
    out.assert_ok("dns");
    let text = out.out();
    for line in [
        format!("{THAI_ASCII}. IN MX 10 mx.example.test."),
        format!("_submission._tcp.{THAI_ASCII}. IN SRV 0 1 1587 {client}."),
        format!("_submissions._tcp.{THAI_ASCII}. IN SRV 0 1 1465 {client}."),
        format!("_pop3._tcp.{THAI_ASCII}. IN SRV 0 1 1110 {client}."),
        format!("_pop3s._tcp.{THAI_ASCII}. IN SRV 0 1 1995 {client}."),
        format!("_imap._tcp.{THAI_ASCII}. IN SRV 0 0 0 ."),
        format!("_imaps._tcp.{THAI_ASCII}. IN SRV 0 0 0 ."),
        format!("autoconfig.{THAI_ASCII}. IN CNAME {client}."),
        format!("autodiscover.{THAI_ASCII}. IN CNAME {client}."),
        format!("_autodiscover._tcp.{THAI_ASCII}. IN SRV 0 1 8443 {client}."),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }
    let v: Value = serde_json::from_str(s.cli(&["--json", "dns", THAI]).out().trim()).unwrap();
    let find = |name: String, rtype: &str| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .filter(|r| r["name"] == name.as_str() && r["type"] == rtype)
            .map(|r| r["value"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        find(format!("_autodiscover._tcp.{THAI_ASCII}"), "SRV"),
        [format!("0 1 8443 {client}")]
    );
    assert_eq!(find(format!("autoconfig.{THAI_ASCII}"), "CNAME"), [client]);
    assert_eq!(
        find(format!("autodiscover.{THAI_ASCII}"), "CNAME"),
        [client]
    );
    assert_eq!(
        find(format!("_pop3s._tcp.{THAI_ASCII}"), "SRV"),
        [format!("0 1 1995 {client}")]
    );
}
