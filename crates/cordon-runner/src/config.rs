//! The service's configuration: one TOML file, every key but `tenants` with a default.
//!
//! Unknown keys are errors, and [`Config::validate`] names the key of every bad value, so
//! a typo never silently changes what the service allows.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Config files larger than this are refused before parsing.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("failed to read the config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("failed to parse the config file {origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("invalid config key {key}: {reason}")]
    Invalid { key: String, reason: String },
}

fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Host header values the MCP streamable HTTP endpoint accepts.
    #[serde(default = "default_allowed_hosts")]
    pub allowed_hosts: Vec<String>,
    /// Holds `state.db` (SQLite, WAL), `audit.log` and the tenant uid registry.
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// `<run_root>/<tenant>/<run-id>/` per run.
    #[serde(default = "default_run_root")]
    pub run_root: PathBuf,
    /// Runs running at once, over all tenants.
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent: u32,
    /// HTTP request body limit.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: u64,
    /// Largest inline input file.
    #[serde(default = "default_max_inline_bytes")]
    pub max_inline_bytes: u64,
    /// Bytes kept per stream and run; the rest is counted.
    #[serde(default = "default_max_log_bytes")]
    pub max_log_bytes: u64,
    /// Largest part of an artifact one read returns.
    #[serde(default = "default_max_artifact_read")]
    pub max_artifact_read: u64,
    /// Total bytes the copy inputs of one run may bring in.
    #[serde(default = "default_max_copy_bytes")]
    pub max_copy_bytes: u64,
    /// Total files and directories the copy inputs of one run may bring in.
    #[serde(default = "default_max_copy_files")]
    pub max_copy_files: u64,
    /// Shared read-only roots by name; runs get copies, never the originals.
    #[serde(default)]
    pub shared_roots: BTreeMap<String, PathBuf>,
    /// The policy every run starts from.
    #[serde(default)]
    pub defaults: DefaultsConfig,
    /// Who may use the service.
    pub tenants: Vec<TenantConfig>,
}

/// The default policy of runs, like a policy file: mode, network, limits, extra paths.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultsConfig {
    /// "auto" or "strict" (default); "off" is refused.
    #[serde(default = "default_mode")]
    pub mode: String,
    /// "deny" (default) or "allow"; "allow" also needs the tenant's `allow_net`.
    #[serde(default = "default_net")]
    pub net: String,
    /// Extra host paths every run may read (absolute).
    #[serde(default)]
    pub ro: Vec<PathBuf>,
    /// Limits; a request may tighten each of them, never loosen.
    #[serde(default = "default_limits")]
    pub limits: LimitsConfig,
}

impl Default for DefaultsConfig {
    fn default() -> Self {
        DefaultsConfig {
            mode: default_mode(),
            net: default_net(),
            ro: Vec::new(),
            limits: default_limits(),
        }
    }
}

/// Limits as on the command line; numbers are accepted where a count is meant.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    #[serde(default, deserialize_with = "limit_value")]
    pub timeout: Option<String>,
    #[serde(default, deserialize_with = "limit_value")]
    pub cpu: Option<String>,
    #[serde(default, deserialize_with = "limit_value")]
    pub memory: Option<String>,
    #[serde(default, deserialize_with = "limit_value")]
    pub pids: Option<String>,
    #[serde(default, deserialize_with = "limit_value")]
    pub file_size: Option<String>,
    #[serde(default, deserialize_with = "limit_value")]
    pub open_files: Option<String>,
    #[serde(default, deserialize_with = "limit_value")]
    pub disk: Option<String>,
}

