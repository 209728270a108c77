//! Shared helpers for the workspace tests.
pub mod e2e;
