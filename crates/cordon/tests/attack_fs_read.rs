//! Filesystem read escape: the run opens host files it was not granted, directly, through
//! links planted in its run dir, with `..`, or through the working directory it started in.
//! File contents are compared by digest, so no host secret is ever printed.

mod common;

use common::*;
use std::path::{Path, PathBuf};

const SECRET: &str = "cordon-secret-host-file-c2d8";

/// Reads every path in `sys.argv[1:]`; each step is the file's digest or the error.
const READ_ALL: &str = "report(**{p: attempt(digest, p) for p in sys.argv[1:]})";
/// Lists every folder in `sys.argv[1:]`.
const LIST_ALL: &str = "report(**{p: attempt(os.listdir, p) for p in sys.argv[1:]})";

fn strings(paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect()
}

/// Runs `code` over `paths` unconfined, where every step must succeed, then confined, where
/// every step must fail.
fn control_reads_all_confined_none(caller: Caller, base: Cordon, code: &str, paths: &[PathBuf]) {
    let args = strings(paths);
    let control = base.clone().mode("off").run_py(code, &args);
    let seen = control.report();
    let confined = base.run_py(code, &args);
    let got = confined.report();
    for path in &args {
        assert!(
            succeeded(&seen, path),
            "control ({caller:?}) could not read {path}\n{control}"
        );
        assert!(!succeeded(&got, path), "the run read {path}\n{confined}");
    }
    assert!(!confined.mentions(SECRET), "{confined}");
}

/// A host folder holding `secret.txt` (mode 0644): readable by anyone on the host.
fn host_with_secret() -> (tempfile::TempDir, PathBuf) {
    let host = host_dir();
    let secret = host.path().join("secret.txt");
    write_file(&secret, SECRET, 0o644);
    (host, secret)
}

