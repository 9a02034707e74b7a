//! A run's policy: the configured defaults, with the request's overrides where the
//! tenant may make them, built by the same `cordon_policy::build` as `cordon run`.
//!
//! What a request can never do: `mode off`; `net allow` unless the tenant has
//! `allow_net`; loosen or lift a configured limit (it may only tighten one); pass a
//! variable of the service's own environment (entries are always `NAME=VALUE`); grant
//! itself any path (the only writable tree is the run's work directory, and the only
//! extra readable ones are the configured `defaults.ro`).

use crate::api::{LimitsRequest, RunnerError, SubmitRequest};
use crate::config::{Config, LimitValues, TenantConfig};
use cordon_policy::{Flags, Mode, Net, Policy};
use std::path::Path;
use std::str::FromStr;

/// Most items of an argv.
pub const MAX_ARGV_ITEMS: usize = 256;
/// Most bytes of an argv, all items together.
pub const MAX_ARGV_BYTES: u64 = 128 << 10;
/// Most environment entries of a request.
pub const MAX_ENV_ENTRIES: usize = 128;
/// Most bytes of one environment value.
pub const MAX_ENV_VALUE_BYTES: usize = 32 << 10;

/// Checks the argv: 1 to 256 items, no NUL, a non-empty command, bounded size.
pub fn check_argv(argv: &[String]) -> Result<(), RunnerError> {
    if argv.is_empty() || argv.len() > MAX_ARGV_ITEMS {
        let reason = format!("must have 1 to {MAX_ARGV_ITEMS} items");
        return Err(RunnerError::invalid("argv", reason));
    }
    if argv[0].is_empty() {
        return Err(RunnerError::invalid("argv[0]", "the command is empty"));
    }
    let total: u64 = argv.iter().map(|a| a.len() as u64).sum();
    if total > MAX_ARGV_BYTES {
        return Err(RunnerError::TooLarge {
            what: "argv".into(),
            limit: MAX_ARGV_BYTES,
        });
    }
    if let Some(i) = argv.iter().position(|a| a.contains('\0')) {
        return Err(RunnerError::invalid(
            format!("argv[{i}]"),
            "contains a NUL byte",
        ));
    }
    Ok(())
}

/// The policy of one run of `tenant` with its work directory `work`.
pub fn build(
    config: &Config,
    tenant: &TenantConfig,
    req: &SubmitRequest,
    work: &Path,
) -> Result<Policy, RunnerError> {
    let flags = Flags {
        mode: Some(mode(config, req)?),
        net: Some(net(config, tenant, req)?),
        ro: config.defaults.ro.clone(),
        rw: vec![work.to_path_buf()],
        env: env_entries(req)?,
        tenant: Some(tenant.name.clone()),
        ..limits(config, &req.limits)?
    };
    cordon_policy::build(None, flags, work)
        .map_err(|e| RunnerError::invalid("policy", e.to_string()))
}

fn mode(config: &Config, req: &SubmitRequest) -> Result<Mode, RunnerError> {
    let text = req.mode.as_deref().unwrap_or(&config.defaults.mode);
    match Mode::from_str(text) {
        Ok(Mode::Off) => Err(RunnerError::forbidden(
            "mode \"off\" (no confinement) is never available through the service",
        )),
        Ok(m) => Ok(m),
        Err(e) => Err(RunnerError::invalid("mode", e.to_string())),
    }
}

fn net(config: &Config, tenant: &TenantConfig, req: &SubmitRequest) -> Result<Net, RunnerError> {
    let requested = req
        .net
        .as_deref()
        .map(Net::from_str)
        .transpose()
        .map_err(|e| RunnerError::invalid("net", e.to_string()))?;
    match requested {
        Some(Net::Allow) if !tenant.allow_net => Err(RunnerError::forbidden(format!(
            "net \"allow\" is not permitted for tenant {}",
            tenant.name
        ))),
        Some(n) => Ok(n),
        // A default of "allow" only reaches tenants that may use the network.
        None if config.defaults.net == "allow" && tenant.allow_net => Ok(Net::Allow),
        None => Ok(Net::Deny),
    }
}

