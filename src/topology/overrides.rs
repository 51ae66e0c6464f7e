//! Dotted-path overrides applied to the typed tree: `components.web.replicas=8`.
//!
//! The one mechanism behind `--set`, sweeps, the planner and the GUI inspector. The spec is
//! serialized to a JSON tree, each override replaces one node, and the tree is deserialized
//! back, so every override passes the same type checks as the file itself. Values are written
//! in RON (`8`, `"4000/s"`, `Exp(mean: "2ms")`), nested at most [`MAX_DEPTH`] deep. A value
//! that is not RON is taken as text only where the field holds text or a unit (so
//! `rate=4000/s` needs no quotes); elsewhere it is an error saying what the field takes.
//! A name with dots is quoted in a path: `components."web.v2".replicas=2`.

use serde_json::{Map, Value};

use super::diagnostic::{Diagnostic, did_you_mean};
use super::spec::TopologySpec;

/// One `path=value` override.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// Dotted path, e.g. `components.web.replicas`; enum variant names are skipped
    /// (`components.web` reaches inside `Service(...)`); list items by index (`calls.0.to`).
    pub path: String,
    /// The new value, in RON.
    pub value: String,
}

impl Override {
    /// Parse `path=value`.
    pub fn parse(text: &str) -> Result<Self, Diagnostic> {
        // The first `=` outside a quoted name (`components."a=b".replicas=2`).
        let mut quoted = false;
        let eq = text.char_indices().find_map(|(i, c)| {
            if c == '"' {
                quoted = !quoted;
            }
            (c == '=' && !quoted).then_some(i)
        });
        let Some((path, value)) = eq.map(|i| (&text[..i], &text[i + 1..])) else {
            return Err(Diagnostic::error(format!("`{text}` is not an override"))
                .hint("write path=value, e.g. --set components.web.replicas=8"));
        };
        let path = path.trim();
        if path.is_empty() {
            return Err(Diagnostic::error(format!("`{text}` has an empty path"))
                .hint("write path=value, e.g. --set components.web.replicas=8"));
        }
        if split_path(path).iter().any(String::is_empty) {
            return Err(Diagnostic::error(format!(
                "`{path}` has an empty part (a dot too many, or a name in empty quotes)"
            ))
            .hint("write the path as names between dots, e.g. components.web.replicas"));
        }
        Ok(Self {
            path: path.to_string(),
            value: value.trim().to_string(),
        })
    }
}

/// Deepest nesting of brackets an override value may have (a model needs a handful; the
/// limit keeps hostile input from exhausting the stack).
pub const MAX_DEPTH: usize = 64;

/// Apply overrides to a spec; errors name the override.
pub fn apply(spec: &TopologySpec, overrides: &[Override]) -> Result<TopologySpec, Diagnostic> {
    if overrides.is_empty() {
        return Ok(spec.clone());
    }
    let mut tree = serde_json::to_value(spec)
        .map_err(|e| Diagnostic::error(format!("internal: cannot serialize the model: {e}")))?;
    for o in overrides {
        let value = override_value(&tree, o).map_err(|d| d.at(format!("--set {}", o.path)))?;
        set_path(&mut tree, &o.path, value).map_err(|d| d.at(format!("--set {}", o.path)))?;
    }
    let mut result = serde_json::from_value::<TopologySpec>(tree.clone());
    // RON lets a struct carry its name (`Slo(p99: "1s")`), which reads like an enum variant:
    // when serde finds that name as an unknown field, drop the name and try again.
    for o in overrides {
        let Err(e) = &result else { break };
        let msg = e.to_string();
        let Some(Value::Object(wrapper)) = get_path(&tree, &o.path).cloned() else {
            continue;
        };
        let Some(name) = is_variant_wrapper(&wrapper).map(str::to_string) else {
            continue;
        };
        if !msg.contains(&format!("unknown field `{name}`")) {
            continue;
        }
        if let Some(inner @ Value::Object(_)) = wrapper.get(&name).cloned() {
            set_path(&mut tree, &o.path, inner)?;
            result = serde_json::from_value::<TopologySpec>(tree.clone());
        }
    }
    result.map_err(|e| {
        let names: Vec<&str> = overrides.iter().map(|o| o.path.as_str()).collect();
        let (msg, own_hint) = crate::units::split_hint(&e.to_string());
        let hint = unknown_name(&msg)
            .and_then(|(found, expected)| did_you_mean(&found, expected.iter().map(String::as_str)))
            .or(own_hint)
            .unwrap_or_else(|| {
                "check the value against the field in docs/MODEL_REFERENCE.md (`flashcrowd reference`)".into()
            });
        Diagnostic::error(format!("override does not fit the model: {msg}"))
            .at(format!("--set {}", names.join(", --set ")))
            .hint(hint)
    })
}

