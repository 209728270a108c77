//! `openclaw devices list|approve|reject|remove|clear|rename|rotate|revoke`: device pairing and
//! device tokens through the running gateway (`device.pair.*`, `device.token.*`), with the
//! reference CLI's `--json` documents (the method results as they come) and human lines.
//!
//! Like the reference CLI without a device identity, these commands authenticate with the
//! gateway token (or password) only; a device-less local `cli` client keeps the scopes it asks
//! for. `list` asks for `operator.pairing`, the changes for `operator.admin` (the reference
//! retries a denied approval with admin; asking for it at once gives the same answer).

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::args::ClientArgs;
use crate::client_cmd::Target;
use crate::output::{CallFailure, Report, Shaped};

const PAIRING_SCOPES: &[&str] = &["operator.pairing"];
const ADMIN_SCOPES: &[&str] = &["operator.admin"];

/// `openclaw devices`.
#[derive(Debug, Args)]
pub struct DevicesCommand {
    #[command(subcommand)]
    pub action: DevicesAction,
}

#[derive(Debug, Subcommand)]
pub enum DevicesAction {
    /// List pending and paired devices
    List(ClientArgs),
    /// Approve a pending device pairing request (without an id: show the latest one and how
    /// to approve it, exit 1)
    Approve(ApproveArgs),
    /// Reject a pending device pairing request
    Reject(RequestArgs),
    /// Remove a paired device entry (its sockets are closed)
    Remove(RemoveArgs),
    /// Clear paired devices from the gateway table
    Clear(ClearArgs),
    /// Assign an operator label to a paired device
    Rename(RenameArgs),
    /// Rotate a device token for a role (prints the new token as JSON)
    Rotate(RotateArgs),
    /// Revoke a device token for a role
    Revoke(RevokeArgs),
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// Pending request id
    #[arg(value_name = "REQUEST_ID")]
    pub request_id: Option<String>,
    /// Show the most recent pending request to approve explicitly
    #[arg(long)]
    pub latest: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct RequestArgs {
    /// Pending request id
    #[arg(value_name = "REQUEST_ID")]
    pub request_id: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// Paired device id
    #[arg(value_name = "DEVICE_ID")]
    pub device_id: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct ClearArgs {
    /// Confirm destructive clear
    #[arg(long)]
    pub yes: bool,
    /// Also reject all pending pairing requests
    #[arg(long)]
    pub pending: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct RenameArgs {
    /// Device id
    #[arg(long = "device", value_name = "ID")]
    pub device_id: String,
    /// Operator-assigned label (max 64 characters)
    #[arg(long, value_name = "LABEL")]
    pub name: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// Device id
    #[arg(long = "device", value_name = "ID")]
    pub device_id: String,
    /// Role name (operator, node)
    #[arg(long, value_name = "ROLE")]
    pub role: String,
    /// Scopes to attach to the token (repeatable; default: the token's current scopes)
    #[arg(long = "scope", value_name = "SCOPE", num_args = 1.., conflicts_with = "no_scopes")]
    pub scopes: Vec<String>,
    /// Rotate with an empty scope set
    #[arg(long)]
    pub no_scopes: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// Device id
    #[arg(long = "device", value_name = "ID")]
    pub device_id: String,
    /// Role name (operator, node)
    #[arg(long, value_name = "ROLE")]
    pub role: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

impl DevicesAction {
    /// The flags that reach the gateway (for `--json` on failures).
    pub fn client(&self) -> &ClientArgs {
        match self {
            Self::List(c) => c,
            Self::Approve(a) => &a.client,
            Self::Reject(a) => &a.client,
            Self::Remove(a) => &a.client,
            Self::Clear(a) => &a.client,
            Self::Rename(a) => &a.client,
            Self::Rotate(a) => &a.client,
            Self::Revoke(a) => &a.client,
        }
    }
}

/// Runs one `openclaw devices …` command.
pub async fn run(action: &DevicesAction) -> Result<Report, CallFailure> {
    match action {
        DevicesAction::List(args) => {
            let list = call(args, PAIRING_SCOPES, "device.pair.list", json!({})).await?;
            Ok(shaped(list.clone(), list_text(&list)))
        }
        DevicesAction::Approve(a) => approve(a).await,
        DevicesAction::Reject(a) => {
            let id = non_blank(&a.request_id, "requestId is required. Run `openclaw devices list` to choose a pending request.")?;
            let r = call(&a.client, ADMIN_SCOPES, "device.pair.reject", json!({ "requestId": id })).await?;
            let line = format!("Rejected {}\n", r["deviceId"].as_str().unwrap_or("ok"));
            Ok(shaped(r, line))
        }
        DevicesAction::Remove(a) => {
            let id = non_blank(&a.device_id, "deviceId is required. Run `openclaw devices list` to choose a paired device.")?;
            let r = call(&a.client, ADMIN_SCOPES, "device.pair.remove", json!({ "deviceId": id })).await?;
            Ok(shaped(r, format!("Removed {id}\n")))
        }
        DevicesAction::Clear(a) => clear(a).await,
        DevicesAction::Rename(a) => {
            let missing = "--device and --name are required. Run `openclaw devices list` to choose a paired device.";
            let (id, label) = (non_blank(&a.device_id, missing)?, non_blank(&a.name, missing)?);
            let params = json!({ "deviceId": id, "label": label });
            let r = call(&a.client, ADMIN_SCOPES, "device.pair.rename", params).await?;
            Ok(shaped(r, format!("Renamed {id} → {label}\n")))
        }
        DevicesAction::Rotate(a) => {
            let missing = "--device and --role are required. Run `openclaw devices list` to choose a paired device.";
            let (id, role) = (non_blank(&a.device_id, missing)?, non_blank(&a.role, missing)?);
            let mut params = json!({ "deviceId": id, "role": role });
            if a.no_scopes {
                params["scopes"] = json!([]);
            } else if !a.scopes.is_empty() {
                params["scopes"] = json!(a.scopes);
            }
            let r = call(&a.client, ADMIN_SCOPES, "device.token.rotate", params).await?;
            // The reference prints the result as JSON with or without --json.
            Ok(shaped(r.clone(), pretty(&r)))
        }
        DevicesAction::Revoke(a) => {
            let missing = "--device and --role are required. Run `openclaw devices list` to choose a paired device.";
            let (id, role) = (non_blank(&a.device_id, missing)?, non_blank(&a.role, missing)?);
            let r = call(&a.client, ADMIN_SCOPES, "device.token.revoke", json!({ "deviceId": id, "role": role })).await?;
            Ok(shaped(r.clone(), pretty(&r)))
        }
    }
}

/// `devices approve <id>`; without an id (or with `--latest`) the latest pending request is
/// shown with the exact command that approves it, and the exit code is 1 (as the reference).
async fn approve(a: &ApproveArgs) -> Result<Report, CallFailure> {
    let id = a.request_id.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if let (Some(id), false) = (id, a.latest) {
        let r = call(&a.client, ADMIN_SCOPES, "device.pair.approve", json!({ "requestId": id })).await?;
        let device = r["device"]["deviceId"].as_str().unwrap_or("ok");
        let line = format!("Approved {device} ({})\n", r["requestId"].as_str().unwrap_or(id));
        return Ok(shaped(r, line));
    }
    let list = call(&a.client, PAIRING_SCOPES, "device.pair.list", json!({})).await?;
    let latest = list["pending"]
        .as_array()
        .into_iter()
        .flatten()
        .max_by_key(|r| r["ts"].as_u64().unwrap_or(0))
        .cloned();
    let Some(req) = latest else {
        return Ok(Report::Shaped(Shaped {
            json: None,
            text: String::new(),
            stderr: "No pending device pairing requests to approve\n".into(),
            code: 1,
        }));
    };
    let request_id = req["requestId"].as_str().unwrap_or_default().to_owned();
    let command = format!("openclaw devices approve {request_id}");
    let requested = json!({ "roles": req["roles"], "scopes": req["scopes"] });
    let doc = json!({
        "selected": req,
        "approvalState": { "kind": "new-pairing", "requested": requested },
        "approveCommand": command,
        "requiresAuthFlags": { "token": a.client.token.is_some(), "password": a.client.password.is_some() },
    });
    let text = format!(
        "Selected pending device request {request_id}\n  Device: {}\n  Requested: {}\n",
        device_identity(&req),
        access(&req)
    );
    Ok(Report::Shaped(Shaped {
        json: Some(doc),
        text,
        stderr: format!("Approve this exact request with: {command}\n"),
        code: 1,
    }))
}

/// `devices clear --yes [--pending]`: removes every paired device (and rejects every pending
/// request with `--pending`) over one connection, as the reference does one call at a time;
/// `--json` prints `{removedDevices, rejectedPending}`.
async fn clear(a: &ClearArgs) -> Result<Report, CallFailure> {
    if !a.yes {
        return Ok(Report::Shaped(Shaped {
            json: None,
            text: String::new(),
            stderr: "Refusing to clear pairing table without --yes\n".into(),
            code: 1,
        }));
    }
    let target = Target::resolve(&a.client).map_err(CallFailure::Config)?;
    let (mut client, _hello) =
        crate::client_cmd::connect(target.options("cli", ADMIN_SCOPES)).await.map_err(CallFailure::Gateway)?;
    let outcome = async {
        let list = client.call("device.pair.list", json!({})).await?;
        let ids = |rows: &Value, key: &str| -> Vec<String> {
            rows.as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r[key].as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned))
                .collect()
        };
        let mut removed = Vec::new();
        for id in ids(&list["paired"], "deviceId") {
            client.call("device.pair.remove", json!({ "deviceId": id })).await?;
            removed.push(id);
        }
        let mut rejected = Vec::new();
        if a.pending {
            for id in ids(&list["pending"], "requestId") {
                client.call("device.pair.reject", json!({ "requestId": id })).await?;
                rejected.push(id);
            }
        }
        Ok::<_, openclaw_io::client::ClientError>((removed, rejected))
    }
    .await;
    client.close().await;
    let (removed, rejected) = outcome.map_err(CallFailure::Gateway)?;
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let mut text = format!("Cleared {} paired device{}\n", removed.len(), plural(removed.len()));
    if a.pending {
        text.push_str(&format!("Rejected {} pending request{}\n", rejected.len(), plural(rejected.len())));
    }
    Ok(shaped(json!({ "removedDevices": removed, "rejectedPending": rejected }), text))
}

async fn call(args: &ClientArgs, scopes: &[&str], method: &str, params: Value) -> Result<Value, CallFailure> {
    let target = Target::resolve(args).map_err(CallFailure::Config)?;
    let (mut client, _hello) =
        crate::client_cmd::connect(target.options("cli", scopes)).await.map_err(CallFailure::Gateway)?;
    let result = client.call(method, params).await;
    client.close().await;
    result.map_err(CallFailure::Gateway)
}

fn non_blank<'a>(value: &'a str, message: &str) -> Result<&'a str, CallFailure> {
    Some(value.trim()).filter(|v| !v.is_empty()).ok_or_else(|| CallFailure::Usage(message.to_owned()))
}

