//! The model reference and the retry policy a turn runs with.

use std::time::Duration;

/// `"<provider>/<model>"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelRef {
    pub provider: String,
    pub model: String,
}

impl ModelRef {
    /// Splits at the first `/` (model names may contain more).
    pub fn parse(text: &str) -> Option<Self> {
        let (provider, model) = text.trim().split_once('/')?;
        (!provider.is_empty() && !model.is_empty())
            .then(|| Self { provider: provider.to_owned(), model: model.to_owned() })
    }
}

impl std::fmt::Display for ModelRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.provider, self.model)
    }
}

/// Attempts per model before moving to the next fallback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 3, base_delay: Duration::from_millis(500), max_delay: Duration::from_secs(30) }
    }
}

impl RetryPolicy {
    /// Delay before attempt `n + 1` (n ≥ 1): the server's `retry-after` if any (capped),
    /// else exponential backoff.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(d) = retry_after {
            return d.min(self.max_delay);
        }
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_refs_and_backoff() {
        let m = ModelRef::parse("ollama/llama3.1:8b").unwrap();
        assert_eq!((m.provider.as_str(), m.model.as_str()), ("ollama", "llama3.1:8b"));
        assert_eq!(ModelRef::parse("openrouter/meta/llama").unwrap().model, "meta/llama");
        assert_eq!(ModelRef::parse("nomodel"), None);
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1, None), Duration::from_millis(500));
        assert_eq!(p.delay(3, None), Duration::from_secs(2));
        assert_eq!(p.delay(1, Some(Duration::from_secs(99))), Duration::from_secs(30));
    }
}
