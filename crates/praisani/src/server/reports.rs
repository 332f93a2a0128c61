//! Messages the server writes itself and delivers: delivery status
//! notifications (bounces) and quota warnings. They go to a local mailbox
//! when the address is ours, else out through the queue with the null
//! sender, so they can never bounce back and loop.

use super::Shared;
use chrono::{DateTime, Utc};
use praisani_delivery::dsn::{self, Action, DsnRequest, Language, RecipientStatus, Return};
use praisani_delivery::notice::{QuotaWarning, quota_warning};
use praisani_mailaddr::Address;
use praisani_mailhost::{Resolution, resolve};
use praisani_store::{AccountId, MessageId, Outbound, OutboundRcpt, Usage};
use std::sync::Arc;

/// Returned messages larger than this come back as headers only.
pub(crate) const MAX_ATTACH: usize = 256 * 1024;

/// The language of an account's notices; English for anyone else.
pub(crate) async fn language_of(shared: &Shared, address: &str) -> Language {
    let Ok(a) = Address::parse(address) else {
        return Language::En;
    };
    match shared.store.account_get(&a).await {
        Ok(Some(acc)) => language(&acc.lang),
        _ => Language::En,
    }
}

fn language(code: &str) -> Language {
    match code {
        "th" => Language::Th,
        "zh" => Language::Zh,
        _ => Language::En,
    }
}

/// Delivers `message` (without Return-Path) to `to`: into its mailboxes
/// when the address is ours (quota not checked: a report about mail must
/// not be lost to the quota), else queued with the null sender.
pub(crate) async fn deliver_report(
    shared: &Shared,
    to: &str,
    smtputf8: bool,
    message: &[u8],
) -> Result<(), String> {
    let store = &*shared.store;
    let mut spool = store.new_spool();
    spool
        .write(b"Return-Path: <>\r\n")
        .map_err(|e| e.to_string())?;
    spool.write(message).map_err(|e| e.to_string())?;
    let local = match Address::parse(to) {
        Ok(a) => match resolve(store, &a).await.map_err(|e| e.to_string())? {
            Resolution::Local { mailboxes, .. } => {
                Some(mailboxes.iter().map(|m| m.id).collect::<Vec<_>>())
            }
            _ => None,
        },
        Err(_) => None,
    };
    match local {
        Some(ids) if !ids.is_empty() => {
            store
                .accept(spool, &ids, None, false)
                .await
                .map_err(|e| e.to_string())?;
        }
        _ => {
            let domain = match Address::parse(to) {
                Ok(a) => a.domain().ascii().to_string(),
                Err(_) => to
                    .rsplit_once('@')
                    .map(|(_, d)| d.to_ascii_lowercase())
                    .unwrap_or_default(),
            };
            let out = Outbound {
                sender: String::new(),
                recipients: vec![OutboundRcpt {
                    address: to.to_string(),
                    domain,
                    orcpt: None,
                    notify: None,
                }],
                envid: None,
                ret: None,
                smtputf8: smtputf8 || !to.is_ascii(),
                eight_bit: !dsn::is_seven_bit(message),
            };
            store
                .accept(spool, &[], Some(out), false)
                .await
                .map_err(|e| e.to_string())?;
            shared.queue_wake.notify_one();
        }
    }
    Ok(())
}

/// Quota warnings after a delivery: for each mailbox whose warning level
/// changed, record the new level and, when it rose, deliver the warning
/// to the mailbox (whatever its quota) and to its alternate address.
pub(crate) async fn quota_warnings(shared: Arc<Shared>, usage: Vec<(AccountId, Usage)>) {
    for (account, u) in usage {
        let level = u.level(&shared.config.quota.warn);
        if !warning_due(level, &u) {
            continue;
        }
        if let Err(e) = quota_warning_for(&shared, account, level, &u).await {
            tracing::error!(account, "quota warning failed: {e}");
        }
    }
}

/// Whether a delivery leaves something for the warning logic to do: a
/// threshold above the one announced, or usage below it (re-arm).
pub(crate) fn warning_due(level: u8, u: &Usage) -> bool {
    level > u.warned || u.percent() < u64::from(u.warned)
}

