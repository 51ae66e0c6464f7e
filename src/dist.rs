//! Probability distributions of durations (and of sizes, [`SizeDist`]): the schema users write (`Exp(mean: "2ms")`) and the
//! samplers the simulation draws from.
//!
//! Kept apart from components so every kind (service CPU, think time, network latency,
//! load-balancer overhead) shares one vocabulary and one set of checks. Samples are integer
//! nanoseconds.

use std::path::Path;
use std::sync::Arc;

use rand::RngExt;
use rand_distr::{Distribution, Exp1, StandardNormal};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::engine::Rng;
use crate::engine::time::secs_to_nanos;
use crate::units::{Bytes, Duration};

/// z such that P(Z ≤ z) = 0.99 for a standard normal Z.
const Z_99: f64 = 2.326_347_874_040_840_8;

/// A distribution of durations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub enum Dist {
    /// Always the same value (D in queueing notation): `Const("5ms")`.
    Const(Duration),
    /// Exponential with this mean (M in queueing notation; memoryless): `Exp(mean: "2ms")`.
    Exp {
        /// Mean.
        mean: Duration,
    },
    /// Uniform between `min` and `max`.
    Uniform {
        /// Smallest value.
        min: Duration,
        /// Largest value.
        max: Duration,
    },
    /// Normal, truncated at zero (negative draws are redrawn); `mean` must be positive.
    Normal {
        /// Mean before truncation.
        mean: Duration,
        /// Standard deviation before truncation.
        sd: Duration,
    },
    /// Log-normal, given either by `mean` and `sd`, or by `median` and `p99` (how people usually
    /// know their latencies): `LogNormal(median: "3ms", p99: "40ms")`.
    LogNormal {
        /// Mean (with `sd`).
        #[serde(default)]
        mean: Option<Duration>,
        /// Standard deviation (with `mean`).
        #[serde(default)]
        sd: Option<Duration>,
        /// Median (with `p99`).
        #[serde(default)]
        median: Option<Duration>,
        /// 99th percentile (with `median`); must exceed the median.
        #[serde(default)]
        p99: Option<Duration>,
    },
    /// Gamma with this shape and mean (shape < 1: more variable than exponential).
    Gamma {
        /// Shape parameter k (> 0).
        shape: f64,
        /// Mean (= shape × scale).
        mean: Duration,
    },
    /// Erlang: the sum of `k` exponential phases, with this overall mean.
    Erlang {
        /// Number of phases (≥ 1).
        k: u32,
        /// Overall mean.
        mean: Duration,
    },
    /// Pareto (heavy tail) with minimum `scale` and tail index `shape` (mean is finite only
    /// for shape > 1, variance for shape > 2).
    Pareto {
        /// The minimum value x_m.
        scale: Duration,
        /// Tail index α (> 0).
        shape: f64,
    },
    /// Resample uniformly from measured values in a file (one per line, e.g. `3.2ms`, or plain
    /// seconds; `#` starts a comment; CSV lines use their first column). The path is relative
    /// to the model file.
    Empirical {
        /// Path to the samples file.
        file: String,
    },
}

impl Default for Dist {
    fn default() -> Self {
        Dist::Exp {
            mean: Duration::from_nanos(1_000_000),
        }
    }
}

/// A distribution of sizes in bytes (a request's value size): the same shapes as [`Dist`],
/// with sizes for parameters, e.g. `Const("2KB")`, `LogNormal(median: "1KB", p99: "64KB")`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub enum SizeDist {
    /// Always the same size: `Const("2KB")`.
    Const(Bytes),
    /// Uniform between `min` and `max`.
    Uniform {
        /// Smallest size.
        min: Bytes,
        /// Largest size.
        max: Bytes,
    },
    /// Exponential with this mean.
    Exp {
        /// Mean size.
        mean: Bytes,
    },
    /// Log-normal, given by its `median` and `p99` (how object sizes are usually known):
    /// `LogNormal(median: "1KB", p99: "64KB")`.
    LogNormal {
        /// Median size.
        median: Bytes,
        /// 99th percentile; must exceed the median.
        p99: Bytes,
    },
    /// Pareto (heavy tail) with minimum `scale` and tail index `shape`.
    Pareto {
        /// The smallest size.
        scale: Bytes,
        /// Tail index α (> 0).
        shape: f64,
    },
}

