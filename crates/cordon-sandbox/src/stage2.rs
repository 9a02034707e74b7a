//! The stage-2 helper: a freshly executed, single-threaded copy of cordon that applies the
//! policy, in order, and then becomes the command.
//!
//! Order, and why:
//! 1. join the run's v1 cgroups and open its v2 one while still privileged (see
//!    [`CgroupEntry`] for how, without the cost of moving a process);
//! 2. enter namespaces (a user namespace first when not root);
//! 3. with a pid namespace, fork: the parent only waits, the child is the namespace's
//!    init, created inside the run's v2 cgroup, which builds the new root, starts the
//!    command and reaps; when it exits the kernel kills everything left in the
//!    namespace, so nothing outlives the command. Without one, where there is a v2
//!    cgroup, the command's process is forked inside it and the helper only waits;
//!    without either, the helper becomes the command itself;
//! 4. in the command's process: open the Landlock paths (still privileged), set limits,
//!    drop groups, gid and uid, ask for SIGKILL on parent death (after the uid change,
//!    which clears it), start a new session, set `no_new_privs`, enforce Landlock, install
//!    seccomp last (the steps before it use calls it refuses), verify the credentials,
//!    mark every inherited descriptor close-on-exec, and `execve`.
//!
//! A step that fails aborts with exit code 125 and a message naming the step. In strict
//! mode the run is refused, also with 125, when any layer is short of fully enforced.

use crate::report::{LayerReport, Report};
use crate::spec::{
    CgroupEntry, ExitState, Message, RunSpec, BUILD_ID, MAX_SPEC_BYTES, NO_FALLBACK, SPEC_FD,
    STATUS_FD,
};
use crate::{fds, identity, landlock, mount, namespace, rlimit, seccomp, session};
use cordon_policy::{Mode, Net};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use rustix::process::{getgid, getpid, getuid, Pid};
use std::ffi::CString;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Exit code when the sandbox could not be set up or strict mode refused.
pub const EXIT_SETUP: i32 = 125;
/// Exit code when the command exists but cannot be executed.
pub const EXIT_NOT_EXECUTABLE: i32 = 126;
/// Exit code when the command was not found.
pub const EXIT_NOT_FOUND: i32 = 127;

struct Failure {
    step: &'static str,
    error: String,
}

fn at<E: std::fmt::Display>(step: &'static str) -> impl FnOnce(E) -> Failure {
    move |e| Failure {
        step,
        error: e.to_string(),
    }
}

/// Entry point of `cordon __stage2 BUILD FALLBACK`. Never returns.
///
/// `BUILD` is the supervisor's [`BUILD_ID`]. A helper of another build (a `cordon-stage2`
/// left beside a newer `cordon`) does not read the spec: it executes `FALLBACK` (the
/// supervisor's own binary, which serves as the helper too) with the descriptors as they
/// are, or, when there is none, fails the run with a message that says so.
pub fn main() -> ! {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let mismatch = args.get(2).and_then(|a| a.to_str()) != Some(BUILD_ID);
    let fallback = args.get(3).filter(|f| f.as_os_str() != NO_FALLBACK);
    if mismatch {
        if let Some(fallback) = fallback {
            use std::os::unix::process::CommandExt;
            // Only returns on failure; the failure is reported below.
            let _ = std::process::Command::new(fallback)
                .arg(crate::supervisor::STAGE2_ARG)
                .arg(args.get(2).map(|a| a.as_os_str()).unwrap_or_default())
                .arg(NO_FALLBACK)
                .env_clear()
                .exec();
        }
    }
    // SAFETY: the supervisor placed the write end of the status pipe on STATUS_FD and
    // nothing else in this fresh process owns it.
    let status = unsafe { OwnedFd::from_raw_fd(STATUS_FD) };
    let _ = rustix::io::fcntl_setfd(&status, rustix::io::FdFlags::CLOEXEC);
    let mut out = std::fs::File::from(status);
    if mismatch {
        let me = std::env::current_exe().unwrap_or_default();
        let error = format!(
            "{} was built from other sources than the cordon that started it (a stale \
             cordon-stage2 beside it?); rebuild both, for example with cargo build \
             --release -p cordon",
            me.display()
        );
        let step = "check the helper's build";
        fail(&mut out, Failure { step, error }, Report::default());
    }
    let spec = match read_spec() {
        Ok(spec) => spec,
        Err(f) => fail(&mut out, f, Report::default()),
    };
    // Anything inherited beyond stdio and the status pipe is the caller's, not ours.
    if let Err(e) = fds::close_from(5) {
        fail(
            &mut out,
            at("close inherited descriptors")(e),
            spec.pre_report.clone(),
        );
    }
    if spec.policy.mode == Mode::Off {
        exec_command(&mut out, &spec, spec.pre_report.clone());
    }
    let mut report = spec.pre_report.clone();
    session::ignore_termination();
    match confine(&mut out, &spec, &mut report) {
        Ok(()) => exec_command(&mut out, &spec, report),
        Err(f) => fail(&mut out, f, report),
    }
}

