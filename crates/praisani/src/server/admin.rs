//! The admin API listener's connection driver: HTTP/1.1 served by hyper
//! with the router of [`crate::api`], under the `[admin_api]` timeouts,
//! until the client closes or the server stops.

use super::Shared;
use super::stream::MailStream;
use axum::Router;
use axum::extract::ConnectInfo;
use axum::response::IntoResponse;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;
use tower::ServiceExt;

/// Serves one connection (TLS already in place unless `plain_http`).
pub(crate) async fn handle(
    shared: Arc<Shared>,
    stream: MailStream,
    peer: SocketAddr,
    router: Router,
    mut stop: watch::Receiver<bool>,
) {
    let cfg = &shared.config.admin_api;
    let request_timeout = cfg.request_timeout;
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            let router = router.clone();
            async move {
                let method = req.method().clone();
                let path = req.uri().path().to_string();
                let r = match tokio::time::timeout(request_timeout, router.oneshot(req)).await {
                    Ok(Ok(r)) => r,
                    Ok(Err(never)) => match never {},
                    Err(_) => crate::api::timed_out().into_response(),
                };
                tracing::info!(%peer, %method, %path, status = r.status().as_u16(), "admin API");
                Ok::<_, std::convert::Infallible>(r)
            }
        });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(cfg.header_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(%peer, "admin API connection: {e}");
            }
        }
        _ = stop.changed() => {
            // Finish the request under way, then close.
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}
