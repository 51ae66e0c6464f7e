//! The report of one run: golden signals end to end and per component, the SLO verdict and
//! stability notes. The same types feed the CLI's text and JSON, the GUI, sweeps and tests.
//! Keys carry their units (`throughput_per_s`, `latency_s.p99`); `schema_version` changes
//! when a key changes meaning. docs/report.schema.json is generated from these types.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ErrorCause, LatencySummary, NodeStats, SeriesPoint, Window};

/// Version of the JSON report's shape.
pub const SCHEMA_VERSION: u32 = 2;

/// Everything one run measured.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Report {
    /// Version of this shape (bumped when a key changes meaning).
    pub schema_version: u32,
    /// The model's name.
    pub model: String,
    /// The seed the run used.
    pub seed: u64,
    /// Where the figures come from: flashcrowd's version, the model text's hash, the
    /// overrides and flags applied.
    pub provenance: Provenance,
    /// The same as `arrival_window_s` (an older name, kept): the arrival window, s.
    pub sim_duration_s: f64,
    /// The window requests arrived in, from 0 s: the model's `duration`, or shorter when a
    /// `requests:` budget closed it early, s. Counting covers [`warmup_s`, this).
    pub arrival_window_s: f64,
    /// The model's `duration` (after overrides), s.
    pub model_duration_s: f64,
    /// Warm-up excluded from counting, s.
    pub warmup_s: f64,
    /// Simulated time when the run ended (after draining), s.
    pub end_s: f64,
    /// Events handled.
    pub events: u64,
    /// Wall-clock time the run took, s (the only key that differs between identical runs).
    pub wall_s: f64,
    /// Requests as the users saw them, all workloads together.
    pub end_to_end: EndToEnd,
    /// The same, per workload.
    pub workloads: BTreeMap<String, EndToEnd>,
    /// Per component.
    pub components: BTreeMap<String, ComponentReport>,
    /// Pass or fail, and why: a missed SLO target, a deadlock, instability, no request
    /// completed, nothing arrived. The command exits 1 when it fails (unless `--no-fail`).
    pub verdict: Verdict,
    /// Cycles of components whose calls wait on each other and can never move again, found
    /// when the report was made (docs/ARCHITECTURE.md, "Deadlocks"); empty when none.
    #[serde(default)]
    pub deadlocked: Vec<Deadlock>,
    /// Why the run is not in steady state (empty when it is): a backlog at the counting
    /// window's close, a queue still growing, the in-flight cap reached, work censored
    /// (docs/ARCHITECTURE.md, "Overload and stability"). A component in a deadlock gets no
    /// backlog note here: `deadlocked` says why its calls pile up.
    pub unstable: Vec<String>,
    /// The SLO verdict, when the model has targets.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub slo: Option<SloVerdict>,
    /// Warnings: from loading the model, then about the run (a transient overload that
    /// drained inside the counting window).
    pub warnings: Vec<String>,
    /// Commands applied while it ran (the model's `events` and live ones), in order.
    #[serde(default)]
    pub events_applied: Vec<crate::topology::events::AppliedEvent>,
    /// The model's `expect` entries, each with what the run measured and whether it holds
    /// (in the order written; empty when the model has none). They fail the verdict only
    /// when asked to (`run --check-expect`): a model changed with `--set` may rightly
    /// differ from what it promises.
    #[serde(default)]
    pub expectations: Vec<super::expect::ExpectationResult>,
    /// The warm-up `run --warmup auto` chose (MSER-5), when it chose one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup_auto: Option<WarmupChoice>,
    /// Time series (only with `--series` or `--csv`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub series: BTreeMap<String, Vec<SeriesPoint>>,
}

/// A deadlock: calls of a cycle of components waiting on each other for good.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Deadlock {
    /// The components of the cycle in call order: each waits on the next, the last on the
    /// first.
    pub cycle: Vec<String>,
    /// Other components caught in the same knot of cycles.
    pub also: Vec<String>,
    /// Calls that can never finish, in the cycles or queued behind them (all deadlocks of
    /// the run together).
    pub stuck_calls: u64,
    /// What happened and what to change, as the verdict gives it (`deadlocked: a → b → a:
    /// ...`).
    pub note: String,
}

/// The run's verdict.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Verdict {
    /// True when nothing below failed.
    pub pass: bool,
    /// Why it failed, one sentence each (empty when it passed).
    pub reasons: Vec<String>,
}

