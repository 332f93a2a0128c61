//! Fetching a policy file: `GET https://mta-sts.DOMAIN/.well-known/mta-sts.txt`
//! (RFC 8461 section 3.3) over HTTP/1.1 on a verified TLS connection, with
//! the RFC's limits: the certificate must be valid for `mta-sts.DOMAIN`,
//! only a 200 answer counts (redirects are not followed), the media type
//! must be `text/plain`, the body at most [`MAX_POLICY_SIZE`] octets, the
//! whole exchange within the timeout.

use crate::route::Router;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// The largest policy file taken (RFC 8461 section 3.2 suggests 64 KiB).
pub const MAX_POLICY_SIZE: usize = 64 * 1024;
/// The largest response header taken.
const MAX_HEAD: usize = 16 * 1024;

/// Why no policy could be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The policy host has no usable address, or none could be reached.
    #[error("{host}: {reason}")]
    Connect {
        /// `mta-sts.DOMAIN`.
        host: String,
        /// What failed.
        reason: String,
    },
    /// The certificate of the policy host did not verify (TLS-RPT's
    /// `sts-webpki-invalid`).
    #[error("{host}: TLS: {reason}")]
    Tls {
        /// `mta-sts.DOMAIN`.
        host: String,
        /// What the handshake said.
        reason: String,
    },
    /// The answer was no policy file (status, media type, size, framing).
    #[error("{host}: {reason}")]
    Http {
        /// `mta-sts.DOMAIN`.
        host: String,
        /// What was wrong.
        reason: String,
    },
    /// No complete answer within the timeout.
    #[error("{host}: no answer within {timeout:?}")]
    Timeout {
        /// `mta-sts.DOMAIN`.
        host: String,
        /// The configured time.
        timeout: Duration,
    },
}

/// How policies are fetched.
#[derive(Clone, Debug)]
pub struct FetchSettings {
    /// The whole fetch, connection to last octet.
    pub timeout: Duration,
    /// The HTTPS port (443; tests use others).
    pub port: u16,
}

/// Fetches the policy file of `domain` (a lower-case A-label), resolving
/// `mta-sts.DOMAIN` through `router` and verifying its certificate with
/// `tls` (the connector trusting the Mozilla roots and the configured CA).
pub async fn fetch(
    router: &Router,
    tls: &TlsConnector,
    domain: &str,
    settings: &FetchSettings,
) -> Result<String, FetchError> {
    let host = format!("mta-sts.{domain}");
    match tokio::time::timeout(
        settings.timeout,
        exchange(router, tls, &host, settings.port),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => Err(FetchError::Timeout {
            host,
            timeout: settings.timeout,
        }),
    }
}

async fn exchange(
    router: &Router,
    tls: &TlsConnector,
    host: &str,
    port: u16,
) -> Result<String, FetchError> {
    let connect = |reason: String| FetchError::Connect {
        host: host.to_string(),
        reason,
    };
    let addrs = router
        .host_addresses(host)
        .await
        .map_err(|e| connect(e.to_string()))?;
    let mut tcp = None;
    let mut last = String::from("no address");
    for ip in addrs {
        match TcpStream::connect((ip, port)).await {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = format!("{ip}: {e}"),
        }
    }
    let tcp = tcp.ok_or_else(|| connect(last))?;
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| connect(e.to_string()))?;
    let mut stream = tls.connect(name, tcp).await.map_err(|e| FetchError::Tls {
        host: host.to_string(),
        reason: e.to_string(),
    })?;
    let request = format!(
        "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: {host}\r\nUser-Agent: praisani\r\nAccept: text/plain\r\nConnection: close\r\n\r\n"
    );
    let http = |reason: String| FetchError::Http {
        host: host.to_string(),
        reason,
    };
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| http(format!("write: {e}")))?;
    stream
        .flush()
        .await
        .map_err(|e| http(format!("write: {e}")))?;

    // Everything up to the largest head plus the largest body; a body
    // beyond that is refused, not cut.
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = [0u8; 8192];
    loop {
        let n = match stream.read(&mut chunk).await {
            Ok(n) => n,
            // A server that closes without TLS close_notify: what came is
            // all there is; the framing check below decides.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(http(format!("read: {e}"))),
        };
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_HEAD + MAX_POLICY_SIZE + 1024 {
            return Err(http(format!("answer larger than {MAX_POLICY_SIZE} octets")));
        }
        if let Some(done) = complete(&buf) {
            buf.truncate(done);
            break;
        }
    }
    parse_response(&buf).map_err(http)
}

/// The length of a complete response in `buf` when its framing says it is
/// complete (Content-Length); `None` to read on.
fn complete(buf: &[u8]) -> Option<usize> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(head) = resp.parse(buf).ok()? else {
        return None;
    };
    let length = resp
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| {
            std::str::from_utf8(h.value)
                .ok()?
                .trim()
                .parse::<usize>()
                .ok()
        })?;
    let chunked = resp
        .headers
        .iter()
        .any(|h| h.name.eq_ignore_ascii_case("transfer-encoding"));
    (!chunked && buf.len() >= head.saturating_add(length)).then(|| head + length)
}

