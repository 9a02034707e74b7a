//! The enforcement report: what each confinement layer actually enforced on this run.
//!
//! Every layer returns a [`LayerReport`]; the run record, `cordon doctor` and strict mode all
//! read the same [`Report`] value rather than log lines.

use serde::{Deserialize, Serialize};

/// How fully a layer is in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// The layer is in force as requested.
    Enforced,
    /// Part of the layer is in force; `detail` says which part is not.
    Partial,
    /// The layer could not be applied on this host; `detail` says why.
    Missing,
    /// The layer was switched off by the mode or the policy (not a failure).
    Off,
}

/// One layer's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerReport {
    /// Stable layer name, e.g. `landlock`, `seccomp`, `namespace.pid`, `limit.memory`.
    pub layer: String,
    pub level: Level,
    /// What is enforced and by which mechanism, or why not.
    pub detail: String,
}

impl LayerReport {
    pub fn new(layer: impl Into<String>, level: Level, detail: impl Into<String>) -> Self {
        Self {
            layer: layer.into(),
            level,
            detail: detail.into(),
        }
    }

    pub fn enforced(layer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(layer, Level::Enforced, detail)
    }

    pub fn partial(layer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(layer, Level::Partial, detail)
    }

    pub fn missing(layer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(layer, Level::Missing, detail)
    }

    pub fn off(layer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(layer, Level::Off, detail)
    }
}

/// The whole report of one run (or of this host, for `cordon doctor`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub layers: Vec<LayerReport>,
}

impl Report {
    pub fn push(&mut self, layer: LayerReport) {
        self.layers.push(layer);
    }

    /// Layers that are not fully enforced (ignoring those switched off on purpose).
    pub fn shortfalls(&self) -> impl Iterator<Item = &LayerReport> {
        self.layers
            .iter()
            .filter(|l| matches!(l.level, Level::Partial | Level::Missing))
    }

    /// True when every layer is enforced (or deliberately off).
    pub fn is_complete(&self) -> bool {
        self.shortfalls().next().is_none()
    }

    /// One line for stderr: `layer=level` pairs, with the reason for each shortfall.
    pub fn summary_line(&self) -> String {
        let mut parts = Vec::with_capacity(self.layers.len());
        for l in &self.layers {
            let level = match l.level {
                Level::Enforced => "enforced",
                Level::Partial => "partial",
                Level::Missing => "missing",
                Level::Off => "off",
            };
            match l.level {
                Level::Enforced | Level::Off => parts.push(format!("{}={level}", l.layer)),
                Level::Partial | Level::Missing => {
                    parts.push(format!("{}={level} ({})", l.layer, l.detail))
                }
            }
        }
        parts.join(", ")
    }
}
