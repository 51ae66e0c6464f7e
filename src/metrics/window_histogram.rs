//! A small, fast log-linear histogram for the per-window percentiles of the time series.
//!
//! The report's percentiles come from HdrHistogram (0.1 % precision); chart windows only
//! need about 3 %, and are recorded for every call at every component, so they use this
//! cheaper layout: exact below 64 ns, then 32 linear sub-buckets per power of two.

const SUB_BITS: u32 = 5;
const SUB: usize = 1 << SUB_BITS;
const EXACT: usize = 2 * SUB;
const MAX_MSB: u32 = 47; // 2^48 ns ≈ 78 hours; larger values are clamped.
const BUCKETS: usize = EXACT + (MAX_MSB as usize - SUB_BITS as usize) * SUB;

/// Counts of latencies (ns) in log-linear buckets (≈ 3 % relative width).
#[derive(Debug, Clone)]
pub struct WindowHistogram {
    counts: Box<[u32]>,
    total: u64,
}

impl Default for WindowHistogram {
    fn default() -> Self {
        Self {
            counts: vec![0; BUCKETS].into_boxed_slice(),
            total: 0,
        }
    }
}

#[inline]
fn index(v: u64) -> usize {
    if v < EXACT as u64 {
        return v as usize;
    }
    let msb = (63 - v.leading_zeros()).min(MAX_MSB);
    let shift = msb - SUB_BITS;
    let v = v.min((1u64 << (MAX_MSB + 1)) - 1);
    let sub = (v >> shift) as usize - SUB; // 0..SUB
    EXACT + (shift as usize - 1) * SUB + sub
}

/// Middle of bucket `i`, ns.
fn value(i: usize) -> u64 {
    if i < EXACT {
        return i as u64;
    }
    let shift = (i - EXACT) / SUB + 1;
    let sub = ((i - EXACT) % SUB + SUB) as u64;
    (sub << shift) + (1u64 << shift) / 2
}

impl WindowHistogram {
    /// Record one value.
    #[inline]
    pub fn record(&mut self, ns: u64) {
        let i = index(ns);
        self.counts[i] = self.counts[i].saturating_add(1);
        self.total += 1;
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The q-quantile, ns (0 when empty).
    pub fn quantile_ns(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += u64::from(c);
            if seen >= rank {
                return value(i);
            }
        }
        value(BUCKETS - 1)
    }

    /// Forget everything.
    pub fn clear(&mut self) {
        if self.total > 0 {
            self.counts.fill(0);
            self.total = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_tight() {
        let mut last = 0;
        for v in [
            0u64,
            1,
            63,
            64,
            65,
            100,
            1000,
            12_345,
            1 << 20,
            5_000_000_000,
            1 << 47,
        ] {
            let i = index(v);
            assert!(i >= last, "{v}");
            last = i;
            let mid = value(i) as f64;
            assert!(
                v < 64 || (mid / v as f64 - 1.0).abs() < 0.035,
                "{v} -> {mid}"
            );
        }
        assert!(index(u64::MAX) < BUCKETS);
    }

    #[test]
    fn quantiles_of_a_uniform_sample() {
        let mut h = WindowHistogram::default();
        for v in 1..=10_000u64 {
            h.record(v * 1000);
        }
        let p50 = h.quantile_ns(0.5) as f64;
        let p99 = h.quantile_ns(0.99) as f64;
        assert!((p50 / 5e6 - 1.0).abs() < 0.035, "{p50}");
        assert!((p99 / 9.9e6 - 1.0).abs() < 0.035, "{p99}");
        h.clear();
        assert_eq!(h.quantile_ns(0.5), 0);
    }
}
