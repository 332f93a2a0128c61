//! Making the DKIM signing keys of hosted domains.

use super::{AdminError, DnsRecord};
use crate::dkim::{Algorithm, KeyStore, Signer};
use praisani_mailaddr::Domain;
use praisani_mailhost::admin::domains;
use praisani_store::Store;
use std::path::PathBuf;

/// A key just made.
#[derive(Debug)]
pub struct NewKey {
    /// The signer using it (A-label domain, selector, key).
    pub signer: Signer,
    /// Its type.
    pub algorithm: Algorithm,
    /// The file it was written to.
    pub file: PathBuf,
    /// The TXT record publishing its public key.
    pub record: DnsRecord,
}

/// Makes a signing key of `algorithm` for the hosted `domain` under
/// `selector` (default: `praisani<YYYYMM>`) in `keys`; an existing key is
/// never overwritten. Mail is signed with the newest key of each type.
pub async fn generate(
    store: &dyn Store,
    keys: &KeyStore,
    domain: &Domain,
    algorithm: Algorithm,
    selector: Option<&str>,
) -> Result<NewKey, AdminError> {
    domains::ensure_hosted(store, domain).await?;
    let signer = keys.create(domain.ascii(), algorithm, selector)?;
    let record = DnsRecord::dkim(&signer)?;
    Ok(NewKey {
        file: keys.file_of(&signer),
        signer,
        algorithm,
        record,
    })
}

/// A key a hosted domain has.
#[derive(Debug)]
pub struct KeyInfo {
    /// The signer using it (A-label domain, selector, key).
    pub signer: Signer,
    /// Its type.
    pub algorithm: Algorithm,
    /// The file it is kept in.
    pub file: PathBuf,
    /// The TXT record publishing its public key.
    pub record: DnsRecord,
    /// Mail is signed with it now: it is the newest key of its type.
    pub signing: bool,
}

/// The keys of the hosted `domain`, newest first, each with its DNS record
/// and whether mail is signed with it now.
pub async fn list(
    store: &dyn Store,
    keys: &KeyStore,
    domain: &Domain,
) -> Result<Vec<KeyInfo>, AdminError> {
    domains::ensure_hosted(store, domain).await?;
    let signing = keys.signers_for(domain.ascii())?;
    let mut out = Vec::new();
    for signer in keys.keys(domain.ascii())? {
        let algorithm = signer.key.algorithm();
        out.push(KeyInfo {
            file: keys.file_of(&signer),
            record: DnsRecord::dkim(&signer)?,
            signing: signing.iter().any(|s| s.selector == signer.selector),
            algorithm,
            signer,
        });
    }
    Ok(out)
}
