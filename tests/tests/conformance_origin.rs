//! The browser Origin check on the WebSocket (http.md §6.4), with raw upgrade requests: every
//! row of the rule (missing/`null`, the allow-list and `*`, loopback pages on any port for a
//! local client, a page this gateway served on a LAN / tailnet host, proxied sockets, the
//! `dangerouslyAllowHostHeaderOriginFallback` key, a live settings change). A refused origin
//! still upgrades; its `connect` gets `INVALID_REQUEST` with `CONTROL_UI_ORIGIN_NOT_ALLOWED`
//! and the reason, then close `1008`. The same rows run against the reference gateway
//! (`openclaw-peer gateway run`, openclaw 2026.9.6) with the same config must give the same
//! verdicts. The peer must be installed (`scripts/openclaw-peer install`); without it the
//! reference test fails with instructions.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use openclaw_tests::bench::target::free_port;
use openclaw_tests::e2e::{connect_req, gateway, within, RawWs, TOKEN};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Node start-up and the reference's plugin loading take a while on a loaded machine.
const PEER_START: Duration = Duration::from_secs(180);

const ALLOWED: &str = "https://ui.example.com";

/// One row: the upgrade's extra headers and the client that connects.
struct Row {
    name: &'static str,
    headers: Vec<(&'static str, String)>,
    /// The Control UI's client id (device-less) instead of the CLI's.
    control_ui: bool,
}

fn row(name: &'static str, headers: &[(&'static str, &str)]) -> Row {
    Row { name, headers: headers.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(), control_ui: false }
}

/// The rows, for a gateway on `port`.
fn rows(port: u16) -> Vec<Row> {
    let own = format!("http://127.0.0.1:{port}");
    let lan_host = format!("192.168.1.5:{port}");
    let lan_origin = format!("http://192.168.1.5:{port}");
    vec![
        row("no Origin (not a browser)", &[]),
        row("Origin null", &[("Origin", "null")]),
        row("Origin not a URL", &[("Origin", "localhost")]),
        row("the gateway's own page", &[("Origin", &own)]),
        row("a loopback page on another port", &[("Origin", "http://localhost:5173")]),
        row("an IPv6 loopback page", &[("Origin", "http://[::1]:9")]),
        row("a listed origin", &[("Origin", ALLOWED)]),
        row("a listed origin, other case", &[("Origin", "HTTPS://UI.EXAMPLE.COM")]),
        row("a foreign origin", &[("Origin", "https://evil.example")]),
        row("a LAN page served by the gateway", &[("Host", &lan_host), ("Origin", &lan_origin)]),
        row("a LAN page from another host", &[("Host", &lan_host), ("Origin", "http://192.168.1.6:18789")]),
        row("a .local page served by the gateway", &[("Host", "box.local:18789"), ("Origin", "http://box.local:18789")]),
        row("a tailnet page served by the gateway", &[("Host", "box.tail1.ts.net"), ("Origin", "https://box.tail1.ts.net")]),
        row("a public name served by the gateway", &[("Host", "gw.example.com"), ("Origin", "https://gw.example.com")]),
        row("a loopback page through a proxy", &[("X-Forwarded-For", "203.0.113.9"), ("Origin", "http://localhost:5173")]),
        Row { name: "the Control UI without an Origin", headers: Vec::new(), control_ui: true },
        Row { name: "the Control UI from a foreign origin", headers: vec![("Origin", "https://evil.example".into())], control_ui: true },
    ]
}

