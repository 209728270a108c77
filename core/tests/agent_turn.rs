//! The hub and the turn machine together under virtual time only, as io wires them: an HTTP
//! caller starts a run; the primary model is rate limited (retried after its `retry-after`),
//! then fails; the fallback streams the reply; the caller gets the deltas and the final result.

use std::time::Duration;

use openclaw_core::auth::scopes::{Scope, ScopeSet};
use openclaw_core::hub::{RunCommand, RunOutcome};
use openclaw_core::testing::{test_config, Harness};
use openclaw_core::turn::{AttemptOutcome, FailureKind, ModelCall, ModelRef, RetryPolicy, Turn, TurnInput, TurnOutput, TurnPlan};
use openclaw_core::wire::agent::{RunErrorKind, RunFailure, RunReport, Usage};
use openclaw_core::{Caller, CallerEvent, HubInput, RunId};
use serde_json::json;

fn model(name: &str) -> ModelRef {
    ModelRef { provider: "fake".into(), model: name.into() }
}

/// Drains the turn: reports go to the hub (as io's driver forwards them); returns the calls
/// it asked for.
fn drain(h: &mut Harness, run: &RunId, turn: &mut Turn) -> Vec<ModelCall> {
    let mut calls = Vec::new();
    while let Some(output) = turn.poll_output() {
        let report = match output {
            TurnOutput::CallModel(call) => {
                calls.push(call);
                continue;
            }
            TurnOutput::Report(report) => report,
            TurnOutput::Done(Ok(done)) => RunReport::Completed { text: done.text, usage: done.usage },
            TurnOutput::Done(Err(failure)) => RunReport::Failed(failure),
            TurnOutput::CancelCall | TurnOutput::RunTool(_) => panic!("unexpected {output:?}"),
        };
        let (now, wall) = (h.now, h.wall());
        h.hub.handle_input(now, wall, HubInput::Run { run: run.clone(), report });
        h.pump();
    }
    calls
}

fn rate_limited(retry_after: Duration) -> TurnInput {
    let failure = RunFailure { kind: RunErrorKind::RateLimit, message: "rate limited (HTTP 429)".into(), http_status: Some(429) };
    TurnInput::AttemptFinished(AttemptOutcome::Failed { failure, kind: FailureKind::Transient { retry_after: Some(retry_after) } })
}

#[test]
fn a_run_retries_then_falls_back_under_virtual_time() {
    let mut config = test_config();
    config.session_defaults.model_configured = true;
    let mut h = Harness::new(config);
    let http = Caller::Http { id: 7 };
    let scopes: ScopeSet = [Scope::Write].into_iter().collect();
    let params = json!({ "message": "hi", "sessionKey": "agent:main:t", "idempotencyKey": "r1" });
    h.call(http.clone(), scopes, "agent", params).expect("valid params");
    let Some(RunCommand::Start(start)) = h.run_commands.first().cloned() else { panic!("no run started") };

    let plan = TurnPlan {
        chain: vec![Ok(model("a")), Ok(model("b"))],
        retry: RetryPolicy { max_attempts: 2, base_delay: Duration::from_millis(500), max_delay: Duration::from_secs(30) },
        max_tool_rounds: 0,
        idle_timeout: Duration::from_secs(120),
        offer_tools: false,
        client_tools: Vec::new(),
    };
    let started = h.now;
    let mut turn = Turn::new(plan, vec![], &start.message, h.now);
    let calls = drain(&mut h, &start.run, &mut turn);
    assert_eq!(calls.iter().map(|c| (c.model.model.as_str(), c.attempt)).collect::<Vec<_>>(), [("a", 1)]);

    turn.handle_input(rate_limited(Duration::from_secs(2)), h.now);
    assert!(drain(&mut h, &start.run, &mut turn).is_empty(), "waiting out the retry-after");
    let due = turn.poll_timeout().expect("a backoff deadline");
    assert_eq!(due - h.now, Duration::from_secs(2));
    h.advance(due - h.now);
    turn.handle_timeout(h.now);
    let calls = drain(&mut h, &start.run, &mut turn);
    assert_eq!(calls.iter().map(|c| (c.model.model.as_str(), c.attempt)).collect::<Vec<_>>(), [("a", 2)]);

    turn.handle_input(rate_limited(Duration::from_secs(2)), h.now);
    let calls = drain(&mut h, &start.run, &mut turn);
    assert_eq!(calls.iter().map(|c| (c.model.model.as_str(), c.attempt)).collect::<Vec<_>>(), [("b", 1)], "a's attempts are spent");

    for text in ["Hel", "lo"] {
        turn.handle_input(TurnInput::Delta(text.into()), h.now);
    }
    let done = AttemptOutcome::Completed { text: "Hello".into(), calls: vec![], usage: Some(Usage { input: 2, output: 1 }) };
    turn.handle_input(TurnInput::AttemptFinished(done), h.now);
    drain(&mut h, &start.run, &mut turn);
    assert!(turn.is_done());
    assert_eq!(h.now - started, Duration::from_secs(2), "only the retry-after passed, virtually");

    let events: Vec<CallerEvent> = h.caller_events.iter().filter(|(c, _)| *c == http).map(|(_, e)| e.clone()).collect();
    let models: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            CallerEvent::Run { stream, data, .. } if stream == "lifecycle" && data["phase"] == "model" => {
                data["model"].as_str().map(str::to_owned)
            }
            CallerEvent::Run { .. } | CallerEvent::Response(_) | CallerEvent::Final { .. } => None,
        })
        .collect();
    assert_eq!(models.len(), 2, "a model phase for the primary and one for the fallback: {events:?}");
    let Some(CallerEvent::Final { outcome: RunOutcome::Ok(payload), .. }) = events.last() else {
        panic!("a final result, got {:?}", events.last())
    };
    assert_eq!(payload["result"]["payloads"][0]["text"], "Hello");
}