impl Default for SizeDist {
    /// 1 KB: a typical small cached object (a rendered fragment, a JSON document).
    fn default() -> Self {
        SizeDist::Const(Bytes::new(1000))
    }
}

impl SizeDist {
    /// How to write this distribution right (an error's hint).
    pub fn fix_hint(&self) -> &'static str {
        match self {
            SizeDist::Const(_) => "write a size with its unit, e.g. Const(\"2KB\")",
            SizeDist::Uniform { .. } => "write min ≤ max, e.g. Uniform(min: \"1KB\", max: \"4KB\")",
            SizeDist::Exp { .. } => "write a positive mean, e.g. Exp(mean: \"2KB\")",
            SizeDist::LogNormal { .. } => {
                "write a positive median below the p99, e.g. LogNormal(median: \"1KB\", p99: \"64KB\")"
            }
            SizeDist::Pareto { .. } => {
                "write a positive minimum and shape, e.g. Pareto(scale: \"1KB\", shape: 1.5)"
            }
        }
    }

    /// Check the distribution and prepare a sampler whose draws are bytes.
    pub fn sampler(&self) -> Result<Sampler, String> {
        // The duration samplers draw integers from parameters of the same shape: a size is
        // drawn as if its bytes were nanoseconds.
        let d = |b: Bytes| Duration::from_nanos(b.get());
        let dist = match *self {
            SizeDist::Const(b) => Dist::Const(d(b)),
            SizeDist::Uniform { min, max } => {
                if min > max {
                    return Err(format!("Uniform: min ({min}) is larger than max ({max})"));
                }
                Dist::Uniform {
                    min: d(min),
                    max: d(max),
                }
            }
            SizeDist::Exp { mean } => {
                if mean.get() == 0 {
                    return Err("Exp: the mean size must be positive".into());
                }
                Dist::Exp { mean: d(mean) }
            }
            SizeDist::LogNormal { median, p99 } => {
                if median.get() == 0 || p99 <= median {
                    return Err(format!(
                        "LogNormal: the median ({median}) must be positive and below the p99 ({p99})"
                    ));
                }
                Dist::LogNormal {
                    mean: None,
                    sd: None,
                    median: Some(d(median)),
                    p99: Some(d(p99)),
                }
            }
            SizeDist::Pareto { scale, shape } => {
                if scale.get() == 0 {
                    return Err("Pareto: scale (the smallest size) must be positive".into());
                }
                Dist::Pareto {
                    scale: d(scale),
                    shape,
                }
            }
        };
        Sampler::new(&dist, Path::new(""))
    }
}

/// A distribution ready to draw from.
#[derive(Debug, Clone)]
pub enum Sampler {
    /// A constant.
    Const(u64),
    /// Exponential, mean in ns.
    Exp(f64),
    /// Uniform on [min, max] ns.
    Uniform(f64, f64),
    /// Normal (mean, sd) in ns, truncated at 0.
    Normal(f64, f64),
    /// Log-normal with (mu, sigma) of ln(ns).
    LogNormal(f64, f64),
    /// Gamma, with its mean in ns.
    Gamma(rand_distr::Gamma<f64>, f64),
    /// Pareto (scale ns, shape).
    Pareto(f64, f64),
    /// Bootstrap from samples (ns).
    Empirical(Arc<[u64]>),
}

