//! The languages of the texts users read: POP3 replies (RFC 6856), bounces,
//! quota warnings. One type for all of them, so a user's choice means the
//! same everywhere.

/// A language for the texts users read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Language {
    /// English (`en`), the default.
    #[default]
    En,
    /// Thai (`th`).
    Th,
    /// Chinese, simplified script (`zh`).
    Zh,
}

impl Language {
    /// Every language this crate has texts for.
    pub const ALL: [Language; 3] = [Language::En, Language::Th, Language::Zh];

    /// The language tag (RFC 5646).
    pub fn tag(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Th => "th",
            Language::Zh => "zh",
        }
    }

    /// The language's name in itself, for the LANG listing.
    pub fn name(self) -> &'static str {
        match self {
            Language::En => "English",
            Language::Th => "ไทย",
            Language::Zh => "中文",
        }
    }

    /// Parses a tag (`en`, `th`, `zh`), ignoring case.
    pub fn from_tag(tag: &str) -> Option<Language> {
        Language::ALL
            .into_iter()
            .find(|l| l.tag().eq_ignore_ascii_case(tag))
    }

    /// RFC 4647 section 3.4 lookup: the language of `available` that the
    /// range `range` (e.g. `zh-Hans-CN`, `TH`) asks for, trying the range
    /// and then ever shorter prefixes of it. `*` is handled by the caller.
    pub fn lookup(range: &str, available: &[Language]) -> Option<Language> {
        let mut range = range;
        loop {
            if let Some(l) = available
                .iter()
                .copied()
                .find(|l| l.tag().eq_ignore_ascii_case(range))
            {
                return Some(l);
            }
            let cut = range.rfind('-')?;
            range = &range[..cut];
            // A single-letter subtag (an extension or private-use singleton)
            // goes together with the subtag after it.
            if range.len() >= 2 && range.as_bytes()[range.len() - 2] == b'-' {
                range = &range[..range.len() - 2];
            }
        }
    }
}

/// The language tag, as [`Language::tag`].
impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.tag())
    }
}

#[cfg(test)]
mod tests {
    use super::Language;

    #[test]
    fn lookup_follows_rfc4647() {
        let all = &Language::ALL;
        assert_eq!(Language::lookup("th", all), Some(Language::Th));
        assert_eq!(Language::lookup("TH", all), Some(Language::Th));
        assert_eq!(Language::lookup("zh-Hans-CN", all), Some(Language::Zh));
        assert_eq!(Language::lookup("zh-x-private", all), Some(Language::Zh));
        assert_eq!(Language::lookup("en-US", all), Some(Language::En));
        assert_eq!(Language::lookup("fr", all), None);
        assert_eq!(Language::lookup("fr-th", all), None);
        assert_eq!(Language::lookup("th", &[Language::En]), None);
        assert_eq!(Language::from_tag("ZH"), Some(Language::Zh));
    }
}
