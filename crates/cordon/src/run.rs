//! `cordon run` and `cordon policy check`.

use crate::cli::{CheckArgs, RunArgs};
use cordon_policy::{Flags, Mode, Net, Policy};
use cordon_sandbox::record::{KillReason, RunRecord, RunStatus};
use cordon_sandbox::report::Report;
use cordon_sandbox::stage2::EXIT_SETUP;
use cordon_sandbox::supervisor::Stdio;
use cordon_sandbox::{identity, launch};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::str::FromStr;

/// Where the tenant uid registry lives; overridable for tests and packaging.
fn registry() -> PathBuf {
    std::env::var_os("CORDON_STATE_DIR")
        .map(|d| PathBuf::from(d).join("tenant-uids"))
        .unwrap_or_else(|| PathBuf::from(identity::DEFAULT_REGISTRY))
}

pub fn run(args: RunArgs) -> i32 {
    let json = args.json;
    let argv = args.command.clone();
    let policy = match load_policy(args) {
        Ok(p) => p,
        Err(msg) => {
            eprintln!("cordon: {msg}");
            return EXIT_SETUP;
        }
    };
    let ctx = launch::Context::from_process(registry());
    let prepared = match launch::prepare(policy, argv, &ctx) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("cordon: {e}");
            return EXIT_SETUP;
        }
    };
    let mode = prepared.spec.policy.mode;
    if mode == Mode::Off {
        eprintln!(
            "cordon: WARNING: --mode off: the command runs UNCONFINED, with the caller's \
             environment, files, network and privileges"
        );
    }
    let helper = match launch::default_helper() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("cordon: failed to locate the cordon binary for the helper: {e}");
            return EXIT_SETUP;
        }
    };
    let cancel = match cancel_pipe() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cordon: failed to watch for termination signals: {e}");
            return EXIT_SETUP;
        }
    };
    let opts = launch::Options {
        helper,
        grace: launch::DEFAULT_GRACE,
        cancel: Some(cancel.as_fd()),
        stdio: Stdio::default(),
    };
    match launch::execute(prepared, opts, |report| warn_if_reduced(mode, report)) {
        Ok(record) => {
            explain(&record);
            if json {
                match serde_json::to_string(&record) {
                    Ok(line) => println_record(&line),
                    Err(e) => eprintln!("cordon: failed to encode the run record: {e}"),
                }
            }
            record.exit_code
        }
        Err(e) => {
            eprintln!("cordon: {e}");
            EXIT_SETUP
        }
    }
}

/// SIGTERM, SIGINT and SIGHUP to cordon cancel the run: the whole tree is ended and the
/// record says `cancel`. The signals are turned into a readable pipe the supervisor polls.
fn cancel_pipe() -> std::io::Result<UnixStream> {
    let (read, write) = UnixStream::pair()?;
    read.set_nonblocking(true)?;
    for sig in [SIGTERM, SIGINT, SIGHUP] {
        signal_hook::low_level::pipe::register(sig, write.try_clone()?)?;
    }
    Ok(read)
}

/// Writes the run record; a closed stdout loses the record but not the exit code.
fn println_record(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        tracing::warn!("failed to write the run record: stdout is closed");
    }
}

fn load_policy(args: RunArgs) -> Result<Policy, String> {
    let cwd = std::env::current_dir()
        .map_err(|e| format!("failed to read the current directory: {e}"))?;
    let (policy_path, _staged) = match (&args.policy, &args.profile) {
        (Some(path), _) => (Some(path.clone()), None),
        (None, Some(name)) => {
            let (path, staged) = crate::profile::resolve(name)?;
            (Some(path), staged)
        }
        (None, None) => (None, None),
    };
    let file = match policy_path {
        Some(path) => {
            let loaded = cordon_policy::load_file(&path).map_err(|e| e.to_string())?;
            Some((path, loaded))
        }
        None => None,
    };
    let flags = Flags {
        mode: args
            .mode
            .as_deref()
            .map(Mode::from_str)
            .transpose()
            .map_err(|e| e.to_string())?,
        net: args
            .net
            .as_deref()
            .map(Net::from_str)
            .transpose()
            .map_err(|e| e.to_string())?,
        ro: args.ro,
        rw: args.rw,
        env: args.env,
        tenant: args.tenant,
        timeout: args.timeout,
        cpu: args.cpu,
        memory: args.memory,
        pids: args.pids,
        file_size: args.file_size,
        open_files: args.open_files,
        disk: args.disk,
    };
    cordon_policy::build(file, flags, &cwd).map_err(|e| e.to_string())
}

