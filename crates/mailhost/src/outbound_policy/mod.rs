//! Outbound policy for our own users' mail: sending limits per account and
//! per domain, and containment — an account that hits a limit is put on
//! hold (its queued mail with it) and the postmaster is told.
//!
//! The counts live in the store ([`praisani_store::Store::send_charge`]),
//! one atomic check-and-count at the end of data before the 250, so that
//! nodes sharing a PostgreSQL store share them; a message refused for a
//! limit is counted nowhere, and one that could not be stored after all
//! is refunded. [`Inbound`](crate::inbound::Inbound) calls
//! [`SendingPolicy::limits_for`] and [`refusal`] from `message_end`, and
//! refuses a held account at MAIL FROM ([`held_refusal`]).

pub mod notice;

use crate::office::PostOffice;
use praisani_mailaddr::Address;
use praisani_smtp::Reply;
use praisani_store::AccountId;
use praisani_store::sending::{Counted, Limits, Outcomes, Over, Scope, SendLimits, Span};
use praisani_store::{Account, StoreError};
use std::collections::HashMap;
use std::sync::Arc;

/// The sending limits and what hitting one does (`[sending]`).
#[derive(Debug, Clone, Default)]
pub struct SendingPolicy {
    /// Each account's limits, unless its domain or itself has others.
    pub account: Limits,
    /// Each domain's limits (all its accounts together), unless it has
    /// its own.
    pub domain: Limits,
    /// Per domain (A-label, lower case): its accounts' and its own limits.
    pub domains: HashMap<String, SendLimits>,
    /// Per account (see [`account_key`]): its own limits.
    pub accounts: HashMap<String, Limits>,
    /// An account that hits a limit is put on hold.
    pub hold_on_limit: bool,
    /// An account whose recent mail bounces at this rate is put on hold
    /// (`None`: never).
    pub bounce_hold: Option<BounceRule>,
}

/// When an account's bounces are unusual: over the last 24 hours, at
/// least `min_recipients` of its outbound recipients reached a final
/// result and more than `percent` of them failed for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BounceRule {
    /// Recipients needed before the rate means anything.
    pub min_recipients: u64,
    /// The failure rate (percent) above which the account is held.
    pub percent: u8,
}

impl BounceRule {
    /// The reason to hold an account with these results, if any.
    pub fn judge(&self, o: &Outcomes) -> Option<String> {
        (o.finished >= self.min_recipients && o.failed * 100 > o.finished * u64::from(self.percent))
            .then(|| {
                format!(
                    "{} of its {} outbound recipients in the last 24 hours bounced (more than {}%)",
                    o.failed, o.finished, self.percent
                )
            })
    }
}

/// The key an account's own limits are configured under: the local part
/// in lower case, `@`, the domain's A-label.
pub fn account_key(a: &Address) -> String {
    format!("{}@{}", a.local().to_lowercase(), a.domain().ascii())
}

impl SendingPolicy {
    /// The limits a message submitted by `account` is charged against.
    pub fn limits_for(&self, account: &Account) -> SendLimits {
        let mut l = self
            .domains
            .get(account.address.domain().ascii())
            .copied()
            .unwrap_or(SendLimits {
                account: self.account,
                domain: self.domain,
            });
        if let Some(own) = self.accounts.get(&account_key(&account.address)) {
            l.account = *own;
        }
        l
    }
}

/// What the limit is, in words: "3 messages per hour for this account".
pub fn describe(over: &Over) -> String {
    let what = match over.counted {
        Counted::Messages => "messages",
        Counted::NewRecipients => "first-time recipients",
    };
    let span = match over.span {
        Span::Hour => "hour",
        Span::Day => "day",
    };
    let whose = match over.scope {
        Scope::Account => "this account",
        Scope::Domain => "this domain",
    };
    format!("{} {what} per {span} for {whose}", over.limit)
}

