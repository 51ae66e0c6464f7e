//! Time-weighted levels (queue length, busy threads, calls in flight): the integral of a
//! step function, for time averages such as utilization = ∫busy dt / ∫capacity dt.
//!
//! Integrals are kept in change-point form, which costs a few instructions per change and
//! nothing per event: with N(t) starting at 0 and changing by δᵢ at tᵢ,
//! ∫ₐᵇ N dt = N(b)·b − N(a)·a − Σ_{a<tᵢ≤b} δᵢ tᵢ, and folding the changes outside [a, b] in
//! with tᵢ clamped to [a, b] gives ∫ₐᵇ N dt = N_now·b − Σᵢ δᵢ·clamp(tᵢ, a, b) as long as no
//! change lies beyond b. The same identity, restarted at each series window, gives the
//! per-window averages.

/// A piecewise-constant, non-negative quantity and its integrals.
#[derive(Debug, Clone, Default)]
pub struct Level {
    value: u64,
    max: u64,
    /// A change at or after `from` has happened (so `max` is being tracked).
    opened: bool,
    from_ns: u64,
    to_ns: u64,
    /// Σ δᵢ·clamp(tᵢ, from, to), value·ns.
    clamped_sum: i128,
    /// Start of the open series window and the level then.
    window_start_ns: u64,
    window_start_value: u64,
    /// Σ δᵢ·tᵢ over the open series window.
    window_sum: i128,
}

impl Level {
    /// A level at zero, integrated over [from_ns, to_ns).
    pub fn new(from_ns: u64, to_ns: u64) -> Self {
        Self { from_ns, to_ns, ..Self::default() }
    }

    #[inline]
    fn change(&mut self, now_ns: u64, delta: i128) {
        if !self.opened && now_ns >= self.from_ns {
            // The window opens with the level as it stands.
            self.opened = true;
            self.max = self.value;
        }
        let clamped = now_ns.clamp(self.from_ns, self.to_ns);
        self.clamped_sum += delta * i128::from(clamped);
        self.window_sum += delta * i128::from(now_ns);
    }

    /// Add `n` at time `now_ns`.
    #[inline]
    pub fn add(&mut self, now_ns: u64, n: u64) {
        self.change(now_ns, i128::from(n));
        self.value += n;
        if self.value > self.max && self.opened && now_ns < self.to_ns {
            self.max = self.value;
        }
    }

    /// Subtract `n` at time `now_ns` (never below 0).
    #[inline]
    pub fn sub(&mut self, now_ns: u64, n: u64) {
        let n = n.min(self.value);
        self.change(now_ns, -i128::from(n));
        self.value -= n;
    }

    /// Move the end of the window to `to_ns` ≥ every change so far (a request budget ended
    /// arrivals early).
    pub fn set_end(&mut self, to_ns: u64) {
        self.to_ns = to_ns.max(self.from_ns);
    }

    /// Current value.
    pub fn value(&self) -> u64 {
        self.value
    }

    /// Largest value inside the window (including the level standing when it opened).
    pub fn max(&self) -> u64 {
        if self.opened { self.max } else { self.value }
    }

    /// ∫ value dt over [from, min(to, now)], value·ns; `now_ns` must not precede a change.
    pub fn area(&self, now_ns: u64) -> u128 {
        let end = now_ns.clamp(self.from_ns, self.to_ns);
        // No change lies beyond `end`: time only moves forward, and later ones were clamped.
        let a = i128::from(self.value) * i128::from(end) - self.clamped_sum;
        a.max(0) as u128
    }

    /// Time average over the window, as of `now_ns`.
    pub fn mean(&self, now_ns: u64) -> f64 {
        let len = now_ns.clamp(self.from_ns, self.to_ns) - self.from_ns;
        if len == 0 { 0.0 } else { self.area(now_ns) as f64 / len as f64 }
    }

    /// ∫ value dt since the last call (or the start), value·ns, and restart the window at
    /// `now_ns`.
    pub fn take_window(&mut self, now_ns: u64) -> u128 {
        let a = i128::from(self.value) * i128::from(now_ns)
            - i128::from(self.window_start_value) * i128::from(self.window_start_ns)
            - self.window_sum;
        self.window_start_ns = now_ns;
        self.window_start_value = self.value;
        self.window_sum = 0;
        a.max(0) as u128
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrates_within_window_only() {
        let mut l = Level::new(10, 30);
        l.add(0, 2); // 2 over [0,20): 10 ns inside the window
        l.sub(20, 1); // 1 over [20, 40): 10 ns inside
        assert_eq!(l.area(40), 2 * 10 + 10);
        assert_eq!(l.mean(40), 30.0 / 20.0);
        assert_eq!(l.take_window(40), 2 * 20 + 20);
        assert_eq!(l.take_window(50), 10);
        l.add(60, 3);
        assert_eq!(l.max(), 2); // the level stood at 2 when the window opened
    }

    #[test]
    fn matches_direct_integration() {
        // Random walk against a step-by-step integral.
        let mut l = Level::new(100, 5_000);
        let (mut v, mut last, mut area, mut win, mut win_start) = (0u64, 0u64, 0u128, 0u128, 0u64);
        let mut x = 12345u64;
        for step in 0..2000u64 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let t = last + (x >> 60);
            let clip = |s: u64, e: u64| e.clamp(100, 5000).saturating_sub(s.clamp(100, 5000));
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
                win_start = t;
            }
        }
        let _ = win_start;
        let end = last + 10;
        let clip = |s: u64, e: u64| e.clamp(100, 5000).saturating_sub(s.clamp(100, 5000));
        area += u128::from(v) * u128::from(clip(last, end));
        assert_eq!(l.area(end), area);
        assert_eq!(l.value(), v);
    }
}
