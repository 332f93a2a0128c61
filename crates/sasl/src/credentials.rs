//! The SCRAM-SHA-256 verifier stored per account (RFC 5802 section 3),
//! and the HMAC/SHA-256 primitives the exchange shares with it.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::Failure;
use crate::b64::{b64_decode, b64_encode};

/// PBKDF2 iteration count for new credentials: RFC 7677 section 4 asks for
/// at least 4096. The made-up credentials of unknown users use it too, so
/// raising it for new accounts should go together with passing the new
/// value there (see `scram.rs`).
pub const DEFAULT_ITERATIONS: u32 = 4096;

/// Salt length for new credentials, in bytes.
const SALT_LEN: usize = 16;

/// The storage prefix, after RFC 5803's `SCRAM-SHA-256$` scheme name.
const PREFIX: &str = "SCRAM-SHA-256$";

/// What the server stores for SCRAM-SHA-256: enough to verify a client's
/// proof and to prove itself, never the password (nor anything that lets
/// a thief log in without a captured exchange).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScramCredentials {
    /// PBKDF2 iteration count (`i=`).
    pub iterations: u32,
    /// PBKDF2 salt (`s=`, sent base64-encoded).
    pub salt: Vec<u8>,
    /// `H(HMAC(SaltedPassword, "Client Key"))`: checks the client's proof.
    pub stored_key: [u8; 32],
    /// `HMAC(SaltedPassword, "Server Key")`: signs the server-final message.
    pub server_key: [u8; 32],
}

impl ScramCredentials {
    /// Derives credentials from a password.
    ///
    /// `SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, iterations)`.
    /// RFC 5802 asks for `Normalize(password)` (SASLprep, RFC 4013); we do
    /// not implement SASLprep (NFKC and its prohibited-character tables
    /// are out of scope): ASCII passwords are exact, and non-ASCII ones are
    /// used as their UTF-8 bytes, unnormalised. A client that applies
    /// SASLprep to a non-ASCII password whose NFKC form differs (e.g. one
    /// typed with a compatibility character) will fail; plain NFC text
    /// typed the same way on both sides works. An `iterations` of 0 is
    /// treated as 1 (PBKDF2 is undefined for 0).
    pub fn derive(password: &str, salt: &[u8], iterations: u32) -> Self {
        let iterations = iterations.max(1);
        let mut salted = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut salted);
        let client_key = hmac_sha256(&salted, b"Client Key");
        ScramCredentials {
            iterations,
            salt: salt.to_vec(),
            stored_key: sha256(&client_key),
            server_key: hmac_sha256(&salted, b"Server Key"),
        }
    }

    /// New credentials for `password` with a random 16-byte salt and
    /// [`DEFAULT_ITERATIONS`].
    pub fn generate(password: &str) -> Self {
        let mut salt = [0u8; SALT_LEN];
        rand::thread_rng().fill_bytes(&mut salt);
        Self::derive(password, &salt, DEFAULT_ITERATIONS)
    }

    /// The storage form, RFC 5803 style:
    /// `SCRAM-SHA-256$<iter>:<b64 salt>$<b64 StoredKey>:<b64 ServerKey>`.
    pub fn to_storage(&self) -> String {
        format!(
            "{PREFIX}{}:{}${}:{}",
            self.iterations,
            b64_encode(&self.salt),
            b64_encode(&self.stored_key),
            b64_encode(&self.server_key)
        )
    }

    /// Parses [`to_storage`](Self::to_storage)'s form. Fails with
    /// [`Failure::Malformed`] on a wrong prefix, an iteration count that is
    /// not a positive decimal, an empty or invalid salt, or keys that are
    /// not 32 bytes.
    pub fn from_storage(s: &str) -> Result<Self, Failure> {
        let rest = s
            .strip_prefix(PREFIX)
            .ok_or(Failure::Malformed("not a SCRAM-SHA-256 credential"))?;
        let (params, keys) = rest
            .split_once('$')
            .ok_or(Failure::Malformed("SCRAM credential without keys"))?;
        let (iterations, salt) = params
            .split_once(':')
            .ok_or(Failure::Malformed("SCRAM credential without salt"))?;
        let (stored_key, server_key) = keys
            .split_once(':')
            .ok_or(Failure::Malformed("SCRAM credential without server key"))?;
        // `parse` alone would accept "+4096"; storage is ours, keep it exact.
        if iterations.is_empty() || !iterations.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Failure::Malformed("bad SCRAM iteration count"));
        }
        let iterations: u32 = iterations
            .parse()
            .map_err(|_| Failure::Malformed("bad SCRAM iteration count"))?;
        if iterations == 0 {
            return Err(Failure::Malformed("bad SCRAM iteration count"));
        }
        let salt = b64_decode(salt)?;
        if salt.is_empty() {
            return Err(Failure::Malformed("empty SCRAM salt"));
        }
        Ok(ScramCredentials {
            iterations,
            salt,
            stored_key: key32(stored_key)?,
            server_key: key32(server_key)?,
        })
    }
}

