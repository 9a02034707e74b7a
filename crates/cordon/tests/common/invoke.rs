//! Building, starting and reading back one invocation of the `cordon` binary.

use super::{Caller, PYTHON};
use serde_json::Value;
use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

/// How long one invocation may take before the test fails (gcc under load is the slowest).
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
/// `PATH` of the server that starts cordon: the system's, without root's pyenv shims.
const HOST_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The cordon binary, copied once into a world-readable folder, so that `cordon-test` can
/// execute it even when the checkout lives below a folder only root may enter.
pub fn cordon_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let built = Path::new(env!("CARGO_BIN_EXE_cordon"));
        let helper = Path::new(env!("CARGO_BIN_EXE_cordon-stage2"));
        super::dirs::shared_copy("bin", built, |staging| {
            for (from, name) in [(built, "cordon"), (helper, "cordon-stage2")] {
                let target = staging.join(name);
                std::fs::copy(from, &target).expect("failed to copy a cordon binary");
                super::dirs::chmod(&target, 0o755);
            }
        })
        .join("cordon")
    })
}

/// One invocation of `cordon run`, built flag by flag; `Clone` so a test can run the same
/// invocation as control (`.mode("off")`) and confined.
#[derive(Clone, Debug)]
pub struct Cordon {
    caller: Caller,
    flags: Vec<OsString>,
    host_env: Vec<(OsString, OsString)>,
    launcher: Vec<String>,
    prelude: Option<String>,
    cwd: Option<PathBuf>,
    json: bool,
    direct: bool,
}

/// Starts building `cordon run` for `caller`.
pub fn cordon(caller: Caller) -> Cordon {
    Cordon {
        caller,
        flags: Vec::new(),
        host_env: Vec::new(),
        launcher: Vec::new(),
        prelude: None,
        cwd: None,
        json: false,
        direct: false,
    }
}

impl Cordon {
    fn flag(mut self, name: &str, value: impl Into<OsString>) -> Self {
        self.flags.push(name.into());
        self.flags.push(value.into());
        self
    }

    /// A limit flag, e.g. `.limit("--pids", "64")`.
    pub fn limit(self, flag: &str, value: &str) -> Self {
        self.flag(flag, value)
    }

    pub fn ro(self, path: impl AsRef<Path>) -> Self {
        self.flag("--ro", path.as_ref())
    }

    pub fn rw(self, path: impl AsRef<Path>) -> Self {
        self.flag("--rw", path.as_ref())
    }

    pub fn net(self, rule: &str) -> Self {
        self.flag("--net", rule)
    }

    /// `--env NAME[=VALUE]`: a variable for the command.
    pub fn env(self, spec: &str) -> Self {
        self.flag("--env", spec)
    }

    pub fn mode(self, mode: &str) -> Self {
        self.flag("--mode", mode)
    }

    pub fn tenant(self, tenant: &str) -> Self {
        self.flag("--tenant", tenant)
    }

    pub fn policy(self, file: impl AsRef<Path>) -> Self {
        self.flag("--policy", file.as_ref())
    }

    /// `--json`: the run record is parsed into [`Outcome::record`].
    pub fn json(mut self) -> Self {
        self.json = true;
        self.flags.push("--json".into());
        self
    }

    /// A variable in cordon's own environment (the server's secrets live here).
    pub fn host_env(mut self, name: &str, value: &str) -> Self {
        self.host_env.push((name.into(), value.into()));
        self
    }

    /// A program that starts cordon, as the caller: `launcher... cordon run ...`.
    pub fn launcher<S: AsRef<str>>(mut self, argv: &[S]) -> Self {
        self.launcher = argv.iter().map(|a| a.as_ref().to_string()).collect();
        self
    }

    /// Bash run as root just before cordon (and before dropping to the caller's uid), e.g.
    /// to open descriptors the way a careless server would; cordon is then `exec`ed.
    pub fn prelude(mut self, bash: &str) -> Self {
        self.prelude = Some(bash.to_string());
        self
    }

