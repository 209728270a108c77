//! Non-socket callers (HTTP, channels, hooks): a run they start streams its events to them as
//! values and ends with its final result; sockets watching the same run see what they saw
//! before callers existed.

use std::time::Duration;

use openclaw_core::auth::scopes::{Scope, ScopeSet};
use openclaw_core::hub::{HistoryPage, HistoryQuery, RunCommand, RunOutcome, StoreCommand};
use openclaw_core::testing::{test_config, Harness};
use openclaw_core::wire::agent::{RunReport, Usage};
use openclaw_core::wire::frames::ErrorCode;
use openclaw_core::wire::host::HostRequest;
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

    // A host request (`logs.tail`) of a channel caller goes to the host keyed by that caller,
    // and the host's answer comes back to it.
    h.call(channel.clone(), [Scope::Read].into_iter().collect(), "logs.tail", json!({})).expect("valid");
    let (asked_by, _) = h.host_requests.pop().expect("handed to the host");
    assert_eq!(asked_by, channel);
    let (now, wall) = (h.now, h.wall());
    h.hub.handle_input(now, wall, HubInput::HostReply { caller: channel.clone(), reply: Ok(json!({"cursor": 7})) });
    h.pump();
    let Some((to, CallerEvent::Response(Ok(v)))) = h.caller_events.last() else { panic!("{:?}", h.caller_events) };
    assert_eq!((to, v), (&channel, &json!({"cursor": 7})));
}

#[test]
fn an_http_caller_reads_chat_history_and_config() {
    let mut h = Harness::new(configured());
    let http = Caller::Http { id: 9 };
    let read: ScopeSet = [Scope::Read].into_iter().collect();
    let params = json!({ "message": "hi", "sessionKey": "main", "idempotencyKey": "h1" });
    h.call(http.clone(), write(), "chat.send", params).expect("valid");
    report(&mut h, "h1", RunReport::Completed { text: "yo".into(), usage: None });

    h.caller_events.clear();
    h.call(http.clone(), read.clone(), "chat.history", json!({ "sessionKey": "main", "limit": 5 })).expect("valid");
    assert!(h.caller_events.is_empty(), "answered once the store read the page: {:?}", h.caller_events);
    let (caller, session_key, session_id) = h
        .store_commands
        .iter()
        .rev()
        .find_map(|c| match c {
            StoreCommand::ReadHistory { caller, session_key, session_id, query } => {
                assert_eq!(*query, HistoryQuery::Tail { limit: 5, offset: 0 });
                Some((caller.clone(), session_key.clone(), session_id.clone()))
            }
            StoreCommand::SaveSession(_)
            | StoreCommand::DeleteSession { .. }
            | StoreCommand::SaveRunResult { .. }
            | StoreCommand::AppendMessage { .. } => None,
        })
        .expect("a history read");
    assert_eq!((&caller, session_key.as_str()), (&http, "agent:main:main"));
    let message = json!({ "role": "assistant", "content": [{ "type": "text", "text": "yo" }], "__openclaw": { "seq": 2 } });
    let page = HistoryPage { messages: vec![message], total: 2 };
    let (now, wall) = (h.now, h.wall());
    h.hub.handle_input(now, wall, HubInput::History { caller, session_key, session_id, result: Ok(page) });
    h.pump();
    let [(to, CallerEvent::Response(Ok(page)))] = h.caller_events.as_slice() else { panic!("{:?}", h.caller_events) };
    assert_eq!(to, &http);
    assert_eq!(page["sessionKey"], "agent:main:main");
    assert_eq!(page["messages"][0]["content"][0]["text"], "yo");
    assert_eq!((page["hasMore"].clone(), page["totalMessages"].clone()), (json!(true), json!(2)));

    // A failed read answers UNAVAILABLE; a read for a caller that went away answers nobody.
    h.caller_events.clear();
    h.call(http.clone(), read.clone(), "chat.history", json!({ "sessionKey": "main" })).expect("valid");
    let failed = HubInput::History { caller: http.clone(), session_key: "agent:main:main".into(), session_id: "x".into(), result: Err("disk gone".into()) };
    h.hub.handle_input(now, wall, failed);
    h.pump();
    let [(_, CallerEvent::Response(Err(e)))] = h.caller_events.as_slice() else { panic!("{:?}", h.caller_events) };
    assert_eq!((e.code, e.message.as_str()), (ErrorCode::Unavailable, "disk gone"));
    h.caller_events.clear();
    h.call(http.clone(), read.clone(), "chat.history", json!({ "sessionKey": "main" })).expect("valid");
    h.hub.handle_input(now, wall, HubInput::CallerGone(http.clone()));
    let late = HubInput::History { caller: http.clone(), session_key: "agent:main:main".into(), session_id: "x".into(), result: Ok(HistoryPage { messages: Vec::new(), total: 0 }) };
    h.hub.handle_input(now, wall, late);
    h.pump();
    assert!(h.caller_events.is_empty(), "{:?}", h.caller_events);

    // `config.get` goes to the host for the HTTP caller and its answer comes back.
    h.call(http.clone(), read, "config.get", json!({})).expect("valid");
    let (asked_by, request) = h.host_requests.pop().expect("handed to the host");
    assert_eq!((asked_by, request), (http.clone(), HostRequest::ConfigGet));
    h.hub.handle_input(now, wall, HubInput::HostReply { caller: http.clone(), reply: Ok(json!({ "hash": "abc" })) });
    h.pump();
    let [(to, CallerEvent::Response(Ok(v)))] = h.caller_events.as_slice() else { panic!("{:?}", h.caller_events) };
    assert_eq!((to, v), (&http, &json!({ "hash": "abc" })));
}

