//! Syscall numbers of the two architectures cordon filters.
//!
//! The filters are built for a named architecture, not only for the one cordon was
//! compiled on, so the numbers cannot come from `libc::SYS_*` (which only knows the native
//! one). They are written out here for every syscall the rule table names. Numbers from
//! 424 on are shared by every architecture. A test compares the native column with `libc`.

use crate::Arch;

/// `(name, x86_64 number, aarch64 number)`; `None` where the architecture has no such
/// syscall (aarch64 never had the i386-era ones).
const NUMBERS: &[(&str, Option<u32>, Option<u32>)] = &[
    ("acct", Some(163), Some(89)),
    ("add_key", Some(248), Some(217)),
    ("bpf", Some(321), Some(280)),
    ("chroot", Some(161), Some(51)),
    ("clock_settime", Some(227), Some(112)),
    ("clone", Some(56), Some(220)),
    ("clone3", Some(435), Some(435)),
    ("delete_module", Some(176), Some(106)),
    ("finit_module", Some(313), Some(273)),
    ("fsconfig", Some(431), Some(431)),
    ("fsmount", Some(432), Some(432)),
    ("fsopen", Some(430), Some(430)),
    ("fspick", Some(433), Some(433)),
    ("init_module", Some(175), Some(105)),
    ("io_uring_enter", Some(426), Some(426)),
    ("io_uring_register", Some(427), Some(427)),
    ("io_uring_setup", Some(425), Some(425)),
    ("ioctl", Some(16), Some(29)),
    ("ioperm", Some(173), None),
    ("iopl", Some(172), None),
    ("kcmp", Some(312), Some(272)),
    ("kexec_file_load", Some(320), Some(294)),
    ("kexec_load", Some(246), Some(104)),
    ("keyctl", Some(250), Some(219)),
    ("lookup_dcookie", Some(212), Some(18)),
    ("modify_ldt", Some(154), None),
    ("mount", Some(165), Some(40)),
    ("mount_setattr", Some(442), Some(442)),
    ("move_mount", Some(429), Some(429)),
    ("mq_open", Some(240), Some(180)),
    ("mq_unlink", Some(241), Some(181)),
    ("open_by_handle_at", Some(304), Some(265)),
    ("open_tree", Some(428), Some(428)),
    ("open_tree_attr", Some(467), Some(467)),
    ("perf_event_open", Some(298), Some(241)),
    ("pidfd_getfd", Some(438), Some(438)),
    ("pivot_root", Some(155), Some(41)),
    ("process_madvise", Some(440), Some(440)),
    ("process_vm_readv", Some(310), Some(270)),
    ("process_vm_writev", Some(311), Some(271)),
    ("ptrace", Some(101), Some(117)),
    ("quotactl", Some(179), Some(60)),
    ("quotactl_fd", Some(443), Some(443)),
    ("reboot", Some(169), Some(142)),
    ("request_key", Some(249), Some(218)),
    ("setdomainname", Some(171), Some(162)),
    ("sethostname", Some(170), Some(161)),
    ("setns", Some(308), Some(268)),
    ("settimeofday", Some(164), Some(170)),
    ("socket", Some(41), Some(198)),
    ("socketpair", Some(53), Some(199)),
    ("swapoff", Some(168), Some(225)),
    ("swapon", Some(167), Some(224)),
    ("syslog", Some(103), Some(116)),
    ("umount2", Some(166), Some(39)),
    ("unshare", Some(272), Some(97)),
    ("uselib", Some(134), None),
    ("userfaultfd", Some(323), Some(282)),
    ("vhangup", Some(153), Some(58)),
];

/// The number of syscall `name` on `arch`, if the table knows it and the arch has it.
pub(crate) fn number(arch: Arch, name: &str) -> Option<u32> {
    let (_, x86_64, aarch64) = NUMBERS.iter().find(|(known, _, _)| *known == name)?;
    match arch {
        Arch::X86_64 => *x86_64,
        Arch::Aarch64 => *aarch64,
    }
}

/// Every name the table knows, for the test that checks each is used by a rule.
#[cfg(test)]
pub(crate) fn names() -> impl Iterator<Item = &'static str> {
    NUMBERS.iter().map(|(name, _, _)| *name)
}

#[cfg(test)]
mod tests {
    use super::{number, NUMBERS};
    use crate::Arch;
    use std::collections::BTreeSet;

