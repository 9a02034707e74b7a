//! `cordon doctor`: what this host can enforce, found by trying, and how to get more.

use crate::cli::DoctorArgs;
use cordon_sandbox::report::{Level, Report};
use serde::Serialize;

#[derive(Serialize)]
struct Findings {
    kernel: String,
    arch: &'static str,
    root: bool,
    landlock_abi: Option<i32>,
    seccomp: bool,
    user_namespaces: String,
    cgroups: String,
    /// What a default `cordon run` gets on this host, measured by running `/bin/true`.
    report: Report,
    hints: Vec<String>,
}

pub fn doctor(args: DoctorArgs) -> i32 {
    let f = findings();
    if args.json {
        match serde_json::to_string_pretty(&f) {
            Ok(s) => print_out(&s),
            Err(e) => {
                eprintln!("cordon: failed to encode the findings: {e}");
                return 1;
            }
        }
    } else {
        print_out(&render(&f));
    }
    0
}

/// Writes the findings; a closed stdout (`cordon doctor | head`) is not an error.
fn print_out(s: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{s}");
}

fn findings() -> Findings {
    let uname = rustix::system::uname();
    let kernel = uname.release().to_string_lossy().into_owned();
    let landlock_abi = cordon_sandbox::landlock::kernel_abi().ok();
    let seccomp = std::fs::read_to_string("/proc/self/status")
        .map(|s| s.contains("Seccomp:"))
        .unwrap_or(false);
    let user_namespaces = std::fs::read_to_string("/proc/sys/user/max_user_namespaces")
        .map(|s| format!("max_user_namespaces={}", s.trim()))
        .unwrap_or_else(|_| "unknown".into());
    let report = probe_run();
    let hints = report
        .shortfalls()
        .map(|l| format!("{}: {}", l.layer, l.detail))
        .collect();
    Findings {
        kernel,
        arch: std::env::consts::ARCH,
        root: rustix::process::geteuid().is_root(),
        landlock_abi,
        seccomp,
        user_namespaces,
        cgroups: crate::run::cgroup_summary(),
        report,
        hints,
    }
}

/// Runs `/bin/true` under the default policy and returns its enforcement report.
fn probe_run() -> Report {
    match crate::run::probe_report() {
        Ok(r) => r,
        Err(e) => {
            let mut r = Report::default();
            r.push(cordon_sandbox::report::LayerReport::missing("probe", e));
            r
        }
    }
}

fn render(f: &Findings) -> String {
    let mut out = format!(
        "kernel        {} ({})\nrunning as    {}\nlandlock      {}\nseccomp       {}\nuser ns       {}\ncgroups       {}\n\nwhat `cordon run` enforces here:\n",
        f.kernel,
        f.arch,
        if f.root { "root (runs drop to an unprivileged uid)" } else { "an unprivileged user" },
        f.landlock_abi.map(|a| format!("ABI {a}")).unwrap_or_else(|| "not available".into()),
        if f.seccomp { "available" } else { "not available" },
        f.user_namespaces,
        f.cgroups,
    );
    for l in &f.report.layers {
        let level = match l.level {
            Level::Enforced => "enforced",
            Level::Partial => "PARTIAL",
            Level::Missing => "MISSING",
            Level::Off => "off",
        };
        out.push_str(&format!("  {:<16} {:<9} {}\n", l.layer, level, l.detail));
    }
    if f.hints.is_empty() {
        out.push_str("\nevery layer is enforced: --mode strict will run here\n");
    } else {
        out.push_str("\nmissing or partial (strict mode refuses to run):\n");
        for h in &f.hints {
            out.push_str(&format!("  - {h}\n"));
        }
    }
    out
}
