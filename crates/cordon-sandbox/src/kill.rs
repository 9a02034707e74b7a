//! Ending a whole run: every process it started, wherever it went.
//!
//! A run's processes are found by the strongest handle the host gives:
//! 1. its cgroup: `cgroup.procs` lists every process however it forked, `setsid`ed or
//!    changed process group, and `cgroup.kill` ends them all at once;
//! 2. its pid namespace: when the namespace's init dies the kernel kills every process
//!    left in it, so killing the waiter (whose death SIGKILLs init) ends the run; for the
//!    polite SIGTERM first, the processes are found by their `/proc/<pid>/ns/pid` link;
//! 3. neither (a host that refuses both): the command's process group, which a process
//!    that calls `setsid` leaves. The report says so.

use crate::cgroup::RunCgroup;
use rustix::process::{kill_process, kill_process_group, Pid, Signal};
use std::collections::HashMap;
use std::fs;

/// The handles the supervisor holds on one run.
pub struct RunHandle<'a> {
    /// The stage-2 helper: a waiter with a pid namespace or a v2 cgroup (outside both),
    /// the command itself without either.
    pub helper: Pid,
    pub pid_namespace: bool,
    pub cgroup: Option<&'a RunCgroup>,
}

impl RunHandle<'_> {
    /// Asks every process of the run to terminate (SIGTERM). cordon's own waiter and
    /// init ignore it, so the command and its children get the grace period.
    pub fn terminate(&self) {
        for pid in self.members() {
            let _ = kill_process(pid, Signal::TERM);
        }
        if !self.pid_namespace && self.cgroup.is_none() {
            let _ = kill_process_group(self.helper, Signal::TERM);
        }
    }

    /// Kills every process of the run (SIGKILL), immediately.
    pub fn kill(&self) {
        if let Some(cg) = self.cgroup {
            if let Err(e) = cg.kill() {
                tracing::warn!(error = %e, "cgroup kill failed; killing processes one by one");
            }
        }
        if self.pid_namespace {
            let _ = kill_process(self.helper, Signal::KILL);
        } else {
            let _ = kill_process_group(self.helper, Signal::KILL);
            let _ = kill_process(self.helper, Signal::KILL);
        }
        for pid in self.members() {
            let _ = kill_process(pid, Signal::KILL);
        }
    }

    /// Every process of the run that cordon can name (its own helpers excluded when a pid
    /// namespace makes them distinguishable).
    fn members(&self) -> Vec<Pid> {
        if let Some(cg) = self.cgroup {
            return cgroup_members(cg);
        }
        if self.pid_namespace {
            return namespace_members(self.helper);
        }
        vec![self.helper]
    }
}

/// Processes in the pid namespace of the waiter's child (init), init excluded.
///
/// They are the descendants of init: inside a pid namespace orphans are re-parented to its
/// init, so every process of the namespace has init among its ancestors. Parentage is
/// read from `/proc/PID/stat`, which anyone may read; a process's namespace link would
/// need ptrace access, which init (not dumpable) refuses an unprivileged supervisor.
fn namespace_members(waiter: Pid) -> Vec<Pid> {
    let w = waiter.as_raw_nonzero();
    let children = fs::read_to_string(format!("/proc/{w}/task/{w}/children")).unwrap_or_default();
    let Some(init) = children
        .split_whitespace()
        .next()
        .and_then(|p| p.parse::<i32>().ok())
    else {
        return Vec::new();
    };
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let parents: HashMap<i32, i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| Some((pid, parent_of(pid)?)))
        .collect();
    parents
        .keys()
        .copied()
        .filter(|&pid| pid != init && descends_from(pid, init, &parents))
        .filter_map(Pid::from_raw)
        .collect()
}

/// The parent pid in `/proc/PID/stat` (the field after the state, which follows the
/// command name's closing parenthesis; the name itself may hold spaces and parentheses).
fn parent_of(pid: i32) -> Option<i32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

fn descends_from(mut pid: i32, ancestor: i32, parents: &HashMap<i32, i32>) -> bool {
    // At most one step per process: a chain longer than that has a loop (pids reused
    // while the table was read).
    for _ in 0..parents.len() {
        match parents.get(&pid) {
            Some(&parent) if parent == ancestor => return true,
            Some(&parent) if parent > 0 => pid = parent,
            _ => return false,
        }
    }
    false
}

/// Processes listed in the run's cgroup.
fn cgroup_members(cg: &RunCgroup) -> Vec<Pid> {
    cg.members().into_iter().filter_map(Pid::from_raw).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_is_read_from_stat() {
        let me = i32::try_from(std::process::id()).unwrap();
        let parent = rustix::process::getppid().map(|p| p.as_raw_nonzero().get());
        assert_eq!(parent_of(me), parent);
    }

    #[test]
    fn descent_follows_parents_and_stops_at_loops() {
        let parents = HashMap::from([(10, 1), (11, 10), (12, 11), (20, 1), (30, 31), (31, 30)]);
        assert!(descends_from(12, 10, &parents));
        assert!(descends_from(11, 10, &parents));
        assert!(!descends_from(20, 10, &parents));
        assert!(!descends_from(30, 10, &parents));
        assert!(!descends_from(99, 10, &parents));
    }
}
