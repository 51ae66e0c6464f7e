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
    let spec = ron_options()
        .from_str::<TopologySpec>(text)
        .map_err(|e| ron_diagnostic(&e, text, file))?;
    match non_finite_number(text, file).or_else(|| duplicate_key(text, file)) {
        Some(d) => Err(d),
        None => Ok(spec),
    }
}

/// An empty map key (`"": Service(...)`), or a key written twice in one map (`{"web": ..., "web": ...}`): RON keeps the last one
/// silently, so the first would vanish without a word. Located at the second, naming the
/// first; every map of the file format is covered, whatever it holds.
fn duplicate_key(text: &str, file: Option<&Path>) -> Option<Diagnostic> {
    let toks = tokens(text);
    // Per open bracket: the keys seen so far (with where) when it is a map.
    type Seen<'t> = std::collections::BTreeMap<&'t str, (usize, usize)>;
    let mut stack: Vec<(char, Seen<'_>)> = Vec::new();
    for (k, t) in toks.iter().enumerate() {
        match t.kind {
            TokKind::Open(c) => stack.push((c, std::collections::BTreeMap::new())),
            TokKind::Close(_) => {
                stack.pop();
            }
            TokKind::Str(true) if toks.get(k + 1).is_some_and(|n| n.kind == TokKind::Colon) => {
                let Some(('{', keys)) = stack.last_mut() else {
                    continue;
                };
                if t.text.trim().is_empty() {
                    let ctx = context_at(&toks, t.at);
                    let mut d = Diagnostic::error(
                        "an empty name: every component, workload, class and region needs one"
                            .to_string(),
                    )
                    .maybe_hint(Some("write a name between the quotes, e.g. \"web\"".into()));
                    d.file = file.map(Path::to_path_buf);
                    d.line_col = Some(t.at);
                    if !ctx.parent_path.is_empty() {
                        d.path = Some(ctx.parent_path);
                    }
                    return Some(d);
                }
                if let Some(&(line, col)) = keys.get(t.text.as_str()) {
                    let ctx = context_at(&toks, t.at);
                    let mut d = Diagnostic::error(format!(
                        "duplicate key `{}`: it is also at line {line}, column {col}, and only one of them would count",
                        t.text
                    ))
                    .maybe_hint(Some("rename one of them, or merge them into one entry".into()));
                    d.file = file.map(Path::to_path_buf);
                    d.line_col = Some(t.at);
                    if !ctx.parent_path.is_empty() {
                        d.path = Some(ctx.parent_path);
                    }
                    d.component = ctx.entry;
                    return Some(d);
                }
                keys.insert(t.text.as_str(), t.at);
            }
            _ => {}
        }
    }
    None
}

/// RON reads `inf`, `NaN` and literals too large for a float (`1e999`) as numbers that no
/// field can use; say so where they are written, before validation takes them for negative.
fn non_finite_number(text: &str, file: Option<&Path>) -> Option<Diagnostic> {
    let toks = tokens(text);
    let (k, (message, hint)) = toks.iter().enumerate().find_map(|(k, t)| {
        let field_name = toks.get(k + 1).is_some_and(|n| n.kind == TokKind::Colon);
        match t.kind {
            TokKind::Ident if !field_name && matches!(t.text.as_str(), "inf" | "NaN") => Some((
                k,
                (
                    format!(
                        "`{}` is not a finite number: multipliers, shares and other numbers must be finite",
                        t.text
                    ),
                    format!("write a finite number in place of `{}`, e.g. `10.0`", t.text),
                ),
            )),
            TokKind::Number => {
                let digits = t.text.replace('_', "");
                let digits = digits.trim_end_matches(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E');
                digits
                    .parse::<f64>()
                    .is_ok_and(f64::is_infinite)
                    .then(|| {
                        (
                            k,
                            (
                                format!("`{}` is too large for a number (it overflows to infinity)", t.text),
                                "check the exponent: numbers go up to about 1.8e308, and no field needs more than a few digits".to_string(),
                            ),
                        )
                    })
            }
            _ => None,
        }
    })?;
    let at = toks[k].at;
    let ctx = context_at(&toks, at);
    let mut d = Diagnostic::error(message).hint(hint);
    d.file = file.map(Path::to_path_buf);
    d.line_col = Some(at);
    if !ctx.path.is_empty() {
        d.path = Some(ctx.path);
    }
    d.component = ctx.entry;
    Some(d)
}

/// Turn a RON error into a diagnostic with its position, field path, component and a hint.
pub fn ron_diagnostic(e: &SpannedError, text: &str, file: Option<&Path>) -> Diagnostic {
    let (line, col) = (e.span.start.line.max(1), e.span.start.col.max(1));
    let toks = tokens(text);
    let ctx = context_at(&toks, (line, col));
    let (mut message, mut hint) = explain(&e.code);
    if toks.is_empty() {
        message = "the file is empty (or holds only comments): expected `Topology(...)`".into();
        hint = "start from a bundled model, e.g. models/quickstart.ron".into();
    } else if is_syntax(&e.code) {
        if let Some(found) = ctx.next_close {
            message = format!("{message}, found `{found}`");
        }
        if matches!(e.code, RonError::ExpectedComma) && fraction_at(text, (line, col)) {
            message = "expected a whole number, found a fraction".into();
            hint = "this field counts things: write e.g. `2`, not `2.5`".into();
        } else if matches!(
            e.code,
            RonError::UnclosedBlockComment | RonError::UnclosedLineComment
        ) {
            // The comment swallowed the brackets: its own hint is the one that helps.
        } else if let Some((l, c)) = ctx.open_string {
            hint =
                format!("the string that starts at {l}:{c} is never closed; add its closing `\"`");
        } else if let Some((l, c)) = ctx.runaway_string {
            hint = format!(
                "the string that starts at {l}:{c} runs across a line end; is a `\"` missing (or one too many)?"
            );
        } else if let Some((open, l, c)) = ctx.unclosed {
            hint = format!(
                "the `{open}` at {l}:{c} is not closed; add `{}` where its contents end",
                closer(open)
            );
        } else if let (RonError::ExpectedComma, Some(prev)) = (&e.code, ctx.prev_end_line)
            && prev < line
        {
            hint = format!("a `,` is probably missing at the end of line {prev}");
        }
    }
    let mut d = Diagnostic::error(message).hint(hint);
    d.file = file.map(Path::to_path_buf);
    d.line_col = Some((line, col));
    if !is_syntax(&e.code) {
        let path = if matches!(e.code, RonError::MissingStructField { .. }) {
            ctx.parent_path
        } else {
            ctx.path
        };
        if !path.is_empty() {
            d.path = Some(path);
        }
    }
    d.component = ctx.entry;
    d
}

/// Whether the text at `pos` (1-based line, column) is `.digit` right after a digit: a
/// fraction where the parser wanted a whole number (it read `2` of `2.5`).
fn fraction_at(text: &str, (line, col): (usize, usize)) -> bool {
    let Some(l) = text.lines().nth(line - 1) else {
        return false;
    };
    let chars: Vec<char> = l.chars().collect();
    let at = col - 1;
    at >= 1
        && chars.get(at) == Some(&'.')
        && chars.get(at - 1).is_some_and(char::is_ascii_digit)
        && chars.get(at + 1).is_some_and(char::is_ascii_digit)
}

/// Errors about the shape of the text itself (brackets, commas, quotes) rather than a value.
fn is_syntax(code: &RonError) -> bool {
    matches!(
        code,
        RonError::Eof
            | RonError::ExpectedComma
            | RonError::ExpectedIdentifier
            | RonError::ExpectedStringEnd
            | RonError::ExpectedStructLikeEnd
            | RonError::ExpectedMapEnd
            | RonError::ExpectedArrayEnd
            | RonError::ExpectedMapColon
            | RonError::ExpectedOptionEnd
            | RonError::UnexpectedChar(_)
            | RonError::TrailingCharacters
            | RonError::UnclosedBlockComment
            | RonError::UnclosedLineComment
            | RonError::ExceededRecursionLimit
    )
}

fn closer(open: char) -> char {
    match open {
        '(' => ')',
        '[' => ']',
        _ => '}',
    }
}

fn explain(code: &RonError) -> (String, String) {
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
            did_you_mean(found, expected.iter().copied()).unwrap_or_else(|| {
                "remove it, or write one of the fields listed (`flashcrowd reference` explains each)"
                    .into()
            }),
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
            did_you_mean(found, expected.iter().copied()).unwrap_or_else(|| {
                "write one of the names listed, spelled and capitalized as there".into()
            }),
        ),
        RonError::MissingStructField { field, outer } => (
            format!(
                "missing field `{field}`{}",
                outer
                    .as_ref()
                    .map(|o| format!(" in `{o}`"))
                    .unwrap_or_default()
            ),
            if matches!(*field, "to" | "backends") {
                format!("add `{field}: ...`; it identifies what this entry connects to")
            } else {
                format!("add `{field}: ...`; it has no default")
            },
        ),
        RonError::IntegerOutOfBounds => (
            "the whole number is out of range for this field (negative, or too large)".into(),
            "write a whole number of 0 or more that fits the field: counts go up to 4294967295, `seed` up to 18446744073709551615".into(),
        ),
        RonError::UnclosedBlockComment => (
            "a `/*` comment is never closed".into(),
            "close it with `*/` (everything after `/*` was read as a comment)".into(),
        ),
        RonError::DuplicateStructField { field, .. } => (
            format!("field `{field}` is given twice"),
            "keep one of them".into(),
        ),
        RonError::ExpectedComma => (
            "expected a comma".into(),
            "separate fields and entries with `,`".into(),
        ),
        RonError::Eof => (
            "unexpected end of file".into(),
            "a bracket `(`, `[` or `{` is probably not closed".into(),
        ),
        RonError::ExpectedDifferentStructName { expected, found } => (
            format!("expected `{expected}(...)`, found `{found}(...)`"),
            did_you_mean(found, [*expected]).unwrap_or_else(|| {
                if *expected == "Topology" {
                    "a model file is one `Topology( ... )` with its components inside; start from a bundled model, e.g. models/quickstart.ron".into()
                } else {
                    format!("write `{expected}( ... )` here")
                }
            }),
        ),
        RonError::ExpectedNamedStructLike(name) => (
            format!("expected `{name}(...)`"),
            if *name == "Topology" {
                "a model file is one `Topology( ... )`".into()
            } else {
                format!("write `{name}( ... )` here")
            },
        ),
        RonError::ExpectedIdentifier => (
            "expected a field name".into(),
            "write `field: value`; field names are letters, digits and `_`".into(),
        ),
        RonError::ExpectedStringEnd => (
            "a string is not closed".into(),
            "add the closing `\"`".into(),
        ),
        RonError::ExpectedStructLikeEnd => (
            "expected `)`".into(),
            "close the `(` with `)`; is a `,` missing, or a bracket of another kind in the way?"
                .into(),
        ),
        RonError::ExpectedMapEnd => (
            "expected `}`".into(),
            "close the `{` with `}`; map entries are `\"key\": value`, separated by `,`".into(),
        ),
        RonError::ExpectedArrayEnd => (
            "expected `]`".into(),
            "close the `[` with `]`; list items are separated by `,`".into(),
        ),
        RonError::ExpectedMapColon => (
            "expected `:` after a field name or key".into(),
            "write `field: value`, and map entries as `\"key\": value`".into(),
        ),
        RonError::ExpectedString => (
            "expected a string in double quotes".into(),
            "names and map keys are quoted, e.g. `\"web\"`".into(),
        ),
        RonError::ExpectedInteger => (
            "expected a whole number".into(),
            "write digits only, e.g. `4` (no quotes, no unit)".into(),
        ),
        RonError::ExpectedFloat => (
            "expected a number".into(),
            "write a plain number, e.g. `0.5` or `10.0` (no quotes, no unit)".into(),
        ),
        RonError::ExpectedMap => (
            "expected a map `{ ... }`".into(),
            "e.g. `{\"web\": Service(...)}` or `{\"read\": 0.9, \"write\": 0.1}`".into(),
        ),
        RonError::ExpectedArray => (
            "expected a list `[ ... ]`".into(),
            "e.g. `[\"web\"]`".into(),
        ),
        RonError::ExpectedStructLike => (
            "expected `(`".into(),
            "write `Name(field: value, ...)`, e.g. `Exp(mean: \"2ms\")`".into(),
        ),
        RonError::InvalidValueForType { expected, found } if found == "a unit value" => (
            format!("expected {expected}, found a bare word or `()`"),
            "text values go in double quotes, e.g. `\"5ms\"`, `\"100/s\"`".into(),
        ),
        RonError::InvalidValueForType { expected, found } => (
            format!("expected {expected}, found {found}"),
            format!("write {expected} here"),
        ),
        RonError::SuggestRawIdentifier(found) | RonError::InvalidIdentifier(found) => (
            format!("`{found}` is not a field name"),
            "field names are letters, digits and `_`; is a `:` or `,` missing?".into(),
        ),
        RonError::UnexpectedChar(c) if c.is_whitespace() => (
            "unexpected space".into(),
            "remove it, or put text that holds spaces in double quotes".into(),
        ),
        RonError::UnexpectedChar(c) => (
            format!("unexpected `{c}`"),
            "remove it; text values go in double quotes, e.g. `\"5ms\"`".into(),
        ),
        RonError::TrailingCharacters => (
            "unexpected text after the end of the model".into(),
            "a `)` probably closes `Topology(` too early".into(),
        ),
        // Our own messages (units, capacities) are written as they should be shown.
        RonError::Message(m) => {
            let (message, hint) = crate::units::split_hint(m);
            (
                message,
                hint.unwrap_or_else(|| {
                    "`flashcrowd reference` shows what this field takes, with an example".into()
                }),
            )
        }
        other => (
            lowercase_first(&other.to_string()),
            "`flashcrowd reference` shows what this field takes, with an example".into(),
        ),
    }
}

