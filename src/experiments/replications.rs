//! Independent replications of one model, run in parallel, and their report: every number
//! the mean over the replications, with a sibling `ci95` object of the same shape holding the
//! 95 % confidence half-widths (Student t).
//!
//! Replication `r` runs with the model's seed (or the one given) and replication index `r`,
//! so its random streams differ from every other replication's and each is reproducible on
//! its own (`run --seed S` with replication 0 is the first of them). Results are collected in
//! replication order, so the output does not depend on how many threads ran them.

use rayon::prelude::*;
use serde_json::{Map, Value};

use super::stats::MeanCi;
use crate::metrics::Report;
use crate::metrics::flat::NOT_MEASURED;
use crate::simulation::{RunOptions, Simulation};
use crate::topology::Topology;

/// Most replications one run may ask for.
pub const MAX_REPLICATIONS: u32 = 100_000;

/// Run `n` replications of `topo` (replication indexes 0..n) in parallel; reports in order.
pub fn run(topo: &Topology, options: &RunOptions, n: u32) -> Vec<Report> {
    run_range(
        topo,
        &RunOptions {
            series: false,
            ..*options
        },
        0..n,
    )
}

/// Run replications `range` of `topo` in parallel; reports in order.
fn run_range(topo: &Topology, options: &RunOptions, range: std::ops::Range<u32>) -> Vec<Report> {
    range
        .into_par_iter()
        .map(|r| {
            Simulation::new(
                topo,
                RunOptions {
                    replication: r,
                    ..*options
                },
            )
            .run()
        })
        .collect()
}

/// [`run`] with each report's time series (a pilot reads them).
pub(crate) fn run_with_series(topo: &Topology, options: &RunOptions, n: u32) -> Vec<Report> {
    run_range(
        topo,
        &RunOptions {
            series: true,
            ..*options
        },
        0..n,
    )
}

/// The replications' report: the first replication's JSON with every measured number
/// replaced by its mean over the replications, `ci95` beside it (the same shape, numbers
/// only: each the half-width of the mean's 95 % interval, null with one replication), the
/// number of `replications`, and a `verdict` that passes only when every replication's
/// does (its reasons name the replication).
pub fn aggregate(reports: &[Report]) -> Value {
    let values: Vec<Value> = reports
        .iter()
        .map(|r| serde_json::to_value(r).unwrap_or(Value::Null))
        .collect();
    let refs: Vec<&Value> = values.iter().collect();
    let Some(Value::Object(first)) = refs.first().copied() else {
        return Value::Null;
    };
    let mut out = Map::new();
    let mut ci = Map::new();
    for (key, v) in first {
        if NOT_MEASURED.contains(&key.as_str()) {
            out.insert(key.clone(), v.clone());
            continue;
        }
        let parts: Vec<&Value> = refs.iter().filter_map(|r| r.get(key)).collect();
        let (mean, half) = combine(&parts);
        out.insert(key.clone(), mean);
        if let Some(h) = half {
            ci.insert(key.clone(), h);
        }
    }
    let reasons: Vec<Value> = reports
        .iter()
        .enumerate()
        .flat_map(|(i, r)| {
            r.verdict
                .reasons
                .iter()
                .map(move |reason| Value::from(format!("replication {i}: {reason}")))
        })
        .collect();
    out.insert(
        "verdict".into(),
        serde_json::json!({
            "pass": reports.iter().all(|r| r.verdict.pass),
            "reasons": reasons,
        }),
    );
    ci.remove("verdict");
    // An expectation holds when it holds in every replication; `held_in` says in how many.
    if let Some(Value::Array(list)) = out.get_mut("expectations") {
        for (i, e) in list.iter_mut().enumerate() {
            let held = reports
                .iter()
                .filter(|r| r.expectations.get(i).is_some_and(|x| x.holds))
                .count();
            if let Value::Object(e) = e {
                e.insert("holds".into(), Value::from(held == reports.len()));
                e.insert("held_in".into(), Value::from(held));
            }
        }
    }
    out.insert("replications".into(), Value::from(reports.len()));
    out.insert("ci95".into(), Value::Object(ci));
    Value::Object(out)
}

