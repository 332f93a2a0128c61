//! DKIM signing of outgoing mail with the sender domain's keys from the
//! data directory's [`KeyStore`], read at most once a minute.

use super::{Runner, now};
use crate::dkim::{KeyStore, Signer};
use praisani_store::{QueueEntry, QueueId};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long DKIM keys read from the key store are reused.
const KEY_CACHE: Duration = Duration::from_secs(60);
/// Messages larger than this are sent unsigned (signing reads the whole
/// message into memory).
const MAX_SIGNED: u64 = 32 * 1024 * 1024;

/// The signers of each sender domain, with when they were read.
pub(super) struct KeyCache {
    store: KeyStore,
    keys: Mutex<HashMap<String, (Instant, Vec<Signer>)>>,
}

impl KeyCache {
    /// A cache over the key store of `data_dir`.
    pub(super) fn new(data_dir: &Path) -> Self {
        KeyCache {
            store: KeyStore::new(data_dir),
            keys: Default::default(),
        }
    }

    /// The domain's signing keys, read from the key store at most once a
    /// minute (so a new `dkim generate` takes effect within a minute)
    /// rather than for every message.
    fn signers(&self, domain: &str, queue: QueueId) -> Vec<Signer> {
        let now = Instant::now();
        let mut cache = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, signers)) = cache.get(domain)
            && now.duration_since(*at) < KEY_CACHE
        {
            return signers.clone();
        }
        let signers = match self.store.signers_for(domain) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(queue = %queue, "DKIM keys of {domain}: {e}");
                Vec::new()
            }
        };
        cache.insert(domain.to_string(), (now, signers.clone()));
        signers
    }
}

impl Runner {
    /// DKIM-Signature headers for a message from one of our domains: one
    /// per key type the sender's domain has (RFC 8463 recommends RSA and
    /// Ed25519 side by side), with the message they were computed over, so
    /// it is not read twice. `None` when the domain has no key.
    pub(super) async fn dkim_sign(&self, entry: &QueueEntry) -> Option<(String, Vec<u8>)> {
        let (_, domain) = entry.sender.rsplit_once('@')?;
        let signers = self.keys.signers(domain, entry.id);
        if signers.is_empty() {
            return None;
        }
        if entry.size > MAX_SIGNED {
            tracing::warn!(
                queue = %entry.id,
                size = entry.size,
                "too large to DKIM-sign"
            );
            return None;
        }
        let message = match self.office.store.open_queued(entry.id).await {
            Ok(b) => match b.read_all().await {
                Ok(m) => m,
                Err(e) => {
                    tracing::error!(queue = %entry.id, "reading for DKIM: {e}");
                    return None;
                }
            },
            Err(e) => {
                tracing::error!(queue = %entry.id, "reading for DKIM: {e}");
                return None;
            }
        };
        let mut out = String::new();
        for s in signers {
            match s.sign(&message, now()) {
                Ok(h) => out.push_str(&h),
                Err(e) => {
                    tracing::error!(queue = %entry.id, selector = %s.selector, "DKIM signing failed: {e}")
                }
            }
        }
        Some((out, message))
    }
}
