//! What each token scope may do. Decided from the scope alone, before the
//! store is asked anything: a domain administrator of A asking about B is
//! refused the same way whether or not B exists, so refusals reveal
//! nothing about other customers.
//!
//! The rules, by scope:
//!
//! - **Server administrator**: everything.
//! - **Domain administrator** of some domains: within those domains, see
//!   and change mailboxes, aliases, the catch-all, the contact, DKIM keys,
//!   the domain's retention and its DNS records; each mailbox's password,
//!   quota, retention, notices, vacation reply and forwarding; put a
//!   mailbox on hold (say, one whose password leaked). Not: anything
//!   server-wide (domains, tokens, the queue), the domain's total quota
//!   (what the provider sells), or releasing a hold: a sending hold is the
//!   provider's anti-abuse tool, and the API cannot tell one the domain
//!   administrator placed from one containment placed, so only the server
//!   administrator takes holds off.
//! - **User** of one mailbox: see it (its usage, quota, retention, hold),
//!   change its password, vacation reply, forwarding and notices
//!   (language, quota-warning copy). Not its quota, retention or holds.

use praisani_mailaddr::{Address, Domain};
use praisani_store::tokens::TokenScope;

/// Something a request wants to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action<'a> {
    /// Server-wide: add or remove domains, make tokens.
    Server,
    /// See a domain, its mailboxes and aliases, its DNS records.
    ReadDomain(&'a Domain),
    /// Change a domain's mailboxes and aliases (quotas included).
    ManageDomain(&'a Domain),
    /// See one mailbox.
    ReadMailbox(&'a Address),
    /// Change one mailbox's password.
    SetPassword(&'a Address),
    /// Change one mailbox's quota.
    SetQuota(&'a Address),
    /// Change what the provider or the domain sets for one mailbox: its
    /// retention; put it on hold.
    ManageMailbox(&'a Address),
    /// Change one mailbox's own settings: its vacation reply, forwarding,
    /// notice language and quota-warning copy.
    MailboxSettings(&'a Address),
    /// Take a mailbox's sending hold off (server administrators only).
    ReleaseHold(&'a Address),
    /// Limit the storage of all of a domain's mailboxes together (server
    /// administrators only).
    SetDomainQuota(&'a Domain),
    /// See and steer the outbound queue (server administrators only).
    Queue,
}

/// Whether `scope` may do `action`.
///
/// Server administrators may do everything; domain administrators
/// anything within their domains but the domain's total quota and
/// releasing holds (not server-wide things); users may see their own
/// mailbox and change its password and own settings, nothing else (not
/// its quota: that is what the provider sells). The module documentation
/// has the whole list.
pub fn allows(scope: &TokenScope, action: Action<'_>) -> bool {
    match scope {
        TokenScope::Admin => true,
        TokenScope::Domains(ds) => match action {
            Action::Server | Action::Queue | Action::ReleaseHold(_) | Action::SetDomainQuota(_) => {
                false
            }
            Action::ReadDomain(d) | Action::ManageDomain(d) => ds.contains(d),
            Action::ReadMailbox(a)
            | Action::SetPassword(a)
            | Action::SetQuota(a)
            | Action::ManageMailbox(a)
            | Action::MailboxSettings(a) => ds.contains(a.domain()),
        },
        TokenScope::User(me) => match action {
            Action::ReadMailbox(a) | Action::SetPassword(a) | Action::MailboxSettings(a) => a == me,
            Action::Server
            | Action::Queue
            | Action::ReadDomain(_)
            | Action::ManageDomain(_)
            | Action::SetDomainQuota(_)
            | Action::SetQuota(_)
            | Action::ManageMailbox(_)
            | Action::ReleaseHold(_) => false,
        },
    }
}

/// Whether the holder of a `holder` token may make, see and revoke a
/// token of `target` scope: a server administrator any; a domain
/// administrator one for some of its own domains or for a user of one of
/// them (never a server administrator's, never one reaching a domain it
/// does not hold); a user none (not even its own: it is made for them).
pub fn reaches(holder: &TokenScope, target: &TokenScope) -> bool {
    match (holder, target) {
        (TokenScope::Admin, _) => true,
        (TokenScope::Domains(mine), TokenScope::Domains(theirs)) => {
            !theirs.is_empty() && theirs.iter().all(|d| mine.contains(d))
        }
        (TokenScope::Domains(mine), TokenScope::User(a)) => mine.contains(a.domain()),
        (TokenScope::Domains(_), TokenScope::Admin) | (TokenScope::User(_), _) => false,
    }
}

/// Of `all`, the domains `scope` may see (`None`: none at all, the scope
/// has no business listing domains).
pub fn visible_domains<T>(
    scope: &TokenScope,
    all: Vec<T>,
    name: impl Fn(&T) -> &Domain,
) -> Option<Vec<T>> {
    match scope {
        TokenScope::Admin => Some(all),
        TokenScope::Domains(ds) => Some(all.into_iter().filter(|t| ds.contains(name(t))).collect()),
        TokenScope::User(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Domain {
        Domain::parse(s).unwrap()
    }
    fn a(s: &str) -> Address {
        Address::parse(s).unwrap()
    }

    #[test]
    fn each_scope_stays_in_its_lane() {
        let (da, db) = (d("a.test"), d("b.test"));
        let (anna, bob) = (a("anna@a.test"), a("bob@b.test"));
        let actions = [
            Action::Server,
            Action::ReadDomain(&da),
            Action::ManageDomain(&da),
            Action::ReadMailbox(&anna),
            Action::SetPassword(&anna),
            Action::SetQuota(&anna),
            Action::ManageMailbox(&anna),
            Action::MailboxSettings(&anna),
            Action::ReleaseHold(&anna),
            Action::SetDomainQuota(&da),
            Action::Queue,
            Action::ReadDomain(&db),
            Action::ManageDomain(&db),
            Action::ReadMailbox(&bob),
            Action::SetPassword(&bob),
            Action::SetQuota(&bob),
            Action::ManageMailbox(&bob),
            Action::MailboxSettings(&bob),
            Action::ReleaseHold(&bob),
            Action::SetDomainQuota(&db),
        ];
        let admin: Vec<bool> = actions
            .iter()
            .map(|x| allows(&TokenScope::Admin, *x))
            .collect();
        assert!(admin.iter().all(|x| *x));
        let of_a = TokenScope::Domains(vec![da.clone()]);
        let got: Vec<bool> = actions.iter().map(|x| allows(&of_a, *x)).collect();
        assert_eq!(
            got,
            [
                false, true, true, true, true, true, true, true, false, false, false, // A
                false, false, false, false, false, false, false, false, false, // B
            ]
        );
        let user = TokenScope::User(anna.clone());
        let got: Vec<bool> = actions.iter().map(|x| allows(&user, *x)).collect();
        assert_eq!(
            got,
            [
                false, false, false, true, true, false, false, true, false, false,
                false, // own
                false, false, false, false, false, false, false, false, false, // B
            ]
        );
    }

    #[test]
    fn tokens_reach_within_their_holders_domains() {
        let (da, db) = (d("a.test"), d("b.test"));
        let admin = TokenScope::Admin;
        let of_a = TokenScope::Domains(vec![da.clone()]);
        let of_ab = TokenScope::Domains(vec![da.clone(), db.clone()]);
        let anna = TokenScope::User(a("anna@a.test"));
        let bob = TokenScope::User(a("bob@b.test"));
        for t in [&admin, &of_a, &of_ab, &anna, &bob] {
            assert!(reaches(&admin, t));
            assert!(!reaches(&anna, t), "a user makes no tokens");
        }
        assert!(reaches(&of_ab, &of_a));
        assert!(reaches(&of_ab, &of_ab));
        assert!(reaches(&of_ab, &bob));
        assert!(reaches(&of_a, &anna));
        assert!(!reaches(&of_a, &of_ab), "not a domain it does not hold");
        assert!(!reaches(&of_a, &bob));
        assert!(!reaches(&of_a, &admin));
        assert!(!reaches(&of_ab, &admin));
        assert!(!reaches(&of_a, &TokenScope::Domains(Vec::new())));
    }

    #[test]
    fn domain_admins_see_their_domains_only() {
        let all = vec![d("a.test"), d("b.test"), d("c.test")];
        let scope = TokenScope::Domains(vec![d("c.test"), d("a.test")]);
        assert_eq!(
            visible_domains(&scope, all.clone(), |x| x),
            Some(vec![d("a.test"), d("c.test")])
        );
        assert_eq!(
            visible_domains(&TokenScope::User(a("x@a.test")), all, |x| x),
            None
        );
    }
}
