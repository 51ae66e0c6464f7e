//! Stage one of loading: RON text → [`TopologySpec`], with parser errors turned into located
//! diagnostics (line, column, the enclosing component, did-you-mean).

use std::path::Path;

use ron::error::{Error as RonError, SpannedError};
use ron::extensions::Extensions;

use super::diagnostic::{Diagnostic, did_you_mean};
use super::spec::TopologySpec;

/// RON options for topology files: `Some(..)` may be omitted around optional values.
pub fn ron_options() -> ron::Options {
    ron::Options::default()
        .with_default_extension(Extensions::IMPLICIT_SOME)
        .with_default_extension(Extensions::UNWRAP_VARIANT_NEWTYPES)
}

/// Parse topology text; `file` only labels diagnostics.
pub fn parse_spec(text: &str, file: Option<&Path>) -> Result<TopologySpec, Diagnostic> {
    ron_options()
        .from_str::<TopologySpec>(text)
        .map_err(|e| ron_diagnostic(&e, text, file))
}

/// Turn a RON error into a diagnostic with its position, component and a hint.
pub fn ron_diagnostic(e: &SpannedError, text: &str, file: Option<&Path>) -> Diagnostic {
    let (line, col) = (e.span.start.line, e.span.start.col);
    let (message, hint) = explain(&e.code);
    let mut d = Diagnostic::error(message).maybe_hint(hint);
    d.file = file.map(Path::to_path_buf);
    d.line_col = Some((line, col));
    d.component = enclosing_entry(text, line);
    d
}

fn explain(code: &RonError) -> (String, Option<String>) {
    match code {
        RonError::NoSuchStructField {
            expected,
            found,
            outer,
        } => (
            format!(
                "unknown field `{found}`{}; expected one of: {}",
                outer
                    .as_ref()
                    .map(|o| format!(" in `{o}`"))
                    .unwrap_or_default(),
                expected.join(", ")
            ),
            did_you_mean(found, expected.iter().copied()),
        ),
        RonError::NoSuchEnumVariant {
            expected,
            found,
            outer,
        } => (
            format!(
                "unknown {} `{found}`; expected one of: {}",
                outer
                    .as_ref()
                    .map(|o| format!("`{o}` variant"))
                    .unwrap_or_else(|| "variant".into()),
                expected.join(", ")
            ),
            did_you_mean(found, expected.iter().copied()),
        ),
        RonError::MissingStructField { field, outer } => (
            format!(
                "missing field `{field}`{}",
                outer
                    .as_ref()
                    .map(|o| format!(" in `{o}`"))
                    .unwrap_or_default()
            ),
            Some(format!(
                "add `{field}: ...`; it identifies what this entry connects to"
            )),
        ),
        RonError::DuplicateStructField { field, .. } => (
            format!("field `{field}` is given twice"),
            Some("keep one of them".into()),
        ),
        RonError::ExpectedComma => (
            "expected a comma".into(),
            Some("separate fields and entries with `,`".into()),
        ),
        RonError::Eof => (
            "unexpected end of file".into(),
            Some("a bracket `(`, `[` or `{` is probably not closed".into()),
        ),
        RonError::ExpectedDifferentStructName { expected, found } => (
            format!("expected `{expected}(...)`, found `{found}(...)`"),
            did_you_mean(found, [*expected]),
        ),
        other => (other.to_string(), None),
    }
}

/// The name of the `"name": Kind(` entry that encloses `line`, found by scanning the text
/// (the parse failed, so there is no tree to ask).
pub fn enclosing_entry(text: &str, line: usize) -> Option<String> {
    let mut found = None;
    for (i, l) in text.lines().enumerate() {
        if i + 1 > line {
            break;
        }
        if let Some(name) = entry_name(l) {
            found = Some(name);
        }
    }
    found
}

fn entry_name(line: &str) -> Option<String> {
    let t = line.trim_start();
    let rest = t.strip_prefix('"')?;
    let end = rest.find('"')?;
    let name = &rest[..end];
    let after = rest[end + 1..].trim_start().strip_prefix(':')?.trim_start();
    // `"web": Service(` — a named entry whose value is a variant.
    after.chars().next().filter(|c| c.is_ascii_uppercase())?;
    Some(name.to_string())
}

/// Line and column (1-based) of the first `"name"` key followed by `:` in the text.
pub fn locate_key(text: &str, name: &str) -> Option<(usize, usize)> {
    let needle = format!("\"{name}\"");
    for (i, l) in text.lines().enumerate() {
        if let Some(pos) = l.find(&needle)
            && l[pos + needle.len()..].trim_start().starts_with(':')
        {
            return Some((i + 1, l[..pos].chars().count() + 1));
        }
    }
    None
}

/// Line and column of `field:` after the entry `"component"`, or of the entry itself.
pub fn locate_field(text: &str, component: &str, field: Option<&str>) -> Option<(usize, usize)> {
    let (line, col) = locate_key(text, component)?;
    let Some(field) = field else {
        return Some((line, col));
    };
    let mut depth = 0i32;
    let mut started = false;
    for (i, l) in text.lines().enumerate().skip(line - 1) {
        let start = if i + 1 == line { col - 1 } else { 0 };
        let seg: String = l.chars().skip(start).collect();
        if let Some(pos) = find_ident(&seg, field)
            && (depth <= 1 || !started)
        {
            let c = start + seg[..pos].chars().count() + 1;
            return Some((i + 1, c));
        }
        for ch in seg.chars() {
            match ch {
                '(' | '[' | '{' => {
                    depth += 1;
                    started = true;
                }
                ')' | ']' | '}' => depth -= 1,
                _ => {}
            }
        }
        if started && depth <= 0 {
            break;
        }
    }
    Some((line, col))
}

fn find_ident(seg: &str, ident: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(p) = seg[from..].find(ident) {
        let pos = from + p;
        let before_ok = pos == 0
            || !seg[..pos]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '"');
        let after = &seg[pos + ident.len()..];
        if before_ok && after.trim_start().starts_with(':') {
            return Some(pos);
        }
        from = pos + ident.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_field_is_located_with_hint() {
        let text = "Topology(\n  components: {\n    \"web\": Service(thread: 4),\n  },\n)";
        let d = parse_spec(text, Some(Path::new("m.ron"))).unwrap_err();
        assert_eq!(d.line_col.map(|l| l.0), Some(3));
        assert_eq!(d.component.as_deref(), Some("web"));
        assert_eq!(d.hint.as_deref(), Some("did you mean `threads`?"));
        assert!(d.to_string().starts_with("m.ron:3:"), "{d}");
    }

    #[test]
    fn fields_are_found_in_text() {
        let text = "Topology(\n  components: {\n    \"db\": Service(threads: 4),\n    \"web\": Service(\n      threads: 2,\n    ),\n  },\n)";
        assert_eq!(locate_field(text, "web", Some("threads")), Some((5, 7)));
        assert_eq!(locate_field(text, "db", Some("threads")), Some((3, 19)));
        assert_eq!(locate_field(text, "web", None), Some((4, 5)));
    }
}
