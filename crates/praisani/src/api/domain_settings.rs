//! A domain's settings: `/api/v1/domains/{domain}/quota`, `…/retention`,
//! `…/catchall`, `…/contact`, `…/dkim-keys` and `…/dns`. The answers are
//! what `praisani domain|dkim|dns … --json` prints for the same request.

use super::extract::{Caller, JsonBody, PathParam};
use super::problem::Problem;
use super::settings::RetentionBody;
use super::{Api, require};
use crate::admin::dkim::{key_json, new_key_json, record_json};
use crate::admin::dns::server_names;
use crate::admin::domains::contact_json;
use crate::admin::show::retention_json;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use praisani_delivery::admin::{dkim_keys, dns_records};
use praisani_delivery::dkim::{Algorithm, KeyStore};
use praisani_mailaddr::Domain;
use praisani_mailhost::access::{Action, TokenScope};
use praisani_mailhost::admin::{
    AdminError, aliases, domains, parse_address, parse_domain, parse_lang, parse_quota,
};
use praisani_message::Language;
use praisani_store::{DomainContact, DomainInfo};
use serde::Deserialize;
use serde_json::{Value, json};

/// The hosted domain's counts and settings, or
/// [`AdminError::NotHosted`].
async fn info(api: &Api, d: &Domain) -> Result<DomainInfo, Problem> {
    domains::list(api.store())
        .await?
        .into_iter()
        .find(|i| i.domain == *d)
        .ok_or_else(|| AdminError::NotHosted(d.clone()).into())
}

/// The body of `PUT /api/v1/domains/{domain}/quota`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QuotaBody {
    /// A size (`5G`) or `unlimited`.
    quota: String,
}

/// `PUT /api/v1/domains/{domain}/quota` (`domain quota`, server
/// administrators only): the limit of all its mailboxes together.
pub(crate) async fn set_quota(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(d): PathParam<String>,
    JsonBody(b): JsonBody<QuotaBody>,
) -> Result<Json<Value>, Problem> {
    let d = parse_domain(&d)?;
    require(&t, Action::SetDomainQuota(&d))?;
    let q = parse_quota(&b.quota)?;
    domains::set_quota(api.store(), &d, q).await?;
    Ok(Json(json!({"domain": d.unicode(), "quota_bytes": q})))
}

/// `GET /api/v1/domains/{domain}/retention`: what its mailboxes inherit.
pub(crate) async fn get_retention(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(d): PathParam<String>,
) -> Result<Json<Value>, Problem> {
    let d = parse_domain(&d)?;
    require(&t, Action::ReadDomain(&d))?;
    let i = info(&api, &d).await?;
    Ok(Json(
        json!({"domain": d.unicode(), "retention": retention_json(i.retention)}),
    ))
}

/// `PUT /api/v1/domains/{domain}/retention` (`domain retention`).
pub(crate) async fn set_retention(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(d): PathParam<String>,
    JsonBody(b): JsonBody<RetentionBody>,
) -> Result<Json<Value>, Problem> {
    let d = parse_domain(&d)?;
    require(&t, Action::ManageDomain(&d))?;
    let r = domains::set_retention(api.store(), &d, b.change()?).await?;
    Ok(Json(
        json!({"domain": d.unicode(), "retention": retention_json(r)}),
    ))
}

fn catch_all_json(d: &Domain, targets: Option<&[praisani_mailaddr::Address]>) -> Value {
    let names: Option<Vec<String>> = targets.map(|t| t.iter().map(ToString::to_string).collect());
    json!({"domain": d.unicode(), "catchall": names})
}

/// `GET /api/v1/domains/{domain}/catchall`.
pub(crate) async fn get_catch_all(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(d): PathParam<String>,
) -> Result<Json<Value>, Problem> {
    let d = parse_domain(&d)?;
    require(&t, Action::ReadDomain(&d))?;
    let targets = aliases::catch_all(api.store(), &d).await?;
    Ok(Json(catch_all_json(&d, targets.as_deref())))
}

/// The body of `PUT /api/v1/domains/{domain}/catchall`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CatchAllBody {
    targets: Vec<String>,
}

