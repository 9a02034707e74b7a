//! Landlock: the file-system and TCP rules the kernel checks on every access.
//!
//! Reading is denied by default: the ruleset handles every file-system right of the
//! kernel's ABI, then grants read and execute below the read roots, everything but device
//! creation below the read-write roots, and per-file rights on the few device nodes a
//! program needs. With `--net deny`, TCP bind and connect are handled with no rule, so
//! both are refused (ABI 4). Abstract unix sockets and signals are scoped to the run
//! (ABI 6): it can neither reach a host service listening on an abstract name nor signal
//! a process outside the sandbox.
//!
//! # Truncation below read-only roots
//!
//! On every `open` Landlock also looks up the right to truncate the file later, walking
//! from the file towards the root until some rule grants it; below a read-only root none
//! does, so each open would walk all the way up (a quarter more per `open`+`close` here
//! than a walk that stops at the nearest rule). In a private root every read-only root is
//! a read-only mount (see [`crate::mount`]), where the kernel refuses truncation with
//! `EROFS` before Landlock is asked: `truncate` by path, `O_TRUNC`, and the opening for
//! writing that `ftruncate` needs. There the read-only rules grant `Truncate` too, and the
//! walk stops at them. Without a private root (the Landlock + seccomp tier) Landlock is
//! the only layer, and they do not.
//!
//! The ABI is read from the kernel once (`landlock_create_ruleset` with the version flag,
//! a single integer-only syscall made through `libc::syscall`, because the crate keeps its
//! own probe private) and every access set is built for exactly that ABI, so the crate's
//! status says "fully enforced" only when the kernel enforces all of it.

use crate::report::LayerReport;
use landlock::{
    Access, AccessFs, AccessNet, BitFlags, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreated, RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LandlockError {
    #[error("failed to open the granted path {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: landlock::PathFdError,
    },
    #[error("failed to build the Landlock ruleset: {0}")]
    Ruleset(#[from] landlock::RulesetError),
}

/// The kernel's Landlock ABI version, or the reason there is none.
pub fn kernel_abi() -> Result<i32, String> {
    // SAFETY: with a null attribute pointer, size 0 and the VERSION flag the syscall only
    // returns an integer; no memory is read or written.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            1u32,
        )
    };
    if v > 0 {
        return Ok(i32::try_from(v).unwrap_or(i32::MAX));
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::EOPNOTSUPP) => Err(
            "Landlock is built in but not enabled; hint: add landlock to the lsm= boot parameter"
                .into(),
        ),
        _ => Err(
            "the kernel has no Landlock; hint: a kernel with CONFIG_SECURITY_LANDLOCK (5.13+)"
                .into(),
        ),
    }
}

/// What the rules grant.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub ro: Vec<PathBuf>,
    pub rw: Vec<PathBuf>,
    /// Read-only procfs (granted only when it is the run's private one).
    pub proc: bool,
    /// A private `/dev/shm` exists and may be written.
    pub dev_shm: bool,
    /// The root is cordon's own tmpfs of granted paths (directory listing is harmless),
    /// where every read-only root is a read-only mount.
    pub private_root: bool,
    pub deny_net: bool,
}

/// A ruleset with every rule added, ready to be enforced after the identity drop.
pub struct Prepared {
    ruleset: Option<RulesetCreated>,
    abi: i32,
    summary: String,
    deny_net: bool,
    missing: Option<String>,
}

