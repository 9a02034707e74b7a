//! Real programs under the strictest filters (`--net deny` plus the unix-socket layer):
//! the ones cordon must keep running do, and `unshare -U` cannot make a user namespace.
//! A test whose program is not installed says so and passes.

#![cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]

#[allow(
    dead_code,
    reason = "each test binary uses a part of the probe helpers"
)]
mod probe;

use cordon_seccomp::FilterOptions;
use std::process::Output;

const STRICT: FilterOptions = FilterOptions {
    deny_network: true,
    deny_unix_socket_create: true,
};

#[test]
fn probe_entry() {
    probe::entry(Vec::new);
}

/// Runs `program` with `args` under the filters, or `None` if it is not installed.
fn run_confined(program: &str, args: &[&str]) -> Option<Output> {
    let Some(path) = probe::which(program) else {
        eprintln!("skipped: {program} is not installed");
        return None;
    };
    let argv: Vec<&str> = std::iter::once(path.as_str())
        .chain(args.iter().copied())
        .collect();
    Some(probe::confined(&STRICT, &argv))
}

fn assert_prints(output: Option<Output>, expected: &str) {
    let Some(output) = output else { return };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{:?}\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains(expected),
        "wanted {expected:?} in:\n{stdout}\n{stderr}"
    );
}

#[test]
fn shell_pipelines_run() {
    let script = "printf 'b\\na\\n' | sort | tr a-z A-Z | head -n 1";
    assert_prints(run_confined("sh", &["-c", script]), "A");
}

#[test]
fn python_multiprocessing_runs() {
    let code = "import multiprocessing as mp\n\
                if __name__ == '__main__':\n    \
                with mp.Pool(2) as pool: print(sum(pool.map(abs, [-1, -2, -3])))";
    assert_prints(run_confined("python3", &["-c", code]), "6");
}

#[test]
fn ruby_runs() {
    assert_prints(run_confined("ruby", &["-e", "puts [3, 4].sum"]), "7");
}

/// The JVM starts a dozen threads and compiles the source in memory.
#[test]
fn java_runs() {
    let source = concat!(env!("CARGO_TARGET_TMPDIR"), "/ProbeHello.java");
    let class = "public class ProbeHello { public static void main(String[] a) \
                 throws Exception { Thread t = new Thread(() -> System.out.println(20 + 22)); \
                 t.start(); t.join(); } }";
    std::fs::write(source, class).expect("write the java source");
    assert_prints(run_confined("java", &[source]), "42");
}

/// libuv may try io_uring first; ENOSYS sends it back to epoll and threads.
#[test]
fn node_runs() {
    let code = "require('fs').readFile('/proc/self/status', (e, d) => console.log(e ? e : 'read'))";
    assert_prints(run_confined("node", &["-e", code]), "read");
}

/// gcc forks its compiler passes and the linker: clone3 falls back to clone throughout.
#[test]
fn a_c_compile_runs() {
    let dir = env!("CARGO_TARGET_TMPDIR");
    let script = format!(
        "printf 'int main(void){{return 0;}}\\n' > {dir}/probe-hello.c && \
         cc -o {dir}/probe-hello {dir}/probe-hello.c && {dir}/probe-hello && echo compiled"
    );
    assert_prints(run_confined("sh", &["-c", &script]), "compiled");
}

#[test]
fn unshare_cannot_create_a_user_namespace() {
    let Some(output) = run_confined("unshare", &["--user", "true"]) else {
        return;
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "unshare --user succeeded under the filters"
    );
    assert!(stderr.contains("Operation not permitted"), "{stderr}");
    let path = probe::which("unshare").unwrap_or_default();
    if !probe::unconfined(&[&path, "--user", "true"])
        .status
        .success()
    {
        eprintln!("note: unshare --user fails without filters too; it proves less here");
    }
}
