//! The stability rule: is a node's backlog bounded, or do arrivals exceed what it serves?
//! It judges plain figures (throughput, calls in flight at the counting window's edges and on
//! average, the time series) so it holds whatever the warm-up and the window length; it never
//! looks inside a component. The rule is stated in docs/ARCHITECTURE.md ("Overload and
//! stability"); the constants below are the ones stated there.

use super::CommonPoint;

/// A backlog at the window's close beyond this many seconds of the node's own throughput
/// (plus [`FLOOR_CALLS`]) is unstable: it would take that long to clear.
pub const BACKLOG_HORIZON_S: f64 = 30.0;
/// A backlog at the close above its window average by more than this many seconds of
/// throughput (plus [`FLOOR_CALLS`]) is still growing: unstable.
pub const GROWTH_HORIZON_S: f64 = 5.0;
/// A backlog rising through every quarter of the window (8 series windows or more) by more
/// than this many seconds of throughput (plus [`FLOOR_CALLS`]) is still growing: unstable.
pub const TREND_HORIZON_S: f64 = 1.0;
/// A window of the series holding more than twice the average backlog plus this many
/// seconds of throughput (plus [`FLOOR_CALLS`]) was a transient overload: a warning.
pub const TRANSIENT_HORIZON_S: f64 = 1.0;
/// Calls below which no backlog is judged (slow components serve few calls per second).
pub const FLOOR_CALLS: f64 = 50.0;

/// What one node (a component, or a workload's requests in the system) did in the window.
#[derive(Debug, Clone, Copy)]
pub struct Backlog<'a> {
    /// The node's name.
    pub name: &'a str,
    /// A workload (its backlog is requests in the system) rather than a component.
    pub workload: bool,
    /// Successes completed per second inside the counting window.
    pub throughput_per_s: f64,
    /// Calls in flight when the counting window closed.
    pub at_close: u64,
    /// Time-averaged calls in flight over the counting window.
    pub window_mean: f64,
    /// The node's time series (whole run).
    pub points: &'a [CommonPoint],
    /// The counting window, s.
    pub warmup_s: f64,
    /// The counting window's close, s.
    pub close_s: f64,
}

/// The judgement on one node.
#[derive(Debug, Clone, PartialEq)]
pub enum Stability {
    /// Nothing to say.
    Stable,
    /// A backlog built up and drained inside the window (a warning).
    Transient(String),
    /// The backlog at the close is unbounded or still growing (fails the verdict).
    Unstable(String),
}

impl Backlog<'_> {
    /// Apply the rule.
    pub fn judge(&self) -> Stability {
        let x = self.throughput_per_s;
        let close = self.at_close as f64;
        let what = if self.workload {
            "requests in the system from"
        } else {
            "calls in flight at"
        };
        let name = self.name;
        if close > x * BACKLOG_HORIZON_S + FLOOR_CALLS {
            return Stability::Unstable(format!(
                "unstable: {} {what} `{name}` when the counting window closed, more than it completes in {BACKLOG_HORIZON_S:.0} s ({x:.1}/s); arrivals exceed capacity",
                self.at_close
            ));
        }
        if close - self.window_mean > x * GROWTH_HORIZON_S + FLOOR_CALLS {
            return Stability::Unstable(format!(
                "unstable: {what} `{name}` grew to {} at the counting window's close (window average {:.0}; it completes {x:.1}/s); arrivals exceed capacity",
                self.at_close, self.window_mean
            ));
        }
        if let Some(note) = self.growth_note() {
            return Stability::Unstable(note);
        }
        let inside = self.inside();
        let peak = inside
            .iter()
            .max_by(|a, b| a.in_flight.total_cmp(&b.in_flight));
        if let Some(p) = peak
            && p.in_flight > 2.0 * self.window_mean + x * TRANSIENT_HORIZON_S + FLOOR_CALLS
        {
            return Stability::Transient(format!(
                "transient overload: {what} `{name}` peaked at {:.0} in the window {:.1}–{:.1} s (window average {:.0}; it completes {x:.1}/s) and drained before the counting window closed",
                p.in_flight,
                p.t_s,
                p.t_s + p.window_s,
                self.window_mean
            ));
        }
        Stability::Stable
    }

    /// Series windows that lie inside the counting window.
    fn inside(&self) -> Vec<&CommonPoint> {
        self.points
            .iter()
            .filter(|p| p.t_s >= self.warmup_s && p.t_s + p.window_s <= self.close_s + 1e-9)
            .collect()
    }

    /// With at least 8 series windows inside the counting window: the backlog rose in every
    /// quarter, and its last quarter exceeds its first half by more than
    /// [`TREND_HORIZON_S`] of throughput plus [`FLOOR_CALLS`] (slow, steady growth).
    fn growth_note(&self) -> Option<String> {
        let inside = self.inside();
        if inside.len() < 8 {
            return None;
        }
        let mean = |s: &[&CommonPoint]| s.iter().map(|p| p.in_flight).sum::<f64>() / s.len() as f64;
        let half = inside.len() / 2;
        let quarter = inside.len() / 4;
        let first = mean(&inside[..half]);
        let last = mean(&inside[inside.len() - quarter..]);
        let q = |k: usize| mean(&inside[k * quarter..(k + 1) * quarter]);
        let rising = (1..4).all(|k| q(k) > q(k - 1));
        let x = self.throughput_per_s;
        let what = if self.workload {
            "requests in the system from"
        } else {
            "calls in flight at"
        };
        (rising && last - first > x * TREND_HORIZON_S + FLOOR_CALLS).then(|| {
            format!(
                "unstable: {what} `{}` rose in every quarter of the counting window, from {first:.0} to {last:.0} (it completes {x:.1}/s); arrivals exceed capacity, so averages depend on the run length",
                self.name
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(x: f64, at_close: u64, window_mean: f64) -> Backlog<'static> {
        Backlog {
            name: "s",
            workload: false,
            throughput_per_s: x,
            at_close,
            window_mean,
            points: &[],
            warmup_s: 0.0,
            close_s: 10.0,
        }
    }

    #[test]
    fn the_bounds_are_the_stated_ones() {
        // 1000/s: 30 s of work is 30 000 calls (+50).
        assert_eq!(node(1000.0, 30_050, 30_050.0).judge(), Stability::Stable);
        assert!(matches!(
            node(1000.0, 30_051, 30_051.0).judge(),
            Stability::Unstable(_)
        ));
        // Growth above the average: 5 s of work (+50).
        assert_eq!(node(1000.0, 5_150, 100.0).judge(), Stability::Stable);
        assert!(matches!(
            node(1000.0, 5_151, 100.0).judge(),
            Stability::Unstable(_)
        ));
        // Nothing served: any backlog above the floor.
        assert!(matches!(
            node(0.0, 51, 51.0).judge(),
            Stability::Unstable(_)
        ));
        assert_eq!(node(0.0, 50, 50.0).judge(), Stability::Stable);
    }

    #[test]
    fn a_peak_that_drained_is_a_warning() {
        let points: Vec<CommonPoint> = (0..10)
            .map(|i| CommonPoint {
                t_s: f64::from(i),
                window_s: 1.0,
                in_flight: if i == 4 { 500.0 } else { 5.0 },
                ..Default::default()
            })
            .collect();
        let b = Backlog {
            points: &points,
            ..node(100.0, 5, 54.5)
        };
        assert!(matches!(b.judge(), Stability::Transient(n) if n.contains("peaked at 500")));
    }
}
