//! The command's environment: nothing of the caller's passes unless it is on the allowlist.
//!
//! The supervisor's own environment is where a tool server keeps its API tokens, so the
//! command starts from an empty environment. Only variables that programs need to behave
//! normally and that never carry secrets pass: `PATH`, `LANG`, the standard locale
//! categories *by exact name* (a variable called `LC_API_TOKEN` is not a locale category
//! and does not pass), `TZ` and `TERM`. The policy adds explicit entries; `HOME` and
//! `TMPDIR` point at the first read-write directory.

use crate::report::LayerReport;
use cordon_policy::Policy;

/// Variables passed from the caller when present, each a plain setting, never a secret.
pub const ALLOWLIST: &[&str] = &[
    "PATH",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "LC_NUMERIC",
    "LC_TIME",
    "LC_COLLATE",
    "LC_MONETARY",
    "LC_MESSAGES",
    "LC_PAPER",
    "LC_NAME",
    "LC_ADDRESS",
    "LC_TELEPHONE",
    "LC_MEASUREMENT",
    "LC_IDENTIFICATION",
    "TZ",
    "TERM",
];

/// `PATH` when the caller has none.
pub const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Builds the command's environment from the caller's and the policy.
pub fn build<I>(policy: &Policy, caller: I) -> (Vec<(String, String)>, LayerReport)
where
    I: IntoIterator<Item = (String, String)>,
{
    let caller: Vec<(String, String)> = caller.into_iter().collect();
    let lookup = |name: &str| {
        caller
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let mut env: Vec<(String, String)> = Vec::new();
    for name in ALLOWLIST {
        if let Some(value) = lookup(name) {
            set(&mut env, name, value);
        }
    }
    if lookup("PATH").is_none() {
        set(&mut env, "PATH", DEFAULT_PATH.to_owned());
    }
    if let Some(home) = policy.rw.first() {
        let home = home.to_string_lossy().into_owned();
        set(&mut env, "HOME", home.clone());
        set(&mut env, "TMPDIR", home);
    }
    for (name, value) in &policy.env {
        match value {
            Some(v) => set(&mut env, name, v.clone()),
            None => {
                if let Some(v) = lookup(name) {
                    set(&mut env, name, v);
                }
            }
        }
    }
    let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    let report = LayerReport::enforced(
        "env",
        format!("empty environment plus allowlist: {}", names.join(" ")),
    );
    (env, report)
}

fn set(env: &mut Vec<(String, String)>, name: &str, value: String) {
    match env.iter_mut().find(|(k, _)| k == name) {
        Some(entry) => entry.1 = value,
        None => env.push((name.to_owned(), value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cordon_policy::{Identity, Limits, Mode, Net};

    fn policy() -> Policy {
        Policy {
            mode: Mode::Auto,
            net: Net::Deny,
            system_ro: vec![],
            ro: vec![],
            rw: vec!["/srv/run".into()],
            env: vec![("EXTRA".into(), Some("1".into())), ("PASSME".into(), None)],
            namespaces: true,
            tenant: None,
            identity: Identity {
                uid: 199_999,
                gid: 199_999,
                tenant_uid_first: 200_000,
                tenant_uid_last: 265_535,
            },
            limits: Limits::default(),
        }
    }

    #[test]
    fn secrets_do_not_pass_and_allowlist_does() {
        let caller = [
            ("API_TOKEN", "s1"),
            ("AWS_SECRET_ACCESS_KEY", "s2"),
            ("LC_API_TOKEN", "s3"),
            ("LC_ALL", "C.UTF-8"),
            ("PATH", "/usr/bin"),
            ("PASSME", "yes"),
            ("HOME", "/root"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let (env, _) = build(&policy(), caller);
        let get = |n: &str| env.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("API_TOKEN"), None);
        assert_eq!(get("AWS_SECRET_ACCESS_KEY"), None);
        assert_eq!(get("LC_API_TOKEN"), None);
        assert_eq!(get("LC_ALL"), Some("C.UTF-8"));
        assert_eq!(get("PATH"), Some("/usr/bin"));
        assert_eq!(get("HOME"), Some("/srv/run"));
        assert_eq!(get("TMPDIR"), Some("/srv/run"));
        assert_eq!(get("EXTRA"), Some("1"));
        assert_eq!(get("PASSME"), Some("yes"));
    }
}
