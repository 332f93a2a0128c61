//! DKIM signing of outgoing mail with the sender domain's keys from the
//! data directory's [`KeyStore`], read at most once a minute.

use super::{Runner, now};
use crate::dkim::{KeyStore, Signer};
use praisani_mailhost::trust::seal::{ArcKey, seal};
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
    ///
    /// The domain is the envelope sender's; for the null sender (bounces,
    /// vacation replies: messages we write) it is that of the From: field,
    /// so those are signed for the domain they come from too.
    pub(super) async fn dkim_sign(&self, entry: &QueueEntry) -> Option<(String, Vec<u8>)> {
        if entry.size > MAX_SIGNED {
            tracing::warn!(
                queue = %entry.id,
                size = entry.size,
                "too large to DKIM-sign"
            );
            return None;
        }
        let mut message = None;
        // A forwarded copy gets our ARC set on top first: the DKIM
        // signature is then computed over the message as it goes out.
        let mut sealed = false;
        if entry.forwarded {
            let m = self.read_for_signing(entry).await?;
            message = Some(match self.arc_seal(entry, &m) {
                Some(set) => {
                    sealed = true;
                    [set.as_bytes(), &m].concat()
                }
                None => m,
            });
        }
        let domain = match entry.sender.rsplit_once('@') {
            Some((_, d)) => d.to_string(),
            None if entry.sender.is_empty() => {
                let m = match message.take() {
                    Some(m) => m,
                    None => self.read_for_signing(entry).await?,
                };
                let d = from_domain(&m);
                message = Some(m);
                match d {
                    Some(d) => d,
                    None => return message.filter(|_| sealed).map(|m| (String::new(), m)),
                }
            }
            None => return message.filter(|_| sealed).map(|m| (String::new(), m)),
        };
        let signers = self.keys.signers(&domain, entry.id);
        if signers.is_empty() {
            return message.filter(|_| sealed).map(|m| (String::new(), m));
        }
        let message = match message {
            Some(m) => m,
            None => self.read_for_signing(entry).await?,
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

    /// The ARC set (RFC 8617) for a copy we forward: sealed for the
    /// domain of the address it was forwarded for (the `Delivered-To:` we
    /// put on top) with that domain's newest RSA DKIM key, over our
    /// `Authentication-Results`. `None` (sent unsealed) when the domain
    /// has no RSA key or the message cannot be sealed (our own users'
    /// mail has no `Authentication-Results` to seal).
    fn arc_seal(&self, entry: &QueueEntry, message: &[u8]) -> Option<String> {
        let header = praisani_message::mime::header_section(message);
        let via = praisani_message::mime::header_fields(&header)
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("Delivered-To"))?
            .1;
        let domain = praisani_mailaddr::Address::parse(via.trim_matches(['<', '>']))
            .ok()?
            .domain()
            .ascii()
            .to_ascii_lowercase();
        let signer = self
            .keys
            .signers(&domain, entry.id)
            .into_iter()
            .find(|s| s.key.algorithm() == crate::dkim::Algorithm::RsaSha256)?;
        let sealed = ArcKey::from_pkcs8_pem(&signer.domain, &signer.selector, &signer.key.to_pem())
            .and_then(|key| seal(message, &self.office.settings.hostname, &key));
        match sealed {
            Ok(set) => Some(set),
            Err(e) => {
                tracing::info!(queue = %entry.id, domain = %domain, "not ARC-sealed: {e}");
                None
            }
        }
    }

    /// The queued message, whole, for signing.
    async fn read_for_signing(&self, entry: &QueueEntry) -> Option<Vec<u8>> {
        let read = match self.office.store.open_queued(entry.id).await {
            Ok(b) => b.read_all().await,
            Err(e) => Err(e),
        };
        read.map_err(|e| tracing::error!(queue = %entry.id, "reading for DKIM: {e}"))
            .ok()
    }
}

/// The domain (lower-case A-label) of a message's one From: address.
fn from_domain(message: &[u8]) -> Option<String> {
    let header = praisani_message::mime::header_section(message);
    let facts = praisani_mailhost::submission::header_facts(&header);
    match facts.from.as_slice() {
        [one] if facts.from_fields == 1 => praisani_mailaddr::Address::parse(one)
            .ok()
            .map(|a| a.domain().ascii().to_ascii_lowercase()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::from_domain;

    #[test]
    fn the_from_domain_of_a_null_sender_message() {
        let m = |h: &str| from_domain(format!("{h}\r\nSubject: x\r\n\r\nbody\r\n").as_bytes());
        assert_eq!(m("From: <Anna@Away.Test>").as_deref(), Some("away.test"));
        assert_eq!(
            m("From: =?UTF-8?B?4Lit?= <a@ตัวอย่าง.ไทย>").as_deref(),
            Some("xn--72c1a1bt4awk9o.xn--o3cw4h")
        );
        assert_eq!(m("To: a@b.test"), None);
        assert_eq!(m("From: a@x.test, b@y.test"), None);
        assert_eq!(m("From: a@x.test\r\nFrom: b@y.test"), None);
    }
}
