//! The messaging channels of the gateway: one connection per (channel, account), inbound messages
//! turned into agent runs through the channel caller, replies delivered back to the chat.
//!
//! This slice holds the pure parts (no IO, no clock, no randomness: time and random bytes are
//! passed in), each unit-tested:
//! - [`backoff`]: the reconnect delay `initial × factor^(attempt−1)` capped, with seeded jitter;
//! - [`policy`]: `dmPolicy` / `groupPolicy` and their decisions, shared by the channels;
//! - [`pairing`]: the channel pairing store (8-character codes, 1 h TTL, at most 3 pending);
//! - [`route`]: the session key an inbound message routes to (`session.dmScope`);
//! - [`telegram`]: Bot API update parsing, the response envelope and its errors, the DM policy,
//!   4096-character chunking, the pairing reply text; and the Bot API client
//!   (`telegram::bot`), which does IO only through an injected transport;
//! - [`media_guard`]: what a local file sent as media may contain (sniffed media, validated
//!   text), with the reference's refusals;
//! - [`whatsapp`]: target normalisation and the inbound verdict (echoes, own number, policies).

pub mod backoff;
pub mod media_guard;
pub mod pairing;
pub mod policy;
pub mod route;
pub mod telegram;
pub mod whatsapp;
