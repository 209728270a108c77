//! The `tracing` layer: turns each event into a redacted [`Record`], queues its JSON line for
//! the file and prints its human line on the console, each behind its own level.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, FixedOffset, Local, TimeZone};
use openclaw_core::redact::{PatternError, Redactor};
use openclaw_core::UnixMillis;
use tracing::field::{Field, Visit};
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

use super::record::{subsystem_for_target, FieldValue, Host, Origin, Record, Severity};
use super::writer::Queue;
use super::{Clock, ConsoleSink, Level, LogSettings};

/// The settings in force and what was compiled from them.
pub(crate) struct Active {
    pub(crate) settings: LogSettings,
    pub(crate) redactor: Redactor,
}

/// Everything the layer and its [`LogHandle`](super::LogHandle) share.
pub(crate) struct Shared {
    /// Read on every event, swapped on hot reload: lock-free reads (arc-swap).
    active: ArcSwap<Active>,
    /// The more verbose of the file and console levels, for the cheap `enabled` check.
    max_rank: AtomicU8,
    queue: Queue,
    clock: Clock,
    console: ConsoleSink,
    color: bool,
    host: Host,
}

impl Shared {
    pub(crate) fn new(
        settings: LogSettings,
        queue: Queue,
        clock: Clock,
        console: ConsoleSink,
        color: bool,
    ) -> (Self, Vec<PatternError>) {
        let (active, errors) = compile(settings);
        let shared = Self {
            max_rank: AtomicU8::new(max_rank(&active.settings)),
            active: ArcSwap::from_pointee(active),
            queue,
            clock,
            console,
            color,
            host: Host {
                hostname: hostname(),
                runtime_version: env!("CARGO_PKG_VERSION").to_owned(),
            },
        };
        (shared, errors)
    }

    pub(crate) fn active(&self) -> Arc<Active> {
        self.active.load_full()
    }

    /// Swaps the settings in place; later events see the new ones.
    pub(crate) fn apply(&self, settings: LogSettings) -> Vec<PatternError> {
        let (active, errors) = compile(settings);
        self.max_rank
            .store(max_rank(&active.settings), Ordering::Relaxed);
        self.active.store(Arc::new(active));
        // The global max level (the macros' first, static check) follows `max_level_hint`.
        tracing::callsite::rebuild_interest_cache();
        errors
    }

    pub(crate) fn queue(&self) -> &Queue {
        &self.queue
    }

    pub(crate) fn now(&self) -> (DateTime<FixedOffset>, SystemTime) {
        let UnixMillis(ms) = (self.clock)();
        let system = UNIX_EPOCH + Duration::from_millis(ms);
        let millis = i64::try_from(ms).unwrap_or(i64::MAX);
        let local = Local
            .timestamp_millis_opt(millis)
            .single()
            .unwrap_or_else(|| DateTime::<Local>::from(system));
        (local.fixed_offset(), system)
    }

    fn allows(&self, meta: &Metadata<'_>) -> bool {
        rank_of(meta) <= self.max_rank.load(Ordering::Relaxed)
    }

    fn handle(&self, event: &Event<'_>) {
        let meta = event.metadata();
        let rank = rank_of(meta);
        let active = self.active();
        let to_file = rank <= active.settings.level.rank();
        let to_console = rank <= active.settings.console_level.rank();
        if !to_file && !to_console {
            return;
        }
        let mut visitor = Collect::default();
        event.record(&mut visitor);
        let redact = |text: String| match active.redactor.redact(&text) {
            std::borrow::Cow::Borrowed(_) => text,
            std::borrow::Cow::Owned(masked) => masked,
        };
        let fields = visitor
            .fields
            .into_iter()
            .map(|(k, v)| match v {
                FieldValue::Str(s) => {
                    let masked = match active.redactor.redact_field(&k, &s) {
                        std::borrow::Cow::Borrowed(_) => s,
                        std::borrow::Cow::Owned(masked) => masked,
                    };
                    (k, FieldValue::Str(masked))
                }
                other @ (FieldValue::I64(_)
                | FieldValue::U64(_)
                | FieldValue::F64(_)
                | FieldValue::Bool(_)) => (k, other),
            })
            .collect();
        let (time, system) = self.now();
        let record = Record {
            time,
            severity: Severity::from_tracing(*meta.level()),
            subsystem: visitor
                .subsystem
                .unwrap_or_else(|| subsystem_for_target(meta.target())),
            message: redact(visitor.message),
            fields,
            origin: Origin {
                file: meta.file().map(str::to_owned),
                line: meta.line(),
                module: meta.module_path().map(str::to_owned),
            },
        };
        if to_file {
            let target = active.settings.target_for(&record.time);
            let lost = self.queue.take_unreported();
            if lost > 0 {
                let notice = Record {
                    severity: Severity::Warn,
                    subsystem: "logging".to_owned(),
                    message: format!("{lost} log lines dropped: the log writer fell behind"),
                    fields: Vec::new(),
                    ..record.clone()
                };
                self.queue
                    .push(target.clone(), notice.to_json_line(&self.host), system);
            }
            self.queue
                .push(target, record.to_json_line(&self.host), system);
        }
        if to_console {
            let line = record.console_line(active.settings.console_style, self.color, &self.host);
            self.console.write_line(&line);
        }
    }
}

