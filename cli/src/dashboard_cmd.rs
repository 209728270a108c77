//! `openclaw dashboard [--no-open] [--json]`: the Control UI's address for this gateway, with
//! the token in the URL fragment (`#token=…`, read by the UI and kept in the browser, never
//! sent to the server in a request line). Like the reference, the text output names the URL
//! without the secret and says how to add it; `--json` carries
//! `{ok, url, httpUrl, wsUrl, port, tokenIncluded}` with the token in `url`. On a desktop
//! (`DISPLAY`/`WAYLAND_DISPLAY`, or macOS) and without `--no-open`, the URL with the token is
//! opened in the browser. A gateway that does not answer: `Gateway is not running.` (exit 0;
//! with `--json` `{"ok":false,"reason":…}` and exit 1, as the reference).

use std::time::Duration;

use serde_json::{json, Value};

use crate::args::ClientArgs;
use crate::client_cmd::Target;
use crate::output::Rendered;

const NOT_RUNNING: &str = "Gateway is not running.";

/// The URLs of the dashboard for a gateway at `ws_url` (`ws://host:port[/…]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Links {
    pub http_url: String,
    pub ws_url: String,
    pub port: Option<u16>,
    /// `http_url` + `#token=<percent-encoded token>` when there is a token.
    pub url: String,
    pub token_included: bool,
}

/// `ws[s]://host:port/…` → `http[s]://host:port/`, the token in the fragment.
pub fn links(ws_url: &str, token: Option<&str>) -> Option<Links> {
    let (scheme, rest) = ws_url.split_once("://")?;
    let http = match scheme {
        "ws" | "http" => "http",
        "wss" | "https" => "https",
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next().filter(|a| !a.is_empty())?;
    let port = authority.rsplit_once(':').and_then(|(_, p)| p.parse().ok());
    let http_url = format!("{http}://{authority}/");
    let token = token.filter(|t| !t.is_empty());
    let url = match token {
        Some(t) => format!("{http_url}#token={}", percent_encoding::utf8_percent_encode(t, percent_encoding::NON_ALPHANUMERIC)),
        None => http_url.clone(),
    };
    let ws = if http == "https" { "wss" } else { "ws" };
    Some(Links { ws_url: format!("{ws}://{authority}"), http_url, port, url, token_included: token.is_some() })
}

/// Whether something accepts connections at the gateway's address.
async fn reachable(links: &Links, timeout: Duration) -> bool {
    let authority = links.ws_url.split_once("://").map_or("", |(_, a)| a);
    matches!(tokio::time::timeout(timeout, tokio::net::TcpStream::connect(authority)).await, Ok(Ok(_)))
}

fn desktop() -> bool {
    cfg!(target_os = "macos") || std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some()
}

fn open_browser(url: &str) -> bool {
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}

/// Runs the command.
pub async fn run(args: &ClientArgs, no_open: bool) -> Rendered {
    let json_out = args.json;
    let target = match Target::resolve(args) {
        Ok(t) => t,
        Err(e) => return failure(json_out, &e.to_string()),
    };
    let Some(links) = links(&target.url, target.token.as_deref()) else {
        return failure(json_out, &format!("cannot make a dashboard URL from {}", target.url));
    };
    let wait = Duration::from_millis(args.timeout.min(5_000));
    if !reachable(&links, wait).await {
        return if json_out {
            Rendered { stdout: format!("{}\n", json!({"ok": false, "reason": NOT_RUNNING})), stderr: String::new(), code: 1 }
        } else {
            let text = format!("{NOT_RUNNING}\nRun `openclaw gateway status --deep` for details.\nStart it with `openclaw gateway` (or `openclaw gateway start` for the service).\n");
            Rendered { stdout: text, stderr: String::new(), code: 0 }
        };
    }
    let opened = !no_open && desktop() && open_browser(&links.url);
    if json_out {
        let mut out: Value = json!({
            "ok": true, "url": links.url, "httpUrl": links.http_url, "wsUrl": links.ws_url,
            "tokenIncluded": links.token_included,
        });
        if let Some(port) = links.port {
            out["port"] = json!(port);
        }
        return Rendered { stdout: format!("{out}\n"), stderr: String::new(), code: 0 };
    }
    let mut text = format!("Dashboard URL: {}\n", links.http_url);
    if opened {
        text.push_str("Opened in your browser.\n");
    } else if links.token_included {
        text.push_str("Token auto-auth not delivered. Append your gateway token (from OPENCLAW_GATEWAY_TOKEN or gateway.auth.token) as a URL fragment with key `token` to authenticate.\n");
    }
    Rendered { stdout: text, stderr: String::new(), code: 0 }
}

fn failure(json_out: bool, message: &str) -> Rendered {
    if json_out {
        Rendered { stdout: format!("{}\n", json!({"ok": false, "reason": message})), stderr: String::new(), code: 1 }
    } else {
        Rendered { stdout: String::new(), stderr: format!("dashboard: {message}\n"), code: 1 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_from_the_gateway_url() {
        let l = links("ws://127.0.0.1:18789", Some("a b/c")).unwrap();
        assert_eq!(l.http_url, "http://127.0.0.1:18789/");
        assert_eq!(l.url, "http://127.0.0.1:18789/#token=a%20b%2Fc");
        assert_eq!((l.ws_url.as_str(), l.port, l.token_included), ("ws://127.0.0.1:18789", Some(18789), true));
        let s = links("wss://gw.example.com/x", None).unwrap();
        assert_eq!((s.http_url.as_str(), s.url.as_str(), s.port), ("https://gw.example.com/", "https://gw.example.com/", None));
        assert!(links("ftp://x", None).is_none());
        assert!(links("ws://", None).is_none());
    }
}
