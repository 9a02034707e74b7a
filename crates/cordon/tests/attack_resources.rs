//! Resource exhaustion and outliving the run: fork bombs, memory bombs, disk fill, CPU
//! spin, stdout floods, and children that double-fork and `setsid` to survive the normal
//! end of the run, its timeout, or a SIGKILL of cordon itself.
//!
//! Each attack runs against the real binary, as root (cgroup limits, a uid of the run's
//! own) and as an unprivileged caller (no cgroup here: rlimits stand in and the report
//! must say the limit is partial). Each has a control in which the defence is absent (no
//! limit, or `--mode off`) and the attack visibly works, so the test proves the defence.

mod common;

use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

/// Forks `sys.argv[1]` sleeping children (each `sleep`s 30 s) and prints how many forks
/// succeeded before the first refusal, then kills them.
const FORK_BOMB: &str = "import os, signal, sys, time
want, made, kids = int(sys.argv[1]), 0, []
for _ in range(want):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    kids.append(pid)
    made += 1
print(made, flush=True)
for k in kids:
    os.kill(k, signal.SIGKILL)";

/// Touches `sys.argv[1]` MiB, 16 MiB at a time, printing the running total.
const MEMORY_BOMB: &str = "import sys
chunks, total = [], 0
while total < int(sys.argv[1]):
    chunks.append(bytearray(16 << 20))
    total += 16
    print(total, flush=True)
print('done', flush=True)";

/// Writes `sys.argv[2]` MiB into the file `sys.argv[1]`.
const DISK_FILL: &str = "import sys
with open(sys.argv[1], 'wb') as f:
    for _ in range(int(sys.argv[2])):
        f.write(b'x' * (1 << 20))
        f.flush()
print('done', flush=True)";

/// `python3 -c FORK_BOMB N` under `run`, returning the number of forks that succeeded.
fn forks_made(run: Cordon, want: u32) -> (u64, Outcome) {
    let outcome = run.run(&[PYTHON, "-c", FORK_BOMB, &want.to_string()]);
    let made = outcome
        .stdout
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("the fork bomb printed no count\n{outcome}"));
    (made, outcome)
}

/// The last number the memory bomb printed: MiB it had touched when it stopped.
fn touched_mib(outcome: &Outcome) -> u64 {
    outcome
        .stdout
        .lines()
        .rev()
        .find_map(|l| l.trim().parse().ok())
        .unwrap_or(0)
}

/// A shell line that leaves a survivor behind: a child that double-forks into a new
/// session, ignores SIGTERM and sleeps for a marker number of seconds.
fn survivor_script(marker: u64) -> String {
    format!(
        "(setsid sh -c 'trap \"\" TERM HUP; exec sleep {marker}' </dev/null >/dev/null 2>&1 &) ; \
         sleep 0.3"
    )
}

/// A number unlikely to be anyone's sleep argument, unique per call.
fn marker() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    7_000_000 + u64::from(nanos % 1_000_000) + u64::from(std::process::id() % 1000) * 1_000_000
}

