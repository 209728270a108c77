//! The agent runtime: model providers over HTTP with SSE streaming (`openai-completions`,
//! `anthropic-messages`), retries and fallbacks, and the SQLite session store. The hub decides
//! *when* a run starts and ends ([`openclaw_core::hub::RunCommand`]); this module does the IO.

pub mod config;
pub mod store;

mod http_client;
mod provider;
pub(crate) mod runner;
mod sse;
mod tools;

pub use config::{AgentConfig, Api, ModelChoice, ModelRef, ProviderConfig, RetryPolicy, ToolsConfig};
pub use store::{Store, StoreError};
