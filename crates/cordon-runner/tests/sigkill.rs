//! The runner killed with SIGKILL in the middle of a run: the run's processes die with it
//! and the next runner on the same state marks the run lost.

mod common;

use common::*;
use cordon_runner::{RunState, LOST_REASON};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "CORDON_RUNNER_TEST_CHILD_DIR";
const TENANT: &str = "runner-sigkill";

/// Not a test on its own: the service process the test below starts and kills.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "started by sigkill_of_the_runner_kills_its_runs"]
async fn child_service() {
    let Some(dir) = std::env::var_os(CHILD_ENV).map(PathBuf::from) else {
        return;
    };
    let text = config_text(&dir, &[TENANT], "");
    let config = cordon_runner::Config::from_toml("test", &text).unwrap();
    let runner = cordon_runner::Runner::start(config, cordon_bin())
        .await
        .unwrap();
    let t = tenant(TENANT);
    let view = runner.submit(&t, req(&["sleep", "300"])).await.unwrap();
    while runner.status(&t, &view.id).await.unwrap().state != RunState::Running {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    std::fs::write(dir.join("running"), &view.id).unwrap();
    tokio::time::sleep(Duration::from_secs(600)).await;
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn tenant_uid(dir: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(dir.join("state/tenant-uids")).ok()?;
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .find(|(n, _)| *n == TENANT)
        .and_then(|(_, u)| u.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_the_runner_kills_its_runs() {
    cordon_bin();
    let dir = temp_dir();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_service",
            "--include-ignored",
            "--nocapture",
        ])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let marker = dir.path().join("running");
    wait_for("the run to start", || marker.exists());
    let id = std::fs::read_to_string(&marker).unwrap();
    let uid = tenant_uid(dir.path());
    if let Some(uid) = uid {
        // `Running` is set when the run is claimed, before its helper has switched to the
        // tenant's uid.
        wait_for("the run's processes under the tenant's uid", || {
            !processes_of(uid).is_empty()
        });
    }
    child.kill().unwrap();
    child.wait().unwrap();
    if let Some(uid) = uid {
        wait_for("the run's processes to die", || {
            processes_of(uid).is_empty()
        });
    }
    let s = start_in(dir, &[TENANT], "").await;
    let view = s.runner.status(&tenant(TENANT), &id).await.unwrap();
    assert_eq!(view.state, RunState::Lost, "{view:?}");
    assert_eq!(view.error.as_deref(), Some(LOST_REASON));
    let ends = s.audit().iter().filter(|e| e["event"] == "end").count();
    assert_eq!(ends, 1, "the loss is audited");
}
