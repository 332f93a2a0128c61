//! The Prometheus text exposition format, version 0.0.4: `# HELP` and
//! `# TYPE` lines, then one `name{labels} value` line per series.

use crate::family::{CounterFamily, GaugeFamily, HistogramFamily};
use std::fmt::Write;

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Escapes a label value: backslash, double quote and line feed.
fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// `{a="x",b="y"}`, or nothing for no labels; `extra` is appended (`le`).
fn labels(names: &[&str], values: &[String], extra: Option<(&str, &str)>) -> String {
    let mut pairs: Vec<String> = names
        .iter()
        .zip(values)
        .map(|(n, v)| format!("{n}=\"{}\"", escape_label(v)))
        .collect();
    if let Some((n, v)) = extra {
        pairs.push(format!("{n}=\"{}\"", escape_label(v)));
    }
    if pairs.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", pairs.join(","))
    }
}

fn head(out: &mut String, name: &str, help: &str, kind: &str) {
    // HELP text escapes backslash and line feed only.
    let help = help.replace('\\', "\\\\").replace('\n', "\\n");
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A float as Prometheus writes it (`+Inf`, integers without a point are
/// fine too).
fn float(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{v}")
    }
}

/// Writes a counter family. A family without labels shows 0 before its
/// first event, so the series exists from the first scrape.
pub fn counter(out: &mut String, f: &CounterFamily) {
    head(out, f.name, f.help, "counter");
    let mut values = f.snapshot();
    if values.is_empty() && f.labels.is_empty() {
        values.push((Vec::new(), 0));
    }
    for (k, v) in values {
        let _ = writeln!(out, "{}{} {v}", f.name, labels(f.labels, &k, None));
    }
}

/// Writes a gauge family (see [`counter`] for the unlabelled zero).
pub fn gauge(out: &mut String, f: &GaugeFamily) {
    head(out, f.name, f.help, "gauge");
    let mut values = f.snapshot();
    if values.is_empty() && f.labels.is_empty() {
        values.push((Vec::new(), 0));
    }
    for (k, v) in values {
        let _ = writeln!(out, "{}{} {v}", f.name, labels(f.labels, &k, None));
    }
}

/// Writes a histogram family: cumulative `_bucket` lines ending in
/// `le="+Inf"`, then `_sum` and `_count`.
pub fn histogram(out: &mut String, f: &HistogramFamily) {
    head(out, f.name, f.help, "histogram");
    for (k, o) in f.snapshot() {
        let mut cumulative = 0;
        for (i, n) in o.buckets.iter().enumerate() {
            cumulative += n;
            let le = f
                .bounds
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |b| float(*b));
            let _ = writeln!(
                out,
                "{}_bucket{} {cumulative}",
                f.name,
                labels(f.labels, &k, Some(("le", &le)))
            );
        }
        let l = labels(f.labels, &k, None);
        let _ = writeln!(out, "{}_sum{l} {}", f.name, float(o.sum));
        let _ = writeln!(out, "{}_count{l} {}", f.name, o.count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_lines_carry_escaped_labels() {
        let c = CounterFamily::new("x_total", "Things.", &["why"]);
        c.inc(&["a \"b\"\\\n"]);
        let mut out = String::new();
        counter(&mut out, &c);
        assert_eq!(
            out,
            "# HELP x_total Things.\n# TYPE x_total counter\nx_total{why=\"a \\\"b\\\"\\\\\\n\"} 1\n"
        );
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_end_in_inf() {
        static B: [f64; 2] = [0.5, 1.0];
        let h = HistogramFamily::new("h_seconds", "H.", &["op"], &B);
        h.observe(&["x"], 0.25);
        h.observe(&["x"], 2.0);
        let mut out = String::new();
        histogram(&mut out, &h);
        assert!(out.contains("h_seconds_bucket{op=\"x\",le=\"0.5\"} 1\n"));
        assert!(out.contains("h_seconds_bucket{op=\"x\",le=\"1\"} 1\n"));
        assert!(out.contains("h_seconds_bucket{op=\"x\",le=\"+Inf\"} 2\n"));
        assert!(out.contains("h_seconds_sum{op=\"x\"} 2.25\n"));
        assert!(out.contains("h_seconds_count{op=\"x\"} 2\n"));
    }

    #[test]
    fn an_unlabelled_counter_shows_zero_before_its_first_event() {
        let c = CounterFamily::new("q_total", "Q.", &[]);
        let mut out = String::new();
        counter(&mut out, &c);
        assert!(out.ends_with("q_total 0\n"));
    }
}
