//! HTTP/1.1 for the auto-configuration listener, sans-I/O: [`parse`] turns
//! received bytes into a [`Request`] (or a refusal), [`Response::encode`]
//! turns an answer into bytes. The tokio driver in `server/http.rs` only
//! moves bytes.
//!
//! Why not hyper: the listener serves three small documents to GET and one
//! POST of a few hundred octets. hyper 1.x would bring hyper-util, http,
//! http-body and bytes, and its own connection loop beside ours, with our
//! limits (header size, body size, timeouts, connection slots) spread over
//! builder options of two crates. Here every limit is one comparison with a
//! name, every refusal is a unit-tested status code, and the connection
//! shares the same slots, TLS acceptor and shutdown as the mail listeners.
//! The request line and header fields are tokenised by `httparse` (the
//! parser inside hyper), so the part where HTTP parsing is subtle is not
//! ours; what is ours is framing: Content-Length, Host, keep-alive and the
//! limits. Chunked request bodies are refused with 411 (no client of these
//! documents sends one).

use std::fmt::Write as _;

/// The most header fields a request may carry; more is answered 431.
pub const MAX_HEADER_FIELDS: usize = 64;

/// Size limits on one request.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Request line plus header fields, in octets (431 beyond).
    pub max_header: usize,
    /// Body, in octets (413 beyond).
    pub max_body: usize,
}

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method as sent (methods are case-sensitive).
    pub method: String,
    /// The path, still percent-encoded.
    pub path: String,
    /// The query after `?`, still percent-encoded.
    pub query: Option<String>,
    /// The host named by the Host field (or an absolute-form target),
    /// without the port; `None` for HTTP/1.0 without Host.
    pub host: Option<String>,
    /// The Authorization field's value (for `/metrics`), if sent once.
    pub authorization: Option<String>,
    /// The body (empty without Content-Length).
    pub body: Vec<u8>,
    /// Whether the connection may carry another request after this one.
    pub keep_alive: bool,
}

/// What the bytes received so far amount to.
#[derive(Debug)]
pub enum Progress {
    /// More bytes are needed. `send_continue` is true when the head is
    /// complete and the client waits for `100 Continue` before the body.
    NeedMore {
        /// Send `100 Continue` (once) before reading on.
        send_continue: bool,
    },
    /// A whole request, taking the first `consumed` octets of the buffer.
    Done {
        /// The request.
        request: Request,
        /// Octets of the buffer it used.
        consumed: usize,
    },
    /// The request is refused; send this and close the connection.
    Refused(Response),
}

