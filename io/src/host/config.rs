//! `config.get`, `config.schema`, `config.set`, `config.apply`, `config.patch` (protocol.md
//! §5.12, lifecycle.md §5.6).
//!
//! Reads and writes go through the same loader and writer as the CLI (`openclaw_io::config_file`),
//! on a blocking thread, one edit at a time. Every edit is guarded by `baseHash` (the `hash` of
//! the `config.get` it is based on; required once a config exists), validated before anything
//! is written, and written atomically with backups. Secrets are redacted in everything
//! returned, and a redacted marker sent back keeps the stored secret. `config.apply`, and
//! `config.patch` when a changed path needs a restart, write `restart-sentinel.json` and ask
//! the run loop for an in-process restart.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use openclaw_core::config::{self as core, edit, Issue, MissingEnv};
use openclaw_core::wire::frames::{ErrorCode, ErrorShape};
use openclaw_core::wire::host::{DeliveryContext, HostRequest};
use crate::config_file::{self, ConfigLoadError, Loaded};
use serde_json::{json, Value};

use super::{FileHost, RestartRequest};

/// `config.apply`/`config.patch` restart delay when none is given.
const DEFAULT_RESTART_DELAY_MS: u64 = 2000;
/// Longest restart delay honoured.
const MAX_RESTART_DELAY_MS: u64 = 60_000;

/// One edit at a time: the hash check and the write must not interleave with another edit.
static EDIT: Mutex<()> = Mutex::new(());

pub(super) async fn handle(host: &FileHost, request: HostRequest) -> Result<Value, ErrorShape> {
    let host = host.clone();
    tokio::task::spawn_blocking(move || handle_blocking(&host, request))
        .await
        .map_err(|e| ErrorShape::new(ErrorCode::Unavailable, format!("config handler failed: {e}")))?
}

fn invalid(message: impl Into<String>) -> ErrorShape {
    ErrorShape::new(ErrorCode::InvalidRequest, message)
}

