//! Network exfiltration with `--net deny` (the default): TCP and UDP over IPv4 and IPv6 to
//! a listener the test opens on loopback; raw, packet, netlink and vsock sockets; sockets
//! made through io_uring; and system calls through the i386 and x32 entry points, which a
//! filter that only knows x86-64 numbers would let through.

mod common;

use common::*;
use std::net::{TcpListener, UdpSocket};
use std::path::Path;
use std::time::Duration;

const SEND: &str = "import socket
host, port, kind, marker = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
family = socket.AF_INET6 if ':' in host else socket.AF_INET
kind = socket.SOCK_STREAM if kind == 'tcp' else socket.SOCK_DGRAM
def make():
    socket.socket(family, kind).close()
def send():
    s = socket.socket(family, kind)
    s.settimeout(5)
    s.connect((host, port))
    for _ in range(3):
        s.send(marker.encode())
    s.close()
report(socket=attempt(make), send=attempt(send))";

/// Sends a marker from the run to `addr` over `kind` (`tcp`/`udp`), unconfined and
/// confined; returns whether each marker arrived, checking the confined run's errno.
fn exfiltrate(caller: Caller, kind: &str, addr: &str) {
    let rw = run_dir(caller);
    let base = cordon(caller).rw(rw.path());
    let attempt = |mode: &str| {
        let marker = unique("exfil");
        let (outcome, arrived) = if kind == "tcp" {
            let listener = TcpListener::bind(format!("{addr}:0")).expect("failed to listen");
            let port = listener.local_addr().expect("bound").port().to_string();
            let bare = addr.trim_matches(['[', ']']);
            let out = base
                .clone()
                .mode(mode)
                .run_py(SEND, &[bare, &port, kind, &marker]);
            (
                out,
                any_contains(
                    &tcp_received(&listener, Duration::from_millis(300)),
                    &marker,
                ),
            )
        } else {
            let socket = UdpSocket::bind(format!("{addr}:0")).expect("failed to bind");
            let port = socket.local_addr().expect("bound").port().to_string();
            let bare = addr.trim_matches(['[', ']']);
            let out = base
                .clone()
                .mode(mode)
                .run_py(SEND, &[bare, &port, kind, &marker]);
            (
                out,
                any_contains(&udp_received(&socket, Duration::from_millis(300)), &marker),
            )
        };
        (outcome, arrived)
    };

    let (control, arrived) = attempt("off");
    assert!(
        arrived,
        "control's {kind} to {addr} did not arrive\n{control}"
    );
    let (confined, arrived) = attempt("auto");
    assert!(!arrived, "the run sent {kind} to {addr}\n{confined}");
    assert_eq!(
        error_of(&confined.report(), "socket"),
        Some("EAFNOSUPPORT"),
        "{confined}"
    );
}

/// The folder holding the compiled attack programs, to grant with `--ro`.
fn program_dir(program: &Path) -> &Path {
    program.parent().expect("programs live in a folder")
}

/// What the run's network namespace has up: IPv6 addresses and the IPv4 routing trie,
/// where an up loopback shows `::1` and `127.0.0.1`.
const IFACES: &str =
    "report(v6=open('/proc/net/if_inet6').read(), v4=open('/proc/net/fib_trie').read())";

