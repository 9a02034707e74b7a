//! Submit latency and throughput of trivial runs straight through the engine (no HTTP).
//!
//! `cargo run --release -p cordon-runner --example submit_bench -- <cordon> [runs] [concurrency]`
//! prints p50/p99 submit latency, submissions per second and completed runs per second.
//! A figure, not a test: nothing is asserted.

use cordon_runner::{Config, RunState, Runner, SubmitRequest, TenantName};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[allow(clippy::print_stdout)]
fn report(line: &str) {
    println!("{line}");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let helper = PathBuf::from(
        args.next()
            .expect("usage: submit_bench <cordon> [runs] [concurrency]"),
    );
    let runs: usize = args
        .next()
        .map_or(1000, |n| n.parse().expect("a number of runs"));
    let concurrent: u32 = args.next().map_or(4, |n| n.parse().expect("a concurrency"));
    let dir = tempfile::tempdir_in("/tmp").expect("a temp dir");
    let text = format!(
        "state_dir = \"{0}/state\"\nrun_root = \"{0}/runs\"\n\
         [[tenants]]\nname = \"bench\"\ntoken_sha256 = \"{1}\"\nmax_concurrent = {2}\n\
         max_queued = 100000\n",
        dir.path().display(),
        cordon_runner::token_sha256("bench"),
        concurrent
    );
    let config = Config::from_toml("bench", &text).expect("a valid config");
    let runner = Runner::start(config, helper)
        .await
        .expect("the runner starts");
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..4 {
        let runner = runner.clone();
        clients.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for _ in 0..runs / 4 {
                let req: SubmitRequest =
                    serde_json::from_value(serde_json::json!({"argv": ["/bin/true"]})).unwrap();
                let t = Instant::now();
                let view = runner
                    .submit(&TenantName("bench".into()), req)
                    .await
                    .unwrap();
                out.push((t.elapsed(), view.id));
            }
            out
        }));
    }
    let mut all = Vec::new();
    for c in clients {
        all.extend(c.await.unwrap());
    }
    let submitted = started.elapsed();
    let t = TenantName("bench".into());
    for (_, id) in &all {
        let v = runner.wait(&t, id, Duration::from_secs(600)).await.unwrap();
        assert_eq!(v.state, RunState::Succeeded, "{v:?}");
    }
    let finished = started.elapsed();
    let mut lat: Vec<Duration> = all.iter().map(|(d, _)| *d).collect();
    lat.sort();
    // The index of percentile `p` (in hundredths), rounded down.
    let pct = |p: usize| lat[(lat.len() - 1) * p / 100];
    report(&format!(
        "{} runs: submit p50 {:?} p99 {:?}; {:.0} submits/s; {:.1} completed runs/s",
        lat.len(),
        pct(50),
        pct(99),
        lat.len() as f64 / submitted.as_secs_f64(),
        lat.len() as f64 / finished.as_secs_f64()
    ));
}
