//! Password hashing with argon2id (PHC strings) and verification in
//! constant time.
//!
//! Passwords are prepared before they are hashed or checked ([`prepare`]):
//! a UTF-8 password typed as composed or decomposed characters, or with a
//! non-ASCII space, is the same password (RFC 6856 section 2 asks POP3
//! servers to normalise UTF-8 passwords; RFC 8265's OpaqueString profile
//! is the rule followed).
//!
//! Hashes brought from another server ([`imported`]) are verified as they
//! are and replaced by argon2id at the first successful login
//! ([`needs_upgrade`], [`upgraded`]).

pub mod imported;

use argon2::password_hash::{Output, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use praisani_store::Secrets;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::Semaphore;
use unicode_normalization::UnicodeNormalization;

/// A password as it is hashed and compared (RFC 8265 OpaqueString, the
/// PRECIS successor of SASLprep): non-ASCII spaces become U+0020, then
/// Unicode NFC. ASCII passwords are unchanged.
pub fn prepare(password: &str) -> std::borrow::Cow<'_, str> {
    if password.is_ascii() {
        return std::borrow::Cow::Borrowed(password);
    }
    let spaced: String = password
        .chars()
        .map(|c| if is_space_separator(c) { ' ' } else { c })
        .collect();
    std::borrow::Cow::Owned(spaced.nfc().collect())
}

/// Unicode general category Zs (space separators) outside ASCII.
fn is_space_separator(c: char) -> bool {
    matches!(
        c,
        '\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200a}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
    )
}

/// A password could not be hashed (argon2 refused its parameters or the
/// system's random source failed).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HashError(#[source] argon2::password_hash::Error);

/// Every stored secret derived from a new password: the argon2id hash, the
/// APOP secret when the account opted in, and SCRAM-SHA-256 credentials,
/// all of the [`prepare`]d password.
pub fn secrets(password: &str, apop: bool) -> Result<Secrets, HashError> {
    let password = &*prepare(password);
    Ok(Secrets {
        password_hash: hash(password)?,
        apop_secret: apop.then(|| password.to_string()),
        scram: Some(praisani_sasl::ScramCredentials::generate(password).to_storage()),
    })
}

/// True when `hash` is what [`hash`] writes today: argon2id with the
/// default parameters. Anything else is re-hashed at the next login.
pub fn is_current(hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    Algorithm::try_from(parsed.algorithm) == Ok(Algorithm::Argon2id)
        && parsed.version.is_none_or(|v| v == Version::V0x13 as u32)
        && Params::try_from(&parsed).is_ok_and(|p| {
            let d = Params::default();
            (p.m_cost(), p.t_cost(), p.p_cost()) == (d.m_cost(), d.t_cost(), d.p_cost())
        })
}

/// True when an account's password secrets should be derived again at
/// its next successful password login: its hash was imported (or made
/// with other parameters), or it has no SCRAM credentials yet.
pub fn needs_upgrade(account: &praisani_store::Account) -> bool {
    !is_current(&account.password_hash) || account.scram.is_none()
}

/// The secrets that replace an account's after a successful login with
/// `password` (already [`prepare`]d): a fresh argon2id hash and SCRAM
/// credentials; the APOP secret stays as it was.
pub fn upgraded(password: &str, apop_secret: Option<String>) -> Result<Secrets, HashError> {
    Ok(Secrets {
        password_hash: hash(password)?,
        apop_secret,
        scram: Some(praisani_sasl::ScramCredentials::generate(password).to_storage()),
    })
}

/// True when `hash` is not one of ours but taken from another server:
/// such a hash was computed over the password as the user typed it, so a
/// login tries that spelling too when [`prepare`] changed it.
pub fn is_imported(hash: &str) -> bool {
    !hash.starts_with("$argon2")
}

/// The scheme of a stored hash, as Dovecot names it (`ARGON2ID` for ours),
/// for `user show`; `UNKNOWN` for a value no login can match.
pub fn scheme(hash: &str) -> &'static str {
    imported::ImportedHash::parse(hash).map_or("UNKNOWN", |h| h.scheme())
}

/// A new random password: 16 characters from an alphabet without the
/// look-alikes (0/O, 1/l/I), about 93 bits.
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..16)
        .map(|_| ALPHABET[rand::random::<usize>() % ALPHABET.len()] as char)
        .collect()
}

/// Hashes a password with argon2id and a random salt.
pub fn hash(password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(HashError)
}

