//! Checks on granted paths.
//!
//! - No NUL byte: the kernel would cut the path short, granting something else.
//! - No `..` component: a grant must name its target directly, so what a reviewer reads
//!   is what is granted, and a path built from a request cannot climb out of its base.
//! - It must exist: a missing grant is an error, never a silent skip, or a typo would
//!   quietly change what a run may touch.
//! - It is stored canonical (symlinks resolved), so every later check and every layer
//!   sees the real target: a link named `work` pointing at `/usr` is refused as `/usr`.
//! - A read-write grant must be a directory, and never a system or shared directory or a
//!   user's home: when cordon runs as root, the run's uid takes ownership of a read-write
//!   tree, and ownership of `/etc` or of a home directory is ownership of the host. The
//!   host's logs, mail, spools and caches below `/var`, and cordon's own tenant registry,
//!   are refused for the same reason.
//! - No symbolic link on a read-write path may belong to anyone but root or the caller: a
//!   run can plant a link in its own folder, and a later grant through it would hand the
//!   link's target (another tenant's folder, a host tree) to a run uid.

use crate::error::{PathProblem, PolicyError, RwRefusal};
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Directories that are never granted read-write themselves.
const RW_REFUSED: &[&str] = &[
    "/",
    "/usr",
    "/etc",
    "/bin",
    "/sbin",
    "/boot",
    "/dev",
    "/proc",
    "/sys",
    "/run",
    "/var",
    "/home",
    "/root",
    "/tmp",
    "/var/tmp",
    "/opt",
    "/srv",
    "/mnt",
    "/media",
    "/var/lib",
    "/var/lib/cordon",
];

/// Directories nothing beneath which is granted read-write (plus every top-level `/lib*`):
/// they hold the system itself, devices and kernel interfaces.
const RW_REFUSED_BENEATH: &[&str] = &[
    "/usr", "/etc", "/bin", "/sbin", "/boot", "/dev", "/proc", "/sys", "/run",
];

/// Host data trees nothing beneath which is granted read-write: logs, mail, spools, caches
/// and backups of the host's services. (`/var/lib` itself is refused as a whole, but its
/// subdirectories are where services, cordon's runner among them, keep run folders.)
const RW_REFUSED_HOST_DATA: &[&str] = &[
    "/var/log",
    "/var/mail",
    "/var/spool",
    "/var/cache",
    "/var/backups",
    "/var/lib/cordon/tenant-uids",
];

/// Homes in the passwd database that belong to nobody.
const NOT_HOMES: &[&str] = &["/", "/nonexistent"];

/// What a grant allows, which decides the checks it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    ReadOnly,
    ReadWrite,
}

/// Checks one granted path and returns it canonical. Relative paths resolve against
/// `base`; `flag` names the source in errors.
pub(crate) fn resolve(
    flag: &str,
    raw: &Path,
    base: &Path,
    access: Access,
    homes: &[(String, PathBuf)],
) -> Result<PathBuf, PolicyError> {
    let fail = |path: &Path, problem| PolicyError::InvalidPath {
        flag: flag.into(),
        path: path.into(),
        problem,
    };
    check_shape(raw).map_err(|problem| fail(raw, problem))?;
    let joined = base.join(raw);
    if access == Access::ReadWrite {
        if let Some((link, owner)) = untrusted_symlink(&joined) {
            return Err(PolicyError::RwRefused {
                flag: flag.into(),
                path: joined,
                reason: RwRefusal::UntrustedSymlink { link, owner },
            });
        }
    }
    let canonical = joined.canonicalize().map_err(|e| match e.kind() {
        ErrorKind::NotFound => fail(&joined, PathProblem::Missing),
        _ => fail(&joined, PathProblem::Unresolvable(e.to_string())),
    })?;
    if access == Access::ReadWrite {
        if !canonical.is_dir() {
            return Err(fail(&canonical, PathProblem::NotDirectory));
        }
        if let Some(reason) = rw_refusal(&canonical, homes) {
            return Err(PolicyError::RwRefused {
                flag: flag.into(),
                path: canonical,
                reason,
            });
        }
    }
    Ok(canonical)
}

