//! Inputs of a run: inline files and copies, written into the run's work directory
//! before the run is queued.
//!
//! Everything is done through descriptors: the destination's directories are created and
//! opened one component at a time beneath the work directory, sources are opened with
//! `openat2` beneath their root, and a copied tree is walked entry by entry relative to
//! its parent's descriptor. Symbolic links and special files are refused (naming the
//! path); the total size and number of entries are capped. A run only ever gets a copy,
//! so it can never change shared content.

use crate::api::{Input, RunnerError};
use crate::paths::{self, PathProblem};
use base64::Engine;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{FileType, Mode, OFlags};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The root name that means the tenant's own earlier runs.
pub const RUNS_ROOT: &str = "runs";
/// Most inputs of one request.
pub const MAX_INPUTS: usize = 256;

/// Where copies may come from.
pub struct Roots<'a> {
    /// `<run_root>/<tenant>`: the tenant's runs, each with its `work/`.
    pub tenant_runs: &'a Path,
    /// The configured shared read-only roots.
    pub shared: &'a BTreeMap<String, PathBuf>,
}

/// Size bounds of a run's inputs.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    pub inline_bytes: u64,
    pub copy_bytes: u64,
    pub copy_files: u64,
}

/// Writes every input into the work directory `work`.
pub fn write_all(
    work: BorrowedFd<'_>,
    inputs: &[Input],
    roots: &Roots<'_>,
    caps: Caps,
) -> Result<(), RunnerError> {
    if inputs.len() > MAX_INPUTS {
        let reason = format!("more than {MAX_INPUTS} inputs");
        return Err(RunnerError::invalid("inputs", reason));
    }
    let mut budget = Budget {
        bytes: caps.copy_bytes,
        files: caps.copy_files,
        caps,
    };
    for (i, input) in inputs.iter().enumerate() {
        let field = |k: &str| format!("inputs[{i}].{k}");
        match input {
            Input::Inline {
                path,
                content,
                content_base64,
                executable,
            } => {
                let bytes = inline_bytes(&field, content, content_base64, caps)?;
                write_inline(work, path, &bytes, *executable).map_err(|e| bad(field("path"), e))?;
            }
            Input::Copy { root, path, to } => {
                copy(work, root, path, to.as_deref(), roots, &mut budget, &field)?;
            }
        }
    }
    Ok(())
}

fn bad(field: String, e: PathProblem) -> RunnerError {
    RunnerError::invalid(field, e.to_string())
}

fn inline_bytes(
    field: &dyn Fn(&str) -> String,
    content: &Option<String>,
    content_base64: &Option<String>,
    caps: Caps,
) -> Result<Vec<u8>, RunnerError> {
    let bytes = match (content, content_base64) {
        (Some(text), None) => text.as_bytes().to_vec(),
        (None, Some(b64)) => {
            // Base64 is 4/3 of the data: refuse before decoding something huge.
            if b64.len() as u64 / 4 * 3 > caps.inline_bytes + 3 {
                return Err(too_large(field("content_base64"), caps.inline_bytes));
            }
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| RunnerError::invalid(field("content_base64"), e.to_string()))?
        }
        _ => {
            let reason = "exactly one of content and content_base64 is needed";
            return Err(RunnerError::invalid(field("content"), reason));
        }
    };
    if bytes.len() as u64 > caps.inline_bytes {
        return Err(too_large(field("content"), caps.inline_bytes));
    }
    Ok(bytes)
}

fn too_large(what: String, limit: u64) -> RunnerError {
    RunnerError::TooLarge { what, limit }
}

fn write_inline(
    work: BorrowedFd<'_>,
    path: &str,
    bytes: &[u8],
    executable: bool,
) -> Result<(), PathProblem> {
    let rel = paths::relative(path)?;
    let (parent, name) = paths::split(&rel);
    let dir = paths::make_dirs(work, parent)?;
    let mode = Mode::from_raw_mode(if executable { 0o755 } else { 0o644 });
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL;
    let fd = paths::open_beneath(&dir, name, flags, mode).map_err(|e| rename(e, &rel))?;
    std::fs::File::from(fd)
        .write_all(bytes)
        .map_err(|e| PathProblem::Io(rel.display().to_string(), e.to_string()))
}

