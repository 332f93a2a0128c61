use super::*;

const PW: &[u8] = b"correct horse";

// Made with `openssl passwd -6|-5|-1 -salt Zq8sRt2u` and Python's hashlib
// (digest of password + salt 01020304, then the salt).
const SHA512: &str = "$6$Zq8sRt2u$SvEd.tP.7mVOhrPBVW7DD6DeFfEFTSKNOYI1IuvGWFSZeQDJulf/mX6u7U6oGVYz1MCofROITj.27PgZ3KDl6/";
const SHA256: &str = "$5$Zq8sRt2u$JTgLrBi7virzju9tFkuj/5JJbQv6k.4pKLsrh/79K75";
const MD5: &str = "$1$Zq8sRt2u$70s0YNQMiT2t2OvTDEe0K.";
const SSHA: &str = "{SSHA}5pcxo13YdJml98eQSIlT3FMEBMMBAgME";
const SSHA256: &str = "{SSHA256}0hJvnJrn389Ik7M3OR+qOZl6NBsSet72zG2p4yy6GwEBAgME";
const SSHA512: &str = "{SSHA512}59hB/WwyfgQUZfHrhGKG7B924+SMQ9dsAndq2fAiQ192K1Up6+Uyb2bNkO/rs2mynGTKvujt8okIdKCusVizJwECAwQ=";
const SSHA512_HEX: &str = "{SSHA512.hex}e7d841fd6c327e041465f1eb846286ec1f76e3e48c43d76c02776ad9f022435f762b5529ebe5326f66cd90efebb369b29c64cabee8edf2890874a0aeb158b32701020304";
const PLAIN_MD5: &str = "{PLAIN-MD5}3cb4e732631f47e6eb961f34554b7cde";
// The OpenBSD bcrypt test vector for "U*U".
const BCRYPT_UU: &str = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";

fn checks(text: &str, password: &[u8]) -> bool {
    let h = ImportedHash::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    // The stored form reads back as the same hash.
    assert_eq!(ImportedHash::parse(&h.stored()).unwrap(), h, "{text}");
    h.verify(password)
}

#[test]
fn every_scheme_verifies_its_password_and_no_other() {
    let prefixed = [
        format!("{{SHA512-CRYPT}}{SHA512}"),
        format!("{{sha256-crypt}}{SHA256}"),
        format!("{{MD5-CRYPT}}{MD5}"),
        format!("{{CRYPT}}{SHA512}"),
    ];
    let all = [
        SHA512,
        SHA256,
        MD5,
        SSHA,
        SSHA256,
        SSHA512,
        SSHA512_HEX,
        PLAIN_MD5,
    ]
    .into_iter()
    .map(String::from)
    .chain(prefixed);
    for text in all {
        assert!(checks(&text, PW), "{text}");
        assert!(!checks(&text, b"correct horsE"), "{text}");
        assert!(!checks(&text, b""), "{text}");
    }
}

#[test]
fn bcrypt_matches_the_reference_vector_and_its_prefixes() {
    assert!(checks(BCRYPT_UU, b"U*U"));
    assert!(!checks(BCRYPT_UU, b"U*V"));
    let y = BCRYPT_UU.replacen("$2a$", "$2y$", 1);
    assert!(checks(&y, b"U*U"));
    assert!(checks(&format!("{{BLF-CRYPT}}{y}"), b"U*U"));
    let made = pwhash::bcrypt::hash_with(
        pwhash::bcrypt::BcryptSetup {
            cost: Some(4),
            variant: Some(pwhash::bcrypt::BcryptVariant::V2y),
            salt: None,
        },
        PW,
    )
    .unwrap();
    assert!(checks(&made, PW));
}

#[test]
fn sha_crypt_with_rounds() {
    let made = pwhash::sha512_crypt::hash_with("$6$rounds=5000$abcdefgh$", PW).unwrap();
    assert!(made.starts_with("$6$rounds=5000$"));
    assert!(checks(&made, PW));
    assert!(!checks(&made, b"x"));
}

#[test]
fn argon2_phc_strings_with_and_without_prefix() {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::encode_b64(b"sixteen byte slt").unwrap();
    for alg in [Algorithm::Argon2i, Algorithm::Argon2id] {
        let params = Params::new(4096, 3, 1, None).unwrap();
        let phc = argon2::Argon2::new(alg, argon2::Version::V0x13, params)
            .hash_password(PW, &salt)
            .unwrap()
            .to_string();
        let prefix = if alg == Algorithm::Argon2i {
            "ARGON2I"
        } else {
            "ARGON2ID"
        };
        assert!(checks(&phc, PW));
        assert!(checks(&format!("{{{prefix}}}{phc}"), PW));
        assert!(!checks(&phc, b"nope"));
        assert_eq!(ImportedHash::parse(&phc).unwrap().scheme(), prefix);
    }
    let id = "$argon2id$v=19$m=4096,t=3,p=1$c2l4dGVlbiBieXRlIHNsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    assert!(matches!(
        ImportedHash::parse(&format!("{{ARGON2I}}{id}")),
        Err(HashFormatError::Malformed { .. })
    ));
}

#[test]
fn bad_hashes_are_named() {
    let err = |t: &str| ImportedHash::parse(t).unwrap_err();
    assert!(matches!(err("{NTLM}abc"), HashFormatError::UnknownScheme(s) if s == "NTLM"));
    assert_eq!(err("secret"), HashFormatError::Unrecognised);
    assert_eq!(err("$9$x$y"), HashFormatError::Unrecognised);
    assert_eq!(err("{SSHA"), HashFormatError::Unrecognised);
    for bad in [
        &SHA512[..SHA512.len() - 1],
        "$6$salt$",
        "$6$waytoolongsaltstring$SvEd.tP.7mVOhrPBVW7DD6DeFfEFTSKNOYI1IuvGWFSZeQDJulf/mX6u7U6oGVYz1MCofROITj.27PgZ3KDl6/",
        "$5$rounds=10$Zq8sRt2u$JTgLrBi7virzju9tFkuj/5JJbQv6k.4pKLsrh/79K75",
        "$1$Zq8sRt2u$70s0YNQMiT2t2OvTDEe0K",
        "$2y$99$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "$2y$05$short",
        "{SSHA}not base64!",
        "{SSHA}AAAA",
        "{PLAIN-MD5}xyz",
        "$argon2id$v=19$m=1,t=1,p=1$c2FsdA$AAAA",
        "$argon2d$v=19$m=4096,t=3,p=1$c2l4dGVlbiBieXRlIHNsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        assert!(
            matches!(err(bad), HashFormatError::Malformed { .. }),
            "{bad}: {:?}",
            ImportedHash::parse(bad)
        );
    }
    // A scheme that says one kind of crypt and holds another.
    assert!(matches!(
        err(&format!("{{SHA256-CRYPT}}{SHA512}")),
        HashFormatError::Malformed { .. }
    ));
    assert!(err("{NTLM}abc").to_string().contains("{NTLM}"));
}

#[test]
fn debug_output_hides_the_hash() {
    let h = ImportedHash::parse(SHA512).unwrap();
    assert_eq!(format!("{h:?}"), "ImportedHash(SHA512-CRYPT <redacted>)");
}
