//! Host processes and listeners for the attacks to aim at.

use super::{as_uid, Caller, PYTHON};
use std::ffi::OsString;
use std::io::Read;
use std::net::{TcpListener, UdpSocket};
use std::os::unix::net::UnixListener;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A long-lived process of the host (a stand-in for the tool server or another tenant's
/// work), killed when dropped.
pub struct HostProcess {
    child: Child,
}

impl HostProcess {
    /// Starts a Python process that sleeps with the ids a confined run of `caller` gets
    /// (so only the sandbox, not a uid boundary, protects it), with `env` in its
    /// environment and `args` on its command line.
    pub fn start(caller: Caller, env: &[(&str, &str)], args: &[&str]) -> Self {
        let mut argv: Vec<OsString> = vec![PYTHON.into(), "-c".into()];
        argv.push("import time; print('ready', flush=True); time.sleep(300)".into());
        argv.extend(args.iter().map(OsString::from));
        let mut cmd = as_uid(caller.run_uid(), caller.run_gid(), &argv);
        cmd.env_clear()
            .envs(env.iter().copied())
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().expect("failed to start a host process");
        // Wait until the interpreter runs, so its memory map and environment are final.
        let mut ready = [0u8; 6];
        child
            .stdout
            .take()
            .expect("stdout is piped")
            .read_exact(&mut ready)
            .expect("host process did not start");
        Self { child }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// True while the process has not exited.
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// True once the process has exited, waiting up to `limit` for it.
    pub fn dies_within(&mut self, limit: Duration) -> bool {
        wait_until(limit, || !self.is_alive())
    }

    /// Start address of the first readable mapping, for attacks that read its memory.
    pub fn readable_address(&self) -> u64 {
        let maps = std::fs::read_to_string(format!("/proc/{}/maps", self.pid()))
            .expect("failed to read the host process's maps");
        let line = maps
            .lines()
            .find(|l| {
                l.split_whitespace()
                    .nth(1)
                    .is_some_and(|p| p.starts_with('r'))
            })
            .expect("no readable mapping");
        let start = line.split('-').next().expect("malformed maps line");
        u64::from_str_radix(start, 16).expect("malformed address")
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `cond` every 20 ms until it holds or `limit` passes; returns whether it held.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Host pids of every descendant of `pid`, read from `/proc/PID/task/*/children`.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut queue = vec![pid];
    while let Some(p) = queue.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
                found.push(child);
                queue.push(child);
            }
        }
    }
    found
}

/// The command line of host process `pid`, arguments joined by spaces.
pub fn cmdline(pid: u32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&raw).replace('\0', " ")
}

/// Everything that reached `listener` within `limit`: the bytes of each connection accepted.
/// Used after the run has ended, so a connection the run made is already in the backlog.
pub fn tcp_received(listener: &TcpListener, limit: Duration) -> Vec<Vec<u8>> {
    listener
        .set_nonblocking(true)
        .expect("nonblocking listener");
    let mut got = Vec::new();
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        match listener.accept() {
            Ok((mut stream, _)) => {
                stream.set_nonblocking(false).expect("blocking stream");
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .expect("timeout");
                let mut data = Vec::new();
                let _ = stream.read_to_end(&mut data);
                got.push(data);
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    got
}

/// Every datagram that reached `socket` within `limit`.
pub fn udp_received(socket: &UdpSocket, limit: Duration) -> Vec<Vec<u8>> {
    socket.set_nonblocking(true).expect("nonblocking socket");
    let mut got = Vec::new();
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 2048];
    while Instant::now() < deadline {
        match socket.recv(&mut buf) {
            Ok(n) => got.push(buf[..n].to_vec()),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    got
}

/// Every connection (and its bytes) that reached a unix `listener` within `limit`.
pub fn unix_received(listener: &UnixListener, limit: Duration) -> Vec<Vec<u8>> {
    listener
        .set_nonblocking(true)
        .expect("nonblocking listener");
    let mut got = Vec::new();
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        match listener.accept() {
            Ok((mut stream, _)) => {
                stream.set_nonblocking(false).expect("blocking stream");
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .expect("timeout");
                let mut data = Vec::new();
                let _ = stream.read_to_end(&mut data);
                got.push(data);
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    got
}

/// True when any received payload contains `marker`.
pub fn any_contains(payloads: &[Vec<u8>], marker: &str) -> bool {
    payloads
        .iter()
        .any(|p| String::from_utf8_lossy(p).contains(marker))
}
