//! Raw command-line inputs, as the CLI received them.
//!
//! Values stay strings until [`crate::build`] checks them, so that every error names the
//! flag it came from. Flags add to a policy file: lists (`ro`, `rw`, `env`) are appended,
//! scalars (`mode`, `net`, `tenant`, limits) replace the file's value. Relative paths
//! resolve against the caller's working directory.

use crate::model::{Mode, Net};
use std::path::PathBuf;

/// Policy settings given as flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    /// `--mode auto|strict|off`.
    pub mode: Option<Mode>,
    /// `--net deny|allow`.
    pub net: Option<Net>,
    /// `--ro PATH`, repeatable.
    pub ro: Vec<PathBuf>,
    /// `--rw PATH`, repeatable.
    pub rw: Vec<PathBuf>,
    /// `--env NAME=VALUE` or `--env NAME`, repeatable.
    pub env: Vec<String>,
    /// `--tenant NAME`.
    pub tenant: Option<String>,
    /// `--timeout DURATION`.
    pub timeout: Option<String>,
    /// `--cpu DURATION`.
    pub cpu: Option<String>,
    /// `--memory SIZE`.
    pub memory: Option<String>,
    /// `--pids COUNT`.
    pub pids: Option<String>,
    /// `--file-size SIZE`.
    pub file_size: Option<String>,
    /// `--open-files COUNT`.
    pub open_files: Option<String>,
    /// `--disk SIZE`.
    pub disk: Option<String>,
}
