//! The configuration file: one TOML document, read once at start.
//!
//! Every key has a built-in default, so an empty file (or none) is a valid
//! configuration. Unknown keys are errors, so a typo never silently falls
//! back to a default.

use praisani_mailhost::admin::{parse_keep, parse_size};
use serde::{Deserialize, Deserializer};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod addressing;
mod dmarc_reports;
mod dnsbl;
mod greylist;
mod metrics;
mod sending;
mod spam;
mod srs;
mod tls_reports;
mod trust;
pub use addressing::AddressingConfig;
pub use dmarc_reports::DmarcReportsConfig;
pub use dnsbl::{CheckAt, DnsblConfig};
pub use greylist::GreylistConfig;
pub use metrics::{LogFormat, MetricsConfig};
pub use sending::SendingConfig;
pub use spam::SpamConfig;
pub use srs::SrsConfig;
pub use tls_reports::TlsReportsConfig;
pub use trust::TrustConfig;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The name this server gives itself in greetings and trace headers.
    #[serde(deserialize_with = "hostname")]
    pub hostname: String,
    /// Where mail to `<postmaster>` and postmaster@ of domains without
    /// their own postmaster mailbox or alias goes; `serve` requires it.
    #[serde(deserialize_with = "address")]
    pub postmaster: Option<String>,
    /// Where the embedded store and spool files live.
    pub data_dir: PathBuf,
    /// Addresses to listen on, per service.
    pub listen: Listen,
    /// Protocol and abuse limits.
    pub limits: Limits,
    /// POP3 policy.
    pub pop3: Pop3,
    /// TLS certificate.
    #[serde(deserialize_with = "tls_section")]
    pub tls: TlsFiles,
    /// Networks allowed to relay without authenticating (CIDR list, empty
    /// by default): a web server or another host of yours.
    #[serde(deserialize_with = "cidr_list")]
    pub trusted_networks: Vec<Cidr>,
    /// SMTP settings for the MX listener.
    pub smtp: SmtpSettings,
    /// Submission policy.
    pub submission: Submission,
    /// Outbound delivery.
    pub delivery: Delivery,
    /// Quota warnings.
    pub quota: QuotaSettings,
    /// Retention: the server-wide default and the sweeper.
    pub retention: RetentionSettings,
    /// What mail programs are told by the auto-configuration documents.
    pub autoconfig: Autoconfig,
    /// The HTTP(S) listeners' limits.
    pub http: Http,
    /// The admin API listener's settings (`listen.admin`).
    pub admin_api: AdminApi,
    /// Where accounts and mail are kept: embedded or PostgreSQL.
    pub store: StoreSettings,
    /// SPF, DKIM, DMARC and ARC checks on mail from other servers.
    pub trust: TrustConfig,
    /// DNS blocklists and allowlists asked about other servers.
    pub dnsbl: DnsblConfig,
    /// Greylisting of other servers.
    pub greylist: GreylistConfig,
    /// The spam filter (rspamd) on mail from other servers.
    pub spam: SpamConfig,
    /// Sub-addresses (`user+tag@`).
    pub addressing: AddressingConfig,
    /// Sending limits and containment for our users' mail.
    pub sending: SendingConfig,
    /// DMARC aggregate reports about mail from other servers.
    pub dmarc_reports: DmarcReportsConfig,
    /// TLS-RPT reports about our outbound TLS.
    pub tls_reports: TlsReportsConfig,
    /// The Sender Rewriting Scheme for forwarded mail and its bounces.
    pub srs: SrsConfig,
    /// Who may scrape `/metrics`.
    pub metrics: MetricsConfig,
    /// `text` (default) or `json` log lines.
    pub log_format: LogFormat,
}

/// `[store]`: the store backend. `embedded` (SQLite in `data_dir`, one
/// node) or `postgres` (a database several nodes share).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// `embedded` or `postgres`.
    pub backend: StoreBackend,
    /// For `postgres`: `postgres://user:password@host:port/database`.
    pub url: Option<String>,
    /// Most database connections this node opens.
    #[serde(deserialize_with = "at_least::<_, 1>")]
    pub max_connections: usize,
    /// How long connecting to the database may take.
    #[serde(deserialize_with = "timeout")]
    pub connect_timeout: Duration,
    /// How long a request waits for a free connection before it gets a
    /// temporary error (SMTP 451 4.3.0, POP3 -ERR [SYS/TEMP]).
    #[serde(deserialize_with = "timeout")]
    pub acquire_timeout: Duration,
    /// How long a POP3 maildrop lock of a node that died blocks the mailbox.
    #[serde(deserialize_with = "timeout")]
    pub lock_lease: Duration,
    /// This node's name in queue leases and locks (default: random per start).
    pub node: Option<String>,
}

/// The store backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// SQLite in `data_dir`.
    #[default]
    Embedded,
    /// A PostgreSQL database at `store.url`.
    Postgres,
}

impl Default for StoreSettings {
    fn default() -> Self {
        let pg = praisani_store::PgOptions::new("");
        StoreSettings {
            backend: StoreBackend::Embedded,
            url: None,
            max_connections: pg.max_connections,
            connect_timeout: pg.connect_timeout,
            acquire_timeout: pg.acquire_timeout,
            lock_lease: pg.lock_lease,
            node: None,
        }
    }
}

impl StoreSettings {
    /// The PostgreSQL options for `url`.
    pub fn pg_options(&self, url: &str) -> praisani_store::PgOptions {
        praisani_store::PgOptions {
            url: url.to_string(),
            max_connections: self.max_connections,
            connect_timeout: self.connect_timeout,
            acquire_timeout: self.acquire_timeout,
            lock_lease: self.lock_lease,
            node: self.node.clone(),
        }
    }
}

// By hand: the url may carry a password, and check-config prints this.
impl std::fmt::Debug for StoreSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreSettings")
            .field("backend", &self.backend)
            .field(
                "url",
                &self.url.as_deref().map(praisani_store::postgres::redact),
            )
            .field("max_connections", &self.max_connections)
            .field("connect_timeout", &self.connect_timeout)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("lock_lease", &self.lock_lease)
            .field("node", &self.node)
            .finish()
    }
}

/// `[quota]`: when users are warned that their mailbox fills up.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuotaSettings {
    /// Thresholds in percent of the quota; crossing one delivers a warning.
    #[serde(deserialize_with = "percentages")]
    pub warn: Vec<u8>,
    /// The least time between two bounces for full mailboxes to one sender
    /// that did not log in (its address may be forged: backscatter).
    #[serde(deserialize_with = "timeout")]
    pub bounce_interval: Duration,
    /// How many such senders are remembered at once; when all are within
    /// their interval, no further sender gets a bounce.
    #[serde(deserialize_with = "at_least::<_, 1>")]
    pub bounce_senders: usize,
}

impl Default for QuotaSettings {
    fn default() -> Self {
        QuotaSettings {
            warn: vec![80, 95],
            bounce_interval: Duration::from_secs(3600),
            bounce_senders: 10_000,
        }
    }
}

/// `[retention]`: the default for accounts and domains without their own
/// policy, and how often it is enforced.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSettings {
    /// Days after a client first retrieved a message until it is deleted
    /// (POP3 EXPIRE); 0 deletes retrieved messages at QUIT; "never".
    #[serde(deserialize_with = "keep")]
    pub after_retrieval: praisani_store::Keep,
    /// Days after arrival until a message is deleted, read or not; "never".
    #[serde(deserialize_with = "keep")]
    pub max_age: praisani_store::Keep,
    /// How often the sweeper deletes what has expired.
    #[serde(deserialize_with = "timeout")]
    pub sweep_interval: Duration,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings {
            after_retrieval: praisani_store::Keep::Forever,
            max_age: praisani_store::Keep::Forever,
            sweep_interval: Duration::from_secs(3600),
        }
    }
}

