//! The admin commands, run against the same store as the server (safe while
//! it runs: the store serialises writers across processes).

use crate::cli::{AliasCmd, DkimAlgorithm, DkimCmd, DomainCmd, KeepArgs, QueueCmd, UserCmd};
use crate::config::{Config, parse_keep, parse_size};
use anyhow::{Context, Result, bail};
use praisani_delivery::dkim::{self, Algorithm, KeyStore};
use praisani_mailaddr::{Address, Domain};
use praisani_mailhost::passwords;
use praisani_store::{
    Account, Keep, NewAccount, QueueEntry, RcptState, Retention, Store, StoreError, Usage,
};
use serde_json::json;
use std::io::BufRead;

/// A failure of an admin command, with the exit status it deserves.
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

fn domain(s: &str) -> Result<Domain> {
    Domain::parse(s).map_err(|_| fail(format!("{s:?} is not a valid domain name")))
}

fn address(s: &str) -> Result<Address> {
    Address::parse(s).map_err(|_| fail(format!("{s:?} is not a valid mail address")))
}

fn print(json: bool, value: serde_json::Value, text: impl FnOnce() -> String) {
    if json {
        println!("{value}");
    } else {
        let t = text();
        if !t.is_empty() {
            println!("{t}");
        }
    }
}

/// Runs a `domain` subcommand.
pub async fn domain_cmd(store: &dyn Store, cmd: DomainCmd, json: bool) -> Result<()> {
    match cmd {
        DomainCmd::Add { domain: d } => {
            let d = domain(&d)?;
            store.domain_add(&d).await.map_err(store_err)?;
            print(
                json,
                json!({"added": d.unicode(), "ascii": d.ascii()}),
                || format!("domain {} added ({})", d.unicode(), d.ascii()),
            );
        }
        DomainCmd::Remove { domain: d, force } => {
            let d = domain(&d)?;
            store.domain_remove(&d, force).await.map_err(store_err)?;
            print(json, json!({"removed": d.unicode()}), || {
                format!("domain {d} removed")
            });
        }
        DomainCmd::Quota { domain: d, size } => {
            let d = domain(&d)?;
            let q = quota_size(&size)?;
            store.domain_set_quota(&d, q).await.map_err(store_err)?;
            print(
                json,
                json!({"domain": d.unicode(), "quota_bytes": q}),
                || format!("quota of {d}: {}", size_text(q)),
            );
        }
        DomainCmd::Retention { domain: d, keep } => {
            let d = domain(&d)?;
            let current = store
                .domain_list()
                .await
                .map_err(store_err)?
                .into_iter()
                .find(|i| i.domain == d)
                .ok_or_else(|| fail(format!("domain {d} is not hosted")))?;
            let r = keep_args(&keep, current.retention)?;
            store.domain_set_retention(&d, r).await.map_err(store_err)?;
            print(json, retention_json(r), || {
                format!("retention of {d}: {}", retention_text(r))
            });
        }
        DomainCmd::List => {
            let list = store.domain_list().await.map_err(store_err)?;
            let v: Vec<_> = list
                .iter()
                .map(|i| json!({"domain": i.domain.unicode(), "ascii": i.domain.ascii(), "accounts": i.accounts, "aliases": i.aliases, "used_bytes": i.used_bytes, "quota_bytes": i.quota_bytes, "retention": retention_json(i.retention)}))
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

fn read_password(from_stdin: bool) -> Result<(String, bool)> {
    if !from_stdin {
        let pw: String = (0..16)
            .map(|_| {
                const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
                ALPHABET[rand::random::<usize>() % ALPHABET.len()] as char
            })
            .collect();
        return Ok((pw, true));
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
    if pw.chars().any(|c| c.is_control()) {
        bail!(fail("the password contains control characters"));
    }
    Ok((pw, false))
}

fn account_json(a: &Account) -> serde_json::Value {
    json!({
        "address": a.address.to_string(),
        "ascii": a.address.canonical(),
        "quota_bytes": a.quota_bytes,
        "quota_messages": a.quota_messages,
        "used_bytes": a.used_bytes,
        "messages": a.used_messages,
        "percent": account_usage(a).percent(),
        "lang": a.lang,
        "warn_to": a.warn_to,
        "retention": retention_json(a.retention),
        "domain_retention": retention_json(a.domain_retention),
        "apop": a.apop_secret.is_some(),
    })
}

/// The account's usage in the terms quota arithmetic needs (the domain's
/// share is not shown per account).
fn account_usage(a: &Account) -> Usage {
    Usage {
        used_bytes: a.used_bytes,
        used_messages: a.used_messages,
        quota_bytes: a.quota_bytes,
        quota_messages: a.quota_messages,
        ..Usage::default()
    }
}

fn account_line(a: &Account) -> String {
    let count = match a.quota_messages {
        Some(q) => format!("{} / {q} message(s)", a.used_messages),
        None => format!("{} message(s)", a.used_messages),
    };
    let pct = match (a.quota_bytes, a.quota_messages) {
        (None, None) => String::new(),
        _ => format!(" ({}%)", account_usage(a).percent()),
    };
    format!(
        "{}\t{count}\t{} / {} octets{pct}",
        a.address,
        a.used_bytes,
        size_text(a.quota_bytes)
    )
}

fn size_text(q: Option<u64>) -> String {
    q.map(|q| q.to_string())
        .unwrap_or_else(|| "unlimited".into())
}

/// A quota size: "500M", "2G", … or "unlimited"/"none".
fn quota_size(s: &str) -> Result<Option<u64>> {
    match s.to_ascii_lowercase().as_str() {
        "unlimited" | "none" => Ok(None),
        _ => parse_size(s).map(Some).ok_or_else(|| {
            fail(format!(
                "invalid size {s:?} (examples: 500M, 2G, unlimited)"
            ))
        }),
    }
}

fn keep_arg(flag: &str, v: &Option<String>, current: Keep) -> Result<Keep> {
    match v {
        None => Ok(current),
        Some(t) => parse_keep(t).map_err(|e| fail(format!("--{flag}: {e}"))),
    }
}

/// The retention `keep` asks for, starting from `current`.
fn keep_args(keep: &KeepArgs, current: Retention) -> Result<Retention> {
    if keep.after_retrieval.is_none() && keep.max_age.is_none() {
        bail!(fail("give --after-retrieval and/or --max-age"));
    }
    Ok(Retention {
        after_retrieval: keep_arg(
            "after-retrieval",
            &keep.after_retrieval,
            current.after_retrieval,
        )?,
        max_age: keep_arg("max-age", &keep.max_age, current.max_age)?,
    })
}

fn keep_json(k: Keep) -> serde_json::Value {
    match k {
        Keep::Inherit => json!("inherit"),
        Keep::Forever => json!("never"),
        Keep::Days(d) => json!(d),
    }
}

fn retention_json(r: Retention) -> serde_json::Value {
    json!({"after_retrieval_days": keep_json(r.after_retrieval), "max_age_days": keep_json(r.max_age)})
}

fn retention_text(r: Retention) -> String {
    let text = |k: Keep, what: &str| match k {
        Keep::Inherit => format!("{what}: inherited"),
        Keep::Forever => format!("{what}: never deleted"),
        Keep::Days(0) if what == "after retrieval" => format!("{what}: deleted at QUIT"),
        Keep::Days(d) => format!("{what}: deleted after {d} days"),
    };
    format!(
        "{}; {}",
        text(r.after_retrieval, "after retrieval"),
        text(r.max_age, "after arrival")
    )
}

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
    let r = praisani_mailhost::retention::expire(store, now, config.retention.default_policy())
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

/// Runs a `user` subcommand.
pub async fn user_cmd(store: &dyn Store, cmd: UserCmd, json: bool) -> Result<()> {
    match cmd {
        UserCmd::Add {
            address: a,
            password_stdin,
            quota,
            messages,
            lang,
            apop,
        } => {
            let a = address(&a)?;
            let quota_bytes =
                match quota {
                    Some(q) => Some(parse_size(&q).ok_or_else(|| {
                        fail(format!("invalid --quota {q:?} (examples: 500M, 2G)"))
                    })?),
                    None => None,
                };
            let (pw, generated) = read_password(password_stdin)?;
            let secrets =
                passwords::secrets(&pw, apop).map_err(|e| anyhow::anyhow!("hashing: {e}"))?;
            store
                .account_add(NewAccount {
                    address: a.clone(),
                    password_hash: secrets.password_hash,
                    apop_secret: secrets.apop_secret,
                    scram: secrets.scram,
                    quota_bytes,
                })
                .await
                .map_err(store_err)?;
            if messages.is_some_and(|m| m > i64::MAX as u64) {
                bail!(fail("--messages is too large"));
            }
            if messages.is_some() {
                store
                    .account_set_quota(&a, quota_bytes, messages)
                    .await
                    .map_err(store_err)?;
            }
            if lang != praisani_message::Language::En {
                store
                    .account_set_notices(&a, lang.tag(), None)
                    .await
                    .map_err(store_err)?;
            }
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
            let a = address(&a)?;
            let q = quota_size(&size)?;
            let current = store
                .account_get(&a)
                .await
                .map_err(store_err)?
                .ok_or_else(|| fail(format!("account {a} does not exist")))?;
            // Without --messages the message limit stays as it is.
            let messages = messages.or(current.quota_messages);
            if messages.is_some_and(|m| m > i64::MAX as u64) {
                bail!(fail("--messages is too large"));
            }
            store
                .account_set_quota(&a, q, messages)
                .await
                .map_err(store_err)?;
            print(
                json,
                json!({"address": a.to_string(), "quota_bytes": q, "quota_messages": messages}),
                || match messages {
                    Some(m) => format!("quota of {a}: {} octets, {m} messages", size_text(q)),
                    None => format!("quota of {a}: {} octets", size_text(q)),
                },
            );
        }
        UserCmd::Set {
            address: a,
            lang,
            warn_to,
        } => {
            let a = address(&a)?;
            let acc = store
                .account_get(&a)
                .await
                .map_err(store_err)?
                .ok_or_else(|| fail(format!("account {a} does not exist")))?;
            let lang = lang.map(|l| l.tag().to_string()).unwrap_or(acc.lang);
            let warn_to = match warn_to.as_deref() {
                None => acc.warn_to,
                Some("none") | Some("") => None,
                Some(w) => Some(address(w)?.to_string()),
            };
            store
                .account_set_notices(&a, &lang, warn_to.as_deref())
                .await
                .map_err(store_err)?;
            print(
                json,
                json!({"address": a.to_string(), "lang": lang, "warn_to": warn_to}),
                || {
                    format!(
                        "{a}: notices in {lang}, warnings also to {}",
                        warn_to.as_deref().unwrap_or("nobody else")
                    )
                },
            );
        }
        UserCmd::Retention { address: a, keep } => {
            let a = address(&a)?;
            let acc = store
                .account_get(&a)
                .await
                .map_err(store_err)?
                .ok_or_else(|| fail(format!("account {a} does not exist")))?;
            let r = keep_args(&keep, acc.retention)?;
            store
                .account_set_retention(&a, r)
                .await
                .map_err(store_err)?;
            print(json, retention_json(r), || {
                format!("retention of {a}: {}", retention_text(r))
            });
        }
        UserCmd::Remove { address: a } => {
            let a = address(&a)?;
            store.account_remove(&a).await.map_err(store_err)?;
            print(json, json!({"removed": a.to_string()}), || {
                format!("mailbox {a} removed")
            });
        }
        UserCmd::List { domain: d } => {
            let d = d.map(|d| domain(&d)).transpose()?;
            let list = store.account_list(d.as_ref()).await.map_err(store_err)?;
            print(
                json,
                json!(list.iter().map(account_json).collect::<Vec<_>>()),
                || list.iter().map(account_line).collect::<Vec<_>>().join("\n"),
            );
        }
        UserCmd::Passwd {
            address: a,
            password_stdin,
            apop,
            no_apop,
        } => {
            let a = address(&a)?;
            let existing = store
                .account_get(&a)
                .await
                .map_err(store_err)?
                .ok_or_else(|| fail(format!("account {a} does not exist")))?;
            let (pw, generated) = read_password(password_stdin)?;
            let keep_apop = !no_apop && (apop || existing.apop_secret.is_some());
            let secrets =
                passwords::secrets(&pw, keep_apop).map_err(|e| anyhow::anyhow!("hashing: {e}"))?;
            store
                .account_set_password(&a, &secrets)
                .await
                .map_err(store_err)?;
            let shown = generated.then(|| pw.clone());
            print(
                json,
                json!({"changed": a.to_string(), "password": shown, "apop": keep_apop}),
                || match &shown {
                    Some(p) => format!("password of {a} changed\npassword: {p}"),
                    None => format!("password of {a} changed"),
                },
            );
        }
        UserCmd::Show { address: a } => {
            let a = address(&a)?;
            let acc = store
                .account_get(&a)
                .await
                .map_err(store_err)?
                .ok_or_else(|| fail(format!("account {a} does not exist")))?;
            print(json, account_json(&acc), || {
                let quota = size_text(acc.quota_bytes);
                let max = acc
                    .quota_messages
                    .map(|m| m.to_string())
                    .unwrap_or_else(|| "unlimited".into());
                format!(
                    "address:  {}\nascii:    {}\nmessages: {} (limit {max})\nused:     {} octets ({}%)\nquota:    {quota}\nlanguage: {}\nwarn to:  {}\nkeep:     {} (own); domain: {}\napop:     {}",
                    acc.address,
                    acc.address.canonical(),
                    acc.used_messages,
                    acc.used_bytes,
                    account_usage(&acc).percent(),
                    acc.lang,
                    acc.warn_to.as_deref().unwrap_or("-"),
                    retention_text(acc.retention),
                    retention_text(acc.domain_retention),
                    if acc.apop_secret.is_some() {
                        "enabled"
                    } else {
                        "disabled"
                    }
                )
            });
        }
    }
    Ok(())
}

/// Runs an `alias` subcommand.
pub async fn alias_cmd(store: &dyn Store, cmd: AliasCmd, json: bool) -> Result<()> {
    match cmd {
        AliasCmd::Add { alias, targets } => {
            let a = address(&alias)?;
            let t = targets
                .iter()
                .map(|t| address(t))
                .collect::<Result<Vec<_>>>()?;
            if t.contains(&a) {
                bail!(fail("an alias cannot point at itself"));
            }
            store.alias_add(&a, &t).await.map_err(store_err)?;
            print(
                json,
                json!({"added": a.to_string(), "targets": t.iter().map(|x| x.to_string()).collect::<Vec<_>>()}),
                || {
                    format!(
                        "alias {a} -> {}",
                        t.iter()
                            .map(|x| x.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
            );
        }
        AliasCmd::Remove { alias } => {
            let a = address(&alias)?;
            store.alias_remove(&a).await.map_err(store_err)?;
            print(json, json!({"removed": a.to_string()}), || {
                format!("alias {a} removed")
            });
        }
        AliasCmd::List { domain: d } => {
            let d = d.map(|d| domain(&d)).transpose()?;
            let list = store.alias_list(d.as_ref()).await.map_err(store_err)?;
            let v: Vec<_> = list
                .iter()
                .map(|a| json!({"alias": a.address.to_string(), "targets": a.targets.iter().map(|x| x.to_string()).collect::<Vec<_>>()}))
                .collect();
            print(json, json!(v), || {
                list.iter()
                    .map(|a| {
                        format!(
                            "{} -> {}",
                            a.address,
                            a.targets
                                .iter()
                                .map(|x| x.to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
    }
    Ok(())
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn time_text(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| t.to_string())
}

fn queue_json(e: &QueueEntry) -> serde_json::Value {
    json!({
        "id": e.id,
        "sender": e.sender,
        "size": e.size,
        "created": e.created,
        "envid": e.envid,
        "ret": e.ret.map(|r| r.as_param()),
        "smtputf8": e.smtputf8,
        "recipients": e.recipients.iter().map(|r| json!({
            "address": r.rcpt.address,
            "state": r.state.to_string(),
            "attempts": r.attempts,
            "next_attempt": r.next_attempt,
            "last_error": r.last_error,
        })).collect::<Vec<_>>(),
    })
}

fn queue_text(e: &QueueEntry) -> String {
    let sender = if e.sender.is_empty() {
        "<>"
    } else {
        e.sender.as_str()
    };
    let mut out = format!(
        "{}  {} octets  from {}  queued {}",
        e.id,
        e.size,
        sender,
        time_text(e.created)
    );
    for r in &e.recipients {
        out.push_str(&format!("\n    {}  {}", r.rcpt.address, r.state));
        if r.state == RcptState::Pending {
            out.push_str(&format!(
                ", attempt {} at {}",
                r.attempts + 1,
                time_text(r.next_attempt)
            ));
        }
        if let Some(err) = &r.last_error {
            out.push_str(&format!("\n      last error: {err}"));
        }
    }
    out
}

/// Runs a `queue` subcommand.
pub async fn queue_cmd(store: &dyn Store, cmd: QueueCmd, json: bool) -> Result<()> {
    match cmd {
        QueueCmd::List => {
            let list = store.queue_list().await.map_err(store_err)?;
            print(
                json,
                json!(list.iter().map(queue_json).collect::<Vec<_>>()),
                || {
                    if list.is_empty() {
                        "the queue is empty".into()
                    } else {
                        list.iter().map(queue_text).collect::<Vec<_>>().join("\n")
                    }
                },
            );
        }
        QueueCmd::Show { id } => {
            let e = store
                .queue_get(id)
                .await
                .map_err(store_err)?
                .ok_or_else(|| fail(format!("queued message {id} does not exist")))?;
            print(json, queue_json(&e), || queue_text(&e));
        }
        QueueCmd::Retry { id } => {
            let n = store
                .queue_retry_now(Some(id), unix_now())
                .await
                .map_err(store_err)?;
            print(json, json!({"rescheduled": n}), || {
                format!("{n} recipient(s) of {id} due now")
            });
        }
        QueueCmd::Delete { id } => {
            store.queue_delete(id).await.map_err(store_err)?;
            print(json, json!({"deleted": id}), || {
                format!("queued message {id} deleted")
            });
        }
        QueueCmd::Flush => {
            let n = store
                .queue_retry_now(None, unix_now())
                .await
                .map_err(store_err)?;
            print(json, json!({"rescheduled": n}), || {
                format!("{n} recipient(s) due now")
            });
        }
    }
    Ok(())
}

/// A hosted domain named on the command line, or a clear refusal.
async fn hosted_domain(store: &dyn Store, s: &str) -> Result<Domain> {
    let d = domain(s)?;
    if !store.is_hosted(&d).await.map_err(store_err)? {
        bail!(fail(format!(
            "{} is not a hosted domain (add it first: praisani domain add {})",
            d.unicode(),
            d.unicode()
        )));
    }
    Ok(d)
}

/// `"…" "…"`: a TXT value as zone-file character-strings of at most 255 octets.
fn zone_txt(value: &str) -> String {
    dkim::txt_strings(value)
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs a `dkim` subcommand.
pub async fn dkim_cmd(store: &dyn Store, config: &Config, cmd: DkimCmd, json: bool) -> Result<()> {
    match cmd {
        DkimCmd::Generate {
            domain: d,
            algorithm,
            selector,
        } => {
            let d = hosted_domain(store, &d).await?;
            let alg = match algorithm {
                DkimAlgorithm::Ed25519 => Algorithm::Ed25519Sha256,
                DkimAlgorithm::Rsa => Algorithm::RsaSha256,
            };
            let keys = KeyStore::new(&config.data_dir);
            let signer = keys
                .create(d.ascii(), alg, selector.as_deref())
                .map_err(|e| fail(e.to_string()))?;
            let name = signer.dns_name().map_err(|e| fail(e.to_string()))?;
            let value = signer.key.dns_txt();
            let file = keys
                .dir()
                .join(format!("{}.{}.key", d.ascii(), signer.selector));
            print(
                json,
                json!({
                    "domain": d.unicode(),
                    "ascii": d.ascii(),
                    "selector": signer.selector,
                    "algorithm": alg.as_str(),
                    "file": file.display().to_string(),
                    "record": {"name": name, "type": "TXT", "value": value},
                }),
                || {
                    let idn = if d.is_idn() {
                        format!("; {} is {}\n", d.unicode(), d.ascii())
                    } else {
                        String::new()
                    };
                    format!(
                        "DKIM key ({alg}) for {} with selector {} written to {}\n\
                         Publish this DNS record; mail is signed with the newest key of each type:\n\
                         {idn}{name}. IN TXT {}",
                        d.unicode(),
                        signer.selector,
                        file.display(),
                        zone_txt(&value)
                    )
                },
            );
        }
    }
    Ok(())
}

/// One DNS record for `praisani dns`.
struct Record {
    /// Owner name, A-labels, no trailing dot.
    name: String,
    rtype: &'static str,
    /// The data in zone-file form (TXT: the quoted strings).
    zone: String,
    /// The data for JSON: TXT unquoted and whole, host names without the trailing dot.
    value: String,
    /// A comment line printed before the record.
    comment: Option<String>,
}

impl Record {
    fn new(name: String, rtype: &'static str, zone: String, value: String) -> Self {
        Record {
            name,
            rtype,
            zone,
            value,
            comment: None,
        }
    }

    fn txt(name: String, value: String) -> Self {
        Record::new(name, "TXT", zone_txt(&value), value)
    }

    fn note(mut self, comment: impl Into<String>) -> Self {
        self.comment = Some(comment.into());
        self
    }
}

/// Runs `dns DOMAIN`: every record a hosted domain needs, pointing at this
/// server's `hostname`.
pub async fn dns_cmd(store: &dyn Store, config: &Config, d: &str, json: bool) -> Result<()> {
    let d = hosted_domain(store, d).await?;
    let dom = d.ascii();
    let host = Domain::parse(&config.hostname)
        .map(|h| h.ascii().to_string())
        .unwrap_or_else(|_| config.hostname.to_ascii_lowercase());
    let mut warnings = Vec::new();
    if !host.contains('.') || host == "localhost" || host.ends_with(".localhost") {
        warnings.push(format!(
            "the server's hostname {host:?} is not a public DNS name: set `hostname` in the configuration first"
        ));
    }

    let mut records = vec![
        Record::new(dom.to_string(), "MX", format!("10 {host}."), format!("10 {host}")).note(
            format!("Mail for {dom} comes to this server; {host} needs A/AAAA records with its public addresses."),
        ),
    ];
    let spf_note = match &config.delivery.smarthost {
        None => "SPF: mail from this domain leaves only through its MX hosts.".to_string(),
        Some(smarthost) => format!(
            "SPF: mail leaves through the smarthost {smarthost}: add what its operator asks for (e.g. include:...) before -all."
        ),
    };
    let spf = Record::txt(dom.to_string(), "v=spf1 mx -all".into()).note(spf_note);
    records.push(spf);

    let keys = KeyStore::new(&config.data_dir)
        .keys(dom)
        .map_err(|e| fail(e.to_string()))?;
    let mut dkim_comment = Some(format!(
        "DKIM: the public key of each signing key ({} key(s) in {}).",
        keys.len(),
        KeyStore::new(&config.data_dir).dir().display()
    ));
    for k in &keys {
        let name = k.dns_name().map_err(|e| fail(e.to_string()))?;
        let mut r = Record::txt(name, k.key.dns_txt());
        if let Some(c) = dkim_comment.take() {
            r = r.note(c);
        }
        records.push(r);
    }
    let no_dkim = keys.is_empty().then(|| {
        format!(
            "; DKIM: no key yet; make one with: praisani dkim generate {dom} (then run praisani dns {dom} again)"
        )
    });

    records.push(
        Record::txt(
            format!("_dmarc.{dom}"),
            format!("v=DMARC1; p=quarantine; rua=mailto:postmaster@{dom}"),
        )
        .note("DMARC: if unsure, start with p=none and read the reports before tightening to quarantine."),
    );

    // What mail programs are told: `[autoconfig]` host and ports, the same
    // as in the auto-configuration documents.
    let client = config.client_host();
    let ac = &config.autoconfig;
    let srv = |service: &str, port: u16| {
        Record::new(
            format!("{service}._tcp.{dom}"),
            "SRV",
            format!("0 1 {port} {client}."),
            format!("0 1 {port} {client}"),
        )
    };
    records.push(
        srv("_submission", ac.submission_port)
            .note("Service records for mail programs (RFC 6186, RFC 8314): submission and POP3."),
    );
    records.push(srv("_submissions", ac.submissions_port));
    records.push(srv("_pop3", ac.pop3_port));
    records.push(srv("_pop3s", ac.pop3s_port));
    let none = |service: &str| {
        Record::new(
            format!("{service}._tcp.{dom}"),
            "SRV",
            "0 0 0 .".into(),
            "0 0 0 .".into(),
        )
    };
    records.push(none("_imap").note("IMAP is not offered (RFC 6186 §4: target \".\")."));
    records.push(none("_imaps"));
    for name in ["autoconfig", "autodiscover"] {
        let mut r = Record::new(
            format!("{name}.{dom}"),
            "CNAME",
            format!("{client}."),
            client.clone(),
        );
        if name == "autoconfig" {
            r = r.note(
                "Names mail programs ask for their settings (Thunderbird autoconfig, Outlook Autodiscover): \
                 this server's listen.http / listen.https; for HTTPS the certificate must cover them, \
                 else Outlook uses the SRV record below.",
            );
        }
        records.push(r);
    }
    records.push(srv("_autodiscover", ac.https_port).note(
        "Outlook's Autodiscover over HTTPS at this server's own name (one certificate for every domain).",
    ));

    for w in &warnings {
        eprintln!("praisani: warning: {w}");
    }
    print(
        json,
        json!(
            records
                .iter()
                .map(|r| json!({"name": r.name, "type": r.rtype, "value": r.value}))
                .collect::<Vec<_>>()
        ),
        || {
            let mut out = vec![format!("; DNS records for {dom}")];
            if d.is_idn() {
                out.push(format!("; {dom} is the A-label of {}", d.unicode()));
            }
            for w in &warnings {
                out.push(format!("; WARNING: {w}"));
            }
            let dmarc = format!("_dmarc.{dom}");
            for r in &records {
                if r.name == dmarc
                    && let Some(n) = &no_dkim
                {
                    out.push(n.clone());
                }
                if let Some(c) = &r.comment {
                    out.push(format!("; {c}"));
                }
                out.push(format!("{}. IN {} {}", r.name, r.rtype, r.zone));
            }
            out.join("\n")
        },
    );
    Ok(())
}