fn compile(settings: LogSettings) -> (Active, Vec<PatternError>) {
    let patterns =
        (!settings.redact_patterns.is_empty()).then_some(settings.redact_patterns.as_slice());
    let (redactor, errors) = Redactor::new(settings.redact_mode, patterns, &settings.secrets);
    (Active { settings, redactor }, errors)
}

fn max_rank(settings: &LogSettings) -> u8 {
    settings.level.rank().max(settings.console_level.rank())
}

/// How verbose a level must be to let this event through. Other crates' debug and trace
/// events (hyper, rustls) never pass: they would drown the gateway's own.
fn rank_of(meta: &Metadata<'_>) -> u8 {
    let rank = Level::from_tracing(*meta.level()).rank();
    if meta.target().starts_with("openclaw") || rank <= Level::Info.rank() {
        rank
    } else {
        u8::MAX
    }
}

/// `/proc/sys/kernel/hostname`, else `$HOSTNAME`, else `localhost`.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "localhost".to_owned())
}

/// The layer installed into the subscriber.
pub struct LogLayer {
    pub(crate) shared: Arc<Shared>,
}

impl<S: Subscriber> Layer<S> for LogLayer {
    fn register_callsite(
        &self,
        _meta: &'static Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        // Levels change at run time (hot reload): decide per event, in `enabled`.
        tracing::subscriber::Interest::sometimes()
    }

    fn enabled(&self, meta: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        self.shared.allows(meta)
    }

    /// Events more verbose than both levels stop at the macro, before any dispatch.
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        use tracing::level_filters::LevelFilter;
        let rank = self.shared.max_rank.load(Ordering::Relaxed);
        Some(match rank {
            r if r >= Level::Trace.rank() => LevelFilter::TRACE,
            r if r >= Level::Debug.rank() => LevelFilter::DEBUG,
            r if r >= Level::Info.rank() => LevelFilter::INFO,
            r if r >= Level::Warn.rank() => LevelFilter::WARN,
            r if r >= Level::Error.rank() => LevelFilter::ERROR,
            _ => LevelFilter::OFF,
        })
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        self.shared.handle(event);
    }
}

/// The fields of one event: `message`, an optional `subsystem`, the rest in order.
#[derive(Default)]
struct Collect {
    message: String,
    subsystem: Option<String>,
    fields: Vec<(String, FieldValue)>,
}

impl Collect {
    fn push(&mut self, field: &Field, value: FieldValue) {
        match (field.name(), value) {
            ("message", value) => self.message = text_of(value),
            ("subsystem", FieldValue::Str(s)) => self.subsystem = Some(s),
            (name, value) => self.fields.push((name.to_owned(), value)),
        }
    }
}

fn text_of(value: FieldValue) -> String {
    match value {
        FieldValue::Str(s) => s,
        FieldValue::I64(n) => n.to_string(),
        FieldValue::U64(n) => n.to_string(),
        FieldValue::F64(n) => n.to_string(),
        FieldValue::Bool(b) => b.to_string(),
    }
}

impl Visit for Collect {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, FieldValue::Str(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, FieldValue::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, FieldValue::U64(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, FieldValue::F64(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, FieldValue::Bool(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push(field, FieldValue::Str(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.push(field, FieldValue::Str(format!("{value:?}")));
    }
}
