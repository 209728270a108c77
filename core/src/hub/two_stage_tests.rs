//! The two-stage reply as the run tracker gives it (protocol.md §5.6), driven below the `agent`
//! method: admission of a first and a joining request, per-run `seq` events to both, the final
//! `res` on each request id, a cached replay, and the failure shutdown gives an unfinished run.
//! These reach the hub's crate-private run primitives, so they live beside the hub (the
//! `agent` method's own transcripts are in `core/tests/agent_runs.rs`). Their snapshots stay
//! in `core/tests/snapshots/` under the names they always had.

use serde_json::{json, Value};

use super::RunOutcome;
use crate::caller::Caller;
use crate::ids::{ConnId, RequestId, RunId};
use crate::testing::{Harness, TOKEN};

/// Admits request `id` of socket `conn` to `run`.
fn begin(h: &mut Harness, conn: ConnId, id: &str, run: &RunId, accepted: &Value) {
    let caller = Caller::Socket { conn, id: RequestId(id.into()) };
    h.hub.begin_run_for(h.now, caller, run, accepted);
    h.pump();
}

fn snapshot(name: &str, h: &mut Harness) {
    h.check_final();
    assert!(h.violations.is_empty(), "invariants broken: {:?}\n{}", h.violations, h.transcript());
    insta::with_settings!({ snapshot_path => "../../tests/snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(format!("transcripts__{name}"), h.transcript());
    });
}

#[test]
fn two_stage_reply() {
    let mut h = Harness::default();
    let a = h.connect_cli("a", &["operator.write"]);
    let b = h.connect_cli("b", &["operator.write"]);
    let run = RunId("run-1".into());
    let (now, wall) = (h.now, h.wall());
    h.two_stage_ids.extend(["r1".to_owned(), "r2".to_owned()]);
    begin(&mut h, a, "r1", &run, &json!({"runId":"run-1","status":"accepted","acceptedAt": wall.0}));
    begin(&mut h, b, "r2", &run, &json!({"runId":"run-1","status":"accepted"}));
    h.hub.emit_run_event(wall, &run, "lifecycle", json!({"phase":"start"}), Some("agent:main:main"));
    h.hub.emit_run_event(wall, &run, "assistant", json!({"text":"hi","delta":"hi"}), Some("agent:main:main"));
    h.pump();
    h.hub.finish_run(now, &run, RunOutcome::Ok(json!({"runId":"run-1","status":"ok","summary":"completed"})));
    h.pump();
    // A duplicate after the end replays the cached result once.
    begin(&mut h, a, "r3", &run, &json!({}));
    snapshot("two_stage_reply", &mut h);
}

#[test]
fn shutdown_tells_everyone_then_1012_and_drains() {
    let mut h = Harness::default();
    let a = h.connect_cli("admin", &["operator.admin"]);
    let n = h.open("noscope");
    h.request(n, "c1", "connect", json!({"minProtocol":4,"maxProtocol":4,"client":{"id":"test","version":"1","platform":"linux","mode":"test"},"auth":{"token":TOKEN}}));
    let pending = h.open("pending");
    let run = RunId("run-x".into());
    h.two_stage_ids.insert("r1".into());
    begin(&mut h, a, "r1", &run, &json!({"status":"accepted"}));
    h.shutdown("gateway stopping", None);
    assert_eq!(h.close_of(a), Some((1012, "service restart".into())));
    assert_eq!(h.close_of(pending), Some((1012, "service restart".into())));
    assert!(h.hub.is_drained());
    snapshot("shutdown", &mut h);
}
