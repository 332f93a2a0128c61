//! `/api/v1/domains…`: hosted domains.

use super::extract::{Caller, JsonBody, PathParam, QueryParams};
use super::problem::Problem;
use super::{Api, require};
use crate::admin::dns::server_names;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use praisani_delivery::admin::dns_records;
use praisani_delivery::dkim::KeyStore;
use praisani_mailhost::access::{Action, visible_domains};
use praisani_mailhost::admin::pages::page;
use praisani_mailhost::admin::{domains, parse_domain};
use praisani_store::DomainInfo;
use serde::Deserialize;
use serde_json::{Value, json};

fn domain_json(i: &DomainInfo) -> Value {
    json!({
        "domain": i.domain.unicode(),
        "ascii": i.domain.ascii(),
        "mailboxes": i.accounts,
        "aliases": i.aliases,
        "quota_bytes": i.quota_bytes,
        "used_bytes": i.used_bytes,
    })
}

/// `GET /api/v1/domains`: the domains the token may see.
pub(crate) async fn list(
    Caller(t): Caller,
    State(api): State<Api>,
    QueryParams(q): QueryParams<super::queue::PageQuery>,
) -> Result<Json<Value>, Problem> {
    let all = domains::list(api.store()).await?;
    let seen = visible_domains(&t.scope, all, |i| &i.domain).ok_or_else(Problem::forbidden)?;
    // Hosts have hundreds of domains, not millions: paged in memory, by
    // the A-label (the key the cursor is).
    let p = page(
        seen,
        |i| i.domain.ascii().to_string(),
        q.limit,
        q.cursor.as_deref(),
    );
    Ok(Json(json!({
        "items": p.items.iter().map(domain_json).collect::<Vec<_>>(),
        "next_cursor": p.next,
    })))
}

/// The body of `POST /api/v1/domains`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewDomain {
    domain: String,
}

/// `POST /api/v1/domains`: adds a hosted domain (server administrators).
pub(crate) async fn add(
    Caller(t): Caller,
    State(api): State<Api>,
    JsonBody(b): JsonBody<NewDomain>,
) -> Result<(StatusCode, Json<Value>), Problem> {
    require(&t, Action::Server)?;
    let d = parse_domain(&b.domain)?;
    domains::add(api.store(), &d).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"added": d.unicode(), "ascii": d.ascii()})),
    ))
}

/// `GET /api/v1/domains/{domain}`: its counts and the DNS records it needs.
pub(crate) async fn show(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(d): PathParam<String>,
) -> Result<Json<Value>, Problem> {
    let d = parse_domain(&d)?;
    require(&t, Action::ReadDomain(&d))?;
    domains::ensure_hosted(api.store(), &d).await?;
    let info = domains::list(api.store())
        .await?
        .into_iter()
        .find(|i| i.domain == d)
        .ok_or(praisani_mailhost::admin::AdminError::UnknownDomain(
            d.clone(),
        ))?;
    let config = &api.shared.config;
    let keys = KeyStore::new(&config.data_dir);
    let dns = dns_records::for_hosted_domain(api.store(), &d, &server_names(config), &keys).await?;
    let mut out = domain_json(&info);
    out["dns_records"] = dns
        .records
        .iter()
        .map(|r| json!({"name": r.name, "type": r.rtype(), "value": r.data.value()}))
        .collect();
    out["dns_warnings"] = dns.warnings.iter().map(|w| w.to_string()).collect();
    let limits = praisani_mailhost::admin::limits::get(api.store(), &d).await?;
    out["limits"] = super::limits::limits_json(&d, &limits);
    Ok(Json(out))
}

/// The query of `DELETE /api/v1/domains/{domain}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RemoveQuery {
    #[serde(default)]
    force: bool,
}

/// `DELETE /api/v1/domains/{domain}[?force=true]` (server administrators).
pub(crate) async fn remove(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(d): PathParam<String>,
    QueryParams(q): QueryParams<RemoveQuery>,
) -> Result<Json<Value>, Problem> {
    require(&t, Action::Server)?;
    let d = parse_domain(&d)?;
    domains::remove(api.store(), &d, q.force).await?;
    Ok(Json(json!({"removed": d.unicode()})))
}
