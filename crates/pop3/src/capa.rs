//! The CAPA list (RFC 2449 section 5), built from the session's config and state.
//!
//! Capabilities that depend on the connection (USER only when plaintext logins are allowed)
//! or on the user (EXPIRE after login) are decided here, so later additions such as STLS or
//! SASL become one more line driven by a `Config` field.

use crate::config::{Config, Expire};

/// Capability lines, without line endings.
///
/// `user_expire` is `None` before login; after login it is the user's retention policy.
pub(crate) fn capabilities(config: &Config, user_expire: Option<Expire>) -> Vec<String> {
    let authorization = user_expire.is_none();
    let mut caps = vec!["TOP".to_owned(), "UIDL".to_owned()];
    // RFC 2449 6.2: advertise USER only where USER/PASS would be accepted.
    if authorization && config.allow_plaintext {
        caps.push("USER".to_owned());
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
            capabilities(&config, None),
            [
                "TOP",
                "UIDL",
                "USER",
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
        let caps = capabilities(&config, None);
        assert!(caps.contains(&"EXPIRE 30 USER".to_owned()), "{caps:?}");
        assert!(!caps.contains(&"USER".to_owned()));
        let caps = capabilities(&config, Some(Expire::Days(7)));
        assert!(caps.contains(&"EXPIRE 7".to_owned()), "{caps:?}");
    }

    #[test]
    fn no_user_after_login_or_without_plaintext() {
        let config = Config {
            allow_plaintext: true,
            implementation: String::new(),
            ..Config::default()
        };
        let caps = capabilities(&config, Some(Expire::Never));
        assert!(!caps.contains(&"USER".to_owned()));
        assert!(!caps.iter().any(|c| c.starts_with("IMPLEMENTATION")));
    }
}