fn read_spec() -> Result<RunSpec, Failure> {
    // SAFETY: the supervisor placed the read end of the spec pipe on SPEC_FD for us alone.
    let file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(SPEC_FD) });
    let mut buf = Vec::new();
    file.take(MAX_SPEC_BYTES as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(at("read the run spec"))?;
    if buf.len() > MAX_SPEC_BYTES {
        return Err(at("read the run spec")("larger than 4 MiB"));
    }
    serde_json::from_slice(&buf).map_err(at("parse the run spec"))
}

fn send(out: &mut std::fs::File, msg: &Message) {
    if let Ok(mut line) = serde_json::to_vec(msg) {
        line.push(b'\n');
        let _ = out.write_all(&line);
    }
}

fn fail(out: &mut std::fs::File, f: Failure, report: Report) -> ! {
    send(
        out,
        &Message::SetupFailed {
            step: f.step.to_owned(),
            error: f.error,
            report,
        },
    );
    std::process::exit(EXIT_SETUP)
}

fn confine(out: &mut std::fs::File, spec: &RunSpec, report: &mut Report) -> Result<(), Failure> {
    let policy = &spec.policy;
    let root = getuid().is_root();
    // The process the command must not outlive; it changes with each fork below.
    let mut parent = rustix::process::getppid();
    let v2 = join_cgroups(&spec.cgroup).map_err(at("join the run's cgroup"))?;

    let (ns, reports) = if policy.namespaces {
        namespace::enter(
            root,
            policy.net == Net::Deny,
            getuid().as_raw(),
            getgid().as_raw(),
        )
    } else {
        namespace::declined()
    };
    report.layers.extend(reports);
    if ns.pid {
        pid_namespace_kills(report);
        become_init_parent(out, parent, v2)?;
        parent = None;
    } else if let Some(v2) = v2 {
        parent = Some(become_command_waiter(out, parent, v2)?);
    }
    if ns.uts {
        namespace::set_hostname().map_err(at("set the host name"))?;
    }
    let mut ro: Vec<_> = policy.system_ro.iter().map(|g| g.path.clone()).collect();
    ro.extend(policy.ro.iter().cloned());
    let proc = ns.pid && ns.mount;
    if ns.mount {
        let disk = policy.limits.disk.map(|bytes| mount::DiskPlan {
            bytes,
            owner: spec.run_ids.filter(|_| root),
        });
        let plan = mount::RootPlan {
            ro: ro.clone(),
            rw: policy.rw.clone(),
            proc,
            shm_bytes: policy.limits.memory.unwrap_or(64 << 20).min(1 << 30),
            disk,
        };
        let store = mount::build_root(&plan).map_err(at("build the run's root file system"))?;
        if let Some(store) = store {
            send_store(out, &store).map_err(at("hand the disk budget's tmpfs to cordon"))?;
        }
    }
    report.layers.extend(mount_reports(ns.mount, proc));
    report.push(disk_report(policy.limits.disk, ns.mount));
    enter_cwd(spec);
    if ns.pid {
        become_command_parent(out)?;
        parent = Pid::from_raw(1);
    }

    let prepared = landlock::prepare(&landlock::Plan {
        ro,
        rw: policy.rw.clone(),
        proc,
        dev_shm: ns.mount,
        private_root: ns.mount,
        deny_net: policy.net == Net::Deny,
    })
    .map_err(at("prepare the Landlock ruleset"))?;
    let dedicated_uid = root && policy.tenant.is_some();
    let limits = rlimit::apply(
        &policy.limits,
        spec.cgroup_memory,
        spec.cgroup_pids,
        dedicated_uid,
    )
    .map_err(at("set resource limits"))?;
    report.layers.extend(limits);
    match spec.run_ids {
        Some((uid, gid)) if root => identity::drop_to(uid, gid).map_err(at("drop privileges"))?,
        _ => identity::clear_capabilities().map_err(at("clear capabilities"))?,
    }
    session::die_with_parent(parent).map_err(at("set the parent-death signal"))?;
    report.push(session::new_session().map_err(at("start a new session"))?);
    rustix::thread::set_no_new_privs(true).map_err(at("set no_new_privs"))?;
    report.push(LayerReport::enforced(
        "no_new_privs",
        "setuid and file capabilities grant nothing",
    ));
    report
        .layers
        .extend(landlock::restrict(prepared).map_err(at("enforce Landlock"))?);
    // Without a private root, the only way to keep host unix sockets out of reach on a
    // Landlock below ABI 9 is to refuse creating AF_UNIX sockets at all.
    let unix_fallback = !ns.mount && landlock::kernel_abi().unwrap_or(0) < 9;
    report.push(unix_report(ns.mount, unix_fallback));
    let filter =
        seccomp::install(policy.net == Net::Deny, unix_fallback).map_err(at("install seccomp"))?;
    report.push(filter);
    let expected = spec.run_ids.filter(|_| root).map(|(uid, _)| uid);
    report.push(identity::verify(expected, root || ns.user).map_err(at("verify the identity"))?);
    report.push(fds::cloexec_above_stdio().map_err(at("close inherited descriptors"))?);
    if policy.mode == Mode::Strict && !report.is_complete() {
        send(
            out,
            &Message::Refused {
                report: report.clone(),
            },
        );
        std::process::exit(EXIT_SETUP);
    }
    Ok(())
}