impl RetentionSettings {
    /// The server-wide default as a store retention.
    pub fn default_policy(&self) -> praisani_store::Retention {
        praisani_store::Retention {
            after_retrieval: self.after_retrieval,
            max_age: self.max_age,
        }
    }
}

fn percentages<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let v = Vec::<i64>::deserialize(d)?;
    v.into_iter()
        .map(|p| {
            u8::try_from(p)
                .ok()
                .filter(|p| (1..=100).contains(p))
                .ok_or_else(|| {
                    serde::de::Error::custom(format!("{p} is not a percentage from 1 to 100"))
                })
        })
        .collect()
}

#[derive(Deserialize)]
#[serde(untagged)]
enum DaysOrText {
    Days(i64),
    Text(String),
}

fn keep<'de, D: Deserializer<'de>>(d: D) -> Result<praisani_store::Keep, D::Error> {
    match DaysOrText::deserialize(d)? {
        DaysOrText::Days(n) => u32::try_from(n)
            .map(praisani_store::Keep::Days)
            .map_err(|_| serde::de::Error::custom(format!("{n} is not a number of days"))),
        DaysOrText::Text(t) => match parse_keep(&t) {
            Ok(praisani_store::Keep::Inherit) | Err(_) => Err(serde::de::Error::custom(format!(
                "invalid period {t:?} (a number of days, or \"never\")"
            ))),
            Ok(k) => Ok(k),
        },
    }
}

/// `[autoconfig]`: the server name and ports that the auto-configuration
/// documents (Thunderbird autoconfig, Microsoft Autodiscover, Apple
/// .mobileconfig) and `praisani dns` give to mail programs. The ports are
/// those clients connect to, which differ from the `listen` ports when a
/// firewall maps 995 to 2995 and so on.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Autoconfig {
    /// The server name clients connect to (default: `hostname`); it must
    /// match the TLS certificate.
    #[serde(deserialize_with = "optional_hostname")]
    pub host: Option<String>,
    /// POP3 over implicit TLS.
    #[serde(deserialize_with = "port")]
    pub pop3s_port: u16,
    /// POP3 with STLS.
    #[serde(deserialize_with = "port")]
    pub pop3_port: u16,
    /// Submission over implicit TLS (RFC 8314).
    #[serde(deserialize_with = "port")]
    pub submissions_port: u16,
    /// Submission with STARTTLS (RFC 6409).
    #[serde(deserialize_with = "port")]
    pub submission_port: u16,
    /// HTTPS, for the `_autodiscover._tcp` SRV record.
    #[serde(deserialize_with = "port")]
    pub https_port: u16,
}

impl Default for Autoconfig {
    fn default() -> Self {
        Autoconfig {
            host: None,
            pop3s_port: 995,
            pop3_port: 110,
            submissions_port: 465,
            submission_port: 587,
            https_port: 443,
        }
    }
}

impl Config {
    /// The server name given to mail programs: `autoconfig.host`, else
    /// `hostname`, in A-labels.
    pub fn client_host(&self) -> String {
        let h = self.autoconfig.host.as_deref().unwrap_or(&self.hostname);
        praisani_mailaddr::Domain::parse(h)
            .map(|d| d.ascii().to_string())
            .unwrap_or_else(|_| h.to_ascii_lowercase())
    }
}

/// `[http]`: limits of the HTTP and HTTPS listeners (connections count
/// against `limits.max_connections` and `max_connections_per_ip`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http {
    /// Request line and header fields, in octets.
    #[serde(deserialize_with = "size")]
    pub max_header_size: u64,
    /// Request body (an Autodiscover POST is a few hundred octets).
    #[serde(deserialize_with = "size")]
    pub max_body_size: u64,
    /// Time allowed to receive one whole request, and to wait idle for the
    /// next one on a kept-alive connection.
    #[serde(deserialize_with = "timeout")]
    pub timeout: Duration,
    /// Requests served on one connection before it is closed.
    #[serde(deserialize_with = "at_least::<_, 1>")]
    pub max_requests_per_connection: usize,
}

impl Default for Http {
    fn default() -> Self {
        Http {
            max_header_size: 8 * 1024,
            max_body_size: 16 * 1024,
            timeout: Duration::from_secs(10),
            max_requests_per_connection: 100,
        }
    }
}

/// `[admin_api]`: the admin API on `listen.admin` (its connections count
/// against `limits.max_connections_http` like the `[http]` listeners').
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminApi {
    /// Serve plain HTTP instead of HTTPS; allowed only when every
    /// `listen.admin` address is a loopback address (a proxy on the same
    /// host, or tests).
    pub plain_http: bool,
    /// Largest request body, in octets.
    #[serde(deserialize_with = "size")]
    pub max_body_size: u64,
    /// Time allowed to receive a request's header, and to wait idle for the
    /// next one on a kept-alive connection.
    #[serde(deserialize_with = "timeout")]
    pub header_timeout: Duration,
    /// Time allowed for one request, from its header to the last octet of
    /// the answer being ready (its body read, the work done).
    #[serde(deserialize_with = "timeout")]
    pub request_timeout: Duration,
    /// Serve the web admin (`/login`, `/domains`, `/me`) beside the API.
    pub web: bool,
    /// A web session ends after this long without a request.
    #[serde(deserialize_with = "timeout")]
    pub web_session_idle: Duration,
    /// A web session ends this long after its login in any case.
    #[serde(deserialize_with = "timeout")]
    pub web_session_lifetime: Duration,
}

impl Default for AdminApi {
    fn default() -> Self {
        AdminApi {
            plain_http: false,
            max_body_size: 64 * 1024,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            web: true,
            web_session_idle: Duration::from_secs(30 * 60),
            web_session_lifetime: Duration::from_secs(12 * 3600),
        }
    }
}

