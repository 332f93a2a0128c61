//! The Sender Rewriting Scheme (SRS) in the form libsrs2 and postsrsd write
//! it, so addresses we make can be reversed by them and theirs by us when
//! they share the secret.
//!
//! A forwarded message leaves with its envelope sender rewritten into our
//! domain, so the next server's SPF check asks about us, not about the
//! original sender:
//!
//! - `SRS0=HHHH=TT=orig-domain=orig-local@our-domain` for an ordinary
//!   sender: `HHHH` is the first four characters of the base64 HMAC-SHA1
//!   over the timestamp, domain and local part (ASCII lower-cased, so the
//!   case a relay smashes does not matter), `TT` the day of sending modulo
//!   1024 in two base-32 characters;
//! - `SRS1=HHHH=first-domain==HHHH=TT=orig-domain=orig-local@our-domain`
//!   when the sender is already another forwarder's SRS0 address: only that
//!   forwarder can check its hash, so we keep its address whole and sign
//!   the pair (first forwarder, rest) — a bounce goes back to the first
//!   forwarder in one step, not along the whole chain.
//!
//! A bounce to such an address is reversed ([`Srs::reverse`]): the hash is
//! checked with each secret (the first signs, the others are kept during a
//! rotation) and the timestamp against the maximum age, so nobody can use
//! our SRS domain as a relay to addresses of their choosing.

use aws_lc_rs::hmac;
use praisani_mailaddr::{Address, Domain};
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// The base-32 digits of the timestamp (RFC 4648's alphabet, as libsrs2).
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// Timestamps count days modulo this (two base-32 digits).
const TIME_SLOTS: u64 = 1024;
/// Characters of the base64 hash written and required.
const HASH_LEN: usize = 4;
/// What may follow `SRS0`/`SRS1`; we write `=`.
const SEPARATORS: &[u8] = b"=+-";

/// Why an address could not be reversed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SrsError {
    /// The local part does not start with `SRS0`/`SRS1` and a separator.
    #[error("not an SRS address")]
    NotSrs,
    /// The hash does not match under any of our secrets: forged, or made
    /// with a secret we no longer keep.
    #[error("SRS hash does not match")]
    BadHash,
    /// The hash is right but the address is older than the maximum age.
    #[error("SRS address has expired")]
    Expired,
    /// The address starts like SRS but lacks a part or has a bad one.
    #[error("malformed SRS address")]
    Malformed,
}

/// An SRS signer and verifier: the secrets and the maximum age.
#[derive(Clone)]
pub struct Srs {
    keys: Vec<hmac::Key>,
    max_age_days: u16,
}

impl fmt::Debug for Srs {
    // The secrets stay out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Srs")
            .field("secrets", &self.keys.len())
            .field("max_age_days", &self.max_age_days)
            .finish()
    }
}

impl Srs {
    /// An SRS with `secrets` (the first signs, all verify; empty ones are
    /// dropped) accepting addresses up to `max_age_days` days old. Without
    /// any secret nothing is rewritten and nothing reverses.
    pub fn new(secrets: Vec<Vec<u8>>, max_age_days: u16) -> Srs {
        let keys = secrets
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, s))
            .collect();
        Srs { keys, max_age_days }
    }

    /// The envelope sender for `sender`'s message forwarded by us, in
    /// `our_domain`. A sender in `our_domain` already (our users, our own
    /// SRS addresses) is kept; another forwarder's SRS address becomes SRS1.
    /// When the rewritten local part would pass the 64-octet limit of RFC
    /// 5321 (a very long original address), or there is no secret, the
    /// sender is kept as it is: the message still goes, its SPF may fail.
    /// The null sender never gets here: the caller keeps it null.
    pub fn forward(&self, sender: &Address, our_domain: &Domain, now: SystemTime) -> Address {
        if sender.domain() == our_domain {
            return sender.clone();
        }
        let Some(key) = self.keys.first() else {
            tracing::warn!("SRS has no secret; the sender is not rewritten");
            return sender.clone();
        };
        let host = sender.domain().ascii();
        let local = sender.local();
        let rewritten = match tag(local) {
            // Another forwarder's SRS0: sign (its domain, the rest after
            // "SRS0", separator included) so the bounce goes back to it.
            Some(Tag::Srs0) => {
                let rest = &local[4..];
                srs1(key, host, rest)
            }
            // An SRS1 already names the first forwarder: keep that and its
            // rest, sign them anew with our key.
            Some(Tag::Srs1) => match split_srs1(&local[5..]) {
                Some((_, first, rest)) => srs1(key, first, rest),
                None => srs0(key, host, local, now),
            },
            None => srs0(key, host, local, now),
        };
        match Address::new(&rewritten, our_domain.clone()) {
            Ok(a) => a,
            Err(_) => {
                tracing::warn!(sender = %sender, "SRS address would be too long; the sender is not rewritten");
                sender.clone()
            }
        }
    }

    /// The address an SRS address of ours stands for: the original sender
    /// for SRS0, the first forwarder's SRS0 address for SRS1. The caller
    /// has checked that `addr` is in our SRS domain.
    pub fn reverse(&self, addr: &Address, now: SystemTime) -> Result<Address, SrsError> {
        let local = addr.local();
        match tag(local).ok_or(SrsError::NotSrs)? {
            Tag::Srs0 => {
                let mut parts = local[5..].splitn(4, '=');
                let (Some(hash), Some(stamp), Some(host), Some(user)) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    return Err(SrsError::Malformed);
                };
                if [hash, stamp, host, user].iter().any(|p| p.is_empty()) {
                    return Err(SrsError::Malformed);
                }
                let then = decode_stamp(stamp).ok_or(SrsError::Malformed)?;
                self.check_hash(hash, &[stamp, host, user])?;
                if !fresh(then, day(now), self.max_age_days) {
                    return Err(SrsError::Expired);
                }
                let domain = Domain::parse(host).map_err(|_| SrsError::Malformed)?;
                Address::new(user, domain).map_err(|_| SrsError::Malformed)
            }
            Tag::Srs1 => {
                let (hash, first, rest) = split_srs1(&local[5..]).ok_or(SrsError::Malformed)?;
                self.check_hash(hash, &[first, rest])?;
                let domain = Domain::parse(first).map_err(|_| SrsError::Malformed)?;
                Address::new(&format!("SRS0{rest}"), domain).map_err(|_| SrsError::Malformed)
            }
        }
    }

    /// True when `local` is written in SRS (`SRS0`/`SRS1` and a separator,
    /// in any case) — ours or another forwarder's.
    pub fn is_srs(local: &str) -> bool {
        tag(local).is_some()
    }

    /// Checks `given` against the hash of `parts` under every secret,
    /// ignoring case as libsrs2 does (relays lower-case local parts).
    fn check_hash(&self, given: &str, parts: &[&str]) -> Result<(), SrsError> {
        if given.len() < HASH_LEN {
            return Err(SrsError::BadHash);
        }
        let given = &given.as_bytes()[..HASH_LEN];
        if self
            .keys
            .iter()
            .any(|k| hash(k, parts).as_bytes().eq_ignore_ascii_case(given))
        {
            Ok(())
        } else {
            Err(SrsError::BadHash)
        }
    }
}