/// From serde's "unknown field `x`, expected one of `a`, `b`" pull out x and the candidates.
fn unknown_name(msg: &str) -> Option<(String, Vec<String>)> {
    let start = msg.find("unknown ")?;
    let rest = &msg[start..];
    let mut ticks = rest.split('`').skip(1).step_by(2).map(str::to_string);
    let found = ticks.next()?;
    Some((found, ticks.collect()))
}

/// The JSON value of an override: its RON, or bare text where the field takes text.
fn override_value(tree: &Value, o: &Override) -> Result<Value, Diagnostic> {
    let text = o.value.as_str();
    match parse_value(text) {
        Ok(v) => Ok(v),
        Err(ValueError::TooDeep) => Err(Diagnostic::error(format!(
            "the value is nested deeper than {MAX_DEPTH} brackets"
        ))
        .hint("a model value needs a few levels, e.g. Step(at: \"1m\", to: \"4000/s\")")),
        Err(e @ (ValueError::NotRon | ValueError::NotFinite)) => {
            let current = get_path(tree, &o.path);
            let structured = text.contains(['(', ')', '[', ']', '{', '}', '"', ',', ':']);
            let takes_text = matches!(current, None | Some(Value::Null | Value::String(_)));
            if takes_text && !structured {
                return Ok(Value::String(text.to_string()));
            }
            if e == ValueError::NotFinite {
                return Err(Diagnostic::error(format!(
                    "`{text}` holds a number that is not finite (inf, NaN, or too large): multipliers, shares and other numbers must be finite"
                ))
                .hint("write a finite number, e.g. 10.0"));
            }
            let expected = match current {
                Some(Value::Number(n)) => format!("a number (it is {n} now)"),
                Some(Value::Bool(b)) => format!("true or false (it is {b} now)"),
                Some(Value::Array(_)) => "a list in RON, e.g. [\"web\", \"api\"]".into(),
                Some(Value::Object(_)) => {
                    "a RON value such as Exp(mean: \"2ms\") or {\"read\": 0.9}".into()
                }
                _ => "a RON value".into(),
            };
            Err(
                Diagnostic::error(format!("`{text}` is not a value this field takes: expected {expected}"))
                    .hint(if structured {
                        "inside brackets, text goes in double quotes: Exp(mean: \"2ms\"); quote the whole --set argument for the shell".to_string()
                    } else {
                        format!("write {expected}")
                    }),
            )
        }
    }
}

