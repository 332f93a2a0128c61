//! Routing: where to send mail for a destination domain (RFC 5321 §5.1).
//!
//! [`Router::route`] answers, for one domain, the list of [`Target`]s to try in
//! order. The choice, first match wins:
//!
//! 1. a per-domain static route from [`RouterConfig::static_routes`];
//! 2. the [`RouterConfig::smarthost`], when set: everything else goes there
//!    (domain literals included);
//! 3. a domain literal (`[192.0.2.1]`, `[IPv6:2001:db8::1]`) goes to that
//!    address;
//! 4. DNS, per RFC 5321 §5.1:
//!    - MX records, lowest preference first, equal preferences in random order
//!      (fresh for each call, to spread load), each exchange listed once, at
//!      most [`MAX_MX_HOSTS`];
//!    - a null MX (RFC 7505: the only exchange is `.`) fails at once with
//!      [`RouteError::NullMx`];
//!    - no MX records (NOERROR with no data) means the domain itself is the
//!      exchange, preference 0 (the "implicit MX");
//!    - NXDOMAIN for the MX query is [`RouteError::NoSuchDomain`];
//!    - every exchange is resolved to A and AAAA (concurrently); an exchange
//!      that is a CNAME is followed, though RFC 5321 says it should not be one.
//!
//! Address order within a target: IPv6 first, then IPv4 (the RFC 6724 default
//! policy prefers IPv6). Up to [`MAX_ADDRS_PER_HOST`] addresses per target, so a
//! caller trying every address of every host makes at most 100 attempts; it is
//! free to try fewer (Postfix tries about five).
//!
//! Errors, and whether they are permanent (bounce) or temporary (retry):
//! - [`RouteError::NullMx`], [`RouteError::NoSuchDomain`],
//!   [`RouteError::InvalidDomain`]: permanent.
//! - [`RouteError::NoAddresses`]: permanent. RFC 5321 §5.1 says that when MX
//!   records exist but none is usable, or the implicit MX is unusable, this
//!   "MUST be reported as an error"; it is returned only when DNS gave a
//!   definite answer (NXDOMAIN or no data) for every address lookup. If any of
//!   those lookups failed temporarily the result is [`RouteError::Temporary`]
//!   instead, since the missing address may just be unreachable right now.
//! - [`RouteError::Temporary`]: SERVFAIL, REFUSED, timeouts, network errors.
//!
//! When some exchanges resolve and others fail temporarily, the route lists
//! those that resolved: delivery to a lower-priority MX is always acceptable.
//!
//! Internal addresses (loopback, private, link-local, shared, multicast; see
//! [`is_internal`]) of MX hosts, of the implicit MX and of domain literals
//! are dropped unless [`RouterConfig::allow_internal_mx`]: whoever controls
//! a domain's DNS could otherwise aim our delivery at hosts inside our
//! network. When nothing else is left the error is
//! [`RouteError::InternalAddress`], temporary (a DNS mistake may be fixed).
//! Static routes and the smarthost are the operator's own choice and may be
//! anywhere.
//!
//! A static route or smarthost given by host name is resolved to A/AAAA (no
//! MX). When that name has no addresses the error is temporary, not
//! permanent: it is our own configuration that is wrong, and users' mail
//! should wait for the fix instead of bouncing.
//!
//! DNS timeouts: [`RouterConfig::timeout`] bounds each DNS lookup, retries
//! included (the resolver gets half of it per attempt, two attempts). A route
//! costs one MX lookup and then the A/AAAA lookups of all exchanges in
//! parallel, so about two timeouts at worst.

mod internal;
mod order;
mod static_route;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::net::NetError;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use praisani_mailhost::trust::DnsSettings;

use crate::client::StartTlsPolicy;
pub use internal::is_internal;
pub use order::MAX_MX_HOSTS;
use order::{MxSet, order_mx};
pub use static_route::{StaticRoute, StaticRouteError};

/// Most addresses kept for one target (host).
pub const MAX_ADDRS_PER_HOST: usize = 10;

