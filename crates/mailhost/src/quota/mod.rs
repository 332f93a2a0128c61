//! Quota warnings: when a delivery (or a refusal for a full mailbox) may
//! have moved a mailbox across a `[quota] warn` threshold, the store
//! decides inside its commit whether it did, and the warning written by
//! [`warning`] goes to the mailbox and to its alternate address.

pub mod warning;

use crate::office::PostOffice;
use crate::reports::{self, ReportError, set_downgrade};
use chrono::Utc;
use praisani_store::{AccountId, NoticeWriter, Usage};
use std::sync::Arc;
use warning::{QuotaWarning, quota_warning};

/// Whether a delivery leaves something for the warning logic to do: a
/// threshold above the one announced, or usage below it (re-arm).
pub fn warning_due(level: u8, u: &Usage) -> bool {
    level > u.warned || u.percent() < u64::from(u.warned)
}

/// Starts [`quota_warnings`] in the background when any of `usage` has
/// something for it to do; returns at once.
pub fn warn_if_due(office: &Arc<PostOffice>, usage: Vec<(AccountId, Usage)>) {
    let warn = &office.settings.quota_warn;
    if usage.iter().any(|(_, u)| warning_due(u.level(warn), u)) {
        tokio::spawn(quota_warnings(office.clone(), usage));
    }
}

/// Quota warnings after a delivery (or a refusal for a full mailbox): for
/// each mailbox whose warning level may have changed, the store decides,
/// with the usage inside its commit, whether a threshold was crossed; the
/// warning then goes to the mailbox (whatever its quota) and to its
/// alternate address.
pub async fn quota_warnings(office: Arc<PostOffice>, usage: Vec<(AccountId, Usage)>) {
    for (account, u) in usage {
        let level = u.level(&office.settings.quota_warn);
        if !warning_due(level, &u) {
            continue;
        }
        if let Err(e) = quota_warning_for(&office, account).await {
            tracing::error!(%account, "quota warning failed: {e}");
        }
    }
}

async fn quota_warning_for(
    office: &Arc<PostOffice>,
    account: AccountId,
) -> Result<(), ReportError> {
    let store = &*office.store;
    let Some(acc) = store.account_by_id(account).await? else {
        return Ok(());
    };
    let hostname = office.settings.hostname.clone();
    let to = format!("{}@{}", acc.address.local(), acc.address.domain().unicode());
    let from = format!("postmaster@{}", acc.address.domain().ascii());
    let lang = acc.lang;
    // The text is written inside the store's commit, from the usage there;
    // a copy of it is kept for the alternate address.
    let written: Arc<std::sync::Mutex<Option<Vec<u8>>>> = Default::default();
    let keep = written.clone();
    let writer: NoticeWriter = Box::new(move |u, level, spool| {
        let now = Utc::now();
        let message_id = format!("quota.{account}.{level}.{}@{hostname}", now.timestamp());
        let text = quota_warning(&QuotaWarning {
            to: &to,
            from: &from,
            hostname: &hostname,
            language: lang,
            level,
            percent: u.percent(),
            used_bytes: u.used_bytes,
            quota_bytes: u.quota_bytes,
            used_messages: u.used_messages,
            quota_messages: u.quota_messages,
            date: now.fixed_offset(),
            message_id: &message_id,
        });
        spool.write(b"Return-Path: <>\r\n")?;
        spool.write(&text)?;
        set_downgrade(spool, &text);
        *keep.lock().unwrap_or_else(|p| p.into_inner()) = Some(text);
        Ok(())
    });
    let delivered = store
        .quota_notice(
            account,
            &office.settings.quota_warn,
            Some((store.new_spool(), writer)),
        )
        .await?;
    if !delivered {
        return Ok(());
    }
    tracing::info!(account = %acc.address, "quota warning delivered");
    praisani_metrics::metrics().quota_warnings.inc();
    let text = written.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let (Some(alt), Some(text)) = (&acc.warn_to, text) {
        reports::deliver(office, alt, !alt.is_ascii(), &text).await?;
        tracing::info!(account = %acc.address, to = %alt, "quota warning copied");
    }
    Ok(())
}