/// Without a cgroup of its own the whole-run kill was reported partial; a pid namespace
/// makes it complete: when its init exits, the kernel kills every process left in it,
/// whatever session or process group they moved to.
fn pid_namespace_kills(report: &mut Report) {
    use crate::report::Level;
    for layer in &mut report.layers {
        if layer.layer == "kill" && layer.level == Level::Partial {
            *layer = LayerReport::enforced(
                "kill",
                "the run's own pid namespace: when its init exits, every process left in \
                 it is killed (no cgroup of the run's own)",
            );
        }
    }
}

fn mount_reports(mount: bool, proc: bool) -> Vec<LayerReport> {
    let proc_report = if proc {
        LayerReport::enforced(
            "proc",
            "private read-only procfs of the run's pid namespace",
        )
    } else {
        LayerReport::off(
            "proc",
            "not granted: the run has no pid and mount namespace of its own",
        )
    };
    let shm = if mount {
        LayerReport::enforced(
            "dev_shm",
            "private tmpfs; the host's /dev/shm and /dev/mqueue are absent",
        )
    } else {
        LayerReport::missing(
            "dev_shm",
            "no mount namespace: /dev/shm is not available to the run",
        )
    };
    vec![proc_report, shm]
}

fn disk_report(budget: Option<u64>, mount: bool) -> LayerReport {
    match (budget, mount) {
        (None, _) => LayerReport::off("limit.disk", "no disk budget set"),
        (Some(bytes), true) => LayerReport::enforced(
            "limit.disk",
            format!(
                "read-write folders on a private tmpfs of {bytes} bytes (also counted as \
                 memory), copied back to the host when the run ends"
            ),
        ),
        (Some(_), false) => LayerReport::missing(
            "limit.disk",
            "needs a mount namespace: the read-write folders stay on the host's disk, \
             bounded per file by --file-size only",
        ),
    }
}

/// Sends the disk budget's store to the supervisor, which copies it back after the run:
/// one [`Message::Store`] line carrying the descriptor.
fn send_store(out: &std::fs::File, store: &OwnedFd) -> std::io::Result<()> {
    use rustix::fd::AsFd;
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
    let mut line = serde_json::to_vec(&Message::Store).map_err(std::io::Error::other)?;
    line.push(b'\n');
    let fds = [store.as_fd()];
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(std::io::Error::other("no room for the descriptor"));
    }
    let iov = [std::io::IoSlice::new(&line)];
    let sent = rustix::net::sendmsg(out, &iov, &mut control, SendFlags::empty())?;
    if sent != line.len() {
        return Err(std::io::Error::other("short write on the status socket"));
    }
    Ok(())
}

