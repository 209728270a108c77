//! Percentiles, medians and the metric record.

use std::time::Duration;

/// Which direction is better for a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
}

/// One measured figure.
#[derive(Clone, Debug)]
pub struct Metric {
    pub scenario: &'static str,
    pub name: String,
    pub unit: &'static str,
    pub value: f64,
    pub better: Better,
}

impl Metric {
    pub fn new(scenario: &'static str, name: impl Into<String>, unit: &'static str, value: f64, better: Better) -> Self {
        Self { scenario, name: name.into(), unit, value, better }
    }

    pub fn ms(scenario: &'static str, name: impl Into<String>, d: Duration) -> Self {
        Self::new(scenario, name, "ms", d.as_secs_f64() * 1000.0, Better::Lower)
    }

    pub fn key(&self) -> (String, String) {
        (self.scenario.to_owned(), self.name.clone())
    }
}

/// The `p`-th percentile (0..=100) of `samples` (nearest rank).
pub fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort_unstable();
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

/// The median of `values` (0 when empty).
pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_median() {
        let mut s: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&mut s, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&mut s, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&mut s, 100.0), Duration::from_millis(100));
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
