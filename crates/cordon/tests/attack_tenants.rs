//! Cross-tenant interference: one tenant's run reads another tenant's run dir, reads the
//! environment of another tenant's running process, or kills it.

mod common;

use common::*;
use std::time::Duration;

const SECRET: &str = "cordon-secret-tenant-alpha-77b1";

/// Tenant `alpha`'s run, sleeping; returns it with the host pid of its command.
fn start_alpha(caller: Caller, rw: &std::path::Path) -> (Running, u32) {
    let marker = unique("alpha-sleeper");
    let running = cordon(caller)
        .rw(rw)
        .tenant("alpha")
        .env(&format!("ALPHA_SECRET={SECRET}"))
        .spawn(&[PYTHON, "-c", "import time; time.sleep(120)", &marker]);
    let mut pid = None;
    let found = wait_until(Duration::from_secs(10), || {
        let mut candidates = descendants(running.pid());
        candidates.push(running.pid());
        pid = candidates.into_iter().find(|&p| {
            let line = cmdline(p);
            line.starts_with(PYTHON) && line.contains(&marker)
        });
        pid.is_some()
    });
    assert!(found, "tenant alpha's command never showed up");
    let pid = pid.expect("found");
    (running, pid)
}

for_both_callers! {
    /// Tenant alpha writes a file into its run dir; tenant beta reads it by path.
    fn reads_another_tenants_run_dir(caller) {
        let alpha = run_dir(caller);
        let write = "import os, sys
open(os.path.join(sys.argv[1], 'notes.txt'), 'w').write(sys.argv[2])";
        let dir = alpha.path().to_string_lossy().into_owned();
        let alpha_run = cordon(caller).rw(alpha.path()).tenant("alpha");
        alpha_run.run(&plain_py_args(write, &[&dir, SECRET])).expect_success();
        let notes = alpha.path().join("notes.txt").to_string_lossy().into_owned();

        let beta = run_dir(caller);
        let base = cordon(caller).rw(beta.path()).tenant("beta");
        let code = "report(read=attempt(read, sys.argv[1]), list=attempt(os.listdir, sys.argv[2]))";
        let control = base.clone().mode("off").run_py(code, &[&notes, &dir]);
        assert_eq!(value_of(&control.report(), "read"), SECRET, "{control}");

        let confined = base.run_py(code, &[&notes, &dir]);
        assert!(!confined.mentions(SECRET), "beta read alpha's file\n{confined}");
        assert!(!succeeded(&confined.report(), "list"), "beta listed alpha's dir\n{confined}");
    }

    /// While tenant alpha's command runs, tenant beta reads its `/proc/PID/environ` and
    /// sends it SIGKILL, using the host pid (which the test hands over).
    fn reads_and_kills_another_tenants_process(caller) {
        let code = "import signal
pid = sys.argv[1]
report(environ=attempt(read, f'/proc/{pid}/environ'),
       kill=attempt(os.kill, int(pid), signal.SIGKILL))";
        let beta = run_dir(caller);
        let base = cordon(caller).rw(beta.path()).tenant("beta");

        let alpha = run_dir(caller);
        let (running, pid) = start_alpha(caller, alpha.path());
        let control = base.clone().mode("off").run_py(code, &[pid.to_string()]);
        assert!(value_of(&control.report(), "environ").contains(SECRET), "{control}");
        assert!(succeeded(&control.report(), "kill"), "{control}");
        running.wait().expect_code(128 + 9);

        let alpha = run_dir(caller);
        let (mut running, pid) = start_alpha(caller, alpha.path());
        let confined = base.run_py(code, &[pid.to_string()]);
        assert!(!confined.mentions(SECRET), "beta read alpha's environment\n{confined}");
        assert!(!succeeded(&confined.report(), "kill"), "{confined}");
        assert!(running.is_running(), "alpha's run ended\n{confined}");
    }
}

/// As root, each tenant's runs get a uid of their own, stable from run to run and distinct
/// from other tenants' and from the default run uid; otherwise every uid-based defence
/// (file modes, signals, ptrace) stops at nothing between tenants.
#[test]
fn shares_uid_across_tenants_as_root() {
    let uid_of = |tenant: Option<&str>, mode: &str| {
        let rw = run_dir(Caller::Root);
        let mut invocation = cordon(Caller::Root).rw(rw.path()).mode(mode);
        if let Some(tenant) = tenant {
            invocation = invocation.tenant(tenant);
        }
        let outcome = invocation.run(&["id", "-u"]);
        outcome.expect_success();
        outcome
            .stdout
            .trim()
            .parse::<u32>()
            .unwrap_or_else(|_| panic!("id -u printed no number\n{outcome}"))
    };

    let control = [uid_of(Some("alpha"), "off"), uid_of(Some("beta"), "off")];
    assert_eq!(
        control,
        [0, 0],
        "unconfined, both tenants are the same root"
    );

    let alpha = uid_of(Some("alpha"), "auto");
    let beta = uid_of(Some("beta"), "auto");
    assert_ne!(alpha, beta, "tenants alpha and beta share a uid");
    assert!(
        TENANT_UIDS.contains(&alpha) && TENANT_UIDS.contains(&beta),
        "{alpha} {beta}"
    );
    assert_eq!(
        uid_of(Some("alpha"), "auto"),
        alpha,
        "alpha's uid changed between runs"
    );
    assert_eq!(uid_of(None, "auto"), DEFAULT_RUN_UID);
}

fn plain_py_args(code: &str, args: &[&str]) -> Vec<String> {
    let mut argv = plain_py(code);
    argv.extend(args.iter().map(|a| a.to_string()));
    argv
}
