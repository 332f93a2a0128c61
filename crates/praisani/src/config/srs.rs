//! `[srs]`: the Sender Rewriting Scheme for forwarded mail and the return
//! path of bounces to SRS addresses (on by default).

use super::{ConfigError, Secret};
use praisani_mailaddr::Domain;
use serde::Deserialize;

/// `[srs]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SrsConfig {
    /// Rewrite the envelope sender of forwarded mail and accept bounces to
    /// SRS addresses of `domain`.
    pub enabled: bool,
    /// The domain of our SRS addresses; default: `hostname`, which reaches
    /// us without an MX record of its own (RFC 5321 section 5.1). It needs
    /// an SPF record allowing us; it need not be a hosted domain.
    pub domain: Option<String>,
    /// Days an SRS address is good for bounces (1–1000).
    pub max_age_days: u16,
    /// Signs instead of the store's secret (which then only verifies):
    /// to rotate, or to share addresses with libsrs2/postsrsd. Every node
    /// must have the same.
    pub secret: Option<Secret>,
    /// Older secrets, still accepted on bounces, never used to sign.
    pub extra_secrets: Vec<Secret>,
}

impl Default for SrsConfig {
    fn default() -> Self {
        SrsConfig {
            enabled: true,
            domain: None,
            max_age_days: 21,
            secret: None,
            extra_secrets: Vec::new(),
        }
    }
}

impl SrsConfig {
    /// Checks what serde cannot.
    pub fn validate(&self, hostname: &str) -> Result<(), ConfigError> {
        if !(1..=1000).contains(&self.max_age_days) {
            return Err(ConfigError(
                "srs.max_age_days must be between 1 and 1000 (SRS timestamps repeat every 1024 days)"
                    .into(),
            ));
        }
        if self.secret.as_ref().is_some_and(|s| s.expose().is_empty())
            || self.extra_secrets.iter().any(|s| s.expose().is_empty())
        {
            return Err(ConfigError(
                "srs.secret and srs.extra_secrets must not be empty".into(),
            ));
        }
        if self.enabled {
            self.srs_domain(hostname)?;
        }
        Ok(())
    }

    /// The domain of our SRS addresses: `domain`, else the host name.
    pub fn srs_domain(&self, hostname: &str) -> Result<Domain, ConfigError> {
        let name = self.domain.as_deref().unwrap_or(hostname);
        Domain::parse(name).map_err(|_| {
            ConfigError(format!(
                "srs.domain {name:?} is not a valid domain name (set srs.domain)"
            ))
        })
    }

    /// The secrets in the order [`praisani_mailhost::srs::Srs::new`] takes
    /// them (the first signs): `secret`, the store's, `extra_secrets`.
    pub fn secrets(&self, store_secret: Vec<u8>) -> Vec<Vec<u8>> {
        let mut all = Vec::new();
        if let Some(s) = &self.secret {
            all.push(s.expose().as_bytes().to_vec());
        }
        all.push(store_secret);
        all.extend(
            self.extra_secrets
                .iter()
                .map(|s| s.expose().as_bytes().to_vec()),
        );
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> SrsConfig {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn defaults_and_checks() {
        let d = SrsConfig::default();
        assert!(d.enabled);
        assert_eq!(d.max_age_days, 21);
        assert_eq!(
            d.srs_domain("mx.example.net").unwrap().ascii(),
            "mx.example.net"
        );
        assert!(d.validate("mx.example.net").is_ok());
        assert!(
            parse("max_age_days = 0")
                .validate("mx.example.net")
                .is_err()
        );
        assert!(
            parse("max_age_days = 1024")
                .validate("mx.example.net")
                .is_err()
        );
        assert!(
            parse("domain = \"bad domain\"")
                .validate("mx.example.net")
                .is_err()
        );
        assert!(parse("secret = \"\"").validate("mx.example.net").is_err());
        let c = parse("domain = \"ส่งต่อ.ไทย\"\nsecret = \"new\"\nextra_secrets = [\"old\"]");
        let domain = c.srs_domain("mx.example.net").unwrap();
        assert!(domain.is_idn() && domain.ascii().ends_with(".xn--o3cw4h"));
        assert_eq!(
            c.secrets(b"stored".to_vec()),
            vec![b"new".to_vec(), b"stored".to_vec(), b"old".to_vec()]
        );
        assert!(toml::from_str::<SrsConfig>("max_age = 3").is_err());
    }
}
