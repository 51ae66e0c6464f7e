//! How big a run a topology asks for, before it starts: how many requests will arrive, and
//! how much memory its statistics take. A typo (`rate: "9000000000/s"` for nine thousand, a
//! `duration` in days, a hundred thousand series points on two thousand components) should
//! be refused with the estimate and the limit, not found by a machine out of memory.

use super::diagnostic::Diagnostic;
use super::model::{Source, Topology};

/// Most requests a run may expect to offer, unless the caller allows huge runs
/// (`run --allow-huge`). The scale benchmark (360 M requests) and 10 M closed-loop users fit.
pub const MAX_ARRIVALS: f64 = 1e10;

/// Most memory a run's statistics may be estimated to take, bytes (8 GiB), whatever is
/// allowed: past it the run would not fit on the machines this tool runs on.
pub const MAX_MEMORY_BYTES: f64 = 8.0 * 1024.0 * 1024.0 * 1024.0;

/// Memory of one component's statistics besides its time series, bytes: latency histograms
/// are mostly untouched pages, but a busy component touches a few hundred KB of them.
const PER_NODE_BYTES: f64 = 300.0 * 1024.0;

/// Memory of one time-series point, bytes (allocated up front for every node).
const PER_POINT_BYTES: f64 = crate::metrics::Series::BYTES_PER_POINT as f64;

/// What the run is expected to cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunSize {
    /// Requests expected to arrive: the integral of each open workload's rate profile over
    /// the arrival window (a spike counts for what it adds, not as if it lasted all run);
    /// for closed loops an upper bound, every user sending back to back after each think.
    pub arrivals: f64,
    /// Memory of the statistics, bytes (series allocated up front and per-node histograms).
    pub memory_bytes: f64,
}

impl RunSize {
    /// Estimate the size of a run of `topo`.
    pub fn of(topo: &Topology) -> Self {
        let window_s = topo.duration_ns as f64 / 1e9;
        let mut arrivals = 0.0;
        for n in &topo.nodes {
            if let Some(w) = n.kind.as_workload() {
                arrivals += match &w.source {
                    Source::Open {
                        rate_per_s,
                        profile,
                        ..
                    } => profile.arrivals_until(*rate_per_s, topo.duration_ns),
                    Source::Closed { users, think } => {
                        // A user sends at most once per think time (plus 1 ms for requests
                        // that fail at once).
                        let think_s = (think.mean_ns() / 1e9).max(1e-3);
                        f64::from(*users) * (window_s / think_s + 1.0)
                    }
                };
            }
        }
        if let Some(budget) = topo.requests {
            arrivals = arrivals.min(budget as f64 / (1.0 - warm_share(topo)).max(1e-9));
        }
        let nodes = topo.nodes.len() as f64;
        let points = f64::from(topo.max_points.next_multiple_of(2));
        Self {
            arrivals,
            memory_bytes: nodes * (PER_NODE_BYTES + points * PER_POINT_BYTES),
        }
    }

    /// Check the estimate against the limits: arrivals unless `allow_huge`, memory always.
    pub fn check(&self, allow_huge: bool) -> Result<(), Diagnostic> {
        if self.memory_bytes > MAX_MEMORY_BYTES {
            return Err(Diagnostic::error(format!(
                "the run's statistics would take about {:.1} GiB, beyond the {:.0} GiB limit",
                self.memory_bytes / 1024f64.powi(3),
                MAX_MEMORY_BYTES / 1024f64.powi(3)
            ))
            .at("metrics.max_points")
            .maybe_hint(Some(
                "use fewer components or fewer series points (metrics.max_points)".into(),
            )));
        }
        if !allow_huge && self.arrivals > MAX_ARRIVALS {
            return Err(Diagnostic::error(format!(
                "the run would offer about {:.2e} requests, beyond the limit of {MAX_ARRIVALS:.0e}",
                self.arrivals
            ))
            .at("duration")
            .maybe_hint(Some(
                "check the rates and the duration (a rate in /s, not /min?); shorten the run, add `requests:`, or pass --allow-huge if you mean it".into(),
            )));
        }
        Ok(())
    }
}

/// The share of the arrival window spent warming up (counted requests start after it).
fn warm_share(topo: &Topology) -> f64 {
    if topo.duration_ns == 0 {
        return 0.0;
    }
    topo.warmup_ns as f64 / topo.duration_ns as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topo(text: &str) -> Topology {
        crate::topology::load_str(text, None, std::path::Path::new("."), &[])
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn arrivals_are_rate_times_duration_and_a_budget_caps_them() {
        let t = topo(
            r#"Topology(duration: "100s", warmup: "0s",
                workloads: {"u": Open(rate: "2000/s", to: "s")},
                components: {"s": Service(cpu: Exp(mean: "1ms"))})"#,
        );
        assert!((RunSize::of(&t).arrivals - 200_000.0).abs() < 1e-6);
        let t = topo(
            r#"Topology(duration: "100s", warmup: "0s", requests: 5000,
                workloads: {"u": Open(rate: "2000/s", to: "s")},
                components: {"s": Service(cpu: Exp(mean: "1ms"))})"#,
        );
        assert!((RunSize::of(&t).arrivals - 5000.0).abs() < 1e-6);
    }

    #[test]
    fn a_spike_counts_for_the_arrivals_it_adds_not_its_peak_all_run() {
        // 1e6/s for an hour is 3.6e9 requests. A fivefold spike held 20 s adds 8e7 (with
        // 4e6 more on its 1 s slopes): allowed, where its peak all run (1.8e10) was not.
        let spike = |multiplier: &str| {
            topo(&format!(
                r#"Topology(duration: "1h", warmup: "0s",
                    workloads: {{"u": Open(rate: "1000000/s", to: "s",
                        profile: Spike(at: "10m", multiplier: {multiplier}, rise: "1s", hold: "20s", decay: "1s"))}},
                    components: {{"s": Service(cpu: Exp(mean: "1ms"))}})"#
            ))
        };
        let size = RunSize::of(&spike("5.0"));
        assert!(
            (size.arrivals - (3.6e9 + 4e6 * 21.0)).abs() < 1.0,
            "{size:?}"
        );
        assert!(size.check(false).is_ok());
        // A 900-fold one adds 8.99e8/s × 21 s: 2.25e10 in all, refused unless allowed.
        let size = RunSize::of(&spike("900.0"));
        assert!(
            (size.arrivals - (3.6e9 + 8.99e8 * 21.0)).abs() < 1e3,
            "{size:?}"
        );
        assert!(size.check(false).is_err());
        assert!(size.check(true).is_ok());
    }

    #[test]
    fn absurd_runs_are_refused_unless_allowed_and_memory_always() {
        let t = topo(
            r#"Topology(duration: "30d", warmup: "0s",
                workloads: {"u": Open(rate: "9000/s", to: "s")},
                components: {"s": Service(cpu: Exp(mean: "1ms"))})"#,
        );
        let size = RunSize::of(&t);
        assert!(size.arrivals > MAX_ARRIVALS);
        let e = size.check(false).expect_err("refused");
        assert!(
            e.message.contains("requests, beyond the limit"),
            "{}",
            e.message
        );
        assert!(size.check(true).is_ok());
        let huge_series = RunSize {
            arrivals: 1.0,
            memory_bytes: 2.0 * MAX_MEMORY_BYTES,
        };
        assert!(huge_series.check(true).is_err());
    }
}
