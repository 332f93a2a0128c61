//! The outbound queue runner: takes due recipients from the store, finds
//! the servers that take mail for their domains ([`crate::route`]), sends
//! with the [`crate::client`] engine, records every recipient's result
//! durably, schedules retries, and reports to the sender what was
//! delivered, delayed or bounced as the sender's NOTIFY asks.
//!
//! A recipient is only ever marked delivered after the remote server
//! accepted it, and results are recorded before the next attempt is
//! taken, so a crash repeats at most the attempt that was in flight.
//!
//! - `plan`: taken messages as jobs per destination domain, in batches
//!   of one connection each.
//! - `session`: one batch over the domain's servers, one SMTP session
//!   with one server at a time.
//! - `record`: results recorded, retries scheduled, messages finished.
//! - `notify`: delay notices and bounces (RFC 3461 NOTIFY, RFC 3464).
//! - `dkim`: signing with the sender domain's keys, read once a minute.
//! - `tls_policy`: the TLS each destination requires (none, MTA-STS; DANE
//!   later), decided before connecting, per host.
//! - `tls` and `stream`: TLS (opportunistic, or verified for next hops that
//!   must be) and the connection it runs on.
//! - `dane`: DANE (RFC 7672) for MX hosts with secure TLSA records:
//!   STARTTLS mandatory, the certificate checked against the records.
//!
//! The runner knows the store, the wake bell and the report delivery
//! through the [`PostOffice`], and everything else through
//! [`QueueSettings`]; the binary builds both from its configuration.

mod dane;
mod dkim;
mod notify;
mod plan;
mod record;
mod requiretls;
mod session;
mod stream;
mod tls;
mod tls_policy;

pub use tls::TlsSetupError;

use crate::dane::{Dane, DaneError, DaneSettings};
use crate::mta_sts::{FetchSettings, MtaSts};
use crate::route::{Route, RouteError, Router, RouterConfig, StaticRoute};
use crate::tls_report::{PolicyType, Recorder, TlsResult};
use chrono::Utc;
use praisani_mailhost::PostOffice;
use praisani_store::QueueRcptId;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tls_policy::TlsPolicy;
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsConnector;

/// The queue is looked at least this often.
const TICK: Duration = Duration::from_secs(5);
/// Longest wait for one DNS lookup, retries included.
const DNS_TIMEOUT: Duration = Duration::from_secs(20);
/// Recipients taken from the store at a time.
const TAKE: usize = 100;

/// What the queue runner works with, read once from the configuration.
#[derive(Clone, Debug)]
pub struct QueueSettings {
    /// Our host name: EHLO, the reporting MTA and `MAILER-DAEMON@` of
    /// notices, their Message-IDs.
    pub hostname: String,
    /// The data directory, whose DKIM key store signs outgoing mail.
    pub data_dir: PathBuf,
    /// Per-domain next hops that bypass MX lookup, keyed by domain.
    pub routes: HashMap<String, StaticRoute>,
    /// When set, all mail without a static route goes here (with its
    /// credentials in [`StaticRoute::auth`]).
    pub smarthost: Option<StaticRoute>,
    /// DNS servers for MX lookups; empty: the system's.
    pub nameservers: Vec<SocketAddr>,
    /// The port MX hosts are contacted on (25; tests use others).
    pub smtp_port: u16,
    /// Follow MX records to internal addresses (loopback, private,
    /// link-local; see [`crate::route::is_internal`]). Off by default.
    pub allow_internal_mx: bool,
    /// DANE (RFC 7672) for MX hosts: TLSA records, secure as the
    /// nameservers' AD bit says, make TLS mandatory and authenticated.
    pub dane: bool,
    /// CA certificates (PEM) trusted, besides the Mozilla roots, for next
    /// hops whose certificate must verify ([`StaticRoute::must_verify`]),
    /// MX hosts under an MTA-STS policy and MTA-STS policy hosts.
    pub tls_ca_file: Option<PathBuf>,
    /// Honour recipient domains' MTA-STS policies (RFC 8461).
    pub mta_sts: bool,
    /// Count TLS outcomes under policies for TLS-RPT reports (RFC 8460),
    /// within these limits; `None`: only logged.
    pub tls_reports: Option<praisani_store::tls_report::TlsLimits>,
    /// Longest time for fetching one MTA-STS policy.
    pub mta_sts_timeout: Duration,
    /// The HTTPS port of MTA-STS policy hosts (443; tests use others).
    pub mta_sts_port: u16,
    /// Simultaneous outbound connections.
    pub max_connections: usize,
    /// Simultaneous outbound connections to one destination domain.
    pub max_connections_per_domain: usize,
    /// Messages sent over one connection before it is closed.
    pub messages_per_connection: usize,
    /// How long this node holds the recipients it is delivering before
    /// another node (or its own restart) may take them; renewed while an
    /// attempt runs.
    pub lease: Duration,
    /// A recipient still undelivered this long after acceptance gets one
    /// delay notice (when NOTIFY allows).
    pub delay_notice: Duration,
    /// A message still undelivered this long after acceptance bounces.
    pub max_age: Duration,
    /// Waits after each temporary failure, in order; the last repeats.
    pub retry: Vec<Duration>,
    /// Time allowed to connect (at most 30 s), and for each reply of a
    /// remote server.
    pub timeout: Duration,
}

