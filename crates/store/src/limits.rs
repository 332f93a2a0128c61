//! Per-domain limits the server administrator sets for a domain's
//! administrators: most mailboxes, most aliases, most quota per mailbox,
//! most quota handed out over all its mailboxes.
//!
//! The decision ([`check`]) is made once, here; both backends call it
//! inside the transaction that makes the change, with the counts read in
//! that transaction, so two concurrent additions cannot both take the
//! last place. Who is bound by the limits is decided above the store
//! (`praisani_mailhost::admin::limits`): the `*_within_limits` methods of
//! [`crate::Store`] check them, the plain ones do not.

use praisani_mailaddr::Domain;

/// A domain's limits; `None` is unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DomainLimits {
    /// Most mailboxes.
    pub mailboxes: Option<u64>,
    /// Most aliases (the catch-all counts as one).
    pub aliases: Option<u64>,
    /// Most storage quota of one mailbox, in octets; when set, a domain
    /// administrator cannot make a mailbox unlimited.
    pub mailbox_quota: Option<u64>,
    /// Most storage quota of all its mailboxes added up, in octets; when
    /// set, a domain administrator cannot make a mailbox unlimited.
    pub total_quota: Option<u64>,
}

impl DomainLimits {
    /// True when nothing is limited.
    pub fn is_unlimited(&self) -> bool {
        *self == DomainLimits::default()
    }
}

/// What a domain has handed out so far, counted in the transaction that
/// checks a change.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Allotted {
    /// Its mailboxes.
    pub mailboxes: u64,
    /// Its aliases.
    pub aliases: u64,
    /// Its mailboxes' storage quotas added up (unlimited mailboxes, which
    /// only the server administrator can make under a quota limit, add
    /// nothing).
    pub quota: u64,
}

/// A change to check against a domain's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitedChange {
    /// A new mailbox with this storage quota.
    Mailbox {
        /// Its quota (`None`: unlimited).
        quota: Option<u64>,
    },
    /// A new alias.
    Alias,
    /// A mailbox's storage quota changing.
    Quota {
        /// Its quota now.
        old: Option<u64>,
        /// The quota asked for.
        new: Option<u64>,
    },
}

/// Why a change was refused: the limit it would pass, named. The texts
/// are what domain administrators read (the API's problem detail).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LimitRefusal {
    /// The domain has its most mailboxes.
    #[error(
        "domain {domain} has reached its limit of {limit} mailbox(es) (set by the server administrator)"
    )]
    Mailboxes {
        /// The domain.
        domain: Domain,
        /// The limit.
        limit: u64,
    },
    /// The domain has its most aliases.
    #[error(
        "domain {domain} has reached its limit of {limit} alias(es) (set by the server administrator)"
    )]
    Aliases {
        /// The domain.
        domain: Domain,
        /// The limit.
        limit: u64,
    },
    /// A quota above the per-mailbox limit.
    #[error(
        "a mailbox of {domain} may have a quota of at most {} (the per-mailbox quota limit)",
        size(*limit)
    )]
    MailboxQuota {
        /// The domain.
        domain: Domain,
        /// The limit, octets.
        limit: u64,
    },
    /// An unlimited quota where quotas are limited.
    #[error(
        "mailboxes of {domain} need a quota: the domain's quota limits do not allow an unlimited one"
    )]
    Unlimited {
        /// The domain.
        domain: Domain,
    },
    /// The quotas would add up to more than the total quota limit.
    #[error(
        "the mailbox quotas of {domain} may add up to at most {} (the total quota limit); {} are handed out, {} more asked",
        size(*limit), size(*allotted), size(*asked)
    )]
    TotalQuota {
        /// The domain.
        domain: Domain,
        /// The limit, octets.
        limit: u64,
        /// What its mailboxes' quotas add up to now.
        allotted: u64,
        /// What the change adds.
        asked: u64,
    },
}

/// A size as administrators write it: `2G`, `500M`, `64K`, or octets.
pub fn size(n: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")];
    for (unit, name) in UNITS {
        if n >= unit && n.is_multiple_of(unit) {
            return format!("{}{name}", n / unit);
        }
    }
    n.to_string()
}

