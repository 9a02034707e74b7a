//! Privilege gain: the run tries to stay root, keep capabilities, regain root through a
//! setuid binary, gain capabilities in a new user namespace, or reach kernel interfaces that
//! a confined process has no business with (and that hold most local-root bugs).

mod common;

use common::*;
use std::os::unix::fs::MetadataExt;

const CAPS: &str = "class Header(ctypes.Structure):
    _fields_ = [('version', ctypes.c_uint32), ('pid', ctypes.c_int)]
class Data(ctypes.Structure):
    _fields_ = [('effective', ctypes.c_uint32), ('permitted', ctypes.c_uint32),
                ('inheritable', ctypes.c_uint32)]
header, data = Header(0x20080522, 0), (Data * 2)()
syscall(125, ctypes.byref(header), data)
both = lambda f: getattr(data[0], f) | getattr(data[1], f) << 32
caps = {f: both(f) for f in ('effective', 'permitted', 'inheritable')}
caps['bounding'] = [c for c in range(64) if libc.prctl(23, c, 0, 0, 0) == 1]
caps['ambient'] = [c for c in range(64) if libc.prctl(47, 1, c, 0, 0) == 1]
caps['no_new_privs'] = libc.prctl(39, 0, 0, 0, 0)
status = attempt(read, '/proc/self/status')
caps['status'] = [l for l in status.get('value', '').splitlines() if l.startswith('Cap')]
report(caps={'ok': True, 'value': caps})";

/// Calls each filtered system call with harmless arguments (null pointers, a query).
const KERNEL_INTERFACES: &str = "L = ctypes.c_long
report(
    keyctl=attempt(syscall, 250, L(0), L(-3), L(0)),
    bpf=attempt(syscall, 321, L(5), None, L(0)),
    perf_event_open=attempt(syscall, 298, None, L(0), L(-1), L(-1), L(0)),
    userfaultfd=attempt(syscall, 323, L(os.O_CLOEXEC | 1)),
    mount=attempt(syscall, 165, None, None, None, L(0), None),
    kexec_load=attempt(syscall, 246, L(0), L(0), None, L(0)),
    init_module=attempt(syscall, 175, None, L(0), None),
    clone3=attempt(syscall, 435, None, L(0)),
    process_vm_readv=attempt(syscall, 310, L(os.getpid()), None, L(0), None, L(0), L(0)),
    unshare_user=attempt(syscall, 272, L(0x10000000)),
)";

