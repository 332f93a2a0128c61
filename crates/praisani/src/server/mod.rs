//! The thin tokio layer: listeners, connection limits, shutdown, and the
//! per-connection drivers that move bytes between sockets and the protocol
//! engines; it starts the outbound queue runner ([`praisani_delivery::queue`])
//! beside them.

mod admin;
mod http;
mod limits;
pub(crate) mod metrics;
mod pop3;
mod smtp;
mod stream;

use crate::config::Config;
use crate::tls::Tls;
use praisani_delivery::queue::Runner;
use praisani_delivery::tls_report::{self, Reporter as TlsReporter};
use praisani_mailaddr::{Address, Domain};
use praisani_mailhost::dmarc_reports::{self, Reporter};
use praisani_mailhost::dnsbl::Dnsbl;
use praisani_mailhost::login::Logins;
use praisani_mailhost::spam::SpamFilter;
use praisani_mailhost::srs::Srs;
use praisani_mailhost::throttle::{Throttle, ThrottlePolicy};
use praisani_mailhost::trust::{DnsSettings, TrustChecker, build_resolver};
use praisani_mailhost::{Authenticator, InboundDnsbl, InboundTrust, PostOffice, retention};
use praisani_store::{Store, StoreError};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use stream::MailStream;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// What every connection driver needs.
pub(crate) struct Shared {
    pub config: Config,
    /// The mail logic's shared services, the store among them.
    pub office: Arc<PostOffice>,
    /// Password checks and brute-force throttling for every protocol.
    pub logins: Arc<Logins>,
    pub smtp: Arc<praisani_smtp::Config>,
    /// The engine settings SMTP connections use, one of each kind
    /// (`smtp_engine`).
    smtp_engines: std::sync::Mutex<Vec<Arc<praisani_smtp::Config>>>,
    /// The POP3 policy, and the same for clients that may not send
    /// passwords in the clear; replaced when the EXPIRE shown before login
    /// changes (`refresh_expire`).
    pop3: std::sync::RwLock<(Arc<praisani_pop3::Config>, Arc<praisani_pop3::Config>)>,
    pub limits: limits::ConnLimits,
    /// The TLS settings, reloaded on SIGHUP.
    pub tls: Arc<Tls>,
    next_id: AtomicU64,
    started: u64,
}

impl Shared {
    /// The POP3 policy for a client that may (or may not) send passwords
    /// in the clear.
    pub fn pop3_policy(&self, plaintext_ok: bool) -> Arc<praisani_pop3::Config> {
        let both = self.pop3.read().unwrap_or_else(|p| p.into_inner());
        if plaintext_ok {
            both.0.clone()
        } else {
            both.1.clone()
        }
    }

    /// Recomputes the EXPIRE that CAPA shows before login
    /// ([`retention::expire_before_login`]) and keeps it in the POP3 policy.
    pub async fn refresh_expire(&self) {
        let default = self.office.settings.retention;
        let (floor, per_user) =
            match retention::expire_before_login(&*self.office.store, default).await {
                Ok(e) => e,
                Err(e) => {
                    tracing::error!("cannot read retention policies: {e}");
                    return;
                }
            };
        let mut both = self.pop3.write().unwrap_or_else(|p| p.into_inner());
        if both.0.expire == floor && both.0.expire_per_user == per_user {
            return;
        }
        let update = |c: &Arc<praisani_pop3::Config>| {
            Arc::new(praisani_pop3::Config {
                expire: floor,
                expire_per_user: per_user,
                ..(**c).clone()
            })
        };
        *both = (update(&both.0), update(&both.1));
    }

    /// `config` as one shared copy: connections with the same settings
    /// share one, so an idle connection holds no copy of its own.
    pub fn smtp_engine(&self, config: praisani_smtp::Config) -> Arc<praisani_smtp::Config> {
        // A few kinds in practice (listener × TLS policy); bounded anyway.
        const KINDS: usize = 32;
        let mut kinds = self.smtp_engines.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = kinds.iter().find(|c| ***c == config) {
            return c.clone();
        }
        let c = Arc::new(config);
        if kinds.len() < KINDS {
            kinds.push(c.clone());
        }
        c
    }

