//! One flat numeric view of a report: every measured number by its dotted path
//! (`components.db.latency_s.p99`, `end_to_end.errors_by_cause.timeout`,
//! `components.web.per_replica.0.arrivals`), the same paths `expect` and `--set` write. Names
//! that hold a dot or a quote are written in double quotes (`components."web.v2".arrivals`).
//! Replications, `compare`, and later sweeps and the planner read reports through it.

use std::collections::BTreeMap;

use serde_json::Value;

/// Keys that say how a report was made, not what was measured (never flattened).
pub const NOT_MEASURED: [&str; 9] = [
    "schema_version",
    "seed",
    "provenance",
    "model",
    "series",
    "events_applied",
    "ci95",
    "replications",
    "warmup_auto",
];

/// The path segment for `key`: bare when it is plain, quoted otherwise.
pub fn segment(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_string()
    } else {
        format!("\"{}\"", key.replace('"', "\\\""))
    }
}

/// Every number (and boolean, as 0 or 1) of a report's JSON, by dotted path, skipping
/// [`NOT_MEASURED`] keys at the top.
pub fn flatten(report: &Value) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    if let Value::Object(top) = report {
        for (k, v) in top {
            if !NOT_MEASURED.contains(&k.as_str()) {
                walk(v, segment(k), &mut out);
            }
        }
    }
    out
}

fn walk(v: &Value, path: String, out: &mut BTreeMap<String, f64>) {
    match v {
        Value::Number(n) => {
            if let Some(x) = n.as_f64() {
                out.insert(path, x);
            }
        }
        Value::Bool(b) => {
            out.insert(path, f64::from(u8::from(*b)));
        }
        Value::Object(m) => {
            for (k, v) in m {
                walk(v, format!("{path}.{}", segment(k)), out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                walk(v, format!("{path}.{i}"), out);
            }
        }
        Value::Null | Value::String(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_flattens_to_dotted_paths_with_odd_names_quoted() {
        let v = serde_json::json!({
            "seed": 3,
            "end_to_end": {"latency_s": {"p99": 0.05}, "errors_by_cause": {"timeout": 2}},
            "components": {"web.v2": {"arrivals": 10, "per_replica": [{"arrivals": 4}]}},
            "verdict": {"pass": true, "reasons": []},
        });
        let flat = flatten(&v);
        assert_eq!(flat["end_to_end.latency_s.p99"], 0.05);
        assert_eq!(flat["end_to_end.errors_by_cause.timeout"], 2.0);
        assert_eq!(flat["components.\"web.v2\".arrivals"], 10.0);
        assert_eq!(flat["components.\"web.v2\".per_replica.0.arrivals"], 4.0);
        assert_eq!(flat["verdict.pass"], 1.0);
        assert!(!flat.contains_key("seed"));
    }
}
