//! The rule table: each syscall cordon refuses, the errno it answers with, and why.
//!
//! Everything not listed here is allowed. The table is data so that it can be reviewed
//! line by line; `compile` turns it into one seccompiler filter per errno, and the tests
//! below reject duplicate or contradictory rows.

use crate::{Arch, FilterOptions};
use std::fmt;

/// `TIOCSTI` and `TIOCLINUX` share these values on x86_64 and aarch64 (the generic ioctl
/// numbering); a test compares them with `libc` on the native arch.
pub(crate) const TIOCSTI: u32 = 0x5412;
pub(crate) const TIOCLINUX: u32 = 0x541C;
const CLONE_NEWUSER: u32 = libc::CLONE_NEWUSER.unsigned_abs();
const AF_UNIX: u32 = libc::AF_UNIX.unsigned_abs();

/// The errno a refused call returns. seccompiler gives a filter a single match action, so
/// each errno gets a filter of its own (see the crate docs on stacking).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Errno {
    Perm,
    NoSys,
    AfNoSupport,
}

impl Errno {
    /// In installation order.
    pub(crate) const ALL: [Errno; 3] = [Errno::Perm, Errno::NoSys, Errno::AfNoSupport];

    pub(crate) fn value(self) -> u32 {
        match self {
            Errno::Perm => libc::EPERM.unsigned_abs(),
            Errno::NoSys => libc::ENOSYS.unsigned_abs(),
            Errno::AfNoSupport => libc::EAFNOSUPPORT.unsigned_abs(),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Errno::Perm => "EPERM",
            Errno::NoSys => "ENOSYS",
            Errno::AfNoSupport => "EAFNOSUPPORT",
        }
    }

    /// The name of the stacked filter that carries this errno.
    pub(crate) fn filter_name(self) -> &'static str {
        match self {
            Errno::Perm => "eperm",
            Errno::NoSys => "enosys",
            Errno::AfNoSupport => "eafnosupport",
        }
    }
}

/// Which option switches a rule on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Always,
    DenyNetwork,
    DenyUnixSocketCreate,
}

/// How a rule compares its argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    /// Every bit of the value is set in the argument.
    HasBits,
}

/// An argument test. It always reads the low 32 bits only: every argument inspected here
/// is an `int` or is cut to 32 bits by the kernel (`clone` and `unshare` flags), so the
/// kernel ignores the high half, and a 64-bit compare would let garbage there carry a
/// refused value past the filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cond {
    pub(crate) arg: u8,
    pub(crate) arg_name: &'static str,
    pub(crate) op: Op,
    pub(crate) value: u32,
    pub(crate) value_name: &'static str,
}

impl fmt::Display for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::HasBits => "has",
        };
        write!(f, "{} {op} {}", self.arg_name, self.value_name)
    }
}

/// One row of the table.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rule {
    pub(crate) syscall: &'static str,
    /// `None`: every call of the syscall matches, whatever its arguments.
    pub(crate) cond: Option<Cond>,
    pub(crate) errno: Errno,
    pub(crate) mode: Mode,
    /// `Some`: the syscall exists on that arch only.
    pub(crate) only: Option<Arch>,
    pub(crate) reason: &'static str,
}

impl Rule {
    const fn new(syscall: &'static str, errno: Errno, reason: &'static str) -> Rule {
        let (cond, mode, only) = (None, Mode::Always, None);
        Rule {
            syscall,
            cond,
            errno,
            mode,
            only,
            reason,
        }
    }

