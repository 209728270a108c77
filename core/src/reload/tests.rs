use std::time::Duration;

use serde_json::{json, Value};

use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn drain(r: &mut Reloader) -> (Vec<ReloadOutput>, Option<Instant>) {
    let mut outs = Vec::new();
    loop {
        match r.poll_output() {
            ReloadOutput::Wait(at) => return (outs, at),
            other @ (ReloadOutput::Load
            | ReloadOutput::Apply { .. }
            | ReloadOutput::Restart { .. }
            | ReloadOutput::Notice(_)
            | ReloadOutput::Status { .. }) => outs.push(other),
        }
    }
}

fn base() -> Value {
    json!({"gateway": {"mode": "local", "port": 18789}, "logging": {"level": "info"}})
}

/// Feeds a change at `t`, runs to the load request, and returns the load instant.
fn change_and_load(r: &mut Reloader, t: Instant) -> Instant {
    r.handle_change(t);
    let (outs, at) = drain(r);
    assert!(outs.is_empty());
    let at = at.expect("debounce deadline");
    r.handle_timeout(at);
    let (outs, _) = drain(r);
    assert_eq!(outs, [ReloadOutput::Load]);
    at
}

#[test]
fn debounces_bursts_into_one_load() {
    let mut r = Reloader::new(base());
    let t0 = Instant::ZERO;
    r.handle_change(t0);
    r.handle_change(t0 + ms(100));
    r.handle_change(t0 + ms(250));
    let (outs, at) = drain(&mut r);
    assert!(outs.is_empty());
    assert_eq!(at, Some(t0 + ms(550)), "300 ms after the last event");
    r.handle_timeout(t0 + ms(549));
    assert_eq!(drain(&mut r).0, [], "not before the deadline");
    r.handle_timeout(t0 + ms(550));
    assert_eq!(drain(&mut r).0, [ReloadOutput::Load]);
}

#[test]
fn hot_change_applies_and_restart_change_restarts_once() {
    let mut r = Reloader::new(base());
    let at = change_and_load(&mut r, Instant::ZERO);
    let next = json!({"gateway": {"mode": "local", "port": 18789}, "logging": {"level": "debug"}});
    r.handle_loaded(at, LoadOutcome::Loaded { config: next.clone() });
    let (outs, _) = drain(&mut r);
    assert_eq!(outs[0], ReloadOutput::Status { active: true, last_error: None });
    let ReloadOutput::Apply { changed, plan, config } = &outs[1] else { panic!("{outs:?}") };
    assert_eq!(changed, &["logging.level"]);
    assert!(!plan.restart_gateway);
    assert_eq!(config, &next);
    assert_eq!(r.current(), &next);

    let at = change_and_load(&mut r, at + ms(1000));
    let ported = json!({"gateway": {"mode": "local", "port": 19000}, "logging": {"level": "debug"}});
    r.handle_loaded(at, LoadOutcome::Loaded { config: ported.clone() });
    let (outs, _) = drain(&mut r);
    assert!(matches!(&outs[1], ReloadOutput::Restart { reasons, .. } if reasons == &["gateway.port"]));

    // A second restart-class change before the restart happened rides along.
    let at = change_and_load(&mut r, at + ms(1000));
    let again = json!({"gateway": {"mode": "local", "port": 19001}, "logging": {"level": "debug"}});
    r.handle_loaded(at, LoadOutcome::Loaded { config: again });
    let (outs, _) = drain(&mut r);
    assert!(matches!(&outs[1], ReloadOutput::Notice(ReloadNotice::RestartAlreadyQueued { .. })));
    r.handle_restarted();
    let at = change_and_load(&mut r, at + ms(1000));
    r.handle_loaded(at, LoadOutcome::Loaded { config: ported });
    assert!(matches!(&drain(&mut r).0[1], ReloadOutput::Restart { .. }));
}

#[test]
fn invalid_config_is_not_applied_and_reported() {
    let mut r = Reloader::new(base());
    let at = change_and_load(&mut r, Instant::ZERO);
    let message = "openclaw.json:3:5: gateway.bind: expected one of ...".to_owned();
    r.handle_loaded(at, LoadOutcome::Invalid { message: message.clone() });
    let (outs, wait) = drain(&mut r);
    assert_eq!(
        outs,
        [
            ReloadOutput::Notice(ReloadNotice::SkippedInvalid { message: message.clone() }),
            ReloadOutput::Status { active: true, last_error: Some(message) },
        ]
    );
    assert_eq!(wait, None);
    assert_eq!(r.current(), &base(), "last good config kept");
    // Fixing the file clears the error.
    let at = change_and_load(&mut r, at + ms(10));
    r.handle_loaded(at, LoadOutcome::Loaded { config: base() });
    assert_eq!(drain(&mut r).0, [ReloadOutput::Status { active: true, last_error: None }], "no change: nothing applied");
}

