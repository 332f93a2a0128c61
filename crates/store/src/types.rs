//! Plain data types exchanged with a [`crate::Store`].

pub use praisani_message::Language;
pub use praisani_message::dsn::{Notify, Return};

use crate::policy::{QuotaRefusal, Retention, Usage};
use crate::{AccountId, MessageId, QueueId, QueueRcptId};
use praisani_mailaddr::{Address, Domain};

/// A hosted domain with counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainInfo {
    /// The domain.
    pub domain: Domain,
    /// Number of accounts.
    pub accounts: u64,
    /// Number of aliases.
    pub aliases: u64,
    /// Storage limit for all its mailboxes together.
    pub quota_bytes: Option<u64>,
    /// Octets stored in all its mailboxes.
    pub used_bytes: u64,
    /// Retention for its mailboxes (each may override).
    pub retention: Retention,
    /// Who hears about the domain's accounts (hold notices), if anyone
    /// besides the postmaster.
    pub contact: Option<DomainContact>,
}

/// A hosted domain's contact: the address that gets notices about the
/// domain's accounts, and their language. Often outside the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainContact {
    /// Where notices go.
    pub address: Address,
    /// The language they are written in.
    pub lang: Language,
}

/// New login secrets for an account, all derived from one password.
#[derive(Clone)]
pub struct Secrets {
    /// PHC string of the argon2id hash.
    pub password_hash: String,
    /// The APOP secret, for accounts that opted in.
    pub apop_secret: Option<String>,
    /// SCRAM-SHA-256 credentials in RFC 5803 form.
    pub scram: Option<String>,
}

/// What is needed to create an account.
#[derive(Clone)]
pub struct NewAccount {
    /// The mailbox address.
    pub address: Address,
    /// PHC string of the argon2id hash.
    pub password_hash: String,
    /// The shared secret APOP needs, only for accounts that opted in.
    pub apop_secret: Option<String>,
    /// SCRAM-SHA-256 credentials in RFC 5803 form.
    pub scram: Option<String>,
    /// Storage quota in octets, `None` for unlimited.
    pub quota_bytes: Option<u64>,
}

/// One account of a bulk import ([`Store::accounts_import`]): what to
/// write for it, all of it decided above the store.
#[derive(Clone, Debug)]
pub struct AccountImport {
    /// Its address, secrets and storage limit.
    pub account: NewAccount,
    /// Message-count limit, `None` for unlimited.
    pub quota_messages: Option<u64>,
    /// Language of the notices it gets.
    pub lang: Language,
    /// Overwrite the existing account of this address (secrets, limits,
    /// language; its mail and other settings stay) instead of creating one.
    pub replace: bool,
}

/// A stored account.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    /// Store id.
    pub id: AccountId,
    /// The mailbox address.
    pub address: Address,
    /// PHC string of the argon2id hash.
    pub password_hash: String,
    /// The APOP secret, if APOP is enabled for the account.
    pub apop_secret: Option<String>,
    /// SCRAM-SHA-256 credentials in RFC 5803 form, if derived.
    pub scram: Option<String>,
    /// Storage quota in octets, `None` for unlimited.
    pub quota_bytes: Option<u64>,
    /// Octets used by stored messages.
    pub used_bytes: u64,
    /// Number of stored messages.
    pub used_messages: u64,
    /// Message-count limit, `None` for unlimited.
    pub quota_messages: Option<u64>,
    /// Language of the notices it gets (`en`, `th`, `zh`).
    pub lang: Language,
    /// Where quota warnings also go.
    pub warn_to: Option<String>,
    /// The highest quota warning threshold (percent) announced.
    pub warned: u8,
    /// Its own retention settings.
    pub retention: Retention,
    /// Its domain's retention settings (what `Keep::Inherit` falls back to).
    pub domain_retention: Retention,
    /// Why it is on hold (its submission refused, its queued mail held),
    /// `None` when it is not.
    pub held: Option<String>,
}

/// Stands in for a secret in `Debug` output: a hash, SCRAM keys or the
/// APOP secret must not reach logs or panic messages, which is where
/// `{:?}` of an account ends up.
struct Redacted;

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Whether an optional secret is set, without it.
fn redacted(secret: &Option<String>) -> Option<Redacted> {
    secret.as_ref().map(|_| Redacted)
}

