//! The runner: the one value the interfaces talk to.
//!
//! Submission does all the checking and all the file work (run directory, inputs,
//! policy) before the run's record exists, so a refused request leaves nothing behind.
//! The record is then written in one small transaction and the run joins the
//! [`Queue`]; whenever a slot may have opened, [`Inner::pump`] starts the next runs,
//! each on its own thread ([`crate::exec`]).

use crate::api::*;
use crate::audit::{argv_digest, AuditLog, Entry, Event};
use crate::config::{Config, TenantConfig};
use crate::exec::{Counters, Launch};
use crate::inputs::{self, Caps, Roots};
use crate::paths;
use crate::scheduler::{Budget, Queue};
use crate::store::sqlite::SqliteStore;
use crate::store::{Ending, NewRun, Page, Store, StoredRun};
use std::collections::HashMap;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use subtle::ConstantTimeEq;
use tokio::sync::watch;

/// The error of a run that was running when its runner stopped.
pub const LOST_REASON: &str = "the runner stopped while the run was in progress";

/// Runs listed per page by default, and at most.
pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 500;

/// How long `cancel` waits for a running run to end before answering.
const CANCEL_WAIT: Duration = Duration::from_secs(10);

/// Now, as RFC 3339 UTC with milliseconds.
pub fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// What the runner holds for a run that has not ended.
struct Live {
    state: watch::Sender<RunState>,
    cancel: Option<UnixStream>,
    counters: Option<Arc<Counters>>,
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) helper: PathBuf,
    pub(crate) store: Box<dyn Store>,
    audit: AuditLog,
    queue: Mutex<Queue<Launch>>,
    live: Mutex<HashMap<String, Live>>,
    tokens: Vec<(TenantName, [u8; 32])>,
    closing: AtomicBool,
    /// One clone per run thread, dropped after the thread's last use of the runner.
    threads: Arc<()>,
    /// `state_dir/runner.lock`, held (flock) for the runner's lifetime.
    _lock: std::fs::File,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its data consistent, so a poisoned lock is usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn internal(e: impl std::fmt::Display) -> RunnerError {
    RunnerError::Internal(e.to_string())
}

/// The engine: store, scheduler and runs. Cheap to clone.
#[derive(Clone)]
pub struct Runner {
    inner: Arc<Inner>,
}

impl Runner {
    /// Opens (creating if needed) the state dir and SQLite store, reconciles records left
    /// by a crashed predecessor (running -> lost, queued -> start), starts the scheduler.
    /// `helper` is the cordon binary to re-execute as the stage-2 helper.
    pub async fn start(config: Config, helper: PathBuf) -> Result<Runner, RunnerError> {
        let inner = tokio::task::spawn_blocking(move || Inner::open(config, helper))
            .await
            .map_err(internal)??;
        let inner = Arc::new(inner);
        let again = inner.clone();
        tokio::task::spawn_blocking(move || again.recover())
            .await
            .map_err(internal)??;
        inner.pump();
        Ok(Runner { inner })
    }

    /// Maps a bearer token to its tenant (constant-time compare of hashes); None = 401.
    pub fn authenticate(&self, bearer: &str) -> Option<TenantName> {
        use sha2::{Digest, Sha256};
        let digest: [u8; 32] = Sha256::digest(bearer.as_bytes()).into();
        let mut found = None;
        for (name, hash) in &self.inner.tokens {
            if bool::from(hash.ct_eq(&digest)) {
                found = Some(name.clone());
            }
        }
        found
    }

    pub async fn submit(
        &self,
        tenant: &TenantName,
        req: SubmitRequest,
    ) -> Result<RunView, RunnerError> {
        let inner = self.inner.clone();
        let who = tenant.clone();
        let argv = req.argv.clone();
        let result = tokio::task::spawn_blocking(move || inner.submit(&who, req))
            .await
            .map_err(internal)?;
        if let Err(e) = &result {
            self.inner.refused(Some(tenant), "submit", Some(&argv), e);
        }
        result
    }

    pub async fn status(&self, tenant: &TenantName, id: &str) -> Result<RunView, RunnerError> {
        let (inner, tenant, id) = (self.inner.clone(), tenant.clone(), id.to_owned());
        tokio::task::spawn_blocking(move || inner.view(&tenant, &id))
            .await
            .map_err(internal)?
    }

