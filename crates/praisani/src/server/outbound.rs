//! The outbound queue runner: takes due recipients from the store, finds
//! the servers that take mail for their domains, sends with the
//! `praisani_delivery` client engine, records every recipient's result
//! durably, schedules retries, and bounces what cannot be delivered.
//!
//! A recipient is only ever marked delivered after the remote server
//! accepted it, and results are recorded before the next attempt is
//! taken, so a crash repeats at most the attempt that was in flight.

use super::Shared;
use super::stream::OutStream;
use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use praisani_delivery::client::{
    Client, ClientConfig, Credentials, DotStuffer, Envelope, Event, Recipient, RecipientResult,
};
use praisani_delivery::dkim::{KeyStore, Signer};
use praisani_delivery::route::{RouteError, Router, RouterConfig, StaticRoute, Target, TlsMode};
use praisani_mailhost::reports::{self, MAX_ATTACH};
use praisani_message::dsn::{self, Action, DsnRequest, RecipientStatus, Return};
use praisani_store::{AttemptResult, QueueEntry, QueuedRcpt};
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsConnector;

/// The queue is looked at least this often.
const TICK: Duration = Duration::from_secs(5);
/// How long DKIM keys read from the key store are reused.
const KEY_CACHE: Duration = Duration::from_secs(60);
/// Messages larger than this are sent unsigned (signing reads the whole
/// message into memory).
const MAX_SIGNED: u64 = 32 * 1024 * 1024;

/// The queue runner's state.
pub(crate) struct Runner {
    shared: Arc<Shared>,
    router: Router,
    tls: TlsConnector,
    slots: Arc<Semaphore>,
    /// Connections per destination domain, so one slow or busy receiver
    /// neither takes every slot nor gets flooded.
    per_domain: std::sync::Mutex<std::collections::HashMap<String, Arc<Semaphore>>>,
    /// Recipients taken and not yet recorded: their leases are renewed
    /// while an attempt runs, however long it takes.
    working: std::sync::Mutex<std::collections::HashSet<praisani_store::QueueRcptId>>,
    /// DKIM signers per sender domain, with when they were read.
    dkim_keys:
        std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, Vec<Signer>)>>,
}

fn now() -> i64 {
    Utc::now().timestamp()
}

impl Runner {
    /// Builds the runner from `[delivery]`.
    pub(crate) fn new(shared: Arc<Shared>) -> Result<Self, String> {
        let d = &shared.config.delivery;
        let mut routes = std::collections::HashMap::new();
        for (domain, target) in &d.routes {
            let r = StaticRoute::next_hop(target, None)
                .map_err(|e| format!("delivery.routes.{domain}: {e}"))?;
            routes.insert(domain.clone(), r);
        }
        let smarthost = match &d.smarthost {
            Some(s) => Some(
                StaticRoute::next_hop(
                    s,
                    d.smarthost_user.clone().zip(d.smarthost_password.clone()),
                )
                .map_err(|e| format!("delivery.smarthost: {e}"))?,
            ),
            None => None,
        };
        let router = Router::new(RouterConfig {
            nameservers: d.nameservers.clone(),
            static_routes: routes,
            smarthost,
            timeout: Duration::from_secs(20),
            smtp_port: d.smtp_port,
        })
        .map_err(|e| format!("delivery: {e}"))?;
        Ok(Runner {
            router,
            tls: opportunistic_tls(),
            slots: Arc::new(Semaphore::new(d.max_connections)),
            per_domain: Default::default(),
            working: Default::default(),
            dkim_keys: Default::default(),
            shared,
        })
    }

