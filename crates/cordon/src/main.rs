//! `cordon`: run untrusted commands confined.
//!
//! A thin binary over `cordon-policy` (what a run may do) and `cordon-sandbox` (how it is
//! enforced). The hidden `__stage2` subcommand is the helper the supervisor re-executes to
//! apply confinement in a fresh single-threaded process.
#![forbid(unsafe_code)]

mod cli;
mod doctor;
mod profile;
mod run;
mod serve;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    if std::env::args_os().nth(1).as_deref()
        == Some(cordon_sandbox::supervisor::STAGE2_ARG.as_ref())
    {
        cordon_sandbox::stage2::main();
    }
    init_logging();
    let cli = cli::Cli::parse();
    let code = match cli.command {
        cli::Command::Run(args) => run::run(*args),
        cli::Command::Doctor(args) => doctor::doctor(args),
        cli::Command::Policy(cli::PolicyCommand::Check(args)) => run::policy_check(args),
        cli::Command::Serve(args) => serve::serve(args),
        cli::Command::Mcp(args) => serve::mcp(args),
        cli::Command::Token => serve::token(),
    };
    ExitCode::from(u8::try_from(code.clamp(0, 255)).unwrap_or(255))
}

/// Logs go to stderr (stdout belongs to the command and to `--json`), filtered by
/// `CORDON_LOG` (default: warnings).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CORDON_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
