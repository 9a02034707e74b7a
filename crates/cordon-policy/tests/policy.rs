//! Building one validated policy from a file and flags, and `policy check`'s diagnostics.

use cordon_policy::{build, check_file, load_file, Flags, Mode, Net, PolicyError};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn from_file(dir: &Path, text: &str) -> Result<cordon_policy::Policy, PolicyError> {
    let path = write(dir, "policy.toml", text);
    let file = load_file(&path)?;
    build(Some((path, file)), Flags::default(), dir)
}

#[test]
fn a_full_policy_file_builds() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    std::fs::create_dir(dir.path().join("out")).unwrap();
    let policy = from_file(
        dir.path(),
        r#"
mode = "strict"
net = "deny"
tenant = "alice"
ro = ["data"]
rw = ["out"]
env = ["A=1", "B"]
namespaces = true
[limits]
timeout = "10m"
memory = "512MiB"
pids = 64
"#,
    )
    .unwrap();
    assert_eq!(policy.mode, Mode::Strict);
    assert_eq!(policy.net, Net::Deny);
    assert_eq!(policy.tenant.as_deref(), Some("alice"));
    let canonical = dir.path().canonicalize().unwrap();
    assert_eq!(policy.ro, vec![canonical.join("data")]);
    assert_eq!(policy.rw, vec![canonical.join("out")]);
    assert_eq!(policy.limits.timeout, Some(Duration::from_secs(600)));
    assert_eq!(policy.limits.memory, Some(512 << 20));
    assert_eq!(policy.limits.pids, Some(64));
    // Strict mode fills what the file left unset with its documented defaults.
    assert_eq!(policy.limits.file_size, Some(1 << 30));
    assert!(policy.namespaces);
}

#[test]
fn flags_add_to_the_file_and_replace_its_scalars() {
    let dir = tempfile::tempdir().unwrap();
    for d in ["a", "b"] {
        std::fs::create_dir(dir.path().join(d)).unwrap();
    }
    let path = write(dir.path(), "p.toml", "mode = \"strict\"\nro = [\"a\"]\n");
    let flags = Flags {
        mode: Some(Mode::Auto),
        ro: vec![dir.path().join("b")],
        timeout: Some("5s".into()),
        ..Flags::default()
    };
    let policy = build(
        Some((path.clone(), load_file(&path).unwrap())),
        flags,
        dir.path(),
    )
    .unwrap();
    assert_eq!(policy.mode, Mode::Auto);
    assert_eq!(policy.ro.len(), 2);
    assert_eq!(policy.limits.timeout, Some(Duration::from_secs(5)));
    // Auto mode sets no limit the user did not ask for.
    assert_eq!(policy.limits.memory, None);
}

#[test]
fn unknown_mode_is_an_error_not_a_downgrade() {
    let dir = tempfile::tempdir().unwrap();
    let err = from_file(dir.path(), "mode = \"permissive\"\n").unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("permissive") && text.contains("mode"),
        "{text}"
    );
    assert!(text.contains(":1:"), "no line in {text}");
}

#[test]
fn unknown_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = from_file(dir.path(), "[limits]\nmemroy = \"1GiB\"\n").unwrap_err();
    assert!(err.to_string().contains("memroy"), "{err}");
}

#[test]
fn missing_grant_is_an_error_not_a_skip() {
    let dir = tempfile::tempdir().unwrap();
    let err = from_file(dir.path(), "ro = [\"does-not-exist\"]\n").unwrap_err();
    assert!(err.to_string().contains("does-not-exist"), "{err}");
}

#[test]
fn parent_components_and_nul_bytes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("a")).unwrap();
    let err = from_file(dir.path(), "ro = [\"a/../a\"]\n").unwrap_err();
    assert!(err.to_string().contains(".."), "{err}");
    let flags = Flags {
        ro: vec![PathBuf::from("a\0b")],
        ..Flags::default()
    };
    let err = build(None, flags, dir.path()).unwrap_err();
    assert!(err.to_string().to_lowercase().contains("nul"), "{err}");
}

