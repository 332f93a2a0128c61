//! `praisani user …`.

use super::args::retention_change;
use super::show::{retention_json, retention_text, size_text};
use super::{fail, print};
use crate::cli::UserCmd;
use crate::config::Config;
use anyhow::{Context, Result, bail};
use praisani_mailhost::admin::accounts::{self, ApopChange, ImportedMailbox, NewMailbox};
use praisani_mailhost::admin::vacation::{self, VacationError, VacationRequest};
use praisani_mailhost::admin::{forwarding, holds};
use praisani_mailhost::admin::{parse_address, parse_domain, parse_quota, parse_size};
use praisani_mailhost::passwords;
use praisani_mailhost::passwords::imported::ImportedHash;
use praisani_store::{Account, Forward, Store, Vacation};
use serde_json::json;
use std::io::BufRead;

/// The password of `user add` / `user passwd`: the first line of standard
/// input, or a new random one (then `true`: it is shown once).
fn read_password(from_stdin: bool) -> Result<(String, bool)> {
    if !from_stdin {
        return Ok((passwords::generate(), true));
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    let pw = line.trim_end_matches(['\r', '\n']).to_string();
    if pw.is_empty() {
        bail!(fail("the password read from stdin is empty"));
    }
    Ok((pw, false))
}

/// The hash of `user add|passwd --hash-stdin`: the first line of standard
/// input, checked.
fn read_hash() -> Result<ImportedHash> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password hash from stdin")?;
    let text = line.trim_end_matches(['\r', '\n']);
    if text.is_empty() {
        bail!(fail("the password hash read from stdin is empty"));
    }
    ImportedHash::parse(text).map_err(|e| fail(e.to_string()))
}

pub(crate) fn account_json(a: &Account) -> serde_json::Value {
    json!({
        "address": a.address.to_string(),
        "ascii": a.address.canonical(),
        "quota_bytes": a.quota_bytes,
        "quota_messages": a.quota_messages,
        "used_bytes": a.used_bytes,
        "messages": a.used_messages,
        "percent": accounts::usage(a).percent(),
        "lang": a.lang.tag(),
        "warn_to": a.warn_to,
        "retention": retention_json(a.retention),
        "domain_retention": retention_json(a.domain_retention),
        "apop": a.apop_secret.is_some(),
        "held": a.held,
        "password_scheme": passwords::scheme(&a.password_hash),
        "password_upgrade_due": passwords::needs_upgrade(a),
    })
}

fn account_line(a: &Account) -> String {
    let count = match a.quota_messages {
        Some(q) => format!("{} / {q} message(s)", a.used_messages),
        None => format!("{} message(s)", a.used_messages),
    };
    let pct = match (a.quota_bytes, a.quota_messages) {
        (None, None) => String::new(),
        _ => format!(" ({}%)", accounts::usage(a).percent()),
    };
    let held = if a.held.is_some() { "\ton hold" } else { "" };
    format!(
        "{}\t{count}\t{} / {} octets{pct}{held}",
        a.address,
        a.used_bytes,
        size_text(a.quota_bytes)
    )
}

fn account_text(acc: &Account) -> String {
    let quota = size_text(acc.quota_bytes);
    let max = acc
        .quota_messages
        .map(|m| m.to_string())
        .unwrap_or_else(|| "unlimited".into());
    format!(
        "address:  {}\nascii:    {}\nmessages: {} (limit {max})\nused:     {} octets ({}%)\nquota:    {quota}\nlanguage: {}\nwarn to:  {}\nkeep:     {} (own); domain: {}\napop:     {}\nsending:  {}\npassword: {}{}",
        acc.address,
        acc.address.canonical(),
        acc.used_messages,
        acc.used_bytes,
        accounts::usage(acc).percent(),
        acc.lang,
        acc.warn_to.as_deref().unwrap_or("-"),
        retention_text(acc.retention),
        retention_text(acc.domain_retention),
        if acc.apop_secret.is_some() {
            "enabled"
        } else {
            "disabled"
        },
        match &acc.held {
            Some(r) => format!("on hold ({r})"),
            None => "allowed".into(),
        },
        passwords::scheme(&acc.password_hash),
        if passwords::needs_upgrade(acc) {
            " (re-hashed at the next login)"
        } else {
            ""
        }
    )
}