fn env_entries(req: &SubmitRequest) -> Result<Vec<String>, RunnerError> {
    if req.env.len() > MAX_ENV_ENTRIES {
        let reason = format!("more than {MAX_ENV_ENTRIES} entries");
        return Err(RunnerError::invalid("env", reason));
    }
    let mut out = Vec::with_capacity(req.env.len());
    for (name, value) in &req.env {
        let mut bytes = name.bytes();
        let first_ok = bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
        if !first_ok || !bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            let reason = "names are letters, digits and '_', not starting with a digit";
            return Err(RunnerError::invalid(format!("env.{name}"), reason));
        }
        if value.contains('\0') {
            return Err(RunnerError::invalid(
                format!("env.{name}"),
                "contains a NUL byte",
            ));
        }
        if value.len() > MAX_ENV_VALUE_BYTES {
            return Err(RunnerError::TooLarge {
                what: format!("env.{name}"),
                limit: MAX_ENV_VALUE_BYTES as u64,
            });
        }
        out.push(format!("{name}={value}"));
    }
    Ok(out)
}

/// The limits as flags: each requested one checked against the configured default.
fn limits(config: &Config, req: &LimitsRequest) -> Result<Flags, RunnerError> {
    let ceiling = config
        .defaults
        .limits
        .parsed()
        .map_err(|(key, why)| RunnerError::Internal(format!("defaults.limits.{key}: {why}")))?;
    let asked = crate::config::LimitsConfig {
        timeout: req.timeout.clone(),
        cpu: req.cpu.clone(),
        memory: req.memory.clone(),
        pids: req.pids.clone(),
        file_size: req.file_size.clone(),
        open_files: req.open_files.clone(),
        disk: req.disk.clone(),
    };
    let parsed = asked
        .parsed()
        .map_err(|(key, why)| RunnerError::invalid(format!("limits.{key}"), why))?;
    within(&ceiling, &parsed, req)?;
    let pick = |asked: &Option<String>, default: &Option<String>| {
        asked.clone().or_else(|| default.clone())
    };
    let d = &config.defaults.limits;
    Ok(Flags {
        timeout: pick(&req.timeout, &d.timeout),
        cpu: pick(&req.cpu, &d.cpu),
        memory: pick(&req.memory, &d.memory),
        pids: pick(&req.pids, &d.pids),
        file_size: pick(&req.file_size, &d.file_size),
        open_files: pick(&req.open_files, &d.open_files),
        disk: pick(&req.disk, &d.disk),
        ..Flags::default()
    })
}

/// Refuses a requested limit above (or lifting) the configured one.
fn within(
    ceiling: &LimitValues,
    asked: &LimitValues,
    req: &LimitsRequest,
) -> Result<(), RunnerError> {
    fn check<T: PartialOrd + std::fmt::Debug>(
        key: &str,
        given: bool,
        max: Option<T>,
        asked: Option<T>,
    ) -> Result<(), RunnerError> {
        let too_high = match (max, asked) {
            (Some(max), Some(a)) => a > max,
            (Some(_), None) => given,
            (None, _) => false,
        };
        if too_high {
            let reason =
                format!("limits.{key} may only tighten the service's limit, not raise or lift it");
            return Err(RunnerError::forbidden(reason));
        }
        Ok(())
    }
    check(
        "timeout",
        req.timeout.is_some(),
        ceiling.timeout,
        asked.timeout,
    )?;
    check("cpu", req.cpu.is_some(), ceiling.cpu, asked.cpu)?;
    check("memory", req.memory.is_some(), ceiling.memory, asked.memory)?;
    check("pids", req.pids.is_some(), ceiling.pids, asked.pids)?;
    check(
        "file_size",
        req.file_size.is_some(),
        ceiling.file_size,
        asked.file_size,
    )?;
    check(
        "open_files",
        req.open_files.is_some(),
        ceiling.open_files,
        asked.open_files,
    )?;
    check("disk", req.disk.is_some(), ceiling.disk, asked.disk)
}
