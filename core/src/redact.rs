//! Masking of secrets in log text (lifecycle.md §10.3).
//!
//! A [`Redactor`] holds the compiled patterns of `logging.redactPatterns` (or the default list)
//! and the gateway's own secrets (token, password) as literals. [`Redactor::redact`] masks:
//! * every literal secret, always, even with `redactSensitive: "off"` (the gateway must never
//!   write its own credentials);
//! * for each pattern match, the last non-empty capture group (or the whole match when the
//!   pattern has none) with [`mask_token`]; a PEM private-key block keeps only its first and
//!   last lines around `…redacted…`.
//!
//! Patterns are written for the `regex` crate's syntax (no look-around, no back-references): a
//! configured pattern using those is reported as a [`PatternError`] and skipped.
//!
//! Footprint (issue #11): the patterns are compiled with `regex-automata`'s meta engine without
//! its one-pass DFA (captures are resolved by the bounded backtracker on the match span instead),
//! each lazy-DFA cache is capped at [`LAZY_DFA_CACHE`], and the default list uses ASCII `\b`
//! and `[0-9]` (as JavaScript's `\b` and `\d` are) instead of the Unicode tables: the 29 default
//! patterns take ~0.6 MiB of heap instead of ~1.7 MiB. The default list is compiled once per
//! process, on first use or ahead of it by [`Redactor::prepare_defaults`] (the gateway calls it on
//! a thread of its own at start, so the ~10 ms it takes are not spent before the port is bound),
//! and shared by every [`Redactor`] built from it (a hot reload recompiles nothing).

use std::borrow::Cow;
use std::sync::OnceLock;

use regex_automata::meta::{self, Regex};
use regex_automata::util::syntax;

/// Secrets shorter than this many characters are masked as `***`.
const MIN_MASK_LEN: usize = 18;
/// Characters kept at the start of a longer secret.
const KEEP_START: usize = 6;
/// Characters kept at the end of a longer secret.
const KEEP_END: usize = 4;
const PEM_MARKER: &str = "…redacted…";
/// Bytes of transitions one pattern's lazy DFA may cache (per thread that searches); past it the
/// cache is cleared (and after repeated clears the search falls back to the NFA).
pub const LAZY_DFA_CACHE: usize = 256 * 1024;

/// CLI flag names whose value is a secret (`--token x`, `--api-key=x`).
const FLAG_KEYS: &str = r"api[-_]?key|hook[-_]?token|access[-_]?token|refresh[-_]?token|id[-_]?token|token|secret|password|passwd|credential|private[-_]?key|client[-_]?secret";
/// JSON field names whose string value is a secret.
const JSON_KEYS: &str = r"apiKey|api_key|apiToken|api_token|bearerToken|bearer_token|token|secret|password|passwd|credential|authorization|proxy-authorization|cookie|set-cookie|x-api-key|x-auth-token|accessToken|access_token|refreshToken|refresh_token|idToken|id_token|authToken|auth_token|clientSecret|client_secret|privateKey|private_key";
/// `key=value` names whose value is a secret.
const ASSIGNMENT_KEYS: &str = r"access_token|refresh_token|id_token|auth[-_]?token|hook[-_]?token|api[-_]?key|client[-_]?secret|app[-_]?secret|private[-_]?key|token|secret|password|passwd";

