//! Password hashes brought from another server (Dovecot's `{SCHEME}`
//! prefixes and bare crypt(3) strings), so customers moving in keep their
//! passwords: checked as they are, each is replaced by argon2id at its
//! account's first successful login ([`super::needs_upgrade`]).
//!
//! What is stored is the hash's canonical form ([`ImportedHash::stored`]):
//! crypt and argon2 strings as they are, the others with their Dovecot
//! prefix and Dovecot's default encoding — so a stored value parses again
//! with [`ImportedHash::parse`] and always names its scheme.

use argon2::password_hash::PasswordHash;
use argon2::{Algorithm, Params};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

/// Why a text is not a password hash praisani can take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashFormatError {
    /// A `{SCHEME}` prefix praisani does not verify.
    #[error(
        "unknown password scheme {{{0}}} (known: SHA512-CRYPT, SHA256-CRYPT, BLF-CRYPT, MD5-CRYPT, CRYPT, SSHA, SSHA256, SSHA512, PLAIN-MD5, ARGON2I, ARGON2ID)"
    )]
    UnknownScheme(String),
    /// Neither a `{SCHEME}` prefix nor a crypt string.
    #[error(
        "not a password hash: expected a {{SCHEME}} prefix or a crypt string ($6$, $5$, $1$, $2y$, $argon2id$, $argon2i$)"
    )]
    Unrecognised,
    /// The scheme is known but the hash is not well formed.
    #[error("malformed {scheme} hash: {why}")]
    Malformed {
        /// The scheme, as Dovecot names it.
        scheme: &'static str,
        /// What is wrong.
        why: &'static str,
    },
}

fn malformed(scheme: &'static str, why: &'static str) -> HashFormatError {
    HashFormatError::Malformed { scheme, why }
}

/// The crypt(3) families taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crypt {
    /// `$1$`, MD5-CRYPT.
    Md5,
    /// `$5$`, SHA256-CRYPT.
    Sha256,
    /// `$6$`, SHA512-CRYPT.
    Sha512,
    /// `$2a$`, `$2b$`, `$2y$`: BLF-CRYPT (bcrypt).
    Blowfish,
}

impl Crypt {
    fn scheme(self) -> &'static str {
        match self {
            Crypt::Md5 => "MD5-CRYPT",
            Crypt::Sha256 => "SHA256-CRYPT",
            Crypt::Sha512 => "SHA512-CRYPT",
            Crypt::Blowfish => "BLF-CRYPT",
        }
    }
}

/// The salted digests (`{SSHA}` and kin): digest of password + salt, then
/// the salt, in base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Salted {
    /// `{SSHA}`: SHA-1.
    Sha1,
    /// `{SSHA256}`.
    Sha256,
    /// `{SSHA512}`.
    Sha512,
}

impl Salted {
    fn scheme(self) -> &'static str {
        match self {
            Salted::Sha1 => "SSHA",
            Salted::Sha256 => "SSHA256",
            Salted::Sha512 => "SSHA512",
        }
    }

    fn len(self) -> usize {
        match self {
            Salted::Sha1 => 20,
            Salted::Sha256 => 32,
            Salted::Sha512 => 64,
        }
    }

    fn digest(self, password: &[u8], salt: &[u8]) -> Vec<u8> {
        fn run<D: Digest>(password: &[u8], salt: &[u8]) -> Vec<u8> {
            let mut d = D::new();
            d.update(password);
            d.update(salt);
            d.finalize().to_vec()
        }
        match self {
            Salted::Sha1 => run::<Sha1>(password, salt),
            Salted::Sha256 => run::<Sha256>(password, salt),
            Salted::Sha512 => run::<Sha512>(password, salt),
        }
    }
}

/// A password hash from another server, checked and ready to verify.
#[derive(Clone, PartialEq, Eq)]
pub enum ImportedHash {
    /// A crypt(3) string, as it is.
    Crypt(Crypt, String),
    /// An argon2i or argon2id PHC string, as it is.
    Argon2(String),
    /// A salted SHA digest: the digest followed by the salt.
    Salted(Salted, Vec<u8>),
    /// `{PLAIN-MD5}`: the unsalted MD5 digest.
    PlainMd5([u8; 16]),
}

// By hand: a hash must not reach logs through `{:?}`.
impl std::fmt::Debug for ImportedHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ImportedHash({} <redacted>)", self.scheme())
    }
}

/// How a `{SCHEME.enc}` suffix asks the digest to be read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Default,
    Hex,
    Base64,
}

