//! Harness for cordon's integration tests.
//!
//! Every test drives the real `cordon` binary as a child process, the way a tool server
//! would, from two kinds of caller: root, and the unprivileged account `cordon-test`. Attack
//! tests run each attack twice: once with `--mode off` (the control, which must show the
//! attack working, or the test proves nothing) and once confined (which must defeat it).
//!
//! The pieces: [`cordon`] builds one invocation; [`Outcome`] is what came back; [`run_dir`],
//! [`host_dir`] and [`caller_dir`] make folders with the right owners; [`HostProcess`] is a
//! process of the host for attacks to aim at; [`compile_c`] builds attack programs with gcc.

#![allow(dead_code, unused_imports)] // each test file uses a different part of the harness

pub mod dirs;
pub mod invoke;
pub mod procs;

pub use dirs::*;
pub use invoke::*;
pub use procs::*;

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

/// The interpreter the attacks use, named in full: root's `PATH` may hold a pyenv shim.
pub const PYTHON: &str = "/usr/bin/python3";
/// The unprivileged account the tests use as a caller.
pub const TEST_USER: &str = "cordon-test";
/// The uid a root caller's run gets without `--tenant`.
pub const DEFAULT_RUN_UID: u32 = 199_999;
/// The uids `--tenant` picks from.
pub const TENANT_UIDS: std::ops::RangeInclusive<u32> = 200_000..=265_535;

/// Helpers every Python attack starts with (`attempt`, `report`, `syscall`, `read`).
pub const PY_LIB: &str = include_str!("../attacks/lib.py");

/// Who starts cordon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    /// A tool server running as root: cordon must drop to an unprivileged uid.
    Root,
    /// A tool server running as `cordon-test`: cordon works through user namespaces.
    Unprivileged,
}

impl Caller {
    /// The caller's own uid on the host.
    pub fn uid(self) -> u32 {
        match self {
            Caller::Root => 0,
            Caller::Unprivileged => test_user().uid,
        }
    }

    /// The host uid a confined run of this caller gets without `--tenant`.
    pub fn run_uid(self) -> u32 {
        match self {
            Caller::Root => DEFAULT_RUN_UID,
            Caller::Unprivileged => test_user().uid,
        }
    }

    /// The host gid a confined run of this caller gets without `--tenant`.
    pub fn run_gid(self) -> u32 {
        match self {
            Caller::Root => DEFAULT_RUN_UID,
            Caller::Unprivileged => test_user().gid,
        }
    }

    /// Wraps `argv` so that it runs as this caller.
    pub fn command(self, argv: &[OsString]) -> Command {
        match self {
            Caller::Root => {
                let mut cmd = Command::new(&argv[0]);
                cmd.args(&argv[1..]);
                cmd
            }
            Caller::Unprivileged => {
                let user = test_user();
                as_uid(user.uid, user.gid, argv)
            }
        }
    }
}

/// A command that runs `argv` with the given uid and gid and no supplementary groups.
pub fn as_uid(uid: u32, gid: u32, argv: &[OsString]) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.arg(format!("--reuid={uid}"))
        .arg(format!("--regid={gid}"))
        .arg("--clear-groups")
        .arg("--")
        .args(argv);
    cmd
}

/// The unprivileged test account.
#[derive(Debug)]
pub struct TestUser {
    pub uid: u32,
    pub gid: u32,
}

/// Creates `cordon-test` if it is missing (under a lock shared with `scripts/test-setup.sh`,
/// since test binaries and threads run in parallel) and returns its ids.
pub fn test_user() -> &'static TestUser {
    static USER: OnceLock<TestUser> = OnceLock::new();
    USER.get_or_init(|| {
        let create = format!(
            "id -u {TEST_USER} >/dev/null 2>&1 || \
             useradd --system --no-create-home --shell /usr/sbin/nologin {TEST_USER}"
        );
        let status = Command::new("flock")
            .args(["/tmp/cordon-test-useradd.lock", "sh", "-c", &create])
            .status()
            .expect("failed to run flock/useradd (util-linux, passwd)");
        assert!(status.success(), "failed to create {TEST_USER}: {status}");
        TestUser {
            uid: id_of(&["-u", TEST_USER]),
            gid: id_of(&["-g", TEST_USER]),
        }
    })
}

fn id_of(args: &[&str]) -> u32 {
    let out = Command::new("id")
        .args(args)
        .output()
        .expect("failed to run id");
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("id {args:?} printed {text:?}"))
}

/// argv for `python3 -c` running [`PY_LIB`] followed by `code`, with `args` in `sys.argv[1:]`.
pub fn py<S: AsRef<str>>(code: &str, args: &[S]) -> Vec<String> {
    let mut argv = vec![PYTHON.to_string(), "-c".into(), format!("{PY_LIB}\n{code}")];
    argv.extend(args.iter().map(|a| a.as_ref().to_string()));
    argv
}

/// No arguments, for attacks that take none.
pub const NO_ARGS: &[&str] = &[];

/// True when step `step` of an attack's JSON report succeeded.
pub fn succeeded(report: &serde_json::Value, step: &str) -> bool {
    report[step]["ok"].as_bool() == Some(true)
}

/// The errno name step `step` of an attack's JSON report failed with.
pub fn error_of<'a>(report: &'a serde_json::Value, step: &str) -> Option<&'a str> {
    report[step]["error"].as_str()
}

/// The value step `step` of an attack's JSON report produced, as text.
pub fn value_of(report: &serde_json::Value, step: &str) -> String {
    match &report[step]["value"] {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A fresh value for markers and names, unique within this machine for the test run.
pub fn unique(label: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{label}-{}-{n}-{nanos:x}", std::process::id())
}

/// True when `other` users can reach and read `path` (every ancestor searchable, file readable).
pub fn world_readable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).map(|m| m.permissions().mode()).ok();
    let file_ok = mode(path).is_some_and(|m| m & 0o004 != 0);
    file_ok
        && path
            .ancestors()
            .skip(1)
            .all(|dir| mode(dir).is_some_and(|m| m & 0o001 != 0))
}

/// Generates `NAME::as_root` and `NAME::unprivileged` tests from one body taking a [`Caller`].
#[macro_export]
macro_rules! for_both_callers {
    ($($(#[$meta:meta])* fn $name:ident($caller:ident) $body:block)*) => {$(
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn body($caller: $crate::common::Caller) $body

            #[test]
            fn as_root() {
                body($crate::common::Caller::Root)
            }

            #[test]
            fn unprivileged() {
                body($crate::common::Caller::Unprivileged)
            }
        }
    )*};
}
