use super::*;
use std::time::Duration;

fn at_day(day: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(day * 86_400 + 3_600)
}

fn srs() -> Srs {
    Srs::new(vec![b"first secret".to_vec(), b"old secret".to_vec()], 21)
}

fn ours() -> Domain {
    Domain::parse("fwd.example").unwrap()
}

fn addr(s: &str) -> Address {
    Address::parse(s).unwrap()
}

/// Replaces the hash (the part after `SRS0=`/`SRS1=`) of an SRS address.
fn with_hash(a: &Address, hash: &str) -> Address {
    let local = a.local();
    let rest = &local[5..];
    let after = &rest[rest.find('=').unwrap()..];
    Address::new(&format!("{}{hash}{after}", &local[..5]), a.domain().clone()).unwrap()
}

#[test]
fn srs0_round_trip() {
    let now = at_day(20_000);
    let sender = addr("alice@example.com");
    let f = srs().forward(&sender, &ours(), now);
    assert_eq!(f.domain(), &ours());
    assert!(Srs::is_srs(f.local()), "{f}");
    let parts: Vec<&str> = f.local().split('=').collect();
    assert_eq!(parts.len(), 5, "{f}");
    assert_eq!(parts[0], "srs0");
    assert_eq!(parts[1].len(), 4);
    assert_eq!(parts[2], encode_stamp(20_000).to_lowercase());
    assert_eq!(parts[3], "example.com");
    assert_eq!(parts[4], "alice");
    assert_eq!(srs().reverse(&f, now).unwrap(), sender);
    // Still good on the last day of its age, and expired a day later.
    assert_eq!(srs().reverse(&f, at_day(20_021)).unwrap(), sender);
    assert_eq!(srs().reverse(&f, at_day(20_022)), Err(SrsError::Expired));
}

#[test]
fn known_hash_matches_libsrs2_form() {
    // HMAC-SHA1("secret", "aaexample.comalice"), base64, four characters
    // (computed with Python's hmac): the parts lower-cased and run
    // together, as libsrs2 hashes them.
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, b"secret");
    assert_eq!(hash(&key, &["AA", "Example.COM", "Alice"]), "B2Hg");
    assert_eq!(encode_stamp(0), "AA");
    assert_eq!(encode_stamp(1023), "77");
    assert_eq!(encode_stamp(1024 + 33), "BB");
    assert_eq!(decode_stamp("bB"), Some(33));
    assert_eq!(decode_stamp("B1"), None);
}

#[test]
fn tampered_hash_or_address_is_refused() {
    let now = at_day(20_000);
    let f = srs().forward(&addr("alice@example.com"), &ours(), now);
    let good = f.local().split('=').nth(1).unwrap().to_string();
    let flipped: String = good
        .chars()
        .map(|c| if c == 'a' { 'b' } else { 'a' })
        .collect();
    assert_eq!(
        srs().reverse(&with_hash(&f, &flipped), now),
        Err(SrsError::BadHash)
    );
    // Change the original address under the hash.
    let other = Address::new(&f.local().replace("=alice", "=mallory"), ours()).unwrap();
    assert_eq!(srs().reverse(&other, now), Err(SrsError::BadHash));
    // Another secret does not verify.
    let stranger = Srs::new(vec![b"someone else".to_vec()], 21);
    assert_eq!(stranger.reverse(&f, now), Err(SrsError::BadHash));
    // Too short a hash.
    assert_eq!(
        srs().reverse(&with_hash(&f, &good[..3]), now),
        Err(SrsError::BadHash)
    );
}

#[test]
fn hash_compared_in_any_case() {
    let now = at_day(20_000);
    let f = srs().forward(&addr("alice@example.com"), &ours(), now);
    // Address lower-cases local parts; build upper-case variants by hand.
    for variant in [f.local().to_uppercase(), f.local().to_lowercase()] {
        let (hash, stamp, host, user) = {
            let p: Vec<&str> = variant[5..].splitn(4, '=').collect();
            (
                p[0].to_string(),
                p[1].to_string(),
                p[2].to_string(),
                p[3].to_string(),
            )
        };
        assert!(
            srs().check_hash(&hash, &[&stamp, &host, &user]).is_ok(),
            "{variant}"
        );
    }
}

#[test]
fn old_secret_verifies_new_one_signs() {
    let now = at_day(20_000);
    let old = Srs::new(vec![b"old secret".to_vec()], 21);
    let f = old.forward(&addr("alice@example.com"), &ours(), now);
    assert_eq!(srs().reverse(&f, now).unwrap(), addr("alice@example.com"));
    let g = srs().forward(&addr("alice@example.com"), &ours(), now);
    assert_ne!(f, g);
    assert_eq!(old.reverse(&g, now), Err(SrsError::BadHash));
}