/// Where to send mail for one destination domain, in the order to try.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// The hosts to try, best first. Never empty.
    pub hosts: Vec<Target>,
    /// The domain whose MX records (or implicit MX) gave the hosts, as a
    /// lower-case A-label: its MTA-STS policy applies to them. `None` for
    /// static routes, the smarthost and domain literals (the operator's or
    /// the sender's own choice of host).
    pub mx_domain: Option<String>,
}

/// One host to deliver to.
#[derive(Clone, PartialEq, Eq)]
pub struct Target {
    /// The host name as found (lower-case A-label, no trailing dot), or an IP
    /// address for a literal. Use it for TLS server name checks and logs.
    pub host: String,
    /// The addresses to connect to, in order (IPv6 first), with the port.
    pub addrs: Vec<SocketAddr>,
    /// MX preference (0 for an implicit MX, a static route or the smarthost).
    pub preference: u16,
    /// How to get TLS on the connection.
    pub tls: TlsMode,
    /// User name and password for AUTH (static routes and smarthost only).
    pub auth: Option<(String, String)>,
    /// The server's certificate must verify for `host` (static routes and
    /// the smarthost that ask for it or carry credentials); else TLS is
    /// opportunistic.
    pub verify_tls: bool,
}

impl Target {
    /// The client engine's STARTTLS policy: required when the certificate
    /// must verify, else as [`TlsMode::starttls_policy`].
    pub fn starttls_policy(&self) -> StartTlsPolicy {
        match self.tls {
            TlsMode::Starttls if self.verify_tls => StartTlsPolicy::Required,
            mode => mode.starttls_policy(),
        }
    }
}

/// Shows the user name, never the password.
impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("host", &self.host)
            .field("addrs", &self.addrs)
            .field("preference", &self.preference)
            .field("tls", &self.tls)
            .field(
                "auth",
                &self.auth.as_ref().map(|(user, _)| (user, "<hidden>")),
            )
            .field("verify_tls", &self.verify_tls)
            .finish()
    }
}

/// How TLS is set up on a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TlsMode {
    /// Plain connection, STARTTLS when the server offers it (opportunistic).
    Starttls,
    /// TLS from the first byte (RFC 8314, usually port 465).
    Implicit,
}

impl TlsMode {
    /// The client engine's STARTTLS policy for this mode: opportunistic, or
    /// disabled when TLS is already in place.
    pub fn starttls_policy(self) -> StartTlsPolicy {
        match self {
            TlsMode::Starttls => StartTlsPolicy::Opportunistic,
            TlsMode::Implicit => StartTlsPolicy::Disabled,
        }
    }
}

/// Why there is no route.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// RFC 7505 null MX: the domain accepts no mail. Permanent.
    #[error("the domain accepts no mail (null MX)")]
    NullMx,
    /// NXDOMAIN: the domain does not exist. Permanent.
    #[error("the domain does not exist")]
    NoSuchDomain,
    /// The exchanges (or the implicit MX) have no A/AAAA records, as DNS
    /// definitely said. Permanent, per RFC 5321 §5.1.
    #[error("no address found for the domain's mail servers")]
    NoAddresses,
    /// The domain name cannot be converted to a valid DNS name. Permanent.
    #[error("invalid domain name {0:?}")]
    InvalidDomain(String),
    /// SERVFAIL, timeout, network error, resolver set-up: retry later.
    #[error("temporary DNS failure: {0}")]
    Temporary(String),
    /// Every address found is internal (loopback, private, link-local...)
    /// and [`RouterConfig::allow_internal_mx`] is off. Temporary: the
    /// domain's DNS may be fixed; until then nothing is sent there.
    #[error("refusing internal addresses: {0}")]
    InternalAddress(String),
}

impl RouteError {
    /// True when retrying cannot help: bounce the message.
    pub fn is_permanent(&self) -> bool {
        !matches!(
            self,
            RouteError::Temporary(_) | RouteError::InternalAddress(_)
        )
    }

