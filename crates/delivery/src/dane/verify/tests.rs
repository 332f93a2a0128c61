//! TLSA matching against certificates made here with rcgen: the digests
//! are computed from rcgen's own SubjectPublicKeyInfo and DER, so the
//! parsing in `verify.rs` is checked against an independent encoder.

use super::*;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
    PublicKeyData,
};

fn sha256(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, data).as_ref().to_vec()
}

fn sha512(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA512, data).as_ref().to_vec()
}

fn tlsa(usage: u8, selector: u8, matching: u8, data: Vec<u8>) -> Tlsa {
    Tlsa {
        usage,
        selector,
        matching,
        data,
    }
}

/// A certificate and its key.
struct Made {
    der: CertificateDer<'static>,
    key: KeyPair,
}

impl Made {
    fn spki(&self) -> Vec<u8> {
        self.key.subject_public_key_info()
    }
}

fn leaf_params(names: &[&str]) -> CertificateParams {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut p = CertificateParams::new(names.clone()).unwrap();
    p.distinguished_name
        .push(DnType::CommonName, names[0].clone());
    p
}

fn self_signed(names: &[&str]) -> Made {
    let key = KeyPair::generate().unwrap();
    let der = leaf_params(names).self_signed(&key).unwrap().der().clone();
    Made { der, key }
}

fn ca() -> CertifiedIssuer<'static, KeyPair> {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name
        .push(DnType::CommonName, "DANE test CA");
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap()
}

fn issued(ca: &CertifiedIssuer<'static, KeyPair>, params: CertificateParams) -> Made {
    let key = KeyPair::generate().unwrap();
    let der = params.signed_by(&key, ca).unwrap().der().clone();
    Made { der, key }
}

fn verifier(records: Vec<Tlsa>, host: &str) -> DaneVerifier {
    DaneVerifier::new(TlsaSet::new(records, host), host)
}

fn now() -> UnixTime {
    UnixTime::now()
}

#[test]
fn our_spki_is_the_certificates_key() {
    let leaf = self_signed(&["mx.example.org"]);
    assert_eq!(subject_public_key_info(&leaf.der).unwrap(), leaf.spki());
    assert!(subject_public_key_info(&CertificateDer::from(vec![0x30, 0x00])).is_none());
}

#[test]
fn dane_ee_matches_the_key_or_the_whole_certificate() {
    let leaf = self_signed(&["mx.example.org"]);
    let host = "mx.example.org";
    for record in [
        tlsa(3, 1, 1, sha256(&leaf.spki())),
        tlsa(3, 0, 1, sha256(&leaf.der)),
        tlsa(3, 1, 2, sha512(&leaf.spki())),
        tlsa(3, 0, 2, sha512(&leaf.der)),
        tlsa(3, 1, 0, leaf.spki()),
        tlsa(3, 0, 0, leaf.der.to_vec()),
    ] {
        let v = verifier(vec![record.clone()], host);
        assert_eq!(v.check(&leaf.der, &[], now()), Ok(&record), "{record}");
    }
}

#[test]
fn dane_ee_mismatch_is_refused() {
    let leaf = self_signed(&["mx.example.org"]);
    let other = self_signed(&["mx.example.org"]);
    let v = verifier(
        vec![
            tlsa(3, 1, 1, sha256(&other.spki())),
            tlsa(3, 0, 1, sha256(&other.der)),
        ],
        "mx.example.org",
    );
    let err = v.check(&leaf.der, &[], now()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("DANE: mx.example.org: no TLSA record"),
        "{err}"
    );
    // A digest of the right key under the other selector does not match.
    let v = verifier(vec![tlsa(3, 0, 1, sha256(&leaf.spki()))], "mx.example.org");
    assert!(v.check(&leaf.der, &[], now()).is_err());
}

#[test]
fn dane_ee_checks_neither_name_nor_expiry() {
    let key = KeyPair::generate().unwrap();
    let mut p = leaf_params(&["somewhere.else.test"]);
    p.not_before = rcgen::date_time_ymd(2000, 1, 1);
    p.not_after = rcgen::date_time_ymd(2001, 1, 1);
    let der = p.self_signed(&key).unwrap().der().clone();
    let v = verifier(
        vec![tlsa(3, 1, 1, sha256(&key.subject_public_key_info()))],
        "mx.example.org",
    );
    assert!(v.check(&der, &[], now()).is_ok());
}

#[test]
fn dane_ta_matches_an_anchor_in_the_chain_and_checks_the_name() {
    let ca = ca();
    let ca_der = ca.der().clone();
    let ca_spki = ca.key().subject_public_key_info();
    let leaf = issued(&ca, leaf_params(&["mx.example.org"]));
    for record in [
        tlsa(2, 1, 1, sha256(&ca_spki)),
        tlsa(2, 0, 1, sha256(&ca_der)),
        tlsa(2, 0, 2, sha512(&ca_der)),
    ] {
        let v = verifier(vec![record.clone()], "mx.example.org");
        assert_eq!(
            v.check(&leaf.der, std::slice::from_ref(&ca_der), now()),
            Ok(&record),
            "{record}"
        );
        // The same chain presented by a host of another name fails the
        // name check of DANE-TA.
        let v = verifier(vec![record.clone()], "mx.other.org");
        let err = v
            .check(&leaf.der, std::slice::from_ref(&ca_der), now())
            .unwrap_err();
        assert!(
            err.detail.contains("does not verify for mx.other.org"),
            "{err}"
        );
    }
}

