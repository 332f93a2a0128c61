//! ARC sealing (RFC 8617) for mail we forward: an `ARC-Authentication-
//! Results` copy of the `Authentication-Results` we stamped on arrival
//! (`inbound/trust.rs`), an `ARC-Message-Signature` over the message and an
//! `ARC-Seal` over the chain, so the next server can see what we saw
//! before forwarding changed the envelope (SRS) and maybe broke SPF.
//!
//! Sealing is pure computation on the stored message: no DNS, no clock
//! beyond the signature time. The key is a mail-auth key ([`ArcKey`]);
//! DKIM keys live with the outbound queue (`delivery::dkim::KeyStore`, a
//! floor above), which hands their PKCS#8 PEM to
//! [`ArcKey::from_pkcs8_pem`], so the queue seals forwarded mail at send
//! time with the forwarding domain's key.
//!
//! ```text
//! seal(stored_message, authserv_id, &key)? -> "ARC-Seal: …\r\nARC-Message-Signature: …\r\nARC-Authentication-Results: …\r\n"
//! ```

use super::verdict::AuthResult;
use mail_auth::arc::{ArcSealer, Set};
use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::{Header, HeaderWriter};
use mail_auth::{ArcOutput, AuthenticatedMessage, AuthenticationResults, DkimResult};
use rustls_pki_types::PrivateKeyDer;

/// The header fields the `ARC-Message-Signature` covers, when present.
const SIGNED: &[&str] = &[
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "DKIM-Signature",
];

/// Longest `ARC-Authentication-Results` value we write: it goes out on
/// one line (see [`seal_with`]), and lines stop at 998 octets.
const MAX_RESULTS: usize = 900;

/// Why a message was not sealed (the caller forwards it unsealed).
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The key is neither a PKCS#8 Ed25519 nor RSA private key.
    #[error("not a usable ARC signing key: {0}")]
    Key(String),
    /// The message has no header fields mail-auth can read.
    #[error("the message cannot be parsed")]
    Unparsable,
    /// No `Authentication-Results` of ours to copy.
    #[error("no Authentication-Results of {0} in the message")]
    NoResults(String),
    /// Our results are too long for one header line.
    #[error("the Authentication-Results are too long to seal")]
    TooLong,
    /// The chain ends in a seal with `cv=fail`: nothing may be added.
    #[error("the ARC chain has failed; it is not sealed again")]
    ChainFailed,
    /// mail-auth refused (no header to sign, a signing failure).
    #[error("ARC sealing failed: {0}")]
    Sealer(String),
}

/// A key that seals: the signing domain (`d=`), the selector (`s=`) whose
/// DNS record holds the public key, and the private key — RSA: RFC 8617
/// defines ARC with `rsa-sha256` only, and verifiers (dkimpy among them)
/// refuse Ed25519 seals.
pub struct ArcKey {
    domain: String,
    selector: String,
    key: RsaKey<Sha256>,
}

impl std::fmt::Debug for ArcKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArcKey")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .finish_non_exhaustive()
    }
}

impl ArcKey {
    /// A key of mail-auth's.
    pub fn new(domain: &str, selector: &str, key: RsaKey<Sha256>) -> ArcKey {
        ArcKey {
            domain: domain.to_ascii_lowercase(),
            selector: selector.to_string(),
            key,
        }
    }

    /// An RSA key from an unencrypted PKCS#8 PEM document (`BEGIN PRIVATE
    /// KEY`, how the DKIM key store keeps them); an Ed25519 key is refused.
    pub fn from_pkcs8_pem(domain: &str, selector: &str, pem: &str) -> Result<ArcKey, SealError> {
        let body: String = pem
            .lines()
            .map(str::trim)
            .skip_while(|l| *l != "-----BEGIN PRIVATE KEY-----")
            .skip(1)
            .take_while(|l| !l.starts_with("-----END"))
            .collect();
        let der = praisani_message::base64::decode(&body)
            .filter(|d| !d.is_empty())
            .ok_or_else(|| SealError::Key("no PKCS#8 PEM private key".into()))?;
        if Ed25519Key::from_pkcs8_maybe_unchecked_der(&der).is_ok() {
            return Err(SealError::Key(
                "an Ed25519 key: ARC seals with RSA only (RFC 8617)".into(),
            ));
        }
        let key = RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs8(der.into()))
            .map_err(|e| SealError::Key(e.to_string()))?;
        Ok(ArcKey::new(domain, selector, key))
    }
}

/// The ARC set for `message` as we stored it: its topmost
/// `Authentication-Results` of `authserv_id` (ours: `strip.rs` removed
/// forged ones on arrival) copied, the chain's state taken from its `arc=`
/// result. Returns the three header fields to prepend, CRLF-terminated.
pub fn seal(message: &[u8], authserv_id: &str, key: &ArcKey) -> Result<String, SealError> {
    let parsed = AuthenticatedMessage::parse(message).ok_or(SealError::Unparsable)?;
    let ours = parsed
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case(b"Authentication-Results"))
        .map(|(_, value)| String::from_utf8_lossy(value))
        .find(|v| serv_id(v).eq_ignore_ascii_case(authserv_id))
        .ok_or_else(|| SealError::NoResults(authserv_id.to_string()))?;
    let chain = resinfos(&ours)
        .iter()
        .find_map(|r| r.strip_prefix("arc="))
        .map(|rest| {
            let token: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            match token.to_ascii_lowercase().as_str() {
                "pass" => AuthResult::Pass,
                "none" => AuthResult::None,
                _ => AuthResult::Fail,
            }
        })
        .unwrap_or(AuthResult::None);
    seal_parsed(&parsed, &ours, chain, key)
}

