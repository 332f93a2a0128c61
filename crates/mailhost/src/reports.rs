//! Messages the server writes itself and delivers: delivery status
//! notifications (bounces), quota warnings and vacation replies. They go to a local mailbox
//! when the address is ours, else out through the queue with the null
//! sender, so they can never bounce back and loop.

use crate::Resolution;
use crate::office::PostOffice;
use chrono::{DateTime, Utc};
use praisani_mailaddr::Address;
use praisani_message::Language;
use praisani_message::dsn::{self, Action, DsnRequest, RecipientStatus, Return};
use praisani_store::{AccountId, MessageId, Outbound, OutboundRcpt, SenderTls, StoreError, Usage};
use std::sync::Arc;

/// Why a message we write could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The store could not read or keep it.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The message a bounce returns could not be read.
    #[error("reading the message to bounce: {0}")]
    ReadOriginal(#[source] StoreError),
    /// The spool could not be written.
    #[error("spooling the report: {0}")]
    Spool(#[from] std::io::Error),
    /// The report could not be built.
    #[error("building the bounce: {0}")]
    Build(#[from] dsn::DsnError),
}

/// Returned messages larger than this come back as headers only.
pub const MAX_ATTACH: usize = 256 * 1024;

/// The language of an account's notices; English for anyone else.
pub async fn language_of(office: &PostOffice, address: &str) -> Language {
    let Ok(a) = Address::parse(address) else {
        return Language::En;
    };
    match office.store.account_get(&a).await {
        Ok(Some(acc)) => acc.lang,
        _ => Language::En,
    }
}

/// Delivers `message` (without Return-Path) to `to`: into its mailboxes
/// when the address is ours (quota not checked: a report about mail must
/// not be lost to the quota), else queued with the null sender.
pub async fn deliver_report(
    office: &Arc<PostOffice>,
    to: &str,
    smtputf8: bool,
    message: &[u8],
) -> Result<(), ReportError> {
    deliver_report_tls(office, to, smtputf8, message, SenderTls::Policy).await
}

/// [`deliver_report`] for a report that must travel as `tls` asks when it
/// is queued: a bounce of a REQUIRETLS message goes out with REQUIRETLS
/// too (RFC 8689, non-delivery).
pub async fn deliver_report_tls(
    office: &Arc<PostOffice>,
    to: &str,
    smtputf8: bool,
    message: &[u8],
    tls: SenderTls,
) -> Result<(), ReportError> {
    let usage = deliver_checked(office, "", to, smtputf8, message, false, tls)
        .await?
        .usage;
    // Not checked against the quota, so it may cross a threshold.
    crate::quota::warn_if_due(office, usage);
    Ok(())
}

/// [`deliver_report`] without the quota warning check; returns the usage
/// of the local mailboxes it went to.
pub(crate) async fn deliver(
    office: &PostOffice,
    to: &str,
    smtputf8: bool,
    message: &[u8],
) -> Result<Vec<(AccountId, Usage)>, ReportError> {
    Ok(
        deliver_checked(office, "", to, smtputf8, message, false, SenderTls::Policy)
            .await?
            .usage,
    )
}

/// Delivers `message` (without Return-Path) to `to` like
/// [`deliver_report`], but with `sender` as its envelope sender: for
/// reports that may be answered, and that the queue DKIM-signs with the
/// key of `sender`'s domain (DMARC aggregate reports).
pub async fn deliver_from(
    office: &Arc<PostOffice>,
    sender: &str,
    to: &str,
    message: &[u8],
) -> Result<(), ReportError> {
    let delivered =
        deliver_checked(office, sender, to, false, message, false, SenderTls::Policy).await?;
    crate::quota::warn_if_due(office, delivered.usage);
    Ok(())
}

/// Delivers a message we write like [`deliver_report`], except that a
/// local mailbox takes it only when it fits its quota, like other mail
/// (a vacation reply is no report about the recipient's own mail).
/// Returns the usage of the local mailboxes it went to.
pub(crate) async fn deliver_quota_checked(
    office: &PostOffice,
    to: &str,
    smtputf8: bool,
    message: &[u8],
) -> Result<Vec<(AccountId, Usage)>, ReportError> {
    let d = deliver_checked(office, "", to, smtputf8, message, true, SenderTls::Policy).await?;
    if !d.stored {
        tracing::info!(%to, "not delivered: the mailbox is full");
    }
    Ok(d.usage)
}

/// Where a report went.
struct Delivered {
    /// The local mailboxes that took it, with their usage after it.
    usage: Vec<(AccountId, Usage)>,
    /// Some copy was stored or queued.
    stored: bool,
}

/// Delivers a report like [`deliver`]; with `check_quota`, a local
/// mailbox takes it only when it fits there, like any other mail.
async fn deliver_checked(
    office: &PostOffice,
    sender: &str,
    to: &str,
    smtputf8: bool,
    message: &[u8],
    check_quota: bool,
    tls: SenderTls,
) -> Result<Delivered, ReportError> {
    let store = &*office.store;
    let mut spool = store.new_spool();
    spool.write(format!("Return-Path: <{sender}>\r\n").as_bytes())?;
    spool.write(message)?;
    set_downgrade(&mut spool, message);
    let local = match Address::parse(to) {
        Ok(a) => match office
            .settings
            .addressing
            .resolve_recipient(store, &a)
            .await?
        {
            Resolution::Local { mailboxes, .. } => {
                Some(mailboxes.iter().map(|m| m.id).collect::<Vec<_>>())
            }
            _ => None,
        },
        Err(_) => None,
    };
    match local {
        Some(ids) if !ids.is_empty() => {
            let accepted = store.accept(spool, &ids, Vec::new(), check_quota).await?;
            return Ok(Delivered {
                stored: !accepted.messages.is_empty(),
                usage: accepted.usage,
            });
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
                sender: sender.to_string(),
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
                account: None,
                tls,
                prefix: Vec::new(),
                forwarded: false,
            };
            store.accept(spool, &[], vec![out], false).await?;
            office.queue_wake.notify_one();
        }
    }
    Ok(Delivered {
        usage: Vec::new(),
        stored: true,
    })
}

/// Keeps the RFC 6857 downgraded header of a message we write, for POP3
/// clients without UTF8 (a Thai address in To:, for example).
pub(crate) fn set_downgrade(spool: &mut praisani_store::Spool, message: &[u8]) {
    let mut header = crate::submission::HeaderCapture::default();
    let _ = header.push(b"Return-Path: <>\r\n");
    let _ = header.push(message);
    if let Some(d) = crate::downgrade::for_storage(header.header()) {
        spool.set_downgrade(d);
    }
}

/// The first `max` octets of a stored message (what a report returns).
pub async fn read_prefix(
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
pub struct QuotaBounce {
    /// The envelope sender (empty for `<>`: no bounce then).
    pub sender: String,
    /// The sender logged in (SMTP AUTH), so the address is theirs. Any
    /// other sender may be forged and gets at most one bounce per
    /// `[quota] bounce_interval`.
    pub authenticated: bool,
    /// The recipients whose mailbox had no room, as given in RCPT TO.
    pub recipients: Vec<String>,
    /// The message needed SMTPUTF8.
    pub smtputf8: bool,
    /// RFC 3461 ENVID.
    pub envid: Option<String>,
    /// When the message arrived.
    pub arrival: DateTime<Utc>,
    /// A stored copy of the message, whose header the report returns.
    pub copy: Copy,
    /// The message came with REQUIRETLS: so must its bounce travel
    /// (RFC 8689, non-delivery).
    pub requiretls: bool,
}

/// Where a stored copy of a message is.
#[derive(Clone, Copy, Debug)]
pub enum Copy {
    /// In a mailbox.
    Message(AccountId, MessageId),
    /// In the outbound queue.
    Queued(praisani_store::QueueId),
}

/// What became of a bounce for full mailboxes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BounceOutcome {
    /// Stored in the sender's mailbox or queued for the sender's server.
    Sent,
    /// None is due: the null sender, or the message was itself automatic.
    NotDue,
    /// The sender did not log in and already got one within the interval.
    RateLimited,
    /// The sender is ours and their mailbox has no room for it.
    SenderFull,
}

/// Tells the sender that some recipients' mailboxes were full when the
/// message was accepted for the others (SMTP has one reply for all at the
/// end of DATA, so the refusal travels as a bounce: RFC 3464, 5.2.2).
///
/// The sender may be forged, so the bounce must not be worth forging
/// (backscatter): it returns the header only (RFC 3462
/// `text/rfc822-headers`) whatever RET= asked, goes to a sender that did
/// not log in at most once per `[quota] bounce_interval`, and is stored
/// into a local sender's mailbox only when it fits the quota.
pub async fn quota_bounce(
    office: &Arc<PostOffice>,
    b: QuotaBounce,
) -> Result<BounceOutcome, ReportError> {
    if b.sender.is_empty() {
        return Ok(BounceOutcome::NotDue);
    }
    let store = &*office.store;
    let body = match b.copy {
        Copy::Message(account, id) => store.open_message(account, id).await,
        Copy::Queued(id) => store.open_queued(id).await,
    };
    let original = match body {
        Ok(b) => read_prefix(b, MAX_ATTACH + 1).await,
        Err(e) => Err(e),
    }
    .map_err(ReportError::ReadOriginal)?;
    if dsn::is_automatic(&original) {
        return Ok(BounceOutcome::NotDue);
    }
    if !b.authenticated && !office.bounce_limit.allow(&b.sender) {
        tracing::info!(to = %b.sender, "no bounce for full mailboxes: one was sent to this sender within the interval");
        return Ok(BounceOutcome::RateLimited);
    }
    let hostname = &office.settings.hostname;
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
        ret: Return::Headers,
        smtputf8: b.smtputf8,
        language: language_of(office, &b.sender).await,
        message_id: &message_id,
        max_attach: MAX_ATTACH,
    })?;
    let tls = if b.requiretls {
        SenderTls::Required
    } else {
        SenderTls::Policy
    };
    let delivered = deliver_checked(office, "", &b.sender, b.smtputf8, &report, true, tls).await?;
    crate::quota::warn_if_due(office, delivered.usage);
    if !delivered.stored {
        tracing::info!(to = %b.sender, "no bounce for full mailboxes: the sender's own mailbox is full");
        return Ok(BounceOutcome::SenderFull);
    }
    tracing::info!(to = %b.sender, "bounce sent for full mailboxes");
    Ok(BounceOutcome::Sent)
}
