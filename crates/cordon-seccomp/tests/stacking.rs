//! The interpreter's stacking rule and the verdict cache, checked against the kernel's
//! definitions, then applied to cordon's filters.

#[allow(
    dead_code,
    reason = "each test binary uses a part of the shared helpers"
)]
mod common;

use common::bpf::{constant_return, run_stack, verdict, SeccompData, Verdict};
use common::*;
use cordon_seccomp::{rules, Arch, FilterOptions, NamedProgram};
use seccompiler::sock_filter;
use std::collections::BTreeSet;

/// A program that returns `ret` whatever the call.
fn returning(ret: u32) -> NamedProgram {
    let code = u16::try_from(libc::BPF_RET | libc::BPF_K).expect("16 bits");
    NamedProgram {
        name: "fixed",
        program: vec![sock_filter {
            code,
            jt: 0,
            jf: 0,
            k: ret,
        }],
    }
}

fn stacked(rets: &[u32]) -> Verdict {
    let programs: Vec<_> = rets.iter().copied().map(returning).collect();
    let data = SeccompData {
        nr: 0,
        arch: AUDIT_ARCH_X86_64,
        instruction_pointer: 0,
        args: [0; 6],
    };
    verdict(run_stack(&programs, &data))
}

#[test]
fn the_most_restrictive_action_wins() {
    let errno = |e: u32| libc::SECCOMP_RET_ERRNO | e;
    let kill_process = libc::SECCOMP_RET_KILL_PROCESS;
    assert_eq!(
        stacked(&[libc::SECCOMP_RET_ALLOW, kill_process]),
        Verdict::KillProcess
    );
    assert_eq!(
        stacked(&[kill_process, libc::SECCOMP_RET_KILL_THREAD]),
        Verdict::KillProcess
    );
    assert_eq!(
        stacked(&[errno(1), libc::SECCOMP_RET_KILL_THREAD]),
        Verdict::KillThread
    );
    assert_eq!(stacked(&[libc::SECCOMP_RET_TRAP, errno(1)]), Verdict::Trap);
    assert_eq!(
        stacked(&[libc::SECCOMP_RET_TRACE, errno(1)]),
        Verdict::Errno(1)
    );
    assert_eq!(
        stacked(&[libc::SECCOMP_RET_LOG, libc::SECCOMP_RET_ALLOW]),
        Verdict::Log
    );
    assert_eq!(stacked(&[]), Verdict::Allow);
}

/// Equal actions: the errno of the most recently installed filter is the one returned.
#[test]
fn between_two_errnos_the_last_installed_filter_wins() {
    let errno = |e: u32| libc::SECCOMP_RET_ERRNO | e;
    assert_eq!(stacked(&[errno(1), errno(97)]), Verdict::Errno(97));
    assert_eq!(stacked(&[errno(97), errno(1)]), Verdict::Errno(1));
}

/// Numbers whose verdict depends on something else than the number: the kernel runs every
/// filter for them on each call instead of using its cache.
fn uncached(arch: Arch, opts: &FilterOptions) -> BTreeSet<u32> {
    let programs = programs(arch, opts);
    let native = native_audit_arch(arch);
    let reads_more = |nr| {
        programs
            .iter()
            .any(|p| constant_return(&p.program, nr, native).is_none())
    };
    (0..1024).filter(|&nr| reads_more(nr)).collect()
}

fn numbers_of(arch: Arch, names: &[&str]) -> BTreeSet<u32> {
    names.iter().map(|name| numbers::nr(arch, name)).collect()
}

/// Only the five inspected syscalls escape the cache, and the socket pair only when a
/// network option asks for it.
#[test]
fn only_inspected_syscalls_bypass_the_verdict_cache() {
    for arch in ARCHES {
        let base = ["clone", "unshare", "ioctl"];
        assert_eq!(
            uncached(arch, &NO_OPTIONS),
            numbers_of(arch, &base),
            "{arch}"
        );
        let with_sockets = ["clone", "unshare", "ioctl", "socket", "socketpair"];
        assert_eq!(
            uncached(arch, &NET),
            numbers_of(arch, &with_sockets),
            "{arch}"
        );
        let unix_only = ["clone", "unshare", "ioctl", "socket"];
        assert_eq!(
            uncached(arch, &UNIX),
            numbers_of(arch, &unix_only),
            "{arch}"
        );
    }
}

#[test]
fn hot_syscalls_are_cached_as_allowed() {
    let allow = Some(libc::SECCOMP_RET_ALLOW);
    for arch in ARCHES {
        for opts in EVERY_OPTIONS {
            for named in programs(arch, &opts) {
                for name in numbers::HOT {
                    let nr = numbers::nr(arch, name);
                    let ret = constant_return(&named.program, nr, native_audit_arch(arch));
                    assert_eq!(ret, allow, "{name} in {} on {arch}", named.name);
                }
            }
        }
    }
}

#[test]
fn rule_listing_starts_with_the_kills_and_ends_with_allow() {
    let listing = rules(Arch::X86_64, &NET);
    let syscalls: Vec<_> = listing.iter().map(|row| row.syscall).collect();
    assert_eq!(syscalls[..2], ["(any, foreign arch)", "(any, x32 number)"]);
    assert_eq!(syscalls.last(), Some(&"(any other)"));
    assert!(syscalls.contains(&"socketpair") && syscalls.contains(&"iopl"));
    assert!(listing
        .iter()
        .all(|row| !row.reason.is_empty() && !row.action.is_empty()));

    let arm: Vec<_> = rules(Arch::Aarch64, &NO_OPTIONS)
        .into_iter()
        .map(|r| r.syscall)
        .collect();
    assert!(!arm.contains(&"(any, x32 number)") && !arm.contains(&"iopl"));
    assert!(
        !arm.contains(&"socket"),
        "no socket rule without a network option"
    );
}
