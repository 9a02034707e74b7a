//! Harness for the service tests: a real `cordon serve` (or `cordon mcp`) on a config of
//! its own, with a state directory and run root in `/tmp`, tenants with tokens made by
//! `cordon token`, and a plain HTTP client.

#![allow(dead_code)] // each test file uses a different part of the harness

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the tests wait for anything (runs, start-up, process death); generous, as
/// the machine may be loaded. No test asserts speed.
pub const PATIENCE: Duration = Duration::from_secs(120);

pub fn cordon_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_cordon"))
}

/// Polls `cond` every 50 ms until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}

/// A tenant with its bearer token.
#[derive(Clone, Debug)]
pub struct Tenant {
    pub name: String,
    pub token: String,
    token_line: String,
}

/// Makes a token with `cordon token` (first line: the token; second: the config line).
pub fn tenant(name: &str) -> Tenant {
    let out = Command::new(cordon_bin())
        .arg("token")
        .output()
        .expect("failed to run cordon token");
    assert!(out.status.success(), "cordon token failed");
    let text = String::from_utf8(out.stdout).expect("cordon token printed UTF-8");
    let mut lines = text.lines();
    let token = lines.next().expect("a token line").to_string();
    let token_line = lines.next().expect("a token_sha256 line").to_string();
    assert!(token_line.starts_with("token_sha256 = \""), "{token_line}");
    Tenant {
        name: name.to_string(),
        token,
        token_line,
    }
}

/// A config, a state directory and a run root, removed at the end of the test.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub tenants: Vec<Tenant>,
    pub extra: String,
}

impl Setup {
    /// `tenants` with default limits; `extra` is TOML put before the tenants (top-level
    /// keys and tables such as `[shared_roots]`).
    pub fn new(tenants: &[&str], extra: &str) -> Setup {
        let dir = tempfile::Builder::new()
            .prefix("cordon-test-service-")
            .tempdir_in("/tmp")
            .expect("failed to create a folder in /tmp");
        Setup {
            dir,
            tenants: tenants.iter().map(|n| tenant(n)).collect(),
            extra: extra.to_string(),
        }
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn run_root(&self) -> PathBuf {
        self.dir.path().join("runs")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("service.toml")
    }

    pub fn tenant(&self, name: &str) -> &Tenant {
        self.tenants
            .iter()
            .find(|t| t.name == name)
            .expect("a configured tenant")
    }

    /// Writes the config file and returns its path.
    pub fn write_config(&self) -> PathBuf {
        let mut text = format!(
            "listen = \"127.0.0.1:0\"\nstate_dir = \"{}\"\nrun_root = \"{}\"\n{}\n",
            self.state_dir().display(),
            self.run_root().display(),
            self.extra
        );
        for t in &self.tenants {
            text.push_str(&format!(
                "\n[[tenants]]\nname = \"{}\"\n{}\nmax_concurrent = 2\n",
                t.name, t.token_line
            ));
        }
        let path = self.config_path();
        std::fs::write(&path, text).expect("failed to write the config");
        path
    }

    /// Starts `cordon serve` on this setup.
    pub fn serve(&self) -> Server {
        Server::start(&self.write_config())
    }
}

/// A running `cordon serve`; killed when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    stderr: Arc<Mutex<String>>,
    agent: ureq::Agent,
}

