//! Read-only and read-write grants: resolving them and rejecting contradictions.
//!
//! Paths from the policy file resolve against the file's directory, so a policy keeps its
//! meaning wherever it is used from; paths from flags resolve against the working
//! directory, as every command-line tool does. A read-only grant inside (or equal to) a
//! read-write grant is refused: file-system rights add up along a path, so the outer
//! read-write grant would make it writable and the policy would not mean what it says.

use crate::error::PolicyError;
use crate::fault::{At, Faults};
use crate::paths::{self, Access};
use std::path::{Path, PathBuf};
use toml::Spanned;

/// A resolved grant and where it came from.
#[derive(Debug)]
pub(crate) struct Granted {
    pub(crate) path: PathBuf,
    label: String,
    at: Option<At>,
}

/// What grants resolve against.
pub(crate) struct Resolver<'a> {
    pub(crate) file_dir: &'a Path,
    pub(crate) cwd: &'a Path,
    pub(crate) homes: Vec<(String, PathBuf)>,
}

impl Resolver<'_> {
    /// Resolves the file's entries (`ro[0]`, ...) then the flags' (`--ro`), recording a
    /// fault for each bad one.
    pub(crate) fn list(
        &self,
        faults: &mut Faults,
        access: Access,
        file: &[Spanned<String>],
        flags: &[PathBuf],
    ) -> Vec<Granted> {
        let key = match access {
            Access::ReadOnly => "ro",
            Access::ReadWrite => "rw",
        };
        let from_file = file.iter().enumerate().map(|(i, raw)| {
            let label = format!("{key}[{i}]");
            let at = At::of(label.clone(), raw);
            (label, at, Path::new(raw.get_ref()), self.file_dir)
        });
        let from_flags = flags
            .iter()
            .map(|raw| (format!("--{key}"), None, raw.as_path(), self.cwd));
        from_file
            .chain(from_flags)
            .filter_map(|(label, at, raw, base)| {
                let resolved = paths::resolve(&label, raw, base, access, &self.homes);
                let path = faults.check(at.clone(), resolved)?;
                Some(Granted { path, label, at })
            })
            .collect()
    }
}

/// Records a fault for every read-only grant inside a read-write one.
pub(crate) fn reject_ro_inside_rw(faults: &mut Faults, ro: &[Granted], rw: &[Granted]) {
    for r in ro {
        if let Some(w) = rw.iter().find(|w| r.path.starts_with(&w.path)) {
            let err = PolicyError::RoInsideRw {
                ro: r.path.clone(),
                ro_flag: r.label.clone(),
                rw: w.path.clone(),
                rw_flag: w.label.clone(),
            };
            faults.push(err, r.at.clone().or_else(|| w.at.clone()));
        }
    }
}

/// The paths of `grants`, each once, in first-seen order.
pub(crate) fn unique(grants: Vec<Granted>) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = Vec::with_capacity(grants.len());
    for g in grants {
        if !paths.contains(&g.path) {
            paths.push(g.path);
        }
    }
    paths
}
