//! Shared helpers for the workspace tests.
pub mod bench;
pub mod e2e;
