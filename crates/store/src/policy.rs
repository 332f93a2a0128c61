//! Quotas and retention: the limits an account or a domain can have, and
//! the arithmetic every backend and the server share, so that "does this
//! message fit" has one answer everywhere.

/// One retention period: inherited from the level above, unlimited, or a
/// number of days.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Keep {
    /// Not set here: the domain's setting, then the server's, applies.
    #[default]
    Inherit,
    /// Kept without limit, whatever the level above says.
    Forever,
    /// This many days (0 is allowed: see [`Retention::after_retrieval`]).
    Days(u32),
}

impl Keep {
    /// This setting, or `fallback` when it inherits.
    pub fn or(self, fallback: Keep) -> Keep {
        match self {
            Keep::Inherit => fallback,
            other => other,
        }
    }

    /// The stored form: NULL inherits, -1 is forever, n days.
    pub fn to_db(self) -> Option<i64> {
        match self {
            Keep::Inherit => None,
            Keep::Forever => Some(-1),
            Keep::Days(d) => Some(i64::from(d)),
        }
    }

    /// Reads the stored form back.
    pub fn from_db(v: Option<i64>) -> Keep {
        match v {
            None => Keep::Inherit,
            Some(d) if d < 0 => Keep::Forever,
            Some(d) => Keep::Days(u32::try_from(d).unwrap_or(u32::MAX)),
        }
    }

    /// Seconds, or `None` for no limit.
    pub fn seconds(self) -> Option<i64> {
        match self {
            Keep::Days(d) => Some(i64::from(d) * 86_400),
            Keep::Inherit | Keep::Forever => None,
        }
    }
}

impl std::fmt::Display for Keep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Keep::Inherit => f.write_str("inherited"),
            Keep::Forever => f.write_str("forever"),
            Keep::Days(d) => write!(f, "{d} days"),
        }
    }
}

/// How long messages stay in a mailbox.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retention {
    /// Messages are deleted this long after a client first retrieved them
    /// (POP3 `EXPIRE`, RFC 2449). `Days(0)`: a retrieved message is
    /// deleted when the session that retrieved it ends with QUIT.
    pub after_retrieval: Keep,
    /// Messages are deleted this long after they arrived, read or not.
    pub max_age: Keep,
}

impl Retention {
    /// Each setting of `self`, or of `fallback` where `self` inherits.
    pub fn or(self, fallback: Retention) -> Retention {
        Retention {
            after_retrieval: self.after_retrieval.or(fallback.after_retrieval),
            max_age: self.max_age.or(fallback.max_age),
        }
    }
}

/// An account's quota state as delivery sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Octets stored in the mailbox.
    pub used_bytes: u64,
    /// Messages stored in the mailbox.
    pub used_messages: u64,
    /// The mailbox's storage limit.
    pub quota_bytes: Option<u64>,
    /// The mailbox's message-count limit.
    pub quota_messages: Option<u64>,
    /// Octets stored in all mailboxes of the domain.
    pub domain_used_bytes: u64,
    /// The domain's storage limit for all its mailboxes together.
    pub domain_quota_bytes: Option<u64>,
    /// The highest warning threshold (percent) already announced.
    pub warned: u8,
}

/// Whether a message of some size fits a mailbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fit {
    /// It fits.
    Fits,
    /// Not now: the mailbox (or its domain) is too full; it may fit after
    /// the user deletes mail. SMTP 452 4.2.2.
    Full,
    /// Never: the message is larger than the limit itself. SMTP 552 5.2.2.
    TooBig,
}

impl Usage {
    /// Whether a message of `size` octets fits now.
    pub fn fit(&self, size: u64) -> Fit {
        let limits = [self.quota_bytes, self.domain_quota_bytes];
        if limits.iter().flatten().any(|&q| size > q) {
            return Fit::TooBig;
        }
        if self.quota_messages.is_some_and(|q| q == 0) {
            return Fit::TooBig;
        }
        let over_bytes = self
            .quota_bytes
            .is_some_and(|q| self.used_bytes.saturating_add(size) > q);
        let over_domain = self
            .domain_quota_bytes
            .is_some_and(|q| self.domain_used_bytes.saturating_add(size) > q);
        let over_count = self
            .quota_messages
            .is_some_and(|q| self.used_messages.saturating_add(1) > q);
        if over_bytes || over_domain || over_count {
            Fit::Full
        } else {
            Fit::Fits
        }
    }