/// RON's messages start with a capital; ours do not.
fn lowercase_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) if !c.as_str().starts_with(|x: char| x.is_uppercase()) => {
            first.to_lowercase().chain(c).collect()
        }
        _ => s.to_string(),
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

/// A token of RON text, as far as locating things needs: comments and whitespace are dropped,
/// strings are kept whole (even when they run to the end of the text).
#[derive(Debug, Clone, PartialEq)]
struct Tok {
    kind: TokKind,
    /// Identifier name or string contents.
    text: String,
    /// 1-based line and column where the token starts.
    at: (usize, usize),
    /// Line where the token ends.
    end_line: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum TokKind {
    Ident,
    /// A string; `false` when it runs to the end of the text.
    Str(bool),
    Open(char),
    Close(char),
    Colon,
    Comma,
    /// A number literal (digits, `.`, `_`, an exponent, a type suffix).
    Number,
    Other,
}

/// Split RON text into [`Tok`]s; never fails (unknown characters become `Other`).
fn tokens(text: &str) -> Vec<Tok> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line, mut col) = (0usize, 1usize, 1usize);
    // Advance over `n` characters, keeping line and column.
    let step = |i: &mut usize, line: &mut usize, col: &mut usize, n: usize| {
        for _ in 0..n {
            if *i >= chars.len() {
                return;
            }
            if chars[*i] == '\n' {
                *line += 1;
                *col = 1;
            } else {
                *col += 1;
            }
            *i += 1;
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let at = (line, col);
        if c.is_whitespace() {
            step(&mut i, &mut line, &mut col, 1);
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                step(&mut i, &mut line, &mut col, 1);
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0usize;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    step(&mut i, &mut line, &mut col, 2);
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    step(&mut i, &mut line, &mut col, 2);
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                } else {
                    step(&mut i, &mut line, &mut col, 1);
                }
            }
        } else if c == '"' || (c == 'r' && matches!(next, Some('"' | '#'))) {
            // Plain `"..."` (with escapes) or raw `r#"..."#`.
            let mut hashes = 0;
            if c == 'r' {
                step(&mut i, &mut line, &mut col, 1);
                while chars.get(i) == Some(&'#') {
                    hashes += 1;
                    step(&mut i, &mut line, &mut col, 1);
                }
                if chars.get(i) != Some(&'"') {
                    // `r#ident` (a raw identifier) or stray text.
                    out.push(Tok {
                        kind: TokKind::Other,
                        text: String::new(),
                        at,
                        end_line: line,
                    });
                    continue;
                }
            }
            step(&mut i, &mut line, &mut col, 1);
            let mut s = String::new();
            let mut closed = false;
            while i < chars.len() {
                let ch = chars[i];
                if hashes == 0 && ch == '\\' {
                    if let Some(&e) = chars.get(i + 1) {
                        s.push(e);
                    }
                    step(&mut i, &mut line, &mut col, 2);
                } else if ch == '"' && (0..hashes).all(|k| chars.get(i + 1 + k) == Some(&'#')) {
                    step(&mut i, &mut line, &mut col, 1 + hashes);
                    closed = true;
                    break;
                } else {
                    s.push(ch);
                    step(&mut i, &mut line, &mut col, 1);
                }
            }
            out.push(Tok {
                kind: TokKind::Str(closed),
                text: s,
                at,
                end_line: line,
            });
        } else if c.is_ascii_digit() {
            let mut s = String::new();
            while i < chars.len() {
                let ch = chars[i];
                let exp_sign = matches!(ch, '+' | '-') && s.ends_with(['e', 'E']);
                if !(ch.is_ascii_alphanumeric() || ch == '.' || ch == '_' || exp_sign) {
                    break;
                }
                s.push(ch);
                step(&mut i, &mut line, &mut col, 1);
            }
            out.push(Tok {
                kind: TokKind::Number,
                text: s,
                at,
                end_line: line,
            });
        } else if c.is_alphabetic() || c == '_' {
            let mut s = String::new();
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                s.push(chars[i]);
                step(&mut i, &mut line, &mut col, 1);
            }
            out.push(Tok {
                kind: TokKind::Ident,
                text: s,
                at,
                end_line: line,
            });
        } else {
            let kind = match c {
                '(' | '[' | '{' => TokKind::Open(c),
                ')' | ']' | '}' => TokKind::Close(c),
                ':' => TokKind::Colon,
                ',' => TokKind::Comma,
                _ => TokKind::Other,
            };
            out.push(Tok {
                kind,
                text: String::new(),
                at,
                end_line: line,
            });
            step(&mut i, &mut line, &mut col, 1);
        }
    }
    out
}

