//! Drives one POP3 connection: socket bytes in and out of the
//! `praisani_pop3` engine, logins checked, and the maildrop
//! ([`praisani_mailhost::Maildrop`]) opened, read and updated for it.

use super::limits::{IdleLimit, IpSlot, Pressure, Waited};
use super::stream::MailStream;
use super::{Service, Shared};
use praisani_mailhost::Maildrop;
use praisani_mailhost::login::{self, AuthStep, LoginFail, SaslLogin};
use praisani_mailhost::maildrop::{OpenError, ReadError, UpdateError};
use praisani_pop3::{AuthOutcome, Credential, Encoder, Event, RetrieveFailure, Session};
use praisani_store::Account;
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
const READ_BUF_MAX: usize = 16 * 1024;
/// Output is written out once this much is buffered.
const WRITE_HIGH: usize = 256 * 1024;

/// Serves one connection until QUIT, autologout, error or disconnect.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    mut stream: MailStream,
    peer: SocketAddr,
    ip: IpSlot,
    service: Service,
    pressure: Pressure,
) {
    let id = shared.session_id();
    let span = tracing::info_span!("pop3", session = %id, peer = %peer);
    async move {
        if !ip.allowed {
            let _ = stream
                .write_all(b"-ERR [SYS/TEMP] Too many connections from your address\r\n")
                .await;
            tracing::info!("refused: too many connections from this address");
            return;
        }
        let timestamp = format!("<{}.{}@{}>", std::process::id(), id, shared.config.hostname);
        tracing::debug!(?service, tls = stream.is_tls(), "connected");
        let mut conn = Conn {
            shared,
            peer,
            service,
            maildrop: None,
            sasl: None,
        };
        match conn.run(&mut stream, timestamp, pressure).await {
            Ok(()) => tracing::debug!("closed"),
            Err(e) => tracing::debug!("connection ended: {e}"),
        }
        if let Some(m) = &mut conn.maildrop {
            m.finish().await;
        }
        let _ = stream.shutdown().await;
        // Dropping the lock here, whatever happened, is what keeps a broken
        // session from leaving the maildrop locked.
    }
    .instrument(span)
    .await
}

struct Conn {
    shared: Arc<Shared>,
    peer: SocketAddr,
    /// POP3 or POP3S, for the metrics.
    service: Service,
    /// The logged-in account's maildrop, locked.
    /// (Boxed, as `sasl`: idle connections before login stay small.)
    maildrop: Option<Box<Maildrop>>,
    /// The AUTH exchange in progress.
    sasl: Option<Box<SaslLogin>>,
}

/// How a failed login is reported (RFC 2449/3206 response codes).
fn fail_outcome(why: LoginFail) -> AuthOutcome {
    match why {
        LoginFail::BadCredentials | LoginFail::Malformed => AuthOutcome::Failed,
        LoginFail::Locked => AuthOutcome::LoginDelay,
        LoginFail::Temporary => AuthOutcome::TempFail,
    }
}

