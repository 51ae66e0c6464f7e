//! Topology files: the RON schema, units, overrides, validation and located diagnostics.
//!
//! Loading has two stages — parse the text into a [`spec::TopologySpec`] (which mirrors the
//! file), then validate it into a [`Topology`] (resolved ids, ready samplers) — so nothing
//! downstream checks twice. It must never run a simulation.

pub mod diagnostic;
pub mod events;
pub mod kinds;
pub mod model;
pub mod overrides;
pub mod parse;
pub mod reference;
pub mod spec;
pub mod units;
pub mod validate;

use std::path::Path;

pub use diagnostic::{Diagnostic, Severity, TopologyError};
pub use model::{NodeId, Topology};
pub use overrides::Override;
pub use spec::TopologySpec;

use validate::Origin;

/// Load, override and validate a topology file.
pub fn load_file(path: &Path, overrides: &[Override]) -> Result<Topology, TopologyError> {
    let text = std::fs::read_to_string(path).map_err(|source| TopologyError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let base_dir = path.parent().unwrap_or(Path::new("."));
    load_str(&text, Some(path), base_dir, overrides)
}

/// Load, override and validate topology text; `file` labels diagnostics, `base_dir` resolves
/// relative sample and trace files.
pub fn load_str(
    text: &str,
    file: Option<&Path>,
    base_dir: &Path,
    overrides: &[Override],
) -> Result<Topology, TopologyError> {
    let spec = parse::parse_spec(text, file).map_err(|d| TopologyError::Invalid(vec![d]))?;
    let spec = overrides::apply(&spec, overrides).map_err(|d| TopologyError::Invalid(vec![d]))?;
    from_spec(
        spec,
        &Origin {
            file,
            text: Some(text),
            base_dir,
        },
    )
}

/// Validate a spec built in code (no file to locate errors in).
pub fn from_spec(spec: TopologySpec, origin: &Origin<'_>) -> Result<Topology, TopologyError> {
    validate::validate(spec, origin).map_err(TopologyError::Invalid)
}

/// Write a spec back as RON (keeps `description` and `look_for`).
pub fn to_ron(spec: &TopologySpec) -> Result<String, ron::Error> {
    let cfg = ron::ser::PrettyConfig::new()
        .struct_names(true)
        .depth_limit(6);
    parse::ron_options().to_string_pretty(spec, cfg)
}
