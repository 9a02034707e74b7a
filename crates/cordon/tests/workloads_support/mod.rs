//! Shared by the `workloads_*` tests: a confined run under a named profile in strict mode,
//! and the checks on what it enforced.
//!
//! Strict mode refuses an unprivileged caller on a host that delegates it no cgroup (here
//! the test account has none), since the memory and process limits are then per process
//! (rlimits), hence partial. [`confined`] checks that such a refusal names those layers
//! and nothing else, and then repeats the run in strict mode with both limits declined
//! (`--memory none --pids none`), where every other layer must be enforced. (With a
//! delegated cgroup, strict mode runs with the limits; `attack_resources` shows that.)

#![allow(dead_code)] // each workload test file uses a different part

use crate::common::{cordon_cli, Caller, Outcome};

/// Layers an unprivileged caller cannot get in full without a delegated cgroup.
pub const CGROUP_LAYERS: [&str; 2] = ["limit.memory", "limit.pids"];

/// `cordon run --profile PROFILE --mode strict --json FLAGS... -- CMD...` as `caller`,
/// expected to succeed, with every layer enforced (see the module docs for the exceptions).
pub fn confined<S: AsRef<str>>(caller: Caller, profile: &str, flags: &[S], cmd: &[S]) -> Outcome {
    let mut outcome = run(caller, profile, "strict", flags, cmd);
    if caller == Caller::Unprivileged && outcome.code() == Some(125) {
        expect_refused_for_cgroup_only(&outcome);
        let mut declined: Vec<&str> = vec!["--memory", "none", "--pids", "none"];
        declined.extend(flags.iter().map(AsRef::as_ref));
        let cmd: Vec<&str> = cmd.iter().map(AsRef::as_ref).collect();
        outcome = run(caller, profile, "strict", &declined, &cmd);
    }
    outcome.expect_success();
    expect_enforced(caller, &outcome);
    outcome
}

fn run<S: AsRef<str>>(
    caller: Caller,
    profile: &str,
    mode: &str,
    flags: &[S],
    cmd: &[S],
) -> Outcome {
    let mut args = vec!["run", "--profile", profile, "--mode", mode, "--json"];
    args.extend(flags.iter().map(AsRef::as_ref));
    args.push("--");
    args.extend(cmd.iter().map(AsRef::as_ref));
    cordon_cli(caller, &args)
}

/// The `--json` record printed after the command's own output.
pub fn record(outcome: &Outcome) -> serde_json::Value {
    split(outcome).1
}

/// The command's own stdout: everything before the `--json` record.
pub fn command_stdout(outcome: &Outcome) -> &str {
    split(outcome).0
}

fn split(outcome: &Outcome) -> (&str, serde_json::Value) {
    let raw = outcome.raw_stdout.as_str();
    let starts: Vec<usize> = raw.match_indices('{').map(|(i, _)| i).collect();
    starts
        .iter()
        .rev()
        .find_map(|&i| {
            let value: serde_json::Value = serde_json::from_str(&raw[i..]).ok()?;
            value.get("exit_code").is_some().then(|| (&raw[..i], value))
        })
        .unwrap_or_else(|| panic!("no --json record on stdout\n{outcome}"))
}

/// Asserts every layer of the record is enforced, except: limits the policy does not set;
/// the layer a caller goes without by design (root needs no user namespace, an
/// unprivileged caller changes no uid).
pub fn expect_enforced(caller: Caller, outcome: &Outcome) {
    let record = record(outcome);
    let layers = record["report"]["layers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!layers.is_empty(), "the record lists no layers\n{outcome}");
    let optional = match caller {
        Caller::Root => "namespace.user",
        Caller::Unprivileged => "identity",
    };
    for layer in &layers {
        let name = layer["layer"].as_str().unwrap_or_default();
        let level = layer["level"].as_str().unwrap_or_default();
        let fine = level == "enforced"
            || (level == "off" && (name.starts_with("limit.") || name == optional));
        assert!(fine, "layer {name} is {level}\n{outcome}");
    }
}

/// Asserts a strict-mode refusal names only [`CGROUP_LAYERS`]. The refusal reads
/// `strict mode refused to run: NAME is LEVEL (why); NAME is LEVEL (why)`.
pub fn expect_refused_for_cgroup_only(outcome: &Outcome) {
    let marker = "strict mode refused to run:";
    let line = outcome
        .stderr
        .lines()
        .find_map(|l| l.split_once(marker).map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("exit 125 without a strict-mode refusal\n{outcome}"));
    let named = top_level_parts(line);
    assert!(!named.is_empty(), "the refusal names no layer\n{outcome}");
    for part in named {
        let name = part
            .split_once(" is ")
            .map_or(part.as_str(), |(n, _)| n)
            .trim();
        assert!(
            CGROUP_LAYERS.contains(&name),
            "strict refused for {name}\n{outcome}"
        );
    }
}

/// `text` without its parenthesised parts, split at the `;` between them.
fn top_level_parts(text: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ';' if depth == 0 => parts.push(String::new()),
            _ if depth == 0 => parts.last_mut().expect("one part at least").push(c),
            _ => {}
        }
    }
    parts.retain(|p| !p.trim().is_empty());
    parts
}
