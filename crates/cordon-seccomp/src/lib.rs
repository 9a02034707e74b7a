//! cordon's seccomp-BPF filters: built for x86_64 or aarch64, installed on the calling
//! thread as the last confinement step before `execve`.
//!
//! The policy is a denylist over a default of *allow*: Landlock, namespaces and limits do
//! the confining, and seccomp removes the kernel interfaces that would get around them or
//! that only privileged code needs. Every refused syscall is a row of the rule table in
//! `src/rules.rs`, with its reason beside it; [`rules`] returns that table for the docs and
//! `cordon doctor`.
//!
//! ```no_run
//! use cordon_seccomp::{build, install, Arch, FilterOptions};
//!
//! let arch = Arch::native().expect("cordon filters x86_64 and aarch64");
//! let opts = FilterOptions { deny_network: true, deny_unix_socket_create: false };
//! let programs = build(arch, &opts)?;
//! // ... after no_new_privs and Landlock, last before execve:
//! install(&programs)?;
//! # Ok::<(), cordon_seccomp::SeccompError>(())
//! ```
//!
//! # Stacked filters
//! seccompiler gives a filter a single action for every match, and cordon needs three
//! answers, so it builds one filter per answer and installs them all, in this order:
//!
//! | filter | built by | refuses with |
//! |---|---|---|
//! | `x32_guard` (x86_64 only) | hand, `src/x32.rs` | `SECCOMP_RET_KILL_PROCESS` |
//! | `eperm` | seccompiler | `EPERM`: privileged or escape-relevant syscalls |
//! | `enosys` | seccompiler | `ENOSYS`: `clone3` and io_uring |
//! | `eafnosupport` (with a network option) | seccompiler | `EAFNOSUPPORT`: sockets |
//!
//! The kernel runs every installed filter on every syscall and keeps the verdict of highest
//! precedence: the lowest `ret & SECCOMP_RET_ACTION_FULL` read as a signed 32-bit number,
//! which orders KILL_PROCESS > KILL_THREAD > TRAP > ERRNO > USER_NOTIF > TRACE > LOG >
//! ALLOW. Between equal actions (two errnos) the most recently installed filter wins, so a
//! test makes sure no syscall is refused by two filters: install order never picks an errno.
//!
//! # Foreign architectures
//! Each seccompiler filter opens with an architecture check that returns
//! `SECCOMP_RET_KILL_PROCESS` on a mismatch (seccompiler 0.5, `build_arch_validation_sequence`).
//! That kills i386 calls made with `int 0x80` on x86_64 and arm32 calls on aarch64, which
//! use other syscall numbers and would otherwise slip past every native-numbered rule.
//! Kernels older than 4.14 read that value as a kill of the thread alone.
//!
//! x32 calls carry the native architecture value but numbers with bit `0x4000_0000` set;
//! seccompiler ignores the bit, so a four-instruction guard, written by hand, kills them
//! (see `src/x32.rs`).
//!
//! # The verdict cache
//! When a filter is installed, the kernel (5.11 and later) emulates it for every syscall
//! number of the native and compat arch. A number that every filter allows without reading
//! an argument is cached, and later calls skip the filters: about 10 ns instead of running
//! them all. Any argument test removes its syscall from the cache, so argument tests are kept
//! to `socket`, `socketpair`, `clone`, `unshare` and `ioctl`; `read`, `openat`, `getppid` and
//! every other allowed syscall stay cached. A test runs the kernel's emulation over every
//! syscall number to prove it.
//!
//! # Argument width
//! Arguments are compared on their low 32 bits, because the kernel reads no more of them
//! (`int domain`, `unsigned int cmd`, clone flags cut to 32 bits). A 64-bit compare would let
//! high garbage carry a refused value past the filter: `socket(0xffffffff_00000002, ..)`
//! is `AF_INET` to the kernel and is refused, `socket(0x1_00000001, ..)` is `AF_UNIX` and
//! passes.
//!
//! # Choices
//! - `EPERM` for most refusals; `ENOSYS` for `clone3` (its flags are in a struct no filter
//!   can read; glibc falls back to `clone`, whose flags are checked) and io_uring (callers
//!   fall back to plain syscalls; io_uring could open and connect sockets without
//!   `socket()`); `EAFNOSUPPORT` for sockets, as from a kernel without that family.
//! - Of the namespace flags only `CLONE_NEWUSER` is refused: the others need
//!   `CAP_SYS_ADMIN`, which a user namespace would have provided, and `mount` is refused.
//!
//! # Tests
//! - `src/rules/tests.rs`: the table has no duplicate or contradictory rows, a reason on
//!   each, and numbers for each syscall on the arches it claims (checked against `libc`
//!   on the native one).
//! - `tests/verdicts.rs`, `tests/stacking.rs`: a classic-BPF interpreter with the kernel's
//!   load checks, stacking rule and cache emulation runs the programs of *both* arches;
//!   this is how the aarch64 programs are tested on an x86_64 machine.
//! - `tests/kernel*.rs`: the filters on the running kernel, in a child process (the test
//!   binary re-executed): sockets and other refusals through safe wrappers, raw attacks
//!   (`int 0x80`, x32 numbers, high argument bits, io_uring, TIOCSTI) from a small C
//!   program, and real programs (sh, Python multiprocessing, Ruby, gcc, Java, Node).
//!
//! # Limitations
//! - Filters apply to the calling thread only (no TSYNC): stage 2 is single-threaded, and
//!   threads and children created afterwards inherit them.
//! - seccompiler's `apply_filter` also sets no_new_privs (idempotent after the caller's).
//! - A failed [`install`] can leave the earlier filters in place; the caller aborts the run.
//! - SysV IPC (`shmget`, `msgget`, `semget`) is left to an IPC namespace.

