//! `/api/v1/queue…`: the outbound queue, for server administrators only
//! (it holds every customer's mail). The answers are what `praisani queue
//! … --json` prints.

use super::extract::{Caller, PathParam, QueryParams};
use super::problem::Problem;
use super::{Api, now, require};
use crate::admin::queue::queue_json;
use axum::Json;
use axum::extract::State;
use praisani_delivery::admin::queue_control;
use praisani_mailhost::access::Action;
use praisani_mailhost::admin::pages::page;
use praisani_store::QueueId;
use serde::Deserialize;
use serde_json::{Value, json};

/// The query of a list paged in memory (`GET /api/v1/queue`,
/// `GET /api/v1/domains`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageQuery {
    pub(crate) limit: Option<usize>,
    pub(crate) cursor: Option<String>,
}

/// A queue id as a page key: zero-padded, so that text order is id order.
fn key(id: QueueId) -> String {
    format!("{:020}", id.get())
}

/// `GET /api/v1/queue?limit=&cursor=`: a page of queued messages, oldest
/// first; `next_cursor` asks for the next.
pub(crate) async fn list(
    Caller(t): Caller,
    State(api): State<Api>,
    QueryParams(q): QueryParams<PageQuery>,
) -> Result<Json<Value>, Problem> {
    require(&t, Action::Queue)?;
    let all = queue_control::list(api.store()).await?;
    let p = page(all, |e| key(e.id), q.limit, q.cursor.as_deref());
    Ok(Json(json!({
        "items": p.items.iter().map(queue_json).collect::<Vec<_>>(),
        "next_cursor": p.next,
    })))
}

/// `GET /api/v1/queue/{id}`.
pub(crate) async fn show(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(id): PathParam<i64>,
) -> Result<Json<Value>, Problem> {
    require(&t, Action::Queue)?;
    let e = queue_control::show(api.store(), QueueId::new(id)).await?;
    Ok(Json(queue_json(&e)))
}

/// `DELETE /api/v1/queue/{id}`: its pending recipients are dropped without
/// a bounce.
pub(crate) async fn delete(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(id): PathParam<i64>,
) -> Result<Json<Value>, Problem> {
    require(&t, Action::Queue)?;
    queue_control::delete(api.store(), QueueId::new(id)).await?;
    Ok(Json(json!({"deleted": id})))
}

/// `POST /api/v1/queue/{id}/retry`: its pending recipients due now.
pub(crate) async fn retry(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(id): PathParam<i64>,
) -> Result<Json<Value>, Problem> {
    require(&t, Action::Queue)?;
    let n = queue_control::retry(api.store(), QueueId::new(id), now()).await?;
    Ok(Json(json!({"rescheduled": n})))
}

/// `POST /api/v1/queue/flush`: every pending recipient due now.
pub(crate) async fn flush(
    Caller(t): Caller,
    State(api): State<Api>,
) -> Result<Json<Value>, Problem> {
    require(&t, Action::Queue)?;
    let n = queue_control::flush(api.store(), now()).await?;
    Ok(Json(json!({"rescheduled": n})))
}

/// `POST /api/v1/queue/{id}/hold`: its pending recipients are not sent
/// until released.
pub(crate) async fn hold(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(id): PathParam<i64>,
) -> Result<Json<Value>, Problem> {
    require(&t, Action::Queue)?;
    let n = queue_control::hold(api.store(), QueueId::new(id)).await?;
    Ok(Json(json!({"held": n})))
}

/// The query of `POST /api/v1/queue/{id}/release`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReleaseQuery {
    /// Delete the held recipients instead of sending them.
    #[serde(default)]
    delete: bool,
}

/// `POST /api/v1/queue/{id}/release[?delete=true]`: its held recipients
/// due now, or deleted.
pub(crate) async fn release(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(id): PathParam<i64>,
    QueryParams(q): QueryParams<ReleaseQuery>,
) -> Result<Json<Value>, Problem> {
    require(&t, Action::Queue)?;
    let n = queue_control::release(api.store(), QueueId::new(id), q.delete, now()).await?;
    Ok(Json(json!({"released": n, "deleted": q.delete})))
}
