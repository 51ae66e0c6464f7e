//! What `flashcrowd bench` measures: one case run in this process — the engine on a bench
//! model, or the hand-written [`baseline`] loop of the same model — with its wall time, peak
//! memory and mean latency, and the statistics that compare engine and baseline over
//! interleaved rounds (fastest run per case, medians of same-round ratios).
//!
//! It lives in the library so the measurement can be read and tested apart from the CLI, which
//! stays a face: its arguments, the processes that run each case (so peak memory is each
//! case's own), and the printing. This module never prints, never starts a process and never
//! judges a time: a benchmark prints figures, it asserts nothing.

pub mod baseline;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::simulation::{RunOptions, Simulation};
use crate::topology::{self, Override, TopologyError};

/// The figures of one case, measured in the process that ran it (and sent to the parent
/// process as JSON, so the field names are an interface between builds: `--against`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// The case: `mm1-baseline`, `mm1-engine`, `web-baseline`, `web-engine`, each optionally
    /// with `-x10` (ten times the requests).
    pub case: String,
    /// Requests (customers) run.
    pub requests: u64,
    /// Events handled.
    pub events: u64,
    /// Wall time of the run, model loading included, in seconds.
    pub wall_s: f64,
    /// The process's peak resident memory (`VmHWM`), in KiB; 0 where it cannot be read.
    pub peak_rss_kib: u64,
    /// Mean end-to-end latency, in seconds: engine and baseline must agree on it.
    pub mean_latency_s: f64,
}

/// Why a case could not be run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// The case name is none of the known ones.
    #[error("unknown bench case `{0}`")]
    UnknownCase(String),
    /// The bench model did not load.
    #[error("{0}")]
    Model(TopologyError),
}

/// Run one case with `requests` requests (ten times as many for a `-x10` case), the engine's
/// cases on the models `mm1.ron` and `web.ron` in `models`.
pub fn run_case(case: &str, requests: u64, models: &Path) -> Result<Figures, BenchError> {
    let (name, scale) = match case.strip_suffix("-x10") {
        Some(n) => (n, 10),
        None => (case, 1),
    };
    let requests = requests * scale;
    let start = Instant::now();
    let (events, mean) = match name {
        "mm1-baseline" => {
            let b = baseline::mm1(requests);
            (b.events, b.mean_latency_s)
        }
        "web-baseline" => {
            let b = baseline::web(requests);
            (b.events, b.mean_latency_s)
        }
        "mm1-engine" | "web-engine" => {
            let file = models.join(if name == "mm1-engine" {
                "mm1.ron"
            } else {
                "web.ron"
            });
            let ov = [Override {
                path: "requests".into(),
                value: requests.to_string(),
            }];
            let topo = topology::load_file(&file, &ov).map_err(BenchError::Model)?;
            let r = Simulation::new(&topo, RunOptions::default()).run();
            (r.events, r.end_to_end.latency_s.mean)
        }
        other => return Err(BenchError::UnknownCase(other.into())),
    };
    Ok(Figures {
        case: case.into(),
        requests,
        events,
        wall_s: start.elapsed().as_secs_f64(),
        peak_rss_kib: peak_rss_kib(),
        mean_latency_s: mean,
    })
}

/// What a snapshot costs on a model of `components` components, and what taking them does
/// to a run's speed.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotCost {
    /// Components in the model (a balancer and services behind it).
    pub components: usize,
    /// Snapshots taken.
    pub snapshots: u64,
    /// Mean wall time of one snapshot, s.
    pub per_snapshot_s: f64,
    /// Wall time of the run without snapshots, s.
    pub plain_run_s: f64,
    /// Wall time of the same run stepped with a snapshot between steps, s.
    pub run_with_snapshots_s: f64,
}

