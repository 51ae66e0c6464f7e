//! One simulation run: builds the [`World`] from a [`Topology`], drives it (to completion, or
//! stepped by a budget for the GUI and tests), takes commands while running, and assembles
//! the [`Report`]. This is the layer the CLI, the GUI and sweeps all call.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::components::{Command, World, world::CommandError, world::Live};
use crate::engine::{Engine, SimTime, StepOutcome};
use crate::metrics::report::{
    ComponentReport, EndToEnd, Provenance, SCHEMA_VERSION, SloTargets, SloVerdict, Verdict,
};
use crate::metrics::stability::{Backlog, Stability};
use crate::metrics::{NodeStats, Report};
use crate::topology::model::NodeKind;
use crate::topology::{NodeId, Topology};

/// How to run.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Replace the model's seed.
    pub seed: Option<u64>,
    /// Replication index (its streams differ from every other replication's).
    pub replication: u32,
    /// Put the time series into the report.
    pub series: bool,
}

/// A simulation in progress.
pub struct Simulation {
    engine: Engine<World>,
    names: Vec<String>,
    kinds: Vec<&'static str>,
    replicas: Vec<u32>,
    is_workload: Vec<bool>,
    model: String,
    model_duration_ns: u64,
    seed: u64,
    slo: Option<SloTargets>,
    warnings: Vec<String>,
    options: RunOptions,
    wall: Instant,
    finished: bool,
}

impl Simulation {
    /// Prepare a run of `topo`.
    pub fn new(topo: &Topology, options: RunOptions) -> Self {
        let seed = options.seed.unwrap_or(topo.seed);
        let mut engine = Engine::new(World::new(topo, seed, options.replication));
        engine.model.start();
        let slo = topo.slo.as_ref().map(|s| SloTargets {
            p50_s: s.p50.map(|d| d.as_secs_f64()),
            p95_s: s.p95.map(|d| d.as_secs_f64()),
            p99_s: s.p99.map(|d| d.as_secs_f64()),
            p999_s: s.p999.map(|d| d.as_secs_f64()),
            error_rate: s.error_rate,
        });
        Self {
            engine,
            names: topo.nodes.iter().map(|n| n.name.clone()).collect(),
            kinds: topo.nodes.iter().map(|n| n.kind.kind_name()).collect(),
            replicas: topo
                .nodes
                .iter()
                .map(|n| match &n.kind {
                    NodeKind::Service(s) => s.replicas,
                    _ => 1,
                })
                .collect(),
            is_workload: topo
                .nodes
                .iter()
                .map(|n| matches!(n.kind, NodeKind::Workload(_)))
                .collect(),
            model: topo.name.clone(),
            model_duration_ns: topo.duration_ns,
            seed,
            slo,
            warnings: topo.warnings.iter().map(ToString::to_string).collect(),
            options,
            wall: Instant::now(),
            finished: false,
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

    /// The live world (read-only), for snapshots.
    pub fn world(&self) -> &World {
        &self.engine.model
    }

    /// The id of a node by name.
    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| i as NodeId)
    }

    /// Apply a command now.
    pub fn command(&mut self, cmd: Command) -> Result<(), CommandError> {
        self.engine.model.apply(cmd)
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
        let now = self.engine.now().as_nanos();
        let events = self.events();
        let world = &mut self.engine.model;
        world.close_series(now);
        world.censor();
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
            unstable: Vec::new(),
            slo: None,
            warnings: self.warnings.clone(),
            series: BTreeMap::new(),
        };
        let world = &mut self.engine.model;
        {
            let mut wl: Vec<&mut NodeStats> = world
                .nodes
                .iter_mut()
                .map(|n| &mut n.stats)
                .zip(&self.is_workload)
                .filter(|(_, w)| **w)
                .map(|(s, _)| s)
                .collect();
            report.end_to_end = EndToEnd::from_stats(&mut wl, &window, now);
        }
        for (i, s) in world.nodes.iter_mut().map(|n| &mut n.stats).enumerate() {
            let name = self.names[i].clone();
            if self.is_workload[i] {
                report
                    .workloads
                    .insert(name.clone(), EndToEnd::from_stats(&mut [s], &window, now));
            } else {
                report.components.insert(
                    name.clone(),
                    ComponentReport::from_stats(self.kinds[i], self.replicas[i], s, &window, now),
                );
            }
            if self.kinds[i] != "load_balancer" {
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
            if self.options.series {
                report.series.insert(name, s.series.points.clone());
            }
        }
        if world.overload_rejections > 0 {
            report.unstable.insert(0, format!(
                "unstable: {} requests were rejected because {} calls were in flight (limits.max_in_flight); arrivals exceed what the system can serve",
                world.overload_rejections,
                world.max_in_flight()
            ));
        }
        if !report.unstable.is_empty() {
            let mut saturated: Vec<(f64, String)> = Vec::new();
            for (name, c) in &report.components {
                for (what, u) in [("CPU", c.cpu_utilization), ("threads", c.thread_occupancy)] {
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
        report.wall_s = self.wall.elapsed().as_secs_f64();
        report
    }

    /// Names of the nodes, by id.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Whether each node is a workload, by id.
    pub fn is_workload(&self, id: NodeId) -> bool {
        self.is_workload.get(id as usize).copied().unwrap_or(false)
    }

    /// A live component, for inspection.
    pub fn live(&self, id: NodeId) -> Option<&Live> {
        self.engine.model.nodes.get(id as usize).map(|n| &n.live)
    }

    /// Pending events (for tests of the engine's bookkeeping).
    pub fn pending_events(&self) -> usize {
        self.engine.queue().len()
    }
}
