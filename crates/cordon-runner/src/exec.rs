//! One run, on a thread of its own: claim it, start it through the shared launch path,
//! copy its output into the bounded logs, record how it ended.
//!
//! The thread is a plain `std::thread` that lives exactly as long as the run: the
//! helper's parent-death signal fires when the thread that forked it exits, so a run can
//! never outlive its supervisor, and when the whole service dies every run dies with it.

use crate::api::RunState;
use crate::runner::Inner;
use crate::store::Ending;
use cordon_policy::Policy;
use cordon_sandbox::launch::{self, Context, Options};
use cordon_sandbox::record::{KillReason, RunRecord, RunStatus};
use cordon_sandbox::supervisor::Stdio;
use rustix::fd::OwnedFd;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Everything needed to start a queued run.
#[derive(Debug, Clone)]
pub struct Launch {
    pub id: String,
    pub tenant: String,
    pub argv: Vec<String>,
    pub policy: Policy,
    pub run_dir: PathBuf,
    pub cwd: PathBuf,
}

/// Bytes a running run has written so far, per stream.
#[derive(Debug, Default)]
pub struct Counters {
    pub stdout: AtomicU64,
    pub stderr: AtomicU64,
}

/// The environment the command's allowlist picks from: never the service's own, which
/// holds its secrets.
fn service_env() -> Vec<(String, String)> {
    vec![
        ("PATH".into(), cordon_sandbox::env::DEFAULT_PATH.into()),
        ("LANG".into(), "C.UTF-8".into()),
    ]
}

/// How much nicer than the service its runs are. The run thread takes it before anything
/// else, and what it starts inherits it (the helper, the command, the thread copying the
/// command's output), so sandboxed code that spins on every core still leaves the
/// service's own threads (submissions, status, cancel) first in line; the command cannot
/// undo it (that needs `CAP_SYS_NICE`). Added to the service's own niceness, at most 19.
pub const RUN_NICENESS: i32 = 10;

fn lower_priority() {
    let me = Some(rustix::thread::gettid());
    let lowered = rustix::process::getpriority_process(me).and_then(|now| {
        rustix::process::setpriority_process(me, now.saturating_add(RUN_NICENESS).min(19))
    });
    if let Err(e) = lowered {
        tracing::warn!(error = %e, "failed to lower the priority of a run");
    }
}

/// The run thread's body.
pub fn run(inner: Arc<Inner>, launch: Launch) {
    lower_priority();
    let id = launch.id.clone();
    let ending = match claim(&inner, &launch) {
        Ok(Some((cancel, counters))) => {
            let ending = supervise(&inner, launch.clone(), &cancel, &counters);
            Some(ending)
        }
        Ok(None) => None,
        Err(e) => {
            tracing::error!(run_id = %id, error = %e, "failed to start a run");
            Some(Ending {
                state: Some(RunState::Failed),
                ended_at: crate::runner::now(),
                error: Some("the runner could not start the run".into()),
                ..Ending::default()
            })
        }
    };
    if let Some(ending) = ending {
        inner.finished(&launch, &ending);
    }
    inner.release(&launch.tenant, &id);
}

