//! `[sending]`: sending limits for our users' mail, per account and per
//! domain, with per-domain (`[sending.domains."DOMAIN"]`) and per-account
//! (`[sending.accounts."ADDRESS"]`) overrides, and whether an account
//! that hits one is put on hold. A limit of 0 is no limit.

use super::ConfigError;
use praisani_mailaddr::{Address, Domain};
use praisani_mailhost::outbound_policy::{BounceRule, SendingPolicy, account_key};
use praisani_store::sending::{Limits, SendLimits, Window};
use serde::Deserialize;
use std::collections::BTreeMap;

/// One account's limits as written (absent: inherited).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountKeys {
    /// Messages per UTC hour.
    pub messages_per_hour: Option<u64>,
    /// Messages per UTC day.
    pub messages_per_day: Option<u64>,
    /// First-time recipients per UTC hour.
    pub new_recipients_per_hour: Option<u64>,
    /// First-time recipients per UTC day.
    pub new_recipients_per_day: Option<u64>,
}

/// A domain's limits as written: its accounts' and its own (all its
/// accounts together).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainKeys {
    /// Each account's messages per UTC hour.
    pub messages_per_hour: Option<u64>,
    /// Each account's messages per UTC day.
    pub messages_per_day: Option<u64>,
    /// Each account's first-time recipients per UTC hour.
    pub new_recipients_per_hour: Option<u64>,
    /// Each account's first-time recipients per UTC day.
    pub new_recipients_per_day: Option<u64>,
    /// The domain's messages per UTC hour.
    pub domain_messages_per_hour: Option<u64>,
    /// The domain's messages per UTC day.
    pub domain_messages_per_day: Option<u64>,
    /// The domain's first-time recipients per UTC hour.
    pub domain_new_recipients_per_hour: Option<u64>,
    /// The domain's first-time recipients per UTC day.
    pub domain_new_recipients_per_day: Option<u64>,
}

/// `[sending]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SendingConfig {
    /// Each account's messages per UTC hour (default 200).
    pub messages_per_hour: u64,
    /// Each account's messages per UTC day (default 1000).
    pub messages_per_day: u64,
    /// Each account's first-time recipients per UTC hour (default 100).
    pub new_recipients_per_hour: u64,
    /// Each account's first-time recipients per UTC day (default 200).
    pub new_recipients_per_day: u64,
    /// Each domain's messages per UTC hour (default 0: none).
    pub domain_messages_per_hour: u64,
    /// Each domain's messages per UTC day (default 0: none).
    pub domain_messages_per_day: u64,
    /// Each domain's first-time recipients per UTC hour (default 0: none).
    pub domain_new_recipients_per_hour: u64,
    /// Each domain's first-time recipients per UTC day (default 0: none).
    pub domain_new_recipients_per_day: u64,
    /// An account that hits a limit is put on hold (default true).
    pub hold_on_limit: bool,
    /// An account whose recent mail bounces at an unusual rate is put on
    /// hold (default true).
    pub bounce_hold: bool,
    /// Outbound recipients with a final result in the last 24 hours
    /// needed before the bounce rate is judged (default 20).
    pub bounce_min_recipients: u64,
    /// The bounce rate in percent above which the account is held
    /// (default 30).
    pub bounce_percent: u8,
    /// Per-domain overrides.
    pub domains: BTreeMap<String, DomainKeys>,
    /// Per-account overrides.
    pub accounts: BTreeMap<String, AccountKeys>,
}

impl Default for SendingConfig {
    fn default() -> Self {
        SendingConfig {
            messages_per_hour: 200,
            messages_per_day: 1000,
            new_recipients_per_hour: 100,
            new_recipients_per_day: 200,
            domain_messages_per_hour: 0,
            domain_messages_per_day: 0,
            domain_new_recipients_per_hour: 0,
            domain_new_recipients_per_day: 0,
            hold_on_limit: true,
            bounce_hold: true,
            bounce_min_recipients: 20,
            bounce_percent: 30,
            domains: BTreeMap::new(),
            accounts: BTreeMap::new(),
        }
    }
}

/// 0 is no limit.
fn limit(n: u64) -> Option<u64> {
    (n > 0).then_some(n)
}