impl Dist {
    /// How to write this distribution right, for the hint of an error about it: a valid
    /// example with the constraints its parameters must meet.
    pub fn fix_hint(&self) -> &'static str {
        match self {
            Dist::Const(_) => "write a duration with its unit, e.g. Const(\"2ms\")",
            Dist::Exp { .. } => {
                "write a positive mean, e.g. Exp(mean: \"2ms\"); for no delay write Const(\"0s\")"
            }
            Dist::Uniform { .. } => "write min ≤ max, e.g. Uniform(min: \"1ms\", max: \"5ms\")",
            Dist::Normal { .. } => {
                "write a positive mean and a spread, e.g. Normal(mean: \"10ms\", sd: \"2ms\")"
            }
            Dist::LogNormal { .. } => {
                "write LogNormal(median: \"1ms\", p99: \"12ms\") (p99 above the median) or LogNormal(mean: \"2ms\", sd: \"1ms\"), not a mix of the two"
            }
            Dist::Gamma { .. } => {
                "write a positive shape and mean, e.g. Gamma(shape: 2.0, mean: \"5ms\")"
            }
            Dist::Erlang { .. } => {
                "write k ≥ 1 and a positive mean, e.g. Erlang(k: 3, mean: \"5ms\")"
            }
            Dist::Pareto { .. } => {
                "write a positive minimum and shape, e.g. Pareto(scale: \"1ms\", shape: 2.5) (a shape ≤ 1 has no mean)"
            }
            Dist::Empirical { .. } => {
                "the path is relative to the model file's folder; the file holds one sample per line, with a unit (\"3.2ms\") or in seconds (0.0032)"
            }
        }
    }
}

impl Sampler {
    /// Check a distribution and prepare it; `base_dir` resolves `Empirical` files.
    pub fn new(dist: &Dist, base_dir: &Path) -> Result<Self, String> {
        let ns = |d: Duration| d.as_nanos() as f64;
        Ok(match dist {
            Dist::Const(d) => Sampler::Const(d.as_nanos()),
            Dist::Exp { mean } => {
                if mean.as_nanos() == 0 {
                    return Err(
                        "Exp: mean must be positive (use Const(\"0s\") for no delay)".into(),
                    );
                }
                Sampler::Exp(ns(*mean))
            }
            Dist::Uniform { min, max } => {
                if min > max {
                    return Err(format!("Uniform: min ({min}) is larger than max ({max})"));
                }
                Sampler::Uniform(ns(*min), ns(*max))
            }
            Dist::Normal { mean, sd } => {
                if mean.as_nanos() == 0 {
                    return Err("Normal: mean must be positive (it is truncated at zero)".into());
                }
                Sampler::Normal(ns(*mean), ns(*sd))
            }
            Dist::LogNormal {
                mean,
                sd,
                median,
                p99,
            } => match (mean, sd, median, p99) {
                (Some(mean), Some(sd), None, None) => {
                    if mean.as_nanos() == 0 {
                        return Err("LogNormal: mean must be positive".into());
                    }
                    let m = ns(*mean);
                    let s2 = (1.0 + (ns(*sd) / m).powi(2)).ln();
                    Sampler::LogNormal(m.ln() - s2 / 2.0, s2.sqrt())
                }
                (None, None, Some(median), Some(p99)) => {
                    if median.as_nanos() == 0 {
                        return Err("LogNormal: median must be positive".into());
                    }
                    if p99 <= median {
                        return Err(format!(
                            "LogNormal: p99 ({p99}) must be larger than the median ({median})"
                        ));
                    }
                    let mu = ns(*median).ln();
                    Sampler::LogNormal(mu, (ns(*p99).ln() - mu) / Z_99)
                }
                _ => {
                    return Err(
                        "LogNormal: give either `mean` and `sd`, or `median` and `p99`".into(),
                    );
                }
            },
            Dist::Gamma { shape, mean } => gamma(*shape, ns(*mean), "Gamma")?,
            Dist::Erlang { k, mean } => {
                if *k == 0 {
                    return Err("Erlang: k must be at least 1".into());
                }
                gamma(f64::from(*k), ns(*mean), "Erlang")?
            }
            Dist::Pareto { scale, shape } => {
                if !(shape.is_finite() && *shape > 0.0) {
                    return Err(format!("Pareto: shape must be positive, got {shape}"));
                }
                if scale.as_nanos() == 0 {
                    return Err("Pareto: scale (the minimum) must be positive".into());
                }
                Sampler::Pareto(ns(*scale), *shape)
            }
            Dist::Empirical { file } => Sampler::Empirical(load_samples(&base_dir.join(file))?),
        })
    }

