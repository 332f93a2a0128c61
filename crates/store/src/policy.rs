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

/// What [`crate::Store::quota_notice`] does, decided on the usage read
/// inside its commit. Both backends follow it so that "once per threshold
/// crossing" means the same on each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WarningStep {
    /// The threshold reached now (what the notice announces).
    pub level: u8,
    /// The level to remember, when it differs from the one stored.
    pub remember: Option<u8>,
    /// The notice is to be delivered.
    pub deliver: bool,
}

impl Usage {
    /// The remembered warning level after usage fell (mail deleted, quota
    /// raised): never above the percent used, so the thresholds above what
    /// is left announce themselves again.
    pub(crate) fn rearmed(&self) -> u8 {
        self.percent().min(255) as u8
    }

    /// Decides a quota warning: the remembered level is first lowered to the
    /// usage (a crossing re-armed meanwhile counts again), then a notice is
    /// due when the level reached is above it and there is a notice to give.
    pub(crate) fn warning(&self, thresholds: &[u8], have_notice: bool) -> WarningStep {
        let floor = self.warned.min(self.rearmed());
        let level = self.level(thresholds);
        let deliver = have_notice && level > floor;
        let new = if deliver { level } else { floor };
        WarningStep {
            level,
            remember: (new != self.warned).then_some(new),
            deliver,
        }
    }
}

/// Whether [`crate::Store::accept`] stores a message for one mailbox,
/// decided on its usage as read inside the commit (after the copies already
/// added for earlier recipients, so one domain's total counts each).
pub(crate) fn admit(usage: &Usage, size: u64, check_quota: bool) -> Result<(), Fit> {
    match usage.fit(size) {
        fit @ (Fit::Full | Fit::TooBig) if check_quota => Err(fit),
        _ => Ok(()),
    }
}

/// The answer of [`crate::Store::accept`], built up recipient by recipient:
/// the backends only store, this decides who gets a copy and how many
/// references the shared body has.
#[derive(Debug)]
pub(crate) struct AcceptTally {
    accepted: crate::Accepted,
}

impl AcceptTally {
    /// True when there is nothing to store at all: no body is written.
    pub(crate) fn nothing_to_store(local: &[crate::AccountId], remote: bool) -> bool {
        local.is_empty() && !remote
    }

    /// A tally for `local` recipients.
    pub(crate) fn new(local: usize) -> Self {
        AcceptTally {
            accepted: crate::Accepted {
                messages: Vec::with_capacity(local),
                queued: Vec::new(),
                refused: Vec::new(),
                usage: Vec::with_capacity(local),
            },
        }
    }

    /// Decides for one mailbox with its usage now: true when the backend
    /// is to add the message (then [`AcceptTally::added`]); a refusal is
    /// recorded here.
    pub(crate) fn admit(
        &mut self,
        account: crate::AccountId,
        usage: &Usage,
        size: u64,
        check_quota: bool,
    ) -> bool {
        match admit(usage, size, check_quota) {
            Ok(()) => true,
            Err(fit) => {
                self.accepted.refused.push(QuotaRefusal { account, fit });
                false
            }
        }
    }

    /// Records a copy the backend added, with the mailbox's usage after it.
    pub(crate) fn added(
        &mut self,
        account: crate::AccountId,
        message: crate::MessageId,
        after: Usage,
    ) {
        self.accepted.messages.push(message);
        self.accepted.usage.push((account, after));
    }

    /// References the body needs: one per copy, one per queue entry.
    /// Zero means the body is to be released again.
    pub(crate) fn body_refs(&self, queue_entries: usize) -> i64 {
        (self.accepted.messages.len() + queue_entries) as i64
    }

