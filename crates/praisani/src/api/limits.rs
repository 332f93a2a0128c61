//! `/api/v1/domains/{domain}/limits`: the limits a server administrator
//! sets for a domain's administrators. Server administrators set them;
//! a domain's administrators may read their own.

use super::extract::{Caller, JsonBody, PathParam};
use super::problem::Problem;
use super::{Api, require};
use axum::Json;
use axum::extract::State;
use praisani_mailaddr::Domain;
use praisani_mailhost::access::Action;
use praisani_mailhost::admin::limits::{self, DomainLimits};
use praisani_mailhost::admin::{parse_domain, parse_quota};
use serde::Deserialize;
use serde_json::{Value, json};

/// The limits as the API shows them (`null`: unlimited).
pub(crate) fn limits_json(d: &Domain, l: &DomainLimits) -> Value {
    json!({
        "domain": d.unicode(),
        "mailboxes": l.mailboxes,
        "aliases": l.aliases,
        "mailbox_quota_bytes": l.mailbox_quota,
        "total_quota_bytes": l.total_quota,
    })
}

/// `GET /api/v1/domains/{domain}/limits`.
pub(crate) async fn show(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(d): PathParam<String>,
) -> Result<Json<Value>, Problem> {
    let d = parse_domain(&d)?;
    require(&t, Action::ReadDomain(&d))?;
    let l = limits::get(api.store(), &d).await?;
    Ok(Json(limits_json(&d, &l)))
}

/// The body of `PUT /api/v1/domains/{domain}/limits`: every limit, a
/// missing or `null` one unlimited (the request replaces them all).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitsBody {
    mailboxes: Option<u64>,
    aliases: Option<u64>,
    /// A size (`2G`) or `unlimited`.
    mailbox_quota: Option<String>,
    /// A size (`50G`) or `unlimited`.
    total_quota: Option<String>,
}

/// `PUT /api/v1/domains/{domain}/limits` (server administrators).
pub(crate) async fn set(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(d): PathParam<String>,
    JsonBody(b): JsonBody<LimitsBody>,
) -> Result<Json<Value>, Problem> {
    require(&t, Action::Server)?;
    let d = parse_domain(&d)?;
    let size = |s: &Option<String>| match s {
        Some(s) => parse_quota(s),
        None => Ok(None),
    };
    let l = DomainLimits {
        mailboxes: b.mailboxes,
        aliases: b.aliases,
        mailbox_quota: size(&b.mailbox_quota)?,
        total_quota: size(&b.total_quota)?,
    };
    limits::set(api.store(), &d, &l).await?;
    Ok(Json(limits_json(&d, &l)))
}
