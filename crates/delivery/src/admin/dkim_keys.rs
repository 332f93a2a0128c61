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

#[cfg(test)]
mod tests {
    use super::*;
    use praisani_store::EmbeddedStore;

    #[tokio::test]
    async fn keys_of_a_hosted_domain_newest_first_and_which_sign() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(&dir.path().join("store")).unwrap();
        let keys = KeyStore::new(dir.path());
        let d = Domain::parse("example.test").unwrap();
        assert!(matches!(
            list(&store, &keys, &d).await,
            Err(AdminError::Host(
                praisani_mailhost::admin::AdminError::NotHosted(_)
            ))
        ));
        store.domain_add(&d).await.unwrap();
        assert!(list(&store, &keys, &d).await.unwrap().is_empty());
        generate(&store, &keys, &d, Algorithm::Ed25519Sha256, Some("s1"))
            .await
            .unwrap();
        // Modification times order the keys (ties: the larger selector
        // first, which is the newer one here too).
        std::thread::sleep(std::time::Duration::from_millis(20));
        generate(&store, &keys, &d, Algorithm::Ed25519Sha256, Some("s2"))
            .await
            .unwrap();
        let got: Vec<(String, bool)> = list(&store, &keys, &d)
            .await
            .unwrap()
            .into_iter()
            .map(|k| (k.signer.selector, k.signing))
            .collect();
        assert_eq!(got, [("s2".to_string(), true), ("s1".to_string(), false)]);
    }
}
