//! A mailbox's vacation auto-reply: setting it (checked), turning it off,
//! showing it. Dates are whole days in UTC: replies start at the first
//! one's midnight and end after the last one.

use super::AdminError;
use super::accounts::get;
use crate::vacation::{DEFAULT_INTERVAL_DAYS, MAX_INTERVAL_DAYS, MAX_SUBJECT};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use praisani_mailaddr::Address;
use praisani_store::{Store, Vacation};

/// Why vacation settings were refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VacationError {
    /// Not a date.
    #[error("invalid date {0:?} (expected YYYY-MM-DD, e.g. 2027-01-31)")]
    InvalidDate(String),
    /// The end before the start.
    #[error("--until {until} is before --from {from}")]
    UntilBeforeFrom {
        /// The first day.
        from: NaiveDate,
        /// The last day.
        until: NaiveDate,
    },
    /// No text.
    #[error("the vacation text is empty")]
    EmptyText,
    /// Too much text.
    #[error("the vacation text has {0} octets; at most {1} are allowed (limits.max_vacation_text)")]
    TextTooLarge(usize, usize),
    /// Too long a subject.
    #[error("the subject has more than {MAX_SUBJECT} characters")]
    SubjectTooLong,
    /// An interval out of range.
    #[error("--interval-days must be from 1 to {MAX_INTERVAL_DAYS}")]
    BadInterval(u32),
    /// Text that is not UTF-8 (a text file).
    #[error("the vacation text is not UTF-8")]
    NotUtf8,
}

/// A date as an administrator types it: `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Result<NaiveDate, VacationError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| VacationError::InvalidDate(s.to_string()))
}

/// Vacation settings as given.
#[derive(Clone, Debug, Default)]
pub struct VacationRequest {
    /// The reply's subject (`None`: "Auto: " and the original's).
    pub subject: Option<String>,
    /// The reply's text.
    pub text: String,
    /// The first day replies are sent.
    pub from: Option<NaiveDate>,
    /// The last day replies are sent.
    pub until: Option<NaiveDate>,
    /// Days between two replies to one sender (default 7).
    pub interval_days: Option<u32>,
}

fn midnight(d: NaiveDate) -> i64 {
    d.and_time(NaiveTime::MIN).and_utc().timestamp()
}

/// The settings to store for `req` (its text at most `max_text` octets),
/// or why not.
pub fn check(req: VacationRequest, max_text: usize) -> Result<Vacation, VacationError> {
    if req.text.trim().is_empty() {
        return Err(VacationError::EmptyText);
    }
    if req.text.len() > max_text {
        return Err(VacationError::TextTooLarge(req.text.len(), max_text));
    }
    let subject = req
        .subject
        .map(|s| praisani_message::mime::one_line(&s))
        .filter(|s| !s.is_empty());
    if subject
        .as_ref()
        .is_some_and(|s| s.chars().count() > MAX_SUBJECT)
    {
        return Err(VacationError::SubjectTooLong);
    }
    if let (Some(from), Some(until)) = (req.from, req.until)
        && until < from
    {
        return Err(VacationError::UntilBeforeFrom { from, until });
    }
    let interval_days = req.interval_days.unwrap_or(DEFAULT_INTERVAL_DAYS);
    if !(1..=MAX_INTERVAL_DAYS).contains(&interval_days) {
        return Err(VacationError::BadInterval(interval_days));
    }
    Ok(Vacation {
        subject,
        text: req.text.replace("\r\n", "\n"),
        starts: req.from.map(midnight),
        ends: req.until.and_then(|d| d.succ_opt()).map(midnight),
        interval_days,
    })
}

/// Turns the mailbox's vacation reply on with `req` (see [`check`]).
pub async fn set(
    store: &dyn Store,
    address: &Address,
    req: VacationRequest,
    max_text: usize,
) -> Result<Vacation, AdminError> {
    let v = check(req, max_text)?;
    store.account_set_vacation(address, Some(&v)).await?;
    Ok(v)
}

/// Turns the mailbox's vacation reply off.
pub async fn off(store: &dyn Store, address: &Address) -> Result<(), AdminError> {
    Ok(store.account_set_vacation(address, None).await?)
}

/// The mailbox's vacation reply, if on.
pub async fn show(store: &dyn Store, address: &Address) -> Result<Option<Vacation>, AdminError> {
    let account = get(store, address).await?;
    Ok(store.account_vacation(account.id).await?)
}

/// The first day of a stored vacation, as given.
pub fn first_day(v: &Vacation) -> Option<NaiveDate> {
    v.starts
        .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0))
        .map(|t| t.date_naive())
}

/// The last day of a stored vacation, as given.
pub fn last_day(v: &Vacation) -> Option<NaiveDate> {
    v.ends
        .and_then(|e| DateTime::<Utc>::from_timestamp(e - 1, 0))
        .map(|t| t.date_naive())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(text: &str) -> VacationRequest {
        VacationRequest {
            text: text.into(),
            ..Default::default()
        }
    }

    #[test]
    fn settings_are_checked() {
        const MAX: usize = crate::vacation::DEFAULT_MAX_TEXT;
        let check = |r| check(r, MAX);
        assert!(check(req(&"ก".repeat(MAX / 3))).is_ok());
        assert_eq!(check(req("  \n")), Err(VacationError::EmptyText));
        let big = "ก".repeat(MAX / 3 + 1);
        assert_eq!(
            check(req(&big)),
            Err(VacationError::TextTooLarge(big.len(), MAX))
        );
        assert!(parse_date("2027-02-30").is_err());
        assert!(parse_date("31.01.2027").is_err());
        let (from, until) = (
            parse_date("2027-01-10").unwrap(),
            parse_date("2027-01-09").unwrap(),
        );
        let r = VacationRequest {
            from: Some(from),
            until: Some(until),
            ..req("away")
        };
        assert_eq!(
            check(r),
            Err(VacationError::UntilBeforeFrom { from, until })
        );
        let r = VacationRequest {
            interval_days: Some(0),
            ..req("away")
        };
        assert_eq!(check(r), Err(VacationError::BadInterval(0)));
        let r = VacationRequest {
            subject: Some("x".repeat(MAX_SUBJECT + 1)),
            ..req("away")
        };
        assert_eq!(check(r), Err(VacationError::SubjectTooLong));
    }

    #[test]
    fn days_are_whole_utc_days() {
        let day = parse_date("2027-01-10").unwrap();
        let v = check(
            VacationRequest {
                from: Some(day),
                until: Some(day),
                subject: Some("  ".into()),
                ..req("away\r\nback soon")
            },
            1024,
        )
        .unwrap();
        assert_eq!(v.ends.unwrap() - v.starts.unwrap(), 86_400);
        assert_eq!((first_day(&v), last_day(&v)), (Some(day), Some(day)));
        assert_eq!(v.subject, None);
        assert_eq!(v.text, "away\nback soon");
        assert_eq!(v.interval_days, DEFAULT_INTERVAL_DAYS);
    }
}