/// `base` with the keys given in `k` replaced.
fn apply(base: Limits, k: &AccountKeys) -> Limits {
    let or = |given: Option<u64>, old: Option<u64>| given.map_or(old, limit);
    Limits {
        hour: Window {
            messages: or(k.messages_per_hour, base.hour.messages),
            new_recipients: or(k.new_recipients_per_hour, base.hour.new_recipients),
        },
        day: Window {
            messages: or(k.messages_per_day, base.day.messages),
            new_recipients: or(k.new_recipients_per_day, base.day.new_recipients),
        },
    }
}

impl SendingConfig {
    fn global(&self) -> SendLimits {
        let l = |mh, md, nh, nd| Limits {
            hour: Window {
                messages: limit(mh),
                new_recipients: limit(nh),
            },
            day: Window {
                messages: limit(md),
                new_recipients: limit(nd),
            },
        };
        SendLimits {
            account: l(
                self.messages_per_hour,
                self.messages_per_day,
                self.new_recipients_per_hour,
                self.new_recipients_per_day,
            ),
            domain: l(
                self.domain_messages_per_hour,
                self.domain_messages_per_day,
                self.domain_new_recipients_per_hour,
                self.domain_new_recipients_per_day,
            ),
        }
    }

    /// The policy for the mail host, the overrides resolved (an account's
    /// over its domain's over the global values); a key that is not a
    /// domain or an address is an error.
    pub fn policy(&self) -> Result<SendingPolicy, ConfigError> {
        if self.bounce_percent > 100 {
            return Err(ConfigError(
                "sending.bounce_percent must be between 0 and 100".into(),
            ));
        }
        let global = self.global();
        let mut domains = std::collections::HashMap::new();
        for (name, k) in &self.domains {
            let d = Domain::parse(name).map_err(|_| {
                ConfigError(format!("sending.domains: {name:?} is not a domain name"))
            })?;
            let account = apply(
                global.account,
                &AccountKeys {
                    messages_per_hour: k.messages_per_hour,
                    messages_per_day: k.messages_per_day,
                    new_recipients_per_hour: k.new_recipients_per_hour,
                    new_recipients_per_day: k.new_recipients_per_day,
                },
            );
            let domain = apply(
                global.domain,
                &AccountKeys {
                    messages_per_hour: k.domain_messages_per_hour,
                    messages_per_day: k.domain_messages_per_day,
                    new_recipients_per_hour: k.domain_new_recipients_per_hour,
                    new_recipients_per_day: k.domain_new_recipients_per_day,
                },
            );
            domains.insert(d.ascii().to_string(), SendLimits { account, domain });
        }
        let mut accounts = std::collections::HashMap::new();
        for (text, k) in &self.accounts {
            let a = Address::parse(text).map_err(|_| {
                ConfigError(format!("sending.accounts: {text:?} is not a mail address"))
            })?;
            let base = domains
                .get(a.domain().ascii())
                .map_or(global.account, |l: &SendLimits| l.account);
            accounts.insert(account_key(&a), apply(base, k));
        }
        Ok(SendingPolicy {
            account: global.account,
            domain: global.domain,
            domains,
            accounts,
            hold_on_limit: self.hold_on_limit,
            bounce_hold: self.bounce_hold.then_some(BounceRule {
                min_recipients: self.bounce_min_recipients.max(1),
                percent: self.bounce_percent,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_inherit_what_they_do_not_set() {
        let c: SendingConfig = toml::from_str(
            "messages_per_hour = 3\n\
             [domains.\"Example.TEST\"]\nmessages_per_day = 5\ndomain_messages_per_hour = 7\n\
             [accounts.\"Big@example.test\"]\nmessages_per_hour = 0\n",
        )
        .unwrap();
        let p = c.policy().unwrap();
        assert_eq!(p.account.hour.messages, Some(3));
        assert_eq!(p.account.day.new_recipients, Some(200));
        assert_eq!(p.domain.day.messages, None);
        let d = p.domains["example.test"];
        assert_eq!(
            (d.account.hour.messages, d.account.day.messages),
            (Some(3), Some(5))
        );
        assert_eq!(d.domain.hour.messages, Some(7));
        let a = p.accounts["big@example.test"];
        assert_eq!((a.hour.messages, a.day.messages), (None, Some(5)));
        let bad: SendingConfig = toml::from_str("[accounts.\"not an address\"]\n").unwrap();
        assert!(bad.policy().is_err());
    }
}
