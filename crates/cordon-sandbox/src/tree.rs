//! Mirroring a folder tree between two directory descriptors, for the disk budget.
//!
//! With a disk budget (`limits.disk`), the run's read-write folders live on a private,
//! size-limited tmpfs: their content is copied in before the command starts and copied
//! back when the run has ended, so the kernel itself bounds what the run can store, in
//! bytes and in inodes, whatever mix of files and `fallocate` it uses.
//!
//! Both copies treat the source as hostile (a previous run wrote it). Every entry is
//! opened relative to its parent's descriptor without following symbolic links; links are
//! copied as links, never followed; only directories, regular files and links are copied
//! (sockets, FIFOs and devices are not); setuid, setgid and sticky bits are dropped; and a
//! destination entry is removed and created anew rather than written through, so a
//! hard link or a link in the destination leads nowhere. Copying back runs after every
//! process of the run is gone, so nothing races the walk.

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{self, AtFlags, Dir, FileType, Mode, OFlags};
use rustix::io::Errno;
use std::collections::HashSet;
use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};

/// What a mirror copied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Copied {
    pub files: u64,
    pub bytes: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("failed to {step} {path}: {source}")]
pub struct TreeError {
    pub step: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// How to mirror.
#[derive(Debug, Clone, Copy)]
pub struct Mirror {
    /// Owner given to every created entry (root callers hand the tree to the run's uid).
    pub owner: Option<(u32, u32)>,
    /// Remove destination entries the source lacks (directories, files and links only).
    pub prune: bool,
}

impl Mirror {
    /// Makes the directory `dst` hold what `src` holds; `path` names `dst` in errors.
    pub fn run(
        &self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        path: &Path,
    ) -> Result<Copied, TreeError> {
        let mut copied = Copied::default();
        self.dir(src, dst, path, &mut copied)?;
        Ok(copied)
    }

    fn dir(
        &self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        path: &Path,
        n: &mut Copied,
    ) -> Result<(), TreeError> {
        let names = list(src, path)?;
        if self.prune {
            for name in list(dst, path)?.difference(&names) {
                remove_entry(dst, name, &path.join(name.to_string_lossy().as_ref()))?;
            }
        }
        for name in &names {
            let child = path.join(name.to_string_lossy().as_ref());
            self.entry(src, dst, name, &child, n)?;
        }
        Ok(())
    }

    fn entry(
        &self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        name: &CStr,
        path: &Path,
        n: &mut Copied,
    ) -> Result<(), TreeError> {
        let st = fs::statat(src, name, AtFlags::SYMLINK_NOFOLLOW).map_err(at("inspect", path))?;
        let mode = Mode::from_raw_mode(st.st_mode & 0o777);
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => {
                let theirs = open_dir(src, name).map_err(at("open", path))?;
                let ours = self.make_dir(dst, name, path)?;
                self.dir(theirs.as_fd(), ours.as_fd(), path, n)?;
                fs::fchmod(&ours, mode).map_err(at("set the mode of", path))
            }
            FileType::RegularFile => self.file(src, dst, name, path, mode, n),
            FileType::Symlink => self.link(src, dst, name, path),
            _ => Ok(()),
        }
    }

    /// An existing directory is kept (its content is mirrored); anything else goes.
    fn make_dir(
        &self,
        dst: BorrowedFd<'_>,
        name: &CStr,
        path: &Path,
    ) -> Result<OwnedFd, TreeError> {
        match fs::statat(dst, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {}
            Ok(_) => {
                remove_entry(dst, name, path)?;
                fs::mkdirat(dst, name, Mode::RWXU).map_err(at("create", path))?;
            }
            Err(_) => fs::mkdirat(dst, name, Mode::RWXU).map_err(at("create", path))?,
        }
        let fd = open_dir(dst, name).map_err(at("open", path))?;
        self.own(&fd, path)?;
        Ok(fd)
    }

    fn file(
        &self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        name: &CStr,
        path: &Path,
        mode: Mode,
        n: &mut Copied,
    ) -> Result<(), TreeError> {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
        let from = fs::openat(src, name, flags, Mode::empty()).map_err(at("open", path))?;
        remove_if_present(dst, name, path)?;
        let create =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let to =
            fs::openat(dst, name, create, Mode::RUSR | Mode::WUSR).map_err(at("create", path))?;
        self.own(&to, path)?;
        let (mut from, mut to) = (std::fs::File::from(from), std::fs::File::from(to));
        let bytes = std::io::copy(&mut from, &mut to).map_err(|source| TreeError {
            step: "copy",
            path: path.to_owned(),
            source,
        })?;
        fs::fchmod(&to, mode).map_err(at("set the mode of", path))?;
        n.files += 1;
        n.bytes += bytes;
        Ok(())
    }

