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
use std::fs;
use std::path::PathBuf;

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
fn namespace_members(waiter: Pid) -> Vec<Pid> {
    let w = waiter.as_raw_nonzero();
    let children = fs::read_to_string(format!("/proc/{w}/task/{w}/children")).unwrap_or_default();
    let Some(init) = children.split_whitespace().next() else {
        return Vec::new();
    };
    let Ok(ns) = fs::read_link(format!("/proc/{init}/ns/pid")) else {
        return Vec::new();
    };
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| pid.to_string() != init)
        .filter(|pid| {
            fs::read_link(PathBuf::from(format!("/proc/{pid}/ns/pid")))
                .ok()
                .as_ref()
                == Some(&ns)
        })
        .filter_map(Pid::from_raw)
        .collect()
}

/// Processes listed in the run's cgroup (any hierarchy lists all of them).
fn cgroup_members(cg: &RunCgroup) -> Vec<Pid> {
    fs::read_to_string(cg.procs_file())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse::<i32>().ok())
        .filter_map(Pid::from_raw)
        .collect()
}