/// The default list, in the reference's order: structured forms first, vendor prefixes last.
/// `(source, case-insensitive)`; the reference compiles bare strings with `gi`.
fn default_sources() -> Vec<(String, bool)> {
    let mut list: Vec<(String, bool)> = vec![
        // FOO_TOKEN=…, API_KEY: "…" (case-sensitive: env names are upper case).
        (
            r#"(?-u:\b)[A-Z0-9_]*(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD)(?-u:\b)\s*[=:]\s*["']?([^\s"'\\]+)"#.into(),
            false,
        ),
        (format!(r#""(?:{JSON_KEYS})"\s*:\s*"([^"]+)""#), true),
        (format!(r#"--(?:{FLAG_KEYS})=([^\s"']+)"#), true),
        (format!(r#"--(?:{FLAG_KEYS})\s+["']?([^\s"']+)"#), true),
        (
            r#"Authorization["']?[ \t]*[:=][ \t]*["']?(?:Bearer|Basic|Bot)[ \t]+([^\s\\"',;&#?<>)}\]]+)"#.into(),
            true,
        ),
        (r"(?-u:\b)Bearer\s+([-A-Za-z0-9._~+/=]{18,})".into(), true),
        (r"(?-u:\b)(?:https?|wss?|ftp)://[^/\s:@]*:([^/\s@]+)@".into(), true),
        (
            format!(r#"(?:^|[\s,;({{\["])(?:{ASSIGNMENT_KEYS})=["'`]?([^\s&#"'`<>]+)"#),
            true,
        ),
        (
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+?-----END [A-Z ]*PRIVATE KEY-----".into(),
            false,
        ),
    ];
    let vendor = [
        r"(?-u:\b)(sk-[A-Za-z0-9_-]{8,})(?-u:\b)",
        r"(ghp_[A-Za-z0-9]{10,})",
        r"(github_pat_[A-Za-z0-9_]{10,})",
        r"(gh[osur]_[A-Za-z0-9]{10,})",
        r"(glpat-[A-Za-z0-9._=\-]{20,})",
        r"(xox[baprs]-[A-Za-z0-9-]{10,})",
        r"(xapp-[A-Za-z0-9-]{10,})",
        r"(gsk_[A-Za-z0-9_-]{10,})",
        r"(AIza[0-9A-Za-z\-_]{20,})",
        r"(ya29\.[0-9A-Za-z_\-./+=]{10,})",
        r"(eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})",
        r"(pplx-[A-Za-z0-9_-]{10,})",
        r"(sk_live_[A-Za-z0-9]{10,})",
        r"(sk_test_[A-Za-z0-9]{10,})",
        r"(npm_[A-Za-z0-9]{10,})",
        r"(pypi-[A-Za-z0-9_-]{10,})",
        r"(hf_[A-Za-z0-9]{10,})",
        r"(?-u:\b)(AKIA[A-Z0-9]{16})(?-u:\b)",
        r"(?-u:\b)bot([0-9]{6,}:[A-Za-z0-9_-]{20,})(?-u:\b)",
        r"(?-u:\b)([0-9]{6,}:[A-Za-z0-9_-]{20,})(?-u:\b)",
    ];
    list.extend(vendor.iter().map(|s| ((*s).to_owned(), true)));
    list
}

/// `logging.redactSensitive`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RedactMode {
    /// No pattern redaction (literal secrets are still masked).
    Off,
    /// The default: patterns apply.
    #[default]
    Tools,
}

impl RedactMode {
    /// `"off"` is off; anything else is the default, as in the reference.
    pub fn parse(value: &str) -> Self {
        if value.trim().eq_ignore_ascii_case("off") {
            Self::Off
        } else {
            Self::Tools
        }
    }
}

/// A configured pattern that could not be compiled.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("logging.redactPatterns[{index}] {pattern:?} is not a usable regex: {message}")]
pub struct PatternError {
    pub index: usize,
    pub pattern: String,
    pub message: String,
}

/// The default list, compiled once per process ([`Patterns::Defaults`]).
static DEFAULTS: OnceLock<Vec<Regex>> = OnceLock::new();

fn defaults() -> &'static [Regex] {
    DEFAULTS.get_or_init(|| {
        default_sources()
            .into_iter()
            .filter_map(|(source, ci)| compile(&source, if ci { "i" } else { "" }).ok())
            .collect()
    })
}

/// Which patterns a [`Redactor`] applies.
#[derive(Clone, Debug)]
enum Patterns {
    /// The default list (`DEFAULTS`, compiled on first use).
    Defaults,
    /// `logging.redactPatterns` as configured (empty with `redactSensitive: "off"`).
    Configured(Vec<Regex>),
}

/// Compiled redaction rules; cheap to share behind an `Arc`.
#[derive(Clone, Debug)]
pub struct Redactor {
    patterns: Patterns,
    /// With the default list: values of fields named like a secret are masked whole.
    field_keys: bool,
    /// Longest first, so a secret containing another is masked whole.
    secrets: Vec<String>,
}

impl Default for Redactor {
    fn default() -> Self {
        Self::new(RedactMode::Tools, None, &[]).0
    }
}

impl Redactor {
    /// `patterns`: `logging.redactPatterns` (`None` or empty: the default list), each
    /// `/source/flags` or a bare source (flags `gi`). `secrets`: literals always masked
    /// (blank ones are ignored). Patterns that do not compile are skipped and returned.
    pub fn new(
        mode: RedactMode,
        patterns: Option<&[String]>,
        secrets: &[String],
    ) -> (Self, Vec<PatternError>) {
        let mut errors = Vec::new();
        let compiled = match (mode, patterns) {
            (RedactMode::Off, _) => Patterns::Configured(Vec::new()),
            (RedactMode::Tools, Some(list)) if !list.is_empty() => Patterns::Configured(list
                .iter()
                .enumerate()
                .filter(|(_, raw)| !raw.trim().is_empty())
                .filter_map(|(index, raw)| {
                    let (source, flags) = split_literal(raw);
                    compile(source, &flags)
                        .map_err(|message| {
                            errors.push(PatternError {
                                index,
                                pattern: raw.clone(),
                                message,
                            });
                        })
                        .ok()
                })
                .collect()),
            (RedactMode::Tools, _) => Patterns::Defaults,
        };
        let field_keys = mode == RedactMode::Tools && patterns.is_none_or(<[String]>::is_empty);
        let mut secrets: Vec<String> = secrets
            .iter()
            .filter(|s| !s.trim().is_empty())
            .cloned()
            .collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        (
            Self {
                patterns: compiled,
                field_keys,
                secrets,
            },
            errors,
        )
    }

    /// Compiles the default list now (a no-op once done): call it off the path that must not
    /// wait; a [`Redactor`] that needs the list meanwhile waits for it instead of compiling twice.
    pub fn prepare_defaults() {
        defaults();
    }

    fn patterns(&self) -> &[Regex] {
        match &self.patterns {
            Patterns::Defaults => defaults(),
            Patterns::Configured(list) => list,
        }
    }

    /// Whether redaction can never change anything (no patterns, no secrets).
    pub fn is_noop(&self) -> bool {
        let no_patterns = matches!(&self.patterns, Patterns::Configured(list) if list.is_empty());
        no_patterns && self.secrets.is_empty()
    }

    /// A structured field's value: masked whole when the field is named like a secret
    /// (`token`, `apiKey`, `password`, … with the default patterns), else [`Self::redact`].
    pub fn redact_field<'a>(&self, key: &str, value: &'a str) -> Cow<'a, str> {
        if self.field_keys && is_secret_key(key) && !value.is_empty() {
            let masked = mask_token(value);
            if masked != value {
                return Cow::Owned(masked);
            }
        }
        self.redact(value)
    }

    /// `text` with every secret masked; borrowed when nothing matched.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), &mask_token(secret)));
            }
        }
        for pattern in self.patterns() {
            if let Cow::Owned(next) = redact_pattern(pattern, &out) {
                out = Cow::Owned(next);
            }
        }
        out
    }
}