    /// The answer, with the queue entries made for the outbound copies.
    pub(crate) fn finish(mut self, queued: Vec<crate::QueueId>) -> crate::Accepted {
        self.accepted.queued = queued;
        self.accepted
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

/// What one sweep deletes from one mailbox: messages retrieved at or
/// before `retrieved_by`, and messages received at or before `received_by`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cutoffs {
    /// Unix seconds; `None`: retrieval does not expire messages.
    pub retrieved_by: Option<i64>,
    /// Unix seconds; `None`: age does not expire messages.
    pub received_by: Option<i64>,
}

impl Cutoffs {
    /// Whether a sweep with these cut-offs deletes a message received at
    /// `received`, first retrieved at `retrieved`: what the backends' sweep
    /// query selects.
    pub fn covers(&self, received: i64, retrieved: Option<i64>) -> bool {
        let by_retrieval = matches!((self.retrieved_by, retrieved), (Some(by), Some(r)) if r <= by);
        let by_age = matches!(self.received_by, Some(by) if received <= by);
        by_retrieval || by_age
    }
}

impl Retention {
    /// The cut-off times of this retention as of `now`; `None` when it
    /// keeps everything, so the sweep need not look at the mailbox.
    pub fn cutoffs(self, now: i64) -> Option<Cutoffs> {
        let c = Cutoffs {
            retrieved_by: self.after_retrieval.seconds().map(|s| now - s),
            received_by: self.max_age.seconds().map(|s| now - s),
        };
        (c.retrieved_by.is_some() || c.received_by.is_some()).then_some(c)
    }

    /// The first moment a sweep's [`Retention::cutoffs`] cover a message
    /// received at `received` and first retrieved at `retrieved` (the
    /// backends' sweep query, solved for `now`); `None`: no sweep ever
    /// deletes it.
    pub fn deleted_at(self, received: i64, retrieved: Option<i64>) -> Option<i64> {
        let by_retrieval = retrieved
            .zip(self.after_retrieval.seconds())
            .map(|(r, s)| r + s);
        let by_age = self.max_age.seconds().map(|s| received + s);
        by_retrieval.into_iter().chain(by_age).min()
    }

    /// Retention from its two stored columns (see [`Keep::to_db`]).
    pub(crate) fn from_db(after_retrieval: Option<i64>, max_age: Option<i64>) -> Retention {
        Retention {
            after_retrieval: Keep::from_db(after_retrieval),
            max_age: Keep::from_db(max_age),
        }
    }
}

/// The mailboxes a sweep as of `now` looks at, with what it deletes from
/// each: every account's own-else-domain retention falls back to
/// `default`, and a mailbox whose retention keeps everything is skipped.
pub(crate) fn sweep_plan(
    accounts: Vec<(crate::AccountId, Retention)>,
    default: Retention,
    now: i64,
) -> Vec<(crate::AccountId, Cutoffs)> {
    accounts
        .into_iter()
        .filter_map(|(id, own)| own.or(default).cutoffs(now).map(|c| (id, c)))
        .collect()
}

/// Outcome of expiring one mailbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expired {
    /// A session holds the mailbox: nothing deleted, the next sweep retries.
    Locked,
    /// Messages and octets deleted.
    Deleted {
        /// Messages deleted.
        messages: u64,
        /// Octets freed.
        bytes: u64,
    },
}

impl Expired {
    /// The outcome of deleting messages of these stored sizes.
    pub(crate) fn deleted(sizes: impl IntoIterator<Item = i64>) -> Expired {
        let (mut messages, mut bytes) = (0, 0);
        for size in sizes {
            messages += 1;
            bytes += size.max(0) as u64;
        }
        Expired::Deleted { messages, bytes }
    }
}

impl ExpireReport {
    /// Counts one mailbox the sweep looked at.
    pub(crate) fn record(&mut self, outcome: Expired) {
        self.accounts += 1;
        match outcome {
            Expired::Locked => self.locked += 1,
            Expired::Deleted { messages, bytes } => {
                self.messages += messages;
                self.bytes += bytes;
            }
        }
    }
}