/// Host pids of processes whose command line is `sleep MARKER`.
fn sleepers(marker: u64) -> Vec<u32> {
    let out = Command::new("pgrep")
        .args(["-f", &format!("^sleep {marker}$")])
        .output()
        .expect("failed to run pgrep");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Waits a little for `marker`'s sleepers to disappear; returns those still there.
fn survivors_after(marker: u64, patience: Duration) -> Vec<u32> {
    let mut left = sleepers(marker);
    wait_until(patience, || {
        left = sleepers(marker);
        left.is_empty()
    });
    left
}

fn kill_all(pids: &[u32]) {
    for pid in pids {
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
}

/// The `detail` of `layer` in the run record.
fn layer_detail(outcome: &Outcome, layer: &str) -> String {
    let layers = outcome.record()["report"]["layers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    layers
        .iter()
        .find(|l| l["layer"] == layer)
        .and_then(|l| l["detail"].as_str())
        .unwrap_or("")
        .to_string()
}

fn kill_reason(outcome: &Outcome) -> String {
    outcome.record()["kill_reason"]
        .as_str()
        .unwrap_or("none")
        .to_string()
}

/// The level a limit gets from this caller: a cgroup for root, rlimits otherwise.
fn expected_limit_level(caller: Caller) -> &'static str {
    match caller {
        Caller::Root => "enforced",
        Caller::Unprivileged => "partial",
    }
}

for_both_callers! {
    /// A fork bomb against `--pids 32`: forks stop near the limit. Without the limit the
    /// same program makes every one of its 300 children.
    fn fork_bomb(caller) {
        let rw = run_dir(caller);
        let base = cordon(caller).rw(rw.path()).limit("--timeout", "60s").json();
        let (free, control) = forks_made(base.clone().limit("--pids", "none"), 300);
        assert_eq!(free, 300, "the control could not fork freely\n{control}");

        let (made, confined) = forks_made(base.limit("--pids", "32"), 300);
        assert!(made < 32, "the fork bomb made {made} children under --pids 32\n{confined}");
        if caller == Caller::Root {
            let hits = confined.record()["usage"]["pids_limit_hits"].as_u64().unwrap_or(0);
            assert!(hits > 0, "the record counts no refused fork\n{confined}");
            assert!(confined.stderr.contains("process limit"), "{confined}");
        }
        assert_eq!(
            confined.layer_level("limit.pids").as_deref(),
            Some(expected_limit_level(caller)),
            "{confined}"
        );
        if caller == Caller::Unprivileged {
            assert!(layer_detail(&confined, "limit.pids").contains("RLIMIT_NPROC"), "{confined}");
        }
    }

    /// A memory bomb against `--memory 128MiB`: it is stopped before touching 256 MiB,
    /// and the record names the memory limit. Without a limit it touches all 256 MiB.
    fn memory_bomb(caller) {
        let rw = run_dir(caller);
        let base = cordon(caller).rw(rw.path()).limit("--timeout", "60s").json();
        let control = base.clone().run(&[PYTHON, "-c", MEMORY_BOMB, "256"]);
        assert!(control.stdout.contains("done"), "the control could not allocate\n{control}");

        let confined = base.limit("--memory", "128MiB").run(&[PYTHON, "-c", MEMORY_BOMB, "256"]);
        assert!(!confined.stdout.contains("done"), "the memory bomb finished\n{confined}");
        assert!(touched_mib(&confined) <= 128, "touched {} MiB\n{confined}", touched_mib(&confined));
        assert_ne!(confined.code(), Some(0), "{confined}");
        assert_eq!(
            confined.layer_level("limit.memory").as_deref(),
            Some(expected_limit_level(caller)),
            "{confined}"
        );
        if caller == Caller::Root {
            assert_eq!(kill_reason(&confined), "memory", "{confined}");
            assert!(confined.stderr.contains("memory"), "stderr names no reason\n{confined}");
            let peak = confined.record()["usage"]["peak_memory_bytes"].as_u64().unwrap_or(0);
            assert!(peak > 64 << 20 && peak <= 129 << 20, "peak {peak}\n{confined}");
        }
    }

    /// Filling the disk through one file against `--file-size 8MiB`: the write stops at
    /// 8 MiB. A program that keeps SIGXFSZ's default dies of it and the record says
    /// `file_size`; Python ignores the signal and gets EFBIG instead. Without the limit
    /// all 32 MiB are written.
    fn disk_fill(caller) {
        let rw = run_dir(caller);
        let target = rw.path().join("fill.bin");
        let file = target.to_string_lossy().into_owned();
        let base = cordon(caller).rw(rw.path()).json();
        let control = base.clone().run(&[PYTHON, "-c", DISK_FILL, &file, "32"]);
        assert!(control.stdout.contains("done"), "{control}");
        assert_eq!(std::fs::metadata(&target).unwrap().len(), 32 << 20);

        let limited = base.limit("--file-size", "8MiB");
        let confined = limited.clone().run(&[PYTHON, "-c", DISK_FILL, &file, "32"]);
        assert!(!confined.stdout.contains("done"), "{confined}");
        assert!(confined.stderr.contains("File too large"), "{confined}");
        assert!(std::fs::metadata(&target).unwrap().len() <= 8 << 20);

        let shell = format!("exec head -c 33554432 /dev/zero > {file}");
        let killed = limited.run(&["/bin/sh", "-c", &shell]);
        assert!(std::fs::metadata(&target).unwrap().len() <= 8 << 20);
        assert_eq!(kill_reason(&killed), "file_size", "{killed}");
        assert!(killed.stderr.contains("file_size"), "{killed}");
    }

    /// Filling the disk with many files, each below `--file-size`, by `fallocate` (which
    /// takes no time): against `--disk 64MiB` the host folder ends below 65 MiB. Without
    /// a disk budget the same program puts all 256 MiB on the host's disk.
    fn disk_fill_with_many_files(caller) {
        let fill = "for i in $(seq 16); do fallocate -l 16M f$i || exit 3; done";
        let rw = run_dir(caller);
        let base = cordon(caller).rw(rw.path()).limit("--file-size", "32MiB").cwd(rw.path()).json();
        base.clone().run(&["/bin/sh", "-c", fill]).expect_success();
        assert!(tree_bytes(rw.path()) >= 256 << 20, "the control did not fill 256 MiB");
        for entry in std::fs::read_dir(rw.path()).unwrap() {
            std::fs::remove_file(entry.unwrap().path()).unwrap();
        }

        let confined = base.limit("--disk", "64MiB").run(&["/bin/sh", "-c", fill]);
        confined.expect_code(3);
        assert!(confined.stderr.contains("No space left"), "{confined}");
        let kept = tree_bytes(rw.path());
        assert!(kept <= 65 << 20, "{kept} bytes reached the host disk\n{confined}");
        assert_eq!(confined.layer_level("limit.disk").as_deref(), Some("enforced"), "{confined}");
        assert_eq!(confined.record()["usage"]["disk_bytes"].as_u64(), Some(kept));
    }

    /// What a run leaves in its folder under a disk budget reaches the host when it ends,
    /// even when the timeout ends it: new files and folders, deletions, and links as
    /// links; setuid bits do not survive the copy.
    fn disk_budget_copies_results_back(caller) {
        let rw = run_dir(caller);
        std::fs::write(rw.path().join("input.txt"), "input").unwrap();
        std::fs::write(rw.path().join("obsolete.txt"), "old").unwrap();
        give_to(caller, &rw.path().join("input.txt"));
        give_to(caller, &rw.path().join("obsolete.txt"));
        let script = "cp input.txt out/copy.txt 2>/dev/null || { mkdir out; cp input.txt out/copy.txt; }
rm obsolete.txt
ln -s /etc/shadow out/link
printf x > out/tool; chmod 6755 out/tool
trap '' TERM; sleep 600";
        let outcome = cordon(caller)
            .rw(rw.path())
            .cwd(rw.path())
            .limit("--disk", "16MiB")
            .limit("--timeout", "2s")
            .run(&["/bin/sh", "-c", script]);
        outcome.expect_code(124);
        let out = rw.path().join("out");
        assert_eq!(std::fs::read_to_string(out.join("copy.txt")).unwrap(), "input", "{outcome}");
        assert!(!rw.path().join("obsolete.txt").exists(), "a deletion was lost");
        assert_eq!(std::fs::read_link(out.join("link")).unwrap(), std::path::Path::new("/etc/shadow"));
        let (uid, _, mode) = owner_and_mode(&out.join("tool"));
        assert_eq!(mode & 0o7000, 0, "setuid/setgid bits came back: {mode:o}");
        assert_eq!(uid, caller.run_uid());
    }

    /// SIGTERM to cordon cancels the run: the whole tree (a survivor planted with
    /// `setsid` included) is ended, and the record and stderr say `cancel`.
    fn cancel_by_sigterm_to_cordon(caller) {
        let rw = run_dir(caller);
        let mark = marker() + 4;
        let script = format!("{}; trap '' TERM; sleep 600", survivor_script(mark));
        let running = cordon(caller).rw(rw.path()).json().spawn(&["/bin/sh", "-c", &script]);
        assert!(wait_until(Duration::from_secs(20), || !sleepers(mark).is_empty()));
        let status = Command::new("kill")
            .args(["-TERM", &running.pid().to_string()])
            .status()
            .expect("failed to run kill");
        assert!(status.success());
        let outcome = running.wait();
        assert_eq!(kill_reason(&outcome), "cancel", "{outcome}");
        assert!(outcome.stderr.contains("(cancel)"), "{outcome}");
        let left = survivors_after(mark, Duration::from_secs(3));
        kill_all(&left);
        assert!(left.is_empty(), "survivors after a cancel: {left:?}");
    }

    /// A CPU spin against `--cpu 1s`: killed for CPU, long before its 60 s timeout.
    fn cpu_spin(caller) {
        let rw = run_dir(caller);
        let spin = ["/bin/sh", "-c", "while :; do :; done"];
        let started = Instant::now();
        let confined = cordon(caller)
            .rw(rw.path())
            .limit("--cpu", "1s")
            .limit("--timeout", "60s")
            .json()
            .run(&spin);
        assert_eq!(kill_reason(&confined), "cpu", "{confined}");
        assert!(started.elapsed() < Duration::from_secs(50), "the spin ran to the timeout");
        let cpu = confined.record()["user_cpu_ms"].as_f64().unwrap_or(0.0)
            + confined.record()["sys_cpu_ms"].as_f64().unwrap_or(0.0);
        assert!(cpu >= 500.0, "the record shows {cpu} ms of CPU\n{confined}");
    }

    /// A spin without `--cpu` runs until the wall clock ends it: exit 124, `timed_out`.
    fn cpu_spin_until_timeout(caller) {
        let rw = run_dir(caller);
        let confined = cordon(caller)
            .rw(rw.path())
            .limit("--timeout", "1s")
            .json()
            .run(&["/bin/sh", "-c", "trap '' TERM; while :; do :; done"]);
        confined.expect_code(124);
        assert_eq!(confined.record()["status"], "timed_out", "{confined}");
        assert_eq!(kill_reason(&confined), "timeout", "{confined}");
        assert!(confined.stderr.contains("timeout"), "{confined}");
    }

    /// 512 MiB on stdout: cordon passes the stream through and its own memory stays small.
    fn stdout_flood(caller) {
        let rw = run_dir(caller);
        let flood = ["/bin/sh", "-c", "head -c 536870912 /dev/zero"];
        let mut running = cordon(caller).rw(rw.path()).spawn(&flood);
        let pid = running.pid();
        let mut peak_kib = 0u64;
        while running.is_running() {
            peak_kib = peak_kib.max(vm_hwm_kib(pid));
            std::thread::sleep(Duration::from_millis(20));
        }
        let outcome = running.wait();
        outcome.expect_success();
        assert_eq!(outcome.raw_stdout.len(), 512 << 20, "the stream was cut");
        assert!(peak_kib < 64 << 10, "cordon's own peak RSS reached {peak_kib} KiB");
    }

    /// The command exits normally, leaving a `setsid` double-forked child that ignores
    /// SIGTERM. Confined, it is gone when cordon returns; with `--mode off`, it stays.
    fn setsid_survivor_after_exit(caller) {
        let rw = run_dir(caller);
        let base = cordon(caller).rw(rw.path());
        let mark = marker();
        base.clone().mode("off").run(&["/bin/sh", "-c", &survivor_script(mark)]).expect_success();
        let escaped = survivors_after(mark, Duration::from_millis(500));
        kill_all(&escaped);
        assert!(!escaped.is_empty(), "the control left no survivor: the test proves nothing");

        let mark = marker() + 1;
        base.run(&["/bin/sh", "-c", &survivor_script(mark)]).expect_success();
        let left = survivors_after(mark, Duration::from_secs(3));
        kill_all(&left);
        assert!(left.is_empty(), "survivors after a normal exit: {left:?}");
    }

    /// The same survivor, planted by a command that then outlives `--timeout`.
    fn setsid_survivor_after_timeout(caller) {
        let rw = run_dir(caller);
        let mark = marker() + 2;
        let script = format!("{}; trap '' TERM; sleep 600", survivor_script(mark));
        let outcome = cordon(caller)
            .rw(rw.path())
            .limit("--timeout", "2s")
            .run(&["/bin/sh", "-c", &script]);
        outcome.expect_code(124);
        let left = survivors_after(mark, Duration::from_secs(3));
        kill_all(&left);
        assert!(left.is_empty(), "survivors after the timeout: {left:?}");
    }

    /// The survivor is planted, then cordon itself is killed with SIGKILL: every process
    /// of the run dies within a second or so (parent-death signals and the pid namespace).
    fn setsid_survivor_after_cordon_is_killed(caller) {
        let rw = run_dir(caller);
        survivor_after_sigkill_of(cordon(caller).rw(rw.path()), marker() + 3);
    }
}

for_both_callers! {
    /// At the timeout the command first gets SIGTERM and the grace period: one that
    /// catches it leaves a note before it exits, and the run still ends as timed out.
    /// (A command that ignores SIGTERM is killed after the grace: `cpu_spin_until_timeout`.)
    fn timeout_sends_sigterm_before_sigkill(caller) {
        let rw = run_dir(caller);
        let note = rw.path().join("terminated");
        let code = "import signal, sys, time
def bye(*_):
    open(sys.argv[1], 'w').write('term')
    sys.exit(0)
signal.signal(signal.SIGTERM, bye)
print('waiting', flush=True)
time.sleep(60)";
        let outcome = cordon(caller)
            .rw(rw.path())
            .limit("--timeout", "1s")
            .json()
            .run(&[PYTHON, "-c", code, &note.to_string_lossy()]);
        outcome.expect_code(124);
        assert_eq!(outcome.record()["status"], "timed_out", "{outcome}");
        let noted = std::fs::read_to_string(&note).unwrap_or_default();
        assert_eq!(noted, "term", "the command never saw SIGTERM\n{outcome}");
    }

    /// `--open-files 64` caps the descriptors of each process: opening stops below 64.
    /// Unconfined (`--mode off`), the same program opens all 200.
    fn descriptor_flood(caller) {
        let rw = run_dir(caller);
        let code = "import os
fds = []
try:
    for _ in range(200):
        fds.append(os.open('/dev/null', os.O_RDONLY))
except OSError:
    pass
print(len(fds))";
        let base = cordon(caller).rw(rw.path()).json();
        let control = base.clone().mode("off").run(&[PYTHON, "-c", code]);
        assert_eq!(control.stdout.trim(), "200", "{control}");
        let confined = base.limit("--open-files", "64").run(&[PYTHON, "-c", code]);
        confined.expect_success();
        let opened: u32 = confined.stdout.trim().parse().unwrap_or(u32::MAX);
        assert!(opened < 64, "opened {opened} descriptors under --open-files 64\n{confined}");
        assert_eq!(confined.layer_level("limit.open_files").as_deref(), Some("enforced"));
    }

    /// Core dumps are off in every run, for good: RLIMIT_CORE is 0, soft and hard, so a
    /// crashing command cannot write its memory to disk. Unconfined, the hard limit is
    /// the caller's.
    fn core_dumps_are_off(caller) {
        let rw = run_dir(caller);
        let code = "import resource; print(resource.getrlimit(resource.RLIMIT_CORE))";
        let base = cordon(caller).rw(rw.path()).json();
        let control = base.clone().mode("off").run(&[PYTHON, "-c", code]);
        assert_ne!(control.stdout.trim(), "(0, 0)", "{control}");
        let confined = base.run(&[PYTHON, "-c", code]);
        assert_eq!(confined.stdout.trim(), "(0, 0)", "{confined}");
        assert_eq!(confined.layer_level("limit.core").as_deref(), Some("enforced"));
    }
}

/// The usage report covers the whole tree, as the run's cgroup accounted it: wall time,
/// CPU time, peak memory and the peak number of processes (the shell and its three
/// children at once).
#[test]
fn usage_report_covers_the_whole_tree() {
    let rw = run_dir(Caller::Root);
    let outcome = cordon(Caller::Root).rw(rw.path()).json().run(&[
        "/bin/sh",
        "-c",
        "sleep 1 & sleep 1 & sleep 1 & wait",
    ]);
    outcome.expect_success();
    let usage = &outcome.record()["usage"];
    assert!(
        usage["wall_ms"].as_f64().unwrap_or(0.0) >= 1000.0,
        "{outcome}"
    );
    assert!(usage["user_cpu_ms"].is_number() && usage["sys_cpu_ms"].is_number());
    assert!(
        usage["peak_memory_bytes"].as_u64().unwrap_or(0) > 0,
        "{outcome}"
    );
    assert!(
        usage["peak_processes"].as_u64().unwrap_or(0) >= 4,
        "{outcome}"
    );
}

/// As above, in the tier without namespaces (root, so the run has its cgroups): no pid
/// namespace takes the run down, so the helper's waiter, which watches cordon, kills the
/// run's cgroup when cordon is gone.
#[test]
fn setsid_survivor_after_cordon_is_killed_without_namespaces() {
    let (_policy, tier) = no_namespaces(Caller::Root);
    let rw = run_dir(Caller::Root);
    survivor_after_sigkill_of(
        cordon(Caller::Root).policy(&tier).rw(rw.path()),
        marker() + 4,
    );
}

/// Starts `run` planting a `setsid` survivor marked `mark`, kills cordon with SIGKILL and
/// asserts that nothing of the run is left.
fn survivor_after_sigkill_of(run: Cordon, mark: u64) {
    let script = format!("{}; sleep 600", survivor_script(mark));
    let mut running = run.spawn(&["/bin/sh", "-c", &script]);
    let planted = wait_until(Duration::from_secs(20), || !sleepers(mark).is_empty());
    assert!(planted, "the survivor never started");
    let status = Command::new("kill")
        .args(["-9", &running.pid().to_string()])
        .status()
        .expect("failed to run kill");
    assert!(status.success());
    assert!(wait_until(Duration::from_secs(5), || !running.is_running()));
    let left = survivors_after(mark, Duration::from_secs(2));
    kill_all(&left);
    assert!(
        left.is_empty(),
        "survivors after SIGKILL of cordon: {left:?}"
    );
}

/// The run's cgroups hold every process of the run, the first and its children, in each
/// hierarchy (on this host v1 memory and pids, and the v2 tree): with a pid namespace,
/// where the namespace's init is created inside the v2 cgroup, and without namespaces,
/// where the command's first process is created inside it. A process outside one of them
/// would escape the limit or the kill that hierarchy carries. Read from the host, since
/// the lower tier has no /proc.
#[test]
fn every_process_of_the_run_is_in_the_run_cgroups() {
    let (_policy, lower) = no_namespaces(Caller::Root);
    for policy in [None, Some(&lower)] {
        let mark = marker();
        let dir = run_dir(Caller::Root);
        let mut run = cordon(Caller::Root)
            .rw(dir.path())
            .limit("--pids", "32")
            .limit("--memory", "256MiB");
        if let Some(p) = policy {
            run = run.policy(p);
        }
        let script = format!("sleep {mark} & exec sleep {mark}");
        let running = run.spawn(&["/bin/sh", "-c", &script]);
        assert!(
            wait_until(Duration::from_secs(20), || sleepers(mark).len() == 2),
            "the run's two processes never started ({policy:?})"
        );
        let groups: Vec<String> = sleepers(mark)
            .iter()
            .map(|pid| std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default())
            .collect();
        let cordon_pid = running.pid().to_string();
        let _ = Command::new("kill").args(["-TERM", &cordon_pid]).status();
        running.wait();
        for own in &groups {
            for hierarchy in [":memory:", ":pids:", "0::"] {
                let placed = own
                    .lines()
                    .any(|l| l.contains(hierarchy) && l.contains("/cordon/run-"));
                assert!(
                    placed,
                    "not in the run's {hierarchy} cgroup ({policy:?}):\n{own}"
                );
            }
        }
        assert_eq!(groups[0], groups[1], "the child left its parent's cgroups");
    }
}

/// Two tenants' runs at once, as root: each has its own uid and its own cgroup, so one
/// tenant's fork bomb cannot use up the other's process budget.
#[test]
fn tenants_do_not_share_a_budget() {
    let (a, b) = (run_dir(Caller::Root), run_dir(Caller::Root));
    let hold = "import os, time, sys
print(os.getuid(), open('/proc/self/cgroup').read().replace(chr(10), ' '), flush=True)
time.sleep(float(sys.argv[1]))";
    let alpha = cordon(Caller::Root)
        .rw(a.path())
        .tenant("budget-alpha")
        .limit("--pids", "16")
        .spawn(&[PYTHON, "-c", hold, "3"]);
    let (made, beta) = forks_made(
        cordon(Caller::Root)
            .rw(b.path())
            .tenant("budget-beta")
            .limit("--pids", "16"),
        12,
    );
    let alpha = alpha.wait();
    alpha.expect_success();
    assert_eq!(
        made, 12,
        "beta's budget was shared with alpha's run\n{beta}"
    );
    let alpha_uid = alpha
        .stdout
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string();
    assert!(!alpha_uid.is_empty() && alpha_uid != "0", "{alpha}");
}

/// Bytes of every regular file below `dir`.
fn tree_bytes(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        total += if meta.is_dir() {
            tree_bytes(&entry.path())
        } else {
            meta.len()
        };
    }
    total
}

/// `/proc/PID/status` VmHWM of a live process, in KiB (0 once it is gone).
fn vm_hwm_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Every cgroup a run creates is gone when cordon returns, whether the run exited, timed
/// out or hit a limit.
#[test]
fn runs_leave_no_cgroup_behind() {
    let rw = run_dir(Caller::Root);
    let base = cordon(Caller::Root).rw(rw.path()).json();
    let runs = [
        base.clone().run(&["/bin/true"]),
        base.clone()
            .limit("--timeout", "1s")
            .run(&["/bin/sh", "-c", "sleep 30 & sleep 30"]),
        base.limit("--memory", "64MiB")
            .run(&[PYTHON, "-c", MEMORY_BOMB, "256"]),
    ];
    for outcome in &runs {
        let detail = layer_detail(outcome, "kill");
        let path = detail
            .split_whitespace()
            .find(|w| w.starts_with("/sys/fs/cgroup/"))
            .unwrap_or_else(|| panic!("the record names no cgroup\n{outcome}"));
        assert!(
            !std::path::Path::new(path).exists(),
            "{path} is left behind\n{outcome}"
        );
    }
}

/// The account the delegation test uses: unprivileged, with the v1 memory, pids and
/// cpuacct hierarchies delegated to it as `<mount>/cordon/user-<uid>` (what an
/// administrator does for a tool server that runs without root).
const DELEGATED_USER: &str = "cordon-deleg";

fn delegated_uid() -> u32 {
    let create = format!(
        "id -u {DELEGATED_USER} >/dev/null 2>&1 || \
         useradd --system --no-create-home --shell /usr/sbin/nologin {DELEGATED_USER}"
    );
    let status = Command::new("flock")
        .args(["/tmp/cordon-test-useradd.lock", "sh", "-c", &create])
        .status()
        .expect("failed to run useradd");
    assert!(status.success());
    let out = Command::new("id")
        .args(["-u", DELEGATED_USER])
        .output()
        .unwrap();
    let uid: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    for controller in ["memory", "pids", "cpuacct"] {
        let dir = format!("/sys/fs/cgroup/{controller}/cordon/user-{uid}");
        let _ = std::fs::create_dir_all(&dir);
        let status = Command::new("chown")
            .args(["-R", &format!("{uid}:{uid}"), &dir])
            .status()
            .unwrap();
        assert!(status.success(), "failed to delegate {dir}");
    }
    uid
}

/// An unprivileged caller with a delegated cgroup gets whole-run limits, so strict mode
/// runs with its default limits; the fork bomb stops at `--pids`, and the run cgroup is
/// made and removed inside the delegated folder.
#[test]
fn delegated_cgroup_gives_an_unprivileged_caller_strict_limits() {
    let uid = delegated_uid();
    let rw = run_dir(Caller::Root);
    chown(rw.path(), uid, uid);
    let argv = |extra: &[&str]| {
        let mut a: Vec<std::ffi::OsString> = vec![cordon_bin().into(), "run".into()];
        for x in ["--mode", "strict", "--json", "--rw"] {
            a.push(x.into());
        }
        a.push(rw.path().into());
        a.extend(extra.iter().map(std::ffi::OsString::from));
        a
    };
    let run = |extra: &[&str]| {
        let out = as_uid(uid, uid, &argv(extra))
            .current_dir(rw.path())
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code(), stdout, stderr)
    };
    let (code, stdout, stderr) = run(&["--pids", "32", "--", PYTHON, "-c", FORK_BOMB, "300"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let made: u64 = stdout
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .parse()
        .unwrap_or(999);
    assert!(made < 32, "the fork bomb made {made} children\n{stdout}");
    let record: serde_json::Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .expect("no record");
    let layers = record["report"]["layers"].as_array().unwrap();
    for name in ["limit.memory", "limit.pids", "kill"] {
        let layer = layers.iter().find(|l| l["layer"] == name).unwrap();
        assert_eq!(layer["level"], "enforced", "{name}: {layer}");
    }
    let pids = layers.iter().find(|l| l["layer"] == "limit.pids").unwrap();
    let detail = pids["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("cordon/user-{uid}/run-")),
        "{detail}"
    );
    let leftovers = std::fs::read_dir(format!("/sys/fs/cgroup/pids/cordon/user-{uid}"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("run-"))
        .count();
    assert_eq!(leftovers, 0, "run cgroups left behind");
}
