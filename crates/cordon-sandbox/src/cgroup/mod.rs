//! The run's own cgroup: whole-run memory and process limits, CPU time accounting, and
//! the one handle that lists and kills every process of the run however it forked.
//!
//! # Mechanism per host layout
//!
//! | layout | limits | CPU time | list and kill |
//! |---|---|---|---|
//! | pure v2 | `memory.max`, `memory.swap.max` = 0, `pids.max` | `cpu.stat` | `cgroup.kill` |
//! | hybrid | v1 `memory.limit_in_bytes` (+ `memory.memsw.limit_in_bytes`), v1 `pids.max` | `cpu.stat` in the v2 unified tree (v1 `cpuacct` where the caller has no v2 cgroup) | `cgroup.kill` in the v2 unified tree |
//! | v1 only | as hybrid | v1 `cpuacct` | SIGKILL each listed process until none is left |
//! | none | rlimits instead (see [`crate::rlimit`]) | `RLIMIT_CPU` per process | pid namespace or process group |
//!
//! A run's cgroups are `<base>/cordon/<run>` in each hierarchy used, where `<base>` is the
//! highest cgroup from the caller's own up that the caller may write: the hierarchy's root
//! for root, the delegated cgroup for an unprivileged caller (v2 only; v1 is not delegated).
//! Without a writable base [`RunCgroup::create`] fails with [`CgroupError::Unavailable`]
//! and the caller falls back to rlimits.
//!
//! # The v2 no-internal-process rule
//!
//! A v2 cgroup other than the root may not both hold processes and enable controllers for
//! its children. cordon enables `+memory +pids +cpu` in `<base>/cgroup.subtree_control`
//! and in `cordon/cgroup.subtree_control`; `cordon/` never holds a process, and the root
//! is exempt. When an unprivileged caller's delegated base holds processes (cordon itself
//! usually does) the kernel refuses with EBUSY: cordon then still creates the run's cgroup,
//! which lists, kills and accounts CPU time for the whole run, but reports no memory or
//! process limit there, so rlimits stand in. To get the limits, the delegating manager
//! starts cordon in a leaf below the delegated cgroup (`<deleg>/supervisor`), leaving
//! `<deleg>` free of processes. cordon never moves processes it did not start.
//!
//! # Joining
//!
//! The stage-2 helper places the run without moving a whole process, which would make the
//! kernel wait for an RCU grace period (5 to 15 ms here) under a lock every migration on
//! the machine shares: it moves its one thread in each v1 hierarchy (`tasks`), and its
//! first child of the run (the pid namespace's init, or the command's process) is created
//! inside the v2 cgroup (`CLONE_INTO_CGROUP`). See [`CgroupEntry`] for the fallback.
//!
//! # Known gaps
//!
//! - Run cgroups of root sit at the hierarchy root, so they leave any limit the host put
//!   on cordon's own cgroup; the run's own limits still apply.
//! - v1 `cgroup.procs` plus a kill loop can race a fork; the loop repeats until the list is
//!   empty, and a process with SIGKILL pending cannot fork.
//! - The CPU time budget is polled by the supervisor (every 100 ms), not a kernel limit.
//! - The pure v2 path is tested against a fake tree of plain files (see the tests): this
//!   host is hybrid, so the kernel's own v2 controller behaviour is not exercised here.

mod layout;
mod run;
mod v1;
mod v2;

#[cfg(test)]
mod tests;

pub use layout::{detect, detect_from, Hierarchy, Layout};
pub use run::cleanup_stale;
pub(crate) use run::kill_listed_in;

use crate::report::LayerReport;
use crate::spec::CgroupEntry;
use cordon_policy::Limits;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a run cgroup could not be made or handled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CgroupError {
    #[error("no usable cgroup for this run: {reason}")]
    Unavailable { reason: String },
    #[error("invalid run cgroup name {0:?}: must be one non-empty path component")]
    Name(String),
    #[error("failed to create cgroup {path}: {source}")]
    Create { path: PathBuf, source: io::Error },
    #[error("failed to write {file} at {path}: {source}")]
    Write {
        file: String,
        path: PathBuf,
        source: io::Error,
    },
    #[error("failed to kill the processes of {path}: {left} still listed after repeated SIGKILL")]
    Kill { path: PathBuf, left: usize },
    #[error("failed to remove cgroup {path}: {source}")]
    Remove { path: PathBuf, source: io::Error },
}

/// What the run used, as the kernel accounted it for the whole run.
#[derive(Debug, Clone, Default)]
pub struct CgroupUsage {
    pub memory_peak: Option<u64>,
    pub cpu_user: Option<Duration>,
    pub cpu_system: Option<Duration>,
    pub cpu_total: Option<Duration>,
    pub oom_kills: u64,
    pub pids_limit_hits: u64,
    pub pids_peak: Option<u64>,
}