/// `--precision`: add replications in batches until every headline figure's 95 % half-width
/// is within `relative` of its mean (or under the figure's absolute floor), or `max` is
/// reached.
#[derive(Debug, Clone, Copy)]
pub struct Precision {
    /// The target half-width relative to the mean (0.05 = ±5 %).
    pub relative: f64,
    /// Replications per batch (the first batch included).
    pub batch: u32,
    /// Most replications in all.
    pub max: u32,
}

/// The absolute half-width below which a headline figure counts as precise whatever its
/// mean (error rates near zero, idle utilizations).
fn floor(path: &str) -> f64 {
    let parent = path.rsplit('.').nth(1).unwrap_or("");
    if parent.ends_with("_s") {
        1e-6 // latencies: one microsecond
    } else {
        // Error rates and utilizations: a tenth of a percentage point; throughputs: 0.001/s.
        1e-3
    }
}

/// How far an aggregated report is from `relative` precision: whether every headline figure
/// meets it, and the figure furthest from it (its path, half-width and the half-width
/// allowed).
fn precision_of(agg: &Value, relative: f64) -> (bool, Option<(String, f64, f64)>) {
    use crate::experiments::compare::is_headline;
    use crate::metrics::flat::flatten;
    let half = agg.get("ci95").map(flatten).unwrap_or_default();
    let mut met = true;
    let mut worst: Option<(String, f64, f64)> = None;
    for (path, mean) in flatten(agg).into_iter().filter(|(p, _)| is_headline(p)) {
        let allowed = (relative * mean.abs()).max(floor(&path));
        let h = half.get(&path).copied().unwrap_or(f64::INFINITY);
        met &= h <= allowed;
        if worst.as_ref().is_none_or(|w| h / allowed > w.1 / w.2) {
            worst = Some((path, h, allowed));
        }
    }
    (met, worst)
}

/// Replications until the headline figures reach `p` (see [`Precision`]); the aggregated
/// report carries a `precision` object saying whether they did and which figure was widest.
/// Deterministic: batches are whole and replication indexes run 0, 1, 2…
pub fn run_to_precision(
    topo: &Topology,
    options: &RunOptions,
    p: Precision,
) -> (Vec<Report>, Value) {
    let batch = p.batch.max(2);
    let options = &RunOptions {
        series: false,
        ..*options
    };
    let mut reports = run_range(topo, options, 0..batch.min(p.max.max(2)));
    loop {
        let mut agg = aggregate(&reports);
        let (met, worst) = precision_of(&agg, p.relative);
        let n = reports.len() as u32;
        if met || n >= p.max {
            agg["precision"] = serde_json::json!({
                "target_relative": p.relative,
                "met": met,
                "replications": n,
                "max_replications": p.max,
                "widest": worst.map(|(metric, half, allowed)| serde_json::json!({
                    "metric": metric,
                    "half_width": if half.is_finite() { Value::from(half) } else { Value::Null },
                    "allowed": allowed,
                })),
            });
            return (reports, agg);
        }
        reports.extend(run_range(topo, options, n..(n + batch).min(p.max)));
    }
}

