//! Log-linear histograms in the HdrHistogram layout: values below 2·2ᵇ ns are counted
//! exactly, every power of two above is split into 2ᵇ equal buckets, so a bucket is never
//! wider than 1/2ᵇ of its values (b = 10: 0.1 %, three significant digits, like
//! HdrHistogram's `sigfig = 3`; b = 5: 3 %, for chart windows). Recording is a few
//! instructions and inlines into the hot path; memory is fixed (about 320 KiB at b = 10,
//! 11 KiB at b = 5) whatever the run length. Reading, merging and clearing touch only the
//! buckets that can be in use: up to the bucket of a known maximum (the report histograms keep
//! the exact one), or up to the last recorded value (a series window, whose count is known, is
//! read and cleared in one pass that stops there). So a window costs what it holds, not the
//! whole array, and the untouched pages of a fresh histogram are never faulted in. A test
//! checks the percentiles against the hdrhistogram crate.

/// Highest power of two tracked: values at or above 2⁴⁸ ns (about 78 hours) are clamped.
const MAX_MSB: u32 = 47;

/// Counts in log-linear buckets with `SUB_BITS` bits of sub-bucket resolution. `GROUPED`
/// keeps group totals as values are recorded (for histograms read often: reports and live
/// snapshots); a histogram that is only ever read whole and cleared (a series window) goes
/// without, one memory write fewer per record.
#[derive(Debug, Clone)]
pub struct LogHistogram<const SUB_BITS: u32, const GROUPED: bool = true> {
    counts: Box<[u64]>,
    /// Totals of each group of 2^SUB_BITS consecutive buckets (one magnitude), kept when
    /// `GROUPED`: counts and quantile scans skip whole groups, so reading a histogram costs
    /// about a group per quantile instead of every bucket up to the largest value (a live
    /// snapshot reads hundreds of them). Zero when not `GROUPED`.
    groups: [u64; GROUPS],
}

/// Groups of buckets a histogram keeps totals of: enough for every magnitude of a `u64` at
/// the resolutions used (5 and 10 sub-bucket bits); a power of two, so a mask keeps the
/// index in range with no bounds check.
const GROUPS: usize = 64;

impl<const SUB_BITS: u32, const GROUPED: bool> Default for LogHistogram<SUB_BITS, GROUPED> {
    fn default() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::FITS;
        Self {
            counts: vec![0; Self::BUCKETS].into_boxed_slice(),
            groups: [0; GROUPS],
        }
    }
}

impl<const SUB_BITS: u32, const GROUPED: bool> LogHistogram<SUB_BITS, GROUPED> {
    /// Every bucket's group is below [`GROUPS`] (checked at compile time where used).
    const FITS: () = assert!(Self::BUCKETS.div_ceil(Self::SUB) <= GROUPS);
    const SUB: usize = 1 << SUB_BITS;
    const EXACT: usize = 2 * Self::SUB;
    const BUCKETS: usize = Self::EXACT + (MAX_MSB - SUB_BITS) as usize * Self::SUB;

