//! Latency histograms: HdrHistogram for percentiles with bounded memory, plus exact sums so
//! means (and Little's law) are not quantized.

use hdrhistogram::Histogram;

use crate::engine::time::nanos_to_secs;

/// Largest recordable latency: 10 000 s (values above are clamped, and counted).
pub const MAX_LATENCY_NS: u64 = 10_000 * 1_000_000_000;

/// A latency distribution in nanoseconds.
#[derive(Clone)]
pub struct LatencyHistogram {
    hist: Histogram<u64>,
    sum_ns: u128,
    count: u64,
    max_ns: u64,
    clamped: u64,
}

impl std::fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "LatencyHistogram(n={}, mean_ns={})",
            self.count,
            self.mean_ns()
        )
    }
}

impl LatencyHistogram {
    /// An empty histogram with `sigfig` significant decimal digits (2 or 3).
    pub fn new(sigfig: u8) -> Self {
        let hist = Histogram::new_with_bounds(1, MAX_LATENCY_NS, sigfig.clamp(1, 5))
            .unwrap_or_else(|_| unreachable!("constant bounds are valid"));
        Self {
            hist,
            sum_ns: 0,
            count: 0,
            max_ns: 0,
            clamped: 0,
        }
    }

    /// Record one latency.
    #[inline]
    pub fn record(&mut self, ns: u64) {
        let v = if ns > MAX_LATENCY_NS {
            self.clamped += 1;
            MAX_LATENCY_NS
        } else {
            ns.max(1)
        };
        // Cannot fail: v is within the bounds.
        let _ = self.hist.record(v);
        self.sum_ns += u128::from(ns);
        self.count += 1;
        self.max_ns = self.max_ns.max(ns);
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Exact sum, ns.
    pub fn sum_ns(&self) -> u128 {
        self.sum_ns
    }

    /// Exact mean, ns (0 when empty).
    pub fn mean_ns(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum_ns as f64 / self.count as f64
        }
    }

    /// The q-quantile (0..=1), ns; 0 when empty.
    pub fn quantile_ns(&self, q: f64) -> u64 {
        if self.count == 0 {
            0
        } else {
            self.hist.value_at_quantile(q)
        }
    }

    /// Largest value, ns (exact).
    pub fn max_ns(&self) -> u64 {
        self.max_ns
    }

    /// Forget everything (keeps the allocation).
    pub fn clear(&mut self) {
        self.hist.reset();
        self.sum_ns = 0;
        self.count = 0;
        self.max_ns = 0;
        self.clamped = 0;
    }

    /// The report summary, in seconds.
    pub fn summary(&self) -> LatencySummary {
        LatencySummary {
            mean: nanos_to_secs(0) + self.mean_ns() / 1e9,
            p50: nanos_to_secs(self.quantile_ns(0.50)),
            p95: nanos_to_secs(self.quantile_ns(0.95)),
            p99: nanos_to_secs(self.quantile_ns(0.99)),
            p999: nanos_to_secs(self.quantile_ns(0.999)),
            max: nanos_to_secs(self.max_ns),
        }
    }
}

/// Latency statistics in seconds. Percentiles carry HdrHistogram's relative error (0.1 %);
/// mean and max are exact.
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

impl LatencyHistogram {
    /// Add another histogram's values to this one.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.hist.add(&other.hist);
        self.sum_ns += other.sum_ns;
        self.count += other.count;
        self.max_ns = self.max_ns.max(other.max_ns);
        self.clamped += other.clamped;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_is_exact_and_quantiles_close() {
        let mut h = LatencyHistogram::new(3);
        for v in 1..=1000u64 {
            h.record(v * 1000);
        }
        assert_eq!(h.count(), 1000);
        assert_eq!(h.mean_ns(), 500_500.0);
        let p99 = h.quantile_ns(0.99) as f64;
        assert!((p99 / 990_000.0 - 1.0).abs() < 0.002, "{p99}");
        assert_eq!(h.max_ns(), 1_000_000);
        h.record(MAX_LATENCY_NS * 2);
        assert_eq!(h.max_ns(), MAX_LATENCY_NS * 2);
        h.clear();
        assert_eq!(h.count(), 0);
        assert_eq!(h.summary(), LatencySummary::default());
    }
}