/// The ARC set for `message` with `results` (an `Authentication-Results`
/// value: authserv-id and results) and the incoming chain's check result
/// `chain` (`pass`, `none`, anything else a failure).
pub fn seal_with(
    message: &[u8],
    results: &str,
    chain: AuthResult,
    key: &ArcKey,
) -> Result<String, SealError> {
    let parsed = AuthenticatedMessage::parse(message).ok_or(SealError::Unparsable)?;
    seal_parsed(&parsed, results, chain, key)
}

fn seal_parsed(
    parsed: &AuthenticatedMessage<'_>,
    results: &str,
    chain: AuthResult,
    key: &ArcKey,
) -> Result<String, SealError> {
    // mail-auth writes the value after `i=N; ` as given, both in the header
    // and in what the seal signs (relaxed), so it must be one line with
    // single spaces already: then both are the same bytes.
    let value = collapse(results);
    if value.len() > MAX_RESULTS {
        return Err(SealError::TooLong);
    }
    let auth_results = AuthenticationResults::new(&value);
    let output = chain_output(parsed, chain);
    if !output.can_be_sealed() {
        return Err(SealError::ChainFailed);
    }
    let sealer = ArcSealer::from_key(DkimKeyRef(&key.key))
        .domain(key.domain.clone())
        .selector(key.selector.clone())
        .headers(SIGNED.iter().copied());
    let set = sealer
        .seal(parsed, &auth_results, &output)
        .map_err(|e| SealError::Sealer(e.to_string()))?;
    Ok(set.to_header())
}

/// The incoming chain as mail-auth's sealer wants it: the message's sets
/// in instance order, and the result of their check.
fn chain_output<'x>(parsed: &'x AuthenticatedMessage<'x>, chain: AuthResult) -> ArcOutput<'x> {
    let result = match chain {
        AuthResult::Pass => DkimResult::Pass,
        AuthResult::None => DkimResult::None,
        _ => DkimResult::Fail(mail_auth::Error::Arc(mail_auth::arc::ArcError::BrokenChain)),
    };
    let mut out = ArcOutput::default().with_result(result);
    let n = parsed.as_headers.len() as u32;
    for i in 1..=n {
        let seal = parsed.as_headers.iter().find(|h| h.header.i == i);
        let sig = parsed.ams_headers.iter().find(|h| h.header.i == i);
        let res = parsed.aar_headers.iter().find(|h| h.header.i == i);
        if let (Some(seal), Some(sig), Some(res)) = (seal, sig, res) {
            out = out.with_set(Set {
                signature: Header {
                    name: sig.name,
                    value: sig.value,
                    header: &sig.header,
                },
                seal: Header {
                    name: seal.name,
                    value: seal.value,
                    header: &seal.header,
                },
                results: Header {
                    name: res.name,
                    value: res.value,
                    header: &res.header,
                },
            });
        }
    }
    out
}

/// A borrowed key for the sealer (which takes its key by value).
struct DkimKeyRef<'a>(&'a RsaKey<Sha256>);

impl mail_auth::common::crypto::SigningKey for DkimKeyRef<'_> {
    type Hasher = Sha256;

    fn sign(&self, input: impl mail_auth::common::headers::Writable) -> mail_auth::Result<Vec<u8>> {
        self.0.sign(input)
    }

    fn algorithm(&self) -> mail_auth::common::crypto::Algorithm {
        self.0.algorithm()
    }
}

/// The authserv-id of an `Authentication-Results` value.
fn serv_id(value: &str) -> &str {
    value
        .trim_start()
        .split(|c: char| c == ';' || c.is_ascii_whitespace())
        .next()
        .unwrap_or("")
}

/// The value split at the `;` between resinfos — not at one inside a
/// quoted-string or a comment, where a client's HELO or address may put
/// one — each piece trimmed, comments dropped.
fn resinfos(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut escaped, mut depth) = (false, false, 0u32);
    for c in value.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                cur.push(c);
            }
            continue;
        }
        match c {
            '\\' if quoted || depth > 0 => escaped = true,
            '"' if depth == 0 => {
                quoted = !quoted;
                cur.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            ';' if !quoted && depth == 0 => out.push(std::mem::take(&mut cur).trim().to_string()),
            _ if depth == 0 => cur.push(c),
            _ => {}
        }
    }
    out.push(cur.trim().to_string());
    out
}

/// `value` unfolded, its whitespace runs made single spaces, trimmed.
fn collapse(value: &str) -> String {
    value.split_ascii_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests;
