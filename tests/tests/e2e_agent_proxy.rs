//! The agent's provider calls honour the proxy variables: a provider named by a host only the
//! proxy can reach (`model.test`) answers through `HTTP_PROXY`, and a host listed in `NO_PROXY`
//! is called directly. One test in this binary: it sets process environment variables, which
//! the outbound client reads when it is built.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use openclaw_io::agent::{AgentConfig, Api, ModelChoice, ModelRef, ProviderConfig};
use openclaw_tests::e2e::{gateway, within, RawWs};
use openclaw_tests::fake_model::{FakeApi, FakeModel, Script};
use openclaw_tests::fake_proxy::FakeProxy;
use serde_json::{json, Value};

/// Runs one `agent` turn (`model`: a per-run override) and returns its final `res`.
async fn agent_turn(ws: &mut RawWs, id: &str, model: Option<&str>) -> Value {
    let mut params = json!({"message": "hi", "sessionKey": "agent:main:p", "idempotencyKey": id});
    if let Some(m) = model {
        params["model"] = json!(m);
    }
    ws.send_json(&json!({"type":"req","id":id,"method":"agent","params":params})).await;
    loop {
        let frame = within("agent frames", ws.recv_json()).await;
        if frame["type"] == "res" && frame["id"] == id && frame["payload"]["status"] != "accepted" {
            return frame;
        }
    }
}

#[tokio::test]
async fn provider_calls_go_through_the_proxy_unless_no_proxy_says_otherwise() {
    let proxy = FakeProxy::start().await;
    let behind = FakeModel::start(FakeApi::OpenAi, vec![Script::Reply(vec!["via ".into(), "proxy".into()])]).await;
    let direct = FakeModel::start(FakeApi::OpenAi, vec![Script::Reply(vec!["direct".into()])]).await;
    for name in ["http_proxy", "https_proxy", "all_proxy", "ALL_PROXY", "HTTPS_PROXY", "no_proxy"] {
        std::env::remove_var(name);
    }
    std::env::set_var("HTTP_PROXY", proxy.url());
    std::env::set_var("NO_PROXY", "localhost");

    let mut agent = AgentConfig::default();
    let provider = |base_url: String| ProviderConfig { base_url, api_key: None, api: Api::OpenAiCompletions };
    // `model.test` does not resolve: only the proxy (which sends it to 127.0.0.1) reaches it.
    agent.providers.insert("behind".into(), provider(format!("http://model.test:{}/v1", behind.addr.port())));
    agent.providers.insert("direct".into(), provider(format!("http://localhost:{}/v1", direct.addr.port())));
    agent.model = Some(ModelChoice { primary: ModelRef { provider: "behind".into(), model: "m".into() }, fallbacks: vec![] });
    agent.retry.max_attempts = 1;
    let gw = gateway(move |c| c.settings.agent = agent).await;
    let (mut ws, _) = RawWs::authed(gw.local_addr()).await;

    let fin = agent_turn(&mut ws, "k1", None).await;
    assert_eq!(fin["payload"]["result"]["payloads"][0]["text"], "via proxy", "{fin}");
    let target = format!("http://model.test:{}/v1/chat/completions", behind.addr.port());
    assert_eq!(proxy.targets(), std::slice::from_ref(&target));
    assert_eq!(behind.requests().len(), 1);

    let fin = agent_turn(&mut ws, "k2", Some("direct/m")).await;
    assert_eq!(fin["payload"]["result"]["payloads"][0]["text"], "direct", "{fin}");
    assert_eq!(proxy.targets(), [target], "NO_PROXY=localhost: called directly");
    assert_eq!(direct.requests().len(), 1);
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}