    #[test]
    fn names_and_numbers_are_unique_per_arch() {
        let names: BTreeSet<_> = NUMBERS.iter().map(|(name, _, _)| name).collect();
        assert_eq!(names.len(), NUMBERS.len(), "a syscall is listed twice");
        for arch in [Arch::X86_64, Arch::Aarch64] {
            let numbers: Vec<_> = NUMBERS
                .iter()
                .filter_map(|(n, ..)| number(arch, n))
                .collect();
            let unique: BTreeSet<_> = numbers.iter().collect();
            assert_eq!(
                unique.len(),
                numbers.len(),
                "two syscalls share a number on {arch}"
            );
        }
    }

    /// The native column must agree with the C library's headers, as `libc` states them.
    #[test]
    fn native_numbers_match_libc() {
        let Some(native) = Arch::native() else { return };
        for (name, expected) in native_libc_numbers() {
            assert_eq!(number(native, name), expected, "{name} on {native}");
        }
    }

    #[cfg(target_arch = "x86_64")]
    fn native_libc_numbers() -> Vec<(&'static str, Option<u32>)> {
        vec![
            ("clone", libc_nr(libc::SYS_clone)),
            ("ioperm", libc_nr(libc::SYS_ioperm)),
            ("iopl", libc_nr(libc::SYS_iopl)),
            ("modify_ldt", libc_nr(libc::SYS_modify_ldt)),
            ("uselib", libc_nr(libc::SYS_uselib)),
        ]
        .into_iter()
        .chain(shared_libc_numbers())
        .collect()
    }

    #[cfg(target_arch = "aarch64")]
    fn native_libc_numbers() -> Vec<(&'static str, Option<u32>)> {
        vec![("clone", libc_nr(libc::SYS_clone))]
            .into_iter()
            .chain(shared_libc_numbers())
            .collect()
    }

    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    fn native_libc_numbers() -> Vec<(&'static str, Option<u32>)> {
        Vec::new()
    }

    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    fn shared_libc_numbers() -> Vec<(&'static str, Option<u32>)> {
        use libc::*;
        [
            ("acct", SYS_acct),
            ("add_key", SYS_add_key),
            ("bpf", SYS_bpf),
            ("chroot", SYS_chroot),
            ("clock_settime", SYS_clock_settime),
            ("clone3", SYS_clone3),
            ("delete_module", SYS_delete_module),
            ("finit_module", SYS_finit_module),
            ("fsconfig", SYS_fsconfig),
            ("fsmount", SYS_fsmount),
            ("fsopen", SYS_fsopen),
            ("fspick", SYS_fspick),
            ("init_module", SYS_init_module),
            ("io_uring_enter", SYS_io_uring_enter),
            ("io_uring_register", SYS_io_uring_register),
            ("io_uring_setup", SYS_io_uring_setup),
            ("ioctl", SYS_ioctl),
            ("kcmp", SYS_kcmp),
            ("kexec_file_load", SYS_kexec_file_load),
            ("kexec_load", SYS_kexec_load),
            ("keyctl", SYS_keyctl),
            ("lookup_dcookie", SYS_lookup_dcookie),
            ("mount", SYS_mount),
            ("mount_setattr", SYS_mount_setattr),
            ("move_mount", SYS_move_mount),
            ("mq_open", SYS_mq_open),
            ("mq_unlink", SYS_mq_unlink),
            ("open_by_handle_at", SYS_open_by_handle_at),
            ("open_tree", SYS_open_tree),
            ("perf_event_open", SYS_perf_event_open),
            ("pidfd_getfd", SYS_pidfd_getfd),
            ("pivot_root", SYS_pivot_root),
            ("process_madvise", SYS_process_madvise),
            ("process_vm_readv", SYS_process_vm_readv),
            ("process_vm_writev", SYS_process_vm_writev),
            ("ptrace", SYS_ptrace),
            ("quotactl", SYS_quotactl),
            ("quotactl_fd", SYS_quotactl_fd),
            ("reboot", SYS_reboot),
            ("request_key", SYS_request_key),
            ("setdomainname", SYS_setdomainname),
            ("sethostname", SYS_sethostname),
            ("setns", SYS_setns),
            ("settimeofday", SYS_settimeofday),
            ("socket", SYS_socket),
            ("socketpair", SYS_socketpair),
            ("swapoff", SYS_swapoff),
            ("swapon", SYS_swapon),
            ("syslog", SYS_syslog),
            ("umount2", SYS_umount2),
            ("unshare", SYS_unshare),
            ("userfaultfd", SYS_userfaultfd),
            ("vhangup", SYS_vhangup),
        ]
        .into_iter()
        .map(|(name, nr)| (name, libc_nr(nr)))
        .collect()
    }

    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    fn libc_nr(nr: libc::c_long) -> Option<u32> {
        u32::try_from(nr).ok()
    }
}
