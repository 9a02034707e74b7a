//! Named policies: `cordon run --profile NAME`.
//!
//! A profile is an ordinary policy file. It is looked up as `NAME.toml` in
//! `$CORDON_PROFILE_DIR`, then in `/etc/cordon/profiles` (where a user's own profiles live,
//! beside copies of the shipped ones), and finally among the profiles shipped inside the
//! binary (`profiles/*.toml` of the source tree).

use std::path::PathBuf;

/// Directory of installed profiles.
pub const SYSTEM_DIR: &str = "/etc/cordon/profiles";

/// Profiles compiled into the binary: (name, TOML text).
const BUILT_IN: &[(&str, &str)] = &[
    (
        "energyplus",
        include_str!("../../../profiles/energyplus.toml"),
    ),
    ("gcc", include_str!("../../../profiles/gcc.toml")),
    ("python", include_str!("../../../profiles/python.toml")),
    ("ruby", include_str!("../../../profiles/ruby.toml")),
];

/// Finds the profile's file; built-in ones are written to a private temporary file so
/// the policy loader reads every profile the same way.
pub fn resolve(name: &str) -> Result<(PathBuf, Option<tempfile::TempDir>), String> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(format!(
            "invalid profile name {name:?}: use letters, digits, '-' and '_' only"
        ));
    }
    let dirs = std::env::var_os("CORDON_PROFILE_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain(std::iter::once(PathBuf::from(SYSTEM_DIR)));
    for dir in dirs {
        let file = dir.join(format!("{name}.toml"));
        if file.is_file() {
            return Ok((file, None));
        }
    }
    let Some((_, text)) = BUILT_IN.iter().find(|(n, _)| *n == name) else {
        let known: Vec<&str> = BUILT_IN.iter().map(|(n, _)| *n).collect();
        return Err(format!(
            "unknown profile {name:?}: not in $CORDON_PROFILE_DIR or {SYSTEM_DIR}, and the \
             built-in profiles are {}",
            known.join(", ")
        ));
    };
    write_temp(name, text)
}

fn write_temp(name: &str, text: &str) -> Result<(PathBuf, Option<tempfile::TempDir>), String> {
    let dir = tempfile::Builder::new()
        .prefix("cordon-profile-")
        .tempdir()
        .map_err(|e| format!("failed to stage the built-in profile {name}: {e}"))?;
    let file = dir.path().join(format!("{name}.toml"));
    std::fs::write(&file, text)
        .map_err(|e| format!("failed to stage the built-in profile {name}: {e}"))?;
    Ok((file, Some(dir)))
}