/// Measure [`SnapshotCost`]: a workload at 4000/s into a balancer over `components − 1`
/// services, 60 simulated seconds; the stepped run takes a snapshot every `every` events.
pub fn snapshot_cost(components: usize, every: u64) -> Result<SnapshotCost, BenchError> {
    let services = components.saturating_sub(1).max(1);
    let names: Vec<String> = (0..services).map(|i| format!("s{i:03}")).collect();
    let mut text = String::from(
        "Topology(name: \"snapshot-bench\", duration: \"60s\", warmup: \"5s\",\n  workloads: {\"users\": Open(rate: \"4000/s\", to: \"lb\", mix: {\"read\": 0.8, \"write\": 0.2})},\n  components: {\n",
    );
    let backends: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    text.push_str(&format!(
        "    \"lb\": LoadBalancer(policy: LeastConn, backends: [{}]),\n",
        backends.join(", ")
    ));
    for n in &names {
        text.push_str(&format!(
            "    \"{n}\": Service(threads: 4, cpus: 2, cpu: Exp(mean: \"10ms\")),\n"
        ));
    }
    text.push_str("  })\n");
    let topo = topology::load_str(&text, None, Path::new("."), &[]).map_err(BenchError::Model)?;
    let start = Instant::now();
    let plain = Simulation::new(&topo, RunOptions::default()).run();
    let plain_run_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let mut sim = Simulation::new(&topo, RunOptions::default());
    let (mut snapshots, mut in_snapshots) = (0u64, 0.0);
    while sim.step(crate::engine::SimTime::MAX, every) != crate::engine::StepOutcome::Idle {
        let t = Instant::now();
        let snap = sim.snapshot();
        in_snapshots += t.elapsed().as_secs_f64();
        snapshots += 1;
        std::hint::black_box(&snap);
    }
    let stepped = sim.finish();
    let run_with_snapshots_s = start.elapsed().as_secs_f64();
    debug_assert_eq!(stepped.events, plain.events);
    Ok(SnapshotCost {
        components: services + 1,
        snapshots,
        per_snapshot_s: in_snapshots / snapshots.max(1) as f64,
        plain_run_s,
        run_with_snapshots_s,
    })
}

/// The figures of every round: the fastest run of each case (which filters out a busy
/// machine) and every run's wall time, by case, for the same-round ratios.
#[derive(Debug, Default)]
pub struct Rounds {
    fastest: Vec<Figures>,
    walls_s: BTreeMap<String, Vec<f64>>,
}

impl Rounds {
    /// Record one run (runs of one case in round order).
    pub fn record(&mut self, f: Figures) {
        self.walls_s
            .entry(f.case.clone())
            .or_default()
            .push(f.wall_s);
        match self.fastest.iter_mut().find(|r| r.case == f.case) {
            Some(best) if f.wall_s < best.wall_s => *best = f,
            Some(_) => {}
            None => self.fastest.push(f),
        }
    }

    /// The fastest run of each case, cases in the order first recorded.
    pub fn fastest(&self) -> &[Figures] {
        &self.fastest
    }

    /// The fastest run of `case`.
    pub fn fastest_of(&self, case: &str) -> Option<&Figures> {
        self.fastest.iter().find(|f| f.case == case)
    }

    /// [`paired_quartiles`] of the runs of `engine` against those of `baseline`, round by
    /// round; `None` when either case was not run or under four usable rounds.
    pub fn paired_quartiles(&self, baseline: &str, engine: &str) -> Option<(usize, [f64; 3])> {
        paired_quartiles(self.walls_s.get(baseline)?, self.walls_s.get(engine)?)
    }
}

/// The number of pairs and the quartiles of the ratios engine / baseline of runs made in the
/// same round (moments apart, the engine right after its baseline unless it is an `--against`
/// binary's, so a slow phase of a shared host hits both halves of a pair); `None` under four
/// usable rounds.
pub fn paired_quartiles(baseline: &[f64], engine: &[f64]) -> Option<(usize, [f64; 3])> {
    let mut r: Vec<f64> = baseline
        .iter()
        .zip(engine)
        .filter(|(b, _)| **b > 0.0)
        .map(|(b, e)| e / b)
        .collect();
    if r.len() < 4 {
        return None;
    }
    r.sort_by(f64::total_cmp);
    let at = |q: f64| {
        // Linear interpolation between closest ranks.
        let x = q * (r.len() - 1) as f64;
        let (lo, hi) = (x.floor() as usize, x.ceil() as usize);
        r[lo] + (r[hi] - r[lo]) * (x - lo as f64)
    };
    Some((r.len(), [at(0.25), at(0.5), at(0.75)]))
}

