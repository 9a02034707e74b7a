//! Checks on the table itself: no duplicate or contradictory rows, a reason on each, and
//! a number for each syscall on each arch it claims.

use super::{Errno, Rule, RULES, TIOCLINUX, TIOCSTI};
use crate::syscalls::{self, number};
use crate::{Arch, FilterOptions};
use std::collections::{BTreeMap, BTreeSet};

const ARCHES: [Arch; 2] = [Arch::X86_64, Arch::Aarch64];

fn every_options() -> Vec<FilterOptions> {
    let flags = [false, true];
    let pairs = flags
        .iter()
        .flat_map(|&net| flags.iter().map(move |&unix| (net, unix)));
    let opts = pairs.map(|(deny_network, deny_unix_socket_create)| FilterOptions {
        deny_network,
        deny_unix_socket_create,
    });
    opts.collect()
}

/// The rows in force for one arch and one set of options, grouped by syscall.
fn active(arch: Arch, opts: &FilterOptions) -> BTreeMap<&'static str, Vec<&'static Rule>> {
    let mut by_syscall: BTreeMap<_, Vec<_>> = BTreeMap::new();
    for rule in RULES.iter().filter(|rule| rule.applies(arch, opts)) {
        by_syscall.entry(rule.syscall).or_default().push(rule);
    }
    by_syscall
}

/// Two errnos for one syscall would leave the answer to filter order: contradictory.
#[test]
fn no_syscall_has_two_errnos() {
    for arch in ARCHES {
        for opts in every_options() {
            for (syscall, rules) in active(arch, &opts) {
                let errnos: BTreeSet<Errno> = rules.iter().map(|rule| rule.errno).collect();
                assert_eq!(
                    errnos.len(),
                    1,
                    "{syscall} on {arch} with {opts:?}: {errnos:?}"
                );
            }
        }
    }
}

/// An unconditional row next to another row of the same syscall makes the other
/// redundant; two rows with the same condition are duplicates.
#[test]
fn no_redundant_or_duplicate_rows() {
    for arch in ARCHES {
        for opts in every_options() {
            for (syscall, rules) in active(arch, &opts) {
                let conds: Vec<_> = rules.iter().map(|rule| rule.cond).collect();
                if conds.contains(&None) {
                    assert_eq!(conds.len(), 1, "{syscall}: unconditional row beside others");
                }
                for (i, cond) in conds.iter().enumerate() {
                    assert!(
                        !conds[i + 1..].contains(cond),
                        "{syscall}: duplicate condition"
                    );
                }
            }
        }
    }
}

#[test]
fn every_rule_has_a_one_line_reason() {
    for rule in RULES {
        let reason = rule.reason.trim();
        assert!(!reason.is_empty(), "{} has no reason", rule.syscall);
        assert!(
            !reason.contains('\n') && reason.len() <= 100,
            "{}: keep it to a line",
            rule.syscall
        );
    }
}

/// A rule for both arches needs a number on both; an arch-specific rule must name an
/// arch that has the syscall, and the other must not have it (else it is left open there).
#[test]
fn syscall_names_resolve_on_the_arches_they_claim() {
    for rule in RULES {
        for arch in ARCHES {
            let wanted = rule.only.is_none_or(|only| only == arch);
            let known = number(arch, rule.syscall).is_some();
            assert_eq!(wanted, known, "{} on {arch}", rule.syscall);
        }
    }
}

/// A number nobody refers to is a rule that was deleted halfway.
#[test]
fn every_number_in_the_syscall_table_is_used() {
    for name in syscalls::names() {
        assert!(
            RULES.iter().any(|rule| rule.syscall == name),
            "{name} is unused"
        );
    }
}

/// The kernel caches "always allowed" verdicts only for syscalls whose filters never read
/// an argument; argument checks are confined to these few so hot syscalls stay cached.
#[test]
fn only_the_expected_syscalls_inspect_arguments() {
    let inspected: BTreeSet<_> = RULES
        .iter()
        .filter(|rule| rule.cond.is_some())
        .map(|rule| rule.syscall)
        .collect();
    let expected = BTreeSet::from(["clone", "ioctl", "socket", "socketpair", "unshare"]);
    assert_eq!(inspected, expected);
    for cond in RULES.iter().filter_map(|rule| rule.cond) {
        assert!(cond.arg <= 5, "seccomp_data holds six arguments");
    }
}

#[test]
#[allow(
    clippy::useless_conversion,
    reason = "libc's Ioctl is c_ulong on glibc, c_int on musl"
)]
fn terminal_ioctl_numbers_match_libc() {
    assert_eq!(
        u64::from(TIOCSTI),
        u64::try_from(libc::TIOCSTI).unwrap_or(0)
    );
    assert_eq!(
        u64::from(TIOCLINUX),
        u64::try_from(libc::TIOCLINUX).unwrap_or(0)
    );
}

#[test]
fn actions_read_as_text() {
    let clone = RULES.iter().find(|rule| rule.syscall == "clone");
    let action = clone.map(Rule::action).unwrap_or_default();
    assert_eq!(action, "errno EPERM if flags has CLONE_NEWUSER");
}