/// Parses the start of `buf` as one HTTP/1.x request.
pub fn parse(buf: &[u8], limits: &Limits) -> Progress {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADER_FIELDS];
    let mut req = httparse::Request::new(&mut fields);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) if n <= limits.max_header => n,
        Ok(httparse::Status::Partial) if buf.len() <= limits.max_header => {
            return Progress::NeedMore {
                send_continue: false,
            };
        }
        Ok(_) | Err(httparse::Error::TooManyHeaders) => {
            return refuse(431, "request header fields too large");
        }
        Err(httparse::Error::Version) => {
            return refuse(505, "only HTTP/1.0 and HTTP/1.1 are spoken here");
        }
        Err(e) => return refuse(400, &format!("malformed request: {e}")),
    };
    let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version) else {
        return refuse(400, "malformed request line");
    };

    let mut host_fields = Vec::new();
    let mut content_length: Option<usize> = None;
    let mut connection = String::new();
    let mut expect_continue = false;
    let mut authorization: Vec<String> = Vec::new();
    for h in req.headers.iter() {
        let value = std::str::from_utf8(h.value).map(str::trim);
        let name = h.name;
        if name.eq_ignore_ascii_case("authorization") {
            if let Ok(v) = value {
                authorization.push(v.to_string());
            }
        } else if name.eq_ignore_ascii_case("host") {
            match value {
                Ok(v) => host_fields.push(v.to_string()),
                Err(_) => return refuse(400, "the Host field is not UTF-8"),
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            // Digits only: "+5", "5 5" or "0x5" would be read differently
            // by different parsers along the way (request smuggling).
            let n = value
                .ok()
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<usize>().ok());
            match (n, content_length) {
                (None, _) => return refuse(400, "invalid Content-Length"),
                (Some(n), Some(m)) if n != m => {
                    return refuse(400, "conflicting Content-Length fields");
                }
                (Some(n), _) => content_length = Some(n),
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return refuse(
                411,
                "send the body with Content-Length (no Transfer-Encoding)",
            );
        } else if name.eq_ignore_ascii_case("connection") {
            if let Ok(v) = value {
                connection.push_str(&v.to_ascii_lowercase());
                connection.push(',');
            }
        } else if name.eq_ignore_ascii_case("expect") {
            match value {
                Ok(v) if v.eq_ignore_ascii_case("100-continue") => expect_continue = true,
                _ => return refuse(417, "only \"Expect: 100-continue\" is understood"),
            }
        }
    }

    let tokens = || connection.split(',').map(str::trim);
    let keep_alive = if version == 1 {
        !tokens().any(|t| t == "close")
    } else {
        tokens().any(|t| t == "keep-alive")
    };

    let (path, authority) = match split_target(target) {
        Some(x) => x,
        None => return refuse(400, "the request target must be a path"),
    };
    // RFC 9112 section 3.2: HTTP/1.1 needs exactly one Host field; an
    // absolute-form target's authority wins over it.
    if host_fields.len() > 1 || (version == 1 && host_fields.is_empty()) {
        return refuse(400, "exactly one Host field is required");
    }
    let host = authority
        .map(str::to_string)
        .or_else(|| host_fields.pop())
        .filter(|h| !h.is_empty())
        .map(|h| strip_port(&h).to_string());
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (path, None),
    };

    let body_len = content_length.unwrap_or(0);
    if body_len > limits.max_body {
        return refuse(
            413,
            &format!("the body may be at most {} octets", limits.max_body),
        );
    }
    let Some(total) = head_len.checked_add(body_len) else {
        return refuse(413, "body too large");
    };
    if buf.len() < total {
        return Progress::NeedMore {
            send_continue: expect_continue && version == 1 && buf.len() == head_len,
        };
    }
    Progress::Done {
        request: Request {
            method: method.to_string(),
            path,
            query,
            host,
            // Two Authorization fields are no credential at all.
            authorization: match authorization.len() {
                1 => authorization.pop(),
                _ => None,
            },
            body: buf[head_len..total].to_vec(),
            keep_alive,
        },
        consumed: total,
    }
}

/// Splits origin-form (`/p?q`) or absolute-form (`http://host/p?q`)
/// targets into the path-and-query and the authority, if any.
fn split_target(target: &str) -> Option<(String, Option<&str>)> {
    if target.starts_with('/') {
        return Some((target.to_string(), None));
    }
    let scheme_len = ["http://", "https://"]
        .iter()
        .find(|s| {
            target
                .get(..s.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(s))
        })?
        .len();
    let rest = &target[scheme_len..];
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    // Credentials in the target have no business here.
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let path = if tail.starts_with('/') {
        tail.to_string()
    } else {
        format!("/{tail}")
    };
    Some((path, Some(authority)))
}

/// `host:port` → `host`; IPv6 literals keep their brackets.
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map(|i| &host[..=i]).unwrap_or(host);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

fn refuse(status: u16, why: &str) -> Progress {
    Progress::Refused(Response::text(status, why).closing())
}

/// An answer to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header fields beyond Date, Content-Length and Connection.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Close the connection after sending.
    pub close: bool,
}

