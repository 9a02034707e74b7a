//! What a run leaves: its two bounded logs and the tree under its work directory.
//!
//! Logs live in the run directory beside `work/`, written only by the runner, so the
//! command cannot change them. Artifacts are read the way request paths always are:
//! beneath the work directory's descriptor, following no symbolic link, regular files
//! only, a bounded part per call.

use crate::api::{Artifact, ArtifactContent, ArtifactQuery, LogChunk, LogQuery, RunnerError};
use crate::paths::{self, PathProblem};
use base64::Engine;
use rustix::fd::{AsFd, BorrowedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Most lines a tail may ask for.
pub const MAX_TAIL_LINES: u32 = 100_000;
/// Most entries an artifact listing returns (the rest is left out).
pub const MAX_LISTED: usize = 10_000;

fn internal(what: &str, path: &Path, e: impl std::fmt::Display) -> RunnerError {
    RunnerError::Internal(format!("failed to {what} {}: {e}", path.display()))
}

/// Reads part of a log. `total` is what the command wrote to the stream.
pub fn read_log(
    run_dir: &Path,
    q: &LogQuery,
    total: u64,
    max_read: u64,
) -> Result<LogChunk, RunnerError> {
    let path = run_dir.join(q.stream.file_name());
    let file = match std::fs::File::open(&path) {
        Ok(f) => Some(f),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(internal("open", &path, e)),
    };
    let kept = match &file {
        Some(f) => f.metadata().map_err(|e| internal("stat", &path, e))?.len(),
        None => 0,
    };
    let (offset, bytes) = match (q.tail_lines, q.offset, q.length) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            let reason = "give either tail_lines or offset and length, not both";
            return Err(RunnerError::invalid("tail_lines", reason));
        }
        (Some(n), None, None) => tail(file.as_ref(), kept, n, max_read, &path)?,
        (None, offset, length) => {
            let length = bounded_length("length", length, max_read)?;
            let offset = offset.unwrap_or(0).min(kept);
            (offset, read_at(file.as_ref(), offset, length, &path)?)
        }
    };
    let end = offset + bytes.len() as u64;
    Ok(LogChunk {
        stream: q.stream,
        offset,
        text: String::from_utf8_lossy(&bytes).into_owned(),
        kept_bytes: kept,
        total_bytes: total.max(kept),
        truncated: total > kept,
        eof: end >= kept,
    })
}

fn bounded_length(field: &str, asked: Option<u64>, max: u64) -> Result<u64, RunnerError> {
    match asked {
        Some(n) if n > max => Err(RunnerError::TooLarge {
            what: field.to_owned(),
            limit: max,
        }),
        Some(n) => Ok(n),
        None => Ok(max),
    }
}

fn read_at(
    file: Option<&std::fs::File>,
    offset: u64,
    length: u64,
    path: &Path,
) -> Result<Vec<u8>, RunnerError> {
    let Some(file) = file else {
        return Ok(Vec::new());
    };
    let mut buf = vec![0u8; usize::try_from(length).unwrap_or(usize::MAX)];
    let mut filled = 0;
    while filled < buf.len() {
        let at = offset + filled as u64;
        match file.read_at(&mut buf[filled..], at) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(internal("read", path, e)),
        }
    }
    buf.truncate(filled);
    Ok(buf)
}

/// The last `lines` lines within the last `max_read` bytes.
fn tail(
    file: Option<&std::fs::File>,
    kept: u64,
    lines: u32,
    max_read: u64,
    path: &Path,
) -> Result<(u64, Vec<u8>), RunnerError> {
    if lines > MAX_TAIL_LINES {
        let reason = format!("at most {MAX_TAIL_LINES}");
        return Err(RunnerError::invalid("tail_lines", reason));
    }
    let window = kept.min(max_read);
    let start = kept - window;
    let bytes = read_at(file, start, window, path)?;
    let cut = tail_start(&bytes, lines as usize);
    Ok((start + cut as u64, bytes[cut..].to_vec()))
}

