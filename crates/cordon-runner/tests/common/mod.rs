//! A real runner over a temporary state dir and run root, with the real cordon binary
//! as its helper.
#![allow(dead_code)]

use cordon_runner::{Config, RunView, Runner, SubmitRequest, TenantName};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// Long enough for any run of these tests on a loaded 2-core machine.
pub const PATIENCE: Duration = Duration::from_secs(180);

/// Builds the cordon binary once, into the target dir this test runs from.
pub fn cordon_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // <target>/debug/deps/<test binary>
        let exe = std::env::current_exe().expect("the test binary's path");
        let target = exe.ancestors().nth(3).expect("a target dir").to_path_buf();
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "cordon"])
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building cordon failed");
        target.join("debug/cordon")
    })
    .clone()
}

pub fn tenant(name: &str) -> TenantName {
    TenantName(name.into())
}

pub fn token_of(name: &str) -> String {
    format!("token-of-{name}")
}

/// A service for `tenants`, with `extra` TOML lines before the tenant tables.
pub struct Service {
    pub dir: tempfile::TempDir,
    pub config: Config,
    pub runner: Runner,
}

pub fn config_text(dir: &Path, tenants: &[&str], extra: &str) -> String {
    let mut text = format!(
        "state_dir = \"{}/state\"\nrun_root = \"{}/runs\"\n{extra}\n",
        dir.display(),
        dir.display()
    );
    for t in tenants {
        text.push_str(&format!(
            "[[tenants]]\nname = \"{t}\"\ntoken_sha256 = \"{}\"\nmax_concurrent = 4\n",
            cordon_runner::token_sha256(&token_of(t))
        ));
    }
    text
}

pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cordon-runner-test")
        .tempdir_in("/tmp")
        .unwrap()
}

pub async fn start(tenants: &[&str], extra: &str) -> Service {
    let dir = temp_dir();
    start_in(dir, tenants, extra).await
}

pub async fn start_in(dir: tempfile::TempDir, tenants: &[&str], extra: &str) -> Service {
    let text = config_text(dir.path(), tenants, extra);
    let config = Config::from_toml("test", &text).unwrap();
    let runner = Runner::start(config.clone(), cordon_bin()).await.unwrap();
    Service {
        dir,
        config,
        runner,
    }
}

pub fn req(argv: &[&str]) -> SubmitRequest {
    serde_json::from_value(serde_json::json!({ "argv": argv })).unwrap()
}

pub fn req_json(v: serde_json::Value) -> SubmitRequest {
    serde_json::from_value(v).unwrap()
}

impl Service {
    pub async fn run(&self, who: &str, r: SubmitRequest) -> RunView {
        let t = tenant(who);
        let view = self.runner.submit(&t, r).await.unwrap();
        let done = self.runner.wait(&t, &view.id, PATIENCE).await.unwrap();
        assert!(done.state.is_final(), "run did not end: {done:?}");
        done
    }

    pub fn audit(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(self.dir.path().join("state/audit.log")).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// Processes on the host whose real uid is `uid`.
pub fn processes_of(uid: u32) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let owned = status
            .lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|u| u.parse::<u32>().ok())
            == Some(uid);
        if owned {
            pids.push(pid);
        }
    }
    pids
}
