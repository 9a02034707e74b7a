//! Request paths: checked as text first, then resolved only beneath an opened root.
//!
//! Every path in a request is relative to some root (a run's work directory, the tenant's
//! runs, a shared root). [`relative`] refuses what can never be right: empty, absolute,
//! NUL bytes, a `..` component, too long. What passes is still only a name: it is opened
//! with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)` from a
//! descriptor of the root ([`open_beneath`]), so a symbolic link anywhere on the path,
//! or any other way out of the root, is refused by the kernel rather than by string
//! checks that a rename could race.

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use std::path::{Component, Path, PathBuf};

/// Longest request path, in bytes.
pub const MAX_PATH_BYTES: usize = 1024;
/// Most components of a request path.
pub const MAX_COMPONENTS: usize = 64;
/// Longest single component (the kernel's NAME_MAX).
pub const MAX_NAME_BYTES: usize = 255;

/// Why a request path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathProblem {
    #[error("the path is empty")]
    Empty,
    #[error("the path is longer than {MAX_PATH_BYTES} bytes")]
    TooLong,
    #[error("the path has more than {MAX_COMPONENTS} components")]
    TooDeep,
    #[error("a path component is longer than {MAX_NAME_BYTES} bytes")]
    NameTooLong,
    #[error("the path contains a NUL byte")]
    Nul,
    #[error("the path is absolute; a relative path is expected")]
    Absolute,
    #[error("the path has a '..' component")]
    DotDot,
    #[error("{0} is a symbolic link or has one on its way (links are not followed)")]
    Symlink(String),
    #[error("{0} leads outside its root")]
    Escapes(String),
    #[error("{0} does not exist")]
    Missing(String),
    #[error("{0} is not a regular file")]
    NotRegular(String),
    #[error("{0} is not a directory or a regular file")]
    Special(String),
    #[error("{0} is not a directory, or has a non-directory on its way")]
    NotDir(String),
    #[error("{0} already exists")]
    Exists(String),
    #[error("failed to open {0}: {1}")]
    Io(String, String),
}

/// Checks a request path as text and returns it normalised (no `.` or empty parts).
pub fn relative(text: &str) -> Result<PathBuf, PathProblem> {
    if text.is_empty() {
        return Err(PathProblem::Empty);
    }
    if text.len() > MAX_PATH_BYTES {
        return Err(PathProblem::TooLong);
    }
    if text.contains('\0') {
        return Err(PathProblem::Nul);
    }
    if text.starts_with('/') {
        return Err(PathProblem::Absolute);
    }
    let mut out = PathBuf::new();
    let mut count = 0;
    for part in Path::new(text).components() {
        match part {
            Component::Normal(name) => {
                if name.len() > MAX_NAME_BYTES {
                    return Err(PathProblem::NameTooLong);
                }
                count += 1;
                out.push(name);
            }
            Component::CurDir => {}
            Component::ParentDir => return Err(PathProblem::DotDot),
            Component::RootDir | Component::Prefix(_) => return Err(PathProblem::Absolute),
        }
    }
    if count == 0 {
        return Err(PathProblem::Empty);
    }
    if count > MAX_COMPONENTS {
        return Err(PathProblem::TooDeep);
    }
    Ok(out)
}

/// The resolve rule of every request path: stay beneath the root, follow no link.
pub const RESOLVE: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_SYMLINKS)
    .union(ResolveFlags::NO_MAGICLINKS);

/// Opens `rel` beneath `root` without following any symbolic link. `EAGAIN` (a rename
/// raced the lookup) is retried a few times.
pub fn open_beneath(
    root: impl AsFd,
    rel: &Path,
    flags: OFlags,
    mode: Mode,
) -> Result<OwnedFd, PathProblem> {
    let flags = flags | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    let mut tries = 0;
    loop {
        match rustix::fs::openat2(root.as_fd(), rel, flags, mode, RESOLVE) {
            Err(Errno::AGAIN) if tries < 8 => tries += 1,
            other => return other.map_err(|e| problem(rel, e)),
        }
    }
}

/// Opens `rel` beneath `root` as a directory. A symbolic link as the last component
/// makes the kernel answer `ENOTDIR` (`O_DIRECTORY` is checked first); it is reported as
/// the link it is.
pub fn open_dir_beneath(root: impl AsFd, rel: &Path) -> Result<OwnedFd, PathProblem> {
    let root = root.as_fd();
    match open_beneath(root, rel, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()) {
        Err(PathProblem::NotDir(name)) => {
            let path_only = OFlags::PATH;
            let link = open_beneath(root, rel, path_only, Mode::empty())
                .ok()
                .and_then(|fd| rustix::fs::fstat(fd).ok())
                .is_some_and(|st| {
                    rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Symlink
                });
            Err(if link {
                PathProblem::Symlink(name)
            } else {
                PathProblem::NotDir(name)
            })
        }
        other => other,
    }
}

/// Opens an absolute, trusted root directory (configuration, the runner's own dirs).
pub fn open_root(path: &Path) -> Result<OwnedFd, PathProblem> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    rustix::fs::open(path, flags, Mode::empty()).map_err(|e| problem(path, e))
}

/// Turns an `openat2` failure into the reason a client can act on.
pub fn problem(rel: &Path, e: Errno) -> PathProblem {
    let name = rel.display().to_string();
    match e {
        Errno::LOOP => PathProblem::Symlink(name),
        Errno::XDEV => PathProblem::Escapes(name),
        Errno::NOENT => PathProblem::Missing(name),
        Errno::EXIST => PathProblem::Exists(name),
        Errno::NOTDIR => PathProblem::NotDir(name),
        other => PathProblem::Io(name, std::io::Error::from(other).to_string()),
    }
}

