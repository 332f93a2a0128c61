//! The label sets of praisani's metric families. Where the values are a
//! closed set they are enums, so a call site cannot invent a new series;
//! the open ones (status codes, store operations) are still short words,
//! never addresses, so the number of series stays bounded.
//!
//! `EncodeLabelValue`'s derive writes a variant's name as it is spelled,
//! and Prometheus label values are lower case by convention: hence the
//! lower-case variants.
#![allow(non_camel_case_types)]

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};

/// A listener's service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelValue)]
pub enum Service {
    /// Port 25.
    smtp,
    /// Submission with STARTTLS.
    submission,
    /// Submission over implicit TLS.
    submissions,
    /// POP3 with STLS.
    pop3,
    /// POP3 over implicit TLS.
    pop3s,
    /// The plain auto-configuration HTTP listener.
    http,
    /// The HTTPS auto-configuration listener.
    https,
    /// The admin API listener.
    admin,
}

/// The SMTP stage a command was refused at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelValue)]
pub enum Stage {
    /// The greeting (the connection itself refused).
    connect,
    /// MAIL FROM.
    mail,
    /// RCPT TO.
    rcpt,
    /// The message, after DATA or the last BDAT.
    data,
}

/// Why a login failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelValue)]
pub enum AuthReason {
    /// Unknown user or wrong password.
    bad_credentials,
    /// The client's data could not be decoded.
    malformed,
    /// Too many failures: locked out for a while.
    locked,
    /// The store could not answer.
    temporary,
}

/// A recipient's state in the outbound queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelValue)]
pub enum QueueState {
    /// Not tried yet.
    pending,
    /// Tried, waiting for a retry.
    deferred,
    /// Held by an administrator.
    held,
}

/// What one delivery attempt for one recipient came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelValue)]
pub enum DeliveryResult {
    /// The remote server took it.
    delivered,
    /// A temporary failure: tried again later.
    deferred,
    /// A permanent failure: bounced.
    failed,
}

/// Labels of the families counted per service.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ByService {
    /// The listener's service.
    pub service: Service,
}

/// Labels of `praisani_messages_refused_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct Refusal {
    /// The listener's service.
    pub service: Service,
    /// Where in the transaction.
    pub stage: Stage,
    /// The reply's enhanced status code (its basic code when it has none).
    pub status: String,
}

/// Labels of `praisani_auth_failures_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct AuthFailure {
    /// The listener's service.
    pub service: Service,
    /// Why it failed.
    pub reason: AuthReason,
}

/// Labels of `praisani_queue_recipients`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ByState {
    /// The recipients' state.
    pub state: QueueState,
}

/// Labels of `praisani_delivery_attempts_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ByResult {
    /// The attempt's result.
    pub result: DeliveryResult,
}

/// Labels of `praisani_store_operation_seconds`: the operation is named at
/// the call site (`accept`, `queue_record`…), in whichever crate calls the
/// store.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ByOperation {
    /// The store operation.
    pub operation: &'static str,
}