for_both_callers! {
    /// The command reads its capability sets (effective, permitted, inheritable, bounding,
    /// ambient) through capget(2) and prctl(2), and from `/proc/self/status` when mounted.
    fn keeps_capabilities(caller) {
        let rw = run_dir(caller);
        let base = cordon(caller).rw(rw.path());
        let control = base.clone().mode("off").run_py(CAPS, NO_ARGS);
        let caps = control.report()["caps"]["value"].clone();
        assert_ne!(caps["bounding"], serde_json::json!([]), "{control}");
        if caller == Caller::Root {
            assert_ne!(caps["effective"], 0, "{control}");
        }

        let confined = base.run_py(CAPS, NO_ARGS);
        let caps = confined.report()["caps"]["value"].clone();
        for set in ["effective", "permitted", "inheritable"] {
            assert_eq!(caps[set], 0, "the run holds {set} capabilities\n{confined}");
        }
        for set in ["bounding", "ambient"] {
            assert_eq!(caps[set], serde_json::json!([]), "{set} not cleared\n{confined}");
        }
        assert_eq!(caps["no_new_privs"], 1, "no_new_privs is not set\n{confined}");
        for line in caps["status"].as_array().into_iter().flatten() {
            let line = line.as_str().unwrap_or_default();
            assert!(line.ends_with("0000000000000000"), "{line}\n{confined}");
        }
    }

    /// A setuid-root copy of `id` is granted read-only; running it must not give euid 0.
    fn regains_root_through_setuid_binary(caller) {
        let shared = host_dir();
        let id = shared.path().join("id");
        std::fs::copy("/usr/bin/id", &id).expect("failed to copy /usr/bin/id");
        chmod(&id, 0o4755);
        assert_eq!(std::fs::metadata(&id).expect("stat").mode() & 0o4000, 0o4000);
        let rw = run_dir(caller);
        let base = cordon(caller).rw(rw.path()).ro(shared.path());
        let cmd = [id.to_string_lossy().into_owned(), "-u".into()];

        let control = base.clone().mode("off").run(&cmd);
        assert_eq!(control.stdout.trim(), "0", "control did not become root\n{control}");
        let confined = base.run(&cmd);
        assert_ne!(confined.stdout.trim(), "0", "the run became root\n{confined}");
        assert!(!confined.stdout.trim().is_empty() || confined.code() != Some(0), "{confined}");
    }

    /// `unshare -Ur` makes a user namespace in which the command is root with every
    /// capability, the first step of most container-escape chains.
    fn gains_capabilities_in_new_user_namespace(caller) {
        let rw = run_dir(caller);
        let base = cordon(caller).rw(rw.path());
        let cmd = ["unshare", "-Ur", "id", "-u"];
        let control = base.clone().mode("off").run(&cmd);
        assert_eq!(control.stdout.trim(), "0", "{control}");
        let confined = base.run(&cmd);
        assert_ne!(confined.code(), Some(0), "{confined}");
        assert_ne!(confined.stdout.trim(), "0", "{confined}");
    }

    /// The command calls keyctl, bpf, perf_event_open, userfaultfd, mount, kexec_load,
    /// init_module, clone3, process_vm_readv and unshare(CLONE_NEWUSER). Each must be refused
    /// with the errno the contract names, not reach the kernel's implementation.
    fn calls_filtered_kernel_interfaces(caller) {
        let rw = run_dir(caller);
        let base = cordon(caller).rw(rw.path());
        let control = base.clone().mode("off").run_py(KERNEL_INTERFACES, NO_ARGS);
        let confined = base.run_py(KERNEL_INTERFACES, NO_ARGS);
        let (seen, got) = (control.report(), confined.report());

        // Calls whose unconfined result is not the filter's answer, so the control shows
        // that the call reached the kernel (mount and bpf refuse non-root callers anyway).
        let mut reached = vec!["keyctl", "perf_event_open", "userfaultfd", "process_vm_readv"];
        reached.push("unshare_user");
        if caller == Caller::Root {
            reached.extend(["bpf", "mount"]);
        }
        for call in reached {
            let error = error_of(&seen, call);
            assert_ne!(error, Some("EPERM"), "control got EPERM from {call}\n{control}");
        }
        assert_ne!(error_of(&seen, "clone3"), Some("ENOSYS"), "{control}");
        for call in ["keyctl", "bpf", "perf_event_open", "userfaultfd", "mount", "kexec_load"]
            .into_iter()
            .chain(["init_module", "process_vm_readv", "unshare_user"])
        {
            assert_eq!(error_of(&got, call), Some("EPERM"), "{call}\n{confined}");
        }
        assert_eq!(error_of(&got, "clone3"), Some("ENOSYS"), "{confined}");
    }
}

/// A root caller's run must not be root: it gets the default run uid and gid, no
/// supplementary groups, cannot setuid(0), and what it creates belongs to that uid.
#[test]
fn stays_root_as_root() {
    let rw = run_dir(Caller::Root);
    let base = cordon(Caller::Root).rw(rw.path());
    let code = "open(os.path.join(sys.argv[1], sys.argv[2]), 'w').close()
report(ids={'ok': True, 'value': [os.getuid(), os.geteuid(), os.getgid(), os.getegid()]},
       groups={'ok': True, 'value': os.getgroups()}, setuid=attempt(os.setuid, 0))";
    let dir = rw.path().to_string_lossy().into_owned();

    let control = base.clone().mode("off").run_py(code, &[&dir, "control"]);
    assert_eq!(
        control.report()["ids"]["value"],
        serde_json::json!([0, 0, 0, 0]),
        "{control}"
    );

    let confined = base.run_py(code, &[&dir, "confined"]);
    let report = confined.report();
    let ids = report["ids"]["value"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        ids[..2],
        [DEFAULT_RUN_UID, DEFAULT_RUN_UID].map(serde_json::Value::from)
    );
    assert!(
        ids[2..].iter().all(|g| g != 0),
        "the run kept gid 0\n{confined}"
    );
    let groups = report["groups"]["value"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        groups.iter().all(|g| g != 0 && *g == ids[2]),
        "groups {groups:?}\n{confined}"
    );
    assert!(!succeeded(&report, "setuid"), "{confined}");
    let created = std::fs::metadata(rw.path().join("confined")).expect("the run made no file");
    assert_eq!(created.uid(), DEFAULT_RUN_UID, "{confined}");
}