fn unavailable(message: impl Into<String>) -> ErrorShape {
    ErrorShape::new(ErrorCode::Unavailable, message)
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn handle_blocking(host: &FileHost, request: HostRequest) -> Result<Value, ErrorShape> {
    match request {
        HostRequest::ConfigGet => Ok(get(&host.config_path)),
        // The reference's shape; no UI hints yet.
        HostRequest::ConfigSchema => Ok(json!({
            "schema": core::schema(),
            "uiHints": {},
            "version": env!("CARGO_PKG_VERSION"),
            "generatedAt": crate::clock::wall_rfc3339(),
        })),
        HostRequest::ConfigSet(p) => {
            let _edit = EDIT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let candidate = replace(host, &p.raw, p.base_hash.as_deref())?;
            let written = write(host, candidate, "rpc config.set", Some(&p.raw))?;
            Ok(json!({ "ok": true, "path": host.config_path.display().to_string(), "hash": written.hash, "config": edit::redact(&written.value) }))
        }
        HostRequest::ConfigApply(p) => {
            let _edit = EDIT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let candidate = replace(host, &p.raw, p.base_hash.as_deref())?;
            let written = write(host, candidate, "rpc config.apply", Some(&p.raw))?;
            let restart = Restart { kind: "config-apply", mode: "config.apply", delay_ms: p.restart_delay_ms, session_key: p.session_key.as_deref(), delivery: p.delivery_context.as_ref(), note: p.note.as_deref() };
            let (restart, sentinel) = restart.request(host, true)?;
            Ok(json!({
                "ok": true, "path": host.config_path.display().to_string(), "hash": written.hash,
                "config": edit::redact(&written.value), "restart": restart, "sentinel": sentinel,
            }))
        }
        HostRequest::ConfigPatch(p) => {
            let _edit = EDIT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let current = load_current(host)?;
            let patch = core::json5::parse(&p.raw).map_err(|e| invalid(format!("raw is not JSON5: {e}")))?.value;
            if !patch.is_object() {
                return Err(invalid("raw must be a JSON5 object (a merge patch)"));
            }
            let mut candidate = current.own.clone();
            edit::merge_patch(&mut candidate, &patch, p.replace_paths.as_deref().unwrap_or_default()).map_err(invalid)?;
            edit::restore(&mut candidate, &current.own, &current.value);
            let changed = edit::changed_paths(&current.own, &candidate);
            if changed.is_empty() {
                return Ok(json!({ "ok": true, "noop": true, "changedPaths": [], "path": host.config_path.display().to_string(), "config": edit::redact(&current.value) }));
            }
            check_base_hash(&current, p.base_hash.as_deref(), Some(&changed))?;
            let written = write(host, candidate, "rpc config.patch", None)?;
            let needs_restart =
                openclaw_core::reload::plan(&openclaw_core::reload::diff_paths(&current.value, &written.value)).restart_gateway;
            let mut out = json!({
                "ok": true, "path": host.config_path.display().to_string(), "hash": written.hash,
                "config": edit::redact(&written.value), "changedPaths": changed,
            });
            let restart = Restart { kind: "config-patch", mode: "config.patch", delay_ms: p.restart_delay_ms, session_key: p.session_key.as_deref(), delivery: p.delivery_context.as_ref(), note: p.note.as_deref() };
            let (restart, sentinel) = restart.request(host, needs_restart)?;
            if needs_restart {
                out["restart"] = restart;
            }
            out["sentinel"] = sentinel;
            Ok(out)
        }
        HostRequest::LogsTail(_) => Err(unavailable("logs.tail is not a config request")),
        other @ (HostRequest::ChannelsStatus(_) | HostRequest::Send(_) | HostRequest::ChannelsAccount(..) | HostRequest::WebLoginStart(_) | HostRequest::WebLoginWait(_)) => {
            Err(unavailable(&format!("{} is not a config request", other.method_name())))
        }
    }
}

fn issues_json(issues: &[Issue]) -> Vec<Value> {
    issues.iter().map(|i| json!({ "path": i.shown_path(), "message": i.message })).collect()
}

/// [`issues_json`] with the `line`/`column` (1-based) of each issue's key in `raw`, the text the
/// caller sent (validation runs on the re-serialised candidate, whose lines are not theirs), so a
/// client can show the error at its line.
fn issues_at(issues: &[Issue], raw: &str) -> Vec<Value> {
    let spans = core::json5::parse(raw).map(|p| p.spans).unwrap_or_default();
    issues
        .iter()
        .zip(issues_json(issues))
        .map(|(issue, mut out)| {
            if let Some(span) = (!issue.path.is_empty()).then(|| spans.nearest(&issue.path)).flatten() {
                out["line"] = json!(span.key.line);
                out["column"] = json!(span.key.column);
            }
            out
        })
        .collect()
}

/// `config.get`: the file as written and as resolved, redacted, with its hash and issues.
fn get(path: &Path) -> Value {
    let base = |exists: bool, raw: Option<&str>| {
        json!({
            "path": path.display().to_string(),
            "exists": exists,
            "raw": raw.map(redact_raw),
            "hash": config_file::hash_text(raw),
        })
    };
    match config_file::load_config(path) {
        Ok(loaded) => {
            let mut out = base(loaded.exists, loaded.raw.as_deref());
            // The revision: the main file and its includes.
            out["hash"] = json!(loaded.hash);
            let parsed = loaded.raw.as_deref().and_then(|r| core::json5::parse(r).ok()).map_or(json!({}), |p| p.value);
            out["includedPaths"] = json!(loaded.files.iter().skip(1).map(|f| f.display().to_string()).collect::<Vec<_>>());
            out["parsed"] = edit::redact(&parsed);
            // Includes merged, `${VAR}` as written; then substituted.
            out["sourceConfig"] = edit::redact(&loaded.stored);
            out["resolved"] = edit::redact(&loaded.value);
            out["valid"] = json!(true);
            out["config"] = edit::redact(&loaded.value);
            out["issues"] = json!([]);
            out["warnings"] = json!(issues_json(&loaded.warnings));
            out["legacyIssues"] = json!([]);
            out
        }
        Err(ConfigLoadError::Invalid { raw, error, .. }) => {
            let mut out = base(true, Some(&raw));
            out["parsed"] = core::json5::parse(&raw).map_or(Value::Null, |p| edit::redact(&p.value));
            out["valid"] = json!(false);
            out["config"] = json!({});
            out["issues"] = json!(issues_json(&error.issues()));
            out["warnings"] = json!(issues_json(error.warnings()));
            out
        }
        Err(e @ ConfigLoadError::Read { .. }) => {
            let mut out = base(true, None);
            out["valid"] = json!(false);
            out["config"] = json!({});
            out["issues"] = json!(issues_json(&e.issues()));
            out
        }
    }
}

/// The raw text with each secret string value replaced by the redaction marker.
fn redact_raw(raw: &str) -> String {
    match core::json5::parse(raw) {
        Ok(parsed) => edit::redact_text(raw, &parsed.spans, &parsed.value),
        // Unparseable text may still hold secrets: show none of it.
        Err(_) => edit::REDACTED.to_owned(),
    }
}

/// The current config for an edit; an invalid one is still editable (from its parsed text).
fn load_current(host: &FileHost) -> Result<Loaded, ErrorShape> {
    match config_file::load_config(&host.config_path) {
        Ok(loaded) => Ok(loaded),
        Err(ConfigLoadError::Invalid { raw, path, .. }) => {
            let value = core::json5::parse(&raw).map(|p| p.value).unwrap_or_else(|_| json!({}));
            Ok(Loaded {
                path,
                exists: true,
                config: core::Config::default(),
                stored: value.clone(),
                own: value.clone(),
                value,
                hash: config_file::hash_text(Some(&raw)),
                raw: Some(raw),
                warnings: Vec::new(),
                files: Vec::new(),
            })
        }
        Err(e @ ConfigLoadError::Read { .. }) => Err(unavailable(e.to_string())),
    }
}

/// Stale or missing `baseHash` is refused once a config file exists (the conflict guard).
fn check_base_hash(current: &Loaded, base_hash: Option<&str>, changed: Option<&[String]>) -> Result<(), ErrorShape> {
    if !current.exists {
        return Ok(());
    }
    match base_hash {
        None => {
            let what = changed.map(|c| format!(" for {}", c.join(", "))).unwrap_or_default();
            Err(invalid(format!("config base hash required{what}; re-run config.get and retry with baseHash")))
        }
        Some(h) if h != current.hash => Err(invalid("config changed since last load; re-run config.get and retry")),
        Some(_) => Ok(()),
    }
}

/// `config.set`/`config.apply`: the whole file from `raw` (JSON5); redacted markers get the
/// stored secrets back.
fn replace(host: &FileHost, raw: &str, base_hash: Option<&str>) -> Result<Value, ErrorShape> {
    let current = load_current(host)?;
    check_base_hash(&current, base_hash, None)?;
    let mut candidate = core::json5::parse(raw)
        .map_err(|e| {
            let issue = json!({ "path": "<root>", "message": e.to_string(), "line": e.pos.line, "column": e.pos.column });
            invalid(format!("raw is not JSON5: {e}")).with_details(json!({ "issues": [issue] }))
        })?
        .value;
    if !candidate.is_object() {
        return Err(invalid("raw must be a JSON5 object"));
    }
    edit::restore(&mut candidate, &current.own, &current.value);
    Ok(candidate)
}

/// Validates `candidate` as the gateway would load it, then writes it.
/// `raw`: the text the caller sent, to locate issues in (`None` for `config.patch`).
fn write(host: &FileHost, candidate: Value, source: &str, raw: Option<&str>) -> Result<Loaded, ErrorShape> {
    let text = serde_json::to_string_pretty(&candidate).map_err(|e| unavailable(e.to_string()))?;
    if let Err(e) = config_file::resolve_text(&host.config_path, text, &env, MissingEnv::Error) {
        let issues = e.issues();
        let lines: Vec<String> = issues.iter().map(ToString::to_string).collect();
        let shown = raw.map_or_else(|| issues_json(&issues), |raw| issues_at(&issues, raw));
        return Err(invalid(format!("invalid config: {}", lines.join("; "))).with_details(json!({ "issues": shown })));
    }
    config_file::write_config(&host.config_path, &host.state_dir, &candidate, source)
        .map_err(|e| unavailable(e.to_string()))?;
    config_file::load_config(&host.config_path).map_err(|e| unavailable(format!("config written but not readable: {e}")))
}

/// A deliberate restart after an edit.
struct Restart<'a> {
    kind: &'static str,
    mode: &'static str,
    delay_ms: Option<u64>,
    session_key: Option<&'a str>,
    delivery: Option<&'a DeliveryContext>,
    note: Option<&'a str>,
}

