//! The supervisor: starts the stage-2 helper, feeds it the run spec, follows its status
//! messages and collects how the run ended and what it used.
//!
//! The helper is a freshly executed program (`cordon-stage2 __stage2`), so confinement
//! always happens in a fresh single-threaded process, never between fork and exec. It is
//! started with `posix_spawn` (see [`crate::spawn`]), which also places the spec pipe and
//! the status socket on descriptors 3 and 4.

use crate::cgroup::RunCgroup;
use crate::kill::RunHandle;
use crate::record::{KillReason, RunRecord, RunStatus, SetupError, Usage};
use crate::report::{Level, Report};
use crate::spec::{ExitState, Message, RunSpec, BUILD_ID, NO_FALLBACK, SPEC_FD, STATUS_FD};
use crate::stage2::{decode, EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND, EXIT_SETUP};
use cordon_policy::Mode;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::process::Pid;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Exit code of a run that hit its wall-clock limit.
pub const EXIT_TIMEOUT: i32 = 124;

/// The hidden subcommand that runs the stage-2 helper.
pub const STAGE2_ARG: &str = "__stage2";

#[derive(Debug, thiserror::Error)]
pub enum SuperviseError {
    #[error("failed to create a pipe to the helper: {0}")]
    Pipe(std::io::Error),
    #[error("failed to start the helper {path}: {source}")]
    Spawn {
        path: String,
        source: std::io::Error,
    },
    #[error("failed to send the run spec to the helper: {0}")]
    Spec(std::io::Error),
    #[error("failed to wait for the helper: {0}")]
    Wait(std::io::Error),
}

/// What the supervisor learned from the helper's messages.
#[derive(Default)]
struct Seen {
    report: Option<Report>,
    setup: Option<SetupError>,
    refused: bool,
    exec_failed: Option<i32>,
    exited: Option<ExitState>,
    /// The disk budget's tmpfs, to copy back from once the run has ended.
    store: Option<OwnedFd>,
}

/// Where the command's standard streams go; `None` inherits the supervisor's own.
#[derive(Debug, Default)]
pub struct Stdio {
    pub stdin: Option<OwnedFd>,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
}

impl Stdio {
    fn apply(self, cmd: &mut Command) {
        if let Some(fd) = self.stdin {
            cmd.stdin(fd);
        }
        if let Some(fd) = self.stdout {
            cmd.stdout(fd);
        }
        if let Some(fd) = self.stderr {
            cmd.stderr(fd);
        }
    }
}

/// How the supervisor watches a run.
pub struct Watch<'a> {
    /// The cordon binary to re-execute as the helper.
    pub helper: &'a Path,
    /// The run's cgroup, when the host gave one.
    pub cgroup: Option<&'a RunCgroup>,
    /// How long processes get between SIGTERM and SIGKILL.
    pub grace: Duration,
    /// Readable when the run must be cancelled (for example a signal pipe).
    pub cancel: Option<BorrowedFd<'a>>,
}

