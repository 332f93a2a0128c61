//! `/api/v1/tokens…`: tokens made and revoked by server administrators.

use super::extract::{Caller, JsonBody, PathParam};
use super::problem::Problem;
use super::{Api, require};
use crate::admin::scope_json;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use praisani_mailhost::access::{Action, TokenScope, tokens};
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

/// `POST /api/v1/tokens`: the secret is in this answer only.
pub(crate) async fn create(
    Caller(t): Caller,
    State(api): State<Api>,
    JsonBody(b): JsonBody<NewToken>,
) -> Result<(StatusCode, Json<Value>), Problem> {
    require(&t, Action::Server)?;
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
    let issued = tokens::issue(api.store(), scope.clone(), &b.name, super::now()).await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"id": issued.id, "token": issued.secret, "name": b.name, "scope": scope_json(&scope)}),
        ),
    ))
}

/// `GET /api/v1/tokens`: no secrets.
pub(crate) async fn list(
    Caller(t): Caller,
    State(api): State<Api>,
) -> Result<Json<Value>, Problem> {
    require(&t, Action::Server)?;
    let all = tokens::list(api.store()).await?;
    let items: Vec<Value> = all
        .iter()
        .map(|t| json!({"id": t.id, "name": t.name, "scope": scope_json(&t.scope), "created": t.created}))
        .collect();
    Ok(Json(json!({"items": items})))
}

/// `DELETE /api/v1/tokens/{id}`: refused from now on.
pub(crate) async fn revoke(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(id): PathParam<i64>,
) -> Result<Json<Value>, Problem> {
    require(&t, Action::Server)?;
    tokens::revoke(api.store(), id).await?;
    Ok(Json(json!({"revoked": id})))
}
