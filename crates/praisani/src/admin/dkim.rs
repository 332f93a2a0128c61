//! `praisani dkim …`.

use super::print;
use crate::cli::{DkimAlgorithm, DkimCmd};
use crate::config::Config;
use anyhow::Result;
use praisani_delivery::admin::dkim_keys;
use praisani_delivery::dkim::{Algorithm, KeyStore};
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
            print(
                json,
                json!({
                    "domain": d.unicode(),
                    "ascii": d.ascii(),
                    "selector": key.signer.selector,
                    "algorithm": key.algorithm.as_str(),
                    "file": key.file.display().to_string(),
                    "record": {"name": r.name, "type": r.rtype(), "value": r.data.value()},
                }),
                || {
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
                },
            );
        }
    }
    Ok(())
}
