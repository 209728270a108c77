//! `channels.status {probe: true}`: one `getMe` per account, rendered as the reference's probe
//! object (`{ok, status, error, botInfo?, bot{…}, elapsedMs}`; a failed call is
//! `{ok: false, status, error}` with Telegram's status and description, or `status: null` when
//! Telegram could not be reached).

use serde_json::{json, Map, Value};

/// The probe object for a `getMe` that got `answer` (the HTTP status and body, or why there was
/// none) after `elapsed_ms`.
pub fn probe_result(answer: Result<(u16, Vec<u8>), String>, elapsed_ms: u64) -> Value {
    let mut out = match answer {
        Err(error) => failed(Value::Null, error),
        Ok((status, body)) => match serde_json::from_slice::<Value>(&body) {
            Err(e) => failed(Value::Null, format!("getMe answered HTTP {status} with a body that is not JSON: {e}")),
            Ok(v) if !(200..300).contains(&status) || v["ok"] != json!(true) => {
                let error = v["description"].as_str().map_or_else(|| format!("getMe failed ({status})"), str::to_owned);
                failed(json!(status), error)
            }
            Ok(v) => succeeded(&v["result"]),
        },
    };
    out["elapsedMs"] = json!(elapsed_ms);
    out
}

fn failed(status: Value, error: String) -> Value {
    json!({"ok": false, "status": status, "error": error})
}

fn succeeded(me: &Value) -> Value {
    let flag = |k: &str| me[k].as_bool().map_or(Value::Null, Value::Bool);
    let text = |k: &str| me[k].as_str().map_or(Value::Null, |s| json!(s));
    let mut out = json!({"ok": true, "status": null, "error": null});
    if let Some(info) = bot_info(me) {
        out["botInfo"] = info;
    }
    out["bot"] = json!({
        "id": me["id"].as_i64().map_or(Value::Null, |id| json!(id)),
        "isBot": flag("is_bot"),
        "firstName": text("first_name"),
        "username": text("username"),
        "canJoinGroups": flag("can_join_groups"),
        "canReadAllGroupMessages": flag("can_read_all_group_messages"),
        "canManageBots": flag("can_manage_bots"),
        "supportsInlineQueries": flag("supports_inline_queries"),
        "canConnectToBusiness": flag("can_connect_to_business"),
        "hasMainWebApp": flag("has_main_web_app"),
        "hasTopicsEnabled": flag("has_topics_enabled"),
        "allowsUsersToCreateTopics": flag("allows_users_to_create_topics"),
    });
    out
}

/// The reference's normalised `botInfo`: only for a well-formed bot user, flags defaulting to
/// false.
fn bot_info(me: &Value) -> Option<Value> {
    let id = me["id"].as_i64()?;
    if me["is_bot"] != json!(true) {
        return None;
    }
    let (first, username) = (me["first_name"].as_str()?, me["username"].as_str()?);
    let mut info = Map::new();
    info.insert("id".into(), json!(id));
    info.insert("is_bot".into(), json!(true));
    info.insert("first_name".into(), json!(first));
    info.insert("username".into(), json!(username));
    for k in ["last_name", "language_code"] {
        if let Some(s) = me[k].as_str() {
            info.insert(k.into(), json!(s));
        }
    }
    for k in [
        "can_join_groups",
        "can_read_all_group_messages",
        "can_manage_bots",
        "supports_inline_queries",
        "supports_join_request_queries",
        "can_connect_to_business",
        "has_main_web_app",
        "has_topics_enabled",
        "allows_users_to_create_topics",
    ] {
        info.insert(k.into(), json!(me[k].as_bool().unwrap_or(false)));
    }
    Some(Value::Object(info))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bot_answers() {
        let body = json!({"ok": true, "result": {"id": 7, "is_bot": true, "first_name": "B", "username": "b_bot", "can_join_groups": true}});
        let p = probe_result(Ok((200, body.to_string().into_bytes())), 12);
        assert_eq!(p["ok"], true);
        assert_eq!(p["elapsedMs"], 12);
        assert_eq!(p["bot"]["username"], "b_bot");
        assert_eq!(p["bot"]["canJoinGroups"], true);
        assert_eq!(p["bot"]["canManageBots"], Value::Null);
        assert_eq!(p["botInfo"]["can_manage_bots"], false);
    }

    #[test]
    fn refusals_and_silence_are_failed_probes() {
        let body = json!({"ok": false, "error_code": 401, "description": "Unauthorized"});
        let p = probe_result(Ok((401, body.to_string().into_bytes())), 3);
        assert_eq!(p, json!({"ok": false, "status": 401, "error": "Unauthorized", "elapsedMs": 3}));
        let p = probe_result(Err("connection refused".into()), 1);
        assert_eq!(p, json!({"ok": false, "status": null, "error": "connection refused", "elapsedMs": 1}));
        let p = probe_result(Ok((502, b"<html>".to_vec())), 1);
        assert_eq!(p["ok"], false);
        assert!(p.get("bot").is_none());
    }
}
