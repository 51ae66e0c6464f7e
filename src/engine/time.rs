//! Simulated time as integer nanoseconds.
//!
//! Integer time makes ordering exact and runs reproducible: no epsilon, no drift from summing
//! floats. Durations are plain `u64` nanoseconds named `*_ns`.

use std::fmt;

/// A point in simulated time, in nanoseconds since the start of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimTime(u64);

/// Nanoseconds in one second.
pub const NANOS_PER_SEC: u64 = 1_000_000_000;

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);
    /// The far future; "never".
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// From nanoseconds.
    pub const fn from_nanos(ns: u64) -> Self {
        SimTime(ns)
    }

    /// From seconds, rounded to the nearest nanosecond (saturating).
    pub fn from_secs_f64(secs: f64) -> Self {
        SimTime(secs_to_nanos(secs))
    }

    /// Nanoseconds since the start.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Seconds since the start.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    /// This time plus a duration, saturating at [`SimTime::MAX`].
    pub const fn plus_nanos(self, ns: u64) -> Self {
        SimTime(self.0.saturating_add(ns))
    }

    /// Nanoseconds from `earlier` to `self` (zero if `earlier` is later).
    pub const fn nanos_since(self, earlier: SimTime) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// Seconds to nanoseconds, rounded and saturating; negative and NaN give zero.
pub fn secs_to_nanos(secs: f64) -> u64 {
    let ns = (secs * NANOS_PER_SEC as f64).round();
    if ns.is_nan() || ns <= 0.0 {
        0
    } else if ns >= u64::MAX as f64 {
        u64::MAX
    } else {
        ns as u64
    }
}

/// Nanoseconds to seconds.
pub fn nanos_to_secs(ns: u64) -> f64 {
    ns as f64 / NANOS_PER_SEC as f64
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.6}s", self.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_and_saturate() {
        assert_eq!(SimTime::from_secs_f64(1.5).as_nanos(), 1_500_000_000);
        assert_eq!(secs_to_nanos(-1.0), 0);
        assert_eq!(secs_to_nanos(f64::NAN), 0);
        assert_eq!(secs_to_nanos(1e30), u64::MAX);
        assert_eq!(SimTime::MAX.plus_nanos(5), SimTime::MAX);
        assert_eq!(
            SimTime::from_nanos(3).nanos_since(SimTime::from_nanos(5)),
            0
        );
    }
}
