//! The supervisor: starts the stage-2 helper, feeds it the run spec, follows its status
//! messages and collects how the run ended and what it used.
//!
//! The helper is the same binary re-executed (`cordon __stage2`), so confinement always
//! happens in a fresh single-threaded process, never in a `pre_exec` hook. The only work
//! done between fork and exec here is placing two pipe ends on descriptors 3 and 4.

use crate::record::{RunRecord, RunStatus, SetupError, Usage};
use crate::report::Report;
use crate::spec::{ExitState, Message, RunSpec, SPEC_FD, STATUS_FD};
use crate::stage2::{decode, EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND, EXIT_SETUP};
use rustix::fd::{AsRawFd, OwnedFd};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

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
}

/// Runs one confined command and returns its record. `on_ready` is called once with the
/// enforcement report when the command is about to start.
pub fn run(
    spec: &RunSpec,
    helper: &Path,
    mut on_ready: impl FnMut(&Report),
) -> Result<RunRecord, SuperviseError> {
    let started = Instant::now();
    let (spec_r, spec_w) = pipe()?;
    let (status_r, status_w) = pipe()?;
    let mut cmd = Command::new(helper);
    cmd.arg(STAGE2_ARG).env_clear();
    let (a, b) = (spec_r.as_raw_fd(), status_w.as_raw_fd());
    // SAFETY: the closure runs between fork and exec and only calls fcntl and dup2, which
    // are async-signal-safe; it touches no Rust allocation or lock.
    unsafe {
        cmd.pre_exec(move || place_fds(a, b));
    }
    let child = cmd.spawn().map_err(|source| SuperviseError::Spawn {
        path: helper.display().to_string(),
        source,
    })?;
    drop((spec_r, status_w));
    let mut spec_w = std::fs::File::from(spec_w);
    let body = serde_json::to_vec(spec).map_err(|e| SuperviseError::Spec(e.into()))?;
    spec_w.write_all(&body).map_err(SuperviseError::Spec)?;
    drop(spec_w);

    let mut seen = Seen::default();
    for line in BufReader::new(std::fs::File::from(status_r)).lines() {
        let Ok(line) = line else { break };
        match serde_json::from_str::<Message>(&line) {
            Ok(msg) => take(&mut seen, msg, &mut on_ready),
            Err(e) => tracing::warn!(error = %e, "unreadable message from the helper"),
        }
    }
    let (status, rusage) = wait4(child.id())?;
    Ok(finish(spec, seen, decode(status), rusage, started))
}

fn take(seen: &mut Seen, msg: Message, on_ready: &mut impl FnMut(&Report)) {
    match msg {
        Message::Ready { report } => {
            on_ready(&report);
            seen.report = Some(report);
        }
        Message::SetupFailed { step, error, report } => {
            seen.setup = Some(SetupError { step, error });
            seen.report = Some(report);
        }
        Message::Refused { report } => {
            seen.refused = true;
            seen.report = Some(report);
        }
        Message::ExecFailed { errno, .. } => seen.exec_failed = Some(errno),
        Message::Exited { state } => seen.exited = Some(state),
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
            ExitState::Code(EXIT_NOT_EXECUTABLE) => (RunStatus::NotExecutable, EXIT_NOT_EXECUTABLE, None),
            _ => (RunStatus::NotFound, EXIT_NOT_FOUND, None),
        }
    } else {
        match state {
            ExitState::Code(c) => (RunStatus::Exited, c, None),
            ExitState::Signal(s) => (RunStatus::Signaled, 128 + s, Some(s)),
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

/// Between fork and exec: put the spec pipe on 3 and the status pipe on 4, without the
/// close-on-exec flag. Both are first moved above 10 so neither overwrites the other.
fn place_fds(spec: i32, status: i32) -> std::io::Result<()> {
    // SAFETY: plain descriptor-table calls on descriptors this child owns; no memory is
    // shared with other threads (this is the child of a fork).
    unsafe {
        let s = libc::fcntl(spec, libc::F_DUPFD, 10);
        let t = libc::fcntl(status, libc::F_DUPFD, 10);
        if s < 0 || t < 0 || libc::dup2(s, SPEC_FD) < 0 || libc::dup2(t, STATUS_FD) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        libc::close(s);
        libc::close(t);
    }
    Ok(())
}

fn wait4(pid: u32) -> Result<(i32, libc::rusage), SuperviseError> {
    let pid = i32::try_from(pid).map_err(|e| SuperviseError::Wait(std::io::Error::other(e)))?;
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