/// `[delivery]`: sending our users' mail to other servers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Delivery {
    /// DNS servers for MX lookups ("address:port"); empty: the system's.
    pub nameservers: Vec<std::net::SocketAddr>,
    /// The port MX hosts are contacted on (25; tests use others).
    pub smtp_port: u16,
    /// Send everything through this server ("host:port").
    pub smarthost: Option<String>,
    /// User name for the smarthost's AUTH.
    pub smarthost_user: Option<String>,
    /// Password for the smarthost's AUTH; never printed.
    pub smarthost_password: Option<Secret>,
    /// The smarthost's certificate must verify even without credentials
    /// (with credentials it always must).
    pub smarthost_verify_tls: bool,
    /// Per-domain next hops that bypass MX: { "example.org" = "host:port" },
    /// or { "example.org" = { next_hop = "host:port", verify_tls = true } }.
    pub routes: std::collections::HashMap<String, RouteSetting>,
    /// DANE (RFC 7672) for MX hosts: secure TLSA records (as the
    /// nameservers' AD bit says) make TLS mandatory and authenticated.
    pub dane: bool,
    /// CA certificates (PEM) trusted besides the built-in Mozilla roots for
    /// next hops whose certificate must verify.
    pub tls_ca_file: Option<PathBuf>,
    /// Follow MX records (and domain literals) to loopback, private and
    /// link-local addresses. Off: such a route fails temporarily.
    pub allow_internal_mx: bool,
    /// Honour recipient domains' MTA-STS policies (RFC 8461): under
    /// `enforce`, mail goes only to the MX hosts the policy lists, over TLS
    /// with a certificate that verifies (Mozilla roots or `tls_ca_file`).
    pub mta_sts: bool,
    /// Longest time for fetching one MTA-STS policy over HTTPS.
    #[serde(deserialize_with = "timeout")]
    pub mta_sts_timeout: Duration,
    /// The HTTPS port MTA-STS policy hosts are contacted on (443; tests
    /// use others).
    pub mta_sts_port: u16,
    /// Waits after each temporary failure, in order; the last repeats.
    #[serde(deserialize_with = "durations")]
    pub retry: Vec<Duration>,
    /// A recipient still undelivered this long after acceptance gets one
    /// delay notice to the sender (RFC 3464 "delayed").
    #[serde(deserialize_with = "timeout")]
    pub delay_notice: Duration,
    /// A message still undelivered this long after it was accepted bounces.
    #[serde(deserialize_with = "timeout")]
    pub max_age: Duration,
    /// Time allowed to connect, and for each reply of a remote server.
    #[serde(deserialize_with = "timeout")]
    pub timeout: Duration,
    /// Simultaneous outbound connections.
    #[serde(deserialize_with = "at_least::<_, 1>")]
    pub max_connections: usize,
    /// Simultaneous outbound connections to one destination domain.
    #[serde(deserialize_with = "at_least::<_, 1>")]
    pub max_connections_per_domain: usize,
    /// Messages sent over one connection before it is closed: mail due
    /// for the same domain shares connections.
    #[serde(deserialize_with = "at_least::<_, 1>")]
    pub messages_per_connection: usize,
    /// How long a node holds the recipients it is delivering; if it dies,
    /// another node (or its own restart) takes them after this.
    #[serde(deserialize_with = "timeout")]
    pub lease: Duration,
}

impl Default for Delivery {
    fn default() -> Self {
        let m = |n: u64| Duration::from_secs(n * 60);
        Delivery {
            nameservers: Vec::new(),
            smtp_port: 25,
            smarthost: None,
            smarthost_user: None,
            smarthost_password: None,
            smarthost_verify_tls: false,
            routes: Default::default(),
            dane: true,
            tls_ca_file: None,
            allow_internal_mx: false,
            mta_sts: true,
            mta_sts_timeout: Duration::from_secs(10),
            mta_sts_port: 443,
            retry: vec![m(1), m(5), m(15), m(30), m(60), m(120), m(240)],
            max_age: Duration::from_secs(5 * 86400),
            delay_notice: Duration::from_secs(4 * 3600),
            timeout: Duration::from_secs(300),
            max_connections: 20,
            max_connections_per_domain: 5,
            messages_per_connection: 100,
            lease: Duration::from_secs(1800),
        }
    }
}

/// A secret from the configuration (a password): read like a string,
/// shown as `<hidden>` by `Debug`, so `check-config` and logs never print it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<hidden>")
    }
}

/// One entry of `delivery.routes`: the next hop as `"host:port"`, or a
/// table `{ next_hop = "host:port", verify_tls = true }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSetting {
    /// `host:port`, as `praisani_delivery::route::StaticRoute::parse` reads it.
    pub next_hop: String,
    /// The next hop's certificate must verify (name = its host).
    pub verify_tls: bool,
}

/// The table form of [`RouteSetting`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteTable {
    next_hop: String,
    #[serde(default)]
    verify_tls: bool,
}

impl<'de> Deserialize<'de> for RouteSetting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = RouteSetting;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(r#""host:port" or { next_hop = "host:port", verify_tls = true }"#)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RouteSetting, E> {
                Ok(RouteSetting {
                    next_hop: v.to_string(),
                    verify_tls: false,
                })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                m: A,
            ) -> Result<RouteSetting, A::Error> {
                let t = RouteTable::deserialize(serde::de::value::MapAccessDeserializer::new(m))?;
                Ok(RouteSetting {
                    next_hop: t.next_hop,
                    verify_tls: t.verify_tls,
                })
            }
        }
        d.deserialize_any(Visit)
    }
}

/// `[smtp]`: the MX listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpSettings {
    /// Offer AUTH on the MX listener too (some old clients send to port 25).
    pub auth_on_mx: bool,
    /// Accept a message whose header has non-ASCII octets in a transaction
    /// without SMTPUTF8 (legacy 8-bit headers). Off (default): refused with
    /// `550 5.6.9`, as RFC 6531/6532 want.
    pub allow_utf8_headers_without_smtputf8: bool,
    /// Offer CHUNKING (RFC 3030, BDAT) on every SMTP listener (default on).
    pub chunking: bool,
    /// Offer REQUIRETLS (RFC 8689) on every SMTP listener, under TLS only
    /// (default on). Off, the MAIL FROM parameter is unknown (555).
    pub requiretls: bool,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        SmtpSettings {
            auth_on_mx: false,
            allow_utf8_headers_without_smtputf8: false,
            chunking: true,
            requiretls: true,
        }
    }
}

/// `[submission]`: what authenticated users may send.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Submission {
    /// `"owned"` (default): the envelope sender must be the user's address
    /// or an alias of theirs; `"any"`: no check.
    pub sender_policy: SenderPolicy,
}

/// Which envelope senders an authenticated user may use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SenderPolicy {
    /// Their own address or an alias that delivers to them.
    #[default]
    Owned,
    /// Anything.
    Any,
}

impl From<SenderPolicy> for praisani_mailhost::SenderPolicy {
    fn from(p: SenderPolicy) -> Self {
        match p {
            SenderPolicy::Owned => praisani_mailhost::SenderPolicy::Owned,
            SenderPolicy::Any => praisani_mailhost::SenderPolicy::Any,
        }
    }
}

/// An IP network, `192.0.2.0/24` or `2001:db8::/32` (a bare address is /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: std::net::IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses CIDR notation.
    pub fn parse(s: &str) -> Option<Cidr> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: std::net::IpAddr = a.trim().parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.trim().parse::<u8>().ok().filter(|&p| p <= max)?,
            None => max,
        };
        Some(Cidr { addr, prefix })
    }

    /// True when `ip` is inside the network (IPv4-mapped IPv6 counts as IPv4).
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(i) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(i)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(i) & mask
            }
            _ => false,
        }
    }
}

/// `[tls]`: the certificate and key, PEM files. Both or neither; with
/// neither a self-signed certificate is made in `data_dir/tls/`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert: Option<PathBuf>,
    /// Private key (PKCS#8, PKCS#1 or SEC1).
    pub key: Option<PathBuf>,
}

/// Listener addresses; an empty list disables a service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Listen {
    /// SMTP for mail from other servers (MX).
    pub smtp: Vec<SocketAddr>,
    /// Message submission with STARTTLS (RFC 6409); arrives with TLS support.
    pub submission: Vec<SocketAddr>,
    /// Message submission over implicit TLS (RFC 8314); arrives with TLS support.
    pub submissions: Vec<SocketAddr>,
    /// POP3.
    pub pop3: Vec<SocketAddr>,
    /// POP3 over implicit TLS; arrives with TLS support.
    pub pop3s: Vec<SocketAddr>,
    /// HTTP, for mail program auto-configuration.
    pub http: Vec<SocketAddr>,
    /// HTTPS (the `[tls]` certificate), for auto-configuration.
    pub https: Vec<SocketAddr>,
    /// The admin API (`[admin_api]`), HTTPS with the `[tls]` certificate;
    /// off (empty) by default.
    pub admin: Vec<SocketAddr>,
}

