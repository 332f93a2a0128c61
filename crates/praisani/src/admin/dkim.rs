//! `praisani dkim …`.

use super::print;
use crate::cli::{DkimAlgorithm, DkimCmd};
use crate::config::Config;
use anyhow::Result;
use praisani_delivery::admin::DnsRecord;
use praisani_delivery::admin::dkim_keys::{self, KeyInfo, NewKey};
use praisani_delivery::dkim::{Algorithm, KeyStore};
use praisani_mailaddr::Domain;
use praisani_mailhost::admin::parse_domain;
use praisani_store::Store;
use serde_json::json;

/// Runs a `dkim` subcommand.
pub async fn dkim_cmd(store: &dyn Store, config: &Config, cmd: DkimCmd, json: bool) -> Result<()> {
    match cmd {
        DkimCmd::Generate {
            domain: d,
            algorithm,
            selector,
        } => {
            let d = parse_domain(&d)?;
            let alg = match algorithm {
                DkimAlgorithm::Ed25519 => Algorithm::Ed25519Sha256,
                DkimAlgorithm::Rsa => Algorithm::RsaSha256,
            };
            let keys = KeyStore::new(&config.data_dir);
            let key = dkim_keys::generate(store, &keys, &d, alg, selector.as_deref()).await?;
            let r = &key.record;
            print(json, new_key_json(&d, &key), || {
                let idn = if d.is_idn() {
                    format!("; {} is {}\n", d.unicode(), d.ascii())
                } else {
                    String::new()
                };
                format!(
                    "DKIM key ({}) for {} with selector {} written to {}\n\
                         Publish this DNS record; mail is signed with the newest key of each type:\n\
                         {idn}{}",
                    key.algorithm,
                    d.unicode(),
                    key.signer.selector,
                    key.file.display(),
                    r.zone_line()
                )
            });
        }
        DkimCmd::List { domain: d } => {
            let d = parse_domain(&d)?;
            let keys = KeyStore::new(&config.data_dir);
            let list = dkim_keys::list(store, &keys, &d).await?;
            print(
                json,
                json!(list.iter().map(key_json).collect::<Vec<_>>()),
                || {
                    if list.is_empty() {
                        return format!(
                            "{} has no DKIM key (make one: praisani dkim generate {})",
                            d.unicode(),
                            d.unicode()
                        );
                    }
                    list.iter()
                        .map(|k| {
                            format!(
                                "{}\t{}\t{}\t{}",
                                k.signer.selector,
                                k.algorithm,
                                if k.signing { "signing" } else { "not signing" },
                                k.file.display()
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                },
            );
        }
    }
    Ok(())
}

/// A DNS record as `--json` and the admin API show it.
pub(crate) fn record_json(r: &DnsRecord) -> serde_json::Value {
    json!({"name": r.name, "type": r.rtype(), "value": r.data.value()})
}

/// A key just made, as `--json` and the admin API show it.
pub(crate) fn new_key_json(d: &Domain, key: &NewKey) -> serde_json::Value {
    json!({
        "domain": d.unicode(),
        "ascii": d.ascii(),
        "selector": key.signer.selector,
        "algorithm": key.algorithm.as_str(),
        "file": key.file.display().to_string(),
        "record": record_json(&key.record),
    })
}

/// A domain's key, as `dkim list --json` and the admin API show it.
pub(crate) fn key_json(k: &KeyInfo) -> serde_json::Value {
    json!({
        "selector": k.signer.selector,
        "algorithm": k.algorithm.as_str(),
        "signing": k.signing,
        "file": k.file.display().to_string(),
        "record": record_json(&k.record),
    })
}