impl Response {
    /// A response with a body of the given media type.
    pub fn new(status: u16, content_type: &str, body: Vec<u8>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type", content_type.to_string())],
            body,
            close: false,
        }
    }

    /// A short plain-text answer (errors), ending in a newline.
    pub fn text(status: u16, message: &str) -> Response {
        Response::new(
            status,
            "text/plain; charset=utf-8",
            format!("{status} {}: {message}\n", reason(status)).into_bytes(),
        )
    }

    /// Adds a header field.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }

    /// Marks the response as the last on its connection.
    pub fn closing(mut self) -> Response {
        self.close = true;
        self
    }

    /// The bytes on the wire. `date` is an IMF-fixdate; `head_only` leaves
    /// the body out (HEAD) but keeps its Content-Length.
    pub fn encode(&self, date: &str, head_only: bool, keep_alive: bool) -> Vec<u8> {
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        // nosniff: a browser must not read an error text or a profile as HTML.
        let _ = write!(
            head,
            "Date: {date}\r\nServer: praisani\r\nX-Content-Type-Options: nosniff\r\n"
        );
        for (name, value) in &self.headers {
            // Values come from us, but a CR or LF would split the response.
            let value: String = value.chars().filter(|c| !c.is_control()).collect();
            let _ = write!(head, "{name}: {value}\r\n");
        }
        let _ = write!(head, "Content-Length: {}\r\n", self.body.len());
        let connection = if keep_alive && !self.close {
            "keep-alive"
        } else {
            "close"
        };
        let _ = write!(head, "Connection: {connection}\r\n\r\n");
        let mut out = head.into_bytes();
        if !head_only {
            out.extend_from_slice(&self.body);
        }
        out
    }
}

