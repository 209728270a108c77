//! Property test of the hot-reload machine against a tiny model: whatever the interleaving of
//! file events, timeouts and load outcomes, at most one load is in flight, a load is only asked
//! for once a debounce (or retry) deadline has passed, the running config only ever becomes a
//! config that loaded, an invalid or missing file never changes it, and every restart request
//! names a restart-class path.

use std::time::Duration;

use openclaw_core::reload::{classify, LoadOutcome, ReloadOutput, Reloader, Rule};
use openclaw_core::Instant;
use proptest::prelude::*;
use serde_json::{json, Value};

#[derive(Clone, Debug)]
enum Op {
    /// A watcher event after this many ms.
    Change(u16),
    /// Time passes to the machine's deadline (if any) or by this many ms.
    Tick(u16),
    /// Answer the outstanding load (if any) with this candidate.
    Answer(Candidate),
}

#[derive(Clone, Debug)]
enum Candidate {
    Missing,
    Invalid,
    Config { port: u8, level: u8, mode: u8 },
}

fn candidate() -> impl Strategy<Value = Candidate> {
    prop_oneof![
        Just(Candidate::Missing),
        Just(Candidate::Invalid),
        (0u8..3, 0u8..3, 0u8..5).prop_map(|(port, level, mode)| Candidate::Config { port, level, mode }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u16..500).prop_map(Op::Change),
        (0u16..500).prop_map(Op::Tick),
        candidate().prop_map(Op::Answer),
    ]
}

fn config(port: u8, level: u8, mode: u8) -> Value {
    let mode = ["hybrid", "hot", "restart", "off", "weird"][usize::from(mode)];
    let level = ["info", "debug", "warn"][usize::from(level)];
    json!({
        "gateway": {"port": 18000 + u32::from(port), "reload": {"mode": mode, "debounceMs": 100}},
        "logging": {"level": level},
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn reload_machine_invariants(ops in proptest::collection::vec(op(), 1..60)) {
        let start = config(0, 0, 0);
        let mut r = Reloader::new(start.clone());
        let mut now = Instant::ZERO;
        let mut loading = false;
        let mut deadline: Option<Instant> = None;
        // Every config the machine was ever told loaded (the running one must be one of them).
        let mut loaded: Vec<Value> = vec![start];
        for op in ops {
            match op {
                Op::Change(ms) => {
                    now += Duration::from_millis(u64::from(ms));
                    r.handle_change(now);
                }
                Op::Tick(ms) => {
                    now = match deadline {
                        Some(at) if at > now => at,
                        _ => now + Duration::from_millis(u64::from(ms)),
                    };
                    r.handle_timeout(now);
                }
                Op::Answer(c) => {
                    if !loading {
                        continue;
                    }
                    loading = false;
                    let before = r.current().clone();
                    let outcome = match c {
                        Candidate::Missing => LoadOutcome::Missing,
                        Candidate::Invalid => LoadOutcome::Invalid { message: "bad".into() },
                        Candidate::Config { port, level, mode } => {
                            let v = config(port, level, mode);
                            loaded.push(v.clone());
                            LoadOutcome::Loaded { config: v }
                        }
                    };
                    let failed = !matches!(outcome, LoadOutcome::Loaded { .. });
                    r.handle_loaded(now, outcome);
                    if failed {
                        prop_assert_eq!(r.current(), &before, "a failed load never changes the running config");
                    }
                }
            }
            loop {
                match r.poll_output() {
                    ReloadOutput::Wait(at) => {
                        if let Some(at) = at {
                            prop_assert!(at >= now || loading, "deadline in the past: {:?} < {:?}", at, now);
                        }
                        deadline = at;
                        break;
                    }
                    ReloadOutput::Load => {
                        prop_assert!(!loading, "two loads in flight");
                        loading = true;
                    }
                    ReloadOutput::Restart { changed, reasons, .. } => {
                        prop_assert!(!changed.is_empty());
                        let mode = r.settings().mode;
                        let restart_class = reasons.iter().any(|p| *classify(p) == Rule::Restart);
                        prop_assert!(
                            restart_class || mode == openclaw_core::reload::ReloadMode::Restart,
                            "restart for {:?} in {:?}", reasons, mode
                        );
                        r.handle_restarted();
                    }
                    ReloadOutput::Apply { changed, plan, .. } => {
                        prop_assert!(!changed.is_empty());
                        prop_assert!(!plan.restart_gateway, "an applied plan never needs a restart");
                    }
                    ReloadOutput::Notice(_) | ReloadOutput::Status { .. } => {}
                }
            }
            prop_assert!(loaded.contains(r.current()), "running config {} never loaded", r.current());
        }
    }
}
