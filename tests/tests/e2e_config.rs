//! `config.*` on a gateway embedded through `openclaw-io` (no CLI): with a `config_path`, the
//! gateway answers them from the file itself instead of UNAVAILABLE.

use openclaw_io::client::{Client, ClientError, ConnectOptions};
use openclaw_tests::e2e::{gateway, within, TOKEN};
use serde_json::json;

#[tokio::test]
async fn an_embedded_gateway_answers_config_get_and_set() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("openclaw.json");
    std::fs::write(&path, "// ours\n{ gateway: { mode: 'local', auth: { token: 'file-secret' } } }\n").expect("write config");
    let config_path = path.display().to_string();
    let state_dir = dir.path().join("state");
    let gw = gateway(|c| {
        c.config_path = Some(config_path.clone());
        c.state_dir = Some(state_dir.display().to_string());
    })
    .await;
    let mut opts = ConnectOptions::cli(format!("ws://{}", gw.local_addr()));
    opts.token = Some(TOKEN.into());
    let (mut client, _) = within("connect", Client::connect(opts)).await.expect("connect");

    let got = within("config.get", client.call("config.get", json!({}))).await.expect("config.get answers");
    assert_eq!(got["path"], json!(config_path));
    assert_eq!(got["exists"], json!(true));
    assert_eq!(got["valid"], json!(true));
    assert_eq!(got["config"]["gateway"]["mode"], json!("local"));
    // Secrets never leave the gateway.
    assert_ne!(got["config"]["gateway"]["auth"]["token"], json!("file-secret"), "{got}");
    let hash = got["hash"].as_str().expect("hash").to_owned();

    let raw = "{ gateway: { mode: 'local', port: 19999, auth: { token: 'file-secret' } } }";
    let set = json!({ "raw": raw, "baseHash": hash });
    let written = within("config.set", client.call("config.set", set)).await.expect("config.set answers");
    assert_eq!(written["ok"], json!(true), "{written}");
    let on_disk = std::fs::read_to_string(&path).expect("read back");
    assert!(on_disk.contains("19999"), "{on_disk}");
    let again = within("config.get", client.call("config.get", json!({}))).await.expect("config.get answers");
    assert_eq!(again["config"]["gateway"]["port"], json!(19999));

    // Nobody can restart an embedded gateway: an apply is written, then reported as not applied.
    let apply = json!({ "raw": raw, "baseHash": again["hash"] });
    let refused = within("config.apply", client.call("config.apply", apply)).await;
    let Err(ClientError::Rejected { error, .. }) = refused else { panic!("config.apply: {refused:?}") };
    assert!(error.message.contains("cannot restart"), "{error:?}");

    within("close", client.close()).await;
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.expect("clean exit");
}

#[tokio::test]
async fn without_a_config_path_config_get_is_unavailable() {
    let gw = gateway(|_| {}).await;
    let mut opts = ConnectOptions::cli(format!("ws://{}", gw.local_addr()));
    opts.token = Some(TOKEN.into());
    let (mut client, _) = within("connect", Client::connect(opts)).await.expect("connect");
    let refused = within("config.get", client.call("config.get", json!({}))).await;
    let Err(ClientError::Rejected { error, .. }) = refused else { panic!("config.get: {refused:?}") };
    assert_eq!(error.code, openclaw_core::wire::frames::ErrorCode::Unavailable);
    within("close", client.close()).await;
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.expect("clean exit");
}