/// One open bracket while walking the tokens.
struct Frame {
    open: char,
    at: (usize, usize),
    /// The field or map key whose value is being read (`threads`, `"web"`).
    key: Option<String>,
    /// Position in a list (`[`) or tuple.
    index: usize,
    /// `"name"` when the bracket opens a named entry `"name": Kind(`.
    entry: Option<String>,
}

/// What surrounds a position in the text.
#[derive(Debug, Default, PartialEq)]
struct Context {
    /// Dotted field path (`components.web.threads`), as `validate` writes it.
    path: String,
    /// The same without the innermost key (for "missing field" errors, which point at `)`).
    parent_path: String,
    /// The innermost named entry.
    entry: Option<String>,
    /// The closing bracket at the position, when it does not match the innermost open one.
    next_close: Option<char>,
    /// An open bracket that is probably missing its closer: (bracket, line, col).
    unclosed: Option<(char, usize, usize)>,
    /// A string that runs to the end of the text.
    open_string: Option<(usize, usize)>,
    /// The line where the token before the position ends.
    prev_end_line: Option<usize>,
    /// A string spanning several lines that ends on the position's line (a missing `"` makes
    /// the next string's opening quote close it), or starts at the position (an extra `"`).
    runaway_string: Option<(usize, usize)>,
}