/// A domain's contact from its two stored columns: both or neither; an
/// unknown language tag reads as the default (English), as for accounts.
pub(crate) fn domain_contact(
    address: Option<String>,
    lang: Option<String>,
) -> Result<Option<crate::DomainContact>, crate::StoreError> {
    let Some(address) = address else {
        return Ok(None);
    };
    let address = praisani_mailaddr::Address::parse(&address)
        .map_err(|_| crate::error::corrupt("domain contact"))?;
    let lang = lang
        .as_deref()
        .and_then(crate::Language::from_tag)
        .unwrap_or_default();
    Ok(Some(crate::DomainContact { address, lang }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AccountId, MessageId, QueueId};

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
    fn deleted_at_is_the_first_sweep_that_covers_the_message() {
        let day = 86_400;
        let cases = [
            (Keep::Days(3), Keep::Days(30), 1_000, Some(5_000)),
            (Keep::Days(0), Keep::Forever, 1_000, Some(2_000)),
            (Keep::Forever, Keep::Days(1), 1_000, None),
            (Keep::Days(2), Keep::Forever, 1_000, None),
            (Keep::Forever, Keep::Forever, 1_000, Some(2_000)),
        ];
        for (after_retrieval, max_age, received, retrieved) in cases {
            let r = Retention {
                after_retrieval,
                max_age,
            };
            let covered = |now: i64| {
                r.cutoffs(now)
                    .is_some_and(|c| c.covers(received, retrieved))
            };
            match r.deleted_at(received, retrieved) {
                Some(at) => {
                    assert!(covered(at), "{r:?}");
                    assert!(!covered(at - 1), "{r:?}");
                }
                None => assert!(!covered(received + 3650 * day), "{r:?}"),
            }
        }
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

    #[test]
    fn warning_once_per_crossing() {
        let u = |used, warned| Usage {
            warned,
            ..usage(used, Some(100))
        };
        // Crossing 80: announce and remember 80.
        let s = u(85, 0).warning(&[80, 95], true);
        assert_eq!((s.level, s.remember, s.deliver), (80, Some(80), true));
        // Still at 85 with 80 announced: nothing.
        let s = u(85, 80).warning(&[80, 95], true);
        assert_eq!((s.level, s.remember, s.deliver), (80, None, false));
        // Usage fell below 80 meanwhile: the remembered level is lowered.
        let s = u(50, 80).warning(&[80, 95], true);
        assert_eq!((s.level, s.remember, s.deliver), (0, Some(50), false));
        // No notice to give: the level is only lowered, never raised.
        let s = u(99, 80).warning(&[80, 95], false);
        assert_eq!((s.level, s.remember, s.deliver), (95, None, false));
        assert_eq!(u(500, 0).rearmed(), 255);
    }

    #[test]
    fn accept_tally_and_refs() {
        let full = usage(100, Some(100));
        assert_eq!(admit(&full, 1, true), Err(Fit::Full));
        assert_eq!(admit(&full, 1, false), Ok(()));
        assert_eq!(admit(&usage(0, Some(10)), 11, true), Err(Fit::TooBig));
        assert!(AcceptTally::nothing_to_store(&[], false));
        assert!(!AcceptTally::nothing_to_store(&[], true));
        let mut t = AcceptTally::new(2);
        let (one, two) = (AccountId::new(1), AccountId::new(2));
        assert!(!t.admit(one, &full, 1, true));
        assert!(t.admit(two, &usage(0, None), 1, true));
        t.added(two, MessageId::new(7), usage(1, None));
        assert_eq!(t.body_refs(1), 2);
        assert_eq!(t.body_refs(2), 3);
        let a = t.finish(vec![QueueId::new(3)]);
        assert_eq!(a.messages, vec![MessageId::new(7)]);
        assert_eq!(a.queued, vec![QueueId::new(3)]);
        assert_eq!(
            a.refused,
            vec![QuotaRefusal {
                account: one,
                fit: Fit::Full
            }]
        );
    }

    #[test]
    fn sweep_skips_what_keeps_everything() {
        let days = |a, m| Retention {
            after_retrieval: a,
            max_age: m,
        };
        let plan = sweep_plan(
            vec![
                (AccountId::new(1), days(Keep::Inherit, Keep::Inherit)),
                (AccountId::new(2), days(Keep::Forever, Keep::Forever)),
                (AccountId::new(3), days(Keep::Days(1), Keep::Inherit)),
            ],
            days(Keep::Inherit, Keep::Days(2)),
            1_000_000,
        );
        assert_eq!(
            plan,
            vec![
                (
                    AccountId::new(1),
                    Cutoffs {
                        retrieved_by: None,
                        received_by: Some(1_000_000 - 172_800)
                    }
                ),
                (
                    AccountId::new(3),
                    Cutoffs {
                        retrieved_by: Some(1_000_000 - 86_400),
                        received_by: Some(1_000_000 - 172_800)
                    }
                ),
            ]
        );
        let mut r = ExpireReport::default();
        r.record(Expired::Locked);
        r.record(Expired::deleted([10, -1, 5]));
        assert_eq!(
            r,
            ExpireReport {
                accounts: 2,
                messages: 3,
                bytes: 15,
                locked: 1
            }
        );
    }
}
