//! Drives one SMTP connection: socket bytes in and out of the
//! `praisani_smtp` engine, its questions answered by the post office's
//! inbound service ([`praisani_mailhost::inbound::Inbound`]).

use super::limits::{IdleLimit, IpSlot, Pressure, Waited};
use super::stream::MailStream;
use super::{Service, Shared};
use praisani_mailhost::inbound::Inbound;
use praisani_mailhost::login::{AuthStep, LoginFail, SaslLogin};
use praisani_metrics::labels::{ByService, Stage};
use praisani_smtp::{Event, Reply, Session, Verdict};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tracing::Instrument;

/// Reads from the socket in pieces of this size.
/// Reads start with a small buffer and grow to [`READ_BUF_MAX`] while a
/// client keeps filling it; an idle plain connection holds none
/// ([`MailStream::read_some`]).
const READ_BUF: usize = 2 * 1024;
/// The largest read buffer.
const READ_BUF_MAX: usize = 64 * 1024;

/// Serves one connection until QUIT, timeout, error or disconnect.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    mut stream: MailStream,
    peer: SocketAddr,
    ip: IpSlot,
    service: Service,
    pressure: Pressure,
) {
    let id = shared.session_id();
    let span = tracing::info_span!("smtp", session = %id, peer = %peer);
    async move {
        if !ip.allowed {
            let _ = stream
                .write_all(b"421 4.7.0 Too many connections from your address, try again later\r\n")
                .await;
            tracing::info!("refused: too many connections from this address");
            return;
        }
        tracing::debug!(?service, tls = stream.is_tls(), "connected");
        let trusted = shared.config.is_trusted(peer.ip());
        let mut inbound = Inbound::new(shared.office.clone(), peer.ip(), trusted, id);
        if shared.config.dnsbl.allows_client(peer.ip()) {
            inbound.dnsbl_allowlisted();
        }
        // Instead of the greeting (RFC 5321 section 3.1); the session then
        // only waits for QUIT.
        let refusal = match service {
            Service::Smtp => inbound.connect_refusal().await,
            _ => None,
        };
        let mut conn = Conn {
            inbound,
            shared,
            peer,
            service,
            sasl: None,
        };
        match conn.run(&mut stream, pressure, refusal).await {
            Ok(()) => tracing::debug!("closed"),
            Err(e) => tracing::debug!("connection ended: {e}"),
        }
        let _ = stream.shutdown().await;
    }
    .instrument(span)
    .await
}

struct Conn {
    shared: Arc<Shared>,
    peer: SocketAddr,
    service: Service,
    /// The post office's side of the dialogue.
    inbound: Inbound,
    /// The AUTH exchange in progress.
    /// (Boxed: idle connections stay small.)
    sasl: Option<Box<SaslLogin>>,
}

/// The engine settings for one connection: what this listener offers, and
/// which mechanisms may be used before TLS from this client.
fn engine_config(shared: &Shared, service: Service, peer: SocketAddr) -> praisani_smtp::Config {
    let mut c = (*shared.smtp).clone();
    let submission = matches!(service, Service::Submission | Service::Submissions);
    c.starttls = matches!(service, Service::Smtp | Service::Submission);
    if submission || shared.config.smtp.auth_on_mx {
        let all: Vec<String> = ["PLAIN", "LOGIN", "SCRAM-SHA-256"]
            .map(String::from)
            .to_vec();
        c.auth_mechanisms_tls = all.clone();
        // Without TLS only where the configuration allows it (loopback by
        // default). Not even SCRAM otherwise: its exchange hands an
        // eavesdropper a verifier to guess at offline, and the mail that
        // follows is in the clear anyway (issue 11 point 10).
        c.auth_mechanisms_plain = if shared.config.pop3.allow_plaintext.allows(peer.ip()) {
            all
        } else {
            Vec::new()
        };
    }
    c.require_auth = submission;
    // RFC 3461 DSN parameters are honoured for mail our users send out.
    c.dsn = submission;
    c
}

