//! Greylisting's rules, written once for both backends: what one
//! delivery attempt of a triplet (client network, sender, recipient) means
//! given what the store remembers of it.
//!
//! A new triplet waits: the client must come back after [`GreyRules::delay`]
//! and within [`GreyRules::retry_window`] (real mail servers retry, most
//! spam software does not). A triplet that passed is remembered for
//! [`GreyRules::max_age`] since it was last seen; so is a client network
//! that passed once, when [`GreyRules::remember_clients`] is set, so its
//! next new triplets pass at once.

/// The timings, in seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GreyRules {
    /// A new triplet is refused for this long.
    pub delay: i64,
    /// A retry this long after the first attempt is too late: the triplet
    /// starts over.
    pub retry_window: i64,
    /// Passed triplets (and clients) are forgotten after this long unseen.
    pub max_age: i64,
    /// A client network that passed once passes its new triplets too.
    pub remember_clients: bool,
}

impl Default for GreyRules {
    /// Postgrey's timings: 5 minutes, 2 days, 35 days.
    fn default() -> Self {
        GreyRules {
            delay: 300,
            retry_window: 2 * 86_400,
            max_age: 35 * 86_400,
            remember_clients: true,
        }
    }
}

/// What the store remembers of one triplet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GreyEntry {
    /// The first attempt of its current round.
    pub first_seen: i64,
    /// The latest attempt.
    pub last_seen: i64,
    /// It passed (and is remembered).
    pub passed: bool,
}

/// The answer to one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GreyOutcome {
    /// Go ahead.
    Pass,
    /// Refuse for now (`451 4.7.1`); the earliest retry that passes is this
    /// many seconds away.
    Wait {
        /// Seconds until a retry passes.
        retry_in: i64,
    },
}

/// One attempt: the outcome and the entry to store for the triplet.
/// `client_known` says the client network passed before (and is still
/// remembered).
pub fn step(
    entry: Option<GreyEntry>,
    client_known: bool,
    now: i64,
    rules: &GreyRules,
) -> (GreyOutcome, GreyEntry) {
    let fresh = |entry: Option<GreyEntry>| {
        entry.filter(|e| {
            if e.passed {
                now - e.last_seen <= rules.max_age
            } else {
                now - e.first_seen <= rules.retry_window
            }
        })
    };
    match fresh(entry) {
        Some(e) if e.passed => (
            GreyOutcome::Pass,
            GreyEntry {
                last_seen: now,
                ..e
            },
        ),
        Some(e) if now - e.first_seen >= rules.delay => (
            GreyOutcome::Pass,
            GreyEntry {
                first_seen: e.first_seen,
                last_seen: now,
                passed: true,
            },
        ),
        Some(e) => (
            GreyOutcome::Wait {
                retry_in: e.first_seen + rules.delay - now,
            },
            GreyEntry {
                last_seen: now,
                ..e
            },
        ),
        None if client_known && rules.remember_clients => (
            GreyOutcome::Pass,
            GreyEntry {
                first_seen: now,
                last_seen: now,
                passed: true,
            },
        ),
        None => (
            GreyOutcome::Wait {
                retry_in: rules.delay,
            },
            GreyEntry {
                first_seen: now,
                last_seen: now,
                passed: false,
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: GreyRules = GreyRules {
        delay: 300,
        retry_window: 3600,
        max_age: 86_400,
        remember_clients: true,
    };

    #[test]
    fn a_new_triplet_waits_then_passes_and_is_remembered() {
        let (o, e) = step(None, false, 1000, &R);
        assert_eq!(o, GreyOutcome::Wait { retry_in: 300 });
        let (o, e) = step(Some(e), false, 1100, &R);
        assert_eq!(o, GreyOutcome::Wait { retry_in: 200 });
        assert_eq!(
            e.first_seen, 1000,
            "an early retry does not restart the wait"
        );
        let (o, e) = step(Some(e), false, 1300, &R);
        assert_eq!(o, GreyOutcome::Pass);
        assert!(e.passed);
        let (o, _) = step(Some(e), false, 1300 + 80_000, &R);
        assert_eq!(o, GreyOutcome::Pass);
    }

    #[test]
    fn too_late_and_too_old_start_over() {
        let (_, e) = step(None, false, 0, &R);
        let (o, e) = step(Some(e), false, 3601, &R);
        assert_eq!(o, GreyOutcome::Wait { retry_in: 300 });
        assert_eq!(e.first_seen, 3601);
        let passed = GreyEntry {
            first_seen: 0,
            last_seen: 10,
            passed: true,
        };
        let (o, _) = step(Some(passed), false, 10 + 86_401, &R);
        assert_eq!(o, GreyOutcome::Wait { retry_in: 300 });
    }

    #[test]
    fn a_known_client_passes_new_triplets_when_remembered() {
        assert_eq!(step(None, true, 5, &R).0, GreyOutcome::Pass);
        let forgetful = GreyRules {
            remember_clients: false,
            ..R
        };
        assert_eq!(
            step(None, true, 5, &forgetful).0,
            GreyOutcome::Wait { retry_in: 300 }
        );
    }
}
