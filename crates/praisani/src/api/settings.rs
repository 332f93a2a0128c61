//! A mailbox's settings: `/api/v1/mailboxes/{address}/retention`,
//! `…/notices`, `…/vacation`, `…/forward` and `…/hold`. The answers are
//! what `praisani user … --json` prints for the same change.

use super::extract::{Caller, JsonBody, PathParam, QueryParams};
use super::problem::Problem;
use super::{Api, now, require};
use crate::admin::show::retention_json;
use crate::admin::users::{forward_json, vacation_json};
use axum::Json;
use axum::extract::State;
use praisani_mailaddr::Address;
use praisani_mailhost::access::{Action, TokenScope};
use praisani_mailhost::admin::vacation::{self, VacationRequest};
use praisani_mailhost::admin::{
    RetentionChange, accounts, forwarding, holds, parse_address, parse_keep, parse_lang,
};
use praisani_store::Keep;
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

/// A field that may be absent (`None`) or `null` (`Some(None)`).
pub(super) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A retention period as JSON gives it: a number of days or a string
/// (`"30"`, `"never"`, `"inherit"`), read by the CLI's parser.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Period {
    /// Days.
    Days(u32),
    /// Text.
    Text(String),
}

impl Period {
    fn keep(&self, field: &str) -> Result<Keep, Problem> {
        match self {
            Period::Days(d) => Ok(Keep::Days(*d)),
            Period::Text(t) => {
                parse_keep(t).map_err(|e| Problem::bad_request(format!("{field}: {e}")))
            }
        }
    }
}

/// The body of a `PUT …/retention`: the settings to change.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RetentionBody {
    after_retrieval: Option<Period>,
    max_age: Option<Period>,
}

impl RetentionBody {
    /// The change it asks for, as the CLI's `--after-retrieval` and
    /// `--max-age` would.
    pub(super) fn change(&self) -> Result<RetentionChange, Problem> {
        Ok(RetentionChange {
            after_retrieval: self
                .after_retrieval
                .as_ref()
                .map(|p| p.keep("after_retrieval"))
                .transpose()?,
            max_age: self
                .max_age
                .as_ref()
                .map(|p| p.keep("max_age"))
                .transpose()?,
        })
    }
}

async fn retention_answer(api: &Api, a: &Address) -> Result<Json<Value>, Problem> {
    let acc = accounts::get(api.store(), a).await?;
    Ok(Json(json!({
        "address": a.to_string(),
        "retention": retention_json(acc.retention),
        "domain_retention": retention_json(acc.domain_retention),
    })))
}

/// `GET /api/v1/mailboxes/{address}/retention`: its own retention and the
/// domain's it inherits from.
pub(crate) async fn get_retention(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(a): PathParam<String>,
) -> Result<Json<Value>, Problem> {
    let a = parse_address(&a)?;
    require(&t, Action::ReadMailbox(&a))?;
    retention_answer(&api, &a).await
}

/// `PUT /api/v1/mailboxes/{address}/retention` (`user retention`).
pub(crate) async fn set_retention(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(a): PathParam<String>,
    JsonBody(b): JsonBody<RetentionBody>,
) -> Result<Json<Value>, Problem> {
    let a = parse_address(&a)?;
    require(&t, Action::ManageMailbox(&a))?;
    accounts::set_retention(api.store(), &a, b.change()?).await?;
    retention_answer(&api, &a).await
}

/// `GET /api/v1/mailboxes/{address}/notices`: the language of its notices
/// and where its quota warnings also go.
pub(crate) async fn get_notices(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(a): PathParam<String>,
) -> Result<Json<Value>, Problem> {
    let a = parse_address(&a)?;
    require(&t, Action::ReadMailbox(&a))?;
    let acc = accounts::get(api.store(), &a).await?;
    Ok(Json(
        json!({"address": a.to_string(), "lang": acc.lang.tag(), "warn_to": acc.warn_to}),
    ))
}

/// The body of `PUT /api/v1/mailboxes/{address}/notices`; an absent field
/// stays as it is, `"warn_to": null` sends warnings to nobody else.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoticesBody {
    lang: Option<String>,
    #[serde(default, deserialize_with = "present")]
    warn_to: Option<Option<String>>,
}

/// `PUT /api/v1/mailboxes/{address}/notices` (`user set --lang
/// --warn-to`).
pub(crate) async fn set_notices(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(a): PathParam<String>,
    JsonBody(b): JsonBody<NoticesBody>,
) -> Result<Json<Value>, Problem> {
    let a = parse_address(&a)?;
    require(&t, Action::MailboxSettings(&a))?;
    let lang = b.lang.as_deref().map(parse_lang).transpose()?;
    let warn_to = match b.warn_to {
        None => None,
        Some(None) => Some(None),
        Some(Some(w)) if w.is_empty() => Some(None),
        Some(Some(w)) => Some(Some(parse_address(&w)?)),
    };
    let n = accounts::set_notices(api.store(), &a, lang, warn_to).await?;
    Ok(Json(
        json!({"address": a.to_string(), "lang": n.lang.tag(), "warn_to": n.warn_to}),
    ))
}

/// `GET /api/v1/mailboxes/{address}/vacation`.
pub(crate) async fn get_vacation(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(a): PathParam<String>,
) -> Result<Json<Value>, Problem> {
    let a = parse_address(&a)?;
    require(&t, Action::ReadMailbox(&a))?;
    let v = vacation::show(api.store(), &a).await?;
    Ok(Json(vacation_json(&a, v.as_ref())))
}

