//! Time series with a bounded number of points: when full, neighbouring windows merge and the
//! window doubles, so memory stays flat however long the run.
//!
//! Every node's series carries the common columns ([`CommonPoint`]); each kind adds up to
//! [`MAX_SERIES_COLUMNS`] of its own ([`SeriesColumn`], declared in its metadata), stored
//! inline beside them and named only when a report is built ([`SeriesPoint`]).

use std::collections::BTreeMap;

use serde::Serialize;

/// Most columns a kind can add to its series.
pub const MAX_SERIES_COLUMNS: usize = 4;

/// A kind's own values for one window, in the order of its [`SeriesColumn`]s (unused slots
/// stay 0).
pub type KindValues = [f64; MAX_SERIES_COLUMNS];

/// How two neighbouring windows of a kind's column merge when a series doubles its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesMerge {
    /// Weighted by window length: time averages and per-second rates.
    TimeAverage,
    /// Added: counts.
    Sum,
    /// The larger: peaks.
    Max,
}

/// A column a kind adds to its time series (and CSV files).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesColumn {
    /// Its key in the report's series points and its CSV header (`cpu_utilization`).
    pub name: &'static str,
    /// What it is, with its unit.
    pub summary: &'static str,
    /// How windows merge.
    pub merge: SeriesMerge,
}

/// The columns every node's series carries: one window of one component (or of a workload,
/// end to end).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct CommonPoint {
    /// Window start, s.
    pub t_s: f64,
    /// Window length, s.
    pub window_s: f64,
    /// Calls that reached it per second in the window (the offered load it took), counted or
    /// not: its finishes plus the change in calls in flight.
    pub arrivals_per_s: f64,
    /// Successful completions per second in the window.
    pub throughput_per_s: f64,
    /// Failed completions / all completions in the window.
    pub error_rate: f64,
    /// Mean latency of the window's successes, s, each counted at the middle of its 3 %
    /// bucket (within 1.5 % of the exact mean): what an automatic warm-up (MSER-5) reads.
    pub mean_s: f64,
    /// Median latency of the window's successes, s.
    pub p50_s: f64,
    /// 95th percentile, s.
    pub p95_s: f64,
    /// 99th percentile, s.
    pub p99_s: f64,
    /// Time-averaged calls in flight.
    pub in_flight: f64,
    /// Successes in the window (weights for merging).
    pub completions: u64,
    /// Failures in the window.
    pub errors: u64,
}

impl CommonPoint {
    /// Its column names, in field order (CSV headers).
    pub const COLUMNS: [&'static str; 12] = [
        "t_s",
        "window_s",
        "arrivals_per_s",
        "throughput_per_s",
        "error_rate",
        "mean_s",
        "p50_s",
        "p95_s",
        "p99_s",
        "in_flight",
        "completions",
        "errors",
    ];

    /// Its values as CSV fields, in [`CommonPoint::COLUMNS`] order.
    pub fn csv_fields(&self) -> [String; 12] {
        [
            self.t_s.to_string(),
            self.window_s.to_string(),
            self.arrivals_per_s.to_string(),
            self.throughput_per_s.to_string(),
            self.error_rate.to_string(),
            self.mean_s.to_string(),
            self.p50_s.to_string(),
            self.p95_s.to_string(),
            self.p99_s.to_string(),
            self.in_flight.to_string(),
            self.completions.to_string(),
            self.errors.to_string(),
        ]
    }
}

/// One window of a series as reports carry it: the common columns and the kind's own, by
/// name, all flattened into one object (one CSV row).
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct SeriesPoint {
    /// The columns every node carries.
    #[serde(flatten)]
    pub common: CommonPoint,
    /// The kind's own columns (`mean_queue_len`, `cpu_utilization`... for a service): see
    /// `x-kind-series` in the report schema.
    #[serde(flatten)]
    pub figures: BTreeMap<String, f64>,
}

impl std::ops::Deref for SeriesPoint {
    type Target = CommonPoint;

    /// A point reads like its flattened JSON object: `p.throughput_per_s`.
    fn deref(&self) -> &CommonPoint {
        &self.common
    }
}

impl SeriesPoint {
    /// The kind's own column `name`, if the kind has it.
    pub fn figure(&self, name: &str) -> Option<f64> {
        self.figures.get(name).copied()
    }
}

