//! Secret theft from the environment: the server that starts cordon holds API tokens in its
//! environment, and the run tries to read them from its own environment or through `/proc`.

mod common;

use common::*;

/// The server's secrets, including one with an `LC_` prefix (which locale-passing code may
/// let through by pattern) and one with a name no denylist would guess.
const SECRETS: [(&str, &str); 5] = [
    ("API_TOKEN", "cordon-secret-api-token-5b1e"),
    ("AWS_SECRET_ACCESS_KEY", "cordon-secret-aws-key-91c4"),
    ("AWS_SESSION_TOKEN", "cordon-secret-aws-session-2d77"),
    ("LC_API_TOKEN", "cordon-secret-lc-token-e830"),
    ("Billing_svc_pw", "cordon-secret-odd-name-47a9"),
];

/// Names the contract lets into a run without `--env`.
const ALLOWED: [&str; 19] = [
    "PATH",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "LC_NUMERIC",
    "LC_TIME",
    "LC_COLLATE",
    "LC_MONETARY",
    "LC_MESSAGES",
    "LC_PAPER",
    "LC_NAME",
    "LC_ADDRESS",
    "LC_TELEPHONE",
    "LC_MEASUREMENT",
    "LC_IDENTIFICATION",
    "TZ",
    "TERM",
    "HOME",
    "TMPDIR",
];

fn with_secrets(mut invocation: Cordon) -> Cordon {
    for (name, value) in SECRETS {
        invocation = invocation.host_env(name, value);
    }
    invocation
}

fn assert_no_secret(outcome: &Outcome) {
    for (name, value) in SECRETS {
        assert!(
            !outcome.mentions(value),
            "{name} leaked into the run\n{outcome}"
        );
    }
}

for_both_callers! {
    /// The command dumps its own environment, looking for the server's secrets.
    fn reads_own_environment(caller) {
        let rw = run_dir(caller);
        let base = with_secrets(cordon(caller).rw(rw.path()));
        let code = "report(env=dict(os.environ))";

        let control = base.clone().mode("off").run_py(code, NO_ARGS);
        for (name, value) in SECRETS {
            assert_eq!(control.report()["env"][name], value, "control lacks {name}\n{control}");
        }

        let confined = base.run_py(code, NO_ARGS);
        confined.expect_success();
        assert_no_secret(&confined);
        let env = confined.report()["env"].clone();
        for name in env.as_object().expect("env is a map").keys() {
            assert!(ALLOWED.contains(&name.as_str()), "{name} is not on the allowlist\n{confined}");
        }
    }

    /// The command reads `/proc/PID/environ` and `cmdline` of a server process that runs with
    /// the run's own uid (the strongest case: no uid boundary helps).
    fn reads_server_environ_via_proc(caller) {
        let cmdline_secret = "--api-token=cordon-secret-cmdline-6f02";
        let server = HostProcess::start(caller, &SECRETS, &[cmdline_secret]);
        let pid = server.pid().to_string();
        let rw = run_dir(caller);
        let base = cordon(caller).rw(rw.path());
        let code = "pid = sys.argv[1]
report(environ=attempt(read, f'/proc/{pid}/environ'),
       cmdline=attempt(read, f'/proc/{pid}/cmdline'))";

        let control = base.clone().mode("off").run_py(code, &[&pid]);
        assert!(value_of(&control.report(), "environ").contains(SECRETS[0].1), "{control}");
        assert!(value_of(&control.report(), "cmdline").contains(cmdline_secret), "{control}");

        let confined = base.run_py(code, &[&pid]);
        assert_no_secret(&confined);
        assert!(!confined.mentions(cmdline_secret), "server cmdline leaked\n{confined}");
    }

    /// The command learns cordon's own pid (the test hands it over through the run dir) and
    /// reads cordon's environment, which holds the server's secrets.
    fn reads_cordon_environ_via_proc(caller) {
        let code = "import time
path = os.path.join(sys.argv[1], 'cordon.pid')
for _ in range(500):
    if os.path.exists(path):
        break
    time.sleep(0.02)
pid = open(path).read().strip()
report(environ=attempt(read, f'/proc/{pid}/environ'))";

        let control = reads_pid_file_run(caller, "off", code);
        assert!(value_of(&control.report(), "environ").contains(SECRETS[0].1), "{control}");

        let confined = reads_pid_file_run(caller, "auto", code);
        assert_no_secret(&confined);
    }

    /// The command reads `/proc/1/{cmdline,environ}` (the host's init) and those of the test
    /// process. Contents are compared by digest, never printed.
    fn reads_host_process_files_via_proc(caller) {
        let rw = run_dir(caller);
        let base = cordon(caller).rw(rw.path());
        let code = "steps = {}
for pid in sys.argv[1:]:
    for name in ('cmdline', 'environ'):
        steps[f'{pid}/{name}'] = attempt(digest, f'/proc/{pid}/{name}')
report(**steps)";
        let pids = ["1".to_string(), std::process::id().to_string()];

        let control = base.clone().mode("off").run_py(code, &pids);
        let seen = control.report();
        let mut readable = Vec::new();
        for pid in &pids {
            readable.push(format!("{pid}/cmdline"));
        }
        // This host guards init's environment even from root; the test process's is root's.
        if caller == Caller::Root {
            readable.push(format!("{}/environ", pids[1]));
        }
        for step in &readable {
            assert!(succeeded(&seen, step), "control could not read {step}\n{control}");
        }

        let confined = base.run_py(code, &pids);
        let got = confined.report();
        for step in &readable {
            let same = succeeded(&got, step) && got[step]["value"] == seen[step]["value"];
            assert!(!same, "the run read the host's /proc/{step}\n{confined}");
        }
    }
}

/// Runs `code` with cordon's environment full of secrets and, once cordon has started,
/// writes cordon's pid into the run dir for the command to find.
fn reads_pid_file_run(caller: Caller, mode: &str, code: &str) -> Outcome {
    let rw = run_dir(caller);
    let dir = rw.path().to_string_lossy().into_owned();
    let running = with_secrets(cordon(caller).rw(rw.path()).mode(mode)).spawn(&py(code, &[&dir]));
    let staged = rw.path().join(".cordon.pid");
    write_file(&staged, &format!("{}\n", running.pid()), 0o644);
    std::fs::rename(&staged, rw.path().join("cordon.pid")).expect("failed to publish the pid");
    running.wait()
}
