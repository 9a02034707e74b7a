//! The runner's public API: requests, views and errors, shared by the HTTP API and the MCP
//! server. Request types reject unknown fields; every type derives a JSON schema so the
//! interfaces can publish exactly what they accept.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A tenant's name, as configured; every run belongs to exactly one.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct TenantName(pub String);

impl fmt::Display for TenantName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new run: a command (never a shell string), its inputs and what it may use.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// The command and its arguments, 1 to 256 items; the first is looked up in `PATH`.
    pub argv: Vec<String>,
    /// Extra environment variables of the command (`NAME` -> value).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Files written or copied into the run's directory before it starts.
    #[serde(default)]
    pub inputs: Vec<Input>,
    /// Limits, written as on the command line ("30s", "512MiB"); each may only tighten
    /// the configured default.
    #[serde(default)]
    pub limits: LimitsRequest,
    /// "deny" or "allow" (only when the tenant may use the network).
    #[serde(default)]
    pub net: Option<String>,
    /// "auto" or "strict"; "off" is never accepted through the service.
    #[serde(default)]
    pub mode: Option<String>,
    /// Directory the command starts in, relative to the run's work directory.
    #[serde(default)]
    pub cwd: Option<String>,
}

/// Requested limits; unset ones take the configured defaults.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsRequest {
    /// Wall-clock limit, e.g. "30s", "10m".
    #[serde(default)]
    pub timeout: Option<String>,
    /// CPU time limit, e.g. "1m".
    #[serde(default)]
    pub cpu: Option<String>,
    /// Memory limit of the whole run, e.g. "512MiB".
    #[serde(default)]
    pub memory: Option<String>,
    /// Process limit of the whole run, e.g. "64".
    #[serde(default)]
    pub pids: Option<String>,
    /// Largest file the command may write, e.g. "100MiB".
    #[serde(default)]
    pub file_size: Option<String>,
    /// Open file descriptors per process, e.g. "256".
    #[serde(default)]
    pub open_files: Option<String>,
    /// Bytes the run's folder may hold, e.g. "1GiB" (kept on a private tmpfs of that size
    /// during the run, counted against memory, copied back at the end).
    #[serde(default)]
    pub disk: Option<String>,
}

/// One input of a run.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Input {
    /// A file written into the run's work directory: `path` relative, `content` UTF-8
    /// text or `content_base64`; exactly one of the two.
    Inline {
        path: String,
        #[serde(default)]
        content: Option<String>,
        #[serde(default)]
        content_base64: Option<String>,
        #[serde(default)]
        executable: bool,
    },
    /// A file or tree copied into the run's work directory from the tenant's own runs
    /// (`root: "runs"`, `path: "<run-id>/out/x.csv"`, relative to that run's work
    /// directory) or from a shared read-only root (`root: "<name>"`). `to` is the
    /// destination, relative; by default the source's last path component.
    Copy {
        root: String,
        path: String,
        #[serde(default)]
        to: Option<String>,
    },
}

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Queued,
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Cancelled,
    Killed,
    Lost,
}

impl RunState {
    /// True once the run has ended, however it ended.
    pub fn is_final(self) -> bool {
        !matches!(self, RunState::Queued | RunState::Running)
    }

    /// The name used in the store and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::TimedOut => "timed_out",
            RunState::Cancelled => "cancelled",
            RunState::Killed => "killed",
            RunState::Lost => "lost",
        }
    }

    /// Parses [`RunState::as_str`]'s names.
    pub fn parse(s: &str) -> Option<RunState> {
        const ALL: [RunState; 8] = [
            RunState::Queued,
            RunState::Running,
            RunState::Succeeded,
            RunState::Failed,
            RunState::TimedOut,
            RunState::Cancelled,
            RunState::Killed,
            RunState::Lost,
        ];
        ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// A run as a tenant sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunView {
    pub id: String,
    pub tenant: TenantName,
    pub argv: Vec<String>,
    pub state: RunState,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    /// The command's exit status (128+N for signal N; 124 timed out; 125 setup failed or
    /// refused; 126 not executable; 127 not found).
    pub exit_code: Option<i32>,
    /// The limit that ended the run: memory, pids, cpu, file_size, timeout or cancel.
    pub kill_reason: Option<String>,
    /// The confinement actually enforced: "<mode>/full" or "<mode>/reduced".
    pub tier: Option<String>,
    /// Why the run failed or was lost, in words.
    pub error: Option<String>,
    /// Resource usage of the whole run.
    pub usage: Option<serde_json::Value>,
    /// The enforcement report: each layer, its level and why.
    pub report: Option<serde_json::Value>,
    /// Bytes the command wrote to each stream (kept or not).
    pub stdout_bytes: u64,
    pub stderr_bytes: u64,
    /// True when a stream wrote more than the log cap keeps.
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
}