/// One tenant: its name, the hash of its bearer token and its budget.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// 1 to 32 characters: lowercase letters, digits, `-` and `_`, starting with a letter
    /// or digit (it names a directory and a uid registry entry).
    pub name: String,
    /// Hex SHA-256 of the bearer token (`cordon token` prints both).
    pub token_sha256: String,
    /// This tenant's runs running at once.
    #[serde(default = "default_tenant_concurrent")]
    pub max_concurrent: u32,
    /// This tenant's runs waiting at once; more are refused.
    #[serde(default = "default_max_queued")]
    pub max_queued: u32,
    /// Whether this tenant's runs may ask for `net = "allow"`.
    #[serde(default)]
    pub allow_net: bool,
}

fn limit_value<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Int(i64),
        Text(String),
    }
    Ok(Some(match Raw::deserialize(d)? {
        Raw::Int(n) => n.to_string(),
        Raw::Text(s) => s,
    }))
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8470))
}
fn default_allowed_hosts() -> Vec<String> {
    vec!["localhost".into(), "127.0.0.1".into()]
}
fn default_state_dir() -> PathBuf {
    PathBuf::from("/var/lib/cordon/service")
}
fn default_run_root() -> PathBuf {
    PathBuf::from("/var/lib/cordon/runs")
}
fn default_max_concurrent() -> u32 {
    4
}
fn default_max_body_bytes() -> u64 {
    1 << 20
}
fn default_max_inline_bytes() -> u64 {
    256 << 10
}
fn default_max_log_bytes() -> u64 {
    1 << 20
}
fn default_max_artifact_read() -> u64 {
    1 << 20
}
fn default_max_copy_bytes() -> u64 {
    256 << 20
}
fn default_max_copy_files() -> u64 {
    10_000
}
fn default_mode() -> String {
    "strict".into()
}
fn default_net() -> String {
    "deny".into()
}
fn default_limits() -> LimitsConfig {
    LimitsConfig {
        timeout: Some("10m".into()),
        memory: Some("2GiB".into()),
        pids: Some("256".into()),
        file_size: Some("1GiB".into()),
        ..LimitsConfig::default()
    }
}
fn default_tenant_concurrent() -> u32 {
    2
}
fn default_max_queued() -> u32 {
    1000
}

impl Config {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        use std::io::Read;
        let read = |source| ConfigError::Read {
            path: path.to_owned(),
            source,
        };
        let mut text = String::new();
        std::fs::File::open(path)
            .map_err(read)?
            .take(MAX_CONFIG_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(read)?;
        if text.len() as u64 > MAX_CONFIG_BYTES {
            let e = std::io::Error::other(format!("larger than {MAX_CONFIG_BYTES} bytes"));
            return Err(read(e));
        }
        Config::from_toml(&path.display().to_string(), &text)
    }

    /// Parses and validates config TOML; `origin` names the source in errors.
    pub fn from_toml(origin: &str, text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            origin: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every value; the error names the first bad key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        positive("max_concurrent", u64::from(self.max_concurrent))?;
        for (key, v) in [
            ("max_body_bytes", self.max_body_bytes),
            ("max_inline_bytes", self.max_inline_bytes),
            ("max_log_bytes", self.max_log_bytes),
            ("max_artifact_read", self.max_artifact_read),
            ("max_copy_bytes", self.max_copy_bytes),
            ("max_copy_files", self.max_copy_files),
        ] {
            positive(key, v)?;
        }
        absolute("state_dir", &self.state_dir)?;
        absolute("run_root", &self.run_root)?;
        for (name, path) in &self.shared_roots {
            let key = format!("shared_roots.{name}");
            check_name(&key, name)?;
            if name == crate::inputs::RUNS_ROOT {
                return Err(invalid(
                    key,
                    "the name \"runs\" means the tenant's own runs",
                ));
            }
            absolute(&key, path)?;
        }
        self.defaults.validate()?;
        self.validate_tenants()
    }