    /// Waits until the run is finished or `timeout` passes; returns the current view.
    pub async fn wait(
        &self,
        tenant: &TenantName,
        id: &str,
        timeout: Duration,
    ) -> Result<RunView, RunnerError> {
        let rx = lock(&self.inner.live).get(id).map(|l| l.state.subscribe());
        let view = self.status(tenant, id).await?;
        let Some(mut rx) = rx else { return Ok(view) };
        if view.state.is_final() {
            return Ok(view);
        }
        // Ends on the final state, on the sender going away (run ended), or the timeout.
        let _ = tokio::time::timeout(timeout, rx.wait_for(|s| s.is_final())).await;
        self.status(tenant, id).await
    }

    pub async fn list(&self, tenant: &TenantName, q: ListQuery) -> Result<RunList, RunnerError> {
        let (inner, tenant) = (self.inner.clone(), tenant.clone());
        tokio::task::spawn_blocking(move || inner.list(&tenant, &q))
            .await
            .map_err(internal)?
    }

    pub async fn logs(
        &self,
        tenant: &TenantName,
        id: &str,
        q: LogQuery,
    ) -> Result<LogChunk, RunnerError> {
        let (inner, tenant, id) = (self.inner.clone(), tenant.clone(), id.to_owned());
        tokio::task::spawn_blocking(move || {
            let view = inner.view(&tenant, &id)?;
            let total = match q.stream {
                Stream::Stdout => view.stdout_bytes,
                Stream::Stderr => view.stderr_bytes,
            };
            let dir = inner.run_dir(&tenant, &id);
            crate::outputs::read_log(&dir, &q, total, inner.config.max_artifact_read)
        })
        .await
        .map_err(internal)?
    }

    pub async fn artifacts(
        &self,
        tenant: &TenantName,
        id: &str,
    ) -> Result<Vec<Artifact>, RunnerError> {
        let (inner, tenant, id) = (self.inner.clone(), tenant.clone(), id.to_owned());
        tokio::task::spawn_blocking(move || {
            inner.view(&tenant, &id)?;
            crate::outputs::list(&inner.run_dir(&tenant, &id).join("work"))
        })
        .await
        .map_err(internal)?
    }

    pub async fn read_artifact(
        &self,
        tenant: &TenantName,
        id: &str,
        q: ArtifactQuery,
    ) -> Result<ArtifactContent, RunnerError> {
        let (inner, tenant, id) = (self.inner.clone(), tenant.clone(), id.to_owned());
        tokio::task::spawn_blocking(move || {
            inner.view(&tenant, &id)?;
            let work = inner.run_dir(&tenant, &id).join("work");
            crate::outputs::read_artifact(&work, &q, inner.config.max_artifact_read)
        })
        .await
        .map_err(internal)?
    }

    /// Cancels a run: a queued one never starts, a running one has its whole process
    /// tree killed (this waits up to 10 s for that). A finished run is returned unchanged.
    pub async fn cancel(&self, tenant: &TenantName, id: &str) -> Result<RunView, RunnerError> {
        let view = self.status(tenant, id).await?;
        if view.state.is_final() {
            return Ok(view);
        }
        let (inner, who, run) = (self.inner.clone(), tenant.clone(), id.to_owned());
        let signalled = tokio::task::spawn_blocking(move || inner.cancel(&who, &run, &view))
            .await
            .map_err(internal)??;
        if signalled {
            return self.wait(tenant, id, CANCEL_WAIT).await;
        }
        self.status(tenant, id).await
    }

    /// Records a refused request (bad token, bad input) in the audit log.
    pub fn audit_refusal(&self, tenant: Option<&TenantName>, what: &str, why: &str) {
        self.inner.audit.write(&Entry {
            time: now(),
            event: Event::Refused,
            tenant: tenant.map(|t| t.0.as_str()),
            run_id: None,
            argv_sha256: None,
            tier: None,
            outcome: "refused",
            detail: Some(&format!("{what}: {why}")),
        });
    }