/// Where the last `lines` lines of `bytes` begin (a final newline ends the last line).
fn tail_start(bytes: &[u8], lines: usize) -> usize {
    if lines == 0 {
        return bytes.len();
    }
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let mut seen = 0;
    for (i, b) in body.iter().enumerate().rev() {
        if *b == b'\n' {
            seen += 1;
            if seen == lines {
                return i + 1;
            }
        }
    }
    0
}

/// Lists the tree under `work` (at most [`MAX_LISTED`] entries), parents first.
pub fn list(work: &Path) -> Result<Vec<Artifact>, RunnerError> {
    let root = paths::open_root(work).map_err(|e| internal("open", work, e))?;
    let mut out = Vec::new();
    list_dir(root.as_fd(), Path::new(""), 0, &mut out).map_err(|e| internal("list", work, e))?;
    Ok(out)
}

fn list_dir(
    dir: BorrowedFd<'_>,
    prefix: &Path,
    depth: usize,
    out: &mut Vec<Artifact>,
) -> Result<(), PathProblem> {
    let entries = rustix::fs::Dir::read_from(dir).map_err(|e| paths::problem(prefix, e))?;
    let mut names: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| paths::problem(prefix, e))?;
        let bytes = entry.file_name().to_bytes();
        if bytes != b"." && bytes != b".." {
            names.push(PathBuf::from(OsStr::from_bytes(bytes)));
        }
    }
    names.sort();
    for name in names {
        if out.len() >= MAX_LISTED {
            return Ok(());
        }
        let rel = prefix.join(&name);
        let Ok(st) = rustix::fs::statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW) else {
            continue; // removed while listing
        };
        let kind = FileType::from_raw_mode(st.st_mode);
        let (kind_name, size) = match kind {
            FileType::RegularFile => ("file", u64::try_from(st.st_size).unwrap_or(0)),
            FileType::Directory => ("dir", 0),
            FileType::Symlink => ("symlink", 0),
            _ => ("other", 0),
        };
        out.push(Artifact {
            path: rel.display().to_string(),
            size,
            kind: kind_name.into(),
        });
        if kind == FileType::Directory && depth < paths::MAX_COMPONENTS {
            if let Ok(sub) = paths::open_dir_beneath(dir, &name) {
                list_dir(sub.as_fd(), &rel, depth + 1, out)?;
            }
        }
    }
    Ok(())
}

/// Reads part of one artifact: a regular file beneath `work`, opened following no link.
pub fn read_artifact(
    work: &Path,
    q: &ArtifactQuery,
    max_read: u64,
) -> Result<ArtifactContent, RunnerError> {
    let bad = |e: PathProblem| RunnerError::invalid("path", e.to_string());
    let rel = paths::relative(&q.path).map_err(bad)?;
    let root = paths::open_root(work).map_err(|e| internal("open", work, e))?;
    let fd = paths::open_beneath(
        &root,
        &rel,
        OFlags::RDONLY | OFlags::NONBLOCK,
        Mode::empty(),
    )
    .map_err(bad)?;
    let st = rustix::fs::fstat(&fd).map_err(|e| bad(paths::problem(&rel, e)))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(bad(PathProblem::NotRegular(rel.display().to_string())));
    }
    let size = u64::try_from(st.st_size).unwrap_or(0);
    let length = bounded_length("length", q.length, max_read)?;
    let offset = q.offset.unwrap_or(0).min(size);
    let file = std::fs::File::from(fd);
    let bytes = read_at(Some(&file), offset, length, &rel)?;
    let eof = offset + bytes.len() as u64 >= size;
    let (text, base64) = match String::from_utf8(bytes) {
        Ok(text) => (Some(text), None),
        Err(e) => {
            let b64 = base64::engine::general_purpose::STANDARD.encode(e.into_bytes());
            (None, Some(b64))
        }
    };
    Ok(ArtifactContent {
        path: rel.display().to_string(),
        size,
        offset,
        text,
        base64,
        eof,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_finds_the_last_lines() {
        assert_eq!(tail_start(b"a\nb\nc\n", 2), 2);
        assert_eq!(tail_start(b"a\nb\nc", 2), 2);
        assert_eq!(tail_start(b"a\nb\nc\n", 10), 0);
        assert_eq!(tail_start(b"abc", 0), 3);
    }
}
