//! Real scripting and build work under the shipped profiles, in strict mode: Python 3 with
//! its standard library, multiprocessing and subprocess; an offline `pip install` of a local
//! wheel into a venv inside the run dir; a Ruby script; a gcc build run from the run dir.
//! Also: every shipped profile is a policy file `cordon policy check` accepts, and each is
//! reachable by name.

mod common;
mod workloads_support;

use common::*;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use workloads_support::{command_stdout, confined};

/// The test data folder of this crate.
fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// A world-readable folder below `/tmp` holding `files` (name, text), to grant with `--ro`.
fn scripts(label: &str, files: &[(&str, &str)]) -> PathBuf {
    let mut hasher = DefaultHasher::new();
    files.hash(&mut hasher);
    shared_dir(label, hasher.finish(), |staging| {
        for (name, text) in files {
            write_file(&staging.join(name), text, 0o644);
        }
    })
}

/// `--ro RO... --rw RW` as flags.
fn grants(ro: &[&Path], rw: &Path) -> Vec<String> {
    let mut flags = Vec::new();
    for path in ro {
        flags.extend(["--ro".to_string(), path.display().to_string()]);
    }
    flags.extend(["--rw".to_string(), rw.display().to_string()]);
    flags
}

fn strings(argv: &[&str]) -> Vec<String> {
    argv.iter().map(|a| a.to_string()).collect()
}

const PYTHON_SCRIPT: &str = r#"import concurrent.futures, hashlib, json, multiprocessing as mp
import os, sqlite3, subprocess, sys, tempfile


def cube(n):
    return n ** 3


def child(queue):
    queue.put(os.getpid() != os.getppid())


if __name__ == "__main__":
    with mp.Pool(2) as pool:
        cubes = sum(pool.map(cube, range(20)))
    queue = mp.Queue()
    proc = mp.Process(target=child, args=(queue,))
    proc.start()
    from_child = queue.get(timeout=60)
    proc.join()
    with concurrent.futures.ProcessPoolExecutor(2) as ex:
        executor = sum(ex.map(cube, range(5)))
    upper = subprocess.run([sys.executable, "-c", "import sys; print(sys.stdin.read().upper())"],
                           input="piped", capture_output=True, text=True, check=True).stdout
    shell = subprocess.run("seq 1 100 | sort -rn | head -1", shell=True,
                           capture_output=True, text=True, check=True).stdout
    db = sqlite3.connect(os.path.join(os.environ["HOME"], "w.db"))
    db.execute("create table t (x)")
    db.executemany("insert into t values (?)", [(i,) for i in range(10)])
    with tempfile.TemporaryDirectory() as tmp:
        in_home = tmp.startswith(os.environ["HOME"])
    print(json.dumps({"cubes": cubes, "from_child": from_child, "executor": executor,
                      "upper": upper.strip(), "shell": shell.strip(), "in_home": in_home,
                      "rows": db.execute("select count(*) from t").fetchone()[0],
                      "sha": hashlib.sha256(b"cordon").hexdigest()[:8]}))
"#;

const RUBY_SCRIPT: &str = r#"require 'json'
require 'digest'
require 'open3'
require 'set'
dir = ARGV.fetch(0)
threads = (1..4).map { |i| Thread.new { (1..1000).sum * i } }
sorted, status = Open3.capture2('sort', '-n', stdin_data: "3\n1\n2\n")
pid = fork { File.write(File.join(dir, 'child.txt'), Process.pid.to_s) }
Process.wait(pid)
puts JSON.generate({
  'threads' => threads.map(&:value).sum,
  'sorted' => sorted.split.map(&:to_i),
  'sort_ok' => status.success?,
  'child' => File.exist?(File.join(dir, 'child.txt')),
  'set' => Set[1, 2, 2, 3].size,
  'md5' => Digest::MD5.hexdigest('cordon')[0, 8],
})
"#;

const C_MAIN: &str = r#"#include <math.h>
#include <stdio.h>
#include "area.h"
int main(void) {
    printf("%.3f %d\n", circle_area(2.0), (int)sqrt(144.0));
    return 0;
}
"#;
const C_AREA: &str =
    "#include \"area.h\"\ndouble circle_area(double r) { return 3.14159265 * r * r; }\n";
const C_HEADER: &str = "double circle_area(double r);\n";
const MAKEFILE: &str = "CFLAGS = -O2 -Wall -Werror\nareas: main.o area.o\n\t$(CC) -o $@ $^ -lm\n";

