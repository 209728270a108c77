//! A non-socket caller (as an HTTP handler would be) starts an agent run through
//! `Gateway::hub_handle`, streams its deltas and gets its final result, against a local fake
//! model server; a WebSocket client sees the same run as it always did.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Duration;

use openclaw_core::auth::scopes::{Scope, ScopeSet};
use openclaw_core::hub::RunOutcome;
use openclaw_core::wire::agent::AgentParams;
use openclaw_core::wire::frames::ErrorCode;
use openclaw_core::CallerEvent;
use openclaw_io::agent::{AgentConfig, Api, ModelChoice, ModelRef, ProviderConfig};
use openclaw_tests::e2e::{gateway, within, RawWs};
use openclaw_tests::fake_model::{FakeApi, FakeModel, Script};
use serde_json::json;

fn agent_config(fake: &FakeModel) -> AgentConfig {
    let mut config = AgentConfig::default();
    let provider = ProviderConfig { base_url: fake.base_url(), api_key: Some("sk-test".into()), api: Api::OpenAiCompletions };
    config.providers.insert("fake".into(), provider);
    let primary = ModelRef { provider: "fake".into(), model: "echo-1".into() };
    config.model = Some(ModelChoice { primary, fallbacks: Vec::new() });
    config.retry.base_delay = Duration::from_millis(10);
    config
}

fn write() -> ScopeSet {
    [Scope::Write].into_iter().collect()
}

#[tokio::test]
async fn an_http_caller_runs_an_agent_turn_through_the_hub_handle() {
    let fake = FakeModel::start(FakeApi::OpenAi, vec![Script::Reply(vec!["Hel".into(), "lo".into()])]).await;
    let agent = agent_config(&fake);
    let gw = gateway(move |c| c.settings.agent = agent).await;
    let (mut ws, _) = RawWs::authed(gw.local_addr()).await;
    let hub = gw.hub_handle();
    let caller = hub.http_caller();
    let params: AgentParams =
        serde_json::from_value(json!({ "message": "hi", "sessionKey": "agent:main:http", "idempotencyKey": "h1" })).unwrap();
    let mut stream = hub.start_run(caller, write(), params).await.unwrap();
    let mut events = Vec::new();
    while let Some(event) = within("caller events", stream.next()).await {
        events.push(event);
    }
    let CallerEvent::Response(Ok(accepted)) = &events[0] else { panic!("{events:?}") };
    assert_eq!(accepted["status"], "accepted");
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            CallerEvent::Run { stream, data, .. } if stream == "assistant" => data["delta"].as_str(),
            CallerEvent::Run { .. } | CallerEvent::Response(_) | CallerEvent::Final { .. } => None,
        })
        .collect();
    assert_eq!(text, "Hello");
    let Some(CallerEvent::Final { outcome: RunOutcome::Ok(payload), .. }) = events.last() else { panic!("{events:?}") };
    assert_eq!(payload["result"]["payloads"][0]["text"], "Hello");

    // The operator socket saw the run's events as a broadcast.
    let mut saw_end = false;
    while !saw_end {
        let frame = within("socket events", ws.recv_json()).await;
        saw_end = frame["event"] == "agent" && frame["payload"]["data"]["phase"] == "end";
    }

    // Refusals end the stream with the error.
    let read_only: ScopeSet = [Scope::Read].into_iter().collect();
    let params: AgentParams = serde_json::from_value(json!({ "message": "hi", "idempotencyKey": "h2" })).unwrap();
    let mut stream = hub.start_run(hub.http_caller(), read_only, params).await.unwrap();
    let Some(CallerEvent::Response(Err(e))) = within("refusal", stream.next()).await else { panic!("expected a refusal") };
    assert_eq!(e.code, ErrorCode::Forbidden);
    assert!(within("end", stream.next()).await.is_none());
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}
