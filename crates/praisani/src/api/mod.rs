//! The admin API (`listen.admin`): JSON over HTTPS under `/api/v1/`, for
//! control panels and billing systems.
//!
//! Routing only: each handler turns the request into the typed inputs of
//! [`praisani_mailhost::admin`] (or [`praisani_delivery::admin`]), the same
//! functions the CLI calls, after asking [`praisani_mailhost::access`]
//! whether the caller's token may do it. Every route is in [`ROUTES`], the
//! one list the router is built from and the OpenAPI document is checked
//! against.

mod aliases;
mod domain_admins;
mod domain_settings;
mod domains;
mod extract;
mod limits;
mod mailboxes;
mod metrics;
mod problem;
mod queue;
mod settings;
mod tokens;

use crate::server::Shared;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{MethodFilter, MethodRouter, on};
use praisani_mailhost::access::{Action, TokenInfo, allows};
use praisani_store::Store;
use problem::Problem;
use std::sync::Arc;

/// The OpenAPI 3.1 description of [`ROUTES`].
pub(crate) const OPENAPI: &str = include_str!("openapi.json");

/// What every handler gets.
#[derive(Clone)]
pub(crate) struct Api {
    pub shared: Arc<Shared>,
}

impl Api {
    fn store(&self) -> &dyn Store {
        &*self.shared.office.store
    }
}

/// One route: method, path (axum and OpenAPI write parameters alike,
/// `{name}`), and its handler on that method.
pub(crate) struct Route {
    pub method: &'static str,
    pub path: &'static str,
    handler: fn(MethodFilter) -> MethodRouter<Api>,
}

macro_rules! route {
    ($method:literal, $path:literal, $h:path) => {
        Route {
            method: $method,
            path: $path,
            handler: |m| on(m, $h),
        }
    };
}

/// Every route of the admin API, and `/metrics` (the exposition the HTTP
/// listeners serve too).
pub(crate) const ROUTES: &[Route] = &[
    route!("GET", "/api/v1/openapi.json", openapi),
    route!("GET", "/api/v1/domains", domains::list),
    route!("POST", "/api/v1/domains", domains::add),
    route!("GET", "/api/v1/domains/{domain}", domains::show),
    route!("DELETE", "/api/v1/domains/{domain}", domains::remove),
    route!("GET", "/api/v1/domains/{domain}/mailboxes", mailboxes::list),
    route!("POST", "/api/v1/domains/{domain}/mailboxes", mailboxes::add),
    route!("GET", "/api/v1/domains/{domain}/aliases", aliases::list),
    route!("POST", "/api/v1/domains/{domain}/aliases", aliases::add),
    route!("GET", "/api/v1/mailboxes/{address}", mailboxes::show),
    route!("DELETE", "/api/v1/mailboxes/{address}", mailboxes::remove),
    route!(
        "PUT",
        "/api/v1/mailboxes/{address}/password",
        mailboxes::set_password
    ),
    route!(
        "PUT",
        "/api/v1/mailboxes/{address}/quota",
        mailboxes::set_quota
    ),
    route!(
        "GET",
        "/api/v1/mailboxes/{address}/retention",
        settings::get_retention
    ),
    route!(
        "PUT",
        "/api/v1/mailboxes/{address}/retention",
        settings::set_retention
    ),
    route!(
        "GET",
        "/api/v1/mailboxes/{address}/notices",
        settings::get_notices
    ),
    route!(
        "PUT",
        "/api/v1/mailboxes/{address}/notices",
        settings::set_notices
    ),
    route!(
        "GET",
        "/api/v1/mailboxes/{address}/vacation",
        settings::get_vacation
    ),
    route!(
        "PUT",
        "/api/v1/mailboxes/{address}/vacation",
        settings::set_vacation
    ),
    route!(
        "DELETE",
        "/api/v1/mailboxes/{address}/vacation",
        settings::remove_vacation
    ),
    route!(
        "GET",
        "/api/v1/mailboxes/{address}/forward",
        settings::get_forward
    ),
    route!(
        "PUT",
        "/api/v1/mailboxes/{address}/forward",
        settings::set_forward
    ),
    route!(
        "DELETE",
        "/api/v1/mailboxes/{address}/forward",
        settings::remove_forward
    ),
    route!(
        "GET",
        "/api/v1/mailboxes/{address}/hold",
        settings::get_hold
    ),
    route!("PUT", "/api/v1/mailboxes/{address}/hold", settings::hold),
    route!(
        "DELETE",
        "/api/v1/mailboxes/{address}/hold",
        settings::release
    ),
    route!(
        "PUT",
        "/api/v1/domains/{domain}/quota",
        domain_settings::set_quota
    ),
    route!(
        "GET",
        "/api/v1/domains/{domain}/retention",
        domain_settings::get_retention
    ),
    route!(
        "PUT",
        "/api/v1/domains/{domain}/retention",
        domain_settings::set_retention
    ),
    route!(
        "GET",
        "/api/v1/domains/{domain}/catchall",
        domain_settings::get_catch_all
    ),
    route!(
        "PUT",
        "/api/v1/domains/{domain}/catchall",
        domain_settings::set_catch_all
    ),
    route!(
        "DELETE",
        "/api/v1/domains/{domain}/catchall",
        domain_settings::remove_catch_all
    ),
    route!(
        "GET",
        "/api/v1/domains/{domain}/contact",
        domain_settings::get_contact
    ),
    route!(
        "PUT",
        "/api/v1/domains/{domain}/contact",
        domain_settings::set_contact
    ),
    route!(
        "DELETE",
        "/api/v1/domains/{domain}/contact",
        domain_settings::remove_contact
    ),
    route!(
        "GET",
        "/api/v1/domains/{domain}/dkim-keys",
        domain_settings::list_keys
    ),
    route!(
        "POST",
        "/api/v1/domains/{domain}/dkim-keys",
        domain_settings::generate_key
    ),
    route!("GET", "/api/v1/domains/{domain}/dns", domain_settings::dns),
    route!("DELETE", "/api/v1/aliases/{address}", aliases::remove),
    route!("GET", "/api/v1/queue", queue::list),
    route!("POST", "/api/v1/queue/flush", queue::flush),
    route!("GET", "/api/v1/queue/{id}", queue::show),
    route!("DELETE", "/api/v1/queue/{id}", queue::delete),
    route!("POST", "/api/v1/queue/{id}/retry", queue::retry),
    route!("POST", "/api/v1/queue/{id}/hold", queue::hold),
    route!("POST", "/api/v1/queue/{id}/release", queue::release),
    route!("GET", "/api/v1/tokens", tokens::list),
    route!("POST", "/api/v1/tokens", tokens::create),
    route!("DELETE", "/api/v1/tokens/{id}", tokens::revoke),
    route!("GET", "/metrics", metrics::scrape),
    route!("GET", "/api/v1/domains/{domain}/limits", limits::show),
    route!("PUT", "/api/v1/domains/{domain}/limits", limits::set),
    route!(
        "GET",
        "/api/v1/domains/{domain}/admins",
        domain_admins::list
    ),
    route!(
        "PUT",
        "/api/v1/domains/{domain}/admins/{address}",
        domain_admins::add
    ),
    route!(
        "DELETE",
        "/api/v1/domains/{domain}/admins/{address}",
        domain_admins::remove
    ),
];

