//! Folders and files for the tests, with owners and modes that make each control meaningful.
//!
//! Everything lives below `/tmp` (not `$TMPDIR`, which may point below `/root`), so that the
//! unprivileged caller can reach it and so that "a file in /tmp" is a real host file.

use super::{Caller, TEST_USER};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use tempfile::TempDir;

pub fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("failed to chmod {}: {e}", path.display()));
}

pub fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .unwrap_or_else(|e| panic!("failed to chown {}: {e}", path.display()));
}

fn temp_dir(label: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(&format!("cordon-test-{label}-"))
        .tempdir_in("/tmp")
        .expect("failed to create a folder in /tmp")
}

/// A folder to pass as `--rw`: owned by root for a root caller (cordon hands it to the run
/// uid), by `cordon-test` for the unprivileged caller. Mode 0700.
pub fn run_dir(caller: Caller) -> TempDir {
    let dir = temp_dir("rw");
    if caller == Caller::Unprivileged {
        let user = super::test_user();
        chown(dir.path(), user.uid, user.gid);
    }
    dir
}

/// A host folder the run is not granted: root's, mode 0755, so that the unprivileged
/// caller's control run can read what is inside it.
pub fn host_dir() -> TempDir {
    let dir = temp_dir("host");
    chmod(dir.path(), 0o755);
    dir
}

/// A policy file asking for no namespaces (`namespaces = false`, the tier of hosts that
/// refuse them), readable by `caller`: `<folder>/tier.toml`, kept while the folder lives.
pub fn no_namespaces(caller: Caller) -> (TempDir, PathBuf) {
    let dir = caller_dir(caller);
    let file = dir.path().join("tier.toml");
    write_file(&file, "namespaces = false\n", 0o644);
    (dir, file)
}

/// A folder owned by the caller itself (mode 0755): something the caller can change when
/// unconfined, such as shared content it then grants read-only.
pub fn caller_dir(caller: Caller) -> TempDir {
    let dir = temp_dir("own");
    chmod(dir.path(), 0o755);
    let user = super::test_user();
    if caller == Caller::Unprivileged {
        chown(dir.path(), user.uid, user.gid);
    }
    dir
}

/// A folder anyone may write into (mode 1777, like `/tmp`), for write-escape targets.
pub fn open_dir() -> TempDir {
    let dir = temp_dir("open");
    chmod(dir.path(), 0o1777);
    dir
}

/// Writes `contents` to `path` with `mode`, owned by root.
pub fn write_file(path: &Path, contents: &str, mode: u32) {
    std::fs::write(path, contents)
        .unwrap_or_else(|e| panic!("failed to write {}: {e}", path.display()));
    chmod(path, mode);
}

/// Gives `path` to the caller (no-op for root).
pub fn give_to(caller: Caller, path: &Path) {
    if caller == Caller::Unprivileged {
        let user = super::test_user();
        chown(path, user.uid, user.gid);
    }
}

/// `(uid, gid, mode)` of `path`, not following a final symlink.
pub fn owner_and_mode(path: &Path) -> (u32, u32, u32) {
    let meta = std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("failed to stat {}: {e}", path.display()));
    (meta.uid(), meta.gid(), meta.mode())
}

/// A folder below `/tmp` shared by all test processes of this build, filled once by `fill`
/// and keyed by `source`'s size and mtime, so that the copy matches what cargo built.
/// Filled in a staging folder and renamed into place, so that no process sees it half-made.
pub fn shared_copy(label: &str, source: &Path, fill: impl FnOnce(&Path)) -> PathBuf {
    let meta = std::fs::metadata(source)
        .unwrap_or_else(|e| panic!("failed to stat {}: {e}", source.display()));
    let mut hasher = DefaultHasher::new();
    (source, meta.len(), meta.mtime(), meta.mtime_nsec()).hash(&mut hasher);
    shared_dir(label, hasher.finish(), fill)
}

/// Like [`shared_copy`], keyed by `key` (e.g. the hash of a C source).
pub fn shared_dir(label: &str, key: u64, fill: impl FnOnce(&Path)) -> PathBuf {
    let prefix = format!("cordon-test-{label}-");
    let dir = PathBuf::from(format!("/tmp/{prefix}{key:016x}"));
    if dir.is_dir() {
        return dir;
    }
    remove_stale(&prefix);
    let staging = PathBuf::from(format!("{}.{}", dir.display(), super::unique("staging")));
    std::fs::create_dir(&staging).expect("failed to create a staging folder");
    chmod(&staging, 0o755);
    fill(&staging);
    if std::fs::rename(&staging, &dir).is_err() {
        // Another test process got there first with the same content.
        let _ = std::fs::remove_dir_all(&staging);
    }
    assert!(dir.is_dir(), "failed to create {}", dir.display());
    dir
}

/// Removes copies of earlier builds (older than an hour) so /tmp does not fill up.
fn remove_stale(prefix: &str) {
    let Ok(entries) = std::fs::read_dir("/tmp") else {
        return;
    };
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    for entry in entries.flatten() {
        let stale = entry.file_name().to_string_lossy().starts_with(prefix)
            && entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t < hour_ago);
        if stale {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Compiles `source` with gcc (as root, once per source text) and returns the program's
/// path, in a world-readable folder to grant with `--ro`.
pub fn compile_c(name: &str, source: &str, flags: &[&str]) -> PathBuf {
    let mut hasher = DefaultHasher::new();
    (name, source, flags).hash(&mut hasher);
    let dir = shared_dir("cc", hasher.finish(), |staging| {
        let src = staging.join(format!("{name}.c"));
        write_file(&src, source, 0o644);
        let out = std::process::Command::new("gcc")
            .args(flags)
            .arg("-o")
            .arg(staging.join(name))
            .arg(&src)
            .output()
            .expect("failed to run gcc");
        assert!(
            out.status.success(),
            "gcc failed on {name}.c:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    dir.join(name)
}

/// The account name the unprivileged caller runs as (for messages).
pub fn caller_name(caller: Caller) -> &'static str {
    match caller {
        Caller::Root => "root",
        Caller::Unprivileged => TEST_USER,
    }
}
