//! Password hashing with argon2id (PHC strings) and verification in
//! constant time.
//!
//! Passwords are prepared before they are hashed or checked ([`prepare`]):
//! a UTF-8 password typed as composed or decomposed characters, or with a
//! non-ASCII space, is the same password (RFC 6856 section 2 asks POP3
//! servers to normalise UTF-8 passwords; RFC 8265's OpaqueString profile
//! is the rule followed).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use praisani_store::Secrets;
use std::sync::OnceLock;
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
