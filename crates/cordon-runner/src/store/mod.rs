//! Run records: the durable truth about every run, behind one trait.
//!
//! [`Store`] is synchronous: the runner calls it from its run threads directly and from
//! async code through `spawn_blocking`. Every method is one transaction, so a record is
//! never seen half-written, whatever moment the process dies at.
//!
//! A PostgreSQL backend for several nodes sharing one queue implements the same trait:
//! [`Store::claim`] becomes `UPDATE runs SET state = 'running' ... WHERE id = (SELECT id
//! FROM runs WHERE state = 'queued' ... FOR UPDATE SKIP LOCKED LIMIT 1)` plus a lease
//! column renewed by the owning node, and [`Store::recover`] turns only runs whose lease
//! expired into `lost`. The SQLite backend ([`sqlite::SqliteStore`]) serves one node,
//! whose scheduler picks the order and claims by id.

pub mod sqlite;

use crate::api::{RunState, RunView, TenantName};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("failed to open the store {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("the store {path} has schema version {found}; this cordon knows {known}")]
    Schema {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("failed to start the store's checkpoint thread: {0}")]
    Thread(std::io::Error),
    #[error("failed to {op} in the store: {source}")]
    Query {
        op: &'static str,
        source: rusqlite::Error,
    },
    #[error("failed to decode the stored {field} of run {id}: {why}")]
    Decode {
        id: String,
        field: &'static str,
        why: String,
    },
}

/// A run as the store holds it: the view plus what is needed to start it again.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRun {
    pub view: RunView,
    /// The submit request as JSON (to rebuild the policy after a restart).
    pub request: String,
}

/// A new run, as submitted.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub id: String,
    pub tenant: TenantName,
    pub argv: Vec<String>,
    pub request: String,
    pub created_at: String,
}

/// How a run ended, written in one transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ending {
    pub state: Option<RunState>,
    pub ended_at: String,
    pub exit_code: Option<i32>,
    pub kill_reason: Option<String>,
    pub tier: Option<String>,
    pub error: Option<String>,
    pub usage: Option<serde_json::Value>,
    pub report: Option<serde_json::Value>,
    pub stdout_bytes: u64,
    pub stderr_bytes: u64,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
}

/// Which page of a tenant's runs to read.
#[derive(Debug, Clone, Default)]
pub struct Page<'a> {
    pub state: Option<RunState>,
    /// Only runs submitted before this one (by id).
    pub before: Option<&'a str>,
    pub limit: u32,
}

/// The run records. Every read filters by tenant: another tenant's id is `None`.
pub trait Store: Send + Sync {
    /// Records a new run as `queued`.
    fn insert(&self, run: &NewRun) -> Result<StoredRun, StoreError>;
    /// One run of this tenant.
    fn get(&self, tenant: &TenantName, id: &str) -> Result<Option<StoredRun>, StoreError>;
    /// The tenant's runs, newest first. `Ok(None)` when `before` is not one of its runs.
    fn list(
        &self,
        tenant: &TenantName,
        page: &Page<'_>,
    ) -> Result<Option<Vec<StoredRun>>, StoreError>;
    /// `queued` -> `running`; false when the run was not queued any more (cancelled).
    fn claim(&self, id: &str, started_at: &str) -> Result<bool, StoreError>;
    /// `running` -> the ending's state, with its outcome.
    fn finish(&self, id: &str, end: &Ending) -> Result<(), StoreError>;
    /// `queued` -> `cancelled` for this tenant's run; false when it was not queued.
    fn cancel_queued(&self, tenant: &TenantName, id: &str, at: &str) -> Result<bool, StoreError>;
    /// After a crash: every `running` run becomes `lost` with `reason`; returns the runs
    /// made lost and the runs still `queued`, oldest first.
    fn recover(
        &self,
        reason: &str,
        at: &str,
    ) -> Result<(Vec<StoredRun>, Vec<StoredRun>), StoreError>;
}
