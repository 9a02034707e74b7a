//! Filesystem write escape: the run creates or changes files outside its run dir, changes
//! shared read-only content, writes the host's `/dev/shm` or message queues, or creates
//! device nodes and fifos. Every check looks at the host afterwards, not only at errno.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Creates every path in `sys.argv[1:]` with a marker in it.
const CREATE_ALL: &str = "def create(p):
    with open(p, 'x') as f:
        f.write('written by the run')
report(**{p: attempt(create, p) for p in sys.argv[1:]})";

fn strings(paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect()
}

/// Removes whatever the control run created, so the confined run starts from a clean host.
fn remove_all(paths: &[PathBuf]) {
    for path in paths {
        let _ = std::fs::remove_file(path);
    }
}

for_both_callers! {
    /// The command creates files in `/tmp`, `/var/tmp`, `/dev/shm` and a world-writable
    /// folder of the server.
    fn creates_files_outside_run_dir(caller) {
        let open = open_dir();
        let rw = run_dir(caller);
        let base = cordon(caller).rw(rw.path());
        let name = unique("cordon-escape");
        let paths = vec![
            PathBuf::from("/tmp").join(&name),
            PathBuf::from("/var/tmp").join(&name),
            PathBuf::from("/dev/shm").join(&name),
            open.path().join(&name),
        ];

        let control = base.clone().mode("off").run_py(CREATE_ALL, &strings(&paths));
        for path in &paths {
            assert!(path.exists(), "control did not create {}\n{control}", path.display());
        }
        remove_all(&paths);

        let confined = base.run_py(CREATE_ALL, &strings(&paths));
        let leaked: Vec<_> = paths.iter().filter(|p| p.exists()).collect();
        remove_all(&paths);
        assert!(leaked.is_empty(), "the run created {leaked:?} on the host\n{confined}");
    }

    /// Shared content (a bundled script) is granted read-only; the command appends to it,
    /// replaces it, deletes it, chmods it and adds a file next to it.
    fn changes_read_only_shared_content(caller) {
        let shared = caller_dir(caller);
        let script = shared.path().join("tool.py");
        let original = "print('bundled tool')\n";
        let reset = || {
            write_file(&script, original, 0o644);
            give_to(caller, &script);
            let _ = std::fs::remove_file(shared.path().join("added.py"));
        };
        let rw = run_dir(caller);
        let base = cordon(caller).rw(rw.path()).ro(shared.path());
        let code = "d = sys.argv[1]
t = os.path.join(d, 'tool.py')
def append():
    with open(t, 'a') as f:
        f.write('import evil\\n')
def add():
    with open(os.path.join(d, 'added.py'), 'x') as f:
        f.write('evil')
def replace():
    with open(os.path.join(d, 'added.py'), 'w') as f:
        f.write('evil')
    os.rename(os.path.join(d, 'added.py'), t)
report(append=attempt(append), add=attempt(add), chmod=attempt(os.chmod, t, 0o777),
       replace=attempt(replace), unlink=attempt(os.unlink, t))";
        let dir = shared.path().to_string_lossy().into_owned();

        reset();
        let control = base.clone().mode("off").run_py(code, &[&dir]);
        for step in ["append", "add", "chmod", "replace", "unlink"] {
            assert!(succeeded(&control.report(), step), "control: {step}\n{control}");
        }

        reset();
        let before = owner_and_mode(&script);
        let confined = base.run_py(code, &[&dir]);
        assert_eq!(std::fs::read_to_string(&script).ok().as_deref(), Some(original), "{confined}");
        assert_eq!(owner_and_mode(&script), before, "the run changed tool.py\n{confined}");
        assert!(!shared.path().join("added.py").exists(), "the run added a file\n{confined}");
    }

    /// Shared content that the run's uid could change on the host (mode 0666) is granted
    /// read-only; the command truncates it by path and by opening it with `O_TRUNC`, in the
    /// full tier (where its read-only mount refuses that) and in the Landlock + seccomp
    /// tier (where Landlock does).
    fn truncates_read_only_shared_content(caller) {
        let shared = caller_dir(caller);
        let data = shared.path().join("weather.epw");
        let original = "LOCATION,Chicago\n";
        let code = "t = sys.argv[1]
def reopen():
    os.close(os.open(t, os.O_RDONLY | os.O_TRUNC))
report(truncate=attempt(os.truncate, t, 0), reopen=attempt(reopen))";
        let arg = data.to_string_lossy().into_owned();
        let rw = run_dir(caller);
        let (_policy, tier) = no_namespaces(caller);
        let full = cordon(caller).rw(rw.path()).ro(shared.path());
        let lower = full.clone().policy(&tier);

        write_file(&data, original, 0o666);
        let control = full.clone().mode("off").run_py(code, &[&arg]);
        assert!(succeeded(&control.report(), "truncate"), "control\n{control}");
        for (name, base) in [("full", full), ("Landlock + seccomp", lower)] {
            write_file(&data, original, 0o666);
            let confined = base.run_py(code, &[&arg]);
            let got = confined.report();
            for step in ["truncate", "reopen"] {
                assert!(!succeeded(&got, step), "{name} tier: {step} succeeded\n{confined}");
            }
            let now = std::fs::read_to_string(&data).unwrap_or_default();
            assert_eq!(now, original, "{name} tier: the file changed\n{confined}");
        }
    }

    /// The command creates a POSIX message queue, which lives in the host's IPC namespace
    /// unless the run has one of its own (the `/dev/mqueue` of the threat model).
    fn creates_host_message_queue(caller) {
        let rw = run_dir(caller);
        let base = cordon(caller).rw(rw.path());
        let name = format!("/{}", unique("cordon-escape-mq"));
        let code = "rt = ctypes.CDLL('librt.so.1', use_errno=True)
def mq_open(name):
    fd = rt.mq_open(name.encode(), os.O_CREAT | os.O_WRONLY, 0o666, None)
    if fd < 0:
        raise OSError(ctypes.get_errno(), 'mq_open')
report(create=attempt(mq_open, sys.argv[1]))";

        let control = base.clone().mode("off").run_py(code, &[&name]);
        assert!(succeeded(&control.report(), "create"), "{control}");
        assert!(host_has_queue(&name), "control's queue is not on the host\n{control}");

        let confined = base.run_py(code, &[&name]);
        assert!(!host_has_queue(&name), "the run created a queue on the host\n{confined}");
    }

    /// The command makes a fifo in a world-writable host folder: a rendezvous point that
    /// host processes might open.
    fn creates_fifo_outside_run_dir(caller) {
        let open = open_dir();
        let rw = run_dir(caller);
        let fifo = open.path().join("pipe");
        let base = cordon(caller).rw(rw.path());
        let code = "report(mkfifo=attempt(os.mkfifo, sys.argv[1]))";
        let arg = fifo.to_string_lossy().into_owned();

        let control = base.clone().mode("off").run_py(code, &[&arg]);
        assert!(fifo.exists(), "control made no fifo\n{control}");
        std::fs::remove_file(&fifo).expect("failed to remove the fifo");

        let confined = base.run_py(code, &[&arg]);
        assert!(!fifo.exists(), "the run made a fifo on the host\n{confined}");
    }
}

