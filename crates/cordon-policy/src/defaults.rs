//! Defaults: the system read-only roots every run gets, the identity used when cordon runs
//! as root, and the limits strict mode applies when the policy sets none.
//!
//! The root table is security policy, so it is data to review: each entry says why a
//! normal program needs it. Whole trees that hold other users' or services' data (`/etc`
//! as a whole, `/home`, `/root`, `/run`, `/var`, `/tmp`) and `/proc` are deliberately
//! absent: `/etc` holds secrets (`shadow`, service credentials), `/run` and `/tmp` hold
//! host sockets, and the sandbox mounts its own `/proc` and `/tmp` where it can.

use crate::model::{Grant, Identity, Limits};
use std::path::Path;
use std::time::Duration;

/// The default read-only roots and why each is granted.
pub const SYSTEM_ROOTS: &[(&str, &str)] = &[
    (
        "/usr",
        "programs, shared libraries and interpreters' standard libraries",
    ),
    ("/lib", "shared libraries and the dynamic loader"),
    ("/lib32", "32-bit shared libraries on multiarch hosts"),
    (
        "/lib64",
        "the x86-64 dynamic loader (/lib64/ld-linux-x86-64.so.2)",
    ),
    ("/libx32", "x32 shared libraries on multiarch hosts"),
    (
        "/bin",
        "the shell and core utilities (a link into /usr on merged-usr hosts)",
    ),
    (
        "/sbin",
        "system utilities some scripts call by absolute path",
    ),
    ("/etc/ld.so.cache", "the dynamic loader's library index"),
    (
        "/etc/ld.so.conf",
        "the dynamic loader's search path configuration",
    ),
    (
        "/etc/ld.so.conf.d",
        "the dynamic loader's search path fragments",
    ),
    (
        "/etc/alternatives",
        "Debian's command links (cc, awk, java, editor) point through here",
    ),
    (
        "/etc/locale.alias",
        "locale name aliases read by the C library",
    ),
    (
        "/etc/locale.conf",
        "the system locale some runtimes read at start-up",
    ),
    (
        "/etc/localtime",
        "the host time zone, so timestamps match the host",
    ),
    ("/etc/timezone", "the host time zone name (Debian)"),
    (
        "/etc/ssl",
        "CA certificates for TLS clients when the network is allowed",
    ),
    (
        "/etc/ca-certificates",
        "CA certificate configuration (Debian)",
    ),
    (
        "/etc/passwd",
        "user names for getpwuid (Python's getpass, whoami, ls -l); no hashes",
    ),
    ("/etc/group", "group names for getgrgid (ls -l, id)"),
    (
        "/etc/nsswitch.conf",
        "tells the C library where passwd, group and hosts lookups go",
    ),
    ("/etc/host.conf", "resolver options read by the C library"),
    ("/etc/gai.conf", "address sorting rules for getaddrinfo"),
];

/// The entries of [`SYSTEM_ROOTS`] that exist on this host, in table order.
///
/// A missing entry is skipped silently: hosts differ (no `/lib32` on most, no
/// `/etc/timezone` outside Debian), and a root that does not exist grants nothing.
pub fn system_roots() -> Vec<Grant> {
    SYSTEM_ROOTS
        .iter()
        .filter(|(path, _)| Path::new(path).symlink_metadata().is_ok())
        .map(|(path, reason)| Grant {
            path: path.into(),
            reason: (*reason).into(),
        })
        .collect()
}

/// uid and gid of runs without a tenant, and the tenant uid range.
///
/// 199999 and 200000..=265535 lie above the ranges distributions hand out to system
/// accounts (below 1000) and people (1000 to 60000), and below the 4294967295 that means
/// "unchanged" to `setresuid`, so a run never shares a uid with a host process or user.
pub const DEFAULT_IDENTITY: Identity = Identity {
    uid: 199_999,
    gid: 199_999,
    tenant_uid_first: 200_000,
    tenant_uid_last: 265_535,
};

const GIB: u64 = 1 << 30;

/// Limits strict mode applies to every limit the policy leaves unset (`"none"` removes
/// one explicitly).
///
/// - timeout 2h: long enough for a full-year building simulation, short enough that a
///   stuck run frees its slot the same working day;
/// - memory 4 GiB: a large compile or simulation fits, a memory bomb cannot push a small
///   server into swap;
/// - pids 256: Python multiprocessing and `make -j` fit, a fork bomb stops early;
/// - file_size 1 GiB: outputs and logs of real runs fit, one runaway write cannot fill the
///   disk;
/// - open_files 4096: above what language runtimes open, far below the host's limit;
/// - disk 2 GiB: all read-write folders together, so many files cannot fill the disk
///   where one file may not (the folders then live on a private tmpfs of that size,
///   which counts against the memory limit too, and are copied back at the end);
/// - cpu: unset, because the timeout already bounds wall-clock time and CPU time would
///   punish parallel work.
pub const STRICT_DEFAULTS: Limits = Limits {
    timeout: Some(Duration::from_secs(2 * 60 * 60)),
    cpu: None,
    memory: Some(4 * GIB),
    pids: Some(256),
    file_size: Some(GIB),
    open_files: Some(4096),
    disk: Some(2 * GIB),
};
