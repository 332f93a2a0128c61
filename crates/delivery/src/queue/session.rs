//! Sending one batch for one domain: over the domain's servers in order,
//! one SMTP session with one server at a time, each message's results
//! recorded as soon as the server gave them.

use super::dane::DaneTls;
use super::plan::{Job, Outcome, Problem, envelope_of};
use super::stream::OutStream;
use super::tls_policy::{HostTls, PolicyRef, TlsPolicy};
use super::{Runner, requiretls, tls};
use crate::client::{
    Client, ClientConfig, Credentials, DotStuffer, Event, RecipientResult, StartTlsPolicy, TlsTrust,
};
use crate::route::{Route, Target, TlsMode};
use crate::tls_report::{ResultType, TlsResult};
use praisani_message::dsn::Status;
use praisani_store::{AttemptResult, QueueEntry, SenderTls};
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// Longest wait for a TCP connection, however long `timeout` is.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a session gave no per-recipient results.
pub(super) enum Fail {
    /// Try the next server (connection, TLS, 4xx before the message).
    Next(Problem),
    /// Do not try again (5xx before the message, e.g. 554 greeting).
    Permanent(Problem),
}

/// A reason to try the next server, with its status code.
fn next(class: u8, subject: u16, detail: u16, text: String) -> Fail {
    Fail::Next(Problem::new(Status::new(class, subject, detail), text))
}