// By hand: see [`Redacted`].
impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("password_hash", &Redacted)
            .field("apop_secret", &redacted(&self.apop_secret))
            .field("scram", &redacted(&self.scram))
            .finish()
    }
}

// By hand: see [`Redacted`].
impl std::fmt::Debug for NewAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccount")
            .field("address", &self.address)
            .field("password_hash", &Redacted)
            .field("apop_secret", &redacted(&self.apop_secret))
            .field("scram", &redacted(&self.scram))
            .field("quota_bytes", &self.quota_bytes)
            .finish()
    }
}

// By hand: see [`Redacted`].
impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("address", &self.address)
            .field("password_hash", &Redacted)
            .field("apop_secret", &redacted(&self.apop_secret))
            .field("scram", &redacted(&self.scram))
            .field("quota_bytes", &self.quota_bytes)
            .field("used_bytes", &self.used_bytes)
            .field("used_messages", &self.used_messages)
            .field("quota_messages", &self.quota_messages)
            .field("lang", &self.lang)
            .field("warn_to", &self.warn_to)
            .field("warned", &self.warned)
            .field("retention", &self.retention)
            .field("domain_retention", &self.domain_retention)
            .field("held", &self.held)
            .finish()
    }
}

/// An alias and the addresses it expands to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alias {
    /// The alias address.
    pub address: Address,
    /// Where its mail goes.
    pub targets: Vec<Address>,
}

/// Adds one (alias, target) row of a page, in (local part, target order)
/// order, to `out`: a new alias when its local part differs from the
/// last one's. Both backends' `alias_page` read their rows through it.
pub(crate) fn push_alias_row(
    out: &mut Vec<Alias>,
    domain: &Domain,
    local: &str,
    target: Option<&str>,
) -> Result<(), crate::StoreError> {
    let same = out.last().is_some_and(|a| a.address.local() == local);
    if !same {
        let address = Address::new(local, domain.clone())
            .map_err(|_| crate::error::corrupt("alias address"))?;
        out.push(Alias {
            address,
            targets: Vec::new(),
        });
    }
    if let (Some(t), Some(last)) = (target, out.last_mut()) {
        last.targets
            .push(Address::parse(t).map_err(|_| crate::error::corrupt("alias target"))?);
    }
    Ok(())
}

/// What an address means to this server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// A mailbox.
    Account {
        /// Its id.
        id: AccountId,
        /// Its quota and usage, for the RCPT-time check.
        usage: Usage,
    },
    /// An alias with its targets (which may themselves be aliases).
    Alias(Vec<Address>),
    /// The domain is hosted but has no such mailbox.
    UnknownLocal,
    /// The domain is not hosted here.
    NotHosted,
}

/// A message in a mailbox, as listed for POP3.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageMeta {
    /// Store id, ascending by arrival.
    pub id: MessageId,
    /// The POP3 unique id: 1–70 characters in 0x21–0x7E, never reused in
    /// the mailbox, kept across restarts and migrations.
    pub uidl: String,
    /// Exact size in octets, CRLF line ends.
    pub size: u64,
    /// Arrival time, seconds since the Unix epoch.
    pub received: i64,
    /// When a client first retrieved it, if one did (Unix seconds).
    pub retrieved: Option<i64>,
    /// What a client that did not enable UTF-8 (RFC 6856) gets instead.
    pub legacy: LegacyView,
}

/// How a message is shown to a POP3 client that did not enable UTF-8
/// (RFC 6856): its header section may need the RFC 6857 downgrade.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegacyView {
    /// The header section is ASCII: the message as stored.
    Same,
    /// The downgraded header section replaces the stored one; `size` is the
    /// exact size of the result, CRLF line ends.
    Downgraded {
        /// Octets of the downgraded message.
        size: u64,
    },
    /// No downgraded form exists: the message is not shown.
    Hidden,
}