    /// Runs until `stop` turns true.
    pub(crate) async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        // What this node had leased before it was restarted (perhaps after
        // kill -9) is due again; other nodes' leases are theirs.
        match self.shared.store.queue_release_leases().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(recipients = n, "queue: released leases of the previous run"),
            Err(e) => tracing::error!("queue: cannot release leases: {e}"),
        }
        let per_connection = self.shared.config.delivery.messages_per_connection;
        // Leases are renewed while an attempt runs (renew_leases), so a
        // short one only decides how soon a dead node's work moves on.
        let lease = self.shared.config.delivery.lease.as_secs().max(3) as i64;
        tokio::spawn(self.clone().renew_leases(lease, stop.clone()));
        loop {
            match self.shared.store.queue_take_due(now(), lease, 100).await {
                Ok(entries) => {
                    {
                        let mut working = self.working.lock().unwrap_or_else(|p| p.into_inner());
                        working.extend(
                            entries
                                .iter()
                                .flat_map(|e| e.recipients.iter().map(|r| r.id)),
                        );
                    }
                    for (domain, batch) in plan(entries, per_connection) {
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
                _ = self.shared.office.queue_wake.notified() => {}
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
                .shared
                .store
                .queue_renew_leases(&ids, now() + lease)
                .await
            {
                tracing::error!("queue: cannot renew leases: {e}");
            }
        }
    }

    /// Records the results of one job at once (a crash after a remote
    /// server said 250 repeats as little as possible); when it was the
    /// message's last job, finishes the message.
    async fn job_done(&self, job: Job, outcome: Vec<Outcome>) {
        let records: Vec<_> = outcome
            .iter()
            .map(|(r, res, _)| (r.id, res.clone()))
            .collect();
        let recorded = self.shared.store.queue_record(&records).await;
        {
            // Recorded, or left for the lease to lapse: no longer renewed.
            let mut working = self.working.lock().unwrap_or_else(|p| p.into_inner());
            for (id, _) in &records {
                working.remove(id);
            }
        }
        if let Err(e) = recorded {
            // The lease lapses and the recipients are tried again.
            tracing::error!(queue = job.entry.id, "cannot record delivery results: {e}");
            return;
        }
        let finished = {
            let mut results = job
                .progress
                .results
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            results.extend(outcome);
            if job.progress.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                Some(std::mem::take(&mut *results))
            } else {
                None
            }
        };
        if let Some(results) = finished {
            self.finish(&job.entry, results).await;
        }
    }

    /// After every destination of a message was tried: logs, notifies the
    /// sender as NOTIFY asks, and drops the message once nothing is pending.
    async fn finish(&self, entry: &QueueEntry, results: Vec<Outcome>) {
        for (r, res, mta) in &results {
            match res {
                AttemptResult::Delivered => {
                    tracing::info!(queue = entry.id, to = %r.rcpt.address, via = ?mta, "delivered")
                }
                AttemptResult::Retry { error, .. } => {
                    tracing::info!(queue = entry.id, to = %r.rcpt.address, "deferred: {error}")
                }
                AttemptResult::Failed { error } => {
                    tracing::info!(queue = entry.id, to = %r.rcpt.address, "failed: {error}")
                }
            }
        }
        let delay_after = self.shared.config.delivery.delay_notice.as_secs() as i64;
        let mut notices = Vec::new();
        let mut delayed = Vec::new();
        for (r, res, mta) in &results {
            let notify = r.rcpt.notify.as_deref();
            let notice = |action, status: String, diagnostic: Option<String>| Notice {
                rcpt: r.clone(),
                action,
                status,
                diagnostic,
                mta: mta.clone(),
            };
            match res {
                AttemptResult::Failed { error } if wants(notify, "FAILURE") => {
                    notices.push(notice(
                        Action::Failed,
                        status_of(error),
                        Some(error.clone()),
                    ));
                }
                AttemptResult::Delivered if wants(notify, "SUCCESS") => {
                    notices.push(notice(Action::Delivered, "2.0.0".into(), None));
                }
                AttemptResult::Retry { error, .. }
                    if !r.delay_notified
                        && now() - entry.created >= delay_after
                        && wants(notify, "DELAY") =>
                {
                    let status = status_of(error).replacen('5', "4", 1);
                    notices.push(notice(Action::Delayed, status, Some(error.clone())));
                    delayed.push(r.id);
                }
                _ => {}
            }
        }
        self.notify(entry, &notices).await;
        if !delayed.is_empty()
            && let Err(e) = self.shared.store.queue_mark_delay_notified(&delayed).await
        {
            tracing::error!(queue = entry.id, "cannot record the delay notice: {e}");
        }
        match self.shared.store.queue_get(entry.id).await {
            Ok(Some(e))
                if e.recipients
                    .iter()
                    .all(|r| r.state != praisani_store::RcptState::Pending) =>
            {
                if let Err(e) = self.shared.store.queue_delete(entry.id).await {
                    tracing::error!(queue = entry.id, "cannot remove finished message: {e}");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::error!(queue = entry.id, "queue lookup failed: {e}"),
        }
    }

    /// What a temporary failure means for one recipient: retry later, or
    /// give up when the message is too old.
    fn retry_or_fail(&self, entry: &QueueEntry, r: &QueuedRcpt, error: String) -> AttemptResult {
        let d = &self.shared.config.delivery;
        let age = now() - entry.created;
        if age >= d.max_age.as_secs() as i64 {
            return AttemptResult::Failed {
                error: format!("gave up after {} days; last error: {error}", age / 86400),
            };
        }
        let i = (r.attempts as usize).min(d.retry.len().saturating_sub(1));
        let wait = d.retry.get(i).copied().unwrap_or(Duration::from_secs(3600));
        AttemptResult::Retry {
            next_attempt: now() + wait.as_secs() as i64,
            error,
        }
    }

    /// Every job of the batch gets this temporary (retry) or permanent error.
    async fn give_up(&self, jobs: impl IntoIterator<Item = Job>, error: &str, permanent: bool) {
        for job in jobs {
            let outcome = job
                .rcpts
                .iter()
                .map(|r| {
                    let res = if permanent {
                        AttemptResult::Failed {
                            error: error.to_string(),
                        }
                    } else {
                        self.retry_or_fail(&job.entry, r, error.to_string())
                    };
                    (r.clone(), res, None)
                })
                .collect();
            self.job_done(job, outcome).await;
        }
    }

    /// Delivers a batch of messages for one domain over as few connections
    /// as the destination allows: the first server that answers takes them
    /// one after another; what a broken connection left over goes on to
    /// the next server.
    async fn deliver_batch(&self, domain: &str, jobs: Vec<Job>) {
        let limit = {
            let mut map = self.per_domain.lock().unwrap_or_else(|p| p.into_inner());
            let per = self.shared.config.delivery.max_connections_per_domain;
            map.entry(domain.to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(per)))
                .clone()
        };
        let _slot = limit.acquire_owned().await;
        let route = match self.router.route(domain).await {
            Ok(r) => r,
            Err(e) => {
                let msg = format!("{} {domain}: {e}", e.enhanced_status());
                let permanent = !matches!(e, RouteError::Temporary(_));
                return self.give_up(jobs, &msg, permanent).await;
            }
        };
        let mut pending: VecDeque<Job> = jobs.into();
        let mut last_error = format!("4.4.1 no server for {domain} could be reached");
        for target in route.hosts.iter() {
            for addr in &target.addrs {
                if pending.is_empty() {
                    return;
                }
                let mut current = None;
                let result = self
                    .session(&mut pending, &mut current, target, *addr)
                    .await;
                // A message in flight when the connection ended has no
                // result yet: it goes first to the next server.
                if let Some(job) = current {
                    pending.push_front(job);
                }
                match result {
                    Ok(()) => {}
                    Err(Fail::Permanent(e)) => return self.give_up(pending, &e, true).await,
                    Err(Fail::Next(e)) => {
                        tracing::debug!(%domain, %addr, "trying the next server: {e}");
                        last_error = e;
                    }
                }
            }
        }
        self.give_up(pending, &last_error, false).await;
    }

    /// One SMTP session with one server, sending the batch's messages one
    /// after another until none is left or the connection ends. Each
    /// message's results are recorded as soon as the server gave them;
    /// `current` holds the message in flight.
    async fn session(
        &self,
        pending: &mut VecDeque<Job>,
        current: &mut Option<Job>,
        target: &Target,
        addr: SocketAddr,
    ) -> Result<(), Fail> {
        let timeout = self.shared.config.delivery.timeout;
        let tcp = match tokio::time::timeout(
            timeout.min(Duration::from_secs(30)),
            TcpStream::connect(addr),
        )
        .await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(Fail::Next(format!("4.4.1 {addr}: {e}"))),
            Err(_) => return Err(Fail::Next(format!("4.4.1 {addr}: connection timed out"))),
        };
        let mut config = ClientConfig::new(self.shared.config.hostname.clone());
        config.starttls = target.tls.starttls_policy();
        config.auth = target.auth.as_ref().map(|(u, p)| Credentials {
            user: u.clone(),
            password: p.clone(),
        });
        let config = Arc::new(config);
        let (mut stream, mut client) = match target.tls {
            TlsMode::Implicit => {
                let tls = self
                    .handshake(tcp, &target.host)
                    .await
                    .map_err(Fail::Next)?;
                (OutStream::Tls(Box::new(tls)), Client::new_tls(config))
            }
            TlsMode::Starttls => (OutStream::Plain(tcp), Client::new(config)),
        };
        let mut buf = vec![0u8; 8192];
        loop {
            while let Some(ev) = client.poll() {
                match ev {
                    Event::Send(bytes) => write(&mut stream, &bytes).await?,
                    Event::StartTls => {
                        let Some(tcp) = stream.take_plain() else {
                            return Err(Fail::Next("TLS requested twice".into()));
                        };
                        let tls = self
                            .handshake(tcp, &target.host)
                            .await
                            .map_err(Fail::Next)?;
                        stream = OutStream::Tls(Box::new(tls));
                        client.tls_established();
                    }
                    Event::ReadyForMessage => match pending.pop_front() {
                        Some(job) => {
                            client.start_message(envelope_of(&job));
                            *current = Some(job);
                        }
                        None => client.quit(),
                    },
                    Event::SendBody => {
                        let Some(job) = current.as_ref() else {
                            return Err(Fail::Next("body asked for without a message".into()));
                        };
                        self.send_body(&mut stream, &job.entry).await?;
                        client.body_sent();
                    }
                    Event::MessageDone(done) => {
                        if let Some(job) = current.take() {
                            let outcome = self.outcome(&job, done.recipients, &target.host);
                            self.job_done(job, outcome).await;
                        }
                    }
                    Event::Closed(failure) => {
                        return match failure {
                            None if pending.is_empty() && current.is_none() => Ok(()),
                            Some(f) if f.permanent => Err(Fail::Permanent(format!(
                                "{addr} at {}: {}",
                                f.stage, f.reply
                            ))),
                            Some(f) => {
                                Err(Fail::Next(format!("{addr} at {}: {}", f.stage, f.reply)))
                            }
                            None => Err(Fail::Next(format!("{addr}: closed before the message"))),
                        };
                    }
                }
            }
            let n = match tokio::time::timeout(timeout, stream.read(&mut buf)).await {
                Ok(Ok(n)) => n,
                Ok(Err(_)) | Err(_) => 0,
            };
            if n == 0 {
                client.connection_lost();
            } else {
                client.feed(&buf[..n]);
            }
        }
    }

    /// A server's answers for one message, as queue results.
    fn outcome(&self, job: &Job, results: Vec<RecipientResult>, host: &str) -> Vec<Outcome> {
        let mta = Some(host.to_string());
        job.rcpts
            .iter()
            .zip(results)
            .map(|(r, res)| {
                let res = match res {
                    RecipientResult::Delivered { .. } => AttemptResult::Delivered,
                    RecipientResult::PermFailed { reply } => AttemptResult::Failed {
                        error: format!("{host} said: {reply}"),
                    },
                    RecipientResult::TempFailed { reply } => {
                        self.retry_or_fail(&job.entry, r, format!("{host} said: {reply}"))
                    }
                };
                (r.clone(), res, mta.clone())
            })
            .collect()
    }

    /// DKIM-Signature headers for a message from one of our domains: one
    /// per key type the sender's domain has (RFC 8463 recommends RSA and
    /// Ed25519 side by side), with the message they were computed over, so
    /// it is not read twice. `None` when the domain has no key.
    async fn dkim_sign(&self, entry: &QueueEntry) -> Option<(String, Vec<u8>)> {
        let (_, domain) = entry.sender.rsplit_once('@')?;
        let signers = self.signers(domain, entry.id);
        if signers.is_empty() {
            return None;
        }
        if entry.size > MAX_SIGNED {
            tracing::warn!(
                queue = entry.id,
                size = entry.size,
                "too large to DKIM-sign"
            );
            return None;
        }
        let message = match self.shared.store.open_queued(entry.id).await {
            Ok(b) => match b.read_all().await {
                Ok(m) => m,
                Err(e) => {
                    tracing::error!(queue = entry.id, "reading for DKIM: {e}");
                    return None;
                }
            },
            Err(e) => {
                tracing::error!(queue = entry.id, "reading for DKIM: {e}");
                return None;
            }
        };
        let mut out = String::new();
        for s in signers {
            match s.sign(&message, now()) {
                Ok(h) => out.push_str(&h),
                Err(e) => {
                    tracing::error!(queue = entry.id, selector = %s.selector, "DKIM signing failed: {e}")
                }
            }
        }
        Some((out, message))
    }

    /// The domain's signing keys, read from the key store at most once a
    /// minute (so a new `dkim generate` takes effect within a minute)
    /// rather than for every message.
    fn signers(&self, domain: &str, queue: i64) -> Vec<Signer> {
        let now = std::time::Instant::now();
        let mut cache = self.dkim_keys.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, signers)) = cache.get(domain)
            && now.duration_since(*at) < KEY_CACHE
        {
            return signers.clone();
        }
        let signers = match KeyStore::new(&self.shared.config.data_dir).signers_for(domain) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(queue, "DKIM keys of {domain}: {e}");
                Vec::new()
            }
        };
        cache.insert(domain.to_string(), (now, signers.clone()));
        signers
    }

    async fn send_body(&self, stream: &mut OutStream, entry: &QueueEntry) -> Result<(), Fail> {
        let mut stuffer = DotStuffer::new();
        let mut out = Vec::new();
        if let Some((signature, message)) = self.dkim_sign(entry).await {
            stuffer.encode(signature.as_bytes(), &mut out);
            for chunk in message.chunks(64 * 1024) {
                stuffer.encode(chunk, &mut out);
                write(stream, &out).await?;
                out.clear();
            }
            stuffer.finish(&mut out);
            return write(stream, &out).await;
        }
        let mut body = self
            .shared
            .store
            .open_queued(entry.id)
            .await
            .map_err(|e| Fail::Next(format!("4.3.0 reading the queued message: {e}")))?;
        while let Some(chunk) = body
            .next_chunk()
            .await
            .map_err(|e| Fail::Next(format!("4.3.0 reading the queued message: {e}")))?
        {
            stuffer.encode(&chunk, &mut out);
            write(stream, &out).await?;
            out.clear();
        }
        stuffer.finish(&mut out);
        write(stream, &out).await
    }

    async fn handshake(
        &self,
        tcp: TcpStream,
        host: &str,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
        let name = rustls::pki_types::ServerName::try_from(host.to_string())
            .map_err(|e| format!("4.7.5 {host}: {e}"))?;
        let timeout = Duration::from_secs(30);
        match tokio::time::timeout(timeout, self.tls.connect(name, tcp)).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(format!("4.7.5 TLS with {host} failed: {e}")),
            Err(_) => Err(format!("4.7.5 TLS with {host} timed out")),
        }
    }

    /// Sends a delivery status notification for `failed` to the sender:
    /// never to the null sender, never for a message that is itself
    /// automatic (RFC 3834), so bounces cannot loop.
    async fn notify(&self, entry: &QueueEntry, notices: &[Notice]) {
        if entry.sender.is_empty() || notices.is_empty() {
            return;
        }
        let store = &*self.shared.store;
        let body = store.open_queued(entry.id).await;
        let original = match body {
            Ok(b) => reports::read_prefix(b, MAX_ATTACH + 1).await,
            Err(e) => Err(e),
        };
        let original = match original {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(
                    queue = entry.id,
                    "cannot read the message to bounce it: {e}"
                );
                return;
            }
        };
        if dsn::is_automatic(&original) {
            tracing::info!(queue = entry.id, "no bounce for an automatic message");
            return;
        }
        let last = Utc::now().fixed_offset();
        let retry_until = Utc
            .timestamp_opt(
                entry.created + self.shared.config.delivery.max_age.as_secs() as i64,
                0,
            )
            .single()
            .map(|t| t.fixed_offset());
        let statuses: Vec<RecipientStatus> = notices
            .iter()
            .map(|n| {
                let mut s = RecipientStatus::new(&n.rcpt.rcpt.address, n.action, &n.status);
                s.original_recipient = n.rcpt.rcpt.orcpt.clone();
                s.remote_mta = n.mta.as_ref().map(|m| format!("dns;{m}"));
                s.diagnostic = n.diagnostic.clone();
                s.last_attempt = Some(last);
                if n.action == Action::Delayed {
                    s.will_retry_until = retry_until;
                }
                s
            })
            .collect();
        let hostname = &self.shared.config.hostname;
        let message_id = format!("dsn.{}.{}@{hostname}", entry.id, now());
        let arrival: DateTime<FixedOffset> = Utc
            .timestamp_opt(entry.created, 0)
            .single()
            .unwrap_or_else(Utc::now)
            .fixed_offset();
        let ret = if entry
            .ret
            .as_deref()
            .is_some_and(|r| r.eq_ignore_ascii_case("HDRS"))
        {
            Return::Headers
        } else {
            Return::Full
        };
        let from = format!("MAILER-DAEMON@{hostname}");
        let report = dsn::build(&DsnRequest {
            reporting_mta: hostname,
            dsn_from: &from,
            to: &entry.sender,
            envelope_id: entry.envid.as_deref(),
            arrival,
            recipients: &statuses,
            original: &original,
            ret,
            smtputf8: entry.smtputf8,
            language: reports::language_of(&self.shared.office, &entry.sender).await,
            message_id: &message_id,
            max_attach: MAX_ATTACH,
        });
        let report = match report {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(queue = entry.id, "cannot build the bounce: {e}");
                return;
            }
        };
        if let Err(e) =
            reports::deliver_report(&self.shared.office, &entry.sender, entry.smtputf8, &report)
                .await
        {
            tracing::error!(queue = entry.id, "cannot send the bounce: {e}");
        } else {
            tracing::info!(queue = entry.id, to = %entry.sender, "bounce sent");
        }
    }
}