/// `refused: <reason>` when `connect` was refused for its origin (the close code checked),
/// else `passed`.
async fn verdict(addr: SocketAddr, row: &Row) -> String {
    let headers: Vec<(&str, &str)> = row.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut ws = match RawWs::connect_with(addr, &headers, None).await {
        Ok(ws) => ws,
        Err(e) => return format!("upgrade refused: {e}"),
    };
    ws.challenge().await;
    let mut req = connect_req("c1", Some(TOKEN));
    if row.control_ui {
        req["params"]["client"] = json!({"id": "openclaw-control-ui", "version": "1.0.0", "platform": "linux", "mode": "webchat"});
    }
    ws.send_json(&req).await;
    let res = ws.res("c1").await;
    if res["ok"] == true {
        return "passed".into();
    }
    if res["error"]["details"]["code"] != "CONTROL_UI_ORIGIN_NOT_ALLOWED" {
        // Past the Origin check, refused for something else (e.g. no device identity).
        return format!("passed, then {}: {}", res["error"]["code"].as_str().unwrap_or("?"), res["error"]["message"].as_str().unwrap_or("?"));
    }
    assert_eq!(res["error"]["code"], "INVALID_REQUEST", "{}: {res}", row.name);
    assert_eq!(
        res["error"]["message"],
        "origin not allowed (open the Control UI from the gateway host or allow it in gateway.controlUi.allowedOrigins)",
        "{}",
        row.name
    );
    let (_, code, _) = within("close after the refusal", ws.until_close()).await;
    assert_eq!(code, 1008, "{}", row.name);
    format!("refused: {}", res["error"]["details"]["reason"].as_str().unwrap_or("?"))
}

async fn verdicts(addr: SocketAddr) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for row in rows(addr.port()) {
        out.push((row.name, verdict(addr, &row).await));
    }
    out
}

/// What every row must give with `allowedOrigins: [ALLOWED]` and no Host-header fallback.
fn expected() -> Vec<(&'static str, &'static str)> {
    const NOT_ALLOWED: &str = "refused: origin not allowed";
    const INVALID: &str = "refused: origin missing or invalid";
    vec![
        ("no Origin (not a browser)", "passed"),
        ("Origin null", INVALID),
        ("Origin not a URL", INVALID),
        ("the gateway's own page", "passed"),
        ("a loopback page on another port", "passed"),
        ("an IPv6 loopback page", "passed"),
        ("a listed origin", "passed"),
        ("a listed origin, other case", "passed"),
        ("a foreign origin", NOT_ALLOWED),
        ("a LAN page served by the gateway", "passed"),
        ("a LAN page from another host", NOT_ALLOWED),
        ("a .local page served by the gateway", "passed"),
        ("a tailnet page served by the gateway", "passed"),
        ("a public name served by the gateway", NOT_ALLOWED),
        ("a loopback page through a proxy", NOT_ALLOWED),
        ("the Control UI without an Origin", INVALID),
        ("the Control UI from a foreign origin", NOT_ALLOWED),
    ]
}

fn owned(rows: Vec<(&'static str, &'static str)>) -> Vec<(&'static str, String)> {
    rows.into_iter().map(|(n, v)| (n, v.to_owned())).collect()
}