/// One directory of the run, in one hierarchy.
#[derive(Debug, Clone)]
struct RunDir {
    path: PathBuf,
    v2: bool,
    /// Controllers in force for it (enabled in v2, bound to the hierarchy in v1).
    controllers: Vec<String>,
}

impl RunDir {
    fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

/// The cgroups of one run, one per hierarchy used. Removed on drop if [`Self::remove`]
/// was not called.
#[derive(Debug)]
pub struct RunCgroup {
    /// The first one's `cgroup.procs` lists every process of the run (v2 first).
    dirs: Vec<RunDir>,
}

impl RunCgroup {
    /// Creates the run's cgroups and applies the memory and process limits. Reports
    /// `limit.memory` and `limit.pids` when a controller here covers them, `limit.cpu`
    /// when it also covers one of those (which is how [`crate::rlimit::apply`] knows to
    /// stay silent on it), and `kill`. Fails rather than return a partial cgroup.
    pub fn create(
        layout: &Layout,
        run_name: &str,
        limits: &Limits,
    ) -> Result<(RunCgroup, Vec<LayerReport>), CgroupError> {
        if run_name.is_empty() || run_name.contains('/') || run_name.starts_with('.') {
            return Err(CgroupError::Name(run_name.to_owned()));
        }
        let mut cg = RunCgroup { dirs: Vec::new() };
        let mut reports = Vec::new();
        let mut unusable = Vec::new();
        match layout {
            Layout::V2(h) => v2::setup(
                &mut cg,
                h,
                true,
                run_name,
                limits,
                &mut reports,
                &mut unusable,
            )?,
            Layout::Hybrid { v1, unified } => {
                v2::setup(
                    &mut cg,
                    unified,
                    false,
                    run_name,
                    limits,
                    &mut reports,
                    &mut unusable,
                )?;
                v1::setup(&mut cg, v1, run_name, limits, &mut reports, &mut unusable)?;
            }
            Layout::V1(v1) => {
                v1::setup(&mut cg, v1, run_name, limits, &mut reports, &mut unusable)?
            }
            Layout::None(why) => unusable.push(why.clone()),
        }
        if cg.dirs.is_empty() {
            let reason = unusable.join("; ");
            return Err(CgroupError::Unavailable { reason });
        }
        reports.push(cg.kill_report());
        reports.extend(cg.cpu_report(limits));
        Ok((cg, reports))
    }

    /// Where the stage-2 helper joins the run (see [`CgroupEntry`] for why not
    /// `cgroup.procs`).
    pub fn entry(&self) -> CgroupEntry {
        CgroupEntry {
            tasks: self
                .dirs
                .iter()
                .filter(|d| !d.v2)
                .map(|d| d.path.join("tasks"))
                .collect(),
            v2: self.dirs.iter().find(|d| d.v2).map(|d| d.path.clone()),
        }
    }

    /// The `cgroup.procs` that lists every process of the run.
    pub fn procs_file(&self) -> PathBuf {
        self.dirs[0].path.join("cgroup.procs")
    }

    /// The run's directory in each hierarchy it uses, v2 first.
    pub fn dirs(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.path.clone()).collect()
    }

    /// Moves `pid` (a whole process) into every cgroup of the run.
    pub fn join(&self, pid: u32) -> Result<(), CgroupError> {
        self.dirs
            .iter()
            .try_for_each(|d| write(&d.path, "cgroup.procs", &pid.to_string()))
    }

    /// A memory controller of this cgroup covers the run: it enforces the memory limit,
    /// if one is set, and reported `limit.memory` either way.
    pub fn limits_memory(&self) -> bool {
        self.dirs.iter().any(|d| d.has("memory"))
    }

    /// A pids controller of this cgroup covers the run (as [`Self::limits_memory`]).
    pub fn limits_pids(&self) -> bool {
        self.dirs.iter().any(|d| d.has("pids"))
    }

    fn kill_report(&self) -> LayerReport {
        match self
            .dirs
            .iter()
            .find(|d| d.v2 && d.path.join("cgroup.kill").exists())
        {
            Some(d) => {
                LayerReport::enforced("kill", format!("cgroup.kill at {}", d.path.display()))
            }
            None => LayerReport::enforced(
                "kill",
                format!(
                    "SIGKILL to each process in {}, repeated until none is left (no cgroup.kill)",
                    self.dirs[0].path.join("cgroup.procs").display()
                ),
            ),
        }
    }

