//! The validated policy types: the one value every confinement layer reads.
//!
//! These are plain data. Nothing here is ever half-checked: a [`Policy`] comes out of
//! [`crate::build`] (or deserialises from JSON a trusted parent wrote after building it).

use crate::error::PolicyError;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// How hard cordon insists on confinement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Apply every layer the kernel allows and report what is missing.
    #[default]
    Auto,
    /// Refuse to run unless every requested layer is fully enforced.
    Strict,
    /// No confinement at all (debugging only).
    Off,
}

/// Parses `auto`, `strict` or `off`, exactly: an unknown or misspelt mode is an error, so a
/// typo can never quietly weaken a run.
impl FromStr for Mode {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Mode::Auto),
            "strict" => Ok(Mode::Strict),
            "off" => Ok(Mode::Off),
            _ => Err(PolicyError::UnknownMode { value: s.into() }),
        }
    }
}

/// Network rule of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Net {
    /// No sockets beyond unix socketpairs.
    #[default]
    Deny,
    /// The host's network, unfiltered.
    Allow,
}

/// Parses `deny` or `allow`, exactly.
impl FromStr for Net {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "deny" => Ok(Net::Deny),
            "allow" => Ok(Net::Allow),
            _ => Err(PolicyError::UnknownNet { value: s.into() }),
        }
    }
}

/// One granted path with the reason it is granted (defaults carry their reason).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub path: PathBuf,
    pub reason: String,
}

/// Identity settings used when cordon runs as root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Fixed uid/gid for runs without a tenant.
    pub uid: u32,
    pub gid: u32,
    /// Inclusive range tenant uids are derived from.
    pub tenant_uid_first: u32,
    pub tenant_uid_last: u32,
}

/// Resource limits of a run (all optional; `None` means no limit).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub timeout: Option<Duration>,
    pub cpu: Option<Duration>,
    pub memory: Option<u64>,
    pub pids: Option<u64>,
    pub file_size: Option<u64>,
    pub open_files: Option<u64>,
    /// Bytes all of the run's read-write folders may hold together.
    #[serde(default)]
    pub disk: Option<u64>,
}

/// A validated policy: the one value every layer reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub mode: Mode,
    pub net: Net,
    /// Default system read-only roots that exist on this host.
    pub system_ro: Vec<Grant>,
    /// Read (and execute) grants from flags and the policy file; canonical, existing.
    pub ro: Vec<PathBuf>,
    /// Read-write grants; canonical, existing directories.
    pub rw: Vec<PathBuf>,
    /// Extra environment entries: NAME=VALUE, or NAME alone to pass the caller's value.
    pub env: Vec<(String, Option<String>)>,
    /// Whether the run gets namespaces of its own where the host allows them; `false`
    /// leaves Landlock and seccomp as the file-system and network boundary.
    #[serde(default = "namespaces_by_default")]
    pub namespaces: bool,
    pub tenant: Option<String>,
    pub identity: Identity,
    pub limits: Limits,
}

fn namespaces_by_default() -> bool {
    true
}
