//! Web sessions: a signed cookie, no server-side table.
//!
//! The cookie holds the mailbox's address, when the session began, when it
//! was last used, a fingerprint of the mailbox's password hash and a random
//! nonce, signed with HMAC-SHA256 under a key derived from the store's SRS
//! secret (so every node sharing the store accepts every node's sessions).
//! A session ends after `admin_api.web_session_idle` without a request,
//! after `admin_api.web_session_lifetime` in any case, at logout (the
//! cookie is cleared), and for every browser as soon as the password
//! changes (the fingerprint no longer matches). Its CSRF token is an HMAC
//! of the nonce: one per session, checked on every POST.

use hmac::{Hmac, Mac};
use praisani_mailaddr::Address;
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// The key sessions are signed with.
#[derive(Clone)]
pub(crate) struct SessionKey([u8; 32]);

impl SessionKey {
    /// The key for the store's SRS secret: derived, so a session cookie
    /// reveals nothing usable for SRS and the other way round.
    pub fn derive(srs_secret: &[u8]) -> SessionKey {
        SessionKey(mac(srs_secret, &[b"praisani web session key v1"]))
    }

    fn sign(&self, parts: &[&[u8]]) -> [u8; 32] {
        mac(&self.0, parts)
    }
}

fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        m.update(&(p.len() as u64).to_be_bytes());
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()
}

/// What a session cookie says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Ticket {
    /// The mailbox logged in (canonical form).
    pub address: String,
    /// Unix seconds: login.
    pub issued: i64,
    /// Unix seconds: the last request that refreshed the cookie.
    pub seen: i64,
    /// [`password_fingerprint`] at login.
    pub fingerprint: String,
    /// Random, per session: what the CSRF token is made of.
    pub nonce: String,
}

/// A short tag of the stored password hash: changes with the password.
pub(crate) fn password_fingerprint(key: &SessionKey, password_hash: &str) -> String {
    hex::encode(&key.sign(&[b"password", password_hash.as_bytes()])[..12])
}

impl Ticket {
    /// A new session for `address` at `now`.
    pub fn new(key: &SessionKey, address: &Address, password_hash: &str, now: i64) -> Ticket {
        Ticket {
            address: address.canonical(),
            issued: now,
            seen: now,
            fingerprint: password_fingerprint(key, password_hash),
            nonce: hex::encode(rand::random::<[u8; 16]>()),
        }
    }

    fn payload(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}\n{}",
            self.address, self.issued, self.seen, self.fingerprint, self.nonce
        )
    }

    /// The cookie value: payload and signature.
    pub fn seal(&self, key: &SessionKey) -> String {
        let p = self.payload();
        format!(
            "{}.{}",
            b64(p.as_bytes()),
            b64(&key.sign(&[b"session", p.as_bytes()]))
        )
    }

    /// The ticket of a cookie value, if its signature is ours.
    pub fn open(key: &SessionKey, value: &str) -> Option<Ticket> {
        let (p, sig) = value.split_once('.')?;
        let p = unb64(p)?;
        let sig = unb64(sig)?;
        let want = key.sign(&[b"session", &p]);
        if !bool::from(want.as_slice().ct_eq(&sig)) {
            return None;
        }
        let text = String::from_utf8(p).ok()?;
        let mut f = text.split('\n');
        let t = Ticket {
            address: f.next()?.to_string(),
            issued: f.next()?.parse().ok()?,
            seen: f.next()?.parse().ok()?,
            fingerprint: f.next()?.to_string(),
            nonce: f.next()?.to_string(),
        };
        f.next().is_none().then_some(t)
    }

    /// Whether the session is still alive at `now`.
    pub fn alive(&self, now: i64, idle: i64, lifetime: i64) -> bool {
        now >= self.issued - 60 && now - self.seen <= idle && now - self.issued <= lifetime
    }

    /// The session's CSRF token.
    pub fn csrf(&self, key: &SessionKey) -> String {
        b64(&key.sign(&[b"csrf", self.nonce.as_bytes()])[..18])
    }

    /// Whether `presented` is this session's CSRF token (constant time).
    pub fn csrf_matches(&self, key: &SessionKey, presented: &str) -> bool {
        bool::from(self.csrf(key).as_bytes().ct_eq(presented.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SessionKey {
        SessionKey::derive(b"0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn a_sealed_ticket_opens_and_a_changed_one_does_not() {
        let k = key();
        let a = Address::parse("anna@a.test").unwrap();
        let t = Ticket::new(&k, &a, "$argon2id$x", 1000);
        let v = t.seal(&k);
        assert_eq!(Ticket::open(&k, &v), Some(t.clone()));
        let other = SessionKey::derive(b"another secret");
        assert_eq!(Ticket::open(&other, &v), None);
        let mut forged = t.clone();
        forged.address = "boss@a.test".into();
        let fv = format!(
            "{}.{}",
            b64(forged.payload().as_bytes()),
            v.split_once('.').unwrap().1
        );
        assert_eq!(Ticket::open(&k, &fv), None);
        assert_eq!(Ticket::open(&k, "garbage"), None);
    }

    #[test]
    fn sessions_expire_idle_and_absolute() {
        let k = key();
        let a = Address::parse("anna@a.test").unwrap();
        let t = Ticket::new(&k, &a, "h", 1000);
        assert!(t.alive(1000 + 1800, 1800, 43200));
        assert!(!t.alive(1000 + 1801, 1800, 43200));
        let mut later = t.clone();
        later.seen = 1000 + 43000;
        assert!(later.alive(1000 + 43200, 1800, 43200));
        assert!(!later.alive(1000 + 43201, 1800, 43200));
    }

    #[test]
    fn the_password_fingerprint_and_csrf_token_follow_their_inputs() {
        let k = key();
        assert_ne!(password_fingerprint(&k, "a"), password_fingerprint(&k, "b"));
        let a = Address::parse("anna@a.test").unwrap();
        let (t1, t2) = (Ticket::new(&k, &a, "h", 1), Ticket::new(&k, &a, "h", 1));
        assert!(t1.csrf_matches(&k, &t1.csrf(&k)));
        assert!(!t1.csrf_matches(&k, &t2.csrf(&k)));
        assert!(!t1.csrf_matches(&k, ""));
    }
}
