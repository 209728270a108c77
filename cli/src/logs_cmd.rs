//! `openclaw logs`: tail the gateway's file log through `logs.tail` (lifecycle.md §9.2), with
//! the reference CLI's output shapes:
//! * text: `Log file: <path>`, then `<time> <level> <subsystem> <message>` per line (plain: the
//!   local ISO time; on a terminal: `HH:MM:SS+offset` and colours), notices on stderr;
//! * `--json`: one object per line on stdout, `{"type":"meta",…}` first, then `log`, `raw` and
//!   `notice` objects; a failure is one `{"type":"error",…}` object on stderr.
//!
//! `--follow` polls with the returned cursor every `--interval` ms and reconnects (with
//! notices) when the gateway goes away for a while.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use chrono::{DateTime, Local, SecondsFormat, Utc};
use openclaw_io::client::{Client, ClientError};
use serde_json::{json, Map, Value};

use crate::args::LogsArgs;
use crate::client_cmd::{ErrorReport, Target};

const READ_SCOPES: &[&str] = &["operator.read"];
const TRUNCATED: &str = "Log tail truncated (increase --limit or --max-bytes).";
const HINT: &str = "Hint: run `openclaw doctor`.";
/// Reconnect attempts while following, as the reference (1 s doubling to 30 s).
const MAX_FOLLOW_RETRIES: u32 = 8;
/// The gateway refuses more (protocol.md §5.11).
const MAX_LIMIT: u32 = 5000;
const MAX_BYTES: u32 = 1_000_000;

/// A log line as the reference's `parseLogLine` reads it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedLine {
    pub time: Option<String>,
    pub level: Option<String>,
    pub subsystem: Option<String>,
    pub module: Option<String>,
    pub plugin: Option<String>,
    pub message: String,
    pub raw: String,
}

/// `None` for a line that is not a JSON object.
pub fn parse_log_line(raw: &str) -> Option<ParsedLine> {
    let value: Value = serde_json::from_str(raw).ok()?;
    let obj = value.as_object()?;
    let meta = obj.get("_meta").and_then(Value::as_object);
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let meta_name = meta.and_then(|m| m.get("name"));
    let from_meta = binding(meta_name);
    let context = if meta_name.is_some() && meta_name == obj.get("0") {
        from_meta
    } else {
        let positional = binding(obj.get("0"));
        Binding {
            subsystem: from_meta.subsystem.or(positional.subsystem),
            module: from_meta.module.or(positional.module),
            plugin: from_meta.plugin.or(positional.plugin),
        }
    };
    let level = text(meta.and_then(|m| m.get("logLevelName"))).or_else(|| text(obj.get("level")));
    Some(ParsedLine {
        time: text(obj.get("time")).or_else(|| text(meta.and_then(|m| m.get("date")))),
        level: level
            .map(|l| l.trim().to_lowercase())
            .filter(|l| !l.is_empty()),
        subsystem: context.subsystem.or_else(|| text(obj.get("subsystem"))),
        module: context.module,
        plugin: context.plugin,
        message: text(obj.get("message")).unwrap_or_else(|| positional_message(obj)),
        raw: raw.to_owned(),
    })
}

#[derive(Default)]
struct Binding {
    subsystem: Option<String>,
    module: Option<String>,
    plugin: Option<String>,
}

/// `{"subsystem":…}` encoded in a string (tslog's logger name).
fn binding(raw: Option<&Value>) -> Binding {
    let Some(raw) = raw
        .and_then(Value::as_str)
        .filter(|s| s.trim_start().starts_with('{'))
    else {
        return Binding::default();
    };
    let Ok(Value::Object(parsed)) = serde_json::from_str::<Value>(raw) else {
        return Binding::default();
    };
    let get = |k: &str| parsed.get(k).and_then(Value::as_str).map(str::to_owned);
    Binding {
        subsystem: get("subsystem"),
        module: get("module"),
        plugin: get("plugin"),
    }
}

