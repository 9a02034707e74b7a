//! Building the one validated [`Policy`] from a policy file and flags.
//!
//! Every input is checked here and nowhere else, and the result is all-or-nothing: either
//! every setting is valid and consistent, or no policy exists. Flags add to the file:
//! lists are appended, scalars replace the file's value (the file's value is still
//! checked, so a broken file is never half-used). Where nothing is set, the defaults of
//! [`crate::defaults`] apply.

use crate::defaults::{system_roots, DEFAULT_IDENTITY};
use crate::error::{IdentityProblem, PolicyError};
use crate::fault::{At, Failed, Faults};
use crate::file::{PolicyFile, RawIdentity};
use crate::flags::Flags;
use crate::grants::{self, Resolver};
use crate::limits::limits;
use crate::model::{Identity, Mode, Net, Policy};
use crate::paths::{host_homes, Access};
use crate::settings;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use toml::Spanned;

/// Builds and validates a policy from an optional policy file (with the path it was read
/// from) and flags. Relative file paths resolve against the file's directory, relative
/// flag paths against `cwd`. The error is the first problem found; [`crate::check_file`]
/// lists them all.
pub fn build(
    file: Option<(PathBuf, PolicyFile)>,
    flags: Flags,
    cwd: &Path,
) -> Result<Policy, PolicyError> {
    let text = file
        .as_ref()
        .and_then(|(path, f)| Some((path.clone(), f.text.clone()?)));
    assemble(file, flags, cwd).map_err(|failed| failed.into_error(text.as_ref()))
}

/// [`build`], keeping every fault.
pub(crate) fn assemble(
    file: Option<(PathBuf, PolicyFile)>,
    flags: Flags,
    cwd: &Path,
) -> Result<Policy, Failed> {
    let (origin, raw) = file.unzip();
    let raw = raw.unwrap_or_default();
    let file_dir = origin
        .and_then(|p| cwd.join(p).parent().map(Path::to_path_buf))
        .unwrap_or_else(|| cwd.to_path_buf());
    let mut faults = Faults::default();
    let mode = choose(
        &mut faults,
        "mode",
        raw.mode.as_ref(),
        flags.mode,
        Mode::from_str,
    );
    let net = choose(
        &mut faults,
        "net",
        raw.net.as_ref(),
        flags.net,
        Net::from_str,
    );
    let tenant = tenant(&mut faults, raw.tenant.as_ref(), flags.tenant.as_deref());
    let resolver = Resolver {
        file_dir: &file_dir,
        cwd,
        homes: host_homes(),
    };
    let ro = resolver.list(&mut faults, Access::ReadOnly, &raw.ro, &flags.ro);
    let rw = resolver.list(&mut faults, Access::ReadWrite, &raw.rw, &flags.rw);
    grants::reject_ro_inside_rw(&mut faults, &ro, &rw);
    let env = env(&mut faults, &raw.env, &flags.env);
    let identity = identity(&mut faults, &raw.identity);
    let limits = limits(&mut faults, &raw.limits, &flags, mode == Mode::Strict);
    faults.finish(Policy {
        mode,
        net,
        system_ro: system_roots(),
        ro: grants::unique(ro),
        rw: grants::unique(rw),
        env,
        namespaces: raw.namespaces.as_ref().is_none_or(|v| *v.get_ref()),
        tenant,
        identity,
        limits,
    })
}

/// A flag's value, else the file's, else the default.
fn choose<T: Default>(
    faults: &mut Faults,
    key: &str,
    file: Option<&Spanned<String>>,
    flag: Option<T>,
    parse: fn(&str) -> Result<T, PolicyError>,
) -> T {
    let from_file = file.and_then(|v| faults.check(At::of(key, v), parse(v.get_ref())));
    flag.or(from_file).unwrap_or_default()
}

fn tenant(
    faults: &mut Faults,
    file: Option<&Spanned<String>>,
    flag: Option<&str>,
) -> Option<String> {
    let from_file = file
        .and_then(|v| faults.check(At::of("tenant", v), settings::tenant("tenant", v.get_ref())));
    let from_flag = flag.and_then(|v| faults.check(None, settings::tenant("--tenant", v)));
    from_flag.or(from_file)
}

/// The file's entries, then the flags'; a later entry of the same name replaces an
/// earlier one.
fn env(
    faults: &mut Faults,
    file: &[Spanned<String>],
    flags: &[String],
) -> Vec<(String, Option<String>)> {
    let mut env = Vec::new();
    for (i, raw) in file.iter().enumerate() {
        let key = format!("env[{i}]");
        let entry = settings::env_entry(&key, raw.get_ref());
        if let Some(entry) = faults.check(At::of(key, raw), entry) {
            settings::push_env(&mut env, entry);
        }
    }
    for raw in flags {
        if let Some(entry) = faults.check(None, settings::env_entry("--env", raw)) {
            settings::push_env(&mut env, entry);
        }
    }
    env
}

/// The `[identity]` table over [`DEFAULT_IDENTITY`]; the fixed uid must lie outside the
/// tenant range, or untenanted runs would share a uid with a tenant's runs.
fn identity(faults: &mut Faults, raw: &RawIdentity) -> Identity {
    let mut identity = DEFAULT_IDENTITY;
    let id = |faults: &mut Faults, key: &str, v: &Spanned<i64>| {
        faults.check(At::of(key, v), settings::id(key, *v.get_ref()))
    };
    if let Some(uid) = raw.uid.as_ref().and_then(|v| id(faults, "identity.uid", v)) {
        identity.uid = uid;
    }
    if let Some(gid) = raw.gid.as_ref().and_then(|v| id(faults, "identity.gid", v)) {
        identity.gid = gid;
    }
    if let Some(v) = &raw.tenant_uids {
        let key = "identity.tenant_uids";
        if let Some((first, last)) =
            faults.check(At::of(key, v), settings::id_range(key, v.get_ref()))
        {
            (identity.tenant_uid_first, identity.tenant_uid_last) = (first, last);
        }
    }
    if (identity.tenant_uid_first..=identity.tenant_uid_last).contains(&identity.uid) {
        let err = PolicyError::InvalidIdentity {
            key: "identity.uid".into(),
            problem: IdentityProblem::UidInTenantRange(identity.uid),
        };
        let at = match (&raw.uid, &raw.tenant_uids) {
            (Some(v), _) => At::of("identity.uid", v),
            (None, Some(v)) => At::of("identity.tenant_uids", v),
            (None, None) => None,
        };
        faults.push(err, at);
    }
    identity
}