/// The value at `path`, if the tree has one (read-only twin of [`set_path`]).
fn get_path<'a>(tree: &'a Value, path: &str) -> Option<&'a Value> {
    let mut node = tree;
    for seg in split_path(path) {
        while let Some(variant) = descend_into(node, &seg) {
            node = node.get(variant.as_str())?;
        }
        node = match node {
            Value::Object(map) => map.get(seg.as_str())?,
            Value::Array(items) => items.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(node)
}

fn split_path(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for ch in path.chars() {
        match ch {
            '"' => quoted = !quoted,
            '.' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// The variant to step into when `node` is `{"Variant": {...}}` and lacks `seg`.
fn descend_into(node: &Value, seg: &str) -> Option<String> {
    let Value::Object(map) = node else {
        return None;
    };
    if map.contains_key(seg) {
        return None;
    }
    let variant = is_variant_wrapper(map)?;
    let inner = map.get(variant)?;
    (inner.is_object() || inner.is_array()).then(|| variant.to_string())
}

fn is_variant_wrapper(map: &Map<String, Value>) -> Option<&str> {
    if map.len() != 1 {
        return None;
    }
    let key = map.keys().next()?;
    key.chars()
        .next()
        .filter(char::is_ascii_uppercase)
        .map(|_| key.as_str())
}

/// Set `path` in `tree` to `value`.
pub fn set_path(tree: &mut Value, path: &str, value: Value) -> Result<(), Diagnostic> {
    let segs = split_path(path);
    let mut node = tree;
    for (i, seg) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        // Reach inside `{"Service": {...}}` unless the segment names the variant itself.
        while let Some(variant) = descend_into(node, seg) {
            // `descend_into` checked that the variant key exists, so indexing inserts nothing.
            node = &mut node[variant.as_str()];
        }
        match node {
            Value::Object(map) => {
                if last {
                    map.insert(seg.clone(), value);
                    return Ok(());
                }
                if !map.contains_key(seg.as_str()) {
                    let done: Vec<&str> = segs[..i].iter().map(String::as_str).collect();
                    let keys: Vec<&str> = map.keys().map(String::as_str).collect();
                    // `web.v2.replicas` where the name is `web.v2`: suggest quoting it.
                    let dotted = (i + 1..segs.len()).find_map(|j| {
                        let name = segs[i..=j].join(".");
                        map.contains_key(&name).then(|| {
                            let mut parts: Vec<String> = segs[..i].to_vec();
                            parts.push(format!("\"{name}\""));
                            parts.extend(segs[j + 1..].iter().cloned());
                            format!(
                                "names with dots are quoted in a path: --set '{}=...'",
                                parts.join(".")
                            )
                        })
                    });
                    let hint = dotted
                        .or_else(|| did_you_mean(seg, keys.iter().copied()))
                        .or_else(|| {
                            keys.iter().any(|k| k.contains('.')).then(|| {
                                "names with dots are quoted in a path, e.g. components.\"web.v2\".replicas".to_string()
                            })
                        });
                    return Err(Diagnostic::error(format!(
                        "{} has no `{seg}`; it has: {}",
                        if done.is_empty() {
                            "the model".to_string()
                        } else {
                            format!("`{}`", done.join("."))
                        },
                        keys.join(", ")
                    ))
                    .hint(hint.unwrap_or_else(|| {
                        "write one of the names listed; `flashcrowd reference` lists every field".into()
                    })));
                }
                let Some(next) = map.get_mut(seg.as_str()) else {
                    return Err(Diagnostic::error(format!("no `{seg}`"))
                        .hint("write one of the names the model has at this point of the path"));
                };
                node = next;
            }
            Value::Array(items) => {
                let Ok(idx) = seg.parse::<usize>() else {
                    return Err(Diagnostic::error(format!(
                        "`{seg}` should be a list index (0 to {})",
                        items.len().saturating_sub(1)
                    ))
                    .hint(
                        "lists are indexed by position from 0, e.g. components.web.calls.0.timeout",
                    ));
                };
                let len = items.len();
                let Some(item) = items.get_mut(idx) else {
                    return Err(Diagnostic::error(format!(
                        "index {idx} is out of range (the list has {len})"
                    ))
                    .hint(if len == 0 {
                        "the list is empty: set the whole list instead, e.g. calls=[Call(to: \"db\")]".to_string()
                    } else {
                        format!("write an index from 0 to {}, or set the whole list", len - 1)
                    }));
                };
                if last {
                    *item = value;
                    return Ok(());
                }
                node = item;
            }
            Value::Null if !last => {
                // An optional section not given in the file: create it.
                *node = Value::Object(Map::new());
                let Value::Object(map) = node else {
                    unreachable!()
                };
                node = map.entry(seg.clone()).or_insert(Value::Null);
            }
            _ => {
                let done: Vec<&str> = segs[..=i].iter().map(String::as_str).collect();
                return Err(Diagnostic::error(format!(
                    "`{}` is a plain value; it has no fields",
                    done.join(".")
                ))
                .hint(format!("end the path there: --set {}=...", done.join("."))));
            }
        }
    }
    *node = value;
    Ok(())
}

/// Why an override value is not RON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueError {
    /// Not RON text.
    NotRon,
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// `inf`, `NaN` or a number too large for a float.
    NotFinite,
}

/// Parse a RON value into the JSON shape serde gives the same typed value (externally tagged
/// enums).
pub fn parse_value(text: &str) -> Result<Value, ValueError> {
    let mut p = RonParser {
        s: text.as_bytes(),
        i: 0,
        depth: 0,
        too_deep: false,
        not_finite: false,
    };
    match p.value() {
        Some(v) if p.at_end() => Ok(v),
        _ if p.too_deep => Err(ValueError::TooDeep),
        _ if p.not_finite => Err(ValueError::NotFinite),
        _ => Err(ValueError::NotRon),
    }
}

/// [`parse_value`], with text that is not RON taken as a JSON string.
pub fn ron_to_json(text: &str) -> Value {
    parse_value(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

struct RonParser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
    too_deep: bool,
    not_finite: bool,
}

impl RonParser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn at_end(&mut self) -> bool {
        self.ws();
        self.i == self.s.len()
    }
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn ident(&mut self) -> Option<String> {
        self.ws();
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_')
        {
            self.i += 1;
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }
    fn string(&mut self) -> Option<String> {
        if !self.eat(b'"') {
            return None;
        }
        let mut out = Vec::new();
        while self.i < self.s.len() {
            let c = self.s[self.i];
            self.i += 1;
            match c {
                b'"' => return String::from_utf8(out).ok(),
                b'\\' => {
                    let n = *self.s.get(self.i)?;
                    self.i += 1;
                    out.push(match n {
                        b'n' => b'\n',
                        b't' => b'\t',
                        other => other,
                    });
                }
                other => out.push(other),
            }
        }
        None
    }
    fn number(&mut self) -> Option<Value> {
        self.ws();
        let start = self.i;
        while self.i < self.s.len()
            && matches!(
                self.s[self.i],
                b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E' | b'_'
            )
        {
            self.i += 1;
        }
        let t: String = String::from_utf8_lossy(&self.s[start..self.i]).replace('_', "");
        if let Ok(n) = t.parse::<i64>() {
            return Some(Value::from(n));
        }
        if let Ok(n) = t.parse::<u64>() {
            return Some(Value::from(n));
        }
        if matches!(t.as_str(), "-" | "+") && self.s[self.i..].starts_with(b"inf") {
            self.not_finite = true;
            return None;
        }
        let n = t.parse::<f64>().ok()?;
        if !n.is_finite() {
            self.not_finite = true;
            return None;
        }
        serde_json::Number::from_f64(n).map(Value::Number)
    }
    /// One value, at most [`MAX_DEPTH`] levels deep.
    fn value(&mut self) -> Option<Value> {
        if self.depth >= MAX_DEPTH {
            self.too_deep = true;
            return None;
        }
        self.depth += 1;
        let v = self.value_here();
        self.depth -= 1;
        v
    }

    fn value_here(&mut self) -> Option<Value> {
        match self.peek()? {
            b'"' => self.string().map(Value::String),
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                while !self.eat(b']') {
                    items.push(self.value()?);
                    if !self.eat(b',') && self.peek() != Some(b']') {
                        return None;
                    }
                }
                Some(Value::Array(items))
            }
            b'{' => {
                self.i += 1;
                let mut map = Map::new();
                while !self.eat(b'}') {
                    let key = match self.value()? {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    if !self.eat(b':') {
                        return None;
                    }
                    map.insert(key, self.value()?);
                    if !self.eat(b',') && self.peek() != Some(b'}') {
                        return None;
                    }
                }
                Some(Value::Object(map))
            }
            b'(' => self.parens(),
            c if c == b'-' || c.is_ascii_digit() => self.number(),
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let id = self.ident()?;
                match id.as_str() {
                    "true" => return Some(Value::Bool(true)),
                    "false" => return Some(Value::Bool(false)),
                    "None" => return Some(Value::Null),
                    "inf" | "NaN" => {
                        self.not_finite = true;
                        return None;
                    }
                    _ => {}
                }
                if self.peek() == Some(b'(') {
                    let inner = self.parens()?;
                    if id == "Some" {
                        return Some(inner);
                    }
                    let mut m = Map::new();
                    m.insert(id, inner);
                    Some(Value::Object(m))
                } else {
                    Some(Value::String(id))
                }
            }
            _ => None,
        }
    }
    /// `(a: 1, b: 2)` → object; `(x)` → x; `(x, y)` → array.
    fn parens(&mut self) -> Option<Value> {
        if !self.eat(b'(') {
            return None;
        }
        let mut fields = Map::new();
        let mut items = Vec::new();
        while !self.eat(b')') {
            let save = self.i;
            if let Some(id) = self.ident()
                && self.eat(b':')
            {
                fields.insert(id, self.value()?);
            } else {
                self.i = save;
                items.push(self.value()?);
            }
            if !self.eat(b',') && self.peek() != Some(b')') {
                return None;
            }
        }
        match (fields.is_empty(), items.len()) {
            (false, 0) => Some(Value::Object(fields)),
            (true, 0) => Some(Value::Object(fields)),
            (true, 1) => items.pop(),
            (true, _) => Some(Value::Array(items)),
            (false, _) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ron_values_become_serde_json_shapes() {
        assert_eq!(ron_to_json("8"), json!(8));
        assert_eq!(ron_to_json("0.5"), json!(0.5));
        assert_eq!(ron_to_json("\"4000/s\""), json!("4000/s"));
        assert_eq!(ron_to_json("4000/s"), json!("4000/s"));
        assert_eq!(ron_to_json("LeastConn"), json!("LeastConn"));
        assert_eq!(
            ron_to_json("Exp(mean: \"2ms\")"),
            json!({"Exp": {"mean": "2ms"}})
        );
        assert_eq!(ron_to_json("Const(\"2ms\")"), json!({"Const": "2ms"}));
        assert_eq!(ron_to_json("[\"a\", \"b\"]"), json!(["a", "b"]));
        assert_eq!(
            ron_to_json("{\"read\": 0.9, \"write\": 0.1}"),
            json!({"read": 0.9, "write": 0.1})
        );
        assert_eq!(ron_to_json("Some(\"1s\")"), json!("1s"));
        assert_eq!(
            ron_to_json("Piecewise([(\"1m\", \"2/s\")])"),
            json!({"Piecewise": [["1m", "2/s"]]})
        );
    }

    #[test]
    fn paths_reach_inside_variants_and_lists() {
        let mut v =
            json!({"components": {"web": {"Service": {"replicas": 1, "calls": [{"to": "db"}]}}}});
        set_path(&mut v, "components.web.replicas", json!(8)).unwrap();
        set_path(&mut v, "components.web.calls.0.to", json!("cache")).unwrap();
        assert_eq!(
            v,
            json!({"components": {"web": {"Service": {"replicas": 8, "calls": [{"to": "cache"}]}}}})
        );
        let e = set_path(&mut v, "components.wbe.replicas", json!(8)).unwrap_err();
        assert_eq!(e.hint.as_deref(), Some("did you mean `web`?"));
        assert!(set_path(&mut v, "components.web.calls.3.to", json!("x")).is_err());
    }

    #[test]
    fn overrides_split_at_the_first_unquoted_equals_sign() {
        let o = Override::parse("components.\"a=b\".replicas=2").unwrap();
        assert_eq!(o.path, "components.\"a=b\".replicas");
        assert_eq!(o.value, "2");
        assert!(Override::parse("components.\"a=b\".replicas").is_err());
        assert!(
            Override::parse("components..replicas=2")
                .unwrap_err()
                .message
                .contains("empty part")
        );
    }

    #[test]
    fn non_finite_numbers_are_refused() {
        for v in ["inf", "NaN", "1e999", "Spike(multiplier: inf)", "-inf"] {
            assert_eq!(parse_value(v), Err(ValueError::NotFinite), "{v}");
        }
    }

    #[test]
    fn a_struct_may_carry_its_name() {
        let spec = crate::topology::parse::parse_spec("Topology()", None).unwrap();
        let o = Override::parse("slo=Slo(p99: \"100ms\")").unwrap();
        let out = apply(&spec, &[o]).unwrap();
        assert!(out.slo.is_some_and(|s| s.p99.is_some()));
    }

    #[test]
    fn deep_values_are_refused_without_overflowing_the_stack() {
        let deep = "[".repeat(100_000);
        assert_eq!(parse_value(&deep), Err(ValueError::TooDeep));
        let ok = format!(
            "{}1{}",
            "[".repeat(MAX_DEPTH - 1),
            "]".repeat(MAX_DEPTH - 1)
        );
        assert!(parse_value(&ok).is_ok());
        let too = format!("{}1{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(parse_value(&too), Err(ValueError::TooDeep));
    }

    #[test]
    fn dotted_names_are_reached_when_quoted_and_suggested_when_not() {
        let mut v = json!({"components": {"web.v2": {"Service": {"replicas": 1}}}});
        set_path(&mut v, "components.\"web.v2\".replicas", json!(2)).unwrap();
        assert_eq!(v["components"]["web.v2"]["Service"]["replicas"], 2);
        let e = set_path(&mut v, "components.web.v2.replicas", json!(3)).unwrap_err();
        assert_eq!(
            e.hint.as_deref(),
            Some(
                "names with dots are quoted in a path: --set 'components.\"web.v2\".replicas=...'"
            )
        );
    }
}
