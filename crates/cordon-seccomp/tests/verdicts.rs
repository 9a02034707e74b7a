//! What the built filters answer, for both arches, evaluated by the interpreter in
//! `common::bpf` under the kernel's stacking rule. aarch64 cannot run here: this is how
//! its programs are tested.

#[allow(
    dead_code,
    reason = "each test binary uses a part of the shared helpers"
)]
mod common;

use common::bpf::{validate, Verdict};
use common::*;
use cordon_seccomp::Arch;

const EPERM: Verdict = Verdict::Errno(libc::EPERM);
const ENOSYS: Verdict = Verdict::Errno(libc::ENOSYS);
const EAFNOSUPPORT: Verdict = Verdict::Errno(libc::EAFNOSUPPORT);

fn family(af: i32) -> u64 {
    u64::from(af.unsigned_abs())
}

const CLONE_NEWUSER: u64 = 0x1000_0000;
const CLONE_NEWNS: u64 = 0x0002_0000;
const SIGCHLD: u64 = 17;
/// What glibc's pthread_create passes to clone.
const CLONE_THREAD_FLAGS: u64 = 0x003d_0f00;
const TIOCSTI: u64 = 0x5412;
const TIOCLINUX: u64 = 0x541C;
const TCGETS: u64 = 0x5401;
const FIONREAD: u64 = 0x541B;

#[test]
fn every_program_passes_the_kernel_load_checks() {
    for arch in ARCHES {
        for opts in EVERY_OPTIONS {
            for named in programs(arch, &opts) {
                let checked = validate(&named.program);
                assert_eq!(checked, Ok(()), "{} on {arch} with {opts:?}", named.name);
            }
        }
    }
}

#[test]
fn filters_are_stacked_in_a_fixed_order() {
    let names = |arch, opts| {
        programs(arch, &opts)
            .iter()
            .map(|p| p.name)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(Arch::X86_64, NO_OPTIONS),
        ["x32_guard", "eperm", "enosys"]
    );
    assert_eq!(
        names(Arch::X86_64, NET),
        ["x32_guard", "eperm", "enosys", "eafnosupport"]
    );
    assert_eq!(
        names(Arch::Aarch64, UNIX),
        ["eperm", "enosys", "eafnosupport"]
    );
}

#[test]
fn net_deny_refuses_every_socket_family_but_unix() {
    let families = [
        libc::AF_INET,
        libc::AF_INET6,
        libc::AF_PACKET,
        libc::AF_NETLINK,
    ];
    let families = families
        .into_iter()
        .chain([libc::AF_VSOCK, libc::AF_BLUETOOTH, libc::AF_ALG]);
    for arch in ARCHES {
        for af in families.clone() {
            let args = [family(af), 1, 0];
            assert_eq!(
                native_call(arch, &NET, "socket", &args),
                EAFNOSUPPORT,
                "{af} on {arch}"
            );
            assert_eq!(
                native_call(arch, &NET, "socketpair", &args),
                EAFNOSUPPORT,
                "{af}"
            );
        }
        let unix = [family(libc::AF_UNIX), 1, 0];
        assert_eq!(native_call(arch, &NET, "socket", &unix), Verdict::Allow);
        assert_eq!(native_call(arch, &NET, "socketpair", &unix), Verdict::Allow);
    }
}

/// `socket()` takes an `int`: the kernel reads the low 32 bits of the domain, and so must
/// the filter, or high garbage would smuggle AF_INET past it.
#[test]
fn socket_domain_is_compared_on_its_low_32_bits() {
    for arch in ARCHES {
        let unix_low = [0x1_0000_0001, 1, 0];
        let inet_low = [0xffff_ffff_0000_0002, 1, 0];
        assert_eq!(native_call(arch, &NET, "socket", &unix_low), Verdict::Allow);
        assert_eq!(native_call(arch, &NET, "socket", &inet_low), EAFNOSUPPORT);
        assert_eq!(native_call(arch, &UNIX, "socket", &unix_low), EAFNOSUPPORT);
    }
}

#[test]
fn sockets_are_allowed_without_network_options() {
    for arch in ARCHES {
        let inet = [family(libc::AF_INET), 1, 0];
        assert_eq!(
            native_call(arch, &NO_OPTIONS, "socket", &inet),
            Verdict::Allow
        );
    }
}

#[test]
fn unix_socket_layer_refuses_socket_but_keeps_socketpair() {
    let unix = [family(libc::AF_UNIX), 1, 0];
    let inet = [family(libc::AF_INET), 1, 0];
    for arch in ARCHES {
        assert_eq!(
            native_call(arch, &NET_AND_UNIX, "socket", &unix),
            EAFNOSUPPORT
        );
        assert_eq!(
            native_call(arch, &NET_AND_UNIX, "socket", &inet),
            EAFNOSUPPORT
        );
        assert_eq!(
            native_call(arch, &NET_AND_UNIX, "socketpair", &unix),
            Verdict::Allow
        );
        assert_eq!(native_call(arch, &UNIX, "socket", &unix), EAFNOSUPPORT);
        assert_eq!(native_call(arch, &UNIX, "socket", &inet), Verdict::Allow);
        assert_eq!(
            native_call(arch, &UNIX, "socketpair", &unix),
            Verdict::Allow
        );
    }
}

