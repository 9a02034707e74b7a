//! Session and parent death: no controlling terminal to inject keystrokes into, and no way
//! to outlive the process that started the run.

use crate::report::LayerReport;
use rustix::process::{getppid, set_parent_process_death_signal, setsid, Pid, Signal};
use std::io;

/// Asks the kernel to SIGKILL this process when its parent exits, and closes the race
/// where the parent already died before the request.
///
/// Must be called after any uid/gid change: the kernel clears the setting when
/// credentials change.
pub fn die_with_parent(expected_parent: Option<Pid>) -> io::Result<()> {
    set_parent_process_death_signal(Some(Signal::KILL))?;
    if let Some(expected) = expected_parent {
        if getppid() != Some(expected) {
            return Err(io::Error::other("the parent exited before the run started"));
        }
    }
    Ok(())
}

/// Starts a new session: the command has no controlling terminal, so `TIOCSTI` and
/// `TIOCLINUX` have no terminal of the caller to act on.
pub fn new_session() -> io::Result<LayerReport> {
    setsid()?;
    Ok(LayerReport::enforced(
        "session",
        "new session without a controlling terminal; SIGKILL when the parent dies",
    ))
}

const TERMINATION: [i32; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

/// cordon's own helpers (the waiter and the namespace's init) ignore termination
/// requests, so a SIGTERM sent to every process of the run reaches the command and its
/// children while the helpers stay to collect the exit status.
pub fn ignore_termination() {
    for sig in TERMINATION {
        // SAFETY: installing SIG_IGN involves no handler code; the process is
        // single-threaded.
        unsafe { libc::signal(sig, libc::SIG_IGN) };
    }
}

/// Restores the default dispositions before exec (ignored signals survive `execve`).
pub fn restore_termination() {
    for sig in TERMINATION {
        // SAFETY: as above, SIG_DFL runs no handler code.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
}
