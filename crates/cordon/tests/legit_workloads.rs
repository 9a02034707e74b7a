//! False denials: real work that must keep running under the default policy with one `--rw`
//! dir, as root and unprivileged, and the exit-code and output contract of `cordon run`.
//! Sandboxing that breaks these gets switched off by its users.

mod common;

use common::*;

/// Runs `cmd` confined with one run dir, expecting success; returns the outcome.
fn runs(caller: Caller, cmd: &[&str]) -> Outcome {
    let rw = run_dir(caller);
    let mut argv: Vec<String> = cmd.iter().map(|a| a.to_string()).collect();
    for arg in &mut argv {
        *arg = arg.replace("{rw}", &rw.path().to_string_lossy());
    }
    let outcome = cordon(caller).rw(rw.path()).run(&argv);
    outcome.expect_success();
    outcome
}

for_both_callers! {
    /// json, hashlib, tempfile (in TMPDIR) and an sqlite3 database in the run dir.
    fn python_standard_library(caller) {
        let code = "import hashlib, json, os, sqlite3, sys, tempfile
db = sqlite3.connect(os.path.join(sys.argv[1], 'runs.db'))
db.execute('create table t (x)')
db.executemany('insert into t values (?)', [(i,) for i in range(100)])
db.commit()
total = db.execute('select sum(x) from t').fetchone()[0]
with tempfile.NamedTemporaryFile(dir=None) as f:
    f.write(b'scratch')
    in_tmpdir = os.path.dirname(f.name) == os.environ['TMPDIR']
digest = hashlib.sha256(json.dumps({'total': total}).encode()).hexdigest()[:8]
print(total, in_tmpdir, len(digest))";
        let outcome = runs(caller, &[PYTHON, "-c", code, "{rw}"]);
        assert_eq!(outcome.stdout.trim(), "4950 True 8", "{outcome}");
    }

    /// A multiprocessing Pool, which needs POSIX semaphores in /dev/shm.
    fn python_multiprocessing_pool(caller) {
        let code = "import multiprocessing as mp
def square(x):
    return x * x
if __name__ == '__main__':
    with mp.Pool(2) as pool:
        print(sum(pool.map(square, range(10))))";
        let outcome = runs(caller, &[PYTHON, "-c", code]);
        assert_eq!(outcome.stdout.trim(), "285", "{outcome}");
    }

    fn python_subprocess_runs_ls(caller) {
        let code = "import subprocess, sys
open(sys.argv[1] + '/made-here', 'w').close()
print(subprocess.run(['ls', sys.argv[1]], capture_output=True, text=True, check=True).stdout)";
        let outcome = runs(caller, &[PYTHON, "-c", code, "{rw}"]);
        assert_eq!(outcome.stdout.trim(), "made-here", "{outcome}");
    }

    /// Programs read `/proc/self/*`; the run's private procfs must serve them.
    fn reads_proc_self(caller) {
        let rw = run_dir(caller);
        let code = "import os
status = open('/proc/self/status').read()
maps = open('/proc/self/maps').read()
print('Name:' in status, '[stack]' in maps, os.readlink('/proc/self/exe'))";
        let outcome = cordon(caller).rw(rw.path()).json().run(&[PYTHON, "-c", code]);
        assert_eq!(outcome.layer_level("namespace.pid").as_deref(), Some("enforced"), "{outcome}");
        outcome.expect_success();
        assert!(outcome.stdout.starts_with("True True /usr/bin/python3"), "{outcome}");
    }

    fn ruby_prints_sum(caller) {
        let outcome = runs(caller, &["ruby", "-e", "puts 1+1"]);
        assert_eq!(outcome.stdout.trim(), "2", "{outcome}");
    }

    /// gcc compiles (with its temporaries in TMPDIR) and the program runs from the run dir.
    fn gcc_compiles_and_runs_c(caller) {
        let rw = run_dir(caller);
        let source = rw.path().join("hello.c");
        write_file(&source, "#include <stdio.h>\nint main(void) { puts(\"hello\"); }\n", 0o644);
        give_to(caller, &source);
        let script = "cd \"$1\" && gcc -O1 -o hello hello.c && ./hello";
        let dir = rw.path().to_string_lossy().into_owned();
        let outcome = cordon(caller).rw(rw.path()).run(&["sh", "-c", script, "sh", &dir]);
        outcome.expect_success();
        assert_eq!(outcome.stdout.trim(), "hello", "{outcome}");
    }

    fn shell_pipeline(caller) {
        let outcome = runs(caller, &["sh", "-c", "seq 1 1000 | sort -n | tail -1"]);
        assert_eq!(outcome.stdout, "1000\n", "{outcome}");
    }

    /// HOME and TMPDIR are the run dir; LANG, TZ, TERM and `--env` entries pass.
    fn keeps_allowlisted_environment(caller) {
        let rw = run_dir(caller);
        let code = "import os, json
print(json.dumps({k: os.environ.get(k) for k in
    ('HOME', 'TMPDIR', 'LANG', 'LC_ALL', 'TZ', 'TERM', 'GIVEN', 'FORWARDED')}))";
        let outcome = cordon(caller)
            .rw(rw.path())
            .host_env("LC_ALL", "C.UTF-8")
            .host_env("TZ", "Europe/Paris")
            .host_env("TERM", "xterm")
            .host_env("FORWARDED", "from-server")
            .env("GIVEN=by-flag")
            .env("FORWARDED")
            .run(&[PYTHON, "-c", code]);
        outcome.expect_success();
        let env: serde_json::Value = serde_json::from_str(outcome.stdout.trim()).expect("json");
        let dir = rw.path().to_string_lossy();
        let want = serde_json::json!({"HOME": dir, "TMPDIR": dir, "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8", "TZ": "Europe/Paris", "TERM": "xterm", "GIVEN": "by-flag",
            "FORWARDED": "from-server"});
        assert_eq!(env, want, "{outcome}");
    }
}

