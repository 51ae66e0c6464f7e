//! A model's expectations against reports: whether a metric path can exist in a report of
//! the model ([`ReportShape::check`], which walks the report's JSON Schema, so every key the
//! report types declare is reachable and no list of figures is kept by hand), and what a run
//! measured ([`evaluate`], which walks the serialized report the same way).
//!
//! The kinds' own figures come in as data ([`ComponentShape`]); this module never knows a
//! component kind.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::topology::diagnostic::did_you_mean;
use crate::topology::expect::{Comparison, ExpectValue, Expectation, QuantityKind};

/// What one expectation found in a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExpectationResult {
    /// The figure, as the model names it (a dotted path into this report).
    pub metric: String,
    /// The comparison as written in the model (`near: "46ms", within: "10%"`).
    pub comparison: String,
    /// The unit of `actual`, `low` and `high`: `s`, `per_s`, `number` or `flag`.
    pub unit: String,
    /// The figure the run measured (a number in `unit`, or true/false); null when the
    /// report has none (`note` says why).
    pub actual: Value,
    /// The lowest figure that holds, in `unit` (excluded for `above`); null when open.
    pub low: Option<f64>,
    /// The highest figure that holds, in `unit` (excluded for `below`); null when open.
    pub high: Option<f64>,
    /// Whether the figure meets the comparison.
    pub holds: bool,
    /// What the expectation teaches, from the model.
    pub why: String,
    /// Why the figure could not be judged (not measured, not in the report), if so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The reason a verdict fails when expectations must hold (`run --check-expect`) and some do
/// not; `None` when all hold.
pub fn unmet_reason(results: &[ExpectationResult]) -> Option<String> {
    let unmet: Vec<String> = results
        .iter()
        .filter(|r| !r.holds)
        .map(|r| {
            let actual = r.note.clone().unwrap_or_else(|| r.actual.to_string());
            format!(
                "`{}` is {actual} ({}), expected {}",
                r.metric, r.unit, r.comparison
            )
        })
        .collect();
    (!unmet.is_empty()).then(|| {
        format!(
            "expectations not met: {} of {}: {}",
            unmet.len(),
            results.len(),
            unmet.join("; ")
        )
    })
}

fn unit_name(kind: QuantityKind) -> &'static str {
    match kind {
        QuantityKind::Seconds => "s",
        QuantityKind::PerSecond => "per_s",
        QuantityKind::Flag => "flag",
        QuantityKind::Number | QuantityKind::Percent => "number",
    }
}

/// Evaluate `expectations` against a report serialized as JSON.
pub fn evaluate(expectations: &[Expectation], report: &Value) -> Vec<ExpectationResult> {
    expectations
        .iter()
        .map(|e| evaluate_one(e, report))
        .collect()
}

fn evaluate_one(e: &Expectation, report: &Value) -> ExpectationResult {
    let kind = e
        .comparison
        .values()
        .first()
        .map_or(QuantityKind::Number, |v| v.kind());
    let (low, high) = match e.comparison {
        Comparison::Equals(ExpectValue::Flag(_)) => (None, None),
        c => c.range(),
    };
    let mut result = ExpectationResult {
        metric: e.metric.clone(),
        comparison: e.comparison.to_string(),
        unit: unit_name(kind).to_string(),
        actual: Value::Null,
        low,
        high,
        holds: false,
        why: e.why.clone(),
        note: None,
    };
    match lookup(report, &e.path) {
        Ok(v) => result.actual = v,
        Err(note) => {
            result.note = Some(note);
            return result;
        }
    }
    result.holds = match (&result.actual, e.comparison) {
        (Value::Bool(b), Comparison::Equals(ExpectValue::Flag(want))) => *b == want,
        (Value::Number(n), c) if kind != QuantityKind::Flag => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            match c {
                Comparison::Below(v) => x < v.as_f64(),
                Comparison::Above(v) => x > v.as_f64(),
                Comparison::Equals(v) => x == v.as_f64(),
                Comparison::Near { .. } | Comparison::Between(..) => {
                    low.is_none_or(|l| x >= l) && high.is_none_or(|h| x <= h)
                }
            }
        }
        (Value::Null, _) => {
            result.note =
                Some("null in the report (nothing to measure: unlimited, or none)".into());
            false
        }
        (other, _) => {
            result.note = Some(format!(
                "the report has {other} here, which this comparison cannot judge"
            ));
            false
        }
    };
    result
}