#[test]
fn dane_ta_accepts_the_tlsa_base_domain_as_name() {
    let ca = ca();
    let ca_der = ca.der().clone();
    let leaf = issued(&ca, leaf_params(&["real.example.net"]));
    let record = tlsa(2, 0, 1, sha256(&ca_der));
    // The MX host mx.example.org is a CNAME for real.example.net, where
    // the records were found.
    let v = DaneVerifier::new(TlsaSet::new([record], "real.example.net"), "mx.example.org");
    assert!(v.check(&leaf.der, &[ca_der], now()).is_ok());
}

#[test]
fn dane_ta_needs_the_anchor_sent_and_a_valid_chain() {
    let ca = ca();
    let ca_der = ca.der().clone();
    let record = tlsa(2, 0, 1, sha256(&ca_der));
    let leaf = issued(&ca, leaf_params(&["mx.example.org"]));
    let v = verifier(vec![record.clone()], "mx.example.org");
    // Not sent: nothing to match.
    assert!(v.check(&leaf.der, &[], now()).is_err());
    // A certificate of another CA with the anchor sent alongside.
    let stranger = issued(&self::ca(), leaf_params(&["mx.example.org"]));
    let err = v
        .check(&stranger.der, std::slice::from_ref(&ca_der), now())
        .unwrap_err();
    assert!(err.detail.contains("matched, but"), "{err}");
    // Expired: DANE-TA checks validity (unlike DANE-EE).
    let mut p = leaf_params(&["mx.example.org"]);
    p.not_before = rcgen::date_time_ymd(2000, 1, 1);
    p.not_after = rcgen::date_time_ymd(2001, 1, 1);
    let old = issued(&ca, p);
    assert!(v.check(&old.der, &[ca_der], now()).is_err());
}

#[test]
fn dane_ta_is_not_matched_against_the_servers_own_certificate() {
    let leaf = self_signed(&["mx.example.org"]);
    let v = verifier(vec![tlsa(2, 0, 1, sha256(&leaf.der))], "mx.example.org");
    assert!(v.check(&leaf.der, &[], now()).is_err());
}

#[test]
fn unusable_records_are_ignored() {
    let leaf = self_signed(&["mx.example.org"]);
    let hash = sha256(&leaf.spki());
    // PKIX-TA and PKIX-EE (unusable for SMTP), an unknown usage, a
    // truncated digest: the set is empty and nothing passes.
    let set = TlsaSet::new(
        [
            tlsa(0, 1, 1, hash.clone()),
            tlsa(1, 1, 1, hash.clone()),
            tlsa(4, 1, 1, hash.clone()),
            tlsa(3, 1, 1, hash[..31].to_vec()),
        ],
        "mx.example.org",
    );
    assert!(set.is_empty());
    let v = DaneVerifier::new(set, "mx.example.org");
    assert!(v.check(&leaf.der, &[], now()).is_err());
    // Beside a usable record that matches, they change nothing.
    let v = verifier(
        vec![tlsa(1, 1, 1, hash.clone()), tlsa(3, 1, 1, hash)],
        "mx.example.org",
    );
    assert!(v.check(&leaf.der, &[], now()).is_ok());
}

#[test]
fn rustls_gets_an_invalid_certificate_error() {
    let leaf = self_signed(&["mx.example.org"]);
    let other = self_signed(&["mx.example.org"]);
    let set = TlsaSet::new([tlsa(3, 1, 1, sha256(&other.spki()))], "mx.example.org");
    let v = Arc::new(DaneVerifier::new(set, "mx.example.org"));
    let name = ServerName::try_from("mx.example.org").unwrap();
    let err = v
        .verify_server_cert(&leaf.der, &[], &name, &[], now())
        .unwrap_err();
    assert!(
        matches!(err, rustls::Error::InvalidCertificate(_)),
        "{err:?}"
    );
    // As tokio-rustls hands it over: inside an io::Error.
    let io = std::io::Error::new(std::io::ErrorKind::InvalidData, err);
    let why = DaneVerifier::mismatch_in(&io)
        .expect("the reason")
        .to_string();
    assert!(
        why.starts_with("DANE: mx.example.org: no TLSA record"),
        "{why}"
    );
    assert!(v.client_config().is_ok());
    let set = TlsaSet::new([tlsa(3, 1, 1, sha256(&leaf.spki()))], "mx.example.org");
    assert!(
        set.verifier("mx.example.org")
            .verify_server_cert(&leaf.der, &[], &name, &[], now())
            .is_ok()
    );
}
