//! The run's cgroups in v1 hierarchies: one directory per hierarchy cordon uses (memory,
//! pids, cpuacct), each carrying its own controller. A hierarchy that would only account
//! CPU time (`cpuacct`, or `cpu,cpuacct`) is skipped when the run already has a v2
//! directory: every v2 cgroup keeps `cpu.stat` whatever its controllers, and one cgroup
//! fewer is one `mkdir`, `tasks` write and `rmdir` fewer per run.

use super::v2::{key, read_u64};
use super::{delegation_root, make_dir, memory_report, pids_report, writable, write};
use super::{CgroupError, CgroupUsage, Hierarchy, RunCgroup, RunDir};
use crate::report::LayerReport;
use cordon_policy::Limits;
use std::path::Path;
use std::time::Duration;

/// Creates `<base>/cordon/<name>` in each v1 hierarchy and applies the limits there.
/// Hierarchies the caller may not write are noted in `unusable`.
pub(super) fn setup(
    cg: &mut RunCgroup,
    hierarchies: &[Hierarchy],
    name: &str,
    limits: &Limits,
    reports: &mut Vec<LayerReport>,
    unusable: &mut Vec<String>,
) -> Result<(), CgroupError> {
    let cpu_accounted = cg.dirs.iter().any(|d| d.v2);
    for h in hierarchies {
        let limits_something = h.controllers.iter().any(|c| c == "memory" || c == "pids");
        if cpu_accounted && !limits_something {
            continue;
        }
        let parent = match delegation_root(h, writable) {
            Some(base) => base.join("cordon"),
            None => match super::delegated_parent(h) {
                Some(parent) => parent,
                None => {
                    unusable.push(format!(
                        "cgroup v1 {} is not writable (not root, and no {} delegated to this \
                         uid)",
                        h.mount.display(),
                        super::user_dir(h).display()
                    ));
                    continue;
                }
            },
        };
        make_dir(&parent, true)?;
        let run = parent.join(name);
        make_dir(&run, false)?;
        cg.dirs.push(RunDir {
            path: run.clone(),
            v2: false,
            controllers: h.controllers.clone(),
        });
        if h.controllers.iter().any(|c| c == "memory") {
            reports.push(limit_memory(&run, limits.memory)?);
        }
        if h.controllers.iter().any(|c| c == "pids") {
            if let Some(n) = limits.pids {
                write(&run, "pids.max", &n.to_string())?;
            }
            reports.push(pids_report("cgroup v1 pids controller", &run, limits.pids));
        }
    }
    Ok(())
}

/// Memory first, then memory+swap at the same value (swap 0): the kernel refuses a
/// memsw limit below the memory limit.
fn limit_memory(run: &Path, bytes: Option<u64>) -> Result<LayerReport, CgroupError> {
    let mut swap = Ok(());
    if let Some(b) = bytes {
        write(run, "memory.limit_in_bytes", &b.to_string())?;
        swap = match run.join("memory.memsw.limit_in_bytes").exists() {
            true => write(run, "memory.memsw.limit_in_bytes", &b.to_string())
                .map_err(|_| "memory.memsw.limit_in_bytes refused"),
            false => Err("no memory.memsw.limit_in_bytes (swap accounting is off)"),
        };
    }
    Ok(memory_report(
        "cgroup v1 memory controller",
        run,
        bytes,
        swap,
    ))
}

/// Fills what the v1 directory `d` accounts into `u`, keeping values already found.
pub(super) fn usage(d: &RunDir, u: &mut CgroupUsage) {
    let dir = &d.path;
    if d.has("memory") {
        u.memory_peak = u
            .memory_peak
            .or_else(|| read_u64(&dir.join("memory.max_usage_in_bytes")));
        u.oom_kills = u
            .oom_kills
            .max(key(&dir.join("memory.oom_control"), "oom_kill").unwrap_or(0));
    }
    if d.has("pids") {
        u.pids_limit_hits = u
            .pids_limit_hits
            .max(key(&dir.join("pids.events"), "max").unwrap_or(0));
        u.pids_peak = u.pids_peak.or_else(|| read_u64(&dir.join("pids.peak")));
    }
    if d.has("cpuacct") {
        u.cpu_total = u
            .cpu_total
            .or_else(|| read_u64(&dir.join("cpuacct.usage")).map(Duration::from_nanos));
        let stat = dir.join("cpuacct.stat");
        u.cpu_user = u.cpu_user.or_else(|| key(&stat, "user").map(ticks));
        u.cpu_system = u.cpu_system.or_else(|| key(&stat, "system").map(ticks));
    }
}

/// `cpuacct.stat` counts USER_HZ ticks.
fn ticks(n: u64) -> Duration {
    // SAFETY: sysconf takes an integer name and touches no memory of ours.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = u64::try_from(hz).ok().filter(|h| *h > 0).unwrap_or(100);
    Duration::from_nanos(n.saturating_mul(1_000_000_000 / hz))
}