    /// The RFC 3463 enhanced status code for a DSN or log line.
    pub fn enhanced_status(&self) -> &'static str {
        match self {
            // RFC 7505 §4.2.
            RouteError::NullMx => "5.1.10",
            // Bad destination system address.
            RouteError::NoSuchDomain | RouteError::InvalidDomain(_) => "5.1.2",
            // Unable to route.
            RouteError::NoAddresses => "5.4.4",
            // Directory server failure (transient).
            RouteError::Temporary(_) => "4.4.3",
            // Unable to route (transient).
            RouteError::InternalAddress(_) => "4.4.4",
        }
    }
}

/// Routing settings.
#[derive(Clone, Debug)]
pub struct RouterConfig {
    /// DNS servers to ask (UDP, then TCP on truncation). Empty: the system's
    /// (`/etc/resolv.conf`).
    pub nameservers: Vec<SocketAddr>,
    /// Per-domain next hops that bypass MX lookup, keyed by domain. Keys may be
    /// given in Unicode or any case: they are normalised to lower-case A-labels.
    pub static_routes: HashMap<String, StaticRoute>,
    /// When set, all mail without a static route goes here.
    pub smarthost: Option<StaticRoute>,
    /// Longest wait for one DNS lookup, retries included.
    pub timeout: Duration,
    /// Port for MX hosts, implicit MX and domain literals (25; tests use others).
    pub smtp_port: u16,
    /// Follow MX hosts, implicit MX and domain literals to internal
    /// addresses ([`is_internal`]). Off by default; on for tests on
    /// loopback and private deployments.
    pub allow_internal_mx: bool,
}

impl Default for RouterConfig {
    /// System resolver, no static routes, no smarthost, 10 s DNS timeout,
    /// port 25, internal addresses refused.
    fn default() -> Self {
        RouterConfig {
            nameservers: Vec::new(),
            static_routes: HashMap::new(),
            smarthost: None,
            timeout: Duration::from_secs(10),
            smtp_port: 25,
            allow_internal_mx: false,
        }
    }
}

/// Finds routes. Cheap to share (`Arc`); each call to [`Router::route`] is
/// independent. DNS answers are cached by the resolver per their TTLs.
pub struct Router {
    resolver: TokioResolver,
    static_routes: HashMap<String, StaticRoute>,
    smarthost: Option<StaticRoute>,
    timeout: Duration,
    smtp_port: u16,
    allow_internal_mx: bool,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("static_routes", &self.static_routes)
            .field("smarthost", &self.smarthost)
            .field("timeout", &self.timeout)
            .field("smtp_port", &self.smtp_port)
            .field("allow_internal_mx", &self.allow_internal_mx)
            .finish_non_exhaustive()
    }
}

/// The outcome of one DNS query.
enum Answer {
    Records(Vec<RData>),
    NoData,
    NxDomain,
    Temporary(String),
}

/// Addresses of one host, or why there are none.
enum HostAddrs {
    Found(Vec<IpAddr>),
    /// DNS definitely said there are none.
    None,
    Temporary(String),
}

impl Router {
    /// Builds the resolver. Fails (temporarily) only when `nameservers` is
    /// empty and the system configuration cannot be read, or when a static
    /// route key is not a valid domain name (as `InvalidDomain`).
    pub fn new(config: RouterConfig) -> Result<Self, RouteError> {
        // One resolver construction for the whole server: the inbound
        // checks build theirs the same way from the same nameservers.
        let resolver = praisani_mailhost::trust::build_resolver(&DnsSettings {
            nameservers: config.nameservers.clone(),
            timeout: config.timeout,
        })
        .map_err(|e| RouteError::Temporary(e.to_string()))?;

        let mut static_routes = HashMap::with_capacity(config.static_routes.len());
        for (domain, route) in config.static_routes {
            static_routes.insert(normalise_domain(&domain)?, route);
        }
        Ok(Router {
            resolver,
            static_routes,
            smarthost: config.smarthost,
            timeout: config.timeout,
            smtp_port: config.smtp_port,
            allow_internal_mx: config.allow_internal_mx,
        })
    }