    /// Stops taking runs, cancels running ones, waits for them. (Used on SIGTERM/ctrl-c.)
    /// Queued runs stay queued and start at the next [`Runner::start`].
    pub async fn shutdown(&self) {
        self.inner.closing.store(true, Ordering::SeqCst);
        for live in lock(&self.inner.live).values_mut() {
            if let Some(c) = live.cancel.as_mut() {
                let _ = c.write_all(b"x");
            }
        }
        // Shutdown is rare: checking the count a few times a second is enough.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while Arc::strong_count(&self.inner.threads) > 1 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Inner {
    fn open(config: Config, helper: PathBuf) -> Result<Inner, RunnerError> {
        config.validate().map_err(internal)?;
        // The helper is started from run threads whose working directory is not the
        // caller's concern: resolve it once, now.
        let helper = std::fs::canonicalize(&helper).map_err(|e| {
            internal(format!(
                "failed to find the helper {}: {e}",
                helper.display()
            ))
        })?;
        for dir in [&config.state_dir, &config.run_root] {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| internal(format!("failed to create {}: {e}", dir.display())))?;
        }
        let lock = lock_state_dir(&config.state_dir)?;
        let store = SqliteStore::open(&config.state_dir.join("state.db")).map_err(internal)?;
        let audit_path = config.state_dir.join("audit.log");
        let audit = AuditLog::open(&audit_path).map_err(|e| {
            internal(format!(
                "failed to open the audit log {}: {e}",
                audit_path.display()
            ))
        })?;
        let tokens = config
            .tenants
            .iter()
            .map(|t| {
                let mut hash = [0u8; 32];
                hex::decode_to_slice(&t.token_sha256, &mut hash).map_err(internal)?;
                Ok((TenantName(t.name.clone()), hash))
            })
            .collect::<Result<_, RunnerError>>()?;
        Ok(Inner {
            queue: Mutex::new(Queue::new(config.max_concurrent as usize)),
            config,
            helper,
            store: Box::new(store),
            audit,
            live: Mutex::new(HashMap::new()),
            tokens,
            closing: AtomicBool::new(false),
            threads: Arc::new(()),
            _lock: lock,
        })
    }

    /// Runs left `running` by a dead runner become `lost`; `queued` ones are queued again.
    fn recover(&self) -> Result<(), RunnerError> {
        let (lost, queued) = self.store.recover(LOST_REASON, &now()).map_err(internal)?;
        for run in &lost {
            tracing::warn!(run_id = %run.view.id, tenant = %run.view.tenant, "run lost");
            self.audit_run(Event::End, &run.view, "lost");
        }
        for run in queued {
            if let Err(e) = self.requeue(&run) {
                let ending = Ending {
                    state: Some(RunState::Failed),
                    ended_at: now(),
                    error: Some(format!("could not be started again after a restart: {e}")),
                    ..Ending::default()
                };
                self.store.finish(&run.view.id, &ending).map_err(internal)?;
                self.audit_run(Event::End, &run.view, "failed");
            }
        }
        Ok(())
    }

    fn requeue(&self, run: &StoredRun) -> Result<(), RunnerError> {
        let view = &run.view;
        let tenant = self.tenant(&view.tenant)?;
        let req: SubmitRequest = serde_json::from_str(&run.request).map_err(internal)?;
        let run_dir = self.run_dir(&view.tenant, &view.id);
        let launch = self.launch(tenant, &view.id, &req, run_dir)?;
        self.watch(&view.id);
        let mut queue = lock(&self.queue);
        queue
            .push(&tenant.name, budget(tenant), view.id.clone(), launch)
            .map_err(|_| RunnerError::forbidden("too many queued runs"))
    }

    fn tenant(&self, name: &TenantName) -> Result<&TenantConfig, RunnerError> {
        self.config
            .tenant(&name.0)
            .ok_or_else(|| RunnerError::forbidden(format!("unknown tenant {name}")))
    }

    pub(crate) fn run_dir(&self, tenant: &TenantName, id: &str) -> PathBuf {
        self.config.run_root.join(&tenant.0).join(id)
    }

    /// The policy and start-up details of a run whose directory is ready.
    fn launch(
        &self,
        tenant: &TenantConfig,
        id: &str,
        req: &SubmitRequest,
        run_dir: PathBuf,
    ) -> Result<Launch, RunnerError> {
        let work = run_dir.join("work");
        let cwd = match &req.cwd {
            Some(c) => work
                .join(paths::relative(c).map_err(|e| RunnerError::invalid("cwd", e.to_string()))?),
            None => work.clone(),
        };
        let policy = crate::policy::build(&self.config, tenant, req, &work)?;
        Ok(Launch {
            id: id.to_owned(),
            tenant: tenant.name.clone(),
            argv: req.argv.clone(),
            policy,
            run_dir,
            cwd,
        })
    }