/// A vacation text file: UTF-8, refused unread when over the limit.
fn read_text_file(path: &std::path::Path, max: usize) -> Result<String> {
    let read = |e: std::io::Error| fail(format!("reading {}: {e}", path.display()));
    let len = std::fs::metadata(path).map_err(read)?.len();
    if len > max as u64 {
        bail!(fail(
            VacationError::TextTooLarge(usize::try_from(len).unwrap_or(usize::MAX), max)
                .to_string()
        ));
    }
    let bytes = std::fs::read(path).map_err(read)?;
    String::from_utf8(bytes).map_err(|_| fail(VacationError::NotUtf8.to_string()))
}

/// A mailbox's vacation reply as `user vacation --json` and the admin API show it.
pub(crate) fn vacation_json(
    a: &praisani_mailaddr::Address,
    v: Option<&Vacation>,
) -> serde_json::Value {
    match v {
        None => json!({"address": a.to_string(), "vacation": null}),
        Some(v) => json!({
            "address": a.to_string(),
            "vacation": {
                "subject": v.subject,
                "text": v.text,
                "from": vacation::first_day(v).map(|d| d.to_string()),
                "until": vacation::last_day(v).map(|d| d.to_string()),
                "interval_days": v.interval_days,
            }
        }),
    }
}

fn vacation_text(a: &praisani_mailaddr::Address, v: Option<&Vacation>) -> String {
    let Some(v) = v else {
        return format!("vacation reply of {a}: off");
    };
    let day = |d: Option<chrono::NaiveDate>| d.map_or("-".to_string(), |d| d.to_string());
    format!(
        "vacation reply of {a}: on\nsubject:  {}\nfrom:     {}\nuntil:    {}\ninterval: {} day(s)\ntext:\n{}",
        v.subject.as_deref().unwrap_or("Auto: <original subject>"),
        day(vacation::first_day(v)),
        day(vacation::last_day(v)),
        v.interval_days,
        v.text
    )
}

/// A mailbox's forwarding as `user forward --json` and the admin API show it.
pub(crate) fn forward_json(
    a: &praisani_mailaddr::Address,
    f: Option<&Forward>,
) -> serde_json::Value {
    match f {
        None => json!({"address": a.to_string(), "forward": null}),
        Some(f) => json!({
            "address": a.to_string(),
            "forward": {
                "targets": f.targets.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
                "keep": f.keep,
            }
        }),
    }
}

fn forward_text(a: &praisani_mailaddr::Address, f: Option<&Forward>) -> String {
    let Some(f) = f else {
        return format!("forwarding of {a}: off");
    };
    let targets = f
        .targets
        .iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let keep = if f.keep {
        "a copy stays in the mailbox"
    } else {
        "no copy stays in the mailbox"
    };
    format!("forwarding of {a}: to {targets}; {keep}")
}

