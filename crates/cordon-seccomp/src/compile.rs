//! Turns the rows of the rule table that share an errno into one seccompiler filter.

use crate::rules::{Cond, Errno, Op, Rule, RULES};
use crate::{syscalls, Arch, FilterOptions, NamedProgram, SeccompError};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule,
};
use std::collections::BTreeMap;

/// The filter answering `errno` for the rows in force, or `None` when no row is.
///
/// Every seccompiler filter starts with its own architecture check, which returns
/// `SECCOMP_RET_KILL_PROCESS` on a mismatch (seccompiler 0.5, `backend/bpf.rs`), so each
/// filter built here also kills foreign-architecture calls.
pub(crate) fn errno_filter(
    arch: Arch,
    opts: &FilterOptions,
    errno: Errno,
) -> Result<Option<NamedProgram>, SeccompError> {
    let name = errno.filter_name();
    let rows: Vec<&Rule> = RULES
        .iter()
        .filter(|rule| rule.errno == errno && rule.applies(arch, opts))
        .collect();
    if rows.is_empty() {
        return Ok(None);
    }
    let chains = syscall_chains(arch, name, &rows)?;
    let program = compile(arch, name, chains, errno)?;
    Ok(Some(NamedProgram { name, program }))
}

/// Groups the rows by syscall number. An unconditional row matches every call, so it
/// becomes an empty chain (seccompiler's way of saying "match on the number alone") even if
/// conditional rows for the same syscall were also given.
fn syscall_chains(
    arch: Arch,
    filter: &'static str,
    rows: &[&Rule],
) -> Result<BTreeMap<i64, Vec<SeccompRule>>, SeccompError> {
    let mut conds: BTreeMap<i64, Vec<Option<Cond>>> = BTreeMap::new();
    for row in rows {
        let nr = syscalls::number(arch, row.syscall).ok_or(SeccompError::UnknownSyscall {
            filter,
            syscall: row.syscall,
            arch,
        })?;
        conds.entry(i64::from(nr)).or_default().push(row.cond);
    }
    let mut chains = BTreeMap::new();
    for (nr, row_conds) in conds {
        let chain = if row_conds.contains(&None) {
            Vec::new()
        } else {
            row_conds
                .into_iter()
                .flatten()
                .map(|cond| seccomp_rule(filter, cond))
                .collect::<Result<_, _>>()?
        };
        chains.insert(nr, chain);
    }
    Ok(chains)
}

/// One argument test as a seccompiler rule. `Dword` reads the low 32 bits only; see
/// [`Cond`] for why that is the right width for every argument inspected here.
fn seccomp_rule(filter: &'static str, cond: Cond) -> Result<SeccompRule, SeccompError> {
    let op = match cond.op {
        Op::Eq => SeccompCmpOp::Eq,
        Op::Ne => SeccompCmpOp::Ne,
        Op::HasBits => SeccompCmpOp::MaskedEq(u64::from(cond.value)),
    };
    let value = u64::from(cond.value);
    let build = |cause| SeccompError::BuildFilter { filter, cause };
    let condition =
        SeccompCondition::new(cond.arg, SeccompCmpArgLen::Dword, op, value).map_err(build)?;
    SeccompRule::new(vec![condition]).map_err(build)
}

fn compile(
    arch: Arch,
    filter: &'static str,
    chains: BTreeMap<i64, Vec<SeccompRule>>,
    errno: Errno,
) -> Result<BpfProgram, SeccompError> {
    let build = |cause| SeccompError::BuildFilter { filter, cause };
    let matched = SeccompAction::Errno(errno.value());
    let seccomp_filter =
        SeccompFilter::new(chains, SeccompAction::Allow, matched, arch.target()).map_err(build)?;
    BpfProgram::try_from(seccomp_filter).map_err(build)
}
