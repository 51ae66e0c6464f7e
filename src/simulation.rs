//! One simulation run: builds the [`World`] from a [`Topology`], drives it (to completion, or
//! stepped by a budget for the GUI and tests), takes commands while running, and assembles
//! the [`Report`]. This is the layer the CLI, the GUI and sweeps all call.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::components::deadlock::Deadlock;
use crate::components::{CommandError, FigureUnit, InstanceView, KINDS, World, error_cause_names};
use crate::engine::{Engine, SimTime, StepOutcome};
use crate::metrics::expect::{self, ComponentShape, FigureForm, ReportShape};
use crate::metrics::report::{
    ComponentReport, Deadlock as DeadlockReport, EndToEnd, Names, Provenance, SCHEMA_VERSION,
    SloTargets, SloVerdict, Verdict,
};
use crate::metrics::stability::{Backlog, Stability};
use crate::metrics::{NodeStats, Report};
use crate::topology::events::{AppliedEvent, Command, Refusal};
use crate::topology::expect::Expectation;
use crate::topology::{Diagnostic, NodeId, Topology};

// A simulation moves to its own thread (the GUI's, a sweep's worker); a topology is shared by
// the runs of a sweep.
const _: () = {
    const fn send<T: Send>() {}
    const fn sync<T: Sync>() {}
    send::<Simulation>();
    sync::<Topology>();
};

/// The JSON Schema of the report, with what the derived schema cannot say: which keys of a
/// component's object are common and which figures each kind adds (from the registry:
/// `x-kind-figures`, and in the description).
pub fn report_schema() -> serde_json::Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(Report)).unwrap_or_default();
    let Some(component) = schema
        .get_mut("$defs")
        .and_then(|d| d.get_mut("ComponentReport"))
        .and_then(serde_json::Value::as_object_mut)
    else {
        return schema;
    };
    let common: Vec<String> = component
        .get("properties")
        .and_then(serde_json::Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    let mut kinds = serde_json::Map::new();
    let mut lines = Vec::new();
    for kind in crate::components::KINDS {
        let figures: serde_json::Map<String, serde_json::Value> = kind
            .meta
            .figures
            .iter()
            .map(|f| (f.name.to_string(), serde_json::Value::from(f.summary)))
            .collect();
        let names: Vec<&str> = kind.meta.figures.iter().map(|f| f.name).collect();
        lines.push(format!(
            "{}: {}",
            kind.name,
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        ));
        kinds.insert(kind.name.to_string(), serde_json::Value::Object(figures));
    }
    let description = component
        .get("description")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_string();
    component.insert(
        "description".into(),
        serde_json::Value::from(format!(
            "{description}\n\nThe properties listed are common to every kind. Each kind adds its own figures as further keys (x-kind-figures says what each means) — {}.",
            lines.join("; ")
        )),
    );
    component.insert("x-common-keys".into(), serde_json::json!(common));
    component.insert("x-kind-figures".into(), serde_json::Value::Object(kinds));
    describe_kind_series(&mut schema);
    schema
}

/// Say in the schema which columns each kind adds to its series points (`x-kind-series`).
fn describe_kind_series(schema: &mut serde_json::Value) {
    let Some(point) = schema
        .get_mut("$defs")
        .and_then(|d| d.get_mut("SeriesPoint"))
        .and_then(serde_json::Value::as_object_mut)
    else {
        return;
    };
    let mut kinds = serde_json::Map::new();
    let mut lines = Vec::new();
    for (name, meta) in crate::components::KINDS
        .iter()
        .map(|k| (k.name, &k.meta))
        .chain([("workload", &crate::components::WORKLOAD_META)])
    {
        let columns: serde_json::Map<String, serde_json::Value> = meta
            .series
            .iter()
            .map(|c| (c.name.to_string(), serde_json::Value::from(c.summary)))
            .collect();
        let names: Vec<&str> = meta.series.iter().map(|c| c.name).collect();
        lines.push(format!(
            "{name}: {}",
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        ));
        kinds.insert(name.to_string(), serde_json::Value::Object(columns));
    }
    let description = point
        .get("description")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_string();
    point.insert(
        "description".into(),
        serde_json::Value::from(format!(
            "{description}\n\nThe properties listed are common to every node. Each kind adds its own columns as further keys (x-kind-series says what each means) — {}.",
            lines.join("; ")
        )),
    );
    point.insert("x-kind-series".into(), serde_json::Value::Object(kinds));
}