#[test]
fn timestamp_wraps_round_1024_days() {
    // Sent on day 1020 of a cycle, bounced on day 5 of the next one.
    let sent = at_day(3 * 1024 + 1020);
    let f = srs().forward(&addr("bob@example.org"), &ours(), sent);
    let back = at_day(4 * 1024 + 5);
    assert_eq!(srs().reverse(&f, back).unwrap(), addr("bob@example.org"));
    // A whole cycle later the same stamp looks fresh again — the known
    // limit of two-character stamps — but 30 days later it is expired.
    assert_eq!(
        srs().reverse(&f, at_day(4 * 1024 + 30)),
        Err(SrsError::Expired)
    );
    // A stamp from tomorrow is one from 1023 days ago.
    let tomorrow = srs().forward(&addr("bob@example.org"), &ours(), at_day(5_001));
    assert_eq!(
        srs().reverse(&tomorrow, at_day(5_000)),
        Err(SrsError::Expired)
    );
    assert!(fresh(1020, 4 * 1024 + 5, 21));
    assert!(!fresh(1020, 4 * 1024 + 18, 21));
}

#[test]
fn srs1_round_trip() {
    let now = at_day(20_000);
    let first_forwarder = Srs::new(vec![b"theirs".to_vec()], 21);
    let first_domain = Domain::parse("first.example").unwrap();
    let srs0 = first_forwarder.forward(&addr("carol@example.net"), &first_domain, now);
    assert!(srs0.local().starts_with("srs0="));
    // We forward their SRS0 on: SRS1 names them, keeps their rest whole.
    let srs1 = srs().forward(&srs0, &ours(), now);
    assert!(srs1.local().starts_with("srs1="), "{srs1}");
    let rest = &srs0.local()[4..];
    assert!(
        srs1.local().ends_with(&format!("=first.example={rest}")),
        "{srs1}"
    );
    // Reversed: their SRS0 address, which they reverse to the original.
    let back = srs().reverse(&srs1, now).unwrap();
    assert_eq!(back, srs0);
    assert_eq!(
        first_forwarder.reverse(&back, now).unwrap(),
        addr("carol@example.net")
    );
    // A third forwarder re-signs the SRS1 and still names the first one.
    let third = Srs::new(vec![b"third".to_vec()], 21);
    let third_domain = Domain::parse("third.example").unwrap();
    let again = third.forward(&srs1, &third_domain, now);
    assert!(again.local().starts_with("srs1="), "{again}");
    assert_eq!(third.reverse(&again, now).unwrap(), srs0);
    // SRS1 tampering is caught too.
    let forged = with_hash(&srs1, "AAAA");
    assert_eq!(srs().reverse(&forged, now), Err(SrsError::BadHash));
}

#[test]
fn our_own_addresses_are_kept() {
    let now = at_day(20_000);
    let mine = addr("dave@fwd.example");
    assert_eq!(srs().forward(&mine, &ours(), now), mine);
    let f = srs().forward(&addr("x@example.com"), &ours(), now);
    assert_eq!(srs().forward(&f, &ours(), now), f);
}

#[test]
fn idn_domains_travel_as_a_labels() {
    let now = at_day(20_000);
    let sender = addr("somchai@ตัวอย่าง.ไทย");
    let ours = Domain::parse("ส่งต่อ.ไทย").unwrap();
    let f = srs().forward(&sender, &ours, now);
    assert!(f.local().is_ascii(), "{}", f.local());
    assert!(
        f.local().contains("=xn--72c1a1bt4awk9o.xn--o3cw4h="),
        "{}",
        f.local()
    );
    assert_eq!(srs().reverse(&f, now).unwrap(), sender);
}

#[test]
fn separators_and_malformed_addresses() {
    let now = at_day(20_000);
    let f = srs().forward(&addr("alice@example.com"), &ours(), now);
    for sep in ['+', '-'] {
        let mut local = f.local().to_string();
        local.replace_range(4..5, &sep.to_string());
        let a = Address::new(&local, ours()).unwrap();
        assert!(Srs::is_srs(a.local()));
        assert_eq!(srs().reverse(&a, now).unwrap(), addr("alice@example.com"));
    }
    assert!(!Srs::is_srs("alice"));
    assert!(!Srs::is_srs("srs0"));
    assert!(!Srs::is_srs("srs0.x"));
    assert!(!Srs::is_srs("srs2=abcd"));
    assert_eq!(
        srs().reverse(&addr("alice@fwd.example"), now),
        Err(SrsError::NotSrs)
    );
    for bad in [
        "srs0=abcd=aa=example.com",
        "srs0=abcd=a=example.com=x",
        "srs0=abcd==example.com=x",
        "srs1=abcd=first.example",
        "srs0=abcd=a!=example.com=x",
    ] {
        let a = Address::parse(&format!("{bad}@fwd.example")).unwrap();
        assert_eq!(srs().reverse(&a, now), Err(SrsError::Malformed), "{bad}");
    }
}

#[test]
fn too_long_or_no_secret_keeps_the_sender() {
    let now = at_day(20_000);
    let long = addr(&format!(
        "{}@{}.example.com",
        "l".repeat(40),
        "d".repeat(20)
    ));
    assert_eq!(srs().forward(&long, &ours(), now), long);
    let none = Srs::new(vec![Vec::new()], 21);
    let sender = addr("alice@example.com");
    assert_eq!(none.forward(&sender, &ours(), now), sender);
    let f = srs().forward(&sender, &ours(), now);
    assert_eq!(none.reverse(&f, now), Err(SrsError::BadHash));
}
