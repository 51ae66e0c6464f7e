//! Log-linear histograms in the HdrHistogram layout: values below 2·2ᵇ ns are counted
//! exactly, every power of two above is split into 2ᵇ equal buckets, so a bucket is never
//! wider than 1/2ᵇ of its values (b = 10: 0.1 %, three significant digits, like
//! HdrHistogram's `sigfig = 3`; b = 5: 3 %, for chart windows). Recording is a few
//! instructions and inlines into the hot path; memory is fixed and resident from the start
//! (about 320 KiB at b = 10, 11 KiB at b = 5) whatever the run length. A test checks the percentiles against the
//! hdrhistogram crate.

/// Highest power of two tracked: values at or above 2⁴⁸ ns (about 78 hours) are clamped.
const MAX_MSB: u32 = 47;

/// Counts in log-linear buckets with `SUB_BITS` bits of sub-bucket resolution.
#[derive(Debug, Clone)]
pub struct LogHistogram<const SUB_BITS: u32> {
    counts: Box<[u64]>,
}

impl<const SUB_BITS: u32> Default for LogHistogram<SUB_BITS> {
    fn default() -> Self {
        Self {
            counts: vec![0; Self::BUCKETS].into_boxed_slice(),
        }
    }
}

impl<const SUB_BITS: u32> LogHistogram<SUB_BITS> {
    const SUB: usize = 1 << SUB_BITS;
    const EXACT: usize = 2 * Self::SUB;
    const BUCKETS: usize = Self::EXACT + (MAX_MSB - SUB_BITS) as usize * Self::SUB;

    #[inline]
    fn index(v: u64) -> usize {
        // Branch-free: below EXACT the shift is 0 and the index is v itself; above it,
        // EXACT + (shift − 1)·SUB + (v >> shift) − SUB simplifies to shift·SUB + (v >> shift).
        let v = v.min((1u64 << (MAX_MSB + 1)) - 1);
        let msb = 63 - (v | (Self::EXACT as u64 - 1)).leading_zeros();
        let shift = msb - SUB_BITS;
        shift as usize * Self::SUB + (v >> shift) as usize
    }

    /// Lowest and highest value of bucket `i`.
    fn bounds(i: usize) -> (u64, u64) {
        if i < Self::EXACT {
            return (i as u64, i as u64);
        }
        let shift = (i - Self::EXACT) / Self::SUB + 1;
        let sub = ((i - Self::EXACT) % Self::SUB + Self::SUB) as u64;
        let lo = sub << shift;
        (lo, lo + (1u64 << shift) - 1)
    }

    /// Record one value, ns.
    #[inline]
    pub fn record(&mut self, ns: u64) {
        let i = Self::index(ns);
        self.counts[i] += 1;
    }

    /// Values recorded (a sum over the buckets: recording keeps no separate total).
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Several quantiles (ascending q in 0..=1) in one pass, ns; each is the middle of the
    /// bucket holding the ⌈q·n⌉-th smallest value. Zeros when empty.
    pub fn quantiles_ns<const N: usize>(&self, qs: [f64; N]) -> [u64; N] {
        self.quantiles_ns_of(self.count(), qs)
    }

    /// [`LogHistogram::quantiles_ns`] when the caller already knows how many values were
    /// recorded (`total`), which saves a pass over the buckets.
    pub fn quantiles_ns_of<const N: usize>(&self, total: u64, qs: [f64; N]) -> [u64; N] {
        let mut out = [0u64; N];
        if total == 0 {
            return out;
        }
        let ranks = qs.map(|q| ((q * total as f64).ceil() as u64).clamp(1, total));
        let mut k = 0;
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            if c == 0 {
                continue;
            }
            seen += c;
            while k < N && seen >= ranks[k] {
                let (lo, hi) = Self::bounds(i);
                out[k] = lo + (hi - lo) / 2;
                k += 1;
            }
            if k == N {
                break;
            }
        }
        out
    }

    /// Add another histogram's counts.
    pub fn merge(&mut self, other: &Self) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
    }

    /// Forget everything (keeps the allocation).
    pub fn clear(&mut self) {
        self.counts.fill(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type H3 = LogHistogram<10>;
    type H5 = LogHistogram<5>;

    #[test]
    fn buckets_tile_the_line_and_stay_narrow() {
        let mut prev_hi = None;
        for i in 0..H5::BUCKETS {
            let (lo, hi) = H5::bounds(i);
            if let Some(p) = prev_hi {
                assert_eq!(lo, p + 1, "gap before bucket {i}");
            }
            assert_eq!(H5::index(lo), i);
            assert_eq!(H5::index(hi), i);
            assert!(lo < 64 || (hi - lo) as f64 / lo as f64 <= 1.0 / 32.0);
            prev_hi = Some(hi);
        }
        assert!(H3::index(u64::MAX) < H3::BUCKETS);
        for v in [2047u64, 2048, 2049, 1_000_000, 123_456_789, 1 << 40] {
            let (lo, hi) = H3::bounds(H3::index(v));
            assert!(
                lo <= v && v <= hi && (hi - lo) as f64 <= v as f64 / 1024.0,
                "{v}"
            );
        }
    }

    #[test]
    fn agrees_with_the_hdrhistogram_crate() {
        // A heavy-tailed sample recorded in both; percentiles within 0.1 %.
        let mut ours = H3::default();
        let mut reference = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 1 << 47, 3).unwrap();
        let mut x = 88172645463325252u64;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let u = (x >> 11) as f64 / (1u64 << 53) as f64;
            let v = (1e5 / (1.0 - u).powf(0.7)) as u64;
            ours.record(v);
            reference.record(v).unwrap();
        }
        let qs = [0.5, 0.9, 0.99, 0.999];
        let got = ours.quantiles_ns(qs);
        for (q, g) in qs.iter().zip(got) {
            let r = reference.value_at_quantile(*q) as f64;
            assert!(
                (g as f64 / r - 1.0).abs() <= 1e-3,
                "q{q}: ours {g} vs hdrhistogram {r}"
            );
        }
        let mut merged = H3::default();
        merged.merge(&ours);
        merged.merge(&ours);
        assert_eq!(merged.quantiles_ns(qs), got);
        assert_eq!(merged.count(), 400_000);
        merged.clear();
        assert_eq!(merged.quantiles_ns([0.5]), [0]);
    }
}