fn unix_report(private_root: bool, seccomp_fallback: bool) -> LayerReport {
    if private_root {
        LayerReport::enforced(
            "unix_sockets",
            "private root holds only granted paths; abstract names scoped by Landlock",
        )
    } else if seccomp_fallback {
        LayerReport::partial("unix_sockets", "no private root: seccomp refuses AF_UNIX socket() (socketpair still works), which also breaks programs that use unix sockets inside the run")
    } else {
        LayerReport::enforced(
            "unix_sockets",
            "Landlock ABI 9 checks connect() to pathname sockets; abstract names scoped",
        )
    }
}

fn enter_cwd(spec: &RunSpec) {
    let fallback = spec
        .policy
        .rw
        .first()
        .map(|p| p.as_path())
        .unwrap_or(Path::new("/"));
    if std::env::set_current_dir(&spec.cwd).is_err() {
        let _ = std::env::set_current_dir(fallback);
    }
}

/// Forks the pid namespace's init. The parent stays outside, waits for it and exits with
/// its status; the child returns and carries on as pid 1.
/// With `v2`, init is created inside the run's v2 cgroup and the waiter stays out of it.
fn become_init_parent(
    out: &mut std::fs::File,
    supervisor: Option<Pid>,
    v2: Option<V2Cgroup>,
) -> Result<(), Failure> {
    // Init sees its parent as pid 0 (it lives outside the namespace), so it watches a
    // pidfd of the waiter instead of comparing getppid().
    let waiter = rustix::process::pidfd_open(getpid(), rustix::process::PidfdFlags::empty())
        .map_err(at("open a pidfd of the waiter"))?;
    let child = match v2 {
        Some(v2) => v2.fork_into(),
        None => fork(),
    }
    .map_err(at("fork the pid namespace's init"))?;
    if let Some(child) = child {
        // The waiter keeps its copy of the status pipe until it exits, right after init.
        let _ = out;
        // The waiter dies with the supervisor, and init dies with the waiter, so a
        // SIGKILL of cordon takes the whole namespace down. A failure here leaves init
        // without a waiter, which kills it too.
        if session::die_with_parent(supervisor).is_err() {
            std::process::exit(EXIT_SETUP);
        }
        std::process::exit(wait(child).exit_code());
    }
    session::die_with_parent(None).map_err(at("set the parent-death signal"))?;
    let mut fds = [rustix::event::PollFd::new(
        &waiter,
        rustix::event::PollFlags::IN,
    )];
    let gone = rustix::event::poll(&mut fds, Some(&rustix::event::Timespec::default()))
        .map_err(at("check that the waiter is alive"))?;
    if gone > 0 {
        return Err(at("start the pid namespace")(
            "the waiter exited before the run started",
        ));
    }
    Ok(())
}

/// In the namespace's init: forks the command's process and waits for it, reaping every
/// orphan meanwhile, then reports how it ended and exits (which kills the rest).
fn become_command_parent(out: &mut std::fs::File) -> Result<(), Failure> {
    let child = fork().map_err(at("fork the command's process"))?;
    let Some(child) = child else { return Ok(()) };
    let _ = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    report_exit(out, wait(child))
}

/// Without a pid namespace, where the run has a v2 cgroup: forks the command's process
/// inside the cgroup (see [`CgroupEntry`]); this process stays outside it as the waiter,
/// reports how the command ended and exits. Returns in the child, with the waiter's pid
/// (the parent the command must not outlive).
///
/// No pid namespace takes the run down when cordon is SIGKILLed, so the waiter does: it
/// watches a pidfd of the supervisor, and when the supervisor is gone it kills the whole
/// cgroup (`cgroup.kill`), double-forked and `setsid` children included, then exits.
fn become_command_waiter(
    out: &mut std::fs::File,
    supervisor: Option<Pid>,
    v2: V2Cgroup,
) -> Result<Pid, Failure> {
    use rustix::process::{pidfd_open, PidfdFlags};
    let waiter = getpid();
    let watch = supervisor
        .map(|p| pidfd_open(p, PidfdFlags::empty()))
        .transpose()
        .map_err(at("open a pidfd of cordon"))?;
    if rustix::process::getppid() != supervisor {
        return Err(at("start the run")("cordon exited before the run started"));
    }
    let kill = V2Kill::open(&v2.dir).map_err(at("open the run's cgroup.kill"))?;
    let child = v2.fork_into().map_err(at("fork the command's process"))?;
    let Some(child) = child else {
        drop((watch, kill));
        return Ok(waiter);
    };
    let _ = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    let state = match watch {
        Some(watch) => wait_or_kill(child, &watch, &kill),
        None => wait(child),
    };
    report_exit(out, state)
}

