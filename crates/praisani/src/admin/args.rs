//! Command-line arguments shared by several commands, turned into the
//! typed inputs of the admin operations.

use super::fail;
use crate::cli::KeepArgs;
use anyhow::Result;
use praisani_mailhost::admin::{RetentionChange, parse_keep};
use praisani_store::Keep;

fn keep_arg(flag: &str, v: &Option<String>) -> Result<Option<Keep>> {
    v.as_deref()
        .map(|t| parse_keep(t).map_err(|e| fail(format!("--{flag}: {e}"))))
        .transpose()
}

/// The retention change `--after-retrieval` and `--max-age` ask for.
pub(super) fn retention_change(keep: &KeepArgs) -> Result<RetentionChange> {
    Ok(RetentionChange {
        after_retrieval: keep_arg("after-retrieval", &keep.after_retrieval)?,
        max_age: keep_arg("max-age", &keep.max_age)?,
    })
}
