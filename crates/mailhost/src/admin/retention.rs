//! Retention settings as administrators give them: a number of days,
//! "never", or "inherit" the level above; and a change of some of them.

use super::AdminError;
use praisani_store::{Keep, Retention};

/// A retention period that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid period {0:?} (a number of days, or \"never\")")]
pub struct InvalidPeriod(pub String);

/// A retention period: "30" or "30d" (days), "never" / "forever", or
/// "inherit".
pub fn parse_keep(text: &str) -> Result<Keep, InvalidPeriod> {
    match text.trim().to_ascii_lowercase().as_str() {
        "never" | "forever" => Ok(Keep::Forever),
        "inherit" => Ok(Keep::Inherit),
        t => t
            .trim_end_matches('d')
            .parse::<u32>()
            .map(Keep::Days)
            .map_err(|_| InvalidPeriod(text.to_string())),
    }
}

/// The settings of a [`Retention`] to change; `None` leaves one as it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetentionChange {
    /// The new [`Retention::after_retrieval`].
    pub after_retrieval: Option<Keep>,
    /// The new [`Retention::max_age`].
    pub max_age: Option<Keep>,
}

impl RetentionChange {
    /// `current` with this change made; a change of nothing is refused
    /// ([`AdminError::NoRetentionChange`]).
    pub fn apply(self, current: Retention) -> Result<Retention, AdminError> {
        if self.after_retrieval.is_none() && self.max_age.is_none() {
            return Err(AdminError::NoRetentionChange);
        }
        Ok(Retention {
            after_retrieval: self.after_retrieval.unwrap_or(current.after_retrieval),
            max_age: self.max_age.unwrap_or(current.max_age),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods() {
        assert_eq!(parse_keep("30"), Ok(Keep::Days(30)));
        assert_eq!(parse_keep(" 7d "), Ok(Keep::Days(7)));
        assert_eq!(parse_keep("0"), Ok(Keep::Days(0)));
        assert_eq!(parse_keep("Never"), Ok(Keep::Forever));
        assert_eq!(parse_keep("forever"), Ok(Keep::Forever));
        assert_eq!(parse_keep("inherit"), Ok(Keep::Inherit));
        let e = parse_keep("soon").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid period \"soon\" (a number of days, or \"never\")"
        );
    }

    #[test]
    fn a_change_keeps_what_it_does_not_name() {
        let current = Retention {
            after_retrieval: Keep::Days(3),
            max_age: Keep::Forever,
        };
        let change = RetentionChange {
            max_age: Some(Keep::Inherit),
            ..RetentionChange::default()
        };
        assert_eq!(
            change.apply(current).unwrap(),
            Retention {
                after_retrieval: Keep::Days(3),
                max_age: Keep::Inherit
            }
        );
        assert!(matches!(
            RetentionChange::default().apply(current),
            Err(AdminError::NoRetentionChange)
        ));
    }
}
