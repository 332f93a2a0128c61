//! `/api/v1/domains/{domain}/admins`: the mailboxes that administer a
//! domain in the web admin (`praisani domain admin`), so a control panel
//! can hand a customer their domain without a shell.
//!
//! Server administrators may name any mailbox; a domain's administrators
//! only mailboxes of domains they administer themselves (naming one
//! elsewhere would tell them whether it exists).

use super::extract::{Caller, PathParam};
use super::problem::Problem;
use super::{Api, require};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use praisani_mailaddr::Domain;
use praisani_mailhost::access::Action;
use praisani_mailhost::admin::{domain_admins, parse_address, parse_domain};
use serde_json::{Value, json};

async fn answer(api: &Api, d: &Domain) -> Result<Json<Value>, Problem> {
    let admins = domain_admins::list(api.store(), d).await?;
    Ok(Json(json!({
        "domain": d.unicode(),
        "items": admins.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })))
}

/// `GET /api/v1/domains/{domain}/admins`.
pub(crate) async fn list(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(d): PathParam<String>,
) -> Result<Json<Value>, Problem> {
    let d = parse_domain(&d)?;
    require(&t, Action::ReadDomain(&d))?;
    answer(&api, &d).await
}

/// `PUT` (name) or `DELETE` (take back) on
/// `/api/v1/domains/{domain}/admins/{address}`.
async fn change(
    t: &praisani_mailhost::access::TokenInfo,
    api: &Api,
    d: &str,
    a: &str,
    add: bool,
) -> Result<Json<Value>, Problem> {
    let d = parse_domain(d)?;
    let a = parse_address(a)?;
    require(t, Action::ManageDomain(&d))?;
    require(t, Action::ManageMailbox(&a))?;
    domain_admins::list(api.store(), &d).await?;
    if add {
        domain_admins::add(api.store(), &d, &a).await?;
    } else {
        domain_admins::remove(api.store(), &d, &a).await?;
    }
    answer(api, &d).await
}

/// `PUT /api/v1/domains/{domain}/admins/{address}`: the mailbox becomes an
/// administrator of the domain (again is no error).
pub(crate) async fn add(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam((d, a)): PathParam<(String, String)>,
) -> Result<Json<Value>, Problem> {
    change(&t, &api, &d, &a, true).await
}

/// `DELETE /api/v1/domains/{domain}/admins/{address}`: takes the role away
/// (sessions open in the web admin lose it at their next request).
pub(crate) async fn remove(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam((d, a)): PathParam<(String, String)>,
) -> Result<(StatusCode, Json<Value>), Problem> {
    Ok((StatusCode::OK, change(&t, &api, &d, &a, false).await?))
}
