//! The method table: every method this gateway serves, one entry each. Everything else about a
//! method is derived from its entry (see `derive.rs`): the [`Method`](super::Method) variant
//! and its wire name, the typed [`MethodCall`](super::MethodCall) and its parse, the params
//! validator (compiled lazily, once), the scope an operator needs, `SERVED_METHODS` (and so
//! `hello-ok.features.methods`, in this order), the dispatch to the handler, and the
//! `method.*.schema.json` files the schema emitter writes.
//!
//! # Adding a method
//! 1. Its params type in `core/src/wire/<family>.rs` (`#[serde(deny_unknown_fields)]`,
//!    `JsonSchema`), `Box<…>` here if it is large.
//! 2. One entry below: `Variant = "wire.name" { params: Type => "method.wire.name.params",
//!    result: Type => "method.wire.name.result", scope: Read|Write|Admin|…, handler: module::fn, }`
//!    (`result`, `check` and `store` are optional; `check: path` is a
//!    `fn(&Params) -> Result<(), String>` run after the schema, for rules a schema cannot say;
//!    `store: writes` marks a method that needs the session store, refused with a retryable
//!    UNAVAILABLE while the store queue is backed up). The scope must match the reference's
//!    (`scope_table.rs`; a test checks it).
//! 3. The handler: `pub(crate) fn name(hub: &mut Hub, rq: Req, params: Params)` in the hub
//!    module of the service that owns the method (`crate::hub::<module>`), answering with
//!    `hub.respond_ok(&rq, …)` / `hub.respond_err(&rq, …)` now or later; plus its test.
//! 4. `cargo run -p openclaw-core --example emit-schemas` writes the new schema file(s) (the
//!    validator is compiled from the same emitted schema; `schemas_current` checks the files)
//!    and `INSTA_UPDATE=always cargo test -p openclaw-core` the snapshots that list
//!    `hello-ok.features.methods`, if any.
//!
//! Methods not listed here get today's answer for an unknown method (the reference's scope
//! table still decides who may call them, then `unknown method`).

use super::derive::method_table;
use crate::wire::agent::{AgentAccepted, AgentParams, AgentWaitParams};
use crate::wire::channels::{ChannelsAccountParams, ChannelsStatusParams, SendParams, WebLoginStartParams, WebLoginWaitParams};
use crate::wire::chat::{ChatAbortParams, ChatHistoryParams, ChatSendParams};
use crate::wire::control_ui::{AgentIdentityParams, ObserverVisibilityParams, UpdateStatusParams};
use crate::wire::devices::{
    DeviceIdParams, DevicePairRenameParams, DeviceTokenRevokeParams, DeviceTokenRotateParams, PairRequestParams,
};
use crate::wire::hello::{HealthSnapshot, PresenceEntry};
use crate::wire::host::{ConfigApplyParams, ConfigPatchParams, ConfigSetParams, EmptyParams, LogsTailParams};
use crate::wire::nodes::{
    NodeDescribeParams, NodeEventParams, NodeInvokeParams, NodeInvokeProgressParams, NodeInvokeResultParams,
    NodeListParams, NodePairRemoveParams, NodePairRequestParams, NodePendingDrainParams, NodePendingEnqueueParams,
    NodePluginToolsUpdateParams, NodeRenameParams, NodeRunnerInventoryParams, NodeSkillsUpdateParams,
};
use crate::wire::methods::{HealthParams, OkResult, StatusParams, SystemEventParams, SystemPresenceParams};
use crate::wire::sessions::{SessionsDeleteParams, SessionsListParams, SessionsResetParams};