    const fn when(
        self,
        arg: u8,
        arg_name: &'static str,
        op: Op,
        value: (u32, &'static str),
    ) -> Rule {
        let (value, value_name) = value;
        let cond = Some(Cond {
            arg,
            arg_name,
            op,
            value,
            value_name,
        });
        Rule { cond, ..self }
    }

    const fn only(self, arch: Arch) -> Rule {
        Rule {
            only: Some(arch),
            ..self
        }
    }

    const fn mode(self, mode: Mode) -> Rule {
        Rule { mode, ..self }
    }

    /// Whether the rule is part of the filters built for `arch` with `opts`.
    pub(crate) fn applies(&self, arch: Arch, opts: &FilterOptions) -> bool {
        let mode_on = match self.mode {
            Mode::Always => true,
            Mode::DenyNetwork => opts.deny_network,
            Mode::DenyUnixSocketCreate => opts.deny_unix_socket_create,
        };
        mode_on && self.only.is_none_or(|only| only == arch)
    }

    /// The action as shown to people, e.g. `errno EPERM if flags has CLONE_NEWUSER`.
    pub(crate) fn action(&self) -> String {
        match &self.cond {
            None => format!("errno {}", self.errno.name()),
            Some(cond) => format!("errno {} if {cond}", self.errno.name()),
        }
    }
}

const EPERM: Errno = Errno::Perm;
const ENOSYS: Errno = Errno::NoSys;
const EAFNOSUPPORT: Errno = Errno::AfNoSupport;
const NEWUSER: (u32, &str) = (CLONE_NEWUSER, "CLONE_NEWUSER");
const UNIX: (u32, &str) = (AF_UNIX, "AF_UNIX");
const X86: Arch = Arch::X86_64;

/// The table. Reasons fit on one line; the crate docs explain the errno choices.
#[rustfmt::skip]
pub(crate) const RULES: &[Rule] = &[
    // Other processes: their memory, their descriptors, their state.
    Rule::new("ptrace", EPERM, "attaches to other processes to read and change their memory"),
    Rule::new("process_vm_readv", EPERM, "reads another process's memory"),
    Rule::new("process_vm_writev", EPERM, "writes another process's memory"),
    Rule::new("pidfd_getfd", EPERM, "copies a descriptor out of another process"),
    Rule::new("kcmp", EPERM, "compares other processes' kernel objects; checkpoint tools only"),
    Rule::new("process_madvise", EPERM, "changes how another process's memory is paged"),
    // Kernel keyrings are not confined per sandbox and may hold the host's credentials.
    Rule::new("add_key", EPERM, "adds keys to kernel keyrings shared with the host"),
    Rule::new("request_key", EPERM, "looks up keys in kernel keyrings shared with the host"),
    Rule::new("keyctl", EPERM, "reads and changes kernel keyrings shared with the host"),
    // Kernel attack surface that ordinary programs do not touch.
    Rule::new("bpf", EPERM, "loads eBPF programs and maps: a large kernel attack surface"),
    Rule::new("perf_event_open", EPERM, "kernel profiling: attack surface and side channels"),
    Rule::new("userfaultfd", EPERM, "stalls kernel page faults at will: a staple of exploits"),
    // Mounts: privileged, and they would change the filesystem view the other layers confine.
    Rule::new("mount", EPERM, "changes the mount table"),
    Rule::new("umount2", EPERM, "removes mounts, which could uncover hidden paths"),
    Rule::new("pivot_root", EPERM, "changes the root mount"),
    Rule::new("move_mount", EPERM, "attaches or moves a mount (new mount API)"),
    Rule::new("open_tree", EPERM, "clones a mount tree (new mount API)"),
    Rule::new("open_tree_attr", EPERM, "clones a mount tree with new attributes (new mount API)"),
    Rule::new("fsopen", EPERM, "creates a filesystem context (new mount API)"),
    Rule::new("fsconfig", EPERM, "configures a filesystem context (new mount API)"),
    Rule::new("fsmount", EPERM, "turns a filesystem context into a mount (new mount API)"),
    Rule::new("fspick", EPERM, "reopens a mounted filesystem for reconfiguration (new mount API)"),
    Rule::new("mount_setattr", EPERM, "changes mount attributes such as read-only"),
    // Namespaces: a new user namespace grants capabilities and exposes privileged kernel code.
    Rule::new("setns", EPERM, "joins another process's namespaces"),
    Rule::new("unshare", EPERM, "creates a user namespace").when(0, "flags", Op::HasBits, NEWUSER),
    Rule::new("clone", EPERM, "creates a user namespace").when(0, "flags", Op::HasBits, NEWUSER),
    // The kernel itself.
    Rule::new("kexec_load", EPERM, "replaces the running kernel"),
    Rule::new("kexec_file_load", EPERM, "replaces the running kernel"),
    Rule::new("init_module", EPERM, "loads a kernel module"),
    Rule::new("finit_module", EPERM, "loads a kernel module"),
    Rule::new("delete_module", EPERM, "unloads a kernel module"),
    Rule::new("open_by_handle_at", EPERM, "opens files by handle, past every path check"),
    // Host-wide administration: privileged-only, never needed by a sandboxed run.
    Rule::new("acct", EPERM, "switches host-wide process accounting"),
    Rule::new("swapon", EPERM, "adds a host swap area"),
    Rule::new("swapoff", EPERM, "removes a host swap area"),
    Rule::new("reboot", EPERM, "restarts or halts the host"),
    Rule::new("quotactl", EPERM, "changes disk quotas of host filesystems"),
    Rule::new("quotactl_fd", EPERM, "changes disk quotas of host filesystems"),
    Rule::new("lookup_dcookie", EPERM, "privileged profiler helper: resolves kernel path cookies"),
    Rule::new("vhangup", EPERM, "hangs up the controlling terminal"),
    Rule::new("sethostname", EPERM, "renames the host (or the UTS namespace)"),
    Rule::new("setdomainname", EPERM, "renames the host's NIS domain"),
    Rule::new("settimeofday", EPERM, "sets the host clock"),
    Rule::new("clock_settime", EPERM, "sets the host clock"),
    Rule::new("syslog", EPERM, "reads the kernel log: kernel addresses and host activity"),
    Rule::new("chroot", EPERM, "privileged; changes path resolution beneath the other layers"),
    // POSIX message queues live in the IPC namespace, which the host may share.
    Rule::new("mq_open", EPERM, "opens or creates queues in /dev/mqueue, shared with others"),
    Rule::new("mq_unlink", EPERM, "removes queues from /dev/mqueue, shared with others"),
    // x86 only.
    Rule::new("iopl", EPERM, "raises the I/O privilege level: direct port access").only(X86),
    Rule::new("ioperm", EPERM, "grants direct access to I/O ports").only(X86),
    Rule::new("modify_ldt", EPERM, "16-bit segments for emulators; a history of kernel bugs")
        .only(X86),
    Rule::new("uselib", EPERM, "obsolete a.out library loader; nothing current uses it").only(X86),
    // Terminal injection: typed input runs as the user outside the sandbox.
    Rule::new("ioctl", EPERM, "pushes input into the terminal")
        .when(1, "cmd", Op::Eq, (TIOCSTI, "TIOCSTI")),
    Rule::new("ioctl", EPERM, "pushes a selection into a console's input")
        .when(1, "cmd", Op::Eq, (TIOCLINUX, "TIOCLINUX")),
    // ENOSYS: "not built in" makes callers fall back to something the filters can inspect.
    Rule::new("clone3", ENOSYS, "flags in a struct no filter can read; glibc falls back to clone"),
    Rule::new("io_uring_setup", ENOSYS, "io_uring opens and connects sockets without socket()"),
    Rule::new("io_uring_enter", ENOSYS, "io_uring opens and connects sockets without socket()"),
    Rule::new("io_uring_register", ENOSYS, "io_uring opens and connects sockets without socket()"),
    // Network (--net deny) and the fallback unix-socket layer.
    Rule::new("socket", EAFNOSUPPORT, "--net deny: inet, inet6, packet, netlink, vsock, all others")
        .when(0, "domain", Op::Ne, UNIX).mode(Mode::DenyNetwork),
    Rule::new("socketpair", EAFNOSUPPORT, "--net deny: pairs of any family but unix")
        .when(0, "domain", Op::Ne, UNIX).mode(Mode::DenyNetwork),
    Rule::new("socket", EAFNOSUPPORT, "no new unix sockets where Landlock cannot confine paths")
        .when(0, "domain", Op::Eq, UNIX).mode(Mode::DenyUnixSocketCreate),
];

#[cfg(test)]
mod tests;