fn method_filter(m: &str) -> MethodFilter {
    match m {
        "POST" => MethodFilter::POST,
        "PUT" => MethodFilter::PUT,
        "DELETE" => MethodFilter::DELETE,
        "PATCH" => MethodFilter::PATCH,
        _ => MethodFilter::GET,
    }
}

/// The admin API's router: [`ROUTES`], with problem-details answers for
/// unknown paths and methods, and the `[admin_api]` body limit.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let limit = usize::try_from(shared.config.admin_api.max_body_size).unwrap_or(usize::MAX);
    let mut r: Router<Api> = Router::new();
    for route in ROUTES {
        r = r.route(route.path, (route.handler)(method_filter(route.method)));
    }
    r.fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .with_state(Api { shared })
}

/// Refuses unless `token` may do `action`.
fn require(token: &TokenInfo, action: Action<'_>) -> Result<(), Problem> {
    if allows(&token.scope, action) {
        Ok(())
    } else {
        Err(Problem::forbidden())
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

/// The answer to a request that took longer than
/// `admin_api.request_timeout`.
pub(crate) fn timed_out() -> Problem {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the request took too long (admin_api.request_timeout)",
    )
}

async fn not_found() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "no such API endpoint")
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this endpoint does not take that method",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The (method, path) pairs the OpenAPI document describes.
    fn documented() -> BTreeSet<(String, String)> {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).expect("openapi.json parses");
        assert_eq!(doc["openapi"].as_str().map(|v| &v[..4]), Some("3.1."));
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                if method == "parameters" {
                    continue;
                }
                assert!(
                    op["responses"].is_object(),
                    "{method} {path} documents its responses"
                );
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
        out
    }

    #[test]
    fn openapi_document_and_routes_agree() {
        let routed: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|r| (r.method.to_string(), r.path.to_string()))
            .collect();
        assert_eq!(routed.len(), ROUTES.len(), "a route is listed twice");
        let documented = documented();
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        let missing: Vec<_> = documented.difference(&routed).collect();
        assert!(
            undocumented.is_empty(),
            "routes not in openapi.json: {undocumented:?}"
        );
        assert!(missing.is_empty(), "documented but not routed: {missing:?}");
        for r in ROUTES {
            assert!(
                matches!(r.method, "GET" | "POST" | "PUT" | "DELETE" | "PATCH"),
                "{} is not a method method_filter knows",
                r.method
            );
        }
    }
}
