//! Inputs of a run: inline files and copies, written into the run's work directory.

/// The root name that means the tenant's own earlier runs.
pub const RUNS_ROOT: &str = "runs";
