//! The turn policy under virtual time: the tests move `now` by hand and answer each
//! `CallModel` as a provider would.

use std::time::Duration;

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::time::Instant;
use crate::wire::agent::{RunErrorKind, RunFailure, RunReport, ToolCall, ToolOutcome, Usage};

fn model(name: &str) -> ModelRef {
    ModelRef { provider: "p".into(), model: name.into() }
}

fn plan(models: &[&str]) -> TurnPlan {
    TurnPlan {
        chain: models.iter().map(|m| Ok(model(m))).collect(),
        retry: RetryPolicy { max_attempts: 3, base_delay: Duration::from_millis(500), max_delay: Duration::from_secs(30) },
        max_tool_rounds: 2,
        idle_timeout: Duration::from_secs(120),
        offer_tools: false,
        client_tools: Vec::new(),
    }
}

fn at(ms: u64) -> Instant {
    Instant::ZERO + Duration::from_millis(ms)
}

fn drain(turn: &mut Turn) -> Vec<TurnOutput> {
    std::iter::from_fn(|| turn.poll_output()).collect()
}

fn call(name: &str, attempt: u32, tools: bool) -> TurnOutput {
    TurnOutput::CallModel(ModelCall { model: model(name), attempt, tools })
}

fn model_report(name: &str) -> TurnOutput {
    TurnOutput::Report(RunReport::Model { provider: "p".into(), model: name.into() })
}

fn failed(status: u16, kind: FailureKind) -> TurnInput {
    let failure = RunFailure { kind: RunErrorKind::Unknown, message: format!("HTTP {status}"), http_status: Some(status) };
    TurnInput::AttemptFinished(AttemptOutcome::Failed { failure, kind })
}

fn transient(retry_after: Option<Duration>) -> FailureKind {
    FailureKind::Transient { retry_after }
}

fn completed(text: &str, calls: Vec<ToolCall>, usage: Option<Usage>) -> TurnInput {
    TurnInput::AttemptFinished(AttemptOutcome::Completed { text: text.into(), calls, usage })
}

fn ok(text: &str, usage: Option<Usage>) -> TurnOutput {
    TurnOutput::Done(Ok(TurnResult { text: text.into(), usage }))
}

fn tool_call(id: &str) -> ToolCall {
    ToolCall { id: id.into(), name: "ls".into(), args: json!({}) }
}

#[test]
fn retries_with_backoff_then_succeeds() {
    let mut t = Turn::new(plan(&["a"]), vec![], "hi", at(0));
    assert_eq!(drain(&mut t), [model_report("a"), call("a", 1, false)]);
    assert_eq!(t.conversation(), [ChatMessage::User("hi".into())]);
    t.handle_input(failed(503, transient(None)), at(10));
    assert_eq!(drain(&mut t), []);
    assert_eq!(t.poll_timeout(), Some(at(510)), "first backoff is the base delay");
    t.handle_timeout(at(509));
    assert_eq!(drain(&mut t), [], "not before the deadline");
    t.handle_timeout(at(510));
    assert_eq!(drain(&mut t), [call("a", 2, false)]);
    t.handle_input(failed(500, transient(None)), at(600));
    assert_eq!(t.poll_timeout(), Some(at(1600)), "the backoff doubles");
    t.handle_timeout(at(1600));
    assert_eq!(drain(&mut t), [call("a", 3, false)]);
    t.handle_input(TurnInput::Delta("he".into()), at(1700));
    t.handle_input(TurnInput::Delta("llo".into()), at(1701));
    t.handle_input(completed("hello", vec![], Some(Usage { input: 3, output: 2 })), at(1702));
    let delta = |s: &str| TurnOutput::Report(RunReport::Delta { text: s.into() });
    assert_eq!(drain(&mut t), [delta("he"), delta("llo"), ok("hello", Some(Usage { input: 3, output: 2 }))]);
    assert!(t.is_done());
    assert_eq!(t.poll_timeout(), None);
}

#[test]
fn retry_after_is_honoured_and_capped() {
    let mut t = Turn::new(plan(&["a"]), vec![], "hi", at(0));
    drain(&mut t);
    t.handle_input(failed(429, transient(Some(Duration::from_secs(7)))), at(0));
    assert_eq!(t.poll_timeout(), Some(at(7000)));
    t.handle_timeout(at(7000));
    assert_eq!(drain(&mut t), [call("a", 2, false)]);
    t.handle_input(failed(429, transient(Some(Duration::from_secs(3600)))), at(7000));
    assert_eq!(t.poll_timeout(), Some(at(37_000)), "capped at max_delay");
}