/// Runs one confined command and returns its record. `on_ready` is called once with the
/// enforcement report when the command is about to start.
pub fn run(
    spec: &RunSpec,
    watch: &Watch<'_>,
    stdio: Stdio,
    mut on_ready: impl FnMut(&Report),
) -> Result<RunRecord, SuperviseError> {
    let started = Instant::now();
    let (helper_pid, status_r) = if spec.policy.mode == Mode::Off {
        match spawn_unconfined(spec, stdio) {
            Ok(child) => {
                let pid =
                    Pid::from_raw(i32::try_from(child.id()).unwrap_or(0)).ok_or_else(|| {
                        SuperviseError::Wait(std::io::Error::other("command has no pid"))
                    })?;
                (pid, None)
            }
            Err(e) => return Ok(unstarted(spec, &e, started)),
        }
    } else {
        let (child, status_r) = spawn_helper(spec, watch.helper, stdio)?;
        (child, Some(status_r))
    };
    let pidfd = rustix::process::pidfd_open(helper_pid, rustix::process::PidfdFlags::empty())
        .map_err(|e| SuperviseError::Wait(e.into()))?;
    let handle = RunHandle {
        helper: helper_pid,
        pid_namespace: false,
        cgroup: watch.cgroup,
    };
    let mut state = Follow {
        seen: Seen::default(),
        status: status_r.map(std::fs::File::from),
        buf: Vec::new(),
        handle,
        kill: None,
        term_deadline: None,
    };
    let limits = &spec.policy.limits;
    let deadline = limits.timeout.map(|t| started + t);
    loop {
        let now = Instant::now();
        if state.kill.is_none() {
            if deadline.is_some_and(|d| now >= d) {
                state.begin_kill(KillReason::Timeout, watch.grace);
            } else if cpu_spent(watch.cgroup, limits.cpu) {
                state.begin_kill(KillReason::Cpu, watch.grace);
            }
        }
        if state.term_deadline.is_some_and(|d| now >= d) {
            state.handle.kill();
            state.term_deadline = None;
        }
        let wake = [
            deadline.filter(|_| state.kill.is_none()),
            state.term_deadline,
        ]
        .into_iter()
        .flatten()
        .min();
        let mut timeout = wake.map(|w| w.saturating_duration_since(now));
        if limits.cpu.is_some() && watch.cgroup.is_some() {
            timeout = Some(timeout.map_or(CPU_POLL, |t| t.min(CPU_POLL)));
        }
        let (exited, cancelled) = state.poll(&pidfd, watch.cancel, timeout, &mut on_ready)?;
        if cancelled && state.kill.is_none() {
            state.begin_kill(KillReason::Cancel, watch.grace);
        }
        if exited {
            break;
        }
    }
    state.drain(&mut on_ready);
    let (status, rusage) = wait4(helper_pid)?;
    if let Some(cg) = watch.cgroup {
        // Whatever is left (background children outside a pid namespace) goes too.
        let _ = cg.kill();
    }
    let store = state.seen.store.take();
    let mut record = finish(spec, state.seen, decode(status), rusage, started);
    apply_kill_reason(&mut record, state.kill, watch.cgroup, limits.cpu);
    if let Some(store) = store {
        copy_back(spec, &store, &mut record);
    }
    Ok(record)
}

/// Copies the disk budget's tmpfs back into the host folders. Runs once every process of
/// the run is gone (the helper has been reaped and the cgroup or pid namespace killed).
fn copy_back(spec: &RunSpec, store: &OwnedFd, record: &mut RunRecord) {
    use crate::tree::{open_dir, Mirror};
    use rustix::fd::AsFd;
    use rustix::fs::{open, Mode, OFlags};
    let owner = spec
        .run_ids
        .filter(|_| rustix::process::geteuid().is_root());
    let mirror = Mirror { owner, prune: true };
    let mut bytes = 0;
    for (index, path) in spec.policy.rw.iter().enumerate() {
        let name = crate::mount::store_entry(index);
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let result = open_dir(store.as_fd(), name.as_c_str())
            .and_then(|src| Ok((src, open(path, flags, Mode::empty())?)))
            .map_err(|e| format!("failed to open {} for copying back: {e}", path.display()))
            .and_then(|(src, dst)| {
                mirror
                    .run(src.as_fd(), dst.as_fd(), path)
                    .map_err(|e| e.to_string())
            });
        match result {
            Ok(copied) => bytes += copied.bytes,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "copy-back failed");
                record.copy_back_error.get_or_insert(e);
            }
        }
    }
    record.usage.disk_bytes = Some(bytes);
}

/// How often the CPU budget is checked against the cgroup's usage.
const CPU_POLL: Duration = Duration::from_millis(100);

fn cpu_spent(cgroup: Option<&RunCgroup>, budget: Option<Duration>) -> bool {
    match (cgroup, budget) {
        (Some(cg), Some(budget)) => cg.usage().cpu_total.is_some_and(|used| used >= budget),
        _ => false,
    }
}

struct Follow<'a> {
    seen: Seen,
    status: Option<std::fs::File>,
    buf: Vec<u8>,
    handle: RunHandle<'a>,
    kill: Option<KillReason>,
    term_deadline: Option<Instant>,
}