    /// How full the mailbox is, in percent of the tighter of its two
    /// limits (0 without limits; may exceed 100 after a warning that
    /// bypassed the quota).
    pub fn percent(&self) -> u64 {
        let pct = |used: u64, quota: Option<u64>| match quota {
            Some(0) => 100,
            Some(q) => used.saturating_mul(100) / q,
            None => 0,
        };
        pct(self.used_bytes, self.quota_bytes).max(pct(self.used_messages, self.quota_messages))
    }

    /// The warning threshold reached now: the highest of `thresholds`
    /// (percent) not above [`Usage::percent`], or 0.
    pub fn level(&self, thresholds: &[u8]) -> u8 {
        let pct = self.percent();
        thresholds
            .iter()
            .copied()
            .filter(|&t| t > 0 && u64::from(t) <= pct)
            .max()
            .unwrap_or(0)
    }
}

/// Writes a quota warning for the usage and threshold level given (as
/// they are inside the commit that delivers it) into the spool.
pub type NoticeWriter =
    Box<dyn FnOnce(&Usage, u8, &mut crate::Spool) -> std::io::Result<()> + Send>;

/// A mailbox that could not take a message because of its quota.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotaRefusal {
    /// The account.
    pub account: crate::AccountId,
    /// Full for now, or the message can never fit.
    pub fit: Fit,
}

/// What one sweep of the retention policies did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpireReport {
    /// Mailboxes looked at.
    pub accounts: u64,
    /// Messages deleted.
    pub messages: u64,
    /// Octets freed.
    pub bytes: u64,
    /// Mailboxes skipped because a POP3 session held them; the next sweep
    /// tries again.
    pub locked: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(used: u64, quota: Option<u64>) -> Usage {
        Usage {
            used_bytes: used,
            quota_bytes: quota,
            ..Usage::default()
        }
    }

    #[test]
    fn fit_by_bytes() {
        assert_eq!(usage(0, None).fit(u64::MAX), Fit::Fits);
        assert_eq!(usage(50, Some(100)).fit(50), Fit::Fits);
        assert_eq!(usage(51, Some(100)).fit(50), Fit::Full);
        assert_eq!(usage(0, Some(100)).fit(101), Fit::TooBig);
        assert_eq!(usage(u64::MAX, Some(100)).fit(1), Fit::Full);
    }

    #[test]
    fn fit_by_count_and_domain() {
        let mut u = Usage {
            used_messages: 2,
            quota_messages: Some(3),
            ..Usage::default()
        };
        assert_eq!(u.fit(1), Fit::Fits);
        u.used_messages = 3;
        assert_eq!(u.fit(1), Fit::Full);
        u.quota_messages = Some(0);
        assert_eq!(u.fit(1), Fit::TooBig);
        let d = Usage {
            domain_used_bytes: 90,
            domain_quota_bytes: Some(100),
            ..Usage::default()
        };
        assert_eq!(d.fit(10), Fit::Fits);
        assert_eq!(d.fit(11), Fit::Full);
        assert_eq!(d.fit(101), Fit::TooBig);
    }

    #[test]
    fn percent_and_level() {
        assert_eq!(usage(79, Some(100)).level(&[80, 95]), 0);
        assert_eq!(usage(80, Some(100)).level(&[80, 95]), 80);
        assert_eq!(usage(99, Some(100)).level(&[95, 80]), 95);
        assert_eq!(usage(500, Some(100)).percent(), 500);
        assert_eq!(usage(500, None).level(&[80]), 0);
        let by_count = Usage {
            used_messages: 9,
            quota_messages: Some(10),
            ..usage(1, Some(100))
        };
        assert_eq!(by_count.percent(), 90);
        assert_eq!(by_count.level(&[0, 80, 95]), 80);
    }

    #[test]
    fn keep_inherits_and_round_trips() {
        let own = Retention {
            after_retrieval: Keep::Days(0),
            max_age: Keep::Inherit,
        };
        let domain = Retention {
            after_retrieval: Keep::Days(7),
            max_age: Keep::Days(365),
        };
        assert_eq!(
            own.or(domain),
            Retention {
                after_retrieval: Keep::Days(0),
                max_age: Keep::Days(365)
            }
        );
        for k in [Keep::Inherit, Keep::Forever, Keep::Days(0), Keep::Days(30)] {
            assert_eq!(Keep::from_db(k.to_db()), k);
        }
        assert_eq!(Keep::Forever.or(Keep::Days(3)), Keep::Forever);
        assert_eq!(Keep::Days(2).seconds(), Some(172_800));
        assert_eq!(Keep::Forever.seconds(), None);
    }
}
