//! `cordon-stage2`: the stage-2 helper on its own.
//!
//! The supervisor re-executes a helper for every run (see `cordon_sandbox::stage2`). The
//! full `cordon` binary serves that purpose too, but it also carries the CLI, the HTTP
//! and MCP service and their dependencies; this small binary holds only the confinement
//! code, so each run loads and relocates far less before the command starts. cordon uses
//! it when it sits beside the `cordon` binary, and falls back to `cordon __stage2`.
#![forbid(unsafe_code)]

fn main() {
    cordon_sandbox::stage2::main();
}
