//! Attacks that need raw syscalls, performed for real by `fixtures/attack.c` (compiled
//! with the system's C compiler) under the filters. Each test first runs the attack
//! without filters: if the kernel already refuses it here, the test says so and checks
//! the confined outcome only.

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
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

const NONE: FilterOptions = FilterOptions {
    deny_network: false,
    deny_unix_socket_create: false,
};
const NET: FilterOptions = FilterOptions {
    deny_network: true,
    deny_unix_socket_create: false,
};

#[test]
fn probe_entry() {
    probe::entry(Vec::new);
}

/// The compiled fixture, or `None` (and a note) without a C compiler.
fn fixture() -> Option<&'static str> {
    static FIXTURE: OnceLock<Option<String>> = OnceLock::new();
    FIXTURE.get_or_init(compile_fixture).as_deref()
}

fn compile_fixture() -> Option<String> {
    let Some(cc) = probe::which("cc") else {
        eprintln!("skipped: no C compiler to build the attack fixture");
        return None;
    };
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/attack.c");
    let binary = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cordon-seccomp-attack");
    let status = Command::new(cc)
        .arg("-O1")
        .arg("-o")
        .arg(&binary)
        .arg(&source)
        .status();
    assert!(
        status.expect("run cc").success(),
        "the attack fixture compiles"
    );
    Some(binary.to_string_lossy().into_owned())
}

/// What the attack's single line says (`ok N` or `errno N`), or how it died.
fn outcome(output: &Output) -> String {
    if let Some(signal) = output.status.signal() {
        return format!("signal {signal}");
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find_map(|line| line.split_once("result: ").map(|(_, r)| r));
    let result = line.unwrap_or_else(|| panic!("no result: {stdout}{output:?}"));
    let mut words = result.split(' ');
    match words.next() {
        Some("ok") => "ok".to_string(),
        _ => format!("errno {}", words.next().unwrap_or("?")),
    }
}

/// Runs `attack` without and with the filters; the confined run must end as `expected`.
fn assert_attack(opts: FilterOptions, attack: &str, expected: &str) {
    let Some(binary) = fixture() else { return };
    let unconfined = outcome(&probe::unconfined(&[binary, attack]));
    if unconfined == expected && expected != "ok" {
        eprintln!("note: {attack} ends as {expected} without filters too; it proves less here");
    }
    let confined = outcome(&probe::confined(&opts, &[binary, attack]));
    assert_eq!(
        confined, expected,
        "{attack} with {opts:?} (unconfined: {unconfined})"
    );
}

fn errno(value: i32) -> String {
    probe::errno_text(value)
}

fn killed() -> String {
    format!("signal {}", libc::SIGSYS)
}

#[test]
#[cfg(target_arch = "x86_64")]
fn i386_int80_calls_kill_the_process() {
    assert_attack(NONE, "int80-getpid", &killed());
    assert_attack(NET, "int80-socket", &killed());
}

/// This kernel may lack x32 (then the call would only get ENOSYS); the guard kills it
/// before the kernel looks.
#[test]
#[cfg(target_arch = "x86_64")]
fn x32_numbered_calls_kill_the_process() {
    assert_attack(NONE, "x32-getpid", &killed());
    assert_attack(NET, "x32-socket", &killed());
}

#[test]
fn sockets_through_io_uring_are_cut_off_at_setup() {
    assert_attack(NET, "io-uring", &errno(libc::ENOSYS));
}

#[test]
fn high_garbage_in_the_socket_domain_does_not_pass() {
    assert_attack(NET, "socket-inet", &errno(libc::EAFNOSUPPORT));
    assert_attack(NET, "socket-high-inet", &errno(libc::EAFNOSUPPORT));
    assert_attack(NET, "socket-high-unix", "ok");
}

#[test]
fn user_namespaces_through_clone_are_refused() {
    assert_attack(NONE, "clone-newuser", &errno(libc::EPERM));
    assert_attack(NONE, "clone-newuser-high", &errno(libc::EPERM));
    assert_attack(NONE, "clone3", &errno(libc::ENOSYS));
}

#[test]
fn other_processes_memory_is_out_of_reach() {
    assert_attack(NONE, "ptrace-attach", &errno(libc::EPERM));
    assert_attack(NONE, "process-vm-readv", &errno(libc::EPERM));
}

#[test]
fn terminal_input_cannot_be_injected() {
    assert_attack(NONE, "tiocsti", &errno(libc::EPERM));
    assert_attack(NONE, "tiocsti-high", &errno(libc::EPERM));
}

#[test]
fn kernel_keyrings_and_bpf_are_refused() {
    assert_attack(NONE, "keyctl", &errno(libc::EPERM));
    assert_attack(NONE, "bpf", &errno(libc::EPERM));
}