impl LegacyView {
    /// The view of a message of `size` octets from what is stored with its
    /// body: `None` without a downgrade row, else the octets the downgraded
    /// header replaces and the replacement's length (`None`: the header
    /// could not be downgraded).
    /// A copy's own `prefix` (see [`crate::Spool::set_prefix`]) is in
    /// `size`; the downgraded view has its ASCII lines only
    /// ([`legacy_prefix`]).
    pub(crate) fn from_stored(
        size: u64,
        downgrade: Option<(u64, Option<u64>)>,
        prefix: Option<&[u8]>,
    ) -> LegacyView {
        let prefix = prefix.unwrap_or_default();
        match downgrade {
            None => LegacyView::Same,
            Some((_, None)) => LegacyView::Hidden,
            Some((replaced, Some(len))) => LegacyView::Downgraded {
                size: size.saturating_sub(replaced + prefix.len() as u64)
                    + len
                    + legacy_prefix(prefix).len() as u64,
            },
        }
    }
}

/// The lines of a copy's prefix that a client without UTF-8 (RFC 6856)
/// is shown in the downgraded header: the ASCII ones (a `Delivered-To:`
/// of an address with a UTF-8 local part has no ASCII form).
pub(crate) fn legacy_prefix(prefix: &[u8]) -> Vec<u8> {
    prefix
        .split_inclusive(|&b| b == b'\n')
        .filter(|line| line.is_ascii())
        .flatten()
        .copied()
        .collect()
}

/// A message's POP3 unique id: the one it brought along (migrated from
/// elsewhere, or made before the format changed), else [`new_uidl`].
pub(crate) fn uidl(prefix: &str, id: MessageId, stored: Option<String>) -> String {
    stored.unwrap_or_else(|| new_uidl(prefix, id.get()))
}

/// The UIDL of a message that brought none: the store's prefix (eight hex
/// digits, so the two parts cannot run into each other) and the message id
/// (never reused). Letters and digits only: Outlook 2003 and others fetch
/// everything again with a dot in the UIDL (Dovecot's
/// `pop3_uidl_format` notes). UIDLs handed out before, with their dot,
/// were written into the store by schema upgrade and never change.
pub(crate) fn new_uidl(prefix: &str, id: i64) -> String {
    format!("{prefix}{id}")
}

/// The downgraded (RFC 6857) header section of a message whose header has
/// UTF-8, computed once when the message arrives and stored with its body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderDowngrade {
    /// Octets at the start of the stored message that the downgraded
    /// header replaces (the header section with its blank line).
    pub original_len: u64,
    /// The replacement, all ASCII; `None` when the header could not be
    /// downgraded and the message is hidden from such clients.
    pub header: Option<Vec<u8>>,
}

impl HeaderDowngrade {
    /// The downgrade of a copy with its own `prefix` (see
    /// [`crate::Spool::set_prefix`]) in a body whose first `original_len`
    /// octets (the header section) `header` replaces: the prefix goes into
    /// the replacement as into the stored header, so a reader skipping
    /// the (longer) original header of the copy skips it too and sizes
    /// stay exact.
    pub(crate) fn after_prefix(
        prefix: &[u8],
        original_len: u64,
        header: Option<Vec<u8>>,
    ) -> HeaderDowngrade {
        HeaderDowngrade {
            original_len: original_len + prefix.len() as u64,
            header: header.map(|mut h| {
                crate::body::insert_prefix(&legacy_prefix(prefix), &mut h);
                h
            }),
        }
    }
}

/// A message for other servers, as accepted: the envelope the outbound
/// queue needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outbound {
    /// The envelope sender, empty for the null sender.
    pub sender: String,
    /// The recipients, each with its RFC 3461 parameters.
    pub recipients: Vec<OutboundRcpt>,
    /// RFC 3461 ENVID.
    pub envid: Option<String>,
    /// RFC 3461 RET.
    pub ret: Option<Return>,
    /// The message needs SMTPUTF8.
    pub smtputf8: bool,
    /// The message has 8-bit content.
    pub eight_bit: bool,
    /// The account that submitted it, whose hold holds it too (for a
    /// forwarded copy: the forwarding mailbox's account).
    pub account: Option<AccountId>,
    /// What the sender asked of the TLS on the way (RFC 8689).
    pub tls: SenderTls,
    /// Header lines (each ending in CRLF) only this entry's copy has,
    /// ahead of the body it shares with the mailbox copies: a forwarded
    /// copy's `Delivered-To:`. Empty for none.
    pub prefix: Vec<u8>,
    /// A copy we forward (an alias or a mailbox's forward to another
    /// server): the queue ARC-seals it.
    pub forwarded: bool,
}

