//! Drives one POP3 connection: socket bytes in and out of the
//! `praisani_pop3` engine, logins checked and mailboxes read from the store.
//!
//! Messages whose header has UTF-8 (RFC 6532) and clients that did not send
//! `UTF8` (RFC 6856): such a client gets the message with the downgraded
//! header section (RFC 6857) stored with it when it arrived, never the raw
//! one. We chose downgrading over hiding, so a client that cannot do UTF-8
//! still sees and can delete all its mail; only a message whose header was
//! too long to downgrade (over 256 KiB) is left out of its listing. The
//! maildrop is listed in the client's form at login (UTF8 is only allowed
//! before it): LIST and STAT give the downgraded sizes, which are exactly
//! what RETR sends, and UIDLs are those of the stored messages in both
//! forms, so switching between UTF-8 and legacy clients neither loses mail
//! nor re-downloads it.

use super::limits::IpSlot;
use super::login::{self, AuthStep, LoginFail, SaslLogin};
use super::stream::MailStream;
use super::{Service, Shared};
use praisani_pop3::{
    AuthOutcome, Credential, Encoder, Event, MessageInfo, RetrieveFailure, Session,
};
use praisani_store::{Account, HeaderDowngrade, LegacyView, MaildropLock, StoreError};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::Instrument;

