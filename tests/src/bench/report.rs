//! Folds the runs into medians and writes `BENCHMARKS.md`: machine, versions, command, and one
//! table with ours, the reference and the ratio side by side.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::stats::{median, Better, Metric};

/// Medians per (scenario, name) over runs, keeping the first-seen order.
pub fn medians(runs: &[Vec<Metric>]) -> Vec<Metric> {
    let mut order: Vec<(String, String)> = Vec::new();
    let mut values: BTreeMap<(String, String), (Metric, Vec<f64>)> = BTreeMap::new();
    for m in runs.iter().flatten() {
        let key = m.key();
        if !values.contains_key(&key) {
            order.push(key.clone());
        }
        values.entry(key).or_insert_with(|| (m.clone(), Vec::new())).1.push(m.value);
    }
    order
        .into_iter()
        .filter_map(|k| values.remove(&k))
        .map(|(mut m, mut vs)| {
            m.value = median(&mut vs);
            m
        })
        .collect()
}

/// How much better ours is (> 1 means better), by the metric's direction.
pub fn advantage(ours: f64, reference: f64, better: Better) -> Option<f64> {
    match better {
        Better::Lower if ours > 0.0 => Some(reference / ours),
        Better::Higher if reference > 0.0 => Some(ours / reference),
        Better::Lower | Better::Higher => None,
    }
}

/// The issue's targets, keyed by (scenario, metric name).
fn target_for(m: &Metric) -> &'static str {
    match (m.scenario, m.name.as_str()) {
        ("startup", "spawn to first hello-ok") => "≤ 50 ms",
        ("memory", "idle RSS") => "≤ 20 MiB",
        ("memory", "per idle connection at 5000") => "≤ 4 KiB",
        ("handshake", "rate c=32") => "≥ 10× reference",
        ("rpc", "health c=16") => "≥ 25× reference",
        ("fanout", "1000 clients last receiver p99") => "≤ 15 ms",
        ("shutdown", n) if n.starts_with("SIGTERM to exit with 1000") => "≤ 100 ms",
        _ => "",
    }
}

pub struct Header {
    pub machine: String,
    pub ours_version: String,
    pub reference_version: String,
    pub command: String,
    pub runs: usize,
    pub date: String,
}

pub fn render(h: &Header, ours: &[Metric], reference: Option<&[Metric]>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Benchmarks\n");
    let _ = writeln!(s, "Written by `openclaw-bench` ({}). Do not edit by hand; rerun:\n", h.date);
    let _ = writeln!(s, "```\n{}\n```\n", h.command);
    let _ = writeln!(s, "- Machine: {}", h.machine);
    let _ = writeln!(s, "- Ours: {} (release build)", h.ours_version);
    let _ = writeln!(s, "- Reference: {}", h.reference_version);
    let _ = writeln!(s, "- Each figure is the median of {} runs; client and server share the machine.", h.runs);
    let _ = writeln!(s, "- Ratio: how many times better ours is (>1 = ours better), by each metric's direction.\n");
    let _ = writeln!(s, "| scenario | metric | ours | reference | ratio | target |");
    let _ = writeln!(s, "|---|---|---:|---:|---:|---|");
    for m in ours {
        let r = reference.and_then(|rs| rs.iter().find(|x| x.key() == m.key()));
        let rv = r.map_or_else(|| "–".to_owned(), |r| fmt_value(r.value));
        let ratio = r
            .and_then(|r| advantage(m.value, r.value, m.better))
            .map_or_else(|| "–".to_owned(), |x| format!("{x:.1}×"));
        let _ = writeln!(
            s,
            "| {} | {} ({}) | {} | {} | {} | {} |",
            m.scenario,
            m.name,
            m.unit,
            fmt_value(m.value),
            rv,
            ratio,
            target_for(m)
        );
    }
    s
}

fn fmt_value(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_ratios() {
        let run = |v: f64| vec![Metric::new("rpc", "health c=16", "/s", v, Better::Higher)];
        let m = medians(&[run(10.0), run(30.0), run(20.0)]);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].value, 20.0);
        assert_eq!(advantage(100.0, 10.0, Better::Higher), Some(10.0));
        assert_eq!(advantage(2.0, 10.0, Better::Lower), Some(5.0));
        let text = render(
            &Header {
                machine: "m".into(),
                ours_version: "0".into(),
                reference_version: "r".into(),
                command: "c".into(),
                runs: 3,
                date: "d".into(),
            },
            &m,
            Some(&[Metric::new("rpc", "health c=16", "/s", 2.0, Better::Higher)]),
        );
        assert!(text.contains("| rpc | health c=16 (/s) | 20.0 | 2.00 | 10.0× | ≥ 25× reference |"), "{text}");
    }
}