impl ImportedHash {
    /// Reads a hash as an old server stored it: `{SCHEME}rest` (the scheme
    /// in any letter case, optionally with Dovecot's `.hex`/`.b64`
    /// encoding suffix) or a bare crypt string.
    pub fn parse(text: &str) -> Result<ImportedHash, HashFormatError> {
        let text = text.trim();
        let Some(rest) = text.strip_prefix('{') else {
            return bare(text);
        };
        let (scheme, value) = rest.split_once('}').ok_or(HashFormatError::Unrecognised)?;
        let upper = scheme.to_ascii_uppercase();
        let (name, encoding) = match upper.rsplit_once('.') {
            Some((n, "HEX")) => (n, Encoding::Hex),
            Some((n, "B64" | "BASE64")) => (n, Encoding::Base64),
            _ => (upper.as_str(), Encoding::Default),
        };
        let expect_crypt = |want: Option<Crypt>| {
            let h = crypt(value)?;
            match (&h, want) {
                (ImportedHash::Crypt(kind, _), Some(w)) if *kind != w => Err(malformed(
                    w.scheme(),
                    "the crypt string is of another kind than the scheme says",
                )),
                _ => Ok(h),
            }
        };
        match name {
            "SHA512-CRYPT" => expect_crypt(Some(Crypt::Sha512)),
            "SHA256-CRYPT" => expect_crypt(Some(Crypt::Sha256)),
            "MD5-CRYPT" => expect_crypt(Some(Crypt::Md5)),
            "BLF-CRYPT" => expect_crypt(Some(Crypt::Blowfish)),
            "CRYPT" => expect_crypt(None),
            "ARGON2I" => argon2(value, Some(Algorithm::Argon2i)),
            "ARGON2ID" => argon2(value, Some(Algorithm::Argon2id)),
            "SSHA" => salted(Salted::Sha1, value, encoding),
            "SSHA256" => salted(Salted::Sha256, value, encoding),
            "SSHA512" => salted(Salted::Sha512, value, encoding),
            "PLAIN-MD5" | "LDAP-MD5" => plain_md5(value, encoding),
            _ => Err(HashFormatError::UnknownScheme(scheme.to_string())),
        }
    }

    /// The scheme, as Dovecot names it.
    pub fn scheme(&self) -> &'static str {
        match self {
            ImportedHash::Crypt(kind, _) => kind.scheme(),
            ImportedHash::Argon2(s) if s.starts_with("$argon2id$") => "ARGON2ID",
            ImportedHash::Argon2(_) => "ARGON2I",
            ImportedHash::Salted(kind, _) => kind.scheme(),
            ImportedHash::PlainMd5(_) => "PLAIN-MD5",
        }
    }

    /// The form kept in the store (see the module comment).
    pub fn stored(&self) -> String {
        match self {
            ImportedHash::Crypt(_, s) | ImportedHash::Argon2(s) => s.clone(),
            ImportedHash::Salted(kind, bytes) => {
                format!(
                    "{{{}}}{}",
                    kind.scheme(),
                    praisani_message::base64::encode(bytes)
                )
            }
            ImportedHash::PlainMd5(d) => format!("{{PLAIN-MD5}}{}", hex::encode(d)),
        }
    }

    /// True when `password` (as the old server received it) matches.
    /// Argon2 hashes are verified by [`super::verify`], which reuses
    /// working memory; here they are verified too, for completeness.
    pub fn verify(&self, password: &[u8]) -> bool {
        match self {
            ImportedHash::Crypt(Crypt::Md5, s) => pwhash::md5_crypt::verify(password, s),
            ImportedHash::Crypt(Crypt::Sha256, s) => pwhash::sha256_crypt::verify(password, s),
            ImportedHash::Crypt(Crypt::Sha512, s) => pwhash::sha512_crypt::verify(password, s),
            ImportedHash::Crypt(Crypt::Blowfish, s) => pwhash::bcrypt::verify(password, s),
            ImportedHash::Argon2(s) => std::str::from_utf8(password)
                .is_ok_and(|p| super::verify_with_memory(s, p, &mut Vec::new())),
            ImportedHash::Salted(kind, bytes) => {
                let (digest, salt) = bytes.split_at(kind.len());
                kind.digest(password, salt).ct_eq(digest).into()
            }
            ImportedHash::PlainMd5(d) => {
                let got = md5::Md5::digest(password);
                got.as_slice().ct_eq(d).into()
            }
        }
    }
}

/// A hash without a `{SCHEME}` prefix: a crypt or argon2 string.
fn bare(text: &str) -> Result<ImportedHash, HashFormatError> {
    if text.starts_with("$argon2") {
        return argon2(text, None);
    }
    if text.starts_with('$') {
        return crypt(text);
    }
    Err(HashFormatError::Unrecognised)
}

/// crypt(3)'s base64 alphabet (bcrypt's is the same set of characters).
fn is_crypt64(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
}