/// Limits; each one is explicit so an operator can see and change it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest message accepted, in octets (accepts "50M", "10MiB", …).
    #[serde(deserialize_with = "message_size")]
    pub max_message_size: u64,
    /// Largest vacation auto-reply text `user vacation` accepts, in octets.
    #[serde(deserialize_with = "size")]
    pub max_vacation_text: u64,
    /// `Received:` fields a message may carry; more, and it is refused as
    /// a mail loop (`554 5.4.6`).
    #[serde(deserialize_with = "at_least::<_, 1>")]
    pub max_received: usize,
    /// Recipients per message (RFC 5321 asks servers to take at least 100).
    #[serde(deserialize_with = "at_least::<_, 1>")]
    pub max_recipients: usize,
    /// Longest SMTP command line, CRLF included (RFC 5321: at least 512).
    #[serde(deserialize_with = "at_least::<_, 512>")]
    pub max_command_line: usize,
    /// Longest line of message text, CRLF included (RFC 5321: at least 1000).
    #[serde(deserialize_with = "at_least::<_, 1000>")]
    pub max_text_line: usize,
    /// Protocol errors and refused recipients tolerated per SMTP connection
    /// before the server answers `421` and hangs up.
    pub max_bad_commands: usize,
    /// Messages accepted on one SMTP connection.
    pub max_messages_per_connection: usize,
    /// Simultaneous connections over all listeners.
    #[serde(deserialize_with = "at_least::<_, 1>")]
    pub max_connections: usize,
    /// Simultaneous connections from one IP address.
    #[serde(deserialize_with = "at_least::<_, 1>")]
    pub max_connections_per_ip: usize,
    /// Simultaneous connections to the SMTP (MX) listeners; unset: half
    /// of `max_connections`, so no one service can take every slot.
    #[serde(deserialize_with = "some_at_least_1")]
    pub max_connections_smtp: Option<usize>,
    /// The same for the submission listeners (ports 587 and 465 together).
    #[serde(deserialize_with = "some_at_least_1")]
    pub max_connections_submission: Option<usize>,
    /// The same for the POP3 listeners (ports 110 and 995 together).
    #[serde(deserialize_with = "some_at_least_1")]
    pub max_connections_pop3: Option<usize>,
    /// The same for the HTTP(S) auto-configuration listeners.
    #[serde(deserialize_with = "some_at_least_1")]
    pub max_connections_http: Option<usize>,
    /// A budget (a service's, or `max_connections`) is under pressure from
    /// this share of it in use, in percent.
    #[serde(deserialize_with = "percent")]
    pub pressure_threshold_percent: u8,
    /// Under pressure, clients that have not greeted (SMTP: HELO/EHLO, or
    /// a TLS handshake) or logged in (submission, POP3) yet are closed after
    /// this much idle time instead of the protocol's own timeout.
    #[serde(deserialize_with = "timeout")]
    pub idle_timeout_under_pressure: Duration,
    /// SMTP: idle time allowed while waiting for a command or for data.
    #[serde(deserialize_with = "timeout")]
    pub smtp_timeout: Duration,
    /// The longest any one connection may last, however busy: bounds
    /// clients that trickle bytes to dodge the idle timeouts.
    #[serde(deserialize_with = "timeout")]
    pub session_max: Duration,
    /// POP3: idle time before autologout (RFC 1939: at least 10 minutes).
    #[serde(deserialize_with = "timeout")]
    pub pop3_idle_timeout: Duration,
    /// How long a failed login takes, whatever the reason.
    #[serde(deserialize_with = "duration")]
    pub auth_failure_delay: Duration,
    /// How long a verified password is remembered, so mail programs that
    /// log in every few minutes skip the argon2 cost (0: never).
    #[serde(deserialize_with = "duration")]
    pub auth_cache_ttl: Duration,
    /// Failed logins from one client address (IPv6: one /64) before it is
    /// locked; failed logins on one account before the addresses they came
    /// from are locked.
    #[serde(deserialize_with = "at_least::<_, 1>")]
    pub auth_lockout_after: usize,
    /// Failed logins on one account (from any addresses) within the window
    /// before the account itself is locked, the last resort (0: never).
    pub auth_account_lockout_after: usize,
    /// Password hashes (argon2) verified at once; more logins wait their
    /// turn (0: one per CPU core).
    pub auth_max_parallel_hashes: usize,
    /// How long a lockout lasts; the real user gets in again after it.
    #[serde(deserialize_with = "timeout")]
    pub auth_lockout: Duration,
    /// Time allowed for a TLS handshake.
    #[serde(deserialize_with = "timeout")]
    pub tls_handshake_timeout: Duration,
    /// Failed logins on one POP3 connection before it is closed.
    pub max_auth_failures: usize,
}

/// POP3 policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Pop3 {
    /// Logins without TLS (USER/PASS, APOP, every SASL mechanism, in POP3
    /// and SMTP AUTH): `true`, `false` or `"loopback"`.
    #[serde(deserialize_with = "plaintext_policy")]
    pub allow_plaintext: Plaintext,
    /// Seconds advertised as LOGIN-DELAY (0: not advertised).
    pub login_delay: u32,
    /// Offer the UTF8 command (RFC 6856): UTF-8 user names and passwords,
    /// and messages with UTF-8 headers as they are. Clients that do not
    /// use it get such messages downgraded (RFC 6857).
    pub utf8: bool,
    /// Response text languages offered with LANG (RFC 6856), among "en",
    /// "th" and "zh". English is the default and always offered.
    #[serde(deserialize_with = "language_list")]
    pub languages: Vec<praisani_pop3::Language>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            hostname: default_hostname(),
            postmaster: None,
            data_dir: PathBuf::from("praisani-data"),
            listen: Listen::default(),
            limits: Limits::default(),
            pop3: Pop3::default(),
            tls: TlsFiles::default(),
            trusted_networks: Vec::new(),
            smtp: SmtpSettings::default(),
            submission: Submission::default(),
            delivery: Delivery::default(),
            quota: QuotaSettings::default(),
            retention: RetentionSettings::default(),
            autoconfig: Autoconfig::default(),
            http: Http::default(),
            admin_api: AdminApi::default(),
            store: StoreSettings::default(),
            trust: TrustConfig::default(),
            dnsbl: DnsblConfig::default(),
            greylist: GreylistConfig::default(),
            spam: SpamConfig::default(),
            addressing: AddressingConfig::default(),
            sending: SendingConfig::default(),
            dmarc_reports: DmarcReportsConfig::default(),
            tls_reports: TlsReportsConfig::default(),
            srs: SrsConfig::default(),
            metrics: MetricsConfig::default(),
            log_format: LogFormat::default(),
        }
    }
}