fn frame_path(stack: &[Frame], innermost_key: bool) -> String {
    let mut parts: Vec<String> = Vec::new();
    for (k, f) in stack.iter().enumerate() {
        let last = k + 1 == stack.len();
        match f.open {
            '[' => parts.push(f.index.to_string()),
            _ => {
                if let Some(key) = &f.key
                    && (innermost_key || !last)
                {
                    parts.push(key.clone());
                }
            }
        }
    }
    parts.join(".")
}

/// The context of position `pos` (1-based line, column), from the tokens before it.
fn context_at(toks: &[Tok], pos: (usize, usize)) -> Context {
    let mut stack: Vec<Frame> = Vec::new();
    let mut ctx = Context::default();
    let mut end = toks.len();
    for (k, t) in toks.iter().enumerate() {
        if t.at >= pos {
            end = k;
            break;
        }
        match t.kind {
            TokKind::Open(open) => {
                // `"name": Kind(` opens a named entry.
                let entry = (open == '('
                    && k >= 3
                    && toks[k - 1].kind == TokKind::Ident
                    && toks[k - 1]
                        .text
                        .starts_with(|c: char| c.is_ascii_uppercase())
                    && toks[k - 2].kind == TokKind::Colon
                    && matches!(toks[k - 3].kind, TokKind::Str(_)))
                .then(|| toks[k - 3].text.clone());
                stack.push(Frame {
                    open,
                    at: t.at,
                    key: None,
                    index: 0,
                    entry,
                });
            }
            TokKind::Close(close) => {
                // Tolerate a missing closer: drop the unmatched frame, then close the match.
                if stack.last().is_some_and(|f| closer(f.open) != close)
                    && stack.len() >= 2
                    && closer(stack[stack.len() - 2].open) == close
                {
                    stack.pop();
                }
                stack.pop();
            }
            TokKind::Colon => {
                if k >= 1
                    && matches!(toks[k - 1].kind, TokKind::Ident | TokKind::Str(_))
                    && let Some(f) = stack.last_mut()
                    && f.open != '['
                {
                    f.key = Some(toks[k - 1].text.clone());
                }
            }
            TokKind::Comma => {
                if let Some(f) = stack.last_mut() {
                    f.key = None;
                    f.index += 1;
                }
            }
            TokKind::Str(closed) => {
                if !closed {
                    ctx.open_string = Some(t.at);
                } else if t.end_line > t.at.0 && t.end_line == pos.0 {
                    ctx.runaway_string = Some(t.at);
                }
            }
            TokKind::Ident | TokKind::Number | TokKind::Other => {}
        }
    }
    // A string starting at the position: one running to the end of the text, or across lines
    // (an extra `"` opens a string that ends at the next one).
    if let Some(t) = toks.get(end) {
        if t.kind == TokKind::Str(false) {
            ctx.open_string = Some(t.at);
        } else if t.kind == TokKind::Str(true) && t.end_line > t.at.0 {
            ctx.runaway_string = Some(t.at);
        }
    }
    ctx.prev_end_line = end.checked_sub(1).map(|k| toks[k].end_line);
    ctx.path = frame_path(&stack, true);
    ctx.parent_path = frame_path(&stack, false);
    ctx.entry = stack.iter().rev().find_map(|f| f.entry.clone());
    match toks.get(end).map(|t| t.kind) {
        Some(TokKind::Close(close)) => {
            if let Some(f) = stack.last()
                && closer(f.open) != close
            {
                ctx.next_close = Some(close);
                ctx.unclosed = Some((f.open, f.at.0, f.at.1));
            }
        }
        None => {
            // At the end of the text: the innermost bracket still open.
            if let Some(f) = stack.last() {
                ctx.unclosed = Some((f.open, f.at.0, f.at.1));
            }
        }
        _ => {}
    }
    ctx
}