/// Tells the supervisor how the command ended, then exits with the same status.
fn report_exit(out: &mut std::fs::File, state: ExitState) -> ! {
    send(out, &Message::Exited { state });
    std::process::exit(state.exit_code())
}

/// Waits for `child` until the supervisor behind `watch` is gone; then kills the whole
/// cgroup first.
fn wait_or_kill(child: Pid, watch: &OwnedFd, kill: &V2Kill) -> ExitState {
    use rustix::event::{poll, PollFd, PollFlags};
    let Ok(own) = rustix::process::pidfd_open(child, rustix::process::PidfdFlags::empty()) else {
        return wait(child);
    };
    loop {
        let mut fds = [
            PollFd::new(&own, PollFlags::IN),
            PollFd::new(watch, PollFlags::IN),
        ];
        match poll(&mut fds, None) {
            Ok(_) if !fds[1].revents().is_empty() => {
                kill.all();
                return wait(child);
            }
            Ok(_) if !fds[0].revents().is_empty() => return wait(child),
            Ok(_) | Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return wait(child),
        }
    }
}

/// The handle that kills every process of the run's v2 cgroup: `cgroup.kill` (Linux
/// 5.14), else a SIGKILL to each process `cgroup.procs` lists, until none is left.
enum V2Kill {
    File(OwnedFd),
    /// The cgroup's directory, to read `cgroup.procs` from.
    Procs(OwnedFd),
}

impl V2Kill {
    fn open(dir: &OwnedFd) -> std::io::Result<V2Kill> {
        use rustix::fs::{openat, Mode, OFlags};
        let flags = OFlags::WRONLY | OFlags::CLOEXEC;
        match openat(dir, "cgroup.kill", flags, Mode::empty()) {
            Ok(fd) => Ok(V2Kill::File(fd)),
            Err(_) => Ok(V2Kill::Procs(rustix::io::fcntl_dupfd_cloexec(dir, 0)?)),
        }
    }

    fn all(&self) {
        match self {
            V2Kill::File(fd) => {
                let _ = rustix::io::write(fd, b"1");
            }
            V2Kill::Procs(dir) => {
                crate::cgroup::kill_listed_in(dir.as_fd());
            }
        }
    }
}

/// The run's v2 cgroup, held open from before the namespaces (whose permission checks
/// the kernel makes with the credentials the files were opened with) until the helper
/// is placed in it.
struct V2Cgroup {
    dir: OwnedFd,
    procs: OwnedFd,
}

impl V2Cgroup {
    /// Moves the helper itself (the slow path: the kernel waits for a grace period).
    fn move_self(self) -> std::io::Result<()> {
        rustix::io::write(&self.procs, b"0")?;
        Ok(())
    }

    /// Forks a child that starts life in the cgroup. Where `clone3` or
    /// `CLONE_INTO_CGROUP` is refused (kernels before 5.7, a seccomp filter above
    /// cordon), the helper moves itself first and forks.
    fn fork_into(self) -> std::io::Result<Option<Pid>> {
        match clone_into_cgroup(self.dir.as_fd()) {
            Ok(child) => Ok(child),
            Err(_) => {
                self.move_self()?;
                fork()
            }
        }
    }
}

/// Joins the run's v1 cgroups (thread-level, see [`CgroupEntry`]) and opens its v2 one.
/// Each error names the file.
fn join_cgroups(entry: &CgroupEntry) -> Result<Option<V2Cgroup>, String> {
    fn named(path: &Path) -> impl FnOnce(std::io::Error) -> String + '_ {
        move |e| format!("{}: {e}", path.display())
    }
    for tasks in &entry.tasks {
        std::fs::write(tasks, b"0").map_err(named(tasks))?;
    }
    let Some(dir) = &entry.v2 else {
        return Ok(None);
    };
    use rustix::fs::{Mode, OFlags};
    let open = |path: &Path, flags: OFlags| {
        rustix::fs::open(path, flags | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| named(path)(e.into()))
    };
    Ok(Some(V2Cgroup {
        dir: open(dir, OFlags::RDONLY | OFlags::DIRECTORY)?,
        procs: open(&dir.join("cgroup.procs"), OFlags::WRONLY)?,
    }))
}

