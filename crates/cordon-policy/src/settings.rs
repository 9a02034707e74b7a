//! Checks on single settings: environment entries, tenant names and ids.
//!
//! - Environment names must match `[A-Za-z_][A-Za-z0-9_]*`: anything else (`=`, spaces,
//!   NUL) is either unrepresentable in `environ` or read differently by different
//!   programs. Values must not contain NUL, which would cut them short.
//! - Tenant names must match `[a-z0-9][a-z0-9_-]{0,62}`: they become parts of uids,
//!   cgroup names and directory names, so they must be safe in all of them.
//! - Ids must lie in 1..=4294967294: 0 is root, and 4294967295 is `(uid_t)-1`, which
//!   `setresuid` reads as "leave unchanged", so a run would keep cordon's own uid.

use crate::error::{EnvProblem, IdentityProblem, PolicyError};

/// Largest usable uid or gid.
const MAX_ID: i64 = 4_294_967_294;

/// Parses `NAME=VALUE` (a fixed value) or `NAME` (pass the caller's value).
pub(crate) fn env_entry(flag: &str, entry: &str) -> Result<(String, Option<String>), PolicyError> {
    let fail = |problem| PolicyError::InvalidEnv {
        flag: flag.into(),
        entry: entry.into(),
        problem,
    };
    let (name, value) = match entry.split_once('=') {
        Some((name, value)) => (name, Some(value)),
        None => (entry, None),
    };
    if !is_env_name(name) {
        return Err(fail(EnvProblem::BadName));
    }
    if value.is_some_and(|v| v.contains('\0')) {
        return Err(fail(EnvProblem::Nul));
    }
    Ok((name.into(), value.map(String::from)))
}

fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Appends `entry`, replacing an earlier entry of the same name (the last one wins).
pub(crate) fn push_env(env: &mut Vec<(String, Option<String>)>, entry: (String, Option<String>)) {
    env.retain(|(name, _)| *name != entry.0);
    env.push(entry);
}

/// Checks a tenant name.
pub(crate) fn tenant(flag: &str, value: &str) -> Result<String, PolicyError> {
    let mut bytes = value.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let rest_ok =
        bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if first_ok && rest_ok && value.len() <= 63 {
        Ok(value.into())
    } else {
        Err(PolicyError::InvalidTenant {
            flag: flag.into(),
            value: value.into(),
        })
    }
}

/// Checks a uid or gid.
pub(crate) fn id(key: &str, value: i64) -> Result<u32, PolicyError> {
    let fail = |problem| PolicyError::InvalidIdentity {
        key: key.into(),
        problem,
    };
    match value {
        0 => Err(fail(IdentityProblem::Root)),
        1..=MAX_ID => u32::try_from(value).map_err(|_| fail(IdentityProblem::OutOfRange(value))),
        _ => Err(fail(IdentityProblem::OutOfRange(value))),
    }
}

/// Checks an inclusive `[first, last]` uid range.
pub(crate) fn id_range(key: &str, values: &[i64]) -> Result<(u32, u32), PolicyError> {
    let fail = |problem| PolicyError::InvalidIdentity {
        key: key.into(),
        problem,
    };
    let [first, last] = values else {
        return Err(fail(IdentityProblem::RangeShape));
    };
    let (first, last) = (id(key, *first)?, id(key, *last)?);
    if first > last {
        return Err(fail(IdentityProblem::EmptyRange(first, last)));
    }
    Ok((first, last))
}
