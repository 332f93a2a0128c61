//! Routing against a real (tiny) DNS server on 127.0.0.1.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hickory_resolver::proto::rr::RecordType;
use praisani_delivery::route::{
    MAX_MX_HOSTS, Route, RouteError, Router, RouterConfig, StaticRoute, TlsMode,
};
use praisani_testdns::{TestDns, Zone};

const PORT: u16 = 2525;

fn zone() -> Zone {
    let mut z = Zone::new()
        // Preference order: listed out of order on purpose.
        .mx("pref.test", 20, "mx-b.pref.test")
        .mx("pref.test", 10, "mx-a.pref.test")
        .mx("pref.test", 30, "mx-c.pref.test")
        .a("mx-a.pref.test", "127.0.0.1")
        .a("mx-b.pref.test", "127.0.0.2")
        .a("mx-c.pref.test", "127.0.0.3")
        // Equal preferences.
        .mx("equal.test", 10, "one.equal.test")
        .mx("equal.test", 10, "two.equal.test")
        .mx("equal.test", 5, "zero.equal.test")
        .a("one.equal.test", "127.0.0.21")
        .a("two.equal.test", "127.0.0.22")
        .a("zero.equal.test", "127.0.0.20")
        // No MX: implicit MX.
        .a("implicit.test", "127.0.0.5")
        // Exists (it has a child), but has neither MX nor address.
        .a("www.empty.test", "127.0.0.99")
        // Null MX.
        .mx("nullmx.test", 0, ".")
        // Both address families.
        .mx("dual.test", 10, "mx.dual.test")
        .a("mx.dual.test", "127.0.0.6")
        .aaaa("mx.dual.test", "::1")
        .a("mx.dual.test", "127.0.0.7")
        // MX pointing at a CNAME.
        .mx("cname.test", 10, "alias.cname.test")
        .cname("alias.cname.test", "real.cname.test")
        .a("real.cname.test", "127.0.0.8")
        // MX hosts that do not exist.
        .mx("noaddr.test", 10, "gone.noaddr.test")
        .mx("noaddr.test", 20, "gone2.noaddr.test")
        // One MX host fails temporarily, the backup resolves.
        .mx("partial.test", 10, "mx.servfail.test")
        .mx("partial.test", 20, "backup.partial.test")
        .a("backup.partial.test", "127.0.0.4")
        // Only MX host fails temporarily.
        .mx("tempaddr.test", 10, "mx.servfail.test")
        // IDN: ตัวอย่าง.ไทย, known here only by its A-label.
        .mx("xn--72c1a1bt4awk9o.xn--o3cw4h", 10, "mx.idn.test")
        .a("mx.idn.test", "127.0.0.10")
        // Next hops for static routes and the smarthost.
        .a("relay.test", "127.0.0.11")
        .a("smarthost.test", "127.0.0.12")
        .aaaa("smarthost.test", "::1")
        // Internal addresses (refused unless allowed).
        .mx("internal.test", 10, "mx.internal.test")
        .a("mx.internal.test", "10.1.2.3")
        .aaaa("mx.internal.test", "fe80::1")
        .mx("mapped.test", 10, "mx.mapped.test")
        .aaaa("mx.mapped.test", "::ffff:169.254.169.254")
        .mx("mixed.test", 10, "lo.mixed.test")
        .mx("mixed.test", 20, "pub.mixed.test")
        .a("lo.mixed.test", "127.0.0.1")
        .a("pub.mixed.test", "192.0.2.7")
        .a("pub.mixed.test", "100.64.0.1");
    // More MX hosts than the cap.
    for i in 0..15u16 {
        let host = format!("mx{i:02}.many.test");
        z = z.mx("many.test", i, &host).a(&host, "127.0.0.30");
    }
    z
}

fn config(dns: &TestDns) -> RouterConfig {
    RouterConfig {
        nameservers: vec![dns.addr],
        static_routes: HashMap::new(),
        smarthost: None,
        timeout: Duration::from_secs(2),
        smtp_port: PORT,
        // The zone's servers are all on loopback.
        allow_internal_mx: true,
    }
}