/// Line and column of the field `name:` nearest the top of the text (outside strings and
/// comments): `warmup` in `duration: "1m", warmup: "2m"`, or `window` in `metrics: (...)`.
pub fn locate_top_field(text: &str, name: &str) -> Option<(usize, usize)> {
    let toks = tokens(text);
    let mut depth = 0usize;
    let mut best: Option<(usize, (usize, usize))> = None;
    for (k, t) in toks.iter().enumerate() {
        match t.kind {
            TokKind::Open(_) => depth += 1,
            TokKind::Close(_) => depth = depth.saturating_sub(1),
            TokKind::Ident
                if t.text == name
                    && toks.get(k + 1).is_some_and(|n| n.kind == TokKind::Colon)
                    && best.is_none_or(|(d, _)| depth < d) =>
            {
                best = Some((depth, t.at));
            }
            _ => {}
        }
    }
    best.map(|b| b.1).or_else(|| toks.first().map(|t| t.at))
}

/// Line and column of the `nth` (0-based) string `"value"` inside the top-level field
/// `field`, among map keys (`key`: followed by `:`) or among the other strings
/// (`placement: {"web": "eu-west-1x"}` → the zone), or of the field itself.
pub fn locate_string_in_top_field(
    text: &str,
    field: &str,
    value: &str,
    key: bool,
    nth: usize,
) -> Option<(usize, usize)> {
    let mut seen = 0;
    let at = locate_top_field(text, field)?;
    let toks = tokens(text);
    let start = toks.iter().position(|t| t.at == at)?;
    let mut depth = 0usize;
    for (k, t) in toks.iter().enumerate().skip(start) {
        let is_key = || toks.get(k + 1).is_some_and(|n| n.kind == TokKind::Colon);
        match t.kind {
            TokKind::Open(_) => depth += 1,
            TokKind::Close(_) => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    break;
                }
            }
            TokKind::Str(_) if t.text == value && depth > 0 && is_key() == key => {
                if seen == nth {
                    return Some(t.at);
                }
                seen += 1;
            }
            _ => {}
        }
    }
    Some(at)
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
    fn strings_in_a_top_field_are_located_as_keys_or_values_by_occurrence() {
        let text = "Topology(\n  regions: {\"eu\": Region(zones: [\"a\", \"us\"]),\n    \"us\": Region(zones: [\"a\"])},\n  placement: {\"a\": \"a\"},\n)";
        // The second zone `a`, not the first.
        assert_eq!(
            locate_string_in_top_field(text, "regions", "a", false, 1),
            Some((3, 26))
        );
        // The zone `us` comes before the region key `us`.
        assert_eq!(
            locate_string_in_top_field(text, "regions", "us", false, 0),
            Some((2, 39))
        );
        assert_eq!(
            locate_string_in_top_field(text, "regions", "us", true, 0),
            Some((3, 5))
        );
        // Inside `placement` only; a missing string points at the field.
        assert_eq!(
            locate_string_in_top_field(text, "placement", "a", false, 0),
            Some((4, 20))
        );
        assert_eq!(
            locate_string_in_top_field(text, "placement", "b", false, 0),
            Some((4, 3))
        );
    }

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
    fn value_errors_carry_the_field_path() {
        let text = "Topology(\n  components: { \"web\": Service(threads: 2, cpus: -2) },\n)";
        let d = parse_spec(text, None).unwrap_err();
        assert_eq!(d.path.as_deref(), Some("components.web.cpus"), "{d}");
        assert_eq!(d.component.as_deref(), Some("web"));
        let text = "Topology(\n  components: { \"web\": Service(calls: [Call(to: \"a\"), Call(probability: 1.0)]) },\n)";
        let d = parse_spec(text, None).unwrap_err();
        assert_eq!(d.path.as_deref(), Some("components.web.calls.1"), "{d}");
    }

    #[test]
    fn unclosed_brackets_and_strings_are_pointed_at() {
        let text = "Topology(\n  components: {\n    \"web\": Service(threads: 2,\n  },\n)";
        let d = parse_spec(text, None).unwrap_err();
        assert!(
            d.hint
                .as_deref()
                .unwrap_or_default()
                .contains("`(` at 3:19 is not closed"),
            "{d}"
        );
        let text = "Topology(\n  name: \"x,\n  seed: 1,\n)";
        let d = parse_spec(text, None).unwrap_err();
        assert!(
            d.hint
                .as_deref()
                .unwrap_or_default()
                .contains("2:9 is never closed"),
            "{d}"
        );
        let d = parse_spec("// nothing here\n", None).unwrap_err();
        assert!(d.message.contains("empty"), "{d}");
    }

    #[test]
    fn top_level_fields_are_found_anywhere_on_their_line() {
        let text = "// warmup: in a comment\nTopology(\n  duration: \"1m\", warmup: \"2m\",\n  limits: Limits(drain: \"1s\"),\n)";
        assert_eq!(locate_top_field(text, "warmup"), Some((3, 19)));
        assert_eq!(locate_top_field(text, "drain"), Some((4, 18)));
        assert_eq!(locate_top_field(text, "workloads"), Some((2, 1)));
    }

    #[test]
    fn fields_are_found_in_text() {
        let text = "Topology(\n  components: {\n    \"db\": Service(threads: 4),\n    \"web\": Service(\n      threads: 2,\n    ),\n  },\n)";
        assert_eq!(locate_field(text, "web", Some("threads")), Some((5, 7)));
        assert_eq!(locate_field(text, "db", Some("threads")), Some((3, 19)));
        assert_eq!(locate_field(text, "web", None), Some((4, 5)));
    }
}
