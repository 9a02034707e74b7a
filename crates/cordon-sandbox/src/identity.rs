//! Identity: who the command runs as.
//!
//! When cordon runs as root, the command must not: it gets an unprivileged uid and gid, no
//! supplementary groups and empty capability sets (effective, permitted, inheritable,
//! ambient and bounding). With a tenant, the uid is derived from the tenant's name and kept
//! in a small registry file so that the same tenant always gets the same uid and two
//! tenants never share one. When cordon is not root nothing changes, except that any
//! capability a fresh user namespace granted is dropped as well. Before `execve` the
//! result is verified from the kernel's own view, and the run is refused if uid 0 or any
//! capability remains.

use crate::report::LayerReport;
use cordon_policy::Policy;
use rustix::fd::OwnedFd;
use rustix::process::{Gid, Uid};
use rustix::thread::{self, CapabilitySet, CapabilitySets};
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Default location of the tenant uid registry.
pub const DEFAULT_REGISTRY: &str = "/var/lib/cordon/tenant-uids";

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("failed to use the tenant uid registry {path}: {source}")]
    Registry { path: PathBuf, source: io::Error },
    #[error("no free uid left for tenant {tenant} in {first}..={last}")]
    RangeFull {
        tenant: String,
        first: u32,
        last: u32,
    },
    #[error("failed to hand {path} to uid {uid}: {source}")]
    Chown {
        path: PathBuf,
        uid: u32,
        source: io::Error,
    },
    #[error("failed to {step}: {source}")]
    Drop {
        step: &'static str,
        source: io::Error,
    },
    #[error("refusing to start the command: {0}")]
    Residual(String),
    #[error(
        "refusing to hand over {path}: it has {links} hard links and belongs to uid {owner}, \
         so its other names may lie outside the tree (a host file linked in); remove it or \
         copy it in"
    )]
    ForeignHardLink {
        path: PathBuf,
        links: u64,
        owner: u32,
    },
    #[error(
        "refusing to hand over {path} to uid {uid}: it belongs to uid {owner}, another \
         tenant's run uid"
    )]
    OtherTenant { path: PathBuf, uid: u32, owner: u32 },
}

/// The uid and gid a run of this policy uses when cordon is root.
pub fn run_ids(policy: &Policy, registry: &Path) -> Result<(u32, u32), IdentityError> {
    match &policy.tenant {
        None => Ok((policy.identity.uid, policy.identity.gid)),
        Some(tenant) => {
            let uid = tenant_uid(tenant, policy, registry)?;
            Ok((uid, uid))
        }
    }
}

/// Looks a tenant up in the registry, assigning the first free uid from its hash onwards.
fn tenant_uid(tenant: &str, policy: &Policy, registry: &Path) -> Result<u32, IdentityError> {
    let err = |source| IdentityError::Registry {
        path: registry.to_owned(),
        source,
    };
    if let Some(dir) = registry.parent() {
        fs::create_dir_all(dir).map_err(err)?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(registry)
        .map_err(err)?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| err(e.into()))?;
    let mut text = String::new();
    file.rewind().map_err(err)?;
    file.read_to_string(&mut text).map_err(err)?;
    let taken: Vec<(&str, u32)> = text
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter_map(|(n, u)| Some((n, u.parse().ok()?)))
        .collect();
    if let Some((_, uid)) = taken.iter().find(|(n, _)| *n == tenant) {
        return Ok(*uid);
    }
    let uid = free_uid(tenant, &taken, policy)?;
    writeln!(file, "{tenant} {uid}").map_err(err)?;
    file.sync_all().map_err(err)?;
    Ok(uid)
}

fn free_uid(tenant: &str, taken: &[(&str, u32)], policy: &Policy) -> Result<u32, IdentityError> {
    let (first, last) = (
        policy.identity.tenant_uid_first,
        policy.identity.tenant_uid_last,
    );
    let span = u64::from(last - first) + 1;
    let start = fnv1a(tenant.as_bytes()) % span;
    (0..span)
        .map(|i| first + u32::try_from((start + i) % span).unwrap_or(0))
        .find(|uid| taken.iter().all(|(_, t)| t != uid))
        .ok_or_else(|| IdentityError::RangeFull {
            tenant: tenant.to_owned(),
            first,
            last,
        })
}