/// One recipient's result, with the server that gave it.
type Outcome = (QueuedRcpt, AttemptResult, Option<String>);

/// One destination domain's share of one queued message.
struct Job {
    entry: Arc<QueueEntry>,
    rcpts: Vec<QueuedRcpt>,
    progress: Arc<Progress>,
}

/// A message's results, gathered until its last job is done.
struct Progress {
    remaining: AtomicUsize,
    results: std::sync::Mutex<Vec<Outcome>>,
}

/// Splits taken messages into jobs per destination domain, and those into
/// batches of at most `per_connection` messages, each batch for one
/// connection.
fn plan(entries: Vec<QueueEntry>, per_connection: usize) -> Vec<(String, Vec<Job>)> {
    let mut by_domain: BTreeMap<String, Vec<Job>> = BTreeMap::new();
    for entry in entries {
        let mut rcpts_by_domain: BTreeMap<String, Vec<QueuedRcpt>> = BTreeMap::new();
        for r in &entry.recipients {
            rcpts_by_domain
                .entry(r.rcpt.domain.clone())
                .or_default()
                .push(r.clone());
        }
        let progress = Arc::new(Progress {
            remaining: AtomicUsize::new(rcpts_by_domain.len()),
            results: Default::default(),
        });
        let entry = Arc::new(entry);
        for (domain, rcpts) in rcpts_by_domain {
            by_domain.entry(domain).or_default().push(Job {
                entry: entry.clone(),
                rcpts,
                progress: progress.clone(),
            });
        }
    }
    let mut batches = Vec::new();
    for (domain, jobs) in by_domain {
        let mut batch = Vec::new();
        for job in jobs {
            batch.push(job);
            if batch.len() == per_connection.max(1) {
                batches.push((domain.clone(), std::mem::take(&mut batch)));
            }
        }
        if !batch.is_empty() {
            batches.push((domain, batch));
        }
    }
    batches
}

