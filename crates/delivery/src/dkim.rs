//! DKIM signatures (RFC 6376) for the mail of our hosted domains:
//! ed25519-sha256 (RFC 8463) and rsa-sha256, relaxed/relaxed
//! canonicalization, and the per-domain keys kept in the data directory.
//!
//! ```text
//! KeyStore::new(data_dir).signers_for("example.com")?   -> [Signer]
//! signer.sign(message, now)?                              -> "DKIM-Signature: …\r\n"
//! ```
//!
//! The caller prepends the returned header field(s) to the message it sends.
//! Signing is pure computation on bytes: no I/O, no clock.
//!
//! Ed25519 is the modern choice, but several large receivers do not verify
//! it yet, so a domain that signs only with Ed25519 fails DKIM (and DMARC)
//! there. [`KeyStore::signers_for`] returns one signer per algorithm so that a
//! domain with both an RSA and an Ed25519 key is signed with both
//! (RFC 8463 §1 recommends exactly this during the transition).

mod canon;
mod key;
mod store;

pub use key::SigningKey;
pub use store::KeyStore;

use praisani_mailaddr::Domain;
use praisani_message::base64 as b64;
use std::fmt;
use std::path::PathBuf;

/// A DKIM signing algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `ed25519-sha256` (RFC 8463).
    Ed25519Sha256,
    /// `rsa-sha256` (RFC 6376, RFC 8301).
    RsaSha256,
}

impl Algorithm {
    /// The `a=` tag value: `ed25519-sha256` or `rsa-sha256`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Ed25519Sha256 => "ed25519-sha256",
            Algorithm::RsaSha256 => "rsa-sha256",
        }
    }

    /// The key type, the `k=` tag of the DNS record: `ed25519` or `rsa`.
    pub fn key_type(self) -> &'static str {
        match self {
            Algorithm::Ed25519Sha256 => "ed25519",
            Algorithm::RsaSha256 => "rsa",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Algorithm {
    type Err = DkimError;

    /// Accepts the key type (`ed25519`, `rsa`) or the algorithm name.
    fn from_str(s: &str) -> Result<Self, DkimError> {
        match s.to_ascii_lowercase().as_str() {
            "ed25519" | "ed25519-sha256" => Ok(Algorithm::Ed25519Sha256),
            "rsa" | "rsa-sha256" => Ok(Algorithm::RsaSha256),
            _ => Err(DkimError::Key(format!(
                "unknown DKIM algorithm {s:?} (ed25519 or rsa)"
            ))),
        }
    }
}

/// Why a key could not be made, read or used, or a message not signed.
#[derive(Debug, thiserror::Error)]
pub enum DkimError {
    /// Not a valid domain name.
    #[error("{0:?} is not a valid domain name")]
    InvalidDomain(String),
    /// Not a valid selector.
    #[error(
        "{0:?} is not a valid DKIM selector (one DNS label: letters, digits and hyphens, at most 63)"
    )]
    InvalidSelector(String),
    /// A header field name in [`Signer::headers`] that cannot be one.
    #[error("{0:?} is not a valid header field name")]
    InvalidHeader(String),
    /// The message has no From field, which a signature must cover (RFC 6376 §5.4).
    #[error("the message has no From header field, which DKIM must sign")]
    NoFrom,
    /// A key that cannot be read or used.
    #[error("DKIM key: {0}")]
    Key(String),
    /// The crypto library failed.
    #[error("DKIM crypto failure: {0}")]
    Crypto(String),
    /// A key file of that domain and selector exists already; never overwritten.
    #[error("{} already exists (a key is never overwritten; choose another selector)", .0.display())]
    Exists(PathBuf),
    /// Reading or writing a key file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
}

/// The header fields signed by default (when present in the message), in
/// `h=` order. `from` is always signed, and signed once more than it occurs
/// ("oversigned", RFC 6376 §8.15) so that a second From added on the way
/// breaks the signature.
pub const DEFAULT_HEADERS: &[&str] = &[
    "from",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "reply-to",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "in-reply-to",
    "references",
];

/// Signs messages for one domain with one key.
#[derive(Debug, Clone)]
pub struct Signer {
    /// The signing domain (`d=`), as an A-label (a Unicode name is converted).
    pub domain: String,
    /// The selector (`s=`): the key's DNS record is at `<selector>._domainkey.<domain>`.
    pub selector: String,
    /// The private key.
    pub key: SigningKey,
    /// Lower-case names of the header fields to sign, in order (see [`DEFAULT_HEADERS`]).
    pub headers: Vec<String>,
}

/// Longest line we write in the DKIM-Signature field (RFC 5322 §2.1.1: 78).
const FOLD_AT: usize = 78;

