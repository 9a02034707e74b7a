//! cordon's sandbox policy: what a run may read, write and execute, its network rule,
//! environment, identity, limits and mode. Pure data, no syscalls beyond reading files
//! and resolving paths.
//!
//! A policy comes from a TOML file ([`load_file`]), from flags ([`Flags`]), or both, and
//! becomes one validated [`Policy`] through [`build`], which rejects contradictions
//! before anything runs. [`check_file`] reports every problem of a file at once, each
//! with its line and key.
//!
//! ```toml
//! mode = "strict"                  # auto | strict | off
//! net = "deny"                     # deny | allow
//! tenant = "alice"
//! ro = ["/opt/data", "rel/path"]   # relative paths resolve against the file's directory
//! rw = ["/srv/runs/1"]
//! env = ["NAME=VALUE", "NAME"]     # NAME alone passes the caller's value
//! namespaces = true               # false: Landlock and seccomp only (see below)
//! [identity]
//! uid = 199999
//! gid = 199999
//! tenant_uids = [200000, 265535]   # inclusive range
//! [limits]
//! timeout = "2h"                   # 30s, 10m, 1.5h, 250ms, 1d; a plain number is seconds
//! cpu = "10m"
//! memory = "4GiB"                  # B, KiB..TiB, KB..TB, K/M/G/T (binary); "1.5GiB"
//! pids = 256
//! file_size = "1GiB"
//! open_files = 1024                # every limit also takes "none"
//! disk = "2GiB"                    # all read-write folders together
//! ```
//!
//! `namespaces = false` asks for the Landlock + seccomp tier on purpose: no user, mount,
//! pid, ipc, uts or network namespace, hence no private `/proc`, `/dev/shm` or root. It is
//! what cordon degrades to where a host refuses namespaces; strict mode still refuses
//! when a layer this leaves out is needed for full enforcement (host unix sockets).
//!
//! Each rule's reason is documented in the module that enforces it: [`defaults`] for the
//! system roots, identity and strict limits, and the private modules for paths,
//! contradictions, settings and limits.
#![forbid(unsafe_code)]

mod build;
mod check;
pub mod defaults;
mod error;
mod fault;
mod file;
mod flags;
mod grants;
mod limits;
mod model;
mod paths;
mod settings;
mod units;

pub use build::build;
pub use check::check_file;
pub use defaults::{system_roots, DEFAULT_IDENTITY, STRICT_DEFAULTS};
pub use error::{
    Diagnostic, EnvProblem, IdentityProblem, PathProblem, PolicyError, RwRefusal, ValueProblem,
};
pub use file::{load_file, PolicyFile, RawIdentity, RawLimits, Scalar, MAX_FILE_SIZE};
pub use flags::Flags;
pub use model::{Grant, Identity, Limits, Mode, Net, Policy};
pub use units::{parse_count, parse_duration, parse_size};