/// What the sender of a queued message asked of the TLS it travels over
/// (RFC 8689): nothing, `REQUIRETLS` on MAIL FROM, or `TLS-Required: No`
/// in the header. REQUIRETLS wins when both were given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SenderTls {
    /// Nothing asked: the destination's policy (MTA-STS, DANE) decides.
    #[default]
    Policy,
    /// `REQUIRETLS`: only over TLS whose server was authenticated (MX by
    /// DNSSEC or MTA-STS, certificate by DANE or PKIX) and that offers
    /// REQUIRETLS itself; else it fails with `5.7.30`.
    Required,
    /// `TLS-Required: No`: the destination's MTA-STS and DANE policies are
    /// ignored; TLS is still used when offered.
    NotRequired,
}

impl SenderTls {
    /// How `queue list` shows it: `REQUIRETLS`, `TLS-Required: No`, or
    /// nothing.
    pub fn label(self) -> Option<&'static str> {
        match self {
            SenderTls::Policy => None,
            SenderTls::Required => Some("REQUIRETLS"),
            SenderTls::NotRequired => Some("TLS-Required: No"),
        }
    }

    /// As a queue row keeps it: NULL for [`SenderTls::Policy`].
    pub(crate) fn to_db(self) -> Option<&'static str> {
        match self {
            SenderTls::Policy => None,
            SenderTls::Required => Some("requiretls"),
            SenderTls::NotRequired => Some("no"),
        }
    }

    /// Read back from a queue row (text this crate wrote).
    pub(crate) fn from_db(text: Option<String>) -> SenderTls {
        match text.as_deref() {
            Some("requiretls") => SenderTls::Required,
            Some("no") => SenderTls::NotRequired,
            _ => SenderTls::Policy,
        }
    }
}

/// One outbound recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundRcpt {
    /// The address (A-label domain).
    pub address: String,
    /// Its domain, lower-case A-labels: what routing looks up.
    pub domain: String,
    /// RFC 3461 ORCPT as given.
    pub orcpt: Option<String>,
    /// RFC 3461 NOTIFY as given.
    pub notify: Option<Notify>,
}

/// Where a queued recipient stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RcptState {
    /// Still to be delivered (possibly after a temporary failure).
    Pending,
    /// Accepted by the remote server.
    Delivered,
    /// Given up: permanent failure or too old.
    Failed,
    /// Kept back by the operator or by containment: not sent until
    /// released.
    Held,
}

impl RcptState {
    fn as_str(self) -> &'static str {
        match self {
            RcptState::Pending => "pending",
            RcptState::Delivered => "delivered",
            RcptState::Failed => "failed",
            RcptState::Held => "held",
        }
    }

    /// Delivered or given up: nothing more will happen to it.
    pub fn is_final(self) -> bool {
        matches!(self, RcptState::Delivered | RcptState::Failed)
    }

    pub(crate) fn db(self) -> &'static str {
        self.as_str()
    }

    pub(crate) fn from_db(s: &str) -> RcptState {
        match s {
            "delivered" => RcptState::Delivered,
            "failed" => RcptState::Failed,
            "held" => RcptState::Held,
            _ => RcptState::Pending,
        }
    }
}

impl std::fmt::Display for RcptState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a queue hold or release applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueTarget {
    /// One queued message.
    Message(QueueId),
    /// Every queued message an account submitted.
    Account(AccountId),
}

/// One recipient of a queued message, with its delivery state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedRcpt {
    /// Its id.
    pub id: QueueRcptId,
    /// The address and its parameters.
    pub rcpt: OutboundRcpt,
    /// Where it stands.
    pub state: RcptState,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// When the next attempt is due (Unix seconds).
    pub next_attempt: i64,
    /// The last error, as the remote server or the network gave it.
    pub last_error: Option<String>,
    /// A delay notice was sent for it.
    pub delay_notified: bool,
}