#[test]
fn falls_back_to_the_next_model_after_its_retries() {
    let mut p = plan(&["a", "b"]);
    p.retry.max_attempts = 2;
    let mut t = Turn::new(p, vec![], "hi", at(0));
    drain(&mut t);
    t.handle_input(failed(500, transient(None)), at(0));
    t.handle_timeout(at(500));
    assert_eq!(drain(&mut t), [call("a", 2, false)]);
    t.handle_input(failed(500, transient(None)), at(600));
    assert_eq!(drain(&mut t), [model_report("b"), call("b", 1, false)], "no wait before a fallback");
    t.handle_input(completed("from b", vec![], None), at(700));
    assert_eq!(drain(&mut t), [ok("from b", None)]);
}

#[test]
fn the_last_failure_is_the_runs_when_every_model_fails() {
    let missing = RunFailure { kind: RunErrorKind::Unknown, message: "provider x is not configured".into(), http_status: None };
    let mut p = plan(&["a"]);
    p.chain.insert(0, Err(missing.clone()));
    let mut t = Turn::new(p.clone(), vec![], "hi", at(0));
    assert_eq!(drain(&mut t), [model_report("a"), call("a", 1, false)], "an unconfigured link is skipped");
    t.handle_input(failed(400, FailureKind::Fatal), at(0));
    let out = drain(&mut t);
    assert!(matches!(&out[..], [TurnOutput::Done(Err(f))] if f.http_status == Some(400)), "{out:?}");
    // Only unconfigured links: the run fails with why.
    p.chain = vec![Err(missing.clone())];
    let mut t = Turn::new(p, vec![], "hi", at(0));
    assert_eq!(drain(&mut t), [TurnOutput::Done(Err(missing))]);
}

#[test]
fn streamed_text_or_a_refusal_ends_the_run_without_fallback() {
    let mut t = Turn::new(plan(&["a", "b"]), vec![], "hi", at(0));
    drain(&mut t);
    t.handle_input(TurnInput::Delta("par".into()), at(1));
    t.handle_input(failed(500, transient(None)), at(2));
    let out = drain(&mut t);
    assert!(matches!(&out[..], [TurnOutput::Report(RunReport::Delta { .. }), TurnOutput::Done(Err(_))]), "{out:?}");

    let mut t = Turn::new(plan(&["a", "b"]), vec![], "hi", at(0));
    drain(&mut t);
    let refusal = RunFailure { kind: RunErrorKind::Refusal, message: "no".into(), http_status: None };
    t.handle_input(TurnInput::AttemptFinished(AttemptOutcome::Failed { failure: refusal.clone(), kind: FailureKind::Fatal }), at(1));
    assert_eq!(drain(&mut t), [TurnOutput::Done(Err(refusal))]);
}

#[test]
fn silence_times_out_the_attempt_under_virtual_time() {
    let mut t = Turn::new(plan(&["a"]), vec![], "hi", at(0));
    drain(&mut t);
    assert_eq!(t.poll_timeout(), Some(at(120_000)));
    t.handle_input(TurnInput::Activity, at(60_000));
    assert_eq!(t.poll_timeout(), Some(at(180_000)), "any chunk moves the deadline");
    t.handle_timeout(at(179_999));
    assert_eq!(drain(&mut t), []);
    t.handle_timeout(at(180_000));
    assert_eq!(drain(&mut t), [TurnOutput::CancelCall], "abandoned, then retried after the backoff");
    assert_eq!(t.poll_timeout(), Some(at(180_500)));
    t.handle_timeout(at(180_500));
    assert_eq!(drain(&mut t), [call("a", 2, false)]);
    // Silence after text was shown: the run fails as a timeout.
    t.handle_input(TurnInput::Delta("x".into()), at(181_000));
    t.handle_timeout(at(301_000));
    let out = drain(&mut t);
    assert!(
        matches!(&out[..], [_, TurnOutput::CancelCall, TurnOutput::Done(Err(f))]
            if f.kind == RunErrorKind::Timeout && f.message == "the provider sent nothing for 120s"),
        "{out:?}"
    );
    // Late events of the cancelled call change nothing.
    t.handle_input(completed("late", vec![], None), at(301_001));
    assert_eq!(drain(&mut t), []);
}

