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

/// A goal of issue #11 for one metric: what it says, and whether ours meets it (`ratio`: ours
/// over the reference in the same run, when the goal is relative).
struct Goal {
    text: &'static str,
    met: fn(ours: f64, ratio: Option<f64>) -> Option<bool>,
}

fn at_most(limit: f64) -> impl Fn(f64) -> bool {
    move |v| v <= limit
}

/// The issue's goals, keyed by (scenario, metric name).
fn goal_for(m: &Metric) -> Option<Goal> {
    let goal = |text, met| Some(Goal { text, met });
    match (m.scenario, m.name.as_str()) {
        ("startup", "spawn to first hello-ok") => goal("≤ 10 ms", |v, _| Some(at_most(10.0)(v))),
        ("startup", "release binary") => goal("≤ 8 MiB", |v, _| Some(at_most(8.0)(v))),
        ("memory", "idle RSS") => goal("≤ 5 MiB", |v, _| Some(at_most(5.0)(v))),
        ("memory", "per idle connection at 5000") => goal("≤ 4 KiB", |v, _| Some(at_most(4.0)(v))),
        ("handshake", "rate c=32") => goal("≥ 13× reference", |_, r| r.map(|r| r >= 13.0)),
        ("rpc", "health c=16") => goal("≥ 30× reference", |_, r| r.map(|r| r >= 30.0)),
        ("fanout", "1000 clients last receiver p99") => goal("≤ 15 ms", |v, _| Some(at_most(15.0)(v))),
        ("shutdown", n) if n.starts_with("SIGTERM to exit with 1000") => {
            goal("≤ 100 ms", |v, _| Some(at_most(100.0)(v)))
        }
        ("chat completions", "non-streaming: added p50" | "streaming first token: added p50") => {
            goal("≤ 5 ms", |v, _| Some(at_most(5.0)(v)))
        }
        ("agent soak", n) if n.ends_with("growth over 6000 turns") => {
            goal("≤ 8 MiB", |v, _| Some(at_most(8.0)(v)))
        }
        _ => None,
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
    let mut goals = String::new();
    for m in ours {
        let r = reference.and_then(|rs| rs.iter().find(|x| x.key() == m.key()));
        let rv = r.map_or_else(|| "–".to_owned(), |r| fmt_value(r.value));
        let advantage = r.and_then(|r| advantage(m.value, r.value, m.better));
        let ratio = advantage.map_or_else(|| "–".to_owned(), |x| format!("{x:.1}×"));
        let goal = goal_for(m);
        let _ = writeln!(
            s,
            "| {} | {} ({}) | {} | {} | {} | {} |",
            m.scenario,
            m.name,
            m.unit,
            fmt_value(m.value),
            rv,
            ratio,
            goal.as_ref().map_or("", |g| g.text)
        );
        if let Some(g) = goal {
            let verdict = match (g.met)(m.value, advantage) {
                Some(true) => "met",
                Some(false) => "**missed**",
                None => "not measured (needs the reference in the same run)",
            };
            let ours = match advantage {
                Some(x) if g.text.contains("reference") => format!("{x:.1}×"),
                _ => format!("{} {}", fmt_value(m.value), m.unit),
            };
            let _ = writeln!(goals, "| {} {} | {} | {ours} | {verdict} |", m.scenario, m.name, g.text);
        }
    }
    if !goals.is_empty() {
        let _ = writeln!(s, "\n### Goals (issue #11)\n");
        let _ = writeln!(s, "| figure | goal | ours | verdict |");
        let _ = writeln!(s, "|---|---|---:|---|");
        s.push_str(&goals);
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
        assert!(text.contains("| rpc | health c=16 (/s) | 20.0 | 2.00 | 10.0× | ≥ 30× reference |"), "{text}");
        assert!(text.contains("| rpc health c=16 | ≥ 30× reference | 10.0× | **missed** |"), "{text}");
    }
}