    /// The hosts to try for `domain`, best first.
    ///
    /// `domain` is the part after `@`: an A-label or Unicode name (converted
    /// to its A-label), any case, with or without a trailing dot, or a domain
    /// literal in brackets.
    pub async fn route(&self, domain: &str) -> Result<Route, RouteError> {
        let literal = parse_domain_literal(domain)?;
        let domain = match literal {
            Some(_) => domain.to_string(),
            None => normalise_domain(domain)?,
        };
        if let Some(route) = self.static_routes.get(&domain) {
            return self.static_route(route).await;
        }
        if let Some(route) = &self.smarthost {
            return self.static_route(route).await;
        }
        if let Some(ip) = literal {
            if !self.allow_internal_mx && is_internal(ip) {
                return Err(RouteError::InternalAddress(format!("{domain} is {ip}")));
            }
            return Ok(Route {
                hosts: vec![self.mx_target(ip.to_string(), 0, vec![ip])],
                mx_domain: None,
            });
        }
        self.mx_route(&domain).await
    }

    /// Does [`Self::route`] find `domain`'s servers by MX lookup (not a
    /// static route, the smarthost or a domain literal)? DANE (RFC 7672)
    /// applies only then: the other next hops are the operator's choice.
    pub fn routes_by_mx(&self, domain: &str) -> bool {
        if self.smarthost.is_some() || !matches!(parse_domain_literal(domain), Ok(None)) {
            return false;
        }
        match normalise_domain(domain) {
            Ok(d) => !self.static_routes.contains_key(&d),
            Err(_) => false,
        }
    }