#[test]
fn missing_file_is_retried_twice_then_skipped() {
    let mut r = Reloader::new(base());
    let mut at = change_and_load(&mut r, Instant::ZERO);
    for _ in 0..MISSING_RETRIES {
        r.handle_loaded(at, LoadOutcome::Missing);
        let (outs, wait) = drain(&mut r);
        assert!(outs.is_empty());
        assert_eq!(wait, Some(at + MISSING_RETRY_DELAY));
        at += MISSING_RETRY_DELAY;
        r.handle_timeout(at);
        assert_eq!(drain(&mut r).0, [ReloadOutput::Load]);
    }
    r.handle_loaded(at, LoadOutcome::Missing);
    assert_eq!(drain(&mut r), (vec![ReloadOutput::Notice(ReloadNotice::SkippedMissing)], None));
    // The file reappearing starts a fresh cycle with full retries.
    let at = change_and_load(&mut r, at + ms(5));
    r.handle_loaded(at, LoadOutcome::Missing);
    assert_eq!(drain(&mut r).1, Some(at + MISSING_RETRY_DELAY));
}

#[test]
fn change_during_load_loads_once_more() {
    let mut r = Reloader::new(base());
    let at = change_and_load(&mut r, Instant::ZERO);
    r.handle_change(at + ms(1));
    r.handle_change(at + ms(2));
    r.handle_loaded(at + ms(5), LoadOutcome::Loaded { config: base() });
    let (_, wait) = drain(&mut r);
    assert_eq!(wait, Some(at + ms(5) + DEFAULT_DEBOUNCE), "one more debounced load");
}

#[test]
fn modes() {
    let with = |mode: &str, port: u64| json!({"gateway": {"port": port, "reload": {"mode": mode, "debounceMs": 50.7}}});
    // off: nothing applied, the running config stays.
    let mut r = Reloader::new(with("off", 1));
    let at = change_and_load(&mut r, Instant::ZERO);
    assert_eq!(at, Instant::ZERO + ms(50), "debounce floored from the config");
    r.handle_loaded(at, LoadOutcome::Loaded { config: with("off", 2) });
    let (outs, _) = drain(&mut r);
    assert!(matches!(&outs[1], ReloadOutput::Notice(ReloadNotice::Disabled { changed }) if changed == &["gateway.port"]));
    assert_eq!(r.current(), &with("off", 1));

    // hot: a restart-class change is only logged.
    let mut r = Reloader::new(with("hot", 1));
    let at = change_and_load(&mut r, Instant::ZERO);
    r.handle_loaded(at, LoadOutcome::Loaded { config: with("hot", 2) });
    let (outs, _) = drain(&mut r);
    assert!(matches!(&outs[1], ReloadOutput::Notice(ReloadNotice::HotIgnoringRestart { paths }) if paths == &["gateway.port"]));
    assert!(matches!(&outs[2], ReloadOutput::Apply { plan, .. } if !plan.restart_gateway && plan.hot.is_empty()));

    // restart: even a hot-class change restarts.
    let mut r = Reloader::new(json!({"gateway": {"reload": {"mode": "restart"}}, "logging": {"level": "info"}}));
    let at = change_and_load(&mut r, Instant::ZERO);
    let next = json!({"gateway": {"reload": {"mode": "restart"}}, "logging": {"level": "warn"}});
    r.handle_loaded(at, LoadOutcome::Loaded { config: next });
    assert!(matches!(&drain(&mut r).0[1], ReloadOutput::Restart { reasons, .. } if reasons == &["logging.level"]));

    // The new config's mode governs at once: switching to off stops following the file, and
    // switching back applies everything changed meanwhile.
    let mut r = Reloader::new(with("hybrid", 1));
    let at = change_and_load(&mut r, Instant::ZERO);
    r.handle_loaded(at, LoadOutcome::Loaded { config: with("off", 1) });
    assert!(matches!(&drain(&mut r).0[1], ReloadOutput::Notice(ReloadNotice::Disabled { .. })));
    assert_eq!(r.settings().mode, ReloadMode::Off);
    let at = change_and_load(&mut r, at + ms(100));
    let mut back = with("hybrid", 1);
    back["logging"] = json!({"level": "debug"});
    r.handle_loaded(at, LoadOutcome::Loaded { config: back.clone() });
    let (outs, _) = drain(&mut r);
    assert!(
        matches!(&outs[1], ReloadOutput::Apply { changed, .. } if changed == &["logging"]),
        "{outs:?}"
    );
    assert_eq!(r.current(), &back);
    assert_eq!(ReloadSettings::from_config(&json!({"gateway": {"reload": {"mode": "weird", "debounceMs": -1}}})), ReloadSettings::default());
}