/// The policy text of a whole HTTP response, or why it is none.
pub fn parse_response(buf: &[u8]) -> Result<String, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    let head = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err("incomplete answer".into()),
        Err(e) => return Err(format!("not HTTP: {e}")),
    };
    if head > MAX_HEAD {
        return Err("answer header too large".into());
    }
    let code = resp.code.unwrap_or(0);
    if (300..400).contains(&code) {
        // RFC 8461 section 3.3: "HTTP 3xx redirects MUST NOT be followed".
        return Err(format!("HTTP {code}: redirect not followed"));
    }
    if code != 200 {
        return Err(format!("HTTP {code}"));
    }
    let header = |name: &str| {
        resp.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
    };
    let media = header("content-type").unwrap_or_default();
    let essence = media.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("text/plain") {
        return Err(format!("media type {media:?}, not text/plain"));
    }
    let rest = &buf[head..];
    let body = match (header("transfer-encoding"), header("content-length")) {
        (Some(te), _) if te.eq_ignore_ascii_case("chunked") => dechunk(rest)?,
        (Some(te), _) => return Err(format!("transfer encoding {te:?}")),
        (None, Some(len)) => {
            let len: usize = len.parse().map_err(|_| format!("content length {len:?}"))?;
            if len > MAX_POLICY_SIZE {
                return Err(format!("policy larger than {MAX_POLICY_SIZE} octets"));
            }
            if rest.len() < len {
                return Err("answer shorter than its content length".into());
            }
            rest[..len].to_vec()
        }
        (None, None) => rest.to_vec(),
    };
    if body.len() > MAX_POLICY_SIZE {
        return Err(format!("policy larger than {MAX_POLICY_SIZE} octets"));
    }
    String::from_utf8(body).map_err(|_| "policy is not UTF-8".into())
}

/// A chunked body (RFC 9112 section 7.1) put together; trailers ignored.
fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
            return Err("incomplete chunked body".into());
        };
        let line = std::str::from_utf8(&rest[..eol]).map_err(|_| "bad chunk size")?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size =
            usize::from_str_radix(size, 16).map_err(|_| format!("bad chunk size {size:?}"))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(body);
        }
        if size > MAX_POLICY_SIZE || body.len() + size > MAX_POLICY_SIZE {
            return Err(format!("policy larger than {MAX_POLICY_SIZE} octets"));
        }
        if rest.len() < size + 2 {
            return Err("incomplete chunked body".into());
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = "version: STSv1\r\nmode: enforce\r\nmx: mx.a.test\r\nmax_age: 60\r\n";

    fn answer(head: &str, body: &str) -> Vec<u8> {
        format!("{head}\r\n\r\n{body}").into_bytes()
    }

    #[test]
    fn a_plain_answer() {
        let r = answer(
            &format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}",
                POLICY.len()
            ),
            POLICY,
        );
        assert_eq!(parse_response(&r).unwrap(), POLICY);
        assert_eq!(complete(&r), Some(r.len()));
        // Without a length: up to the end.
        let r = answer("HTTP/1.0 200 OK\r\nContent-Type: TEXT/PLAIN", POLICY);
        assert_eq!(parse_response(&r).unwrap(), POLICY);
        assert_eq!(complete(&r), None);
    }

    #[test]
    fn a_chunked_answer() {
        let body = format!(
            "5\r\n{}\r\n{:x}\r\n{}\r\n0\r\n\r\n",
            &POLICY[..5],
            POLICY.len() - 5,
            &POLICY[5..]
        );
        let r = answer(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked",
            &body,
        );
        assert_eq!(parse_response(&r).unwrap(), POLICY);
    }

    #[test]
    fn refused_answers() {
        let cases = [
            (
                answer(
                    "HTTP/1.1 301 Moved\r\nLocation: https://elsewhere/\r\nContent-Type: text/plain",
                    POLICY,
                ),
                "redirect",
            ),
            (
                answer("HTTP/1.1 404 Not Found\r\nContent-Type: text/plain", ""),
                "404",
            ),
            (
                answer("HTTP/1.1 200 OK\r\nContent-Type: text/html", POLICY),
                "text/plain",
            ),
            (answer("HTTP/1.1 200 OK", POLICY), "text/plain"),
            (
                answer(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 70000",
                    "",
                ),
                "larger",
            ),
            (
                answer(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain",
                    &"x".repeat(MAX_POLICY_SIZE + 1),
                ),
                "larger",
            ),
            (
                answer(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 500",
                    POLICY,
                ),
                "shorter",
            ),
            (b"SSH-2.0-OpenSSH\r\n".to_vec(), "HTTP"),
        ];
        for (r, what) in cases {
            let e = parse_response(&r).expect_err(what);
            assert!(e.contains(what), "{what}: {e}");
        }
    }
}