/// Creates the directories of `rel` beneath `root` (like `mkdir -p`), each checked to be
/// a real directory, and returns the deepest one.
pub fn make_dirs(root: impl AsFd, rel: &Path) -> Result<OwnedFd, PathProblem> {
    let mut dir =
        rustix::io::fcntl_dupfd_cloexec(root.as_fd(), 0).map_err(|e| problem(Path::new("."), e))?;
    for part in rel.components() {
        let name = Path::new(part.as_os_str());
        match rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(problem(rel, e)),
        }
        dir = open_dir_beneath(&dir, name).map_err(|e| match e {
            PathProblem::Symlink(_) => PathProblem::Symlink(rel.display().to_string()),
            PathProblem::NotDir(_) => PathProblem::NotDir(rel.display().to_string()),
            other => other,
        })?;
    }
    Ok(dir)
}

/// Splits a checked relative path into its parent and its last component.
pub fn split(rel: &Path) -> (&Path, &Path) {
    let parent = rel.parent().unwrap_or(Path::new(""));
    let name = rel.file_name().map(Path::new).unwrap_or(rel);
    (parent, name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn accepts_plain_relative_paths() {
        assert_eq!(relative("a/b.txt").unwrap(), PathBuf::from("a/b.txt"));
        assert_eq!(relative("./a//b/").unwrap(), PathBuf::from("a/b"));
    }

    #[test]
    fn refuses_what_can_never_be_right() {
        assert_eq!(relative(""), Err(PathProblem::Empty));
        assert_eq!(relative("."), Err(PathProblem::Empty));
        assert_eq!(relative("/etc/passwd"), Err(PathProblem::Absolute));
        assert_eq!(relative("a/../../b"), Err(PathProblem::DotDot));
        assert_eq!(relative("a\0b"), Err(PathProblem::Nul));
        assert_eq!(relative(&"a".repeat(2000)), Err(PathProblem::TooLong));
        assert_eq!(relative(&"a/".repeat(100)), Err(PathProblem::TooDeep));
        assert_eq!(relative(&"a".repeat(300)), Err(PathProblem::NameTooLong));
    }

    fn part() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => "[a-z0-9._-]{1,8}",
            1 => Just("..".to_string()),
            1 => Just(".".to_string()),
            1 => Just("a\0b".to_string()),
            1 => Just(String::new()),
        ]
    }

    proptest! {
        /// Whatever the mix of parts, an accepted path never climbs, never starts at `/`
        /// and never holds a NUL; and a `..` part or a NUL anywhere is always refused.
        #[test]
        fn random_paths_never_escape(parts in prop::collection::vec(part(), 1..8),
                                     lead in prop::bool::ANY) {
            let text = format!("{}{}", if lead { "/" } else { "" }, parts.join("/"));
            match relative(&text) {
                Ok(p) => {
                    prop_assert!(!text.starts_with('/'));
                    prop_assert!(p.components().all(|c| matches!(c, Component::Normal(_))));
                    prop_assert!(!text.contains('\0'));
                    prop_assert!(!parts.iter().any(|p| p == ".."));
                }
                Err(_) => prop_assert!(
                    text.starts_with('/') || text.contains('\0')
                        || parts.iter().any(|p| p == "..")
                        || parts.iter().all(|p| p.is_empty() || p == ".")
                ),
            }
        }

        /// Planted links pointing outside (absolute, relative, through a directory) are
        /// refused wherever they sit on the path; real files beneath are found.
        #[test]
        fn planted_symlinks_are_refused(depth in 0usize..4, kind in 0u8..3) {
            let outside = tempfile::tempdir().unwrap();
            std::fs::write(outside.path().join("secret"), "s").unwrap();
            let root = tempfile::tempdir().unwrap();
            let mut dir = root.path().to_path_buf();
            let mut rel = PathBuf::new();
            for i in 0..depth {
                dir.push(format!("d{i}"));
                rel.push(format!("d{i}"));
            }
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("real"), "r").unwrap();
            let target = match kind {
                0 => outside.path().join("secret"),
                1 => PathBuf::from("../".repeat(depth + 3)).join("etc/passwd"),
                _ => outside.path().to_path_buf(),
            };
            symlink(&target, dir.join("link")).unwrap();
            let fd = open_root(root.path()).unwrap();
            let via = if kind == 2 { rel.join("link/secret") } else { rel.join("link") };
            let got = open_beneath(&fd, &via, OFlags::RDONLY, Mode::empty());
            prop_assert!(matches!(got, Err(PathProblem::Symlink(_))), "{got:?}");
            prop_assert!(open_beneath(&fd, &rel.join("real"), OFlags::RDONLY, Mode::empty())
                .is_ok());
        }
    }

    #[test]
    fn make_dirs_refuses_a_planted_directory_link() {
        let outside = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        symlink(outside.path(), root.path().join("out")).unwrap();
        let fd = open_root(root.path()).unwrap();
        let got = make_dirs(&fd, Path::new("out/x"));
        assert!(matches!(got, Err(PathProblem::Symlink(_))), "{got:?}");
        assert!(!outside.path().join("x").exists());
        assert!(make_dirs(&fd, Path::new("in/x")).is_ok());
        assert!(root.path().join("in/x").is_dir());
    }
}
