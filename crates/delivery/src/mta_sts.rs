//! MTA-STS (RFC 8461): whether a recipient domain asks that its mail
//! arrive only over TLS, at hosts it names, with certificates that verify.
//!
//! [`MtaSts::policy`] answers for one domain, as the queue asks before it
//! connects:
//!
//! 1. the `_mta-sts.DOMAIN` TXT record through the router's resolver
//!    (`delivery.nameservers`): exactly one record starting `v=STSv1`,
//!    with an `id`;
//! 2. the policy cached in the store (every node shares it, a restart
//!    keeps it), valid until `max_age` after it was fetched;
//! 3. a fetch ([`fetch`]) when there is no valid cached policy, when the
//!    TXT `id` differs from the cached policy's, or proactively once the
//!    cached policy is half way to expiry (at most a day old): a policy
//!    that stays published never lapses.
//!
//! A refresh that fails (the policy host unreachable, its certificate
//! invalid, the file malformed) keeps the last good policy until it
//! expires (RFC 8461 section 5.1); the failure is reported through the
//! queue's TLS-RPT hook. A missing or unreadable TXT record does not void
//! a valid cached policy either: an attacker who strips the record gains
//! nothing. With neither a valid cached policy nor a fetched one the
//! domain has no policy: delivery is opportunistic, as the RFC says.
//! Failed refreshes under a valid policy are not repeated for
//! [`REFRESH_BACKOFF`], so a broken policy host is not asked for every
//! message.

mod fetch;
mod policy;

pub use fetch::{FetchError, FetchSettings, MAX_POLICY_SIZE, fetch, parse_response};
pub use policy::{MAX_AGE_LIMIT, Mode, MxPattern, Policy, PolicyError, txt_id};

use crate::route::Router;
use crate::tls_report::ResultType;
use praisani_store::{MtaStsRecord, Store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio_rustls::TlsConnector;

/// How long a failed refresh is not repeated while a valid policy is
/// cached, in seconds.
pub const REFRESH_BACKOFF: i64 = 600;
/// A cached policy is refreshed after at most this many seconds.
const REFRESH_AFTER: i64 = 86_400;

/// A domain's policy in force, as found for one delivery.
#[derive(Clone, Debug)]
pub struct Found {
    /// The policy domain.
    pub domain: String,
    /// The policy.
    pub policy: Arc<Policy>,
}

/// Something that went wrong while finding a policy, for the TLS-RPT
/// hook: its result type (RFC 8460 section 4.3) and text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trouble {
    /// `sts-policy-fetch-error`, `sts-policy-invalid` or
    /// `sts-webpki-invalid`.
    pub result_type: ResultType,
    /// What happened.
    pub detail: String,
}

/// Finds, fetches and caches MTA-STS policies.
pub struct MtaSts {
    store: Arc<dyn Store>,
    tls: TlsConnector,
    settings: FetchSettings,
    /// When a refresh of a domain last failed (Unix seconds), this node.
    failed: Mutex<HashMap<String, i64>>,
}

/// What to do for a delivery, from the cached policy and the TXT record.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// Apply the cached policy (or none, when there is no valid one).
    Cached,
    /// Fetch the policy announced with this id.
    Fetch(String),
}

/// The refresh rule (see the module text): fetch when a policy is
/// announced and there is no valid cached one, its id differs, or it is
/// half way to expiry (at most [`REFRESH_AFTER`] old), unless a refresh
/// failed within [`REFRESH_BACKOFF`]; else the cached policy, if any.
fn next_step(
    valid: Option<&(MtaStsRecord, Policy)>,
    txt: &Txt,
    now: i64,
    backing_off: bool,
) -> Step {
    let Txt::Id(id) = txt else {
        return Step::Cached;
    };
    match valid {
        None => Step::Fetch(id.clone()),
        Some((c, p)) => {
            let fresh = now - c.fetched < (i64::from(p.max_age) / 2).min(REFRESH_AFTER);
            if (c.id == *id && fresh) || backing_off {
                Step::Cached
            } else {
                Step::Fetch(id.clone())
            }
        }
    }
}

/// What the TXT lookup said.
#[derive(Debug)]
enum Txt {
    /// One valid record with this id.
    Id(String),
    /// None, several, or an invalid one: no policy announced.
    Nothing(String),
}

impl MtaSts {
    /// Policies cached in `store`, fetched with `tls` (verifying) and
    /// `settings`.
    pub fn new(store: Arc<dyn Store>, tls: TlsConnector, settings: FetchSettings) -> MtaSts {
        MtaSts {
            store,
            tls,
            settings,
            failed: Mutex::default(),
        }
    }