async fn quota_warning_for(
    shared: &Shared,
    account: AccountId,
    level: u8,
    u: &Usage,
) -> Result<(), String> {
    let store = &*shared.store;
    if level <= u.warned {
        // A raised quota: usage is below what was announced; re-arm.
        store
            .quota_notice(account, level, u.percent(), None)
            .await
            .map_err(|e| e.to_string())?;
        return Ok(());
    }
    let Some(acc) = store
        .account_by_id(account)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(());
    };
    let hostname = &shared.config.hostname;
    let now = Utc::now();
    let to = format!("{}@{}", acc.address.local(), acc.address.domain().unicode());
    let from = format!("postmaster@{}", acc.address.domain().ascii());
    let message_id = format!("quota.{account}.{level}.{}@{hostname}", now.timestamp());
    let text = quota_warning(&QuotaWarning {
        to: &to,
        from: &from,
        hostname,
        language: language(&acc.lang),
        level,
        percent: u.percent(),
        used_bytes: u.used_bytes,
        quota_bytes: u.quota_bytes,
        used_messages: u.used_messages,
        quota_messages: u.quota_messages,
        date: now.fixed_offset(),
        message_id: &message_id,
    });
    let mut spool = store.new_spool();
    spool
        .write(b"Return-Path: <>\r\n")
        .and_then(|_| spool.write(&text))
        .map_err(|e| e.to_string())?;
    let delivered = store
        .quota_notice(account, level, u.percent(), Some(spool))
        .await
        .map_err(|e| e.to_string())?;
    if !delivered {
        // Another delivery announced this level first.
        return Ok(());
    }
    tracing::info!(account = %acc.address, level, "quota warning delivered");
    if let Some(alt) = &acc.warn_to {
        deliver_report(shared, alt, !alt.is_ascii() || !to.is_ascii(), &text).await?;
        tracing::info!(account = %acc.address, to = %alt, "quota warning copied");
    }
    Ok(())
}

/// What a refused-for-quota recipient's bounce needs from the transaction.
pub(crate) struct QuotaBounce {
    /// The envelope sender (empty for `<>`: no bounce then).
    pub sender: String,
    /// The recipients whose mailbox had no room, as given in RCPT TO.
    pub recipients: Vec<String>,
    /// The message needed SMTPUTF8.
    pub smtputf8: bool,
    /// RFC 3461 ENVID.
    pub envid: Option<String>,
    /// RFC 3461 RET=HDRS.
    pub headers_only: bool,
    /// When the message arrived.
    pub arrival: DateTime<Utc>,
    /// A stored copy of the message, to return with the report.
    pub copy: (AccountId, MessageId),
}

/// Tells the sender that some recipients' mailboxes were full when the
/// message was accepted for the others (SMTP has one reply for all at the
/// end of DATA, so the refusal travels as a bounce: RFC 3464, 5.2.2).
pub(crate) async fn quota_bounce(shared: Arc<Shared>, b: QuotaBounce) {
    if b.sender.is_empty() {
        return;
    }
    let store = &*shared.store;
    let original = match store.open_message(b.copy.0, b.copy.1).await {
        Ok(mut body) => {
            let mut out = Vec::new();
            while out.len() <= MAX_ATTACH {
                match body.next_chunk().await {
                    Ok(Some(c)) => out.extend_from_slice(&c),
                    Ok(None) => break,
                    Err(e) => {
                        tracing::error!("reading the message to bounce: {e}");
                        return;
                    }
                }
            }
            out.truncate(MAX_ATTACH + 1);
            out
        }
        Err(e) => {
            tracing::error!("reading the message to bounce: {e}");
            return;
        }
    };
    if dsn::is_automatic(&original) {
        return;
    }
    let hostname = &shared.config.hostname;
    let now = Utc::now().fixed_offset();
    let statuses: Vec<RecipientStatus> = b
        .recipients
        .iter()
        .map(|r| {
            let mut s = RecipientStatus::new(r, Action::Failed, "5.2.2");
            s.diagnostic = Some("552 5.2.2 mailbox full".into());
            s.last_attempt = Some(now);
            s
        })
        .collect();
    let message_id = format!("dsn.quota.{}@{hostname}", Utc::now().timestamp_micros());
    let from = format!("MAILER-DAEMON@{hostname}");
    let report = dsn::build(&DsnRequest {
        reporting_mta: hostname,
        dsn_from: &from,
        to: &b.sender,
        envelope_id: b.envid.as_deref(),
        arrival: b.arrival.fixed_offset(),
        recipients: &statuses,
        original: &original,
        ret: if b.headers_only {
            Return::Headers
        } else {
            Return::Full
        },
        smtputf8: b.smtputf8,
        language: language_of(&shared, &b.sender).await,
        message_id: &message_id,
        max_attach: MAX_ATTACH,
    });
    match report {
        Ok(r) => match deliver_report(&shared, &b.sender, b.smtputf8, &r).await {
            Ok(()) => tracing::info!(to = %b.sender, "bounce sent for full mailboxes"),
            Err(e) => tracing::error!("cannot send the bounce: {e}"),
        },
        Err(e) => tracing::error!("cannot build the bounce: {e}"),
    }
}
