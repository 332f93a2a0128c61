//! `[metrics]`: who may scrape `/metrics` (off by default), and
//! `log_format`, the shape of the log lines.

use super::{Cidr, ConfigError, Secret, cidr_list};
use serde::Deserialize;

/// `[metrics]`. `/metrics` is answered on the HTTP and HTTPS listeners to a
/// client from `allow` or one presenting `Authorization: Bearer <token>`;
/// with neither set it does not exist (404), since the counts tell an
/// outsider how busy and how attacked the server is.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Networks allowed to scrape without a token (CIDR list).
    #[serde(deserialize_with = "cidr_list")]
    pub allow: Vec<Cidr>,
    /// A bearer token that lets any client scrape.
    pub token: Option<Secret>,
}

impl MetricsConfig {
    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.token.as_ref().is_some_and(|t| t.expose().len() < 16) {
            return Err(ConfigError(
                "metrics.token must be at least 16 characters (it is the only lock on /metrics for clients outside metrics.allow)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// `/metrics` exists.
    pub fn enabled(&self) -> bool {
        !self.allow.is_empty() || self.token.is_some()
    }
}

/// `log_format`: how log lines are written to standard error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event (the default).
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::LogFormat;

    #[test]
    fn metrics_are_off_and_logs_text_by_default() {
        let c = Config::parse("").unwrap();
        assert!(!c.metrics.enabled());
        assert_eq!(c.log_format, LogFormat::Text);
    }

    #[test]
    fn allow_or_token_turns_metrics_on() {
        let c =
            Config::parse("log_format = \"json\"\n[metrics]\nallow = [\"10.0.0.0/8\"]\n").unwrap();
        assert!(c.metrics.enabled());
        assert!(c.metrics.allow[0].contains("10.1.2.3".parse().unwrap()));
        assert_eq!(c.log_format, LogFormat::Json);
        let c = Config::parse("[metrics]\ntoken = \"0123456789abcdef\"\n").unwrap();
        assert!(c.metrics.enabled());
    }

    #[test]
    fn bad_values_are_refused_with_the_key() {
        let e = Config::parse("[metrics]\ntoken = \"short\"\n").unwrap_err();
        assert!(e.to_string().contains("metrics.token"), "{e}");
        let e = Config::parse("log_format = \"xml\"\n").unwrap_err();
        assert!(e.to_string().contains("log_format"), "{e}");
        let e = Config::parse("[metrics]\nallow = [\"not-a-net\"]\n").unwrap_err();
        assert!(e.to_string().contains("not-a-net"), "{e}");
    }
}
