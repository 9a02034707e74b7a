//! The x32 guard: a four-instruction filter, written by hand.
//!
//! On x86_64 the kernel also accepts x32 syscalls: the same `AUDIT_ARCH_X86_64` in
//! `seccomp_data.arch`, but numbers with bit 30 (`0x4000_0000`) set. seccompiler compares
//! the syscall number for equality with native numbers and never looks at that bit, so
//! `0x4000_0000 | 41` (x32 `socket`) matches no rule and falls through to the default
//! allow. Kernels built with `CONFIG_X86_X32_ABI` would then run it. seccompiler offers no
//! way to express this test, hence this filter, built from the classic BPF constants of
//! `libc`:
//!
//! ```text
//! ld  [nr]                  ; seccomp_data.nr, offset 0
//! jset #0x40000000, kill    ; any number with the x32 bit
//! ret #SECCOMP_RET_ALLOW    ; everything else: the other filters decide
//! kill: ret #SECCOMP_RET_KILL_PROCESS
//! ```
//!
//! Negative numbers (`syscall(-1)`) have the bit set too and are killed as well; programs do
//! not make such calls on purpose (the kernel would only answer ENOSYS). The guard reads only
//! the number, so the kernel's verdict cache still covers every native syscall.

use seccompiler::{sock_filter, BpfProgram};

/// `__X32_SYSCALL_BIT` of the kernel's x86 headers.
pub(crate) const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// Offset of `nr` in `struct seccomp_data`.
const NR_OFFSET: u32 = 0;

pub(crate) fn guard() -> BpfProgram {
    vec![
        stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, NR_OFFSET),
        jump(
            libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K,
            X32_SYSCALL_BIT,
            1,
            0,
        ),
        stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW),
        stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_KILL_PROCESS),
    ]
}

fn stmt(code: u32, k: u32) -> sock_filter {
    jump(code, k, 0, 0)
}

/// `jt` and `jf` count instructions to skip after this one.
fn jump(code: u32, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter {
        code: opcode(code),
        jt,
        jf,
        k,
    }
}

/// `libc` types the BPF opcode fields as `u32`; `sock_filter.code` is 16 bits wide. Every
/// opcode fits in 8 bits; were one ever out of range, `u16::MAX` is no valid opcode, so the
/// kernel would refuse the filter at install time rather than run something else.
fn opcode(code: u32) -> u16 {
    u16::try_from(code).unwrap_or(u16::MAX)
}