    /// A fresh session id, unique across restarts (start time + counter).
    pub fn session_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("{:08X}{:06X}", self.started as u32, n)
    }
}

/// SASL mechanisms offered, in order of preference.
pub(crate) const MECHANISMS: [&str; 3] = ["SCRAM-SHA-256", "PLAIN", "LOGIN"];

/// The demo account `serve --demo` creates.
pub const DEMO_ADDRESS: &str = "demo@example.test";
/// Its password.
pub const DEMO_PASSWORD: &str = "demo-pass";

/// What a listener serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Service {
    /// SMTP from other servers (MX), STARTTLS offered.
    Smtp,
    /// Submission with STARTTLS and AUTH (RFC 6409, port 587).
    Submission,
    /// Submission over implicit TLS (RFC 8314, port 465).
    Submissions,
    /// POP3, STLS offered.
    Pop3,
    /// POP3 over implicit TLS (port 995).
    Pop3s,
    /// Mail program auto-configuration over HTTP.
    Http,
    /// Mail program auto-configuration over HTTPS.
    Https,
    /// The admin API over HTTPS.
    Admin,
    /// The admin API over plain HTTP (loopback only: `admin_api.plain_http`).
    AdminPlain,
}

impl Service {
    /// The service's value in metrics labels.
    pub(crate) fn label(self) -> praisani_metrics::labels::Service {
        use praisani_metrics::labels::Service as L;
        match self {
            Service::Smtp => L::smtp,
            Service::Submission => L::submission,
            Service::Submissions => L::submissions,
            Service::Pop3 => L::pop3,
            Service::Pop3s => L::pop3s,
            Service::Http => L::http,
            Service::Https => L::https,
            Service::Admin | Service::AdminPlain => L::admin,
        }
    }

    /// Implicit TLS: the handshake comes before the protocol.
    fn implicit_tls(self) -> bool {
        matches!(
            self,
            Service::Submissions | Service::Pop3s | Service::Https | Service::Admin
        )
    }

    /// The connection budget this service's connections count against.
    fn budget(self) -> limits::Budget {
        match self {
            Service::Smtp => limits::Budget::Smtp,
            Service::Submission | Service::Submissions => limits::Budget::Submission,
            Service::Pop3 | Service::Pop3s => limits::Budget::Pop3,
            Service::Http | Service::Https | Service::Admin | Service::AdminPlain => {
                limits::Budget::Http
            }
        }
    }
}

