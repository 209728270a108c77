//! The `/v1/chat/completions` overhead (issue #13): what a gateway adds over its model's own
//! time. A local fake model (OpenAI-compatible, streaming a fixed reply at once) sits behind a
//! fresh gateway; each round asks the model directly and then through the gateway, the same
//! way (one connection per request), so whatever else the machine does weighs on both alike:
//! - non-streaming: the whole answer; the added time is the gateway's p50 minus the model's;
//! - streaming: time to the first content chunk (`"content"` in a `data:` line), the same.
//!
//! Each gateway request is a fresh session (no `user`), the endpoint's default.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::conn::within;
use super::stats::{percentile, Metric};
use super::target::{Kind, Launch, Target, TOKEN};
use crate::fake_model::{FakeApi, FakeModel, Script};

const STEP: Duration = Duration::from_secs(60);
/// Requests of each kind sent before measuring (the reference loads its agent runtime on the
/// first turn).
const WARM_UP: usize = 3;

/// The gateway's config: chat completions on, the fake model as the default agent's model.
fn config(kind: Kind, model: &FakeModel) -> String {
    let models = match kind {
        // The reference wants the provider's model list.
        Kind::Reference => json!([{ "id": "echo-1", "name": "echo-1" }]),
        Kind::Ours => json!(null),
    };
    let mut provider = json!({ "baseUrl": model.base_url(), "apiKey": "sk-bench", "api": "openai-completions" });
    if !models.is_null() {
        provider["models"] = models;
    }
    json!({
        "gateway": { "http": { "endpoints": { "chatCompletions": { "enabled": true } } } },
        "models": { "providers": { "fake": provider } },
        "agents": { "defaults": { "model": { "primary": "fake/echo-1" } } },
    })
    .to_string()
}

/// One request over a fresh connection: the time to the first content chunk (streaming) or to
/// the end of the answer, and the answer's status.
async fn timed(addr: SocketAddr, path: &str, auth: Option<&str>, body: &str, first_content: bool) -> anyhow::Result<(Duration, u16)> {
    let auth = auth.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let start = Instant::now();
    let mut s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    s.write_all(head.as_bytes()).await?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let mut first: Option<Duration> = None;
    // Until the answer is complete (not until the server closes: a server may hold the
    // connection a while after `Connection: close`, which is not the answer's time).
    while !complete(&raw) {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if first_content && first.is_none() && contains(&raw, b"\"content\":\"") {
            first = Some(start.elapsed());
        }
    }
    let total = start.elapsed();
    let text = String::from_utf8_lossy(&raw);
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    if first_content {
        let first = first.ok_or_else(|| anyhow::anyhow!("{path}: no content chunk in {text}"))?;
        return Ok((first, status));
    }
    Ok((total, status))
}

/// Whether `raw` holds a whole HTTP/1.1 response: its `Content-Length` bytes, or the last
/// chunk of a chunked body.
fn complete(raw: &[u8]) -> bool {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else { return false };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let body = &raw[end + 4..];
    if head.contains("transfer-encoding: chunked") {
        return body.starts_with(b"0\r\n\r\n") || contains(body, b"\r\n0\r\n\r\n");
    }
    let length = head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse::<usize>().ok());
    length.is_some_and(|n| body.len() >= n)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The scenario against a fresh gateway of `kind`: `n` measured rounds of each mode.
pub async fn chat_completions(kind: Kind, launch: &Launch, n: usize) -> anyhow::Result<Vec<Metric>> {
    // A fixed two-chunk reply for every request (direct and through the gateway).
    let replies = (0..4 * (n + WARM_UP) + 16).map(|_| Script::Reply(vec!["Hel".into(), "lo".into()])).collect();
    let model = FakeModel::start(FakeApi::OpenAi, replies).await;
    let (t, _) = Target::start_configured(kind, launch, Some(&config(kind, &model))).await?;
    let gateway: SocketAddr = format!("127.0.0.1:{}", t.port).parse()?;
    let direct_body = |stream: bool| {
        json!({ "model": "echo-1", "stream": stream, "messages": [{ "role": "user", "content": "bench" }] }).to_string()
    };
    let gateway_body = |stream: bool| {
        json!({ "model": "openclaw", "stream": stream, "messages": [{ "role": "user", "content": "bench" }] }).to_string()
    };
    let mut out = Vec::new();
    for stream in [false, true] {
        let (direct_req, gateway_req) = (direct_body(true), gateway_body(stream));
        let (mut alone, mut via) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for i in 0..WARM_UP + n {
            // The gateway always streams from its model: the model's own time is a streamed
            // answer, to its end (non-streaming) or to its first content chunk (streaming).
            let (d, status) = within(STEP, timed(model.addr, "/v1/chat/completions", None, &direct_req, stream)).await?;
            anyhow::ensure!(status == 200, "the fake model answered {status}");
            let (g, status) = within(STEP, timed(gateway, "/v1/chat/completions", Some(TOKEN), &gateway_req, stream)).await?;
            anyhow::ensure!(status == 200, "{} answered {status} to /v1/chat/completions", kind.label());
            if i >= WARM_UP {
                alone.push(d);
                via.push(g);
            }
        }
        let mode = if stream { "streaming first token" } else { "non-streaming" };
        let (via50, alone50) = (percentile(&mut via, 50.0), percentile(&mut alone, 50.0));
        out.push(Metric::ms("chat completions", format!("{mode} p50"), via50));
        out.push(Metric::ms("chat completions", format!("{mode} p99"), percentile(&mut via, 99.0)));
        out.push(Metric::ms("chat completions", format!("{mode}: model alone p50"), alone50));
        out.push(Metric::ms("chat completions", format!("{mode}: added p50"), via50.saturating_sub(alone50)));
    }
    drop(t);
    Ok(out)
}
