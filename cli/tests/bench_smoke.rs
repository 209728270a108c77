//! The benchmark harness in miniature (tiny counts, ours only), so it cannot rot. The recorded
//! figures come from `openclaw-bench` (see BENCHMARKS.md); nothing here asserts on speed.

use openclaw_tests::bench::scenarios::Scale;
use openclaw_tests::bench::target::{Kind, Launch};
use openclaw_tests::bench::{run, Plan};

#[test]
fn bench_smoke_runs_every_scenario_against_our_binary() {
    let plan = Plan {
        kinds: vec![Kind::Ours],
        runs: 1,
        scale: Scale::smoke(),
        launch: Launch {
            ours_bin: env!("CARGO_BIN_EXE_openclaw").into(),
            peer: "/nonexistent".into(),
            peer_home: None,
        },
        out: None,
        only: Vec::new(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let results = rt.block_on(run(&plan)).expect("every smoke scenario completes");
    let (_, metrics) = &results[0];
    let value = |scenario: &str, name: &str| {
        metrics
            .iter()
            .find(|m| m.scenario == scenario && m.name == name)
            .unwrap_or_else(|| panic!("metric {scenario}/{name} missing"))
            .value
    };
    for scenario in ["startup", "handshake", "rpc", "fanout", "memory", "slow consumer", "shutdown", "agent soak"] {
        assert!(metrics.iter().any(|m| m.scenario == scenario), "{scenario} produced no figure");
    }
    assert_eq!(value("fanout", "10 clients missing"), 0.0, "no broadcast lost");
    assert_eq!(value("slow consumer", "stalled disconnected"), 1.0, "the stalled reader is disconnected");
    let code = value("slow consumer", "close code seen (0 = terminated)");
    assert!(code == 1008.0 || code == 0.0, "closed 1008 or terminated after the close grace, got {code}");
    assert_eq!(value("slow consumer", "healthy missing"), 0.0);
    assert_eq!(value("shutdown", "clients told (of 20)"), 20.0, "every client sees shutdown then 1012");
    assert_eq!(value("shutdown", "exit code 0"), 1.0);
    assert!(value("memory", "idle RSS") > 0.0, "RSS is read from /proc");
}
