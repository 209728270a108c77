//! The layer end to end: events in, file lines and console lines out.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt;

use super::*;

const TOKEN: &str = "gw-token-0123456789abcdef";

struct Rig {
    handle: LogHandle,
    console: Arc<Mutex<Vec<String>>>,
    clock: Arc<AtomicU64>,
    dispatch: tracing::Dispatch,
}

/// 2026-11-25T12:00:00Z: midday, so the local date is the same in every time zone ±11 h.
const DAY1_NOON_MS: u64 = 1_795_608_000_000;
const DAY_MS: u64 = 86_400_000;

fn rig(settings: LogSettings) -> Rig {
    let console = Arc::new(Mutex::new(Vec::new()));
    let sink = console.clone();
    let clock = Arc::new(AtomicU64::new(DAY1_NOON_MS));
    let now = clock.clone();
    let (layer, handle, errors) = layer(
        settings,
        ConsoleSink::Custom(Arc::new(move |line: &str| {
            sink.lock().unwrap().push(line.to_owned())
        })),
        Some(Arc::new(move || UnixMillis(now.load(Ordering::SeqCst)))),
    )
    .unwrap();
    assert!(errors.is_empty());
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    Rig {
        handle,
        console,
        clock,
        dispatch,
    }
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn the_file_gets_one_tslog_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gw.log");
    let rig = rig(LogSettings {
        file: Some(file.clone()),
        ..LogSettings::default()
    });
    tracing::dispatcher::with_default(&rig.dispatch, || {
        tracing::info!("gateway listening");
        tracing::warn!(conn = "c1", len = 3u64, "slow consumer");
        tracing::info!(subsystem = "gateway/reload", "config reloaded");
        tracing::debug!("not at info");
    });
    rig.handle.flush();
    let got = lines(&file);
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(
        got[0]["0"], "{\"subsystem\":\"logging\"}",
        "this module's target maps to logging"
    );
    assert_eq!(got[0]["1"], "gateway listening");
    assert_eq!(got[0]["_meta"]["name"], got[0]["0"]);
    assert_eq!(got[0]["_meta"]["logLevelName"], "INFO");
    assert_eq!(got[0]["_meta"]["logLevelId"], 3);
    assert_eq!(got[0]["_meta"]["date"], "2026-11-25T12:00:00.000Z");
    let time = chrono::DateTime::parse_from_rfc3339(got[0]["time"].as_str().unwrap()).unwrap();
    assert_eq!(
        time.timestamp_millis(),
        i64::try_from(DAY1_NOON_MS).unwrap()
    );
    assert_eq!(got[1]["1"], serde_json::json!({"conn": "c1", "len": 3}));
    assert_eq!(got[1]["2"], "slow consumer");
    assert_eq!(got[1]["_meta"]["logLevelName"], "WARN");
    assert_eq!(
        got[2]["_meta"]["name"],
        "{\"subsystem\":\"gateway/reload\"}"
    );
    assert!(
        got[2]["1"].is_string(),
        "the subsystem field is the binding, not a field"
    );
    // The console got the same three lines, human-shaped.
    let console = rig.console.lock().unwrap().clone();
    assert_eq!(console.len(), 3);
    assert!(
        console[1].contains("warn  [logging] slow consumer conn=c1 len=3"),
        "{console:?}"
    );
}

#[test]
fn secrets_reach_neither_the_file_nor_the_console() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gw.log");
    let settings = LogSettings {
        file: Some(file.clone()),
        secrets: vec![TOKEN.to_owned()],
        redact_mode: RedactMode::Off,
        ..LogSettings::default()
    };
    let rig = rig(settings);
    tracing::dispatcher::with_default(&rig.dispatch, || {
        tracing::info!("client sent token {TOKEN}");
        tracing::info!(auth = TOKEN, "connect");
    });
    rig.handle.apply(LogSettings {
        file: Some(file.clone()),
        secrets: vec![TOKEN.to_owned()],
        ..LogSettings::default()
    });
    tracing::dispatcher::with_default(&rig.dispatch, || {
        tracing::info!("env OPENAI_API_KEY=sk-abcdefghijklmnopqrstuvwxyz");
    });
    rig.handle.flush();
    let text = std::fs::read_to_string(&file).unwrap();
    let console = rig.console.lock().unwrap().join("\n");
    for out in [&text, &console] {
        assert!(!out.contains(TOKEN), "{out}");
        assert!(out.contains("gw-tok…cdef"), "{out}");
        assert!(!out.contains("sk-abcdefghijklmnopqrstuvwxyz"), "{out}");
    }
    let got = lines(&file);
    assert_eq!(got[1]["1"]["auth"], "gw-tok…cdef");
    assert_eq!(got[2]["1"], "env OPENAI_API_KEY=sk-abc…wxyz");
}

