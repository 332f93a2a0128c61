//! The admin commands, run against the same store as the server (safe while
//! it runs: the store serialises writers across processes).
//!
//! The commands only parse their arguments, call the operations of
//! [`praisani_mailhost::admin`] and [`praisani_delivery::admin`], where the
//! rules live, and print what comes back as text or JSON. One module per
//! command family.

mod aliases;
mod args;
pub(crate) mod dkim;
mod dmarc_reports;
pub(crate) mod dns;
pub(crate) mod domains;
mod import;
mod import_pop3;
mod import_users;
mod progress;
pub(crate) mod queue;
mod report_send;
pub(crate) mod show;
mod tls_reports;
mod tokens;
pub(crate) mod users;

pub use aliases::alias_cmd;
pub use dkim::dkim_cmd;
pub use dmarc_reports::dmarc_report_cmd;
pub use dns::dns_cmd;
pub use domains::domain_cmd;
pub use import::{export_cmd, import_cmd};
pub use import_pop3::import_pop3_cmd;
pub use import_users::import_users_cmd;
pub use queue::queue_cmd;
pub use tls_reports::tls_report_cmd;
pub use tokens::{scope_json, token_cmd};
pub use users::user_cmd;

use crate::config::Config;
use anyhow::{Result, bail};
use praisani_store::{Store, StoreError};
use serde_json::json;

/// A failure of an admin command that the CLI itself detects (its own
/// arguments and input); it exits with status 1 like every admin failure.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct AdminError {
    /// What went wrong, for people.
    pub message: String,
}

fn fail(message: impl Into<String>) -> anyhow::Error {
    AdminError {
        message: message.into(),
    }
    .into()
}

fn store_err(e: StoreError) -> anyhow::Error {
    match e {
        StoreError::Unavailable(_) => anyhow::Error::new(e),
        other => fail(other.to_string()),
    }
}

fn print(json: bool, value: serde_json::Value, text: impl FnOnce() -> String) {
    if json {
        say(value);
    } else {
        let t = text();
        if !t.is_empty() {
            say(t);
        }
    }
}

/// Writes a line of a command's output. When the reader has gone (`praisani
/// user list | head`), the command ends quietly with the status a Unix
/// tool killed by SIGPIPE has (141) instead of panicking on the write.
pub(crate) fn say(line: impl std::fmt::Display) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(141);
        }
        eprintln!("praisani: cannot write the output: {e}");
        std::process::exit(EXIT_WRITE_FAILED);
    }
}

/// The exit status when standard output cannot be written (a full disk).
const EXIT_WRITE_FAILED: i32 = 1;

/// A point in time for `expire --as-of`: RFC 3339 or a date (midnight UTC).
fn parse_as_of(s: &str) -> Result<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc().timestamp());
    }
    bail!(fail(format!(
        "invalid --as-of {s:?} (examples: 2027-01-31, 2027-01-31T12:00:00Z)"
    )))
}

/// Runs `expire`.
pub async fn expire_cmd(
    store: &dyn Store,
    config: &Config,
    as_of: Option<String>,
    json: bool,
) -> Result<()> {
    let now = match as_of {
        Some(s) => parse_as_of(&s)?,
        None => unix_now(),
    };
    let r =
        praisani_mailhost::retention::expire(store, now, config.post_office_settings().retention)
            .await
            .map_err(store_err)?;
    print(
        json,
        json!({"as_of": now, "mailboxes": r.accounts, "deleted": r.messages, "bytes": r.bytes, "skipped_in_use": r.locked}),
        || {
            format!(
                "{} message(s) deleted ({} octets) from {} mailbox(es) with a retention policy; {} skipped (open in a POP3 session, swept next time)",
                r.messages, r.bytes, r.accounts, r.locked
            )
        },
    );
    Ok(())
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