fn warn_if_reduced(mode: Mode, report: &Report) {
    if mode == Mode::Auto && !report.is_complete() {
        let short: Vec<String> = report
            .shortfalls()
            .map(|l| format!("{}: {}", l.layer, l.detail))
            .collect();
        eprintln!("cordon: reduced confinement: {}", short.join("; "));
    }
}

/// Says on stderr why cordon, not the command, decided the exit code.
fn explain(record: &RunRecord) {
    let cmd = record.command.first().map(String::as_str).unwrap_or("");
    match record.status {
        RunStatus::SetupFailed => {
            if let Some(e) = &record.setup_error {
                eprintln!("cordon: failed to {}: {}", e.step, e.error);
            }
        }
        RunStatus::Refused => {
            let short: Vec<String> = record
                .report
                .shortfalls()
                .map(|l| {
                    let level = format!("{:?}", l.level).to_lowercase();
                    format!("{} is {level} ({})", l.layer, l.detail)
                })
                .collect();
            eprintln!("cordon: strict mode refused to run: {}", short.join("; "));
        }
        RunStatus::NotFound => eprintln!("cordon: command not found: {cmd}"),
        RunStatus::NotExecutable => eprintln!("cordon: command not executable: {cmd}"),
        RunStatus::TimedOut | RunStatus::Killed => {
            if let Some(reason) = record.kill_reason {
                let name = serde_json::to_value(reason)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                eprintln!("cordon: run killed ({name}): {}", describe_kill(reason));
            }
        }
        RunStatus::Exited | RunStatus::Signaled => {}
    }
    if let Some(hits) = record.usage.pids_limit_hits.filter(|h| *h > 0) {
        eprintln!("cordon: the run hit its process limit (--pids): {hits} forks refused");
    }
}

/// What a kill reason means, in the user's terms.
fn describe_kill(reason: KillReason) -> &'static str {
    match reason {
        KillReason::Timeout => "the wall-clock limit (--timeout) ran out",
        KillReason::Memory => "the run went over its memory limit (--memory)",
        KillReason::Pids => "the run hit its process limit (--pids)",
        KillReason::Cpu => "the run used up its CPU time (--cpu)",
        KillReason::FileSize => "a file reached the size limit (--file-size)",
        KillReason::Cancel => "cordon was asked to stop (SIGTERM, SIGINT or SIGHUP)",
        KillReason::SupervisorDied => "the supervising process died",
    }
}

pub fn policy_check(args: CheckArgs) -> i32 {
    match cordon_policy::check_file(&args.file) {
        Ok(_) => {
            eprintln!("{}: ok", args.file.display());
            0
        }
        Err(diags) => {
            for d in diags {
                eprintln!("{d}");
            }
            1
        }
    }
}

/// The enforcement report a default run of `/bin/true` gets on this host.
pub fn probe_report() -> Result<Report, String> {
    let ctx = launch::Context::from_process(registry());
    let policy =
        cordon_policy::build(None, Flags::default(), &ctx.cwd).map_err(|e| e.to_string())?;
    let prepared =
        launch::prepare(policy, vec!["/bin/true".into()], &ctx).map_err(|e| e.to_string())?;
    let opts = launch::Options {
        helper: launch::default_helper().map_err(|e| e.to_string())?,
        grace: launch::DEFAULT_GRACE,
        cancel: None,
        stdio: Stdio::default(),
    };
    let record = launch::execute(prepared, opts, |_| {}).map_err(|e| e.to_string())?;
    Ok(record.report)
}

/// One line on the host's cgroup layout, for `cordon doctor`.
pub fn cgroup_summary() -> String {
    cordon_sandbox::cgroup::detect().describe()
}
