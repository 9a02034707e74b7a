//! Syscall numbers for the tests, written out again independently of the crate's table,
//! so that a wrong number there shows up as a wrong verdict here.

use cordon_seccomp::Arch;

/// `(name, x86_64, aarch64)`.
const NUMBERS: &[(&str, u32, u32)] = &[
    ("brk", 12, 214),
    ("bpf", 321, 280),
    ("clock_nanosleep", 230, 115),
    ("clone", 56, 220),
    ("clone3", 435, 435),
    ("close", 3, 57),
    ("connect", 42, 203),
    ("epoll_pwait", 281, 22),
    ("execve", 59, 221),
    ("exit_group", 231, 94),
    ("futex", 202, 98),
    ("getpid", 39, 172),
    ("getppid", 110, 173),
    ("getrandom", 318, 278),
    ("io_uring_enter", 426, 426),
    ("io_uring_register", 427, 427),
    ("io_uring_setup", 425, 425),
    ("ioctl", 16, 29),
    ("keyctl", 250, 219),
    ("kill", 62, 129),
    ("lseek", 8, 62),
    ("mmap", 9, 222),
    ("mount", 165, 40),
    ("newfstatat", 262, 79),
    ("openat", 257, 56),
    ("pidfd_getfd", 438, 438),
    ("prctl", 157, 167),
    ("pread64", 17, 67),
    ("process_vm_readv", 310, 270),
    ("ptrace", 101, 117),
    ("read", 0, 63),
    ("rt_sigaction", 13, 134),
    ("sched_yield", 24, 124),
    ("seccomp", 317, 277),
    ("setns", 308, 268),
    ("socket", 41, 198),
    ("socketpair", 53, 199),
    ("statx", 332, 291),
    ("unshare", 272, 97),
    ("wait4", 61, 260),
    ("write", 1, 64),
];

pub fn nr(arch: Arch, name: &str) -> u32 {
    let row = NUMBERS.iter().find(|(known, _, _)| *known == name);
    let (_, x86_64, aarch64) = row.unwrap_or_else(|| panic!("no test number for {name}"));
    match arch {
        Arch::X86_64 => *x86_64,
        Arch::Aarch64 => *aarch64,
    }
}

/// Syscalls every program makes all the time: they must stay in the kernel's cache.
pub const HOT: &[&str] = &[
    "brk",
    "clock_nanosleep",
    "close",
    "epoll_pwait",
    "execve",
    "exit_group",
    "futex",
    "getpid",
    "getppid",
    "getrandom",
    "lseek",
    "mmap",
    "newfstatat",
    "openat",
    "pread64",
    "read",
    "rt_sigaction",
    "sched_yield",
    "statx",
    "wait4",
    "write",
];
