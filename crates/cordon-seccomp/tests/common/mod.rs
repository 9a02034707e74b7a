//! Shared by the interpreter-based tests: the interpreter and the facts the tests feed it.

pub mod bpf;
pub mod numbers;

use bpf::{run_stack, verdict, SeccompData, Verdict};
use cordon_seccomp::{build, Arch, FilterOptions, NamedProgram};

pub const NO_OPTIONS: FilterOptions = FilterOptions {
    deny_network: false,
    deny_unix_socket_create: false,
};
pub const NET: FilterOptions = FilterOptions {
    deny_network: true,
    deny_unix_socket_create: false,
};
pub const UNIX: FilterOptions = FilterOptions {
    deny_network: false,
    deny_unix_socket_create: true,
};
pub const NET_AND_UNIX: FilterOptions = FilterOptions {
    deny_network: true,
    deny_unix_socket_create: true,
};
pub const EVERY_OPTIONS: [FilterOptions; 4] = [NO_OPTIONS, NET, UNIX, NET_AND_UNIX];
pub const ARCHES: [Arch; 2] = [Arch::X86_64, Arch::Aarch64];

/// `AUDIT_ARCH_*` of the kernel's `audit.h`: machine number, 64-bit and little-endian bits.
pub const AUDIT_ARCH_X86_64: u32 = 62 | 0x8000_0000 | 0x4000_0000;
pub const AUDIT_ARCH_I386: u32 = 3 | 0x4000_0000;
pub const AUDIT_ARCH_AARCH64: u32 = 183 | 0x8000_0000 | 0x4000_0000;
pub const AUDIT_ARCH_ARM: u32 = 40 | 0x4000_0000;

pub fn native_audit_arch(arch: Arch) -> u32 {
    match arch {
        Arch::X86_64 => AUDIT_ARCH_X86_64,
        Arch::Aarch64 => AUDIT_ARCH_AARCH64,
    }
}

/// The 32-bit architecture the same kernel also runs.
pub fn compat_audit_arch(arch: Arch) -> u32 {
    match arch {
        Arch::X86_64 => AUDIT_ARCH_I386,
        Arch::Aarch64 => AUDIT_ARCH_ARM,
    }
}

pub fn programs(arch: Arch, opts: &FilterOptions) -> Vec<NamedProgram> {
    build(arch, opts).expect("the filters build")
}

/// The verdict of the whole stack for a native call of `name` with `args`.
pub fn native_call(arch: Arch, opts: &FilterOptions, name: &str, args: &[u64]) -> Verdict {
    raw_call(
        arch,
        opts,
        native_audit_arch(arch),
        numbers::nr(arch, name),
        args,
    )
}

/// The verdict of the whole stack for any arch value and syscall number.
pub fn raw_call(arch: Arch, opts: &FilterOptions, audit: u32, nr: u32, args: &[u64]) -> Verdict {
    let mut data = SeccompData {
        nr,
        arch: audit,
        instruction_pointer: 0x7f00_1234,
        args: [0; 6],
    };
    data.args[..args.len()].copy_from_slice(args);
    verdict(run_stack(&programs(arch, opts), &data))
}