    fn submit(
        self: &Arc<Self>,
        name: &TenantName,
        req: SubmitRequest,
    ) -> Result<RunView, RunnerError> {
        if self.closing.load(Ordering::SeqCst) {
            return Err(RunnerError::Conflict {
                reason: "the service is shutting down".into(),
            });
        }
        let tenant = self.tenant(name)?;
        crate::policy::check_argv(&req.argv)?;
        let id = uuid::Uuid::new_v4().to_string();
        let run_dir = self.run_dir(name, &id);
        let prepared = self.prepare_dir(tenant, &id, &req, &run_dir);
        let result = prepared.and_then(|launch| self.enqueue(tenant, launch, &req));
        if result.is_err() {
            remove_refused(&run_dir);
        }
        let view = result?;
        self.audit_run(Event::Submit, &view, "queued");
        self.pump();
        Ok(view)
    }

    /// Creates the run directory (0700) with its `work/`, writes the inputs, builds the
    /// policy.
    fn prepare_dir(
        &self,
        tenant: &TenantConfig,
        id: &str,
        req: &SubmitRequest,
        run_dir: &Path,
    ) -> Result<Launch, RunnerError> {
        let tenant_runs = self.config.run_root.join(&tenant.name);
        let mkdir = |p: &Path, recursive: bool| {
            std::fs::DirBuilder::new()
                .recursive(recursive)
                .mode(0o700)
                .create(p)
                .map_err(|e| internal(format!("failed to create {}: {e}", p.display())))
        };
        mkdir(&tenant_runs, true)?;
        mkdir(run_dir, false)?;
        let work = run_dir.join("work");
        mkdir(&work, false)?;
        let work_fd = paths::open_root(&work).map_err(internal)?;
        let roots = Roots {
            tenant_runs: &tenant_runs,
            shared: &self.config.shared_roots,
        };
        let caps = Caps {
            inline_bytes: self.config.max_inline_bytes,
            copy_bytes: self.config.max_copy_bytes,
            copy_files: self.config.max_copy_files,
        };
        inputs::write_all(work_fd.as_fd(), &req.inputs, &roots, caps)?;
        if let Some(cwd) = &req.cwd {
            let rel =
                paths::relative(cwd).map_err(|e| RunnerError::invalid("cwd", e.to_string()))?;
            paths::make_dirs(&work_fd, &rel)
                .map_err(|e| RunnerError::invalid("cwd", e.to_string()))?;
        }
        self.launch(tenant, id, req, run_dir.to_path_buf())
    }

    /// Writes the record and queues the run, under the queue's lock so that the bound on
    /// queued runs holds exactly.
    fn enqueue(
        &self,
        tenant: &TenantConfig,
        launch: Launch,
        req: &SubmitRequest,
    ) -> Result<RunView, RunnerError> {
        let request = serde_json::to_string(req).map_err(internal)?;
        let new = NewRun {
            id: launch.id.clone(),
            tenant: TenantName(tenant.name.clone()),
            argv: req.argv.clone(),
            request,
            created_at: now(),
        };
        let mut queue = lock(&self.queue);
        if queue.waiting(&tenant.name) >= tenant.max_queued as usize {
            return Err(RunnerError::forbidden(format!(
                "tenant {} already has {} queued runs, the most it may have",
                tenant.name, tenant.max_queued
            )));
        }
        let stored = self.store.insert(&new).map_err(internal)?;
        self.watch(&new.id);
        let id = new.id.clone();
        queue
            .push(&tenant.name, budget(tenant), id, launch)
            .map_err(|_| RunnerError::forbidden("too many queued runs"))?;
        Ok(stored.view)
    }

    fn watch(&self, id: &str) {
        let (tx, _) = watch::channel(RunState::Queued);
        lock(&self.live).insert(
            id.to_owned(),
            Live {
                state: tx,
                cancel: None,
                counters: None,
            },
        );
    }