#[test]
fn client_tools_reach_the_driver_and_a_pending_call_ends_the_run_with_it() {
    use openclaw_core::methods::MethodCall;
    use openclaw_core::wire::agent::{AgentParams, ClientTool, ToolCall};
    let mut h = Harness::new(configured());
    let http = Caller::Http { id: 7 };
    let tool = ClientTool { name: "get_weather".into(), description: Some("Weather".into()), parameters: Some(json!({"type": "object"})) };
    let params = AgentParams {
        message: "weather?".into(),
        idempotency_key: "ct1".into(),
        session_key: Some("agent:main:openai:x".into()),
        client_tools: vec![tool.clone()],
        ..AgentParams::default()
    };
    let (now, wall) = (h.now, h.wall());
    h.hub.handle_input(now, wall, HubInput::Call { caller: http.clone(), scopes: write(), call: MethodCall::Agent(Box::new(params)) });
    h.pump();
    let [RunCommand::Start(start)] = h.run_commands.as_slice() else { panic!("{:?}", h.run_commands) };
    assert_eq!(start.client_tools, vec![tool], "the driver offers the caller's tools");

    let call = ToolCall { id: "call_9".into(), name: "get_weather".into(), args: json!({"city": "Oslo"}) };
    report(&mut h, "ct1", RunReport::Model { provider: "fake".into(), model: "echo-1".into() });
    report(&mut h, "ct1", RunReport::ClientToolCalls { calls: vec![call] });
    report(&mut h, "ct1", RunReport::Completed { text: "Let me check.".into(), usage: None });
    let events = events_of(&h, &http);
    let Some(CallerEvent::Final { outcome: RunOutcome::Ok(payload), .. }) = events.last() else { panic!("{events:?}") };
    let meta = &payload["result"]["meta"];
    assert_eq!(meta["stopReason"], "tool_calls");
    assert_eq!(meta["pendingToolCalls"], json!([{ "id": "call_9", "name": "get_weather", "arguments": "{\"city\":\"Oslo\"}" }]));
    assert_eq!(payload["result"]["payloads"][0]["text"], "Let me check.");
    // The transcript keeps the call in the run's last assistant message.
    let last = h
        .store_commands
        .iter()
        .rev()
        .find_map(|c| match c {
            StoreCommand::AppendMessage { message, .. } if message["role"] == "assistant" => Some(message.clone()),
            _ => None,
        })
        .expect("an assistant message");
    assert_eq!(last["stopReason"], "toolUse");
    assert_eq!(last["content"][1], json!({ "type": "toolCall", "id": "call_9", "name": "get_weather", "arguments": {"city": "Oslo"} }));
}
