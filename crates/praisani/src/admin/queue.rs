//! `praisani queue …`.

use super::{print, store_err, unix_now};
use crate::cli::QueueCmd;
use anyhow::Result;
use praisani_delivery::admin::queue_control;
use praisani_store::{QueueEntry, RcptState, Store};
use serde_json::json;

fn time_text(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| t.to_string())
}

/// A queued message as `queue … --json` and the admin API show it.
pub(crate) fn queue_json(e: &QueueEntry) -> serde_json::Value {
    json!({
        "id": e.id.get(),
        "sender": e.sender,
        "size": e.size,
        "created": e.created,
        "envid": e.envid,
        "ret": e.ret.map(|r| r.as_param()),
        "smtputf8": e.smtputf8,
        "tls": e.tls.label(),
        "recipients": e.recipients.iter().map(|r| json!({
            "address": r.rcpt.address,
            "state": r.state.to_string(),
            "attempts": r.attempts,
            "next_attempt": r.next_attempt,
            "last_error": r.last_error,
        })).collect::<Vec<_>>(),
    })
}

fn queue_text(e: &QueueEntry) -> String {
    let sender = if e.sender.is_empty() {
        "<>"
    } else {
        e.sender.as_str()
    };
    let mut out = format!(
        "{}  {} octets  from {}  queued {}",
        e.id,
        e.size,
        sender,
        time_text(e.created)
    );
    if let Some(tls) = e.tls.label() {
        out.push_str(&format!("  {tls}"));
    }
    for r in &e.recipients {
        out.push_str(&format!("\n    {}  {}", r.rcpt.address, r.state));
        if r.state == RcptState::Pending {
            out.push_str(&format!(
                ", attempt {} at {}",
                r.attempts + 1,
                time_text(r.next_attempt)
            ));
        }
        if let Some(err) = &r.last_error {
            out.push_str(&format!("\n      last error: {err}"));
        }
    }
    out
}

/// Runs a `queue` subcommand.
pub async fn queue_cmd(store: &dyn Store, cmd: QueueCmd, json: bool) -> Result<()> {
    match cmd {
        QueueCmd::List => {
            let list = queue_control::list(store).await.map_err(store_err)?;
            print(
                json,
                json!(list.iter().map(queue_json).collect::<Vec<_>>()),
                || {
                    if list.is_empty() {
                        "the queue is empty".into()
                    } else {
                        list.iter().map(queue_text).collect::<Vec<_>>().join("\n")
                    }
                },
            );
        }
        QueueCmd::Show { id } => {
            let e = queue_control::show(store, id).await.map_err(store_err)?;
            print(json, queue_json(&e), || queue_text(&e));
        }
        QueueCmd::Retry { id } => {
            let n = queue_control::retry(store, id, unix_now())
                .await
                .map_err(store_err)?;
            print(json, json!({"rescheduled": n}), || {
                format!("{n} recipient(s) of {id} due now")
            });
        }
        QueueCmd::Delete { id } => {
            queue_control::delete(store, id).await.map_err(store_err)?;
            print(json, json!({"deleted": id.get()}), || {
                format!("queued message {id} deleted")
            });
        }
        QueueCmd::Hold { id } => {
            let n = queue_control::hold(store, id).await.map_err(store_err)?;
            print(json, json!({"held": n}), || {
                format!("{n} recipient(s) of {id} held")
            });
        }
        QueueCmd::Release { id, delete } => {
            let n = queue_control::release(store, id, delete, unix_now())
                .await
                .map_err(store_err)?;
            print(json, json!({"released": n, "deleted": delete}), || {
                if delete {
                    format!("{n} held recipient(s) of {id} deleted")
                } else {
                    format!("{n} held recipient(s) of {id} due now")
                }
            });
        }
        QueueCmd::Flush => {
            let n = queue_control::flush(store, unix_now())
                .await
                .map_err(store_err)?;
            print(json, json!({"rescheduled": n}), || {
                format!("{n} recipient(s) due now")
            });
        }
    }
    Ok(())
}
