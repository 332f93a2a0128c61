//! Delay notices and bounces: which recipients the sender hears about
//! (RFC 3461 NOTIFY), with which status, and the delivery status
//! notification (RFC 3464, written by [`praisani_message::dsn`]) handed to
//! the post office's report delivery.

use super::plan::Outcome;
use super::{Runner, now};
use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use praisani_mailhost::reports::{self, MAX_ATTACH};
use praisani_message::dsn::{
    self, Action, DsnRequest, Notify, RecipientStatus, Report, Return, Status,
};
use praisani_store::{AttemptResult, QueueEntry, QueueRcptId, QueuedRcpt, SenderTls};

/// One recipient's line in a delivery status notification.
pub(super) struct Notice {
    rcpt: QueuedRcpt,
    action: Action,
    status: String,
    diagnostic: Option<String>,
    mta: Option<String>,
}

/// The notices a message's results call for at `now`, and the recipients
/// whose delay notice is among them (recorded so it is sent once).
pub(super) fn notices(
    entry: &QueueEntry,
    results: &[Outcome],
    delay_after: i64,
    now: i64,
) -> (Vec<Notice>, Vec<QueueRcptId>) {
    let mut notices = Vec::new();
    let mut delayed = Vec::new();
    for (r, res, mta, status) in results {
        let notify = r.rcpt.notify;
        let notice = |action, status: String, diagnostic: Option<String>| Notice {
            rcpt: r.clone(),
            action,
            status,
            diagnostic,
            mta: mta.clone(),
        };
        match res {
            AttemptResult::Failed { error } if Notify::asks(notify, Report::Failure) => {
                notices.push(notice(
                    Action::Failed,
                    status.permanent().to_string(),
                    Some(error.clone()),
                ));
            }
            AttemptResult::Delivered if Notify::asks(notify, Report::Success) => {
                notices.push(notice(
                    Action::Delivered,
                    Status::DELIVERED.to_string(),
                    None,
                ));
            }
            AttemptResult::Retry { error, .. }
                if !r.delay_notified
                    && now - entry.created >= delay_after
                    && Notify::asks(notify, Report::Delay) =>
            {
                let status = status.temporary().to_string();
                notices.push(notice(Action::Delayed, status, Some(error.clone())));
                delayed.push(r.id);
            }
            _ => {}
        }
    }
    (notices, delayed)
}