    /// Draw one value, in nanoseconds.
    #[inline(always)]
    pub fn sample(&self, rng: &mut Rng) -> u64 {
        // The two common cases inline into the hot path; the rest stay out of line.
        match self {
            Sampler::Const(v) => *v,
            Sampler::Exp(mean) => {
                let e: f64 = Exp1.sample(rng);
                to_ns(e * mean)
            }
            other => other.sample_other(rng),
        }
    }

    #[inline(never)]
    fn sample_other(&self, rng: &mut Rng) -> u64 {
        match self {
            Sampler::Const(_) | Sampler::Exp(_) => self.sample(rng),
            Sampler::Uniform(lo, hi) => {
                let u: f64 = rng.random();
                to_ns(lo + u * (hi - lo))
            }
            Sampler::Normal(mean, sd) => loop {
                let z: f64 = StandardNormal.sample(rng);
                let v = mean + sd * z;
                if v >= 0.0 {
                    break to_ns(v);
                }
            },
            Sampler::LogNormal(mu, sigma) => {
                let z: f64 = StandardNormal.sample(rng);
                to_ns((mu + sigma * z).exp())
            }
            Sampler::Gamma(g, _) => to_ns(g.sample(rng)),
            Sampler::Pareto(scale, shape) => {
                // Inverse CDF: x_m / U^(1/α), with U in (0, 1].
                let u: f64 = 1.0 - rng.random::<f64>();
                to_ns(scale / u.powf(1.0 / shape))
            }
            Sampler::Empirical(samples) => samples[rng.random_range(0..samples.len())],
        }
    }

    /// The distribution's mean in nanoseconds (infinite for Pareto with shape ≤ 1).
    pub fn mean_ns(&self) -> f64 {
        match self {
            Sampler::Const(v) => *v as f64,
            Sampler::Exp(m) => *m,
            Sampler::Uniform(a, b) => (a + b) / 2.0,
            Sampler::Normal(m, _) => *m, // truncation moves it a little when sd is large.
            Sampler::LogNormal(mu, s) => (mu + s * s / 2.0).exp(),
            Sampler::Gamma(_, mean) => *mean,
            Sampler::Pareto(xm, a) => {
                if *a > 1.0 {
                    a * xm / (a - 1.0)
                } else {
                    f64::INFINITY
                }
            }
            Sampler::Empirical(s) => s.iter().map(|&v| v as f64).sum::<f64>() / s.len() as f64,
        }
    }
}

fn gamma(shape: f64, mean_ns: f64, what: &str) -> Result<Sampler, String> {
    if !(shape.is_finite() && shape > 0.0) {
        return Err(format!("{what}: shape must be positive, got {shape}"));
    }
    if mean_ns <= 0.0 {
        return Err(format!("{what}: mean must be positive"));
    }
    rand_distr::Gamma::new(shape, mean_ns / shape)
        .map(|g| Sampler::Gamma(g, mean_ns))
        .map_err(|e| format!("{what}: {e}"))
}

/// Round a draw to the nearest nanosecond. Draws are capped at 2⁶³ − 1024 ns (the largest
/// `f64` below 2⁶³: 292 years, far beyond any run); NaN gives 0. Converting through `i64` is a
/// few instructions cheaper than through `u64` on x86-64, and this runs once per drawn time.
#[inline]
fn to_ns(v: f64) -> u64 {
    const CAP: f64 = 9_223_372_036_854_774_784.0; // The largest f64 below 2⁶³.
    ((v + 0.5).clamp(0.0, CAP) as i64) as u64
}