method_table! {
    /// `health` (§5.1): the health snapshot.
    Health = "health" {
        params: HealthParams => "method.health.params",
        result: HealthSnapshot => "method.health.result",
        scope: Read,
        handler: handlers::health,
    },
    /// `status` (§5.2).
    Status = "status" {
        params: StatusParams => "method.status.params",
        scope: Read,
        handler: handlers::status,
    },
    /// `system-presence` (§5.3): the presence list.
    SystemPresence = "system-presence" {
        params: SystemPresenceParams => "method.system-presence.params",
        result: Vec<PresenceEntry> => "method.system-presence.result",
        scope: Read,
        handler: handlers::system_presence,
    },
    /// `system-event` (§5.4): a presence update and a queued text for the next agent turn.
    SystemEvent = "system-event" {
        params: Box<SystemEventParams> => "method.system-event.params",
        result: OkResult => "method.system-event.result",
        scope: Admin,
        handler: handlers::system_event,
        check: SystemEventParams::check_text,
    },
    /// `agent` (§5.6): a two-stage agent run.
    Agent = "agent" {
        params: Box<AgentParams> => "method.agent.params",
        result: AgentAccepted => "method.agent.accepted",
        scope: Write,
        handler: agent::agent,
        store: writes,
    },
    /// `agent.wait` (§5.7).
    AgentWait = "agent.wait" {
        params: AgentWaitParams => "method.agent.wait.params",
        scope: Write,
        handler: agent::agent_wait,
    },
    /// `chat.history` (§5.8).
    ChatHistory = "chat.history" {
        params: Box<ChatHistoryParams> => "method.chat.history.params",
        scope: Read,
        handler: chat::history,
        store: writes,
    },
    /// `chat.abort` (§5.8).
    ChatAbort = "chat.abort" {
        params: ChatAbortParams => "method.chat.abort.params",
        scope: Write,
        handler: chat::abort,
    },
    /// `chat.send` (§5.8).
    ChatSend = "chat.send" {
        params: Box<ChatSendParams> => "method.chat.send.params",
        scope: Write,
        handler: chat::send,
        store: writes,
    },
    SessionsList = "sessions.list" {
        params: SessionsListParams => "method.sessions.list.params",
        scope: Read,
        handler: sessions::list,
    },
    SessionsReset = "sessions.reset" {
        params: SessionsResetParams => "method.sessions.reset.params",
        scope: Admin,
        handler: sessions::reset,
        store: writes,
    },
    SessionsDelete = "sessions.delete" {
        params: SessionsDeleteParams => "method.sessions.delete.params",
        scope: Write,
        handler: sessions::delete,
        store: writes,
    },
    /// `logs.tail` (§5.11), answered by the host (files).
    LogsTail = "logs.tail" {
        params: LogsTailParams => "method.logs.tail.params",
        scope: Read,
        handler: handlers::logs_tail,
    },
    /// `config.*` (§5.12), answered by the host (files).
    ConfigGet = "config.get" {
        params: EmptyParams => "method.config.get.params",
        scope: Read,
        handler: handlers::config_get,
    },
    ConfigSchema = "config.schema" {
        params: EmptyParams => "method.config.get.params",
        scope: Read,
        handler: handlers::config_schema,
    },
    ConfigSet = "config.set" {
        params: ConfigSetParams => "method.config.set.params",
        scope: Admin,
        handler: handlers::config_set,
    },
    ConfigApply = "config.apply" {
        params: Box<ConfigApplyParams> => "method.config.apply.params",
        scope: Admin,
        handler: handlers::config_apply,
    },
    ConfigPatch = "config.patch" {
        params: Box<ConfigPatchParams> => "method.config.patch.params",
        scope: Admin,
        handler: handlers::config_patch,
    },
    /// `device.pair.list` (errata "Pairing store"): pending requests and paired devices
    /// (`connected`, tokens without secrets).
    DevicePairList = "device.pair.list" {
        params: EmptyParams => "method.device.pair.list.params",
        scope: Pairing,
        handler: device_methods::list,
    },
    /// `device.pair.approve`: pairs the device (roles other than operator need admin) and
    /// broadcasts `device.pair.resolved`.
    DevicePairApprove = "device.pair.approve" {
        params: PairRequestParams => "method.device.pair.approve.params",
        scope: Pairing,
        handler: device_methods::approve,
    },
    DevicePairReject = "device.pair.reject" {
        params: PairRequestParams => "method.device.pair.reject.params",
        scope: Pairing,
        handler: device_methods::reject,
    },
    /// `device.pair.remove`: unpairs; the device's sockets close 4001.
    DevicePairRemove = "device.pair.remove" {
        params: DeviceIdParams => "method.device.pair.remove.params",
        scope: Pairing,
        handler: device_methods::remove,
    },
    DevicePairRename = "device.pair.rename" {
        params: DevicePairRenameParams => "method.device.pair.rename.params",
        scope: Pairing,
        handler: device_methods::rename,
    },
    /// `device.token.rotate`: a new token for (device, role), returned in band; the old one
    /// stops working and the device's sockets of that role close 4001.
    DeviceTokenRotate = "device.token.rotate" {
        params: DeviceTokenRotateParams => "method.device.token.rotate.params",
        scope: Pairing,
        handler: device_methods::token_rotate,
    },
    DeviceTokenRevoke = "device.token.revoke" {
        params: DeviceTokenRevokeParams => "method.device.token.revoke.params",
        scope: Pairing,
        handler: device_methods::token_revoke,
    },
    /// `channels.status`: the channel accounts' health (the channel runtime answers).
    ChannelsStatus = "channels.status" {
        params: ChannelsStatusParams => "method.channels.status.params",
        scope: Read,
        handler: channels::status,
    },
    /// `channels.start|stop|logout` (§2.1, §2.3): one account's task started, stopped, or its
    /// token removed from the config.
    ChannelsStart = "channels.start" {
        params: ChannelsAccountParams => "method.channels.start.params",
        scope: Admin,
        handler: channels::start,
    },
    ChannelsStop = "channels.stop" {
        params: ChannelsAccountParams => "method.channels.stop.params",
        scope: Admin,
        handler: channels::stop,
    },
    ChannelsLogout = "channels.logout" {
        params: ChannelsAccountParams => "method.channels.logout.params",
        scope: Admin,
        handler: channels::logout,
    },
    /// `send` (channels-agent-nodes.md §1): direct outbound delivery (the channel runtime).
    Send = "send" {
        params: Box<SendParams> => "method.send.params",
        scope: Write,
        handler: channels::send,
    },
    /// `web.login.start` (channels-agent-nodes.md §4.2): the WhatsApp QR login begins.
    WebLoginStart = "web.login.start" {
        params: WebLoginStartParams => "method.web.login.start.params",
        scope: Admin,
        handler: channels::web_login_start,
    },
    /// `web.login.wait`: waits for the scan (or a rotated QR).
    WebLoginWait = "web.login.wait" {
        params: Box<WebLoginWaitParams> => "method.web.login.wait.params",
        scope: Admin,
        handler: channels::web_login_wait,
    },
    /// `node.list` (§8.4): paired and connected nodes.
    NodeList = "node.list" {
        params: NodeListParams => "method.node.list.params",
        scope: Read,
        handler: nodes::list,
    },
    NodeDescribe = "node.describe" {
        params: NodeDescribeParams => "method.node.describe.params",
        scope: Read,
        handler: nodes::describe,
    },
    NodeRename = "node.rename" {
        params: NodeRenameParams => "method.node.rename.params",
        scope: Pairing,
        handler: nodes::rename,
    },
    /// `node.pair.*` (errata): node command surfaces waiting for, or given, approval.
    NodePairList = "node.pair.list" {
        params: NodeListParams => "method.node.list.params",
        scope: Pairing,
        handler: nodes::pair_list,
    },
    NodePairApprove = "node.pair.approve" {
        params: NodePairRequestParams => "method.node.pair.approve.params",
        scope: Pairing,
        handler: nodes::pair_approve,
    },
    NodePairReject = "node.pair.reject" {
        params: NodePairRequestParams => "method.node.pair.approve.params",
        scope: Pairing,
        handler: nodes::pair_reject,
    },
    NodePairRemove = "node.pair.remove" {
        params: NodePairRemoveParams => "method.node.pair.remove.params",
        scope: Pairing,
        handler: nodes::pair_remove,
    },
    /// `node.invoke` (§8.5): a command on a node, answered by its `node.invoke.result`.
    NodeInvoke = "node.invoke" {
        params: Box<NodeInvokeParams> => "method.node.invoke.params",
        scope: Write,
        handler: node_invoke::invoke,
    },
    /// `node.pending.enqueue`: work queued for a paired node until it drains it.
    NodePendingEnqueue = "node.pending.enqueue" {
        params: NodePendingEnqueueParams => "method.node.pending.enqueue.params",
        scope: Write,
        handler: node_pending::enqueue,
    },
    /// What the reference's Control UI calls when it opens (`hub/control_ui.rs`).
    AgentsList = "agents.list" {
        params: EmptyParams => "method.agents.list.params",
        scope: Read,
        handler: control_ui::agents_list,
    },
    AgentIdentityGet = "agent.identity.get" {
        params: AgentIdentityParams => "method.agent.identity.get.params",
        scope: Read,
        handler: control_ui::agent_identity,
    },
    UpdateStatus = "update.status" {
        params: UpdateStatusParams => "method.update.status.params",
        scope: Admin,
        handler: control_ui::update_status,
    },
    SessionsObserverVisibility = "sessions.observer.visibility" {
        params: ObserverVisibilityParams => "method.sessions.observer.visibility.params",
        scope: Read,
        handler: control_ui::observer_visibility,
    },
    PluginsControlUiList = "plugins.controlUi.list" {
        params: EmptyParams => "method.plugins.controlUi.list.params",
        scope: Read,
        handler: control_ui::plugins_list,
    },
    ExecApprovalList = "exec.approval.list" {
        params: EmptyParams => "method.exec.approval.list.params",
        scope: Approvals,
        handler: control_ui::approvals_list,
    },
    PluginApprovalList = "plugin.approval.list" {
        params: EmptyParams => "method.plugin.approval.list.params",
        scope: Approvals,
        handler: control_ui::approvals_list,
    },
    OpenclawApprovalList = "openclaw.approval.list" {
        params: EmptyParams => "method.openclaw.approval.list.params",
        scope: Approvals,
        handler: control_ui::approvals_list,
    },
    /// Node-role methods (the table's scope is not used: only nodes may call them).
    NodeInvokeResult = "node.invoke.result" {
        params: Box<NodeInvokeResultParams> => "method.node.invoke.result.params",
        scope: Admin,
        handler: node_invoke::invoke_result,
    },
    NodeInvokeProgress = "node.invoke.progress" {
        params: NodeInvokeProgressParams => "method.node.invoke.progress.params",
        scope: Admin,
        handler: node_invoke::invoke_progress,
    },
    NodePendingDrain = "node.pending.drain" {
        params: NodePendingDrainParams => "method.node.pending.drain.params",
        scope: Admin,
        handler: node_pending::drain,
    },
    NodeEvent = "node.event" {
        params: NodeEventParams => "method.node.event.params",
        scope: Admin,
        handler: node_events::event,
    },
    NodeRunnerInventoryUpdate = "node.runnerInventory.update" {
        params: NodeRunnerInventoryParams => "method.node.runnerInventory.update.params",
        scope: Admin,
        handler: nodes::runner_inventory_update,
    },
    NodeSkillsUpdate = "node.skills.update" {
        params: NodeSkillsUpdateParams => "method.node.skills.update.params",
        scope: Admin,
        handler: nodes::skills_update,
    },
    NodePluginToolsUpdate = "node.pluginTools.update" {
        params: NodePluginToolsUpdateParams => "method.node.pluginTools.update.params",
        scope: Admin,
        handler: nodes::plugin_tools_update,
    },
}