#[test]
fn a_model_that_rejects_tools_is_asked_again_without_them() {
    let mut p = plan(&["a", "b"]);
    p.offer_tools = true;
    let mut t = Turn::new(p, vec![], "hi", at(0));
    assert_eq!(drain(&mut t), [model_report("a"), call("a", 1, true)]);
    t.handle_input(failed(400, FailureKind::RejectsTools), at(5));
    assert_eq!(drain(&mut t), [call("a", 1, false)], "at once, same attempt, no tools");
    // Rejecting "tools" again without any offered is a plain bad request: the next model,
    // which is offered tools again.
    t.handle_input(failed(400, FailureKind::RejectsTools), at(6));
    assert_eq!(drain(&mut t), [model_report("b"), call("b", 1, true)]);
    t.handle_input(completed("fine", vec![], None), at(7));
    assert_eq!(drain(&mut t), [ok("fine", None)]);
}

#[test]
fn tool_rounds_run_in_order_and_are_bounded() {
    let mut p = plan(&["a", "b"]);
    p.offer_tools = true;
    let mut t = Turn::new(p, vec![ChatMessage::User("hi".into())], "hi", at(0));
    assert_eq!(t.conversation().len(), 1, "the user's message is not sent twice");
    drain(&mut t);
    let u = Some(Usage { input: 5, output: 3 });
    t.handle_input(completed("looking", vec![tool_call("c1"), tool_call("c2")], u), at(1));
    let calls = vec![tool_call("c1"), tool_call("c2")];
    let start = |id: &str| TurnOutput::Report(RunReport::ToolStart { call: tool_call(id) });
    let result = |id: &str, text: &str| {
        let o = ToolOutcome { call_id: id.into(), name: "ls".into(), text: text.into(), is_error: false };
        TurnOutput::Report(RunReport::ToolResult(o))
    };
    assert_eq!(drain(&mut t), [
        TurnOutput::Report(RunReport::ToolCalls { calls: calls.clone() }),
        start("c1"),
        TurnOutput::RunTool(tool_call("c1")),
    ]);
    assert_eq!(t.poll_timeout(), None, "tools have no deadline here");
    t.handle_input(TurnInput::ToolFinished { text: "a.txt".into(), is_error: false }, at(2));
    assert_eq!(drain(&mut t), [result("c1", "a.txt"), start("c2"), TurnOutput::RunTool(tool_call("c2"))]);
    t.handle_input(TurnInput::ToolFinished { text: "b.txt".into(), is_error: false }, at(3));
    assert_eq!(drain(&mut t), [result("c2", "b.txt"), call("a", 1, true)], "the next round stays with a");
    assert_eq!(t.conversation()[1..], [
        ChatMessage::Assistant { text: "looking".into(), calls },
        ChatMessage::ToolResult { call_id: "c1".into(), name: "ls".into(), text: "a.txt".into(), is_error: false },
        ChatMessage::ToolResult { call_id: "c2".into(), name: "ls".into(), text: "b.txt".into(), is_error: false },
    ]);
    // A later round that fails does not fall back: the run fails.
    t.handle_input(completed("", vec![tool_call("c3")], u), at(4));
    drain(&mut t);
    t.handle_input(TurnInput::ToolFinished { text: "x".into(), is_error: true }, at(5));
    drain(&mut t);
    t.handle_input(completed("", vec![tool_call("c4")], u), at(6));
    let out = drain(&mut t);
    assert!(
        matches!(&out[..], [TurnOutput::Done(Err(f))]
            if f.message.starts_with("the model was still calling tools after 2 rounds")),
        "{out:?}"
    );
}