impl Runner {
    /// Delivers a batch of messages for one domain over as few connections
    /// as the destination allows: the first server that answers takes them
    /// one after another; what a broken connection left over goes on to
    /// the next server.
    pub(super) async fn deliver_batch(&self, domain: &str, jobs: Vec<Job>) {
        let limit = {
            let mut map = self.per_domain.lock().unwrap_or_else(|p| p.into_inner());
            let per = self.settings.max_connections_per_domain;
            map.entry(domain.to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(per)))
                .clone()
        };
        let _slot = limit.acquire_owned().await;
        let route = match self.router.route(domain).await {
            Ok(r) => r,
            Err(e) => {
                let msg = format!("{} {domain}: {e}", e.enhanced_status());
                let permanent = e.is_permanent();
                let fallback = if permanent {
                    Status::PERMANENT
                } else {
                    Status::TEMPORARY
                };
                let status = Status::parse(e.enhanced_status()).unwrap_or(fallback);
                return self
                    .give_up(jobs, &Problem::new(status, msg), permanent)
                    .await;
            }
        };
        // What each sender asked of the TLS (RFC 8689) sends its messages
        // over hosts and sessions of their own.
        let (required, rest): (Vec<Job>, Vec<Job>) = jobs
            .into_iter()
            .partition(|j| j.entry.tls == SenderTls::Required);
        let (ignoring, jobs): (Vec<Job>, Vec<Job>) = rest
            .into_iter()
            .partition(|j| j.entry.tls == SenderTls::NotRequired);
        let policy = if jobs.is_empty() && required.is_empty() {
            TlsPolicy::Opportunistic
        } else {
            self.tls_policy(&route).await
        };
        for (wish, group) in [
            (SenderTls::Policy, jobs),
            (SenderTls::Required, required),
            (SenderTls::NotRequired, ignoring),
        ] {
            if !group.is_empty() {
                self.deliver_group(domain, &route, &policy, wish, group)
                    .await;
            }
        }
    }

    /// Delivers jobs whose senders all asked the same of the TLS: over the
    /// route's hosts in order, as [`Runner::deliver_batch`] describes. For
    /// `TLS-Required: No` the destination's MTA-STS and DANE policies are
    /// left out; for REQUIRETLS only hosts that authenticate and offer
    /// REQUIRETLS take the messages, and when none could, they fail with
    /// `5.7.30` (RFC 8689: returned as undeliverable).
    async fn deliver_group(
        &self,
        domain: &str,
        route: &Route,
        policy: &TlsPolicy,
        wish: SenderTls,
        jobs: Vec<Job>,
    ) {
        let requiretls = wish == SenderTls::Required;
        let policy = match wish {
            SenderTls::NotRequired => &TlsPolicy::Opportunistic,
            _ => policy,
        };
        // DANE applies to the hosts only when the MX records are secure.
        let dane_domain = match wish {
            SenderTls::NotRequired => false,
            _ => match self.dane_domain(domain).await {
                Ok(secure) => secure,
                Err(problem) => return self.give_up(jobs, &problem, false).await,
            },
        };
        let mut pending: VecDeque<Job> = jobs.into();
        let mut last_error = Problem::new(
            Status::new(4, 4, 1),
            format!("4.4.1 no server for {domain} could be reached"),
        );
        // REQUIRETLS: every host refused as unauthenticated or without
        // REQUIRETLS (nothing temporary) makes the failure permanent.
        let mut only_refusals = requiretls;
        for target in route.hosts.iter() {
            let dane = if dane_domain && !pending.is_empty() {
                match self.dane_target(domain, target).await {
                    Ok(d) => d,
                    Err(problem) => {
                        tracing::debug!(%domain, host = %target.host, "trying the next server: {}", problem.text);
                        last_error = problem;
                        only_refusals = false;
                        continue;
                    }
                }
            } else {
                None
            };
            // DANE, where it applies, replaces the MTA-STS policy.
            let host_tls = if dane.is_some() {
                HostTls::Opportunistic
            } else {
                match policy.for_target(target) {
                    Ok((host_tls, mismatch)) => {
                        if let Some(m) = mismatch {
                            self.report_host(&m.policy, target, None, None, Some(m.result), m.text);
                        }
                        host_tls
                    }
                    Err(refusal) => {
                        tracing::info!(%domain, host = %target.host, "{}", refusal.text);
                        self.report_host(
                            &refusal.policy,
                            target,
                            None,
                            None,
                            Some(refusal.result),
                            refusal.text.clone(),
                        );
                        last_error = Problem::new(Status::new(4, 7, 5), refusal.text);
                        only_refusals = false;
                        continue;
                    }
                }
            };
            // REQUIRETLS to a host of DNSSEC-secure MX records without
            // usable DANE: the MX is authenticated, so a certificate that
            // verifies for its name completes what RFC 8689 asks.
            let mx_secure = requiretls && dane_domain && dane.is_none();
            let host_tls = match host_tls {
                HostTls::Opportunistic | HostTls::ReportOnly(_) if mx_secure => {
                    HostTls::VerifiedName(None)
                }
                other => other,
            };
            let by = requiretls::Found {
                by_mx: route.mx_domain.is_some(),
                mx_secure,
            };
            if requiretls
                && let Err(problem) = requiretls::host_allowed(target, by, &host_tls, dane.as_ref())
            {
                tracing::info!(%domain, host = %target.host, "{}", problem.text);
                last_error = problem;
                continue;
            }
            for addr in &target.addrs {
                if pending.is_empty() {
                    return;
                }
                let mut current = None;
                let result = self
                    .session(
                        &mut pending,
                        &mut current,
                        target,
                        &host_tls,
                        *addr,
                        dane.as_ref(),
                        requiretls,
                    )
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
                        tracing::debug!(%domain, %addr, "trying the next server: {}", e.text);
                        only_refusals &= requiretls::is_refusal(&e);
                        last_error = e;
                    }
                }
            }
        }
        if only_refusals && !pending.is_empty() {
            // No server may take it: returned now, as RFC 8689 requires.
            let problem = requiretls::undeliverable(domain, &last_error);
            return self.give_up(pending, &problem, true).await;
        }
        self.give_up(pending, &last_error, false).await;
    }

    /// One SMTP session with one server, sending the batch's messages one
    /// after another until none is left or the connection ends. Each
    /// message's results are recorded as soon as the server gave them;
    /// `current` holds the message in flight. With `dane`, STARTTLS is
    /// mandatory and its handshake checks the TLSA records. With
    /// `requiretls` the server must offer REQUIRETLS over TLS, or the
    /// session ends before a message with a `5.7.30` reason.
    #[allow(clippy::too_many_arguments)]
    async fn session(
        &self,
        pending: &mut VecDeque<Job>,
        current: &mut Option<Job>,
        target: &Target,
        host_tls: &HostTls,
        addr: SocketAddr,
        dane: Option<&DaneTls>,
        requiretls: bool,
    ) -> Result<(), Fail> {
        let timeout = self.settings.timeout;
        let tcp = match tokio::time::timeout(timeout.min(CONNECT_TIMEOUT), TcpStream::connect(addr))
            .await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(next(4, 4, 1, format!("4.4.1 {addr}: {e}"))),
            Err(_) => return Err(next(4, 4, 1, format!("4.4.1 {addr}: connection timed out"))),
        };
        // Our side of the connection, for TLS-RPT's `sending-mta-ip`.
        let local = tcp.local_addr().ok().map(|a| a.ip());
        let mut config = ClientConfig::new(self.settings.hostname.clone());
        config.starttls = match dane {
            Some(_) => StartTlsPolicy::Required,
            None => host_tls.starttls(target.tls),
        };
        config.auth = target.auth.as_ref().map(|(u, p)| Credentials {
            user: u.clone(),
            password: p.clone(),
        });
        let config = Arc::new(config);
        // A next hop that must verify gets the verifying connector, so a
        // finished handshake is a verified one; the engine sends AUTH only
        // when told so.
        // Where DANE applies it decides, not MTA-STS (RFC 8461 section 2).
        let (connector, trust) = match (dane, host_tls) {
            (Some(d), _) => (&d.connector, d.trust),
            (None, HostTls::VerifiedName(_)) => (&self.verified_tls, TlsTrust::Verified),
            (None, HostTls::Opportunistic | HostTls::ReportOnly(_)) => {
                (&self.tls, TlsTrust::Unverified)
            }
        };
        let tls_failed = |e: tls::HandshakeError| match dane {
            Some(d) => {
                let (problem, result) = d.handshake_failed(&e);
                let text = problem.text.clone();
                self.report_host(&d.policy, target, Some(addr), local, Some(result), text);
                Fail::Next(problem)
            }
            None => self.handshake_failed(host_tls, target, addr, local, e),
        };
        // Under a testing policy: STARTTLS missing is reported once.
        let mut tls_up = false;
        let mut reported_plain = false;
        // Why the server may not take REQUIRETLS messages, once known.
        let mut refused: Option<Problem> = None;
        let (mut stream, mut client) = match target.tls {
            TlsMode::Implicit => {
                let tls = tls::handshake(connector, tcp, &target.host)
                    .await
                    .map_err(tls_failed)?;
                self.handshake_done(host_tls, dane, target, addr, local, &tls);
                tls_up = true;
                (
                    OutStream::Tls(Box::new(tls)),
                    Client::new_tls(config, trust),
                )
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
                            return Err(Fail::Next(Problem::new(
                                Status::TEMPORARY,
                                "TLS requested twice",
                            )));
                        };
                        let tls = tls::handshake(connector, tcp, &target.host)
                            .await
                            .map_err(tls_failed)?;
                        self.handshake_done(host_tls, dane, target, addr, local, &tls);
                        tls_up = true;
                        stream = OutStream::Tls(Box::new(tls));
                        client.tls_established(trust);
                    }
                    Event::ReadyForMessage => {
                        if let (false, false, HostTls::ReportOnly(p)) =
                            (tls_up, reported_plain, host_tls)
                        {
                            reported_plain = true;
                            let text = format!(
                                "{}: {} ({addr}) offers no STARTTLS; sent in clear text",
                                p.label(),
                                target.host
                            );
                            let failure = Some(ResultType::StarttlsNotSupported);
                            self.report_host(p, target, Some(addr), local, failure, text);
                        }
                        if requiretls && !(tls_up && client.capabilities().requiretls) {
                            refused = Some(requiretls::not_offered(&target.host, addr, tls_up));
                            client.quit();
                            continue;
                        }
                        match pending.pop_front() {
                            Some(job) => {
                                client.start_message(envelope_of(&job));
                                *current = Some(job);
                            }
                            None => client.quit(),
                        }
                    }
                    Event::SendBody => {
                        let Some(job) = current.as_ref() else {
                            return Err(Fail::Next(Problem::new(
                                Status::TEMPORARY,
                                "body asked for without a message",
                            )));
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
                        if let Some(problem) = refused.take() {
                            return Err(Fail::Next(problem));
                        }
                        // No STARTTLS where DANE makes it mandatory.
                        if let (Some(f), Some(d)) = (&failure, dane)
                            && f.stage == "STARTTLS"
                        {
                            let reply = format!("{addr}: {}", f.reply);
                            let problem = d.starttls_failed(&target.host, &reply);
                            let (text, failure) =
                                (problem.text.clone(), Some(ResultType::StarttlsNotSupported));
                            self.report_host(&d.policy, target, Some(addr), local, failure, text);
                            return Err(Fail::Next(problem));
                        }
                        return match failure {
                            None if pending.is_empty() && current.is_none() => Ok(()),
                            Some(f)
                                if f.stage == "STARTTLS"
                                    && matches!(host_tls, HostTls::VerifiedName(Some(_))) =>
                            {
                                // Required by a policy and not to be had:
                                // never plain text; try the next host.
                                let p = host_tls.policy().cloned();
                                let label = p.as_ref().map(PolicyRef::label).unwrap_or_default();
                                let text =
                                    format!("4.7.5 {label}: {addr} at STARTTLS: {}", f.reply);
                                if let Some(p) = &p {
                                    self.report_host(
                                        p,
                                        target,
                                        Some(addr),
                                        local,
                                        Some(ResultType::StarttlsNotSupported),
                                        text.clone(),
                                    );
                                }
                                Err(Fail::Next(Problem::new(Status::new(4, 7, 5), text)))
                            }
                            Some(f) => {
                                let text = format!("{addr} at {}: {}", f.stage, f.reply);
                                let said = Status::in_reply(&f.reply);
                                if f.permanent {
                                    let status = said.unwrap_or(Status::PERMANENT);
                                    Err(Fail::Permanent(Problem::new(status, text)))
                                } else {
                                    let status = said.unwrap_or(Status::TEMPORARY);
                                    Err(Fail::Next(Problem::new(status, text)))
                                }
                            }
                            None => Err(Fail::Next(Problem::new(
                                Status::TEMPORARY,
                                format!("{addr}: closed before the message"),
                            ))),
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

    /// A failed handshake as the reason to try the next server, named
    /// after the policy that required it, and reported.
    fn handshake_failed(
        &self,
        host_tls: &HostTls,
        target: &Target,
        addr: SocketAddr,
        local: Option<IpAddr>,
        e: tls::HandshakeError,
    ) -> Fail {
        let Some(p) = host_tls.policy() else {
            return next(4, 7, 5, e.to_string());
        };
        let said = e.to_string();
        let said = said.strip_prefix("4.7.5 ").unwrap_or(&said);
        let text = format!("4.7.5 {}: {said}", p.label());
        self.report_host(
            p,
            target,
            Some(addr),
            local,
            Some(e.result_type()),
            text.clone(),
        );
        next(4, 7, 5, text)
    }

    /// After a handshake under a policy: a success to report (DANE's check
    /// is the handshake's own), or under a testing policy the certificate
    /// checked as enforcing would have, its failure reported (and the
    /// session goes on).
    fn handshake_done(
        &self,
        host_tls: &HostTls,
        dane: Option<&DaneTls>,
        target: &Target,
        addr: SocketAddr,
        local: Option<IpAddr>,
        stream: &tokio_rustls::client::TlsStream<TcpStream>,
    ) {
        if let Some(d) = dane {
            // The DANE check is the handshake's own: it passed.
            let text = "DANE verified".to_string();
            return self.report_host(&d.policy, target, Some(addr), local, None, text);
        }
        match host_tls {
            HostTls::Opportunistic | HostTls::VerifiedName(None) => {}
            HostTls::VerifiedName(Some(p)) => {
                self.report_host(p, target, Some(addr), local, None, "verified".into())
            }
            HostTls::ReportOnly(p) => match tls::check_name(&self.name_check, stream, &target.host)
            {
                Ok(()) => self.report_host(p, target, Some(addr), local, None, "verified".into()),
                Err(e) => {
                    let text = format!(
                        "{}: certificate of {} ({addr}): {e}; sent all the same",
                        p.label(),
                        target.host
                    );
                    let result = ResultType::of_certificate(&e);
                    self.report_host(p, target, Some(addr), local, Some(result), text);
                }
            },
        }
    }

    /// One session outcome under `policy` to the TLS-RPT hook.
    fn report_host(
        &self,
        policy: &PolicyRef,
        target: &Target,
        addr: Option<SocketAddr>,
        local: Option<IpAddr>,
        failure: Option<ResultType>,
        detail: String,
    ) {
        self.tls_report(TlsResult {
            policy_type: policy.kind,
            policy_domain: policy.domain.clone(),
            policy_string: policy.strings.clone(),
            mx_host: policy.mx_hosts.clone(),
            sending_ip: local,
            receiving_mx: Some(target.host.clone()),
            receiving_ip: addr.map(|a| a.ip()),
            failure,
            detail,
        });
    }

    /// A server's answers for one message, as queue results.
    fn outcome(&self, job: &Job, results: Vec<RecipientResult>, host: &str) -> Vec<Outcome> {
        let mta = Some(host.to_string());
        job.rcpts
            .iter()
            .zip(results)
            .map(|(r, res)| {
                let (res, status) = match res {
                    RecipientResult::Delivered { .. } => {
                        (AttemptResult::Delivered, Status::DELIVERED)
                    }
                    RecipientResult::PermFailed { reply } => (
                        AttemptResult::Failed {
                            error: format!("{host} said: {reply}"),
                        },
                        Status::in_reply(&reply).unwrap_or(Status::PERMANENT),
                    ),
                    RecipientResult::TempFailed { reply } => {
                        let status = Status::in_reply(&reply).unwrap_or(Status::TEMPORARY);
                        let problem = Problem::new(status, format!("{host} said: {reply}"));
                        self.retry_or_fail(&job.entry, r, problem)
                    }
                };
                (r.clone(), res, mta.clone(), status)
            })
            .collect()
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
            .office
            .store
            .open_queued(entry.id)
            .await
            .map_err(|e| next(4, 3, 0, format!("4.3.0 reading the queued message: {e}")))?;
        while let Some(chunk) = body
            .next_chunk()
            .await
            .map_err(|e| next(4, 3, 0, format!("4.3.0 reading the queued message: {e}")))?
        {
            stuffer.encode(&chunk, &mut out);
            write(stream, &out).await?;
            out.clear();
        }
        stuffer.finish(&mut out);
        write(stream, &out).await
    }
}

async fn write(stream: &mut OutStream, bytes: &[u8]) -> Result<(), Fail> {
    stream
        .write_all(bytes)
        .await
        .map_err(|e| next(4, 4, 2, format!("4.4.2 write failed: {e}")))?;
    stream
        .flush()
        .await
        .map_err(|e| next(4, 4, 2, format!("4.4.2 write failed: {e}")))
}
