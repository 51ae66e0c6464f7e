//! Latency histograms: 0.1 %-resolution log-linear buckets (the HdrHistogram layout) for
//! percentiles with bounded memory, plus exact sums and maxima so means (and Little's law)
//! are not quantized.

use super::log_histogram::LogHistogram;
use crate::engine::time::nanos_to_secs;

/// Sub-bucket bits of the report histograms: buckets 1/2¹⁰ of their values wide.
pub const REPORT_SUB_BITS: u32 = 10;

/// A latency distribution in nanoseconds.
#[derive(Debug, Clone, Default)]
pub struct LatencyHistogram {
    buckets: LogHistogram<REPORT_SUB_BITS>,
    sum_ns: u128,
    max_ns: u64,
}

impl LatencyHistogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self::default()
    }

    /// Record one latency.
    #[inline(always)]
    pub fn record(&mut self, ns: u64) {
        self.record_in(Self::bucket_of(ns), ns);
    }

    /// The bucket of a latency of `ns` (for [`LatencyHistogram::record_in`] and
    /// [`LogHistogram::index_from_finer`]).
    #[inline]
    pub fn bucket_of(ns: u64) -> usize {
        LogHistogram::<REPORT_SUB_BITS>::index(ns)
    }

    /// Record a latency of `ns` whose bucket is `bucket` (= `bucket_of(ns)`).
    #[inline]
    pub fn record_in(&mut self, bucket: usize, ns: u64) {
        self.buckets.record_index(bucket);
        self.sum_ns += u128::from(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.buckets.count(self.max_ns)
    }

    /// Exact sum, ns.
    pub fn sum_ns(&self) -> u128 {
        self.sum_ns
    }

    /// Exact mean, ns (0 when empty).
    pub fn mean_ns(&self) -> f64 {
        let n = self.count();
        if n == 0 {
            0.0
        } else {
            self.sum_ns as f64 / n as f64
        }
    }

    /// The q-quantile (0..=1), ns; 0 when empty.
    pub fn quantile_ns(&self, q: f64) -> u64 {
        self.buckets.quantiles_ns([q], self.max_ns)[0].min(self.max_ns)
    }

    /// Largest value, ns (exact).
    pub fn max_ns(&self) -> u64 {
        self.max_ns
    }

    /// Add another histogram's values to this one.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        self.buckets.merge(&other.buckets, other.max_ns);
        self.sum_ns += other.sum_ns;
        self.max_ns = self.max_ns.max(other.max_ns);
    }

    /// The summary of the values of several histograms together (a component's classes,
    /// several workloads), without merging them into a new one.
    pub fn summary_of(parts: &[&LatencyHistogram]) -> LatencySummary {
        match parts {
            [] => LatencyHistogram::new().summary(),
            [one] => one.summary(),
            _ => {
                let max_ns = parts.iter().map(|p| p.max_ns).max().unwrap_or(0);
                let sum_ns: u128 = parts.iter().map(|p| p.sum_ns).sum();
                let count: u64 = parts.iter().map(|p| p.count()).sum();
                let buckets: Vec<&LogHistogram<REPORT_SUB_BITS>> =
                    parts.iter().map(|p| &p.buckets).collect();
                let [p50, p95, p99, p999] =
                    LogHistogram::quantiles_ns_of(&buckets, [0.50, 0.95, 0.99, 0.999], max_ns)
                        .map(|q| q.min(max_ns));
                LatencySummary {
                    count,
                    mean: if count == 0 {
                        0.0
                    } else {
                        sum_ns as f64 / count as f64 / 1e9
                    },
                    p50: nanos_to_secs(p50),
                    p95: nanos_to_secs(p95),
                    p99: nanos_to_secs(p99),
                    p999: nanos_to_secs(p999),
                    max: nanos_to_secs(max_ns),
                }
            }
        }
    }

    /// The report summary, in seconds.
    pub fn summary(&self) -> LatencySummary {
        // A bucket's middle can lie above the largest value recorded: never report a
        // percentile above the exact maximum.
        let [p50, p95, p99, p999] = self
            .buckets
            .quantiles_ns([0.50, 0.95, 0.99, 0.999], self.max_ns)
            .map(|q| q.min(self.max_ns));
        LatencySummary {
            count: self.count(),
            mean: self.mean_ns() / 1e9,
            p50: nanos_to_secs(p50),
            p95: nanos_to_secs(p95),
            p99: nanos_to_secs(p99),
            p999: nanos_to_secs(p999),
            max: nanos_to_secs(self.max_ns),
        }
    }
}