impl Default for Listen {
    fn default() -> Self {
        let at = |port: u16| vec![SocketAddr::from(([127, 0, 0, 1], port))];
        Listen {
            smtp: at(2525),
            submission: at(2587),
            submissions: at(2465),
            pop3: at(2110),
            pop3s: at(2995),
            http: at(2080),
            https: at(2443),
            admin: Vec::new(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: 50 * 1024 * 1024,
            max_vacation_text: praisani_mailhost::vacation::DEFAULT_MAX_TEXT as u64,
            max_received: praisani_mailhost::forwarding::DEFAULT_MAX_RECEIVED,
            max_recipients: 100,
            max_command_line: 512,
            max_text_line: 1000,
            max_bad_commands: 20,
            max_messages_per_connection: 100,
            max_connections: 2000,
            max_connections_per_ip: 50,
            max_connections_smtp: None,
            max_connections_submission: None,
            max_connections_pop3: None,
            max_connections_http: None,
            pressure_threshold_percent: 80,
            idle_timeout_under_pressure: Duration::from_secs(30),
            smtp_timeout: Duration::from_secs(300),
            pop3_idle_timeout: Duration::from_secs(600),
            session_max: Duration::from_secs(3600),
            auth_failure_delay: Duration::from_secs(2),
            auth_cache_ttl: Duration::from_secs(600),
            tls_handshake_timeout: Duration::from_secs(30),
            auth_lockout_after: 10,
            auth_account_lockout_after: 100,
            auth_max_parallel_hashes: 0,
            auth_lockout: Duration::from_secs(300),
            max_auth_failures: 3,
        }
    }
}

impl Limits {
    /// The connection budgets of SMTP, submission, POP3 and HTTP, in that
    /// order: as configured, else half of `max_connections` each.
    pub fn service_connections(&self) -> [usize; 4] {
        [
            self.max_connections_smtp,
            self.max_connections_submission,
            self.max_connections_pop3,
            self.max_connections_http,
        ]
        .map(|n| n.unwrap_or(self.max_connections.div_ceil(2)))
    }
}

impl Default for Pop3 {
    fn default() -> Self {
        Pop3 {
            allow_plaintext: Plaintext::Loopback,
            login_delay: 0,
            utf8: true,
            languages: praisani_pop3::Language::ALL.to_vec(),
        }
    }
}

fn default_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// When USER/PASS and APOP may be used without TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plaintext {
    /// Always (`true`): only behind a TLS proxy or on a trusted network.
    Always,
    /// Only for clients connecting from a loopback address (the default).
    Loopback,
    /// Never (`false`); logins then need TLS, which arrives with the TLS issue.
    Never,
}

impl Plaintext {
    /// Whether a client from `ip` may send a password in the clear.
    pub fn allows(self, ip: std::net::IpAddr) -> bool {
        match self {
            Plaintext::Always => true,
            Plaintext::Loopback => ip.is_loopback(),
            Plaintext::Never => false,
        }
    }
}

/// A configuration that could not be loaded; the message names the key and
/// the line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Config {
    /// What the post office's decisions need from the configuration.
    pub fn post_office_settings(&self) -> praisani_mailhost::Settings {
        praisani_mailhost::Settings {
            hostname: self.hostname.clone(),
            quota_warn: self.quota.warn.clone(),
            sender_policy: self.submission.sender_policy.into(),
            postmaster: self
                .postmaster
                .as_deref()
                .and_then(|a| praisani_mailaddr::Address::parse(a).ok()),
            retention: self.retention.default_policy(),
            login_delay: (self.pop3.login_delay > 0)
                .then(|| std::time::Duration::from_secs(self.pop3.login_delay.into())),
            bounce_interval: self.quota.bounce_interval,
            bounce_senders: self.quota.bounce_senders,
            addressing: self.addressing.rules(),
            max_received: self.limits.max_received,
        }
    }

    /// What the queue runner needs from `[delivery]` (and the host name and
    /// data directory); an error names the key whose next hop is unreadable.
    pub fn queue_settings(&self) -> Result<praisani_delivery::queue::QueueSettings, ConfigError> {
        use praisani_delivery::route::StaticRoute;
        let d = &self.delivery;
        let mut routes = std::collections::HashMap::new();
        for (domain, target) in &d.routes {
            let mut r = StaticRoute::next_hop(&target.next_hop, None)
                .map_err(|e| ConfigError(format!("delivery.routes.{domain}: {e}")))?;
            r.verify_tls = target.verify_tls;
            routes.insert(domain.clone(), r);
        }
        let smarthost = match &d.smarthost {
            Some(s) => {
                let password = d
                    .smarthost_password
                    .as_ref()
                    .map(|p| p.expose().to_string());
                let auth = d.smarthost_user.clone().zip(password);
                let mut r = StaticRoute::next_hop(s, auth)
                    .map_err(|e| ConfigError(format!("delivery.smarthost: {e}")))?;
                r.verify_tls = d.smarthost_verify_tls;
                Some(r)
            }
            None => None,
        };
        Ok(praisani_delivery::queue::QueueSettings {
            hostname: self.hostname.clone(),
            data_dir: self.data_dir.clone(),
            routes,
            smarthost,
            nameservers: d.nameservers.clone(),
            smtp_port: d.smtp_port,
            allow_internal_mx: d.allow_internal_mx,
            dane: d.dane,
            tls_ca_file: d.tls_ca_file.clone(),
            mta_sts: d.mta_sts,
            mta_sts_timeout: d.mta_sts_timeout,
            mta_sts_port: d.mta_sts_port,
            tls_reports: self
                .tls_reports
                .settings(&self.hostname)
                .map(|r| r.limits()),
            max_connections: d.max_connections,
            max_connections_per_domain: d.max_connections_per_domain,
            messages_per_connection: d.messages_per_connection,
            lease: d.lease,
            delay_notice: d.delay_notice,
            max_age: d.max_age,
            retry: d.retry.clone(),
            timeout: d.timeout,
        })
    }

    /// Finds and loads the configuration: `explicit`, else `./praisani.toml`
    /// when present, else the defaults.
    pub fn load(explicit: Option<&Path>) -> Result<(Config, Option<PathBuf>), ConfigError> {
        let path = match explicit {
            Some(p) => Some(p.to_path_buf()),
            None => Some(PathBuf::from("praisani.toml")).filter(|p| p.exists()),
        };
        let Some(path) = path else {
            return Ok((Config::default(), None));
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| ConfigError(format!("{}: cannot read: {e}", path.display())))?;
        let config = Config::parse(&text)
            .map_err(|e| ConfigError(format!("{}: {}", path.display(), e.0)))?;
        Ok((config, Some(path)))
    }

    /// Parses and validates a configuration document.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError(e.to_string()))?;
        if config.store.backend == StoreBackend::Postgres && config.store.url.is_none() {
            return Err(ConfigError(
                "[store] backend = \"postgres\" needs url = \"postgres://…\"".into(),
            ));
        }
        let l = &config.limits;
        for (key, n) in [
            ("max_connections_smtp", l.max_connections_smtp),
            ("max_connections_submission", l.max_connections_submission),
            ("max_connections_pop3", l.max_connections_pop3),
            ("max_connections_http", l.max_connections_http),
        ] {
            if let Some(n) = n.filter(|&n| n > l.max_connections) {
                return Err(ConfigError(format!(
                    "limits.{key} = {n} is above limits.max_connections = {}, the cap over all listeners: raise max_connections too",
                    l.max_connections
                )));
            }
        }
        if config.store.lock_lease < Duration::from_secs(10) {
            return Err(ConfigError(
                "store.lock_lease must be at least 10s (it is renewed every third of it)".into(),
            ));
        }
        let l = &config.limits;
        if l.auth_account_lockout_after != 0 && l.auth_account_lockout_after <= l.auth_lockout_after
        {
            return Err(ConfigError(format!(
                "limits.auth_account_lockout_after ({}) must be 0 (never) or more than \
                 limits.auth_lockout_after ({}): locking the account is the last resort",
                l.auth_account_lockout_after, l.auth_lockout_after
            )));
        }
        if config.admin_api.plain_http
            && let Some(a) = config.listen.admin.iter().find(|a| !a.ip().is_loopback())
        {
            return Err(ConfigError(format!(
                "[admin_api] plain_http = true is allowed only on loopback addresses, but listen.admin has {a}: \
                 serve the admin API over HTTPS there (remove plain_http) or listen on 127.0.0.1 / [::1]"
            )));
        }
        config.trust.validate()?;
        config.dnsbl.validate()?;
        config.greylist.validate()?;
        config.spam.validate()?;
        config.sending.policy()?;
        config.dmarc_reports.validate(&config.hostname)?;
        config.tls_reports.validate(&config.hostname)?;
        config.srs.validate(&config.hostname)?;
        config.metrics.validate()?;
        Ok(config)
    }

    /// True when `ip` is in `trusted_networks`.
    pub fn is_trusted(&self, ip: std::net::IpAddr) -> bool {
        self.trusted_networks.iter().any(|n| n.contains(ip))
    }

    /// The configured certificate, if any.
    pub fn tls_source(&self) -> Option<crate::tls::TlsSource> {
        match (&self.tls.cert, &self.tls.key) {
            (Some(cert), Some(key)) => Some(crate::tls::TlsSource {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        }
    }

    /// Settings that are allowed but bend an RFC, for a warning at start.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        let l = &self.limits;
        if l.max_recipients < 100 {
            w.push("limits.max_recipients is below the 100 RFC 5321 asks servers to accept".into());
        }
        if l.smtp_timeout < Duration::from_secs(300) {
            w.push("limits.smtp_timeout is below the 5 minutes RFC 5321 (4.5.3.2.7) asks servers to wait".into());
        }
        if l.pop3_idle_timeout < Duration::from_secs(600) {
            w.push("limits.pop3_idle_timeout is below the 10 minutes RFC 1939 requires".into());
        }
        if self.dmarc_reports.enabled && !self.trust.enabled {
            w.push("dmarc_reports.enabled needs the DMARC checks of [trust]: nothing is recorded while trust.enabled = false".into());
        }
        if self.tls_reports.enabled && !self.delivery.mta_sts && !self.delivery.dane {
            w.push("tls_reports.enabled reports on MTA-STS and DANE: nothing is recorded while delivery.mta_sts and delivery.dane are false".into());
        }
        if self.postmaster.is_none() {
            w.push("postmaster is not set: `serve` refuses to start without it (mail to <postmaster> needs an address of yours)".into());
        }
        w
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrText {
    Num(u64),
    Text(String),
}

/// Parses "30" (seconds), "30s", "5m", "2h", "1d".
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult = match unit.trim() {
        "" | "s" => 1,
        "ms" => return Some(Duration::from_millis(n)),
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return None,
    };
    Some(Duration::from_secs(n.checked_mul(mult)?))
}

// The checks below run while deserializing, so a refused value is reported
// with its key and line like any other TOML error.

fn message_size<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = match NumOrText::deserialize(d)? {
        NumOrText::Num(n) => n,
        NumOrText::Text(t) => parse_size(&t).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "invalid size {t:?} (examples: 1048576, \"64K\", \"50M\")"
            ))
        })?,
    };
    if n < 1024 {
        return Err(serde::de::Error::custom("must be at least 1K"));
    }
    Ok(n)
}