/// True when a message queue `name` exists in the host's IPC namespace; removes it.
fn host_has_queue(name: &str) -> bool {
    let code = "import ctypes, os, sys
rt = ctypes.CDLL('librt.so.1', use_errno=True)
fd = rt.mq_open(sys.argv[1].encode(), os.O_RDONLY)
rt.mq_unlink(sys.argv[1].encode())
print('present' if fd >= 0 else 'absent')";
    let out = Command::new(PYTHON)
        .args(["-c", code, name])
        .output()
        .expect("failed to run python3");
    String::from_utf8_lossy(&out.stdout).trim() == "present"
}

/// The command creates a character device for physical memory (1:1) in its run dir, which
/// would reach host memory through any mount that allows devices. Root only: creating
/// devices needs CAP_MKNOD, which an unprivileged caller's control run lacks too.
#[test]
fn creates_device_node_as_root() {
    let rw = run_dir(Caller::Root);
    let node = rw.path().join("mem");
    let base = cordon(Caller::Root).rw(rw.path());
    let code = "import stat
report(mknod=attempt(os.mknod, sys.argv[1], stat.S_IFCHR | 0o666, os.makedev(1, 1)))";
    let arg = node.to_string_lossy().into_owned();

    let control = base.clone().mode("off").run_py(code, &[&arg]);
    assert!(succeeded(&control.report(), "mknod"), "{control}");
    std::fs::remove_file(&node).expect("failed to remove the node");

    let confined = base.run_py(code, &[&arg]);
    assert!(!succeeded(&confined.report(), "mknod"), "{confined}");
    assert!(
        std::fs::symlink_metadata(&node).is_err(),
        "a device node exists\n{confined}"
    );
}

