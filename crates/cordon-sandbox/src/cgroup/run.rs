//! Ending a run's cgroups: killing what is in them, reading what they accounted, removing
//! them, and clearing leftovers of runs whose supervisor died.

use super::{delegation_root, v1, v2, writable, DELEGATED_PREFIX};
use super::{CgroupError, CgroupUsage, Hierarchy, Layout, RunCgroup, RunDir};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use rustix::process::{kill_process, Pid, Signal};
use std::io::Read;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime};

/// Rounds of the v1 kill loop before it gives up.
const KILL_ROUNDS: usize = 200;
/// How long [`RunCgroup::remove`] waits for killed processes to leave.
const DRAIN: Duration = Duration::from_secs(2);
/// A leftover younger than this may be a run that is still starting.
const STALE_AGE: Duration = Duration::from_secs(60);

impl RunCgroup {
    /// SIGKILLs every process of the run: one write to `cgroup.kill` where a v2 tree
    /// offers it; otherwise SIGKILL each listed process until the list is empty.
    pub fn kill(&self) -> Result<(), CgroupError> {
        if let Some(d) = self
            .dirs
            .iter()
            .find(|d| d.v2 && d.path.join("cgroup.kill").exists())
        {
            return super::write(&d.path, "cgroup.kill", "1");
        }
        self.dirs.first().map_or(Ok(()), |d| kill_listed(&d.path))
    }

    /// The run's processes (any hierarchy lists all of them).
    pub fn members(&self) -> Vec<i32> {
        self.dirs.first().map_or_else(Vec::new, |d| listed(&d.path))
    }

    /// No process is left in the run.
    pub fn is_empty(&self) -> bool {
        self.dirs.first().is_none_or(dir_empty)
    }

    /// What the run used so far, from whichever hierarchy accounts each value.
    pub fn usage(&self) -> CgroupUsage {
        let mut u = CgroupUsage::default();
        for d in &self.dirs {
            match d.v2 {
                true => v2::usage(d, &mut u),
                false => v1::usage(d, &mut u),
            }
        }
        u
    }

    /// Kills what is left, waits briefly for it to go, and removes every directory.
    pub fn remove(mut self) -> Result<(), CgroupError> {
        let dirs = std::mem::take(&mut self.dirs);
        teardown(&dirs)
    }
}

impl Drop for RunCgroup {
    fn drop(&mut self) {
        if let Err(e) = teardown(&self.dirs) {
            tracing::warn!(error = %e, "failed to remove a run cgroup on drop");
        }
    }
}

fn teardown(dirs: &[RunDir]) -> Result<(), CgroupError> {
    let Some(first) = dirs.first() else {
        return Ok(());
    };
    if !dir_empty(first) {
        let _ = match dirs
            .iter()
            .find(|d| d.v2 && d.path.join("cgroup.kill").exists())
        {
            Some(d) => super::write(&d.path, "cgroup.kill", "1"),
            None => kill_listed(&first.path),
        };
        let until = Instant::now() + DRAIN;
        while !dir_empty(first) && Instant::now() < until {
            sleep(Duration::from_millis(10));
        }
    }
    dirs.iter()
        .map(|d| remove_dir(&d.path))
        .fold(Ok(()), Result::and)
}

/// rmdir, retried while the kernel still reports the cgroup busy.
fn remove_dir(path: &Path) -> Result<(), CgroupError> {
    let until = Instant::now() + DRAIN;
    loop {
        match std::fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < until => {
                sleep(Duration::from_millis(10));
            }
            Err(source) => {
                return Err(CgroupError::Remove {
                    path: path.to_owned(),
                    source,
                })
            }
        }
    }
}

fn dir_empty(d: &RunDir) -> bool {
    match d.v2.then(|| v2::populated(&d.path)).flatten() {
        Some(populated) => !populated,
        None => listed(&d.path).is_empty(),
    }
}

/// The processes in `dir`'s `cgroup.procs`, this process excluded.
fn listed(dir: &Path) -> Vec<i32> {
    open_dir(dir).map_or_else(|_| Vec::new(), |d| listed_in(d.as_fd()))
}

