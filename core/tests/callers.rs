//! Non-socket callers (HTTP, channels, hooks): a run they start streams its events to them as
//! values and ends with its final result; sockets watching the same run see what they saw
//! before callers existed.

use std::time::Duration;

use openclaw_core::auth::scopes::{Scope, ScopeSet};
use openclaw_core::hub::{RunCommand, RunOutcome};
use openclaw_core::testing::{test_config, Harness};
use openclaw_core::wire::agent::{RunReport, Usage};
use openclaw_core::wire::frames::ErrorCode;
use openclaw_core::{Caller, CallerEvent, HubConfig, HubInput, RunId};
use serde_json::json;

fn configured() -> HubConfig {
    let mut config = test_config();
    config.session_defaults.model_configured = true;
    config
}

fn write() -> ScopeSet {
    [Scope::Write].into_iter().collect()
}

fn report(h: &mut Harness, run: &str, r: RunReport) {
    let (now, wall) = (h.now, h.wall());
    h.hub.handle_input(now, wall, HubInput::Run { run: RunId(run.into()), report: r });
    h.pump();
}

fn events_of(h: &Harness, caller: &Caller) -> Vec<CallerEvent> {
    h.caller_events.iter().filter(|(c, _)| c == caller).map(|(_, e)| e.clone()).collect()
}

#[test]
fn an_http_caller_streams_its_run_and_gets_the_final_result() {
    let mut h = Harness::new(configured());
    let watcher = h.connect_cli("ui", &["operator.read"]);
    let http = Caller::Http { id: 1 };
    let params = json!({ "message": "hi", "sessionKey": "agent:main:http", "idempotencyKey": "h1" });
    h.call(http.clone(), write(), "agent", params).expect("valid params");
    assert!(matches!(h.run_commands.as_slice(), [RunCommand::Start(s)] if s.run.as_str() == "h1"));

    report(&mut h, "h1", RunReport::Model { provider: "fake".into(), model: "echo-1".into() });
    report(&mut h, "h1", RunReport::Delta { text: "Hel".into() });
    h.advance(Duration::from_millis(300));
    report(&mut h, "h1", RunReport::Delta { text: "lo".into() });
    report(&mut h, "h1", RunReport::Completed { text: "Hello".into(), usage: Some(Usage { input: 2, output: 1 }) });

    let events = events_of(&h, &http);
    let CallerEvent::Response(Ok(accepted)) = &events[0] else { panic!("first: accepted, got {:?}", events[0]) };
    assert_eq!(accepted["runId"], "h1");
    assert_eq!(accepted["status"], "accepted");
    let deltas: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            CallerEvent::Run { stream, data, .. } if stream == "assistant" => data["delta"].as_str().map(str::to_owned),
            CallerEvent::Run { .. } | CallerEvent::Response(_) | CallerEvent::Final { .. } => None,
        })
        .collect();
    assert_eq!(deltas, ["Hel", "lo"]);
    let phases: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            CallerEvent::Run { stream, data, .. } if stream == "lifecycle" => data["phase"].as_str(),
            CallerEvent::Run { .. } | CallerEvent::Response(_) | CallerEvent::Final { .. } => None,
        })
        .collect();
    assert_eq!(phases, ["start", "model", "end"]);
    let last = events.last().expect("events");
    assert!(last.is_last());
    let CallerEvent::Final { run, outcome: RunOutcome::Ok(payload) } = last else { panic!("final ok, got {last:?}") };
    assert_eq!(run.as_str(), "h1");
    assert_eq!(payload["result"]["payloads"][0]["text"], "Hello");
    assert_eq!(events.iter().filter(|e| e.is_last()).count(), 1, "one final");

    // The socket watching sees the run as before (agent and chat events), and no frame is
    // addressed to the HTTP caller's request.
    let agent_events = h.frames(watcher).iter().filter(|f| f["event"] == "agent").count();
    assert_eq!(agent_events, 5, "start, model, two deltas, end");
    assert!(h.violations.is_empty(), "{:?}", h.violations);
}

#[test]
fn duplicates_from_any_caller_share_the_run_and_replay_it() {
    let mut h = Harness::new(configured());
    let a = h.connect_cli("a", &["operator.write"]);
    let http = Caller::Http { id: 7 };
    let hook = Caller::Hook { name: "inbox".into(), id: 1 };
    let params = json!({ "message": "hi", "sessionKey": "agent:main:dup", "idempotencyKey": "d1" });
    h.call(http.clone(), write(), "agent", params.clone()).expect("valid");
    h.two_stage_ids.insert("r1".into());
    h.request(a, "r1", "agent", params.clone());
    assert_eq!(h.last_frame(a).unwrap_or_default()["payload"]["status"], "in_flight");
    report(&mut h, "d1", RunReport::Completed { text: "yo".into(), usage: None });
    assert_eq!(h.last_frame(a).unwrap_or_default()["payload"]["result"]["payloads"][0]["text"], "yo");
    assert!(matches!(events_of(&h, &http).last(), Some(CallerEvent::Final { .. })));
    // Finished: a later duplicate gets the recorded result alone.
    h.call(hook.clone(), write(), "agent", params).expect("valid");
    let events = events_of(&h, &hook);
    assert!(matches!(events.as_slice(), [CallerEvent::Final { outcome: RunOutcome::Ok(_), .. }]), "{events:?}");
}

#[test]
fn callers_are_authorised_like_sockets_and_a_gone_caller_stops_waiting() {
    let mut h = Harness::new(configured());
    let channel = Caller::Channel { channel: "telegram".into(), account: "default".into(), peer: "42".into() };
    let read_only: ScopeSet = [Scope::Read].into_iter().collect();
    let params = json!({ "message": "hi", "sessionKey": "agent:main:tg", "idempotencyKey": "c1" });
    h.call(channel.clone(), read_only, "agent", params.clone()).expect("valid");
    let events = events_of(&h, &channel);
    let [CallerEvent::Response(Err(e))] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(e.code, ErrorCode::Forbidden);
    assert!(h.run_commands.is_empty());

    h.caller_events.clear();
    h.call(channel.clone(), write(), "agent", params).expect("valid");
    let (now, wall) = (h.now, h.wall());
    h.hub.handle_input(now, wall, HubInput::CallerGone(channel.clone()));
    h.pump();
    let before = h.caller_events.len();
    report(&mut h, "c1", RunReport::Delta { text: "x".into() });
    report(&mut h, "c1", RunReport::Completed { text: "x".into(), usage: None });
    assert_eq!(h.caller_events.len(), before, "nothing for a caller that is gone");

    // A method only sockets are served today answers clearly.
    h.call(channel, [Scope::Read].into_iter().collect(), "logs.tail", json!({})).expect("valid");
    let Some((_, CallerEvent::Response(Err(e)))) = h.caller_events.last() else { panic!("{:?}", h.caller_events) };
    assert_eq!(e.code, ErrorCode::Unavailable);
    assert!(e.message.contains("channel"), "{}", e.message);
}
