//! cordon's job runner: a queue of confined runs per tenant, their records in a store,
//! bounded logs, artifacts and an audit log.
//!
//! The HTTP API and the MCP server are thin layers over [`Runner`]: every request names
//! its tenant, every lookup is filtered by it, and every run goes through the same policy
//! code and stage-2 helper as `cordon run`.
#![forbid(unsafe_code)]

pub mod api;
pub mod config;
pub mod inputs;
mod runner;

pub use api::*;
pub use config::{new_token, token_sha256, Config, ConfigError, TenantConfig};
pub use runner::Runner;
