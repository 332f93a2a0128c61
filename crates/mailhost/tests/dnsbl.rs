//! DNS blocklists and allowlists against a DNS server on loopback: a
//! listed client is refused with the list's reason, an allowlisted one
//! passes, and a list that fails (silent, or answering with an operator's
//! error code) blocks nothing.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use praisani_mailhost::dnsbl::{Dnsbl, DnsblSettings, Listing};
use praisani_mailhost::trust::{DnsSettings, build_resolver};
use praisani_testdns::{TestDns, Zone};

fn zone() -> Zone {
    Zone::new()
        // 192.0.2.66 is on the block list, with a reason.
        .a("66.2.0.192.bl.test", "127.0.0.2")
        .txt(
            "66.2.0.192.bl.test",
            "Listed for spam, see https://bl.test/66",
        )
        // 192.0.2.77 is on it and on the allow list.
        .a("77.2.0.192.bl.test", "127.0.0.4")
        .a("77.2.0.192.wl.test", "127.0.10.1")
        // The second list refuses to answer for 192.0.2.88 (an operator's code).
        .a("88.2.0.192.other.test", "127.255.255.254")
        // 2001:db8::66 is listed too.
        .a(
            "6.6.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test",
            "127.0.0.2",
        )
        .silent("99.2.0.192.bl.test")
}

fn lists(dns: &TestDns, blocklists: &[&str], allowlists: &[&str]) -> Dnsbl {
    let resolver = build_resolver(&DnsSettings {
        nameservers: vec![dns.addr],
        timeout: Duration::from_millis(600),
    })
    .unwrap();
    Dnsbl::new(
        DnsblSettings {
            blocklists: blocklists.iter().map(|s| s.to_string()).collect(),
            allowlists: allowlists.iter().map(|s| s.to_string()).collect(),
            timeout: Duration::from_secs(2),
            check_loopback: false,
        },
        resolver,
    )
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[tokio::test]
async fn listed_clients_are_refused_with_the_lists_reason() {
    let dns = TestDns::start(zone());
    let l = lists(&dns, &["other.test", "bl.test"], &[]);
    let listing = l.check(ip("192.0.2.66")).await;
    assert_eq!(
        listing,
        Listing::Listed {
            zone: "bl.test".into(),
            reason: Some("Listed for spam, see https://bl.test/66".into())
        }
    );
    let reply = listing.refusal(ip("192.0.2.66")).unwrap();
    assert_eq!(reply.code, 554);
    assert_eq!(
        l.check(ip("2001:db8::66")).await,
        Listing::Listed {
            zone: "bl.test".into(),
            reason: None
        }
    );
    assert_eq!(l.check(ip("192.0.2.1")).await, Listing::Clean);
    // The lists were asked the RFC 5782 names.
    let asked: Vec<String> = dns.queries().into_iter().map(|(n, _)| n).collect();
    assert!(
        asked.iter().any(|n| n.starts_with("66.2.0.192.other.test")),
        "{asked:?}"
    );
}

#[tokio::test]
async fn an_allowlist_overrides_the_blocklists() {
    let dns = TestDns::start(zone());
    let with_allow = lists(&dns, &["bl.test"], &["wl.test"]);
    assert_eq!(
        with_allow.check(ip("192.0.2.77")).await,
        Listing::Allowed {
            zone: "wl.test".into()
        }
    );
    let without = lists(&dns, &["bl.test"], &[]);
    assert!(matches!(
        without.check(ip("192.0.2.77")).await,
        Listing::Listed { .. }
    ));
}

#[tokio::test]
async fn lists_that_fail_block_nothing() {
    let dns = TestDns::start(zone());
    let l = lists(&dns, &["bl.test", "other.test"], &[]);
    // An operator's error code is not a listing.
    assert_eq!(l.check(ip("192.0.2.88")).await, Listing::Clean);
    // A list that does not answer: not blocked, and not waited for long.
    let started = Instant::now();
    assert_eq!(l.check(ip("192.0.2.99")).await, Listing::Clean);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // Loopback clients are this machine: never looked up.
    let before = dns.queries().len();
    assert_eq!(l.check(ip("127.0.0.1")).await, Listing::Clean);
    assert_eq!(dns.queries().len(), before);
}