/// `100 Continue`, for clients that wait for it before sending a body.
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// The reason phrase of the status codes this server sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        417 => "Expectation Failed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// The current time as an IMF-fixdate (RFC 9110 section 5.6.7).
pub fn http_date() -> String {
    chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_header: 1024,
        max_body: 100,
    };

    fn done(input: &[u8]) -> (Request, usize) {
        match parse(input, &LIMITS) {
            Progress::Done { request, consumed } => (request, consumed),
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
        }
    }

    fn refused(input: &[u8]) -> u16 {
        refused_with(input, &LIMITS)
    }

    fn refused_with(input: &[u8], limits: &Limits) -> u16 {
        match parse(input, limits) {
            Progress::Refused(r) => {
                assert!(r.close, "a refusal closes the connection");
                r.status
            }
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
        }
    }

    fn need_more(input: &[u8]) -> bool {
        match parse(input, &LIMITS) {
            Progress::NeedMore { send_continue } => send_continue,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
        }
    }

    #[test]
    fn get_with_query_and_host_port() {
        let head: &[u8] =
            b"GET /mail/config-v1.1.xml?emailaddress=a%40b.th HTTP/1.1\r\nHost: autoconfig.b.th:8080\r\n\r\n";
        let (r, n) = done(&[head, b"GET /next"].concat());
        assert_eq!(n, head.len());
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/mail/config-v1.1.xml");
        assert_eq!(r.query.as_deref(), Some("emailaddress=a%40b.th"));
        assert_eq!(r.host.as_deref(), Some("autoconfig.b.th"));
        assert!(r.body.is_empty());
        assert!(r.keep_alive);
    }

    #[test]
    fn post_body_by_content_length() {
        let req = b"POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
        assert!(!need_more(&req[..req.len() - 1]));
        let (r, n) = done(req);
        assert_eq!(n, req.len());
        assert_eq!(r.body, b"hello");
    }

    #[test]
    fn head_arrives_in_pieces() {
        let req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        for i in 0..req.len() {
            assert!(!need_more(&req[..i]), "at {i}");
        }
        done(req);
    }

    #[test]
    fn expect_continue_only_once_head_is_complete() {
        let head =
            b"POST /a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
        assert!(need_more(head));
        let mut more = head.to_vec();
        more.push(b'a');
        assert!(!need_more(&more), "body under way: no second 100");
        assert_eq!(
            refused(b"POST /a HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n"),
            417
        );
    }

    #[test]
    fn keep_alive_rules() {
        assert!(
            !done(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .0
                .keep_alive
        );
        assert!(!done(b"GET / HTTP/1.0\r\n\r\n").0.keep_alive);
        assert!(
            done(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
                .0
                .keep_alive
        );
        assert!(
            !done(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: TE, close\r\n\r\n")
                .0
                .keep_alive
        );
    }

    #[test]
    fn host_rules() {
        assert_eq!(refused(b"GET / HTTP/1.1\r\n\r\n"), 400, "no Host in 1.1");
        assert_eq!(
            refused(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
            400,
            "two Hosts"
        );
        assert_eq!(done(b"GET / HTTP/1.0\r\n\r\n").0.host, None);
        assert_eq!(
            done(b"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n")
                .0
                .host
                .as_deref(),
            Some("[::1]")
        );
        let (r, _) = done(b"GET http://Autoconfig.Example.com:80/mail/config-v1.1.xml?x=1 HTTP/1.1\r\nHost: other\r\n\r\n");
        assert_eq!(r.host.as_deref(), Some("Autoconfig.Example.com"));
        assert_eq!(r.path, "/mail/config-v1.1.xml");
        assert_eq!(r.query.as_deref(), Some("x=1"));
        let (r, _) = done(b"GET https://h.test?x=1 HTTP/1.1\r\nHost: h.test\r\n\r\n");
        assert_eq!((r.path.as_str(), r.query.as_deref()), ("/", Some("x=1")));
        assert_eq!(
            refused(b"GET http://u@h.test/ HTTP/1.1\r\nHost: h.test\r\n\r\n"),
            400
        );
        assert_eq!(refused(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
        assert_eq!(
            refused(b"GET / HTTP/1.1\r\nHost: \xff\r\n\r\n"),
            400,
            "non-UTF-8 Host"
        );
    }

    #[test]
    fn content_length_rules() {
        for bad in [
            &b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n"[..],
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999999\r\n\r\n",
        ] {
            assert_eq!(refused(bad), 400, "{:?}", String::from_utf8_lossy(bad));
        }
        // The same length twice is harmless.
        let (r, _) =
            done(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab");
        assert_eq!(r.body, b"ab");
        assert_eq!(
            refused(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"),
            411
        );
    }

    #[test]
    fn limits_are_enforced_before_reading_on() {
        // Too large a body is refused from the head alone.
        assert_eq!(
            refused(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n"),
            413
        );
        done(
            &[
                &b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"[..],
                &[b'a'; 100],
            ]
            .concat(),
        );
        // An unfinished head longer than the limit.
        let mut long = b"GET / HTTP/1.1\r\nX: ".to_vec();
        long.resize(1025, b'a');
        assert_eq!(refused(&long), 431);
        // A finished head one octet over the limit.
        let small = Limits {
            max_header: 27,
            max_body: 0,
        };
        assert_eq!(
            refused_with(b"GET / HTTP/1.1\r\nHost: xy\r\n\r\n", &small),
            431
        );
        match parse(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", &small) {
            Progress::Done { .. } => {}
            other => panic!("{other:?}"),
        }
        let many: String = (0..=MAX_HEADER_FIELDS)
            .map(|i| format!("X{i}: y\r\n"))
            .collect();
        let big = Limits {
            max_header: 1 << 20,
            max_body: 0,
        };
        assert_eq!(
            refused_with(
                format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes(),
                &big
            ),
            431
        );
    }

    #[test]
    fn garbage_is_refused() {
        assert_eq!(
            refused(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
            400,
            "TLS on the plain port"
        );
        assert_eq!(refused(b"GET / HTTP/2.0\r\n\r\n"), 505);
        assert_eq!(refused(b"GET / HTTP/1.1\r\nBad Header\r\n\r\n"), 400);
        assert_eq!(refused(b"G\0T / HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(refused(b"GET nopath HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
    }

    #[test]
    fn response_encoding() {
        let r =
            Response::new(200, "text/xml", b"<a/>".to_vec()).header("X-Test", "a\r\nInjected: 1");
        let wire =
            String::from_utf8(r.encode("Mon, 01 Jan 2024 00:00:00 GMT", false, true)).unwrap();
        assert_eq!(
            wire,
            "HTTP/1.1 200 OK\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nServer: praisani\r\n\
             X-Content-Type-Options: nosniff\r\n\
             Content-Type: text/xml\r\nX-Test: aInjected: 1\r\nContent-Length: 4\r\n\
             Connection: keep-alive\r\n\r\n<a/>"
        );
        let head = String::from_utf8(r.clone().closing().encode("D", true, true)).unwrap();
        assert!(
            head.ends_with("Content-Length: 4\r\nConnection: close\r\n\r\n"),
            "{head}"
        );
        let t = Response::text(404, "no such domain");
        assert_eq!(t.body, b"404 Not Found: no such domain\n");
        assert_eq!(http_date().len(), 29);
    }
}