/// Names the whole request path in a problem found at one of its components.
fn rename(e: PathProblem, rel: &Path) -> PathProblem {
    let p = rel.display().to_string();
    match e {
        PathProblem::Symlink(_) => PathProblem::Symlink(p),
        PathProblem::Escapes(_) => PathProblem::Escapes(p),
        PathProblem::Missing(_) => PathProblem::Missing(p),
        PathProblem::Exists(_) => PathProblem::Exists(p),
        PathProblem::NotDir(_) => PathProblem::NotDir(p),
        other => other,
    }
}

/// What the copies of one run may still bring in.
struct Budget {
    bytes: u64,
    files: u64,
    caps: Caps,
}

impl Budget {
    fn take_file(&mut self) -> Result<(), RunnerError> {
        if self.files == 0 {
            return Err(too_large(
                "copy inputs (files and directories)".into(),
                self.caps.copy_files,
            ));
        }
        self.files -= 1;
        Ok(())
    }
}

/// Copies one source (file or tree) into the work directory.
fn copy(
    work: BorrowedFd<'_>,
    root: &str,
    path: &str,
    to: Option<&str>,
    roots: &Roots<'_>,
    budget: &mut Budget,
    field: &dyn Fn(&str) -> String,
) -> Result<(), RunnerError> {
    let rel = paths::relative(path).map_err(|e| bad(field("path"), e))?;
    let (root_fd, src, default_name) = source_root(root, &rel, roots, field)?;
    let dest = match to {
        Some(to) => paths::relative(to).map_err(|e| bad(field("to"), e))?,
        None => default_name,
    };
    let (parent, name) = paths::split(&dest);
    let dst = paths::make_dirs(work, parent).map_err(|e| bad(field("to"), e))?;
    let shown = PathBuf::from(path);
    let mut walk = Walk {
        field: field("path"),
        to_field: field("to"),
        budget,
    };
    walk.copy_node(root_fd.as_fd(), &src, dst.as_fd(), name, &shown, 0)
}

/// The directory a copy reads beneath, the path beneath it, and the destination name
/// used when the request gives none (the source's last component).
fn source_root(
    root: &str,
    rel: &Path,
    roots: &Roots<'_>,
    field: &dyn Fn(&str) -> String,
) -> Result<(OwnedFd, PathBuf, PathBuf), RunnerError> {
    if root == RUNS_ROOT {
        let mut parts = rel.components();
        let run = parts
            .next()
            .map(|c| PathBuf::from(c.as_os_str()))
            .unwrap_or_default();
        let rest: PathBuf = parts.collect();
        let runs = paths::open_root(roots.tenant_runs).map_err(|e| bad(field("root"), e))?;
        let work = paths::open_dir_beneath(&runs, &run.join("work")).map_err(|_| {
            RunnerError::invalid(
                field("path"),
                format!("{} is not one of your runs", run.display()),
            )
        })?;
        if rest.as_os_str().is_empty() {
            return Ok((work, PathBuf::from("."), run));
        }
        let name = PathBuf::from(paths::split(&rest).1);
        return Ok((work, rest, name));
    }
    let Some(dir) = roots.shared.get(root) else {
        return Err(RunnerError::invalid(
            field("root"),
            format!("no root named {root:?}"),
        ));
    };
    let fd = paths::open_root(dir).map_err(|e| {
        RunnerError::Internal(format!(
            "failed to open the shared root {}: {e}",
            dir.display()
        ))
    })?;
    Ok((fd, rel.to_path_buf(), PathBuf::from(paths::split(rel).1)))
}

struct Walk<'b> {
    /// The request field named in source problems, and in destination problems.
    field: String,
    to_field: String,
    budget: &'b mut Budget,
}

