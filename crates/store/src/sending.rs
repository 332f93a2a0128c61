//! Sending limits' rules, written once for both backends: which counters a
//! submitted message is charged to, and whether it still fits them.
//!
//! Each account and each domain has a counter per fixed UTC window: the
//! hour (`now - now % 3600`) and the day (`now - now % 86400`). A counter
//! holds the messages charged to it and the first-time recipients among
//! them: addresses the account has not sent to within
//! [`RECIPIENT_MEMORY`]. A message is charged to its account's and its
//! domain's counters of both windows at once, or — when one limit would be
//! passed — to none: [`decide`] says which.

use crate::AccountId;

/// An hour in seconds.
pub const HOUR: i64 = 3600;
/// A day in seconds.
pub const DAY: i64 = 86_400;
/// How long an address an account sent to stays known (not first-time).
pub const RECIPIENT_MEMORY: i64 = 30 * DAY;
/// Counters of windows older than this are pruned.
pub const COUNTER_MEMORY: i64 = 2 * DAY;

/// The limits of one window; `None` is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Window {
    /// Messages.
    pub messages: Option<u64>,
    /// First-time recipients.
    pub new_recipients: Option<u64>,
}

/// The limits of one sender (an account or a domain), per hour and per day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    /// In the current UTC hour.
    pub hour: Window,
    /// In the current UTC day.
    pub day: Window,
}

/// The limits a message is charged against: its account's and its domain's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SendLimits {
    /// The submitting account's.
    pub account: Limits,
    /// Its domain's, all its accounts together.
    pub domain: Limits,
}

/// One submitted message, as the counters see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendCharge {
    /// The account that submitted it.
    pub account: AccountId,
    /// The account's domain (A-labels, lower case).
    pub domain: String,
    /// Its recipients, each once, normalised by the caller.
    pub recipients: Vec<String>,
}

/// What one counter holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    /// Messages charged.
    pub messages: u64,
    /// First-time recipients charged.
    pub new_recipients: u64,
}

/// Whose counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The account's.
    Account,
    /// The domain's.
    Domain,
}

/// Which window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// The UTC hour.
    Hour,
    /// The UTC day.
    Day,
}

impl Span {
    /// The window's length in seconds.
    pub fn secs(self) -> i64 {
        match self {
            Span::Hour => HOUR,
            Span::Day => DAY,
        }
    }

    /// The start of the window `now` is in.
    pub fn bucket(self, now: i64) -> i64 {
        now - now.rem_euclid(self.secs())
    }
}

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// Messages.
    Messages,
    /// First-time recipients.
    NewRecipients,
}

/// The limit a message would pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Over {
    /// Whose limit.
    pub scope: Scope,
    /// Of which window.
    pub span: Span,
    /// Counting what.
    pub counted: Counted,
    /// The limit.
    pub limit: u64,
    /// When the window ends and the count starts over (Unix seconds).
    pub resets: i64,
}

/// What a charged message took, to give it back should it not be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    /// Its hour window's start.
    pub hour: i64,
    /// Its day window's start.
    pub day: i64,
    /// Its first-time recipients.
    pub new_recipients: u64,
}

/// The answer to a charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    /// Counted: the message may be accepted.
    Counted(Ticket),
    /// Not counted: a limit would be passed.
    Over(Over),
}

/// An account's outbound results over the last 24 hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outcomes {
    /// Recipients that reached a final result (delivered or failed).
    pub finished: u64,
    /// Of them, those that failed for good (bounced).
    pub failed: u64,
}

/// The counter an account's outbound results are kept in (hourly
/// windows, summed over the last [`DAY`]).
pub fn outcome_scope(account: AccountId) -> String {
    format!("outcome:{}", account.get())
}

/// The four counters a charge touches, in the order backends lock them
/// (one order everywhere, so two charges cannot deadlock): the counter's
/// key, its window and the window's start.
pub fn counters(charge: &SendCharge, now: i64) -> [(String, Span, i64); 4] {
    let a = format!("account:{}", charge.account.get());
    let d = format!("domain:{}", charge.domain);
    [
        (a.clone(), Span::Hour, Span::Hour.bucket(now)),
        (a, Span::Day, Span::Day.bucket(now)),
        (d.clone(), Span::Hour, Span::Hour.bucket(now)),
        (d, Span::Day, Span::Day.bucket(now)),
    ]
}

/// Whether one more message with `new_recipients` first-time recipients
/// fits the counters `tallies` (in the order of [`counters`]); the first
/// limit it would pass otherwise.
pub fn decide(
    tallies: &[Tally; 4],
    new_recipients: u64,
    limits: &SendLimits,
    now: i64,
) -> Option<Over> {
    let windows = [
        (Scope::Account, Span::Hour, limits.account.hour),
        (Scope::Account, Span::Day, limits.account.day),
        (Scope::Domain, Span::Hour, limits.domain.hour),
        (Scope::Domain, Span::Day, limits.domain.day),
    ];
    for (t, (scope, span, w)) in tallies.iter().zip(windows) {
        let over = |counted, limit| Over {
            scope,
            span,
            counted,
            limit,
            resets: span.bucket(now) + span.secs(),
        };
        if let Some(limit) = w.messages
            && t.messages + 1 > limit
        {
            return Some(over(Counted::Messages, limit));
        }
        if let Some(limit) = w.new_recipients
            && new_recipients > 0
            && t.new_recipients + new_recipients > limit
        {
            return Some(over(Counted::NewRecipients, limit));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> SendLimits {
        SendLimits {
            account: Limits {
                hour: Window {
                    messages: Some(3),
                    new_recipients: Some(5),
                },
                day: Window {
                    messages: Some(10),
                    new_recipients: None,
                },
            },
            domain: Limits {
                hour: Window::default(),
                day: Window {
                    messages: Some(20),
                    new_recipients: None,
                },
            },
        }
    }

    #[test]
    fn the_message_that_would_pass_a_limit_is_refused() {
        let t = |m, n| Tally {
            messages: m,
            new_recipients: n,
        };
        let l = limits();
        assert_eq!(
            decide(&[t(2, 0), t(2, 0), t(2, 0), t(2, 0)], 1, &l, 7200),
            None
        );
        let over = decide(&[t(3, 0), t(3, 0), t(3, 0), t(3, 0)], 0, &l, 7300).unwrap();
        assert_eq!(
            (over.scope, over.span, over.counted, over.limit, over.resets),
            (Scope::Account, Span::Hour, Counted::Messages, 3, 10_800)
        );
        let over = decide(&[t(0, 3), t(0, 3), t(0, 0), t(0, 0)], 3, &l, 0).unwrap();
        assert_eq!(over.counted, Counted::NewRecipients);
        assert_eq!(
            decide(&[t(0, 3), t(0, 3), t(0, 0), t(0, 0)], 2, &l, 0),
            None,
            "exactly at the limit fits"
        );
        let over = decide(&[t(0, 0), t(0, 0), t(0, 0), t(20, 0)], 0, &l, 0).unwrap();
        assert_eq!((over.scope, over.span), (Scope::Domain, Span::Day));
    }

    #[test]
    fn windows_are_utc_hours_and_days() {
        assert_eq!(Span::Hour.bucket(7199), 3600);
        assert_eq!(Span::Day.bucket(86_400 + 5), 86_400);
    }
}
