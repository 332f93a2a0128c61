//! The CAPA list (RFC 2449 section 5), built from the session's config and state.
//!
//! Capabilities that depend on the connection (USER only when plaintext logins are allowed,
//! STLS only before TLS, SASL with the mechanisms of the current TLS state) or on the user
//! (EXPIRE after login) are decided here, each driven by a `Config` field.

use crate::config::{Config, Expire};

/// Capability lines, without line endings.
///
/// `user_expire` is `None` before login; after login it is the user's retention policy.
/// `tls_active` is whether the connection is under TLS now.
pub(crate) fn capabilities(
    config: &Config,
    tls_active: bool,
    user_expire: Option<Expire>,
) -> Vec<String> {
    let authorization = user_expire.is_none();
    let mut caps = vec!["TOP".to_owned(), "UIDL".to_owned()];
    // RFC 2449 6.2: advertise USER only where USER/PASS would be accepted. STLS and SASL
    // are AUTHORIZATION commands too (RFC 2595 section 4, RFC 5034 section 5); a client
    // re-issues CAPA after STLS (RFC 2595 section 4) and sees the TLS-state list.
    if authorization {
        if config.plaintext_allowed(tls_active) {
            caps.push("USER".to_owned());
        }
        let mechanisms = config.sasl_mechanisms(tls_active);
        if !mechanisms.is_empty() {
            let names: Vec<String> = mechanisms.iter().map(|m| m.to_ascii_uppercase()).collect();
            caps.push(format!("SASL {}", names.join(" ")));
        }
        if config.stls_offered(tls_active) {
            caps.push("STLS".to_owned());
        }
    }
    // RFC 6856: both are announced before and after login. `USER`: UTF-8 user names
    // and passwords are accepted after the UTF8 command.
    if config.utf8 {
        caps.push("UTF8 USER".to_owned());
    }
    if config.languages().len() > 1 {
        caps.push("LANG".to_owned());
    }
    caps.push("RESP-CODES".to_owned());
    caps.push("AUTH-RESP-CODE".to_owned());
    caps.push("PIPELINING".to_owned());
    caps.push(match user_expire {
        Some(expire) => format!("EXPIRE {}", expire_arg(expire)),
        // Before login a per-user policy is flagged with USER; the grammar gives NEVER no
        // USER suffix, so a per-user server should configure its shortest period instead.
        None => match (config.expire, config.expire_per_user) {
            (Expire::Days(days), true) => format!("EXPIRE {days} USER"),
            (expire, _) => format!("EXPIRE {}", expire_arg(expire)),
        },
    });
    if let Some(delay) = config.login_delay {
        caps.push(format!("LOGIN-DELAY {delay}"));
    }
    if !config.implementation.is_empty() {
        caps.push(format!("IMPLEMENTATION {}", config.implementation));
    }
    caps
}

fn expire_arg(expire: Expire) -> String {
    match expire {
        Expire::Never => "NEVER".to_owned(),
        Expire::Days(days) => days.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn before_login() {
        let config = Config {
            allow_plaintext: true,
            login_delay: Some(300),
            ..Config::default()
        };
        assert_eq!(
            capabilities(&config, false, None),
            [
                "TOP",
                "UIDL",
                "USER",
                "UTF8 USER",
                "LANG",
                "RESP-CODES",
                "AUTH-RESP-CODE",
                "PIPELINING",
                "EXPIRE NEVER",
                "LOGIN-DELAY 300",
                "IMPLEMENTATION praisani"
            ]
        );
    }

    #[test]
    fn per_user_expire() {
        let config = Config {
            expire: Expire::Days(30),
            expire_per_user: true,
            ..Config::default()
        };
        let caps = capabilities(&config, false, None);
        assert!(caps.contains(&"EXPIRE 30 USER".to_owned()), "{caps:?}");
        assert!(!caps.contains(&"USER".to_owned()));
        let caps = capabilities(&config, false, Some(Expire::Days(7)));
        assert!(caps.contains(&"EXPIRE 7".to_owned()), "{caps:?}");
    }

    #[test]
    fn no_user_after_login_or_without_plaintext() {
        let config = Config {
            allow_plaintext: true,
            implementation: String::new(),
            ..Config::default()
        };
        let caps = capabilities(&config, false, Some(Expire::Never));
        assert!(!caps.contains(&"USER".to_owned()));
        assert!(!caps.iter().any(|c| c.starts_with("IMPLEMENTATION")));
    }

    fn sasl_config() -> Config {
        Config {
            stls: true,
            sasl_mechanisms_tls: vec!["plain".into(), "SCRAM-SHA-256".into()],
            sasl_mechanisms_plain: vec!["SCRAM-SHA-256".into()],
            implementation: String::new(),
            utf8: false,
            languages: Vec::new(),
            ..Config::default()
        }
    }

    #[test]
    fn stls_sasl_and_user_follow_tls_state() {
        let config = sasl_config();
        assert_eq!(
            capabilities(&config, false, None),
            [
                "TOP",
                "UIDL",
                "SASL SCRAM-SHA-256",
                "STLS",
                "RESP-CODES",
                "AUTH-RESP-CODE",
                "PIPELINING",
                "EXPIRE NEVER"
            ]
        );
        assert_eq!(
            capabilities(&config, true, None),
            [
                "TOP",
                "UIDL",
                "USER",
                "SASL PLAIN SCRAM-SHA-256",
                "RESP-CODES",
                "AUTH-RESP-CODE",
                "PIPELINING",
                "EXPIRE NEVER"
            ]
        );
        for tls in [false, true] {
            let caps = capabilities(&config, tls, Some(Expire::Never));
            assert!(
                !caps
                    .iter()
                    .any(|c| c == "USER" || c == "STLS" || c.starts_with("SASL")),
                "{caps:?}"
            );
        }
    }

    #[test]
    fn utf8_and_lang_in_both_states_when_configured() {
        let config = Config::default();
        for expire in [None, Some(Expire::Never)] {
            let caps = capabilities(&config, false, expire);
            assert!(caps.contains(&"UTF8 USER".to_owned()), "{caps:?}");
            assert!(caps.contains(&"LANG".to_owned()), "{caps:?}");
        }
        let english_only = Config {
            utf8: false,
            languages: vec![crate::Language::En],
            ..Config::default()
        };
        let caps = capabilities(&english_only, false, None);
        assert!(
            !caps.iter().any(|c| c.starts_with("UTF8") || c == "LANG"),
            "{caps:?}"
        );
    }

    #[test]
    fn empty_mechanism_list_omits_sasl() {
        let config = Config {
            sasl_mechanisms_plain: Vec::new(),
            stls: false,
            ..sasl_config()
        };
        let caps = capabilities(&config, false, None);
        assert!(!caps.iter().any(|c| c.starts_with("SASL")), "{caps:?}");
        assert!(!caps.contains(&"STLS".to_owned()), "{caps:?}");
        assert!(capabilities(&config, true, None).contains(&"SASL PLAIN SCRAM-SHA-256".to_owned()));
    }
}