/// The reply that refuses a message over a limit: temporary, so the
/// user's program keeps it and can send it later (RFC 3463: `4.7.0` for
/// messages, `4.5.3` for too many recipients).
pub fn refusal(over: &Over, held: bool) -> Reply {
    let resets = chrono::DateTime::from_timestamp(over.resets, 0)
        .map(|t| t.format("%H:%M UTC").to_string())
        .unwrap_or_default();
    let then = if held {
        "the account is now on hold; ask your provider to release it".to_string()
    } else {
        format!("try again after {resets}")
    };
    let (code, status) = match over.counted {
        Counted::Messages => (451, "4.7.0"),
        Counted::NewRecipients => (452, "4.5.3"),
    };
    Reply::new(
        code,
        status,
        format!("Sending limit reached: {}; {then}", describe(over)),
    )
}

/// The reply to MAIL FROM of an account on hold.
pub fn held_refusal(reason: &str) -> Reply {
    Reply::new(
        451,
        "4.7.0",
        format!(
            "Sending from this account is on hold ({}); ask your provider to release it",
            reason.replace(['\r', '\n'], " ")
        ),
    )
}

/// Puts `account` on hold for `reason`, its queued mail with it; when this
/// changed its state (not already held, by this node or another), the
/// postmaster is told in the background. Returns whether it changed.
pub async fn hold(
    office: &Arc<PostOffice>,
    account: &Account,
    reason: &str,
) -> Result<bool, StoreError> {
    let changed = office
        .store
        .account_set_hold(account.id, Some(reason))
        .await?;
    if changed {
        tracing::warn!(account = %account.address, reason, "account put on hold");
        let office = office.clone();
        let account = account.clone();
        let reason = reason.to_string();
        tokio::spawn(async move {
            if let Err(e) = notice::send(&office, &account, &reason).await {
                tracing::error!(account = %account.address, "hold notice failed: {e}");
            }
        });
    }
    Ok(changed)
}

/// Records the final results of a queued message of `account` (how many
/// recipients finished, how many of them bounced) and, when the bounce
/// rule says its recent mail bounces at an unusual rate, puts the account
/// on hold. Called by the outbound queue after each message's attempt.
pub async fn record_outcomes(
    office: &Arc<PostOffice>,
    account: AccountId,
    finished: u64,
    failed: u64,
) -> Result<(), StoreError> {
    if finished == 0 {
        return Ok(());
    }
    let now = chrono::Utc::now().timestamp();
    let totals = office
        .store
        .send_outcomes(account, finished, failed, now)
        .await?;
    let Some(reason) = office.sending.bounce_hold.and_then(|r| r.judge(&totals)) else {
        return Ok(());
    };
    if let Some(a) = office.store.account_by_id(account).await?
        && a.held.is_none()
    {
        hold(office, &a, &reason).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bounce_rule_needs_enough_recipients_and_more_than_the_rate() {
        let r = BounceRule {
            min_recipients: 20,
            percent: 30,
        };
        let o = |finished, failed| Outcomes { finished, failed };
        assert_eq!(r.judge(&o(19, 19)), None, "too few to judge");
        assert_eq!(r.judge(&o(20, 6)), None, "exactly 30% is not more");
        let why = r.judge(&o(20, 7)).unwrap();
        assert!(why.contains("7 of its 20"), "{why}");
    }

    #[test]
    fn refusals_name_the_limit_with_the_right_code() {
        let over = Over {
            scope: Scope::Account,
            span: Span::Hour,
            counted: Counted::NewRecipients,
            limit: 5,
            resets: 7200,
        };
        let r = refusal(&over, false);
        assert_eq!((r.code, r.enhanced.as_deref()), (452, Some("4.5.3")));
        let text = r.lines.join(" ");
        assert!(
            text.contains("5 first-time recipients per hour for this account")
                && text.contains("02:00 UTC"),
            "{text}"
        );
        let held = refusal(
            &Over {
                counted: Counted::Messages,
                ..over
            },
            true,
        );
        assert_eq!((held.code, held.enhanced.as_deref()), (451, Some("4.7.0")));
        assert!(held.lines.join(" ").contains("on hold"), "{held:?}");
    }
}