fn shaped(json: Value, text: String) -> Report {
    Report::Shaped(Shaped { json: Some(json), text, stderr: String::new(), code: 0 })
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array().into_iter().flatten().filter_map(Value::as_str).collect()
}

/// `roles: node; scopes: none`.
fn access(row: &Value) -> String {
    let list = |v: &Value| {
        let s = strings(v);
        if s.is_empty() { "none".to_owned() } else { s.join(", ") }
    };
    let roles = if row["roles"].is_array() { list(&row["roles"]) } else { list(&json!([row["role"]])) };
    format!("roles: {roles}; scopes: {}", list(&row["scopes"]))
}

/// `vm (node-host, linux)`: the name and what the device said it is.
fn device_identity(row: &Value) -> String {
    let name = ["operatorLabel", "label", "displayName", "clientId", "deviceId"]
        .iter()
        .find_map(|k| row[*k].as_str())
        .unwrap_or("?");
    let about: Vec<&str> = ["clientId", "platform"].iter().filter_map(|k| row[*k].as_str()).collect();
    if about.is_empty() { name.to_owned() } else { format!("{name} ({})", about.join(", ")) }
}

/// The human `devices list`: a Pending and a Paired section, as the reference's tables.
pub fn list_text(list: &Value) -> String {
    let pending = list["pending"].as_array().cloned().unwrap_or_default();
    let paired = list["paired"].as_array().cloned().unwrap_or_default();
    let mut out = String::new();
    if !pending.is_empty() {
        out.push_str(&format!("Pending ({})\n", pending.len()));
        out.push_str(&format!("{:<38} {:<32} {}\n", "REQUEST", "DEVICE", "REQUESTED"));
        for r in &pending {
            let mut device = device_identity(r);
            if let Some(ip) = r["remoteIp"].as_str() {
                device.push_str(&format!(" · {ip}"));
            }
            out.push_str(&format!("{:<38} {device:<32} {}\n", r["requestId"].as_str().unwrap_or("?"), access(r)));
        }
    }
    if !paired.is_empty() {
        out.push_str(&format!("Paired ({})\n", paired.len()));
        out.push_str(&format!("{:<24} {:<16} {:<28} {:<10} {}\n", "DEVICE", "ROLES", "SCOPES", "CONNECTED", "TOKENS"));
        for d in &paired {
            let name = ["operatorLabel", "label", "displayName", "clientId", "deviceId"]
                .iter()
                .find_map(|k| d[*k].as_str())
                .unwrap_or("?");
            let tokens: Vec<String> = d["tokens"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| {
                    let role = t["role"].as_str().unwrap_or("?");
                    if t["revokedAtMs"].is_u64() { format!("{role} (revoked)") } else { role.to_owned() }
                })
                .collect();
            let connected = if d["connected"] == true { "yes" } else { "no" };
            out.push_str(&format!(
                "{name:<24} {:<16} {:<28} {connected:<10} {}\n",
                strings(&d["roles"]).join(", "),
                strings(&d["scopes"]).join(", "),
                if tokens.is_empty() { "none".to_owned() } else { tokens.join(", ") }
            ));
        }
        out.push_str("Full device IDs\n");
        for d in &paired {
            out.push_str(&format!("  {}\n", d["deviceId"].as_str().unwrap_or("?")));
        }
    }
    if pending.is_empty() && paired.is_empty() {
        out.push_str("No device pairing entries.\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_text_has_both_sections_and_the_empty_line() {
        assert_eq!(list_text(&json!({"pending": [], "paired": []})), "No device pairing entries.\n");
        let text = list_text(&json!({
            "pending": [{"requestId": "r1", "deviceId": "d1", "displayName": "vm", "clientId": "node-host",
                         "platform": "linux", "role": "node", "roles": ["node"], "scopes": [], "remoteIp": "10.0.0.2"}],
            "paired": [{"deviceId": "d2", "displayName": "box", "roles": ["operator"], "scopes": ["operator.read"],
                        "connected": true, "tokens": [{"role": "operator", "scopes": [], "createdAtMs": 1, "revokedAtMs": 2}]}],
        }));
        assert!(text.contains("Pending (1)") && text.contains("vm (node-host, linux) · 10.0.0.2"), "{text}");
        assert!(text.contains("roles: node; scopes: none"), "{text}");
        assert!(text.contains("Paired (1)") && text.contains("operator (revoked)") && text.contains("  d2\n"), "{text}");
    }
}
