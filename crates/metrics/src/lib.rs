//! praisani's metrics: labelled counters, gauges and histograms kept in
//! memory, and the Prometheus text exposition (format 0.0.4) that
//! `/metrics` answers with.
//!
//! The crate is on the lowest floor and knows nothing about mail, so the
//! store, `mailhost`, `delivery` and the binary can all count into the one
//! process-wide [`server::Metrics`] ([`server::metrics`]).

pub mod family;
pub mod server;
pub mod text;

pub use family::{CounterFamily, GaugeFamily, HistogramFamily};
pub use server::{Metrics, metrics};