/// The figure at `path` in `report`: a number or a flag, or why there is none. A cause
/// missing from `errors_by_cause` counted 0 (the report leaves out causes that never
/// happened); a figure of a summary whose `count` is 0 was not measured.
fn lookup(report: &Value, path: &[String]) -> Result<Value, String> {
    let mut node = report;
    let mut parent: Option<&Value> = None;
    for (i, seg) in path.iter().enumerate() {
        let next = match node {
            Value::Object(m) => m.get(seg.as_str()),
            Value::Array(items) => seg.parse::<usize>().ok().and_then(|k| items.get(k)),
            _ => None,
        };
        let Some(next) = next else {
            if i + 1 == path.len() && i > 0 && path[i - 1] == "errors_by_cause" {
                return Ok(Value::from(0u64));
            }
            return Err(if i == 0 {
                format!("not in the report (it has no `{seg}`)")
            } else {
                format!(
                    "not in the report (no `{seg}` under `{}`)",
                    path[..i].join(".")
                )
            });
        };
        parent = Some(node);
        node = next;
    }
    let leaf = path.last().map_or("", String::as_str);
    if leaf != "count" && parent.and_then(|p| p.get("count")).and_then(Value::as_u64) == Some(0) {
        return Err("not measured (its summary's count is 0: nothing of it happened)".into());
    }
    match node {
        Value::Number(_) | Value::Bool(_) | Value::Null => Ok(node.clone()),
        _ => Err("not a figure in the report (a group or text)".into()),
    }
}

/// A kind's own figure, as the metric check needs it: how a path goes on below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FigureForm {
    /// A number (a ratio, a count, a mean): the path ends here.
    Number,
    /// A latency summary (`{count, mean, p50, …}`, seconds): one of its keys follows.
    Summary,
    /// Counts by name (`{"web": 10}`): a name follows (any; checked when the run reports).
    Counts,
    /// A list of objects (one per instance): an index below the component's replicas, then
    /// a key (checked when the run reports).
    List,
}

/// A component of the model: its name, its kind and that kind's own figures.
#[derive(Debug, Clone)]
pub struct ComponentShape {
    /// Its name.
    pub name: String,
    /// Its kind's name (`service`).
    pub kind: &'static str,
    /// The most instances it has in the run (the indexes a `List` figure can have).
    pub replicas: u32,
    /// The kind's own figures, with how each goes on.
    pub figures: Vec<(&'static str, FigureForm)>,
}

/// What a report of one model can hold: the report types' JSON Schema and the model's names.
#[derive(Debug, Clone)]
pub struct ReportShape<'a> {
    /// The report's JSON Schema (`simulation::report_schema`).
    pub schema: &'a Value,
    /// The components.
    pub components: Vec<ComponentShape>,
    /// The workloads' names.
    pub workloads: Vec<String>,
    /// The request classes.
    pub classes: Vec<String>,
    /// The error causes there are.
    pub causes: Vec<&'static str>,
    /// The model has SLO targets (else its reports have no `slo`).
    pub has_slo: bool,
}

/// Why a metric path cannot exist in a report of the model.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeProblem {
    /// What is wrong.
    pub message: String,
    /// The fix.
    pub hint: String,
}

/// Where the walk stands.
enum At<'s> {
    /// A node of the schema.
    Schema(&'s Value),
    /// A component's object: the schema's common keys and its kind's figures.
    Component(&'s Value, &'s ComponentShape),
    /// A figure of this kind: the path must end here.
    Leaf(QuantityKind),
}

