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
//! With a disk budget, the read-write grants are not the host folders themselves but
//! subfolders of one private tmpfs of the budget's size (the *store*), filled from the
//! host folders before the command starts (see [`crate::tree`]); the store's descriptor
//! goes to the supervisor, which copies the content back when the run has ended.
//!
//! Layout inside: granted paths at their own absolute paths; `/proc` a private read-only
//! procfs when the run has its own pid namespace; `/dev` with `null`, `zero`, `random`,
//! `urandom`, a private `shm` tmpfs and the `fd`/`stdin`/`stdout`/`stderr` links; the root
//! itself read-only.

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::CWD;
use rustix::mount::{self, MountFlags, MountPropagationFlags, MoveMountFlags, OpenTreeFlags};
use std::ffi::CString;
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
    /// Keep the read-write grants on a store of this many bytes instead of the host's
    /// disk; files created in it are given to `owner` (root callers).
    pub disk: Option<DiskPlan>,
}

/// The disk budget of the read-write grants.
#[derive(Debug, Clone, Copy)]
pub struct DiskPlan {
    pub bytes: u64,
    pub owner: Option<(u32, u32)>,
}

/// Inodes of the store: enough for any real run (a Python venv holds about 5,000 files),
/// few enough that empty files cannot exhaust kernel memory.
const STORE_INODES: u64 = 262_144;

/// Name of read-write grant `index` inside the store.
pub fn store_entry(index: usize) -> CString {
    CString::new(index.to_string()).unwrap_or_default()
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
/// Returns the store's descriptor when the plan has a disk budget.
pub fn build_root(plan: &RootPlan) -> Result<Option<OwnedFd>, MountError> {
    mount::mount_change(
        "/",
        MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
    )
    .map_err(|e| fail("make private", Path::new("/"))(e.into()))?;
    let store = plan.disk.map(make_store).transpose()?;
    let mut entries = capture(plan, store.is_none())?;
    if let (Some(store), Some(disk)) = (&store, &plan.disk) {
        for (index, path) in plan.rw.iter().enumerate() {
            entries.push(fill_store(store, index, path, disk.owner)?);
        }
        entries.sort_by_key(|e| e.path.components().count());
    }
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
    pivot(base)?;
    Ok(store)
}

/// A detached tmpfs of the budget's size: nothing but this process's descriptors (and the
/// binds made from it) reach it.
fn make_store(disk: DiskPlan) -> Result<OwnedFd, MountError> {
    let at = Path::new("the disk budget's tmpfs");
    let err = |step| move |e: rustix::io::Errno| fail(step, at)(e.into());
    let fs = mount::fsopen("tmpfs", mount::FsOpenFlags::FSOPEN_CLOEXEC)
        .map_err(err("open a file system context for"))?;
    let size = disk.bytes.max(1 << 20).to_string();
    mount::fsconfig_set_string(&fs, "size", size.as_str()).map_err(err("size"))?;
    let inodes = STORE_INODES.to_string();
    mount::fsconfig_set_string(&fs, "nr_inodes", inodes.as_str()).map_err(err("bound"))?;
    mount::fsconfig_set_string(&fs, "mode", "0755").map_err(err("set the mode of"))?;
    mount::fsconfig_create(&fs).map_err(err("create"))?;
    let attrs = mount::MountAttrFlags::MOUNT_ATTR_NOSUID | mount::MountAttrFlags::MOUNT_ATTR_NODEV;
    mount::fsmount(&fs, mount::FsMountFlags::FSMOUNT_CLOEXEC, attrs).map_err(err("mount"))
}

/// Copies the host folder `path` into the store's entry `index` and clones that entry as
/// the mount to place at `path`.
fn fill_store(
    store: &OwnedFd,
    index: usize,
    path: &Path,
    owner: Option<(u32, u32)>,
) -> Result<Entry, MountError> {
    let name = store_entry(index);
    rustix::fs::mkdirat(store, name.as_c_str(), rustix::fs::Mode::RWXU)
        .map_err(|e| fail("create the store folder for", path)(e.into()))?;
    let flags = rustix::fs::OFlags::RDONLY
        | rustix::fs::OFlags::DIRECTORY
        | rustix::fs::OFlags::NOFOLLOW
        | rustix::fs::OFlags::CLOEXEC;
    let host = rustix::fs::open(path, flags, rustix::fs::Mode::empty())
        .map_err(|e| fail("open", path)(e.into()))?;
    let inner = crate::tree::open_dir(store.as_fd(), name.as_c_str())
        .map_err(|e| fail("open the store folder for", path)(e.into()))?;
    if let Some((uid, gid)) = owner {
        let (uid, gid) = (
            rustix::fs::Uid::from_raw(uid),
            rustix::fs::Gid::from_raw(gid),
        );
        rustix::fs::fchown(&inner, Some(uid), Some(gid))
            .map_err(|e| fail("hand over the store folder for", path)(e.into()))?;
    }
    let mode = rustix::fs::fstat(&host)
        .map(|s| s.st_mode & 0o777)
        .unwrap_or(0o700);
    let _ = rustix::fs::fchmod(&inner, rustix::fs::Mode::from_raw_mode(mode));
    let mirror = crate::tree::Mirror {
        owner,
        prune: false,
    };
    mirror
        .run(host.as_fd(), inner.as_fd(), path)
        .map_err(|e| MountError {
            step: "copy into the disk budget",
            path: e.path.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
    let flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
    let fd = mount::open_tree(store, name.as_c_str(), flags)
        .map_err(|e| fail("clone the store folder for", path)(e.into()))?;
    Ok(Entry {
        path: path.to_owned(),
        source: Source::Tree(fd, true),
    })
}

/// Clones every granted path as a detached mount, parents before children; the
/// read-write ones only when they stay on the host (`host_rw`).
fn capture(plan: &RootPlan, host_rw: bool) -> Result<Vec<Entry>, MountError> {
    let mut grants: Vec<(&PathBuf, u64)> = Vec::new();
    let ro = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    grants.extend(plan.ro.iter().map(|p| (p, ro)));
    if host_rw {
        grants.extend(
            plan.rw
                .iter()
                .map(|p| (p, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)),
        );
    }
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
    let parent_of = |t: &Path| t.parent().map_or(Ok(()), mkdir);
    match &entry.source {
        Source::Link(to) => {
            parent_of(&target)?;
            if fs::symlink_metadata(&target).is_err() {
                symlink(to, &target).map_err(fail("create the link", &target))?;
            }
            Ok(())
        }
        Source::Tree(fd, is_dir) => {
            if *is_dir {
                // Creates the parents too, and accepts a directory already there (a parent
                // grant placed before it may hold one).
                mkdir(&target)?;
            } else {
                parent_of(&target)?;
                if fs::symlink_metadata(&target).is_err() {
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
