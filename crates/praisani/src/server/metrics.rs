//! `GET /metrics` on the HTTP(S) listeners: who may scrape (`[metrics]`),
//! the queue gauges refreshed from the store, and the exposition.

use super::Shared;
use crate::config::MetricsConfig;
use crate::http::{Request, Response};
use praisani_delivery::admin::queue_control;
use praisani_metrics::CONTENT_TYPE;
use praisani_metrics::labels::{ByState, QueueState};
use praisani_store::RcptState;
use std::net::SocketAddr;

/// The answer to a request for `/metrics` (the caller checked that
/// `[metrics]` enables it).
pub(super) async fn answer(shared: &Shared, req: &Request, peer: SocketAddr) -> Response {
    if req.method != "GET" && req.method != "HEAD" {
        return Response::text(405, "only GET and HEAD").header("Allow", "GET, HEAD");
    }
    match authorize(&shared.config.metrics, peer, req.authorization.as_deref()) {
        Access::Allowed => {}
        Access::NeedToken => {
            return Response::text(401, "a bearer token is required")
                .header("WWW-Authenticate", "Bearer realm=\"metrics\"");
        }
        Access::Forbidden => {
            return Response::text(403, "your address may not read the metrics");
        }
    }
    Response::new(200, CONTENT_TYPE, exposition(shared).await.into_bytes())
}

/// Whether a client may read the metrics. Kept apart from [`answer`] so
/// another HTTP front end (the admin listener) asks the same question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// From `metrics.allow`, or with the right bearer token.
    Allowed,
    /// Neither, and a token is configured: 401 with `WWW-Authenticate`.
    NeedToken,
    /// Neither, and no token could help: 403.
    Forbidden,
}

/// Decides [`Access`] from the client's address and its Authorization
/// field's value.
pub(crate) fn authorize(
    cfg: &MetricsConfig,
    peer: SocketAddr,
    authorization: Option<&str>,
) -> Access {
    if cfg.allow.iter().any(|c| c.contains(peer.ip())) {
        return Access::Allowed;
    }
    let Some(token) = &cfg.token else {
        return Access::Forbidden;
    };
    let given = authorization.and_then(|a| a.strip_prefix("Bearer "));
    match given.is_some_and(|g| same(g.trim().as_bytes(), token.expose().as_bytes())) {
        true => Access::Allowed,
        false => Access::NeedToken,
    }
}

/// The exposition text, with the queue gauges read fresh.
pub(crate) async fn exposition(shared: &Shared) -> String {
    refresh_queue(shared).await;
    praisani_metrics::metrics().render()
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
    for (state, n) in [
        (QueueState::pending, pending),
        (QueueState::deferred, deferred),
        (QueueState::held, held),
    ] {
        m.queue_recipients.get_or_create(&ByState { state }).set(n);
    }
    m.queue_messages
        .set(i64::try_from(entries.len()).unwrap_or(i64::MAX));
}

/// Compares in time that depends only on the lengths, so a client cannot
/// guess the token byte by byte from response times.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::{Access, authorize, same};
    use crate::config::Config;

    #[test]
    fn access_by_network_or_token() {
        let c =
            Config::parse("[metrics]\nallow = [\"10.0.0.0/8\"]\ntoken = \"0123456789abcdef\"\n")
                .unwrap();
        let inside = "10.1.1.1:5000".parse().unwrap();
        let outside = "192.0.2.1:5000".parse().unwrap();
        assert_eq!(authorize(&c.metrics, inside, None), Access::Allowed);
        assert_eq!(authorize(&c.metrics, outside, None), Access::NeedToken);
        let ok = Some("Bearer 0123456789abcdef");
        assert_eq!(authorize(&c.metrics, outside, ok), Access::Allowed);
        let wrong = Some("Bearer 0123456789abcdeX");
        assert_eq!(authorize(&c.metrics, outside, wrong), Access::NeedToken);
        let c = Config::parse("[metrics]\nallow = [\"10.0.0.0/8\"]\n").unwrap();
        assert_eq!(authorize(&c.metrics, outside, ok), Access::Forbidden);
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"abcdef", b"abcdef"));
        assert!(!same(b"abcdef", b"abcdeg"));
        assert!(!same(b"abc", b"abcdef"));
    }
}
