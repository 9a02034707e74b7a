//! The runner: the one value the interfaces talk to.

use crate::api::*;
use crate::config::Config;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

struct Inner {
    config: Config,
    helper: PathBuf,
}

/// The engine: store, scheduler and runs. Cheap to clone.
#[derive(Clone)]
pub struct Runner {
    inner: Arc<Inner>,
}

fn not_ready() -> RunnerError {
    RunnerError::Internal("not ready".into())
}

impl Runner {
    /// Opens (creating if needed) the state dir and SQLite store, reconciles records left
    /// by a crashed predecessor (running -> lost, queued -> start), starts the scheduler.
    /// `helper` is the cordon binary to re-execute as the stage-2 helper.
    pub async fn start(config: Config, helper: PathBuf) -> Result<Runner, RunnerError> {
        let _ = Inner { config, helper };
        Err(not_ready())
    }

    /// Maps a bearer token to its tenant (constant-time compare of hashes); None = 401.
    pub fn authenticate(&self, bearer: &str) -> Option<TenantName> {
        let _ = (&self.inner.config, &self.inner.helper, bearer);
        None
    }

    pub async fn submit(
        &self,
        tenant: &TenantName,
        req: SubmitRequest,
    ) -> Result<RunView, RunnerError> {
        let _ = (tenant, req);
        Err(not_ready())
    }

    pub async fn status(&self, tenant: &TenantName, id: &str) -> Result<RunView, RunnerError> {
        let _ = (tenant, id);
        Err(not_ready())
    }

    /// Waits until the run is finished or `timeout` passes; returns the current view.
    pub async fn wait(
        &self,
        tenant: &TenantName,
        id: &str,
        timeout: Duration,
    ) -> Result<RunView, RunnerError> {
        let _ = (tenant, id, timeout);
        Err(not_ready())
    }

    pub async fn list(&self, tenant: &TenantName, q: ListQuery) -> Result<RunList, RunnerError> {
        let _ = (tenant, q);
        Err(not_ready())
    }

    pub async fn logs(
        &self,
        tenant: &TenantName,
        id: &str,
        q: LogQuery,
    ) -> Result<LogChunk, RunnerError> {
        let _ = (tenant, id, q);
        Err(not_ready())
    }

    pub async fn artifacts(
        &self,
        tenant: &TenantName,
        id: &str,
    ) -> Result<Vec<Artifact>, RunnerError> {
        let _ = (tenant, id);
        Err(not_ready())
    }

    pub async fn read_artifact(
        &self,
        tenant: &TenantName,
        id: &str,
        q: ArtifactQuery,
    ) -> Result<ArtifactContent, RunnerError> {
        let _ = (tenant, id, q);
        Err(not_ready())
    }

    pub async fn cancel(&self, tenant: &TenantName, id: &str) -> Result<RunView, RunnerError> {
        let _ = (tenant, id);
        Err(not_ready())
    }

    /// Records a refused request (bad token, bad input) in the audit log.
    pub fn audit_refusal(&self, tenant: Option<&TenantName>, what: &str, why: &str) {
        let _ = (tenant, what, why);
    }

    /// Stops taking runs, cancels running ones, waits for them. (Used on SIGTERM/ctrl-c.)
    pub async fn shutdown(&self) {}
}