fn router(dns: &TestDns) -> Router {
    Router::new(config(dns)).expect("router")
}

fn sa(s: &str) -> SocketAddr {
    s.parse().expect("socket address")
}

fn hosts(route: &Route) -> Vec<(&str, u16)> {
    route
        .hosts
        .iter()
        .map(|t| (t.host.as_str(), t.preference))
        .collect()
}

#[tokio::test]
async fn mx_hosts_in_preference_order() {
    let dns = TestDns::start(zone());
    let route = router(&dns).route("pref.test").await.expect("route");
    assert_eq!(
        hosts(&route),
        [
            ("mx-a.pref.test", 10),
            ("mx-b.pref.test", 20),
            ("mx-c.pref.test", 30)
        ]
    );
    assert_eq!(route.hosts[0].addrs, [sa("127.0.0.1:2525")]);
    assert_eq!(route.hosts[1].addrs, [sa("127.0.0.2:2525")]);
    assert_eq!(route.hosts[2].addrs, [sa("127.0.0.3:2525")]);
    for t in &route.hosts {
        assert_eq!(t.tls, TlsMode::Starttls);
        assert_eq!(t.auth, None);
    }
    // Case and a trailing dot do not matter.
    let again = router(&dns).route("PREF.Test.").await.expect("route");
    assert_eq!(hosts(&again), hosts(&route));
}