/// Why the queue runner could not be built.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The DNS resolver could not be set up.
    #[error("{0}")]
    Router(#[from] RouteError),
    /// The verifying TLS connector could not be built (the CA file).
    #[error("{0}")]
    Tls(#[from] TlsSetupError),
    /// DANE has no nameserver to ask.
    #[error("DANE: {0}")]
    Dane(#[from] DaneError),
}

/// The queue runner's state.
pub struct Runner {
    office: Arc<PostOffice>,
    settings: QueueSettings,
    router: Router,
    /// For MX hosts and next hops that need no verification.
    tls: TlsConnector,
    /// For next hops whose certificate must verify (`Target::verify_tls`,
    /// an enforced MTA-STS policy), and MTA-STS policy fetches.
    verified_tls: TlsConnector,
    /// The check `verified_tls` makes, on its own (MTA-STS `testing`).
    name_check: Arc<rustls::client::WebPkiServerVerifier>,
    /// MTA-STS policies, unless `delivery.mta_sts` is off.
    mta_sts: Option<MtaSts>,
    /// TLSA lookups, when `QueueSettings::dane`.
    dane: Option<Dane>,
    slots: Arc<Semaphore>,
    /// Connections per destination domain, so one slow or busy receiver
    /// neither takes every slot nor gets flooded.
    per_domain: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// Recipients taken and not yet recorded: their leases are renewed
    /// while an attempt runs, however long it takes.
    working: Mutex<HashSet<QueueRcptId>>,
    /// DKIM signers per sender domain.
    keys: dkim::KeyCache,
    /// Counts TLS-RPT results, when `QueueSettings::tls_reports`.
    tls_recorder: Option<Arc<Recorder>>,
}

fn now() -> i64 {
    Utc::now().timestamp()
}

impl Runner {
    /// A runner delivering what `office`'s store has queued.
    pub fn new(settings: QueueSettings, office: Arc<PostOffice>) -> Result<Self, QueueError> {
        let router = Router::new(RouterConfig {
            nameservers: settings.nameservers.clone(),
            static_routes: settings.routes.clone(),
            smarthost: settings.smarthost.clone(),
            timeout: DNS_TIMEOUT,
            smtp_port: settings.smtp_port,
            allow_internal_mx: settings.allow_internal_mx,
        })?;
        let verified = tls::verified(settings.tls_ca_file.as_deref())?;
        let mta_sts = settings.mta_sts.then(|| {
            MtaSts::new(
                office.store.clone(),
                verified.connector.clone(),
                FetchSettings {
                    timeout: settings.mta_sts_timeout,
                    port: settings.mta_sts_port,
                },
            )
        });
        let dane = if settings.dane {
            Some(Dane::new(&DaneSettings {
                nameservers: settings.nameservers.clone(),
                timeout: DNS_TIMEOUT,
            })?)
        } else {
            None
        };
        Ok(Runner {
            router,
            dane,
            tls: tls::opportunistic(),
            verified_tls: verified.connector,
            name_check: verified.verifier,
            mta_sts,
            slots: Arc::new(Semaphore::new(settings.max_connections)),
            per_domain: Default::default(),
            working: Default::default(),
            keys: dkim::KeyCache::new(&settings.data_dir),
            tls_recorder: settings.tls_reports.map(|l| Arc::new(Recorder::new(l))),
            settings,
            office,
        })
    }

    /// Runs until `stop` turns true: takes what is due whenever the post
    /// office's `queue_wake` rings, and at least every few seconds.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let store = &self.office.store;
        // What this node had leased before it was restarted (perhaps after
        // kill -9) is due again; other nodes' leases are theirs.
        match store.queue_release_leases().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(recipients = n, "queue: released leases of the previous run"),
            Err(e) => tracing::error!("queue: cannot release leases: {e}"),
        }
        let per_connection = self.settings.messages_per_connection;
        // Leases are renewed while an attempt runs (renew_leases), so a
        // short one only decides how soon a dead node's work moves on.
        let lease = self.settings.lease.as_secs().max(3) as i64;
        tokio::spawn(self.clone().renew_leases(lease, stop.clone()));
        let recorder = self.tls_recorder.clone().map(|r| {
            let (store, stop) = (store.clone(), stop.clone());
            tokio::spawn(async move { r.run(store, stop).await })
        });
        // The loop returns at `stop`; then the recorder writes what it
        // still holds before the runner is done.
        self.take_loop(lease, per_connection, &mut stop).await;
        if let Some(r) = recorder {
            let _ = r.await;
        }
    }

    /// Takes what is due and starts its batches, until `stop`.
    async fn take_loop(
        self: &Arc<Self>,
        lease: i64,
        per_connection: usize,
        stop: &mut watch::Receiver<bool>,
    ) {
        let store = &self.office.store;
        loop {
            let timer = praisani_metrics::metrics().store_timer("queue_take_due");
            let taken = store.queue_take_due(now(), lease, TAKE).await;
            drop(timer);
            match taken {
                Ok(entries) => {
                    {
                        let mut working = self.working.lock().unwrap_or_else(|p| p.into_inner());
                        working.extend(
                            entries
                                .iter()
                                .flat_map(|e| e.recipients.iter().map(|r| r.id)),
                        );
                    }
                    for (domain, batch) in plan::plan(entries, per_connection) {
                        let Ok(slot) = self.slots.clone().acquire_owned().await else {
                            return;
                        };
                        let me = self.clone();
                        tokio::spawn(async move {
                            me.deliver_batch(&domain, batch).await;
                            drop(slot);
                        });
                    }
                }
                Err(e) => tracing::error!("queue: cannot read due messages: {e}"),
            }
            tokio::select! {
                _ = self.office.queue_wake.notified() => {}
                _ = tokio::time::sleep(TICK) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Renews the leases of the recipients being worked on, three times
    /// per lease period, until `stop`.
    async fn renew_leases(self: Arc<Self>, lease: i64, mut stop: watch::Receiver<bool>) {
        let every = Duration::from_secs((lease / 3).max(1) as u64);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.changed() => return,
            }
            let ids: Vec<_> = {
                let working = self.working.lock().unwrap_or_else(|p| p.into_inner());
                working.iter().copied().collect()
            };
            if ids.is_empty() {
                continue;
            }
            if let Err(e) = self
                .office
                .store
                .queue_renew_leases(&ids, now() + lease)
                .await
            {
                tracing::error!("queue: cannot renew leases: {e}");
            }
        }
    }

    /// The TLS policy of the destination `route` leads to: the MTA-STS
    /// policy of the domain whose MX records gave the hosts, if it has one
    /// (and MTA-STS is on); none for static routes and the smarthost.
    async fn tls_policy(&self, route: &Route) -> TlsPolicy {
        let (Some(sts), Some(domain)) = (&self.mta_sts, &route.mx_domain) else {
            return TlsPolicy::Opportunistic;
        };
        let (found, trouble) = sts.policy(&self.router, domain, now()).await;
        if let Some(t) = trouble {
            self.tls_report(TlsResult {
                policy_type: if found.is_some() {
                    PolicyType::Sts
                } else {
                    PolicyType::NoPolicyFound
                },
                policy_domain: domain.clone(),
                policy_string: found.as_ref().map(|f| f.policy.lines()).unwrap_or_default(),
                mx_host: found
                    .as_ref()
                    .map(|f| f.policy.mx.iter().map(|p| p.as_str().to_string()).collect())
                    .unwrap_or_default(),
                sending_ip: None,
                receiving_mx: None,
                receiving_ip: None,
                failure: Some(t.result_type),
                detail: t.detail,
            });
        }
        found.map_or(TlsPolicy::Opportunistic, TlsPolicy::MtaSts)
    }

    /// The TLS-RPT hook (RFC 8460): every TLS outcome under a policy, and
    /// every failure to find one, comes here: logged, and counted for the
    /// daily reports when they are on.
    fn tls_report(&self, r: TlsResult) {
        if let Some(rec) = &self.tls_recorder {
            rec.record(&r, now());
        }
        let mx = r.receiving_mx.as_deref().unwrap_or("-");
        match r.failure {
            None => tracing::debug!(
                policy = r.policy_type.as_str(),
                domain = %r.policy_domain,
                %mx,
                "TLS under policy: success"
            ),
            Some(f) => tracing::warn!(
                policy = r.policy_type.as_str(),
                domain = %r.policy_domain,
                %mx,
                ip = ?r.receiving_ip,
                result = f.as_str(),
                "TLS under policy: {}",
                r.detail
            ),
        }
    }
}
