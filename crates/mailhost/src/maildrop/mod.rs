//! A POP3 maildrop as one session sees it, from login to UPDATE.
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
//!
//! Retrieval times start the retention clock (RFC 2449 `EXPIRE`): a RETR
//! counts once its response has been written out ([`Maildrop::sending`],
//! then [`Maildrop::sent`]).

mod login_delay;
mod read;
mod update;

pub use login_delay::LoginTimes;
pub use read::{MessageReader, ReadError};
pub use update::UpdateError;

use crate::PostOffice;
use crate::retention;
use praisani_pop3::{AuthOutcome, Expire, MessageInfo};
use praisani_store::{Account, LegacyView, MaildropLock, MessageId, Store, StoreError};
use std::collections::HashSet;
use std::sync::Arc;

/// Why a maildrop could not be opened after a successful login.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The account logged in less than LOGIN-DELAY ago (RFC 2449).
    #[error("login refused: LOGIN-DELAY")]
    LoginDelay,
    /// Another session holds the maildrop lock.
    #[error("maildrop in use")]
    InUse,
    /// The lock could not be taken.
    #[error("locking failed: {0}")]
    Lock(#[source] StoreError),
    /// The messages could not be listed.
    #[error("listing failed: {0}")]
    List(#[source] StoreError),
}

impl OpenError {
    /// How the refusal is reported to the client (RFC 2449/3206 response
    /// codes: `[LOGIN-DELAY]`, `[IN-USE]`, `[SYS/TEMP]`).
    pub fn outcome(&self) -> AuthOutcome {
        match self {
            OpenError::LoginDelay => AuthOutcome::LoginDelay,
            OpenError::InUse => AuthOutcome::InUse,
            OpenError::Lock(_) | OpenError::List(_) => AuthOutcome::TempFail,
        }
    }
}

/// The id the POP3 session knows a message by ([`MessageInfo::id`]): the
/// store's message id, which never repeats in a mailbox.
fn pop3_id(id: MessageId) -> u64 {
    id.get() as u64
}

/// The store's message id for a POP3 session's [`MessageInfo::id`].
fn message_id(id: u64) -> MessageId {
    MessageId::new(id as i64)
}

/// A locked maildrop: the logged-in account, what this session retrieved,
/// and the lock, released when this drops (whatever ended the session) or
/// by a successful [`Maildrop::update`].
pub struct Maildrop {
    store: Arc<dyn Store>,
    account: Account,
    lock: Option<MaildropLock>,
    /// Messages this (non-UTF8) session gets with the downgraded header.
    downgraded: HashSet<u64>,
    /// The account's retention after retrieval, as EXPIRE shows it.
    expire: Expire,
    /// The account's policy is "delete after retrieval, 0 days": what this
    /// session retrieves goes at QUIT.
    delete_retrieved: bool,
    /// Messages answered with RETR whose response is not written out yet.
    unsent: Vec<MessageId>,
    /// Messages this session sent with RETR: their retention clock starts.
    retrieved: Vec<MessageId>,
}

impl Maildrop {
    /// Opens `account`'s maildrop after a successful login: the LOGIN-DELAY
    /// check, the maildrop lock, and the message list for the engine, in the
    /// legacy form (downgraded headers, some messages hidden) unless the
    /// client sent UTF8.
    pub async fn open(
        office: &PostOffice,
        account: Account,
        utf8: bool,
    ) -> Result<(Maildrop, Vec<MessageInfo>), OpenError> {
        if let Some(delay) = office.settings.login_delay
            && !office.login_times.allow(account.id, delay)
        {
            return Err(OpenError::LoginDelay);
        }
        let store = office.store.clone();
        let metrics = praisani_metrics::metrics();
        let timer = metrics.store_timer("lock_maildrop");
        let lock = store.lock_maildrop(account.id).await;
        drop(timer);
        let lock = lock.map_err(OpenError::Lock)?.ok_or(OpenError::InUse)?;
        let timer = metrics.store_timer("list_messages");
        let list = store.list_messages(account.id).await;
        drop(timer);
        let list = list.map_err(OpenError::List)?;
        let mut downgraded = HashSet::new();
        let mut messages = Vec::with_capacity(list.len());
        for m in list {
            let size = match (utf8, m.legacy) {
                (true, _) | (false, LegacyView::Same) => m.size,
                (false, LegacyView::Downgraded { size }) => {
                    downgraded.insert(pop3_id(m.id));
                    size
                }
                (false, LegacyView::Hidden) => continue,
            };
            messages.push(MessageInfo {
                id: pop3_id(m.id),
                uid: m.uidl,
                size,
            });
        }
        let policy = retention::effective(&account, office.settings.retention);
        let maildrop = Maildrop {
            store,
            account,
            lock: Some(lock),
            downgraded,
            expire: retention::advertised_expire(policy),
            delete_retrieved: retention::deletes_on_retrieval(policy),
            unsent: Vec::new(),
            retrieved: Vec::new(),
        };
        Ok((maildrop, messages))
    }

    /// The logged-in account.
    pub fn account(&self) -> &Account {
        &self.account
    }

    /// The EXPIRE this session shows after login (the account's own).
    pub fn expire(&self) -> Expire {
        self.expire
    }

    /// Notes that a RETR response for message `id` is being sent; it
    /// counts as retrieved once [`Maildrop::sent`] says it is written out.
    pub fn sending(&mut self, id: u64) {
        self.unsent.push(message_id(id));
    }

    /// Everything buffered so far has been written to the client: the RETR
    /// responses in it count as retrieved.
    pub fn sent(&mut self) {
        self.retrieved.append(&mut self.unsent);
    }

    /// The session ends, with or without QUIT: nothing is deleted, but the
    /// retrievals still start the retention clock, except with EXPIRE 0
    /// (RFC 2449: deleted at the end of a session that retrieved them and
    /// ended with QUIT). The lock goes when the maildrop drops.
    pub async fn finish(&mut self) {
        if !self.delete_retrieved {
            self.note_retrievals().await;
        }
    }

    /// Records when this session's retrieved messages were first
    /// retrieved. A failure is logged: it costs the messages their
    /// retention clock, not the session.
    async fn note_retrievals(&mut self) {
        if self.retrieved.is_empty() {
            return;
        }
        let now = chrono::Utc::now().timestamp();
        if let Err(e) = self
            .store
            .mark_retrieved(self.account.id, &self.retrieved, now)
            .await
        {
            tracing::error!("cannot record retrievals: {e}");
        }
        self.retrieved.clear();
    }
}