#[tokio::test]
async fn equal_preferences_come_in_random_order() {
    let dns = TestDns::start(zone());
    let router = router(&dns);
    let mut seconds = HashSet::new();
    for _ in 0..40 {
        let route = router.route("equal.test").await.expect("route");
        assert_eq!(route.hosts.len(), 3);
        assert_eq!(route.hosts[0].host, "zero.equal.test");
        assert_eq!(route.hosts[1].preference, 10);
        assert_eq!(route.hosts[2].preference, 10);
        seconds.insert(route.hosts[1].host.clone());
    }
    let expected: HashSet<String> = ["one.equal.test", "two.equal.test"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(seconds, expected, "both orders must appear");
}

#[tokio::test]
async fn no_mx_means_implicit_mx() {
    let dns = TestDns::start(zone());
    let route = router(&dns).route("implicit.test").await.expect("route");
    assert_eq!(hosts(&route), [("implicit.test", 0)]);
    assert_eq!(route.hosts[0].addrs, [sa("127.0.0.5:2525")]);
}

#[tokio::test]
async fn implicit_mx_without_addresses() {
    let dns = TestDns::start(zone());
    let err = router(&dns).route("empty.test").await.unwrap_err();
    assert_eq!(err, RouteError::NoAddresses);
    assert!(err.is_permanent());
}

#[tokio::test]
async fn null_mx_fails_at_once() {
    let dns = TestDns::start(zone());
    let err = router(&dns).route("nullmx.test").await.unwrap_err();
    assert_eq!(err, RouteError::NullMx);
    assert!(err.is_permanent());
    // No address lookups were made for a null MX.
    assert!(
        dns.queries().iter().all(|(_, t)| *t == RecordType::MX),
        "{:?}",
        dns.queries()
    );
}

#[tokio::test]
async fn nxdomain_is_permanent() {
    let dns = TestDns::start(zone());
    let err = router(&dns).route("unknown.test").await.unwrap_err();
    assert_eq!(err, RouteError::NoSuchDomain);
    assert!(err.is_permanent());
}

#[tokio::test]
async fn mx_hosts_without_addresses() {
    let dns = TestDns::start(zone());
    let err = router(&dns).route("noaddr.test").await.unwrap_err();
    assert_eq!(err, RouteError::NoAddresses);
    assert!(err.is_permanent());
}

#[tokio::test]
async fn servfail_is_temporary() {
    let dns = TestDns::start(zone());
    let router = router(&dns);
    let err = router.route("servfail.test").await.unwrap_err();
    assert!(matches!(err, RouteError::Temporary(_)), "{err:?}");
    assert!(!err.is_permanent());

    // The only MX host's address lookups fail: temporary, not NoAddresses.
    let err = router.route("tempaddr.test").await.unwrap_err();
    assert!(matches!(err, RouteError::Temporary(_)), "{err:?}");

    // A failing primary does not hide a working backup.
    let route = router.route("partial.test").await.expect("route");
    assert_eq!(hosts(&route), [("backup.partial.test", 20)]);
}

#[tokio::test]
async fn timeout_is_temporary() {
    let dns = TestDns::start(zone());
    let mut cfg = config(&dns);
    cfg.timeout = Duration::from_millis(300);
    let router = Router::new(cfg).expect("router");
    let start = Instant::now();
    let err = router.route("slow.test").await.unwrap_err();
    let elapsed = start.elapsed();
    assert!(matches!(err, RouteError::Temporary(_)), "{err:?}");
    assert!(elapsed < Duration::from_millis(1500), "took {elapsed:?}");
    assert!(
        elapsed >= Duration::from_millis(250),
        "gave up too soon: {elapsed:?}"
    );
}

#[tokio::test]
async fn both_address_families_ipv6_first() {
    let dns = TestDns::start(zone());
    let route = router(&dns).route("dual.test").await.expect("route");
    assert_eq!(hosts(&route), [("mx.dual.test", 10)]);
    assert_eq!(
        route.hosts[0].addrs,
        [sa("[::1]:2525"), sa("127.0.0.6:2525"), sa("127.0.0.7:2525")]
    );
}

#[tokio::test]
async fn mx_pointing_at_cname_is_followed() {
    let dns = TestDns::start(zone());
    let route = router(&dns).route("cname.test").await.expect("route");
    assert_eq!(hosts(&route), [("alias.cname.test", 10)]);
    assert_eq!(route.hosts[0].addrs, [sa("127.0.0.8:2525")]);
}

#[tokio::test]
async fn mx_hosts_are_capped() {
    let dns = TestDns::start(zone());
    let route = router(&dns).route("many.test").await.expect("route");
    assert_eq!(route.hosts.len(), MAX_MX_HOSTS);
    assert_eq!(route.hosts[0].host, "mx00.many.test");
    assert_eq!(route.hosts[MAX_MX_HOSTS - 1].host, "mx09.many.test");
}

#[tokio::test]
async fn idn_domain_is_looked_up_by_its_a_label() {
    let dns = TestDns::start(zone());
    let route = router(&dns).route("ตัวอย่าง.ไทย").await.expect("route");
    assert_eq!(hosts(&route), [("mx.idn.test", 10)]);
    assert_eq!(route.hosts[0].addrs, [sa("127.0.0.10:2525")]);
    assert!(
        dns.queries()
            .contains(&("xn--72c1a1bt4awk9o.xn--o3cw4h".to_string(), RecordType::MX))
    );
}

#[tokio::test]
async fn static_routes_bypass_mx() {
    let dns = TestDns::start(zone());
    let mut cfg = config(&dns);
    // By IP literal: no DNS at all.
    let mut by_ip = StaticRoute::parse("[::1]:2526").unwrap();
    by_ip.auth = Some(("user".into(), "secret".into()));
    cfg.static_routes.insert("pref.test".into(), by_ip);
    // By name, keyed in Unicode: resolved to addresses, no MX lookup.
    cfg.static_routes.insert(
        "ตัวอย่าง.ไทย".into(),
        StaticRoute::parse("relay.test:2527").unwrap(),
    );
    let router = Router::new(cfg).expect("router");

    let route = router.route("pref.test").await.expect("route");
    assert_eq!(hosts(&route), [("::1", 0)]);
    assert_eq!(route.hosts[0].addrs, [sa("[::1]:2526")]);
    assert_eq!(
        route.hosts[0].auth,
        Some(("user".to_string(), "secret".to_string()))
    );
    assert!(!format!("{route:?}").contains("secret"));

    let route = router
        .route("xn--72c1a1bt4awk9o.xn--o3cw4h")
        .await
        .expect("route");
    assert_eq!(hosts(&route), [("relay.test", 0)]);
    assert_eq!(route.hosts[0].addrs, [sa("127.0.0.11:2527")]);

    // Other domains still use MX.
    let route = router.route("implicit.test").await.expect("route");
    assert_eq!(hosts(&route), [("implicit.test", 0)]);

    let asked = dns.queries();
    assert!(
        !asked.iter().any(|(n, _)| n == "pref.test"
            || n.ends_with(".pref.test")
            || n == "xn--72c1a1bt4awk9o.xn--o3cw4h"),
        "{asked:?}"
    );
    assert!(asked.contains(&("relay.test".to_string(), RecordType::A)));
}

#[tokio::test]
async fn smarthost_takes_everything_but_static_routes() {
    let dns = TestDns::start(zone());
    let mut cfg = config(&dns);
    let mut smarthost = StaticRoute::parse("SmartHost.test:465").unwrap();
    smarthost.tls = TlsMode::Implicit;
    smarthost.auth = Some(("isp-user".into(), "pw".into()));
    cfg.smarthost = Some(smarthost);
    cfg.static_routes.insert(
        "implicit.test".into(),
        StaticRoute::parse("127.0.0.13").unwrap(),
    );
    let router = Router::new(cfg).expect("router");

    for domain in ["pref.test", "nullmx.test", "unknown.test", "[127.0.0.1]"] {
        let route = router.route(domain).await.expect(domain);
        assert_eq!(hosts(&route), [("smarthost.test", 0)], "{domain}");
        let t = &route.hosts[0];
        assert_eq!(t.addrs, [sa("[::1]:465"), sa("127.0.0.12:465")]);
        assert_eq!(t.tls, TlsMode::Implicit);
        assert_eq!(t.auth, Some(("isp-user".to_string(), "pw".to_string())));
    }
    let route = router.route("implicit.test").await.expect("route");
    assert_eq!(route.hosts[0].addrs, [sa("127.0.0.13:25")]);
    assert_eq!(route.hosts[0].auth, None);

    let asked = dns.queries();
    assert!(
        asked.iter().all(|(n, _)| n == "smarthost.test"),
        "{asked:?}"
    );
}

#[tokio::test]
async fn unresolvable_smarthost_is_temporary() {
    let dns = TestDns::start(zone());
    let mut cfg = config(&dns);
    cfg.smarthost = Some(StaticRoute::parse("nowhere.test:587").unwrap());
    let err = Router::new(cfg)
        .unwrap()
        .route("pref.test")
        .await
        .unwrap_err();
    assert!(matches!(err, RouteError::Temporary(_)), "{err:?}");
}

#[tokio::test]
async fn domain_literals_and_bad_names() {
    let dns = TestDns::start(zone());
    let router = router(&dns);
    let route = router.route("[127.0.0.1]").await.expect("route");
    assert_eq!(hosts(&route), [("127.0.0.1", 0)]);
    assert_eq!(route.hosts[0].addrs, [sa("127.0.0.1:2525")]);
    let route = router.route("[IPv6:::1]").await.expect("route");
    assert_eq!(route.hosts[0].addrs, [sa("[::1]:2525")]);

    for bad in ["", "a..b", "[nonsense]", "-bad-.test\u{0}"] {
        let err = router.route(bad).await.unwrap_err();
        assert!(
            matches!(err, RouteError::InvalidDomain(_)),
            "{bad:?}: {err:?}"
        );
        assert!(err.is_permanent());
    }
    assert!(dns.queries().is_empty(), "{:?}", dns.queries());
}

#[test]
fn static_route_parse() {
    let ok = |s: &str, host: &str, port: u16| {
        let r = StaticRoute::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!((r.host.as_str(), r.port), (host, port), "{s}");
        assert_eq!(r.tls, TlsMode::Starttls);
        assert_eq!(r.auth, None);
    };
    ok("mail.example.com:587", "mail.example.com", 587);
    ok("mail.example.com", "mail.example.com", 25);
    ok("Mail.Example.COM.:2525", "mail.example.com", 2525);
    ok("  relay.example  ", "relay.example", 25);
    ok("192.0.2.1:465", "192.0.2.1", 465);
    ok("192.0.2.1", "192.0.2.1", 25);
    ok("[2001:db8::1]:25", "2001:db8::1", 25);
    ok("[2001:DB8::1]:587", "2001:db8::1", 587);
    ok("[2001:db8::1]", "2001:db8::1", 25);
    ok("[IPv6:2001:db8::1]:26", "2001:db8::1", 26);
    ok("[192.0.2.1]:26", "192.0.2.1", 26);
    ok("2001:db8::1", "2001:db8::1", 25);
    ok("ตัวอย่าง.ไทย:25", "xn--72c1a1bt4awk9o.xn--o3cw4h", 25);

    for bad in [
        "",
        ":25",
        "host:",
        "host:0",
        "host:65536",
        "host:smtp",
        "2001:db8::1:25x",
        "[2001:db8::1",
        "[2001:db8::1]25",
        "[not-an-ip]:25",
        "bad host:25",
        "a..b:25",
    ] {
        assert!(StaticRoute::parse(bad).is_err(), "{bad:?} should not parse");
    }

    let r = StaticRoute::parse("[2001:db8::1]:587").unwrap();
    assert_eq!(r.to_string(), "[2001:db8::1]:587");
    assert_eq!(StaticRoute::parse(&r.to_string()).unwrap(), r);
    let mut r = StaticRoute::parse("smtp.example:587").unwrap();
    assert_eq!(r.to_string(), "smtp.example:587");
    r.auth = Some(("me".into(), "hunter2".into()));
    assert!(!format!("{r:?}").contains("hunter2"));
}

/// A hostile domain's MX (or its own A record, or a domain literal)
/// pointing into our network is refused, temporarily, unless allowed;
/// public exchanges of the same domain are still used.
#[tokio::test]
async fn internal_addresses_are_refused_by_default() {
    let dns = TestDns::start(zone());
    let mut cfg = config(&dns);
    cfg.allow_internal_mx = false;
    cfg.static_routes.insert(
        "routed.test".into(),
        StaticRoute::parse("127.0.0.1:2600").unwrap(),
    );
    let router = Router::new(cfg).expect("router");
    for domain in [
        "internal.test",
        "mapped.test",
        "implicit.test",
        "pref.test",
        "[127.0.0.1]",
        "[IPv6:::1]",
        "[10.0.0.1]",
    ] {
        let err = router.route(domain).await.unwrap_err();
        assert!(
            matches!(err, RouteError::InternalAddress(_)),
            "{domain}: {err:?}"
        );
        assert!(!err.is_permanent(), "{domain}");
        assert!(err.enhanced_status().starts_with("4."), "{domain}");
    }
    // Only the public address of the public exchange is left.
    let route = router.route("mixed.test").await.expect("route");
    assert_eq!(hosts(&route), [("pub.mixed.test", 20)]);
    assert_eq!(route.hosts[0].addrs, [sa("192.0.2.7:2525")]);
    // The operator's own next hops may be anywhere.
    let route = router.route("routed.test").await.expect("static route");
    assert_eq!(route.hosts[0].addrs, [sa("127.0.0.1:2600")]);
    let route = router.route("[192.0.2.1]").await.expect("public literal");
    assert_eq!(route.hosts[0].addrs, [sa("192.0.2.1:2525")]);

    // Allowed: followed as before.
    let route = Router::new(config(&dns))
        .unwrap()
        .route("internal.test")
        .await
        .expect("allowed");
    assert_eq!(
        route.hosts[0].addrs,
        [sa("[fe80::1]:2525"), sa("10.1.2.3:2525")]
    );
}

/// Credentials or `verify_tls` make a static next hop's certificate
/// mandatory (and STARTTLS with it); an MX host never is.
#[tokio::test]
async fn next_hops_with_credentials_must_verify() {
    use praisani_delivery::client::StartTlsPolicy;
    let dns = TestDns::start(zone());
    let mut cfg = config(&dns);
    cfg.smarthost =
        Some(StaticRoute::next_hop("relay.test:587", Some(("u".into(), "p".into()))).unwrap());
    let mut marked = StaticRoute::parse("relay.test:25").unwrap();
    marked.verify_tls = true;
    cfg.static_routes.insert("marked.test".into(), marked);
    cfg.static_routes.insert(
        "plain.test".into(),
        StaticRoute::parse("relay.test:25").unwrap(),
    );
    let router = Router::new(cfg).expect("router");
    let t = &router.route("anything.test").await.unwrap().hosts[0];
    assert!(t.verify_tls);
    assert_eq!(t.starttls_policy(), StartTlsPolicy::Required);
    let t = &router.route("marked.test").await.unwrap().hosts[0];
    assert!(t.verify_tls && t.auth.is_none());
    assert_eq!(t.starttls_policy(), StartTlsPolicy::Required);
    let t = &router.route("plain.test").await.unwrap().hosts[0];
    assert!(!t.verify_tls);
    assert_eq!(t.starttls_policy(), StartTlsPolicy::Opportunistic);

    let mut cfg = config(&dns);
    cfg.static_routes.clear();
    let t = &Router::new(cfg)
        .unwrap()
        .route("pref.test")
        .await
        .unwrap()
        .hosts[0];
    assert!(!t.verify_tls && t.auth.is_none());
}

/// The lookups MTA-STS needs: TXT records (strings joined, none for a
/// name without), the policy host's addresses (internal ones refused
/// unless allowed), and which domain's MX records a route came from.
#[tokio::test]
async fn lookups_for_mta_sts() {
    let dns = TestDns::start(
        zone()
            .txt_strings("_mta-sts.pref.test", &["v=STSv1; ", "id=abc;"])
            .txt("_mta-sts.pref.test", "something else")
            .a("mta-sts.pref.test", "127.0.0.40")
            .a("mta-sts.internal.test", "10.9.9.9"),
    );
    let r = router(&dns);
    let mut txt = r.txt("_mta-sts.pref.test").await.expect("txt");
    txt.sort();
    assert_eq!(txt, ["something else", "v=STSv1; id=abc;"]);
    assert!(
        r.txt("_mta-sts.nothing.test")
            .await
            .expect("txt")
            .is_empty()
    );
    assert!(matches!(
        r.txt("_mta-sts.servfail.test").await,
        Err(RouteError::Temporary(_))
    ));
    assert_eq!(
        r.host_addresses("mta-sts.pref.test")
            .await
            .expect("addresses"),
        ["127.0.0.40".parse::<std::net::IpAddr>().unwrap()]
    );
    let strict = Router::new(RouterConfig {
        allow_internal_mx: false,
        ..config(&dns)
    })
    .expect("router");
    assert!(matches!(
        strict.host_addresses("mta-sts.internal.test").await,
        Err(RouteError::InternalAddress(_))
    ));
    let route = r.route("pref.test").await.expect("route");
    assert_eq!(route.mx_domain.as_deref(), Some("pref.test"));
    let implicit = r.route("implicit.test").await.expect("route");
    assert_eq!(implicit.mx_domain.as_deref(), Some("implicit.test"));
    let literal = r.route("[127.0.0.9]").await.expect("route");
    assert_eq!(literal.mx_domain, None);
    let mut cfg = config(&dns);
    cfg.smarthost = Some(StaticRoute::next_hop("relay.test:25", None).expect("next hop"));
    let via = Router::new(cfg)
        .expect("router")
        .route("pref.test")
        .await
        .expect("route");
    assert_eq!(via.mx_domain, None, "no MTA-STS through the smarthost");
}
