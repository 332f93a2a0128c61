//! What the store keeps for DMARC aggregate reports (RFC 7489 §7.2): per
//! policy domain and UTC day, the latest published policy and a count per
//! distinct report row. What a policy or a row says is the mail host's
//! business; to the store both are opaque texts, and equal rows are one
//! row with a count, so a day's table stays small.

/// One message's DMARC evaluation, to be counted in its domain's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcEvent {
    /// The UTC day the message arrived, in days since 1970-01-01.
    pub day: i64,
    /// The domain the report is about (the policy domain, lower case).
    pub domain: String,
    /// The published policy and where reports go, as the mail host wrote
    /// them; the latest one of the day is kept.
    pub policy: String,
    /// The report row this message counts in; equal rows are counted
    /// together.
    pub row: String,
}

/// A day of one domain's evaluations, taken from the store to be reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcDay {
    /// As [`DmarcEvent::domain`].
    pub domain: String,
    /// As [`DmarcEvent::day`].
    pub day: i64,
    /// The latest [`DmarcEvent::policy`] of the day.
    pub policy: String,
    /// Each distinct row with how many messages it counts, in row order.
    pub rows: Vec<(String, u64)>,
    /// Messages not counted because the day already had the most rows
    /// allowed.
    pub dropped: u64,
}

/// How much one day may hold, so a flood of new sending addresses or
/// `From:` domains cannot fill the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DmarcLimits {
    /// Distinct rows per domain and day.
    pub max_rows: u64,
    /// Distinct domains per day.
    pub max_domains: u64,
}

/// Whether an event was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmarcRecorded {
    /// Counted in its row.
    Counted,
    /// Its row is new and the day already has `max_rows` rows: only
    /// [`DmarcDay::dropped`] grew.
    Dropped,
    /// Its domain is new for the day and the day already has
    /// `max_domains` domains: not counted anywhere.
    DomainsFull,
}
