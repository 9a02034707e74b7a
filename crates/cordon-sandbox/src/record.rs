//! The run record: how a run ended, what it used and what was enforced. Printed by
//! `cordon run --json` and stored by the runner.

use crate::report::Report;
use serde::{Deserialize, Serialize};

/// How a run ended, from cordon's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// The command exited on its own; `exit_code` is its status.
    Exited,
    /// The command was killed by a signal it did not choose (see `kill_reason`).
    Signaled,
    /// The wall-clock limit ran out and the whole run was killed.
    TimedOut,
    /// A resource limit or a cancel killed the run (see `kill_reason`).
    Killed,
    /// The sandbox could not be set up; the command never started.
    SetupFailed,
    /// Strict mode refused to start because a layer was not fully enforced.
    Refused,
    /// The command was not found.
    NotFound,
    /// The command exists but could not be executed.
    NotExecutable,
}

/// Why cordon (or the kernel on its behalf) ended a run early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KillReason {
    Timeout,
    Memory,
    Pids,
    Cpu,
    FileSize,
    Cancel,
    SupervisorDied,
}

/// The failed setup step, when there was one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupError {
    pub step: String,
    pub error: String,
}

/// Resource usage of the whole run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub wall_ms: f64,
    pub user_cpu_ms: f64,
    pub sys_cpu_ms: f64,
    /// Peak memory of the run in bytes, and where the figure comes from.
    pub peak_memory_bytes: Option<u64>,
    pub peak_memory_source: Option<String>,
    /// Processes started, where known.
    pub processes: Option<u64>,
    /// Most processes and threads alive at once (the pids cgroup's peak), where known.
    #[serde(default)]
    pub peak_processes: Option<u64>,
    /// Bytes copied back from the disk budget's tmpfs into the read-write folders.
    #[serde(default)]
    pub disk_bytes: Option<u64>,
    /// Times a fork was refused by the process limit (cgroup hosts).
    pub pids_limit_hits: Option<u64>,
    /// Processes killed by the kernel's OOM killer inside the run's cgroup.
    pub oom_kills: Option<u64>,
}

/// One run's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub command: Vec<String>,
    pub mode: cordon_policy::Mode,
    pub tenant: Option<String>,
    pub status: RunStatus,
    /// cordon's own exit code for this run (the command's, 128+N, or 124 to 127).
    pub exit_code: i32,
    /// The signal that ended the command, if any.
    pub signal: Option<i32>,
    pub kill_reason: Option<KillReason>,
    pub setup_error: Option<SetupError>,
    /// Why the read-write folders could not (all) be copied back from the disk budget's
    /// tmpfs; the command's own exit status is kept.
    #[serde(default)]
    pub copy_back_error: Option<String>,
    pub wall_ms: f64,
    pub user_cpu_ms: f64,
    pub sys_cpu_ms: f64,
    pub usage: Usage,
    pub report: Report,
}