impl ReportShape<'_> {
    /// The kind of the figure `e` names, or why it cannot exist; then whether its values
    /// are of that kind.
    pub fn check(&self, e: &Expectation) -> Result<QuantityKind, ShapeProblem> {
        let kind = self.resolve(&e.path)?;
        let mut given: Vec<(&str, ExpectValue)> = match e.comparison {
            Comparison::Near { value, .. } => vec![("near", value)],
            Comparison::Below(v) => vec![("below", v)],
            Comparison::Above(v) => vec![("above", v)],
            Comparison::Between(lo, hi) => vec![("between", lo), ("between", hi)],
            Comparison::Equals(v) => vec![("equals", v)],
        };
        if let Comparison::Near {
            within: w @ (ExpectValue::Number(_) | ExpectValue::Duration(_) | ExpectValue::Rate(_)),
            ..
        } = e.comparison
        {
            given.push(("within", w));
        }
        for (field, v) in given {
            if v.kind() == kind {
                continue;
            }
            let what = match kind {
                QuantityKind::Seconds => "a duration (seconds in the report)",
                QuantityKind::PerSecond => "a rate (per second in the report)",
                QuantityKind::Flag => "true or false",
                QuantityKind::Number | QuantityKind::Percent => "a plain number",
            };
            let written = match v.kind() {
                QuantityKind::Seconds => "a duration",
                QuantityKind::PerSecond => "a rate",
                QuantityKind::Flag => "true or false",
                QuantityKind::Number | QuantityKind::Percent => "a plain number",
            };
            let mut hint = format!("write {}", kind.example());
            if kind == QuantityKind::Flag {
                hint = "compare it with equals: true or equals: false".into();
            }
            return Err(ShapeProblem {
                message: format!("`{}` is {what}, but `{field}: {v}` is {written}", e.metric),
                hint,
            });
        }
        Ok(kind)
    }

    /// The kind of the figure at `path`, or why there is none.
    pub fn resolve(&self, path: &[String]) -> Result<QuantityKind, ShapeProblem> {
        let root = self.schema;
        let mut at = At::Schema(root);
        // Keys of the report's types walked (not user names): they carry the unit.
        let mut keys: Vec<&str> = Vec::new();
        let mut i = 0;
        while i < path.len() {
            let seg = path[i].as_str();
            let walked = if i == 0 {
                "the report".to_string()
            } else {
                format!("`{}`", path[..i].join("."))
            };
            let full = path.join(".");
            if i == 0 && seg == "slo" && !self.has_slo {
                return Err(ShapeProblem {
                    message: "the model has no `slo`, so its reports have no `slo` figures".into(),
                    hint:
                        "add slo: Slo(p99: \"300ms\"), or name verdict.pass or an end_to_end figure"
                            .into(),
                });
            }
            at = match at {
                At::Leaf(_) => {
                    return Err(ShapeProblem {
                        message: format!("{walked} is a single figure: nothing is below it"),
                        hint: format!("end the metric at {walked}"),
                    });
                }
                At::Component(node, comp) => {
                    let node = deref(root, node);
                    if let Some(p) = property(node, seg) {
                        keys.push(seg);
                        At::Schema(p)
                    } else if let Some((name, form)) = comp.figures.iter().find(|(n, _)| *n == seg)
                    {
                        keys.push(name);
                        match form {
                            FigureForm::Number => At::Leaf(unit_of(&keys, false)),
                            FigureForm::Summary => At::Schema(
                                root.pointer("/$defs/LatencySummary")
                                    .unwrap_or(&Value::Null),
                            ),
                            FigureForm::Counts => {
                                // Any name, then a count.
                                if i + 1 >= path.len() {
                                    return Err(group(&full, "counts by name", "a name"));
                                }
                                i += 1;
                                At::Leaf(QuantityKind::Number)
                            }
                            FigureForm::List => {
                                let Some(index) = path.get(i + 1) else {
                                    return Err(group(
                                        &full,
                                        "a list, one entry per instance",
                                        "an instance's index",
                                    ));
                                };
                                if index.parse::<u32>().map_or(true, |k| k >= comp.replicas) {
                                    return Err(ShapeProblem {
                                        message: format!(
                                            "`{full}`: `{index}` is not an instance of `{}`, which has at most {} (0 to {})",
                                            comp.name,
                                            comp.replicas,
                                            comp.replicas.saturating_sub(1)
                                        ),
                                        hint: format!(
                                            "e.g. {}.0.cpu_utilization",
                                            path[..=i].join(".")
                                        ),
                                    });
                                }
                                if i + 2 >= path.len() {
                                    return Err(group(
                                        &full,
                                        "one instance's figures",
                                        "one of them",
                                    ));
                                }
                                i += 2;
                                At::Leaf(unit_of(&[path[i].as_str()], false))
                            }
                        }
                    } else {
                        let common = property_names(node);
                        let own: Vec<&str> = comp.figures.iter().map(|f| f.0).collect();
                        let hint = did_you_mean(seg, common.iter().chain(own.iter()).copied())
                            .unwrap_or_else(|| {
                                format!(
                                    "a {}'s own figures: {}; every component has {}",
                                    comp.kind,
                                    if own.is_empty() {
                                        "none".to_string()
                                    } else {
                                        own.join(", ")
                                    },
                                    common.join(", ")
                                )
                            });
                        return Err(ShapeProblem {
                            message: format!("{walked} (a {}) has no figure `{seg}`", comp.kind),
                            hint,
                        });
                    }
                }
                At::Schema(node) => {
                    let node = deref(root, node);
                    if let Some(p) = property(node, seg) {
                        keys.push(seg);
                        At::Schema(p)
                    } else if let Some(entry) =
                        node.get("additionalProperties").filter(|a| a.is_object())
                    {
                        // A map: its keys are the model's names of some sort.
                        let map = keys.last().copied().unwrap_or("");
                        let (what, plural, origin, names): (&str, &str, &str, Vec<&str>) = match map
                        {
                            "components" => (
                                "component",
                                "components",
                                "the keys of the model's `components`",
                                self.components.iter().map(|c| c.name.as_str()).collect(),
                            ),
                            "workloads" => (
                                "workload",
                                "workloads",
                                "the keys of the model's `workloads`",
                                self.workloads.iter().map(String::as_str).collect(),
                            ),
                            "by_class" => (
                                "request class",
                                "request classes",
                                "the keys of the workloads' `mix`",
                                self.classes.iter().map(String::as_str).collect(),
                            ),
                            "errors_by_cause" => (
                                "error cause",
                                "error causes",
                                "the causes flashcrowd reports",
                                self.causes.clone(),
                            ),
                            "series" => {
                                return Err(ShapeProblem {
                                    message: "time series are not figures of the run".into(),
                                    hint: "name a figure of the whole counting window, e.g. end_to_end.latency_s.p99".into(),
                                });
                            }
                            _ => ("name", "names", "", Vec::new()),
                        };
                        if !names.is_empty() && !names.contains(&seg) {
                            let hint = did_you_mean(seg, names.iter().copied())
                                .unwrap_or_else(|| format!("name one of the {plural}: {origin}"));
                            return Err(ShapeProblem {
                                message: format!(
                                    "`{full}`: no {what} named `{seg}` ({plural}: {})",
                                    names.join(", ")
                                ),
                                hint,
                            });
                        }
                        match self
                            .components
                            .iter()
                            .find(|c| map == "components" && c.name == seg)
                        {
                            Some(comp) => At::Component(entry, comp),
                            None => At::Schema(entry),
                        }
                    } else {
                        let names = property_names(node);
                        let what = kind_of(node);
                        if names.is_empty() {
                            return Err(ShapeProblem {
                                message: format!("{walked} is {what}: nothing is below it"),
                                hint: format!("end the metric at {walked}"),
                            });
                        }
                        let hint = did_you_mean(seg, names.iter().copied())
                            .unwrap_or_else(|| format!("{walked} has: {}", names.join(", ")));
                        return Err(ShapeProblem {
                            message: format!("{walked} has no figure `{seg}`"),
                            hint,
                        });
                    }
                }
            };
            i += 1;
        }
        let node = match at {
            At::Leaf(k) => return Ok(k),
            At::Component(..) => {
                let full = path.join(".");
                return Err(group(&full, "a component's figures", "one of them"));
            }
            At::Schema(node) => deref(root, node),
        };
        let full = path.join(".");
        match leaf_type(node) {
            Some("boolean") => Ok(QuantityKind::Flag),
            Some("integer") => Ok(unit_of(&keys, true)),
            Some("number") => Ok(unit_of(&keys, false)),
            Some("string") => Err(ShapeProblem {
                message: format!("`{full}` is text, not a figure"),
                hint: "name a number or a yes-or-no figure, e.g. end_to_end.error_rate or verdict.pass".into(),
            }),
            Some("array") => Err(ShapeProblem {
                message: format!("`{full}` is a list, not a figure"),
                hint: "name a number or a yes-or-no figure, e.g. verdict.pass".into(),
            }),
            _ => {
                let names = property_names(node);
                Err(if names.is_empty() {
                    group(&full, "a group of figures by name", "a name")
                } else {
                    ShapeProblem {
                        message: format!("`{full}` is a group of figures, not one"),
                        hint: format!("name one of them: {full}.{}", names.join(" / ")),
                    }
                })
            }
        }
    }
}

