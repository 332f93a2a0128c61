//! `/api/v1/tokens…`: tokens made, listed and revoked by administrators:
//! a server administrator any; a domain administrator those for some of
//! its domains or for their users (`praisani_mailhost::access::reaches`);
//! a user none.

use super::Api;
use super::extract::{Caller, JsonBody, PathParam, QueryParams};
use super::problem::Problem;
use crate::admin::scope_json;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use praisani_mailhost::access::{TokenScope, tokens};
use praisani_mailhost::admin::pages::page;
use praisani_mailhost::admin::{parse_address, parse_domain};
use serde::Deserialize;
use serde_json::{Value, json};

/// The body of `POST /api/v1/tokens`: exactly one of `admin`, `domains`,
/// `user`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewToken {
    #[serde(default)]
    admin: bool,
    domains: Option<Vec<String>>,
    user: Option<String>,
    #[serde(default)]
    name: String,
}

/// `POST /api/v1/tokens`: the secret is in this answer only; 403 for a
/// scope out of the caller's reach.
pub(crate) async fn create(
    Caller(t): Caller,
    State(api): State<Api>,
    JsonBody(b): JsonBody<NewToken>,
) -> Result<(StatusCode, Json<Value>), Problem> {
    let scope = match (b.admin, b.domains, b.user) {
        (true, None, None) => TokenScope::Admin,
        (false, Some(ds), None) => TokenScope::Domains(
            ds.iter()
                .map(|d| parse_domain(d))
                .collect::<Result<_, _>>()?,
        ),
        (false, None, Some(u)) => TokenScope::User(parse_address(&u)?),
        _ => {
            return Err(Problem::bad_request(
                "give exactly one of \"admin\": true, \"domains\": [...], \"user\": \"ADDRESS\"",
            ));
        }
    };
    let issued =
        tokens::issue_by(api.store(), &t.scope, scope.clone(), &b.name, super::now()).await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"id": issued.id, "token": issued.secret, "name": b.name, "scope": scope_json(&scope)}),
        ),
    ))
}

/// `GET /api/v1/tokens`: the tokens the caller reaches, no secrets.
pub(crate) async fn list(
    Caller(t): Caller,
    State(api): State<Api>,
    QueryParams(q): QueryParams<super::queue::PageQuery>,
) -> Result<Json<Value>, Problem> {
    let all = tokens::list_for(api.store(), &t.scope).await?;
    // By id, zero-padded so that text order is id order.
    let p = page(
        all,
        |t| format!("{:020}", t.id),
        q.limit,
        q.cursor.as_deref(),
    );
    let items: Vec<Value> = p
        .items
        .iter()
        .map(|t| json!({"id": t.id, "name": t.name, "scope": scope_json(&t.scope), "created": t.created}))
        .collect();
    Ok(Json(json!({"items": items, "next_cursor": p.next})))
}

/// `DELETE /api/v1/tokens/{id}`: refused from now on; 403 for a token out
/// of the caller's reach, whether or not it exists.
pub(crate) async fn revoke(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(id): PathParam<i64>,
) -> Result<Json<Value>, Problem> {
    tokens::revoke_for(api.store(), &t.scope, id).await?;
    Ok(Json(json!({"revoked": id})))
}