#[test]
fn the_rolling_file_follows_the_date_and_old_files_are_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("openclaw-2026-11-01.log");
    std::fs::write(&old, "{}\n").unwrap();
    let day1 = std::time::UNIX_EPOCH + std::time::Duration::from_millis(DAY1_NOON_MS);
    std::fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(day1 - std::time::Duration::from_secs(3 * 86_400))
        .unwrap();
    let rig = rig(LogSettings {
        dir: dir.path().to_owned(),
        ..LogSettings::default()
    });
    let day1_file = dir.path().join("openclaw-2026-11-25.log");
    let day2_file = dir.path().join("openclaw-2026-11-26.log");
    assert_eq!(
        rig.handle.current_file(),
        CurrentFile {
            path: day1_file.clone(),
            rolling: true
        }
    );
    tracing::dispatcher::with_default(&rig.dispatch, || tracing::info!("day one"));
    rig.clock.store(DAY1_NOON_MS + DAY_MS, Ordering::SeqCst);
    assert_eq!(rig.handle.current_file().path, day2_file);
    tracing::dispatcher::with_default(&rig.dispatch, || tracing::info!("day two"));
    rig.handle.flush();
    assert_eq!(lines(&day1_file)[0]["1"], "day one");
    assert_eq!(lines(&day2_file)[0]["1"], "day two");
    assert_eq!(lines(&day1_file).len(), 1);
    // Pruned when the first rolling file was opened (mtime 3 days before the injected now).
    assert!(!old.exists());
}

#[test]
fn levels_are_swapped_at_run_time() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gw.log");
    let rig = rig(LogSettings {
        file: Some(file.clone()),
        level: Level::Warn,
        console_level: Level::Silent,
        ..LogSettings::default()
    });
    tracing::dispatcher::with_default(&rig.dispatch, || {
        tracing::info!("dropped");
        tracing::warn!("kept");
    });
    rig.handle.apply(LogSettings {
        file: Some(file.clone()),
        level: Level::Debug,
        console_level: Level::Debug,
        ..LogSettings::default()
    });
    tracing::dispatcher::with_default(&rig.dispatch, || tracing::debug!("now visible"));
    rig.handle.flush();
    let got: Vec<Value> = lines(&file).into_iter().map(|l| l["1"].clone()).collect();
    assert_eq!(got, ["kept", "now visible"]);
    assert_eq!(rig.console.lock().unwrap().len(), 1);
    assert_eq!(rig.handle.dropped_lines(), 0);
}

#[test]
fn config_values_map_onto_settings() {
    let logging = serde_json::json!({
        "level": "debug", "consoleLevel": "warn", "file": "/var/log/oc.log",
        "consoleStyle": "compact", "redactSensitive": "off", "redactPatterns": ["abc", "/x/i"]
    });
    let s = LogSettings::default()
        .with_config(Some(&logging), false)
        .unwrap();
    assert_eq!(s.level, Level::Debug);
    assert_eq!(s.console_level, Level::Warn);
    assert_eq!(s.file, Some(PathBuf::from("/var/log/oc.log")));
    assert_eq!(s.console_style, ConsoleStyle::Compact);
    assert_eq!(s.redact_mode, RedactMode::Off);
    assert_eq!(s.redact_patterns, ["abc", "/x/i"]);
    let s = LogSettings::default()
        .with_config(Some(&logging), true)
        .unwrap();
    assert_eq!(s.console_level, Level::Debug);
    let s = LogSettings::default().with_config(None, true).unwrap();
    assert_eq!((s.level, s.console_level), (Level::Info, Level::Debug));
    let err = LogSettings::default()
        .with_config(Some(&serde_json::json!({"level": "loud"})), false)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "logging.level: unknown level \"loud\"; expected one of silent, fatal, error, warn, info, debug, trace"
    );
}

#[test]
fn profile_segments_and_file_names_follow_the_reference() {
    use super::profile_segment;
    assert_eq!(profile_segment(None), None);
    assert_eq!(profile_segment(Some("default")), None);
    assert_eq!(profile_segment(Some(" Default ")), None);
    assert_eq!(profile_segment(Some("dev")).as_deref(), Some("dev"));
    assert_eq!(profile_segment(Some("Rescue_bot-2")).as_deref(), Some("-1rescue-0bot--2"));
    assert_eq!(profile_segment(Some("a.b")).as_deref(), Some("a-22e-b"));
    let long = "x".repeat(221);
    let seg = profile_segment(Some(&long)).unwrap_or_default();
    assert!(seg.starts_with("-3") && seg.len() == 66, "{seg}");
    let settings = LogSettings { profile: profile_segment(Some("dev")), ..LogSettings::default() };
    let time = chrono::DateTime::parse_from_rfc3339("2026-11-25T10:00:00+00:00").unwrap();
    assert_eq!(settings.target_for(&time).path, std::path::Path::new(super::DEFAULT_DIR).join("openclaw-dev-2026-11-25.log"));
}
