//! Host services: the run connects to unix sockets of the host (a container engine's socket,
//! a D-Bus bus) by path or by abstract name, attaches the host's System V shared memory,
//! signals host processes, attaches to them with ptrace, or reads their memory. Target
//! processes run with the run's own uid, so that no uid boundary helps and only the sandbox
//! stands in the way.

mod common;

use common::*;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::path::PathBuf;
use std::time::Duration;

const CONNECT: &str = "import socket
def connect(address, marker):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(address)
    s.sendall(marker.encode())
    s.close()
marker = sys.argv[1]
report(**{a: attempt(connect, a.replace('@', '\\0', 1), marker) for a in sys.argv[2:]})";

/// A System V shared memory segment of the host (mode 0666) holding a marker; removed on drop.
struct HostSegment {
    key: String,
}

const SHM_HOST: &str = "import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
key = int(sys.argv[1])
if sys.argv[2] == 'create':
    segment = libc.shmget(key, 4096, 0o1666)
    ctypes.memmove(libc.shmat(segment, None, 0), sys.argv[3].encode(), len(sys.argv[3]))
else:
    libc.shmctl(libc.shmget(key, 0, 0), 0, None)";

impl HostSegment {
    fn create(marker: &str) -> Self {
        use std::hash::{DefaultHasher, Hash, Hasher};
        let mut hasher = DefaultHasher::new();
        marker.hash(&mut hasher);
        let key = (hasher.finish() & 0x3fff_ffff).to_string();
        let status = std::process::Command::new(PYTHON)
            .args(["-c", SHM_HOST, &key, "create", marker])
            .status()
            .expect("failed to run python3");
        assert!(status.success(), "failed to create a shared memory segment");
        Self { key }
    }
}

impl Drop for HostSegment {
    fn drop(&mut self) {
        let _ = std::process::Command::new(PYTHON)
            .args(["-c", SHM_HOST, &self.key, "remove"])
            .status();
    }
}

/// A listening socket at `path` that anyone may connect to.
fn listen_at(path: PathBuf) -> (UnixListener, PathBuf) {
    let listener = UnixListener::bind(&path).expect("failed to bind a unix socket");
    chmod(&path, 0o777);
    (listener, path)
}

/// Runs [`CONNECT`] against `addresses` (`@name` for abstract ones) unconfined and confined.
fn connect_all(caller: Caller, listeners: &[UnixListener], addresses: &[String]) {
    let rw = run_dir(caller);
    let base = cordon(caller).rw(rw.path());
    let mut args = vec![unique("control")];
    args.extend(addresses.iter().cloned());

    let control = base.clone().mode("off").run_py(CONNECT, &args);
    for (listener, address) in listeners.iter().zip(addresses) {
        let got = unix_received(listener, Duration::from_millis(300));
        assert!(
            any_contains(&got, &args[0]),
            "control did not reach {address}\n{control}"
        );
    }

    args[0] = unique("confined");
    let confined = base.run_py(CONNECT, &args);
    for (listener, address) in listeners.iter().zip(addresses) {
        let got = unix_received(listener, Duration::from_millis(300));
        assert!(got.is_empty(), "the run connected to {address}\n{confined}");
        assert!(!succeeded(&confined.report(), address), "{confined}");
    }
}

