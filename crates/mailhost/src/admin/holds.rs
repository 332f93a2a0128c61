//! Suspending and releasing an account's sending by hand (`praisani user
//! suspend|release`): the same hold containment puts an account on when it
//! hits a sending limit.

use super::AdminError;
use super::accounts::get;
use praisani_mailaddr::Address;
use praisani_store::{QueueTarget, Store};

/// Most characters of a hold reason: it is shown to the account's mail
/// program in a reply line.
pub const MAX_REASON: usize = 200;

/// What a release did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Released {
    /// The account was on hold.
    pub was_held: bool,
    /// Held queue recipients sent (due now) or deleted.
    pub recipients: u64,
}

/// Puts `address` on hold for `reason`: its submission is refused and its
/// pending queued mail held. Answers whether it was not held already.
/// The reason goes into SMTP replies, so it must be one short line.
pub async fn suspend(
    store: &dyn Store,
    address: &Address,
    reason: &str,
) -> Result<bool, AdminError> {
    if reason.trim().is_empty()
        || reason.chars().any(char::is_control)
        || reason.chars().count() > MAX_REASON
    {
        return Err(AdminError::BadHoldReason);
    }
    let account = get(store, address).await?;
    Ok(store.account_set_hold(account.id, Some(reason)).await?)
}

/// Takes the hold off `address` and releases its held queued mail: due at
/// `now`, or with `delete` removed.
pub async fn release(
    store: &dyn Store,
    address: &Address,
    delete: bool,
    now: i64,
) -> Result<Released, AdminError> {
    let account = get(store, address).await?;
    let was_held = store.account_set_hold(account.id, None).await?;
    let recipients = store
        .queue_release(QueueTarget::Account(account.id), delete, now)
        .await?;
    Ok(Released {
        was_held,
        recipients,
    })
}