/// Whether `change` fits `domain`'s `limits`, given what it has
/// `allotted` now.
pub fn check(
    domain: &Domain,
    limits: &DomainLimits,
    allotted: &Allotted,
    change: LimitedChange,
) -> Result<(), LimitRefusal> {
    let quota_change = match change {
        LimitedChange::Mailbox { quota } => {
            if let Some(limit) = limits.mailboxes
                && allotted.mailboxes >= limit
            {
                return Err(LimitRefusal::Mailboxes {
                    domain: domain.clone(),
                    limit,
                });
            }
            Some((None, quota))
        }
        LimitedChange::Alias => {
            if let Some(limit) = limits.aliases
                && allotted.aliases >= limit
            {
                return Err(LimitRefusal::Aliases {
                    domain: domain.clone(),
                    limit,
                });
            }
            None
        }
        LimitedChange::Quota { old, new } => Some((old, new)),
    };
    let Some((old, new)) = quota_change else {
        return Ok(());
    };
    let Some(new) = new else {
        if limits.mailbox_quota.is_some() || limits.total_quota.is_some() {
            return Err(LimitRefusal::Unlimited {
                domain: domain.clone(),
            });
        }
        return Ok(());
    };
    if let Some(limit) = limits.mailbox_quota
        && new > limit
    {
        return Err(LimitRefusal::MailboxQuota {
            domain: domain.clone(),
            limit,
        });
    }
    if let Some(limit) = limits.total_quota {
        // The mailbox's own quota is given back before the new one is
        // taken: lowering a quota always fits.
        let others = allotted.quota.saturating_sub(old.unwrap_or(0));
        if others.saturating_add(new) > limit && new > old.unwrap_or(0) {
            return Err(LimitRefusal::TotalQuota {
                domain: domain.clone(),
                limit,
                allotted: allotted.quota,
                asked: new - old.unwrap_or(0),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d() -> Domain {
        Domain::parse("a.test").unwrap()
    }

    #[test]
    fn each_limit_is_named_when_passed() {
        let limits = DomainLimits {
            mailboxes: Some(2),
            aliases: Some(1),
            mailbox_quota: Some(1 << 30),
            total_quota: Some(3 << 30),
        };
        let mut had = Allotted {
            mailboxes: 1,
            aliases: 0,
            quota: 1 << 30,
        };
        let mb = |q| LimitedChange::Mailbox { quota: q };
        assert_eq!(check(&d(), &limits, &had, mb(Some(1 << 30))), Ok(()));
        assert!(matches!(
            check(&d(), &limits, &had, mb(None)),
            Err(LimitRefusal::Unlimited { .. })
        ));
        let e = check(&d(), &limits, &had, mb(Some(2 << 30))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "a mailbox of a.test may have a quota of at most 1G (the per-mailbox quota limit)"
        );
        had.mailboxes = 2;
        let e = check(&d(), &limits, &had, mb(Some(1))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "domain a.test has reached its limit of 2 mailbox(es) (set by the server administrator)"
        );
        assert_eq!(check(&d(), &limits, &had, LimitedChange::Alias), Ok(()));
        had.aliases = 1;
        assert!(matches!(
            check(&d(), &limits, &had, LimitedChange::Alias),
            Err(LimitRefusal::Aliases { limit: 1, .. })
        ));
        // 3G handed out of 3G: raising one mailbox does not fit, lowering does.
        had.quota = 3 << 30;
        let up = LimitedChange::Quota {
            old: Some(512 << 20),
            new: Some(1 << 30),
        };
        let e = check(&d(), &limits, &had, up).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the mailbox quotas of a.test may add up to at most 3G (the total quota limit); 3G are handed out, 512M more asked"
        );
        let down = LimitedChange::Quota {
            old: Some(1 << 30),
            new: Some(1 << 20),
        };
        assert_eq!(check(&d(), &limits, &had, down), Ok(()));
        assert_eq!(
            check(&d(), &DomainLimits::default(), &had, mb(None)),
            Ok(())
        );
    }

    #[test]
    fn sizes_read_like_the_cli_writes_them() {
        assert_eq!(size(2 << 30), "2G");
        assert_eq!(size(500 << 20), "500M");
        assert_eq!(size(64 << 10), "64K");
        assert_eq!(size(1000), "1000");
        assert_eq!(size(0), "0");
    }
}
