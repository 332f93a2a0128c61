//! Opening the configured store backend, and `praisani store migrate`.

use crate::cli::StoreCmd;
use crate::config::{Config, StoreBackend};
use praisani_store::migrate::{Endpoint, copy};
use praisani_store::postgres::redact;
use praisani_store::{EmbeddedStore, PostgresStore, Store};
use std::sync::Arc;

/// Opens the store `[store]` names: the embedded one in `data_dir`, or the
/// PostgreSQL database (schema migrations applied on the way). Only a
/// server (`serving`) is the configured node: an admin command run beside
/// it (`praisani expire`) is a node of its own, or it would take the
/// server's sessions' maildrop locks for stale ones of its own.
pub async fn open(config: &Config, serving: bool) -> Result<Arc<dyn Store>, String> {
    match config.store.backend {
        StoreBackend::Embedded => EmbeddedStore::open(&config.data_dir)
            .map(|s| Arc::new(s) as Arc<dyn Store>)
            .map_err(|e| {
                format!(
                    "cannot open the store in {}: {e}",
                    config.data_dir.display()
                )
            }),
        StoreBackend::Postgres => {
            let url = config.store.url.as_deref().unwrap_or_default();
            let mut opts = config.store.pg_options(url);
            if !serving {
                opts.node = None;
            }
            PostgresStore::open(&opts, &config.data_dir.join("spool"))
                .await
                .map(|s| {
                    tracing::info!(node = s.node(), "store: PostgreSQL at {}", redact(url));
                    Arc::new(s) as Arc<dyn Store>
                })
                .map_err(|e| format!("cannot open the store at {}: {e}", redact(url)))
        }
    }
}

fn postgres_url(url: &str) -> anyhow::Result<&str> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(url)
    } else {
        anyhow::bail!("{:?} is not a postgres:// url", redact(url))
    }
}

/// Runs a `store` subcommand.
pub async fn run(config: &Config, cmd: &StoreCmd, json: bool) -> anyhow::Result<()> {
    let StoreCmd::Migrate { to, from, force } = cmd;
    let embedded = Endpoint::Embedded(config.data_dir.clone());
    let (src, dst) = match (to, from) {
        (Some(url), None) => (
            embedded,
            Endpoint::Postgres(config.store.pg_options(postgres_url(url)?)),
        ),
        (None, Some(url)) => (
            Endpoint::Postgres(config.store.pg_options(postgres_url(url)?)),
            embedded,
        ),
        _ => anyhow::bail!("give either --to URL or --from URL"),
    };
    // The embedded side must not be in use: mail a running server accepts
    // after the copy's snapshot would be missing from the target.
    let _instance = crate::server::instance_lock(&config.data_dir)
        .map_err(|e| anyhow::anyhow!("{e}; stop it before migrating"))?;
    let report = copy(&src, &dst, *force).await?;
    if json {
        let tables: serde_json::Map<String, serde_json::Value> = report
            .tables
            .iter()
            .map(|(t, n)| (t.to_string(), (*n).into()))
            .collect();
        crate::admin::say(format_args!(
            "{}",
            serde_json::json!({"from": src.to_string(), "to": dst.to_string(),
                "rows": tables, "octets": report.octets, "verified": true})
        ));
    } else {
        crate::admin::say(format_args!("copied {src} to {dst}, verified:"));
        for (t, n) in &report.tables {
            crate::admin::say(format_args!("  {t:<16} {n}"));
        }
        crate::admin::say(format_args!("  {:<16} {}", "octets", report.octets));
    }
    Ok(())
}
