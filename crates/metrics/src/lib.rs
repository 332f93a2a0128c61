//! praisani's metrics: the families the server exports, declared on
//! `prometheus-client` with typed label sets, and their OpenMetrics text
//! exposition that `/metrics` answers with.
//!
//! The crate is on the lowest floor and knows nothing about mail, so the
//! store, `mailhost`, `delivery` and the binary can all count into the one
//! process-wide [`server::Metrics`] ([`server::metrics`]).

pub mod labels;
pub mod server;

pub use server::{CONTENT_TYPE, Metrics, metrics};