/// A queued message with its recipients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueEntry {
    /// Its id.
    pub id: QueueId,
    /// The envelope sender, empty for the null sender.
    pub sender: String,
    /// RFC 3461 ENVID.
    pub envid: Option<String>,
    /// RFC 3461 RET.
    pub ret: Option<Return>,
    /// The message needs SMTPUTF8.
    pub smtputf8: bool,
    /// The message has 8-bit content.
    pub eight_bit: bool,
    /// When it was accepted (Unix seconds).
    pub created: i64,
    /// Its size in octets.
    pub size: u64,
    /// The recipients.
    pub recipients: Vec<QueuedRcpt>,
    /// The account that submitted it (`None` for mail we write and for
    /// relayed mail of trusted networks).
    pub account: Option<AccountId>,
    /// What the sender asked of the TLS on the way (RFC 8689).
    pub tls: SenderTls,
    /// A copy we forward: the queue ARC-seals it.
    pub forwarded: bool,
}

/// Recipients just leased from the queue, each with its message's id, in
/// the order they are due (earliest next attempt, then id). Both backends
/// group them by message the same way: see [`group_taken`].
pub(crate) fn due_order(taken: &mut [(QueuedRcpt, QueueId)]) {
    taken.sort_by_key(|(r, _)| (r.next_attempt, r.id));
}

/// The messages of `taken` (see [`due_order`]), each once, in the order of
/// their first recipient: the headers the backend is to read.
pub(crate) fn taken_messages(taken: &[(QueuedRcpt, QueueId)]) -> Vec<QueueId> {
    let mut ids: Vec<QueueId> = Vec::new();
    for (_, q) in taken {
        if !ids.contains(q) {
            ids.push(*q);
        }
    }
    ids
}

/// Groups leased recipients under their messages' `headers` (read for
/// [`taken_messages`]), keeping the order of both; the recipients of a
/// message without a header (deleted meanwhile) are left out.
pub(crate) fn group_taken(
    taken: Vec<(QueuedRcpt, QueueId)>,
    headers: Vec<QueueEntry>,
) -> Vec<QueueEntry> {
    let mut out = headers;
    for (rcpt, q) in taken {
        if let Some(e) = out.iter_mut().find(|e| e.id == q) {
            e.recipients.push(rcpt);
        }
    }
    out
}

/// What happened to one recipient on a delivery attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptResult {
    /// The remote server accepted it.
    Delivered,
    /// A temporary failure: try again at `next_attempt` (Unix seconds).
    Retry {
        /// When to try again.
        next_attempt: i64,
        /// What went wrong.
        error: String,
    },
    /// A permanent failure: give up.
    Failed {
        /// What went wrong.
        error: String,
    },
}

impl AttemptResult {
    /// What a backend records for it: the new state, the next attempt
    /// (retries only) and the error text.
    pub(crate) fn record(&self) -> (RcptState, Option<i64>, Option<&str>) {
        match self {
            AttemptResult::Delivered => (RcptState::Delivered, None, None),
            AttemptResult::Retry {
                next_attempt,
                error,
            } => (RcptState::Pending, Some(*next_attempt), Some(error)),
            AttemptResult::Failed { error } => (RcptState::Failed, None, Some(error)),
        }
    }
}

/// What `accept` stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The mailbox message ids, in the order of the local recipients.
    pub messages: Vec<MessageId>,
    /// The queue entries, in the order of the outbound copies given.
    pub queued: Vec<QueueId>,
    /// Local recipients whose quota refused the message: nothing was
    /// stored for them (their entries in `messages` are missing).
    pub refused: Vec<QuotaRefusal>,
    /// Quota state of each mailbox that got the message, after it.
    pub usage: Vec<(AccountId, Usage)>,
}

/// Holds a maildrop lock until dropped.
pub struct MaildropLock {
    _guard: Box<dyn Send + Sync>,
    lost: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl MaildropLock {
    /// Wraps a backend's guard; dropping the lock drops the guard.
    pub fn new(guard: Box<dyn Send + Sync>) -> Self {
        MaildropLock {
            _guard: guard,
            lost: None,
        }
    }

    /// A lock that the backend may lose (a lease that lapsed while this
    /// node could not renew it): `lost` turns true then.
    pub fn with_loss(
        guard: Box<dyn Send + Sync>,
        lost: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> Self {
        MaildropLock {
            _guard: guard,
            lost: Some(lost),
        }
    }

    /// True when the lock may be held by someone else now: the session
    /// must not delete anything (another node may have the maildrop).
    pub fn is_lost(&self) -> bool {
        self.lost
            .as_ref()
            .is_some_and(|l| l.load(std::sync::atomic::Ordering::Acquire))
    }
}

impl std::fmt::Debug for MaildropLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MaildropLock")
    }
}

