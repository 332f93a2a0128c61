//! Password hashing with argon2id (PHC strings) and verification in
//! constant time.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use praisani_store::Secrets;
use std::sync::OnceLock;

/// Every stored secret derived from a new password: the argon2id hash, the
/// APOP secret when the account opted in, and SCRAM-SHA-256 credentials.
pub fn secrets(password: &str, apop: bool) -> Result<Secrets, String> {
    Ok(Secrets {
        password_hash: hash(password)?,
        apop_secret: apop.then(|| password.to_string()),
        scram: Some(praisani_sasl::ScramCredentials::generate(password).to_storage()),
    })
}

/// Hashes a password with argon2id and a random salt.
pub fn hash(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// True when `password` matches the PHC string `hash`. An unparsable hash
/// never matches.
pub fn verify(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        // argon2's verifier compares the digests in constant time.
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
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
    fn hash_then_verify() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify(&h, "correct horse"));
        assert!(!verify(&h, "correct horsE"));
        assert!(!verify("not a hash", "x"));
        assert!(!verify(dummy_hash(), ""));
    }
}
