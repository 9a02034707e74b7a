//! End-to-end runs through the engine: real SQLite file, real cordon helper, real kernel.
//! Run as root (runs then get tenant uids from 200000 up, and cgroups of their own).

mod common;

use common::*;
use cordon_runner::store::sqlite::SqliteStore;
use cordon_runner::store::{NewRun, Store};
use cordon_runner::{
    ArtifactQuery, ListQuery, LogQuery, RunState, RunnerError, Stream, LOST_REASON,
};
use std::time::Duration;

const WRITER: &str = "import os\nos.makedirs('out', exist_ok=True)\n\
open('out/result.csv', 'w').write('x,y\\n1,2\\n')\nprint('wrote', os.getcwd())\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_run_writes_an_artifact_that_reads_back() {
    let s = start(&["py"], "").await;
    let r = req_json(serde_json::json!({
        "argv": ["python3", "script.py"],
        "inputs": [{"kind": "inline", "path": "script.py", "content": WRITER}],
    }));
    let done = s.run("py", r).await;
    assert_eq!(done.state, RunState::Succeeded, "{done:?}");
    assert_eq!(done.exit_code, Some(0));
    assert!(
        done.tier
            .as_deref()
            .is_some_and(|t| t.starts_with("strict/")),
        "{done:?}"
    );
    assert!(done.report.is_some() && done.usage.is_some());
    let t = tenant("py");
    let list = s.runner.artifacts(&t, &done.id).await.unwrap();
    let csv = list
        .iter()
        .find(|a| a.path == "out/result.csv")
        .expect("listed");
    assert_eq!((csv.size, csv.kind.as_str()), (8, "file"));
    assert!(list.iter().any(|a| a.path == "out" && a.kind == "dir"));
    let q = ArtifactQuery {
        path: "out/result.csv".into(),
        offset: None,
        length: None,
    };
    let got = s.runner.read_artifact(&t, &done.id, q).await.unwrap();
    assert_eq!(got.text.as_deref(), Some("x,y\n1,2\n"));
    assert!(got.eof);
    let part = ArtifactQuery {
        path: "out/result.csv".into(),
        offset: Some(4),
        length: Some(2),
    };
    let got = s.runner.read_artifact(&t, &done.id, part).await.unwrap();
    assert_eq!((got.text.as_deref(), got.eof), (Some("1,"), false));
    let audit = s.audit();
    let events: Vec<&str> = audit.iter().filter_map(|e| e["event"].as_str()).collect();
    assert_eq!(events, ["submit", "start", "end"]);
    assert_eq!(audit[2]["outcome"], "succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_get_the_tenants_own_uid() {
    let s = start(&["uids"], "").await;
    let done = s.run("uids", req(&["id", "-u"])).await;
    let q = LogQuery {
        stream: Stream::Stdout,
        tail_lines: None,
        offset: None,
        length: None,
    };
    let out = s.runner.logs(&tenant("uids"), &done.id, q).await.unwrap();
    let uid: u32 = out.text.trim().parse().unwrap();
    if rustix::process::geteuid().is_root() {
        assert!(uid >= 200_000, "ran as {uid}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_answer_tails_and_byte_ranges() {
    let s = start(&["logs"], "").await;
    let script = "for i in $(seq 1 100); do echo line$i; done; echo oops >&2";
    let done = s.run("logs", req(&["sh", "-c", script])).await;
    assert_eq!(done.state, RunState::Succeeded, "{done:?}");
    let t = tenant("logs");
    let q = |tail, offset, length| LogQuery {
        stream: Stream::Stdout,
        tail_lines: tail,
        offset,
        length,
    };
    let tail = s
        .runner
        .logs(&t, &done.id, q(Some(2), None, None))
        .await
        .unwrap();
    assert_eq!(tail.text, "line99\nline100\n");
    assert!(tail.eof && !tail.truncated);
    assert_eq!(tail.offset + tail.text.len() as u64, tail.kept_bytes);
    let range = s
        .runner
        .logs(&t, &done.id, q(None, Some(6), Some(6)))
        .await
        .unwrap();
    assert_eq!((range.text.as_str(), range.eof), ("line2\n", false));
    let both = s.runner.logs(&t, &done.id, q(Some(1), Some(0), None)).await;
    assert!(matches!(both, Err(RunnerError::Invalid { .. })), "{both:?}");
    let err_q = LogQuery {
        stream: Stream::Stderr,
        tail_lines: Some(5),
        offset: None,
        length: None,
    };
    let err = s.runner.logs(&t, &done.id, err_q).await.unwrap();
    assert_eq!(err.text, "oops\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_cap_counts_what_it_does_not_keep() {
    let s = start(&["flood"], "max_log_bytes = 1000").await;
    let done = s
        .run("flood", req(&["sh", "-c", "head -c 50000 /dev/zero"]))
        .await;
    assert_eq!(done.state, RunState::Succeeded, "{done:?}");
    assert_eq!(done.stdout_bytes, 50_000);
    assert!(done.stdout_truncated && !done.stderr_truncated);
    let log = s
        .dir
        .path()
        .join(format!("runs/flood/{}/stdout.log", done.id));
    assert_eq!(std::fs::metadata(log).unwrap().len(), 1000);
    let q = LogQuery {
        stream: Stream::Stdout,
        tail_lines: None,
        offset: None,
        length: None,
    };
    let chunk = s.runner.logs(&tenant("flood"), &done.id, q).await.unwrap();
    assert_eq!((chunk.kept_bytes, chunk.total_bytes), (1000, 50_000));
    assert!(chunk.truncated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_streams_are_copied_in_full_and_a_silent_one_leaves_no_file() {
    let s = start(&["streams"], "").await;
    let t = tenant("streams");
    // Both pipes fill (far beyond a pipe's 64 KiB) in alternation: one copier serves both.
    let script = "for i in $(seq 1 400); do head -c 1000 /dev/zero; \
                  head -c 1000 /dev/zero >&2; done";
    let both = s.run("streams", req(&["sh", "-c", script])).await;
    assert_eq!(both.state, RunState::Succeeded, "{both:?}");
    assert_eq!((both.stdout_bytes, both.stderr_bytes), (400_000, 400_000));
    let dir = |id: &str| s.dir.path().join(format!("runs/streams/{id}"));
    for f in ["stdout.log", "stderr.log"] {
        assert_eq!(
            std::fs::metadata(dir(&both.id).join(f)).unwrap().len(),
            400_000
        );
    }

    let silent = s.run("streams", req(&["/bin/true"])).await;
    assert_eq!(silent.state, RunState::Succeeded, "{silent:?}");
    for (stream, f) in [
        (Stream::Stdout, "stdout.log"),
        (Stream::Stderr, "stderr.log"),
    ] {
        assert!(!dir(&silent.id).join(f).exists(), "{f} of a silent run");
        let q = LogQuery {
            stream,
            tail_lines: Some(10),
            offset: None,
            length: None,
        };
        let chunk = s.runner.logs(&t, &silent.id, q).await.unwrap();
        assert_eq!((chunk.text.as_str(), chunk.total_bytes), ("", 0));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_kills_the_whole_tree() {
    let s = start(&["runner-cancel-tree"], "").await;
    let t = tenant("runner-cancel-tree");
    let r = req(&["sh", "-c", "sleep 60 & sleep 60 & echo started; wait"]);
    let view = s.runner.submit(&t, r).await.unwrap();
    let q = || LogQuery {
        stream: Stream::Stdout,
        tail_lines: Some(1),
        offset: None,
        length: None,
    };
    let deadline = std::time::Instant::now() + PATIENCE;
    while s.runner.logs(&t, &view.id, q()).await.unwrap().text != "started\n" {
        assert!(
            std::time::Instant::now() < deadline,
            "the run never started"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let uid = run_uid(&s, "runner-cancel-tree");
    let before = cordon_runner_test_uid(uid);
    let done = s.runner.cancel(&t, &view.id).await.unwrap();
    let done = s.runner.wait(&t, &done.id, PATIENCE).await.unwrap();
    assert_eq!(done.state, RunState::Cancelled, "{done:?}");
    assert_eq!(done.kill_reason.as_deref(), Some("cancel"));
    if let Some(uid) = before {
        assert!(
            processes_of(uid).is_empty(),
            "processes of uid {uid} survived"
        );
    }
    let again = s.runner.cancel(&t, &view.id).await.unwrap();
    assert_eq!(again, done, "cancelling an ended run changes nothing");
}

/// The tenant's uid from the registry the runner keeps in its state dir (root only).
fn run_uid(s: &Service, name: &str) -> Option<u32> {
    let text = std::fs::read_to_string(s.dir.path().join("state/tenant-uids")).ok()?;
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .find(|(n, _)| *n == name)
        .and_then(|(_, u)| u.parse().ok())
}

fn cordon_runner_test_uid(uid: Option<u32>) -> Option<u32> {
    let uid = uid?;
    assert!(
        !processes_of(uid).is_empty(),
        "the run has processes before the cancel"
    );
    Some(uid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_run_can_be_cancelled_before_it_starts() {
    let s = start(&["q"], "max_concurrent = 1").await;
    let t = tenant("q");
    let first = s.runner.submit(&t, req(&["sleep", "30"])).await.unwrap();
    let second = s.runner.submit(&t, req(&["/bin/true"])).await.unwrap();
    let cancelled = s.runner.cancel(&t, &second.id).await.unwrap();
    assert_eq!(cancelled.state, RunState::Cancelled);
    assert!(cancelled.started_at.is_none());
    let first = s.runner.cancel(&t, &first.id).await.unwrap();
    assert_eq!(first.state, RunState::Cancelled, "{first:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_time_limit_ends_a_run_as_timed_out() {
    let s = start(&["slow"], "").await;
    let r = req_json(serde_json::json!({"argv": ["sleep", "60"], "limits": {"timeout": "1s"}}));
    let done = s.run("slow", r).await;
    assert_eq!(done.state, RunState::TimedOut, "{done:?}");
    assert_eq!(done.exit_code, Some(124));
    assert_eq!(done.kill_reason.as_deref(), Some("timeout"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_say_why() {
    let s = start(&["fail"], "").await;
    let done = s.run("fail", req(&["sh", "-c", "exit 3"])).await;
    assert_eq!((done.state, done.exit_code), (RunState::Failed, Some(3)));
    assert!(done.error.unwrap().contains("status 3"));
    let done = s.run("fail", req(&["no-such-command-here"])).await;
    assert_eq!((done.state, done.exit_code), (RunState::Failed, Some(127)));
    assert!(done.error.unwrap().contains("not found"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_cannot_see_each_others_runs() {
    let s = start(&["alice", "bob"], "").await;
    let (alice, bob) = (tenant("alice"), tenant("bob"));
    let done = s
        .run("alice", req(&["sh", "-c", "echo secret > s.txt"]))
        .await;
    let unknown = "00000000-0000-4000-8000-000000000000";
    let same = |a: RunnerError, b: RunnerError| {
        assert!(matches!(a, RunnerError::NotFound { .. }), "{a:?}");
        assert_eq!(a.to_string().replace(&done.id, unknown), b.to_string());
        assert_eq!(a.status_code(), b.status_code());
    };
    let r = &s.runner;
    same(
        r.status(&bob, &done.id).await.unwrap_err(),
        r.status(&bob, unknown).await.unwrap_err(),
    );
    same(
        r.cancel(&bob, &done.id).await.unwrap_err(),
        r.cancel(&bob, unknown).await.unwrap_err(),
    );
    same(
        r.artifacts(&bob, &done.id).await.unwrap_err(),
        r.artifacts(&bob, unknown).await.unwrap_err(),
    );
    let q = || ArtifactQuery {
        path: "s.txt".into(),
        offset: None,
        length: None,
    };
    same(
        r.read_artifact(&bob, &done.id, q()).await.unwrap_err(),
        r.read_artifact(&bob, unknown, q()).await.unwrap_err(),
    );
    let lq = || LogQuery {
        stream: Stream::Stdout,
        tail_lines: None,
        offset: None,
        length: None,
    };
    same(
        r.logs(&bob, &done.id, lq()).await.unwrap_err(),
        r.logs(&bob, unknown, lq()).await.unwrap_err(),
    );
    same(
        r.wait(&bob, &done.id, Duration::ZERO).await.unwrap_err(),
        r.wait(&bob, unknown, Duration::ZERO).await.unwrap_err(),
    );
    assert!(r
        .list(&bob, ListQuery::default())
        .await
        .unwrap()
        .runs
        .is_empty());
    assert_eq!(
        r.list(&alice, ListQuery::default())
            .await
            .unwrap()
            .runs
            .len(),
        1
    );
    let copy = req_json(serde_json::json!({
        "argv": ["cat", "s.txt"],
        "inputs": [{"kind": "copy", "root": "runs", "path": format!("{}/s.txt", done.id)}],
    }));
    let refused = r.submit(&bob, copy.clone()).await.unwrap_err();
    assert!(
        matches!(refused, RunnerError::Invalid { .. }),
        "{refused:?}"
    );
    let own = s.run("alice", copy).await;
    assert_eq!(
        own.state,
        RunState::Succeeded,
        "alice may copy her own outputs: {own:?}"
    );
    assert_eq!(s.runner.authenticate(&token_of("bob")), Some(bob));
    assert_eq!(s.runner.authenticate("token-of-nobody"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_the_tenants_rights_are_forbidden() {
    let s = start(&["limited"], "").await;
    let t = tenant("limited");
    for (body, what) in [
        (
            serde_json::json!({"argv": ["true"], "mode": "off"}),
            "mode off",
        ),
        (
            serde_json::json!({"argv": ["true"], "net": "allow"}),
            "net allow",
        ),
        (
            serde_json::json!({"argv": ["true"], "limits": {"timeout": "1h"}}),
            "longer timeout",
        ),
        (
            serde_json::json!({"argv": ["true"], "limits": {"memory": "none"}}),
            "no memory limit",
        ),
    ] {
        let got = s.runner.submit(&t, req_json(body)).await;
        assert!(
            matches!(got, Err(RunnerError::Forbidden { .. })),
            "{what}: {got:?}"
        );
    }
    let tighter = req_json(serde_json::json!({"argv": ["true"], "limits": {"timeout": "1m"}}));
    assert_eq!(s.run("limited", tighter).await.state, RunState::Succeeded);
    let runs = std::fs::read_dir(s.dir.path().join("runs/limited"))
        .unwrap()
        .count();
    assert_eq!(runs, 1, "refused requests leave no run directory");
    let refused = s.audit().iter().filter(|e| e["event"] == "refused").count();
    assert_eq!(refused, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_paths_are_refused_with_their_field() {
    let s = start(&["paths"], "").await;
    let t = tenant("paths");
    for (path, why) in [
        ("../x", "'..'"),
        ("/etc/x", "absolute"),
        ("a\u{0}b", "NUL"),
        ("", "empty"),
    ] {
        let body = serde_json::json!({
            "argv": ["true"],
            "inputs": [{"kind": "inline", "path": path, "content": "x"}],
        });
        match s.runner.submit(&t, req_json(body)).await {
            Err(RunnerError::Invalid { field, reason }) => {
                assert_eq!(field, "inputs[0].path");
                assert!(reason.contains(why), "{path:?}: {reason}");
            }
            other => panic!("{path:?}: {other:?}"),
        }
    }
    let big = serde_json::json!({
        "argv": ["true"],
        "inputs": [{"kind": "inline", "path": "big", "content": "x".repeat(300_000)}],
    });
    let got = s.runner.submit(&t, req_json(big)).await;
    assert!(matches!(got, Err(RunnerError::TooLarge { .. })), "{got:?}");
    let cwd = serde_json::json!({"argv": ["true"], "cwd": "../.."});
    let got = s.runner.submit(&t, req_json(cwd)).await;
    assert!(matches!(got, Err(RunnerError::Invalid { ref field, .. }) if field == "cwd"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_input_with_an_escaping_symlink_is_refused() {
    let shared = temp_dir();
    std::fs::create_dir(shared.path().join("tpl")).unwrap();
    std::fs::write(shared.path().join("tpl/ok.txt"), "fine").unwrap();
    std::os::unix::fs::symlink("/etc/shadow", shared.path().join("tpl/evil")).unwrap();
    std::fs::create_dir(shared.path().join("clean")).unwrap();
    std::fs::write(shared.path().join("clean/a.txt"), "A").unwrap();
    let extra = format!(
        "[shared_roots]\ntemplates = \"{}\"",
        shared.path().display()
    );
    let s = start(&["copier"], &extra).await;
    let t = tenant("copier");
    let tree = req_json(serde_json::json!({
        "argv": ["true"],
        "inputs": [{"kind": "copy", "root": "templates", "path": "tpl"}],
    }));
    match s.runner.submit(&t, tree).await {
        Err(RunnerError::Invalid { field, reason }) => {
            assert_eq!(field, "inputs[0].path");
            assert!(
                reason.contains("tpl/evil") && reason.contains("symbolic link"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    let direct = req_json(serde_json::json!({
        "argv": ["true"],
        "inputs": [{"kind": "copy", "root": "templates", "path": "tpl/evil/../x"}],
    }));
    assert!(matches!(
        s.runner.submit(&t, direct).await,
        Err(RunnerError::Invalid { .. })
    ));
    let good = req_json(serde_json::json!({
        "argv": ["sh", "-c", "cat data/a.txt && echo changed > data/a.txt"],
        "inputs": [{"kind": "copy", "root": "templates", "path": "clean", "to": "data"}],
    }));
    let done = s.run("copier", good).await;
    assert_eq!(done.state, RunState::Succeeded, "{done:?}");
    let original = std::fs::read_to_string(shared.path().join("clean/a.txt")).unwrap();
    assert_eq!(original, "A", "a run only ever changes its own copy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_marks_running_runs_lost_and_starts_queued_ones() {
    let dir = temp_dir();
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let ids = [
        "11111111-1111-4111-8111-111111111111",
        "22222222-2222-4222-8222-222222222222",
    ];
    {
        let store = SqliteStore::open(&state.join("state.db")).unwrap();
        for id in ids {
            let work = dir.path().join(format!("runs/crash/{id}/work"));
            std::fs::create_dir_all(work).unwrap();
            store
                .insert(&NewRun {
                    id: id.into(),
                    tenant: tenant("crash"),
                    argv: vec!["/bin/true".into()],
                    request: r#"{"argv":["/bin/true"]}"#.into(),
                    created_at: "2026-01-01T00:00:00.000Z".into(),
                })
                .unwrap();
        }
        assert!(store.claim(ids[0], "2026-01-01T00:00:01.000Z").unwrap());
    }
    let s = start_in(dir, &["crash"], "").await;
    let t = tenant("crash");
    let lost = s.runner.status(&t, ids[0]).await.unwrap();
    assert_eq!(lost.state, RunState::Lost);
    assert_eq!(lost.error.as_deref(), Some(LOST_REASON));
    let queued = s.runner.wait(&t, ids[1], PATIENCE).await.unwrap();
    assert_eq!(queued.state, RunState::Succeeded, "{queued:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_runs_from_four_clients_are_all_recorded_once() {
    let s = start(&["load"], "max_concurrent = 4").await;
    let mut clients = Vec::new();
    for _ in 0..4 {
        let runner = s.runner.clone();
        clients.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for _ in 0..250 {
                let view = runner
                    .submit(&tenant("load"), req(&["/bin/true"]))
                    .await
                    .unwrap();
                ids.push(view.id);
            }
            ids
        }));
    }
    let mut ids = Vec::new();
    for c in clients {
        ids.extend(c.await.unwrap());
    }
    let t = tenant("load");
    for id in &ids {
        let v = s.runner.wait(&t, id, PATIENCE).await.unwrap();
        assert_eq!(v.state, RunState::Succeeded, "{v:?}");
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut before = None;
    loop {
        let q = ListQuery {
            state: None,
            limit: Some(500),
            before: before.clone(),
        };
        let page = s.runner.list(&t, q).await.unwrap();
        for r in &page.runs {
            assert!(seen.insert(r.id.clone()), "run {} listed twice", r.id);
            assert_eq!(r.state, RunState::Succeeded);
            assert!(r.started_at.is_some() && r.ended_at.is_some());
        }
        match page.next_before {
            Some(b) => before = Some(b),
            None => break,
        }
    }
    let submitted: std::collections::BTreeSet<String> = ids.into_iter().collect();
    assert_eq!(submitted.len(), 1000, "every submission got its own id");
    assert_eq!(seen, submitted, "every run is recorded exactly once");
    let audit = s.audit();
    for event in ["submit", "start", "end"] {
        assert_eq!(
            audit.iter().filter(|e| e["event"] == event).count(),
            1000,
            "{event}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_swapped_for_symlinks_are_never_followed() {
    let s = start(&["swap"], "").await;
    let t = tenant("swap");
    let script = "ln -s /etc/shadow leak && mkdir d && ln -s /etc d/etc && echo ok > d/real";
    let done = s.run("swap", req(&["sh", "-c", script])).await;
    assert_eq!(done.state, RunState::Succeeded, "{done:?}");
    let list = s.runner.artifacts(&t, &done.id).await.unwrap();
    let leak = list.iter().find(|a| a.path == "leak").expect("listed");
    assert_eq!(leak.kind, "symlink");
    assert!(
        !list.iter().any(|a| a.path.starts_with("d/etc/")),
        "links are not entered"
    );
    for path in ["leak", "d/etc/passwd"] {
        let q = ArtifactQuery {
            path: path.into(),
            offset: None,
            length: None,
        };
        match s.runner.read_artifact(&t, &done.id, q).await {
            Err(RunnerError::Invalid { field, reason }) => {
                assert_eq!(field, "path");
                assert!(reason.contains("symbolic link"), "{path}: {reason}");
            }
            other => panic!("{path}: {other:?}"),
        }
    }
    let copy_back = req_json(serde_json::json!({
        "argv": ["true"],
        "inputs": [{"kind": "copy", "root": "runs", "path": format!("{}/leak", done.id)}],
    }));
    let got = s.runner.submit(&t, copy_back).await;
    assert!(matches!(got, Err(RunnerError::Invalid { .. })), "{got:?}");
    let dir = s.dir.path().join(format!("runs/swap/{}/work", done.id));
    let q = ArtifactQuery {
        path: "d".into(),
        offset: None,
        length: None,
    };
    let not_file = s.runner.read_artifact(&t, &done.id, q).await;
    assert!(
        matches!(not_file, Err(RunnerError::Invalid { .. })),
        "{not_file:?}"
    );
    assert!(dir.join("d/real").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_queued_runs_are_forbidden() {
    let dir = temp_dir();
    let text = format!(
        "state_dir = \"{0}/state\"\nrun_root = \"{0}/runs\"\nmax_concurrent = 1\n\
         [[tenants]]\nname = \"busy\"\ntoken_sha256 = \"{1}\"\nmax_queued = 1\n",
        dir.path().display(),
        cordon_runner::token_sha256("t")
    );
    let config = cordon_runner::Config::from_toml("test", &text).unwrap();
    let runner = cordon_runner::Runner::start(config, cordon_bin())
        .await
        .unwrap();
    let t = tenant("busy");
    let running = runner.submit(&t, req(&["sleep", "30"])).await.unwrap();
    let queued = runner.submit(&t, req(&["/bin/true"])).await.unwrap();
    let refused = runner.submit(&t, req(&["/bin/true"])).await;
    assert!(
        matches!(refused, Err(RunnerError::Forbidden { .. })),
        "{refused:?}"
    );
    assert_eq!(
        runner
            .list(&t, ListQuery::default())
            .await
            .unwrap()
            .runs
            .len(),
        2
    );
    runner.cancel(&t, &queued.id).await.unwrap();
    runner.cancel(&t, &running.id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_running_runs_and_keeps_queued_ones() {
    let dir = temp_dir();
    let extra = "max_concurrent = 1";
    let text = config_text(dir.path(), &["stop"], extra);
    let config = cordon_runner::Config::from_toml("test", &text).unwrap();
    let runner = cordon_runner::Runner::start(config.clone(), cordon_bin())
        .await
        .unwrap();
    let t = tenant("stop");
    let running = runner.submit(&t, req(&["sleep", "60"])).await.unwrap();
    let queued = runner.submit(&t, req(&["/bin/true"])).await.unwrap();
    let deadline = std::time::Instant::now() + PATIENCE;
    while runner.status(&t, &running.id).await.unwrap().state != RunState::Running {
        assert!(
            std::time::Instant::now() < deadline,
            "the run never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    runner.shutdown().await;
    let ended = runner.status(&t, &running.id).await.unwrap();
    assert_eq!(ended.state, RunState::Cancelled, "{ended:?}");
    assert_eq!(
        runner.status(&t, &queued.id).await.unwrap().state,
        RunState::Queued
    );
    let refused = runner.submit(&t, req(&["/bin/true"])).await;
    assert!(
        matches!(refused, Err(RunnerError::Conflict { .. })),
        "{refused:?}"
    );
    drop(runner);
    // The old runner's last handles (its scheduler task, its run threads) let go of the
    // state directory's lock a moment after the drop; a new process would not wait.
    let deadline = std::time::Instant::now() + PATIENCE;
    let again = loop {
        match cordon_runner::Runner::start(config.clone(), cordon_bin()).await {
            Ok(runner) => break runner,
            Err(e) if std::time::Instant::now() < deadline => {
                tracing::debug!(error = %e, "the state directory is still locked");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("the runner did not start again: {e}"),
        }
    };
    let done = again.wait(&t, &queued.id, PATIENCE).await.unwrap();
    assert_eq!(
        done.state,
        RunState::Succeeded,
        "a queued run starts after a restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_yield_the_cpu_to_the_service() {
    let s = start(&["nice"], "").await;
    // Field 19 of /proc/self/stat is the niceness (the command name has no spaces).
    let done = s
        .run("nice", req(&["sh", "-c", "cut -d' ' -f19 /proc/self/stat"]))
        .await;
    assert_eq!(done.state, RunState::Succeeded, "{done:?}");
    let q = LogQuery {
        stream: Stream::Stdout,
        tail_lines: None,
        offset: None,
        length: None,
    };
    let out = s.runner.logs(&tenant("nice"), &done.id, q).await.unwrap();
    assert_eq!(out.text.trim(), "10");
    let renice = s.run("nice", req(&["sh", "-c", "renice -n 0 -p $$"])).await;
    assert_eq!(
        renice.state,
        RunState::Failed,
        "a run cannot take its priority back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_runner_on_the_same_state_is_refused() {
    let s = start(&["single"], "").await;
    let second = cordon_runner::Runner::start(s.config.clone(), cordon_bin()).await;
    match second {
        Err(RunnerError::Internal(why)) => assert!(why.contains("another runner"), "{why}"),
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("two runners share one state dir"),
    }
}

/// A run's `limits.disk` bounds what its folder can hold, however many files it uses, and
/// what it did write within the budget is there afterwards as an artifact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_disk_limit_bounds_the_run_folder() {
    let s = start(&["disk"], "").await;
    let fill = "printf kept > kept.txt; for i in 1 2 3 4; do head -c 4194304 /dev/zero > f$i || exit 7; done";
    let r = req_json(serde_json::json!({
        "argv": ["/bin/sh", "-c", fill],
        "limits": {"disk": "8MiB"},
    }));
    let done = s.run("disk", r).await;
    assert_eq!(done.exit_code, Some(7), "{done:?}");
    let report = done.report.clone().unwrap_or_default();
    let disk = report["layers"]
        .as_array()
        .and_then(|l| l.iter().find(|x| x["layer"] == "limit.disk").cloned())
        .unwrap_or_default();
    assert_eq!(disk["level"], "enforced", "{disk}");
    let t = tenant("disk");
    let list = s.runner.artifacts(&t, &done.id).await.unwrap();
    let total: u64 = list.iter().map(|a| a.size).sum();
    assert!(total <= 8 << 20, "{total} bytes reached the host\n{list:?}");
    assert!(list.iter().any(|a| a.path == "kept.txt"), "{list:?}");
}