impl Server {
    pub fn start(config: &Path) -> Server {
        let mut child = Command::new(cordon_bin())
            .arg("serve")
            .arg("--config")
            .arg(config)
            .env("CORDON_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("failed to start cordon serve");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let pipe = child.stderr.take().expect("a stderr pipe");
        let log = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("serving the API on http://").nth(1) {
                    let addr = rest.split('/').next().unwrap_or("").to_string();
                    let _ = tx.send(addr);
                }
                let mut log = log.lock().expect("the log lock");
                log.push_str(&line);
                log.push('\n');
            }
        });
        let Ok(addr) = rx.recv_timeout(PATIENCE) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "cordon serve did not start:\n{}",
                stderr.lock().expect("lock")
            );
        };
        Server {
            child,
            base: format!("http://{addr}"),
            stderr,
            agent: agent(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server wrote to stderr so far.
    pub fn log(&self) -> String {
        self.stderr.lock().expect("the log lock").clone()
    }

    /// SIGKILL, and reap.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for a graceful exit; returns whether it exited 0.
    pub fn terminate(mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    fn answer(&self, res: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> (u16, Value) {
        if let Err(e) = &res {
            let alive = Path::new(&format!("/proc/{}", self.pid())).exists();
            panic!(
                "no answer from the server ({e}; process alive: {alive}); its log:\n{}",
                self.log()
            );
        }
        answer(res)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET path` with `token` (if any): status and parsed body (`Null` if not JSON).
    pub fn get(&self, token: Option<&str>, path: &str) -> (u16, Value) {
        let mut req = self.agent.get(&self.url(path));
        if let Some(token) = token {
            req = req.header("Authorization", &format!("Bearer {token}"));
        }
        self.answer(req.call())
    }

    /// `POST path` with a raw body and content type.
    pub fn post_raw(
        &self,
        token: Option<&str>,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> (u16, Value) {
        let mut req = self
            .agent
            .post(&self.url(path))
            .header("Content-Type", content_type);
        if let Some(token) = token {
            req = req.header("Authorization", &format!("Bearer {token}"));
        }
        self.answer(req.send(body))
    }

    /// `POST path` with a JSON body.
    pub fn post(&self, token: &str, path: &str, body: &Value) -> (u16, Value) {
        let bytes = serde_json::to_vec(body).expect("JSON encodes");
        self.post_raw(Some(token), path, "application/json", &bytes)
    }

    /// Submits `argv` (plus `extra` fields) for `tenant`; panics unless accepted.
    pub fn submit(&self, tenant: &Tenant, body: Value) -> Value {
        let (status, view) = self.post(&tenant.token, "/v1/runs", &body);
        assert_eq!(status, 201, "submit {body} answered {view}");
        view
    }

    /// Waits until run `id` has ended; returns its record.
    pub fn wait_final(&self, tenant: &Tenant, id: &str) -> Value {
        let mut last = Value::Null;
        let done = wait_until(PATIENCE, || {
            last = self.get(Some(&tenant.token), &format!("/v1/runs/{id}")).1;
            is_final(&last)
        });
        assert!(done, "run {id} did not end: {last}");
        last
    }

    /// Waits until run `id` is in `state`.
    pub fn wait_state(&self, tenant: &Tenant, id: &str, state: &str) -> Value {
        let mut last = Value::Null;
        let reached = wait_until(PATIENCE, || {
            last = self.get(Some(&tenant.token), &format!("/v1/runs/{id}")).1;
            last["state"] == state
        });
        assert!(reached, "run {id} did not reach {state}: {last}");
        last
    }

    /// The tenant's run ids, newest first (one page of up to 500).
    pub fn run_ids(&self, tenant: &Tenant) -> Vec<String> {
        let (status, list) = self.get(Some(&tenant.token), "/v1/runs?limit=500");
        assert_eq!(status, 200, "{list}");
        list["runs"]
            .as_array()
            .expect("a runs array")
            .iter()
            .map(|r| r["id"].as_str().expect("an id").to_string())
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn is_final(view: &Value) -> bool {
    !matches!(view["state"].as_str(), Some("queued" | "running") | None)
}

/// A client that opens a connection per request: the server may close a kept-alive
/// connection after refusing a request whose body it did not read (as HTTP allows), and
/// ureq does not retry on a fresh connection when it reuses such a one.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_idle_connections(0)
        .max_idle_connections_per_host(0)
        .timeout_global(Some(PATIENCE))
        .build()
        .into()
}

fn answer(res: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> (u16, Value) {
    let mut res = res.expect("the server answered");
    let status = res.status().as_u16();
    let text = res.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// `{"error": {"code": ...}}` of an answer.
pub fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

pub fn error_message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or("")
}

/// A submission of a shell-free command.
pub fn argv(args: &[&str]) -> Value {
    json!({ "argv": args })
}

/// Processes whose command line contains `marker` (other than pgrep itself).
pub fn processes_with(marker: &str) -> Vec<String> {
    let out = Command::new("pgrep")
        .args(["-f", "-a", marker])
        .output()
        .expect("failed to run pgrep");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Everything below `dir`, relative, sorted (for "nothing was written" checks).
pub fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            out.push(
                path.strip_prefix(base)
                    .unwrap_or(&path)
                    .display()
                    .to_string(),
            );
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                walk(base, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// A Python virtual environment with the official MCP client (`pip install mcp`), made once
/// per target directory and reused; built in a staging folder and renamed into place so
/// that concurrent test processes never see it half-made.
pub fn python_with_mcp() -> PathBuf {
    // One maker per test process; the staging name keeps processes apart.
    static PYTHON: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PYTHON.get_or_init(make_venv).clone()
}

fn make_venv() -> PathBuf {
    let target = cordon_bin()
        .parent()
        .and_then(Path::parent)
        .expect("the binary lives in <target>/<profile>/");
    let venv = target.join("py-mcp-venv");
    let python = venv.join("bin/python");
    if python.exists() && has_mcp(&python) {
        return python;
    }
    let staging = target.join(format!("py-mcp-venv.staging.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    run_ok(
        Command::new("/usr/bin/python3")
            .arg("-m")
            .arg("venv")
            .arg(&staging),
    );
    run_ok(Command::new(staging.join("bin/pip")).args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "mcp",
    ]));
    if std::fs::rename(&staging, &venv).is_err() {
        // Another test process finished first.
        let _ = std::fs::remove_dir_all(&staging);
    }
    assert!(has_mcp(&python), "failed to set up {}", venv.display());
    python
}

fn has_mcp(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import mcp"])
        .status()
        .is_ok_and(|s| s.success())
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().expect("failed to start a setup command");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