/// Opens every granted path and builds the ruleset. Runs before privileges are dropped so
/// that paths only the caller can open are still granted.
pub fn prepare(plan: &Plan) -> Result<Prepared, LandlockError> {
    let abi_num = match kernel_abi() {
        Ok(v) => v,
        Err(why) => {
            return Ok(Prepared {
                ruleset: None,
                abi: 0,
                summary: String::new(),
                deny_net: plan.deny_net,
                missing: Some(why),
            })
        }
    };
    let abi = ABI::from(abi_num);
    let mut ruleset = Ruleset::default().handle_access(AccessFs::from_all(abi))?;
    if plan.deny_net && abi_num >= 4 {
        ruleset = ruleset.handle_access(AccessNet::from_all(abi))?;
    }
    if abi_num >= 6 {
        ruleset = ruleset.scope(Scope::from_all(abi))?;
    }
    let mut created = ruleset.create()?;
    let rw = AccessFs::from_all(abi) & !(AccessFs::MakeChar | AccessFs::MakeBlock);
    let read = match plan.private_root {
        // Refused by the read-only mount before Landlock is asked (see the module docs).
        true => AccessFs::from_read(abi) | AccessFs::Truncate,
        false => AccessFs::from_read(abi),
    };
    for path in &plan.ro {
        created = add(created, path, read, abi)?;
    }
    for path in &plan.rw {
        created = add(created, path, rw, abi)?;
    }
    if plan.proc {
        created = add(
            created,
            Path::new("/proc"),
            AccessFs::ReadFile | AccessFs::ReadDir,
            abi,
        )?;
    }
    if plan.private_root {
        // The private root holds only granted names, so listing it reveals nothing; the
        // right is "beneath" in Landlock, which adds directory listing (not reading) below.
        created = add(created, Path::new("/"), AccessFs::ReadDir.into(), abi)?;
    }
    if plan.dev_shm {
        created = add(created, Path::new("/dev/shm"), rw & !AccessFs::Execute, abi)?;
    }
    let rw_dev = AccessFs::ReadFile | AccessFs::WriteFile | AccessFs::Truncate | AccessFs::IoctlDev;
    let ro_dev = AccessFs::ReadFile | AccessFs::IoctlDev;
    for (dev, access) in [
        ("/dev/null", rw_dev),
        ("/dev/zero", rw_dev),
        ("/dev/random", ro_dev),
        ("/dev/urandom", ro_dev),
    ] {
        if Path::new(dev).exists() {
            created = add(created, Path::new(dev), access, abi)?;
        }
    }
    let summary = format!(
        "ABI {abi_num}: read and execute below {} roots, write below {} roots{}; \
         /dev/null and /dev/zero read-write, /dev/random and /dev/urandom read-only; \
         no device creation",
        plan.ro.len(),
        plan.rw.len(),
        if plan.proc { ", /proc read-only" } else { "" },
    );
    Ok(Prepared {
        ruleset: Some(created),
        abi: abi_num,
        summary,
        deny_net: plan.deny_net,
        missing: None,
    })
}

fn add(
    created: RulesetCreated,
    path: &Path,
    access: BitFlags<AccessFs>,
    abi: ABI,
) -> Result<RulesetCreated, LandlockError> {
    let fd = PathFd::new(path).map_err(|source| LandlockError::Open {
        path: path.to_owned(),
        source,
    })?;
    let mut access = access & AccessFs::from_all(abi);
    // The type of what was opened, not of the path looked up again.
    let is_dir = rustix::fs::fstat(fd.as_fd())
        .is_ok_and(|st| rustix::fs::FileType::from_raw_mode(st.st_mode).is_dir());
    if !is_dir {
        access &= AccessFs::from_file(abi);
    }
    Ok(created.add_rule(PathBeneath::new(fd, access))?)
}

/// Enforces the prepared ruleset on this (single-threaded) process.
pub fn restrict(prepared: Prepared) -> Result<Vec<LayerReport>, LandlockError> {
    let Some(ruleset) = prepared.ruleset else {
        let why = prepared.missing.unwrap_or_default();
        return Ok(vec![
            LayerReport::missing("landlock", why.clone()),
            net_report(prepared.deny_net, 0, false),
            LayerReport::missing("landlock.scope", why),
        ]);
    };
    let status = ruleset.restrict_self()?;
    let fs = match status.ruleset {
        RulesetStatus::FullyEnforced => LayerReport::enforced("landlock", prepared.summary),
        RulesetStatus::PartiallyEnforced => LayerReport::partial(
            "landlock",
            format!("{} (the kernel enforced only part of it)", prepared.summary),
        ),
        RulesetStatus::NotEnforced => {
            LayerReport::missing("landlock", "the kernel refused the ruleset")
        }
    };
    let applied = status.ruleset != RulesetStatus::NotEnforced;
    let scope = if prepared.abi >= 6 && applied {
        LayerReport::enforced(
            "landlock.scope",
            "abstract unix sockets and signals scoped to the run (ABI 6)",
        )
    } else {
        LayerReport::missing(
            "landlock.scope",
            format!("needs Landlock ABI 6, the kernel has {}", prepared.abi),
        )
    };
    Ok(vec![
        fs,
        net_report(prepared.deny_net, prepared.abi, applied),
        scope,
    ])
}

fn net_report(deny: bool, abi: i32, applied: bool) -> LayerReport {
    if !deny {
        LayerReport::off("landlock.net", "network allowed by the policy")
    } else if abi >= 4 && applied {
        LayerReport::enforced("landlock.net", "TCP bind and connect denied (ABI 4)")
    } else {
        LayerReport::missing(
            "landlock.net",
            format!("needs Landlock ABI 4, the kernel has {abi}"),
        )
    }
}