for_both_callers! {
    /// The command connects to host sockets by path, in `/tmp` and in `/run`.
    fn connects_to_host_unix_socket_by_path(caller) {
        let host = host_dir();
        let run = tempfile::Builder::new()
            .prefix("cordon-test-bus-")
            .tempdir_in("/run")
            .expect("failed to create a folder in /run");
        chmod(run.path(), 0o755);
        let in_tmp = listen_at(host.path().join("engine.sock"));
        let in_run = listen_at(run.path().join("bus.sock"));
        let addresses = [&in_tmp.1, &in_run.1].map(|p| p.to_string_lossy().into_owned());
        connect_all(caller, &[in_tmp.0, in_run.0], &addresses);
    }

    /// The command connects to a host socket by abstract name, which has no file for
    /// permissions or Landlock path rules to guard.
    fn connects_to_abstract_unix_socket(caller) {
        let name = unique("cordon-test-abstract");
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).expect("abstract address");
        let listener = UnixListener::bind_addr(&addr).expect("failed to bind abstract socket");
        connect_all(caller, &[listener], &[format!("@{name}")]);
    }

    /// The command attaches a System V shared memory segment of the host by its key (how
    /// some servers share state) and reads it.
    fn attaches_host_sysv_shared_memory(caller) {
        let marker = unique("shm");
        let segment = HostSegment::create(&marker);
        let rw = run_dir(caller);
        let base = cordon(caller).rw(rw.path());
        let code = "libc.shmat.restype = ctypes.c_void_p
def attach(key):
    segment = libc.shmget(key, 0, 0)
    if segment < 0:
        raise OSError(ctypes.get_errno(), 'shmget')
    return ctypes.string_at(libc.shmat(segment, None, 0), 64).split(b'\\0')[0]
report(attach=attempt(attach, int(sys.argv[1])))";

        let control = base.clone().mode("off").run_py(code, &[&segment.key]);
        assert_eq!(value_of(&control.report(), "attach"), marker, "{control}");
        let confined = base.run_py(code, &[&segment.key]);
        assert!(!confined.mentions(&marker), "the run read host shared memory\n{confined}");
        assert!(!succeeded(&confined.report(), "attach"), "{confined}");
    }

    /// The command sends SIGKILL to a host process with its own uid.
    fn kills_host_process(caller) {
        let rw = run_dir(caller);
        let base = cordon(caller).rw(rw.path());
        let code = "import signal
report(kill=attempt(os.kill, int(sys.argv[1]), signal.SIGKILL))";

        let mut victim = HostProcess::start(caller, &[], &[]);
        let control = base.clone().mode("off").run_py(code, &[victim.pid().to_string()]);
        assert!(victim.dies_within(Duration::from_secs(5)), "control could not kill\n{control}");

        let mut victim = HostProcess::start(caller, &[], &[]);
        let confined = base.run_py(code, &[victim.pid().to_string()]);
        assert!(!succeeded(&confined.report(), "kill"), "{confined}");
        assert!(!victim.dies_within(Duration::from_millis(300)), "victim died\n{confined}");
    }

    /// The command signals cordon itself (its pid handed over through the run dir), which
    /// could stop or confuse the supervisor. SIGURG is harmless if it gets through.
    fn signals_cordon_process(caller) {
        let code = "import signal, time
path = os.path.join(sys.argv[1], 'cordon.pid')
for _ in range(500):
    if os.path.exists(path):
        break
    time.sleep(0.02)
report(kill=attempt(os.kill, int(open(path).read()), signal.SIGURG))";
        let run = |mode: &str| {
            let rw = run_dir(caller);
            let dir = rw.path().to_string_lossy().into_owned();
            let running = cordon(caller).rw(rw.path()).mode(mode).spawn(&py(code, &[&dir]));
            let staged = rw.path().join(".cordon.pid");
            write_file(&staged, &running.pid().to_string(), 0o644);
            std::fs::rename(&staged, rw.path().join("cordon.pid")).expect("publish the pid");
            running.wait()
        };
        let control = run("off");
        assert!(succeeded(&control.report(), "kill"), "{control}");
        let confined = run("auto");
        assert!(!succeeded(&confined.report(), "kill"), "{confined}");
    }

    /// The command attaches to a host process with ptrace and reads its memory with
    /// process_vm_readv(2) and `/proc/PID/mem`.
    fn reads_host_process_memory(caller) {
        let rw = run_dir(caller);
        let base = cordon(caller).rw(rw.path());
        let code = "pid, addr = int(sys.argv[1]), int(sys.argv[2])
class iovec(ctypes.Structure):
    _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]
buf = ctypes.create_string_buffer(16)
local, remote = iovec(ctypes.cast(buf, ctypes.c_void_p), 16), iovec(addr, 16)
def vm_read():
    return syscall(310, pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
def mem_read():
    with open(f'/proc/{pid}/mem', 'rb') as f:
        f.seek(addr)
        return len(f.read(16))
report(vm_read=attempt(vm_read), mem=attempt(mem_read),
       attach=attempt(syscall, 101, 16, pid, 0, 0))";
        let attack = |mode: &str| {
            let victim = HostProcess::start(caller, &[], &[]);
            let args = [victim.pid().to_string(), victim.readable_address().to_string()];
            base.clone().mode(mode).run_py(code, &args)
        };

        let control = attack("off");
        for step in ["vm_read", "mem", "attach"] {
            assert!(succeeded(&control.report(), step), "control: {step}\n{control}");
        }
        let confined = attack("auto");
        let report = confined.report();
        for step in ["vm_read", "mem", "attach"] {
            assert!(!succeeded(&report, step), "the run could {step}\n{confined}");
        }
        assert_eq!(error_of(&report, "vm_read"), Some("EPERM"), "{confined}");
        assert_eq!(error_of(&report, "attach"), Some("EPERM"), "{confined}");
    }
}
