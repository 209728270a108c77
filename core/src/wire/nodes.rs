//! Params and payloads of the `node.*` methods and events (channels-agent-nodes.md §8.3-8.6,
//! errata "Pairing store and methods"; closed like the reference's schemas where it
//! publishes them).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `node.list` / `node.pair.list` params: the empty closed object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeListParams {}

/// `node.describe` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeDescribeParams {
    pub node_id: String,
}

/// `node.rename` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeRenameParams {
    #[schemars(length(min = 1))]
    pub node_id: String,
    pub display_name: String,
}

/// `node.pair.approve` / `node.pair.reject` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodePairRequestParams {
    #[schemars(length(min = 1))]
    pub request_id: String,
}

/// `node.pair.remove` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodePairRemoveParams {
    #[schemars(length(min = 1))]
    pub node_id: String,
}

/// `node.invoke` params (`NodeInvokeParamsSchema`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeInvokeParams {
    #[schemars(length(min = 1))]
    pub node_id: String,
    #[schemars(length(min = 1))]
    pub command: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[schemars(length(min = 1))]
    pub idempotency_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub session_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_source_channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_source_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_source_account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_source_thread_id: Option<Value>,
}

/// The node's error in `node.invoke.result`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeError {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `node.invoke.result` params (the node's answer to `node.invoke.request`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeInvokeResultParams {
    #[schemars(length(min = 1))]
    pub id: String,
    #[schemars(length(min = 1))]
    pub node_id: String,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    /// A JSON string (a non-string is treated as `payload`, as the reference normalises it).
    #[serde(default, rename = "payloadJSON", skip_serializing_if = "Option::is_none")]
    pub payload_json: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

/// `node.event` params.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeEventParams {
    #[schemars(length(min = 1))]
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    #[serde(default, rename = "payloadJSON", skip_serializing_if = "Option::is_none")]
    pub payload_json: Option<String>,
}

/// `node.runnerInventory.update` params (the node host's worker-runner declaration).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeRunnerInventoryParams {
    pub protocol_features: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_host: Option<Value>,
}

/// `node.skills.update` params.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeSkillsUpdateParams {
    #[schemars(length(max = 64))]
    pub skills: Vec<Value>,
}

/// `node.pluginTools.update` params.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodePluginToolsUpdateParams {
    pub tools: Vec<Value>,
}

/// `node.invoke.request` event payload, sent to the node alone (no `seq`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeInvokeRequest {
    pub id: String,
    pub node_id: String,
    pub command: String,
    /// The params as a JSON string, `null` when none.
    #[serde(rename = "paramsJSON")]
    pub params_json: Option<String>,
    pub timeout_ms: u64,
    pub idempotency_key: String,
}

/// `node.pair.resolved` event payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodePairResolved {
    pub request_id: String,
    pub node_id: String,
    pub decision: String,
    pub ts: u64,
}

/// `node.invoke.progress` params (`NodeInvokeProgressParamsSchema`): one stdout chunk of a
/// running invoke.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeInvokeProgressParams {
    #[schemars(length(min = 1))]
    pub invoke_id: String,
    #[schemars(length(min = 1))]
    pub node_id: String,
    pub seq: u64,
    #[schemars(length(max = 16384))]
    pub chunk: String,
}

/// The kinds of pending node work (`status.request`, `location.request`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub enum NodeWorkType {
    #[serde(rename = "status.request")]
    StatusRequest,
    #[serde(rename = "location.request")]
    LocationRequest,
}

/// The priority a caller may give queued work (`default` is the baseline status item's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum NodeWorkPriority {
    Normal,
    High,
}

/// `node.pending.enqueue` params (`NodePendingEnqueueParamsSchema`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodePendingEnqueueParams {
    #[schemars(length(min = 1))]
    pub node_id: String,
    #[serde(rename = "type")]
    pub kind: NodeWorkType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<NodeWorkPriority>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1000, max = 86_400_000))]
    pub expires_in_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wake: Option<bool>,
}

/// `node.pending.drain` params (`NodePendingDrainParamsSchema`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodePendingDrainParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10))]
    pub max_items: Option<u64>,
}
