//! What the store keeps for TLS-RPT reports (RFC 8460): per policy domain
//! and UTC day, a count per distinct (policy, result) pair. What a policy
//! or a result says is the delivery crate's business; to the store both
//! are opaque texts, and equal pairs are one row with a count, so a day's
//! table stays small.

/// Sessions with one outcome under one policy, to be counted in the
/// policy domain's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsEvent {
    /// The UTC day of the sessions, in days since 1970-01-01.
    pub day: i64,
    /// The policy domain (lower case, A-labels).
    pub domain: String,
    /// The policy the sessions were under, as the delivery crate wrote it.
    pub policy: String,
    /// Their outcome (success, or a failure with its details).
    pub result: String,
    /// How many sessions.
    pub count: u64,
}

/// A day of one domain's sessions, taken from the store to be reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsDay {
    /// As [`TlsEvent::domain`].
    pub domain: String,
    /// As [`TlsEvent::day`].
    pub day: i64,
    /// Each distinct (policy, result) with its count, in that order.
    pub rows: Vec<(String, String, u64)>,
    /// Sessions not counted in a row because the day already had the most
    /// rows allowed.
    pub dropped: u64,
}

/// How much one day may hold, so an unbounded set of MX hosts or
/// addresses cannot fill the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsLimits {
    /// Distinct rows per domain and day.
    pub max_rows: u64,
    /// Distinct policy domains per day.
    pub max_domains: u64,
}

/// What one [`crate::Store::tls_report_record`] counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TlsRecorded {
    /// Sessions counted in their rows.
    pub counted: u64,
    /// Sessions only counted as dropped (their day had `max_rows` rows).
    pub dropped: u64,
    /// Sessions not counted at all (their domain was new and the day had
    /// `max_domains` domains).
    pub lost: u64,
}