    /// The policy in force for `domain` (lower-case A-label) at `now`,
    /// `None` when it has none (or `mode: none`); and what went wrong on
    /// the way, for reporting.
    pub async fn policy(
        &self,
        router: &Router,
        domain: &str,
        now: i64,
    ) -> (Option<Found>, Option<Trouble>) {
        let cached = match self.store.mta_sts_get(domain).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(%domain, "MTA-STS: cannot read the cached policy: {e}");
                None
            }
        };
        // A cached policy still valid, parsed (a stored one always parsed
        // when it was stored).
        let valid = cached
            .filter(|c| c.expires > now)
            .and_then(|c| Policy::parse(&c.policy).ok().map(|p| (c, p)));
        let txt = self.txt(router, domain).await;
        let backing_off = self.recently_failed(domain, now);
        let id = match next_step(valid.as_ref(), &txt, now, backing_off) {
            Step::Cached => {
                if let Txt::Nothing(why) = &txt {
                    tracing::debug!(%domain, "MTA-STS: {why}; the cached policy stays in force");
                }
                return (valid.and_then(|(_, p)| found(domain, p)), None);
            }
            Step::Fetch(id) => id,
        };
        match self.fetch_and_store(router, domain, &id, now).await {
            Ok(p) => {
                self.failed_clear(domain);
                (found(domain, p), None)
            }
            Err(trouble) => {
                tracing::warn!(%domain, "MTA-STS: {}: {}", trouble.result_type.as_str(), trouble.detail);
                if valid.is_some() {
                    self.failed_note(domain, now);
                }
                (valid.and_then(|(_, p)| found(domain, p)), Some(trouble))
            }
        }
    }

    async fn txt(&self, router: &Router, domain: &str) -> Txt {
        let name = format!("_mta-sts.{domain}");
        let records = match router.txt(&name).await {
            Ok(r) => r,
            Err(e) => return Txt::Nothing(format!("TXT {name}: {e}")),
        };
        let ours: Vec<_> = records.iter().filter_map(|r| txt_id(r)).collect();
        match ours.as_slice() {
            [Ok(id)] => Txt::Id(id.clone()),
            [] => Txt::Nothing(format!("no TXT record at {name}")),
            [Err(e)] => Txt::Nothing(format!("TXT {name}: {e}")),
            _ => Txt::Nothing(format!("{} TXT records at {name}", ours.len())),
        }
    }

    async fn fetch_and_store(
        &self,
        router: &Router,
        domain: &str,
        id: &str,
        now: i64,
    ) -> Result<Policy, Trouble> {
        let text = fetch(router, &self.tls, domain, &self.settings)
            .await
            .map_err(|e| Trouble {
                result_type: match e {
                    FetchError::Tls { .. } => ResultType::StsWebpkiInvalid,
                    _ => ResultType::StsPolicyFetchError,
                },
                detail: e.to_string(),
            })?;
        let policy = Policy::parse(&text).map_err(|e| Trouble {
            result_type: ResultType::StsPolicyInvalid,
            detail: format!("mta-sts.{domain}: {e}"),
        })?;
        let record = MtaStsRecord {
            domain: domain.to_string(),
            id: id.to_string(),
            policy: text,
            fetched: now,
            expires: now + i64::from(policy.max_age),
        };
        if let Err(e) = self.store.mta_sts_put(&record).await {
            // Applied now all the same; the next delivery fetches again.
            tracing::warn!(%domain, "MTA-STS: cannot cache the policy: {e}");
        }
        tracing::info!(%domain, id, mode = policy.mode.as_str(), max_age = policy.max_age, "MTA-STS: policy fetched");
        Ok(policy)
    }

    fn recently_failed(&self, domain: &str, now: i64) -> bool {
        let failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        failed
            .get(domain)
            .is_some_and(|&t| now - t < REFRESH_BACKOFF)
    }

    fn failed_note(&self, domain: &str, now: i64) {
        let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded: a busy server's failing domains, each forgotten after
        // the backoff.
        failed.retain(|_, &mut t| now - t < REFRESH_BACKOFF);
        failed.insert(domain.to_string(), now);
    }

    fn failed_clear(&self, domain: &str) {
        let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        failed.remove(domain);
    }
}

/// A policy that asks something (`enforce`, `testing`); `none` asks
/// nothing.
fn found(domain: &str, policy: Policy) -> Option<Found> {
    (policy.mode != Mode::None).then(|| Found {
        domain: domain.to_string(),
        policy: Arc::new(policy),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cached(id: &str, fetched: i64, max_age: u32) -> (MtaStsRecord, Policy) {
        let text = format!("version: STSv1\nmode: enforce\nmx: mx.a.test\nmax_age: {max_age}\n");
        let record = MtaStsRecord {
            domain: "a.test".into(),
            id: id.into(),
            policy: text.clone(),
            fetched,
            expires: fetched + i64::from(max_age),
        };
        (record, Policy::parse(&text).unwrap())
    }

    fn id(s: &str) -> Txt {
        Txt::Id(s.into())
    }

    #[test]
    fn fetch_when_nothing_is_cached() {
        assert_eq!(next_step(None, &id("1"), 0, false), Step::Fetch("1".into()));
        // Not even after a failure: there is nothing to fall back on.
        assert_eq!(next_step(None, &id("1"), 0, true), Step::Fetch("1".into()));
        let gone = Txt::Nothing("no TXT record".into());
        assert_eq!(next_step(None, &gone, 0, false), Step::Cached);
    }

    #[test]
    fn the_cached_policy_while_fresh_and_announced_with_its_id() {
        let c = cached("1", 1000, 86_400);
        assert_eq!(
            next_step(Some(&c), &id("1"), 1000 + 3600, false),
            Step::Cached
        );
        // A TXT record that went away or broke does not void it.
        let gone = Txt::Nothing("no TXT record".into());
        assert_eq!(
            next_step(Some(&c), &gone, 1000 + 80_000, false),
            Step::Cached
        );
    }

    #[test]
    fn a_new_id_or_half_the_lifetime_refreshes() {
        let c = cached("1", 1000, 86_400);
        assert_eq!(
            next_step(Some(&c), &id("2"), 1001, false),
            Step::Fetch("2".into())
        );
        assert_eq!(
            next_step(Some(&c), &id("1"), 1000 + 43_200, false),
            Step::Fetch("1".into())
        );
        // A long max_age is refreshed daily.
        let long = cached("1", 1000, MAX_AGE_LIMIT);
        assert_eq!(
            next_step(Some(&long), &id("1"), 1000 + 86_399, false),
            Step::Cached
        );
        assert_eq!(
            next_step(Some(&long), &id("1"), 1000 + 86_400, false),
            Step::Fetch("1".into())
        );
        // After a failed refresh the cached policy is used for a while.
        assert_eq!(next_step(Some(&c), &id("2"), 1001, true), Step::Cached);
    }
}