impl Conn {
    async fn run(
        &mut self,
        stream: &mut MailStream,
        timestamp: String,
        pressure: Pressure,
    ) -> std::io::Result<()> {
        let plaintext_ok = self
            .shared
            .config
            .pop3
            .allow_plaintext
            .allows(self.peer.ip());
        let policy = self.shared.pop3_policy(plaintext_ok);
        let mut session = Session::with_tls(policy, timestamp, stream.is_tls());
        let mut out: Vec<u8> = Vec::new();
        let (mut buf, mut read_size) = (Vec::new(), READ_BUF);
        let limits = &self.shared.config.limits;
        let mut idle = IdleLimit {
            normal: limits.pop3_idle_timeout,
            under_pressure: limits.idle_timeout_under_pressure,
            deadline: tokio::time::Instant::now() + limits.session_max,
            pressure,
        };
        loop {
            while let Some(event) = session.poll() {
                match event {
                    Event::Send(bytes) => out.extend_from_slice(&bytes),
                    Event::Authenticate { user, credential } => {
                        // Boxed (as the other logins): large, and needed
                        // only now, not in every idle connection's state.
                        let outcome = Box::pin(self.login(&session, &user, credential)).await;
                        self.auth_result(&mut session, outcome);
                    }
                    Event::Retrieve {
                        id,
                        size,
                        top_lines,
                    } => {
                        self.retrieve(stream, &mut out, &session, id, size, top_lines)
                            .await?;
                    }
                    Event::Update { delete } => {
                        // What was retrieved counts once it has been sent.
                        self.flush(stream, &mut out).await?;
                        let ok = self.update(&delete).await;
                        session.update_result(ok);
                    }
                    Event::StartTls => {
                        self.flush(stream, &mut out).await?;
                        if !stream.upgrade(&self.shared, "STLS").await {
                            return Ok(());
                        }
                        session.tls_established();
                    }
                    Event::Auth {
                        mechanism,
                        initial_response,
                    } => {
                        let (sasl, step) = Box::pin(SaslLogin::start(
                            self.shared.logins.clone(),
                            self.peer.ip(),
                            &mechanism,
                            initial_response.as_deref(),
                        ))
                        .await;
                        self.sasl = sasl.map(Box::new);
                        Box::pin(self.auth_step(&mut session, step)).await;
                    }
                    Event::AuthResponse(line) => {
                        let step = match &mut self.sasl {
                            Some(s) => Box::pin(s.respond(&line)).await,
                            None => AuthStep::Failed(LoginFail::Malformed),
                        };
                        Box::pin(self.auth_step(&mut session, step)).await;
                    }
                    Event::AuthCancelled => self.sasl = None,
                    Event::Close => {
                        self.flush(stream, &mut out).await?;
                        return Ok(());
                    }
                }
                if out.len() >= WRITE_HIGH {
                    self.flush(stream, &mut out).await?;
                }
            }
            self.flush(stream, &mut out).await?;
            // Nothing is held for the wait: idle connections stay small.
            out = Vec::new();
            session.release_buffers();
            let unproven = self.maildrop.is_none();
            let n = match idle
                .wait(|| stream.read_some(&mut buf, read_size), unproven)
                .await
            {
                Waited::Ready(r) => r?,
                why => {
                    match why {
                        Waited::Pressure => {
                            tracing::info!("autologout (connections under pressure)")
                        }
                        _ => tracing::info!("autologout"),
                    }
                    out.extend_from_slice(&session.autologout_reply());
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

    async fn auth_step(&mut self, session: &mut Session, step: AuthStep) {
        match step {
            AuthStep::Challenge(b64) => session.auth_challenge(&b64),
            AuthStep::Success(account) => {
                self.sasl = None;
                session.set_user(account.address.to_string());
                let outcome = self.open_maildrop(*account, session.utf8()).await;
                self.auth_result(session, outcome);
            }
            AuthStep::Failed(why) => {
                self.sasl = None;
                super::count_auth_failure(self.service, why);
                session.auth_result(fail_outcome(why));
            }
        }
    }

    /// USER/PASS or APOP.
    async fn login(&mut self, session: &Session, user: &str, cred: Credential) -> AuthOutcome {
        let (ip, timestamp) = (self.peer.ip(), session.timestamp());
        match login::check_pop3(&self.shared.logins, ip, user, cred, timestamp).await {
            Ok(account) => self.open_maildrop(account, session.utf8()).await,
            Err(why) => {
                tracing::info!(user, ?why, "login failed");
                super::count_auth_failure(self.service, why);
                fail_outcome(why)
            }
        }
    }

    /// After a successful login: LOGIN-DELAY, the maildrop lock, the list.
    async fn open_maildrop(&mut self, account: Account, utf8: bool) -> AuthOutcome {
        let user = account.address.to_string();
        match Maildrop::open(&self.shared.office, account, utf8).await {
            Ok((maildrop, messages)) => {
                tracing::info!(user, messages = messages.len(), utf8, "logged in");
                self.maildrop = Some(Box::new(maildrop));
                AuthOutcome::Ok { messages }
            }
            Err(e) => {
                match e {
                    OpenError::LoginDelay | OpenError::InUse => tracing::info!(user, "{e}"),
                    OpenError::Lock(_) | OpenError::List(_) => tracing::error!("{e}"),
                }
                e.outcome()
            }
        }
    }

    /// Hands the login's outcome to the engine, with the account's EXPIRE.
    fn auth_result(&self, session: &mut Session, outcome: AuthOutcome) {
        if let Some(m) = &self.maildrop {
            session.set_expire(m.expire());
        }
        session.auth_result(outcome);
    }

    /// RETR or TOP: the response, streamed through the dot-stuffing encoder.
    async fn retrieve(
        &mut self,
        stream: &mut MailStream,
        out: &mut Vec<u8>,
        session: &Session,
        id: u64,
        size: u64,
        top: Option<u64>,
    ) -> std::io::Result<()> {
        let Some(maildrop) = &mut self.maildrop else {
            out.extend_from_slice(&session.retrieve_failure(RetrieveFailure::NoMailbox));
            return Ok(());
        };
        let mut reader = match maildrop.read(id).await {
            Ok(r) => r,
            Err(e) => {
                if !matches!(e, ReadError::Gone) {
                    tracing::error!(message = id, "{e}");
                }
                out.extend_from_slice(&session.retrieve_failure(e.failure()));
                return Ok(());
            }
        };
        match top {
            None => out.extend_from_slice(&session.retr_ok(size)),
            Some(_) => out.extend_from_slice(&session.top_ok()),
        }
        let mut encoder = Encoder::new(top);
        while !encoder.is_done() {
            match reader.next_chunk().await {
                Ok(Some(c)) => encoder.encode(&c, out),
                Ok(None) => break,
                Err(e) => {
                    // Mid-message the response cannot be turned into an
                    // error any more; closing the connection tells the client
                    // the message is incomplete.
                    tracing::error!(message = id, "read failed mid-message: {e}");
                    stream.send(out).await?;
                    return Err(std::io::Error::other("store read failed mid-message"));
                }
            }
            if out.len() >= WRITE_HIGH {
                stream.send(out).await?;
            }
        }
        encoder.finish(out);
        // Only a whole response counts as retrieved (EXPIRE 0 deletes it at
        // QUIT): a RETR that failed, or failed half-way, must not.
        if top.is_none() {
            maildrop.sending(id);
        }
        Ok(())
    }

    /// Writes out what is buffered; RETR responses in it count as
    /// retrieved once written.
    async fn flush(&mut self, stream: &mut MailStream, out: &mut Vec<u8>) -> std::io::Result<()> {
        stream.send(out).await?;
        if let Some(m) = &mut self.maildrop {
            m.sent();
        }
        Ok(())
    }

    /// UPDATE: whether the deletions were made (the maildrop is unlocked then).
    async fn update(&mut self, delete: &[u64]) -> bool {
        let Some(maildrop) = &mut self.maildrop else {
            return true;
        };
        let user = maildrop.account().address.to_string();
        let result = maildrop.update(delete).await;
        match &result {
            Ok(deleted) => tracing::info!(user, deleted, "update"),
            Err(e @ UpdateError::LeaseLost) => tracing::warn!(user, "{e}"),
            Err(e) => tracing::error!("{e}"),
        }
        result.is_ok()
    }
}