/// FNV-1a: stable across releases and platforms, unlike the standard library's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Hands a read-write tree to the run's uid so the command can write it after the drop.
///
/// The walk never follows a name twice: every entry is opened relative to its parent's
/// descriptor with `O_NOFOLLOW`, checked through that descriptor and changed through it, so
/// swapping a directory for a symbolic link mid-walk leads nowhere. Symbolic links are
/// changed themselves, never followed; other file systems mounted inside are not entered;
/// and a file with more than one hard link that the run does not already own refuses the
/// run, because its other names may be outside the tree (a host file linked in), and so
/// does an entry owned by another uid of the tenant range (`tenant_uids`): one tenant's
/// folder is never handed to another.
pub fn chown_tree(
    root: &Path,
    uid: u32,
    gid: u32,
    tenant_uids: std::ops::RangeInclusive<u32>,
) -> Result<(), IdentityError> {
    use rustix::fs::{open, Mode, OFlags};
    let err = |path: &Path, e: rustix::io::Errno| IdentityError::Chown {
        path: path.to_owned(),
        uid,
        source: e.into(),
    };
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let dir = open(root, flags, Mode::empty()).map_err(|e| err(root, e))?;
    let st = rustix::fs::fstat(&dir).map_err(|e| err(root, e))?;
    let to = Handover {
        uid,
        gid,
        dev: st.st_dev,
        tenant_uids,
    };
    to.check(root, &st)?;
    give(&dir, &st, uid, gid).map_err(|e| err(root, e))?;
    walk(&dir, root, &to)
}

/// Where a tree goes, and what it must not contain.
struct Handover {
    uid: u32,
    gid: u32,
    dev: u64,
    tenant_uids: std::ops::RangeInclusive<u32>,
}

impl Handover {
    /// Refuses entries that must not change hands.
    fn check(&self, path: &Path, st: &rustix::fs::Stat) -> Result<(), IdentityError> {
        use rustix::fs::FileType;
        let kind = FileType::from_raw_mode(st.st_mode);
        if st.st_uid != self.uid && self.tenant_uids.contains(&st.st_uid) {
            return Err(IdentityError::OtherTenant {
                path: path.to_owned(),
                uid: self.uid,
                owner: st.st_uid,
            });
        }
        if kind != FileType::Directory && st.st_nlink > 1 && st.st_uid != self.uid {
            return Err(IdentityError::ForeignHardLink {
                path: path.to_owned(),
                links: st.st_nlink,
                owner: st.st_uid,
            });
        }
        Ok(())
    }
}

fn walk(dir: &OwnedFd, path: &Path, to: &Handover) -> Result<(), IdentityError> {
    let (uid, gid) = (to.uid, to.gid);
    use rustix::fs::{openat, Dir, FileType, Mode, OFlags};
    let err = |path: &Path, e: rustix::io::Errno| IdentityError::Chown {
        path: path.to_owned(),
        uid,
        source: e.into(),
    };
    let entries = Dir::read_from(dir).map_err(|e| err(path, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| err(path, e))?;
        let name = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        let child_path = path.join(std::ffi::OsStr::from_bytes(name.to_bytes()));
        let o_path = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = match openat(dir, name, o_path, Mode::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => continue,
            Err(e) => return Err(err(&child_path, e)),
        };
        let st = rustix::fs::fstat(&fd).map_err(|e| err(&child_path, e))?;
        if st.st_dev != to.dev {
            tracing::warn!(path = %child_path.display(), "not handing over another file system mounted inside a --rw tree");
            continue;
        }
        let kind = FileType::from_raw_mode(st.st_mode);
        to.check(&child_path, &st)?;
        give(&fd, &st, uid, gid).map_err(|e| err(&child_path, e))?;
        if kind == FileType::Directory {
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            match openat(dir, name, flags, Mode::empty()) {
                Ok(sub) if rustix::fs::fstat(&sub).is_ok_and(|s| s.st_ino == st.st_ino) => {
                    walk(&sub, &child_path, to)?
                }
                Ok(_) | Err(rustix::io::Errno::NOENT) | Err(rustix::io::Errno::LOOP) => {}
                Err(e) => return Err(err(&child_path, e)),
            }
        }
    }
    Ok(())
}

