//! SIGKILL of `cordon serve` in the middle of runs, then a restart on the same state:
//! the runs' processes die with the service, every record survives, the running ones are
//! marked lost with the reason and the queued ones start and finish.

mod service;

use serde_json::json;
use service::*;
use std::time::Duration;

/// A sleeper whose every process carries `marker` in its command line (the fork too), so
/// that `pgrep -f` finds any survivor.
fn sleeper(marker: &str) -> serde_json::Value {
    json!({
        "argv": ["/usr/bin/python3", "-c",
                 "import os, time; os.fork(); time.sleep(60)", marker],
    })
}

#[test]
fn sigkilled_service_leaves_no_process_and_recovers_every_record() {
    // One run at a time for the tenant, so that the later submissions stay queued.
    let setup = Setup::new(&["alice"], "max_concurrent = 1\n");
    let alice = setup.tenant("alice").clone();
    let marker = format!("cordon-crash-marker-{}", std::process::id());
    let server = setup.serve();
    let running = server.submit(&alice, sleeper(&marker));
    let running_id = running["id"].as_str().expect("an id").to_string();
    server.wait_state(&alice, &running_id, "running");
    let queued: Vec<String> = (0..3)
        .map(|i| {
            let view = server.submit(&alice, argv(&["/bin/echo", &format!("queued {i}")]));
            assert_eq!(view["state"], "queued", "{view}");
            view["id"].as_str().expect("an id").to_string()
        })
        .collect();
    assert!(
        wait_until(PATIENCE, || processes_with(&marker).len() >= 2),
        "the sleeper and its fork did not start: {:?}",
        processes_with(&marker)
    );

    server.kill();

    let survivors_die = wait_until(Duration::from_secs(30), || {
        processes_with(&marker).is_empty()
    });
    assert!(
        survivors_die,
        "processes outlived the service: {:?}",
        processes_with(&marker)
    );

    let server = Server::start(&setup.config_path());
    let lost = server.wait_final(&alice, &running_id);
    assert_eq!(lost["state"], "lost", "{lost}");
    assert!(
        lost["error"].as_str().is_some_and(|e| !e.is_empty()),
        "a lost run says why: {lost}"
    );
    for id in &queued {
        let view = server.wait_final(&alice, id);
        assert_eq!(
            view["state"], "succeeded",
            "a queued run after the restart: {view}"
        );
    }
    let mut ids = server.run_ids(&alice);
    ids.sort();
    let mut expected: Vec<String> = queued.iter().cloned().chain([running_id]).collect();
    expected.sort();
    assert_eq!(ids, expected, "records lost or duplicated by the crash");
    let (_, logs) = server.get(
        Some(&alice.token),
        &format!("/v1/runs/{}/logs?stream=stdout", queued[0]),
    );
    assert_eq!(logs["text"], "queued 0\n", "{logs}");
}