impl Verdict {
    /// Judge a finished report: its SLO, its deadlocks and stability notes, and whether
    /// anything arrived and completed (a run without an SLO can still fail).
    pub fn judge(r: &Report) -> Self {
        let e = &r.end_to_end;
        let mut reasons = Vec::new();
        if e.offered == 0 {
            reasons.push(
                "nothing arrived: no request arrived in the counting window (check the workloads, `duration` and `warmup`)"
                    .to_string(),
            );
        } else if e.completed == 0 {
            reasons.push(format!(
                "no request completed: {} offered, {} failed, {} censored",
                e.offered, e.errors, e.censored
            ));
        }
        reasons.extend(r.deadlocked.iter().map(|d| d.note.clone()));
        reasons.extend(r.unstable.iter().cloned());
        if let Some(slo) = r.slo.as_ref().filter(|s| !s.pass) {
            reasons.push(format!("SLO missed: {}", slo.failed.join(", ")));
        }
        Self {
            pass: reasons.is_empty(),
            reasons,
        }
    }
}

/// What the automatic warm-up chose, and from what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WarmupChoice {
    /// The rule (`MSER-5`).
    pub method: String,
    /// The warm-up chosen, s (a whole number of batches).
    pub chosen_s: f64,
    /// Series window length of the pilot, s.
    pub window_s: f64,
    /// Batches of five windows in the pilot's arrival window.
    pub batches: usize,
    /// Leading batches truncated.
    pub truncated_batches: usize,
    /// Replications the pilot averaged.
    pub pilot_replications: u32,
    /// The minimum fell at the end of the search (half the batches): the run is likely too
    /// short for its transient; run longer.
    pub at_limit: bool,
}

/// Where a report comes from, so a figure can be traced to its inputs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Provenance {
    /// The flashcrowd version that produced the report.
    pub flashcrowd_version: String,
    /// FNV-1a 64 of the model file's text (hex, 16 digits; a leading byte-order mark is not
    /// part of the text); null for a model built in code.
    pub model_fnv1a64: Option<String>,
    /// `--set` overrides applied, as given (`path=value`).
    pub overrides: Vec<String>,
    /// Other options that change the run (`--seed 3`, `--duration 10s`, `--no-fail`).
    pub flags: Vec<String>,
}

/// End-to-end golden signals.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct EndToEnd {
    /// Requests that arrived in the counting window.
    pub offered: u64,
    /// Of those, answered successfully.
    pub completed: u64,
    /// Of those, failed (errors, timeouts, rejections).
    pub errors: u64,
    /// Of those, unfinished when the drain ended.
    pub censored: u64,
    /// Failures by cause.
    pub errors_by_cause: BTreeMap<String, u64>,
    /// Successes completed per second inside the counting window (the departure rate; equal
    /// to the counted arrival rate in steady state, the capacity under overload).
    pub throughput_per_s: f64,
    /// errors / (completed + errors).
    pub error_rate: f64,
    /// Latency of successful requests, s.
    pub latency_s: LatencySummary,
    /// Latency of failed requests (time to the error), s.
    pub error_latency_s: LatencySummary,
    /// Time-averaged requests in the system (Little's L).
    pub mean_in_flight: f64,
    /// Requests in the system (counted or not) when the counting window closed.
    pub in_flight_at_close: u64,
    /// Mean time in the system of every finished request, successes and failures, s (W).
    pub mean_sojourn_s: f64,
    /// Arrivals, successes, failures and latency by request class (SLOs per endpoint).
    pub by_class: BTreeMap<String, ClassReport>,
}

/// One request class's figures at a component or end to end.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct ClassReport {
    /// Requests (calls) of this class that arrived in the counting window.
    pub arrivals: u64,
    /// Of those, answered successfully.
    pub completions: u64,
    /// Of those, failed.
    pub errors: u64,
    /// errors / (completions + errors).
    pub error_rate: f64,
    /// Latency of its successes, s.
    pub latency_s: LatencySummary,
}

/// A component kind's own figures, by name (`hit_ratio`, `cpu_utilization`, ...), flattened
/// into its component's report object. Each kind lists its figures, with what they mean, in
/// its metadata (`components::KindMeta::figures`).
pub type Figures = BTreeMap<String, serde_json::Value>;

