//! Time-weighted levels (queue length, busy threads, calls in flight): the integral of a
//! step function, for time averages such as utilization = ∫busy dt / ∫capacity dt.
//!
//! Integrals are kept in change-point form: with N(t) starting at 0 and changing by δᵢ at
//! tᵢ, ∫₀ᵀ N dt = N(T)·T − Σᵢ δᵢ tᵢ. A change costs one multiply-add; an integral over any
//! interval is the difference of two such values, so the counting window and every series
//! window are snapshots taken when they open and close (the world schedules events at
//! exactly those instants).

/// A piecewise-constant, non-negative quantity and its integrals; with `PEAK` it also keeps
/// its largest value in the counting window (a compile-time choice: the others skip the
/// compare on every change).
#[derive(Debug, Clone, Default)]
pub struct Level<const PEAK: bool = false> {
    value: u64,
    /// Σ δᵢ·tᵢ over every change, value·ns.
    weighted_changes: i128,
    /// Largest value since the counting window opened (or since the start).
    max: u64,
    /// ∫₀ N dt when the counting window opened / closed.
    open_area: Option<i128>,
    close_area: Option<i128>,
    close_max: u64,
    /// ∫₀ N dt at the last series tick.
    tick_area: i128,
}

impl<const PEAK: bool> Level<PEAK> {
    /// A level at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add `n` at time `now_ns`.
    #[inline]
    pub fn add(&mut self, now_ns: u64, n: u64) {
        self.weighted_changes += i128::from(n) * i128::from(now_ns);
        self.value += n;
        if PEAK {
            self.max = self.max.max(self.value);
        }
    }

    /// Add one at time `now_ns` (the common change: one call, thread or CPU).
    #[inline]
    pub fn inc(&mut self, now_ns: u64) {
        self.weighted_changes += i128::from(now_ns);
        self.value += 1;
        if PEAK {
            self.max = self.max.max(self.value);
        }
    }

    /// Subtract one at time `now_ns`; the level must be above 0 (every `dec` undoes an
    /// `inc`).
    #[inline]
    pub fn dec(&mut self, now_ns: u64) {
        debug_assert!(self.value > 0, "level below zero");
        self.weighted_changes -= i128::from(now_ns);
        self.value = self.value.wrapping_sub(1);
    }

    /// Subtract `n` at time `now_ns` (never below 0).
    #[inline]
    pub fn sub(&mut self, now_ns: u64, n: u64) {
        let n = n.min(self.value);
        self.weighted_changes -= i128::from(n) * i128::from(now_ns);
        self.value -= n;
    }

    /// ∫₀^now N dt, value·ns (`now_ns` not before the last change).
    #[inline]
    fn integral(&self, now_ns: u64) -> i128 {
        i128::from(self.value) * i128::from(now_ns) - self.weighted_changes
    }

    /// The counting window opens now.
    pub fn open_window(&mut self, now_ns: u64) {
        self.open_area = Some(self.integral(now_ns));
        self.max = self.value;
    }

    /// The counting window closes now.
    pub fn close_window(&mut self, now_ns: u64) {
        if self.close_area.is_none() {
            self.close_area = Some(self.integral(now_ns));
            self.close_max = self.max;
        }
    }

    /// The counting window opens (`open`) or closes now.
    pub fn window_edge(&mut self, now_ns: u64, open: bool) {
        if open {
            self.open_window(now_ns);
        } else {
            self.close_window(now_ns);
        }
    }

    /// Current value.
    pub fn value(&self) -> u64 {
        self.value
    }

    /// Largest value inside the counting window (so far, while it is open); 0 unless `PEAK`.
    pub fn max(&self) -> u64 {
        match (self.open_area, self.close_area) {
            (None, _) => 0,
            (Some(_), None) => self.max,
            (Some(_), Some(_)) => self.close_max,
        }
    }

    /// ∫ N dt over the counting window so far, value·ns.
    pub fn area(&self, now_ns: u64) -> u128 {
        let Some(open) = self.open_area else { return 0 };
        let end = self.close_area.unwrap_or_else(|| self.integral(now_ns));
        (end - open).max(0) as u128
    }

    /// ∫ N dt from time 0 to `now_ns`, value·ns.
    pub fn area_since_start(&self, now_ns: u64) -> u128 {
        self.integral(now_ns).max(0) as u128
    }

    /// ∫ N dt since the last call (or the start), value·ns; restarts at `now_ns`.
    pub fn take_window(&mut self, now_ns: u64) -> u128 {
        let a = self.integral(now_ns);
        let w = a - self.tick_area;
        self.tick_area = a;
        w.max(0) as u128
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrates_between_snapshots() {
        let mut l = Level::<true>::new();
        l.add(0, 2); // 2 over [0, 20)
        l.open_window(10);
        l.sub(20, 1); // 1 over [20, 40)
        assert_eq!(l.max(), 2); // the level stood at 2 when the window opened
        l.close_window(30);
        assert_eq!(l.area(40), 2 * 10 + 10);
        assert_eq!(l.take_window(40), 2 * 20 + 20);
        assert_eq!(l.take_window(50), 10);
        l.add(60, 3);
        assert_eq!(l.max(), 2);
        assert_eq!(l.area_since_start(70), 2 * 20 + 40 + 4 * 10);
    }

    #[test]
    fn matches_direct_integration() {
        // A random walk against a step-by-step integral over [100, 5000).
        let mut l = Level::<false>::new();
        let (mut v, mut last, mut area, mut win) = (0u64, 0u64, 0u128, 0u128);
        let clip = |s: u64, e: u64| e.clamp(100, 5000).saturating_sub(s.clamp(100, 5000));
        let mut x = 12345u64;
        let (mut opened, mut closed) = (false, false);
        for step in 0..2000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let t = last + (x >> 60);
            if !opened && t >= 100 {
                l.open_window(100);
                opened = true;
            }
            if !closed && t >= 5000 {
                l.close_window(5000);
                closed = true;
            }
            area += u128::from(v) * u128::from(clip(last, t));
            win += u128::from(v) * u128::from(t - last);
            if (x >> 33) % 2 == 0 || v == 0 {
                l.add(t, 1);
                v += 1;
            } else {
                l.sub(t, 1);
                v -= 1;
            }
            last = t;
            if step % 97 == 0 {
                assert_eq!(l.take_window(t), win, "window at {t}");
                win = 0;
            }
        }
        assert!(closed);
        assert_eq!(l.area(last + 10), area);
        assert_eq!(l.value(), v);
    }
}
