//! Namespaces: a private view of processes, mounts, IPC, host name and network.
//!
//! A non-root caller first gets a user namespace, which maps its own uid and gid to
//! themselves (so nothing about its identity changes) and grants the capabilities the
//! other namespaces need inside it only. Each namespace is requested on its own so that a
//! host refusing one (an unprivileged container, a sysctl) still gets the others, and the
//! report says exactly which are missing and why.
//!
//! The network namespace is left as the kernel makes it: its loopback interface stays
//! down. With `--net deny` the seccomp layer refuses every socket but unix ones, so an up
//! loopback would serve nothing, and bringing it up makes the kernel set up (and later
//! tear down) addresses and routes for each run.

use crate::report::LayerReport;
use rustix::io::Errno;
use rustix::thread::UnshareFlags;
use std::fs;

/// Which namespaces this run got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Namespaces {
    pub user: bool,
    pub mount: bool,
    pub pid: bool,
    pub ipc: bool,
    pub uts: bool,
    pub net: bool,
}

/// Enters new namespaces. `root` says whether the caller is root (no user namespace
/// needed), `net` whether a network namespace is wanted (`--net deny`).
pub fn enter(root: bool, net: bool, uid: u32, gid: u32) -> (Namespaces, Vec<LayerReport>) {
    let mut ns = Namespaces::default();
    let mut reports = Vec::new();
    if root {
        reports.push(LayerReport::off(
            "namespace.user",
            "not needed: cordon runs as root",
        ));
    } else {
        match unshare(UnshareFlags::NEWUSER).and_then(|()| map_ids(uid, gid)) {
            Ok(()) => {
                ns.user = true;
                reports.push(LayerReport::enforced(
                    "namespace.user",
                    format!("uid {uid} and gid {gid} mapped to themselves"),
                ));
            }
            Err(e) => reports.push(LayerReport::missing(
                "namespace.user",
                format!("{e}; hint: the host restricts unprivileged user namespaces (sysctl user.max_user_namespaces, kernel.apparmor_restrict_unprivileged_userns)"),
            )),
        }
    }
    let privileged = root || ns.user;
    let wanted = [
        ("namespace.mount", UnshareFlags::NEWNS, true),
        ("namespace.pid", UnshareFlags::NEWPID, true),
        ("namespace.ipc", UnshareFlags::NEWIPC, true),
        ("namespace.uts", UnshareFlags::NEWUTS, true),
        ("namespace.net", UnshareFlags::NEWNET, net),
    ];
    for (layer, flag, want) in wanted {
        if !want {
            reports.push(LayerReport::off(layer, "not requested: --net allow"));
            continue;
        }
        if !privileged {
            reports.push(LayerReport::missing(
                layer,
                "needs a user namespace or root, and neither is available",
            ));
            continue;
        }
        match unshare(flag) {
            Ok(()) => {
                set(&mut ns, flag);
                reports.push(LayerReport::enforced(layer, describe(flag)));
            }
            Err(e) => reports.push(LayerReport::missing(layer, format!("unshare failed: {e}"))),
        }
    }
    (ns, reports)
}

fn unshare(flags: UnshareFlags) -> Result<(), std::io::Error> {
    // SAFETY: the helper is single-threaded and holds no state that depends on the
    // namespaces it leaves (no open network sockets, no mount-relative paths cached).
    unsafe { rustix::thread::unshare_unsafe(flags) }.map_err(Into::into)
}

fn set(ns: &mut Namespaces, flag: UnshareFlags) {
    match flag {
        f if f == UnshareFlags::NEWNS => ns.mount = true,
        f if f == UnshareFlags::NEWPID => ns.pid = true,
        f if f == UnshareFlags::NEWIPC => ns.ipc = true,
        f if f == UnshareFlags::NEWUTS => ns.uts = true,
        _ => ns.net = true,
    }
}

fn describe(flag: UnshareFlags) -> &'static str {
    match flag {
        f if f == UnshareFlags::NEWNS => "private mount namespace",
        f if f == UnshareFlags::NEWPID => "private pid namespace: only the run's processes",
        f if f == UnshareFlags::NEWIPC => "private System V IPC and POSIX message queues",
        f if f == UnshareFlags::NEWUTS => "private host name",
        _ => "private network namespace: no interface up, not even loopback",
    }
}

fn map_ids(uid: u32, gid: u32) -> Result<(), std::io::Error> {
    fs::write("/proc/self/uid_map", format!("{uid} {uid} 1\n"))?;
    fs::write("/proc/self/setgroups", "deny\n")?;
    fs::write("/proc/self/gid_map", format!("{gid} {gid} 1\n"))?;
    Ok(())
}

/// Sets the host name inside the UTS namespace.
pub fn set_hostname() -> Result<(), Errno> {
    rustix::system::sethostname(b"cordon")
}

/// The policy asked for no namespaces (`namespaces = false`): each is reported off.
pub fn declined() -> (Namespaces, Vec<LayerReport>) {
    let layers = [
        "namespace.user",
        "namespace.mount",
        "namespace.pid",
        "namespace.ipc",
        "namespace.uts",
        "namespace.net",
    ];
    let reports = layers
        .into_iter()
        .map(|l| LayerReport::off(l, "not requested: the policy says namespaces = false"))
        .collect();
    (Namespaces::default(), reports)
}