/// True when `password` matches the stored `hash` (a PHC string or an
/// [`imported`] hash). An unparsable hash never matches.
pub fn verify(hash: &str, password: &str) -> bool {
    if is_imported(hash) {
        return verify_imported(hash, password);
    }
    match PasswordHash::new(hash) {
        // argon2's verifier compares the digests in constant time.
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// [`verify`] with `blocks` as argon2's working memory (grown to what the
/// hash's parameters need and left that size for the next call), so a
/// busy server reuses a few buffers instead of allocating 19 MiB per login.
pub fn verify_with_memory(hash: &str, password: &str, blocks: &mut Vec<Block>) -> bool {
    if is_imported(hash) {
        return verify_imported(hash, password);
    }
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let version = parsed
        .version
        .map_or(Ok(Version::default()), Version::try_from);
    let (Ok(algorithm), Ok(version), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        version,
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    if blocks.len() < params.block_count() {
        blocks.resize(params.block_count(), Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut blocks[..])
        .is_ok()
        // Output's comparison runs in constant time.
        && Output::new(&out).is_ok_and(|o| o == expected)
}

fn verify_imported(hash: &str, password: &str) -> bool {
    imported::ImportedHash::parse(hash).is_ok_and(|h| h.verify(password.as_bytes()))
}

/// Runs password verifications off the I/O threads, at most `parallel` at
/// once: argon2 takes about 19 MiB and tens of milliseconds of CPU per
/// verification, so without a bound a burst of logins (150 from three
/// addresses took a server to 2.8 GB) costs memory without end and gains
/// no speed beyond one per core. Each running verification holds a
/// working buffer from a pool of at most `parallel`, reused from login to
/// login: hashing memory stays at `parallel` × the hashes' memory cost.
pub struct Verifier {
    slots: Arc<Semaphore>,
    buffers: Arc<Mutex<Vec<Vec<Block>>>>,
    wait: Duration,
    parallel: usize,
}

/// No verification slot came free within the wait: try again later.
#[derive(Debug, thiserror::Error)]
#[error("password verification queue full")]
pub struct Busy;

impl Verifier {
    /// At most `parallel` verifications at once (0: one per CPU core); a
    /// verification waits at most `wait` for its turn.
    pub fn new(parallel: usize, wait: Duration) -> Self {
        let parallel = if parallel == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            parallel
        };
        Verifier {
            slots: Arc::new(Semaphore::new(parallel)),
            buffers: Arc::new(Mutex::new(Vec::new())),
            wait,
            parallel,
        }
    }

    /// How many verifications run at once at most.
    pub fn parallel(&self) -> usize {
        self.parallel
    }

    /// [`verify`], when a slot is free (waiting for one at most the
    /// configured time).
    pub async fn verify(&self, hash: String, password: String) -> Result<bool, Busy> {
        self.run(move |blocks| {
            #[cfg(test)]
            let _running = tests::Running::enter();
            verify_with_memory(&hash, &password, blocks)
        })
        .await
        .map(|ok| ok.unwrap_or(false))
    }

    /// [`upgraded`] secrets, computed in a slot like a verification (an
    /// argon2 hash and SCRAM's key derivation cost as much).
    pub async fn upgraded(
        &self,
        password: String,
        apop_secret: Option<String>,
    ) -> Result<Option<Result<Secrets, HashError>>, Busy> {
        self.run(move |_| upgraded(&password, apop_secret)).await
    }

    /// Runs `work` off the I/O threads in a slot, with a working buffer
    /// from the pool; `None` when the task died.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<Option<T>, Busy> {
        let slot = tokio::time::timeout(self.wait, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| Busy)?
            .map_err(|_| Busy)?;
        let buffers = self.buffers.clone();
        // The slot moves into the blocking task: a login abandoned while
        // its hash runs (a dropped connection) keeps the slot until the
        // hash is done, so the bound holds.
        let task = tokio::task::spawn_blocking(move || {
            let mut blocks = buffers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop()
                .unwrap_or_default();
            let out = work(&mut blocks);
            buffers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(blocks);
            drop(slot);
            out
        });
        Ok(task.await.ok())
    }
}

/// A hash of a random password, verified against when the user does not
/// exist so that an unknown user costs as much time as a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let random: u128 = rand::random();
        hash(&format!("{random:x}")).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_avoid_look_alikes() {
        let a = generate();
        assert_eq!(a.len(), 16);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() && !"0O1lI".contains(c))
        );
        assert_ne!(a, generate());
    }

    #[test]
    fn hash_then_verify() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify(&h, "correct horse"));
        assert!(!verify(&h, "correct horsE"));
        assert!(!verify("not a hash", "x"));
        assert!(!verify(dummy_hash(), ""));
    }

    #[test]
    fn only_todays_argon2id_is_current() {
        let h = hash("pw").unwrap();
        assert!(is_current(&h));
        assert!(!is_imported(&h));
        let sha = "$1$Zq8sRt2u$70s0YNQMiT2t2OvTDEe0K.";
        assert!(is_imported(sha) && !is_current(sha));
        assert!(verify(sha, "correct horse"));
        assert!(verify_with_memory(sha, "correct horse", &mut Vec::new()));
        // argon2id of other strength (Dovecot's defaults) is upgraded too.
        let params = Params::new(4096, 3, 1, None).unwrap();
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let other = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"pw", &salt)
            .unwrap()
            .to_string();
        assert!(!is_current(&other) && verify(&other, "pw"));
        let s = upgraded("pw", None).unwrap();
        assert!(is_current(&s.password_hash) && s.scram.is_some() && s.apop_secret.is_none());
    }

    #[test]
    fn verifying_with_reused_memory_matches_verify() {
        let h = hash("correct horse").unwrap();
        let mut blocks = Vec::new();
        assert!(verify_with_memory(&h, "correct horse", &mut blocks));
        let grown = blocks.len();
        assert!(grown > 0);
        assert!(!verify_with_memory(&h, "correct horsE", &mut blocks));
        assert!(verify_with_memory(&h, "correct horse", &mut blocks));
        assert_eq!(blocks.len(), grown);
        assert!(!verify_with_memory("not a hash", "x", &mut blocks));
        assert!(!verify_with_memory(dummy_hash(), "", &mut blocks));
    }

    use std::sync::atomic::{AtomicUsize, Ordering};

    static RUNNING: AtomicUsize = AtomicUsize::new(0);
    static MOST: AtomicUsize = AtomicUsize::new(0);

    /// Counts the verifications running at once (inside the blocking task).
    pub(super) struct Running;

    impl Running {
        pub(super) fn enter() -> Running {
            let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
            MOST.fetch_max(now, Ordering::SeqCst);
            Running
        }
    }

    impl Drop for Running {
        fn drop(&mut self) {
            RUNNING.fetch_sub(1, Ordering::SeqCst);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn verifications_are_bounded_and_queued_ones_time_out() {
        let h = hash("pw").unwrap();
        let v = Arc::new(Verifier::new(2, Duration::from_secs(60)));
        assert_eq!(v.parallel(), 2);
        MOST.store(0, Ordering::SeqCst);
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let (v, h) = (v.clone(), h.clone());
                let pw = if i % 2 == 0 { "pw" } else { "no" };
                tokio::spawn(async move { v.verify(h, pw.into()).await })
            })
            .collect();
        let mut oks = 0;
        for t in tasks {
            oks += usize::from(t.await.unwrap().unwrap());
        }
        assert_eq!(oks, 8);
        // 16 at once, never more than 2 hashing (the blocking pool would
        // have run all 16).
        assert_eq!(MOST.load(Ordering::SeqCst), 2);
        // Never more working buffers than slots, reused.
        assert!(v.buffers.lock().unwrap().len() <= 2);
        // A verification queued behind busy slots gives up after the wait.
        let short = Verifier::new(1, Duration::from_millis(10));
        let _held = short.slots.clone().acquire_owned().await.unwrap();
        assert!(short.verify(h, "pw".into()).await.is_err());
    }

    #[test]
    fn prepared_passwords_are_nfc_with_plain_spaces() {
        assert_eq!(prepare("plain ascii"), "plain ascii");
        // Decomposed and composed forms, and an ideographic space.
        assert_eq!(prepare("cafe\u{301}"), "caf\u{e9}");
        assert_eq!(prepare("密码\u{3000}一二三"), "密码 一二三");
        assert_eq!(prepare("รหัส\u{a0}ผ่าน"), "รหัส ผ่าน");
        let s = secrets("cafe\u{301}", true).unwrap();
        assert!(verify(&s.password_hash, "caf\u{e9}"));
        assert_eq!(s.apop_secret.as_deref(), Some("caf\u{e9}"));
    }
}