/// Check that each of `topo`'s expectations names a figure a report of it can hold (a
/// component, workload, class or error cause of the model; a key of the report's types or of
/// the component kind's own figures) and compares it with values of its unit. Every problem
/// is located at the entry's metric, with a did-you-mean or the names there are. Loading a
/// model (`topology::load_file`) checks the rest of each entry; the CLI runs both.
pub fn check_expectations(topo: &Topology) -> Vec<Diagnostic> {
    if topo.expectations.is_empty() {
        return Vec::new();
    }
    let schema = report_schema();
    let form = |unit: FigureUnit| match unit {
        FigureUnit::Ratio | FigureUnit::Number | FigureUnit::Count | FigureUnit::Bytes => {
            FigureForm::Number
        }
        FigureUnit::Latency => FigureForm::Summary,
        FigureUnit::Shares => FigureForm::Counts,
        FigureUnit::List => FigureForm::List,
    };
    let shape = ReportShape {
        schema: &schema,
        components: topo
            .nodes
            .iter()
            .filter(|n| !n.kind.is_workload())
            .map(|n| {
                let kind = n.kind.kind_name();
                let figures = KINDS
                    .iter()
                    .find(|k| k.name == kind)
                    .map(|k| {
                        k.meta
                            .figures
                            .iter()
                            .map(|f| (f.name, form(f.unit)))
                            .collect()
                    })
                    .unwrap_or_default();
                // The most instances it will have: the model's events may scale it out.
                let replicas = topo
                    .spec
                    .events
                    .iter()
                    .filter_map(|(_, c)| match c {
                        Command::Replicas { component, count } if *component == n.name => {
                            Some(*count)
                        }
                        _ => None,
                    })
                    .fold(n.kind.instances(), u32::max);
                ComponentShape {
                    name: n.name.clone(),
                    kind,
                    replicas,
                    figures,
                }
            })
            .collect(),
        workloads: topo
            .nodes
            .iter()
            .filter(|n| n.kind.is_workload())
            .map(|n| n.name.clone())
            .collect(),
        classes: topo.classes.clone(),
        causes: error_cause_names().to_vec(),
        has_slo: topo.slo.is_some(),
    };
    let mut out = Vec::new();
    for e in &topo.expectations {
        if let Err(p) = shape.check(e) {
            let mut d = Diagnostic::error(p.message)
                .at(format!("expect.{}.metric", e.index))
                .hint(p.hint);
            d.file = topo.file.clone();
            d.line_col = e.line_col;
            out.push(d);
        }
    }
    out
}

/// How to run.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Replace the model's seed.
    pub seed: Option<u64>,
    /// Replication index (its streams differ from every other replication's).
    pub replication: u32,
    /// Put the time series into the report.
    pub series: bool,
    /// Fail the verdict when one of the model's expectations does not hold (`run
    /// --check-expect`); otherwise they are only reported.
    pub check_expectations: bool,
}

/// Why a command was not taken.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandRefused {
    /// It does not fit the model (no such component, instance or field; a bad value).
    #[error("{}{}", .0.message, .0.hint.as_ref().map(|h| format!(" (hint: {h})")).unwrap_or_default())]
    Invalid(Refusal),
    /// The run is over.
    #[error("the run is over")]
    Finished,
}