    /// Starts queued runs while there are free slots.
    pub(crate) fn pump(self: &Arc<Self>) {
        if self.closing.load(Ordering::SeqCst) {
            return;
        }
        loop {
            let Some((tenant, id, launch)) = lock(&self.queue).pop() else {
                return;
            };
            let inner = self.clone();
            let token = self.threads.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("run-{}", &id[..8.min(id.len())]))
                .spawn(move || {
                    crate::exec::run(inner, launch);
                    drop(token);
                });
            if let Err(e) = spawned {
                tracing::error!(run_id = %id, error = %e, "failed to start a run thread");
                let ending = Ending {
                    state: Some(RunState::Failed),
                    ended_at: now(),
                    error: Some("the runner could not start the run".into()),
                    ..Ending::default()
                };
                if let Err(e) = self.store.finish(&id, &ending) {
                    tracing::error!(run_id = %id, error = %e, "failed to record a run's end");
                }
                self.release_slot(&tenant, &id, RunState::Failed);
            }
        }
    }

    /// Called by the run thread before it claims the run. False when the runner is
    /// shutting down: the run stays queued for the next start. A shutdown that begins
    /// after this check finds the cancel channel (it is registered under the same lock
    /// that [`Runner::shutdown`] takes after raising the flag).
    pub(crate) fn attach(&self, id: &str, cancel: UnixStream, counters: Arc<Counters>) -> bool {
        let mut live = lock(&self.live);
        if self.closing.load(Ordering::SeqCst) {
            return false;
        }
        if let Some(entry) = live.get_mut(id) {
            entry.cancel = Some(cancel);
            entry.counters = Some(counters);
        }
        true
    }

    /// The run has been claimed and is starting.
    pub(crate) fn started(&self, launch: &Launch) {
        if let Some(live) = lock(&self.live).get(&launch.id) {
            live.state.send_replace(RunState::Running);
        }
        self.audit.write(&Entry {
            time: now(),
            event: Event::Start,
            tenant: Some(&launch.tenant),
            run_id: Some(&launch.id),
            argv_sha256: Some(argv_digest(&launch.argv)),
            tier: Some(mode_name(launch.policy.mode)),
            outcome: "running",
            detail: None,
        });
    }

    /// The run ended: tell the audit log, record it, then wake any waiter, in that order,
    /// so that whoever sees the run finished also finds its end in the audit log.
    pub(crate) fn finished(&self, launch: &Launch, ending: &Ending) {
        let state = ending.state.unwrap_or(RunState::Failed);
        let (run_id, tenant) = (&launch.id, &launch.tenant);
        self.audit.write(&Entry {
            time: now(),
            event: Event::End,
            tenant: Some(&launch.tenant),
            run_id: Some(&launch.id),
            argv_sha256: Some(argv_digest(&launch.argv)),
            tier: ending.tier.as_deref(),
            outcome: state.as_str(),
            detail: ending.error.as_deref(),
        });
        if let Err(e) = self.store.finish(&launch.id, ending) {
            tracing::error!(%run_id, error = %e, "failed to record a run's end");
        }
        if let Some(live) = lock(&self.live).get(&launch.id) {
            live.state.send_replace(state);
        }
        tracing::info!(%run_id, %tenant, state = state.as_str(), "run ended");
    }

    /// The run thread is done with its slot.
    pub(crate) fn release(self: &Arc<Self>, tenant: &str, id: &str) {
        self.release_slot(tenant, id, RunState::Failed);
        self.pump();
    }

    fn release_slot(&self, tenant: &str, id: &str, fallback: RunState) {
        if let Some(live) = lock(&self.live).remove(id) {
            let state = *live.state.borrow();
            live.state
                .send_replace(if state.is_final() { state } else { fallback });
        }
        lock(&self.queue).done(tenant);
    }

    fn view(&self, tenant: &TenantName, id: &str) -> Result<RunView, RunnerError> {
        let run = self.store.get(tenant, id).map_err(internal)?;
        let mut view = run.ok_or_else(|| RunnerError::not_found(id))?.view;
        if view.state == RunState::Running {
            if let Some(c) = lock(&self.live).get(id).and_then(|l| l.counters.clone()) {
                view.stdout_bytes = c.stdout.load(Ordering::Relaxed);
                view.stderr_bytes = c.stderr.load(Ordering::Relaxed);
            }
        }
        Ok(view)
    }

    fn list(&self, tenant: &TenantName, q: &ListQuery) -> Result<RunList, RunnerError> {
        let limit = q.limit.unwrap_or(DEFAULT_PAGE);
        if limit == 0 || limit > MAX_PAGE {
            return Err(RunnerError::invalid(
                "limit",
                format!("must be 1 to {MAX_PAGE}"),
            ));
        }
        let page = Page {
            state: q.state,
            before: q.before.as_deref(),
            limit,
        };
        let runs = self
            .store
            .list(tenant, &page)
            .map_err(internal)?
            .ok_or_else(|| RunnerError::invalid("before", "not one of your runs"))?;
        let runs: Vec<RunView> = runs.into_iter().map(|r| r.view).collect();
        let next_before = (runs.len() == limit as usize)
            .then(|| runs.last().map(|r| r.id.clone()))
            .flatten();
        Ok(RunList { runs, next_before })
    }

    /// Cancels a queued run at once, or signals a running one; true when signalled.
    fn cancel(&self, tenant: &TenantName, id: &str, view: &RunView) -> Result<bool, RunnerError> {
        let removed = lock(&self.queue).remove(&tenant.0, id).is_some();
        if self
            .store
            .cancel_queued(tenant, id, &now())
            .map_err(internal)?
        {
            if let Some(live) = lock(&self.live).remove(id) {
                live.state.send_replace(RunState::Cancelled);
            }
            self.audit_run(Event::Cancel, view, "cancelled");
            return Ok(false);
        }
        if removed {
            tracing::warn!(run_id = %id, "a run left the queue but was not queued in the store");
        }
        let mut live = lock(&self.live);
        let Some(stream) = live.get_mut(id).and_then(|l| l.cancel.as_mut()) else {
            return Ok(false);
        };
        stream
            .write_all(b"x")
            .map_err(|e| internal(format!("failed to signal the run to stop: {e}")))?;
        drop(live);
        self.audit_run(Event::Cancel, view, "signalled");
        Ok(true)
    }

    fn audit_run(&self, event: Event, view: &RunView, outcome: &str) {
        self.audit.write(&Entry {
            time: now(),
            event,
            tenant: Some(&view.tenant.0),
            run_id: Some(&view.id),
            argv_sha256: Some(argv_digest(&view.argv)),
            tier: view.tier.as_deref(),
            outcome,
            detail: view.error.as_deref(),
        });
    }

    fn refused(
        &self,
        tenant: Option<&TenantName>,
        what: &str,
        argv: Option<&[String]>,
        e: &RunnerError,
    ) {
        let outcome = if matches!(e, RunnerError::Internal(_)) {
            "error"
        } else {
            "refused"
        };
        let detail = format!("{what}: {e}");
        self.audit.write(&Entry {
            time: now(),
            event: Event::Refused,
            tenant: tenant.map(|t| t.0.as_str()),
            run_id: None,
            argv_sha256: argv.map(argv_digest),
            tier: None,
            outcome,
            detail: Some(&detail),
        });
    }
}