impl Conn {
    async fn run(
        &mut self,
        stream: &mut MailStream,
        pressure: Pressure,
        refusal: Option<Reply>,
    ) -> std::io::Result<()> {
        let own = engine_config(&self.shared, self.service, self.peer);
        let config = self.shared.smtp_engine(own);
        let refused = refusal.is_some();
        if let Some(r) = &refusal {
            super::count_refusal(self.service, Stage::connect, r);
        }
        let mut session = match refusal {
            Some(reply) => Session::refused(config, stream.is_tls(), reply),
            None => Session::with_tls(config, stream.is_tls()),
        };
        let mut out: Vec<u8> = Vec::new();
        let (mut buf, mut read_size) = (Vec::new(), READ_BUF);
        let limits = &self.shared.config.limits;
        // A client that trickles bytes never hits the idle timeout; the
        // session limit bounds how long any one connection can be held.
        let mut idle = IdleLimit {
            // A refused client gets no more time than an unproven one
            // under pressure: it can only say QUIT.
            normal: match refused {
                true => limits.smtp_timeout.min(limits.idle_timeout_under_pressure),
                false => limits.smtp_timeout,
            },
            under_pressure: limits.idle_timeout_under_pressure,
            deadline: tokio::time::Instant::now() + limits.session_max,
            pressure,
        };
        loop {
            while let Some(event) = session.poll() {
                match event {
                    Event::Send(bytes) => out.extend_from_slice(&bytes),
                    Event::CheckSender { from, params } => {
                        let v = Box::pin(self.inbound.mail_from(&from, params.size)).await;
                        if let Verdict::Reject(r) = &v {
                            super::count_refusal(self.service, Stage::mail, r);
                        }
                        session.mail_verdict(v)
                    }
                    Event::CheckRecipient { to } => {
                        let params = session.pending_rcpt_params().cloned();
                        // Boxed (as the other large steps): needed only
                        // now, not in every idle connection's state.
                        let v = Box::pin(self.inbound.rcpt_to(&to, params.as_ref())).await;
                        if let Verdict::Reject(r) = &v {
                            super::count_refusal(self.service, Stage::rcpt, r);
                        }
                        session.rcpt_verdict(v);
                    }
                    Event::MessageStart(envelope) => self.inbound.message_start(&envelope),
                    Event::MessageChunk(bytes) => {
                        Box::pin(self.inbound.message_bytes(&bytes)).await
                    }
                    Event::MessageAborted => self.inbound.message_aborted(),
                    Event::MessageEnd => match Box::pin(self.inbound.message_end()).await {
                        Ok(queue_id) => {
                            praisani_metrics::metrics()
                                .messages_accepted
                                .get_or_create(&ByService {
                                    service: self.service.label(),
                                })
                                .inc();
                            session.message_accepted(&queue_id)
                        }
                        Err(reply) => {
                            super::count_refusal(self.service, Stage::data, &reply);
                            session.message_verdict(Verdict::Reject(reply))
                        }
                    },
                    Event::StartTls => {
                        stream.send(&mut out).await?;
                        if !stream.upgrade(&self.shared, "STARTTLS").await {
                            return Ok(());
                        }
                        session.tls_established();
                    }
                    Event::Auth {
                        mechanism,
                        initial_response,
                    } => {
                        let (login, step) = Box::pin(SaslLogin::start(
                            self.shared.logins.clone(),
                            self.peer.ip(),
                            &mechanism,
                            initial_response.as_deref(),
                        ))
                        .await;
                        self.sasl = login.map(Box::new);
                        self.auth_step(&mut session, step);
                    }
                    Event::AuthResponse(line) => {
                        let step = match &mut self.sasl {
                            Some(login) => Box::pin(login.respond(&line)).await,
                            None => AuthStep::Failed(LoginFail::Malformed),
                        };
                        self.auth_step(&mut session, step);
                    }
                    Event::AuthCancelled => self.sasl = None,
                    Event::Close => {
                        stream.send(&mut out).await?;
                        return Ok(());
                    }
                }
            }
            stream.send(&mut out).await?;
            if session.is_closed() {
                return Ok(());
            }
            // Nothing is held for the wait: idle connections stay small.
            out = Vec::new();
            session.release_buffers();
            // Not greeted (MX) or not logged in (submission) yet.
            let unproven = match self.service {
                Service::Smtp => !session.greeted(),
                _ => session.authenticated().is_none(),
            };
            let n = match idle
                .wait(|| stream.read_some(&mut buf, read_size), unproven)
                .await
            {
                Waited::Ready(r) => r?,
                why => {
                    match why {
                        Waited::Pressure => tracing::info!("timeout (connections under pressure)"),
                        _ => tracing::info!("timeout"),
                    }
                    out.extend_from_slice(&session.timeout_reply());
                    let _ = stream.send(&mut out).await;
                    return Ok(());
                }
            };
            if n == 0 {
                return Ok(());
            }
            session.feed(&buf[..n]);
            if n >= read_size && read_size < READ_BUF_MAX {
                read_size *= 2;
            }
        }
    }

    fn auth_step(&mut self, session: &mut Session, step: AuthStep) {
        match step {
            AuthStep::Challenge(b64) => session.auth_challenge(&b64),
            AuthStep::Success(account) => {
                self.sasl = None;
                tracing::info!(user = %account.address, "authenticated");
                session.auth_succeeded(&account.address.to_string());
                self.inbound.authenticated(*account);
            }
            AuthStep::Failed(why) => {
                self.sasl = None;
                tracing::info!(?why, "authentication failed");
                super::count_auth_failure(self.service, why);
                session.auth_failed(match why {
                    LoginFail::BadCredentials => {
                        Reply::new(535, "5.7.8", "Authentication credentials invalid")
                    }
                    LoginFail::Malformed => Reply::new(501, "5.5.2", "Cannot decode response"),
                    LoginFail::Locked => {
                        Reply::new(454, "4.7.0", "Too many failed logins, try again later")
                    }
                    LoginFail::Temporary => {
                        Reply::new(454, "4.7.0", "Temporary authentication failure")
                    }
                });
            }
        }
    }
}
