//! The tokio driver of the OpenClaw gateway: sockets, HTTP, WebSocket framing, the clock and
//! randomness around the pure machines of [`openclaw_core`].
//!
//! # Task layout
//! * one **accept** task: TCP accept → hyper HTTP/1 connection per socket (probes, 404, the
//!   WebSocket upgrade with pre-auth admission and the Origin check before the `101`);
//! * one **hub** task owning [`openclaw_core::Hub`] ([`hub_task`]);
//! * per WebSocket: one **session** task owning [`openclaw_core::Session`], plus a **reader**
//!   task (a frame read is not cancel-safe, so it never sits in a `select!`; it refuses a frame
//!   over the session's current limit at the header, before reading the payload) and
//!   a **writer** task (socket writes never block the session; flushed bytes are reported back
//!   so core's slow-consumer accounting is real).
//!
//! Every queue between them is bounded: reader → session (frames), session → hub (events),
//! hub → session (a mailbox; a full one closes that socket 1008 "slow consumer" instead of
//! blocking the hub), session → writer (bounded in bytes by core's outbox accounting).
//! The only clock reads live in [`clock`].

#![forbid(unsafe_code)]

pub mod agent;
pub mod callers;
pub mod channels;
pub mod client;
pub mod clock;
pub mod config;
pub mod config_file;
pub mod error;
pub mod force;
pub mod host;
pub mod logs;
pub mod outbound;
pub mod reload;
pub mod server;
pub mod settings;
pub mod signals;
pub mod state_db;
pub mod devices_db;

mod admission;
mod canvas_caps;
mod canvas_reload;
mod http;
mod hub_task;
mod identity;
mod percent;
mod session_task;
mod store_queue;
mod ws;

pub use agent::AgentConfig;
pub use callers::{CallerStream, HubHandle};
pub use config::ServerConfig;
pub use error::IoError;
pub use host::{FileHost, Host, HostFuture, HostHandler, RestartRequest};
pub use server::Gateway;
pub use settings::Settings;
