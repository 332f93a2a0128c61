//! The resolver the checks ask: the nameservers praisani's configuration
//! gives (`delivery.nameservers`, as `delivery::route` uses them) or the
//! system's, each attempt bounded in time.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::{Resolver, TokioResolver};

/// Where and how patiently to ask DNS.
#[derive(Debug, Clone)]
pub struct DnsSettings {
    /// Nameservers to ask (UDP, then TCP for truncated answers); empty =
    /// the system's configuration (`/etc/resolv.conf`).
    pub nameservers: Vec<SocketAddr>,
    /// Bound on one lookup, both attempts included.
    pub timeout: Duration,
}

impl Default for DnsSettings {
    /// The system's resolver, 5 s per lookup.
    fn default() -> Self {
        DnsSettings {
            nameservers: Vec::new(),
            timeout: Duration::from_secs(5),
        }
    }
}

/// Why the trust machinery could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// The system's DNS configuration could not be read or the resolver
    /// not built.
    #[error("setting up the DNS resolver: {0}")]
    Resolver(String),
}

/// Builds the server's resolver (the inbound checks', and the one
/// `delivery::route::Router::new` asks for MX records): the given
/// nameservers over UDP and TCP on their ports, two attempts of half the
/// timeout each. Answers are cached by the resolver per their TTLs (and
/// negative answers per the SOA minimum); [`super::cache`] caches the parsed
/// records on top.
pub fn build_resolver(settings: &DnsSettings) -> Result<TokioResolver, TrustError> {
    let mut builder = if settings.nameservers.is_empty() {
        TokioResolver::builder_tokio()
            .map_err(|e| TrustError::Resolver(format!("reading the DNS configuration: {e}")))?
    } else {
        let servers = settings
            .nameservers
            .iter()
            .map(|addr| {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
            })
            .collect();
        Resolver::builder_with_config(
            ResolverConfig::from_name_servers(servers),
            TokioRuntimeProvider::default(),
        )
    };
    let opts = builder.options_mut();
    opts.timeout = (settings.timeout / 2).max(Duration::from_millis(50));
    opts.attempts = 2;
    builder
        .build()
        .map_err(|e| TrustError::Resolver(e.to_string()))
}