#![forbid(unsafe_code)]

mod compile;
mod error;
mod rules;
mod syscalls;
mod x32;

pub use error::SeccompError;

use seccompiler::{BpfProgram, TargetArch};
use std::fmt;

/// An architecture cordon can build filters for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    /// The architecture this crate was compiled for, if it is one of the two.
    pub fn native() -> Option<Arch> {
        if cfg!(target_arch = "x86_64") {
            Some(Arch::X86_64)
        } else if cfg!(target_arch = "aarch64") {
            Some(Arch::Aarch64)
        } else {
            None
        }
    }

    /// The arch's usual name, as in `uname -m`.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    fn target(self) -> TargetArch {
        match self {
            Arch::X86_64 => TargetArch::x86_64,
            Arch::Aarch64 => TargetArch::aarch64,
        }
    }

    fn foreign_reason(self) -> &'static str {
        match self {
            Arch::X86_64 => "i386 calls (int 0x80) use other numbers than the native rules",
            Arch::Aarch64 => "arm32 calls use other numbers than the native rules",
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The options that change the filters. The default refuses neither.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FilterOptions {
    /// --net deny: socket()/socketpair() refuse every family but AF_UNIX with EAFNOSUPPORT
    pub deny_network: bool,
    /// fallback host-unix-socket layer: socket(AF_UNIX, ...) also refused (EAFNOSUPPORT),
    /// socketpair(AF_UNIX) still allowed
    pub deny_unix_socket_create: bool,
}

/// One filter, named for messages and reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedProgram {
    pub name: &'static str,
    pub program: BpfProgram,
}

/// One row of the policy as people read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleInfo {
    pub syscall: &'static str,
    /// `kill process`, `errno EPERM`, `errno EPERM if flags has CLONE_NEWUSER`, `allow`.
    pub action: String,
    pub reason: &'static str,
}

/// Builds the filters for `arch`, in installation order.
pub fn build(arch: Arch, opts: &FilterOptions) -> Result<Vec<NamedProgram>, SeccompError> {
    let mut programs = Vec::new();
    if arch == Arch::X86_64 {
        programs.push(NamedProgram {
            name: "x32_guard",
            program: x32::guard(),
        });
    }
    for errno in rules::Errno::ALL {
        programs.extend(compile::errno_filter(arch, opts, errno)?);
    }
    Ok(programs)
}

/// Installs every program on the calling thread, in order. Caller has already set no_new_privs.
pub fn install(programs: &[NamedProgram]) -> Result<(), SeccompError> {
    for named in programs {
        seccompiler::apply_filter(&named.program).map_err(|cause| SeccompError::InstallFilter {
            filter: named.name,
            cause,
        })?;
    }
    Ok(())
}

/// The rule table, for docs and `cordon doctor`: (syscall name, action, reason) per arch.
///
/// The kills come first, then the table's rows in force for `opts`, then the default.
pub fn rules(arch: Arch, opts: &FilterOptions) -> Vec<RuleInfo> {
    let kill = || "kill process".to_string();
    let mut table = vec![RuleInfo {
        syscall: "(any, foreign arch)",
        action: kill(),
        reason: arch.foreign_reason(),
    }];
    if arch == Arch::X86_64 {
        let reason = "x32 numbers (bit 0x40000000) match no native rule";
        table.push(RuleInfo {
            syscall: "(any, x32 number)",
            action: kill(),
            reason,
        });
    }
    let rows = rules::RULES.iter().filter(|rule| rule.applies(arch, opts));
    table.extend(rows.map(|rule| RuleInfo {
        syscall: rule.syscall,
        action: rule.action(),
        reason: rule.reason,
    }));
    let reason = "the other layers confine what these syscalls can reach";
    table.push(RuleInfo {
        syscall: "(any other)",
        action: "allow".to_string(),
        reason,
    });
    table
}
