//! `GET /v1/models` and `GET /v1/models/{id}` (http.md §2.7): the agent targets a `model`
//! may name, as OpenAI model objects.

use bytes::Bytes;
use hyper::StatusCode;
use serde_json::{json, Value};

use super::routing::agents;
use crate::http::{respond, HandlerResult, HttpError, HttpRequest, JSON};

/// The ids: `openclaw`, `openclaw/default`, then `openclaw/<agentId>` per agent.
fn ids() -> Vec<String> {
    let mut ids = vec!["openclaw".to_owned(), "openclaw/default".to_owned()];
    ids.extend(agents().into_iter().map(|a| format!("openclaw/{a}")));
    ids
}

fn model(id: &str) -> Value {
    json!({ "id": id, "object": "model", "created": 0, "owned_by": "openclaw", "permission": [] })
}

/// `GET /v1/models`.
pub(crate) async fn list(_req: HttpRequest) -> HandlerResult {
    let data: Vec<Value> = ids().iter().map(|id| model(id)).collect();
    let body = json!({ "object": "list", "data": data });
    Ok(respond(StatusCode::OK, JSON, Bytes::from(body.to_string())))
}

/// `GET /v1/models/{id}` (the id percent-encoded: `openclaw%2Fmain`).
pub(crate) async fn get(req: HttpRequest) -> HandlerResult {
    let raw = req.params.get("id").map(String::as_str).unwrap_or("");
    if raw.is_empty() {
        return Err(HttpError::BadRequest("Missing model id.".into()));
    }
    let id = crate::percent::decode_uri_component(raw).ok_or_else(|| HttpError::BadRequest("Invalid model id encoding.".into()))?;
    if id.trim().is_empty() {
        return Err(HttpError::BadRequest("Invalid model id.".into()));
    }
    if !ids().contains(&id) {
        return Err(HttpError::NotFound(format!("Model '{id}' not found.")));
    }
    Ok(respond(StatusCode::OK, JSON, Bytes::from(model(&id).to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ids() {
        assert_eq!(ids(), ["openclaw", "openclaw/default", "openclaw/main"]);
    }
}