/// Read a samples file: one value per line, with a unit (`3.2ms`) or plain seconds.
pub fn load_samples(path: &Path) -> Result<Arc<[u64]>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("Empirical: cannot read {}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        let field = line.split(',').next().unwrap_or("").trim();
        if field.is_empty() {
            continue;
        }
        let value = match field.parse::<f64>() {
            Ok(secs) if secs.is_finite() && secs >= 0.0 => secs_to_nanos(secs),
            Ok(_) => {
                return Err(format!(
                    "{}:{}: a sample cannot be negative",
                    path.display(),
                    i + 1
                ));
            }
            Err(_) => match Duration::parse(field) {
                Ok(d) => d.as_nanos(),
                // A header line ("latency_s") is allowed as the first line only.
                Err(_) if out.is_empty() && i == 0 => continue,
                Err(e) => return Err(format!("{}:{}: {e}", path.display(), i + 1)),
            },
        };
        out.push(value);
    }
    if out.is_empty() {
        return Err(format!("Empirical: {} holds no samples", path.display()));
    }
    Ok(out.into())
}

/// Zipf popularity over the keys 1..=n with exponent s ≥ 0 (P(k) ∝ k^−s), by
/// rejection-inversion (Hörmann & Derflinger 1996, as in Apache Commons RNG's
/// `RejectionInversionZipfSampler`): O(1) memory and time for any n, a few `ln`/`exp` calls
/// per draw and rarely a second try.
#[derive(Debug, Clone, Copy)]
pub struct ZipfSampler {
    n: f64,
    s: f64,
    h_integral_x1: f64,
    h_integral_n: f64,
    /// Draws this close to their integer are accepted without the test.
    accept_within: f64,
}

impl ZipfSampler {
    /// A sampler over 1..=n (n ≥ 1) with exponent s (clamped at 0).
    pub fn new(n: u64, s: f64) -> Self {
        let s = s.max(0.0);
        let n = n.max(1) as f64;
        Self {
            n,
            s,
            h_integral_x1: zipf_h_integral(1.5, s) - 1.0,
            h_integral_n: zipf_h_integral(n + 0.5, s),
            accept_within: 2.0
                - zipf_h_integral_inverse(zipf_h_integral(2.5, s) - zipf_h(2.0, s), s),
        }
    }

    /// Draw one key.
    pub fn sample(&self, rng: &mut Rng) -> u64 {
        loop {
            let u: f64 = rng.random();
            let u = self.h_integral_n + u * (self.h_integral_x1 - self.h_integral_n);
            let x = zipf_h_integral_inverse(u, self.s);
            let k = (x + 0.5).floor().clamp(1.0, self.n);
            if k - x <= self.accept_within
                || u >= zipf_h_integral(k + 0.5, self.s) - zipf_h(k, self.s)
            {
                return k as u64;
            }
        }
    }
}

/// x^−s.
fn zipf_h(x: f64, s: f64) -> f64 {
    (-s * x.ln()).exp()
}

/// ∫ x^−s dx = (x^(1−s) − 1) / (1 − s), continuous through s = 1 (where it is ln x).
fn zipf_h_integral(x: f64, s: f64) -> f64 {
    let log_x = x.ln();
    expm1_over_x((1.0 - s) * log_x) * log_x
}

/// The inverse of [`zipf_h_integral`].
fn zipf_h_integral_inverse(x: f64, s: f64) -> f64 {
    let t = (x * (1.0 - s)).max(-1.0);
    (ln1p_over_x(t) * x).exp()
}

/// ln(1 + x) / x, with its series near 0.
fn ln1p_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.ln_1p() / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
}