/// The numeric-keyed arguments joined by spaces (objects JSON-encoded).
fn positional_message(obj: &Map<String, Value>) -> String {
    let mut keyed: Vec<(u64, &Value)> = obj
        .iter()
        .filter(|(k, _)| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|(k, v)| Some((k.parse::<u64>().ok()?, v)))
        .collect();
    keyed.sort_by_key(|(k, _)| *k);
    keyed
        .into_iter()
        .filter_map(|(_, v)| match v {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other @ (Value::Bool(_) | Value::Number(_) | Value::Array(_) | Value::Object(_)) => {
                Some(other.to_string())
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl ParsedLine {
    /// `{"type":"log",time,level,subsystem,module,plugin,message,raw}` without absent keys.
    fn to_json(&self) -> Value {
        let mut v = Map::new();
        v.insert("type".into(), json!("log"));
        for (key, value) in [
            ("time", &self.time),
            ("level", &self.level),
            ("subsystem", &self.subsystem),
            ("module", &self.module),
            ("plugin", &self.plugin),
        ] {
            if let Some(value) = value {
                v.insert(key.into(), json!(value));
            }
        }
        v.insert("message".into(), json!(self.message));
        v.insert("raw".into(), json!(self.raw));
        Value::Object(v)
    }
}

/// How text lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Terminal output: short times, and colours when `rich`.
    pub pretty: bool,
    pub rich: bool,
    /// `--utc`: times in UTC instead of the local zone.
    pub utc: bool,
}

/// One text line: `<time> <level> <label> <message>`, empty parts left out.
pub fn format_line(raw: &str, style: Style) -> String {
    let Some(parsed) = parse_log_line(raw) else {
        return raw.to_owned();
    };
    let label = parsed
        .subsystem
        .clone()
        .or(parsed.module.clone())
        .or(parsed.plugin.clone())
        .unwrap_or_default();
    let time = parsed
        .time
        .as_deref()
        .map(|t| format_time(t, style.pretty, style.utc))
        .unwrap_or_default();
    let level = parsed.level.unwrap_or_default();
    let message = if parsed.message.is_empty() {
        parsed.raw
    } else {
        parsed.message
    };
    if !style.pretty {
        return [time, level, label, message]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
    }
    let tone = match level.as_str() {
        "error" | "fatal" => "31",
        "warn" => "33",
        "debug" | "trace" => "90",
        _ => "32",
    };
    let paint = |code: &str, s: String| {
        if style.rich && !s.is_empty() {
            format!("\x1b[{code}m{s}\x1b[39m")
        } else {
            s
        }
    };
    let head = [paint("90", time), paint(tone, level), paint("36", label)]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    [head, paint(tone, message)]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Plain: the ISO time with offset and milliseconds (UTC: `…Z`); pretty: `HH:MM:SS+offset`.
fn format_time(raw: &str, pretty: bool, utc: bool) -> String {
    let Ok(parsed) = DateTime::parse_from_rfc3339(raw) else {
        return raw.to_owned();
    };
    match (pretty, utc) {
        (true, true) => parsed
            .with_timezone(&Utc)
            .format("%H:%M:%S+00:00")
            .to_string(),
        (true, false) => parsed
            .with_timezone(&Local)
            .format("%H:%M:%S%:z")
            .to_string(),
        (false, true) => parsed
            .with_timezone(&Utc)
            .to_rfc3339_opts(SecondsFormat::Millis, true),
        (false, false) => parsed
            .with_timezone(&Local)
            .to_rfc3339_opts(SecondsFormat::Millis, false),
    }
}

/// Where output goes; a closed stdout stops the tail (EPIPE).
struct Out {
    json: bool,
    style: Style,
}

#[derive(Debug)]
struct Closed;

impl Out {
    fn stdout(&self, line: &str) -> Result<(), Closed> {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")
            .and_then(|()| out.flush())
            .map_err(|e| self.closed(&e, "stdout"))
    }

    fn stderr(&self, line: &str) -> Result<(), Closed> {
        let mut err = std::io::stderr().lock();
        writeln!(err, "{line}").map_err(|e| self.closed(&e, "stderr"))
    }

    fn closed(&self, e: &std::io::Error, stream: &str) -> Closed {
        let code = if e.kind() == std::io::ErrorKind::BrokenPipe {
            "EPIPE".to_owned()
        } else {
            e.to_string()
        };
        let _ = writeln!(
            std::io::stderr(),
            "openclaw logs: output {stream} closed ({code}). Stopping tail."
        );
        Closed
    }

    fn notice(&self, message: &str) -> Result<(), Closed> {
        if self.json {
            self.stdout(&json!({"type": "notice", "message": message}).to_string())
        } else {
            self.stderr(message)
        }
    }

    /// One `logs.tail` payload; `announce`: the source changed (or first payload).
    fn payload(&self, payload: &Value, announce: bool) -> Result<(), Closed> {
        let file = payload.get("file").and_then(Value::as_str);
        if announce {
            if self.json {
                let mut meta = Map::new();
                meta.insert("type".into(), json!("meta"));
                if let Some(file) = file {
                    meta.insert("file".into(), json!(file));
                    meta.insert("sourceKind".into(), json!("file"));
                }
                for key in ["cursor", "size"] {
                    if let Some(v) = payload.get(key) {
                        meta.insert(key.into(), v.clone());
                    }
                }
                self.stdout(&Value::Object(meta).to_string())?;
            } else if let Some(file) = file {
                let label = if self.style.pretty && self.style.rich {
                    "\x1b[90mLog file:\x1b[39m"
                } else {
                    "Log file:"
                };
                self.stdout(&format!("{label} {file}"))?;
            }
        }
        let lines = payload
            .get("lines")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for line in lines.iter().filter_map(Value::as_str) {
            if self.json {
                let record = match parse_log_line(line) {
                    Some(parsed) => parsed.to_json(),
                    None => json!({"type": "raw", "raw": line}),
                };
                self.stdout(&record.to_string())?;
            } else {
                self.stdout(&format_line(line, self.style))?;
            }
        }
        if payload.get("truncated").and_then(Value::as_bool) == Some(true) {
            self.notice(TRUNCATED)?;
        }
        if payload.get("reset").and_then(Value::as_bool) == Some(true) {
            let skipped = payload
                .get("skippedBytes")
                .and_then(Value::as_u64)
                .filter(|&n| n > 0);
            self.notice(&match skipped {
                Some(n) => format!("Log cursor re-anchored (skipped {n} bytes)."),
                None => "Log cursor reset (file rotated).".to_owned(),
            })?;
        }
        Ok(())
    }
}

/// Runs `openclaw logs`; returns the exit code.
pub async fn run(args: &LogsArgs) -> u8 {
    let json = args.client.json;
    let rich = std::io::stdout().is_terminal()
        && !args.no_color
        && !args.plain
        && std::env::var_os("NO_COLOR").is_none();
    let out = Out {
        json,
        style: Style {
            pretty: !json && std::io::stdout().is_terminal() && !args.plain,
            rich,
            utc: args.utc,
        },
    };
    let target = match Target::resolve(&args.client) {
        Ok(t) => t,
        Err(e) => {
            let _ = out.stderr(&e.to_string());
            return 1;
        }
    };
    let limit = args.limit.min(MAX_LIMIT);
    let max_bytes = args.max_bytes.min(MAX_BYTES);
    let mut client: Option<Client> = None;
    let mut cursor: Option<u64> = None;
    let mut last_file: Option<String> = None;
    let mut retries = 0u32;
    loop {
        let mut params = json!({"limit": limit, "maxBytes": max_bytes});
        if let Some(c) = cursor {
            params["cursor"] = json!(c);
        }
        let result = match client.as_mut() {
            Some(c) => c.call("logs.tail", params).await,
            None => match Client::connect(target.options("cli", READ_SCOPES)).await {
                Ok((mut c, _hello)) => {
                    let r = c.call("logs.tail", params).await;
                    client = Some(c);
                    r
                }
                Err(e) => Err(e),
            },
        };
        let payload = match result {
            Ok(payload) => payload,
            Err(error) => {
                if let Some(c) = client.take() {
                    c.close().await;
                }
                if args.follow && retries < MAX_FOLLOW_RETRIES && is_transient(&error) {
                    retries += 1;
                    let backoff = Duration::from_millis((1000u64 << (retries - 1)).min(30_000));
                    let message = format!(
                        "[logs] gateway disconnected, reconnecting in {}s...",
                        backoff.as_secs()
                    );
                    let shown = if json {
                        out.stderr(&json!({"type": "notice", "message": message}).to_string())
                    } else {
                        out.stderr(&message)
                    };
                    if shown.is_err() {
                        return 0;
                    }
                    tokio::time::sleep(backoff).await;
                    continue;
                }
                report_error(&out, &target, &error);
                return 1;
            }
        };
        if retries > 0 {
            retries = 0;
            let message = "[logs] gateway reconnected";
            let shown = if json {
                out.stderr(&json!({"type": "notice", "message": message}).to_string())
            } else {
                out.stderr(message)
            };
            if shown.is_err() {
                return 0;
            }
        }
        let file = payload
            .get("file")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let announce = last_file.is_none() || (file.is_some() && file != last_file);
        if out.payload(&payload, announce).is_err() {
            return 0;
        }
        if file.is_some() {
            last_file = file;
        }
        cursor = payload.get("cursor").and_then(Value::as_u64).or(cursor);
        if !args.follow {
            if let Some(c) = client.take() {
                c.close().await;
            }
            return 0;
        }
        tokio::time::sleep(Duration::from_millis(args.interval)).await;
    }
}

/// Worth a reconnect: the connection dropped or timed out (not a refusal of our request, nor
/// a policy close).
fn is_transient(error: &ClientError) -> bool {
    match error {
        ClientError::Timeout | ClientError::Connect(_) => true,
        ClientError::Closed { code, .. } => *code != 1008 && !(4000..=4999).contains(code),
        ClientError::Rejected { .. } | ClientError::Protocol(_) => false,
    }
}

/// The reference's failure block: what failed, where we tried, and the doctor hint.
fn report_error(out: &Out, target: &Target, error: &ClientError) {
    let source = url_source();
    let config = crate::config::Paths::from_env()
        .map(|p| p.config_path.display().to_string())
        .unwrap_or_default();
    let details = format!(
        "Gateway target: {}\nSource: {source}\nConfig: {config}",
        target.url
    );
    let message = match error {
        // Unreachable: the reference's message carries the connection details (printed
        // again below, as the reference does).
        ClientError::Connect(detail) => {
            let code = if detail.contains("Connection refused") {
                "ECONNREFUSED".to_owned()
            } else {
                detail.clone()
            };
            format!(
                "Gateway not reachable at {} ({code}).\nStart it with `openclaw gateway run` or check \
                 `openclaw gateway status`.\n{details}",
                target.url
            )
        }
        other @ (ClientError::Rejected { .. }
        | ClientError::Closed { .. }
        | ClientError::Timeout
        | ClientError::Protocol(_)) => ErrorReport::from(other).message,
    };
    if out.json {
        let error = json!({
            "type": "error",
            "message": message,
            "error": message,
            "details": {"url": target.url, "urlSource": source, "message": details},
            "hint": HINT,
        });
        let _ = out.stderr(&error.to_string());
        return;
    }
    let paint = |s: &str, code: &str| {
        if out.style.rich {
            format!("\x1b[{code}m{s}\x1b[39m")
        } else {
            s.to_owned()
        }
    };
    let _ = out.stderr(&paint(&message, "31"));
    let _ = out.stderr(&details);
    let _ = out.stderr(&paint(HINT, "90"));
}

/// How the URL was chosen, in the reference's words.
fn url_source() -> &'static str {
    // `--url` and OPENCLAW_GATEWAY_URL share one clap field; the environment tells them apart.
    let from_env = std::env::var("OPENCLAW_GATEWAY_URL").is_ok_and(|v| !v.trim().is_empty());
    let from_flag = std::env::args().any(|a| a == "--url" || a.starts_with("--url="));
    match (from_flag, from_env) {
        (true, _) => "cli --url",
        (false, true) => "env OPENCLAW_GATEWAY_URL",
        (false, false) => "local loopback",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REF_LINE: &str = r#"{"0":"{\"module\":\"cron\",\"storeKey\":\"/s\"}","1":{"jobs":1},"2":"cron: started","_meta":{"runtime":"node","date":"2026-11-25T15:34:59.638Z","logLevelId":3,"logLevelName":"INFO","name":"{\"module\":\"cron\",\"storeKey\":\"/s\"}","parentNames":["openclaw"]},"time":"2026-11-25T15:34:59.638+00:00","hostname":"vm","message":"cron: started"}"#;

    #[test]
    fn parses_the_reference_line_shape() {
        let p = parse_log_line(REF_LINE).unwrap();
        assert_eq!(p.time.as_deref(), Some("2026-11-25T15:34:59.638+00:00"));
        assert_eq!(p.level.as_deref(), Some("info"));
        assert_eq!(p.module.as_deref(), Some("cron"));
        assert_eq!(p.subsystem, None);
        assert_eq!(p.message, "cron: started");
        let keys: Vec<String> = p.to_json().as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["type", "time", "level", "module", "message", "raw"]);
        assert_eq!(parse_log_line("not json"), None);
    }

    #[test]
    fn without_a_message_key_the_arguments_are_joined() {
        let p = parse_log_line(
            r#"{"0":"{\"subsystem\":\"gw\"}","1":{"a":1},"2":"hi","_meta":{"name":"x"}}"#,
        )
        .unwrap();
        assert_eq!(p.subsystem.as_deref(), Some("gw"));
        assert_eq!(p.message, r#"{"subsystem":"gw"} {"a":1} hi"#);
    }

    #[test]
    fn plain_text_lines() {
        let style = Style {
            pretty: false,
            rich: false,
            utc: false,
        };
        let line = format_line(REF_LINE, style);
        assert!(line.ends_with(" info cron cron: started"), "{line}");
        let t = DateTime::parse_from_rfc3339(line.split(' ').next().unwrap()).unwrap();
        assert_eq!(t.timestamp_millis(), 1_795_620_899_638);
        let no_label = r#"{"0":"Config valid","_meta":{"logLevelName":"INFO","name":"openclaw"},"time":"2026-11-25T15:35:19.849+00:00"}"#;
        assert!(format_line(no_label, style).ends_with(" info Config valid"));
        assert_eq!(format_line("plain text", style), "plain text");
        let utc = Style { utc: true, ..style };
        assert_eq!(
            format_line(REF_LINE, utc),
            "2026-11-25T15:34:59.638Z info cron cron: started"
        );
        let pretty = Style {
            pretty: true,
            ..utc
        };
        assert_eq!(
            format_line(REF_LINE, pretty),
            "15:34:59+00:00 info cron cron: started"
        );
    }
}