    fn validate_tenants(&self) -> Result<(), ConfigError> {
        if self.tenants.is_empty() {
            return Err(invalid("tenants", "at least one tenant is needed"));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, t) in self.tenants.iter().enumerate() {
            let key = |k: &str| format!("tenants[{i}].{k}");
            check_name(&key("name"), &t.name)?;
            if !seen.insert(t.name.as_str()) {
                return Err(invalid(
                    key("name"),
                    format!("tenant {} is defined twice", t.name),
                ));
            }
            let hash_ok =
                t.token_sha256.len() == 64 && t.token_sha256.bytes().all(|b| b.is_ascii_hexdigit());
            if !hash_ok {
                return Err(invalid(key("token_sha256"), "must be 64 hex digits"));
            }
            positive(&key("max_concurrent"), u64::from(t.max_concurrent))?;
        }
        Ok(())
    }

    /// The tenant of this name.
    pub fn tenant(&self, name: &str) -> Option<&TenantConfig> {
        self.tenants.iter().find(|t| t.name == name)
    }
}

impl DefaultsConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        match self.mode.as_str() {
            "auto" | "strict" => {}
            "off" => {
                return Err(invalid(
                    "defaults.mode",
                    "the service never runs unconfined",
                ))
            }
            other => return Err(invalid("defaults.mode", format!("unknown mode {other:?}"))),
        }
        if !matches!(self.net.as_str(), "deny" | "allow") {
            let reason = format!("unknown network rule {:?}", self.net);
            return Err(invalid("defaults.net", reason));
        }
        for (i, p) in self.ro.iter().enumerate() {
            absolute(&format!("defaults.ro[{i}]"), p)?;
        }
        self.limits
            .parsed()
            .map(|_| ())
            .map_err(|(key, reason)| invalid(format!("defaults.limits.{key}"), reason))
    }
}

/// Limits as numbers; `None` means no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LimitValues {
    pub timeout: Option<std::time::Duration>,
    pub cpu: Option<std::time::Duration>,
    pub memory: Option<u64>,
    pub pids: Option<u64>,
    pub file_size: Option<u64>,
    pub open_files: Option<u64>,
    pub disk: Option<u64>,
}

impl LimitsConfig {
    /// Parses every limit; the error is the key and the problem.
    pub(crate) fn parsed(&self) -> Result<LimitValues, (&'static str, String)> {
        use cordon_policy::{parse_count, parse_duration, parse_size};
        fn one<T>(
            key: &'static str,
            v: &Option<String>,
            parse: fn(&str, &str) -> Result<Option<T>, cordon_policy::PolicyError>,
        ) -> Result<Option<T>, (&'static str, String)> {
            match v {
                None => Ok(None),
                Some(s) => parse(key, s).map_err(|e| (key, e.to_string())),
            }
        }
        Ok(LimitValues {
            timeout: one("timeout", &self.timeout, parse_duration)?,
            cpu: one("cpu", &self.cpu, parse_duration)?,
            memory: one("memory", &self.memory, parse_size)?,
            pids: one("pids", &self.pids, parse_count)?,
            file_size: one("file_size", &self.file_size, parse_size)?,
            open_files: one("open_files", &self.open_files, parse_count)?,
            disk: one("disk", &self.disk, parse_size)?,
        })
    }
}

fn positive(key: &str, v: u64) -> Result<(), ConfigError> {
    if v == 0 {
        return Err(invalid(key, "must be at least 1"));
    }
    Ok(())
}

fn absolute(key: &str, p: &Path) -> Result<(), ConfigError> {
    if !p.is_absolute() {
        return Err(invalid(
            key,
            format!("{} is not an absolute path", p.display()),
        ));
    }
    Ok(())
}

/// Tenant and shared root names: they become directory names and registry entries.
fn check_name(key: &str, name: &str) -> Result<(), ConfigError> {
    let first_ok = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let rest_ok = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if name.len() > 32 || !first_ok || !rest_ok {
        let reason = format!(
            "{name:?} must be 1 to 32 lowercase letters, digits, '-' or '_', starting with a \
             letter or digit"
        );
        return Err(invalid(key, reason));
    }
    Ok(())
}

