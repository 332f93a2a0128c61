//! `[greylist]`: greylisting of other servers at RCPT (off by default).

use super::{ConfigError, duration};
use praisani_store::greylist::GreyRules;
use serde::Deserialize;
use std::time::Duration;

/// `[greylist]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GreylistConfig {
    /// Greylist mail from other servers (not AUTH, not trusted networks,
    /// never postmaster).
    pub enabled: bool,
    /// A new (network, sender, recipient) triplet is refused this long.
    #[serde(deserialize_with = "duration")]
    pub delay: Duration,
    /// A first retry later than this starts the triplet over.
    #[serde(deserialize_with = "duration")]
    pub retry_window: Duration,
    /// Passed triplets and clients are forgotten after this long unseen.
    #[serde(deserialize_with = "duration")]
    pub max_age: Duration,
    /// A client network that passed once is not greylisted again.
    pub remember_clients: bool,
}

impl Default for GreylistConfig {
    fn default() -> Self {
        let r = GreyRules::default();
        let secs = |s: i64| Duration::from_secs(s as u64);
        GreylistConfig {
            enabled: false,
            delay: secs(r.delay),
            retry_window: secs(r.retry_window),
            max_age: secs(r.max_age),
            remember_clients: r.remember_clients,
        }
    }
}

impl GreylistConfig {
    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.retry_window <= self.delay {
            return Err(ConfigError(
                "greylist.retry_window must be longer than greylist.delay".into(),
            ));
        }
        if self.max_age < self.retry_window {
            return Err(ConfigError(
                "greylist.max_age must be at least greylist.retry_window".into(),
            ));
        }
        Ok(())
    }

    /// The rules for the mail host (`None` when off).
    pub fn rules(&self) -> Option<GreyRules> {
        let secs = |d: Duration| d.as_secs().min(i64::MAX as u64) as i64;
        self.enabled.then(|| GreyRules {
            delay: secs(self.delay),
            retry_window: secs(self.retry_window),
            max_age: secs(self.max_age),
            remember_clients: self.remember_clients,
        })
    }
}