/// The mean of the replications' values at one place, and the half-widths (numbers only;
/// `None` where nothing below is a number).
fn combine(parts: &[&Value]) -> (Value, Option<Value>) {
    // A null (a ratio of nothing: a hit ratio without lookups) says nothing: the shape comes
    // from the first replication that measured something, whichever it is.
    let Some(first) = parts.iter().find(|v| !v.is_null()).or(parts.first()) else {
        return (Value::Null, None);
    };
    match first {
        Value::Number(_) => {
            let xs: Vec<f64> = parts.iter().filter_map(|v| v.as_f64()).collect();
            let m = MeanCi::of(&xs);
            (
                serde_json::json!(m.mean),
                Some(m.half_width.map_or(Value::Null, Value::from)),
            )
        }
        Value::Object(first_map) => {
            // The union of keys: maps of counts (errors by cause, routes) name only what
            // happened, so a key one replication lacks counts 0 there.
            let mut keys: Vec<&String> = first_map.keys().collect();
            for p in parts.iter().skip(1) {
                if let Value::Object(m) = p {
                    for k in m.keys() {
                        if !keys.contains(&k) {
                            keys.push(k);
                        }
                    }
                }
            }
            keys.sort();
            // A summary (`count`, then figures of what was counted) whose count is 0 holds
            // zeros that mean nothing: its figures are the mean over the replications that
            // counted something (the count itself over all of them).
            let counted: Vec<&Value> = parts
                .iter()
                .copied()
                .filter(|p| p.get("count").and_then(Value::as_f64) != Some(0.0))
                .collect();
            let mut mean = Map::new();
            let mut half = Map::new();
            for k in keys {
                let from = if k != "count" && !counted.is_empty() {
                    &counted[..]
                } else {
                    parts
                };
                let present: Vec<&Value> = from.iter().filter_map(|p| p.get(k)).collect();
                // What a replication lacks happened 0 times there: a count is 0, an entry of
                // counts (a request class) is all zeros.
                let zeros: Vec<Value> = present
                    .first()
                    .filter(|v| v.is_number() || v.is_object())
                    .map(|v| vec![zero_like(v)])
                    .unwrap_or_default();
                let column: Vec<&Value> = if zeros.is_empty()
                    || present.iter().any(|v| !v.is_number() && !v.is_object())
                {
                    present
                } else {
                    from.iter().map(|p| p.get(k).unwrap_or(&zeros[0])).collect()
                };
                let (m, h) = combine(&column);
                mean.insert(k.clone(), m);
                if let Some(h) = h {
                    half.insert(k.clone(), h);
                }
            }
            let half = (!half.is_empty()).then_some(Value::Object(half));
            (Value::Object(mean), half)
        }
        Value::Array(_)
            if parts
                .iter()
                .all(|p| p.as_array().is_some_and(|a| a.iter().all(Value::is_string))) =>
        {
            // Notes and warnings: every replication's, once each, in order of appearance.
            let mut union: Vec<Value> = Vec::new();
            for v in parts.iter().filter_map(|p| p.as_array()).flatten() {
                if !union.contains(v) {
                    union.push(v.clone());
                }
            }
            (Value::Array(union), None)
        }
        Value::Array(first_list) => {
            let same_length = parts
                .iter()
                .all(|p| p.as_array().is_some_and(|a| a.len() == first_list.len()));
            if !same_length {
                return ((*first).clone(), None);
            }
            let mut mean = Vec::with_capacity(first_list.len());
            let mut half = Vec::with_capacity(first_list.len());
            let mut any = false;
            for i in 0..first_list.len() {
                let column: Vec<&Value> = parts.iter().filter_map(|p| p.get(i)).collect();
                let (m, h) = combine(&column);
                mean.push(m);
                any |= h.is_some();
                half.push(h.unwrap_or(Value::Null));
            }
            (Value::Array(mean), any.then_some(Value::Array(half)))
        }
        // A flag (an SLO target's `pass`) holds when it holds in every replication.
        Value::Bool(_) => (
            Value::Bool(parts.iter().all(|p| p.as_bool() != Some(false))),
            None,
        ),
        Value::Null | Value::String(_) => ((*first).clone(), None),
    }
}

/// What a replication that saw nothing of `v`'s kind would have reported: numbers 0, a
/// summary counting nothing, the rest as `v`.
fn zero_like(v: &Value) -> Value {
    match v {
        Value::Number(_) => Value::from(0),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), zero_like(v))).collect())
        }
        other => other.clone(),
    }
}

