//! The validated topology: names resolved to ids, distributions ready to sample, every
//! cross-reference checked. A `Topology` that exists runs.

use std::path::PathBuf;

use super::diagnostic::Diagnostic;
pub use super::kinds::NodeKind;
pub use super::kinds::load_balancer::{Backend, LoadBalancerModel};
pub use super::kinds::router::RouterModel;
pub use super::kinds::service::{CallModel, ServiceModel};
use super::spec::{Arrivals, Limits, Slo, TopologySpec};
use crate::dist::Sampler;

/// Index of a node (workload or component) in [`Topology::nodes`].
pub type NodeId = u32;

/// A model ready to simulate.
#[derive(Debug, Clone)]
pub struct Topology {
    /// The spec as loaded (after overrides); what saving writes back.
    pub spec: TopologySpec,
    /// The file it came from, if any.
    pub file: Option<PathBuf>,
    /// The model's name.
    pub name: String,
    /// Arrival window end, ns.
    pub duration_ns: u64,
    /// Counting starts here, ns.
    pub warmup_ns: u64,
    /// Stop arrivals after this many counted requests.
    pub requests: Option<u64>,
    /// Base seed.
    pub seed: u64,
    /// Request class names; a class id is an index here.
    pub classes: Vec<String>,
    /// Whether each class (by id) writes its key's value (else it reads it).
    pub class_writes: Vec<bool>,
    /// Region names; region id `i + 1` is `regions[i]` (0 = no region).
    pub regions: Vec<String>,
    /// Availability zones; zone id `i + 1` is `zones[i]` (0 = no zone), listed region by
    /// region in the order the file gives them.
    pub zones: Vec<Zone>,
    /// One-way latency between regions, ns: `region_latency_ns[a * (regions.len() + 1) + b]`
    /// for region ids `a` and `b` (row and column 0, "no region", are zero; symmetric).
    pub region_latency_ns: Vec<u64>,
    /// One-way latency between two zones of one region, ns.
    pub zone_latency_ns: u64,
    /// Workloads first (sorted by name), then components (sorted by name).
    pub nodes: Vec<Node>,
    /// SLO targets.
    pub slo: Option<Slo>,
    /// Safety limits.
    pub limits: Limits,
    /// Time-series window, ns.
    pub window_ns: u64,
    /// Most points per series.
    pub max_points: u32,
    /// Problems that do not stop the run.
    pub warnings: Vec<Diagnostic>,
    /// The `events` section: when (ns) and what, in the order listed.
    pub events: Vec<(u64, super::events::Action)>,
    /// The `expect` section, checked entry by entry (whether each metric exists in a report
    /// of this model is checked by `simulation::check_expectations`).
    pub expectations: Vec<super::expect::Expectation>,
}

impl Topology {
    /// Whether any component reads request keys (each kind says so through
    /// [`super::kinds::KindModel::reads_keys`]). Workloads draw keys only then: a key nobody
    /// reads is not worth a random draw per request.
    pub fn reads_keys(&self) -> bool {
        self.nodes.iter().any(|n| n.kind.reads_keys())
    }

    /// Whether any call can pay a latency for crossing regions or zones (the run then looks
    /// every call's places up; otherwise it never does).
    pub fn has_place_latency(&self) -> bool {
        self.zone_latency_ns > 0 || self.region_latency_ns.iter().any(|&l| l > 0)
    }

    /// One-way latency, ns, of a call from place `from` to place `to`: the regions'
    /// latency when they differ; within a region, `zone_latency_ns` between two different
    /// zones, else zero. Unplaced ends (region 0) pay nothing.
    pub fn one_way_ns(&self, from: Place, to: Place) -> u64 {
        if from.region == 0 || to.region == 0 {
            return 0;
        }
        if from.region != to.region {
            let n = self.regions.len() + 1;
            let i = usize::from(from.region) * n + usize::from(to.region);
            return self.region_latency_ns.get(i).copied().unwrap_or(0);
        }
        if from.zone != 0 && to.zone != 0 && from.zone != to.zone {
            self.zone_latency_ns
        } else {
            0
        }
    }

