//! Located, explained problems found while loading a topology.
//!
//! Every error a user can cause by editing a model ends up here: where it is (file, line,
//! column when the parser knows them, else the field path), which component, what was
//! expected, and a hint (did-you-mean). Warnings use the same shape.

use std::fmt;
use std::path::PathBuf;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The model cannot run.
    Error,
    /// The model runs, but probably not as intended.
    Warning,
}

/// One problem in a model.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The model file, when there is one.
    pub file: Option<PathBuf>,
    /// 1-based line and column, when known.
    pub line_col: Option<(usize, usize)>,
    /// Dotted field path (`components.web.threads`), when known.
    pub path: Option<String>,
    /// The component or workload concerned, when known.
    pub component: Option<String>,
    /// What is wrong and what was expected.
    pub message: String,
    /// How to fix it (did-you-mean, an example).
    pub hint: Option<String>,
}

impl Diagnostic {
    /// An error with just a message.
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            file: None,
            line_col: None,
            path: None,
            component: None,
            message: message.into(),
            hint: None,
        }
    }

    /// A warning with just a message.
    pub fn warning(message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(message)
        }
    }

    /// Set the field path.
    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Set the component.
    pub fn in_component(mut self, name: impl Into<String>) -> Self {
        self.component = Some(name.into());
        self
    }

    /// Set the hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Set the hint if there is one.
    pub fn maybe_hint(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut wrote_location = false;
        if let Some(file) = &self.file {
            write!(f, "{}", file.display())?;
            wrote_location = true;
        }
        if let Some((line, col)) = self.line_col {
            if wrote_location {
                write!(f, ":")?;
            }
            write!(f, "{line}:{col}")?;
            wrote_location = true;
        }
        if wrote_location {
            write!(f, ": ")?;
        }
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{sev}: ")?;
        if let Some(path) = &self.path {
            write!(f, "{path}: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(c) = &self.component {
            write!(f, " (in `{c}`)")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

/// Why a topology could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TopologyError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The model is malformed or inconsistent; every problem found is listed.
    #[error("{}", render(.0))]
    Invalid(Vec<Diagnostic>),
}

impl TopologyError {
    /// The diagnostics (empty for I/O errors).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            TopologyError::Invalid(d) => d,
            TopologyError::Io { .. } => &[],
        }
    }
}

fn render(diags: &[Diagnostic]) -> String {
    diags
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The closest candidate to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let candidates: Vec<&str> = candidates.into_iter().collect();
    let lower = word.to_ascii_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for &c in &candidates {
        let d = edit_distance(&lower, &c.to_ascii_lowercase());
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    let (d, c) = best?;
    let limit = (word.chars().count() / 3).max(2);
    if d == 0 {
        return (c != word).then(|| format!("did you mean `{c}`?"));
    }
    if d <= limit {
        return Some(format!("did you mean `{c}`?"));
    }
    // A longer or shorter spelling of a candidate (`LeastConnections` for `LeastConn`).
    candidates
        .iter()
        .find(|c| is_prefix_spelling(&lower, &c.to_ascii_lowercase()))
        .map(|c| format!("did you mean `{c}`?"))
}

/// One of the two starts with the other, and the shorter is long enough to mean something.
fn is_prefix_spelling(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    short.chars().count() >= 4 && long.starts_with(short)
}

/// Edit distance counting insertions, deletions, substitutions and swaps of two neighbouring
/// characters (`wbe` → `web` is one edit), i.e. the optimal string alignment distance.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // d[i][j]: distance between a[..i] and b[..j]; three rows suffice.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 0..a.len() {
        cur[0] = i + 1;
        for j in 0..b.len() {
            let cost = usize::from(a[i] != b[j]);
            let mut v = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
            if i > 0 && j > 0 && a[i] == b[j - 1] && a[i - 1] == b[j] {
                v = v.min(before[j - 1] + 1);
            }
            cur[j + 1] = v;
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(
            did_you_mean("thread", ["threads", "cpus"]).as_deref(),
            Some("did you mean `threads`?")
        );
        assert_eq!(
            did_you_mean("LeastCon", ["RoundRobin", "LeastConn"]).as_deref(),
            Some("did you mean `LeastConn`?")
        );
        assert_eq!(did_you_mean("zzzzzz", ["threads", "cpus"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("wbe", "web"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(
            did_you_mean("wbe", ["lb", "web"]).as_deref(),
            Some("did you mean `web`?")
        );
        assert_eq!(
            did_you_mean("LeastConnections", ["RoundRobin", "LeastConn"]).as_deref(),
            Some("did you mean `LeastConn`?")
        );
        assert_eq!(did_you_mean("db", ["dbx_replica"]), None);
    }

    #[test]
    fn display_has_location_component_and_hint() {
        let mut d = Diagnostic::error("unknown field `thread`")
            .at("components.web")
            .in_component("web")
            .hint("did you mean `threads`?");
        d.file = Some("m.ron".into());
        d.line_col = Some((3, 7));
        assert_eq!(
            d.to_string(),
            "m.ron:3:7: error: components.web: unknown field `thread` (in `web`)\n  hint: did you mean `threads`?"
        );
    }
}
