//! The agent runtime: model providers over HTTP with SSE streaming (`openai-completions`,
//! `anthropic-messages`) through [`crate::outbound`], the run driver (core's
//! [`openclaw_core::turn`] machine decides retries, fallbacks, tool rounds and silence), and the
//! SQLite session store. The hub decides *when* a run starts and ends
//! ([`openclaw_core::hub::RunCommand`]); this module does the IO.

pub mod config;
pub mod store;

mod attempt;
mod provider;
pub(crate) mod runner;
mod sse;
pub(crate) mod tools;
mod turn;
mod writer;

pub use config::{AgentConfig, Api, ModelChoice, ModelRef, ProviderConfig, RetryPolicy, ToolsConfig};
pub use store::{Store, StoreError};
