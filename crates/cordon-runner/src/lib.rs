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
//!
//! Run directories: `<run_root>/<tenant>/<run-id>/` (0700, the service's own) holds
//! `stdout.log` and `stderr.log`, written only by the runner (each made when its stream
//! first writes; a silent stream leaves none, which reads as empty), and `work/`, the
//! command's only writable tree (its cwd, `HOME` and `TMPDIR`), handed to the tenant's uid
//! when the service runs as root. Artifacts are the tree under `work/`.
//!
//! # Known limitations
//! - One node: the SQLite store has no leases, so two runners must never share a state
//!   dir. The [`store::Store`] trait is shaped for a PostgreSQL backend that adds them.
//! - Records, run directories and the audit log are kept until an operator removes them;
//!   there is no retention policy yet.
//! - Audit lines and records are not fsynced one by one (WAL with `synchronous=NORMAL`):
//!   a crash of the service loses nothing, a power loss may lose the last moments.
//! - Artifact listings stop at [`outputs::MAX_LISTED`] entries.
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
