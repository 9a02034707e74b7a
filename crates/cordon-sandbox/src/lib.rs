//! cordon's confinement layers and the stage-2 helper that applies them.
//!
//! One module per layer, named with the kernel's word for it. Each returns what it
//! enforced as a [`report::LayerReport`]; [`stage2`] applies them in order inside a fresh
//! single-threaded helper and [`supervisor`] starts that helper and collects the result.

pub mod cgroup;
pub mod env;
pub mod fds;
pub mod identity;
pub mod kill;
pub mod landlock;
pub mod launch;
pub mod mount;
pub mod namespace;
pub mod record;
pub mod report;
pub mod rlimit;
pub mod seccomp;
pub mod session;
pub mod spawn;
pub mod spec;
pub mod stage2;
pub mod supervisor;
pub mod tree;
