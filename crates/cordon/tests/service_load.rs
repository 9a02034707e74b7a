//! Load through the HTTP API: 1,000 trivial runs submitted by 4 concurrent clients (two
//! per tenant). None may be lost or duplicated, and every record must be consistent with
//! itself and with the audit log.

mod service;

use serde_json::Value;
use service::*;
use std::collections::{BTreeMap, BTreeSet};

const CLIENTS: usize = 4;
const RUNS: usize = 1_000;

fn submit_many(server: &Server, tenant: &Tenant, count: usize) -> Vec<String> {
    (0..count)
        .map(|_| {
            let view = server.submit(tenant, argv(&["/bin/true"]));
            view["id"].as_str().expect("an id").to_string()
        })
        .collect()
}

/// Every run of `tenant`, following the pages.
fn all_runs(server: &Server, tenant: &Tenant) -> Vec<Value> {
    let mut runs = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let query = match &before {
            Some(b) => format!("/v1/runs?limit=500&before={b}"),
            None => "/v1/runs?limit=500".to_string(),
        };
        let (status, page) = server.get(Some(&tenant.token), &query);
        assert_eq!(status, 200, "{page}");
        runs.extend(page["runs"].as_array().expect("runs").iter().cloned());
        match page["next_before"].as_str() {
            Some(next) => before = Some(next.to_string()),
            None => return runs,
        }
    }
}

fn check_record(run: &Value) {
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["exit_code"], 0, "{run}");
    let times: Vec<&str> = ["created_at", "started_at", "ended_at"]
        .iter()
        .map(|k| run[*k].as_str().unwrap_or_else(|| panic!("no {k}: {run}")))
        .collect();
    // RFC 3339 UTC with a fixed width sorts as text.
    assert!(times[0] <= times[1] && times[1] <= times[2], "{run}");
}

#[test]
fn thousand_runs_from_four_clients_are_all_kept_once_and_consistent() {
    let setup = Setup::new(&["alice", "bob"], "max_concurrent = 4\n");
    let server = setup.serve();
    let tenants = [setup.tenant("alice").clone(), setup.tenant("bob").clone()];
    let submitted: Vec<(String, Vec<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let tenant = &tenants[i % 2];
                let server = &server;
                scope.spawn(move || {
                    (
                        tenant.name.clone(),
                        submit_many(server, tenant, RUNS / CLIENTS),
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a client thread"))
            .collect()
    });

    for tenant in &tenants {
        let mine: BTreeSet<String> = submitted
            .iter()
            .filter(|(name, _)| *name == tenant.name)
            .flat_map(|(_, ids)| ids.iter().cloned())
            .collect();
        assert_eq!(mine.len(), RUNS / 2, "duplicate ids handed out");
        for id in &mine {
            server.wait_final(tenant, id);
        }
        let runs = all_runs(&server, tenant);
        let stored: BTreeSet<String> = runs
            .iter()
            .map(|r| r["id"].as_str().expect("id").to_string())
            .collect();
        assert_eq!(runs.len(), RUNS / 2, "a run was listed twice");
        assert_eq!(stored, mine, "runs lost or invented");
        runs.iter().for_each(check_record);
    }

    // The end is audited just after the record is written: give the log a moment.
    let ids: Vec<&String> = submitted.iter().flat_map(|(_, ids)| ids).collect();
    let mut wrong = Vec::new();
    wait_until(PATIENCE, || {
        let events = audit_events(&setup);
        wrong = ids
            .iter()
            .flat_map(|id| ["submit", "start", "end"].map(|e| (e, *id)))
            .filter(|(e, id)| events.get(&(e.to_string(), id.to_string())) != Some(&1))
            .map(|(e, id)| format!("{e} {id}"))
            .collect();
        wrong.is_empty()
    });
    assert!(
        wrong.is_empty(),
        "not audited exactly once: {:?}",
        &wrong[..wrong.len().min(10)]
    );
}

/// How often each (event, run id) pair is in the audit log.
fn audit_events(setup: &Setup) -> BTreeMap<(String, String), usize> {
    let mut events = BTreeMap::new();
    let audit = std::fs::read_to_string(setup.state_dir().join("audit.log")).unwrap_or_default();
    for line in audit.lines() {
        let Ok(entry) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if let (Some(event), Some(id)) = (entry["event"].as_str(), entry["run_id"].as_str()) {
            *events
                .entry((event.to_string(), id.to_string()))
                .or_default() += 1;
        }
    }
    events
}
