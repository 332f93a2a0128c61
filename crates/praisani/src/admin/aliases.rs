//! `praisani alias …`.

use super::print;
use crate::cli::AliasCmd;
use anyhow::Result;
use praisani_mailaddr::Address;
use praisani_mailhost::admin::{aliases, parse_address, parse_domain};
use praisani_store::Store;
use serde_json::json;

fn joined(targets: &[Address]) -> Vec<String> {
    targets.iter().map(|x| x.to_string()).collect()
}

/// Runs an `alias` subcommand.
pub async fn alias_cmd(store: &dyn Store, cmd: AliasCmd, json: bool) -> Result<()> {
    match cmd {
        AliasCmd::Add { alias, targets } => {
            let a = parse_address(&alias)?;
            let t = targets
                .iter()
                .map(|t| parse_address(t))
                .collect::<Result<Vec<_>, _>>()?;
            aliases::add(store, &a, &t).await?;
            print(
                json,
                json!({"added": a.to_string(), "targets": joined(&t)}),
                || format!("alias {a} -> {}", joined(&t).join(", ")),
            );
        }
        AliasCmd::Remove { alias } => {
            let a = parse_address(&alias)?;
            aliases::remove(store, &a).await?;
            print(json, json!({"removed": a.to_string()}), || {
                format!("alias {a} removed")
            });
        }
        AliasCmd::List { domain: d } => {
            let d = d.map(|d| parse_domain(&d)).transpose()?;
            let list = aliases::list(store, d.as_ref()).await?;
            let v: Vec<_> = list
                .iter()
                .map(|a| json!({"alias": a.address.to_string(), "targets": joined(&a.targets)}))
                .collect();
            print(json, json!(v), || {
                list.iter()
                    .map(|a| format!("{} -> {}", a.address, joined(&a.targets).join(", ")))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
    }
    Ok(())
}
