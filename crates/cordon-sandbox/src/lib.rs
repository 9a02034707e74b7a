//! cordon's confinement layers and the stage-2 helper that applies them.
pub mod report;