/// `struct clone_args` of `clone3(2)`, up to the `cgroup` field (the layout of
/// `CLONE_ARGS_SIZE_VER2`). The libc crate does not carry it for glibc targets.
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// `fork` whose child is born in the cgroup `dir`: the kernel places it there while
/// holding the thread-group lock only for reading, so no grace period is waited for.
/// Neither the libc crate nor rustix wraps `clone3`, hence the raw call.
fn clone_into_cgroup(dir: BorrowedFd<'_>) -> std::io::Result<Option<Pid>> {
    let args = CloneArgs {
        flags: CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: dir.as_raw_fd() as u64,
        ..CloneArgs::default()
    };
    // SAFETY: `args` is a valid clone_args of the size passed, with no stack (the child
    // continues on a copy of this one, as after fork) and no pointers. As for `fork`
    // below, the helper is single-threaded, so the child inherits a consistent heap and
    // no lock held by another thread. Unlike glibc's fork, the raw call leaves the
    // child's cached thread id stale; nothing in the helper reads it (glibc's raise and
    // fork ask the kernel, and Rust's locks do not record owners).
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match pid {
        -1 => Err(std::io::Error::last_os_error()),
        0 => Ok(None),
        p => {
            let pid = i32::try_from(p).map_err(std::io::Error::other)?;
            Ok(Pid::from_raw(pid))
        }
    }
}

fn fork() -> std::io::Result<Option<Pid>> {
    // SAFETY: the helper is single-threaded (a freshly executed process that started no
    // thread), so the child inherits a consistent heap and no lock held by another thread.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(std::io::Error::last_os_error()),
        0 => Ok(None),
        p => Ok(Pid::from_raw(p)),
    }
}

/// Waits for `child`, reaping any other child that ends meanwhile (orphans of the pid
/// namespace are re-parented to its init).
fn wait(child: Pid) -> ExitState {
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid out-pointer; waiting for any child has no other effect.
        let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
        if pid == -1 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return ExitState::Code(EXIT_SETUP);
        }
        if pid == child.as_raw_nonzero().get() {
            return decode(status);
        }
    }
}

/// Turns a raw wait status into how the process ended.
pub fn decode(status: i32) -> ExitState {
    if libc::WIFSIGNALED(status) {
        ExitState::Signal(libc::WTERMSIG(status))
    } else {
        ExitState::Code(libc::WEXITSTATUS(status))
    }
}

/// Reports readiness and executes the command, searching `PATH` like `execvp`.
fn exec_command(out: &mut std::fs::File, spec: &RunSpec, report: Report) -> ! {
    session::restore_termination();
    send(out, &Message::Ready { report });
    let Some(argv0) = spec.argv.first() else {
        fail(
            out,
            at("start the command")("empty command"),
            Report::default(),
        );
    };
    let cstr = |s: &[u8]| CString::new(s).unwrap_or_default();
    let argv: Vec<CString> = spec.argv.iter().map(|a| cstr(a.as_bytes())).collect();
    let envp: Vec<CString> = spec
        .env
        .iter()
        .map(|(k, v)| cstr(format!("{k}={v}").as_bytes()))
        .collect();
    let path = spec
        .env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    let candidates: Vec<CString> = if argv0.contains('/') {
        vec![cstr(argv0.as_bytes())]
    } else {
        path.split(':')
            .filter(|d| !d.is_empty())
            .map(|d| cstr(Path::new(d).join(argv0).as_os_str().as_bytes()))
            .collect()
    };
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut env_ptrs: Vec<*const libc::c_char> = envp.iter().map(|a| a.as_ptr()).collect();
    env_ptrs.push(std::ptr::null());
    let mut denied = None;
    for candidate in &candidates {
        // SAFETY: every pointer refers to a NUL-terminated CString alive for this call, and
        // both arrays end with a null pointer as execve requires.
        unsafe { libc::execve(candidate.as_ptr(), argv_ptrs.as_ptr(), env_ptrs.as_ptr()) };
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        if errno != libc::ENOENT && errno != libc::ENOTDIR {
            denied = Some(errno);
        }
    }
    let errno = denied.unwrap_or(libc::ENOENT);
    send(
        out,
        &Message::ExecFailed {
            path: argv0.clone(),
            errno,
        },
    );
    std::process::exit(if denied.is_some() {
        EXIT_NOT_EXECUTABLE
    } else {
        EXIT_NOT_FOUND
    })
}