/// A bounded series of windows.
#[derive(Debug, Clone)]
pub struct Series {
    /// Current window width, ns.
    pub window_ns: u64,
    /// The common columns of each window, oldest first.
    pub points: Vec<CommonPoint>,
    /// The kind's own values of each window, beside `points`.
    kind: Vec<KindValues>,
    /// The kind's columns.
    columns: &'static [SeriesColumn],
    max_points: usize,
}

impl Series {
    /// An empty series with the kind's own `columns` (at most [`MAX_SERIES_COLUMNS`]).
    pub fn new(window_ns: u64, max_points: u32, columns: &'static [SeriesColumn]) -> Self {
        debug_assert!(columns.len() <= MAX_SERIES_COLUMNS);
        // Even, so merging pairs leaves no odd window behind.
        let max_points = (max_points as usize).max(2).next_multiple_of(2);
        // Allocated and written up front (fresh pages become resident only when written),
        // so memory does not grow as the run goes on.
        let mut points = vec![CommonPoint::default(); max_points];
        let mut kind = vec![KindValues::default(); max_points];
        std::hint::black_box((&mut points, &mut kind));
        points.clear();
        kind.clear();
        Self {
            window_ns,
            points,
            kind,
            columns: &columns[..columns.len().min(MAX_SERIES_COLUMNS)],
            max_points,
        }
    }

    /// Bytes one window takes (for the memory estimate at validation).
    pub const BYTES_PER_POINT: usize =
        std::mem::size_of::<CommonPoint>() + std::mem::size_of::<KindValues>();

    /// The kind's columns.
    pub fn columns(&self) -> &'static [SeriesColumn] {
        self.columns
    }

    /// Window `i` as reports carry it.
    pub fn point(&self, i: usize) -> Option<SeriesPoint> {
        let common = *self.points.get(i)?;
        let values = self.kind.get(i)?;
        Some(SeriesPoint {
            common,
            figures: self
                .columns
                .iter()
                .zip(values)
                .map(|(c, v)| (c.name.to_string(), *v))
                .collect(),
        })
    }

    /// The latest closed window.
    pub fn latest(&self) -> Option<SeriesPoint> {
        self.point(self.points.len().checked_sub(1)?)
    }

    /// Every window, oldest first, as reports carry them.
    pub fn to_points(&self) -> Vec<SeriesPoint> {
        (0..self.points.len())
            .filter_map(|i| self.point(i))
            .collect()
    }

    /// Append a closed window. Returns true when the series merged (the window doubled).
    pub fn push(&mut self, point: CommonPoint, values: KindValues) -> bool {
        self.points.push(point);
        self.kind.push(values);
        if self.points.len() < self.max_points {
            return false;
        }
        // Merge neighbours in place (keeps the allocation).
        let n = self.points.len().div_ceil(2);
        for i in 0..n {
            let end = (2 * i + 2).min(self.points.len());
            let (common, values) = merge(
                &self.points[2 * i..end],
                &self.kind[2 * i..end],
                self.columns,
            );
            self.points[i] = common;
            self.kind[i] = values;
        }
        self.points.truncate(n);
        self.kind.truncate(n);
        self.window_ns *= 2;
        true
    }
}

