//! The audit log: `state_dir/audit.log`, one JSON line per event, append-only.
//!
//! The file is opened with `O_APPEND` and never truncated, rewritten or rotated by cordon;
//! each event is one `write` of one whole line, so concurrent events never interleave.
//! Lines are not fsynced one by one (the submit path must stay fast): a power loss can
//! drop the last lines, a crash of the service cannot.

use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Mutex;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Submit,
    Start,
    End,
    Cancel,
    Refused,
}

/// One line of the audit log.
#[derive(Debug, Clone, Serialize)]
pub struct Entry<'a> {
    pub time: String,
    pub event: Event,
    pub tenant: Option<&'a str>,
    pub run_id: Option<&'a str>,
    /// Hex SHA-256 of the argv as JSON (the command itself is not logged).
    pub argv_sha256: Option<String>,
    pub tier: Option<&'a str>,
    pub outcome: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'a str>,
}

/// The hex SHA-256 of an argv (as its JSON array).
pub fn argv_digest(argv: &[String]) -> String {
    let json = serde_json::to_vec(argv).unwrap_or_default();
    hex::encode(Sha256::digest(&json))
}

/// The open audit log.
pub struct AuditLog {
    file: Mutex<File>,
}

impl AuditLog {
    /// Opens (creating, mode 0600) the log for appending.
    pub fn open(path: &Path) -> std::io::Result<AuditLog> {
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)?;
        Ok(AuditLog {
            file: Mutex::new(file),
        })
    }

    /// Appends one event. A failure is logged, never returned: the event happened.
    pub fn write(&self, entry: &Entry<'_>) {
        let mut line = match serde_json::to_vec(entry) {
            Ok(line) => line,
            Err(e) => {
                tracing::error!(error = %e, "failed to encode an audit entry");
                return;
            }
        };
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = file.write_all(&line) {
            tracing::error!(error = %e, "failed to append to the audit log");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_appended_as_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        std::fs::write(&path, "earlier\n").unwrap();
        let log = AuditLog::open(&path).unwrap();
        let argv = vec!["/bin/true".to_string()];
        for event in [Event::Submit, Event::End] {
            log.write(&Entry {
                time: "t".into(),
                event,
                tenant: Some("alice"),
                run_id: Some("r1"),
                argv_sha256: Some(argv_digest(&argv)),
                tier: None,
                outcome: "ok",
                detail: None,
            });
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "earlier", "the log is never rewritten");
        let second: serde_json::Value = serde_json::from_str(lines[2]).unwrap();
        assert_eq!(second["event"], "end");
        assert_eq!(second["argv_sha256"].as_str().unwrap().len(), 64);
    }
}
