//! rspamd's HTTP protocol: one `POST /checkv2` per message, the envelope in
//! request headers, the message as the body (streamed from the spool, so
//! it is never held twice in memory), the verdict as JSON.

use std::time::Duration;

use praisani_store::Spool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Envelope, SpamAction, SpamSettings, SpamVerdict};

/// Why rspamd gave no verdict.
#[derive(Debug, thiserror::Error)]
pub enum RspamdError {
    /// Connecting, writing or reading failed.
    #[error("rspamd at {addr}: {source}")]
    Io {
        /// Where rspamd was looked for.
        addr: String,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// No verdict within the timeout.
    #[error("rspamd at {addr} gave no verdict within {timeout:?}")]
    Timeout {
        /// Where rspamd was looked for.
        addr: String,
        /// How long it was given.
        timeout: Duration,
    },
    /// The answer was not a verdict.
    #[error("rspamd at {addr}: {what}")]
    Protocol {
        /// Where rspamd was looked for.
        addr: String,
        /// What was wrong with the answer.
        what: String,
    },
}

/// Answers larger than this are not verdicts.
const MAX_RESPONSE: usize = 1024 * 1024;
/// Message octets read from the spool per write.
const CHUNK: usize = 64 * 1024;

/// Asks rspamd about the message `head` + `spool`.
pub async fn check(
    settings: &SpamSettings,
    envelope: &Envelope<'_>,
    head: &[u8],
    spool: &mut Spool,
) -> Result<SpamVerdict, RspamdError> {
    let addr = settings.addr.clone();
    match tokio::time::timeout(settings.timeout, exchange(&addr, envelope, head, spool)).await {
        Ok(r) => r,
        Err(_) => Err(RspamdError::Timeout {
            addr,
            timeout: settings.timeout,
        }),
    }
}

async fn exchange(
    addr: &str,
    envelope: &Envelope<'_>,
    head: &[u8],
    spool: &mut Spool,
) -> Result<SpamVerdict, RspamdError> {
    let io = |source| RspamdError::Io {
        addr: addr.to_string(),
        source,
    };
    let mut conn = TcpStream::connect(addr).await.map_err(io)?;
    let length = head.len() as u64 + spool.len();
    conn.write_all(request_head(addr, envelope, length).as_bytes())
        .await
        .map_err(io)?;
    conn.write_all(head).await.map_err(io)?;
    let mut sent = head.len() as u64;
    {
        let mut body = spool.peek(CHUNK).map_err(io)?;
        while let Some(chunk) = body.next_chunk().map_err(io)? {
            conn.write_all(&chunk).await.map_err(io)?;
            sent += chunk.len() as u64;
        }
    }
    if sent != length {
        return Err(RspamdError::Protocol {
            addr: addr.to_string(),
            what: format!("spool gave {sent} octets of {length}"),
        });
    }
    conn.flush().await.map_err(io)?;
    let mut response = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = conn.read(&mut buf).await.map_err(io)?;
        if n == 0 {
            break;
        }
        if response.len() + n > MAX_RESPONSE {
            return Err(RspamdError::Protocol {
                addr: addr.to_string(),
                what: "answer too large".into(),
            });
        }
        response.extend_from_slice(&buf[..n]);
    }
    parse_response(&response).map_err(|what| RspamdError::Protocol {
        addr: addr.to_string(),
        what,
    })
}

/// The request line and headers: what rspamd's protocol calls the
/// envelope (`IP`, `Helo`, `From`, `Rcpt`, `User`, `Queue-Id`, `MTA-Name`).
fn request_head(addr: &str, e: &Envelope<'_>, length: u64) -> String {
    let mut h = format!(
        "POST /checkv2 HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {length}\r\n",
        header_value(addr)
    );
    let mut field = |name: &str, value: &str| {
        h.push_str(name);
        h.push_str(": ");
        h.push_str(&header_value(value));
        h.push_str("\r\n");
    };
    field("IP", &e.client_ip.to_string());
    if let Some(helo) = e.helo {
        field("Helo", helo);
    }
    field("From", e.mail_from);
    for rcpt in e.rcpts {
        field("Rcpt", rcpt);
    }
    if let Some(user) = e.user {
        field("User", user);
    }
    field("Queue-Id", e.queue_id);
    field("MTA-Name", e.mta_name);
    h.push_str("\r\n");
    h
}

/// A value safe in a request header: no line ends or controls (a hostile
/// HELO must not add headers of its own), UTF-8 kept.
fn header_value(v: &str) -> String {
    v.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// rspamd's answer: status 200 and a JSON verdict.
pub(super) fn parse_response(raw: &[u8]) -> Result<SpamVerdict, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let start = match response.parse(raw) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err("answer cut off".into()),
        Err(e) => return Err(format!("bad HTTP answer: {e}")),
    };
    let code = response.code.unwrap_or(0);
    let chunked = response.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("transfer-encoding")
            && String::from_utf8_lossy(h.value)
                .to_ascii_lowercase()
                .contains("chunked")
    });
    let body = if chunked {
        dechunk(&raw[start..])?
    } else {
        raw[start..].to_vec()
    };
    if code != 200 {
        return Err(format!(
            "HTTP {code}: {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        ));
    }
    let json: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| format!("answer is not JSON: {e}"))?;
    let action = json
        .get("action")
        .and_then(|a| a.as_str())
        .ok_or("answer has no action")?;
    let action = SpamAction::parse(action).ok_or_else(|| format!("unknown action {action:?}"))?;
    let number = |key: &str| json.get(key).and_then(|v| v.as_f64()).unwrap_or(0.0);
    let symbols = json
        .get("symbols")
        .and_then(|s| s.as_object())
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let smtp_message = json
        .get("messages")
        .and_then(|m| m.get("smtp_message"))
        .and_then(|m| m.as_str())
        .map(str::to_string);
    Ok(SpamVerdict {
        action,
        score: number("score"),
        required_score: number("required_score"),
        symbols,
        smtp_message,
    })
}

/// The body of a `Transfer-Encoding: chunked` answer.
fn dechunk(mut raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("chunked answer cut off")?;
        let size_text = String::from_utf8_lossy(&raw[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size =
            usize::from_str_radix(size_text, 16).map_err(|_| "bad chunk size".to_string())?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if raw.len() < size + 2 {
            return Err("chunked answer cut off".into());
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}
