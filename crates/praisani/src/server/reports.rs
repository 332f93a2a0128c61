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
use praisani_store::{AccountId, MessageId, NoticeWriter, Outbound, OutboundRcpt, Usage};
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
    shared: &Arc<Shared>,
    to: &str,
    smtputf8: bool,
    message: &[u8],
) -> Result<(), String> {
    let usage = deliver(shared, to, smtputf8, message).await?;
    // Not checked against the quota, so it may cross a threshold.
    let warn = &shared.config.quota.warn;
    if usage.iter().any(|(_, u)| warning_due(u.level(warn), u)) {
        tokio::spawn(quota_warnings(shared.clone(), usage));
    }
    Ok(())
}

/// [`deliver_report`] without the quota warning check; returns the usage
/// of the local mailboxes it went to.
async fn deliver(
    shared: &Shared,
    to: &str,
    smtputf8: bool,
    message: &[u8],
) -> Result<Vec<(AccountId, Usage)>, String> {
    let store = &*shared.store;
    let mut spool = store.new_spool();
    spool
        .write(b"Return-Path: <>\r\n")
        .map_err(|e| e.to_string())?;
    spool.write(message).map_err(|e| e.to_string())?;
    set_downgrade(&mut spool, message);
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
            let accepted = store
                .accept(spool, &ids, None, false)
                .await
                .map_err(|e| e.to_string())?;
            return Ok(accepted.usage);
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
    Ok(Vec::new())
}

/// Quota warnings after a delivery (or a refusal for a full mailbox): for
/// each mailbox whose warning level may have changed, the store decides,
/// with the usage inside its commit, whether a threshold was crossed; the
/// warning then goes to the mailbox (whatever its quota) and to its
/// alternate address.
pub(crate) async fn quota_warnings(shared: Arc<Shared>, usage: Vec<(AccountId, Usage)>) {
    for (account, u) in usage {
        let level = u.level(&shared.config.quota.warn);
        if !warning_due(level, &u) {
            continue;
        }
        if let Err(e) = quota_warning_for(&shared, account).await {
            tracing::error!(account, "quota warning failed: {e}");
        }
    }
}

/// Whether a delivery leaves something for the warning logic to do: a
/// threshold above the one announced, or usage below it (re-arm).
pub(crate) fn warning_due(level: u8, u: &Usage) -> bool {
    level > u.warned || u.percent() < u64::from(u.warned)
}

async fn quota_warning_for(shared: &Arc<Shared>, account: AccountId) -> Result<(), String> {
    let store = &*shared.store;
    let Some(acc) = store
        .account_by_id(account)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(());
    };
    let hostname = shared.config.hostname.clone();
    let to = format!("{}@{}", acc.address.local(), acc.address.domain().unicode());
    let from = format!("postmaster@{}", acc.address.domain().ascii());
    let lang = language(&acc.lang);
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
            &shared.config.quota.warn,
            Some((store.new_spool(), writer)),
        )
        .await
        .map_err(|e| e.to_string())?;
    if !delivered {
        return Ok(());
    }
    tracing::info!(account = %acc.address, "quota warning delivered");
    let text = written.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let (Some(alt), Some(text)) = (&acc.warn_to, text) {
        deliver(shared, alt, !alt.is_ascii(), &text).await?;
        tracing::info!(account = %acc.address, to = %alt, "quota warning copied");
    }
    Ok(())
}

/// Keeps the RFC 6857 downgraded header of a message we write, for POP3
/// clients without UTF8 (a Thai address in To:, for example).
fn set_downgrade(spool: &mut praisani_store::Spool, message: &[u8]) {
    let mut header = praisani_mailhost::submission::HeaderCapture::default();
    let _ = header.push(b"Return-Path: <>\r\n");
    let _ = header.push(message);
    if let Some(d) = praisani_mailhost::downgrade::for_storage(header.header()) {
        spool.set_downgrade(d);
    }
}

/// The first `max` octets of a stored message (what a report returns).
pub(crate) async fn read_prefix(
    mut body: praisani_store::BodyStream,
    max: usize,
) -> Result<Vec<u8>, praisani_store::StoreError> {
    let mut out = Vec::new();
    while out.len() < max {
        match body.next_chunk().await? {
            Some(c) => out.extend_from_slice(&c),
            None => break,
        }
    }
    out.truncate(max);
    Ok(out)
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
    pub copy: Copy,
}

/// Where a stored copy of a message is.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Copy {
    /// In a mailbox.
    Message(AccountId, MessageId),
    /// In the outbound queue.
    Queued(praisani_store::QueueId),
}

/// Tells the sender that some recipients' mailboxes were full when the
/// message was accepted for the others (SMTP has one reply for all at the
/// end of DATA, so the refusal travels as a bounce: RFC 3464, 5.2.2).
pub(crate) async fn quota_bounce(shared: Arc<Shared>, b: QuotaBounce) -> Result<(), String> {
    if b.sender.is_empty() {
        return Ok(());
    }
    let store = &*shared.store;
    let body = match b.copy {
        Copy::Message(account, id) => store.open_message(account, id).await,
        Copy::Queued(id) => store.open_queued(id).await,
    };
    let original = match body {
        Ok(b) => read_prefix(b, MAX_ATTACH + 1).await,
        Err(e) => Err(e),
    }
    .map_err(|e| format!("reading the message to bounce: {e}"))?;
    if dsn::is_automatic(&original) {
        return Ok(());
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
    })
    .map_err(|e| format!("building the bounce: {e}"))?;
    deliver_report(&shared, &b.sender, b.smtputf8, &report).await?;
    tracing::info!(to = %b.sender, "bounce sent for full mailboxes");
    Ok(())
}