/// Reads from the socket in pieces of this size.
/// Reads start with a small buffer, so idle connections cost little, and
/// grow to [`READ_BUF_MAX`] while a client keeps filling it.
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
            mailbox: None,
            sasl: None,
            expire: None,
            retrieved: Vec::new(),
            unsent: Vec::new(),
            delete_retrieved: false,
            downgraded: HashSet::new(),
        };
        match conn.run(&mut stream, timestamp).await {
            Ok(()) => tracing::debug!("closed"),
            Err(e) => tracing::debug!("connection ended: {e}"),
        }
        // Without QUIT nothing is deleted; the retrievals still start the
        // retention clock, except with EXPIRE 0 (RFC 2449: deleted at the
        // end of a session that retrieved them and ended with QUIT).
        if !conn.delete_retrieved {
            conn.note_retrievals().await;
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
    /// The logged-in account and its maildrop lock.
    mailbox: Option<(Account, MaildropLock)>,
    /// The AUTH exchange in progress.
    sasl: Option<SaslLogin>,
    /// The logged-in user's retention after retrieval, for CAPA and QUIT.
    expire: Option<praisani_pop3::Expire>,
    /// Messages this session sent with RETR: their retention clock starts.
    retrieved: Vec<i64>,
    /// The user's policy is "delete after retrieval, 0 days": what this
    /// session retrieves goes at QUIT.
    delete_retrieved: bool,
    /// Messages answered with RETR whose response is not written out yet.
    unsent: Vec<i64>,
    /// Messages this (non-UTF8) session gets with the downgraded header.
    downgraded: HashSet<u64>,
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
    async fn run(&mut self, stream: &mut MailStream, timestamp: String) -> std::io::Result<()> {
        let policy = if self
            .shared
            .config
            .pop3
            .allow_plaintext
            .allows(self.peer.ip())
        {
            self.shared.pop3_policy(true)
        } else {
            self.shared.pop3_policy(false)
        };
        let mut session = Session::with_tls(policy, timestamp, stream.is_tls());
        let mut out: Vec<u8> = Vec::new();
        let mut buf = vec![0u8; READ_BUF];
        let idle = self.shared.config.limits.pop3_idle_timeout;
        let deadline = tokio::time::Instant::now() + self.shared.config.limits.session_max;
        loop {
            while let Some(event) = session.poll() {
                match event {
                    Event::Send(bytes) => out.extend_from_slice(&bytes),
                    Event::Authenticate { user, credential } => {
                        let utf8 = session.utf8();
                        let outcome = self
                            .login(&user, credential, session.timestamp(), utf8)
                            .await;
                        if let Some(e) = self.expire {
                            session.set_expire(e);
                        }
                        session.auth_result(outcome);
                    }
                    Event::Retrieve {
                        id,
                        size,
                        top_lines,
                    } => {
                        self.retrieve(stream, &mut out, &session, id, size, top_lines)
                            .await?;
                        if top_lines.is_none() {
                            self.unsent.push(id as i64);
                        }
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
                        let (sasl, step) = SaslLogin::start(
                            self.shared.clone(),
                            self.peer.ip(),
                            &mechanism,
                            initial_response.as_deref(),
                        )
                        .await;
                        self.sasl = sasl;
                        self.auth_step(&mut session, step).await;
                    }
                    Event::AuthResponse(line) => {
                        let step = match &mut self.sasl {
                            Some(s) => s.respond(&line).await,
                            None => AuthStep::Failed(LoginFail::Malformed),
                        };
                        self.auth_step(&mut session, step).await;
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
            let wait = idle.min(deadline.saturating_duration_since(tokio::time::Instant::now()));
            let n = match tokio::time::timeout(wait, stream.read(&mut buf)).await {
                Ok(r) => r?,
                Err(_) => {
                    tracing::info!("autologout");
                    out.extend_from_slice(&session.autologout_reply());
                    let _ = stream.send(&mut out).await;
                    return Ok(());
                }
            };
            if n == 0 {
                return Ok(());
            }
            session.feed(&buf[..n]);
            if n == buf.len() && buf.len() < READ_BUF_MAX {
                buf.resize(buf.len() * 2, 0);
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
                if let Some(e) = self.expire {
                    session.set_expire(e);
                }
                session.auth_result(outcome);
            }
            AuthStep::Failed(why) => {
                self.sasl = None;
                session.auth_result(fail_outcome(why));
            }
        }
    }

    async fn login(
        &mut self,
        user: &str,
        credential: Credential,
        timestamp: &str,
        utf8: bool,
    ) -> AuthOutcome {
        let ip = self.peer.ip();
        let result = match credential {
            Credential::Password(pw) => login::check_password(&self.shared, ip, user, &pw).await,
            Credential::Apop { digest } => {
                login::check_apop(&self.shared, ip, user, timestamp, &digest).await
            }
        };
        match result {
            Ok(account) => self.open_maildrop(account, utf8).await,
            Err(why) => {
                tracing::info!(user, ?why, "login failed");
                fail_outcome(why)
            }
        }
    }

    /// After a successful login: LOGIN-DELAY, the maildrop lock, the list
    /// (in the legacy form unless the client sent UTF8).
    async fn open_maildrop(&mut self, account: Account, utf8: bool) -> AuthOutcome {
        if let Some(delay) = self.shared.pop3_policy(true).login_delay
            && !self
                .shared
                .login_times
                .allow(account.id, std::time::Duration::from_secs(delay.into()))
        {
            tracing::info!(user = %account.address, "login refused: LOGIN-DELAY");
            return AuthOutcome::LoginDelay;
        }
        let store = &self.shared.store;
        let lock = match store.lock_maildrop(account.id).await {
            Ok(Some(l)) => l,
            Ok(None) => {
                tracing::info!(user = %account.address, "maildrop in use");
                return AuthOutcome::InUse;
            }
            Err(e) => {
                tracing::error!("locking failed: {e}");
                return AuthOutcome::TempFail;
            }
        };
        let list = match store.list_messages(account.id).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("listing failed: {e}");
                return AuthOutcome::TempFail;
            }
        };
        tracing::info!(user = %account.address, messages = list.len(), utf8, "logged in");
        self.downgraded.clear();
        let mut messages = Vec::with_capacity(list.len());
        for m in list {
            let size = match (utf8, m.legacy) {
                (true, _) | (false, LegacyView::Same) => m.size,
                (false, LegacyView::Downgraded { size }) => {
                    self.downgraded.insert(m.id as u64);
                    size
                }
                (false, LegacyView::Hidden) => continue,
            };
            messages.push(MessageInfo {
                id: m.id as u64,
                uid: m.uidl,
                size,
            });
        }
        let own = account.retention.or(account.domain_retention);
        let policy = own.or(self.shared.config.retention.default_policy());
        self.expire = Some(praisani_mailhost::retention::advertised_expire(policy));
        self.delete_retrieved = policy.after_retrieval == praisani_store::Keep::Days(0);
        self.mailbox = Some((account, lock));
        AuthOutcome::Ok { messages }
    }

    async fn retrieve(
        &mut self,
        stream: &mut MailStream,
        out: &mut Vec<u8>,
        session: &Session,
        id: u64,
        size: u64,
        top: Option<u64>,
    ) -> std::io::Result<()> {
        let Some((account, _)) = &self.mailbox else {
            out.extend_from_slice(&session.retrieve_failure(RetrieveFailure::NoMailbox));
            return Ok(());
        };
        let store = &self.shared.store;
        // For a legacy client, the downgraded header replaces the stored one.
        let (header, mut skip) = if self.downgraded.contains(&id) {
            match store.message_downgrade(account.id, id as i64).await {
                Ok(Some(HeaderDowngrade {
                    original_len,
                    header: Some(h),
                })) => (Some(h), original_len),
                Ok(_) | Err(StoreError::NotFound(_)) => {
                    out.extend_from_slice(&session.retrieve_failure(RetrieveFailure::Gone));
                    return Ok(());
                }
                Err(e) => {
                    tracing::error!(message = id, "cannot read downgraded header: {e}");
                    out.extend_from_slice(&session.retrieve_failure(RetrieveFailure::Unreadable));
                    return Ok(());
                }
            }
        } else {
            (None, 0)
        };
        let mut body = match store.open_message(account.id, id as i64).await {
            Ok(b) => b,
            Err(StoreError::NotFound(_)) => {
                // Removed underneath the session (the account was deleted by
                // an administrator): retrying will not help.
                out.extend_from_slice(&session.retrieve_failure(RetrieveFailure::Gone));
                return Ok(());
            }
            Err(e) => {
                tracing::error!(message = id, "cannot open message: {e}");
                out.extend_from_slice(&session.retrieve_failure(RetrieveFailure::Unreadable));
                return Ok(());
            }
        };
        // The first chunk is read before the +OK line, so a store failure can
        // still be reported as an error instead of a truncated message.
        let first = match body.next_chunk().await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(message = id, "cannot read message: {e}");
                out.extend_from_slice(&session.retrieve_failure(RetrieveFailure::Unreadable));
                return Ok(());
            }
        };
        match top {
            None => out.extend_from_slice(&session.retr_ok(size)),
            Some(_) => out.extend_from_slice(&session.top_ok()),
        }
        let mut encoder = Encoder::new(top);
        if let Some(h) = header {
            encoder.encode(&h, out);
        }
        let mut chunk = first;
        while let Some(c) = chunk {
            if encoder.is_done() {
                break;
            }
            // Skip the stored header that the downgraded one replaced.
            let from = usize::try_from(skip).unwrap_or(usize::MAX).min(c.len());
            skip -= from as u64;
            encoder.encode(&c[from..], out);
            if encoder.is_done() {
                break;
            }
            if out.len() >= WRITE_HIGH {
                stream.send(out).await?;
            }
            chunk = match body.next_chunk().await {
                Ok(c) => c,
                Err(e) => {
                    // Mid-message the response cannot be turned into an
                    // error any more; closing the connection tells the client
                    // the message is incomplete.
                    tracing::error!(message = id, "read failed mid-message: {e}");
                    stream.send(out).await?;
                    return Err(std::io::Error::other("store read failed mid-message"));
                }
            };
        }
        encoder.finish(out);
        Ok(())
    }

    /// Writes out what is buffered; RETR responses in it count as
    /// retrieved once written.
    async fn flush(&mut self, stream: &mut MailStream, out: &mut Vec<u8>) -> std::io::Result<()> {
        stream.send(out).await?;
        self.retrieved.append(&mut self.unsent);
        Ok(())
    }

    /// Records when this session's retrieved messages were first
    /// retrieved (also when it ended without QUIT: the client has them,
    /// except with EXPIRE 0, where only a QUIT after RETR deletes).
    async fn note_retrievals(&mut self) {
        let Some((account, _)) = &self.mailbox else {
            return;
        };
        if self.retrieved.is_empty() {
            return;
        }
        let now = chrono::Utc::now().timestamp();
        if let Err(e) = self
            .shared
            .store
            .mark_retrieved(account.id, &self.retrieved, now)
            .await
        {
            tracing::error!("cannot record retrievals: {e}");
        }
        self.retrieved.clear();
    }

    async fn update(&mut self, delete: &[u64]) -> bool {
        let mut ids: Vec<i64> = delete.iter().map(|&i| i as i64).collect();
        let mut going: std::collections::HashSet<i64> = ids.iter().copied().collect();
        // EXPIRE 0: what this session retrieved goes now (RFC 2449).
        if self.delete_retrieved {
            for r in &self.retrieved {
                if going.insert(*r) {
                    ids.push(*r);
                }
            }
        }
        // Only what stays needs its retrieval time: one write less when a
        // client deletes what it downloaded.
        self.retrieved.retain(|r| !going.contains(r));
        self.note_retrievals().await;
        let Some((account, lock)) = &self.mailbox else {
            return true;
        };
        if lock.is_lost() {
            // Another node may have the maildrop now: delete nothing
            // (RFC 1939 allows the server to fail UPDATE; the client
            // keeps its messages and tries again).
            tracing::warn!(user = %account.address, "maildrop lease lost: no deletions");
            return false;
        }
        match self.shared.store.delete_messages(account.id, &ids).await {
            Ok(()) => {
                tracing::info!(user = %account.address, deleted = ids.len(), "update");
                // Unlocked before the +OK goes out, so a client that logs
                // in again at once finds the maildrop free.
                self.mailbox = None;
                true
            }
            Err(e) => {
                tracing::error!("deleting failed: {e}");
                false
            }
        }
    }
}