fn key32(b64: &str) -> Result<[u8; 32], Failure> {
    b64_decode(b64)?
        .try_into()
        .map_err(|_| Failure::Malformed("SCRAM key is not 32 bytes"))
}

/// HMAC-SHA-256.
pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length (long ones are hashed), so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// SHA-256.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

#[cfg(test)]
/// RFC 7677 section 3: user "user", password "pencil". Cached: PBKDF2
/// is slow in unoptimised test builds and the junk loops need it often.
pub(crate) fn rfc7677() -> ScramCredentials {
    static CREDS: std::sync::OnceLock<ScramCredentials> = std::sync::OnceLock::new();
    CREDS
        .get_or_init(|| {
            let salt = b64_decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
            ScramCredentials::derive("pencil", &salt, 4096)
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_round_trip() {
        let c = rfc7677();
        let s = c.to_storage();
        assert!(
            s.starts_with("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"),
            "{s}"
        );
        assert_eq!(ScramCredentials::from_storage(&s), Ok(c));
        let g = ScramCredentials::generate("pencil");
        assert_eq!(g.iterations, DEFAULT_ITERATIONS);
        assert_eq!(g.salt.len(), 16);
        assert_eq!(
            ScramCredentials::from_storage(&g.to_storage()),
            Ok(g.clone())
        );
        // Fresh salt each time, so equal passwords do not give equal records.
        assert_ne!(ScramCredentials::generate("pencil").salt, g.salt);
    }

    #[test]
    fn derive_depends_on_every_input() {
        let base = rfc7677();
        let salt = base.salt.clone();
        assert_ne!(ScramCredentials::derive("pencil!", &salt, 4096), base);
        assert_ne!(
            ScramCredentials::derive("pencil", b"other salt", 4096),
            base
        );
        assert_ne!(ScramCredentials::derive("pencil", &salt, 4097), base);
        assert_eq!(ScramCredentials::derive("x", b"s", 0).iterations, 1);
    }

    #[test]
    fn from_storage_rejects_garbage() {
        let good = rfc7677().to_storage();
        let (head, keys) = good.rsplit_once('$').unwrap();
        let (stored, server) = keys.split_once(':').unwrap();
        let bad = [
            String::new(),
            "SCRAM-SHA-1$4096:AAAA$AAAA:AAAA".into(),
            good.replace("SCRAM-SHA-256$", "scram-sha-256$"),
            good.replace("$4096:", "$0:"),
            good.replace("$4096:", "$+4096:"),
            good.replace("$4096:", "$:"),
            good.replace("$4096:", "$99999999999:"),
            good.replace("$4096:", "$4096 :"),
            good.replace(":W22ZaJ0SNY7soEsUEjb6gQ==$", ":$"),
            good.replace(":W22ZaJ0SNY7soEsUEjb6gQ==$", ":W22ZaJ0SNY7soEsUEjb6gQ$"),
            format!("{head}${stored}"),
            format!("{head}${stored}:{server}:"),
            format!("{head}${stored}:{}", &server[4..]),
            format!("{head}${stored}:AAAA"),
            format!("{good}$"),
            head.to_string(),
        ];
        for b in bad {
            assert!(
                matches!(
                    ScramCredentials::from_storage(&b),
                    Err(Failure::Malformed(_))
                ),
                "{b:?}"
            );
        }
    }
}