for_both_callers! {
    /// The run's network namespace has no interface up, not even loopback: a tier
    /// without the socket filter would still find nowhere to send to.
    fn finds_no_interface_up(caller) {
        let rw = run_dir(caller);
        let base = cordon(caller).rw(rw.path());
        let control = base.clone().mode("off").run_py(IFACES, NO_ARGS);
        let shown = |out: &Outcome, key: &str| out.report()[key].as_str().unwrap_or("").to_owned();
        assert!(shown(&control, "v6").contains(" lo"), "control\n{control}");
        assert!(shown(&control, "v4").contains("127.0.0.1"), "control\n{control}");
        let confined = base.run_py(IFACES, NO_ARGS);
        assert_eq!(shown(&confined, "v6"), "", "{confined}");
        assert!(!shown(&confined, "v4").contains("127.0.0.1"), "{confined}");
    }

    fn exfiltrates_over_tcp_ipv4(caller) {
        exfiltrate(caller, "tcp", "127.0.0.1");
    }

    fn exfiltrates_over_tcp_ipv6(caller) {
        exfiltrate(caller, "tcp", "[::1]");
    }

    fn exfiltrates_over_udp_ipv4(caller) {
        exfiltrate(caller, "udp", "127.0.0.1");
    }

    fn exfiltrates_over_udp_ipv6(caller) {
        exfiltrate(caller, "udp", "[::1]");
    }

    /// The command opens raw, packet, netlink and vsock sockets, directly or (when refused)
    /// from a new user and network namespace, where it would hold CAP_NET_RAW.
    fn opens_raw_packet_netlink_vsock_sockets(caller) {
        let rw = run_dir(caller);
        let base = cordon(caller).rw(rw.path());
        let code = include_str!("attacks/socket_families.py");
        let families = ["raw", "raw6", "packet", "netlink", "vsock"];

        let control = base.clone().mode("off").run_py(code, &families);
        for family in families {
            assert!(succeeded(&control.report(), family), "control: {family}\n{control}");
        }

        let confined = base.run_py(code, &families);
        let report = confined.report();
        for family in families {
            assert!(!succeeded(&report, family), "the run opened a {family} socket\n{confined}");
            assert_eq!(report[family]["direct"]["error"], "EAFNOSUPPORT", "{confined}");
        }
        assert_eq!(error_of(&report, "unshare"), Some("EPERM"), "{confined}");
    }

    /// The command connects to the test's listener and sends a marker using only io_uring
    /// requests (IORING_OP_SOCKET, CONNECT, SEND), which socket filters never see.
    fn exfiltrates_through_io_uring(caller) {
        let program = compile_c("io_uring_net", include_str!("attacks/io_uring_net.c"), &["-O1"]);
        let rw = run_dir(caller);
        let base = cordon(caller).rw(rw.path()).ro(program_dir(&program));
        let attack = |mode: &str| {
            let listener = TcpListener::bind("127.0.0.1:0").expect("failed to listen");
            let port = listener.local_addr().expect("bound").port().to_string();
            let marker = unique("uring");
            let path = program.to_string_lossy();
            let outcome = base.clone().mode(mode).run(&[&*path, "127.0.0.1", &port, &marker]);
            let received = tcp_received(&listener, Duration::from_millis(300));
            (any_contains(&received, &marker), outcome)
        };

        let (arrived, control) = attack("off");
        assert!(arrived, "control's io_uring connection did not arrive\n{control}");
        let (arrived, confined) = attack("auto");
        assert!(!arrived, "the run connected through io_uring\n{confined}");
        assert_eq!(error_of(&confined.report(), "setup"), Some("ENOSYS"), "{confined}");
    }

    /// Plain `io_uring_setup` (x86-64 number 425) from Python, as the contract pins it.
    fn sets_up_io_uring(caller) {
        let rw = run_dir(caller);
        let base = cordon(caller).rw(rw.path());
        let code = "params = ctypes.create_string_buffer(120)
report(setup=attempt(syscall, 425, 4, params))";
        let control = base.clone().mode("off").run_py(code, NO_ARGS);
        assert!(succeeded(&control.report(), "setup"), "{control}");
        let confined = base.run_py(code, NO_ARGS);
        assert_eq!(error_of(&confined.report(), "setup"), Some("ENOSYS"), "{confined}");
    }

    /// The command makes socketcall(2) and write(2) through `int $0x80` (i386 numbers), and
    /// a bare getpid(2) the same way: the filter must kill the process (SIGSYS, exit 159).
    fn exfiltrates_through_int80(caller) {
        let program = compile_c("int80", include_str!("attacks/int80.c"), &["-O1"]);
        let path = program.to_string_lossy().into_owned();
        let rw = run_dir(caller);
        let base = cordon(caller).rw(rw.path()).ro(program_dir(&program));
        let send = |mode: &str| {
            let listener = TcpListener::bind("127.0.0.1:0").expect("failed to listen");
            let port = listener.local_addr().expect("bound").port().to_string();
            let marker = unique("int80");
            let argv = [path.as_str(), "send", "127.0.0.1", &port, &marker];
            let outcome = base.clone().mode(mode).run(&argv);
            let received = tcp_received(&listener, Duration::from_millis(300));
            (any_contains(&received, &marker), outcome)
        };

        let (arrived, control) = send("off");
        assert!(arrived, "control's int 0x80 connection did not arrive\n{control}");
        let (arrived, confined) = send("auto");
        assert!(!arrived, "the run connected through int 0x80\n{confined}");
        confined.expect_code(128 + 31);

        let control = base.clone().mode("off").run(&[path.as_str(), "getpid"]);
        assert!(succeeded(&control.report(), "getpid"), "{control}");
        base.run(&[path.as_str(), "getpid"]).expect_code(128 + 31);
    }

    /// The command calls getpid(2) by its x32 number (0x40000000 | 39). This kernel may not
    /// build the x32 ABI (then the call fails with ENOSYS), but a kernel that does would run
    /// any x32-numbered call past an x86-64-only filter: the process must be killed.
    fn calls_x32_numbered_syscall(caller) {
        let rw = run_dir(caller);
        let base = cordon(caller).rw(rw.path()).json();
        let code = "report(getpid=attempt(syscall, 0x40000000 | 39))";
        let control = base.clone().mode("off").run_py(code, NO_ARGS);
        control.expect_success();
        control.report();

        let confined = base.run_py(code, NO_ARGS);
        confined.expect_code(128 + 31);
        assert_eq!(confined.record()["signal"], 31, "{confined}");
        assert_eq!(confined.record()["status"], "signaled", "{confined}");
    }
}
