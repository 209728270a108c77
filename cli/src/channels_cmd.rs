//! `openclaw pairing list|approve`, `openclaw channels status|login|logout` and `openclaw message
//! send`.
//!
//! Pairing works on the state database directly (`<state dir>/state/openclaw.sqlite`), as the
//! reference's CLI does: it needs no running gateway, and the gateway reads the approvals from
//! the same file on the sender's next message. The others are RPCs (`channels.status`,
//! `web.login.start`/`web.login.wait`, `channels.logout`, `send`): the gateway owns the channel
//! connections, WhatsApp's included.

use std::fmt::Write as _;

use openclaw_io::channels::store::{self, ApproveError};
use openclaw_io::state_db::StateDb;
use serde_json::{json, Value};

use crate::args::{ChannelsLoginArgs, ChannelsLogoutArgs, ChannelsStatusArgs, MessageSendArgs, PairingApproveArgs, PairingListArgs};
use crate::client_cmd::{call_as, Target};
use crate::config::Paths;
use crate::output::{CallFailure, Rendered};

/// The channels with DM pairing.
const PAIRING_CHANNELS: [&str; 2] = ["telegram", "whatsapp"];

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn fail(message: String) -> Rendered {
    Rendered { stdout: String::new(), stderr: format!("{message}\n"), code: 1 }
}

fn channel_of(positional: Option<&str>, flag: Option<&str>) -> Result<String, String> {
    let raw = match (flag, positional) {
        (Some(f), Some(p)) if !f.eq_ignore_ascii_case(p) => {
            return Err(format!("Conflicting pairing channels: \"{f}\" and \"{p}\". Pass the channel either positionally or with --channel."))
        }
        (Some(c), _) | (None, Some(c)) => c.trim().to_ascii_lowercase(),
        (None, None) => PAIRING_CHANNELS[0].to_owned(),
    };
    if PAIRING_CHANNELS.contains(&raw.as_str()) {
        Ok(raw)
    } else {
        Err(format!("Unknown pairing channel \"{raw}\" (expected one of: {}).", PAIRING_CHANNELS.join(", ")))
    }
}

fn state_db() -> Result<StateDb, String> {
    let paths = Paths::from_env().map_err(|e| e.to_string())?;
    Ok(StateDb::in_state_dir(&paths.state_dir))
}

