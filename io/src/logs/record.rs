//! One log event as data, and its two renderings: the file's tslog-shaped JSON line
//! (lifecycle.md §10.1) and the console's human line (§10.2).
//!
//! The file line copies what the reference writes, key for key:
//! `{"0":"{\"subsystem\":\"gateway\"}","1":{fields…},"2":"message","_meta":{runtime,
//! runtimeVersion,hostname,date,logLevelId,logLevelName,name,parentNames,path},"time":…,
//! "hostname":…,"message":…}`. Argument `"0"` repeats the binding that `_meta.name` holds, as
//! the reference's subsystem loggers do; the reference's readers skip it by that equality.

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

/// Severity as tslog numbers it (`logLevelId`) and names it (`logLevelName`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Severity {
    pub fn from_tracing(level: tracing::Level) -> Self {
        match level {
            tracing::Level::TRACE => Self::Trace,
            tracing::Level::DEBUG => Self::Debug,
            tracing::Level::INFO => Self::Info,
            tracing::Level::WARN => Self::Warn,
            tracing::Level::ERROR => Self::Error,
        }
    }

    fn id(self) -> u8 {
        match self {
            Self::Trace => 1,
            Self::Debug => 2,
            Self::Info => 3,
            Self::Warn => 4,
            Self::Error => 5,
        }
    }

    pub fn upper(self) -> &'static str {
        match self {
            Self::Trace => "TRACE",
            Self::Debug => "DEBUG",
            Self::Info => "INFO",
            Self::Warn => "WARN",
            Self::Error => "ERROR",
        }
    }

    pub fn lower(self) -> &'static str {
        match self {
            Self::Trace => "trace",
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

/// Where the event was emitted (`_meta.path`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub file: Option<String>,
    pub line: Option<u32>,
    pub module: Option<String>,
}

/// A structured field value, kept typed so numbers stay numbers in the file.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue {
    Str(String),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
}

impl FieldValue {
    fn to_json(&self) -> Value {
        match self {
            Self::Str(s) => json!(s),
            Self::I64(n) => json!(n),
            Self::U64(n) => json!(n),
            Self::F64(n) => json!(n),
            Self::Bool(b) => json!(b),
        }
    }

    fn to_text(&self) -> String {
        match self {
            Self::Str(s) => s.clone(),
            Self::I64(n) => n.to_string(),
            Self::U64(n) => n.to_string(),
            Self::F64(n) => n.to_string(),
            Self::Bool(b) => b.to_string(),
        }
    }
}

/// One event, already redacted.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// Local time with its offset (the file's `time`, the console prefix).
    pub time: DateTime<FixedOffset>,
    pub severity: Severity,
    /// `gateway`, `gateway/ws`, `agent`, … (the binding in `_meta.name`).
    pub subsystem: String,
    pub message: String,
    /// In the order the event listed them.
    pub fields: Vec<(String, FieldValue)>,
    pub origin: Origin,
}

/// Process facts every line repeats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host {
    pub hostname: String,
    pub runtime_version: String,
}

impl Record {
    /// The file line (no trailing newline).
    pub fn to_json_line(&self, host: &Host) -> String {
        let name = json!({ "subsystem": self.subsystem }).to_string();
        let mut line = Map::new();
        line.insert("0".into(), json!(name));
        if self.fields.is_empty() {
            line.insert("1".into(), json!(self.message));
        } else {
            let fields: Map<String, Value> = self
                .fields
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect();
            line.insert("1".into(), Value::Object(fields));
            line.insert("2".into(), json!(self.message));
        }
        let date = self
            .time
            .with_timezone(&Utc)
            .to_rfc3339_opts(SecondsFormat::Millis, true);
        let mut meta = Map::new();
        meta.insert("runtime".into(), json!("rust"));
        meta.insert("runtimeVersion".into(), json!(host.runtime_version));
        meta.insert("hostname".into(), json!(host.hostname));
        meta.insert("date".into(), json!(date));
        meta.insert("logLevelId".into(), json!(self.severity.id()));
        meta.insert("logLevelName".into(), json!(self.severity.upper()));
        meta.insert("name".into(), json!(name));
        meta.insert("parentNames".into(), json!(["openclaw"]));
        if let Some(path) = self.path_json() {
            meta.insert("path".into(), path);
        }
        line.insert("_meta".into(), Value::Object(meta));
        line.insert("time".into(), json!(local_iso(&self.time)));
        line.insert("hostname".into(), json!(host.hostname));
        line.insert("message".into(), json!(self.message));
        Value::Object(line).to_string()
    }

