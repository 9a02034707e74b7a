//! Per-process resource limits (`setrlimit`), applied by the single-threaded helper right
//! before exec, so they bind the command and everything it starts.
//!
//! Two roles:
//! - always: no core dumps (`RLIMIT_CORE` 0), file size (`RLIMIT_FSIZE`), open files
//!   (`RLIMIT_NOFILE`), and a per-process CPU time backstop (`RLIMIT_CPU`) behind the
//!   supervisor's whole-run budget;
//! - standing in when no cgroup covers the run: memory by address space (`RLIMIT_AS`) and
//!   processes by `RLIMIT_NPROC`. Both are weaker, and the reports say how.
//!
//! Both soft and hard limits are set, so the command cannot raise them again. A limit is
//! never raised: a request above the current hard limit is clamped to it and reported
//! partial.
//!
//! # Known gaps
//!
//! - `RLIMIT_AS` bounds each process's address space, not the run's memory: many
//!   processes together can exceed it, and runtimes that reserve large address ranges
//!   (JITs, Go) can fail below the requested memory.
//! - `RLIMIT_NPROC` counts every process of the real uid on the host, and the kernel does
//!   not apply it to root.
//! - The cgroup tells this module whether it covers memory and processes, but not CPU
//!   time; a cgroup covering either is taken to report `limit.cpu` as well (see
//!   [`crate::cgroup::RunCgroup::create`]).

use crate::report::LayerReport;
use cordon_policy::Limits;
use rustix::process::{getrlimit, getuid, setrlimit, Resource, Rlimit};

/// Why a limit could not be set.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RlimitError {
    #[error("failed to set {name} to {value}: {source}")]
    Set {
        name: &'static str,
        value: u64,
        source: rustix::io::Errno,
    },
}

/// Sets the run's rlimits in the calling process and reports every layer the cgroup did
/// not already report: `limit.core`, `limit.file_size`, `limit.open_files`, and
/// `limit.cpu`, `limit.memory`, `limit.pids` when no cgroup covers them.
pub fn apply(
    limits: &Limits,
    have_cgroup_memory: bool,
    have_cgroup_pids: bool,
    tenant_uid_dedicated: bool,
) -> Result<Vec<LayerReport>, RlimitError> {
    let mut reports = Vec::new();
    set(Resource::Core, "RLIMIT_CORE", 0)?;
    reports.push(LayerReport::enforced(
        "limit.core",
        "RLIMIT_CORE 0: no core dumps",
    ));
    reports.push(plain(
        limits.file_size,
        Resource::Fsize,
        "RLIMIT_FSIZE",
        "limit.file_size",
        "bytes",
    )?);
    reports.push(plain(
        limits.open_files,
        Resource::Nofile,
        "RLIMIT_NOFILE",
        "limit.open_files",
        "open files",
    )?);
    let cpu = cpu(limits)?;
    if !have_cgroup_memory && !have_cgroup_pids {
        reports.push(cpu);
    }
    if !have_cgroup_memory {
        reports.push(memory(limits.memory)?);
    }
    if !have_cgroup_pids {
        reports.push(pids(limits.pids, tenant_uid_dedicated)?);
    }
    Ok(reports)
}

/// A limit whose rlimit means exactly what was asked.
fn plain(
    want: Option<u64>,
    resource: Resource,
    name: &'static str,
    layer: &str,
    unit: &str,
) -> Result<LayerReport, RlimitError> {
    let Some(want) = want else {
        return Ok(LayerReport::off(layer, "no limit set"));
    };
    let got = set(resource, name, want)?;
    Ok(report(layer, name, want, got, unit, None))
}

/// `RLIMIT_CPU` in whole seconds, rounded up: the backstop behind the supervisor.
fn cpu(limits: &Limits) -> Result<LayerReport, RlimitError> {
    let Some(t) = limits.cpu else {
        return Ok(LayerReport::off("limit.cpu", "no CPU time limit set"));
    };
    let secs = t.as_secs() + u64::from(t.subsec_nanos() > 0);
    // A program that handles SIGXCPU gets one more second before SIGKILL.
    let got = set_with_headroom(Resource::Cpu, "RLIMIT_CPU", secs, 1)?;
    let why = "per process only: no cgroup CPU time accounting for the whole run";
    Ok(report("limit.cpu", "RLIMIT_CPU", secs, got, "s", Some(why)))
}

/// `RLIMIT_AS` standing in for a memory cgroup.
fn memory(want: Option<u64>) -> Result<LayerReport, RlimitError> {
    let Some(want) = want else {
        return Ok(LayerReport::off("limit.memory", "no memory limit set"));
    };
    let got = set(Resource::As, "RLIMIT_AS", want)?;
    let why =
        "per process address space via RLIMIT_AS, not the whole run: no memory cgroup available";
    Ok(report(
        "limit.memory",
        "RLIMIT_AS",
        want,
        got,
        "bytes",
        Some(why),
    ))
}

/// `RLIMIT_NPROC` standing in for a pids cgroup.
fn pids(want: Option<u64>, dedicated: bool) -> Result<LayerReport, RlimitError> {
    let Some(want) = want else {
        return Ok(LayerReport::off("limit.pids", "no process limit set"));
    };
    let got = set(Resource::Nproc, "RLIMIT_NPROC", want)?;
    let why = match (getuid().is_root(), dedicated) {
        (true, _) => "RLIMIT_NPROC is not applied to root by the kernel: no process limit in force",
        (false, true) => "RLIMIT_NPROC counts every process of the run's dedicated uid: no pids cgroup available",
        (false, false) => "RLIMIT_NPROC counts every process of this uid on the host, not only the run's: only meaningful with a dedicated uid",
    };
    if getuid().is_root() {
        return Ok(LayerReport::missing("limit.pids", why));
    }
    Ok(report(
        "limit.pids",
        "RLIMIT_NPROC",
        want,
        got,
        "processes",
        Some(why),
    ))
}

/// Enforced when the rlimit is the whole mechanism and was not clamped; partial otherwise.
fn report(
    layer: &str,
    name: &str,
    want: u64,
    got: u64,
    unit: &str,
    weaker: Option<&str>,
) -> LayerReport {
    let mut detail = format!("{name} {got} {unit}");
    if got < want {
        detail.push_str(&format!(
            " (asked {want}: clamped to the existing hard limit)"
        ));
    }
    match weaker {
        Some(why) => LayerReport::partial(layer, format!("{detail}; {why}")),
        None if got < want => LayerReport::partial(layer, detail),
        None => LayerReport::enforced(layer, detail),
    }
}

/// Sets soft and hard limit to `want`, or to the current hard limit if that is lower.
fn set(resource: Resource, name: &'static str, want: u64) -> Result<u64, RlimitError> {
    set_with_headroom(resource, name, want, 0)
}

/// Sets the soft limit to `want` and the hard limit `headroom` above it (both capped by
/// the current hard limit). Headroom lets the kernel's warning signal at the soft limit
/// (SIGXCPU) end the process before the hard limit's SIGKILL, so the cause stays visible.
fn set_with_headroom(
    resource: Resource,
    name: &'static str,
    want: u64,
    headroom: u64,
) -> Result<u64, RlimitError> {
    let hard = getrlimit(resource).maximum;
    let value = hard.map_or(want, |h| want.min(h));
    let ceiling = value.saturating_add(headroom);
    let limit = Rlimit {
        current: Some(value),
        maximum: Some(hard.map_or(ceiling, |h| ceiling.min(h))),
    };
    setrlimit(resource, limit).map_err(|source| RlimitError::Set {
        name,
        value,
        source,
    })?;
    Ok(value)
}