/// One component's signals: the figures every component has, then its kind's own.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ComponentReport {
    /// `service`, `load_balancer`, ...
    pub kind: String,
    /// Instances.
    pub replicas: u32,
    /// Calls that arrived in the counting window.
    pub arrivals: u64,
    /// Of those, answered successfully.
    pub completions: u64,
    /// Of those, failed (including failures of its downstream calls).
    pub errors: u64,
    /// Failures by cause.
    pub errors_by_cause: BTreeMap<String, u64>,
    /// Of those, unfinished when the drain ended.
    pub censored: u64,
    /// Successes completed per second inside the counting window (the departure rate).
    pub throughput_per_s: f64,
    /// errors / (completions + errors).
    pub error_rate: f64,
    /// Time-averaged counted calls in the component (Little's L = λ W exactly).
    pub mean_in_flight: f64,
    /// Calls in the component (counted or not) when the counting window closed.
    pub in_flight_at_close: u64,
    /// Mean time in the component of every finished counted call, s.
    pub mean_sojourn_s: f64,
    /// Latency of successes, s.
    pub latency_s: LatencySummary,
    /// Latency of failures, s.
    pub error_latency_s: LatencySummary,
    /// Arrivals, successes, failures and latency by request class.
    pub by_class: BTreeMap<String, ClassReport>,
    /// The kind's own figures, flattened into this object (a service's `cpu_utilization`,
    /// a router's `routed`); see `figures` in each kind's description.
    #[serde(flatten)]
    pub figures: Figures,
}

impl ComponentReport {
    /// A kind figure as a number, if it is one.
    pub fn figure(&self, name: &str) -> Option<f64> {
        self.figures.get(name).and_then(serde_json::Value::as_f64)
    }
}

/// The figures by class of `stats` (merged over several nodes for end to end).
fn by_class(stats: &[&NodeStats], classes: &[String]) -> BTreeMap<String, ClassReport> {
    let mut out = BTreeMap::new();
    for (i, name) in classes.iter().enumerate() {
        let mut c = ClassReport::default();
        let mut parts = Vec::with_capacity(stats.len());
        for s in stats {
            if let Some(k) = s.by_class.get(i) {
                let completions = k.completions();
                c.completions += completions;
                c.arrivals += completions + k.errors + k.censored;
                c.errors += k.errors;
                parts.push(&k.latency);
            }
        }
        if c.arrivals + c.completions + c.errors == 0 {
            continue;
        }
        c.error_rate = ratio(c.errors, c.completions + c.errors);
        c.latency_s = super::LatencyHistogram::summary_of(&parts);
        out.insert(name.clone(), c);
    }
    out
}

/// What names the numbered things in statistics: error causes and request classes.
#[derive(Debug, Clone, Copy)]
pub struct Names<'a> {
    /// Error causes by id.
    pub causes: &'a [&'a str],
    /// Request classes by id.
    pub classes: &'a [String],
}

/// The SLO verdict.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SloVerdict {
    /// True when every target holds.
    pub pass: bool,
    /// Names of the failing targets (`p99`, `error_rate`, ...).
    pub failed: Vec<String>,
    /// Each target with what was measured.
    pub targets: Vec<SloTarget>,
}

/// One SLO target.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SloTarget {
    /// `p50`, `p95`, `p99`, `p999` or `error_rate`.
    pub name: String,
    /// The target (s for latencies, a fraction for error_rate).
    pub target: f64,
    /// What was measured.
    pub actual: f64,
    /// actual ≤ target, with something to judge (a latency target fails when no request
    /// succeeded, an error-rate target when none finished).
    pub pass: bool,
}

/// SLO targets in plain numbers (seconds; error rate as a fraction).
#[derive(Debug, Clone, Copy, Default)]
pub struct SloTargets {
    /// Median target, s.
    pub p50_s: Option<f64>,
    /// 95th percentile target, s.
    pub p95_s: Option<f64>,
    /// 99th percentile target, s.
    pub p99_s: Option<f64>,
    /// 99.9th percentile target, s.
    pub p999_s: Option<f64>,
    /// Error-rate target.
    pub error_rate: Option<f64>,
}