/// The envelope of one job: its message's sender and parameters, the
/// job's recipients.
fn envelope_of(job: &Job) -> Envelope {
    let entry = &job.entry;
    Envelope {
        from: entry.sender.clone(),
        recipients: job
            .rcpts
            .iter()
            .map(|r| Recipient {
                address: r.rcpt.address.clone(),
                notify: r.rcpt.notify.clone(),
                orcpt: r.rcpt.orcpt.clone(),
            })
            .collect(),
        size: Some(entry.size),
        eight_bit: entry.eight_bit,
        smtputf8: entry.smtputf8,
        ret: entry.ret.clone(),
        envid: entry.envid.clone(),
    }
}

/// One recipient's line in a delivery status notification.
struct Notice {
    rcpt: QueuedRcpt,
    action: Action,
    status: String,
    diagnostic: Option<String>,
    mta: Option<String>,
}

/// RFC 3461 NOTIFY: whether the sender asked to hear about `what`
/// (SUCCESS, FAILURE, DELAY). Without NOTIFY, failures and delays are
/// reported (the RFC leaves the default to the server; this is the
/// common choice).
fn wants(notify: Option<&str>, what: &str) -> bool {
    match notify {
        None => what != "SUCCESS",
        Some(n) => n.split(',').any(|w| w.trim().eq_ignore_ascii_case(what)),
    }
}

