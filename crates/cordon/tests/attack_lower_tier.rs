//! The Landlock + seccomp tier: what a run keeps when it has no namespaces at all, as on
//! hosts that refuse them (selected here on purpose with `namespaces = false`). The
//! attacks that namespaces would otherwise stop first must still fail: other processes'
//! environment through the host's `/proc`, host files, a host unix socket by path, and
//! TCP to a host listener. Strict mode refuses the tier, since it is not complete.

mod common;

use common::*;
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::time::Duration;

const SECRET: &str = "cordon-secret-lower-tier-5d2e";

for_both_callers! {
    /// A host process's environ through /proc, a host file, a host unix socket in an open
    /// folder and a TCP listener on loopback, each tried bare (`--mode off`) and confined.
    fn attacks_without_namespaces(caller) {
        let host = HostProcess::start(caller, &[("API_TOKEN", SECRET)], &["60"]);
        let secret_dir = host_dir();
        let secret_file = secret_dir.path().join("secret.txt");
        write_file(&secret_file, SECRET, 0o644);
        let sockets = open_dir();
        let sock_path = sockets.path().join("host.sock");
        let unix = UnixListener::bind(&sock_path).unwrap();
        chmod(&sock_path, 0o777);
        unix.set_nonblocking(true).unwrap();
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        tcp.set_nonblocking(true).unwrap();
        let port = tcp.local_addr().unwrap().port().to_string();
        let code = "import socket
def unix(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(b'cordon-unix-marker')
    return 'connected'
def tcp(port):
    s = socket.create_connection(('127.0.0.1', int(port)), timeout=3)
    s.sendall(b'cordon-tcp-marker')
    return 'connected'
report(environ=attempt(read, '/proc/%s/environ' % sys.argv[1]),
       file=attempt(read, sys.argv[2]),
       unix=attempt(unix, sys.argv[3]),
       tcp=attempt(tcp, sys.argv[4]))";
        let pid = host.pid().to_string();
        let args = [pid.as_str(), &secret_file.to_string_lossy(), &sock_path.to_string_lossy(), &port];
        let rw = run_dir(caller);
        let (_policy, tier) = no_namespaces(caller);
        let base = cordon(caller).rw(rw.path()).policy(&tier);

        let control = base.clone().mode("off").run_py(code, &args);
        let bare = control.report();
        assert!(value_of(&bare, "environ").contains(SECRET), "{control}");
        assert!(value_of(&bare, "file").contains(SECRET), "{control}");
        assert!(succeeded(&bare, "unix") && succeeded(&bare, "tcp"), "{control}");
        unix_received(&unix, Duration::from_millis(200));
        tcp_received(&tcp, Duration::from_millis(200));

        let confined = base.json().run_py(code, &args);
        confined.expect_success();
        let got = confined.report();
        assert!(!confined.mentions(SECRET), "a secret leaked\n{confined}");
        for step in ["environ", "file", "unix", "tcp"] {
            assert!(!succeeded(&got, step), "{step} succeeded\n{confined}");
        }
        assert!(!any_contains(&unix_received(&unix, Duration::from_millis(300)), "cordon-unix-marker"));
        assert!(!any_contains(&tcp_received(&tcp, Duration::from_millis(300)), "cordon-tcp-marker"));
        assert_eq!(confined.layer_level("namespace.pid").as_deref(), Some("off"), "{confined}");
        assert_eq!(confined.layer_level("landlock").as_deref(), Some("enforced"), "{confined}");
        assert_eq!(confined.layer_level("unix_sockets").as_deref(), Some("partial"), "{confined}");
    }

    /// The tier is not complete (no private /dev/shm, unix sockets only by refusing
    /// AF_UNIX), so strict mode refuses it with exit 125 and says which layers fall short.
    fn strict_mode_refuses_the_lower_tier(caller) {
        let rw = run_dir(caller);
        let (_policy, tier) = no_namespaces(caller);
        let outcome = cordon(caller)
            .rw(rw.path())
            .policy(&tier)
            .mode("strict")
            .run(&["/bin/echo", "started"]);
        outcome.expect_code(125);
        assert!(!outcome.stdout.contains("started"), "{outcome}");
        assert!(outcome.stderr.contains("strict mode refused"), "{outcome}");
        assert!(outcome.stderr.contains("unix_sockets"), "{outcome}");
    }
}