impl SloVerdict {
    /// Judge end-to-end results against targets.
    pub fn judge(t: &SloTargets, e2e: &EndToEnd) -> Self {
        let l = &e2e.latency_s;
        // A latency target needs successes to judge, an error-rate target finished requests;
        // without them the target is not met (an empty run proves nothing).
        let has_latency = e2e.completed > 0;
        let has_outcomes = e2e.completed + e2e.errors > 0;
        let mut targets = Vec::new();
        for (name, target, actual, judged) in [
            ("p50", t.p50_s, l.p50, has_latency),
            ("p95", t.p95_s, l.p95, has_latency),
            ("p99", t.p99_s, l.p99, has_latency),
            ("p999", t.p999_s, l.p999, has_latency),
            ("error_rate", t.error_rate, e2e.error_rate, has_outcomes),
        ] {
            if let Some(target) = target {
                targets.push(SloTarget {
                    name: name.into(),
                    target,
                    actual,
                    pass: judged && actual <= target,
                });
            }
        }
        let failed: Vec<String> = targets
            .iter()
            .filter(|t| !t.pass)
            .map(|t| t.name.clone())
            .collect();
        Self {
            pass: failed.is_empty(),
            failed,
            targets,
        }
    }
}

/// Counts by cause name (`names[i]` is cause i's), leaving out causes that never happened.
fn causes(errors: &[u64; ErrorCause::MAX], names: &[&str]) -> BTreeMap<String, u64> {
    errors
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(i, n)| {
            let name = names
                .get(i)
                .map_or_else(|| format!("cause_{i}"), |s| s.to_string());
            (name, *n)
        })
        .collect()
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

impl EndToEnd {
    /// Combine workload statistics (one or more) into end-to-end figures.
    pub fn from_stats(stats: &[&NodeStats], w: &Window, end_ns: u64, names: Names<'_>) -> Self {
        let mut latency = Vec::new();
        let mut error_latency = Vec::new();
        let mut out = EndToEnd::default();
        let mut errors = [0u64; ErrorCause::MAX];
        let mut area = 0u128;
        let mut sojourn = 0u128;
        let mut departures = 0u64;
        for s in stats {
            out.offered += s.arrivals;
            out.completed += s.completions;
            departures += s.departures_in_window();
            out.censored += s.censored;
            for (e, n) in errors.iter_mut().zip(s.errors) {
                *e += n;
            }
            latency.extend(s.latency_parts());
            error_latency.push(&s.error_latency);
            area += s.in_flight_counted.area_since_start(end_ns);
            sojourn += s.sojourn_sum_ns();
        }
        out.errors = errors.iter().sum();
        out.errors_by_cause = causes(&errors, names.causes);
        out.by_class = by_class(stats, names.classes);
        out.throughput_per_s = departures as f64 / w.length_s();
        out.error_rate = ratio(out.errors, out.completed + out.errors);
        out.latency_s = super::LatencyHistogram::summary_of(&latency);
        out.error_latency_s = super::LatencyHistogram::summary_of(&error_latency);
        out.mean_in_flight = area as f64 / 1e9 / w.length_s();
        out.in_flight_at_close = stats.iter().map(|s| s.in_flight_at_close()).sum();
        let finished = out.completed + out.errors;
        out.mean_sojourn_s = if finished == 0 {
            0.0
        } else {
            sojourn as f64 / 1e9 / finished as f64
        };
        out
    }
}

impl ComponentReport {
    /// A component's common figures, with its kind's own (`figures`).
    pub fn from_stats(
        kind: &str,
        replicas: u32,
        s: &NodeStats,
        w: &Window,
        end_ns: u64,
        names: Names<'_>,
        figures: Figures,
    ) -> Self {
        let errors = s.error_count();
        let finished = s.completions + errors;
        Self {
            kind: kind.to_string(),
            replicas,
            arrivals: s.arrivals,
            completions: s.completions,
            errors,
            errors_by_cause: causes(&s.errors, names.causes),
            censored: s.censored,
            throughput_per_s: s.departures_in_window() as f64 / w.length_s(),
            error_rate: ratio(errors, finished),
            mean_in_flight: s.in_flight_counted.area_since_start(end_ns) as f64
                / 1e9
                / w.length_s(),
            in_flight_at_close: s.in_flight_at_close(),
            mean_sojourn_s: if finished == 0 {
                0.0
            } else {
                s.sojourn_sum_ns() as f64 / 1e9 / finished as f64
            },
            latency_s: s.latency_summary(),
            error_latency_s: s.error_latency.summary(),
            by_class: by_class(&[s], names.classes),
            figures,
        }
    }
}