/// As root, cordon hands each `--rw` dir to the run uid. Links planted there beforehand (by
/// an earlier run or a hostile input) must not make it give host files away too.
#[test]
fn hijacks_run_dir_handover_with_planted_links_as_root() {
    let host = host_dir();
    let target = host.path().join("server.conf");
    write_file(&target, "cordon-secret-server-conf", 0o600);
    let linked = host.path().join("linked.conf");
    write_file(&linked, "cordon-secret-linked-conf", 0o600);
    let rw = run_dir(Caller::Root);
    let sub = rw.path().join("inputs");
    std::fs::create_dir(&sub).expect("failed to create a subfolder");
    std::os::unix::fs::symlink(&target, rw.path().join("conf")).expect("symlink");
    std::os::unix::fs::symlink(host.path(), sub.join("host")).expect("symlink");
    let watched: [&Path; 3] = [&target, &linked, host.path()];
    let before = watched.map(owner_and_mode);

    let confined = cordon(Caller::Root).rw(rw.path()).run(&["/bin/true"]);
    confined.expect_success();
    assert_eq!(
        watched.map(owner_and_mode),
        before,
        "host files changed hands\n{confined}"
    );

    // A hard link to a host file refuses the run before anything changes hands.
    std::fs::hard_link(&linked, sub.join("hard")).expect("hard link");
    let refused = cordon(Caller::Root).rw(rw.path()).run(&["/bin/true"]);
    refused.expect_code(125);
    assert_eq!(
        watched.map(owner_and_mode),
        before,
        "host files changed hands\n{refused}"
    );
}

/// As root, tenant alpha's run plants a symbolic link in its own folder pointing at
/// tenant beta's folder; the caller then grants `--rw` through the link to another run
/// of alpha. Without the defence that run would get beta's folder handed to alpha's uid.
/// cordon refuses the grant (125) and beta's folder keeps its owner and contents.
#[test]
fn hands_over_another_tenants_folder_through_a_planted_symlink_as_root() {
    let beta = run_dir(Caller::Root);
    let secret = "cordon-secret-tenant-beta-3f10";
    let write = format!("printf {secret} > {}/notes", beta.path().display());
    cordon(Caller::Root)
        .rw(beta.path())
        .tenant("beta")
        .run(&["/bin/sh", "-c", &write])
        .expect_success();
    let beta_owner = owner_and_mode(beta.path());

    let workspace = run_dir(Caller::Root);
    let link = workspace.path().join("job2");
    let plant = format!("ln -s {} {}", beta.path().display(), link.display());
    cordon(Caller::Root)
        .rw(workspace.path())
        .tenant("alpha")
        .run(&["/bin/sh", "-c", &plant])
        .expect_success();
    assert!(link.is_symlink(), "the run could not plant its link");

    let steal = format!(
        "cat {0}/notes; echo tampered > {0}/notes",
        beta.path().display()
    );
    let outcome = cordon(Caller::Root)
        .rw(&link)
        .tenant("alpha")
        .run(&["/bin/sh", "-c", &steal]);
    outcome.expect_code(125);
    assert!(!outcome.mentions(secret), "{outcome}");
    assert!(outcome.stderr.contains("symbolic link"), "{outcome}");
    assert_eq!(owner_and_mode(beta.path()), beta_owner);
    let notes = std::fs::read_to_string(beta.path().join("notes")).unwrap();
    assert_eq!(notes, secret, "beta's notes were changed");
}

/// As root, a folder that belongs to another tenant's run uid is granted `--rw` to a
/// run of a different tenant directly (no link): refused, not handed over.
#[test]
fn grants_another_tenants_folder_as_root() {
    let beta = run_dir(Caller::Root);
    cordon(Caller::Root)
        .rw(beta.path())
        .tenant("beta")
        .run(&["/bin/true"])
        .expect_success();
    let beta_owner = owner_and_mode(beta.path());
    let outcome = cordon(Caller::Root)
        .rw(beta.path())
        .tenant("alpha")
        .run(&["/bin/true"]);
    outcome.expect_code(125);
    assert!(outcome.stderr.contains("another tenant"), "{outcome}");
    assert_eq!(owner_and_mode(beta.path()), beta_owner);
}
