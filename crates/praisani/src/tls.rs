//! TLS for every listener: the certificate, the rustls settings, and
//! reloading both on SIGHUP without dropping connections.
//!
//! With no `[tls]` certificate configured, a self-signed certificate for the
//! host name is made in `data_dir/tls/` on first start and reused after, so
//! TLS works out of the box (clients will ask the user to trust it).

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use tokio_rustls::TlsAcceptor;

/// Where the certificate and key come from.
#[derive(Debug, Clone)]
pub struct TlsSource {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// The current TLS settings; reloadable.
pub struct Tls {
    source: TlsSource,
    current: RwLock<TlsAcceptor>,
}

impl Tls {
    /// Loads the configured certificate, or makes/reuses the self-signed
    /// one in `data_dir`.
    pub fn load(
        configured: Option<TlsSource>,
        data_dir: &Path,
        hostname: &str,
    ) -> Result<Self, String> {
        let source = match configured {
            Some(s) => s,
            None => ensure_self_signed(data_dir, hostname)?,
        };
        let acceptor = build(&source)?;
        Ok(Tls {
            source,
            current: RwLock::new(acceptor),
        })
    }

    /// The acceptor for a new handshake.
    pub fn acceptor(&self) -> TlsAcceptor {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Re-reads the certificate and key; on error the old ones stay.
    pub fn reload(&self) -> Result<String, String> {
        let acceptor = build(&self.source)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = acceptor;
        fingerprint(&self.source.cert)
    }

    /// The certificate's SHA-256 fingerprint, for the log.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.source.cert).unwrap_or_else(|e| e)
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("tls.cert {}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("tls.cert {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "tls.cert {}: no certificate in the file",
            path.display()
        ));
    }
    Ok(certs)
}

fn build(source: &TlsSource) -> Result<TlsAcceptor, String> {
    let certs = read_certs(&source.cert)?;
    let key = PrivateKeyDer::from_pem_file(&source.key)
        .map_err(|e| format!("tls.key {}: {e}", source.key.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("tls: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("tls.cert/tls.key: {e}"))?;
    // Microsoft's senders abort STARTTLS when offered session tickets; the
    // saving is small for mail, so none are sent (TLS 1.2 tickets are off
    // unless a ticketer is set, which it is not).
    config.send_tls13_tickets = 0;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn fingerprint(cert: &Path) -> Result<String, String> {
    let certs = read_certs(cert)?;
    let digest = Sha256::digest(certs[0].as_ref());
    Ok(digest
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":"))
}

fn ensure_self_signed(data_dir: &Path, hostname: &str) -> Result<TlsSource, String> {
    let dir = data_dir.join("tls");
    let source = TlsSource {
        cert: dir.join("self-signed.crt"),
        key: dir.join("self-signed.key"),
    };
    if source.cert.exists() && source.key.exists() {
        return Ok(source);
    }
    praisani_store::files::create_private_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let made = |e: rcgen::Error| format!("making a self-signed certificate: {e}");
    let mut params = rcgen::CertificateParams::new(vec![hostname.to_string()]).map_err(made)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, hostname);
    let key = rcgen::KeyPair::generate().map_err(made)?;
    let cert = params.self_signed(&key).map_err(made)?;
    write_private(&source.key, key.serialize_pem().as_bytes())?;
    // Public, but the data directory holds only private files: one rule
    // that a start-up check can hold everything to.
    write_private(&source.cert, cert.pem().as_bytes())?;
    tracing::warn!(
        cert = %source.cert.display(),
        "no [tls] certificate configured: made a self-signed certificate for {hostname}"
    );
    Ok(source)
}

/// Writes a file readable by its owner only.
pub(crate) fn write_private(path: &Path, data: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(data)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.sync_all().map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_is_made_once_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let tls = Tls::load(None, dir.path(), "mx.example.test").unwrap();
        let fp = tls.fingerprint();
        assert_eq!(fp.len(), 32 * 3 - 1, "{fp}");
        // Reused, not regenerated.
        let again = Tls::load(None, dir.path(), "mx.example.test").unwrap();
        assert_eq!(again.fingerprint(), fp);
        assert_eq!(tls.reload().unwrap(), fp);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("tls/self-signed.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "key readable by others: {mode:o}");
        }
    }

    #[test]
    fn bad_files_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("c.pem");
        std::fs::write(&cert, "not a certificate").unwrap();
        let e = Tls::load(
            Some(TlsSource {
                cert: cert.clone(),
                key: dir.path().join("missing.pem"),
            }),
            dir.path(),
            "h",
        )
        .err()
        .unwrap();
        assert!(e.contains("tls.cert"), "{e}");
    }
}
