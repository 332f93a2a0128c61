//! Metric families: one metric name, its help text, its label names and a
//! value per combination of label values.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Label values, in the order of the family's label names.
type Key = Vec<String>;

fn key(labels: &[&str]) -> Key {
    labels.iter().map(|s| (*s).to_owned()).collect()
}

/// Locks a family's values; a panic elsewhere while holding the lock
/// leaves numbers that are still worth showing, so poisoning is ignored.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A monotonically increasing count per label combination (`_total`).
#[derive(Debug)]
pub struct CounterFamily {
    /// Metric name, with its `_total` suffix.
    pub name: &'static str,
    /// The `# HELP` text.
    pub help: &'static str,
    /// Label names.
    pub labels: &'static [&'static str],
    values: Mutex<BTreeMap<Key, u64>>,
}

impl CounterFamily {
    /// A family with no values yet.
    pub const fn new(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
    ) -> Self {
        CounterFamily {
            name,
            help,
            labels,
            values: Mutex::new(BTreeMap::new()),
        }
    }

    /// Adds one for these label values.
    pub fn inc(&self, labels: &[&str]) {
        self.add(labels, 1);
    }

    /// Adds `n` for these label values.
    pub fn add(&self, labels: &[&str], n: u64) {
        *lock(&self.values).entry(key(labels)).or_insert(0) += n;
    }

    /// Makes these label values appear (at zero) before anything happened,
    /// so a scrape shows the series and rates start from the first event.
    pub fn touch(&self, labels: &[&str]) {
        lock(&self.values).entry(key(labels)).or_insert(0);
    }

    /// The count for these label values (0 when never counted).
    pub fn get(&self, labels: &[&str]) -> u64 {
        lock(&self.values).get(&key(labels)).copied().unwrap_or(0)
    }

    /// Every label combination and its count, in label order.
    pub fn snapshot(&self) -> Vec<(Key, u64)> {
        lock(&self.values)
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }
}

/// A value that goes up and down per label combination.
#[derive(Debug)]
pub struct GaugeFamily {
    /// Metric name.
    pub name: &'static str,
    /// The `# HELP` text.
    pub help: &'static str,
    /// Label names.
    pub labels: &'static [&'static str],
    values: Mutex<BTreeMap<Key, i64>>,
}

impl GaugeFamily {
    /// A family with no values yet.
    pub const fn new(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
    ) -> Self {
        GaugeFamily {
            name,
            help,
            labels,
            values: Mutex::new(BTreeMap::new()),
        }
    }

    /// Sets the value for these label values.
    pub fn set(&self, labels: &[&str], v: i64) {
        lock(&self.values).insert(key(labels), v);
    }

    /// Adds `d` (may be negative) to the value for these label values.
    pub fn add(&self, labels: &[&str], d: i64) {
        *lock(&self.values).entry(key(labels)).or_insert(0) += d;
    }

    /// The value for these label values (0 when never set).
    pub fn get(&self, labels: &[&str]) -> i64 {
        lock(&self.values).get(&key(labels)).copied().unwrap_or(0)
    }

    /// Every label combination and its value, in label order.
    pub fn snapshot(&self) -> Vec<(Key, i64)> {
        lock(&self.values)
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }
}

/// Observations counted into fixed buckets per label combination.
#[derive(Debug)]
pub struct HistogramFamily {
    /// Metric name (the `_bucket`, `_sum`, `_count` series derive from it).
    pub name: &'static str,
    /// The `# HELP` text.
    pub help: &'static str,
    /// Label names (`le` is added per bucket).
    pub labels: &'static [&'static str],
    /// Upper bounds of the buckets, ascending; `+Inf` is implied.
    pub bounds: &'static [f64],
    values: Mutex<BTreeMap<Key, Observed>>,
}

/// What one label combination of a histogram has seen.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// Observations per bucket (not cumulative), one more than `bounds`
    /// for the `+Inf` bucket.
    pub buckets: Vec<u64>,
    /// Sum of the observed values.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
}

impl HistogramFamily {
    /// A family with no observations yet.
    pub const fn new(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
        bounds: &'static [f64],
    ) -> Self {
        HistogramFamily {
            name,
            help,
            labels,
            bounds,
            values: Mutex::new(BTreeMap::new()),
        }
    }

    /// Records one observation for these label values.
    pub fn observe(&self, labels: &[&str], v: f64) {
        let mut values = lock(&self.values);
        let o = values.entry(key(labels)).or_insert_with(|| Observed {
            buckets: vec![0; self.bounds.len() + 1],
            ..Observed::default()
        });
        let i = self
            .bounds
            .iter()
            .position(|b| v <= *b)
            .unwrap_or(self.bounds.len());
        o.buckets[i] += 1;
        o.sum += v;
        o.count += 1;
    }

    /// Every label combination and what it has seen, in label order.
    pub fn snapshot(&self) -> Vec<(Key, Observed)> {
        lock(&self.values)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_per_label_combination() {
        let c = CounterFamily::new("x_total", "x", &["a"]);
        c.inc(&["one"]);
        c.add(&["one"], 2);
        c.touch(&["two"]);
        assert_eq!(c.get(&["one"]), 3);
        assert_eq!(c.get(&["two"]), 0);
        assert_eq!(c.snapshot().len(), 2);
    }

    #[test]
    fn histogram_puts_each_value_in_the_first_bucket_that_holds_it() {
        static B: [f64; 2] = [0.1, 1.0];
        let h = HistogramFamily::new("h", "h", &[], &B);
        h.observe(&[], 0.05);
        h.observe(&[], 0.1);
        h.observe(&[], 0.5);
        h.observe(&[], 9.0);
        let (_, o) = &h.snapshot()[0];
        assert_eq!(o.buckets, vec![2, 1, 1]);
        assert_eq!(o.count, 4);
        assert!((o.sum - 9.65).abs() < 1e-9);
    }

    #[test]
    fn gauges_go_both_ways() {
        let g = GaugeFamily::new("g", "g", &["s"]);
        g.add(&["pop3"], 2);
        g.add(&["pop3"], -1);
        assert_eq!(g.get(&["pop3"]), 1);
        g.set(&["pop3"], 7);
        assert_eq!(g.get(&["pop3"]), 7);
    }
}