/// A simulation in progress.
pub struct Simulation {
    engine: Engine<World>,
    /// Request class names, by id.
    classes: Vec<String>,
    /// The model's nodes, to resolve commands by name.
    nodes: Vec<crate::topology::model::Node>,
    /// Region names, by id − 1 (for outage commands).
    regions: Vec<String>,
    /// Zones, by id − 1 (for outage commands).
    zones: Vec<crate::topology::model::Zone>,
    /// Every command scheduled, by the index the world gave it.
    commands: Vec<Command>,
    names: Vec<String>,
    kinds: Vec<&'static str>,
    is_workload: Vec<bool>,
    /// Whether each node's backlog is judged for stability: workloads, and components where
    /// work waits (not those it passes through).
    judged: Vec<bool>,
    model: String,
    model_duration_ns: u64,
    seed: u64,
    slo: Option<SloTargets>,
    /// The model's `expect` entries.
    expectations: Vec<Expectation>,
    warnings: Vec<String>,
    options: RunOptions,
    wall: Instant,
    finished: bool,
    /// The last series window is closed and unfinished calls are censored.
    concluded: bool,
}

/// A running simulation's figures so far ([`Simulation::snapshot`]): plain data, for the GUI,
/// progress bars and tests.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    /// Simulated time now, s.
    pub now_s: f64,
    /// The run is over.
    pub finished: bool,
    /// The report as it stands (no series).
    pub report: Report,
    /// Each node's latest closed time-series window, by name.
    pub latest: BTreeMap<String, crate::metrics::SeriesPoint>,
}

impl Simulation {
    /// Prepare a run of `topo`.
    pub fn new(topo: &Topology, options: RunOptions) -> Self {
        let seed = options.seed.unwrap_or(topo.seed);
        let mut engine = Engine::new(World::new(topo, seed, options.replication));
        let actions: Vec<_> = topo.events.iter().map(|(at, a)| (*at, *a)).collect();
        engine.model.start(&actions);
        let commands = topo.spec.events.iter().map(|(_, c)| c.clone()).collect();
        let slo = topo.slo.as_ref().map(|s| SloTargets {
            p50_s: s.p50.map(|d| d.as_secs_f64()),
            p95_s: s.p95.map(|d| d.as_secs_f64()),
            p99_s: s.p99.map(|d| d.as_secs_f64()),
            p999_s: s.p999.map(|d| d.as_secs_f64()),
            error_rate: s.error_rate,
        });
        Self {
            engine,
            classes: topo.classes.clone(),
            regions: topo.regions.clone(),
            zones: topo.zones.clone(),
            nodes: topo.nodes.clone(),
            commands,
            names: topo.nodes.iter().map(|n| n.name.clone()).collect(),
            kinds: topo.nodes.iter().map(|n| n.kind.kind_name()).collect(),
            is_workload: topo.nodes.iter().map(|n| n.kind.is_workload()).collect(),
            judged: topo
                .nodes
                .iter()
                .map(|n| n.kind.is_workload() || n.kind.holds_work())
                .collect(),
            model: topo.name.clone(),
            model_duration_ns: topo.duration_ns,
            seed,
            slo,
            expectations: topo.expectations.clone(),
            warnings: topo.warnings.iter().map(ToString::to_string).collect(),
            options,
            wall: Instant::now(),
            finished: false,
            concluded: false,
        }
    }

    /// Current simulated time.
    pub fn now(&self) -> SimTime {
        self.engine.now()
    }

    /// Events handled so far.
    pub fn events(&self) -> u64 {
        self.engine.events_handled()
    }

