//! TLS for outbound SMTP: opportunistic for MX hosts (encrypted whenever
//! the server offers it, its certificate not checked), verified for the
//! next hops that must be (the smarthost with credentials, static routes
//! marked `verify_tls`, MX hosts under an enforced MTA-STS policy): the
//! certificate chains to the Mozilla roots or to a configured CA file and
//! names the host. Under an MTA-STS policy in `testing` mode the same
//! check runs after an opportunistic handshake ([`check_name`]), only to
//! report.

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Longest wait for a TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a TLS handshake with a server did not succeed; the text starts
/// with the enhanced status code it is reported with.
#[derive(Debug, thiserror::Error)]
pub(super) enum HandshakeError {
    /// The host is not a name TLS can be asked for.
    #[error("4.7.5 {host}: {source}")]
    BadName {
        host: String,
        source: rustls::pki_types::InvalidDnsNameError,
    },
    /// The handshake failed.
    #[error("4.7.5 TLS with {host} failed: {source}")]
    Failed {
        host: String,
        source: std::io::Error,
    },
    /// The server did not finish the handshake in time.
    #[error("4.7.5 TLS with {host} timed out")]
    TimedOut { host: String },
}

/// Why the verifying TLS connector could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// The CA file could not be read or holds no certificate.
    #[error("delivery.tls_ca_file {}: {reason}", path.display())]
    CaFile {
        /// The configured file.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
    /// rustls refused the settings (a CA certificate it cannot use).
    #[error("verified outbound TLS: {0}")]
    Config(#[from] rustls::Error),
    /// The certificate verifier could not be built from the roots.
    #[error("verified outbound TLS: {0}")]
    Verifier(#[from] rustls::client::VerifierBuilderError),
}

impl HandshakeError {
    /// The TLS-RPT result type of the failure.
    pub(super) fn result_type(&self) -> crate::tls_report::ResultType {
        use crate::tls_report::ResultType;
        match self {
            HandshakeError::Failed { source, .. } => ResultType::of_handshake(source),
            HandshakeError::BadName { .. } | HandshakeError::TimedOut { .. } => {
                ResultType::ValidationFailure
            }
        }
    }
}

/// The verifying connector and its certificate verifier, for checks
/// after a handshake that did not verify ([`check_name`]).
pub(super) struct Verified {
    /// Handshakes fail unless the certificate verifies.
    pub(super) connector: TlsConnector,
    /// The same check, on its own.
    pub(super) verifier: Arc<rustls::client::WebPkiServerVerifier>,
}

/// Checks the certificate an opportunistic handshake with `host` got, as
/// the verifying connector would have.
pub(super) fn check_name(
    verifier: &rustls::client::WebPkiServerVerifier,
    stream: &TlsStream<TcpStream>,
    host: &str,
) -> Result<(), rustls::Error> {
    use rustls::client::danger::ServerCertVerifier;
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|_| rustls::Error::General(format!("{host} is not a TLS server name")))?;
    let certs = stream.get_ref().1.peer_certificates().unwrap_or_default();
    let Some((end_entity, intermediates)) = certs.split_first() else {
        return Err(rustls::Error::NoCertificatesPresented);
    };
    verifier
        .verify_server_cert(
            end_entity,
            intermediates,
            &name,
            &[],
            rustls::pki_types::UnixTime::now(),
        )
        .map(|_| ())
}

/// The client side of a TLS handshake with `host` over `tcp`.
pub(super) async fn handshake(
    tls: &TlsConnector,
    tcp: TcpStream,
    host: &str,
) -> Result<TlsStream<TcpStream>, HandshakeError> {
    let name = rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|source| {
        HandshakeError::BadName {
            host: host.to_string(),
            source,
        }
    })?;
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.connect(name, tcp)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(source)) => Err(HandshakeError::Failed {
            host: host.to_string(),
            source,
        }),
        Err(_) => Err(HandshakeError::TimedOut {
            host: host.to_string(),
        }),
    }
}

/// TLS for outbound SMTP is opportunistic (RFC 3207 section 4.1: MX
/// servers are rarely verifiable by name); it protects against passive
/// eavesdropping. A domain's MTA-STS policy (or DANE, to come) is what
/// makes its MX hosts verifiable: then [`verified`] is used.
pub(super) fn opportunistic() -> TlsConnector {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map(|b| {
            b.dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
                .with_no_client_auth()
        });
    match config {
        Ok(c) => TlsConnector::from(Arc::new(c)),
        // The defaults are always valid for the provider; keep going
        // without TLS verification options rather than abort.
        Err(_) => TlsConnector::from(Arc::new(
            rustls::ClientConfig::builder()
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCert(Arc::new(
                    rustls::crypto::aws_lc_rs::default_provider(),
                ))))
                .with_no_client_auth(),
        )),
    }
}

/// A connector whose handshake fails unless the server's certificate
/// chains to a Mozilla root (webpki-roots) or to a certificate of
/// `ca_file` (PEM), and names the host asked for (an IP address host is
/// matched against the certificate's IP addresses).
pub(super) fn verified(ca_file: Option<&Path>) -> Result<Verified, TlsSetupError> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca_file {
        let bad = |reason: String| TlsSetupError::CaFile {
            path: path.to_path_buf(),
            reason,
        };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| bad(e.to_string()))?
            .collect::<Result<_, _>>()
            .map_err(|e| bad(e.to_string()))?;
        if certs.is_empty() {
            return Err(bad("no certificate in the file".into()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| bad(e.to_string()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_webpki_verifier(verifier.clone())
        .with_no_client_auth();
    Ok(Verified {
        connector: TlsConnector::from(Arc::new(config)),
        verifier,
    })
}

/// Accepts any certificate, but still checks the handshake signatures.
#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
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
        cert: &rustls::pki_types::CertificateDer<'_>,
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
