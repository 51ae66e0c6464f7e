//! Time series with a bounded number of points: when full, neighbouring windows merge and the
//! window doubles, so memory stays flat however long the run.

use serde::Serialize;

/// One window of one component (or of the whole system).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct SeriesPoint {
    /// Window start, s.
    pub t_s: f64,
    /// Window length, s.
    pub window_s: f64,
    /// Successful completions per second in the window.
    pub throughput_per_s: f64,
    /// Failed completions / all completions in the window.
    pub error_rate: f64,
    /// Median latency of the window's successes, s.
    pub p50_s: f64,
    /// 95th percentile, s.
    pub p95_s: f64,
    /// 99th percentile, s.
    pub p99_s: f64,
    /// Time-averaged queue length (requests waiting for a thread).
    pub mean_queue_len: f64,
    /// Time-averaged CPU utilization (0..1); 0 where there are no CPUs.
    pub cpu_utilization: f64,
    /// Time-averaged calls in flight.
    pub in_flight: f64,
    /// Successes in the window (weights for merging).
    pub completions: u64,
    /// Failures in the window.
    pub errors: u64,
}

/// A bounded series of windows.
#[derive(Debug, Clone, Serialize)]
pub struct Series {
    /// Current window width, ns.
    pub window_ns: u64,
    /// Points, oldest first.
    pub points: Vec<SeriesPoint>,
    #[serde(skip)]
    max_points: usize,
}

impl Series {
    /// An empty series.
    pub fn new(window_ns: u64, max_points: u32) -> Self {
        // Even, so merging pairs leaves no odd window behind.
        let max_points = (max_points as usize).max(2).next_multiple_of(2);
        // Allocated and written up front (fresh pages become resident only when written),
        // so memory does not grow as the run goes on.
        let mut points = vec![SeriesPoint::default(); max_points];
        std::hint::black_box(&mut points);
        points.clear();
        Self {
            window_ns,
            points,
            max_points,
        }
    }

    /// Append a closed window. Returns true when the series merged (the window doubled).
    pub fn push(&mut self, point: SeriesPoint) -> bool {
        self.points.push(point);
        if self.points.len() < self.max_points {
            return false;
        }
        // Merge neighbours in place (keeps the allocation).
        let n = self.points.len().div_ceil(2);
        for i in 0..n {
            let pair = &self.points[2 * i..(2 * i + 2).min(self.points.len())];
            self.points[i] = merge(pair);
        }
        self.points.truncate(n);
        self.window_ns *= 2;
        true
    }
}

fn merge(pair: &[SeriesPoint]) -> SeriesPoint {
    let [a, b] = pair else {
        return pair[0];
    };
    let w = a.window_s + b.window_s;
    let tw = |x: f64, y: f64| {
        if w > 0.0 {
            (x * a.window_s + y * b.window_s) / w
        } else {
            0.0
        }
    };
    let n = (a.completions + b.completions) as f64;
    // Percentiles cannot be merged exactly; the count-weighted mean is a documented
    // approximation (exact series need a window chosen up front: metrics.window).
    let cw = |x: f64, y: f64| {
        if n > 0.0 {
            (x * a.completions as f64 + y * b.completions as f64) / n
        } else {
            0.0
        }
    };
    let all = (a.completions + a.errors + b.completions + b.errors) as f64;
    SeriesPoint {
        t_s: a.t_s,
        window_s: w,
        throughput_per_s: tw(a.throughput_per_s, b.throughput_per_s),
        error_rate: if all > 0.0 {
            (a.errors + b.errors) as f64 / all
        } else {
            0.0
        },
        p50_s: cw(a.p50_s, b.p50_s),
        p95_s: cw(a.p95_s, b.p95_s),
        p99_s: cw(a.p99_s, b.p99_s),
        mean_queue_len: tw(a.mean_queue_len, b.mean_queue_len),
        cpu_utilization: tw(a.cpu_utilization, b.cpu_utilization),
        in_flight: tw(a.in_flight, b.in_flight),
        completions: a.completions + b.completions,
        errors: a.errors + b.errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_bounded_and_keeps_totals() {
        // Like the recorder: each window is as wide as the series' current window.
        let mut s = Series::new(1_000_000_000, 8);
        let mut t = 0.0;
        let mut total = 0u64;
        for _ in 0..100 {
            let w = s.window_ns as f64 / 1e9;
            let n = (10.0 * w) as u64;
            total += n;
            s.push(SeriesPoint {
                t_s: t,
                window_s: w,
                throughput_per_s: 10.0,
                completions: n,
                errors: n / 10,
                error_rate: 1.0 / 11.0,
                ..Default::default()
            });
            t += w;
        }
        assert!(s.points.len() < 8);
        assert_eq!(s.points.iter().map(|p| p.completions).sum::<u64>(), total);
        assert!(
            s.points
                .iter()
                .all(|p| (p.throughput_per_s - 10.0).abs() < 1e-9)
        );
        assert!(
            s.points
                .iter()
                .all(|p| (p.error_rate - 1.0 / 11.0).abs() < 1e-9)
        );
        // The windows tile the run without gaps.
        let covered: f64 = s.points.iter().map(|p| p.window_s).sum();
        assert!((covered - t).abs() < 1e-9);
        for w in s.points.windows(2) {
            assert!((w[0].t_s + w[0].window_s - w[1].t_s).abs() < 1e-9);
        }
    }
}
