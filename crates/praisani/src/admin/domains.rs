//! `praisani domain …`.

use super::args::retention_change;
use super::print;
use super::show::{retention_json, retention_text, size_text};
use crate::cli::{DomainCmd, RoleChange};
use anyhow::Result;
use praisani_mailhost::admin::limits::{self, LimitsChange};
use praisani_mailhost::admin::{
    aliases, domain_admins, domains, parse_address, parse_domain, parse_quota,
};
use praisani_store::{DomainContact, Store};
use serde_json::json;

/// Runs a `domain` subcommand.
pub async fn domain_cmd(store: &dyn Store, cmd: DomainCmd, json: bool) -> Result<()> {
    match cmd {
        DomainCmd::Add { domain: d } => {
            let d = parse_domain(&d)?;
            domains::add(store, &d).await?;
            print(
                json,
                json!({"added": d.unicode(), "ascii": d.ascii()}),
                || format!("domain {} added ({})", d.unicode(), d.ascii()),
            );
        }
        DomainCmd::Remove { domain: d, force } => {
            let d = parse_domain(&d)?;
            domains::remove(store, &d, force).await?;
            print(json, json!({"removed": d.unicode()}), || {
                format!("domain {d} removed")
            });
        }
        DomainCmd::Quota { domain: d, size } => {
            let d = parse_domain(&d)?;
            let q = parse_quota(&size)?;
            domains::set_quota(store, &d, q).await?;
            print(
                json,
                json!({"domain": d.unicode(), "quota_bytes": q}),
                || format!("quota of {d}: {}", size_text(q)),
            );
        }
        DomainCmd::Limits {
            domain: d,
            mailboxes,
            aliases,
            mailbox_quota,
            total_quota,
            clear,
        } => {
            let d = parse_domain(&d)?;
            let count = |v: &Option<String>, what: &str| -> Result<Option<Option<u64>>> {
                match v.as_deref() {
                    None => Ok(None),
                    Some(s) if s.eq_ignore_ascii_case("unlimited") => Ok(Some(None)),
                    Some(s) => s.parse::<u64>().map(|n| Some(Some(n))).map_err(|_| {
                        anyhow::anyhow!("--{what} takes a number or \"unlimited\", not {s:?}")
                    }),
                }
            };
            let size = |v: &Option<String>| -> Result<Option<Option<u64>>> {
                Ok(v.as_deref().map(parse_quota).transpose()?)
            };
            let change = if clear {
                LimitsChange {
                    mailboxes: Some(None),
                    aliases: Some(None),
                    mailbox_quota: Some(None),
                    total_quota: Some(None),
                }
            } else {
                LimitsChange {
                    mailboxes: count(&mailboxes, "mailboxes")?,
                    aliases: count(&aliases, "aliases")?,
                    mailbox_quota: size(&mailbox_quota)?,
                    total_quota: size(&total_quota)?,
                }
            };
            let l = if change.is_empty() {
                limits::get(store, &d).await?
            } else {
                limits::change(store, &d, change).await?
            };
            let n = |v: Option<u64>| v.map_or_else(|| "unlimited".to_string(), |v| v.to_string());
            print(
                json,
                json!({
                    "domain": d.unicode(),
                    "mailboxes": l.mailboxes,
                    "aliases": l.aliases,
                    "mailbox_quota_bytes": l.mailbox_quota,
                    "total_quota_bytes": l.total_quota,
                }),
                || {
                    format!(
                        "limits of {d}: mailboxes {}, aliases {}, quota per mailbox {}, total quota {}",
                        n(l.mailboxes),
                        n(l.aliases),
                        size_text(l.mailbox_quota),
                        size_text(l.total_quota)
                    )
                },
            );
        }
        DomainCmd::Retention { domain: d, keep } => {
            let d = parse_domain(&d)?;
            let r = domains::set_retention(store, &d, retention_change(&keep)?).await?;
            print(json, retention_json(r), || {
                format!("retention of {d}: {}", retention_text(r))
            });
        }
        DomainCmd::Catchall {
            domain: d,
            targets,
            off,
        } => {
            let d = parse_domain(&d)?;
            if off {
                aliases::remove_catch_all(store, &d).await?;
                print(
                    json,
                    json!({"domain": d.unicode(), "catchall": null}),
                    || format!("catch-all of {d} removed"),
                );
            } else if targets.is_empty() {
                let t = aliases::catch_all(store, &d).await?;
                let names: Option<Vec<String>> =
                    t.map(|t| t.iter().map(ToString::to_string).collect());
                print(
                    json,
                    json!({"domain": d.unicode(), "catchall": names}),
                    || match &names {
                        Some(n) => format!("catch-all of {d} -> {}", n.join(", ")),
                        None => format!("{d} has no catch-all"),
                    },
                );
            } else {
                let t = targets
                    .iter()
                    .map(|t| parse_address(t))
                    .collect::<Result<Vec<_>, _>>()?;
                aliases::set_catch_all(store, &d, &t).await?;
                let names: Vec<String> = t.iter().map(ToString::to_string).collect();
                print(
                    json,
                    json!({"domain": d.unicode(), "catchall": names}),
                    || format!("catch-all of {d} -> {}", names.join(", ")),
                );
            }
        }
        DomainCmd::Contact {
            domain: d,
            address,
            lang,
            off,
        } => {
            let d = parse_domain(&d)?;
            if off {
                domains::set_contact(store, &d, None).await?;
            } else if let Some(a) = address {
                let contact = DomainContact {
                    address: parse_address(&a)?,
                    lang,
                };
                domains::set_contact(store, &d, Some(contact)).await?;
            }
            let c = domains::contact(store, &d).await?;
            print(
                json,
                json!({"domain": d.unicode(), "contact": contact_json(c.as_ref())}),
                || match &c {
                    Some(c) => format!("contact of {d}: {} ({})", c.address, c.lang.tag()),
                    None => format!("{d} has no contact: hold notices go to the postmaster only"),
                },
            );
        }
        DomainCmd::Admin {
            domain: d,
            action,
            address,
        } => {
            let d = parse_domain(&d)?;
            if let (Some(action), Some(a)) = (action, address) {
                let a = parse_address(&a)?;
                match action {
                    RoleChange::Add => domain_admins::add(store, &d, &a).await?,
                    RoleChange::Remove => domain_admins::remove(store, &d, &a).await?,
                }
            }
            let admins = domain_admins::list(store, &d).await?;
            let names: Vec<String> = admins.iter().map(ToString::to_string).collect();
            print(
                json,
                json!({"domain": d.unicode(), "admins": names}),
                || match names.is_empty() {
                    true => format!("{d} has no domain administrators"),
                    false => format!("administrators of {d}: {}", names.join(", ")),
                },
            );
        }
        DomainCmd::List => {
            let list = domains::list(store).await?;
            let v: Vec<_> = list
                .iter()
                .map(|i| json!({"domain": i.domain.unicode(), "ascii": i.domain.ascii(), "accounts": i.accounts, "aliases": i.aliases, "used_bytes": i.used_bytes, "quota_bytes": i.quota_bytes, "retention": retention_json(i.retention), "contact": contact_json(i.contact.as_ref())}))
                .collect();
            print(json, json!(v), || {
                list.iter()
                    .map(|i| {
                        let alabel = if i.domain.is_idn() {
                            format!(" ({})", i.domain.ascii())
                        } else {
                            String::new()
                        };
                        format!(
                            "{}{alabel}\t{} mailbox(es)\t{} alias(es)\t{} / {}",
                            i.domain,
                            i.accounts,
                            i.aliases,
                            i.used_bytes,
                            size_text(i.quota_bytes)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
    }
    Ok(())
}

/// A contact as `--json` shows it.
pub(crate) fn contact_json(c: Option<&DomainContact>) -> serde_json::Value {
    match c {
        Some(c) => json!({"address": c.address.to_string(), "lang": c.lang.tag()}),
        None => serde_json::Value::Null,
    }
}