/// One of the JSON field names of the default list (case-insensitive).
fn is_secret_key(key: &str) -> bool {
    JSON_KEYS.split('|').any(|k| k.eq_ignore_ascii_case(key))
}

/// `/source/flags` → (source, flags); a bare pattern gets `i` (the reference's `gi`).
fn split_literal(raw: &str) -> (&str, String) {
    if let Some(rest) = raw.strip_prefix('/') {
        if let Some(end) = rest.rfind('/') {
            let flags = &rest[end + 1..];
            if end > 0 && flags.chars().all(|c| "gimsuy".contains(c)) {
                return (&rest[..end], flags.to_owned());
            }
        }
    }
    (raw, "i".to_owned())
}

/// JS flags onto the regex crate's inline flags (`g`, `u`, `y` have no equivalent and need none).
fn compile(source: &str, flags: &str) -> Result<Regex, String> {
    let inline: String = flags
        .chars()
        .filter(|c| matches!(c, 'i' | 'm' | 's'))
        .collect();
    let full = if inline.is_empty() {
        source.to_owned()
    } else {
        format!("(?{inline}){source}")
    };
    let config = meta::Config::new()
        .onepass(false)
        .hybrid_cache_capacity(LAZY_DFA_CACHE);
    Regex::builder()
        .configure(config)
        .syntax(syntax::Config::new())
        .build(&full)
        .map_err(|e| {
            let text = e
                .syntax_error()
                .map_or_else(|| e.to_string(), ToString::to_string);
            text.lines().last().unwrap_or_default().trim().to_owned()
        })
}