    /// tslog's `path` object, from the tracing call site.
    fn path_json(&self) -> Option<Value> {
        let file = self.origin.file.as_deref()?;
        let line = self.origin.line.unwrap_or(0);
        let name = file.rsplit('/').next().unwrap_or(file);
        Some(json!({
            "fullFilePath": format!("{file}:{line}"),
            "fileName": name,
            "fileNameWithLine": format!("{name}:{line}"),
            "fileLine": line.to_string(),
            "filePath": file,
            "filePathWithLine": format!("{file}:{line}"),
            "method": self.origin.module.clone().unwrap_or_default(),
        }))
    }

    /// `message k=v k=v`, what the console shows after the prefix.
    pub fn text(&self) -> String {
        let mut text = self.message.clone();
        for (key, value) in &self.fields {
            let value = value.to_text();
            text.push(' ');
            text.push_str(key);
            text.push('=');
            if value.is_empty() || value.contains(char::is_whitespace) {
                text.push_str(&format!("{value:?}"));
            } else {
                text.push_str(&value);
            }
        }
        text
    }

    /// The console line (no trailing newline) in the given style.
    pub fn console_line(&self, style: ConsoleStyle, color: bool, host: &Host) -> String {
        match style {
            ConsoleStyle::Json => self.to_json_line(host),
            ConsoleStyle::Compact => format!("[{}] {}", self.subsystem, self.text()),
            ConsoleStyle::Pretty => {
                let time = local_iso(&self.time);
                let level = format!("{:<5}", self.severity.lower());
                if !color {
                    return format!("{time} {level} [{}] {}", self.subsystem, self.text());
                }
                let tone = match self.severity {
                    Severity::Error => "31",
                    Severity::Warn => "33",
                    Severity::Info => "36",
                    Severity::Debug | Severity::Trace => "90",
                };
                format!(
                    "\x1b[90m{time}\x1b[39m \x1b[{tone}m{level}\x1b[39m \x1b[35m[{}]\x1b[39m \x1b[{tone}m{}\x1b[39m",
                    self.subsystem,
                    self.text()
                )
            }
        }
    }
}

/// `logging.consoleStyle`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConsoleStyle {
    /// Timestamp, level, `[subsystem]`, message; coloured on a terminal.
    #[default]
    Pretty,
    /// `[subsystem] message`, no timestamp, no colour.
    Compact,
    /// The file's JSON line.
    Json,
}

/// `2026-11-25T15:34:23.551+00:00`, the reference's local timestamp.
pub fn local_iso(time: &DateTime<FixedOffset>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, false)
}

