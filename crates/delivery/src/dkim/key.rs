//! DKIM signing keys: generation, PKCS#8 PEM files, the public key record.
//!
//! The crypto is aws-lc-rs, the provider our TLS stack already uses, so
//! DKIM adds no second crypto library.

use super::{Algorithm, DkimError};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use praisani_message::base64 as b64;
use std::fmt;
use std::sync::Arc;

enum Pair {
    Ed25519(Ed25519KeyPair),
    Rsa(aws_lc_rs::rsa::KeyPair),
}

struct Inner {
    pair: Pair,
    /// The PKCS#8 (v1) encoding, for [`SigningKey::to_pem`].
    pkcs8: Vec<u8>,
}

/// A DKIM private key and its algorithm. Cheap to clone (shared).
#[derive(Clone)]
pub struct SigningKey {
    inner: Arc<Inner>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the private key.
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

const PEM_PKCS8: &str = "PRIVATE KEY";
const PEM_PKCS1: &str = "RSA PRIVATE KEY";

fn crypto(what: &str) -> impl FnOnce(aws_lc_rs::error::Unspecified) -> DkimError + '_ {
    move |_| DkimError::Crypto(what.to_string())
}

impl SigningKey {
    /// Makes a new key: Ed25519, or RSA with a 2048-bit modulus.
    pub fn generate(alg: Algorithm) -> Result<Self, DkimError> {
        match alg {
            Algorithm::Ed25519Sha256 => {
                let pair = Ed25519KeyPair::generate().map_err(crypto("Ed25519 key generation"))?;
                let pkcs8 = pair
                    .to_pkcs8v1()
                    .map_err(crypto("Ed25519 key encoding"))?
                    .as_ref()
                    .to_vec();
                Ok(Self::new(Pair::Ed25519(pair), pkcs8))
            }
            Algorithm::RsaSha256 => {
                let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                    .map_err(crypto("RSA key generation"))?;
                let pkcs8 = pair
                    .as_der()
                    .map_err(crypto("RSA key encoding"))?
                    .as_ref()
                    .to_vec();
                Ok(Self::new(Pair::Rsa(pair), pkcs8))
            }
        }
    }

    fn new(pair: Pair, pkcs8: Vec<u8>) -> Self {
        SigningKey {
            inner: Arc::new(Inner { pair, pkcs8 }),
        }
    }

    /// The key as an unencrypted PKCS#8 PEM document (`BEGIN PRIVATE KEY`),
    /// readable by OpenSSL and by [`SigningKey::from_pem`].
    pub fn to_pem(&self) -> String {
        pem_encode(PEM_PKCS8, &self.inner.pkcs8)
    }

    /// Reads a PKCS#8 PEM private key (Ed25519 or RSA); a PKCS#1
    /// `BEGIN RSA PRIVATE KEY` document is accepted too.
    pub fn from_pem(pem: &str) -> Result<Self, DkimError> {
        let (label, der) = pem_decode(pem)?;
        match label.as_str() {
            PEM_PKCS8 => {
                if let Ok(pair) = Ed25519KeyPair::from_pkcs8(&der) {
                    let pkcs8 = pair
                        .to_pkcs8v1()
                        .map_err(crypto("Ed25519 key encoding"))?
                        .as_ref()
                        .to_vec();
                    return Ok(Self::new(Pair::Ed25519(pair), pkcs8));
                }
                let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(&der).map_err(|e| {
                    DkimError::Key(format!("not an Ed25519 or RSA PKCS#8 private key ({e})"))
                })?;
                Self::rsa(pair)
            }
            PEM_PKCS1 => {
                let pair = aws_lc_rs::rsa::KeyPair::from_der(&der)
                    .map_err(|e| DkimError::Key(format!("not an RSA private key ({e})")))?;
                Self::rsa(pair)
            }
            other => Err(DkimError::Key(format!(
                "a PEM \"{other}\" document is not a private key"
            ))),
        }
    }