/// The body of `PUT /api/v1/mailboxes/{address}/vacation`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VacationBody {
    subject: Option<String>,
    text: String,
    /// `YYYY-MM-DD`, the first day replies are sent.
    from: Option<String>,
    /// `YYYY-MM-DD`, the last day replies are sent.
    until: Option<String>,
    interval_days: Option<u32>,
}

/// `PUT /api/v1/mailboxes/{address}/vacation`: turns the reply on (`user
/// vacation --text …`).
pub(crate) async fn set_vacation(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(a): PathParam<String>,
    JsonBody(b): JsonBody<VacationBody>,
) -> Result<Json<Value>, Problem> {
    let a = parse_address(&a)?;
    require(&t, Action::MailboxSettings(&a))?;
    let date = |d: Option<String>| {
        d.map(|d| vacation::parse_date(&d))
            .transpose()
            .map_err(praisani_mailhost::admin::AdminError::from)
    };
    let req = VacationRequest {
        subject: b.subject,
        text: b.text,
        from: date(b.from)?,
        until: date(b.until)?,
        interval_days: b.interval_days,
    };
    let max = usize::try_from(api.shared.config.limits.max_vacation_text).unwrap_or(usize::MAX);
    let v = vacation::set(api.store(), &a, req, max).await?;
    Ok(Json(vacation_json(&a, Some(&v))))
}

/// `DELETE /api/v1/mailboxes/{address}/vacation`: turns the reply off.
pub(crate) async fn remove_vacation(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(a): PathParam<String>,
) -> Result<Json<Value>, Problem> {
    let a = parse_address(&a)?;
    require(&t, Action::MailboxSettings(&a))?;
    vacation::off(api.store(), &a).await?;
    Ok(Json(vacation_json(&a, None)))
}

/// `GET /api/v1/mailboxes/{address}/forward`.
pub(crate) async fn get_forward(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(a): PathParam<String>,
) -> Result<Json<Value>, Problem> {
    let a = parse_address(&a)?;
    require(&t, Action::ReadMailbox(&a))?;
    let f = forwarding::show(api.store(), &a).await?;
    Ok(Json(forward_json(&a, f.as_ref())))
}

fn yes() -> bool {
    true
}

/// The body of `PUT /api/v1/mailboxes/{address}/forward`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ForwardBody {
    targets: Vec<String>,
    /// Keep a copy in the mailbox (default true, as the CLI).
    #[serde(default = "yes")]
    keep: bool,
}

/// `PUT /api/v1/mailboxes/{address}/forward` (`user forward`).
pub(crate) async fn set_forward(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(a): PathParam<String>,
    JsonBody(b): JsonBody<ForwardBody>,
) -> Result<Json<Value>, Problem> {
    let a = parse_address(&a)?;
    require(&t, Action::MailboxSettings(&a))?;
    let targets = b
        .targets
        .iter()
        .map(|t| parse_address(t))
        .collect::<Result<Vec<_>, _>>()?;
    let f = forwarding::set(api.store(), &a, targets, b.keep).await?;
    Ok(Json(forward_json(&a, Some(&f))))
}

/// `DELETE /api/v1/mailboxes/{address}/forward`: forwarding off.
pub(crate) async fn remove_forward(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(a): PathParam<String>,
) -> Result<Json<Value>, Problem> {
    let a = parse_address(&a)?;
    require(&t, Action::MailboxSettings(&a))?;
    forwarding::off(api.store(), &a).await?;
    Ok(Json(forward_json(&a, None)))
}

/// `GET /api/v1/mailboxes/{address}/hold`: whether its sending is on hold
/// and why.
pub(crate) async fn get_hold(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(a): PathParam<String>,
) -> Result<Json<Value>, Problem> {
    let a = parse_address(&a)?;
    require(&t, Action::ReadMailbox(&a))?;
    let acc = accounts::get(api.store(), &a).await?;
    Ok(Json(json!({"address": a.to_string(), "held": acc.held})))
}

/// The body of `PUT /api/v1/mailboxes/{address}/hold`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HoldBody {
    /// Why (shown to its mail program and in `user show`; default: who
    /// placed it).
    reason: Option<String>,
}

/// `PUT /api/v1/mailboxes/{address}/hold` (`user suspend`): submission
/// refused, queued mail held.
pub(crate) async fn hold(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(a): PathParam<String>,
    JsonBody(b): JsonBody<HoldBody>,
) -> Result<Json<Value>, Problem> {
    let a = parse_address(&a)?;
    require(&t, Action::ManageMailbox(&a))?;
    // Without a reason, say whose hold it is: the provider reads it when
    // deciding on a release.
    let reason = b.reason.unwrap_or_else(|| {
        match t.scope {
            TokenScope::Admin => "suspended by the operator",
            _ => "suspended by the domain administrator",
        }
        .to_string()
    });
    let changed = holds::suspend(api.store(), &a, &reason).await?;
    Ok(Json(
        json!({"suspended": a.to_string(), "changed": changed}),
    ))
}

/// The query of `DELETE /api/v1/mailboxes/{address}/hold`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReleaseQuery {
    /// Delete the held mail instead of sending it.
    #[serde(default)]
    delete: bool,
}

/// `DELETE /api/v1/mailboxes/{address}/hold[?delete=true]` (`user
/// release`, server administrators only).
pub(crate) async fn release(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(a): PathParam<String>,
    QueryParams(q): QueryParams<ReleaseQuery>,
) -> Result<Json<Value>, Problem> {
    let a = parse_address(&a)?;
    require(&t, Action::ReleaseHold(&a))?;
    let r = holds::release(api.store(), &a, q.delete, now()).await?;
    Ok(Json(json!({
        "released": a.to_string(),
        "was_held": r.was_held,
        "recipients": r.recipients,
        "deleted": q.delete,
    })))
}
