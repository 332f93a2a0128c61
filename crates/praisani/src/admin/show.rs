//! How sizes and retention settings read, in text and JSON, for every
//! command that shows them.

use praisani_store::{Keep, Retention};
use serde_json::json;

/// A limit in octets, or "unlimited".
pub(super) fn size_text(q: Option<u64>) -> String {
    q.map(|q| q.to_string())
        .unwrap_or_else(|| "unlimited".into())
}

fn keep_json(k: Keep) -> serde_json::Value {
    match k {
        Keep::Inherit => json!("inherit"),
        Keep::Forever => json!("never"),
        Keep::Days(d) => json!(d),
    }
}

/// A retention setting as `--json` and the admin API show it.
pub(crate) fn retention_json(r: Retention) -> serde_json::Value {
    json!({"after_retrieval_days": keep_json(r.after_retrieval), "max_age_days": keep_json(r.max_age)})
}

pub(super) fn retention_text(r: Retention) -> String {
    let text = |k: Keep, what: &str| match k {
        Keep::Inherit => format!("{what}: inherited"),
        Keep::Forever => format!("{what}: never deleted"),
        Keep::Days(0) if what == "after retrieval" => format!("{what}: deleted at QUIT"),
        Keep::Days(d) => format!("{what}: deleted after {d} days"),
    };
    format!(
        "{}; {}",
        text(r.after_retrieval, "after retrieval"),
        text(r.max_age, "after arrival")
    )
}