/// `openclaw pairing list [channel] [--json]`.
pub fn pairing_list(args: &PairingListArgs) -> Rendered {
    let channel = match channel_of(args.channel_arg.as_deref(), args.channel.as_deref()) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let listed = state_db().and_then(|db| store::pairing_list(&db, &channel, now_ms()).map_err(|e| e.to_string()));
    let requests = match listed {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let requests: Vec<_> = requests.into_iter().filter(|r| args.account.as_deref().is_none_or(|a| store::state_account_id(a) == r.account_id)).collect();
    let iso = |ms: u64| chrono::DateTime::from_timestamp_millis(ms as i64).unwrap_or_default().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let rows: Vec<Value> = requests
        .iter()
        .map(|r| {
            let mut meta = json!({"accountId": r.account_id});
            if let Some(n) = &r.name {
                meta["username"] = json!(n);
            }
            json!({"id": r.id, "code": r.code.as_str(), "createdAt": iso(r.created_at_ms), "lastSeenAt": iso(r.last_seen_at_ms), "meta": meta})
        })
        .collect();
    let stdout = if args.json {
        format!("{}\n", serde_json::to_string_pretty(&json!({"channel": channel, "requests": rows})).unwrap_or_default())
    } else if rows.is_empty() {
        format!("No pending {channel} pairing requests.\n")
    } else {
        let mut out = format!("Pairing requests ({})\n", rows.len());
        let id_label = if channel == "whatsapp" { "Phone" } else { "Telegram ID" };
        let _ = writeln!(out, "{:<10}  {:<14}  {:<28}  Requested", "Code", id_label, "Meta");
        for r in &rows {
            let meta = r["meta"].to_string();
            let _ = writeln!(out, "{:<10}  {:<14}  {:<28}  {}", r["code"].as_str().unwrap_or(""), r["id"].as_str().unwrap_or(""), meta, r["createdAt"].as_str().unwrap_or(""));
        }
        out
    };
    Rendered { stdout, stderr: String::new(), code: 0 }
}

/// `openclaw pairing approve <channel> <code>` (or `--channel <channel> <code>`).
pub fn pairing_approve(args: &PairingApproveArgs) -> Rendered {
    let (positional, code) = match (&args.code_or_channel, &args.code) {
        (c, Some(code)) => (Some(c.as_str()), code.clone()),
        (code, None) => (None, code.clone()),
    };
    if positional.is_none() && args.channel.is_none() {
        return fail("Usage: openclaw pairing approve <channel> <code> (or: openclaw pairing approve --channel <channel> <code>)".into());
    }
    if args.channel.is_some() && positional.is_some() {
        return fail("Too many arguments. Use: openclaw pairing approve --channel <channel> <code>".into());
    }
    let channel = match channel_of(positional, args.channel.as_deref()) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let db = match state_db() {
        Ok(db) => db,
        Err(e) => return fail(e),
    };
    match store::pairing_approve(&db, &channel, &code, now_ms()) {
        Ok(req) => Rendered { stdout: format!("Approved {channel} sender {}.\n", req.id), stderr: String::new(), code: 0 },
        Err(ApproveError::Pairing(_)) => fail(format!(
            "No pending pairing request found for code \"{}\". Run openclaw pairing list --channel {channel} to list pending requests.",
            code.trim()
        )),
        Err(e) => fail(e.to_string()),
    }
}

/// `openclaw channels status [--channel <c>] [--probe] [--json]`: the `channels.status` RPC
/// (with `probe`, the gateway gets a little less than `--timeout` for its probes).
pub async fn channels_status(args: &ChannelsStatusArgs) -> Result<Value, CallFailure> {
    let target = Target::resolve(&args.client).map_err(CallFailure::Config)?;
    let mut params = json!({});
    if let Some(c) = &args.channel {
        params["channel"] = json!(c);
    }
    if args.probe {
        params["probe"] = json!(true);
        params["timeoutMs"] = json!(args.client.timeout.saturating_sub(500).max(1_000));
    }
    call_as(&target, &["operator.read"], "channels.status", params).await
}

/// `openclaw channels logout [--channel <c>] [--account <id>]`: the `channels.logout` RPC.
pub async fn channels_logout(args: &ChannelsLogoutArgs) -> Result<Value, CallFailure> {
    let target = Target::resolve(&args.client).map_err(CallFailure::Config)?;
    let mut params = json!({"channel": args.channel.as_deref().unwrap_or(PAIRING_CHANNELS[0])});
    if let Some(a) = &args.account {
        params["accountId"] = json!(a);
    }
    call_as(&target, &["operator.admin"], "channels.logout", params).await
}

/// The human form of a `channels.logout` answer, as the reference prints it.
pub fn logout_text(v: &Value) -> String {
    let scope = format!("{}/{}", v["channel"].as_str().unwrap_or("telegram"), v["accountId"].as_str().unwrap_or("default"));
    let head = if v["cleared"] == true { "Cleared saved auth" } else { "No saved auth was cleared" };
    let tail = if v["loggedOut"] == false { " Other credentials may still be active." } else { "" };
    format!("{head} for {scope}.{tail}\n")
}

/// The human form of `channels.status`.
pub fn channels_status_text(v: &Value) -> String {
    let mut out = String::from("Gateway reachable.\n");
    let accounts = v["channelAccounts"]["telegram"].as_array().cloned().unwrap_or_default();
    if accounts.is_empty() {
        out.push_str("No channels configured.\n");
    }
    for a in accounts {
        let flag = |k: &str, yes: &str, no: &str| if a[k] == true { yes.to_owned() } else { no.to_owned() };
        let mut parts = vec![
            flag("enabled", "enabled", "disabled"),
            flag("configured", "configured", "not configured"),
            flag("running", "running", "stopped"),
            flag("connected", "connected", "disconnected"),
            format!("mode:{}", a["mode"].as_str().unwrap_or("-")),
            format!("token:{}", a["tokenSource"].as_str().unwrap_or("-")),
        ];
        match (&a["probe"]["ok"], a["probe"]["bot"]["username"].as_str()) {
            (Value::Bool(true), Some(u)) => parts.push(format!("probe:ok @{u}")),
            (Value::Bool(true), None) => parts.push("probe:ok".to_owned()),
            (Value::Bool(false), _) => parts.push("probe:failed".to_owned()),
            _ => {}
        }
        if let Some(e) = a["lastError"].as_str() {
            parts.push(format!("error:{e}"));
        }
        let _ = writeln!(out, "- Telegram {}: {}", a["accountId"].as_str().unwrap_or("default"), parts.join(", "));
    }
    for a in v["channelAccounts"]["whatsapp"].as_array().cloned().unwrap_or_default() {
        let flag = |k: &str, yes: &str, no: &str| if a[k] == true { yes.to_owned() } else { no.to_owned() };
        let mut parts = vec![
            flag("enabled", "enabled", "disabled"),
            flag("linked", "linked", "not linked"),
            flag("running", "running", "stopped"),
            flag("connected", "connected", "disconnected"),
        ];
        if let Some(n) = a["self"]["e164"].as_str() {
            parts.push(format!("self:{n}"));
        }
        if let Some(d) = a["lastDisconnect"].as_object() {
            let status = d.get("status").and_then(Value::as_u64).map(|s| s.to_string()).unwrap_or_else(|| "-".into());
            let logged_out = if d.get("loggedOut") == Some(&Value::Bool(true)) { ", logged out" } else { "" };
            parts.push(format!("disconnect:{status}{logged_out}"));
        }
        if let Some(e) = a["lastError"].as_str() {
            parts.push(format!("error:{e}"));
        }
        let _ = writeln!(out, "- WhatsApp {}: {}", a["accountId"].as_str().unwrap_or("default"), parts.join(", "));
    }
    if v["channelAccounts"]["telegram"].as_array().is_none_or(Vec::is_empty) && v["channelAccounts"]["whatsapp"].as_array().is_some_and(|a| !a.is_empty()) {
        out = out.replace("No channels configured.\n", "");
    }
    out
}

fn whatsapp_only(channel: &str) -> Result<(), CallFailure> {
    if channel.trim().eq_ignore_ascii_case("whatsapp") {
        Ok(())
    } else {
        Err(CallFailure::Usage(format!("Channel {} does not support login (supported: whatsapp)", channel.trim())))
    }
}

/// `openclaw channels login [--channel whatsapp] [--account <id>] [--force]`: asks the running
/// gateway for a QR login (`web.login.start`), draws each QR in the terminal (a rotated one as
/// soon as `web.login.wait` reports it) and ends when the phone has linked. Progress goes to
/// `out` (stdout).
pub async fn channels_login(args: &ChannelsLoginArgs, out: &mut (dyn std::io::Write + Send)) -> Result<Value, CallFailure> {
    whatsapp_only(&args.channel)?;
    let target = Target::resolve(&args.client).map_err(CallFailure::Config)?;
    let mut account = json!({});
    if let Some(a) = &args.account {
        account["accountId"] = json!(a);
    }
    let mut opts = target.options("cli", &["operator.admin"]);
    // web.login.wait holds the call up to its timeoutMs.
    opts.timeout = opts.timeout.max(std::time::Duration::from_secs(45));
    let (mut client, _) = crate::client_cmd::connect(opts).await.map_err(CallFailure::Gateway)?;
    let mut params = account.clone();
    params["force"] = json!(args.force);
    let started = client.call("web.login.start", params).await;
    let mut answer = match started {
        Ok(v) => v,
        Err(e) => {
            client.close().await;
            return Err(CallFailure::Gateway(e));
        }
    };
    let result = loop {
        let Some(url) = answer["qrDataUrl"].as_str().map(str::to_owned) else {
            // No (new) QR: linked, already linked, or failed.
            break answer;
        };
        show_qr(out, &answer, args.verbose);
        let mut params = account.clone();
        params["timeoutMs"] = json!(20_000);
        params["currentQrDataUrl"] = json!(url);
        answer = loop {
            match client.call("web.login.wait", params.clone()).await {
                Ok(v) if v["connected"] == false && v.get("qrDataUrl").is_none() && v["message"].as_str().is_some_and(|m| m.starts_with("Still waiting")) => continue,
                Ok(v) => break v,
                Err(e) => {
                    client.close().await;
                    return Err(CallFailure::Gateway(e));
                }
            }
        };
    };
    client.close().await;
    Ok(result)
}

fn show_qr(out: &mut (dyn std::io::Write + Send), answer: &Value, verbose: bool) {
    let message = answer["message"].as_str().unwrap_or("Scan this QR in WhatsApp → Linked Devices.");
    let drawn = match answer["qr"].as_str() {
        Some(raw) if verbose => Some(format!("{raw}\n")),
        Some(raw) => openclaw_channels::whatsapp::qr::terminal(raw).ok(),
        None => None,
    };
    let _ = match drawn {
        Some(qr) => write!(out, "{qr}\n{message}\n"),
        // Another gateway (the reference) answers the PNG only.
        None => write!(out, "{message}\nOpen this QR image to scan it: {}\n", answer["qrDataUrl"].as_str().unwrap_or_default()),
    };
    let _ = out.flush();
}

/// Whether a login answer means the account is linked (now or already).
pub fn login_linked(v: &Value) -> bool {
    v["connected"] == true || v["message"].as_str().is_some_and(|m| m.starts_with("WhatsApp is already linked"))
}

/// `openclaw message send --target <t> [--message <m>] [--media <path|url>]… [--force-document]
/// [--thread-id <id>] [--channel] [--account] [--json]`.
pub async fn message_send(args: &MessageSendArgs) -> Result<Value, CallFailure> {
    let target = Target::resolve(&args.client).map_err(CallFailure::Config)?;
    let mut key = [0u8; 16];
    getrandom::fill(&mut key).map_err(|e| CallFailure::Usage(e.to_string()))?;
    let key: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let mut params = json!({"to": args.target, "idempotencyKey": key});
    if let Some(m) = &args.message {
        params["message"] = json!(m);
    }
    // Local paths are read by the gateway, whose working directory is not ours: make them
    // absolute here.
    let media: Vec<String> = args
        .media
        .iter()
        .map(|m| {
            let lower = m.to_ascii_lowercase();
            if lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("file://") {
                m.clone()
            } else {
                std::path::absolute(m).map_or_else(|_| m.clone(), |p| p.display().to_string())
            }
        })
        .collect();
    match media.as_slice() {
        [] => {}
        [one] => params["mediaUrl"] = json!(one),
        many => params["mediaUrls"] = json!(many),
    }
    if args.force_document {
        params["forceDocument"] = json!(true);
    }
    if let Some(t) = &args.thread_id {
        params["threadId"] = json!(t);
    }
    if let Some(c) = &args.channel {
        params["channel"] = json!(c);
    }
    if let Some(a) = &args.account {
        params["accountId"] = json!(a);
    }
    call_as(&target, &["operator.write"], "send", params).await
}

/// The human form of a `send` answer.
pub fn sent_text(v: &Value) -> String {
    let label = match v["channel"].as_str() {
        Some("telegram") => "Telegram",
        Some("whatsapp") => "WhatsApp",
        Some(other) => other,
        None => "the channel",
    };
    match v["messageId"].as_str().filter(|m| !m.is_empty()) {
        Some(id) => format!("✅ Sent via {label}. Message ID: {id}\n"),
        None => format!("✅ Sent via {label}.\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_parse_like_the_reference() {
        assert_eq!(channel_of(None, None).unwrap(), "telegram");
        assert_eq!(channel_of(Some("Telegram"), None).unwrap(), "telegram");
        assert!(channel_of(Some("telegram"), Some("whatsapp")).unwrap_err().contains("Conflicting"));
        assert!(channel_of(Some("signal"), None).unwrap_err().contains("expected one of: telegram, whatsapp"));
        assert_eq!(channel_of(None, Some("WhatsApp")).unwrap(), "whatsapp");
    }

    #[test]
    fn sent_and_status_texts() {
        assert_eq!(sent_text(&json!({"channel": "telegram", "messageId": "42"})), "✅ Sent via Telegram. Message ID: 42\n");
        let status = json!({"channelAccounts": {"telegram": [{"accountId": "default", "enabled": true, "configured": true, "running": false,
            "connected": false, "mode": "polling", "tokenSource": "config", "lastError": "Telegram rejected the bot token (401 Unauthorized)"}]}});
        let text = channels_status_text(&status);
        assert!(text.contains("- Telegram default: enabled, configured, stopped, disconnected, mode:polling, token:config, error:Telegram rejected"), "{text}");
        let probed = json!({"channelAccounts": {"telegram": [{"accountId": "default", "probe": {"ok": true, "bot": {"username": "b_bot"}}}]}});
        assert!(channels_status_text(&probed).contains("probe:ok @b_bot"), "{}", channels_status_text(&probed));
    }

    #[test]
    fn logout_text_as_the_reference() {
        assert_eq!(logout_text(&json!({"channel": "telegram", "accountId": "default", "cleared": true, "loggedOut": true})), "Cleared saved auth for telegram/default.\n");
        assert_eq!(
            logout_text(&json!({"channel": "telegram", "accountId": "work", "cleared": false, "loggedOut": false})),
            "No saved auth was cleared for telegram/work. Other credentials may still be active.\n"
        );
    }
}
