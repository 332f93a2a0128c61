//! What each token scope may do. Decided from the scope alone, before the
//! store is asked anything: a domain administrator of A asking about B is
//! refused the same way whether or not B exists, so refusals reveal
//! nothing about other customers.

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
}

/// Whether `scope` may do `action`.
///
/// Server administrators may do everything; domain administrators
/// anything within their domains (not server-wide things); users may see
/// their own mailbox and change its password, nothing else (not its quota:
/// that is what the provider sells).
pub fn allows(scope: &TokenScope, action: Action<'_>) -> bool {
    match scope {
        TokenScope::Admin => true,
        TokenScope::Domains(ds) => match action {
            Action::Server => false,
            Action::ReadDomain(d) | Action::ManageDomain(d) => ds.contains(d),
            Action::ReadMailbox(a) | Action::SetPassword(a) | Action::SetQuota(a) => {
                ds.contains(a.domain())
            }
        },
        TokenScope::User(me) => match action {
            Action::ReadMailbox(a) | Action::SetPassword(a) => a == me,
            Action::Server
            | Action::ReadDomain(_)
            | Action::ManageDomain(_)
            | Action::SetQuota(_) => false,
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
            Action::ReadDomain(&db),
            Action::ManageDomain(&db),
            Action::ReadMailbox(&bob),
            Action::SetPassword(&bob),
            Action::SetQuota(&bob),
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
                false, true, true, true, true, true, false, false, false, false, false
            ]
        );
        let user = TokenScope::User(anna.clone());
        let got: Vec<bool> = actions.iter().map(|x| allows(&user, *x)).collect();
        assert_eq!(
            got,
            [
                false, false, false, true, true, false, false, false, false, false, false
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