mod exit_codes {
    use super::*;

    fn run(caller: Caller, cmd: &[&str]) -> Outcome {
        let rw = run_dir(caller);
        cordon(caller).rw(rw.path()).run(cmd)
    }

    for_both_callers! {
        fn missing_command_is_127(caller) {
            run(caller, &["/usr/bin/no-such-command-here"]).expect_code(127);
            run(caller, &["no-such-command-here"]).expect_code(127);
        }

        fn non_executable_file_is_126(caller) {
            let rw = run_dir(caller);
            let file = rw.path().join("script.sh");
            write_file(&file, "#!/bin/sh\necho hi\n", 0o644);
            give_to(caller, &file);
            cordon(caller).rw(rw.path()).run(&[file.to_string_lossy().as_ref()]).expect_code(126);
        }

        fn killed_by_signal_is_128_plus_n(caller) {
            run(caller, &["sh", "-c", "kill -9 $$"]).expect_code(128 + 9);
        }

        fn exit_status_passes_through(caller) {
            run(caller, &["sh", "-c", "exit 42"]).expect_code(42);
            run(caller, &["true"]).expect_code(0);
        }

        /// Granting a system root read-write is refused before anything runs.
        fn rw_system_root_is_125(caller) {
            for root in ["/", "/usr", "/etc", "/home", "/root", "/tmp", "/var", "/proc", "/dev"] {
                let outcome = cordon(caller).rw(root).run(&["true"]);
                assert_eq!(outcome.code(), Some(125), "--rw {root} was accepted\n{outcome}");
            }
        }

        fn missing_ro_path_is_125(caller) {
            let rw = run_dir(caller);
            let outcome = cordon(caller).rw(rw.path()).ro("/does/not/exist").run(&["true"]);
            outcome.expect_code(125);
        }

        /// An unknown mode is an error, never a silent downgrade, and the command never runs.
        fn unknown_mode_is_an_error(caller) {
            let rw = run_dir(caller);
            let marker = rw.path().join("ran");
            let touch = ["touch", marker.to_string_lossy().as_ref()].map(str::to_string);
            let outcome = cordon(caller).rw(rw.path()).mode("fancy").run(&touch);
            assert!(!matches!(outcome.code(), Some(0) | None), "{outcome}");
            assert!(!marker.exists(), "the command ran under an unknown mode\n{outcome}");
        }

        /// Without `--json`, stdout carries only the command's output.
        fn prints_nothing_of_its_own_on_stdout(caller) {
            assert_eq!(run(caller, &["true"]).raw_stdout, "");
            assert_eq!(run(caller, &["echo", "only this"]).raw_stdout, "only this\n");
        }

        /// `--json` prints one record at the end, after the command's own output.
        fn json_record_has_contract_shape(caller) {
            let rw = run_dir(caller);
            let cmd = ["sh", "-c", "echo out; exit 3"];
            let outcome = cordon(caller).rw(rw.path()).json().run(&cmd);
            outcome.expect_code(3);
            assert_eq!(outcome.stdout, "out\n", "{outcome}");
            let record = outcome.record();
            assert_eq!(record["exit_code"], 3, "{outcome}");
            assert_eq!(record["status"], "exited", "{outcome}");
            assert!(record["signal"].is_null(), "{outcome}");
            for field in ["wall_ms", "user_cpu_ms", "sys_cpu_ms"] {
                assert!(record[field].is_number(), "{field}\n{outcome}");
            }
            assert_eq!(record["mode"], "auto", "{outcome}");
            let layers = record["report"]["layers"].as_array().expect("layers");
            for name in LAYERS {
                let layer = layers.iter().find(|l| l["layer"] == name);
                let level = layer.and_then(|l| l["level"].as_str()).unwrap_or("absent");
                assert!(LEVELS.contains(&level), "{name}: {level}\n{outcome}");
            }
        }

        /// This host's kernel (Landlock ABI with scoping, seccomp, user namespaces) can
        /// enforce every layer; a run that quietly enforces less is a regression. Only a
        /// user namespace (root needs none) and the uid change (an unprivileged caller
        /// cannot) may be off by design.
        fn enforces_every_layer_on_this_host(caller) {
            let rw = run_dir(caller);
            let outcome = cordon(caller).rw(rw.path()).json().run(&["true"]);
            outcome.expect_success();
            let optional = match caller {
                Caller::Root => "namespace.user",
                Caller::Unprivileged => "identity",
            };
            for name in LAYERS {
                let level = outcome.layer_level(name).unwrap_or_default();
                let fine = level == "enforced" || (name == optional && level == "off");
                assert!(fine, "layer {name} is {level:?}\n{outcome}");
            }
        }
    }

    const LAYERS: [&str; 18] = [
        "env",
        "fds",
        "session",
        "identity",
        "no_new_privs",
        "landlock",
        "landlock.net",
        "landlock.scope",
        "seccomp",
        "namespace.user",
        "namespace.mount",
        "namespace.pid",
        "namespace.ipc",
        "namespace.uts",
        "namespace.net",
        "proc",
        "dev_shm",
        "unix_sockets",
    ];
    const LEVELS: [&str; 4] = ["enforced", "partial", "missing", "off"];

    #[test]
    fn doctor_prints_json() {
        let outcome = cordon_cli(Caller::Root, &["doctor", "--json"]);
        outcome.expect_success();
        let value: serde_json::Value = serde_json::from_str(outcome.stdout.trim())
            .unwrap_or_else(|e| panic!("doctor --json printed no JSON: {e}\n{outcome}"));
        assert!(value.is_object(), "{outcome}");
    }
}