/// `PUT /api/v1/domains/{domain}/catchall` (`domain catchall DOMAIN
/// TARGET…`): mail for addresses without a mailbox or alias goes there.
pub(crate) async fn set_catch_all(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(d): PathParam<String>,
    JsonBody(b): JsonBody<CatchAllBody>,
) -> Result<Json<Value>, Problem> {
    let d = parse_domain(&d)?;
    require(&t, Action::ManageDomain(&d))?;
    let targets = b
        .targets
        .iter()
        .map(|t| parse_address(t))
        .collect::<Result<Vec<_>, _>>()?;
    aliases::set_catch_all(api.store(), &d, &targets).await?;
    Ok(Json(catch_all_json(&d, Some(&targets))))
}

/// `DELETE /api/v1/domains/{domain}/catchall` (`domain catchall --off`).
pub(crate) async fn remove_catch_all(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(d): PathParam<String>,
) -> Result<Json<Value>, Problem> {
    let d = parse_domain(&d)?;
    require(&t, Action::ManageDomain(&d))?;
    aliases::remove_catch_all(api.store(), &d).await?;
    Ok(Json(catch_all_json(&d, None)))
}

async fn contact_answer(api: &Api, d: &Domain) -> Result<Json<Value>, Problem> {
    let c = domains::contact(api.store(), d).await?;
    Ok(Json(
        json!({"domain": d.unicode(), "contact": contact_json(c.as_ref())}),
    ))
}

/// `GET /api/v1/domains/{domain}/contact`: who besides the postmaster
/// hears about its accounts.
pub(crate) async fn get_contact(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(d): PathParam<String>,
) -> Result<Json<Value>, Problem> {
    let d = parse_domain(&d)?;
    require(&t, Action::ReadDomain(&d))?;
    contact_answer(&api, &d).await
}

/// The body of `PUT /api/v1/domains/{domain}/contact`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ContactBody {
    /// The contact's address (may be outside this server).
    address: String,
    /// The language of its notices (default `en`).
    lang: Option<String>,
}

/// `PUT /api/v1/domains/{domain}/contact` (`domain contact DOMAIN ADDRESS
/// --lang`).
pub(crate) async fn set_contact(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(d): PathParam<String>,
    JsonBody(b): JsonBody<ContactBody>,
) -> Result<Json<Value>, Problem> {
    let d = parse_domain(&d)?;
    require(&t, Action::ManageDomain(&d))?;
    let contact = DomainContact {
        address: parse_address(&b.address)?,
        lang: b
            .lang
            .as_deref()
            .map(parse_lang)
            .transpose()?
            .unwrap_or(Language::En),
    };
    domains::set_contact(api.store(), &d, Some(contact)).await?;
    contact_answer(&api, &d).await
}

/// `DELETE /api/v1/domains/{domain}/contact` (`domain contact --off`).
pub(crate) async fn remove_contact(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(d): PathParam<String>,
) -> Result<Json<Value>, Problem> {
    let d = parse_domain(&d)?;
    require(&t, Action::ManageDomain(&d))?;
    domains::set_contact(api.store(), &d, None).await?;
    contact_answer(&api, &d).await
}

/// `GET /api/v1/domains/{domain}/dkim-keys` (`dkim list`): newest first.
pub(crate) async fn list_keys(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(d): PathParam<String>,
) -> Result<Json<Value>, Problem> {
    let d = parse_domain(&d)?;
    require(&t, Action::ReadDomain(&d))?;
    let keys = KeyStore::new(&api.shared.config.data_dir);
    let list = dkim_keys::list(api.store(), &keys, &d).await?;
    let mut out = json!({"items": list.iter().map(key_json).collect::<Vec<_>>()});
    hide_server_paths(&t.scope, &keys, &mut out);
    Ok(Json(out))
}

/// The body of `POST /api/v1/domains/{domain}/dkim-keys`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewKeyBody {
    /// `rsa` (default) or `ed25519`.
    algorithm: Option<String>,
    /// One DNS label (default `praisani<YYYYMM>`).
    selector: Option<String>,
}