for_both_callers! {
    /// The command opens world-readable host files by absolute path: `/etc/hostname`, a file
    /// in `/tmp`, this crate's `Cargo.toml`, and (as root) `/etc/shadow`.
    fn reads_host_files_by_path(caller) {
        let (_host, secret) = host_with_secret();
        let rw = run_dir(caller);
        let mut paths = vec![PathBuf::from("/etc/hostname"), secret];
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        // The checkout may sit below a folder only root may enter; then only root's
        // control can read the manifest.
        if caller == Caller::Root || world_readable(&manifest) {
            paths.push(manifest);
        }
        if caller == Caller::Root {
            paths.push("/etc/shadow".into());
        }
        control_reads_all_confined_none(caller, cordon(caller).rw(rw.path()), READ_ALL, &paths);
    }

    /// Symlinks planted in the run dir point at a host file, a host folder and `/etc`.
    fn follows_symlinks_planted_in_run_dir(caller) {
        let (host, secret) = host_with_secret();
        let rw = run_dir(caller);
        let link = |name: &str, target: &Path| {
            std::os::unix::fs::symlink(target, rw.path().join(name)).expect("failed to symlink");
            rw.path().join(name)
        };
        let paths = vec![
            link("file", &secret),
            link("dir", host.path()).join("secret.txt"),
            link("etc", Path::new("/etc")).join("hostname"),
            link("root", Path::new("/")).join("etc/hostname"),
        ];
        control_reads_all_confined_none(caller, cordon(caller).rw(rw.path()), READ_ALL, &paths);
    }

    /// The command climbs out of its run dir with `..`, to a sibling file and to `/etc`.
    fn traverses_out_of_run_dir_with_dotdot(caller) {
        let (host, _secret) = host_with_secret();
        let rw = host.path().join("run");
        std::fs::create_dir(&rw).expect("failed to create the run dir");
        give_to(caller, &rw);
        let paths = vec![rw.join("../secret.txt"), rw.join("../../../../../../etc/hostname")];
        let base = cordon(caller).rw(&rw);
        control_reads_all_confined_none(caller, base.clone(), READ_ALL, &paths);

        let parent = vec![rw.join("..")];
        let control = base.clone().mode("off").run_py(LIST_ALL, &strings(&parent));
        assert!(value_of(&control.report(), &strings(&parent)[0]).contains("secret.txt"));
        let confined = base.run_py(LIST_ALL, &strings(&parent));
        assert!(!confined.stdout.contains("secret.txt"), "the run listed its parent\n{confined}");
    }

    /// cordon is started with its working directory in a host folder; the command opens
    /// files relative to it, which would bypass a sandbox that only hides absolute paths.
    fn reads_through_inherited_working_directory(caller) {
        let (host, _secret) = host_with_secret();
        let rw = run_dir(caller);
        let base = cordon(caller).rw(rw.path()).cwd(host.path());
        let code = "report(read=attempt(digest, 'secret.txt'), here=attempt(os.listdir, '.'),
       up=attempt(os.listdir, '..'))";

        let control = base.clone().mode("off").run_py(code, NO_ARGS);
        assert!(succeeded(&control.report(), "read"), "{control}");
        assert!(value_of(&control.report(), "here").contains("secret.txt"), "{control}");

        let confined = base.run_py(code, NO_ARGS);
        assert!(!succeeded(&confined.report(), "read"), "{confined}");
        assert!(!confined.stdout.contains("secret.txt"), "{confined}");
        let host_name = host.path().file_name().expect("named").to_string_lossy().into_owned();
        assert!(!confined.stdout.contains(&host_name), "the run listed /tmp\n{confined}");
    }

    /// The command lists `/tmp` and `/var/tmp` looking for other work on the host.
    fn lists_host_temporary_folders(caller) {
        let (host, _secret) = host_with_secret();
        let var_tmp = tempfile::Builder::new()
            .prefix("cordon-test-vartmp-")
            .tempdir_in("/var/tmp")
            .expect("failed to create a folder in /var/tmp");
        let rw = run_dir(caller);
        let base = cordon(caller).rw(rw.path());
        let markers = [host.path(), var_tmp.path()]
            .map(|p| p.file_name().expect("named").to_string_lossy().into_owned());
        let dirs = ["/tmp", "/var/tmp"];

        let control = base.clone().mode("off").run_py(LIST_ALL, &dirs);
        for marker in &markers {
            assert!(control.stdout.contains(marker.as_str()), "control: {marker}\n{control}");
        }
        let confined = base.run_py(LIST_ALL, &dirs);
        for marker in &markers {
            assert!(!confined.stdout.contains(marker.as_str()), "listed {marker}\n{confined}");
        }
    }
}

/// As root, a world-readable host file hard-linked into the run dir before the start: its
/// name is inside the grant, so Landlock alone would let the run read it. cordon refuses
/// to start the run (125) and names the file; the host file keeps its owner and mode.
#[test]
fn follows_hard_link_planted_in_run_dir_as_root() {
    let host = host_dir();
    let secret = host.path().join("secret.txt");
    write_file(&secret, SECRET, 0o644);
    let before = owner_and_mode(&secret);
    let rw = run_dir(Caller::Root);
    let link = rw.path().join("hard");
    std::fs::hard_link(&secret, &link).expect("failed to hard-link (same filesystem?)");
    let base = cordon(Caller::Root).rw(rw.path());
    let args = strings(std::slice::from_ref(&link));
    let control = base.clone().mode("off").run_py(READ_ALL, &args);
    assert!(succeeded(&control.report(), &args[0]), "{control}");

    let confined = base.run_py(READ_ALL, &args);
    confined.expect_code(125);
    assert!(!confined.mentions(SECRET), "{confined}");
    assert!(confined.stderr.contains("hard links"), "{confined}");
    assert!(
        confined.stderr.contains(&*link.to_string_lossy()),
        "{confined}"
    );
    assert_eq!(
        owner_and_mode(&secret),
        before,
        "cordon changed the linked host file"
    );
}
