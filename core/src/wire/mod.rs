//! The wire: frame envelopes, connect params, `hello-ok`, event payloads and the codec.

pub mod agent;
pub mod channels;
pub mod chat;
pub mod control_ui;
pub mod codec;
pub mod connect;
pub mod devices;
pub mod events;
pub mod frames;
pub mod hello;
pub mod host;
pub mod methods;
pub mod nodes;
pub mod sessions;