/// Takes the state dir for this runner alone: a second runner on the same state would
/// take the first one's running runs for lost ones.
fn lock_state_dir(state_dir: &Path) -> Result<std::fs::File, RunnerError> {
    use rustix::fs::{flock, FlockOperation};
    let path = state_dir.join("runner.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| internal(format!("failed to open {}: {e}", path.display())))?;
    flock(&file, FlockOperation::NonBlockingLockExclusive).map_err(|e| {
        internal(format!(
            "failed to lock {}: {e} (another runner uses this state dir)",
            path.display()
        ))
    })?;
    Ok(file)
}

/// Removes what a refused submission had already created.
fn remove_refused(run_dir: &Path) {
    if let Err(e) = std::fs::remove_dir_all(run_dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            let path = run_dir.display();
            tracing::warn!(%path, error = %e, "failed to remove a refused run's directory");
        }
    }
}

fn budget(t: &TenantConfig) -> Budget {
    Budget {
        max_running: t.max_concurrent as usize,
        max_queued: t.max_queued as usize,
    }
}

fn mode_name(mode: cordon_policy::Mode) -> &'static str {
    match mode {
        cordon_policy::Mode::Auto => "auto",
        cordon_policy::Mode::Strict => "strict",
        cordon_policy::Mode::Off => "off",
    }
}
