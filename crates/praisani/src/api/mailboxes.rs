//! `/api/v1/domains/{domain}/mailboxes` and `/api/v1/mailboxes/{address}…`.

use super::extract::{Caller, JsonBody, PathParam, QueryParams};
use super::problem::Problem;
use super::{Api, require};
use crate::admin::users::account_json;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use praisani_mailhost::access::Action;
use praisani_mailhost::admin::accounts::{self, ApopChange, NewMailbox};
use praisani_mailhost::admin::limits::Authority;
use praisani_mailhost::admin::{domains, parse_address, parse_domain, parse_quota};
use praisani_message::Language;
use serde::Deserialize;
use serde_json::{Value, json};

/// The query of a paginated list.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageQuery {
    pub(crate) limit: Option<usize>,
    cursor: Option<String>,
}

impl PageQuery {
    /// The cursor as the address it is (the last one of the page before).
    pub(crate) fn after(&self) -> Result<Option<praisani_mailaddr::Address>, Problem> {
        match &self.cursor {
            Some(c) => parse_address(c)
                .map(Some)
                .map_err(|_| Problem::bad_request(format!("{c:?} is not a cursor of this list"))),
            None => Ok(None),
        }
    }
}

/// `GET /api/v1/domains/{domain}/mailboxes?limit=&cursor=`: a page of the
/// domain's mailboxes, in address order, read from the store a page at a
/// time (with each one's usage); `next_cursor` asks for the next.
pub(crate) async fn list(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(d): PathParam<String>,
    QueryParams(q): QueryParams<PageQuery>,
) -> Result<Json<Value>, Problem> {
    let d = parse_domain(&d)?;
    require(&t, Action::ReadDomain(&d))?;
    domains::ensure_hosted(api.store(), &d).await?;
    let p = accounts::page(api.store(), &d, q.limit, q.after()?.as_ref()).await?;
    Ok(Json(json!({
        "items": p.items.iter().map(account_json).collect::<Vec<_>>(),
        "next_cursor": p.next,
    })))
}

/// The body of `POST /api/v1/domains/{domain}/mailboxes`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewMailboxBody {
    address: String,
    password: String,
    /// A size (`500M`) or `unlimited`.
    quota: Option<String>,
    messages: Option<u64>,
    #[serde(default)]
    apop: bool,
    /// The language of its notices (`en`, `th`, `zh`).
    lang: Option<String>,
}

/// `POST /api/v1/domains/{domain}/mailboxes`: creates a mailbox of the
/// domain (a domain administrator within the domain's limits).
pub(crate) async fn add(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(d): PathParam<String>,
    JsonBody(b): JsonBody<NewMailboxBody>,
) -> Result<(StatusCode, Json<Value>), Problem> {
    let d = parse_domain(&d)?;
    require(&t, Action::ManageDomain(&d))?;
    let address = parse_address(&b.address)?;
    if address.domain() != &d {
        return Err(Problem::bad_request(format!(
            "{address} is not an address of {}",
            d.unicode()
        )));
    }
    let quota_bytes = match &b.quota {
        Some(q) => parse_quota(q)?,
        None => None,
    };
    let lang = match &b.lang {
        Some(l) => Language::from_tag(l)
            .ok_or_else(|| Problem::bad_request(format!("unknown language {l:?} (en, th, zh)")))?,
        None => Language::En,
    };
    accounts::add_as(
        api.store(),
        NewMailbox {
            address: address.clone(),
            password: &b.password,
            apop: b.apop,
            quota_bytes,
            quota_messages: b.messages,
            lang,
        },
        Authority::of(&t.scope),
    )
    .await?;
    let a = accounts::get(api.store(), &address).await?;
    Ok((StatusCode::CREATED, Json(account_json(&a))))
}

/// `GET /api/v1/mailboxes/{address}`.
pub(crate) async fn show(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(a): PathParam<String>,
) -> Result<Json<Value>, Problem> {
    let a = parse_address(&a)?;
    require(&t, Action::ReadMailbox(&a))?;
    Ok(Json(account_json(&accounts::get(api.store(), &a).await?)))
}

/// `DELETE /api/v1/mailboxes/{address}`: removes it and all its mail.
pub(crate) async fn remove(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(a): PathParam<String>,
) -> Result<Json<Value>, Problem> {
    let a = parse_address(&a)?;
    require(&t, Action::ManageDomain(a.domain()))?;
    accounts::remove(api.store(), &a).await?;
    Ok(Json(json!({"removed": a.to_string()})))
}

/// The body of `PUT /api/v1/mailboxes/{address}/password`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordBody {
    password: String,
}

/// `PUT /api/v1/mailboxes/{address}/password`.
pub(crate) async fn set_password(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(a): PathParam<String>,
    JsonBody(b): JsonBody<PasswordBody>,
) -> Result<Json<Value>, Problem> {
    let a = parse_address(&a)?;
    require(&t, Action::SetPassword(&a))?;
    let account = accounts::get(api.store(), &a).await?;
    let apop = accounts::set_password(api.store(), &account, &b.password, ApopChange::Keep).await?;
    Ok(Json(json!({"address": a.to_string(), "apop": apop})))
}

/// The body of `PUT /api/v1/mailboxes/{address}/quota`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QuotaBody {
    /// A size (`500M`) or `unlimited`.
    quota: String,
    messages: Option<u64>,
}

/// `PUT /api/v1/mailboxes/{address}/quota` (a domain administrator within
/// the domain's quota limits).
pub(crate) async fn set_quota(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(a): PathParam<String>,
    JsonBody(b): JsonBody<QuotaBody>,
) -> Result<Json<Value>, Problem> {
    let a = parse_address(&a)?;
    require(&t, Action::SetQuota(&a))?;
    let bytes = parse_quota(&b.quota)?;
    let q =
        accounts::set_quota_as(api.store(), &a, bytes, b.messages, Authority::of(&t.scope)).await?;
    Ok(Json(json!({
        "address": a.to_string(),
        "quota_bytes": q.bytes,
        "quota_messages": q.messages,
    })))
}
