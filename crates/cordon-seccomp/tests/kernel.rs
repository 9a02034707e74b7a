//! The filters on the real kernel, through safe wrappers: each check below runs in a
//! probe child with the filters installed (see `probe`), and where the filter refuses
//! something, the same check run without filters shows the kernel would have allowed it.

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
use rustix::net::{socket, socketpair, AddressFamily, SocketFlags, SocketType};
use std::io;
use std::net::{TcpListener, TcpStream, UdpSocket};

const NONE: FilterOptions = FilterOptions {
    deny_network: false,
    deny_unix_socket_create: false,
};
const NET: FilterOptions = FilterOptions {
    deny_network: true,
    deny_unix_socket_create: false,
};
const NET_AND_UNIX: FilterOptions = FilterOptions {
    deny_network: true,
    deny_unix_socket_create: true,
};

#[test]
fn probe_entry() {
    probe::entry(checks);
}

fn checks() -> Vec<(&'static str, io::Result<()>)> {
    vec![
        ("tcp4", TcpStream::connect(("127.0.0.1", 9)).map(drop)),
        ("udp4", UdpSocket::bind(("127.0.0.1", 0)).map(drop)),
        ("tcp6", TcpListener::bind(("::1", 0)).map(drop)),
        (
            "packet",
            open_socket(AddressFamily::PACKET, SocketType::RAW),
        ),
        (
            "netlink",
            open_socket(AddressFamily::NETLINK, SocketType::RAW),
        ),
        (
            "vsock",
            open_socket(AddressFamily::VSOCK, SocketType::STREAM),
        ),
        (
            "unix_socket",
            open_socket(AddressFamily::UNIX, SocketType::STREAM),
        ),
        ("unix_socketpair", unix_socketpair()),
        ("pidfd_getfd", steal_stdin_through_pidfd()),
        (
            "fsopen",
            rustix::mount::fsopen("tmpfs", rustix::mount::FsOpenFlags::FSOPEN_CLOEXEC)
                .map(drop)
                .map_err(io::Error::from),
        ),
        (
            "chroot",
            rustix::process::chroot("/").map_err(io::Error::from),
        ),
        ("sethostname", set_same_hostname()),
        ("getppid", has_a_parent()),
        ("file_io", write_and_read_a_file()),
        ("spawn", spawn_a_child()),
        (
            "thread",
            std::thread::spawn(|| 42)
                .join()
                .map(drop)
                .map_err(|_| io::Error::other("panic")),
        ),
        ("tty", read_terminal_attributes()),
    ]
}

fn has_a_parent() -> io::Result<()> {
    let parent = rustix::process::getppid();
    parent
        .map(|_| ())
        .ok_or_else(|| io::Error::other("no parent"))
}

fn open_socket(family: AddressFamily, kind: SocketType) -> io::Result<()> {
    socket(family, kind, None)?;
    Ok(())
}

fn unix_socketpair() -> io::Result<()> {
    socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    Ok(())
}

/// pidfd_getfd on the probe itself: allowed by the kernel (a process may inspect itself),
/// so only the filter can refuse it.
fn steal_stdin_through_pidfd() -> io::Result<()> {
    use rustix::process::{getpid, pidfd_getfd, pidfd_open, PidfdFlags, PidfdGetfdFlags};
    let pidfd = pidfd_open(getpid(), PidfdFlags::empty())?;
    pidfd_getfd(&pidfd, 0, PidfdGetfdFlags::empty())?;
    Ok(())
}

/// Sets the name the host already has, so a missing filter changes nothing.
fn set_same_hostname() -> io::Result<()> {
    let uname = rustix::system::uname();
    Ok(rustix::system::sethostname(uname.nodename().to_bytes())?)
}

fn write_and_read_a_file() -> io::Result<()> {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let path = path.join(format!("probe-{}.txt", std::process::id()));
    std::fs::write(&path, b"kept")?;
    let read = std::fs::read(&path)?;
    std::fs::remove_file(&path)?;
    (read == b"kept")
        .then_some(())
        .ok_or_else(|| io::Error::other("content changed"))
}

/// glibc tries clone3 first, gets ENOSYS and falls back to clone.
fn spawn_a_child() -> io::Result<()> {
    let status = std::process::Command::new("true").status()?;
    status
        .success()
        .then_some(())
        .ok_or_else(|| io::Error::other("true failed"))
}

/// An ioctl the filter inspects (its cmd) but must let through.
fn read_terminal_attributes() -> io::Result<()> {
    use rustix::pty::{openpt, OpenptFlags};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY)?;
    rustix::termios::tcgetattr(&master)?;
    Ok(())
}

fn outcome<'a>(results: &'a [(String, String)], name: &str) -> &'a str {
    let found = results.iter().find(|(check, _)| check == name);
    found
        .map(|(_, outcome)| outcome.as_str())
        .unwrap_or_else(|| panic!("no outcome for {name}"))
}

/// The confined outcome of each check is `expected`; a note says when the kernel refuses
/// a check on its own here, which leaves that check proving nothing about the filters.
fn assert_refused(opts: FilterOptions, names: &[&str], errno: i32) {
    let confined = probe::checks(&opts, true);
    let unconfined = probe::checks(&opts, false);
    let expected = probe::errno_text(errno);
    for name in names {
        assert_eq!(outcome(&confined, name), expected, "{name} with {opts:?}");
        if outcome(&unconfined, name) == expected {
            eprintln!("note: {name} is refused without filters too; it proves nothing here");
        }
    }
}

fn assert_allowed(opts: FilterOptions, names: &[&str]) {
    let confined = probe::checks(&opts, true);
    for name in names {
        assert_eq!(outcome(&confined, name), "ok", "{name} with {opts:?}");
    }
}

#[test]
fn net_deny_refuses_tcp_udp_and_ipv6_sockets() {
    assert_refused(NET, &["tcp4", "udp4", "tcp6"], libc::EAFNOSUPPORT);
}

#[test]
fn net_deny_refuses_packet_netlink_and_vsock_sockets() {
    assert_refused(NET, &["packet", "netlink", "vsock"], libc::EAFNOSUPPORT);
}

#[test]
fn net_deny_keeps_unix_sockets() {
    assert_allowed(NET, &["unix_socket", "unix_socketpair"]);
}

#[test]
fn unix_socket_layer_refuses_new_unix_sockets_but_not_pairs() {
    assert_refused(NET_AND_UNIX, &["unix_socket", "tcp4"], libc::EAFNOSUPPORT);
    assert_allowed(NET_AND_UNIX, &["unix_socketpair"]);
}

#[test]
fn steals_a_descriptor_through_pidfd_getfd() {
    assert_refused(NONE, &["pidfd_getfd"], libc::EPERM);
}

#[test]
fn mounts_chroots_and_renames_the_host() {
    assert_refused(NONE, &["fsopen", "chroot", "sethostname"], libc::EPERM);
}

#[test]
fn ordinary_work_runs_under_every_option() {
    let ordinary = [
        "getppid",
        "file_io",
        "spawn",
        "thread",
        "tty",
        "unix_socketpair",
    ];
    for opts in [NONE, NET, NET_AND_UNIX] {
        assert_allowed(opts, &ordinary);
    }
}