/// The subsystem an event belongs to: its `subsystem` field when it has one, else a name
/// derived from the tracing target (module path) in the reference's vocabulary.
pub fn subsystem_for_target(target: &str) -> String {
    const TABLE: &[(&str, &str)] = &[
        ("openclaw_io::session_task", "gateway/ws"),
        ("openclaw_io::ws", "gateway/ws"),
        ("openclaw_io::http", "gateway/ws"),
        ("openclaw_io::admission", "gateway/ws"),
        ("openclaw_io::client", "gateway/client"),
        ("openclaw_io::agent", "agent"),
        ("openclaw_io::reload", "gateway/reload"),
        ("openclaw_io::logs", "logging"),
        ("openclaw_io", "gateway"),
        ("openclaw_core", "gateway"),
        ("openclaw", "gateway"),
    ];
    for (prefix, name) in TABLE {
        if target == *prefix
            || target
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with("::"))
        {
            return (*name).to_owned();
        }
    }
    target.replace("::", "/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(fields: Vec<(String, FieldValue)>) -> Record {
        let time = DateTime::parse_from_rfc3339("2026-11-25T16:34:23.551+01:00").unwrap();
        Record {
            time,
            severity: Severity::Warn,
            subsystem: "gateway/ws".into(),
            message: "hello world".into(),
            fields,
            origin: Origin {
                file: Some("io/src/ws.rs".into()),
                line: Some(12),
                module: Some("openclaw_io::ws".into()),
            },
        }
    }

    fn host() -> Host {
        Host {
            hostname: "vm".into(),
            runtime_version: "0.1.0".into(),
        }
    }

    #[test]
    fn json_line_has_the_reference_shape() {
        let line = record(vec![]).to_json_line(&host());
        let v: Value = serde_json::from_str(&line).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["0", "1", "_meta", "time", "hostname", "message"]);
        assert_eq!(v["0"], "{\"subsystem\":\"gateway/ws\"}");
        assert_eq!(v["1"], "hello world");
        assert_eq!(v["time"], "2026-11-25T16:34:23.551+01:00");
        let meta = &v["_meta"];
        let keys: Vec<&str> = meta
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "runtime",
                "runtimeVersion",
                "hostname",
                "date",
                "logLevelId",
                "logLevelName",
                "name",
                "parentNames",
                "path"
            ]
        );
        assert_eq!(meta["date"], "2026-11-25T15:34:23.551Z");
        assert_eq!(meta["logLevelId"], 4);
        assert_eq!(meta["logLevelName"], "WARN");
        assert_eq!(meta["name"], v["0"]);
        assert_eq!(meta["parentNames"], json!(["openclaw"]));
        assert_eq!(meta["path"]["fileNameWithLine"], "ws.rs:12");
        assert!(!line.contains('\n'));
    }

    #[test]
    fn fields_become_argument_one_and_the_message_two() {
        let r = record(vec![
            ("conn".into(), FieldValue::Str("c1".into())),
            ("len".into(), FieldValue::U64(3)),
        ]);
        let v: Value = serde_json::from_str(&r.to_json_line(&host())).unwrap();
        assert_eq!(v["1"], json!({"conn": "c1", "len": 3}));
        assert_eq!(v["2"], "hello world");
        assert_eq!(v["message"], "hello world");
        assert_eq!(r.text(), "hello world conn=c1 len=3");
    }

    #[test]
    fn console_styles() {
        let r = record(vec![("why".into(), FieldValue::Str("two words".into()))]);
        assert_eq!(
            r.console_line(ConsoleStyle::Pretty, false, &host()),
            "2026-11-25T16:34:23.551+01:00 warn  [gateway/ws] hello world why=\"two words\""
        );
        assert_eq!(
            r.console_line(ConsoleStyle::Compact, true, &host()),
            "[gateway/ws] hello world why=\"two words\""
        );
        assert!(r
            .console_line(ConsoleStyle::Pretty, true, &host())
            .contains("\x1b[33mwarn "));
    }

    #[test]
    fn subsystems_from_targets() {
        assert_eq!(
            subsystem_for_target("openclaw_io::session_task"),
            "gateway/ws"
        );
        assert_eq!(subsystem_for_target("openclaw_io::agent::runner"), "agent");
        assert_eq!(subsystem_for_target("openclaw_io::server"), "gateway");
        assert_eq!(subsystem_for_target("openclaw::run"), "gateway");
        assert_eq!(subsystem_for_target("openclaw_iox"), "openclaw_iox");
        assert_eq!(subsystem_for_target("hyper::proto"), "hyper/proto");
    }
}
