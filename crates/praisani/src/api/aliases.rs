//! `/api/v1/domains/{domain}/aliases` and `/api/v1/aliases/{address}`.

use super::extract::{Caller, JsonBody, PathParam, QueryParams};
use super::mailboxes::PageQuery;
use super::problem::Problem;
use super::{Api, require};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use praisani_mailhost::access::Action;
use praisani_mailhost::admin::limits::Authority;
use praisani_mailhost::admin::{aliases, domains, parse_address, parse_domain};
use serde::Deserialize;
use serde_json::{Value, json};

/// `GET /api/v1/domains/{domain}/aliases?limit=&cursor=`: a page of the
/// domain's aliases with their targets, in address order, read from the
/// store a page at a time; `next_cursor` asks for the next.
pub(crate) async fn list(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(d): PathParam<String>,
    QueryParams(q): QueryParams<PageQuery>,
) -> Result<Json<Value>, Problem> {
    let d = parse_domain(&d)?;
    require(&t, Action::ReadDomain(&d))?;
    domains::ensure_hosted(api.store(), &d).await?;
    let p = aliases::page(api.store(), &d, q.limit, q.after()?.as_ref()).await?;
    let items: Vec<Value> = p
        .items
        .iter()
        .map(|a| {
            json!({
                "alias": a.address.to_string(),
                "targets": a.targets.iter().map(ToString::to_string).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(json!({"items": items, "next_cursor": p.next})))
}

/// The body of `POST /api/v1/domains/{domain}/aliases`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewAlias {
    alias: String,
    targets: Vec<String>,
}

/// `POST /api/v1/domains/{domain}/aliases`: an alias of the domain (its
/// targets may be anywhere; a domain administrator within the domain's
/// alias limit).
pub(crate) async fn add(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(d): PathParam<String>,
    JsonBody(b): JsonBody<NewAlias>,
) -> Result<(StatusCode, Json<Value>), Problem> {
    let d = parse_domain(&d)?;
    require(&t, Action::ManageDomain(&d))?;
    let alias = parse_address(&b.alias)?;
    if alias.domain() != &d {
        return Err(Problem::bad_request(format!(
            "{alias} is not an address of {}",
            d.unicode()
        )));
    }
    let targets = b
        .targets
        .iter()
        .map(|t| parse_address(t))
        .collect::<Result<Vec<_>, _>>()?;
    aliases::add_as(api.store(), &alias, &targets, Authority::of(&t.scope)).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "added": alias.to_string(),
            "targets": targets.iter().map(ToString::to_string).collect::<Vec<_>>(),
        })),
    ))
}

/// `DELETE /api/v1/aliases/{address}`.
pub(crate) async fn remove(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(a): PathParam<String>,
) -> Result<Json<Value>, Problem> {
    let a = parse_address(&a)?;
    require(&t, Action::ManageDomain(a.domain()))?;
    aliases::remove(api.store(), &a).await?;
    Ok(Json(json!({"removed": a.to_string()})))
}