/// As [`listed`], for a cgroup directory held open (how the stage-2 helper's waiter,
/// whose root may have changed, holds its run's cgroup).
fn listed_in(dir: BorrowedFd<'_>) -> Vec<i32> {
    let me = i32::try_from(std::process::id()).unwrap_or(0);
    let flags = OFlags::RDONLY | OFlags::CLOEXEC;
    let mut text = String::new();
    if let Ok(procs) = rustix::fs::openat(dir, "cgroup.procs", flags, Mode::empty()) {
        let _ = std::fs::File::from(procs).read_to_string(&mut text);
    }
    text.lines()
        .filter_map(|l| l.trim().parse().ok())
        .filter(|p| *p != me)
        .collect()
}

fn open_dir(dir: &Path) -> rustix::io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    rustix::fs::open(dir, flags, Mode::empty())
}

/// SIGKILL each listed process, again, until none is left. A process forked between
/// reading the list and the kill shows up in the next round; one with SIGKILL pending
/// cannot fork, so the list drains.
fn kill_listed(dir: &Path) -> Result<(), CgroupError> {
    let left = open_dir(dir).map_or(0, |d| kill_listed_in(d.as_fd()));
    if left == 0 {
        return Ok(());
    }
    Err(CgroupError::Kill {
        path: dir.to_owned(),
        left,
    })
}

/// [`kill_listed`] for a cgroup directory held open; returns how many processes are still
/// listed when it gives up (0 when the cgroup is empty).
pub(crate) fn kill_listed_in(dir: BorrowedFd<'_>) -> usize {
    for _ in 0..KILL_ROUNDS {
        let pids = listed_in(dir);
        if pids.is_empty() {
            return 0;
        }
        for pid in pids.into_iter().filter_map(Pid::from_raw) {
            let _ = kill_process(pid, Signal::KILL);
        }
        sleep(Duration::from_millis(5));
    }
    listed_in(dir).len()
}

/// Removes empty run cgroups left under `cordon/` by supervisors that died, in every
/// hierarchy of `layout`. Populated ones and ones younger than a minute (a run that is
/// being set up) are left alone, and so are the `user-<uid>` folders an administrator
/// delegates (see `delegated_parent`); errors are ignored.
///
/// It runs at the start of a run, so it is kept cheap: control files are skipped by
/// their directory-entry type without a `stat`, and a long-lived process (the runner)
/// sweeps at most once per [`STALE_AGE`].
pub fn cleanup_stale(layout: &Layout) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST_SWEEP: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let last = LAST_SWEEP.swap(now, Ordering::Relaxed);
    if last != 0 && now.saturating_sub(last) < STALE_AGE.as_secs() {
        LAST_SWEEP.store(last, Ordering::Relaxed);
        return;
    }
    let hierarchies: Vec<&Hierarchy> = match layout {
        Layout::V2(h) => vec![h],
        Layout::Hybrid { v1, unified } => v1.iter().chain([unified]).collect(),
        Layout::V1(v1) => v1.iter().collect(),
        Layout::None(_) => Vec::new(),
    };
    for h in hierarchies {
        let parent = match delegation_root(h, writable) {
            Some(base) => base.join("cordon"),
            None => match super::delegated_parent(h) {
                Some(dir) => dir,
                None => continue,
            },
        };
        let Ok(entries) = std::fs::read_dir(parent) else {
            continue;
        };
        let runs = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter(|e| {
                !e.file_name()
                    .to_string_lossy()
                    .starts_with(DELEGATED_PREFIX)
            })
            .map(|e| e.path());
        for path in runs {
            if is_stale(&path) && std::fs::remove_dir(&path).is_ok() {
                tracing::debug!(path = %path.display(), "removed a leftover run cgroup");
            }
        }
    }
}

fn is_stale(path: &Path) -> bool {
    let old = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age >= STALE_AGE);
    let v2 = path.join("cgroup.events").exists();
    old && dir_empty(&RunDir {
        path: path.to_owned(),
        v2,
        controllers: Vec::new(),
    })
}