fn redact_pattern<'a>(pattern: &Regex, text: &'a str) -> Cow<'a, str> {
    let mut out = String::new();
    let mut last = 0;
    // Spans come from a UTF-8 pattern over a `str`, so they fall on char boundaries.
    let slice = |span: regex_automata::Span| &text[span.start..span.end];
    for caps in pattern.captures_iter(text) {
        let Some(whole) = caps.get_match().map(|m| m.span()) else {
            continue;
        };
        let (start, end, replacement) = if slice(whole).contains("PRIVATE KEY-----") {
            (whole.start, whole.end, mask_pem(slice(whole)))
        } else {
            let secret = (1..caps.group_len())
                .rev()
                .find_map(|i| caps.get_group(i).filter(|span| !span.is_empty()));
            let secret = secret.unwrap_or(whole);
            let (value, suffix) = split_trailing_delimiters(slice(secret));
            let masked = mask_token(value);
            if masked == value {
                continue;
            }
            (secret.start, secret.end, format!("{masked}{suffix}"))
        };
        out.push_str(&text[last..start]);
        out.push_str(&replacement);
        last = end;
    }
    if last == 0 && out.is_empty() {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[last..]);
    Cow::Owned(out)
}

/// A captured value loses trailing quotes and closing punctuation to the mask's suffix.
fn split_trailing_delimiters(value: &str) -> (&str, &str) {
    let trimmed = value.trim_end_matches(['"', '\'', '`', ',', ';', ')', '}', ']']);
    if trimmed.is_empty() {
        (value, "")
    } else {
        value.split_at(trimmed.len())
    }
}

/// Shorter than 18 characters → `***`; else the first 6, `…`, the last 4.
pub fn mask_token(token: &str) -> String {
    if token == "***" {
        return token.to_owned();
    }
    let count = token.chars().count();
    if count < MIN_MASK_LEN {
        return "***".to_owned();
    }
    let head: String = token.chars().take(KEEP_START).collect();
    let tail: String = token.chars().skip(count - KEEP_END).collect();
    format!("{head}…{tail}")
}

