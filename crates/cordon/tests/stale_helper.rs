//! A `cordon-stage2` from another build beside `cordon` (left over from an earlier build,
//! or half of an upgrade) must not apply a spec it may not fully understand: it hands
//! the run to `cordon` itself, and without that fallback it refuses with a message.
//!
//! The stale helper is the real one with its build identity rewritten in the binary, so
//! it differs from the supervisor exactly as an older build would.

use cordon_sandbox::spec::BUILD_ID;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `cordon` and a stale `cordon-stage2` side by side in a fresh folder.
fn with_stale_helper() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let cordon = dir.path().join("cordon");
    std::fs::copy(env!("CARGO_BIN_EXE_cordon"), &cordon).unwrap();
    let mut helper = std::fs::read(env!("CARGO_BIN_EXE_cordon-stage2")).unwrap();
    let id = BUILD_ID.as_bytes();
    let other: Vec<u8> = id
        .iter()
        .map(|b| if *b == b'0' { b'1' } else { b'0' })
        .collect();
    let mut replaced = 0;
    let mut i = 0;
    while i + id.len() <= helper.len() {
        if &helper[i..i + id.len()] == id {
            helper[i..i + id.len()].copy_from_slice(&other);
            replaced += 1;
            i += id.len();
        } else {
            i += 1;
        }
    }
    assert!(replaced > 0, "the helper does not carry its build identity");
    let stale = dir.path().join("cordon-stage2");
    std::fs::write(&stale, helper).unwrap();
    for bin in [&cordon, &stale] {
        std::fs::set_permissions(bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    (dir, cordon, stale)
}

/// The run still works, confined: the stale helper hands it to `cordon __stage2`.
#[test]
fn a_stale_helper_hands_the_run_to_cordon_itself() {
    let (_dir, cordon, _stale) = with_stale_helper();
    let out = Command::new(&cordon)
        .args(["run", "--mode", "strict", "--", "/bin/sh", "-c"])
        .arg("echo confined; cat /proc/1/cmdline | tr '\\0' ' '")
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.starts_with("confined\n"), "{stdout}\n{stderr}");
    // pid 1 of the run's namespace is cordon's own binary acting as the helper, not the
    // stale one.
    assert!(
        stdout.contains(&format!("{} __stage2", cordon.display())),
        "{stdout}"
    );
}

/// With nothing to fall back to, the stale helper refuses before reading the spec and says
/// why on the status channel, with the setup exit code.
#[test]
fn a_stale_helper_without_fallback_refuses_the_run() {
    let (_dir, _cordon, stale) = with_stale_helper();
    // No spec will come: a helper that reads it anyway meets end-of-file.
    let (spec_r, spec_w) = rustix::pipe::pipe().unwrap();
    drop(spec_w);
    let (mut status_r, status_w) = std::os::unix::net::UnixStream::pair().unwrap();
    let (a, b) = (
        rustix::fd::AsRawFd::as_raw_fd(&spec_r),
        std::os::fd::AsRawFd::as_raw_fd(&status_w),
    );
    let mut cmd = Command::new(&stale);
    cmd.args(["__stage2", BUILD_ID, "-"]).env_clear();
    // SAFETY: between fork and exec the closure only calls dup2, which is
    // async-signal-safe, on descriptors this child owns.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(a, 3) < 0 || libc::dup2(b, 4) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let status = cmd.status().unwrap();
    drop(status_w);
    let mut said = String::new();
    status_r.read_to_string(&mut said).unwrap();
    assert_eq!(status.code(), Some(125), "{said}");
    assert!(said.contains("built from other sources"), "{said}");
    assert!(said.contains(&*stale.to_string_lossy()), "{said}");
    assert!(Path::new(&stale).exists());
}
