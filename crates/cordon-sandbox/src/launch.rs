//! One run, from a validated policy to its record: the entry point that `cordon run` and
//! the runner service share, so both confine exactly the same way.
//!
//! [`prepare`] decides everything that happens before the helper starts and needs the
//! caller's privileges: the environment, the run's uid (and handing the `--rw` trees to
//! it), and the run's cgroup with its limits. [`execute`] starts the stage-2 helper,
//! follows the run to its end and removes the cgroup, however the run ended.
//!
//! Both are blocking. A multithreaded caller (the runner) calls [`execute`] on a thread
//! of its own that lives as long as the run: the helper's parent-death signal fires when
//! the *thread* that started it exits, which is what ties the run to its supervisor.

use crate::cgroup::{self, RunCgroup};
use crate::record::RunRecord;
use crate::report::{LayerReport, Report};
use crate::spec::RunSpec;
use crate::supervisor::{self, Stdio, SuperviseError};
use crate::{env, identity};
use cordon_policy::{Mode, Policy};
use rustix::fd::BorrowedFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// Time between SIGTERM and SIGKILL when a run is ended early.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(2);

/// File name of the small stage-2 helper binary.
pub const HELPER_NAME: &str = "cordon-stage2";

/// The helper to re-execute for each run: `cordon-stage2` beside the running binary when
/// it is there (it loads much faster than the whole CLI), else the running binary itself,
/// which serves as the helper through its hidden `__stage2` subcommand.
pub fn default_helper() -> std::io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let small = exe.with_file_name(HELPER_NAME);
    let usable = rustix::fs::access(&small, rustix::fs::Access::EXEC_OK).is_ok();
    Ok(if usable { small } else { exe })
}

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error(transparent)]
    Identity(#[from] identity::IdentityError),
}

/// What the caller supplies besides the policy and the command.
#[derive(Debug, Clone)]
pub struct Context {
    /// Directory the command starts in (when visible inside the sandbox).
    pub cwd: PathBuf,
    /// The caller's environment: the allowlist picks from it, `--env NAME` reads it.
    pub caller_env: Vec<(String, String)>,
    /// The tenant uid registry (see [`identity::DEFAULT_REGISTRY`]).
    pub registry: PathBuf,
}

impl Context {
    /// The current process's directory and environment, and `registry`.
    pub fn from_process(registry: PathBuf) -> Context {
        Context {
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
            caller_env: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
            registry,
        }
    }
}

/// A run ready to start: the helper's spec and the cgroup that holds its limits.
pub struct Prepared {
    pub spec: RunSpec,
    pub cgroup: Option<RunCgroup>,
}

/// Decides identity, environment and cgroup for one run of `argv` under `policy`.
pub fn prepare(policy: Policy, argv: Vec<String>, ctx: &Context) -> Result<Prepared, LaunchError> {
    let mut pre = Report::default();
    let caller_env = ctx.caller_env.iter().cloned();
    let env = if policy.mode == Mode::Off {
        pre.push(LayerReport::off(
            "env",
            "mode off: the caller's environment passes",
        ));
        caller_env.collect()
    } else {
        let (env, report) = env::build(&policy, caller_env);
        pre.push(report);
        env
    };
    let root = rustix::process::geteuid().is_root();
    let run_ids = if root && policy.mode != Mode::Off {
        let ids = identity::run_ids(&policy, &ctx.registry)?;
        for dir in &policy.rw {
            let range = policy.identity.tenant_uid_first..=policy.identity.tenant_uid_last;
            identity::chown_tree(dir, ids.0, ids.1, range)?;
        }
        Some(ids)
    } else {
        None
    };
    let cgroup = if policy.mode == Mode::Off {
        None
    } else {
        run_cgroup(&policy, &mut pre)
    };
    let entry = cgroup.as_ref().map(|c| c.entry()).unwrap_or_default();
    let (memory, pids) = cgroup
        .as_ref()
        .map(|c| (c.limits_memory(), c.limits_pids()))
        .unwrap_or((false, false));
    let spec = RunSpec {
        policy,
        argv,
        env,
        cwd: ctx.cwd.clone(),
        run_ids,
        cgroup: entry,
        pre_report: pre,
        cgroup_memory: memory,
        cgroup_pids: pids,
    };
    Ok(Prepared { spec, cgroup })
}

/// How [`execute`] watches the run.
pub struct Options<'a> {
    /// The cordon binary to re-execute as the helper.
    pub helper: PathBuf,
    /// Time between SIGTERM and SIGKILL when the run is ended early.
    pub grace: Duration,
    /// Readable when the run must be cancelled.
    pub cancel: Option<BorrowedFd<'a>>,
    /// Where the command's standard streams go.
    pub stdio: Stdio,
}

/// Runs a prepared command to its end and removes its cgroup. `on_ready` is called once
/// with the enforcement report when the command is about to start.
pub fn execute(
    prepared: Prepared,
    opts: Options<'_>,
    on_ready: impl FnMut(&Report),
) -> Result<RunRecord, SuperviseError> {
    let Prepared { spec, cgroup } = prepared;
    let watch = supervisor::Watch {
        helper: &opts.helper,
        cgroup: cgroup.as_ref(),
        grace: opts.grace,
        cancel: opts.cancel,
    };
    let record = supervisor::run(&spec, &watch, opts.stdio, on_ready);
    if let Some(cg) = cgroup {
        if let Err(e) = cg.remove() {
            tracing::warn!(error = %e, "failed to remove the run's cgroup");
        }
    }
    record
}

/// A cgroup of the run's own, where the host lets cordon create one: it carries the
/// memory and process limits of the whole run and is how every process of it is found
/// and killed. Without one, the helper falls back to per-process rlimits.
///
/// The layout is read once per process: a runner starting many runs would otherwise parse
/// its mountinfo again for each. A hierarchy mounted or unmounted while it runs is seen
/// only after a restart; until then a run whose cgroup can no longer be made is handled
/// as on a host without one.
fn run_cgroup(policy: &Policy, pre: &mut Report) -> Option<RunCgroup> {
    static LAYOUT: OnceLock<cgroup::Layout> = OnceLock::new();
    let layout = LAYOUT.get_or_init(cgroup::detect);
    cgroup::cleanup_stale(layout);
    match RunCgroup::create(layout, &cgroup_name(), &policy.limits) {
        Ok((cg, reports)) => {
            pre.layers.extend(reports);
            Some(cg)
        }
        Err(e) => {
            tracing::debug!(error = %e, "no cgroup for this run; limits fall back to rlimits");
            pre.push(LayerReport::partial(
                "kill",
                format!(
                    "no cgroup of the run's own ({e}): the pid namespace (or, without one, \
                     the process group) finds its processes"
                ),
            ));
            None
        }
    }
}

/// A cgroup name unique on this host: the supervisor's pid, a per-process counter (a
/// runner starts many runs) and the clock's nanoseconds.
fn cgroup_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "run-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
