//! Retention: how long messages stay, what POP3 advertises as `EXPIRE`
//! (RFC 2449 section 6.7), and the sweep that deletes what has expired.
//! The server's timer, the CLI's `expire` and the POP3 sessions all take
//! their retention decisions from here.

use praisani_pop3::Expire;
use praisani_store::{Account, ExpireReport, Keep, Retention, Store, StoreError};

/// The retention that applies to `account`: its own settings, else its
/// domain's, else the server-wide `default`.
pub fn effective(account: &Account, default: Retention) -> Retention {
    account.retention.or(account.domain_retention).or(default)
}

/// A retention policy as POP3 advertises it (RFC 2449 EXPIRE: how long a
/// retrieved message stays at least). Deletion by age bounds it too: a
/// message retrieved today goes at most `max_age` days later.
pub fn advertised_expire(r: Retention) -> Expire {
    let days = [r.after_retrieval, r.max_age]
        .into_iter()
        .filter_map(|k| match k {
            Keep::Days(d) => Some(d),
            Keep::Forever | Keep::Inherit => None,
        })
        .min();
    match days {
        Some(d) => Expire::Days(d),
        None => Expire::Never,
    }
}

/// Whether retrieved messages go at the end of the session that retrieved
/// them (`EXPIRE 0`: "delete after retrieval, 0 days").
pub fn deletes_on_retrieval(r: Retention) -> bool {
    r.after_retrieval == Keep::Days(0)
}

/// The EXPIRE that CAPA shows before login, and whether it is `USER`
/// (users' retentions differ): RFC 2449 section 6.7 makes it the shortest
/// retention any user has, so it follows the accounts' and domains' own
/// policies. Without accounts it is the server-wide `default`.
pub async fn expire_before_login(
    store: &dyn Store,
    default: Retention,
) -> Result<(Expire, bool), StoreError> {
    let accounts = store.account_list(None).await?;
    Ok(shortest(
        accounts
            .iter()
            .map(|a| advertised_expire(effective(a, default))),
        advertised_expire(default),
    ))
}

/// The shortest of `each` (or `none` when empty), and whether they differ.
fn shortest(each: impl Iterator<Item = Expire>, none: Expire) -> (Expire, bool) {
    let each: Vec<Expire> = each.collect();
    let floor = each
        .iter()
        .copied()
        .min_by_key(|e| match e {
            Expire::Days(d) => u64::from(*d),
            Expire::Never => u64::MAX,
        })
        .unwrap_or(none);
    let per_user = each.iter().any(|e| *e != floor);
    (floor, per_user)
}

/// What the sweep will delete from a mailbox under `r`, as of `now`: how
/// many of `messages` (received, first retrieved: Unix seconds) go within
/// a day and within 7 days, and when the first of them goes. The times
/// are the sweep's own cut-offs ([`Retention::deleted_at`]); the sweep
/// runs every `retention.sweep_interval`, so a message goes up to that
/// much later.
pub fn upcoming(
    r: Retention,
    now: i64,
    messages: impl IntoIterator<Item = (i64, Option<i64>)>,
) -> Upcoming {
    let mut u = Upcoming::default();
    for (received, retrieved) in messages {
        let Some(at) = r.deleted_at(received, retrieved) else {
            continue;
        };
        if at <= now + 86_400 {
            u.within_a_day += 1;
        }
        if at <= now + 7 * 86_400 {
            u.within_a_week += 1;
        }
        u.next = Some(u.next.map_or(at, |n: i64| n.min(at)));
    }
    u
}

/// See [`upcoming`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Upcoming {
    /// Messages deleted within a day (those already due included).
    pub within_a_day: u64,
    /// Messages deleted within 7 days.
    pub within_a_week: u64,
    /// When the first message goes (Unix seconds; at the first sweep from
    /// then on); `None`: none ever does as things stand.
    pub next: Option<i64>,
}

/// Deletes, as of `now` (Unix seconds), every message its mailbox's
/// retention says has expired, `default` applying where neither the
/// account nor its domain has its own. Mailboxes open in a POP3 session
/// are skipped (counted in [`ExpireReport::locked`]).
pub async fn expire(
    store: &dyn Store,
    now: i64,
    default: Retention,
) -> Result<ExpireReport, StoreError> {
    store.expire(now, default).await
}

/// One run of the server's retention sweep: [`expire`] as of now, with the
/// result or the failure logged.
pub async fn sweep(store: &dyn Store, default: Retention) {
    let now = chrono::Utc::now().timestamp();
    match expire(store, now, default).await {
        Ok(r) if r.messages > 0 || r.locked > 0 => tracing::info!(
            messages = r.messages,
            bytes = r.bytes,
            skipped_in_use = r.locked,
            "retention: expired messages deleted"
        ),
        Ok(_) => {}
        Err(e) => tracing::error!("retention sweep failed: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(after_retrieval: Keep, max_age: Keep) -> Retention {
        Retention {
            after_retrieval,
            max_age,
        }
    }

    #[test]
    fn upcoming_counts_by_the_sweeps_cutoffs() {
        let day = 86_400;
        let now = 100 * day;
        let u = upcoming(
            r(Keep::Days(3), Keep::Days(30)),
            now,
            [
                (now - 29 * day - 1, None),       // old: goes within a day
                (now - 25 * day, None),           // in 5 days
                (now - day, Some(now - 2 * day)), // retrieved: in 1 day
                (now, None),                      // in 30 days
            ],
        );
        assert_eq!(u.within_a_day, 2);
        assert_eq!(u.within_a_week, 3);
        assert_eq!(u.next, Some(now + day - 1));
        let kept = upcoming(r(Keep::Forever, Keep::Forever), now, [(0, Some(0))]);
        assert_eq!(kept, Upcoming::default());
    }

    #[test]
    fn advertised_is_the_shorter_bound() {
        assert_eq!(
            advertised_expire(r(Keep::Forever, Keep::Forever)),
            Expire::Never
        );
        assert_eq!(
            advertised_expire(r(Keep::Days(7), Keep::Days(30))),
            Expire::Days(7)
        );
        assert_eq!(
            advertised_expire(r(Keep::Forever, Keep::Days(30))),
            Expire::Days(30)
        );
        assert_eq!(
            advertised_expire(r(Keep::Days(0), Keep::Inherit)),
            Expire::Days(0)
        );
    }

    #[test]
    fn before_login_is_the_shortest_with_user_when_they_differ() {
        let never = Expire::Never;
        assert_eq!(
            shortest([].into_iter(), Expire::Days(3)),
            (Expire::Days(3), false)
        );
        assert_eq!(
            shortest([Expire::Days(5), Expire::Days(5)].into_iter(), never),
            (Expire::Days(5), false)
        );
        assert_eq!(
            shortest([never, Expire::Days(9), Expire::Days(2)].into_iter(), never),
            (Expire::Days(2), true)
        );
    }
}