impl Follow<'_> {
    fn begin_kill(&mut self, reason: KillReason, grace: Duration) {
        tracing::info!(reason = ?reason, "ending the run");
        self.kill = Some(reason);
        self.handle.terminate();
        self.term_deadline = Some(Instant::now() + grace);
    }

    /// Waits for the helper to exit, a status message, a cancel or the timeout.
    fn poll(
        &mut self,
        pidfd: &OwnedFd,
        cancel: Option<BorrowedFd<'_>>,
        timeout: Option<Duration>,
        on_ready: &mut impl FnMut(&Report),
    ) -> Result<(bool, bool), SuperviseError> {
        use rustix::event::{poll, PollFd, PollFlags, Timespec};
        let ts = timeout.map(|t| Timespec {
            tv_sec: i64::try_from(t.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(t.subsec_nanos()),
        });
        let mut fds = vec![PollFd::new(pidfd, PollFlags::IN)];
        if let Some(c) = cancel {
            fds.push(PollFd::from_borrowed_fd(c, PollFlags::IN));
        }
        if let Some(f) = &self.status {
            fds.push(PollFd::new(f, PollFlags::IN));
        }
        match poll(&mut fds, ts.as_ref()) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(SuperviseError::Wait(e.into())),
        }
        let exited = !fds[0].revents().is_empty();
        let cancelled = cancel.is_some() && !fds[1].revents().is_empty();
        let status_ready = self.status.is_some() && !fds[fds.len() - 1].revents().is_empty();
        drop(fds);
        if status_ready {
            self.read_status(on_ready);
        }
        Ok((exited, cancelled))
    }

    fn read_status(&mut self, on_ready: &mut impl FnMut(&Report)) {
        use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
        let Some(f) = self.status.as_ref() else {
            return;
        };
        let mut chunk = [0u8; 8192];
        let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let mut iov = [std::io::IoSliceMut::new(&mut chunk)];
        let flags = RecvFlags::CMSG_CLOEXEC;
        match rustix::net::recvmsg(f, &mut iov, &mut control, flags) {
            Ok(msg) if msg.bytes > 0 => {
                for message in control.drain() {
                    if let RecvAncillaryMessage::ScmRights(fds) = message {
                        for fd in fds {
                            self.seen.store.get_or_insert(fd);
                        }
                    }
                }
                self.buf.extend_from_slice(&chunk[..msg.bytes]);
            }
            Ok(_) | Err(_) => self.status = None,
        }
        while let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=pos).collect();
            match serde_json::from_slice::<Message>(&line) {
                Ok(msg) => take(&mut self.seen, msg, on_ready),
                Err(e) => tracing::warn!(error = %e, "unreadable message from the helper"),
            }
        }
        if let Some(report) = &self.seen.report {
            self.handle.pid_namespace = report
                .layers
                .iter()
                .any(|l| l.layer == "namespace.pid" && l.level == Level::Enforced);
        }
    }

    /// Reads what is left on the status pipe once the helper has exited.
    fn drain(&mut self, on_ready: &mut impl FnMut(&Report)) {
        while self.status.is_some() {
            self.read_status(on_ready);
        }
    }
}

