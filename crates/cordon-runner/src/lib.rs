//! cordon's job runner: a queue of confined runs per tenant, their records in a store,
//! bounded logs, artifacts and an audit log.
//!
//! The HTTP API and the MCP server are thin layers over [`Runner`]: every request names
//! its tenant, every lookup is filtered by it (another tenant's run answers exactly like
//! an unknown one), and every run goes through the same policy code
//! (`cordon_policy::build`) and stage-2 helper as `cordon run`.
//!
//! Layout: [`config`] (the TOML file), [`api`] (requests, views, errors), `policy` (what a
//! request may change), [`paths`] and [`inputs`] (request paths, resolved only beneath
//! their root), [`store`] (run records; SQLite), [`audit`] (the append-only audit log),
//! `scheduler` (fair order), `exec` (one run on its own thread), [`outputs`] (logs and
//! artifacts).
#![forbid(unsafe_code)]

pub mod api;
pub mod audit;
pub mod config;
mod exec;
pub mod inputs;
pub mod outputs;
pub mod paths;
mod policy;
mod runner;
mod scheduler;
pub mod store;

pub use api::*;
pub use config::{new_token, token_sha256, Config, ConfigError, TenantConfig};
pub use runner::{Runner, LOST_REASON};