fn size<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    message_size(d)
}

fn port<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    match u16::deserialize(d)? {
        0 => Err(serde::de::Error::custom(
            "must be a port number from 1 to 65535",
        )),
        p => Ok(p),
    }
}

fn optional_hostname<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    hostname(d).map(Some)
}

fn parse_duration_value<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    match NumOrText::deserialize(d)? {
        NumOrText::Num(n) => Ok(Duration::from_secs(n)),
        NumOrText::Text(t) => parse_duration(&t).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "invalid duration {t:?} (examples: 30, \"30s\", \"5m\", \"1h\")"
            ))
        }),
    }
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    parse_duration_value(d)
}

fn timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let t = parse_duration_value(d)?;
    if t < Duration::from_secs(1) {
        return Err(serde::de::Error::custom("must be at least 1s"));
    }
    Ok(t)
}

fn durations<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
    let list = Vec::<String>::deserialize(d)?;
    if list.is_empty() {
        return Err(serde::de::Error::custom("give at least one wait"));
    }
    list.iter()
        .map(|t| {
            parse_duration(t).filter(|d| !d.is_zero()).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "invalid duration {t:?} (examples: \"1m\", \"4h\")"
                ))
            })
        })
        .collect()
}

fn some_at_least_1<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    at_least::<_, 1>(d).map(Some)
}

fn percent<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    match u8::deserialize(d)? {
        n @ 1..=100 => Ok(n),
        _ => Err(serde::de::Error::custom(
            "must be a percentage from 1 to 100",
        )),
    }
}

fn at_least<'de, D: Deserializer<'de>, const MIN: usize>(d: D) -> Result<usize, D::Error> {
    let n = usize::deserialize(d)?;
    if n < MIN {
        return Err(serde::de::Error::custom(format!("must be at least {MIN}")));
    }
    Ok(n)
}

#[derive(Deserialize)]
#[serde(untagged)]
enum BoolOrText {
    Bool(bool),
    Text(String),
}

fn plaintext_policy<'de, D: Deserializer<'de>>(d: D) -> Result<Plaintext, D::Error> {
    match BoolOrText::deserialize(d)? {
        BoolOrText::Bool(true) => Ok(Plaintext::Always),
        BoolOrText::Bool(false) => Ok(Plaintext::Never),
        BoolOrText::Text(t) if t == "loopback" => Ok(Plaintext::Loopback),
        BoolOrText::Text(t) => Err(serde::de::Error::custom(format!(
            "invalid value {t:?}: use true, false or \"loopback\""
        ))),
    }
}

fn language_list<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<praisani_pop3::Language>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| {
            praisani_pop3::Language::from_tag(s).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "{s:?} is not an offered language (use \"en\", \"th\", \"zh\")"
                ))
            })
        })
        .collect()
}

fn cidr_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Cidr>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| {
            Cidr::parse(s).ok_or_else(|| {
                serde::de::Error::custom(format!("{s:?} is not a network (e.g. \"192.0.2.0/24\")"))
            })
        })
        .collect()
}

fn tls_section<'de, D: Deserializer<'de>>(d: D) -> Result<TlsFiles, D::Error> {
    let t = TlsFiles::deserialize(d)?;
    if t.cert.is_some() != t.key.is_some() {
        return Err(serde::de::Error::custom(
            "set both `cert` and `key`, or neither",
        ));
    }
    Ok(t)
}

fn hostname<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let h = String::deserialize(d)?;
    if h != "localhost" && praisani_mailaddr::Domain::parse(&h).is_err() {
        return Err(serde::de::Error::custom(format!(
            "{h:?} is not a valid host name"
        )));
    }
    Ok(h)
}