    /// Runs the command without cordon (same caller, prelude, environment and working
    /// directory): the control for attacks that `--mode off` cannot show, because stage 2
    /// needs descriptors 3 and 4 for itself and closes everything above them.
    pub fn direct(mut self) -> Self {
        self.direct = true;
        self
    }

    /// The working directory cordon starts in (by default `/`).
    pub fn cwd(mut self, dir: impl AsRef<Path>) -> Self {
        self.cwd = Some(dir.as_ref().to_path_buf());
        self
    }

    /// The full argv of the invocation, for `cmd` after `--`.
    pub fn argv<S: AsRef<str>>(&self, cmd: &[S]) -> Vec<OsString> {
        let mut argv: Vec<OsString> = self.launcher.iter().map(OsString::from).collect();
        if !self.direct {
            argv.push(cordon_bin().into());
            argv.push("run".into());
            argv.extend(self.flags.iter().cloned());
            argv.push("--".into());
        }
        argv.extend(cmd.iter().map(|a| OsString::from(a.as_ref())));
        argv
    }

    /// Starts the invocation; the caller may act on the process before waiting for it.
    pub fn spawn<S: AsRef<str>>(self, cmd: &[S]) -> Running {
        let argv = self.argv(cmd);
        start(self.caller, argv, &self)
    }

    /// Runs the invocation to its end.
    pub fn run<S: AsRef<str>>(self, cmd: &[S]) -> Outcome {
        self.spawn(cmd).wait()
    }

    /// Runs a Python attack (with [`super::PY_LIB`] in front) to its end.
    pub fn run_py<S: AsRef<str>>(self, code: &str, args: &[S]) -> Outcome {
        self.run(&super::py(code, args))
    }
}

/// Runs `cordon ARGS...` (any subcommand) as `caller`.
pub fn cordon_cli(caller: Caller, args: &[&str]) -> Outcome {
    let mut argv: Vec<OsString> = vec![cordon_bin().into()];
    argv.extend(args.iter().map(OsString::from));
    start(caller, argv, &cordon(caller)).wait()
}

fn start(caller: Caller, mut argv: Vec<OsString>, how: &Cordon) -> Running {
    let description = describe(&argv);
    let mut cmd = match &how.prelude {
        None => caller.command(&argv),
        Some(bash) => {
            let inner = caller.command(&argv);
            argv = vec!["/bin/bash".into(), "-c".into()];
            argv.push(format!("{bash}\nexec \"$@\"").into());
            argv.push("bash".into());
            argv.push(inner.get_program().into());
            argv.extend(inner.get_args().map(OsString::from));
            Caller::Root.command(&argv)
        }
    };
    cmd.env_clear()
        .env("PATH", HOST_PATH)
        .env("LANG", "C.UTF-8")
        .envs(how.host_env.iter().cloned())
        .current_dir(how.cwd.as_deref().unwrap_or(Path::new("/")))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("failed to start {description}: {e}"));
    let stdout = drain(child.stdout.take().expect("stdout is piped"));
    let stderr = drain(child.stderr.take().expect("stderr is piped"));
    Running {
        child: Some(child),
        stdout,
        stderr,
        description,
        json: how.json,
    }
}

fn describe(argv: &[OsString]) -> String {
    let shown: Vec<String> = argv
        .iter()
        .map(|a| {
            let a = a.to_string_lossy();
            clip(&a, 80)
        })
        .collect();
    shown.join(" ")
}