/// (eˣ − 1) / x, with its series near 0.
fn expm1_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.exp_m1() / x
    } else {
        1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::StreamKey;

    fn rng() -> Rng {
        StreamKey {
            seed: 7,
            replication: 0,
            owner: "t",
            replica: 0,
            purpose: "dist",
        }
        .rng()
    }

    fn d(s: &str) -> Duration {
        Duration::parse(s).unwrap()
    }

    /// Sample mean within 5 standard errors of the distribution's mean.
    fn check_mean(dist: Dist, sd_ns: f64) {
        let s = Sampler::new(&dist, Path::new(".")).unwrap();
        let n = 200_000;
        let mut r = rng();
        let mean = (0..n).map(|_| s.sample(&mut r) as f64).sum::<f64>() / n as f64;
        let se = sd_ns / (n as f64).sqrt();
        assert!(
            (mean - s.mean_ns()).abs() < 5.0 * se + 1.0,
            "{dist:?}: {mean} vs {}",
            s.mean_ns()
        );
    }

    #[test]
    fn draws_round_to_the_nearest_ns_and_saturate() {
        for v in [0.0, 0.49, 0.5, 1.5, 1234.5678, 1e9, 3.6e12, 1e18] {
            assert_eq!(to_ns(v), (v + 0.5) as u64, "v = {v:e}");
        }
        for v in [-0.6, -1e300, f64::NEG_INFINITY, f64::NAN] {
            assert_eq!(to_ns(v), 0, "v = {v:e}");
        }
        let cap = (1u64 << 63) - 1024;
        for v in [1e19, 1e300, f64::INFINITY] {
            assert_eq!(to_ns(v), cap, "v = {v:e}");
        }
    }

    #[test]
    fn sample_means_match() {
        check_mean(Dist::Exp { mean: d("2ms") }, 2e6);
        check_mean(
            Dist::Uniform {
                min: d("1ms"),
                max: d("3ms"),
            },
            2e6 / 12f64.sqrt(),
        );
        check_mean(
            Dist::Gamma {
                shape: 2.0,
                mean: d("4ms"),
            },
            4e6 / 2f64.sqrt(),
        );
        check_mean(
            Dist::Erlang {
                k: 4,
                mean: d("4ms"),
            },
            2e6,
        );
        check_mean(
            Dist::LogNormal {
                mean: Some(d("3ms")),
                sd: Some(d("1ms")),
                median: None,
                p99: None,
            },
            1e6,
        );
        // Pareto α = 3: sd = xm/(α-1) * sqrt(α/(α-2)).
        check_mean(
            Dist::Pareto {
                scale: d("1ms"),
                shape: 3.0,
            },
            0.5e6 * 3f64.sqrt(),
        );
        check_mean(Dist::Const(d("5ms")), 0.0);
    }

    #[test]
    fn lognormal_from_median_and_p99_hits_both() {
        let s = Sampler::new(
            &Dist::LogNormal {
                mean: None,
                sd: None,
                median: Some(d("3ms")),
                p99: Some(d("40ms")),
            },
            Path::new("."),
        )
        .unwrap();
        let mut r = rng();
        let mut v: Vec<u64> = (0..200_000).map(|_| s.sample(&mut r)).collect();
        v.sort_unstable();
        let median = v[v.len() / 2] as f64;
        let p99 = v[v.len() * 99 / 100] as f64;
        assert!((median / 3e6 - 1.0).abs() < 0.02, "median {median}");
        assert!((p99 / 40e6 - 1.0).abs() < 0.05, "p99 {p99}");
    }

    #[test]
    fn truncated_normal_never_negative_and_bad_params_refused() {
        let s = Sampler::new(
            &Dist::Normal {
                mean: d("1ms"),
                sd: d("5ms"),
            },
            Path::new("."),
        )
        .unwrap();
        let mut r = rng();
        assert!((0..10_000).all(|_| s.sample(&mut r) < u64::MAX));
        assert!(
            Sampler::new(
                &Dist::Exp {
                    mean: Duration::ZERO
                },
                Path::new(".")
            )
            .is_err()
        );
        assert!(
            Sampler::new(
                &Dist::Uniform {
                    min: d("3ms"),
                    max: d("1ms")
                },
                Path::new(".")
            )
            .is_err()
        );
        assert!(
            Sampler::new(
                &Dist::LogNormal {
                    mean: Some(d("1ms")),
                    sd: None,
                    median: Some(d("1ms")),
                    p99: None
                },
                Path::new(".")
            )
            .is_err()
        );
        assert!(
            Sampler::new(
                &Dist::Erlang {
                    k: 0,
                    mean: d("1ms")
                },
                Path::new(".")
            )
            .is_err()
        );
    }

    #[test]
    fn empirical_reads_units_and_seconds() {
        let dir = std::env::temp_dir().join(format!("fc-emp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("s.txt"),
            "latency\n1ms\n0.002 # two ms\n\n3ms,extra\n",
        )
        .unwrap();
        let s = Sampler::new(
            &Dist::Empirical {
                file: "s.txt".into(),
            },
            &dir,
        )
        .unwrap();
        assert_eq!(s.mean_ns(), 2e6);
        std::fs::write(dir.join("bad.txt"), "1ms\nbanana\n").unwrap();
        let e = Sampler::new(
            &Dist::Empirical {
                file: "bad.txt".into(),
            },
            &dir,
        )
        .unwrap_err();
        assert!(e.contains("bad.txt:2"), "{e}");
    }

    /// Zipf draws against the exact probabilities P(k) = k^−s / H(n, s): the first keys and
    /// the mean, each within 4 binomial/standard errors of 200 000 draws.
    #[test]
    fn zipf_matches_its_probabilities() {
        for (n, s) in [(100u64, 0.99f64), (1000, 1.0), (50, 0.0), (10, 2.5)] {
            let z = ZipfSampler::new(n, s);
            let mut rng = crate::engine::StreamKey {
                seed: 7,
                replication: 0,
                owner: "zipf-test",
                replica: 0,
                purpose: "keys",
            }
            .rng();
            let draws = 200_000usize;
            let mut counts = vec![0u64; n as usize + 1];
            for _ in 0..draws {
                let k = z.sample(&mut rng);
                assert!((1..=n).contains(&k), "key {k} outside 1..={n}");
                counts[k as usize] += 1;
            }
            let weights: Vec<f64> = (1..=n).map(|k| (k as f64).powf(-s)).collect();
            let total: f64 = weights.iter().sum();
            for k in 1..=5usize.min(n as usize) {
                let p = weights[k - 1] / total;
                let got = counts[k] as f64 / draws as f64;
                let se = (p * (1.0 - p) / draws as f64).sqrt();
                assert!(
                    (got - p).abs() < 4.0 * se,
                    "n={n} s={s} P({k}) = {got}, exact {p}"
                );
            }
            let mean: f64 = (1..=n)
                .map(|k| k as f64 * weights[k as usize - 1])
                .sum::<f64>()
                / total;
            let var: f64 = (1..=n)
                .map(|k| (k as f64 - mean).powi(2) * weights[k as usize - 1])
                .sum::<f64>()
                / total;
            let got: f64 = (1..=n)
                .map(|k| k as f64 * counts[k as usize] as f64)
                .sum::<f64>()
                / draws as f64;
            let se = (var / draws as f64).sqrt();
            assert!(
                (got - mean).abs() < 4.0 * se,
                "n={n} s={s} mean {got}, exact {mean}"
            );
        }
        assert_eq!(
            ZipfSampler::new(1, 0.99).sample(
                &mut crate::engine::StreamKey {
                    seed: 1,
                    replication: 0,
                    owner: "z",
                    replica: 0,
                    purpose: "k"
                }
                .rng()
            ),
            1
        );
    }
}
