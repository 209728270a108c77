//! Shared helpers for the workspace tests.
pub mod bench;
pub mod e2e;
pub mod fake_model;
pub mod fake_proxy;
pub mod peer;
pub mod reference;
pub mod fake_telegram;
pub mod fake_whatsapp;
