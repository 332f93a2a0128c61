//! Request parts as the handlers take them, refused as problem details:
//! the caller's token ([`Caller`]), and JSON bodies, paths and queries
//! whose rejections are [`Problem`]s instead of axum's plain text.

use super::Api;
use super::problem::Problem;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use praisani_mailhost::access::{TokenInfo, tokens};
use serde::de::DeserializeOwned;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The token a request came with, checked against the store afresh (a
/// revoked token is refused at once). Failed checks count against the
/// client's address in the same throttle as POP3 and SMTP logins.
pub(crate) struct Caller(pub TokenInfo);

/// The secret of `Authorization: Bearer …`, if there is one.
fn bearer(parts: &Parts) -> Option<&str> {
    let v = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

impl FromRequestParts<Api> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, api: &Api) -> Result<Caller, Problem> {
        let Some(presented) = bearer(parts) else {
            return Err(Problem::unauthorized());
        };
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let throttle = &api.shared.logins.throttle;
        // No account name: a token names none until it is found, and one
        // shared name would let anyone lock every token out.
        let Ok(attempt) = throttle.begin(ip, "").await else {
            tracing::info!(%ip, "admin API: token refused (address locked out)");
            return Err(Problem::unauthorized());
        };
        if !attempt.delay.is_zero() {
            tokio::time::sleep(attempt.delay).await;
        }
        match tokens::authenticate(&*api.shared.office.store, presented).await {
            Ok(Some(t)) => {
                attempt.succeeded();
                Ok(Caller(t))
            }
            Ok(None) => {
                attempt.failed();
                tracing::info!(%ip, "admin API: unknown or revoked token");
                Err(Problem::unauthorized())
            }
            Err(e) => {
                attempt.abandoned();
                Err(e.into())
            }
        }
    }
}

/// A JSON body; bad JSON is a 400 problem.
pub(crate) struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(t)) => Ok(JsonBody(t)),
            Err(e) => Err(Problem::new(e.status(), e.body_text())),
        }
    }
}

/// Path parameters; an undecodable one is a 400 problem.
pub(crate) struct PathParam<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for PathParam<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(t)) => Ok(PathParam(t)),
            Err(e) => Err(Problem::new(e.status(), e.body_text())),
        }
    }
}

/// Query parameters; bad ones are a 400 problem.
pub(crate) struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(t)) => Ok(QueryParams(t)),
            Err(e) => Err(Problem::bad_request(e.body_text())),
        }
    }
}