/// Binds every listener, then serves until SIGINT or SIGTERM.
pub async fn serve(config: Config, store: Arc<dyn Store>, demo: bool) -> ExitCode {
    // From here on a SIGTERM is a clean stop, even one that arrives while
    // the server is still starting (it stops once started).
    let stop_signals = StopSignals::listen();
    // One server per data directory: a second one would clear the first
    // one's maildrop locks and queue leases at start. Held until exit.
    let _instance = match instance_lock(&config.data_dir) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("praisani: {e}");
            return ExitCode::from(1);
        }
    };
    if demo {
        let l = &config.listen;
        let public: Vec<_> = [&l.smtp, &l.pop3, &l.http, &l.https, &l.admin]
            .into_iter()
            .flatten()
            .filter(|a| !a.ip().is_loopback())
            .collect();
        if !public.is_empty() {
            eprintln!(
                "praisani: --demo only runs on loopback addresses, but the configuration listens on {public:?}"
            );
            return ExitCode::from(2);
        }
        if let Err(e) = create_demo(&*store).await {
            eprintln!("praisani: cannot create the demo account: {e}");
            return ExitCode::from(1);
        }
    }
    let mut config = config;
    if demo && config.postmaster.is_none() {
        config.postmaster = Some(DEMO_ADDRESS.to_string());
    }
    // RFC 5321 4.5.1 wants <postmaster> answered; without an address of the
    // operator's it would have to go to some customer's mailbox.
    if config.postmaster.is_none() {
        eprintln!(
            "praisani: configuration error: postmaster is not set: set `postmaster = \"ADDRESS\"` (a mailbox or alias of yours) at the top of the configuration; mail to <postmaster> and to postmaster@ of domains without their own goes there"
        );
        return ExitCode::from(2);
    }
    let tls = match Tls::load(config.tls_source(), &config.data_dir, &config.hostname) {
        Ok(t) => Arc::new(t),
        Err(e) => {
            eprintln!("praisani: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    tracing::info!(fingerprint = %tls.fingerprint(), "TLS certificate (SHA-256)");
    if demo {
        demo_autoconfig_ports(&mut config);
    }
    let scram_secret = match server_secret(&config.data_dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("praisani: {e}");
            return ExitCode::from(2);
        }
    };
    let mut listeners = Vec::new();
    for (key, service, addrs) in [
        ("listen.smtp", Service::Smtp, &config.listen.smtp),
        (
            "listen.submission",
            Service::Submission,
            &config.listen.submission,
        ),
        (
            "listen.submissions",
            Service::Submissions,
            &config.listen.submissions,
        ),
        ("listen.pop3", Service::Pop3, &config.listen.pop3),
        ("listen.pop3s", Service::Pop3s, &config.listen.pop3s),
        ("listen.http", Service::Http, &config.listen.http),
        ("listen.https", Service::Https, &config.listen.https),
        (
            "listen.admin",
            if config.admin_api.plain_http {
                Service::AdminPlain
            } else {
                Service::Admin
            },
            &config.listen.admin,
        ),
    ] {
        for addr in addrs {
            match TcpListener::bind(addr).await {
                Ok(l) => listeners.push((service, l)),
                Err(e) => {
                    eprintln!("praisani: configuration error: {key}: cannot bind {addr}: {e}");
                    return ExitCode::from(2);
                }
            }
        }
    }
    for w in config.warnings() {
        tracing::warn!("{w}");
    }
    // Made private by this version, but older installs or a copy may not be.
    let wide = praisani_store::files::too_wide(&config.data_dir);
    if !wide.is_empty() {
        let shown: Vec<String> = wide
            .iter()
            .take(5)
            .map(|p| p.display().to_string())
            .collect();
        tracing::warn!(
            count = wide.len(),
            "other local users can reach the mail in the data directory: {}{}; run `chmod -R go-rwx {}`",
            shown.join(", "),
            if wide.len() > shown.len() {
                ", …"
            } else {
                ""
            },
            config.data_dir.display()
        );
    }
    let limits = &config.limits;
    let mut smtp = praisani_smtp::Config::new(config.hostname.clone());
    smtp.max_message_size = limits.max_message_size;
    smtp.max_recipients = limits.max_recipients;
    smtp.max_command_line = limits.max_command_line;
    smtp.max_text_line = limits.max_text_line;
    smtp.max_bad_commands = limits.max_bad_commands;
    smtp.max_messages_per_connection = limits.max_messages_per_connection;
    smtp.utf8_headers_need_smtputf8 = !config.smtp.allow_utf8_headers_without_smtputf8;
    smtp.chunking = config.smtp.chunking;
    smtp.requiretls = config.smtp.requiretls;
    let pop3 = praisani_pop3::Config {
        implementation: format!("praisani {}", env!("CARGO_PKG_VERSION")),
        hostname: config.hostname.clone(),
        // Until refresh_expire has looked at the accounts' own policies.
        expire: retention::advertised_expire(config.retention.default_policy()),
        expire_per_user: false,
        login_delay: (config.pop3.login_delay > 0).then_some(config.pop3.login_delay),
        allow_plaintext: true,
        apop: true,
        max_auth_failures: limits.max_auth_failures,
        max_line: 512,
        stls: true,
        sasl_mechanisms_tls: MECHANISMS.map(String::from).to_vec(),
        sasl_mechanisms_plain: MECHANISMS.map(String::from).to_vec(),
        utf8: config.pop3.utf8,
        languages: config.pop3.languages.clone(),
        ..praisani_pop3::Config::default()
    };
    let office = match post_office(&config, store.clone()).await {
        Ok(o) => Arc::new(o),
        Err(e) => {
            eprintln!("praisani: {e}");
            return ExitCode::from(2);
        }
    };
    let shared = Arc::new(Shared {
        logins: Arc::new(Logins {
            store: store.clone(),
            auth: Authenticator::new(
                store.clone(),
                limits.auth_failure_delay,
                limits.auth_cache_ttl,
            )
            // A queued login waits no longer than its session would wait
            // for the client.
            .with_hash_limit(
                limits.auth_max_parallel_hashes,
                limits.smtp_timeout.min(limits.pop3_idle_timeout),
            ),
            throttle: Throttle::new(ThrottlePolicy {
                lockout_after: u32::try_from(limits.auth_lockout_after).unwrap_or(u32::MAX),
                lockout: limits.auth_lockout,
                account_lockout_after: u32::try_from(limits.auth_account_lockout_after)
                    .unwrap_or(u32::MAX),
                window: limits.auth_lockout.max(Duration::from_secs(900)),
                step: Duration::from_secs(1),
                max_delay: Duration::from_secs(10),
            }),
            scram_secret,
            failure_delay: limits.auth_failure_delay,
        }),
        limits: limits::ConnLimits::new(&{
            let [smtp, submission, pop3, http] = limits.service_connections();
            limits::Sizes {
                total: limits.max_connections,
                smtp,
                submission,
                pop3,
                http,
                per_ip: limits.max_connections_per_ip,
                pressure_percent: limits.pressure_threshold_percent,
            }
        }),
        tls: tls.clone(),
        office,
        smtp: Arc::new(smtp),
        smtp_engines: std::sync::Mutex::new(Vec::new()),
        pop3: std::sync::RwLock::new((
            Arc::new(pop3.clone()),
            Arc::new(praisani_pop3::Config {
                allow_plaintext: false,
                // Every mechanism waits for TLS, SCRAM too (see
                // `smtp::engine_config`).
                sasl_mechanisms_plain: Vec::new(),
                ..pop3
            }),
        )),
        next_id: AtomicU64::new(0),
        started: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        config,
    });

    shared.refresh_expire().await;
    // No session is open yet: maildrop locks left by a killed run go.
    match shared.office.store.release_maildrop_locks().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(locks = n, "released maildrop locks of the previous run"),
        Err(e) => {
            eprintln!("praisani: cannot open the store: {e}");
            return ExitCode::from(1);
        }
    }
    // Before the first greeting: whoever sees the server answer finds the
    // banner already printed.
    if demo {
        print_demo(&shared.config);
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    for (service, listener) in listeners {
        let local = listener.local_addr().ok();
        tracing::info!(?service, addr = ?local, "listening");
        tasks.spawn(accept_loop(
            shared.clone(),
            service,
            listener,
            stop_rx.clone(),
        ));
    }
    tokio::spawn(reload_on_hup(tls));
    // The outbound queue runner (praisani_delivery::queue).
    let runner = match shared.config.queue_settings() {
        Ok(settings) => match Runner::new(settings, shared.office.clone()) {
            Ok(r) => Arc::new(r),
            Err(e) => {
                eprintln!("praisani: configuration error: delivery: {e}");
                return ExitCode::from(2);
            }
        },
        Err(e) => {
            eprintln!("praisani: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    tasks.spawn(runner.run(stop_rx.clone()));
    tasks.spawn(sweep(shared.clone(), stop_rx.clone()));
    if let Some(settings) = shared
        .config
        .dmarc_reports
        .settings(&shared.config.hostname)
    {
        let dns = shared
            .config
            .trust
            .dns_settings(&shared.config.delivery.nameservers);
        match build_resolver(&dns) {
            Ok(resolver) => {
                let reporter = Reporter::new(settings, resolver);
                tasks.spawn(dmarc_reports(shared.clone(), reporter, stop_rx.clone()));
            }
            Err(e) => {
                eprintln!("praisani: configuration error: dmarc_reports: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if let Some(settings) = shared.config.tls_reports.settings(&shared.config.hostname) {
        match TlsReporter::new(settings, shared.config.delivery.nameservers.clone()) {
            Ok(reporter) => {
                tasks.spawn(tls_reports(shared.clone(), reporter, stop_rx.clone()));
            }
            Err(e) => {
                eprintln!("praisani: configuration error: tls_reports: {e}");
                return ExitCode::from(2);
            }
        }
    }
    stop_signals.wait().await;
    tracing::info!("shutting down: no new connections; waiting up to 10s for open sessions");
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    if tokio::time::timeout(Duration::from_secs(10), shared.limits.drained())
        .await
        .is_err()
    {
        tracing::warn!("sessions still open after 10s; exiting (nothing unacknowledged is lost)");
    }
    ExitCode::SUCCESS
}

/// Enforces retention every `retention.sweep_interval`, first one minute
/// after start.
async fn sweep(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut wait = Duration::from_secs(60).min(shared.config.retention.sweep_interval);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        wait = shared.config.retention.sweep_interval;
        shared.refresh_expire().await;
        retention::sweep(&*shared.office.store, shared.office.settings.retention).await;
    }
}

/// Sends the DMARC aggregate reports of the days before today, every day
/// at midnight UTC plus `dmarc_reports.send_delay` (every node tries; the
/// store gives each day to one of them).
async fn dmarc_reports(shared: Arc<Shared>, reporter: Reporter, mut stop: watch::Receiver<bool>) {
    loop {
        let now = chrono::Utc::now().timestamp();
        let wait = dmarc_reports::until_next_send(now, reporter.settings().send_delay);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        let today = chrono::Utc::now()
            .timestamp()
            .div_euclid(dmarc_reports::DAY);
        match reporter.send(&shared.office, today).await {
            Ok(sent) => tracing::info!(
                reports = sent.reports,
                messages = sent.messages,
                skipped = sent.skipped.len(),
                "DMARC aggregate reports sent"
            ),
            Err(e) => tracing::error!("DMARC aggregate reports: {e}"),
        }
    }
}

/// Sends the TLS-RPT reports of the days before today, every day at
/// midnight UTC plus `tls_reports.send_delay` (every node tries; the store
/// gives each day to one of them).
async fn tls_reports(shared: Arc<Shared>, reporter: TlsReporter, mut stop: watch::Receiver<bool>) {
    loop {
        let now = chrono::Utc::now().timestamp();
        let wait = tls_report::until_next_send(now, reporter.settings().send_delay);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        let today = chrono::Utc::now().timestamp().div_euclid(tls_report::DAY);
        match reporter.send(&shared.office, today).await {
            Ok(sent) => tracing::info!(
                reports = sent.reports,
                messages = sent.messages,
                skipped = sent.skipped.len(),
                "TLS-RPT reports sent"
            ),
            Err(e) => tracing::error!("TLS-RPT reports: {e}"),
        }
    }
}

/// Counts a failed login in `praisani_auth_failures_total`.
fn count_auth_failure(service: Service, why: praisani_mailhost::login::LoginFail) {
    use praisani_mailhost::login::LoginFail;
    use praisani_metrics::labels::{AuthFailure, AuthReason};
    let reason = match why {
        LoginFail::BadCredentials => AuthReason::bad_credentials,
        LoginFail::Malformed => AuthReason::malformed,
        LoginFail::Locked => AuthReason::locked,
        LoginFail::Temporary => AuthReason::temporary,
    };
    praisani_metrics::metrics()
        .auth_failures
        .get_or_create(&AuthFailure {
            service: service.label(),
            reason,
        })
        .inc();
}

/// Counts a refused SMTP command in `praisani_messages_refused_total`;
/// the status is the reply's enhanced code (its basic code when it has
/// none), which names the reason (5.1.1 unknown user, 4.2.2 mailbox full,
/// 5.7.1 policy…).
fn count_refusal(
    service: Service,
    stage: praisani_metrics::labels::Stage,
    reply: &praisani_smtp::Reply,
) {
    let status = reply
        .enhanced
        .clone()
        .unwrap_or_else(|| reply.code.to_string());
    praisani_metrics::metrics()
        .messages_refused
        .get_or_create(&praisani_metrics::labels::Refusal {
            service: service.label(),
            stage,
            status,
        })
        .inc();
}

/// Counts a connection in `praisani_sessions` while it is open.
struct OpenSession(Service);

impl Drop for OpenSession {
    fn drop(&mut self) {
        praisani_metrics::metrics()
            .sessions
            .get_or_create(&praisani_metrics::labels::ByService {
                service: self.0.label(),
            })
            .dec();
    }
}

async fn accept_loop(
    shared: Arc<Shared>,
    service: Service,
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
) {
    // One router for all of this listener's connections.
    let admin_router = matches!(service, Service::Admin | Service::AdminPlain).then(|| {
        let api = crate::api::router(shared.clone());
        match shared.config.admin_api.web {
            true => api.merge(crate::web::router(
                shared.clone(),
                service == Service::Admin,
            )),
            false => api,
        }
    });
    loop {
        // Waiting for a slot (this service's, then the global one) before
        // accepting leaves excess clients in the kernel's backlog instead of
        // costing us memory; other services' clients are still accepted.
        let mut slot = tokio::select! {
            s = shared.limits.acquire(service.budget()) => match s {
                Some(s) => s,
                None => return, // the budgets are never closed
            },
            _ = stop.changed() => return,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        slot.admit();
        let shared = shared.clone();
        let admin_router = admin_router.clone();
        let stop = stop.clone();
        let m = praisani_metrics::metrics();
        let by = praisani_metrics::labels::ByService {
            service: service.label(),
        };
        m.connections.get_or_create(&by).inc();
        m.sessions.get_or_create(&by).inc();
        tokio::spawn(async move {
            // Dropped with the task, however the connection ends.
            let _open = OpenSession(service);
            let per_ip = shared.limits.per_ip(peer.ip());
            let mut pressure = slot.pressure();
            let mut stream = MailStream::Plain(stream);
            if service.implicit_tls() && per_ip.allowed {
                // The handshake comes before the greeting: under pressure a
                // client gets no longer for it than for greeting.
                let l = &shared.config.limits;
                let limit = match pressure.on() {
                    true => l.tls_handshake_timeout.min(l.idle_timeout_under_pressure),
                    false => l.tls_handshake_timeout,
                };
                let what = format!("{service:?} from {peer}");
                if !stream.upgrade_within(&shared, &what, limit).await {
                    return;
                }
            }
            // Boxed: this task's own state is then only what the
            // connection's service needs, not the largest of all of them.
            match service {
                Service::Smtp | Service::Submission | Service::Submissions => {
                    Box::pin(smtp::handle(
                        shared, stream, peer, per_ip, service, pressure,
                    ))
                    .await
                }
                Service::Pop3 | Service::Pop3s => {
                    Box::pin(pop3::handle(
                        shared, stream, peer, per_ip, service, pressure,
                    ))
                    .await
                }
                Service::Http | Service::Https => {
                    Box::pin(http::handle(shared, stream, peer, per_ip, service)).await
                }
                Service::Admin | Service::AdminPlain => {
                    if let Some(router) = admin_router
                        && per_ip.allowed
                    {
                        Box::pin(admin::handle(shared, stream, peer, router, stop)).await
                    }
                }
            }
            drop(slot);
        });
    }
}

/// A random secret kept in `data_dir/server-secret`, made on first start.
fn server_secret(data_dir: &std::path::Path) -> Result<[u8; 32], String> {
    let path = data_dir.join("server-secret");
    if let Ok(bytes) = std::fs::read(&path)
        && let Ok(secret) = <[u8; 32]>::try_from(bytes.as_slice())
    {
        return Ok(secret);
    }
    let secret: [u8; 32] = rand::random();
    crate::tls::write_private(&path, &secret)?;
    Ok(secret)
}

/// Re-reads the TLS certificate and key on SIGHUP; open connections keep
/// the settings they started with.
async fn reload_on_hup(tls: Arc<Tls>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            match tls.reload() {
                Ok(fp) => tracing::info!(fingerprint = %fp, "SIGHUP: TLS certificate reloaded"),
                Err(e) => {
                    tracing::error!("SIGHUP: TLS reload failed, keeping the old certificate: {e}")
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tls;
}

/// The signals that stop the server, listened for from before the first
/// listener accepts: a SIGTERM that arrives while the server starts must
/// shut it down cleanly, not kill it with the default action.
struct StopSignals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    fn listen() -> StopSignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            StopSignals {
                term: signal(SignalKind::terminate()).ok(),
                int: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    async fn wait(self) {
        #[cfg(unix)]
        {
            async fn recv(s: Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            if self.term.is_none() && self.int.is_none() {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
            tokio::select! {
                _ = recv(self.term) => {}
                _ = recv(self.int) => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Not a store failure alone: the fixed names must parse and the password
/// must hash, hence anyhow (its Display is the failure's own text).
async fn create_demo(store: &dyn Store) -> anyhow::Result<()> {
    use praisani_mailhost::admin::accounts;
    let domain = Domain::parse("example.test")?;
    match store.domain_add(&domain).await {
        Ok(()) | Err(StoreError::Duplicate(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let address = Address::parse(DEMO_ADDRESS)?;
    if store.account_get(&address).await?.is_none() {
        accounts::add(
            store,
            accounts::NewMailbox {
                address,
                password: DEMO_PASSWORD,
                apop: true,
                quota_bytes: None,
                quota_messages: None,
                lang: praisani_message::Language::En,
            },
        )
        .await?;
    }
    Ok(())
}

fn first(addrs: &[SocketAddr]) -> String {
    addrs
        .first()
        .map(|a| a.to_string())
        .unwrap_or_else(|| "(off)".into())
}

fn print_demo(config: &Config) {
    let l = &config.listen;
    println!(
        "\npraisani is running (demo). Press Ctrl-C to stop.\n\n  \
         account:   {DEMO_ADDRESS}\n  password:  {DEMO_PASSWORD}\n\n  \
         SMTP, mail from other servers:      {}\n  \
         submission, STARTTLS + AUTH:        {}\n  \
         submission, TLS + AUTH:             {}\n  \
         POP3, STLS:                         {}\n  \
         POP3, TLS:                          {}\n  \
         HTTP, mail program set-up:          {}\n  \
         HTTPS, mail program set-up:         {}\n\n  \
         data:      {} (the TLS certificate is self-signed)\n",
        first(&l.smtp),
        first(&l.submission),
        first(&l.submissions),
        first(&l.pop3),
        first(&l.pop3s),
        first(&l.http),
        first(&l.https),
        config.data_dir.display()
    );
    if let Some(a) = l.http.first() {
        println!(
            "  Thunderbird set-up document for the demo account:\n    \
             http://{a}/mail/config-v1.1.xml?emailaddress={}\n",
            DEMO_ADDRESS.replace('@', "%40")
        );
    }
}

/// Takes the data directory's instance lock (released by the kernel when
/// the process ends, kill -9 included).
pub(crate) fn instance_lock(data_dir: &std::path::Path) -> Result<std::fs::File, String> {
    praisani_store::files::create_private_dir(data_dir)
        .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
    let path = data_dir.join("server.lock");
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).truncate(false).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let file = opts
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(format!(
            "another praisani server is running on {} (one server per data directory)",
            data_dir.display()
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(format!("cannot lock {}: {e}", path.display())),
    }
}

/// The demo listens on high loopback ports: unless the configuration says
/// otherwise, its auto-configuration documents name those ports, so a real
/// mail program pointed at the demo is set up to reach it.
fn demo_autoconfig_ports(config: &mut Config) {
    let a = &mut config.autoconfig;
    let standard = a.pop3s_port == 995
        && a.pop3_port == 110
        && a.submissions_port == 465
        && a.submission_port == 587
        && a.https_port == 443;
    if !standard {
        return;
    }
    let first = |l: &[std::net::SocketAddr], dflt: u16| l.first().map(|s| s.port()).unwrap_or(dflt);
    let l = &config.listen;
    a.pop3s_port = first(&l.pop3s, 995);
    a.pop3_port = first(&l.pop3, 110);
    a.submissions_port = first(&l.submissions, 465);
    a.submission_port = first(&l.submission, 587);
    a.https_port = first(&l.https, 443);
}

/// The post office, with the trust checks of `[trust]` when they are on:
/// one checker (its resolver asking `delivery.nameservers`, and its record
/// caches) for every session.
async fn post_office(config: &Config, store: Arc<dyn Store>) -> Result<PostOffice, String> {
    let mut office = filters(
        config,
        PostOffice::new(store.clone(), config.post_office_settings()),
    )?;
    if config.srs.enabled {
        let stored = store
            .srs_secret()
            .await
            .map_err(|e| format!("cannot read the SRS secret from the store: {e}"))?;
        let domain = config
            .srs
            .srs_domain(&config.hostname)
            .map_err(|e| e.to_string())?;
        tracing::info!(domain = %domain, max_age_days = config.srs.max_age_days, "SRS addresses for forwarded mail and their bounces");
        let srs = Srs::new(config.srs.secrets(stored), config.srs.max_age_days);
        office = office.with_srs(srs, domain);
    }
    if let Some(reports) = config.dmarc_reports.settings(&config.hostname) {
        tracing::info!(from = %reports.from, "recording DMARC evaluations for aggregate reports");
        office = office.with_dmarc_reports(reports);
    }
    let t = &config.trust;
    if !t.enabled {
        tracing::warn!("[trust] enabled = false: mail from other servers is not checked");
        return Ok(office);
    }
    let dns = t.dns_settings(&config.delivery.nameservers);
    let checker = TrustChecker::with_dns(t.check_settings(), &dns)
        .map_err(|e| format!("cannot set up the trust checks: {e}"))?;
    tracing::info!(nameservers = ?dns.nameservers, "checking SPF, DKIM, DMARC and ARC on mail from other servers");
    let policies = t.policies();
    for name in policies.per_domain.keys() {
        // A typo here would quietly leave the domain on the global policy.
        if let Ok(domain) = Domain::parse(name)
            && let Ok(false) = store.is_hosted(&domain).await
        {
            tracing::warn!(
                "[trust.domains.\"{name}\"]: not a hosted domain, its policy applies to no mail"
            );
        }
    }
    Ok(office.with_trust(InboundTrust {
        checker: Arc::new(checker),
        policies,
        memory: praisani_mailhost::trust::CheckMemory::new(t.check_memory),
    }))
}

/// The post office with the filters on other servers that are configured:
/// the DNS lists of `[dnsbl]`, the greylisting of `[greylist]` and the
/// spam filter of `[spam]`.
fn filters(config: &Config, mut office: PostOffice) -> Result<PostOffice, String> {
    let d = &config.dnsbl;
    if d.enabled() {
        let dns = DnsSettings {
            nameservers: config.delivery.nameservers.clone(),
            timeout: d.timeout,
        };
        let resolver =
            build_resolver(&dns).map_err(|e| format!("cannot set up the DNS lists: {e}"))?;
        tracing::info!(blocklists = ?d.blocklists, allowlists = ?d.allowlists, check_at = ?d.check_at, "asking DNS lists about other servers");
        office = office.with_dnsbl(InboundDnsbl {
            lists: Arc::new(Dnsbl::new(d.settings(), resolver)),
            at_connect: d.check_at == crate::config::CheckAt::Connect,
        });
    }
    // Our users' sending limits ride along (validated with the config).
    let sending = config.sending.policy().map_err(|e| e.to_string())?;
    office = office.with_sending(sending);
    if let Some(rules) = config.greylist.rules() {
        tracing::info!(delay = rules.delay, "greylisting other servers");
        office = office.with_greylist(rules);
    }
    if let Some(spam) = config.spam.settings() {
        tracing::info!(rspamd = %spam.addr, on_failure = ?spam.on_failure, "filtering mail from other servers with rspamd");
        office = office.with_spam(SpamFilter::new(spam));
    }
    Ok(office)
}