/// Runs a `user` subcommand.
pub async fn user_cmd(store: &dyn Store, config: &Config, cmd: UserCmd, json: bool) -> Result<()> {
    let max_text = usize::try_from(config.limits.max_vacation_text).unwrap_or(usize::MAX);
    match cmd {
        UserCmd::Add {
            address: a,
            password_stdin,
            hash_stdin,
            quota,
            messages,
            lang,
            apop,
        } => {
            let a = parse_address(&a)?;
            let quota_bytes =
                match quota {
                    Some(q) => Some(parse_size(&q).ok_or_else(|| {
                        fail(format!("invalid --quota {q:?} (examples: 500M, 2G)"))
                    })?),
                    None => None,
                };
            if hash_stdin {
                let hash = read_hash()?;
                let scheme = hash.scheme();
                accounts::add_imported(
                    store,
                    &ImportedMailbox {
                        address: a.clone(),
                        hash,
                        quota_bytes,
                        quota_messages: messages,
                        lang,
                    },
                )
                .await?;
                print(
                    json,
                    json!({"added": a.to_string(), "scheme": scheme}),
                    || {
                        format!(
                            "mailbox {a} added (password hash {scheme}, re-hashed at first login)"
                        )
                    },
                );
                return Ok(());
            }
            let (pw, generated) = read_password(password_stdin)?;
            accounts::add(
                store,
                NewMailbox {
                    address: a.clone(),
                    password: &pw,
                    apop,
                    quota_bytes,
                    quota_messages: messages,
                    lang,
                },
            )
            .await?;
            let shown = generated.then(|| pw.clone());
            print(
                json,
                json!({"added": a.to_string(), "password": shown}),
                || match &shown {
                    Some(p) => format!("mailbox {a} added\npassword: {p}"),
                    None => format!("mailbox {a} added"),
                },
            );
        }
        UserCmd::Quota {
            address: a,
            size,
            messages,
        } => {
            let a = parse_address(&a)?;
            let q = accounts::set_quota(store, &a, parse_quota(&size)?, messages).await?;
            print(
                json,
                json!({"address": a.to_string(), "quota_bytes": q.bytes, "quota_messages": q.messages}),
                || match q.messages {
                    Some(m) => format!("quota of {a}: {} octets, {m} messages", size_text(q.bytes)),
                    None => format!("quota of {a}: {} octets", size_text(q.bytes)),
                },
            );
        }
        UserCmd::Set {
            address: a,
            lang,
            warn_to,
        } => {
            let a = parse_address(&a)?;
            let warn_to = match warn_to.as_deref() {
                None => None,
                Some("none") | Some("") => Some(None),
                Some(w) => Some(Some(parse_address(w)?)),
            };
            let n = accounts::set_notices(store, &a, lang, warn_to).await?;
            print(
                json,
                json!({"address": a.to_string(), "lang": n.lang.tag(), "warn_to": n.warn_to}),
                || {
                    format!(
                        "{a}: notices in {}, warnings also to {}",
                        n.lang,
                        n.warn_to.as_deref().unwrap_or("nobody else")
                    )
                },
            );
        }
        UserCmd::Retention { address: a, keep } => {
            let a = parse_address(&a)?;
            let r = accounts::set_retention(store, &a, retention_change(&keep)?).await?;
            print(json, retention_json(r), || {
                format!("retention of {a}: {}", retention_text(r))
            });
        }
        UserCmd::Vacation {
            address: a,
            subject,
            text,
            text_file,
            from,
            until,
            interval_days,
            off,
        } => {
            let a = parse_address(&a)?;
            if off {
                vacation::off(store, &a).await?;
                print(
                    json,
                    json!({"address": a.to_string(), "vacation": null}),
                    || format!("vacation reply of {a}: off"),
                );
                return Ok(());
            }
            let text = match (text, text_file) {
                (Some(t), _) => Some(t),
                (None, Some(f)) => Some(read_text_file(&f, max_text)?),
                (None, None) => None,
            };
            let Some(text) = text else {
                if subject.is_some() || from.is_some() || until.is_some() || interval_days.is_some()
                {
                    bail!(fail("give the reply's text: --text or --text-file"));
                }
                let v = vacation::show(store, &a).await?;
                print(json, vacation_json(&a, v.as_ref()), || {
                    vacation_text(&a, v.as_ref())
                });
                return Ok(());
            };
            let date = |d: Option<String>| d.map(|d| vacation::parse_date(&d)).transpose();
            let req = VacationRequest {
                subject,
                text,
                from: date(from)?,
                until: date(until)?,
                interval_days,
            };
            let v = vacation::set(store, &a, req, max_text).await?;
            print(json, vacation_json(&a, Some(&v)), || {
                vacation_text(&a, Some(&v))
            });
        }
        UserCmd::Forward {
            address: a,
            targets,
            keep: _,
            no_keep,
            off,
        } => {
            let a = parse_address(&a)?;
            if off {
                forwarding::off(store, &a).await?;
                print(json, forward_json(&a, None), || forward_text(&a, None));
                return Ok(());
            }
            if targets.is_empty() {
                if no_keep {
                    bail!(fail("give the target addresses"));
                }
                let f = forwarding::show(store, &a).await?;
                print(json, forward_json(&a, f.as_ref()), || {
                    forward_text(&a, f.as_ref())
                });
                return Ok(());
            }
            let targets = targets
                .iter()
                .map(|t| parse_address(t))
                .collect::<Result<Vec<_>, _>>()?;
            let f = forwarding::set(store, &a, targets, !no_keep).await?;
            print(json, forward_json(&a, Some(&f)), || {
                forward_text(&a, Some(&f))
            });
        }
        UserCmd::Remove { address: a } => {
            let a = parse_address(&a)?;
            accounts::remove(store, &a).await?;
            print(json, json!({"removed": a.to_string()}), || {
                format!("mailbox {a} removed")
            });
        }
        UserCmd::List { domain: d } => {
            let d = d.map(|d| parse_domain(&d)).transpose()?;
            let list = accounts::list(store, d.as_ref()).await?;
            print(
                json,
                json!(list.iter().map(account_json).collect::<Vec<_>>()),
                || list.iter().map(account_line).collect::<Vec<_>>().join("\n"),
            );
        }
        UserCmd::Passwd {
            address: a,
            password_stdin,
            hash_stdin,
            apop,
            no_apop,
        } => {
            let a = parse_address(&a)?;
            let existing = accounts::get(store, &a).await?;
            if hash_stdin {
                let hash = read_hash()?;
                accounts::set_password_hash(store, &existing, &hash).await?;
                let scheme = hash.scheme();
                print(
                    json,
                    json!({"changed": a.to_string(), "scheme": scheme, "apop": false}),
                    || format!("password of {a} changed (hash {scheme}, re-hashed at first login)"),
                );
                return Ok(());
            }
            let (pw, generated) = read_password(password_stdin)?;
            let change = if no_apop {
                ApopChange::Forbid
            } else if apop {
                ApopChange::Allow
            } else {
                ApopChange::Keep
            };
            let apop = accounts::set_password(store, &existing, &pw, change).await?;
            let shown = generated.then(|| pw.clone());
            print(
                json,
                json!({"changed": a.to_string(), "password": shown, "apop": apop}),
                || match &shown {
                    Some(p) => format!("password of {a} changed\npassword: {p}"),
                    None => format!("password of {a} changed"),
                },
            );
        }
        UserCmd::Suspend { address: a, reason } => {
            let a = parse_address(&a)?;
            let changed = holds::suspend(store, &a, &reason).await?;
            print(
                json,
                json!({"suspended": a.to_string(), "changed": changed}),
                || {
                    if changed {
                        format!("{a} on hold: submission refused, queued mail held")
                    } else {
                        format!("{a} was already on hold")
                    }
                },
            );
        }
        UserCmd::Release { address: a, delete } => {
            let a = parse_address(&a)?;
            let r = holds::release(store, &a, delete, super::unix_now()).await?;
            print(
                json,
                json!({"released": a.to_string(), "was_held": r.was_held, "recipients": r.recipients, "deleted": delete}),
                || {
                    let what = if delete { "deleted" } else { "due now" };
                    format!(
                        "{a} may send again{}; {} held recipient(s) {what}",
                        if r.was_held {
                            ""
                        } else {
                            " (it was not on hold)"
                        },
                        r.recipients
                    )
                },
            );
        }
        UserCmd::Show { address: a } => {
            let a = parse_address(&a)?;
            let acc = accounts::get(store, &a).await?;
            print(json, account_json(&acc), || account_text(&acc));
        }
    }
    Ok(())
}