impl Runner {
    /// Sends a delivery status notification for `notices` to the sender:
    /// never to the null sender, never for a message that is itself
    /// automatic (RFC 3834), so bounces cannot loop.
    pub(super) async fn notify(&self, entry: &QueueEntry, notices: &[Notice]) {
        if entry.sender.is_empty() || notices.is_empty() {
            return;
        }
        let body = self.office.store.open_queued(entry.id).await;
        let original = match body {
            Ok(b) => reports::read_prefix(b, MAX_ATTACH + 1).await,
            Err(e) => Err(e),
        };
        let original = match original {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(
                    queue = %entry.id,
                    "cannot read the message to bounce it: {e}"
                );
                return;
            }
        };
        if dsn::is_automatic(&original) {
            tracing::info!(queue = %entry.id, "no bounce for an automatic message");
            return;
        }
        let last = Utc::now().fixed_offset();
        let retry_until = Utc
            .timestamp_opt(entry.created + self.settings.max_age.as_secs() as i64, 0)
            .single()
            .map(|t| t.fixed_offset());
        let statuses: Vec<RecipientStatus> = notices
            .iter()
            .map(|n| {
                let mut s = RecipientStatus::new(&n.rcpt.rcpt.address, n.action, &n.status);
                s.original_recipient = n.rcpt.rcpt.orcpt.clone();
                s.remote_mta = n.mta.as_ref().map(|m| format!("dns;{m}"));
                s.diagnostic = n.diagnostic.clone();
                s.last_attempt = Some(last);
                if n.action == Action::Delayed {
                    s.will_retry_until = retry_until;
                }
                s
            })
            .collect();
        let hostname = &self.settings.hostname;
        let message_id = format!("dsn.{}.{}@{hostname}", entry.id, now());
        let arrival: DateTime<FixedOffset> = Utc
            .timestamp_opt(entry.created, 0)
            .single()
            .unwrap_or_else(Utc::now)
            .fixed_offset();
        // A REQUIRETLS message's bounce returns its header only, whatever
        // RET asked (RFC 8689, non-delivery).
        let ret = match entry.tls {
            SenderTls::Required => Return::Headers,
            _ => entry.ret.unwrap_or(Return::Full),
        };
        let from = format!("MAILER-DAEMON@{hostname}");
        let report = dsn::build(&DsnRequest {
            reporting_mta: hostname,
            dsn_from: &from,
            to: &entry.sender,
            envelope_id: entry.envid.as_deref(),
            arrival,
            recipients: &statuses,
            original: &original,
            ret,
            smtputf8: entry.smtputf8,
            language: reports::language_of(&self.office, &entry.sender).await,
            message_id: &message_id,
            max_attach: MAX_ATTACH,
        });
        let report = match report {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(queue = %entry.id, "cannot build the bounce: {e}");
                return;
            }
        };
        // And it travels with REQUIRETLS itself; `TLS-Required: No` is
        // not passed on to the bounce.
        let tls = match entry.tls {
            SenderTls::Required => SenderTls::Required,
            _ => SenderTls::Policy,
        };
        let sent =
            reports::deliver_report_tls(&self.office, &entry.sender, entry.smtputf8, &report, tls);
        if let Err(e) = sent.await {
            tracing::error!(queue = %entry.id, "cannot send the bounce: {e}");
        } else {
            tracing::info!(queue = %entry.id, to = %entry.sender, "bounce sent");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use praisani_store::{OutboundRcpt, RcptState};

    fn rcpt(id: i64, notify: Option<&str>, delay_notified: bool) -> QueuedRcpt {
        QueuedRcpt {
            id: QueueRcptId::new(id),
            rcpt: OutboundRcpt {
                address: format!("r{id}@b.test"),
                domain: "b.test".into(),
                orcpt: None,
                notify: notify.and_then(Notify::from_param),
            },
            state: RcptState::Pending,
            attempts: 1,
            next_attempt: 0,
            last_error: None,
            delay_notified,
        }
    }

    #[test]
    fn notices_follow_notify_and_age() {
        let entry = QueueEntry {
            id: praisani_store::QueueId::new(7),
            sender: "a@here.test".into(),
            envid: None,
            ret: None,
            smtputf8: false,
            eight_bit: false,
            created: 1000,
            size: 1,
            recipients: Vec::new(),
            account: None,
            tls: Default::default(),
            forwarded: false,
        };
        let retry = |e: &str| AttemptResult::Retry {
            next_attempt: 0,
            error: e.into(),
        };
        let st = |t: &str| Status::parse(t).unwrap();
        let results = vec![
            (
                rcpt(1, None, false),
                AttemptResult::Failed {
                    error: "mx said: 550 5.1.1 unknown".into(),
                },
                Some("mx".into()),
                st("5.1.1"),
            ),
            (
                rcpt(2, None, false),
                AttemptResult::Delivered,
                None,
                Status::DELIVERED,
            ),
            (
                rcpt(3, Some("SUCCESS"), false),
                AttemptResult::Delivered,
                None,
                Status::DELIVERED,
            ),
            (rcpt(4, None, false), retry("5.4.4 odd"), None, st("5.4.4")),
            (rcpt(5, None, true), retry("4.4.1 down"), None, st("4.4.1")),
            (
                rcpt(6, Some("FAILURE"), false),
                retry("4.4.1 down"),
                None,
                st("4.4.1"),
            ),
        ];
        let (sent, delayed) = notices(&entry, &results, 100, 1100);
        let got: Vec<_> = sent
            .iter()
            .map(|n| (n.rcpt.id.get(), n.action, n.status.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, Action::Failed, "5.1.1"),
                (3, Action::Delivered, "2.0.0"),
                (4, Action::Delayed, "4.4.4"),
            ]
        );
        assert_eq!(sent[0].mta.as_deref(), Some("mx"));
        assert_eq!(delayed, vec![QueueRcptId::new(4)]);
        // Too young for a delay notice.
        let (sent, delayed) = notices(&entry, &results, 100, 1099);
        assert_eq!(sent.len(), 2);
        assert!(delayed.is_empty());
    }
}