/// The number at dotted `path` (keys only) in an aggregated report or its `ci95`.
pub fn at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, k| v.get(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_become_means_with_half_widths_and_missing_counts_are_zero() {
        let a = serde_json::json!({"x": 1.0, "m": {"a": 2}, "l": [1, 2], "s": "one"});
        let b = serde_json::json!({"x": 3.0, "m": {"b": 4}, "l": [3, 4], "s": "two"});
        let (mean, half) = combine(&[&a, &b]);
        assert_eq!(mean["x"], 2.0);
        assert_eq!(mean["m"]["a"], 1.0);
        assert_eq!(mean["m"]["b"], 2.0);
        assert_eq!(mean["l"][1], 3.0);
        assert_eq!(mean["s"], "one");
        let half = half.unwrap();
        // Two samples 1 and 3: s = √2, t(1) = 12.706, half-width 12.706 · √2 / √2.
        assert!((half["x"].as_f64().unwrap() - 12.706).abs() < 1e-9);
        assert!(half.get("s").is_none());
        // Notes are gathered from every replication.
        let a = serde_json::json!({"notes": ["x", "y"]});
        let b = serde_json::json!({"notes": ["y", "z"]});
        let (mean, half) = combine(&[&a, &b]);
        assert_eq!(mean["notes"], serde_json::json!(["x", "y", "z"]));
        assert!(half.is_none());
    }

    #[test]
    fn a_summary_that_counted_nothing_does_not_pull_the_mean_towards_zero() {
        // Failed requests' latency: two replications had errors (1 s and 3 s), one had none
        // and reports a summary of zeros with count 0.
        let summary = |count: u64, x: f64| serde_json::json!({"count": count, "mean": x, "p99": x});
        let a = serde_json::json!({"error_latency_s": summary(4, 1.0)});
        let b = serde_json::json!({"error_latency_s": summary(0, 0.0)});
        let c = serde_json::json!({"error_latency_s": summary(2, 3.0)});
        let (mean, half) = combine(&[&a, &b, &c]);
        assert_eq!(mean["error_latency_s"]["mean"], 2.0);
        assert_eq!(mean["error_latency_s"]["p99"], 2.0);
        assert_eq!(mean["error_latency_s"]["count"], 2.0);
        // Two samples: t(1) · s / √2 with s = √2.
        let h = half.unwrap()["error_latency_s"]["mean"].as_f64().unwrap();
        assert!((h - 12.706).abs() < 1e-9, "{h}");
    }

    #[test]
    fn a_class_one_replication_never_saw_counts_zero_there_and_its_latency_is_left_out() {
        let class = |n: u64, x: f64| serde_json::json!({"arrivals": n, "latency_s": {"count": n, "mean": x}});
        let a = serde_json::json!({"by_class": {"read": class(10, 0.5), "write": class(2, 1.0)}});
        let b = serde_json::json!({"by_class": {"read": class(10, 0.7)}});
        let (mean, _) = combine(&[&a, &b]);
        assert_eq!(mean["by_class"]["write"]["arrivals"], 1.0);
        assert_eq!(mean["by_class"]["write"]["latency_s"]["mean"], 1.0);
        assert_eq!(mean["by_class"]["read"]["latency_s"]["mean"], 0.6);
    }

    #[test]
    fn a_null_in_the_first_replication_does_not_hide_the_others_numbers() {
        // A cache's hit ratio is null in a replication without lookups.
        let a = serde_json::json!({"c": {"hit_ratio": null}});
        let b = serde_json::json!({"c": {"hit_ratio": 0.5}});
        let d = serde_json::json!({"c": {"hit_ratio": 0.7}});
        let (mean, _) = combine(&[&a, &b, &d]);
        let x = mean["c"]["hit_ratio"].as_f64().unwrap();
        assert!((x - 0.6).abs() < 1e-12, "{x}");
        let (mean, _) = combine(&[&b, &a, &d]);
        assert!((mean["c"]["hit_ratio"].as_f64().unwrap() - 0.6).abs() < 1e-12);
        let (mean, _) = combine(&[&a, &a]);
        assert_eq!(mean["c"]["hit_ratio"], Value::Null);
    }

    #[test]
    fn a_flag_holds_only_when_it_holds_in_every_replication() {
        let pass = serde_json::json!({"slo": {"pass": true, "failed": []}});
        let fail = serde_json::json!({"slo": {"pass": false, "failed": ["p99"]}});
        let (mean, _) = combine(&[&pass, &fail]);
        assert_eq!(mean["slo"]["pass"], false);
        assert_eq!(mean["slo"]["failed"], serde_json::json!(["p99"]));
        let (mean, _) = combine(&[&pass, &pass]);
        assert_eq!(mean["slo"]["pass"], true);
    }
}