#[test]
fn read_write_on_system_roots_and_homes_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for root in [
        "/",
        "/usr",
        "/etc",
        "/tmp",
        "/usr/local",
        "/root",
        "/home",
        "/var/log",
        "/var/lib",
        "/var/cache",
    ] {
        let flags = Flags {
            rw: vec![PathBuf::from(root)],
            ..Flags::default()
        };
        let err = build(None, flags, dir.path()).unwrap_err();
        assert!(
            matches!(err, PolicyError::RwRefused { .. }),
            "{root}: {err}"
        );
    }
}

#[test]
fn a_symlink_to_a_system_root_is_refused_as_its_target() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/usr", dir.path().join("work")).unwrap();
    let flags = Flags {
        rw: vec![dir.path().join("work")],
        ..Flags::default()
    };
    let err = build(None, flags, dir.path()).unwrap_err().to_string();
    assert!(err.contains("/usr"), "{err}");
}

#[test]
fn a_read_only_grant_inside_a_read_write_one_is_a_contradiction() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("run/shared")).unwrap();
    let flags = Flags {
        rw: vec![dir.path().join("run")],
        ro: vec![dir.path().join("run/shared")],
        ..Flags::default()
    };
    assert!(build(None, flags, dir.path()).is_err());
}

#[test]
fn check_reports_every_problem_with_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "bad.toml",
        "mode = \"strict\"\nnet = \"maybe\"\nbogus = 1\n[limits]\nmemory = \"-1GiB\"\npids = 0\n",
    );
    let diags = check_file(&path).unwrap_err();
    let find = |key: &str| {
        diags
            .iter()
            .find(|d| d.key == key)
            .unwrap_or_else(|| panic!("no diagnostic for {key}: {diags:?}"))
    };
    assert_eq!(find("net").line, 2);
    assert_eq!(find("limits.memory").line, 5);
    assert_eq!(find("limits.pids").line, 6);
    assert!(diags
        .iter()
        .any(|d| d.line == 3 && d.message.contains("bogus")));
    let shown = find("limits.memory").to_string();
    assert!(shown.contains("bad.toml:5:"), "{shown}");
}

#[test]
fn check_accepts_a_valid_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "ok.toml",
        "mode = \"auto\"\nnamespaces = false\n",
    );
    let policy = check_file(&path).unwrap();
    assert!(!policy.namespaces);
}

#[test]
fn oversized_policy_files_are_refused_before_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let big = "# padding\n".repeat(200_000);
    let path = write(dir.path(), "big.toml", &big);
    let err = load_file(&path).unwrap_err();
    assert!(matches!(err, PolicyError::FileTooLarge { .. }), "{err}");
}

#[test]
fn the_default_system_roots_grant_no_private_trees() {
    let roots = cordon_policy::system_roots();
    for grant in &roots {
        assert!(
            !grant.reason.is_empty(),
            "{} has no reason",
            grant.path.display()
        );
        for private in [
            "/", "/etc", "/home", "/root", "/run", "/tmp", "/var", "/proc",
        ] {
            assert_ne!(
                grant.path,
                Path::new(private),
                "{private} is granted by default"
            );
        }
    }
    assert!(roots.iter().any(|g| g.path == Path::new("/usr")));
}

#[test]
fn read_write_through_a_symlink_of_another_user_is_refused() {
    use std::os::unix::fs::lchown;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("target")).unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(dir.path().join("target"), &link).unwrap();
    let flags = || Flags {
        rw: vec![link.clone()],
        ..Flags::default()
    };
    // The caller's own link is fine.
    build(None, flags(), dir.path()).unwrap();
    // A link owned by someone else (as a run uid would own one it planted) is not.
    if lchown(&link, Some(200_123), Some(200_123)).is_ok() {
        let err = build(None, flags(), dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("symbolic link") && err.contains("200123"),
            "{err}"
        );
    }
}