fn apply_kill_reason(
    record: &mut RunRecord,
    decided: Option<KillReason>,
    cgroup: Option<&RunCgroup>,
    cpu_limit: Option<Duration>,
) {
    let usage = cgroup.map(|cg| cg.usage());
    if let Some(u) = &usage {
        if u.memory_peak.is_some() {
            record.usage.peak_memory_bytes = u.memory_peak;
            record.usage.peak_memory_source = Some("cgroup memory peak of the whole run".into());
        }
        if let (Some(user), Some(sys)) = (u.cpu_user, u.cpu_system) {
            record.user_cpu_ms = user.as_secs_f64() * 1e3;
            record.sys_cpu_ms = sys.as_secs_f64() * 1e3;
            record.usage.user_cpu_ms = record.user_cpu_ms;
            record.usage.sys_cpu_ms = record.sys_cpu_ms;
        }
        record.usage.pids_limit_hits = Some(u.pids_limit_hits);
        record.usage.peak_processes = u.pids_peak;
        record.usage.oom_kills = Some(u.oom_kills);
    }
    // RLIMIT_CPU sends SIGXCPU at the soft limit and SIGKILL at the hard one; a SIGKILL
    // with the CPU budget spent is the kernel enforcing `--cpu`, not an outside kill.
    let cpu_ms = record.user_cpu_ms + record.sys_cpu_ms;
    let cpu_spent = cpu_limit.is_some_and(|l| cpu_ms >= l.as_secs_f64() * 1e3 * 0.95);
    let by_kernel = match record.signal {
        Some(libc::SIGXCPU) => Some(KillReason::Cpu),
        Some(libc::SIGXFSZ) => Some(KillReason::FileSize),
        Some(libc::SIGKILL) if usage.as_ref().is_some_and(|u| u.oom_kills > 0) => {
            Some(KillReason::Memory)
        }
        Some(libc::SIGKILL) if cpu_spent => Some(KillReason::Cpu),
        _ => None,
    };
    let reason = decided.or(by_kernel);
    let Some(reason) = reason else { return };
    if matches!(record.status, RunStatus::Exited) && decided.is_none() {
        return;
    }
    record.kill_reason = Some(reason);
    if !matches!(record.status, RunStatus::SetupFailed | RunStatus::Refused) {
        record.status = if reason == KillReason::Timeout {
            record.exit_code = EXIT_TIMEOUT;
            RunStatus::TimedOut
        } else {
            RunStatus::Killed
        };
    }
}

/// Starts the stage-2 helper and hands it the spec; returns its pid and the status pipe.
fn spawn_helper(
    spec: &RunSpec,
    helper: &Path,
    stdio: Stdio,
) -> Result<(Pid, OwnedFd), SuperviseError> {
    let (spec_r, spec_w) = pipe()?;
    // A socket, not a pipe: the helper hands over the disk budget's tmpfs on it.
    let (status_r, status_w) = rustix::net::socketpair(
        rustix::net::AddressFamily::UNIX,
        rustix::net::SocketType::STREAM,
        rustix::net::SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| SuperviseError::Pipe(e.into()))?;
    let mut moves = vec![(spec_r.as_fd(), SPEC_FD), (status_w.as_fd(), STATUS_FD)];
    for (fd, target) in [(&stdio.stdin, 0), (&stdio.stdout, 1), (&stdio.stderr, 2)] {
        if let Some(fd) = fd {
            moves.push((fd.as_fd(), target));
        }
    }
    // The supervisor's own binary serves as the helper when `helper` turns out to be of
    // another build (see `stage2::main`).
    let own = std::env::current_exe().ok().filter(|own| own != helper);
    let fallback = own
        .as_deref()
        .and_then(|p| p.to_str())
        .unwrap_or(NO_FALLBACK);
    let args = [STAGE2_ARG, BUILD_ID, fallback];
    let child =
        crate::spawn::spawn(helper, &args, &moves).map_err(|source| SuperviseError::Spawn {
            path: helper.display().to_string(),
            source,
        })?;
    drop(moves);
    drop(stdio);
    drop((spec_r, status_w));
    let mut spec_w = std::fs::File::from(spec_w);
    let body = serde_json::to_vec(spec).map_err(|e| SuperviseError::Spec(e.into()))?;
    spec_w.write_all(&body).map_err(SuperviseError::Spec)?;
    Ok((child, status_r))
}

/// `--mode off`: the command itself, with the caller's environment and descriptors.
fn spawn_unconfined(spec: &RunSpec, stdio: Stdio) -> std::io::Result<Child> {
    let (argv0, args) = spec
        .argv
        .split_first()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "empty command"))?;
    let mut cmd = Command::new(argv0);
    stdio.apply(&mut cmd);
    cmd.args(args)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&spec.cwd)
        .spawn()
}