/// A new bearer token and the hex SHA-256 that goes into the config. The token is 32
/// random bytes from the kernel, hex-encoded behind a `cordon_` prefix.
pub fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    // The kernel's random source failing is not something a caller can recover from.
    getrandom::fill(&mut bytes).expect("the kernel's random source is unavailable");
    let token = format!("cordon_{}", hex::encode(bytes));
    let hash = token_sha256(&token);
    (token, hash)
}

/// The hex SHA-256 of a token, as written in `token_sha256`.
pub fn token_sha256(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn with_tenant(extra: &str) -> String {
        format!("{extra}\n[[tenants]]\nname = \"alice\"\ntoken_sha256 = \"{HASH}\"\n")
    }

    fn key_of(text: &str) -> String {
        match Config::from_toml("test", text) {
            Err(ConfigError::Invalid { key, .. }) => key,
            other => panic!("expected an invalid key, got {other:?}"),
        }
    }

    #[test]
    fn a_minimal_config_takes_every_default() {
        let c = Config::from_toml("test", &with_tenant("")).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8470");
        assert_eq!(c.max_concurrent, 4);
        assert_eq!(c.defaults.mode, "strict");
        assert_eq!(c.defaults.limits.timeout.as_deref(), Some("10m"));
        assert_eq!(c.tenants[0].max_concurrent, 2);
        assert_eq!(c.tenants[0].max_queued, 1000);
        assert!(!c.tenants[0].allow_net);
    }

    #[test]
    fn numbers_are_accepted_for_limits() {
        let text = with_tenant("[defaults]\nlimits = { pids = 64, timeout = \"30s\" }");
        let c = Config::from_toml("test", &text).unwrap();
        assert_eq!(c.defaults.limits.pids.as_deref(), Some("64"));
        assert_eq!(
            c.defaults.limits.memory, None,
            "a given table replaces the default"
        );
    }

    #[test]
    fn errors_name_the_key() {
        assert_eq!(key_of(&with_tenant("max_concurrent = 0")), "max_concurrent");
        assert_eq!(key_of(&with_tenant("state_dir = \"rel\"")), "state_dir");
        assert_eq!(
            key_of(&with_tenant("[defaults]\nmode = \"off\"")),
            "defaults.mode"
        );
        assert_eq!(
            key_of(&with_tenant("[defaults]\nlimits = { memory = \"lots\" }")),
            "defaults.limits.memory"
        );
        assert_eq!(
            key_of(&with_tenant("[shared_roots]\nruns = \"/srv\"")),
            "shared_roots.runs"
        );
        let bad_hash = "[[tenants]]\nname = \"bob\"\ntoken_sha256 = \"xyz\"\n";
        assert_eq!(key_of(&with_tenant(bad_hash)), "tenants[0].token_sha256");
        let twice = format!("[[tenants]]\nname = \"alice\"\ntoken_sha256 = \"{HASH}\"\n");
        assert_eq!(key_of(&with_tenant(&twice)), "tenants[1].name");
        let upper = format!("[[tenants]]\nname = \"Bob/..\"\ntoken_sha256 = \"{HASH}\"\n");
        assert_eq!(key_of(&upper), "tenants[0].name");
        assert_eq!(key_of("tenants = []"), "tenants");
    }

    #[test]
    fn unknown_keys_and_missing_tenants_are_parse_errors() {
        let err = Config::from_toml("test", &with_tenant("max_concurent = 3")).unwrap_err();
        assert!(err.to_string().contains("max_concurent"), "{err}");
        let err = Config::from_toml("test", "").unwrap_err();
        assert!(err.to_string().contains("tenants"), "{err}");
    }

    #[test]
    fn a_new_token_matches_its_hash() {
        let (token, hash) = new_token();
        assert!(token.starts_with("cordon_") && token.len() == 7 + 64);
        assert_eq!(hash, token_sha256(&token));
        assert_eq!(hash.len(), 64);
        assert_ne!(new_token().0, token);
    }
}
