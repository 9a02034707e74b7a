//! `cordon serve`, `cordon mcp` and `cordon token`: the glue between the command line, the
//! engine (`cordon-runner`) and its front ends (`cordon-server`).
//!
//! Each command loads the config, learns once what this host enforces (the findings of
//! `cordon doctor --json`, served as `sandbox_info`), starts the engine with this binary
//! as the stage-2 helper, and serves until told to stop; then it shuts the engine down,
//! which cancels running runs and waits for them.

use crate::cli::{McpArgs, ServeArgs};
use cordon_runner::{Config, Runner, TenantName};
use cordon_server::HttpOptions;
use std::path::{Path, PathBuf};

/// Exit status of a service command that could not start or failed while serving.
const EXIT_FAILED: i32 = 1;
/// Exit status for a config that cannot be used.
const EXIT_CONFIG: i32 = 2;

/// Why a service command could not run.
#[derive(Debug, thiserror::Error)]
enum ServeError {
    #[error("failed to load the config: {0}")]
    Config(#[from] cordon_runner::ConfigError),
    #[error("failed to choose a tenant: {0}")]
    Tenant(String),
    #[error("failed to find this binary for the stage-2 helper: {0}")]
    Helper(#[source] std::io::Error),
    #[error("failed to start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("failed to start the runner: {0}")]
    Runner(#[source] cordon_runner::RunnerError),
    #[error(transparent)]
    Server(#[from] cordon_server::ServerError),
}

impl ServeError {
    fn exit_code(&self) -> i32 {
        match self {
            ServeError::Config(_) | ServeError::Tenant(_) => EXIT_CONFIG,
            _ => EXIT_FAILED,
        }
    }
}

/// `cordon serve`.
pub fn serve(args: ServeArgs) -> i32 {
    report(serve_http(&args.config))
}

/// `cordon mcp`.
pub fn mcp(args: McpArgs) -> i32 {
    report(serve_stdio(&args.config, args.tenant.as_deref()))
}

/// `cordon token`: the token goes to stdout once; only its hash is ever stored.
pub fn token() -> i32 {
    let (token, hash) = cordon_runner::new_token();
    print_out(&format!("{token}\ntoken_sha256 = \"{hash}\""));
    eprintln!(
        "cordon: the first line is the bearer token (shown only now); put the second line \
         into the tenant's [[tenants]] entry of the config"
    );
    0
}

fn report(result: Result<(), ServeError>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("cordon: {e}");
            e.exit_code()
        }
    }
}

#[allow(clippy::print_stdout)]
fn print_out(s: &str) {
    println!("{s}");
}

fn serve_http(config_path: &Path) -> Result<(), ServeError> {
    let config = Config::load(config_path)?;
    let opts = HttpOptions {
        listen: config.listen.to_string(),
        allowed_hosts: config.allowed_hosts.clone(),
        max_body_bytes: usize::try_from(config.max_body_bytes).unwrap_or(usize::MAX),
    };
    let sandbox = sandbox_findings();
    runtime()?.block_on(async move {
        let runner = start_runner(config).await?;
        // On the signal, the engine stops taking runs and cancels the running ones at once,
        // so that requests waiting on them answer while the server drains.
        let stopping = runner.clone();
        let shutdown = async move {
            stop_signal().await;
            tokio::spawn(async move { stopping.shutdown().await });
        };
        let served = cordon_server::serve_http(
            runner.clone(),
            sandbox,
            opts,
            |addr| eprintln!("cordon: serving the API on http://{addr}/v1 and MCP on /mcp"),
            shutdown,
        )
        .await;
        runner.shutdown().await;
        Ok(served?)
    })
}

fn serve_stdio(config_path: &Path, tenant: Option<&str>) -> Result<(), ServeError> {
    let config = Config::load(config_path)?;
    let tenant = choose_tenant(&config, tenant)?;
    let sandbox = sandbox_findings();
    runtime()?.block_on(async move {
        let runner = start_runner(config).await?;
        let served = tokio::select! {
            served = cordon_server::serve_stdio(runner.clone(), sandbox, tenant) => served,
            () = stop_signal() => Ok(()),
        };
        runner.shutdown().await;
        Ok(served?)
    })
}

/// The named tenant, or the only one configured.
fn choose_tenant(config: &Config, name: Option<&str>) -> Result<TenantName, ServeError> {
    match name {
        Some(name) if config.tenant(name).is_some() => Ok(TenantName(name.to_string())),
        Some(name) => Err(ServeError::Tenant(format!(
            "no tenant {name:?} in the config"
        ))),
        None => match config.tenants.as_slice() {
            [only] => Ok(TenantName(only.name.clone())),
            _ => Err(ServeError::Tenant(
                "the config has several tenants: pick one with --tenant NAME".into(),
            )),
        },
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, ServeError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)
}

async fn start_runner(config: Config) -> Result<Runner, ServeError> {
    let helper: PathBuf = cordon_sandbox::launch::default_helper().map_err(ServeError::Helper)?;
    Runner::start(config, helper)
        .await
        .map_err(ServeError::Runner)
}

/// What `cordon doctor --json` says about this host, measured once at start-up by running
/// this binary's own `doctor` (so the findings are exactly the command's); on failure, an
/// object that says why.
fn sandbox_findings() -> serde_json::Value {
    let findings = std::env::current_exe().and_then(|exe| {
        std::process::Command::new(exe)
            .args(["doctor", "--json"])
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
    });
    match findings.map(|out| serde_json::from_slice(&out.stdout)) {
        Ok(Ok(value)) => value,
        Ok(Err(e)) => unavailable(format!("failed to parse `cordon doctor --json`: {e}")),
        Err(e) => unavailable(format!("failed to run `cordon doctor --json`: {e}")),
    }
}

fn unavailable(why: String) -> serde_json::Value {
    tracing::warn!(%why, "sandbox findings unavailable");
    serde_json::json!({ "error": why })
}

/// Completes on SIGTERM or ctrl-c (SIGINT).
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let ctrl_c = tokio::signal::ctrl_c();
    match term {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {},
                _ = ctrl_c => {},
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "failed to watch SIGTERM; only ctrl-c stops the service");
            let _ = ctrl_c.await;
        }
    }
    tracing::info!("stopping: cancelling running runs");
}