    fn cpu_report(&self, limits: &Limits) -> Option<LayerReport> {
        if !self.limits_memory() && !self.limits_pids() {
            return None; // rlimit::apply reports limit.cpu
        }
        let file = self.dirs.iter().find_map(|d| {
            let f = if d.v2 {
                d.path.join("cpu.stat")
            } else {
                d.path.join("cpuacct.usage")
            };
            (d.v2 || d.has("cpuacct"))
                .then_some(f)
                .filter(|f| f.exists())
        });
        Some(match (limits.cpu, file) {
            (None, _) => LayerReport::off("limit.cpu", "no CPU time limit set"),
            (Some(t), Some(f)) => LayerReport::enforced(
                "limit.cpu",
                format!(
                    "whole-run CPU time from cgroup accounting ({}), enforced by the supervisor: {} s",
                    f.display(),
                    t.as_secs_f64()
                ),
            ),
            (Some(_), None) => LayerReport::partial(
                "limit.cpu",
                "RLIMIT_CPU per process only: no cgroup CPU time accounting for the whole run",
            ),
        })
    }
}

/// Writes one control file, naming it and its directory on failure.
fn write(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    std::fs::write(dir.join(file), value).map_err(|source| CgroupError::Write {
        file: file.to_owned(),
        path: dir.to_owned(),
        source,
    })
}

/// Creates a cgroup directory; `shared` ones (the `cordon` parent) may already exist.
fn make_dir(path: &Path, shared: bool) -> Result<(), CgroupError> {
    match std::fs::create_dir(path) {
        Err(e) if shared && e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        r => r.map_err(|source| CgroupError::Create {
            path: path.to_owned(),
            source,
        }),
    }
}

/// The highest cgroup from `h.own` up to the mount that passes `writable`: where cordon
/// may make its `cordon/` parent.
fn delegation_root(h: &Hierarchy, writable: impl Fn(&Path) -> bool) -> Option<PathBuf> {
    let mut best = None;
    let mut dir = h.own.as_path();
    while dir.starts_with(&h.mount) && writable(dir) {
        best = Some(dir.to_owned());
        match dir.parent() {
            Some(p) if dir != h.mount => dir = p,
            _ => break,
        }
    }
    best
}

/// Where an administrator delegates a v1 hierarchy to an unprivileged uid:
/// `<mount>/cordon/user-<uid>`, owned by that uid (the directory and its `cgroup.procs`
/// and `tasks`). A v1 cgroup needs no common ancestor for a move, so such a caller can
/// put its runs there; cgroup v2 forbids that without a delegated session cgroup.
fn user_dir(h: &Hierarchy) -> PathBuf {
    let uid = rustix::process::geteuid().as_raw();
    h.mount
        .join("cordon")
        .join(format!("{DELEGATED_PREFIX}{uid}"))
}

/// Name prefix of delegated folders under `cordon/`; run cgroups never start with it.
const DELEGATED_PREFIX: &str = "user-";

/// [`user_dir`], when it exists and the caller may use it.
fn delegated_parent(h: &Hierarchy) -> Option<PathBuf> {
    let dir = user_dir(h);
    (!rustix::process::geteuid().is_root() && writable(&dir)).then_some(dir)
}

/// The caller may create cgroups under `dir` and move processes through it.
fn writable(dir: &Path) -> bool {
    use rustix::fs::{access, Access};
    access(dir, Access::WRITE_OK).is_ok()
        && access(dir.join("cgroup.procs"), Access::WRITE_OK).is_ok()
}

/// The `limit.memory` report for a memory controller at `dir`.
fn memory_report(
    mechanism: &str,
    dir: &Path,
    bytes: Option<u64>,
    swap: Result<(), &str>,
) -> LayerReport {
    let at = format!("{mechanism} at {}", dir.display());
    match (bytes, swap) {
        (None, _) => LayerReport::off(
            "limit.memory",
            format!("no memory limit set (accounted by the {at})"),
        ),
        (Some(b), Ok(())) => {
            LayerReport::enforced("limit.memory", format!("{at}: {b} bytes, swap 0"))
        }
        (Some(b), Err(why)) => LayerReport::partial(
            "limit.memory",
            format!("{at}: {b} bytes; swap not limited: {why}"),
        ),
    }
}

/// The `limit.pids` report for a pids controller at `dir`.
fn pids_report(mechanism: &str, dir: &Path, max: Option<u64>) -> LayerReport {
    let at = format!("{mechanism} at {}", dir.display());
    match max {
        None => LayerReport::off(
            "limit.pids",
            format!("no process limit set (counted by the {at})"),
        ),
        Some(n) => LayerReport::enforced("limit.pids", format!("{at}: at most {n} processes")),
    }
}
