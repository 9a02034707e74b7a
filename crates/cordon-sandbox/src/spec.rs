//! What the supervisor hands to the stage-2 helper, and what the helper reports back.
//!
//! The supervisor writes one [`RunSpec`] as JSON into a pipe that the helper reads on
//! descriptor [`SPEC_FD`]; the helper (and, with a pid namespace, the namespace's init)
//! writes [`Message`]s, one JSON document per line, on descriptor [`STATUS_FD`].

use crate::report::Report;
use cordon_policy::Policy;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Descriptor on which the stage-2 helper reads its [`RunSpec`].
pub const SPEC_FD: i32 = 3;
/// Descriptor on which the stage-2 helper writes [`Message`]s.
pub const STATUS_FD: i32 = 4;
/// Largest spec the helper accepts (a policy with thousands of paths stays far below).
pub const MAX_SPEC_BYTES: usize = 4 << 20;
/// Identity of the sources the spec and its handling were built from (see `build.rs`).
/// The supervisor passes it to the helper as `argv[2]`; a helper of another build does
/// not read the spec.
pub const BUILD_ID: &str = env!("CORDON_SANDBOX_BUILD");
/// `argv[3]` of a helper that has nothing to fall back to.
pub const NO_FALLBACK: &str = "-";

/// Everything the helper needs to confine and start one command.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSpec {
    pub policy: Policy,
    /// The command and its arguments; `argv[0]` is looked up in the run's `PATH`.
    pub argv: Vec<String>,
    /// The command's complete environment, already filtered by the supervisor.
    pub env: Vec<(String, String)>,
    /// Working directory to enter when it is visible inside the sandbox.
    pub cwd: PathBuf,
    /// uid and gid to switch to (only when the supervisor runs as root).
    pub run_ids: Option<(u32, u32)>,
    /// The run's cgroups, joined by the helper before it gives up privileges.
    pub cgroup: CgroupEntry,
    /// Layers already decided by the supervisor (environment, cgroup limits).
    pub pre_report: Report,
    /// Whether a cgroup provides the memory limit (else rlimits stand in).
    pub cgroup_memory: bool,
    /// Whether a cgroup provides the process limit (else rlimits stand in).
    pub cgroup_pids: bool,
}

/// Where the helper puts the run in its cgroups. Moving a whole process between cgroups
/// takes the kernel's global thread-group lock for writing, which waits for an RCU grace
/// period (5 to 15 ms on a small VM, longer than everything else a run costs), so
/// neither way used here moves a process:
/// - v1 hierarchies: the single-threaded helper writes `0` to each `tasks` file, which
///   moves only the calling thread and skips that lock; its children inherit the cgroup;
/// - the v2 directory: the helper's first child of the run (the pid namespace's init, or
///   without one the command's process) is created inside it (`clone3` with
///   `CLONE_INTO_CGROUP`). Where `clone3` is refused, the helper writes `0` to its
///   `cgroup.procs` instead and pays the grace period.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CgroupEntry {
    /// v1 `tasks` files.
    pub tasks: Vec<PathBuf>,
    /// The run's directory in the v2 hierarchy.
    pub v2: Option<PathBuf>,
}

/// How the confined command ended, as seen by the process that waited for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitState {
    Code(i32),
    Signal(i32),
}

impl ExitState {
    /// The status a shell would report: the code, or 128+N for signal N.
    pub fn exit_code(self) -> i32 {
        match self {
            ExitState::Code(c) => c,
            ExitState::Signal(s) => 128 + s,
        }
    }
}

/// One line on the status pipe.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Message {
    /// Every layer is in place; the command is about to be executed.
    Ready { report: Report },
    /// Setup failed at `step`; the command was not started.
    SetupFailed {
        step: String,
        error: String,
        report: Report,
    },
    /// Strict mode refused to start because a layer is not fully enforced.
    Refused { report: Report },
    /// `execve` itself failed (not found, not executable).
    ExecFailed { path: String, errno: i32 },
    /// The command ended (sent by the pid namespace's init).
    Exited { state: ExitState },
    /// The disk budget's tmpfs: its descriptor travels with this line (`SCM_RIGHTS`),
    /// holding entry `i` for read-write grant `i` of the policy.
    Store,
}
