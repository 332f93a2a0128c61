//! The HTTP and HTTPS listeners' connection driver: reads requests with
//! the `[http]` limits, asks the store whether the domain is hosted, and
//! writes the auto-configuration answers (see `crate::autoconfig`).

use super::limits::IpSlot;
use super::stream::MailStream;
use super::{Service, Shared};
use crate::autoconfig::{self, Settings};
use crate::http::{self, Progress, Request, Response};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{Instant, timeout, timeout_at};

/// Octets read from the socket at a time.
const READ_CHUNK: usize = 4096;
/// After a refusal, how long and how much of the client's further input
/// is read and discarded before closing.
const LINGER_TIME: std::time::Duration = std::time::Duration::from_secs(2);
/// See [`LINGER_TIME`].
const LINGER_BYTES: usize = 1 << 20;

/// Serves one connection until the client closes it, a limit is reached
/// or a request asks to close.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    mut stream: MailStream,
    peer: SocketAddr,
    per_ip: IpSlot,
    service: Service,
) {
    let cfg = &shared.config.http;
    let io_timeout = cfg.timeout;
    if !per_ip.allowed {
        let r = Response::text(503, "too many connections from your address").closing();
        let mut out = r.encode(&http::http_date(), false, false);
        let _ = timeout(io_timeout, stream.send(&mut out)).await;
        return;
    }
    let limits = http::Limits {
        max_header: usize::try_from(cfg.max_header_size).unwrap_or(usize::MAX),
        max_body: usize::try_from(cfg.max_body_size).unwrap_or(usize::MAX),
    };
    let session_end = Instant::now() + shared.config.limits.session_max;
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; READ_CHUNK];
    for served in 1..=cfg.max_requests_per_connection {
        let mut continued = false;
        // Whole request within `timeout` from when we start waiting for
        // it, whole connection within `session_max`: a client trickling
        // bytes gets its 408 on time.
        let deadline = (Instant::now() + io_timeout).min(session_end);
        let progress = loop {
            match http::parse(&buf, &limits) {
                Progress::NeedMore { send_continue } => {
                    if send_continue && !continued {
                        continued = true;
                        let mut out = http::CONTINUE.to_vec();
                        if stream.send(&mut out).await.is_err() {
                            return;
                        }
                    }
                }
                done => break done,
            }
            match timeout_at(deadline, stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return,
                Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
                Err(_) => {
                    // Silence between requests is the normal end of a
                    // kept-alive connection; silence within one is not.
                    if !buf.is_empty() {
                        let r = Response::text(408, "the request took too long").closing();
                        send(&mut stream, &r, false, false, io_timeout).await;
                    }
                    return;
                }
            }
        };
        let (request, consumed) = match progress {
            Progress::Done { request, consumed } => (request, consumed),
            Progress::Refused(r) => {
                tracing::info!(?service, %peer, status = r.status, "http request refused");
                if send(&mut stream, &r, false, false, io_timeout).await {
                    linger(&mut stream).await;
                }
                return;
            }
            Progress::NeedMore { .. } => return,
        };
        buf.drain(..consumed);
        let response = answer(&shared, &request, service, peer).await;
        let keep_alive = request.keep_alive && served < cfg.max_requests_per_connection;
        let head_only = request.method == "HEAD";
        if !send(&mut stream, &response, head_only, keep_alive, io_timeout).await
            || !keep_alive
            || response.close
        {
            return;
        }
    }
}

/// Writes a response; false when the connection is gone.
async fn send(
    stream: &mut MailStream,
    r: &Response,
    head_only: bool,
    keep_alive: bool,
    limit: std::time::Duration,
) -> bool {
    let mut out = r.encode(&http::http_date(), head_only, keep_alive);
    matches!(timeout(limit, stream.send(&mut out)).await, Ok(Ok(())))
}

/// Closes after a refusal without destroying it: the client may still be
/// sending (a body too large to read, say), and closing a socket with
/// unread input makes the kernel send a reset that can discard our answer
/// before the client reads it. So stop writing, then drain for a moment.
async fn linger(stream: &mut MailStream) {
    let _ = timeout(LINGER_TIME, stream.shutdown()).await;
    let end = Instant::now() + LINGER_TIME;
    let mut sink = vec![0u8; READ_CHUNK];
    let mut drained = 0;
    while drained < LINGER_BYTES {
        match timeout_at(end, stream.read(&mut sink)).await {
            Ok(Ok(n)) if n > 0 => drained += n,
            _ => break,
        }
    }
}

/// The answer to one parsed request.
async fn answer(shared: &Shared, req: &Request, service: Service, peer: SocketAddr) -> Response {
    if req.path == "/metrics" && shared.config.metrics.enabled() {
        let r = super::metrics::answer(shared, req, peer).await;
        tracing::info!(?service, %peer, status = r.status, "metrics");
        return r;
    }
    let lookup = match autoconfig::route(req) {
        Ok(l) => l,
        Err(r) => {
            tracing::info!(?service, %peer, method = %req.method, path = %req.path, status = r.status, "http");
            return r;
        }
    };
    let response = match shared.office.store.is_hosted(&lookup.domain).await {
        Ok(true) => autoconfig::render(&lookup, &Settings::from_config(&shared.config)),
        Ok(false) => autoconfig::not_hosted(&lookup.domain),
        Err(e) => {
            tracing::error!("autoconfig: store unavailable: {e}");
            Response::text(503, "temporarily unavailable, try again later")
        }
    };
    tracing::info!(
        ?service,
        %peer,
        document = lookup.document.name(),
        domain = %lookup.domain.ascii(),
        status = response.status,
        "autoconfig"
    );
    response
}
