//! Live settings the host changes while the gateway runs (config hot reload): the reload
//! status and last error `health` shows, whether a model is configured, the default run
//! timeout.

use serde_json::{json, Value};

use super::{Hub, ReloadError};
use crate::ids::UnixMillis;
use crate::wire::hello::HotReloadStatus;

impl Hub {
    /// The host's config watcher reports: whether hot reload is on (`gateway.reload.mode` is not
    /// `off`), and why the last reload was not applied (`None`: it was, or there was none).
    /// Any change is broadcast as a fresh `health`; the error is shown by the `health`
    /// method as `configReload.lastError` (outside the reference's closed snapshot schema, like
    /// its `modelRuntime`).
    pub(crate) fn set_config_reload(&mut self, wall: UnixMillis, status: HotReloadStatus, last_error: Option<String>) {
        let error_changed = self.reload_error.as_ref().map(|e| &e.message) != last_error.as_ref();
        self.reload_error = last_error.map(|message| ReloadError { message, at: wall });
        if status != self.config.hot_reload || error_changed {
            // A fresh `health` tells clients to look again (the error itself is in the method's
            // answer only, outside the event's closed schema).
            self.config.hot_reload = status;
            self.refresh_health(wall);
        }
    }

    /// The channel runtime reports its accounts for `health`; a change is broadcast as a fresh
    /// `health` (the runbook's readiness check reads `channels.<id>.connected`).
    pub(crate) fn set_channels_health(&mut self, wall: UnixMillis, channels: crate::wire::channels::ChannelsHealth) {
        if channels != self.channels_health {
            self.channels_health = channels;
            self.refresh_health(wall);
        }
    }

    /// Hot reload of the agent settings: whether a default model is configured now (`agent`
    /// refuses with UNAVAILABLE without one; `hello-ok.snapshot.sessionDefaults` reports it).
    pub(crate) fn set_model_configured(&mut self, configured: bool) {
        self.config.session_defaults.model_configured = configured;
    }

    /// `agents.defaults.timeoutSeconds` changed (config reload): runs started from now on use it.
    pub(crate) fn set_agent_timeout(&mut self, timeout: std::time::Duration) {
        self.config.agent_timeout = timeout;
    }

    /// The `health` method's answer: the snapshot plus `configReload.lastError` when a reload
    /// failed and `storeBackpressure` while the store queue is backed up.
    pub(super) fn health_result(&self) -> Value {
        let mut health = serde_json::to_value(&self.health).unwrap_or_default();
        if let (Some(error), Some(reload)) = (&self.reload_error, health.get_mut("configReload")) {
            reload["lastError"] = json!({ "message": error.message, "ts": error.at.0 });
        }
        // Outside the closed snapshot schema too, and only while it lasts.
        if let Some(since) = self.store_backed_up {
            health["storeBackpressure"] = json!({ "backedUp": true, "since": since.0 });
        }
        health
    }
}