/// First line, `…redacted…`, last line (`***` for a one-line block).
fn mask_pem(block: &str) -> String {
    let lines: Vec<&str> = block
        .split('\n')
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.is_empty())
        .collect();
    match (lines.first(), lines.last()) {
        (Some(first), Some(last)) if lines.len() >= 2 => format!("{first}\n{PEM_MARKER}\n{last}"),
        _ => "***".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(text: &str) -> String {
        Redactor::default().redact(text).into_owned()
    }

    #[test]
    fn mask_lengths() {
        assert_eq!(mask_token("short-secret"), "***");
        assert_eq!(mask_token("12345678901234567"), "***");
        assert_eq!(mask_token("123456789012345678"), "123456…5678");
        assert_eq!(mask_token("äöüäöüäöüäöüäöüäöü"), "äöüäöü…üäöü");
    }

    #[test]
    fn default_patterns_table() {
        let long = "abcdefghijklmnopqrstuvwxyz0123";
        let cases: Vec<(String, String)> = vec![
            (
                format!("OPENAI_API_KEY={long}"),
                "OPENAI_API_KEY=abcdef…0123".into(),
            ),
            ("MY_TOKEN=short".into(), "MY_TOKEN=***".into()),
            (
                format!("export GITHUB_TOKEN=\"{long}\""),
                "export GITHUB_TOKEN=\"abcdef…0123\"".into(),
            ),
            (
                format!("{{\"apiKey\":\"{long}\",\"x\":1}}"),
                "{\"apiKey\":\"abcdef…0123\",\"x\":1}".into(),
            ),
            (
                "{\"password\": \"hunter2\"}".into(),
                "{\"password\": \"***\"}".into(),
            ),
            (
                format!("openclaw gateway --token {long} --port 1"),
                "openclaw gateway --token abcdef…0123 --port 1".into(),
            ),
            ("run --password=pw123".into(), "run --password=***".into()),
            (
                format!("Authorization: Bearer {long}"),
                "Authorization: Bearer abcdef…0123".into(),
            ),
            (
                format!("sent bearer {long} upstream"),
                "sent bearer abcdef…0123 upstream".into(),
            ),
            (format!("key sk-{long} used"), "key sk-abc…0123 used".into()),
            ("key sk-12345678 used".into(), "key *** used".into()),
            (format!("ghp_{long}"), "ghp_ab…0123".into()),
            (
                format!("url https://user:{long}@example.com/x"),
                "url https://user:abcdef…0123@example.com/x".into(),
            ),
            (
                format!("q token={long}&x=1"),
                "q token=abcdef…0123&x=1".into(),
            ),
            (
                "telegram 123456789:AAbbccddeeffgghhiijjkkll".into(),
                "telegram 123456…kkll".into(),
            ),
            ("nothing to see here".into(), "nothing to see here".into()),
        ];
        for (input, expected) in cases {
            assert_eq!(redact(&input), expected, "input: {input}");
        }
    }

    #[test]
    fn pem_blocks_keep_first_and_last_line() {
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nAAAA\n-----END RSA PRIVATE KEY-----";
        assert_eq!(
            redact(&format!("key: {pem} done")),
            "key: -----BEGIN RSA PRIVATE KEY-----\n…redacted…\n-----END RSA PRIVATE KEY----- done"
        );
    }

    #[test]
    fn literal_secrets_are_masked_even_when_off() {
        let token = "my-gateway-token-value-42";
        let (r, errors) = Redactor::new(RedactMode::Off, None, &[token.to_owned(), " ".into()]);
        assert!(errors.is_empty());
        assert_eq!(
            r.redact(&format!("connect with {token}!")),
            "connect with my-gat…e-42!"
        );
        assert_eq!(
            r.redact("OPENAI_API_KEY=abcdefghijklmnopqrstuvwxyz"),
            "OPENAI_API_KEY=abcdefghijklmnopqrstuvwxyz"
        );
        let (r, _) = Redactor::new(RedactMode::Off, None, &["pw".to_owned()]);
        assert_eq!(r.redact("password is pw"), "password is ***");
    }

    #[test]
    fn configured_patterns_replace_the_defaults() {
        let patterns = vec![
            "/secret-(\\w+)/".to_owned(),
            "code=(\\d+)".to_owned(),
            "(?<=x)y".to_owned(),
        ];
        let (r, errors) = Redactor::new(RedactMode::Tools, Some(&patterns), &[]);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].index, 2);
        assert_eq!(r.redact("a secret-abc b"), "a secret-*** b");
        // Flags: the /…/ form without `i` is case-sensitive, a bare pattern is not.
        assert_eq!(r.redact("a SECRET-abc CODE=123"), "a SECRET-abc CODE=***");
        // The defaults are gone.
        assert_eq!(r.redact("OPENAI_API_KEY=abc"), "OPENAI_API_KEY=abc");
    }

    #[test]
    fn fields_named_like_secrets_are_masked_whole() {
        let r = Redactor::default();
        assert_eq!(r.redact_field("token", "abc"), "***");
        assert_eq!(
            r.redact_field("apiKey", "abcdefghijklmnopqrstuvwxyz"),
            "abcdef…wxyz"
        );
        assert_eq!(r.redact_field("PASSWORD", "pw"), "***");
        assert_eq!(r.redact_field("conn", "abc"), "abc");
        assert_eq!(r.redact_field("conn", "MY_TOKEN=abc"), "MY_TOKEN=***");
        let (off, _) = Redactor::new(RedactMode::Off, None, &[]);
        assert_eq!(off.redact_field("token", "abc"), "abc");
    }

    #[test]
    fn split_literal_forms() {
        assert_eq!(split_literal("/a+/gm"), ("a+", "gm".to_owned()));
        assert_eq!(split_literal("a+"), ("a+", "i".to_owned()));
        assert_eq!(split_literal("/path/to"), ("/path/to", "i".to_owned()));
    }

    #[test]
    fn unchanged_text_is_borrowed() {
        assert!(matches!(
            Redactor::default().redact("plain"),
            Cow::Borrowed(_)
        ));
    }
}
