//! `GET /metrics` on the admin listener: the same exposition as on the
//! HTTP listeners, for a server-admin API token or whoever `[metrics]`
//! lets in (its networks, its token).

use super::Api;
use super::extract::Caller;
use super::problem::Problem;
use crate::server::metrics::{Access, authorize, exposition};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use praisani_mailhost::access::{Action, allows};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// `GET /metrics`.
pub(crate) async fn scrape(State(api): State<Api>, req: Request) -> Result<Response, Problem> {
    let (mut parts, _) = req.into_parts();
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0), |c| {
            c.0
        });
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    // `[metrics]` first: its token is not an API token, and asking the
    // store about it would count a failed login against the scraper.
    if authorize(&api.shared.config.metrics, peer, authorization) != Access::Allowed {
        let Caller(t) = Caller::from_request_parts(&mut parts, &api).await?;
        if !allows(&t.scope, Action::Server) {
            return Err(Problem::forbidden());
        }
    }
    let body = exposition(&api.shared).await;
    Ok((
        [(header::CONTENT_TYPE, praisani_metrics::CONTENT_TYPE)],
        body,
    )
        .into_response())
}