fn group(full: &str, what: &str, next: &str) -> ShapeProblem {
    ShapeProblem {
        message: format!("`{full}` is {what}, not one figure"),
        hint: format!("add {next} to the path"),
    }
}

/// The unit a figure's keys give it (keys carry units in the report): a key ending in
/// `_per_s` is a rate; a non-integer under a key ending in `_s` is in seconds.
fn unit_of(keys: &[&str], integer: bool) -> QuantityKind {
    if keys.last().is_some_and(|k| k.ends_with("_per_s")) {
        QuantityKind::PerSecond
    } else if !integer
        && keys
            .iter()
            .any(|k| k.ends_with("_s") && !k.ends_with("_per_s"))
    {
        QuantityKind::Seconds
    } else {
        QuantityKind::Number
    }
}

/// Follow `$ref`s and see through "this or null".
fn deref<'s>(root: &'s Value, mut node: &'s Value) -> &'s Value {
    for _ in 0..16 {
        if let Some(r) = node.get("$ref").and_then(Value::as_str) {
            match r.strip_prefix('#').and_then(|p| root.pointer(p)) {
                Some(n) => node = n,
                None => return node,
            }
        } else if let Some(alts) = node.get("anyOf").and_then(Value::as_array) {
            let mut not_null = alts
                .iter()
                .filter(|a| a.get("type") != Some(&Value::from("null")));
            match (not_null.next(), not_null.next()) {
                (Some(one), None) => node = one,
                _ => return node,
            }
        } else {
            return node;
        }
    }
    node
}

