//! The TLS of `import pop3`: the server's certificate checked against the
//! system's roots or a CA file given, or — only when asked — not at all.

use super::{PullError, Trust};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::sync::Arc;
use tokio_rustls::TlsConnector;

/// The connector for `trust`.
pub(super) fn connector(trust: &Trust) -> Result<TlsConnector, PullError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| PullError::TlsSetup(e.to_string()))?;
    let config = match trust {
        Trust::Anything => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
            .with_no_client_auth(),
        Trust::System | Trust::CaFile(_) => {
            let mut roots = rustls::RootCertStore::empty();
            match trust {
                Trust::CaFile(path) => {
                    let bad = |e: String| PullError::TlsSetup(format!("{}: {e}", path.display()));
                    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                        .map_err(|e| bad(e.to_string()))?
                        .collect::<Result<_, _>>()
                        .map_err(|e| bad(e.to_string()))?;
                    if certs.is_empty() {
                        return Err(bad("no certificate in the file".into()));
                    }
                    for c in certs {
                        roots.add(c).map_err(|e| bad(e.to_string()))?;
                    }
                }
                _ => {
                    let found = rustls_native_certs::load_native_certs();
                    for c in found.certs {
                        // One unreadable system certificate must not
                        // stop the others.
                        let _ = roots.add(c);
                    }
                    if roots.is_empty() {
                        return Err(PullError::TlsSetup(
                            "no trusted certificates found on this system (give --ca)".into(),
                        ));
                    }
                }
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Accepts any certificate (`--insecure`), still checking the handshake's
/// signatures.
#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