    /// The id of the node with this name.
    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .map(|i| i as NodeId)
    }
}

/// A workload or component.
#[derive(Debug, Clone)]
pub struct Node {
    /// Its name in the file.
    pub name: String,
    /// What it is.
    pub kind: NodeKind,
    /// Where it runs (`placement`); workloads and unplaced components have no place.
    pub place: Place,
}

/// Where a component runs: a region id and a zone id (1-based, 0 = none; a component
/// placed in a zone also has that zone's region).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Place {
    /// Region id (see [`Topology::regions`]), 0 = none.
    pub region: u8,
    /// Zone id (see [`Topology::zones`]), 0 = none.
    pub zone: u8,
}

/// An availability zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// Its name (unique across regions).
    pub name: String,
    /// The id of its region (1-based).
    pub region: u8,
}

/// A validated workload.
#[derive(Debug, Clone)]
pub struct WorkloadModel {
    /// Where requests go.
    pub to: NodeId,
    /// Open or closed loop.
    pub source: Source,
    /// Cumulative class shares by class id (last is 1.0).
    pub mix_cumulative: Vec<f64>,
    /// Key popularity.
    pub keys: KeyModel,
    /// Number of sessions (0 = none).
    pub sessions: u32,
    /// Region ids (1-based, see [`Topology::regions`]) and cumulative shares.
    pub regions: Vec<(u8, f64)>,
    /// Client timeout, ns.
    pub timeout_ns: Option<u64>,
}

/// Open or closed loop.
#[derive(Debug, Clone)]
pub enum Source {
    /// Arrivals at a rate.
    Open {
        /// Base rate, per second.
        rate_per_s: f64,
        /// Shape over time.
        profile: RateProfile,
        /// Poisson or deterministic gaps.
        arrivals: Arrivals,
    },
    /// A population of users.
    Closed {
        /// How many.
        users: u32,
        /// Think time.
        think: Sampler,
    },
}

/// Key popularity.
#[derive(Debug, Clone, Copy)]
pub enum KeyModel {
    /// Uniform over n keys.
    Uniform(u64),
    /// Zipf(n, s).
    Zipf(u64, f64),
}

/// Rate over time, relative to a base rate.
#[derive(Debug, Clone)]
pub enum RateProfile {
    /// Constant.
    Constant,
    /// Step at `at_ns` to `to_per_s`.
    Step {
        /// When.
        at_ns: u64,
        /// New rate.
        to_per_s: f64,
    },
    /// Linear ramp.
    Ramp {
        /// Final rate.
        to_per_s: f64,
        /// Start, ns.
        start_ns: u64,
        /// Length, ns.
        over_ns: u64,
    },
    /// Cosine day cycle.
    Diurnal {
        /// Relative amplitude.
        amplitude: f64,
        /// Period, ns.
        period_ns: u64,
        /// Peak time, ns.
        peak_ns: u64,
    },
    /// Flash crowd.
    Spike {
        /// Start, ns.
        at_ns: u64,
        /// Peak multiple.
        multiplier: f64,
        /// Climb, ns.
        rise_ns: u64,
        /// Hold, ns.
        hold_ns: u64,
        /// Decay, ns.
        decay_ns: u64,
    },
    /// Piecewise-constant (time ns, rate per s), sorted by time; base rate before the first.
    Piecewise(Vec<(u64, f64)>),
}

impl RateProfile {
    /// True when the rate only changes in steps (exact sampling between changes).
    pub fn is_piecewise_constant(&self) -> bool {
        matches!(
            self,
            RateProfile::Constant | RateProfile::Step { .. } | RateProfile::Piecewise(_)
        )
    }

