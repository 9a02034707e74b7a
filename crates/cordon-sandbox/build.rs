//! Gives the stage-2 protocol a build identity: a hash of the sources that define the run
//! spec and apply it (this crate, cordon-policy and cordon-seccomp). The supervisor hands
//! its identity to the helper, which will not take a spec from another build (see
//! `stage2::main`): a `cordon-stage2` left over from an older build beside a newer
//! `cordon` could otherwise read a spec it does not fully understand and skip what it
//! does not know.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

fn main() {
    let mut files = Vec::new();
    for dir in ["src", "../cordon-policy/src", "../cordon-seccomp/src"] {
        println!("cargo:rerun-if-changed={dir}");
        collect(Path::new(dir), &mut files);
    }
    files.sort();
    // SipHash with fixed keys: the same sources give the same identity on every build.
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    for file in &files {
        file.hash(&mut hasher);
        std::fs::read(file).unwrap_or_default().hash(&mut hasher);
    }
    println!(
        "cargo:rustc-env=CORDON_SANDBOX_BUILD={:016x}",
        hasher.finish()
    );
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => collect(&path, files),
            Ok(t) if t.is_file() => files.push(path),
            _ => {}
        }
    }
}
