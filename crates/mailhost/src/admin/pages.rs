//! Lists a page at a time: a page holds up to `limit` items after the
//! cursor, and the cursor of the next page is the key of its last item, so
//! adding or removing items between requests neither repeats nor skips
//! the others. Mailboxes and aliases are paged by the store itself
//! ([`super::accounts::page`], [`super::aliases::page`] over
//! `Store::account_page`, `alias_page`: an index range); [`page`] pages a
//! list already in memory.

/// Most items a page may hold, whatever is asked.
pub const MAX_LIMIT: usize = 1000;
/// Items in a page when no limit is asked.
pub const DEFAULT_LIMIT: usize = 100;

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items, in key order.
    pub items: Vec<T>,
    /// The cursor of the next page, `None` on the last one.
    pub next: Option<String>,
}

/// `limit` as a page size: [`DEFAULT_LIMIT`] when not asked, else within
/// 1..=[`MAX_LIMIT`].
pub fn clamp(limit: Option<usize>) -> usize {
    limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
}

/// The page of `items` after `cursor` (keys compared as text, which is the
/// order the page is in), at most `limit` long (clamped to 1..=MAX_LIMIT).
pub fn page<T>(
    mut items: Vec<T>,
    key: impl Fn(&T) -> String,
    limit: Option<usize>,
    cursor: Option<&str>,
) -> Page<T> {
    let limit = clamp(limit);
    items.sort_by_key(|t| key(t));
    let mut rest: Vec<T> = match cursor {
        Some(c) => items.into_iter().filter(|t| key(t).as_str() > c).collect(),
        None => items,
    };
    let next = (rest.len() > limit).then(|| key(&rest[limit - 1]));
    rest.truncate(limit);
    Page { items: rest, next }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_cover_everything_once() {
        let all: Vec<String> = (0..25).map(|i| format!("u{i:02}")).collect();
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let p = page(all.clone(), |s| s.clone(), Some(10), cursor.as_deref());
            assert!(p.items.len() <= 10);
            seen.extend(p.items);
            match p.next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
        assert_eq!(seen, all);
        assert_eq!(
            page(all.clone(), |s| s.clone(), Some(0), None).items.len(),
            1
        );
        assert_eq!(page(all, |s| s.clone(), Some(25), None).next, None);
    }
}