impl Signer {
    /// A signer with the [`DEFAULT_HEADERS`].
    pub fn new(domain: impl Into<String>, selector: impl Into<String>, key: SigningKey) -> Self {
        Signer {
            domain: domain.into(),
            selector: selector.into(),
            key,
            headers: DEFAULT_HEADERS.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// The name of the DNS TXT record holding the public key:
    /// `<selector>._domainkey.<domain>` (A-label, no trailing dot).
    pub fn dns_name(&self) -> Result<String, DkimError> {
        Ok(format!(
            "{}._domainkey.{}",
            self.selector,
            self.ascii_domain()?
        ))
    }

    fn ascii_domain(&self) -> Result<String, DkimError> {
        Domain::parse(&self.domain)
            .map(|d| d.ascii().to_string())
            .map_err(|_| DkimError::InvalidDomain(self.domain.clone()))
    }

    /// The DKIM-Signature header field (ending in CRLF, folded) for a whole
    /// message (header and body, CRLF line ends; a bare LF is taken as a
    /// line end), with relaxed/relaxed canonicalization, `t=now` and no
    /// `l=`. Prepend it to the message unchanged.
    pub fn sign(&self, message: &[u8], now: i64) -> Result<String, DkimError> {
        let domain = self.ascii_domain()?;
        if !valid_selector(&self.selector) {
            return Err(DkimError::InvalidSelector(self.selector.clone()));
        }
        let (fields, body) = canon::split(message);

        let body_hash =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &canon::relaxed_body(&body));

        // Which fields, in which order. For a name that occurs n times the
        // verifier takes the instances from the bottom up (§5.4.2).
        let mut names: Vec<String> = Vec::new();
        for h in std::iter::once("from").chain(self.headers.iter().map(String::as_str)) {
            let h = h.trim().to_ascii_lowercase();
            if h.is_empty() || !h.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
                return Err(DkimError::InvalidHeader(h));
            }
            if h != "dkim-signature" && !names.contains(&h) {
                names.push(h);
            }
        }
        let mut signed_names: Vec<&str> = Vec::new();
        let mut data: Vec<u8> = Vec::new();
        for name in &names {
            let mut found = 0;
            for f in fields
                .iter()
                .rev()
                .filter(|f| f.name.eq_ignore_ascii_case(name.as_bytes()))
            {
                data.extend_from_slice(&canon::relaxed_header(&f.lines));
                signed_names.push(name);
                found += 1;
            }
            if name == "from" {
                if found == 0 {
                    return Err(DkimError::NoFrom);
                }
                // The oversigned extra instance hashes as nothing.
                signed_names.push(name);
            }
        }

        let mut field = Folder::new("DKIM-Signature:");
        field.atom(" v=1;");
        field.atom(&format!(" a={};", self.key.algorithm().as_str()));
        field.atom(" c=relaxed/relaxed;");
        field.atom(&format!(" d={domain};"));
        field.atom(&format!(" s={};", self.selector));
        field.atom(&format!(" t={now};"));
        for (i, n) in signed_names.iter().enumerate() {
            match i {
                0 => field.atom(&format!(" h={n}")),
                _ => field.atom(&format!(":{n}")),
            }
        }
        field.atom(";");
        field.atom(&format!(" bh={};", b64::encode(body_hash.as_ref())));
        field.atom(" b=");

        // The field itself is hashed last, with an empty b= and without
        // its final CRLF (§3.7).
        let lines: Vec<&[u8]> = field.text.split("\r\n").map(str::as_bytes).collect();
        let mut own = canon::relaxed_header(&lines);
        own.truncate(own.len() - 2);
        data.extend_from_slice(&own);

        let sig = b64::encode(self.key.sign(&data)?);
        let mut rest = sig.as_str();
        while !rest.is_empty() {
            let room = FOLD_AT.saturating_sub(field.col).max(1);
            let n = room.min(rest.len());
            field.text.push_str(&rest[..n]);
            field.col += n;
            rest = &rest[n..];
            if !rest.is_empty() {
                field.text.push_str("\r\n\t");
                field.col = 8;
            }
        }
        field.text.push_str("\r\n");
        Ok(field.text)
    }
}

/// Builds a folded header field from atoms that may be preceded by a fold.
struct Folder {
    text: String,
    col: usize,
}

impl Folder {
    fn new(start: &str) -> Self {
        Folder {
            text: start.to_string(),
            col: start.len(),
        }
    }

    /// Appends `atom`, first folding the line (CRLF TAB in place of a
    /// leading space) when it would grow past [`FOLD_AT`].
    fn atom(&mut self, atom: &str) {
        if self.col + atom.len() > FOLD_AT && self.col > 8 {
            self.text.push_str("\r\n\t");
            self.col = 8;
            let atom = atom.strip_prefix(' ').unwrap_or(atom);
            self.text.push_str(atom);
            self.col += atom.len();
        } else {
            self.text.push_str(atom);
            self.col += atom.len();
        }
    }
}

/// Is `s` a selector we write: dot-separated labels of letters, digits and
/// hyphens (RFC 6376 §3.1)?
pub fn valid_selector(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Splits a TXT record value into the character-strings of at most 255
/// octets that DNS requires (RFC 1035 §3.3.14); a zone file writes them as
/// `"…" "…"` and resolvers join them again (RFC 6376 §3.6.2.2).
pub fn txt_strings(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = value;
    while rest.len() > 255 {
        let mut n = 255;
        while !rest.is_char_boundary(n) {
            n -= 1;
        }
        out.push(rest[..n].to_string());
        rest = &rest[n..];
    }
    out.push(rest.to_string());
    out
}