fn merge(
    pair: &[CommonPoint],
    values: &[KindValues],
    columns: &[SeriesColumn],
) -> (CommonPoint, KindValues) {
    let ([a, b], [va, vb]) = (pair, values) else {
        return (pair[0], values[0]);
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
    let common = CommonPoint {
        t_s: a.t_s,
        window_s: w,
        arrivals_per_s: tw(a.arrivals_per_s, b.arrivals_per_s),
        throughput_per_s: tw(a.throughput_per_s, b.throughput_per_s),
        error_rate: if all > 0.0 {
            (a.errors + b.errors) as f64 / all
        } else {
            0.0
        },
        mean_s: cw(a.mean_s, b.mean_s),
        p50_s: cw(a.p50_s, b.p50_s),
        p95_s: cw(a.p95_s, b.p95_s),
        p99_s: cw(a.p99_s, b.p99_s),
        in_flight: tw(a.in_flight, b.in_flight),
        completions: a.completions + b.completions,
        errors: a.errors + b.errors,
    };
    let mut merged = KindValues::default();
    for (i, c) in columns.iter().enumerate() {
        merged[i] = match c.merge {
            SeriesMerge::TimeAverage => tw(va[i], vb[i]),
            SeriesMerge::Sum => va[i] + vb[i],
            SeriesMerge::Max => va[i].max(vb[i]),
        };
    }
    (common, merged)
}
#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: [SeriesColumn; 3] = [
        SeriesColumn {
            name: "level",
            summary: "a time average",
            merge: SeriesMerge::TimeAverage,
        },
        SeriesColumn {
            name: "count",
            summary: "a count",
            merge: SeriesMerge::Sum,
        },
        SeriesColumn {
            name: "peak",
            summary: "a peak",
            merge: SeriesMerge::Max,
        },
    ];

    #[test]
    fn stays_bounded_and_keeps_totals_and_each_columns_merge_rule() {
        // Like the recorder: each window is as wide as the series' current window.
        let mut s = Series::new(1_000_000_000, 8, &COLUMNS);
        let mut t = 0.0;
        let mut total = 0u64;
        let mut counted = 0.0;
        for k in 0..100 {
            let w = s.window_ns as f64 / 1e9;
            let n = (10.0 * w) as u64;
            total += n;
            counted += 3.0 * w;
            s.push(
                CommonPoint {
                    t_s: t,
                    window_s: w,
                    throughput_per_s: 10.0,
                    arrivals_per_s: 11.0,
                    completions: n,
                    errors: n / 10,
                    error_rate: 1.0 / 11.0,
                    ..Default::default()
                },
                [0.5, 3.0 * w, f64::from(k), 0.0],
            );
            t += w;
        }
        assert!(s.points.len() < 8);
        assert_eq!(s.points.iter().map(|p| p.completions).sum::<u64>(), total);
        let points = s.to_points();
        assert_eq!(points.len(), s.points.len());
        assert!(
            points
                .iter()
                .all(|p| (p.throughput_per_s - 10.0).abs() < 1e-9)
        );
        assert!(
            points
                .iter()
                .all(|p| (p.arrivals_per_s - 11.0).abs() < 1e-9)
        );
        assert!(
            points
                .iter()
                .all(|p| (p.error_rate - 1.0 / 11.0).abs() < 1e-9)
        );
        // Time averages stay, counts add up, the last window holds the peak.
        assert!(
            points
                .iter()
                .all(|p| (p.figure("level").unwrap() - 0.5).abs() < 1e-12)
        );
        let sum: f64 = points.iter().map(|p| p.figure("count").unwrap()).sum();
        assert!((sum - counted).abs() < 1e-9);
        assert_eq!(points.last().unwrap().figure("peak"), Some(99.0));
        // Only the kind's columns are named.
        assert_eq!(points[0].figures.len(), 3);
        assert_eq!(points[0].figure("missing"), None);
        // The windows tile the run without gaps.
        let covered: f64 = s.points.iter().map(|p| p.window_s).sum();
        assert!((covered - t).abs() < 1e-9);
        for w in s.points.windows(2) {
            assert!((w[0].t_s + w[0].window_s - w[1].t_s).abs() < 1e-9);
        }
    }

    #[test]
    fn a_point_round_trips_through_json_with_its_kinds_columns_flattened() {
        let mut s = Series::new(1_000_000_000, 8, &COLUMNS);
        s.push(
            CommonPoint {
                t_s: 1.0,
                window_s: 1.0,
                completions: 4,
                ..Default::default()
            },
            [0.25, 2.0, 7.0, 0.0],
        );
        let p = s.latest().unwrap();
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["level"], 0.25);
        assert_eq!(json["completions"], 4);
        assert!(json.get("figures").is_none());
        // The CSV columns follow the fields.
        let keys: Vec<String> = serde_json::to_value(p.common)
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let mut names: Vec<String> = CommonPoint::COLUMNS.iter().map(|c| c.to_string()).collect();
        names.sort();
        assert_eq!(keys, names);
        assert_eq!(p.common.csv_fields()[10], "4");
        let back: SeriesPoint = serde_json::from_value(json).unwrap();
        assert_eq!(back, p);
    }
}
