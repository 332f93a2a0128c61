//! The certificate check of a DANE handshake (RFC 7672 §3, RFC 7671 §5):
//!
//! - **DANE-EE** (usage 3): the server's own certificate (selector 0) or
//!   its public key (selector 1) matches, exactly or by SHA-256/SHA-512.
//!   Nothing else is checked: no name, no expiry, no issuer (RFC 7672
//!   §3.1.1) — the DNSSEC-signed record is the authority.
//! - **DANE-TA** (usage 2): a certificate the server sent besides its own
//!   matches; it becomes the only trust anchor, and the server's
//!   certificate must chain to it as WebPKI requires (signatures, validity,
//!   key usage) and name the MX host or the TLSA base domain (RFC 7672
//!   §3.2.2, §3.2.3). A trust anchor given only as a key in DNS, not sent
//!   by the server, is not supported (RFC 7672 §3.2.2 asks servers to send
//!   it).
//!
//! The handshake's own signatures are checked as always: a matching
//! certificate without its private key proves nothing.

use super::{Tlsa, TlsaSet, USAGE_DANE_EE, USAGE_DANE_TA};
use aws_lc_rs::digest;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, RootCertStore, SignatureScheme};
use std::sync::Arc;

/// Why a chain did not pass: no record matched, or the DANE-TA chain or
/// name check failed. Its text starts with `DANE:`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("DANE: {host}: {detail}")]
pub struct Mismatch {
    /// The MX host.
    pub host: String,
    /// What did not match.
    pub detail: String,
}

/// A rustls [`ServerCertVerifier`] that accepts a chain only when one of
/// its [`TlsaSet`]'s records matches (see the module documentation).
#[derive(Debug)]
pub struct DaneVerifier {
    set: TlsaSet,
    host: String,
    provider: Arc<CryptoProvider>,
}

impl DaneVerifier {
    /// The check for a handshake with `mx_host` (lower-cased, no trailing
    /// dot), against `set`.
    pub fn new(set: TlsaSet, mx_host: &str) -> DaneVerifier {
        DaneVerifier {
            set,
            host: mx_host.trim_end_matches('.').to_ascii_lowercase(),
            provider: Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
        }
    }

    /// A TLS client configuration whose handshakes use this check (the
    /// aws-lc-rs provider, safe default protocol versions).
    pub fn client_config(self: &Arc<Self>) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
        let config = rustls::ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(self.clone())
            .with_no_client_auth();
        Ok(Arc::new(config))
    }

    /// The [`Mismatch`] inside a failed handshake's error, if the DANE
    /// check was why it failed (rustls itself shows it only as a debug
    /// dump).
    pub fn mismatch_in(error: &std::io::Error) -> Option<&Mismatch> {
        let inner = error.get_ref()?.downcast_ref::<rustls::Error>()?;
        match inner {
            rustls::Error::InvalidCertificate(CertificateError::Other(other)) => {
                other.0.downcast_ref::<Mismatch>()
            }
            _ => None,
        }
    }

    /// The record that `end_entity` with `intermediates` (as the server
    /// sent them) matches at `now`, or why none does.
    pub fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<&Tlsa, Mismatch> {
        let records = self.set.records();
        if let Some(ee) = records
            .iter()
            .find(|r| r.usage == USAGE_DANE_EE && matches(r, end_entity))
        {
            return Ok(ee);
        }
        let mut ta_failure = None;
        for (i, ca) in intermediates.iter().enumerate() {
            for record in records.iter().filter(|r| r.usage == USAGE_DANE_TA) {
                if !matches(record, ca) {
                    continue;
                }
                match self.chain_to(ca, i, end_entity, intermediates, now) {
                    Ok(()) => return Ok(record),
                    Err(e) => ta_failure = Some(format!("trust anchor {record} matched, but {e}")),
                }
            }
        }
        let detail = ta_failure.unwrap_or_else(|| {
            let list: Vec<String> = records.iter().map(ToString::to_string).collect();
            format!(
                "no TLSA record of {} matches the certificate chain ({} certificate(s); records: {})",
                self.set.base(),
                intermediates.len() + 1,
                list.join(", ")
            )
        });
        Err(Mismatch {
            host: self.host.clone(),
            detail,
        })
    }

    /// WebPKI validation of `end_entity` with `anchor` (the server's
    /// `intermediates[index]`) as the only trust anchor, for the MX host or
    /// the TLSA base domain.
    fn chain_to(
        &self,
        anchor: &CertificateDer<'_>,
        index: usize,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<(), String> {
        let mut roots = RootCertStore::empty();
        roots
            .add(anchor.clone().into_owned())
            .map_err(|e| format!("it is no usable trust anchor: {e}"))?;
        let webpki =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                .build()
                .map_err(|e| e.to_string())?;
        let rest: Vec<CertificateDer<'_>> = intermediates
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != index)
            .map(|(_, c)| c.clone())
            .collect();
        let mut names = vec![self.host.as_str()];
        if self.set.base() != self.host {
            names.push(self.set.base());
        }
        let mut last = String::from("no name to check");
        for name in names {
            let Ok(server_name) = ServerName::try_from(name.to_string()) else {
                continue;
            };
            match webpki.verify_server_cert(end_entity, &rest, &server_name, &[], now) {
                Ok(_) => return Ok(()),
                Err(e) => last = format!("the chain does not verify for {name}: {e}"),
            }
        }
        Err(last)
    }
}

/// Does `cert` match `record` (selector and matching type)?
pub(super) fn matches(record: &Tlsa, cert: &CertificateDer<'_>) -> bool {
    let spki;
    let selected: &[u8] = match record.selector {
        0 => cert.as_ref(),
        1 => match subject_public_key_info(cert) {
            Some(s) => {
                spki = s;
                &spki
            }
            None => return false,
        },
        _ => return false,
    };
    match record.matching {
        0 => selected == record.data.as_slice(),
        1 => digest::digest(&digest::SHA256, selected).as_ref() == record.data.as_slice(),
        2 => digest::digest(&digest::SHA512, selected).as_ref() == record.data.as_slice(),
        _ => false,
    }
}

/// The certificate's SubjectPublicKeyInfo, DER (with its SEQUENCE).
fn subject_public_key_info(cert: &CertificateDer<'_>) -> Option<Vec<u8>> {
    let parsed = webpki::EndEntityCert::try_from(cert).ok()?;
    Some(parsed.subject_public_key_info().as_ref().to_vec())
}

impl ServerCertVerifier for DaneVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // The name connected to is `self.host` (the queue connects by the
        // MX host name); the records, not the name rustls was given,
        // decide.
        match self.check(end_entity, intermediates, now) {
            Ok(_) => Ok(ServerCertVerified::assertion()),
            Err(e) => Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                OtherError(Arc::new(e)),
            ))),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests;
