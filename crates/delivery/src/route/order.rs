//! Pure MX bookkeeping: null MX detection and the order to try exchanges in.

use rand::Rng;
use rand::seq::SliceRandom;

/// Most MX hosts a route lists; the rest are dropped after ordering.
pub const MAX_MX_HOSTS: usize = 10;

/// What an MX answer means once the records are read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum MxSet {
    /// RFC 7505: the domain accepts no mail.
    Null,
    /// Exchanges (lower-case, no trailing dot) with their preference, in the
    /// order to try, at most [`MAX_MX_HOSTS`].
    Hosts(Vec<(u16, String)>),
}

/// Orders MX records per RFC 5321 §5.1: lowest preference first, random
/// order among equal preferences (so load spreads over equal hosts), one
/// entry per exchange (its lowest preference wins).
///
/// `records` are `(preference, exchange)` with the exchange as DNS gave it,
/// trailing dot or not. An exchange of `.` (the root) is RFC 7505's null MX:
/// when every record is one, the domain takes no mail. RFC 7505 says a null MX
/// is the only MX record, with preference 0; a domain that breaks that rule
/// by also listing real exchanges gets its real exchanges used and the root
/// entries ignored (never "delivered" to the root), and a lone root MX with a
/// non-zero preference still counts as null.
pub(crate) fn order_mx(records: &[(u16, String)], rng: &mut impl Rng) -> MxSet {
    let mut hosts: Vec<(u16, String)> = records
        .iter()
        .map(|(pref, host)| (*pref, host.trim_end_matches('.').to_ascii_lowercase()))
        .filter(|(_, host)| !host.is_empty())
        .collect();
    if hosts.is_empty() {
        return MxSet::Null;
    }
    // Shuffle, then a stable sort by preference: equal preferences keep the
    // random order.
    hosts.shuffle(rng);
    hosts.sort_by_key(|(pref, _)| *pref);
    let mut seen = std::collections::HashSet::new();
    hosts.retain(|(_, host)| seen.insert(host.clone()));
    hosts.truncate(MAX_MX_HOSTS);
    MxSet::Hosts(hosts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recs(list: &[(u16, &str)]) -> Vec<(u16, String)> {
        list.iter().map(|(p, h)| (*p, h.to_string())).collect()
    }

    #[test]
    fn sorts_by_preference_and_normalises() {
        let mut rng = rand::thread_rng();
        let got = order_mx(
            &recs(&[(20, "B.example."), (5, "a.example."), (10, "c.example")]),
            &mut rng,
        );
        assert_eq!(
            got,
            MxSet::Hosts(recs(&[
                (5, "a.example"),
                (10, "c.example"),
                (20, "b.example")
            ]))
        );
    }

    #[test]
    fn null_mx() {
        let mut rng = rand::thread_rng();
        assert_eq!(order_mx(&recs(&[(0, ".")]), &mut rng), MxSet::Null);
        assert_eq!(order_mx(&recs(&[(10, "")]), &mut rng), MxSet::Null);
        // A root entry next to a real one is ignored, not delivered to.
        assert_eq!(
            order_mx(&recs(&[(0, "."), (10, "mx.example.")]), &mut rng),
            MxSet::Hosts(recs(&[(10, "mx.example")]))
        );
    }

    #[test]
    fn duplicates_keep_lowest_preference_and_cap() {
        let mut rng = rand::thread_rng();
        let got = order_mx(&recs(&[(30, "mx.example."), (10, "MX.example.")]), &mut rng);
        assert_eq!(got, MxSet::Hosts(recs(&[(10, "mx.example")])));

        let many: Vec<(u16, String)> = (0..25).map(|i| (i, format!("mx{i}.example."))).collect();
        match order_mx(&many, &mut rng) {
            MxSet::Hosts(h) => {
                assert_eq!(h.len(), MAX_MX_HOSTS);
                assert_eq!(h[0], (0, "mx0.example".to_string()));
                assert_eq!(h[9], (9, "mx9.example".to_string()));
            }
            MxSet::Null => panic!("not null"),
        }
    }

    #[test]
    fn equal_preferences_are_shuffled() {
        let mut rng = rand::thread_rng();
        let records = recs(&[(10, "a."), (10, "b."), (5, "first.")]);
        let mut firsts = std::collections::HashSet::new();
        for _ in 0..200 {
            let MxSet::Hosts(h) = order_mx(&records, &mut rng) else {
                panic!("not null")
            };
            assert_eq!(h[0].1, "first");
            firsts.insert(h[1].1.clone());
        }
        assert_eq!(firsts.len(), 2, "both orders of a/b should appear");
    }
}