    async fn static_route(&self, route: &StaticRoute) -> Result<Route, RouteError> {
        let addrs = match route.host.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => {
                let name = fqdn(&route.host)?;
                match resolve_host(&self.resolver, name, self.timeout).await {
                    HostAddrs::Found(addrs) => addrs,
                    // Our configuration is at fault: keep the mail, retry.
                    HostAddrs::None => {
                        return Err(RouteError::Temporary(format!(
                            "configured next hop {} has no address",
                            route.host
                        )));
                    }
                    HostAddrs::Temporary(e) => return Err(RouteError::Temporary(e)),
                }
            }
        };
        Ok(Route {
            hosts: vec![Target {
                host: route.host.clone(),
                addrs: with_port(addrs, route.port),
                preference: 0,
                tls: route.tls,
                auth: route.auth.clone(),
                verify_tls: route.must_verify(),
            }],
            mx_domain: None,
        })
    }

    async fn mx_route(&self, domain: &str) -> Result<Route, RouteError> {
        let name = fqdn(domain)?;
        let exchanges =
            match query(&self.resolver, name.clone(), RecordType::MX, self.timeout).await {
                Answer::NxDomain => return Err(RouteError::NoSuchDomain),
                Answer::Temporary(e) => return Err(RouteError::Temporary(e)),
                Answer::NoData => Vec::new(),
                Answer::Records(records) => records
                    .into_iter()
                    .filter_map(|rdata| match rdata {
                        RData::MX(mx) => Some((mx.preference, mx.exchange.to_ascii())),
                        _ => None,
                    })
                    .collect(),
            };

        if exchanges.is_empty() {
            // Implicit MX: the domain itself, preference 0.
            return match resolve_host(&self.resolver, name, self.timeout).await {
                HostAddrs::Found(addrs) => {
                    let mut refused = None;
                    let addrs = self.screen(domain, addrs, &mut refused);
                    match refused {
                        Some(e) if addrs.is_empty() => Err(RouteError::InternalAddress(e)),
                        _ => Ok(Route {
                            hosts: vec![self.mx_target(domain.to_string(), 0, addrs)],
                            mx_domain: Some(domain.to_string()),
                        }),
                    }
                }
                HostAddrs::None => Err(RouteError::NoAddresses),
                HostAddrs::Temporary(e) => Err(RouteError::Temporary(e)),
            };
        }

        let hosts = match order_mx(&exchanges, &mut rand::thread_rng()) {
            MxSet::Null => return Err(RouteError::NullMx),
            MxSet::Hosts(hosts) => hosts,
        };

        // Resolve all exchanges at once; the answers keep the MX order.
        let mut tasks = tokio::task::JoinSet::new();
        for (index, (_, host)) in hosts.iter().enumerate() {
            let resolver = self.resolver.clone();
            let timeout = self.timeout;
            let name = fqdn(host);
            tasks.spawn(async move {
                let found = match name {
                    Ok(name) => resolve_host(&resolver, name, timeout).await,
                    // An exchange that is no valid name has no address.
                    Err(_) => HostAddrs::None,
                };
                (index, found)
            });
        }
        let mut results: Vec<Option<HostAddrs>> = hosts.iter().map(|_| None).collect();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((index, found)) => results[index] = Some(found),
                Err(e) => return Err(RouteError::Temporary(format!("address lookup: {e}"))),
            }
        }

        let mut targets = Vec::new();
        let mut temporary = None;
        let mut refused = None;
        for ((preference, host), found) in hosts.into_iter().zip(results) {
            match found {
                Some(HostAddrs::Found(addrs)) => {
                    let addrs = self.screen(&host, addrs, &mut refused);
                    if !addrs.is_empty() {
                        targets.push(self.mx_target(host, preference, addrs));
                    }
                }
                Some(HostAddrs::Temporary(e)) => {
                    temporary.get_or_insert_with(|| format!("{host}: {e}"));
                }
                Some(HostAddrs::None) | None => {}
            }
        }
        if !targets.is_empty() {
            Ok(Route {
                hosts: targets,
                mx_domain: Some(domain.to_string()),
            })
        } else if let Some(e) = temporary {
            Err(RouteError::Temporary(e))
        } else if let Some(e) = refused {
            Err(RouteError::InternalAddress(e))
        } else {
            Err(RouteError::NoAddresses)
        }
    }

    /// The TXT records at `name` (a host name, no trailing dot), each
    /// record's character-strings joined; empty when DNS says there are
    /// none. For MTA-STS discovery (`_mta-sts.DOMAIN`).
    pub async fn txt(&self, name: &str) -> Result<Vec<String>, RouteError> {
        let name = fqdn(name)?;
        match query(&self.resolver, name, RecordType::TXT, self.timeout).await {
            Answer::Records(records) => Ok(records
                .into_iter()
                .filter_map(|r| match r {
                    RData::TXT(txt) => Some(
                        txt.txt_data
                            .iter()
                            .map(|s| String::from_utf8_lossy(s))
                            .collect::<String>(),
                    ),
                    _ => None,
                })
                .collect()),
            Answer::NoData | Answer::NxDomain => Ok(Vec::new()),
            Answer::Temporary(e) => Err(RouteError::Temporary(e)),
        }
    }

    /// The addresses of `host` for a connection that is not SMTP (the
    /// MTA-STS policy host), IPv6 first; internal addresses are refused
    /// as for MX hosts unless [`RouterConfig::allow_internal_mx`].
    pub async fn host_addresses(&self, host: &str) -> Result<Vec<IpAddr>, RouteError> {
        let name = fqdn(host)?;
        match resolve_host(&self.resolver, name, self.timeout).await {
            HostAddrs::Found(addrs) => {
                let mut refused = None;
                let addrs = self.screen(host, addrs, &mut refused);
                match refused {
                    Some(e) if addrs.is_empty() => Err(RouteError::InternalAddress(e)),
                    _ => Ok(addrs),
                }
            }
            HostAddrs::None => Err(RouteError::NoAddresses),
            HostAddrs::Temporary(e) => Err(RouteError::Temporary(e)),
        }
    }

    /// `addrs` of `host` without the internal ones, unless those are
    /// allowed; the first refusal is noted in `refused` for the error.
    fn screen(&self, host: &str, addrs: Vec<IpAddr>, refused: &mut Option<String>) -> Vec<IpAddr> {
        if self.allow_internal_mx {
            return addrs;
        }
        let (internal, public): (Vec<IpAddr>, Vec<IpAddr>) =
            addrs.into_iter().partition(|ip| is_internal(*ip));
        if let Some(ip) = internal.first() {
            tracing::warn!(%host, %ip, "refusing an internal address found in DNS");
            refused.get_or_insert_with(|| format!("{host} resolves to {ip}"));
        }
        public
    }

    fn mx_target(&self, host: String, preference: u16, addrs: Vec<IpAddr>) -> Target {
        Target {
            host,
            addrs: with_port(addrs, self.smtp_port),
            preference,
            tls: TlsMode::Starttls,
            auth: None,
            verify_tls: false,
        }
    }
}

