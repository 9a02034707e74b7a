//! Starting the stage-2 helper with `posix_spawn`, descriptors placed by number.
//!
//! std's `Command` places only the three standard streams. Putting the spec pipe and the
//! status socket on descriptors 3 and 4 as well needs a `pre_exec` hook, and with one std
//! forks the whole caller: in the service, a large multi-threaded process, every run then
//! copies the service's page tables, write-protects its memory for copy-on-write, and
//! tears the copy down again at exec, about a third of the service's CPU per run. glibc's
//! `posix_spawn` starts the child with `CLONE_VM | CLONE_VFORK` (nothing is copied) and
//! applies the descriptor moves itself. Neither std, rustix nor the libc crate wraps it
//! safely, hence the foreign calls here; each carries its reason.
//!
//! The child starts with an empty signal mask, every catchable signal at its default
//! action (so an ignored SIGPIPE of the caller does not leak into the run) and an empty
//! environment.

use rustix::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use rustix::process::Pid;
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Lowest descriptor the sources are copied to before the moves, above every target, so
/// that no move overwrites the source of a later one.
const SCRATCH_FLOOR: RawFd = 10;

/// Starts `path` with `args` (`argv[1..]`), an empty environment, and each `(source,
/// target)` of `moves` placed on `target` without close-on-exec. Every other descriptor
/// the child inherits is the caller's own without close-on-exec (stdio, usually).
pub fn spawn(path: &Path, args: &[&str], moves: &[(BorrowedFd<'_>, RawFd)]) -> io::Result<Pid> {
    if moves.iter().any(|&(_, t)| !(0..SCRATCH_FLOOR).contains(&t)) {
        return Err(io::Error::other("descriptor target out of range"));
    }
    let nul = |e: std::ffi::NulError| io::Error::new(io::ErrorKind::InvalidInput, e);
    let program = CString::new(path.as_os_str().as_bytes()).map_err(nul)?;
    let mut argv_owned = vec![program.clone()];
    for a in args {
        argv_owned.push(CString::new(*a).map_err(nul)?);
    }
    let mut argv: Vec<*mut libc::c_char> =
        argv_owned.iter().map(|a| a.as_ptr().cast_mut()).collect();
    argv.push(std::ptr::null_mut());
    let envp: [*mut libc::c_char; 1] = [std::ptr::null_mut()];
    // Copies above every target, close-on-exec in the caller (another thread's spawn
    // must not inherit them); the moves give the child its own copies without the flag.
    let scratch: Vec<(OwnedFd, RawFd)> = moves
        .iter()
        .map(|&(src, target)| {
            rustix::io::fcntl_dupfd_cloexec(src, SCRATCH_FLOOR).map(|fd| (fd, target))
        })
        .collect::<Result<_, _>>()?;
    let mut actions = FileActions::new()?;
    for (fd, target) in &scratch {
        actions.dup2(fd.as_raw_fd(), *target)?;
    }
    let attr = Attr::new()?;
    let mut pid: libc::pid_t = 0;
    // SAFETY: every pointer is valid for the call: `program` and `argv_owned` outlive it,
    // `argv` and `envp` are null-terminated arrays of NUL-terminated strings, and both
    // objects were initialised by their `init` calls. glibc reports a failed exec of the
    // child here (it waits for the child with CLONE_VFORK).
    let rc = unsafe {
        libc::posix_spawn(
            &mut pid,
            program.as_ptr(),
            &actions.0,
            &attr.0,
            argv.as_ptr(),
            envp.as_ptr(),
        )
    };
    drop(scratch);
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Pid::from_raw(pid).ok_or_else(|| io::Error::other("posix_spawn returned no pid"))
}

/// A `posix_spawn_file_actions_t`, destroyed on drop.
struct FileActions(libc::posix_spawn_file_actions_t);

impl FileActions {
    fn new() -> io::Result<Self> {
        // SAFETY: the type is plain data that `init` fully initialises before any use.
        let mut raw: libc::posix_spawn_file_actions_t = unsafe { std::mem::zeroed() };
        // SAFETY: `raw` is a valid, writable object of the right type.
        check(unsafe { libc::posix_spawn_file_actions_init(&mut raw) })?;
        Ok(FileActions(raw))
    }

    fn dup2(&mut self, from: RawFd, to: RawFd) -> io::Result<()> {
        // SAFETY: the object was initialised by `new`; glibc only appends to its list.
        check(unsafe { libc::posix_spawn_file_actions_adddup2(&mut self.0, from, to) })
    }
}

impl Drop for FileActions {
    fn drop(&mut self) {
        // SAFETY: initialised by `new` and destroyed only here.
        unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
    }
}

/// A `posix_spawnattr_t` that empties the signal mask and resets every catchable signal
/// to its default action; destroyed on drop.
struct Attr(libc::posix_spawnattr_t);

impl Attr {
    fn new() -> io::Result<Self> {
        // SAFETY: the types are plain data that the `init`/`empty` calls fully initialise.
        let mut raw: libc::posix_spawnattr_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut none: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut defaults: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: every pointer is to a valid, writable object of the right type; the
        // signal numbers are the standard ones (1 to 31).
        unsafe {
            check(libc::posix_spawnattr_init(&mut raw))?;
            let mut attr = Attr(raw);
            let raw = std::ptr::addr_of_mut!(attr.0);
            libc::sigemptyset(&mut none);
            libc::sigemptyset(&mut defaults);
            for sig in 1..32 {
                if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                    libc::sigaddset(&mut defaults, sig);
                }
            }
            check(libc::posix_spawnattr_setsigmask(raw, &none))?;
            check(libc::posix_spawnattr_setsigdefault(raw, &defaults))?;
            let flags =
                libc::c_short::try_from(libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF)
                    .map_err(io::Error::other)?;
            check(libc::posix_spawnattr_setflags(raw, flags))?;
            Ok(attr)
        }
    }
}

impl Drop for Attr {
    fn drop(&mut self) {
        // SAFETY: initialised by `new` and destroyed only here.
        unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
    }
}

/// posix_spawn's functions return the error number instead of setting errno.
fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::fd::AsFd;
    use std::io::Read;

    fn wait(pid: Pid) -> i32 {
        let mut status = 0;
        // SAFETY: `status` is valid for the call.
        let rc = unsafe { libc::waitpid(pid.as_raw_nonzero().get(), &mut status, 0) };
        assert_eq!(rc, pid.as_raw_nonzero().get());
        status
    }

    /// The moved descriptors arrive on their numbers, without close-on-exec, whatever
    /// numbers their sources had; nothing of the caller's environment passes.
    #[test]
    fn places_descriptors_by_number_and_passes_no_environment() {
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        let (r2, w2) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        let script = "echo one >&3; env | wc -l >&4";
        let moves = [(w.as_fd(), 4), (w2.as_fd(), 3)];
        let pid = spawn(Path::new("/bin/sh"), &["-c", script], &moves).unwrap();
        drop((w, w2));
        assert_eq!(wait(pid), 0);
        let mut on4 = String::new();
        std::fs::File::from(r).read_to_string(&mut on4).unwrap();
        let mut on3 = String::new();
        std::fs::File::from(r2).read_to_string(&mut on3).unwrap();
        assert_eq!(on3.trim(), "one");
        // sh sets PWD (and maybe SHLVL, _) itself; none of the test's variables arrive.
        assert!(on4.trim().parse::<u32>().unwrap() <= 3, "{on4}");
    }

    /// An ignored signal of the caller is back at its default in the child.
    #[test]
    fn resets_ignored_signals() {
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        // SAFETY: setting SIGPIPE to ignored is what Rust's runtime does at start anyway.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        let moves = [(w.as_fd(), 3)];
        let script = "grep SigIgn /proc/self/status >&3";
        let pid = spawn(Path::new("/bin/sh"), &["-c", script], &moves).unwrap();
        drop(w);
        assert_eq!(wait(pid), 0);
        let mut out = String::new();
        std::fs::File::from(r).read_to_string(&mut out).unwrap();
        let mask = u64::from_str_radix(out.split_whitespace().nth(1).unwrap(), 16).unwrap();
        assert_eq!(mask & (1 << (libc::SIGPIPE - 1)), 0, "{out}");
    }

    #[test]
    fn a_missing_program_is_an_error_not_a_child() {
        let e = spawn(Path::new("/nonexistent/cordon-helper"), &[], &[]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }
}