    /// The bucket of value `v`.
    #[inline]
    pub fn index(v: u64) -> usize {
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

    /// The bucket of `v` here, from its bucket `fine` in a histogram with `FINE` ≥ `SUB_BITS`
    /// bits (`fine` = `LogHistogram::<FINE>::index(v)`). Above both exact ranges a bucket
    /// here is 2^(FINE − SUB_BITS) buckets there, so this is a shift and an add: a value
    /// recorded in both histograms needs one bucket computation, not two.
    #[inline]
    pub fn index_from_finer<const FINE: u32>(fine: usize, v: u64) -> usize {
        let d = FINE - SUB_BITS;
        if fine >= LogHistogram::<FINE>::EXACT {
            // fine = s·2^FINE + (v >> s) with s = msb − FINE; here the shift is s + d.
            (fine >> d) + ((d as usize) << SUB_BITS)
        } else {
            Self::index(v)
        }
    }

    /// Record one value, ns.
    #[inline]
    pub fn record(&mut self, ns: u64) {
        self.record_index(Self::index(ns));
    }

    /// Record one value whose bucket is `i` (from [`LogHistogram::index`]).
    #[inline(always)]
    pub fn record_index(&mut self, i: usize) {
        self.counts[i] += 1;
        if GROUPED {
            self.groups[(i >> SUB_BITS) & (GROUPS - 1)] += 1;
        }
    }

    /// The buckets that can be non-empty when no value above `max_ns` was recorded.
    #[inline]
    fn up_to(&self, max_ns: u64) -> &[u64] {
        &self.counts[..=Self::index(max_ns)]
    }

    /// Values recorded, none above `max_ns` (`u64::MAX` when not known): a sum over the
    /// buckets up to that value's (recording keeps no separate total).
    pub fn count(&self, max_ns: u64) -> u64 {
        if !GROUPED {
            return self.up_to(max_ns).iter().sum();
        }
        self.groups[..=(Self::index(max_ns) >> SUB_BITS).min(GROUPS - 1)]
            .iter()
            .sum()
    }

    /// Several quantiles (ascending q in 0..=1) in one pass, ns; each is the middle of the
    /// bucket holding the ⌈q·n⌉-th smallest value; no value above `max_ns` was recorded
    /// (`u64::MAX` when not known). Zeros when empty.
    pub fn quantiles_ns<const N: usize>(&self, qs: [f64; N], max_ns: u64) -> [u64; N] {
        Self::quantiles_ns_of(&[self], qs, max_ns)
    }

    /// The quantiles of the `total` values recorded (as [`LogHistogram::quantiles_ns`]),
    /// then forget them all, in one pass that ends at the bucket of the largest value.
    /// `total` must be exactly the number of values recorded since the last clear.
    pub fn take_quantiles_ns<const N: usize>(&mut self, total: u64, qs: [f64; N]) -> [u64; N] {
        self.take_quantiles_and_mean_ns(total, qs).0
    }

    /// [`LogHistogram::take_quantiles_ns`], and the mean of the values taken, each counted at
    /// its bucket's middle (within half a bucket, 1/2^(SUB_BITS+1), of the exact mean); 0
    /// when empty.
    pub fn take_quantiles_and_mean_ns<const N: usize>(
        &mut self,
        total: u64,
        qs: [f64; N],
    ) -> ([u64; N], f64) {
        let mut sum = 0.0;
        let mut scan = Scan::<SUB_BITS, N>::new(total, qs);
        // Eight buckets at a time: runs of empty ones (most of a window's) cost one test.
        for (chunk, counts) in self.counts.chunks_mut(8).enumerate() {
            if scan.seen >= total {
                break;
            }
            if counts.iter().fold(0, |any, &c| any | c) == 0 {
                continue;
            }
            for (j, c) in counts.iter_mut().enumerate() {
                if *c != 0 {
                    // Only non-empty buckets are written.
                    let (i, c) = (chunk * 8 + j, std::mem::take(c));
                    let (lo, hi) = Self::bounds(i);
                    sum += c as f64 * (lo as f64 + (hi - lo) as f64 / 2.0);
                    scan.add(i, c);
                }
            }
        }
        debug_assert!(self.counts.iter().all(|&c| c == 0), "total was too small");
        self.groups.fill(0);
        let mean = if total == 0 { 0.0 } else { sum / total as f64 };
        (scan.out, mean)
    }

    /// [`LogHistogram::quantiles_ns`] of the values of several histograms together, none
    /// above `max_ns`, without merging them into a new one (no allocation). Whole groups of
    /// buckets that hold no quantile are skipped by their totals.
    pub fn quantiles_ns_of<const N: usize>(parts: &[&Self], qs: [f64; N], max_ns: u64) -> [u64; N] {
        let last_group = (Self::index(max_ns) >> SUB_BITS).min(GROUPS - 1);
        let group_total = |g: usize| -> u64 {
            if GROUPED {
                parts.iter().map(|p| p.groups[g]).sum()
            } else {
                let range = g << SUB_BITS..((g + 1) << SUB_BITS).min(Self::BUCKETS);
                parts
                    .iter()
                    .map(|p| p.counts[range.clone()].iter().sum::<u64>())
                    .sum()
            }
        };
        let total: u64 = (0..=last_group).map(group_total).sum();
        let mut scan = Scan::<SUB_BITS, N>::new(total, qs);
        for g in 0..=last_group {
            if scan.found_all() {
                break;
            }
            let t = group_total(g);
            if t == 0 {
                continue;
            }
            if scan.seen + t < scan.next {
                scan.seen += t;
                continue;
            }
            let first = g << SUB_BITS;
            for i in first..(first + Self::SUB).min(Self::BUCKETS) {
                let c: u64 = parts.iter().map(|p| p.counts[i]).sum();
                if c != 0 {
                    scan.add(i, c);
                }
            }
        }
        scan.out
    }

    /// Add another histogram's counts; none of its values is above `max_ns` (`u64::MAX`
    /// when not known).
    pub fn merge(&mut self, other: &Self, max_ns: u64) {
        for (a, &b) in self.counts.iter_mut().zip(other.up_to(max_ns)) {
            // Empty buckets are not written: a fresh page of zeros stays unmapped.
            if b != 0 {
                *a += b;
            }
        }
        for (a, &b) in self.groups.iter_mut().zip(&other.groups) {
            *a += b;
        }
    }
}

/// A quantile scan in progress over the buckets of a histogram holding `total` values,
/// fed in ascending bucket order.
struct Scan<const SUB_BITS: u32, const N: usize> {
    /// The rank of the value each quantile names (1-based).
    ranks: [u64; N],
    /// The quantiles found so far.
    out: [u64; N],
    /// How many quantiles are found.
    found: usize,
    /// The rank of the next quantile to find (`u64::MAX` once all are found).
    next: u64,
    /// Values seen so far.
    seen: u64,
}

impl<const SUB_BITS: u32, const N: usize> Scan<SUB_BITS, N> {
    fn new(total: u64, qs: [f64; N]) -> Self {
        let ranks = qs.map(|q| ((q * total as f64).ceil() as u64).clamp(1, total.max(1)));
        // Nothing to find in an empty histogram: every quantile is 0.
        let found = if total == 0 { N } else { 0 };
        Self {
            ranks,
            out: [0; N],
            found,
            next: ranks.get(found).copied().unwrap_or(u64::MAX),
            seen: 0,
        }
    }