/// Which runs to list: newest first, optionally only one state, `before` a run id.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    pub state: Option<RunState>,
    /// At most this many runs (default 50, at most 500).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Only runs submitted before this run id (the `next_before` of a previous page).
    #[serde(default)]
    pub before: Option<String>,
}

/// One page of runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunList {
    pub runs: Vec<RunView>,
    /// Pass as `before` to get the next page; absent on the last page.
    pub next_before: Option<String>,
}

/// A standard stream of the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    /// The log file's name in the run directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout.log",
            Stream::Stderr => "stderr.log",
        }
    }
}

/// Part of a log: the last `tail_lines` lines, or `length` bytes from `offset`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    pub stream: Stream,
    #[serde(default)]
    pub tail_lines: Option<u32>,
    #[serde(default)]
    pub offset: Option<u64>,
    #[serde(default)]
    pub length: Option<u64>,
}

/// A piece of a log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LogChunk {
    pub stream: Stream,
    /// Byte offset of `text` in the kept log.
    pub offset: u64,
    /// The bytes, as UTF-8 (invalid sequences replaced).
    pub text: String,
    /// Bytes kept in the log file.
    pub kept_bytes: u64,
    /// Bytes the command wrote to the stream.
    pub total_bytes: u64,
    /// True when the stream wrote more than was kept.
    pub truncated: bool,
    /// True when `text` reaches the end of the kept log.
    pub eof: bool,
}

/// One entry of a run's work directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Artifact {
    /// Relative to the work directory.
    pub path: String,
    pub size: u64,
    /// "file", "dir", "symlink" or "other".
    pub kind: String,
}

/// Which artifact to read, and which part of it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArtifactQuery {
    pub path: String,
    #[serde(default)]
    pub offset: Option<u64>,
    #[serde(default)]
    pub length: Option<u64>,
}

/// Part of an artifact: `text` when it is valid UTF-8, else `base64`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ArtifactContent {
    pub path: String,
    /// The whole file's size.
    pub size: u64,
    pub offset: u64,
    pub text: Option<String>,
    pub base64: Option<String>,
    /// True when this part reaches the end of the file.
    pub eof: bool,
}

/// Why a runner call failed. Client errors name the field or bound; internal ones carry
/// detail for the log only.
#[derive(Debug, Clone, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RunnerError {
    /// Unknown run id, or another tenant's (the two are indistinguishable).
    #[error("run {id} not found")]
    NotFound { id: String },
    /// A request field is wrong: names the field and the problem.
    #[error("invalid {field}: {reason}")]
    Invalid { field: String, reason: String },
    /// The tenant may not do this.
    #[error("forbidden: {reason}")]
    Forbidden { reason: String },
    /// A size bound was exceeded.
    #[error("{what} exceeds the limit of {limit} bytes")]
    TooLarge { what: String, limit: u64 },
    /// The run is in a state that does not allow this.
    #[error("conflict: {reason}")]
    Conflict { reason: String },
    /// Anything internal (store, I/O); not for clients.
    #[error("internal error: {0}")]
    Internal(String),
}

impl RunnerError {
    /// The HTTP status that answers this error.
    pub fn status_code(&self) -> u16 {
        match self {
            RunnerError::NotFound { .. } => 404,
            RunnerError::Invalid { .. } => 400,
            RunnerError::Forbidden { .. } => 403,
            RunnerError::TooLarge { .. } => 413,
            RunnerError::Conflict { .. } => 409,
            RunnerError::Internal(_) => 500,
        }
    }

    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        RunnerError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn forbidden(reason: impl Into<String>) -> Self {
        RunnerError::Forbidden {
            reason: reason.into(),
        }
    }

    pub(crate) fn not_found(id: &str) -> Self {
        RunnerError::NotFound { id: id.to_owned() }
    }
}