#[test]
fn other_processes_cannot_be_reached() {
    for arch in ARCHES {
        for name in ["ptrace", "process_vm_readv", "pidfd_getfd", "setns"] {
            assert_eq!(
                native_call(arch, &NO_OPTIONS, name, &[16, 1, 0]),
                EPERM,
                "{name}"
            );
        }
        for name in ["mount", "bpf", "keyctl"] {
            assert_eq!(
                native_call(arch, &NO_OPTIONS, name, &[0, 0, 0]),
                EPERM,
                "{name}"
            );
        }
    }
}

/// Only CLONE_NEWUSER is refused; the other namespace flags are left to the kernel, which
/// wants CAP_SYS_ADMIN for them (decided in the crate docs).
#[test]
fn user_namespaces_cannot_be_created() {
    for arch in ARCHES {
        let call = |name, flags| native_call(arch, &NO_OPTIONS, name, &[flags, 0, 0, 0, 0]);
        assert_eq!(call("clone", CLONE_NEWUSER | SIGCHLD), EPERM);
        assert_eq!(
            call("clone", 0x1_0000_0000 | CLONE_NEWUSER | SIGCHLD),
            EPERM
        );
        assert_eq!(call("clone", SIGCHLD), Verdict::Allow);
        assert_eq!(call("clone", CLONE_THREAD_FLAGS), Verdict::Allow);
        assert_eq!(call("unshare", CLONE_NEWUSER), EPERM);
        assert_eq!(call("unshare", CLONE_NEWUSER | CLONE_NEWNS), EPERM);
        assert_eq!(call("unshare", CLONE_NEWNS), Verdict::Allow);
    }
}

#[test]
fn clone3_and_io_uring_answer_enosys() {
    for arch in ARCHES {
        for name in [
            "clone3",
            "io_uring_setup",
            "io_uring_enter",
            "io_uring_register",
        ] {
            assert_eq!(
                native_call(arch, &NET_AND_UNIX, name, &[0x50, 0]),
                ENOSYS,
                "{name}"
            );
        }
    }
}

/// `ioctl`'s `cmd` is an `unsigned int`: high garbage must not hide TIOCSTI.
#[test]
fn terminal_injection_ioctls_are_refused() {
    for arch in ARCHES {
        let ioctl = |cmd| native_call(arch, &NO_OPTIONS, "ioctl", &[0, cmd, 0x7ffd_0000]);
        assert_eq!(ioctl(TIOCSTI), EPERM);
        assert_eq!(ioctl(0x1_0000_0000 | TIOCSTI), EPERM);
        assert_eq!(ioctl(TIOCLINUX), EPERM);
        assert_eq!(ioctl(TCGETS), Verdict::Allow);
        assert_eq!(ioctl(FIONREAD), Verdict::Allow);
    }
}

#[test]
fn ordinary_syscalls_are_allowed() {
    for arch in ARCHES {
        for opts in EVERY_OPTIONS {
            for name in numbers::HOT
                .iter()
                .chain(&["connect", "kill", "prctl", "seccomp"])
            {
                let verdict = native_call(arch, &opts, name, &[3, 0, 0]);
                assert_eq!(verdict, Verdict::Allow, "{name} on {arch} with {opts:?}");
            }
        }
    }
}

/// i386 `int 0x80` on x86_64 and arm32 on aarch64: other numbers, so the process dies.
#[test]
fn foreign_architecture_calls_kill_the_process() {
    for arch in ARCHES {
        for opts in EVERY_OPTIONS {
            for nr in [1, 20, 102, 359] {
                let verdict = raw_call(arch, &opts, compat_audit_arch(arch), nr, &[]);
                assert_eq!(verdict, Verdict::KillProcess, "{nr} on {arch}");
            }
        }
    }
}

#[test]
fn x32_numbers_kill_the_process_on_x86_64() {
    let x32 = |nr: u32, opts| raw_call(Arch::X86_64, &opts, AUDIT_ARCH_X86_64, nr, &[2, 1, 0]);
    for opts in EVERY_OPTIONS {
        assert_eq!(x32(0x4000_0000 | 39, opts), Verdict::KillProcess, "getpid");
        assert_eq!(x32(0x4000_0000 | 41, opts), Verdict::KillProcess, "socket");
        assert_eq!(x32(0x4000_0000 | 101, opts), Verdict::KillProcess, "ptrace");
    }
}