fn with_port(addrs: Vec<IpAddr>, port: u16) -> Vec<SocketAddr> {
    addrs
        .into_iter()
        .map(|ip| SocketAddr::new(ip, port))
        .collect()
}

/// Lower-case A-label without trailing dot.
fn normalise_domain(domain: &str) -> Result<String, RouteError> {
    let bad = || RouteError::InvalidDomain(domain.to_string());
    let trimmed = domain.strip_suffix('.').unwrap_or(domain);
    if trimmed.is_empty() {
        return Err(bad());
    }
    // One place decides what a mail domain is: the same rules as for
    // hosted domains (IDNA 2008 / UTS #46, lower-case A-labels).
    praisani_mailaddr::Domain::parse(trimmed)
        .map(|d| d.ascii().to_string())
        .map_err(|_| bad())
}

/// `[192.0.2.1]` or `[IPv6:2001:db8::1]` → the address; not bracketed → None.
fn parse_domain_literal(domain: &str) -> Result<Option<IpAddr>, RouteError> {
    let Some(inner) = domain
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
    else {
        return Ok(None);
    };
    let bad = || RouteError::InvalidDomain(domain.to_string());
    let ip = match inner.get(..5) {
        Some(tag) if tag.eq_ignore_ascii_case("IPv6:") => {
            IpAddr::V6(inner[5..].parse().map_err(|_| bad())?)
        }
        _ => IpAddr::V4(inner.parse().map_err(|_| bad())?),
    };
    Ok(Some(ip))
}

/// The fully qualified DNS name (trailing dot: no search list applies).
fn fqdn(host: &str) -> Result<Name, RouteError> {
    Name::from_ascii(format!("{host}.")).map_err(|_| RouteError::InvalidDomain(host.to_string()))
}

async fn query(
    resolver: &TokioResolver,
    name: Name,
    rtype: RecordType,
    timeout: Duration,
) -> Answer {
    let lookup = tokio::time::timeout(timeout, resolver.lookup(name.clone(), rtype)).await;
    match lookup {
        Err(_) => Answer::Temporary(format!("{rtype} lookup for {name} timed out")),
        Ok(Ok(lookup)) => {
            let records: Vec<RData> = lookup
                .answers()
                .iter()
                .filter(|r| r.record_type() == rtype)
                .map(|r| r.data.clone())
                .collect();
            if records.is_empty() {
                Answer::NoData
            } else {
                Answer::Records(records)
            }
        }
        Ok(Err(e)) => classify(&e, &name, rtype),
    }
}

fn classify(e: &NetError, name: &Name, rtype: RecordType) -> Answer {
    if e.is_nx_domain() {
        Answer::NxDomain
    } else if e.is_no_records_found() {
        Answer::NoData
    } else if let NetError::Dns(hickory_resolver::net::DnsError::ResponseCode(code)) = e {
        let code = match code {
            ResponseCode::ServFail => "SERVFAIL".to_string(),
            other => other.to_string(),
        };
        Answer::Temporary(format!("{rtype} lookup for {name}: {code}"))
    } else {
        Answer::Temporary(format!("{rtype} lookup for {name}: {e}"))
    }
}