    /// Rate per second at time `t_ns` for base rate `base`.
    pub fn rate_at(&self, base: f64, t_ns: u64) -> f64 {
        match self {
            RateProfile::Constant => base,
            RateProfile::Step { at_ns, to_per_s } => {
                if t_ns < *at_ns {
                    base
                } else {
                    *to_per_s
                }
            }
            RateProfile::Ramp {
                to_per_s,
                start_ns,
                over_ns,
            } => {
                if t_ns <= *start_ns {
                    base
                } else if t_ns >= start_ns + over_ns {
                    *to_per_s
                } else {
                    let f = (t_ns - start_ns) as f64 / *over_ns as f64;
                    base + f * (to_per_s - base)
                }
            }
            RateProfile::Diurnal {
                amplitude,
                period_ns,
                peak_ns,
            } => {
                let phase = (t_ns as f64 - *peak_ns as f64) / *period_ns as f64;
                base * (1.0 + amplitude * (std::f64::consts::TAU * phase).cos())
            }
            RateProfile::Spike {
                at_ns,
                multiplier,
                rise_ns,
                hold_ns,
                decay_ns,
            } => {
                let peak = base * multiplier;
                let t = t_ns;
                let up_end = at_ns + rise_ns;
                let hold_end = up_end + hold_ns;
                let down_end = hold_end + decay_ns;
                if t < *at_ns || t >= down_end {
                    base
                } else if t < up_end {
                    base + (peak - base) * (t - at_ns) as f64 / *rise_ns as f64
                } else if t < hold_end {
                    peak
                } else {
                    peak - (peak - base) * (t - hold_end) as f64 / *decay_ns as f64
                }
            }
            RateProfile::Piecewise(points) => {
                let idx = points.partition_point(|&(at, _)| at <= t_ns);
                if idx == 0 { base } else { points[idx - 1].1 }
            }
        }
    }

    /// The next time after `t_ns` at which a piecewise-constant rate changes.
    pub fn next_change_ns(&self, t_ns: u64) -> u64 {
        match self {
            RateProfile::Step { at_ns, .. } if t_ns < *at_ns => *at_ns,
            RateProfile::Piecewise(points) => {
                let idx = points.partition_point(|&(at, _)| at <= t_ns);
                points.get(idx).map_or(u64::MAX, |p| p.0)
            }
            _ => u64::MAX,
        }
    }

    /// Expected arrivals from 0 to `until_ns` at base rate `base`: ∫λ dt, exact for every
    /// profile (piecewise linear ones by their vertices, the day cycle in closed form).
    pub fn arrivals_until(&self, base: f64, until_ns: u64) -> f64 {
        let end = until_ns as f64;
        let step = |points: &[(u64, f64)]| {
            // λ is `base` before the first point, each point's rate until the next.
            let mut vertices = vec![(0.0, base)];
            let mut level = base;
            for &(at, rate) in points {
                vertices.push((at as f64, level));
                vertices.push((at as f64, rate));
                level = rate;
            }
            vertices
        };
        let vertices: Vec<(f64, f64)> = match self {
            RateProfile::Constant => vec![(0.0, base)],
            RateProfile::Step { at_ns, to_per_s } => step(&[(*at_ns, *to_per_s)]),
            RateProfile::Piecewise(points) => step(points),
            RateProfile::Ramp {
                to_per_s,
                start_ns,
                over_ns,
            } => vec![
                (*start_ns as f64, base),
                ((start_ns + over_ns) as f64, *to_per_s),
            ],
            RateProfile::Spike {
                at_ns,
                multiplier,
                rise_ns,
                hold_ns,
                decay_ns,
            } => {
                let peak = base * multiplier;
                let up = (at_ns + rise_ns) as f64;
                let hold = up + *hold_ns as f64;
                vec![
                    (*at_ns as f64, base),
                    (up, peak),
                    (hold, peak),
                    (hold + *decay_ns as f64, base),
                ]
            }
            RateProfile::Diurnal {
                amplitude,
                period_ns,
                peak_ns,
            } => {
                // ∫ base (1 + a cos(2π (t − peak) / P)) dt over [0, end].
                let p = *period_ns as f64;
                let phase = |t: f64| (std::f64::consts::TAU * (t - *peak_ns as f64) / p).sin();
                let area = base
                    * (end + amplitude * p / std::f64::consts::TAU * (phase(end) - phase(0.0)));
                return area / 1e9;
            }
        };
        piecewise_linear_area(&vertices, end) / 1e9
    }

