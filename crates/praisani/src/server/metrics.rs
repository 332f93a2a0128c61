//! `GET /metrics` on the HTTP(S) listeners: who may scrape (`[metrics]`),
//! the queue gauges refreshed from the store, and the exposition.

use super::Shared;
use crate::http::{Request, Response};
use praisani_delivery::admin::queue_control;
use praisani_metrics::text::CONTENT_TYPE;
use praisani_store::RcptState;
use std::net::SocketAddr;

/// The answer to a request for `/metrics` (the caller checked that
/// `[metrics]` enables it).
pub(super) async fn answer(shared: &Shared, req: &Request, peer: SocketAddr) -> Response {
    if req.method != "GET" && req.method != "HEAD" {
        return Response::text(405, "only GET and HEAD").header("Allow", "GET, HEAD");
    }
    let cfg = &shared.config.metrics;
    let from_allowed = cfg.allow.iter().any(|c| c.contains(peer.ip()));
    let token_ok = cfg.token.as_ref().is_some_and(|t| {
        req.authorization
            .as_deref()
            .and_then(|a| a.strip_prefix("Bearer "))
            .is_some_and(|given| same(given.trim().as_bytes(), t.expose().as_bytes()))
    });
    if !from_allowed && !token_ok {
        return match cfg.token {
            Some(_) => Response::text(401, "a bearer token is required")
                .header("WWW-Authenticate", "Bearer realm=\"metrics\""),
            None => Response::text(403, "your address may not read the metrics"),
        };
    }
    refresh_queue(shared).await;
    Response::new(
        200,
        CONTENT_TYPE,
        praisani_metrics::metrics().render().into_bytes(),
    )
}

/// Sets the queue gauges from the queue as the CLI's `queue list` sees it;
/// on a store error the last values stay (and the error is logged).
async fn refresh_queue(shared: &Shared) {
    let m = praisani_metrics::metrics();
    let timer = m.store_timer("queue_list");
    let listed = queue_control::list(&*shared.office.store).await;
    drop(timer);
    let entries = match listed {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!("metrics: cannot list the queue: {e}");
            return;
        }
    };
    let (mut pending, mut deferred, mut held) = (0i64, 0i64, 0i64);
    for r in entries.iter().flat_map(|e| &e.recipients) {
        match r.state {
            RcptState::Pending if r.attempts > 0 => deferred += 1,
            RcptState::Pending => pending += 1,
            RcptState::Held => held += 1,
            RcptState::Delivered | RcptState::Failed => {}
        }
    }
    m.queue_recipients.set(&["pending"], pending);
    m.queue_recipients.set(&["deferred"], deferred);
    m.queue_recipients.set(&["held"], held);
    m.queue_messages
        .set(&[], i64::try_from(entries.len()).unwrap_or(i64::MAX));
}

/// Compares in time that depends only on the lengths, so a client cannot
/// guess the token byte by byte from response times.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"abcdef", b"abcdef"));
        assert!(!same(b"abcdef", b"abcdeg"));
        assert!(!same(b"abc", b"abcdef"));
    }
}