    fn link(
        &self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        name: &CStr,
        path: &Path,
    ) -> Result<(), TreeError> {
        let target = fs::readlinkat(src, name, Vec::new()).map_err(at("read the link", path))?;
        remove_if_present(dst, name, path)?;
        fs::symlinkat(target.as_c_str(), dst, name).map_err(at("create the link", path))?;
        if let Some((uid, gid)) = self.owner {
            fs::chownat(
                dst,
                name,
                ids(uid, gid).0,
                ids(uid, gid).1,
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(at("hand over", path))?;
        }
        Ok(())
    }

    fn own(&self, fd: &OwnedFd, path: &Path) -> Result<(), TreeError> {
        let Some((uid, gid)) = self.owner else {
            return Ok(());
        };
        let (u, g) = ids(uid, gid);
        fs::fchown(fd, u, g).map_err(at("hand over", path))
    }
}

fn ids(uid: u32, gid: u32) -> (Option<fs::Uid>, Option<fs::Gid>) {
    (Some(fs::Uid::from_raw(uid)), Some(fs::Gid::from_raw(gid)))
}

fn at<'a>(step: &'static str, path: &'a Path) -> impl FnOnce(Errno) -> TreeError + 'a {
    move |e| TreeError {
        step,
        path: path.to_owned(),
        source: e.into(),
    }
}

/// Opens a directory relative to `dir`, never through a link.
pub fn open_dir(dir: BorrowedFd<'_>, name: &CStr) -> Result<OwnedFd, Errno> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    fs::openat(dir, name, flags, Mode::empty())
}

/// The names in a directory, without `.` and `..`.
fn list(dir: BorrowedFd<'_>, path: &Path) -> Result<HashSet<CString>, TreeError> {
    // Reading needs a descriptor of our own: `Dir` moves the offset of the one it reads.
    let fd = open_dir(dir, c".").map_err(at("open", path))?;
    let entries = Dir::read_from(&fd).map_err(at("list", path))?;
    let mut names = HashSet::new();
    for entry in entries {
        let entry = entry.map_err(at("list", path))?;
        let name = entry.file_name();
        if name != c"." && name != c".." {
            names.insert(name.to_owned());
        }
    }
    Ok(names)
}

fn remove_if_present(dir: BorrowedFd<'_>, name: &CStr, path: &Path) -> Result<(), TreeError> {
    match fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(_) => remove_entry(dir, name, path),
        Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(at("inspect", path)(e)),
    }
}

/// Removes a directory (with its content), a regular file or a link. Other kinds (FIFOs,
/// sockets, devices: never copied) and other file systems mounted inside are left alone.
fn remove_entry(dir: BorrowedFd<'_>, name: &CStr, path: &Path) -> Result<(), TreeError> {
    let st = fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).map_err(at("inspect", path))?;
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => {
            let parent = fs::fstat(dir).map_err(at("inspect", path))?;
            if parent.st_dev != st.st_dev {
                return Ok(());
            }
            let sub = open_dir(dir, name).map_err(at("open", path))?;
            for child in list(sub.as_fd(), path)? {
                remove_entry(
                    sub.as_fd(),
                    &child,
                    &path.join(child.to_string_lossy().as_ref()),
                )?;
            }
            fs::unlinkat(dir, name, AtFlags::REMOVEDIR).map_err(at("remove", path))
        }
        FileType::RegularFile | FileType::Symlink => {
            fs::unlinkat(dir, name, AtFlags::empty()).map_err(at("remove", path))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};

    fn dir_fd(path: &Path) -> OwnedFd {
        fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap()
    }

    #[test]
    fn mirrors_files_dirs_and_links_without_following_or_privilege_bits() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        std::fs::create_dir(a.path().join("sub")).unwrap();
        std::fs::write(a.path().join("sub/data.csv"), "1,2,3\n").unwrap();
        std::fs::write(a.path().join("tool"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(
            a.path().join("tool"),
            std::fs::Permissions::from_mode(0o6755),
        )
        .unwrap();
        symlink("/etc/shadow", a.path().join("escape")).unwrap();
        // Already in the destination: a link where a file will go, and a stale file.
        symlink("/etc/passwd", b.path().join("tool")).unwrap();
        std::fs::write(b.path().join("stale"), "old").unwrap();

        let m = Mirror {
            owner: None,
            prune: true,
        };
        let n = m
            .run(dir_fd(a.path()).as_fd(), dir_fd(b.path()).as_fd(), b.path())
            .unwrap();
        assert_eq!(
            n,
            Copied {
                files: 2,
                bytes: 16
            }
        );
        assert_eq!(
            std::fs::read_to_string(b.path().join("sub/data.csv")).unwrap(),
            "1,2,3\n"
        );
        let tool = std::fs::symlink_metadata(b.path().join("tool")).unwrap();
        assert!(tool.is_file(), "the destination link was written through");
        assert_eq!(tool.mode() & 0o7777, 0o755, "setuid/setgid survived");
        assert_eq!(
            std::fs::read_link(b.path().join("escape")).unwrap(),
            Path::new("/etc/shadow")
        );
        assert!(!b.path().join("stale").exists(), "prune kept a stale file");
        assert!(Path::new("/etc/passwd").metadata().unwrap().len() > 0);
    }

    #[test]
    fn without_prune_existing_entries_stay() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        std::fs::write(a.path().join("new"), "n").unwrap();
        std::fs::write(b.path().join("old"), "o").unwrap();
        let m = Mirror {
            owner: None,
            prune: false,
        };
        m.run(dir_fd(a.path()).as_fd(), dir_fd(b.path()).as_fd(), b.path())
            .unwrap();
        assert!(b.path().join("old").exists() && b.path().join("new").exists());
    }
}
