//! Command-line interface: raw arguments, help text beside each flag.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

const EXIT_CODES: &str = "\
Exit codes of `cordon run`:
  N      the command's own exit status
  128+N  the command was killed by signal N
  124    the run hit its wall-clock limit (--timeout)
  125    cordon could not set up the sandbox, or strict mode refused to run
  126    the command was found but could not be executed
  127    the command was not found";

#[derive(Parser, Debug)]
#[command(name = "cordon", version, about = "Run untrusted commands confined: Landlock, seccomp, namespaces, limits", after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run one command confined.
    #[command(after_help = EXIT_CODES)]
    Run(Box<RunArgs>),
    /// Show what this host can enforce, and how to get more.
    Doctor(DoctorArgs),
    /// Work with policy files.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Serve the HTTP JSON API (/v1) and the MCP endpoint (/mcp) for the configured tenants.
    Serve(ServeArgs),
    /// Serve the MCP tools over stdin/stdout for one tenant (logs go to stderr).
    Mcp(McpArgs),
    /// Create a bearer token: prints it once, and the token_sha256 line for the config.
    Token,
}

/// The service's config file when `--config` is not given.
pub const DEFAULT_SERVICE_CONFIG: &str = "/etc/cordon/service.toml";

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The service's TOML config (listen address, state dir, tenants and their token hashes).
    #[arg(long, value_name = "FILE", env = "CORDON_CONFIG", default_value = DEFAULT_SERVICE_CONFIG)]
    pub config: PathBuf,
}

#[derive(Args, Debug)]
pub struct McpArgs {
    /// The service's TOML config (listen address, state dir, tenants and their token hashes).
    #[arg(long, value_name = "FILE", env = "CORDON_CONFIG", default_value = DEFAULT_SERVICE_CONFIG)]
    pub config: PathBuf,
    /// The tenant whose runs these tools create and see; default: the only configured one.
    #[arg(long, value_name = "NAME")]
    pub tenant: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Validate a policy file and print every problem with its line and key.
    Check(CheckArgs),
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The TOML policy file.
    pub file: PathBuf,
}

#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// Print the findings as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// TOML policy file; the flags below add to it.
    #[arg(long, value_name = "FILE", conflicts_with = "profile")]
    pub policy: Option<PathBuf>,
    /// Named policy: NAME.toml from $CORDON_PROFILE_DIR, /etc/cordon/profiles, or the
    /// built-in ones (energyplus, gcc, python, ruby); the flags below add to it.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Grant read and execute below PATH (repeatable).
    #[arg(long = "ro", value_name = "PATH")]
    pub ro: Vec<PathBuf>,
    /// Grant read and write below PATH (repeatable); the first is HOME and TMPDIR.
    #[arg(long = "rw", value_name = "PATH")]
    pub rw: Vec<PathBuf>,
    /// Network: deny (default) or allow.
    #[arg(long, value_name = "deny|allow")]
    pub net: Option<String>,
    /// Pass an environment entry: NAME=VALUE, or NAME to pass the caller's value.
    #[arg(long = "env", value_name = "NAME[=VALUE]")]
    pub env: Vec<String>,
    /// auto (every layer the kernel allows, reported), strict (refuse unless every layer
    /// is enforced) or off (no confinement, for debugging).
    #[arg(long, value_name = "auto|strict|off")]
    pub mode: Option<String>,
    /// Tenant name: as root, runs get a uid of their own per tenant.
    #[arg(long, value_name = "NAME")]
    pub tenant: Option<String>,
    /// Wall-clock limit, e.g. 30s, 10m, 2h; 0 or none for no limit.
    #[arg(long, value_name = "DUR")]
    pub timeout: Option<String>,
    /// CPU time limit of the whole run.
    #[arg(long, value_name = "DUR")]
    pub cpu: Option<String>,
    /// Memory limit of the whole run, e.g. 512MiB, 4GiB.
    #[arg(long, value_name = "SIZE")]
    pub memory: Option<String>,
    /// Processes and threads alive at once in the run.
    #[arg(long, value_name = "N")]
    pub pids: Option<String>,
    /// Largest file the run may write.
    #[arg(long = "file-size", value_name = "SIZE")]
    pub file_size: Option<String>,
    /// Open descriptors per process.
    #[arg(long = "open-files", value_name = "N")]
    pub open_files: Option<String>,
    /// Bytes all read-write folders may hold together, e.g. 2GiB. The folders then live
    /// on a private tmpfs of that size during the run and are copied back at its end.
    #[arg(long, value_name = "SIZE")]
    pub disk: Option<String>,
    /// Print one JSON run record on stdout when the command ends.
    #[arg(long)]
    pub json: bool,
    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}