/// Why a run thread could not start its run.
#[derive(Debug, thiserror::Error)]
enum StartError {
    #[error("failed to create the run's cancel channel: {0}")]
    Channel(std::io::Error),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Registers the cancel channel, then moves the record to `running`. `None` when the run
/// was cancelled while it waited, or the runner is shutting down.
fn claim(
    inner: &Inner,
    launch: &Launch,
) -> Result<Option<(UnixStream, Arc<Counters>)>, StartError> {
    let (watched, cancel) = UnixStream::pair().map_err(StartError::Channel)?;
    let counters = Arc::new(Counters::default());
    if !inner.attach(&launch.id, cancel, counters.clone()) {
        return Ok(None);
    }
    if !inner.store.claim(&launch.id, &crate::runner::now())? {
        return Ok(None);
    }
    inner.started(launch);
    Ok(Some((watched, counters)))
}

/// Runs the command to its end and describes the ending.
fn supervise(
    inner: &Inner,
    launch: Launch,
    cancel: &UnixStream,
    counters: &Arc<Counters>,
) -> Ending {
    let ctx = Context {
        cwd: launch.cwd.clone(),
        caller_env: service_env(),
        registry: inner.config.state_dir.join("tenant-uids"),
    };
    let prepared = match launch::prepare(launch.policy, launch.argv.clone(), &ctx) {
        Ok(p) => p,
        Err(e) => return failed(format!("failed to prepare the run: {e}")),
    };
    let cap = inner.config.max_log_bytes;
    let streams = match Streams::open(&launch.run_dir, cap, counters) {
        Ok(s) => s,
        Err(e) => return failed(format!("failed to open the run's logs: {e}")),
    };
    let (stdio, pumps) = streams.split();
    let opts = Options {
        helper: inner.helper.clone(),
        grace: launch::DEFAULT_GRACE,
        cancel: Some(cancel.as_fd()),
        stdio,
    };
    let result = launch::execute(prepared, opts, |_| {});
    let kept = pumps.join();
    let mut ending = match result {
        Ok(record) => from_record(&record),
        Err(e) => failed(format!("failed to supervise the run: {e}")),
    };
    ending.stdout_bytes = counters.stdout.load(Ordering::Relaxed);
    ending.stderr_bytes = counters.stderr.load(Ordering::Relaxed);
    ending.stdout_truncated = ending.stdout_bytes > kept.0;
    ending.stderr_truncated = ending.stderr_bytes > kept.1;
    ending
}

fn failed(error: String) -> Ending {
    Ending {
        state: Some(RunState::Failed),
        ended_at: crate::runner::now(),
        error: Some(error),
        ..Ending::default()
    }
}

/// The run's two output pipes and where their logs go.
struct Streams {
    stdin: OwnedFd,
    out: (OwnedFd, OwnedFd),
    err: (OwnedFd, OwnedFd),
    run_dir: PathBuf,
    cap: u64,
    counters: Arc<Counters>,
}

/// The thread copying both pipes into the logs.
struct Pumps(std::thread::JoinHandle<(u64, u64)>);

impl Pumps {
    /// Waits for both streams to end; the bytes kept of each.
    fn join(self) -> (u64, u64) {
        self.0.join().unwrap_or((0, 0))
    }
}

impl Streams {
    fn open(run_dir: &Path, cap: u64, counters: &Arc<Counters>) -> std::io::Result<Streams> {
        let pipe = || rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC);
        Ok(Streams {
            stdin: std::fs::File::open("/dev/null")?.into(),
            out: pipe()?,
            err: pipe()?,
            run_dir: run_dir.to_owned(),
            cap,
            counters: counters.clone(),
        })
    }

    fn split(self) -> (Stdio, Pumps) {
        let Streams {
            stdin,
            out,
            err,
            run_dir,
            cap,
            counters,
        } = self;
        let pump = std::thread::spawn(move || {
            let mut sinks = [
                Sink::new(out.0, run_dir.join("stdout.log"), cap),
                Sink::new(err.0, run_dir.join("stderr.log"), cap),
            ];
            pump(&mut sinks, [&counters.stdout, &counters.stderr]);
            (sinks[0].kept, sinks[1].kept)
        });
        let stdio = Stdio {
            stdin: Some(stdin),
            stdout: Some(out.1),
            stderr: Some(err.1),
        };
        (stdio, Pumps(pump))
    }
}

/// One stream's way from its pipe into its log. The log file is created on the first
/// byte kept, so a silent stream costs no file (a missing log reads as empty).
struct Sink {
    pipe: Option<std::fs::File>,
    path: PathBuf,
    log: Option<std::fs::File>,
    cap: u64,
    kept: u64,
}

impl Sink {
    fn new(pipe: OwnedFd, path: PathBuf, cap: u64) -> Sink {
        Sink {
            pipe: Some(pipe.into()),
            path,
            log: None,
            cap,
            kept: 0,
        }
    }

    /// Reads what the pipe holds now; the pipe is dropped once it ends. The first `cap`
    /// bytes are kept, the rest only counted.
    fn drain(&mut self, buf: &mut [u8], total: &AtomicU64) {
        let Some(pipe) = self.pipe.as_mut() else {
            return;
        };
        let n = match pipe.read(buf) {
            Ok(0) => {
                self.pipe = None;
                return;
            }
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return,
            Err(e) => {
                tracing::warn!(error = %e, "failed to read the command's output");
                self.pipe = None;
                return;
            }
        };
        total.fetch_add(n as u64, Ordering::Relaxed);
        let room = usize::try_from(self.cap.saturating_sub(self.kept)).unwrap_or(usize::MAX);
        let keep = n.min(room);
        if keep == 0 {
            return;
        }
        match self.write(&buf[..keep]) {
            Ok(()) => self.kept += keep as u64,
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "failed to write a run's log")
            }
        }
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let log = match &mut self.log {
            Some(log) => log,
            None => self.log.insert(
                std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&self.path)?,
            ),
        };
        log.write_all(bytes)
    }
}