for_both_callers! {
    /// A multiprocessing Pool, a Process with a Queue, a ProcessPoolExecutor, subprocesses
    /// through a pipe and a shell, sqlite3 and tempfile in HOME.
    fn python_stdlib_multiprocessing_subprocess(caller) {
        let dir = scripts("py", &[("work.py", PYTHON_SCRIPT)]);
        let rw = run_dir(caller);
        let script = dir.join("work.py").display().to_string();
        let outcome = confined(caller, "python", &grants(&[&dir], rw.path()),
            &strings(&[PYTHON, &script]));
        let got: serde_json::Value = serde_json::from_str(command_stdout(&outcome).trim())
            .unwrap_or_else(|e| panic!("no JSON from the script: {e}\n{outcome}"));
        let want = serde_json::json!({"cubes": 36100, "from_child": true, "executor": 100,
            "upper": "PIPED", "shell": "100", "in_home": true, "rows": 10, "sha": "e4830bf5"});
        assert_eq!(got, want, "{outcome}");
    }

    /// `python3 -m venv` in the run dir, then `pip install --no-index` of a wheel file
    /// granted read-only, then an import of the installed package from the venv.
    fn pip_installs_local_wheel_into_venv(caller) {
        let wheel_dir = wheel();
        let wheel = wheel_dir.join("cordon_hello-0.1-py3-none-any.whl").display().to_string();
        let rw = run_dir(caller);
        let script = "set -e
python3 -m venv \"$HOME/venv\"
\"$HOME/venv/bin/pip\" install --quiet --no-index --disable-pip-version-check \"$1\"
\"$HOME/venv/bin/python\" -c 'import cordon_hello; print(cordon_hello.greet(\"venv\"))'";
        let outcome = confined(caller, "python", &grants(&[&wheel_dir], rw.path()),
            &strings(&["sh", "-c", script, "sh", &wheel]));
        assert_eq!(command_stdout(&outcome).trim(), "hello, venv", "{outcome}");
        let site = rw.path().join("venv/lib");
        assert!(site.is_dir(), "no venv in the run dir\n{outcome}");
    }

    /// Threads, a pipe to `sort` through Open3, `fork`, json, set and digest.
    fn ruby_script(caller) {
        let dir = scripts("rb", &[("work.rb", RUBY_SCRIPT)]);
        let rw = run_dir(caller);
        let (script, out) = (dir.join("work.rb").display().to_string(), rw.path().display());
        let outcome = confined(caller, "ruby", &grants(&[&dir], rw.path()),
            &strings(&["ruby", &script, &out.to_string()]));
        let got: serde_json::Value = serde_json::from_str(command_stdout(&outcome).trim())
            .unwrap_or_else(|e| panic!("no JSON from the script: {e}\n{outcome}"));
        let want = serde_json::json!({"threads": 5_005_000, "sorted": [1, 2, 3],
            "sort_ok": true, "child": true, "set": 3, "md5": "300d0d8d"});
        assert_eq!(got, want, "{outcome}");
    }

    /// make and gcc build a two-file program linked with libm in the run dir, which runs.
    fn gcc_builds_and_runs_in_run_dir(caller) {
        let src = scripts("c", &[("main.c", C_MAIN), ("area.c", C_AREA), ("area.h", C_HEADER),
            ("Makefile", MAKEFILE)]);
        let rw = run_dir(caller);
        let script = "set -e; cp \"$1\"/* .; make -s areas; ./areas";
        let (src_arg, dir) = (src.display().to_string(), rw.path().display().to_string());
        let cmd = format!("cd \"$2\" && {script}");
        let outcome = confined(caller, "gcc", &grants(&[&src], rw.path()),
            &strings(&["sh", "-c", &cmd, "sh", &src_arg, &dir]));
        assert_eq!(command_stdout(&outcome).trim(), "12.566 12", "{outcome}");
        assert!(rw.path().join("areas").is_file(), "{outcome}");
    }
}

/// The wheel built from `tests/data/wheel/` by `tests/data/make_wheel.py`, once per tree.
fn wheel() -> PathBuf {
    let tree = data("wheel");
    let mut hasher = DefaultHasher::new();
    for file in [
        "cordon_hello/__init__.py",
        "cordon_hello-0.1.dist-info/METADATA",
        "cordon_hello-0.1.dist-info/WHEEL",
    ] {
        std::fs::read(tree.join(file))
            .expect("failed to read the wheel tree")
            .hash(&mut hasher);
    }
    shared_dir("wheel", hasher.finish(), |staging| {
        let out = std::process::Command::new(PYTHON)
            .arg(data("make_wheel.py"))
            .arg(&tree)
            .arg(staging)
            .output()
            .expect("failed to run make_wheel.py");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let made = staging.join("cordon_hello-0.1-py3-none-any.whl");
        chmod(&made, 0o644);
    })
}

/// Every shipped profile passes `cordon policy check` and runs `/bin/true` by name.
#[test]
fn shipped_profiles_check_and_run() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../profiles");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("failed to list profiles/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let staged = scripts(
                "profile",
                &[(
                    "p.toml",
                    &std::fs::read_to_string(&path).expect("failed to read a profile"),
                )],
            );
            let file = staged.join("p.toml").display().to_string();
            cordon_cli(Caller::Root, &["policy", "check", &file]).expect_success();
            names.push(
                path.file_stem()
                    .expect("stem")
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    for want in ["energyplus", "gcc", "python", "ruby"] {
        assert!(
            names.iter().any(|n| n == want),
            "profiles/{want}.toml is missing"
        );
    }
    for name in &names {
        let rw = run_dir(Caller::Root);
        confined(
            Caller::Root,
            name,
            &grants(&[], rw.path()),
            &strings(&["/bin/true"]),
        );
    }
}