fn property<'s>(node: &'s Value, key: &str) -> Option<&'s Value> {
    node.get("properties").and_then(|p| p.get(key))
}

fn property_names(node: &Value) -> Vec<&str> {
    node.get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

/// The JSON type of a leaf (`["number", "null"]` is a number).
fn leaf_type(node: &Value) -> Option<&str> {
    match node.get("type") {
        Some(Value::String(t)) => Some(t.as_str()),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ => None,
    }
}

fn kind_of(node: &Value) -> &'static str {
    match leaf_type(node) {
        Some("boolean") => "a yes-or-no figure",
        Some("integer" | "number") => "a single figure",
        Some("string") => "text",
        Some("array") => "a list",
        _ => "a group",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::units::Duration;

    fn expectation(metric: &str, comparison: Comparison) -> Expectation {
        Expectation {
            metric: metric.into(),
            path: metric.split('.').map(str::to_string).collect(),
            comparison,
            why: String::new(),
            index: 0,
            line_col: None,
        }
    }

    fn report() -> Value {
        json!({
            "end_to_end": {
                "errors": 3,
                "errors_by_cause": {"timeout": 3},
                "latency_s": {"count": 10, "p99": 0.05},
                "error_latency_s": {"count": 0, "p99": 0.0},
            },
            "verdict": {"pass": true},
        })
    }

    #[test]
    fn units_come_from_the_report_keys() {
        assert_eq!(
            unit_of(&["end_to_end", "latency_s", "p99"], false),
            QuantityKind::Seconds
        );
        assert_eq!(
            unit_of(&["end_to_end", "latency_s", "count"], true),
            QuantityKind::Number
        );
        assert_eq!(
            unit_of(&["end_to_end", "throughput_per_s"], false),
            QuantityKind::PerSecond
        );
        assert_eq!(
            unit_of(&["components", "cpu_utilization"], false),
            QuantityKind::Number
        );
        assert_eq!(unit_of(&["warmup_s"], false), QuantityKind::Seconds);
    }

    #[test]
    fn below_and_above_exclude_their_bound_and_between_includes_both() {
        let n = ExpectValue::Number;
        let r = report();
        let holds = |c| evaluate(&[expectation("end_to_end.errors", c)], &r)[0].holds;
        assert!(!holds(Comparison::Below(n(3.0))));
        assert!(!holds(Comparison::Above(n(3.0))));
        assert!(holds(Comparison::Above(n(2.0))));
        assert!(holds(Comparison::Between(n(3.0), n(3.0))));
        assert!(holds(Comparison::Equals(n(3.0))));
        assert!(holds(Comparison::Near {
            value: n(2.0),
            within: ExpectValue::Percent(50.0),
        }));
        assert!(!holds(Comparison::Near {
            value: n(2.0),
            within: ExpectValue::Number(0.5),
        }));
    }

    #[test]
    fn a_missing_cause_counts_zero_and_an_unmeasured_figure_does_not_hold() {
        let r = report();
        let zero = Comparison::Equals(ExpectValue::Number(0.0));
        let out = evaluate(
            &[
                expectation("end_to_end.errors_by_cause.queue_full", zero),
                expectation(
                    "end_to_end.error_latency_s.p99",
                    Comparison::Below(ExpectValue::Duration(Duration::from_nanos(1))),
                ),
                expectation("end_to_end.nothing", zero),
                expectation("verdict.pass", Comparison::Equals(ExpectValue::Flag(true))),
                expectation(
                    "end_to_end.latency_s.p99",
                    Comparison::Below(ExpectValue::Duration(Duration::from_nanos(60_000_000))),
                ),
            ],
            &r,
        );
        assert!(out[0].holds && out[0].actual == json!(0), "{:?}", out[0]);
        assert!(!out[1].holds && out[1].actual.is_null(), "{:?}", out[1]);
        assert!(
            out[1]
                .note
                .as_deref()
                .unwrap_or("")
                .contains("not measured")
        );
        assert!(!out[2].holds, "{:?}", out[2]);
        assert!(
            out[2]
                .note
                .as_deref()
                .unwrap_or("")
                .contains("not in the report")
        );
        assert!(out[3].holds && out[3].unit == "flag", "{:?}", out[3]);
        assert!(out[4].holds && out[4].unit == "s", "{:?}", out[4]);
        assert_eq!(out[4].high, Some(0.06));
        assert_eq!(
            unmet_reason(&out)
                .as_deref()
                .map(|r| r.starts_with("expectations not met: 2 of 5")),
            Some(true)
        );
    }
}
