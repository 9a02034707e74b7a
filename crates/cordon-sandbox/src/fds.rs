//! Inherited descriptors: a tool server's sockets, database files and pipes must not reach
//! the command.
//!
//! `close_range(2)` is called directly through `libc` because rustix does not wrap it; it is
//! one syscall with plain integer arguments.

use crate::report::LayerReport;
use std::io;

/// Closes every descriptor from `first` upward.
pub fn close_from(first: u32) -> io::Result<()> {
    // SAFETY: close_range takes plain integers and touches only this process's descriptor
    // table; the helper is single-threaded and holds no Rust-owned descriptor at or above
    // `first` that it uses afterwards.
    let rc = unsafe { libc::close_range(first, u32::MAX, 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Marks every descriptor above 2 close-on-exec, the last step before `execve`, so that
/// nothing opened by cordon itself (ruleset, pipes) survives into the command.
pub fn cloexec_above_stdio() -> io::Result<LayerReport> {
    // SAFETY: as above; CLOSE_RANGE_CLOEXEC only sets a flag, no descriptor is closed.
    let rc = unsafe { libc::close_range(3, u32::MAX, libc::CLOSE_RANGE_CLOEXEC as i32) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(LayerReport::enforced(
        "fds",
        "every descriptor above 2 is closed at exec",
    ))
}