    fn rsa(pair: aws_lc_rs::rsa::KeyPair) -> Result<Self, DkimError> {
        // RFC 8301 §3.2: verifiers refuse keys under 1024 bits.
        if pair.public_modulus_len() < 1024 / 8 {
            return Err(DkimError::Key(format!(
                "RSA key of {} bits is too small (at least 1024, 2048 recommended)",
                pair.public_modulus_len() * 8
            )));
        }
        let pkcs8 = pair
            .as_der()
            .map_err(crypto("RSA key encoding"))?
            .as_ref()
            .to_vec();
        Ok(Self::new(Pair::Rsa(pair), pkcs8))
    }

    /// The signing algorithm this key is for.
    pub fn algorithm(&self) -> Algorithm {
        match self.inner.pair {
            Pair::Ed25519(_) => Algorithm::Ed25519Sha256,
            Pair::Rsa(_) => Algorithm::RsaSha256,
        }
    }

    /// The public key as DKIM publishes it: the raw 32 bytes for Ed25519
    /// (RFC 8463 §4.2), the DER SubjectPublicKeyInfo for RSA (RFC 6376
    /// §3.6.1, as OpenSSL writes it).
    fn public_key_bytes(&self) -> Result<Vec<u8>, DkimError> {
        match &self.inner.pair {
            Pair::Ed25519(p) => Ok(p.public_key().as_ref().to_vec()),
            Pair::Rsa(p) => Ok(p
                .public_key()
                .as_der()
                .map_err(crypto("RSA public key encoding"))?
                .as_ref()
                .to_vec()),
        }
    }

    /// The DNS TXT record to publish at `<selector>._domainkey.<domain>`:
    /// `v=DKIM1; k=ed25519; p=<base64>` (or `k=rsa`), as one string; split
    /// it into 255-octet strings in a zone file (see [`txt_strings`]).
    ///
    /// [`txt_strings`]: super::txt_strings
    pub fn dns_txt(&self) -> String {
        let k = match self.algorithm() {
            Algorithm::Ed25519Sha256 => "ed25519",
            Algorithm::RsaSha256 => "rsa",
        };
        // Encoding a public key we hold cannot fail; should it ever, an
        // empty p= (a revoked key, RFC 6376 §3.6.1) is the safe answer.
        let p = self.public_key_bytes().map(b64::encode).unwrap_or_default();
        format!("v=DKIM1; k={k}; p={p}")
    }

    /// Signs the data-hash input of RFC 6376 §3.7: RSASSA-PKCS1-v1_5 over
    /// its SHA-256 for rsa-sha256; for ed25519-sha256, PureEdDSA over its
    /// SHA-256 digest (RFC 8463 §3).
    pub(crate) fn sign(&self, data: &[u8]) -> Result<Vec<u8>, DkimError> {
        match &self.inner.pair {
            Pair::Ed25519(p) => {
                let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
                Ok(p.try_sign(digest.as_ref())
                    .map_err(crypto("Ed25519 signing"))?
                    .as_ref()
                    .to_vec())
            }
            Pair::Rsa(p) => {
                let mut sig = vec![0u8; p.public_modulus_len()];
                p.sign(
                    &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                    &aws_lc_rs::rand::SystemRandom::new(),
                    data,
                    &mut sig,
                )
                .map_err(crypto("RSA signing"))?;
                Ok(sig)
            }
        }
    }
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = b64::encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // Base64 output is ASCII.
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The first PEM document in `pem`: its label and decoded contents.
fn pem_decode(pem: &str) -> Result<(String, Vec<u8>), DkimError> {
    let bad = |why: &str| DkimError::Key(format!("not a PEM private key: {why}"));
    let mut lines = pem.lines().map(str::trim);
    let label = loop {
        match lines.next() {
            None => return Err(bad("no BEGIN line")),
            Some(l) => {
                if let Some(rest) = l.strip_prefix("-----BEGIN ") {
                    break rest
                        .strip_suffix("-----")
                        .ok_or_else(|| bad("malformed BEGIN line"))?
                        .to_string();
                }
            }
        }
    };
    let end = format!("-----END {label}-----");
    let mut b64 = String::new();
    loop {
        match lines.next() {
            None => return Err(bad("no END line")),
            Some(l) if l == end => break,
            Some(l) if l.contains(':') => return Err(bad("encrypted or with headers")),
            Some(l) => b64.push_str(l),
        }
    }
    let der = b64::decode(&b64).ok_or_else(|| bad("bad base64"))?;
    Ok((label, der))
}
