//! The model reference (docs/MODEL_REFERENCE.md), generated from the schema that serde and
//! schemars derive from [`TopologySpec`]'s types and doc comments — the same source of truth
//! the parser uses, so the reference cannot miss a field. `flashcrowd reference` prints it; a
//! test fails when the checked-in file is stale.

use serde_json::Value;

use super::spec::TopologySpec;

/// The JSON Schema of topology files.
pub fn schema() -> Value {
    serde_json::to_value(schemars::schema_for!(TopologySpec)).unwrap_or(Value::Null)
}

/// Every field path the schema defines, as `Type.field` (for coverage checks).
pub fn all_fields() -> Vec<String> {
    let schema = schema();
    let mut out = Vec::new();
    let mut visit = |name: &str, def: &Value| {
        for (variant, props) in struct_shapes(name, def) {
            if let Some(Value::Object(p)) = props.get("properties") {
                for field in p.keys() {
                    out.push(format!("{variant}.{field}"));
                }
            }
        }
    };
    visit("Topology", &schema);
    if let Some(Value::Object(defs)) = schema.get("$defs") {
        for (name, def) in defs {
            visit(name, def);
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Object shapes in a definition: the struct itself, or each struct variant of an enum.
fn struct_shapes<'a>(name: &str, def: &'a Value) -> Vec<(String, &'a Value)> {
    let mut out = Vec::new();
    if def.get("properties").is_some() && def.get("oneOf").is_none() {
        out.push((name.to_string(), def));
    }
    for alt in variants(def) {
        if let Some(Value::Object(props)) = alt.get("properties") {
            for (vname, inner) in props {
                if inner.get("properties").is_some() {
                    out.push((format!("{name}::{vname}"), inner));
                }
            }
        }
    }
    out
}

fn variants(def: &Value) -> Vec<&Value> {
    ["oneOf", "anyOf"]
        .iter()
        .filter_map(|k| def.get(*k).and_then(Value::as_array))
        .flatten()
        .collect()
}

fn type_name(v: &Value) -> String {
    if let Some(r) = v.get("$ref").and_then(Value::as_str) {
        return format!("`{}`", r.rsplit('/').next().unwrap_or(r));
    }
    if let Some(all) = v.get("allOf").and_then(Value::as_array)
        && let Some(first) = all.first()
    {
        return type_name(first);
    }
    if let Some(alts) = v.get("anyOf").and_then(Value::as_array) {
        let parts: Vec<String> = alts
            .iter()
            .filter(|a| a.get("type") != Some(&Value::from("null")))
            .map(type_name)
            .collect();
        let optional = alts.len() > parts.len();
        let joined = parts.join(" or ");
        return if optional {
            format!("{joined} (optional)")
        } else {
            joined
        };
    }
    match v.get("type") {
        Some(Value::String(t)) => match t.as_str() {
            "array" => {
                if let Some(Value::Array(items)) = v.get("prefixItems") {
                    format!(
                        "({})",
                        items.iter().map(type_name).collect::<Vec<_>>().join(", ")
                    )
                } else {
                    format!(
                        "list of {}",
                        v.get("items")
                            .map(type_name)
                            .unwrap_or_else(|| "values".into())
                    )
                }
            }
            "object" => match v.get("additionalProperties") {
                Some(ap) if ap.is_object() => format!("map of name → {}", type_name(ap)),
                _ => "object".into(),
            },
            "integer" => "integer".into(),
            "number" => "number".into(),
            other => other.to_string(),
        },
        Some(Value::Array(ts)) => {
            let names: Vec<&str> = ts
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| *t != "null")
                .collect();
            let optional = ts.iter().any(|t| t == "null");
            let mut s = names.join(" or ");
            if names == ["array"] {
                let mut array = serde_json::json!({"type": "array", "items": v.get("items").cloned().unwrap_or(Value::Null)});
                if let (Some(items), Some(obj)) = (v.get("prefixItems"), array.as_object_mut()) {
                    obj.insert("prefixItems".into(), items.clone());
                }
                s = type_name(&array);
            }
            if optional {
                format!("{s} (optional)")
            } else {
                s
            }
        }
        _ => {
            if v.get("enum").is_some() || v.get("const").is_some() {
                "name".into()
            } else {
                "value".into()
            }
        }
    }
}

fn cell(text: &str) -> String {
    text.replace('\n', " ").replace('|', "\\|")
}

fn default_cell(field: &Value, required: bool) -> String {
    match field.get("default") {
        Some(Value::Null) => "none".into(),
        Some(d) => format!("`{}`", cell(&d.to_string())),
        None if required => "**required**".into(),
        None => "none".into(),
    }
}

fn field_table(out: &mut String, def: &Value) {
    let Some(Value::Object(props)) = def.get("properties") else {
        return;
    };
    let required: Vec<&str> = def
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    out.push_str("| field | type | default | meaning |\n|---|---|---|---|\n");
    for (name, f) in props {
        let desc = f.get("description").and_then(Value::as_str).unwrap_or("");
        out.push_str(&format!(
            "| `{name}` | {} | {} | {} |\n",
            cell(&type_name(f)),
            default_cell(f, required.contains(&name.as_str())),
            cell(desc)
        ));
    }
    out.push('\n');
}

/// The whole reference as Markdown.
pub fn markdown() -> String {
    let schema = schema();
    let mut out = String::from(
        "# Model reference\n\nGenerated from the topology schema by `flashcrowd reference` (do not edit by hand; \
         a test fails when this file is stale). Durations are strings with a unit (`\"250us\"`, `\"5ms\"`, `\"1.5s\"`, `\"2m\"`), \
         rates are strings with a unit (`\"9000/s\"`, `\"30/min\"`), capacities are positive integers or `\"unlimited\"`. \
         Optional values may be written bare (no `Some(...)`). Durations are at most about 584 years \
         (simulated time is 64-bit nanoseconds) and rates at most `\"1e9/s\"`; numbers must be finite.\n\n\
         ## Overrides (`--set`)\n\n\
         `--set path=value` replaces one field before validation, with the same checks as the file: \
         the path is dotted (`components.web.replicas=8`; enum variants are skipped, list items are \
         indexes: `components.web.calls.0.to=cache`), the value is RON (`8`, `\"250ms\"`, \
         `Exp(mean: \"2ms\")`, nested at most 64 brackets deep). A field that holds text or a unit \
         also takes bare text (`workloads.users.rate=4000/s`); any other field refuses a value that is \
         not RON and says what it takes. A name with dots is quoted in the path: \
         `--set 'components.\"web.v2\".replicas=2'` (single quotes keep the double quotes from the \
         shell).\n\n## Topology\n\n",
    );
    if let Some(d) = schema.get("description").and_then(Value::as_str) {
        out.push_str(&format!("{d}\n\n"));
    }
    field_table(&mut out, &schema);
    let Some(Value::Object(defs)) = schema.get("$defs") else {
        return out;
    };
    for (name, def) in defs {
        out.push_str(&format!("## {name}\n\n"));
        if let Some(d) = def.get("description").and_then(Value::as_str) {
            out.push_str(&format!("{}\n\n", d.trim()));
        }
        if def.get("properties").is_some() && def.get("oneOf").is_none() {
            field_table(&mut out, def);
            continue;
        }
        let alts = variants(def);
        if !alts.is_empty() && def.get("x-unit").is_none() {
            out.push_str("One of:\n\n");
            for alt in alts {
                let desc = alt.get("description").and_then(Value::as_str).unwrap_or("");
                if let Some(values) = alt.get("enum").and_then(Value::as_array) {
                    for v in values {
                        out.push_str(&format!(
                            "- `{}` — {}\n",
                            v.as_str().unwrap_or(""),
                            cell(desc)
                        ));
                    }
                } else if let Some(c) = alt.get("const").and_then(Value::as_str) {
                    out.push_str(&format!("- `{c}` — {}\n", cell(desc)));
                } else if let Some(Value::Object(props)) = alt.get("properties") {
                    for (vname, inner) in props {
                        if inner.get("properties").is_some() {
                            out.push_str(&format!("- `{vname}(...)` — {}\n\n", cell(desc)));
                            field_table(&mut out, inner);
                        } else {
                            out.push_str(&format!(
                                "- `{vname}({})` — {}\n",
                                cell(&type_name(inner)),
                                cell(desc)
                            ));
                        }
                    }
                }
            }
            out.push('\n');
        } else if let Some(values) = def.get("enum").and_then(Value::as_array) {
            let names: Vec<String> = values
                .iter()
                .filter_map(Value::as_str)
                .map(|v| format!("`{v}`"))
                .collect();
            out.push_str(&format!("One of: {}\n\n", names.join(", ")));
        }
    }
    own_commands(&mut out);
    out
}

/// The kinds' own commands, which `Do(component, command, args)` sends.
fn own_commands(out: &mut String) {
    out.push_str(
        "## Commands of each kind (`Do`)\n\nBeside the core commands, a kind may take its own: \
         `Do(component: \"lb\", command: \"backend_down\", args: {\"backend\": \"web\", \"instance\": 1})` \
         in a model's `events`, the GUI or the command API.\n\n",
    );
    for (kind, commands) in super::kinds::KIND_OWN_COMMANDS {
        if commands.is_empty() {
            out.push_str(&format!("- `{kind}`: none of its own.\n"));
            continue;
        }
        for c in *commands {
            let args: Vec<String> = c
                .args
                .iter()
                .map(|(name, what)| format!("`{name}`: {what}"))
                .collect();
            out.push_str(&format!(
                "- `{kind}` `{}` — {} Arguments: {}.\n",
                c.name,
                cell(c.summary),
                args.join("; ")
            ));
        }
    }
    out.push('\n');
}
