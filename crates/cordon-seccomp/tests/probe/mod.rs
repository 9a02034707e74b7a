//! Runs code under the real filters, in a child process.
//!
//! Filters and no_new_privs cannot be taken back, so a test never installs them in its
//! own process. It re-executes its test binary with `--exact probe_entry` and a few
//! environment variables; in that child, `probe_entry` sets no_new_privs, installs the
//! filters built for the native arch on its thread, and then either runs the binary's
//! checks (printing one `probe: NAME OUTCOME` line each) or `execve`s a command, which
//! keeps the filters. The parent reads the lines, or the command's status and output.

use cordon_seccomp::{build, install, Arch, FilterOptions};
use std::io::{self, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Output};

const PROBE: &str = "CORDON_SECCOMP_PROBE";
const OPTIONS: &str = "CORDON_SECCOMP_OPTIONS";
const ARGV: &str = "CORDON_SECCOMP_ARGV";
const MARK: &str = "probe: ";
const SEPARATOR: char = '\u{1f}';

pub type Checks = fn() -> Vec<(&'static str, io::Result<()>)>;

/// The body of every kernel test binary's `probe_entry` test; a no-op in a normal run.
pub fn entry(checks: Checks) {
    let Ok(probe) = std::env::var(PROBE) else {
        return;
    };
    let confine = probe != "unconfined-checks";
    if confine {
        confine_this_thread(&options_from_env());
    }
    match probe.as_str() {
        "checks" | "unconfined-checks" => report(checks()),
        "exec" => exec_argv(),
        other => panic!("unknown probe {other}"),
    }
    std::process::exit(0);
}

fn confine_this_thread(opts: &FilterOptions) {
    rustix::thread::set_no_new_privs(true).expect("set no_new_privs");
    let arch = Arch::native().expect("a supported arch");
    install(&build(arch, opts).expect("build the filters")).expect("install the filters");
}

fn report(results: Vec<(&'static str, io::Result<()>)>) {
    let mut out = io::stdout().lock();
    for (name, result) in results {
        writeln!(out, "{MARK}{name} {}", outcome(&result)).expect("write to stdout");
    }
    out.flush().expect("flush stdout");
}

/// `ok`, or `errno N` as the kernel answered.
pub fn outcome(result: &io::Result<()>) -> String {
    match result {
        Ok(()) => "ok".to_string(),
        Err(err) => match err.raw_os_error() {
            Some(errno) => errno_text(errno),
            None => format!("error {err}"),
        },
    }
}

pub fn errno_text(errno: i32) -> String {
    format!("errno {errno}")
}

/// Never returns: the command replaces the probe, on the confined thread. No core dumps:
/// a killed command would leave one in the working directory.
fn exec_argv() {
    let argv = std::env::var(ARGV).expect("a command to run");
    let argv: Vec<&str> = argv.split(SEPARATOR).collect();
    let no_core = rustix::process::Rlimit {
        current: Some(0),
        maximum: Some(0),
    };
    rustix::process::setrlimit(rustix::process::Resource::Core, no_core).expect("rlimit");
    let mut command = Command::new(argv[0]);
    command
        .args(&argv[1..])
        .env_remove(PROBE)
        .env_remove(OPTIONS)
        .env_remove(ARGV);
    panic!("exec {}: {}", argv[0], command.exec());
}

fn options_from_env() -> FilterOptions {
    let text = std::env::var(OPTIONS).unwrap_or_default();
    let words: Vec<&str> = text.split(',').collect();
    FilterOptions {
        deny_network: words.contains(&"net"),
        deny_unix_socket_create: words.contains(&"unix"),
    }
}

fn options_to_env(opts: &FilterOptions) -> String {
    let net = opts.deny_network.then_some("net");
    let unix = opts.deny_unix_socket_create.then_some("unix");
    net.into_iter().chain(unix).collect::<Vec<_>>().join(",")
}

fn child(probe: &str, opts: &FilterOptions) -> Command {
    let exe = std::env::current_exe().expect("the test binary");
    let mut command = Command::new(exe);
    command.args(["probe_entry", "--exact", "--nocapture", "--test-threads=1"]);
    command.env(PROBE, probe).env(OPTIONS, options_to_env(opts));
    command.current_dir(env!("CARGO_TARGET_TMPDIR"));
    command
}

fn run(mut command: Command) -> Output {
    command.output().expect("spawn the test binary")
}

/// The checks' outcomes, by name, under the filters (`confined`) or without them.
pub fn checks(opts: &FilterOptions, confined: bool) -> Vec<(String, String)> {
    let probe = if confined {
        "checks"
    } else {
        "unconfined-checks"
    };
    let output = run(child(probe, opts));
    let stdout = String::from_utf8_lossy(&output.stdout);
    // libtest's "test probe_entry ... " has no newline yet when the first line comes.
    let lines = stdout
        .lines()
        .filter_map(|line| line.split_once(MARK).map(|(_, rest)| rest));
    let pairs: Vec<_> = lines
        .filter_map(|line| line.split_once(' '))
        .map(|(name, outcome)| (name.to_string(), outcome.to_string()))
        .collect();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !pairs.is_empty(),
        "the probe reported nothing: {stdout}\n{stderr}"
    );
    pairs
}

/// Runs `argv` with the filters installed.
pub fn confined(opts: &FilterOptions, argv: &[&str]) -> Output {
    let mut command = child("exec", opts);
    command.env(ARGV, argv.join(&SEPARATOR.to_string()));
    run(command)
}

/// Runs `argv` as it is, to show what the kernel allows without the filters.
pub fn unconfined(argv: &[&str]) -> Output {
    let mut command = Command::new(argv[0]);
    command
        .args(&argv[1..])
        .current_dir(env!("CARGO_TARGET_TMPDIR"));
    run(command)
}

/// The path of `program` on PATH, if any: tests of optional programs skip without it.
pub fn which(program: &str) -> Option<String> {
    let path = std::env::var_os("PATH")?;
    let found = std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file());
    found.map(|path| path.to_string_lossy().into_owned())
}