/// Which SRS form a local part is in.
enum Tag {
    Srs0,
    Srs1,
}

/// The SRS form of `local`, if it is one.
fn tag(local: &str) -> Option<Tag> {
    let b = local.as_bytes();
    if b.len() < 5 || !SEPARATORS.contains(&b[4]) {
        return None;
    }
    if b[..4].eq_ignore_ascii_case(b"SRS0") {
        Some(Tag::Srs0)
    } else if b[..4].eq_ignore_ascii_case(b"SRS1") {
        Some(Tag::Srs1)
    } else {
        None
    }
}

/// `HHHH=first-domain=rest` (what follows `SRS1=`) split in its parts.
fn split_srs1(s: &str) -> Option<(&str, &str, &str)> {
    let (hash, s) = s.split_once('=')?;
    let (first, rest) = s.split_once('=')?;
    if hash.is_empty() || first.is_empty() || rest.is_empty() {
        return None;
    }
    Some((hash, first, rest))
}

/// `SRS0=HHHH=TT=host=local`.
fn srs0(key: &hmac::Key, host: &str, local: &str, now: SystemTime) -> String {
    let stamp = encode_stamp(day(now));
    let h = hash(key, &[&stamp, host, local]);
    format!("SRS0={h}={stamp}={host}={local}")
}

/// `SRS1=HHHH=first=rest`.
fn srs1(key: &hmac::Key, first: &str, rest: &str) -> String {
    let h = hash(key, &[first, rest]);
    format!("SRS1={h}={first}={rest}")
}

/// The first four base64 characters of the HMAC-SHA1 over the parts, each
/// ASCII lower-cased, run together.
fn hash(key: &hmac::Key, parts: &[&str]) -> String {
    let mut ctx = hmac::Context::with_key(key);
    for p in parts {
        ctx.update(p.to_ascii_lowercase().as_bytes());
    }
    let tag = ctx.sign();
    // Three octets are exactly four base64 characters.
    praisani_message::base64::encode(&tag.as_ref()[..3])
}

/// Days since the epoch (a clock before 1970 counts as day 0).
fn day(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() / 86_400
}

/// The day modulo 1024 in two base-32 digits.
fn encode_stamp(day: u64) -> String {
    let slot = day % TIME_SLOTS;
    let hi = BASE32[(slot >> 5) as usize & 31];
    let lo = BASE32[slot as usize & 31];
    String::from_utf8(vec![hi, lo]).unwrap_or_default()
}

/// The slot of a two-digit base-32 timestamp, any case.
fn decode_stamp(stamp: &str) -> Option<u64> {
    let b = stamp.as_bytes();
    if b.len() != 2 {
        return None;
    }
    let digit = |c: u8| {
        BASE32
            .iter()
            .position(|&d| d == c.to_ascii_uppercase())
            .map(|p| p as u64)
    };
    Some((digit(b[0])? << 5) | digit(b[1])?)
}

/// True when a stamp of slot `then` is at most `max_age` days before
/// `today`, counting round the 1024-day cycle (a stamp "from the future"
/// is a very old one).
fn fresh(then: u64, today: u64, max_age: u16) -> bool {
    let mut now = today % TIME_SLOTS;
    if now < then {
        now += TIME_SLOTS;
    }
    now - then <= u64::from(max_age)
}

#[cfg(test)]
mod tests;