/// `POST /api/v1/domains/{domain}/dkim-keys` (`dkim generate`): a new
/// signing key and the DNS record to publish.
pub(crate) async fn generate_key(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(d): PathParam<String>,
    JsonBody(b): JsonBody<NewKeyBody>,
) -> Result<(StatusCode, Json<Value>), Problem> {
    let d = parse_domain(&d)?;
    require(&t, Action::ManageDomain(&d))?;
    let alg = match b.algorithm.as_deref().unwrap_or("rsa") {
        "rsa" => Algorithm::RsaSha256,
        "ed25519" => Algorithm::Ed25519Sha256,
        other => {
            return Err(Problem::bad_request(format!(
                "unknown algorithm {other:?} (rsa, ed25519)"
            )));
        }
    };
    let keys = KeyStore::new(&api.shared.config.data_dir);
    let key = dkim_keys::generate(api.store(), &keys, &d, alg, b.selector.as_deref()).await?;
    let mut out = new_key_json(&d, &key);
    hide_server_paths(&t.scope, &keys, &mut out);
    Ok((StatusCode::CREATED, Json(out)))
}

/// `GET /api/v1/domains/{domain}/dns` (`dns DOMAIN`): the records the
/// domain needs, as JSON and as zone-file text.
pub(crate) async fn dns(
    Caller(t): Caller,
    State(api): State<Api>,
    PathParam(d): PathParam<String>,
) -> Result<Json<Value>, Problem> {
    let d = parse_domain(&d)?;
    require(&t, Action::ReadDomain(&d))?;
    let config = &api.shared.config;
    let keys = KeyStore::new(&config.data_dir);
    let all = dns_records::for_hosted_domain(api.store(), &d, &server_names(config), &keys).await?;
    let mut out = json!({
        "domain": d.unicode(),
        "ascii": d.ascii(),
        "records": all.records.iter().map(record_json).collect::<Vec<_>>(),
        "warnings": all.warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "zone": all.zone_text(),
    });
    hide_server_paths(&t.scope, &keys, &mut out);
    Ok(Json(out))
}

/// What domain administrators and users read instead of the server's
/// DKIM key directory.
const KEY_DIR_PLACEHOLDER: &str = "the server's DKIM key directory";

/// The server's file layout is the operator's business: for anyone but
/// the server administrator, the key files (`file`) are left out and the
/// key directory in notes and zone comments is named, not shown.
fn hide_server_paths(scope: &TokenScope, keys: &KeyStore, v: &mut Value) {
    if matches!(scope, TokenScope::Admin) {
        return;
    }
    let dir = keys.dir().display().to_string();
    redact(v, &dir);
}

fn redact(v: &mut Value, dir: &str) {
    match v {
        Value::Object(map) => {
            map.remove("file");
            map.values_mut().for_each(|v| redact(v, dir));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact(v, dir)),
        Value::String(s) if !dir.is_empty() && s.contains(dir) => {
            *s = s.replace(dir, KEY_DIR_PLACEHOLDER);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_server_admin_sees_key_paths() {
        let keys = KeyStore::new(std::path::Path::new("/srv/praisani"));
        let dir = keys.dir().display().to_string();
        let original = json!({
            "items": [{"selector": "s1", "file": format!("{dir}/a.key")}],
            "zone": format!("; DKIM: 1 key(s) in {dir}.\n"),
        });
        let mut admin = original.clone();
        hide_server_paths(&TokenScope::Admin, &keys, &mut admin);
        assert_eq!(admin, original);
        let mut other = original.clone();
        let scope = TokenScope::Domains(vec![Domain::parse("a.test").unwrap()]);
        hide_server_paths(&scope, &keys, &mut other);
        assert_eq!(other["items"][0].get("file"), None);
        assert_eq!(other["items"][0]["selector"], "s1");
        let zone = other["zone"].as_str().unwrap();
        assert!(!zone.contains("/srv/praisani"), "{zone}");
        assert!(zone.contains(KEY_DIR_PLACEHOLDER), "{zone}");
    }
}
