//! The run's root file system: a fresh tmpfs that holds only the granted paths.
//!
//! Inside a private mount namespace, cordon builds a new root and pivots into it, so
//! nothing that was not granted even has a name: no `/tmp`, no `/run` with a container
//! engine's or D-Bus's socket, no host `/dev/shm`. This is also the layer that keeps the
//! command from connecting to host unix sockets by path on kernels whose Landlock (below
//! ABI 9) does not check `connect()`.
//!
//! Each granted path is cloned as a detached recursive mount with `open_tree` *before* the
//! new root's tmpfs is mounted (so a grant below the scratch mount point stays reachable),
//! made read-only, nosuid and nodev with `mount_setattr(AT_RECURSIVE)`, then moved into
//! place with `move_mount`. `mount_setattr` is called through `libc::syscall` because
//! rustix does not wrap it (Linux 5.12+); its argument is a four-field plain struct.
//!
//! Layout inside: granted paths at their own absolute paths; `/proc` a private read-only
//! procfs when the run has its own pid namespace; `/dev` with `null`, `zero`, `random`,
//! `urandom`, a private `shm` tmpfs and the `fd`/`stdin`/`stdout`/`stderr` links; the root
//! itself read-only.

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::CWD;
use rustix::mount::{self, MountFlags, MountPropagationFlags, MoveMountFlags, OpenTreeFlags};
use std::fs;
use std::io;
use std::os::unix::fs::{symlink, DirBuilderExt};
use std::path::{Path, PathBuf};

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;
const MOUNT_ATTR_NOEXEC: u64 = 0x8;

/// Device nodes the run may use, and whether they are writable (Landlock decides access;
/// here they only have to exist).
pub const DEVICES: &[&str] = &["/dev/null", "/dev/zero", "/dev/random", "/dev/urandom"];

/// Scratch mount point for the new root; only this namespace sees the tmpfs on it.
const SCRATCH: &str = "/tmp";