fn drain(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

/// A started invocation. Dropping it kills the process, so a failing test leaves nothing.
pub struct Running {
    child: Option<Child>,
    stdout: mpsc::Receiver<Vec<u8>>,
    stderr: mpsc::Receiver<Vec<u8>>,
    description: String,
    json: bool,
}

impl Running {
    /// The pid of cordon itself (setpriv and the launcher `exec` into it).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("not yet waited").id()
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        let child = self.child.as_mut().expect("not yet waited");
        matches!(child.try_wait(), Ok(None))
    }

    /// Waits for the end (failing the test after [`RUN_TIMEOUT`]) and collects the output.
    pub fn wait(mut self) -> Outcome {
        let mut child = self.child.take().expect("waited twice");
        let deadline = Instant::now() + RUN_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().expect("failed to wait for cordon") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("timed out after {RUN_TIMEOUT:?}: {}", self.description);
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        // A process that escaped the run could hold the pipes open; do not wait for it.
        let collect = |rx: &mpsc::Receiver<Vec<u8>>| {
            let bytes = rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
            String::from_utf8_lossy(&bytes).into_owned()
        };
        let raw_stdout = collect(&self.stdout);
        let stderr = collect(&self.stderr);
        let (stdout, record) = if self.json {
            split_record(&raw_stdout)
        } else {
            (raw_stdout.clone(), None)
        };
        Outcome {
            status,
            raw_stdout,
            stdout,
            stderr,
            record,
            description: std::mem::take(&mut self.description),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Splits `--json` output into the command's own stdout and the record printed at the end.
fn split_record(raw: &str) -> (String, Option<Value>) {
    let starts = raw.match_indices('{').map(|(i, _)| i).collect::<Vec<_>>();
    for &start in starts.iter().rev() {
        if let Ok(value @ Value::Object(_)) = serde_json::from_str::<Value>(&raw[start..]) {
            if value.get("exit_code").is_some() {
                return (raw[..start].to_string(), Some(value));
            }
        }
    }
    (raw.to_string(), None)
}

/// What one invocation produced.
pub struct Outcome {
    pub status: ExitStatus,
    /// Everything cordon wrote on stdout.
    pub raw_stdout: String,
    /// The command's stdout: `raw_stdout` without the `--json` record.
    pub stdout: String,
    pub stderr: String,
    /// The `--json` run record, when asked for and printed.
    pub record: Option<Value>,
    pub description: String,
}

impl Outcome {
    /// cordon's exit code (`None` if cordon itself died of a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Fails the test unless cordon exited with `want`.
    pub fn expect_code(&self, want: i32) -> &Self {
        assert_eq!(self.code(), Some(want), "wrong exit code\n{self}");
        self
    }

    pub fn expect_success(&self) -> &Self {
        self.expect_code(0)
    }

    /// The last line of the command's stdout, parsed: the attacks report with one JSON line.
    pub fn report(&self) -> Value {
        let line = self.stdout.lines().rev().find(|l| !l.trim().is_empty());
        line.and_then(|l| serde_json::from_str(l).ok())
            .unwrap_or_else(|| panic!("the command printed no JSON report\n{self}"))
    }

    /// The run record, or a test failure saying it is missing.
    pub fn record(&self) -> &Value {
        self.record
            .as_ref()
            .unwrap_or_else(|| panic!("no --json record on stdout\n{self}"))
    }

    /// The level the record gives `layer` (`enforced`, `partial`, `missing`, `off`).
    pub fn layer_level(&self, layer: &str) -> Option<String> {
        let layers = self.record()["report"]["layers"].as_array()?;
        let entry = layers.iter().find(|l| l["layer"] == layer)?;
        entry["level"].as_str().map(str::to_string)
    }

    /// True when `text` shows up anywhere cordon or the command wrote.
    pub fn mentions(&self, text: &str) -> bool {
        self.raw_stdout.contains(text) || self.stderr.contains(text)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invocation: {}", self.description)?;
        match self.status.signal() {
            Some(sig) => writeln!(f, "status: killed by signal {sig}")?,
            None => writeln!(f, "status: exit {:?}", self.code())?,
        }
        writeln!(f, "--- stdout ---\n{}", clip(&self.raw_stdout, 4000))?;
        write!(f, "--- stderr ---\n{}", clip(&self.stderr, 4000))
    }
}

/// `text` cut to about `max` bytes, on a character boundary.
fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [{} bytes]", &text[..end], text.len())
}

/// argv running `code` with the system interpreter but without the attack helpers.
pub fn plain_py(code: &str) -> Vec<String> {
    vec![PYTHON.to_string(), "-c".into(), code.to_string()]
}