fn address<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let a = String::deserialize(d)?;
    praisani_mailaddr::Address::parse(&a)
        .map_err(|_| serde::de::Error::custom(format!("{a:?} is not a valid mail address")))?;
    Ok(Some(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_document_gives_defaults() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.listen.smtp, vec!["127.0.0.1:2525".parse().unwrap()]);
        assert_eq!(c.listen.pop3, vec!["127.0.0.1:2110".parse().unwrap()]);
        assert_eq!(c.limits.max_command_line, 512);
    }

    #[test]
    fn dane_is_on_unless_turned_off() {
        assert!(Config::parse("").unwrap().delivery.dane);
        let off = Config::parse("[delivery]\ndane = false\n").unwrap();
        assert!(!off.delivery.dane);
        assert!(!off.queue_settings().unwrap().dane);
        assert!(Config::parse("[delivery]\ndane = \"yes\"\n").is_err());
    }

    #[test]
    fn the_example_file_parses() {
        let text = include_str!("../../../praisani.example.toml");
        let c = Config::parse(text).unwrap();
        assert_eq!(c.limits.max_message_size, 50 * 1024 * 1024);
        assert_eq!(c.limits.smtp_timeout, Duration::from_secs(300));
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let e = Config::parse("hostname = \"mx.example.test\"\n\n[limits]\nmax_recipents = 5\n")
            .unwrap_err();
        assert!(e.0.contains("max_recipents"), "{e}");
        assert!(e.0.contains("line 4"), "{e}");
    }

    #[test]
    fn bad_values_are_refused() {
        for (doc, key) in [
            ("[limits]\nmax_message_size = \"lots\"", "max_message_size"),
            ("[limits]\nsmtp_timeout = \"soon\"", "smtp_timeout"),
            ("[listen]\nsmtp = [\"localhost\"]", "smtp"),
            ("[limits]\nmax_command_line = 100", "max_command_line"),
            ("hostname = \"bad host\"", "hostname"),
            ("[limits]\nmax_recipients = -1", "max_recipients"),
            (
                "[limits]\nmax_connections_per_ip = 0",
                "max_connections_per_ip",
            ),
            ("[limits]\npop3_idle_timeout = 0", "pop3_idle_timeout"),
            ("[limits]\nmax_message_size = 10", "max_message_size"),
            ("postmaster = \"nobody\"", "postmaster"),
            ("[autoconfig]\npop3s_port = 0", "pop3s_port"),
            ("[autoconfig]\nhost = \"not a host\"", "host"),
            ("[http]\nmax_body_size = 10", "max_body_size"),
            ("[http]\ntimeout = 0", "timeout"),
            ("[quota]\nbounce_interval = 0", "bounce_interval"),
            ("[quota]\nbounce_senders = 0", "bounce_senders"),
            ("[listen]\nhttp = [\"nowhere\"]", "http"),
            ("[limits]\nmax_connections_pop3 = 0", "max_connections_pop3"),
            (
                "[limits]\npressure_threshold_percent = 0",
                "pressure_threshold_percent",
            ),
            (
                "[limits]\npressure_threshold_percent = 101",
                "pressure_threshold_percent",
            ),
            (
                "[limits]\nidle_timeout_under_pressure = 0",
                "idle_timeout_under_pressure",
            ),
        ] {
            let e = Config::parse(doc).unwrap_err();
            assert!(e.0.contains(key), "{doc}: {e}");
            assert!(e.0.contains("line "), "{doc}: {e}");
        }
    }

    #[test]
    fn filter_sections_are_checked() {
        let c = Config::parse("").unwrap();
        assert!(!c.dnsbl.enabled() && c.greylist.rules().is_none() && c.spam.settings().is_none());
        let c = Config::parse(
            "[dnsbl]\nblocklists = [\"BL.Example.\"]\nallow_clients = [\"192.0.2.0/24\"]\n\
             check_at = \"connect\"\n[greylist]\nenabled = true\ndelay = \"1m\"\n\
             [spam]\nrspamd = \"127.0.0.1:11333\"\non_failure = \"tempfail\"\n",
        )
        .unwrap();
        assert_eq!(c.dnsbl.blocklists, ["bl.example"]);
        assert!(c.dnsbl.allows_client("192.0.2.9".parse().unwrap()));
        assert_eq!(c.dnsbl.check_at, CheckAt::Connect);
        assert_eq!(c.greylist.rules().unwrap().delay, 60);
        assert_eq!(
            c.spam.settings().unwrap().on_failure,
            praisani_mailhost::spam::OnFailure::TempFail
        );
        for (doc, key) in [
            ("[dnsbl]\nblocklists = [\"not a zone\"]", "zone"),
            ("[dnsbl]\ncheck_at = \"data\"", "check_at"),
            ("[dnsbl]\nallow_clients = [\"10.0.0.0/33\"]", "network"),
            ("[dnsbl]\nallowlists = [\"wl.example\"]", "dnsbl.allowlists"),
            ("[greylist]\ndelay = \"3d\"", "retry_window"),
            ("[spam]\nrspamd = \"localhost\"", "spam.rspamd"),
            ("[spam]\non_failure = \"drop\"", "on_failure"),
            ("[spam]\ntimeout = 0", "timeout"),
        ] {
            let e = Config::parse(doc).unwrap_err();
            assert!(e.0.contains(key), "{doc}: {e}");
        }
    }

    #[test]
    fn tls_reports_section() {
        let c = Config::parse("hostname = \"mx.example.test\"\n").unwrap();
        assert_eq!(c.tls_reports.settings(&c.hostname), None, "off by default");
        assert_eq!(c.queue_settings().unwrap().tls_reports, None);
        let r = c.tls_reports.report_settings(&c.hostname);
        assert_eq!(
            (r.org_name.as_str(), r.from.as_str(), r.contact.as_str()),
            (
                "mx.example.test",
                "postmaster@mx.example.test",
                "postmaster@mx.example.test"
            )
        );
        let c = Config::parse(
            "[tls_reports]\nenabled = true\norg_name = \"Example Hosting\"\n\
             from = \"tlsrpt@example.test\"\ncontact = \"noc@example.test\"\n\
             max_records = 50\nsend_delay = \"1h\"\n",
        )
        .unwrap();
        let r = c.tls_reports.settings(&c.hostname).unwrap();
        assert_eq!(
            (r.from.as_str(), r.contact.as_str(), r.max_rows),
            ("tlsrpt@example.test", "noc@example.test", 50)
        );
        assert_eq!(r.send_delay, Duration::from_secs(3600));
        assert_eq!(
            c.queue_settings().unwrap().tls_reports.map(|l| l.max_rows),
            Some(50)
        );
        for (doc, key) in [
            (
                "[tls_reports]\nfrom = \"not an address\"",
                "tls_reports.from",
            ),
            ("[tls_reports]\nmax_records = 0", "max_records"),
            ("[tls_reports]\nmax_domains = 0", "max_domains"),
            ("[tls_reports]\nsend_delay = \"1d\"", "send_delay"),
            ("[tls_reports]\ncontact = \" \"", "contact"),
            ("[tls_reports]\nrua = true", "rua"),
        ] {
            let e = Config::parse(doc).unwrap_err();
            assert!(e.0.contains(key), "{doc}: {e}");
        }
    }

    #[test]
    fn dmarc_reports_section() {
        let c = Config::parse("hostname = \"mx.example.test\"\n").unwrap();
        assert_eq!(
            c.dmarc_reports.settings(&c.hostname),
            None,
            "off by default"
        );
        let r = c.dmarc_reports.report_settings(&c.hostname);
        assert_eq!(
            (r.org_name.as_str(), r.from.as_str(), r.max_rows),
            ("mx.example.test", "postmaster@mx.example.test", 10_000)
        );
        let c = Config::parse(
            "[dmarc_reports]\nenabled = true\norg_name = \"Example Hosting\"\n\
             from = \"dmarc@example.test\"\nmax_records = 50\nsend_delay = \"1h\"\n",
        )
        .unwrap();
        let r = c.dmarc_reports.settings(&c.hostname).unwrap();
        assert_eq!((r.from.as_str(), r.max_rows), ("dmarc@example.test", 50));
        assert_eq!(r.send_delay, Duration::from_secs(3600));
        for (doc, key) in [
            (
                "[dmarc_reports]\nfrom = \"not an address\"",
                "dmarc_reports.from",
            ),
            ("[dmarc_reports]\nmax_records = 0", "max_records"),
            ("[dmarc_reports]\nmax_domains = 0", "max_domains"),
            ("[dmarc_reports]\nsend_delay = \"1d\"", "send_delay"),
            ("[dmarc_reports]\norg_name = \" \"", "org_name"),
            ("[dmarc_reports]\nrua = true", "rua"),
        ] {
            let e = Config::parse(doc).unwrap_err();
            assert!(e.0.contains(key), "{doc}: {e}");
        }
    }

    #[test]
    fn connection_budgets_per_service() {
        let c =
            Config::parse("[limits]\nmax_connections = 101\nmax_connections_pop3 = 7\n").unwrap();
        assert_eq!(c.limits.service_connections(), [51, 51, 7, 51]);
        let e = Config::parse("[limits]\nmax_connections = 10\nmax_connections_smtp = 11\n")
            .unwrap_err();
        assert!(
            e.0.contains("max_connections_smtp") && e.0.contains("max_connections = 10"),
            "{e}"
        );
    }

    #[test]
    fn autoconfig_and_http_sections() {
        let c = Config::parse("hostname = \"mx.example.test\"").unwrap();
        assert_eq!(c.client_host(), "mx.example.test");
        assert_eq!(
            (
                c.autoconfig.pop3s_port,
                c.autoconfig.pop3_port,
                c.autoconfig.submissions_port,
                c.autoconfig.submission_port,
                c.autoconfig.https_port
            ),
            (995, 110, 465, 587, 443)
        );
        assert_eq!(c.listen.http, vec!["127.0.0.1:2080".parse().unwrap()]);
        assert_eq!(c.listen.https, vec!["127.0.0.1:2443".parse().unwrap()]);
        assert_eq!(c.http.max_header_size, 8192);
        let c = Config::parse(
            "hostname = \"mx.example.test\"\n[autoconfig]\nhost = \"เมล.ตัวอย่าง.ไทย\"\npop3s_port = 10995\n[http]\nmax_body_size = \"4K\"\n",
        )
        .unwrap();
        assert_eq!(c.client_host(), "xn--y3ci3f.xn--72c1a1bt4awk9o.xn--o3cw4h");
        assert_eq!(c.autoconfig.pop3s_port, 10995);
        assert_eq!(c.http.max_body_size, 4096);
    }

    #[test]
    fn account_lockout_must_exceed_the_address_lockout() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.limits.auth_account_lockout_after, 100);
        assert_eq!(c.limits.auth_max_parallel_hashes, 0);
        Config::parse("[limits]\nauth_account_lockout_after = 0").unwrap();
        let e = Config::parse("[limits]\nauth_lockout_after = 10\nauth_account_lockout_after = 10")
            .unwrap_err();
        assert!(e.0.contains("auth_account_lockout_after"), "{}", e.0);
    }

    #[test]
    fn plaintext_policy() {
        let lo: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let lo6: std::net::IpAddr = "::1".parse().unwrap();
        let public: std::net::IpAddr = "203.0.113.9".parse().unwrap();
        let c = Config::parse("").unwrap();
        assert_eq!(c.pop3.allow_plaintext, Plaintext::Loopback);
        assert!(Plaintext::Loopback.allows(lo) && Plaintext::Loopback.allows(lo6));
        assert!(!Plaintext::Loopback.allows(public));
        assert!(Plaintext::Always.allows(public));
        assert!(!Plaintext::Never.allows(lo));
        let t = Config::parse("[pop3]\nallow_plaintext = true").unwrap();
        assert_eq!(t.pop3.allow_plaintext, Plaintext::Always);
        let f = Config::parse("[pop3]\nallow_plaintext = false").unwrap();
        assert_eq!(f.pop3.allow_plaintext, Plaintext::Never);
        let e = Config::parse("[pop3]\nallow_plaintext = \"yes\"").unwrap_err();
        assert!(
            e.0.contains("allow_plaintext") && e.0.contains("line 2"),
            "{e}"
        );
    }

    #[test]
    fn pop3_utf8_and_languages() {
        use praisani_pop3::Language;
        let c = Config::parse("").unwrap();
        assert!(c.pop3.utf8);
        assert_eq!(c.pop3.languages, Language::ALL);
        assert!(!c.smtp.allow_utf8_headers_without_smtputf8);
        assert!(c.smtp.chunking);
        assert!(c.smtp.requiretls);
        assert!(
            !Config::parse("[smtp]\nrequiretls = false")
                .unwrap()
                .smtp
                .requiretls
        );
        assert!(
            !Config::parse("[smtp]\nchunking = false")
                .unwrap()
                .smtp
                .chunking
        );
        let c = Config::parse("[pop3]\nutf8 = false\nlanguages = [\"TH\"]").unwrap();
        assert!(!c.pop3.utf8);
        assert_eq!(c.pop3.languages, [Language::Th]);
        let e = Config::parse("[pop3]\nlanguages = [\"fr\"]").unwrap_err();
        assert!(e.0.contains("\"fr\" is not an offered language"), "{e}");
    }

    #[test]
    fn trusted_networks() {
        let c = Config::parse(
            "trusted_networks = [\"192.0.2.0/24\", \"2001:db8::/32\", \"198.51.100.7\"]",
        )
        .unwrap();
        assert!(c.is_trusted("192.0.2.200".parse().unwrap()));
        assert!(!c.is_trusted("192.0.3.1".parse().unwrap()));
        assert!(c.is_trusted("2001:db8:1::5".parse().unwrap()));
        assert!(c.is_trusted("198.51.100.7".parse().unwrap()));
        assert!(!c.is_trusted("198.51.100.8".parse().unwrap()));
        assert!(c.is_trusted("::ffff:192.0.2.9".parse().unwrap()));
        assert!(
            !Config::parse("")
                .unwrap()
                .is_trusted("127.0.0.1".parse().unwrap())
        );
        let e = Config::parse("trusted_networks = [\"10.0.0.0/33\"]").unwrap_err();
        assert!(
            e.0.contains("trusted_networks") && e.0.contains("line 1"),
            "{e}"
        );
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("64K"), Some(65536));
        assert_eq!(parse_size("50MiB"), Some(50 << 20));
        assert_eq!(parse_size("7"), Some(7));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size("99999999999999999999G"), None);
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1w"), None);
    }

    #[test]
    fn store_section() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.store.backend, StoreBackend::Embedded);
        let c = Config::parse(
            "[store]\nbackend = \"postgres\"\nurl = \"postgres://mail:s3cret@db:5432/mail\"\n\
             max_connections = 4\nlock_lease = \"2m\"\n",
        )
        .unwrap();
        assert_eq!(c.store.backend, StoreBackend::Postgres);
        let o = c.store.pg_options(c.store.url.as_deref().unwrap());
        assert_eq!(o.max_connections, 4);
        assert_eq!(o.lock_lease, Duration::from_secs(120));
        let shown = format!("{:?}", c.store);
        assert!(
            !shown.contains("s3cret") && shown.contains("mail:***@db"),
            "{shown}"
        );
        for (doc, want) in [
            ("[store]\nbackend = \"postgres\"", "needs url"),
            ("[store]\nbackend = \"mysql\"", "mysql"),
            ("[store]\nmax_connections = 0", "max_connections"),
            ("[store]\nlock_lease = \"5s\"", "lock_lease"),
        ] {
            let e = Config::parse(doc).unwrap_err();
            assert!(e.0.contains(want), "{doc}: {e}");
        }
    }
}