    fn found_all(&self) -> bool {
        self.found == N
    }

    /// Bucket `i` holds `count` values.
    #[inline]
    fn add(&mut self, i: usize, count: u64) {
        self.seen += count;
        if self.seen < self.next {
            return;
        }
        let (lo, hi) = LogHistogram::<SUB_BITS>::bounds(i);
        while self.found < N && self.seen >= self.ranks[self.found] {
            self.out[self.found] = lo + (hi - lo) / 2;
            self.found += 1;
        }
        self.next = self.ranks.get(self.found).copied().unwrap_or(u64::MAX);
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
        // The same values without group totals.
        let mut plain = LogHistogram::<10, false>::default();
        let mut reference = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 1 << 47, 3).unwrap();
        let mut x = 88172645463325252u64;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let u = (x >> 11) as f64 / (1u64 << 53) as f64;
            let v = (1e5 / (1.0 - u).powf(0.7)) as u64;
            ours.record(v);
            plain.record(v);
            reference.record(v).unwrap();
        }
        let qs = [0.5, 0.9, 0.99, 0.999];
        let got = ours.quantiles_ns(qs, u64::MAX);
        for (q, g) in qs.iter().zip(got) {
            let r = reference.value_at_quantile(*q) as f64;
            assert!(
                (g as f64 / r - 1.0).abs() <= 1e-3,
                "q{q}: ours {g} vs hdrhistogram {r}"
            );
        }
        // Without group totals: the same counts and quantiles, read from the buckets.
        assert_eq!(plain.count(u64::MAX), 200_000);
        assert_eq!(plain.quantiles_ns(qs, u64::MAX), got);
        assert_eq!(plain.take_quantiles_ns(200_000, qs), got);
        assert_eq!(plain.count(u64::MAX), 0);
        let mut merged = H3::default();
        merged.merge(&ours, u64::MAX);
        merged.merge(&ours, u64::MAX);
        assert_eq!(merged.quantiles_ns(qs, u64::MAX), got);
        assert_eq!(merged.count(u64::MAX), 400_000);
        assert_eq!(merged.take_quantiles_ns(400_000, qs), got);
        // A window's mean from its buckets' middles is within half a bucket of the exact one.
        let mut window = LogHistogram::<5, false>::default();
        let mut exact = 0.0;
        for k in 1..=10_000u64 {
            let v = k * k * 7 + 13;
            exact += v as f64;
            window.record(v);
        }
        let (_, mean) = window.take_quantiles_and_mean_ns(10_000, [0.5]);
        exact /= 10_000.0;
        assert!(
            (mean / exact - 1.0).abs() <= 1.0 / 64.0,
            "{mean} vs {exact}"
        );
        assert_eq!(merged.quantiles_ns([0.5], u64::MAX), [0]);
    }

    #[test]
    fn coarse_buckets_follow_from_fine_ones() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut values: Vec<u64> = (0..5000).collect();
        for shift in 0..64 {
            for _ in 0..50 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                values.push(x >> shift);
            }
            values.extend([1u64 << shift, (1u64 << shift) - 1, (1u64 << shift) + 1]);
        }
        values.push(u64::MAX);
        for v in values {
            assert_eq!(
                H5::index_from_finer::<10>(H3::index(v), v),
                H5::index(v),
                "{v}"
            );
        }
    }

    #[test]
    fn bounded_scans_see_every_value_below_the_bound() {
        let all = |h: &H5| h.counts.iter().sum::<u64>();
        let middle = |v: u64| {
            let (lo, hi) = H5::bounds(H5::index(v));
            lo + (hi - lo) / 2
        };
        let mut h = H5::default();
        for v in [5u64, 70_000, 3_000] {
            h.record(v);
        }
        assert_eq!(h.count(70_000), 3);
        // The bound is trusted: a count stops at the bound's group of buckets (values in
        // a later group are not looked at).
        let mut far = H5::default();
        for v in [5u64, 3_000, 70_000_000] {
            far.record(v);
        }
        assert_eq!(far.count(69_000), 2, "the bound is trusted");
        assert_eq!(
            h.quantiles_ns([0.5, 1.0], 70_000),
            [middle(3_000), middle(70_000)]
        );
        // Merging up to the bound moves every value.
        let mut m = H5::default();
        m.merge(&h, 70_000);
        assert_eq!(m.count(u64::MAX), 3);
        // Taking reads like quantiles_ns, then leaves every bucket empty.
        assert_eq!(
            h.take_quantiles_ns(3, [0.5, 1.0]),
            [middle(3_000), middle(70_000)]
        );
        assert_eq!(all(&h), 0);
        h.record(10);
        assert_eq!(h.take_quantiles_ns(1, [0.99]), [10]);
        assert_eq!(all(&h), 0);
        assert_eq!(h.take_quantiles_ns(0, [0.5]), [0]);
    }
}