    /// An upper bound of the rate over all time (for thinning).
    pub fn max_rate(&self, base: f64) -> f64 {
        match self {
            RateProfile::Constant => base,
            RateProfile::Step { to_per_s, .. } | RateProfile::Ramp { to_per_s, .. } => {
                base.max(*to_per_s)
            }
            RateProfile::Diurnal { amplitude, .. } => base * (1.0 + amplitude),
            RateProfile::Spike { multiplier, .. } => base * multiplier.max(1.0),
            RateProfile::Piecewise(points) => points.iter().map(|p| p.1).fold(base, f64::max),
        }
    }
}

/// ∫₀^end of the piecewise-linear function through `vertices` (time ns, rate per s), sorted
/// by time (a repeated time is a jump), constant before the first and after the last, in
/// rate × ns.
fn piecewise_linear_area(vertices: &[(f64, f64)], end: f64) -> f64 {
    let Some(&(first_t, first_r)) = vertices.first() else {
        return 0.0;
    };
    let mut area = first_r * first_t.clamp(0.0, end);
    for w in vertices.windows(2) {
        let ((t0, r0), (t1, r1)) = (w[0], w[1]);
        if t1 <= t0 || t0 >= end {
            continue;
        }
        let t1c = t1.min(end);
        let r1c = r0 + (r1 - r0) * (t1c - t0) / (t1 - t0);
        area += (r0 + r1c) / 2.0 * (t1c - t0);
    }
    if let Some(&(last_t, last_r)) = vertices.last() {
        area += last_r * (end - last_t).max(0.0);
    }
    area
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals_are_the_integral_of_the_rate() {
        let s = 1_000_000_000u64;
        let close = |a: f64, b: f64| (a - b).abs() < 1e-6 * b.abs().max(1.0);
        assert!(close(
            RateProfile::Constant.arrivals_until(10.0, 60 * s),
            600.0
        ));
        let step = RateProfile::Step {
            at_ns: 10 * s,
            to_per_s: 100.0,
        };
        assert!(close(step.arrivals_until(10.0, 60 * s), 100.0 + 5000.0));
        assert!(close(step.arrivals_until(10.0, 5 * s), 50.0));
        // A ramp from 10/s to 30/s over 10 s starting at 5 s: 50 + 200 + 30 × 5.
        let ramp = RateProfile::Ramp {
            to_per_s: 30.0,
            start_ns: 5 * s,
            over_ns: 10 * s,
        };
        assert!(close(
            ramp.arrivals_until(10.0, 20 * s),
            50.0 + 200.0 + 150.0
        ));
        // Halfway up the ramp: 50 + (10 + 20) / 2 × 5.
        assert!(close(ramp.arrivals_until(10.0, 10 * s), 50.0 + 75.0));
        // A tenfold spike at 10 s: 2 s up, 5 s held, 3 s down, on 100/s for 60 s.
        let spike = RateProfile::Spike {
            at_ns: 10 * s,
            multiplier: 10.0,
            rise_ns: 2 * s,
            hold_ns: 5 * s,
            decay_ns: 3 * s,
        };
        let extra = 900.0 * (2.0 / 2.0 + 5.0 + 3.0 / 2.0);
        assert!(close(spike.arrivals_until(100.0, 60 * s), 6000.0 + extra));
        // Whole day cycles add nothing to the mean; a quarter from the peak adds a/(2π)·P.
        let day = RateProfile::Diurnal {
            amplitude: 0.5,
            period_ns: 100 * s,
            peak_ns: 0,
        };
        assert!(close(day.arrivals_until(10.0, 300 * s), 3000.0));
        let quarter = 10.0 * (25.0 + 0.5 * 100.0 / std::f64::consts::TAU);
        assert!(close(day.arrivals_until(10.0, 25 * s), quarter));
        let pw = RateProfile::Piecewise(vec![(10 * s, 50.0), (20 * s, 0.0)]);
        assert!(close(pw.arrivals_until(10.0, 60 * s), 100.0 + 500.0));
    }
}