/// A and AAAA of one host, IPv6 first, at most [`MAX_ADDRS_PER_HOST`].
async fn resolve_host(resolver: &TokioResolver, name: Name, timeout: Duration) -> HostAddrs {
    let (aaaa, a) = tokio::join!(
        query(resolver, name.clone(), RecordType::AAAA, timeout),
        query(resolver, name, RecordType::A, timeout),
    );
    let mut addrs = Vec::new();
    let mut temporary = None;
    for answer in [aaaa, a] {
        match answer {
            Answer::Records(records) => {
                for rdata in records {
                    let ip = match rdata {
                        RData::A(a) => IpAddr::V4(a.0),
                        RData::AAAA(aaaa) => IpAddr::V6(aaaa.0),
                        _ => continue,
                    };
                    // 0.0.0.0, :: and multicast are nobody's mail server.
                    if !ip.is_unspecified() && !ip.is_multicast() && !addrs.contains(&ip) {
                        addrs.push(ip);
                    }
                }
            }
            Answer::Temporary(e) => {
                temporary.get_or_insert(e);
            }
            Answer::NoData | Answer::NxDomain => {}
        }
    }
    addrs.truncate(MAX_ADDRS_PER_HOST);
    match (addrs.is_empty(), temporary) {
        (false, _) => HostAddrs::Found(addrs),
        (true, Some(e)) => HostAddrs::Temporary(e),
        (true, None) => HostAddrs::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permanence() {
        assert!(RouteError::NullMx.is_permanent());
        assert!(RouteError::NoSuchDomain.is_permanent());
        assert!(RouteError::NoAddresses.is_permanent());
        assert!(RouteError::InvalidDomain("x".into()).is_permanent());
        assert!(!RouteError::Temporary("x".into()).is_permanent());
        assert!(!RouteError::InternalAddress("x".into()).is_permanent());
        assert_eq!(RouteError::NullMx.enhanced_status(), "5.1.10");
        assert!(
            RouteError::Temporary("x".into())
                .enhanced_status()
                .starts_with('4')
        );
    }

    #[test]
    fn domain_normalisation() {
        assert_eq!(normalise_domain("Example.COM.").unwrap(), "example.com");
        assert_eq!(
            normalise_domain("ตัวอย่าง.ไทย").unwrap(),
            "xn--72c1a1bt4awk9o.xn--o3cw4h"
        );
        assert!(normalise_domain("").is_err());
        assert!(normalise_domain(".").is_err());
        assert!(normalise_domain("a..b").is_err());
    }

    #[test]
    fn domain_literals() {
        assert_eq!(
            parse_domain_literal("[192.0.2.1]").unwrap(),
            Some("192.0.2.1".parse().unwrap())
        );
        assert_eq!(
            parse_domain_literal("[IPv6:2001:db8::1]").unwrap(),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(parse_domain_literal("example.com").unwrap(), None);
        assert!(parse_domain_literal("[2001:db8::1]").is_err());
        assert!(parse_domain_literal("[nonsense]").is_err());
    }

    #[tokio::test]
    async fn only_mx_routes_are_routed_by_mx() {
        let mut config = RouterConfig {
            nameservers: vec!["127.0.0.1:53".parse().unwrap()],
            ..RouterConfig::default()
        };
        config.static_routes.insert(
            "Static.Example".into(),
            StaticRoute::next_hop("127.0.0.1:2525", None).unwrap(),
        );
        let router = Router::new(config.clone()).unwrap();
        assert!(router.routes_by_mx("example.org"));
        assert!(!router.routes_by_mx("static.example"));
        assert!(!router.routes_by_mx("[192.0.2.1]"));
        config.smarthost = Some(StaticRoute::next_hop("127.0.0.1:2525", None).unwrap());
        assert!(!Router::new(config).unwrap().routes_by_mx("example.org"));
    }

    #[test]
    fn tls_policy() {
        assert_eq!(
            TlsMode::Starttls.starttls_policy(),
            StartTlsPolicy::Opportunistic
        );
        assert_eq!(
            TlsMode::Implicit.starttls_policy(),
            StartTlsPolicy::Disabled
        );
    }
}