impl LatencyHistogram {
    /// The summary of these values and `zeros` more that are exactly 0 (waits: most calls
    /// do not wait, and those are counted rather than recorded).
    pub fn summary_with_zeros(&self, zeros: u64) -> LatencySummary {
        let positive = self.count();
        let n = positive + zeros;
        if zeros == 0 || positive == 0 {
            let mut s = self.summary();
            if positive == 0 {
                s.count = zeros;
            }
            return s;
        }
        // The q-quantile is the ⌈q·n⌉-th value: a zero while that rank is within the zeros,
        // else the (rank − zeros)-th positive value (asked for half a rank below it, so the
        // histogram's own ⌈q'·count⌉ lands on it whatever the rounding).
        let quantile = |q: f64| -> f64 {
            let rank = (q * n as f64).ceil().max(1.0) as u64;
            if rank <= zeros {
                return 0.0;
            }
            let q_positive = ((rank - zeros) as f64 - 0.5) / positive as f64;
            let [v] = self
                .buckets
                .quantiles_ns([q_positive], self.max_ns)
                .map(|v| v.min(self.max_ns));
            nanos_to_secs(v)
        };
        LatencySummary {
            count: n,
            mean: self.sum_ns as f64 / n as f64 / 1e9,
            p50: quantile(0.50),
            p95: quantile(0.95),
            p99: quantile(0.99),
            p999: quantile(0.999),
            max: nanos_to_secs(self.max_ns),
        }
    }
}

/// Latency statistics in seconds. Percentiles carry HdrHistogram's relative error (0.1 %);
/// mean and max are exact. When `count` is 0 nothing was measured: the other values are 0
/// and mean nothing (the text output prints "n/a").
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
pub struct LatencySummary {
    /// Values summarized (requests or calls); 0 means the figures below mean nothing.
    pub count: u64,
    /// Mean, s.
    pub mean: f64,
    /// Median, s.
    pub p50: f64,
    /// 95th percentile, s.
    pub p95: f64,
    /// 99th percentile, s.
    pub p99: f64,
    /// 99.9th percentile, s.
    pub p999: f64,
    /// Largest, s.
    pub max: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_of_parts_equals_the_summary_of_their_merge() {
        let (mut a, mut b) = (LatencyHistogram::new(), LatencyHistogram::new());
        for v in 1..=3000u64 {
            a.record(v * 1_000 + 17);
            if v % 3 == 0 {
                b.record(v * 7_919);
            }
        }
        let mut merged = LatencyHistogram::new();
        merged.merge(&a);
        merged.merge(&b);
        assert_eq!(LatencyHistogram::summary_of(&[&a, &b]), merged.summary());
        assert_eq!(LatencyHistogram::summary_of(&[&a]), a.summary());
    }

    #[test]
    fn zeros_join_the_distribution_by_rank() {
        // 60 zeros and 40 values 1..=40 ms: n = 100.
        let mut h = LatencyHistogram::new();
        for v in 1..=40u64 {
            h.record(v * 1_000_000);
        }
        let s = h.summary_with_zeros(60);
        assert_eq!(s.count, 100);
        assert_eq!(s.p50, 0.0, "the 50th value is a zero");
        // The 95th value is the 35th positive one, 35 ms (0.1 % buckets).
        assert!((s.p95 - 0.035).abs() < 0.035 * 0.002, "{}", s.p95);
        assert!((s.p99 - 0.039).abs() < 0.039 * 0.002, "{}", s.p99);
        // Exact mean: (1 + … + 40) ms / 100.
        assert!((s.mean - 0.0082).abs() < 1e-12, "{}", s.mean);
        assert_eq!(LatencyHistogram::new().summary_with_zeros(5).count, 5);
    }

    #[test]
    fn mean_is_exact_and_quantiles_close() {
        let mut h = LatencyHistogram::new();
        for v in 1..=1000u64 {
            h.record(v * 1000);
        }
        assert_eq!(h.count(), 1000);
        assert_eq!(h.mean_ns(), 500_500.0);
        let p99 = h.quantile_ns(0.99) as f64;
        assert!((p99 / 990_000.0 - 1.0).abs() < 0.001, "{p99}");
        assert_eq!(h.max_ns(), 1_000_000);
        let empty = LatencyHistogram::new();
        assert_eq!(empty.summary(), LatencySummary::default());
    }
}