/// Copies both pipes into their logs until both end, from one thread and through one
/// buffer, waiting in `poll` for whichever has something to read.
fn pump(sinks: &mut [Sink; 2], totals: [&AtomicU64; 2]) {
    use rustix::event::{poll, PollFd, PollFlags};
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let open: Vec<usize> = (0..2).filter(|&i| sinks[i].pipe.is_some()).collect();
        let ready: Vec<usize> = {
            let mut fds: Vec<PollFd<'_>> = open
                .iter()
                .filter_map(|&i| sinks[i].pipe.as_ref())
                .map(|p| PollFd::new(p, PollFlags::IN))
                .collect();
            if fds.is_empty() {
                return;
            }
            match poll(&mut fds, None) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "failed to wait for the command's output");
                    return;
                }
            }
            fds.iter()
                .zip(&open)
                .filter(|(fd, _)| !fd.revents().is_empty())
                .map(|(_, &i)| i)
                .collect()
        };
        for i in ready {
            sinks[i].drain(&mut buf, totals[i]);
        }
    }
}

/// A name for an enum that serialises as a plain string.
fn name_of<T: serde::Serialize>(v: &T) -> Option<String> {
    serde_json::to_value(v).ok()?.as_str().map(str::to_owned)
}

/// The enforced tier: the mode, and whether every layer was fully enforced.
pub fn tier(record: &RunRecord) -> String {
    let mode = name_of(&record.mode).unwrap_or_default();
    let level = if record.report.is_complete() {
        "full"
    } else {
        "reduced"
    };
    format!("{mode}/{level}")
}

/// Maps cordon's run record to the service's states.
pub fn from_record(record: &RunRecord) -> Ending {
    let (state, error) = state_of(record);
    let kill_reason = match record.status {
        RunStatus::TimedOut | RunStatus::Killed => record.kill_reason.as_ref().and_then(name_of),
        _ => None,
    };
    Ending {
        state: Some(state),
        ended_at: crate::runner::now(),
        exit_code: Some(record.exit_code),
        kill_reason,
        tier: Some(tier(record)),
        error,
        usage: serde_json::to_value(&record.usage).ok(),
        report: serde_json::to_value(&record.report).ok(),
        ..Ending::default()
    }
}

fn state_of(record: &RunRecord) -> (RunState, Option<String>) {
    let cmd = record.command.first().map(String::as_str).unwrap_or("");
    match record.status {
        RunStatus::Exited if record.exit_code == 0 => (RunState::Succeeded, None),
        RunStatus::Exited => {
            let why = format!("the command exited with status {}", record.exit_code);
            (RunState::Failed, Some(why))
        }
        RunStatus::Signaled => {
            let sig = record.signal.unwrap_or(0);
            (
                RunState::Failed,
                Some(format!("the command was killed by signal {sig}")),
            )
        }
        RunStatus::TimedOut => (
            RunState::TimedOut,
            Some("the run reached its time limit".into()),
        ),
        RunStatus::Killed => match record.kill_reason {
            Some(KillReason::Cancel) => (RunState::Cancelled, Some("cancelled".into())),
            Some(KillReason::SupervisorDied) => {
                (RunState::Lost, Some("the run's supervisor died".into()))
            }
            Some(r) => {
                let name = name_of(&r).unwrap_or_default();
                (
                    RunState::Killed,
                    Some(format!("the run exceeded its {name} limit")),
                )
            }
            None => (RunState::Killed, Some("the run was killed".into())),
        },
        RunStatus::SetupFailed => {
            let why = record
                .setup_error
                .as_ref()
                .map(|e| format!("sandbox setup failed: failed to {}: {}", e.step, e.error))
                .unwrap_or_else(|| "sandbox setup failed".into());
            (RunState::Failed, Some(why))
        }
        RunStatus::Refused => {
            let short: Vec<String> = record
                .report
                .shortfalls()
                .map(|l| format!("{} ({})", l.layer, l.detail))
                .collect();
            let why = format!(
                "strict mode refused to run: not fully enforced: {}",
                short.join("; ")
            );
            (RunState::Failed, Some(why))
        }
        RunStatus::NotFound => (RunState::Failed, Some(format!("command not found: {cmd}"))),
        RunStatus::NotExecutable => (
            RunState::Failed,
            Some(format!("command not executable: {cmd}")),
        ),
    }
}