#[tokio::test]
async fn every_origin_row_on_our_gateway() {
    let gw = gateway(|c| c.settings.gateway.control_ui.allowed_origins = vec![ALLOWED.into()]).await;
    let addr = gw.local_addr();
    assert_eq!(verdicts(addr).await, owned(expected()));

    // The fallback key: an Origin naming the request's own Host passes, whatever the host.
    let public = &rows(addr.port())[13];
    assert_eq!(public.name, "a public name served by the gateway");
    let mut settings = openclaw_io::Settings::default();
    settings.gateway.control_ui.host_header_origin_fallback = true;
    gw.apply_settings(&settings).await;
    assert_eq!(verdict(addr, public).await, "passed", "dangerouslyAllowHostHeaderOriginFallback");
    // Live: the next upgrade reads the applied settings (the listed origin is gone now).
    assert_eq!(verdict(addr, &rows(addr.port())[6]).await, "refused: origin not allowed");
    settings.gateway.control_ui.allowed_origins = vec!["*".into()];
    gw.apply_settings(&settings).await;
    assert_eq!(verdict(addr, &rows(addr.port())[8]).await, "passed", "`*` allows any origin");
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

/// The reference gateway with `gateway.controlUi` from `control_ui`, killed when dropped.
struct Reference {
    addr: SocketAddr,
    _child: Child,
    _home: tempfile::TempDir,
}

impl Reference {
    async fn start(control_ui: Value) -> Self {
        Self::start_gateway(json!({ "controlUi": control_ui })).await
    }

    /// The reference with `gateway` as its config's `gateway` object.
    async fn start_gateway(gateway: Value) -> Self {
        let peer = openclaw_tests::peer::peer();
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join(".openclaw");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("openclaw.json"), json!({ "gateway": gateway }).to_string()).unwrap();
        let port = free_port().unwrap();
        let mut child = Command::new(&peer.script)
            .args(["gateway", "run", "--allow-unconfigured", "--bind", "loopback", "--port", &port.to_string()])
            .args(["--auth", "token", "--token", TOKEN])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("OPENCLAW_PEER_HOME", &peer.cache)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn the reference gateway (scripts/openclaw-peer install first)");
        // Wait for the line the reference logs once it accepts, then keep draining stdout.
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let listening = tokio::time::timeout(PEER_START, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("http server listening") {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(listening, Ok(true), "the reference gateway did not log `http server listening` within {PEER_START:?}");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        // It answers `connect` with "gateway starting" until its sidecars are up: until a
        // plain CLI connect succeeds.
        let ready = tokio::time::timeout(PEER_START, async {
            loop {
                let mut ws = RawWs::connect(addr).await;
                ws.challenge().await;
                ws.send_json(&connect_req("c1", Some(TOKEN))).await;
                let res = ws.res("c1").await;
                if res["ok"] == true {
                    return;
                }
                assert_eq!(res["error"]["details"]["reason"], "startup-sidecars", "{res}");
                tokio::task::yield_now().await;
            }
        })
        .await;
        assert!(ready.is_ok(), "the reference gateway did not accept a connect within {PEER_START:?}");
        Self { addr, _child: child, _home: home }
    }
}

/// An operator's `hello-ok.pluginSurfaceUrls`, the port and the capability replaced by
/// placeholders (checked: 24 base64url characters).
async fn surface_shape(addr: SocketAddr) -> Value {
    let (_ws, hello) = RawWs::authed(addr).await;
    let mut urls = hello["pluginSurfaceUrls"].clone();
    for url in urls.as_object_mut().expect("pluginSurfaceUrls").values_mut() {
        let text = url.as_str().unwrap().replace(&format!(":{}/", addr.port()), ":<port>/");
        let (head, cap) = text.rsplit_once('/').unwrap();
        assert!(cap.len() == 24 && cap.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{text}");
        *url = json!(format!("{head}/<cap>"));
    }
    urls
}

#[tokio::test]
async fn the_origin_rows_match_the_reference() {
    let reference = Reference::start(json!({ "allowedOrigins": [ALLOWED] })).await;
    let theirs = verdicts(reference.addr).await;
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().display().to_string();
    let gw = gateway(move |c| {
        c.settings.gateway.control_ui.allowed_origins = vec![ALLOWED.into()];
        c.state_dir = Some(state_dir);
    })
    .await;
    let ours = verdicts(gw.local_addr()).await;
    assert_eq!(ours, owned(expected()));
    // The reference refuses a proxied upgrade from loopback before any Origin check (`403`,
    // "Proxy client attribution is required": its trusted-proxy rule, which this gateway does
    // not have); that row is compared no further.
    let proxied = "a loopback page through a proxy";
    let theirs_proxied = theirs.iter().find(|(n, _)| *n == proxied).map(|(_, v)| v.as_str());
    assert_eq!(theirs_proxied, Some("upgrade refused: Invalid status code: 403"), "{theirs:#?}");
    let compared = |rows: &[(&'static str, String)]| rows.iter().filter(|(n, _)| *n != proxied).cloned().collect::<Vec<_>>();
    assert_eq!(compared(&ours), compared(&theirs), "ours (left) vs the reference (right)");
    // While here: an operator's `hello-ok.pluginSurfaceUrls` has the same shape on both.
    assert_eq!(surface_shape(gw.local_addr()).await, surface_shape(reference.addr).await);
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();

    // The fallback key, on a reference started with it.
    drop(reference);
    let reference = Reference::start(json!({ "allowedOrigins": [ALLOWED], "dangerouslyAllowHostHeaderOriginFallback": true })).await;
    let public = &rows(reference.addr.port())[13];
    assert_eq!(verdict(reference.addr, public).await, "passed", "the reference with the fallback key");
}

/// One `connect` with `token` and `origin` (none: not a browser): `passed`, or the refusal's
/// `details.code`, message, `retryable` and close code (`retryAfterMs` left out).
async fn attempt(addr: SocketAddr, origin: Option<&str>, token: &str) -> String {
    let headers: Vec<(&str, &str)> = origin.map(|o| ("Origin", o)).into_iter().collect();
    let mut ws = RawWs::connect_with(addr, &headers, None).await.expect("upgrade");
    ws.challenge().await;
    ws.send_json(&connect_req("c1", Some(token))).await;
    let res = ws.res("c1").await;
    if res["ok"] == true {
        return "passed".into();
    }
    let (_, code, _) = within("close after the refusal", ws.until_close()).await;
    let e = &res["error"];
    format!("{} {}: {} (retryable {}, close {code})", e["code"], e["details"]["code"], e["message"], e["retryable"])
}

/// Browser-origin auth failures (http.md §6.4): with `rateLimit.maxAttempts: 3`, three wrong
/// tokens from a loopback page lock that page's origin out (no loopback exemption, no delay),
/// whatever the origin's case; another origin and a non-browser client on the same loopback
/// address still get in.
async fn browser_lockout_rows(addr: SocketAddr) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..3 {
        out.push(attempt(addr, Some("http://localhost:5173"), "WRONG").await);
    }
    out.push(attempt(addr, Some("HTTP://LOCALHOST:5173"), TOKEN).await);
    out.push(attempt(addr, Some("http://127.0.0.1:9"), TOKEN).await);
    out.push(attempt(addr, None, TOKEN).await);
    out
}

const LOCKED_OUT: &str = "\"INVALID_REQUEST\" \"AUTH_RATE_LIMITED\": \"unauthorized: too many failed authentication attempts (retry later)\" (retryable true, close 1008)";

#[tokio::test]
async fn browser_origin_failures_lock_out_per_origin_on_loopback() {
    let gw = gateway(|c| {
        c.settings.gateway.auth_rate_limit =
            openclaw_core::auth::limiter::RateLimitPolicy { max_attempts: 3, ..Default::default() };
    })
    .await;
    let rows = browser_lockout_rows(gw.local_addr()).await;
    assert!(rows[..3].iter().all(|r| r.contains("AUTH_TOKEN_MISMATCH")), "{rows:#?}");
    assert_eq!(rows[3], LOCKED_OUT, "{rows:#?}");
    assert_eq!(rows[4..], ["passed", "passed"], "{rows:#?}");
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

#[tokio::test]
async fn browser_origin_lockout_matches_the_reference() {
    let rate_limit = json!({ "maxAttempts": 3 });
    let reference = Reference::start_gateway(json!({ "auth": { "rateLimit": rate_limit } })).await;
    let theirs = browser_lockout_rows(reference.addr).await;
    drop(reference);
    let gw = gateway(|c| {
        c.settings.gateway.auth_rate_limit =
            openclaw_core::auth::limiter::RateLimitPolicy { max_attempts: 3, ..Default::default() };
    })
    .await;
    let ours = browser_lockout_rows(gw.local_addr()).await;
    assert_eq!(ours, theirs, "ours (left) vs the reference (right)");
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}