/// The machine the figures come from, as the bench's header shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    /// The CPU's model name (`unknown CPU` where `/proc/cpuinfo` does not say).
    pub cpu: String,
    /// Cores available to this process (0 if unknown).
    pub cores: usize,
    /// The 1, 5 and 15 minute load averages, space-separated (empty if unknown).
    pub load_average: String,
}

impl Machine {
    /// Read from `/proc` (Linux); fields fall back as documented elsewhere.
    pub fn current() -> Machine {
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| "unknown CPU".into());
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            load_average: load
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

/// This process's peak resident memory in KiB (`VmHWM`), 0 where it cannot be read.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::{Figures, Rounds, paired_quartiles, run_case};

    #[test]
    fn paired_quartiles_interpolate_between_ranks() {
        // Ratios 1, 2, 3, 4 in scrambled round order.
        let q = paired_quartiles(&[1.0, 1.0, 2.0, 1.0], &[3.0, 1.0, 8.0, 2.0]);
        assert_eq!(q, Some((4, [1.75, 2.5, 3.25])));
        // One slow round does not move the median.
        let q = paired_quartiles(&[1.0; 5], &[2.0, 2.0, 9.0, 2.0, 2.0]);
        assert_eq!(q, Some((5, [2.0, 2.0, 2.0])));
    }

    #[test]
    fn paired_quartiles_need_four_usable_rounds() {
        assert_eq!(paired_quartiles(&[1.0; 3], &[2.0; 3]), None);
        assert_eq!(paired_quartiles(&[1.0, 0.0, 1.0, 1.0], &[2.0; 4]), None);
    }

    fn figures(case: &str, wall_s: f64, events: u64) -> Figures {
        Figures {
            case: case.into(),
            requests: 10,
            events,
            wall_s,
            peak_rss_kib: 0,
            mean_latency_s: 0.0,
        }
    }

    #[test]
    fn rounds_keep_the_fastest_run_and_pair_runs_by_round() {
        let mut rounds = Rounds::default();
        for (round, (b, e)) in [(2.0, 5.0), (1.0, 4.0), (2.0, 3.0), (1.0, 3.0)]
            .into_iter()
            .enumerate()
        {
            rounds.record(figures("mm1-baseline", b, round as u64));
            rounds.record(figures("mm1-engine", e, round as u64));
        }
        let cases: Vec<&str> = rounds.fastest().iter().map(|f| f.case.as_str()).collect();
        assert_eq!(cases, ["mm1-baseline", "mm1-engine"]);
        // The first of equally fast runs is kept, with its own figures.
        assert_eq!(rounds.fastest_of("mm1-baseline").map(|f| f.events), Some(1));
        assert_eq!(rounds.fastest_of("mm1-engine").map(|f| f.events), Some(2));
        // Same-round ratios 2.5, 4, 1.5, 3: not the ratio of the fastest runs (3).
        assert_eq!(
            rounds.paired_quartiles("mm1-baseline", "mm1-engine"),
            Some((4, [2.25, 2.75, 3.25]))
        );
        assert_eq!(rounds.paired_quartiles("mm1-baseline", "web-engine"), None);
    }

    #[test]
    fn unknown_cases_and_missing_models_are_errors() {
        let here = std::path::Path::new(".");
        let err = run_case("mm2-engine", 10, here).unwrap_err();
        assert_eq!(err.to_string(), "unknown bench case `mm2-engine`");
        let missing = std::path::Path::new("no/such/folder");
        assert!(run_case("mm1-engine", 10, missing).is_err());
        let baseline = run_case("mm1-baseline-x10", 10, missing).unwrap();
        assert_eq!((baseline.requests, baseline.events), (100, 200));
    }
}