/// The enhanced status code at the start of an error text, else 5.0.0.
fn status_of(error: &str) -> String {
    error
        .split(|c: char| c.is_whitespace())
        .find(|w| {
            let parts: Vec<_> = w.split('.').collect();
            parts.len() == 3
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
                && (w.starts_with('5') || w.starts_with('4'))
        })
        // A temporary code that ended in a bounce (the message grew too
        // old) is reported as the permanent failure it became.
        .map(|w| match w.strip_prefix('4') {
            Some(rest) => format!("5{rest}"),
            None => w.to_string(),
        })
        .unwrap_or_else(|| "5.0.0".into())
}

/// Why a session gave no per-recipient results.
enum Fail {
    /// Try the next server (connection, TLS, 4xx before the message).
    Next(String),
    /// Do not try again (5xx before the message, e.g. 554 greeting).
    Permanent(String),
}

async fn write(stream: &mut OutStream, bytes: &[u8]) -> Result<(), Fail> {
    stream
        .write_all(bytes)
        .await
        .map_err(|e| Fail::Next(format!("4.4.2 write failed: {e}")))?;
    stream
        .flush()
        .await
        .map_err(|e| Fail::Next(format!("4.4.2 write failed: {e}")))
}

/// TLS for outbound SMTP is opportunistic (RFC 3207 section 4.1: MX
/// servers are rarely verifiable by name); it protects against passive
/// eavesdropping. MTA-STS and DANE, which make it verifiable, come later.
fn opportunistic_tls() -> TlsConnector {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map(|b| {
            b.dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
                .with_no_client_auth()
        });
    match config {
        Ok(c) => TlsConnector::from(Arc::new(c)),
        // The defaults are always valid for the provider; keep going
        // without TLS verification options rather than abort.
        Err(_) => TlsConnector::from(Arc::new(
            rustls::ClientConfig::builder()
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCert(Arc::new(
                    rustls::crypto::aws_lc_rs::default_provider(),
                ))))
                .with_no_client_auth(),
        )),
    }
}

/// Accepts any certificate, but still checks the handshake signatures.
#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