/// NOTIFY as a queue row keeps it: its parameter text.
pub(crate) fn notify_to_db(n: Option<Notify>) -> Option<String> {
    n.map(Notify::to_param)
}

/// NOTIFY read back from a queue row (text this crate wrote).
pub(crate) fn notify_from_db(text: Option<String>) -> Option<Notify> {
    text.as_deref().and_then(Notify::from_param)
}

/// RET as a queue row keeps it: `FULL` or `HDRS`.
pub(crate) fn ret_to_db(r: Option<Return>) -> Option<&'static str> {
    r.map(Return::as_param)
}

/// RET read back from a queue row.
pub(crate) fn ret_from_db(text: Option<String>) -> Option<Return> {
    text.as_deref().and_then(Return::from_param)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g";
    const APOP: &str = "apop-shared-secret";
    const SCRAM: &str = "SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy";

    fn assert_redacted(shown: String) {
        for secret in [HASH, APOP, SCRAM, "c2FsdA", "argon2id"] {
            assert!(!shown.contains(secret), "{secret:?} in {shown}");
        }
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn secrets_are_not_in_debug_output() {
        let address = Address::parse("a@example.test").unwrap();
        let secrets = Secrets {
            password_hash: HASH.into(),
            apop_secret: Some(APOP.into()),
            scram: Some(SCRAM.into()),
        };
        assert_redacted(format!("{secrets:?}"));
        let new = NewAccount {
            address: address.clone(),
            password_hash: HASH.into(),
            apop_secret: Some(APOP.into()),
            scram: Some(SCRAM.into()),
            quota_bytes: Some(10),
        };
        let shown = format!("{new:?}");
        assert!(shown.contains("quota_bytes: Some(10)"), "{shown}");
        assert_redacted(shown);
        let account = Account {
            id: AccountId::new(1),
            address,
            password_hash: HASH.into(),
            apop_secret: Some(APOP.into()),
            scram: Some(SCRAM.into()),
            quota_bytes: None,
            used_bytes: 0,
            used_messages: 0,
            quota_messages: None,
            lang: Language::En,
            warn_to: None,
            warned: 0,
            retention: Retention::default(),
            domain_retention: Retention::default(),
            held: None,
        };
        assert_redacted(format!("{account:?}"));
        assert_redacted(format!("{account:#?}"));
        // Unset secrets still show as unset.
        let none = Secrets {
            password_hash: HASH.into(),
            apop_secret: None,
            scram: None,
        };
        assert!(format!("{none:?}").contains("apop_secret: None"));
    }
}

/// A recipient domain's MTA-STS policy (RFC 8461) as last fetched: kept so
/// that every node, and a restarted one, applies the last good policy
/// until its `max_age` runs out. The store keeps the policy text as
/// fetched; reading it is the delivery crate's business.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MtaStsRecord {
    /// The policy domain (lower-case A-label).
    pub domain: String,
    /// The `id` of the `_mta-sts` TXT record the policy was fetched for.
    pub id: String,
    /// The policy body as served.
    pub policy: String,
    /// When it was fetched (Unix seconds).
    pub fetched: i64,
    /// When it stops being valid: `fetched` + its `max_age`.
    pub expires: i64,
}

/// A mailbox's vacation auto-reply (RFC 3834) as stored. Whether a given
/// message is answered is `mailhost::vacation`'s decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vacation {
    /// The reply's subject; `None`: "Auto: " and the original's.
    pub subject: Option<String>,
    /// The reply's text (UTF-8).
    pub text: String,
    /// Replies start at this time (Unix seconds), if set.
    pub starts: Option<i64>,
    /// Replies end before this time (Unix seconds), if set.
    pub ends: Option<i64>,
    /// At most one reply per sender in this many days.
    pub interval_days: u32,
}

/// A mailbox's forwarding: where its mail also (or only) goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forward {
    /// The addresses its mail is forwarded to, in the order given.
    pub targets: Vec<Address>,
    /// A copy is kept in the mailbox too.
    pub keep: bool,
}