fn crypt(text: &str) -> Result<ImportedHash, HashFormatError> {
    if text.starts_with("$argon2") {
        return argon2(text, None);
    }
    let parts: Vec<&str> = text.split('$').collect();
    // "$id$…" splits into "", id, ….
    let (Some(&""), Some(&id)) = (parts.first(), parts.get(1)) else {
        return Err(HashFormatError::Unrecognised);
    };
    let (kind, digest_len, max_salt) = match id {
        "1" => (Crypt::Md5, 22, 8),
        "5" => (Crypt::Sha256, 43, 16),
        "6" => (Crypt::Sha512, 86, 16),
        "2a" | "2b" | "2y" => (Crypt::Blowfish, 53, 0),
        _ => return Err(HashFormatError::Unrecognised),
    };
    let scheme = kind.scheme();
    if kind == Crypt::Blowfish {
        // $2y$NN$ + 22 salt characters + 31 of digest.
        let [_, _, cost, rest] = parts[..] else {
            return Err(malformed(scheme, "expected $2y$NN$ then 53 characters"));
        };
        let cost_ok = cost.len() == 2 && cost.parse::<u32>().is_ok_and(|c| (4..=31).contains(&c));
        if !cost_ok {
            return Err(malformed(scheme, "the cost must be two digits, 04 to 31"));
        }
        if rest.len() != digest_len || !is_crypt64(rest) {
            return Err(malformed(scheme, "expected 53 characters after the cost"));
        }
        return Ok(ImportedHash::Crypt(kind, text.to_string()));
    }
    let (salt, digest) = match parts[..] {
        [_, _, salt, digest] => (salt, digest),
        [_, _, rounds, salt, digest] if kind != Crypt::Md5 => {
            let n = rounds
                .strip_prefix("rounds=")
                .and_then(|n| n.parse::<u64>().ok());
            if !n.is_some_and(|n| (1000..=999_999_999).contains(&n)) {
                return Err(malformed(scheme, "rounds= must be 1000 to 999999999"));
            }
            (salt, digest)
        }
        _ => return Err(malformed(scheme, "expected $id$salt$digest")),
    };
    if salt.len() > max_salt || !is_crypt64(salt) {
        return Err(malformed(
            scheme,
            "the salt is too long or has bad characters",
        ));
    }
    if digest.len() != digest_len || !is_crypt64(digest) {
        return Err(malformed(
            scheme,
            "the digest has the wrong length or characters",
        ));
    }
    Ok(ImportedHash::Crypt(kind, text.to_string()))
}

fn argon2(text: &str, want: Option<Algorithm>) -> Result<ImportedHash, HashFormatError> {
    let scheme = match want {
        Some(Algorithm::Argon2i) => "ARGON2I",
        _ => "ARGON2ID",
    };
    let parsed = PasswordHash::new(text).map_err(|_| malformed(scheme, "not a PHC string"))?;
    let algorithm = Algorithm::try_from(parsed.algorithm)
        .map_err(|_| malformed(scheme, "not an argon2 algorithm"))?;
    match (algorithm, want) {
        (Algorithm::Argon2d, _) => return Err(malformed(scheme, "argon2d is not taken")),
        (a, Some(w)) if a != w => {
            return Err(malformed(scheme, "the PHC string is of another variant"));
        }
        _ => {}
    }
    if Params::try_from(&parsed).is_err() {
        return Err(malformed(scheme, "bad m=, t= or p= parameters"));
    }
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err(malformed(scheme, "the salt or the digest is missing"));
    }
    Ok(ImportedHash::Argon2(text.to_string()))
}

fn decode(value: &str, encoding: Encoding, default_hex: bool) -> Option<Vec<u8>> {
    let hex = match encoding {
        Encoding::Hex => true,
        Encoding::Base64 => false,
        Encoding::Default => default_hex,
    };
    if hex {
        hex::decode(value).ok()
    } else {
        praisani_message::base64::decode(value)
    }
}

fn salted(kind: Salted, value: &str, encoding: Encoding) -> Result<ImportedHash, HashFormatError> {
    let bytes = decode(value, encoding, false)
        .ok_or_else(|| malformed(kind.scheme(), "not valid base64 (or hex with .hex)"))?;
    if bytes.len() <= kind.len() {
        return Err(malformed(
            kind.scheme(),
            "too short for the digest and a salt",
        ));
    }
    Ok(ImportedHash::Salted(kind, bytes))
}

fn plain_md5(value: &str, encoding: Encoding) -> Result<ImportedHash, HashFormatError> {
    // Dovecot writes hex; a 24-character value is the base64 spelling.
    let encoding = match encoding {
        Encoding::Default if value.len() == 24 => Encoding::Base64,
        e => e,
    };
    decode(value, encoding, true)
        .and_then(|b| <[u8; 16]>::try_from(b).ok())
        .map(ImportedHash::PlainMd5)
        .ok_or_else(|| malformed("PLAIN-MD5", "expected 32 hex digits (16 octets)"))
}

#[cfg(test)]
mod tests;