    /// A self-check for tests and fuzzing, cheap enough to call between steps (it reads only
    /// and costs O(live calls)): the bookkeeping of every node agrees with the live calls and
    /// with its statistics ([`World::check_invariants`] lists what is checked). `Err` says
    /// what broke, at which node (by name and id), and which instance and call.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.engine.model.check_invariants()
    }

    /// The instances of the component called `name` as they stand between steps (its
    /// threads, CPUs, the calls running a burst and those queued, in order): one per replica
    /// for a kind whose work waits for threads and CPUs (a service), none for other kinds;
    /// `None` when there is no such node. Read-only; costs O(live calls).
    pub fn instances(&self, name: &str) -> Option<Vec<InstanceView>> {
        self.engine.model.instance_views(self.node_id(name)?)
    }

    /// Each node's latest closed time-series window, by name (what [`Snapshot::latest`]
    /// carries), without building a report: cheap enough to read after every window.
    pub fn latest_points(&self) -> BTreeMap<String, crate::metrics::SeriesPoint> {
        self.names
            .iter()
            .zip(&self.engine.model.nodes)
            .filter_map(|(name, n)| n.stats.series.latest().map(|p| (name.clone(), p)))
            .collect()
    }

    /// Threads and CPUs of the node called `name` over all its instances as they stand
    /// (each `None` when unlimited), or `None` when there is no such node.
    pub fn capacity(&self, name: &str) -> Option<(Option<u64>, Option<u64>)> {
        let id = self.node_id(name)?;
        Some(self.engine.model.nodes.get(id as usize)?.live.capacity())
    }

    /// Calls alive now, in every component (0 once a run has drained).
    pub fn calls_in_flight(&self) -> usize {
        self.engine.model.core.calls.len()
    }

    /// The id of a node by name.
    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| i as NodeId)
    }

    /// Apply a command at the first instant none of whose events has run yet: now, between
    /// steps, unless an event of this instant has already been handled, then 1 ns later.
    /// So a live session applies it exactly where a model's `events` entry with the recorded
    /// time (see [`Simulation::applied_events`]) applies it on replay.
    pub fn command(&mut self, cmd: &Command) -> Result<(), CommandRefused> {
        if self.finished {
            return Err(CommandRefused::Finished);
        }
        let action = cmd
            .resolve(&self.nodes, &self.regions, &self.zones)
            .map_err(CommandRefused::Invalid)?;
        let now = self.engine.now();
        let at = if self.engine.instant_begun() {
            now.plus_nanos(1)
        } else {
            now
        };
        let index = self.engine.model.schedule_live_command(at, action) as usize;
        debug_assert_eq!(index, self.commands.len());
        self.commands.push(cmd.clone());
        Ok(())
    }

    /// The commands applied so far, in order, with their exact time.
    pub fn applied_events(&self) -> Vec<AppliedEvent> {
        self.engine
            .model
            .applied()
            .iter()
            .filter_map(|(at_ns, index, outcome)| {
                let command = self.commands.get(*index as usize)?.clone();
                Some(AppliedEvent {
                    at_s: *at_ns as f64 / 1e9,
                    at_ns: *at_ns,
                    command,
                    refused: outcome.as_ref().err().map(CommandError::to_string),
                })
            })
            .collect()
    }

    /// Handle up to `max_events` events, not beyond simulated time `until` (nor the end of
    /// the drain). Returns `Idle` once the run is over.
    pub fn step(&mut self, until: SimTime, max_events: u64) -> StepOutcome {
        if self.finished {
            return StepOutcome::Idle;
        }
        let out = self.engine.step(until, max_events);
        if out == StepOutcome::Idle {
            self.finished = true;
            self.conclude();
        }
        out
    }

    /// True once the run is over.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Run to the end and report.
    pub fn run(mut self) -> Report {
        while self.step(SimTime::MAX, u64::MAX) != StepOutcome::Idle {}
        self.finish()
    }

    /// Close the books and build the report (call once, after the run).
    pub fn finish(mut self) -> Report {
        self.conclude();
        self.build_report(self.options.series)
    }

    /// A view of the run so far, without stopping it: the report as it would read if the
    /// run ended now (nothing censored yet while it runs), with each node's latest closed
    /// series window instead of whole series. Once the run is over it equals the final
    /// report on every field it carries, `wall_s` aside. Cheap enough to take tens of times
    /// a second (docs/PERFORMANCE.md gives its cost).
    pub fn snapshot(&self) -> Snapshot {
        let report = self.build_report(false);
        let latest = self.latest_points();
        Snapshot {
            now_s: self.engine.now().as_nanos() as f64 / 1e9,
            finished: self.finished,
            latest,
            report,
        }
    }

    /// The run is over: close the last series window and count unfinished calls as
    /// censored (once).
    fn conclude(&mut self) {
        if self.concluded {
            return;
        }
        self.concluded = true;
        let now = self.engine.now().as_nanos();
        let world = &mut self.engine.model;
        world.close_series(now);
        world.censor();
    }

    /// The report of the run as it stands.
    fn build_report(&self, with_series: bool) -> Report {
        let now = self.engine.now().as_nanos();
        let events = self.events();
        let world = &self.engine.model;
        let window = world.core.env.window;
        let mut report = Report {
            schema_version: SCHEMA_VERSION,
            model: self.model.clone(),
            seed: self.seed,
            provenance: Provenance {
                flashcrowd_version: env!("CARGO_PKG_VERSION").to_string(),
                ..Default::default()
            },
            sim_duration_s: window.duration_ns as f64 / 1e9,
            arrival_window_s: window.duration_ns as f64 / 1e9,
            model_duration_s: self.model_duration_ns as f64 / 1e9,
            warmup_s: window.warmup_ns as f64 / 1e9,
            end_s: now as f64 / 1e9,
            events,
            wall_s: 0.0,
            end_to_end: EndToEnd::default(),
            workloads: BTreeMap::new(),
            components: BTreeMap::new(),
            verdict: Verdict::default(),
            deadlocked: Vec::new(),
            unstable: Vec::new(),
            slo: None,
            warnings: self.warnings.clone(),
            events_applied: self.applied_events(),
            expectations: Vec::new(),
            warmup_auto: None,
            series: BTreeMap::new(),
        };
        let world = &self.engine.model;
        let deadlocks = world.deadlocks();
        report.deadlocked = deadlocks
            .found
            .iter()
            .map(|d| self.deadlock_report(d, deadlocks.stuck_calls))
            .collect();
        let names = Names {
            causes: error_cause_names(),
            classes: &self.classes,
        };
        {
            let wl: Vec<&NodeStats> = world
                .nodes
                .iter()
                .map(|n| &n.stats)
                .zip(&self.is_workload)
                .filter(|(_, w)| **w)
                .map(|(s, _)| s)
                .collect();
            report.end_to_end = EndToEnd::from_stats(&wl, &window, now, names);
        }
        for (i, node) in world.nodes.iter().enumerate() {
            let s = &node.stats;
            let name = self.names[i].clone();
            if self.is_workload[i] {
                report.workloads.insert(
                    name.clone(),
                    EndToEnd::from_stats(&[s], &window, now, names),
                );
            } else {
                report.components.insert(
                    name.clone(),
                    ComponentReport::from_stats(
                        self.kinds[i],
                        world.instance_count(i as NodeId),
                        s,
                        &window,
                        now,
                        names,
                        node.live.figures(s, &window, now),
                    ),
                );
            }
            // A deadlocked component's backlog is the deadlock's doing, not its arrivals'.
            if self.judged[i] && !deadlocks.involved.contains(&(i as NodeId)) {
                let throughput_per_s = match report.components.get(&name) {
                    Some(c) => c.throughput_per_s,
                    None => report
                        .workloads
                        .get(&name)
                        .map_or(0.0, |w| w.throughput_per_s),
                };
                let backlog = Backlog {
                    name: &name,
                    workload: self.is_workload[i],
                    throughput_per_s,
                    at_close: s.in_flight_at_close(),
                    window_mean: s.mean_in_flight_in_window(&window, now),
                    points: &s.series.points,
                    warmup_s: report.warmup_s,
                    close_s: report.arrival_window_s,
                };
                match backlog.judge() {
                    Stability::Stable => {}
                    Stability::Transient(note) => report.warnings.push(note),
                    Stability::Unstable(note) => report.unstable.push(note),
                }
            }
            if with_series {
                report.series.insert(name, s.series.to_points());
            }
        }
        if world.overload_rejections() > 0 {
            report.unstable.insert(0, format!(
                "unstable: {} requests or calls were refused because {} calls were in flight (limits.max_in_flight); arrivals exceed what the system can serve, or calls multiply",
                world.overload_rejections(),
                world.max_in_flight()
            ));
        }
        if !report.unstable.is_empty() {
            let mut saturated: Vec<(f64, String)> = Vec::new();
            for (name, c) in &report.components {
                for (what, u) in [
                    ("CPU", c.figure("cpu_utilization")),
                    ("threads", c.figure("thread_occupancy")),
                ] {
                    if let Some(u) = u.filter(|u| *u >= 0.98) {
                        saturated.push((u, format!("`{name}` {what} at {:.0} %", u * 100.0)));
                    }
                }
            }
            if !saturated.is_empty() {
                saturated.sort_by(|a, b| b.0.total_cmp(&a.0));
                let list: Vec<String> = saturated.into_iter().map(|s| s.1).collect();
                report
                    .unstable
                    .push(format!("saturated: {}", list.join(", ")));
            }
        }
        if report.end_to_end.censored > 0 {
            report.unstable.push(format!(
                "censored: {} requests were still unfinished when the drain ended (limits.drain)",
                report.end_to_end.censored
            ));
        }
        if let Some(t) = &self.slo {
            report.slo = Some(SloVerdict::judge(t, &report.end_to_end));
        }
        report.verdict = Verdict::judge(&report);
        if !self.expectations.is_empty() {
            // Judged on the report as it reads in JSON (the verdict included), series aside:
            // they are not figures.
            let series = std::mem::take(&mut report.series);
            let json = serde_json::to_value(&report).unwrap_or_default();
            report.series = series;
            report.expectations = expect::evaluate(&self.expectations, &json);
        }
        if self.options.check_expectations
            && let Some(reason) = expect::unmet_reason(&report.expectations)
        {
            report.verdict.pass = false;
            report.verdict.reasons.push(reason);
        }
        report.wall_s = self.wall.elapsed().as_secs_f64();
        report
    }

    /// A deadlock in the report's terms: names, and the note the verdict gives.
    fn deadlock_report(&self, d: &Deadlock, stuck_calls: u64) -> DeadlockReport {
        let name = |n: NodeId| self.names.get(n as usize).map_or("?", String::as_str);
        let mut path: Vec<String> = d.cycle.iter().map(|&n| format!("`{}`", name(n))).collect();
        path.extend(path.first().cloned());
        let clauses: Vec<String> = d
            .cycle
            .iter()
            .zip(d.cycle.iter().cycle().skip(1))
            .map(|(&from, &to)| {
                let waiter = match d.blocked.iter().find(|b| b.0 == from) {
                    Some(&(_, blocked, threads)) => {
                        let of = self.engine.model.instance_count(from);
                        if of <= 1 {
                            format!("every thread of `{}` ({threads})", name(from))
                        } else if blocked >= of {
                            format!(
                                "every thread of `{}` ({threads} on each of its {of} instances)",
                                name(from)
                            )
                        } else {
                            format!(
                                "every thread of {blocked} of `{}`'s {of} instances ({threads} each)",
                                name(from)
                            )
                        }
                    }
                    None => format!("the calls of `{}` wait", name(from)),
                };
                let verb = if waiter.ends_with(" wait") { "" } else { " waits" };
                format!("{waiter}{verb} on `{}`", name(to))
            })
            .collect();
        let also = if d.also.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = d.also.iter().map(|&n| format!("`{}`", name(n))).collect();
            format!(" (in a knot of cycles with {})", list.join(", "))
        };
        DeadlockReport {
            cycle: d.cycle.iter().map(|&n| name(n).to_string()).collect(),
            also: d.also.iter().map(|&n| name(n).to_string()).collect(),
            stuck_calls,
            note: format!(
                "deadlocked: {}{also}: {}; {stuck_calls} calls can never finish; give the calls in the cycle a `timeout` (it frees the thread), or make every service in the cycle `server: Async`; more `threads` only delay it",
                path.join(" → "),
                clauses.join(", ")
            ),
        }
    }

    /// Names of the nodes, by id.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Whether each node is a workload, by id.
    pub fn is_workload(&self, id: NodeId) -> bool {
        self.is_workload.get(id as usize).copied().unwrap_or(false)
    }

    /// Pending events (for tests of the engine's bookkeeping).
    pub fn pending_events(&self) -> usize {
        self.engine.queue().len()
    }
}
