//! `praisani dns DOMAIN`: the records a hosted domain needs, as zone-file
//! lines or JSON.

use super::print;
use crate::config::Config;
use anyhow::Result;
use praisani_delivery::admin::dns_records::{self, ServerNames};
use praisani_delivery::dkim::KeyStore;
use praisani_mailhost::admin::parse_domain;
use praisani_store::Store;
use serde_json::json;

/// What the configuration says about this server's names and the ports
/// mail programs are told (`[autoconfig]`, as in the auto-configuration
/// documents).
pub(crate) fn server_names(config: &Config) -> ServerNames {
    let ac = &config.autoconfig;
    ServerNames {
        hostname: config.hostname.clone(),
        client_host: config.client_host(),
        smarthost: config.delivery.smarthost.clone(),
        submission_port: ac.submission_port,
        submissions_port: ac.submissions_port,
        pop3_port: ac.pop3_port,
        pop3s_port: ac.pop3s_port,
        https_port: ac.https_port,
    }
}

/// Runs `dns DOMAIN`: every record a hosted domain needs, pointing at this
/// server's `hostname`.
pub async fn dns_cmd(store: &dyn Store, config: &Config, d: &str, json: bool) -> Result<()> {
    let d = parse_domain(d)?;
    let keys = KeyStore::new(&config.data_dir);
    let all = dns_records::for_hosted_domain(store, &d, &server_names(config), &keys).await?;
    for w in &all.warnings {
        eprintln!("praisani: warning: {w}");
    }
    print(
        json,
        json!(
            all.records
                .iter()
                .map(|r| json!({"name": r.name, "type": r.rtype(), "value": r.data.value()}))
                .collect::<Vec<_>>()
        ),
        || all.zone_text(),
    );
    Ok(())
}
