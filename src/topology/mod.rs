//! Topology files: the RON schema, units, overrides, validation and located diagnostics.
//!
//! Loading has two stages — parse the text into a [`spec::TopologySpec`] (which mirrors the
//! file), then validate it into a [`Topology`] (resolved ids, ready samplers) — so nothing
//! downstream checks twice. It must never run a simulation.

pub mod diagnostic;
pub mod events;
pub mod expect;
pub mod kinds;
pub mod model;
pub mod overrides;
pub mod parse;
pub mod reference;
pub mod size;
pub mod spec;
pub mod validate;

/// The units moved to [`crate::units`] (below both topology and [`crate::dist`]); this path is
/// kept because the kind schemas, the events section and the validator import it from here.
use std::path::Path;

pub use diagnostic::{Diagnostic, Severity, TopologyError};
pub use model::{NodeId, Topology};
pub use overrides::Override;
pub use spec::TopologySpec;

use validate::Origin;

/// Load, override and validate a topology file.
pub fn load_file(path: &Path, overrides: &[Override]) -> Result<Topology, TopologyError> {
    let text = read_model(path)?;
    let base_dir = path.parent().unwrap_or(Path::new("."));
    load_str(&text, Some(path), base_dir, overrides)
}

/// Read a model file as text: a leading UTF-8 byte-order mark is dropped (editors on Windows
/// write one); bytes that are not UTF-8 are an error located at the first bad byte.
pub fn read_model(path: &Path) -> Result<String, TopologyError> {
    let bytes = std::fs::read(path).map_err(|source| TopologyError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    decode_model(&bytes, Some(path)).map_err(|d| TopologyError::Invalid(vec![d]))
}

/// The text of a model file's bytes (see [`read_model`]); `file` labels the diagnostic.
pub fn decode_model(bytes: &[u8], file: Option<&Path>) -> Result<String, Diagnostic> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.to_string()),
        Err(e) => {
            let at = e.valid_up_to();
            let before = &bytes[..at];
            let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
            let line_start = before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            // Columns count characters; the bytes before the bad one on its line are UTF-8.
            let col = String::from_utf8_lossy(&before[line_start..])
                .chars()
                .count()
                + 1;
            let bad = bytes.get(at).copied().unwrap_or(0);
            let mut d = Diagnostic::error(format!(
                "the file is not UTF-8 text: byte 0x{bad:02X} at byte offset {at} (line {line}) cannot start or continue a UTF-8 character"
            ))
            .hint("save the file as UTF-8 (most editors: \"Save with encoding\" → UTF-8)");
            d.file = file.map(Path::to_path_buf);
            d.line_col = Some((line, col));
            Err(d)
        }
    }
}

/// FNV-1a, 64 bits, written out here so a report's model hash never changes with a crate
/// upgrade: the same text always gives the same hash.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_the_published_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn a_bom_is_dropped_and_bad_bytes_are_located() {
        assert_eq!(
            decode_model(b"\xEF\xBB\xBFTopology()", None).unwrap(),
            "Topology()"
        );
        let d = decode_model(b"Topology(\n  name: \"caf\xE9\",\n)", None).unwrap_err();
        assert_eq!(d.line_col, Some((2, 13)));
        assert!(
            d.message.contains("byte 0xE9 at byte offset 22 (line 2)"),
            "{}",
            d.message
        );
    }
}