/// The record of an unconfined command that could not be started.
fn unstarted(spec: &RunSpec, e: &std::io::Error, started: Instant) -> RunRecord {
    let code = if e.kind() == std::io::ErrorKind::NotFound {
        EXIT_NOT_FOUND
    } else {
        EXIT_NOT_EXECUTABLE
    };
    let seen = Seen {
        report: Some(spec.pre_report.clone()),
        exec_failed: e.raw_os_error().or(Some(libc::ENOENT)),
        ..Seen::default()
    };
    // SAFETY: rusage is plain old data, so all-zero is valid.
    let ru: libc::rusage = unsafe { std::mem::zeroed() };
    finish(spec, seen, ExitState::Code(code), ru, started)
}

fn take(seen: &mut Seen, msg: Message, on_ready: &mut impl FnMut(&Report)) {
    match msg {
        Message::Ready { report } => {
            on_ready(&report);
            seen.report = Some(report);
        }
        Message::SetupFailed {
            step,
            error,
            report,
        } => {
            seen.setup = Some(SetupError { step, error });
            seen.report = Some(report);
        }
        Message::Refused { report } => {
            seen.refused = true;
            seen.report = Some(report);
        }
        Message::ExecFailed { errno, .. } => seen.exec_failed = Some(errno),
        Message::Exited { state } => seen.exited = Some(state),
        // The descriptor arrived beside the line and is already in `seen.store`.
        Message::Store => {}
    }
}

fn finish(
    spec: &RunSpec,
    seen: Seen,
    helper_state: ExitState,
    ru: libc::rusage,
    started: Instant,
) -> RunRecord {
    let state = seen.exited.unwrap_or(helper_state);
    let (status, exit_code, signal) = if seen.refused {
        (RunStatus::Refused, EXIT_SETUP, None)
    } else if seen.setup.is_some() {
        (RunStatus::SetupFailed, EXIT_SETUP, None)
    } else if seen.exec_failed.is_some() {
        match state {
            ExitState::Code(EXIT_NOT_EXECUTABLE) => {
                (RunStatus::NotExecutable, EXIT_NOT_EXECUTABLE, None)
            }
            _ => (RunStatus::NotFound, EXIT_NOT_FOUND, None),
        }
    } else {
        match state {
            ExitState::Code(c) => (RunStatus::Exited, c, None),
            ExitState::Signal(s) => (RunStatus::Signaled, state.exit_code(), Some(s)),
        }
    };
    let ms = |tv: libc::timeval| tv.tv_sec as f64 * 1e3 + tv.tv_usec as f64 / 1e3;
    let wall_ms = started.elapsed().as_secs_f64() * 1e3;
    let usage = Usage {
        wall_ms,
        user_cpu_ms: ms(ru.ru_utime),
        sys_cpu_ms: ms(ru.ru_stime),
        peak_memory_bytes: u64::try_from(ru.ru_maxrss).ok().map(|kib| kib * 1024),
        peak_memory_source: Some("largest resident set of any process of the run".into()),
        processes: None,
        peak_processes: None,
        disk_bytes: None,
        pids_limit_hits: None,
        oom_kills: None,
    };
    RunRecord {
        command: spec.argv.clone(),
        mode: spec.policy.mode,
        tenant: spec.policy.tenant.clone(),
        status,
        exit_code,
        signal,
        kill_reason: None,
        setup_error: seen.setup,
        copy_back_error: None,
        wall_ms,
        user_cpu_ms: usage.user_cpu_ms,
        sys_cpu_ms: usage.sys_cpu_ms,
        usage,
        report: seen.report.unwrap_or_else(|| spec.pre_report.clone()),
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), SuperviseError> {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| SuperviseError::Pipe(e.into()))
}

fn wait4(pid: Pid) -> Result<(i32, libc::rusage), SuperviseError> {
    let pid = pid.as_raw_nonzero().get();
    let mut status = 0;
    // SAFETY: rusage is plain old data, so all-zero is valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are valid for the duration of the call.
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if rc == pid {
            return Ok((status, ru));
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(SuperviseError::Wait(err));
        }
    }
}
