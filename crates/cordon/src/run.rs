//! `cordon run` and `cordon policy check`.

use crate::cli::{CheckArgs, RunArgs};
use cordon_policy::{Flags, Mode, Net, Policy};
use cordon_sandbox::cgroup::{self, RunCgroup};
use cordon_sandbox::record::{RunRecord, RunStatus};
use cordon_sandbox::report::{LayerReport, Report};
use cordon_sandbox::spec::RunSpec;
use cordon_sandbox::stage2::EXIT_SETUP;
use cordon_sandbox::{env, identity, supervisor};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

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
    let spec = match prepare(policy, argv) {
        Ok(s) => s,
        Err(msg) => {
            eprintln!("cordon: {msg}");
            return EXIT_SETUP;
        }
    };
    if spec.0.policy.mode == Mode::Off {
        eprintln!(
            "cordon: WARNING: --mode off: the command runs UNCONFINED, with the caller's \
             environment, files, network and privileges"
        );
    }
    let helper = match std::env::current_exe() {
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
    let (spec, cgroup) = spec;
    let watch = supervisor::Watch {
        helper: &helper,
        cgroup: cgroup.as_ref(),
        grace: GRACE,
        cancel: Some(cancel.as_fd()),
    };
    let mode = spec.policy.mode;
    let record = supervisor::run(&spec, &watch, |report| warn_if_reduced(mode, report));
    if let Some(cg) = cgroup {
        if let Err(e) = cg.remove() {
            tracing::warn!(error = %e, "failed to remove the run's cgroup");
        }
    }
    match record {
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

/// Time between SIGTERM and SIGKILL when a run is ended early.
const GRACE: Duration = Duration::from_secs(2);

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

#[allow(clippy::print_stdout)]
fn println_record(line: &str) {
    println!("{line}");
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
    };
    cordon_policy::build(file, flags, &cwd).map_err(|e| e.to_string())
}

/// Everything decided before the helper starts: identity, environment, cgroup.
fn prepare(policy: Policy, argv: Vec<String>) -> Result<(RunSpec, Option<RunCgroup>), String> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let mut pre = Report::default();
    let caller_env = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
    let env = if policy.mode == Mode::Off {
        pre.push(LayerReport::off(
            "env",
            "mode off: the caller's environment passes",
        ));
        caller_env.collect()
    } else {
        let (env, report) = env::build(&policy, caller_env);
        pre.push(report);
        env
    };
    let root = rustix::process::geteuid().is_root();
    let run_ids = if root && policy.mode != Mode::Off {
        let ids = identity::run_ids(&policy, &registry()).map_err(|e| e.to_string())?;
        for dir in &policy.rw {
            identity::chown_tree(dir, ids.0, ids.1).map_err(|e| e.to_string())?;
        }
        Some(ids)
    } else {
        None
    };
    let cgroup = if policy.mode == Mode::Off {
        None
    } else {
        run_cgroup(&policy, &mut pre)?
    };
    let procs = cgroup.as_ref().map(|c| c.procs_files()).unwrap_or_default();
    let (memory, pids) = cgroup
        .as_ref()
        .map(|c| (c.limits_memory(), c.limits_pids()))
        .unwrap_or((false, false));
    let spec = RunSpec {
        policy,
        argv,
        env,
        cwd,
        run_ids,
        cgroup_procs: procs,
        pre_report: pre,
        cgroup_memory: memory,
        cgroup_pids: pids,
    };
    Ok((spec, cgroup))
}

/// A cgroup of the run's own, where the host lets cordon create one: it carries the
/// memory and process limits of the whole run and is how every process of it is found
/// and killed. Without one, the helper falls back to per-process rlimits.
fn run_cgroup(policy: &Policy, pre: &mut Report) -> Result<Option<RunCgroup>, String> {
    let layout = cgroup::detect();
    cgroup::cleanup_stale(&layout);
    let name = format!(
        "run-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    match RunCgroup::create(&layout, &name, &policy.limits) {
        Ok((cg, reports)) => {
            pre.layers.extend(reports);
            Ok(Some(cg))
        }
        Err(e) => {
            tracing::debug!(error = %e, "no cgroup for this run; limits fall back to rlimits");
            pre.push(LayerReport::partial(
                "kill",
                format!("no cgroup of the run's own ({e}): the pid namespace (or, without one, the process group) finds its processes"),
            ));
            Ok(None)
        }
    }
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
                .map(|l| format!("{} is {:?} ({})", l.layer, l.level, l.detail).to_lowercase())
                .collect();
            eprintln!("cordon: strict mode refused to run: {}", short.join("; "));
        }
        RunStatus::NotFound => eprintln!("cordon: command not found: {cmd}"),
        RunStatus::NotExecutable => eprintln!("cordon: command not executable: {cmd}"),
        RunStatus::TimedOut | RunStatus::Killed => {
            let why = record
                .kill_reason
                .map(|r| format!("{r:?}").to_lowercase())
                .unwrap_or_default();
            eprintln!("cordon: run killed: {why} limit");
        }
        RunStatus::Exited | RunStatus::Signaled => {}
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
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let policy = cordon_policy::build(None, Flags::default(), &cwd).map_err(|e| e.to_string())?;
    let (spec, cgroup) = prepare(policy, vec!["/bin/true".into()])?;
    let helper = std::env::current_exe().map_err(|e| e.to_string())?;
    let watch = supervisor::Watch {
        helper: &helper,
        cgroup: cgroup.as_ref(),
        grace: GRACE,
        cancel: None,
    };
    let record = supervisor::run(&spec, &watch, |_| {}).map_err(|e| e.to_string());
    if let Some(cg) = cgroup {
        let _ = cg.remove();
    }
    Ok(record?.report)
}

/// One line on the host's cgroup layout, for `cordon doctor`.
pub fn cgroup_summary() -> String {
    format!("{:?}", cordon_sandbox::cgroup::detect())
}
