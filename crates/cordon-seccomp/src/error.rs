//! Errors, one variant per step that can fail.

use crate::Arch;

/// Why building or installing the filters failed.
///
/// Each message is complete: it ends with its cause's own text. The cause is kept in the
/// variant for callers that want to match on it, and is not also returned by `source()`,
/// so a printer that walks the chain shows it once.
#[derive(thiserror::Error, Debug)]
#[non_exhaustive]
pub enum SeccompError {
    /// seccompiler rejected a condition, a rule or the whole filter (for example one longer
    /// than the kernel's 4096 instructions).
    #[error("failed to build the {filter} filter: {cause}")]
    BuildFilter {
        filter: &'static str,
        cause: seccompiler::BackendError,
    },

    /// The rule table names a syscall that the number table lacks for this arch.
    #[error("failed to build the {filter} filter: no {arch} number for syscall {syscall}")]
    UnknownSyscall {
        filter: &'static str,
        syscall: &'static str,
        arch: Arch,
    },

    /// Setting no_new_privs failed, or the kernel refused the filter: EINVAL on a kernel
    /// built without seccomp filters, ENOMEM past its limit on stacked instructions.
    #[error("failed to install the {filter} filter: {cause}")]
    InstallFilter {
        filter: &'static str,
        cause: seccompiler::Error,
    },
}