#[test]
fn a_round_calling_a_client_tool_ends_the_turn_with_the_call_pending() {
    let mut p = plan(&["a"]);
    p.offer_tools = true;
    p.client_tools = vec!["get_weather".into()];
    let mut t = Turn::new(p, vec![], "weather?", at(0));
    assert_eq!(drain(&mut t), [model_report("a"), call("a", 1, true)]);
    let weather = ToolCall { id: "call_1".into(), name: "get_weather".into(), args: json!({"city": "Oslo"}) };
    // A gateway tool in the same round is not run: the turn is over.
    t.handle_input(completed("checking", vec![tool_call("c0"), weather.clone()], Some(Usage { input: 4, output: 2 })), at(1));
    assert_eq!(drain(&mut t), [
        TurnOutput::Report(RunReport::ClientToolCalls { calls: vec![weather] }),
        ok("checking", Some(Usage { input: 4, output: 2 })),
    ]);
    assert!(t.is_done());
}

#[test]
fn usage_adds_up_over_rounds_and_later_rounds_do_not_fall_back() {
    let mut p = plan(&["a", "b"]);
    p.offer_tools = true;
    p.retry.max_attempts = 1;
    let mut t = Turn::new(p.clone(), vec![], "hi", at(0));
    drain(&mut t);
    t.handle_input(completed("", vec![tool_call("c1")], Some(Usage { input: 5, output: 3 })), at(1));
    drain(&mut t);
    t.handle_input(TurnInput::ToolFinished { text: "ok".into(), is_error: false }, at(2));
    drain(&mut t);
    t.handle_input(completed("done", vec![], Some(Usage { input: 7, output: 1 })), at(3));
    assert_eq!(drain(&mut t), [ok("done", Some(Usage { input: 12, output: 4 }))]);

    let mut t = Turn::new(p, vec![], "hi", at(0));
    drain(&mut t);
    t.handle_input(completed("", vec![tool_call("c1")], None), at(1));
    drain(&mut t);
    t.handle_input(TurnInput::ToolFinished { text: "ok".into(), is_error: false }, at(2));
    drain(&mut t);
    t.handle_input(failed(500, transient(None)), at(3));
    let out = drain(&mut t);
    assert!(matches!(&out[..], [TurnOutput::Done(Err(f))] if f.http_status == Some(500)), "{out:?}");
}

fn any_failure() -> impl Strategy<Value = FailureKind> {
    prop_oneof![
        proptest::option::of(0u64..100_000).prop_map(|ms| transient(ms.map(Duration::from_millis))),
        Just(FailureKind::RejectsTools),
        Just(FailureKind::Fatal),
    ]
}

proptest! {
    /// Whatever the providers answer, a turn whose every attempt fails ends with one failure,
    /// after at most `max_attempts` attempts per model (plus one when it rejected tools).
    #[test]
    fn failing_providers_end_the_turn_within_the_attempt_budget(
        models in 1usize..4,
        max_attempts in 1u32..5,
        failures in proptest::collection::vec(any_failure(), 1..64),
        timeouts in proptest::collection::vec(any::<bool>(), 1..64),
    ) {
        let names = ["a", "b", "c"];
        let mut p = plan(&names[..models]);
        p.retry.max_attempts = max_attempts;
        p.offer_tools = true;
        let mut t = Turn::new(p, vec![], "hi", at(0));
        let (mut now, mut calls, mut dones, mut step, mut calling) = (at(0), 0usize, 0usize, 0usize, false);
        while !t.is_done() {
            for out in drain(&mut t) {
                match out {
                    TurnOutput::CallModel(_) => { calls += 1; calling = true; }
                    TurnOutput::CancelCall => calling = false,
                    TurnOutput::Done(result) => { prop_assert!(result.is_err()); dones += 1; }
                    TurnOutput::RunTool(_) | TurnOutput::Report(_) => {}
                }
            }
            if t.is_done() { break; }
            let deadline = t.poll_timeout();
            prop_assert!(deadline.is_some(), "a waiting turn has a deadline");
            if calling && !timeouts[step % timeouts.len()] {
                calling = false;
                t.handle_input(failed(500, failures[step % failures.len()]), now);
            } else if let Some(deadline) = deadline {
                now = deadline;
                t.handle_timeout(now);
            }
            step += 1;
            prop_assert!(step < 10_000, "the turn never ended");
        }
        dones += drain(&mut t).iter().filter(|o| matches!(o, TurnOutput::Done(_))).count();
        prop_assert_eq!(dones, 1);
        prop_assert!(calls <= models * (max_attempts as usize + 1), "{} calls", calls);
    }
}