#[derive(Debug, thiserror::Error)]
#[error("failed to {step} {path}: {source}")]
pub struct MountError {
    pub step: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

fn fail(step: &'static str, path: &Path) -> impl FnOnce(io::Error) -> MountError {
    let path = path.to_owned();
    move |source| MountError { step, path, source }
}

/// What goes into the new root.
#[derive(Debug, Clone, Default)]
pub struct RootPlan {
    pub ro: Vec<PathBuf>,
    pub rw: Vec<PathBuf>,
    /// Mount a private procfs (only with a pid namespace of our own).
    pub proc: bool,
    /// Size of the private `/dev/shm`, in bytes.
    pub shm_bytes: u64,
}

enum Source {
    Tree(OwnedFd, bool),
    Link(PathBuf),
}

struct Entry {
    path: PathBuf,
    source: Source,
}

/// Builds the new root and pivots into it. Runs in the pid namespace's init, which then
/// shares the result with the command it starts.
pub fn build_root(plan: &RootPlan) -> Result<(), MountError> {
    mount::mount_change(
        "/",
        MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
    )
    .map_err(|e| fail("make private", Path::new("/"))(e.into()))?;
    let entries = capture(plan)?;
    let base = Path::new(SCRATCH);
    mount::mount(
        "tmpfs",
        base,
        "tmpfs",
        MountFlags::NOSUID | MountFlags::NODEV,
        c"mode=0755,size=1m",
    )
    .map_err(|e| fail("mount the root tmpfs on", base)(e.into()))?;
    for entry in &entries {
        place(base, entry)?;
    }
    make_dev(base, plan)?;
    if plan.proc {
        let target = base.join("proc");
        mkdir(&target)?;
        let flags =
            MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC | MountFlags::RDONLY;
        mount::mount("proc", &target, "proc", flags, None)
            .map_err(|e| fail("mount procfs on", &target)(e.into()))?;
    }
    pivot(base)
}

/// Clones every granted path as a detached mount, parents before children.
fn capture(plan: &RootPlan) -> Result<Vec<Entry>, MountError> {
    let mut grants: Vec<(&PathBuf, u64)> = Vec::new();
    let ro = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    grants.extend(plan.ro.iter().map(|p| (p, ro)));
    grants.extend(
        plan.rw
            .iter()
            .map(|p| (p, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)),
    );
    grants.sort_by_key(|(p, _)| p.components().count());
    let mut entries = Vec::with_capacity(grants.len() + DEVICES.len());
    for (path, attrs) in grants {
        entries.push(clone_one(path, attrs)?);
    }
    for dev in DEVICES {
        let path = Path::new(dev);
        if path.exists() {
            entries.push(clone_one(path, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC)?);
        }
    }
    Ok(entries)
}

fn clone_one(path: &Path, attrs: u64) -> Result<Entry, MountError> {
    let meta = fs::symlink_metadata(path).map_err(fail("inspect", path))?;
    if meta.file_type().is_symlink() {
        let target = fs::read_link(path).map_err(fail("read the link", path))?;
        return Ok(Entry {
            path: path.to_owned(),
            source: Source::Link(target),
        });
    }
    let flags = OpenTreeFlags::OPEN_TREE_CLONE
        | OpenTreeFlags::OPEN_TREE_CLOEXEC
        | OpenTreeFlags::AT_RECURSIVE;
    let fd = mount::open_tree(CWD, path, flags)
        .map_err(|e| fail("clone the mount of", path)(e.into()))?;
    set_attrs(&fd, attrs).map_err(fail("restrict the mount of", path))?;
    Ok(Entry {
        path: path.to_owned(),
        source: Source::Tree(fd, meta.is_dir()),
    })
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

fn set_attrs(fd: &OwnedFd, attrs: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let attr = MountAttr {
        attr_set: attrs,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let flags = libc::AT_EMPTY_PATH | libc::AT_RECURSIVE;
    // SAFETY: `fd` is an open mount descriptor owned by the caller; the path is a static
    // empty C string; `attr` is a live, correctly sized `struct mount_attr`.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn inside(base: &Path, path: &Path) -> PathBuf {
    base.join(path.strip_prefix("/").unwrap_or(path))
}

fn place(base: &Path, entry: &Entry) -> Result<(), MountError> {
    let target = inside(base, &entry.path);
    if let Some(parent) = target.parent() {
        mkdir(parent)?;
    }
    match &entry.source {
        Source::Link(to) => {
            if fs::symlink_metadata(&target).is_err() {
                symlink(to, &target).map_err(fail("create the link", &target))?;
            }
            Ok(())
        }
        Source::Tree(fd, is_dir) => {
            if fs::symlink_metadata(&target).is_err() {
                if *is_dir {
                    mkdir(&target)?;
                } else {
                    fs::File::create(&target).map_err(fail("create the mount point", &target))?;
                }
            }
            mount::move_mount(
                fd.as_fd(),
                c"",
                CWD,
                &target,
                MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
            )
            .map_err(|e| fail("attach the mount at", &target)(e.into()))
        }
    }
}

fn mkdir(path: &Path) -> Result<(), MountError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(path)
        .map_err(fail("create the directory", path))
}

fn make_dev(base: &Path, plan: &RootPlan) -> Result<(), MountError> {
    let dev = base.join("dev");
    mkdir(&dev)?;
    let shm = dev.join("shm");
    mkdir(&shm)?;
    let opts = std::ffi::CString::new(format!("mode=1777,size={}", plan.shm_bytes.max(1 << 20)))
        .unwrap_or_default();
    mount::mount(
        "tmpfs",
        &shm,
        "tmpfs",
        MountFlags::NOSUID | MountFlags::NODEV,
        opts.as_c_str(),
    )
    .map_err(|e| fail("mount the private tmpfs on", &shm)(e.into()))?;
    if plan.proc {
        let links = [
            ("fd", "/proc/self/fd"),
            ("stdin", "/proc/self/fd/0"),
            ("stdout", "/proc/self/fd/1"),
            ("stderr", "/proc/self/fd/2"),
        ];
        for (name, to) in links {
            let at = dev.join(name);
            symlink(to, &at).map_err(fail("create the link", &at))?;
        }
    }
    Ok(())
}

/// Makes `base` the root, detaches the old root and makes the new one read-only.
fn pivot(base: &Path) -> Result<(), MountError> {
    std::env::set_current_dir(base).map_err(fail("enter", base))?;
    rustix::process::pivot_root(".", ".").map_err(|e| fail("pivot into", base)(e.into()))?;
    let root = Path::new("/");
    mount::unmount(".", mount::UnmountFlags::DETACH)
        .map_err(|e| fail("detach the old root from", root)(e.into()))?;
    std::env::set_current_dir(root).map_err(fail("enter", root))?;
    let flags = MountFlags::BIND | MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV;
    mount::mount_remount(root, flags, c"")
        .map_err(|e| fail("make the new root read-only:", root)(e.into()))
}
