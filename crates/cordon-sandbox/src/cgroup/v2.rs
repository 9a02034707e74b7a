//! The run's cgroup in a v2 tree: limits on a pure v2 host, only list, kill and CPU time
//! in the hybrid's unified tree (which carries no controllers).

use super::{delegation_root, make_dir, memory_report, pids_report, writable, write};
use super::{CgroupError, CgroupUsage, Hierarchy, RunCgroup, RunDir};
use crate::report::LayerReport;
use cordon_policy::Limits;
use std::path::Path;
use std::time::Duration;

/// The controllers cordon enables for its run cgroups when the tree offers them.
const WANTED: [&str; 3] = ["memory", "pids", "cpu"];

/// Creates `<base>/cordon/<name>` in the v2 tree `h`. With `limits_here` (pure v2) it
/// enables the controllers and applies the limits; otherwise the directory only lists,
/// kills and accounts. An unusable tree is noted in `unusable`, not an error.
pub(super) fn setup(
    cg: &mut RunCgroup,
    h: &Hierarchy,
    limits_here: bool,
    name: &str,
    limits: &Limits,
    reports: &mut Vec<LayerReport>,
    unusable: &mut Vec<String>,
) -> Result<(), CgroupError> {
    let Some(base) = delegation_root(h, writable) else {
        unusable.push(format!(
            "cgroup v2 at {}: own cgroup {} is not writable (not root and not delegated)",
            h.mount.display(),
            h.own.display()
        ));
        return Ok(());
    };
    let parent = base.join("cordon");
    make_dir(&parent, true)?;
    let offered: Vec<&str> = WANTED
        .into_iter()
        .filter(|c| limits_here && h.controllers.iter().any(|x| x == c))
        .collect();
    let mut enabled = enable(&base, &offered);
    enabled = enable(&parent, &enabled);
    let run = parent.join(name);
    make_dir(&run, false)?;
    let controllers: Vec<String> = enabled.iter().map(|c| (*c).to_owned()).collect();
    cg.dirs.push(RunDir {
        path: run.clone(),
        v2: true,
        controllers,
    });
    reports.extend(apply_limits(&run, &enabled, limits)?);
    Ok(())
}

/// Enables `controllers` for the children of `dir`; returns those now enabled there.
fn enable<'a>(dir: &Path, controllers: &[&'a str]) -> Vec<&'a str> {
    if controllers.is_empty() {
        return Vec::new();
    }
    let current = std::fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
    let on = |c: &str| current.split_whitespace().any(|x| x == c);
    let missing: Vec<String> = controllers
        .iter()
        .filter(|c| !on(c))
        .map(|c| format!("+{c}"))
        .collect();
    if missing.is_empty() || write(dir, "cgroup.subtree_control", &missing.join(" ")).is_ok() {
        return controllers.to_vec();
    }
    // One by one, so a refused controller does not take the others with it.
    let mut enabled = Vec::new();
    for c in controllers {
        match on(c) {
            true => enabled.push(*c),
            false => match write(dir, "cgroup.subtree_control", &format!("+{c}")) {
                Ok(()) => enabled.push(*c),
                Err(e) => tracing::warn!(
                    error = %e,
                    controller = c,
                    "cgroup v2 controller not enabled (EBUSY: the cgroup holds processes, \
                     which the no-internal-process rule forbids); rlimits stand in"
                ),
            },
        }
    }
    enabled
}

/// Writes the memory and pids limits the enabled controllers allow.
fn apply_limits(
    run: &Path,
    enabled: &[&str],
    limits: &Limits,
) -> Result<Vec<LayerReport>, CgroupError> {
    let mut reports = Vec::new();
    if enabled.contains(&"memory") {
        let mut swap = Ok(());
        if let Some(bytes) = limits.memory {
            write(run, "memory.max", &bytes.to_string())?;
            swap = match run.join("memory.swap.max").exists() {
                true => write(run, "memory.swap.max", "0")
                    .map(drop)
                    .map_err(|_| "memory.swap.max refused"),
                false => Err("no memory.swap.max (swap accounting is off)"),
            };
        }
        reports.push(memory_report(
            "cgroup v2 memory controller",
            run,
            limits.memory,
            swap,
        ));
    }
    if enabled.contains(&"pids") {
        if let Some(n) = limits.pids {
            write(run, "pids.max", &n.to_string())?;
        }
        reports.push(pids_report("cgroup v2 pids controller", run, limits.pids));
    }
    Ok(reports)
}

/// Fills what the v2 directory `d` accounts into `u`, keeping values already found. The
/// memory and pids files exist only where their controller is enabled (never in the
/// hybrid's unified tree), so only those are read; `cpu.stat` every v2 cgroup has.
pub(super) fn usage(d: &RunDir, u: &mut CgroupUsage) {
    let dir = &d.path;
    if d.has("memory") {
        u.memory_peak = u.memory_peak.or_else(|| read_u64(&dir.join("memory.peak")));
        u.oom_kills = u
            .oom_kills
            .max(key(&dir.join("memory.events"), "oom_kill").unwrap_or(0));
    }
    if d.has("pids") {
        u.pids_limit_hits = u
            .pids_limit_hits
            .max(key(&dir.join("pids.events"), "max").unwrap_or(0));
        u.pids_peak = u.pids_peak.or_else(|| read_u64(&dir.join("pids.peak")));
    }
    let stat = std::fs::read_to_string(dir.join("cpu.stat")).unwrap_or_default();
    let usec = |k| key_in(&stat, k).map(Duration::from_micros);
    u.cpu_user = u.cpu_user.or_else(|| usec("user_usec"));
    u.cpu_system = u.cpu_system.or_else(|| usec("system_usec"));
    u.cpu_total = u.cpu_total.or_else(|| usec("usage_usec"));
}

/// Whether any process is in `dir` or below, from `cgroup.events`.
pub(super) fn populated(dir: &Path) -> Option<bool> {
    key(&dir.join("cgroup.events"), "populated").map(|v| v != 0)
}

/// A file holding one number.
pub(super) fn read_u64(file: &Path) -> Option<u64> {
    std::fs::read_to_string(file).ok()?.trim().parse().ok()
}

/// The value of `name` in a flat-keyed file (`name value` lines).
pub(super) fn key(file: &Path, name: &str) -> Option<u64> {
    key_in(&std::fs::read_to_string(file).ok()?, name)
}

/// The value of `name` in the text of a flat-keyed file.
fn key_in(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == name).then(|| v.trim().parse().ok()).flatten()
    })
}