/// The checks that need no file system: empty, NUL, `..`.
fn check_shape(raw: &Path) -> Result<(), PathProblem> {
    if raw.as_os_str().is_empty() {
        Err(PathProblem::Empty)
    } else if raw.as_os_str().as_bytes().contains(&0) {
        Err(PathProblem::Nul)
    } else if raw.components().any(|c| c == Component::ParentDir) {
        Err(PathProblem::ParentDir)
    } else {
        Ok(())
    }
}

/// Why `path` (canonical) may not be granted read-write, if it may not.
pub(crate) fn rw_refusal(path: &Path, homes: &[(String, PathBuf)]) -> Option<RwRefusal> {
    if is_lib(path) || RW_REFUSED.iter().any(|r| path == Path::new(r)) {
        return Some(RwRefusal::Protected);
    }
    let top = top_level(path);
    if let Some(top) = top.filter(|t| {
        is_lib(t)
            || RW_REFUSED_BENEATH
                .iter()
                .any(|r| t.as_path() == Path::new(r))
    }) {
        return Some(RwRefusal::InsideSystem(top));
    }
    if let Some(data) = RW_REFUSED_HOST_DATA.iter().find(|d| path.starts_with(d)) {
        return Some(RwRefusal::InsideHostData(PathBuf::from(data)));
    }
    home_refusal(path, homes)
}

/// The first symbolic link on `path` (any component, the last included) that belongs to
/// neither root nor the caller, with its owner. A read-write grant is handed to the run's
/// uid when cordon is root, so a link that a run planted (owned by a run uid) must not be
/// able to aim a later grant at another tenant's folder or a host tree.
fn untrusted_symlink(path: &Path) -> Option<(PathBuf, u32)> {
    use std::os::unix::fs::MetadataExt;
    // `/proc/self` belongs to the caller's effective uid; without procfs only root counts.
    let caller = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(0);
    let mut prefix = PathBuf::new();
    for component in path.components() {
        prefix.push(component);
        let Ok(meta) = std::fs::symlink_metadata(&prefix) else {
            return None;
        };
        if meta.file_type().is_symlink() && meta.uid() != 0 && meta.uid() != caller {
            return Some((prefix, meta.uid()));
        }
    }
    None
}

/// `/usr` for `/usr/local/bin`; `None` for `/`.
fn top_level(path: &Path) -> Option<PathBuf> {
    match path.components().nth(1) {
        Some(Component::Normal(name)) => Some(Path::new("/").join(name)),
        _ => None,
    }
}

/// Whether a top-level directory is one of the `/lib*` family (lib, lib32, lib64, ...).
fn is_lib(top: &Path) -> bool {
    top.parent() == Some(Path::new("/"))
        && top
            .file_name()
            .is_some_and(|n| n.as_bytes().starts_with(b"lib"))
}

fn home_refusal(path: &Path, homes: &[(String, PathBuf)]) -> Option<RwRefusal> {
    if let Some((user, _)) = homes.iter().find(|(_, home)| home == path) {
        return Some(RwRefusal::UserHome(user.clone()));
    }
    let (user, _) = homes.iter().find(|(_, home)| home.starts_with(path))?;
    Some(RwRefusal::ContainsHome(user.clone()))
}

/// Every user's home directory on this host, as written in `/etc/passwd` and, where it
/// exists, canonical. A host without the file has no homes to protect.
///
/// Read once per process: a long-lived caller (the runner builds a policy per submitted
/// run) would otherwise walk every home directory on each build. A user added while it
/// runs is protected from its next start on.
pub(crate) fn host_homes() -> Vec<(String, PathBuf)> {
    static HOMES: std::sync::OnceLock<Vec<(String, PathBuf)>> = std::sync::OnceLock::new();
    HOMES.get_or_init(read_host_homes).clone()
}

fn read_host_homes() -> Vec<(String, PathBuf)> {
    let text = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let mut homes = homes_in_passwd(&text);
    let canonical: Vec<_> = homes
        .iter()
        .filter_map(|(user, home)| Some((user.clone(), home.canonicalize().ok()?)))
        .collect();
    homes.extend(canonical);
    homes
}

/// `(user, home)` pairs of a passwd file, skipping homes that belong to nobody.
pub(crate) fn homes_in_passwd(text: &str) -> Vec<(String, PathBuf)> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            let (user, home) = (fields.first()?, fields.get(5)?);
            let usable = home.starts_with('/') && !NOT_HOMES.contains(home);
            usable.then(|| (user.to_string(), PathBuf::from(home)))
        })
        .collect()
}
