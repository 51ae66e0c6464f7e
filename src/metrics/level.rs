//! Time-weighted levels (queue length, busy threads, calls in flight): the integral of a
//! step function, for time averages such as utilization = ∫busy dt / ∫capacity dt.

/// A piecewise-constant quantity and its integral over a window, plus a second integral that
/// restarts with each time-series window.
#[derive(Debug, Clone, Default)]
pub struct Level {
    value: u64,
    last_ns: u64,
    max: u64,
    /// ∫ value dt over [from_ns, to_ns), in value·ns.
    area: u128,
    from_ns: u64,
    to_ns: u64,
    /// ∫ value dt since the last `take_window`.
    window_area: u128,
}

impl Level {
    /// A level at zero, integrated over [from_ns, to_ns).
    pub fn new(from_ns: u64, to_ns: u64) -> Self {
        Self {
            from_ns,
            to_ns,
            ..Self::default()
        }
    }

    #[inline]
    fn advance(&mut self, now_ns: u64) {
        if self.last_ns < self.from_ns && now_ns >= self.from_ns && now_ns < self.to_ns {
            // The window opens with the level as it stands.
            self.max = self.max.max(self.value);
        }
        if now_ns > self.last_ns && self.value > 0 {
            let v = u128::from(self.value);
            self.window_area += v * u128::from(now_ns - self.last_ns);
            let a = self.last_ns.max(self.from_ns);
            let b = now_ns.min(self.to_ns);
            if b > a {
                self.area += v * u128::from(b - a);
            }
        }
        self.last_ns = self.last_ns.max(now_ns);
    }

    /// Add `delta` at time `now_ns`.
    #[inline]
    pub fn add(&mut self, now_ns: u64, delta: u64) {
        self.advance(now_ns);
        self.value += delta;
        if self.value > self.max && now_ns >= self.from_ns && now_ns < self.to_ns {
            self.max = self.value;
        }
    }

    /// Subtract `delta` at time `now_ns` (saturating at 0).
    #[inline]
    pub fn sub(&mut self, now_ns: u64, delta: u64) {
        self.advance(now_ns);
        self.value = self.value.saturating_sub(delta);
    }

    /// Move the end of the window to `to_ns` (a request budget ended arrivals early).
    pub fn set_end(&mut self, now_ns: u64, to_ns: u64) {
        self.advance(now_ns);
        self.to_ns = to_ns;
    }

    /// Current value.
    pub fn value(&self) -> u64 {
        self.value
    }

    /// Largest value seen inside the window.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// Time average over the window, as of `now_ns`.
    pub fn mean(&mut self, now_ns: u64) -> f64 {
        self.advance(now_ns);
        let len = self.to_ns.saturating_sub(self.from_ns);
        if len == 0 {
            0.0
        } else {
            self.area as f64 / len as f64
        }
    }

    /// The integral over the window so far, value·ns.
    pub fn area(&mut self, now_ns: u64) -> u128 {
        self.advance(now_ns);
        self.area
    }

    /// The integral since the last call, value·ns, and restart it.
    pub fn take_window(&mut self, now_ns: u64) -> u128 {
        self.advance(now_ns);
        std::mem::take(&mut self.window_area)
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
        assert_eq!(l.max(), 2); // the level stood at 2 when the window opened
    }
}