/// Changes the owner of exactly the inode behind `fd` (an `O_PATH` or directory
/// descriptor), unless it already belongs to the run.
fn give(fd: &OwnedFd, st: &rustix::fs::Stat, uid: u32, gid: u32) -> Result<(), rustix::io::Errno> {
    if st.st_uid == uid && st.st_gid == gid {
        return Ok(());
    }
    rustix::fs::chownat(
        fd,
        c"",
        Some(Uid::from_raw(uid)),
        Some(Gid::from_raw(gid)),
        rustix::fs::AtFlags::EMPTY_PATH | rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
}

/// Switches to `uid`/`gid` with no supplementary groups and empties every capability set.
pub fn drop_to(uid: u32, gid: u32) -> Result<(), IdentityError> {
    let step = |step| {
        move |e: rustix::io::Errno| IdentityError::Drop {
            step,
            source: e.into(),
        }
    };
    clear_bounding_set()?;
    thread::set_thread_groups(&[]).map_err(step("drop supplementary groups"))?;
    // rustix changes the calling thread's ids; the helper is single-threaded, so this is
    // the whole process.
    let g = Gid::from_raw(gid);
    thread::set_thread_res_gid(g, g, g).map_err(step("set the gid"))?;
    let u = Uid::from_raw(uid);
    thread::set_thread_res_uid(u, u, u).map_err(step("set the uid"))?;
    clear_capabilities()
}

/// Empties every capability set without changing ids (unprivileged callers, whose new
/// user namespace granted a full set inside it).
pub fn clear_capabilities() -> Result<(), IdentityError> {
    let step = |step| {
        move |e: rustix::io::Errno| IdentityError::Drop {
            step,
            source: e.into(),
        }
    };
    clear_bounding_set()?;
    thread::clear_ambient_capability_set().map_err(step("clear the ambient capabilities"))?;
    let empty = CapabilitySets {
        effective: CapabilitySet::empty(),
        permitted: CapabilitySet::empty(),
        inheritable: CapabilitySet::empty(),
    };
    thread::set_capabilities(None, empty).map_err(step("clear the capability sets"))
}

fn clear_bounding_set() -> Result<(), IdentityError> {
    let last = fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(40)
        .min(63);
    for cap in 0..=last {
        let set = CapabilitySet::from_bits_retain(1 << cap);
        match thread::remove_capability_from_bounding_set(set) {
            // EINVAL: a capability this kernel does not know; EPERM: already unable to
            // drop (no CAP_SETPCAP), which the final check turns into a refusal if the
            // bounding set still holds anything.
            Ok(()) | Err(rustix::io::Errno::INVAL) | Err(rustix::io::Errno::PERM) => {}
            Err(e) => {
                return Err(IdentityError::Drop {
                    step: "clear the bounding capability set",
                    source: e.into(),
                })
            }
        }
    }
    Ok(())
}

/// This process's credentials, as the kernel reports them through syscalls (not through
/// `/proc`, which Landlock grants only when the run has a private procfs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Real, effective and saved uid.
    pub uids: [u32; 3],
    /// Real, effective and saved gid.
    pub gids: [u32; 3],
    pub groups: Vec<u32>,
    /// Inheritable, permitted, effective, bounding and ambient capability sets.
    pub caps: [(&'static str, u64); 5],
}

impl Credentials {
    /// Reads the calling thread's credentials back from the kernel.
    pub fn current() -> Result<Credentials, IdentityError> {
        let fail = |what: &str, e: io::Error| {
            IdentityError::Residual(format!("cannot read the {what}: {e}"))
        };
        let (mut r, mut e, mut s) = (0, 0, 0);
        // SAFETY: the three pointers are valid, writable and live across the call.
        if unsafe { libc::getresuid(&mut r, &mut e, &mut s) } != 0 {
            return Err(fail("uids", io::Error::last_os_error()));
        }
        let uids = [r, e, s];
        // SAFETY: as above.
        if unsafe { libc::getresgid(&mut r, &mut e, &mut s) } != 0 {
            return Err(fail("gids", io::Error::last_os_error()));
        }
        let groups = rustix::process::getgroups()
            .map_err(|e| fail("supplementary groups", e.into()))?
            .into_iter()
            .map(Gid::as_raw)
            .collect();
        let sets = thread::capabilities(None).map_err(|e| fail("capabilities", e.into()))?;
        let (bounding, ambient) = per_capability_sets();
        Ok(Credentials {
            uids,
            gids: [r, e, s],
            groups,
            caps: [
                ("CapInh", sets.inheritable.bits()),
                ("CapPrm", sets.permitted.bits()),
                ("CapEff", sets.effective.bits()),
                ("CapBnd", bounding),
                ("CapAmb", ambient),
            ],
        })
    }
}

/// The bounding and ambient sets, which the kernel answers one capability at a time. A
/// capability the kernel does not know (EINVAL) ends the walk; any other failure counts
/// as held, so an unreadable set is refused rather than assumed empty.
fn per_capability_sets() -> (u64, u64) {
    let (mut bounding, mut ambient) = (0u64, 0u64);
    for cap in 0..64 {
        let set = CapabilitySet::from_bits_retain(1 << cap);
        match thread::capability_is_in_bounding_set(set) {
            Err(rustix::io::Errno::INVAL) => break,
            Ok(false) => {}
            Ok(true) | Err(_) => bounding |= 1 << cap,
        }
        if !matches!(thread::capability_is_in_ambient_set(set), Ok(false)) {
            ambient |= 1 << cap;
        }
    }
    (bounding, ambient)
}

/// Reads this process's credentials back from the kernel and refuses uid 0 or any
/// remaining capability. Returns the report line on success.
///
/// `could_drop_bounding` says whether this process was able to empty its bounding set
/// (root, or inside a user namespace of its own). An unprivileged process without one
/// cannot (it lacks CAP_SETPCAP) and every process starts with a full bounding set; there
/// the set is accepted as long as `no_new_privs` is on, which keeps any exec from gaining
/// a capability in it.
pub fn verify(
    expected_uid: Option<u32>,
    could_drop_bounding: bool,
) -> Result<LayerReport, IdentityError> {
    let mut creds = Credentials::current()?;
    let inert_bounding = !could_drop_bounding && thread::no_new_privs().unwrap_or(false);
    if inert_bounding {
        creds.caps[3].1 = 0;
    }
    let mut report = check(&creds, expected_uid)?;
    if inert_bounding {
        report.detail.push_str(
            " (the bounding set stays full without privilege to drop it; no_new_privs keeps \
             it from granting anything)",
        );
    }
    Ok(report)
}

/// The pure part of [`verify`].
pub fn check(creds: &Credentials, expected_uid: Option<u32>) -> Result<LayerReport, IdentityError> {
    let uids = creds.uids;
    if uids.contains(&0) {
        return Err(IdentityError::Residual(format!("uid 0 remains ({uids:?})")));
    }
    if let Some(want) = expected_uid {
        if uids.iter().any(|u| *u != want) {
            return Err(IdentityError::Residual(format!(
                "uids {uids:?} differ from {want}"
            )));
        }
    }
    if let Some((set, value)) = creds.caps.iter().find(|(_, v)| *v != 0) {
        return Err(IdentityError::Residual(format!("{set} is {value:#x}")));
    }
    let groups: Vec<String> = creds.groups.iter().map(u32::to_string).collect();
    Ok(LayerReport::enforced(
        "identity",
        format!(
            "uid {} gid {}, supplementary groups [{}], every capability set empty",
            uids[0],
            creds.gids[0],
            groups.join(" ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean() -> Credentials {
        Credentials {
            uids: [1000; 3],
            gids: [1000; 3],
            groups: vec![],
            caps: [
                ("CapInh", 0),
                ("CapPrm", 0),
                ("CapEff", 0),
                ("CapBnd", 0),
                ("CapAmb", 0),
            ],
        }
    }

    #[test]
    fn clean_credentials_pass() {
        assert!(check(&clean(), Some(1000)).is_ok());
    }

    #[test]
    fn root_or_capabilities_are_refused() {
        let mut root = clean();
        root.uids[1] = 0;
        assert!(check(&root, None).is_err());
        let mut bnd = clean();
        bnd.caps[3].1 = 0x1ff_ffff_ffff;
        assert!(check(&bnd, Some(1000)).is_err());
        let mut other = clean();
        other.uids[2] = 1001;
        assert!(check(&other, Some(1000)).is_err());
    }

    /// The test process is root with a full bounding set: the syscall reading sees it.
    #[test]
    fn current_credentials_of_root_are_refused() {
        let creds = Credentials::current().unwrap();
        if creds.uids.contains(&0) {
            assert!(check(&creds, None).is_err());
            assert_ne!(creds.caps[3].1, 0, "root's bounding set reads as empty");
        }
    }

    #[test]
    fn tenant_uids_are_stable_and_distinct() {
        let dir = tempfile::tempdir().unwrap();
        let reg = dir.path().join("uids");
        let mut policy: Policy = serde_json::from_value(serde_json::json!({
            "mode": "auto", "net": "deny", "system_ro": [], "ro": [], "rw": [], "env": [],
            "tenant": "alice",
            "identity": {"uid": 199999, "gid": 199999,
                         "tenant_uid_first": 200000, "tenant_uid_last": 200001},
            "limits": {"timeout": null, "cpu": null, "memory": null, "pids": null,
                       "file_size": null, "open_files": null}
        }))
        .unwrap();
        let a = run_ids(&policy, &reg).unwrap();
        assert_eq!(run_ids(&policy, &reg).unwrap(), a);
        policy.tenant = Some("bob".into());
        let b = run_ids(&policy, &reg).unwrap();
        assert_ne!(a, b);
        policy.tenant = Some("carol".into());
        assert!(matches!(
            run_ids(&policy, &reg),
            Err(IdentityError::RangeFull { .. })
        ));
    }
}