impl Walk<'_> {
    fn fail(&self, e: PathProblem) -> RunnerError {
        RunnerError::invalid(self.field.clone(), e.to_string())
    }

    /// Copies `name` (beneath `parent`) to `dst_name` (in `dst_dir`). `shown` is the
    /// source's path as the request wrote it, for messages.
    fn copy_node(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &Path,
        dst_dir: BorrowedFd<'_>,
        dst_name: &Path,
        shown: &Path,
        depth: usize,
    ) -> Result<(), RunnerError> {
        let path_only = OFlags::PATH;
        let fd = paths::open_beneath(parent, name, path_only, Mode::empty())
            .map_err(|e| self.fail(rename(e, shown)))?;
        let st = rustix::fs::fstat(&fd).map_err(|e| self.fail(paths::problem(shown, e)))?;
        self.budget.take_file()?;
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory if depth < paths::MAX_COMPONENTS => {
                self.copy_dir(parent, name, &st, dst_dir, dst_name, shown, depth)
            }
            FileType::Directory => Err(self.fail(PathProblem::Io(
                shown.display().to_string(),
                "too deep".into(),
            ))),
            FileType::RegularFile => self.copy_file(parent, name, &st, dst_dir, dst_name, shown),
            FileType::Symlink => Err(self.fail(PathProblem::Symlink(shown.display().to_string()))),
            _ => Err(self.fail(PathProblem::Special(shown.display().to_string()))),
        }
    }

    /// Reopens `name` for use and checks it is still the object first looked at.
    fn reopen(
        &self,
        parent: BorrowedFd<'_>,
        name: &Path,
        flags: OFlags,
        st: &rustix::fs::Stat,
        shown: &Path,
    ) -> Result<OwnedFd, RunnerError> {
        let fd = paths::open_beneath(parent, name, flags, Mode::empty())
            .map_err(|e| self.fail(rename(e, shown)))?;
        let now = rustix::fs::fstat(&fd).map_err(|e| self.fail(paths::problem(shown, e)))?;
        if now.st_dev != st.st_dev || now.st_ino != st.st_ino {
            let why = "changed while it was being copied".to_string();
            return Err(self.fail(PathProblem::Io(shown.display().to_string(), why)));
        }
        Ok(fd)
    }

    #[allow(clippy::too_many_arguments)]
    fn copy_dir(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &Path,
        st: &rustix::fs::Stat,
        dst_dir: BorrowedFd<'_>,
        dst_name: &Path,
        shown: &Path,
        depth: usize,
    ) -> Result<(), RunnerError> {
        let src = self.reopen(parent, name, OFlags::RDONLY | OFlags::DIRECTORY, st, shown)?;
        let dst_shown = |e| RunnerError::invalid(self.to_field.clone(), PathProblem::to_string(&e));
        match rustix::fs::mkdirat(dst_dir, dst_name, Mode::from_raw_mode(0o755)) {
            Ok(()) => {}
            Err(e) => return Err(dst_shown(paths::problem(dst_name, e))),
        }
        let dst = paths::open_dir_beneath(dst_dir, dst_name).map_err(dst_shown)?;
        let entries =
            rustix::fs::Dir::read_from(&src).map_err(|e| self.fail(paths::problem(shown, e)))?;
        for entry in entries {
            let entry = entry.map_err(|e| self.fail(paths::problem(shown, e)))?;
            let bytes = entry.file_name().to_bytes();
            if bytes == b"." || bytes == b".." {
                continue;
            }
            let child = Path::new(std::ffi::OsStr::from_bytes(bytes));
            let child_shown = shown.join(child);
            self.copy_node(
                src.as_fd(),
                child,
                dst.as_fd(),
                child,
                &child_shown,
                depth + 1,
            )?;
        }
        Ok(())
    }

    fn copy_file(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &Path,
        st: &rustix::fs::Stat,
        dst_dir: BorrowedFd<'_>,
        dst_name: &Path,
        shown: &Path,
    ) -> Result<(), RunnerError> {
        let src = self.reopen(parent, name, OFlags::RDONLY | OFlags::NONBLOCK, st, shown)?;
        let mode = Mode::from_raw_mode(if st.st_mode & 0o111 != 0 {
            0o755
        } else {
            0o644
        });
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL;
        let out = paths::open_beneath(dst_dir, dst_name, flags, mode)
            .map_err(|e| RunnerError::invalid(self.to_field.clone(), e.to_string()))?;
        let limit = self.budget.bytes;
        let mut reader = std::fs::File::from(src).take(limit + 1);
        let mut writer = std::fs::File::from(out);
        let io = |e: std::io::Error| {
            RunnerError::Internal(format!("failed to copy {}: {e}", shown.display()))
        };
        let n = std::io::copy(&mut reader, &mut writer).map_err(io)?;
        if n > limit {
            return Err(too_large(
                "copy inputs (bytes)".into(),
                self.budget.caps.copy_bytes,
            ));
        }
        self.budget.bytes -= n;
        Ok(())
    }
}

use std::os::unix::ffi::OsStrExt;
