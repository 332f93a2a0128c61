//! `[spam]`: the spam filter (rspamd) on mail from other servers; off
//! unless `rspamd` names its address.

use super::{ConfigError, size, timeout};
use praisani_mailhost::spam::{OnFailure, SpamSettings};
use serde::{Deserialize, Deserializer};
use std::time::Duration;

/// `[spam]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpamConfig {
    /// rspamd's normal worker, `host:port` (e.g. `127.0.0.1:11333`);
    /// unset: no spam filtering.
    pub rspamd: Option<String>,
    /// Bound on one check (connecting, sending the message, the verdict).
    #[serde(deserialize_with = "timeout")]
    pub timeout: Duration,
    /// When rspamd gives no verdict: deliver unfiltered (`"accept"`) or
    /// ask the sender to retry (`"tempfail"`).
    #[serde(deserialize_with = "on_failure")]
    pub on_failure: OnFailure,
    /// Larger messages are delivered without asking rspamd.
    #[serde(deserialize_with = "size")]
    pub max_size: u64,
    /// Put before the subject when rspamd says "rewrite subject"; `""`: none.
    #[serde(deserialize_with = "subject_tag")]
    pub subject_tag: String,
}

impl Default for SpamConfig {
    fn default() -> Self {
        let s = SpamSettings::default();
        SpamConfig {
            rspamd: None,
            timeout: s.timeout,
            on_failure: s.on_failure,
            max_size: s.max_size,
            subject_tag: s.subject_tag,
        }
    }
}

impl SpamConfig {
    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(addr) = &self.rspamd {
            let (host, port) = addr.rsplit_once(':').unwrap_or((addr, ""));
            if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
                return Err(ConfigError(format!(
                    "spam.rspamd = {addr:?}: give host:port, e.g. \"127.0.0.1:11333\""
                )));
            }
        }
        Ok(())
    }

    /// The filter's settings (`None` when off).
    pub fn settings(&self) -> Option<SpamSettings> {
        Some(SpamSettings {
            addr: self.rspamd.clone()?,
            timeout: self.timeout,
            on_failure: self.on_failure,
            max_size: self.max_size,
            subject_tag: self.subject_tag.clone(),
        })
    }
}

fn on_failure<'de, D: Deserializer<'de>>(d: D) -> Result<OnFailure, D::Error> {
    match String::deserialize(d)?.as_str() {
        "accept" => Ok(OnFailure::Accept),
        "tempfail" => Ok(OnFailure::TempFail),
        other => Err(serde::de::Error::custom(format!(
            "unknown on_failure {other:?}: use \"accept\" or \"tempfail\""
        ))),
    }
}

/// One line of at most 64 octets without control characters.
fn subject_tag<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let tag = String::deserialize(d)?;
    if tag.len() > 64 || tag.chars().any(char::is_control) {
        return Err(serde::de::Error::custom(
            "a subject tag is one line of at most 64 octets without control characters",
        ));
    }
    Ok(tag.trim().to_string())
}