impl Restart<'_> {
    /// When `needed`: writes `<stateDir>/restart-sentinel.json` and sends the request (a full
    /// queue means a restart is already pending). Returns the `restart` and `sentinel` objects.
    fn request(&self, host: &FileHost, needed: bool) -> Result<(Value, Value), ErrorShape> {
        let delay_ms = self.delay_ms.unwrap_or(DEFAULT_RESTART_DELAY_MS).min(MAX_RESTART_DELAY_MS);
        let ts = crate::clock::wall().0;
        let mut payload = json!({
            "kind": self.kind,
            "status": "ok",
            "ts": ts,
            "message": self.note,
            "stats": { "mode": self.mode, "root": host.config_path.display().to_string(), "requiresRestart": needed },
        });
        if let Some(key) = self.session_key {
            payload["sessionKey"] = json!(key);
        }
        if let Some(d) = self.delivery {
            payload["deliveryContext"] = serde_json::to_value(d).unwrap_or(Value::Null);
        }
        if !needed {
            return Ok((Value::Null, json!({ "persisted": false, "payload": payload })));
        }
        let sentinel = json!({ "version": 1, "payload": payload });
        let text = serde_json::to_string_pretty(&sentinel).unwrap_or_default();
        let persisted = std::fs::create_dir_all(&host.state_dir)
            .and_then(|()| config_file::write_atomic(&host.state_dir.join("restart-sentinel.json"), text.as_bytes()));
        if let Err(e) = &persisted {
            tracing::warn!("restart sentinel not written: {e}");
        }
        let reason = format!("{} ({})", self.mode, self.kind);
        let cannot = || unavailable(format!("{} persisted but the gateway cannot restart now; restart it to apply", self.mode));
        let Some(channel) = &host.restart else { return Err(cannot()) };
        let coalesced = match channel.try_send(RestartRequest { reason: reason.clone(), delay: Duration::from_millis(delay_ms) }) {
            Ok(()) => false,
            Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => true,
            Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => return Err(cannot()),
        };
        let restart = json!({
            "ok": true, "pid": std::process::id(), "signal": "SIGUSR1", "delayMs": delay_ms,
            "reason": reason, "mode": "emit", "coalesced": coalesced,
        });
        Ok((restart, json!({ "persisted": persisted.is_ok(), "payload": sentinel["payload"] })))
    }
}
