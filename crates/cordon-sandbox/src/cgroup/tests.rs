//! Tests against the real kernel of this (hybrid) host. They need root and skip, saying
//! so, without it.

use super::*;
use crate::report::Level;
use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

const MIB: u64 = 1024 * 1024;

fn root() -> bool {
    let root = rustix::process::getuid().is_root();
    if !root {
        eprintln!("skipped: creating cgroups needs root");
    }
    root
}

fn name(tag: &str) -> String {
    format!("test-{tag}-{}", std::process::id())
}

fn limits(memory: Option<u64>, pids: Option<u64>) -> Limits {
    Limits {
        memory,
        pids,
        ..Limits::default()
    }
}

/// Starts `script` held at a `read`, moves it into `cg`, then lets it go.
fn spawn_in(cg: &RunCgroup, script: &str) -> Child {
    let mut child = Command::new("/bin/sh")
        .args(["-c", &format!("read go; {script}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    cg.join(child.id()).unwrap();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    child
}

fn layer<'a>(reports: &'a [LayerReport], name: &str) -> &'a LayerReport {
    reports
        .iter()
        .find(|r| r.layer == name)
        .unwrap_or_else(|| panic!("no {name} in {reports:?}"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap().trim().to_owned()
}

#[test]
fn joined_process_is_limited_killed_and_cleaned_up() {
    if !root() {
        return;
    }
    let run = name("lifecycle");
    let (cg, reports) =
        RunCgroup::create(&detect(), &run, &limits(Some(64 * MIB), Some(16))).unwrap();
    let mem = layer(&reports, "limit.memory");
    assert_eq!(mem.level, Level::Enforced);
    assert_eq!(
        mem.detail,
        format!("cgroup v1 memory controller at /sys/fs/cgroup/memory/cordon/{run}: 67108864 bytes, swap 0")
    );
    assert_eq!(layer(&reports, "limit.pids").level, Level::Enforced);
    assert_eq!(layer(&reports, "limit.cpu").level, Level::Off);
    assert_eq!(
        layer(&reports, "kill").detail,
        format!("cgroup.kill at /sys/fs/cgroup/unified/cordon/{run}")
    );
    assert!(cg.limits_memory() && cg.limits_pids());

    let mut child = spawn_in(&cg, "sleep 30");
    let pid = child.id();
    let own = read(&format!("/proc/{pid}/cgroup"));
    for line in [
        format!("memory:/cordon/{run}"),
        format!("pids:/cordon/{run}"),
        format!("0::/cordon/{run}"),
    ] {
        assert!(
            own.lines().any(|l| l.ends_with(&line)),
            "{line} not in {own}"
        );
    }
    let listed = read(cg.procs_file().to_str().unwrap());
    assert!(listed.lines().any(|l| l == pid.to_string()), "{listed}");
    let v1 = |c: &str, f: &str| read(&format!("/sys/fs/cgroup/{c}/cordon/{run}/{f}"));
    assert_eq!(v1("memory", "memory.limit_in_bytes"), "67108864");
    assert_eq!(v1("memory", "memory.memsw.limit_in_bytes"), "67108864");
    assert_eq!(v1("pids", "pids.max"), "16");

    cg.kill().unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
    let dirs = cg.dirs();
    // No cpuacct directory: the unified tree's cpu.stat accounts the run's CPU time.
    assert_eq!(dirs.len(), 3, "unified, memory, pids: {dirs:?}");
    let entry = cg.entry();
    assert_eq!(entry.v2.as_ref(), Some(&dirs[0]));
    let tasks: Vec<PathBuf> = dirs[1..].iter().map(|d| d.join("tasks")).collect();
    assert_eq!(entry.tasks, tasks);
    cg.remove().unwrap();
    assert!(dirs.iter().all(|d| !d.exists()), "{dirs:?}");
}

#[test]
fn memory_bomb_is_oom_killed() {
    if !root() {
        return;
    }
    let (cg, _) =
        RunCgroup::create(&detect(), &name("oom"), &limits(Some(64 * MIB), None)).unwrap();
    let mut child = spawn_in(&cg, "exec /usr/bin/python3 -c 'x=bytearray(512*1024*1024)'");
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
    let usage = cg.usage();
    assert!(usage.oom_kills >= 1, "{usage:?}");
    assert!(
        usage.memory_peak.is_some_and(|p| p <= 64 * MIB),
        "{usage:?}"
    );
    cg.remove().unwrap();
}

#[test]
fn fork_loop_is_refused_at_the_pids_limit() {
    if !root() {
        return;
    }
    let (cg, _) = RunCgroup::create(&detect(), &name("pids"), &limits(None, Some(8))).unwrap();
    let mut child = spawn_in(
        &cg,
        "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do sleep 3 & done",
    );
    child.wait().unwrap();
    let usage = cg.usage();
    assert!(usage.pids_limit_hits >= 1, "{usage:?}");
    assert!(usage.pids_peak.is_some_and(|p| p <= 8), "{usage:?}");
    assert!(
        !cg.is_empty(),
        "the backgrounded sleeps are still in the cgroup"
    );
    cg.remove().unwrap();
}

#[test]
fn cpu_time_of_the_whole_run_is_accounted() {
    if !root() {
        return;
    }
    let (cg, reports) =
        RunCgroup::create(&detect(), &name("cpu"), &limits(Some(64 * MIB), None)).unwrap();
    assert_eq!(layer(&reports, "limit.cpu").level, Level::Off);
    let spin = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass";
    let mut child = spawn_in(&cg, &format!("exec /usr/bin/python3 -c '{spin}'"));
    assert!(child.wait().unwrap().success());
    let usage = cg.usage();
    let total = usage.cpu_total.unwrap();
    assert!(total >= Duration::from_millis(250), "{usage:?}");
    assert!(
        usage.cpu_user.unwrap() + usage.cpu_system.unwrap() <= total + Duration::from_millis(50)
    );
    cg.remove().unwrap();
}

#[test]
fn cpu_limit_is_reported_as_supervisor_enforced() {
    if !root() {
        return;
    }
    let mut l = limits(None, Some(64));
    l.cpu = Some(Duration::from_secs(2));
    let (cg, reports) = RunCgroup::create(&detect(), &name("cpurep"), &l).unwrap();
    let cpu = layer(&reports, "limit.cpu");
    assert_eq!(cpu.level, Level::Enforced);
    assert!(
        cpu.detail
            .starts_with("whole-run CPU time from cgroup accounting"),
        "{}",
        cpu.detail
    );
    assert!(
        cpu.detail.contains("enforced by the supervisor"),
        "{}",
        cpu.detail
    );
    cg.remove().unwrap();
}

#[test]
fn stale_run_cgroups_are_removed_but_fresh_and_populated_ones_kept() {
    if !root() {
        return;
    }
    let base = Path::new("/sys/fs/cgroup/pids/cordon");
    let (keep, _) = RunCgroup::create(&detect(), &name("busy"), &limits(None, None)).unwrap();
    let mut child = spawn_in(&keep, "sleep 30");
    let (stale, fresh) = (base.join(name("stale")), base.join(name("fresh")));
    std::fs::create_dir(&stale).unwrap();
    std::fs::create_dir(&fresh).unwrap();
    let old = |p: &Path| {
        let st = Command::new("touch")
            .arg("--date=-2 minutes")
            .arg(p)
            .status()
            .unwrap();
        assert!(st.success());
    };
    let delegated = base.join(format!("user-{}", 4_000_000 + std::process::id()));
    std::fs::create_dir(&delegated).unwrap();
    old(&stale);
    old(&delegated);
    old(&base.join(name("busy")));
    cleanup_stale(&detect());
    assert!(!stale.exists());
    assert!(fresh.exists() && base.join(name("busy")).exists());
    assert!(delegated.exists(), "a delegated folder was swept");
    std::fs::remove_dir(&fresh).unwrap();
    std::fs::remove_dir(&delegated).unwrap();
    keep.remove().unwrap();
    assert!(child.wait().unwrap().signal() == Some(libc::SIGKILL));
}

#[test]
fn dropped_run_cgroup_is_killed_and_removed() {
    if !root() {
        return;
    }
    let (cg, _) = RunCgroup::create(&detect(), &name("drop"), &limits(None, Some(8))).unwrap();
    let mut child = spawn_in(&cg, "sleep 30");
    let dirs = cg.dirs();
    let started = Instant::now();
    drop(cg);
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
    assert!(dirs.iter().all(|d| !d.exists()) && started.elapsed() < Duration::from_secs(3));
}

/// Runs only in the child started by [`unprivileged_caller_gets_unavailable`].
#[test]
fn unprivileged_child() {
    if std::env::var_os("CORDON_TEST_UNPRIVILEGED").is_none() {
        return;
    }
    match RunCgroup::create(&detect(), &name("nobody"), &limits(Some(64 * MIB), None)) {
        Err(CgroupError::Unavailable { reason }) => {
            assert!(reason.contains("not writable"), "{reason}")
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[test]
fn unprivileged_caller_gets_unavailable() {
    if !root() {
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "cgroup::tests::unprivileged_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("CORDON_TEST_UNPRIVILEGED", "1")
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("1 passed"), "{text}");
}

/// The pure cgroup v2 path, against the file layout of a v2 tree: this host is hybrid, so
/// its v2 tree carries no controllers and the kernel side of this path cannot run here. A
/// directory holding a v2 root's interface files stands in for the mount; the test shows
/// which files the path writes, with which values, and what it reports.
#[test]
fn pure_v2_layout_gets_limits_written_and_reported() {
    if !root() {
        return;
    }
    let tree = tempfile::tempdir().unwrap();
    let root_dir = tree.path();
    std::fs::write(
        root_dir.join("cgroup.controllers"),
        "cpuset cpu io memory pids\n",
    )
    .unwrap();
    std::fs::write(root_dir.join("cgroup.subtree_control"), "").unwrap();
    std::fs::write(root_dir.join("cgroup.procs"), "").unwrap();
    let h = Hierarchy {
        mount: root_dir.to_owned(),
        own: root_dir.to_owned(),
        controllers: ["cpu", "memory", "pids"].map(String::from).to_vec(),
        kill: true,
    };
    let run = name("v2-layout");
    let (cg, reports) =
        RunCgroup::create(&Layout::V2(h), &run, &limits(Some(256 * MIB), Some(64))).unwrap();
    let dir = root_dir.join("cordon").join(&run);
    let file = |f: &str| read(&dir.join(f).to_string_lossy());
    assert_eq!(file("memory.max"), (256 * MIB).to_string());
    assert_eq!(file("pids.max"), "64");
    let enabled = read(&root_dir.join("cgroup.subtree_control").to_string_lossy());
    assert!(
        enabled.contains("+memory") && enabled.contains("+pids"),
        "{enabled}"
    );
    assert_eq!(layer(&reports, "limit.memory").level, Level::Partial);
    assert!(layer(&reports, "limit.memory").detail.contains("swap"));
    assert_eq!(layer(&reports, "limit.pids").level, Level::Enforced);
    assert_eq!(cg.procs_file(), dir.join("cgroup.procs"));
    assert_eq!(cg.entry().v2, Some(dir.clone()));
    assert!(cg.entry().tasks.is_empty());
    assert!(cg.limits_memory() && cg.limits_pids());

    // What the path reads back at the end of a run, from the same directory.
    for (f, text) in [
        ("memory.peak", "1234\n"),
        ("memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n"),
        ("pids.events", "max 2\n"),
        ("pids.peak", "5\n"),
        (
            "cpu.stat",
            "usage_usec 3000\nuser_usec 2000\nsystem_usec 1000\n",
        ),
    ] {
        std::fs::write(dir.join(f), text).unwrap();
    }
    let u = cg.usage();
    assert_eq!((u.memory_peak, u.oom_kills), (Some(1234), 1), "{u:?}");
    assert_eq!((u.pids_peak, u.pids_limit_hits), (Some(5), 2), "{u:?}");
    assert_eq!(u.cpu_total, Some(Duration::from_millis(3)), "{u:?}");
    assert_eq!(u.cpu_user, Some(Duration::from_millis(2)), "{u:?}");
    assert_eq!(u.cpu_system, Some(Duration::from_millis(1)), "{u:?}");
}
